//! The output contract of a scored record: the names every front end writes — `nadir
//! predict`'s CSV and NDJSON, the HTTP API's results, the web page's table and download —
//! defined here once, so that the same model gives the same field names everywhere.
//!
//! - the verdict: [`ATTACK`] or [`NORMAL`] ([`verdict`], [`crate::file::Prediction::verdict`]);
//! - the score's field, by what the score is ([`ScoreKind`], from the catalogue:
//!   [`ModelKind::score`], [`ModelKind::score_field`]);
//! - which part of a hybrid fired ([`FIRED`], only for the models [`reports_fired`] names);
//! - the warnings: one [`nadir_data::UnseenCategory`] each, in its `Display` wording, joined by
//!   [`WARNING_SEPARATOR`] where a single text is written ([`warning_text`]);
//! - `nadir predict`'s columns, which the web page's download repeats ([`columns`]);
//! - a record's explanation, when asked for: [`EXPLANATION_COLUMNS`] after the others, the
//!   features as one compact text in CSV ([`explanation_text`]) or as an array of
//!   [`FeatureContribution`] objects (`feature`, `value`, `typical`, `contribution`), and for
//!   a hybrid the part explained and the nearest normal row ([`explanation_columns`]).

pub use crate::explain::FeatureContribution;
use crate::registry::ModelKind;
use nadir_data::UnseenCategory;

/// The verdict of a record scored at or above the threshold.
pub const ATTACK: &str = "attack";
/// The verdict of a record scored below the threshold.
pub const NORMAL: &str = "normal";
/// The field naming which part of a hybrid flagged the record.
pub const FIRED: &str = "fired";
/// The field naming a record's most probable attack family (empty or absent when the model
/// file has no family model).
pub const FAMILY: &str = "family";
/// The field holding the family model's probability of that family.
pub const FAMILY_PROBABILITY: &str = "family_probability";
/// The family fields, in order, after the score (and `fired`).
pub const FAMILY_COLUMNS: [&str; 2] = [FAMILY, FAMILY_PROBABILITY];
/// Joins a record's warnings where one text holds them all (a CSV cell).
pub const WARNING_SEPARATOR: &str = "; ";

/// The word for a prediction: [`ATTACK`] or [`NORMAL`].
pub fn verdict(is_attack: bool) -> &'static str {
    if is_attack { ATTACK } else { NORMAL }
}

/// What a model's score is, which names its field in every output. The catalogue gives each
/// model one ([`ModelKind::score`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScoreKind {
    /// The probability that the record is an attack (the classifiers).
    Probability,
    /// An anomaly score, not a probability (the isolation forest).
    AnomalyScore,
    /// A score combined from the model's parts, an attack at 0.5 and above (the hybrid).
    Combined,
}

impl ScoreKind {
    pub const ALL: [ScoreKind; 3] = [
        ScoreKind::Probability,
        ScoreKind::AnomalyScore,
        ScoreKind::Combined,
    ];

    /// The name of the score's field: the CSV column, the NDJSON and API key.
    pub fn field(self) -> &'static str {
        match self {
            ScoreKind::Probability => "probability",
            ScoreKind::AnomalyScore => "anomaly_score",
            ScoreKind::Combined => "score",
        }
    }

    /// What the score is, in words (for headings and documentation).
    pub fn description(self) -> &'static str {
        match self {
            ScoreKind::Probability => "probability of attack",
            ScoreKind::AnomalyScore => "anomaly score",
            ScoreKind::Combined => "combined score",
        }
    }

    /// The models whose score this is, in catalogue order.
    pub fn models(self) -> impl Iterator<Item = ModelKind> {
        ModelKind::ALL
            .into_iter()
            .filter(move |k| k.score() == self)
    }
}

/// Whether a model's results say which of its parts flagged a record ([`FIRED`]): the hybrid's.
pub fn reports_fired(kind: ModelKind) -> bool {
    kind == ModelKind::Hybrid
}

/// A record's warnings as one text: each unseen value's warning, joined by
/// [`WARNING_SEPARATOR`] (empty when there is none).
pub fn warning_text(unseen: &[UnseenCategory]) -> String {
    let mut text = String::new();
    for (i, u) in unseen.iter().enumerate() {
        if i > 0 {
            text.push_str(WARNING_SEPARATOR);
        }
        text.push_str(&u.to_string());
    }
    text
}

/// The columns of `nadir predict`'s CSV (and the keys of its NDJSON, in order) for a model of
/// `kind`: `row`, `line`, `prediction`, the score's field, `fired` for the models that
/// report it, [`FAMILY_COLUMNS`] (empty for a model file without a family model),
/// `warning`. The web page's download writes the same.
pub fn columns(kind: ModelKind) -> Vec<&'static str> {
    let mut columns = vec!["row", "line", "prediction", kind.score_field()];
    if reports_fired(kind) {
        columns.push(FIRED);
    }
    columns.extend(FAMILY_COLUMNS);
    columns.push("warning");
    columns
}

