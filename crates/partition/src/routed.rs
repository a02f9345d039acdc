//! Routing a stream sorted by partition to part files (bshuffle `-o DIR`): each item is
//! framed `partition:u32be len:u32le bytes`, one file is open at a time, and every
//! partition gets a file, empty or not.

use crate::PartInfo;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Routes framed items to part files: the stream is sorted by partition, so one file is
/// open at a time, and every partition gets a file, empty or not.
pub struct PartWriter<'a> {
    pub dir: PathBuf,
    /// Written at the top of every part, with `eol`.
    pub header: Option<&'a [u8]>,
    pub eol: u8,
    pub current: Option<(u32, BufWriter<File>)>,
    /// Records and bytes per part, counted as they are written.
    pub parts: &'a mut [PartInfo],
}

impl PartWriter<'_> {
    fn open(&mut self, p: u32) -> std::io::Result<()> {
        let name = &self.parts[p as usize].name;
        let mut w = BufWriter::with_capacity(1 << 20, File::create(self.dir.join(name))?);
        if let Some(h) = self.header {
            w.write_all(h)?;
            w.write_all(&[self.eol])?;
            self.parts[p as usize].bytes += h.len() as u64 + 1;
        }
        self.current = Some((p, w));
        Ok(())
    }

    /// Close the current part and create every empty one up to `upto` (exclusive).
    fn advance_to(&mut self, upto: u32) -> std::io::Result<()> {
        let from = match self.current.take() {
            Some((p, mut w)) => {
                w.flush()?;
                p + 1
            }
            None => 0,
        };
        for q in from..upto {
            self.open(q)?;
            if let Some((_, mut w)) = self.current.take() {
                w.flush()?;
            }
        }
        Ok(())
    }

    /// Write a block of framed items.
    pub fn write_block(&mut self, mut block: &[u8]) -> std::io::Result<()> {
        while block.len() >= 8 {
            let p = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
            let len = u32::from_le_bytes([block[4], block[5], block[6], block[7]]) as usize;
            let rec = block
                .get(8..8 + len)
                .ok_or_else(|| std::io::Error::other("truncated item"))?;
            if self.current.as_ref().map(|c| c.0) != Some(p) {
                self.advance_to(p)?;
                self.open(p)?;
            }
            if let Some((_, w)) = &mut self.current {
                w.write_all(rec)?;
            }
            let info = &mut self.parts[p as usize];
            info.records += 1;
            info.bytes += len as u64;
            block = &block[8 + len..];
        }
        Ok(())
    }

    /// Close the last part and create the empty ones after it.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let n = self.parts.len() as u32;
        self.advance_to(n)
    }
}

/// Frame one record for [`PartWriter::write_block`]: `p`, then its length with `eol`.
pub fn frame(p: u32, rec: &[u8], eol: u8, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&p.to_be_bytes());
    buf.extend_from_slice(&(rec.len() as u32 + 1).to_le_bytes());
    buf.extend_from_slice(rec);
    buf.push(eol);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part_name;

    #[test]
    fn every_partition_gets_its_file_with_the_header() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut parts: Vec<PartInfo> = (0..4)
            .map(|i| PartInfo {
                name: part_name(i, ""),
                ..PartInfo::default()
            })
            .collect();
        let mut w = PartWriter {
            dir: d.path().to_path_buf(),
            header: Some(b"h"),
            eol: b'\n',
            current: None,
            parts: &mut parts,
        };
        let mut block = Vec::new();
        frame(1, b"a", b'\n', &mut block);
        frame(1, b"b", b'\n', &mut block);
        frame(3, b"c", b'\n', &mut block);
        w.write_block(&block).unwrap_or_else(|e| panic!("{e}"));
        w.finish().unwrap_or_else(|e| panic!("{e}"));
        let read = |i| std::fs::read(d.path().join(part_name(i, ""))).unwrap_or_default();
        assert_eq!(read(0), b"h\n");
        assert_eq!(read(1), b"h\na\nb\n");
        assert_eq!(read(2), b"h\n");
        assert_eq!(read(3), b"h\nc\n");
        assert_eq!((parts[1].records, parts[1].bytes), (2, 6));
    }
}
