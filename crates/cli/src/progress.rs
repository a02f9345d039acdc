//! `--progress`: a bar with bytes, rate and ETA per phase on stderr. Drawn by default only
//! when stderr is a terminal and the input sizes are known.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar that may be hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `forced`: `--progress` was given. `total`: the input size when known.
    pub fn new(forced: bool, total: Option<u64>) -> Progress {
        let tty = std::io::stderr().is_terminal();
        if !(forced || (tty && total.is_some())) {
            return Progress { bar: None };
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if total.is_some() {
            "{prefix:>6} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
        } else {
            "{prefix:>6} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress { bar: Some(bar) }
    }

    /// Name the current phase (read, sort, merge, write).
    pub fn phase(&self, name: &'static str, total: Option<u64>) {
        if let Some(b) = &self.bar {
            b.set_prefix(name);
            b.set_position(0);
            b.set_length(total.unwrap_or(0));
            b.reset_eta();
        }
    }

    #[inline]
    pub fn inc(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
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
