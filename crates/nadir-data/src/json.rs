//! Reading JSON records: one object naming a schema's features, an array of them, or NDJSON
//! (one object per line). The HTTP server reads request bodies with it, the `nadir` command
//! `.json`, `.ndjson` and `.jsonl` files and JSON on standard input. Every bad record is
//! counted, and the first ones listed by index, line and field ([`Rejects`]); nothing is
//! dropped silently.
//!
//! Records are read by a hand-written serde visitor straight into one slot per feature,
//! reused from record to record, rather than through `serde_json::Value`, which would
//! allocate a map per record; large arrays are read in pieces on every core. A 1,000-record
//! NSL-KDD array (800 KB) reads in about 1.5 ms on one core.
//!
//! - [`read_json_records`], [`read_ndjson_records`], [`read_legacy_record`]: bytes → a
//!   [`Batch`] of records and [`RecordError`](crate::rejects::RecordError)s, for a
//!   [`Fields`] built once per schema.
//! - [`read_json_dataset`]: bytes → a [`Dataset`] as [`crate::read_from`] reads CSV (schema
//!   detection, labels, `skip_invalid`, lines, sha256); [`DataFormat`] picks the format from
//!   a file name or sniffs it from the bytes.

use crate::reader::{self, BadLabel, DataError, Dataset, InvalidRow, ReadOptions, RowProblem};
use crate::record::{BadFields, Problem, Record, TypedValue, shown};
use crate::rejects::Rejects;
use crate::schema::{Schema, is_named, normalise_name};
use rayon::prelude::*;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
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
    /// With [`Fields::with_labels`]: the label column, then the 0/1 column if the schema has
    /// one, each as the schema spells it and canonical. Their slots follow the features'.
    labels: Vec<(String, String)>,
}

impl Fields {
    pub fn new(schema: Arc<Schema>) -> Fields {
        let names: Vec<String> = schema.features().map(|f| f.name.clone()).collect();
        let normalised = names.iter().map(|n| normalise_name(n)).collect();
        Fields {
            schema,
            names,
            normalised,
            labels: Vec::new(),
        }
    }

