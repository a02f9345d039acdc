//! bsort against GNU sort 9.1 in the C locale (`LC_ALL=C /usr/bin/sort`, invoked as `sort`):
//! stdout bytes and exit status, and for `-c` the diagnostic after normalising the
//! program-name prefix.
//!
//! Random inputs (bytes ≥ 0x80, blanks, TABs, controls, NULs, empty fields and lines,
//! duplicates and near-duplicates, a last record without terminator, signed / decimal /
//! blank-prefixed / huge / exponent / hex / inf numbers, human sizes) × random flag sets,
//! each sort and merge case run twice: as is, and with `-S 200b --batch-size 2` (tiny
//! buffer, fan-in 2: spills and several merge passes in bsort, checked with `--stats` in
//! `oracle_spills_and_multipass_merge`, which also sorts large inputs at `-S 2K`; GNU's
//! output must not change).
//!
//! `BATCHKIT_DUMP=DIR` writes every mismatching case (stdin, files, NUL-separated args)
//! under `DIR/<case label>/` to rerun it by hand.
//!
//! The documented differences are respected by construction:
//! * `-k` is always given as `N,M` (bsort's `-k N` is field N only; GNU's runs to the end
//!   of the line); `bsort -kN` is checked against GNU `-kN,N` separately;
//! * `-g` inputs have ≤ 15 significant digits, |exponent| < 300 and at most one NaN
//!   (bsort compares doubles; GNU long doubles, and NaN vs NaN is nondeterministic in 9.1);
//! * with `-n`/`-h` anywhere, byte 0x80 is replaced by 0x81 (GNU 9.1 reads it as a
//!   thousands separator);
//! * no `-M -V -R --debug --sort= --check=`; runtime errors are not compared (1 vs 2).
//!
//! Reproduce a run with `BATCHKIT_SEED=<seed> cargo test --test tests bsort_oracle`; every
//! report names its seed and case number.

use crate::util::{self, bsort, Case, Compare, Dir, Failures, Rng};
use std::ffi::OsString;

/// Tiny buffer and merge fan-in: forces spills and multi-pass merges in bsort even on the
/// small inputs of the random cases (`-S 2K` holds about 60 short records in bsort, more
/// than most cases have; 200 bytes spills every few records). GNU accepts both and must
/// give the same output.
const TINY: [&str; 4] = ["-S", "200b", "--batch-size", "2"];
/// The buffer of the large `--stats` cases.
const SMALL: [&str; 4] = ["-S", "2K", "--batch-size", "2"];

/// The generator for one test (its own stream, derived from `$BATCHKIT_SEED` or the
/// default base seed), and how to name it in reports: `BATCHKIT_SEED=0x…`.
fn seeded(salt: u64) -> (Rng, String) {
    let base = Rng::seed_from_env(0x5eed_b507);
    let rng = Rng::new(base ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (rng, format!("BATCHKIT_SEED={base:#x}"))
}

// ---------------------------------------------------------------------------------------
// Input generation

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Text,
    Numeric,
    Human,
    General,
    Mixed,
}

#[derive(Clone, Copy, Debug)]
struct Profile {
    kind: Kind,
    /// Fields separated by TAB (`-t TAB`); else by runs of blanks.
    tab: bool,
    /// `-z`: records end in NUL and may contain `\n` (a blank there).
    zero: bool,
    /// `-n`/`-h` somewhere: no byte 0x80.
    no_x80: bool,
    /// `-g` somewhere: ≤ 15 significant digits, |exp| < 300, at most one NaN, no `a`/`A`
    /// outside it (so no NaN can appear by accident).
    gsafe: bool,
    max_lines: usize,
    max_fields: usize,
}

impl Profile {
    fn new(kind: Kind) -> Profile {
        Profile {
            kind,
            tab: false,
            zero: false,
            no_x80: false,
            gsafe: false,
            max_lines: 40,
            max_fields: 4,
        }
    }
}

struct Gen<'a> {
    rng: &'a mut Rng,
    p: Profile,
    nan_used: bool,
}

const HIGH: &[u8] = &[0x80, 0x81, 0xa9, 0xc3, 0xe9, 0xff];
const CTRL: &[u8] = &[0x0b, 0x0d, 0x7f, 0x01, 0x0c];
const PUNCT: &[u8] = b".-,+_~!/:#";

