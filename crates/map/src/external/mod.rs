//! External mapping: run a command once per chunk of input, several at a time, and write
//! their outputs in input order.
//!
//! - The reader (the caller's thread) cuts the input into chunks of about `chunk_size`
//!   bytes that end on record boundaries and hands each to a free worker (a rendezvous
//!   channel, so at most `jobs + 1` chunks of input are in memory).
//! - A worker runs the command without a shell, in a process group of its own, with the
//!   chunk on its stdin (fed by a thread) and `BMAP_CHUNK`/`BMAP_CHUNK_OFFSET` in its
//!   environment; its stderr passes through to ours, and the last 2 KiB are kept for the
//!   error message. A failed attempt is re-run from the chunk's input up to `retries` times.
//! - The reorder buffer: output blocks wait in memory for their turn within `buffer`
//!   bytes; past that, a chunk's further output goes to a temporary file that is copied
//!   out when its turn comes. The chunk whose turn it is streams straight through (unless
//!   retries are on, where a chunk's output is kept until the chunk has succeeded, so that
//!   a failed attempt never reaches the output). `unordered` writes whole chunks as they
//!   finish.
//!
//! This module never prints (but for the commands' own stderr), parses flags or exits.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};

mod child;
mod output;
use child::worker;
use output::write_out;

/// Output blocks read from a command.
const BLOCK: usize = 1 << 20;
/// How much of its output the chunk whose turn it is may have waiting in memory.
const CURRENT_CAP: usize = 4 << 20;
/// The buffer size asked for the pipes to and from a command.
const PIPE_SIZE: libc::c_int = 1 << 20;
/// The tail of a command's stderr kept for messages.
const TAIL: usize = 2048;

/// How to run.
#[derive(Clone)]
pub struct Config {
    pub jobs: usize,
    pub chunk_size: usize,
    pub retries: u32,
    pub unordered: bool,
    pub eol: u8,
    /// CSV: chunks are cut only at record ends outside quoted fields.
    pub csv: bool,
    /// Count records in and out (for `--stats`; costs a pass over the data).
    pub count_records: bool,
    /// Bytes of output that may wait in memory for their turn.
    pub buffer: usize,
    /// Largest record (a chunk holds at least one whole record).
    pub max_record: usize,
    pub tmp_dir: PathBuf,
    pub cancel: Option<Arc<AtomicBool>>,
    /// Called with a temporary file's path when it is created (true) and removed (false).
    pub temp_hook: Option<fn(&Path, bool)>,
    /// Called with a command's process id (its process group) when it starts and ends.
    pub child_hook: Option<fn(u32, bool)>,
}

/// The command and its arguments.
#[derive(Clone, Debug)]
pub struct Cmd {
    pub program: OsString,
    pub args: Vec<OsString>,
}

