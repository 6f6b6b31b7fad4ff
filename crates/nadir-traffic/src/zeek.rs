//! Zeek `conn.log` in: the tab-separated log with its `#` header lines, or JSON lines (one
//! object per line, as Zeek writes with `LogAscii::use_json`), told apart by the first line
//! that is not blank (`#` or `{`).
//!
//! # Fields
//!
//! | Zeek field | [`Connection`] |
//! | --- | --- |
//! | `ts` (seconds; in JSON also ISO 8601 text or milliseconds) | `start` |
//! | `duration` | `duration` (unset: 0) |
//! | `proto` (`tcp`, `udp`, `icmp`) | `transport`; other transports are bad lines |
//! | `id.orig_h`, `id.orig_p`, `id.resp_h`, `id.resp_p` | addresses and ports (ICMP: type and code or counterpart type) |
//! | `conn_state` | `state` ([`ConnState::from_zeek_name`]) |
//! | `orig_bytes`, `resp_bytes` | payload bytes each way (unset: 0) |
//! | `orig_pkts`, `resp_pkts` | packets each way (unset: 0) |
//! | `vlan`, `inner_vlan` (when logged) | `vlan`, outermost first |
//!
//! `land` is computed (same address and port both ends). `wrong_fragment`, `urgent` and the
//! content features are 0: conn.log records neither fragments, nor URG flags, nor payload.
//!
//! The TSV header must name `ts`, the four `id.*` fields, `proto`, `conn_state`, `duration`,
//! `orig_bytes`, `resp_bytes`, `orig_pkts` and `resp_pkts` (a log cut down by `zeek-cut`
//! without its byte counts would give records of silent connections); values equal to
//! `#unset_field` (`-`) or `#empty_field` (`(empty)`) are unset; `#types` is not needed, each
//! field being read by its own rule. JSON lines leave unset fields out; `ts`, `id.*`, `proto`
//! and `conn_state` must be present. A new `#fields` line (logs joined with `cat`) starts a
//! new layout. A line longer than [`MAX_LINE_BYTES`] ends the reading (a conn.log record is a
//! few hundred bytes; this is not one, and holding it could take any memory).
//!
//! # Bad lines
//!
//! A line that cannot be read is a [`BadLine`]: its line number, the field, its column
//! (TSV) and the value at fault. By default the first ends the reading with
//! [`ZeekError::BadLine`]; with [`ZeekOptions::skip_invalid`] bad lines are counted by kind
//! ([`ZeekSummary`], the first [`LISTED_BAD_LINES`] kept whole) and reading goes on. A file
//! that is not a conn.log at all, or a header without a needed field, is an error in both
//! modes.
//!
//! # Order
//!
//! Zeek writes a connection when it ends (or times out: by default 5 minutes without packets
//! for TCP, 1 minute for UDP and ICMP), so the log is in end order; the window features need
//! start order. The reader holds records in a buffer ordered by start and releases one once
//! a record starting [`ZeekOptions::reorder_seconds`] later (default 600 s: the TCP
//! inactivity timeout plus 5 minutes of connection) has been read, and the rest at the end.
//! Memory is the records that started within that span of the newest start read, not the
//! log's length. A record that starts before one already released (a connection longer
//! than the span) is released at once, out of order, and counted in [`ZeekSummary::late`];
//! the windows count it with the newest connections ([`crate::window`]).

use crate::connection::{ConnState, Connection, ContentFeatures, Transport};
use nadir_data::record::shown;
use serde::Deserialize;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;
use thiserror::Error;

/// How many skipped lines [`ZeekSummary`] keeps whole; the rest are only counted.
pub const LISTED_BAD_LINES: usize = 100;

/// The longest line read.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The two ways Zeek writes a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeekFormat {
    /// Tab-separated values after `#separator`, `#fields`, `#types` header lines.
    Tsv,
    /// One JSON object per line.
    Json,
}

