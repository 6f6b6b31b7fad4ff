//! Request bodies into records of the loaded models' schema, in the three forms users have
//! them: JSON (one object with the schema's named features, or an array of them), CSV (with
//! or without a header, exactly like the data files) and NDJSON. Bad records are counted by
//! field and kind of problem, and the first listed by index, line and field
//! ([`nadir_data::Rejects`]); nothing is dropped silently.
//!
//! JSON and NDJSON are read by [`nadir_data::json`] (serde visitors straight into one slot per
//! feature, large arrays in pieces on every core), CSV by [`read_csv_records`], as the `nadir`
//! command reads data files; this module adds what is HTTP's: the content type and encoding,
//! the 400 for a body that cannot be read, `?on_error`. A 1,000-record NSL-KDD array (800 KB)
//! reads in about 1.5 ms on one core, CSV in 1.0 ms: parsing is a third of a batch's time,
//! the forest another.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use nadir_data::json::{read_json_records, read_legacy_record, read_ndjson_records};
use nadir_data::record::shown;
use nadir_data::{Record, Rejects, Schema, read_csv_records};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

pub use nadir_data::json::{Batch, Fields, PARALLEL_JSON_BYTES};

/// The body formats the predict routes accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Ndjson,
}

/// The media types of [`Format`], as the 415 message and the OpenAPI document list them.
pub const MEDIA_TYPES: [&str; 3] = ["application/json", "text/csv", "application/x-ndjson"];

impl Format {
    /// The format named by the request's `Content-Type` (parameters such as `charset`
    /// ignored), for a body sent as is: a `Content-Encoding` other than `identity` is a 415,
    /// since the body would be read as the bytes of a compressed stream.
    pub fn from_headers(headers: &HeaderMap) -> Result<Format, ApiError> {
        let format = Format::from_content_type(headers)?;
        check_encoding(headers)?;
        Ok(format)
    }

    fn from_content_type(headers: &HeaderMap) -> Result<Format, ApiError> {
        let given = headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes());
        let essence = given
            .and_then(|v| v.split(|&b| b == b';').next())
            .map(<[u8]>::trim_ascii);
        let is = |name: &str| essence.is_some_and(|e| e.eq_ignore_ascii_case(name.as_bytes()));
        if is("application/json") {
            Ok(Format::Json)
        } else if is("text/csv") {
            Ok(Format::Csv)
        } else if is("application/x-ndjson") || is("application/ndjson") || is("application/jsonl")
        {
            Ok(Format::Ndjson)
        } else {
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type {}; send one of {}",
                    given.map_or_else(
                        || "(none)".to_string(),
                        |g| format!("`{}`", shown(&String::from_utf8_lossy(g)))
                    ),
                    MEDIA_TYPES.join(", ")
                ),
            ))
        }
    }
}

/// Refuses a body with a content coding (`gzip`, `br`, …): none is decoded. The 415 says so
/// in `Accept-Encoding`, as RFC 9110 (15.5.16) asks.
fn check_encoding(headers: &HeaderMap) -> Result<(), ApiError> {
    let codings = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity"))
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>();
    if codings.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "unsupported content encoding `{}`; send the body uncompressed (no Content-Encoding, or identity)",
            shown(&codings.join(", "))
        ),
    )
    .with_header(header::ACCEPT_ENCODING, HeaderValue::from_static("identity")))
}

/// Parses a body into records of `fields`' schema; `Err` only when the body as a whole is
/// malformed (400).
pub fn parse(format: Format, body: &[u8], fields: &Fields) -> Result<Batch, ApiError> {
    // JSON is UTF-8 (RFC 8259). Field names are read as bytes, so a name that is not UTF-8
    // would otherwise pass as an unknown field; CSV rows are checked line by line instead.
    if format != Format::Csv
        && let Err(e) = std::str::from_utf8(body)
    {
        let at = e.valid_up_to();
        let line = 1 + body[..at].iter().filter(|&&b| b == b'\n').count();
        return Err(ApiError::bad_request(format!(
            "the body is not UTF-8 (line {line}, byte {at})"
        )));
    }
    let batch = match format {
        Format::Json => parse_json(body, fields)?,
        Format::Csv => parse_csv(body, fields)?,
        Format::Ndjson => parse_ndjson(body, fields)?,
    };
    if batch.total == 0 {
        return Err(ApiError::bad_request("the body holds no records"));
    }
    Ok(batch)
}

