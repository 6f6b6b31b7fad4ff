//! Attack families (issue 16): beside each binary model, a multi-class model that says what
//! kind of traffic a record is — normal, DoS, Probe, R2L, U2R on NSL-KDD (the schema's
//! family table maps attack names to families, names it lacks to `unknown`), the
//! `attack_cat` values on UNSW-NB15.
//!
//! The classes of a run are its training rows' families, benign first, then the others
//! sorted by name ([`family_classes`]); a family model is fitted on the same training rows
//! as its binary model and saved in the same model file ([`crate::file::SavedModel`]'s
//! `family`). Which multi-class model goes with a binary model is [`FamilyKind::for_model`].

use crate::forest::ForestParams;
use crate::gbdt::{GradientBoostingParams, MultiGradientBoosting};
use crate::mlp::MultiMlp;
use crate::model::{FitError, FitMulti, InputWidth, Inputs, MalformedModel, MultiClassifier};
use crate::multitree::{MAX_CLASSES, MultiDecisionTree, MultiForest};
use crate::registry::{ModelConfig, ModelKind};
use nadir_data::{Encoded, Schema};
use serde::{Deserialize, Serialize};

/// The most families a family model tells apart; data with more gets no family model.
pub const MAX_FAMILIES: usize = MAX_CLASSES;

/// The classes of labelled rows with these attack names: the benign class (the schema's
/// normal value) first, then every family the rows hold, sorted by name.
pub fn family_classes<'a>(
    schema: &Schema,
    attacks: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let normal = schema.label().normal.as_str();
    let mut families: Vec<&str> = attacks
        .into_iter()
        .map(|attack| schema.family_of(attack))
        .filter(|&family| family != normal)
        .collect();
    families.sort_unstable();
    families.dedup();
    std::iter::once(normal)
        .chain(families)
        .map(String::from)
        .collect()
}

/// Each attack name's class: its family's position in `classes`; `None` for a family
/// `classes` lacks (a test row of a family the training rows never showed).
pub fn class_of(schema: &Schema, classes: &[String], attack: &str) -> Option<u32> {
    let family = schema.family_of(attack);
    classes.iter().position(|c| c == family).map(|i| i as u32)
}

/// The multi-class model that goes with a binary model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FamilyKind {
    /// The multi-class decision tree, with the decision tree's settings.
    DecisionTree,
    /// The multi-class forest, with the random forest's settings.
    RandomForest,
    /// The multi-class forest, with bagging's settings.
    Bagging,
    /// Softmax gradient boosting, with the [`GradientBoostingParams::multi_class`] preset.
    GradientBoosting,
    /// The multi-class MLP, with the MLP's settings.
    Mlp,
}

impl FamilyKind {
    /// The decision tree's family model is a multi-class decision tree; the random forest's
    /// and bagging's are multi-class forests of their settings; gradient boosting's is softmax
    /// boosting and the MLP's a softmax MLP; every other model's is the multi-class random
    /// forest, the most accurate of them.
    pub fn for_model(kind: ModelKind) -> FamilyKind {
        match kind {
            ModelKind::DecisionTree => FamilyKind::DecisionTree,
            ModelKind::Bagging => FamilyKind::Bagging,
            ModelKind::GradientBoosting => FamilyKind::GradientBoosting,
            ModelKind::Mlp => FamilyKind::Mlp,
            _ => FamilyKind::RandomForest,
        }
    }

    /// Fits this family model with its section of `config`. Gradient boosting takes the
    /// `multi_class` preset instead of the binary model's section: the binary defaults
    /// (no L2 penalty) overshoot on rare classes (see the preset's documentation).
    pub fn fit(
        self,
        config: &ModelConfig,
        data: &Encoded,
        classes: &[u32],
        n_classes: usize,
        seed: u64,
    ) -> Result<MultiModel, FitError> {
        let forest = |params: &ForestParams| params.fit_multi(data, classes, n_classes, seed);
        Ok(match self {
            FamilyKind::DecisionTree => MultiModel::DecisionTree(
                config
                    .decision_tree
                    .fit_multi(data, classes, n_classes, seed)?,
            ),
            FamilyKind::RandomForest => MultiModel::Forest(forest(&config.random_forest)?),
            FamilyKind::Bagging => MultiModel::Forest(forest(&config.bagging)?),
            FamilyKind::GradientBoosting => MultiModel::GradientBoosting(
                GradientBoostingParams::multi_class().fit_multi(data, classes, n_classes, seed)?,
            ),
            FamilyKind::Mlp => {
                MultiModel::Mlp(config.mlp.fit_multi(data, classes, n_classes, seed)?)
            }
        })
    }
}

