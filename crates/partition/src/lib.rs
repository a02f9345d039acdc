//! Partitioning, the same everywhere: the one partition function, part-file names, and
//! directory outputs that appear whole.
//!
//! `partition(key) = xxh3_64(key_bytes, seed 0) mod N` (SPEC §1 Partitioning): bsplit
//! `--hash`, bshuffle and bjoin `--partitioned` all call [`partition_of`], so partitions
//! written by one tool, run or host line up with another's. [`DirCommit`] stages a
//! directory beside its destination and moves it into place whole, `_SUCCESS` (a JSON
//! manifest) written last. This crate never prints, parses flags or exits.

pub mod parts;

pub use parts::{percent_decode, percent_encode, Compress, Parts};
use serde_json::{json, Value};
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
    #[error("{0} exists and is not a directory")]
    NotADirectory(String),
    #[error("{context}: {}", short(source))]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
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

/// A directory output being written: files go into a staging directory beside the
/// destination; [`DirCommit::commit`] writes `_SUCCESS` and moves it into place. Dropped
/// without commit, the staging directory is removed.
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
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let stage = tempfile::Builder::new()
            .prefix(&format!(".{name}.staging-"))
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

    /// Write `_SUCCESS` (the manifest, last) and move the directory into place. An existing
    /// destination (empty, or any with `force`) is replaced.
    pub fn commit(mut self, manifest: &Value) -> Result<(), DirError> {
        let stage = match self.stage.take() {
            Some(s) => s,
            None => return Ok(()),
        };
        let staged = stage.keep();
        let shown = self.dest.display().to_string();
        let result = (|| {
            let mut text = serde_json::to_string_pretty(manifest).unwrap_or_else(|_| "{}".into());
            text.push('\n');
            fs::write(staged.join("_SUCCESS"), text)
                .map_err(io_err(format!("cannot write {shown}/_SUCCESS")))?;
            if fs::metadata(&self.dest).is_ok() {
                // Move the old directory aside first, so that DEST is never half one and half
                // the other; then remove it.
                let aside = staged.with_extension("old");
                fs::rename(&self.dest, &aside)
                    .map_err(io_err(format!("cannot replace {shown}")))?;
                let moved = fs::rename(&staged, &self.dest);
                if let Err(e) = moved {
                    let _ = fs::rename(&aside, &self.dest);
                    return Err(io_err(format!("cannot move the output into {shown}"))(e));
                }
                let _ = fs::remove_dir_all(&aside);
            } else {
                fs::rename(&staged, &self.dest)
                    .map_err(io_err(format!("cannot move the output into {shown}")))?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staged);
        }
        if let Some(h) = self.hook {
            h(&staged, false);
        }
        let _ = self.force;
        result
    }
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

/// Records and bytes of one part, for the manifest and `--stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartInfo {
    pub name: String,
    pub records: u64,
    pub bytes: u64,
}

/// How the parts were cut, for the manifest.
#[derive(Clone, Debug)]
pub struct Cut {
    /// `hash`, `range`, `round-robin`, `lines`, `bytes`, `chunks`, `by`.
    pub method: String,
    pub n: u64,
    /// The `-k` specs as given (empty: the tool's default key).
    pub keys: Vec<String>,
    /// Whether the partition function above was used.
    pub hashed: bool,
}

/// The `_SUCCESS` manifest.
pub fn manifest(
    tool: &str,
    cut: &Cut,
    sorted_by: Option<&[String]>,
    parts: &[PartInfo],
    extra: Value,
) -> Value {
    let mut m = json!({
        "tool": tool,
        "version": env!("CARGO_PKG_VERSION"),
        "partitioning": {
            "method": cut.method,
            "n": cut.n,
            "key": cut.keys,
            "partition_function": if cut.hashed { Value::from(PARTITION_FUNCTION) } else { Value::Null },
        },
        "sorted": match sorted_by {
            Some(k) => json!({ "by": k, "stable": true }),
            None => Value::Null,
        },
        "parts": parts.iter().map(|p| json!({"name": p.name, "records": p.records, "bytes": p.bytes})).collect::<Vec<_>>(),
        "records": parts.iter().map(|p| p.records).sum::<u64>(),
        "bytes": parts.iter().map(|p| p.bytes).sum::<u64>(),
    });
    if let (Value::Object(m), Value::Object(x)) = (&mut m, extra) {
        m.extend(x);
    }
    m
}

/// Read a directory's manifest.
pub fn read_manifest(dir: &Path) -> Result<Value, DirError> {
    let p = dir.join("_SUCCESS");
    let text = fs::read_to_string(&p).map_err(io_err(format!("cannot read {}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| DirError::Io {
        context: format!("{} is not a batchkit manifest", p.display()),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    })
}

#[cfg(test)]
mod tests;
