//! Issue 16 (7): every example in the tools' `--help` and in the README runs as written. The examples are
//! extracted from each command's help text (never copied here by hand), then run by bash,
//! in order per tool, in a directory of small inputs under the names the examples use, with
//! the built binaries first on PATH; each must exit 0 (`set -o pipefail`).
//!
//! README examples are the `sh` blocks whose every command starts with a batchkit tool (the
//! install, Spark and cluster blocks need a prefix, a JVM or a cluster: they are run by
//! tests/install.rs and scripts/spark/ci.sh instead).
//!
//! The only rewriting: `-T /scratch` points into the test's directory, and `| jq …` becomes
//! `| cat` where jq is not installed.

use crate::util::Dir;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tools() -> Vec<(&'static str, clap::Command)> {
    crate::man::pages()
}

/// The example commands of a help text: the lines of its `Examples:` section, with
/// continuations (`\` at the end, or a deeper-indented line starting with `|` or `>`)
/// joined, and the description after a run of two spaces cut off.
fn examples(help: &str) -> Vec<String> {
    let mut lines = help
        .lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty());
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for l in lines.by_ref() {
        let t = l.trim();
        let cont = open || (l.starts_with("    ") && (t.starts_with('|') || t.starts_with('>')));
        let (cmd, more) = command_of(t, "  ");
        match out.last_mut() {
            Some(last) if cont => {
                last.push(' ');
                last.push_str(cmd);
            }
            _ => out.push(cmd.to_string()),
        }
        open = more;
    }
    out
}

/// The command of an example line: the text before `comment` (where its description
/// starts), and whether it goes on on the next line (a trailing `\\`).
fn command_of<'a>(line: &'a str, comment: &str) -> (&'a str, bool) {
    let cmd = match line.find(comment) {
        Some(i) => line[..i].trim_end(),
        None => line,
    };
    match cmd.strip_suffix('\\') {
        Some(c) => (c.trim_end(), true),
        None => (cmd, false),
    }
}

fn tsv(rows: &[&str]) -> String {
    rows.iter()
        .map(|r| format!("{}\n", r.replace(' ', "\t")))
        .collect()
}

/// Small inputs under the names the examples use; `header`: the variant with a header line
/// (for examples that say `--header`).
fn fixture(name: &str, header: bool) -> Option<String> {
    // Sorted, so that `bsort -c` of it succeeds.
    let kv = tsv(&["a 1", "a 4", "b 2", "c 3"]);
    Some(match (name, header) {
        ("data.tsv" | "big.tsv" | "in.tsv" | "day1.tsv" | "day2.tsv" | "mapper-1.tsv", _) => kv,
        ("mapper-2.tsv" | "big1.tsv" | "big2.tsv" | "today.tsv" | "yesterday.tsv", _) => {
            tsv(&["a 5", "b 6", "d 7"])
        }
        ("orders.tsv", _) => tsv(&["1 7 3.50", "2 8 1.25", "3 7 9.00"]),
        ("users.tsv", _) => tsv(&["7 ann", "8 bob"]),
        ("sales.tsv", false) => tsv(&["north 1 5", "south 2 2.5", "north 3 1"]),
        ("sales.tsv", true) => tsv(&["region day amount", "north x 5", "south y 2.5"]),
        ("events.tsv", _) => tsv(&["day user", "2024-01-01 u1", "2024-01-02 u2"]),
        ("items.tsv", _) => tsv(&["name price", "Apple 150", "Zoo 20", "Bean 300"]),
        ("items.csv", _) => "name,price\napple,3\n\"b, c\",1\n".into(),
        ("data.csv", _) => "a,b,c,d,e\n1,2,3,4,5\n".into(),
        ("events.csv", _) => "user_id,event\nu1,click\nu2,view\n".into(),
        ("a.csv", _) => "user_id,x\n1,a\n2,b\n".into(),
        ("b.csv", _) => "user_id,y\n1,c\n3,d\n".into(),
        ("events.jsonl", _) => "{\"user\":{\"id\":2},\"e\":\"x\"}\n{\"user\":{\"id\":1}}\n".into(),
        ("users.jsonl", _) => "{\"user\":{\"id\":1},\"name\":\"ann\"}\n".into(),
        ("orders.jsonl", _) => concat!(
            "{\"status\":\"completed\",\"created_at\":\"2024-01-01T10:00:00\",\"amount\":1.50}\n",
            "{\"status\":\"pending\",\"created_at\":\"2024-01-01T11:00:00\",\"amount\":2.00}\n",
            "{\"status\":\"completed\",\"created_at\":\"2024-01-02T09:00:00\",\"amount\":0.25}\n",
        )
        .into(),
        ("corpus.txt" | "log.txt" | "big.log", _) => "the cat ERROR\nthe dog\n".into(),
        ("parse.py", _) => "import sys\nsys.stdout.write(sys.stdin.read())\n".into(),
        _ => return None,
    })
}

