//! The right side's group of equal keys in a merge join: in memory up to a budget, then in
//! an unnamed temporary file (unlinked at creation, so that no exit path leaves it behind),
//! read back once for every left record of the key.

use crate::{Error, Result};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

pub(crate) struct Group {
    /// `len:u32le item` records.
    mem: Vec<u8>,
    first: Vec<u8>,
    budget: usize,
    tmp_parent: PathBuf,
    file: Option<BufWriter<File>>,
    spilled: u64,
    count: u64,
    /// Reused by reads of the spilled part.
    scratch: Vec<u8>,
}

fn tmp_err(e: io::Error) -> Error {
    Error::Io {
        context: "cannot write a temporary file".into(),
        source: e,
    }
}

impl Group {
    pub fn new(budget: usize, tmp_parent: PathBuf) -> Group {
        Group {
            mem: Vec::new(),
            first: Vec::new(),
            budget,
            tmp_parent,
            file: None,
            spilled: 0,
            count: 0,
            scratch: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.mem.clear();
        self.first.clear();
        if self.mem.capacity() > self.budget.max(1 << 20) {
            self.mem = Vec::new();
        }
        self.file = None;
        self.spilled = 0;
        self.count = 0;
    }

    /// The group's first item (its key is the group's key).
    pub fn first(&self) -> &[u8] {
        &self.first
    }

    pub fn spilled_bytes(&self) -> u64 {
        self.spilled
    }

    pub fn push(&mut self, item: &[u8]) -> Result<()> {
        if self.count == 0 {
            self.first.extend_from_slice(item);
        }
        self.count += 1;
        let len = (item.len() as u32).to_le_bytes();
        if self.file.is_none() && self.mem.len() + item.len() + 4 <= self.budget {
            self.mem.extend_from_slice(&len);
            self.mem.extend_from_slice(item);
            return Ok(());
        }
        if self.file.is_none() {
            let f = tempfile::tempfile_in(&self.tmp_parent).map_err(|e| Error::Io {
                context: format!(
                    "cannot create a temporary file in {}",
                    self.tmp_parent.display()
                ),
                source: e,
            })?;
            self.file = Some(BufWriter::with_capacity(1 << 16, f));
        }
        if let Some(w) = &mut self.file {
            w.write_all(&len).map_err(tmp_err)?;
            w.write_all(item).map_err(tmp_err)?;
            self.spilled += item.len() as u64 + 4;
        }
        Ok(())
    }

    /// Call `f` on every item in order; returns how many there were.
    pub fn for_each(&mut self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> Result<u64> {
        let werr = |e| Error::Io {
            context: "write error".into(),
            source: e,
        };
        let mut n = 0;
        let mut rest = &self.mem[..];
        while rest.len() >= 4 {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let item = rest.get(4..4 + len).unwrap_or(&[]);
            f(item).map_err(werr)?;
            n += 1;
            rest = rest.get(4 + len..).unwrap_or(&[]);
        }
        if let Some(w) = &mut self.file {
            w.flush().map_err(tmp_err)?;
            let file = w.get_mut();
            let rerr = |e| Error::Io {
                context: "cannot read a temporary file".into(),
                source: e,
            };
            file.seek(SeekFrom::Start(0)).map_err(rerr)?;
            let mut r = BufReader::with_capacity(1 << 16, &*file);
            let mut len = [0u8; 4];
            loop {
                match r.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(rerr(e)),
                }
                let n_item = u32::from_le_bytes(len) as usize;
                self.scratch.resize(n_item, 0);
                r.read_exact(&mut self.scratch).map_err(rerr)?;
                f(&self.scratch).map_err(werr)?;
                n += 1;
            }
            drop(r);
            file.seek(SeekFrom::End(0)).map_err(rerr)?;
        }
        Ok(n)
    }
}
