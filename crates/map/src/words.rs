//! `--words`: every token separated by spaces, TABs and record ends becomes `token<TAB>1`
//! (awk's default field splitting). The hot loop finds separators 16 bytes at a time
//! (SSE2 on x86-64, a plain loop elsewhere) and walks the token boundaries as bits, so the
//! cost is one copy of each token into the output.

/// Separators besides `eol`.
const SEPS: [u8; 3] = [b' ', b'\t', b'\n'];

/// Bit i set when `c[i]` is a separator.
#[inline]
fn sep_mask(c: &[u8; 64], eol: u8) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline; the loads read 4 x 16 bytes of the
        // 64-byte array and are unaligned loads.
        unsafe {
            let sp = _mm_set1_epi8(b' ' as i8);
            let tb = _mm_set1_epi8(b'\t' as i8);
            let nl = _mm_set1_epi8(b'\n' as i8);
            let eo = _mm_set1_epi8(eol as i8);
            let mut m = 0u64;
            for k in 0..4 {
                let v = _mm_loadu_si128(c.as_ptr().add(16 * k) as *const __m128i);
                let s = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tb)),
                    _mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, eo)),
                );
                m |= (_mm_movemask_epi8(s) as u32 as u64) << (16 * k);
            }
            m
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut m = 0u64;
        for (i, &b) in c.iter().enumerate() {
            m |= u64::from(SEPS.contains(&b) || b == eol) << i;
        }
        m
    }
}

/// Appends `token<TAB>1<eol>` for each token of `text`, which must end at a separator or
/// at the end of the input (a token is never cut in two). `lower` folds ASCII case.
/// Returns the number of tokens.
pub fn tokens(text: &[u8], lower: bool, eol: u8, out: &mut Vec<u8>) -> u64 {
    each_token(text, eol, |tok| {
        let at = out.len();
        out.extend_from_slice(tok);
        if lower {
            out[at..].make_ascii_lowercase();
        }
        out.extend_from_slice(&[b'\t', b'1', eol]);
    })
}

/// Calls `f` with each token of `text` (as for [`tokens`], unfolded). Returns the number
/// of tokens.
#[inline]
pub fn each_token(text: &[u8], eol: u8, mut f: impl FnMut(&[u8])) -> u64 {
    let mut count = 0u64;
    let mut in_tok = false;
    let mut start = 0usize;
    let mut base = 0usize;
    while base < text.len() {
        let mask = match text.get(base..base + 64) {
            Some(c) => {
                let c: &[u8; 64] = c.try_into().unwrap_or(&[b' '; 64]);
                sep_mask(c, eol)
            }
            None => {
                let mut pad = [b' '; 64];
                let rest = &text[base..];
                pad[..rest.len()].copy_from_slice(rest);
                sep_mask(&pad, eol)
            }
        };
        let word = !mask;
        // Bits where the state (in a token or not) changes from the byte before.
        let mut t = word ^ ((word << 1) | u64::from(in_tok));
        while t != 0 {
            let pos = base + t.trailing_zeros() as usize;
            t &= t - 1;
            if in_tok {
                f(&text[start..pos]);
                count += 1;
            } else {
                start = pos;
            }
            in_tok = !in_tok;
        }
        base += 64;
    }
    if in_tok {
        f(&text[start..]);
        count += 1;
    }
    count
}

/// Whether `c` separates tokens.
#[inline]
pub fn is_sep(c: u8, eol: u8) -> bool {
    SEPS.contains(&c) || c == eol
}

/// Why [`stream`] stopped.
#[derive(Debug)]
pub enum StreamError<E> {
    /// Reading the input failed.
    Read(std::io::Error),
    /// The consumer failed.
    Sink(E),
}

/// `--words` over one raw input: read `r` in blocks cut after their last separator (so that
/// no token is split), skip the first record when `skip_header`, and hand each block's text
/// to `f`. Returns (records, bytes) read; records are counted only when `count`.
pub fn stream<E>(
    r: &mut dyn std::io::Read,
    skip_header: bool,
    eol: u8,
    count: bool,
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(u64, u64), StreamError<E>> {
    const READ: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(2 * READ);
    let mut bytes = 0u64;
    let mut records = 0u64;
    let mut in_header = skip_header;
    let mut last = eol;
    loop {
        let at = buf.len();
        buf.resize(at + READ, 0);
        let n = loop {
            match r.read(&mut buf[at..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StreamError::Read(e)),
            }
        };
        buf.truncate(at + n);
        bytes += n as u64;
        let fresh = &buf[at..];
        if count {
            records += crate::count_byte(fresh, eol);
        }
        if let Some(&l) = fresh.last() {
            last = l;
        }
        let mut start = 0;
        if in_header {
            match memchr::memchr(eol, &buf) {
                Some(p) => {
                    start = p + 1;
                    in_header = false;
                }
                None if n == 0 => break,
                None => continue,
            }
        }
        let cut = if n == 0 {
            buf.len()
        } else {
            match buf[start..].iter().rposition(|&c| is_sep(c, eol)) {
                Some(p) => start + p + 1,
                None => start,
            }
        };
        f(&buf[start..cut]).map_err(StreamError::Sink)?;
        buf.drain(..cut);
        if n == 0 {
            break;
        }
    }
    if count && bytes > 0 && last != eol {
        records += 1;
    }
    Ok((records, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_never_splits_a_token_and_skips_the_header() {
        let text = b"h h\nab cd\nef";
        let mut r = &text[..];
        let mut seen = Vec::new();
        let got = stream(&mut r, true, b'\n', true, |t| {
            seen.push(t.to_vec());
            Ok::<(), ()>(())
        });
        assert_eq!(got.ok(), Some((3, text.len() as u64)));
        assert_eq!(seen.concat(), b"ab cd\nef");
        for t in &seen {
            assert!(t.is_empty() || t.ends_with(b" ") || t.ends_with(b"\n") || t.ends_with(b"ef"));
        }
    }

    fn naive(text: &[u8], lower: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for t in text.split(|&c| is_sep(c, b'\n')).filter(|t| !t.is_empty()) {
            let mut t = t.to_vec();
            if lower {
                t.make_ascii_lowercase();
            }
            out.extend_from_slice(&t);
            out.extend_from_slice(b"\t1\n");
        }
        out
    }

    #[test]
    fn against_a_naive_split() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let alphabet: &[u8] = b"aB \t\n\xc3\xa9xyz  \r\x00";
        for len in 0..300 {
            for _ in 0..5 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for lower in [false, true] {
                    let mut out = Vec::new();
                    tokens(&text, lower, b'\n', &mut out);
                    assert_eq!(
                        out,
                        naive(&text, lower),
                        "{:?}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
    }
}
