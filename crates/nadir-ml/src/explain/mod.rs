//! Why a record scored as it did: per feature of the schema, its signed contribution to an
//! output of the model, which with a base value sums to that output exactly (to rounding).
//!
//! One explainer per model, chosen by [`Explainer::of`]; every explanation says which output
//! it adds up to ([`Space`]) and how it was computed ([`Method`]):
//!
//! | model | method | output ([`Space`]) |
//! |---|---|---|
//! | decision tree, random forest, bagging | `tree_shap` ([`tree`]) | probability |
//! | gradient boosting | `tree_shap` | log-odds |
//! | logistic regression, linear SVM | `linear` ([`linear`]) | log-odds |
//! | MLP, kernel SVM | `sampling_shapley` ([`sampling`]) | probability |
//! | isolation forest | `path_length` ([`isolation`]) | anomaly score |
//! | hybrid | its deciding part's ([`hybrid`]) | that part's |
//! | voting | `member_mean`, or `sampling_shapley` | probability |
//! | novelty ensemble | its deciding member's ([`ensemble`]) | that member's |
//!
//! A feature is one of the schema's: the numeric ones, then the categorical ones; a
//! categorical feature's one-hot columns count as the one feature.
//!
//! The explainers that compare a record with a reference row ([`linear`], [`sampling`]) use
//! the same one ([`reference_numeric`]): each numeric feature at its training mean (the value the
//! model's scaling maps to 0; the mean of the logarithm, for counts), each categorical
//! feature at its commonest training value. Model files hold no training rows, so the
//! reference is built from what the model keeps: its input scaling and the pipeline's
//! vocabularies, ordered by frequency.

pub mod ensemble;
pub mod hybrid;
pub mod isolation;
pub mod linear;
pub mod sampling;
pub mod tree;

use crate::autoencoder::Autoencoder;
use crate::registry::{AnyModel, ModelKind};
use crate::scale::Standardizer;
use nadir_data::{Encoded, FeaturePipeline, Record};
use serde::Serialize;
use serde::ser::SerializeMap;
use std::sync::OnceLock;
use thiserror::Error;

pub use ensemble::EnsembleExplainer;
pub use hybrid::HybridExplainer;
pub use isolation::PathLengthExplainer;
pub use linear::LinearExplainer;
pub use sampling::SamplingExplainer;
pub use tree::TreeExplainer;
pub(crate) use tree::{ShapNode, ShapTree};

/// The models that have an explainer, in catalogue order: every one.
pub const EXPLAINED: [ModelKind; ModelKind::ALL.len()] = ModelKind::ALL;

/// The models TreeSHAP explains.
pub const TREE_MODELS: [ModelKind; 4] = [
    ModelKind::DecisionTree,
    ModelKind::RandomForest,
    ModelKind::GradientBoosting,
    ModelKind::Bagging,
];

/// Why a model cannot be explained.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExplainError {
    /// Asked of an explainer of one family (TreeSHAP) for a model of another.
    #[error(
        "{kind} models have no TreeSHAP explanations; TreeSHAP explains: {}",
        TREE_MODELS.map(ModelKind::name).join(", ")
    )]
    NoExplainer { kind: ModelKind },
    #[error(
        "this {kind} model was saved without the node covers explanations need (model files \
         before format {}): retrain it with this nadir to explain its predictions",
        crate::file::COVERS_SINCE
    )]
    NeedsRetrain { kind: ModelKind },
    /// A voting ensemble whose members explain different outputs is explained by sampling,
    /// against a reference row that only its scaled members hold.
    #[error(
        "this {kind} model's members explain different outputs, so it is explained by \
         sampling against the training mean of each feature, which only logistic regression, \
         SVM, MLP and hybrid members keep; it has none: vote with one of them, or with tree \
         models that all explain probabilities (not gradient boosting)"
    )]
    NoReference { kind: ModelKind },
}

