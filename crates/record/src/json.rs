//! Field access in JSON lines by dotted path (`user.id`, `items.0.sku`), without building a
//! document tree: the scanner walks the line once and returns the raw text of the value.
//!
//! A string value is returned decoded (escapes resolved); any other value as its JSON text
//! as it stands in the line (`0.10` stays `0.10`). A missing path is `None`. A member name
//! given twice in one object: the last one wins, as in jq and Python's json module. A bad
//! escape, or a `\u` escape of a lone surrogate (which has no UTF-8 form; jq's U+FFFD would
//! merge distinct keys), makes the line malformed. The scanner
//! checks the structure it walks through and reports a malformed line as an error; it never
//! panics on any input.

use std::borrow::Cow;

/// Why a JSON line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub &'static str);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not valid JSON: {}", self.0)
    }
}

type R<T> = Result<T, JsonError>;

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> R<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(JsonError(what))
        }
    }

    /// Skip a string starting at the opening quote; return the raw bytes between the quotes.
    fn string(&mut self) -> R<&'a [u8]> {
        self.i += 1;
        let start = self.i;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.s[self.i..]) {
                None => return Err(JsonError("unterminated string")),
                Some(p) => {
                    self.i += p;
                    if self.s[self.i] == b'\\' {
                        self.i += escape_len(self.s, self.i)?;
                    } else {
                        let raw = &self.s[start..self.i];
                        self.i += 1;
                        return Ok(raw);
                    }
                }
            }
        }
    }

    /// Skip one value; return its raw text.
    fn value(&mut self, depth: usize) -> R<&'a [u8]> {
        if depth > 512 {
            return Err(JsonError("nested too deeply"));
        }
        self.ws();
        let start = self.i;
        match self.peek() {
            None => return Err(JsonError("missing value")),
            Some(b'"') => {
                self.string()?;
            }
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return Err(JsonError("expected a member name"));
                        }
                        self.string()?;
                        self.expect(b':', "expected ':'")?;
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(JsonError("expected ',' or '}'")),
                        }
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(JsonError("expected ',' or ']'")),
                        }
                    }
                }
            }
            Some(c) if c == b'-' || c.is_ascii_alphanumeric() || c == b'.' || c == b'+' => {
                while matches!(self.peek(), Some(c) if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_alphanumeric())
                {
                    self.i += 1;
                }
                let lit = &self.s[start..self.i];
                let ok = matches!(lit, b"true" | b"false" | b"null")
                    || (lit[0] == b'-' || lit[0].is_ascii_digit())
                        && lit[1.min(lit.len())..].iter().all(|c| {
                            c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')
                        });
                if !ok {
                    return Err(JsonError("unexpected literal"));
                }
            }
            Some(_) => return Err(JsonError("unexpected character")),
        }
        Ok(&self.s[start..self.i])
    }
}

/// The length of the escape sequence at `s[i]` (a backslash): 2, 6 for `\uXXXX`, 12 for a
/// surrogate pair. A bad escape letter, bad hex digits and a lone surrogate (a high one not
/// followed by a low one, or a low one alone) are errors: a lone surrogate has no UTF-8
/// form, and replacing it by U+FFFD (as jq does) would make distinct keys equal.
#[inline]
pub fn escape_len(s: &[u8], i: usize) -> R<usize> {
    match s.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
        Some(b'u') => {
            let cp = hex4(s, i + 2)?;
            if (0xDC00..0xE000).contains(&cp) {
                return Err(JsonError("lone surrogate in a \\u escape"));
            }
            if !(0xD800..0xDC00).contains(&cp) {
                return Ok(6);
            }
            if s.get(i + 6..i + 8) == Some(b"\\u") {
                let lo = hex4(s, i + 8)?;
                if (0xDC00..0xE000).contains(&lo) {
                    return Ok(12);
                }
            }
            Err(JsonError("lone surrogate in a \\u escape"))
        }
        Some(_) => Err(JsonError("bad escape")),
        None => Err(JsonError("unterminated string")),
    }
}

fn hex4(s: &[u8], at: usize) -> R<u32> {
    let h = s.get(at..at + 4).ok_or(JsonError("bad \\u escape"))?;
    let mut v = 0u32;
    for &c in h {
        let d = (c as char)
            .to_digit(16)
            .ok_or(JsonError("bad \\u escape"))?;
        v = v * 16 + d;
    }
    Ok(v)
}

/// Decode a JSON string's raw content (between the quotes): borrowed when it has no escapes.
pub fn unescape(raw: &[u8]) -> R<Cow<'_, [u8]>> {
    if memchr::memchr(b'\\', raw).is_none() {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    unescape_into(raw, &mut out)?;
    Ok(Cow::Owned(out))
}

