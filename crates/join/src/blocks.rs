//! Cutting a stream into blocks of whole records, for the parallel probe: a reader thread
//! cuts, workers walk the records of their blocks.
//!
//! Lines end at the terminator byte. CSV records end at a terminator outside quotes: from a
//! record's start the quote state flips at every `"` (an escaped `""` flips it twice), which
//! is how the line framer joins the lines of a quoted field, so a block's records are
//! byte for byte the records the line-by-line reader returns. Cutting never reads a record
//! into memory past the caller's limit.

use std::io::{self, Read};

/// How records end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// At every terminator byte.
    Lines(u8),
    /// At a terminator byte outside double quotes.
    Csv(u8),
}

impl Framing {
    fn eol(&self) -> u8 {
        match *self {
            Framing::Lines(e) | Framing::Csv(e) => e,
        }
    }

    /// The end of the first record of `data` (the index of its terminator), or `None` when
    /// `data` holds no whole record.
    #[inline]
    pub fn record_end(&self, data: &[u8]) -> Option<usize> {
        match *self {
            Framing::Lines(e) => memchr::memchr(e, data),
            Framing::Csv(e) => {
                let mut quoted = false;
                for i in memchr::memchr2_iter(b'"', e, data) {
                    if data[i] == b'"' {
                        quoted = !quoted;
                    } else if !quoted {
                        return Some(i);
                    }
                }
                None
            }
        }
    }

    /// The length of the longest prefix of `data` that is whole records (0: none).
    fn whole(&self, data: &[u8]) -> usize {
        match *self {
            Framing::Lines(e) => memchr::memrchr(e, data).map_or(0, |p| p + 1),
            Framing::Csv(e) => {
                let mut quoted = false;
                let mut cut = 0;
                for i in memchr::memchr2_iter(b'"', e, data) {
                    if data[i] == b'"' {
                        quoted = !quoted;
                    } else if !quoted {
                        cut = i + 1;
                    }
                }
                cut
            }
        }
    }
}

/// Whole records of one input, in order.
#[derive(Debug, Default)]
pub struct Block {
    /// The records, each ended by the terminator except perhaps the input's last.
    pub data: Vec<u8>,
    /// The 1-based line of the first record.
    pub first_line: u64,
}

impl Block {
    /// The records of the block without their terminators, each with its (first) line.
    pub fn records(&self, framing: Framing) -> Records<'_> {
        Records {
            data: &self.data,
            pos: 0,
            line: self.first_line,
            framing,
        }
    }
}

/// See [`Block::records`].
pub struct Records<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
    framing: Framing,
}

impl<'a> Iterator for Records<'a> {
    type Item = (u64, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<(u64, &'a [u8])> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (len, next) = match self.framing.record_end(rest) {
            Some(n) => (n, self.pos + n + 1),
            // The input's last record: unterminated, or (CSV) a quote left open, which runs
            // to the end as the line reader's does (without a final terminator).
            None => {
                let mut n = rest.len();
                if rest.last() == Some(&self.framing.eol()) {
                    n -= 1;
                }
                (n, self.data.len())
            }
        };
        let rec = &rest[..len];
        let line = self.line;
        self.line += 1;
        if let Framing::Csv(e) = self.framing {
            self.line += memchr::memchr_iter(e, rec).count() as u64;
        }
        self.pos = next;
        Some((line, rec))
    }
}

/// What can stop cutting.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A record starting at `line` is longer than `limit` bytes.
    #[error("record {line} is longer than {limit} bytes")]
    TooLong { line: u64, limit: usize },
}

/// Cuts a reader into [`Block`]s of about `size` bytes of whole records.
pub struct Cutter<R> {
    reader: R,
    carry: Vec<u8>,
    eof: bool,
    framing: Framing,
    size: usize,
    max_record: usize,
    line: u64,
    /// Bytes handed out so far.
    pub bytes: u64,
}

impl<R: Read> Cutter<R> {
    /// `carry` are bytes already read from `reader` (the rest of a line reader's buffer),
    /// `eof` whether the reader is done, `line` the line of the next record.
    pub fn new(
        carry: Vec<u8>,
        reader: R,
        eof: bool,
        framing: Framing,
        size: usize,
        max_record: usize,
        line: u64,
    ) -> Self {
        Cutter {
            reader,
            carry,
            eof,
            framing,
            size: size.max(2),
            max_record,
            line,
            bytes: 0,
        }
    }

