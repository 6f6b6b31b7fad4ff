//! The consumer: reads entries from a Redis Stream as one consumer of a group, scores them,
//! writes each result (or dead letter), and acknowledges the entries in the same
//! transaction — at least once, nothing lost.
//!
//! - Entries come from three places: its own pending entries first (after a start or a
//!   reconnect: what it read before and did not acknowledge), entries of any consumer idle
//!   longer than `claim_idle` (a dead consumer's), and new ones (`>`). The first two go through
//!   XPENDING and XCLAIM, which gives each entry's delivery count: an entry delivered more
//!   than `max_deliveries` times is dead-lettered, not scored again.
//! - The results and dead letters of a batch are one MULTI/EXEC; its XACK follows only once
//!   every write succeeded (within MULTI a failed write would not stop the XACK). If either
//!   fails, the entries stay pending to this consumer, which reads them again after
//!   reconnecting: a result may be written twice, never lost; an entry whose writes keep
//!   failing is dead-lettered once past `max_deliveries`.
//! - Redis lost: reconnect with backoff, recreate the group if the stream went with the
//!   server, carry on; never exit on its own. A stop request (SIGTERM, SIGINT) ends the loop
//!   after the batch in flight is acknowledged.
//!
//! It speaks to Redis synchronously: one connection, blocking reads, scoring between them.
//! A consumer is one thread; more consumers (processes, machines) scale it out.

use crate::config::ConsumerConfig;
use crate::entry::{ECS, HEADER, InputEntry, Outcome, RECORD, ResultFormat, Scored, Stamp};
use crate::metrics::Metrics;
use crate::score::Scorer;
use crate::server::{self, ServerError};
use redis::streams::{
    StreamClaimReply, StreamId, StreamInfoGroupsReply, StreamPendingCountReply, StreamReadOptions,
    StreamReadReply,
};
use redis::{Client, Commands, Connection, RedisError};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Why a consumer could not start, or stopped without finishing.
#[derive(Debug, Error)]
pub enum StreamError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("cannot create group `{group}` on stream `{stream}`: {source}")]
    Group {
        stream: String,
        group: String,
        #[source]
        source: RedisError,
    },
    #[error("{flag} `{key}` holds a Redis {kind}, not a stream: name another key or delete it")]
    NotAStream {
        flag: &'static str,
        key: String,
        kind: String,
    },
    #[error("cannot serve metrics at {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write results to standard output: {0}")]
    Stdout(#[source] std::io::Error),
    #[error(
        "stopped while Redis was unreachable: entries read and not acknowledged stay pending for another consumer"
    )]
    StoppedUnreachable,
}

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the group's lag is asked for.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// One consumer of a group.
pub struct Consumer {
    config: ConsumerConfig,
    scorer: Scorer,
    metrics: Metrics,
    stop: Arc<AtomicBool>,
    stdout: Option<Box<dyn Write + Send>>,
    client: Client,
}

/// Where the next entries come from.
enum Source {
    /// This consumer's own pending entries, listed from this ID on (XPENDING's range start).
    Own(String),
    /// Other consumers' idle entries, then new ones.
    Group,
}

