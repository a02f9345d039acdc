//! The `-k` grammar of SPEC §1 Keys, a superset of GNU sort's KEYDEF.
//!
//! ```text
//! SPEC  := POS [ "," POS ] [ FLAGS ]            numbered fields (GNU: F[.C][FLAGS][,F[.C][FLAGS]])
//!        | NAME [ "," NAME ] [ ":" FLAGS ]      column names (--header) or JSON paths (user.id)
//! POS   := FIELD [ "." CHAR ] [ FLAGS ]
//! FLAGS := any of n g h r f b d i
//! ```
//! `-k N` alone is field N only (GNU sort runs it to the end of the line). This module only
//! parses; names are resolved against a header by [`KeySpec::resolve`].

use crate::compare::KeyOpts;
use thiserror::Error;

/// A malformed `-k` argument.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid key '{spec}': {reason}")]
pub struct KeyError {
    pub spec: String,
    pub reason: String,
}

/// Which field a key position names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    /// 0-based field number.
    Index(usize),
    /// A column name (with `--header`) or a dotted JSON path (JSON lines).
    Name(String),
}

/// One end of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPos {
    pub field: FieldRef,
    /// 1-based character offset within the field; 0 when not given.
    pub chr: usize,
}

/// A parsed `-k` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub start: KeyPos,
    /// Where the key ends; `None` means at the end of the start field.
    pub end: Option<KeyPos>,
    pub opts: KeyOpts,
    /// The text the user gave, for messages.
    pub text: String,
}

fn err(spec: &str, reason: &str) -> KeyError {
    KeyError {
        spec: spec.to_string(),
        reason: reason.to_string(),
    }
}

/// Apply one flag letter; `end` says whether it stands after the end position (for `b`).
fn set_flag(opts: &mut KeyOpts, c: char, end: bool) -> bool {
    match c {
        'n' => opts.numeric = true,
        'g' => opts.general = true,
        'h' => opts.human = true,
        'r' => opts.reverse = true,
        'f' => opts.fold = true,
        'd' => opts.dictionary = true,
        'i' => opts.ignore_nonprinting = true,
        'b' if end => opts.skip_end_blanks = true,
        'b' => opts.skip_start_blanks = true,
        _ => return false,
    }
    true
}

/// Reject combinations GNU sort rejects: at most one of `n g h`, and `d`/`i` only on text.
pub fn check_opts(spec: &str, opts: &KeyOpts) -> Result<(), KeyError> {
    let numeric = [opts.numeric, opts.general, opts.human]
        .iter()
        .filter(|&&x| x)
        .count();
    if numeric > 1 {
        return Err(err(spec, "options 'n', 'g' and 'h' are incompatible"));
    }
    if numeric == 1 && (opts.dictionary || opts.ignore_nonprinting) {
        return Err(err(
            spec,
            "options 'd'/'i' are incompatible with numeric ordering",
        ));
    }
    Ok(())
}

fn parse_number(spec: &str, s: &str) -> Result<(usize, usize), KeyError> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return Err(err(spec, "expected a field number"));
    }
    let v = s[..n]
        .parse::<usize>()
        .map_err(|_| err(spec, "field number is too large"))?;
    Ok((v, n))
}

/// Parse `F[.C][FLAGS]`, returning the position and the rest of the text.
fn parse_pos<'a>(
    spec: &str,
    s: &'a str,
    opts: &mut KeyOpts,
    end: bool,
) -> Result<(KeyPos, &'a str), KeyError> {
    let (field, n) = parse_number(spec, s)?;
    if field == 0 {
        return Err(err(spec, "field number is zero"));
    }
    let mut rest = &s[n..];
    let mut chr = 0;
    if let Some(r) = rest.strip_prefix('.') {
        let (c, n) = parse_number(spec, r)?;
        if c == 0 && !end {
            return Err(err(spec, "character offset is zero"));
        }
        chr = c;
        rest = &r[n..];
    }
    let flags = rest.find(',').unwrap_or(rest.len());
    for c in rest[..flags].chars() {
        if !set_flag(opts, c, end) {
            return Err(err(spec, &format!("unknown flag '{c}'")));
        }
    }
    Ok((
        KeyPos {
            field: FieldRef::Index(field - 1),
            chr,
        },
        &rest[flags..],
    ))
}

