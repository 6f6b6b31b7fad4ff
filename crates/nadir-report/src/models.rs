//! The supervised half of the report: the models of a `nadir train` directory, scored again on
//! exactly the rows the protocol held out, for the curves that `metrics.json` cannot hold.
//!
//! The held-out rows are read from `metrics.json`, which records them (`data.split`: the
//! positions of the test part's rows among the records read, with the method, seed and test
//! share that drew them; or the separate test file). They are not recreated: the report does
//! not depend on how the split is drawn. What is read is checked: the data file must be the
//! one trained on (its sha256), the rows must be positions in it, and every model must
//! reproduce, to the row, the confusion matrix saved in its file. A model is never scored on a
//! row it was trained on. A `metrics.json` written before the split was recorded is refused,
//! asking for `nadir train` to be run again.

use crate::ReportError;
use nadir_data::Dataset;
use nadir_ml::Classifier;
use nadir_ml::file::SavedModel;
use nadir_ml::metrics::{self, Scores, threshold_curve};
use nadir_ml::model_dir;
use nadir_ml::protocol::{DataSplit, MeanStd, ModelReport, TrainReport};
use nadir_ml::registry::ModelKind;
use std::path::{Path, PathBuf};

/// A model directory written by `nadir train`.
pub struct ModelDir {
    pub dir: PathBuf,
    pub metrics: TrainReport,
    /// The models of `metrics.json`, in its order, then any other model file in the directory.
    pub models: Vec<SavedModel>,
}

impl ModelDir {
    /// The schema the models were trained on (that of the first model; a training run
    /// writes one schema).
    pub fn schema(&self) -> Option<&std::sync::Arc<nadir_data::Schema>> {
        self.models.first().map(|m| m.pipeline.schema())
    }

    /// Reads `DIR/metrics.json` and every `DIR/*.nadir`.
    pub fn load(dir: &Path) -> Result<ModelDir, ReportError> {
        let metrics = model_dir::load_metrics(dir)?;
        let mut models = Vec::new();
        for path in model_dir::model_files(dir)? {
            models.push(SavedModel::load(&path)?);
        }
        let order = |m: &SavedModel| {
            metrics
                .models
                .iter()
                .position(|t| t.name == m.kind())
                .unwrap_or(usize::MAX)
        };
        models.sort_by_key(|m| (order(m), m.kind()));
        for trained in &metrics.models {
            if !models.iter().any(|m| m.kind() == trained.name) {
                return Err(ReportError::MissingModel {
                    path: model_dir::model_path(dir, trained.name)
                        .display()
                        .to_string(),
                });
            }
        }
        Ok(ModelDir {
            dir: dir.to_path_buf(),
            metrics,
            models,
        })
    }

    pub fn trained(&self, kind: ModelKind) -> Option<&ModelReport> {
        self.metrics.models.iter().find(|m| m.name == kind)
    }
}

/// The rows the models were measured on, and how they were found.
pub struct HeldOut {
    /// Rows of the training part, as indices into the report's data (empty when the held-out
    /// rows come from a separate test file).
    pub train_rows: Vec<usize>,
    /// Indices into the report's data; `None` when the held-out rows are `test` instead.
    pub test_rows: Option<Vec<usize>>,
    pub test_share: Option<f64>,
    /// Said on the page: where the held-out rows came from.
    pub how: String,
}

/// The protocol's split of `data` for the models of `dir`, as `metrics.json` records it.
pub fn held_out(
    data: &Dataset,
    dir: &ModelDir,
    test_file: Option<&Dataset>,
) -> Result<HeldOut, ReportError> {
    let trained = &dir.metrics.data;
    if data.sha256 != trained.sha256 {
        return Err(ReportError::OtherData {
            data: data.source.clone(),
            trained: trained.source.clone(),
        });
    }
    let split = trained.split.as_ref().ok_or_else(|| {
        ReportError::Split(format!(
            "{}/metrics.json does not record the rows of its split (it was written by an older nadir): run `nadir train` again",
            dir.dir.display()
        ))
    })?;
    let (seed, share, test_rows) = match split {
        DataSplit::TestFile { source } => {
            let test = test_file.ok_or_else(|| ReportError::TestFileNeeded {
                path: source.clone(),
            })?;
            return Ok(HeldOut {
                train_rows: (0..data.len()).collect(),
                test_rows: None,
                test_share: None,
                how: format!(
                    "the models were trained on all {} rows of {} and measured on the {} rows of {}",
                    data.len(),
                    data.source,
                    test.len(),
                    test.source
                ),
            });
        }
        DataSplit::Stratified {
            seed,
            test_share,
            test_rows,
        } => (*seed, *test_share, test_rows),
    };
    if data.len() != trained.rows {
        return Err(ReportError::Split(format!(
            "{} holds {} rows, but the models were trained and measured on {}: read it as `nadir train` did",
            data.source,
            data.len(),
            trained.rows
        )));
    }
    let ascending = test_rows.windows(2).all(|w| w[0] < w[1]);
    let inside = test_rows.last().is_none_or(|&last| last < data.len());
    if !ascending || !inside || test_rows.len() != trained.test_rows {
        return Err(ReportError::Split(format!(
            "{}/metrics.json records {} held-out rows{}{}, not the {} test rows it counts among the {} rows of {}",
            dir.dir.display(),
            test_rows.len(),
            if ascending { "" } else { " out of order" },
            if inside {
                ""
            } else {
                " beyond the end of the data"
            },
            trained.test_rows,
            data.len(),
            data.source
        )));
    }
    let mut held = vec![false; data.len()];
    for &i in test_rows {
        held[i] = true;
    }
    let train_rows: Vec<usize> = (0..data.len()).filter(|&i| !held[i]).collect();
    Ok(HeldOut {
        how: format!(
            "the {} rows held out by nadir train (stratified {:.0} % split, seed {}), read from metrics.json and checked against every model's saved confusion matrix",
            crate::figures::grouped(test_rows.len()),
            share * 100.0,
            seed
        ),
        train_rows,
        test_rows: Some(test_rows.clone()),
        test_share: Some(share),
    })
}

