//! The bodies of nadir's fuzz targets, in one place for both their users: the libFuzzer
//! harness in `fuzz/` (one `fuzz_target!` per [`TARGETS`] entry, built with `cargo fuzz`) and
//! `tests/replay.rs`, which runs every kept input under `fuzz/corpus/` and `fuzz/regressions/`
//! on stable Rust, so that CI checks each input the fuzzer ever found, forever.
//!
//! Each target calls the entry points the `nadir` command and the server call, with the same
//! options, and asserts what must hold of any answer (no panic, and the invariants below),
//! since a fuzzer only finds what panics. See docs/FUZZING.md.

use nadir_data::json::{Batch, Fields};
use nadir_data::record::{Problem, parse_numeric};
use nadir_data::{
    DataError, DataFormat, Dataset, FeaturePipeline, Kind, ReadOptions, Record, Schema, read_from,
    read_json_dataset,
};
use nadir_ml::ModelKind;
use nadir_ml::file::{FORMAT_VERSION, MAGIC, SavedModel};
use nadir_ml::protocol::{TrainOptions, train};
use nadir_server::body::{self, Format};
use nadir_stream::entry::{DeadLetter, ID, InputEntry, Outcome, Scored, Stamp};
use nadir_stream::{Scorer, entries_of};
use nadir_traffic::record::{CsvWriter, to_record};
use nadir_traffic::window::{WindowFeatures, Windows};
use nadir_traffic::zeek::{ZeekError, ZeekFormat, ZeekOptions, ZeekReader, ZeekSummary};
use nadir_traffic::{Capture, ConnState, Connection, Transport};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::sync::{Arc, LazyLock};

/// A fuzz target: its name (its folders under `fuzz/corpus/` and `fuzz/regressions/`, and its
/// `cargo fuzz run` name) and its body.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "csv_file",
        run: csv_file,
    },
    Target {
        name: "json_file",
        run: json_file,
    },
    Target {
        name: "csv_body",
        run: csv_body,
    },
    Target {
        name: "csv_body_chunks",
        run: csv_body_chunks,
    },
    Target {
        name: "json_body",
        run: json_body,
    },
    Target {
        name: "json_body_pieces",
        run: json_body_pieces,
    },
    Target {
        name: "ndjson_body",
        run: ndjson_body,
    },
    Target {
        name: "model_file",
        run: model_file,
    },
    Target {
        name: "schema_toml",
        run: schema_toml,
    },
    Target {
        name: "numeric_field",
        run: numeric_field,
    },
    Target {
        name: "capture_file",
        run: capture_file,
    },
    Target {
        name: "zeek_log",
        run: zeek_log,
    },
    Target {
        name: "stream_entries",
        run: stream_entries,
    },
    Target {
        name: "publish_text",
        run: publish_text,
    },
];

/// A CSV or headerless `.txt` data file, as `nadir` reads `--data FILE`: the schema detected
/// from the header, strict and with `--skip-invalid`; and against a given schema less a
/// dropped feature (a model's schema, `--schema` with `--drop`).
pub fn csv_file(data: &[u8]) {
    let read = |options| read_from(data, "fuzz.csv", options);
    check_strict_and_lenient(data, read);
    let given = ReadOptions {
        drop: vec!["service".to_string()],
        ..ReadOptions::with_schema(Schema::unsw_nb15())
    };
    if let Ok(dataset) = read(given) {
        check_dataset(data, &dataset);
    }
}

/// A JSON or NDJSON data file: as `nadir` reads standard input (the format sniffed from the
/// bytes) and as it reads `.json` and `.ndjson` files, strict and with `--skip-invalid`.
pub fn json_file(data: &[u8]) {
    match DataFormat::sniff(data) {
        DataFormat::Csv => check_strict_and_lenient(data, |o| read_from(data, "-", o)),
        json => check_strict_and_lenient(data, |o| read_json_dataset(data, "-", json, o)),
    }
    for format in [DataFormat::Json, DataFormat::Ndjson] {
        check_strict_and_lenient(data, |o| read_json_dataset(data, "f.json", format, o));
    }
}

/// A `text/csv` request body, for a model of each built-in schema.
pub fn csv_body(data: &[u8]) {
    for fields in body_fields() {
        if let Ok(batch) = body::parse(Format::Csv, data, fields) {
            check_batch(&batch, fields);
        }
    }
}