    /// [`Fields::new`] that also reads the label column (and the 0/1 column, where the schema
    /// has one) into [`Batch::attacks`], as [`crate::read_from`] reads them from CSV.
    pub fn with_labels(schema: Arc<Schema>) -> Fields {
        let label = schema.label();
        let labels = std::iter::once(&label.column)
            .chain(&label.binary)
            .map(|name| (name.clone(), normalise_name(name)))
            .collect();
        Fields {
            labels,
            ..Fields::new(schema)
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

    /// The name of the feature at `i` of [`Schema::features`]; beyond them, of the label
    /// columns read ([`Fields::with_labels`]).
    pub fn name(&self, i: usize) -> &str {
        match self.names.get(i) {
            Some(name) => name,
            None => &self.labels[i - self.names.len()].0,
        }
    }

    /// Whether the label columns are read ([`Fields::with_labels`]).
    pub fn reads_labels(&self) -> bool {
        !self.labels.is_empty()
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
        self.normalised.iter().position(|n| is_named(key, n))
    }

    /// The slot of a label column a key names (after the features'), with
    /// [`Fields::with_labels`]; tried only for keys that name no feature.
    fn label_position(&self, key: &[u8]) -> Option<usize> {
        if self.labels.is_empty() {
            return None;
        }
        let at = match self.labels.iter().position(|(n, _)| n.as_bytes() == key) {
            Some(at) => at,
            None => {
                let key = std::str::from_utf8(key).ok()?;
                self.labels.iter().position(|(_, n)| is_named(key, n))?
            }
        };
        Some(self.names.len() + at)
    }

    /// Slots a record needs: the features, then the label columns read.
    fn slots(&self) -> usize {
        self.names.len() + self.labels.len()
    }
}

/// Records read from a body or file: the valid ones with their indices, and the bad ones
/// within bounds ([`Rejects`]: the first listed whole, every one counted).
#[derive(Debug, Default)]
pub struct Batch {
    /// The text was one JSON object (not an array, not NDJSON).
    pub single: bool,
    pub records: Vec<Record>,
    /// The 0-based index in the text of each of [`Batch::records`].
    pub indices: Vec<usize>,
    /// With [`Fields::with_labels`], the attack name of each of [`Batch::records`] (the
    /// schema's normal value for benign ones), `None` where the record carries no label
    /// column; empty otherwise.
    pub attacks: Vec<Option<String>>,
    pub rejects: Rejects,
    /// Records in the text, valid or not.
    pub total: usize,
}

impl Batch {
    /// Adds the record just read into `slots` (its JSON value's `shape`), on `line` where
    /// known: valid, or its problems to [`Batch::rejects`].
    fn add(&mut self, slots: &mut Slots<'_, '_>, shape: Shape, line: Option<u64>) {
        let index = self.total;
        self.total += 1;
        if let Some((record, attack)) = slots.record(shape, &mut self.rejects, index, line) {
            self.records.push(record);
            self.indices.push(index);
            // `Some` exactly when the fields read labels.
            if let Some(attack) = attack {
                self.attacks.push(attack);
            }
        }
    }

    /// Appends `part`, the records that follow this batch's in the same text, read on their
    /// own: its indices counted on from this batch's, its lines moved by `line`.
    pub fn append(&mut self, part: Batch, line: impl Fn(u64) -> u64) {
        let offset = self.total;
        let mut rejects = part.rejects;
        rejects.relocate(|index, at| (index + offset, at.map(&line)));
        self.rejects.merge(rejects);
        self.records.extend(part.records);
        self.indices
            .extend(part.indices.into_iter().map(|i| i + offset));
        self.attacks.extend(part.attacks);
        self.total += part.total;
    }
}

/// Reads JSON text holding one record object or an array of them into records of `fields`'
/// schema; `Err` only when the text as a whole is malformed. The text must be UTF-8 (field
/// names are compared as bytes: a name that is not UTF-8 would pass as an unknown field);
/// arrays of [`PARALLEL_JSON_BYTES`] or more are read in pieces on every core.
pub fn read_json_records(text: &[u8], fields: &Fields) -> Result<Batch, serde_json::Error> {
    if text.len() >= PARALLEL_JSON_BYTES
        && let Some(batch) = json_array_in_pieces(text, rayon::current_num_threads(), fields)
    {
        return Ok(batch);
    }
    read_json(
        text,
        BodySeed::<JsonValue<'_>>::new(fields),
        BodySeed::<Exact<'_>>::new(fields),
    )
}

/// An NDJSON line that is not one JSON value: the text cannot be read.
#[derive(Debug)]
pub struct LineError {
    /// 1-based.
    pub line: u64,
    pub error: serde_json::Error,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed JSON on line {}: {}", self.line, self.error)
    }
}

impl std::error::Error for LineError {}

/// Reads NDJSON, one record object per line (blank lines skipped), into records of `fields`'
/// schema, each error with its line; `Err` at the first line that is not JSON. UTF-8, as
/// [`read_json_records`].
pub fn read_ndjson_records(text: &[u8], fields: &Fields) -> Result<Batch, LineError> {
    let mut batch = Batch::default();
    // One set of slots for the whole text, as for a JSON array.
    let mut slots = Slots::new(fields);
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_number = i as u64 + 1;
        // As `read_json`, with the slots lent to one read after the other.
        let shape = from_slice_seed(line, RecordSeed::<JsonValue<'_>>::new(&mut slots))
            .or_else(|_| from_slice_seed(line, RecordSeed::<Exact<'_>>::new(&mut slots)))
            .map_err(|error| LineError {
                line: line_number,
                error,
            })?;
        batch.add(&mut slots, shape, Some(line_number));
    }
    Ok(batch)
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
pub const PARALLEL_JSON_BYTES: usize = 64 * 1024;

/// [`read_json_records`] on `pieces` pieces of the array in parallel, or `None` when the body must
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
        batch.append(part?, |line| line);
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

/// The legacy body of the original Flask apps: `{"features": [every feature's value in file
/// order]}` (41 for NSL-KDD, the apps' schema).
/// `Err` when the text is not such an object; the inner `Err` holds the record's problems.
pub fn read_legacy_record(
    body: &[u8],
    fields: &Fields,
) -> Result<Result<Record, Rejects>, serde_json::Error> {
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
        .or_else(|_| serde_json::from_slice::<Legacy<Exact<'_>>>(body).map(Legacy::from))?;
    let mut rejects = Rejects::default();
    let record = {
        let mut check = rejects.check(0, None);
        if legacy.features.len() == fields.len() {
            Record::from_typed(
                fields.schema(),
                |i| Some(legacy.features[i].typed()),
                &mut check,
            )
        } else {
            let expected = fields.in_file_order();
            let given = legacy.features.len();
            check.bad("features", Problem::WrongLength { expected }, || {
                format!("{given} values")
            });
            None
        }
    };
    Ok(record.ok_or(rejects))
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
    /// Per slot given more than once, its position and the first key that named it again
    /// (as errors show it).
    duplicates: Vec<(usize, String)>,
}

impl<'f, 'a> Slots<'f, 'a> {
    fn new(fields: &'f Fields) -> Self {
        Slots {
            fields,
            values: vec![None; fields.slots()],
            duplicates: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.values.fill(None);
        self.duplicates.clear();
    }

    /// Keeps `value` in slot `i`, or, when the slot already holds one, notes `key` as naming
    /// it again: once per slot, so that a record naming a feature a million times is one
    /// problem, not a million.
    fn put(&mut self, i: usize, key: &[u8], value: JsonValue<'a>) {
        if self.values[i].is_none() {
            self.values[i] = Some(value);
        } else if !self.duplicates.iter().any(|(j, _)| *j == i) {
            let key = shown(&String::from_utf8_lossy(key));
            self.duplicates.push((i, key));
        }
    }

    /// The record read (with its label, when the fields read labels: `Some`, holding `None`
    /// when the record carries no label column), or `None` when it is unusable: its
    /// problems then go to `rejects` at `index` and `line`.
    fn record(
        &mut self,
        shape: Shape,
        rejects: &mut Rejects,
        index: usize,
        line: Option<u64>,
    ) -> Option<(Record, Option<Option<String>>)> {
        if let Shape::NotAnObject(found) = shape {
            let features = self.fields.len();
            rejects.reject(index, line, RowProblem::NotAnObject { found, features });
            return None;
        }
        let mut check = rejects.check(index, line);
        let attack = match self.fields.reads_labels().then(|| self.label(&mut check)) {
            None => Some(None),
            Some(Ok(attack)) => Some(Some(attack)),
            Some(Err(BadLabel)) => None,
        };
        let values = &self.values;
        let record = Record::from_typed(
            self.fields.schema(),
            |i| values[i].as_ref().map(JsonValue::typed),
            &mut check,
        );
        for (i, key) in self.duplicates.drain(..) {
            check.bad(self.fields.name(i), Problem::Duplicate, || key);
        }
        match (record, attack) {
            (Some(record), Some(attack)) if !check.rejected() => Some((record, attack)),
            _ => None,
        }
    }

    /// The record's attack name from its label columns, by [`crate::reader`]'s rule for CSV;
    /// `None` when it carries neither. A bad label is reported to `bad`.
    fn label(&self, bad: &mut impl BadFields) -> Result<Option<String>, BadLabel> {
        let features = self.fields.len();
        let label = self.fields.schema().label();
        let typed = |i: usize| {
            self.values
                .get(i)
                .and_then(Option::as_ref)
                .map(JsonValue::typed)
        };
        let mut wrong = |column: &str, value: TypedValue<'_>, expected| {
            let found = value.type_name();
            bad.bad(column, Problem::WrongType { expected, found }, || {
                value.shown()
            });
            Err(BadLabel)
        };
        let attack = match typed(features) {
            None => None,
            Some(TypedValue::Text(text)) => Some(text),
            Some(TypedValue::Other("null")) => Some(""),
            Some(other) => return wrong(&label.column, other, "a text value"),
        };
        let number;
        let binary = match (typed(features + 1), &label.binary) {
            (None, _) | (_, None) => None,
            (Some(TypedValue::Number(v)), _) => {
                number = v.to_string();
                Some(number.as_str())
            }
            (Some(TypedValue::Text(text) | TypedValue::OutOfRange(text)), _) => Some(text),
            (Some(TypedValue::Other("null")), _) => Some(""),
            (Some(other), Some(column)) => return wrong(column, other, "0 or 1"),
        };
        reader::read_label(self.fields.schema(), attack, binary, bad)
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
                    self.slots.put(i, &key.0, value);
                }
                None => match self.slots.fields.label_position(&key.0) {
                    Some(i) => {
                        let value = map.next_value::<V>()?.into();
                        self.slots.put(i, &key.0, value);
                    }
                    // The label (unless the fields read it), the schema's other columns and
                    // the client's own fields are carried, never used.
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
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
        batch.add(&mut slots, shape, None);
        Ok(batch)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch, A::Error> {
        // One set of slots for the whole array.
        let mut slots = Slots::new(self.fields);
        let mut batch = Batch::default();
        while let Some(shape) = seq.next_element_seed(RecordSeed::<V>::new(&mut slots))? {
            batch.add(&mut slots, shape, None);
        }
        Ok(batch)
    }
}

/// The formats a data file comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// With a header, or headerless ([`crate::read_from`]).
    Csv,
    /// One record object, or an array of them.
    Json,
    /// One record object per line.
    Ndjson,
}

impl DataFormat {
    /// By a file's extension: `.json` is JSON, `.ndjson` and `.jsonl` NDJSON (any case),
    /// anything else CSV.
    pub fn from_path(path: &Path) -> DataFormat {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("json") => DataFormat::Json,
            Some("ndjson" | "jsonl") => DataFormat::Ndjson,
            _ => DataFormat::Csv,
        }
    }

    /// By the first byte that is not blank (after a byte-order mark): `[` is JSON; `{` is
    /// NDJSON when its line holds one whole JSON value and more lines that are not blank
    /// follow, else JSON (one object, perhaps over several lines); anything else CSV.
    pub fn sniff(bytes: &[u8]) -> DataFormat {
        let text = strip_bom(bytes);
        let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
            return DataFormat::Csv;
        };
        match text[first] {
            b'[' => DataFormat::Json,
            b'{' => {
                let rest = &text[first..];
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let whole = serde_json::from_slice::<IgnoredAny>(&rest[..end]).is_ok();
                let more = rest[end..].iter().any(|b| !b.is_ascii_whitespace());
                if whole && more {
                    DataFormat::Ndjson
                } else {
                    DataFormat::Json
                }
            }
            _ => DataFormat::Csv,
        }
    }
}

/// `bytes` without a UTF-8 byte-order mark, which serde_json does not read past.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes)
}

/// Reads a JSON ([`DataFormat::Json`]) or NDJSON ([`DataFormat::Ndjson`]) data file as
/// [`crate::read_from`] reads CSV; `source` names it in messages.
///
/// - The schema is `options.schema`, else the built-in one whose features the first record
///   names most of; less `options.drop`.
/// - Labels: a record may carry the schema's label column and 0/1 column, read and checked as
///   in CSV. When any record carries one the file is labelled ([`Dataset::attacks`]), and a
///   record without is invalid.
/// - A bad record stops the read with its line, field and value, or is listed in
///   [`Dataset::skipped`] under `options.skip_invalid`; text that is not JSON always stops it.
/// - [`Dataset::lines`]: the line each record starts on (its `{`; NDJSON: its line).
/// - [`Dataset::sha256`] is over `bytes`.
pub fn read_json_dataset(
    bytes: &[u8],
    source: &str,
    format: DataFormat,
    options: ReadOptions,
) -> Result<Dataset, DataError> {
    // Text that is not JSON is named by its line; which record it is in is not known.
    let syntax = |line: u64, message: String| DataError::InvalidRow {
        path: source.to_string(),
        row: InvalidRow {
            index: 0,
            line: Some(line),
            problem: RowProblem::Syntax(message),
        },
    };
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
        return Err(syntax(line, format!("not UTF-8 (byte {at})")));
    }
    let text = strip_bom(bytes);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Empty {
            path: source.to_string(),
        });
    }
    let schema_error = |source_error| DataError::Schema {
        path: source.to_string(),
        source: source_error,
    };
    let schema = match &options.schema {
        Some(schema) => Arc::new(schema.without(&options.drop).map_err(schema_error)?),
        None => detect_schema(text, format, &options.drop).map_err(schema_error)?,
    };
    let fields = Fields::with_labels(schema.clone());
    let batch = match format {
        DataFormat::Ndjson => read_ndjson_records(text, &fields).map_err(|e| {
            let message = format!(
                "malformed JSON: {} (column {})",
                json_message(&e.error),
                e.error.column()
            );
            syntax(e.line, message)
        })?,
        DataFormat::Json | DataFormat::Csv => read_json_records(text, &fields).map_err(|e| {
            let message = format!(
                "malformed JSON: {} (column {})",
                json_message(&e),
                e.column()
            );
            syntax(e.line() as u64, message)
        })?,
    };
    if batch.total == 0 {
        return Err(DataError::Empty {
            path: source.to_string(),
        });
    }
    let starts = record_starts(text, format);
    let line_of = |index: usize| starts.get(index).copied().unwrap_or(0);
    // A labelled file's records without a label are bad too; known only now that every
    // record is read, they are counted apart and merged in index order.
    let labelled = batch.attacks.iter().any(Option::is_some);
    let mut unlabelled = Rejects::default();
    let (mut records, mut attacks, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut read_attacks = batch.attacks.into_iter();
    for (record, index) in batch.records.into_iter().zip(batch.indices) {
        let attack = read_attacks.next().flatten();
        match attack {
            None if labelled => {
                let column = &schema.label().column;
                unlabelled
                    .check(index, None)
                    .bad(column, Problem::Missing, String::new);
            }
            _ => {
                records.push(record);
                attacks.extend(attack);
                lines.push(line_of(index));
            }
        }
    }
    let mut skipped = batch.rejects;
    skipped.merge(unlabelled);
    skipped.relocate(|index, _| (index, Some(line_of(index))));
    if !options.skip_invalid && !skipped.is_empty() {
        return Err(DataError::InvalidRow {
            path: source.to_string(),
            row: skipped.into_first().expect("a record was rejected"),
        });
    }
    Ok(Dataset {
        source: source.to_string(),
        schema,
        records,
        attacks: labelled.then_some(attacks),
        lines,
        skipped,
        sha256: reader::hex(&Sha256::digest(bytes)),
        ignored_columns: Vec::new(),
        ignored_values: Vec::new(),
    })
}

