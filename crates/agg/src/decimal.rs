//! Exact decimals: an i128 mantissa and a scale (digits after the point), so that
//! `0.10 + 0.20` is `0.30` as money must be. Overflow is an error, never a wrong total.

use std::cmp::Ordering;

/// A number as read from a field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An integer or plain decimal: `mant / 10^scale`.
    Exact { mant: i128, scale: u32 },
    /// Anything else `f64` reads: exponents, `inf`, `nan`.
    Float(f64),
}

/// Largest scale kept: a plain decimal has at most 38 significant digits (SPEC), so at most
/// 38 after the point. A plain decimal beyond that is refused ([`too_long`]), never rounded.
pub const MAX_SCALE: u32 = 38;

/// Parse a field as a number; `None` when it is not one.
#[inline]
pub fn parse(s: &[u8]) -> Option<Number> {
    // Fast path, the usual case: `-?digits(.digits)?` with at most 18 digits, no blanks.
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if !body.is_empty() && body.len() <= 19 {
        let (mut mant, mut scale, mut digits, mut dot) = (0u64, 0u32, 0u32, false);
        let mut plain = true;
        for &c in body {
            if c.is_ascii_digit() {
                mant = mant * 10 + u64::from(c - b'0');
                digits += 1;
                scale += u32::from(dot);
            } else if c == b'.' && !dot {
                dot = true;
            } else {
                plain = false;
                break;
            }
        }
        if plain && digits > 0 {
            let m = mant as i128;
            return Some(Number::Exact {
                mant: if neg { -m } else { m },
                scale,
            });
        }
    }
    parse_slow(s)
}

/// `-?[0-9]{1,15}`, which [`parse`] reads as the exact integer this returns (below 2^53
/// in magnitude); anything else is `None`, for [`parse`] to read.
#[inline]
pub fn small_int(s: &[u8]) -> Option<i64> {
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.len() > 15 {
        return None;
    }
    let mut v = 0i64;
    for &c in body {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if neg { -v } else { v })
}

