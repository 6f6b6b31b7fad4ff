//! Request bodies into records of the loaded models' schema, in the three forms users have
//! them: JSON (one object with the schema's named features, or an array of them), CSV (with
//! or without a header, exactly like the data files) and NDJSON. Every bad record is reported
//! by index, line and field; nothing is dropped silently.
//!
//! JSON records are read by a hand-written serde visitor straight into one slot per feature,
//! reused from record to record, rather than through `serde_json::Value`, which would
//! allocate a map per record; large arrays are read in pieces on every core. A 1,000-record
//! NSL-KDD array (800 KB) reads in about 1.5 ms on one core, CSV in 1.0 ms: parsing is a
//! third of a batch's time, the forest another.

use crate::error::{ApiError, RecordError};
use axum::http::{HeaderMap, StatusCode, header};
use nadir_data::record::TypedValue;
use nadir_data::schema::normalise_name;
use nadir_data::{DataError, FieldError, ReadOptions, Record, RowProblem, Schema, read_from};
use rayon::prelude::*;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A schema's features as the body parsers look them up: built once when a model set is
/// loaded, so that reading a record compares bytes and never builds a name.
#[derive(Debug)]
pub struct Fields {
    schema: Arc<Schema>,
    /// Every used feature's name, in [`Schema::features`] order.
    names: Vec<String>,
    /// The same names in their canonical spelling ([`normalise_name`]), for keys written in
    /// another (`src_bytes`, `SrcBytes`).
    normalised: Vec<String>,
}

impl Fields {
    pub fn new(schema: Arc<Schema>) -> Fields {
        let names: Vec<String> = schema.features().map(|f| f.name.clone()).collect();
        let normalised = names.iter().map(|n| normalise_name(n)).collect();
        Fields {
            schema,
            names,
            normalised,
        }
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// How many values a record holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of the feature at `i` of [`Schema::features`].
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// `41 values in file order (duration … dsthostsrvrerrorrate)`, for messages.
    pub fn in_file_order(&self) -> String {
        format!(
            "{} values in file order ({} … {})",
            self.len(),
            self.names[0],
            self.names[self.len() - 1]
        )
    }

    /// The feature a JSON key names. Clients mostly send the fields in file order, so the
    /// feature after the previous key (`next`) is tried first, then the schema's spelling
    /// anywhere, then any spelling the CSV reader accepts (`src_bytes`, `SrcBytes`), compared
    /// character by character without building the key's canonical form.
    fn position(&self, key: &[u8], next: usize) -> Option<usize> {
        if self.names.get(next).is_some_and(|n| n.as_bytes() == key) {
            return Some(next);
        }
        if let Some(i) = self.names.iter().position(|n| n.as_bytes() == key) {
            return Some(i);
        }
        let key = std::str::from_utf8(key).ok()?;
        let canonical = || {
            key.chars()
                .filter(|c| *c != '_' && !c.is_whitespace())
                .flat_map(char::to_lowercase)
        };
        self.normalised
            .iter()
            .position(|n| canonical().eq(n.chars()))
    }
}

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
                        |g| format!("`{}`", String::from_utf8_lossy(g))
                    ),
                    MEDIA_TYPES.join(", ")
                ),
            ))
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
    if body.len() >= PARALLEL_JSON_BYTES
        && let Some(batch) = json_array_in_pieces(body, rayon::current_num_threads(), fields)
    {
        return Ok(batch);
    }
    read_json(
        body,
        BodySeed::<JsonValue<'_>>::new(fields),
        BodySeed::<Exact<'_>>::new(fields),
    )
    .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

/// `text` read with `fast` (serde_json's own numbers) or, when that fails, with `exact`
/// (every value read from its text): serde_json refuses a number beyond the range of `f64`
/// (`1e400`) as malformed JSON, where it is one bad field of one record. The second read
/// costs a third more, and only bodies that are not plain JSON records pay it; its error is
/// the one reported for a body that is malformed indeed.
fn read_json<'de, T>(
    text: &'de [u8],
    fast: impl DeserializeSeed<'de, Value = T>,
    exact: impl DeserializeSeed<'de, Value = T>,
) -> Result<T, serde_json::Error> {
    from_slice_seed(text, fast).or_else(|_| from_slice_seed(text, exact))
}

