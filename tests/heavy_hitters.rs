//! Heavy hitters (docs/heavy-hitters.md): bshuffle and bsplit --hash/--by with --stats
//! report the top 10 keys, with their records and bytes, in --stats and in _SUCCESS.
//! The oracle is an exact count by GNU `sort | uniq -c` in the C locale; the data are
//! Zipf-distributed keys (a few keys hold most records).

use crate::util::{bin_path, Dir};
use serde_json::Value;
use std::process::Command;

/// Zipf(1.2) keys over 5000 users, deterministic (splitmix64), as `user\tpayload` lines.
fn zipf_tsv(n: usize) -> Vec<u8> {
    let keys = 5000usize;
    let w: Vec<f64> = (1..=keys).map(|r| 1.0 / (r as f64).powf(1.2)).collect();
    let total: f64 = w.iter().sum();
    let mut cdf = Vec::new();
    let mut acc = 0.0;
    for x in &w {
        acc += x / total;
        cdf.push(acc);
    }
    let mut s = 42u64;
    let mut out = Vec::new();
    for i in 0..n {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64 << 53) as f64;
        // Key ranks are scrambled so that the heavy keys are not the smallest strings.
        let rank = cdf.partition_point(|&c| c < u).min(keys - 1);
        let key = (rank * 7919) % 100_003;
        // Payloads of varying length, so bytes shares differ from record shares.
        let pad = "x".repeat(i % 17);
        out.extend_from_slice(format!("u{key}\t{i}{pad}\n").as_bytes());
    }
    out
}

/// The exact top 10 (count, bytes, key) by the oracle: GNU sort | uniq -c on the keys,
/// bytes summed by awk.
fn oracle_top(dir: &Dir, input: &str) -> Vec<(u64, u64, String)> {
    let script = format!(
        "LC_ALL=C awk -F'\\t' '{{c[$1]++; b[$1]+=length($0)+1}} END {{for (k in c) print c[k] \"\\t\" b[k] \"\\t\" k}}' {input} \
         | LC_ALL=C sort -t \"$(printf '\\t')\" -k1,1nr -k3,3 | head -n 10"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].parse().expect("count"),
                f[1].parse().expect("bytes"),
                f[2].to_string(),
            )
        })
        .collect()
}