impl ZeekFormat {
    /// Whether the first bytes of a file are a Zeek conn.log, and in which format: a
    /// `#separator` line, or a JSON object whose first line has `"id.orig_h"` (other JSON
    /// lines, such as NSL-KDD records, are not). For format detection by the callers.
    pub fn sniff(prefix: &[u8]) -> Option<ZeekFormat> {
        let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
        let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
        let text = &text[start..];
        if text.starts_with(b"#separator") {
            return Some(ZeekFormat::Tsv);
        }
        let first_line = text.split(|&b| b == b'\n').next().unwrap_or(text);
        let names_originator = first_line
            .windows(br#""id.orig_h""#.len())
            .any(|w| w == br#""id.orig_h""#);
        (text.starts_with(b"{") && names_originator).then_some(ZeekFormat::Json)
    }
}

/// How to read a conn.log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZeekOptions {
    /// Count and skip bad lines instead of stopping at the first.
    pub skip_invalid: bool,
    /// Seconds of start time the reorder buffer spans.
    pub reorder_seconds: f64,
}

impl Default for ZeekOptions {
    fn default() -> ZeekOptions {
        ZeekOptions {
            skip_invalid: false,
            reorder_seconds: 600.0,
        }
    }
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A TSV line with another number of fields than `#fields` names.
    FieldCount { expected: usize, found: usize },
    /// A JSON line that does not parse as an object.
    Json(String),
    /// A needed field absent or unset.
    Missing,
    /// A value that is not of the field's type.
    Invalid { expected: &'static str },
    /// A `conn_state` Zeek does not write.
    UnknownState,
    /// A transport other than TCP, UDP and ICMP (`unknown_transport`): no NSL-KDD record.
    UnsupportedTransport,
}

impl Problem {
    /// The kind's name, under which skipped lines are counted.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::FieldCount { .. } => "field_count",
            Problem::Json(_) => "json",
            Problem::Missing => "missing",
            Problem::Invalid { .. } => "invalid",
            Problem::UnknownState => "unknown_state",
            Problem::UnsupportedTransport => "unsupported_transport",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::FieldCount { expected, found } => {
                write!(f, "{found} fields where #fields names {expected}")
            }
            Problem::Json(message) => write!(f, "not a JSON object: {message}"),
            Problem::Missing => f.write_str("missing"),
            Problem::Invalid { expected } => write!(f, "not {expected}"),
            Problem::UnknownState => f.write_str("not a Zeek conn_state"),
            Problem::UnsupportedTransport => {
                f.write_str("not a transport of NSL-KDD (tcp, udp, icmp)")
            }
        }
    }
}

/// A line that cannot be read: where, which field, which value, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    /// 1-based.
    pub line: u64,
    /// The Zeek field name, when one field is at fault.
    pub field: Option<String>,
    /// 1-based TSV column of the field (JSON has none).
    pub column: Option<usize>,
    /// The value at fault, as written (at most 64 characters).
    pub value: Option<String>,
    pub problem: Problem,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        if let Some(column) = self.column {
            write!(f, " (column {column})")?;
        }
        write!(f, ": {}", self.problem)?;
        if let Some(value) = &self.value {
            write!(f, ": `{value}`")?;
        }
        Ok(())
    }
}

/// Why a conn.log cannot be read.
#[derive(Debug, Error)]
pub enum ZeekError {
    #[error("{source_name}: cannot read: {error}")]
    Io {
        source_name: String,
        error: io::Error,
    },
    #[error(
        "{source_name}: not a Zeek conn.log: its first line is neither a `#` header nor a JSON object"
    )]
    NotZeek { source_name: String },
    #[error("{source_name}, line {line}: {message}")]
    Header {
        source_name: String,
        line: u64,
        message: String,
    },
    #[error("{source_name}, {bad}")]
    BadLine { source_name: String, bad: BadLine },
    #[error(
        "{source_name}, line {line}: longer than {MAX_LINE_BYTES} bytes: not a conn.log record"
    )]
    LineTooLong { source_name: String, line: u64 },
}

