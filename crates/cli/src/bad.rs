//! Bad input (SPEC §1): stop at the first bad record (the default), or `--skip-bad` it and
//! count it, and with `--bad-records FILE` also keep it, untouched, in FILE (written
//! atomically when the tool ends, like every output).

use crate::error::{Error, Result};
use crate::output::Output;
use clap::{Arg, ArgAction, ArgMatches};
use std::io::Write;
use std::path::PathBuf;

/// `--skip-bad` and `--bad-records FILE`.
pub fn args() -> [Arg; 2] {
    [
        Arg::new("skip-bad")
            .long("skip-bad")
            .action(ArgAction::SetTrue)
            .help("Skip bad records (unreadable, or not a number where one is needed), count them and report the count on stderr"),
        Arg::new("bad-records")
            .long("bad-records")
            .value_name("FILE")
            .help("With --skip-bad (implied): also write the bad records to FILE, untouched"),
    ]
}

/// What to do with a bad record.
pub struct BadRecords {
    tool: &'static str,
    skip: bool,
    file: Option<Output>,
    eol: u8,
    /// Records skipped so far.
    pub count: u64,
}

impl BadRecords {
    /// From `--skip-bad`/`--bad-records` (commands without them: stop at the first).
    pub fn new(tool: &'static str, m: &ArgMatches, eol: u8) -> Result<BadRecords> {
        let path = m
            .try_get_one::<String>("bad-records")
            .ok()
            .flatten()
            .map(PathBuf::from);
        let skip = path.is_some()
            || m.try_get_one::<bool>("skip-bad")
                .ok()
                .flatten()
                .copied()
                .unwrap_or(false);
        let file = match path {
            Some(p) => Some(Output::open(tool, Some(&p))?),
            None => None,
        };
        Ok(BadRecords {
            tool,
            skip,
            file,
            eol,
            count: 0,
        })
    }

    /// Whether bad records are skipped rather than fatal.
    pub fn skipping(&self) -> bool {
        self.skip
    }

    /// `outcome` of reading `rec`: passed through when it is fine or when bad records are
    /// fatal; when skipping, a data error (not an I/O one) is counted, `rec` kept in the
    /// bad-records file, and `Ok(false)` tells the caller to move on.
    pub fn check(&mut self, outcome: Result<()>, rec: &[u8]) -> Result<bool> {
        match outcome {
            Ok(()) => Ok(true),
            Err(Error::Runtime(_)) if self.skip => {
                self.count += 1;
                if let Some(f) = &mut self.file {
                    f.write_all(rec)
                        .and_then(|()| f.write_all(&[self.eol]))
                        .map_err(|e| Error::io("cannot write the bad records", e))?;
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `count` records found bad elsewhere (another thread), in order, each with its
    /// terminator in `records`.
    pub fn add(&mut self, records: &[u8], count: u64) -> Result<()> {
        self.count += count;
        if let Some(f) = &mut self.file {
            f.write_all(records)
                .map_err(|e| Error::io("cannot write the bad records", e))?;
        }
        Ok(())
    }

    /// Report the count on stderr (when any) and move the bad-records file into place.
    pub fn finish(self) -> Result<u64> {
        if let Some(f) = self.file {
            f.commit()?;
        }
        if self.count > 0 {
            crate::progress::suspend(|| {
                eprintln!(
                    "{}: skipped {} bad record{}",
                    self.tool,
                    self.count,
                    if self.count == 1 { "" } else { "s" }
                )
            });
        }
        Ok(self.count)
    }
}
