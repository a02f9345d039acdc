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

pub fn put_date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// `HH:MM:SS[.fraction]` of `v` units since midnight, `digits` fraction digits per second.
pub fn put_time(v: i64, digits: u32, out: &mut Vec<u8>) {
    let per = 10i64.pow(digits);
    let secs = v.div_euclid(per);
    let frac = v.rem_euclid(per);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    put_fraction(frac, digits, out);
}

fn put_fraction(frac: i64, digits: u32, out: &mut Vec<u8>) {
    if frac == 0 {
        return;
    }
    let mut s = format!("{frac:0width$}", width = digits as usize);
    while s.ends_with('0') {
        s.pop();
    }
    out.push(b'.');
    out.extend_from_slice(s.as_bytes());
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction][Z]` of `v` units since the epoch.
pub fn put_timestamp(v: i64, digits: u32, utc: bool, out: &mut Vec<u8>) {
    let per = 10i64.pow(digits);
    let secs = v.div_euclid(per);
    let frac = v.rem_euclid(per);
    put_date(secs.div_euclid(86_400), out);
    let s = secs.rem_euclid(86_400);
    let _ = write!(out, "T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
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
    let digits = v.unsigned_abs().to_string();
    if scale <= 0 {
        out.extend_from_slice(digits.as_bytes());
        out.extend(std::iter::repeat_n(b'0', (-scale) as usize));
        return;
    }
    let scale = scale as usize;
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
    v.iter().any(|&c| c == b'\t' || c == b'\n')
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
}
