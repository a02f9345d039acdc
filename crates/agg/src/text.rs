//! Text partial states, for `breduce --partial`, `bshuffle --combine` and `breduce --merge`:
//! one token per aggregate with no TAB, CR or newline in it, so that a partial line is a
//! TSV record `KEY... STATE...` that every tool can sort, shuffle and read back.
//!
//! Values inside states (first/last/min/max texts, distinct members, collected lists) are
//! escaped with backslashes: `\\`, `\t`, `\n`, `\r`, and `\,` inside lists. The tokens are
//! readable on purpose (a sum is its decimal, a count its number):
//!
//! | aggregate            | token                                                    |
//! |----------------------|----------------------------------------------------------|
//! | count                | `N`                                                      |
//! | sum                  | exact `DECIMAL` (scale kept: `100.00`), `~FLOAT`, or `!FLOAT` (overflowed); `DECIMAL~HEXFLOAT...`: what its values' doubles sum to beyond the decimal's double |
//! | mean                 | `SUM/N`                                                  |
//! | min, max, first, last | empty for no value, else `=` and the value              |
//! | countdistinct, distinct | each member followed by `,`                           |
//! | collect              | empty for no value, else `=` and the joined list         |
//! | var, stddev, ...     | `N;MEAN;M2;SUM;SQUARES`                                   |
//!
//! median and quantiles need every value and have no partial form.

use super::{decimal, Moments, Op, Squares, State, Sum, Wide};
use std::collections::BTreeSet;

/// Whether `op` has a partial form (median and quantiles do not).
pub fn combinable(op: Op) -> bool {
    !matches!(op, Op::Median | Op::Quantile(_))
}

/// A token that does not decode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("not a partial state of {0}: \"{1}\"")]
pub struct BadState(pub &'static str, pub String);

/// Append `v` escaped: backslash, TAB, LF, CR, and (when `comma`) commas.
pub fn escape(v: &[u8], comma: bool, out: &mut Vec<u8>) {
    for &c in v {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b',' if comma => out.extend_from_slice(b"\\,"),
            c => out.push(c),
        }
    }
}

/// Undo [`escape`] on `v`, appending to `out`; stops at an unescaped `,` when `list`,
/// returning the bytes consumed.
pub fn unescape(v: &[u8], list: bool, out: &mut Vec<u8>) -> usize {
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' if i + 1 < v.len() => {
                out.push(match v[i + 1] {
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'r' => b'\r',
                    c => c,
                });
                i += 2;
            }
            b',' if list => return i,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    i
}

fn put_float(f: f64, out: &mut Vec<u8>) {
    // `{:e}` is Rust's shortest round-trip form with an exponent: 1e300, 1.5e0, inf, NaN.
    out.extend_from_slice(format!("{f:e}").as_bytes());
}

/// `carry`: also write what an exact sum's values' doubles sum to (sums and means need it
/// should the group meet a float elsewhere; a variance's sum does not: a float there
/// breaks its exact squares and the variance comes from its moments).
fn put_sum(s: &Sum, carry: bool, out: &mut Vec<u8>) {
    // An exact sum is its decimal. A float sum (or an overflowed one) is `~` (or `!`) and
    // then `~TERM` for each double of its exact accumulator: their exact sum is the state.
    if !s.inexact && !s.overflow {
        decimal::format_exact(s.mant, s.scale, out);
        // The exact accumulator of the values' doubles goes along when the decimal alone
        // would not rebuild it (see `parse_sum`): the double of a decimal total is not the
        // sum of its values' doubles (65.16 + 78.87 + 9.39 then 1e16, -1e16 and 0.5 is
        // 153.92000000000002 by math.fsum, 153.92 from the total's double), and a group
        // meeting a float in another partial needs the latter.
        // Only the difference is written: what the doubles sum to beyond the decimal's own
        // double (Fsum is exact, so subtracting it is too), usually one tiny term.
        // In hex (`0x1.9p-48`): such a difference has few bits, so it is short there.
        if let Some(f) = s.fs.as_deref().filter(|_| carry) {
            let mut beyond = f.clone();
            if s.scale == 0 {
                beyond.add_i128(-s.mant);
            } else {
                beyond.add(-super::exact_to_f64(s.mant, s.scale));
            }
            if beyond.overflowed() {
                out.extend_from_slice(b"~!");
            }
            // Its rounded value, then what is left, and so on: few terms (the partials
            // left by the subtraction need not be).
            for _ in 0..8 {
                let v = beyond.value();
                if v == 0.0 || !v.is_finite() {
                    break;
                }
                out.push(b'~');
                put_hex_float(v, out);
                beyond.add(-v);
            }
            for t in beyond.terms() {
                out.push(b'~');
                put_hex_float(t, out);
            }
        }
        return;
    }
    if !s.inexact {
        out.push(b'!');
    }
    match s.fs.as_deref() {
        Some(f) if put_terms(f, out) => {}
        _ => out.extend_from_slice(b"~0e0"),
    }
}

