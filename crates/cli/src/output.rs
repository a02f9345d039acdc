//! Where results go: standard output, or a file written atomically.
//!
//! `-o PATH` writes a temporary file in PATH's directory and renames it into place only in
//! [`Output::commit`]; dropping an uncommitted output removes the temporary, so an error or
//! a signal never leaves a partial file at PATH. PATH may be one of the inputs.

use crate::cleanup;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

const BUF: usize = 1 << 20;

enum Target {
    Stdout(BufWriter<RawStdout>),
    File {
        w: BufWriter<File>,
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
            target: Target::Stdout(BufWriter::with_capacity(BUF, stdout_file())),
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
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{tool}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        let (file, tmp_path) = tmp
            .keep()
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e.error))?;
        cleanup::register(&tmp_path);
        Ok(Output {
            target: Target::File {
                w: BufWriter::with_capacity(BUF, file),
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
            Target::Stdout(w) => w.flush().map_err(|e| Error::io("write error", e))?,
            Target::File {
                w,
                tmp,
                path,
                committed,
            } => {
                let ctx = || format!("cannot write {}", path.display());
                w.flush().map_err(|e| Error::io(ctx(), e))?;
                let f = w.get_ref();
                set_permissions(f, path).map_err(|e| Error::io(ctx(), e))?;
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
        let n = match &mut self.target {
            Target::Stdout(w) => w.write(buf)?,
            Target::File { w, .. } => w.write(buf)?,
        };
        self.bytes += n as u64;
        Ok(n)
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
        match &mut self.target {
            Target::Stdout(w) => w.flush(),
            Target::File { w, .. } => w.flush(),
        }
    }
}
