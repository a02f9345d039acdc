//! Aggregate functions for breduce: parsing `AGG` specs, per-group state with update and
//! finish, and exact decimal sums ([`decimal`]). Engines never print or exit: a value that
//! is not a number where one is needed, or a sum that overflows 38 digits, is an error value.

pub mod decimal;
pub mod engine;
pub mod fsum;
pub mod table;
pub mod text;
pub mod wide;

use wide::Wide;

use decimal::{format_exact, format_float, rescale, Number, LIMIT};
use std::collections::BTreeSet;

/// One aggregate function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Count,
    Sum,
    Min,
    Max,
    Mean,
    First,
    Last,
    CountDistinct,
    Distinct,
    Collect,
    Median,
    /// `q<P>`: the P-th percentile (0..=100), linear between closest ranks.
    Quantile(f64),
    Var,
    Stddev,
    PVar,
    PStddev,
}

impl Op {
    fn from_name(name: &str) -> Option<Op> {
        Some(match name {
            "count" => Op::Count,
            "sum" => Op::Sum,
            "min" => Op::Min,
            "max" => Op::Max,
            "mean" => Op::Mean,
            "first" => Op::First,
            "last" => Op::Last,
            "countdistinct" | "countunique" => Op::CountDistinct,
            "distinct" | "unique" => Op::Distinct,
            "collect" | "collapse" => Op::Collect,
            "median" => Op::Median,
            "var" | "svar" => Op::Var,
            "stddev" | "sstdev" => Op::Stddev,
            "pvar" => Op::PVar,
            "pstdev" | "pstddev" => Op::PStddev,
            q if q.starts_with('q') => {
                let p: f64 = q[1..].parse().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                Op::Quantile(p)
            }
            _ => return None,
        })
    }

    /// Whether the values must be numbers.
    pub fn numeric(&self) -> bool {
        matches!(
            self,
            Op::Sum
                | Op::Min
                | Op::Max
                | Op::Mean
                | Op::Median
                | Op::Quantile(_)
                | Op::Var
                | Op::Stddev
                | Op::PVar
                | Op::PStddev
        )
    }
}

/// A parsed `AGG`: `count` or `OP:FIELD`.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub op: Op,
    /// The field as given (a number, a column name or a JSON path); `None` for `count`.
    pub field: Option<String>,
    /// The text as given, for messages and `--header` names.
    pub text: String,
}

impl Spec {
    /// Parse an `AGG`; `None` when the text is not one (so it may be a file name).
    pub fn parse(s: &str) -> Option<Spec> {
        let (name, field) = match s.split_once(':') {
            Some((n, f)) if !f.is_empty() => (n, Some(f.to_string())),
            Some(_) => return None,
            None => (s, None),
        };
        let op = Op::from_name(name)?;
        if (op == Op::Count) != field.is_none() && !(op == Op::Count && field.is_some()) {
            return None;
        }
        Some(Spec {
            op,
            field,
            text: s.to_string(),
        })
    }

    /// The output column name for `--header`: `count`, `sum_amount`, `q90_price`, ...
    pub fn column_name(&self, field_name: &str) -> String {
        let op = self.text.split(':').next().unwrap_or(&self.text);
        match &self.field {
            None => op.to_string(),
            Some(_) => format!("{op}_{field_name}"),
        }
    }
}

/// What went wrong with a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AggError {
    #[error("not a number")]
    NotNumber,
    #[error("the sum overflows 38 digits")]
    Overflow,
    #[error("the float sum overflows (an intermediate sum past 1.8e308, as math.fsum says)")]
    FloatOverflow,
}

/// An exact-when-possible sum: integers and plain decimals exactly (i128 at the largest
/// scale); a group with any other number (exponents, inf, nan) is the exactly rounded sum
/// of every value's double, as Python's `math.fsum` gives it ([`fsum::Fsum`]).
///
/// Packed to 8-byte alignment: an `i128` would align the struct, and so every [`State`],
/// to 16 bytes, making a group's states larger (more cache lines per record).
#[derive(Default)]
#[repr(Rust, packed(8))]
pub struct Sum {
    mant: i128,
    scale: u32,
    /// A float value was seen: the result is `fs`.
    inexact: bool,
    /// The exact sum overflowed 38 digits.
    overflow: bool,
    /// The exact sum of every value's double, once it may be needed: made at the first
    /// value that is not a small integer (every value before it was one, so the exact
    /// `mant` seeds it exactly). `None`: every value so far was an integer of at most 2^53.
    fs: Option<Box<fsum::Fsum>>,
}