fn parse_json(body: &[u8], fields: &Fields) -> Result<Batch, ApiError> {
    read_json_records(body, fields)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

fn parse_ndjson(body: &[u8], fields: &Fields) -> Result<Batch, ApiError> {
    read_ndjson_records(body, fields).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Bodies at least this large are parsed in chunks on every core: parsing and validating
/// every field of a row is a quarter of a batch's work, and one thread would leave the other idle.
pub(crate) const PARALLEL_CSV_BYTES: usize = 64 * 1024;

fn parse_csv(body: &[u8], fields: &Fields) -> Result<Batch, ApiError> {
    let schema = fields.schema();
    if body.len() >= PARALLEL_CSV_BYTES
        && let Some(batch) = csv_in_chunks(body, rayon::current_num_threads(), schema)
    {
        return Ok(batch);
    }
    read_csv_records(body, schema, None)
        .map_err(|e| ApiError::bad_request(format!("malformed CSV: {e}")))
}

/// A CSV body read in `chunks` chunks of whole lines in parallel, or `None` when it must be
/// read in one piece: quoted fields (a quote may hold a line break), a first line that is
/// not UTF-8, or an error about the body as a whole, which the one-piece read then reports
/// exactly as for a file.
///
/// Each later chunk is read behind the body's first non-empty line, so the layout (a
/// header's column order, or a headerless file's width) is detected as for the whole body;
/// that line is no record of the chunk ([`read_csv_records`]), and the chunk's lines are
/// moved back to the body's.
fn csv_in_chunks(body: &[u8], chunks: usize, schema: &Arc<Schema>) -> Option<Batch> {
    if body.contains(&b'"') {
        return None;
    }
    // The first line the csv reader does not skip as empty: the header, or the first row.
    // A byte-order mark opening the body is no content (the reader drops it).
    let mut line_start = 0;
    let (first_line, first_line_end) = loop {
        let end = line_start + body[line_start..].iter().position(|&b| b == b'\n')? + 1;
        let line = &body[line_start..end];
        let content = match line_start {
            0 => line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line),
            _ => line,
        };
        if content.iter().any(|&b| b != b'\r' && b != b'\n') {
            break (line, end);
        }
        line_start = end;
    };
    std::str::from_utf8(first_line).ok()?;
    let mut bounds = vec![0];
    for k in 1..chunks {
        let nominal = (body.len() * k / chunks).max(first_line_end);
        let end = body[nominal..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| nominal + i + 1);
        if end > *bounds.last().expect("starts with 0") && end < body.len() {
            bounds.push(end);
        }
    }
    bounds.push(body.len());
    let parts: Vec<Option<(Batch, u64)>> = bounds
        .par_windows(2)
        .map(|w| {
            let chunk = &body[w[0]..w[1]];
            if w[0] == 0 {
                return Some((read_csv_records(chunk, schema, None).ok()?, 0));
            }
            // The chunk's line 2 is this line of the body.
            let first_body_line = body[..w[0]].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let batch = read_csv_records(chunk, schema, Some(first_line)).ok()?;
            Some((batch, first_body_line - 2))
        })
        .collect();
    let mut parts = parts.into_iter();
    let (mut batch, _) = parts.next()??;
    for part in parts {
        let (part, shift) = part?;
        batch.append(part, |line| line + shift);
    }
    Some(batch)
}

/// The legacy body of the original Flask apps: `{"features": [every feature's value in file
/// order]}` (41 for NSL-KDD, the apps' schema).
pub fn parse_legacy(body: &[u8], fields: &Fields) -> Result<Result<Record, Rejects>, ApiError> {
    read_legacy_record(body, fields).map_err(|e| {
        ApiError::bad_request(format!(
            "malformed JSON: {e}; expected {{\"features\": [{}]}}",
            fields.in_file_order()
        ))
    })
}

/// `?on_error=`: what to do with bad records in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// 422 with the bad records (the first listed, all counted); nothing is scored.
    #[default]
    Reject,
    /// Score the valid records; the bad ones as for `Reject`.
    Skip,
}

/// `?format=`: the answer's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnswerFormat {
    /// The results as JSON (`Scored`, or one result for one object).
    #[default]
    Json,
    /// One Elastic Common Schema document per scored record, a line each
    /// ([`nadir_ml::ecs`]), as `application/x-ndjson`.
    Ecs,
}

/// The scoring routes' query: `on_error`, `format`, `attacks_only`, `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreQuery {
    pub on_error: OnError,
    pub format: AnswerFormat,
    /// Write only the records predicted attacks (with `format=ecs`: the alerts).
    pub attacks_only: bool,
    /// Explain each scored record by its K strongest features (at least 1; at most the
    /// schema's feature count, which the route checks against its model).
    pub explain: Option<usize>,
}

