//! Split points for key ranges (bsplit `--range`, TeraSort's trick): a deterministic
//! reservoir sample of the records' items, sorted by key and cut at quantiles.

use crate::{CsvScratch, KeyReadError, RecordOrder};

/// A reservoir sample of up to `cap` items.
pub struct KeySample {
    cap: usize,
    items: Vec<Vec<u8>>,
    seen: u64,
    rng: u64,
    scratch: CsvScratch,
}

impl KeySample {
    pub fn new(cap: usize) -> KeySample {
        KeySample {
            cap,
            items: Vec::new(),
            seen: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            scratch: CsvScratch::default(),
        }
    }

    /// Offer one record: kept with probability cap/seen (always while the sample is short).
    pub fn add(&mut self, order: &RecordOrder, rec: &[u8]) -> Result<(), KeyReadError> {
        self.seen += 1;
        let slot = if self.items.len() < self.cap {
            self.items.push(Vec::new());
            Some(self.items.len() - 1)
        } else {
            // xorshift: deterministic, so the same input always gets the same split points.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let j = self.rng % self.seen;
            (j < self.cap as u64).then_some(j as usize)
        };
        if let Some(s) = slot {
            let item = &mut self.items[s];
            item.clear();
            order.encode(rec, item, &mut self.scratch)?;
        }
        Ok(())
    }

    /// The `n - 1` split points of `n` ranges (as items): the sample's quantiles by key.
    pub fn splits(mut self, order: &RecordOrder, n: u64) -> Vec<Vec<u8>> {
        self.items.sort_by(|a, b| order.compare_keys(a, b));
        let len = self.items.len() as u64;
        (1..n)
            .filter_map(|i| self.items.get((i * len / n) as usize).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldSplit, Format, Key, KeyOpts, KeySpec};

    #[test]
    fn splits_are_quantiles_of_the_keys() {
        let format = Format::Text(FieldSplit::Char(b'\t'));
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, format, None).unwrap_or_else(|e| panic!("{e}"));
        let order = RecordOrder::new(format, vec![key], KeyOpts::default(), true);
        let mut s = KeySample::new(1000);
        for i in (0..100).rev() {
            let rec = format!("{i:03}\tx");
            s.add(&order, rec.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let splits = s.splits(&order, 4);
        let keys: Vec<&[u8]> = splits.iter().map(|it| order.key(it, 0)).collect();
        assert_eq!(keys, [&b"025"[..], b"050", b"075"]);
    }
}