/// A CSV body of `BODY_PARALLEL_BYTES` or more is read in chunks on every core: a body
/// that reads behind enough blank lines to reach that size must give the same records and
/// errors, on lines moved down by the blank lines' count. A target of its own: reading
/// 64 KiB per input makes it far slower than [`csv_body`].
pub fn csv_body_chunks(data: &[u8]) {
    // Quotes send a body to the one-piece read whatever its size.
    if data.contains(&b'"') || data.len() >= BODY_PARALLEL_BYTES {
        return;
    }
    let blank = BODY_PARALLEL_BYTES - data.len();
    // A byte-order mark stays first: only there is it one (the CSV reader drops it), and
    // the blank lines go behind it.
    let (bom, rest) = match data.strip_prefix("\u{feff}".as_bytes()) {
        Some(rest) => (&data[..3], rest),
        None => (&data[..0], data),
    };
    let padded = [bom, &vec![b'\n'; blank][..], rest].concat();
    for fields in body_fields() {
        let Ok(alone) = body::parse(Format::Csv, data, fields) else {
            continue;
        };
        let mut chunks = body::parse(Format::Csv, &padded, fields)
            .unwrap_or_else(|e| panic!("read alone, not behind blank lines: {:?}", e.body));
        chunks
            .rejects
            .relocate(|index, line| (index, line.map(|line| line - blank as u64)));
        assert_same_batch(&alone, &chunks);
    }
}

/// An `application/json` request body (one record or an array), and the legacy
/// `{"features": [...]}` body, for a model of each built-in schema.
pub fn json_body(data: &[u8]) {
    for fields in body_fields() {
        if let Ok(batch) = body::parse(Format::Json, data, fields) {
            check_batch(&batch, fields);
            assert!(batch.records.len() + batch.rejects.len() >= batch.total);
        }
        if let Ok(Ok(record)) = body::parse_legacy(data, fields) {
            check_record(&record, fields.schema());
        }
    }
}

/// A JSON array of `BODY_PARALLEL_BYTES` or more is read in pieces on every core: an array
/// that reads behind enough blanks to reach that size must give the same records and errors.
pub fn json_body_pieces(data: &[u8]) {
    if data.len() >= BODY_PARALLEL_BYTES {
        return;
    }
    let padded = [&vec![b' '; BODY_PARALLEL_BYTES - data.len()][..], data].concat();
    for fields in body_fields() {
        let Ok(alone) = body::parse(Format::Json, data, fields) else {
            continue;
        };
        let pieces = body::parse(Format::Json, &padded, fields)
            .unwrap_or_else(|e| panic!("read alone, not behind blanks: {:?}", e.body));
        assert_same_batch(&alone, &pieces);
    }
}

/// An `application/x-ndjson` request body, for a model of each built-in schema.
pub fn ndjson_body(data: &[u8]) {
    for fields in body_fields() {
        if let Ok(batch) = body::parse(Format::Ndjson, data, fields) {
            check_batch(&batch, fields);
            assert!(
                batch
                    .rejects
                    .listed()
                    .iter()
                    .all(|e| e.line.is_some_and(|l| l >= 1))
            );
        }
    }
}

/// A model file, as `nadir` and the server load one: as given (the header's magic, version,
/// length and checksum checked), then with its length and checksum made right so that the
/// payload is decoded and validated. A model that loads must score records of its schema.
pub fn model_file(data: &[u8]) {
    if let Ok(model) = SavedModel::from_bytes(data, "fuzz.nadir") {
        score(&model);
    }
    let Some(payload) = data.get(MODEL_HEADER_BYTES..) else {
        return;
    };
    let mut file = Vec::with_capacity(data.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&Sha256::digest(payload));
    file.extend_from_slice(payload);
    if let Ok(model) = SavedModel::from_bytes(&file, "fuzz.nadir") {
        score(&model);
    }
}

