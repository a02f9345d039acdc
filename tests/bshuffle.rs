//! bshuffle against independent oracles: the reference partition vectors, a naive
//! partition-then-stable-sort in Python-free Rust (hash from the vectors file's function is
//! re-derived through `partition`), GNU `sort -s` per part, and the multiset of the input.

use crate::util::Rng;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn bshuffle(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bshuffle"))
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut input = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    // A usage error exits before reading: a closed pipe here is not the test's concern.
    if let Err(e) = input.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = bshuffle(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Random `key<TAB>value` lines with duplicate keys, empty keys, no-TAB lines, bytes >= 0x80.
fn kv_input(rng: &mut Rng, lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        let k = rng.range(0, 40);
        match rng.range(0, 20) {
            0 => out.extend_from_slice(b"\t"),
            1 => out.extend_from_slice(format!("k{k}").as_bytes()),
            2 => out.extend_from_slice(format!("\u{e9}{k}\t").as_bytes()),
            _ => out.extend_from_slice(format!("k{k}\tv{i}").as_bytes()),
        }
        out.push(b'\n');
    }
    out
}

/// The key of a line as bshuffle's default key sees it: the text up to the first TAB.
fn key_of(line: &[u8]) -> &[u8] {
    line.split(|&c| c == b'\t').next().unwrap_or(&[])
}

/// What bshuffle must produce: lines grouped by partition, each group stably sorted by key.
fn naive(input: &[u8], n: u64) -> BTreeMap<u64, Vec<Vec<u8>>> {
    let mut parts: BTreeMap<u64, Vec<Vec<u8>>> = (0..n).map(|p| (p, Vec::new())).collect();
    for line in input.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let p = partition::partition_of(key_of(line), n);
        parts.entry(p).or_default().push(line.to_vec());
    }
    for v in parts.values_mut() {
        v.sort_by(|a, b| key_of(a).cmp(key_of(b)));
    }
    parts
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn partitions_are_the_partition_function_and_each_is_stably_sorted() {
    let mut rng = Rng::new(0xB5);
    for case in 0..12 {
        let input = kv_input(&mut rng, 50 + case * 40);
        let n = [1u64, 2, 3, 7, 16][case % 5];
        let want = naive(&input, n);
        for extra in [&[][..], &["-S", "1K", "-j", "1"][..], &["-j", "2"][..]] {
            let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let dir = d.path().join("out");
            let ns = n.to_string();
            let dirs = dir.to_string_lossy().into_owned();
            let mut args = vec!["-n", &ns, "-o", &dirs];
            args.extend_from_slice(extra);
            ok(&args, &input);
            for (p, lines) in &want {
                let got = read(&dir.join(format!("part-{p:05}")));
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&join_lines(lines)),
                    "case {case} part {p} of {n} with {extra:?}"
                );
            }
            let manifest: serde_json::Value = serde_json::from_slice(&read(&dir.join("_SUCCESS")))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(manifest["partitioning"]["n"], n);
            assert_eq!(manifest["partitioning"]["method"], "hash");
            let parts = manifest["parts"].as_array().map_or(0, |a| a.len());
            assert_eq!(parts as u64, n);
            let records: u64 = want.values().map(|v| v.len() as u64).sum();
            assert_eq!(manifest["records"], records);
        }
    }
}

#[test]
fn one_partition_to_stdout_equals_its_part_file() {
    let mut rng = Rng::new(7);
    let input = kv_input(&mut rng, 400);
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = d.path().join("out");
    ok(&["-n", "5", "-o", &dir.to_string_lossy()], &input);
    for i in 0..5 {
        let share = format!("{i}/5");
        let got = ok(&["--partition", &share, "-S", "2K"], &input);
        assert_eq!(
            got,
            read(&dir.join(format!("part-{i:05}"))),
            "partition {share}"
        );
    }
}