// By hand: derived impls would take references to the packed `mant`.
impl Clone for Sum {
    fn clone(&self) -> Sum {
        Sum {
            mant: self.mant,
            scale: self.scale,
            inexact: self.inexact,
            overflow: self.overflow,
            fs: self.fs.clone(),
        }
    }
}

impl std::fmt::Debug for Sum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mant = self.mant;
        f.debug_struct("Sum")
            .field("mant", &mant)
            .field("scale", &self.scale)
            .field("inexact", &self.inexact)
            .field("overflow", &self.overflow)
            .field("fs", &self.fs)
            .finish()
    }
}

/// Powers of ten that doubles hold exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The correctly rounded double of an exact decimal (what Python's `float()` reads).
pub(crate) fn exact_to_f64(mant: i128, scale: u32) -> f64 {
    if mant.unsigned_abs() <= 1 << 53 && (scale as usize) < POW10.len() {
        // Both exact: one correctly rounded division.
        return mant as f64 / POW10[scale as usize];
    }
    let mut t = Vec::new();
    format_exact(mant, scale, &mut t);
    std::str::from_utf8(&t)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(f64::NAN)
}

impl Sum {
    /// The double accumulator, made from the exact sum so far (all small integers).
    fn fs(&mut self) -> &mut fsum::Fsum {
        let mant = self.mant;
        self.fs.get_or_insert_with(|| {
            let mut f = fsum::Fsum::default();
            f.add_i128(mant);
            Box::new(f)
        })
    }

    /// The float result: the exactly rounded sum of every value's double.
    fn float(&self) -> Result<f64, AggError> {
        match &self.fs {
            Some(f) if f.overflowed() => Err(AggError::FloatOverflow),
            Some(f) => Ok(f.value()),
            None => Ok(self.mant as f64),
        }
    }

    /// The usual case in a few instructions: `value` is a plain integer of at most 15
    /// digits (below 2^53) and every value so far was a small integer, so the sum stays an
    /// exact integer and needs no float accumulator — what [`Sum::add`] would do, without
    /// making and passing a [`Number`]. False: nothing was added.
    #[inline]
    fn add_small(&mut self, value: &[u8]) -> bool {
        if self.scale != 0 || self.inexact || self.overflow || self.fs.is_some() {
            return false;
        }
        let Some(v) = decimal::small_int(value) else {
            return false;
        };
        let t = self.mant + i128::from(v);
        if t.unsigned_abs() >= LIMIT {
            return false;
        }
        self.mant = t;
        true
    }

