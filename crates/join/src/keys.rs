//! The join keys of both sides, as the engine sees them: comparisons across and within
//! sides, and the bytes a key hashes by.

use crate::{Keys, Side};
use record::{KeySpec, RecordOrder};
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

/// The key specs of each side: `one_side` (`--left-key`/`--right-key`) when given, else
/// `both` (`-k`), else field 1. Both sides need as many keys, compared alike; why not.
pub fn pair_specs(
    both: &[KeySpec],
    left: Vec<KeySpec>,
    right: Vec<KeySpec>,
) -> Result<(Vec<KeySpec>, Vec<KeySpec>), String> {
    let default = KeySpec::parse("1").map_err(|e| e.to_string())?;
    let fill = |s: Vec<KeySpec>| match (s.is_empty(), both.is_empty()) {
        (false, _) => s,
        (true, true) => vec![default.clone()],
        (true, false) => both.to_vec(),
    };
    let (left, right) = (fill(left), fill(right));
    if left.len() != right.len() {
        return Err(format!(
            "the left key has {} field(s) and the right key {}",
            left.len(),
            right.len()
        ));
    }
    for (l, r) in left.iter().zip(&right) {
        if l.opts != r.opts {
            return Err(format!(
                "keys '{}' and '{}' compare differently (give both the same flags)",
                l.text, r.text
            ));
        }
    }
    Ok((left, right))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(texts: &[&str]) -> Vec<KeySpec> {
        texts
            .iter()
            .map(|t| KeySpec::parse(t).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn texts(s: &[KeySpec]) -> Vec<&str> {
        s.iter().map(|k| k.text.as_str()).collect()
    }

    #[test]
    fn sides_default_to_k_then_field_1() {
        let (l, r) = pair_specs(&[], vec![], vec![]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((texts(&l), texts(&r)), (vec!["1"], vec!["1"]));
        let (l, r) =
            pair_specs(&specs(&["2"]), vec![], specs(&["3"])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((texts(&l), texts(&r)), (vec!["2"], vec!["3"]));
    }

    #[test]
    fn sides_need_as_many_keys_compared_alike() {
        let e = pair_specs(&[], specs(&["1", "2"]), vec![])
            .err()
            .unwrap_or_default();
        assert_eq!(e, "the left key has 2 field(s) and the right key 1");
        let e = pair_specs(&[], specs(&["1n"]), specs(&["1"]))
            .err()
            .unwrap_or_default();
        assert!(e.contains("compare differently"), "{e}");
    }
}