impl ScoreQuery {
    /// Reads a raw query string; other parameters and values are refused so that a typo
    /// (`on_eror=skip`) does not silently fall back to the default.
    pub fn from_query(query: Option<&str>) -> Result<ScoreQuery, ApiError> {
        let mut choice = ScoreQuery::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (key, value) {
                ("on_error", "reject") => choice.on_error = OnError::Reject,
                ("on_error", "skip") => choice.on_error = OnError::Skip,
                ("format", "json") => choice.format = AnswerFormat::Json,
                ("format", "ecs") => choice.format = AnswerFormat::Ecs,
                ("attacks_only", "true") => choice.attacks_only = true,
                ("attacks_only", "false") => choice.attacks_only = false,
                ("on_error", other) => {
                    return Err(bad_value("on_error", "`reject` or `skip`", other));
                }
                ("format", other) => return Err(bad_value("format", "`json` or `ecs`", other)),
                ("attacks_only", other) => {
                    return Err(bad_value("attacks_only", "`true` or `false`", other));
                }
                ("explain", k) => match k.parse::<usize>() {
                    Ok(k) if k > 0 => choice.explain = Some(k),
                    _ => return Err(bad_value("explain", "a number of features, 1 or more", k)),
                },
                (other, _) => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter `{other}`; the predict routes take \
                         on_error=reject|skip, format=json|ecs, attacks_only=true|false \
                         and explain=K"
                    )));
                }
            }
        }
        if choice.attacks_only && choice.format != AnswerFormat::Ecs {
            return Err(ApiError::bad_request(
                "attacks_only=true writes only alerts, which format=ecs writes; \
                 the JSON answer lists every record and counts the attacks in its summary",
            ));
        }
        Ok(choice)
    }
}

