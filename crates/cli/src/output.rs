//! Where results go: standard output, or a file.
//!
//! `-o PATH`, by what PATH is (as GNU sort does):
//! - a regular file or a new path: written to a temporary file in PATH's directory, renamed
//!   into place only in [`Output::commit`]; dropping an uncommitted output removes the
//!   temporary, so an error or a signal never leaves a partial file at PATH. PATH may be one
//!   of the inputs.
//! - a symbolic link: followed (to the end of the chain); its target is replaced as above,
//!   in the target's directory, and the link stays.
//! - a FIFO, a character device or any other file that is not regular: opened and written
//!   directly, with no temporary.
//!
//! A PATH ending in `.gz` or `.zst` is compressed (gzip, zstd), as inputs with those
//! extensions are decompressed; [`Output::commit`] then returns the compressed size.
//! A PATH ending in `.parquet` gets the TSV text in its temporary first; [`Output::commit`]
//! converts it into a second temporary (crates/parquet: types inferred from the whole text)
//! and renames that into place, so PATH never holds half a Parquet file.
//! Temporaries are named `.TOOL.PID-STARTTIME-XXXXXX.tmp`; opening an output removes those
//! of owners that are no longer running (a SIGKILLed run) and says so on stderr.

use crate::cleanup;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

const BUF: usize = 1 << 20;

/// The tools whose temporaries may sit beside an output.
const TOOLS: [&str; 6] = ["bsort", "bmap", "bshuffle", "bsplit", "breduce", "bjoin"];

enum Target {
    Stdout(Threaded<RawStdout>),
    File {
        w: Threaded<Sink>,
        /// The temporary, or `None` when writing directly (a FIFO, a device).
        tmp: Option<PathBuf>,
        /// Where the temporary goes (a symlink's target).
        path: PathBuf,
        /// As given, for messages.
        shown: PathBuf,
        committed: bool,
        /// Converted to Parquet at commit.
        parquet: bool,
    },
}

/// A buffered output that counts the bytes written.
pub struct Output {
    target: Target,
    pub bytes: u64,
}

/// File descriptor 1, written directly (no line buffering as in `std::io::Stdout`).
struct RawStdout(ManuallyDrop<File>);

impl Write for RawStdout {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.0).write(buf)?;
        crate::stats::count_written(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn stdout_file() -> RawStdout {
    use std::os::unix::io::FromRawFd;
    // SAFETY: fd 1 is open for the whole process; ManuallyDrop keeps it from being closed.
    RawStdout(ManuallyDrop::new(unsafe { File::from_raw_fd(1) }))
}

/// A file that counts what reaches it.
struct Counting {
    f: File,
    n: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.f.write(buf)?;
        self.n += n as u64;
        crate::stats::count_written(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.f.flush()
    }
}

/// The file, compressed or not.
enum Sink {
    Plain(Counting),
    Gzip(flate2::write::GzEncoder<Counting>),
    Zstd(zstd::stream::write::Encoder<'static, Counting>),
}

impl Sink {
    fn new(f: File, path: &Path) -> io::Result<Sink> {
        let c = Counting { f, n: 0 };
        let name = path.as_os_str().as_encoded_bytes();
        Ok(if name.ends_with(b".gz") {
            Sink::Gzip(flate2::write::GzEncoder::new(
                c,
                flate2::Compression::default(),
            ))
        } else if name.ends_with(b".zst") {
            Sink::Zstd(zstd::stream::write::Encoder::new(c, 3)?)
        } else {
            Sink::Plain(c)
        })
    }

    /// End the stream; the file and the bytes that reached it.
    fn finish(self) -> io::Result<Counting> {
        match self {
            Sink::Plain(c) => Ok(c),
            Sink::Gzip(g) => g.finish(),
            Sink::Zstd(z) => z.finish(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(c) => c.write(buf),
            Sink::Gzip(g) => g.write(buf),
            Sink::Zstd(z) => z.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(c) => c.write_all(buf),
            Sink::Gzip(g) => g.write_all(buf),
            Sink::Zstd(z) => z.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        // A compressed stream is ended by finish, not flushed block by block.
        match self {
            Sink::Plain(c) => c.flush(),
            _ => Ok(()),
        }
    }
}

/// What `-o PATH` is: where a temporary goes (regular or new, after following symlinks),
/// or a file to write directly.
enum Resolved {
    Replace(PathBuf),
    Direct(PathBuf),
}

/// Follow symlinks from `path` (at most 40, as the kernel does).
fn resolve(path: &Path) -> io::Result<Resolved> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Resolved::Replace(p)),
            Err(e) => return Err(e),
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = if to.is_absolute() {
                    to
                } else {
                    dir_of(&p).join(to)
                };
            }
            Ok(m) if m.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a directory",
                ))
            }
            Ok(m) if m.is_file() => return Ok(Resolved::Replace(p)),
            Ok(_) => return Ok(Resolved::Direct(p)),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