#[test]
fn single_partition_equals_gnu_stable_sort() {
    let mut rng = Rng::new(11);
    let input = kv_input(&mut rng, 800);
    let gnu = Command::new("sort")
        .args(["-t", "\t", "-k1,1", "-s"])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().map(|mut s| s.write_all(&input));
            c.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    for extra in [&[][..], &["-S", "1K"][..]] {
        assert_eq!(ok(extra, &input), gnu.stdout, "{extra:?}");
    }
}

#[test]
fn existing_directory_is_refused_and_left_alone() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = d.path().join("out");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("keep"), b"mine").unwrap_or_else(|e| panic!("{e}"));
    let out = bshuffle(&["-n", "2", "-o", &dir.to_string_lossy()], b"a\t1\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("bshuffle: "));
    assert_eq!(read(&dir.join("keep")), b"mine");
    assert_eq!(
        std::fs::read_dir(d.path()).map(|r| r.count()).unwrap_or(0),
        1
    );
    // --force replaces it whole.
    ok(
        &["-n", "2", "-o", &dir.to_string_lossy(), "--force"],
        b"a\t1\n",
    );
    assert!(!dir.join("keep").exists() && dir.join("_SUCCESS").exists());
}

#[test]
fn sigterm_leaves_no_directory_and_no_temp_files() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = d.path().join("out");
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_bshuffle"))
        .args(["-n", "4", "-S", "64K", "-o"])
        .arg(&dir)
        .arg("-T")
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let mut rng = Rng::new(3);
    stdin
        .write_all(&kv_input(&mut rng, 30_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = std::time::Instant::now();
    while std::fs::read_dir(&tmp).map(|r| r.count()).unwrap_or(0) == 0
        && start.elapsed() < std::time::Duration::from_secs(20)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(stdin);
    assert_eq!(status.code(), Some(143));
    let left: Vec<String> = std::fs::read_dir(d.path())
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(left, vec!["tmp".to_string()], "left behind");
    assert_eq!(std::fs::read_dir(&tmp).map(|r| r.count()).unwrap_or(0), 0);
}

#[test]
fn stats_report_partitions_and_skew() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = d.path().join("out");
    let out = bshuffle(
        &["-n", "3", "-o", &dir.to_string_lossy(), "--stats"],
        b"a\t1\na\t2\na\t3\nb\t1\n",
    );
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("{e}"));
    let parts = v["partitions"].as_array().map_or(0, |a| a.len());
    assert_eq!(parts, 3);
    assert_eq!(v["records_out"], 4);
    let skew = v["skew"].as_f64().unwrap_or(0.0);
    assert!((0.75 - 1e-9..=1.0).contains(&skew), "{skew}");
}

