//! Progress on stderr: an indicatif bar (done/total, ETA) on a terminal, plain
//! `[12/40] done assign_licenses:ann@contoso.com` lines otherwise (CI logs).

use super::Outcome;
use crate::plan::Operation;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug)]
pub enum Progress {
    /// Nothing (library callers, tests).
    Silent,
    /// One line per finished operation on stderr.
    Lines {
        /// Finished so far.
        finished: usize,
        /// Total operations.
        total: usize,
    },
    /// A live bar on a terminal.
    Bar(ProgressBar),
}

impl Progress {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn for_stderr(total: usize) -> Progress {
        if crate::output::stderr_is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} ops, ETA {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Progress::Bar(bar)
        } else {
            Progress::Lines { finished: 0, total }
        }
    }

    /// Says that a written operation now waits (for group licensing to reach the members).
    pub fn waiting(&mut self, op: &Operation, why: &str) {
        match self {
            Progress::Silent => {}
            Progress::Lines { .. } => {
                crate::progress::message(&format!("[waiting] {} {why}", op.id));
            }
            Progress::Bar(bar) => bar.set_message(format!("waiting: {} {why}", op.id)),
        }
    }

    /// Reports one finished operation.
    pub fn finished(&mut self, op: &Operation, outcome: &Outcome) {
        match self {
            Progress::Silent => {}
            Progress::Lines { finished, total } => {
                *finished += 1;
                crate::progress::message(&format!(
                    "[{finished}/{total}] {} {}",
                    outcome.label(),
                    op.id
                ));
            }
            Progress::Bar(bar) => {
                bar.inc(1);
                bar.set_message(format!(
                    "{} {}",
                    outcome.label(),
                    crate::render::escape::terminal(&op.id)
                ));
            }
        }
    }

    /// Removes the bar once the apply ends.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
