//! Reading records from the inputs, shared by the tools: open every input first (an
//! unreadable one is a usage error), frame records (CSV records may span lines), skip and
//! return headers, and name each record `FILE:LINE` for messages.

use crate::{Error, Progress, Result};
use record::{CsvScratch, Format, FrameError, Framer, RecordOrder};
use std::io::Read;
use std::sync::Arc;

/// Where a record is: `FILE:LINE` (the aggregation engine's, shared by every tool).
pub use agg::engine::At;

/// One open input.
pub struct Input {
    pub name: String,
    framer: Framer<Box<dyn Read + Send>>,
    csv: bool,
    joined: Vec<u8>,
}

impl Input {
    /// The next record (a CSV record may span lines).
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        Ok(next_record(&mut self.framer, self.csv, &mut self.joined, &self.name)?.map(|r| r.0))
    }

    /// The record last returned by [`Input::next`].
    pub fn last(&self) -> &[u8] {
        if self.csv && !self.joined.is_empty() {
            &self.joined
        } else {
            self.framer.last()
        }
    }

    pub fn line(&self) -> u64 {
        self.framer.line
    }

    /// Unframed bytes, the reader, and whether it is at its end (see [`Framer::into_parts`]).
    pub fn into_parts(self) -> (Vec<u8>, Box<dyn Read + Send>, bool) {
        self.framer.into_parts()
    }
}

fn next_record<'a>(
    framer: &'a mut Framer<Box<dyn Read + Send>>,
    csv: bool,
    joined: &'a mut Vec<u8>,
    name: &str,
) -> Result<Option<(&'a [u8], bool)>> {
    // Whether the record was joined from several lines (CSV), then whether it had its
    // terminator: both read before the record borrows the framer.
    let was_joined = if csv {
        match framer.next_csv_record(joined) {
            Ok(None) => return Ok(None),
            Ok(Some(j)) => j,
            Err(e) => return Err(frame_error(name, e)),
        }
    } else {
        match framer.next_record() {
            Ok(None) => return Ok(None),
            Ok(Some(_)) => false,
            Err(e) => return Err(frame_error(name, e)),
        }
    };
    if csv && !was_joined {
        joined.clear();
    }
    let ended = framer.terminated;
    Ok(Some(if was_joined {
        (&joined[..], ended)
    } else {
        (framer.last(), ended)
    }))
}

fn frame_error(name: &str, e: FrameError) -> Error {
    match e {
        FrameError::Io(e) => Error::io(format!("{name}: read error"), e),
        FrameError::TooLong { line, limit } => Error::Runtime(format!(
            "{name}:{line}: record is longer than the memory budget of {limit} bytes (raise -S)"
        )),
    }
}

/// Blocks of whole records and their records (the aggregation engine's).
pub use agg::engine::blocks::{records, Block};

/// Read every input in blocks of whole records (about 2 to 4 MiB; a longer record makes a
/// block of its own, up to `max_record`) and hand each to `give`, in order. Reads to the
/// end whatever the consumers do (the Hadoop Streaming contract). Returns bytes read.
pub fn read_blocks(
    inputs: Vec<Input>,
    eol: u8,
    max_record: usize,
    mut give: impl FnMut(Arc<Block>),
) -> Result<u64> {
    // BATCHKIT_BLOCK_BYTES: a smaller block for tests, so that small inputs make many blocks
    // (records cut across reads, groups spanning blocks).
    let block_size = std::env::var("BATCHKIT_BLOCK_BYTES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&b| b >= 2)
        .unwrap_or(4 << 20);
    let mut total = 0u64;
    let mut seq = 0u64;
    for (idx, input) in inputs.into_iter().enumerate() {
        let name = input.name.clone();
        // After a header read by setup, numbering goes on from it.
        let mut line = input.line() + 1;
        let (mut carry, mut reader, mut eof) = input.into_parts();
        loop {
            let mut buf = std::mem::take(&mut carry);
            let start = buf.len();
            if !eof {
                buf.resize(start.max(block_size / 2) + block_size, 0);
                let mut got = start;
                // Fill the block (pipes give little at a time): its bounds then depend on
                // the input's bytes only, not on how reads split them (bmap --combine's
                // partial lines are the same bytes on every run).
                while got < buf.len() {
                    match reader.read(&mut buf[got..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io(format!("{name}: read error"), e)),
                    }
                }
                buf.truncate(got);
            }
            if buf.is_empty() {
                break;
            }
            // Whole records only; the rest waits for the next block (or is the input's
            // unterminated last record).
            let cut = if eof {
                buf.len()
            } else {
                match memchr::memrchr(eol, &buf) {
                    Some(p) => p + 1,
                    None => buf.len() + 1,
                }
            };
            if cut > buf.len() {
                if buf.len() > max_record {
                    return Err(Error::Runtime(format!(
                        "{name}:{line}: record is longer than the memory budget of {} bytes (raise -S)",
                        max_record
                    )));
                }
                carry = buf;
                continue;
            }
            carry = buf[cut..].to_vec();
            buf.truncate(cut);
            total += buf.len() as u64;
            let records = map::count_byte(&buf, eol) + u64::from(eof && buf.last() != Some(&eol));
            give(Arc::new(Block {
                data: buf,
                input: idx,
                first_line: line,
                seq,
            }));
            seq += 1;
            line += records;
            if eof && carry.is_empty() {
                break;
            }
        }
    }
    Ok(total)
}

/// An input that advances the progress bar by what is read from it, whichever path reads
/// it (framed records, blocks, a bjoin side): one place counts for every tool.
struct Counted(Box<dyn Read + Send>);

/// `r`, advancing the progress bar as it is read (for inputs not opened by [`Inputs`]).
pub fn counted(r: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    Box::new(Counted(r))
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        crate::progress::advance(n as u64);
        Ok(n)
    }
}

