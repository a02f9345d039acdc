//! The partition function against the reference values in docs/partition-vectors.tsv
//! (computed with Python's xxhash), and the directory commit.

use super::*;
use serde_json::json;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect()
}

#[test]
fn partition_vectors() {
    // The reference table users see (docs/), a copy of the one the workspace computed with
    // Python's xxhash; the workspace's original, when it is beside the clone, must agree.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let copy = root.join("docs/partition-vectors.tsv");
    let text = fs::read_to_string(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
    if let Ok(reference) = fs::read_to_string(root.join("../shared/partition-vectors.tsv")) {
        assert_eq!(
            text, reference,
            "docs/partition-vectors.tsv differs from the workspace's"
        );
    }
    let mut header: Vec<String> = Vec::new();
    let mut rows = 0;
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if header.is_empty() {
            header = cols.iter().map(|s| s.to_string()).collect();
            continue;
        }
        let key = unhex(cols[0]);
        let want: u64 = cols[1].parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(hash(&key), want, "xxh3_64 of {}", cols[0]);
        for (name, v) in header.iter().zip(&cols).skip(2) {
            let n: u64 = name
                .trim_start_matches("mod_")
                .parse()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let p: u64 = v.parse().unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(partition_of(&key, n), p, "partition of {} mod {n}", cols[0]);
        }
        rows += 1;
    }
    assert!(rows >= 10, "only {rows} vectors read");
}

#[test]
fn commit_moves_the_directory_whole() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dest = d.path().join("out");
    let c = DirCommit::begin(&dest, false, None).unwrap_or_else(|e| panic!("{e}"));
    fs::write(c.path().join("part-00000"), b"x\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(!dest.exists());
    let _ = c
        .commit(&json!({"ok": true}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(dest.join("_SUCCESS").exists() && dest.join("part-00000").exists());
    // Non-empty without force: refused, untouched.
    assert!(matches!(
        DirCommit::begin(&dest, false, None),
        Err(DirError::NotEmpty(_))
    ));
    // With force: replaced.
    let c = DirCommit::begin(&dest, true, None).unwrap_or_else(|e| panic!("{e}"));
    fs::write(c.path().join("part-00001"), b"y\n").unwrap_or_else(|e| panic!("{e}"));
    let _ = c.commit(&json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert!(!dest.join("part-00000").exists() && dest.join("part-00001").exists());
    // Dropped without commit: nothing left behind.
    let c =
        DirCommit::begin(&d.path().join("other"), false, None).unwrap_or_else(|e| panic!("{e}"));
    drop(c);
    let left: Vec<_> = fs::read_dir(d.path())
        .map(|r| r.count())
        .into_iter()
        .collect();
    assert_eq!(left, vec![1]);
}

#[test]
fn commit_never_replaces_what_appeared_meanwhile() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dest = d.path().join("out");
    fs::create_dir(&dest).unwrap_or_else(|e| panic!("{e}"));
    let c = DirCommit::begin(&dest, false, None).unwrap_or_else(|e| panic!("{e}"));
    fs::write(c.path().join("part-00000"), b"x\n").unwrap_or_else(|e| panic!("{e}"));
    fs::write(dest.join("precious"), b"p").unwrap_or_else(|e| panic!("{e}"));
    let m = json!({"parts": [{"name": "part-00000", "bytes": 2}]});
    assert!(matches!(c.commit(&m), Err(DirError::BecameNonEmpty(_))));
    assert_eq!(fs::read(dest.join("precious")).unwrap_or_default(), b"p");
    // Nothing but DEST is left beside it.
    assert_eq!(fs::read_dir(d.path()).map(|r| r.count()).unwrap_or(0), 1);
}

#[test]
fn commit_verifies_and_readers_check_part_sizes() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dest = d.path().join("out");
    let c = DirCommit::begin(&dest, false, None).unwrap_or_else(|e| panic!("{e}"));
    fs::write(c.path().join("part-00000"), b"abc\n").unwrap_or_else(|e| panic!("{e}"));
    // A manifest that does not match what is on disk is not committed.
    let wrong = json!({"parts": [{"name": "part-00000", "bytes": 9}]});
    assert!(matches!(c.commit(&wrong), Err(DirError::Damaged(_))));
    assert!(!dest.exists());
    let c = DirCommit::begin(&dest, false, None).unwrap_or_else(|e| panic!("{e}"));
    fs::write(c.path().join("part-00000"), b"abc\n").unwrap_or_else(|e| panic!("{e}"));
    let m = json!({"parts": [{"name": "part-00000", "bytes": 4}]});
    let _ = c.commit(&m).unwrap_or_else(|e| panic!("{e}"));
    let back = read_manifest(&dest).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back["parts"][0]["file_bytes"], 4);
    fs::write(dest.join("part-00000"), b"ab").unwrap_or_else(|e| panic!("{e}"));
    match read_manifest(&dest) {
        Err(e @ DirError::Damaged(_)) => assert_eq!(
            e.to_string(),
            format!(
                "{}/part-00000: 2 bytes, the manifest says 4",
                dest.display()
            )
        ),
        other => panic!("{other:?}"),
    }
    fs::remove_file(dest.join("part-00000")).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(read_manifest(&dest), Err(DirError::Damaged(_))));
}
