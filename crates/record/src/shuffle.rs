//! The shuffle's order (bshuffle): items are `partition:u32be` then the record's item,
//! ordered by partition, then by the record order; one sort then yields the partitions one
//! after another, each sorted by key.

use crate::RecordOrder;
use extsort::{Order, Prefix};
use std::cmp::Ordering;

/// Items are `partition:u32be` then the record's item; ordered by partition, then key.
pub struct ShuffleOrder {
    pub order: RecordOrder,
    /// Whether the record order's summary can follow the partition bytes (text keys).
    lead: bool,
}

impl ShuffleOrder {
    pub fn new(order: RecordOrder) -> Self {
        let lead = order.prefix_after(&[], &[0; PART]).is_some();
        ShuffleOrder { order, lead }
    }
}

/// The bytes of the partition number in front of an item.
pub const PART: usize = 4;

/// An item's partition and the record's item.
#[inline]
pub fn split(item: &[u8]) -> (u32, &[u8]) {
    match item.split_first_chunk::<PART>() {
        Some((p, rest)) => (u32::from_be_bytes(*p), rest),
        None => (0, item),
    }
}

impl Order for ShuffleOrder {
    #[inline]
    fn prefix(&self, item: &[u8]) -> Prefix {
        let (p, rest) = split(item);
        if self.lead {
            if let Some(s) = self.order.prefix_after(rest, &p.to_be_bytes()) {
                return s;
            }
        }
        let k = self.order.prefix(rest);
        // (partition, first 12 bytes of the key's summary): truncation keeps it monotone.
        [
            (u64::from(p) << 32) | (k[0] >> 32),
            (k[0] << 32) | (k[1] >> 32),
        ]
    }

    #[inline]
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        let (pa, ra) = split(a);
        let (pb, rb) = split(b);
        pa.cmp(&pb).then_with(|| self.order.compare(ra, rb))
    }

    #[inline]
    fn is_total(&self, p: &Prefix) -> bool {
        // Only summaries that follow the partition bytes carry a length byte.
        self.lead && self.order.prefix_is_total(p)
    }

    fn normalized(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        let (p, rest) = split(item);
        out.extend_from_slice(&p.to_be_bytes());
        self.order.normalized(rest, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldSplit, Format, Key, KeyOpts, KeySpec};

    fn item(p: u32, rec: &[u8]) -> Vec<u8> {
        let mut v = p.to_be_bytes().to_vec();
        v.extend_from_slice(rec);
        v
    }

    #[test]
    fn partition_first_then_key() {
        let format = Format::Text(FieldSplit::Char(b'\t'));
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, format, None).unwrap_or_else(|e| panic!("{e}"));
        let o = ShuffleOrder::new(RecordOrder::new(
            format,
            vec![key],
            KeyOpts::default(),
            true,
        ));
        let (a, b, c) = (item(0, b"z\t1"), item(1, b"a\t2"), item(1, b"b\t3"));
        assert_eq!(o.compare(&a, &b), Ordering::Less);
        assert_eq!(o.compare(&b, &c), Ordering::Less);
        assert!(o.prefix(&a) <= o.prefix(&b) && o.prefix(&b) <= o.prefix(&c));
        assert_eq!(split(&c), (1, &b"b\t3"[..]));
    }
}