    #[inline]
    fn add(&mut self, n: Number) {
        match n {
            Number::Exact { mant, scale } => {
                let small = scale == 0 && mant.unsigned_abs() <= 1 << 53;
                if !small || self.fs.is_some() {
                    self.fs().add(exact_to_f64(mant, scale));
                }
                if self.inexact || self.overflow {
                    return;
                }
                let total = if scale == self.scale {
                    self.mant.checked_add(mant)
                } else {
                    let s = self.scale.max(scale);
                    rescale(self.mant, self.scale, s)
                        .zip(rescale(mant, scale, s))
                        .and_then(|(a, b)| a.checked_add(b))
                        .inspect(|_| self.scale = s)
                };
                match total {
                    Some(t) if t.unsigned_abs() < LIMIT => self.mant = t,
                    _ => {
                        if self.fs.is_none() {
                            self.fs().add(exact_to_f64(mant, scale));
                        }
                        self.overflow = true;
                    }
                }
            }
            Number::Float(f) => {
                self.fs().add(f);
                self.inexact = true;
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), AggError> {
        if self.inexact {
            format_float(self.float()?, out);
            Ok(())
        } else if self.overflow {
            Err(AggError::Overflow)
        } else {
            format_exact(self.mant, self.scale, out);
            Ok(())
        }
    }
}

/// The running state of one aggregate over one group.
#[derive(Clone, Debug)]
pub enum State {
    Count(u64),
    Sum(Sum),
    Best {
        /// Boxed: a number is 32 bytes with 16-byte alignment, which would make every
        /// state 80 bytes.
        best: Option<Box<(Number, Vec<u8>)>>,
        max: bool,
    },
    Mean(Sum, u64),
    First(Option<Vec<u8>>),
    Last(Option<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Collect(Vec<u8>, bool),
    Values(Vec<Number>),
    /// Boxed: a group's states stay small (cache lines per record) for the usual aggregates.
    Moments(Box<Moments>),
}

/// The running moments of var/stddev/pvar/pstdev.
#[derive(Clone, Debug, Default)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    /// Exact sums of x and x², while every value is an exact decimal: the variance is
    /// then computed from them, the same whatever order partial states merge in.
    sx: Sum,
    sxx: Squares,
}

impl State {
    pub fn new(op: Op) -> State {
        match op {
            Op::Count => State::Count(0),
            Op::Sum => State::Sum(Sum::default()),
            Op::Min => State::Best {
                best: None,
                max: false,
            },
            Op::Max => State::Best {
                best: None,
                max: true,
            },
            Op::Mean => State::Mean(Sum::default(), 0),
            Op::First => State::First(None),
            Op::Last => State::Last(None),
            Op::CountDistinct | Op::Distinct => State::Set(BTreeSet::new()),
            Op::Collect => State::Collect(Vec::new(), false),
            Op::Median | Op::Quantile(_) => State::Values(Vec::new()),
            Op::Var | Op::Stddev | Op::PVar | Op::PStddev => State::Moments(Box::default()),
        }
    }

    /// Add one record's value (ignored by `count`).
    pub fn update(&mut self, value: &[u8]) -> Result<(), AggError> {
        let num = |v: &[u8]| decimal::parse(v).ok_or(AggError::NotNumber);
        match self {
            State::Count(n) => *n += 1,
            State::Sum(s) => {
                if !s.add_small(value) {
                    s.add(num(value)?)
                }
            }
            State::Best { best, max } => {
                let n = num(value)?;
                let better = match best {
                    None => true,
                    Some(b) => {
                        let o = n.cmp_num(&b.0);
                        if *max {
                            o.is_gt()
                        } else {
                            o.is_lt()
                        }
                    }
                };
                if better {
                    *best = Some(Box::new((n, value.to_vec())));
                }
            }
            State::Mean(s, c) => {
                if !s.add_small(value) {
                    s.add(num(value)?);
                }
                *c += 1;
            }
            State::First(f) => {
                if f.is_none() {
                    *f = Some(value.to_vec());
                }
            }
            State::Last(l) => {
                let v = l.get_or_insert_with(Vec::new);
                v.clear();
                v.extend_from_slice(value);
            }
            State::Set(s) => {
                if !s.contains(value) {
                    s.insert(value.to_vec());
                }
            }
            State::Collect(v, any) => {
                if *any {
                    v.push(b',');
                }
                v.extend_from_slice(value);
                *any = true;
            }
            State::Values(v) => v.push(num(value)?),
            State::Moments(m) => {
                let Moments {
                    n,
                    mean,
                    m2,
                    sx,
                    sxx,
                } = &mut **m;
                let v = num(value)?;
                sx.add(v);
                match v {
                    Number::Exact { mant, scale } => sxx.add(Wide::product(mant, mant), scale * 2),
                    Number::Float(_) => sxx.broken = true,
                }
                let x = v.to_f64();
                *n += 1;
                let d = x - *mean;
                *mean += d / *n as f64;
                *m2 += d * (x - *mean);
            }
        }
        Ok(())
    }

    /// Write the result for `op`.
    pub fn finish(&mut self, op: Op, out: &mut Vec<u8>) -> Result<(), AggError> {
        match self {
            State::Count(n) => decimal::push_u64(*n, out),
            State::Sum(s) => s.write(out)?,
            State::Best { best, .. } => {
                if let Some(b) = best {
                    out.extend_from_slice(&b.1);
                }
            }
            State::Mean(s, c) => {
                if *c > 0 {
                    if s.overflow && !s.inexact {
                        return Err(AggError::Overflow);
                    }
                    let total = if s.inexact {
                        s.float()?
                    } else {
                        Number::Exact {
                            mant: s.mant,
                            scale: s.scale,
                        }
                        .to_f64()
                    };
                    format_float(total / *c as f64, out);
                }
            }
            State::First(f) => out.extend_from_slice(f.as_deref().unwrap_or(&[])),
            State::Last(l) => out.extend_from_slice(l.as_deref().unwrap_or(&[])),
            State::Set(s) => {
                if op == Op::CountDistinct {
                    out.extend_from_slice(s.len().to_string().as_bytes());
                } else {
                    for (i, v) in s.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(v);
                    }
                }
            }
            State::Collect(v, _) => out.extend_from_slice(v),
            State::Values(v) => {
                if !v.is_empty() {
                    v.sort_by(|a, b| a.cmp_num(b));
                    let p = match op {
                        Op::Quantile(p) => p / 100.0,
                        _ => 0.5,
                    };
                    let pos = (v.len() - 1) as f64 * p;
                    let lo = pos.floor() as usize;
                    let hi = (pos.ceil() as usize).min(v.len() - 1);
                    let frac = pos - lo as f64;
                    if frac == 0.0 {
                        write_number(v[lo], out);
                    } else if let (0.5, Some(mid)) = (frac, midpoint(v[lo], v[hi])) {
                        write_number(mid, out);
                    } else {
                        let (a, b) = (v[lo].to_f64(), v[hi].to_f64());
                        format_float(a + (b - a) * frac, out);
                    }
                }
            }
            State::Moments(m) => {
                let Moments { n, m2, sx, sxx, .. } = &**m;
                let pop = matches!(op, Op::PVar | Op::PStddev);
                let (nf, m2) = (*n as f64, *m2);
                let denom = if pop { nf * nf } else { nf * (nf - 1.0) };
                let var = match exact_numerator(*n, sx, sxx) {
                    // n·Σx² − (Σx)², exact, over n² or n(n−1), at scale S.
                    Some((num, scale)) => num / denom / 10f64.powi(scale as i32),
                    None if pop => m2 / nf,
                    None => m2 / (nf - 1.0),
                };
                let v = match op {
                    Op::Stddev | Op::PStddev => var.sqrt(),
                    _ => var,
                };
                // n = 1 sample variance (0/0) and n = 0 are NaN, printed `nan` as datamash does.
                format_float(if v.is_finite() { v } else { f64::NAN }, out);
            }
        }
        Ok(())
    }
}

/// An exact sum of squares (at the largest scale seen), until a float or an overflow.
#[derive(Clone, Debug, Default)]
pub struct Squares {
    sum: Wide,
    scale: u32,
    broken: bool,
}

impl Squares {
    fn add(&mut self, w: Wide, scale: u32) {
        if self.broken {
            return;
        }
        let s = self.scale.max(scale);
        let sum = self
            .sum
            .scale_up(s - self.scale)
            .zip(w.scale_up(s - scale))
            .and_then(|(a, b)| a.add(&b));
        match sum {
            Some(v) => {
                self.sum = v;
                self.scale = s;
            }
            None => self.broken = true,
        }
    }