/// The output an explanation adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    /// The score itself, the probability of attack.
    Probability,
    /// The log-odds of attack, whose logistic function is the score (gradient boosting,
    /// logistic regression, the linear SVM's Platt-calibrated score).
    LogOdds,
    /// The isolation forest's anomaly score (a hybrid's own novelty forest's, for a hybrid).
    AnomalyScore,
    /// A hybrid's novelty distance: to the nearest normal training rows, on their scaled
    /// one-hot features (or on their principal components, with `pca_variance`).
    Distance,
    /// The autoencoder's reconstruction error, of which its anomaly score is an increasing
    /// function (the error over its threshold, mapped as a hybrid's novelty distance is).
    ReconstructionError,
}

impl Space {
    pub fn name(self) -> &'static str {
        match self {
            Space::Probability => "probability",
            Space::LogOdds => "log_odds",
            Space::AnomalyScore => "anomaly_score",
            Space::Distance => "distance",
            Space::ReconstructionError => "reconstruction_error",
        }
    }
}

/// How an explanation was computed; its `explanation_method` in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Exact path-dependent TreeSHAP ([`tree`]).
    TreeShap,
    /// Coefficient × scaled value against the reference row, exact ([`linear`]).
    Linear,
    /// Permutation-sampling Shapley values against the reference row ([`sampling`]).
    SamplingShapley,
    /// Each isolating split's share of the path-length deficit ([`isolation`]).
    PathLength,
    /// Each feature's share of the squared distance to the nearest normal row ([`hybrid`]).
    DistanceShare,
    /// The weighted mean of a voting ensemble's members' explanations.
    MemberMean,
    /// Each feature's share of the autoencoder's reconstruction error (its one-hot columns'
    /// squared errors summed), exact ([`crate::autoencoder::Autoencoder::error_shares`]).
    ReconstructionShare,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Classifier => "classifier",
            Part::Novelty => "novelty",
        }
    }
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::TreeShap => "tree_shap",
            Method::Linear => "linear",
            Method::SamplingShapley => "sampling_shapley",
            Method::PathLength => "path_length",
            Method::DistanceShare => "distance_share",
            Method::MemberMean => "member_mean",
            Method::ReconstructionShare => "reconstruction_share",
        }
    }
}

/// The part of a hybrid an explanation is of: the one whose mapped score is the hybrid's
/// (the larger; the classifier on a tie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Classifier,
    Novelty,
}

/// A row in the encoded form: numeric values and category codes
/// ([`UNSEEN`](nadir_data::encode::UNSEEN) for none of the known values).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedRow {
    pub numeric: Vec<f64>,
    pub codes: Vec<u32>,
}

/// One record's explanation: `base + Σ contributions` is the explained output.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The output knowing nothing of the record: the model's expected output over its
    /// training rows (TreeSHAP), or its output on the reference row, or the output's neutral
    /// value (the isolation forest's 0.5, a distance's 0).
    pub base: f64,
    /// Per feature of the schema: the numeric ones, then the categorical ones (the order of
    /// [`nadir_data::Schema::numeric`] then [`nadir_data::Schema::categorical`]).
    pub contributions: Vec<f64>,
    pub space: Space,
    pub method: Method,
    /// Hybrids only: the part explained.
    pub part: Option<Part>,
    /// Hybrids whose novelty part is explained by distance shares: the normal training row
    /// the novelty distance is measured to (the nearest, or the k-th nearest for k > 1).
    pub nearest_normal: Option<EncodedRow>,
}

impl Explanation {
    /// An explanation with no hybrid part.
    pub fn new(base: f64, contributions: Vec<f64>, space: Space, method: Method) -> Explanation {
        Explanation {
            base,
            contributions,
            space,
            method,
            part: None,
            nearest_normal: None,
        }
    }

    /// The output explained: the base plus every contribution.
    pub fn output(&self) -> f64 {
        self.base + self.contributions.iter().sum::<f64>()
    }
}