/// Append `~TERM` for each double of `f` (and `~!` if it overflowed); whether any term was
/// written.
fn put_terms(f: &crate::fsum::Fsum, out: &mut Vec<u8>) -> bool {
    if f.overflowed() {
        out.extend_from_slice(b"~!");
    }
    let mut any = false;
    for t in f.terms() {
        out.push(b'~');
        put_float(t, out);
        any = true;
    }
    any
}

/// The accumulator `parse_sum` makes for an exact sum before its terms: the integer
/// itself, or the double of a decimal.
fn rebuilt_fsum(mant: i128, scale: u32) -> crate::fsum::Fsum {
    let mut f = crate::fsum::Fsum::default();
    if scale == 0 {
        f.add_i128(mant);
    } else {
        f.add(super::exact_to_f64(mant, scale));
    }
    f
}

fn put_squares(s: &Squares, out: &mut Vec<u8>) {
    if s.broken {
        out.push(b'x');
        return;
    }
    if s.sum.neg {
        out.push(b'-');
    }
    for (i, l) in s.sum.mag.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(format!("{l:x}").as_bytes());
    }
    out.extend_from_slice(format!("@{}", s.scale).as_bytes());
}

fn put_value(v: Option<&[u8]>, out: &mut Vec<u8>) {
    if let Some(v) = v {
        out.push(b'=');
        escape(v, false, out);
    }
}

impl State {
    /// Append this state's text token (see the module's table). median and quantiles have
    /// none: callers refuse them first ([`combinable`]); here they write their count.
    pub fn encode_text(&self, out: &mut Vec<u8>) {
        match self {
            State::Count(n) => decimal::push_u64(*n, out),
            State::Sum(s) => put_sum(s, true, out),
            State::Mean(s, n) => {
                put_sum(s, true, out);
                out.extend_from_slice(format!("/{n}").as_bytes());
            }
            State::Best { best, .. } => put_value(best.as_ref().map(|b| b.1.as_slice()), out),
            State::First(v) | State::Last(v) => put_value(v.as_deref(), out),
            State::Collect(v, any) => put_value(any.then_some(v.as_slice()), out),
            State::Set(s) => {
                for v in s {
                    escape(v, true, out);
                    out.push(b',');
                }
            }
            State::Values(v) => out.extend_from_slice(v.len().to_string().as_bytes()),
            State::Moments(m) => {
                let Moments {
                    n,
                    mean,
                    m2,
                    sx,
                    sxx,
                } = &**m;
                out.extend_from_slice(n.to_string().as_bytes());
                out.push(b';');
                put_float(*mean, out);
                out.push(b';');
                put_float(*m2, out);
                out.push(b';');
                put_sum(sx, false, out);
                out.push(b';');
                put_squares(sxx, out);
            }
        }
    }

