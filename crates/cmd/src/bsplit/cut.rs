//! How bsplit's record modes send each record to its part: runs of lines or bytes,
//! round-robin and hash, key ranges, and Hive-style directories by value.

use cli::{input, At, Error, Inputs, Progress, Result};
use partition::{part_name, partition_of, percent_encode, HeavyHitters, PartInfo, Parts};
use record::{CsvScratch, RecordOrder};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::PathBuf;

/// The inputs and the progress bar they advance.
pub(super) type Ins<'a> = (&'a mut Inputs, &'a Progress);

/// Part files being written in the staging directory `stage`.
pub(super) struct Cutter<'a> {
    parts: Parts,
    stage: PathBuf,
    ext: &'static str,
    eol: u8,
    order: &'a RecordOrder,
    /// The heaviest keys (--stats with --hash and --by).
    hitters: Option<HeavyHitters>,
    /// Names of the by-value directories, in order of first appearance.
    dirs: Vec<String>,
    line: Vec<u8>,
    item: Vec<u8>,
    key: Vec<u8>,
    scratch: CsvScratch,
}

impl<'a> Cutter<'a> {
    pub fn new(
        parts: Parts,
        stage: PathBuf,
        ext: &'static str,
        eol: u8,
        order: &'a RecordOrder,
        hitters: Option<HeavyHitters>,
    ) -> Cutter<'a> {
        Cutter {
            parts,
            stage,
            ext,
            eol,
            order,
            hitters,
            dirs: Vec::new(),
            line: Vec::new(),
            item: Vec::new(),
            key: Vec::new(),
            scratch: CsvScratch::default(),
        }
    }

    /// Write `rec` to part `i`. `ended`: whether to write the terminator; -l and -b keep an
    /// unterminated last record as it is (the parts concatenate to the input, as with GNU
    /// split).
    fn write(&mut self, i: usize, rec: &[u8], ended: bool) -> Result<()> {
        self.line.clear();
        self.line.extend_from_slice(rec);
        if ended {
            self.line.push(self.eol);
        }
        self.parts
            .write(i, &self.line)
            .map_err(|e| Error::io("cannot write a part", e))
    }

    /// The key bytes of a record (the partition function's input) into `self.key`.
    fn key_of(&mut self, rec: &[u8], at: &At) -> Result<()> {
        let it = input::item_of(self.order, rec, &mut self.item, &mut self.scratch, at)?;
        self.key.clear();
        self.order.key_bytes(it, &mut self.key);
        Ok(())
    }

    fn add_part(&mut self, i: u64) -> usize {
        self.parts.add(self.stage.join(part_name(i, self.ext)))
    }

    /// `-l LINES` (`by_lines`) or `-b SIZE`: a new part every `l` records, or before the
    /// record that would take the part over `l` bytes (`header`: at the top of every part).
    /// Returns the number of parts.
    pub fn runs(
        &mut self,
        (inputs, progress): Ins,
        l: u64,
        by_lines: bool,
        header: Option<&[u8]>,
    ) -> Result<u64> {
        let (mut count, mut size) = (0u64, 0u64);
        let header_len = header.map_or(0, |h| h.len() as u64);
        inputs.for_each_ended(progress, |rec, ended, _| {
            let len = rec.len() as u64 + u64::from(ended);
            let full = if by_lines {
                count == l
            } else {
                count > 0 && size + len > l
            };
            if self.parts.is_empty() || full {
                self.add_part(self.parts.len() as u64);
                count = 0;
                size = header_len;
            }
            count += 1;
            size += len;
            let i = self.parts.len() - 1;
            self.write(i, rec, ended)
        })?;
        Ok(self.parts.len() as u64)
    }

    /// `--round-robin -n N`, or `--hash -n N` (`hash`): record i to part i mod N, or to part
    /// xxh3_64(key) mod N.
    pub fn spread(&mut self, (inputs, progress): Ins, n: u64, hash: bool) -> Result<u64> {
        for i in 0..n {
            self.add_part(i);
        }
        let mut r = 0u64;
        inputs.for_each(progress, |rec, at| {
            let p = if hash {
                self.key_of(rec, &at)?;
                if let Some(h) = self.hitters.as_mut() {
                    h.add(&self.key, rec.len() as u64 + 1);
                }
                partition_of(&self.key, n)
            } else {
                r % n
            };
            r += 1;
            self.write(p as usize, rec, true)
        })?;
        Ok(n)
    }

    /// `--range -n N` with the `splits` from a sample.
    pub fn ranges(&mut self, (inputs, progress): Ins, n: u64, splits: &[Vec<u8>]) -> Result<u64> {
        for i in 0..n {
            self.add_part(i);
        }
        inputs.for_each(progress, |rec, at| {
            let order = self.order;
            let it = input::item_of(order, rec, &mut self.item, &mut self.scratch, &at)?;
            // Part = how many split points are <= the key: equal keys stay together.
            let p = splits.partition_point(|s| order.compare_keys(s, it) != Ordering::Greater);
            self.write(p, rec, true)
        })?;
        Ok(n)
    }

    /// `--by KEY`: a directory `name=VALUE` per value (after `transforms`), created when the
    /// value is first seen. Returns the number of directories.
    pub fn by_value(
        &mut self,
        (inputs, progress): Ins,
        name: &str,
        transforms: &[map::expr::Transform],
    ) -> Result<u64> {
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut raw = Vec::new();
        inputs.for_each(progress, |rec, at| {
            self.key_of(rec, &at)?;
            if !transforms.is_empty() {
                std::mem::swap(&mut raw, &mut self.key);
                map::expr::transform_into(&raw, transforms, &mut self.key).map_err(|t| {
                    Error::Runtime(format!(
                        "{at}: key \"{}\" is not an ISO-8601 date for |{t}",
                        String::from_utf8_lossy(&raw)
                    ))
                })?;
            }
            if let Some(h) = self.hitters.as_mut() {
                h.add(&self.key, rec.len() as u64 + 1);
            }
            let i = match index.get(self.key.as_slice()) {
                Some(&i) => i,
                None => {
                    let d = format!("{name}={}", percent_encode(&self.key));
                    // Not create_dir_all: a staging directory removed on a signal must not
                    // be made again.
                    std::fs::create_dir(self.stage.join(&d))
                        .map_err(|e| Error::io(format!("cannot create {d}"), e))?;
                    let i = self
                        .parts
                        .add(self.stage.join(&d).join(part_name(0, self.ext)));
                    self.dirs.push(d);
                    index.insert(self.key.clone(), i);
                    i
                }
            };
            self.write(i, rec, true)
        })?;
        Ok(self.dirs.len() as u64)
    }

    /// Write every part out: their manifest entries, the by-value directories and the
    /// heaviest keys.
    pub fn finish(self) -> Result<(Vec<PartInfo>, Vec<String>, Option<HeavyHitters>)> {
        let sizes = self
            .parts
            .finish()
            .map_err(|e| Error::io("cannot write a part", e))?;
        let (dirs, ext) = (self.dirs, self.ext);
        let infos = sizes
            .iter()
            .enumerate()
            .map(|(i, &(records, bytes))| PartInfo {
                name: match dirs.get(i) {
                    Some(d) => format!("{d}/{}", part_name(0, ext)),
                    None => part_name(i as u64, ext),
                },
                records,
                bytes,
            })
            .collect();
        Ok((infos, dirs, self.hitters))
    }
}
