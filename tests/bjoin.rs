//! bjoin against independent oracles:
//!
//! * sqlite3 (Python's stdlib) on random left/right tables with duplicate keys on both sides,
//!   keys on one side only, empty fields (and empty keys, which match) and empty tables: all
//!   six types × hash (build left, build right), merge, merge `--sorted`, auto, and tiny
//!   `-S` budgets (spilled groups and sorts, auto falling back), compared as multisets in
//!   the SPEC layout;
//! * GNU `join -t TAB` in the C locale, byte for byte, for inner joins of sorted input
//!   (field 1, and `-1 2 -2 1`);
//! * the unpartitioned join, for `--partitioned` over `bsplit --hash` and `bshuffle -o`;
//! * faults: `--sorted` on unsorted input, mismatched partitionings, a build side beyond
//!   `-S` (auto falls back, forced hash stops), bad records, usage errors, a closed pipe,
//!   SIGTERM with `-o`.
//!
//! `BATCHKIT_SEED` changes the random seeds.

use crate::util::{self, Dir, Rng};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bjoin() -> &'static str {
    util::bin!("bjoin")
}

const TYPES: [&str; 6] = ["inner", "left", "right", "full", "semi", "anti"];

/// The reference: for each case `{left, right, fill}` (rows of strings; left rows `k a b`,
/// right rows `k c`), the sorted output lines of each join type in the SPEC layout: key,
/// left's other fields, right's other fields, the missing side filled (an empty side adds
/// no fields); semi/anti: left records.
const ORACLE_PY: &str = r#"
import sys, json, sqlite3
cases = json.load(sys.stdin)
out = []
for c in cases:
    db = sqlite3.connect(':memory:')
    db.execute('create table l(i integer, k text, a text, b text)')
    db.execute('create table r(i integer, k text, c text)')
    db.executemany('insert into l values (?,?,?,?)', [[i] + row for i, row in enumerate(c['left'])])
    db.executemany('insert into r values (?,?,?)', [[i] + row for i, row in enumerate(c['right'])])
    f = c['fill']
    lcols = ['a', 'b'] if c['left'] else []
    rcols = ['c'] if c['right'] else []
    def cols(side, names):
        return ''.join(", coalesce(%s.%s, '%s')" % (side, n, f) for n in names)
    sel = "select coalesce(l.k, r.k)" + cols('l', lcols) + cols('r', rcols)
    q = {
        'inner': sel + " from l join r on l.k = r.k",
        'left': sel + " from l left join r on l.k = r.k",
        'right': sel + " from l right join r on l.k = r.k",
        'full': sel + " from l full join r on l.k = r.k",
        'semi': "select k, a, b from l where exists (select 1 from r where r.k = l.k)",
        'anti': "select k, a, b from l where not exists (select 1 from r where r.k = l.k)",
    }
    res = {}
    for t, sql in q.items():
        res[t] = sorted('\t'.join(row) for row in db.execute(sql))
    out.append(res)
json.dump(out, sys.stdout)
"#;