/// What a reading met.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZeekSummary {
    /// Lines read, header and blank lines included.
    pub lines: u64,
    /// Connections given out.
    pub records: u64,
    /// Bad lines skipped (with [`ZeekOptions::skip_invalid`]), by [`Problem::kind`].
    pub skipped: BTreeMap<&'static str, u64>,
    /// The first [`LISTED_BAD_LINES`] skipped lines.
    pub first_skipped: Vec<BadLine>,
    /// Records given out of start order: they started before one already given out.
    pub late: u64,
    /// The most records the reorder buffer held at once.
    pub peak_buffered: usize,
}

impl ZeekSummary {
    /// All bad lines skipped.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// The fields of one record, before their conversion: TSV text or JSON values.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl Raw<'_> {
    fn shown(&self) -> String {
        match self {
            Raw::Text(text) => shown(text),
            Raw::Json(value) => shown(&value.to_string()),
        }
    }
}

/// A field's name, its TSV column and its value (`None`: absent or unset).
#[derive(Debug, Clone, Copy)]
struct Field<'a> {
    name: &'static str,
    column: Option<usize>,
    value: Option<Raw<'a>>,
}

impl<'a> Field<'a> {
    fn bad(&self, line: u64, problem: Problem) -> BadLine {
        BadLine {
            line,
            field: Some(self.name.to_string()),
            column: self.column,
            value: self.value.map(|v| v.shown()),
            problem,
        }
    }

    fn required(&self, line: u64) -> Result<Raw<'a>, BadLine> {
        self.value.ok_or_else(|| self.bad(line, Problem::Missing))
    }

    fn invalid(&self, line: u64, expected: &'static str) -> BadLine {
        self.bad(line, Problem::Invalid { expected })
    }

    fn text(&self, line: u64, expected: &'static str) -> Result<&'a str, BadLine> {
        match self.required(line)? {
            Raw::Text(text) => Ok(text),
            Raw::Json(serde_json::Value::String(text)) => Ok(text.as_str()),
            Raw::Json(_) => Err(self.invalid(line, expected)),
        }
    }

    /// A non-negative finite number of seconds; `None` when unset.
    fn interval(&self, line: u64) -> Result<Option<f64>, BadLine> {
        let Some(raw) = self.value else {
            return Ok(None);
        };
        let number = match raw {
            Raw::Text(text) => text.parse::<f64>().ok(),
            Raw::Json(value) => value.as_f64(),
        };
        match number {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(self.invalid(line, "an interval in seconds")),
        }
    }

    /// `ts`: seconds since the Unix epoch, or in JSON as Zeek's `json_timestamps` option may
    /// write it: ISO 8601 text (`JSON::TS_ISO8601`, `2020-06-05T14:39:59.305988Z`) or whole
    /// milliseconds (`JSON::TS_MILLIS`, told by its size: above 10^11, which in seconds would
    /// be after the year 5000).
    fn time(&self, line: u64) -> Result<f64, BadLine> {
        const EXPECTED: &str = "a time (seconds since 1970, or ISO 8601)";
        const MILLISECONDS_FROM: f64 = 1e11;
        let seconds = match self.required(line)? {
            Raw::Json(serde_json::Value::String(text)) => iso_8601_seconds(text),
            Raw::Json(serde_json::Value::Number(n)) => n
                .as_f64()
                .map(|x| if x > MILLISECONDS_FROM { x / 1000.0 } else { x }),
            Raw::Json(_) => None,
            Raw::Text(text) => text.parse::<f64>().ok(),
        };
        seconds
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| self.invalid(line, EXPECTED))
    }

    /// A whole number; `None` when unset.
    fn count(&self, line: u64) -> Result<Option<u64>, BadLine> {
        let Some(raw) = self.value else {
            return Ok(None);
        };
        let number = match raw {
            Raw::Text(text) => text.parse::<u64>().ok(),
            Raw::Json(value) => value.as_u64(),
        };
        number
            .map(Some)
            .ok_or_else(|| self.invalid(line, "a whole number"))
    }

    fn port(&self, line: u64) -> Result<u16, BadLine> {
        self.required(line)?;
        let number = self.count(line).ok().flatten();
        number
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| self.invalid(line, "a port (0 to 65535)"))
    }

    fn address(&self, line: u64) -> Result<IpAddr, BadLine> {
        self.text(line, "an IP address")?
            .parse()
            .map_err(|_| self.invalid(line, "an IP address"))
    }

    fn vlan(&self, line: u64) -> Result<Option<u16>, BadLine> {
        match self.count(line) {
            Ok(None) => Ok(None),
            Ok(Some(id)) if id < 4096 => Ok(Some(id as u16)),
            _ => Err(self.invalid(line, "a VLAN id (0 to 4095)")),
        }
    }
}

