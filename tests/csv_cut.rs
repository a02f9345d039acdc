//! Issue 14 (1): every place that cuts input by bytes keeps CSV records whole — a newline
//! inside a quoted field is data. bsplit `-n` parts and bmap's chunks are checked with
//! Python's `csv` module: each piece parses into whole rows, the rows of the pieces are the
//! rows of the input, and the manifest counts records, not lines.

use crate::util::{self, Dir, Rng};
use serde_json::Value;

/// CSV with quoted fields full of newlines (one far longer than a chunk), quotes escaped
/// by doubling, and an unquoted field here and there.
fn quoted_csv(rng: &mut Rng, rows: usize) -> Vec<u8> {
    let mut out = b"key,value\n".to_vec();
    for i in 0..rows {
        let v = match rng.range(0, 10) {
            0..=3 => format!("\"{}\"", "line\n".repeat(rng.range(0, 40))),
            4 => "\"say \"\"hi\"\"\nthere\"".to_string(),
            5 if i == rows / 2 => format!("\"{}\"", "\n".repeat(70_000)),
            _ => format!("{i}"),
        };
        out.extend_from_slice(format!("k{i},{v}\n").as_bytes());
    }
    out
}

const ROWS_PY: &str = r#"
import csv, json, sys
out = []
for path in sys.argv[1:]:
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    out.append(rows)
print(json.dumps(out))
"#;

/// The rows of each file, as Python's csv module reads them.
fn python_rows(dir: &Dir, files: &[std::path::PathBuf]) -> Vec<Vec<Vec<String>>> {
    let script = dir.write("rows.py", ROWS_PY);
    let mut args = vec![script.into_os_string()];
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    let out = util::run("python3", args, b"");
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn bsplit_chunks_keep_quoted_newlines_inside_their_record() {
    let dir = Dir::new();
    let mut rng = Rng::new(14);
    let input = quoted_csv(&mut rng, 3000);
    let src = dir.write("q.csv", &input);
    let want = python_rows(&dir, std::slice::from_ref(&src)).remove(0);
    for n in [2usize, 3, 7, 40] {
        let out_dir = dir.join(format!("p{n}"));
        let ns = n.to_string();
        let o = util::run(
            util::bin!("bsplit"),
            [
                "--format",
                "csv",
                "--header",
                "-n",
                &ns,
                "-o",
                out_dir.to_str().unwrap_or_default(),
                src.to_str().unwrap_or_default(),
            ],
            b"",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("_SUCCESS")).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = manifest["parts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(names.len(), n);
        let files: Vec<_> = names.iter().map(|p| out_dir.join(p)).collect();
        let parts = python_rows(&dir, &files);
        let mut rows = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(
                part.first(),
                want.first(),
                "n {n} part {i} starts with the header"
            );
            for r in part {
                assert_eq!(r.len(), 2, "n {n} part {i}: a record cut in two: {r:?}");
            }
            rows.extend(part.iter().skip(usize::from(i > 0)).cloned());
        }
        assert_eq!(rows, want, "n {n}: the parts' rows are the input's");
        let counted: u64 = manifest["parts"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["records"].as_u64()).sum())
            .unwrap_or_default();
        assert_eq!(counted, want.len() as u64, "n {n}: records, not lines");
    }
}

#[test]
fn bmap_chunks_keep_quoted_newlines_inside_their_record() {
    let dir = Dir::new();
    let mut rng = Rng::new(15);
    let input = quoted_csv(&mut rng, 2000);
    let src = dir.write("q.csv", &input);
    let want = python_rows(&dir, std::slice::from_ref(&src)).remove(0);
    // Each chunk's command checks its rows and writes them back one per line as JSON.
    let check = dir.write(
        "check.py",
        "import csv, json, sys\nfor r in csv.reader(sys.stdin):\n    print(json.dumps(r))\n",
    );
    for j in ["1", "3"] {
        let o = util::run(
            util::bin!("bmap"),
            [
                "--format",
                "csv",
                "--chunk-size",
                "16",
                "-j",
                j,
                src.to_str().unwrap_or_default(),
                "--",
                "python3",
                check.to_str().unwrap_or_default(),
            ],
            b"",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rows: Vec<Vec<String>> = o
            .stdout
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(rows, want, "-j {j}: the chunks' rows are the input's");
    }
}
