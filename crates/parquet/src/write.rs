//! TSV text into a Parquet file: one pass to infer the column types, one to write.

use crate::infer::{self, infer_value, Inferred};
use crate::text::unescape;
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel};
use parquet::data_type::{ByteArray, DoubleType, FixedLenByteArray, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;

fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&c| c == b'\t')
}

fn lines(src: &Path) -> Result<impl Iterator<Item = std::io::Result<Vec<u8>>>, String> {
    let f = File::open(src).map_err(|e| format!("cannot read the text written: {e}"))?;
    Ok(BufReader::with_capacity(1 << 20, f).split(b'\n').map(|l| {
        l.map(|mut l| {
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            l
        })
    }))
}

/// What a column holds.
struct Col {
    name: String,
    ty: Inferred,
}

/// Convert the TSV text at `src` into Parquet written to `dst`; returns the bytes written.
/// With `--header` its first line names the columns, else they are `c1`, `c2`, ….
pub fn convert_tsv<W: Write + Send>(src: &Path, dst: W) -> Result<u64, String> {
    let header = crate::header();
    let mut cols: Vec<Col> = Vec::new();
    let mut first = true;
    let mut width = 0usize;
    for (n, l) in lines(src)?.enumerate() {
        let l = l.map_err(|e| format!("cannot read the text written: {e}"))?;
        if first {
            first = false;
            if header {
                for f in fields(&l) {
                    let mut u = Vec::new();
                    unescape(f, &mut u);
                    cols.push(Col {
                        name: String::from_utf8_lossy(&u).into_owned(),
                        ty: Inferred::Null,
                    });
                }
                width = cols.len();
                continue;
            }
        }
        let w = fields(&l).count();
        if cols.is_empty() && !header && n == 0 {
            width = w;
        }
        if w != width {
            return Err(format!(
                "line {}: {w} fields where the first {} has {width} (Parquet needs one schema)",
                n + 1,
                if header { "line" } else { "record" }
            ));
        }
        for (i, f) in fields(&l).enumerate() {
            if cols.len() <= i {
                cols.push(Col {
                    name: format!("c{}", i + 1),
                    ty: Inferred::Null,
                });
            }
            let t = infer_value(f);
            if t != cols[i].ty {
                cols[i].ty = cols[i].ty.join(t);
            }
        }
    }
    let schema = schema_of(&cols)?;
    let budget = crate::budget();
    let group_bytes = (budget / 4).clamp(1 << 20, 256 << 20);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = SerializedFileWriter::new(dst, schema, Arc::new(props))
        .map_err(|e| format!("cannot write Parquet: {e}"))?;
    let mut bufs: Vec<Buf> = cols.iter().map(|c| Buf::new(c.ty)).collect();
    let mut held = 0usize;
    let mut skip_header = header;
    for (n, l) in lines(src)?.enumerate() {
        let l = l.map_err(|e| format!("cannot read the text written: {e}"))?;
        if skip_header {
            skip_header = false;
            continue;
        }
        held += l.len() + 16 * bufs.len();
        for (b, f) in bufs.iter_mut().zip(fields(&l)) {
            b.push(f).map_err(|e| format!("line {}: {e}", n + 1))?;
        }
        if held >= group_bytes {
            flush(&mut w, &mut bufs)?;
            held = 0;
        }
    }
    if held > 0 || bufs.first().is_some_and(|b| !b.defs.is_empty()) {
        flush(&mut w, &mut bufs)?;
    }
    let _ = w
        .close()
        .map_err(|e| format!("cannot write Parquet: {e}"))?;
    Ok(0)
}

