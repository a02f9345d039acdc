//! breduce against an independent reference written in Python (exact `Decimal` and `Fraction`
//! arithmetic; quantiles by numpy's default 'linear' rule, index = (n-1)·P/100):
//!
//! * streaming mode on key-sorted random input (groups contiguous, bytewise key order), from
//!   stdin and from a file, with default, single, reversed and composite keys;
//! * `--hash` on the same records shuffled (against the reference, and byte for byte against
//!   streaming mode on the stably sorted input), also with `-S 1K` so that it spills;
//! * exact decimal sums (largest scale of the group, totals beyond 2^63), min/max printed as
//!   the input text of the chosen value, means, medians, quantiles, sample and population
//!   variance, distinct/collect/countdistinct/first/last, datamash aliases;
//! * a key going backwards in streaming mode (status 1, `FILE:LINE` and `--hash` on stderr);
//! * bad numbers (status 1, `breduce: …:LINE: …`, no `-o` file left);
//! * the Hadoop Streaming contract (no-TAB lines, `key<TAB>`, empty input).
//!
//! Cells that are not exact by the contract (means, medians, quantiles, variances) are
//! compared numerically: relative 1e-9 plus a small absolute floor scaled by the group's
//! magnitudes. A one-value group's sample variance/deviation may be empty or `nan`.
//! `BATCHKIT_SEED` changes the random seeds.

use crate::util::{self, describe_records, escape, shell_words, Dir, Failures, Rng};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::process::Output;

fn breduce() -> &'static str {
    util::bin!("breduce")
}

// ---------------------------------------------------------------------------------------
// The reference

/// The Python reference: reads a JSON list of cases `{input, keys, aggs}` (input as a
/// latin-1 string, so that bytes map one to one), writes for each case the list of output
/// rows `{key: [..], cells: [..]}` sorted by key, each cell one of
/// `{t: eq, v}`, `{t: any, v: [..]}`, `{t: num, v, rel, abs}`, `{t: nan_or_empty}`.
const REFERENCE_PY: &str = r#"
import sys, json, math, re
from decimal import Decimal, getcontext
from fractions import Fraction

getcontext().prec = 500
NUMBER = re.compile(r'-?[0-9]+(\.[0-9]+)?\Z')
ALIASES = {'countunique': 'countdistinct', 'unique': 'distinct', 'collapse': 'collect',
           'svar': 'var', 'sstdev': 'stddev'}

def records(data):
    if data == '':
        return []
    recs = data.split('\n')
    if data.endswith('\n'):
        recs.pop()
    return recs

def field(fields, i):
    return fields[i - 1] if i - 1 < len(fields) else ''

def eq(s):
    return {'t': 'eq', 'v': s}

def num(x, rel, absolute):
    return {'t': 'num', 'v': repr(float(x)), 'rel': rel, 'abs': float(absolute)}

def numbers(texts):
    out = []
    for t in texts:
        if not NUMBER.match(t):
            raise SystemExit('reference: not a plain number: %r' % t)
        out.append(Decimal(t))
    return out

def quantile(xs, p):
    # numpy 'linear': h = (n-1) p / 100, interpolate between x[floor h] and x[floor h + 1]
    n = len(xs)
    h = Fraction(n - 1) * p / 100
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    x = xs[lo] + (h - lo) * (xs[hi] - xs[lo])
    return num(x, 1e-9, 1e-12 * max(abs(xs[lo]), abs(xs[hi])))

def variance(xs, ddof):
    n = len(xs)
    if n - ddof < 1:
        return None
    m = sum(xs, Fraction(0)) / n
    return sum(((x - m) ** 2 for x in xs), Fraction(0)) / (n - ddof)

def aggregate(spec, texts):
    if spec == 'count':
        return eq(str(len(texts)))
    op, fld = spec.split(':', 1)
    op = ALIASES.get(op, op)
    if op == 'first':
        return eq(texts[0])
    if op == 'last':
        return eq(texts[-1])
    if op == 'collect':
        return eq(','.join(texts))
    if op == 'distinct':
        return eq(','.join(sorted(set(texts))))
    if op == 'countdistinct':
        return eq(str(len(set(texts))))
    ds = numbers(texts)
    fs = sorted(Fraction(d) for d in ds)
    big = max(abs(f) for f in fs)
    if op == 'sum':
        total = sum(ds, Decimal(0))
        s = format(total, 'f')
        if s.startswith('-') and total == 0:
            s = s[1:]
        return eq(s)
    if op in ('min', 'max'):
        best = min(ds) if op == 'min' else max(ds)
        texts_of_best = sorted(set(t for t, d in zip(texts, ds) if d == best))
        if len(texts_of_best) == 1:
            return eq(texts_of_best[0])
        return {'t': 'any', 'v': texts_of_best}
    if op == 'mean':
        return num(sum(fs, Fraction(0)) / len(fs), 1e-9, 1e-12 * big)
    if op == 'median':
        return quantile(fs, 50)
    if op.startswith('q'):
        return quantile(fs, Fraction(op[1:]))
    if op in ('var', 'stddev', 'pvar', 'pstdev'):
        v = variance(fs, 0 if op.startswith('p') else 1)
        if v is None:
            return {'t': 'nan_or_empty'}
        if op.endswith('var'):
            return num(v, 1e-9, 1e-12 * big * big)
        return num(math.sqrt(v), 1e-9, 1e-6 * big)
    raise SystemExit('reference: unknown aggregate %r' % spec)

def reduce(case):
    keys = case['keys'] or [1]
    groups = {}
    for line in records(case['input']):
        fields = line.split('\t')
        k = tuple(field(fields, i) for i in keys)
        groups.setdefault(k, []).append(fields)
    rows = []
    for k in sorted(groups):
        recs = groups[k]
        cells = []
        for spec in case['aggs']:
            if spec == 'count':
                texts = ['' for _ in recs]
            else:
                i = int(spec.split(':', 1)[1])
                texts = [field(f, i) for f in recs]
            cells.append(aggregate(spec, texts))
        rows.append({'key': list(k), 'cells': cells})
    return rows

with open(sys.argv[1], encoding='latin-1') as f:
    cases = json.load(f)
json.dump([reduce(c) for c in cases], sys.stdout)
"#;

/// One expected output cell.
#[derive(Clone, Debug)]
enum Cell {
    Eq(Vec<u8>),
    Any(Vec<Vec<u8>>),
    Num { v: f64, rel: f64, abs: f64 },
    NanOrEmpty,
}

