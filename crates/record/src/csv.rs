//! Decoding one whole CSV record (quotes and all) into its fields, with reusable buffers.

use crate::order::KeyReadError;

/// Reusable buffers for decoding one CSV record.
#[derive(Default)]
pub struct CsvScratch {
    out: Vec<u8>,
    ends: Vec<usize>,
    n: usize,
}

impl CsvScratch {
    /// Decode `rec` (one whole CSV record, quotes and all) into fields.
    pub fn parse(&mut self, rec: &[u8], delim: u8) -> Result<(), KeyReadError> {
        let mut rdr = csv_core::ReaderBuilder::new().delimiter(delim).build();
        if self.out.len() < rec.len() + 1 {
            self.out.resize(rec.len() + 1, 0);
        }
        if self.ends.len() < 16 {
            self.ends.resize(16, 0);
        }
        let mut input = rec;
        let (mut nout, mut nends) = (0, 0);
        loop {
            let (res, nin, o, e) =
                rdr.read_record(input, &mut self.out[nout..], &mut self.ends[nends..]);
            input = &input[nin..];
            nout += o;
            nends += e;
            match res {
                csv_core::ReadRecordResult::InputEmpty => {
                    if input.is_empty() {
                        // Signal the end of input to finish the record.
                        let (res, _, o, e) =
                            rdr.read_record(&[], &mut self.out[nout..], &mut self.ends[nends..]);
                        nout += o;
                        nends += e;
                        match res {
                            csv_core::ReadRecordResult::Record
                            | csv_core::ReadRecordResult::End => break,
                            csv_core::ReadRecordResult::OutputEndsFull => {
                                let l = self.ends.len();
                                self.ends.resize(l * 2, 0);
                                continue;
                            }
                            _ => return Err(KeyReadError::Csv),
                        }
                    }
                }
                csv_core::ReadRecordResult::OutputFull => {
                    let l = self.out.len();
                    self.out.resize(l * 2, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let l = self.ends.len();
                    self.ends.resize(l * 2, 0);
                }
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
            }
        }
        let _ = nout;
        // A record ended before its input did: only a bare CR outside quotes does that (a
        // framed record has no unquoted newline, and a CR right before the newline is the
        // CRLF line end, consumed with the record). Never drop the rest silently.
        if !input.is_empty() {
            return Err(KeyReadError::CsvBareCr);
        }
        self.n = nends;
        Ok(())
    }

    /// Field `i` (0-based) of the last record parsed; empty past the last field.
    pub fn field(&self, i: usize) -> &[u8] {
        if i >= self.n {
            return &[];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.out.get(start..self.ends[i]).unwrap_or(&[])
    }

    /// The fields of the last record parsed.
    pub fn fields(&self) -> Vec<&[u8]> {
        let mut start = 0;
        let mut v = Vec::with_capacity(self.n);
        for &e in &self.ends[..self.n] {
            v.push(self.out.get(start..e).unwrap_or(&[]));
            start = e;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_decode() {
        let mut s = CsvScratch::default();
        s.parse(b"a,\"b,\"\"c\"\"\",,d", b',')
            .unwrap_or_else(|e| panic!("{e}"));
        let f: Vec<&[u8]> = s.fields();
        assert_eq!(f, vec![&b"a"[..], b"b,\"c\"", b"", b"d"]);
        s.parse(b"", b',').unwrap_or_else(|e| panic!("{e}"));
        assert!(s.fields().len() <= 1);
    }

    /// Issue 14 (defect 2): a lone CR outside quotes is a malformed record, not the end of
    /// one that silently drops what follows; a CR inside quotes is data; CRLF line ends
    /// are line ends.
    #[test]
    fn csv_lone_cr() {
        let mut s = CsvScratch::default();
        assert_eq!(s.parse(b"a,1\rb,2", b','), Err(KeyReadError::CsvBareCr));
        assert_eq!(s.parse(b"a,x\ry", b','), Err(KeyReadError::CsvBareCr));
        assert_eq!(s.parse(b"a,1\r\r", b','), Err(KeyReadError::CsvBareCr));
        s.parse(b"a,\"1\rb\",2", b',')
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.fields(), vec![&b"a"[..], b"1\rb", b"2"]);
        s.parse(b"a,1\r", b',').unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.fields(), vec![&b"a"[..], b"1"]);
    }
}
