//! Field access in JSON lines by dotted path (`user.id`, `items.0.sku`), without building a
//! document tree: the scanner walks the line once and returns the raw text of the value.
//!
//! A string value is returned decoded (escapes resolved); any other value as its JSON text
//! as it stands in the line (`0.10` stays `0.10`). A missing path is `None`. The scanner
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
                        self.i += 2;
                        if self.i > self.s.len() {
                            return Err(JsonError("unterminated string"));
                        }
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
        let e = *raw.get(i + 1).ok_or(JsonError("bad escape"))?;
        i += 2;
        match e {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hex = |at: usize| -> R<u32> {
                    let h = raw.get(at..at + 4).ok_or(JsonError("bad \\u escape"))?;
                    let mut v = 0u32;
                    for &c in h {
                        let d = (c as char)
                            .to_digit(16)
                            .ok_or(JsonError("bad \\u escape"))?;
                        v = v * 16 + d;
                    }
                    Ok(v)
                };
                let mut cp = hex(i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) && raw.get(i..i + 2) == Some(b"\\u") {
                    let lo = hex(i + 2)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(JsonError("bad escape")),
        }
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
                let mut found = false;
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
                            found = true;
                            break;
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
                found
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
