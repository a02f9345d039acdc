//! Shared test harness (owned by the oracle tests' author; see bsort_oracle.rs).
//!
//! Small and ripgrep-style:
//!
//! * [`Dir`]: a temporary directory with helpers to write and read files and to run a
//!   binary inside it (cwd = the directory, `LC_ALL=C`, `TMPDIR` = the directory);
//! * [`run`] / [`Dir::run`]: run a binary with arguments and bytes on stdin;
//! * [`gnu_sort`] / [`Dir::gnu_sort`]: run GNU `sort` as `sort` through `PATH=/usr/bin:/bin`
//!   with `LC_ALL=C`, so that its diagnostics start with `sort: `;
//! * [`Case`], [`Dir::run_case`], [`check_outputs`] and the [`assert_outputs_eq!`] macro:
//!   compare two runs (stdout bytes, exit status, optionally stderr with the program-name
//!   prefix normalised) and, on mismatch, print the input (escaped, one record a line),
//!   the arguments (shell-quoted) and the first differing record of both outputs;
//! * [`bin!`] / [`bsort`] / [`bin_path`]: locate batchkit binaries;
//! * [`Rng`]: a deterministic SplitMix64 generator for random inputs.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

// ---------------------------------------------------------------------------------------
// Binaries

/// The path of a batchkit binary built by Cargo for this test crate, at compile time:
/// `bin!("bsort")` is `env!("CARGO_BIN_EXE_bsort")`. Use it for binaries that exist;
/// a binary that is not a `[[bin]]` of the root package is a compile error.
macro_rules! bin {
    ($name:literal) => {
        env!(concat!("CARGO_BIN_EXE_", $name))
    };
}
#[allow(unused_imports)]
pub(crate) use bin;

/// `target/<profile>/bsort`.
pub fn bsort() -> &'static str {
    bin!("bsort")
}

/// A batchkit binary located at run time, beside this test executable's `deps/` directory
/// (`target/<profile>/NAME`). For tools that may not be built yet: check `.exists()`.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test exe has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// The GNU sort used as the oracle (invoked as `sort` through this PATH).
pub const GNU_SORT: &str = "/usr/bin/sort";
const GNU_PATH: &str = "/usr/bin:/bin";

/// Is GNU coreutils sort available? (Tests that need it may skip when it is not.)
pub fn have_gnu_sort() -> bool {
    Path::new(GNU_SORT).exists()
}

// ---------------------------------------------------------------------------------------
// Running

/// Converts anything string-like into the `OsString` arguments of a command.
pub fn os_args<I, S>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect()
}

/// Runs `cmd` with `stdin` on its standard input (written from a thread, so that large
/// inputs and outputs cannot deadlock) and collects its output.
pub fn run_cmd(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The child may exit without reading everything (usage errors): ignore EPIPE.
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for child");
    let _ = writer.join();
    out
}

/// A command for `bin` with `LC_ALL=C`.
pub fn command<I, S>(bin: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("LC_ALL", "C")
        .env_remove("POSIXLY_CORRECT");
    cmd
}

/// Runs `bin args` with `stdin`, `LC_ALL=C`, in the current directory.
pub fn run<I, S>(bin: impl AsRef<OsStr>, args: I, stdin: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(command(bin, args), stdin)
}

/// A command running GNU sort as `sort` (found through `PATH=/usr/bin:/bin`, so its
/// messages start with `sort: `), with `LC_ALL=C`.
pub fn gnu_sort_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = command("sort", args);
    cmd.env("PATH", GNU_PATH);
    cmd
}

/// Runs GNU `LC_ALL=C sort args` with `stdin`, in the current directory.
pub fn gnu_sort<I, S>(args: I, stdin: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(gnu_sort_command(args), stdin)
}

// ---------------------------------------------------------------------------------------
// Temporary directories

/// A temporary directory, removed on drop.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Default for Dir {
    fn default() -> Self {
        Self::new()
    }
}

impl Dir {
    pub fn new() -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix("batchkit-test-")
            .tempdir()
            .expect("create temporary directory");
        Dir { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path().join(name)
    }

