//! bmap against independent oracles:
//!
//! * `--words` against awk's default field splitting (`awk '{for(i=1;i<=NF;i++) print $i
//!   "\t1"}'`, mawk or gawk in the C locale) on random text with runs of spaces and TABs,
//!   empty lines, non-ASCII bytes and a last line without newline, across read blocks;
//! * `--where`/`--emit` over JSON lines against a Python reference (the `json` module with
//!   numbers kept as their text, `Decimal` comparisons, `re.search`), malformed lines
//!   included (`--skip-bad`, `--bad-records`), and the daily totals of
//!   `bmap | breduce --hash sum:2 count` against exact `Decimal` sums;
//! * TSV/CSV fields, spans and names against Python's `csv` module;
//! * external mode against serial `tr`, `--unordered` as a multiset, failing chunks,
//!   `--retries`, a command that writes far more than it reads (peak RSS within -S), a
//!   closed output pipe (stdin still drained), SIGTERM (children killed, no files left).
//!
//! `BATCHKIT_SEED` changes the random seeds.

use crate::util::{self, escape, Dir, Rng};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bmap() -> &'static str {
    util::bin!("bmap")
}

fn breduce() -> &'static str {
    util::bin!("breduce")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

// ---------------------------------------------------------------------------------------
// --words

fn random_text(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    let words: &[&[u8]] = &[
        b"the",
        b"a",
        b"Of",
        b"and",
        b"WORD",
        b"caf\xc3\xa9",
        b"\xc3\x9f",
        b"x",
        b"it's",
        b"1.5",
        b"\xe2\x82\xac10",
        b"naive",
        b"Zebra",
        b"\x80\xff",
        b"-",
        b"--flag",
    ];
    let seps: &[&[u8]] = &[
        b" ", b" ", b" ", b"  ", b"\t", b" \t ", b"\n", b"\n\n", b"   \t\t",
    ];
    let mut out = Vec::with_capacity(bytes + 64);
    if rng.chance(1, 3) {
        out.extend_from_slice(b"  ");
    }
    while out.len() < bytes {
        out.extend_from_slice(words[rng.below(words.len())]);
        if rng.chance(1, 20) {
            // A long token, longer than some read blocks.
            out.extend(std::iter::repeat_n(b'q', rng.range(1, 3000)));
        }
        out.extend_from_slice(seps[rng.below(seps.len())]);
    }
    if rng.chance(1, 2) {
        while matches!(out.last(), Some(b' ' | b'\t' | b'\n')) {
            out.pop();
        }
    }
    out
}

fn awk_words(input: &[u8], lower: bool) -> Vec<u8> {
    let prog = if lower {
        "{for(i=1;i<=NF;i++) print tolower($i) \"\\t1\"}"
    } else {
        "{for(i=1;i<=NF;i++) print $i \"\\t1\"}"
    };
    let out = util::run("awk", [prog], input);
    assert!(out.status.success(), "awk failed: {}", text(&out.stderr));
    out.stdout
}

