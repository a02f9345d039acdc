//! Order-preserving summaries of keys: the first 16 bytes of a sequence packed into two
//! big-endian u64s (the sorts' prefixes), and the byte transforms that keep order
//! (complement for reverse, NUL escaping for prefix-freedom).

pub(crate) fn complement(b: &mut [u8]) {
    for x in b {
        *x = !*x;
    }
}

/// `bytes` with NUL written as 00 01, then 00 00: order-preserving and prefix-free.
pub(crate) fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    let mut rest = bytes;
    while let Some(i) = memchr::memchr(0, rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(1);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&[0, 0]);
}

pub(crate) fn flip(p: [u64; 2], reverse: bool) -> [u64; 2] {
    if reverse {
        [!p[0], !p[1]]
    } else {
        p
    }
}

/// The first 16 bytes of a byte sequence as two big-endian u64s, zero padded.
#[derive(Default)]
pub(crate) struct Packer {
    buf: [u8; 16],
    n: usize,
}

impl Packer {
    #[inline]
    pub(crate) fn push(&mut self, b: u8) -> bool {
        if self.n == 16 {
            return false;
        }
        self.buf[self.n] = b;
        self.n += 1;
        true
    }

    #[inline]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        let k = bytes.len().min(16 - self.n);
        self.buf[self.n..self.n + k].copy_from_slice(&bytes[..k]);
        self.n += k;
    }

    /// The first 15 bytes and a length byte: the length when it is at most 15 (so equal
    /// summaries mean equal sequences), 0xFF when longer. Still order-preserving: among
    /// sequences equal in their first 15 bytes, the shorter is a prefix of the longer.
    #[inline]
    pub(crate) fn finish_counted(&self) -> [u64; 2] {
        let mut c = Packer {
            buf: self.buf,
            n: self.n,
        };
        c.buf[15] = if self.n <= 15 { self.n as u8 } else { 0xFF };
        c.finish(false)
    }

    #[inline]
    pub(crate) fn finish(&self, reverse: bool) -> [u64; 2] {
        let hi = u64::from_be_bytes([
            self.buf[0],
            self.buf[1],
            self.buf[2],
            self.buf[3],
            self.buf[4],
            self.buf[5],
            self.buf[6],
            self.buf[7],
        ]);
        let lo = u64::from_be_bytes([
            self.buf[8],
            self.buf[9],
            self.buf[10],
            self.buf[11],
            self.buf[12],
            self.buf[13],
            self.buf[14],
            self.buf[15],
        ]);
        flip([hi, lo], reverse)
    }
}
