//! `--progress`: a bar with bytes, rate and ETA per phase on stderr, or a spinner with counts
//! when the size is not known (a pipe). Drawn by default whenever stderr is a terminal;
//! `--progress` asks for it even where the tool cannot tell (indicatif still draws nothing
//! on a stderr that is not a terminal, so a log file never fills with bars).
//!
//! The bar is a process-wide singleton: whatever else writes to stderr while it is drawn
//! (an error message, a warning, `--stats -`) goes through [`clear`] or [`suspend`] first,
//! so a message is never glued to a half-drawn bar, and a dropped bar is cleared.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The bar being drawn, if any (for [`clear`] and [`suspend`]).
static ACTIVE: Mutex<Option<(u64, ProgressBar)>> = Mutex::new(None);
/// The id of the next [`Progress`] (so a dropped bar unregisters only itself).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Whether [`ACTIVE`] holds a bar: readers check it without locking.
static DRAWN: AtomicBool = AtomicBool::new(false);

const BAR: &str = "{prefix:>6} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}";
const SPINNER: &str = "{prefix:>6} {spinner} {bytes} {bytes_per_sec} {elapsed}";

/// A progress bar that may be hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
    id: u64,
}

impl Progress {
    /// `forced`: `--progress` was given. `total`: the input size when known.
    pub fn new(forced: bool, total: Option<u64>) -> Progress {
        if !(forced || std::io::stderr().is_terminal()) {
            return Progress { bar: None, id: 0 };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        style(&bar, total.is_some());
        if total.is_none() {
            // A pipe may be slow: the spinner shows that the tool is alive between reads.
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut a) = ACTIVE.lock() {
            *a = Some((id, bar.clone()));
            DRAWN.store(true, Ordering::Release);
        }
        Progress { bar: Some(bar), id }
    }

    /// Name the current phase (read, sort, spill, merge, build, probe, write), with its size
    /// when known: a bar then, a spinner otherwise.
    pub fn phase(&self, name: &'static str, total: Option<u64>) {
        if let Some(b) = &self.bar {
            show_phase(b, name, total, 0);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    pub fn visible(&self) -> bool {
        self.bar.is_some()
    }
}

impl Drop for Progress {
    /// A bar dropped on an error path is cleared before the error is printed.
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
            if let Ok(mut a) = ACTIVE.lock() {
                // Only this bar's own registration: a newer bar stays drawn.
                if a.as_ref().is_some_and(|(id, _)| *id == self.id) {
                    *a = None;
                    DRAWN.store(false, Ordering::Release);
                }
            }
        }
    }
}

fn show_phase(b: &ProgressBar, name: &'static str, total: Option<u64>, done: u64) {
    b.set_prefix(name);
    match total {
        Some(t) => b.set_length(t),
        None => b.unset_length(),
    }
    b.set_position(done);
    style(b, total.is_some());
    b.reset_eta();
}

/// Name the phase of the bar being drawn, if any, for the code paths that are handed no
/// [`Progress`] (bjoin's build and probe, breduce's spill merge): `total` is the phase's
/// size when known, `done` what of it is already read.
pub fn set_phase(name: &'static str, total: Option<u64>, done: u64) {
    if !DRAWN.load(Ordering::Acquire) {
        return;
    }
    if let Ok(a) = ACTIVE.lock() {
        if let Some((_, b)) = a.as_ref() {
            show_phase(b, name, total, done);
        }
    }
}

fn style(bar: &ProgressBar, sized: bool) {
    if let Ok(style) = ProgressStyle::with_template(if sized { BAR } else { SPINNER }) {
        bar.set_style(style.progress_chars("=> "));
    }
}

/// Advance the bar being drawn, if any, by `bytes`: for readers that are handed no
/// [`Progress`] (the block readers of the parallel paths).
pub fn advance(bytes: u64) {
    if !DRAWN.load(Ordering::Acquire) {
        return;
    }
    if let Ok(a) = ACTIVE.lock() {
        if let Some((_, b)) = a.as_ref() {
            b.inc(bytes);
        }
    }
}

/// Clear the bar, if one is drawn, for good: before the last words on stderr.
pub fn clear() {
    if let Ok(mut a) = ACTIVE.lock() {
        if let Some((_, b)) = a.take() {
            b.finish_and_clear();
        }
        DRAWN.store(false, Ordering::Release);
    }
}

/// Run `f` (which writes to stderr) with the bar hidden, then draw it again.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = ACTIVE
        .lock()
        .ok()
        .and_then(|a| a.as_ref().map(|(_, b)| b.clone()));
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// Relabel the bar being drawn, if any, keeping its position and size: for the steps of a
/// phase (a sort that stops reading to spill, then reads on).
pub fn set_label(name: &'static str) {
    if !DRAWN.load(Ordering::Acquire) {
        return;
    }
    if let Ok(a) = ACTIVE.lock() {
        if let Some((_, b)) = a.as_ref() {
            b.set_prefix(name);
        }
    }
}

/// The external sort's events: the bar's label follows what the sort does (sort, spill,
/// read on, write, merge), and `BATCHKIT_TRACE` prints every event (for profiling).
pub fn sort_event(e: extsort::Event) {
    use extsort::Event;
    let label = match e {
        Event::Sorting {
            background: false, ..
        } => Some("sort"),
        Event::Spilling { background: false } => Some("spill"),
        Event::Filling => Some("read"),
        Event::Writing => Some("write"),
        Event::Merging { .. } => Some("merge"),
        _ => None,
    };
    if let Some(l) = label {
        set_label(l);
    }
    trace(format_args!("{e:?}"));
}

/// A line on stderr when `BATCHKIT_TRACE` is set (phase timings for profiling; not a
/// stable interface), with the bar hidden while it is written.
pub fn trace(args: std::fmt::Arguments) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("BATCHKIT_TRACE").is_some()) {
        suspend(|| eprintln!("trace: {args}"));
    }
}
