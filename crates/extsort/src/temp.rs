//! The temporary directory that holds spilled runs.

use crate::run::RunWriter;
use crate::{Config, Error, Result, TempHook};
use std::path::PathBuf;

/// A temporary directory for runs, created on first use and removed when dropped.
pub(crate) struct TempSpace {
    parent: PathBuf,
    dir: Option<tempfile::TempDir>,
    hook: Option<TempHook>,
    next: u64,
    compress: bool,
}

impl TempSpace {
    pub(crate) fn new(cfg: &Config) -> Self {
        TempSpace {
            parent: cfg.tmp_parent.clone(),
            dir: None,
            hook: cfg.temp_hook,
            next: 0,
            compress: cfg.compress,
        }
    }

    pub(crate) fn create_run(&mut self) -> Result<RunWriter> {
        if self.dir.is_none() {
            // batchkit-PID-STARTTIME-: a later run can tell a killed owner's leftovers.
            let d = tempfile::Builder::new()
                .prefix(&format!("batchkit-{}-", owner_tag()))
                .tempdir_in(&self.parent)
                .map_err(|e| {
                    Error::io(
                        format!(
                            "cannot create a temporary directory in {}",
                            self.parent.display()
                        ),
                        e,
                    )
                })?;
            if let Some(h) = self.hook {
                h(d.path(), true);
            }
            self.dir = Some(d);
        }
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let path = dir.join(format!("run-{:06}", self.next));
        self.next += 1;
        RunWriter::create(path, self.compress)
    }
}

/// `PID-STARTTIME` (field 22 of /proc/PID/stat) of this process.
fn owner_tag() -> String {
    let pid = std::process::id();
    let start = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(19)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    format!("{pid}-{start}")
}

impl Drop for TempSpace {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let p = d.path().to_path_buf();
            drop(d);
            if let Some(h) = self.hook {
                h(&p, false);
            }
        }
    }
}
