//! The catalogue of models: one table (`catalogue!`'s invocation below) from which the
//! model kinds, their names, the configuration of every model's hyperparameters, the
//! serialisable union [`AnyModel`] that model files store, and the dispatch to each model are
//! generated.
//!
//! Adding a model means its own file (hyperparameters implementing [`Fit`], or [`BuildModel`]
//! for a model made of other models, and a fitted model implementing [`Classifier`]) and one
//! line at the end of the table. The CLI, the protocols and the file format pick it up from
//! here.

use crate::autoencoder::{Autoencoder, AutoencoderParams};
use crate::ensemble::{NoveltyEnsemble, NoveltyEnsembleParams};
use crate::forest::{Forest, ForestParams};
use crate::gbdt::{GradientBoosting, GradientBoostingParams};
use crate::hybrid::{Hybrid, HybridParams};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::linear::{LogisticRegression, LogisticRegressionParams, Svm, SvmParams};
use crate::mlp::{Mlp, MlpParams};
use crate::model::{Classifier, Fit, FitError, InputWidth, Inputs, ParamGuard, PartScores};
use crate::output::ScoreKind;
use crate::tree::{DecisionTree, DecisionTreeParams};
use crate::voting::{Voting, VotingParams};
use nadir_data::Encoded;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::cell::Cell;
use std::fmt;
use thiserror::Error;

/// How the catalogue makes a model from its section of the configuration. Every model that
/// [`Fit`]s does so from the rows alone; a model made of other models (voting, the hybrid)
/// names them as its parts, which `crate::fitting::Fits` fits first on the same rows, once
/// each, and hands to [`BuildModel::build`].
pub trait BuildModel: ParamGuard {
    type Model: Classifier;

    /// The models this one is made of, in the order [`BuildModel::build`] takes them.
    fn parts(&self) -> Vec<ModelKind> {
        Vec::new()
    }

    /// Makes the model from its parts, fitted on `data`, and from `data` itself.
    fn build(
        &self,
        parts: Vec<AnyModel>,
        data: &Encoded,
        labels: &[bool],
        seed: u64,
    ) -> Result<Self::Model, FitError>;
}

impl<P: Fit> BuildModel for P {
    type Model = P::Model;

    fn build(
        &self,
        _no_parts: Vec<AnyModel>,
        data: &Encoded,
        labels: &[bool],
        seed: u64,
    ) -> Result<P::Model, FitError> {
        self.fit(data, labels, seed)
    }
}

/// How deep models may hold models: a voting ensemble of hybrids, or a hybrid whose
/// classifier votes. Anything deeper is a model made of itself, which configurations refuse
/// ([`ModelConfig::check`]); a damaged or hostile file could nest parts so deep that decoding
/// them, which recurses, would overflow the stack, so decoding refuses them first.
const MAX_PART_DEPTH: usize = 2;

