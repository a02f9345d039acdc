//! Every strategy against a naive nested-loop model, as multisets (and in the documented
//! order where it is promised), with budgets tiny enough to spill groups and overflow builds.

use super::*;
use proptest::prelude::*;
use proptest::strategy::Strategy;

/// Items are `key:value`; the key is the text before the first ':'. `Colon(true)` prepares
/// keys for merging, `Colon(false)` makes the merge compare items.
struct Colon(bool);

fn key(item: &[u8]) -> &[u8] {
    match item.iter().position(|&c| c == b':') {
        Some(i) => &item[..i],
        None => item,
    }
}

impl Keys for Colon {
    fn cmp_lr(&self, l: &[u8], r: &[u8]) -> Ordering {
        key(l).cmp(key(r))
    }
    fn cmp_side(&self, _side: Side, a: &[u8], b: &[u8]) -> Ordering {
        key(a).cmp(key(b))
    }
    fn hash_key(&self, _side: Side, item: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(key(item));
    }
    fn prepare(&self, _side: Side, item: &[u8], out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(key(item));
        self.0
    }
}

struct Vecs {
    items: Vec<Vec<u8>>,
    pos: usize,
}

impl Input for Vecs {
    fn advance(&mut self) -> Result<bool> {
        self.pos += 1;
        Ok(self.pos <= self.items.len())
    }
    fn current(&self) -> &[u8] {
        &self.items[self.pos - 1]
    }
    fn at(&self) -> String {
        format!("mem:{}", self.pos)
    }
}

fn vecs(items: &[Vec<u8>]) -> Vecs {
    Vecs {
        items: items.to_vec(),
        pos: 0,
    }
}

type Row = (Option<Vec<u8>>, Option<Vec<u8>>);

#[derive(Default)]
struct Collect(Vec<Row>);

impl Sink for Collect {
    fn emit(&mut self, l: Option<&[u8]>, r: Option<&[u8]>) -> io::Result<()> {
        self.0.push((l.map(<[u8]>::to_vec), r.map(<[u8]>::to_vec)));
        Ok(())
    }
}

fn model(jt: JoinType, left: &[Vec<u8>], right: &[Vec<u8>]) -> Vec<Row> {
    let mut out = Vec::new();
    for l in left {
        let m: Vec<&Vec<u8>> = right.iter().filter(|r| key(r) == key(l)).collect();
        match jt {
            JoinType::Semi if !m.is_empty() => out.push((Some(l.clone()), None)),
            JoinType::Anti if m.is_empty() => out.push((Some(l.clone()), None)),
            JoinType::Semi | JoinType::Anti => {}
            _ => {
                for r in &m {
                    out.push((Some(l.clone()), Some((*r).clone())));
                }
                if m.is_empty() && jt.left_unmatched() {
                    out.push((Some(l.clone()), None));
                }
            }
        }
    }
    if jt.right_unmatched() {
        for r in right {
            if !left.iter().any(|l| key(l) == key(r)) {
                out.push((None, Some(r.clone())));
            }
        }
    }
    out.sort();
    out
}

fn cfg(budget: usize) -> Config {
    Config {
        budget,
        tmp_parent: std::env::temp_dir(),
        cancel: None,
    }
}

const TYPES: [JoinType; 6] = [
    JoinType::Inner,
    JoinType::Left,
    JoinType::Right,
    JoinType::Full,
    JoinType::Semi,
    JoinType::Anti,
];

fn side() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(
        (
            prop_oneof![
                "[a-d]{0,1}",
                // Keys past the 16 bytes a hash slot holds, equal in those 16.
                "[a-b]{0,2}".prop_map(|k| format!("a-long-common-prefix-{k}")),
            ],
            "[x-z]{0,2}",
        )
            .prop_map(|(k, v)| format!("{k}:{v}").into_bytes()),
        0..30,
    )
}