/// Seconds since the Unix epoch of an ISO 8601 date and time with its offset
/// (`2020-06-05T14:39:59.305988Z`, `2020-06-05T16:39:59+02:00`); `None` for other text.
fn iso_8601_seconds(text: &str) -> Option<f64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let bytes = text.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| bytes.get(at) != Some(&c))
        || !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let rest = &text[19..];
    let fraction_end = rest
        .strip_prefix('.')
        .map_or(0, |f| 1 + f.bytes().take_while(u8::is_ascii_digit).count());
    if fraction_end == 1 {
        return None;
    }
    let fraction = &rest[..fraction_end];
    let offset = match &rest[fraction_end..] {
        "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = zone[1..].split_once(':')?;
            if hours.len() != 2 || minutes.len() != 2 {
                return None;
            }
            let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    // Read as the decimal Zeek would have written for the same time, so that both forms give
    // the same `f64`.
    (seconds >= 0)
        .then(|| format!("{seconds}{fraction}").parse().ok())
        .flatten()
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The fields a record is made of, in the order [`Fields::connection`] reads them.
const FIELD_NAMES: [&str; 14] = [
    "ts",
    "duration",
    "proto",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "conn_state",
    "orig_bytes",
    "resp_bytes",
    "orig_pkts",
    "resp_pkts",
    "vlan",
    "inner_vlan",
];

/// How many of [`FIELD_NAMES`] (the first ones) a TSV header must name.
const REQUIRED_TSV_FIELDS: usize = 12;

/// One record's fields, in the order of [`FIELD_NAMES`].
struct Fields<'a>([Field<'a>; FIELD_NAMES.len()]);

impl Fields<'_> {
    fn connection(&self, line: u64) -> Result<Connection, BadLine> {
        let [
            ts,
            duration,
            proto,
            orig_h,
            orig_p,
            resp_h,
            resp_p,
            conn_state,
            orig_bytes,
            resp_bytes,
            orig_pkts,
            resp_pkts,
            vlan,
            inner_vlan,
        ] = &self.0;
        let start = ts.time(line)?;
        let transport = match proto.text(line, "a transport name")? {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            "icmp" => Transport::Icmp,
            _ => return Err(proto.bad(line, Problem::UnsupportedTransport)),
        };
        let orig_addr = orig_h.address(line)?;
        let orig_port = orig_p.port(line)?;
        let resp_addr = resp_h.address(line)?;
        let resp_port = resp_p.port(line)?;
        let state = ConnState::from_zeek_name(conn_state.text(line, "a conn_state name")?)
            .ok_or_else(|| conn_state.bad(line, Problem::UnknownState))?;
        Ok(Connection {
            start,
            duration: duration.interval(line)?.unwrap_or(0.0),
            transport,
            orig_addr,
            resp_addr,
            orig_port,
            resp_port,
            vlan: [vlan.vlan(line)?, inner_vlan.vlan(line)?]
                .into_iter()
                .flatten()
                .collect(),
            state,
            orig_bytes: orig_bytes.count(line)?.unwrap_or(0),
            resp_bytes: resp_bytes.count(line)?.unwrap_or(0),
            orig_packets: orig_pkts.count(line)?.unwrap_or(0),
            resp_packets: resp_pkts.count(line)?.unwrap_or(0),
            land: orig_addr == resp_addr && orig_port == resp_port,
            wrong_fragment: 0,
            urgent: 0,
            content: ContentFeatures::default(),
        })
    }
}

