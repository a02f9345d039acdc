//! JSON lines for bmap: one pass over each line finds every path that `--where` and `--emit`
//! ask for and checks the whole line on the way (a malformed line is an error even when
//! the fields asked for come before the damage). A member name given twice: the last one
//! wins (jq, Python); a bad escape or a lone surrogate (`\ud800`) makes the line malformed,
//! as in record's key scanner. No document tree and no allocation: values
//! are spans of the line; strings with escapes are decoded into the caller's buffers.

/// Why a JSON line is bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub &'static str);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not valid JSON: {}", self.0)
    }
}

type R<T> = Result<T, JsonError>;

/// Where a value is in its line: a string's content (without the quotes), or the text of
/// any other value as it stands (`0.10`, `true`, `null`, `{"a": 1}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    /// A string whose content holds escapes (decode it with [`unescape_into`]).
    pub escaped: bool,
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// A string starting at its opening quote; returns its raw content.
    #[inline]
    fn string(&mut self) -> R<&'a [u8]> {
        self.i += 1;
        let start = self.i;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.s[self.i.min(self.s.len())..]) {
                None => return Err(JsonError("unterminated string")),
                Some(p) => {
                    self.i += p;
                    if self.s[self.i] == b'\\' {
                        // Escapes are checked as record's decoder checks them (a bad one,
                        // or a lone surrogate, makes the line malformed).
                        self.i +=
                            record::json::escape_len(self.s, self.i).map_err(|e| JsonError(e.0))?;
                    } else {
                        let raw = &self.s[start..self.i];
                        self.i += 1;
                        return Ok(raw);
                    }
                }
            }
        }
    }

    fn number_or_literal(&mut self) -> R<()> {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_alphanumeric())
        {
            self.i += 1;
        }
        let lit = &self.s[start..self.i];
        let ok = matches!(lit, b"true" | b"false" | b"null") || is_json_number(lit);
        if ok {
            Ok(())
        } else {
            Err(JsonError("unexpected literal"))
        }
    }

    /// Skip one value (checking it).
    fn value(&mut self, depth: usize) -> R<()> {
        if depth > 512 {
            return Err(JsonError("nested too deeply"));
        }
        self.ws();
        match self.peek() {
            None => Err(JsonError("missing value")),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(JsonError("expected a member name"));
                    }
                    self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(JsonError("expected ':'"));
                    }
                    self.i += 1;
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(JsonError("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(JsonError("expected ',' or ']'")),
                    }
                }
            }
            Some(c) if c == b'-' || c.is_ascii_digit() || c.is_ascii_alphabetic() => {
                self.number_or_literal()
            }
            Some(_) => Err(JsonError("unexpected character")),
        }
    }

    /// The value at the scanner's position (already checked) as a [`Found`].
    fn found(&mut self, depth: usize) -> R<Found> {
        self.ws();
        let start = self.i;
        self.value(depth)?;
        let end = self.i;
        Ok(if self.s[start] == b'"' {
            let raw = &self.s[start + 1..end - 1];
            Found {
                start: start + 1,
                end: end - 1,
                escaped: memchr::memchr(b'\\', raw).is_some(),
            }
        } else {
            Found {
                start,
                end,
                escaped: false,
            }
        })
    }
}

