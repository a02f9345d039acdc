//! bsplit against independent expectations: concatenation equals the input, GNU `split -l`
//! and `split -C` pieces, the partition function (and bshuffle's placement), the range
//! ordering property, and hostile `--by` values that must stay inside DIR.

use crate::util::Rng;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn run(bin: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bsplit(args: &[&str], cwd: &Path) -> Output {
    run(env!("CARGO_BIN_EXE_bsplit"), args, cwd)
}

fn ok(args: &[&str], cwd: &Path) -> Vec<u8> {
    let out = bsplit(args, cwd);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

/// Part files of a directory, in name order.
fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
    });
    v.sort();
    v
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn concat(dir: &Path) -> Vec<u8> {
    parts(dir).iter().flat_map(|p| read(p)).collect()
}

fn kv(rng: &mut Rng, lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        let k = rng.range(0, 60);
        out.extend_from_slice(format!("key{k}\t{i}\n").as_bytes());
    }
    out
}

#[test]
fn chunks_concatenate_to_the_input() {
    let mut rng = Rng::new(21);
    let mut big_line = vec![b'x'; 3 << 20];
    big_line.push(b'\n');
    let cases: Vec<Vec<u8>> = vec![
        kv(&mut rng, 500),
        {
            let mut v = kv(&mut rng, 300);
            v.extend_from_slice(b"no newline at the end");
            v
        },
        Vec::new(),
        b"one\ntwo\n".to_vec(),
        big_line,
    ];
    for (c, input) in cases.iter().enumerate() {
        for n in [1u64, 2, 3, 5, 16] {
            let d = tempdir();
            std::fs::write(d.path().join("in"), input).unwrap_or_else(|e| panic!("{e}"));
            let ns = n.to_string();
            ok(&["-n", &ns, "-o", "out", "in"], d.path());
            let files = parts(&d.path().join("out"));
            assert_eq!(files.len() as u64, n, "case {c}: exactly N parts");
            assert_eq!(concat(&d.path().join("out")), *input, "case {c} n {n}");
            // Every part but the last ends at a record boundary.
            for f in &files {
                let b = read(f);
                assert!(
                    b.is_empty() || b.ends_with(b"\n") || f == files.last().unwrap_or(f),
                    "case {c}"
                );
            }
            // --index agrees with the files.
            let index =
                String::from_utf8(ok(&["--index", "-n", &ns, "in"], d.path())).unwrap_or_default();
            let lens: Vec<u64> = index
                .lines()
                .map(|l| {
                    l.split('\t')
                        .nth(1)
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(u64::MAX)
                })
                .collect();
            let sizes: Vec<u64> = files.iter().map(|f| read(f).len() as u64).collect();
            assert_eq!(lens, sizes, "case {c} n {n}");
        }
    }
}

#[test]
fn lines_and_bytes_match_gnu_split() {
    let mut rng = Rng::new(5);
    let mut unterminated = kv(&mut rng, 1000);
    unterminated.extend_from_slice(b"last\twithout newline");
    // Issue 14 (6): the last record without its newline stays so, as GNU split keeps it.
    for input in [kv(&mut rng, 1000), unterminated] {
        for (ours, gnu) in [
            (["-l", "170"], ["-l", "170"]),
            (["-b", "999"], ["-C", "999"]),
            (["-l", "1001"], ["-l", "1001"]),
        ] {
            let d = tempdir();
            std::fs::write(d.path().join("in"), &input).unwrap_or_else(|e| panic!("{e}"));
            std::fs::create_dir(d.path().join("g")).unwrap_or_else(|e| panic!("{e}"));
            let out = run("split", &[gnu[0], gnu[1], "../in"], &d.path().join("g"));
            assert!(out.status.success());
            let mut g: Vec<PathBuf> = std::fs::read_dir(d.path().join("g"))
                .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            g.sort();
            ok(&[ours[0], ours[1], "-o", "out", "in"], d.path());
            let b = parts(&d.path().join("out"));
            assert_eq!(b.len(), g.len(), "{ours:?}");
            for (x, y) in b.iter().zip(&g) {
                assert_eq!(read(x), read(y), "{ours:?}: {}", x.display());
            }
        }
    }
}