    fn merge(&mut self, b: &Squares) {
        if b.broken {
            self.broken = true;
        }
        self.add(b.sum, b.scale);
    }
}

/// `n·Σx² − (Σx)²` as an f64 and its scale, when both sums are exact: computed exactly,
/// rounded once, so the variance does not depend on the order values were combined in.
fn exact_numerator(n: u64, sx: &Sum, sxx: &Squares) -> Option<(f64, u32)> {
    if sx.inexact || sx.overflow || sxx.broken || n == 0 {
        return None;
    }
    let scale = (sx.scale * 2).max(sxx.scale);
    let square = Wide::product(sx.mant, sx.mant).scale_up(scale - sx.scale * 2)?;
    let scaled = sxx.sum.scale_up(scale - sxx.scale)?.mul_small(n)?;
    Some((scaled.sub(&square)?.to_f64(), scale))
}

fn write_number(n: Number, out: &mut Vec<u8>) {
    match n {
        Number::Exact { mant, scale } => format_exact(mant, scale, out),
        Number::Float(f) => format_float(f, out),
    }
}

/// The exact mean of two exact decimals, at one more digit of scale only when needed.
fn midpoint(a: Number, b: Number) -> Option<Number> {
    let (Number::Exact { mant: x, scale: sx }, Number::Exact { mant: y, scale: sy }) = (a, b)
    else {
        return None;
    };
    let s = sx.max(sy);
    let sum = rescale(x, sx, s)?.checked_add(rescale(y, sy, s)?)?;
    let mut mant = sum.checked_mul(5)?;
    let mut scale = s + 1;
    if mant % 10 == 0 {
        mant /= 10;
        scale -= 1;
    }
    Some(Number::Exact { mant, scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: &str, values: &[&str]) -> String {
        let s = Spec::parse(spec).unwrap_or_else(|| panic!("{spec}"));
        let mut st = State::new(s.op);
        for v in values {
            st.update(v.as_bytes())
                .unwrap_or_else(|e| panic!("{v}: {e}"));
        }
        let mut out = Vec::new();
        st.finish(s.op, &mut out).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn exact_sums() {
        assert_eq!(run("sum:2", &["0.10", "0.20"]), "0.30");
        assert_eq!(run("sum:2", &vec!["0.10"; 1000]), "100.00");
        assert_eq!(
            run("sum:2", &["9223372036854775807", "9223372036854775807"]),
            "18446744073709551614"
        );
        assert_eq!(run("sum:2", &["1", "-1.5"]), "-0.5");
        assert_eq!(run("sum:2", &["1e2", "1"]), "101");
        let s = Spec::parse("sum:2").unwrap_or_else(|| panic!());
        let mut st = State::new(s.op);
        let big = "9".repeat(37);
        for _ in 0..20 {
            let _ = st.update(big.as_bytes());
        }
        assert_eq!(st.finish(s.op, &mut Vec::new()), Err(AggError::Overflow));
    }

    #[test]
    fn others() {
        assert_eq!(run("count", &["a", "b"]), "2");
        assert_eq!(run("min:1", &["10", "9.5", "-2"]), "-2");
        assert_eq!(run("max:1", &["10", "9.5", "010.0"]), "10");
        assert_eq!(run("mean:1", &["1", "2"]), "1.5");
        assert_eq!(run("median:1", &["4", "1", "3", "2"]), "2.5");
        assert_eq!(run("median:1", &["0.10", "0.20"]), "0.15");
        assert_eq!(run("median:1", &["3.50", "1", "9"]), "3.50");
        assert_eq!(run("q25:1", &["1", "2", "3", "4"]), "1.75");
        assert_eq!(
            run(
                "q90:1",
                &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]
            ),
            "10"
        );
        assert_eq!(run("distinct:1", &["b", "a", "b"]), "a,b");
        assert_eq!(run("countunique:1", &["b", "a", "b"]), "2");
        assert_eq!(run("collect:1", &["b", "a", "b"]), "b,a,b");
        assert_eq!(run("first:1", &["b", "a"]), "b");
        assert_eq!(run("last:1", &["b", "a"]), "a");
        assert_eq!(run("var:1", &["1", "2", "3", "4"]), "1.6666666666666667");
        assert_eq!(run("pvar:1", &["1", "2", "3", "4"]), "1.25");
        assert_eq!(run("stddev:1", &["5"]), "nan");
    }

    #[test]
    fn specs() {
        assert!(Spec::parse("count").is_some());
        assert!(Spec::parse("sum").is_none());
        assert!(Spec::parse("sum:").is_none());
        assert!(Spec::parse("nope:2").is_none());
        assert!(Spec::parse("q101:2").is_none());
        assert!(Spec::parse("data.tsv").is_none());
        assert_eq!(
            Spec::parse("sum:amount").map(|s| s.column_name("amount")),
            Some("sum_amount".into())
        );
    }
}

/// Binary partial states, for spilling a hash table and merging it back (not a stable
/// interchange format: `--partial`/`--merge` will get a text one).
pub mod partial {
    use super::*;

    fn put_u32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
        put_u32(out, b.len() as u32);
        out.extend_from_slice(b);
    }

    fn put_number(out: &mut Vec<u8>, n: &Number) {
        match *n {
            Number::Exact { mant, scale } => {
                out.push(0);
                out.extend_from_slice(&mant.to_le_bytes());
                put_u32(out, scale);
            }
            Number::Float(f) => {
                out.push(1);
                out.extend_from_slice(&f.to_le_bytes());
            }
        }
    }

    fn put_squares(out: &mut Vec<u8>, s: &Squares) {
        out.push(u8::from(s.sum.neg) | u8::from(s.broken) << 1);
        for l in s.sum.mag {
            out.extend_from_slice(&l.to_le_bytes());
        }
        put_u32(out, s.scale);
    }

    fn put_sum(out: &mut Vec<u8>, s: &Sum) {
        out.extend_from_slice(&s.mant.to_le_bytes());
        put_u32(out, s.scale);
        let f = s.fs.as_deref();
        out.push(
            u8::from(s.inexact)
                | u8::from(s.overflow) << 1
                | u8::from(f.is_some()) << 2
                | u8::from(f.is_some_and(|f| f.overflowed())) << 3,
        );
        if let Some(f) = f {
            put_u32(out, f.terms().count() as u32);
            for t in f.terms() {
                out.extend_from_slice(&t.to_le_bytes());
            }
        }
    }

    /// Reads what the `put_*` functions wrote; a short buffer is an error, not a panic.
    pub struct Reader<'a> {
        pub buf: &'a [u8],
    }