impl KeySpec {
    /// Parse one `-k` argument.
    pub fn parse(spec: &str) -> Result<KeySpec, KeyError> {
        if spec.is_empty() {
            return Err(err(spec, "empty key"));
        }
        let mut opts = KeyOpts::default();
        let (start, end) = if spec.starts_with(|c: char| c.is_ascii_digit()) {
            let (start, rest) = parse_pos(spec, spec, &mut opts, false)?;
            let end = match rest.strip_prefix(',') {
                Some(r) => {
                    let (end, rest) = parse_pos(spec, r, &mut opts, true)?;
                    if !rest.is_empty() {
                        return Err(err(spec, "unexpected text after the end position"));
                    }
                    Some(end)
                }
                None if rest.is_empty() => None,
                None => return Err(err(spec, "unexpected text after the start position")),
            };
            (start, end)
        } else {
            let (names, flags) = match spec.rsplit_once(':') {
                Some((n, f)) => (n, f),
                None => (spec, ""),
            };
            for c in flags.chars() {
                if !set_flag(&mut opts, c, false) {
                    return Err(err(spec, &format!("unknown flag '{c}'")));
                }
            }
            let mut parts = names.split(',');
            let name = |p: Option<&str>| -> Result<Option<KeyPos>, KeyError> {
                match p {
                    None => Ok(None),
                    Some("") => Err(err(spec, "empty field name")),
                    Some(p) if p.starts_with(|c: char| c.is_ascii_digit()) => {
                        Err(err(spec, "mixes a field number and a field name"))
                    }
                    Some(p) => Ok(Some(KeyPos {
                        field: FieldRef::Name(p.to_string()),
                        chr: 0,
                    })),
                }
            };
            let start = name(parts.next())?.ok_or_else(|| err(spec, "empty key"))?;
            let end = name(parts.next())?;
            if parts.next().is_some() {
                return Err(err(spec, "more than two positions"));
            }
            (start, end)
        };
        check_opts(spec, &opts)?;
        Ok(KeySpec {
            start,
            end,
            opts,
            text: spec.to_string(),
        })
    }

    /// True when the key names its fields rather than numbering them.
    pub fn has_names(&self) -> bool {
        matches!(self.start.field, FieldRef::Name(_))
    }

    /// Replace column names by their 0-based indexes in `header`.
    pub fn resolve(&mut self, header: &[&[u8]]) -> Result<(), KeyError> {
        let text = self.text.clone();
        let find = |pos: &mut KeyPos| -> Result<(), KeyError> {
            if let FieldRef::Name(n) = &pos.field {
                let i = header
                    .iter()
                    .position(|h| *h == n.as_bytes())
                    .ok_or_else(|| err(&text, &format!("no column named '{n}' in the header")))?;
                pos.field = FieldRef::Index(i);
            }
            Ok(())
        };
        find(&mut self.start)?;
        if let Some(e) = &mut self.end {
            find(e)?;
        }
        Ok(())
    }

    /// Give a key without flags of its own the global ones (GNU's inheritance rule).
    pub fn inherit(&mut self, global: &KeyOpts) {
        if !self.opts.any() {
            self.opts = *global;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_forms() {
        let k = KeySpec::parse("2,3n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.start.field, FieldRef::Index(1));
        assert_eq!(
            k.end,
            Some(KeyPos {
                field: FieldRef::Index(2),
                chr: 0
            })
        );
        assert!(k.opts.numeric);
        let k = KeySpec::parse("1.3b,1.5rb").unwrap_or_else(|e| panic!("{e}"));
        assert!(k.opts.skip_start_blanks && k.opts.skip_end_blanks && k.opts.reverse);
        assert_eq!(k.start.chr, 3);
        let k = KeySpec::parse("2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.end, None);
        assert!(KeySpec::parse("2,3.0").is_ok());
    }

    #[test]
    fn malformed() {
        for bad in [
            "0", "1.0", "", "a:z", "1,0", "1x", "1,2,3", "1ng", "1.", ",2", "1dn",
        ] {
            assert!(KeySpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        let mut k = KeySpec::parse("amount:nr").unwrap_or_else(|e| panic!("{e}"));
        assert!(k.opts.numeric && k.opts.reverse);
        k.resolve(&[b"id", b"amount"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.start.field, FieldRef::Index(1));
        let k = KeySpec::parse("user.id").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.start.field, FieldRef::Name("user.id".into()));
    }
}