impl Cmd {
    fn display(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

/// Why a run stopped.
#[derive(Debug)]
pub enum Error {
    /// Reading the input.
    Input(String, io::Error),
    /// Writing the output (a closed pipe among them).
    Output(io::Error),
    /// A temporary file of the reorder buffer.
    Temp(String, io::Error),
    /// The command could not be started.
    Spawn(String, io::Error),
    /// A chunk failed on every attempt.
    Chunk {
        seq: u64,
        offset: u64,
        len: u64,
        attempts: u32,
        command: String,
        status: String,
        stderr_tail: String,
    },
    /// A record longer than the limit.
    TooLong {
        offset: u64,
        limit: usize,
    },
    Interrupted,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Input(c, e) | Error::Temp(c, e) | Error::Spawn(c, e) => write!(f, "{c}: {e}"),
            Error::Output(e) => write!(f, "write error: {e}"),
            Error::Chunk {
                seq,
                offset,
                len,
                attempts,
                command,
                status,
                stderr_tail,
            } => {
                write!(
                    f,
                    "chunk {seq} (input bytes {offset}-{}, {len} bytes) failed{}: {command} {status}",
                    offset + len,
                    if *attempts > 1 {
                        format!(" {attempts} times")
                    } else {
                        String::new()
                    }
                )?;
                if !stderr_tail.is_empty() {
                    write!(f, "; its stderr ends: {stderr_tail}")?;
                }
                Ok(())
            }
            Error::TooLong { offset, limit } => write!(
                f,
                "the record at input byte {offset} is longer than the memory budget of {limit} bytes (raise -S)"
            ),
            Error::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub chunks: u64,
    pub retries: u64,
    pub records_in: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub records_out: u64,
    /// Temporary files written by the reorder buffer, and their bytes.
    pub spill_files: u64,
    pub spill_bytes: u64,
}

struct Chunk {
    seq: u64,
    offset: u64,
    data: Vec<u8>,
}

#[derive(Default)]
struct Slot {
    mem: VecDeque<Vec<u8>>,
    mem_bytes: usize,
    spill: Option<PathBuf>,
    done: bool,
}

#[derive(Default)]
struct State {
    /// The chunk whose output is written next (ordered mode).
    current: u64,
    /// Chunks in flight or waiting to be written.
    slots: HashMap<u64, Slot>,
    mem_total: usize,
    /// The number of chunks, once the input has ended.
    total: Option<u64>,
    error: Option<Error>,
    /// Process groups running.
    running: Vec<u32>,
    /// Output blocks and chunk buffers to reuse (fresh memory costs a page fault per page).
    blocks: Vec<Vec<u8>>,
    chunk_bufs: Vec<Vec<u8>>,
    stats: Stats,
}

struct Shared<'c> {
    cfg: &'c Config,
    cmd: &'c Cmd,
    state: Mutex<State>,
    cv: Condvar,
    /// Chunks stream to the output as they are made (ordered, no retries).
    stream: bool,
}

impl Shared<'_> {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'g>(&self, g: MutexGuard<'g, State>) -> MutexGuard<'g, State> {
        self.cv.wait(g).unwrap_or_else(|p| p.into_inner())
    }

    fn cancelled(&self) -> bool {
        self.cfg
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Record the first error, stop every running command.
    fn fail(&self, e: Error) {
        let mut st = self.lock();
        if st.error.is_none() {
            st.error = Some(e);
        }
        for &pid in &st.running {
            // SAFETY: kill(2) on a process group we started and have not reaped (pids leave
            // `running`, under this lock, before they are reaped).
            unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
        }
        drop(st);
        self.cv.notify_all();
    }

    /// An output block of `BLOCK` bytes.
    fn block(&self) -> Vec<u8> {
        let mut b = self.lock().blocks.pop().unwrap_or_default();
        b.resize(BLOCK, 0);
        b
    }

    /// An empty chunk buffer with room for `cap` bytes.
    fn chunk_buf(&self, cap: usize) -> Vec<u8> {
        let mut b = self.lock().chunk_bufs.pop().unwrap_or_default();
        b.clear();
        b.reserve(cap);
        b
    }

    fn recycle_chunk(&self, b: Vec<u8>) {
        let mut st = self.lock();
        if st.chunk_bufs.len() < self.cfg.jobs + 2 {
            st.chunk_bufs.push(b);
        }
    }

    fn failed(&self) -> bool {
        self.lock().error.is_some()
    }

    fn new_spill(&self) -> Result<(File, PathBuf), Error> {
        let ctx = || {
            format!(
                "cannot create a temporary file in {}",
                self.cfg.tmp_dir.display()
            )
        };
        let t = tempfile::Builder::new()
            .prefix(".bmap-reorder.")
            .tempfile_in(&self.cfg.tmp_dir)
            .map_err(|e| Error::Temp(ctx(), e))?;
        let (f, p) = t.keep().map_err(|e| Error::Temp(ctx(), e.error))?;
        if let Some(h) = self.cfg.temp_hook {
            h(&p, true);
        }
        Ok((f, p))
    }

    fn remove_spill(&self, p: &Path) {
        let _ = std::fs::remove_file(p);
        if let Some(h) = self.cfg.temp_hook {
            h(p, false);
        }
    }
}

/// A worker's output for one attempt at one chunk.
struct Sink<'s, 'c> {
    sh: &'s Shared<'c>,
    seq: u64,
    spill: Option<(io::BufWriter<File>, PathBuf)>,
}

struct Stop;

impl Sink<'_, '_> {
    fn put(&mut self, mut block: Vec<u8>) -> Result<(), Stop> {
        if let Some((f, p)) = &mut self.spill {
            return match f.write_all(&block) {
                Ok(()) => {
                    self.sh.lock().stats.spill_bytes += block.len() as u64;
                    Ok(())
                }
                Err(e) => {
                    let msg = format!("cannot write the temporary file {}", p.display());
                    self.sh.fail(Error::Temp(msg, e));
                    Err(Stop)
                }
            };
        }
        let sh = self.sh;
        let mut st = sh.lock();
        loop {
            if st.error.is_some() {
                return Err(Stop);
            }
            let current = st.current == self.seq;
            let total = st.mem_total;
            let Some(slot) = st.slots.get_mut(&self.seq) else {
                return Err(Stop);
            };
            if sh.stream && current {
                if slot.mem_bytes < CURRENT_CAP {
                    let n = block.len();
                    slot.mem_bytes += n;
                    slot.mem.push_back(std::mem::take(&mut block));
                    st.mem_total += n;
                    drop(st);
                    sh.cv.notify_all();
                    return Ok(());
                }
                st = sh.wait(st);
                continue;
            }
            if total + block.len() <= sh.cfg.buffer {
                slot.mem_bytes += block.len();
                let n = block.len();
                slot.mem.push_back(block);
                st.mem_total += n;
                drop(st);
                sh.cv.notify_all();
                return Ok(());
            }
            break;
        }
        drop(st);
        let (f, p) = match sh.new_spill() {
            Ok(x) => x,
            Err(e) => {
                sh.fail(e);
                return Err(Stop);
            }
        };
        sh.lock().stats.spill_files += 1;
        self.spill = Some((io::BufWriter::with_capacity(BLOCK, f), p));
        self.put(block)
    }

    /// The attempt succeeded: the chunk's output is complete.
    fn finish(mut self) -> Result<(), Stop> {
        let path = match self.spill.take() {
            Some((f, p)) => match f.into_inner().map_err(|e| e.into_error()) {
                Ok(_) => Some(p),
                Err(e) => {
                    self.sh.fail(Error::Temp(
                        format!("cannot write the temporary file {}", p.display()),
                        e,
                    ));
                    self.sh.remove_spill(&p);
                    return Err(Stop);
                }
            },
            None => None,
        };
        let mut st = self.sh.lock();
        if let Some(slot) = st.slots.get_mut(&self.seq) {
            slot.spill = path;
            slot.done = true;
        }
        drop(st);
        self.sh.cv.notify_all();
        Ok(())
    }

    /// The attempt failed: forget its output.
    fn discard(mut self) {
        if let Some((_, p)) = self.spill.take() {
            self.sh.remove_spill(&p);
        }
        let mut st = self.sh.lock();
        let mut freed = 0;
        if let Some(slot) = st.slots.get_mut(&self.seq) {
            freed = slot.mem_bytes;
            slot.mem.clear();
            slot.mem_bytes = 0;
        }
        st.mem_total -= freed;
        drop(st);
        self.sh.cv.notify_all();
    }
}

impl Drop for Sink<'_, '_> {
    fn drop(&mut self) {
        if let Some((_, p)) = self.spill.take() {
            self.sh.remove_spill(&p);
        }
    }
}

/// Run `cmd` over `inputs` (read in order, as one stream) and write to `out`.
pub fn run(
    cfg: &Config,
    cmd: &Cmd,
    inputs: Vec<(String, Box<dyn Read + Send>)>,
    out: &mut (dyn Write + Send),
) -> Result<Stats, Error> {
    let sh = Shared {
        cfg,
        cmd,
        state: Mutex::new(State::default()),
        cv: Condvar::new(),
        stream: cfg.retries == 0 && !cfg.unordered,
    };
    let (tx, rx) = mpsc::sync_channel::<Chunk>(0);
    let rx = Mutex::new(rx);
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1) {
            s.spawn(|| worker(&sh, &rx));
        }
        let writer = s.spawn(|| {
            if let Err(e) = write_out(&sh, out) {
                sh.fail(e);
            }
        });
        let r = read_chunks(&sh, inputs, &tx);
        drop(tx);
        if let Err(e) = r {
            sh.fail(e);
        }
        let _ = writer.join();
    });
    let mut st = sh.lock();
    // Whatever never reached the output.
    let leftovers: Vec<PathBuf> = st
        .slots
        .values_mut()
        .filter_map(|s| s.spill.take())
        .collect();
    let err = st.error.take();
    let stats = st.stats.clone();
    drop(st);
    for p in leftovers {
        sh.remove_spill(&p);
    }
    match err {
        Some(e) => Err(e),
        None if sh.cancelled() => Err(Error::Interrupted),
        None => Ok(stats),
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            x => return x,
        }
    }
}