/// serde_json's message without its ` at line L column C`, which counts within an NDJSON
/// line and is given separately.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_string(),
        None => text,
    }
}

/// The 1-based line each record of well-formed JSON text starts on: NDJSON's lines that are
/// not blank; the object; the start of each value of an array.
fn record_starts(text: &[u8], format: DataFormat) -> Vec<u64> {
    if format == DataFormat::Ndjson {
        return text
            .split(|&b| b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(i, _)| i as u64 + 1)
            .collect();
    }
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Vec::new();
    };
    let mut line = 1 + text[..first].iter().filter(|&&b| b == b'\n').count() as u64;
    if text[first] != b'[' {
        return vec![line];
    }
    let mut starts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut expect) = (0usize, false, false, false);
    for &b in &text[first..] {
        if b == b'\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if expect && !b.is_ascii_whitespace() {
            expect = false;
            if b != b']' {
                starts.push(line);
            }
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                expect = depth == 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect = true,
            _ => {}
        }
    }
    starts
}

/// The built-in schema (less `drop`) whose features the first record's keys name most of;
/// the first built-in one when there is no first record to go by.
fn detect_schema(
    text: &[u8],
    format: DataFormat,
    drop: &[String],
) -> Result<Arc<Schema>, crate::SchemaError> {
    let keys: Vec<String> = first_keys(text, format)
        .iter()
        .map(|k| normalise_name(k))
        .collect();
    let mut best: Option<(usize, Schema)> = None;
    let mut error = None;
    for candidate in Schema::built_in() {
        match candidate.without(drop) {
            Ok(schema) => {
                let missing = schema
                    .features()
                    .filter(|f| !keys.contains(&normalise_name(&f.name)))
                    .count();
                if best.as_ref().is_none_or(|(fewest, _)| missing < *fewest) {
                    best = Some((missing, schema));
                }
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    match (best, error) {
        (Some((_, schema)), _) => Ok(Arc::new(schema)),
        (None, Some(error)) => Err(error),
        (None, None) => unreachable!("there are built-in schemas"),
    }
}

/// The keys of the first record (empty when it is not an object or the text not JSON),
/// read without going through the rest of the text.
fn first_keys(text: &[u8], format: DataFormat) -> Vec<String> {
    let first = match format {
        DataFormat::Ndjson => text
            .split(|&b| b == b'\n')
            .find(|line| !line.iter().all(u8::is_ascii_whitespace))
            .unwrap_or_default(),
        DataFormat::Json | DataFormat::Csv => text,
    };
    let mut keys = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(first);
    // The read stops with an error once it has the first record's keys.
    let _ = FirstKeys {
        keys: &mut keys,
        in_array: false,
    }
    .deserialize(&mut deserializer);
    keys
}

/// Collects the keys of the first record object: the value itself, or an array's first.
struct FirstKeys<'k> {
    keys: &'k mut Vec<String>,
    in_array: bool,
}

impl<'de> DeserializeSeed<'de> for FirstKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object or an array of them")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            self.keys.push(key.into_owned());
            map.next_value::<IgnoredAny>()?;
        }
        Err(serde::de::Error::custom("stop"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.in_array {
            seq.next_element_seed(FirstKeys {
                keys: self.keys,
                in_array: true,
            })?;
        }
        Err(serde::de::Error::custom("stop"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read_from;
    use serde_json::json;
    use std::sync::LazyLock;

    fn fields() -> &'static Fields {
        static FIELDS: LazyLock<Fields> = LazyLock::new(|| Fields::new(Schema::nsl_kdd()));
        &FIELDS
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

    /// [`object`] with the attack label.
    fn labelled(row: &str, attack: &str) -> String {
        let mut record = object(row);
        record.insert("attack".into(), serde_json::json!(attack));
        serde_json::to_string(&record).unwrap()
    }

    fn read(text: &str, format: DataFormat, skip_invalid: bool) -> Result<Dataset, DataError> {
        let options = ReadOptions {
            skip_invalid,
            ..ReadOptions::default()
        };
        read_json_dataset(text.as_bytes(), "t.json", format, options)
    }

    /// The CSV of `rows` (features then attack) with a header.
    fn csv(rows: &[(&str, &str)]) -> Dataset {
        let schema = Schema::nsl_kdd();
        let header: Vec<&str> = schema
            .features()
            .map(|f| f.name.as_str())
            .chain(["attack"])
            .collect();
        let mut text = header.join(",") + "\n";
        for (row, attack) in rows {
            text += &format!("{row},{attack}\n");
        }
        read_from(text.as_bytes(), "t.csv", ReadOptions::default()).unwrap()
    }

    #[test]
    fn json_arrays_objects_and_ndjson_read_as_the_same_csv() {
        let attack = ROW.replacen("491", "7", 1).replacen("tcp", "udp", 1);
        let rows = [(ROW, "normal"), (attack.as_str(), "neptune.")];
        let expected = csv(&rows);
        let records: Vec<String> = rows.iter().map(|(r, a)| labelled(r, a)).collect();
        let ndjson = format!("\n{}\n\n{}\n", records[0], records[1]);
        let array = format!("[\n{},\n\n  {}\n]\n", records[0], records[1]);
        for (text, format, lines) in [
            (ndjson.as_str(), DataFormat::Ndjson, [2, 4]),
            (array.as_str(), DataFormat::Json, [2, 4]),
        ] {
            assert_eq!(DataFormat::sniff(text.as_bytes()), format);
            let data = read(text, format, false).unwrap();
            assert_eq!(data.schema.name(), "nsl-kdd");
            assert_eq!(data.records, expected.records);
            assert_eq!(data.attacks, expected.attacks);
            assert_eq!(data.attacks.as_ref().unwrap()[1], "neptune");
            assert_eq!(data.lines, lines);
            assert!(data.skipped.is_empty());
            assert_eq!(data.sha256, reader::hex(&Sha256::digest(text.as_bytes())));
        }
        // Pretty-printed: each record on the line of its `{`.
        let values: Vec<serde_json::Value> = records
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect();
        let pretty = serde_json::to_string_pretty(&values).unwrap();
        let data = read(&pretty, DataFormat::Json, false).unwrap();
        let braces: Vec<u64> = (1..)
            .zip(pretty.lines())
            .filter(|(_, l)| *l == "  {")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(data.lines, braces);
        assert_eq!(data.records, expected.records);
        // One object, without a label: unlabelled, on the line of its `{`.
        let one = format!("\n{}", serde_json::to_string_pretty(&object(ROW)).unwrap());
        assert_eq!(DataFormat::sniff(one.as_bytes()), DataFormat::Json);
        let data = read(&one, DataFormat::Json, false).unwrap();
        assert_eq!((data.lines.as_slice(), data.attacks), (&[2][..], None));
        assert_eq!(data.records[0], expected.records[0]);
    }

    #[test]
    fn every_bad_field_is_named_with_its_record_line_and_value() {
        let good = labelled(ROW, "normal");
        let edit = |pairs: &[(&str, serde_json::Value)], remove: &[&str]| {
            let mut record: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&good).unwrap();
            for (key, value) in pairs {
                record.insert(key.to_string(), value.clone());
            }
            for key in remove {
                record.remove(*key);
            }
            serde_json::to_string(&record).unwrap()
        };
        let cases: Vec<(String, &str, &str, Problem)> = vec![
            (edit(&[], &["flag"]), "flag", "", Problem::Missing),
            (
                edit(&[("duration", json!("abc"))], &[]),
                "duration",
                "abc",
                Problem::NotANumber,
            ),
            (
                good.replacen("\"srcbytes\":491.0", "\"srcbytes\":1e400", 1),
                "srcbytes",
                "1e400",
                Problem::NotFinite,
            ),
            (
                edit(&[("dstbytes", json!(-1))], &[]),
                "dstbytes",
                "-1",
                Problem::Negative,
            ),
            (
                edit(&[("serrorrate", json!(1.5))], &[]),
                "serrorrate",
                "1.5",
                Problem::RateOutOfRange,
            ),
            (
                edit(&[("service", json!(7))], &[]),
                "service",
                "7",
                Problem::WrongType {
                    expected: "a text value",
                    found: "a number",
                },
            ),
            (
                edit(&[("duration", json!(true))], &[]),
                "duration",
                "a boolean",
                Problem::WrongType {
                    expected: "a number",
                    found: "a boolean",
                },
            ),
            (
                edit(&[("src_bytes", json!(5))], &[]),
                "srcbytes",
                // The keys are in order (`src_bytes` first): the second one is reported.
                "srcbytes",
                Problem::Duplicate,
            ),
            (
                edit(&[("attack", json!(""))], &[]),
                "attack",
                "",
                Problem::Missing,
            ),
            (
                edit(&[("attack", json!(3))], &[]),
                "attack",
                "3",
                Problem::WrongType {
                    expected: "a text value",
                    found: "a number",
                },
            ),
            (edit(&[], &["attack"]), "attack", "", Problem::Missing),
        ];
        assert!(cases[2].0.contains("1e400"));
        for (bad, field, value, problem) in cases {
            let text = format!("{good}\n{good}\n{bad}\n{good}\n");
            let error = read(&text, DataFormat::Ndjson, false).unwrap_err();
            let DataError::InvalidRow { row, .. } = &error else {
                panic!("{error}")
            };
            let expected = RowProblem::Fields(vec![crate::FieldError {
                field: field.to_string(),
                value: value.to_string(),
                problem: problem.clone(),
            }]);
            assert_eq!((row.line, &row.problem), (Some(3), &expected), "{bad}");
            assert!(error.to_string().starts_with("t.json: line 3: column `"));
            let data = read(&text, DataFormat::Ndjson, true).unwrap();
            assert_eq!(data.lines, [1, 2, 4]);
            assert_eq!(
                data.skipped.listed(),
                [InvalidRow {
                    index: 2,
                    line: Some(3),
                    problem: expected
                }]
            );
            let array = format!("[{good},\n{good},\n{bad},\n{good}]");
            let data = read(&array, DataFormat::Json, true).unwrap();
            assert_eq!(
                (data.lines.as_slice(), data.skipped.listed()[0].line),
                (&[1, 2, 4][..], Some(3))
            );
        }
        // Every bad field of a record, and a value that is not an object.
        let text = format!(
            "{good}\n{}\n12\n",
            edit(&[("dstbytes", json!(-1))], &["flag"])
        );
        let data = read(&text, DataFormat::Ndjson, true).unwrap();
        let skipped = data.skipped.listed();
        let RowProblem::Fields(errors) = &skipped[0].problem else {
            panic!("{skipped:?}")
        };
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["flag", "dstbytes"]);
        assert_eq!(
            skipped[1].problem,
            RowProblem::NotAnObject {
                found: "a number",
                features: 41
            }
        );
        assert!(skipped[1].to_string().contains("found a number"));
        assert_eq!(skipped[1].line, Some(3));
    }

    #[test]
    fn labels_follow_the_csv_rule_with_the_binary_column() {
        let schema = Schema::unsw_nb15();
        let record = |label: &[(&str, serde_json::Value)]| {
            let mut record: serde_json::Map<String, serde_json::Value> = schema
                .features()
                .map(|f| {
                    let value = if f.kind == crate::Kind::Categorical {
                        serde_json::json!("tcp")
                    } else {
                        serde_json::json!(0)
                    };
                    (f.name.clone(), value)
                })
                .collect();
            for (key, value) in label {
                record.insert(key.to_string(), value.clone());
            }
            serde_json::to_string(&record).unwrap()
        };
        let text = [
            record(&[("attack_cat", json!("Normal")), ("label", json!(0))]),
            record(&[("attack_cat", json!("Exploits")), ("label", json!("1"))]),
            record(&[("label", json!(1))]),
            record(&[("Label", json!(0))]),
            record(&[("attack_cat", json!("Normal")), ("label", json!(1))]),
            record(&[("label", json!(2))]),
            record(&[("label", json!(null))]),
            record(&[]),
        ]
        .join("\n");
        // The schema is recognised from the first record's keys.
        let data = read(&text, DataFormat::Ndjson, true).unwrap();
        assert_eq!(data.schema.name(), "unsw-nb15");
        assert_eq!(
            data.attacks.unwrap(),
            ["Normal", "Exploits", "attack", "Normal"]
        );
        let problems: Vec<(u64, &str, Problem)> = data
            .skipped
            .listed()
            .iter()
            .map(|row| match &row.problem {
                RowProblem::Fields(errors) => (
                    row.line.unwrap(),
                    errors[0].field.as_str(),
                    errors[0].problem.clone(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            problems,
            [
                (
                    5,
                    "label",
                    Problem::LabelDisagrees {
                        column: "attack_cat".into(),
                        value: "Normal".into()
                    }
                ),
                (6, "label", Problem::NotBinary),
                (7, "label", Problem::Missing),
                (8, "attack_cat", Problem::Missing),
            ]
        );
        // Without any label the file is unlabelled, as a CSV without the column.
        let data = read(&record(&[]), DataFormat::Json, false).unwrap();
        assert_eq!(data.attacks, None);
        // The server's fields read no label: a bad one is carried, never checked.
        let server = Fields::new(schema.clone());
        let batch = read_ndjson_records(text.as_bytes(), &server).unwrap();
        assert_eq!((batch.records.len(), batch.attacks.len()), (8, 0));
    }

    #[test]
    fn text_that_is_not_json_stops_the_read_with_its_line() {
        let good = labelled(ROW, "normal");
        for (text, format, line, contains) in [
            (
                format!("{good}\n{{oops}}\n"),
                DataFormat::Ndjson,
                2,
                "malformed JSON: key must be a string (column 2)",
            ),
            (
                format!("[{good},\n{good},\n oops]"),
                DataFormat::Json,
                3,
                "malformed JSON",
            ),
            (
                format!("{good}\n\u{0}"),
                DataFormat::Ndjson,
                2,
                "malformed JSON",
            ),
        ] {
            let error = read(&text, format, true).unwrap_err();
            let DataError::InvalidRow { row, .. } = &error else {
                panic!("{error}")
            };
            assert_eq!(row.line, Some(line), "{error}");
            assert!(error.to_string().contains(contains), "{error}");
        }
        let not_utf8 = [good.as_bytes(), b"\n", b"{\"a\xff\": 1}"].concat();
        let error = read_json_dataset(
            &not_utf8,
            "t.json",
            DataFormat::Ndjson,
            ReadOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("t.json: line 2: not UTF-8 (byte {})", good.len() + 4)
        );
        for empty in ["", " \n", "[]"] {
            let error = read(empty, DataFormat::Json, false).unwrap_err();
            assert!(matches!(error, DataError::Empty { .. }), "{error}");
        }
        // A byte-order mark is read past.
        let data = read(
            &format!("\u{feff}{good}\n{good}"),
            DataFormat::Ndjson,
            false,
        )
        .unwrap();
        assert_eq!(data.lines, [1, 2]);
    }

    #[test]
    fn formats_come_from_extensions_or_the_first_bytes() {
        for (name, format) in [
            ("a.json", DataFormat::Json),
            ("a.JSON", DataFormat::Json),
            ("a.ndjson", DataFormat::Ndjson),
            ("a.jsonl", DataFormat::Ndjson),
            ("a.csv", DataFormat::Csv),
            ("KDDTrain+.txt", DataFormat::Csv),
            ("json", DataFormat::Csv),
        ] {
            assert_eq!(DataFormat::from_path(Path::new(name)), format, "{name}");
        }
        for (text, format) in [
            ("[{\"a\": 1}]", DataFormat::Json),
            ("  \n[", DataFormat::Json),
            ("{\"a\": 1}", DataFormat::Json),
            ("{\"a\": 1}\n\n", DataFormat::Json),
            ("{\"a\": 1}\n{\"a\": 2}", DataFormat::Ndjson),
            ("\u{feff}{\"a\": 1}\r\n{\"a\": 2}", DataFormat::Ndjson),
            ("{\n\"a\": 1\n}", DataFormat::Json),
            ("duration,protocol_type\n", DataFormat::Csv),
            ("0,tcp,ftp_data", DataFormat::Csv),
            ("", DataFormat::Csv),
        ] {
            assert_eq!(DataFormat::sniff(text.as_bytes()), format, "{text:?}");
        }
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
            assert_eq!((whole.total, whole.rejects.problems()), (600, 24));
            assert_eq!(whole.records[1].categorical[1], "ftp_data");
            for pieces in [2, 3, 7] {
                let chunked = json_array_in_pieces(body.as_bytes(), pieces, fields()).unwrap();
                assert_eq!(chunked.records, whole.records, "{pieces} pieces");
                assert_eq!(chunked.indices, whole.indices);
                assert_eq!(chunked.rejects, whole.rejects);
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
            let whole = read_json_records(body.as_bytes(), fields()).unwrap();
            assert_eq!((whole.total, whole.indices.len()), (600, 576));
            for pieces in [2, 3, 7] {
                if let Some(chunked) = json_array_in_pieces(body.as_bytes(), pieces, fields()) {
                    assert_eq!(chunked.records, whole.records, "{pieces} pieces");
                    assert_eq!(chunked.rejects, whole.rejects);
                }
            }
        }
        let one_object = format!("{{\"a\": [{}]}}", vec!["{\"b\": 1}"; 10_000].join(","));
        assert!(json_array_in_pieces(one_object.as_bytes(), 2, fields()).is_none());
        let malformed = format!("[{}, oops]", vec![good.as_str(); 200].join(","));
        assert!(json_array_in_pieces(malformed.as_bytes(), 2, fields()).is_none());
        assert!(read_json_records(malformed.as_bytes(), fields()).is_err());
    }

    #[test]
    fn bad_records_are_listed_within_bounds_and_all_counted() {
        let text = "{}\n".repeat(10_000);
        let batch = read_ndjson_records(text.as_bytes(), fields()).unwrap();
        let rejects = &batch.rejects;
        assert_eq!((batch.total, rejects.len()), (10_000, 10_000));
        assert_eq!(rejects.problems(), 410_000);
        // Two whole records of 41 problems fit in the 100 listed; the third would not.
        let listed: Vec<(usize, Option<u64>)> =
            rejects.listed().iter().map(|r| (r.index, r.line)).collect();
        assert_eq!(listed, [(0, Some(1)), (1, Some(2))]);
        assert_eq!(rejects.errors().count(), 82);
        assert!(rejects.by_field().all(|(_, n)| n == 10_000));
        assert_eq!(rejects.by_field().count(), 41);
        // An array read in pieces on every core lists and counts the same.
        let array = format!("[{}]", vec!["{}"; 30_000].join(","));
        assert!(array.len() >= PARALLEL_JSON_BYTES);
        let whole = read_whole(array.as_bytes()).unwrap();
        let pieces = json_array_in_pieces(array.as_bytes(), 3, fields()).unwrap();
        assert_eq!(pieces.rejects, whole.rejects);
        assert_eq!(whole.rejects.len(), 30_000);
    }

    #[test]
    fn a_feature_named_again_and_again_is_one_problem() {
        let good = serde_json::to_string(&object(ROW)).unwrap();
        let repeated = format!(
            "{{{}{}",
            "\"src_bytes\": 1, \"duration\": 2, ".repeat(1000),
            &good[1..]
        );
        let batch = read_json_records(repeated.as_bytes(), fields()).unwrap();
        let errors: Vec<_> = batch.rejects.errors().collect();
        let named: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_deref().unwrap(), e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(named, [("srcbytes", "src_bytes"), ("duration", "duration")]);
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
}
