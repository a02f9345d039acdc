//! The join-strategy experiment (scripts/examples/join-strategies/run.sh), small: every
//! strategy joins, the three agree (checked by the experiment), every order finds its user
//! (the data are made so: the count is the oracle), the killed-and-rerun and bad-record runs
//! give the clean output (diff_count 0), and results.tsv, chart.png and REPORT.md are written.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn small_experiment_has_diff_count_zero_and_a_chart() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = crate::util::bin_path("bjoin");
    let bin = bin.parent().map(PathBuf::from).unwrap_or_default();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("bash")
        .arg(repo.join("scripts/examples/join-strategies/run.sh"))
        .env("BIN", &bin)
        .env("OUT", tmp.path())
        .env("ORDERS", "6000")
        .env("USERS", "500")
        .env("PRODUCTS", "5000")
        .env("P", "3")
        .env("S", "1M")
        .env("NO_VENV", "1")
        .env_remove("PLOT_PYTHON")
        .output()
        .unwrap_or_else(|e| panic!("run.sh: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run.sh failed: {stderr}");

    let tsv = std::fs::read_to_string(tmp.path().join("results.tsv"))
        .unwrap_or_else(|e| panic!("results.tsv: {e}"));
    let mut lines = tsv.lines();
    let cols: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let rows: Vec<HashMap<&str, &str>> = lines
        .map(|l| cols.iter().copied().zip(l.split('\t')).collect())
        .collect();
    // 5 cases x 3 strategies, then 2 failures x 3 strategies.
    assert_eq!(rows.len(), 21, "{tsv}");
    for r in &rows {
        let orders = if r["size"] == "2x" { "12000" } else { "6000" };
        assert_eq!(
            r["records_out"], orders,
            "every order has its user and product: {r:?}"
        );
        for c in ["duration_s", "peak_rss_bytes"] {
            assert!(r[c].parse::<f64>().is_ok_and(|v| v > 0.0), "{c}: {r:?}");
        }
        if r["strategy"] == "partition-wise" {
            assert!(
                r["shuffle_bytes"].parse::<u64>().is_ok_and(|v| v > 100_000),
                "{r:?}"
            );
        }
    }
    let failures: Vec<_> = rows
        .iter()
        .filter(|r| !r["diff_count"].is_empty())
        .collect();
    assert_eq!(failures.len(), 6, "{tsv}");
    for r in failures {
        assert_eq!(r["diff_count"], "0", "{r:?}");
        if r["variant"].starts_with("bad records") {
            assert_eq!(r["bad_records"], "30", "{r:?}");
        }
    }
    let png = std::fs::read(tmp.path().join("chart.png")).unwrap_or_else(|e| panic!("{e}"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 100);
    let report =
        std::fs::read_to_string(tmp.path().join("REPORT.md")).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.contains("## Which strategy wins when"), "{report}");
    assert!(
        report.contains("| u0 |"),
        "the skewed user is the top heavy hitter: {report}"
    );
    assert!(!tmp.path().join("work").exists(), "work files left");
}
