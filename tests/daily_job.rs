//! The Makefile-driven daily job (scripts/examples/daily): run twice it gives identical
//! outputs and the second run does nothing; killed mid-run and rerun it gives the same
//! final outputs; `make day DAY=D` rewrites only day D's files. Needs GNU make and
//! python3 (the sample data); skipped with a note when make is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have_make() -> bool {
    Command::new("make")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn make(dir: &Path, args: &[&str]) -> Command {
    let bin = crate::util::bin_path("bsort");
    let bin = bin.parent().unwrap_or(Path::new("."));
    let mut c = Command::new("make");
    c.current_dir(dir)
        .arg(format!("BIN={}", bin.display()))
        .arg(format!("ROOT={}", repo().display()))
        .args(args)
        .env("LC_ALL", "C");
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("make: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under the job's layers: path → (contents, mtime).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<PathBuf> = ["bronze", "silver", "gold"]
        .iter()
        .map(|d| dir.join(d))
        .collect();
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let data = std::fs::read(&path).unwrap_or_default();
                let mtime = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                out.insert(rel, (data, mtime));
            }
        }
    }
    out
}

fn contents(s: &BTreeMap<String, (Vec<u8>, SystemTime)>) -> BTreeMap<String, Vec<u8>> {
    s.iter()
        // _SUCCESS manifests describe the run that wrote them (a one-day rerun lists one day).
        .filter(|(k, _)| !k.ends_with("_SUCCESS"))
        .map(|(k, (d, _))| (k.clone(), d.clone()))
        .collect()
}

/// Which files differ in contents (missing on either side, or other bytes): names only.
fn differing(
    a: &BTreeMap<String, (Vec<u8>, SystemTime)>,
    b: &BTreeMap<String, (Vec<u8>, SystemTime)>,
) -> Vec<String> {
    let (a, b) = (contents(a), contents(b));
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    names.dedup();
    names
}

