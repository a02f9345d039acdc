//! Issue 14, defect 9: JSON keys. A member name given twice in one object: the last one
//! wins, as in jq and Python's json module (at every level of a path). A bad escape, or a
//! `\u` escape of a lone surrogate (no UTF-8 form; jq's U+FFFD would merge `\ud800` and
//! `\ud801` into one key), makes the record bad: `TOOL: FILE:LINE: not valid JSON: ...`,
//! status 1, or skipped with --skip-bad. Checked against python3's json module for breduce,
//! bjoin and bmap.

use crate::util::{self, Dir};
use std::process::Command;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Lines with duplicated members, nested duplicates and escaped names.
const DUPS: &str = concat!(
    r#"{"k": "a", "v": 1, "k": "b"}"#,
    "\n",
    r#"{"u": {"id": "x"}, "v": 2, "u": {"id": "y"}}"#,
    "\n",
    r#"{"k": "b", "v": 3}"#,
    "\n",
    r#"{"\u006b": "c", "v": 4, "k": "a"}"#,
    "\n",
    r#"{"k": "\ud83d\ude00", "v": 5, "u": {"id": "x", "id": "z"}}"#,
    "\n",
);

/// python3: sum of v per value of `path` (json.loads; a missing key is ""), `key\tsum`.
fn python_sums(data: &str, path: &str) -> String {
    let py = r#"
import json, sys
path = sys.argv[1].split('.')
sums = {}
for line in sys.stdin:
    d = json.loads(line)
    o = d
    for p in path:
        o = o.get(p, "") if isinstance(o, dict) else ""
    sums[o] = sums.get(o, 0) + d["v"]
for k in sorted(sums):
    sys.stdout.write("%s\t%d\n" % (k, sums[k]))
"#;
    let mut child = Command::new("python3")
        .args(["-c", py, path])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sorted_lines(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(b);
    let mut v: Vec<&str> = t.lines().collect();
    v.sort();
    v.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn duplicate_members_last_wins_like_python() {
    let d = Dir::new();
    d.write("d.jsonl", DUPS);
    for path in ["k", "u.id"] {
        let want = python_sums(DUPS, path);
        for mode in [&["--hash"][..], &["--hash", "-j", "1"][..]] {
            let mut args = vec!["--format", "jsonl", "-k", path];
            args.extend(mode);
            args.extend(["sum:v", "d.jsonl"]);
            let out = d.run(util::bin!("breduce"), &args, b"");
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert_eq!(sorted_lines(&out.stdout), want, "breduce {args:?}");
        }
        // bmap --emit reads the same member.
        let out = d.run(
            util::bin!("bmap"),
            ["--from", "jsonl", "--emit", &format!("{path},v"), "d.jsonl"],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let mut sums: std::collections::BTreeMap<String, i64> = Default::default();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let (k, v) = l.split_once('\t').unwrap_or((l, "0"));
            *sums.entry(k.to_string()).or_default() += v.parse::<i64>().unwrap_or(0);
        }
        let mine: String = sums.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
        assert_eq!(mine, want, "bmap --emit {path}");
    }
    // bjoin: the last "k" is the join key.
    d.write(
        "u.jsonl",
        "{\"k\": \"a\", \"n\": 1}\n{\"k\": \"b\", \"n\": 2}\n",
    );
    for strat in ["hash", "merge"] {
        let out = d.run(
            util::bin!("bjoin"),
            [
                "-k",
                "k",
                "--strategy",
                strat,
                "--type",
                "semi",
                "d.jsonl",
                "u.jsonl",
            ],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let got = String::from_utf8_lossy(&out.stdout).into_owned();
        let want: String = DUPS
            .lines()
            .filter(|l| {
                let k = python_key(l);
                k == "a" || k == "b"
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            sorted_lines(got.as_bytes()),
            sorted_lines(want.as_bytes()),
            "{strat}"
        );
    }
}

fn python_key(line: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys; print(json.loads(sys.argv[1]).get('k', ''))",
            line,
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

#[test]
fn lone_surrogates_and_bad_escapes_are_bad_records() {
    let d = Dir::new();
    let data = concat!(
        r#"{"k": "\ud800", "v": 1}"#,
        "\n",
        r#"{"k": "\ud801", "v": 2}"#,
        "\n",
        r#"{"k": "ok", "v": 3}"#,
        "\n",
        r#"{"k": "x\q", "v": 4}"#,
        "\n",
        r#"{"k": "\udc00\ud800", "v": 5}"#,
        "\n",
    );
    d.write("s.jsonl", data);
    for mode in [&["--hash"][..], &["--hash", "-j", "1"][..]] {
        let mut args = vec!["--format", "jsonl", "-k", "k"];
        args.extend(mode);
        args.extend(["-o", "o.tsv", "sum:v", "s.jsonl"]);
        let out = d.run(util::bin!("breduce"), &args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("breduce: s.jsonl:1: not valid JSON: lone surrogate"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!d.exists("o.tsv"));
        let mut args = vec!["--format", "jsonl", "-k", "k", "--skip-bad"];
        args.extend(mode);
        args.extend(["sum:v", "s.jsonl"]);
        let out = d.run(util::bin!("breduce"), &args, b"");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(out.stdout, b"ok\t3\n", "{args:?}");
        assert!(stderr(&out).contains("4 bad records"), "{}", stderr(&out));
    }
    // bjoin, either strategy and any -j: the same records are bad.
    d.write("u.jsonl", "{\"k\": \"ok\"}\n{\"k\": \"\\ud800\"}\n");
    for strat in ["hash", "merge"] {
        for j in ["1", "2"] {
            let out = d.run(
                util::bin!("bjoin"),
                [
                    "-k",
                    "k",
                    "--strategy",
                    strat,
                    "-j",
                    j,
                    "s.jsonl",
                    "u.jsonl",
                ],
                b"",
            );
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            assert!(stderr(&out).contains(".jsonl:"), "{}", stderr(&out));
            let out = d.run(
                util::bin!("bjoin"),
                [
                    "-k",
                    "k",
                    "--strategy",
                    strat,
                    "-j",
                    j,
                    "--skip-bad",
                    "s.jsonl",
                    "u.jsonl",
                ],
                b"",
            );
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "{\"left\":{\"k\": \"ok\", \"v\": 3},\"right\":{\"k\": \"ok\"}}\n"
            );
            assert_eq!(stderr(&out), "bjoin: skipped 5 bad records\n");
        }
    }
    // bmap reports the line too.
    let out = d.run(
        util::bin!("bmap"),
        ["--from", "jsonl", "--emit", "k", "s.jsonl"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("bmap: s.jsonl:1: not valid JSON"),
        "{}",
        stderr(&out)
    );
}