/// A schema written in TOML (`--schema FILE`). One that is accepted must read a CSV file whose
/// header names its columns, with one valid row.
pub fn schema_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(schema) = Schema::from_toml(text, "fuzz.toml") else {
        return;
    };
    let schema = Arc::new(schema);
    let mut file = csv_line(schema.declared().iter().map(|f| f.name.as_str()));
    file.extend(csv_line(schema.declared().iter().map(|f| match f.kind {
        Kind::Categorical => "tcp",
        _ => "0",
    })));
    let dataset = read_from(
        &file[..],
        "fuzz.csv",
        ReadOptions::with_schema(schema.clone()),
    )
    .unwrap_or_else(|e| panic!("a header of the schema's own columns: {e}"));
    assert_eq!(dataset.len(), 1);
    check_dataset(&file, &dataset);
}

/// One numeric field as text, as every reader validates it: the fast path for plain decimals
/// must give `str::parse`'s value bit for bit, and the same verdict on anything else.
pub fn numeric_field(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expected = match text.trim() {
        "" => Err(Problem::Missing),
        trimmed => match trimmed.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            Ok(_) => Err(Problem::NotFinite),
            Err(_) => Err(Problem::NotANumber),
        },
    };
    let got = parse_numeric(Kind::Continuous, text);
    assert_eq!(
        got.map(f64::to_bits),
        expected.map(f64::to_bits),
        "{text:?}"
    );
}

/// A packet capture (pcap or pcapng), as `nadir` reads `--capture FILE`: every connection
/// read, then its window features, its record and its CSV row. A file that is not a capture
/// is a fine answer; one that is gives connections in start order, each with a finite
/// non-negative duration and a packet from its originator unless its responder's answer was
/// all that was seen, as many as the report counts.
pub fn capture_file(data: &[u8]) {
    let Ok(mut capture) = Capture::from_reader("fuzz.pcap", Cursor::new(data.to_vec())) else {
        return;
    };
    let connections: Vec<Connection> = capture.by_ref().collect();
    assert!(
        connections.windows(2).all(|w| w[0].start <= w[1].start),
        "connections out of start order"
    );
    for conn in &connections {
        assert!(conn.start.is_finite(), "start {}", conn.start);
        assert!(
            conn.duration.is_finite() && conn.duration >= 0.0,
            "duration {}",
            conn.duration
        );
        assert!(
            conn.orig_packets + conn.resp_packets >= 1,
            "a connection of no packet"
        );
        // The originator sent nothing only when the connection was first seen from its
        // responder: a SYN-ACK or an ICMP echo reply (nadir-traffic's tracker module).
        let answer_only = [ConnState::OTH, ConnState::RSTRH, ConnState::SHR];
        assert!(
            conn.orig_packets >= 1
                || (conn.transport != Transport::Udp && answer_only.contains(&conn.state)),
            "no packet from the originator of a {:?} {:?} connection",
            conn.transport,
            conn.state
        );
    }
    assert_eq!(capture.report().connections, connections.len() as u64);
    check_connection_records(&connections);
}

