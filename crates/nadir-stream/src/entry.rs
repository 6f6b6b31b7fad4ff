//! The stream contract: what an input entry holds, and what a result or a dead letter
//! writes. Defined here once; `nadir publish` writes input entries by it, `nadir stream` reads
//! them and writes the other two, and the tests and benches read them by these names.
//!
//! Input entry: [`RECORD`] holds one record, a JSON object or one CSV line; [`HEADER`]
//! (optional) the CSV header line naming the line's columns. Without a header the line is
//! headerless: the schema's features in order, then optionally its label.
//!
//! Result: [`ID`], the record's own columns (those its schema does not know, such as a
//! connection's identity from `nadir extract`), [`PREDICTION`], the model's score field
//! ([`nadir_ml::ModelKind::score_field`]), [`nadir_ml::output::FIRED`] for the hybrid,
//! [`WARNING`] when there is one, with `--explain K` the explanation in `nadir predict`'s
//! columns ([`output::EXPLANATION_COLUMNS`]: `explained`, `base_value`, `explanation`, the
//! features as one compact text), [`MODEL`], [`CONSUMER`] and [`SCORED_AT_US`].
//!
//! With `--format ecs` ([`ResultFormat::Ecs`]) a result is instead the record's Elastic
//! Common Schema document ([`nadir_ml::ecs`]; the entry's ID as `event.id`): on standard
//! output one per line, in the output stream as one field, [`ECS`], holding its JSON text;
//! the explanation, if asked for, as `nadir.explanation`.
//!
//! Dead letter: [`ID`], [`ERROR`], [`DELIVERIES`], [`CONSUMER`], and the entry's
//! [`RECORD`] and [`HEADER`] as they came.

use indexmap::IndexMap;
use nadir_ml::explain::TopFeatures;
use nadir_ml::file::Prediction;
use nadir_ml::{ModelKind, ecs, output};
use serde_json::Value;
use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

/// What a result is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// The result's fields ([`Scored::fields`]; on standard output [`Scored::json`]).
    #[default]
    Fields,
    /// The record's ECS document ([`Scored::ecs`]).
    Ecs,
}

/// The input field holding the record.
pub const RECORD: &str = "record";
/// The input field holding a CSV record's header line.
pub const HEADER: &str = "header";

/// The input entry's ID, in a result or a dead letter.
pub const ID: &str = "id";
/// The verdict: [`output::ATTACK`] or [`output::NORMAL`].
pub const PREDICTION: &str = "prediction";
/// The record's warnings (unseen categories), present only when there are some.
pub const WARNING: &str = "warning";
/// The model kind's name.
pub const MODEL: &str = "model";
/// The consumer that wrote the result or the dead letter.
pub const CONSUMER: &str = "consumer";
/// When the result was built, in microseconds since the Unix epoch.
pub const SCORED_AT_US: &str = "scored_at_us";
/// Put before a record's own column whose name a result field has (`record_id`).
pub const OWN_PREFIX: &str = "record_";
/// The output stream's field holding a result's ECS document, with `--format ecs`.
pub const ECS: &str = "ecs";
/// Why an entry was dead-lettered, in one line.
pub const ERROR: &str = "error";
/// How many times the entry had been delivered when it was dead-lettered.
pub const DELIVERIES: &str = "deliveries";

/// An entry read from the input stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEntry {
    pub id: String,
    /// [`RECORD`]'s value as sent; `None` when the entry has none (it is dead-lettered, as is
    /// one that is not UTF-8 text, bytes kept).
    pub record: Option<Vec<u8>>,
    /// [`HEADER`]'s value as sent.
    pub header: Option<Vec<u8>>,
    /// Deliveries so far, this one included, where known (claimed entries).
    pub deliveries: u64,
}

/// What became of an input entry: a result, or a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Scored(Scored),
    Dead(DeadLetter),
}

/// A scored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: String,
    /// The record's own columns, those its schema does not know: name and value, in the
    /// record's order.
    pub own: Vec<(String, String)>,
    /// The record's value of the feature naming its transport
    /// ([`nadir_ml::ecs::transport_feature`]), for its ECS document.
    pub transport: Option<String>,
    pub prediction: Prediction,
    /// With `--explain K`: the record's K strongest features.
    pub explanation: Option<TopFeatures>,
}

/// An entry that could not be scored, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub entry: InputEntry,
    pub error: String,
}

/// What every result of one consumer shares.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub model: ModelKind,
    pub consumer: &'a str,
    pub scored_at_us: u128,
}

