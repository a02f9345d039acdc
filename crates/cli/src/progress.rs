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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The bar being drawn, if any (for [`clear`] and [`suspend`]).
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);
/// Whether [`ACTIVE`] holds a bar: readers check it without locking.
static DRAWN: AtomicBool = AtomicBool::new(false);

const BAR: &str = "{prefix:>6} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}";
const SPINNER: &str = "{prefix:>6} {spinner} {bytes} {bytes_per_sec} {elapsed}";

/// A progress bar that may be hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `forced`: `--progress` was given. `total`: the input size when known.
    pub fn new(forced: bool, total: Option<u64>) -> Progress {
        if !(forced || std::io::stderr().is_terminal()) {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        style(&bar, total.is_some());
        if total.is_none() {
            // A pipe may be slow: the spinner shows that the tool is alive between reads.
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        if let Ok(mut a) = ACTIVE.lock() {
            *a = Some(bar.clone());
            DRAWN.store(true, Ordering::Release);
        }
        Progress { bar: Some(bar) }
    }

    /// Name the current phase (read, sort, spill, merge, build, probe, write), with its size
    /// when known: a bar then, a spinner otherwise.
    pub fn phase(&self, name: &'static str, total: Option<u64>) {
        if let Some(b) = &self.bar {
            b.set_prefix(name);
            b.set_position(0);
            match total {
                Some(t) => b.set_length(t),
                None => b.unset_length(),
            }
            style(b, total.is_some());
            b.reset_eta();
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
                *a = None;
                DRAWN.store(false, Ordering::Release);
            }
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
        if let Some(b) = a.as_ref() {
            b.inc(bytes);
        }
    }
}

/// Clear the bar, if one is drawn, for good: before the last words on stderr.
pub fn clear() {
    if let Ok(mut a) = ACTIVE.lock() {
        if let Some(b) = a.take() {
            b.finish_and_clear();
        }
        DRAWN.store(false, Ordering::Release);
    }
}

/// Run `f` (which writes to stderr) with the bar hidden, then draw it again.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = ACTIVE.lock().ok().and_then(|a| a.clone());
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}
