//! Entries to outcomes: each record read by the same code as `nadir predict` reads a file
//! (so a stream scores a record exactly as `predict` does), scored in one call per batch.
//!
//! CSV lines of a batch that share a header are read as one text, one parse for them all;
//! a line that text rejects is read again alone, to name its own fault. JSON records are
//! read one by one (one may span lines).

use crate::entry::{DeadLetter, HEADER, InputEntry, Outcome, RECORD, Scored};
use indexmap::IndexMap;
use nadir_data::json::{Fields, read_json_records};
use nadir_data::schema::normalise_name;
use nadir_data::{ReadOptions, Record, read_from};
use nadir_ml::ecs;
use nadir_ml::explain::ExplainError;
use nadir_ml::file::SavedModel;
use serde_json::Value;
use std::collections::HashMap;

/// Scores entries with one model.
pub struct Scorer {
    model: SavedModel,
    fields: Fields,
    threshold: Option<f64>,
    /// Explain each scored record by its K strongest features.
    explain: Option<usize>,
}

/// A record's own columns: name and value.
type Own = Vec<(String, String)>;

/// A record ready to score, and where its result goes.
struct Readied {
    entry: usize,
    record: Record,
    own: Own,
}

/// What reading an entry alone gave.
enum Read {
    Record(Record, Own),
    Bad(String),
}

impl Scorer {
    /// `threshold`: instead of the model's own.
    pub fn new(model: SavedModel, threshold: Option<f64>) -> Scorer {
        let fields = Fields::new(model.pipeline.schema().clone());
        Scorer {
            model,
            fields,
            threshold,
            explain: None,
        }
    }

    /// The scorer explaining each record by its `k` strongest features; an error, before any
    /// entry is read, for a model that cannot be explained.
    pub fn explaining(mut self, k: usize) -> Result<Scorer, ExplainError> {
        self.model.explain(&[])?;
        self.explain = Some(k);
        Ok(self)
    }

    pub fn model(&self) -> &SavedModel {
        &self.model
    }