impl Cell {
    fn matches(&self, actual: &[u8]) -> bool {
        match self {
            Cell::Eq(e) => e == actual,
            Cell::Any(v) => v.iter().any(|e| e == actual),
            Cell::Num { v, rel, abs } => match std::str::from_utf8(actual)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
            {
                Some(a) if v.is_finite() => a.is_finite() && (a - v).abs() <= rel * v.abs() + abs,
                Some(a) => a.to_bits() == v.to_bits() || (a.is_nan() && v.is_nan()),
                None => false,
            },
            Cell::NanOrEmpty => actual.is_empty() || actual.eq_ignore_ascii_case(b"nan"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Cell::Eq(e) => escape(e),
            Cell::Any(v) => format!(
                "one of [{}]",
                v.iter().map(|e| escape(e)).collect::<Vec<_>>().join(", ")
            ),
            Cell::Num { v, rel, abs } => format!("≈ {v:e} (± {rel:e}·|v| + {abs:e})"),
            Cell::NanOrEmpty => "\"\" or \"nan\"".to_string(),
        }
    }
}

#[derive(Clone, Debug)]
struct Row {
    key: Vec<Vec<u8>>,
    cells: Vec<Cell>,
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn unlatin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1 string from the reference"))
        .collect()
}

fn json_str(v: &Value) -> Vec<u8> {
    unlatin1(v.as_str().expect("a string in the reference's output"))
}

fn parse_cell(v: &Value) -> Cell {
    match v["t"].as_str().expect("cell type") {
        "eq" => Cell::Eq(json_str(&v["v"])),
        "any" => Cell::Any(
            v["v"]
                .as_array()
                .expect("alternatives")
                .iter()
                .map(json_str)
                .collect(),
        ),
        "num" => Cell::Num {
            v: v["v"].as_str().expect("float text").parse().expect("float"),
            rel: v["rel"].as_f64().expect("rel"),
            abs: v["abs"].as_f64().expect("abs"),
        },
        "nan_or_empty" => Cell::NanOrEmpty,
        t => panic!("unknown cell type {t:?} from the reference"),
    }
}

/// What breduce must print for each `(keys, aggs, input)`, from the Python reference
/// (run once for the whole batch, inside `dir`).
fn reference(dir: &Dir, cases: &[(&[usize], &[String], &[u8])]) -> Vec<Vec<Row>> {
    let script = dir.write("reference.py", REFERENCE_PY);
    let input: Vec<Value> = cases
        .iter()
        .map(|(keys, aggs, input)| json!({"keys": keys, "aggs": aggs, "input": latin1(input)}))
        .collect();
    // Written as latin-1 (every char < 256): one byte per char.
    let text = serde_json::to_string(&input).expect("serialise cases");
    let cases_path = dir.write("reference-cases.json", unlatin1(&text));
    let out = util::run("python3", [script.as_os_str(), cases_path.as_os_str()], b"");
    assert!(
        out.status.success(),
        "the Python reference failed (python3 is needed for these tests): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&script).expect("remove reference.py");
    std::fs::remove_file(&cases_path).expect("remove reference-cases.json");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from the reference");
    v.as_array()
        .expect("a list of results")
        .iter()
        .map(|rows| {
            rows.as_array()
                .expect("a list of rows")
                .iter()
                .map(|r| Row {
                    key: r["key"]
                        .as_array()
                        .expect("key")
                        .iter()
                        .map(json_str)
                        .collect(),
                    cells: r["cells"]
                        .as_array()
                        .expect("cells")
                        .iter()
                        .map(parse_cell)
                        .collect(),
                })
                .collect()
        })
        .collect()
}

fn describe_row(r: &Row) -> String {
    let mut parts: Vec<String> = r.key.iter().map(|k| escape(k)).collect();
    parts.extend(r.cells.iter().map(Cell::describe));
    parts.join(" | ")
}

/// Compares breduce's stdout with the expected rows: `Err` says where they first differ.
fn compare_rows(expected: &[Row], stdout: &[u8]) -> Result<(), String> {
    let mut s = String::new();
    if !stdout.is_empty() && stdout.last() != Some(&b'\n') {
        let _ = writeln!(s, "output does not end with \\n");
    }
    let lines = util::records(stdout, b'\n');
    if lines.len() != expected.len() {
        let _ = writeln!(
            s,
            "expected {} output records, got {}",
            expected.len(),
            lines.len()
        );
    }
    for (i, (e, a)) in expected.iter().zip(lines.iter()).enumerate() {
        let fields: Vec<&[u8]> = a.split(|&b| b == b'\t').collect();
        let mut what = Vec::new();
        if fields.len() != e.key.len() + e.cells.len() {
            what.push(format!(
                "{} fields, expected {} key fields + {} aggregates",
                fields.len(),
                e.key.len(),
                e.cells.len()
            ));
        } else {
            for (j, k) in e.key.iter().enumerate() {
                if fields[j] != k.as_slice() {
                    what.push(format!("key field {} differs", j + 1));
                }
            }
            for (j, c) in e.cells.iter().enumerate() {
                let a = fields[e.key.len() + j];
                if !c.matches(a) {
                    what.push(format!(
                        "column {} (aggregate #{}): expected {}, actual {}",
                        e.key.len() + j + 1,
                        j + 1,
                        c.describe(),
                        escape(a)
                    ));
                }
            }
        }
        if !what.is_empty() {
            let _ = writeln!(s, "first difference at output record {}:", i + 1);
            if i > 0 {
                let _ = writeln!(s, "  (previous, equal: {})", escape(lines[i - 1]));
            }
            let _ = writeln!(s, "  expected: {}", describe_row(e));
            let _ = writeln!(s, "  actual:   {}", escape(a));
            for w in what {
                let _ = writeln!(s, "  - {w}");
            }
            break;
        }
    }
    if lines.len() != expected.len() {
        let n = lines.len().min(expected.len());
        if let Some(e) = expected.get(n) {
            let _ = writeln!(s, "  first missing expected record: {}", describe_row(e));
        }
        if let Some(a) = lines.get(n) {
            let _ = writeln!(s, "  first extra actual record: {}", escape(a));
        }
    }
    if s.is_empty() {
        Ok(())
    } else {
        Err(s)
    }
}

/// Where two outputs that should be byte-identical first differ, column by column:
/// `names` are the output columns (key fields, then aggregates).
fn byte_difference(expected: &[u8], actual: &[u8], names: &[String]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let e = util::records(expected, b'\n');
    let a = util::records(actual, b'\n');
    let mut s = format!(
        "  expected {} records / {} bytes, actual {} records / {} bytes\n",
        e.len(),
        expected.len(),
        a.len(),
        actual.len()
    );
    let mut differing = 0;
    for (i, (x, y)) in e.iter().zip(&a).enumerate() {
        if x == y {
            continue;
        }
        differing += 1;
        if differing > 3 {
            continue;
        }
        let xf: Vec<&[u8]> = x.split(|&b| b == b'\t').collect();
        let yf: Vec<&[u8]> = y.split(|&b| b == b'\t').collect();
        let _ = writeln!(s, "  record {} differs:", i + 1);
        for j in 0..xf.len().max(yf.len()) {
            let (p, q) = (xf.get(j), yf.get(j));
            if p != q {
                let show = |f: Option<&&[u8]>| f.map_or("<none>".to_string(), |f| escape(f));
                let _ = writeln!(
                    s,
                    "    column {} ({}): expected {}, actual {}",
                    j + 1,
                    names.get(j).map_or("?", |n| n.as_str()),
                    show(p),
                    show(q)
                );
            }
        }
    }
    if differing > 3 {
        let _ = writeln!(s, "  … {} more differing records", differing - 3);
    }
    if e.len() != a.len() {
        if let Some(d) = util::first_difference(expected, actual, b'\n') {
            s.push_str(&d);
        }
    }
    Some(s)
}

/// The output columns' names: the key fields (`key1`, …), then the aggregates.
fn column_names(keys: &[usize], aggs: &[impl AsRef<str>]) -> Vec<String> {
    let nkeys = keys.len().max(1);
    (1..=nkeys)
        .map(|i| format!("key{i}"))
        .chain(aggs.iter().map(|a| a.as_ref().to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Running breduce

/// One breduce invocation: arguments, stdin, input files (created in the run's directory).
struct Run {
    label: String,
    args: Vec<OsString>,
    stdin: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
}

impl Run {
    fn new(label: impl Into<String>, args: &[String], stdin: &[u8]) -> Run {
        Run {
            label: label.into(),
            args: args.iter().map(OsString::from).collect(),
            stdin: stdin.to_vec(),
            files: Vec::new(),
        }
    }

    fn file(mut self, name: &str, bytes: &[u8]) -> Run {
        self.files.push((name.to_string(), bytes.to_vec()));
        self.args.push(name.into());
        self
    }

    /// Runs it in a fresh directory; checks that it leaves nothing behind there but the
    /// input files and `keep` (the `-o` file).
    fn run_in(&self, dir: &Dir, keep: &[&str]) -> (Output, Vec<String>) {
        dir.clear();
        for (n, b) in &self.files {
            dir.write(n, b);
        }
        let out = dir.run(breduce(), &self.args, &self.stdin);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !self.files.iter().any(|(f, _)| f == n) && !keep.contains(&n.as_str()))
            .collect();
        left.sort();
        (out, left)
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        if !self.label.is_empty() {
            let _ = writeln!(s, "case:   {}", self.label);
        }
        let _ = writeln!(s, "args:   breduce {}", shell_words(&self.args));
        if !self.stdin.is_empty() || self.files.is_empty() {
            let _ = write!(s, "stdin:  {}", describe_records(&self.stdin, b'\n', 40));
        }
        for (n, b) in &self.files {
            let _ = write!(s, "file {n}: {}", describe_records(b, b'\n', 40));
        }
        s
    }

    fn report(&self, out: &Output, problem: &str) -> String {
        format!(
            "{}status: {}\nstderr: {}\n{}",
            self.describe(),
            out.status
                .code()
                .map_or_else(|| format!("{}", out.status), |c| c.to_string()),
            escape(&out.stderr),
            problem
        )
    }

    /// Runs it and checks status 0, empty stderr, no leftovers and the expected rows.
    fn check(&self, dir: &Dir, expected: &[Row]) -> Result<Vec<u8>, String> {
        let (out, left) = self.run_in(dir, &[]);
        let mut problems = String::new();
        if out.status.code() != Some(0) {
            let _ = writeln!(problems, "expected status 0");
        }
        if !left.is_empty() {
            let _ = writeln!(problems, "files left in the working directory: {left:?}");
        }
        if let Err(e) = compare_rows(expected, &out.stdout) {
            problems.push_str(&e);
        }
        if problems.is_empty() {
            Ok(out.stdout)
        } else {
            Err(self.report(&out, &problems))
        }
    }
}

/// Runs `breduce args` on `stdin` in `dir` and requires success; returns stdout.
fn ok(dir: &Dir, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let run = Run::new(
        "",
        &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        stdin,
    );
    let (out, _) = run.run_in(dir, &[]);
    assert!(
        out.status.code() == Some(0),
        "\n{}",
        run.report(&out, "expected status 0")
    );
    out.stdout
}

/// Asserts `breduce args` on `stdin` prints exactly `expected` (status 0).
fn assert_prints(dir: &Dir, args: &[&str], stdin: &[u8], expected: &[u8]) {
    let run = Run::new(
        "",
        &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        stdin,
    );
    let (out, _) = run.run_in(dir, &[]);
    let mut problems = String::new();
    if out.status.code() != Some(0) {
        let _ = writeln!(problems, "expected status 0");
    }
    if let Some(d) = util::first_difference(expected, &out.stdout, b'\n') {
        let _ = write!(problems, "stdout differs:\n{d}");
    }
    assert!(problems.is_empty(), "\n{}", run.report(&out, &problems));
}

// ---------------------------------------------------------------------------------------
// Random inputs

/// A number as text: small integers, plain decimals with 1–4 places (trailing zeros kept),
/// huge integers (19–25 digits, beyond 2^63) and values around ±2^63 and 2^64.
fn number(rng: &mut Rng, profile: usize) -> String {
    let kind = match profile {
        0 => *rng.pick(&[0, 0, 0, 3]),
        1 => 1,
        2 => *rng.pick(&[0, 2, 2, 3]),
        _ => rng.range(0, 3),
    };
    let neg = rng.chance(1, 3);
    let mut s = match kind {
        0 => rng.range(0, 1000).to_string(),
        1 => {
            let places = rng.range(1, 4);
            let int = if rng.chance(1, 3) {
                0
            } else {
                rng.range(0, 1000)
            };
            let frac: String = (0..places)
                .map(|_| char::from(b'0' + rng.range(0, 9) as u8))
                .collect();
            format!("{int}.{frac}")
        }
        2 => {
            let digits = rng.range(19, 25);
            let mut d = String::new();
            d.push(char::from(b'1' + rng.range(0, 8) as u8));
            for _ in 1..digits {
                d.push(char::from(b'0' + rng.range(0, 9) as u8));
            }
            d
        }
        _ => rng
            .pick(&[
                "9223372036854775807",
                "9223372036854775808",
                "9223372036854775809",
                "18446744073709551615",
                "18446744073709551616",
                "0",
                "1",
            ])
            .to_string(),
    };
    // No negative zero ("-0", "-0.00"): its printing is not what these tests are about.
    if neg && s.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        s.insert(0, '-');
    }
    s
}

/// Text values for the text-only aggregates: words, numbers as text (distinct by text, so
/// "1", "1.0" and "01" are three values), spaces, UTF-8 and an invalid UTF-8 byte.
fn text(rng: &mut Rng) -> Vec<u8> {
    let pool: &[&[u8]] = &[
        b"a",
        b"b",
        b"apple",
        b"Apple",
        b"z",
        b"1",
        b"1.0",
        b"01",
        b"-1",
        b"x y",
        "\u{e9}t\u{e9}".as_bytes(),
        b"~",
        b"\xff",
    ];
    rng.pick(pool).to_vec()
}

/// A key: 0–3 characters, bytes >= 0x80 included; empty keys happen.
fn key(rng: &mut Rng) -> Vec<u8> {
    let alphabet: &[&[u8]] = &[
        b"a",
        b"b",
        b"c",
        b"A",
        b"Z",
        b"0",
        b"9",
        b" ",
        b"-",
        b"~",
        "\u{e9}".as_bytes(),
    ];
    let len = rng.range(0, 3);
    let mut k = Vec::new();
    for _ in 0..len {
        let piece: &&[u8] = rng.pick(alphabet);
        k.extend_from_slice(piece);
    }
    k
}

/// Records `k1 TAB k2 TAB number TAB text`.
fn random_records(rng: &mut Rng) -> Vec<Vec<Vec<u8>>> {
    let n = rng.range(0, 30)
        + if rng.chance(3, 4) {
            rng.range(50, 400)
        } else {
            0
        };
    let k1s: Vec<Vec<u8>> = (0..rng.range(1, 25)).map(|_| key(rng)).collect();
    let k2s: Vec<Vec<u8>> = (0..rng.range(1, 4)).map(|_| key(rng)).collect();
    let profile = rng.range(0, 3);
    (0..n)
        .map(|_| {
            vec![
                rng.pick(&k1s).clone(),
                rng.pick(&k2s).clone(),
                number(rng, profile).into_bytes(),
                text(rng),
            ]
        })
        .collect()
}

fn to_input(records: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&r.join(&b'\t'));
        out.push(b'\n');
    }
    out
}

/// The records stably sorted by the key fields (1-based, in order), bytewise.
fn sorted_by(records: &[Vec<Vec<u8>>], keys: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let keys = if keys.is_empty() { &[1][..] } else { keys };
    let mut v = records.to_vec();
    v.sort_by(|a, b| {
        let ka: Vec<&Vec<u8>> = keys.iter().map(|&k| &a[k - 1]).collect();
        let kb: Vec<&Vec<u8>> = keys.iter().map(|&k| &b[k - 1]).collect();
        ka.cmp(&kb)
    });
    v
}

const NUMERIC_OPS: &[&[&str]] = &[
    &["sum"],
    &["min"],
    &["max"],
    &["mean"],
    &["median"],
    &["q25", "q50", "q75", "q90", "q99", "q1", "q10"],
    &["var", "svar"],
    &["stddev", "sstdev"],
    &["pvar"],
    &["pstdev"],
];
const TEXT_OPS: &[&[&str]] = &[
    &["first"],
    &["last"],
    &["countdistinct", "countunique"],
    &["distinct", "unique"],
    &["collect", "collapse"],
];

/// 2–8 aggregates: numeric ones on field 3, text ones on field 4 (or field 3), `count`.
fn random_aggs(rng: &mut Rng) -> Vec<String> {
    let n = rng.range(2, 8);
    (0..n)
        .map(|_| match rng.range(0, 9) {
            0 => "count".to_string(),
            1..=5 => {
                let ops = *rng.pick(NUMERIC_OPS);
                format!("{}:3", rng.pick(ops))
            }
            _ => {
                let ops = *rng.pick(TEXT_OPS);
                let op = rng.pick(ops);
                format!("{op}:{}", if rng.chance(1, 4) { 3 } else { 4 })
            }
        })
        .collect()
}

fn random_keys(rng: &mut Rng) -> Vec<usize> {
    rng.pick(&[vec![], vec![], vec![1], vec![2], vec![1, 2], vec![2, 1]])
        .clone()
}

fn key_args(keys: &[usize]) -> Vec<String> {
    keys.iter()
        .flat_map(|k| ["-k".to_string(), k.to_string()])
        .collect()
}

struct RandomCase {
    seed: u64,
    keys: Vec<usize>,
    aggs: Vec<String>,
    records: Vec<Vec<Vec<u8>>>,
}

fn random_cases(base: u64, count: u64) -> Vec<RandomCase> {
    let base = Rng::seed_from_env(base);
    (0..count)
        .map(|i| {
            let seed = base.wrapping_add(i);
            let mut rng = Rng::new(seed);
            let keys = random_keys(&mut rng);
            let aggs = random_aggs(&mut rng);
            let records = random_records(&mut rng);
            RandomCase {
                seed,
                keys,
                aggs,
                records,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Random oracle tests

#[test]
fn streaming_matches_reference_on_sorted_input() {
    let dir = Dir::new();
    let cases = random_cases(0xb4ed_0001, 30);
    let inputs: Vec<Vec<u8>> = cases
        .iter()
        .map(|c| to_input(&sorted_by(&c.records, &c.keys)))
        .collect();
    let batch: Vec<(&[usize], &[String], &[u8])> = cases
        .iter()
        .zip(&inputs)
        .map(|(c, i)| (&c.keys[..], &c.aggs[..], &i[..]))
        .collect();
    let expected = reference(&dir, &batch);
    let mut failures = Failures::new("breduce (streaming) vs the Python reference");
    for ((c, input), exp) in cases.iter().zip(&inputs).zip(&expected) {
        let mut args = key_args(&c.keys);
        args.extend(c.aggs.iter().cloned());
        let label = format!("streaming, seed {:#x}", c.seed);
        let run = if c.seed % 2 == 0 {
            Run::new(label, &args, input)
        } else {
            Run::new(label, &args, b"").file("in.tsv", input)
        };
        failures.check(run.check(&dir, exp).map(drop));
    }
    failures.finish();
}

/// The shuffled random cases of the `--hash` tests, with their reference outputs.
fn hash_cases(dir: &Dir) -> (Vec<RandomCase>, Vec<Vec<u8>>, Vec<Vec<Row>>) {
    let cases = random_cases(0xb4ed_1001, 30);
    let inputs: Vec<Vec<u8>> = cases.iter().map(|c| to_input(&c.records)).collect();
    let batch: Vec<(&[usize], &[String], &[u8])> = cases
        .iter()
        .zip(&inputs)
        .map(|(c, i)| (&c.keys[..], &c.aggs[..], &i[..]))
        .collect();
    let expected = reference(dir, &batch);
    (cases, inputs, expected)
}

fn hash_args(c: &RandomCase, extra: &[&str]) -> Vec<String> {
    let mut args = key_args(&c.keys);
    args.push("--hash".into());
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(c.aggs.iter().cloned());
    args
}

/// `--hash` on unsorted input, and `--hash -S 1K` (which spills partial states), against
/// the reference.
#[test]
fn hash_matches_reference_with_and_without_spilling() {
    let dir = Dir::new();
    let (cases, inputs, expected) = hash_cases(&dir);
    let mut failures = Failures::new("breduce --hash vs the Python reference");
    for ((c, input), exp) in cases.iter().zip(&inputs).zip(&expected) {
        let hash = Run::new(
            format!("--hash, seed {:#x}", c.seed),
            &hash_args(c, &[]),
            input,
        );
        failures.check(hash.check(&dir, exp).map(drop));
        let spill = Run::new(
            format!("--hash -S 1K, seed {:#x}", c.seed),
            &hash_args(c, &["-S", "1K"]),
            b"",
        )
        .file("in.tsv", input);
        failures.check(spill.check(&dir, exp).map(drop));
    }
    failures.finish();
}

/// SPEC §1 Output: "the same input and options give the same bytes for any -j, -S".
/// (`-S 2K`: dozens of spill runs, one merge pass; the reference test uses `-S 1K`, which
/// takes two passes, and is slower.)
#[test]
fn hash_output_bytes_do_not_depend_on_spilling() {
    let dir = Dir::new();
    let (cases, inputs, _) = hash_cases(&dir);
    let mut failures = Failures::new("breduce --hash -S 2K vs --hash, byte for byte");
    for (c, input) in cases.iter().zip(&inputs) {
        let hash = Run::new(
            format!("--hash, seed {:#x}", c.seed),
            &hash_args(c, &[]),
            input,
        );
        let (whole, _) = hash.run_in(&dir, &[]);
        let spill = Run::new(
            format!("--hash -S 2K, seed {:#x}", c.seed),
            &hash_args(c, &["-S", "2K"]),
            b"",
        )
        .file("in.tsv", input);
        let (out, left) = spill.run_in(&dir, &[]);
        failures.check(
            if out.status.code() == Some(0) && out.stdout == whole.stdout && left.is_empty() {
                Ok(())
            } else {
                Err(spill.report(
                    &out,
                    &format!(
                        "expected status 0, no files left (left: {left:?}) and the bytes of \
                         --hash without -S (expected):\n{}",
                        byte_difference(
                            &whole.stdout,
                            &out.stdout,
                            &column_names(&c.keys, &c.aggs)
                        )
                        .unwrap_or_default()
                    ),
                ))
            },
        );
    }
    failures.finish();
}

/// Streaming mode over the records stably sorted by key prints the bytes `--hash` prints
/// for them unsorted (first/last/collect see each group's records in the same order).
#[test]
fn hash_output_equals_streaming_on_sorted_input() {
    let dir = Dir::new();
    let (cases, inputs, _) = hash_cases(&dir);
    let mut failures = Failures::new("breduce streaming (sorted input) vs --hash (unsorted)");
    for (c, input) in cases.iter().zip(&inputs) {
        let hash = Run::new(
            format!("--hash, seed {:#x}", c.seed),
            &hash_args(c, &[]),
            input,
        );
        let (whole, _) = hash.run_in(&dir, &[]);
        let sorted = to_input(&sorted_by(&c.records, &c.keys));
        let mut args = key_args(&c.keys);
        args.extend(c.aggs.iter().cloned());
        let stream = Run::new(
            format!("streaming on the sorted input, seed {:#x}", c.seed),
            &args,
            &sorted,
        );
        let (out, _) = stream.run_in(&dir, &[]);
        failures.check(
            if out.status.code() == Some(0) && out.stdout == whole.stdout {
                Ok(())
            } else {
                Err(stream.report(
                    &out,
                    &format!(
                        "expected status 0 and the bytes of --hash on the unsorted input \
                     (expected):\n{}",
                        byte_difference(
                            &whole.stdout,
                            &out.stdout,
                            &column_names(&c.keys, &c.aggs)
                        )
                        .unwrap_or_default()
                    ),
                ))
            },
        );
    }
    failures.finish();
}

#[test]
fn datamash_aliases_equal_the_canonical_names() {
    let dir = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0xb4ed_2001));
    let records = sorted_by(&random_records(&mut rng), &[1]);
    let input = to_input(&records);
    for (alias, canonical) in [
        ("countunique:4", "countdistinct:4"),
        ("unique:4", "distinct:4"),
        ("collapse:4", "collect:4"),
        ("svar:3", "var:3"),
        ("sstdev:3", "stddev:3"),
    ] {
        for mode in [&[][..], &["--hash"][..]] {
            let mut a: Vec<&str> = mode.to_vec();
            a.push(alias);
            let mut c: Vec<&str> = mode.to_vec();
            c.push(canonical);
            let (x, y) = (ok(&dir, &a, &input), ok(&dir, &c, &input));
            assert!(
                x == y,
                "breduce {a:?} and breduce {c:?} differ on\n{}{}",
                describe_records(&input, b'\n', 40),
                util::first_difference(&y, &x, b'\n').unwrap_or_default()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Exact arithmetic and the aggregates, on fixed inputs

/// Checks `args` (streaming on `input`, `--hash` on `input` reversed line by line) against
/// the reference.
fn check_fixed(dir: &Dir, label: &str, keys: &[usize], aggs: &[&str], input: &[u8]) {
    let aggs: Vec<String> = aggs.iter().map(|s| s.to_string()).collect();
    let expected = reference(dir, &[(keys, &aggs, input)]).remove(0);
    let mut args = key_args(keys);
    args.extend(aggs.iter().cloned());
    let run = Run::new(format!("{label} (streaming)"), &args, input);
    if let Err(e) = run.check(dir, &expected) {
        panic!("\n{e}");
    }
    // --hash, on the records in reverse order: each group's reference order reversed too.
    let mut recs: Vec<&[u8]> = util::records(input, b'\n');
    recs.reverse();
    let mut reversed = Vec::new();
    for r in recs {
        reversed.extend_from_slice(r);
        reversed.push(b'\n');
    }
    let expected = reference(dir, &[(keys, &aggs, &reversed)]).remove(0);
    let mut args = key_args(keys);
    args.push("--hash".into());
    args.extend(aggs.iter().cloned());
    let run = Run::new(
        format!("{label} (--hash, reversed input)"),
        &args,
        &reversed,
    );
    if let Err(e) = run.check(dir, &expected) {
        panic!("\n{e}");
    }
}

#[test]
fn decimal_sums_are_exact_with_the_largest_scale() {
    let dir = Dir::new();
    assert_prints(&dir, &["sum:2"], b"a\t0.10\na\t0.20\n", b"a\t0.30\n");
    assert_prints(
        &dir,
        &["--hash", "sum:2"],
        b"a\t0.20\na\t0.10\n",
        b"a\t0.30\n",
    );
    let thousand = b"m\t0.10\n".repeat(1000);
    assert_prints(&dir, &["sum:2"], &thousand, b"m\t100.00\n");
    assert_prints(&dir, &["--hash", "sum:2"], &thousand, b"m\t100.00\n");
    // Largest scale of the group; integers alone stay integers.
    assert_prints(
        &dir,
        &["sum:2"],
        b"a\t1\na\t0.5\na\t2.125\nb\t1.5000\nb\t1\nc\t3\nc\t-4\nd\t0.1\nd\t-0.1\n",
        b"a\t3.625\nb\t2.5000\nc\t-1\nd\t0.0\n",
    );
    // Beyond 2^63 and 2^64, and near 38 digits.
    assert_prints(
        &dir,
        &["sum:2"],
        b"a\t9223372036854775807\na\t1\n\
          b\t-9223372036854775808\nb\t-1\n\
          c\t18446744073709551615\nc\t18446744073709551615\nc\t0.01\n\
          d\t9999999999999999999999999999999999999\nd\t1\n\
          e\t99999999999999999999999999999999999.5\ne\t0.5\n",
        b"a\t9223372036854775808\n\
          b\t-9223372036854775809\n\
          c\t36893488147419103230.01\n\
          d\t10000000000000000000000000000000000000\n\
          e\t100000000000000000000000000000000000.0\n",
    );
    // 300 huge values: the total is exact.
    let mut rng = Rng::new(7);
    let mut input = Vec::new();
    for _ in 0..300 {
        input.extend_from_slice(format!("h\t{}\n", number(&mut rng, 2)).as_bytes());
    }
    check_fixed(
        &dir,
        "300 huge and small integers",
        &[],
        &["sum:2", "mean:2"],
        &input,
    );
}

#[test]
fn min_max_compare_numerically_and_print_the_input_text() {
    let dir = Dir::new();
    assert_prints(
        &dir,
        &["min:2", "max:2"],
        b"a\t1.50\na\t-3\na\t0.5\na\t10\na\t9.99\nb\t-0.001\nb\t-0.01\nb\t2\n",
        b"a\t-3\t10\nb\t-0.01\t2\n",
    );
    assert_prints(
        &dir,
        &["--hash", "max:2", "min:2"],
        b"b\t2.0\nb\t100\nb\t11\na\t7.50\na\t0.750\n",
        b"a\t7.50\t0.750\nb\t100\t2.0\n",
    );
    // Equal as 64-bit floats, not as numbers.
    assert_prints(
        &dir,
        &["min:2", "max:2"],
        b"a\t12345678901234567890123\na\t12345678901234567890124\na\t12345678901234567890122\n\
          b\t-9223372036854775809\nb\t-9223372036854775808\n",
        b"a\t12345678901234567890122\t12345678901234567890124\n\
          b\t-9223372036854775809\t-9223372036854775808\n",
    );
}

#[test]
fn means_medians_quantiles_and_variances() {
    let dir = Dir::new();
    let one_to_ten: Vec<u8> = (1..=10)
        .flat_map(|i| format!("k\t{i}\n").into_bytes())
        .collect();
    check_fixed(
        &dir,
        "1..10",
        &[],
        &[
            "mean:2", "median:2", "q25:2", "q90:2", "q50:2", "q99:2", "q1:2",
        ],
        &one_to_ten,
    );
    // numpy: percentile(1..10, 25) = 3.25, 90 → 9.1; median of an even count 5.5.
    let out = ok(&dir, &["median:2", "q25:2", "q90:2"], &one_to_ten);
    let cells: Vec<f64> = String::from_utf8_lossy(&out)
        .trim_end()
        .split('\t')
        .skip(1)
        .map(|s| s.parse().unwrap_or(f64::NAN))
        .collect();
    assert!(
        cells.len() == 3
            && (cells[0] - 5.5).abs() < 1e-12
            && (cells[1] - 3.25).abs() < 1e-12
            && (cells[2] - 9.1).abs() < 1e-12,
        "median/q25/q90 of 1..10: expected 5.5, 3.25, 9.1; got {}",
        escape(&out)
    );
    // Variances: 2 4 4 4 5 5 7 9 has population variance 4, sample 32/7.
    check_fixed(
        &dir,
        "variances",
        &[],
        &["var:2", "stddev:2", "pvar:2", "pstdev:2", "mean:2"],
        b"v\t2\nv\t4\nv\t4\nv\t4\nv\t5\nv\t5\nv\t7\nv\t9\nw\t1.5\nw\t-2.25\nw\t0.125\n",
    );
    // A one-value group: pvar 0, var empty or nan (SPEC is silent).
    check_fixed(
        &dir,
        "one-value groups",
        &[],
        &[
            "var:2", "stddev:2", "pvar:2", "pstdev:2", "median:2", "q90:2", "mean:2",
        ],
        b"a\t5\nb\t-1.25\nb\t-1.25\nc\t7\n",
    );
    // Means of exact decimals.
    check_fixed(
        &dir,
        "decimal means",
        &[],
        &["mean:2", "median:2"],
        b"a\t0.10\na\t0.20\nb\t1\nb\t2\nb\t2\nc\t9223372036854775807\nc\t9223372036854775809\n",
    );
}

/// The sample variance of 1000000000.1, .2, .3 is exactly 0.01; the textbook one-pass
/// formula in 64-bit floats (Σx² − n·mean²) loses every digit of it. Welford's or a
/// two-pass method in floats is good to ~1e-6 here; the tolerance is 1e-4 relative.
#[test]
fn variance_is_not_ruined_by_a_large_common_offset() {
    let dir = Dir::new();
    let input = b"k\t1000000000.1\nk\t1000000000.2\nk\t1000000000.3\n";
    for mode in [&[][..], &["--hash"][..]] {
        let mut args: Vec<&str> = mode.to_vec();
        args.extend(["var:2", "pvar:2", "stddev:2"]);
        let out = ok(&dir, &args, input);
        let cells: Vec<f64> = String::from_utf8_lossy(&out)
            .trim_end()
            .split('\t')
            .skip(1)
            .map(|s| s.parse().unwrap_or(f64::NAN))
            .collect();
        let want = [0.01, 0.02 / 3.0, 0.1];
        assert!(
            cells.len() == 3
                && cells
                    .iter()
                    .zip(want)
                    .all(|(a, w)| (a - w).abs() <= 1e-4 * w),
            "breduce {args:?} on {}: expected ≈ {want:?}, got {}",
            escape(input),
            escape(&out)
        );
    }
}

#[test]
fn text_aggregates_work_on_bytes_and_keep_empty_values() {
    let dir = Dir::new();
    check_fixed(
        &dir,
        "text aggregates",
        &[],
        &[
            "first:2",
            "last:2",
            "distinct:2",
            "collect:2",
            "countdistinct:2",
            "count",
            "unique:3",
            "collapse:3",
            "countunique:3",
        ],
        b"a\tb\tx\na\t1.0\t\na\t1\ty\na\tb\t\na\t01\tx\nb\t\xc3\xa9\tz\nb\t\xff\tz\nb\tZ\t\nc\tonly\tone\n",
    );
    // Exact expectations for one group, to pin the format.
    assert_prints(
        &dir,
        &[
            "distinct:2",
            "collect:2",
            "countdistinct:2",
            "first:2",
            "last:2",
        ],
        b"k\tb\nk\ta\nk\tb\nk\t10\nk\t9\n",
        b"k\t10,9,a,b\tb,a,b,10,9\t4\tb\t9\n",
    );
    // Empty values are values.
    assert_prints(
        &dir,
        &["collect:2", "distinct:2", "countdistinct:2", "first:2"],
        b"k\t\nk\tx\nk\t\n",
        b"k\t,x,\t,x\t2\t\n",
    );
}

// ---------------------------------------------------------------------------------------
// Keys

#[test]
fn composite_and_non_first_keys() {
    let dir = Dir::new();
    let input = b"a\t1\t10\na\t1\t5\na\t2\t1\nb\t1\t7\n";
    assert_prints(
        &dir,
        &["-k", "1", "-k", "2", "count", "sum:3"],
        input,
        b"a\t1\t2\t15\na\t2\t1\t1\nb\t1\t1\t7\n",
    );
    assert_prints(
        &dir,
        &["-k", "1", "-k", "2", "--hash", "count", "sum:3"],
        b"b\t1\t7\na\t2\t1\na\t1\t10\na\t1\t5\n",
        b"a\t1\t2\t15\na\t2\t1\t1\nb\t1\t1\t7\n",
    );
    assert_prints(
        &dir,
        &["-k", "2", "--hash", "count", "sum:3", "collect:1"],
        input,
        b"1\t3\t22\ta,a,b\n2\t1\t1\ta\n",
    );
    // A missing key field is an empty key.
    assert_prints(
        &dir,
        &["-k", "2", "--hash", "count"],
        b"a\nb\tx\nc\n",
        b"\t2\nx\t1\n",
    );
    assert_prints(&dir, &["-k", "2", "count"], b"a\nc\nb\tx\n", b"\t2\nx\t1\n");
    // Composite keys compare field by field: ("a", "z") < ("a\x01", "b"), although the
    // joined bytes "a\tz" > "a\x01\tb". Likewise for the default key against whole lines.
    assert_prints(
        &dir,
        &["-k", "1", "-k", "2", "count"],
        b"a\tz\t1\na\x01\tb\t2\n",
        b"a\tz\t1\na\x01\tb\t1\n",
    );
    assert_prints(
        &dir,
        &["-k", "1", "-k", "2", "--hash", "count"],
        b"a\x01\tb\t2\na\tz\t1\n",
        b"a\tz\t1\na\x01\tb\t1\n",
    );
    assert_prints(&dir, &["count"], b"a\tx\na\x01\ty\n", b"a\t1\na\x01\t1\n");
    assert_prints(
        &dir,
        &["--hash", "count"],
        b"a\x01\ty\na\tx\n",
        b"a\t1\na\x01\t1\n",
    );
    // Composite order is field by field, bytewise ("a" < "a!").
    check_fixed(
        &dir,
        "composite keys, bytewise",
        &[1, 2],
        &["count", "collect:3"],
        b"a\tz\t1\na\t\xc3\xa9\t2\na!\tb\t3\nb\t\t4\nb\ta\t5\nb\ta\t6\n",
    );
}

// ---------------------------------------------------------------------------------------
// Order errors in streaming mode

fn key_of(line: &[u8], keys: &[usize]) -> Vec<Vec<u8>> {
    let keys = if keys.is_empty() { &[1][..] } else { keys };
    let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    keys.iter()
        .map(|&k| fields.get(k - 1).map_or(Vec::new(), |f| f.to_vec()))
        .collect()
}

/// The 1-based line where the key first goes backwards, if it does.
fn first_disorder(input: &[u8], keys: &[usize]) -> Option<usize> {
    let lines = util::records(input, b'\n');
    (1..lines.len())
        .find(|&i| key_of(lines[i], keys) < key_of(lines[i - 1], keys))
        .map(|i| i + 1)
}

fn check_order_error(run: &Run, dir: &Dir, file: &str, line: usize) -> Result<(), String> {
    let (out, left) = run.run_in(dir, &[]);
    let want = format!("{file}:{line}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let good_line = stderr
        .lines()
        .any(|l| l.contains(&want) && l.contains("--hash"));
    if out.status.code() == Some(1) && good_line && left.is_empty() {
        Ok(())
    } else {
        Err(run.report(
            &out,
            &format!(
                "expected status 1 and a stderr line containing {want:?} and \"--hash\", \
                 no files left (left: {left:?})\n"
            ),
        ))
    }
}

#[test]
fn streaming_rejects_a_key_going_backwards_with_file_and_line() {
    let dir = Dir::new();
    let mut failures = Failures::new("breduce streaming order errors");
    let base = Rng::seed_from_env(0xb4ed_3001);
    for i in 0..30u64 {
        let mut rng = Rng::new(base.wrapping_add(i));
        let keys = random_keys(&mut rng);
        let aggs = random_aggs(&mut rng);
        let mut records = sorted_by(&random_records(&mut rng), &keys);
        if records.len() < 2 {
            records.push(vec![
                b"~~~~".to_vec(),
                b"~~~~".to_vec(),
                b"1".to_vec(),
                b"a".to_vec(),
            ]);
            records.insert(
                0,
                vec![b"".to_vec(), b"".to_vec(), b"1".to_vec(), b"a".to_vec()],
            );
        }
        let kk = |r: &Vec<Vec<u8>>| -> Vec<Vec<u8>> {
            let ks = if keys.is_empty() {
                vec![1]
            } else {
                keys.clone()
            };
            ks.iter().map(|&k| r[k - 1].clone()).collect()
        };
        // Take the first record out and put it back right after a record with a greater key.
        let first = kk(&records[0]);
        let bigger: Vec<usize> = (1..records.len())
            .filter(|&j| kk(&records[j]) > first)
            .collect();
        if bigger.is_empty() {
            continue; // one key only
        }
        let j = *rng.pick(&bigger);
        let r = records.remove(0);
        records.insert(j, r);
        let input = to_input(&records);
        let line = first_disorder(&input, &keys).expect("a disorder was made");
        let mut args = key_args(&keys);
        args.extend(aggs.iter().cloned());
        let label = format!("unsorted, seed {:#x}", base.wrapping_add(i));
        let run = Run::new(label.clone(), &args, b"").file("in.tsv", &input);
        failures.check(check_order_error(&run, &dir, "in.tsv", line));
        // The same input is fine with --hash.
        let mut hash_args = key_args(&keys);
        hash_args.push("--hash".into());
        hash_args.extend(aggs.iter().cloned());
        let run = Run::new(format!("{label}, --hash"), &hash_args, b"").file("in.tsv", &input);
        let (out, _) = run.run_in(&dir, &[]);
        failures.check(if out.status.code() == Some(0) {
            Ok(())
        } else {
            Err(run.report(&out, "expected status 0 with --hash\n"))
        });
    }
    failures.finish();
}

#[test]
fn order_errors_name_the_file_and_its_own_line_number() {
    let dir = Dir::new();
    let cases: &[(&[u8], &[u8], &str, usize)] = &[
        // Backwards across the file boundary: the first line of the second file.
        (b"a\t1\nm\t2\n", b"c\t3\nz\t4\n", "b.tsv", 1),
        // Inside the second file: line numbers restart per file.
        (b"a\t1\nb\t2\n", b"c\t3\nd\t4\nd\t5\nc\t6\n", "b.tsv", 4),
        // A key that comes back after another one.
        (b"a\t1\nb\t2\na\t3\n", b"", "a.tsv", 3),
    ];
    let mut failures = Failures::new("breduce order errors over several files");
    for (a, b, file, line) in cases {
        let args = vec!["count".to_string(), "sum:2".to_string()];
        let run = Run::new("two files", &args, b"")
            .file("a.tsv", a)
            .file("b.tsv", b);
        failures.check(check_order_error(&run, &dir, file, *line));
        // With -o: no output file is left behind.
        let mut o_args = vec!["-o".to_string(), "out.tsv".to_string()];
        o_args.extend(args.iter().cloned());
        let run = Run::new("two files, -o out.tsv", &o_args, b"")
            .file("a.tsv", a)
            .file("b.tsv", b);
        failures.check(check_order_error(&run, &dir, file, *line));
    }
    // Composite keys: (a,2) then (a,1) goes backwards on line 2.
    let args: Vec<String> = ["-k", "1", "-k", "2", "count"].map(String::from).to_vec();
    let run = Run::new("composite", &args, b"").file("in.tsv", b"a\t2\na\t1\n");
    failures.check(check_order_error(&run, &dir, "in.tsv", 2));
    failures.finish();
}

// ---------------------------------------------------------------------------------------
// Bad input

fn check_bad_number(run: &Run, dir: &Dir, line: usize, output: Option<&str>) -> Result<(), String> {
    let (out, left) = run.run_in(dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(":{line}:");
    let mut problems = String::new();
    if out.status.code() != Some(1) {
        let _ = writeln!(problems, "expected status 1");
    }
    if !stderr.starts_with("breduce: ") || !stderr.contains(&want) {
        let _ = writeln!(
            problems,
            "expected stderr to start with \"breduce: \" and contain {want:?}"
        );
    }
    if let Some(o) = output {
        if dir.exists(o) {
            let _ = writeln!(problems, "{o} was left behind");
        }
    }
    if !left.is_empty() {
        let _ = writeln!(problems, "files left in the working directory: {left:?}");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(run.report(&out, &problems))
    }
}

#[test]
fn a_non_number_where_a_number_is_needed_is_an_error_with_its_line() {
    let dir = Dir::new();
    let mut failures = Failures::new("breduce bad numbers");
    let inputs: &[(&[u8], usize)] = &[
        (b"a\t1\na\t12,5\nb\t3\n", 2),
        (b"a\t1\nb\t2\nc\t3\nc\tabc\n", 4),
        (b"a\t1\na\t1e\n", 2),
        (b"a\t0x10\n", 1),
    ];
    for op in [
        "sum", "min", "max", "mean", "median", "q90", "var", "stddev", "pvar", "pstdev",
    ] {
        for (input, line) in inputs {
            for mode in [&[][..], &["--hash"][..], &["--hash", "-S", "1K"][..]] {
                let mut args: Vec<String> = mode.iter().map(|s| s.to_string()).collect();
                args.push(format!("{op}:2"));
                let run = Run::new(format!("{op} on a non-number, stdin"), &args, input);
                failures.check(check_bad_number(&run, &dir, *line, None));
                let mut o_args = vec!["-o".to_string(), "out.tsv".to_string()];
                o_args.extend(args.iter().cloned());
                let run = Run::new(format!("{op} on a non-number, -o"), &o_args, b"")
                    .file("in.tsv", input);
                failures.check(check_bad_number(&run, &dir, *line, Some("out.tsv")));
            }
        }
    }
    failures.finish();
}

// ---------------------------------------------------------------------------------------
// The Hadoop Streaming contract and edge cases

#[test]
fn hadoop_streaming_lines_without_a_value() {
    let dir = Dir::new();
    for mode in [&[][..], &["--hash"][..]] {
        let with = |extra: &[&'static str]| -> Vec<&'static str> {
            let mut v: Vec<&'static str> = mode.to_vec();
            v.extend(extra);
            v
        };
        assert_prints(&dir, &with(&["count"]), b"a\na\tx\nb\n", b"a\t2\nb\t1\n");
        assert_prints(&dir, &with(&["count"]), b"a\t\na\tx\nb", b"a\t2\nb\t1\n");
        assert_prints(&dir, &with(&["count"]), b"a\na\t\nb\t\n", b"a\t2\nb\t1\n");
        // An empty key is a key.
        assert_prints(&dir, &with(&["count"]), b"\tx\n\t\na\n", b"\t2\na\t1\n");
        // Values with more TABs: field 2 is up to the next TAB.
        assert_prints(
            &dir,
            &with(&["sum:2", "count"]),
            b"a\t1\tz\na\t2\n",
            b"a\t3\t2\n",
        );
    }
}

#[test]
fn empty_input_gives_empty_output() {
    let dir = Dir::new();
    for mode in [&[][..], &["--hash"][..], &["--hash", "-S", "1K"][..]] {
        for aggs in [
            &["count"][..],
            &["sum:2", "median:2", "collect:3", "var:2"][..],
        ] {
            let mut args: Vec<&str> = mode.to_vec();
            args.extend(aggs);
            assert_prints(&dir, &args, b"", b"");
            // To a file: an empty file.
            let mut o_args = vec!["-o", "out.tsv"];
            o_args.extend(&args);
            let run = Run::new(
                "empty input, -o",
                &o_args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                b"",
            )
            .file("in.tsv", b"");
            let (out, left) = run.run_in(&dir, &["out.tsv"]);
            let file = std::fs::read(dir.join("out.tsv")).ok();
            assert!(
                out.status.code() == Some(0)
                    && file.as_deref() == Some(&b""[..])
                    && left.is_empty(),
                "\n{}",
                run.report(
                    &out,
                    &format!(
                        "expected status 0 and an empty out.tsv (got {file:?}), left: {left:?}"
                    )
                )
            );
        }
    }
}

#[test]
fn output_file_and_several_inputs() {
    let dir = Dir::new();
    // Two files are concatenated: groups continue across the boundary.
    let args: Vec<String> = ["-o", "out.tsv", "count", "sum:2", "collect:2"]
        .map(String::from)
        .to_vec();
    let run = Run::new("two files into -o", &args, b"")
        .file("a.tsv", b"a\t1\nb\t2\n")
        .file("b.tsv", b"b\t3\nc\t4.5\n");
    let (out, left) = run.run_in(&dir, &["out.tsv"]);
    let file = std::fs::read(dir.join("out.tsv")).unwrap_or_default();
    assert!(
        out.status.code() == Some(0)
            && out.stdout.is_empty()
            && file == b"a\t1\t1\t1\nb\t2\t5\t2,3\nc\t1\t4.5\t4.5\n"
            && left.is_empty(),
        "\n{}",
        run.report(
            &out,
            &format!(
                "expected out.tsv = \"a\\t1\\t1\\t1\\nb\\t2\\t5\\t2,3\\nc\\t1\\t4.5\\t4.5\\n\", \
                 got {}; left: {left:?}",
                escape(&file)
            )
        )
    );
}

/// SPEC §1 Output: the same bytes for any `-S` and `-j` (a focused version of
/// `hash_output_bytes_do_not_depend_on_spilling`, with every float aggregate).
#[test]
fn output_is_the_same_for_every_budget_and_thread_count() {
    let dir = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0xb4ed_4001));
    let mut records = Vec::new();
    while records.len() < 300 {
        records.extend(random_records(&mut rng));
    }
    let input = to_input(&records);
    let aggs = [
        "count",
        "sum:3",
        "collect:4",
        "median:3",
        "q90:3",
        "distinct:4",
        "first:4",
        "last:3",
        "mean:3",
        "var:3",
        "stddev:3",
        "pvar:3",
        "pstdev:3",
    ];
    let mut runs: Vec<(Vec<&str>, Vec<u8>)> = Vec::new();
    for extra in [
        &["--hash", "-S", "1M"][..],
        &["--hash", "-S", "1K"],
        &["--hash", "-S", "2K"],
        &["--hash", "-S", "8K"],
        &["--hash", "-S", "64K"],
        &["--hash", "-j", "1"],
        &["--hash", "-j", "2", "-S", "4K"],
        &["--hash", "-j", "3"],
        &["--hash", "-j", "3", "-S", "2K"],
    ] {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(aggs);
        let out = ok(&dir, &args, &input);
        runs.push((args, out));
    }
    let (first_args, first) = &runs[0];
    let names = column_names(&[], &aggs);
    let mut problems = String::new();
    for (args, out) in &runs[1..] {
        if let Some(d) = byte_difference(first, out, &names) {
            if problems.is_empty() {
                let _ = write!(
                    problems,
                    "breduce {} (actual) differs from breduce {} (expected):\n{d}",
                    args.join(" "),
                    first_args.join(" ")
                );
            } else {
                let _ = writeln!(problems, "breduce {} differs too", args.join(" "));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "\ninput: {}{problems}",
        describe_records(&input, b'\n', 20)
    );
}

/// Past 38 digits a total is an error (status 1, `breduce: `), never a wrong total; an exact
/// total is fine too.
#[test]
fn sums_beyond_38_digits_are_exact_or_an_error() {
    let dir = Dir::new();
    let nines = "9".repeat(38);
    let input = format!("k\t{nines}\nk\t{nines}\nk\t1\n");
    let exact = format!("k\t1{}\n", "9".repeat(38)); // 2·(10^38 − 1) + 1
    for mode in [&[][..], &["--hash"][..]] {
        let mut args: Vec<&str> = mode.to_vec();
        args.push("sum:2");
        let run = Run::new(
            "39-digit total",
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            input.as_bytes(),
        );
        let (out, _) = run.run_in(&dir, &[]);
        let exact_ok = out.status.code() == Some(0) && out.stdout == exact.as_bytes();
        let error_ok = out.status.code() == Some(1)
            && out.stderr.starts_with(b"breduce: ")
            && !out.stdout.starts_with(b"k\t");
        assert!(
            exact_ok || error_ok,
            "\n{}",
            run.report(
                &out,
                &format!(
                    "expected {} or status 1 with an error",
                    escape(exact.as_bytes())
                )
            )
        );
    }
}

/// Fields by name with `--header`: the same groups and values as by number, after one
/// header record naming the key and the aggregates (`count`, `sum_amount`).
#[test]
fn fields_by_name_with_header() {
    let dir = Dir::new();
    let body = b"b\t1\ta\na\t2.5\tb\na\t3\tc\n";
    for mode in [&[][..], &["--hash"][..]] {
        let mut by_name: Vec<&str> = mode.to_vec();
        by_name.extend([
            "--header",
            "-k",
            "region",
            "count",
            "sum:amount",
            "collect:note",
        ]);
        let mut by_number: Vec<&str> = mode.to_vec();
        by_number.extend(["count", "sum:2", "collect:3"]);
        let sorted_body: &[u8] = if mode.is_empty() {
            b"a\t2.5\tb\na\t3\tc\nb\t1\ta\n"
        } else {
            body
        };
        let mut named_input = b"region\tamount\tnote\n".to_vec();
        named_input.extend_from_slice(sorted_body);
        let named = ok(&dir, &by_name, &named_input);
        let numbered = ok(&dir, &by_number, sorted_body);
        let lines = util::records(&named, b'\n');
        let header: Vec<&[u8]> = lines
            .first()
            .map_or(Vec::new(), |h| h.split(|&b| b == b'\t').collect());
        let after_header = named
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| &named[i + 1..]);
        let body_ok = after_header == Some(&numbered[..]);
        assert!(
            header.len() == 4
                && header[1] == b"count"
                && header[2] == b"sum_amount"
                && body_ok
                && numbered == b"a\t2\t5.5\tb,c\nb\t1\t1\ta\n",
            "breduce {by_name:?} on {}: expected a header (key, count, sum_amount, …) then \
             \"a\\t2\\t5.5\\tb,c\\nb\\t1\\t1\\ta\\n\"; got {} (by number: {})",
            escape(&named_input),
            escape(&named),
            escape(&numbered)
        );
    }
}

// ---------------------------------------------------------------------------------------
// --partial / --merge, and bad records

/// The random cases with only combinable aggregates (median and quantiles have no partial
/// form), and their reference outputs.
fn combinable_cases(dir: &Dir, base: u64) -> (Vec<RandomCase>, Vec<Vec<u8>>, Vec<Vec<Row>>) {
    let mut cases = random_cases(base, 24);
    for c in &mut cases {
        c.aggs
            .retain(|a| !a.starts_with("median") && !a.starts_with('q'));
        if c.aggs.is_empty() {
            c.aggs.push("count".into());
        }
    }
    let inputs: Vec<Vec<u8>> = cases.iter().map(|c| to_input(&c.records)).collect();
    let batch: Vec<(&[usize], &[String], &[u8])> = cases
        .iter()
        .zip(&inputs)
        .map(|(c, i)| (&c.keys[..], &c.aggs[..], &i[..]))
        .collect();
    let expected = reference(dir, &batch);
    (cases, inputs, expected)
}

/// Cut `input` into `n` chunks at line boundaries chosen by `rng`.
fn chunks(input: &[u8], n: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let lines: Vec<&[u8]> = input.split_inclusive(|&c| c == b'\n').collect();
    let mut cuts: Vec<usize> = (0..n - 1).map(|_| rng.range(0, lines.len())).collect();
    cuts.push(0);
    cuts.push(lines.len());
    cuts.sort_unstable();
    cuts.windows(2)
        .map(|w| lines[w[0]..w[1]].concat())
        .collect()
}

/// `breduce --partial A` over chunks of the input (as mappers would), the partial lines
/// concatenated, then `breduce --merge A`: equal to the reference of `breduce A`, for
/// hash and streaming merges, with and without spilling.
#[test]
fn partial_then_merge_equals_direct() {
    let dir = Dir::new();
    let (cases, inputs, expected) = combinable_cases(&dir, 0xb4ed_2001);
    let mut failures = Failures::new("breduce --partial | breduce --merge vs the reference");
    for ((c, input), exp) in cases.iter().zip(&inputs).zip(&expected) {
        let mut rng = Rng::new(c.seed);
        let mut partials = Vec::new();
        for chunk in chunks(input, rng.range(1, 4), &mut rng) {
            partials.extend(ok(
                &dir,
                &hash_args(c, &["--partial"])
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                &chunk,
            ));
        }
        for extra in [&["--merge"][..], &["--merge", "-S", "1K"][..]] {
            let merge = Run::new(
                format!("--hash {extra:?} of chunks' partials, seed {:#x}", c.seed),
                &hash_args(c, extra),
                &partials,
            );
            failures.check(merge.check(&dir, exp).map(drop));
        }
        // Streaming both ways over sorted input.
        let sorted = to_input(&sorted_by(&c.records, &c.keys));
        let mut args = key_args(&c.keys);
        args.push("--partial".into());
        args.extend(c.aggs.iter().cloned());
        let partial = ok(
            &dir,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            &sorted,
        );
        let mut args = key_args(&c.keys);
        args.push("--merge".into());
        args.extend(c.aggs.iter().cloned());
        let merge = Run::new(
            format!("streaming --partial | --merge, seed {:#x}", c.seed),
            &args,
            &partial,
        );
        failures.check(merge.check(&dir, exp).map(drop));
    }
    failures.finish();
}

/// Values and keys holding TABs, commas, newlines and backslashes (CSV quoted fields)
/// survive partial states: `--partial | --merge` prints what the direct run prints.
#[test]
fn partial_states_survive_tabs_commas_and_newlines() {
    let dir = Dir::new();
    let input: &[u8] = b"\"k\tey\",\"a,b\"\n\"k\tey\",\"c\\d\"\n\"x\ny\",\"line\none\"\n\"x\ny\",\"\"\n\"x\ny\",\"a,b\"\nz,\"=\"\n";
    let aggs = [
        "count",
        "collect:2",
        "distinct:2",
        "countdistinct:2",
        "first:2",
        "last:2",
    ];
    for mode in [&[][..], &["--hash"][..]] {
        let mut direct: Vec<&str> = vec!["--format", "csv"];
        direct.extend(mode);
        direct.extend(aggs);
        let want = ok(&dir, &direct, input);
        assert!(want.windows(3).any(|w| w == b"a,b"), "{}", escape(&want));
        let mut partial = direct.clone();
        partial.insert(2, "--partial");
        let lines = ok(&dir, &partial, input);
        assert_eq!(
            lines.iter().filter(|&&c| c == b'\n').count(),
            3,
            "one partial line per group: {}",
            escape(&lines)
        );
        let mut merge = direct.clone();
        merge.insert(2, "--merge");
        assert_prints(&dir, &merge, &lines, &want);
    }
}

#[test]
fn median_and_quantiles_cannot_be_partial() {
    let dir = Dir::new();
    for flag in ["--partial", "--merge"] {
        for agg in ["median:2", "q90:2"] {
            let out = dir.run(breduce(), [flag, "count", agg], b"a\t1\n");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.code() == Some(2) && err.starts_with("breduce: ") && err.contains(agg),
                "{flag} {agg}: status {:?}, stderr {err}",
                out.status.code()
            );
        }
    }
}

/// A partial line that is not one (wrong column count, a bad state) stops --merge with
/// FILE:LINE, or is skipped with --skip-bad.
#[test]
fn merge_rejects_malformed_partial_lines() {
    let dir = Dir::new();
    for (input, line) in [
        (&b"a\t1\t2\nb\t3\n"[..], 2),
        (&b"a\t1\t2\nb\tx\t2\n"[..], 2),
        (&b"a\t1\t2\nb\t1\t2\nc\t-1\t2\n"[..], 3),
    ] {
        for mode in [&[][..], &["--hash"][..]] {
            let mut args: Vec<String> = mode.iter().map(|s| s.to_string()).collect();
            args.extend(["--merge", "count", "sum:2"].map(String::from));
            let run = Run::new("malformed partial line", &args, input);
            check_bad_number(&run, &dir, line, None).unwrap_or_else(|e| panic!("{e}"));
            args.insert(0, "--skip-bad".into());
            let out = dir.run(breduce(), &args, input);
            assert_eq!(out.status.code(), Some(0), "{}", escape(&out.stderr));
            assert!(escape(&out.stderr).contains("skipped 1 bad record"));
            assert!(!out.stdout.is_empty());
        }
    }
}

/// `--skip-bad` leaves out exactly the bad records (equal to the reference over the good
/// ones), reports their count, and `--bad-records FILE` holds them untouched.
#[test]
fn skip_bad_equals_the_reference_without_the_bad_records() {
    let dir = Dir::new();
    let (cases, _, _) = combinable_cases(&dir, 0xb4ed_3001);
    let mut goods = Vec::new();
    let mut bads = Vec::new();
    let mut mixed = Vec::new();
    for c in &cases {
        let mut rng = Rng::new(c.seed ^ 0xbad);
        let (mut good, mut bad, mut all) = (Vec::new(), Vec::new(), Vec::new());
        for r in sorted_by(&c.records, &c.keys) {
            let line = to_input(std::slice::from_ref(&r));
            if rng.chance(1, 6) {
                // The same key with a value that is not a number in field 3.
                let mut b = r.clone();
                if b.len() < 3 {
                    b.resize(3, Vec::new());
                }
                b[2] = b"12,5".to_vec();
                let bl = to_input(&[b]);
                bad.extend_from_slice(&bl);
                all.extend_from_slice(&bl);
            }
            good.extend_from_slice(&line);
            all.extend_from_slice(&line);
        }
        goods.push(good);
        bads.push(bad);
        mixed.push(all);
    }
    let batch: Vec<(&[usize], &[String], &[u8])> = cases
        .iter()
        .zip(&goods)
        .map(|(c, i)| (&c.keys[..], &c.aggs[..], &i[..]))
        .collect();
    let expected = reference(&dir, &batch);
    let mut failures = Failures::new("breduce --skip-bad vs the reference over good records");
    for (((c, all), bad), exp) in cases.iter().zip(&mixed).zip(&bads).zip(&expected) {
        let numeric = c.aggs.iter().any(|a| {
            a.ends_with(":3")
                && ![
                    "first", "last", "count", "distinct", "unique", "collect", "collapse",
                ]
                .iter()
                .any(|t| a.starts_with(t))
        });
        let nbad = bad.iter().filter(|&&b| b == b'\n').count();
        for mode in [&[][..], &["--hash"][..], &["--hash", "-S", "1K"][..]] {
            let mut args = key_args(&c.keys);
            args.extend(mode.iter().map(|s| s.to_string()));
            args.extend(["--skip-bad", "--bad-records", "bad.tsv"].map(String::from));
            args.extend(c.aggs.iter().cloned());
            let run = Run::new(
                format!("--skip-bad {mode:?}, seed {:#x}", c.seed),
                &args,
                all,
            );
            let (out, _) = run.run_in(&dir, &["bad.tsv"]);
            let mut problems = String::new();
            if !numeric {
                // Nothing needs a number: nothing is bad.
                if dir.read("bad.tsv") != b"" {
                    problems.push_str("bad.tsv should be empty\n");
                }
            } else {
                if dir.read("bad.tsv") != *bad {
                    let _ = writeln!(
                        problems,
                        "bad.tsv differs from the bad records: {}",
                        escape(&dir.read("bad.tsv"))
                    );
                }
                if nbad > 0
                    && !String::from_utf8_lossy(&out.stderr)
                        .contains(&format!("skipped {nbad} bad record"))
                {
                    problems.push_str("stderr should report the count\n");
                }
                if let Err(e) = compare_rows(exp, &out.stdout) {
                    problems.push_str(&e);
                }
            }
            if out.status.code() != Some(0) {
                problems.push_str("expected status 0\n");
            }
            if !problems.is_empty() {
                failures.check(Err(run.report(&out, &problems)));
            }
        }
    }
    failures.finish();
}

// ---------------------------------------------------------------------------------------
// Directory inputs: bshuffle/bsplit outputs read through their _SUCCESS manifests

fn sorted_lines(b: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = b
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    v.sort();
    v
}

/// `breduce A DIR` over a `bshuffle -n N -o DIR` output streams part after part (keys never
/// cross parts), and equals `breduce --hash A` over the input as a multiset of lines;
/// partial states from `bshuffle --combine` need --merge; a bsplit --hash output (unsorted
/// parts) needs --hash; a directory without _SUCCESS is refused.
#[test]
fn directory_inputs_follow_their_manifest() {
    let dir = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0xb4ed_4001));
    let mut input = Vec::new();
    for _ in 0..3000 {
        let k = if rng.chance(2, 3) {
            rng.range(0, 6)
        } else {
            rng.range(0, 500)
        };
        input.extend_from_slice(
            format!("k{k}\t{}.{}\n", rng.range(0, 99), rng.range(0, 9)).as_bytes(),
        );
    }
    dir.write("in.tsv", &input);
    let tool = |bin: &str, args: &[&str]| -> Output { dir.run(util::bin_path(bin), args, b"") };
    let want = sorted_lines(&tool("breduce", &["--hash", "sum:2", "count", "in.tsv"]).stdout);
    assert!(want.len() > 100);
    for (label, make, reduce, ok) in [
        (
            "bshuffle -o",
            &["-n", "3", "-o", "d"][..],
            &["sum:2", "count", "d"][..],
            true,
        ),
        (
            "bshuffle -S 1K",
            &["-n", "4", "-S", "1K", "-o", "d"][..],
            &["sum:2", "count", "d"][..],
            true,
        ),
        (
            "bshuffle, --hash",
            &["-n", "2", "-o", "d"][..],
            &["--hash", "sum:2", "count", "d"][..],
            true,
        ),
        (
            "bshuffle --combine, --merge",
            &[
                "-n",
                "3",
                "-o",
                "d",
                "--combine",
                "sum:2",
                "--combine",
                "count",
            ][..],
            &["--merge", "sum:2", "count", "d"][..],
            true,
        ),
        (
            "bshuffle --combine, no --merge",
            &[
                "-n",
                "3",
                "-o",
                "d",
                "--combine",
                "sum:2",
                "--combine",
                "count",
            ][..],
            &["sum:2", "count", "d"][..],
            false,
        ),
        (
            "bshuffle --combine, other aggregates",
            &["-n", "3", "-o", "d", "--combine", "sum:2"][..],
            &["--merge", "sum:2", "count", "d"][..],
            false,
        ),
        (
            "bshuffle -k 2",
            &["-n", "3", "-k", "2", "-o", "d"][..],
            &["sum:2", "count", "d"][..],
            false,
        ),
    ] {
        let _ = std::fs::remove_dir_all(dir.join("d"));
        let mut args = make.to_vec();
        args.push("in.tsv");
        assert!(tool("bshuffle", &args).status.success(), "{label}");
        let out = tool("breduce", reduce);
        if ok {
            assert!(out.status.success(), "{label}: {}", escape(&out.stderr));
            assert_eq!(sorted_lines(&out.stdout), want, "{label}");
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.code() == Some(2) && err.starts_with("breduce: d: "),
                "{label}: {err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir.join("d"));
    assert!(tool("bsplit", &["--hash", "-n", "3", "-o", "d", "in.tsv"])
        .status
        .success());
    let out = tool("breduce", &["sum:2", "count", "d"]);
    assert_eq!(out.status.code(), Some(2), "{}", escape(&out.stderr));
    let out = tool("breduce", &["--hash", "sum:2", "count", "d"]);
    assert_eq!(sorted_lines(&out.stdout), want);
    std::fs::remove_file(dir.join("d/_SUCCESS")).unwrap_or_else(|e| panic!("{e}"));
    let out = tool("breduce", &["--hash", "sum:2", "count", "d"]);
    assert!(out.status.code() == Some(2) && escape(&out.stderr).contains("_SUCCESS"));
}

/// --hash on several threads reads files in blocks: a file without a final newline ends its
/// last record there, records are numbered per file in errors, and -j does not change a
/// byte (nor which bad record is reported: the first in input order).
#[test]
fn hash_threads_keep_files_lines_and_first_errors() {
    let dir = Dir::new();
    dir.write("a.tsv", b"k\t1\nj\t2\nk\t3");
    dir.write("b.tsv", b"k\t4\nz\t5\n");
    for j in ["1", "2", "3"] {
        let out = dir.run(
            breduce(),
            ["--hash", "-j", j, "sum:2", "count", "a.tsv", "b.tsv"],
            b"",
        );
        assert_eq!(out.stdout, b"j\t2\t1\nk\t8\t3\nz\t5\t1\n", "-j {j}");
    }
    // Bad values in both files: the first in input order is reported, whatever -j.
    dir.write("c.tsv", b"a\t1\nb\t2\nc\tx\n");
    dir.write("d.tsv", b"d\ty\n");
    for j in ["1", "2", "3"] {
        for (files, want) in [
            (&["c.tsv", "d.tsv"][..], "c.tsv:3:"),
            (&["d.tsv", "c.tsv"][..], "d.tsv:1:"),
        ] {
            let mut args = vec!["--hash", "-j", j, "sum:2"];
            args.extend(files);
            let out = dir.run(breduce(), &args, b"");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.code() == Some(1) && err.contains(want),
                "-j {j} {files:?}: {err}"
            );
        }
    }
}

/// The block readers (streaming and --hash, on one or several threads) against the general
/// path, with blocks as small as a few bytes (BATCHKIT_BLOCK_BYTES) so that records are cut
/// across reads and groups span many blocks: the same stdout, stderr and status, also for
/// unsorted input (the same first error).
#[test]
fn block_readers_equal_the_general_path_for_any_block_size_and_threads() {
    let dir = Dir::new();
    let mut failures = Failures::new("breduce block readers vs -j 1 with default blocks");
    for c in random_cases(0xb4ed_5001, 16) {
        let sorted = to_input(&sorted_by(&c.records, &c.keys));
        let unsorted = to_input(&c.records);
        dir.write("sorted.tsv", &sorted);
        dir.write("unsorted.tsv", &unsorted);
        for (mode, file) in [
            (&[][..], "sorted.tsv"),
            (&[][..], "unsorted.tsv"),
            (&["--hash"][..], "unsorted.tsv"),
        ] {
            let mut base: Vec<String> = key_args(&c.keys);
            base.extend(mode.iter().map(|s| s.to_string()));
            base.extend(c.aggs.iter().cloned());
            base.push(file.to_string());
            let run = |j: &str, block: Option<&str>| {
                let mut args = vec!["-j".to_string(), j.to_string()];
                args.extend(base.iter().cloned());
                let mut cmd = dir.command(breduce(), &args);
                if let Some(b) = block {
                    cmd.env("BATCHKIT_BLOCK_BYTES", b);
                }
                util::run_cmd(cmd, b"")
            };
            let want = run("1", None);
            for (j, block) in [
                ("1", "7"),
                ("2", "7"),
                ("2", "64"),
                ("3", "200"),
                ("2", "4096"),
            ] {
                let got = run(j, Some(block));
                if got.stdout != want.stdout
                    || got.stderr != want.stderr
                    || got.status.code() != want.status.code()
                {
                    failures.check(Err(format!(
                        "seed {:#x}: breduce -j {j} {} with BATCHKIT_BLOCK_BYTES={block} differs from -j 1:\nstatus {:?} vs {:?}\nstderr {} vs {}\n{}",
                        c.seed,
                        base.join(" "),
                        got.status.code(),
                        want.status.code(),
                        escape(&got.stderr),
                        escape(&want.stderr),
                        util::first_difference(&want.stdout, &got.stdout, b'\n').unwrap_or_default()
                    )));
                }
            }
        }
    }
    failures.finish();
}

/// Float sums are exactly rounded: each group's sum equals Python's `math.fsum` of its
/// values (as doubles), and mean is that sum over the count; on adversarial values
/// (`1e16 1 -1e16`, alternating huge signs, subnormals, huge and tiny mixed, inf, -inf,
/// nan, plain decimals mixed with exponents), with the same bytes for `-j 1/2/3`, tiny and
/// large `-S`, blocks of a few bytes, `--partial | --merge` and `bshuffle --combine |
/// breduce --merge` (partial states carry the exact accumulator).
#[test]
fn float_sums_equal_math_fsum_for_any_threads_budget_and_blocks() {
    let dir = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0xf5_0001));
    let pools: [&[&str]; 7] = [
        &["1e16", "1", "-1e16"],
        &["1e17", "-1e17", "0.001", "1e17", "-1e17", "3"],
        &["1e100", "-1e100", "1e-100", "0.1", "-0.1", "7e99"],
        &[
            "5e-324",
            "-5e-324",
            "2.2250738585072014e-308",
            "1e-310",
            "4.9e-324",
        ],
        &[
            "1e300", "1e-300", "-1e300", "1.5", "2.5e-16", "1e22", "-1e22",
        ],
        &["inf", "1", "2.5e3"],
        &["-inf", "nan", "1e5"],
    ];
    let mut input = Vec::new();
    for _ in 0..3000 {
        let g = rng.below(40);
        let pool = pools[g % pools.len()];
        let v = *rng.pick(pool);
        input.extend_from_slice(format!("g{g}\t{v}\n").as_bytes());
    }
    // Adversarial whole groups: alternating signs in order, the classic cancellation.
    for i in 0..200 {
        let v = if i % 2 == 0 { "1e20" } else { "-1e20" };
        input.extend_from_slice(format!("alt\t{v}\nalt\t0.3\n").as_bytes());
    }
    input.extend_from_slice(b"both\tinf\nboth\t-inf\nclassic\t1e16\nclassic\t1\nclassic\t-1e16\n");
    let data = dir.write("floats.tsv", &input);
    let script = r#"
import sys, math, collections
groups = collections.OrderedDict()
for line in open(sys.argv[1], encoding='latin-1'):
    k, v = line.rstrip('\n').split('\t')
    groups.setdefault(k, []).append(float(v))
for k in sorted(groups, key=lambda s: s.encode('latin-1')):
    vals = groups[k]
    try:
        s = math.fsum(vals)
    except ValueError:
        s = float('nan')  # -inf + inf
    print('%s\t%r\t%r' % (k, s, s / len(vals)))
"#;
    let py = dir.write("fsum.py", script);
    let out = util::run("python3", [py.as_os_str(), data.as_os_str()], b"");
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = String::from_utf8_lossy(&out.stdout).into_owned();
    let bits = |s: &str| -> u64 {
        let f: f64 = s.parse().unwrap_or_else(|_| panic!("not a float: {s}"));
        if f.is_nan() {
            u64::MAX
        } else {
            f.to_bits()
        }
    };
    let check = |label: &str, got: &[u8]| {
        let got = String::from_utf8_lossy(got);
        let (g, e): (Vec<&str>, Vec<&str>) = (got.lines().collect(), expected.lines().collect());
        assert_eq!(g.len(), e.len(), "{label}: {got}");
        for (gl, el) in g.iter().zip(&e) {
            let gc: Vec<&str> = gl.split('\t').collect();
            let ec: Vec<&str> = el.split('\t').collect();
            assert_eq!(gc.len(), 3, "{label}: {gl}");
            assert_eq!(gc[0], ec[0], "{label}");
            assert_eq!(
                bits(gc[1]),
                bits(ec[1]),
                "{label}: sum of {}: {} vs fsum {}",
                gc[0],
                gc[1],
                ec[1]
            );
            assert_eq!(
                bits(gc[2]),
                bits(ec[2]),
                "{label}: mean of {}: {} vs {}",
                gc[0],
                gc[2],
                ec[2]
            );
        }
    };
    let mut first: Option<Vec<u8>> = None;
    for j in ["1", "2", "3"] {
        for s in ["1K", "1G"] {
            for block in [None, Some("7")] {
                let mut cmd = dir.command(
                    breduce(),
                    ["--hash", "-j", j, "-S", s, "sum:2", "mean:2", "floats.tsv"],
                );
                if let Some(b) = block {
                    cmd.env("BATCHKIT_BLOCK_BYTES", b);
                }
                let out = util::run_cmd(cmd, b"");
                let label = format!("-j {j} -S {s} block {block:?}");
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{label}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                check(&label, &out.stdout);
                match &first {
                    None => first = Some(out.stdout),
                    Some(f) => assert_eq!(f, &out.stdout, "{label}: bytes differ"),
                }
            }
        }
    }
    let first = first.unwrap_or_default();
    // Streaming on sorted input, --partial -S 1K | --merge, bshuffle --combine.
    let sorted = util::gnu_sort(["-t", "\t", "-k1,1", "-s"], &input);
    let streamed = ok(&dir, &["sum:2", "mean:2"], &sorted.stdout);
    assert_eq!(streamed, first, "streaming");
    // Partial lines carry a float sum's exact accumulator and an exact decimal sum as its
    // decimal: with the fractions spelled as floats (the same doubles, so the same fsum),
    // every group is a float sum, and merging partial states is exact too.
    let mut floats_only = String::from_utf8_lossy(&input).into_owned();
    for (d, f) in [
        ("\t0.001\n", "\t1e-3\n"),
        ("\t0.1\n", "\t1e-1\n"),
        ("\t-0.1\n", "\t-1e-1\n"),
        ("\t1.5\n", "\t15e-1\n"),
        ("\t0.3\n", "\t3e-1\n"),
    ] {
        floats_only = floats_only.replace(d, f);
    }
    let input = floats_only.into_bytes();
    let whole_partial = ok(
        &dir,
        &["--hash", "--partial", "-S", "1K", "sum:2", "mean:2"],
        &input,
    );
    let merged = ok(
        &dir,
        &["--hash", "--merge", "sum:2", "mean:2"],
        &whole_partial,
    );
    assert_eq!(merged, first, "--partial -S 1K | --merge");
    let combined = util::run(
        util::bin!("bshuffle"),
        ["-S", "2K", "--combine", "sum:2", "--combine", "mean:2"],
        &input,
    );
    assert_eq!(
        combined.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&combined.stderr)
    );
    let merged = ok(&dir, &["--merge", "sum:2", "mean:2"], &combined.stdout);
    let mut a = sorted_lines(&merged);
    let mut b = sorted_lines(&first);
    a.sort();
    b.sort();
    assert_eq!(a, b, "bshuffle --combine | breduce --merge");
}

/// Issue 14 (3): plain decimals are summed exactly at any scale up to 38 digits (checked
/// against Python's `decimal` at 60 digits of precision), and a plain decimal beyond 38
/// digits stops breduce with a message saying so — never a float, never "not a number".
#[test]
fn long_decimals_are_exact_or_refused_by_name() {
    let dir = Dir::new();
    let values = [
        "1.0000000000000000000000000000001",
        "1",
        "0.0000000000000000000000000000000000001", // 37 places: 38 digits in all
        "-0.3333333333333333333333333333333333",
        "-2.5",
    ];
    let mut input = String::new();
    for v in values {
        input.push_str(&format!("k\t{v}\n"));
    }
    let py = format!(
        "import decimal\ndecimal.getcontext().prec = 60\nv = {values:?}\n\
         s = sum(decimal.Decimal(x) for x in v)\n\
         print(s.quantize(decimal.Decimal(1).scaleb(-max(-decimal.Decimal(x).as_tuple().exponent for x in v))))"
    );
    let want = util::run("python3", ["-c", py.as_str()], b"");
    assert!(
        want.status.success(),
        "{}",
        String::from_utf8_lossy(&want.stderr)
    );
    let want = format!("k\t{}", String::from_utf8_lossy(&want.stdout));
    for mode in [
        &["sum:2"][..],
        &["--hash", "sum:2"][..],
        &["--hash", "-j", "2", "sum:2"][..],
    ] {
        let out = dir.run(util::bin!("breduce"), mode, input.as_bytes());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{mode:?}");
    }
    let forty = "1".repeat(40);
    let out = dir.run(
        util::bin!("breduce"),
        ["sum:2"],
        format!("k\t1\nk\t{forty}\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-:2:") && err.contains("more than 38 significant digits"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// Issue 14 (8): a malformed aggregate is named as such (`q101:2` is not "no aggregate
/// given"), and a file given without an aggregate is named as a file.
#[test]
fn malformed_aggregates_are_named() {
    let dir = Dir::new();
    dir.write("data.tsv", "a\t1\n");
    for (args, says) in [
        (&["q101:2"][..], "'q101:2' is not an aggregate"),
        (&["summ", "data.tsv"][..], "'summ' is not an aggregate"),
        (&["data.tsv"][..], "no aggregate before the file 'data.tsv'"),
    ] {
        let out = dir.run(util::bin!("breduce"), args, b"a\t1\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Issue 14: a key too large for `--hash` to spill within `-S` is refused at its line, with
/// `-S` in the message and how much would do, on every path (block readers at -j 1/2/3, the
/// general path for CSV); the same input at that `-S` succeeds.
#[test]
fn hash_record_too_large_to_spill_names_its_line() {
    let dir = Dir::new();
    let big = "k".repeat(1 << 20);
    dir.write("in.tsv", format!("a\t1\n{big}\t2\nb\t3\n"));
    dir.write("in.csv", format!("a,1\n{big},2\nb,3\n"));
    for (file, extra) in [("in.tsv", None), ("in.csv", Some("--format=csv"))] {
        for j in ["1", "2", "3"] {
            let mut args = vec!["--hash", "-j", j, "-S", "2M", "count"];
            args.extend(extra);
            args.push(file);
            let r = dir.run(breduce(), &args, b"");
            let err = String::from_utf8_lossy(&r.stderr);
            assert_eq!(r.status.code(), Some(1), "{args:?}: {err}");
            assert!(r.stdout.is_empty(), "{args:?}");
            let want = format!("breduce: {file}:2: a record of ");
            assert!(err.starts_with(&want), "{args:?}: {err}");
            assert!(
                err.contains("memory budget of 2097152 bytes"),
                "{args:?}: {err}"
            );
            let enough = err
                .trim_end()
                .rsplit("at least ")
                .next()
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| panic!("no suggestion: {err}"))
                .to_string();
            let at = args.iter().position(|a| *a == "2M").unwrap_or(4);
            args[at] = &enough;
            let r = dir.run(breduce(), &args, b"");
            assert_eq!(
                r.status.code(),
                Some(0),
                "{args:?}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            // The output is TSV whatever the input's format.
            let want = format!("a\t1\nb\t1\n{big}\t1\n");
            assert!(r.stdout == want.as_bytes(), "{args:?}: wrong output");
        }
    }
}