impl Consumer {
    /// A consumer of `config` scoring with `scorer`; results also go to `stdout` when the
    /// configuration asks for them there. Nothing is connected yet.
    pub fn new(
        config: ConsumerConfig,
        scorer: Scorer,
        stdout: Option<Box<dyn Write + Send>>,
    ) -> Result<Consumer, StreamError> {
        let url = config.params.redis.clone();
        let client = server::client(&url)?;
        Ok(Consumer {
            config,
            scorer,
            metrics: Metrics::new(),
            stop: Arc::new(AtomicBool::new(false)),
            stdout,
            client,
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The flag that ends the loop after the batch in flight; SIGTERM and SIGINT set it once
    /// [`Consumer::stop_on_signals`] is called.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// SIGTERM and SIGINT ask the loop to stop after the batch in flight. Call it on the
    /// thread that runs the loop: it blocks both signals there and leaves them to a thread of
    /// their own, since one delivered to this thread would interrupt a socket read with a
    /// timeout (which the kernel never restarts) in the middle of a transaction.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        let signals = [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT];
        for signal in signals {
            signal_hook::flag::register(signal, self.stop.clone())?;
        }
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(|| {
                loop {
                    std::thread::park();
                }
            })?;
        // SAFETY: `set` is a valid, initialised signal set, and `pthread_sigmask` only changes
        // this thread's mask.
        let result = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in signals {
                libc::sigaddset(&mut set, signal);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
        };
        match result {
            0 => Ok(()),
            code => Err(std::io::Error::from_raw_os_error(code)),
        }
    }

    /// Connects, creates the group if missing and serves metrics if asked: every error a user
    /// can fix is found here, before the loop.
    pub fn start(&mut self) -> Result<Connection, StreamError> {
        let url = &self.config.params.redis;
        let mut conn = self
            .connect()
            .map_err(|source| server::unreachable(url, source))?;
        self.check_stream_keys(&mut conn)?;
        if self.create_group(&mut conn)? {
            let params = &self.config.params;
            self.say(&format!(
                "created group `{}` on stream `{}`",
                params.group, params.input
            ));
        }
        if let Some(addr) = self.config.params.metrics_addr {
            self.metrics
                .serve(addr)
                .map_err(|source| StreamError::Metrics { addr, source })?;
        }
        Ok(conn)
    }

    /// Scores until stopped ([`Consumer::stop_flag`]).
    pub fn run(&mut self, mut conn: Connection) -> Result<(), StreamError> {
        let params = &self.config.params;
        let progress = params.progress.filter(|_| params.metrics_addr.is_none());
        let claim_every = (params.claim_idle / 2).max(Duration::from_millis(50));
        let mut source = Source::Own("-".to_string());
        let mut last_claim = Instant::now();
        let mut last_lag: Option<Instant> = None;
        let mut last_progress = Instant::now();
        let mut failures = 0u32;
        while !self.stop.load(Ordering::Relaxed) {
            match self.step(&mut conn, &mut source, &mut last_claim, claim_every) {
                Ok(()) => failures = 0,
                Err(Failure::Stdout(error)) => return Err(StreamError::Stdout(error)),
                Err(Failure::Redis(error)) => {
                    self.metrics.errors.inc();
                    failures += 1;
                    if error.code() == Some("NOGROUP") {
                        match self.create_group(&mut conn) {
                            Ok(created) => self.group_lost(created),
                            Err(error) => {
                                self.warn(&error.to_string());
                                conn = self.reconnect(failures)?;
                            }
                        }
                    } else {
                        self.warn(&format!("Redis error: {}; reconnecting", brief(&error)));
                        conn = self.reconnect(failures)?;
                    }
                    source = Source::Own("-".to_string());
                }
            }
            if last_lag.is_none_or(|t| t.elapsed() >= LAG_EVERY) {
                last_lag = Some(Instant::now());
                self.update_lag(&mut conn);
            }
            if let Some(every) = progress
                && last_progress.elapsed() >= every
            {
                last_progress = Instant::now();
                self.say(&self.metrics.to_string());
            }
        }
        if let Some(stdout) = &mut self.stdout {
            stdout.flush().map_err(StreamError::Stdout)?;
        }
        // The summary's lag as it is now, not as last sampled.
        self.update_lag(&mut conn);
        Ok(())
    }

    /// Reads one batch from where `source` says, scores it, writes and acknowledges it.
    fn step(
        &mut self,
        conn: &mut Connection,
        source: &mut Source,
        last_claim: &mut Instant,
        claim_every: Duration,
    ) -> Result<(), Failure> {
        let claim_idle = self.config.params.claim_idle;
        let entries = match source {
            Source::Own(from) => {
                let (entries, next) = self.claim(conn, from, Some(&self.consumer_name()), None)?;
                match next {
                    Some(next) => *from = next,
                    None => *source = Source::Group,
                }
                entries
            }
            Source::Group if last_claim.elapsed() >= claim_every => {
                *last_claim = Instant::now();
                let (entries, next) = self.claim(conn, "-", None, Some(claim_idle))?;
                if next.is_some() {
                    // A full batch: there may be more, claimed next time round.
                    *last_claim -= claim_every;
                }
                entries
            }
            Source::Group => Vec::new(),
        };
        let entries = if entries.is_empty() && matches!(source, Source::Group) {
            self.read_new(conn)?
        } else {
            entries
        };
        if entries.is_empty() {
            return Ok(());
        }
        self.process(conn, entries)
    }

    fn consumer_name(&self) -> String {
        self.config.params.consumer.clone()
    }

    /// New entries for this consumer, waiting up to `block` for some.
    fn read_new(&mut self, conn: &mut Connection) -> Result<Vec<InputEntry>, Failure> {
        let params = &self.config.params;
        let options = StreamReadOptions::default()
            .group(&params.group, &params.consumer)
            .count(params.batch)
            .block(params.block.as_millis() as usize);
        let reply: Option<StreamReadReply> =
            conn.xread_options(&[&params.input], &[">"], &options)?;
        let entries: Vec<InputEntry> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|id| input_entry(id, 1))
            .collect();
        self.metrics.read.inc_by(entries.len() as u64);
        Ok(entries)
    }

    /// Claims up to a batch of pending entries listed from `from` on: `owner`'s only, or any
    /// idle at least `min_idle`. Returns them with their delivery counts, and where the next
    /// listing starts when this one was full.
    fn claim(
        &mut self,
        conn: &mut Connection,
        from: &str,
        owner: Option<&str>,
        min_idle: Option<Duration>,
    ) -> Result<(Vec<InputEntry>, Option<String>), Failure> {
        let params = &self.config.params;
        let mut pending = redis::cmd("XPENDING");
        pending.arg(&params.input).arg(&params.group);
        if let Some(idle) = min_idle {
            pending.arg("IDLE").arg(idle.as_millis() as u64);
        }
        pending.arg(from).arg("+").arg(params.batch);
        if let Some(owner) = owner {
            pending.arg(owner);
        }
        let listed: StreamPendingCountReply = pending.query(conn)?;
        if listed.ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let next = (listed.ids.len() == params.batch)
            .then(|| format!("({}", listed.ids[listed.ids.len() - 1].id));
        let ids: Vec<&str> = listed.ids.iter().map(|p| p.id.as_str()).collect();
        let idle_ms = min_idle.map_or(0, |d| d.as_millis() as u64);
        let claimed: StreamClaimReply = conn.xclaim(
            &params.input,
            &params.group,
            &params.consumer,
            idle_ms,
            &ids,
        )?;
        let entries: Vec<InputEntry> = claimed
            .ids
            .into_iter()
            .map(|id| {
                let before = listed
                    .ids
                    .iter()
                    .find(|p| p.id == id.id)
                    .map_or(0, |p| p.times_delivered as u64);
                input_entry(id, before + 1)
            })
            .collect();
        self.metrics.read.inc_by(entries.len() as u64);
        self.metrics.claimed.inc_by(entries.len() as u64);
        Ok((entries, next))
    }

    /// Scores `entries`, then writes their results and dead letters and acknowledges them in
    /// one transaction.
    fn process(&mut self, conn: &mut Connection, entries: Vec<InputEntry>) -> Result<(), Failure> {
        let started = Instant::now();
        let params = &self.config.params;
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let (fresh, worn): (Vec<InputEntry>, Vec<InputEntry>) = entries
            .into_iter()
            .partition(|e| e.deliveries <= params.max_deliveries);
        let mut outcomes = self.scorer.score(fresh);
        outcomes.extend(worn.into_iter().map(|entry| {
            Outcome::Dead(crate::entry::DeadLetter {
                error: format!(
                    "delivered {} times (max {}, --max-deliveries)",
                    entry.deliveries, params.max_deliveries
                ),
                entry,
            })
        }));
        let stamp = Stamp {
            model: self.scorer.model().kind(),
            consumer: &params.consumer,
            scored_at_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros()),
        };
        let written = |scored: &Scored| !params.attacks_only || scored.prediction.is_attack;
        if let Some(stdout) = &mut self.stdout {
            for outcome in &outcomes {
                if let Outcome::Scored(scored) = outcome
                    && written(scored)
                {
                    let line = match params.format {
                        ResultFormat::Fields => {
                            serde_json::to_writer(&mut *stdout, &scored.json(&stamp))
                        }
                        ResultFormat::Ecs => {
                            serde_json::to_writer(&mut *stdout, &scored.ecs(&stamp))
                        }
                    };
                    line.map_err(|e| Failure::Stdout(e.into()))?;
                    stdout.write_all(b"\n").map_err(Failure::Stdout)?;
                }
            }
            stdout.flush().map_err(Failure::Stdout)?;
        }
        let mut transaction = redis::pipe();
        transaction.atomic();
        let (mut scored, mut dead, mut writes) = (0, 0, 0);
        for outcome in &outcomes {
            match outcome {
                Outcome::Scored(result) => {
                    scored += 1;
                    if let Some(output) = &params.output
                        && written(result)
                    {
                        writes += 1;
                        let add = transaction.cmd("XADD").arg(output).arg("*");
                        match params.format {
                            ResultFormat::Fields => add.arg(result.fields(&stamp)),
                            ResultFormat::Ecs => add.arg(ECS).arg(result.ecs(&stamp).to_string()),
                        }
                        .ignore();
                    }
                }
                Outcome::Dead(letter) => {
                    dead += 1;
                    writes += 1;
                    transaction
                        .cmd("XADD")
                        .arg(self.config.dead_letter())
                        .arg("*")
                        .arg(letter.fields(&params.consumer))
                        .ignore();
                }
            }
        }
        // Acknowledged only once every write succeeded: inside MULTI a failed XADD (say, an
        // output key that is not a stream) does not stop the XACK after it.
        if writes > 0 {
            transaction.exec(conn)?;
        }
        redis::cmd("XACK")
            .arg(&params.input)
            .arg(&params.group)
            .arg(&ids)
            .exec(conn)?;
        self.metrics.scored.inc_by(scored);
        self.metrics.dead_lettered.inc_by(dead);
        self.metrics.acked.inc_by(ids.len() as u64);
        self.metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    fn connect(&self) -> Result<Connection, RedisError> {
        let conn = self
            .client
            .get_connection_with_timeout(server::CONNECT_TIMEOUT)?;
        // A blocked read answers within `block`; past that and a margin, the server is gone.
        conn.set_read_timeout(Some(self.config.params.block + Duration::from_secs(5)))?;
        conn.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(conn)
    }

    /// Checks that the output and dead-letter keys are streams or absent: a key of another type
    /// would fail every write, found here rather than batch after batch.
    fn check_stream_keys(&self, conn: &mut Connection) -> Result<(), StreamError> {
        let params = &self.config.params;
        let keys = [
            ("--output", params.output.as_deref()),
            ("--dead-letter", Some(self.config.dead_letter())),
        ];
        for (flag, key) in keys {
            let Some(key) = key else { continue };
            let kind: String = redis::cmd("TYPE")
                .arg(key)
                .query(conn)
                .map_err(|source| server::unreachable(&params.redis, source))?;
            if kind != "stream" && kind != "none" {
                return Err(StreamError::NotAStream {
                    flag,
                    key: key.to_string(),
                    kind,
                });
            }
        }
        Ok(())
    }

    /// Creates the group (and the stream) if missing; a new group starts at the stream's
    /// first entry, so what is already there is scored. Whether it was missing.
    fn create_group(&self, conn: &mut Connection) -> Result<bool, StreamError> {
        let params = &self.config.params;
        let created: Result<(), RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&params.input)
            .arg(&params.group)
            .arg("0")
            .arg("MKSTREAM")
            .query(conn);
        match created {
            Ok(()) => Ok(true),
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(false),
            Err(source) => Err(StreamError::Group {
                stream: params.input.clone(),
                group: params.group.clone(),
                source,
            }),
        }
    }