fn bad_value(key: &str, expected: &str, given: &str) -> ApiError {
    ApiError::bad_request(format!("{key} must be {expected}, got `{given}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    fn fields() -> &'static Fields {
        static FIELDS: LazyLock<Fields> = LazyLock::new(|| Fields::new(Schema::nsl_kdd()));
        &FIELDS
    }

    /// [`super::parse`] with NSL-KDD's features.
    fn parse(format: Format, body: &[u8]) -> Result<Batch, ApiError> {
        super::parse(format, body, fields())
    }

    const ROW: &str = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00";

    fn object(row: &str) -> serde_json::Map<String, serde_json::Value> {
        Schema::nsl_kdd()
            .features()
            .zip(row.split(','))
            .map(|(f, v)| {
                let value = match v.parse::<f64>() {
                    Ok(x) => serde_json::json!(x),
                    Err(_) => serde_json::json!(v),
                };
                (f.name.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn json_object_csv_and_ndjson_give_the_same_record() {
        let json = serde_json::to_vec(&object(ROW)).unwrap();
        let one = parse(Format::Json, &json).unwrap();
        assert!(one.single);
        let csv = parse(Format::Csv, format!("{ROW}\n{ROW}\n").as_bytes()).unwrap();
        let ndjson = [json.clone(), b"\n\n".to_vec(), json.clone()].concat();
        let nd = parse(Format::Ndjson, &ndjson).unwrap();
        assert_eq!(csv.records.len(), 2);
        assert_eq!(nd.records, csv.records);
        assert_eq!(one.records[0], csv.records[0]);
        assert_eq!(nd.indices, [0, 1]);
        // Keys with escapes name their features too.
        let escaped = String::from_utf8(json)
            .unwrap()
            .replace(r#""duration""#, r#""dur\u0061tion""#);
        assert!(escaped.contains(r"\u0061"));
        let escaped = parse(Format::Json, escaped.as_bytes()).unwrap();
        assert_eq!(escaped.records, one.records);
    }

    #[test]
    fn bad_records_are_named_by_index_line_and_field() {
        let bad = ROW.replacen("491", "-1", 1).replacen("0.17", "1.7", 1);
        let body = format!("{ROW}\n{bad}\n{ROW},extra,cols,here\n{ROW}\n");
        let batch = parse(Format::Csv, body.as_bytes()).unwrap();
        assert_eq!(batch.total, 4);
        assert_eq!(batch.indices, [0, 3]);
        let got: Vec<_> = batch
            .rejects
            .errors()
            .map(|e| (e.index, e.line, e.field))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some(2), Some("srcbytes".into())),
                (1, Some(2), Some("dsthostsamesrvrate".into())),
                (2, Some(3), None)
            ]
        );
    }

    #[test]
    fn json_arrays_report_wrong_types_duplicates_and_non_objects() {
        let mut record = object(ROW);
        record.insert("service".into(), serde_json::json!(7));
        record.insert("src_bytes".into(), serde_json::json!(5));
        record.remove("flag");
        let body = serde_json::json!([object(ROW), record, 12]);
        let batch = parse(Format::Json, &serde_json::to_vec(&body).unwrap()).unwrap();
        assert!(!batch.single);
        let got: Vec<_> = batch.rejects.errors().map(|e| (e.index, e.field)).collect();
        let named = |field: &str| Some(field.to_string());
        assert_eq!(
            got,
            [
                (1, named("service")),
                (1, named("flag")),
                (1, named("srcbytes")),
                (2, None)
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_refused_whole() {
        for (format, body) in [
            (Format::Json, "{\"duration\": "),
            (Format::Json, "[]"),
            (Format::Json, "17"),
            (Format::Ndjson, "{}\n{oops}\n"),
            (Format::Csv, ""),
            (Format::Csv, "a,b\n1,2\n"),
        ] {
            let error = parse(format, body.as_bytes()).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{body}");
        }
        let mut record = serde_json::to_vec(&object(ROW)).unwrap();
        record.splice(2..2, [0xff, 0xfe]);
        let mut lines = serde_json::to_vec(&object(ROW)).unwrap();
        lines.push(b'\n');
        let second = lines.len();
        lines.extend_from_within(..second);
        lines[second + 2] = 0xff;
        for (format, body, message) in [
            (
                Format::Json,
                &record,
                "the body is not UTF-8 (line 1, byte 2)",
            ),
            (
                Format::Ndjson,
                &record,
                "the body is not UTF-8 (line 1, byte 2)",
            ),
            (
                Format::Ndjson,
                &lines,
                &*format!("the body is not UTF-8 (line 2, byte {})", second + 2),
            ),
        ] {
            let error = parse(format, body).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert_eq!(error.body["error"], message);
        }
    }

    /// A number reads to the same bits sent as a JSON number, as JSON text or in a CSV row,
    /// whatever else the body holds. serde_json reads this one 1 ULP off unless its
    /// `float_roundtrip` feature is on; a `1e400` elsewhere in the body makes it read every
    /// value from its text, which must not change the others.
    #[test]
    fn a_number_reads_the_same_whichever_way_it_is_sent() {
        let value = "0.9424502837770503";
        let exact: f64 = value.parse().unwrap();
        let text = serde_json::to_string(&object(ROW)).unwrap();
        let number = text.replacen("\"serrorrate\":0.0", &format!("\"serrorrate\":{value}"), 1);
        let quoted = text.replacen(
            "\"serrorrate\":0.0",
            &format!("\"serrorrate\":\"{value}\""),
            1,
        );
        let huge = text.replacen("\"srcbytes\":491.0", "\"srcbytes\":1e400", 1);
        assert!(number != text && quoted != text && huge != text);
        let csv = ROW.replacen(
            ",0.00,0.00,0.00,0.00,1.00,",
            &format!(",{value},0.00,0.00,0.00,1.00,"),
            1,
        );
        let serrorrate = Schema::nsl_kdd()
            .numeric_names()
            .iter()
            .position(|&name| name == "serrorrate")
            .unwrap();
        for (format, body) in [
            (Format::Json, number.clone()),
            (Format::Json, quoted),
            (Format::Json, format!("[{number},{huge}]")),
            (Format::Ndjson, format!("{number}\n{huge}\n")),
            (Format::Csv, csv),
        ] {
            let batch = parse(format, body.as_bytes()).unwrap();
            let read = batch.records[0].numeric[serrorrate];
            assert_eq!(read.to_bits(), exact.to_bits(), "{format:?} {body}");
        }
    }

    #[test]
    fn numbers_beyond_f64_are_bad_fields_not_a_bad_body() {
        let mut record = object(ROW);
        let text = serde_json::to_string(&record).unwrap();
        record.insert("dstbytes".into(), serde_json::json!("1e400"));
        let as_text = serde_json::to_string(&record).unwrap();
        let huge = text.replacen("\"srcbytes\":491.0", "\"srcbytes\":1e400", 1);
        assert_ne!(huge, text);
        let body = format!("[{text},{huge},{as_text}]");
        let batch = parse(Format::Json, body.as_bytes()).unwrap();
        assert_eq!(batch.indices, [0]);
        let errors: Vec<_> = batch.rejects.errors().collect();
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.index, e.field.as_deref(), e.value.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some("srcbytes"), Some("1e400")),
                (2, Some("dstbytes"), Some("1e400"))
            ]
        );
        assert!(errors[0].message.contains("infinity"));
        let legacy = format!(
            "{{\"features\": [{}]}}",
            ROW.split(',')
                .map(|v| if v == "491" {
                    "-1e400".to_string()
                } else if v.parse::<f64>().is_ok() {
                    v.to_string()
                } else {
                    format!("\"{v}\"")
                })
                .collect::<Vec<_>>()
                .join(",")
        );
        let rejects = parse_legacy(legacy.as_bytes(), fields())
            .unwrap()
            .unwrap_err();
        let errors: Vec<_> = rejects.errors().collect();
        assert_eq!(
            (errors[0].field.as_deref(), errors[0].value.as_deref()),
            (Some("srcbytes"), Some("-1e400"))
        );
    }

    #[test]
    fn the_query_is_read_strictly() {
        let on_error = |q| ScoreQuery::from_query(Some(q)).map(|q| q.on_error);
        assert_eq!(ScoreQuery::from_query(None).unwrap(), ScoreQuery::default());
        assert_eq!(ScoreQuery::default().on_error, OnError::Reject);
        assert_eq!(on_error("on_error=skip").unwrap(), OnError::Skip);
        assert!(on_error("on_error=maybe").is_err());
        assert!(on_error("on_eror=skip").is_err());
        assert_eq!(
            ScoreQuery::from_query(Some("format=ecs&attacks_only=true&on_error=skip")).unwrap(),
            ScoreQuery {
                on_error: OnError::Skip,
                format: AnswerFormat::Ecs,
                attacks_only: true,
                explain: None,
            }
        );
        let explain = |q| ScoreQuery::from_query(Some(q)).map(|q| q.explain);
        assert_eq!(explain("explain=5").unwrap(), Some(5));
        for bad in [
            "explain=0",
            "explain=-1",
            "explain=",
            "explain=five",
            "explain=2.5",
        ] {
            let error = explain(bad).unwrap_err();
            assert_eq!(error.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(
                error.body["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("explain must be")
            );
        }
        assert!(ScoreQuery::from_query(Some("format=xml")).is_err());
        assert!(ScoreQuery::from_query(Some("format=ecs&attacks_only=yes")).is_err());
        assert!(ScoreQuery::from_query(Some("attacks_only=true")).is_err());
    }

    #[test]
    fn a_large_csv_body_reads_in_chunks_as_in_one_piece() {
        let schema = Schema::nsl_kdd();
        let header = schema
            .features()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let bad = ROW.replacen("491", "-491", 1);
        let rows_of = |every: usize| -> Vec<String> {
            (0..900)
                .map(|i| match i % every {
                    0 => bad.clone(),
                    1 => "1,2,3".to_string(),
                    2 => String::new(),
                    _ => ROW.replacen("491", &i.to_string(), 1),
                })
                .collect()
        };
        let rows = rows_of(97);
        // Bad rows beyond what is listed: each chunk lists its first, the merge the first of all.
        let many_bad = rows_of(4);
        let reversed = |line: &str| line.split(',').rev().collect::<Vec<_>>().join(",");
        let reversed_rows: Vec<String> = rows.iter().map(|r| reversed(r)).collect();
        for body in [
            format!(
                "\n\r\n{}\n{}\n",
                reversed(&header),
                reversed_rows.join("\n")
            ),
            format!("{header}\n{}\n", rows.join("\n")),
            format!("{ROW}\n{}\n", rows.join("\n")),
            format!("{ROW}\r\n{}", rows.join("\r\n")),
            format!("{header}\n{}\n", many_bad.join("\n")),
            // Headerless, the first line a bad record: read again behind every later chunk, it
            // is counted once.
            format!("{bad}\n{}\n", many_bad.join("\n")),
        ] {
            assert!(body.len() >= PARALLEL_CSV_BYTES);
            let whole = read_csv_records(body.as_bytes(), &schema, None).unwrap();
            for chunks in [2, 3, 7] {
                let chunked = csv_in_chunks(body.as_bytes(), chunks, &schema).unwrap();
                assert_eq!(chunked.records, whole.records, "{chunks} chunks");
                assert_eq!(chunked.indices, whole.indices, "{chunks} chunks");
                assert_eq!(chunked.total, whole.total, "{chunks} chunks");
                assert_eq!(chunked.rejects, whole.rejects, "{chunks} chunks");
            }
            assert!(whole.rejects.len() >= 18);
            assert_eq!(whole.total, whole.records.len() + whole.rejects.len());
        }
        let quoted = format!("{header}\n\"{}\n", rows.join("\n"));
        assert!(csv_in_chunks(quoted.as_bytes(), 2, &schema).is_none());
    }
}