    /// The next block, `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Block>, CutError> {
        let mut buf = std::mem::take(&mut self.carry);
        let mut target = self.size;
        loop {
            if !self.eof && buf.len() < target {
                let mut got = buf.len();
                buf.resize(target, 0);
                while got < target {
                    match self.reader.read(&mut buf[got..]) {
                        Ok(0) => {
                            self.eof = true;
                            break;
                        }
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                buf.truncate(got);
            }
            if buf.is_empty() {
                return Ok(None);
            }
            let cut = if self.eof {
                buf.len()
            } else {
                self.framing.whole(&buf)
            };
            if cut == 0 {
                // One record longer than the block: read on (doubling), up to the limit.
                if buf.len() > self.max_record {
                    return Err(CutError::TooLong {
                        line: self.line,
                        limit: self.max_record,
                    });
                }
                target = (buf.len() * 2).clamp(buf.len() + 1, self.max_record.saturating_add(1));
                continue;
            }
            self.carry = buf[cut..].to_vec();
            buf.truncate(cut);
            let block = Block {
                first_line: self.line,
                data: buf,
            };
            self.line += count_lines(&block, self.framing);
            self.bytes += block.data.len() as u64;
            return Ok(Some(block));
        }
    }
}

/// The number of lines a block's records take (for the next block's first line).
fn count_lines(b: &Block, framing: Framing) -> u64 {
    let e = framing.eol();
    let n = memchr::memchr_iter(e, &b.data).count() as u64;
    n + u64::from(b.data.last().is_some_and(|&c| c != e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives at most `step` bytes a call.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn cut(data: &[u8], framing: Framing, size: usize, step: usize) -> Vec<(u64, Vec<u8>)> {
        let mut c = Cutter::new(
            Vec::new(),
            Trickle(data, step),
            false,
            framing,
            size,
            1 << 20,
            1,
        );
        let mut out = Vec::new();
        let mut total = 0;
        while let Some(b) = c.next_block().unwrap_or_else(|e| panic!("{e}")) {
            total += b.data.len();
            for (line, r) in b.records(framing) {
                out.push((line, r.to_vec()));
            }
        }
        assert_eq!(total, data.len());
        out
    }

    fn naive_lines(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut v: Vec<(u64, Vec<u8>)> = data
            .split(|&c| c == b'\n')
            .enumerate()
            .map(|(i, r)| (i as u64 + 1, r.to_vec()))
            .collect();
        if data.last().is_none_or(|&c| c == b'\n') {
            v.pop();
        }
        v
    }

    #[test]
    fn lines_in_any_block_size() {
        for data in [
            &b"a\nbb\n\nccc\nd"[..],
            b"x\n",
            b"",
            b"\n\n",
            b"long line here\nq\n",
        ] {
            for size in [2, 3, 5, 64] {
                for step in [1, 2, 7, 100] {
                    assert_eq!(
                        cut(data, Framing::Lines(b'\n'), size, step),
                        naive_lines(data),
                        "{data:?} {size} {step}"
                    );
                }
            }
        }
    }

    #[test]
    fn csv_records_keep_quoted_newlines() {
        let data = b"a,\"x\ny\"\nb,\"\"\"\"\n\"open\nc,d\n";
        let want: Vec<(u64, Vec<u8>)> = vec![
            (1, b"a,\"x\ny\"".to_vec()),
            (3, b"b,\"\"\"\"".to_vec()),
            (4, b"\"open\nc,d".to_vec()),
        ];
        for size in [2, 3, 5, 64] {
            for step in [1, 3, 100] {
                assert_eq!(cut(data, Framing::Csv(b'\n'), size, step), want);
            }
        }
    }

    #[test]
    fn too_long() {
        let mut c = Cutter::new(
            Vec::new(),
            &b"ok\nabcdefghij\n"[..],
            false,
            Framing::Lines(b'\n'),
            2,
            4,
            1,
        );
        let mut err = None;
        loop {
            match c.next_block() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert!(
            matches!(err, Some(CutError::TooLong { line: 2, .. })),
            "{err:?}"
        );
    }
}