#[test]
fn hash_parts_are_the_partition_function_and_agree_with_bshuffle() {
    let mut rng = Rng::new(9);
    let input = kv(&mut rng, 2000);
    let d = tempdir();
    std::fs::write(d.path().join("in"), &input).unwrap_or_else(|e| panic!("{e}"));
    ok(&["--hash", "-n", "7", "-o", "split", "in"], d.path());
    let out = run(
        env!("CARGO_BIN_EXE_bshuffle"),
        &["-n", "7", "-o", "shuf", "in"],
        d.path(),
    );
    assert!(out.status.success());
    for p in 0..7u64 {
        let name = format!("part-{p:05}");
        let mine = read(&d.path().join("split").join(&name));
        for line in mine.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let key = line.split(|&c| c == b'\t').next().unwrap_or(&[]);
            assert_eq!(partition::partition_of(key, 7), p);
        }
        // The same records as bshuffle's part (which are sorted): compare as multisets.
        let mut a: Vec<&[u8]> = mine.split(|&c| c == b'\n').collect();
        let theirs = read(&d.path().join("shuf").join(&name));
        let mut b: Vec<&[u8]> = theirs.split(|&c| c == b'\n').collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "part {p}");
    }
}

#[test]
fn range_parts_are_in_key_order_and_cover_the_input() {
    let mut rng = Rng::new(33);
    for n in [2u64, 4, 9] {
        let mut input = Vec::new();
        for i in 0..3000 {
            let len = rng.range(0, 6);
            let key: String = (0..len)
                .map(|_| (b'a' + rng.range(0, 25) as u8) as char)
                .collect();
            input.extend_from_slice(format!("{key}\t{i}\n").as_bytes());
        }
        let d = tempdir();
        std::fs::write(d.path().join("in"), &input).unwrap_or_else(|e| panic!("{e}"));
        let ns = n.to_string();
        ok(&["--range", "-n", &ns, "-o", "out", "in"], d.path());
        let files = parts(&d.path().join("out"));
        assert_eq!(files.len() as u64, n);
        let mut prev_max: Option<Vec<u8>> = None;
        let mut all = Vec::new();
        for f in &files {
            let b = read(f);
            let keys: BTreeSet<Vec<u8>> = b
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| l.split(|&c| c == b'\t').next().unwrap_or(&[]).to_vec())
                .collect();
            if let (Some(pm), Some(min)) = (&prev_max, keys.iter().next()) {
                assert!(pm < min, "part boundaries overlap");
            }
            if let Some(max) = keys.iter().next_back() {
                prev_max = Some(max.clone());
            }
            all.extend_from_slice(&b);
        }
        let mut a: Vec<&[u8]> = all.split(|&c| c == b'\n').collect();
        let mut b: Vec<&[u8]> = input.split(|&c| c == b'\n').collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}