/// RFC 8259's number grammar.
fn is_json_number(s: &[u8]) -> bool {
    let mut i = 0;
    if s.first() == Some(&b'-') {
        i = 1;
    }
    let d = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if d == 0 || (d > 1 && s[i] == b'0') {
        return false;
    }
    i += d;
    if s.get(i) == Some(&b'.') {
        let f = s[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if f == 0 {
            return false;
        }
        i += 1 + f;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let e = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if e == 0 {
            return false;
        }
        i += e;
    }
    i == s.len()
}

/// Decode a JSON string's raw content into `out` (appended): record's decoder.
pub fn unescape_into(raw: &[u8], out: &mut Vec<u8>) -> R<()> {
    record::json::unescape_into(raw, out).map_err(|e| JsonError(e.0))
}

/// Finds a set of dotted paths in JSON lines, one pass per line.
pub struct Paths {
    /// Each path's segments.
    paths: Vec<Vec<Vec<u8>>>,
    /// A member name with escapes, decoded.
    name: Vec<u8>,
}

impl Paths {
    pub fn new(paths: Vec<Vec<Vec<u8>>>) -> Paths {
        Paths {
            paths,
            name: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Check `line` (one JSON object) and set `found[k]` to path k's value (`None`: absent).
    pub fn extract(&mut self, line: &[u8], found: &mut [Option<Found>]) -> R<()> {
        for f in found.iter_mut() {
            *f = None;
        }
        let mut sc = Scanner { s: line, i: 0 };
        sc.ws();
        if sc.peek() != Some(b'{') {
            return Err(JsonError("a record must be an object"));
        }
        sc.i += 1;
        sc.ws();
        if sc.peek() == Some(b'}') {
            sc.i += 1;
        } else {
            loop {
                sc.ws();
                if sc.peek() != Some(b'"') {
                    return Err(JsonError("expected a member name"));
                }
                let raw = sc.string()?;
                let name: &[u8] = if memchr::memchr(b'\\', raw).is_some() {
                    self.name.clear();
                    unescape_into(raw, &mut self.name)?;
                    &self.name
                } else {
                    raw
                };
                sc.ws();
                if sc.peek() != Some(b':') {
                    return Err(JsonError("expected ':'"));
                }
                sc.i += 1;
                sc.ws();
                let vstart = sc.i;
                let mut value: Option<Found> = None;
                // A name given twice: the last member wins (as in jq and Python).
                for (k, p) in self.paths.iter().enumerate() {
                    if p[0] != name {
                        continue;
                    }
                    if p.len() == 1 {
                        if value.is_none() {
                            let mut v = Scanner { s: line, i: vstart };
                            value = Some(v.found(1)?);
                        }
                        found[k] = value;
                    } else {
                        found[k] = find(line, vstart, &p[1..])?;
                    }
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
        sc.ws();
        if sc.i != line.len() {
            return Err(JsonError("text after the object"));
        }
        Ok(())
    }
}

/// Path `segs` inside the value at `start`.
fn find(line: &[u8], start: usize, segs: &[Vec<u8>]) -> R<Option<Found>> {
    let mut sc = Scanner { s: line, i: start };
    let mut name = Vec::new();
    for seg in segs {
        sc.ws();
        match sc.peek() {
            Some(b'{') => {
                sc.i += 1;
                // The last member of the name wins: read the whole object.
                let mut hit: Option<usize> = None;
                sc.ws();
                if sc.peek() != Some(b'}') {
                    loop {
                        sc.ws();
                        if sc.peek() != Some(b'"') {
                            return Err(JsonError("expected a member name"));
                        }
                        let raw = sc.string()?;
                        let same = if memchr::memchr(b'\\', raw).is_some() {
                            name.clear();
                            unescape_into(raw, &mut name)?;
                            name == *seg
                        } else {
                            raw == seg.as_slice()
                        };
                        sc.ws();
                        if sc.peek() != Some(b':') {
                            return Err(JsonError("expected ':'"));
                        }
                        sc.i += 1;
                        if same {
                            sc.ws();
                            hit = Some(sc.i);
                        }
                        sc.value(1)?;
                        sc.ws();
                        match sc.peek() {
                            Some(b',') => sc.i += 1,
                            _ => break,
                        }
                    }
                }
                match hit {
                    Some(at) => sc.i = at,
                    None => return Ok(None),
                }
            }
            Some(b'[') => {
                let want: Option<usize> =
                    std::str::from_utf8(seg).ok().and_then(|s| s.parse().ok());
                let Some(want) = want else { return Ok(None) };
                sc.i += 1;
                sc.ws();
                if sc.peek() == Some(b']') {
                    return Ok(None);
                }
                for _ in 0..want {
                    sc.value(1)?;
                    sc.ws();
                    match sc.peek() {
                        Some(b',') => sc.i += 1,
                        _ => return Ok(None),
                    }
                }
            }
            _ => return Ok(None),
        }
    }
    sc.found(1).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(line: &str, paths: &[&str]) -> Result<Vec<Option<String>>, JsonError> {
        let mut p = Paths::new(
            paths
                .iter()
                .map(|p| p.split('.').map(|s| s.as_bytes().to_vec()).collect())
                .collect(),
        );
        let mut found = vec![None; paths.len()];
        p.extract(line.as_bytes(), &mut found)?;
        Ok(found
            .iter()
            .map(|f| {
                f.map(|f| {
                    let raw = &line.as_bytes()[f.start..f.end];
                    let mut v = Vec::new();
                    if f.escaped {
                        unescape_into(raw, &mut v).unwrap_or_else(|e| panic!("{e}"));
                    } else {
                        v.extend_from_slice(raw);
                    }
                    String::from_utf8_lossy(&v).into_owned()
                })
            })
            .collect())
    }

    #[test]
    fn paths() {
        let l =
            r#" {"a": 1, "user": {"id": "u\"1", "tags": ["x", {"k": 0.10}]}, "n": null, "a": 2} "#;
        let got = get(
            l,
            &[
                "a",
                "user.id",
                "user.tags.1.k",
                "user.tags.0",
                "user.nope",
                "n",
                "zz",
                "user.tags.5",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // "a" is given twice: the last wins (issue 14).
        let want = [
            Some("2"),
            Some("u\"1"),
            Some("0.10"),
            Some("x"),
            None,
            Some("null"),
            None,
            None,
        ];
        assert_eq!(got, want.map(|s| s.map(str::to_string)));
        assert_eq!(
            get(r#"{"t\u00e9": "\u00e9\t"}"#, &["té"]).unwrap_or_else(|e| panic!("{e}")),
            vec![Some("é\t".to_string())]
        );
    }

    /// Issue 14 (defect 9): the last of duplicated members wins, as in record's scanner.
    #[test]
    fn duplicates_last_wins_and_lone_surrogates_are_bad() {
        let got = get(
            r#"{"a": 1, "u": {"id": 1, "id": 4}, "a": 2, "u": {"id": 3, "id": 5}, "\u0061": 6}"#,
            &["a", "u.id"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, vec![Some("6".to_string()), Some("5".to_string())]);
        let got = get(r#"{"u": {"id": 1}, "u": {}}"#, &["u.id"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, vec![None]);
        for bad in [
            r#"{"a": "\ud800"}"#,
            r#"{"b": "\udfff", "a": 1}"#,
            r#"{"a": "\x"}"#,
        ] {
            assert!(get(bad, &["a"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_anywhere() {
        for bad in [
            "",
            "[1]",
            "{\"a\" 1}",
            "{\"a\": }",
            "{\"a\": \"x",
            "{\"a\": tru}",
            "{\"a\": 1, \"b\": [1,}",
            "{\"a\": 1} x",
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": 1,}",
            "{\"a\": 1",
        ] {
            assert!(get(bad, &["a"]).is_err(), "{bad}");
        }
    }
}
