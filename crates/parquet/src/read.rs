//! A Parquet file as a stream of TSV records.

use crate::text::{
    be_i128, put_date, put_decimal, put_escaped, put_i64, put_time, put_timestamp, put_u64,
};
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::column::reader::{get_typed_column_reader, ColumnReader, ColumnReaderImpl};
use parquet::data_type::{
    BoolType, ByteArrayType, DoubleType, FixedLenByteArrayType, FloatType, Int32Type, Int64Type,
    Int96Type,
};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;
use std::fs::File;
use std::io::{self, Read};

/// Rows decoded at a time.
const BATCH: usize = 4096;

/// Open `name` for reading as TSV records. The file is opened now (an unreadable path fails
/// at once); its footer is read at the first read, so a corrupt file is a read error.
pub fn open(name: &str) -> io::Result<Box<dyn Read + Send>> {
    let file = File::open(name)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("Is a directory"));
    }
    Ok(Box::new(ParquetText {
        file: Some(file),
        state: None,
        out: Vec::new(),
        pos: 0,
        done: false,
    }))
}

/// How a column's values become text.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Unsigned,
    Date,
    Time(u32),
    Timestamp(u32, bool),
    Decimal(i32),
    Float16,
}

enum Values {
    Bool(ColumnReaderImpl<BoolType>, Vec<bool>),
    I32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    I64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    I96(ColumnReaderImpl<Int96Type>, Vec<parquet::data_type::Int96>),
    F32(ColumnReaderImpl<FloatType>, Vec<f32>),
    F64(ColumnReaderImpl<DoubleType>, Vec<f64>),
    Bytes(
        ColumnReaderImpl<ByteArrayType>,
        Vec<parquet::data_type::ByteArray>,
    ),
    Fixed(
        ColumnReaderImpl<FixedLenByteArrayType>,
        Vec<parquet::data_type::FixedLenByteArray>,
    ),
}

struct Column {
    /// How values become text, or why this column cannot be read (only an error when the
    /// tool reads the column).
    kind: Result<Kind, String>,
    max_def: i16,
    /// Whether the tool reads this column (see [`crate::project`]); the others are never
    /// decoded and read as empty fields.
    wanted: bool,
    values: Option<Values>,
    defs: Vec<i16>,
    /// The text of this column for the rows of the batch, and where each row's ends.
    text: Vec<u8>,
    ends: Vec<u32>,
}

struct State {
    reader: SerializedFileReader<File>,
    group: usize,
    left_in_group: i64,
    columns: Vec<Column>,
    /// Whether the projection has been applied (at the first batch: the tool names its
    /// fields after reading the header).
    projected: bool,
    /// The rows of the batch decoded, and the next one to hand out.
    rows: usize,
    row: usize,
}

struct ParquetText {
    file: Option<File>,
    state: Option<State>,
    /// Text not yet handed out: the header, or a row longer than the caller's buffer.
    out: Vec<u8>,
    pos: usize,
    done: bool,
}
fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a valid Parquet file: {e}"),
    )
}

fn kind_of(d: &ColumnDescriptor) -> io::Result<Kind> {
    if d.max_rep_level() > 0 || d.path().parts().len() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "column {}: nested columns (lists, maps, structs) are not read yet",
                d.path()
            ),
        ));
    }
    let logical = d.logical_type_ref();
    Ok(match logical {
        Some(LogicalType::Timestamp(t)) => {
            Kind::Timestamp(unit_digits(&t.unit), t.is_adjusted_to_u_t_c)
        }
        Some(LogicalType::Time(t)) => Kind::Time(unit_digits(&t.unit)),
        Some(LogicalType::Date) => Kind::Date,
        Some(LogicalType::Decimal(_)) => Kind::Decimal(d.type_scale()),
        Some(LogicalType::Integer(i)) if !i.is_signed => Kind::Unsigned,
        Some(LogicalType::Float16) => Kind::Float16,
        _ => match d.converted_type() {
            ConvertedType::TIMESTAMP_MILLIS => Kind::Timestamp(3, true),
            ConvertedType::TIMESTAMP_MICROS => Kind::Timestamp(6, true),
            ConvertedType::TIME_MILLIS => Kind::Time(3),
            ConvertedType::TIME_MICROS => Kind::Time(6),
            ConvertedType::DATE => Kind::Date,
            ConvertedType::DECIMAL => Kind::Decimal(d.type_scale()),
            ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64 => Kind::Unsigned,
            _ if d.physical_type() == Physical::INT96 => Kind::Timestamp(9, false),
            _ => Kind::Plain,
        },
    })
}

