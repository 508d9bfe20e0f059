//! Progress of long reads and loads: a bar on a terminal (indicatif), nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A row counter shown as a bar on standard error when it is a terminal.
#[derive(Debug)]
pub(crate) struct Progress(ProgressBar);

impl Progress {
    /// Progress over `total` rows (0: unknown), labelled `what`.
    pub(crate) fn rows(total: u64, what: &'static str) -> Progress {
        let bar = if total > 0 {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        let template = if total > 0 {
            "{msg} {wide_bar} {human_pos}/{human_len} rows {per_sec} {eta}"
        } else {
            "{msg} {spinner} {human_pos} rows {per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(what);
        Progress(bar)
    }

    /// Counts `rows` more (from any thread).
    pub(crate) fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }

    /// Removes the bar.
    pub(crate) fn done(&self) {
        self.0.finish_and_clear();
    }
}
