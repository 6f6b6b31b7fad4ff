//! Request bodies into records, in the three forms users have them: JSON (one object with
//! the 41 named fields, or an array of them), CSV (with or without a header, exactly like the
//! data files) and NDJSON. Every bad record is reported by index, line and field; nothing is
//! dropped silently.
//!
//! JSON records are read by a hand-written serde visitor straight into the 41 feature slots
//! rather than through `serde_json::Value`, which would allocate a map per record: a
//! 1,000-record batch must parse in well under a millisecond.

use crate::error::{ApiError, RecordError};
use axum::http::{HeaderMap, StatusCode, header};
use nadir_data::record::TypedValue;
use nadir_data::schema::{self, FEATURES};
use nadir_data::{DataError, FieldError, ReadOptions, Record, RowProblem, read_from};
use rayon::prelude::*;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// The format named by the request's `Content-Type` (parameters such as `charset` ignored).
    pub fn from_headers(headers: &HeaderMap) -> Result<Format, ApiError> {
        let given = headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let essence = given
            .as_deref()
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/json") => Ok(Format::Json),
            Some("text/csv") => Ok(Format::Csv),
            Some("application/x-ndjson" | "application/ndjson" | "application/jsonl") => {
                Ok(Format::Ndjson)
            }
            _ => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type {}; send one of {}",
                    given.map_or_else(|| "(none)".to_string(), |g| format!("`{g}`")),
                    MEDIA_TYPES.join(", ")
                ),
            )),
        }
    }
}

/// A parsed body: the valid records with their indices, and every bad one.
#[derive(Debug, Default)]
pub struct Batch {
    /// The body was one JSON object: the answer is one result object.
    pub single: bool,
    pub records: Vec<Record>,
    /// The 0-based index in the body of each of [`Batch::records`].
    pub indices: Vec<usize>,
    pub errors: Vec<RecordError>,
    /// Records in the body, valid or not.
    pub total: usize,
}

impl Batch {
    fn push(&mut self, index: usize, line: Option<u64>, record: Result<Record, RecordFault>) {
        self.total += 1;
        match record {
            Ok(record) => {
                self.records.push(record);
                self.indices.push(index);
            }
            Err(fault) => self.errors.extend(fault.into_errors(index, line)),
        }
    }
}

/// Why one record is unusable.
#[derive(Debug, PartialEq)]
enum RecordFault {
    Fields(Vec<FieldError>),
    Whole(String),
}

impl RecordFault {
    fn into_errors(self, index: usize, line: Option<u64>) -> Vec<RecordError> {
        match self {
            RecordFault::Fields(errors) => errors
                .into_iter()
                .map(|e| RecordError {
                    index,
                    line,
                    field: Some(e.field),
                    value: Some(e.value),
                    message: e.problem.to_string(),
                })
                .collect(),
            RecordFault::Whole(message) => vec![RecordError {
                index,
                line,
                field: None,
                value: None,
                message,
            }],
        }
    }
}

/// Parses a body; `Err` only when the body as a whole is malformed (400).
pub fn parse(format: Format, body: &[u8]) -> Result<Batch, ApiError> {
    let batch = match format {
        Format::Json => parse_json(body)?,
        Format::Csv => parse_csv(body)?,
        Format::Ndjson => parse_ndjson(body)?,
    };
    if batch.total == 0 {
        return Err(ApiError::bad_request("the body holds no records"));
    }
    Ok(batch)
}

fn parse_json(body: &[u8]) -> Result<Batch, ApiError> {
    let parsed: JsonBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    let mut batch = Batch::default();
    match parsed {
        JsonBody::One(raw) => {
            batch.single = true;
            batch.push(0, None, raw.into_record());
        }
        JsonBody::Many(raws) => {
            for (index, raw) in raws.into_iter().enumerate() {
                batch.push(index, None, raw.into_record());
            }
        }
    }
    Ok(batch)
}

fn parse_ndjson(body: &[u8]) -> Result<Batch, ApiError> {
    let mut batch = Batch::default();
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_number = i as u64 + 1;
        let raw: RawRecord = serde_json::from_slice(line).map_err(|e| {
            ApiError::bad_request(format!("malformed JSON on line {line_number}: {e}"))
        })?;
        batch.push(batch.total, Some(line_number), raw.into_record());
    }
    Ok(batch)
}

