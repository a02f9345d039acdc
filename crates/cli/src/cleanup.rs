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

/// Held by a commit (a directory output moved into place, `_SUCCESS` written): the signal
/// thread takes it before it acts, so a signal arriving during a commit is acted on after
/// it, and an output is either untouched or whole.
fn commit_lock() -> &'static Mutex<()> {
    static L: OnceLock<Mutex<()>> = OnceLock::new();
    L.get_or_init(|| Mutex::new(()))
}

static COMMITTED: AtomicBool = AtomicBool::new(false);

/// Run `f` as one critical section that SIGINT/SIGTERM/SIGHUP cannot cut: a signal that
/// arrives meanwhile is acted on (cleanup, exit) once `f` returns.
pub fn critical<T>(f: impl FnOnce() -> T) -> T {
    let _held = commit_lock().lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// Say that an output was committed (for the `--stats` record of a later signal).
pub fn mark_committed() {
    COMMITTED.store(true, Ordering::SeqCst);
}

/// Whether an output commit has completed.
pub fn committed() -> bool {
    COMMITTED.load(Ordering::SeqCst)
}

/// `PID-STARTTIME` of this process (start time in clock ticks since boot: field 22 of
/// /proc/PID/stat). Temporaries, spill and staging directories carry it, so that a later
/// run can tell a dead owner's leftovers from a live one's, even after PID reuse.
pub fn owner_tag() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", start_time(pid).unwrap_or(0))
}

/// Field 22 of /proc/PID/stat (counted after the command name, which may hold spaces).
pub fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the owner named by `PID-STARTTIME` at the start of `tail` is gone. `None`: the
/// name does not carry an owner (not ours to judge).
fn owner_gone(tail: &str) -> Option<bool> {
    let mut it = tail.splitn(3, '-');
    let pid: u32 = it.next()?.parse().ok()?;
    let start: u64 = it.next()?.parse().ok()?;
    it.next()?;
    Some(match start_time(pid) {
        None => true,
        Some(s) => s != start && start != 0,
    })
}

/// Remove, in `dir`, every entry whose name is `prefix` + `PID-STARTTIME-...` (+ `suffix`)
/// of an owner that is no longer running; say so in one line on stderr.
pub fn sweep(dir: &Path, prefix: &str, suffix: &str) {
    sweep_any(dir, &[prefix], suffix)
}

/// [`sweep`] for several prefixes, in one pass over `dir`.
pub fn sweep_any(dir: &Path, prefixes: &[&str], suffix: &str) {
    let tool = crate::tool_name();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut removed = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(tail) = prefixes.iter().find_map(|p| name.strip_prefix(p)) else {
            continue;
        };
        if !tail.ends_with(suffix) {
            continue;
        }
        if owner_gone(tail) != Some(true) {
            continue;
        }
        let p = e.path();
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&p),
            _ => std::fs::remove_file(&p),
        };
        if gone.is_ok() {
            removed.push(p);
        }
    }
    if removed.is_empty() {
        return;
    }
    // One line for all of them.
    let shown: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
    crate::progress::suspend(|| {
        eprintln!(
            "{tool}: removed {} leftover(s) of a run that was killed: {}",
            shown.len(),
            shown.join(", ")
        )
    });
}

fn registry() -> &'static Mutex<Vec<PathBuf>> {
    static R: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// The flag long loops check to stop early.
pub fn cancel_flag() -> Arc<AtomicBool> {
    static F: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    Arc::clone(F.get_or_init(|| Arc::new(AtomicBool::new(false))))
}

/// Set by the signal thread once it has taken the registry: from then on nothing is
/// registered, a creation is refused and a path registered late is removed at once.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Remove a registered path. A directory is first renamed to a sibling (`NAME.removing`,
/// still carrying its owner tag): a thread still writing into it by path then fails
/// instead of creating entries behind the removal (which would make it fail, or recreate
/// the directory).
fn remove_path(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let mut gone = p.as_os_str().to_owned();
            gone.push(".removing");
            let gone = PathBuf::from(gone);
            match std::fs::rename(p, &gone) {
                Ok(()) => std::fs::remove_dir_all(&gone),
                Err(_) => std::fs::remove_dir_all(p),
            }
        }
        Ok(_) => std::fs::remove_file(p),
        Err(e) => Err(e),
    }
}

/// Create something with `create` and register the path it returns, as one step that a
/// signal cannot cut in two: under the registry's lock, so a creation either finishes and
/// is registered before the signal thread takes the registry (and is removed) or is
/// refused after.
pub fn create_registered<T>(
    create: impl FnOnce() -> std::io::Result<(T, PathBuf)>,
) -> std::io::Result<T> {
    let mut r = registry()
        .lock()
        .map_err(|_| std::io::Error::other("the cleanup registry is unusable"))?;
    if CLOSED.load(Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "stopped by a signal",
        ));
    }
    let (t, path) = create()?;
    r.push(path);
    Ok(t)
}

/// Remember `path` for removal on a signal. A path created before and registered after the
/// signal thread acted (a race the caller cannot close) is removed here.
pub fn register(path: &Path) {
    if let Ok(mut r) = registry().lock() {
        if !CLOSED.load(Ordering::SeqCst) {
            r.push(path.to_path_buf());
            return;
        }
    }
    let _ = remove_path(path);
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
///
/// Called last, before the process exits: when a signal is being acted on, this waits for
/// ever instead, so that the signal thread ends the process once its cleanup is done (an
/// exit here would cut that cleanup short).
pub fn remove_all() {
    let paths = match registry().lock() {
        Ok(mut r) => std::mem::take(&mut *r),
        Err(_) => return,
    };
    if CLOSED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    for p in paths {
        let _ = remove_path(&p);
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
                    // A commit under way finishes first; held until exit, so none starts.
                    let _commit = commit_lock().lock();
                    // Take the registry and close it: later creations are refused, later
                    // registrations remove their path themselves (see register).
                    let paths = match registry().lock() {
                        Ok(mut r) => {
                            CLOSED.store(true, Ordering::SeqCst);
                            std::mem::take(&mut *r)
                        }
                        Err(_) => Vec::new(),
                    };
                    RECEIVED.store(sig, Ordering::SeqCst);
                    flag.store(true, Ordering::SeqCst);
                    kill_children();
                    let mut failed = Vec::new();
                    for p in &paths {
                        if remove_path(p).is_err() {
                            failed.push(p.clone());
                        }
                    }
                    // A thread between creating a temporary and registering it gets to
                    // register (and so remove) it before the process ends; a removal that
                    // raced with a write in flight is done again.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    failed.retain(|p| {
                        let mut gone = p.as_os_str().to_owned();
                        gone.push(".removing");
                        [p.clone(), PathBuf::from(gone)].iter().any(|q| {
                            std::fs::symlink_metadata(q).is_ok() && remove_path(q).is_err()
                        })
                    });
                    let removed = paths.len() - failed.len();
                    crate::stats::on_signal(sig, removed, committed());
                    std::process::exit(128 + sig);
                }
            });
    });
}