/// `serde_json::from_slice` with a seed: the whole of `text` is one value.
fn from_slice_seed<'de, S: DeserializeSeed<'de>>(
    text: &'de [u8],
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = seed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// JSON arrays at least this large are parsed in pieces on every core, as CSV bodies are:
/// one thread reads a 1,000-record array in well over a millisecond.
pub(crate) const PARALLEL_JSON_BYTES: usize = 64 * 1024;

/// [`parse_json`] on `pieces` pieces of the array in parallel, or `None` when the body must
/// be read in one piece (it is not an array cut at the guessed places, or something is
/// wrong with it, which the one-piece read then reports).
///
/// A piece ends at a `}` followed by `,` and a `{` (blanks allowed between): each piece is
/// read as an array of its own (`[`, the piece, `]`). A cut that is not between two records
/// of the outer array (a `},{` inside a string, or between objects nested in a record)
/// leaves a piece that is not a whole array, so every piece reading as an array proves every
/// cut was between records, and the records are those of the whole body.
fn json_array_in_pieces(body: &[u8], pieces: usize, fields: &Fields) -> Option<Batch> {
    let mut cuts = vec![(0, 0)];
    for k in 1..pieces {
        let nominal = (body.len() * k / pieces).max(cuts.last().expect("starts with 0").1);
        if let Some(cut) = record_boundary(body, nominal) {
            cuts.push(cut);
        }
    }
    if cuts.len() == 1 {
        return None;
    }
    cuts.push((body.len(), body.len()));
    let parts: Vec<Option<Batch>> = (0..cuts.len() - 1)
        .into_par_iter()
        .map(|k| {
            let (start, end) = (cuts[k].1, cuts[k + 1].0);
            let opening: &[u8] = if k == 0 { b"" } else { b"[" };
            let closing: &[u8] = if k == cuts.len() - 2 { b"" } else { b"]" };
            let piece = [opening, &body[start..end], closing].concat();
            match from_slice_seed(&piece, BodySeed::<JsonValue<'_>>::new(fields)) {
                Ok(batch) if !batch.single => Some(batch),
                _ => None,
            }
        })
        .collect();
    let mut parts = parts.into_iter();
    let mut batch = parts.next()??;
    for part in parts {
        let part = part?;
        let offset = batch.total;
        batch.records.extend(part.records);
        batch
            .indices
            .extend(part.indices.into_iter().map(|i| i + offset));
        batch.errors.extend(part.errors.into_iter().map(|mut e| {
            e.index += offset;
            e
        }));
        batch.total += part.total;
    }
    Some(batch)
}

/// The first `}` at or after `from` that is followed by `,` then `{` (blanks allowed
/// between): where it ends and where the next `{` starts.
fn record_boundary(body: &[u8], from: usize) -> Option<(usize, usize)> {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut at = from;
    loop {
        let close = at + body.get(at..)?.iter().position(|&b| b == b'}')?;
        let after = &body[close + 1..];
        let comma = after.iter().position(|b| !blank(b));
        if let Some(comma) = comma.filter(|&c| after[c] == b',') {
            let rest = &after[comma + 1..];
            if let Some(open) = rest.iter().position(|b| !blank(b))
                && rest[open] == b'{'
            {
                return Some((close + 1, close + 1 + comma + 1 + open));
            }
        }
        at = close + 1;
    }
}

fn parse_ndjson(body: &[u8], fields: &Fields) -> Result<Batch, ApiError> {
    let mut batch = Batch::default();
    // One set of slots for the whole body, as for a JSON array.
    let mut slots = Slots::new(fields);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_number = i as u64 + 1;
        // As `read_json`, with the slots lent to one read after the other.
        let record = from_slice_seed(line, LineSeed::<JsonValue<'_>>::new(&mut slots))
            .or_else(|_| from_slice_seed(line, LineSeed::<Exact<'_>>::new(&mut slots)))
            .map_err(|e| {
                ApiError::bad_request(format!("malformed JSON on line {line_number}: {e}"))
            })?;
        batch.push(batch.total, Some(line_number), record);
    }
    Ok(batch)
}

/// A CSV row by its body line: a record, or why it is unusable.
type CsvRow = (u64, Result<Record, RecordFault>);

/// Bodies at least this large are parsed in chunks on every core: parsing and validating
/// every field of a row is a quarter of a batch's work, and one thread would leave the other idle.
pub(crate) const PARALLEL_CSV_BYTES: usize = 64 * 1024;

fn parse_csv(body: &[u8], fields: &Fields) -> Result<Batch, ApiError> {
    let schema = fields.schema();
    let parallel = (body.len() >= PARALLEL_CSV_BYTES)
        .then(|| csv_rows_in_chunks(body, rayon::current_num_threads(), schema))
        .flatten();
    let mut rows = match parallel {
        Some(rows) => rows,
        None => csv_rows(body, schema)?,
    };
    rows.sort_by_key(|(line, _)| *line);
    let mut batch = Batch::default();
    for (index, (line, record)) in rows.into_iter().enumerate() {
        batch.push(index, Some(line), record);
    }
    Ok(batch)
}

/// Every row of a CSV body of `schema`, in no particular order.
fn csv_rows(body: &[u8], schema: &Arc<Schema>) -> Result<Vec<CsvRow>, ApiError> {
    let options = ReadOptions {
        skip_invalid: true,
        ..ReadOptions::with_schema(schema.clone())
    };
    let data = match read_from(body, "body", options) {
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
fn csv_rows_in_chunks(body: &[u8], chunks: usize, schema: &Arc<Schema>) -> Option<Vec<CsvRow>> {
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
                return csv_rows(chunk, schema).ok();
            }
            let first_body_line = body[..w[0]].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let rows = csv_rows(&[first_line, chunk].concat(), schema).ok()?;
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

/// The legacy body of the original Flask apps: `{"features": [every feature's value in file
/// order]}` (41 for NSL-KDD, the apps' schema).
pub fn parse_legacy(
    body: &[u8],
    fields: &Fields,
) -> Result<Result<Record, Vec<RecordError>>, ApiError> {
    #[derive(Deserialize)]
    struct Legacy<V> {
        features: Vec<V>,
    }
    impl<'a> From<Legacy<Exact<'a>>> for Legacy<JsonValue<'a>> {
        fn from(exact: Legacy<Exact<'a>>) -> Self {
            Legacy {
                features: exact.features.into_iter().map(|v| v.0).collect(),
            }
        }
    }
    let legacy: Legacy<JsonValue<'_>> = serde_json::from_slice(body)
        .or_else(|_| serde_json::from_slice::<Legacy<Exact<'_>>>(body).map(Legacy::from))
        .map_err(|e| {
            ApiError::bad_request(format!(
                "malformed JSON: {e}; expected {{\"features\": [{}]}}",
                fields.in_file_order()
            ))
        })?;
    if legacy.features.len() != fields.len() {
        return Ok(Err(vec![RecordError {
            index: 0,
            line: None,
            field: Some("features".to_string()),
            value: Some(format!("{} values", legacy.features.len())),
            message: format!("expected {}", fields.in_file_order()),
        }]));
    }
    Ok(
        Record::from_typed(fields.schema(), |i| Some(legacy.features[i].typed()))
            .map_err(|errors| RecordFault::Fields(errors).into_errors(0, None)),
    )
}

/// One value of a JSON record, read but not yet validated.
#[derive(Debug, Clone, PartialEq)]
enum JsonValue<'a> {
    Number(f64),
    /// A number beyond the range of `f64`, as written; only [`Exact`] reads these.
    OutOfRange(&'a str),
    /// Borrowed from the body unless it holds escapes.
    Text(Cow<'a, str>),
    Other(&'static str),
}

impl JsonValue<'_> {
    fn typed(&self) -> TypedValue<'_> {
        match self {
            JsonValue::Number(v) => TypedValue::Number(*v),
            JsonValue::OutOfRange(text) => TypedValue::OutOfRange(text),
            JsonValue::Text(text) => TypedValue::Text(text),
            JsonValue::Other(name) => TypedValue::Other(name),
        }
    }
}

impl<'de> Deserialize<'de> for JsonValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonValueVisitor)
    }
}

struct JsonValueVisitor;

impl<'de> Visitor<'de> for JsonValueVisitor {
    type Value = JsonValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a feature value")
    }
    fn visit_f64<E>(self, v: f64) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Number(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Number(v as f64))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Text(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Other("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Other("null"))
    }
    fn visit_none<E>(self) -> Result<JsonValue<'de>, E> {
        Ok(JsonValue::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonValue::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(JsonValue::Other("an object"))
    }
}

/// A value read from its text (which serde_json has checked is one well-formed JSON value)
/// rather than by serde_json, so that a number beyond the range of `f64` is kept as written.
struct Exact<'a>(JsonValue<'a>);

impl<'a> From<Exact<'a>> for JsonValue<'a> {
    fn from(exact: Exact<'a>) -> Self {
        exact.0
    }
}