fn oracle(cases: &[Value]) -> Vec<Value> {
    let mut child = Command::new("python3")
        .args(["-c", ORACLE_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let input = serde_json::to_vec(cases).expect("json");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("python3 output");
    writer.join().expect("writer").expect("write to python3");
    assert!(out.status.success(), "oracle failed");
    match serde_json::from_slice(&out.stdout).expect("oracle json") {
        Value::Array(v) => v,
        _ => panic!("oracle output is not a list"),
    }
}

fn word(rng: &mut Rng, alphabet: &[&str]) -> String {
    rng.pick(alphabet).to_string()
}

/// A random table: `cols` columns, the first a key from a small domain (so that keys
/// repeat on both sides and some occur on one side only), the rest short values, some empty.
fn table(rng: &mut Rng, rows: usize, cols: usize, keys: &[&str]) -> Vec<Vec<String>> {
    (0..rows)
        .map(|_| {
            let mut r = vec![word(rng, keys)];
            for _ in 1..cols {
                r.push(word(rng, &["", "x", "y", "zz", "1", "-2.5", "x y"]));
            }
            r
        })
        .collect()
}

fn tsv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut s = String::new();
    for r in rows {
        s.push_str(&r.join("\t"));
        s.push('\n');
    }
    s.into_bytes()
}

/// Rows sorted by their first field, bytewise, stably (`sort -s -t TAB -k1,1`).
fn sorted(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut v = rows.to_vec();
    v.sort_by(|a, b| a[0].as_bytes().cmp(b[0].as_bytes()));
    v
}

fn lines_sorted(out: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: status {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_type_and_strategy_equals_sqlite() {
    let seed = Rng::seed_from_env(0x6a01);
    let mut rng = Rng::new(seed);
    let keys = ["a", "b", "c", "d", "", "e f", "10", "9"];
    let mut cases = Vec::new();
    let mut inputs = Vec::new();
    let shapes = [(0, 5), (6, 0), (0, 0), (1, 1), (25, 18), (40, 30), (12, 60)];
    for (i, &(nl, nr)) in shapes.iter().enumerate() {
        let left = table(&mut rng, nl, 3, &keys[..(3 + i).min(keys.len())]);
        let right = table(&mut rng, nr, 2, &keys[1..]);
        let fill = if i % 2 == 0 { "" } else { "NA" };
        cases.push(json!({"left": left, "right": right, "fill": fill}));
        inputs.push((left, right, fill));
    }
    let want = oracle(&cases);
    let d = Dir::new();
    let mut failures = Vec::new();
    for (ci, (left, right, fill)) in inputs.iter().enumerate() {
        d.write("l.tsv", tsv(left));
        d.write("r.tsv", tsv(right));
        d.write("ls.tsv", tsv(&sorted(left)));
        d.write("rs.tsv", tsv(&sorted(right)));
        for t in TYPES {
            let expected: Vec<String> = want[ci][t]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            let variants: Vec<Vec<&str>> = vec![
                vec!["--strategy", "hash", "--build", "left"],
                vec!["--strategy", "hash", "--build", "right"],
                vec!["--strategy", "hash", "--build", "left", "-j", "3"],
                vec!["--strategy", "hash", "--build", "right", "-j", "2"],
                vec!["-S", "100b", "-j", "3"],
                vec!["--strategy", "merge"],
                vec!["--strategy", "merge", "-S", "200b"],
                vec!["--strategy", "merge", "--sorted", "ls.tsv", "rs.tsv"],
                vec!["--sorted", "-S", "30b", "ls.tsv", "rs.tsv"],
                vec![],
                vec!["-S", "100b"],
            ];
            for v in variants {
                let mut args: Vec<&str> = vec!["--type", t, "--fill", fill];
                args.extend(&v);
                if !v.contains(&"ls.tsv") {
                    args.extend(["l.tsv", "r.tsv"]);
                }
                // Standard input too, so that auto does not know the sizes.
                let out = if v.is_empty() && ci % 2 == 1 {
                    args.pop();
                    args.push("-");
                    d.run(bjoin(), &args, &tsv(right))
                } else {
                    d.run(bjoin(), &args, b"")
                };
                ok(&out, &format!("case {ci} {args:?}"));
                let got = lines_sorted(&out.stdout);
                if got != expected {
                    failures.push(format!(
                        "case {ci} (seed {seed}) bjoin {}\n  want {expected:?}\n  got  {got:?}",
                        args.join(" ")
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn gnu_join(d: &Dir, args: &[&str]) -> Output {
    let mut cmd = Command::new("join");
    cmd.args(args)
        .current_dir(d.path())
        .env("LC_ALL", "C")
        .env("PATH", "/usr/bin:/bin");
    util::run_cmd(cmd, b"")
}

#[test]
fn inner_join_of_sorted_input_is_gnu_join_byte_for_byte() {
    let seed = Rng::seed_from_env(0x6a02);
    let mut rng = Rng::new(seed);
    let d = Dir::new();
    let keys = ["a", "b", "bb", "c", "d", "e", "f", "g", "A", "0", "1"];
    for round in 0..4 {
        let left = sorted(&table(&mut rng, 200 + 100 * round, 3, &keys));
        let right = sorted(&table(&mut rng, 150, 2, &keys[2..]));
        d.write("l.tsv", tsv(&left));
        d.write("r.tsv", tsv(&right));
        let want = gnu_join(&d, &["-t", "\t", "l.tsv", "r.tsv"]);
        ok(&want, "join");
        assert!(!want.stdout.is_empty());
        for v in [
            vec!["--sorted"],
            vec!["--sorted", "-S", "64b"],
            vec!["--strategy", "merge", "-S", "1K"],
            vec!["--strategy", "hash", "--build", "right"],
            vec!["--strategy", "hash", "--build", "right", "-j", "3"],
            vec!["--strategy", "hash", "--build", "right", "-j", "2"],
        ] {
            let mut args = v.clone();
            args.extend(["l.tsv", "r.tsv"]);
            let got = d.run(bjoin(), &args, b"");
            ok(&got, "bjoin");
            assert!(
                got.stdout == want.stdout,
                "bjoin {args:?} differs from join -t TAB (seed {seed}):\n{}",
                util::first_difference(&want.stdout, &got.stdout, b'\n').unwrap_or_default()
            );
        }
        // Join field 2 of the left with field 1 of the right.
        let mut l2: Vec<Vec<String>> = left
            .iter()
            .map(|r| vec![r[1].clone(), r[0].clone(), r[2].clone()])
            .collect();
        l2.sort_by(|a, b| a[1].as_bytes().cmp(b[1].as_bytes()));
        d.write("l2.tsv", tsv(&l2));
        let want = gnu_join(&d, &["-t", "\t", "-1", "2", "-2", "1", "l2.tsv", "r.tsv"]);
        ok(&want, "join -1 2");
        let got = d.run(
            bjoin(),
            [
                "--sorted",
                "--left-key",
                "2",
                "--right-key",
                "1",
                "l2.tsv",
                "r.tsv",
            ],
            b"",
        );
        ok(&got, "bjoin --left-key 2");
        assert!(
            got.stdout == want.stdout,
            "bjoin --left-key 2 differs from join -1 2:\n{}",
            util::first_difference(&want.stdout, &got.stdout, b'\n').unwrap_or_default()
        );
    }
}

fn one_line_error(out: &Output, code: i32, starts: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with(starts), "stderr: {err}");
}

#[test]
fn sorted_on_unsorted_input_fails_cleanly() {
    let d = Dir::new();
    d.write("l.tsv", "a\t1\nc\t2\nb\t3\n");
    d.write("r.tsv", "a\tx\nb\ty\nc\tz\n");
    let out = d.run(
        bjoin(),
        ["--sorted", "-o", "out.tsv", "l.tsv", "r.tsv"],
        b"",
    );
    one_line_error(&out, 1, "bjoin: l.tsv:3: left input is not sorted by key");
    assert!(!d.exists("out.tsv"));
    let out = d.run(bjoin(), ["--sorted", "r.tsv", "l.tsv"], b"");
    one_line_error(&out, 1, "bjoin: l.tsv:3: right input is not sorted");
    // Without --sorted the same inputs are sorted first.
    let out = d.run(bjoin(), ["--strategy", "merge", "l.tsv", "r.tsv"], b"");
    ok(&out, "merge");
    assert_eq!(out.stdout, b"a\t1\tx\nb\t3\ty\nc\t2\tz\n");
}

#[test]
fn build_side_beyond_the_budget() {
    let d = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0x6a03));
    let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let left = table(&mut rng, 2000, 3, &key_refs);
    let right = table(&mut rng, 1500, 2, &key_refs);
    d.write("l.tsv", tsv(&left));
    d.write("r.tsv", tsv(&right));
    let reference = d.run(bjoin(), ["--strategy", "merge", "l.tsv", "r.tsv"], b"");
    ok(&reference, "merge");
    // Auto, right side from stdin (size unknown): tries to build, falls back to merge.
    let out = d.run(
        bjoin(),
        ["-S", "4K", "--stats=st.json", "l.tsv", "-"],
        &tsv(&right),
    );
    ok(&out, "auto fallback");
    assert_eq!(lines_sorted(&out.stdout), lines_sorted(&reference.stdout));
    let st: Value = serde_json::from_slice(&d.read("st.json")).expect("stats json");
    assert_eq!(st["strategy"], "merge");
    assert_eq!(st["fallback"], true);
    assert_eq!(st["records_in"], 3500);
    // And with room, auto is a hash join building the smaller file.
    let out = d.run(bjoin(), ["--stats=st.json", "l.tsv", "r.tsv"], b"");
    ok(&out, "auto hash");
    let st: Value = serde_json::from_slice(&d.read("st.json")).expect("stats json");
    assert_eq!(st["strategy"], "hash");
    assert_eq!(st["build_side"], "right");
    assert_eq!(lines_sorted(&out.stdout), lines_sorted(&reference.stdout));
    // Forced hash stops with a clear message and leaves no output.
    let out = d.run(
        bjoin(),
        [
            "--strategy",
            "hash",
            "-S",
            "4K",
            "-o",
            "o.tsv",
            "l.tsv",
            "r.tsv",
        ],
        b"",
    );
    one_line_error(
        &out,
        1,
        "bjoin: the right input (r.tsv) does not fit the memory budget",
    );
    assert!(!d.exists("o.tsv"));
}

#[test]
fn partitioned_joins_equal_the_unpartitioned_join() {
    let d = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0x6a04));
    let keys: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    // The left is keyed by its field 2 (orders by user), the right by field 1.
    let left: Vec<Vec<String>> = table(&mut rng, 300, 3, &key_refs)
        .into_iter()
        .map(|r| vec![r[1].clone(), r[0].clone(), r[2].clone()])
        .collect();
    let right = table(&mut rng, 60, 2, &key_refs[5..]);
    d.write("l.tsv", tsv(&left));
    d.write("r.tsv", tsv(&right));
    let split = |args: &[&str]| {
        let out = d.run(util::bin!("bsplit"), args, b"");
        ok(&out, "bsplit");
    };
    split(&["--hash", "-n", "4", "-k", "2", "-o", "L", "l.tsv"]);
    let out = d.run(util::bin!("bshuffle"), ["-n", "4", "-o", "R", "r.tsv"], b"");
    ok(&out, "bshuffle");
    for t in TYPES {
        let want = d.run(
            bjoin(),
            ["--type", t, "--left-key", "2", "l.tsv", "r.tsv"],
            b"",
        );
        ok(&want, "unpartitioned");
        for v in [
            vec!["-j", "3"],
            vec!["--strategy", "merge", "-S", "1K", "-j", "2"],
            vec!["--strategy", "hash", "-j", "1"],
        ] {
            let mut args = vec!["--partitioned", "--type", t, "--left-key", "2"];
            args.extend(&v);
            args.extend(["L", "R"]);
            let got = d.run(bjoin(), &args, b"");
            ok(&got, &format!("{args:?}"));
            assert_eq!(
                lines_sorted(&got.stdout),
                lines_sorted(&want.stdout),
                "{args:?}"
            );
        }
    }
    // Deterministic for any -j.
    let a = d.run(
        bjoin(),
        ["--partitioned", "--left-key", "2", "-j", "1", "L", "R"],
        b"",
    );
    let b = d.run(
        bjoin(),
        ["--partitioned", "--left-key", "2", "-j", "4", "L", "R"],
        b"",
    );
    assert_eq!(a.stdout, b.stdout);
    // Partitionings that disagree are refused.
    split(&["--hash", "-n", "3", "-o", "R3", "r.tsv"]);
    let out = d.run(
        bjoin(),
        ["--partitioned", "--left-key", "2", "L", "R3"],
        b"",
    );
    one_line_error(&out, 1, "bjoin: L has 4 parts and R3 has 3");
    let out = d.run(bjoin(), ["--partitioned", "L", "R"], b"");
    one_line_error(&out, 1, "bjoin: L is partitioned by key [\"2\"]");
    split(&["--round-robin", "-n", "4", "-o", "RR", "r.tsv"]);
    let out = d.run(
        bjoin(),
        ["--partitioned", "--left-key", "2", "L", "RR"],
        b"",
    );
    one_line_error(&out, 1, "bjoin: L and RR must both be hash partitionings");
}

#[test]
fn headers_csv_and_json_lines() {
    let d = Dir::new();
    d.write("a.csv", "id,name,n\n1,\"a,b\",5\n2,c,6\n2,d,7\n");
    d.write("b.csv", "x,id\n\"q\"\"z\",1\ny,3\n");
    for s in ["hash", "merge"] {
        let out = d.run(
            bjoin(),
            [
                "--header",
                "-k",
                "id",
                "--type",
                "full",
                "--strategy",
                s,
                "a.csv",
                "b.csv",
            ],
            b"",
        );
        ok(&out, "csv");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.remove(0), "id,name,n,x", "{text}");
        lines.sort();
        assert_eq!(
            lines,
            vec!["1,\"a,b\",5,\"q\"\"z\"", "2,c,6,", "2,d,7,", "3,,,y"],
            "{s}"
        );
    }
    let out = d.run(
        bjoin(),
        ["--header", "-k", "id", "--type", "semi", "a.csv", "b.csv"],
        b"",
    );
    ok(&out, "csv semi");
    assert_eq!(out.stdout, b"id,name,n\n1,\"a,b\",5\n");
    d.write("h.tsv", "k\tv\nb\t2\na\t1\n");
    d.write("g.tsv", "key\tw\na\tz\n");
    let out = d.run(
        bjoin(),
        [
            "--header",
            "--left-key",
            "k",
            "--right-key",
            "key",
            "h.tsv",
            "g.tsv",
        ],
        b"",
    );
    ok(&out, "tsv header");
    assert_eq!(out.stdout, b"k\tv\tw\na\t1\tz\n");
    d.write(
        "e.jsonl",
        "{\"user\":{\"id\":1},\"v\":\"x\"}\n{\"user\":{\"id\":2}}\n",
    );
    d.write("u.jsonl", "{\"id\":1,\"name\":\"ann\"}\n");
    let out = d.run(
        bjoin(),
        [
            "--left-key",
            "user.id",
            "--right-key",
            "id",
            "--type",
            "left",
            "e.jsonl",
            "u.jsonl",
        ],
        b"",
    );
    ok(&out, "jsonl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"left\":{\"user\":{\"id\":1},\"v\":\"x\"},\"right\":{\"id\":1,\"name\":\"ann\"}}\n\
         {\"left\":{\"user\":{\"id\":2}},\"right\":null}\n"
    );
    let out = d.run(
        bjoin(),
        [
            "--left-key",
            "user.id",
            "--right-key",
            "id",
            "--type",
            "anti",
            "e.jsonl",
            "u.jsonl",
        ],
        b"",
    );
    ok(&out, "jsonl anti");
    assert_eq!(out.stdout, b"{\"user\":{\"id\":2}}\n");
}

#[test]
fn bad_records_and_usage_errors() {
    let d = Dir::new();
    d.write("e.jsonl", "{\"id\":1}\n{\"id\":\n");
    d.write("u.jsonl", "{\"id\":1}\n");
    for s in ["hash", "merge"] {
        let out = d.run(
            bjoin(),
            [
                "-k",
                "id",
                "--strategy",
                s,
                "-o",
                "o.jsonl",
                "e.jsonl",
                "u.jsonl",
            ],
            b"",
        );
        one_line_error(&out, 1, "bjoin: e.jsonl:2: not valid JSON");
        assert!(!d.exists("o.jsonl"));
    }
    // --skip-bad counts them (stderr and --stats); --bad-records keeps them, unchanged.
    d.write("v.jsonl", "{\"id\":1}\n{\"id\":2}\nnot json\n");
    for s in ["hash", "merge"] {
        let out = d.run(
            bjoin(),
            [
                "-k",
                "id",
                "--strategy",
                s,
                "--bad-records",
                "bad.txt",
                "--stats=st.json",
                "e.jsonl",
                "v.jsonl",
            ],
            b"",
        );
        ok(&out, "--bad-records");
        assert_eq!(out.stdout, b"{\"left\":{\"id\":1},\"right\":{\"id\":1}}\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "bjoin: skipped 2 bad records\n"
        );
        assert_eq!(d.read("bad.txt"), b"{\"id\":\nnot json\n");
        let st: Value = serde_json::from_slice(&d.read("st.json")).expect("stats");
        assert_eq!(st["bad_records"], 2);
    }
    d.write("a.tsv", "a\t1\n");
    for args in [
        vec![
            "--left-key",
            "1",
            "--right-key",
            "1",
            "--right-key",
            "2",
            "a.tsv",
            "a.tsv",
        ],
        vec!["a.tsv", "missing.tsv"],
        vec!["-k", "0", "a.tsv", "a.tsv"],
        vec!["--type", "cross", "a.tsv", "a.tsv"],
        vec!["--sorted", "--strategy", "hash", "a.tsv", "a.tsv"],
        vec!["-", "-"],
        vec!["-k", "name", "a.tsv", "a.tsv"],
        vec!["a.tsv"],
    ] {
        let out = d.run(bjoin(), &args, b"");
        one_line_error(&out, 2, "bjoin: ");
    }
}

fn big_input(rows: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..rows {
        s.push_str(&format!("k{}\tvalue-{i}\n", i % 1000));
    }
    s.into_bytes()
}

#[test]
fn closed_pipe_is_quiet_success() {
    let d = Dir::new();
    d.write("l.tsv", big_input(200_000));
    d.write("r.tsv", big_input(3000));
    let mut child = d
        .command(bjoin(), ["l.tsv", "r.tsv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    out.read_exact(&mut first).expect("read");
    drop(out);
    let res = child.wait_with_output().expect("wait");
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        res.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

#[test]
fn sigterm_with_output_leaves_nothing() {
    let d = Dir::new();
    d.write("r.tsv", big_input(3000));
    std::fs::create_dir(d.join("spill")).expect("mkdir");
    let mut child = d
        .command(
            bjoin(),
            [
                "--strategy",
                "merge",
                "-S",
                "64K",
                "-T",
                "spill",
                "-o",
                "out.tsv",
                "-",
                "r.tsv",
            ],
        )
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&big_input(50_000)).expect("write");
    let spill = d.join("spill");
    let start = Instant::now();
    while std::fs::read_dir(&spill).map_or(0, |r| r.count()) == 0
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let res = child.wait_with_output().expect("wait");
    drop(stdin);
    assert_eq!(res.status.code(), Some(143));
    assert!(!d.exists("out.tsv"));
    let left: Vec<String> = std::fs::read_dir(d.path())
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("bjoin") || n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(std::fs::read_dir(&spill).map_or(0, |r| r.count()), 0);
}

/// The naive model of an inner or full join on a composite key `(k1, k2)` compared with
/// `eq`: rows `k1 k2 v` on the left and `k1 k2 w` on the right; output in the SPEC layout.
fn composite_model(
    jt: &str,
    left: &[Vec<String>],
    right: &[Vec<String>],
    eq: &dyn Fn(&str, &str) -> bool,
) -> Vec<String> {
    let m = |l: &Vec<String>, r: &Vec<String>| eq(&l[0], &r[0]) && eq(&l[1], &r[1]);
    let mut out = Vec::new();
    for l in left {
        let mut any = false;
        for r in right.iter().filter(|r| m(l, r)) {
            any = true;
            out.push(format!("{}\t{}\t{}\t{}", l[0], l[1], l[2], r[2]));
        }
        if !any && jt == "full" {
            out.push(format!("{}\t{}\t{}\t", l[0], l[1], l[2]));
        }
    }
    if jt == "full" {
        for r in right {
            if !left.iter().any(|l| m(l, r)) {
                out.push(format!("{}\t{}\t\t{}", r[0], r[1], r[2]));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn composite_and_flagged_keys_equal_a_naive_model() {
    let mut rng = Rng::new(Rng::seed_from_env(0x6a05));
    let d = Dir::new();
    let plain = |a: &str, b: &str| a == b;
    let fold = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for round in 0..6 {
        let folded = round % 2 == 1;
        let k1 = if folded {
            ["a", "A", "b", "B", ""]
        } else {
            ["a", "b", "c", "", "a b"]
        };
        let mk = |rng: &mut Rng, n: usize| -> Vec<Vec<String>> {
            (0..n)
                .map(|i| vec![word(rng, &k1), word(rng, &["x", "y", ""]), format!("v{i}")])
                .collect()
        };
        let left = mk(&mut rng, 40);
        let right = mk(&mut rng, 30);
        d.write("l.tsv", tsv(&left));
        d.write("r.tsv", tsv(&right));
        let sort2 = |rows: &[Vec<String>]| {
            let mut v = rows.to_vec();
            v.sort_by(|a, b| {
                let f = |s: &str| {
                    if folded {
                        s.to_ascii_uppercase()
                    } else {
                        s.to_string()
                    }
                };
                (f(&a[0]), f(&a[1])).cmp(&(f(&b[0]), f(&b[1])))
            });
            v
        };
        d.write("ls.tsv", tsv(&sort2(&left)));
        d.write("rs.tsv", tsv(&sort2(&right)));
        let flags: [&str; 2] = if folded { ["1f", "2f"] } else { ["1", "2"] };
        for jt in ["inner", "full"] {
            let eq: &dyn Fn(&str, &str) -> bool = if folded { &fold } else { &plain };
            let want = composite_model(jt, &left, &right, eq);
            for v in [
                vec!["--strategy", "hash", "l.tsv", "r.tsv"],
                vec!["--strategy", "hash", "--build", "left", "l.tsv", "r.tsv"],
                vec!["--strategy", "merge", "-S", "100b", "l.tsv", "r.tsv"],
                vec!["--sorted", "ls.tsv", "rs.tsv"],
            ] {
                let mut args = vec!["--type", jt, "-k", flags[0], "-k", flags[1]];
                args.extend(&v);
                let out = d.run(bjoin(), &args, b"");
                ok(&out, &format!("{args:?}"));
                let got = lines_sorted(&out.stdout);
                assert_eq!(got, want, "bjoin {args:?}");
            }
        }
    }
}

#[test]
fn partitioned_parts_with_headers() {
    let d = Dir::new();
    d.write("l.tsv", "id\tv\n1\ta\n2\tb\n3\tc\n1\td\n");
    d.write("r.tsv", "uid\tw\n1\tx\n3\ty\n4\tz\n");
    for (dir, file, key) in [("L", "l.tsv", "id"), ("R", "r.tsv", "uid")] {
        let out = d.run(
            util::bin!("bsplit"),
            ["--hash", "-n", "3", "--header", "-k", key, "-o", dir, file],
            b"",
        );
        ok(&out, "bsplit --header");
    }
    let want = d.run(
        bjoin(),
        [
            "--header",
            "--left-key",
            "id",
            "--right-key",
            "uid",
            "--type",
            "full",
            "l.tsv",
            "r.tsv",
        ],
        b"",
    );
    ok(&want, "unpartitioned");
    let got = d.run(
        bjoin(),
        [
            "--partitioned",
            "--header",
            "--left-key",
            "id",
            "--right-key",
            "uid",
            "--type",
            "full",
            "L",
            "R",
        ],
        b"",
    );
    ok(&got, "partitioned");
    let (wt, gt) = (
        String::from_utf8_lossy(&want.stdout).into_owned(),
        String::from_utf8_lossy(&got.stdout).into_owned(),
    );
    let (mut w, mut g): (Vec<&str>, Vec<&str>) = (wt.lines().collect(), gt.lines().collect());
    assert_eq!(w.remove(0), "id\tv\tw");
    assert_eq!(g.remove(0), "id\tv\tw", "{gt}");
    w.sort();
    g.sort();
    assert_eq!(g, w);
}

/// Run bjoin with the probe cut into blocks of `block` bytes (`None`: the default).
fn run_blocks(d: &Dir, args: &[&str], block: Option<usize>) -> Output {
    let mut cmd = d.command(bjoin(), args);
    if let Some(b) = block {
        cmd.env("BATCHKIT_BLOCK_BYTES", b.to_string());
    }
    util::run_cmd(cmd, b"")
}

/// CSV text of rows (fields quoted when they hold the delimiter, a quote or a newline).
fn csv_line(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The records of CSV output (a newline inside quotes does not end one), sorted.
fn csv_records_sorted(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    let mut v = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '\n' if !quoted => v.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        v.push(cur);
    }
    v.sort();
    v
}

/// Issue 11: the hash join's probe on -j threads. For every join type, both build sides and
/// TSV, CSV (quoted delimiters, quotes and newlines) and JSON lines: `-j 1/2/3` with blocks
/// of a few bytes and the default give the same bytes, equal to sqlite3 as multisets; a
/// tiny -S (auto falling back to merge) too.
#[test]
fn hash_join_same_bytes_for_any_threads_and_formats_equal_sqlite() {
    let seed = Rng::seed_from_env(0x6a11);
    let mut rng = Rng::new(seed);
    let keys = ["a", "b", "c", "d", "", "e f", "10", "9"];
    let values = ["", "x", "y", "zz", "1", "x y", "a,b", "q\"z", "m\nn"];
    let mut cases = Vec::new();
    let mut inputs = Vec::new();
    for (i, &(nl, nr)) in [(40, 30), (25, 60), (0, 7), (9, 0)].iter().enumerate() {
        let mk = |rng: &mut Rng, n: usize, cols: usize, ks: &[&str]| -> Vec<Vec<String>> {
            (0..n)
                .map(|_| {
                    let mut r = vec![word(rng, ks)];
                    for _ in 1..cols {
                        r.push(word(rng, &values));
                    }
                    r
                })
                .collect()
        };
        let left = mk(&mut rng, nl, 3, &keys[..(4 + i).min(keys.len())]);
        let right = mk(&mut rng, nr, 2, &keys[1..]);
        let fill = if i % 2 == 0 { "" } else { "NA" };
        cases.push(json!({"left": left, "right": right, "fill": fill}));
        inputs.push((left, right, fill));
    }
    let want = oracle(&cases);
    let d = Dir::new();
    let mut failures = Vec::new();
    for (ci, (left, right, fill)) in inputs.iter().enumerate() {
        // TSV cannot hold the newline values: there they become "m n".
        let tsv_rows = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
            rows.iter()
                .map(|r| r.iter().map(|f| f.replace('\n', " ")).collect())
                .collect()
        };
        d.write("l.tsv", tsv(&tsv_rows(left)));
        d.write("r.tsv", tsv(&tsv_rows(right)));
        let csv_of = |rows: &[Vec<String>]| -> String {
            rows.iter()
                .map(|r| csv_line(&r.iter().map(String::as_str).collect::<Vec<_>>()) + "\n")
                .collect()
        };
        d.write("l.csv", csv_of(left));
        d.write("r.csv", csv_of(right));
        let json_of = |rows: &[Vec<String>], names: &[&str]| -> String {
            rows.iter()
                .map(|r| {
                    let o: serde_json::Map<String, Value> = names
                        .iter()
                        .zip(r)
                        .map(|(n, v)| (n.to_string(), json!(v)))
                        .collect();
                    Value::Object(o).to_string() + "\n"
                })
                .collect()
        };
        d.write("l.jsonl", json_of(left, &["k", "a", "b"]));
        d.write("r.jsonl", json_of(right, &["k", "c"]));
        for t in TYPES {
            let expected: Vec<String> = want[ci][t]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            for fmt in ["tsv", "csv", "jsonl"] {
                let (l, r) = (format!("l.{fmt}"), format!("r.{fmt}"));
                let want_lines: Option<Vec<String>> = match fmt {
                    "tsv" => {
                        let mut v: Vec<String> =
                            expected.iter().map(|s| s.replace('\n', " ")).collect();
                        v.sort();
                        Some(v)
                    }
                    "csv" => {
                        let mut v: Vec<String> = expected
                            .iter()
                            .map(|s| csv_line(&s.split('\t').collect::<Vec<_>>()))
                            .collect();
                        v.sort();
                        Some(v)
                    }
                    _ => None,
                };
                let key: &[&str] = if fmt == "jsonl" { &["-k", "k"] } else { &[] };
                let sorted_out = |out: &[u8]| {
                    if fmt == "csv" {
                        csv_records_sorted(out)
                    } else {
                        lines_sorted(out)
                    }
                };
                // JSON lines: the merge join is the reference multiset.
                let mut args: Vec<&str> = vec!["--type", t, "--fill", fill, "--strategy", "merge"];
                args.extend(key);
                args.extend([l.as_str(), r.as_str()]);
                let merged = run_blocks(&d, &args, None);
                ok(&merged, &format!("{args:?}"));
                let want_lines = want_lines.unwrap_or_else(|| sorted_out(&merged.stdout));
                for build in ["left", "right"] {
                    let mut reference: Option<Vec<u8>> = None;
                    for j in ["1", "2", "3"] {
                        for block in [None, Some(3), Some(40)] {
                            let mut args: Vec<&str> = vec![
                                "--type",
                                t,
                                "--fill",
                                fill,
                                "--strategy",
                                "hash",
                                "--build",
                                build,
                                "-j",
                                j,
                            ];
                            args.extend(key);
                            args.extend([l.as_str(), r.as_str()]);
                            let out = run_blocks(&d, &args, block);
                            ok(&out, &format!("{args:?}"));
                            let what = format!("case {ci} (seed {seed}) {block:?} bjoin {args:?}");
                            match &reference {
                                None => {
                                    if sorted_out(&out.stdout) != want_lines {
                                        failures.push(format!(
                                            "{what}\n  want {want_lines:?}\n  got  {:?}",
                                            sorted_out(&out.stdout)
                                        ));
                                    }
                                    reference = Some(out.stdout);
                                }
                                Some(r) if *r != out.stdout => {
                                    failures.push(format!("{what}: differs from -j 1"))
                                }
                                Some(_) => {}
                            }
                        }
                    }
                }
                // A tiny budget: auto falls back to merge, the same for any -j.
                let mut first: Option<Vec<u8>> = None;
                for j in ["1", "2", "3"] {
                    let mut args: Vec<&str> =
                        vec!["--type", t, "--fill", fill, "-S", "100b", "-j", j];
                    args.extend(key);
                    args.extend([l.as_str(), r.as_str()]);
                    let out = run_blocks(&d, &args, Some(5));
                    ok(&out, &format!("{args:?}"));
                    if sorted_out(&out.stdout) != want_lines {
                        failures.push(format!(
                            "case {ci} (seed {seed}) bjoin {args:?}: not the oracle's"
                        ));
                    }
                    match &first {
                        None => first = Some(out.stdout),
                        Some(f) if *f != out.stdout => {
                            failures.push(format!("case {ci} bjoin {args:?}: differs from -j 1"))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Issue 11: bad records and errors of the streamed side come out in input order for any
/// -j and block size: the first bad record is the one reported (and no -o file is left);
/// --bad-records keeps them in input order; the output is the same.
#[test]
fn probe_errors_and_bad_records_in_input_order_for_any_threads() {
    let d = Dir::new();
    let mut text = String::new();
    let mut bad = String::new();
    for i in 0..3000 {
        if i % 211 == 17 {
            let b = format!("{{broken {i}, \"id\": 1}}\n");
            bad.push_str(&b);
            text.push_str(&b);
        } else {
            text.push_str(&format!("{{\"id\":{},\"n\":{i}}}\n", i % 37));
        }
    }
    d.write("e.jsonl", &text);
    d.write(
        "u.jsonl",
        (0..30)
            .map(|i| format!("{{\"id\":{i},\"u\":\"name{i}\"}}\n"))
            .collect::<String>(),
    );
    let mut reference: Option<Vec<u8>> = None;
    for j in ["1", "2", "3"] {
        for block in [None, Some(7), Some(300)] {
            let what = format!("-j {j} block {block:?}");
            let out = run_blocks(
                &d,
                &[
                    "-k",
                    "id",
                    "--strategy",
                    "hash",
                    "-j",
                    j,
                    "-o",
                    "o.jsonl",
                    "e.jsonl",
                    "u.jsonl",
                ],
                block,
            );
            one_line_error(&out, 1, "bjoin: e.jsonl:18: not valid JSON");
            assert!(!d.exists("o.jsonl"), "{what}");
            let out = run_blocks(
                &d,
                &[
                    "-k",
                    "id",
                    "--strategy",
                    "hash",
                    "--type",
                    "full",
                    "-j",
                    j,
                    "--bad-records",
                    "bad.txt",
                    "e.jsonl",
                    "u.jsonl",
                ],
                block,
            );
            ok(&out, &what);
            assert_eq!(String::from_utf8_lossy(&d.read("bad.txt")), bad, "{what}");
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                format!("bjoin: skipped {} bad records\n", bad.lines().count()),
                "{what}"
            );
            match &reference {
                None => reference = Some(out.stdout),
                Some(r) => assert!(*r == out.stdout, "{what}: output differs"),
            }
        }
    }
    // A record longer than the budget is reported where it starts, for any -j.
    let mut long = String::from("a\t1\nb\t2\n");
    long.push_str(&"x".repeat(3 << 20));
    long.push_str("\nc\t3\n");
    d.write("long.tsv", &long);
    d.write("k.tsv", "a\tx\n");
    for j in ["1", "3"] {
        let out = run_blocks(
            &d,
            &[
                "--strategy",
                "hash",
                "-S",
                "1M",
                "-j",
                j,
                "long.tsv",
                "k.tsv",
            ],
            None,
        );
        one_line_error(&out, 1, "bjoin: long.tsv:3: record is longer than");
    }
}

/// Issue 11: GNU join byte for byte from the parallel probe too (sorted input streamed).
#[test]
fn parallel_hash_join_of_sorted_input_is_gnu_join() {
    let mut rng = Rng::new(Rng::seed_from_env(0x6a12));
    let d = Dir::new();
    let keys = ["a", "b", "bb", "c", "d", "e", "f", "g", "A", "0", "1"];
    let left = sorted(&table(&mut rng, 2000, 3, &keys));
    let right = sorted(&table(&mut rng, 150, 2, &keys[2..]));
    d.write("l.tsv", tsv(&left));
    d.write("r.tsv", tsv(&right));
    let want = gnu_join(&d, &["-t", "\t", "l.tsv", "r.tsv"]);
    ok(&want, "join");
    for j in ["1", "2", "3"] {
        for block in [None, Some(2), Some(100)] {
            let got = run_blocks(
                &d,
                &["--strategy", "hash", "-j", j, "l.tsv", "r.tsv"],
                block,
            );
            ok(&got, "bjoin");
            assert!(
                got.stdout == want.stdout,
                "bjoin -j {j} {block:?} differs from join -t TAB:\n{}",
                util::first_difference(&want.stdout, &got.stdout, b'\n').unwrap_or_default()
            );
        }
    }
}
