//! Model files: a fitted model with everything needed to score raw records and to say where
//! it came from.
//!
//! Layout: the magic bytes `NADIRMDL`, the format version (u32, little endian), the payload
//! length (u64 LE), the payload's sha256, then the payload: a postcard-encoded
//! [`SavedModel`]. The checksum turns a truncated or corrupted file into a clear error
//! instead of a model that decodes into nonsense. Files are written to a temporary file and
//! renamed, so a crash never leaves half a model where a server would load it.

use crate::family::{FamilyModel, FamilyPrediction};
use crate::metrics::Scores;
use crate::model::{Classifier, Fired};
use crate::registry::{AnyModel, ModelKind};
use nadir_data::{FeaturePipeline, Record, UnseenCategory};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use thiserror::Error;

pub const MAGIC: &[u8; 8] = b"NADIRMDL";
/// Bump when [`SavedModel`] or any model's layout changes.
pub const FORMAT_VERSION: u32 = 6;
/// The oldest format this nadir still reads. Version 3 files lack the tree models' node
/// covers (added in 4): they load and score, and asking them for explanations says to
/// retrain ([`crate::explain::ExplainError::NeedsRetrain`]).
pub const OLDEST_READABLE: u32 = 3;
/// The first format whose tree models store each node's training cover.
pub(crate) const COVERS_SINCE: u32 = 4;
/// The first format whose files hold a family model and typical numeric values: older files
/// load without them ([`SavedModel::family_note`] says so).
pub const FAMILIES_SINCE: u32 = 5;
/// The first format whose SVMs store their loss: older files hold hinge-loss SVMs.
pub(crate) const SVM_LOSS_SINCE: u32 = 6;
/// The file name extension of model files.
pub const EXTENSION: &str = "nadir";
const HEADER_LEN: usize = 8 + 4 + 8 + 32;

/// A fitted model ready to score raw records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedModel {
    pub nadir_version: String,
    pub pipeline: FeaturePipeline,
    pub model: AnyModel,
    /// Scores at or above it are attacks. Chosen on training data only.
    pub threshold: f64,
    /// How the threshold was chosen, in words.
    pub threshold_rule: String,
    /// The model's hyperparameters as TOML, for the record.
    pub hyperparameters: String,
    pub training: TrainingInfo,
    pub metrics: TrainingMetrics,
    /// The multi-class model that names a record's attack family, fitted on the same
    /// training rows; `None` in files before [`FAMILIES_SINCE`] and for data of more than
    /// [`crate::family::MAX_FAMILIES`] families.
    pub family: Option<FamilyModel>,
    /// Per numeric feature of the schema, the median of the training rows: the typical
    /// value explanations show beside a record's. Empty in files before [`FAMILIES_SINCE`].
    pub typical_numeric: Vec<f64>,
    /// The model's explainer, built on the first explanation; not saved.
    #[serde(skip)]
    pub explainer: crate::explain::Cache,
}

/// The fields of a model file of format 3 or 4, which [`SavedModel`]'s layout extends.
#[derive(Deserialize)]
struct SavedModelV4 {
    nadir_version: String,
    pipeline: FeaturePipeline,
    model: AnyModel,
    threshold: f64,
    threshold_rule: String,
    hyperparameters: String,
    training: TrainingInfo,
    metrics: TrainingMetrics,
}

/// The fields of a model file of format 5.
#[derive(Deserialize)]
struct SavedModelV5 {
    nadir_version: String,
    pipeline: FeaturePipeline,
    model: AnyModel,
    threshold: f64,
    threshold_rule: String,
    hyperparameters: String,
    training: TrainingInfo,
    metrics: TrainingMetrics,
    family: Option<FamilyModel>,
    typical_numeric: Vec<f64>,
}