impl<'de> Deserialize<'de> for Exact<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <&'de RawValue>::deserialize(deserializer)?.get();
        Ok(Exact(match text.as_bytes()[0] {
            b'"' if !text.contains('\\') => {
                JsonValue::Text(Cow::Borrowed(&text[1..text.len() - 1]))
            }
            b'"' => match serde_json::from_str::<String>(text) {
                Ok(unescaped) => JsonValue::Text(Cow::Owned(unescaped)),
                Err(_) => JsonValue::Other("text that is not valid Unicode"),
            },
            b'n' => JsonValue::Other("null"),
            b't' | b'f' => JsonValue::Other("a boolean"),
            b'[' => JsonValue::Other("an array"),
            b'{' => JsonValue::Other("an object"),
            _ => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => JsonValue::Number(v),
                _ => JsonValue::OutOfRange(text),
            },
        }))
    }
}

/// One slot per feature of the schema for the record being read, kept from record to record
/// of a body so that reading one allocates and moves nothing but its own values.
struct Slots<'f, 'a> {
    fields: &'f Fields,
    values: Vec<Option<JsonValue<'a>>>,
    /// The keys naming a feature already given, with the feature's position.
    duplicates: Vec<(usize, String)>,
}

impl<'f, 'a> Slots<'f, 'a> {
    fn new(fields: &'f Fields) -> Self {
        Slots {
            fields,
            values: vec![None; fields.len()],
            duplicates: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.values.fill(None);
        self.duplicates.clear();
    }

    /// The record read, or why it is unusable.
    fn record(&mut self, shape: Shape) -> Result<Record, RecordFault> {
        if let Shape::NotAnObject(found) = shape {
            return Err(RecordFault::Whole(format!(
                "expected an object with the {} named features, found {found}",
                self.fields.len()
            )));
        }
        let values = &self.values;
        let record = Record::from_typed(self.fields.schema(), |i| {
            values[i].as_ref().map(JsonValue::typed)
        });
        let mut errors = match record {
            Ok(record) if self.duplicates.is_empty() => return Ok(record),
            Ok(_) => Vec::new(),
            Err(errors) => errors,
        };
        let fields = self.fields;
        errors.extend(self.duplicates.drain(..).map(|(i, key)| FieldError {
            field: fields.name(i).to_string(),
            value: key,
            problem: nadir_data::Problem::Duplicate,
        }));
        Err(RecordFault::Fields(errors))
    }
}

/// Reads one JSON value that should be a record object into `slots` (the keys naming a
/// feature already given into its duplicates); answers what the value was.
struct RecordSeed<'s, 'f, 'a, V> {
    slots: &'s mut Slots<'f, 'a>,
    values: PhantomData<V>,
}