/// A fitted multi-class model of any kind. Model files store the variant's position:
/// variants are only ever added at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MultiModel {
    DecisionTree(MultiDecisionTree),
    Forest(MultiForest),
    GradientBoosting(MultiGradientBoosting),
    Mlp(MultiMlp),
}

impl MultiModel {
    /// Per row, each class's probability (`rows × n_classes`, row by row).
    pub fn class_probabilities(&self, data: &Encoded) -> Vec<f64> {
        match self {
            MultiModel::DecisionTree(model) => model.class_probabilities(data),
            MultiModel::Forest(model) => model.class_probabilities(data),
            MultiModel::GradientBoosting(model) => model.class_probabilities(data),
            MultiModel::Mlp(model) => model.class_probabilities(data),
        }
    }

    pub fn n_classes(&self) -> usize {
        match self {
            MultiModel::DecisionTree(model) => model.n_classes(),
            MultiModel::Forest(model) => model.n_classes(),
            MultiModel::GradientBoosting(model) => model.n_classes(),
            MultiModel::Mlp(model) => model.n_classes(),
        }
    }

    /// One line saying what the model is.
    pub fn describe(&self) -> String {
        match self {
            MultiModel::DecisionTree(model) => model.describe(),
            MultiModel::Forest(model) => model.describe(),
            MultiModel::GradientBoosting(model) => model.describe(),
            MultiModel::Mlp(model) => model.describe(),
        }
    }

    /// The widths of the rows it reads, checked against the pipeline on loading.
    pub fn input_widths(&self) -> Vec<InputWidth> {
        match self {
            MultiModel::DecisionTree(model) => model.input_widths(),
            MultiModel::Forest(model) => model.input_widths(),
            MultiModel::GradientBoosting(model) => model.input_widths(),
            MultiModel::Mlp(model) => model.input_widths(),
        }
    }
}

/// A record's most probable family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyPrediction {
    pub family: String,
    /// The family model's probability of that family (written `family_probability`:
    /// [`crate::output::FAMILY_PROBABILITY`]).
    #[serde(rename = "family_probability")]
    pub probability: f64,
}

/// A family model and the names of the classes it tells apart, saved beside a binary model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyModel {
    /// The class names, benign first (see [`family_classes`]).
    pub classes: Vec<String>,
    pub model: MultiModel,
}

/// A family model as a model file holds it, before its checks.
#[derive(Deserialize)]
struct UncheckedFamilyModel {
    classes: Vec<String>,
    model: MultiModel,
}

crate::model::load_checked!(FamilyModel, UncheckedFamilyModel);

impl TryFrom<UncheckedFamilyModel> for FamilyModel {
    type Error = MalformedModel;

    /// One distinct name per class of the model.
    fn try_from(stored: UncheckedFamilyModel) -> Result<FamilyModel, MalformedModel> {
        let mut names: Vec<&String> = stored.classes.iter().collect();
        names.sort_unstable();
        names.dedup();
        if stored.classes.len() != stored.model.n_classes() || names.len() != stored.classes.len() {
            return Err(MalformedModel(format!(
                "family model: {} class names for a model of {} classes; one distinct name per \
                 class",
                stored.classes.len(),
                stored.model.n_classes()
            )));
        }
        Ok(FamilyModel {
            classes: stored.classes,
            model: stored.model,
        })
    }
}