impl<'de> Deserialize<'de> for SavedModel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if crate::model::reading_format() < FAMILIES_SINCE {
            let v4 = SavedModelV4::deserialize(deserializer)?;
            return Ok(SavedModel {
                nadir_version: v4.nadir_version,
                pipeline: v4.pipeline,
                model: v4.model,
                threshold: v4.threshold,
                threshold_rule: v4.threshold_rule,
                hyperparameters: v4.hyperparameters,
                training: v4.training,
                metrics: v4.metrics,
                family: None,
                typical_numeric: Vec::new(),
                explainer: Default::default(),
            });
        }
        let v5 = SavedModelV5::deserialize(deserializer)?;
        Ok(SavedModel {
            nadir_version: v5.nadir_version,
            pipeline: v5.pipeline,
            model: v5.model,
            threshold: v5.threshold,
            threshold_rule: v5.threshold_rule,
            hyperparameters: v5.hyperparameters,
            training: v5.training,
            metrics: v5.metrics,
            family: v5.family,
            typical_numeric: v5.typical_numeric,
            explainer: Default::default(),
        })
    }
}

/// Where the model's training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub source: String,
    /// sha256 of the whole data file the training rows were drawn from.
    pub data_sha256: String,
    /// Rows the final model was fitted on.
    pub rows: usize,
    pub seed: u64,
}

/// The evidence saved with a model: cross-validation on its training part and the
/// held-out test part of the protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetrics {
    pub cross_validation: Vec<Scores>,
    pub holdout: Option<Scores>,
}

/// One scored record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub is_attack: bool,
    /// Attack probability (classifiers) or anomaly score (detectors).
    pub score: f64,
    /// Unseen category values of this record.
    pub unseen: Vec<UnseenCategory>,
    /// Hybrid models only: which part flagged the record (absent when none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired: Option<Fired>,
    /// The record's most probable attack family and its probability (absent when the
    /// model file has no family model), as `family` and `family_probability`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub family: Option<FamilyPrediction>,
}

#[derive(Debug, Error)]
pub enum ModelFileError {
    #[error("cannot read model {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write model {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a nadir model file (wrong magic bytes)")]
    NotAModel { path: String },
    #[error(
        "{path} is a model file of format version {found}; this nadir (version {}) reads versions {OLDEST_READABLE} to {FORMAT_VERSION}: retrain the model with this version",
        env!("CARGO_PKG_VERSION")
    )]
    Version { path: String, found: u32 },
    #[error("{path} is truncated: expected {expected} bytes of model, found {found}")]
    Truncated {
        path: String,
        expected: u64,
        found: u64,
    },
    #[error("{path} is corrupted: its checksum does not match its contents")]
    Corrupt { path: String },
    #[error("{path} could not be decoded: {message}")]
    Decode { path: String, message: String },
}

/// A model file's bytes around `payload`: the magic bytes, the format version, the payload's
/// length and checksum, then the payload (see the module doc).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(payload));
    bytes.extend_from_slice(payload);
    bytes
}

impl Prediction {
    /// The prediction in words, as every front end writes it: `attack` or `normal`
    /// ([`crate::output::verdict`]).
    pub fn verdict(&self) -> &'static str {
        crate::output::verdict(self.is_attack)
    }

    /// The record's warnings as one text ([`crate::output::warning_text`]).
    pub fn warning_text(&self) -> String {
        crate::output::warning_text(&self.unseen)
    }
}

impl SavedModel {
    pub fn kind(&self) -> ModelKind {
        self.model.kind()
    }

    /// Scores raw records: encodes them with the saved pipeline, applies the model and the
    /// threshold (or `threshold` when given), and reports unseen categories per record.
    pub fn predict(&self, records: &[Record], threshold: Option<f64>) -> Vec<Prediction> {
        let encoded = self.pipeline.encode(records);
        let threshold = threshold.unwrap_or(self.threshold);
        let (scores, parts) = self.model.score_with_parts(&encoded);
        let mut families = self
            .family
            .as_ref()
            .map(|family| family.predict(&encoded).into_iter());
        let mut predictions: Vec<Prediction> = scores
            .into_iter()
            .enumerate()
            .map(|(i, score)| Prediction {
                is_attack: score >= threshold,
                score,
                unseen: Vec::new(),
                fired: parts.as_ref().and_then(|p| p[i].fired(threshold)),
                family: families.as_mut().and_then(Iterator::next),
            })
            .collect();
        for unseen in encoded.unseen {
            predictions[unseen.row].unseen.push(unseen);
        }
        predictions
    }