impl Gen<'_> {
    fn lower(&mut self) -> u8 {
        let set: &[u8] = if self.p.gsafe {
            b"bcdefinxyz"
        } else {
            b"abcdefinxyz"
        };
        *self.rng.pick(set)
    }

    fn upper(&mut self) -> u8 {
        let set: &[u8] = if self.p.gsafe {
            b"BCDEFINXYZ"
        } else {
            b"ABCDEFINXYZ"
        };
        *self.rng.pick(set)
    }

    fn word(&mut self) -> Vec<u8> {
        let len = self.rng.range(1, 5);
        let mut w = Vec::with_capacity(len);
        for _ in 0..len {
            let c = match self.rng.below(22) {
                0..=7 => self.lower(),
                8..=10 => self.upper(),
                11..=12 if !self.p.gsafe => b'0' + self.rng.below(10) as u8,
                13..=14 if !self.p.gsafe => *self.rng.pick(PUNCT),
                13..=14 => *self.rng.pick(b"_~!/:#,"),
                15..=17 => *self.rng.pick(HIGH),
                18 => *self.rng.pick(CTRL),
                19 if !self.p.zero && self.rng.chance(1, 3) => 0,
                _ => self.lower(),
            };
            w.push(c);
        }
        w
    }

    fn digits(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b'0' + self.rng.below(10) as u8).collect()
    }

    fn int(&mut self, max_digits: usize) -> Vec<u8> {
        let n = self.rng.range(1, max_digits);
        self.digits(n)
    }

    fn sign(&mut self) -> &'static [u8] {
        match self.rng.below(6) {
            0 | 1 => b"-",
            2 => b"+",
            _ => b"",
        }
    }

    fn number(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        match self.rng.below(17) {
            0..=3 => {
                if self.rng.chance(1, 4) {
                    v.push(b'-');
                }
                v.extend(self.rng.range(0, 20).to_string().bytes());
            }
            4 => {
                v.extend(self.sign());
                v.extend(self.int(9));
            }
            5 => {
                v.extend(self.sign());
                match self.rng.below(4) {
                    0 => {
                        v.push(b'.');
                        v.extend(self.int(4));
                    }
                    1 => {
                        v.extend(self.int(3));
                        v.push(b'.');
                    }
                    _ => {
                        v.extend(self.int(3));
                        v.push(b'.');
                        v.extend(self.int(4));
                    }
                }
            }
            6 => {
                let fixed: &[&str] = &[
                    "-0", "0", "-0.0", "007", "7", "7.0", "7.00", "+5", "-", ".", "-.", "+", "00",
                    "0.0", "-.5", ".5", "5.", "1.0", "01", "1",
                ];
                v.extend(self.rng.pick(fixed).bytes());
            }
            7 => {
                v.extend(self.sign());
                if self.p.gsafe {
                    let n = self.rng.range(10, 15);
                    v.extend(self.digits(n));
                } else {
                    let n = self.rng.range(16, 40);
                    v.extend(self.digits(n));
                    if self.rng.chance(1, 3) {
                        v.push(b'.');
                        let n = self.rng.range(1, 25);
                        v.extend(self.digits(n));
                    }
                }
            }
            8 => {
                v.extend(self.sign());
                v.extend(self.int(3));
                if self.rng.chance(1, 2) {
                    v.push(b'.');
                    v.extend(self.int(3));
                }
                v.push(*self.rng.pick(b"eE"));
                match self.rng.below(8) {
                    0 => {}
                    1 => v.push(b'+'),
                    _ => {
                        v.extend(self.sign());
                        v.extend(self.rng.range(0, 280).to_string().bytes());
                    }
                }
            }
            9 => {
                let fixed: &[&str] =
                    &["inf", "-inf", "INF", "infinity", "-Infinity", "+inf", "Inf"];
                v.extend(self.rng.pick(fixed).bytes());
            }
            10 => {
                let fixed: &[&str] = &[
                    "0x1p3", "0x1F", "0xfp-2", "0x", "0x.8p1", "-0x10", "0x1P-1", "0X1p1",
                ];
                v.extend(self.rng.pick(fixed).bytes());
            }
            11 => {
                v.extend(self.int(4));
                let junk: &[&str] = &["xyz", ",5", ".2.3", "e", "K", "%", "_1"];
                v.extend(self.rng.pick(junk).bytes());
            }
            12 => {
                let n = self.rng.range(1, 2);
                v.extend(std::iter::repeat_n(b' ', n));
                v.extend(self.sign());
                v.extend(self.int(3));
            }
            13 => {
                v.push(*self.rng.pick(CTRL));
                v.extend(self.int(2));
            }
            14 if !self.p.zero => {
                v.extend(self.int(2));
                v.push(0);
                v.extend(self.int(2));
            }
            _ => {
                v.extend(self.sign());
                let fixed: &[&str] = &["0.000", "1.000000", "0.0001", "10.010", "100"];
                v.extend(self.rng.pick(fixed).bytes());
            }
        }
        v
    }

    fn human(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        match self.rng.below(6) {
            0 => {
                let fixed: &[&str] = &["0", "-0", "+1", "999999", "1500", "", "0.5", "1.5", "-2"];
                v.extend(self.rng.pick(fixed).bytes());
            }
            1 => {
                v.extend(self.sign());
                v.extend(self.int(3));
                v.push(b'.');
                v.extend(self.int(2));
            }
            _ => {
                if self.rng.chance(1, 4) {
                    v.push(b'-');
                }
                v.extend(self.rng.range(0, 12).to_string().bytes());
            }
        }
        let suffixes: &[&str] = &[
            "", "", "K", "K", "k", "M", "M", "G", "T", "P", "E", "Z", "Y", "Q", "R", "m", "Ki",
            "KB", " K", "g",
        ];
        v.extend(self.rng.pick(suffixes).bytes());
        v
    }

    fn nan(&mut self) -> Vec<u8> {
        if self.p.gsafe {
            if self.nan_used {
                return self.number();
            }
            self.nan_used = true;
        }
        let fixed: &[&str] = &["nan", "NaN", "-nan", "nan(5)", "NAN", "nan()"];
        self.rng.pick(fixed).as_bytes().to_vec()
    }

    fn token(&mut self) -> Vec<u8> {
        // Weights: word, number, human, nan, empty.
        let w: [usize; 5] = match self.p.kind {
            Kind::Text => [60, 20, 5, 2, 13],
            Kind::Numeric => [15, 68, 5, 2, 10],
            Kind::Human => [10, 15, 63, 2, 10],
            Kind::General => [13, 65, 7, 5, 10],
            Kind::Mixed => [35, 35, 12, 3, 15],
        };
        let mut r = self.rng.below(w.iter().sum());
        let mut i = 0;
        while r >= w[i] {
            r -= w[i];
            i += 1;
        }
        match i {
            0 => self.word(),
            1 => self.number(),
            2 => self.human(),
            3 => self.nan(),
            _ => Vec::new(),
        }
    }

    fn blank(&mut self) -> u8 {
        match self.rng.below(8) {
            0..=4 => b' ',
            5 | 6 => b'\t',
            _ if self.p.zero => b'\n',
            _ => b' ',
        }
    }

    fn blanks(&mut self) -> Vec<u8> {
        let n = self.rng.range(1, 3);
        (0..n).map(|_| self.blank()).collect()
    }

    /// A field for `-t TAB` input: empty, one token, or two joined by blanks, sometimes
    /// with leading or trailing spaces.
    fn tab_field(&mut self) -> Vec<u8> {
        let mut f = Vec::new();
        if self.rng.chance(1, 10) {
            let n = self.rng.range(1, 2);
            f.extend(std::iter::repeat_n(b' ', n));
        }
        f.extend(self.token());
        if self.rng.chance(1, 8) {
            f.push(if self.p.zero && self.rng.chance(1, 3) {
                b'\n'
            } else {
                b' '
            });
            f.extend(self.token());
        }
        if self.rng.chance(1, 12) {
            f.push(b' ');
        }
        f
    }

    fn line(&mut self) -> Vec<u8> {
        if self.rng.chance(1, 14) {
            return Vec::new();
        }
        let nf = self.rng.range(1, self.p.max_fields);
        let mut l = Vec::new();
        if self.p.tab {
            for i in 0..nf {
                if i > 0 {
                    l.push(b'\t');
                }
                l.extend(self.tab_field());
            }
            if self.rng.chance(1, 12) {
                l.push(b'\t');
            }
        } else {
            if self.rng.chance(1, 4) {
                l.extend(self.blanks());
            }
            for i in 0..nf {
                if i > 0 {
                    l.extend(self.blanks());
                }
                l.extend(self.token());
            }
            if self.rng.chance(1, 6) {
                l.extend(self.blanks());
            }
        }
        l
    }

    /// Replaces one field of `line` (TAB- or space-separated piece) by a fresh token.
    fn near_dup(&mut self, line: &[u8]) -> Vec<u8> {
        let sep = if self.p.tab { b'\t' } else { b' ' };
        let mut parts: Vec<Vec<u8>> = line.split(|&b| b == sep).map(|p| p.to_vec()).collect();
        let i = self.rng.below(parts.len());
        parts[i] = if self.p.tab {
            self.tab_field()
        } else {
            self.token()
        };
        parts.join(&sep)
    }

    fn records(&mut self) -> Vec<Vec<u8>> {
        let n = if self.rng.chance(1, 15) {
            0
        } else {
            self.rng.range(1, self.p.max_lines)
        };
        let mut lines: Vec<Vec<u8>> = Vec::with_capacity(n);
        for _ in 0..n {
            let l = match self.rng.below(10) {
                0 | 1 if !lines.is_empty() => {
                    let j = self.rng.below(lines.len());
                    if has_nan(&lines[j]) {
                        self.line()
                    } else {
                        lines[j].clone()
                    }
                }
                2 | 3 if !lines.is_empty() => {
                    let j = self.rng.below(lines.len());
                    if has_nan(&lines[j]) {
                        self.line()
                    } else {
                        let base = lines[j].clone();
                        self.near_dup(&base)
                    }
                }
                _ => self.line(),
            };
            lines.push(l);
        }
        if self.p.no_x80 {
            for l in &mut lines {
                for b in l.iter_mut() {
                    if *b == 0x80 {
                        *b = 0x81;
                    }
                }
            }
        }
        lines
    }
}

