//! `nadir stream` (score a Redis Stream as one consumer of a group) and `nadir publish` (put
//! a file's records on a stream). The work is `nadir_stream`'s; this reads the flags.

use crate::progress::Count;
use anyhow::{Context, Result};
use clap::Args;
use nadir_stream::entry::ResultFormat;
use nadir_stream::{Consumer, ConsumerParams, Publisher, Scorer, entries_of};
use nadir_telemetry::LogFormat;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Args)]
pub struct StreamArgs {
    /// The Redis server.
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// The stream to read records from (an NSL-KDD CSV line, a JSON record, or a connection
    /// record as `nadir extract` writes it, in the entry's `record` field; `header`: the CSV
    /// header line, if any).
    #[arg(long, value_name = "STREAM")]
    input: String,
    /// The consumer group; created (with the stream) if missing, starting at the stream's
    /// first entry.
    #[arg(long, value_name = "GROUP")]
    group: String,
    /// This consumer's name, unique in the group; a consumer restarted under its name first
    /// scores what it had read and not acknowledged.
    #[arg(long, value_name = "NAME")]
    consumer: String,
    /// A model file written by `nadir train`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Append each result to this stream.
    #[arg(long, value_name = "STREAM")]
    output: Option<String>,
    /// Also write each result to standard output as a JSON object per line.
    #[arg(long)]
    stdout: bool,
    /// fields: nadir's result fields (docs/STREAMS.md); ecs: each result as an Elastic Common
    /// Schema document (on standard output one per line, in the output stream in an `ecs`
    /// field).
    #[arg(long, value_enum, default_value = "fields")]
    format: StreamFormat,
    /// Write only the results of records predicted attacks (the alerts); every entry is still
    /// acknowledged and counted in the metrics.
    #[arg(long)]
    attacks_only: bool,
    /// Where entries that cannot be scored go, with their error [default: INPUT:dead].
    #[arg(long, value_name = "STREAM")]
    dead_letter: Option<String>,
    /// Entries read (and acknowledged) at a time.
    #[arg(long, value_name = "N", default_value_t = 256)]
    batch: usize,
    /// How long one read waits for new entries, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    block_ms: u64,
    /// Claim and score entries pending this long with any consumer (one that died), in
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    claim_idle: u64,
    /// Dead-letter an entry delivered more often than this instead of scoring it again.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_deliveries: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Without --metrics-addr, print a progress line this often, in seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    progress: u64,
    /// Decision threshold instead of the one saved in the model.
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
    /// Explain each result: the K features that moved its score most, with the record's
    /// value and a signed contribution, and the base value (`explained`, `base_value`,
    /// `explanation` fields; `nadir.explanation` in ecs), as `nadir predict --explain` does.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(1..))]
    explain: Option<u16>,
    /// Log lines (standard error) as `text` or `json` (one object per line: timestamp,
    /// level, target, message and the event's fields, such as `consumer`). RUST_LOG sets
    /// what is logged (info by default; NADIR_LOG, a level, when it is unset).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = LogFormat::from_str)]
    log_format: LogFormat,
}

/// `nadir stream --format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum StreamFormat {
    Fields,
    Ecs,
}

impl From<StreamFormat> for ResultFormat {
    fn from(format: StreamFormat) -> ResultFormat {
        match format {
            StreamFormat::Fields => ResultFormat::Fields,
            StreamFormat::Ecs => ResultFormat::Ecs,
        }
    }
}

#[derive(Args)]
pub struct PublishArgs {
    /// A CSV, JSON or NDJSON file of records, a packet capture or a Zeek conn.log (extracted
    /// to connection records first), or `-` for standard input.
    #[arg(value_name = "FILE")]
    input: PathBuf,
    /// The Redis server.
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// The stream to append the records to.
    #[arg(long, value_name = "STREAM")]
    stream: String,
    /// Trim the stream to about this many entries as it grows.
    #[arg(long, value_name = "N")]
    maxlen: Option<usize>,
    /// Send at most this many records a second (for latency measurements).
    #[arg(long, value_name = "PER_SECOND")]
    rate: Option<f64>,
}

