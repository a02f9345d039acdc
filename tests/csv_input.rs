//! Issue 14, defect 2: a lone CR in CSV. batchkit frames records on newlines; a CR outside
//! quotes that does not end a line (before the newline, where it is a CRLF line end) is a
//! malformed record: `TOOL: FILE:LINE: malformed CSV record: a CR outside quotes ...`,
//! status 1, or skipped (and counted) with --skip-bad. It never silently ends a record and
//! drops what follows (csv_core's reading, which lost `b,2` here). Python's csv module
//! refuses such a line too ("new-line character seen in unquoted field"); a CR inside
//! quotes is data, as there; CRLF files read as Python reads them.

use crate::util::{self, Dir};
use std::process::Command;

fn breduce() -> &'static str {
    util::bin!("breduce")
}

fn bjoin() -> &'static str {
    util::bin!("bjoin")
}

const LONE_CR: &[u8] = b"k,v\na,1\rb,2\nc,3\n";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Group sums by Python's csv module: `key<TAB>sum` lines sorted by key.
fn python_sums(data: &[u8]) -> String {
    let d = Dir::new();
    d.write("in.csv", data);
    let py = r#"
import csv, sys
from decimal import Decimal
rows = list(csv.reader(open(sys.argv[1], newline='')))
sums = {}
for k, v in rows[1:]:
    sums[k] = sums.get(k, Decimal(0)) + Decimal(v)
for k in sorted(sums):
    sys.stdout.write("%s\t%s\n" % (k, sums[k]))
"#;
    let out = Command::new("python3")
        .args(["-c", py, &d.join("in.csv").to_string_lossy()])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sorted_lines(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(b);
    let mut v: Vec<&str> = t.lines().collect();
    v.sort();
    v.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn breduce_lone_cr_is_a_bad_record_not_lost_data() {
    let d = Dir::new();
    d.write("cr.csv", LONE_CR);
    for mode in [&[][..], &["--hash"][..]] {
        for j in ["1", "2"] {
            let mut args = vec!["--format", "csv", "--header", "-k", "k", "-j", j];
            args.extend(mode);
            args.extend(["-o", "out.csv", "sum:v", "cr.csv"]);
            let out = d.run(breduce(), &args, b"");
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
            let e = stderr(&out);
            assert!(
                e.starts_with("breduce: cr.csv:2: malformed CSV record: a CR outside quotes"),
                "{args:?}: {e}"
            );
            assert!(!d.exists("out.csv"));
            let mut args = vec![
                "--format",
                "csv",
                "--header",
                "-k",
                "k",
                "-j",
                j,
                "--skip-bad",
            ];
            args.extend(mode);
            args.extend(["sum:v", "cr.csv"]);
            let out = d.run(breduce(), &args, b"");
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert_eq!(sorted_lines(&out.stdout), "c\t3\nk\tsum_v\n", "{args:?}");
            assert!(stderr(&out).contains("1 bad record"), "{}", stderr(&out));
        }
    }
}

#[test]
fn breduce_quoted_cr_and_crlf_equal_python_csv() {
    let d = Dir::new();
    let data = b"k,v\r\n\"a\rb\",1\r\nc,2\r\n\"a\rb\",3\r\n\"x\ry\",4\r\n";
    d.write("q.csv", data);
    let want = python_sums(data);
    let out = d.run(
        breduce(),
        [
            "--format", "csv", "--header", "-k", "k", "--hash", "sum:v", "q.csv",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = got.split_once('\n').unwrap_or_default();
    assert_eq!(head, "k\tsum_v");
    assert_eq!(sorted_lines(body.as_bytes()), want);
}

#[test]
fn bjoin_lone_cr_is_a_bad_record_on_either_side_and_strategy() {
    let d = Dir::new();
    d.write("cr.csv", LONE_CR);
    d.write("u.csv", "k,name\na,ann\nb,bob\nc,cy\n");
    for (l, r) in [("cr.csv", "u.csv"), ("u.csv", "cr.csv")] {
        for strat in ["hash", "merge"] {
            for j in ["1", "3"] {
                let args = [
                    "--format",
                    "csv",
                    "--header",
                    "-k",
                    "k",
                    "--strategy",
                    strat,
                    "-j",
                    j,
                    "-o",
                    "o.csv",
                    l,
                    r,
                ];
                let out = d.run(bjoin(), args, b"");
                assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
                assert!(
                    stderr(&out)
                        .starts_with("bjoin: cr.csv:2: malformed CSV record: a CR outside quotes"),
                    "{args:?}: {}",
                    stderr(&out)
                );
                assert!(!d.exists("o.csv"));
                let args = [
                    "--format",
                    "csv",
                    "--header",
                    "-k",
                    "k",
                    "--strategy",
                    strat,
                    "-j",
                    j,
                    "--bad-records",
                    "bad.csv",
                    l,
                    r,
                ];
                let out = d.run(bjoin(), args, b"");
                assert!(out.status.success(), "{args:?}: {}", stderr(&out));
                assert_eq!(d.read("bad.csv"), b"a,1\rb,2\n", "{args:?}");
                let body = sorted_lines(&out.stdout);
                assert!(
                    body.contains("c,3,cy\n") || body.contains("c,cy,3\n"),
                    "{args:?}: {body}"
                );
                assert!(
                    !body.contains("a,") && !body.contains("b,"),
                    "{args:?}: {body}"
                );
            }
        }
    }
}