fn has_nan(line: &[u8]) -> bool {
    line.windows(3).any(|w| w.eq_ignore_ascii_case(b"nan"))
}

/// Joins records with `eol`; the last one loses its terminator with probability 1/4.
pub(crate) fn join(rng: &mut Rng, recs: &[Vec<u8>], eol: u8) -> Vec<u8> {
    let mut v = Vec::new();
    for r in recs {
        v.extend_from_slice(r);
        v.push(eol);
    }
    if !recs.is_empty() && rng.chance(1, 4) {
        v.pop();
    }
    v
}

fn gen_records(rng: &mut Rng, p: Profile) -> Vec<Vec<u8>> {
    Gen {
        rng,
        p,
        nan_used: false,
    }
    .records()
}

// ---------------------------------------------------------------------------------------
// Flag generation

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Text,
    N,
    G,
    H,
}

/// Flags for one invocation, plus what they imply for the input.
#[derive(Clone, Debug, Default)]
struct Flags {
    args: Vec<String>,
    uses_g: bool,
    uses_nh: bool,
    unique: bool,
}

impl Flags {
    fn push(&mut self, a: impl Into<String>) {
        self.args.push(a.into());
    }

    fn note_mode(&mut self, m: Mode) {
        match m {
            Mode::G => self.uses_g = true,
            Mode::N | Mode::H => self.uses_nh = true,
            Mode::Text => {}
        }
    }

    fn profile(&self, kind: Kind, tab: bool, zero: bool) -> Profile {
        Profile {
            tab,
            zero,
            no_x80: self.uses_nh,
            gsafe: self.uses_g,
            ..Profile::new(kind)
        }
    }

    fn kind(&self) -> Kind {
        if self.uses_g {
            Kind::General
        } else if self
            .args
            .iter()
            .any(|a| a.contains('h') && !a.starts_with("--"))
        {
            Kind::Human
        } else if self.uses_nh {
            Kind::Numeric
        } else {
            Kind::Mixed
        }
    }
}

fn pick_mode(rng: &mut Rng, numeric_weight: usize) -> Mode {
    if rng.below(10) >= numeric_weight {
        return Mode::Text;
    }
    *rng.pick(&[Mode::N, Mode::N, Mode::G, Mode::H])
}

fn mode_letter(m: Mode) -> &'static str {
    match m {
        Mode::Text => "",
        Mode::N => "n",
        Mode::G => "g",
        Mode::H => "h",
    }
}

/// Random global options (compatible with each other), as separate or bundled args.
fn random_globals(rng: &mut Rng, f: &mut Flags, numeric_weight: usize, allow_unique: bool) {
    let mode = pick_mode(rng, numeric_weight);
    f.note_mode(mode);
    let mut letters = String::from(mode_letter(mode));
    if rng.chance(1, 3) {
        letters.push('r');
    }
    // `h` with `f` has its own test (oracle_human_fold): keep it out of the others so
    // that each failure points at one cause.
    if mode != Mode::H && rng.chance(1, 5) {
        letters.push('f');
    }
    if rng.chance(1, 5) {
        letters.push('b');
    }
    if mode == Mode::Text {
        if rng.chance(1, 8) {
            letters.push('d');
        }
        if rng.chance(1, 10) {
            letters.push('i');
        }
    }
    if rng.chance(1, 4) {
        letters.push('s');
    }
    if allow_unique && rng.chance(1, 4) {
        letters.push('u');
        f.unique = true;
    }
    if letters.is_empty() {
        return;
    }
    if rng.chance(1, 2) {
        f.push(format!("-{letters}"));
    } else {
        for c in letters.chars() {
            f.push(format!("-{c}"));
        }
    }
}