impl<'s, 'f, 'a, V> RecordSeed<'s, 'f, 'a, V> {
    fn new(slots: &'s mut Slots<'f, 'a>) -> Self {
        slots.clear();
        RecordSeed {
            slots,
            values: PhantomData,
        }
    }
}

/// What a record's JSON value was: an object (its features in the slots), or something else.
enum Shape {
    Object,
    NotAnObject(&'static str),
}

impl<'de, V> DeserializeSeed<'de> for RecordSeed<'_, '_, 'de, V>
where
    V: Deserialize<'de> + Into<JsonValue<'de>>,
{
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, V> Visitor<'de> for RecordSeed<'_, '_, 'de, V>
where
    V: Deserialize<'de> + Into<JsonValue<'de>>,
{
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut next = 0;
        while let Some(key) = map.next_key::<Key>()? {
            match self.slots.fields.position(&key.0, next) {
                Some(i) => {
                    next = i + 1;
                    let value = map.next_value::<V>()?.into();
                    if self.slots.values[i].is_some() {
                        let key = String::from_utf8_lossy(&key.0).into_owned();
                        self.slots.duplicates.push((i, key));
                    } else {
                        self.slots.values[i] = Some(value);
                    }
                }
                // The label, the schema's other columns and the client's own fields are
                // carried, never used.
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Shape::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::NotAnObject("an array"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("a number"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("text"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("null"))
    }
    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Shape::NotAnObject("null"))
    }
}

/// An object key, borrowed from the body when it holds no escapes. Read as bytes: serde_json
/// then skips checking that it is UTF-8, which the comparisons with the schema's names do
/// not need (a key that is not UTF-8 names no feature).
struct Key<'a>(Cow<'a, [u8]>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Key<'de>, E> {
                Ok(Key(v.to_vec().into()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.as_bytes().into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.as_bytes().to_vec().into()))
            }
        }
        deserializer.deserialize_bytes(KeyVisitor)
    }
}