fn schema_of(cols: &[Col]) -> Result<Arc<Type>, String> {
    let mut fields = Vec::with_capacity(cols.len());
    for c in cols {
        let b = |p: Physical| {
            Type::primitive_type_builder(&c.name, p).with_repetition(Repetition::OPTIONAL)
        };
        let t = match c.ty {
            Inferred::Bool => b(Physical::BOOLEAN).build(),
            Inferred::Int => b(Physical::INT64).build(),
            Inferred::Decimal { scale, .. } => b(Physical::FIXED_LEN_BYTE_ARRAY)
                .with_length(16)
                .with_logical_type(Some(LogicalType::Decimal(parquet::basic::DecimalType {
                    scale: scale as i32,
                    precision: 38,
                })))
                .with_precision(38)
                .with_scale(scale as i32)
                .build(),
            Inferred::Float => b(Physical::DOUBLE).build(),
            Inferred::Date => b(Physical::INT32)
                .with_logical_type(Some(LogicalType::Date))
                .build(),
            Inferred::Timestamp(utc) => b(Physical::INT64)
                .with_logical_type(Some(LogicalType::timestamp(utc, TimeUnit::MICROS)))
                .build(),
            Inferred::String | Inferred::Null => b(Physical::BYTE_ARRAY)
                .with_logical_type(Some(LogicalType::String))
                .build(),
        }
        .map_err(|e| format!("column {}: {e}", c.name))?;
        fields.push(Arc::new(t));
    }
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map(Arc::new)
        .map_err(|e| format!("cannot make the Parquet schema: {e}"))
}

enum Values {
    Bool(Vec<bool>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    F64(Vec<f64>),
    /// Decimals and strings are held in one buffer each (16 big-endian bytes per decimal;
    /// string bytes and where each ends), not one allocation per value, and handed to the
    /// writer as slices of it.
    Dec(Vec<u8>, u32),
    Ts(Vec<i64>),
    Str(Vec<u8>, Vec<usize>),
}

struct Buf {
    defs: Vec<i16>,
    v: Values,
}

impl Buf {
    fn new(t: Inferred) -> Buf {
        let v = match t {
            Inferred::Bool => Values::Bool(Vec::new()),
            Inferred::Int => Values::I64(Vec::new()),
            Inferred::Decimal { scale, .. } => Values::Dec(Vec::new(), scale),
            Inferred::Float => Values::F64(Vec::new()),
            Inferred::Date => Values::I32(Vec::new()),
            Inferred::Timestamp(_) => Values::Ts(Vec::new()),
            Inferred::String | Inferred::Null => Values::Str(Vec::new(), Vec::new()),
        };
        Buf {
            defs: Vec::new(),
            v,
        }
    }

    fn push(&mut self, f: &[u8]) -> Result<(), String> {
        if f.is_empty() {
            self.defs.push(0);
            return Ok(());
        }
        let bad = |what: &str| format!("'{}' is not {what}", String::from_utf8_lossy(f));
        match &mut self.v {
            Values::Bool(v) => v.push(match f {
                b"true" => true,
                b"false" => false,
                _ => return Err(bad("a boolean")),
            }),
            Values::I64(v) => v.push(
                std::str::from_utf8(f)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("an int64"))?,
            ),
            Values::I32(v) => v.push(
                infer::date(f)
                    .and_then(|d| i32::try_from(d).ok())
                    .ok_or_else(|| bad("a date"))?,
            ),
            Values::F64(v) => v.push(infer::float(f).ok_or_else(|| bad("a float64"))?),
            Values::Ts(v) => v.push(infer::timestamp(f).ok_or_else(|| bad("a timestamp"))?.0),
            Values::Dec(v, scale) => {
                let x = scaled(f, *scale).ok_or_else(|| bad("a decimal"))?;
                v.extend_from_slice(&x.to_be_bytes());
            }
            Values::Str(v, ends) => {
                unescape(f, v);
                ends.push(v.len());
            }
        }
        self.defs.push(1);
        Ok(())
    }
}

