//! Parquet in and out (issue 17), against pyarrow: files pyarrow writes (every type, codec
//! and layout) read as pyarrow's own values turned into text by the documented mapping
//! (tests/parquet/oracle.py), files we write read back by pyarrow equal to the source text.
//!
//! The oracle's Python is `$BATCHKIT_PYTHON`, else target/pyenv/bin/python (scripts/test.sh
//! installs pyarrow there). Without it the tests say SKIPPED on stderr, and fail when `CI`
//! is set (CI can install it).

use crate::util::{bin_path, Dir};
use std::path::PathBuf;
use std::process::Command;

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("BATCHKIT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python"),
    };
    let ok = Command::new(&p)
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "pyarrow not importable by {} (run scripts/test.sh, which installs it)",
        p.display()
    );
    eprintln!(
        "SKIPPED parquet oracle test: pyarrow not importable by {} (run scripts/test.sh)",
        p.display()
    );
    None
}

fn oracle(py: &PathBuf, args: &[&str]) -> Vec<u8> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/parquet/oracle.py");
    let o = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .expect("run the oracle");
    assert!(
        o.status.success(),
        "oracle {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn tool(d: &Dir, name: &str, args: &[&str]) -> std::process::Output {
    d.run(bin_path(name), args, b"")
}

#[test]
fn reads_every_type_codec_and_layout_as_pyarrow_does() {
    let Some(py) = python() else { return };
    let d = Dir::new();
    let dir = d.path().to_str().expect("utf-8 path");
    oracle(&py, &["write", dir]);
    for f in ["snappy", "gzip", "zstd_groups", "none_v2", "empty"] {
        let file = format!("{f}.parquet");
        let want = oracle(&py, &["tsv", &d.join(&file).to_string_lossy()]);
        let got = tool(&d, "bmap", &["--header", &file]);
        assert!(
            got.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&got.stdout),
            String::from_utf8_lossy(&want),
            "{f}"
        );
        // Without --header, the same rows and no names.
        let plain = tool(&d, "bmap", &[&file]);
        let rows = want.splitn(2, |&c| c == b'\n').nth(1).unwrap_or_default();
        assert_eq!(plain.stdout, rows, "{f} without --header");
    }
    // Columns by name, as with a TSV header (bsort by a decimal column, numerically).
    let got = tool(
        &d,
        "bsort",
        &["--header", "-k", "d52:n", "-k", "i64:n", "gzip.parquet"],
    );
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let text = String::from_utf8_lossy(&got.stdout);
    let second: Vec<&str> = text
        .lines()
        .nth(1)
        .map(|l| l.split('\t').collect())
        .unwrap_or_default();
    // -123.45 is below the nulls (empty, 0 to a numeric key) and 0.00.
    assert_eq!(second.get(10), Some(&"-123.45"), "{text}");
}

const TYPED: &str = "id\tprice\tqty_f\tok\tday\tat\tat_utc\tname\n\
1\t0.10\t1.5\ttrue\t2024-01-01\t2024-01-01T10:00:00\t2024-01-01T10:00:00.5Z\tplain\n\
-2\t-123.45\t-2e-05\tfalse\t1969-12-31\t1960-02-29T23:59:59.000001\t1970-01-01T00:00:00Z\ttab\\there\n\
\t\t\t\t\t\t\t\n\
9223372036854775807\t7\t3\ttrue\t2000-02-29\t2000-02-29T00:00:00\t2000-02-29T00:00:00Z\tünï ✓\n";

