//! Reading record files: CSV with a header naming the columns of a known or given schema,
//! and the headerless NSL-KDD distribution files (`KDDTrain+.txt`), told apart by their
//! first line. [`read_from`] reads a file into a [`Dataset`]; [`read_csv_records`] a request
//! body into a [`Batch`], as [`crate::json`] reads JSON bodies. Bad rows go to a
//! [`Rejects`]: the first listed whole, every one counted.

use crate::json::Batch;
use crate::record::{BadFields, FieldError, Problem, Record, shown};
use crate::rejects::{ErrorKind, Rejects};
use crate::schema::{self, Schema, SchemaError};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// A labelled or unlabelled set of records read from one file.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where the records came from, for messages.
    pub source: String,
    /// The schema the records follow: given, or recognised from the header.
    pub schema: Arc<Schema>,
    pub records: Vec<Record>,
    /// The attack name of each record (the schema's normal value for benign rows), when the
    /// file has a label column.
    pub attacks: Option<Vec<String>>,
    /// The 1-based line of each record in the source, for messages and outputs.
    pub lines: Vec<u64>,
    /// Rows left out under [`ReadOptions::skip_invalid`]: the first listed, all counted.
    pub skipped: Rejects,
    /// sha256 of the bytes read, hex encoded: ties a model to its training data.
    pub sha256: String,
    /// Header columns the schema does not know, read past (a user's own columns).
    pub ignored_columns: Vec<String>,
    /// Per record, its values of [`Dataset::ignored_columns`] (trimmed, in that order), when
    /// read with [`ReadOptions::keep_ignored`]: what identifies a record to its owner (a
    /// connection's addresses and ports) goes through to the outputs. Empty otherwise.
    pub ignored_values: Vec<Vec<String>>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The binary labels (`true` = attack), if the file is labelled.
    pub fn is_attack(&self) -> Option<Vec<bool>> {
        self.attacks
            .as_ref()
            .map(|a| a.iter().map(|name| !self.schema.is_normal(name)).collect())
    }

    /// The attack family of each record, when the file is labelled.
    pub fn families(&self) -> Option<Vec<&str>> {
        self.attacks
            .as_ref()
            .map(|a| a.iter().map(|name| self.schema.family_of(name)).collect())
    }

    /// The subset of rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            source: self.source.clone(),
            schema: self.schema.clone(),
            records: indices.iter().map(|&i| self.records[i].clone()).collect(),
            attacks: self
                .attacks
                .as_ref()
                .map(|a| indices.iter().map(|&i| a[i].clone()).collect()),
            lines: indices.iter().map(|&i| self.lines[i]).collect(),
            skipped: Rejects::default(),
            sha256: self.sha256.clone(),
            ignored_columns: self.ignored_columns.clone(),
            ignored_values: if self.ignored_values.is_empty() {
                Vec::new()
            } else {
                indices
                    .iter()
                    .map(|&i| self.ignored_values[i].clone())
                    .collect()
            },
        }
    }
}

/// How to read a file: its schema, the features to leave out, what to do with a bad row.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Skip invalid rows (counting them in [`Dataset::skipped`]) instead of failing on the first.
    pub skip_invalid: bool,
    /// The schema the file must follow (a model's, or the user's `--schema`); `None`: the
    /// built-in schema whose columns the header names.
    pub schema: Option<Arc<Schema>>,
    /// Features to leave out of the schema (`--drop`); the file need not hold them.
    pub drop: Vec<String>,
    /// Keep each record's values of the columns the schema does not know
    /// ([`Dataset::ignored_values`]).
    pub keep_ignored: bool,
}

impl ReadOptions {
    /// Read against `schema`.
    pub fn with_schema(schema: Arc<Schema>) -> ReadOptions {
        ReadOptions {
            schema: Some(schema),
            ..ReadOptions::default()
        }
    }
}

