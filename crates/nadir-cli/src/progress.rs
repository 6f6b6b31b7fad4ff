//! The progress of the long commands (`train`, `cluster`, `validate`, `report`), shown one way for all
//! of them: a bar (or a spinner, when the number of steps is unknown) on a terminal, and a
//! line per step with the elapsed time otherwise, so that a log or a CI job shows the work
//! moving instead of one line and then nothing for a minute.
//!
//! indicatif draws nothing when standard error is not a terminal; its bar still counts the
//! steps and the time here, and the lines are written from that count.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nadir_ml::cluster::ClusterStep;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The progress of one command's steps.
pub struct Steps {
    bar: ProgressBar,
    /// Standard error is not a terminal: write a line per step.
    lines: bool,
}

impl Steps {
    /// Progress of a run whose number of steps is not known yet ([`Steps::start`] tells it),
    /// or never is (a spinner).
    pub fn new() -> Self {
        let lines = !std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if !lines {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} {spinner} {msg}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self { bar, lines }
    }

    /// `total` steps will follow: a bar from now on.
    pub fn start(&self, total: usize) {
        self.bar.set_length(total as u64);
        if !self.lines {
            self.bar.disable_steady_tick();
            self.bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
        }
    }

    /// A step begins: shown as the bar's message, or written as a line with the time so far
    /// and the steps done.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        if self.lines {
            let elapsed = self.bar.elapsed().as_secs_f64();
            let done = match self.bar.length() {
                Some(total) => format!("{}/{total} ", self.bar.position()),
                None => String::new(),
            };
            // A progress line that cannot be written is no reason to stop the work.
            let _ = writeln!(std::io::stderr(), "[{elapsed:7.1} s] {done}{message}");
        } else {
            self.bar.set_message(message);
        }
    }

    /// A step ended.
    pub fn done(&self) {
        self.bar.inc(1);
    }

    /// The work ended: the bar goes, and the lines say how long it took.
    pub fn finish(self, what: &str) {
        self.bar.finish_and_clear();
        if self.lines {
            let elapsed = self.bar.elapsed().as_secs_f64();
            let _ = writeln!(std::io::stderr(), "[{elapsed:7.1} s] {what} done");
        }
    }
}

/// What a step of the clustering is called, by `cluster` and by `report`, which clusters too.
pub fn cluster_step(step: ClusterStep) -> &'static str {
    match step {
        ClusterStep::Pca => "PCA",
        ClusterStep::Index => "building the kd-tree",
        ClusterStep::GridSearch => "searching eps × min_samples by silhouette",
        ClusterStep::Dbscan => "DBSCAN",
        ClusterStep::KDistance => "k-distance curve",
    }
}
