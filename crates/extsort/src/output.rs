//! How sorted items leave: formatted by an [`Emit`], staged in large blocks, deduplicated.

use crate::{Error, Order, Result};
use std::cmp::Ordering;
use std::io;

/// How an item is written out.
pub trait Emit: Sync {
    /// Append the output form of `item` to `out`.
    fn emit(&self, item: &[u8], out: &mut Vec<u8>);
}

impl<F: Fn(&[u8], &mut Vec<u8>) + Sync> Emit for F {
    fn emit(&self, item: &[u8], out: &mut Vec<u8>) {
        self(item, out)
    }
}

/// Formats items into a staging buffer and hands it on in large blocks.
pub(crate) struct Stage<'a> {
    emit: &'a dyn Emit,
    sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>,
    buf: Vec<u8>,
}

impl<'a> Stage<'a> {
    pub fn new(emit: &'a dyn Emit, sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>) -> Self {
        Stage {
            emit,
            sink,
            buf: Vec::with_capacity(STAGE + (64 << 10)),
        }
    }

    #[inline]
    pub fn item(&mut self, item: &[u8]) -> io::Result<()> {
        self.emit.emit(item, &mut self.buf);
        if self.buf.len() >= STAGE {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            (self.sink)(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

const STAGE: usize = 1 << 20;

/// Hands items on, dropping those equal to the previous one in unique mode.
pub(crate) struct Dedup<'a, O: Order + ?Sized> {
    order: &'a O,
    unique: bool,
    last: Vec<u8>,
    have_last: bool,
    context: &'static str,
    sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>,
    pub count: u64,
}

impl<'a, O: Order + ?Sized> Dedup<'a, O> {
    pub fn new(
        order: &'a O,
        unique: bool,
        context: &'static str,
        sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Self {
        Dedup {
            order,
            unique,
            context,
            last: Vec::new(),
            have_last: false,
            sink,
            count: 0,
        }
    }

    #[inline]
    pub fn emit(&mut self, item: &[u8]) -> Result<()> {
        if self.unique {
            if self.have_last && self.order.compare(&self.last, item) == Ordering::Equal {
                return Ok(());
            }
            self.last.clear();
            self.last.extend_from_slice(item);
            self.have_last = true;
        }
        self.count += 1;
        (self.sink)(item).map_err(|e| Error::io(self.context, e))
    }
}