    /// Read a state of `op` from its text token.
    pub fn decode_text(op: Op, t: &[u8]) -> Result<State, BadState> {
        let name = op_name(op);
        let bad = || BadState(name, String::from_utf8_lossy(t).into_owned());
        let value = |t: &[u8]| -> Result<Option<Vec<u8>>, BadState> {
            match t.split_first() {
                None => Ok(None),
                Some((b'=', v)) => {
                    let mut out = Vec::with_capacity(v.len());
                    unescape(v, false, &mut out);
                    Ok(Some(out))
                }
                Some(_) => Err(bad()),
            }
        };
        Ok(match State::new(op) {
            State::Count(_) => State::Count(parse_u64(t).ok_or_else(bad)?),
            State::Sum(_) => State::Sum(parse_sum(t).ok_or_else(bad)?),
            State::Mean(..) => {
                let slash = t.iter().rposition(|&c| c == b'/').ok_or_else(bad)?;
                let s = parse_sum(&t[..slash]).ok_or_else(bad)?;
                State::Mean(s, parse_u64(&t[slash + 1..]).ok_or_else(bad)?)
            }
            State::Best { max, .. } => {
                let best = match value(t)? {
                    None => None,
                    Some(v) => {
                        let n = decimal::parse(&v).ok_or_else(bad)?;
                        Some(Box::new((n, v)))
                    }
                };
                State::Best { best, max }
            }
            State::First(_) => State::First(value(t)?),
            State::Last(_) => State::Last(value(t)?),
            State::Collect(..) => match value(t)? {
                None => State::Collect(Vec::new(), false),
                Some(v) => State::Collect(v, true),
            },
            State::Set(_) => {
                let mut set = BTreeSet::new();
                let mut rest = t;
                while !rest.is_empty() {
                    let mut v = Vec::new();
                    let used = unescape(rest, true, &mut v);
                    if rest.get(used) != Some(&b',') {
                        return Err(bad());
                    }
                    rest = &rest[used + 1..];
                    set.insert(v);
                }
                State::Set(set)
            }
            State::Values(_) => return Err(bad()),
            State::Moments(_) => {
                let parts: Vec<&[u8]> = t.split(|&c| c == b';').collect();
                let [n, mean, m2, sx, sxx] = parts[..] else {
                    return Err(bad());
                };
                State::Moments(Box::new(Moments {
                    n: parse_u64(n).ok_or_else(bad)?,
                    mean: parse_f64(mean).ok_or_else(bad)?,
                    m2: parse_f64(m2).ok_or_else(bad)?,
                    sx: parse_sum(sx).ok_or_else(bad)?,
                    sxx: parse_squares(sxx).ok_or_else(bad)?,
                }))
            }
        })
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Count => "count",
        Op::Sum => "sum",
        Op::Min => "min",
        Op::Max => "max",
        Op::Mean => "mean",
        Op::First => "first",
        Op::Last => "last",
        Op::CountDistinct => "countdistinct",
        Op::Distinct => "distinct",
        Op::Collect => "collect",
        Op::Median => "median",
        Op::Quantile(_) => "a quantile",
        Op::Var => "var",
        Op::Stddev => "stddev",
        Op::PVar => "pvar",
        Op::PStddev => "pstdev",
    }
}

