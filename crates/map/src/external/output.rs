//! Writing the chunks' outputs: in input order (held in memory within the budget, spilled
//! beyond it), or each whole as it finishes (`--unordered`).

use super::*;

/// Write the chunks' outputs: in input order, or as chunks finish (`unordered`). Between
/// two chunks' outputs, a terminator is added when the first lacks one (so that records
/// never run together); the very last output is written as it is.
pub(super) fn write_out(sh: &Shared, out: &mut (dyn Write + Send)) -> Result<(), Error> {
    let mut w = Joiner {
        out,
        eol: sh.cfg.eol,
        owed: false,
        started: false,
        last: 0,
        bytes: 0,
        records: 0,
        count: sh.cfg.count_records,
    };
    let mut emitted = 0u64;
    // Unordered: the chunk being written, until all of it is (another may finish meanwhile
    // and must not cut in).
    let mut writing: Option<u64> = None;
    let mut st = sh.lock();
    loop {
        if st.error.is_some() {
            return Ok(());
        }
        if st.total == Some(emitted) {
            st.stats.bytes_out = w.bytes;
            st.stats.records_out = w.records + u64::from(w.owed);
            return Ok(());
        }
        let seq = if sh.cfg.unordered {
            writing.or_else(|| {
                st.slots
                    .iter()
                    .filter(|(_, s)| s.done)
                    .map(|(k, _)| *k)
                    .min()
            })
        } else {
            Some(st.current)
        };
        let Some(slot) = seq.and_then(|q| st.slots.get_mut(&q)) else {
            st = sh.wait(st);
            continue;
        };
        let seq = seq.unwrap_or_default();
        if (sh.stream || slot.done) && !slot.mem.is_empty() {
            let b = slot.mem.pop_front().unwrap_or_default();
            slot.mem_bytes -= b.len();
            st.mem_total -= b.len();
            drop(st);
            sh.cv.notify_all();
            writing = Some(seq);
            w.write(&b)?;
            st = sh.lock();
            if st.blocks.len() < 2 * sh.cfg.jobs + 4 {
                st.blocks.push(b);
            }
            continue;
        }
        if slot.done {
            let spill = slot.spill.take();
            st.slots.remove(&seq);
            drop(st);
            if let Some(p) = spill {
                let res = w.copy_file(&p);
                sh.remove_spill(&p);
                res?;
            }
            w.end_chunk();
            writing = None;
            emitted += 1;
            st = sh.lock();
            if !sh.cfg.unordered {
                st.current = seq + 1;
            }
            drop(st);
            sh.cv.notify_all();
            st = sh.lock();
            continue;
        }
        st = sh.wait(st);
    }
}

/// Joins chunk outputs, adding a terminator between two when the first lacks one.
struct Joiner<'o> {
    out: &'o mut (dyn Write + Send),
    eol: u8,
    /// The previous chunk's output did not end with a terminator.
    owed: bool,
    /// This chunk has written something.
    started: bool,
    last: u8,
    bytes: u64,
    records: u64,
    count: bool,
}

impl Joiner<'_> {
    fn write(&mut self, b: &[u8]) -> Result<(), Error> {
        let Some(&last) = b.last() else {
            return Ok(());
        };
        if !self.started && self.owed {
            self.out.write_all(&[self.eol]).map_err(Error::Output)?;
            self.bytes += 1;
            self.records += 1;
        }
        self.started = true;
        if self.count {
            self.records += crate::count_byte(b, self.eol);
        }
        self.out.write_all(b).map_err(Error::Output)?;
        self.bytes += b.len() as u64;
        self.last = last;
        Ok(())
    }

    fn end_chunk(&mut self) {
        if self.started {
            self.owed = self.last != self.eol;
        }
        self.started = false;
    }

    fn copy_file(&mut self, p: &Path) -> Result<(), Error> {
        let err = |e| Error::Temp(format!("cannot read {}", p.display()), e);
        let mut f = File::open(p).map_err(err)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = read_full(&mut f, &mut buf).map_err(err)?;
            if n == 0 {
                return Ok(());
            }
            self.write(&buf[..n])?;
        }
    }
}
