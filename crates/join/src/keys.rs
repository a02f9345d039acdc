//! The join keys of both sides, as the engine sees them: comparisons across and within
//! sides, and the bytes a key hashes by.

use crate::{Keys, Side};
use record::RecordOrder;
use std::cmp::Ordering;

/// The two sides' record orders, seen by the join engine.
pub struct JoinKeys {
    pub left: RecordOrder,
    pub right: RecordOrder,
    /// Every key compares its bytes plainly (so hashing the bytes is hashing the key).
    pub plain: bool,
}

impl JoinKeys {
    /// Both sides' orders; plain when no key has comparison flags.
    pub fn new(left: RecordOrder, right: RecordOrder) -> JoinKeys {
        let plain = left.keys.iter().all(|k| !k.opts.any());
        JoinKeys { left, right, plain }
    }

    pub fn order(&self, side: Side) -> &RecordOrder {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// Whether keys can be hashed at all (human numbers have no canonical form).
    pub fn hashable(&self) -> bool {
        self.left.keys.iter().all(|k| !k.opts.human)
    }
}

impl Keys for JoinKeys {
    #[inline]
    fn cmp_lr(&self, l: &[u8], r: &[u8]) -> Ordering {
        for (i, k) in self.left.keys.iter().enumerate() {
            let o = k.opts.compare(self.left.key(l, i), self.right.key(r, i));
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    #[inline]
    fn cmp_side(&self, side: Side, a: &[u8], b: &[u8]) -> Ordering {
        self.order(side).compare_keys(a, b)
    }

    #[inline]
    fn hash_key(&self, side: Side, item: &[u8], out: &mut Vec<u8>) {
        let o = self.order(side);
        if self.plain {
            if o.keys.len() == 1 {
                out.extend_from_slice(o.key(item, 0));
                return;
            }
            for i in 0..o.keys.len() {
                let k = o.key(item, i);
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
            }
        } else {
            o.normalized(item, out);
        }
    }

    #[inline]
    fn prepare(&self, side: Side, item: &[u8], out: &mut Vec<u8>) -> bool {
        // Plain keys only: there equal bytes are equal keys, and the encoding below orders
        // as the comparison does (one key: its bytes; several: escaped and terminated).
        if !self.plain {
            return false;
        }
        let o = self.order(side);
        if o.keys.len() == 1 {
            out.extend_from_slice(o.key(item, 0));
            true
        } else {
            o.normalized(item, out)
        }
    }
}
