//! Writing many part files with bounded memory and a bounded number of open files.
//!
//! Records are appended to per-part buffers; a buffer is flushed to its file (opened,
//! appended, closed) when it grows past a block, and all of them when their total passes
//! the memory limit. At most one file is open at a time, whatever the number of parts.
//! Compressed parts are written as one gzip member or zstd frame per flush, which
//! concatenate into a valid stream.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Compression of part files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    None,
    Gzip,
    Zstd,
}

impl Compress {
    /// The file-name extension.
    pub fn ext(&self) -> &'static str {
        match self {
            Compress::None => "",
            Compress::Gzip => ".gz",
            Compress::Zstd => ".zst",
        }
    }

    /// `w` written through this compression: the one gzip/zstd part writer (gzip at the
    /// fast level, zstd at level 3). Call [`Encoder::finish`] to end the stream.
    pub fn encoder<W: Write>(self, w: W) -> io::Result<Encoder<W>> {
        Ok(match self {
            Compress::None => Encoder::Plain(w),
            Compress::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::fast(),
            )),
            Compress::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
        })
    }
}

/// A part's bytes on their way to its file, compressed or not (see [`Compress::encoder`]).
pub enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// End the stream (the gzip trailer, the zstd frame's end) and flush it.
    pub fn finish(self) -> io::Result<W> {
        let mut w = match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(e) => e.write_all(buf),
            Encoder::Zstd(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

const FLUSH_AT: usize = 256 << 10;

/// One part: where it goes and what is waiting to be written.
struct Part {
    path: PathBuf,
    buf: Vec<u8>,
    created: bool,
    records: u64,
    bytes: u64,
}

/// Buffered writers for parts, added as they are first needed.
pub struct Parts {
    parts: Vec<Part>,
    buffered: usize,
    limit: usize,
    compress: Compress,
    header: Option<Vec<u8>>,
}

impl Parts {
    /// `limit`: memory for buffers; `header`: written at the top of every part (with its
    /// terminator).
    pub fn new(limit: usize, compress: Compress, header: Option<Vec<u8>>) -> Parts {
        Parts {
            parts: Vec::new(),
            buffered: 0,
            limit: limit.max(FLUSH_AT),
            compress,
            header,
        }
    }

    /// Register a part file; returns its index.
    pub fn add(&mut self, path: PathBuf) -> usize {
        let mut buf = Vec::new();
        if let Some(h) = &self.header {
            buf.extend_from_slice(h);
        }
        self.buffered += buf.len();
        let bytes = buf.len() as u64;
        self.parts.push(Part {
            path,
            buf,
            created: false,
            records: 0,
            bytes,
        });
        self.parts.len() - 1
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Append one record (terminator included) to part `i`.
    #[inline]
    pub fn write(&mut self, i: usize, rec: &[u8]) -> io::Result<()> {
        let p = &mut self.parts[i];
        p.buf.extend_from_slice(rec);
        p.records += 1;
        p.bytes += rec.len() as u64;
        self.buffered += rec.len();
        if p.buf.len() >= FLUSH_AT {
            self.flush_one(i)?;
        }
        if self.buffered > self.limit {
            self.flush_all()?;
        }
        Ok(())
    }

    fn flush_one(&mut self, i: usize) -> io::Result<()> {
        let compress = self.compress;
        let p = &mut self.parts[i];
        if p.buf.is_empty() && p.created {
            return Ok(());
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(p.created)
            .write(true)
            .truncate(!p.created)
            .open(&p.path)
            .map_err(|e| annotate(&p.path, e))?;
        p.created = true;
        if !p.buf.is_empty() {
            // One gzip member or zstd frame per flush: they concatenate into one stream.
            compress
                .encoder(&mut f)
                .and_then(|mut e| e.write_all(&p.buf).and_then(|()| e.finish().map(drop)))
                .map_err(|e| annotate(&p.path, e))?;
        }
        self.buffered -= p.buf.len();
        p.buf.clear();
        if p.buf.capacity() > FLUSH_AT * 2 {
            p.buf.shrink_to(FLUSH_AT);
        }
        Ok(())
    }

    fn flush_all(&mut self) -> io::Result<()> {
        for i in 0..self.parts.len() {
            self.flush_one(i)?;
        }
        Ok(())
    }

    /// Write everything out (every registered part gets a file, empty or not); returns
    /// (records, bytes) per part, bytes before compression.
    pub fn finish(mut self) -> io::Result<Vec<(u64, u64)>> {
        self.flush_all()?;
        Ok(self.parts.iter().map(|p| (p.records, p.bytes)).collect())
    }
}

fn annotate(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A value as a directory name: bytes outside `[A-Za-z0-9_.-]` as `%XX`, and dots too when
/// the value is made of dots only, so that no value can name a path outside the directory.
pub fn percent_encode(value: &[u8]) -> String {
    let only_dots = !value.is_empty() && value.iter().all(|&c| c == b'.');
    let mut s = String::with_capacity(value.len());
    for &c in value {
        if (c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.')
            && !(only_dots && c == b'.')
        {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

/// The inverse of [`percent_encode`].
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            // Bytes, not `&s[..]`: the two after a `%` may split a character (fuzz find).
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fuzz/ (manifest target): a `%` followed by a multi-byte character panicked on a
    /// char-boundary slice; any text decodes, and what does not decode stays as it is.
    #[test]
    fn regression_fuzz_percent_decode_non_ascii() {
        assert_eq!(percent_decode("k%2\u{fffd}x"), "k%2\u{fffd}x".as_bytes());
        assert_eq!(percent_decode("%é"), "%é".as_bytes());
        assert_eq!(percent_decode("a%4é%41"), "a%4éA".as_bytes());
    }

    #[test]
    fn encoding_round_trips_and_stays_inside() {
        for v in [
            &b"../x"[..],
            b"/abs",
            b"a/b",
            b"",
            b"%41",
            b"x=y",
            b"\x01\n\t",
            b".",
            b"..",
            b"2024-01-01",
            "é".as_bytes(),
        ] {
            let e = percent_encode(v);
            assert!(!e.contains('/') && e != "." && e != "..", "{e}");
            assert_eq!(percent_decode(&e), v, "{e}");
        }
        assert_eq!(percent_encode(b"2024-01-01"), "2024-01-01");
    }

    #[test]
    fn every_compression_round_trips() {
        use std::io::Read;
        for c in [Compress::None, Compress::Gzip, Compress::Zstd] {
            let mut e = c.encoder(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
            e.write_all(b"a\nb\n").unwrap_or_else(|e| panic!("{e}"));
            let bytes = e.finish().unwrap_or_else(|e| panic!("{e}"));
            let mut back = Vec::new();
            match c {
                Compress::None => back = bytes,
                Compress::Gzip => {
                    flate2::read::MultiGzDecoder::new(&bytes[..])
                        .read_to_end(&mut back)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                Compress::Zstd => {
                    back = zstd::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{e}"))
                }
            }
            assert_eq!(back, b"a\nb\n", "{c:?}");
        }
    }

    #[test]
    fn parts_bounded_and_complete() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut parts = Parts::new(1, Compress::None, Some(b"h\n".to_vec()));
        for i in 0..300 {
            parts.add(d.path().join(format!("p{i}")));
        }
        for r in 0..3000usize {
            parts
                .write(r % 7, format!("{r}\n").as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let sizes = parts.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sizes.len(), 300);
        let p0 = std::fs::read_to_string(d.path().join("p0")).unwrap_or_default();
        assert!(p0.starts_with("h\n0\n7\n14\n"));
        assert_eq!(
            std::fs::read(d.path().join("p299")).unwrap_or_default(),
            b"h\n"
        );
    }
}