impl Scored {
    /// The result's fields, in the contract's order, as text (borrowed where they can be:
    /// a consumer writes many a second).
    pub fn fields<'a>(&'a self, stamp: &Stamp<'a>) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
        let p = &self.prediction;
        let mut fields: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(self.own.len() + 8);
        fields.push((ID.into(), Cow::Borrowed(self.id.as_str())));
        fields.extend(
            self.own
                .iter()
                .map(|(name, value)| (own_name(name), Cow::Borrowed(value.as_str()))),
        );
        fields.push((PREDICTION.into(), Cow::Borrowed(p.verdict())));
        fields.push((
            stamp.model.score_field().into(),
            Cow::Owned(p.score.to_string()),
        ));
        if output::reports_fired(stamp.model) {
            fields.push((
                output::FIRED.into(),
                Cow::Borrowed(p.fired.map_or("", |f| f.name())),
            ));
        }
        if let Some(family) = &p.family {
            fields.push((output::FAMILY.into(), Cow::Borrowed(family.family.as_str())));
            fields.push((
                output::FAMILY_PROBABILITY.into(),
                Cow::Owned(family.probability.to_string()),
            ));
        }
        if !p.unseen.is_empty() {
            fields.push((WARNING.into(), Cow::Owned(p.warning_text())));
        }
        if let Some(e) = &self.explanation {
            fields.push((output::EXPLAINED.into(), Cow::Borrowed(e.space.name())));
            fields.push((output::BASE_VALUE.into(), Cow::Owned(e.base.to_string())));
            fields.push((
                output::EXPLANATION.into(),
                Cow::Owned(output::explanation_text(&e.features)),
            ));
        }
        fields.push((MODEL.into(), Cow::Borrowed(stamp.model.name())));
        fields.push((CONSUMER.into(), Cow::Borrowed(stamp.consumer)));
        fields.push((
            SCORED_AT_US.into(),
            Cow::Owned(stamp.scored_at_us.to_string()),
        ));
        fields
    }

    /// The result as an ECS document ([`nadir_ml::ecs::document`]): the model's name as
    /// `rule.name`, the entry's ID as `event.id`, the record's own columns for its source,
    /// destination and start.
    pub fn ecs(&self, stamp: &Stamp<'_>) -> Value {
        let scoring = ecs::Scoring {
            rule: stamp.model.name(),
            kind: stamp.model,
            at: UNIX_EPOCH
                + Duration::from_micros(u64::try_from(stamp.scored_at_us).unwrap_or(u64::MAX)),
        };
        let subject = ecs::Subject::new(
            self.own
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            self.transport.as_deref(),
        );
        let mut document = ecs::document(
            &scoring,
            ecs::Place::Entry(&self.id),
            &self.prediction,
            &subject,
        );
        if let Some(explanation) = &self.explanation {
            ecs::add_explanation(&mut document, explanation);
        }
        document
    }

    /// The result as one JSON object: the same fields in the same order, the score a number,
    /// and an explanation as `nadir predict --format ndjson` writes it (`base_value` a
    /// number, `explanation` an array of objects).
    pub fn json(&self, stamp: &Stamp<'_>) -> IndexMap<String, Value> {
        let score_field = stamp.model.score_field();
        self.fields(stamp)
            .into_iter()
            .map(|(name, value)| {
                let value = match (&*name, &self.explanation, &self.prediction.family) {
                    (field, _, _) if field == score_field => Value::from(self.prediction.score),
                    (output::FAMILY_PROBABILITY, _, Some(family)) => {
                        Value::from(family.probability)
                    }
                    (output::BASE_VALUE, Some(e), _) => Value::from(e.base),
                    (output::EXPLANATION, Some(e), _) => Value::Array(
                        e.features
                            .iter()
                            .map(|f| serde_json::to_value(f).expect("features serialise"))
                            .collect(),
                    ),
                    _ => Value::from(value.into_owned()),
                };
                (name.into_owned(), value)
            })
            .collect()
    }
}

/// A record's own column as a result names it: as it is, or after [`OWN_PREFIX`] when a
/// result field has the name (a record's `id` column must not hide the entry's ID) or when
/// it starts with the prefix already (so that no two columns end up with one name).
fn own_name(name: &str) -> Cow<'_, str> {
    let result_fields = [
        ID,
        PREDICTION,
        output::FIRED,
        output::FAMILY,
        output::FAMILY_PROBABILITY,
        WARNING,
        MODEL,
        CONSUMER,
        SCORED_AT_US,
    ];
    let mut taken = result_fields
        .into_iter()
        .chain(output::EXPLANATION_COLUMNS)
        .chain(output::ScoreKind::ALL.map(output::ScoreKind::field));
    if name.starts_with(OWN_PREFIX) || taken.any(|field| field == name) {
        Cow::Owned(format!("{OWN_PREFIX}{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

impl DeadLetter {
    /// The dead letter's fields; the entry's own as they came, bytes and all.
    pub fn fields(&self, consumer: &str) -> Vec<(&'static str, Vec<u8>)> {
        let entry = &self.entry;
        let mut fields = vec![
            (ID, entry.id.clone().into_bytes()),
            (ERROR, self.error.clone().into_bytes()),
            (DELIVERIES, entry.deliveries.to_string().into_bytes()),
            (CONSUMER, consumer.as_bytes().to_vec()),
        ];
        if let Some(record) = &entry.record {
            fields.push((RECORD, record.clone()));
        }
        if let Some(header) = &entry.header {
            fields.push((HEADER, header.clone()));
        }
        fields
    }
}