impl FamilyModel {
    /// Each row's most probable class index (the first of equals) and its probability.
    pub fn predict_classes(&self, data: &Encoded) -> Vec<(u32, f64)> {
        let k = self.classes.len();
        self.model
            .class_probabilities(data)
            .chunks_exact(k)
            .map(|row| {
                let (best, &probability) = row
                    .iter()
                    .enumerate()
                    .reduce(|best, next| if next.1 > best.1 { next } else { best })
                    .expect("at least two classes");
                (best as u32, probability)
            })
            .collect()
    }

    /// Each row's most probable family.
    pub fn predict(&self, data: &Encoded) -> Vec<FamilyPrediction> {
        self.predict_classes(data)
            .into_iter()
            .map(|(class, probability)| FamilyPrediction {
                family: self.classes[class as usize].clone(),
                probability,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{NSL_NUMERIC, nsl_encoded};

    #[test]
    fn classes_are_benign_first_then_families_sorted_and_unseen_names_map_to_unknown() {
        let schema = Schema::nsl_kdd();
        let attacks = [
            "smurf",
            "normal",
            "ipsweep",
            "neptune",
            "guess_passwd",
            "new_worm",
        ];
        let classes = family_classes(&schema, attacks);
        assert_eq!(classes, ["normal", "DoS", "Probe", "R2L", "unknown"]);
        assert_eq!(class_of(&schema, &classes, "neptune"), Some(1));
        assert_eq!(class_of(&schema, &classes, "another_new_one"), Some(4));
        assert_eq!(class_of(&schema, &classes, "buffer_overflow"), None);
        let unsw = Schema::unsw_nb15();
        let classes = family_classes(&unsw, ["Normal", "Exploits", "DoS", "Exploits"]);
        assert_eq!(classes, ["Normal", "DoS", "Exploits"]);
    }

    #[test]
    fn family_kinds_follow_the_binary_model() {
        assert_eq!(
            FamilyKind::for_model(ModelKind::DecisionTree),
            FamilyKind::DecisionTree
        );
        assert_eq!(
            FamilyKind::for_model(ModelKind::Bagging),
            FamilyKind::Bagging
        );
        assert_eq!(
            FamilyKind::for_model(ModelKind::GradientBoosting),
            FamilyKind::GradientBoosting
        );
        assert_eq!(FamilyKind::for_model(ModelKind::Mlp), FamilyKind::Mlp);
        for kind in [
            ModelKind::RandomForest,
            ModelKind::LogisticRegression,
            ModelKind::Hybrid,
        ] {
            assert_eq!(FamilyKind::for_model(kind), FamilyKind::RandomForest);
        }
    }

    #[test]
    fn predictions_name_the_most_probable_family() {
        let data = nsl_encoded((0..9).map(|i| {
            let mut row = vec![0.0; NSL_NUMERIC];
            row[0] = f64::from(i / 3);
            row
        }));
        let classes: Vec<u32> = (0..9).map(|i| i / 3).collect();
        let model = FamilyKind::DecisionTree
            .fit(&ModelConfig::default(), &data, &classes, 3, 1)
            .unwrap();
        let family = FamilyModel {
            classes: vec!["normal".into(), "DoS".into(), "Probe".into()],
            model,
        };
        let predictions = family.predict(&data);
        assert_eq!(predictions[0].family, "normal");
        assert_eq!(predictions[4].family, "DoS");
        assert_eq!(predictions[8].family, "Probe");
        assert!(predictions.iter().all(|p| p.probability == 1.0));
        let bytes = postcard::to_allocvec(&family).unwrap();
        assert_eq!(postcard::from_bytes::<FamilyModel>(&bytes).unwrap(), family);
        // The output contract's names, written by serde.
        assert_eq!(
            serde_json::to_value(&predictions[4]).unwrap(),
            serde_json::json!({
                crate::output::FAMILY: "DoS",
                crate::output::FAMILY_PROBABILITY: 1.0
            })
        );
        let mut bad = family.clone();
        bad.classes.pop();
        let bytes = postcard::to_allocvec(&bad).unwrap();
        assert!(postcard::from_bytes::<FamilyModel>(&bytes).is_err());
    }
}