/// A JSON line's fields of [`FIELD_NAMES`]; others are ignored.
#[derive(Deserialize)]
struct JsonRecord {
    ts: Option<serde_json::Value>,
    duration: Option<serde_json::Value>,
    proto: Option<serde_json::Value>,
    #[serde(rename = "id.orig_h")]
    orig_h: Option<serde_json::Value>,
    #[serde(rename = "id.orig_p")]
    orig_p: Option<serde_json::Value>,
    #[serde(rename = "id.resp_h")]
    resp_h: Option<serde_json::Value>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<serde_json::Value>,
    conn_state: Option<serde_json::Value>,
    orig_bytes: Option<serde_json::Value>,
    resp_bytes: Option<serde_json::Value>,
    orig_pkts: Option<serde_json::Value>,
    resp_pkts: Option<serde_json::Value>,
    vlan: Option<serde_json::Value>,
    inner_vlan: Option<serde_json::Value>,
}

impl JsonRecord {
    fn fields(&self) -> Fields<'_> {
        let values = [
            &self.ts,
            &self.duration,
            &self.proto,
            &self.orig_h,
            &self.orig_p,
            &self.resp_h,
            &self.resp_p,
            &self.conn_state,
            &self.orig_bytes,
            &self.resp_bytes,
            &self.orig_pkts,
            &self.resp_pkts,
            &self.vlan,
            &self.inner_vlan,
        ];
        Fields(std::array::from_fn(|i| Field {
            name: FIELD_NAMES[i],
            column: None,
            // JSON's null is Zeek's unset, as an absent field.
            value: values[i].as_ref().filter(|v| !v.is_null()).map(Raw::Json),
        }))
    }
}

/// The TSV header as read so far.
#[derive(Debug, Clone)]
struct TsvLayout {
    separator: Vec<u8>,
    unset: String,
    empty: String,
    /// Per name of [`FIELD_NAMES`], its position in `#fields`; `None` before `#fields`.
    positions: Option<[Option<usize>; FIELD_NAMES.len()]>,
    field_count: usize,
}

impl Default for TsvLayout {
    fn default() -> TsvLayout {
        TsvLayout {
            separator: b"\t".to_vec(),
            unset: "-".to_string(),
            empty: "(empty)".to_string(),
            positions: None,
            field_count: 0,
        }
    }
}

/// `\xHH` escapes (as in `#separator \x09`) replaced by their bytes.
fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let escaped = text
            .get(i..i + 4)
            .filter(|t| t.starts_with(b"\\x"))
            .and_then(|t| std::str::from_utf8(&t[2..]).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(text[i]);
                i += 1;
            }
        }
    }
    out
}