#[test]
fn writes_parquet_that_pyarrow_reads_back_equal_with_inferred_types() {
    let Some(py) = python() else { return };
    let d = Dir::new();
    d.write("in.tsv", TYPED);
    for tool_args in [
        vec!["bmap", "--header", "in.tsv", "-o", "out.parquet"],
        vec![
            "bsort",
            "--header",
            "-S",
            "1M",
            "-k",
            "1,1n",
            "in.tsv",
            "-o",
            "out.parquet",
        ],
    ] {
        let o = tool(&d, tool_args[0], &tool_args[1..]);
        assert!(
            o.status.success(),
            "{tool_args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let path = d.join("out.parquet").to_string_lossy().into_owned();
        let schema = String::from_utf8_lossy(&oracle(&py, &["schema", &path])).into_owned();
        assert_eq!(
            schema,
            "id:int64\nprice:decimal128(38, 2)\nqty_f:double\nok:bool\nday:date32[day]\n\
             at:timestamp[us]\nat_utc:timestamp[us, tz=UTC]\nname:string\n"
        );
        let back = String::from_utf8_lossy(&oracle(&py, &["tsv", &path])).into_owned();
        let mut want: Vec<&str> = TYPED.lines().collect();
        let mut got: Vec<&str> = back.lines().collect();
        if tool_args[0] == "bsort" {
            want[1..].sort_by_key(|l| l.split('\t').next().and_then(|n| n.parse::<i64>().ok()));
            got[1..].sort_by_key(|l| l.split('\t').next().and_then(|n| n.parse::<i64>().ok()));
        }
        // pyarrow prints the decimal 7 at scale 2, the float 3 as 3, -2e-05 positionally.
        let fix = |l: &str| {
            l.replace("\t7\t3\t", "\t7.00\t3\t")
                .replace("-2e-05", "-0.00002")
        };
        let want: Vec<String> = want.iter().map(|l| fix(l)).collect();
        assert_eq!(got, want, "{tool_args:?}");
        // And we read our own file back as the same text.
        let ours = tool(&d, "bmap", &["--header", "out.parquet"]);
        assert_eq!(String::from_utf8_lossy(&ours.stdout), back);
    }
    // No --header: columns c1, c2, ...
    let o = tool(&d, "bmap", &["in.tsv", "-o", "plain.parquet"]);
    assert!(o.status.success());
    let schema = oracle(&py, &["schema", &d.join("plain.parquet").to_string_lossy()]);
    assert!(String::from_utf8_lossy(&schema).starts_with("c1:string\nc2:string\n"));
}

#[test]
fn the_same_pipeline_over_tsv_and_parquet_gives_the_same_result() {
    let Some(py) = python() else { return };
    let d = Dir::new();
    let mut tsv = String::from("day\tuser\tamount\n");
    for i in 0..500u32 {
        tsv.push_str(&format!(
            "2024-01-{:02}\tu{}\t{}.{:02}\n",
            1 + i % 9,
            i % 13,
            i % 97,
            i % 100
        ));
    }
    d.write("orders.tsv", &tsv);
    oracle(
        &py,
        &[
            "from-tsv",
            &d.join("orders.tsv").to_string_lossy(),
            &d.join("orders.parquet").to_string_lossy(),
        ],
    );
    let run = |input: &str| {
        let o = tool(
            &d,
            "breduce",
            &[
                "--header",
                "-k",
                "day",
                "sum:amount",
                "count",
                "--hash",
                input,
            ],
        );
        assert!(
            o.status.success(),
            "{input}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    let a = run("orders.tsv");
    assert_eq!(a.len(), 10, "{a:?}");
    assert_eq!(a, run("orders.parquet"));
    // A join of a Parquet side with a TSV side, as with two TSV sides.
    d.write("users.tsv", "user\tname\nu1\tann\nu2\tbob\n");
    let j = |left: &str| {
        let o = tool(&d, "bjoin", &["--header", "-k", "user", left, "users.tsv"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut l: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect();
        l.sort();
        l
    };
    let tj = j("orders.tsv");
    assert!(tj.len() > 50);
    assert_eq!(tj, j("orders.parquet"));
}

#[test]
fn corrupt_truncated_and_non_parquet_files_fail_cleanly() {
    let d = Dir::new();
    d.write("text.parquet", "a\tb\n1\t2\n");
    d.write("in.tsv", "x\n");
    // A real file cut short (its footer is gone).
    d.run(bin_path("bmap"), ["in.tsv", "-o", "good.parquet"], b"");
    let good = d.read("good.parquet");
    assert!(good.starts_with(b"PAR1") && good.ends_with(b"PAR1"));
    d.write("cut.parquet", &good[..good.len() / 2]);
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[4..mid] {
        *b ^= 0x5a;
    }
    d.write("flipped.parquet", &flipped);
    for f in ["text.parquet", "cut.parquet", "flipped.parquet"] {
        let o = d.run(bin_path("bmap"), [f, "-o", "out.tsv"], b"");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{f}: {err}");
        assert!(err.starts_with(&format!("bmap: {f}")), "{f}: {err}");
        assert_eq!(err.lines().count(), 1, "{f}: {err}");
        assert!(!err.contains("panicked"), "{f}: {err}");
        assert!(!d.exists("out.tsv"), "{f}: partial output");
    }
    // A value that is not TSV-shaped for Parquet: rows of different widths.
    d.write("ragged.tsv", "a\tb\n1\n");
    let o = d.run(bin_path("bmap"), ["ragged.tsv", "-o", "r.parquet"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("bmap: r.parquet: line 2:"));
    assert!(!d.exists("r.parquet"));
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The oracle's text of FILE (only the columns named, when given), as lines.
fn oracle_lines(py: &PathBuf, d: &Dir, file: &str, cols: Option<&str>) -> Vec<String> {
    let path = d.join(file).to_string_lossy().into_owned();
    let mut args = vec!["tsv", path.as_str()];
    args.extend(cols);
    String::from_utf8_lossy(&oracle(py, &args))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn only_the_columns_a_tool_reads_are_decoded() {
    let Some(py) = python() else { return };
    let d = Dir::new();
    let dir = d.path().to_str().expect("utf-8 path");
    oracle(&py, &["nested", dir]);
    oracle(&py, &["write", dir]);
    // nested.parquet has a list and a struct column, which are not read: a tool that reads
    // the whole record stops at them; one that reads only scalar columns never decodes
    // them. Leaves are fields: id 1, tags 2, amount 3, who 4-5, name 6.
    let o = tool(&d, "bmap", &["--header", "nested.parquet"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("bmap: nested.parquet: ") && err.contains("nested"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let want = oracle_lines(&py, &d, "nested.parquet", Some("name,id,amount"));
    let keep = |l: &&String| !l.starts_with("skip\t");
    for args in [
        vec![
            "--header",
            "--where",
            "name != skip",
            "--emit",
            "name,id,amount",
        ],
        vec![
            "--header",
            "-j",
            "1",
            "--where",
            "6 != skip",
            "--emit",
            "6,1,3",
        ],
        vec![
            "--header",
            "-j",
            "2",
            "--where",
            "name != skip",
            "--emit",
            "6,id,3",
        ],
    ] {
        let mut a = args.clone();
        a.push("nested.parquet");
        let o = tool(&d, "bmap", &a);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .map(String::from)
            .collect();
        let w: Vec<String> = want.iter().skip(1).filter(keep).cloned().collect();
        assert_eq!(got, w, "{args:?}");
    }
    // A span reads the columns inside it; every type projected on its own is read as
    // when the whole file is.
    let all = oracle_lines(&py, &d, "snappy.parquet", None);
    let names: Vec<&str> = all[0].split('\t').collect();
    for (i, name) in names.iter().enumerate() {
        let o = tool(
            &d,
            "bmap",
            &[
                "--header",
                "--emit",
                &format!("{name},{}-{}", i + 1, i + 1),
                "snappy.parquet",
            ],
        );
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let want: Vec<String> = all
            .iter()
            .skip(1)
            .map(|l| {
                let v = l.split('\t').nth(i).unwrap_or_default();
                format!("{v}\t{v}")
            })
            .collect();
        let got: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .map(String::from)
            .collect();
        assert_eq!(got, want, "{name}");
    }
    // A span far past the last field is a range to it, not a list of numbers.
    let o = tool(
        &d,
        "bmap",
        &["--emit", "20-44444444444444443", "snappy.parquet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<String> = all
        .iter()
        .skip(1)
        .map(|l| l.split('\t').skip(19).collect::<Vec<_>>().join("\t"))
        .collect();
    let got = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    // Records written whole, or kept whole by --bad-records, have every column.
    let o = tool(
        &d,
        "bmap",
        &["--header", "--where", "s != plain", "snappy.parquet"],
    );
    assert!(o.status.success());
    let want: Vec<&String> = all
        .iter()
        .filter(|l| l.split('\t').nth(13) != Some("plain"))
        .collect();
    let got = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    let o = tool(
        &d,
        "bmap",
        &[
            "--header",
            "--emit",
            "s|day",
            "--bad-records",
            "bad.tsv",
            "snappy.parquet",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bad = String::from_utf8_lossy(&d.read("bad.tsv")).into_owned();
    assert!(bad.lines().count() > 10, "{bad}");
    for l in bad.lines() {
        assert!(all.iter().any(|a| a == l), "a bad record not whole: {l}");
    }
}

#[test]
fn decimals_and_strings_with_nulls_across_write_slices_read_back_equal() {
    let Some(py) = python() else { return };
    let d = Dir::new();
    // More rows than the writer's 1024-row slices, nulls placed off the slice boundaries.
    let mut tsv = String::from("id\tamount\tname\n");
    for i in 0..3000u32 {
        let amount = if i % 7 == 3 {
            String::new()
        } else {
            format!("{}.{:02}", i * 13 % 1000, i % 100)
        };
        let name = match i % 5 {
            0 => String::new(),
            1 => format!("tab\\there {i}"),
            _ => format!("n{}", i % 37),
        };
        tsv.push_str(&format!("{i}\t{amount}\t{name}\n"));
    }
    d.write("in.tsv", &tsv);
    let o = tool(&d, "bmap", &["--header", "in.tsv", "-o", "out.parquet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = oracle_lines(&py, &d, "out.parquet", None);
    let want: Vec<&str> = tsv.lines().collect();
    assert_eq!(back, want);
}

#[test]
fn format_parquet_reads_a_file_without_the_extension() {
    let Some(py) = python() else { return };
    let d = Dir::new();
    let dir = d.path().to_str().expect("utf-8 path");
    oracle(&py, &["write", dir]);
    std::fs::copy(d.join("snappy.parquet"), d.join("types.bin")).expect("copy");
    let want = oracle_lines(&py, &d, "snappy.parquet", None);
    let o = tool(
        &d,
        "bmap",
        &["--header", "--format", "parquet", "types.bin"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    // Projection and the other tools' --format too.
    let o = tool(
        &d,
        "bsort",
        &[
            "--header",
            "--format",
            "parquet",
            "-k",
            "i64:n",
            "types.bin",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        want.len()
    );
    let o = tool(
        &d,
        "bmap",
        &["--header", "--from", "parquet", "--emit", "s", "types.bin"],
    );
    let s: Vec<String> = want
        .iter()
        .map(|l| l.split('\t').nth(13).unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .collect::<Vec<_>>(),
        s
    );
    // Parquet needs a file (its footer is at the end): standard input is refused.
    let o = d.run(bin_path("bmap"), ["--format", "parquet"], b"PAR1");
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("bmap: ") && err.contains("standard input"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // A TSV file read as Parquet is a bad Parquet file.
    d.write("t.tsv", "a\tb\n");
    let o = tool(&d, "bmap", &["--format", "parquet", "t.tsv"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("bmap: t.tsv: "));
}
