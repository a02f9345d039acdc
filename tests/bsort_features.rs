//! bsort beyond GNU sort's flags: formats, headers, compressed inputs and runs, stats,
//! progress. Each case has an independent expectation (a plain sort of decoded values).

use std::io::Write;
use std::process::{Command, Stdio};

fn bsort(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bsort"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut input = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    input.write_all(stdin).unwrap_or_else(|e| panic!("{e}"));
    drop(input);
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn ok(args: &[&str], stdin: &[u8]) -> String {
    let out = bsort(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn csv_with_header_quotes_and_embedded_newlines() {
    let csv = b"name,price\nb,\"1,5\"\na,10\n\"c\nd\",2\n";
    assert_eq!(
        ok(&["--format", "csv", "--header", "-k", "price:n"], csv),
        "name,price\nb,\"1,5\"\n\"c\nd\",2\na,10\n"
    );
    assert_eq!(
        ok(&["--format", "csv", "--header", "-k", "name:r"], csv),
        "name,price\n\"c\nd\",2\nb,\"1,5\"\na,10\n"
    );
    // A column that does not exist is a usage error.
    let out = bsort(&["--format", "csv", "--header", "-k", "nope"], csv);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tsv_header_is_written_once_first() {
    assert_eq!(
        ok(
            &["-t", "\t", "--header", "-k", "v:n"],
            b"k\tv\nx\t10\ny\t9\n"
        ),
        "k\tv\ny\t9\nx\t10\n"
    );
}

#[test]
fn jsonl_paths_decode_strings_and_keep_number_text() {
    let j = b"{\"u\":{\"id\":3},\"x\":1}\n{\"u\":{\"id\":10},\"x\":2}\n{\"u\":{\"id\":\"2\"}}\n{\"x\":0}\n";
    assert_eq!(
        ok(&["--format", "jsonl", "-k", "u.id:n"], j),
        "{\"x\":0}\n{\"u\":{\"id\":\"2\"}}\n{\"u\":{\"id\":3},\"x\":1}\n{\"u\":{\"id\":10},\"x\":2}\n"
    );
    // Bytewise: the missing key is empty, "10" < "2" < "3".
    assert_eq!(
        ok(&["--format", "jsonl", "-k", "u.id"], j),
        "{\"x\":0}\n{\"u\":{\"id\":10},\"x\":2}\n{\"u\":{\"id\":\"2\"}}\n{\"u\":{\"id\":3},\"x\":1}\n"
    );
}

#[test]
fn compressed_inputs_by_extension() {
    let d = tempdir();
    let plain: Vec<u8> = (0..5000)
        .rev()
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into_bytes();
    let gz = d.path().join("in.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&plain).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&gz, enc.finish().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let zst = d.path().join("in.zst");
    std::fs::write(
        &zst,
        zstd::encode_all(&plain[..], 1).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let want = ok(&["-n"], &plain);
    for f in [&gz, &zst] {
        let path = f.to_string_lossy().into_owned();
        assert_eq!(ok(&["-n", &path], b""), want, "{path}");
    }
    let bad = d.path().join("bad.gz");
    std::fs::write(&bad, b"not gzip").unwrap_or_else(|e| panic!("{e}"));
    let out = bsort(&[&bad.to_string_lossy()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("bsort: "));
}

#[test]
fn compressed_runs_give_the_same_bytes() {
    let input: Vec<u8> = (0..30000u64)
        .map(|i| format!("k{}\t{}\n", i.wrapping_mul(2_654_435_761) % 1000, i))
        .collect::<String>()
        .into_bytes();
    let plain = ok(&["-t", "\t", "-k1,1", "-S", "64K"], &input);
    let packed = ok(
        &[
            "-t",
            "\t",
            "-k1,1",
            "-S",
            "64K",
            "--compress-temp",
            "--batch-size",
            "3",
        ],
        &input,
    );
    assert_eq!(plain, packed);
    let mem = ok(&["-t", "\t", "-k1,1"], &input);
    assert_eq!(plain, mem);
}

#[test]
fn stats_object_has_the_slis() {
    let input: Vec<u8> = (0..20000)
        .map(|i| format!("{}\n", (i * 7919) % 20000))
        .collect::<String>()
        .into_bytes();
    let out = bsort(&["-n", "-S", "32K", "--batch-size", "2", "--stats"], &input);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    for k in [
        "tool",
        "version",
        "elapsed_ms",
        "records_in",
        "records_out",
        "bytes_in",
        "bytes_out",
        "bad_records",
        "spill_runs",
        "spill_bytes",
        "merge_passes",
        "peak_rss_bytes",
        "threads",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(v["tool"], "bsort");
    assert_eq!(v["records_in"], 20000);
    assert_eq!(v["records_out"], 20000);
    assert_eq!(v["bytes_in"].as_u64(), Some(input.len() as u64));
    assert_eq!(v["bytes_out"].as_u64(), Some(input.len() as u64));
    assert!(v["spill_runs"].as_u64().is_some_and(|n| n > 2));
    assert!(v["merge_passes"].as_u64().is_some_and(|n| n > 1));
    // --stats=FILE
    let d = tempdir();
    let f = d.path().join("s.json");
    let arg = format!("--stats={}", f.display());
    let out = bsort(&["-n", &arg], b"2\n1\n");
    assert!(out.status.success() && out.stderr.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["records_out"], 2);
}

#[test]
fn progress_goes_to_stderr_only() {
    let input = b"b\na\nc\n";
    let out = bsort(&["--progress"], input);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"a\nb\nc\n");
}

#[test]
fn several_inputs_are_concatenated_and_unterminated_lines_end() {
    let d = tempdir();
    let a = d.path().join("a");
    let b = d.path().join("b");
    std::fs::write(&a, b"b").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&b, b"a").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok(&[&a.to_string_lossy(), "-", &b.to_string_lossy()], b"c"),
        "a\nb\nc\n"
    );
    assert_eq!(ok(&["-z"], b"b\0a"), "a\0b\0");
}

/// Issue 14 (8): a record that fits -S is sorted whatever the chunk it lands in (records of
/// 1.5 MB under -S 2M, byte for byte as GNU sort), and one that does not fit is refused with
/// a message whose budget is smaller than the record it names.
#[test]
fn records_near_the_budget_sort_or_say_so_consistently() {
    let dir = crate::util::Dir::new();
    let mut input = Vec::new();
    for d in [b'3', b'1', b'4', b'0', b'2'] {
        input.extend(std::iter::repeat_n(d, 1_500_000));
        input.push(b'\n');
    }
    dir.write("in", &input);
    let out = dir.run(crate::util::bsort(), ["-S", "2M", "in"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gnu = dir.gnu_sort(["in"], b"");
    assert!(out.stdout == gnu.stdout, "differs from GNU sort");
    let mut big = vec![b'y'; 2_200_000];
    big.push(b'\n');
    dir.write("big", &big);
    let out = dir.run(crate::util::bsort(), ["-S", "2M", "in", "big"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("big:1:"), "{err}");
    let budget: usize = err
        .split("budget of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no budget in {err}"));
    assert!(budget < 2_200_000, "{err}");
}