/// Reads a whole JSON body, one object or an array of them, into a [`Batch`] record by
/// record as the parser goes, its values read as `V`.
struct BodySeed<'f, V> {
    fields: &'f Fields,
    values: PhantomData<V>,
}

impl<'f, V> BodySeed<'f, V> {
    fn new(fields: &'f Fields) -> Self {
        BodySeed {
            fields,
            values: PhantomData,
        }
    }
}

impl<'de, V> DeserializeSeed<'de> for BodySeed<'_, V>
where
    V: Deserialize<'de> + Into<JsonValue<'de>>,
{
    type Value = Batch;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Batch, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, V> Visitor<'de> for BodySeed<'_, V>
where
    V: Deserialize<'de> + Into<JsonValue<'de>>,
{
    type Value = Batch;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("one record object or an array of record objects")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Batch, A::Error> {
        let mut slots = Slots::new(self.fields);
        let shape = RecordSeed::<V>::new(&mut slots).visit_map(map)?;
        let mut batch = Batch {
            single: true,
            ..Batch::default()
        };
        batch.push(0, None, slots.record(shape));
        Ok(batch)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch, A::Error> {
        // One set of slots for the whole array.
        let mut slots = Slots::new(self.fields);
        let mut batch = Batch::default();
        while let Some(shape) = seq.next_element_seed(RecordSeed::<V>::new(&mut slots))? {
            batch.push(batch.total, None, slots.record(shape));
        }
        Ok(batch)
    }
}

/// Reads one line of an NDJSON body: a record, or why it is unusable, its values read as `V`.
struct LineSeed<'s, 'f, 'a, V> {
    slots: &'s mut Slots<'f, 'a>,
    values: PhantomData<V>,
}

impl<'s, 'f, 'a, V> LineSeed<'s, 'f, 'a, V> {
    fn new(slots: &'s mut Slots<'f, 'a>) -> Self {
        LineSeed {
            slots,
            values: PhantomData,
        }
    }
}

impl<'de, V> DeserializeSeed<'de> for LineSeed<'_, '_, 'de, V>
where
    V: Deserialize<'de> + Into<JsonValue<'de>>,
{
    type Value = Result<Record, RecordFault>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let shape = RecordSeed::<V>::new(&mut *self.slots).deserialize(deserializer)?;
        Ok(self.slots.record(shape))
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
    use std::sync::LazyLock;

    fn fields() -> &'static Fields {
        static FIELDS: LazyLock<Fields> = LazyLock::new(|| Fields::new(Schema::nsl_kdd()));
        &FIELDS
    }

    /// [`super::parse`] with NSL-KDD's features.
    fn parse(format: Format, body: &[u8]) -> Result<Batch, ApiError> {
        super::parse(format, body, fields())
    }

    fn read_whole(body: &[u8]) -> Result<Batch, serde_json::Error> {
        from_slice_seed(body, BodySeed::<JsonValue<'_>>::new(fields()))
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
            .errors
            .iter()
            .map(|e| (e.index, e.line, e.field.as_deref()))
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
        let got: Vec<_> = batch
            .errors
            .iter()
            .map(|e| (e.index, e.field.as_deref()))
            .collect();
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
        let got: Vec<_> = batch
            .errors
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
        assert!(batch.errors[0].message.contains("infinity"));
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
        let errors = parse_legacy(legacy.as_bytes(), fields())
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (errors[0].field.as_deref(), errors[0].value.as_deref()),
            (Some("srcbytes"), Some("-1e400"))
        );
    }

    #[test]
    fn a_large_json_array_reads_in_pieces_as_in_one_piece() {
        let good = serde_json::to_string(&object(ROW)).unwrap();
        let bad = good.replacen("491.0", "-4", 1);
        let mut extra = object(ROW);
        extra.insert("note".into(), serde_json::json!({"a": [1, "]"]}));
        let escaped = serde_json::to_string(&extra)
            .unwrap()
            .replace(r#""ftp_data""#, r#""ftp\u005fdata""#);
        assert!(escaped.contains(r"\u005f"));
        // Cuts that look like record boundaries but are not: inside a string, between
        // objects nested in a record.
        let mut in_string = object(ROW);
        in_string.insert("note".into(), serde_json::json!("a},{\"b\": 1}, {c"));
        let in_string = serde_json::to_string(&in_string).unwrap();
        let mut nested = object(ROW);
        nested.insert("note".into(), serde_json::json!([{"a": 1}, {"b": 2}]));
        let nested = serde_json::to_string(&nested).unwrap();
        let body_of = |tricky: &str, separator: &str| {
            let records: Vec<&str> = (0..600)
                .map(|i| match i % 50 {
                    0 => bad.as_str(),
                    1 => "17",
                    _ if i % 3 == 0 => tricky,
                    _ => good.as_str(),
                })
                .collect();
            format!("[\n{}\n]\n", records.join(separator))
        };
        for separator in [",", " ,\n  ", ",\r\n"] {
            let body = body_of(&escaped, separator);
            assert!(body.len() >= PARALLEL_JSON_BYTES);
            let whole = read_whole(body.as_bytes()).unwrap();
            assert_eq!((whole.total, whole.errors.len()), (600, 24));
            assert_eq!(whole.records[1].categorical[1], "ftp_data");
            for pieces in [2, 3, 7] {
                let chunked = json_array_in_pieces(body.as_bytes(), pieces, fields()).unwrap();
                assert_eq!(chunked.records, whole.records, "{pieces} pieces");
                assert_eq!(chunked.indices, whole.indices);
                assert_eq!(chunked.errors, whole.errors);
                assert_eq!(chunked.total, whole.total);
                assert!(!chunked.single);
            }
        }
        // A cut in the wrong place leaves a piece that is not an array: read in one piece.
        for tricky in [&in_string, &nested] {
            let body = body_of(tricky, ",");
            let wrong = body.find("a},").or_else(|| body.find("1},")).unwrap();
            let (end, _) = record_boundary(body.as_bytes(), wrong).unwrap();
            assert_eq!(end, wrong + 2);
            let piece = [&body.as_bytes()[..end], b"]"].concat();
            assert!(read_whole(&piece).is_err());
            let whole = parse(Format::Json, body.as_bytes()).unwrap();
            assert_eq!((whole.total, whole.indices.len()), (600, 576));
            for pieces in [2, 3, 7] {
                if let Some(chunked) = json_array_in_pieces(body.as_bytes(), pieces, fields()) {
                    assert_eq!(chunked.records, whole.records, "{pieces} pieces");
                    assert_eq!(chunked.errors, whole.errors);
                }
            }
        }
        let one_object = format!("{{\"a\": [{}]}}", vec!["{\"b\": 1}"; 10_000].join(","));
        assert!(json_array_in_pieces(one_object.as_bytes(), 2, fields()).is_none());
        let malformed = format!("[{}, oops]", vec![good.as_str(); 200].join(","));
        assert!(json_array_in_pieces(malformed.as_bytes(), 2, fields()).is_none());
        let error = parse(Format::Json, malformed.as_bytes()).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn keys_name_features_in_any_spelling_the_schema_accepts() {
        let schema = Schema::nsl_kdd();
        for key in [
            "srcbytes",
            "src_bytes",
            "SrcBytes",
            "Src Bytes",
            "dst_host_srv_rerror_rate",
            "PROTOCOL_TYPE",
            "attack",
            "lastflag",
            "src-bytes",
            "",
            "ſrcbytes",
        ] {
            for next in [0, 4, 41] {
                assert_eq!(
                    fields().position(key.as_bytes(), next),
                    schema.feature_index(key),
                    "{key} after {next}"
                );
            }
        }
        assert_eq!(fields().position(b"\xffsrcbytes", 0), None);
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
        let schema = Schema::nsl_kdd();
        let header = schema
            .features()
            .map(|f| f.name.as_str())
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
            let mut whole = csv_rows(body.as_bytes(), &schema).unwrap();
            whole.sort_by_key(|(line, _)| *line);
            for chunks in [2, 3, 7] {
                let mut chunked = csv_rows_in_chunks(body.as_bytes(), chunks, &schema).unwrap();
                chunked.sort_by_key(|(line, _)| *line);
                assert_eq!(chunked, whole, "{chunks} chunks");
            }
            assert!(whole.iter().filter(|(_, row)| row.is_err()).count() >= 18);
        }
        let quoted = format!("{header}\n\"{}\n", rows.join("\n"));
        assert!(csv_rows_in_chunks(quoted.as_bytes(), 2, &schema).is_none());
    }
}
