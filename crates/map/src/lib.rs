//! bmap's engines: the values a record holds ([`fields`], [`json`]), `--where` and `--emit`
//! ([`expr`], with numbers compared by [`num`]), `--words` ([`words`]), and the chunked
//! external-command runner ([`external`]).
//!
//! Engines never parse flags or exit, and print nothing (but for the external commands'
//! own stderr, which passes through).

pub mod expr;
pub mod external;
pub mod fields;
pub mod json;
pub mod num;
pub mod words;

/// How many times `b` occurs in `data` (for record counts): byte comparisons summed in
/// 32 lanes of u8, which the compiler turns into vector code; a plain `filter().count()`
/// costs several times more.
pub fn count_byte(data: &[u8], b: u8) -> u64 {
    let mut total = 0u64;
    for block in data.chunks(255 * 32) {
        let mut acc = [0u8; 32];
        let mut it = block.chunks_exact(32);
        for c in &mut it {
            for i in 0..32 {
                acc[i] += u8::from(c[i] == b);
            }
        }
        total += acc.iter().map(|&x| u64::from(x)).sum::<u64>();
        total += it.remainder().iter().filter(|&&c| c == b).count() as u64;
    }
    total
}

#[cfg(test)]
mod tests {
    #[test]
    fn count_byte() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 13) as u8).collect();
        for n in [0, 1, 31, 32, 33, 8160, 8161, 100_000] {
            let want = data[..n].iter().filter(|&&c| c == 5).count() as u64;
            assert_eq!(super::count_byte(&data[..n], 5), want);
        }
    }
}