    /// The outcome of each entry, in the entries' order.
    pub fn score(&self, entries: Vec<InputEntry>) -> Vec<Outcome> {
        let mut readied = Vec::with_capacity(entries.len());
        let mut dead: Vec<(usize, String)> = Vec::new();
        let mut csv_groups: HashMap<Option<&str>, Vec<(usize, &str)>> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let (record, header) = match texts(entry) {
                Ok(texts) => texts,
                Err(error) => {
                    dead.push((i, error));
                    continue;
                }
            };
            if is_json(record) {
                match self.read_json(record) {
                    Read::Record(record, own) => readied.push(Readied {
                        entry: i,
                        record,
                        own,
                    }),
                    Read::Bad(error) => dead.push((i, error)),
                }
            } else if record.contains(['\n', '\r']) {
                dead.push((i, "a CSV record must be one line".to_string()));
            } else {
                csv_groups.entry(header).or_default().push((i, record));
            }
        }
        for (header, members) in csv_groups {
            self.read_csv_group(header, &members, &mut readied, &mut dead);
        }
        readied.sort_by_key(|r| r.entry);
        let (places, records): (Vec<(usize, Own)>, Vec<Record>) = readied
            .into_iter()
            .map(|r| ((r.entry, r.own), r.record))
            .unzip();
        let predictions = self.model.predict(&records, self.threshold);
        // The model was found explainable when the scorer was made (`explaining`).
        let mut explanations = self
            .explain
            .and_then(|k| self.model.explain_top(&records, k).ok())
            .map(Vec::into_iter);
        let schema = self.model.pipeline.schema();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; entries.len()];
        for (((entry, own), prediction), record) in
            places.into_iter().zip(predictions).zip(&records)
        {
            outcomes[entry] = Some(Outcome::Scored(Scored {
                id: entries[entry].id.clone(),
                own,
                transport: ecs::transport_feature(schema, record).map(str::to_owned),
                prediction,
                explanation: explanations.as_mut().and_then(Iterator::next),
            }));
        }
        for (i, error) in dead {
            outcomes[i] = Some(Outcome::Dead(DeadLetter {
                entry: entries[i].clone(),
                error,
            }));
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every entry is scored or dead"))
            .collect()
    }

    /// Reads the CSV lines of `members` (entries sharing `header`: index and line) as one
    /// text; the lines it rejects are read again alone for their own error.
    fn read_csv_group(
        &self,
        header: Option<&str>,
        members: &[(usize, &str)],
        readied: &mut Vec<Readied>,
        dead: &mut Vec<(usize, String)>,
    ) {
        let mut text = String::new();
        if let Some(header) = header {
            text.push_str(header);
            text.push('\n');
        }
        for (_, line) in members {
            text.push_str(line);
            text.push('\n');
        }
        let first_line = if header.is_some() { 2 } else { 1 };
        let lines = first_line..first_line + members.len() as u64;
        let mut read = vec![false; members.len()];
        // Trusted only if each entry's line was read as one row of its own: a header that is
        // a record, a headerless line that reads as a header, or a quote left open (which
        // runs into the next line) would move records to other entries. Then each entry is
        // read alone.
        let batch = read_from(text.as_bytes(), "stream", self.options())
            .ok()
            .filter(|data| {
                data.records.len() + data.skipped.len() == members.len()
                    && data.lines.iter().all(|line| lines.contains(line))
            });
        if let Some(data) = batch {
            let names = &data.ignored_columns;
            let mut own_values = data.ignored_values.into_iter();
            for (record, line) in data.records.into_iter().zip(data.lines) {
                let at = (line - first_line) as usize;
                let own = own_values.next().unwrap_or_default();
                read[at] = true;
                readied.push(Readied {
                    entry: members[at].0,
                    record,
                    own: names.iter().cloned().zip(own).collect(),
                });
            }
        }
        for (at, &(i, line)) in members.iter().enumerate() {
            if read[at] {
                continue;
            }
            match self.read_csv_line(header, line) {
                Read::Record(record, own) => readied.push(Readied {
                    entry: i,
                    record,
                    own,
                }),
                Read::Bad(error) => dead.push((i, error)),
            }
        }
    }

    /// One CSV line read alone, for its own error.
    fn read_csv_line(&self, header: Option<&str>, line: &str) -> Read {
        let text = match header {
            Some(header) => format!("{header}\n{line}\n"),
            None => format!("{line}\n"),
        };
        let options = ReadOptions {
            skip_invalid: false,
            ..self.options()
        };
        let first_line = if header.is_some() { 2 } else { 1 };
        match read_from(text.as_bytes(), "record", options) {
            Ok(mut data) if data.records.len() == 1 && data.lines == [first_line] => {
                let own = data.ignored_values.pop().unwrap_or_default();
                let record = data.records.pop().expect("one record");
                Read::Record(record, data.ignored_columns.into_iter().zip(own).collect())
            }
            Ok(_) if header.is_some() => Read::Bad(format!(
                "the `{HEADER}` field is not a header naming the schema's columns: it reads as a record"
            )),
            Ok(_) => Read::Bad("the line holds more than one record".to_string()),
            Err(nadir_data::DataError::Empty { .. }) => {
                Read::Bad("the line reads as a header, not a record".to_string())
            }
            Err(nadir_data::DataError::InvalidRow { row, .. }) => {
                Read::Bad(row.problem.to_string())
            }
            Err(error) => Read::Bad(error.to_string()),
        }
    }

    fn read_json(&self, text: &str) -> Read {
        match read_json_records(text.as_bytes(), &self.fields) {
            Err(error) => Read::Bad(format!("malformed JSON: {error}")),
            Ok(batch) if !batch.single => {
                Read::Bad("expected one JSON object, found an array".to_string())
            }
            Ok(mut batch) => match batch.records.pop() {
                Some(record) => Read::Record(record, self.own_json_fields(text)),
                None => Read::Bad(batch.rejects.into_first().map_or_else(
                    || "the record could not be read".to_string(),
                    |row| row.problem.to_string(),
                )),
            },
        }
    }

    /// A JSON record's fields that its schema does not know (its identity, say), in its order,
    /// as CSV records keep their own columns; values as text, strings unquoted.
    fn own_json_fields(&self, text: &str) -> Own {
        let schema = self.model.pipeline.schema();
        let Ok(object) = serde_json::from_str::<IndexMap<String, Value>>(text) else {
            return Vec::new();
        };
        object
            .into_iter()
            .filter(|(name, _)| !schema.knows_column(&normalise_name(name)))
            .map(|(name, value)| match value {
                Value::String(text) => (name, text),
                other => (name, other.to_string()),
            })
            .collect()
    }

    fn options(&self) -> ReadOptions {
        ReadOptions {
            skip_invalid: true,
            keep_ignored: true,
            ..ReadOptions::with_schema(self.model.pipeline.schema().clone())
        }
    }
}

/// An entry's record and header as text; why not, for the dead letter.
fn texts(entry: &InputEntry) -> Result<(&str, Option<&str>), String> {
    fn text<'a>(field: &str, bytes: &'a [u8]) -> Result<&'a str, String> {
        std::str::from_utf8(bytes).map_err(|e| {
            format!(
                "the `{field}` field is not UTF-8 text (byte {} is not)",
                e.valid_up_to()
            )
        })
    }
    let record = entry
        .record
        .as_deref()
        .ok_or_else(|| format!("the entry has no `{RECORD}` field"))?;
    let record = text(RECORD, record)?;
    let header = entry
        .header
        .as_deref()
        .map(|header| text(HEADER, header))
        .transpose()?;
    if header.is_some_and(|header| header.contains(['\n', '\r'])) {
        return Err(format!("the `{HEADER}` field must be one line"));
    }
    Ok((record, header))
}

fn is_json(record: &str) -> bool {
    record.trim_start().starts_with('{')
}
