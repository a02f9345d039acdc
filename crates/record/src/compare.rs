//! Comparators for key bytes, equal to GNU sort's in the C locale.
//!
//! Every function here compares two already-extracted keys. They never allocate and never
//! fail: a key that is not a number compares as GNU sort would compare it (zero for `-n`, a
//! conversion error sorted first for `-g`). Each mode also has an 8-byte *prefix*: a `u64`
//! that is non-decreasing in the mode's order, so that `prefix(a) < prefix(b)` proves
//! `a < b` and only equal prefixes need the full comparison.

use std::cmp::Ordering;

/// How one key is compared: GNU sort's ordering options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyOpts {
    /// `n`: numeric (leading blanks, optional `-`, digits, `.`, digits).
    pub numeric: bool,
    /// `g`: general numeric (floating point, `inf`, `nan`, exponents, hex).
    pub general: bool,
    /// `h`: human numeric (`2K`, `1G`).
    pub human: bool,
    /// `r`: reverse this key's order.
    pub reverse: bool,
    /// `f`: fold lower case to upper case.
    pub fold: bool,
    /// `d`: dictionary order (only blanks and alphanumerics count).
    pub dictionary: bool,
    /// `i`: ignore non-printing bytes.
    pub ignore_nonprinting: bool,
    /// `b` on the start position: skip leading blanks of the key's first field.
    pub skip_start_blanks: bool,
    /// `b` on the end position: skip leading blanks of the key's last field.
    pub skip_end_blanks: bool,
}

impl KeyOpts {
    /// True when any ordering option is set (GNU: the key then inherits no global options).
    pub fn any(&self) -> bool {
        *self != KeyOpts::default()
    }

    /// True when one of the numeric modes is set.
    pub fn is_numeric(&self) -> bool {
        self.numeric || self.general || self.human
    }

    /// The byte-level mode, used when no numeric mode is set.
    fn text_mode(&self) -> TextMode {
        match (self.fold, self.dictionary, self.ignore_nonprinting) {
            (false, false, false) => TextMode::Plain,
            _ => TextMode::Translated,
        }
    }

    /// Compare two keys in this mode, reverse included.
    #[inline]
    pub fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        let ord = self.compare_forward(a, b);
        if self.reverse {
            ord.reverse()
        } else {
            ord
        }
    }

    #[inline]
    fn compare_forward(&self, a: &[u8], b: &[u8]) -> Ordering {
        if self.numeric {
            numeric_compare(a, b)
        } else if self.general {
            general_compare(a, b)
        } else if self.human {
            human_compare_folded(a, b, self.fold)
        } else {
            match self.text_mode() {
                TextMode::Plain => a.cmp(b),
                TextMode::Translated => translated_compare(self, a, b),
            }
        }
    }

    /// An order-preserving 8-byte summary of the key (reverse included).
    #[inline]
    pub fn prefix(&self, key: &[u8]) -> u64 {
        let p = if self.numeric {
            numeric_prefix(key)
        } else if self.general {
            general_prefix(key)
        } else if self.human {
            0
        } else {
            match self.text_mode() {
                TextMode::Plain => bytes_prefix(key),
                TextMode::Translated => translated_prefix(self, key),
            }
        };
        if self.reverse {
            !p
        } else {
            p
        }
    }
}

enum TextMode {
    Plain,
    Translated,
}

/// Blanks in the C locale (`isblank`), plus newline, which GNU sort treats as a field
/// separator too (it only occurs inside a record with `-z`).
#[inline]
pub fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\n'
}

/// First 8 bytes, big-endian, zero padded: non-decreasing in bytewise order.
#[inline]
pub fn bytes_prefix(key: &[u8]) -> u64 {
    if key.len() >= 8 {
        u64::from_be_bytes([
            key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        ])
    } else {
        let mut b = [0u8; 8];
        b[..key.len()].copy_from_slice(key);
        u64::from_be_bytes(b)
    }
}

impl KeyOpts {
    /// Whether `-d`/`-i` drop this byte from comparisons.
    #[inline]
    pub fn is_ignored(&self, c: u8) -> bool {
        ignored(self, c)
    }

