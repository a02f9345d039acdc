//! Faults are normal: closed pipes, signals, full disks, huge records, bad arguments.
//! Each one must end with a clear message or a documented behaviour, never a panic, a
//! partial output or a leaked temporary file.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bsort() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bsort"));
    c.env("LC_ALL", "C");
    c
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// Lines of pseudo-random keys and values, `n` of them.
fn lines(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n * 24);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(format!("k{:012x}\t{}\n", x % 0xFFFF_FFFF_FFFF, i).as_bytes());
    }
    out
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn closed_pipe_is_quiet_success_without_temp_files() {
    let d = tempdir();
    let tmp = d.path().join("spill");
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let input = d.path().join("in");
    write(&input, &lines(200_000, 1));
    let mut child = bsort()
        .args(["-S", "256K", "-T"])
        .arg(&tmp)
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = [0u8; 16];
    out.read_exact(&mut first).unwrap_or_else(|e| panic!("{e}"));
    drop(out); // like `| head -1`
    let res = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        res.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        res.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));
}

/// Start a sort that blocks reading a pipe after spilling, then signal it.
fn signal_mid_sort(sig: i32, expect: i32) {
    let d = tempdir();
    let tmp = d.path().join("spill");
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let out = d.path().join("out.tsv");
    let mut child = bsort()
        .args(["-S", "64K", "-T"])
        .arg(&tmp)
        .arg("-o")
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    stdin
        .write_all(&lines(50_000, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    // Wait until runs are on disk, so that there is something to clean up.
    let start = Instant::now();
    while entries(&tmp).is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!entries(&tmp).is_empty(), "no spill happened");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, sig) };
    let res = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    drop(stdin);
    assert_eq!(res.status.code(), Some(expect), "status {:?}", res.status);
    assert!(!out.exists(), "partial output left at -o");
    assert!(
        entries(&tmp).is_empty(),
        "temp files left: {:?}",
        entries(&tmp)
    );
    let staged: Vec<String> = entries(d.path())
        .into_iter()
        .filter(|n| n.contains("bsort"))
        .collect();
    assert!(staged.is_empty(), "staged output left: {staged:?}");
}

#[test]
fn sigterm_leaves_no_output_and_no_temp_files() {
    signal_mid_sort(libc::SIGTERM, 143);
}

#[test]
fn sigint_leaves_no_output_and_no_temp_files() {
    signal_mid_sort(libc::SIGINT, 130);
}

fn assert_one_line_error(res: &std::process::Output, code: i32) {
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("bsort: "), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

#[test]
fn spill_write_failure_is_a_clean_error() {
    // RLIMIT_FSIZE makes every write past 64 KiB fail with EFBIG, as a full disk would fail
    // with ENOSPC; the output goes to a file, which must not be left behind.
    let d = tempdir();
    let input = d.path().join("in");
    write(&input, &lines(100_000, 3));
    let out = d.path().join("out");
    let mut cmd = bsort();
    cmd.args(["-S", "128K", "-T"])
        .arg(d.path())
        .arg("-o")
        .arg(&out)
        .arg(&input);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: 64 << 10,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let res = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert_one_line_error(&res, 1);
    assert!(!out.exists());
    let left: Vec<String> = entries(d.path())
        .into_iter()
        .filter(|n| n != "in")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn full_spill_disk_is_a_clean_error() {
    // A real full file system where we may mount one (root); elsewhere the RLIMIT test above
    // covers the same path.
    let d = tempdir();
    let mnt = d.path().join("small");
    std::fs::create_dir(&mnt).unwrap_or_else(|e| panic!("{e}"));
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "full_spill_disk_is_a_clean_error: cannot mount tmpfs here; covered by the RLIMIT test"
        );
        return;
    }
    let input = d.path().join("in");
    write(&input, &lines(100_000, 4));
    let res = bsort()
        .args(["-S", "128K", "-T"])
        .arg(&mnt)
        .arg(&input)
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let left = entries(&mnt);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_one_line_error(&res, 1);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let d = tempdir();
    let f = d.path().join("f");
    write(&f, b"b\na\n");
    for args in [
        vec!["-k", "0"],
        vec!["-k", "1.0"],
        vec!["-k", "a"],
        vec!["-k", "1,0"],
        vec!["-k", "1x"],
        vec!["--no-such-flag"],
        vec!["-t", "ab"],
        vec!["-S", "lots"],
        vec!["-n", "-g"],
        vec!["--format", "xml"],
        vec!["/nonexistent/file"],
        vec!["--batch-size", "1"],
    ] {
        let res = bsort()
            .args(&args)
            .arg(&f)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_one_line_error(&res, 2);
        assert!(res.stdout.is_empty(), "{args:?}");
    }
    let res = bsort()
        .arg(d.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_one_line_error(&res, 2);
}

#[test]
fn output_may_name_an_input() {
    let d = tempdir();
    let f = d.path().join("f");
    write(&f, b"c\na\nb");
    let res = bsort()
        .arg("-o")
        .arg(&f)
        .arg(&f)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status.success());
    assert_eq!(std::fs::read(&f).unwrap_or_default(), b"a\nb\nc\n");
    assert_eq!(entries(d.path()), vec!["f".to_string()]);
}

#[test]
fn bad_record_leaves_no_partial_output() {
    let d = tempdir();
    let f = d.path().join("in.jsonl");
    write(&f, b"{\"a\": 2}\n{\"a\": 1}\n{\"a\": oops}\n");
    let out = d.path().join("out");
    let res = bsort()
        .args(["-k", "a", "-o"])
        .arg(&out)
        .arg(&f)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_one_line_error(&res, 1);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("in.jsonl:3"), "{err}");
    assert!(!out.exists());
}