/// A Zeek conn.log (TSV or JSON lines), as `nadir` reads `--zeek FILE`, strict and with
/// `--skip-invalid`: a strict read that succeeds is the lenient one with nothing skipped; one
/// that stops at a bad line gives a start of the lenient read's connections, and the lenient
/// read's first skipped line is that line; any other error stops both reads alike. Either
/// read gives its connections in start order but for those it counts as late; the lenient
/// read's connections make records as a capture's do. A file `ZeekFormat::sniff` takes for a
/// conn.log is read in the format it names.
pub fn zeek_log(data: &[u8]) {
    let read = |skip_invalid| {
        let options = ZeekOptions {
            skip_invalid,
            ..ZeekOptions::default()
        };
        let mut reader = ZeekReader::new("fuzz.log", data, options);
        let mut connections = Vec::new();
        let end = loop {
            match reader.next_connection() {
                Ok(Some(conn)) => connections.push(conn),
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        check_zeek_order(&connections, reader.summary());
        (connections, end, reader.summary().clone(), reader.format())
    };
    let (strict, strict_end, strict_summary, format) = read(false);
    let (lenient, lenient_end, lenient_summary, _) = read(true);
    // What callers sniff to choose this reader is what the reader then reads.
    if let Some(sniffed) = ZeekFormat::sniff(data) {
        assert!(
            !matches!(strict_end, Err(ZeekError::NotZeek { .. })),
            "sniffed as {sniffed:?}, read as no conn.log"
        );
        assert!(
            format.is_none_or(|format| format == sniffed),
            "sniffed as {sniffed:?}, read as {format:?}"
        );
    }
    match (strict_end, &lenient_end) {
        (Ok(()), Ok(())) => {
            assert_eq!(lenient_summary.skipped_total(), 0, "{lenient_summary:?}");
            assert_eq!(strict, lenient);
            assert_eq!(strict_summary, lenient_summary);
        }
        (Ok(()), Err(error)) => panic!(
            "strict read {} records, lenient failed: {error}",
            strict.len()
        ),
        (Err(ZeekError::BadLine { bad, .. }), _) => {
            assert_eq!(lenient_summary.first_skipped.first(), Some(&bad));
            assert!(
                lenient.starts_with(&strict),
                "the strict read's connections differ"
            );
        }
        (Err(strict_error), lenient_end) => {
            let lenient_error = lenient_end.as_ref().err().map(ToString::to_string);
            assert_eq!(Some(strict_error.to_string()), lenient_error);
            assert_eq!(strict, lenient);
        }
    }
    for conn in &lenient {
        assert!(
            conn.start.is_finite() && conn.start >= 0.0,
            "start {}",
            conn.start
        );
        assert!(
            conn.duration.is_finite() && conn.duration >= 0.0,
            "duration {}",
            conn.duration
        );
    }
    check_connection_records(&lenient);
}

/// Entries of a Redis Stream, as `nadir stream` scores a batch of them
/// ([`Scorer::score`]), with a decision tree trained on synthetic NSL-KDD records. The input
/// is cut into entries at `ENTRY_SEPARATOR`; in each, `HEADER_SEPARATOR` parts the
/// `record` field from the `header` field, a first byte `NO_RECORD` means no `record`
/// field, and a field that is not UTF-8 is missing, as the consumer reads it. Each entry
/// must get one outcome, in order, with its ID, and the one it gets when scored alone: an
/// entry's neighbours in a batch must not change how it reads. A result's score is finite
/// and its fields render; a dead letter carries its entry as it came and a one-line error.
pub fn stream_entries(data: &[u8]) {
    let scorer = stream_scorer();
    let entries = stream_entries_of(data);
    let outcomes = scorer.score(entries.clone());
    assert_eq!(outcomes.len(), entries.len(), "one outcome per entry");
    let stamp = Stamp {
        model: scorer.model().kind(),
        consumer: "fuzz",
        scored_at_us: 0,
    };
    for (entry, outcome) in entries.iter().zip(&outcomes) {
        match outcome {
            Outcome::Scored(scored) => check_scored(entry, scored, &stamp),
            Outcome::Dead(dead) => check_dead_letter(entry, dead),
        }
        let alone = scorer.score(vec![entry.clone()]);
        assert_eq!(alone.len(), 1, "one outcome for one entry");
        assert_eq!(
            written(&alone[0], &stamp),
            written(outcome, &stamp),
            "entry {} scored alone and in its batch",
            entry.id
        );
    }
}

/// A file as `nadir publish` turns it into stream entries ([`entries_of`]): CSV, JSON or
/// NDJSON, sniffed as `nadir` sniffs it. Text that is not UTF-8 is refused; every entry's
/// record is non-empty. A CSV's entries are its lines as written, in order, each one CSV
/// record, all with the same header line, found in the text before them; a JSON text's
/// entries are its records (the array's elements, or the one value), each parsing back to
/// the value it was; an NDJSON text's entries are its lines that are not blank, trimmed.
pub fn publish_text(data: &[u8]) {
    let source = "fuzz.data";
    let entries = match entries_of(data, source) {
        Ok(entries) => entries,
        Err(error) => {
            let message = error.to_string();
            assert!(message.starts_with("fuzz.data: "), "{message}");
            return;
        }
    };
    let text = std::str::from_utf8(data).expect("entries only of UTF-8 text");
    for entry in &entries {
        assert!(!entry.record.trim().is_empty(), "a blank record");
    }
    match DataFormat::sniff(data) {
        DataFormat::Json => {
            let expected = match serde_json::from_str(text).expect("entries of valid JSON only") {
                Value::Array(records) => records,
                record => vec![record],
            };
            let records: Vec<Value> = entries
                .iter()
                .map(|entry| {
                    assert_eq!(entry.header, None, "a JSON record with a header");
                    serde_json::from_str(&entry.record)
                        .unwrap_or_else(|e| panic!("{:?} is not JSON: {e}", entry.record))
                })
                .collect();
            assert_eq!(records, expected, "the records as they were");
        }
        DataFormat::Ndjson => {
            let mut rest = text;
            for entry in &entries {
                assert_eq!(entry.header, None, "an NDJSON record with a header");
                assert_eq!(entry.record.trim(), entry.record, "an untrimmed record");
                assert!(!entry.record.contains('\n'), "{:?}", entry.record);
                rest = after(rest, &entry.record);
            }
        }
        DataFormat::Csv => {
            let Some(first) = entries.first() else {
                return;
            };
            let mut rest = match &first.header {
                Some(header) => after_csv_line(text, text, header),
                None => text,
            };
            for entry in &entries {
                assert_eq!(
                    entry.header, first.header,
                    "every line with the same header"
                );
                rest = after_csv_line(text, rest, &entry.record);
            }
        }
    }
}

/// [`nadir_server::body`] reads bodies this large in pieces (its `PARALLEL_JSON_BYTES`; its
/// CSV bound is the same).
const BODY_PARALLEL_BYTES: usize = nadir_server::body::PARALLEL_JSON_BYTES;

/// [`stream_entries`]: the byte that ends one entry of the input and starts the next (ASCII
/// record separator), the byte that parts an entry's `record` from its `header` (unit
/// separator), and a first byte that leaves the entry without a `record` field (group
/// separator). Control bytes, so that CSV and JSON text mutates freely around them.
const ENTRY_SEPARATOR: u8 = 0x1e;
const HEADER_SEPARATOR: u8 = 0x1f;
const NO_RECORD: u8 = 0x1d;

/// Entries per [`stream_entries`] input: each is scored again alone, so a few.
const MAX_ENTRIES: usize = 8;

/// The model file header: magic bytes, version (u32), payload length (u64), sha256.
const MODEL_HEADER_BYTES: usize = MAGIC.len() + 4 + 8 + 32;

/// The server's fields for a model of each built-in schema, built once.
fn body_fields() -> &'static [Fields; 2] {
    static FIELDS: LazyLock<[Fields; 2]> = LazyLock::new(|| Schema::built_in().map(Fields::new));
    &FIELDS
}

/// One CSV line, every field quoted (a schema's names may hold commas or quotes).
fn csv_line<'a>(fields: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let quoted: Vec<String> = fields
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    format!("{}\n", quoted.join(",")).into_bytes()
}