    /// Every record's explanation (see [`crate::explain`]). The explainer is built on the
    /// first call and kept for the next ([`crate::explain::Cache`]). Tree models from files
    /// without node covers, and the models [`crate::explain::ExplainError`] lists, are
    /// errors that say why.
    pub fn explain(
        &self,
        records: &[Record],
    ) -> Result<Vec<crate::explain::Explanation>, crate::explain::ExplainError> {
        let explainer = self.explainer.get(&self.model)?;
        Ok(explainer.explain(&self.pipeline.encode(records)))
    }

    /// Each record's `k` strongest features ([`crate::explain::Explanation::top`]), with
    /// the training data's typical values: what every front end writes.
    pub fn explain_top(
        &self,
        records: &[Record],
        k: usize,
    ) -> Result<Vec<crate::explain::TopFeatures>, crate::explain::ExplainError> {
        Ok(self
            .explain(records)?
            .iter()
            .zip(records)
            .map(|(e, record)| e.top(k, record, &self.pipeline, &self.typical_numeric))
            .collect())
    }

    /// Why predictions carry no family, when they do not: a file from before family
    /// models, or data with too many families.
    pub fn family_note(&self) -> Option<String> {
        self.family.is_none().then(|| {
            format!(
                "this model file has no attack-family model (files before format \
                 {FAMILIES_SINCE}, or data of more than {} families): predictions carry no \
                 family; retrain with this nadir for families",
                crate::family::MAX_FAMILIES
            )
        })
    }

    /// The typical value of numeric feature `column` (its position among the schema's
    /// numeric features): the median of the training rows; `None` for files before format
    /// 5 and columns the schema lacks.
    pub fn typical_numeric(&self, column: usize) -> Option<f64> {
        self.typical_numeric.get(column).copied()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        frame(&self.payload())
    }

    /// The model encoded, without the file's header: what [`frame`] wraps.
    pub fn payload(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("models serialise")
    }