/// A row (a record) that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRow {
    /// 0-based, among the records read, valid or not.
    pub index: usize,
    /// 1-based; `None` where the text has no lines to speak of (a JSON array in a request).
    pub line: Option<u64>,
    pub problem: RowProblem,
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    FieldCount {
        expected: usize,
        found: usize,
    },
    Fields(Vec<FieldError>),
    /// The CSV itself is malformed at this row (e.g. invalid UTF-8).
    Syntax(String),
    /// A JSON record that is not an object (`found`: what it is) of the schema's `features`.
    NotAnObject {
        found: &'static str,
        features: usize,
    },
}

/// Bad values a row's message names; the rest are counted.
const NAMED_FIELDS: usize = 10;

impl RowProblem {
    /// The kind of a problem with the row as a whole; `None` for bad values.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            RowProblem::FieldCount { .. } => Some(ErrorKind::FieldCount),
            RowProblem::Fields(_) => None,
            RowProblem::Syntax(_) => Some(ErrorKind::Malformed),
            RowProblem::NotAnObject { .. } => Some(ErrorKind::NotAnObject),
        }
    }

    /// How many problems: one per bad value, or one for the row as a whole.
    pub fn problems(&self) -> usize {
        match self {
            RowProblem::Fields(errors) => errors.len(),
            _ => 1,
        }
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowProblem::FieldCount { expected, found } => {
                write!(f, "expected {expected} columns, found {found}")
            }
            RowProblem::Fields(errors) => {
                let parts: Vec<String> = errors
                    .iter()
                    .take(NAMED_FIELDS)
                    .map(ToString::to_string)
                    .collect();
                f.write_str(&parts.join("; "))?;
                match errors.len().saturating_sub(NAMED_FIELDS) {
                    0 => Ok(()),
                    more => write!(f, "; and {more} more bad value(s)"),
                }
            }
            RowProblem::Syntax(message) => f.write_str(message),
            RowProblem::NotAnObject { found, features } => write!(
                f,
                "expected an object with the {features} named features, found {found}"
            ),
        }
    }
}

impl fmt::Display for InvalidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.problem),
            None => write!(f, "record {}: {}", self.index, self.problem),
        }
    }
}

/// Why a file could not be read.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "no data file given and none found at the default places ({}); pass --data FILE, set NADIR_DATA, or run `nadir data fetch` to download NSL-KDD to data/Network_anomaly_data.csv",
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoDefaultData { tried: Vec<PathBuf> },
    #[error("{path} holds no records")]
    Empty { path: String },
    #[error(
        "{path}: the header lacks the column(s) {} of schema `{schema}`{}",
        .missing.join(", "),
        if *.detected { "; pass --schema FILE for a schema of your own" } else { "" }
    )]
    MissingColumns {
        path: String,
        schema: String,
        missing: Vec<String>,
        /// Whether the schema was the closest built-in one rather than the given one.
        detected: bool,
    },
    #[error("{path}: column `{column}` appears twice in the header")]
    DuplicateColumn { path: String, column: String },
    #[error("{path}: line 1 has {found} columns and no header; headerless files are {expected}")]
    UnknownLayout {
        path: String,
        found: usize,
        expected: String,
    },
    #[error(
        "{path}: line 1 names none of the columns of schema `{schema}` ({}); its files need a header naming them",
        .columns.join(", ")
    )]
    NoHeader {
        path: String,
        schema: String,
        columns: Vec<String>,
    },
    #[error("{path}: {source}")]
    Schema {
        path: String,
        #[source]
        source: SchemaError,
    },
    #[error("{path}: {row}")]
    InvalidRow { path: String, row: InvalidRow },
    #[error("{path} has no `{column}` column, which this command needs to measure the model")]
    Unlabelled { path: String, column: String },
}

/// Where each schema column sits in the file's rows.
struct Layout {
    schema: Arc<Schema>,
    /// The column of each used feature, in [`Schema::features`] order.
    features: Vec<usize>,
    attack: Option<usize>,
    binary: Option<usize>,
    width: usize,
    has_header: bool,
    /// The header's columns the schema does not know: name and position.
    ignored: Vec<(String, usize)>,
}