#[test]
fn words_equal_awk_default_splitting() {
    let mut rng = Rng::new(Rng::seed_from_env(0xb3a9));
    let dir = Dir::new();
    for (i, size) in [0usize, 1, 50, 4000, 70_000, 2_500_000]
        .into_iter()
        .enumerate()
    {
        let input = random_text(&mut rng, size);
        for lower in [false, true] {
            let want = awk_words(&input, lower);
            let mut args = vec!["--words"];
            if lower {
                args.push("--lower");
            }
            let got = dir.run(bmap(), &args, &input);
            assert!(got.status.success(), "{}", text(&got.stderr));
            if let Some(d) = util::first_difference(&want, &got.stdout, b'\n') {
                panic!(
                    "case {i} ({size} bytes, lower {lower}): bmap --words differs from awk:\n{d}"
                );
            }
            // From files, two of them (each input's last line is a line of its own), and
            // through the record path (--where) too.
            if size < 100_000 {
                dir.write("a.txt", &input);
                dir.write("b.txt", b"tail words\n");
                let mut both = input.clone();
                if !both.is_empty() && both.last() != Some(&b'\n') {
                    both.push(b'\n');
                }
                both.extend_from_slice(b"tail words\n");
                let want2 = awk_words(&both, lower);
                let mut a2 = args.clone();
                a2.extend(["a.txt", "b.txt"]);
                let got2 = dir.run(bmap(), &a2, b"");
                assert_eq!(text(&got2.stdout), text(&want2), "from files");
                let mut a3 = args.clone();
                a3.extend(["--where", "1 !~ ^$", "--where", "1 ~ ^", "a.txt", "b.txt"]);
                let got3 = dir.run(bmap(), &a3, b"");
                assert_eq!(text(&got3.stdout), text(&want2), "through --where");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// --where / --emit over JSON lines, against Python

const JSON_REFERENCE_PY: &str = r#"
import sys, json, re
from decimal import Decimal

NUM = re.compile(rb'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\Z')

class Num(str):
    pass

def bad_constant(s):
    raise ValueError('constant ' + s)

def load(line):
    v = json.loads(line.decode('utf-8'), parse_float=Num, parse_int=Num, parse_constant=bad_constant)
    if not isinstance(v, dict):
        raise ValueError('not an object')
    return v

def get(obj, path):
    v = obj
    for seg in path.split('.'):
        if isinstance(v, dict) and seg in v:
            v = v[seg]
        elif isinstance(v, list) and seg.isdigit() and int(seg) < len(v):
            v = v[int(seg)]
        else:
            return b''
    if isinstance(v, Num):
        return str(v).encode()
    if isinstance(v, str):
        return v.encode('utf-8')
    if v is True: return b'true'
    if v is False: return b'false'
    if v is None: return b'null'
    raise SystemExit('reference: containers are not emitted in these tests')

def holds(v, op, lit):
    if op == '~': return re.search(lit, v) is not None
    if op == '!~': return re.search(lit, v) is None
    if NUM.match(v) and NUM.match(lit):
        a, b = Decimal(v.decode()), Decimal(lit.decode())
    else:
        a, b = v, lit
    return {'==': a == b, '!=': a != b, '<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b}[op]

def date(v, tf):
    n = {'year': 4, 'month': 7, 'day': 10, 'hour': 13}[tf]
    if v == b'':
        return b''
    pat = {4: rb'[0-9]{4}', 7: rb'[0-9]{4}-(0[1-9]|1[0-2])', 10: rb'[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])',
           13: rb'[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3])'}[n]
    if not re.match(pat, v):
        raise ValueError('not a date')
    return v[:n]

def item(obj, it):
    if 'lit' in it:
        return it['lit'].encode()
    v = get(obj, it['path'])
    for tf in it['tf']:
        if tf == 'upper': v = v.upper()
        elif tf == 'lower': v = v.lower()
        elif tf == 'trim': v = v.strip(b' \t\n\r\x0b\x0c')
        elif tf == 'len': v = str(len(v.decode('utf-8'))).encode()
        else: v = date(v, tf)
    return v.replace(b'\t', b'\\t').replace(b'\n', b'\\n')

cfg = json.load(open(sys.argv[2]))
data = open(sys.argv[1], 'rb').read()
lines = data.split(b'\n')
if data.endswith(b'\n'):
    lines.pop()
out, bad, sums = [], [], {}
for line in lines:
    try:
        obj = load(line)
    except ValueError:
        bad.append(line + b'\n')
        continue
    if not all(holds(get(obj, p), op, lit.encode()) for p, op, lit in cfg['where']):
        continue
    try:
        vals = [item(obj, it) for it in cfg['emit']]
    except ValueError:
        bad.append(line + b'\n')
        continue
    out.append(b'\t'.join(vals) + b'\n')
    if cfg.get('sum'):
        k, a = vals[0], Decimal(vals[1].decode())
        s, c = sums.get(k, (Decimal(0), 0))
        sums[k] = (s + a, c + 1)
def fmt(d):
    s = format(d, 'f')
    return s[1:] if s.startswith('-') and d == 0 else s
totals = ''.join('%s\t%s\t%d\n' % (k.decode(), fmt(s), c) for k, (s, c) in sorted(sums.items()))
print(json.dumps({'out': b''.join(out).decode('latin-1'), 'bad': b''.join(bad).decode('latin-1'), 'totals': totals}))
"#;

fn orders(rng: &mut Rng, n: usize, bad: bool) -> Vec<u8> {
    let statuses = [
        "completed",
        "completed",
        "completed",
        "pending",
        "cancelled",
        "refunded",
    ];
    let names = [
        "alice",
        "Bob",
        "caf\\u00e9",
        "d\\\"q\\\"",
        "tab\\there",
        "nl\\nx",
        "zoë",
        "Mallory",
        " pad ",
    ];
    let mut out = Vec::new();
    for i in 0..n {
        let day = rng.range(1, 28);
        let hour = rng.range(0, 23);
        let scale = rng.below(4);
        let big = rng.chance(1, 10);
        let whole = rng.below(if big { 10_000_000 } else { 500 });
        let amount = match scale {
            0 => format!("{whole}"),
            s => format!("{whole}.{:0w$}", rng.below(10usize.pow(s as u32)), w = s),
        };
        let amount = if rng.chance(1, 15) {
            format!("-{amount}")
        } else {
            amount
        };
        let mut line = format!(
            "{{\"order_id\":{i},\"status\":\"{}\",\"created_at\":\"2024-02-{day:02}T{hour:02}:{:02}:00Z\",\"amount\":{amount},\"user\":{{\"id\":\"u{}\",\"tags\":[\"t{}\",{}]}},\"name\":\"{}\"",
            rng.pick(&statuses),
            rng.below(60),
            rng.below(40),
            rng.below(5),
            rng.below(100),
            rng.pick(&names),
        );
        if rng.chance(1, 8) {
            line.push_str(",\"note\":null,\"ok\":true");
        }
        if rng.chance(1, 12) {
            line = line.replace(
                &format!("\"created_at\":\"2024-02-{day:02}"),
                "\"created_at\":\"soon",
            );
        }
        line.push('}');
        if rng.chance(1, 10) {
            line = format!("  {line} ");
        }
        if bad && rng.chance(1, 25) {
            line = match rng.below(4) {
                0 => line[..rng.range(1, line.len() - 1)].to_string(),
                1 => line.replacen(',', ",,", 1),
                2 => format!("{line}x"),
                _ => "[1,2]".to_string(),
            };
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

struct Expected {
    out: Vec<u8>,
    bad: Vec<u8>,
    totals: Vec<u8>,
}

fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

fn json_reference(dir: &Dir, input: &str, cfg: &Value) -> Expected {
    let script = dir.write("ref.py", JSON_REFERENCE_PY);
    let cfg_path = dir.write("cfg.json", cfg.to_string());
    let out = util::run(
        "python3",
        [
            script.as_os_str(),
            dir.join(input).as_os_str(),
            cfg_path.as_os_str(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "the Python reference failed: {}",
        text(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from the reference");
    let s = |k: &str| latin1(v[k].as_str().expect("string"));
    Expected {
        out: s("out"),
        bad: s("bad"),
        totals: s("totals"),
    }
}

/// The bmap arguments and the reference config of one set of conditions and items.
fn json_case(
    wheres: &[(&str, &str, &str)],
    emit: &[(&str, &[&str])],
    lits: &[&str],
    sum: bool,
) -> (Vec<String>, Value) {
    let mut args = vec!["--from".to_string(), "jsonl".to_string()];
    for (p, op, lit) in wheres {
        args.push("--where".into());
        args.push(format!("{p} {op} '{lit}'"));
    }
    let mut items: Vec<String> = emit
        .iter()
        .map(|(p, tf)| {
            std::iter::once(*p)
                .chain(tf.iter().copied())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    items.extend(lits.iter().map(|l| format!("\"{l}\"")));
    args.push("--emit".into());
    args.push(items.join(","));
    let mut cfg_items: Vec<Value> = emit
        .iter()
        .map(|(p, tf)| json!({"path": p, "tf": tf}))
        .collect();
    cfg_items.extend(lits.iter().map(|l| json!({ "lit": l })));
    let cfg = json!({
        "where": wheres.iter().map(|(p, op, l)| json!([p, op, l])).collect::<Vec<_>>(),
        "emit": cfg_items,
        "sum": sum,
    });
    (args, cfg)
}

/// Conditions (path, op, literal), items (path, transforms) and literal items.
type JsonCase<'a> = (
    Vec<(&'a str, &'a str, &'a str)>,
    Vec<(&'a str, &'a [&'a str])>,
    Vec<&'a str>,
);

#[test]
fn where_and_emit_over_json_lines_match_python() {
    let mut rng = Rng::new(Rng::seed_from_env(0x15_0a));
    let dir = Dir::new();
    let cases: Vec<JsonCase> = vec![
        (
            vec![("status", "==", "completed")],
            vec![("created_at", &["day"][..]), ("amount", &[])],
            vec![],
        ),
        (
            vec![
                ("amount", ">=", "10.5"),
                ("amount", "<", "300"),
                ("status", "!=", "cancelled"),
            ],
            vec![
                ("user.id", &[][..]),
                ("name", &["upper"]),
                ("amount", &[]),
                ("created_at", &["hour"]),
            ],
            vec!["x,y"],
        ),
        (
            vec![
                ("name", "~", "^[a-m]"),
                ("user.id", "!~", "7$"),
                ("user.tags.1", "<=", "50"),
            ],
            vec![
                ("name", &["trim", "len"][..]),
                ("created_at", &["month"]),
                ("user.tags.0", &[]),
                ("note", &[]),
                ("missing.path", &[]),
            ],
            vec![],
        ),
        (
            vec![("amount", "==", "0"), ("ok", "==", "true")],
            vec![("created_at", &["year"][..]), ("name", &["lower"])],
            vec![],
        ),
        (
            vec![("amount", ">", "-1.5"), ("amount", "!=", "100.00")],
            vec![("amount", &[][..]), ("order_id", &[])],
            vec![],
        ),
    ];
    for (n, (wheres, emit, lits)) in cases.iter().enumerate() {
        let input = orders(&mut rng, 3000, true);
        dir.write("orders.jsonl", &input);
        let (mut args, cfg) = json_case(wheres, emit, lits, false);
        let want = json_reference(&dir, "orders.jsonl", &cfg);
        assert!(!want.bad.is_empty(), "the generator made no bad line");
        args.extend([
            "--bad-records".into(),
            "bad.jsonl".into(),
            "orders.jsonl".into(),
        ]);
        let got = dir.run(bmap(), &args, b"");
        assert!(got.status.success(), "case {n}: {}", text(&got.stderr));
        if let Some(d) = util::first_difference(&want.out, &got.stdout, b'\n') {
            panic!(
                "case {n}: bmap {} differs from Python:\n{d}",
                util::shell_words(&util::os_args(&args))
            );
        }
        assert_eq!(
            escape(&dir.read("bad.jsonl")),
            escape(&want.bad),
            "case {n}: bad records"
        );
        let count = want.bad.iter().filter(|&&c| c == b'\n').count();
        assert!(
            text(&got.stderr).contains(&format!("skipped {count} bad record")),
            "case {n}: stderr {:?}",
            text(&got.stderr)
        );
    }
}

#[test]
fn daily_revenue_totals_are_exact() {
    let mut rng = Rng::new(Rng::seed_from_env(0xda11));
    let dir = Dir::new();
    let input = orders(&mut rng, 20_000, false);
    dir.write("orders.jsonl", &input);
    let (args, cfg) = json_case(
        &[("status", "==", "completed")],
        &[("created_at", &["day"]), ("amount", &[])],
        &[],
        true,
    );
    let want = json_reference(&dir, "orders.jsonl", &cfg);
    // Bad dates are bad records: skip them here, as the reference does.
    let mut a = args.clone();
    a.extend(["--skip-bad".into(), "orders.jsonl".into()]);
    let mapped = dir.run(bmap(), &a, b"");
    assert!(mapped.status.success(), "{}", text(&mapped.stderr));
    assert_eq!(text(&mapped.stdout), text(&want.out));
    let reduced = dir.run(breduce(), ["--hash", "sum:2", "count"], &mapped.stdout);
    assert!(reduced.status.success(), "{}", text(&reduced.stderr));
    assert_eq!(text(&reduced.stdout), text(&want.totals), "daily totals");
}

#[test]
fn malformed_json_line_stops_with_file_and_line() {
    let dir = Dir::new();
    dir.write("o.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3,}\n{\"a\":4}\n");
    // Stop: FILE:LINE, status 1, no -o file.
    let r = dir.run(bmap(), ["--emit", "a", "-o", "out.tsv", "o.jsonl"], b"");
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(err.starts_with("bmap: o.jsonl:3: not valid JSON"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.exists("out.tsv"));
    // Damage after the fields asked for is still found (the line is checked whole).
    let r = dir.run(
        bmap(),
        ["--from", "jsonl", "--where", "a > 0"],
        b"{\"a\":1,\"b\":[1,2}\n",
    );
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    assert!(
        text(&r.stderr).starts_with("bmap: -:1: "),
        "{}",
        text(&r.stderr)
    );
    // Skip: the others go through; the count on stderr.
    let r = dir.run(bmap(), ["--emit", "a", "--skip-bad", "o.jsonl"], b"");
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(text(&r.stdout), "1\n2\n4\n");
    assert_eq!(text(&r.stderr), "bmap: skipped 1 bad record\n");
    // A date transform on a non-date is a bad record too.
    let r = dir.run(
        bmap(),
        ["--from", "jsonl", "--emit", "t|day"],
        b"{\"t\":\"2024-01-01\"}\n{\"t\":\"yesterday\"}\n",
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).starts_with("bmap: -:2: field t is \"yesterday\""),
        "{}",
        text(&r.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// TSV and CSV

const CSV_REFERENCE_PY: &str = r#"
import sys, csv, io, json
cfg = json.load(open(sys.argv[2]))
data = open(sys.argv[1], 'rb').read().decode('latin-1')
rows = list(csv.reader(io.StringIO(data, newline=''), delimiter=cfg['delim']))
header = rows[0]
out = ['\t'.join(cfg['items']) + '\n']
for r in rows[1:]:
    def f(i):
        return r[i] if i < len(r) else ''
    price = f(header.index('price'))
    if not (float(price) >= 10):
        continue
    vals = [f(0).upper(), cfg['delim'].join(r[1:3]), 'lit', f(header.index('price'))]
    esc = lambda v: v.replace('\t', '\\t').replace('\n', '\\n')
    # A span of TSV fields keeps its TABs: they separate output fields.
    out.append('\t'.join(v if i == 1 and cfg['delim'] == '\t' else esc(v) for i, v in enumerate(vals)) + '\n')
sys.stdout.write(json.dumps(''.join(out)))
"#;

#[test]
fn csv_and_tsv_fields_spans_and_names_match_python() {
    let mut rng = Rng::new(Rng::seed_from_env(0xc5f));
    let dir = Dir::new();
    for (fmt, delim) in [("csv", ","), ("tsv", "\t")] {
        let mut input = format!("name{delim}city{delim}note{delim}price\n");
        for _ in 0..2000 {
            let name = rng.pick(&["ann", "Bo b", "cé", "x\"y"]).to_string();
            let note = rng
                .pick(&["", "plain", "with, comma", "multi\nline", "q\"uote"])
                .to_string();
            let price = format!("{}.{}", rng.below(30), rng.below(100));
            let mut quote = |s: &str| {
                if fmt == "csv" && (s.contains([',', '"', '\n']) || rng.chance(1, 10)) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.replace(['\n', '"'], "_")
                }
            };
            let (name, note) = (quote(&name), quote(&note));
            input.push_str(&format!("{name}{delim}town{delim}{note}{delim}{price}\n"));
        }
        let file = format!("t.{fmt}");
        dir.write(&file, &input);
        let items = ["1|upper", "2-3", "\"lit\"", "price"];
        let script = dir.write("ref.py", CSV_REFERENCE_PY);
        let cfg = dir.write(
            "cfg.json",
            json!({"delim": delim, "items": items}).to_string(),
        );
        let r = util::run(
            "python3",
            [
                script.as_os_str(),
                dir.join(&file).as_os_str(),
                cfg.as_os_str(),
            ],
            b"",
        );
        assert!(r.status.success(), "{}", text(&r.stderr));
        let want = latin1(
            serde_json::from_slice::<Value>(&r.stdout)
                .expect("json")
                .as_str()
                .expect("str"),
        );
        let got = dir.run(
            bmap(),
            [
                "--header",
                "--from",
                fmt,
                "--where",
                "price >= 10",
                "--emit",
                &items.join(","),
                &file,
            ],
            b"",
        );
        assert!(got.status.success(), "{}", text(&got.stderr));
        if let Some(d) = util::first_difference(&want, &got.stdout, b'\n') {
            panic!("{fmt}: bmap differs from Python's csv module:\n{d}");
        }
    }
    // Whole records pass through unchanged, the header once.
    dir.write("h1.tsv", "k\tv\na\t5\nb\t50\n");
    dir.write("h2.tsv", "k\tv\nc\t500\n");
    let r = dir.run(
        bmap(),
        ["--header", "--where", "v > 9", "h1.tsv", "h2.tsv"],
        b"",
    );
    assert_eq!(text(&r.stdout), "k\tv\nb\t50\nc\t500\n");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["--where", "nope"][..],
        &["--where", "1 ~ ("],
        &["--emit", "1|shout"],
        &["--emit", "name"],
        &["--header", "--emit", "nosuch"],
        &["--lower"],
        &["--words", "--emit", "1"],
        &["--emit", "0"],
        &["--", "no-such-command-here"],
        &["--words", "--", "cat"],
        &["no-such-file.txt"],
    ] {
        let r = util::run(bmap(), args, b"a\tb\n");
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", text(&r.stderr));
        let e = text(&r.stderr);
        assert!(
            e.starts_with("bmap: ") && e.lines().count() == 1,
            "{args:?}: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// External mode

fn tr_upper(input: &[u8]) -> Vec<u8> {
    let r = util::run("tr", ["a-z", "A-Z"], input);
    assert!(r.status.success());
    r.stdout
}

#[test]
fn external_equals_serial_tr_byte_for_byte() {
    let mut rng = Rng::new(Rng::seed_from_env(0xe7));
    let dir = Dir::new();
    for size in [0usize, 10, 5000, 300_000] {
        let mut input = random_text(&mut rng, size);
        if size == 300_000 {
            input.truncate(input.len() - 1); // no final newline
        }
        let want = tr_upper(&input);
        for chunk in ["1b", "700b", "4K", "64K"] {
            let r = dir.run(
                bmap(),
                [
                    "-j",
                    "2",
                    "--chunk-size",
                    chunk,
                    "--",
                    "sh",
                    "-c",
                    "tr a-z A-Z",
                ],
                &input,
            );
            assert!(r.status.success(), "{}", text(&r.stderr));
            if let Some(d) = util::first_difference(&want, &r.stdout, b'\n') {
                panic!("{size} bytes, --chunk-size {chunk}: differs from tr:\n{d}");
            }
            // --unordered: the same multiset of records.
            let r = dir.run(
                bmap(),
                [
                    "-j",
                    "3",
                    "--unordered",
                    "--chunk-size",
                    chunk,
                    "--",
                    "tr",
                    "a-z",
                    "A-Z",
                ],
                &input,
            );
            assert!(r.status.success(), "{}", text(&r.stderr));
            let mut a = util::records(&want, b'\n');
            let mut b = util::records(&r.stdout, b'\n');
            a.sort();
            b.sort();
            assert!(
                a == b,
                "--unordered, {size} bytes, chunk {chunk}: not the same records"
            );
        }
    }
    // Empty input runs no command.
    let r = dir.run(bmap(), ["--", "sh", "-c", "echo ran"], b"");
    assert_eq!((r.status.code(), r.stdout.len()), (Some(0), 0));
}

#[test]
fn chunks_see_their_number_and_offset() {
    let dir = Dir::new();
    let input: Vec<u8> = (0..5000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let r = dir.run(
        bmap(),
        [
            "-j",
            "2",
            "--chunk-size",
            "2K",
            "--",
            "sh",
            "-c",
            "printf '%s\\t%s\\t' $BMAP_CHUNK $BMAP_CHUNK_OFFSET; head -n 1",
        ],
        &input,
    );
    assert!(r.status.success(), "{}", text(&r.stderr));
    let out = text(&r.stdout);
    let mut expect_seq = 0;
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[0], expect_seq.to_string(), "{out}");
        let off: usize = f[1].parse().expect("offset");
        // The chunk starts at a record boundary and its first record is the one there.
        assert!(off == 0 || input[off - 1] == b'\n');
        let first = input[off..].split(|&c| c == b'\n').next().expect("record");
        assert_eq!(f[2].as_bytes(), first);
        expect_seq += 1;
    }
    assert!(expect_seq > 5, "{out}");
}

#[test]
fn failing_chunk_stops_with_status_1_naming_it() {
    let dir = Dir::new();
    let input: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let r = dir.run(
        bmap(),
        ["-j", "2", "--chunk-size", "16K", "-o", "out", "--", "sh", "-c",
         "if [ $BMAP_CHUNK = 3 ]; then echo \"broke at $BMAP_CHUNK_OFFSET\" >&2; exit 7; fi; cat"],
        &input,
    );
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    let last = err.lines().last().unwrap_or("");
    let offset: String = err
        .split("broke at ")
        .nth(1)
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(
        last.starts_with(&format!("bmap: chunk 3 (input bytes {offset}-"))
            && last.contains("exited with status 7")
            && last.contains("broke at"),
        "{err}"
    );
    assert!(!dir.exists("out"), "partial -o output left");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "files left: {left:?}");
}

#[test]
fn retries_recover_a_command_that_fails_once_per_chunk() {
    let dir = Dir::new();
    std::fs::create_dir(dir.join("marks")).expect("mkdir");
    let mut rng = Rng::new(Rng::seed_from_env(0x7e7));
    let input = random_text(&mut rng, 100_000);
    let script = "m=marks/$BMAP_CHUNK; if [ ! -e $m ]; then : > $m; head -c 100; echo oops >&2; exit 1; fi; tr a-z A-Z";
    let r = dir.run(
        bmap(),
        [
            "-j",
            "2",
            "--chunk-size",
            "8K",
            "--retries",
            "1",
            "--stats",
            "--",
            "sh",
            "-c",
            script,
        ],
        &input,
    );
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(
        r.stdout == tr_upper(&input),
        "output differs from tr after retries"
    );
    let chunks = std::fs::read_dir(dir.join("marks")).expect("marks").count();
    assert!(chunks > 5);
    assert!(
        text(&r.stderr).contains(&format!("\"retries\":{chunks}")),
        "{}",
        text(&r.stderr)
    );
    // Without retries, the same command fails.
    std::fs::remove_dir_all(dir.join("marks")).expect("rm");
    std::fs::create_dir(dir.join("marks")).expect("mkdir");
    let r = dir.run(
        bmap(),
        ["-j", "2", "--chunk-size", "8K", "--", "sh", "-c", script],
        &input,
    );
    assert_eq!(r.status.code(), Some(1));
}

fn stats_field(stats: &[u8], key: &str) -> u64 {
    let v: Value =
        serde_json::from_slice(stats).unwrap_or_else(|e| panic!("stats {e}: {}", text(stats)));
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {}", text(stats)))
}

#[test]
fn a_command_that_writes_far_more_than_it_reads_stays_within_budget() {
    let dir = Dir::new();
    std::fs::create_dir(dir.join("tmp")).expect("mkdir");
    let input: Vec<u8> = (0..2000)
        .flat_map(|i| format!("{i:07}\n").into_bytes())
        .collect();
    // 8 chunks, each writing 6 MiB; the first one holds back, so the others must wait.
    let script = "cat >/dev/null; if [ $BMAP_CHUNK = 0 ]; then sleep 1; fi; yes $BMAP_CHUNK | head -c 6291456";
    let r = dir.run(
        bmap(),
        [
            "-j",
            "4",
            "-S",
            "4M",
            "-T",
            "tmp",
            "--chunk-size",
            "2000b",
            "-o",
            "out",
            "--stats=stats.json",
            "--",
            "sh",
            "-c",
            script,
        ],
        &input,
    );
    assert!(r.status.success(), "{}", text(&r.stderr));
    let stats = dir.read("stats.json");
    let chunks = stats_field(&stats, "chunks");
    assert_eq!(chunks, 8);
    let out = dir.read("out");
    assert_eq!(out.len() as u64, 6291456 * chunks);
    // In input order: chunk i's lines are all "i".
    let mut seen = Vec::new();
    for l in out.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        if seen.last() != Some(&l.to_vec()) {
            seen.push(l.to_vec());
        }
    }
    assert_eq!(
        seen,
        (0..chunks)
            .map(|i| i.to_string().into_bytes())
            .collect::<Vec<_>>()
    );
    assert!(
        stats_field(&stats, "spill_runs") > 0,
        "nothing spilled: {}",
        text(&stats)
    );
    let rss = stats_field(&stats, "peak_rss_bytes");
    assert!(
        rss < 40 << 20,
        "peak RSS {rss} for 48 MiB of output within -S 4M"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("tmp")).expect("tmp").count(),
        0,
        "temp files left"
    );
}

/// Write `input` to `cmd`'s stdin from a thread; returns whether all of it was accepted.
fn feed(child: &mut std::process::Child, input: Vec<u8>) -> std::thread::JoinHandle<bool> {
    let mut w = child.stdin.take().expect("stdin");
    std::thread::spawn(move || w.write_all(&input).is_ok())
}

#[test]
fn closed_output_is_quiet_and_stdin_is_drained() {
    let input: Vec<u8> = random_text(&mut Rng::new(5), 8 << 20);
    for args in [
        &["--words"][..],
        &["--where", "1 ~ a"],
        &["-j", "2", "--chunk-size", "64K", "--", "cat"],
    ] {
        let mut child = Command::new(bmap())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let writer = feed(&mut child, input.clone());
        let mut out = child.stdout.take().expect("stdout");
        let mut first = [0u8; 10];
        out.read_exact(&mut first).expect("some output");
        drop(out);
        let res = child.wait_with_output().expect("wait");
        assert_eq!(
            res.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&res.stderr)
        );
        assert!(res.stderr.is_empty(), "{args:?}: {}", text(&res.stderr));
        assert!(
            writer.join().expect("writer"),
            "{args:?}: stdin was not read to the end"
        );
    }
}

fn alive(pid: u32) -> bool {
    // A zombie is as good as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn sigterm_kills_the_commands_and_leaves_no_files() {
    let dir = Dir::new();
    std::fs::create_dir(dir.join("tmp")).expect("mkdir");
    std::fs::create_dir(dir.join("pids")).expect("mkdir");
    let script = "echo $$ > pids/$BMAP_CHUNK; cat >/dev/null; if [ $BMAP_CHUNK = 0 ]; then sleep 60; else head -c 3000000 /dev/zero; fi";
    let mut child = dir
        .command(
            bmap(),
            [
                "-j",
                "2",
                "-S",
                "1M",
                "-T",
                "tmp",
                "--chunk-size",
                "1K",
                "-o",
                "out",
                "--",
                "sh",
                "-c",
                script,
            ],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let input: Vec<u8> = (0..400)
        .flat_map(|i| format!("{i:09}\n").into_bytes())
        .collect();
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&input).expect("write");
    // Keep stdin open: bmap is still reading when the signal comes.
    let start = Instant::now();
    let spilled = || {
        std::fs::read_dir(dir.join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            > 0
    };
    while !(dir.exists("pids/0") && spilled()) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(spilled(), "nothing spilled to kill in the middle of");
    let pid0: u32 = String::from_utf8_lossy(&dir.read("pids/0"))
        .trim()
        .parse()
        .expect("pid");
    assert!(alive(pid0));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let res = child.wait_with_output().expect("wait");
    drop(stdin);
    assert_eq!(res.status.code(), Some(143), "{}", text(&res.stderr));
    let start = Instant::now();
    while alive(pid0) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid0), "the command outlived bmap");
    assert!(!dir.exists("out"));
    assert_eq!(
        std::fs::read_dir(dir.join("tmp")).expect("tmp").count(),
        0,
        "temp files left"
    );
    let staged: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("bmap"))
        .collect();
    assert!(staged.is_empty(), "staged output left: {staged:?}");
}

/// Built-in mapping on several threads writes exactly what one thread writes — records in
/// input order, the same bad records in the same order, the same first error — over
/// inputs larger than one block (blocks are cut at record boundaries).
#[test]
fn threads_do_not_change_a_byte() {
    let dir = Dir::new();
    let mut rng = Rng::new(Rng::seed_from_env(0xb3a9_7001));
    let mut jsonl = String::new();
    let mut tsv = String::new();
    for i in 0..120_000 {
        let status = ["completed", "pending", "cancelled"][rng.range(0, 2)];
        if rng.chance(1, 5000) {
            jsonl.push_str("{\"broken\":\n");
        } else {
            jsonl.push_str(&format!(
                "{{\"id\":{i},\"status\":\"{status}\",\"amount\":{}.{:02},\"at\":\"2024-0{}-1{}T10:00:00Z\"}}\n",
                rng.range(0, 999),
                rng.range(0, 99),
                1 + rng.range(0, 8),
                rng.range(0, 9)
            ));
        }
        tsv.push_str(&format!(
            "k{}\t{}\tw{} x{}\n",
            rng.range(0, 50),
            i,
            i % 7,
            i % 3
        ));
    }
    dir.write("o.jsonl", &jsonl);
    dir.write("t.tsv", &tsv);
    let cases: [&[&str]; 4] = [
        &[
            "--skip-bad",
            "--bad-records",
            "bad.txt",
            "--where",
            "status == completed",
            "--emit",
            "at|day,amount",
            "o.jsonl",
        ],
        &[
            "--where",
            "2 > 1000",
            "--emit",
            "1,3-4,'x'",
            "t.tsv",
            "t.tsv",
        ],
        &["--where", "1 ~ ^k1", "--words", "t.tsv"],
        &["--emit", "at|day", "o.jsonl"],
    ];
    for args in cases {
        let mut runs = Vec::new();
        for j in ["1", "2", "3"] {
            let mut a = vec!["-j", j];
            a.extend(args);
            let out = dir.run(bmap(), &a, b"");
            let bad = std::fs::read(dir.join("bad.txt")).unwrap_or_default();
            runs.push((j, out.status.code(), out.stdout, out.stderr, bad));
        }
        let (_, code, stdout, stderr, bad) = &runs[0];
        for (j, c, o, e, b) in &runs[1..] {
            assert_eq!(c, code, "-j {j} {args:?}: status");
            assert!(o == stdout, "-j {j} {args:?}: stdout differs from -j 1");
            assert_eq!(escape(e), escape(stderr), "-j {j} {args:?}: stderr");
            assert!(b == bad, "-j {j} {args:?}: bad records differ");
        }
    }
}
