//! Sizes as GNU sort reads them: `64M`, `2G`, `512` (KiB by default), `1000b`, `25%` of RAM.

/// Parse a buffer size; `None` when malformed.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let suffix = &s[digits..];
    let shift = |k: u32| n.checked_mul(1u64.checked_shl(10 * k)?);
    match suffix {
        "" | "K" | "k" | "KiB" => shift(1),
        "b" | "B" => Some(n),
        "M" | "m" | "MiB" => shift(2),
        "G" | "g" | "GiB" => shift(3),
        "T" | "t" | "TiB" => shift(4),
        "P" | "p" | "PiB" => shift(5),
        "E" | "e" | "EiB" => shift(6),
        "%" => {
            if n > 100 {
                return None;
            }
            Some(physical_memory() / 100 * n)
        }
        _ => None,
    }
}

/// Installed memory in bytes (8 GiB when it cannot be read).
pub fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("100"), Some(100 << 10));
        assert_eq!(parse_size("1000b"), Some(1000));
        assert!(parse_size("10%").is_some_and(|v| v > 0));
        for bad in ["", "M", "1X", "-5", "101%", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}
