//! A float sum stays exactly rounded (Python's `math.fsum` of every value's double) when a
//! group's decimal values and float values land in different partial states: blocks of a
//! few bytes on -j 1/2/3, tiny -S, `--partial | --merge`, `bshuffle --combine | --merge`.
//! (A decimal-only partial once stood for its values by its total's double: bshuffle
//! --combine -j 3 gave 3300.5 here, sometimes.)

use crate::util::{command, run_cmd};

/// 3000 × 1.1 with 1e16, -1e16 and 0.5 among them.
fn input() -> Vec<u8> {
    let mut vals = vec!["1.1"; 3000];
    vals.insert(1000, "1e16");
    vals.insert(2000, "-1e16");
    vals.push("0.5");
    vals.iter()
        .flat_map(|v| format!("m\t{v}\n").into_bytes())
        .collect()
}

/// Oracle: `s = math.fsum(map(float, vals))`, `s / len(vals)`.
const WANT: &[u8] = b"m\t3300.5000000000005\t1.0990675990675993\n";

fn run(bin: &str, args: &[&str], block: Option<&str>, stdin: &[u8]) -> Vec<u8> {
    let mut cmd = command(crate::util::bin_path(bin), args);
    if let Some(b) = block {
        cmd.env("BATCHKIT_BLOCK_BYTES", b);
    }
    let out = run_cmd(cmd, stdin);
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn float_sums_equal_math_fsum_across_decimal_and_float_partials() {
    let input = input();
    for (j, block, s) in [
        ("1", None, "1G"),
        ("2", Some("64"), "1K"),
        ("3", Some("64"), "1K"),
        ("3", Some("64"), "1G"),
        ("3", Some("1000"), "1G"),
        ("2", None, "1K"),
    ] {
        let what = format!("-j {j} -S {s} block {block:?}");
        let comb = run(
            "bshuffle",
            &[
                "-j",
                j,
                "-S",
                s,
                "--combine",
                "sum:2",
                "--combine",
                "mean:2",
            ],
            block,
            &input,
        );
        let got = run("breduce", &["--merge", "sum:2", "mean:2"], None, &comb);
        assert_eq!(got, WANT, "bshuffle --combine {what}");
        let hash = ["--hash", "-j", j, "-S", s, "sum:2", "mean:2"];
        assert_eq!(run("breduce", &hash, block, &input), WANT, "breduce {what}");
        let mut partial = hash.to_vec();
        partial.push("--partial");
        let p = run("breduce", &partial, block, &input);
        let merge = ["--hash", "--merge", "-j", j, "-S", s, "sum:2", "mean:2"];
        assert_eq!(run("breduce", &merge, block, &p), WANT, "--partial {what}");
    }
}