#[test]
fn hostile_by_values_stay_inside_and_decode() {
    let values: [&[u8]; 8] = [
        b"../x",
        b"/abs",
        b"a/b",
        b"",
        b"%41",
        b"x=y",
        b"\x01\x7f",
        b"..",
    ];
    let mut input = Vec::new();
    for (i, v) in values.iter().enumerate() {
        input.extend_from_slice(v);
        input.extend_from_slice(format!("\t{i}\n").as_bytes());
    }
    let d = tempdir();
    std::fs::create_dir(d.path().join("work")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("work/in"), &input).unwrap_or_else(|e| panic!("{e}"));
    ok(&["--by", "1", "-o", "lake", "in"], &d.path().join("work"));
    // Nothing outside DIR: the parent holds only the input and DIR.
    let top: BTreeSet<String> = std::fs::read_dir(d.path().join("work"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(top, ["in", "lake"].iter().map(|s| s.to_string()).collect());
    assert_eq!(
        std::fs::read_dir(d.path()).map(|r| r.count()).unwrap_or(0),
        1
    );
    let mut decoded = BTreeSet::new();
    for e in std::fs::read_dir(d.path().join("work/lake"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "_SUCCESS" {
            continue;
        }
        let value = name.strip_prefix("f1=").unwrap_or_else(|| panic!("{name}"));
        let v = partition::percent_decode(value);
        let records = read(&e.path().join("part-00000"));
        // Records are unchanged and carry the value.
        assert!(records.starts_with(&v), "{name}");
        decoded.insert(v);
    }
    let want: BTreeSet<Vec<u8>> = values.iter().map(|v| v.to_vec()).collect();
    assert_eq!(decoded, want);
}

#[test]
fn overwrite_partitions_replaces_only_what_it_writes() {
    let d = tempdir();
    std::fs::write(d.path().join("day1"), b"2024-01-01\ta\n2024-01-02\tb\n")
        .unwrap_or_else(|e| panic!("{e}"));
    ok(&["--by", "1", "-o", "lake", "day1"], d.path());
    let untouched = d.path().join("lake/f1=2024-01-01/part-00000");
    let before = std::fs::metadata(&untouched)
        .and_then(|m| m.modified())
        .ok();
    std::fs::write(d.path().join("day2"), b"2024-01-02\tc\n2024-01-03\td\n")
        .unwrap_or_else(|e| panic!("{e}"));
    // Without the flag an existing DIR is refused and stays as it was.
    let out = bsplit(&["--by", "1", "-o", "lake", "day2"], d.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        read(&d.path().join("lake/f1=2024-01-02/part-00000")),
        b"2024-01-02\tb\n"
    );
    ok(
        &["--by", "1", "-o", "lake", "--overwrite-partitions", "day2"],
        d.path(),
    );
    assert_eq!(read(&untouched), b"2024-01-01\ta\n");
    assert_eq!(
        std::fs::metadata(&untouched)
            .and_then(|m| m.modified())
            .ok(),
        before
    );
    assert_eq!(
        read(&d.path().join("lake/f1=2024-01-02/part-00000")),
        b"2024-01-02\tc\n"
    );
    assert_eq!(
        read(&d.path().join("lake/f1=2024-01-03/part-00000")),
        b"2024-01-03\td\n"
    );
    // Rerunning the same day is idempotent.
    ok(
        &["--by", "1", "-o", "lake", "--overwrite-partitions", "day2"],
        d.path(),
    );
    assert_eq!(
        read(&d.path().join("lake/f1=2024-01-02/part-00000")),
        b"2024-01-02\tc\n"
    );
    let staged: Vec<String> = std::fs::read_dir(d.path())
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(staged.iter().all(|n| !n.contains("staging")), "{staged:?}");
}

#[test]
fn header_is_repeated_and_names_by_directories() {
    let d = tempdir();
    std::fs::write(d.path().join("in"), b"day\tv\nx\t1\ny\t2\nx\t3\n")
        .unwrap_or_else(|e| panic!("{e}"));
    ok(&["--by", "day", "--header", "-o", "lake", "in"], d.path());
    assert_eq!(
        read(&d.path().join("lake/day=x/part-00000")),
        b"day\tv\nx\t1\nx\t3\n"
    );
    ok(&["-l", "1", "--header", "-o", "lines", "in"], d.path());
    let files = parts(&d.path().join("lines"));
    assert_eq!(files.len(), 3);
    for f in files {
        assert!(read(&f).starts_with(b"day\tv\n"));
    }
}

#[test]
fn compressed_parts_decompress_to_the_records() {
    let mut rng = Rng::new(2);
    let input = kv(&mut rng, 500);
    let d = tempdir();
    std::fs::write(d.path().join("in"), &input).unwrap_or_else(|e| panic!("{e}"));
    for (fmt, ext) in [("gz", ".gz"), ("zst", ".zst")] {
        let out = format!("out-{fmt}");
        ok(
            &[
                "--round-robin",
                "-n",
                "3",
                "--compress",
                fmt,
                "-o",
                &out,
                "in",
            ],
            d.path(),
        );
        let mut total = 0;
        for p in 0..3 {
            let f = d.path().join(&out).join(format!("part-{p:05}{ext}"));
            // bsort reads .gz/.zst by extension: use it to decompress.
            let o = run(
                env!("CARGO_BIN_EXE_bsort"),
                &[&f.to_string_lossy()],
                d.path(),
            );
            assert!(o.status.success());
            total += o.stdout.len();
        }
        assert_eq!(total, input.len(), "{fmt}");
    }
}

#[test]
fn usage_errors() {
    let d = tempdir();
    std::fs::write(d.path().join("in"), b"a\n").unwrap_or_else(|e| panic!("{e}"));
    for args in [
        &["-o", "x", "in"][..],
        &["--hash", "-o", "x", "in"],
        &["-n", "2", "-o", "x"],
        &["-n", "2", "-l", "3", "-o", "x", "in"],
        &["--hash", "--range", "-n", "2", "-o", "x", "in"],
        &["--overwrite-partitions", "-n", "2", "-o", "x", "in"],
        &["-n", "2", "-o", "x", "missing"],
    ] {
        let out = bsplit(args, d.path());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `--by 'created_at|day'` over JSON lines: Hive-style `day=YYYY-MM-DD` directories, each
/// holding exactly the records of its day (in input order), the manifest naming the key as
/// given; a value that is not a date stops bsplit with FILE:LINE; an unknown transform is
/// a usage error.
#[test]
fn by_with_a_date_transform() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut input = String::new();
    let mut want: std::collections::BTreeMap<String, String> = Default::default();
    for i in 0..300 {
        let day = format!("2024-0{}-1{}", 1 + i % 3, i % 7);
        let line = format!(
            "{{\"id\":{i},\"created_at\":\"{day}T0{}:00:00Z\",\"note\":\"a\\tb\"}}\n",
            i % 10
        );
        input.push_str(&line);
        want.entry(day).or_default().push_str(&line);
    }
    let src = dir.path().join("in.jsonl");
    std::fs::write(&src, &input).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("by-day");
    let run = |args: &[&str]| crate::util::run(crate::util::bin_path("bsplit"), args, b"");
    let o = run(&[
        "--by",
        "created_at|day",
        "-o",
        out.to_str().unwrap_or_default(),
        src.to_str().unwrap_or_default(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (day, lines) in &want {
        let got = std::fs::read_to_string(out.join(format!("day={day}")).join("part-00000"))
            .unwrap_or_else(|e| panic!("{day}: {e}"));
        assert_eq!(&got, lines, "{day}");
    }
    let dirs = std::fs::read_dir(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count();
    assert_eq!(dirs, want.len());
    let manifest = std::fs::read_to_string(out.join("_SUCCESS")).unwrap_or_default();
    assert!(manifest.contains("created_at|day"), "{manifest}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"created_at\":\"2024-01-01\"}\n{\"created_at\":\"soon\"}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = run(&[
        "--by",
        "created_at|day",
        "-o",
        dir.path().join("b").to_str().unwrap_or_default(),
        bad.to_str().unwrap_or_default(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code() == Some(1) && err.contains("bad.jsonl:2:"),
        "{err}"
    );
    assert!(!dir.path().join("b").exists());
    let o = run(&[
        "--by",
        "created_at|dya",
        "-o",
        dir.path().join("c").to_str().unwrap_or_default(),
        bad.to_str().unwrap_or_default(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Issue 14 (7): `-n N` alone on something it cannot seek in is the usage error stdin gets
/// (status 2, one line), never a hang in open() of a FIFO or an "Illegal seek" half-way.
#[test]
fn chunks_refuse_what_cannot_seek() {
    let d = tempdir();
    std::fs::create_dir(d.path().join("dir")).unwrap_or_else(|e| panic!("{e}"));
    let fifo = d.path().join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut cases = vec!["dir", "-"];
    if made {
        cases.push("fifo");
    }
    for input in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bsplit"))
            .args(["-n", "2", "-o", "out", input])
            .current_dir(d.path())
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                break s;
            }
            if started.elapsed() > std::time::Duration::from_secs(20) {
                let _ = child.kill();
                panic!("bsplit -n 2 {input}: still running after 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert_eq!(status.code(), Some(2), "{input}: {err}");
        assert_eq!(err.lines().count(), 1, "{input}: {err}");
        assert!(err.contains("-n N alone seeks"), "{input}: {err}");
        assert!(!d.path().join("out").exists(), "{input}");
    }
}