proptest! {
    #[test]
    fn strategies_equal_the_model(left in side(), right in side(), budget in 1usize..64) {
        for jt in TYPES {
            let want = model(jt, &left, &right);
            // Merge over sorted (stable) inputs, verified.
            let mut ls = left.clone();
            ls.sort_by(|a, b| key(a).cmp(key(b)));
            let mut rs = right.clone();
            rs.sort_by(|a, b| key(a).cmp(key(b)));
            for prepared in [true, false] {
                let mut got = Collect::default();
                let st = merge_join(&Colon(prepared), jt, &mut vecs(&ls), &mut vecs(&rs), &mut got, &cfg(budget), true)
                    .unwrap_or_else(|e| panic!("{e}"));
                prop_assert_eq!(st.records_out as usize, got.0.len());
                let mut g = got.0;
                g.sort();
                prop_assert_eq!(&g, &want, "merge {:?}", jt);
            }
            for build in [Side::Left, Side::Right] {
                let b = if build == Side::Left { &left } else { &right };
                let s = if build == Side::Left { &right } else { &left };
                let t = match HashTable::build(&Colon(true), build, &mut vecs(b), usize::MAX, &cfg(budget))
                    .unwrap_or_else(|e| panic!("{e}")) {
                    Built::Fits(t) => t,
                    Built::Overflow(_) => panic!("overflow"),
                };
                let mut got = Collect::default();
                hash_join(&Colon(true), jt, &t, &mut vecs(s), &mut got, &cfg(budget))
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut g = got.0;
                g.sort();
                prop_assert_eq!(&g, &want, "hash {:?} build {:?}", jt, build);
            }
        }
    }
}

#[test]
fn unsorted_input_is_refused_with_its_position() {
    let l: Vec<Vec<u8>> = vec![b"b:1".to_vec(), b"a:2".to_vec()];
    let r: Vec<Vec<u8>> = vec![b"a:1".to_vec()];
    for prepared in [true, false] {
        let e = merge_join(
            &Colon(prepared),
            JoinType::Inner,
            &mut vecs(&l),
            &mut vecs(&r),
            &mut Collect::default(),
            &cfg(100),
            true,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.starts_with("mem:2: left input is not sorted"), "{e}");
    }
}

#[test]
fn overflow_keeps_what_was_read() {
    let items: Vec<Vec<u8>> = (0..100).map(|i| format!("{i}:v").into_bytes()).collect();
    let mut input = vecs(&items);
    match HashTable::build(&Colon(true), Side::Right, &mut input, 200, &cfg(200)) {
        Ok(Built::Overflow(t)) => {
            let n = t.len();
            assert!(n > 0 && n < 100);
            let read: Vec<&[u8]> = t.items().collect();
            assert_eq!(read[n - 1], &items[n - 1][..]);
            assert_eq!(input.current(), &items[n - 1][..]);
        }
        _ => panic!("expected an overflow"),
    }
}

#[test]
fn ordered_driver_keeps_order_and_stops_on_error() {
    let mut seen = Vec::new();
    let r: std::result::Result<(), String> = run_ordered(50, 4, &|i| Ok(i * 2), &mut |i, v| {
        seen.push((i, v));
        Ok(())
    });
    assert!(r.is_ok());
    assert_eq!(seen, (0..50).map(|i| (i, i * 2)).collect::<Vec<_>>());
    let r: std::result::Result<(), String> = run_ordered(
        50,
        3,
        &|i| if i == 7 { Err("seven".into()) } else { Ok(i) },
        &mut |_, _| Ok(()),
    );
    assert_eq!(r, Err("seven".to_string()));
}

/// A parallel probe over blocks of `key:value` lines; a line starting with `!` is a bad
/// record (an error, or kept aside with `skip`); output lines `L|R` into a buffer.
struct Lines {
    skip: bool,
}

struct LineSink(Vec<u8>);

impl Sink for LineSink {
    fn emit(&mut self, l: Option<&[u8]>, r: Option<&[u8]>) -> io::Result<()> {
        self.0.extend_from_slice(l.unwrap_or(b"-"));
        self.0.push(b'|');
        self.0.extend_from_slice(r.unwrap_or(b"-"));
        self.0.push(b'\n');
        Ok(())
    }
}