/// One feature of a record's explanation, as every output writes it; the field names are the
/// output contract's (see [`crate::output`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureContribution {
    pub feature: String,
    /// The record's value, as text.
    pub value: String,
    /// The training data's typical value: the median of a numeric feature (model files
    /// since format 5), the most frequent value of a categorical one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typical: Option<String>,
    /// Signed: positive pushes towards attack (towards a higher output).
    pub contribution: f64,
}

/// A record of the schema as text, feature by feature in schema order: serialised as one
/// object `{"feature": "value", …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRow(pub Vec<(String, String)>);

impl Serialize for NamedRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (feature, value) in &self.0 {
            map.serialize_entry(feature, value)?;
        }
        map.end()
    }
}

/// A record's explanation cut to its strongest features.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopFeatures {
    pub space: Space,
    pub base: f64,
    /// The features of largest |contribution|, largest first (ties in schema order); those
    /// contributing exactly nothing are left out.
    pub features: Vec<FeatureContribution>,
    #[serde(rename = "explanation_method")]
    pub method: Method,
    /// Hybrids only: the part explained.
    #[serde(rename = "explained_part", skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    /// Hybrids explained by distance shares: the most similar normal connection of the
    /// training data (the one the novelty distance is measured to), every feature's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest_normal: Option<NamedRow>,
}

impl Explanation {
    /// The `k` strongest features, named and valued from `record` and `pipeline`, with the
    /// numeric features' typical values from `typical_numeric` (schema order; empty for a
    /// model file that holds none).
    pub fn top(
        &self,
        k: usize,
        record: &Record,
        pipeline: &FeaturePipeline,
        typical_numeric: &[f64],
    ) -> TopFeatures {
        let schema = pipeline.schema();
        let numeric = schema.num_numeric();
        let mut order: Vec<usize> = (0..self.contributions.len())
            .filter(|&c| self.contributions[c] != 0.0)
            .collect();
        order.sort_by(|&a, &b| {
            self.contributions[b]
                .abs()
                .total_cmp(&self.contributions[a].abs())
                .then(a.cmp(&b))
        });
        order.truncate(k);
        let names: Vec<&str> = schema.numeric_names();
        let categorical: Vec<&str> = schema.categorical_names();
        let features = order
            .into_iter()
            .map(|column| {
                let contribution = self.contributions[column];
                match column.checked_sub(numeric) {
                    None => FeatureContribution {
                        feature: names[column].to_string(),
                        value: record.numeric[column].to_string(),
                        typical: typical_numeric.get(column).map(f64::to_string),
                        contribution,
                    },
                    Some(c) => FeatureContribution {
                        feature: categorical[c].to_string(),
                        value: record.categorical[c].clone(),
                        typical: pipeline.vocabulary(c).first().cloned(),
                        contribution,
                    },
                }
            })
            .collect();
        let nearest_normal = self.nearest_normal.as_ref().map(|row| {
            let numeric = names
                .iter()
                .zip(&row.numeric)
                .map(|(name, value)| (name.to_string(), value.to_string()));
            let codes = categorical
                .iter()
                .zip(&row.codes)
                .enumerate()
                .map(|(c, (name, &code))| {
                    let value = pipeline
                        .vocabulary(c)
                        .get(code as usize)
                        .cloned()
                        .unwrap_or_default();
                    (name.to_string(), value)
                });
            NamedRow(numeric.chain(codes).collect())
        });
        TopFeatures {
            space: self.space,
            base: self.base,
            features,
            method: self.method,
            part: self.part,
            nearest_normal,
        }
    }
}

