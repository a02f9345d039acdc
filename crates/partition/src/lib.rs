//! Partitioning, the same everywhere: the one partition function, part-file names, and
//! directory outputs that appear whole.
//!
//! `partition(key) = xxh3_64(key_bytes, seed 0) mod N` (SPEC §1 Partitioning): bsplit
//! `--hash`, bshuffle and bjoin `--partitioned` all call [`partition_of`], so partitions
//! written by one tool, run or host line up with another's. [`DirCommit`] stages a
//! directory beside its destination and moves it into place whole, `_SUCCESS` (a JSON
//! manifest) written last. This crate never prints, parses flags or exits.

pub mod manifest;
pub mod parts;
pub mod routed;
pub mod sketch;

pub use manifest::{copartitioned, Cut, Manifest, NewManifest, PartInfo, Partitioning};
pub use parts::{percent_decode, percent_encode, Compress, Encoder, Parts};
pub use routed::PartWriter;
use serde_json::Value;
pub use sketch::HeavyHitters;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Names the partition function in manifests; bump only with a new function.
pub const PARTITION_FUNCTION: &str = "xxh3_64(key, seed=0) mod N; keys joined by TAB; v1";

/// The partition (0-based) of a record whose key bytes are `key`, among `n`.
#[inline]
pub fn partition_of(key: &[u8], n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    xxhash_rust::xxh3::xxh3_64(key) % n
}

/// [`partition_of`] from the key's [`hash`], for callers that need the hash too.
#[inline]
pub fn partition_of_hash(hash: u64, n: u64) -> u64 {
    if n <= 1 {
        0
    } else {
        hash % n
    }
}

/// The raw hash, for callers that reduce it themselves.
#[inline]
pub fn hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// `part-00042` (five digits, more when needed), with an extension for compressed parts.
pub fn part_name(i: u64, ext: &str) -> String {
    format!("part-{i:05}{ext}")
}

/// What can go wrong with a directory output.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("{0} exists and is not empty (use --force to replace it)")]
    NotEmpty(String),
    #[error("{0} is no longer empty: something was written into it during the run; nothing was replaced (use --force to replace it)")]
    BecameNonEmpty(String),
    #[error("{0} exists and is not a directory")]
    NotADirectory(String),
    /// A part is not what the manifest says (truncated, replaced, missing).
    #[error("{0}")]
    Damaged(String),
    #[error("{context}: {}", short(source))]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl DirError {
    /// Whether the directory's data is wrong (as opposed to the directory being unusable).
    pub fn is_damage(&self) -> bool {
        matches!(self, DirError::Damaged(_))
    }
}

/// An io::Error's sentence without "(os error N)" and what follows (tempfile adds the path).
fn short(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> DirError {
    let context = context.into();
    move |source| DirError::Io { context, source }
}

/// Called with staged paths when created (true) and when gone (false), for signal cleanup.
pub type StageHook = fn(&Path, bool);

/// `PID-STARTTIME` of this process (start time in clock ticks since boot, field 22 of
/// /proc/PID/stat): names its temporaries so that a later run can tell a dead owner's
/// leftovers from a live one's, even after the PID was reused.
pub fn owner_tag() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", start_time(pid).unwrap_or(0))
}

/// Field 22 of /proc/PID/stat (after the command name, which may hold spaces and parens).
pub fn start_time(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The prefix of DEST's staging directories (and of an old DEST moved aside).
pub fn staging_prefix(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    format!(".{name}.staging-")
}

fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// renameat2(2) with `flags`; EINVAL/ENOSYS when the filesystem or kernel cannot.
fn rename2(from: &Path, to: &Path, flags: libc::c_uint) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    };
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: two NUL-terminated paths that live across the call; no memory is written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS))
}

/// A directory output being written: files go into a staging directory beside the
/// destination; [`DirCommit::commit`] writes `_SUCCESS` and moves it into place. Dropped
/// without commit, the staging directory is removed.
///
/// The final move never destroys what it did not write: without `force` it is one
/// `rename(2)`, which fails when DEST is (or has become) a non-empty directory; with
/// `force` the old DEST is swapped out atomically (`renameat2(RENAME_EXCHANGE)`) and removed
/// only once the new one is in place.
pub struct DirCommit {
    dest: PathBuf,
    stage: Option<tempfile::TempDir>,
    force: bool,
    hook: Option<StageHook>,
}

