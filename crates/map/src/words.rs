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

#[cfg(test)]
mod tests {
    use super::*;

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