/// `-?digits[.digits]` as an integer at `scale` digits after the point.
fn scaled(f: &[u8], scale: u32) -> Option<i128> {
    let (neg, body) = match f.strip_prefix(b"-") {
        Some(b) => (true, b),
        None => (false, f),
    };
    let (i, fr) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &b""[..]),
    };
    if i.is_empty() || fr.len() > scale as usize {
        return None;
    }
    let mut v: i128 = 0;
    for &c in i.iter().chain(fr) {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    for _ in fr.len()..scale as usize {
        v = v.checked_mul(10)?;
    }
    Some(if neg { -v } else { v })
}

/// Rows of a decimal or string column handed to the writer at a time.
const SLICE: usize = 1024;

fn flush<W: Write + Send>(w: &mut SerializedFileWriter<W>, bufs: &mut [Buf]) -> Result<(), String> {
    let e = |e: parquet::errors::ParquetError| format!("cannot write Parquet: {e}");
    let mut rg = w.next_row_group().map_err(e)?;
    for b in bufs.iter_mut() {
        let Some(mut col) = rg.next_column().map_err(e)? else {
            break;
        };
        let defs = Some(&b.defs[..]);
        match &mut b.v {
            Values::I64(v) | Values::Ts(v) => {
                col.typed::<Int64Type>()
                    .write_batch(v, defs, None)
                    .map_err(e)?;
                v.clear();
            }
            Values::Bool(v) => {
                col.typed::<parquet::data_type::BoolType>()
                    .write_batch(v, defs, None)
                    .map_err(e)?;
                v.clear();
            }
            Values::I32(v) => {
                col.typed::<Int32Type>()
                    .write_batch(v, defs, None)
                    .map_err(e)?;
                v.clear();
            }
            Values::F64(v) => {
                col.typed::<DoubleType>()
                    .write_batch(v, defs, None)
                    .map_err(e)?;
                v.clear();
            }
            Values::Dec(v, _) => {
                let mut at = 0;
                for rows in b.defs.chunks(SLICE) {
                    let n = rows.iter().filter(|&&d| d > 0).count();
                    // A chunk of its own: the writer's statistics keep a min and a max,
                    // which must not keep the whole row group's buffer alive.
                    let chunk = bytes::Bytes::copy_from_slice(&v[at * 16..(at + n) * 16]);
                    let vals: Vec<FixedLenByteArray> = (0..n)
                        .map(|i| {
                            FixedLenByteArray::from(ByteArray::from(
                                chunk.slice(i * 16..i * 16 + 16),
                            ))
                        })
                        .collect();
                    col.typed::<parquet::data_type::FixedLenByteArrayType>()
                        .write_batch(&vals, Some(rows), None)
                        .map_err(e)?;
                    at += n;
                }
                v.clear();
            }
            Values::Str(v, ends) => {
                let mut at = 0;
                for rows in b.defs.chunks(SLICE) {
                    let n = rows.iter().filter(|&&d| d > 0).count();
                    let from = if at == 0 { 0 } else { ends[at - 1] };
                    let to = if n == 0 { from } else { ends[at + n - 1] };
                    let chunk = bytes::Bytes::copy_from_slice(&v[from..to]);
                    let mut p = 0;
                    let vals: Vec<ByteArray> = ends[at..at + n]
                        .iter()
                        .map(|&end| {
                            let b = ByteArray::from(chunk.slice(p..end - from));
                            p = end - from;
                            b
                        })
                        .collect();
                    col.typed::<parquet::data_type::ByteArrayType>()
                        .write_batch(&vals, Some(rows), None)
                        .map_err(e)?;
                    at += n;
                }
                v.clear();
                ends.clear();
            }
        }
        b.defs.clear();
        col.close().map_err(e)?;
    }
    rg.close().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::scaled;

    #[test]
    fn scales() {
        assert_eq!(scaled(b"0.1", 2), Some(10));
        assert_eq!(scaled(b"-3", 2), Some(-300));
        assert_eq!(scaled(b"1.234", 2), None);
        assert_eq!(scaled(b"1.x", 2), None);
    }
}