/// One `-k POS1,POS2` spec (always with a comma), with random offsets and letters placed
/// on either position.
fn random_key(
    rng: &mut Rng,
    f: &mut Flags,
    max_field: usize,
    numeric_weight: usize,
    offsets: bool,
) -> String {
    let f1 = rng.range(1, max_field);
    let f2 = if rng.chance(1, 6) {
        rng.range(1, max_field)
    } else {
        f1 + rng.below(2)
    };
    let c1 = (offsets && rng.chance(1, 3)).then(|| rng.range(1, 5));
    let c2 = (offsets && rng.chance(1, 3)).then(|| rng.range(0, 5));
    let mut pos1 = f1.to_string();
    if let Some(c) = c1 {
        pos1 += &format!(".{c}");
    }
    let mut pos2 = f2.to_string();
    if let Some(c) = c2 {
        pos2 += &format!(".{c}");
    }
    if rng.chance(1, 3) {
        // No letters: inherits the global options.
        return format!("{pos1},{pos2}");
    }
    let mode = pick_mode(rng, numeric_weight);
    f.note_mode(mode);
    let mut letters = String::from(mode_letter(mode));
    if rng.chance(1, 3) {
        letters.push('r');
    }
    if mode != Mode::H && rng.chance(1, 4) {
        letters.push('f');
    }
    if mode == Mode::Text {
        if rng.chance(1, 6) {
            letters.push('d');
        } else if rng.chance(1, 8) {
            letters.push('i');
        }
    }
    let (mut l1, mut l2) = (String::new(), String::new());
    match rng.below(3) {
        0 => {}
        1 => l1.push('b'),
        _ => l2.push('b'),
    }
    if rng.chance(1, 8) {
        l1.push('b');
        l2.push('b');
    }
    if rng.chance(1, 2) {
        l1 += &letters;
    } else {
        l2 += &letters;
    }
    format!("{pos1}{l1},{pos2}{l2}")
}

