//! The benchmark's progress bar: shown on stderr only on a terminal and only once a phase
//! has taken over a second, so short runs and pipes see nothing. What it counts is the
//! caller's.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr, drawn only on a terminal and only once a phase has taken over
/// a second, so short runs and pipes see nothing.
pub struct Progress {
    /// The bar, hidden until it is worth showing.
    bar: ProgressBar,
    /// When the phase began.
    started: Instant,
    /// Whether it may be shown at all (stderr is a terminal).
    allowed: bool,
    /// Whether it is being drawn.
    shown: bool,
}

impl Progress {
    /// A hidden bar for a phase of `total` steps.
    pub fn new(label: &'static str, total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {human_pos}/{human_len} {per_sec}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label);
        Progress {
            bar,
            started: Instant::now(),
            allowed: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Moves the bar to `done`, showing it once the phase has lasted a second.
    pub fn set(&mut self, done: u64) {
        self.bar.set_position(done);
        if self.allowed && !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("shown", &self.shown)
            .finish()
    }
}