/// Cut the inputs into chunks and hand them to the workers.
fn read_chunks(
    sh: &Shared,
    inputs: Vec<(String, Box<dyn Read + Send>)>,
    tx: &mpsc::SyncSender<Chunk>,
) -> Result<(), Error> {
    let cfg = sh.cfg;
    let eol = cfg.eol;
    let size = cfg.chunk_size.max(1);
    let read_block = size.clamp(4 << 10, 1 << 20);
    let mut buf: Vec<u8> = Vec::with_capacity(size + read_block);
    let mut offset = 0u64;
    let mut seq = 0u64;
    let n_inputs = inputs.len();
    let send = |data: Vec<u8>, seq: &mut u64, offset: &mut u64| -> Result<bool, Error> {
        let len = data.len() as u64;
        let records = if cfg.count_records {
            let mut ends = record::cut::Ends::new(eol, cfg.csv);
            let n = ends.count(&data);
            n + u64::from(data.last() != Some(&eol) || ends.in_quotes())
        } else {
            0
        };
        {
            let mut st = sh.lock();
            if st.error.is_some() {
                return Ok(false);
            }
            st.slots.insert(*seq, Slot::default());
            st.stats.chunks += 1;
            st.stats.bytes_in += len;
            st.stats.records_in += records;
        }
        sh.cv.notify_all();
        let c = Chunk {
            seq: *seq,
            offset: *offset,
            data,
        };
        *seq += 1;
        *offset += len;
        Ok(tx.send(c).is_ok())
    };
    let mut go = true;
    for (i, (name, mut r)) in inputs.into_iter().enumerate() {
        while go {
            if sh.cancelled() {
                return Err(Error::Interrupted);
            }
            let at = buf.len();
            buf.resize(at + read_block, 0);
            let n = match read_full(&mut *r, &mut buf[at..]) {
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(at);
                    return Err(Error::Input(format!("{name}: read error"), e));
                }
            };
            buf.truncate(at + n);
            if n == 0 {
                break;
            }
            // Cut chunks of at most `size` bytes at their last record end (a record longer
            // than `size` makes a chunk of its own).
            while go && buf.len() >= size {
                let cut = match record::cut::last_end_within(&buf, size, eol, cfg.csv) {
                    Some(c) => c,
                    None if buf.len() > cfg.max_record => {
                        return Err(Error::TooLong {
                            offset,
                            limit: cfg.max_record,
                        })
                    }
                    None => break,
                };
                let mut next = sh.chunk_buf(size.max(buf.len() - cut) + read_block);
                next.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                let chunk = std::mem::replace(&mut buf, next);
                go = send(chunk, &mut seq, &mut offset)?;
            }
        }
        // A last record without a terminator is still a record: end it before the next input.
        if go && i + 1 < n_inputs && !buf.is_empty() && buf.last() != Some(&eol) {
            buf.push(eol);
        }
    }
    if go && !buf.is_empty() {
        send(buf, &mut seq, &mut offset)?;
    }
    sh.lock().total = Some(seq);
    sh.cv.notify_all();
    Ok(())
}

/// Whether `program` can be run: a path that exists, or a name found in PATH.
pub fn findable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let ok = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|md| md.is_file() && md.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return ok(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| ok(&d.join(program))))
}