/// Reads `data` strictly and with `skip_invalid` and checks both answers: a strict read that
/// succeeds is the lenient one with nothing skipped; one that stops at a bad row names the
/// first row the lenient read skips.
fn check_strict_and_lenient(data: &[u8], read: impl Fn(ReadOptions) -> Result<Dataset, DataError>) {
    let strict = read(ReadOptions::default());
    let lenient = read(ReadOptions {
        skip_invalid: true,
        ..ReadOptions::default()
    });
    if let Ok(lenient) = &lenient {
        check_dataset(data, lenient);
    }
    match (strict, lenient) {
        (Ok(strict), Ok(lenient)) => {
            assert!(lenient.skipped.is_empty(), "{:?}", lenient.skipped);
            assert_eq!(strict.records, lenient.records);
            assert_eq!(strict.lines, lenient.lines);
            assert_eq!(strict.attacks, lenient.attacks);
        }
        (Ok(strict), Err(e)) => panic!("strict read {} records, lenient failed: {e}", strict.len()),
        (Err(DataError::InvalidRow { row, .. }), Ok(lenient)) => {
            assert_eq!(lenient.skipped.listed().first(), Some(&row));
        }
        (Err(_), _) => {}
    }
}

/// What holds of every dataset read from `data`: one line per record, one label per record in
/// a labelled file, records of the schema's shape, the sha256 of the bytes; and the feature
/// pipeline fitted on the records encodes them with no unseen value.
fn check_dataset(data: &[u8], dataset: &Dataset) {
    assert_eq!(dataset.lines.len(), dataset.len());
    if let Some(attacks) = &dataset.attacks {
        assert_eq!(attacks.len(), dataset.len());
    }
    assert!(dataset.lines.windows(2).all(|w| w[0] <= w[1]));
    for record in &dataset.records {
        check_record(record, &dataset.schema);
    }
    let sha256: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(dataset.sha256, sha256);
    let pipeline = FeaturePipeline::fit(&dataset.schema, &dataset.records);
    let encoded = pipeline.encode(&dataset.records);
    assert_eq!(encoded.len(), dataset.len());
    assert!(encoded.unseen.is_empty(), "{:?}", encoded.unseen);
}

