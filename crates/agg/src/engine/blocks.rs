//! Blocks of whole records, as the tools' readers cut their inputs for worker threads.

/// Whole records of one input, as the caller's reader cuts them: `first_line` is the 1-based
/// number of the first, `seq` the block's place in the whole input.
pub struct Block {
    pub data: Vec<u8>,
    pub input: usize,
    pub first_line: u64,
    pub seq: u64,
}

/// The records of `data` (each ended by `eol`, the last maybe not), with their byte
/// offset and line number (the first is `first_line`).
pub fn records(data: &[u8], eol: u8, first_line: u64) -> impl Iterator<Item = (usize, u64, &[u8])> {
    let mut pos = 0;
    let mut line = first_line;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let start = pos;
        let end = record::fields::find_byte(eol, &data[pos..]).map_or(data.len(), |e| pos + e);
        pos = end + 1;
        line += 1;
        Some((start, line - 1, &data[start..end]))
    })
}
