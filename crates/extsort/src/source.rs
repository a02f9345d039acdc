//! Sorted streams of items: runs on disk, in-memory chunks, `sort -m` inputs.

use crate::{Entry, Result};

/// A sorted stream of items.
pub trait Source {
    /// Move to the next item; `false` at the end.
    fn advance(&mut self) -> Result<bool>;
    /// The current item, valid after `advance` returned `true`.
    fn current(&self) -> &[u8];
    /// The current item's prefix, when the source already knows it.
    fn prefix(&self) -> Option<crate::Prefix> {
        None
    }
}

/// The sorted entries of an in-memory chunk.
pub(crate) struct MemSource<'a> {
    buf: &'a [u8],
    entries: &'a [Entry],
    next: usize,
}

impl<'a> MemSource<'a> {
    pub fn new(buf: &'a [u8], entries: &'a [Entry]) -> Self {
        MemSource {
            buf,
            entries,
            next: 0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.entries
            .iter()
            .map(|e| &self.buf[e.off as usize..(e.off + e.len) as usize])
    }
}

impl Source for MemSource<'_> {
    #[inline]
    fn advance(&mut self) -> Result<bool> {
        self.next += 1;
        Ok(self.next <= self.entries.len())
    }

    #[inline]
    fn current(&self) -> &[u8] {
        match self.entries.get(self.next.wrapping_sub(1)) {
            Some(e) => &self.buf[e.off as usize..(e.off + e.len) as usize],
            None => &[],
        }
    }

    #[inline]
    fn prefix(&self) -> Option<crate::Prefix> {
        self.entries
            .get(self.next.wrapping_sub(1))
            .map(|e| e.prefix)
    }
}
