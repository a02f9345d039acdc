//! `bmap --combine` (in-mapper combining) against two oracles:
//!
//! * a word count model (tokens split on spaces, TABs and newlines, counted in a BTreeMap,
//!   written in byte order);
//! * the plain pipeline: `bmap X --combine A | breduce --merge --hash A` must equal
//!   `bmap X | breduce --hash A` for every combinable aggregate, with -S tiny enough to
//!   flush the table many times, blocks of a few hundred bytes, -j 1/2/3, inputs with and
//!   without a final newline.
//!
//! Also: the partial lines are the same bytes on every run (files and pipes), bad input
//! stops bmap with `bmap: FILE:LINE: ...` and no -o file, --skip-bad skips the record
//! before any state sees it, and what cannot be combined is a usage error.

use crate::util::{self, Dir, Rng};
use std::collections::BTreeMap;
use std::process::Output;

fn bmap() -> &'static str {
    util::bin!("bmap")
}

fn breduce() -> &'static str {
    util::bin!("breduce")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run `bin args` with small read blocks, so that small inputs make many blocks.
fn run(bin: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = util::command(bin, args);
    cmd.env("BATCHKIT_BLOCK_BYTES", "300");
    util::run_cmd(cmd, stdin)
}

fn ok(o: Output, what: &str) -> Vec<u8> {
    assert!(
        o.status.success(),
        "{what}: status {:?}, stderr {}",
        o.status,
        text(&o.stderr)
    );
    o.stdout
}

fn words_text(rng: &mut Rng, n: usize, final_newline: bool) -> Vec<u8> {
    let words: &[&[u8]] = &[
        b"the",
        b"a",
        b"Of",
        b"and",
        b"WORD",
        b"caf\xc3\xa9",
        b"x",
        b"it's",
        b"1.5",
        b"-",
        b"back\\slash",
        b"\x80\xff",
    ];
    let seps: &[&[u8]] = &[b" ", b" ", b"  ", b"\t", b"\n", b"\n\n", b" \t "];
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(words[rng.below(words.len())]);
        // Many distinct words too, so that tiny tables flush.
        if rng.below(3) == 0 {
            out.extend_from_slice(format!("{}", rng.below(400)).as_bytes());
        }
        if i + 1 < n {
            out.extend_from_slice(seps[rng.below(seps.len())]);
        }
    }
    if final_newline {
        out.push(b'\n');
    }
    out
}