fn random_keys(
    rng: &mut Rng,
    f: &mut Flags,
    max_field: usize,
    numeric_weight: usize,
    offsets: bool,
) {
    let n = rng.range(1, 3);
    for _ in 0..n {
        let k = random_key(rng, f, max_field, numeric_weight, offsets);
        if rng.chance(1, 2) {
            f.push("-k");
            f.push(k);
        } else {
            f.push(format!("-k{k}"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running cases

/// How the input reaches the tool: stdin, one file, or two files (each file's last record
/// gets its own terminator).
fn deliver(rng: &mut Rng, recs: &[Vec<u8>], eol: u8, args: Vec<String>, label: String) -> Case {
    let mut case = Case::new(&args, Vec::new()).label(label);
    match rng.below(8) {
        0..=4 => case.stdin = join(rng, recs, eol),
        5 | 6 => {
            case.files.push(("in.txt".into(), join(rng, recs, eol)));
            case.args.push("in.txt".into());
        }
        _ => {
            let cut = rng.range(0, recs.len());
            let a = join(rng, &recs[..cut], eol);
            let b = join(rng, &recs[cut..], eol);
            case.files.push(("in 1".into(), a));
            case.files.push(("in-2".into(), b));
            case.args.push("in 1".into());
            case.args.push("-".into());
            case.args.push("in-2".into());
        }
    }
    if eol == 0 {
        case.eol = Some(0);
    }
    case
}

/// `case` with the tiny `-S` and merge fan-in inserted before the operands (for both).
fn with_tiny(case: &Case) -> Case {
    let mut c = case.clone();
    let mut args: Vec<OsString> = TINY.iter().map(OsString::from).collect();
    args.extend(c.args.iter().cloned());
    c.args = args;
    if let Some(o) = &c.oracle_args {
        let mut oa: Vec<OsString> = TINY.iter().map(OsString::from).collect();
        oa.extend(o.iter().cloned());
        c.oracle_args = Some(oa);
    }
    c.label += " [tiny -S]";
    c
}

/// Runs a sort/merge case twice (as is and with [`TINY`]) against GNU; records mismatches.
pub(crate) fn oracle_twice(dir: &Dir, case: &Case, fails: &mut Failures) {
    let gnu = dir.gnu_sort_case(case);
    let ours = dir.run_case(bsort(), case);
    fails.check(util::check_outputs(case, &gnu, &ours, Compare::ALL));

    let tiny = with_tiny(case);
    let gnu_tiny = dir.gnu_sort_case(&tiny);
    let ours_tiny = dir.run_case(bsort(), &tiny);
    if gnu_tiny.stdout != gnu.stdout || gnu_tiny.status.code() != gnu.status.code() {
        fails.push(format!(
            "{}HARNESS: GNU's own output changed with {:?}\n",
            tiny.describe(),
            TINY
        ));
    }
    fails.check(util::check_outputs(
        &tiny,
        &gnu_tiny,
        &ours_tiny,
        Compare::ALL,
    ));
}

fn oracle_once(dir: &Dir, case: &Case, what: Compare, fails: &mut Failures) {
    let gnu = dir.gnu_sort_case(case);
    let ours = dir.run_case(bsort(), case);
    fails.check(util::check_outputs(case, &gnu, &ours, what));
}

pub(crate) fn require_gnu() -> bool {
    if !util::have_gnu_sort() {
        eprintln!("skipping: {} not found", util::GNU_SORT);
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------
// Random oracle tests

/// Fixed global flag sets (no keys) × random inputs of the matching kind.
#[test]
fn oracle_global_flag_sets() {
    if !require_gnu() {
        return;
    }
    let sets: &[(&[&str], Kind)] = &[
        (&[], Kind::Mixed),
        (&["-r"], Kind::Mixed),
        (&["-s"], Kind::Mixed),
        (&["-u"], Kind::Mixed),
        (&["-f"], Kind::Text),
        (&["-f", "-u"], Kind::Text),
        (&["-f", "-s"], Kind::Text),
        (&["-r", "-u"], Kind::Mixed),
        (&["-b"], Kind::Mixed),
        (&["-b", "-u"], Kind::Mixed),
        (&["-d"], Kind::Text),
        (&["-d", "-f", "-u"], Kind::Text),
        (&["-i"], Kind::Text),
        (&["-i", "-r", "-s"], Kind::Text),
        (&["-d", "-i"], Kind::Text),
        (&["-n"], Kind::Numeric),
        (&["-rn"], Kind::Numeric),
        (&["-n", "-s"], Kind::Numeric),
        (&["-n", "-u"], Kind::Numeric),
        (&["-n", "-r", "-u"], Kind::Numeric),
        (&["-nb"], Kind::Numeric),
        (&["-h"], Kind::Human),
        (&["-hr"], Kind::Human),
        (&["-h", "-u"], Kind::Human),
        (&["-h", "-s"], Kind::Human),
        (&["-g"], Kind::General),
        (&["-gr"], Kind::General),
        (&["-g", "-u"], Kind::General),
        (&["-g", "-s"], Kind::General),
        (&["-g", "-f"], Kind::General),
    ];
    let (mut rng, seed) = seeded(1);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_global_flag_sets ({seed})"));
    for (si, (set, kind)) in sets.iter().enumerate() {
        for rep in 0..6 {
            let args: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            let numeric = args.iter().any(|a| a.contains('n') || a.contains('h'));
            let general = args.iter().any(|a| a.contains('g'));
            let p = Profile {
                tab: rng.chance(1, 2),
                no_x80: numeric,
                gsafe: general,
                ..Profile::new(*kind)
            };
            let recs = gen_records(&mut rng, p);
            let case = deliver(
                &mut rng,
                &recs,
                b'\n',
                args,
                format!("{seed} set {si} rep {rep}"),
            );
            oracle_twice(&dir, &case, &mut fails);
        }
    }
    fails.finish();
}

/// `-t TAB` with 1–3 random `-kN,M` keys (offsets, letters on either position) and random
/// global options.
#[test]
fn oracle_tab_keys() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(2);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_tab_keys ({seed})"));
    for i in 0..110 {
        let mut f = Flags::default();
        f.push("-t");
        f.push("\t");
        random_globals(&mut rng, &mut f, 3, true);
        let offsets = rng.chance(1, 2);
        random_keys(&mut rng, &mut f, 4, 4, offsets);
        let p = f.profile(f.kind(), true, false);
        let recs = gen_records(&mut rng, p);
        let case = deliver(
            &mut rng,
            &recs,
            b'\n',
            f.args.clone(),
            format!("{seed} case {i}"),
        );
        oracle_twice(&dir, &case, &mut fails);
    }
    fails.finish();
}

/// Blank-separated fields (no `-t`): keys with `.C` offsets and `b` on either position.
#[test]
fn oracle_blank_keys() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(3);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_blank_keys ({seed})"));
    for i in 0..110 {
        let mut f = Flags::default();
        random_globals(&mut rng, &mut f, 3, true);
        random_keys(&mut rng, &mut f, 4, 4, true);
        let p = f.profile(f.kind(), false, false);
        let recs = gen_records(&mut rng, p);
        let case = deliver(
            &mut rng,
            &recs,
            b'\n',
            f.args.clone(),
            format!("{seed} case {i}"),
        );
        oracle_twice(&dir, &case, &mut fails);
    }
    fails.finish();
}

/// `-z`: NUL-terminated records containing `\n` (a blank there), with and without keys.
#[test]
fn oracle_zero_terminated() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(4);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_zero_terminated ({seed})"));
    for i in 0..50 {
        let mut f = Flags::default();
        f.push("-z");
        let tab = rng.chance(1, 3);
        if tab {
            f.push("-t");
            f.push("\t");
        }
        random_globals(&mut rng, &mut f, 3, true);
        if rng.chance(2, 3) {
            random_keys(&mut rng, &mut f, 4, 4, true);
        }
        let p = f.profile(f.kind(), tab, true);
        let recs = gen_records(&mut rng, p);
        let case = deliver(
            &mut rng,
            &recs,
            0,
            f.args.clone(),
            format!("{seed} case {i}"),
        );
        oracle_twice(&dir, &case, &mut fails);
    }
    fails.finish();
}

/// `-m` over inputs presorted (by GNU, same flags) and dealt into 2–5 files, some empty,
/// some without a final terminator.
#[test]
fn oracle_merge_presorted() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(5);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_merge_presorted ({seed})"));
    for i in 0..60 {
        let zero = rng.chance(1, 6);
        let tab = rng.chance(1, 2);
        let mut f = Flags::default();
        if zero {
            f.push("-z");
        }
        if tab {
            f.push("-t");
            f.push("\t");
        }
        random_globals(&mut rng, &mut f, 3, false);
        if rng.chance(3, 4) {
            random_keys(&mut rng, &mut f, 4, 4, true);
        }
        let eol = if zero { 0 } else { b'\n' };
        let p = f.profile(f.kind(), tab, zero);
        let recs = gen_records(&mut rng, p);
        // Presort with GNU (same ordering flags, no -u).
        let sorted = dir.gnu_sort(&f.args, &join(&mut rng, &recs, eol));
        assert!(
            sorted.status.success(),
            "presort failed: {:?}",
            String::from_utf8_lossy(&sorted.stderr)
        );
        let sorted_recs: Vec<Vec<u8>> = util::records(&sorted.stdout, eol)
            .iter()
            .map(|r| r.to_vec())
            .collect();
        let nfiles = rng.range(2, 5);
        let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new(); nfiles];
        for r in sorted_recs {
            let k = rng.below(nfiles);
            parts[k].push(r);
        }
        let mut args = f.args.clone();
        if rng.chance(1, 3) {
            args.push("-u".into());
        }
        args.push("-m".into());
        let mut case = Case::new(&args, Vec::new()).label(format!("{seed} case {i}"));
        if zero {
            case.eol = Some(0);
        }
        for (k, part) in parts.iter().enumerate() {
            let name = format!("part-{k}");
            case.files.push((name.clone(), join(&mut rng, part, eol)));
            case.args.push(name.into());
        }
        oracle_twice(&dir, &case, &mut fails);
    }
    fails.finish();
}

/// `-c` / `-C` on sorted, nearly sorted and unsorted inputs: stdout, exit status and the
/// (normalised) diagnostic.
#[test]
fn oracle_check() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(6);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_check ({seed})"));
    for i in 0..140 {
        let zero = rng.chance(1, 8);
        let tab = rng.chance(1, 2);
        let mut f = Flags::default();
        if zero {
            f.push("-z");
        }
        if tab {
            f.push("-t");
            f.push("\t");
        }
        random_globals(&mut rng, &mut f, 3, true);
        if rng.chance(2, 3) {
            random_keys(&mut rng, &mut f, 4, 4, true);
        }
        let eol = if zero { 0 } else { b'\n' };
        let p = Profile {
            max_lines: 25,
            ..f.profile(f.kind(), tab, zero)
        };
        let recs = gen_records(&mut rng, p);
        let mut recs: Vec<Vec<u8>> = match rng.below(10) {
            0..=2 => recs,
            _ => {
                let sorted = dir.gnu_sort(&f.args, &join(&mut rng, &recs, eol));
                assert!(sorted.status.success());
                util::records(&sorted.stdout, eol)
                    .iter()
                    .map(|r| r.to_vec())
                    .collect()
            }
        };
        // Sometimes disturb a sorted input a little.
        if recs.len() > 1 && rng.chance(1, 3) {
            let j = rng.below(recs.len() - 1);
            if rng.chance(1, 2) {
                recs.swap(j, j + 1);
            } else {
                let r = recs.remove(j);
                let k = rng.below(recs.len() + 1);
                recs.insert(k, r);
            }
        }
        let mut args = f.args.clone();
        args.push(if rng.chance(2, 3) {
            "-c".into()
        } else {
            "-C".into()
        });
        let input = join(&mut rng, &recs, eol);
        let mut case = Case::new(&args, Vec::new()).label(format!("{seed} case {i}"));
        if zero {
            case.eol = Some(0);
        }
        match rng.below(3) {
            0 => {
                case.files.push(("data.txt".into(), input));
                case.args.push("data.txt".into());
            }
            1 => {
                case.stdin = input;
                case.args.push("-".into());
            }
            _ => case.stdin = input,
        }
        oracle_once(&dir, &case, Compare::ALL, &mut fails);
    }
    fails.finish();
}

/// bsort's `-kN[flags]` (field N only) is GNU's `-kN,N[flags]`.
#[test]
fn oracle_k_alone_is_one_field() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(7);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_k_alone_is_one_field ({seed})"));
    for i in 0..40 {
        let tab = rng.chance(1, 2);
        let mut ours: Vec<String> = Vec::new();
        let mut gnu: Vec<String> = Vec::new();
        if tab {
            ours.extend(["-t".to_string(), "\t".to_string()]);
            gnu.extend(["-t".to_string(), "\t".to_string()]);
        }
        let mut uses_nh = false;
        for _ in 0..rng.range(1, 2) {
            let n = rng.range(1, 4);
            let letters = *rng.pick(&["", "", "r", "n", "nr", "f", "b", "h", "bf"]);
            uses_nh |= letters.contains('n') || letters.contains('h');
            ours.push(format!("-k{n}{letters}"));
            // Letters on POS1: `b` there skips the field's leading blanks.
            gnu.push(format!("-k{n}{letters},{n}"));
        }
        let p = Profile {
            tab,
            no_x80: uses_nh,
            ..Profile::new(if uses_nh { Kind::Numeric } else { Kind::Mixed })
        };
        let recs = gen_records(&mut rng, p);
        let case = Case::new(&ours, join(&mut rng, &recs, b'\n'))
            .oracle_args(&gnu)
            .label(format!("{seed} case {i}"));
        oracle_once(&dir, &case, Compare::ALL, &mut fails);
    }
    fails.finish();
}

