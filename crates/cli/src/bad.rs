//! Bad input (SPEC §1): stop at the first bad record (the default), or `--skip-bad` it and
//! count it, and with `--bad-records FILE` also keep it, untouched, in FILE (written
//! atomically when the tool ends, like every output).

use crate::error::{Error, Result};
use crate::output::Output;
use clap::{Arg, ArgAction, ArgMatches};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The flag ids of [`args`].
pub const SKIP_BAD: &str = "skip-bad";
pub const BAD_RECORDS: &str = "bad-records";

/// `--skip-bad` and `--bad-records FILE`.
pub fn args() -> [Arg; 2] {
    [
        Arg::new(SKIP_BAD)
            .long("skip-bad")
            .action(ArgAction::SetTrue)
            .help("Skip bad records (unreadable, or not a number where one is needed), count them and report the count on stderr"),
        Arg::new(BAD_RECORDS)
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
    /// From `--skip-bad`/`--bad-records` (of a command that defines them, see [`args`]).
    pub fn new(tool: &'static str, m: &ArgMatches, eol: u8) -> Result<BadRecords> {
        let path = m.get_one::<String>(BAD_RECORDS).map(PathBuf::from);
        let skip = path.is_some() || m.get_flag(SKIP_BAD);
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

/// `--skip-bad` and `--bad-records` shared by threads (bjoin's part pairs): bad records (a
/// CSV or JSON record whose key cannot be read) are counted and, with a file, written there
/// unchanged.
pub struct SharedBad {
    tool: &'static str,
    skip: bool,
    eol: u8,
    count: AtomicU64,
    out: Option<Mutex<Output>>,
}

impl SharedBad {
    /// From `--skip-bad`/`--bad-records`.
    pub fn new(tool: &'static str, m: &ArgMatches, eol: u8) -> Result<SharedBad> {
        let path = m.get_one::<String>(BAD_RECORDS).map(PathBuf::from);
        let skip = m.get_flag(SKIP_BAD) || path.is_some();
        Ok(SharedBad {
            tool,
            skip,
            eol,
            count: AtomicU64::new(0),
            out: match &path {
                Some(p) => Some(Mutex::new(Output::open(tool, Some(p))?)),
                None => None,
            },
        })
    }

    fn file(&self) -> join::Result<Option<std::sync::MutexGuard<'_, Output>>> {
        self.out
            .as_ref()
            .map(|o| {
                o.lock()
                    .map_err(|_| join::Error::Input("the bad-records file is unusable".into()))
            })
            .transpose()
    }

    /// Move the bad-records file into place and report the count on stderr (when any).
    pub fn finish(self) -> Result<u64> {
        let count = self.count.load(Ordering::Relaxed);
        if let Some(o) = self.out {
            o.into_inner()
                .map_err(|_| Error::Runtime("the bad-records file is unusable".into()))?
                .commit()?;
        }
        if count > 0 {
            crate::progress::suspend(|| eprintln!("{}: skipped {count} bad records", self.tool));
        }
        Ok(count)
    }
}

fn write_error(e: std::io::Error) -> join::Error {
    join::Error::Io {
        context: "cannot write the bad-records file".into(),
        source: e,
    }
}

impl join::BadRecords for SharedBad {
    fn skip(&self) -> bool {
        self.skip
    }

    fn eol(&self) -> u8 {
        self.eol
    }

    /// Bad records of a block (each with its terminator), `n` of them.
    fn records(&self, recs: &[u8], n: u64) -> join::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.count.fetch_add(n, Ordering::Relaxed);
        if let Some(mut o) = self.file()? {
            o.write_all(recs).map_err(write_error)?;
        }
        Ok(())
    }

    fn record(&self, rec: &[u8]) -> join::Result<()> {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(mut o) = self.file()? {
            o.write_all(rec).map_err(write_error)?;
            o.write_all(&[self.eol]).map_err(write_error)?;
        }
        Ok(())
    }
}
