//! The log of the long-running commands (`nadir serve`, `nadir stream`): `tracing` events,
//! one line each to standard error, as text or as JSON objects ([`LogFormat`]), filtered by
//! `RUST_LOG` directives ([`filter`]), written by a thread of their own.
//!
//! Writing each line to standard error as it is logged costs a system call (and, with
//! standard error on a file, a file-system write) on the thread that serves the request;
//! with that and a span around each request, logging took about a quarter of the CPU time
//! of a single-record request (8 of 33 µs; now about 2). Lines are appended to a buffer
//! instead, and a writer thread writes whatever has gathered, at once when the process is
//! quiet and in batches (at most `BATCH` apart) when it is busy. `LogGuard` writes what
//! is left when it is dropped; a process killed outright loses at most `BATCH` of lines.
//! When standard error does not keep up (a full pipe nobody reads), the buffer stops at
//! `MAX_PENDING` bytes and the lines beyond are counted and the count logged, rather than
//! memory growing without end; at exit the last lines get `EXIT_WAIT` to go out, so a
//! blocked standard error cannot hold the process.
//!
//! What is logged at the default level (`info`) is what an operator acts on: start-up,
//! reloads, shutdown, warnings and errors; the server's line per request only at `debug`,
//! since at a few thousand requests a second a line each filled 268 MB for 2.2 million
//! requests (issue 18). Events that can come in floods (5xx answers, connections over the
//! limit, accept errors) go through a [`Throttle`]: at most one line per interval, carrying
//! the count of those left out. The metrics count every one.
//!
//! The filter is `tracing-subscriber`'s `EnvFilter`: directives naming only targets and
//! levels are decided once per call site, so a disabled event (the request line at `info`)
//! costs a load and a branch. The JSON lines are `tracing-subscriber`'s own, the event's
//! fields beside `timestamp`, `level`, `target` and `message` (no span fields: no event is
//! logged inside one).
//!
//! `tracing-appender`'s non-blocking writer does the same as the writer thread with a
//! channel per line; it would bring the `time` crate and five others into the build for its
//! rolling files, which a process logging to standard error does not use.

use serde::Deserialize;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard, Once, PoisonError, mpsc};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing_subscriber::EnvFilter;

/// How long the writer thread pauses after a write, so that the lines logged meanwhile go
/// out in one write.
const BATCH: Duration = Duration::from_millis(5);

/// The most bytes of lines waiting to be written.
const MAX_PENDING: usize = 4 << 20;

/// How long the last lines may take to go out when the process exits.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// The lines not yet written, and the writer thread's wake-up call.
struct Pending {
    lines: Mutex<Lines>,
    ready: Condvar,
}

struct Lines {
    text: Vec<u8>,
    /// Lines dropped since the last write, the buffer being full.
    dropped: u64,
}

impl Lines {
    fn is_empty(&self) -> bool {
        self.text.is_empty() && self.dropped == 0
    }
}

static PENDING: Pending = Pending {
    lines: Mutex::new(Lines {
        text: Vec::new(),
        dropped: 0,
    }),
    ready: Condvar::new(),
};