/// `-h` with `-f` (global or on one key): GNU folds the key (a–z → A–Z) before reading
/// the unit, so `1m` is 1M and `2g` is 2G. Kept apart from the other random tests.
#[test]
fn oracle_human_fold() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(9);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_human_fold ({seed})"));
    let sets: &[&[&str]] = &[
        &["-hf"],
        &["-h", "-f", "-r"],
        &["-h", "-f", "-u"],
        &["-h", "-f", "-s", "-b"],
        &["-k2,2hf"],
        &["-k1,1hfr", "-k2,2"],
        &["-t", "\t", "-k2bhf,3"],
        &["-t", "\t", "-f", "-h", "-k2,2", "-k1,1"],
    ];
    for (si, set) in sets.iter().enumerate() {
        for rep in 0..5 {
            let tab = set.contains(&"\t");
            let p = Profile {
                tab,
                no_x80: true,
                ..Profile::new(Kind::Human)
            };
            let recs = gen_records(&mut rng, p);
            let args: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            let case = deliver(
                &mut rng,
                &recs,
                b'\n',
                args,
                format!("{seed} set {si} rep {rep}"),
            );
            oracle_twice(&dir, &case, &mut fails);
        }
    }
    fails.finish();
}

fn json_u64(json: &[u8], field: &str) -> Option<u64> {
    let s = String::from_utf8_lossy(json);
    let pat = format!("\"{field}\":");
    let at = s.find(&pat)? + pat.len();
    let digits: String = s[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// A case large enough that the tiny buffer spills more than two runs and merges them in
/// more than one pass (checked with `--stats`), still equal to GNU.
#[test]
fn oracle_spills_and_multipass_merge() {
    if !require_gnu() {
        return;
    }
    let (mut rng, seed) = seeded(8);
    let dir = Dir::new();
    let mut fails = Failures::new(format!("oracle_spills_and_multipass_merge ({seed})"));
    // (flags, buffer, minimum records): large inputs at `-S 2K`, and small ones (the size
    // of the random cases) at the tiny buffer those cases use.
    let plans: &[(&[&str], [&str; 4], usize)] = &[
        (&["-t", "\t", "-k2,2n", "-k1,1r"], SMALL, 400),
        (&["-u", "-k1,1f"], SMALL, 400),
        (&["-s", "-t", "\t", "-k3,3", "-k1,1"], SMALL, 400),
        (&[], SMALL, 400),
        (&["-k1,1", "-k2,2nr"], TINY, 20),
        (&["-u", "-t", "\t", "-k2,2"], TINY, 20),
    ];
    for (i, (set, buffer, min_records)) in plans.iter().enumerate() {
        let numeric = set.iter().any(|a| a.contains('n'));
        let p = Profile {
            tab: set.contains(&"\t"),
            no_x80: numeric,
            max_lines: min_records + min_records / 2,
            ..Profile::new(if numeric { Kind::Numeric } else { Kind::Mixed })
        };
        let mut recs = gen_records(&mut rng, p);
        while recs.len() < *min_records {
            recs.extend(gen_records(&mut rng, p));
        }
        let input = join(&mut rng, &recs, b'\n');
        let mut args: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        let case = Case::new(&args, input.clone()).label(format!("{seed} plan {i}"));
        let gnu = dir.gnu_sort_case(&case);
        let gnu_args = args.clone();
        args.extend(buffer.iter().map(|s| s.to_string()));
        args.push("--stats".into());
        let stats_case = Case::new(&args, input)
            .oracle_args(&gnu_args)
            .label(format!("{seed} plan {i} --stats"));
        let ours = dir.run_case(bsort(), &stats_case);
        fails.check(util::check_outputs(
            &stats_case,
            &gnu,
            &ours,
            Compare::OUT_STATUS,
        ));
        let spills = json_u64(&ours.stderr, "spill_runs");
        let passes = json_u64(&ours.stderr, "merge_passes");
        if !matches!(spills, Some(s) if s > 2) || !matches!(passes, Some(p) if p > 1) {
            fails.push(format!(
                "{}--stats does not show spill_runs > 2 and merge_passes > 1: {}\n",
                stats_case.describe(),
                util::escape(&ours.stderr)
            ));
        }
    }
    fails.finish();
}

/// Usage errors exit 2 in both (messages are not compared).
#[test]
fn oracle_usage_errors_exit_2() {
    if !require_gnu() {
        return;
    }
    let dir = Dir::new();
    let mut fails = Failures::new("oracle_usage_errors_exit_2");
    let cases: &[&[&str]] = &[
        &["-k", "0"],
        &["-k", "0.1"],
        &["-k", "1,0"],
        &["-k", "1.0"],
        &["-k", "a"],
        &["-k", ""],
        &["-k", "-1"],
        &["-k", "1."],
        &["-k", "1.a"],
        &["-k", "1,"],
        &["-k", "1,a"],
        &["-k", "1,2.x"],
        &["-k", "1.1x"],
        &["-k", "1.2.3"],
        &["-k", "1 "],
        &["-k"],
        &["--no-such-option"],
        &["no-such-file.txt"],
        &["-n", "-g"],
        &["-k1,1nd"],
        &["-h", "-n"],
        &["-t", ""],
        &["-t", "ab"],
        &["-c", "f1", "f2"],
        &["-c", "-C"],
        &["--batch-size", "1"],
        &["-S", "x"],
    ];
    dir.write("f1", "a\n");
    dir.write("f2", "b\n");
    for args in cases {
        let case = Case::new(*args, "b\na\n").label("usage error");
        oracle_once(&dir, &case, Compare::STATUS, &mut fails);
    }
    fails.finish();
}

// ---------------------------------------------------------------------------------------
// Worked examples from the notes (expected output checked against GNU first)

/// Checks GNU (with `gnu_args`) and bsort (with `args`) both print `expected`, status 0.
pub(crate) fn expect(
    dir: &Dir,
    args: &[&str],
    gnu_args: &[&str],
    stdin: &[u8],
    expected: &[u8],
    fails: &mut Failures,
) {
    let case = Case::new(args, stdin)
        .oracle_args(gnu_args)
        .label("worked example");
    let want = std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(0),
        stdout: expected.to_vec(),
        stderr: Vec::new(),
    };
    let gnu = dir.gnu_sort_case(&case);
    if let Err(e) = util::check_outputs(&case, &want, &gnu, Compare::ALL) {
        fails.push(format!("HARNESS: GNU disagrees with the notes:\n{e}"));
    }
    let ours = dir.run_case(bsort(), &case);
    fails.check(util::check_outputs(&case, &want, &ours, Compare::ALL));
}

#[test]
fn worked_examples() {
    if !require_gnu() {
        return;
    }
    let dir = Dir::new();
    let mut f = Failures::new("worked_examples");
    // §2.2 inheritance: any letter on a key stops every global flag.
    expect(
        &dir,
        &["-n", "-k1,1r"],
        &["-n", "-k1r"],
        b"10\n9\n",
        b"9\n10\n",
        &mut f,
    );
    expect(
        &dir,
        &["-n", "-k2,2b"],
        &["-n", "-k2,2b"],
        b"x 10\ny 9\n",
        b"x 10\ny 9\n",
        &mut f,
    );
    expect(
        &dir,
        &["-n", "-k2,2"],
        &["-n", "-k2,2"],
        b"x 10\ny 9\n",
        b"y 9\nx 10\n",
        &mut f,
    );
    // §2.4 global -r reverses the last resort, keys only by inheritance.
    expect(
        &dir,
        &["-r", "-k1,1n"],
        &["-r", "-k1n"],
        b"1 b\n1 a\n2\n",
        b"1 b\n1 a\n2\n",
        &mut f,
    );
    expect(
        &dir,
        &["-k1,1r"],
        &["-k1,1r"],
        b"a 1\na 2\nb\n",
        b"b\na 1\na 2\n",
        &mut f,
    );
    expect(
        &dir,
        &["-r", "-k1,1"],
        &["-r", "-k1,1"],
        b"a 1\na 2\nb\n",
        b"b\na 2\na 1\n",
        &mut f,
    );
    // §3.5 last resort.
    expect(
        &dir,
        &["-n"],
        &["-n"],
        b"1.0\n01\n1\n2\n",
        b"01\n1\n1.0\n2\n",
        &mut f,
    );
    expect(
        &dir,
        &["-s", "-n"],
        &["-s", "-n"],
        b"1.0\n01\n1\n2\n",
        b"1.0\n01\n1\n2\n",
        &mut f,
    );
    expect(
        &dir,
        &["-nr"],
        &["-nr"],
        b"1.0\n01\n1\n2\n",
        b"2\n1.0\n1\n01\n",
        &mut f,
    );
    // §4.3 -n (without the 0x80 entry, a documented difference).
    let n_sorted: &[&[u8]] = &[
        b"-1", b"-.5", b"", b"\x0b9", b"+5", b"-", b"-0", b".", b"0", b"abc", b".5", b"1,5",
        b"1e9", b" 3", b"007", b"7", b"7.0", b"7.00", b"15",
    ];
    expect_shuffled(&dir, &["-n"], n_sorted, 41, &mut f);
    // §5.2 -g (one NaN only).
    let g_sorted: &[&[u8]] = &[
        b"",
        b"+",
        b"-",
        b".",
        b"abc",
        b"e5",
        b"nan",
        b"-2e400000",
        b"-inf",
        b"+0",
        b"-0",
        b"0",
        b"0x",
        b"1e-400000",
        b".5",
        b"0x1P-1",
        b"1,5",
        b"1e",
        b"1e+",
        b"3",
        b"+5",
        b"5.",
        b"0x1p3",
        b" 12",
        b"1e5",
        b"2e400000",
        b"INF",
        b"inf",
        b"infinity",
    ];
    expect_shuffled(&dir, &["-g"], g_sorted, 42, &mut f);
    // §6 -h.
    let h_sorted: &[&[u8]] = &[
        b"-1M", b"-1K", b"-2", b"+1K", b"-0M", b"0K", b"K", b"1 K", b"1Q", b"1m", b"2", b"1500",
        b"999999", b"0.5K", b"1K", b"1Ki", b"1k", b"1.5K", b"1M", b"1Y",
    ];
    expect_shuffled(&dir, &["-h"], h_sorted, 43, &mut f);
    // §8.1 -u keeps the first of each run of equal keys.
    expect(
        &dir,
        &["-u", "-f"],
        &["-u", "-f"],
        b"a\nA\nb\nB\na\n",
        b"a\nb\n",
        &mut f,
    );
    expect(
        &dir,
        &["-u", "-n"],
        &["-u", "-n"],
        b"1.0\n01\n1\n2\n",
        b"1.0\n2\n",
        &mut f,
    );
    expect(
        &dir,
        &["-u", "-k1,1", "-r"],
        &["-u", "-k1,1", "-r"],
        b"a 1\nb 2\na 3\n",
        b"b 2\na 1\n",
        &mut f,
    );
    // §0.2 line model.
    expect(&dir, &["-z"], &["-z"], b"b\0a", b"a\0b\0", &mut f);
    expect(
        &dir,
        &["-z", "-k2,2"],
        &["-z", "-k2"],
        b"a\nz\0b\ny\0",
        b"b\ny\0a\nz\0",
        &mut f,
    );
    dir.write("nonl1", "b");
    dir.write("nonl2", "a");
    expect(
        &dir,
        &["nonl1", "nonl2"],
        &["nonl1", "nonl2"],
        b"",
        b"a\nb\n",
        &mut f,
    );
    expect(
        &dir,
        &["-m", "nonl1", "nonl2"],
        &["-m", "nonl1", "nonl2"],
        b"",
        b"a\nb\n",
        &mut f,
    );
    // §8.4 -m is a greedy merge without an order check.
    dir.write("m1", "c\na\n");
    dir.write("m2", "b\nd\n");
    expect(
        &dir,
        &["-m", "m1", "m2"],
        &["-m", "m1", "m2"],
        b"",
        b"b\nc\na\nd\n",
        &mut f,
    );
    expect(
        &dir,
        &["-m", "-u"],
        &["-m", "-u"],
        b"a\nb\na\n",
        b"a\nb\na\n",
        &mut f,
    );
    dir.write("u1", "A 1\na 2\n");
    dir.write("u2", "a 3\nA 4\n");
    expect(
        &dir,
        &["-m", "-u", "-f", "-k1,1", "u1", "u2"],
        &["-m", "-u", "-f", "-k1,1", "u1", "u2"],
        b"",
        b"A 1\n",
        &mut f,
    );
    // Empty input, one empty line.
    expect(&dir, &[], &[], b"", b"", &mut f);
    expect(&dir, &[], &[], b"\n", b"\n", &mut f);
    f.finish();
}

/// Sorting a shuffled copy of `sorted` (one record a line) gives `sorted`, in GNU and bsort.
fn expect_shuffled(dir: &Dir, args: &[&str], sorted: &[&[u8]], seed: u64, fails: &mut Failures) {
    let mut lines: Vec<&[u8]> = sorted.to_vec();
    Rng::new(seed).shuffle(&mut lines);
    let input: Vec<u8> = lines
        .iter()
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    let expected: Vec<u8> = sorted
        .iter()
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    expect(dir, args, args, &input, &expected, fails);
}

/// §8.3: `printf 'b\na\n' | sort -c` → `sort: -:2: disorder: a`, status 1.
#[test]
fn worked_example_check_message() {
    if !require_gnu() {
        return;
    }
    let dir = Dir::new();
    let gnu = dir.gnu_sort(["-c"], b"b\na\n");
    assert_eq!(
        gnu.stderr, b"sort: -:2: disorder: a\n",
        "harness: GNU invoked as `sort`"
    );
    assert_eq!(gnu.status.code(), Some(1));
    let ours = dir.run(bsort(), ["-c"], b"b\na\n");
    assert_eq!(
        util::escape(&ours.stderr),
        util::escape(b"bsort: -:2: disorder: a\n")
    );
    assert_eq!(ours.status.code(), Some(1));
    let case = Case::new(["-c"], "b\na\n");
    util::assert_outputs_eq!(case, gnu, ours);
    // -z: the line is followed by its NUL; -C is silent; -c -u is strict.
    for (args, input) in [
        (&["-z", "-c"][..], &b"b\0a"[..]),
        (&["-C"], b"b\na\n"),
        (&["-c", "-u"], b"a\na\n"),
        (&["-c", "-u", "-k1,1"], b"a 2\na 1\n"),
        (&["-c"], b""),
        (&["-c", "-n"], b"1\n01\n"),
    ] {
        let case = Case::new(args, input);
        util::assert_outputs_eq!(case, dir.gnu_sort_case(&case), dir.run_case(bsort(), &case));
    }
}

/// §1.5: the key of `␣␣ab␣␣cd␣ef` for each spec in the table, probed by sorting variants
/// of the line that differ in one byte (with `-s`, so only the key decides); likewise the
/// `-t:` examples.
#[test]
fn worked_example_key_positions() {
    if !require_gnu() {
        return;
    }
    let dir = Dir::new();
    let mut fails = Failures::new("worked_example_key_positions");
    let probe = |base: &[u8], sep: Option<u8>| -> Vec<u8> {
        let mut v = base.to_vec();
        v.push(b'\n');
        for i in 0..base.len() {
            for c in [b'!', b'~', b'A'] {
                if Some(base[i]) == sep || base[i] == b' ' && c != b'!' {
                    continue;
                }
                let mut l = base.to_vec();
                l[i] = c;
                v.extend(l);
                v.push(b'\n');
            }
        }
        v
    };
    let blank_input = probe(b"  ab  cd ef", None);
    for spec in [
        "1,1", "2,2", "2b,2", "2.2,2", "2.2b,2", "2,2.1", "2,2.1b", "2,3.2", "1.3,1.4", "3,2",
        "2.9,3", "2,2.0", "1,3", "1b,1", "3.2,3.2",
    ] {
        for s in [&["-s"][..], &[]] {
            let mut args: Vec<&str> = s.to_vec();
            args.push("-k");
            args.push(spec);
            let case = Case::new(&args, blank_input.clone()).label("§1.5 table");
            oracle_once(&dir, &case, Compare::ALL, &mut fails);
        }
    }
    for base in [&b"a::b:c"[..], b"a:b:c:"] {
        let input = probe(base, Some(b':'));
        for spec in [
            "2,2", "3,3", "2.1,3.1", "4,4", "5,5", "1,2", "2,5", "3.2,4.1",
        ] {
            let case = Case::new(["-s", "-t:", "-k", spec], input.clone()).label("§1.5 -t:");
            oracle_once(&dir, &case, Compare::ALL, &mut fails);
        }
    }
    fails.finish();
}