/// A conn.log's connections come in start order, but for the late ones (those that start
/// before one given out already), which the summary counts, as it counts every connection.
fn check_zeek_order(connections: &[Connection], summary: &ZeekSummary) {
    let mut newest = f64::NEG_INFINITY;
    let mut late = 0;
    for conn in connections {
        if conn.start < newest {
            late += 1;
        }
        newest = newest.max(conn.start);
    }
    assert_eq!(summary.late, late, "late connections");
    assert_eq!(summary.records, connections.len() as u64);
}

/// What `nadir` does with connections, whatever their source: window features (every count
/// at least 1, since a connection counts itself; every rate a share), the NSL-KDD record a
/// model scores, and the CSV row `nadir` writes, which nadir-data must read back as the same
/// record: the writer's output is always valid input.
fn check_connection_records(connections: &[Connection]) {
    let schema = Schema::nsl_kdd();
    let mut windows = Windows::default();
    let mut writer = CsvWriter::new(Vec::new()).expect("a Vec takes the header");
    let mut expected = Vec::with_capacity(connections.len());
    for conn in connections {
        let features = windows.push(conn);
        check_window(&features);
        let record = to_record(&schema, conn, &features).expect("NSL-KDD's own schema");
        check_record(&record, &schema);
        expected.push(record);
        writer
            .write(conn, &features)
            .expect("a Vec takes every row");
    }
    let csv = writer.into_inner().expect("a Vec flushes");
    let rows = csv.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        rows,
        connections.len() + 1,
        "CSV rows: a header and one per connection"
    );
    if connections.is_empty() {
        return;
    }
    let read = read_from(
        csv.as_slice(),
        "records.csv",
        ReadOptions::with_schema(schema),
    )
    .unwrap_or_else(|e| panic!("the records written do not read back: {e}"));
    assert_eq!(read.records, expected, "the records read back");
    let lines: Vec<u64> = (2..).take(connections.len()).collect();
    assert_eq!(read.lines, lines);
}

/// Every count of a connection's windows includes itself; every rate is a share of one.
fn check_window(features: &WindowFeatures) {
    let counts = [
        features.count,
        features.srv_count,
        features.dst_host_count,
        features.dst_host_srv_count,
    ];
    assert!(counts.iter().all(|&c| c >= 1), "{features:?}");
    let rates = [
        features.serror_rate,
        features.srv_serror_rate,
        features.rerror_rate,
        features.srv_rerror_rate,
        features.same_srv_rate,
        features.diff_srv_rate,
        features.srv_diff_host_rate,
        features.dst_host_same_srv_rate,
        features.dst_host_diff_srv_rate,
        features.dst_host_same_src_port_rate,
        features.dst_host_srv_diff_host_rate,
        features.dst_host_serror_rate,
        features.dst_host_srv_serror_rate,
        features.dst_host_rerror_rate,
        features.dst_host_srv_rerror_rate,
    ];
    assert!(
        rates.iter().all(|r| (0.0..=1.0).contains(r)),
        "{features:?}"
    );
}

/// A record holds one finite value per numeric feature and one non-blank one per categorical.
fn check_record(record: &Record, schema: &Schema) {
    assert_eq!(record.numeric.len(), schema.num_numeric());
    assert_eq!(record.categorical.len(), schema.num_categorical());
    assert!(record.numeric.iter().all(|v| v.is_finite()));
    assert!(record.categorical.iter().all(|v| !v.trim().is_empty()));
}

/// What holds of every batch read from a body: records of the schema's shape, each with its
/// index, in order and below the count of records; every error's index below that count.
fn check_batch(batch: &Batch, fields: &Fields) {
    assert_eq!(batch.indices.len(), batch.records.len());
    assert!(batch.attacks.is_empty(), "Fields::new reads no labels");
    assert!(batch.indices.windows(2).all(|w| w[0] < w[1]));
    assert!(batch.indices.iter().all(|&i| i < batch.total));
    assert!(batch.rejects.listed().iter().all(|e| e.index < batch.total));
    assert!(batch.rejects.len() <= batch.total);
    for record in &batch.records {
        check_record(record, fields.schema());
    }
}