fn write_fixtures(dir: &Path, example: &str) {
    let header = example.contains("--header");
    for word in example.split([' ', '/', '|', ';']) {
        if let Some(body) = fixture(word, header) {
            std::fs::write(dir.join(word), body).unwrap_or_else(|e| panic!("{word}: {e}"));
        }
    }
    if example.contains("mapper-*.tsv") {
        for m in ["mapper-1.tsv", "mapper-2.tsv"] {
            let body = fixture(m, false).unwrap_or_default();
            std::fs::write(dir.join(m), body).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bsort"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Inputs that are the output of other tools: gzip'd logs, sorted parts, partitioned dirs.
const SETUP: &str = r#"
printf 'GET /a\nGET /b\n' | gzip > access.log.gz
printf 'a\t1\nb\t2\n' > part-1; printf 'a\t3\nc\t4\n' > part-2
printf '7\tx\n8\ty\n' > l.tsv; printf '7\tann\n9\tzed\n' > r.tsv
bsplit --hash -n 4 -k 1 -o left_parts/ l.tsv && bsplit --hash -n 4 -k 1 -o right_parts/ r.tsv
bsplit --hash -n 4 -k 1 -o orders_parts/ l.tsv && bsplit --hash -n 4 -k 1 -o users_parts/ r.tsv
printf 'created_at\tamount\n2024-01-01T10:00:00\t1.50\n2024-01-02T09:00:00\t0.25\n' > o.tsv
bmap --header -o orders.parquet o.tsv
mkdir -p scratch
"#;

/// Run each group of examples in a fresh directory of fixtures, in order; the failures.
fn run_all(groups: Vec<(String, Vec<String>)>) -> (usize, Vec<String>) {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let jq = have("jq");
    let mut failures = Vec::new();
    let mut ran = 0;
    for (group, list) in groups {
        let dir = Dir::new();
        let setup = Command::new("bash")
            .args(["-euc", SETUP])
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            setup.status.success(),
            "setup: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        for ex in list {
            write_fixtures(dir.path(), &ex);
            let mut script = ex.replace("/scratch", "scratch");
            if !jq {
                if let Some(i) = script.find("| jq") {
                    script = format!("{}| cat", &script[..i]);
                }
            }
            let out = Command::new("bash")
                .args(["-c", &format!("set -o pipefail; {script}")])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("LC_ALL", "C")
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            ran += 1;
            if !out.status.success() {
                failures.push(format!(
                    "{group}: `{ex}` exited {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    (ran, failures)
}

#[test]
fn every_help_example_runs() {
    let mut groups = Vec::new();
    for (tool, mut cmd) in tools() {
        let help = cmd.render_long_help().to_string();
        let list = examples(&help);
        assert!(list.len() >= 3, "{tool}: too few examples found in --help");
        groups.push((tool.to_string(), list));
    }
    let (ran, failures) = run_all(groups);
    assert!(ran >= 30, "only {ran} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const TOOLS: [&str; 7] = [
    "bsort", "bsplit", "bmap", "bshuffle", "breduce", "bjoin", "du",
];

/// The README's `sh` blocks of batchkit commands: lines joined at a trailing `\`, the
/// comment after two spaces and `#` cut off; a block with any other command is left out.
fn readme_examples(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut groups = Vec::new();
    let mut block: Option<Vec<String>> = None;
    let mut open = false;
    for (n, line) in readme.lines().enumerate() {
        let t = line.trim_end();
        if block.is_none() {
            if t == "```sh" {
                block = Some(Vec::new());
            }
            continue;
        }
        if t == "```" {
            if let Some(list) = block.take() {
                let ours = |c: &String| TOOLS.iter().any(|tool| c.split(' ').next() == Some(*tool));
                if !list.is_empty() && list.iter().all(ours) {
                    groups.push((format!("README.md block ending at line {}", n + 1), list));
                }
            }
            open = false;
            continue;
        }
        let (cmd, more) = command_of(t, "  #");
        if let Some(list) = block.as_mut() {
            match list.last_mut() {
                Some(last) if open => {
                    last.push(' ');
                    last.push_str(cmd.trim_start());
                }
                _ if cmd.trim().is_empty() => {}
                _ => list.push(cmd.trim().to_string()),
            }
        }
        open = more;
    }
    groups
}

#[test]
fn every_readme_example_runs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    let groups = readme_examples(&readme);
    let count: usize = groups.iter().map(|g| g.1.len()).sum();
    assert!(count >= 25, "only {count} README examples found");
    let (_, failures) = run_all(groups);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn readme_examples_are_extracted_whole() {
    let md = "x\n```sh\nbsort a   # sort\nbmap x \\\n  | breduce y   # two\n```\n\
              ```sh\ncargo build\nbsort b\n```\n";
    let got = readme_examples(md);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, vec!["bsort a", "bmap x | breduce y"]);
}

#[test]
fn examples_are_extracted_whole() {
    let help = "Examples:\n  bsort a   sort it\n  bmap x \\\n    | breduce y\n  cat p \
                > q\n\nMore\n";
    assert_eq!(
        examples(help),
        vec!["bsort a", "bmap x | breduce y", "cat p > q"]
    );
}