/// Decode a JSON string's raw content into `out` (appended).
pub fn unescape_into(raw: &[u8], out: &mut Vec<u8>) -> R<()> {
    let mut i = 0;
    while i < raw.len() {
        match memchr::memchr(b'\\', &raw[i..]) {
            None => {
                out.extend_from_slice(&raw[i..]);
                return Ok(());
            }
            Some(p) => {
                out.extend_from_slice(&raw[i..i + p]);
                i += p;
            }
        }
        let n = escape_len(raw, i)?;
        match raw[i + 1] {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            _ => {
                let mut cp = hex4(raw, i + 2)?;
                if n == 12 {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(raw, i + 8)? - 0xDC00);
                }
                let ch = char::from_u32(cp).ok_or(JsonError("bad \\u escape"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        }
        i += n;
    }
    Ok(())
}

/// Find `path` (already split on '.') in the JSON object `line`.
///
/// Returns the decoded string, or the raw JSON text of a non-string value, or `None` when the
/// path is absent. Errors when the line is not a JSON object or is malformed on the way.
pub fn lookup<'a, S: AsRef<str>>(line: &'a [u8], path: &[S]) -> R<Option<Cow<'a, [u8]>>> {
    let mut sc = Scanner { s: line, i: 0 };
    sc.ws();
    if sc.peek() != Some(b'{') {
        return Err(JsonError("a record must be an object"));
    }
    let mut seg = 0;
    loop {
        // At the start of a container value whose member/element `path[seg]` we want.
        sc.ws();
        let want = path[seg].as_ref().as_bytes();
        let found = match sc.peek() {
            Some(b'{') => {
                sc.i += 1;
                sc.ws();
                // A name given twice: the last member wins (as in jq and Python), so the
                // whole object is read.
                let mut hit: Option<usize> = None;
                if sc.peek() == Some(b'}') {
                    sc.i += 1;
                } else {
                    loop {
                        sc.ws();
                        if sc.peek() != Some(b'"') {
                            return Err(JsonError("expected a member name"));
                        }
                        let name = sc.string()?;
                        sc.expect(b':', "expected ':'")?;
                        if name == want
                            || (memchr::memchr(b'\\', name).is_some() && *unescape(name)? == *want)
                        {
                            sc.ws();
                            hit = Some(sc.i);
                        }
                        sc.value(1)?;
                        sc.ws();
                        match sc.peek() {
                            Some(b',') => sc.i += 1,
                            Some(b'}') => {
                                sc.i += 1;
                                break;
                            }
                            _ => return Err(JsonError("expected ',' or '}'")),
                        }
                    }
                }
                match hit {
                    Some(at) => {
                        sc.i = at;
                        true
                    }
                    None => false,
                }
            }
            Some(b'[') => {
                let idx: Option<usize> =
                    std::str::from_utf8(want).ok().and_then(|s| s.parse().ok());
                sc.i += 1;
                sc.ws();
                let mut found = false;
                if sc.peek() == Some(b']') {
                    sc.i += 1;
                } else {
                    let mut n = 0;
                    loop {
                        if Some(n) == idx {
                            found = true;
                            break;
                        }
                        sc.value(1)?;
                        sc.ws();
                        match sc.peek() {
                            Some(b',') => sc.i += 1,
                            Some(b']') => {
                                sc.i += 1;
                                break;
                            }
                            _ => return Err(JsonError("expected ',' or ']'")),
                        }
                        n += 1;
                    }
                }
                found
            }
            _ => false,
        };
        if !found {
            return Ok(None);
        }
        seg += 1;
        if seg == path.len() {
            sc.ws();
            let raw = sc.value(0)?;
            return Ok(Some(match raw.first() {
                Some(b'"') => unescape(&raw[1..raw.len() - 1])?,
                _ => Cow::Borrowed(raw),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(line: &str, path: &str) -> Option<String> {
        let p: Vec<&str> = path.split('.').collect();
        lookup(line.as_bytes(), &p)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|c| String::from_utf8_lossy(&c).into_owned())
    }

    #[test]
    fn paths() {
        let l = r#"{"a": 1, "user": {"id": "u\"1", "tags": ["x", {"k": 0.10}]}, "n": null}"#;
        assert_eq!(get(l, "a").as_deref(), Some("1"));
        assert_eq!(get(l, "user.id").as_deref(), Some("u\"1"));
        assert_eq!(get(l, "user.tags.1.k").as_deref(), Some("0.10"));
        assert_eq!(get(l, "user.tags.0").as_deref(), Some("x"));
        assert_eq!(get(l, "user.nope"), None);
        assert_eq!(get(l, "n").as_deref(), Some("null"));
        assert_eq!(
            get(l, "user").as_deref(),
            Some(r#"{"id": "u\"1", "tags": ["x", {"k": 0.10}]}"#)
        );
    }

    /// Issue 14 (defect 9): the last of duplicated members wins, at every level; bad escapes
    /// and lone surrogates are errors, surrogate pairs decode.
    #[test]
    fn duplicates_and_escapes() {
        assert_eq!(get(r#"{"a": 1, "a": 2}"#, "a").as_deref(), Some("2"));
        assert_eq!(
            get(r#"{"u": {"id": 1}, "u": {"id": 2}}"#, "u.id").as_deref(),
            Some("2")
        );
        assert_eq!(get(r#"{"u": {"id": 1}, "u": {"x": 2}}"#, "u.id"), None);
        assert_eq!(
            get(r#"{"u": {"id": 1, "id": 3}}"#, "u.id").as_deref(),
            Some("3")
        );
        assert_eq!(
            get(r#"{"k": "\ud83d\ude00"}"#, "k").as_deref(),
            Some("\u{1F600}")
        );
        assert_eq!(
            get(r#"{"\u006b": 1, "k": 2, "\u006B": 3}"#, "k").as_deref(),
            Some("3")
        );
        for bad in [
            r#"{"k": "\ud800"}"#,
            r#"{"k": "\udc00"}"#,
            r#"{"k": "\ud800\u0041"}"#,
            r#"{"k": "a\x"}"#,
            r#"{"k": "\u12"}"#,
            r#"{"k": 1, "z": "\ud800"}"#,
            r#"{"z": "\q", "k": 1}"#,
        ] {
            assert!(lookup(bad.as_bytes(), &["k"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "[1]",
            "{\"a\" 1}",
            "{\"a\": }",
            "{\"a\": \"x",
            "{\"a\": tru}",
        ] {
            assert!(lookup(bad.as_bytes(), &["a"]).is_err(), "{bad}");
        }
    }
}
