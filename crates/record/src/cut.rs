//! Where records end, for the places that cut input by bytes (bsplit `-n`, bmap's chunks):
//! in CSV a terminator inside a quoted field is data, not a record end.
//!
//! A record end is the offset just after a terminator; for CSV only a terminator outside
//! quotes counts. Quote state follows RFC 4180: every `"` toggles it (an escaped `""` toggles
//! twice), so a scan that starts at a record start always knows whether it is inside a field.
//! This module never reads or writes anything itself.

/// Record ends of text fed in order from a record start, CSV quotes considered or not.
#[derive(Clone, Debug)]
pub struct Ends {
    eol: u8,
    csv: bool,
    in_quotes: bool,
}

impl Ends {
    pub fn new(eol: u8, csv: bool) -> Ends {
        Ends {
            eol,
            csv,
            in_quotes: false,
        }
    }

    pub fn eol(&self) -> u8 {
        self.eol
    }

    /// Whether the text fed so far stops inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        self.in_quotes
    }

    /// Feed the next bytes; `f` gets the offset (into `data`) just after each record end and
    /// returns `false` to stop. Returns how many bytes were consumed (all of them, or up to
    /// and including the terminator where `f` stopped).
    pub fn feed(&mut self, data: &[u8], mut f: impl FnMut(usize) -> bool) -> usize {
        if !self.csv {
            for p in memchr::memchr_iter(self.eol, data) {
                if !f(p + 1) {
                    return p + 1;
                }
            }
            return data.len();
        }
        for p in memchr::memchr2_iter(b'"', self.eol, data) {
            if data[p] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes && !f(p + 1) {
                return p + 1;
            }
        }
        data.len()
    }

    /// Count the record ends in `data`.
    pub fn count(&mut self, data: &[u8]) -> u64 {
        let mut n = 0;
        self.feed(data, |_| {
            n += 1;
            true
        });
        n
    }
}

/// Where to cut `data` (which starts at a record start) into a piece of at most `size`
/// bytes: just after the last record end within `data[..size]`, else just after the first
/// one beyond (a record longer than `size` is a piece of its own); `None` when `data` holds
/// no record end at all.
pub fn last_end_within(data: &[u8], size: usize, eol: u8, csv: bool) -> Option<usize> {
    if !csv {
        return match memchr::memrchr(eol, &data[..size.min(data.len())]) {
            Some(p) => Some(p + 1),
            None => memchr::memchr(eol, data.get(size..)?).map(|q| size + q + 1),
        };
    }
    let mut ends = Ends::new(eol, true);
    let mut last = None;
    let mut beyond = None;
    ends.feed(data, |e| {
        if e <= size {
            last = Some(e);
            true
        } else {
            beyond = Some(e);
            false
        }
    });
    last.or(beyond)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record ends the slow way: a byte at a time, RFC 4180 quote toggling.
    fn naive_ends(data: &[u8], eol: u8, csv: bool) -> Vec<usize> {
        let mut q = false;
        let mut v = Vec::new();
        for (i, &c) in data.iter().enumerate() {
            if csv && c == b'"' {
                q = !q;
            } else if c == eol && !q {
                v.push(i + 1);
            }
        }
        v
    }

    fn ends_in_pieces(data: &[u8], eol: u8, csv: bool, piece: usize) -> Vec<usize> {
        let mut e = Ends::new(eol, csv);
        let mut v = Vec::new();
        let mut base = 0;
        for chunk in data.chunks(piece.max(1)) {
            e.feed(chunk, |p| {
                v.push(base + p);
                true
            });
            base += chunk.len();
        }
        v
    }

    proptest::proptest! {
        #[test]
        fn ends_agree_with_a_byte_loop(data in "[a\"\n,\r]{0,64}", piece in 1usize..9) {
            for csv in [false, true] {
                let want = naive_ends(data.as_bytes(), b'\n', csv);
                proptest::prop_assert_eq!(
                    ends_in_pieces(data.as_bytes(), b'\n', csv, piece), want
                );
            }
        }

        #[test]
        fn cuts_are_record_ends(data in "[a\"\n,]{0,64}", size in 1usize..20) {
            for csv in [false, true] {
                let all = naive_ends(data.as_bytes(), b'\n', csv);
                let want = all
                    .iter()
                    .rev()
                    .find(|&&e| e <= size)
                    .or_else(|| all.iter().find(|&&e| e > size))
                    .copied();
                proptest::prop_assert_eq!(last_end_within(data.as_bytes(), size, b'\n', csv), want);
            }
        }
    }

    #[test]
    fn quoted_newlines_are_not_ends() {
        let data = b"k,v\na,\"x\ny\"\nb,2\n";
        assert_eq!(naive_ends(data, b'\n', true), vec![4, 12, 16]);
        assert_eq!(ends_in_pieces(data, b'\n', true, 3), vec![4, 12, 16]);
        assert_eq!(last_end_within(data, 9, b'\n', true), Some(4));
        assert_eq!(last_end_within(data, 9, b'\n', false), Some(9));
        let mut e = Ends::new(b'\n', true);
        assert_eq!(e.count(b"a,\"open\n"), 0);
        assert!(e.in_quotes());
    }
}