/// The word count model.
fn count_words(input: &[u8]) -> Vec<u8> {
    let mut counts: BTreeMap<&[u8], u64> = BTreeMap::new();
    for t in input.split(|&c| c == b' ' || c == b'\t' || c == b'\n') {
        if !t.is_empty() {
            *counts.entry(t).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (t, n) in counts {
        out.extend_from_slice(t);
        out.extend_from_slice(format!("\t{n}\n").as_bytes());
    }
    out
}

/// `bmap ARGS --combine A... | breduce --merge --hash A...`.
fn combined(args: &[&str], aggs: &[&str], extra: &[&str], input: &[u8]) -> Vec<u8> {
    let mut a: Vec<&str> = args.to_vec();
    for g in aggs {
        a.push("--combine");
        a.push(g);
    }
    a.extend_from_slice(extra);
    let partial = ok(run(bmap(), &a, input), &format!("bmap {a:?}"));
    let mut r = vec!["--merge", "--hash"];
    r.extend_from_slice(aggs);
    ok(run(breduce(), &r, &partial), &format!("breduce {r:?}"))
}

/// `bmap ARGS | breduce --hash A...`.
fn plain(args: &[&str], aggs: &[&str], input: &[u8]) -> Vec<u8> {
    let mapped = ok(run(bmap(), args, input), "bmap");
    let mut r = vec!["--hash"];
    r.extend_from_slice(aggs);
    ok(run(breduce(), &r, &mapped), "breduce")
}

#[test]
fn combined_word_count_matches_the_model() {
    let mut rng = Rng::new(Rng::seed_from_env(13));
    for final_newline in [true, false] {
        let input = words_text(&mut rng, 3000, final_newline);
        let want = count_words(&input);
        for j in ["1", "2", "3"] {
            for s in ["2K", "64M"] {
                let got = combined(&["--words", "-j", j, "-S", s], &["count"], &[], &input);
                assert_eq!(
                    text(&got),
                    text(&want),
                    "-j {j} -S {s} final newline {final_newline}"
                );
            }
            let got = combined(
                &["--words", "--lower", "-j", j, "-S", "2K"],
                &["count"],
                &[],
                &input,
            );
            assert_eq!(
                text(&got),
                text(&count_words(&input.to_ascii_lowercase())),
                "--lower -j {j}"
            );
        }
    }
}

#[test]
fn combined_words_equal_the_plain_pipeline_for_every_aggregate() {
    let mut rng = Rng::new(Rng::seed_from_env(14));
    let input = words_text(&mut rng, 1500, false);
    let aggs = [
        "count",
        "sum:2",
        "mean:2",
        "min:2",
        "max:2",
        "first:1",
        "last:1",
        "countdistinct:1",
        "distinct:2",
        "collect:2",
        "var:2",
        "stddev:2",
    ];
    let want = plain(&["--words", "--lower"], &aggs, &input);
    for j in ["1", "2", "3"] {
        let got = combined(
            &["--words", "--lower", "-j", j, "-S", "2K"],
            &aggs,
            &[],
            &input,
        );
        assert_eq!(text(&got), text(&want), "-j {j}");
    }
}

fn orders(rng: &mut Rng, n: usize, final_newline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let day = format!("2024-01-{:02}T{:02}:00:00", rng.range(1, 28), rng.below(24));
        let amount = match rng.below(5) {
            0 => format!("{}", rng.below(1000)),
            1 => format!("{}.{:02}", rng.below(100), rng.below(100)),
            2 => format!("-{}.5", rng.below(10)),
            // No exponents: a sum mixing exact decimals and floats is the sum of every
            // value's double, which an exact partial sum has lost (a limit of the engine's
            // partial states, breduce --partial's too, not of combining).
            3 => format!("{}.125", rng.below(50)),
            _ => format!("0.{}", rng.below(10)),
        };
        let status = ["completed", "cancelled", "completed"][rng.below(3)];
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"created_at\":\"{day}\",\"amount\":{amount},\"status\":\"{status}\",\"user\":{{\"id\":{}}}}}",
                rng.below(60)
            )
            .as_bytes(),
        );
        if i + 1 < n || final_newline {
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn combined_json_emit_equals_the_plain_pipeline() {
    let mut rng = Rng::new(Rng::seed_from_env(15));
    let aggs_sets: [&[&str]; 3] = [
        &["sum:2", "count"],
        &["mean:2", "countdistinct:3", "distinct:3"],
        &["min:2", "max:2", "first:3", "last:3", "collect:3", "var:2"],
    ];
    for final_newline in [true, false] {
        let input = orders(&mut rng, 800, final_newline);
        for aggs in aggs_sets {
            let args = [
                "--from",
                "jsonl",
                "--where",
                "status == completed",
                "--emit",
                "created_at|day,amount,user.id",
            ];
            let want = plain(&args, aggs, &input);
            for j in ["1", "2", "3"] {
                let mut a = args.to_vec();
                a.extend_from_slice(&["-j", j, "-S", "1K"]);
                let got = combined(&a, aggs, &[], &input);
                assert_eq!(text(&got), text(&want), "-j {j} {aggs:?}");
            }
        }
    }
}

#[test]
fn whole_tsv_records_combine_by_their_first_field() {
    let input = b"b\t1\na\t2\nb\t3.5\n";
    let got = combined(&["-j", "2"], &["sum:2", "count"], &[], input);
    assert_eq!(text(&got), "a\t2\t1\nb\t4.5\t2\n");
}

#[test]
fn partial_lines_are_the_same_bytes_on_every_run() {
    let mut rng = Rng::new(Rng::seed_from_env(16));
    let input = words_text(&mut rng, 4000, true);
    let dir = Dir::new();
    let file = dir.write("corpus.txt", &input);
    let file = file.to_str().unwrap_or_default();
    for j in ["1", "2", "3"] {
        let args = ["--words", "--combine", "count", "-j", j, "-S", "4K"];
        let mut from_file = args.to_vec();
        from_file.push(file);
        let first = ok(run(bmap(), &from_file, b""), "bmap");
        assert!(
            first.split(|&c| c == b'\n').count() > 20,
            "flushes expected"
        );
        for _ in 0..2 {
            assert_eq!(
                ok(run(bmap(), &from_file, b""), "bmap"),
                first,
                "-j {j}, file"
            );
            // Through a pipe the reads split differently; the blocks may not.
            assert_eq!(
                ok(run(bmap(), &args, &input), "bmap"),
                first,
                "-j {j}, pipe"
            );
        }
    }
}

#[test]
fn bad_input_stops_bmap_at_its_line_with_no_output_file() {
    let dir = Dir::new();
    let cases: [(&[u8], &str); 2] = [
        (
            b"{\"k\":\"a\",\"v\":1}\n{\"k\":\"a\",\"v\":\n{\"k\":\"b\",\"v\":2}\n",
            ":2: ",
        ),
        (
            b"{\"k\":\"a\",\"v\":1}\n{\"k\":\"b\",\"v\":2}\n{\"k\":\"a\",\"v\":\"x\"}\n",
            ":3: ",
        ),
    ];
    for (i, (input, at)) in cases.iter().enumerate() {
        let f = dir.write(format!("in{i}.jsonl"), input);
        let f = f.to_str().unwrap_or_default().to_string();
        let out = dir.join(format!("out{i}"));
        let out = out.to_str().unwrap_or_default().to_string();
        for j in ["1", "2"] {
            let o = run(
                bmap(),
                &[
                    "--emit",
                    "k,v",
                    "--combine",
                    "sum:2",
                    "-j",
                    j,
                    "-S",
                    "1K",
                    "-o",
                    &out,
                    &f,
                ],
                b"",
            );
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(err.starts_with(&format!("bmap: {f}{at}")), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(!dir.exists(format!("out{i}")), "no -o file on failure");

            // --skip-bad: the bad record is skipped whole, the others are summed.
            let o = run(
                bmap(),
                &[
                    "--emit",
                    "k,v",
                    "--combine",
                    "sum:2",
                    "--skip-bad",
                    "-j",
                    j,
                    &f,
                ],
                b"",
            );
            let partial = ok(o, "bmap --skip-bad");
            let merged = ok(
                run(breduce(), &["--merge", "--hash", "sum:2"], &partial),
                "merge",
            );
            assert_eq!(text(&merged), "a\t1\nb\t2\n", "-j {j}");
        }
    }
}

#[test]
fn what_cannot_be_combined_is_a_usage_error() {
    let cases: [&[&str]; 5] = [
        &["--words", "--combine", "median:2"],
        &["--emit", "1,2", "--combine", "q50:2"],
        &["--combine", "nonsense"],
        &["--words", "--combine", "sum:3"],
        &["--combine", "count", "--", "cat"],
    ];
    for args in cases {
        let o = run(bmap(), args, b"a b\n");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).starts_with("bmap: "), "{args:?}");
    }
}

#[test]
fn header_names_the_partial_columns() {
    let input = b"name\tprice\nb\t1\na\t2\nb\t3\n";
    let got = ok(
        run(
            bmap(),
            &[
                "--header",
                "--emit",
                "name,price",
                "--combine",
                "sum:price",
                "--combine",
                "count",
            ],
            input,
        ),
        "bmap",
    );
    let merged = ok(
        run(
            breduce(),
            &["--merge", "--hash", "--header", "sum:price", "count"],
            &got,
        ),
        "breduce",
    );
    let want = ok(
        run(
            breduce(),
            &["--hash", "--header", "sum:price", "count"],
            input,
        ),
        "breduce",
    );
    assert_eq!(text(&merged), text(&want));
}
