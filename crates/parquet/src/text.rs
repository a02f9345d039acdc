//! Values as text, and text back to values: dates, times, decimals, escapes.

use std::io::Write;

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian (H. Hinnant's
/// civil_from_days).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) as days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `v` in decimal digits (the hot path of every integer, date and decimal column: no
/// formatter, two digits per step).
#[inline]
pub fn put_u64(mut v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

#[inline]
pub fn put_i64(v: i64, out: &mut Vec<u8>) {
    if v < 0 {
        out.push(b'-');
    }
    put_u64(v.unsigned_abs(), out);
}

/// Two digits of `v` (< 100).
#[inline]
fn two(v: u32) -> [u8; 2] {
    let d = v as usize * 2;
    [PAIRS[d], PAIRS[d + 1]]
}

pub fn put_date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil(days);
    if (0..10_000).contains(&y) {
        let y = y as u32;
        let (hi, lo, mm, dd) = (two(y / 100), two(y % 100), two(m), two(d));
        out.extend_from_slice(&[
            hi[0], hi[1], lo[0], lo[1], b'-', mm[0], mm[1], b'-', dd[0], dd[1],
        ]);
    } else {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    }
}

/// `HH:MM:SS` of the seconds of a day.
#[inline]
fn put_hms(s: i64, out: &mut Vec<u8>) {
    let (h, m, s) = (
        two((s / 3600) as u32),
        two((s / 60 % 60) as u32),
        two((s % 60) as u32),
    );
    out.extend_from_slice(&[h[0], h[1], b':', m[0], m[1], b':', s[0], s[1]]);
}

/// `HH:MM:SS[.fraction]` of `v` units since midnight, `digits` fraction digits per second.
pub fn put_time(v: i64, digits: u32, out: &mut Vec<u8>) {
    let per = 10i64.pow(digits);
    let secs = v.div_euclid(per);
    let frac = v.rem_euclid(per);
    if (0..100 * 3600).contains(&secs) {
        put_hms(secs, out);
    } else {
        let _ = write!(
            out,
            "{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    put_fraction(frac, digits, out);
}

fn put_fraction(frac: i64, digits: u32, out: &mut Vec<u8>) {
    if frac == 0 {
        return;
    }
    // `digits` places, trailing zeros dropped.
    let mut buf = [b'0'; 20];
    let n = digits as usize;
    let mut x = frac as u64;
    for i in (0..n.min(20)).rev() {
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let mut end = n.min(20);
    while end > 0 && buf[end - 1] == b'0' {
        end -= 1;
    }
    out.push(b'.');
    out.extend_from_slice(&buf[..end]);
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction][Z]` of `v` units since the epoch.
pub fn put_timestamp(v: i64, digits: u32, utc: bool, out: &mut Vec<u8>) {
    let per = 10i64.pow(digits);
    let secs = v.div_euclid(per);
    let frac = v.rem_euclid(per);
    put_date(secs.div_euclid(86_400), out);
    out.push(b'T');
    put_hms(secs.rem_euclid(86_400), out);
    put_fraction(frac, digits, out);
    if utc {
        out.push(b'Z');
    }
}

/// The unscaled integer `v` at `scale` digits after the point.
pub fn put_decimal(v: i128, scale: i32, out: &mut Vec<u8>) {
    if v < 0 {
        out.push(b'-');
    }
    let abs = v.unsigned_abs();
    if scale <= 0 {
        put_u128(abs, out);
        out.extend(std::iter::repeat_n(b'0', (-scale) as usize));
        return;
    }
    let scale = scale as usize;
    if let (Ok(a), true) = (u64::try_from(abs), scale <= 19) {
        // The common case: integer part and fraction by one division.
        let p = 10u64.pow(scale as u32);
        put_u64(a / p, out);
        out.push(b'.');
        let f = a % p;
        let mut buf = [b'0'; 20];
        let mut x = f;
        let mut i = scale;
        while i > 0 {
            i -= 1;
            buf[i] = b'0' + (x % 10) as u8;
            x /= 10;
        }
        out.extend_from_slice(&buf[..scale]);
        return;
    }
    let digits = abs.to_string();
    if digits.len() <= scale {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    } else {
        let (i, f) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(i.as_bytes());
        out.push(b'.');
        out.extend_from_slice(f.as_bytes());
    }
}

fn put_u128(v: u128, out: &mut Vec<u8>) {
    match u64::try_from(v) {
        Ok(v) => put_u64(v, out),
        Err(_) => out.extend_from_slice(v.to_string().as_bytes()),
    }
}

/// A big-endian two's complement integer of at most 16 bytes.
pub fn be_i128(b: &[u8]) -> Option<i128> {
    if b.is_empty() {
        return Some(0);
    }
    if b.len() > 16 {
        // Wider than 16 bytes is only sign extension for precision <= 38.
        let (pad, rest) = b.split_at(b.len() - 16);
        let fill = if rest[0] & 0x80 != 0 { 0xff } else { 0 };
        if pad.iter().any(|&c| c != fill) {
            return None;
        }
        return be_i128(rest);
    }
    let fill = if b[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut buf = [fill; 16];
    buf[16 - b.len()..].copy_from_slice(b);
    Some(i128::from_be_bytes(buf))
}

/// `v` with TAB, newline and backslash-free escapes as bmap writes them (`\t`, `\n`).
#[inline]
pub fn put_escaped(v: &[u8], out: &mut Vec<u8>) {
    if memchr2(v) {
        for &c in v {
            match c {
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                _ => out.push(c),
            }
        }
    } else {
        out.extend_from_slice(v);
    }
}

#[inline]
fn memchr2(v: &[u8]) -> bool {
    // Most values are short: a plain loop beats setting up a vector search.
    if v.len() < 16 {
        v.iter().any(|&c| c == b'\t' || c == b'\n')
    } else {
        memchr::memchr2(b'\t', b'\n', v).is_some()
    }
}

/// The inverse of [`put_escaped`]: `\t` and `\n` back to TAB and newline.
pub fn unescape(v: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && i + 1 < v.len() && (v[i + 1] == b't' || v[i + 1] == b'n') {
            out.push(if v[i + 1] == b't' { b'\t' } else { b'\n' });
            i += 2;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for d in [-719_468i64, -1, 0, 1, 19_723, 2_932_896] {
            let (y, m, dd) = civil(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        let mut o = Vec::new();
        put_date(19_723, &mut o);
        assert_eq!(o, b"2024-01-01");
    }

    #[test]
    fn decimals_at_scale() {
        let cases: [(i128, i32, &str); 6] = [
            (10, 2, "0.10"),
            (-5, 3, "-0.005"),
            (12345, 2, "123.45"),
            (7, 0, "7"),
            (-120, 1, "-12.0"),
            (0, 2, "0.00"),
        ];
        for (v, s, want) in cases {
            let mut o = Vec::new();
            put_decimal(v, s, &mut o);
            assert_eq!(String::from_utf8_lossy(&o), want);
        }
        assert_eq!(be_i128(&[0xff, 0xfe]), Some(-2));
        assert_eq!(be_i128(&[0x01, 0x00]), Some(256));
    }

    #[test]
    fn timestamps() {
        let mut o = Vec::new();
        put_timestamp(1_704_067_200_500_000, 6, true, &mut o);
        assert_eq!(o, b"2024-01-01T00:00:00.5Z");
        o.clear();
        put_timestamp(-1, 3, false, &mut o);
        assert_eq!(o, b"1969-12-31T23:59:59.999");
    }

    #[test]
    fn fast_paths_agree_with_the_formatter() {
        let ints = [
            0i64,
            1,
            9,
            10,
            99,
            100,
            101,
            12_345,
            -7,
            -100,
            i64::MIN,
            i64::MAX,
        ];
        for v in ints {
            let mut o = Vec::new();
            put_i64(v, &mut o);
            assert_eq!(String::from_utf8_lossy(&o), v.to_string());
        }
        for (v, s) in [
            (i128::MAX, 0),
            (i128::MIN + 1, 5),
            (123, 19),
            (-1, 20),
            (5, -2),
        ] {
            let mut o = Vec::new();
            put_decimal(v, s, &mut o);
            let digits = v.unsigned_abs().to_string();
            let want = if s <= 0 {
                format!("{digits}{}", "0".repeat((-s) as usize))
            } else if digits.len() <= s as usize {
                format!("0.{}{digits}", "0".repeat(s as usize - digits.len()))
            } else {
                let (i, f) = digits.split_at(digits.len() - s as usize);
                format!("{i}.{f}")
            };
            let want = if v < 0 { format!("-{want}") } else { want };
            assert_eq!(String::from_utf8_lossy(&o), want);
        }
        let mut o = Vec::new();
        for days in [-800_000i64, -719_529, 2_932_897, 3_000_000] {
            o.clear();
            put_date(days, &mut o);
            let (y, m, d) = civil(days);
            assert_eq!(String::from_utf8_lossy(&o), format!("{y:04}-{m:02}-{d:02}"));
        }
        o.clear();
        put_time(86_399_999_999, 6, &mut o);
        assert_eq!(o, b"23:59:59.999999");
        o.clear();
        put_timestamp(1_500_000_000_123_000_000, 9, false, &mut o);
        assert_eq!(o, b"2017-07-14T02:40:00.123");
    }
}
