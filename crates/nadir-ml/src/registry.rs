//! The catalogue of models: their names, their hyperparameters as one configuration, and
//! [`AnyModel`], the serialisable union that model files store.
//!
//! Adding a model means one variant in each of [`ModelKind`], [`ModelConfig`] and
//! [`AnyModel`]; the CLI, the protocol and the file format pick it up from here.

use crate::forest::{Bagging, BaggingParams, RandomForest, RandomForestParams};
use crate::gbdt::{GradientBoosting, GradientBoostingParams};
use crate::hybrid::{Hybrid, HybridParams};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::linear::{
    KernelSvm, KernelSvmParams, LinearSvm, LinearSvmParams, LogisticRegression,
    LogisticRegressionParams,
};
use crate::mlp::{Mlp, MlpParams};
use crate::model::{Classifier, Fit, FitError, PartScores};
use crate::tree::{DecisionTree, DecisionTreeParams};
use crate::voting::{Voting, VotingParams};
use nadir_data::Encoded;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Every model nadir can train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    LogisticRegression,
    LinearSvm,
    KernelSvm,
    DecisionTree,
    RandomForest,
    GradientBoosting,
    Mlp,
    Bagging,
    Voting,
    IsolationForest,
    Hybrid,
}

impl ModelKind {
    /// Whether a batch of up to [`crate::tree::IN_PLACE_ROWS`] rows is scored on the calling thread,
    /// without waiting for rayon's pool: true of the tree models. A server can score such
    /// batches on the thread that took the request; the others' small batches still go
    /// through the pool, where they may wait behind a long batch, which a thread that
    /// serves requests must not do.
    pub fn scores_small_batches_in_place(self) -> bool {
        matches!(
            self,
            ModelKind::DecisionTree | ModelKind::RandomForest | ModelKind::Bagging
        )
    }

    /// Every model nadir has.
    pub const ALL: [ModelKind; 11] = [
        ModelKind::LogisticRegression,
        ModelKind::LinearSvm,
        ModelKind::KernelSvm,
        ModelKind::DecisionTree,
        ModelKind::RandomForest,
        ModelKind::GradientBoosting,
        ModelKind::Mlp,
        ModelKind::Bagging,
        ModelKind::Voting,
        ModelKind::IsolationForest,
        ModelKind::Hybrid,
    ];

    /// What `--models all` selects: every supervised model, in catalogue order.
    pub fn supervised() -> Vec<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .filter(|k| !k.is_detector())
            .collect()
    }

    /// Whether the model's score is not a probability that the record is an attack: the
    /// isolation forest's anomaly score, or the hybrid's combined score (see
    /// [`crate::hybrid`]). Such models fix their own threshold.
    pub fn is_detector(self) -> bool {
        matches!(self, ModelKind::IsolationForest | ModelKind::Hybrid)
    }

    /// The model's name: its file name and its section in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "logistic_regression",
            ModelKind::LinearSvm => "linear_svm",
            ModelKind::KernelSvm => "kernel_svm",
            ModelKind::DecisionTree => "decision_tree",
            ModelKind::RandomForest => "random_forest",
            ModelKind::GradientBoosting => "gradient_boosting",
            ModelKind::Mlp => "mlp",
            ModelKind::Bagging => "bagging",
            ModelKind::Voting => "voting",
            ModelKind::IsolationForest => "isolation_forest",
            ModelKind::Hybrid => "hybrid",
        }
    }

    /// The short name accepted by `--models`.
    pub fn short(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "lr",
            ModelKind::LinearSvm => "svm",
            ModelKind::KernelSvm => "ksvm",
            ModelKind::DecisionTree => "dt",
            ModelKind::RandomForest => "rf",
            ModelKind::GradientBoosting => "gb",
            ModelKind::Mlp => "mlp",
            ModelKind::Bagging => "bag",
            ModelKind::Voting => "vote",
            ModelKind::IsolationForest => "iforest",
            ModelKind::Hybrid => "hybrid",
        }
    }

    /// Parses a list like `rf,gb,logistic_regression` or `all` (the supervised models),
    /// keeping catalogue order.
    pub fn parse_list(text: &str) -> Result<Vec<ModelKind>, UnknownModel> {
        let mut kinds = Vec::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word == "all" {
                kinds.extend(ModelKind::supervised());
                continue;
            }
            let kind = ModelKind::ALL
                .into_iter()
                .find(|k| k.name() == word || k.short() == word)
                .ok_or_else(|| UnknownModel(word.to_string()))?;
            kinds.push(kind);
        }
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Error, PartialEq)]
#[error("unknown model `{name}`; known: all (the supervised ones), {known}", name = .0, known = known_models())]
pub struct UnknownModel(pub String);