/// `line` cut at every occurrence of `separator` (a byte search when it is one byte, as
/// Zeek's tab is).
fn split<'a>(line: &'a [u8], separator: &'a [u8]) -> Box<dyn Iterator<Item = &'a [u8]> + 'a> {
    if let [byte] = separator {
        return Box::new(line.split(move |b| b == byte));
    }
    let mut rest = Some(line);
    Box::new(std::iter::from_fn(move || {
        let text = rest?;
        match text.windows(separator.len()).position(|w| w == separator) {
            Some(at) => {
                rest = Some(&text[at + separator.len()..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    }))
}

/// A record waiting in the reorder buffer: earliest start first, then in log order. Boxed,
/// so that the heap's sifts move 24 bytes rather than the record's 170 or so.
#[derive(Debug)]
struct Pending {
    start: f64,
    sequence: u64,
    conn: Box<Connection>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Pending) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Pending) -> Ordering {
        self.start
            .total_cmp(&other.start)
            .then(self.sequence.cmp(&other.sequence))
    }
}

/// Reads a conn.log and gives its connections in start order ([`Iterator`]: after an error
/// it gives nothing more).
pub struct ZeekReader<R> {
    source_name: String,
    input: R,
    options: ZeekOptions,
    format: Option<ZeekFormat>,
    layout: TsvLayout,
    line: Vec<u8>,
    pending: BinaryHeap<Reverse<Pending>>,
    sequence: u64,
    /// The newest start read.
    newest: f64,
    /// The start of the last record given out.
    released: f64,
    finished: bool,
    summary: ZeekSummary,
}

/// Opens a conn.log file.
pub fn open(path: &Path, options: ZeekOptions) -> Result<ZeekReader<BufReader<File>>, ZeekError> {
    let source_name = path.display().to_string();
    let file = File::open(path).map_err(|error| ZeekError::Io {
        source_name: source_name.clone(),
        error,
    })?;
    Ok(ZeekReader::new(source_name, BufReader::new(file), options))
}

impl<R: BufRead> ZeekReader<R> {
    /// A reader of `input`, named `source_name` in messages.
    pub fn new(source_name: impl Into<String>, input: R, options: ZeekOptions) -> ZeekReader<R> {
        ZeekReader {
            source_name: source_name.into(),
            input,
            options,
            format: None,
            layout: TsvLayout::default(),
            line: Vec::new(),
            pending: BinaryHeap::new(),
            sequence: 0,
            newest: f64::NEG_INFINITY,
            released: f64::NEG_INFINITY,
            finished: false,
            summary: ZeekSummary::default(),
        }
    }

    /// The format, once the first line that is not blank has been read.
    pub fn format(&self) -> Option<ZeekFormat> {
        self.format
    }

    pub fn summary(&self) -> &ZeekSummary {
        &self.summary
    }

    /// The next connection in start order; `None` at the end.
    pub fn next_connection(&mut self) -> Result<Option<Connection>, ZeekError> {
        loop {
            let ready = self.pending.peek().is_some_and(|Reverse(p)| {
                self.finished || p.start <= self.newest - self.options.reorder_seconds
            });
            if ready {
                return Ok(self.pending.pop().map(|Reverse(p)| self.release(*p.conn)));
            }
            if self.finished {
                return Ok(None);
            }
            match self.read_record() {
                Ok(Some(conn)) if conn.start < self.released => {
                    self.summary.late += 1;
                    return Ok(Some(self.release(conn)));
                }
                Ok(Some(conn)) => {
                    self.newest = self.newest.max(conn.start);
                    self.sequence += 1;
                    self.pending.push(Reverse(Pending {
                        start: conn.start,
                        sequence: self.sequence,
                        conn: Box::new(conn),
                    }));
                    self.summary.peak_buffered = self.summary.peak_buffered.max(self.pending.len());
                }
                Ok(None) => self.finished = true,
                Err(ZeekError::BadLine { bad, .. }) if self.options.skip_invalid => {
                    *self.summary.skipped.entry(bad.problem.kind()).or_default() += 1;
                    if self.summary.first_skipped.len() < LISTED_BAD_LINES {
                        self.summary.first_skipped.push(bad);
                    }
                }
                Err(error) => {
                    self.finished = true;
                    self.pending.clear();
                    return Err(error);
                }
            }
        }
    }

    fn release(&mut self, conn: Connection) -> Connection {
        self.released = self.released.max(conn.start);
        self.summary.records += 1;
        conn
    }

    /// The next record of the log in log order; `None` at its end.
    fn read_record(&mut self) -> Result<Option<Connection>, ZeekError> {
        loop {
            self.line.clear();
            let read = (&mut self.input)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(|error| ZeekError::Io {
                    source_name: self.source_name.clone(),
                    error,
                })?;
            if read == 0 {
                return Ok(None);
            }
            self.summary.lines += 1;
            let line_number = self.summary.lines;
            if read > MAX_LINE_BYTES {
                return Err(ZeekError::LineTooLong {
                    source_name: self.source_name.clone(),
                    line: line_number,
                });
            }
            let mut text = self.line.as_slice();
            if line_number == 1 {
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            }
            while let [rest @ .., b'\n' | b'\r'] = text {
                text = rest;
            }
            let Some(&first) = text.iter().find(|b| !b.is_ascii_whitespace()) else {
                continue;
            };
            let format = match self.format {
                Some(format) => format,
                None => {
                    let format = match first {
                        b'#' => ZeekFormat::Tsv,
                        b'{' => ZeekFormat::Json,
                        _ => {
                            return Err(ZeekError::NotZeek {
                                source_name: self.source_name.clone(),
                            });
                        }
                    };
                    self.format = Some(format);
                    format
                }
            };
            let record = match format {
                ZeekFormat::Tsv if text.starts_with(b"#") => {
                    let header = text.to_vec();
                    self.read_header(&header, line_number)?;
                    continue;
                }
                ZeekFormat::Tsv => self.tsv_record(text, line_number)?,
                ZeekFormat::Json => json_record(text, line_number),
            };
            return record.map(Some).map_err(|bad| ZeekError::BadLine {
                source_name: self.source_name.clone(),
                bad,
            });
        }
    }

    fn header_error(&self, line: u64, message: String) -> ZeekError {
        ZeekError::Header {
            source_name: self.source_name.clone(),
            line,
            message,
        }
    }

    fn read_header(&mut self, text: &[u8], line: u64) -> Result<(), ZeekError> {
        if let Some(value) = text.strip_prefix(b"#separator ") {
            let separator = unescape(value);
            if separator.is_empty() {
                return Err(self.header_error(line, "an empty #separator".to_string()));
            }
            self.layout.separator = separator;
            return Ok(());
        }
        let mut parts = split(text, &self.layout.separator);
        let key = parts.next().unwrap_or_default();
        let values: Vec<String> = parts
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        match key {
            b"#unset_field" => self.layout.unset = values.concat(),
            b"#empty_field" => self.layout.empty = values.concat(),
            b"#fields" => {
                let positions: [Option<usize>; FIELD_NAMES.len()] =
                    std::array::from_fn(|i| values.iter().position(|v| v == FIELD_NAMES[i]));
                let missing: Vec<&str> = FIELD_NAMES[..REQUIRED_TSV_FIELDS]
                    .iter()
                    .zip(&positions)
                    .filter(|(_, at)| at.is_none())
                    .map(|(name, _)| *name)
                    .collect();
                if !missing.is_empty() {
                    return Err(self.header_error(
                        line,
                        format!(
                            "#fields lacks {} (a conn.log names them all)",
                            missing.join(", ")
                        ),
                    ));
                }
                self.layout.positions = Some(positions);
                self.layout.field_count = values.len();
            }
            _ => {}
        }
        Ok(())
    }

    fn tsv_record(&self, text: &[u8], line: u64) -> Result<Result<Connection, BadLine>, ZeekError> {
        let Some(positions) = self.layout.positions else {
            return Err(
                self.header_error(line, "a record before the #fields header line".to_string())
            );
        };
        let values: Vec<&[u8]> = split(text, &self.layout.separator).collect();
        if values.len() != self.layout.field_count {
            return Ok(Err(BadLine {
                line,
                field: None,
                column: None,
                value: None,
                problem: Problem::FieldCount {
                    expected: self.layout.field_count,
                    found: values.len(),
                },
            }));
        }
        let mut texts = [None; FIELD_NAMES.len()];
        for (i, at) in positions.iter().enumerate() {
            let Some(at) = *at else { continue };
            let field = Field {
                name: FIELD_NAMES[i],
                column: Some(at + 1),
                value: None,
            };
            let bytes = values[at];
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Ok(Err(BadLine {
                    value: Some(shown(&String::from_utf8_lossy(bytes))),
                    ..field.invalid(line, "UTF-8 text")
                }));
            };
            texts[i] = Some(text);
        }
        let fields = Fields(std::array::from_fn(|i| Field {
            name: FIELD_NAMES[i],
            column: positions[i].map(|at| at + 1),
            value: texts[i]
                .filter(|t| *t != self.layout.unset && *t != self.layout.empty)
                .map(Raw::Text),
        }));
        Ok(fields.connection(line))
    }
}

fn json_record(text: &[u8], line: u64) -> Result<Connection, BadLine> {
    let record: JsonRecord = serde_json::from_slice(text).map_err(|error| BadLine {
        line,
        field: None,
        column: None,
        value: None,
        problem: Problem::Json(error.to_string()),
    })?;
    record.fields().connection(line)
}

impl<R: BufRead> Iterator for ZeekReader<R> {
    type Item = Result<Connection, ZeekError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_connection().transpose()
    }
}