fn is_regular(name: &str) -> bool {
    name != "-" && std::fs::metadata(name).is_ok_and(|m| m.is_file())
}

/// A regular file that was opened once to check it, then closed: opened again at its
/// first read and closed at its end, so at most one such input holds a descriptor at a
/// time (a merge reads several at once: `bsort -m` counts them in its batches).
struct Reopen {
    name: String,
    inner: Option<Box<dyn Read + Send>>,
    done: bool,
}

impl Read for Reopen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let inner = match &mut self.inner {
            Some(r) => r,
            None => self.inner.insert(record::input::open(&self.name)?),
        };
        let n = inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.inner = None;
            self.done = true;
        }
        Ok(n)
    }
}

/// All inputs, read in order.
pub struct Inputs {
    list: Vec<Input>,
    sizes: Option<u64>,
    /// Bytes read so far.
    pub bytes: u64,
}

impl Inputs {
    /// Open every input now, so that an unreadable one fails before any work.
    pub fn open(names: &[String], eol: u8, max_record: usize) -> Result<Inputs> {
        let mut list = Vec::with_capacity(names.len());
        let mut sizes = Some(0u64);
        for name in names {
            if name == "-" {
                crate::reads_stdin();
            }
            let r = record::input::open(name).map_err(|e| {
                Error::Usage(format!(
                    "cannot read {name}: {}",
                    crate::error::describe(&e)
                ))
            })?;
            // Regular files after the first are closed again and reopened when reached:
            // `bsort *.tsv` of more files than descriptors works, as GNU's does (issue 14).
            let r = if list.is_empty() || !is_regular(name) {
                r
            } else {
                drop(r);
                Box::new(Reopen {
                    name: name.clone(),
                    inner: None,
                    done: false,
                })
            };
            sizes = match (sizes, record::input::known_size(name)) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            let r = counted(r);
            list.push(Input {
                name: name.clone(),
                framer: Framer::with_limit(r, eol, max_record),
                csv: false,
                joined: Vec::new(),
            });
        }
        Ok(Inputs {
            list,
            sizes,
            bytes: 0,
        })
    }

    /// Frame CSV records (quoted fields may hold newlines).
    pub fn set_csv(&mut self, csv: bool) {
        for i in &mut self.list {
            i.csv = csv;
        }
    }

    /// The total input size, when every input is a plain file.
    pub fn total_size(&self) -> Option<u64> {
        self.sizes
    }

    /// Take the first record of every input as its header; return the first input's.
    pub fn read_headers(&mut self, format: Format) -> Result<Option<Vec<u8>>> {
        self.set_csv(matches!(format, Format::Csv(_)));
        let mut first = None;
        for i in &mut self.list {
            if let Some(h) = i.next_record()? {
                if first.is_none() {
                    first = Some(h.to_vec());
                }
            }
        }
        Ok(first)
    }

    /// Hand the inputs over (for merging, where each is a source of its own).
    pub fn take_all(&mut self) -> Vec<Input> {
        std::mem::take(&mut self.list)
    }

    /// Call `f` on every record of every input, in order.
    pub fn for_each(
        &mut self,
        progress: &Progress,
        mut f: impl FnMut(&[u8], At) -> Result<()>,
    ) -> Result<()> {
        self.for_each_ended(progress, |rec, _, at| f(rec, at))
    }

    /// Like [`Inputs::for_each`], also telling whether the record had its terminator (only
    /// the last record of an input may lack one): for tools that must keep the bytes.
    pub fn for_each_ended(
        &mut self,
        progress: &Progress,
        mut f: impl FnMut(&[u8], bool, At) -> Result<()>,
    ) -> Result<()> {
        // The bar advances as the inputs are read (see `Counted`); `progress` names the phase.
        let _ = progress;
        for input in &mut self.list {
            loop {
                let Input {
                    name,
                    framer,
                    csv,
                    joined,
                } = input;
                // The record's (first) line, read before the framer is borrowed for it.
                let line = framer.line + 1;
                let (rec, ended) = match next_record(framer, *csv, joined, name)? {
                    Some(r) => r,
                    None => break,
                };
                let at = At { name, line };
                f(rec, ended, at)?;
            }
            self.bytes += input.framer.bytes;
        }
        Ok(())
    }