fn known_models() -> String {
    ModelKind::ALL
        .iter()
        .map(|k| format!("{} ({})", k.name(), k.short()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hyperparameters of every model, one TOML section each (`[random_forest]`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub logistic_regression: LogisticRegressionParams,
    pub linear_svm: LinearSvmParams,
    pub kernel_svm: KernelSvmParams,
    pub decision_tree: DecisionTreeParams,
    pub random_forest: RandomForestParams,
    pub gradient_boosting: GradientBoostingParams,
    pub mlp: MlpParams,
    pub bagging: BaggingParams,
    pub voting: VotingParams,
    pub isolation_forest: IsolationForestParams,
    pub hybrid: HybridParams,
}

/// A configuration that could not be read or applied.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Toml(String),
    #[error("`--set {0}`: expected model.parameter=value, e.g. random_forest.trees=300")]
    SetSyntax(String),
}

impl ModelConfig {
    /// Reads a TOML configuration, then applies `--set model.parameter=value` overrides. The
    /// value is read as TOML (`300`, `0.5`, `true`, `[64, 32]`), falling back to a string.
    pub fn from_toml(text: &str, overrides: &[String]) -> Result<ModelConfig, ConfigError> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
        for item in overrides {
            let (path, value) = item
                .split_once('=')
                .ok_or_else(|| ConfigError::SetSyntax(item.clone()))?;
            let (section, key) = path
                .trim()
                .split_once('.')
                .ok_or_else(|| ConfigError::SetSyntax(item.clone()))?;
            let value = parse_value(value.trim());
            let section = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match section {
                toml::Value::Table(t) => {
                    t.insert(key.to_string(), value);
                }
                _ => return Err(ConfigError::SetSyntax(item.clone())),
            }
        }
        ModelConfig::deserialize(table).map_err(|e| ConfigError::Toml(e.to_string()))
    }

    /// The whole configuration as a TOML file, each section headed by the names that select
    /// the model: what `nadir models` prints and `--config` reads back.
    pub fn annotated_toml(&self) -> String {
        let mut out = String::new();
        for kind in ModelKind::ALL {
            let names = if kind.short() == kind.name() {
                kind.name().to_string()
            } else {
                format!("{} or {}", kind.name(), kind.short())
            };
            out.push_str(&format!("[{}]  # --models {names}\n", kind.name()));
            out.push_str(&self.section_toml(kind));
            out.push('\n');
        }
        out
    }

    /// The hyperparameters of one model, as TOML, for model files and `--help` output.
    pub fn section_toml(&self, kind: ModelKind) -> String {
        let full = toml::Value::try_from(self).expect("configuration serialises");
        full.get(kind.name())
            .and_then(|v| toml::to_string(v).ok())
            .unwrap_or_default()
    }
}

fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// A fitted model of any kind: what a model file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AnyModel {
    LogisticRegression(LogisticRegression),
    LinearSvm(LinearSvm),
    KernelSvm(KernelSvm),
    DecisionTree(DecisionTree),
    RandomForest(RandomForest),
    GradientBoosting(GradientBoosting),
    Mlp(Mlp),
    Bagging(Bagging),
    Voting(Voting),
    IsolationForest(IsolationForest),
    Hybrid(Hybrid),
}

macro_rules! each_model {
    ($value:expr, $model:ident => $body:expr) => {
        match $value {
            AnyModel::LogisticRegression($model) => $body,
            AnyModel::LinearSvm($model) => $body,
            AnyModel::KernelSvm($model) => $body,
            AnyModel::DecisionTree($model) => $body,
            AnyModel::RandomForest($model) => $body,
            AnyModel::GradientBoosting($model) => $body,
            AnyModel::Mlp($model) => $body,
            AnyModel::Bagging($model) => $body,
            AnyModel::Voting($model) => $body,
            AnyModel::IsolationForest($model) => $body,
            AnyModel::Hybrid($model) => $body,
        }
    };
}

impl AnyModel {
    pub fn kind(&self) -> ModelKind {
        match self {
            AnyModel::LogisticRegression(_) => ModelKind::LogisticRegression,
            AnyModel::LinearSvm(_) => ModelKind::LinearSvm,
            AnyModel::KernelSvm(_) => ModelKind::KernelSvm,
            AnyModel::DecisionTree(_) => ModelKind::DecisionTree,
            AnyModel::RandomForest(_) => ModelKind::RandomForest,
            AnyModel::GradientBoosting(_) => ModelKind::GradientBoosting,
            AnyModel::Mlp(_) => ModelKind::Mlp,
            AnyModel::Bagging(_) => ModelKind::Bagging,
            AnyModel::Voting(_) => ModelKind::Voting,
            AnyModel::IsolationForest(_) => ModelKind::IsolationForest,
            AnyModel::Hybrid(_) => ModelKind::Hybrid,
        }
    }

    /// Importance of each tree column (see [`crate::binning::NUM_COLUMNS`]) for tree models.
    pub fn feature_importances(&self) -> Option<Vec<f64>> {
        match self {
            AnyModel::DecisionTree(m) => Some(m.feature_importances()),
            AnyModel::RandomForest(m) => Some(m.feature_importances()),
            AnyModel::GradientBoosting(m) => Some(m.feature_importances()),
            AnyModel::Bagging(m) => Some(m.feature_importances()),
            _ => None,
        }
    }
}