impl parallel::BlockSink for LineSink {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl parallel::Probe for Lines {
    type Parser = Vec<u8>;
    type Out = LineSink;
    type Note = Vec<u8>;
    fn parser(&self) -> Vec<u8> {
        Vec::new()
    }
    fn out(&self) -> LineSink {
        LineSink(Vec::new())
    }
    fn items(
        &self,
        bad: &mut Vec<u8>,
        block: &blocks::Block,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        for (line, rec) in block.records(blocks::Framing::Lines(b'\n')) {
            if rec.starts_with(b"!") {
                if !self.skip {
                    return Err(Error::Input(format!("in:{line}: bad")));
                }
                bad.extend_from_slice(rec);
                bad.push(b'\n');
                continue;
            }
            each(rec)?;
        }
        Ok(())
    }
    fn note(&self, bad: &mut Vec<u8>) -> Vec<u8> {
        std::mem::take(bad)
    }
}

/// The parallel probe of `stream` (lines) against `table`: output, bad records, or error.
fn probe_par(
    jt: JoinType,
    table: &HashTable,
    stream: &[u8],
    threads: usize,
    block: usize,
    out_cap: usize,
    skip: bool,
) -> std::result::Result<(Vec<u8>, Vec<u8>, Stats), String> {
    let mut cutter = blocks::Cutter::new(
        Vec::new(),
        stream,
        false,
        blocks::Framing::Lines(b'\n'),
        block,
        1 << 20,
        1,
    );
    let mut next = || cutter.next_block().map_err(|e| Error::Input(e.to_string()));
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let limits = parallel::Limits {
        in_flight: threads + 1,
        out_cap,
    };
    let mut probed = parallel::probe_blocks(
        &Colon(true),
        jt,
        table,
        &Lines { skip },
        &mut next,
        threads,
        limits,
        &mut out,
        &mut |n: Vec<u8>| {
            bad.extend_from_slice(&n);
            Ok(())
        },
        &cfg(1 << 20),
    )
    .map_err(|e| e.to_string())?;
    let mut sink = LineSink(out);
    parallel::finish(jt, table, &mut probed, &mut sink).map_err(|e| e.to_string())?;
    Ok((sink.0, bad, probed.stats))
}

proptest! {
    #[test]
    fn parallel_probe_is_the_serial_join_byte_for_byte(
        left in side(), right in side(), threads in 1usize..4, block in 2usize..40,
        out_cap in prop_oneof![Just(1usize), Just(1 << 20)],
    ) {
        for jt in TYPES {
            for build in [Side::Left, Side::Right] {
                let b = if build == Side::Left { &left } else { &right };
                let s = if build == Side::Left { &right } else { &left };
                let t = match HashTable::build(&Colon(true), build, &mut vecs(b), usize::MAX, &cfg(1))
                    .unwrap_or_else(|e| panic!("{e}")) {
                    Built::Fits(t) => t,
                    Built::Overflow(_) => panic!("overflow"),
                };
                let mut want = LineSink(Vec::new());
                let st = hash_join(&Colon(true), jt, &t, &mut vecs(s), &mut want, &cfg(1))
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut text = Vec::new();
                for item in s {
                    text.extend_from_slice(item);
                    text.push(b'\n');
                }
                let (got, _, pst) = probe_par(jt, &t, &text, threads, block, out_cap, false)
                    .unwrap_or_else(|e| panic!("{e}"));
                prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want.0), "{:?} build {:?}", jt, build);
                prop_assert_eq!(pst, st);
            }
        }
    }
}

#[test]
fn parallel_probe_reports_the_first_error_and_bad_records_in_order() {
    let build: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("k{}:b{i}", i % 7).into_bytes())
        .collect();
    let t = match HashTable::build(
        &Colon(true),
        Side::Right,
        &mut vecs(&build),
        usize::MAX,
        &cfg(1),
    ) {
        Ok(Built::Fits(t)) => t,
        _ => panic!("build"),
    };
    let mut text = String::new();
    for i in 0..2000 {
        if i % 97 == 13 {
            text.push_str(&format!("!bad{i}\n"));
        } else {
            text.push_str(&format!("k{}:s{i}\n", i % 11));
        }
    }
    let serial = probe_par(
        JoinType::Full,
        &t,
        text.as_bytes(),
        1,
        1 << 20,
        1 << 20,
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let want_bad: String = (0..2000)
        .filter(|i| i % 97 == 13)
        .map(|i| format!("!bad{i}\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&serial.1), want_bad);
    for threads in [1, 2, 3, 5] {
        for block in [3, 50, 700] {
            for cap in [1, 1 << 20] {
                let got = probe_par(
                    JoinType::Full,
                    &t,
                    text.as_bytes(),
                    threads,
                    block,
                    cap,
                    true,
                )
                .unwrap_or_else(|e| panic!("{e}"));
                assert!(got.0 == serial.0, "output: {threads} {block} {cap}");
                assert!(got.1 == serial.1, "bad records: {threads} {block} {cap}");
                let e = probe_par(
                    JoinType::Full,
                    &t,
                    text.as_bytes(),
                    threads,
                    block,
                    cap,
                    false,
                )
                .err()
                .unwrap_or_default();
                assert_eq!(e, "in:14: bad", "{threads} {block} {cap}");
            }
        }
    }
}
