//! docs/ is the contract users read on a fresh clone (issue 15: 7): its reference vectors
//! must be what the partition function computes, and the README and docs must link only to
//! files that exist in the repository, never to the workspace's ../shared.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect()
}

/// docs/partition-vectors.tsv, the table users check other implementations against, holds
/// the values `partition` computes (the unit test in crates/partition checks its fixture copy).
#[test]
fn docs_partition_vectors_are_what_the_partition_function_computes() {
    let text = read(&root().join("docs/partition-vectors.tsv"));
    let mut header: Vec<&str> = Vec::new();
    let mut rows = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        if header.is_empty() {
            header = cols;
            continue;
        }
        let key = unhex(cols[0]);
        let want: u64 = cols[1].parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(partition::hash(&key), want, "xxh3_64 of {}", cols[0]);
        for (name, v) in header.iter().zip(&cols).skip(2) {
            let n: u64 = name
                .trim_start_matches("mod_")
                .parse()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let p: u64 = v.parse().unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(partition::partition_of(&key, n), p, "{} mod {n}", cols[0]);
        }
        rows += 1;
    }
    assert!(rows >= 10, "only {rows} vectors read");
}

/// The targets of the markdown links `[text](target)` outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            match after.find(')') {
                Some(j) => {
                    out.push(after[..j].to_string());
                    rest = &after[j..];
                }
                None => break,
            }
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(d) = dirs.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    files
}

#[test]
fn readme_and_docs_link_only_to_files_in_the_repository() {
    let files = markdown_files();
    assert!(files.len() >= 8, "docs/ is missing pages: {files:?}");
    let mut broken = Vec::new();
    for f in &files {
        let text = read(f);
        if text.contains("../shared") {
            broken.push(format!("{}: cites ../shared", f.display()));
        }
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let path = target.split('#').next().unwrap_or("");
            if path.is_empty() {
                continue;
            }
            let dir = f.parent().unwrap_or(Path::new("."));
            if !dir.join(path).exists() {
                broken.push(format!("{}: {target}", f.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}