fn dir_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Output {
    /// Standard output, or a file when `path` is given and is not `-` (see the module's
    /// documentation for what a file may be).
    pub fn open(tool: &str, path: Option<&Path>) -> Result<Output> {
        match path {
            None => Ok(Self::stdout()),
            Some(p) if p == Path::new("-") => Ok(Self::stdout()),
            Some(p) => Self::file(tool, p),
        }
    }

    pub fn stdout() -> Output {
        Output {
            target: Target::Stdout(Threaded::new(stdout_file())),
            bytes: 0,
        }
    }

    fn file(tool: &str, path: &Path) -> Result<Output> {
        let shown = path.display();
        let resolved = resolve(path).map_err(|e| match e.kind() {
            io::ErrorKind::IsADirectory => Error::Runtime(format!("{shown}: is a directory")),
            _ => Error::io(format!("cannot write {shown}"), e),
        })?;
        let parquet = path.as_os_str().as_encoded_bytes().ends_with(b".parquet");
        let (file, tmp, target) = match resolved {
            Resolved::Direct(_) if parquet => {
                return Err(Error::Runtime(format!(
                    "{shown}: Parquet is written to regular files only"
                )))
            }
            Resolved::Direct(p) => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&p)
                    .map_err(|e| Error::io(format!("cannot write {shown}"), e))?;
                (f, None, p)
            }
            Resolved::Replace(p) => {
                let dir = dir_of(&p);
                let prefixes = TOOLS.map(|t| format!(".{t}."));
                let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
                cleanup::sweep_any(&dir, &prefixes, ".tmp");
                let (file, tmp_path) = cleanup::create_registered(|| {
                    let tmp = tempfile::Builder::new()
                        .prefix(&format!(".{tool}.{}-", cleanup::owner_tag()))
                        .suffix(".tmp")
                        .tempfile_in(&dir)?;
                    let (file, tmp_path) = tmp.keep().map_err(|e| e.error)?;
                    Ok(((file, tmp_path.clone()), tmp_path))
                })
                .map_err(|e| Error::io(format!("cannot create {shown}"), e))?;
                (file, Some(tmp_path), p)
            }
        };
        let sink =
            Sink::new(file, path).map_err(|e| Error::io(format!("cannot write {shown}"), e))?;
        Ok(Output {
            target: Target::File {
                w: Threaded::new(sink),
                tmp,
                path: target,
                shown: path.to_path_buf(),
                committed: false,
                parquet,
            },
            bytes: 0,
        })
    }

    /// Flush and, for a file, move it into place. Returns the bytes written: for a
    /// compressed file, its compressed size.
    pub fn commit(mut self) -> Result<u64> {
        match &mut self.target {
            Target::Stdout(w) => {
                w.finish().map_err(|e| Error::io("write error", e))?;
                Ok(self.bytes)
            }
            Target::File {
                w,
                tmp,
                path,
                shown,
                committed,
                parquet,
            } => {
                let ctx = || format!("cannot write {}", shown.display());
                let mut c = w
                    .finish()
                    .and_then(Sink::finish)
                    .map_err(|e| Error::io(ctx(), e))?;
                if let (true, Some(text)) = (*parquet, tmp.as_ref()) {
                    c = to_parquet(text, path, shown)?;
                }
                if let Some(tmp) = tmp {
                    set_permissions(&c.f, path).map_err(|e| Error::io(ctx(), e))?;
                    std::fs::rename(&*tmp, &*path).map_err(|e| Error::io(ctx(), e))?;
                    cleanup::unregister(tmp);
                }
                *committed = true;
                cleanup::mark_committed();
                Ok(c.n)
            }
        }
    }
}