thread_local! {
    /// The parts being decoded on this thread, one inside the other.
    static PART_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Deserialises the parts of a model made of models (a hybrid's classifier, the members of a
/// voting ensemble): serde's `deserialize_with` for those fields. Refuses parts nested
/// deeper than [`MAX_PART_DEPTH`] before decoding them.
pub(crate) fn deserialize_parts<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    /// Leaves a level of parts, however decoding it ends.
    struct Level(usize);
    impl Drop for Level {
        fn drop(&mut self) {
            PART_DEPTH.set(self.0);
        }
    }
    let depth = PART_DEPTH.get();
    if depth >= MAX_PART_DEPTH {
        return Err(crate::model::refusal(format!(
            "models nested more than {MAX_PART_DEPTH} deep: at most a voting ensemble of \
             hybrids or a hybrid whose classifier votes"
        )));
    }
    let _level = Level(depth);
    PART_DEPTH.set(depth + 1);
    T::deserialize(deserializer)
}

/// `Some(importances)` for the models the table marks as having them.
macro_rules! importances_of {
    (true, $model:expr) => {
        Some($model.feature_importances())
    };
    (false, $model:expr) => {
        None
    };
}

/// A model's default hyperparameters: its preset when the table names one, else its
/// hyperparameters' `Default`.
macro_rules! defaults_of {
    ($params:ty) => {
        <$params>::default()
    };
    ($params:ty, $preset:expr) => {
        $preset
    };
}

/// Generates the catalogue from one line per model: its kind, its name (the configuration's
/// section, the file name, the serialised name), its short name for `--models`, its
/// hyperparameters and fitted model types (several models may be presets of one type: then
/// `params: Type = preset` gives the entry's defaults), and what it is: what its `score` is (a
/// [`ScoreKind`]: an attack probability, or not, and then the model is a detector that fixes
/// its own threshold; the kind names the score's field in every output), scored `in_place`
/// (small batches on the calling thread), and whether it has per-column `importances`.
macro_rules! catalogue {
    ($(
        $kind:ident {
            name: $name:ident,
            short: $short:literal,
            params: $params:ty $(= $preset:expr)?,
            model: $model:ty,
            score: $score:ident,
            in_place: $in_place:literal,
            importances: $importances:tt $(,)?
        }
    ),+ $(,)?) => {
        /// Every model nadir can train.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum ModelKind {
            $($kind),+
        }

        impl ModelKind {
            /// Every model nadir has, in catalogue order.
            pub const ALL: [ModelKind; [$(stringify!($kind)),+].len()] = [$(ModelKind::$kind),+];

            /// The model's name: its file name and its section in the configuration.
            pub fn name(self) -> &'static str {
                match self {
                    $(ModelKind::$kind => stringify!($name)),+
                }
            }

            /// The short name accepted by `--models`.
            pub fn short(self) -> &'static str {
                match self {
                    $(ModelKind::$kind => $short),+
                }
            }

            /// What the model's score is; its [`ScoreKind::field`] names it in every output
            /// (see [`crate::output`]).
            pub fn score(self) -> ScoreKind {
                match self {
                    $(ModelKind::$kind => ScoreKind::$score),+
                }
            }

            /// Whether a batch of up to [`crate::tree::IN_PLACE_ROWS`] rows is scored on the
            /// calling thread, without waiting for rayon's pool: true of the tree models. A
            /// server can score such batches on the thread that took the request; the
            /// others' small batches still go through the pool, where they may wait behind a
            /// long batch, which a thread that serves requests must not do.
            pub fn scores_small_batches_in_place(self) -> bool {
                match self {
                    $(ModelKind::$kind => $in_place),+
                }
            }
        }

        /// Hyperparameters of every model, one TOML section each (`[random_forest]`, …). A
        /// section read from TOML holds its model's defaults (its preset's, for models that
        /// are presets of one type) with the keys given replacing theirs.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "ConfigSections")]
        pub struct ModelConfig {
            $(pub $name: $params),+
        }

        impl Default for ModelConfig {
            /// Every model's defaults.
            fn default() -> Self {
                ModelConfig {
                    $($name: defaults_of!($params $(, $preset)?)),+
                }
            }
        }

        /// The sections of a configuration as written, before they are read over the
        /// defaults; a section of no model is an error.
        #[derive(Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct ConfigSections {
            $($name: Option<toml::Table>),+
        }

        impl TryFrom<ConfigSections> for ModelConfig {
            type Error = String;

            fn try_from(sections: ConfigSections) -> Result<ModelConfig, String> {
                let defaults = ModelConfig::default();
                Ok(ModelConfig {
                    $($name: over_defaults(
                        stringify!($name),
                        defaults.$name,
                        sections.$name,
                    )?),+
                })
            }
        }

        impl ModelConfig {
            /// The models that `kind`'s section names as its parts (see [`BuildModel`]).
            pub fn parts(&self, kind: ModelKind) -> Vec<ModelKind> {
                match kind {
                    $(ModelKind::$kind => self.$name.parts()),+
                }
            }

            /// Checks `kind`'s section alone.
            fn check_section(&self, kind: ModelKind) -> Result<(), FitError> {
                match kind {
                    $(ModelKind::$kind => self.$name.check()),+
                }
            }
        }

        /// A fitted model of any kind: what a model file holds. Model files store the
        /// variant's position in the table, so models are only ever added at its end.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum AnyModel {
            $($kind($model)),+
        }

        impl AnyModel {
            pub fn kind(&self) -> ModelKind {
                match self {
                    $(AnyModel::$kind(_) => ModelKind::$kind),+
                }
            }

            /// The widths of the rows the model and its parts read (see [`InputWidth`]).
            pub fn input_widths(&self) -> Vec<InputWidth> {
                match self {
                    $(AnyModel::$kind(model) => model.input_widths()),+
                }
            }

            /// Importance of each tree column (see [`crate::binning::tree_columns`]) for tree
            /// models.
            pub fn feature_importances(&self) -> Option<Vec<f64>> {
                match self {
                    $(AnyModel::$kind(_model) => importances_of!($importances, _model)),+
                }
            }
        }

        impl Classifier for AnyModel {
            fn score(&self, data: &Encoded) -> Vec<f64> {
                match self {
                    $(AnyModel::$kind(model) => model.score(data)),+
                }
            }

            fn describe(&self) -> String {
                match self {
                    $(AnyModel::$kind(model) => model.describe()),+
                }
            }

            fn fixed_threshold(&self) -> Option<f64> {
                match self {
                    $(AnyModel::$kind(model) => model.fixed_threshold()),+
                }
            }

            fn score_with_parts(&self, data: &Encoded) -> (Vec<f64>, Option<Vec<PartScores>>) {
                match self {
                    $(AnyModel::$kind(model) => model.score_with_parts(data)),+
                }
            }
        }

        /// Makes one model of `kind` with its section of `config` from `parts`, the models
        /// [`ModelConfig::parts`] names, already fitted on `data`: see
        /// [`crate::fitting::Fits`], which fits through here.
        pub(crate) fn build(
            kind: ModelKind,
            config: &ModelConfig,
            parts: Vec<AnyModel>,
            data: &Encoded,
            labels: &[bool],
            seed: u64,
        ) -> Result<AnyModel, FitError> {
            Ok(match kind {
                $(ModelKind::$kind => {
                    AnyModel::$kind(config.$name.build(parts, data, labels, seed)?)
                }),+
            })
        }
    };
}