fn parse_u64(t: &[u8]) -> Option<u64> {
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn parse_f64(t: &[u8]) -> Option<f64> {
    match t {
        [b'-', b'0', b'x', rest @ ..] => parse_hex_float(rest).map(|f| -f),
        [b'0', b'x', rest @ ..] => parse_hex_float(rest),
        _ => std::str::from_utf8(t).ok()?.parse().ok(),
    }
}

/// A finite double in C99 hex form, trailing zero digits left out (`0x1.9p-48`, `-0x1p0`,
/// subnormals `0x0.0000000000001p-1022`), as Python's `float.hex` writes it but shorter.
fn put_hex_float(f: f64, out: &mut Vec<u8>) {
    if !f.is_finite() {
        put_float(f, out);
        return;
    }
    let bits = f.to_bits();
    if bits >> 63 == 1 {
        out.push(b'-');
    }
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (lead, e) = match exp {
        0 if frac == 0 => (0, 0),
        0 => (0, -1022),
        _ => (1, exp - 1023),
    };
    out.extend_from_slice(format!("0x{lead}").as_bytes());
    if frac != 0 {
        let digits = format!("{frac:013x}");
        out.push(b'.');
        out.extend_from_slice(digits.trim_end_matches('0').as_bytes());
    }
    out.extend_from_slice(format!("p{e}").as_bytes());
}

/// The inverse of [`put_hex_float`], after its `0x`; exact, `None` for anything else.
fn parse_hex_float(t: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(t).ok()?;
    let (mant, exp) = t.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (lead, digits) = mant.split_once('.').unwrap_or((mant, ""));
    let lead: u64 = match lead {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    if digits.len() > 13 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let frac = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(digits, 16).ok()? << (4 * (13 - digits.len()))
    };
    if lead == 0 && frac == 0 {
        return Some(0.0);
    }
    let k = exp - 52; // the value is (lead·2^52 + frac)·2^k
    if !(-1074..=971).contains(&k) || (lead == 0 && exp != -1022) {
        return None;
    }
    let pow2 = if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (k + 1074))
    };
    // Exact: an integer below 2^53 times a power of two that the result fits.
    Some(((lead << 52) | frac) as f64 * pow2)
}

fn parse_sum(t: &[u8]) -> Option<Sum> {
    let mut s = Sum::default();
    let tilde = t.iter().position(|&c| c == b'~').unwrap_or(t.len());
    let (head, terms) = t.split_at(tilde);
    match head {
        b"" if !terms.is_empty() => s.inexact = true,
        b"!" => s.overflow = true,
        _ => match decimal::parse(head)? {
            decimal::Number::Exact { mant, scale }
                if head.iter().all(|c| !c.is_ascii_whitespace()) && head.first() != Some(&b'+') =>
            {
                s.mant = mant;
                s.scale = scale;
            }
            _ => return None,
        },
    }
    let exact = !s.inexact && !s.overflow;
    if !terms.is_empty() {
        // After an exact decimal the terms are what its values' doubles sum to beyond
        // the decimal's own double (see `put_sum`).
        let mut f = if exact {
            rebuilt_fsum(s.mant, s.scale)
        } else {
            crate::fsum::Fsum::default()
        };
        for term in terms[1..].split(|&c| c == b'~') {
            if term == b"!" {
                f.set_overflow();
            } else {
                f.add(parse_f64(term)?);
            }
        }
        s.fs = Some(Box::new(f));
    } else if s.scale > 0 {
        // An exact decimal sum without terms: its values' doubles summed to its double
        // (`put_sum` writes the difference otherwise); an integer sum seeds the
        // accumulator exactly when needed.
        s.fs = Some(Box::new(rebuilt_fsum(s.mant, s.scale)));
    } else if s.overflow {
        return None;
    }
    Some(s)
}