    /// Decodes a model file's bytes; `path` names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<SavedModel, ModelFileError> {
        let path = path.to_string();
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ModelFileError::NotAModel { path });
        }
        if bytes.len() < HEADER_LEN {
            return Err(ModelFileError::Truncated {
                path,
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if !(OLDEST_READABLE..=FORMAT_VERSION).contains(&version) {
            return Err(ModelFileError::Version {
                path,
                found: version,
            });
        }
        let length = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let payload = &bytes[HEADER_LEN..];
        if payload.len() as u64 != length {
            return Err(ModelFileError::Truncated {
                path,
                expected: length,
                found: payload.len() as u64,
            });
        }
        if Sha256::digest(payload).as_slice() != &bytes[20..HEADER_LEN] {
            return Err(ModelFileError::Corrupt { path });
        }
        crate::model::take_refusal();
        let model: SavedModel =
            crate::model::with_reading_format(version, || postcard::from_bytes(payload)).map_err(
                |e| ModelFileError::Decode {
                    path: path.clone(),
                    message: crate::model::take_refusal().unwrap_or_else(|| e.to_string()),
                },
            )?;
        if !(0.0..=1.0).contains(&model.threshold) {
            return Err(ModelFileError::Decode {
                path,
                message: format!(
                    "its decision threshold {} is not a score in [0, 1]",
                    model.threshold
                ),
            });
        }
        if !model.pipeline.is_consistent() {
            return Err(ModelFileError::Decode {
                path,
                message: "its feature pipeline does not match its schema".to_string(),
            });
        }
        let family_widths = model.family.iter().flat_map(|f| f.model.input_widths());
        for width in model.model.input_widths().into_iter().chain(family_widths) {
            let encoded = width.of_pipeline(&model.pipeline);
            if width != encoded {
                return Err(ModelFileError::Decode {
                    path,
                    message: format!(
                        "its {} model reads rows of {width}, its feature pipeline encodes {encoded}",
                        model.kind()
                    ),
                });
            }
        }
        let numeric = model.pipeline.schema().num_numeric();
        if !model.typical_numeric.is_empty() && model.typical_numeric.len() != numeric {
            return Err(ModelFileError::Decode {
                path,
                message: format!(
                    "it holds {} typical numeric values for {numeric} numeric features",
                    model.typical_numeric.len()
                ),
            });
        }
        Ok(model)
    }

    /// Writes the model atomically: a temporary file beside `path`, synced, then renamed.
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let error = |source| ModelFileError::Write {
            path: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension(format!("{EXTENSION}.tmp"));
        let mut file = std::fs::File::create(&tmp).map_err(error)?;
        file.write_all(&self.to_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&tmp, path).map_err(error)
    }

    pub fn load(path: &Path) -> Result<SavedModel, ModelFileError> {
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SavedModel::from_bytes(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{TrainOptions, train};
    use crate::registry::ModelKind;
    use crate::testdata::shared_data;
    use nadir_data::{ReadOptions, read_path};

    fn saved_tree() -> (SavedModel, nadir_data::Dataset) {
        let data = read_path(
            &shared_data("Network_anomaly_sample.csv"),
            ReadOptions::default(),
        )
        .unwrap();
        let options = TrainOptions {
            kinds: vec![ModelKind::DecisionTree],
            folds: 2,
            ..TrainOptions::default()
        };
        let mut trained = train(&data, None, &options, &|_| {}).unwrap();
        (trained.models.remove(0), data)
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nadir-file-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn save_and_load_give_the_same_model_and_predictions() {
        let (model, data) = saved_tree();
        let path = scratch("roundtrip").join("tree.nadir");
        model.save(&path).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        assert_eq!(loaded, model);
        assert_eq!(
            loaded.predict(&data.records, None),
            model.predict(&data.records, None)
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        assert_eq!(loaded.training.data_sha256, data.sha256);
        assert_eq!(loaded.training.rows, 1400);
    }

    /// The fixtures' models, trained afresh with the options they were written with, and
    /// the sample they were trained on.
    fn fixture_models() -> (Vec<SavedModel>, nadir_data::Dataset) {
        let data = read_path(
            &shared_data("Network_anomaly_sample.csv"),
            ReadOptions::default(),
        )
        .unwrap();
        let mut config = crate::registry::ModelConfig::default();
        config.decision_tree.max_depth = Some(4);
        config.logistic_regression.max_iter = 50;
        config.voting.members = vec![ModelKind::LogisticRegression, ModelKind::DecisionTree];
        config.hybrid.classifier = ModelKind::DecisionTree;
        config.hybrid.max_reference = 50;
        // The files were written when the distance was measured on principal components.
        config.hybrid.pca_variance = Some(0.95);
        // ... and the threshold on normal rows held out of the reference.
        config.hybrid.novelty = crate::hybrid::NoveltyKind::Knn;
        config.random_forest.trees = 3;
        config.random_forest.max_depth = Some(4);
        let options = TrainOptions {
            kinds: vec![
                ModelKind::LogisticRegression,
                ModelKind::DecisionTree,
                ModelKind::Voting,
                ModelKind::Hybrid,
            ],
            config,
            folds: 2,
            ..TrainOptions::default()
        };
        let trained = train(&data, None, &options, &|_| {}).unwrap();
        (trained.models, data)
    }

    fn fixture_path(version: u32, kind: ModelKind) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("v{version}"))
            .join(format!("{kind}.{EXTENSION}"))
    }

    /// Model files of the current format (`tests/fixtures/v{FORMAT_VERSION}/*.nadir`), so that
    /// any change to the names, the variant order or a model's layout that breaks existing
    /// files fails here, and of format 5 (before the SVMs stored their loss), which the
    /// change to 6 left as they were. Each is retrained here with the same options: the file
    /// must load as that model and score as it does. A change that cannot read them bumps
    /// [`FORMAT_VERSION`]; then `NADIR_WRITE_FIXTURES=1` writes the new version's files.
    #[test]
    fn model_files_written_by_earlier_versions_load_and_score() {
        let (fresh_models, data) = fixture_models();
        for version in [FORMAT_VERSION, SVM_LOSS_SINCE - 1] {
            for fresh in &fresh_models {
                let path = fixture_path(version, fresh.kind());
                if version == FORMAT_VERSION && std::env::var_os("NADIR_WRITE_FIXTURES").is_some() {
                    fresh.save(&path).unwrap();
                }
                let old = SavedModel::load(&path).unwrap();
                assert_eq!(old.kind(), fresh.kind());
                assert_eq!(old.model, fresh.model, "{} v{version}", fresh.kind());
                assert_eq!(old.pipeline, fresh.pipeline);
                assert_eq!(old.threshold, fresh.threshold);
                assert_eq!(
                    old.predict(&data.records, None),
                    fresh.predict(&data.records, None),
                    "{} v{version}",
                    fresh.kind()
                );
            }
        }
    }

    /// A kernel SVM of 20 random features with `loss`, as the SVM fixtures were trained.
    fn fixture_kernel_svm(loss: crate::linear::SvmLoss) -> (SavedModel, nadir_data::Dataset) {
        let data = read_path(
            &shared_data("Network_anomaly_sample.csv"),
            ReadOptions::default(),
        )
        .unwrap();
        let mut config = crate::registry::ModelConfig::default();
        config.kernel_svm.loss = loss;
        config
            .kernel_svm
            .feature_map
            .as_mut()
            .expect("the kernel SVM's feature map")
            .components = 20;
        // The family model's forest, kept small.
        config.random_forest.trees = 3;
        config.random_forest.max_depth = Some(4);
        let options = TrainOptions {
            kinds: vec![ModelKind::KernelSvm],
            config,
            folds: 2,
            ..TrainOptions::default()
        };
        let mut trained = train(&data, None, &options, &|_| {}).unwrap();
        (trained.models.remove(0), data)
    }

    /// SVM files load as the SVM of their loss: the current format's, and format 5's, written
    /// before SVMs stored their loss, as a hinge-loss SVM (the only loss there was).
    #[test]
    fn svm_files_load_with_their_loss_and_score() {
        use crate::linear::SvmLoss;
        for (version, loss) in [
            (FORMAT_VERSION, SvmLoss::SquaredHinge),
            (SVM_LOSS_SINCE - 1, SvmLoss::Hinge),
        ] {
            let (fresh, data) = fixture_kernel_svm(loss);
            let path = fixture_path(version, ModelKind::KernelSvm);
            if version == FORMAT_VERSION && std::env::var_os("NADIR_WRITE_FIXTURES").is_some() {
                fresh.save(&path).unwrap();
            }
            let old = SavedModel::load(&path).unwrap();
            assert_eq!(old.model, fresh.model, "v{version}");
            assert_eq!(
                old.predict(&data.records, None),
                fresh.predict(&data.records, None),
                "v{version}"
            );
        }
        let (hinge, _) = fixture_kernel_svm(SvmLoss::Hinge);
        let (squared, _) = fixture_kernel_svm(SvmLoss::SquaredHinge);
        assert_ne!(hinge.model, squared.model, "the loss changes the fit");
    }

    /// A model's predictions without their families.
    fn binary_predictions(model: &SavedModel, records: &[Record]) -> Vec<Prediction> {
        let mut predictions = model.predict(records, None);
        predictions.iter_mut().for_each(|p| p.family = None);
        predictions
    }

    /// Files of format 4, before family models, load and score as the same model trained
    /// now, without families, and say so.
    #[test]
    fn format_4_files_load_without_families_and_say_so() {
        let (fresh_models, data) = fixture_models();
        for fresh in &fresh_models {
            let old = SavedModel::load(&fixture_path(FAMILIES_SINCE - 1, fresh.kind())).unwrap();
            assert_eq!(old.model, fresh.model, "{}", fresh.kind());
            assert_eq!(old.family, None);
            assert_eq!(old.typical_numeric(0), None);
            assert!(
                old.family_note()
                    .unwrap()
                    .contains("no attack-family model")
            );
            let predictions = old.predict(&data.records, None);
            assert!(predictions.iter().all(|p| p.family.is_none()));
            assert_eq!(predictions, binary_predictions(fresh, &data.records));
            assert!(fresh.family_note().is_none());
            assert!(
                fresh
                    .predict(&data.records[..5], None)
                    .iter()
                    .all(|p| p.family.is_some())
            );
        }
    }

    /// Explained features carry the training data's typical value: a numeric feature's
    /// median, saved in the file, and a categorical feature's commonest value.
    #[test]
    fn explained_features_carry_their_typical_training_values() {
        let (_, data) = fixture_models();
        let tree =
            SavedModel::load(&fixture_path(FORMAT_VERSION, ModelKind::DecisionTree)).unwrap();
        let schema = tree.pipeline.schema();
        let numeric = schema.numeric_names();
        let categorical = schema.categorical_names();
        let mut seen = (0, 0);
        for top in tree.explain_top(&data.records[..20], usize::MAX).unwrap() {
            for f in &top.features {
                let expected = match numeric.iter().position(|&n| n == f.feature) {
                    Some(column) => {
                        seen.0 += 1;
                        tree.typical_numeric(column).unwrap().to_string()
                    }
                    None => {
                        seen.1 += 1;
                        let c = categorical.iter().position(|&n| n == f.feature).unwrap();
                        tree.pipeline.vocabulary(c)[0].clone()
                    }
                };
                assert_eq!(f.typical.as_deref(), Some(expected.as_str()), "{f:?}");
            }
        }
        assert!(seen.0 > 0 && seen.1 > 0, "{seen:?}");
    }

    /// Files of the oldest format still read (3, before node covers) load and score as the
    /// same model trained now; asking their tree models for explanations says to retrain.
    #[test]
    fn older_model_files_score_and_ask_for_a_retrain_to_explain() {
        let (fresh_models, data) = fixture_models();
        for fresh in &fresh_models {
            let old = SavedModel::load(&fixture_path(OLDEST_READABLE, fresh.kind())).unwrap();
            assert_eq!(old.kind(), fresh.kind());
            assert_eq!(
                old.predict(&data.records, None),
                binary_predictions(fresh, &data.records),
                "{}",
                fresh.kind()
            );
        }
        let old =
            SavedModel::load(&fixture_path(OLDEST_READABLE, ModelKind::DecisionTree)).unwrap();
        let error = old.explain(&data.records[..3]).unwrap_err();
        assert_eq!(
            error,
            crate::explain::ExplainError::NeedsRetrain {
                kind: ModelKind::DecisionTree
            }
        );
        assert_eq!(
            error.to_string(),
            "this decision_tree model was saved without the node covers explanations need \
             (model files before format 4): retrain it with this nadir to explain its predictions"
        );
        // Saved again, it is a file of the current format that still has no covers.
        let resaved = SavedModel::from_bytes(&old.to_bytes(), "m").unwrap();
        assert_eq!(resaved, old);
        assert!(resaved.explain(&data.records[..3]).is_err());
        let fresh = fresh_models
            .iter()
            .find(|m| m.kind() == ModelKind::DecisionTree)
            .unwrap();
        assert_eq!(fresh.explain(&data.records[..3]).unwrap().len(), 3);
    }

    /// A model whose input width differs from its pipeline's is a load error naming both.
    #[test]
    fn a_model_that_does_not_fit_its_pipeline_is_a_load_error() {
        let (tree, data) = saved_tree();
        let (tree, _) = (tree, data);
        let without_duration = nadir_data::Schema::nsl_kdd().without(&["duration".into()]);
        let narrow = FeaturePipeline::fit(&std::sync::Arc::new(without_duration.unwrap()), &[]);
        let mut model = tree.clone();
        model.pipeline = narrow;
        let error = SavedModel::from_bytes(&model.to_bytes(), "m").unwrap_err();
        assert_eq!(
            error.to_string(),
            "m could not be decoded: its decision_tree model reads rows of 41 tree columns \
             (38 numeric), its feature pipeline encodes 40 tree columns (37 numeric)"
        );
        assert!(SavedModel::from_bytes(&tree.to_bytes(), "m").is_ok());
    }

    /// A decision threshold that is no score is a load error.
    #[test]
    fn a_threshold_outside_the_scores_is_a_load_error() {
        let saved = crate::testdata::fixture("decision_tree");
        for threshold in [f64::NAN, -0.1, 1.5] {
            let mut tampered = saved.clone();
            tampered.threshold = threshold;
            let error = crate::testdata::load_error(&tampered);
            assert_eq!(
                error,
                format!("its decision threshold {threshold} is not a score in [0, 1]")
            );
        }
    }

    /// A load check's refusal is the error's message; one left over from decoding something
    /// else on this thread is not.
    #[test]
    fn a_refused_load_check_is_what_the_error_says() {
        let saved = crate::testdata::fixture("hybrid");
        let AnyModel::Hybrid(hybrid) = &saved.model else {
            panic!("{}", saved.kind())
        };
        // The hybrid's `neighbours` set to 0, which its check refuses, in the bytes.
        let mut params = hybrid.params().clone();
        let good = postcard::to_stdvec(&params).unwrap();
        params.neighbours = 0;
        let bad = postcard::to_stdvec(&params).unwrap();
        assert_eq!(good.len(), bad.len());
        let mut payload = saved.payload();
        let at = payload
            .windows(good.len())
            .position(|w| w == good.as_slice())
            .expect("the parameters' bytes");
        payload[at..at + bad.len()].copy_from_slice(&bad);
        let message = |bytes: &[u8]| match SavedModel::from_bytes(bytes, "m") {
            Err(ModelFileError::Decode { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(&frame(&payload)),
            "hybrid: parameter `neighbours`: at least 1"
        );
        // Refused again outside a file's reading, its text waits on this thread…
        assert!(postcard::from_bytes::<SavedModel>(&payload).is_err());
        // …and is not what a file's later, other error says.
        let good = saved.payload();
        let truncated = message(&frame(&good[..good.len() - 4]));
        assert!(truncated.contains("end of buffer"), "{truncated}");
    }

    /// A file of an earlier format is refused with both versions and what to do.
    #[test]
    fn a_model_file_of_an_earlier_format_says_both_versions() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1/decision_tree.nadir");
        let error = SavedModel::load(&path).unwrap_err();
        assert!(matches!(error, ModelFileError::Version { found: 1, .. }));
        assert_eq!(
            error.to_string(),
            format!(
                "{} is a model file of format version 1; this nadir (version {}) reads versions {OLDEST_READABLE} to {FORMAT_VERSION}: retrain the model with this version",
                path.display(),
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn damaged_bytes_are_refused_with_the_reason() {
        let (model, _) = saved_tree();
        let good = model.to_bytes();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let mut version = good.clone();
        version[8..12].copy_from_slice(&1u32.to_le_bytes());
        let err = |bytes: &[u8]| SavedModel::from_bytes(bytes, "m").unwrap_err();
        assert!(matches!(
            err(&good[..good.len() - 1]),
            ModelFileError::Truncated { .. }
        ));
        assert!(matches!(err(&good[..10]), ModelFileError::Truncated { .. }));
        assert!(matches!(err(&flipped), ModelFileError::Corrupt { .. }));
        let old = err(&version);
        assert!(matches!(old, ModelFileError::Version { found: 1, .. }));
        assert!(
            old.to_string()
                .contains("format version 1; this nadir (version")
                && old.to_string().contains(&format!(
                    "reads versions {OLDEST_READABLE} to {FORMAT_VERSION}: retrain"
                )),
            "{old}"
        );
        assert!(matches!(
            err(b"PK\x03\x04zip"),
            ModelFileError::NotAModel { .. }
        ));
    }
}