// The catalogue. Model files store a model's position here: add new models at the end.
catalogue! {
    LogisticRegression {
        name: logistic_regression, short: "lr",
        params: LogisticRegressionParams, model: LogisticRegression,
        score: Probability, in_place: false, importances: false,
    },
    LinearSvm {
        name: linear_svm, short: "svm",
        params: SvmParams = SvmParams::linear(), model: Svm,
        score: Probability, in_place: false, importances: false,
    },
    KernelSvm {
        name: kernel_svm, short: "ksvm",
        params: SvmParams = SvmParams::kernel(), model: Svm,
        score: Probability, in_place: false, importances: false,
    },
    DecisionTree {
        name: decision_tree, short: "dt",
        params: DecisionTreeParams, model: DecisionTree,
        score: Probability, in_place: true, importances: true,
    },
    RandomForest {
        name: random_forest, short: "rf",
        params: ForestParams = ForestParams::random_forest(), model: Forest,
        score: Probability, in_place: true, importances: true,
    },
    GradientBoosting {
        name: gradient_boosting, short: "gb",
        params: GradientBoostingParams, model: GradientBoosting,
        score: Probability, in_place: false, importances: true,
    },
    Mlp {
        name: mlp, short: "mlp",
        params: MlpParams, model: Mlp,
        score: Probability, in_place: false, importances: false,
    },
    Bagging {
        name: bagging, short: "bag",
        params: ForestParams = ForestParams::bagging(), model: Forest,
        score: Probability, in_place: true, importances: true,
    },
    Voting {
        name: voting, short: "vote",
        params: VotingParams, model: Voting,
        score: Probability, in_place: false, importances: false,
    },
    IsolationForest {
        name: isolation_forest, short: "iforest",
        params: IsolationForestParams, model: IsolationForest,
        score: AnomalyScore, in_place: false, importances: false,
    },
    Hybrid {
        name: hybrid, short: "hybrid",
        params: HybridParams, model: Hybrid,
        score: Combined, in_place: false, importances: false,
    },
    Autoencoder {
        name: autoencoder, short: "ae",
        params: AutoencoderParams, model: Autoencoder,
        score: AnomalyScore, in_place: false, importances: false,
    },
    NoveltyEnsemble {
        name: novelty_ensemble, short: "ens",
        params: NoveltyEnsembleParams, model: NoveltyEnsemble,
        score: AnomalyScore, in_place: false, importances: false,
    },
}

impl ModelKind {
    /// Whether the model's score is not a probability that the record is an attack:
    /// the isolation forest's anomaly score, or the hybrid's combined score (see
    /// [`crate::hybrid`]). Such models fix their own threshold.
    pub fn is_detector(self) -> bool {
        self.score() != ScoreKind::Probability
    }