fn parse_squares(t: &[u8]) -> Option<Squares> {
    if t == b"x" {
        return Some(Squares {
            broken: true,
            ..Squares::default()
        });
    }
    let (neg, t) = match t.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, t),
    };
    let at = t.iter().position(|&c| c == b'@')?;
    let scale = std::str::from_utf8(&t[at + 1..]).ok()?.parse().ok()?;
    let mut mag = [0u64; 4];
    let mut limbs = t[..at].split(|&c| c == b'.');
    for l in &mut mag {
        *l = u64::from_str_radix(std::str::from_utf8(limbs.next()?).ok()?, 16).ok()?;
    }
    if limbs.next().is_some() {
        return None;
    }
    Some(Squares {
        sum: Wide { neg, mag },
        scale,
        broken: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AggError, Spec};

    const VALUES: [&[u8]; 12] = [
        b"3",
        b"0.10",
        b"-2.5",
        b"7",
        b"7",
        b"1e1",
        b"0.20",
        b"4",
        b"a\tb,c\\d\ne",
        b"",
        b",",
        b"=x",
    ];

    #[test]
    fn split_encode_decode_merge_equals_whole() {
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
            "var:1",
            "stddev:1",
            "pvar:1",
            "pstdev:1",
        ] {
            let s = Spec::parse(spec).unwrap_or_else(|| panic!("{spec}"));
            let values: Vec<&[u8]> = if s.op.numeric() {
                VALUES[..8].to_vec()
            } else {
                VALUES.to_vec()
            };
            let mut whole = State::new(s.op);
            for v in &values {
                whole.update(v).unwrap_or_else(|e| panic!("{e}"));
            }
            for cut in 0..=values.len() {
                let mut a = State::new(s.op);
                let mut b = State::new(s.op);
                for v in &values[..cut] {
                    a.update(v).unwrap_or_else(|e| panic!("{e}"));
                }
                for v in &values[cut..] {
                    b.update(v).unwrap_or_else(|e| panic!("{e}"));
                }
                let (mut ta, mut tb) = (Vec::new(), Vec::new());
                a.encode_text(&mut ta);
                b.encode_text(&mut tb);
                for t in [&ta, &tb] {
                    assert!(
                        !t.iter().any(|c| matches!(c, b'\t' | b'\n' | b'\r')),
                        "{spec}: {t:?}"
                    );
                }
                let mut a2 = State::decode_text(s.op, &ta).unwrap_or_else(|e| panic!("{e}"));
                let b2 = State::decode_text(s.op, &tb).unwrap_or_else(|e| panic!("{e}"));
                a2.merge(b2);
                let (mut x, mut y) = (Vec::new(), Vec::new());
                whole
                    .clone()
                    .finish(s.op, &mut x)
                    .unwrap_or_else(|e| panic!("{e}"));
                a2.finish(s.op, &mut y).unwrap_or_else(|e| panic!("{e}"));
                let (x, y) = (String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
                // Floating aggregates (mean, variances over floats) may differ in the last bits.
                let close = x == y
                    || matches!((x.parse::<f64>(), y.parse::<f64>()),
                        (Ok(p), Ok(q)) if (p - q).abs() <= 1e-9 * p.abs().max(1.0));
                assert!(close, "{spec} cut {cut}: {x} != {y}");
            }
        }
    }

    #[test]
    fn exact_sums_keep_their_scale_and_overflow_survives() {
        let mut s = State::new(Op::Sum);
        for _ in 0..1000 {
            s.update(b"0.10").unwrap_or_else(|e| panic!("{e}"));
        }
        let mut t = Vec::new();
        s.encode_text(&mut t);
        // The decimal, then its values' doubles' exact sum (1000 × 0.1's double is not 100).
        assert!(t.starts_with(b"100.00~"), "{}", String::from_utf8_lossy(&t));
        let mut out = Vec::new();
        State::decode_text(Op::Sum, &t)
            .unwrap_or_else(|e| panic!("{e}"))
            .finish(Op::Sum, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, b"100.00");
        // A float sum carries its exact accumulator: 1e16 + 1 - 1e16 survives as 1.
        let mut f = State::new(Op::Sum);
        for v in [&b"1e16"[..], b"1", b"-1e16"] {
            f.update(v).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut t = Vec::new();
        f.encode_text(&mut t);
        let mut back = State::decode_text(Op::Sum, &t).unwrap_or_else(|e| panic!("{e}"));
        back.merge(State::decode_text(Op::Sum, b"~1e-16~-1e16").unwrap_or_else(|e| panic!("{e}")));
        let mut out = Vec::new();
        back.finish(Op::Sum, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, b"-9999999999999998", "{}", String::from_utf8_lossy(&t));
        let big = State::decode_text(Op::Sum, b"99999999999999999999999999999999999999")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut merged = big.clone();
        merged.merge(big);
        let mut t = Vec::new();
        merged.encode_text(&mut t);
        assert!(t.starts_with(b"!"), "{}", String::from_utf8_lossy(&t));
        let mut again = State::decode_text(Op::Sum, &t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            again.finish(Op::Sum, &mut Vec::new()),
            Err(AggError::Overflow)
        );
    }

    /// The flaky `bshuffle --combine -j 3` float sum (8243.130000000001 vs 8243.13): a
    /// decimal-only partial met a float partial of the same key and stood for its values
    /// by its total's double. Oracle: Python's math.fsum of every value's double.
    #[test]
    fn a_decimal_partial_keeps_its_values_doubles_for_a_float_partial() {
        let state = |vals: &[&str]| {
            let mut s = State::new(Op::Sum);
            for v in vals {
                s.update(v.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            }
            s
        };
        let (dec, flo) = (["65.16", "78.87", "9.39"], ["1e16", "-1e16", "0.5"]);
        // math.fsum([65.16, 78.87, 9.39, 1e16, -1e16, 0.5]) (the total's double gives 153.92)
        let want = b"153.92000000000002";
        let finish = |mut s: State| {
            let mut out = Vec::new();
            s.finish(Op::Sum, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
            out
        };
        let encode = |s: &State| {
            let mut t = Vec::new();
            s.encode_text(&mut t);
            t
        };
        let (a, b) = (state(&dec), state(&flo));
        let (ta, tb) = (encode(&a), encode(&b));
        assert!(
            ta.starts_with(b"153.42~"),
            "{}",
            String::from_utf8_lossy(&ta)
        );
        for (first, second) in [(&ta, &tb), (&tb, &ta)] {
            let mut m = State::decode_text(Op::Sum, first).unwrap_or_else(|e| panic!("{e}"));
            m.merge(State::decode_text(Op::Sum, second).unwrap_or_else(|e| panic!("{e}")));
            assert_eq!(finish(m), want);
        }
        let mut m = a.clone();
        m.merge(b);
        assert_eq!(finish(m), want);
        // Alone, the decimal partial still finishes as its exact decimal, and a decimal
        // whose values' doubles do sum to its double stays a bare decimal.
        let back = State::decode_text(Op::Sum, &ta).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(finish(back), b"153.42");
        assert_eq!(encode(&state(&["0.5", "0.25"])), b"0.75");
    }

    /// Oracle: Python's `float.hex` (its trailing zeros left out).
    #[test]
    fn hex_floats_round_trip_exactly() {
        for (f, want) in [
            (5.551115123125783e-15, "0x1.9p-48"),
            (-1.0, "-0x1p0"),
            (0.0, "0x0p0"),
            (0.1, "0x1.999999999999ap-4"),
            (5e-324, "0x0.0000000000001p-1022"),
            (2.2250738585072014e-308, "0x1p-1022"),
            (1.7976931348623157e308, "0x1.fffffffffffffp1023"),
            (3.0, "0x1.8p1"),
        ] {
            let mut t = Vec::new();
            put_hex_float(f, &mut t);
            assert_eq!(String::from_utf8_lossy(&t), want);
            assert_eq!(parse_f64(&t).map(f64::to_bits), Some(f.to_bits()), "{want}");
        }
        for bad in [
            "0x2p0",
            "0x1.gp0",
            "0x1p",
            "0x1.00000000000000p0",
            "0x1p1024",
            "0x1p-1023",
            "0x0.1p0",
        ] {
            assert_eq!(parse_f64(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn bad_tokens_are_errors() {
        for (op, t) in [
            (Op::Count, &b"x"[..]),
            (Op::Count, b"-1"),
            (Op::Sum, b"1e5"),
            (Op::Sum, b""),
            (Op::Mean, b"3"),
            (Op::Min, b"3"),
            (Op::Min, b"=abc"),
            (Op::Distinct, b"a"),
            (Op::Var, b"1;2;3"),
            (Op::Var, b"1;2;3;4;5@0"),
            (Op::Median, b"1"),
        ] {
            assert!(State::decode_text(op, t).is_err(), "{op:?} {t:?}");
        }
    }
}
