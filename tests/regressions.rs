//! Regression tests: each named after what it guards, with one line on why (the defect it
//! once was, found by a user, a fuzz target or an oracle test). Features are tested in
//! their tool's file; a defect fixed later gets its test here.

use crate::bsort_oracle::{expect, join, oracle_twice, require_gnu};
use crate::util::{self, Case, Dir, Failures, Rng};

/// breduce --merge: partial counts that overflow 64 bits saturate, never panic or wrap (a
/// fuzz find, issue 14).
#[test]
fn regression_fuzz_partial_count_overflow() {
    let dir = Dir::new();
    let out = dir.run(
        util::bin!("breduce"),
        ["--merge", "--hash", "count"],
        b"k\t1\nk\t18446744073709551615\n",
    );
    assert!(out.status.code().is_some(), "killed by a signal");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert!(!out.stdout.starts_with(b"k\t0\n"), "the count wrapped");
}

/// bsort -h with -f: `1m` folds to `1M`, a unit (a mismatch with GNU sort found by the
/// random oracle tests).
#[test]
fn regression_human_fold_unit() {
    if !require_gnu() {
        return;
    }
    let dir = Dir::new();
    let mut f = Failures::new("regression_human_fold_unit");
    // `1m` folds to `1M` (order 2) > `1500` (order 0).
    expect(
        &dir,
        &["-hf"],
        &["-hf"],
        b"1500\n1m\n",
        b"1500\n1m\n",
        &mut f,
    );
    expect(
        &dir,
        &["-k1,1hf"],
        &["-k1,1hf"],
        b"1m\n1500\n",
        b"1500\n1m\n",
        &mut f,
    );
    expect(
        &dir,
        &["-hf"],
        &["-hf"],
        b"3G\n2g\n1t\n",
        b"2g\n3G\n1t\n",
        &mut f,
    );
    // Without -f, lower-case m and g are not units.
    expect(&dir, &["-h"], &["-h"], b"1500\n1m\n", b"1m\n1500\n", &mut f);
    f.finish();
}

/// bsort -s keeps equal-key records in input order, whatever the number of records (a
/// mismatch with GNU sort appeared from 33 records on, with empty lines among the ties).
#[test]
fn regression_stable_ties_many_records() {
    if !require_gnu() {
        return;
    }
    let dir = Dir::new();
    let mut fails = Failures::new("regression_stable_ties_many_records");
    // "", "x", 29 × "", "x x 1", "": every record but "x x 1" has an empty key 3.
    let mut input = b"\nx\n".to_vec();
    input.extend(std::iter::repeat_n(b'\n', 29));
    input.extend_from_slice(b"x x 1\n\n");
    for args in [
        &["-s", "-k3,3"][..],
        &["-u", "-k3,3"],
        &["-s", "-k3,3n"],
        &["-s", "-r", "-k3,3"],
    ] {
        let case = Case::new(args, input.clone()).label("stable ties");
        oracle_twice(&dir, &case, &mut fails);
    }
    // Many equal keys in a shuffled order, records of varied lengths, with -s and -u.
    let mut rng = Rng::new(0x57ab1e);
    for n in [31usize, 32, 33, 34, 64, 100, 257, 1000] {
        let mut recs: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let key = rng.below(3);
                let mut r = Vec::new();
                if rng.chance(1, 4) {
                    return r;
                }
                r.extend(format!("{i} {key}").bytes());
                r
            })
            .collect();
        rng.shuffle(&mut recs);
        let input = join(&mut rng, &recs, b'\n');
        for args in [
            &["-s", "-k2,2"][..],
            &["-u", "-k2,2"],
            &["-s", "-k2,2n"],
            &["-s", "-r", "-k2,2"],
        ] {
            let case = Case::new(args, input.clone()).label(format!("{n} records"));
            oracle_twice(&dir, &case, &mut fails);
        }
    }
    fails.finish();
}

/// bmap --emit with a huge field number (`2-44444444444444443`) panicked preallocating
/// field offsets (a fuzz find, 9542247); it is a span to the last field.
#[test]
fn regression_bmap_huge_field_span_is_to_the_last_field() {
    let dir = Dir::new();
    let out = dir.run(
        util::bin!("bmap"),
        ["--emit", "2-44444444444444443"],
        b"a\tb\tc\n",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"b\tc\n");
}

/// bmap --unordered interleaved two chunks' outputs when one finished while another was
/// being written (c0bef47): each chunk's output is written whole.
#[test]
fn regression_bmap_unordered_writes_each_chunk_whole() {
    let dir = Dir::new();
    let input: Vec<u8> = (0..40_000)
        .flat_map(|i| format!("{i:08}\n").into_bytes())
        .collect();
    let out = dir.run(
        util::bin!("bmap"),
        [
            "-j",
            "3",
            "--unordered",
            "--chunk-size",
            "32K",
            "--",
            "sh",
            "-c",
            "sed \"s/^/$BMAP_CHUNK /\"",
        ],
        &input,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Chunk numbers come in runs, one run per chunk, each run its records in order.
    let mut seen = std::collections::HashSet::new();
    let mut last: Option<(String, String)> = None;
    let mut lines = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        lines += 1;
        let (chunk, rec) = line.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        match &last {
            Some((c, r)) if c == chunk => assert!(r.as_str() < rec, "{line}"),
            _ => assert!(seen.insert(chunk.to_string()), "chunk {chunk} cut in two"),
        }
        last = Some((chunk.to_string(), rec.to_string()));
    }
    assert_eq!(lines, 40_000);
    assert!(seen.len() > 3, "{} chunks", seen.len());
}

/// bsplit --by names no directory outside DIR (`..`, `/`), and reading such a directory back
/// decodes `%` before a multi-byte character, where partition's decoding once panicked (a
/// fuzz find, 6ecf17a).
#[test]
fn regression_bsplit_by_value_names_stay_inside_dir() {
    let dir = Dir::new();
    let input = "..\t1\n.\t2\n../x\t3\n%\u{e9}\t4\n";
    let out = dir.run(
        util::bin!("bsplit"),
        ["--by", "1", "-o", "out"],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "_SUCCESS",
            "f1=%25%C3%A9",
            "f1=%2E",
            "f1=%2E%2E",
            "f1=..%2Fx"
        ]
    );
    let back = dir.run(util::bin!("breduce"), ["--hash", "count", "out"], b"");
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
}