/// The numeric half of a model's reference row (see the module doc; the categorical half is
/// every feature's code 0), for the models that keep one: a scaled model's (logistic
/// regression, SVM, MLP) training means, a hybrid's classifier's or else its novelty part's
/// (normal traffic's means), a voting ensemble's first member's that has one.
pub fn reference_numeric(model: &AnyModel) -> Option<Vec<f64>> {
    match model {
        AnyModel::LogisticRegression(m) => Some(m.scaler().centre()),
        AnyModel::LinearSvm(m) | AnyModel::KernelSvm(m) => Some(m.scaler().centre()),
        AnyModel::Mlp(m) => Some(m.scaler().centre()),
        AnyModel::Hybrid(h) => reference_numeric(h.classifier())
            .or_else(|| h.novelty_scaler().map(Standardizer::centre)),
        AnyModel::Voting(v) => v.members().iter().find_map(reference_numeric),
        AnyModel::DecisionTree(_)
        | AnyModel::RandomForest(_)
        | AnyModel::Bagging(_)
        | AnyModel::GradientBoosting(_)
        | AnyModel::IsolationForest(_)
        | AnyModel::Autoencoder(_)
        | AnyModel::NoveltyEnsemble(_) => None,
    }
}

/// The schema feature of each one-hot column of `data`: the numeric features, then each
/// categorical feature once per value of its vocabulary.
pub(crate) fn one_hot_features(data: &Encoded) -> Vec<usize> {
    let numeric = data.num_numeric();
    (0..numeric)
        .chain(
            data.cardinalities
                .iter()
                .enumerate()
                .flat_map(|(c, &width)| std::iter::repeat_n(numeric + c, width)),
        )
        .collect()
}

/// The explainer of one model, built once ([`Explainer::of`]) and kept: a server explaining
/// one record per request does not rebuild it (see [`Cache`]).
#[derive(Debug, Clone)]
pub enum Explainer {
    Tree(TreeExplainer),
    Linear(LinearExplainer),
    Sampling(SamplingExplainer),
    PathLength(PathLengthExplainer),
    Hybrid(Box<HybridExplainer>),
    /// The autoencoder: each feature's share of the reconstruction error, base 0.
    Reconstruction(Box<Autoencoder>),
    /// A novelty ensemble: its deciding member's explanation.
    Ensemble(Box<EnsembleExplainer>),
    /// A voting ensemble whose members all explain their probability: the weighted mean of
    /// their explanations, which adds up to the ensemble's score (the weighted mean of
    /// theirs).
    Vote {
        members: Vec<Explainer>,
        weights: Vec<f64>,
    },
}

impl Explainer {
    /// The explainer of `model` (see the module doc for which explains what).
    pub fn of(model: &AnyModel) -> Result<Explainer, ExplainError> {
        Ok(match model {
            AnyModel::DecisionTree(_)
            | AnyModel::RandomForest(_)
            | AnyModel::Bagging(_)
            | AnyModel::GradientBoosting(_) => Explainer::Tree(TreeExplainer::of(model)?),
            AnyModel::LogisticRegression(m) => Explainer::Linear(LinearExplainer::logistic(m)),
            AnyModel::LinearSvm(m) | AnyModel::KernelSvm(m) => match LinearExplainer::svm(m) {
                Some(linear) => Explainer::Linear(linear),
                None => {
                    Explainer::Sampling(SamplingExplainer::of_model(model, m.scaler().centre()))
                }
            },
            AnyModel::Mlp(m) => {
                Explainer::Sampling(SamplingExplainer::of_model(model, m.scaler().centre()))
            }
            AnyModel::IsolationForest(forest) => {
                Explainer::PathLength(PathLengthExplainer::new(forest.clone()))
            }
            AnyModel::Hybrid(hybrid) => Explainer::Hybrid(Box::new(HybridExplainer::of(hybrid)?)),
            AnyModel::Voting(voting) => {
                let members = voting
                    .members()
                    .iter()
                    .map(Explainer::of)
                    .collect::<Result<Vec<_>, _>>()?;
                if members
                    .iter()
                    .all(|m| m.space() == Some(Space::Probability))
                {
                    Explainer::Vote {
                        members,
                        weights: voting.weights().to_vec(),
                    }
                } else {
                    let reference = reference_numeric(model)
                        .ok_or(ExplainError::NoReference { kind: model.kind() })?;
                    Explainer::Sampling(SamplingExplainer::of_model(model, reference))
                }
            }
            AnyModel::Autoencoder(model) => Explainer::Reconstruction(Box::new(model.clone())),
            AnyModel::NoveltyEnsemble(model) => {
                Explainer::Ensemble(Box::new(EnsembleExplainer::of(model)))
            }
        })
    }

