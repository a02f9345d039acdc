//! Removal of temporary files and partial outputs on SIGINT/SIGTERM.
//!
//! Every temporary directory and staged output registers its path here while it exists. A
//! signal thread (signal-hook) sets the cancel flag, removes every registered path and exits
//! with 128 + the signal number, so a tool blocked in a read is cleaned up as promptly as one
//! in a loop. Normal error paths clean up by dropping their guards; this is for signals.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signal that asked this process to stop, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}
use std::sync::{Arc, Mutex, OnceLock};

fn registry() -> &'static Mutex<Vec<PathBuf>> {
    static R: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// The flag long loops check to stop early.
pub fn cancel_flag() -> Arc<AtomicBool> {
    static F: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    Arc::clone(F.get_or_init(|| Arc::new(AtomicBool::new(false))))
}

/// Create something with `create` and register the path it returns, as one step that a
/// signal cannot cut in two: the signal thread holds the registry from the moment it acts
/// until the process exits, so a creation either finishes and is registered before (and is
/// removed) or never starts.
pub fn create_registered<T>(
    create: impl FnOnce() -> std::io::Result<(T, PathBuf)>,
) -> std::io::Result<T> {
    let mut r = registry()
        .lock()
        .map_err(|_| std::io::Error::other("the cleanup registry is unusable"))?;
    let (t, path) = create()?;
    r.push(path);
    Ok(t)
}

/// Remember `path` for removal on a signal.
pub fn register(path: &Path) {
    if let Ok(mut r) = registry().lock() {
        r.push(path.to_path_buf());
    }
}

/// Forget `path` (it was removed or committed).
pub fn unregister(path: &Path) {
    if let Ok(mut r) = registry().lock() {
        if let Some(i) = r.iter().rposition(|p| p == path) {
            r.swap_remove(i);
        }
    }
}

/// The hook extsort calls for its temporary directories.
pub fn temp_hook(path: &Path, created: bool) {
    if created {
        register(path)
    } else {
        unregister(path)
    }
}

fn children() -> &'static Mutex<Vec<u32>> {
    static C: OnceLock<Mutex<Vec<u32>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remember a child process that leads its own process group (bmap's commands), to be
/// sent SIGTERM on a signal; forget it (`false`) before it is reaped.
pub fn child_hook(pid: u32, running: bool) {
    if let Ok(mut c) = children().lock() {
        if running {
            c.push(pid);
        } else if let Some(i) = c.iter().position(|&p| p == pid) {
            c.swap_remove(i);
        }
    }
}

/// Send SIGTERM to every registered child's process group.
pub fn kill_children() {
    if let Ok(c) = children().lock() {
        for &pid in c.iter() {
            // SAFETY: kill(2) on a process group we started and have not reaped yet.
            unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
        }
    }
}

/// Remove everything registered.
pub fn remove_all() {
    let paths = match registry().lock() {
        Ok(mut r) => std::mem::take(&mut *r),
        Err(_) => return,
    };
    for p in paths {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Start the signal thread. Idempotent.
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let flag = cancel_flag();
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    // Held until exit: no temporary can be created and registered behind
                    // our back (see create_registered).
                    let held = registry().lock();
                    RECEIVED.store(sig, Ordering::SeqCst);
                    flag.store(true, Ordering::SeqCst);
                    kill_children();
                    if let Ok(mut paths) = held {
                        for p in paths.drain(..) {
                            if p.is_dir() {
                                let _ = std::fs::remove_dir_all(&p);
                            } else {
                                let _ = std::fs::remove_file(&p);
                            }
                        }
                    }
                    std::process::exit(128 + sig);
                }
            });
    });
}
