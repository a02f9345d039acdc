//! The binaries' side of the engine contract (`docs/engines.md`, issue 7): what bsort,
//! bshuffle, breduce and bsplit must do to run as the mapper, combiner and reducer commands
//! of Spark (`TRANSFORM`, `RDD.pipe`) and Hadoop Streaming:
//!
//! * read standard input to the end, even when their standard output closes early (the
//!   engine fails a task whose command leaves input unread with "Broken pipe", status 0 or
//!   not);
//! * empty input gives empty output and status 0;
//! * a line without TAB is a key with an empty value, and `key<TAB>` (Hadoop's form of it)
//!   is the same key; trailing TABs on records are accepted;
//! * the same input gives the same bytes on a re-run, for any `-j` and `-S` (failed tasks
//!   are re-run);
//! * a failure is a non-zero status (the engine may never show stderr).
//!
//! Oracles: the writer side of the pipe (did every byte get read?), GNU `sort -s -t TAB
//! -k1,1` in the C locale, and naive in-memory group-by models.

use crate::util::{self, Dir, Rng};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Output, Stdio};

fn tool(name: &str) -> &'static str {
    match name {
        "bsort" => util::bin!("bsort"),
        "bshuffle" => util::bin!("bshuffle"),
        "breduce" => util::bin!("breduce"),
        "bsplit" => util::bin!("bsplit"),
        other => panic!("unknown tool {other}"),
    }
}

fn run(dir: &Dir, args: &[&str], stdin: &[u8]) -> Output {
    dir.run(tool(args[0]), &args[1..], stdin)
}

