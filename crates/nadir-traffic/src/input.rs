//! Traffic files as the front ends meet them: which format a file is ([`TrafficFormat`]),
//! its connections with their window features whatever the format ([`Extraction`]), and the
//! NSL-KDD [`Dataset`] they make ([`Extraction::into_dataset`]), which `predict`, `evaluate`,
//! `train` and the reports read like any record file.

use crate::capture::{Capture, CaptureError};
use crate::connection::Connection;
use crate::record::{self, IDENTITY_COLUMNS, RecordError};
use crate::report::CaptureReport;
use crate::window::{WindowFeatures, WindowParams, Windows};
use crate::zeek::{ZeekError, ZeekFormat, ZeekOptions, ZeekReader, ZeekSummary};
use nadir_data::{Dataset, Rejects, Schema};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use thiserror::Error;

/// Bytes enough to tell the formats apart (a Zeek JSON line names `id.orig_h` early).
pub const SNIFF_BYTES: usize = 4096;

/// The traffic formats nadir reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficFormat {
    Pcap,
    Pcapng,
    ZeekTsv,
    ZeekJson,
}

impl TrafficFormat {
    /// The format whose first bytes these are, if any: the pcap and pcapng magic numbers,
    /// a Zeek log's `#separator` line or a JSON line naming `id.orig_h`.
    pub fn sniff(prefix: &[u8]) -> Option<TrafficFormat> {
        const PCAP: [[u8; 4]; 4] = [
            [0xd4, 0xc3, 0xb2, 0xa1],
            [0xa1, 0xb2, 0xc3, 0xd4],
            [0x4d, 0x3c, 0xb2, 0xa1],
            [0xa1, 0xb2, 0x3c, 0x4d],
        ];
        match prefix.get(..4) {
            Some(magic) if PCAP.iter().any(|m| m == magic) => Some(TrafficFormat::Pcap),
            Some([0x0a, 0x0d, 0x0d, 0x0a]) => Some(TrafficFormat::Pcapng),
            _ => match ZeekFormat::sniff(prefix)? {
                ZeekFormat::Tsv => Some(TrafficFormat::ZeekTsv),
                ZeekFormat::Json => Some(TrafficFormat::ZeekJson),
            },
        }
    }

    /// The format of the file at `path`, if it is traffic.
    pub fn of_path(path: &Path) -> io::Result<Option<TrafficFormat>> {
        let mut prefix = Vec::with_capacity(SNIFF_BYTES);
        File::open(path)?
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut prefix)?;
        Ok(TrafficFormat::sniff(&prefix))
    }

    pub fn name(self) -> &'static str {
        match self {
            TrafficFormat::Pcap => "pcap capture",
            TrafficFormat::Pcapng => "pcapng capture",
            TrafficFormat::ZeekTsv => "Zeek conn.log (TSV)",
            TrafficFormat::ZeekJson => "Zeek conn.log (JSON lines)",
        }
    }
}

/// A traffic file that cannot be read.
#[derive(Debug, Error)]
pub enum TrafficError {
    #[error("cannot read {name}: {source}")]
    Io { name: String, source: io::Error },
    #[error(
        "{name} is neither a packet capture (pcap, pcapng) nor a Zeek conn.log (TSV or JSON lines)"
    )]
    NotTraffic { name: String },
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Zeek(#[from] ZeekError),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// How to read traffic.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrafficOptions {
    /// Zeek logs: count and skip bad lines instead of stopping at the first. (Captures
    /// always count bad frames and read on.)
    pub skip_invalid: bool,
    pub window: WindowParams,
    /// Leave the input's sha256 uncomputed: for a caller that takes the connections one by
    /// one and makes no dataset of them (`nadir extract`, where hashing is 4 % of a SYN
    /// flood's time). [`Extraction::into_dataset`] then gives an empty `sha256`.
    pub skip_checksum: bool,
}

/// What reading a traffic file met.
#[derive(Debug, Clone, PartialEq)]
pub enum TrafficSummary {
    Capture(CaptureReport),
    Zeek(ZeekSummary),
}

impl TrafficSummary {
    /// Bad frames or lines met (counted, read past).
    pub fn problems(&self) -> u64 {
        match self {
            TrafficSummary::Capture(report) => report.problems.total(),
            TrafficSummary::Zeek(summary) => summary.skipped_total(),
        }
    }
}

