//! Spilled partial states: a table past its share of `-S` pushes its groups into an
//! external sort ([`spill_groups`]); at the end [`finish_spilled`] merges them back in key
//! order (a key's earlier spills first), folds equal keys and writes each group.
//!
//! A spilled item is `item_len:u32 item key_len:u32 key states...` (the states in
//! [`crate::State::encode`]'s binary form), sorted by [`SpillOrder`].

use super::{Aggs, At, Error, Result, Sink};
use crate::table::Groups;
use crate::{Spec, State};
use extsort::{Order, Prefix, Sorter};
use record::RecordOrder;
use std::cmp::Ordering;

/// The order of spilled partial states: the group's key as the record order sees it, then
/// its key bytes. Items: `item_len:u32 item key_len:u32 key states...`.
pub struct SpillOrder(pub RecordOrder);

fn spill_parts(item: &[u8]) -> (&[u8], &[u8]) {
    let mut r = crate::partial::Reader { buf: item };
    let it = r.bytes().unwrap_or(&[]);
    let key = r.bytes().unwrap_or(&[]);
    (it, key)
}

impl Order for SpillOrder {
    fn prefix(&self, item: &[u8]) -> Prefix {
        self.0.prefix(spill_parts(item).0)
    }

    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        let (ia, ka) = spill_parts(a);
        let (ib, kb) = spill_parts(b);
        self.0.compare_keys(ia, ib).then_with(|| ka.cmp(kb))
    }
}

pub fn encode_spill(buf: &mut Vec<u8>, item: &[u8], key: &[u8], states: &[State]) {
    buf.extend_from_slice(&(item.len() as u32).to_le_bytes());
    buf.extend_from_slice(item);
    buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
    buf.extend_from_slice(key);
    for s in states {
        s.encode(buf);
    }
}

/// A spilled group: its item, its key bytes and its states.
pub fn decode_spill(item: &[u8], specs: &[Spec]) -> Result<(Vec<u8>, Vec<u8>, Vec<State>)> {
    let corrupt = |_| Error::Data("a spilled partial state is corrupt".into());
    let mut r = crate::partial::Reader { buf: item };
    let it = r.bytes().map_err(corrupt)?.to_vec();
    let key = r.bytes().map_err(corrupt)?.to_vec();
    let mut states = Vec::with_capacity(specs.len());
    for s in specs {
        states.push(State::decode(s.op, &mut r).map_err(corrupt)?);
    }
    Ok((it, key, states))
}

/// Push every group of `groups` into the spill sort (as partial states) and clear them.
/// A new group's key (and first record, when groups keep it) are spilled together:
/// refuse, at its line, a record too large for that, rather than fail at a later spill that
/// cannot say where. `budget` is `-S`; the spill sort has `cfg`'s share of it.
pub fn check_spillable(
    cfg: &extsort::Config,
    budget: usize,
    at: &At,
    rec: &[u8],
    key: &[u8],
    keep_item: bool,
) -> Result<()> {
    let need = key.len() + if keep_item { rec.len() } else { key.len() } + 64;
    if need > extsort::max_item(cfg.budget) {
        return Err(Error::Data(format!(
            "{at}: a record of {} bytes (key {} bytes) does not fit the memory budget of {budget} bytes for --hash, which spills a group's key and first record within part of it (raise -S to at least {})",
            rec.len(),
            key.len(),
            (budget as u128 * (need as u128 + 64)).div_ceil(cfg.budget.max(1) as u128),
        )));
    }
    Ok(())
}

pub fn spill_groups(groups: &mut Groups, s: &mut Sorter<SpillOrder>) -> Result<()> {
    for g in 0..groups.len() {
        let k = groups.key(g).to_vec();
        let (it, states) = groups.item_and_states(g);
        s.push_with(it.len() + k.len() + 64, |buf| {
            encode_spill(buf, it, &k, states);
            Ok::<(), std::convert::Infallible>(())
        })
        .map_err(|e| match e {
            extsort::PushError::Sort(e) => Error::Sort(e),
            extsort::PushError::Build(never) => match never {},
        })?;
    }
    groups.clear();
    Ok(())
}