    /// The byte as compared (`-f` folds to upper case).
    #[inline]
    pub fn translate(&self, c: u8) -> u8 {
        translate(self, c)
    }
}

#[inline]
fn ignored(opts: &KeyOpts, c: u8) -> bool {
    // GNU: with both d and i, d wins.
    if opts.dictionary {
        !(c.is_ascii_alphanumeric() || is_blank(c))
    } else {
        opts.ignore_nonprinting && !(0x20..0x7f).contains(&c)
    }
}

#[inline]
fn translate(opts: &KeyOpts, c: u8) -> u8 {
    if opts.fold {
        c.to_ascii_uppercase()
    } else {
        c
    }
}

fn translated_compare(opts: &KeyOpts, a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && ignored(opts, a[i]) {
            i += 1;
        }
        while j < b.len() && ignored(opts, b[j]) {
            j += 1;
        }
        if i >= a.len() || j >= b.len() {
            return (i < a.len()).cmp(&(j < b.len()));
        }
        let d = translate(opts, a[i]).cmp(&translate(opts, b[j]));
        if d != Ordering::Equal {
            return d;
        }
        i += 1;
        j += 1;
    }
}

fn translated_prefix(opts: &KeyOpts, key: &[u8]) -> u64 {
    let mut out = [0u8; 8];
    let mut n = 0;
    for &c in key {
        if n == 8 {
            break;
        }
        if !ignored(opts, c) {
            out[n] = translate(opts, c);
            n += 1;
        }
    }
    u64::from_be_bytes(out)
}

/// A number as GNU `-n` reads it: sign, integer digits without leading zeros, fraction
/// digits without trailing zeros.
struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| is_blank(c)).count();
    &s[n..]
}

fn parse_decimal(s: &[u8]) -> Decimal<'_> {
    let s = skip_blanks(s);
    let (negative, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let lead = s[..int_len].iter().take_while(|&&c| c == b'0').count();
    let int = &s[lead..int_len];
    let mut frac: &[u8] = &[];
    if s.get(int_len) == Some(&b'.') {
        let rest = &s[int_len + 1..];
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut f = &rest[..n];
        while let [head @ .., b'0'] = f {
            f = head;
        }
        frac = f;
    }
    let negative = negative && !(int.is_empty() && frac.is_empty());
    Decimal {
        negative,
        int,
        frac,
    }
}

/// GNU `sort -n` in the C locale: exact comparison of arbitrarily long decimals; a key that
/// is not a number is zero; `-0` equals `0`; no `+` sign and no thousands separator.
pub fn numeric_compare(a: &[u8], b: &[u8]) -> Ordering {
    let x = parse_decimal(a);
    let y = parse_decimal(b);
    match (x.negative, y.negative) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude_compare(&x, &y),
        (true, true) => magnitude_compare(&y, &x),
    }
}

fn magnitude_compare(x: &Decimal, y: &Decimal) -> Ordering {
    x.int
        .len()
        .cmp(&y.int.len())
        .then_with(|| x.int.cmp(y.int))
        .then_with(|| x.frac.cmp(y.frac))
}

/// Sign-flipped integer part (saturating): truncation toward zero is monotone.
fn numeric_prefix(key: &[u8]) -> u64 {
    let d = parse_decimal(key);
    let mag: i64 = if d.int.len() > 18 {
        i64::MAX
    } else {
        d.int
            .iter()
            .fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0'))
    };
    let v = if d.negative { -mag } else { mag };
    (v as u64) ^ (1u64 << 63)
}

/// A `-n` key as fixed point with 4 decimals, floored, and whether that is exact. Keys
/// beyond 14 integer digits saturate (inexact). Non-decreasing in `-n` order, and for an
/// exact key `x` and an inexact `y` with the same code, `x < y`.
pub fn numeric_fixed(key: &[u8]) -> (i64, bool) {
    let d = parse_decimal(key);
    if d.int.len() > 14 {
        return (if d.negative { i64::MIN } else { i64::MAX }, false);
    }
    let iv = d
        .int
        .iter()
        .fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0'));
    let mut f4 = 0i64;
    for i in 0..4 {
        f4 = f4 * 10 + d.frac.get(i).map_or(0, |&c| i64::from(c - b'0'));
    }
    let exact = d.frac.len() <= 4;
    let mag = iv * 10_000 + f4;
    let scaled = if d.negative {
        -mag - i64::from(!exact)
    } else {
        mag
    };
    (scaled, exact)
}