/// A CSV row by its body line: a record, or why it is unusable.
type CsvRow = (u64, Result<Record, RecordFault>);

/// Bodies at least this large are parsed in chunks on every core: parsing and validating 41
/// fields per row is a quarter of a batch's work, and one thread would leave the other idle.
const PARALLEL_CSV_BYTES: usize = 64 * 1024;

fn parse_csv(body: &[u8]) -> Result<Batch, ApiError> {
    let parallel = (body.len() >= PARALLEL_CSV_BYTES)
        .then(|| csv_rows_in_chunks(body, rayon::current_num_threads()))
        .flatten();
    let mut rows = match parallel {
        Some(rows) => rows,
        None => csv_rows(body)?,
    };
    rows.sort_by_key(|(line, _)| *line);
    let mut batch = Batch::default();
    for (index, (line, record)) in rows.into_iter().enumerate() {
        batch.push(index, Some(line), record);
    }
    Ok(batch)
}

/// Every row of a CSV body, in no particular order.
fn csv_rows(body: &[u8]) -> Result<Vec<CsvRow>, ApiError> {
    let data = match read_from(body, "body", ReadOptions { skip_invalid: true }) {
        Ok(data) => data,
        Err(DataError::Empty { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(ApiError::bad_request(format!("malformed CSV: {e}"))),
    };
    let mut rows: Vec<CsvRow> = data
        .lines
        .into_iter()
        .zip(data.records)
        .map(|(line, record)| (line, Ok(record)))
        .collect();
    rows.extend(data.skipped.into_iter().map(|bad| {
        let fault = match bad.problem {
            RowProblem::Fields(errors) => RecordFault::Fields(errors),
            RowProblem::FieldCount { expected, found } => {
                RecordFault::Whole(format!("expected {expected} columns, found {found}"))
            }
            RowProblem::Syntax(message) => RecordFault::Whole(message),
        };
        (bad.line, Err(fault))
    }));
    Ok(rows)
}

/// [`csv_rows`] on `chunks` chunks of whole lines in parallel, or `None` when the body must be read in
/// one piece: quoted fields (a quote may hold a line break), or an error about the body as a
/// whole, which the one-piece read then reports exactly as for a file.
///
/// Each later chunk is read behind a copy of the body's first non-empty line, so the layout (a header's
/// column order, or a headerless file's width) is detected as for the whole body; the copy's
/// own row is dropped and line numbers are shifted back to the body's.
fn csv_rows_in_chunks(body: &[u8], chunks: usize) -> Option<Vec<CsvRow>> {
    if body.contains(&b'"') {
        return None;
    }
    // The first line the csv reader does not skip as empty: the header, or the first row.
    let mut line_start = 0;
    let (first_line, first_line_end) = loop {
        let end = line_start + body[line_start..].iter().position(|&b| b == b'\n')? + 1;
        let line = &body[line_start..end];
        if line.iter().any(|&b| b != b'\r' && b != b'\n') {
            break (line, end);
        }
        line_start = end;
    };
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
    let parts: Vec<Option<Vec<CsvRow>>> = bounds
        .par_windows(2)
        .map(|w| {
            let chunk = &body[w[0]..w[1]];
            if w[0] == 0 {
                return csv_rows(chunk).ok();
            }
            let first_body_line = body[..w[0]].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let rows = csv_rows(&[first_line, chunk].concat()).ok()?;
            Some(
                rows.into_iter()
                    .filter(|(line, _)| *line >= 2)
                    .map(|(line, row)| (first_body_line + line - 2, row))
                    .collect(),
            )
        })
        .collect();
    parts.into_iter().try_fold(Vec::new(), |mut all, part| {
        all.extend(part?);
        Some(all)
    })
}

/// The legacy body of the original Flask apps: `{"features": [41 values in file order]}`.
pub fn parse_legacy(body: &[u8]) -> Result<Result<Record, Vec<RecordError>>, ApiError> {
    #[derive(Deserialize)]
    struct Legacy {
        features: Vec<RawValue>,
    }
    let legacy: Legacy = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "malformed JSON: {e}; expected {{\"features\": [41 values in file order]}}"
        ))
    })?;
    if legacy.features.len() != FEATURES.len() {
        return Ok(Err(vec![RecordError {
            index: 0,
            line: None,
            field: Some("features"),
            value: Some(format!("{} values", legacy.features.len())),
            message: format!(
                "expected {} values in file order ({} … {})",
                FEATURES.len(),
                FEATURES[0].name,
                FEATURES[FEATURES.len() - 1].name
            ),
        }]));
    }
    Ok(Record::from_typed(|i| Some(legacy.features[i].typed()))
        .map_err(|errors| RecordFault::Fields(errors).into_errors(0, None)))
}