/// One model measured on the held-out rows.
pub struct ModelResult {
    pub kind: ModelKind,
    pub description: String,
    pub threshold: f64,
    pub threshold_rule: String,
    pub holdout: Scores,
    /// Area under the precision–recall curve (average precision).
    pub average_precision: Option<f64>,
    /// (false-positive rate, true-positive rate), from the highest score down.
    pub roc: Vec<(f64, f64)>,
    /// (recall, precision), from the highest score down.
    pub pr: Vec<(f64, f64)>,
    /// From `metrics.json`: cross-validated F1 and timings.
    pub cv_f1: Option<MeanStd>,
    pub fit_seconds: Option<f64>,
    pub predict_seconds: Option<f64>,
    pub importances: Option<Vec<(String, f64)>>,
    /// The scores of the held-out rows (kept for the isolation forest's histogram).
    pub scores: Vec<f64>,
    /// Its attack-family model's per-family report on the held-out rows, from metrics.json.
    pub families: Option<nadir_ml::protocol::FamilyReport>,
}

/// Scores `rows` of `data` (labels `truth`) with one model and checks the result against
/// the confusion matrix saved with it.
pub fn measure(
    model: &SavedModel,
    dir: &ModelDir,
    test: &Dataset,
    truth: &[bool],
) -> Result<ModelResult, ReportError> {
    let scores: Vec<f64> = model
        .predict(&test.records, None)
        .into_iter()
        .map(|p| p.score)
        .collect();
    let holdout = Scores::at_threshold(truth, &scores, model.threshold);
    if let Some(saved) = &model.metrics.holdout
        && saved.confusion != holdout.confusion
    {
        return Err(ReportError::Split(format!(
            "{} scores the recreated held-out rows as {:?}, but its file saved {:?}: the model directory and the data do not belong together",
            model.kind(),
            holdout.confusion,
            saved.confusion
        )));
    }
    let positives = truth.iter().filter(|&&t| t).count().max(1) as f64;
    let negatives = (truth.len() as f64 - positives).max(1.0);
    let curve = threshold_curve(truth, &scores);
    let mut roc = vec![(0.0, 0.0)];
    roc.extend(
        curve
            .iter()
            .map(|p| (p.fp as f64 / negatives, p.tp as f64 / positives)),
    );
    let pr = curve
        .iter()
        .map(|p| (p.tp as f64 / positives, p.tp as f64 / (p.tp + p.fp) as f64))
        .collect();
    let trained = dir.trained(model.kind());
    Ok(ModelResult {
        kind: model.kind(),
        description: model.model.describe(),
        threshold: model.threshold,
        threshold_rule: model.threshold_rule.clone(),
        holdout,
        average_precision: metrics::average_precision(truth, &scores),
        roc,
        pr,
        cv_f1: trained.map(|t| t.cross_validation.f1),
        fit_seconds: trained.map(|t| t.fit_seconds),
        predict_seconds: trained.map(|t| t.predict_seconds),
        importances: trained.and_then(|t| t.feature_importances.clone()),
        scores,
        families: trained.and_then(|t| t.families.clone()),
    })
}

/// Where the models' held-out rows are, for [`measure`].
pub fn held_out_rows(data: &Dataset, held: &HeldOut, test_file: Option<&Dataset>) -> Dataset {
    match (&held.test_rows, test_file) {
        (Some(rows), _) => data.select(rows),
        (None, Some(test)) => test.clone(),
        (None, None) => data.select(&[]),
    }
}