/// Where a candidate schema's columns sit in a header, and what it lacks.
struct HeaderMatch {
    schema: Arc<Schema>,
    features: Vec<Option<usize>>,
    attack: Option<usize>,
    binary: Option<usize>,
}

impl HeaderMatch {
    fn missing(&self) -> Vec<String> {
        self.schema
            .features()
            .zip(&self.features)
            .filter(|(_, pos)| pos.is_none())
            .map(|(f, _)| f.name.clone())
            .collect()
    }
}

impl Layout {
    /// Reads the first row as a header if it names a column of a candidate schema, else as
    /// the first record of a headerless file.
    fn detect(
        first: &csv::StringRecord,
        path: &str,
        options: &ReadOptions,
    ) -> Result<Layout, DataError> {
        let candidates: Vec<Arc<Schema>> = match &options.schema {
            Some(schema) => vec![schema.clone()],
            None => Schema::built_in().to_vec(),
        };
        // A file written with a byte-order mark (UNSW-NB15's is) carries it in its first field.
        let names: Vec<String> = first
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let name = if i == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    name
                };
                schema::normalise_name(name)
            })
            .collect();
        let known = |schema: &Schema, name: &str| schema.knows_column(name);
        let looks_like_header = names
            .iter()
            .any(|n| candidates.iter().any(|schema| known(schema, n)));
        let mut schema_error = None;
        let mut matches = Vec::new();
        for candidate in &candidates {
            let schema = match candidate.without(&options.drop) {
                Ok(schema) => Arc::new(schema),
                Err(error) => {
                    schema_error.get_or_insert(error);
                    continue;
                }
            };
            if looks_like_header {
                matches.push(Self::match_header(schema, &names, path)?);
            } else if schema.headerless() {
                return Self::headerless(schema, first.len(), path);
            }
        }
        if let Some(source) = schema_error.filter(|_| matches.is_empty()) {
            return Err(DataError::Schema {
                path: path.to_string(),
                source,
            });
        }
        if !looks_like_header {
            // Only a given schema that needs a header gets here: the built-in NSL-KDD one
            // reads headerless files.
            let schema = &candidates[0];
            return Err(DataError::NoHeader {
                path: path.to_string(),
                schema: schema.name().to_string(),
                columns: schema.features().map(|f| f.name.clone()).collect(),
            });
        }
        let best = matches
            .into_iter()
            .min_by_key(|m| m.missing().len())
            .expect("a candidate was matched");
        let missing = best.missing();
        if !missing.is_empty() {
            return Err(DataError::MissingColumns {
                path: path.to_string(),
                schema: best.schema.name().to_string(),
                missing,
                detected: options.schema.is_none(),
            });
        }
        let ignored = first
            .iter()
            .zip(&names)
            .enumerate()
            .filter(|(_, (_, name))| !known(&best.schema, name))
            .map(|(pos, (raw, _))| (raw.trim().to_string(), pos))
            .collect();
        Ok(Layout {
            features: best
                .features
                .iter()
                .map(|p| p.expect("none missing"))
                .collect(),
            schema: best.schema,
            attack: best.attack,
            binary: best.binary,
            width: names.len(),
            has_header: true,
            ignored,
        })
    }

    fn match_header(
        schema: Arc<Schema>,
        names: &[String],
        path: &str,
    ) -> Result<HeaderMatch, DataError> {
        let mut features = vec![None; schema.num_features()];
        let (mut attack, mut binary) = (None, None);
        let label = schema.label();
        let attack_name = schema::normalise_name(&label.column);
        let binary_name = label.binary.as_deref().map(schema::normalise_name);
        for (pos, name) in names.iter().enumerate() {
            let slot = match schema.feature_index(name) {
                Some(i) => &mut features[i],
                None if *name == attack_name => &mut attack,
                None if Some(name) == binary_name.as_ref() => &mut binary,
                // Dropped features, never-features and the user's own columns are read past.
                None => continue,
            };
            if slot.is_some() {
                return Err(DataError::DuplicateColumn {
                    path: path.to_string(),
                    column: name.clone(),
                });
            }
            *slot = Some(pos);
        }
        Ok(HeaderMatch {
            schema,
            features,
            attack,
            binary,
        })
    }

    /// A headerless file holds the declared features in order, then the label, then the
    /// columns that are never features.
    fn headerless(schema: Arc<Schema>, width: usize, path: &str) -> Result<Layout, DataError> {
        let declared = schema.declared().len();
        if !(declared..=declared + 1 + schema.never_features().len()).contains(&width) {
            return Err(DataError::UnknownLayout {
                path: path.to_string(),
                found: width,
                expected: headerless_widths(&schema),
            });
        }
        Ok(Layout {
            features: (0..declared)
                .filter(|&i| !schema.declared()[i].dropped)
                .collect(),
            attack: (width > declared).then_some(declared),
            binary: None,
            width,
            has_header: false,
            ignored: Vec::new(),
            schema,
        })
    }
}