#[test]
fn huge_line_beyond_the_budget_is_a_clear_error() {
    let d = tempdir();
    let f = d.path().join("in");
    let mut data = b"a\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 3 << 20));
    data.extend_from_slice(b"\nb\n");
    write(&f, &data);
    let res = bsort()
        .args(["-S", "1M"])
        .arg(&f)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_one_line_error(&res, 1);
    assert!(res.stdout.is_empty());
    // Within a larger budget the same line sorts.
    let res = bsort()
        .args(["-S", "16M"])
        .arg(&f)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status.success());
    assert_eq!(res.stdout.len(), data.len());
    assert!(res.stdout.starts_with(b"a\nb\nxxx"));
}

fn peak_rss(stats: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(stats);
    let v = s
        .split("\"peak_rss_bytes\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.trim().parse::<u64>().ok());
    v.unwrap_or_else(|| panic!("no peak_rss_bytes in {s}"))
}

#[test]
fn memory_stays_within_budget_for_input_ten_times_larger() {
    let d = tempdir();
    let f = d.path().join("in");
    let data = lines(1_200_000, 5); // ~30 MB
    write(&f, &data);
    let budget = 2u64 << 20;
    let res = bsort()
        .args(["-S", "2M", "--stats", "-t", "\t", "-k", "1,1", "-T"])
        .arg(d.path())
        .arg(&f)
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(data.len() as u64 >= 10 * budget);
    let peak = peak_rss(&res.stderr);
    assert!(peak <= budget + (64 << 20), "peak RSS {peak} > -S + 64 MiB");
}

#[test]
fn endless_input_stays_within_budget() {
    // `yes | bsort` never ends; a bounded slice of it shows the memory stays flat.
    let mut child = bsort()
        .args(["-S", "1M", "--stats"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let block = b"y\n".repeat(1 << 16);
    for _ in 0..200 {
        stdin.write_all(&block).unwrap_or_else(|e| panic!("{e}"));
    }
    drop(stdin);
    let res = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status.success());
    assert!(peak_rss(&res.stderr) <= (1 << 20) + (64 << 20));
}

#[test]
fn no_panic_on_hostile_bytes() {
    let d = tempdir();
    let f = d.path().join("in");
    let mut data = Vec::new();
    for i in 0..4000u32 {
        let b = (i.wrapping_mul(2_654_435_761) >> 7) as u8;
        data.push(b);
        if i % 37 == 0 {
            data.push(b'\n');
        }
    }
    write(&f, &data);
    for flags in [
        vec!["-n"],
        vec!["-g"],
        vec!["-h"],
        vec!["-f", "-d", "-u"],
        vec!["-t", "\t", "-k", "2,3nr", "-k", "1.2b,1.5"],
        vec!["--format", "csv", "-k", "2"],
        vec!["-z"],
    ] {
        let res = bsort()
            .args(&flags)
            .arg(&f)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(!err.contains("panicked"), "{flags:?}: {err}");
        assert!(
            res.status.code().is_some_and(|c| c <= 1),
            "{flags:?}: {:?} {err}",
            res.status
        );
    }
}

#[test]
fn signal_exit_codes_are_not_core_dumps() {
    // A sanity check of the harness: the child really exits, it is not killed.
    let res = bsort()
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status.signal().is_none());
}

/// breduce --hash on many more distinct keys than `-S` holds: the tables spill, memory
/// stays within `-S` + 64 MiB at every `-j`, and the groups equal a naive in-memory count
/// and sum (issue 11: the bound on every path and every -j).
#[test]
fn breduce_hash_spills_within_budget_on_many_distinct_keys() {
    let d = tempdir();
    let f = d.path().join("kv");
    let mut data = Vec::new();
    let mut model: std::collections::BTreeMap<Vec<u8>, (u64, i64)> = Default::default();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..600_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // ~400k distinct keys, a few repeated often.
        let key = format!("k{:x}", if i % 3 == 0 { x % 64 } else { x % 400_000 });
        let v = (x >> 40) as i64 - (1 << 23);
        data.extend_from_slice(format!("{key}\t{v}\n").as_bytes());
        let e = model.entry(key.into_bytes()).or_default();
        e.0 += 1;
        e.1 += v;
    }
    write(&f, &data);
    let mut expected = Vec::new();
    for (k, (n, s)) in &model {
        expected.extend_from_slice(k);
        expected.extend_from_slice(format!("\t{n}\t{s}\n").as_bytes());
    }
    let budget = 4u64 << 20;
    for j in ["1", "2", "3"] {
        let res = Command::new(env!("CARGO_BIN_EXE_breduce"))
            .env("LC_ALL", "C")
            .args(["--hash", "-S", "4M", "-j", j, "--stats", "-T"])
            .arg(d.path())
            .args(["count", "sum:2"])
            .arg(&f)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            res.status.success(),
            "-j {j}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(
            res.stdout == expected,
            "-j {j}: groups differ from the model"
        );
        let peak = peak_rss(&res.stderr);
        assert!(
            peak <= budget + (64 << 20),
            "-j {j}: peak RSS {peak} > -S + 64 MiB"
        );
        let stats = String::from_utf8_lossy(&res.stderr);
        assert!(
            stats.contains("\"spill_runs\":") && !stats.contains("\"spill_runs\":0"),
            "-j {j}: expected the tables to spill at -S 4M: {}",
            String::from_utf8_lossy(&res.stderr)
        );
    }
}