    /// The output every explanation of this explainer adds up to; `None` when it varies from
    /// record to record (a hybrid explains whichever part decided, a novelty ensemble
    /// whichever member).
    pub fn space(&self) -> Option<Space> {
        match self {
            Explainer::Tree(e) => Some(e.space()),
            Explainer::Linear(_) => Some(Space::LogOdds),
            Explainer::Sampling(e) => Some(e.space()),
            Explainer::Vote { .. } => Some(Space::Probability),
            Explainer::PathLength(_) => Some(Space::AnomalyScore),
            Explainer::Hybrid(_) | Explainer::Ensemble(_) => None,
            Explainer::Reconstruction(_) => Some(Space::ReconstructionError),
        }
    }

    /// Every row's explanation, the same whatever the thread count and however the rows
    /// are batched.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        match self {
            Explainer::Tree(e) => e.explain(data),
            Explainer::Linear(e) => e.explain(data),
            Explainer::Sampling(e) => e.explain(data),
            Explainer::PathLength(e) => e.explain(data),
            Explainer::Hybrid(e) => e.explain(data),
            Explainer::Ensemble(e) => e.explain(data),
            Explainer::Reconstruction(model) => model
                .error_shares(data)
                .into_iter()
                .map(|shares| {
                    Explanation::new(
                        0.0,
                        shares,
                        Space::ReconstructionError,
                        Method::ReconstructionShare,
                    )
                })
                .collect(),
            Explainer::Vote { members, weights } => {
                let mut mean: Vec<Explanation> = (0..data.len())
                    .map(|_| {
                        Explanation::new(
                            0.0,
                            vec![0.0; data.num_numeric() + data.num_categorical()],
                            Space::Probability,
                            Method::MemberMean,
                        )
                    })
                    .collect();
                for (member, &weight) in members.iter().zip(weights) {
                    for (m, e) in mean.iter_mut().zip(member.explain(data)) {
                        m.base += weight * e.base;
                        for (c, x) in m.contributions.iter_mut().zip(&e.contributions) {
                            *c += weight * x;
                        }
                    }
                }
                mean
            }
        }
    }
}

/// A [`crate::file::SavedModel`]'s explainer, built on its first explanation and kept for the
/// next (a model file does not hold it). Clones start empty; it takes no part in comparing
/// models.
#[derive(Default)]
pub struct Cache(OnceLock<Result<Explainer, ExplainError>>);