/// One value of a JSON record, before validation.
#[derive(Debug, Clone, PartialEq)]
enum RawValue {
    Number(f64),
    Text(String),
    Other(&'static str),
}

impl RawValue {
    fn typed(&self) -> TypedValue<'_> {
        match self {
            RawValue::Number(v) => TypedValue::Number(*v),
            RawValue::Text(t) => TypedValue::Text(t),
            RawValue::Other(name) => TypedValue::Other(name),
        }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawValueVisitor)
    }
}

struct RawValueVisitor;

impl<'de> Visitor<'de> for RawValueVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a feature value")
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v as f64))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Text(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<RawValue, E> {
        Ok(RawValue::Other("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Other("null"))
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawValue::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(RawValue::Other("an object"))
    }
}

/// One element of a JSON body: the feature values found under their names, or what else
/// the element was.
enum RawRecord {
    Fields {
        values: Box<[Option<RawValue>; 41]>,
        duplicates: Vec<(usize, String)>,
    },
    NotAnObject(&'static str),
}

impl RawRecord {
    fn into_record(self) -> Result<Record, RecordFault> {
        match self {
            RawRecord::NotAnObject(found) => Err(RecordFault::Whole(format!(
                "expected an object with the {} named features, found {found}",
                FEATURES.len()
            ))),
            RawRecord::Fields { values, duplicates } => {
                let record = Record::from_typed(|i| values[i].as_ref().map(RawValue::typed));
                let mut errors = match record {
                    Ok(record) if duplicates.is_empty() => return Ok(record),
                    Ok(_) => Vec::new(),
                    Err(errors) => errors,
                };
                errors.extend(duplicates.into_iter().map(|(i, key)| FieldError {
                    field: FEATURES[i].name,
                    value: key,
                    problem: nadir_data::Problem::Duplicate,
                }));
                Err(RecordFault::Fields(errors))
            }
        }
    }
}

/// The feature a JSON key names. Clients mostly send the fields in file order, so the
/// feature after the previous key (`next`) is tried first, then the schema's spelling
/// anywhere, then any spelling the CSV reader accepts (`src_bytes`, `SrcBytes`).
fn feature_of(key: &str, next: usize) -> Option<usize> {
    if FEATURES.get(next).is_some_and(|f| f.name == key) {
        return Some(next);
    }
    FEATURES
        .iter()
        .position(|f| f.name == key)
        .or_else(|| schema::feature_index(key))
}

impl<'de> Deserialize<'de> for RawRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawRecordVisitor)
    }
}

struct RawRecordVisitor;

impl<'de> Visitor<'de> for RawRecordVisitor {
    type Value = RawRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRecord, A::Error> {
        let mut values: Box<[Option<RawValue>; 41]> = Box::new(std::array::from_fn(|_| None));
        let mut duplicates = Vec::new();
        let mut next = 0;
        while let Some(key) = map.next_key::<Key>()? {
            match feature_of(&key.0, next) {
                Some(i) => {
                    next = i + 1;
                    let value = map.next_value::<RawValue>()?;
                    if values[i].is_some() {
                        duplicates.push((i, key.0.into_owned()));
                    } else {
                        values[i] = Some(value);
                    }
                }
                // attack, lastflag and the client's own fields are carried, never used.
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawRecord::Fields { values, duplicates })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRecord, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawRecord::NotAnObject("an array"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("a number"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("text"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("null"))
    }
    fn visit_none<E>(self) -> Result<RawRecord, E> {
        Ok(RawRecord::NotAnObject("null"))
    }
}

/// An object key, borrowed from the body when it holds no escapes.
struct Key<'a>(std::borrow::Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_string().into()))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The top level of a JSON body.
enum JsonBody {
    One(RawRecord),
    Many(Vec<RawRecord>),
}

impl<'de> Deserialize<'de> for JsonBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = JsonBody;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one record object or an array of record objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonBody, A::Error> {
                RawRecordVisitor.visit_map(map).map(JsonBody::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonBody, A::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(record) = seq.next_element::<RawRecord>()? {
                    records.push(record);
                }
                Ok(JsonBody::Many(records))
            }
        }
        deserializer.deserialize_any(BodyVisitor)
    }
}

/// `?on_error=`: what to do with bad records in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// 422 naming every bad record; nothing is scored.
    #[default]
    Reject,
    /// Score the valid records, list the bad ones in `errors`.
    Skip,
}

