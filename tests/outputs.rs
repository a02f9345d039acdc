//! Outputs that never destroy and never lie (issue 12): what `-o` writes through, directory
//! commits under signals and races, readers that check `_SUCCESS`, leftovers of killed runs,
//! `--stats` on every exit, compression by extension.

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn tool(name: &str) -> Command {
    let exe = match name {
        "bsort" => env!("CARGO_BIN_EXE_bsort"),
        "bsplit" => env!("CARGO_BIN_EXE_bsplit"),
        "bshuffle" => env!("CARGO_BIN_EXE_bshuffle"),
        "breduce" => env!("CARGO_BIN_EXE_breduce"),
        "bjoin" => env!("CARGO_BIN_EXE_bjoin"),
        "bmap" => env!("CARGO_BIN_EXE_bmap"),
        other => panic!("no tool {other}"),
    };
    let mut c = Command::new(exe);
    c.env("LC_ALL", "C");
    c
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `n` lines `KEY<TAB>i`, keys pseudo-random.
fn lines(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n * 24);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(format!("k{:09x}\t{i}\n", x % 0xF_FFFF_FFFF).as_bytes());
    }
    out
}

fn sorted_lines(b: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = b
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    v.sort();
    v
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn wait(child: Child) -> Output {
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn kill(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The manifest of `dir`, its parts checked against the files: every listed part exists,
/// its size is what the manifest says (file_bytes; bytes too for uncompressed parts), and
/// the parts hold `records` records in all. Returns the concatenated parts.
fn check_complete(dir: &Path, records: u64) -> Vec<u8> {
    let m: serde_json::Value = serde_json::from_slice(&read(&dir.join("_SUCCESS")))
        .unwrap_or_else(|e| panic!("{}: bad _SUCCESS: {e}", dir.display()));
    let parts = m["parts"].as_array().cloned().unwrap_or_default();
    assert!(!parts.is_empty(), "{}: no parts listed", dir.display());
    let mut all = Vec::new();
    for p in &parts {
        let name = p["name"]
            .as_str()
            .unwrap_or_else(|| panic!("part without name"));
        let data = read(&dir.join(name));
        assert_eq!(
            Some(data.len() as u64),
            p["bytes"].as_u64(),
            "{}/{name}: size differs from the manifest's bytes",
            dir.display()
        );
        if let Some(fb) = p["file_bytes"].as_u64() {
            assert_eq!(
                fb,
                data.len() as u64,
                "{}/{name}: file_bytes",
                dir.display()
            );
        }
        all.extend_from_slice(&data);
    }
    let n = all.iter().filter(|&&c| c == b'\n').count() as u64;
    assert_eq!(n, records, "{}: records in the parts", dir.display());
    assert_eq!(m["records"].as_u64(), Some(records), "manifest records");
    all
}

/// Entries beside DIR that are its staging or old directories.
fn staging_left(parent: &Path, name: &str) -> Vec<String> {
    entries(parent)
        .into_iter()
        .filter(|e| e.starts_with(&format!(".{name}.staging-")))
        .collect()
}

// --- 1. -o writes through symlinks, FIFOs and devices ------------------------------------

#[test]
fn output_through_a_symlink_replaces_its_target() {
    let d = tempdir();
    let input = d.path().join("in");
    write(&input, b"b\na\nc\n");
    std::fs::create_dir(d.path().join("real")).unwrap_or_else(|e| panic!("{e}"));
    let target = d.path().join("real/t");
    write(&target, b"old\n");
    let link = d.path().join("link");
    std::os::unix::fs::symlink("real/t", &link).unwrap_or_else(|e| panic!("{e}"));
    let res = tool("bsort")
        .arg("-o")
        .arg(&link)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    let meta = std::fs::symlink_metadata(&link).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_symlink(), "the symlink was replaced");
    assert_eq!(read(&target), b"a\nb\nc\n", "the target was not written");
    // No temporary left in either directory.
    assert_eq!(entries(&d.path().join("real")), vec!["t".to_string()]);
    // A dangling link: its target is created.
    let dangling = d.path().join("dangling");
    std::os::unix::fs::symlink("real/new", &dangling).unwrap_or_else(|e| panic!("{e}"));
    let res = tool("bsort")
        .arg("-o")
        .arg(&dangling)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    assert!(std::fs::symlink_metadata(&dangling)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false));
    assert_eq!(read(&d.path().join("real/new")), b"a\nb\nc\n");
}

#[test]
fn output_to_a_fifo_is_written_directly() {
    let d = tempdir();
    let input = d.path().join("in");
    let data = lines(20_000, 3);
    write(&input, &data);
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    // The read end, opened without blocking, so that a tool that never opens the FIFO
    // (replacing it instead) makes this test fail rather than hang.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut child = tool("bsort")
        .arg("-o")
        .arg(&fifo)
        .arg(&input)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let start = Instant::now();
    let status = loop {
        match reader.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => {
                if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                    // Drain what is left.
                    while let Ok(n) = reader.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    break s;
                }
                assert!(start.elapsed() < Duration::from_secs(60), "bsort hangs");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    };
    let res = wait(child);
    assert_eq!(status.code(), Some(0), "{}", text(&res.stderr));
    let meta = std::fs::symlink_metadata(&fifo).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
    let mut expect = Vec::new();
    for l in sorted_lines(&data) {
        expect.extend_from_slice(&l);
        expect.push(b'\n');
    }
    assert_eq!(
        got.len(),
        expect.len(),
        "the FIFO's reader got a different output"
    );
    assert!(got == expect, "the FIFO's reader got a different output");
    // No temporary beside it.
    assert_eq!(
        entries(d.path()),
        vec!["fifo".to_string(), "in".to_string()]
    );
}

use std::os::unix::fs::OpenOptionsExt;

// --- 2. A killed directory output never looks complete ----------------------------------

/// Run `args` writing DIR `out` from `input`, SIGTERM it after `after`, and check the
/// outcome: DIR absent (and no staging left), or complete with true byte counts.
fn kill_and_check(name: &str, args: &[&str], d: &Path, records: u64, after: Duration, pause: bool) {
    let out = d.join("out");
    let mut c = tool(name);
    c.args(args)
        .arg("-o")
        .arg(&out)
        .arg(d.join("in"))
        .env("TMPDIR", d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if pause {
        c.env("BATCHKIT_FAULT_COMMIT_PAUSE_MS", "300");
    }
    let child = c.spawn().unwrap_or_else(|e| panic!("{e}"));
    if pause {
        // Aim at the commit: _SUCCESS is in the staging directory.
        wait_for("the commit", 60, || {
            entries(d)
                .iter()
                .any(|e| e.starts_with(".out.staging-") && d.join(e).join("_SUCCESS").exists())
        });
    } else {
        std::thread::sleep(after);
    }
    kill(&child, libc::SIGTERM);
    let res = wait(child);
    let code = res.status.code();
    // Killed before its handler was installed (nothing was created yet), 143 after, or 0
    // when the signal came after the end.
    use std::os::unix::process::ExitStatusExt;
    assert!(
        code == Some(0) || code == Some(143) || res.status.signal() == Some(libc::SIGTERM),
        "{name}: status {:?}: {}",
        res.status,
        text(&res.stderr)
    );
    if out.exists() {
        check_complete(&out, records);
    }
    if pause {
        assert!(
            out.exists(),
            "{name}: a signal during the commit lost the output"
        );
    }
    assert!(
        staging_left(d, "out").is_empty(),
        "{name}: staging left: {:?}",
        staging_left(d, "out")
    );
    let spill: Vec<String> = entries(d)
        .into_iter()
        .filter(|e| e.starts_with("batchkit-"))
        .collect();
    assert!(spill.is_empty(), "{name}: spill left: {spill:?}");
    let _ = std::fs::remove_dir_all(&out);
}

fn sweep(name: &str, args: &[&str], points: u32) {
    sweep_input(name, args, points, &lines(150_000, 7));
}

fn sweep_input(name: &str, args: &[&str], points: u32, input: &[u8]) {
    let d = tempdir();
    let n = input.iter().filter(|&&c| c == b'\n').count() as u64;
    write(&d.path().join("in"), input);
    // How long one run takes, to spread the kill points over it.
    let start = Instant::now();
    let res = tool(name)
        .args(args)
        .arg("-o")
        .arg(d.path().join("out"))
        .arg(d.path().join("in"))
        .env("TMPDIR", d.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let took = start.elapsed();
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    check_complete(&d.path().join("out"), n);
    std::fs::remove_dir_all(d.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..points {
        // Denser towards the end, where the commit is; a little past it too.
        let f = (i as f64 / points as f64).sqrt() * 1.1;
        kill_and_check(name, args, d.path(), n, took.mul_f64(f), false);
    }
    // And aimed at the commit itself.
    kill_and_check(name, args, d.path(), n, Duration::ZERO, true);
}

#[test]
fn sigterm_swept_over_bsplit_leaves_dir_absent_or_complete() {
    sweep("bsplit", &["--round-robin", "-n", "8"], 12);
}

/// Hundreds of `--by` directories: removing a staging directory takes long enough for
/// the commit to run meanwhile, unless the commit is a critical section.
#[test]
fn sigterm_swept_over_bsplit_by_leaves_dir_absent_or_complete() {
    let mut input = Vec::new();
    for i in 0..30_000u32 {
        input.extend_from_slice(format!("v{}\t{i}\n", i % 300).as_bytes());
    }
    sweep_input("bsplit", &["--by", "1"], 10, &input);
}

#[test]
fn sigterm_swept_over_bshuffle_leaves_dir_absent_or_complete() {
    sweep("bshuffle", &["-n", "8", "-S", "1M"], 12);
}

/// The long variant: `BATCHKIT_LONG_TESTS=1 cargo test --test tests sweep_long -- --ignored`.
#[test]
#[ignore]
fn sigterm_sweep_long() {
    sweep("bsplit", &["--round-robin", "-n", "8"], 100);
    sweep("bsplit", &["--hash", "-n", "8", "--compress", "gzip"], 50);
    sweep("bshuffle", &["-n", "8", "-S", "1M"], 100);
}

// --- 3. Without --force, nothing that appears in DIR is destroyed ------------------------

/// Start `tool ARGS -o DIR` reading a pipe; the returned stdin is kept open.
fn start_on_pipe(
    name: &str,
    args: &[&str],
    out: &Path,
    first: &[u8],
) -> (Child, std::process::ChildStdin) {
    let mut child = tool(name)
        .args(args)
        .arg("-o")
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    stdin.write_all(first).unwrap_or_else(|e| panic!("{e}"));
    (child, stdin)
}

#[test]
fn a_file_created_in_dir_during_the_run_survives() {
    for name in ["bshuffle", "bsplit"] {
        let d = tempdir();
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap_or_else(|e| panic!("{e}"));
        let args: &[&str] = if name == "bsplit" {
            &["--round-robin", "-n", "4"]
        } else {
            &["-n", "4"]
        };
        let (child, mut stdin) = start_on_pipe(name, args, &out, &lines(1000, 1));
        // The run has begun (its staging directory exists) and DIR was empty then.
        wait_for("staging", 20, || !staging_left(d.path(), "out").is_empty());
        write(&out.join("precious"), b"mine\n");
        stdin
            .write_all(&lines(1000, 2))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(stdin);
        let res = wait(child);
        assert_eq!(res.status.code(), Some(1), "{name}: {}", text(&res.stderr));
        assert!(
            text(&res.stderr).contains("no longer empty"),
            "{name}: {}",
            text(&res.stderr)
        );
        assert_eq!(
            read(&out.join("precious")),
            b"mine\n",
            "{name}: precious lost"
        );
        assert_eq!(entries(&out), vec!["precious".to_string()]);
        assert!(staging_left(d.path(), "out").is_empty());
    }
}

#[test]
fn two_concurrent_runs_to_one_dir_one_wins_whole() {
    for name in ["bshuffle", "bsplit"] {
        let d = tempdir();
        let out = d.path().join("out");
        let args: &[&str] = if name == "bsplit" {
            &["--round-robin", "-n", "3"]
        } else {
            &["-n", "3"]
        };
        let (a, a_in) = start_on_pipe(name, args, &out, &lines(3000, 1));
        let (b, b_in) = start_on_pipe(name, args, &out, &lines(5000, 2));
        wait_for("two stagings", 20, || {
            staging_left(d.path(), "out").len() == 2
        });
        drop(a_in);
        let ra = wait(a);
        assert_eq!(ra.status.code(), Some(0), "{name} A: {}", text(&ra.stderr));
        let a_out = check_complete(&out, 3000);
        drop(b_in);
        let rb = wait(b);
        assert_eq!(rb.status.code(), Some(1), "{name} B: {}", text(&rb.stderr));
        assert!(text(&rb.stderr).contains("out"), "{}", text(&rb.stderr));
        // A's output, whole and untouched.
        assert_eq!(check_complete(&out, 3000), a_out);
        assert_eq!(sorted_lines(&a_out), sorted_lines(&lines(3000, 1)));
        assert!(staging_left(d.path(), "out").is_empty());
    }
}

#[test]
fn force_replaces_a_dir_only_once_the_new_one_is_whole() {
    let d = tempdir();
    let out = d.path().join("out");
    write(&d.path().join("in"), &lines(2000, 4));
    let run = |force: bool| {
        let mut c = tool("bsplit");
        c.args(["--round-robin", "-n", "2", "-o"]).arg(&out);
        if force {
            c.arg("--force");
        }
        c.arg(d.path().join("in"))
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(run(false).status.code(), Some(0));
    write(&out.join("old-file"), b"x");
    let r = run(false);
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    assert!(out.join("old-file").exists());
    let r = run(true);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(!out.join("old-file").exists());
    check_complete(&out, 2000);
    assert!(
        staging_left(d.path(), "out").is_empty(),
        "{:?}",
        entries(d.path())
    );
}

// --- 4. Readers check the manifest against the files -------------------------------------

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn a_truncated_part_is_refused_by_breduce_and_bjoin() {
    let d = tempdir();
    write(&d.path().join("in"), &lines(20_000, 5));
    let split = tool("bshuffle")
        .args(["-n", "4", "-o"])
        .arg(d.path().join("s"))
        .arg(d.path().join("in"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(split.status.code(), Some(0), "{}", text(&split.stderr));
    let before = tool("breduce")
        .arg("count")
        .arg(d.path().join("s"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(before.status.code(), Some(0), "{}", text(&before.stderr));
    let part = d.path().join("s/part-00003");
    let full = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    truncate(&part, 1000);
    let r = tool("breduce")
        .arg("count")
        .arg(d.path().join("s"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    let want = format!(
        "breduce: {}/part-00003: 1000 bytes, the manifest says {full}\n",
        d.path().join("s").display()
    );
    assert_eq!(text(&r.stderr), want);
    assert!(r.stdout.is_empty());

    for side in ["l", "r"] {
        let res = tool("bshuffle")
            .args(["-n", "3", "-o"])
            .arg(d.path().join(side))
            .arg(d.path().join("in"))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    }
    let join = || {
        tool("bjoin")
            .arg("--partitioned")
            .arg(d.path().join("l"))
            .arg(d.path().join("r"))
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let ok = join();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let part = d.path().join("r/part-00001");
    let full = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    truncate(&part, full / 2);
    let r = join();
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    let want = format!(
        "bjoin: {}/part-00001: {} bytes, the manifest says {full}\n",
        d.path().join("r").display(),
        full / 2
    );
    assert_eq!(text(&r.stderr), want);
}

// --- 5. SIGKILL leaves leftovers; the next run removes them ------------------------------

#[test]
fn sigkill_then_rerun_leaves_no_leftovers() {
    let d = tempdir();
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let input = d.path().join("in");
    write(&input, &lines(50_000, 6));
    // bsort: a spill directory under -T and a temporary beside -o.
    let out = d.path().join("sorted");
    let mut child = tool("bsort")
        .args(["-S", "64K", "-T"])
        .arg(&tmp)
        .arg("-o")
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin
        .write_all(&lines(300_000, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for("a spill", 20, || !entries(&tmp).is_empty());
    // The temporary beside -o appears when the output starts: all input is in.
    drop(stdin);
    wait_for("the temporary", 60, || {
        entries(d.path()).iter().any(|e| e.starts_with(".bsort."))
    });
    kill(&child, libc::SIGKILL);
    let _ = wait(child);
    // Directory outputs: a staging directory beside DIR.
    let dir = d.path().join("parts");
    let (child, stdin) = start_on_pipe("bshuffle", &["-n", "2"], &dir, &lines(100, 1));
    wait_for("staging", 20, || {
        !staging_left(d.path(), "parts").is_empty()
    });
    kill(&child, libc::SIGKILL);
    let _ = wait(child);
    drop(stdin);
    assert!(!entries(&tmp).is_empty() && !staging_left(d.path(), "parts").is_empty());

    let r = tool("bsort")
        .args(["-S", "64K", "-T"])
        .arg(&tmp)
        .arg("-o")
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let said = text(&r.stderr);
    // One line per place swept (under -T, beside -o), each naming what it removed.
    assert_eq!(said.lines().count(), 2, "{said}");
    assert!(
        said.lines()
            .all(|l| l.starts_with("bsort: removed 1 leftover")),
        "{said}"
    );
    assert!(
        said.contains("batchkit-") && said.contains(".bsort."),
        "{said}"
    );
    assert!(entries(&tmp).is_empty(), "spill left: {:?}", entries(&tmp));
    let r = tool("bshuffle")
        .args(["-n", "2", "-o"])
        .arg(&dir)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("removed"), "{}", text(&r.stderr));
    let mut left = entries(d.path());
    left.retain(|e| e.starts_with('.'));
    assert!(left.is_empty(), "leftovers: {left:?}");
}

#[test]
fn a_live_runs_staging_is_not_swept() {
    let d = tempdir();
    let out = d.path().join("parts");
    let (a, a_in) = start_on_pipe("bshuffle", &["-n", "2"], &out, &lines(100, 1));
    wait_for("staging", 20, || {
        !staging_left(d.path(), "parts").is_empty()
    });
    // Another run to the same DIR sweeps beside it: the live run's staging stays.
    let r = tool("bshuffle")
        .args(["-n", "2", "-o"])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(!text(&r.stderr).contains("removed"), "{}", text(&r.stderr));
    assert_eq!(staging_left(d.path(), "parts").len(), 1);
    check_complete(&out, 0);
    // The live run then finds DIR taken.
    drop(a_in);
    let ra = wait(a);
    assert_eq!(ra.status.code(), Some(1), "{}", text(&ra.stderr));
    check_complete(&out, 0);
    assert!(staging_left(d.path(), "parts").is_empty());
}

#[test]
fn bmap_commands_end_with_a_killed_bmap() {
    let d = tempdir();
    let pidfile = d.path().join("pid");
    let mut child = tool("bmap")
        .arg("--")
        .arg("sh")
        .arg("-c")
        .arg(format!("echo $$ > {}; exec sleep 60", pidfile.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin.write_all(b"a\n").unwrap_or_else(|e| panic!("{e}"));
    drop(stdin);
    wait_for("the command", 20, || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.trim().parse::<i32>().is_ok())
    });
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    kill(&child, libc::SIGKILL);
    let _ = wait(child);
    let gone = || {
        // A zombie (reaped by init later) counts as ended.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(s) => s
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z')),
        }
    };
    let start = Instant::now();
    while !gone() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended = gone();
    if !ended {
        // SAFETY: the orphaned command this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(ended, "bmap's command {pid} outlived bmap");
}

// --- 6. --stats on every exit that is not a crash ----------------------------------------

fn stats_of(path: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no stats: {e}"));
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("bad stats {s:?}: {e}"))
}

#[test]
fn stats_are_written_when_the_pipe_closes_early() {
    let d = tempdir();
    let input = d.path().join("in");
    write(&input, &lines(300_000, 8));
    let stats = d.path().join("stats.json");
    let mut child = tool("bsort")
        .arg(format!("--stats={}", stats.display()))
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut first = [0u8; 16];
    out.read_exact(&mut first).unwrap_or_else(|e| panic!("{e}"));
    drop(out); // `| head -1`
    let res = wait(child);
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    let v = stats_of(&stats);
    assert_eq!(v["tool"], "bsort");
    assert_eq!(v["complete"], false);
    assert_eq!(v["exit_status"], 0);
    assert!(v["bytes_out"].as_u64().unwrap_or(0) > 0, "{v}");
}

#[test]
fn stats_are_written_on_a_data_error_and_a_signal() {
    let d = tempdir();
    let input = d.path().join("in");
    write(&input, b"a\t1\nb\tx\n");
    let stats = d.path().join("stats.json");
    let r = tool("breduce")
        .arg(format!("--stats={}", stats.display()))
        .arg("sum:2")
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    let v = stats_of(&stats);
    assert_eq!(v["exit_status"], 1);
    assert_eq!(v["complete"], false);

    std::fs::remove_file(&stats).unwrap_or_else(|e| panic!("{e}"));
    let mut child = tool("bsort")
        .arg(format!("--stats={}", stats.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin
        .write_all(&lines(1000, 1))
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(200));
    kill(&child, libc::SIGTERM);
    let res = wait(child);
    drop(stdin);
    assert_eq!(res.status.code(), Some(143));
    let v = stats_of(&stats);
    assert_eq!(v["exit_status"], 143);
    assert_eq!(v["outcome"]["signal"], 15);
    assert_eq!(v["outcome"]["output_committed"], false);
}

// --- 7. -o X.gz and -o X.zst compress, and read back -------------------------------------

#[test]
fn compressed_outputs_round_trip() {
    let d = tempdir();
    let input = d.path().join("in");
    let data = lines(30_000, 9);
    write(&input, &data);
    let plain = tool("bsort")
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    for (ext, magic) in [
        ("gz", &[0x1f, 0x8b][..]),
        ("zst", &[0x28, 0xb5, 0x2f, 0xfd][..]),
    ] {
        let out: PathBuf = d.path().join(format!("sorted.{ext}"));
        let stats = d.path().join(format!("stats.{ext}.json"));
        let r = tool("bsort")
            .arg("-o")
            .arg(&out)
            .arg(format!("--stats={}", stats.display()))
            .arg(&input)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
        let bytes = read(&out);
        assert!(bytes.starts_with(magic), "{ext}: not compressed");
        assert!(bytes.len() < data.len() * 4 / 5, "{ext}: hardly compressed");
        let v = stats_of(&stats);
        assert_eq!(
            v["bytes_out"].as_u64(),
            Some(bytes.len() as u64),
            "{ext}: {v}"
        );
        // Read back by the same tool.
        let back = tool("bsort")
            .arg(&out)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.status.code(), Some(0), "{}", text(&back.stderr));
        assert!(back.stdout == plain.stdout, "{ext}: round trip differs");
    }
}
