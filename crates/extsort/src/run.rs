//! Temporary run files: `len:u32le item` records, optionally zstd-compressed.

use crate::source::Source;
use crate::{Error, Order, Prefix, Result};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;

/// Buffer of one run reader; with the merge fan-in it bounds the merge's memory.
const READ_BUF: usize = 128 << 10;
const WRITE_BUF: usize = 1 << 20;

/// A finished run on disk.
pub(crate) struct Run {
    path: PathBuf,
    pub bytes: u64,
    compressed: bool,
}

impl Run {
    /// Delete the file; a failure only leaves it for the directory's removal.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

/// Writes one run.
pub(crate) struct RunWriter {
    path: PathBuf,
    sink: Sink,
    compressed: bool,
}

impl RunWriter {
    pub fn create(path: PathBuf, compress: bool) -> Result<RunWriter> {
        let f = File::create(&path).map_err(|e| {
            Error::io(
                format!("cannot create temporary file {}", path.display()),
                e,
            )
        })?;
        let w = BufWriter::with_capacity(WRITE_BUF, f);
        let sink = if compress {
            Sink::Zstd(
                zstd::stream::write::Encoder::new(w, 1)
                    .map_err(|e| Error::io("cannot start compressing a temporary file", e))?,
            )
        } else {
            Sink::Plain(w)
        };
        Ok(RunWriter {
            path,
            sink,
            compressed: compress,
        })
    }

    /// Append one item.
    #[inline]
    pub fn write_io(&mut self, item: &[u8]) -> io::Result<()> {
        let len = (item.len() as u32).to_le_bytes();
        match &mut self.sink {
            Sink::Plain(w) => {
                w.write_all(&len)?;
                w.write_all(item)
            }
            Sink::Zstd(w) => {
                w.write_all(&len)?;
                w.write_all(item)
            }
        }
    }

    #[inline]
    pub fn write(&mut self, item: &[u8]) -> Result<()> {
        self.write_io(item).map_err(|e| self.err(e))
    }

    fn err(&self, e: io::Error) -> Error {
        Error::io(
            format!("cannot write temporary file {}", self.path.display()),
            e,
        )
    }

    /// Flush and close; the run is then ready to be read.
    pub fn finish(self) -> Result<Run> {
        let file = match self.sink {
            Sink::Plain(w) => w.into_inner().map_err(|e| e.into_error()),
            Sink::Zstd(w) => w
                .finish()
                .and_then(|w| w.into_inner().map_err(|e| e.into_error())),
        };
        let file = file.map_err(|e| {
            Error::io(
                format!("cannot write temporary file {}", self.path.display()),
                e,
            )
        })?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Run {
            path: self.path,
            bytes,
            compressed: self.compressed,
        })
    }
}

/// Reads a run back, one item at a time.
pub(crate) struct RunReader {
    path: PathBuf,
    r: Box<dyn Read + Send>,
    item: Vec<u8>,
}

impl RunReader {
    pub fn open(run: &Run) -> Result<RunReader> {
        let f = File::open(&run.path).map_err(|e| {
            Error::io(
                format!("cannot open temporary file {}", run.path.display()),
                e,
            )
        })?;
        let r: Box<dyn Read + Send> = if run.compressed {
            Box::new(
                zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(READ_BUF, f))
                    .map_err(|e| Error::io("cannot start decompressing a temporary file", e))?,
            )
        } else {
            Box::new(BufReader::with_capacity(READ_BUF, f))
        };
        Ok(RunReader {
            path: run.path.clone(),
            r,
            item: Vec::new(),
        })
    }
}

impl Source for RunReader {
    fn advance(&mut self) -> Result<bool> {
        let mut len = [0u8; 4];
        // A clean end is the end of the file at an item boundary.
        let mut got = 0;
        while got < 4 {
            match self.r.read(&mut len[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => {
                    return Err(Error::io(
                        format!("temporary file {} is truncated", self.path.display()),
                        io::ErrorKind::UnexpectedEof.into(),
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot read temporary file {}", self.path.display()),
                        e,
                    ))
                }
            }
        }
        let n = u32::from_le_bytes(len) as usize;
        self.item.resize(n, 0);
        self.r.read_exact(&mut self.item).map_err(|e| {
            Error::io(
                format!("cannot read temporary file {}", self.path.display()),
                e,
            )
        })?;
        Ok(true)
    }

    #[inline]
    fn current(&self) -> &[u8] {
        &self.item
    }
}

/// A block of parsed items: their bytes and (prefix, offset, length) for each.
#[derive(Default)]
struct Block {
    data: Vec<u8>,
    items: Vec<(Prefix, u32, u32)>,
}

/// Bytes, and items, per block handed from a run's reader thread to the merge: small,
/// since the merge may read 64 runs at once within the memory budget's small constant.
const BLOCK: usize = 32 << 10;
const BLOCK_ITEMS: usize = 1024;

/// A run read ahead by a thread of its own, which also computes the prefixes: the merge
/// thread is left with comparing and copying. Memory: three blocks per run.
pub(crate) struct AsyncRun {
    rx: mpsc::Receiver<Result<Block>>,
    recycle: mpsc::SyncSender<Block>,
    cur: Block,
    /// Index of the next item in `cur`.
    next: usize,
}

impl AsyncRun {
    pub fn start<'scope, 'env, O: Order + ?Sized>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        mut reader: RunReader,
        order: &'env O,
    ) -> Result<AsyncRun> {
        let (tx, rx) = mpsc::sync_channel::<Result<Block>>(1);
        let (recycle, spare) = mpsc::sync_channel::<Block>(1);
        std::thread::Builder::new()
            .name("run-reader".into())
            .spawn_scoped(scope, move || loop {
                let mut block = spare.try_recv().unwrap_or_default();
                block.data.clear();
                block.items.clear();
                let mut end = false;
                while block.data.len() < BLOCK && block.items.len() < BLOCK_ITEMS {
                    match reader.advance() {
                        Ok(true) => {
                            let item = reader.current();
                            let off = block.data.len() as u32;
                            block.data.extend_from_slice(item);
                            block
                                .items
                                .push((order.prefix(item), off, item.len() as u32));
                        }
                        Ok(false) => {
                            end = true;
                            break;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                if (!block.items.is_empty() && tx.send(Ok(block)).is_err()) || end {
                    return;
                }
            })
            .map_err(|e| Error::io("cannot start a run reader thread", e))?;
        Ok(AsyncRun {
            rx,
            recycle,
            cur: Block::default(),
            next: 0,
        })
    }
}

impl Source for AsyncRun {
    #[inline]
    fn advance(&mut self) -> Result<bool> {
        if self.next < self.cur.items.len() {
            self.next += 1;
            return Ok(self.next <= self.cur.items.len());
        }
        loop {
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    let old = std::mem::replace(&mut self.cur, block);
                    let _ = self.recycle.try_send(old);
                    self.next = 0;
                    if !self.cur.items.is_empty() {
                        self.next = 1;
                        return Ok(true);
                    }
                }
                Ok(Err(e)) => return Err(e),
                // The reader thread is done: the end of the run.
                Err(_) => return Ok(false),
            }
        }
    }

    #[inline]
    fn current(&self) -> &[u8] {
        match self.cur.items.get(self.next.wrapping_sub(1)) {
            Some(&(_, off, len)) => &self.cur.data[off as usize..(off + len) as usize],
            None => &[],
        }
    }

    #[inline]
    fn prefix(&self) -> Option<Prefix> {
        self.cur.items.get(self.next.wrapping_sub(1)).map(|i| i.0)
    }
}