#[test]
fn usage_errors() {
    for args in [
        &["-n", "3"][..],
        &["--partition", "3/3"],
        &["--partition", "x"],
        &["-n", "0", "-o", "d"],
        &["--format", "jsonl"],
    ] {
        let out = bshuffle(args, b"a\n");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn hadoop_streaming_contract() {
    // Empty input: empty output, status 0; no-TAB lines and `key<TAB>` are keys.
    assert!(ok(&[], b"").is_empty());
    assert_eq!(ok(&[], b"b\na\t\na\n"), b"a\t\na\nb\n");
}

fn run_bin(bin: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = crate::util::run(crate::util::bin_path(bin), args, stdin);
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Zipf-like `key<TAB>decimal<TAB>word` lines: few hot keys, many rare ones.
fn numeric_input(rng: &mut Rng, lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..lines {
        let k = if rng.chance(3, 4) {
            rng.range(0, 5)
        } else {
            rng.range(0, 300)
        };
        let v = format!(
            "{}.{:02}",
            rng.range(0, 1000) as i64 - 500,
            rng.range(0, 99)
        );
        let w = ["x", "y,z", "", "w\\v"][rng.range(0, 3)];
        out.extend_from_slice(format!("k{k}\t{v}\t{w}\n").as_bytes());
    }
    out
}

const COMBINE: [&str; 7] = [
    "count",
    "sum:2",
    "mean:2",
    "max:2",
    "var:2",
    "distinct:3",
    "first:3",
];

fn combine_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = extra.to_vec();
    for a in COMBINE {
        v.push("--combine");
        v.push(a);
    }
    v
}

/// `bshuffle --combine A | breduce --merge A` equals `breduce --hash A` byte for byte,
/// whether the combiner flushes often (tiny -S) or once; with -o DIR every key's partial
/// lines are in the part the plain shuffle puts the key in.
#[test]
fn combine_then_merge_equals_direct_reduce() {
    let mut rng = Rng::new(Rng::seed_from_env(0xc0b1));
    let input = numeric_input(&mut rng, 6000);
    let mut reduce = vec!["--hash"];
    reduce.extend(COMBINE);
    let want = run_bin("breduce", &reduce, &input);
    let mut merge = vec!["--merge"];
    merge.extend(COMBINE);
    for extra in [&[][..], &["-S", "2K"][..], &["-S", "2K", "-j", "1"][..]] {
        let partial = ok(&combine_args(extra), &input);
        if extra.is_empty() {
            assert!(
                partial.len() < input.len() / 2,
                "combining shrinks the data: {} of {} bytes",
                partial.len(),
                input.len()
            );
        }
        let got = run_bin("breduce", &merge, &partial);
        assert!(
            got == want,
            "{extra:?}:\n{}\nvs\n{}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (plain, comb) = (dir.path().join("plain"), dir.path().join("comb"));
    let (plain, comb) = (
        plain.to_str().unwrap_or_default(),
        comb.to_str().unwrap_or_default(),
    );
    ok(&["-n", "3", "-o", plain], &input);
    ok(&combine_args(&["-n", "3", "-S", "2K", "-o", comb]), &input);
    let mut all = Vec::new();
    for p in 0..3 {
        let name = format!("part-{p:05}");
        let keys = |b: &[u8]| -> std::collections::BTreeSet<Vec<u8>> {
            b.split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| key_of(l).to_vec())
                .collect()
        };
        let part = read(&Path::new(comb).join(&name));
        assert_eq!(
            keys(&part),
            keys(&read(&Path::new(plain).join(&name))),
            "{name}"
        );
        all.extend(run_bin("breduce", &merge, &part));
    }
    let mut got: Vec<&[u8]> = all
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut exp: Vec<&[u8]> = want
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    got.sort();
    exp.sort();
    assert_eq!(got, exp);
}

fn spill_bytes(args: &[&str], input: &[u8]) -> u64 {
    let out = bshuffle(args, input);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value =
        serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    v["spill_bytes"].as_u64().unwrap_or_default()
}

/// The point of a combiner: far fewer shuffle bytes for the same result.
#[test]
fn combine_spills_fewer_bytes() {
    let mut rng = Rng::new(Rng::seed_from_env(0xc0b2));
    let input = numeric_input(&mut rng, 20000);
    let plain = spill_bytes(&["-S", "40K", "--stats"], &input);
    let combined = spill_bytes(
        &[
            "-S",
            "40K",
            "--stats",
            "--combine",
            "sum:2",
            "--combine",
            "count",
        ],
        &input,
    );
    assert!(plain > 0, "the plain shuffle should spill at -S 40K");
    assert!(combined * 2 < plain, "combined {combined} vs plain {plain}");
}

#[test]
fn combine_refuses_median_and_non_aggregates() {
    for a in ["median:2", "q50:2", "sum", "nope:2"] {
        let out = bshuffle(&["--combine", a], b"a\t1\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(2) && err.starts_with("bshuffle: ") && err.contains(a),
            "{a}: {err}"
        );
    }
}

/// Bad records (SPEC §1): a non-number under --combine, a malformed JSON line.
#[test]
fn bad_records_stop_or_are_skipped() {
    for (args, input, line) in [
        (&["--combine", "sum:2"][..], &b"a\t1\nb\tx\nc\t2\n"[..], 2),
        (
            &["--format", "jsonl", "-k", "id"][..],
            &b"{\"id\":1}\n{\"id\":\n{\"id\":0}\n"[..],
            2,
        ),
    ] {
        let out = bshuffle(args, input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(1) && err.contains(&format!("-:{line}:")),
            "{args:?}: {err}"
        );
        let mut skip = args.to_vec();
        skip.push("--skip-bad");
        let out = bshuffle(&skip, input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.contains("skipped 1 bad record"),
            "{err}"
        );
        assert_eq!(
            out.stdout.iter().filter(|&&c| c == b'\n').count(),
            2,
            "{args:?}"
        );
    }
}

/// `--combine` with order-free aggregates runs on -j threads (each takes the next block):
/// `| breduce --merge` gives the same bytes for -j 1/2/3, tiny and large -S and blocks of a
/// few bytes, every key's partial lines land in the plain shuffle's part, and the first bad
/// value in input order is the one reported, whatever -j.
#[test]
fn parallel_combine_equals_one_thread_for_any_threads_budget_and_blocks() {
    let mut rng = Rng::new(Rng::seed_from_env(0xc0b3));
    let mut input = numeric_input(&mut rng, 6000);
    input.extend_from_slice(b"k1\t1e16\nk1\t1\nk1\t-1e16\nk2\t0.5\n");
    let aggs = ["count", "sum:2", "mean:2", "distinct:3", "countdistinct:3"];
    let mut comb = Vec::new();
    let mut merge = vec!["--merge"];
    for a in aggs {
        comb.push("--combine");
        comb.push(a);
        merge.push(a);
    }
    let mut want: Option<Vec<u8>> = None;
    for (j, s, block) in [
        ("1", "1G", None),
        ("2", "1G", None),
        ("3", "1G", Some("7")),
        ("2", "2K", Some("64")),
        ("3", "2K", None),
    ] {
        let mut args = vec!["-j", j, "-S", s];
        args.extend(&comb);
        let mut cmd = crate::util::command(env!("CARGO_BIN_EXE_bshuffle"), &args);
        if let Some(b) = block {
            cmd.env("BATCHKIT_BLOCK_BYTES", b);
        }
        let out = crate::util::run_cmd(cmd, &input);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = run_bin("breduce", &merge, &out.stdout);
        match &want {
            None => want = Some(got),
            Some(w) => assert!(
                &got == w,
                "{args:?} block {block:?}:\n{}\nvs -j 1:\n{}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(w)
            ),
        }
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (plain, combd) = (dir.path().join("plain"), dir.path().join("comb"));
    let (plain, combd) = (
        plain.to_str().unwrap_or_default(),
        combd.to_str().unwrap_or_default(),
    );
    ok(&["-n", "3", "-o", plain], &input);
    let mut args = vec!["-j", "2", "-n", "3", "-S", "2K", "-o", combd];
    args.extend(&comb);
    ok(&args, &input);
    for p in 0..3 {
        let name = format!("part-{p:05}");
        let keys = |b: &[u8]| -> std::collections::BTreeSet<Vec<u8>> {
            b.split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| key_of(l).to_vec())
                .collect()
        };
        assert_eq!(
            keys(&read(&Path::new(combd).join(&name))),
            keys(&read(&Path::new(plain).join(&name))),
            "{name}"
        );
    }
    // Two bad values: the earlier one is reported for any -j and block size.
    let mut bad = input.clone();
    bad.extend_from_slice(b"k9\tx1\n");
    bad.extend(numeric_input(&mut rng, 3000));
    bad.extend_from_slice(b"k8\tx2\n");
    let line = bad[..bad.len() - 1]
        .split(|&c| c == b'\n')
        .position(|l| l == b"k9\tx1")
        .map_or(0, |i| i + 1);
    for j in ["1", "2", "3"] {
        let mut args = vec!["-j", j];
        args.extend(&comb);
        let mut cmd = crate::util::command(env!("CARGO_BIN_EXE_bshuffle"), &args);
        cmd.env("BATCHKIT_BLOCK_BYTES", "100");
        let out = crate::util::run_cmd(cmd, &bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(1)
                && err.contains(&format!("-:{line}:"))
                && err.contains("x1"),
            "-j {j}: {err}"
        );
    }
}
