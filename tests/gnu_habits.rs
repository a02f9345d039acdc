//! Issue 16 (4): the command-line habits of GNU tools, on all six tools — an option given
//! twice is accepted (the last value wins), `-o` may repeat the same file and its value may
//! start with a dash, two different `-o` are a usage error, and bshuffle's `-n N` may go with
//! `--partition I/N` when both say the same N.

use crate::util::{self, Dir};

/// Run TOOL with ARGS in DIR.
fn run(dir: &Dir, tool: &str, args: &[&str]) -> std::process::Output {
    dir.run(util::bin_path(tool), args, b"")
}

fn ok(dir: &Dir, tool: &str, args: &[&str]) -> Vec<u8> {
    let out = run(dir, tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn every_tool_takes_an_option_twice_and_the_same_output_twice() {
    let dir = Dir::new();
    dir.write("in.tsv", "b\t2\na\t1\nb\t3\n");
    dir.write("users.tsv", "a\tann\nb\tbob\n");
    let twice = [
        "-j",
        "1",
        "-j",
        "2",
        "-S",
        "1M",
        "-S",
        "8M",
        "--stats=st",
        "--stats=st",
    ];
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("bsort", vec!["-o", "out", "-o", "out", "in.tsv"], "out"),
        (
            "bmap",
            vec!["--words", "--words", "-o", "out", "-o", "out", "in.tsv"],
            "out",
        ),
        (
            "breduce",
            vec![
                "--hash", "--hash", "-o", "out", "-o", "out", "count", "in.tsv",
            ],
            "out",
        ),
        (
            "bjoin",
            vec!["-o", "out", "-o", "out", "in.tsv", "users.tsv"],
            "out",
        ),
        (
            "bshuffle",
            vec!["-n", "2", "-n", "2", "-o", "dir", "-o", "dir", "in.tsv"],
            "dir/_SUCCESS",
        ),
        (
            "bsplit",
            vec!["-l", "1", "-l", "2", "-o", "dir", "-o", "dir", "in.tsv"],
            "dir/_SUCCESS",
        ),
    ];
    for (tool, args, made) in cases {
        dir.clear();
        dir.write("in.tsv", "b\t2\na\t1\nb\t3\n");
        dir.write("users.tsv", "a\tann\nb\tbob\n");
        let mut all: Vec<&str> = twice.to_vec();
        all.extend(&args);
        ok(&dir, tool, &all);
        assert!(dir.exists(made), "{tool}: no {made}");
        assert!(dir.exists("st"), "{tool}: no --stats file");
    }
}

#[test]
fn the_last_value_wins_and_dash_values_are_values() {
    let dir = Dir::new();
    dir.write("in", "b\nA\na\n");
    // -f twice is -f; the later -k replaces nothing (keys append), -t twice: the last.
    assert_eq!(ok(&dir, "bsort", &["-f", "-f", "in"]), b"A\na\nb\n");
    assert_eq!(
        ok(&dir, "bsort", &["-t", ",", "-t", "\t", "-k1,1", "in"]),
        b"A\na\nb\n"
    );
    ok(&dir, "bsort", &["-o", "-dash-file", "in"]);
    assert_eq!(dir.read("-dash-file"), b"A\na\nb\n");
    let out = run(&dir, "bsort", &["-o", "x", "-o", "y", "in"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("multiple output files specified: x and y"),
        "{err}"
    );
    assert!(!dir.exists("x") && !dir.exists("y"));
}

#[test]
fn bshuffle_n_agrees_with_partition() {
    let dir = Dir::new();
    let mut input = String::new();
    for i in 0..200 {
        input.push_str(&format!("k{i}\t{i}\n"));
    }
    dir.write("in", &input);
    let alone = ok(&dir, "bshuffle", &["--partition", "3/7", "in"]);
    assert!(!alone.is_empty());
    assert_eq!(
        ok(&dir, "bshuffle", &["-n", "7", "--partition", "3/7", "in"]),
        alone
    );
    let out = run(&dir, "bshuffle", &["-n", "6", "--partition", "3/7", "in"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-n 6") && err.contains("3/7"), "{err}");
}
