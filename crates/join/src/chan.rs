//! An input of items that a sort finishing on another thread sends in blocks.

use crate::{Error, Input, Result};
use std::sync::mpsc;

/// Items coming back from a sort finishing on another thread, in blocks of
/// `len:u32le item` records.
pub struct ChanInput {
    rx: mpsc::Receiver<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
    cur: (usize, usize),
}

impl ChanInput {
    pub fn new(rx: mpsc::Receiver<Vec<u8>>) -> ChanInput {
        ChanInput {
            rx,
            block: Vec::new(),
            pos: 0,
            cur: (0, 0),
        }
    }
}

impl Input for ChanInput {
    fn advance(&mut self) -> Result<bool> {
        loop {
            if self.pos + 4 <= self.block.len() {
                let b = &self.block[self.pos..];
                let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let start = self.pos + 4;
                if start + n <= self.block.len() {
                    self.cur = (start, n);
                    self.pos = start + n;
                    return Ok(true);
                }
            }
            if self.pos < self.block.len() {
                // A record cut between blocks (extsort sends whole items; be safe anyway).
                let rest = self.block.split_off(self.pos);
                match self.rx.recv() {
                    Ok(next) => {
                        self.block = rest;
                        self.block.extend_from_slice(&next);
                        self.pos = 0;
                        continue;
                    }
                    Err(_) => {
                        return Err(Error::Input(
                            "a sorted run ended in the middle of a record".into(),
                        ))
                    }
                }
            }
            match self.rx.recv() {
                Ok(next) => {
                    self.block = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(false),
            }
        }
    }

    fn current(&self) -> &[u8] {
        &self.block[self.cur.0..self.cur.0 + self.cur.1]
    }

    fn at(&self) -> String {
        "sorted input".into()
    }
}