/// What an explanation's contributions add up to with its base: `probability` or
/// `log_odds` ([`crate::explain::Space`]).
pub const EXPLAINED: &str = "explained";
/// The explanation's base value: the model's output knowing nothing of the record.
pub const BASE_VALUE: &str = "base_value";
/// The record's strongest features and their contributions.
pub const EXPLANATION: &str = "explanation";
/// How the explanation was computed: `tree_shap`, `linear`, … ([`crate::explain::Method`]).
pub const EXPLANATION_METHOD: &str = "explanation_method";
/// The columns (and keys) an explanation adds after the others, in order.
pub const EXPLANATION_COLUMNS: [&str; 4] = [EXPLAINED, BASE_VALUE, EXPLANATION, EXPLANATION_METHOD];
/// Hybrids: the part whose output the explanation adds up to, `classifier` or `novelty`
/// ([`crate::explain::Part`]); a column after [`EXPLANATION_COLUMNS`] for the models
/// [`reports_fired`] names.
pub const EXPLAINED_PART: &str = "explained_part";
/// Hybrids whose novelty part is explained by distance shares: the most similar normal
/// training row, an object of every feature's value (NDJSON and JSON only).
pub const NEAREST_NORMAL: &str = "nearest_normal";

/// The columns (and keys) an explanation adds for a model of `kind`:
/// [`EXPLANATION_COLUMNS`], then [`EXPLAINED_PART`] for a hybrid.
pub fn explanation_columns(kind: ModelKind) -> Vec<&'static str> {
    let mut columns = EXPLANATION_COLUMNS.to_vec();
    if reports_fired(kind) {
        columns.push(EXPLAINED_PART);
    }
    columns
}
/// Joins the features of an explanation's compact text.
pub const CONTRIBUTION_SEPARATOR: &str = ";";

/// An explanation's features as one text, e.g. `srcbytes=491:+0.1200;flag=SF:-0.0500`: each
/// feature, its value in the record and its signed contribution to four decimals (the
/// NDJSON objects carry them in full).
pub fn explanation_text(features: &[FeatureContribution]) -> String {
    features
        .iter()
        .map(|f| format!("{}={}:{:+.4}", f.feature, f.value, f.contribution))
        .collect::<Vec<_>>()
        .join(CONTRIBUTION_SEPARATOR)
}

/// `nadir predict`'s columns for a file that carries columns of its own, such as a
/// connection's identity from `nadir extract` (addresses, ports, start time): [`columns`]
/// with `own` inserted after `line`, so that each verdict reads beside what it is about.
pub fn columns_with_own(kind: ModelKind, own: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = columns(kind).into_iter().map(String::from).collect();
    columns.splice(2..2, own.iter().cloned());
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score field of every model, as every front end writes it: classifiers a
    /// probability, the isolation forest an anomaly score, the hybrid its combined score.
    #[test]
    fn every_model_has_one_score_field() {
        for kind in ModelKind::ALL {
            let expected = match kind {
                ModelKind::IsolationForest
                | ModelKind::Autoencoder
                | ModelKind::NoveltyEnsemble => "anomaly_score",
                ModelKind::Hybrid => "score",
                _ => "probability",
            };
            assert_eq!(kind.score_field(), expected, "{kind}");
            assert_eq!(kind.score_field(), kind.score().field());
            assert_eq!(kind.is_detector(), expected != "probability", "{kind}");
            assert!(kind.score().models().any(|k| k == kind));
            let columns = columns(kind);
            assert_eq!(columns[3], expected);
            assert_eq!(columns.contains(&FIRED), kind == ModelKind::Hybrid);
            let family = columns.iter().position(|&c| c == FAMILY).unwrap();
            assert_eq!(columns[family..], [FAMILY, FAMILY_PROBABILITY, "warning"]);
        }
        let fields: Vec<&str> = ScoreKind::ALL.map(ScoreKind::field).to_vec();
        assert_eq!(fields, ["probability", "anomaly_score", "score"]);
        for score in ScoreKind::ALL {
            assert!(score.models().count() > 0, "{score:?} has no model");
        }
    }

    #[test]
    fn explanations_read_as_one_text() {
        let feature = |name: &str, value: &str, contribution| FeatureContribution {
            feature: name.into(),
            value: value.into(),
            typical: None,
            contribution,
        };
        assert_eq!(
            explanation_text(&[
                feature("srcbytes", "491", 0.12),
                feature("flag", "SF", -0.05)
            ]),
            "srcbytes=491:+0.1200;flag=SF:-0.0500"
        );
        assert_eq!(explanation_text(&[]), "");
        assert_eq!(
            serde_json::to_value(feature("srcbytes", "491", 0.12)).unwrap(),
            serde_json::json!({"feature": "srcbytes", "value": "491", "contribution": 0.12})
        );
    }

    #[test]
    fn verdicts_and_warnings_have_one_wording() {
        assert_eq!(verdict(true), "attack");
        assert_eq!(verdict(false), "normal");
        let unseen = |feature: &str, value: &str| UnseenCategory {
            row: 0,
            feature: feature.into(),
            value: value.into(),
        };
        assert_eq!(warning_text(&[]), "");
        assert_eq!(
            warning_text(&[unseen("service", "gopher_v2"), unseen("flag", "XX")]),
            "service value `gopher_v2` was not seen in training (encoded as none of the known values); \
             flag value `XX` was not seen in training (encoded as none of the known values)"
        );
        assert_eq!(
            nadir_data::UnseenRows(3).to_string(),
            "3 row(s) hold category values not seen in training (encoded as none of the known values)"
        );
    }
}