fn headerless_widths(schema: &Schema) -> String {
    let declared = schema.declared().len();
    let mut after = vec![format!("`{}`", schema.label().column)];
    after.extend(schema.never_features().iter().map(|c| format!("`{c}`")));
    format!(
        "the {declared} features of schema `{}`, then optionally {} ({declared} to {} columns)",
        schema.name(),
        after.join(" and "),
        declared + after.len()
    )
}

/// Computes the sha256 of everything read through it, and notes where its lines break.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    breaks: LineBreaks,
    /// The first bytes, until it is known whether they are a UTF-8 byte-order mark, and
    /// then what is left of them to hand on.
    head: Vec<u8>,
    head_read: bool,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            breaks: LineBreaks::default(),
            head: Vec::with_capacity(BOM.len()),
            head_read: false,
        }
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

impl<R: Read> Read for HashingReader<R> {
    /// Hands on the bytes read, hashed, but a leading byte-order mark, which is hashed and
    /// dropped here rather than by the csv reader: its positions then count the bytes it is
    /// given, as [`LineBreaks`] does (they were 3 apart after a mark, and a record after blank
    /// lines was put on line 1).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.head_read {
            let mut byte = [0; BOM.len()];
            while self.head.len() < BOM.len() {
                let n = self.inner.read(&mut byte[..BOM.len() - self.head.len()])?;
                if n == 0 {
                    break;
                }
                self.head.extend_from_slice(&byte[..n]);
            }
            self.hasher.update(&self.head);
            if self.head == BOM {
                self.head.clear();
            }
            self.head_read = true;
        }
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            self.breaks.note(&buf[..n]);
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.breaks.note(&buf[..n]);
        Ok(n)
    }
}

/// The line-break bytes read ahead of the records, to number lines by. The csv reader's own
/// line numbers are wrong with CRLF endings and for a record after a blank line (it starts
/// that record at the blank line), so a record's line is found from the byte it started at:
/// past the line breaks the reader counted in, then the `\n`s before it. Records are asked
/// about in the order they are read, so the breaks before the last one asked about are
/// dropped as they are counted: memory stays that of the reader's buffer, not one entry per
/// line of the file (a body of 16 MiB of blank lines would have held 256 MiB).
#[derive(Default)]
struct LineBreaks {
    read: u64,
    /// Offsets of the `\r`s and `\n`s not yet passed, each with whether it is a `\n`.
    ahead: VecDeque<(u64, bool)>,
    /// `\n`s passed.
    newlines: u64,
}

impl LineBreaks {
    fn note(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.ahead.push_back((self.read + i as u64, b == b'\n'));
            }
        }
        self.read += bytes.len() as u64;
    }

    /// The 1-based line of the record the reader started at byte `start`, no earlier than
    /// the last one asked about.
    fn line_of(&mut self, start: u64) -> u64 {
        while let Some(&(at, newline)) = self.ahead.front()
            && at < start
        {
            self.ahead.pop_front();
            self.newlines += u64::from(newline);
        }
        // Breaks right at the start (a blank line, a CRLF's `\n`) come before its content.
        let mut newlines = self.newlines;
        for (content, &(at, newline)) in (start..).zip(&self.ahead) {
            if at != content {
                break;
            }
            newlines += u64::from(newline);
        }
        newlines + 1
    }
}

