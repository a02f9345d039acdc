//! Where results go: standard output, or a file written atomically.
//!
//! `-o PATH` writes a temporary file in PATH's directory and renames it into place only in
//! [`Output::commit`]; dropping an uncommitted output removes the temporary, so an error or
//! a signal never leaves a partial file at PATH. PATH may be one of the inputs.

use crate::cleanup;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

const BUF: usize = 1 << 20;

enum Target {
    Stdout(Threaded<RawStdout>),
    File {
        w: Threaded<File>,
        tmp: PathBuf,
        path: PathBuf,
        committed: bool,
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
        (&*self.0).write(buf)
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

impl Output {
    /// Standard output, or an atomic file when `path` is given and is not `-`.
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
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if path.is_dir() {
            return Err(Error::Runtime(format!(
                "{}: is a directory",
                path.display()
            )));
        }
        let (file, tmp_path) = cleanup::create_registered(|| {
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".{tool}."))
                .suffix(".tmp")
                .tempfile_in(&dir)?;
            let (file, tmp_path) = tmp.keep().map_err(|e| e.error)?;
            Ok(((file, tmp_path.clone()), tmp_path))
        })
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        Ok(Output {
            target: Target::File {
                w: Threaded::new(file),
                tmp: tmp_path,
                path: path.to_path_buf(),
                committed: false,
            },
            bytes: 0,
        })
    }

    /// Flush and, for a file, move it into place.
    pub fn commit(mut self) -> Result<u64> {
        match &mut self.target {
            Target::Stdout(w) => {
                w.finish().map_err(|e| Error::io("write error", e))?;
            }
            Target::File {
                w,
                tmp,
                path,
                committed,
            } => {
                let ctx = || format!("cannot write {}", path.display());
                let f = w.finish().map_err(|e| Error::io(ctx(), e))?;
                set_permissions(&f, path).map_err(|e| Error::io(ctx(), e))?;
                std::fs::rename(&*tmp, &*path).map_err(|e| Error::io(ctx(), e))?;
                cleanup::unregister(tmp);
                *committed = true;
            }
        }
        Ok(self.bytes)
    }
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
        if let Target::File { tmp, committed, .. } = &self.target {
            if !*committed {
                let _ = std::fs::remove_file(tmp);
                cleanup::unregister(tmp);
            }
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