#[test]
fn daily_job_is_idempotent_atomic_and_reruns_one_day() {
    if !have_make() {
        eprintln!("note: GNU make not found; the daily job test is skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::copy(
        repo().join("scripts/examples/daily/Makefile"),
        dir.join("Makefile"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run_ok(make(dir, &["sample", "SAMPLE_ORDERS=20000"]));

    // First run, in parallel.
    run_ok(make(dir, &["-j2"]));
    let first = snapshot(dir);
    let report = &first
        .get("gold/report.tsv")
        .unwrap_or_else(|| panic!("no report: {:?}", first.keys().collect::<Vec<_>>()))
        .0;
    assert!(report.len() > 1000, "a report of {} bytes", report.len());
    assert!(first
        .keys()
        .any(|k| k.starts_with("bronze/orders/day=2024-01-05/")));

    // Second run: nothing to do, nothing touched.
    let q = make(dir, &["-q", "gold"])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(q.code(), Some(0), "make -q: the job should be up to date");
    run_ok(make(dir, &[]));
    let again = snapshot(dir);
    assert!(
        differing(&again, &first).is_empty(),
        "a second run changed files"
    );
    assert!(
        again
            .iter()
            .all(|(k, v)| first.get(k).map(|f| f.1) == Some(v.1)),
        "a second run rewrote files"
    );

    // One day again: only that day's files are rewritten (same bytes), and the report.
    std::thread::sleep(Duration::from_millis(20));
    run_ok(make(dir, &["day", "DAY=2024-01-05"]));
    let redo = snapshot(dir);
    let d = differing(&redo, &first);
    assert!(d.is_empty(), "a one-day rerun changed contents: {d:?}");
    let changed: Vec<&String> = redo
        .iter()
        .filter(|(k, v)| first.get(*k).map(|f| f.1) != Some(v.1))
        .map(|(k, _)| k)
        .collect();
    for k in &changed {
        assert!(
            k.contains("2024-01-05") || k.ends_with("report.tsv") || k.ends_with("_SUCCESS"),
            "{k} was rewritten by a rerun of 2024-01-05: {changed:?}"
        );
    }
    assert!(changed
        .iter()
        .any(|k| k.starts_with("gold/country/2024-01-05")));

    // Killed at several points and rerun: the same final outputs, no temporaries left.
    for delay_ms in [150, 600, 1500] {
        run_ok(make(dir, &["clean"]));
        let mut c = make(dir, &["-j2"]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        // Its own process group, so that the signal reaches make and every tool.
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let mut child = c.spawn().unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SIGTERM to the group until it is empty: make does not pass the signal on, and a
        // tool it forked just after the first one would run on unsignalled.
        let pgid = child.id() as i32;
        for _ in 0..500 {
            // SAFETY: kill(2) on the child's process group; no memory is involved.
            let r = unsafe { libc::kill(-pgid, libc::SIGTERM) };
            if r == -1 {
                break; // ESRCH: no process left in the group
            }
            let _ = child.try_wait();
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
        let left: Vec<String> = snapshot(dir)
            .into_keys()
            .filter(|k| k.ends_with(".tmp") || k.contains("/."))
            .collect();
        assert!(
            left.is_empty(),
            "killed after {delay_ms} ms, left: {left:?}"
        );
        run_ok(make(dir, &["-j2"]));
        let d = differing(&snapshot(dir), &first);
        assert!(
            d.is_empty(),
            "killed after {delay_ms} ms and rerun: different outputs: {d:?}"
        );
    }
}

/// NOW for metrics.py: three hours after the sample's last day ended.
fn with_now(mut c: Command) -> Command {
    c.env("NOW", "2024-03-31T03:00:00Z");
    c
}

/// metrics.jsonl, every line parsed.
fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// A copy of the example job in a temporary directory, with sample data of `orders` lines.
fn job_with_sample(orders: u32) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        repo().join("scripts/examples/daily/Makefile"),
        tmp.path().join("Makefile"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run_ok(make(
        tmp.path(),
        &["sample", &format!("SAMPLE_ORDERS={orders}")],
    ));
    tmp
}

#[test]
fn quality_gate_stops_a_duplicated_user_id_or_a_bad_amount_and_leaves_gold_as_it_was() {
    if !have_make() {
        eprintln!("note: GNU make not found; the quality gate test is skipped");
        return;
    }
    let tmp = job_with_sample(4000);
    let dir = tmp.path();
    // `make run`: the job with one metrics line (NOW: the sample's days are of 2024).
    run_ok(with_now(make(dir, &["run", "-j2"])));
    let slo = run_ok(make(dir, &["slo"]));
    assert!(slo.contains("success rate  100.00% of 1 runs"), "{slo}");
    let gate =
        std::fs::read_to_string(dir.join("gate/2024-01-05.json")).unwrap_or_else(|e| panic!("{e}"));
    assert!(gate.contains("\"reconcile\", \"ok\": true"), "{gate}");
    let before = snapshot(dir);
    let gold: Vec<&String> = before.keys().filter(|k| k.starts_with("gold/")).collect();
    assert!(gold.len() > 100, "{gold:?}");

    // The users dimension gets a duplicated id: every day's gate fails, gold is untouched.
    let users = dir.join("landing/users.tsv");
    let mut text = std::fs::read(&users).unwrap_or_else(|e| panic!("{e}"));
    let first_line = text
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    let clean = text.clone();
    text.extend_from_slice(&first_line);
    text.push(b'\n');
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&users, &text).unwrap_or_else(|e| panic!("{e}"));
    let out = with_now(make(dir, &["run", "-j2"]))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the job went on: {stderr}");
    let m = metrics(dir);
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[0]["success"], true, "{}", m[0]);
    assert_eq!(m[0]["stages"]["bronze"]["records_in"], 4000, "{}", m[0]);
    assert_eq!(m[0]["stages"]["silver"]["records_in"], 4000, "{}", m[0]);
    assert_eq!(m[0]["stages"]["silver"]["runs"], 90, "{}", m[0]);
    assert_eq!(m[0]["day"], "2024-03-30", "{}", m[0]);
    assert_eq!(m[0]["reprocess"], false, "{}", m[0]);
    assert!(m[0]["peak_rss_bytes"].as_u64() > Some(1 << 20), "{}", m[0]);
    assert!(m[0]["shuffle_bytes"].as_u64() > Some(100_000), "{}", m[0]);
    assert!(
        m[0]["freshness_h"]
            .as_f64()
            .is_some_and(|h| h > 3.0 && h < 4.0),
        "{}",
        m[0]
    );
    assert_eq!(m[1]["success"], false, "{}", m[1]);
    assert!(
        m[1]["failed_target"]
            .as_str()
            .is_some_and(|t| t.starts_with("gate/2024-")),
        "{}",
        m[1]
    );
    // One run in two failed: the success-rate SLO is broken (make slo exits 2: a recipe failed).
    let slo = make(dir, &["slo"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&slo.stdout);
    assert_eq!(slo.status.code(), Some(2), "{text}");
    assert!(text.contains("success rate  50.00% of 2 runs"), "{text}");
    assert!(
        String::from_utf8_lossy(&slo.stderr).contains("slo: broken: success rate"),
        "{}",
        String::from_utf8_lossy(&slo.stderr)
    );
    assert!(
        stderr.contains("check users_unique failed: 1 duplicated ids among"),
        "{stderr}"
    );
    assert!(stderr.contains("gold not published"), "{stderr}");
    let after = snapshot(dir);
    for (k, v) in before.iter().filter(|(k, _)| k.starts_with("gold/")) {
        assert_eq!(after.get(k), Some(v), "{k} changed (contents or mtime)");
    }
    assert_eq!(
        after.keys().filter(|k| k.starts_with("gold/")).count(),
        gold.len()
    );

    // Fixed upstream: the job completes with the same gold as before.
    std::fs::write(&users, &clean).unwrap_or_else(|e| panic!("{e}"));
    run_ok(make(dir, &["-j2"]));
    let d = differing(&snapshot(dir), &before);
    assert!(d.is_empty(), "{d:?}");

    let before = snapshot(dir);
    // Late data for 2024-01-05 with a comma for a decimal point: bmap's `amount > 0` lets
    // the string through, the gate's own count filters it, so two checks fail.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        dir.join("landing/orders-3.jsonl"),
        "{\"order_id\":900001,\"user_id\":\"user_1\",\"created_at\":\"2024-01-05T10:00:00Z\",\"status\":\"completed\",\"amount\":\"12,50\"}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = make(dir, &["-j2"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("gate: 2024-01-05: check amounts failed: 1 of "),
        "{stderr}"
    );
    assert!(
        stderr.contains("gate: 2024-01-05: check reconcile failed: bronze "),
        "{stderr}"
    );
    assert!(!dir.join("gate/2024-01-05.json").exists());
    let after = snapshot(dir);
    for k in [
        "gold/users/2024-01-05.tsv",
        "gold/country/2024-01-05.tsv",
        "gold/report.tsv",
    ] {
        assert_eq!(after.get(k), before.get(k), "{k} changed");
    }
}

#[test]
fn airflow_dag_has_one_task_per_layer_and_the_gate_on_its_own() {
    if !have_make() {
        eprintln!("note: GNU make not found; the DAG check is skipped");
        return;
    }
    // Airflow itself takes ~15 minutes to install: check_dag.py loads the DAG against a
    // stand-in airflow package and checks tasks, edges, retries and make targets.
    let check = repo().join("scripts/examples/daily/airflow/check_dag.py");
    let out = Command::new("python3")
        .arg(&check)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The check can fail: a DAG that skips the gate and makes a target the Makefile lacks.
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dag = std::fs::read_to_string(repo().join("scripts/examples/daily/airflow/daily_dag.py"))
        .unwrap_or_else(|e| panic!("{e}"));
    let broken = dag
        .replace("silver >> gate >> gold", "silver >> gold")
        .replace("gold/users/{{{{ ds }}}}.tsv", "gold/user/{{{{ ds }}}}.tsv");
    assert_ne!(broken, dag);
    let path = tmp.path().join("dag.py");
    std::fs::write(&path, broken).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("python3")
        .arg(&check)
        .arg("--dag")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("silver is followed by ['gold'], not ['quality_gate']"),
        "{stderr}"
    );
    assert!(
        stderr.contains("make target gold/user/2024-01-05.tsv is no rule of the Makefile"),
        "{stderr}"
    );
}