/// Merge the spilled partial states back, sorted by key (earlier spills of a key first),
/// fold equal keys and write each group.
pub fn finish_spilled(
    s: Sorter<SpillOrder>,
    aggs: &Aggs,
    order: &RecordOrder,
    out: &mut dyn Sink,
) -> Result<extsort::Stats> {
    let emit = |it: &[u8], b: &mut Vec<u8>| {
        b.extend_from_slice(&(it.len() as u32).to_le_bytes());
        b.extend_from_slice(it);
    };
    let mut current: Option<(Vec<u8>, Vec<u8>, Vec<State>)> = None;
    let mut failed: Option<Error> = None;
    let mut sink = |mut block: &[u8]| -> std::io::Result<()> {
        while block.len() >= 4 {
            let n = u32::from_le_bytes([block[0], block[1], block[2], block[3]]) as usize;
            let it = block.get(4..4 + n).unwrap_or(&[]);
            block = block.get(4 + n..).unwrap_or(&[]);
            let res =
                decode_spill(it, &aggs.specs).and_then(|(it, k, states)| match &mut current {
                    Some((_, ck, cs)) if *ck == k => {
                        for (a, b) in cs.iter_mut().zip(states) {
                            a.merge(b);
                        }
                        Ok(())
                    }
                    _ => match current.replace((it, k, states)) {
                        Some((ci, _, mut cs)) => out.group(aggs, order, &ci, &mut cs),
                        None => Ok(()),
                    },
                });
            if let Err(e) = res {
                failed = Some(e);
                return Err(std::io::Error::other("stopped"));
            }
        }
        Ok(())
    };
    let sort_stats = s.finish(&emit, &mut sink);
    if let Some(e) = failed {
        return Err(e);
    }
    let sort_stats = sort_stats?;
    if let Some((ci, _, mut cs)) = current.take() {
        out.group(aggs, order, &ci, &mut cs)?;
    }
    Ok(sort_stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{aggs::parse_specs, At, Output};
    use record::{FieldSplit, Format, Key, KeyOpts, KeySpec};

    const TSV: Format = Format::Text(FieldSplit::Char(b'\t'));

    struct Lines(Vec<u8>);

    impl Sink for Lines {
        fn what(&self) -> Output {
            Output::Final
        }

        fn lines(&mut self, bytes: &[u8], _: u64) -> Result<()> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }

        fn group(
            &mut self,
            aggs: &Aggs,
            order: &RecordOrder,
            item: &[u8],
            states: &mut [State],
        ) -> Result<()> {
            aggs.write(order, item, states, Output::Final, b'\n', &mut self.0)
        }
    }

    #[test]
    fn spilled_groups_come_back_merged_in_key_order() {
        let texts = [
            "count".to_string(),
            "sum:2".to_string(),
            "first:2".to_string(),
        ];
        let specs = parse_specs(texts.iter()).unwrap_or_else(|e| panic!("{e}"));
        let mut aggs = Aggs::new(specs, TSV, None, false).unwrap_or_else(|e| panic!("{e}"));
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, TSV, None).unwrap_or_else(|e| panic!("{e}"));
        let order = RecordOrder::new(TSV, vec![key], KeyOpts::default(), true);
        let cfg = extsort::Config {
            budget: 4096,
            ..extsort::Config::default()
        };
        let mut sorter =
            Sorter::new(SpillOrder(order.clone()), cfg).unwrap_or_else(|e| panic!("{e}"));
        let mut groups = Groups::new(aggs.specs.iter().map(|s| s.op).collect(), true);
        let at = At { name: "-", line: 1 };
        // Three spills; key b in all of them, its first value in the first.
        for chunk in [
            &["b\t1", "a\t2"][..],
            &["c\t3", "b\t4"],
            &["b\t0.5", "a\t1e1"],
        ] {
            for rec in chunk {
                let rec = rec.as_bytes();
                aggs.prepare(rec, &at).unwrap_or_else(|e| panic!("{e}"));
                let k = aggs.field(rec, 0);
                let (states, _) = groups.states_for(k, rec);
                aggs.update(states, rec, &at)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            spill_groups(&mut groups, &mut sorter).unwrap_or_else(|e| panic!("{e}"));
            assert!(groups.is_empty());
        }
        let mut out = Lines(Vec::new());
        finish_spilled(sorter, &aggs, &order, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out.0),
            "a\t2\t12\t2\nb\t3\t5.5\t1\nc\t1\t3\t3\n"
        );
        // A corrupt item is an error, not a panic.
        let specs = &aggs.specs;
        assert!(matches!(
            decode_spill(b"\x05\0\0\0ab", specs),
            Err(Error::Data(_))
        ));
        let mut buf = Vec::new();
        encode_spill(&mut buf, b"k\t1", b"k", &aggs.new_states());
        let (it, k, st) = decode_spill(&buf, specs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (it.as_slice(), k.as_slice(), st.len()),
            (&b"k\t1"[..], &b"k"[..], 3)
        );
    }
}