/// A body read in one piece and the same body read in parallel parts answer alike.
fn assert_same_batch(alone: &Batch, parts: &Batch) {
    let same = "the body read in one piece and in parts";
    assert_eq!(alone.single, parts.single, "{same}: one object");
    assert_eq!(alone.total, parts.total, "{same}: records");
    assert_eq!(alone.records, parts.records, "{same}: valid records");
    assert_eq!(
        alone.indices, parts.indices,
        "{same}: valid records' indices"
    );
    assert_eq!(
        alone.rejects.len(),
        parts.rejects.len(),
        "{same}: bad records"
    );
    assert_eq!(
        alone.rejects.problems(),
        parts.rejects.problems(),
        "{same}: problems"
    );
    assert_eq!(
        alone.rejects.errors().collect::<Vec<_>>(),
        parts.rejects.errors().collect::<Vec<_>>(),
        "{same}: errors"
    );
}

/// Scores records of the model's schema: one of each vocabulary's first values, one of values
/// the model never saw.
fn score(model: &SavedModel) {
    let schema = model.pipeline.schema();
    let numeric = |value: f64| {
        schema
            .numeric()
            .map(|f| {
                if f.kind == Kind::Rate {
                    value.min(1.0)
                } else {
                    value
                }
            })
            .collect::<Vec<f64>>()
    };
    let known = Record {
        numeric: numeric(0.0),
        categorical: (0..schema.num_categorical())
            .map(|c| {
                let vocabulary = model.pipeline.vocabulary(c);
                vocabulary.first().cloned().unwrap_or_else(|| "x".into())
            })
            .collect(),
    };
    let unseen = Record {
        numeric: numeric(1e9),
        categorical: vec!["never seen".to_string(); schema.num_categorical()],
    };
    let records = [known, unseen];
    let predictions = model.predict(&records, None);
    assert_eq!(predictions.len(), records.len());
}

/// The stream entries an input stands for ([`stream_entries`]), with IDs as Redis gives
/// them.
fn stream_entries_of(data: &[u8]) -> Vec<InputEntry> {
    data.split(|&b| b == ENTRY_SEPARATOR)
        .take(MAX_ENTRIES)
        .enumerate()
        .map(|(i, part)| {
            let (record, header) = match part.iter().position(|&b| b == HEADER_SEPARATOR) {
                Some(at) => (&part[..at], Some(&part[at + 1..])),
                None => (part, None),
            };
            InputEntry {
                id: format!("1764788400000-{i}"),
                record: match record.first() {
                    Some(&NO_RECORD) => None,
                    _ => Some(record.to_vec()),
                },
                header: header.map(<[u8]>::to_vec),
                deliveries: 1,
            }
        })
        .collect()
}

/// A scorer of a decision tree trained once on [`synthetic_nsl_kdd`].
fn stream_scorer() -> &'static Scorer {
    static SCORER: LazyLock<Scorer> = LazyLock::new(|| {
        let options = TrainOptions {
            kinds: vec![ModelKind::DecisionTree],
            folds: 2,
            ..TrainOptions::default()
        };
        let mut trained = train(&synthetic_nsl_kdd(), None, &options, &|_| {})
            .expect("a tree trains on the synthetic records");
        Scorer::new(trained.models.remove(0), None)
    });
    &SCORER
}