fn json_file(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn check_top(hh: &Value, want: &[(u64, u64, String)], records: u64, what: &str) {
    assert_eq!(hh["method"], "SpaceSaving", "{what}");
    assert_eq!(hh["records"].as_u64(), Some(records), "{what}");
    let top = hh["top"].as_array().expect("top");
    assert_eq!(top.len(), 10, "{what}");
    for (i, (h, (count, bytes, key))) in top.iter().zip(want).enumerate() {
        assert_eq!(
            h["key"].as_str(),
            Some(key.as_str()),
            "{what}: rank {i}: {h}"
        );
        // The heavy keys enter the sketch early and never leave: exact counts.
        assert_eq!(h["records"].as_u64(), Some(*count), "{what}: {h}");
        assert_eq!(h["error"].as_u64(), Some(0), "{what}: {h}");
        assert_eq!(h["bytes"].as_u64(), Some(*bytes), "{what}: {h}");
        let share = h["records_share"].as_f64().unwrap_or(-1.0);
        assert!(
            (share - *count as f64 / records as f64).abs() < 1e-5,
            "{what}: {h}"
        );
    }
}

fn run_ok(dir: &Dir, bin: &str, args: &[&str]) {
    let out = Command::new(bin_path(bin))
        .args(args)
        .current_dir(dir.path())
        .env("LC_ALL", "C")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bshuffle_reports_the_true_top_keys_in_stats_and_manifest() {
    let dir = Dir::new();
    dir.write("in.tsv", zipf_tsv(30_000));
    let want = oracle_top(&dir, "in.tsv");
    assert!(want[0].0 > 3000, "the data are skewed: {want:?}");
    for j in ["1", "2", "3"] {
        let out = format!("out{j}");
        let stats = format!("--stats=st{j}.json");
        run_ok(
            &dir,
            "bshuffle",
            &[
                "-n", "4", "-k", "1", "-j", j, "-S", "64K", "-o", &out, &stats, "in.tsv",
            ],
        );
        let st = json_file(&dir.join(format!("st{j}.json")));
        check_top(&st["heavy_hitters"], &want, 30_000, "bshuffle --stats");
        let manifest = json_file(&dir.join(&out).join("_SUCCESS"));
        assert_eq!(manifest["heavy_hitters"], st["heavy_hitters"]);
    }
    // Without --stats the sketch is not run and the manifest says nothing of it.
    run_ok(
        &dir,
        "bshuffle",
        &["-n", "4", "-k", "1", "-o", "plain", "in.tsv"],
    );
    let manifest = json_file(&dir.join("plain/_SUCCESS"));
    assert!(manifest.get("heavy_hitters").is_none(), "{manifest}");
}

#[test]
fn bsplit_hash_and_by_report_the_true_top_keys() {
    let dir = Dir::new();
    dir.write("in.tsv", zipf_tsv(20_000));
    let want = oracle_top(&dir, "in.tsv");
    run_ok(
        &dir,
        "bsplit",
        &[
            "-n",
            "3",
            "--hash",
            "-k",
            "1",
            "-o",
            "h",
            "--stats=h.json",
            "in.tsv",
        ],
    );
    let st = json_file(&dir.join("h.json"));
    check_top(&st["heavy_hitters"], &want, 20_000, "bsplit --hash");
    assert_eq!(
        json_file(&dir.join("h/_SUCCESS"))["heavy_hitters"],
        st["heavy_hitters"]
    );
    run_ok(
        &dir,
        "bsplit",
        &["--by", "1", "-o", "b", "--stats=b.json", "in.tsv"],
    );
    let st = json_file(&dir.join("b.json"));
    check_top(&st["heavy_hitters"], &want, 20_000, "bsplit --by");
    assert_eq!(
        json_file(&dir.join("b/_SUCCESS"))["heavy_hitters"],
        st["heavy_hitters"]
    );
    // Round-robin has no key: no heavy hitters.
    run_ok(
        &dir,
        "bsplit",
        &[
            "-n",
            "3",
            "--round-robin",
            "-o",
            "r",
            "--stats=r.json",
            "in.tsv",
        ],
    );
    assert!(json_file(&dir.join("r.json"))
        .get("heavy_hitters")
        .is_none());
}

#[test]
fn bad_records_skipped_are_not_counted() {
    // A JSON line that does not parse goes to the bad-records file, not into the sketch.
    let dir = Dir::new();
    let mut data = Vec::new();
    for i in 0..300 {
        data.extend_from_slice(format!("{{\"u\":\"a\",\"i\":{i}}}\n").as_bytes());
        if i % 100 == 7 {
            data.extend_from_slice(b"{\"u\": broken\n");
        }
    }
    dir.write("in.jsonl", &data);
    run_ok(
        &dir,
        "bshuffle",
        &[
            "--format",
            "jsonl",
            "-n",
            "2",
            "-k",
            "u",
            "-o",
            "o",
            "--skip-bad",
            "--bad-records",
            "bad.jsonl",
            "--stats=st.json",
            "in.jsonl",
        ],
    );
    let st = json_file(&dir.join("st.json"));
    assert_eq!(st["bad_records"], 3, "{st}");
    let hh = &st["heavy_hitters"];
    assert_eq!(hh["top"][0]["key"], "a", "{hh}");
    assert_eq!(hh["top"][0]["records"], 300, "{hh}");
    assert_eq!(hh["records"], 300, "{hh}");
    assert_eq!(hh["top"].as_array().map(Vec::len), Some(1), "{hh}");
}
