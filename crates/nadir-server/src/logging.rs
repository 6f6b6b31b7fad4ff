//! The server's log: lines to standard error, written by a thread of their own.
//!
//! Writing each line to standard error as it is logged costs a system call (and, with
//! standard error on a file, a file-system write) on the thread that serves the request;
//! with that and a span around each request, logging took about a quarter of the CPU time
//! of a single-record request (8 of 33 µs; now about 2). Lines are appended to a buffer
//! instead, and a writer thread writes whatever has gathered, at once when the server is
//! quiet and in batches (at most [`BATCH`] apart) when it is busy. [`flush_at_exit`] writes
//! what is left before the process exits; a process killed outright loses at most [`BATCH`]
//! of lines. When standard error does not keep up (a full pipe nobody reads), the buffer
//! stops at [`MAX_PENDING`] bytes and the lines beyond are counted and the count logged,
//! rather than memory growing without end; at exit the last lines get [`EXIT_WAIT`] to go
//! out, so a blocked standard error cannot hold the process.
//!
//! What is logged at the default level (`info`) is what an operator acts on: start-up,
//! reloads, shutdown, warnings and errors; one line per request only at `debug`, since at a
//! few thousand requests a second a line each filled 268 MB for 2.2 million requests (issue
//! 18). Events that can come in floods (5xx answers, connections over the limit, accept
//! errors) go through a [`Throttle`]: at most one line per interval, carrying the count of
//! those left out. The metrics count every one.
//!
//! `tracing-appender`'s non-blocking writer does the same with a channel per line; it would
//! bring the `time` crate and five others into the build for its rolling files, which a
//! server logging to standard error does not use.

use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, Once, PoisonError, mpsc};
use std::time::{Duration, Instant};

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

/// Logs to standard error, one line per event; `NADIR_LOG` sets the level (`error`, `warn`,
/// `info` (default), `debug` (adds a line per request), `trace`, `off`). Set once per
/// process; later calls do nothing.
pub fn init() {
    let level = std::env::var("NADIR_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let installed = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(|| LineWriter)
        .try_init()
        .is_ok();
    static WRITER: Once = Once::new();
    if installed {
        WRITER.call_once(|| {
            std::thread::Builder::new()
                .name("nadir-log".into())
                .spawn(write_forever)
                .expect("the log writer thread starts");
        });
    }
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
pub fn flush_at_exit() {
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
pub(crate) struct Throttle {
    every: Duration,
    /// When the last line was let through, and how many events were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    pub(crate) const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(n)` when this event is to be logged, `n` being the events held back since the
    /// last line; `None` when it is only counted.
    pub(crate) fn allow(&self) -> Option<u64> {
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
}