/// Reads a record file from disk.
pub fn read_path(path: &Path, options: ReadOptions) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: name.clone(),
        source,
    })?;
    read_from(io::BufReader::with_capacity(1 << 20, file), &name, options)
}

/// Reads records from any byte stream; `source` names it in messages.
pub fn read_from<R: Read>(
    reader: R,
    source: &str,
    options: ReadOptions,
) -> Result<Dataset, DataError> {
    let (mut records, mut attacks, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut ignored_values = Vec::new();
    let read = read_csv(
        reader,
        source,
        &options,
        false,
        |_, line, record, attack, ignored| {
            records.push(record);
            attacks.extend(attack);
            lines.push(line);
            if options.keep_ignored {
                ignored_values.push(ignored.collect());
            }
        },
    )?;
    let Some(layout) = read
        .layout
        .filter(|_| !records.is_empty() || !read.rejects.is_empty())
    else {
        return Err(DataError::Empty {
            path: source.to_string(),
        });
    };
    let has_labels = layout.attack.is_some() || layout.binary.is_some();
    Ok(Dataset {
        source: source.to_string(),
        schema: layout.schema,
        ignored_columns: layout.ignored.into_iter().map(|(name, _)| name).collect(),
        ignored_values,
        records,
        attacks: has_labels.then_some(attacks),
        lines,
        skipped: read.rejects,
        sha256: read.sha256,
    })
}

/// Reads the records of a CSV request body of `schema` (with a header naming its columns, or
/// headerless where the schema allows) into a [`Batch`], as [`crate::json`] reads JSON
/// bodies: every bad row in [`Batch::rejects`], none stopping the read. `layout`: a line read
/// before `text` only to fix the layout (the body's first line, when a later piece of the
/// body is read on its own), never a record; `text`'s lines are then numbered from 2.
pub fn read_csv_records(
    text: &[u8],
    schema: &Arc<Schema>,
    layout: Option<&[u8]>,
) -> Result<Batch, DataError> {
    let options = ReadOptions {
        skip_invalid: true,
        ..ReadOptions::with_schema(schema.clone())
    };
    let (mut records, mut indices) = (Vec::new(), Vec::new());
    let reader = layout.unwrap_or_default().chain(text);
    let read = read_csv(
        reader,
        "body",
        &options,
        layout.is_some(),
        |index, _, record, _, _| {
            records.push(record);
            indices.push(index);
        },
    )?;
    Ok(Batch {
        total: read.rows,
        records,
        indices,
        rejects: read.rejects,
        ..Batch::default()
    })
}

/// What [`read_csv`] found besides the records it handed on.
struct CsvRead {
    /// `None` when the text holds no row.
    layout: Option<Layout>,
    rejects: Rejects,
    /// Records read, valid or not.
    rows: usize,
    sha256: String,
}

/// Reads CSV rows: the layout from the first one, then every row checked, each valid record
/// handed to `keep` with its index (among the records, valid or not), line and attack name;
/// bad rows go to the [`CsvRead::rejects`], or without `options.skip_invalid` the first ends
/// the read. `keep` also gets the row's values of the columns the schema does not know. With
/// `layout_row`, the first row only fixes the layout and is no record.
fn read_csv<R: Read>(
    reader: R,
    source: &str,
    options: &ReadOptions,
    layout_row: bool,
    mut keep: impl FnMut(usize, u64, Record, Option<String>, &mut dyn Iterator<Item = String>),
) -> Result<CsvRead, DataError> {
    let hashing = HashingReader::new(reader);
    // Fields are trimmed where they are read (`Record::from_text`, the header's names, the
    // attack label) rather than by the csv reader, whose trimming copies every row: that
    // copy was most of the time of reading a row.
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(hashing);
    let mut bytes = csv::ByteRecord::new();
    let mut row = csv::StringRecord::new();
    let mut layout: Option<Layout> = None;
    let mut rejects = Rejects::default();
    let mut rows = 0;
    let invalid = |rejects: Rejects| DataError::InvalidRow {
        path: source.to_string(),
        row: rejects.into_first().expect("a row was rejected"),
    };
    loop {
        let start = csv.position().byte();
        match csv.read_byte_record(&mut bytes) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(start, |p| p.byte());
                let bad = InvalidRow {
                    index: rows,
                    line: Some(csv.get_mut().breaks.line_of(at)),
                    problem: RowProblem::Syntax(e.to_string()),
                };
                return Err(match e.into_kind() {
                    csv::ErrorKind::Io(io_error) => DataError::Io {
                        path: source.to_string(),
                        source: io_error,
                    },
                    _ => DataError::InvalidRow {
                        path: source.to_string(),
                        row: bad,
                    },
                });
            }
        }
        let line = csv
            .get_mut()
            .breaks
            .line_of(bytes.position().map_or(start, |p| p.byte()));
        // Validating the UTF-8 moves the row's buffer into `row`; the next read reuses
        // `row`'s buffer in turn.
        match csv::StringRecord::from_byte_record(std::mem::take(&mut bytes)) {
            Ok(text) => bytes = std::mem::replace(&mut row, text).into_byte_record(),
            Err(e) => {
                let problem = RowProblem::Syntax(format!("CSV parse error: {}", e.utf8_error()));
                rejects.reject(rows, Some(line), problem);
                rows += 1;
                if !options.skip_invalid {
                    return Err(invalid(rejects));
                }
                bytes = e.into_byte_record();
                continue;
            }
        }
        let layout = match &layout {
            Some(l) => l,
            None => {
                let detected = Layout::detect(&row, source, options)?;
                let has_header = detected.has_header;
                layout = Some(detected);
                if has_header || layout_row {
                    continue;
                }
                layout.as_ref().expect("just set")
            }
        };
        let index = rows;
        rows += 1;
        match parse_row(&row, layout, &mut rejects, index, line) {
            Some((record, attack)) => {
                let mut ignored = layout
                    .ignored
                    .iter()
                    .map(|&(_, pos)| row[pos].trim().to_string());
                keep(index, line, record, attack, &mut ignored)
            }
            None if options.skip_invalid => {}
            None => return Err(invalid(rejects)),
        }
    }
    let hasher = csv.into_inner().hasher;
    Ok(CsvRead {
        layout,
        rejects,
        rows,
        sha256: hex(&hasher.finalize()),
    })
}