impl DirCommit {
    /// Check the destination and create the staging directory. An existing non-empty
    /// destination is an error unless `force`.
    pub fn begin(dest: &Path, force: bool, hook: Option<StageHook>) -> Result<DirCommit, DirError> {
        let shown = dest.display().to_string();
        match fs::metadata(dest) {
            Ok(m) if !m.is_dir() => return Err(DirError::NotADirectory(shown)),
            Ok(_) => {
                let non_empty = fs::read_dir(dest)
                    .map_err(io_err(format!("cannot read {shown}")))?
                    .next()
                    .is_some();
                if non_empty && !force {
                    return Err(DirError::NotEmpty(shown));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("cannot use {shown}"))(e)),
        }
        let parent = parent_of(dest);
        let stage = tempfile::Builder::new()
            .prefix(&format!("{}{}-", staging_prefix(dest), owner_tag()))
            .tempdir_in(&parent)
            .map_err(io_err(format!(
                "cannot create a staging directory in {}",
                parent.display()
            )))?;
        if let Some(h) = hook {
            h(stage.path(), true);
        }
        Ok(DirCommit {
            dest: dest.to_path_buf(),
            stage: Some(stage),
            force,
            hook,
        })
    }

    /// Where files go until the commit.
    pub fn path(&self) -> &Path {
        self.stage
            .as_ref()
            .map_or(self.dest.as_path(), |s| s.path())
    }

    /// Write `_SUCCESS` (the manifest, last, with each part's size on disk as
    /// `file_bytes`) and move the directory into place. Returns the old destination moved
    /// aside (with `force`; registered with the hook until removed), removed when the
    /// returned [`Aside`] is dropped.
    ///
    /// Callers that handle signals run this as one critical section, so that the staging
    /// directory cannot be removed under it: DEST is then either untouched or whole.
    pub fn commit(mut self, manifest: &Value) -> Result<Aside, DirError> {
        let hook = self.hook;
        let stage = match self.stage.take() {
            Some(s) => s,
            None => return Ok(Aside(None, hook)),
        };
        let staged = stage.keep();
        let shown = self.dest.display().to_string();
        let aside = PathBuf::from(format!("{}.old", staged.display()));
        let mut moved_aside = false;
        let result = (|| {
            let mut manifest = manifest.clone();
            record_sizes(&staged, &shown, &mut manifest)?;
            let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_else(|_| "{}".into());
            text.push('\n');
            let success = staged.join("_SUCCESS");
            fs::write(&success, text).map_err(io_err(format!("cannot write {shown}/_SUCCESS")))?;
            fault_pause();
            let into = io_err(format!("cannot move the output into {shown}"));
            if self.force {
                match rename2(&staged, &self.dest, libc::RENAME_EXCHANGE) {
                    Ok(()) => {
                        // The old DEST now sits at the staging path.
                        if let Some(h) = self.hook {
                            h(&aside, true);
                        }
                        fs::rename(&staged, &aside)
                            .map_err(io_err(format!("cannot move the old {shown} aside")))?;
                        moved_aside = true;
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if unsupported(&e) => {
                        // Two renames: DEST is briefly absent, never half one and half the
                        // other.
                        if fs::symlink_metadata(&self.dest).is_ok() {
                            if let Some(h) = self.hook {
                                h(&aside, true);
                            }
                            fs::rename(&self.dest, &aside)
                                .map_err(io_err(format!("cannot replace {shown}")))?;
                            moved_aside = true;
                        }
                    }
                    Err(e) => return Err(into(e)),
                }
            }
            // rename(2) replaces an empty directory and nothing else: a DEST that was
            // created, filled or committed by another run meanwhile is left alone.
            match fs::rename(&staged, &self.dest) {
                Ok(()) => Ok(()),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOTEMPTY) | Some(libc::EEXIST) | Some(libc::ENOTDIR)
                    ) =>
                {
                    Err(DirError::BecameNonEmpty(shown.clone()))
                }
                Err(e) => Err(into(e)),
            }
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staged);
            if moved_aside && fs::symlink_metadata(&self.dest).is_err() {
                // Put the old DEST back rather than leave nothing.
                if fs::rename(&aside, &self.dest).is_ok() {
                    moved_aside = false;
                    if let Some(h) = self.hook {
                        h(&aside, false);
                    }
                }
            }
        }
        if let Some(h) = self.hook {
            h(&staged, false);
        }
        result.map(|()| Aside(moved_aside.then_some(aside), hook))
    }
}

