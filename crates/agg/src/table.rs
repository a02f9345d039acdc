//! The groups of a hash aggregation, packed: a key map (short keys inline in its slots)
//! gives each key a group number; keys, first items and states live in flat arrays indexed
//! by it. No allocation per group beyond the arrays' growth, and a record's probe touches
//! the slot and its group's states, not three separate heap blocks.

use crate::{Op, State};
use record::keymap::KeyMap;

/// Distinct keys and their aggregates' states.
pub struct Groups {
    map: KeyMap<u32>,
    ops: Vec<Op>,
    keys: Vec<u8>,
    key_at: Vec<(usize, u32)>,
    /// The first item of each group, when the caller needs more than the key.
    keep_items: bool,
    items: Vec<u8>,
    item_at: Vec<(usize, u32)>,
    /// `ops.len()` states per group.
    states: Vec<State>,
}

impl Groups {
    /// Groups for these aggregates; `keep_items`: also keep each group's first item.
    pub fn new(ops: Vec<Op>, keep_items: bool) -> Groups {
        Groups {
            map: KeyMap::default(),
            ops,
            keys: Vec::new(),
            key_at: Vec::new(),
            keep_items,
            items: Vec::new(),
            item_at: Vec::new(),
            states: Vec::new(),
        }
    }

    /// The states of `key`'s group, made (with `item`) when the key is new; the flag says
    /// whether it was.
    #[inline]
    pub fn states_for(&mut self, key: &[u8], item: &[u8]) -> (&mut [State], bool) {
        let next = self.key_at.len() as u32;
        let (&mut g, new) = self.map.entry(key, || next);
        if new {
            self.key_at.push((self.keys.len(), key.len() as u32));
            self.keys.extend_from_slice(key);
            if self.keep_items {
                self.item_at.push((self.items.len(), item.len() as u32));
                self.items.extend_from_slice(item);
            }
            self.states
                .extend(self.ops.iter().map(|&op| State::new(op)));
        }
        let n = self.ops.len();
        let at = g as usize * n;
        (&mut self.states[at..at + n], new)
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.key_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key_at.is_empty()
    }

    /// Group `g`'s key.
    pub fn key(&self, g: usize) -> &[u8] {
        let (at, n) = self.key_at[g];
        &self.keys[at..at + n as usize]
    }

    /// Group `g`'s first item (its key when items are not kept).
    pub fn item(&self, g: usize) -> &[u8] {
        if !self.keep_items {
            return self.key(g);
        }
        let (at, n) = self.item_at[g];
        &self.items[at..at + n as usize]
    }

    /// Group `g`'s item and states.
    pub fn item_and_states(&mut self, g: usize) -> (&[u8], &mut [State]) {
        let n = self.ops.len();
        let states = &mut self.states[g * n..(g + 1) * n];
        let item = if self.keep_items {
            let (at, len) = self.item_at[g];
            &self.items[at..at + len as usize]
        } else {
            let (at, len) = self.key_at[g];
            &self.keys[at..at + len as usize]
        };
        (item, states)
    }

    /// About the bytes in use, not counting what states grew by (callers count that). By
    /// lengths, not capacities: after [`Groups::clear`] the arrays keep their memory.
    pub fn bytes(&self) -> usize {
        self.map.len() * 48
            + self.keys.len()
            + self.items.len()
            + (self.key_at.len() + self.item_at.len()) * 16
            + self.states.len() * std::mem::size_of::<State>()
    }

    /// Take every group's states out (`ops.len()` per group, in group order), leaving
    /// the groups without states: only [`Groups::key`] and [`Groups::item`] stay usable.
    pub fn take_states(&mut self) -> Vec<State> {
        std::mem::take(&mut self.states)
    }

    /// How many states each group has.
    pub fn width(&self) -> usize {
        self.ops.len()
    }

    /// Forget every group, keeping the arrays' memory for the next ones.
    pub fn clear(&mut self) {
        self.map.clear();
        self.keys.clear();
        self.key_at.clear();
        self.items.clear();
        self.item_at.clear();
        self.states.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_keys_items_and_states_apart() {
        let mut g = Groups::new(vec![Op::Count, Op::Sum], true);
        for (k, v) in [
            ("a", "1"),
            ("bbbbbbbbbbbbbbbbbbbbbb", "2"),
            ("a", "3"),
            ("", "4"),
        ] {
            let item = format!("{k}\t{v}");
            let (st, _) = g.states_for(k.as_bytes(), item.as_bytes());
            for s in st.iter_mut() {
                s.update(v.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert_eq!(g.len(), 3);
        let mut seen = Vec::new();
        for i in 0..g.len() {
            let key = g.key(i).to_vec();
            let (item, st) = g.item_and_states(i);
            let mut out = Vec::new();
            for (s, op) in st.iter_mut().zip([Op::Count, Op::Sum]) {
                s.finish(op, &mut out).unwrap_or_else(|e| panic!("{e}"));
                out.push(b' ');
            }
            seen.push((
                key,
                item.to_vec(),
                String::from_utf8_lossy(&out).into_owned(),
            ));
        }
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), b"a\t1".to_vec(), "2 4 ".to_string()),
                (
                    b"bbbbbbbbbbbbbbbbbbbbbb".to_vec(),
                    b"bbbbbbbbbbbbbbbbbbbbbb\t2".to_vec(),
                    "1 2 ".to_string()
                ),
                (b"".to_vec(), b"\t4".to_vec(), "1 4 ".to_string()),
            ]
        );
        g.clear();
        assert!(g.is_empty());
        assert!(g.states_for(b"a", b"").1);
    }
}