    /// Writes `bytes` to `name` (relative to the directory; parent directories are
    /// created) and returns its full path.
    pub fn write(&self, name: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    pub fn read(&self, name: impl AsRef<Path>) -> Vec<u8> {
        let path = self.join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn exists(&self, name: impl AsRef<Path>) -> bool {
        self.join(name).exists()
    }

    /// Removes every entry in the directory (to reuse it between cases).
    pub fn clear(&self) {
        for entry in std::fs::read_dir(self.path()).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }

    /// A command for `bin` run inside this directory, with `LC_ALL=C` and `TMPDIR` set to
    /// the directory (spills stay here).
    pub fn command<I, S>(&self, bin: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = command(bin, args);
        cmd.current_dir(self.path()).env("TMPDIR", self.path());
        cmd
    }

    pub fn run<I, S>(&self, bin: impl AsRef<OsStr>, args: I, stdin: &[u8]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_cmd(self.command(bin, args), stdin)
    }

    /// GNU `LC_ALL=C sort args`, invoked as `sort`, inside this directory.
    pub fn gnu_sort<I, S>(&self, args: I, stdin: &[u8]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = gnu_sort_command(args);
        cmd.current_dir(self.path()).env("TMPDIR", self.path());
        run_cmd(cmd, stdin)
    }

    /// Writes the case's files, then runs `bin` with the case's arguments and stdin.
    pub fn run_case(&self, bin: impl AsRef<OsStr>, case: &Case) -> Output {
        case.write_files(self);
        self.run(bin, &case.args, &case.stdin)
    }

    /// Writes the case's files, then runs GNU sort with the case's GNU arguments.
    pub fn gnu_sort_case(&self, case: &Case) -> Output {
        case.write_files(self);
        self.gnu_sort(case.gnu_args(), &case.stdin)
    }
}

// ---------------------------------------------------------------------------------------
// Cases and comparison

/// One invocation: arguments (for the tool under test and, when they must differ, for
/// the oracle), stdin, input files to create (relative names, as they appear in `args`),
/// and the record terminator used to split outputs for the report.
#[derive(Clone, Debug, Default)]
pub struct Case {
    pub args: Vec<OsString>,
    pub oracle_args: Option<Vec<OsString>>,
    pub stdin: Vec<u8>,
    pub files: Vec<(String, Vec<u8>)>,
    pub eol: Option<u8>,
    /// A free-form label (generator seed, category) printed in reports.
    pub label: String,
}

impl Case {
    pub fn new<I, S>(args: I, stdin: impl Into<Vec<u8>>) -> Case
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Case {
            args: os_args(args),
            stdin: stdin.into(),
            ..Case::default()
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Case {
        self.label = label.into();
        self
    }

    pub fn oracle_args<I, S>(mut self, args: I) -> Case
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.oracle_args = Some(os_args(args));
        self
    }

    pub fn file(mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Case {
        self.files.push((name.into(), bytes.into()));
        self
    }

    pub fn eol(&self) -> u8 {
        self.eol.unwrap_or_else(|| {
            if self
                .args
                .iter()
                .any(|a| a == "-z" || a == "--zero-terminated")
            {
                0
            } else {
                b'\n'
            }
        })
    }

    pub fn gnu_args(&self) -> &[OsString] {
        self.oracle_args.as_deref().unwrap_or(&self.args)
    }

    pub fn write_files(&self, dir: &Dir) {
        for (name, bytes) in &self.files {
            dir.write(name, bytes);
        }
    }

    /// Writes the case (stdin as `stdin`, its files, `args` NUL-separated, `oracle_args`)
    /// under `$BATCHKIT_DUMP/<label>/` when that variable is set, to rerun it by hand:
    /// `cd DIR && xargs -0 -a args bsort < stdin`.
    pub fn dump_if_requested(&self) {
        let Some(root) = std::env::var_os("BATCHKIT_DUMP") else {
            return;
        };
        let name: String = self
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = PathBuf::from(root).join(if name.is_empty() { "case".into() } else { name });
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("stdin"), &self.stdin);
        for (n, b) in &self.files {
            let _ = std::fs::write(dir.join(n), b);
        }
        let nul_join = |a: &[OsString]| -> Vec<u8> {
            a.iter()
                .flat_map(|x| x.as_bytes().iter().copied().chain([0]))
                .collect()
        };
        let _ = std::fs::write(dir.join("args"), nul_join(&self.args));
        let _ = std::fs::write(dir.join("oracle_args"), nul_join(self.gnu_args()));
    }

    /// The case for humans: label, arguments, stdin and files, each record escaped.
    pub fn describe(&self) -> String {
        let eol = self.eol();
        let mut s = String::new();
        if !self.label.is_empty() {
            let _ = writeln!(s, "case:   {}", self.label);
        }
        let _ = writeln!(s, "args:   {}", shell_words(&self.args));
        if let Some(o) = self.oracle_args.as_ref().filter(|o| **o != self.args) {
            let _ = writeln!(s, "oracle: {}", shell_words(o));
        }
        if !self.stdin.is_empty() || self.files.is_empty() {
            let _ = write!(s, "stdin:  {}", describe_records(&self.stdin, eol, 60));
        }
        for (name, bytes) in &self.files {
            let _ = write!(
                s,
                "file {}: {}",
                shell_quote(OsStr::new(name)),
                describe_records(bytes, eol, 60)
            );
        }
        s
    }
}

/// What [`check_outputs`] compares.
#[derive(Clone, Copy, Debug)]
pub struct Compare {
    pub stdout: bool,
    pub status: bool,
    /// Compare stderr after [`normalize_stderr`].
    pub stderr: bool,
}

impl Compare {
    pub const ALL: Compare = Compare {
        stdout: true,
        status: true,
        stderr: true,
    };
    pub const OUT_STATUS: Compare = Compare {
        stdout: true,
        status: true,
        stderr: false,
    };
    pub const STATUS: Compare = Compare {
        stdout: false,
        status: true,
        stderr: false,
    };
}

/// Replaces a leading program name (`sort: `, `/usr/bin/sort: `, `bsort: `, any
/// `…/bsort: `; likewise for the other batchkit tools) on every stderr line by `PROG: `,
/// and `Try 'sort --help'` by `Try 'PROG --help'`.
pub fn normalize_stderr(stderr: &[u8]) -> Vec<u8> {
    const NAMES: &[&str] = &[
        "sort", "bsort", "bsplit", "bmap", "bshuffle", "breduce", "bjoin", "join",
    ];
    let mut out = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        let mut rest = line;
        if let Some(colon) = find(line, b": ") {
            let prog = &line[..colon];
            let base = prog.rsplit(|&b| b == b'/').next().unwrap_or(prog);
            if NAMES.iter().any(|n| n.as_bytes() == base) {
                out.extend_from_slice(b"PROG");
                rest = &line[colon..];
            }
        }
        for n in NAMES {
            let pat = format!("Try '{n} --help'");
            if let Some(i) = find(rest, pat.as_bytes()) {
                let mut v = rest[..i].to_vec();
                v.extend_from_slice(b"Try 'PROG --help'");
                v.extend_from_slice(&rest[i + pat.len()..]);
                out.extend_from_slice(&v);
                rest = &[];
                break;
            }
        }
        out.extend_from_slice(rest);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits `bytes` into records ending in `eol` (the last may lack it).
pub fn records(bytes: &[u8], eol: u8) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = bytes.split(|&b| b == eol).collect();
    if bytes.is_empty() || bytes.last() == Some(&eol) {
        v.pop();
    }
    v
}

/// `"…"` with `\n \t \r \0 \\ \"` and `\xNN` escapes for everything outside printable ASCII.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0 => s.push_str("\\0"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// One escaped record a line, numbered from 1, at most `max` of them; notes a missing
/// final terminator.
pub fn describe_records(bytes: &[u8], eol: u8, max: usize) -> String {
    let recs = records(bytes, eol);
    let mut s = format!(
        "{} bytes, {} records{}\n",
        bytes.len(),
        recs.len(),
        if !bytes.is_empty() && bytes.last() != Some(&eol) {
            ", last without terminator"
        } else {
            ""
        }
    );
    for (i, r) in recs.iter().enumerate().take(max) {
        let _ = writeln!(s, "  {:>4}: {}", i + 1, escape(r));
    }
    if recs.len() > max {
        let _ = writeln!(s, "  … {} more", recs.len() - max);
    }
    s
}

/// A shell-quoted argument (`$'…'` when it holds control or non-ASCII bytes).
pub fn shell_quote(arg: &OsStr) -> String {
    let b = arg.as_bytes();
    if !b.is_empty()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"-_=.,:/+%@".contains(&c))
    {
        return String::from_utf8_lossy(b).into_owned();
    }
    if b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'\'') {
        return format!("'{}'", String::from_utf8_lossy(b));
    }
    let mut s = String::from("$'");
    for &c in b {
        match c {
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\'' => s.push_str("\\'"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('\'');
    s
}

pub fn shell_words(args: &[OsString]) -> String {
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_str(s: &ExitStatus) -> String {
    match s.code() {
        Some(c) => c.to_string(),
        None => format!("{s}"),
    }
}

/// Where two outputs first differ, record by record: `None` when equal.
pub fn first_difference(expected: &[u8], actual: &[u8], eol: u8) -> Option<String> {
    if expected == actual {
        return None;
    }
    let e = records(expected, eol);
    let a = records(actual, eol);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  expected {} bytes / {} records, actual {} bytes / {} records",
        expected.len(),
        e.len(),
        actual.len(),
        a.len()
    );
    let i = e.iter().zip(a.iter()).take_while(|(x, y)| x == y).count();
    if i < e.len() || i < a.len() {
        let _ = writeln!(s, "  first difference at record {}:", i + 1);
        if i > 0 {
            let _ = writeln!(s, "    (previous, equal: {})", escape(e[i - 1]));
        }
        let show = |v: &[&[u8]], j: usize| v.get(j).map_or("<none>".to_string(), |r| escape(r));
        let _ = writeln!(s, "    expected: {}", show(&e, i));
        let _ = writeln!(s, "    actual:   {}", show(&a, i));
        for k in 1..=2 {
            if i + k < e.len().max(a.len()) {
                let _ = writeln!(
                    s,
                    "    then expected {} / actual {}",
                    show(&e, i + k),
                    show(&a, i + k)
                );
            }
        }
    } else {
        // Same records; only the final terminator differs.
        let _ = writeln!(
            s,
            "  same records; outputs end {} (expected) vs {} (actual)",
            escape(&expected[expected.len().saturating_sub(8)..]),
            escape(&actual[actual.len().saturating_sub(8)..])
        );
    }
    Some(s)
}

/// Compares the oracle's output with the tool's; `Err` is a readable report.
pub fn check_outputs(
    case: &Case,
    expected: &Output,
    actual: &Output,
    what: Compare,
) -> Result<(), String> {
    let eol = case.eol();
    let mut problems = String::new();
    if what.status && expected.status.code() != actual.status.code() {
        let _ = writeln!(
            problems,
            "exit status: expected {}, actual {}",
            status_str(&expected.status),
            status_str(&actual.status)
        );
    }
    if what.stdout {
        if let Some(d) = first_difference(&expected.stdout, &actual.stdout, eol) {
            let _ = write!(problems, "stdout differs:\n{d}");
        }
    }
    if what.stderr {
        let (e, a) = (
            normalize_stderr(&expected.stderr),
            normalize_stderr(&actual.stderr),
        );
        if e != a {
            let _ = writeln!(
                problems,
                "stderr differs (normalised):\n    expected: {}\n    actual:   {}",
                escape(&e),
                escape(&a)
            );
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    case.dump_if_requested();
    let mut s = String::new();
    let _ = write!(s, "{}{}", case.describe(), problems);
    if !what.stderr && (!expected.stderr.is_empty() || !actual.stderr.is_empty()) {
        let _ = writeln!(
            s,
            "stderr: expected {}, actual {}",
            escape(&expected.stderr),
            escape(&actual.stderr)
        );
    }
    Err(s)
}

/// `assert_outputs_eq!(case, expected_output, actual_output [, Compare])`: panics with the
/// input, the arguments and the first differing record when the outputs differ.
macro_rules! assert_outputs_eq {
    ($case:expr, $expected:expr, $actual:expr) => {
        $crate::util::assert_outputs_eq!($case, $expected, $actual, $crate::util::Compare::ALL)
    };
    ($case:expr, $expected:expr, $actual:expr, $what:expr) => {
        if let Err(report) = $crate::util::check_outputs(&$case, &$expected, &$actual, $what) {
            panic!("\n{}", report);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use assert_outputs_eq;

/// Collects mismatch reports over a loop of cases and panics at the end with a count,
/// the first few reports in full, and the seed.
#[derive(Default)]
pub struct Failures {
    name: String,
    reports: Vec<String>,
    cases: usize,
}

impl Failures {
    pub fn new(name: impl Into<String>) -> Failures {
        Failures {
            name: name.into(),
            ..Failures::default()
        }
    }

    pub fn check(&mut self, r: Result<(), String>) {
        self.cases += 1;
        if let Err(e) = r {
            self.reports.push(e);
        }
    }

    pub fn push(&mut self, report: String) {
        self.reports.push(report);
    }

    pub fn cases(&self) -> usize {
        self.cases
    }

    pub fn finish(self) {
        if self.reports.is_empty() {
            return;
        }
        let mut s = format!(
            "\n{}: {} of {} cases mismatched. First ones:\n",
            self.name,
            self.reports.len(),
            self.cases
        );
        for r in self.reports.iter().take(4) {
            let _ = write!(s, "\n----------------------------------------\n{r}");
        }
        panic!("{s}");
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64: small, fast, deterministic; good enough to generate test inputs.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The seed from `$BATCHKIT_SEED` (decimal or 0x-hex), or `default`.
    pub fn seed_from_env(default: u64) -> u64 {
        match std::env::var("BATCHKIT_SEED") {
            Ok(s) => {
                let s = s.trim();
                let r = match s.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => s.parse(),
                };
                r.unwrap_or_else(|_| panic!("BATCHKIT_SEED={s:?} is not a number"))
            }
            Err(_) => default,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0)");
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// An independent generator (for a sub-case), derived from this one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// Builds an `OsString` from raw bytes (for arguments such as `-t $'\x80'`).
pub fn os_bytes(b: &[u8]) -> OsString {
    OsString::from_vec(b.to_vec())
}