/// NSL-KDD records made up here (the replay test runs where `../shared` is not): a third
/// are floods, with large counts, high rates and S0 flags; the rest normal traffic.
fn synthetic_nsl_kdd() -> Dataset {
    let schema = Schema::nsl_kdd();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    let names = schema.declared().iter().map(|f| f.name.as_str());
    let mut text = names.chain(["attack"]).collect::<Vec<_>>().join(",");
    text.push('\n');
    for row in 0..240 {
        let flood = row % 3 == 0;
        let values = schema.declared().iter().map(|feature| match feature.kind {
            Kind::Categorical => {
                let values: &[&str] = match (feature.name.as_str(), flood) {
                    ("protocoltype", _) => &["tcp", "udp", "icmp"],
                    ("flag", true) => &["S0", "REJ"],
                    ("flag", false) => &["SF", "SF", "RSTO"],
                    _ => &["http", "private", "ftp_data", "domain_u"],
                };
                values[next(values.len() as u64) as usize].to_string()
            }
            Kind::Rate if flood => format!("{:.2}", 0.6 + next(41) as f64 / 100.0),
            Kind::Rate => format!("{:.2}", next(41) as f64 / 100.0),
            Kind::Indicator => next(2).to_string(),
            Kind::Count if flood => (100 + next(400)).to_string(),
            Kind::Count | Kind::Continuous => next(120).to_string(),
        });
        let label = if flood { "neptune" } else { "normal" };
        text.push_str(
            &values
                .chain([label.to_string()])
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push('\n');
    }
    read_from(
        text.as_bytes(),
        "synthetic.csv",
        ReadOptions::with_schema(schema),
    )
    .expect("the synthetic records read")
}

/// A result: its entry's ID and a record, a finite score, and fields that render with the
/// contract's values, the ID first (a record's own column of the same name must not hide
/// it), the score as the JSON object's number.
fn check_scored(entry: &InputEntry, scored: &Scored, stamp: &Stamp) {
    assert_eq!(scored.id, entry.id);
    let record = entry.record.as_deref().expect("a result of no record");
    assert!(
        scored.prediction.score.is_finite(),
        "{:?}",
        scored.prediction
    );
    if entry.header.is_none() && !record.trim_ascii_start().starts_with(b"{") {
        assert!(
            scored.own.is_empty(),
            "own columns of a headerless line: {:?}",
            scored.own
        );
    }
    let fields = scored.fields(stamp);
    assert_eq!(fields.first(), Some(&(ID.into(), entry.id.as_str().into())));
    let score_field = stamp.model.score_field();
    let scores: Vec<f64> = fields
        .iter()
        .filter(|(name, _)| *name == score_field)
        .map(|(_, value)| value.parse().expect("a number"))
        .collect();
    assert!(scores.contains(&scored.prediction.score), "{fields:?}");
    let json = scored.json(stamp);
    assert_eq!(json[ID], Value::from(entry.id.as_str()), "{json:?}");
    assert_eq!(
        json[score_field],
        Value::from(scored.prediction.score),
        "{json:?}"
    );
}

/// A dead letter: its entry as it came, an error in one line, fields that render.
fn check_dead_letter(entry: &InputEntry, dead: &DeadLetter) {
    assert_eq!(&dead.entry, entry);
    assert!(!dead.error.trim().is_empty(), "an empty error");
    assert!(!dead.error.contains(['\n', '\r']), "{:?}", dead.error);
    let fields = dead.fields("fuzz");
    assert_eq!(fields.first(), Some(&(ID, entry.id.clone().into_bytes())));
}

/// What a consumer writes of an outcome: the stream it goes to and its fields. (Not the
/// outcome itself: an unseen category's row is its place in the batch.)
fn written(outcome: &Outcome, stamp: &Stamp) -> (&'static str, Vec<(String, Vec<u8>)>) {
    match outcome {
        Outcome::Scored(scored) => (
            "results",
            scored
                .fields(stamp)
                .into_iter()
                .map(|(name, value)| (name.into_owned(), value.into_owned().into_bytes()))
                .collect(),
        ),
        Outcome::Dead(dead) => (
            "dead letters",
            dead.fields(stamp.consumer)
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        ),
    }
}

/// `text` after the first `part` in it, which must be there.
fn after<'a>(text: &'a str, part: &str) -> &'a str {
    let at = text
        .find(part)
        .unwrap_or_else(|| panic!("{part:?} is not in the text, in order"));
    &text[at + part.len()..]
}

/// What follows `line` in `rest`, the part of `text` after the lines before it; `line` must
/// be there and be one CSV record as the csv reader read it in `text`. A byte-order mark is
/// text but where it opens `text` (the reader drops it there), so a line elsewhere is read
/// behind a field of its own.
fn after_csv_line<'a>(text: &str, rest: &'a str, line: &str) -> &'a str {
    let opens_text = rest.len() == text.len() && text.starts_with(line);
    let read = if opens_text {
        line.to_string()
    } else {
        format!("x,{line}")
    };
    let records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(read.as_bytes())
        .byte_records()
        .count();
    assert_eq!(records, 1, "{line:?} as CSV records");
    after(rest, line)
}