fn parse_slow(s: &[u8]) -> Option<Number> {
    let t = trim(s);
    if t.is_empty() {
        return None;
    }
    let (neg, body) = match t[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let int_len = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = &body[int_len..];
    let (frac, rest) = match rest.first() {
        Some(b'.') => {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            (&rest[1..1 + n], &rest[1 + n..])
        }
        _ => (&rest[..0], rest),
    };
    if rest.is_empty() && int_len + frac.len() > 0 {
        // A plain decimal is exact or refused: past 38 digits it is not rounded to a float.
        if frac.len() as u32 > MAX_SCALE {
            return None;
        }
        let mut mant: i128 = 0;
        for &c in body[..int_len].iter().chain(frac) {
            mant = mant.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
        }
        if mant.unsigned_abs() >= LIMIT {
            return None;
        }
        return Some(Number::Exact {
            mant: if neg { -mant } else { mant },
            scale: frac.len() as u32,
        });
    }
    let text = std::str::from_utf8(t).ok()?;
    let lower = text.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    // Rust's f64 parser accepts these spellings; anything else with letters is not a number.
    let ok = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
        || matches!(body, "inf" | "infinity" | "nan");
    if !ok {
        return None;
    }
    text.parse::<f64>().ok().map(Number::Float)
}

/// Plain decimals, and exact sums of them, stay below 10^38 (38 significant digits).
pub const LIMIT: u128 = 10u128.pow(38);

/// Whether `s` is a plain decimal (`[+-]digits[.digits]`) with more digits than exact
/// arithmetic keeps (38): [`parse`] refuses it, and a message should say why rather than
/// call it "not a number".
pub fn too_long(s: &[u8]) -> bool {
    let t = trim(s);
    let body = t
        .strip_prefix(b"-")
        .or_else(|| t.strip_prefix(b"+"))
        .unwrap_or(t);
    let mut dot = false;
    let mut digits = 0usize;
    for &c in body {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' if !dot => dot = true,
            _ => return false,
        }
    }
    digits > 0 && parse(s).is_none()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `mant` at a larger scale, or `None` on overflow.
pub fn rescale(mant: i128, from: u32, to: u32) -> Option<i128> {
    mant.checked_mul(pow10(to.checked_sub(from)?)?)
}

impl Number {
    pub fn to_f64(&self) -> f64 {
        match *self {
            Number::Exact { mant, scale } => mant as f64 / 10f64.powi(scale as i32),
            Number::Float(f) => f,
        }
    }

    /// Numeric order (exact where both are exact and fit, else as floats).
    pub fn cmp_num(&self, other: &Number) -> Ordering {
        if let (Number::Exact { mant: a, scale: sa }, Number::Exact { mant: b, scale: sb }) =
            (self, other)
        {
            let s = (*sa).max(*sb);
            if let (Some(x), Some(y)) = (rescale(*a, *sa, s), rescale(*b, *sb, s)) {
                return x.cmp(&y);
            }
        }
        self.to_f64().total_cmp(&other.to_f64())
    }
}

/// Write `mant / 10^scale` in plain decimal notation with exactly `scale` fraction digits.
pub fn format_exact(mant: i128, scale: u32, out: &mut Vec<u8>) {
    let neg = mant < 0;
    let mut buf = [0u8; 40];
    let digits = digits_of(mant.unsigned_abs(), &mut buf);
    let scale = scale as usize;
    if neg {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(digits);
        return;
    }
    if digits.len() <= scale {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    } else {
        let (i, f) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(i);
        out.push(b'.');
        out.extend_from_slice(f);
    }
}

/// `v`'s decimal digits, written at the end of `buf` (no allocation, and u64 arithmetic
/// once the value fits: a group's count or sum is written once per output line).
fn digits_of(mut v: u128, buf: &mut [u8; 40]) -> &[u8] {
    let mut i = buf.len();
    while v > u128::from(u64::MAX) {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut w = v as u64;
    loop {
        i -= 1;
        buf[i] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Append `v` in decimal.
pub fn push_u64(v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    out.extend_from_slice(digits_of(u128::from(v), &mut buf));
}

/// A float in shortest round-trip form (`nan`, `inf`, `-inf` spelled as datamash does).
pub fn format_float(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
    } else {
        out.extend_from_slice(format!("{v}").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(m: i128, s: u32) -> String {
        let mut v = Vec::new();
        format_exact(m, s, &mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    proptest::proptest! {
        /// The fast path reads exactly what the general parser reads (NaN aside, which is
        /// never equal to itself).
        #[test]
        fn fast_path_agrees_with_the_general_parser(s in "[-+ .0-9eE]{0,24}") {
            let (a, b) = (parse(s.as_bytes()), parse_slow(s.as_bytes()));
            proptest::prop_assert_eq!(a, b, "{:?}", s);
        }

        /// What small_int reads, parse reads as the same exact integer.
        #[test]
        fn small_ints_are_what_parse_reads(s in "-?[0-9]{0,17}|[-+ .0-9eE]{0,8}") {
            if let Some(v) = small_int(s.as_bytes()) {
                proptest::prop_assert!(v.unsigned_abs() < 1 << 53);
                proptest::prop_assert_eq!(
                    parse(s.as_bytes()),
                    Some(Number::Exact { mant: i128::from(v), scale: 0 }),
                    "{:?}", s
                );
            }
        }
    }

    #[test]
    fn digits_and_counts_are_written_like_to_string() {
        for v in [0u64, 7, 10, 99, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_u64(v, &mut out);
            assert_eq!(out, v.to_string().into_bytes());
        }
        for m in [
            0i128,
            -1,
            5,
            i128::from(u64::MAX) * 10 + 3,
            -(10i128.pow(37)),
        ] {
            assert_eq!(fmt(m, 0), m.to_string());
        }
        assert_eq!(fmt(-5, 3), "-0.005");
        assert_eq!(fmt(12345, 2), "123.45");
    }

    #[test]
    fn parsing() {
        assert_eq!(parse(b"0.10"), Some(Number::Exact { mant: 10, scale: 2 }));
        assert_eq!(
            parse(b"-12"),
            Some(Number::Exact {
                mant: -12,
                scale: 0
            })
        );
        assert_eq!(parse(b" +3.5 "), Some(Number::Exact { mant: 35, scale: 1 }));
        assert_eq!(parse(b"1e3"), Some(Number::Float(1000.0)));
        assert!(matches!(parse(b"nan"), Some(Number::Float(f)) if f.is_nan()));
        for bad in [
            &b""[..],
            b"12,5",
            b"abc",
            b"1.2.3",
            b"-",
            b".",
            b"0x10",
            b"1_000",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"5."), Some(Number::Exact { mant: 5, scale: 0 }));
        assert_eq!(parse(b".5"), Some(Number::Exact { mant: 5, scale: 1 }));
    }

    /// Issue 14 (3): plain decimals are exact up to 38 digits at any scale, and refused past
    /// that — never summed as floats.
    #[test]
    fn plain_decimals_are_exact_to_38_digits_or_refused() {
        let one_and_a_bit = "1.0000000000000000000000000000001"; // 31 places
        assert_eq!(
            parse(one_and_a_bit.as_bytes()),
            Some(Number::Exact {
                mant: 10i128.pow(31) + 1,
                scale: 31
            })
        );
        let d38 = "9".repeat(38);
        assert!(matches!(parse(d38.as_bytes()), Some(Number::Exact { .. })));
        let p38 = format!("0.{}", "1".repeat(38));
        assert!(matches!(
            parse(p38.as_bytes()),
            Some(Number::Exact { scale: 38, .. })
        ));
        for long in [
            "9".repeat(39),
            "1".repeat(40),
            format!("0.{}1", "0".repeat(38)),
            format!("-{}.5", "7".repeat(38)),
        ] {
            assert_eq!(parse(long.as_bytes()), None, "{long}");
            assert!(too_long(long.as_bytes()), "{long}");
        }
        for other in ["12,5", "abc", "1e400", "", "-"] {
            assert!(!too_long(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt(30, 2), "0.30");
        assert_eq!(fmt(-5, 3), "-0.005");
        assert_eq!(fmt(12345, 2), "123.45");
        assert_eq!(fmt(i128::MAX, 0), i128::MAX.to_string());
        let mut v = Vec::new();
        format_float(0.1 + 0.2, &mut v);
        assert_eq!(v, b"0.30000000000000004");
    }
}
