//! Byte chunks of a plain file cut at record boundaries (bsplit `-n N`): the boundaries,
//! found by seeking (CSV: by one scan, since only the quotes before a point say whether it
//! is inside a field), and the copy of one chunk, counting its records.

use crate::cut::Ends;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// N + 1 offsets: 0, then for each i the first record boundary at or after i*size/N, then
/// `size`. CSV (a quoted field may hold the terminator) is scanned from the start; other
/// text is cut by seeking.
pub fn chunk_bounds(f: &mut File, size: u64, n: u64, eol: u8, csv: bool) -> io::Result<Vec<u64>> {
    if csv {
        return csv_chunk_bounds(f, size, n, eol);
    }
    let mut bounds = vec![0u64];
    let mut buf = vec![0u8; 64 << 10];
    for i in 1..n {
        let target = (size as u128 * i as u128 / n as u128) as u64;
        let prev = *bounds.last().unwrap_or(&0);
        let mut b = target.max(prev);
        if b > 0 && b < size {
            // The boundary is just after the terminator at or after b - 1.
            f.seek(SeekFrom::Start(b - 1))?;
            let mut pos = b - 1;
            b = size;
            loop {
                let got = f.read(&mut buf)?;
                if got == 0 {
                    break;
                }
                if let Some(j) = memchr::memchr(eol, &buf[..got]) {
                    b = pos + j as u64 + 1;
                    break;
                }
                pos += got as u64;
            }
        }
        bounds.push(b.min(size));
    }
    bounds.push(size);
    Ok(bounds)
}

fn csv_chunk_bounds(f: &mut File, size: u64, n: u64, eol: u8) -> io::Result<Vec<u64>> {
    let target = |i: u64| (size as u128 * i as u128 / n as u128) as u64;
    let mut bounds = vec![0u64];
    let mut ends = Ends::new(eol, true);
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    f.seek(SeekFrom::Start(0))?;
    while (bounds.len() as u64) < n {
        let got = f.read(&mut buf)?;
        if got == 0 {
            break;
        }
        ends.feed(&buf[..got], |e| {
            let e = pos + e as u64;
            // One record end may serve several targets (a long record).
            while (bounds.len() as u64) < n && e >= target(bounds.len() as u64) {
                bounds.push(e);
            }
            (bounds.len() as u64) < n
        });
        pos += got as u64;
    }
    while (bounds.len() as u64) < n {
        bounds.push(size);
    }
    bounds.push(size);
    Ok(bounds)
}

/// Copy bytes [from, to) of `f` to `w`, after `header` (written as it is); returns
/// (records, bytes written). `ends`: a fresh scanner (a chunk starts at a record start),
/// counting where records end; an unterminated last record counts too.
pub fn copy_range(
    f: &mut File,
    from: u64,
    to: u64,
    w: &mut dyn Write,
    header: Option<&[u8]>,
    mut ends: Ends,
) -> io::Result<(u64, u64)> {
    let eol = ends.eol();
    f.seek(SeekFrom::Start(from))?;
    let mut records = 0u64;
    let mut bytes = 0u64;
    if let Some(h) = header {
        w.write_all(h)?;
        bytes += h.len() as u64;
    }
    let mut left = to - from;
    let mut buf = vec![0u8; 1 << 20];
    let mut last = eol;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let got = f.read(&mut buf[..want])?;
        if got == 0 {
            break;
        }
        records += ends.count(&buf[..got]);
        last = buf[got - 1];
        w.write_all(&buf[..got])?;
        bytes += got as u64;
        left -= got as u64;
    }
    if to > from && (last != eol || ends.in_quotes()) {
        records += 1;
    }
    Ok((records, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        f.write_all(data).unwrap_or_else(|e| panic!("{e}"));
        f
    }

    #[test]
    fn bounds_fall_after_terminators_and_cover_the_file() {
        let data = b"aaaa\nbb\ncccccc\nd\n";
        let mut f = file(data);
        let b = chunk_bounds(&mut f, data.len() as u64, 3, b'\n', false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.len(), 4);
        assert_eq!((b[0], b[3]), (0, data.len() as u64));
        for &x in &b[1..3] {
            assert!(
                x == data.len() as u64 || data[x as usize - 1] == b'\n',
                "{b:?}"
            );
        }
    }

    #[test]
    fn csv_bounds_never_fall_inside_quotes() {
        let data = b"\"a\nb\",1\n\"c\nd\",2\n";
        let mut f = file(data);
        let b = chunk_bounds(&mut f, data.len() as u64, 4, b'\n', true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            b.iter().all(|&x| [0, 8, data.len() as u64].contains(&x)),
            "{b:?}"
        );
    }

    #[test]
    fn copy_counts_records_and_an_unterminated_last() {
        let data = b"x\ny\nz";
        let mut f = file(data);
        let mut out = Vec::new();
        let got = copy_range(
            &mut f,
            2,
            5,
            &mut out,
            Some(b"h\n"),
            Ends::new(b'\n', false),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, (2, 5));
        assert_eq!(out, b"h\ny\nz");
    }
}