/// A row's record and, in a labelled file, its attack name; `None` when the row is bad, its
/// problems then in `rejects` at `index` and `line`.
fn parse_row(
    row: &csv::StringRecord,
    layout: &Layout,
    rejects: &mut Rejects,
    index: usize,
    line: u64,
) -> Option<(Record, Option<String>)> {
    if row.len() != layout.width {
        let problem = RowProblem::FieldCount {
            expected: layout.width,
            found: row.len(),
        };
        rejects.reject(index, Some(line), problem);
        return None;
    }
    let mut check = rejects.check(index, Some(line));
    let attack = read_label(
        &layout.schema,
        layout.attack.map(|pos| &row[pos]),
        layout.binary.map(|pos| &row[pos]),
        &mut check,
    );
    let record = Record::from_text(&layout.schema, |i| &row[layout.features[i]], &mut check);
    Some((record?, attack.ok()?))
}

/// A label reported bad to a [`BadFields`].
pub(crate) struct BadLabel;

/// A record's attack name from its label columns, the same rule for every format: the label
/// column's value (`attack`: `None` when the file has no such column), else `normal`/`attack`
/// from the 0/1 column (`binary`, read only where the schema declares one); where both are
/// present they must agree. `Ok(None)`: the record carries neither. A bad label is reported
/// to `bad`.
pub(crate) fn read_label(
    schema: &Schema,
    attack: Option<&str>,
    binary: Option<&str>,
    bad: &mut impl BadFields,
) -> Result<Option<String>, BadLabel> {
    let label = schema.label();
    let attack = match attack {
        Some(raw) if raw.trim().is_empty() => {
            bad.bad(&label.column, Problem::Missing, String::new);
            return Err(BadLabel);
        }
        Some(raw) => Some(clean_attack(raw)),
        None => None,
    };
    let (Some(value), Some(column)) = (binary, &label.binary) else {
        return Ok(attack);
    };
    let value = value.trim();
    let mut error = |problem| {
        bad.bad(column, problem, || shown(value));
        Err(BadLabel)
    };
    let is_attack = match value {
        "0" => false,
        "1" => true,
        "" => return error(Problem::Missing),
        _ => return error(Problem::NotBinary),
    };
    match attack {
        Some(name) if schema.is_normal(&name) == is_attack => error(Problem::LabelDisagrees {
            column: label.column.clone(),
            value: shown(&name),
        }),
        Some(name) => Ok(Some(name)),
        None if is_attack => Ok(Some("attack".to_string())),
        None => Ok(Some(label.normal.clone())),
    }
}