fn lock_lines() -> MutexGuard<'static, Lines> {
    PENDING.lines.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How log lines are written: `text` (the default) for people, `json` (one object per
/// line) for log collectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// The names `--log-format` and the settings files take.
    pub const NAMES: [&'static str; 2] = ["text", "json"];
}

impl FromStr for LogFormat {
    type Err = LogError;

    fn from_str(name: &str) -> Result<LogFormat, LogError> {
        match name {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(LogError::UnknownFormat(name.to_string())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Why logging could not be set up.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("unknown log format `{0}`: text or json")]
    UnknownFormat(String),
    #[error(
        "{variable}=`{value}` is not a log filter: {reason} (directives as RUST_LOG=info or \
         RUST_LOG=nadir_server=debug,info)"
    )]
    BadFilter {
        variable: &'static str,
        value: String,
        reason: String,
    },
}

/// The level logged when neither `RUST_LOG` nor `NADIR_LOG` is set.
pub const DEFAULT_FILTER: &str = "info";

/// What is logged: `RUST_LOG`'s directives (`info`, `nadir_server=debug,info`, ...); when it
/// is unset or empty, `NADIR_LOG` (a level, as before `RUST_LOG` was read: scripts and
/// service files that set it keep working); else [`DEFAULT_FILTER`]. A value that is not a
/// filter is an error rather than a silent fall back to the default.
pub fn filter(rust_log: Option<&str>, nadir_log: Option<&str>) -> Result<EnvFilter, LogError> {
    let (variable, value) = match (rust_log, nadir_log) {
        (Some(value), _) if !value.trim().is_empty() => ("RUST_LOG", value),
        (_, Some(value)) if !value.trim().is_empty() => ("NADIR_LOG", value),
        _ => return Ok(EnvFilter::new(DEFAULT_FILTER)),
    };
    EnvFilter::builder()
        .parse(value)
        .map_err(|e| LogError::BadFilter {
            variable,
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// Writes the lines logged so far when dropped (at most `EXIT_WAIT` for them to go out):
/// keep it until the command returns.
#[must_use = "the last lines are written when the guard is dropped"]
pub struct LogGuard(());

impl Drop for LogGuard {
    fn drop(&mut self) {
        flush_at_exit();
    }
}

/// Logs to standard error in `format`, one line per event, filtered by `RUST_LOG` (or
/// `NADIR_LOG`: [`filter`]). The first call in a process sets the log up; later ones only
/// check the filter.
pub fn init(format: LogFormat) -> Result<LogGuard, LogError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let nadir_log = std::env::var("NADIR_LOG").ok();
    let filter = filter(rust_log.as_deref(), nadir_log.as_deref())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LineWriter);
    let installed = match format {
        LogFormat::Text => builder.try_init().is_ok(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
            .is_ok(),
    };
    static WRITER: Once = Once::new();
    if installed {
        WRITER.call_once(|| {
            std::thread::Builder::new()
                .name("nadir-log".into())
                .spawn(write_forever)
                .expect("the log writer thread starts");
        });
    }
    Ok(LogGuard(()))
}

/// Writes every line logged so far to standard error; returns once they are written.
fn flush() {
    // Standard error is locked first, so two flushes write their lines in the order logged.
    let mut stderr = io::stderr().lock();
    let (text, dropped) = {
        let mut lines = lock_lines();
        (
            std::mem::take(&mut lines.text),
            std::mem::take(&mut lines.dropped),
        )
    };
    let _ = stderr.write_all(&text);
    if dropped > 0 {
        let _ = writeln!(
            stderr,
            "nadir: {dropped} log lines dropped: standard error did not keep up"
        );
    }
}

/// Writes the lines logged so far, waiting at most [`EXIT_WAIT`] for standard error.
fn flush_at_exit() {
    let (done, wait) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("nadir-log-exit".into())
        .spawn(move || {
            flush();
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = wait.recv_timeout(EXIT_WAIT);
    }
}

fn write_forever() {
    loop {
        {
            let mut lines = lock_lines();
            while lines.is_empty() {
                lines = PENDING
                    .ready
                    .wait(lines)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        flush();
        std::thread::sleep(BATCH);
    }
}

/// What the subscriber writes each formatted line (one `write_all` per event) into.
struct LineWriter;

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut lines = lock_lines();
        let was_empty = lines.is_empty();
        if lines.text.len() + bytes.len() > MAX_PENDING {
            lines.dropped += 1;
        } else {
            lines.text.extend_from_slice(bytes);
        }
        drop(lines);
        // Only an empty buffer can have the writer thread waiting; while lines are pending
        // it will come back for them, so most lines cost no wake-up call.
        if was_empty {
            PENDING.ready.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// At most one log line per interval for an event that can recur many times a second.
pub struct Throttle {
    every: Duration,
    /// When the last line was let through, and how many events were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    pub const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(n)` when this event is to be logged, `n` being the events held back since the
    /// last line; `None` when it is only counted.
    pub fn allow(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < self.every => {
                state.1 += 1;
                None
            }
            _ => {
                state.0 = Some(now);
                Some(std::mem::take(&mut state.1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_line_through_per_interval_and_counts_the_rest() {
        let hour = Throttle::new(Duration::from_secs(3600));
        assert_eq!(hour.allow(), Some(0));
        assert_eq!(hour.allow(), None);
        assert_eq!(hour.allow(), None);
        let always = Throttle::new(Duration::ZERO);
        assert_eq!(always.allow(), Some(0));
        assert_eq!(always.allow(), Some(0));
        // The count held back goes with the next line let through, once the interval is over.
        hour.state.lock().unwrap().0 = None;
        assert_eq!(hour.allow(), Some(2));
        assert_eq!(hour.allow(), None);
    }

    #[test]
    fn rust_log_comes_first_then_nadir_log_then_info() {
        let shown =
            |rust: Option<&str>, nadir: Option<&str>| filter(rust, nadir).unwrap().to_string();
        assert_eq!(shown(None, None), "info");
        assert_eq!(shown(Some(""), Some("warn")), "warn");
        assert_eq!(
            shown(Some("nadir_server=debug,info"), Some("warn")),
            "nadir_server=debug,info"
        );
        let bad = filter(Some("nadir_server=loud"), None)
            .unwrap_err()
            .to_string();
        assert!(
            bad.starts_with("RUST_LOG=`nadir_server=loud` is not a log filter"),
            "{bad}"
        );
        let bad = filter(None, Some("loud=very=much"))
            .unwrap_err()
            .to_string();
        assert!(bad.starts_with("NADIR_LOG="), "{bad}");
    }

    #[test]
    fn formats_are_named_text_and_json() {
        for name in LogFormat::NAMES {
            assert_eq!(name.parse::<LogFormat>().unwrap().to_string(), name);
        }
        assert_eq!(
            "xml".parse::<LogFormat>().unwrap_err().to_string(),
            "unknown log format `xml`: text or json"
        );
    }
}
