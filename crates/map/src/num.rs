//! Numbers as `--where` compares them: decimal text compared exactly, digit by digit, at any
//! length (so `0.10 == 0.1`, `-0 == 0`, and a 40-digit id still orders numerically); text
//! with an exponent is compared as a 64-bit float. Nothing here allocates.

use std::cmp::Ordering;

/// A number's text split into parts.
#[derive(Clone, Copy, Debug)]
pub struct Num<'a> {
    neg: bool,
    /// Integer digits without leading zeros.
    int: &'a [u8],
    /// Fraction digits without trailing zeros.
    frac: &'a [u8],
    /// The value as a float, when the text has an exponent.
    float: Option<f64>,
}

/// Parse `[+-]digits[.digits][e[+-]digits]` (or `.5`, `5.`); `None` when `s` is not a number.
/// No surrounding blanks, no `inf`/`nan`/hex: those compare as text.
pub fn parse(s: &[u8]) -> Option<Num<'_>> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let n_int = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut int = &body[..n_int];
    let mut rest = &body[n_int..];
    let mut frac: &[u8] = &[];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        frac = &rest[1..1 + n];
        rest = &rest[1 + n..];
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut float = None;
    if !rest.is_empty() {
        if !matches!(rest[0], b'e' | b'E') {
            return None;
        }
        let e = &rest[1..];
        let digits = match e.first() {
            Some(b'+' | b'-') => &e[1..],
            _ => e,
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        float = Some(std::str::from_utf8(s).ok()?.parse::<f64>().ok()?);
    }
    while let [b'0', r @ ..] = int {
        int = r;
    }
    while let [r @ .., b'0'] = frac {
        frac = r;
    }
    Some(Num {
        neg,
        int,
        frac,
        float,
    })
}

impl Num<'_> {
    fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.is_empty()
    }

    fn to_f64(self) -> f64 {
        if let Some(f) = self.float {
            return f;
        }
        // Only used against a number with an exponent; precision is a float's anyway.
        let mut v = 0f64;
        for &c in self.int {
            v = v * 10.0 + f64::from(c - b'0');
        }
        let mut scale = 1f64;
        for &c in self.frac {
            scale /= 10.0;
            v += f64::from(c - b'0') * scale;
        }
        if self.neg {
            -v
        } else {
            v
        }
    }

    /// Numeric order: exact for plain decimals, as floats when either has an exponent.
    pub fn cmp_num(&self, other: &Num) -> Ordering {
        if self.float.is_some() || other.float.is_some() {
            return self
                .to_f64()
                .partial_cmp(&other.to_f64())
                .unwrap_or(Ordering::Equal);
        }
        let (za, zb) = (self.is_zero(), other.is_zero());
        let sa = if za {
            0
        } else if self.neg {
            -1
        } else {
            1
        };
        let sb = if zb {
            0
        } else if other.neg {
            -1
        } else {
            1
        };
        if sa != sb {
            return sa.cmp(&sb);
        }
        let mag = self
            .int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(other.int))
            .then_with(|| self.frac.cmp(other.frac));
        if sa < 0 {
            mag.reverse()
        } else {
            mag
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Option<Ordering> {
        Some(parse(a.as_bytes())?.cmp_num(&parse(b.as_bytes())?))
    }

    #[test]
    fn exact_order() {
        use Ordering::*;
        assert_eq!(c("0.10", "0.1"), Some(Equal));
        assert_eq!(c("-0", "0.000"), Some(Equal));
        assert_eq!(c("10", "9.99"), Some(Greater));
        assert_eq!(c("-10", "-9.99"), Some(Less));
        assert_eq!(c("007", "7"), Some(Equal));
        assert_eq!(c(".5", "0.5"), Some(Equal));
        assert_eq!(c("5.", "5"), Some(Equal));
        assert_eq!(c("+3", "3"), Some(Equal));
        assert_eq!(
            c(
                "123456789012345678901234567890123456789012",
                "123456789012345678901234567890123456789011"
            ),
            Some(Greater)
        );
        assert_eq!(c("1e3", "999.5"), Some(Greater));
        assert_eq!(c("-2.5E-1", "-0.25"), Some(Equal));
        assert_eq!(c("0.1", "0.09999999999999999999999"), Some(Greater));
    }

    #[test]
    fn not_numbers() {
        for s in [
            "", "-", ".", "1.2.3", "abc", "1e", "1e+", "0x10", " 1", "1 ", "inf", "nan", "1_0",
        ] {
            assert!(parse(s.as_bytes()).is_none(), "{s}");
        }
    }
}
