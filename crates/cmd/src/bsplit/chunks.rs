//! bsplit `-n N` alone: byte chunks of one plain file, their bounds found by seeking
//! (`record::chunks`), copied into part files on all threads.

use clap::ArgMatches;
use cli::{args, setup, Error, Result, Stats};
use partition::{part_name, Compress, Cut, PartInfo};
use record::cut::Ends;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// `-n N` alone: byte ranges cut at record boundaries found by seeking.
pub(super) fn run_chunks(
    m: &ArgMatches,
    n: u64,
    compress: Compress,
    started: Instant,
) -> Result<()> {
    let names = args::inputs(m);
    let [name] = names.as_slice() else {
        return Err(Error::Usage(
            "-n N alone cuts one file by seeking: give exactly one file".into(),
        ));
    };
    if name == "-" || name.ends_with(".gz") || name.ends_with(".zst") {
        return Err(Error::Usage(
            "-n N alone seeks in a plain file; for a stream use -l or -b, or --round-robin -n N"
                .into(),
        ));
    }
    if args::header_of(m) && m.get_flag("index") {
        return Err(Error::Usage(
            "--index prints byte ranges; --header does not apply".into(),
        ));
    }
    let eol = args::eol_of(m);
    // Look before opening: open() of a FIFO blocks until a writer comes, and a pipe such as
    // `<(cmd)` cannot seek. Both, like a directory, are the same usage error as stdin.
    let meta = std::fs::metadata(name)
        .map_err(|e| Error::Usage(format!("cannot read {name}: {}", cli::error::describe(&e))))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a plain file"
        };
        return Err(Error::Usage(format!(
            "{name} is {what}: -n N alone seeks in a plain file; for a stream use -l or -b, or --round-robin -n N"
        )));
    }
    let mut f = File::open(name)
        .map_err(|e| Error::Usage(format!("cannot read {name}: {}", cli::error::describe(&e))))?;
    let size = f
        .metadata()
        .map_err(|e| Error::io(format!("{name}: read error"), e))?
        .len();
    let csv = args::format_of(m, &names) == Some("csv");
    let bounds = record::chunks::chunk_bounds(&mut f, size, n, eol, csv)
        .map_err(|e| Error::io(format!("{name}: read error"), e))?;
    if m.get_flag("index") {
        let mut out = cli::Output::open("bsplit", None)?;
        for w in bounds.windows(2) {
            writeln!(out, "{}\t{}", w[0], w[1] - w[0]).map_err(|e| Error::io("write error", e))?;
        }
        out.commit()?;
        return Ok(());
    }
    let dir =
        args::output_of(m).ok_or_else(|| Error::Usage("-o DIR is required (or --index)".into()))?;
    let commit = setup::begin_dir(&dir, m.get_flag("force"))?;
    // The header is the first record; later parts get a copy of it.
    let header = if args::header_of(m) {
        let mut h = Vec::new();
        let mut rd =
            std::io::BufReader::new(File::open(name).map_err(|e| Error::io(name.clone(), e))?);
        // The header ends at the first record end (in CSV, outside quotes).
        let mut ends = Ends::new(eol, csv);
        loop {
            let at = h.len();
            let got = std::io::BufRead::read_until(&mut rd, eol, &mut h)
                .map_err(|e| Error::io(name.clone(), e))?;
            if got == 0 || ends.count(&h[at..]) > 0 {
                break;
            }
        }
        if h.last() != Some(&eol) {
            h.push(eol);
        }
        Some(h)
    } else {
        None
    };
    // Parts are copied on all threads, each with a file handle of its own.
    let ranges: Vec<(u64, u64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<CopyResult>>> =
        ranges.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let stage = commit.path().to_path_buf();
    let workers = args::threads_of(m).clamp(1, ranges.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(from, to)) = ranges.get(i) else {
                    break;
                };
                let path = stage.join(part_name(i as u64, compress.ext()));
                let head = if i > 0 { header.as_deref() } else { None };
                let r = copy_range(name, (from, to), &path, head, compress, Ends::new(eol, csv));
                let failed = r.is_err();
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
                if failed {
                    break;
                }
            });
        }
    });
    let mut infos = Vec::new();
    for (i, slot) in results.into_iter().enumerate() {
        let pname = part_name(i as u64, compress.ext());
        let r = slot.into_inner().ok().flatten();
        let (records, bytes) = match r {
            Some(r) => r.map_err(|e| Error::io(format!("cannot write {pname}"), e))?,
            None => return Err(Error::Runtime(format!("cannot write {pname}"))),
        };
        infos.push(PartInfo {
            name: pname,
            records,
            bytes,
        });
    }
    let cut = Cut {
        method: "chunks".into(),
        n,
        keys: vec![],
        hashed: false,
    };
    let manifest = super::manifest(&cut, &infos, None, None);
    setup::commit_dir(commit, &manifest)?;
    let stats = Stats {
        records_in: infos.iter().map(|p| p.records).sum(),
        records_out: infos.iter().map(|p| p.records).sum(),
        bytes_in: size,
        bytes_out: infos.iter().map(|p| p.bytes).sum(),
        threads: 1,
        ..Stats::default()
    };
    setup::emit_stats("bsplit", &stats, &args::stats_of(m), started)
}

/// What copying one part gives: (records, bytes).
type CopyResult = std::io::Result<(u64, u64)>;

/// Copy bytes [from, to) of file `name` to a new part file; returns (records, bytes).
fn copy_range(
    name: &str,
    (from, to): (u64, u64),
    path: &Path,
    header: Option<&[u8]>,
    compress: Compress,
    ends: Ends,
) -> CopyResult {
    let mut f = File::open(name)?;
    let mut w = compress.encoder(std::io::BufWriter::new(File::create(path)?))?;
    let got = record::chunks::copy_range(&mut f, from, to, &mut w, header, ends)?;
    w.finish()?;
    Ok(got)
}