fn unit_digits(u: &TimeUnit) -> u32 {
    match u {
        TimeUnit::MILLIS => 3,
        TimeUnit::MICROS => 6,
        TimeUnit::NANOS => 9,
    }
}

fn values_of(r: ColumnReader) -> Values {
    match r {
        ColumnReader::BoolColumnReader(_) => Values::Bool(get_typed_column_reader(r), Vec::new()),
        ColumnReader::Int32ColumnReader(_) => Values::I32(get_typed_column_reader(r), Vec::new()),
        ColumnReader::Int64ColumnReader(_) => Values::I64(get_typed_column_reader(r), Vec::new()),
        ColumnReader::Int96ColumnReader(_) => Values::I96(get_typed_column_reader(r), Vec::new()),
        ColumnReader::FloatColumnReader(_) => Values::F32(get_typed_column_reader(r), Vec::new()),
        ColumnReader::DoubleColumnReader(_) => Values::F64(get_typed_column_reader(r), Vec::new()),
        ColumnReader::ByteArrayColumnReader(_) => {
            Values::Bytes(get_typed_column_reader(r), Vec::new())
        }
        ColumnReader::FixedLenByteArrayColumnReader(_) => {
            Values::Fixed(get_typed_column_reader(r), Vec::new())
        }
    }
}

impl Column {
    /// Decode up to `n` rows into `text`/`ends`; returns the rows decoded.
    fn batch(&mut self, n: usize) -> io::Result<usize> {
        self.text.clear();
        self.ends.clear();
        self.defs.clear();
        let max_def = self.max_def;
        let defs = if max_def > 0 {
            Some(&mut self.defs)
        } else {
            None
        };
        macro_rules! read {
            ($r:expr, $v:expr) => {{
                $v.clear();
                let (rows, _, _) = $r.read_records(n, defs, None, $v).map_err(err)?;
                rows
            }};
        }
        let (Some(values), Ok(kind)) = (self.values.as_mut(), self.kind.clone()) else {
            return Ok(0);
        };
        let rows = match values {
            Values::Bool(r, v) => read!(r, v),
            Values::I32(r, v) => read!(r, v),
            Values::I64(r, v) => read!(r, v),
            Values::I96(r, v) => read!(r, v),
            Values::F32(r, v) => read!(r, v),
            Values::F64(r, v) => read!(r, v),
            Values::Bytes(r, v) => read!(r, v),
            Values::Fixed(r, v) => read!(r, v),
        };
        if max_def > 0 && self.defs.len() != rows {
            return Err(err("definition levels do not match the rows"));
        }
        let present = if max_def > 0 {
            self.defs.iter().filter(|&&d| d == max_def).count()
        } else {
            rows
        };
        let got = match values {
            Values::Bool(_, v) => v.len(),
            Values::I32(_, v) => v.len(),
            Values::I64(_, v) => v.len(),
            Values::I96(_, v) => v.len(),
            Values::F32(_, v) => v.len(),
            Values::F64(_, v) => v.len(),
            Values::Bytes(_, v) => v.len(),
            Values::Fixed(_, v) => v.len(),
        };
        if got != present {
            return Err(err("the values do not match the rows"));
        }
        self.ends.reserve(rows);
        let defs = (max_def > 0).then_some(&self.defs[..rows]);
        put_values(values, kind, defs, max_def, &mut self.text, &mut self.ends)?;
        Ok(rows)
    }
}