/// Convert the TSV text at `text` into a Parquet temporary beside `path`; the text is
/// removed, and the Parquet temporary takes its place (for commit to rename).
fn to_parquet(text: &Path, path: &Path, shown: &Path) -> Result<Counting> {
    let ctx = || format!("cannot write {}", shown.display());
    let dir = dir_of(path);
    let (file, pq) = cleanup::create_registered(|| {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(
                ".{}.{}-",
                crate::tool_name(),
                cleanup::owner_tag()
            ))
            .suffix(".tmp")
            .tempfile_in(&dir)?;
        let (file, p) = tmp.keep().map_err(|e| e.error)?;
        Ok(((file, p.clone()), p))
    })
    .map_err(|e| Error::io(ctx(), e))?;
    // What the tool held while it ran (its threads' malloc arenas) is free by now but still
    // resident: give it back first, so the peak is the larger phase's, not the two summed.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    let done = bkparquet::convert_tsv(text, io::BufWriter::with_capacity(BUF, &file))
        .map_err(|e| Error::Runtime(format!("{}: {e}", shown.display())));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&pq);
        cleanup::unregister(&pq);
        return Err(e);
    }
    // The Parquet file takes the text's name, so commit's rename and Drop's cleanup apply.
    std::fs::rename(&pq, text).map_err(|e| Error::io(ctx(), e))?;
    cleanup::unregister(&pq);
    let n = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(Counting { f: file, n })
}

/// New files get 0666 less the umask (as the shell's `>` would); a replaced file keeps its mode.
fn set_permissions(f: &File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => 0o666 & !umask(),
    };
    f.set_permissions(std::fs::Permissions::from_mode(mode))
}

fn umask() -> u32 {
    // The umask can only be read by setting it; put it straight back. This runs once per
    // output, on one thread, before any other file of ours is created with it.
    // SAFETY: umask has no memory-safety preconditions.
    let m = unsafe { libc::umask(0o022) };
    // SAFETY: as above.
    unsafe { libc::umask(m) };
    m as u32
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Target::File {
            tmp: Some(tmp),
            committed: false,
            ..
        } = &self.target
        {
            let _ = std::fs::remove_file(tmp);
            cleanup::unregister(tmp);
        }
    }
}

impl Write for Output {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.target {
            Target::Stdout(w) => w.write_all(buf)?,
            Target::File { w, .. } => w.write_all(buf)?,
        }
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Blocks of output written by a thread of their own, so that the tool's thread goes on
/// producing while the kernel copies (a pipe or the page cache). Two blocks in flight.
struct Threaded<W: Write + Send + 'static> {
    cur: Vec<u8>,
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    free: mpsc::Receiver<Vec<u8>>,
    handle: Option<std::thread::JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> Threaded<W> {
    fn new(mut w: W) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(2);
        let (back, free) = mpsc::sync_channel::<Vec<u8>>(3);
        let handle = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || {
                for mut block in rx {
                    w.write_all(&block)?;
                    block.clear();
                    let _ = back.try_send(block);
                }
                w.flush()?;
                Ok(w)
            });
        match handle {
            Ok(h) => Threaded {
                cur: Vec::with_capacity(BUF),
                tx: Some(tx),
                free,
                handle: Some(h),
            },
            // No thread to be had: an unbounded block would break the memory budget, so
            // fail on first write instead.
            Err(e) => {
                let msg = e.to_string();
                let (_, free) = mpsc::sync_channel(1);
                Threaded {
                    cur: Vec::new(),
                    tx: None,
                    free,
                    handle: Some(std::thread::spawn(move || Err(io::Error::other(msg)))),
                }
            }
        }
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.cur.extend_from_slice(buf);
        if self.cur.len() >= BUF {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUF));
        let block = std::mem::replace(&mut self.cur, next);
        let sent = match &self.tx {
            Some(tx) => tx.send(block).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped: its error says why.
            self.tx = None;
            match self.join() {
                Err(e) => Err(e),
                Ok(_) => Err(io::Error::other("the output writer stopped")),
            }
        }
    }

    fn join(&mut self) -> io::Result<W> {
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the output writer failed"))),
            None => Err(io::Error::other("the output writer already stopped")),
        }
    }

    /// Write what is left and wait for the writer; returns the underlying writer.
    fn finish(&mut self) -> io::Result<W> {
        if !self.cur.is_empty() {
            self.send()?;
        }
        self.tx = None;
        self.join()
    }
}