impl OnError {
    /// Reads `on_error` from a raw query string; other parameters are refused so that a
    /// typo (`on_eror=skip`) does not silently fall back to the default.
    pub fn from_query(query: Option<&str>) -> Result<OnError, ApiError> {
        let mut choice = OnError::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            choice = match (key, value) {
                ("on_error", "reject") => OnError::Reject,
                ("on_error", "skip") => OnError::Skip,
                ("on_error", other) => {
                    return Err(ApiError::bad_request(format!(
                        "on_error must be `reject` or `skip`, got `{other}`"
                    )));
                }
                (other, _) => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter `{other}`; the predict routes take on_error=reject|skip"
                    )));
                }
            };
        }
        Ok(choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00";

    fn object(row: &str) -> serde_json::Map<String, serde_json::Value> {
        FEATURES
            .iter()
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
        let ndjson = [json.clone(), b"\n\n".to_vec(), json].concat();
        let nd = parse(Format::Ndjson, &ndjson).unwrap();
        assert_eq!(csv.records.len(), 2);
        assert_eq!(nd.records, csv.records);
        assert_eq!(one.records[0], csv.records[0]);
        assert_eq!(nd.indices, [0, 1]);
    }

    #[test]
    fn bad_records_are_named_by_index_line_and_field() {
        let bad = ROW.replacen("491", "-1", 1).replacen("0.17", "1.7", 1);
        let body = format!("{ROW}\n{bad}\n{ROW},extra,cols,here\n{ROW}\n");
        let batch = parse(Format::Csv, body.as_bytes()).unwrap();
        assert_eq!(batch.total, 4);
        assert_eq!(batch.indices, [0, 3]);
        let got: Vec<_> = batch
            .errors
            .iter()
            .map(|e| (e.index, e.line, e.field))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some(2), Some("srcbytes")),
                (1, Some(2), Some("dsthostsamesrvrate")),
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
        let got: Vec<_> = batch.errors.iter().map(|e| (e.index, e.field)).collect();
        assert_eq!(
            got,
            [
                (1, Some("service")),
                (1, Some("flag")),
                (1, Some("srcbytes")),
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
    }

    #[test]
    fn on_error_is_read_strictly() {
        assert_eq!(OnError::from_query(None).unwrap(), OnError::Reject);
        assert_eq!(
            OnError::from_query(Some("on_error=skip")).unwrap(),
            OnError::Skip
        );
        assert!(OnError::from_query(Some("on_error=maybe")).is_err());
        assert!(OnError::from_query(Some("on_eror=skip")).is_err());
    }

    #[test]
    fn a_large_csv_body_reads_in_chunks_as_in_one_piece() {
        let header = FEATURES
            .iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(",");
        let bad = ROW.replacen("491", "-491", 1);
        let rows: Vec<String> = (0..900)
            .map(|i| match i % 97 {
                0 => bad.clone(),
                1 => "1,2,3".to_string(),
                2 => String::new(),
                _ => ROW.replacen("491", &i.to_string(), 1),
            })
            .collect();
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
        ] {
            assert!(body.len() >= PARALLEL_CSV_BYTES);
            let mut whole = csv_rows(body.as_bytes()).unwrap();
            whole.sort_by_key(|(line, _)| *line);
            for chunks in [2, 3, 7] {
                let mut chunked = csv_rows_in_chunks(body.as_bytes(), chunks).unwrap();
                chunked.sort_by_key(|(line, _)| *line);
                assert_eq!(chunked, whole, "{chunks} chunks");
            }
            assert!(whole.iter().filter(|(_, row)| row.is_err()).count() >= 18);
        }
        let quoted = format!("{header}\n\"{}\n", rows.join("\n"));
        assert!(csv_rows_in_chunks(quoted.as_bytes(), 2).is_none());
    }
}