    /// The name of the score's field in every output: `nadir predict`'s CSV column and
    /// NDJSON key, the HTTP API's result key, the web page's download (see [`crate::output`]).
    pub fn score_field(self) -> &'static str {
        self.score().field()
    }

    /// What `--models all` selects: every supervised model, in catalogue order.
    pub fn supervised() -> Vec<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .filter(|k| !k.is_detector())
            .collect()
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

/// A hyperparameter refused before any fit: the model, the parameter and its value.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ParamError {
    #[error("invalid hyperparameter {model}.{parameter} = {value}: {reason}")]
    Invalid {
        model: ModelKind,
        parameter: String,
        value: String,
        reason: String,
    },
    #[error("{model} is made of itself: {chain}")]
    MadeOfItself { model: ModelKind, chain: String },
}

impl From<ParamError> for FitError {
    fn from(error: ParamError) -> FitError {
        match error {
            ParamError::Invalid {
                model,
                parameter,
                value,
                reason,
            } => FitError::invalid(
                &format!("{model}.{parameter}"),
                format!("{value}: {reason}"),
            ),
            ParamError::MadeOfItself { model, chain } => {
                FitError::invalid(model.name(), format!("made of itself: {chain}"))
            }
        }
    }
}

/// A configuration whose sections for some models, and for all their parts, passed their
/// checks: what fitting takes, so that no fit starts on a bad value.
#[derive(Debug, Clone)]
pub struct CheckedConfig<'a> {
    config: &'a ModelConfig,
    kinds: Vec<ModelKind>,
}

impl CheckedConfig<'_> {
    pub fn config(&self) -> &ModelConfig {
        self.config
    }

    /// The models checked: the ones asked for and all their parts, in catalogue order.
    pub fn kinds(&self) -> &[ModelKind] {
        &self.kinds
    }
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

    /// Checks the sections of `kinds` and of all their parts (voting's members, the hybrid's
    /// classifier) before any fit starts; a model may not be made of itself.
    pub fn check(&self, kinds: &[ModelKind]) -> Result<CheckedConfig<'_>, ParamError> {
        let mut checked = Vec::new();
        for &kind in kinds {
            self.check_with_parts(kind, &mut Vec::new(), &mut checked)?;
        }
        checked.sort();
        Ok(CheckedConfig {
            config: self,
            kinds: checked,
        })
    }

    /// Checks `kind`, then its parts, depth first; `chain` holds the models `kind` is a
    /// part of.
    fn check_with_parts(
        &self,
        kind: ModelKind,
        chain: &mut Vec<ModelKind>,
        checked: &mut Vec<ModelKind>,
    ) -> Result<(), ParamError> {
        if chain.contains(&kind) {
            let names: Vec<&str> = chain.iter().chain([&kind]).map(|k| k.name()).collect();
            return Err(ParamError::MadeOfItself {
                model: kind,
                chain: names.join(" → "),
            });
        }
        if checked.contains(&kind) {
            return Ok(());
        }
        self.check_section(kind).map_err(|error| match error {
            FitError::InvalidParameter { name, message } => ParamError::Invalid {
                model: kind,
                value: self.value_text(kind, &name),
                parameter: name,
                reason: message,
            },
            other => ParamError::Invalid {
                model: kind,
                parameter: String::new(),
                value: String::new(),
                reason: other.to_string(),
            },
        })?;
        chain.push(kind);
        for part in self.parts(kind) {
            self.check_with_parts(part, chain, checked)?;
        }
        chain.pop();
        checked.push(kind);
        Ok(())
    }

    /// A parameter's value as written in TOML, for error messages.
    fn value_text(&self, kind: ModelKind, parameter: &str) -> String {
        toml::Value::try_from(self)
            .ok()
            .and_then(|all| all.get(kind.name())?.get(parameter).map(|v| v.to_string()))
            .unwrap_or_else(|| "(unset)".to_string())
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

/// One section of a configuration: `defaults` with the keys `given` replacing theirs (keys
/// the hyperparameters do not have are an error naming the section).
fn over_defaults<P: Serialize + DeserializeOwned>(
    section: &str,
    defaults: P,
    given: Option<toml::Table>,
) -> Result<P, String> {
    let Some(given) = given else {
        return Ok(defaults);
    };
    let mut table = match toml::Value::try_from(&defaults) {
        Ok(toml::Value::Table(table)) => table,
        _ => unreachable!("hyperparameters serialise as a TOML table"),
    };
    table.extend(given);
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("[{section}]: {}", e.message().trim_end()))
}

fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
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
            ModelKind::parse_list("all,iforest,hybrid,ae,ens").unwrap(),
            ModelKind::ALL
        );
        assert_eq!(
            ModelKind::parse_list("rf,xgb"),
            Err(UnknownModel("xgb".into()))
        );
    }

    /// Model files and configurations store a kind by its serialised name: it must be the
    /// name the catalogue gives it.
    #[test]
    fn serialised_names_are_the_catalogue_names() {
        for kind in ModelKind::ALL {
            let toml = toml::Value::try_from(vec![kind]).unwrap();
            assert_eq!(toml[0].as_str(), Some(kind.name()));
            assert_eq!(kind.to_string(), kind.name());
        }
        let config = toml::Value::try_from(ModelConfig::default()).unwrap();
        let mut sections: Vec<&str> = config
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        sections.sort_unstable();
        let mut names: Vec<&str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        assert_eq!(sections, names);
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

    /// Random forest and bagging, linear and kernel SVM: each pair is one type, and a section
    /// of either reads its keys over its own preset's defaults.
    #[test]
    fn presets_of_one_type_keep_their_own_defaults() {
        use crate::forest::ForestParams;
        use crate::linear::SvmParams;
        use crate::tree::MaxFeatures;
        let config = ModelConfig::from_toml(
            "[bagging]\ntrees = 7\n[kernel_svm]\nc = 2.0\n",
            &["random_forest.trees=9".into(), "linear_svm.tol=0.5".into()],
        )
        .unwrap();
        assert_eq!(
            config.bagging,
            ForestParams {
                trees: 7,
                ..ForestParams::bagging()
            }
        );
        assert_eq!(config.bagging.max_features, MaxFeatures::All);
        assert_eq!(
            config.random_forest,
            ForestParams {
                trees: 9,
                ..ForestParams::random_forest()
            }
        );
        assert_eq!(config.kernel_svm.c, 2.0);
        assert_eq!(
            config.kernel_svm.feature_map,
            SvmParams::kernel().feature_map
        );
        assert_eq!(config.linear_svm.tol, 0.5);
        assert_eq!(config.linear_svm.feature_map, None);
        let defaults = ModelConfig::default();
        assert_eq!(defaults.bagging, ForestParams::bagging());
        assert_eq!(defaults.kernel_svm, SvmParams::kernel());
        // Each section shows its own preset.
        let text = defaults.annotated_toml();
        let shows = |name: &str, line: &str| {
            let start = text.find(&format!("[{name}]")).unwrap();
            let section = text[start..].split("\n\n").next().unwrap();
            section.lines().any(|l| l == line)
        };
        assert!(shows("bagging", "max_features = \"all\""));
        assert!(shows("bagging", "trees = 50"));
        assert!(shows("random_forest", "max_features = \"sqrt\""));
        assert!(shows("random_forest", "trees = 100"));
        assert!(shows("kernel_svm", "gamma = 0.025"));
        assert!(shows("kernel_svm", "components = 1000"));
        assert!(!shows("linear_svm", "gamma = 0.025"));
        assert!(shows("kernel_svm", "loss = \"squared_hinge\""));
        assert!(shows("linear_svm", "loss = \"hinge\""));
        // The loss is a word of its own, set like any key; another word is refused.
        let hinge = ModelConfig::from_toml("", &["kernel_svm.loss=hinge".into()]).unwrap();
        assert_eq!(hinge.kernel_svm.loss, crate::linear::SvmLoss::Hinge);
        let bad = ModelConfig::from_toml("", &["kernel_svm.loss=square".into()]).unwrap_err();
        assert!(bad.to_string().contains("square"), "{bad}");
        // Keys of no model are still refused, in every section, naming it.
        let unknown = ModelConfig::from_toml("[bagging]\ntress = 3\n", &[]).unwrap_err();
        assert!(unknown.to_string().contains("[bagging]"), "{unknown}");
        assert!(unknown.to_string().contains("tress"), "{unknown}");
        let unknown = ModelConfig::from_toml("", &["linear_svm.cost=2".into()]).unwrap_err();
        assert!(unknown.to_string().contains("cost"), "{unknown}");
        let section = ModelConfig::from_toml("[bagingg]\ntrees = 3\n", &[]).unwrap_err();
        assert!(section.to_string().contains("bagingg"), "{section}");
        // Half a feature map is refused.
        let half = ModelConfig::from_toml("", &["linear_svm.gamma=0.1".into()]).unwrap_err();
        assert!(half.to_string().contains("give both"), "{half}");
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