fn ok(dir: &Dir, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = run(dir, args, stdin);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{args:?}: status {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `n` key-sorted lines `kNNNNNNN<TAB>N`, each key distinct (so a streaming reducer writes
/// as it reads).
fn sorted_lines(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * 18);
    for i in 0..n {
        v.extend_from_slice(format!("k{i:07}\t{i}\n").as_bytes());
    }
    v
}

/// Random lines in the shapes an engine hands over: `key<TAB>value`, `key` (no TAB),
/// `key<TAB>` (Hadoop's form of it), `key<TAB>value<TAB>` (a trailing TAB), empty keys,
/// UTF-8 keys; values are small integers so that `sum:2` applies where there is one.
fn engine_lines(rng: &mut Rng, n: usize) -> Vec<u8> {
    let keys = ["a", "b", "", "\u{e9}t\u{e9}", "k10", "k9", "zz z"];
    let mut v = Vec::new();
    for _ in 0..n {
        let k = rng.pick(&keys);
        let val = rng.range(0, 99);
        let line = match rng.range(0, 3) {
            0 => k.to_string(),
            1 => format!("{k}\t"),
            2 => format!("{k}\t{val}\t"),
            _ => format!("{k}\t{val}"),
        };
        v.extend_from_slice(line.as_bytes());
        v.push(b'\n');
    }
    v
}

/// The Hadoop Streaming key: the text up to the first TAB (all of a line without one).
fn key_of(line: &[u8]) -> &[u8] {
    line.split(|&c| c == b'\t').next().unwrap_or(&[])
}

/// Field 2 (between the first and second TAB), empty when missing.
fn value_of(line: &[u8]) -> &[u8] {
    line.split(|&c| c == b'\t').nth(1).unwrap_or(&[])
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    util::records(bytes, b'\n')
}

/// Spawns `args` reading `input` from a thread, reads a few bytes of its standard output and
/// closes it (like `| head -c 16`), and returns whether the whole input was read (the writer
/// never saw a closed pipe) and the tool's status and stderr.
fn close_stdout_early(args: &[&str], input: Vec<u8>) -> (bool, Option<i32>, String) {
    let dir = Dir::new();
    let mut child = dir
        .command(tool(args[0]), &args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input).is_ok());
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    // The tool may write nothing at all (bsplit): then EOF comes once it is done.
    let _ = stdout.read(&mut first);
    drop(stdout);
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    let status = child.wait().expect("wait");
    let drained = writer.join().expect("writer thread");
    (drained, status.code(), stderr)
}

#[test]
fn stdin_is_drained_when_stdout_closes_early() {
    // Streaming reducers write while they read: 7 MB, far more than a pipe buffer and the
    // output buffers (breduce's writer thread notices the closed pipe only after a few MB),
    // catches one that stops reading. The others read everything before writing; 2 MB
    // (more than a pipe buffer) is enough for them and keeps the test quick.
    let big = sorted_lines(400_000);
    let small = sorted_lines(120_000);
    let cases: &[(&[&str], &Vec<u8>)] = &[
        (&["breduce", "count"], &big),
        (&["breduce", "sum:2", "count"], &big),
        (&["breduce", "--hash", "count"], &small),
        (&["bsort"], &small),
        (&["bsort", "-t", "\t", "-k1,1", "-S", "64K"], &small),
        (&["bshuffle"], &small),
        (&["bshuffle", "--partition", "1/3"], &small),
        (&["bshuffle", "--combine", "count"], &small),
        (&["bsplit", "-l", "1000", "-o", "parts"], &small),
    ];
    for (args, input) in cases {
        let (drained, code, stderr) = close_stdout_early(args, input.to_vec());
        assert!(drained, "{args:?}: standard input was not read to the end");
        assert_eq!(code, Some(0), "{args:?}: stderr {stderr}");
        assert!(stderr.is_empty(), "{args:?}: stderr {stderr}");
    }
}

#[test]
fn stdin_is_not_read_when_it_is_not_an_input() {
    // The drain on a closed pipe is for standard input as an input only: a tool reading a
    // file must leave its standard input alone (a `while read` loop around it).
    let dir = Dir::new();
    let file = dir.write("in.tsv", sorted_lines(120_000));
    let mut child = dir
        .command(tool("breduce"), ["count".as_ref(), file.as_os_str()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdin = child.stdin.take().expect("stdin"); // kept open: a drain would hang
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    let _ = stdout.read(&mut first);
    drop(stdout);
    let status = child.wait().expect("wait");
    drop(stdin);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn empty_input_is_empty_output_and_success() {
    let dir = Dir::new();
    let cases: &[&[&str]] = &[
        &["bsort"],
        &["bsort", "-t", "\t", "-k1,1"],
        &["bshuffle"],
        &["bshuffle", "--partition", "2/4"],
        &["bshuffle", "--combine", "sum:2"],
        &["breduce", "count"],
        &["breduce", "sum:2", "mean:2", "collect:2"],
        &["breduce", "--hash", "count", "sum:2"],
        &["breduce", "--merge", "count", "sum:2"],
    ];
    for args in cases {
        let out = run(&dir, args, b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {:?}", out.stdout);
        assert!(out.stderr.is_empty(), "{args:?}");
    }
    // Directory outputs: parts (if any) are empty, and _SUCCESS says so.
    for args in [
        &["bshuffle", "-n", "3", "-o", "out"][..],
        &["bsplit", "-l", "10", "-o", "out"],
        &["bsplit", "--hash", "-n", "3", "-o", "out"],
    ] {
        dir.clear();
        let out = run(&dir, args, b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{args:?}");
        assert!(dir.exists("out/_SUCCESS"), "{args:?}");
        for e in std::fs::read_dir(dir.join("out")).expect("out").flatten() {
            if e.file_name() != "_SUCCESS" {
                assert_eq!(e.metadata().expect("meta").len(), 0, "{args:?}: {e:?}");
            }
        }
    }
}

#[test]
fn lines_without_tab_and_key_tab_are_one_key() {
    let dir = Dir::new();
    // Literal cases first: `a`, `a<TAB>` and `a<TAB>x` are one group.
    let input = b"b\t\nb\na\t1\t\na\na\t\na\t2\n";
    let shuffled = ok(&dir, &["bshuffle"], input);
    assert_eq!(shuffled, b"a\t1\t\na\na\t\na\t2\nb\t\nb\n");
    assert_eq!(
        ok(&dir, &["breduce", "count", "collect:2"], &shuffled),
        b"a\t4\t1,,,2\nb\t2\t,\n"
    );
    assert_eq!(
        ok(&dir, &["breduce", "--hash", "count"], input),
        b"a\t4\nb\t2\n"
    );

    let seed = Rng::seed_from_env(7);
    let mut rng = Rng::new(seed);
    for round in 0..6 {
        let n = rng.range(1, 400);
        let input = engine_lines(&mut rng, n);
        // bshuffle (one partition) == GNU sort -s on the first TAB field.
        let got = ok(&dir, &["bshuffle"], &input);
        let gnu = dir.gnu_sort(["-s", "-t", "\t", "-k1,1"], &input);
        assert!(gnu.status.success());
        assert_eq!(
            got,
            gnu.stdout,
            "seed {seed} round {round}: bshuffle vs sort -s -t TAB -k1,1\n{}",
            util::describe_records(&input, b'\n', 40)
        );

        // breduce on the shuffled stream == a naive group-by on the first TAB field.
        let mut model: BTreeMap<&[u8], (usize, Vec<&[u8]>)> = BTreeMap::new();
        for l in lines(&input) {
            let e = model.entry(key_of(l)).or_default();
            e.0 += 1;
            e.1.push(value_of(l));
        }
        let mut expected = Vec::new();
        for (k, (n, vals)) in &model {
            expected.extend_from_slice(k);
            expected.extend_from_slice(format!("\t{n}\t").as_bytes());
            expected.extend_from_slice(&vals.join(&b","[..]));
            expected.push(b'\n');
        }
        let reduced = ok(&dir, &["breduce", "count", "collect:2"], &got);
        assert_eq!(
            String::from_utf8_lossy(&reduced),
            String::from_utf8_lossy(&expected),
            "seed {seed} round {round}"
        );

        // Each key's records all land in one partition, whatever their TABs.
        let n = 3;
        let mut home: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        let mut total = 0;
        for p in 0..n {
            let part = ok(
                &dir,
                &["bshuffle", "--partition", &format!("{p}/{n}")],
                &input,
            );
            for l in lines(&part) {
                total += 1;
                let prev = home.insert(key_of(l).to_vec(), p);
                assert!(
                    prev.is_none() || prev == Some(p),
                    "seed {seed}: key {:?} in partitions {prev:?} and {p}",
                    util::escape(key_of(l))
                );
            }
        }
        assert_eq!(total, lines(&input).len());
    }
}

#[test]
fn trailing_tabs_are_accepted_by_numeric_aggregates() {
    // Hadoop may end a line with a TAB: `k<TAB>5<TAB>` still has 5 in field 2.
    let dir = Dir::new();
    let input = b"a\t1\t\na\t2\nb\t5\t\n";
    assert_eq!(
        ok(&dir, &["breduce", "sum:2", "count"], input),
        b"a\t3\t2\nb\t5\t1\n"
    );
    let partial = ok(&dir, &["bshuffle", "--combine", "sum:2"], input);
    assert_eq!(
        ok(&dir, &["breduce", "--merge", "sum:2"], &partial),
        b"a\t3\nb\t5\n"
    );
}

/// The bytes of every file in `dir`, by name, `_SUCCESS` included.
fn dir_contents(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        m.insert(name, std::fs::read(e.path()).expect("read part"));
    }
    m
}

#[test]
fn output_is_the_same_on_every_run_and_for_any_j_and_s() {
    let dir = Dir::new();
    let seed = Rng::seed_from_env(11);
    let mut rng = Rng::new(seed);
    let input = engine_lines(&mut rng, 20_000);
    // Stdout tools: runs at -j 1 and -j 2, with a big budget and a tiny one (spills).
    let cases: &[&[&str]] = &[
        &["bsort"],
        &["bsort", "-t", "\t", "-k1,1", "-s"],
        &["bshuffle"],
        &["bshuffle", "--partition", "1/4"],
        &["bshuffle", "--combine", "count"],
        &["breduce", "--hash", "count", "collect:2"],
    ];
    for args in cases {
        let mut outputs = Vec::new();
        for extra in [
            &["-j", "1"][..],
            &["-j", "2"],
            &["-j", "2", "-S", "64K"],
            &["-j", "1", "-S", "64K"],
        ] {
            let mut a = args.to_vec();
            a.extend_from_slice(extra);
            outputs.push((extra, ok(&dir, &a, &input)));
        }
        assert!(!outputs[0].1.is_empty(), "{args:?}: no output");
        for (extra, out) in &outputs[1..] {
            assert!(
                *out == outputs[0].1,
                "seed {seed}: {args:?} {extra:?} differs from {:?}",
                outputs[0].0
            );
        }
    }
    // Directory tools: every part and the manifest, byte for byte.
    let cases: &[&[&str]] = &[
        &["bshuffle", "-n", "4", "-o", "out"],
        &["bsplit", "--hash", "-n", "4", "-o", "out"],
        &["bsplit", "--round-robin", "-n", "3", "-o", "out"],
    ];
    for args in cases {
        let mut first: Option<BTreeMap<String, Vec<u8>>> = None;
        for extra in [&["-j", "1"][..], &["-j", "2", "-S", "64K"], &["-j", "2"]] {
            let _ = std::fs::remove_dir_all(dir.join("out"));
            let mut a = args.to_vec();
            a.extend_from_slice(extra);
            ok(&dir, &a, &input);
            let got = dir_contents(&dir.join("out"));
            assert!(got.contains_key("_SUCCESS") && got.len() > 1, "{a:?}");
            match &first {
                None => first = Some(got),
                Some(f) => assert!(*f == got, "seed {seed}: {a:?} differs from -j 1"),
            }
        }
    }
}

#[test]
fn failures_are_a_nonzero_status() {
    let dir = Dir::new();
    let cases: &[(&[&str], &[u8], i32)] = &[
        // A value that is not a number, read from stdin as an engine feeds it.
        (&["breduce", "sum:2"], b"a\t1\nb\tx\n", 1),
        (&["breduce", "--hash", "mean:2"], b"a\t1\nb\t1,5\n", 1),
        (&["bshuffle", "--combine", "sum:2"], b"a\t1\nb\tzz\n", 1),
        // A reducer fed a partition that is not sorted by key.
        (&["breduce", "count"], b"b\t1\na\t1\n", 1),
        // Bad command lines.
        (&["breduce", "nosuchagg:2"], b"a\t1\n", 2),
        (&["bsort", "-k", "0"], b"a\n", 2),
        (&["bshuffle", "--partition", "5/3"], b"a\n", 2),
        (&["bsplit", "--hash", "-n", "2"], b"a\n", 2),
    ];
    for (args, stdin, code) in cases {
        let out = run(&dir, args, stdin);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: stderr {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("{}: ", args[0])) && err.lines().count() == 1,
            "{args:?}: stderr {err:?}"
        );
    }
    // A failure deep into a partition still ends non-zero (the engine discards the task's
    // output; the status is all it has), and names the record.
    let mut big = sorted_lines(50_000);
    big.extend_from_slice(b"k9999999\tnot-a-number\n");
    let out = run(&dir, &["breduce", "sum:2"], &big);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("breduce: -:50001: "));
}

#[test]
fn a_reducer_pipeline_over_partitions_equals_one_reduce() {
    // What a Spark or Hadoop job does with these binaries: each partition of the shuffle
    // is reduced on its own; the union of the reducers' outputs is the one-machine answer.
    let dir = Dir::new();
    let seed = Rng::seed_from_env(13);
    let mut rng = Rng::new(seed);
    let input = engine_lines(&mut rng, 3_000);
    let whole = ok(&dir, &["breduce", "--hash", "count"], &input);
    let mut union: Vec<Vec<u8>> = Vec::new();
    for p in 0..4 {
        let part = ok(
            &dir,
            &["bshuffle", "--partition", &format!("{p}/4")],
            &input,
        );
        let reduced = ok(&dir, &["breduce", "count"], &part);
        union.extend(lines(&reduced).into_iter().map(<[u8]>::to_vec));
    }
    union.sort();
    let mut expected: Vec<Vec<u8>> = lines(&whole).into_iter().map(<[u8]>::to_vec).collect();
    expected.sort();
    assert_eq!(union, expected, "seed {seed}");
}
