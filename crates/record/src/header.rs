//! Header records (`--header`): their column names, and `-k` specs resolved against them.

use crate::compare::is_blank;
use crate::{CsvScratch, FieldSplit, Format, Key, KeyOpts, KeySpec};

/// The column names of a header record (none for JSON lines, or a CSV header that does not
/// parse).
pub fn split_header(h: &[u8], format: Format) -> Vec<Vec<u8>> {
    match format {
        Format::Text(FieldSplit::Char(t)) => h.split(|&c| c == t).map(<[u8]>::to_vec).collect(),
        Format::Text(FieldSplit::Blank) => h
            .split(|c| is_blank(*c))
            .filter(|f| !f.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
        Format::Csv(d) => {
            let mut s = CsvScratch::default();
            match s.parse(h, d) {
                Ok(()) => s.fields().into_iter().map(<[u8]>::to_vec).collect(),
                Err(_) => Vec::new(),
            }
        }
        Format::Jsonl => Vec::new(),
    }
}

/// Resolve `-k` specs for `format`: each inherits the global flags `global` (bsort's
/// `-n -r ...` before any `-k`), names are looked up in `header` (the column names, when
/// there is a header). The message of the first that does not resolve.
pub fn resolve_keys(
    specs: &[KeySpec],
    global: &KeyOpts,
    format: Format,
    header: Option<&[Vec<u8>]>,
) -> Result<Vec<Key>, String> {
    let refs: Option<Vec<&[u8]>> = header.map(|v| v.iter().map(Vec::as_slice).collect());
    specs
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.inherit(global);
            Key::resolve(&s, format, refs.as_deref())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_columns_per_format() {
        let tsv = Format::Text(FieldSplit::Char(b'\t'));
        assert_eq!(
            split_header(b"a\tb", tsv),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        let blank = Format::Text(FieldSplit::Blank);
        assert_eq!(
            split_header(b" a  b ", blank),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            split_header(b"\"x,y\",z", Format::Csv(b',')),
            vec![b"x,y".to_vec(), b"z".to_vec()]
        );
        assert!(split_header(b"{}", Format::Jsonl).is_empty());
    }

    #[test]
    fn keys_resolve_names_against_the_header() {
        let tsv = Format::Text(FieldSplit::Char(b'\t'));
        let specs = [KeySpec::parse("amount").unwrap_or_else(|e| panic!("{e}"))];
        let header = split_header(b"id\tamount", tsv);
        let keys = resolve_keys(&specs, &KeyOpts::default(), tsv, Some(&header));
        assert_eq!(keys.map(|k| k.len()), Ok(1));
        let e = resolve_keys(&specs, &KeyOpts::default(), tsv, Some(&[b"id".to_vec()]));
        assert!(e.is_err());
    }
}