/// The original KDD'99 files end labels with a full stop (`smurf.`); NSL-KDD does not.
fn clean_attack(raw: &str) -> String {
    raw.trim().trim_end_matches('.').to_string()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The environment variable naming the default data file.
pub const DATA_ENV: &str = "NADIR_DATA";
/// The directory, relative to the working directory, where the default data file is looked
/// for first (and where `nadir data fetch` writes).
pub const DEFAULT_DATA_DIR: &str = "data";
/// The default data file's name: NSL-KDD's KDDTrain+ with a header row.
pub const DEFAULT_DATA_FILE: &str = "Network_anomaly_data.csv";

/// The default data file: `$NADIR_DATA`, else `data/Network_anomaly_data.csv`, else
/// `../shared/data/Network_anomaly_data.csv`.
pub fn default_data_path() -> Result<PathBuf, DataError> {
    let mut tried = Vec::new();
    if let Some(env) = std::env::var_os(DATA_ENV) {
        let path = PathBuf::from(env);
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path);
    }
    for dir in [DEFAULT_DATA_DIR, "../shared/data"] {
        let path = Path::new(dir).join(DEFAULT_DATA_FILE);
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path);
    }
    Err(DataError::NoDefaultData { tried })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20";

    fn read(bytes: &[u8], skip_invalid: bool) -> Result<Dataset, DataError> {
        let options = ReadOptions {
            skip_invalid,
            ..ReadOptions::default()
        };
        read_from(bytes, "t.csv", options)
    }

    #[test]
    fn padded_fields_read_as_trimmed_and_errors_show_the_trimmed_value() {
        let padded = ROW.replace(',', " ,\t");
        let data = read(format!("{ROW}\n{padded}\n").as_bytes(), false).unwrap();
        assert_eq!(data.records[0], data.records[1]);
        assert_eq!(data.attacks.unwrap(), ["normal", "normal"]);
        let bad = padded.replacen("491", "-491", 1);
        let data = read(format!("{ROW}\n{bad}\n").as_bytes(), true).unwrap();
        let RowProblem::Fields(errors) = &data.skipped.listed()[0].problem else {
            panic!("{:?}", data.skipped)
        };
        assert_eq!(
            (errors[0].field.as_str(), errors[0].value.as_str()),
            ("srcbytes", "-491")
        );
    }

    #[test]
    fn invalid_utf8_is_a_bad_row_named_by_its_line() {
        let body = [
            ROW.as_bytes(),
            b"\n",
            &ROW.as_bytes()[..8],
            b"\xff\xfe",
            &ROW.as_bytes()[8..],
            b"\n",
            ROW.as_bytes(),
            b"\n",
        ]
        .concat();
        let data = read(&body, true).unwrap();
        assert_eq!(data.lines, [1, 3]);
        assert_eq!(data.skipped.listed()[0].line, Some(2));
        assert!(
            matches!(&data.skipped.listed()[0].problem, RowProblem::Syntax(m) if m.contains("UTF-8"))
        );
        let strict = read(&body, false).unwrap_err().to_string();
        assert!(
            strict.starts_with("t.csv: line 2: ") && strict.contains("UTF-8"),
            "{strict}"
        );
    }
}