impl fmt::Display for TrafficSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrafficSummary::Capture(report) => write!(f, "{report}"),
            TrafficSummary::Zeek(summary) => {
                write!(
                    f,
                    "{} lines, {} connections",
                    summary.lines, summary.records
                )?;
                if summary.skipped_total() > 0 {
                    write!(f, "; skipped {} bad lines:", summary.skipped_total())?;
                    for (kind, count) in &summary.skipped {
                        write!(f, " {kind} {count}")?;
                    }
                    if let Some(first) = summary.first_skipped.first() {
                        write!(f, " (first: {first})")?;
                    }
                }
                if summary.late > 0 {
                    write!(
                        f,
                        "; {} records started before ones already given out (beyond the reorder span)",
                        summary.late
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Hashes what passes through it, so that a dataset read from traffic carries the sha256 of
/// its bytes as record files do (a model remembers its training data by it); with no
/// hasher ([`TrafficOptions::skip_checksum`]) it only passes them on.
struct Hashing<R> {
    inner: R,
    hasher: Option<Arc<Mutex<Sha256>>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &self.hasher {
            hasher
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .update(&buf[..n]);
        }
        Ok(n)
    }
}

/// One per file read, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Source {
    Capture(Capture),
    Zeek(ZeekReader<BufReader<Box<dyn Read + Send>>>),
    /// Either of the others, read on a thread of its own ([`Extraction::read_ahead`]).
    Ahead(ReadAhead),
}

impl Source {
    fn next_connection(&mut self) -> Result<Option<Connection>, TrafficError> {
        match self {
            Source::Capture(capture) => Ok(capture.next()),
            Source::Zeek(zeek) => Ok(zeek.next_connection()?),
            Source::Ahead(ahead) => ahead.next_connection(),
        }
    }

    fn summary(&self) -> TrafficSummary {
        match self {
            Source::Capture(capture) => TrafficSummary::Capture(capture.report()),
            Source::Zeek(zeek) => TrafficSummary::Zeek(zeek.summary().clone()),
            Source::Ahead(ahead) => ahead.summary.clone(),
        }
    }
}

/// Connections handed over from the reading thread this many at a time: few enough hand-overs
/// that they cost nothing per connection, and small enough (some 700 KB) to stay in cache.
const BATCH: usize = 4096;
/// Batches the reading thread may run ahead by: it waits when the consumer is slower.
const BATCHES_AHEAD: usize = 4;

/// What the reading thread hands over: connections in start order with what was read so
/// far, or the error that stopped it (after the connections read before it).
type Batch = Result<(Vec<Connection>, TrafficSummary), TrafficError>;

/// The reading end of a source read on another thread: the capture's decoding and its
/// connection table run there, while this thread computes the windows and writes records.
/// Connections come in the order the source gives them; a consumer that stops early drops
/// the channel, and the thread stops at its next hand-over.
struct ReadAhead {
    batches: mpsc::Receiver<Batch>,
    current: std::vec::IntoIter<Connection>,
    summary: TrafficSummary,
}

impl ReadAhead {
    fn start(mut source: Source) -> ReadAhead {
        let summary = source.summary();
        let (sender, batches) = mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
        thread::spawn(move || {
            loop {
                let mut batch = Vec::with_capacity(BATCH);
                let mut failed = None;
                while batch.len() < BATCH {
                    match source.next_connection() {
                        Ok(Some(conn)) => batch.push(conn),
                        Ok(None) => break,
                        Err(error) => {
                            failed = Some(error);
                            break;
                        }
                    }
                }
                let last = failed.is_some() || batch.len() < BATCH;
                let sent = sender.send(Ok((batch, source.summary())));
                if let Some(error) = failed {
                    let _ = sender.send(Err(error));
                }
                if last || sent.is_err() {
                    return;
                }
            }
        });
        ReadAhead {
            batches,
            current: Vec::new().into_iter(),
            summary,
        }
    }

    fn next_connection(&mut self) -> Result<Option<Connection>, TrafficError> {
        loop {
            if let Some(conn) = self.current.next() {
                return Ok(Some(conn));
            }
            match self.batches.recv() {
                Ok(batch) => {
                    let (connections, summary) = batch?;
                    self.current = connections.into_iter();
                    self.summary = summary;
                }
                // The thread has ended, having sent everything.
                Err(mpsc::RecvError) => return Ok(None),
            }
        }
    }
}

/// A traffic file's connections in start order, each with its window features: the one
/// path from a capture or a Zeek log to NSL-KDD records.
pub struct Extraction {
    name: String,
    format: TrafficFormat,
    source: Source,
    windows: Windows,
    hasher: Option<Arc<Mutex<Sha256>>>,
}

impl Extraction {
    /// Opens a traffic file of any format nadir reads.
    pub fn open(path: &Path, options: TrafficOptions) -> Result<Extraction, TrafficError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| TrafficError::Io {
            name: name.clone(),
            source,
        })?;
        Extraction::from_reader(name, file, options)
    }

    /// Reads traffic from any byte stream (standard input); `name` is what messages call it.
    pub fn from_reader(
        name: impl Into<String>,
        mut input: impl Read + Send + 'static,
        options: TrafficOptions,
    ) -> Result<Extraction, TrafficError> {
        let name = name.into();
        let mut prefix = Vec::with_capacity(SNIFF_BYTES);
        (&mut input)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut prefix)
            .map_err(|source| TrafficError::Io {
                name: name.clone(),
                source,
            })?;
        let format = TrafficFormat::sniff(&prefix)
            .ok_or_else(|| TrafficError::NotTraffic { name: name.clone() })?;
        let hasher = (!options.skip_checksum).then(|| Arc::new(Mutex::new(Sha256::new())));
        let input = Hashing {
            inner: Cursor::new(prefix).chain(input),
            hasher: hasher.clone(),
        };
        let source = match format {
            TrafficFormat::Pcap | TrafficFormat::Pcapng => {
                Source::Capture(Capture::from_reader(name.clone(), input)?)
            }
            TrafficFormat::ZeekTsv | TrafficFormat::ZeekJson => {
                let zeek = ZeekOptions {
                    skip_invalid: options.skip_invalid,
                    ..ZeekOptions::default()
                };
                let boxed: Box<dyn Read + Send> = Box::new(input);
                Source::Zeek(ZeekReader::new(
                    name.clone(),
                    BufReader::with_capacity(1 << 16, boxed),
                    zeek,
                ))
            }
        };
        Ok(Extraction {
            name,
            format,
            source,
            windows: Windows::new(options.window),
            hasher,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> TrafficFormat {
        self.format
    }

    /// Reads the file on a thread of its own from now on: decoding a capture and its
    /// connection table there, the window features (and whatever the caller does with the
    /// connections) here, so two cores share the work. The connections, their order and
    /// the summary at the end are the same; [`Extraction::summary`] before the end may lag
    /// behind by up to a few thousand connections.
    pub fn read_ahead(self) -> Extraction {
        match self.source {
            Source::Ahead(_) => self,
            source => Extraction {
                source: Source::Ahead(ReadAhead::start(source)),
                ..self
            },
        }
    }

    /// The next connection and its window features; `None` at the end.
    pub fn next_connection(
        &mut self,
    ) -> Result<Option<(Connection, WindowFeatures)>, TrafficError> {
        let conn = self.source.next_connection()?;
        Ok(conn.map(|conn| {
            let window = self.windows.push(&conn);
            (conn, window)
        }))
    }

    /// What was read so far.
    pub fn summary(&self) -> TrafficSummary {
        self.source.summary()
    }

    /// Every connection as a record of `schema` (NSL-KDD's, perhaps less some features): a
    /// [`Dataset`] whose own columns are the identity ([`IDENTITY_COLUMNS`], with their
    /// values when `keep_identity`), whose lines are the connections' numbers (1-based), and
    /// whose sha256 is the file's. Unlabelled: a capture says nothing of attacks.
    pub fn into_dataset(
        mut self,
        schema: &Arc<Schema>,
        keep_identity: bool,
    ) -> Result<(Dataset, TrafficSummary), TrafficError> {
        let (mut records, mut identities) = (Vec::new(), Vec::new());
        while let Some((conn, window)) = self.next_connection()? {
            records.push(record::to_record(schema, &conn, &window)?);
            if keep_identity {
                identities.push(
                    record::identity_values(&conn)
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                );
            }
        }
        let summary = self.summary();
        let sha256 = self.hasher.map_or_else(String::new, |hasher| {
            let sum = hasher
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()
                .finalize();
            sum.iter().map(|b| format!("{b:02x}")).collect()
        });
        let dataset = Dataset {
            source: self.name,
            schema: schema.clone(),
            lines: (1..=records.len() as u64).collect(),
            records,
            attacks: None,
            skipped: Rejects::default(),
            sha256,
            ignored_columns: IDENTITY_COLUMNS.iter().map(|c| c.to_string()).collect(),
            ignored_values: identities,
        };
        Ok((dataset, summary))
    }
}
