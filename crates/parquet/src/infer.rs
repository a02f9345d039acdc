//! Column types inferred from text: int64 when every value is an integer, `DECIMAL(38,s)`
//! for plain decimals (exact, never float), boolean for `true`/`false`, float64 for other numbers, date and timestamp
//! for ISO-8601 text, else string. An empty field is null and says nothing of the type.

use crate::text::days_from_civil;

/// What one value, or a whole column, can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inferred {
    /// Only nulls so far.
    Null,
    /// `true` or `false`.
    Bool,
    Int,
    /// Digits before and after the point (the widest seen of each).
    Decimal {
        int: u32,
        scale: u32,
    },
    Float,
    Date,
    /// Timestamp, `true` when UTC (`Z`).
    Timestamp(bool),
    String,
}

impl Inferred {
    /// The type of a column holding values of both `self` and `o`.
    pub fn join(self, o: Inferred) -> Inferred {
        use Inferred::*;
        match (self, o) {
            (Null, x) | (x, Null) => x,
            (a, b) if a == b => a,
            (Int, Decimal { int, scale }) | (Decimal { int, scale }, Int) => Decimal {
                int: int.max(19),
                scale,
            },
            (Decimal { int: a, scale: s }, Decimal { int: b, scale: t }) => {
                let (int, scale) = (a.max(b), s.max(t));
                if int + scale > 38 {
                    Float
                } else {
                    Decimal { int, scale }
                }
            }
            (Int | Float | Decimal { .. }, Int | Float | Decimal { .. }) => Float,
            _ => String,
        }
    }
}

/// The type of one non-empty value.
pub fn infer_value(v: &[u8]) -> Inferred {
    if v.is_empty() {
        return Inferred::Null;
    }
    if v == b"true" || v == b"false" {
        return Inferred::Bool;
    }
    if let Some(d) = decimal_shape(v) {
        return d;
    }
    if date(v).is_some() {
        return Inferred::Date;
    }
    if let Some((_, utc)) = timestamp(v) {
        return Inferred::Timestamp(utc);
    }
    if v.iter().any(u8::is_ascii_digit) && float(v).is_some() {
        return Inferred::Float;
    }
    Inferred::String
}

/// `-?digits` (an int64) or `-?digits.digits` (a decimal of at most 38 digits).
fn decimal_shape(v: &[u8]) -> Option<Inferred> {
    let body = v.strip_prefix(b"-").unwrap_or(v);
    let (i, f) = match memchr_dot(body) {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if i.is_empty() || !i.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match f {
        None => {
            if std::str::from_utf8(v).ok()?.parse::<i64>().is_ok() {
                Some(Inferred::Int)
            } else if i.len() <= 38 {
                Some(Inferred::Decimal {
                    int: i.len() as u32,
                    scale: 0,
                })
            } else {
                None
            }
        }
        Some(f) if !f.is_empty() && f.iter().all(u8::is_ascii_digit) => (i.len() + f.len() <= 38)
            .then_some(Inferred::Decimal {
                int: i.len() as u32,
                scale: f.len() as u32,
            }),
        _ => None,
    }
}

fn memchr_dot(v: &[u8]) -> Option<usize> {
    v.iter().position(|&c| c == b'.')
}

pub fn float(v: &[u8]) -> Option<f64> {
    std::str::from_utf8(v).ok()?.parse::<f64>().ok()
}

fn num(v: &[u8]) -> Option<u32> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// `YYYY-MM-DD` as days since the epoch.
pub fn date(v: &[u8]) -> Option<i64> {
    if v.len() != 10 || v[4] != b'-' || v[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&v[..4])?, num(&v[5..7])?, num(&v[8..10])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > days_in[m as usize - 1] {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}][Z]` as microseconds since the epoch, and whether `Z`.
pub fn timestamp(v: &[u8]) -> Option<(i64, bool)> {
    if v.len() < 19 || (v[10] != b'T' && v[10] != b' ') {
        return None;
    }
    let days = date(&v[..10])?;
    let t = &v[11..];
    if t[2] != b':' || t[5] != b':' {
        return None;
    }
    let (h, mi, s) = (num(&t[..2])?, num(&t[3..5])?, num(&t[6..8])?);
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut rest = &t[8..];
    let utc = rest.last() == Some(&b'Z');
    if utc {
        rest = &rest[..rest.len() - 1];
    }
    let mut micros = 0i64;
    if let Some(f) = rest.strip_prefix(b".") {
        if f.is_empty() || f.len() > 6 {
            return None;
        }
        micros = i64::from(num(f)?) * 10i64.pow(6 - f.len() as u32);
    } else if !rest.is_empty() {
        return None;
    }
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    Some((secs * 1_000_000 + micros, utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        use Inferred::*;
        assert_eq!(infer_value(b"42"), Int);
        assert_eq!(infer_value(b"-0.10"), Decimal { int: 1, scale: 2 });
        assert_eq!(infer_value(b"1e5"), Float);
        assert_eq!(infer_value(b"2024-02-29"), Date);
        assert_eq!(infer_value(b"2023-02-29"), String);
        assert_eq!(infer_value(b"2024-01-01T10:00:00Z"), Timestamp(true));
        assert_eq!(infer_value(b"2024-01-01 10:00:00.5"), Timestamp(false));
        assert_eq!(infer_value(b"inf"), String);
        assert_eq!(infer_value(b"abc"), String);
        assert_eq!(infer_value(b"true"), Bool);
        assert_eq!(Bool.join(Int), String);
        assert_eq!(
            infer_value(b"99999999999999999999"),
            Decimal { int: 20, scale: 0 }
        );
        assert_eq!(
            Int.join(Decimal { int: 1, scale: 2 }),
            Decimal { int: 19, scale: 2 }
        );
        assert_eq!(Int.join(Float), Float);
        assert_eq!(Date.join(Int), String);
        assert_eq!(Null.join(Date), Date);
    }
}