    /// Like [`Inputs::for_each`], stopping when `f` returns `false`.
    pub fn for_each_until(&mut self, mut f: impl FnMut(&[u8], At) -> Result<bool>) -> Result<()> {
        for input in &mut self.list {
            loop {
                let Input {
                    name,
                    framer,
                    csv,
                    joined,
                } = input;
                // The record's (first) line, read before the framer is borrowed for it.
                let line = framer.line + 1;
                let rec = match next_record(framer, *csv, joined, name)? {
                    Some(r) => r.0,
                    None => break,
                };
                let at = At { name, line };
                if !f(rec, at)? {
                    return Ok(());
                }
            }
            self.bytes += input.framer.bytes;
        }
        Ok(())
    }
}

/// The record's item: a TSV record is its own (no copy per record); CSV and JSON records
/// are encoded into `item`.
pub fn item_of<'a>(
    order: &RecordOrder,
    rec: &'a [u8],
    item: &'a mut Vec<u8>,
    scratch: &mut CsvScratch,
    at: &At,
) -> Result<&'a [u8]> {
    if !order.format.extracts() {
        return Ok(rec);
    }
    item.clear();
    order
        .encode(rec, item, scratch)
        .map_err(|e| Error::Runtime(format!("{at}: {e}")))?;
    Ok(item)
}

/// A sort error at a record.
pub fn sort_error(e: extsort::Error, at: &At) -> Error {
    match e {
        extsort::Error::TooLarge { len, budget } => Error::Runtime(format!(
            "{at}: a record of {len} bytes does not fit the memory budget of {budget} bytes (raise -S)"
        )),
        e => Error::from(e),
    }
}

/// An input as a sorted source for merging (`-m`).
pub struct RecordSource<'o> {
    input: Input,
    name: String,
    order: &'o RecordOrder,
    /// Bytes read by every source of a merge, for `--stats`.
    bytes: &'o std::cell::Cell<u64>,
    item: Vec<u8>,
    scratch: CsvScratch,
}

impl<'o> RecordSource<'o> {
    pub fn new(input: Input, order: &'o RecordOrder, bytes: &'o std::cell::Cell<u64>) -> Self {
        RecordSource {
            name: input.name.clone(),
            input,
            order,
            bytes,
            item: Vec::new(),
            scratch: CsvScratch::default(),
        }
    }
}

impl extsort::Source for RecordSource<'_> {
    fn advance(&mut self) -> extsort::Result<bool> {
        let line = self.input.line() + 1;
        let RecordSource {
            input,
            name,
            order,
            item,
            scratch,
            bytes,
        } = self;
        let rec = input
            .next_record()
            .map_err(|e| extsort::Error::Input(e.message().unwrap_or_default()))?;
        match rec {
            None => Ok(false),
            Some(rec) => {
                // With its terminator (one byte more for an unterminated last record).
                bytes.set(bytes.get() + rec.len() as u64 + 1);
                if order.format.extracts() {
                    item.clear();
                    order
                        .encode(rec, item, scratch)
                        .map_err(|e| extsort::Error::Input(format!("{name}:{line}: {e}")))?;
                }
                Ok(true)
            }
        }
    }

    fn current(&self) -> &[u8] {
        if self.order.format.extracts() {
            &self.item
        } else {
            self.input.last()
        }
    }
}

/// Merge the already-sorted `inputs` (read lazily) into `sink`, records first to last as
/// they are; returns the merge's counters and the bytes read (bsort -m and its batches).
pub fn merge_inputs(
    order: &RecordOrder,
    inputs: &mut Inputs,
    cfg: &extsort::Config,
    eol: u8,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(extsort::Stats, u64)> {
    let read = std::cell::Cell::new(0u64);
    let mut sources: Vec<Box<dyn extsort::Source + '_>> = Vec::new();
    for input in inputs.take_all() {
        sources.push(Box::new(RecordSource::new(input, order, &read)));
    }
    let emit = |item: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(order.record(item));
        buf.push(eol);
    };
    let merged = extsort::merge(order, sources, cfg, &emit, sink)?;
    Ok((merged, read.get()))
}

impl Input {
    /// Open one input (an unreadable one is a usage error), framing CSV records when `csv`.
    pub fn open_one(name: &str, eol: u8, max_record: usize, csv: bool) -> Result<Input> {
        let mut ins = Inputs::open(&[name.to_string()], eol, max_record)?;
        ins.set_csv(csv);
        ins.take_all()
            .pop()
            .ok_or_else(|| Error::Runtime(format!("cannot open {name}")))
    }
}

/// A side of a join (bjoin).
impl join::Source for Input {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_record(&mut self) -> join::Result<Option<&[u8]>> {
        Input::next_record(self).map_err(|e| join::Error::Input(e.message().unwrap_or_default()))
    }

    fn last(&self) -> &[u8] {
        Input::last(self)
    }

    fn line(&self) -> u64 {
        Input::line(self)
    }

    fn into_parts(self) -> (Vec<u8>, Box<dyn Read + Send>, bool) {
        Input::into_parts(self)
    }
}