impl Cache {
    /// The explainer of `model`, built on the first call. The cache belongs to one model:
    /// replacing a saved model's `model` field after explaining leaves it stale.
    pub fn get(&self, model: &AnyModel) -> Result<&Explainer, ExplainError> {
        self.0
            .get_or_init(|| Explainer::of(model))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl Clone for Cache {
    fn clone(&self) -> Cache {
        Cache::default()
    }
}

impl PartialEq for Cache {
    fn eq(&self, _: &Cache) -> bool {
        true
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0.get() {
            Some(_) => "Cache(built)",
            None => "Cache(empty)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::SavedModel;
    use crate::forest::ForestParams;
    use crate::gbdt::GradientBoostingParams;
    use crate::model::{Classifier, Fit};
    use crate::testdata::{fixture, sample_data, sample_split};
    use crate::tree::DecisionTreeParams;
    use crate::voting::{Voting, VotingParams};

    /// What an explanation adds up to, from the model's own outputs: its score, or the logit
    /// of it in log-odds (compared where the probability keeps the digits).
    fn check_adds_up(model: &AnyModel, data: &Encoded, explanations: &[Explanation]) {
        let scores = model.score(data);
        assert_eq!(explanations.len(), data.len());
        for (e, &score) in explanations.iter().zip(&scores) {
            let expected = match e.space {
                Space::LogOdds if score > 1e-6 && score < 1.0 - 1e-6 => {
                    (score / (1.0 - score)).ln()
                }
                Space::LogOdds => continue,
                _ => score,
            };
            let tolerance = if e.space == Space::LogOdds {
                1e-6
            } else {
                1e-9
            };
            assert!(
                (e.output() - expected).abs() <= tolerance,
                "{}: {} against {expected}",
                model.kind(),
                e.output()
            );
        }
    }

    /// The fixtures of every format-4 model file explain through [`SavedModel::explain`]:
    /// logistic regression (linear), the decision tree (TreeSHAP), the vote of the two
    /// (sampled: their outputs differ), the hybrid (its deciding part); the explainer is
    /// built once and kept.
    #[test]
    fn saved_models_explain_and_keep_their_explainer() {
        let data = sample_data();
        let records = &data.records[..25];
        for (name, method) in [
            ("logistic_regression", Method::Linear),
            ("decision_tree", Method::TreeShap),
            ("voting", Method::SamplingShapley),
        ] {
            let saved = fixture(name);
            assert_eq!(format!("{:?}", saved.explainer), "Cache(empty)");
            let explanations = saved.explain(records).unwrap();
            assert_eq!(format!("{:?}", saved.explainer), "Cache(built)");
            let first = saved.explainer.get(&saved.model).unwrap() as *const Explainer;
            let second = saved.explainer.get(&saved.model).unwrap() as *const Explainer;
            assert_eq!(first, second);
            assert!(explanations.iter().all(|e| e.method == method), "{name}");
            check_adds_up(&saved.model, &saved.pipeline.encode(records), &explanations);
            // A clone starts empty and equals the original.
            let clone = saved.clone();
            assert_eq!(format!("{:?}", clone.explainer), "Cache(empty)");
            assert_eq!(clone, saved);
        }
        let hybrid: SavedModel = fixture("hybrid");
        let explanations = hybrid.explain(records).unwrap();
        assert!(explanations.iter().all(|e| e.part.is_some()));
    }

    /// A vote of members that all explain their probability is the weighted mean of their
    /// explanations; one of gradient boosting (log-odds) and a forest, with no member that
    /// keeps training means, cannot be explained and says why.
    #[test]
    fn votes_average_their_members_or_say_why_they_cannot() {
        let s = sample_split();
        let (x, y) = (&s.train, &s.train_labels);
        let tree = AnyModel::DecisionTree(DecisionTreeParams::default().fit(x, y, 1).unwrap());
        let forest = AnyModel::RandomForest(
            ForestParams {
                trees: 10,
                ..ForestParams::random_forest()
            }
            .fit(x, y, 2)
            .unwrap(),
        );
        let params = VotingParams {
            members: vec![ModelKind::DecisionTree, ModelKind::RandomForest],
            weights: vec![1.0, 3.0],
        };
        let vote =
            AnyModel::Voting(Voting::new(&params, vec![tree.clone(), forest.clone()]).unwrap());
        let explainer = Explainer::of(&vote).unwrap();
        let explanations = explainer.explain(&s.test);
        check_adds_up(&vote, &s.test, &explanations);
        let of_tree = Explainer::of(&tree).unwrap().explain(&s.test);
        let of_forest = Explainer::of(&forest).unwrap().explain(&s.test);
        for ((e, t), f) in explanations.iter().zip(&of_tree).zip(&of_forest) {
            assert_eq!(e.method, Method::MemberMean);
            for c in 0..e.contributions.len() {
                let mean = 0.25 * t.contributions[c] + 0.75 * f.contributions[c];
                assert!((e.contributions[c] - mean).abs() <= 1e-12);
            }
        }

        let boosting =
            AnyModel::GradientBoosting(GradientBoostingParams::default().fit(x, y, 4).unwrap());
        let params = VotingParams {
            members: vec![ModelKind::RandomForest, ModelKind::GradientBoosting],
            weights: Vec::new(),
        };
        let mixed = AnyModel::Voting(Voting::new(&params, vec![forest, boosting]).unwrap());
        let error = Explainer::of(&mixed).unwrap_err();
        assert_eq!(
            error,
            ExplainError::NoReference {
                kind: ModelKind::Voting
            }
        );
        assert!(error.to_string().contains("it has none"), "{error}");
    }

    /// TreeSHAP asked of another model says which models it explains.
    #[test]
    fn tree_shap_of_another_model_names_the_tree_models() {
        let saved = fixture("logistic_regression");
        let error = TreeExplainer::of(&saved.model).unwrap_err();
        assert_eq!(
            error.to_string(),
            "logistic_regression models have no TreeSHAP explanations; TreeSHAP explains: \
             decision_tree, random_forest, gradient_boosting, bagging"
        );
    }

    /// The strongest features come first, named, valued from the record, categorical ones
    /// with their commonest training value; the method, the part and the nearest normal row
    /// are written beside them.
    #[test]
    fn top_features_are_named_and_valued() {
        let mut explanation = Explanation::new(
            0.5,
            {
                let mut c = vec![0.0; 41];
                c[4] = 0.1;
                c[39] = -0.3;
                c[5] = 0.1;
                c
            },
            Space::Probability,
            Method::TreeShap,
        );
        let records = vec![crate::testdata::nsl_record(
            &[(4, 491.0)],
            ["tcp", "http", "SF"],
        )];
        let pipeline = crate::testdata::nsl_pipeline(&records);
        let top = explanation.top(2, &records[0], &pipeline, &[]);
        let names: Vec<&str> = top.features.iter().map(|f| f.feature.as_str()).collect();
        let schema = pipeline.schema();
        assert_eq!(
            names,
            [schema.categorical_names()[1], schema.numeric_names()[4]]
        );
        assert_eq!(top.features[0].value, "http");
        assert_eq!(top.features[0].typical.as_deref(), Some("http"));
        assert_eq!(top.features[1].value, "491");
        assert_eq!(top.features[1].typical, None);
        assert_eq!(
            explanation
                .top(10, &records[0], &pipeline, &[])
                .features
                .len(),
            3
        );
        let json = serde_json::to_value(&top).unwrap();
        assert_eq!(json["explanation_method"], "tree_shap");
        assert_eq!(json["space"], "probability");
        assert!(json.get("explained_part").is_none() && json.get("nearest_normal").is_none());

        explanation.space = Space::Distance;
        explanation.method = Method::DistanceShare;
        explanation.part = Some(Part::Novelty);
        let mut numeric = vec![0.0; 38];
        numeric[1] = 232.0;
        explanation.nearest_normal = Some(EncodedRow {
            numeric,
            codes: vec![0, 0, 0],
        });
        let top = explanation.top(1, &records[0], &pipeline, &[]);
        // In schema order.
        let text = serde_json::to_string(&top.nearest_normal).unwrap();
        assert!(
            text.starts_with(r#"{"duration":"0","srcbytes":"232","#),
            "{text}"
        );
        let json = serde_json::to_value(&top).unwrap();
        assert_eq!(json["explanation_method"], "distance_share");
        assert_eq!(json["explained_part"], "novelty");
        let nearest = json["nearest_normal"].as_object().unwrap();
        assert_eq!(nearest.len(), 41);
        assert_eq!(nearest["srcbytes"], "232");
        assert_eq!(nearest["service"], "http");
    }
}
