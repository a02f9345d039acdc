//! The probe side of the parallel hash join: records of a block parsed into items of the
//! side's order by each worker, bad ones stopping the join or kept aside.

use crate::blocks::{Block, Framing};
use crate::layout::Layout;
use crate::parallel::Probe;
use crate::{Error, Result};
use record::{CsvScratch, RecordOrder};
use std::io;

/// The probe side's records, parsed by workers: items of the side's order; a CSV or JSON
/// record whose key cannot be read stops the join or is kept aside (`--skip-bad`).
pub struct BlockProbe<'a> {
    pub order: &'a RecordOrder,
    pub framing: Framing,
    /// The input's name, for messages.
    pub name: &'a str,
    /// `--skip-bad`: a record whose key cannot be read is kept aside (see [`Probe::note`]).
    pub skip: bool,
    pub eol: u8,
    pub layout: Layout<'a, ()>,
}

#[derive(Default)]
pub struct ProbeParser {
    item: Vec<u8>,
    scratch: CsvScratch,
    bad: Vec<u8>,
    bad_count: u64,
}

impl<'a> Probe for BlockProbe<'a> {
    type Parser = ProbeParser;
    type Out = Layout<'a, io::Sink>;
    type Note = (Vec<u8>, u64);

    fn parser(&self) -> ProbeParser {
        ProbeParser::default()
    }

    fn out(&self) -> Layout<'a, io::Sink> {
        let mut l = self.layout.with_out(io::sink());
        l.accumulate = true;
        l
    }

    fn items(
        &self,
        p: &mut ProbeParser,
        block: &Block,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if !self.order.format.extracts() {
            for (_, rec) in block.records(self.framing) {
                each(rec)?;
            }
            return Ok(());
        }
        for (line, rec) in block.records(self.framing) {
            p.item.clear();
            match self.order.encode(rec, &mut p.item, &mut p.scratch) {
                Ok(()) => each(&p.item)?,
                Err(e) if !self.skip => {
                    return Err(Error::Input(format!("{}:{line}: {e}", self.name)))
                }
                Err(_) => {
                    p.bad.extend_from_slice(rec);
                    p.bad.push(self.eol);
                    p.bad_count += 1;
                }
            }
        }
        Ok(())
    }

    fn note(&self, p: &mut ProbeParser) -> (Vec<u8>, u64) {
        (std::mem::take(&mut p.bad), std::mem::take(&mut p.bad_count))
    }
}