    /// A new connection with the group in place, after waiting longer each failure; gives up
    /// only when asked to stop.
    fn reconnect(&self, mut failures: u32) -> Result<Connection, StreamError> {
        loop {
            let backoff = Duration::from_millis(100)
                .saturating_mul(1 << failures.min(6))
                .min(MAX_BACKOFF);
            let until = Instant::now() + backoff;
            while Instant::now() < until {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(StreamError::StoppedUnreachable);
                }
                std::thread::sleep(Duration::from_millis(50).min(backoff));
            }
            let error = match self.connect() {
                Ok(mut conn) => match self.create_group(&mut conn) {
                    Ok(created) => {
                        self.say("reconnected to Redis");
                        self.group_lost(created);
                        return Ok(conn);
                    }
                    Err(error) => error.to_string(),
                },
                Err(error) => error.to_string(),
            };
            self.metrics.errors.inc();
            failures += 1;
            self.warn(&format!(
                "cannot reach Redis ({error}); retrying in up to {} s",
                MAX_BACKOFF.as_secs()
            ));
        }
    }

    /// Says that the group had to be created again, if it had: the server lost the stream
    /// (a restart without persistence), and with it every entry not yet scored.
    fn group_lost(&self, created: bool) {
        if created {
            let params = &self.config.params;
            self.warn(&format!(
                "stream `{}` or its group `{}` was gone (Redis restarted without its data?): \
                 created them again; scoring the entries added since",
                params.input, params.group
            ));
        }
    }

    /// Asks Redis how many entries the group has yet to be given; a failure only leaves the
    /// gauge as it was (the loop's own reads find a lost connection).
    fn update_lag(&self, conn: &mut Connection) {
        let params = &self.config.params;
        let reply: Result<StreamInfoGroupsReply, _> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&params.input)
            .query(conn);
        if let Ok(reply) = reply
            && let Some(lag) = reply
                .groups
                .iter()
                .find(|g| g.name == params.group)
                .and_then(|g| g.lag)
        {
            self.metrics.group_lag.set(lag as i64);
        }
    }

    /// Logs `message` at `info`, with the consumer's name.
    fn say(&self, message: &str) {
        tracing::info!(consumer = %self.config.params.consumer, "{message}");
    }

    /// Logs `message` at `warn`, with the consumer's name: Redis lost, or its data.
    fn warn(&self, message: &str) {
        tracing::warn!(consumer = %self.config.params.consumer, "{message}");
    }
}

/// Why a step failed: Redis (retried) or standard output (fatal: nobody reads the results).
enum Failure {
    Redis(RedisError),
    Stdout(std::io::Error),
}

impl From<RedisError> for Failure {
    fn from(error: RedisError) -> Failure {
        Failure::Redis(error)
    }
}

/// An error's message cut to a line's length: a failed pipeline lists every command's error.
fn brief(error: &RedisError) -> String {
    const LONGEST: usize = 200;
    let text = error.to_string();
    match text.char_indices().nth(LONGEST) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

fn input_entry(mut entry: StreamId, deliveries: u64) -> InputEntry {
    let mut take = |field: &str| {
        entry
            .map
            .remove(field)
            .and_then(|value| redis::from_redis_value::<Vec<u8>>(value).ok())
    };
    InputEntry {
        record: take(RECORD),
        header: take(HEADER),
        id: entry.id,
        deliveries,
    }
}
