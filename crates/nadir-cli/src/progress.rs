//! The progress of the long commands, shown one way for all of them: a bar (or a spinner, when
//! the amount of work is unknown) on a terminal, and lines with the elapsed time otherwise, so
//! that a log or a CI job shows the work moving instead of one line and then nothing for a
//! minute. [`Steps`] counts steps (`train`, `cluster`, `validate`, `report`: a line per step);
//! [`Count`] counts records (`extract`, `publish`: a line at the first count, then at most one
//! every [`LINE_EVERY`]).
//!
//! indicatif draws nothing when standard error is not a terminal; its bar still counts the
//! steps and the time here, and the lines are written from that count.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nadir_ml::cluster::ClusterStep;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How often [`Count`] writes a line when standard error is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

const NO_LINE_YET: u64 = u64::MAX;

/// A count of records (connections extracted, records sent), of a known total or not.
pub struct Count {
    bar: ProgressBar,
    /// Standard error is not a terminal: write a line now and then.
    lines: bool,
    /// What is counted, in the lines ("connections", "records sent").
    what: &'static str,
    /// When the last line was written, in milliseconds since the start; [`NO_LINE_YET`]
    /// before the first, which is written at the first count, so a log shows the work under
    /// way at once.
    last_line_ms: AtomicU64,
}

impl Count {
    pub fn new(what: &'static str, total: Option<u64>) -> Self {
        let lines = !std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        if !lines {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let template = match total {
                Some(_) => format!("{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}})"),
                None => format!("{{spinner}} {{msg}} {{pos}} {what}"),
            };
            bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
        }
        Self {
            bar,
            lines,
            what,
            last_line_ms: AtomicU64::new(NO_LINE_YET),
        }
    }

    /// A count that shows nothing (work counted inside a larger one).
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            lines: false,
            what: "",
            last_line_ms: AtomicU64::new(0),
        }
    }

    /// What is being worked on (an input's name).
    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// `position` done so far.
    pub fn set(&self, position: u64) {
        self.bar.set_position(position);
        if !self.lines {
            return;
        }
        let elapsed = self.bar.elapsed();
        let now_ms = elapsed.as_millis() as u64;
        let last = self.last_line_ms.load(Ordering::Relaxed);
        if last != NO_LINE_YET && now_ms.saturating_sub(last) < LINE_EVERY.as_millis() as u64 {
            return;
        }
        self.last_line_ms.store(now_ms, Ordering::Relaxed);
        let of = self
            .bar
            .length()
            .map_or(String::new(), |total| format!("/{total}"));
        let message = self.bar.message();
        let name = if message.is_empty() {
            String::new()
        } else {
            format!("{message}: ")
        };
        let _ = writeln!(
            std::io::stderr(),
            "[{:7.1} s] {name}{position}{of} {}",
            elapsed.as_secs_f64(),
            self.what
        );
    }

    /// The count ends; the command then says what it did.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
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