impl Classifier for AnyModel {
    fn score(&self, data: &Encoded) -> Vec<f64> {
        each_model!(self, m => m.score(data))
    }

    fn describe(&self) -> String {
        each_model!(self, m => m.describe())
    }

    fn fixed_threshold(&self) -> Option<f64> {
        each_model!(self, m => m.fixed_threshold())
    }

    fn score_with_parts(&self, data: &Encoded) -> (Vec<f64>, Option<Vec<PartScores>>) {
        each_model!(self, m => m.score_with_parts(data))
    }
}

/// Fits one model of `kind` with its section of `config`. A voting ensemble fits its
/// members here; [`crate::protocol`] instead reuses members it has already fitted.
pub fn fit(
    kind: ModelKind,
    config: &ModelConfig,
    data: &Encoded,
    labels: &[bool],
    seed: u64,
) -> Result<AnyModel, FitError> {
    Ok(match kind {
        ModelKind::LogisticRegression => {
            AnyModel::LogisticRegression(config.logistic_regression.fit(data, labels, seed)?)
        }
        ModelKind::LinearSvm => AnyModel::LinearSvm(config.linear_svm.fit(data, labels, seed)?),
        ModelKind::KernelSvm => AnyModel::KernelSvm(config.kernel_svm.fit(data, labels, seed)?),
        ModelKind::DecisionTree => {
            AnyModel::DecisionTree(config.decision_tree.fit(data, labels, seed)?)
        }
        ModelKind::RandomForest => {
            AnyModel::RandomForest(config.random_forest.fit(data, labels, seed)?)
        }
        ModelKind::GradientBoosting => {
            AnyModel::GradientBoosting(config.gradient_boosting.fit(data, labels, seed)?)
        }
        ModelKind::Mlp => AnyModel::Mlp(config.mlp.fit(data, labels, seed)?),
        ModelKind::Bagging => AnyModel::Bagging(config.bagging.fit(data, labels, seed)?),
        ModelKind::IsolationForest => {
            AnyModel::IsolationForest(config.isolation_forest.fit(data, labels, seed)?)
        }
        ModelKind::Hybrid => AnyModel::Hybrid(config.hybrid.fit_with(config, data, labels, seed)?),
        ModelKind::Voting => {
            let members = config
                .voting
                .checked_members()?
                .iter()
                .map(|&member| fit(member, config, data, labels, seed))
                .collect::<Result<Vec<_>, _>>()?;
            AnyModel::Voting(Voting::new(&config.voting, members)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_accept_names_short_names_and_all() {
        assert_eq!(
            ModelKind::parse_list("rf, logistic_regression,rf").unwrap(),
            [ModelKind::LogisticRegression, ModelKind::RandomForest]
        );
        let all = ModelKind::parse_list("all").unwrap();
        assert_eq!(all.len(), 9);
        assert!(!all.contains(&ModelKind::IsolationForest));
        assert!(!all.contains(&ModelKind::Hybrid));
        assert_eq!(
            ModelKind::parse_list("all,iforest,hybrid").unwrap(),
            ModelKind::ALL
        );
        assert_eq!(
            ModelKind::parse_list("rf,xgb"),
            Err(UnknownModel("xgb".into()))
        );
    }

    #[test]
    fn overrides_apply_over_the_file_and_are_typed() {
        let config = ModelConfig::from_toml(
            "[random_forest]\ntrees = 10\n",
            &["random_forest.trees=300".into(), "mlp.hidden=[8, 4]".into()],
        )
        .unwrap();
        assert_eq!(config.random_forest.trees, 300);
        assert_eq!(config.mlp.hidden, [8, 4]);
        assert_eq!(config.decision_tree, DecisionTreeParams::default());
    }

    #[test]
    fn the_printed_configuration_reads_back_as_itself() {
        let mut config = ModelConfig::default();
        config.random_forest.trees = 7;
        config.mlp.hidden = vec![5];
        let text = config.annotated_toml();
        assert!(text.contains("[mlp]  # --models mlp\n"));
        assert!(text.contains("[random_forest]  # --models random_forest or rf\n"));
        assert_eq!(ModelConfig::from_toml(&text, &[]).unwrap(), config);
    }

    #[test]
    fn unknown_parameters_and_bad_syntax_are_errors() {
        let unknown = ModelConfig::from_toml("", &["random_forest.tress=3".into()]).unwrap_err();
        assert!(unknown.to_string().contains("tress"), "{unknown}");
        let syntax = ModelConfig::from_toml("", &["random_forest=3".into()]).unwrap_err();
        assert!(matches!(syntax, ConfigError::SetSyntax(_)));
        let wrong_type = ModelConfig::from_toml("", &["random_forest.trees=many".into()]);
        assert!(wrong_type.is_err());
    }
}
