//! Input sources and record framing.
//!
//! `FILE` arguments are read in order; none or `-` is standard input; `.gz` and `.zst` files
//! are decompressed by extension; `.parquet` files are read as TSV records (crates/parquet).
//! [`Framer`] cuts a byte stream into records on `\n` (or
//! `\0`) with memchr over one large reused buffer; a last record without a terminator is
//! still a record. Framing never allocates per record and never reads a record into memory
//! past the caller's limit.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The name of an input as messages show it (`-` for standard input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputName(pub String);

impl std::fmt::Display for InputName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Open one input by name: `-` is stdin, `.gz`/`.zst` are decompressed.
pub fn open(name: &str) -> io::Result<Box<dyn Read + Send>> {
    if name == "-" {
        if bkparquet::forced() {
            // Parquet's footer is at the end: it is read from files, not pipes.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "Parquet is read from files, not standard input",
            ));
        }
        return Ok(Box::new(io::stdin()));
    }
    if bkparquet::is_parquet(name) {
        return bkparquet::open(name);
    }
    let file = File::open(name)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("Is a directory"));
    }
    wrap_decoder(name, file)
}

/// Say which fields (0-based, inclusive ranges) the tool reads from its records, before reading any: a
/// Parquet input then decodes only those columns, the others read as empty fields. Only a
/// tool that never writes or passes on the other fields may call it (see
/// `bkparquet::project`).
pub fn project(fields: Option<Vec<(usize, usize)>>) {
    bkparquet::project(fields);
}

/// Wrap a reader in the decoder its name asks for.
pub fn wrap_decoder<R: Read + Send + 'static>(
    name: &str,
    r: R,
) -> io::Result<Box<dyn Read + Send>> {
    if name.ends_with(".gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, r),
        )))
    } else if name.ends_with(".zst") {
        Ok(Box::new(zstd::stream::read::Decoder::new(r)?))
    } else {
        Ok(Box::new(r))
    }
}

/// The size of a plain file input, for progress bars; `None` for stdin or compressed files.
pub fn known_size(name: &str) -> Option<u64> {
    if name == "-" || name.ends_with(".gz") || name.ends_with(".zst") || bkparquet::is_parquet(name)
    {
        return None;
    }
    std::fs::metadata(Path::new(name)).ok().map(|m| m.len())
}

/// Errors while framing records.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("record {line} is longer than {limit} bytes")]
    TooLong { line: u64, limit: usize },
}

/// Cuts a reader into records over one reused buffer.
pub struct Framer<R> {
    reader: R,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    /// End of valid bytes in `buf`.
    end: usize,
    eof: bool,
    eol: u8,
    max_record: usize,
    /// Records returned so far (the 1-based number of the last one).
    pub line: u64,
    /// Bytes consumed so far, terminators included.
    pub bytes: u64,
    /// Whether the last record returned had a terminator.
    pub terminated: bool,
    last: (usize, usize),
}

/// The default read block: large enough to amortise syscalls, small enough for the cache.
pub const BLOCK: usize = 1 << 20;

impl<R: Read> Framer<R> {
    pub fn new(reader: R, eol: u8) -> Self {
        Self::with_limit(reader, eol, usize::MAX)
    }

    /// A framer that refuses records longer than `max_record` bytes instead of growing
    /// its buffer past that.
    pub fn with_limit(reader: R, eol: u8, max_record: usize) -> Self {
        Framer {
            reader,
            buf: vec![0; BLOCK],
            pos: 0,
            end: 0,
            eof: false,
            eol,
            max_record,
            line: 0,
            bytes: 0,
            terminated: true,
            last: (0, 0),
        }
    }

    fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let grow = self.buf.len().max(BLOCK);
            self.buf.resize(self.buf.len() + grow, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    if n == 0 {
                        self.eof = true;
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next record without its terminator, or `None` at the end of input.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let mut scanned = 0;
        loop {
            let avail = &self.buf[self.pos + scanned..self.end];
            if let Some(i) = crate::fields::find_byte(self.eol, avail) {
                let start = self.pos;
                let len = scanned + i;
                if len > self.max_record {
                    return Err(FrameError::TooLong {
                        line: self.line + 1,
                        limit: self.max_record,
                    });
                }
                self.pos += len + 1;
                self.line += 1;
                self.bytes += len as u64 + 1;
                self.terminated = true;
                self.last = (start, len);
                return Ok(Some(&self.buf[start..start + len]));
            }
            scanned = self.end - self.pos;
            if scanned > self.max_record {
                return Err(FrameError::TooLong {
                    line: self.line + 1,
                    limit: self.max_record,
                });
            }
            if self.eof {
                if scanned == 0 {
                    return Ok(None);
                }
                let start = self.pos;
                self.pos = self.end;
                self.line += 1;
                self.bytes += scanned as u64;
                self.terminated = false;
                self.last = (start, scanned);
                return Ok(Some(&self.buf[start..start + scanned]));
            }
            self.fill()?;
        }
    }

    /// The bytes read but not yet framed, the reader, and whether it reached its end: for
    /// a caller that reads the rest in blocks of its own.
    pub fn into_parts(self) -> (Vec<u8>, R, bool) {
        (self.buf[self.pos..self.end].to_vec(), self.reader, self.eof)
    }

    /// The record last returned by [`Framer::next_record`].
    pub fn last(&self) -> &[u8] {
        &self.buf[self.last.0..self.last.0 + self.last.1]
    }

    /// The next CSV record: lines are joined (with the terminator) while a quoted field is
    /// open. Returns `Some(false)` when the record is [`Framer::last`], `Some(true)` when it
    /// was joined into `joined`.
    pub fn next_csv_record(&mut self, joined: &mut Vec<u8>) -> Result<Option<bool>, FrameError> {
        let open = match self.next_record()? {
            None => return Ok(None),
            Some(r) => memchr::memchr_iter(b'"', r).count() % 2 == 1,
        };
        if !open {
            return Ok(Some(false));
        }
        joined.clear();
        joined.extend_from_slice(self.last());
        let mut quotes = 1;
        while quotes % 2 == 1 {
            let eol = self.eol;
            match self.next_record()? {
                None => break,
                Some(r) => {
                    quotes += memchr::memchr_iter(b'"', r).count();
                    joined.push(eol);
                    joined.extend_from_slice(r);
                }
            }
            if joined.len() > self.max_record {
                return Err(FrameError::TooLong {
                    line: self.line,
                    limit: self.max_record,
                });
            }
        }
        Ok(Some(true))
    }

    /// Read and discard the rest of the input (the Hadoop Streaming contract: stdin is
    /// always drained).
    pub fn drain(&mut self) -> io::Result<()> {
        self.pos = self.end;
        io::copy(&mut self.reader, &mut io::sink())?;
        self.eof = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &[u8], eol: u8) -> Vec<Vec<u8>> {
        let mut f = Framer::new(data, eol);
        let mut out = vec![];
        while let Some(r) = f.next_record().unwrap_or_else(|e| panic!("{e}")) {
            out.push(r.to_vec());
        }
        out
    }

    #[test]
    fn frames() {
        assert_eq!(frame(b"a\nb\n", b'\n'), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            frame(b"a\n\nb", b'\n'),
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]
        );
        assert!(frame(b"", b'\n').is_empty());
        assert_eq!(frame(b"x\0y\n\0", 0), vec![b"x".to_vec(), b"y\n".to_vec()]);
        let big = vec![b'x'; 3 * BLOCK + 7];
        assert_eq!(frame(&big, b'\n'), vec![big.clone()]);
    }

    #[test]
    fn limit() {
        let mut f = Framer::with_limit(&b"abc\nabcdef\n"[..], b'\n', 4);
        assert!(f.next_record().is_ok());
        assert!(matches!(
            f.next_record(),
            Err(FrameError::TooLong { line: 2, .. })
        ));
    }
}