/// A prefix-free byte string whose bytewise order is the `-n` order of `key`:
/// a sign class, the integer length, the digits, then a terminator (all complemented for
/// negative numbers, whose order runs the other way).
pub fn numeric_normalized(key: &[u8], out: &mut Vec<u8>) {
    let d = parse_decimal(key);
    if d.int.is_empty() && d.frac.is_empty() {
        out.push(0x80);
        return;
    }
    let start = out.len();
    out.push(0xC0);
    out.extend_from_slice(&(d.int.len() as u32).to_be_bytes());
    out.extend_from_slice(d.int);
    out.extend_from_slice(d.frac);
    out.push(0);
    if d.negative {
        out[start] = 0x40;
        for b in &mut out[start + 1..] {
            *b = !*b;
        }
    }
}

/// What `strtold` makes of a `-g` key: a conversion error, a NaN or a number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum General {
    Error,
    NaN,
    Number(f64),
}

/// Parse the longest prefix of `s` that `strtod` accepts (after leading whitespace).
pub fn parse_general(s: &[u8]) -> General {
    let mut i = s
        .iter()
        .take_while(|&&c| c == b' ' || (b'\t'..=b'\r').contains(&c))
        .count();
    let start = i;
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &s[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"inf") {
        let v = f64::INFINITY;
        return General::Number(if negative { -v } else { v });
    }
    if starts(b"nan") {
        return General::NaN;
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] == b'x' || rest[1] == b'X') {
        if let Some(v) = parse_hex_float(&rest[2..]) {
            return General::Number(if negative { -v } else { v });
        }
        // "0x" without hex digits: strtod reads just the "0".
        return General::Number(if negative { -0.0 } else { 0.0 });
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let int_digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    j += int_digits;
    let mut frac_digits = 0;
    if rest.get(j) == Some(&b'.') {
        frac_digits = rest[j + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if int_digits + frac_digits > 0 {
            j += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        let _ = start;
        return General::Error;
    }
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let exp_digits = rest[k.min(rest.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if exp_digits > 0 {
            j = k + exp_digits;
        }
    }
    // The accepted text is ASCII, so this cannot fail; fall back to an error all the same.
    let text = match std::str::from_utf8(&rest[..j]) {
        Ok(t) => t,
        Err(_) => return General::Error,
    };
    match text.parse::<f64>() {
        Ok(v) => General::Number(if negative { -v } else { v }),
        Err(_) => General::Error,
    }
}

fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let mut mant: f64 = 0.0;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut i = 0;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(16)) {
        mant = mant * 16.0 + f64::from(d);
        any = true;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        let mut k = i + 1;
        while let Some(d) = s.get(k).and_then(|&c| (c as char).to_digit(16)) {
            mant = mant * 16.0 + f64::from(d);
            exp -= 4;
            any = true;
            k += 1;
        }
        if any {
            i = k;
        }
    }
    if !any {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut k = i + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        let digits: Vec<u8> = s[k.min(s.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .collect();
        if !digits.is_empty() {
            let e = digits.iter().fold(0i64, |acc, &c| {
                (acc * 10 + i64::from(c - b'0')).min(1 << 20)
            });
            exp += if neg { -e } else { e };
        }
    }
    Some(mant * 2f64.powi(exp.clamp(-4000, 4000) as i32))
}

/// GNU `sort -g`: conversion errors first, then NaNs, then numbers (`-0 == 0`).
pub fn general_compare(a: &[u8], b: &[u8]) -> Ordering {
    general_prefix(a).cmp(&general_prefix(b))
}

/// The order-preserving code of a `-g` key: errors, then NaNs, then numbers.
pub fn general_prefix(key: &[u8]) -> u64 {
    match parse_general(key) {
        General::Error => 0,
        General::NaN => 1,
        General::Number(v) => {
            let v = if v == 0.0 { 0.0 } else { v };
            let bits = v.to_bits();
            if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            }
        }
    }
}

/// The SI suffix order GNU `-h` uses (`k` and `K` are both kilo). coreutils 9.1 knows no
/// `R` and `Q`; neither does bsort, so that the two agree.
fn unit_order(c: Option<&u8>) -> i32 {
    match c {
        Some(b'k' | b'K') => 1,
        Some(b'M') => 2,
        Some(b'G') => 3,
        Some(b'T') => 4,
        Some(b'P') => 5,
        Some(b'E') => 6,
        Some(b'Z') => 7,
        Some(b'Y') => 8,
        _ => 0,
    }
}

/// The signed unit order of a human number; 0 for a zero or absent number. With `fold`
/// (`-f`), the unit is read after folding to upper case, as GNU sort folds the key first.
fn find_unit_order(s: &[u8], fold: bool) -> i32 {
    let negative = s.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut nonzero = false;
    let mut digits = |i: &mut usize| {
        while let Some(&c) = s.get(*i).filter(|c| c.is_ascii_digit()) {
            nonzero |= c > b'0';
            *i += 1;
        }
    };
    digits(&mut i);
    if s.get(i) == Some(&b'.') {
        i += 1;
        digits(&mut i);
    }
    let unit = s
        .get(i)
        .map(|&c| if fold { c.to_ascii_uppercase() } else { c });
    let order = unit_order(unit.as_ref());
    if !nonzero {
        0
    } else if negative {
        -order
    } else {
        order
    }
}

/// GNU `sort -h`: by the suffix's order first, then by `-n` value.
pub fn human_compare(a: &[u8], b: &[u8]) -> Ordering {
    human_compare_folded(a, b, false)
}

/// `-h`, with `-f` folding the unit letter first.
pub fn human_compare_folded(a: &[u8], b: &[u8], fold: bool) -> Ordering {
    let a = skip_blanks(a);
    let b = skip_blanks(b);
    find_unit_order(a, fold)
        .cmp(&find_unit_order(b, fold))
        .then_with(|| numeric_compare(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(a: &str, b: &str) -> Ordering {
        numeric_compare(a.as_bytes(), b.as_bytes())
    }

    #[test]
    fn numeric_basics() {
        assert_eq!(n("10", "9"), Ordering::Greater);
        assert_eq!(n("-0", "0"), Ordering::Equal);
        assert_eq!(n("-.0", ""), Ordering::Equal);
        assert_eq!(n("abc", "0"), Ordering::Equal);
        assert_eq!(n("+5", "0"), Ordering::Equal);
        assert_eq!(n("-5", "-10"), Ordering::Greater);
        assert_eq!(n("1.5", "1.50"), Ordering::Equal);
        assert_eq!(n("1.05", "1.5"), Ordering::Less);
        assert_eq!(n("  007", "7x"), Ordering::Equal);
        assert_eq!(
            n(
                "123456789012345678901234567890",
                "123456789012345678901234567891"
            ),
            Ordering::Less
        );
    }

    #[test]
    fn numeric_prefix_is_monotone() {
        let vals = [
            "-99999999999999999999",
            "-12.5",
            "-12",
            "-1.5",
            "-0.5",
            "0",
            "0.25",
            "1",
            "1.5",
            "2",
            "99999999999999999999",
        ];
        for w in vals.windows(2) {
            assert!(numeric_prefix(w[0].as_bytes()) <= numeric_prefix(w[1].as_bytes()));
            assert_eq!(n(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn general_order() {
        let vals = [
            "abc", "nan", "-inf", "-1e10", "-0.5", "0", "1e-5", "0x10", "1e300", "inf",
        ];
        for w in vals.windows(2) {
            assert_eq!(
                general_compare(w[0].as_bytes(), w[1].as_bytes()),
                Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(general_compare(b"-0", b"0"), Ordering::Equal);
        assert_eq!(general_compare(b"", b"x"), Ordering::Equal);
    }

    #[test]
    fn human_order() {
        let vals = [
            "-1G", "-5K", "-1", "0", "0K", "1", "999", "1K", "2K", "1M", "1G",
        ];
        for w in vals.windows(2) {
            assert_ne!(
                human_compare(w[0].as_bytes(), w[1].as_bytes()),
                Ordering::Greater,
                "{} <= {}",
                w[0],
                w[1]
            );
        }
    }
}