/// The text of every value of `values`, row by row (`defs`: which rows hold one; the others
/// are null, an empty field), each row's end pushed to `ends`.
fn put_values(
    values: &Values,
    kind: Kind,
    defs: Option<&[i16]>,
    max_def: i16,
    text: &mut Vec<u8>,
    ends: &mut Vec<u32>,
) -> io::Result<()> {
    // One loop per type and kind, so that the hot loops have no dispatch in them.
    fn each<T>(
        v: &[T],
        defs: Option<&[i16]>,
        max_def: i16,
        text: &mut Vec<u8>,
        ends: &mut Vec<u32>,
        mut put: impl FnMut(&T, &mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        let end = |text: &Vec<u8>| {
            u32::try_from(text.len()).map_err(|_| err("a batch of text over 4 GiB"))
        };
        match defs {
            None => {
                for x in v {
                    put(x, text)?;
                    ends.push(end(text)?);
                }
            }
            Some(defs) => {
                let mut it = v.iter();
                for &d in defs {
                    if d == max_def {
                        let x = it.next().ok_or_else(|| err("fewer values than rows"))?;
                        put(x, text)?;
                    }
                    ends.push(end(text)?);
                }
            }
        }
        Ok(())
    }
    use std::io::Write;
    match values {
        Values::Bool(_, v) => each(v, defs, max_def, text, ends, |&x, o| {
            o.extend_from_slice(if x { b"true" } else { b"false" });
            Ok(())
        }),
        Values::I32(_, v) => match kind {
            Kind::Unsigned => each(v, defs, max_def, text, ends, |&x, o| {
                put_u64(u64::from(x as u32), o);
                Ok(())
            }),
            Kind::Date => each(v, defs, max_def, text, ends, |&x, o| {
                put_date(i64::from(x), o);
                Ok(())
            }),
            Kind::Time(d) => each(v, defs, max_def, text, ends, |&x, o| {
                put_time(i64::from(x), d, o);
                Ok(())
            }),
            Kind::Decimal(s) => each(v, defs, max_def, text, ends, |&x, o| {
                put_decimal(i128::from(x), s, o);
                Ok(())
            }),
            _ => each(v, defs, max_def, text, ends, |&x, o| {
                put_i64(i64::from(x), o);
                Ok(())
            }),
        },
        Values::I64(_, v) => match kind {
            Kind::Unsigned => each(v, defs, max_def, text, ends, |&x, o| {
                put_u64(x as u64, o);
                Ok(())
            }),
            Kind::Date => each(v, defs, max_def, text, ends, |&x, o| {
                put_date(x, o);
                Ok(())
            }),
            Kind::Time(d) => each(v, defs, max_def, text, ends, |&x, o| {
                put_time(x, d, o);
                Ok(())
            }),
            Kind::Timestamp(d, utc) => each(v, defs, max_def, text, ends, |&x, o| {
                put_timestamp(x, d, utc, o);
                Ok(())
            }),
            Kind::Decimal(s) => each(v, defs, max_def, text, ends, |&x, o| {
                put_decimal(i128::from(x), s, o);
                Ok(())
            }),
            _ => each(v, defs, max_def, text, ends, |&x, o| {
                put_i64(x, o);
                Ok(())
            }),
        },
        Values::I96(_, v) => each(v, defs, max_def, text, ends, |x, o| {
            put_timestamp(x.to_nanos(), 9, false, o);
            Ok(())
        }),
        Values::F32(_, v) => each(v, defs, max_def, text, ends, |x, o| Ok(write!(o, "{x}")?)),
        Values::F64(_, v) => each(v, defs, max_def, text, ends, |x, o| Ok(write!(o, "{x}")?)),
        Values::Bytes(_, v) => each(v, defs, max_def, text, ends, |x, o| {
            put_bytes(x.data(), kind, o)
        }),
        Values::Fixed(_, v) => each(v, defs, max_def, text, ends, |x, o| {
            put_bytes(x.data(), kind, o)
        }),
    }
}

fn put_bytes(b: &[u8], kind: Kind, out: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Write;
    match kind {
        Kind::Decimal(s) => {
            let v = be_i128(b).ok_or_else(|| err("a decimal wider than 38 digits"))?;
            put_decimal(v, s, out);
        }
        Kind::Float16 if b.len() == 2 => {
            write!(out, "{}", f16_to_f32(u16::from_le_bytes([b[0], b[1]])))?
        }
        _ => put_escaped(b, out),
    }
    Ok(())
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

impl ParquetText {
    fn start(&mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            self.done = true;
            return Ok(());
        };
        let reader = SerializedFileReader::new(file).map_err(err)?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let mut columns = Vec::with_capacity(schema.num_columns());
        let mut names = Vec::new();
        for (i, d) in schema.columns().iter().enumerate() {
            if i > 0 {
                names.push(b'\t');
            }
            put_escaped(d.name().as_bytes(), &mut names);
            columns.push(Column {
                kind: kind_of(d).map_err(|e| e.to_string()),
                max_def: d.max_def_level(),
                wanted: true,
                values: None,
                defs: Vec::new(),
                text: Vec::new(),
                ends: Vec::new(),
            });
        }
        if crate::header() {
            self.out.extend_from_slice(&names);
            self.out.push(b'\n');
        }
        self.state = Some(State {
            reader,
            group: 0,
            left_in_group: 0,
            columns,
            projected: false,
            rows: 0,
            row: 0,
        });
        Ok(())
    }

    /// Decode the next batch of rows; `false` at the end.
    fn fill(&mut self) -> io::Result<bool> {
        let Some(st) = self.state.as_mut() else {
            return Ok(false);
        };
        if !st.projected {
            st.projected = true;
            let p = crate::projection();
            for (i, c) in st.columns.iter_mut().enumerate() {
                c.wanted = p
                    .as_ref()
                    .is_none_or(|p| p.iter().any(|&(a, b)| a <= i && i <= b));
                if let (true, Err(e)) = (c.wanted, &c.kind) {
                    return Err(io::Error::new(io::ErrorKind::Unsupported, e.clone()));
                }
            }
        }
        while st.left_in_group <= 0 {
            if st.group >= st.reader.num_row_groups() {
                return Ok(false);
            }
            let g = st.reader.get_row_group(st.group).map_err(err)?;
            st.left_in_group = g.metadata().num_rows();
            for (i, c) in st.columns.iter_mut().enumerate() {
                c.values = match c.wanted {
                    true => Some(values_of(g.get_column_reader(i).map_err(err)?)),
                    false => None,
                };
            }
            st.group += 1;
        }
        let want = (st.left_in_group as usize).min(BATCH);
        let mut rows = None;
        for c in st.columns.iter_mut().filter(|c| c.wanted) {
            let got = c.batch(want)?;
            if *rows.get_or_insert(got) != got || got == 0 {
                return Err(err("a column chunk has fewer rows than its row group"));
            }
        }
        // No column decoded (none exists, or the tool reads none): the rows are empty.
        let rows = rows.unwrap_or(want);
        st.left_in_group -= rows as i64;
        st.rows = rows;
        st.row = 0;
        Ok(true)
    }
}

/// Write whole rows from `st` into `buf` while they fit; returns the bytes written.
fn put_rows(st: &mut State, buf: &mut [u8]) -> usize {
    let mut w = 0;
    let last = st.columns.len().saturating_sub(1);
    'rows: while st.row < st.rows {
        let r = st.row;
        let begin = w;
        if st.columns.is_empty() {
            if w >= buf.len() {
                break;
            }
            buf[w] = b'\n';
            w += 1;
            st.row += 1;
            continue;
        }
        for (j, c) in st.columns.iter().enumerate() {
            let sep = if j == last { b'\n' } else { b'\t' };
            let v: &[u8] = if c.wanted {
                let from = if r == 0 { 0 } else { c.ends[r - 1] as usize };
                &c.text[from..c.ends[r] as usize]
            } else {
                &[]
            };
            if buf.len() - w < v.len() + 1 {
                w = begin;
                break 'rows;
            }
            buf[w..w + v.len()].copy_from_slice(v);
            w += v.len();
            buf[w] = sep;
            w += 1;
        }
        st.row += 1;
    }
    w
}

impl Read for ParquetText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.state.is_none() && !self.done {
            self.start()?;
        }
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.pos = 0;
            let Some(st) = self.state.as_mut() else {
                self.done = true;
                return Ok(0);
            };
            if st.row >= st.rows {
                if !self.fill()? {
                    self.done = true;
                    self.state = None;
                    return Ok(0);
                }
                continue;
            }
            let n = put_rows(st, buf);
            if n > 0 {
                return Ok(n);
            }
            // One row longer than `buf`: it goes out through `out`.
            let mut big = vec![0u8; 1 << 16];
            loop {
                let n = put_rows(st, &mut big);
                if n > 0 {
                    self.out.extend_from_slice(&big[..n]);
                    break;
                }
                big.resize(big.len() * 2, 0);
            }
        }
    }
}