/// An error found before any record is read — a bad flag, an unreachable server: the
/// command exits with status 2, as for a usage error.
#[derive(Debug)]
pub struct CannotStart(String);

impl fmt::Display for CannotStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CannotStart {}

fn cannot_start(error: impl fmt::Display) -> anyhow::Error {
    CannotStart(error.to_string()).into()
}

pub fn run(args: StreamArgs) -> Result<()> {
    let _log = nadir_telemetry::logging::init(args.log_format).map_err(cannot_start)?;
    crate::check_threshold(args.threshold).map_err(cannot_start)?;
    let config = ConsumerParams {
        redis: args.redis,
        input: args.input,
        group: args.group,
        consumer: args.consumer,
        output: args.output,
        stdout: args.stdout,
        format: args.format.into(),
        attacks_only: args.attacks_only,
        dead_letter: args.dead_letter,
        batch: args.batch,
        block: Duration::from_millis(args.block_ms),
        claim_idle: Duration::from_millis(args.claim_idle),
        max_deliveries: args.max_deliveries,
        metrics_addr: args.metrics_addr,
        progress: (args.progress > 0).then(|| Duration::from_secs(args.progress)),
        threshold: args.threshold,
    }
    .check()
    .map_err(cannot_start)?;
    let model = crate::load_model(&args.model).map_err(cannot_start)?;
    let stdout: Option<Box<dyn std::io::Write + Send>> = config.params().stdout.then(|| {
        Box::new(std::io::BufWriter::new(crate::output::Sink(
            std::io::stdout(),
        ))) as _
    });
    let mut scorer = Scorer::new(model, args.threshold);
    if let Some(k) = args.explain {
        scorer = scorer
            .explaining(usize::from(k))
            .map_err(|e| cannot_start(format!("cannot explain {}: {e}", args.model.display())))?;
    }
    let mut consumer = Consumer::new(config.clone(), scorer, stdout).map_err(cannot_start)?;
    let conn = consumer.start().map_err(cannot_start)?;
    consumer
        .stop_on_signals()
        .context("cannot install the SIGTERM handler")?;
    let params = config.params();
    tracing::info!(
        consumer = %params.consumer,
        "reading `{}` as group `{}`; results to {}, dead letters to `{}`{}",
        params.input,
        params.group,
        match (&params.output, params.stdout) {
            (Some(output), true) => format!("`{output}` and standard output"),
            (Some(output), false) => format!("`{output}`"),
            (None, _) => "standard output".to_string(),
        },
        config.dead_letter(),
        params.metrics_addr.map_or(String::new(), |addr| format!(
            "; metrics at http://{addr}/metrics"
        )),
    );
    let result = consumer.run(conn);
    tracing::info!(consumer = %params.consumer, "stopped: {}", consumer.metrics());
    Ok(result?)
}

pub fn publish(args: PublishArgs) -> Result<()> {
    let mut publisher = Publisher::connect(&args.redis, &args.stream, args.maxlen, args.rate)
        .map_err(cannot_start)?;
    let (bytes, name) = read_input(&args.input)?;
    let entries = match nadir_traffic::TrafficFormat::sniff(&bytes) {
        Some(_) => {
            let mut extraction = nadir_traffic::Extraction::from_reader(
                &name,
                std::io::Cursor::new(bytes),
                nadir_traffic::TrafficOptions::default(),
            )?;
            let mut writer = nadir_traffic::record::CsvWriter::new(Vec::new())?;
            crate::extract::write_connections(&mut extraction, &mut writer, &Count::hidden())?;
            entries_of(&writer.into_inner()?, &name)?
        }
        None => entries_of(&bytes, &name)?,
    };
    let progress = Count::new("records sent", Some(entries.len() as u64));
    let sent = publisher.publish(&entries, |sent| progress.set(sent))?;
    progress.finish();
    eprintln!("published {sent} records to {}", args.stream);
    Ok(())
}

fn read_input(path: &std::path::Path) -> Result<(Vec<u8>, String)> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .context("cannot read standard input")?;
        Ok((bytes, "standard input".to_string()))
    } else {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok((bytes, path.display().to_string()))
    }
}