    /// A partial state that does not decode.
    #[derive(Debug, Clone, PartialEq, thiserror::Error)]
    #[error("corrupt partial state")]
    pub struct Corrupt;

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
            if self.buf.len() < n {
                return Err(Corrupt);
            }
            let (a, b) = self.buf.split_at(n);
            self.buf = b;
            Ok(a)
        }
        fn u8(&mut self) -> Result<u8, Corrupt> {
            Ok(self.take(1)?[0])
        }
        fn u32(&mut self) -> Result<u32, Corrupt> {
            let b = self.take(4)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
        fn u64(&mut self) -> Result<u64, Corrupt> {
            let mut a = [0u8; 8];
            a.copy_from_slice(self.take(8)?);
            Ok(u64::from_le_bytes(a))
        }
        fn f64(&mut self) -> Result<f64, Corrupt> {
            Ok(f64::from_bits(self.u64()?))
        }
        fn i128(&mut self) -> Result<i128, Corrupt> {
            let mut a = [0u8; 16];
            a.copy_from_slice(self.take(16)?);
            Ok(i128::from_le_bytes(a))
        }
        pub fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
            let n = self.u32()? as usize;
            self.take(n)
        }
        fn number(&mut self) -> Result<Number, Corrupt> {
            Ok(match self.u8()? {
                0 => Number::Exact {
                    mant: self.i128()?,
                    scale: self.u32()?,
                },
                _ => Number::Float(self.f64()?),
            })
        }
        fn squares(&mut self) -> Result<Squares, Corrupt> {
            let f = self.u8()?;
            let mut mag = [0u64; 4];
            for l in &mut mag {
                *l = self.u64()?;
            }
            Ok(Squares {
                sum: Wide {
                    neg: f & 1 != 0,
                    mag,
                },
                scale: self.u32()?,
                broken: f & 2 != 0,
            })
        }

        fn sum(&mut self) -> Result<Sum, Corrupt> {
            let mant = self.i128()?;
            let scale = self.u32()?;
            let f = self.u8()?;
            let fs = if f & 4 != 0 {
                let mut acc = fsum::Fsum::default();
                for _ in 0..self.u32()? {
                    acc.add(self.f64()?);
                }
                if f & 8 != 0 {
                    acc.set_overflow();
                }
                Some(Box::new(acc))
            } else {
                None
            };
            Ok(Sum {
                mant,
                scale,
                inexact: f & 1 != 0,
                overflow: f & 2 != 0,
                fs,
            })
        }
    }

    impl State {
        /// Append this state's partial encoding.
        pub fn encode(&self, out: &mut Vec<u8>) {
            match self {
                State::Count(n) => out.extend_from_slice(&n.to_le_bytes()),
                State::Sum(s) => put_sum(out, s),
                State::Best { best, .. } => match best {
                    None => out.push(0),
                    Some(b) => {
                        out.push(1);
                        put_number(out, &b.0);
                        put_bytes(out, &b.1);
                    }
                },
                State::Mean(s, c) => {
                    put_sum(out, s);
                    out.extend_from_slice(&c.to_le_bytes());
                }
                State::First(f) => match f {
                    None => out.push(0),
                    Some(t) => {
                        out.push(1);
                        put_bytes(out, t);
                    }
                },
                State::Last(t) => match t {
                    None => out.push(0),
                    Some(t) => {
                        out.push(1);
                        put_bytes(out, t);
                    }
                },
                State::Set(s) => {
                    put_u32(out, s.len() as u32);
                    for v in s {
                        put_bytes(out, v);
                    }
                }
                State::Collect(v, any) => {
                    out.push(u8::from(*any));
                    put_bytes(out, v);
                }
                State::Values(v) => {
                    put_u32(out, v.len() as u32);
                    for n in v {
                        put_number(out, n);
                    }
                }
                State::Moments(m) => {
                    let Moments {
                        n,
                        mean,
                        m2,
                        sx,
                        sxx,
                    } = &**m;
                    put_sum(out, sx);
                    put_squares(out, sxx);
                    out.extend_from_slice(&n.to_le_bytes());
                    out.extend_from_slice(&mean.to_le_bytes());
                    out.extend_from_slice(&m2.to_le_bytes());
                }
            }
        }

        /// Read a state of `op` from `r`.
        pub fn decode(op: Op, r: &mut Reader) -> Result<State, Corrupt> {
            Ok(match State::new(op) {
                State::Count(_) => State::Count(r.u64()?),
                State::Sum(_) => State::Sum(r.sum()?),
                State::Best { max, .. } => {
                    let best = if r.u8()? == 1 {
                        Some(Box::new((r.number()?, r.bytes()?.to_vec())))
                    } else {
                        None
                    };
                    State::Best { best, max }
                }
                State::Mean(..) => {
                    let s = r.sum()?;
                    State::Mean(s, r.u64()?)
                }
                State::First(_) => State::First(if r.u8()? == 1 {
                    Some(r.bytes()?.to_vec())
                } else {
                    None
                }),
                State::Last(_) => State::Last(if r.u8()? == 1 {
                    Some(r.bytes()?.to_vec())
                } else {
                    None
                }),
                State::Set(_) => {
                    let n = r.u32()?;
                    let mut s = BTreeSet::new();
                    for _ in 0..n {
                        s.insert(r.bytes()?.to_vec());
                    }
                    State::Set(s)
                }
                State::Collect(..) => {
                    let any = r.u8()? == 1;
                    State::Collect(r.bytes()?.to_vec(), any)
                }
                State::Values(_) => {
                    let n = r.u32()?;
                    let mut v = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        v.push(r.number()?);
                    }
                    State::Values(v)
                }
                State::Moments(_) => {
                    let sx = r.sum()?;
                    let sxx = r.squares()?;
                    State::Moments(Box::new(Moments {
                        n: r.u64()?,
                        mean: r.f64()?,
                        m2: r.f64()?,
                        sx,
                        sxx,
                    }))
                }
            })
        }

        /// Fold `later` (the same aggregate over records that came after) into this state.
        pub fn merge(&mut self, later: State) {
            match (self, later) {
                // Saturating: partial lines may say anything (a fuzz find: 1 + 2^64-1
                // overflowed); no real input reaches 2^64 records.
                (State::Count(a), State::Count(b)) => *a = a.saturating_add(b),
                (State::Sum(a), State::Sum(b)) => a.merge(&b),
                (
                    State::Best { best, max },
                    State::Best {
                        best: Some(later), ..
                    },
                ) => {
                    let better = match best {
                        None => true,
                        Some(b) if *max => later.0.cmp_num(&b.0).is_gt(),
                        Some(b) => later.0.cmp_num(&b.0).is_lt(),
                    };
                    if better {
                        *best = Some(later);
                    }
                }
                (State::Mean(a, c), State::Mean(b, d)) => {
                    a.merge(&b);
                    *c = c.saturating_add(d);
                }
                (State::First(a), State::First(b)) if a.is_none() => *a = b,
                (State::Last(a), State::Last(b)) if b.is_some() => *a = b,
                (State::Set(a), State::Set(b)) => a.extend(b),
                (State::Collect(a, any), State::Collect(b, true)) => {
                    if *any {
                        a.push(b',');
                    }
                    a.extend_from_slice(&b);
                    *any = true;
                }
                (State::Values(a), State::Values(b)) => a.extend(b),
                (State::Moments(a), State::Moments(b)) if b.n > 0 => {
                    let Moments {
                        n,
                        mean,
                        m2,
                        sx,
                        sxx,
                    } = &mut **a;
                    let Moments {
                        n: nb,
                        mean: mb,
                        m2: m2b,
                        sx: bx,
                        sxx: bxx,
                    } = *b;
                    sx.merge(&bx);
                    sxx.merge(&bxx);
                    let na = *n as f64;
                    let nbf = nb as f64;
                    let total = na + nbf;
                    let delta = mb - *mean;
                    *mean += delta * nbf / total;
                    *m2 += m2b + delta * delta * na * nbf / total;
                    *n = n.saturating_add(nb);
                }
                _ => {}
            }
        }
    }

    impl Sum {
        pub(crate) fn merge(&mut self, b: &Sum) {
            let exact = |s: &Sum| !s.inexact && !s.overflow;
            // The doubles' sum, when either side has one (or the exact sum overflows).
            if self.fs.is_some() || b.fs.is_some() {
                match &b.fs {
                    Some(bf) => self.fs().merge(bf),
                    None => self.fs().add_i128(b.mant),
                }
            }
            if exact(self) && exact(b) {
                let s = self.scale.max(b.scale);
                let total = rescale(self.mant, self.scale, s)
                    .zip(rescale(b.mant, b.scale, s))
                    .and_then(|(x, y)| x.checked_add(y));
                match total {
                    Some(t) if t.unsigned_abs() < LIMIT => {
                        self.mant = t;
                        self.scale = s;
                    }
                    _ => {
                        if self.fs.is_none() {
                            // Both were sums of small integers: exact as doubles.
                            self.fs().add_i128(b.mant);
                        }
                        self.overflow = true;
                    }
                }
                return;
            }
            self.inexact |= b.inexact;
            self.overflow |= b.overflow;
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn split_and_merge_equals_whole() {
            let values = ["3", "0.10", "-2.5", "7", "7", "1e1", "0.20", "4"];
            for spec in [
                "count",
                "sum:1",
                "min:1",
                "max:1",
                "mean:1",
                "first:1",
                "last:1",
                "countdistinct:1",
                "distinct:1",
                "collect:1",
                "median:1",
                "q90:1",
                "var:1",
                "stddev:1",
                "pvar:1",
                "pstdev:1",
            ] {
                let s = Spec::parse(spec).unwrap_or_else(|| panic!("{spec}"));
                let mut whole = State::new(s.op);
                for v in values {
                    let _ = whole.update(v.as_bytes());
                }
                for cut in 0..=values.len() {
                    let mut a = State::new(s.op);
                    let mut b = State::new(s.op);
                    for v in &values[..cut] {
                        let _ = a.update(v.as_bytes());
                    }
                    for v in &values[cut..] {
                        let _ = b.update(v.as_bytes());
                    }
                    let mut buf = Vec::new();
                    a.encode(&mut buf);
                    b.encode(&mut buf);
                    let mut r = Reader { buf: &buf };
                    let mut a2 = State::decode(s.op, &mut r).unwrap_or_else(|e| panic!("{e}"));
                    let b2 = State::decode(s.op, &mut r).unwrap_or_else(|e| panic!("{e}"));
                    a2.merge(b2);
                    let (mut x, mut y) = (Vec::new(), Vec::new());
                    let _ = whole.clone().finish(s.op, &mut x);
                    let _ = a2.finish(s.op, &mut y);
                    let (x, y) = (
                        String::from_utf8_lossy(&x).into_owned(),
                        String::from_utf8_lossy(&y).into_owned(),
                    );
                    if x != y {
                        // Floating aggregates may differ in the last bits.
                        let (fx, fy) = (x.parse::<f64>(), y.parse::<f64>());
                        let close = matches!((fx, fy), (Ok(p), Ok(q)) if (p - q).abs() <= 1e-9 * p.abs().max(1.0));
                        assert!(close, "{spec} cut {cut}: {x} != {y}");
                    }
                }
            }
        }
    }
}
