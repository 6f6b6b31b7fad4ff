//! The producer side: records of a file as input entries ([`crate::entry`]), appended to a
//! stream with pipelined XADDs, optionally at a set rate (for latency measurements).
//!
//! Records are sent as they are written, not validated: the consumer validates each and
//! dead-letters the bad ones with their error, which is where a user looks for them.

use crate::config::{ConfigError, check_name};
use crate::entry::{HEADER, RECORD};
use crate::server::{self, ServerError};
use nadir_data::DataFormat;
use redis::{Connection, RedisError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// One input entry's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub record: String,
    /// Shared by every line of one file.
    pub header: Option<Arc<str>>,
}

#[derive(Debug, Error)]
pub enum PublishError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("writing to stream `{stream}` failed after {sent} records: {source}")]
    Write {
        stream: String,
        sent: u64,
        #[source]
        source: RedisError,
    },
    #[error("{source_name}: {message}")]
    Input {
        source_name: String,
        message: String,
    },
    #[error("the rate must be a positive number of records per second, not {0}")]
    Rate(f64),
}

/// Appends entries to one stream.
pub struct Publisher {
    conn: Connection,
    stream: String,
    maxlen: Option<usize>,
    rate: Option<f64>,
}

/// Entries per pipeline when not paced.
const CHUNK: usize = 1000;

impl Publisher {
    /// Connects to `url` to publish to `stream`, trimmed to about `maxlen` entries (`MAXLEN
    /// ~`) and paced at `rate` records per second when given.
    pub fn connect(
        url: &str,
        stream: &str,
        maxlen: Option<usize>,
        rate: Option<f64>,
    ) -> Result<Publisher, PublishError> {
        check_name("stream", stream)?;
        if let Some(rate) = rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(PublishError::Rate(rate));
        }
        let conn = server::connect(&server::client(url)?, url)?;
        Ok(Publisher {
            conn,
            stream: stream.to_string(),
            maxlen,
            rate,
        })
    }

    /// Sends every entry; returns how many were sent. `progress` is told the count after each
    /// pipeline.
    pub fn publish(
        &mut self,
        entries: &[Published],
        mut progress: impl FnMut(u64),
    ) -> Result<u64, PublishError> {
        let chunk = match self.rate {
            // About 200 pipelines a second: paced finely enough for a latency bench.
            Some(rate) => ((rate / 200.0) as usize).clamp(1, CHUNK),
            None => CHUNK,
        };
        let started = Instant::now();
        let mut sent = 0u64;
        for part in entries.chunks(chunk) {
            if let Some(rate) = self.rate {
                let due = started + Duration::from_secs_f64(sent as f64 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            let mut pipe = redis::pipe();
            for entry in part {
                let command = pipe.cmd("XADD").arg(&self.stream);
                if let Some(maxlen) = self.maxlen {
                    command.arg("MAXLEN").arg("~").arg(maxlen);
                }
                command.arg("*").arg(RECORD).arg(&entry.record);
                if let Some(header) = &entry.header {
                    command.arg(HEADER).arg(header.as_bytes());
                }
                command.ignore();
            }
            pipe.exec(&mut self.conn)
                .map_err(|source| PublishError::Write {
                    stream: self.stream.clone(),
                    sent,
                    source,
                })?;
            sent += part.len() as u64;
            progress(sent);
        }
        Ok(sent)
    }
}

/// The records of a CSV, JSON (an array of records, or one) or NDJSON text, as input entries;
/// `source_name` names the text in errors. A CSV's first line is its header unless its first
/// field is a number (the headerless NSL-KDD files); each line is sent with it.
pub fn entries_of(bytes: &[u8], source_name: &str) -> Result<Vec<Published>, PublishError> {
    // A byte-order mark belongs to the file, not to its first record (or header).
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let input_error = |message: String| PublishError::Input {
        source_name: source_name.to_string(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        input_error(format!(
            "line {line} is not UTF-8 text (byte {at} of the file); records must be text"
        ))
    })?;
    match DataFormat::sniff(bytes) {
        DataFormat::Json => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| input_error(format!("malformed JSON: {e}")))?;
            let records = match value {
                serde_json::Value::Array(records) => records,
                record => vec![record],
            };
            Ok(records
                .into_iter()
                .map(|record| Published {
                    record: record.to_string(),
                    header: None,
                })
                .collect())
        }
        DataFormat::Ndjson => Ok(text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| Published {
                record: line.to_string(),
                header: None,
            })
            .collect()),
        DataFormat::Csv => csv_entries(text).map_err(|e| input_error(e.to_string())),
    }
}

/// A CSV text's records, each its own line of the text as written (quotes and all), with
/// the header line when the text has one.
fn csv_entries(text: &str) -> Result<Vec<Published>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::ByteRecord::new();
    let mut lines = Vec::new();
    let mut start = reader.position().byte() as usize;
    while reader.read_byte_record(&mut record)? {
        let end = reader.position().byte() as usize;
        let line = text[start..end].trim_matches(['\n', '\r']);
        if !line.trim().is_empty() {
            lines.push(line.to_string());
        }
        start = end;
    }
    let has_header = lines.first().is_some_and(|first| {
        let field = first.split(',').next().unwrap_or_default();
        field.trim().trim_matches('"').parse::<f64>().is_err()
    });
    let mut lines = lines.into_iter();
    let header: Option<Arc<str>> = if has_header {
        lines.next().map(Arc::from)
    } else {
        None
    };
    Ok(lines
        .map(|record| Published {
            record,
            header: header.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_go_with_their_header_and_headerless_lines_alone() {
        let entries = entries_of(b"a,b\n1,\"x\ny\"\n\n2,z\r\n", "t").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].record, "1,\"x\ny\"");
        assert_eq!(entries[1].record, "2,z");
        assert!(entries.iter().all(|e| e.header.as_deref() == Some("a,b")));
        let entries = entries_of(b"0,tcp,http\n1,udp,dns\n", "t").unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e.header.is_none()));
    }

    #[test]
    fn json_arrays_and_ndjson_give_one_entry_per_record() {
        let entries = entries_of(br#"[{"a": 1}, {"a": 2}]"#, "t").unwrap();
        let records: Vec<&str> = entries.iter().map(|e| e.record.as_str()).collect();
        assert_eq!(records, [r#"{"a":1}"#, r#"{"a":2}"#]);
        let entries = entries_of(b"{\"a\": 1}\n\n{\"a\": 2}\n", "t").unwrap();
        assert_eq!(entries.len(), 2);
        let error = entries_of(b"[{\"a\": 1}", "file.json")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("file.json: malformed JSON"), "{error}");
        let error = entries_of(b"a,b\n1,2\n3,\xff\n", "f.csv")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("f.csv: line 3 is not UTF-8"), "{error}");
        let entries = entries_of(b"\xEF\xBB\xBF0,tcp\n1,udp\n", "t").unwrap();
        assert_eq!(entries[0].record, "0,tcp");
        assert!(entries.iter().all(|e| e.header.is_none()));
    }
}