impl DirCommit {
    /// Commit a Hive-style directory in place (`bsplit --by --overwrite-partitions`): move
    /// each staged `NAME=VALUE` directory of `written` into DEST instead of the old one (the
    /// old one goes into the staging directory, removed with it), leave DEST's other
    /// directories, and write `_SUCCESS` last. DEST is created when absent.
    pub fn commit_partitions(self, written: &[String], manifest: &Value) -> Result<(), DirError> {
        let dir = self.dest.clone();
        fs::create_dir_all(&dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
        let stage = self.path().to_path_buf();
        for d in written {
            let new = stage.join(d);
            let old = dir.join(d);
            let aside = stage.join(format!("{d}.old"));
            if old.exists() {
                fs::rename(&old, &aside)
                    .map_err(io_err(format!("cannot replace {}", old.display())))?;
            }
            fs::rename(&new, &old).map_err(io_err(format!("cannot write {}", old.display())))?;
        }
        let mut text = serde_json::to_string_pretty(manifest).unwrap_or_default();
        text.push('\n');
        let tmp = stage.join("_SUCCESS");
        fs::write(&tmp, text).map_err(io_err("cannot write _SUCCESS"))?;
        fs::rename(&tmp, dir.join("_SUCCESS")).map_err(io_err("cannot write _SUCCESS"))?;
        // The staging directory (with the old partitions) goes when `self` is dropped.
        Ok(())
    }
}

/// The old destination that a `force` commit moved aside, removed when this is dropped:
/// drop it after the commit's critical section (removing a large directory takes time).
#[must_use = "dropping it removes the old directory; drop it after the critical section"]
pub struct Aside(Option<PathBuf>, Option<StageHook>);

impl Drop for Aside {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            let _ = fs::remove_dir_all(&a);
            if let Some(h) = self.1 {
                h(&a, false);
            }
        }
    }
}

/// Stat every part the manifest lists in `dir`: each gets `file_bytes`, and an uncompressed
/// part whose size is not its `bytes` is an error (the commit verifies what it claims).
fn record_sizes(dir: &Path, shown: &str, manifest: &mut Value) -> Result<(), DirError> {
    let Some(parts) = manifest.get_mut("parts").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for p in parts {
        let Some(name) = p["name"].as_str().map(str::to_string) else {
            continue;
        };
        let size = fs::metadata(dir.join(&name))
            .map_err(io_err(format!("{shown}/{name}")))?
            .len();
        if let (Some(b), false) = (p["bytes"].as_u64(), compressed(&name)) {
            if b != size {
                return Err(DirError::Damaged(format!(
                    "{shown}/{name}: {size} bytes written, {b} expected"
                )));
            }
        }
        if let Value::Object(o) = p {
            o.insert("file_bytes".into(), Value::from(size));
        }
    }
    Ok(())
}

/// Fault injection for tests: `BATCHKIT_FAULT_COMMIT_PAUSE_MS=N` sleeps N ms in the middle
/// of a commit (after `_SUCCESS`, before the move), so that a signal can be aimed at it.
fn fault_pause() {
    if let Some(ms) = std::env::var("BATCHKIT_FAULT_COMMIT_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

fn compressed(name: &str) -> bool {
    name.ends_with(".gz") || name.ends_with(".zst")
}

impl Drop for DirCommit {
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            let p = stage.path().to_path_buf();
            drop(stage);
            if let Some(h) = self.hook {
                h(&p, false);
            }
        }
    }
}

/// Read a directory's manifest, and check that every part it lists is there with the size
/// it says (one `stat` each: `file_bytes`, or `bytes` for an uncompressed part of a
/// manifest without it). A mismatch is [`DirError::Damaged`]:
/// `DIR/part-00003: 358400 bytes, the manifest says 20971520`.
pub fn read_manifest(dir: &Path) -> Result<Value, DirError> {
    let p = dir.join("_SUCCESS");
    let text = fs::read_to_string(&p).map_err(io_err(format!("cannot read {}", p.display())))?;
    let m: Value = serde_json::from_str(&text).map_err(|e| DirError::Io {
        context: format!("{} is not a batchkit manifest", p.display()),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    })?;
    let shown = dir.display();
    for part in m["parts"].as_array().into_iter().flatten() {
        let Some(name) = part["name"].as_str() else {
            continue;
        };
        let want = part["file_bytes"]
            .as_u64()
            .or_else(|| part["bytes"].as_u64().filter(|_| !compressed(name)));
        let got = match fs::metadata(dir.join(name)) {
            Ok(md) => md.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(DirError::Damaged(format!(
                    "{shown}/{name}: missing, the manifest lists it"
                )))
            }
            Err(e) => return Err(io_err(format!("cannot read {shown}/{name}"))(e)),
        };
        if let Some(w) = want {
            if w != got {
                return Err(DirError::Damaged(format!(
                    "{shown}/{name}: {got} bytes, the manifest says {w}"
                )));
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests;
