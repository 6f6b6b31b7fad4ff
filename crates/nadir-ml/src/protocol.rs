//! The evaluation protocol of the original project, made honest.
//!
//! A stratified split keeps a test part (30 % by default) that nothing is tuned on. On the
//! training part, stratified K-fold cross-validation gives each model's fold metrics and its
//! out-of-fold scores, from which the decision threshold is chosen. The final model is
//! fitted on the whole training part and measured once on the test part. The feature
//! pipeline is refitted on every fold's training rows, so validation rows meet unseen
//! categories exactly as new traffic would.
//!
//! `run` is the list of these steps, one function each: `check`, `split`, `cross_validate`,
//! `final_fit`, then per model `choose_threshold` and `measure_holdout`. The split is recorded in metrics.json ([`DataSplit`]: the held-out
//! rows themselves), so the report scores exactly those rows without replaying it.

use crate::family::{FamilyKind, FamilyModel, MAX_FAMILIES, class_of, family_classes};
use crate::file::{SavedModel, TrainingInfo, TrainingMetrics};
use crate::fitting::{Catalogue, Fits, Fitted, Fitter};
use crate::metrics::{self, ClassReport, Scores};
use crate::model::{Classifier, Fired, FitError, PartScores};
use crate::registry::{CheckedConfig, ModelConfig, ModelKind, ParamError};
use crate::split::{stratified_folds, stratified_split};
use nadir_data::{Dataset, Encoded, FeaturePipeline, Schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;
use thiserror::Error;

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub kinds: Vec<ModelKind>,
    pub config: ModelConfig,
    pub seed: u64,
    /// Share of each class kept aside as the test part.
    pub test_share: f64,
    /// Cross-validation folds on the training part (at least 2).
    pub folds: usize,
    /// A fixed decision threshold instead of the one chosen by cross-validation.
    pub threshold: Option<f64>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            kinds: ModelKind::supervised(),
            config: ModelConfig::default(),
            seed: 42,
            test_share: 0.3,
            folds: 5,
            threshold: None,
        }
    }
}

/// What the protocol is doing, for progress displays.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Work is about to start; this many fits will follow.
    Start { fits: usize },
    /// A model is being fitted; `fold` is `None` for the final fit.
    Fit {
        kind: ModelKind,
        fold: Option<usize>,
    },
    /// One fit finished.
    Done,
}

#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("{path} has no `attack` column; training and evaluation need labelled records")]
    Unlabelled { path: String },
    #[error("{0}")]
    Options(String),
    #[error("fitting {kind}: {error}")]
    Fit { kind: ModelKind, error: FitError },
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("fitting the attack-family model: {error}")]
    Family { error: FitError },
}

/// Summary of the data a run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataSummary {
    pub source: String,
    pub sha256: String,
    /// The separate test file, when one was given.
    pub test_source: Option<String>,
    pub rows: usize,
    pub skipped_rows: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    /// The share of `source` held out as the test part (absent when `test_source` was given).
    pub test_share: Option<f64>,
    /// How the test part was chosen, with its rows, so the report scores exactly them again.
    /// `None` only in a metrics.json written by a nadir from before it was recorded.
    #[serde(default)]
    pub split: Option<DataSplit>,
    pub attack_share: f64,
    /// Test rows holding a category value unseen in the training part.
    pub test_rows_with_unseen_categories: usize,
}

/// How a run's test part was chosen (`method` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum DataSplit {
    /// A stratified share of each class of `source` held out, drawn with `seed`.
    Stratified {
        seed: u64,
        test_share: f64,
        /// The held-out rows: positions among the records read from `source`, 0-based,
        /// ascending. Every other row is the training part.
        test_rows: Vec<usize>,
    },
    /// A separate test file: all of `source` is the training part.
    TestFile { source: String },
}

/// Mean and standard deviation over folds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub(crate) fn of(values: impl Iterator<Item = f64>) -> MeanStd {
        let v: Vec<f64> = values.collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Cross-validation of one model: per-fold metrics (at 0.5, or at the threshold the model
/// fixed itself) and their summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossValidation {
    pub folds: Vec<Scores>,
    pub accuracy: MeanStd,
    pub f1: MeanStd,
    pub roc_auc: MeanStd,
}

/// Everything measured about one model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelReport {
    pub name: ModelKind,
    pub description: String,
    pub threshold: f64,
    pub cross_validation: CrossValidation,
    /// On the test part, at `threshold`.
    pub holdout: Scores,
    /// Wall-clock seconds of the final fit (for voting: its members' fits added up).
    pub fit_seconds: f64,
    /// Wall-clock seconds to score the test part.
    pub predict_seconds: f64,
    pub test_rows: usize,
    /// Tree models: importance of each schema feature, largest first.
    pub feature_importances: Option<Vec<(String, f64)>>,
    /// Its attack-family model, measured on the test part; absent when the run had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<FamilyReport>,
}

/// An attack-family model measured on the test part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FamilyReport {
    pub description: String,
    /// Wall-clock seconds of its fit on the training part.
    pub fit_seconds: f64,
    /// Per family, on the test rows of the families the training part holds.
    pub holdout: ClassReport,
    /// Test rows of a family the training part never showed, which no family model can
    /// name: left out of `holdout`.
    pub test_rows_of_unseen_families: usize,
}

/// The results of `train`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub nadir_version: String,
    pub seed: u64,
    pub folds: usize,
    pub data: DataSummary,
    pub models: Vec<ModelReport>,
    /// Why the run fitted no attack-family models, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families_note: Option<String>,
}

impl TrainReport {
    /// The model with the best cross-validated F1 (mean over the folds of the training part),
    /// ties broken by cross-validated ROC-AUC: picking by the test part's F1 would tune on it.
    pub fn best(&self) -> Option<&ModelReport> {
        self.models.iter().max_by(|a, b| {
            let key =
                |m: &ModelReport| (m.cross_validation.f1.mean, m.cross_validation.roc_auc.mean);
            key(a).partial_cmp(&key(b)).expect("finite metrics")
        })
    }
}

pub struct Trained {
    pub report: TrainReport,
    pub models: Vec<SavedModel>,
}

/// Fits every checked model (the chosen ones and their parts) on one set of rows, timing
/// each, each once: a model made of parts reuses them.
fn fit_all<F: Fitter>(
    fitter: &F,
    config: &CheckedConfig,
    seed: u64,
    data: &Encoded,
    labels: &[bool],
    fold: Option<usize>,
    progress: &dyn Fn(Progress),
) -> Result<BTreeMap<ModelKind, Fitted<F::Model>>, ProtocolError> {
    let mut fits = Fits::new(fitter, config, data, labels, seed);
    for &kind in config.kinds() {
        progress(Progress::Fit { kind, fold });
        fits.get(kind)
            .map_err(|error| ProtocolError::Fit { kind, error })?;
        progress(Progress::Done);
    }
    Ok(fits.into_fitted())
}

/// Runs the protocol on a labelled dataset. With `test_data`, all of `data` is the training
/// part and the models are measured on `test_data` (e.g. KDDTrain+ then KDDTest+); without
/// it, a stratified share of `data` is held out.
pub fn train(
    data: &Dataset,
    test_data: Option<&Dataset>,
    options: &TrainOptions,
    progress: &dyn Fn(Progress),
) -> Result<Trained, ProtocolError> {
    let mut outcome = run(&Catalogue, data, test_data, options, progress)?;
    let mut reports = Vec::new();
    let mut saved = Vec::new();
    let (families, families_note) =
        match std::mem::replace(&mut outcome.families, Families::Unfitted(String::new())) {
            Families::Fitted(fitted) => (fitted, None),
            Families::Unfitted(why) => (BTreeMap::new(), Some(why)),
        };
    for measured in outcome.models {
        let Measured {
            kind,
            model,
            threshold,
            threshold_rule,
            folds,
            holdout,
            fit_seconds,
            predict_seconds,
        } = measured;
        let family = families.get(&FamilyKind::for_model(kind)).cloned();
        reports.push(ModelReport {
            name: kind,
            description: model.describe(),
            threshold,
            cross_validation: CrossValidation {
                accuracy: MeanStd::of(folds.iter().map(|s| s.accuracy)),
                f1: MeanStd::of(folds.iter().map(|s| s.f1)),
                roc_auc: MeanStd::of(folds.iter().filter_map(|s| s.roc_auc)),
                folds: folds.clone(),
            },
            holdout,
            fit_seconds,
            predict_seconds,
            test_rows: outcome.data.test_rows,
            feature_importances: model
                .feature_importances()
                .map(|importances| named_importances(outcome.pipeline.schema(), importances)),
            families: family.as_ref().map(|(_, report)| report.clone()),
        });
        saved.push(SavedModel {
            nadir_version: env!("CARGO_PKG_VERSION").to_string(),
            pipeline: outcome.pipeline.clone(),
            hyperparameters: options.config.section_toml(kind),
            model,
            threshold,
            threshold_rule,
            training: TrainingInfo {
                source: data.source.clone(),
                data_sha256: data.sha256.clone(),
                rows: outcome.data.train_rows,
                seed: options.seed,
            },
            metrics: TrainingMetrics {
                cross_validation: folds,
                holdout: Some(holdout),
            },
            family: family.map(|(model, _)| model),
            typical_numeric: outcome.typical_numeric.clone(),
            explainer: Default::default(),
        });
    }
    let report = TrainReport {
        nadir_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: options.seed,
        folds: options.folds,
        data: outcome.data,
        models: reports,
        families_note,
    };
    Ok(Trained {
        report,
        models: saved,
    })
}

/// One model through the protocol, before it becomes a report and a model file.
pub(crate) struct Measured<M> {
    pub(crate) kind: ModelKind,
    pub(crate) model: M,
    pub(crate) threshold: f64,
    pub(crate) threshold_rule: String,
    /// Per cross-validation fold, at 0.5 or the model's own threshold.
    pub(crate) folds: Vec<Scores>,
    pub(crate) holdout: Scores,
    pub(crate) fit_seconds: f64,
    pub(crate) predict_seconds: f64,
}

/// What [`run`] found: the final pipeline, the data summary and every chosen model.
pub(crate) struct Run<M> {
    /// Fitted on the whole training part, for the final models.
    pub(crate) pipeline: FeaturePipeline,
    pub(crate) data: DataSummary,
    pub(crate) models: Vec<Measured<M>>,
    /// Per numeric feature, the median of the training part.
    pub(crate) typical_numeric: Vec<f64>,
    pub(crate) families: Families,
}

/// The attack-family models of a run: one per [`FamilyKind`] its models use, or why none.
pub(crate) enum Families {
    Fitted(BTreeMap<FamilyKind, (FamilyModel, FamilyReport)>),
    Unfitted(String),
}

/// The protocol itself, on models from `fitter`: see [`train`]. Each step is a function of
/// its own; this is their list.
pub(crate) fn run<F: Fitter>(
    fitter: &F,
    data: &Dataset,
    test_data: Option<&Dataset>,
    options: &TrainOptions,
    progress: &dyn Fn(Progress),
) -> Result<Run<F::Model>, ProtocolError> {
    let checked = check(data, test_data, options)?;
    progress(Progress::Start {
        fits: checked.config.kinds().len() * (options.folds + 1),
    });
    let parts = split(
        data,
        test_data,
        checked.labels,
        checked.test_labels,
        options,
    );
    let mut cv = cross_validate(fitter, &checked.config, &parts, options, progress)?;
    let last = final_fit(fitter, &checked.config, &parts, options.seed, progress)?;
    let families = fit_families(&parts, &last, options)?;
    let mut models = Vec::new();
    for (kind, fitted) in last.fitted {
        if !options.kinds.contains(&kind) {
            continue;
        }
        let (threshold, threshold_rule) = choose_threshold(
            options,
            &fitted.model,
            &parts.train_labels,
            &cv.out_of_fold[&kind],
        );
        let folds = cv.folds.remove(&kind).unwrap_or_default();
        models.push(measure_holdout(
            kind,
            fitted,
            (threshold, threshold_rule),
            folds,
            &last.test,
            &parts.test_labels,
        ));
    }
    let typical_numeric = medians(&last.train);
    let summary = summarise(data, test_data, parts, &last.test, options);
    Ok(Run {
        pipeline: last.pipeline,
        data: summary,
        models,
        typical_numeric,
        families,
    })
}

/// What [`check`] let through: the labels and the configuration checked for the models.
struct Checked<'a> {
    labels: Vec<bool>,
    /// The separate test file's labels, when there is one.
    test_labels: Option<Vec<bool>>,
    config: CheckedConfig<'a>,
}

/// Step 1: refuse a run that could not finish before any work or progress: unlabelled
/// data, fewer than 2 folds, a test share outside (0, 1), a bad hyperparameter.
fn check<'a>(
    data: &Dataset,
    test_data: Option<&Dataset>,
    options: &'a TrainOptions,
) -> Result<Checked<'a>, ProtocolError> {
    let labelled = |d: &Dataset| {
        d.is_attack().ok_or_else(|| ProtocolError::Unlabelled {
            path: d.source.clone(),
        })
    };
    let labels = labelled(data)?;
    if options.folds < 2 {
        return Err(ProtocolError::Options(
            "cross-validation needs at least 2 folds".into(),
        ));
    }
    if !(0.0 < options.test_share && options.test_share < 1.0) {
        return Err(ProtocolError::Options(
            "the test share must lie strictly between 0 and 1".into(),
        ));
    }
    let config = options.config.check(&options.kinds)?;
    let test_labels = test_data.map(labelled).transpose()?;
    Ok(Checked {
        labels,
        test_labels,
        config,
    })
}

/// The training and test parts of a run, and how they were chosen.
struct Parts {
    train: Dataset,
    train_labels: Vec<bool>,
    test: Dataset,
    test_labels: Vec<bool>,
    how: DataSplit,
}

/// Step 2: set the test part aside before anything is fitted, so nothing is tuned on it:
/// the separate test file, or a stratified share of `data` (seeded), whose rows are recorded
/// so the report can score exactly them again.
fn split(
    data: &Dataset,
    test_data: Option<&Dataset>,
    labels: Vec<bool>,
    test_labels: Option<Vec<bool>>,
    options: &TrainOptions,
) -> Parts {
    match (test_data, test_labels) {
        (Some(test), Some(test_labels)) => Parts {
            train: data.clone(),
            train_labels: labels,
            test: test.clone(),
            test_labels,
            how: DataSplit::TestFile {
                source: test.source.clone(),
            },
        },
        _ => {
            let (train_rows, test_rows) =
                stratified_split(&labels, options.test_share, options.seed);
            let pick = |rows: &[usize]| rows.iter().map(|&i| labels[i]).collect::<Vec<bool>>();
            Parts {
                train: data.select(&train_rows),
                train_labels: pick(&train_rows),
                test: data.select(&test_rows),
                test_labels: pick(&test_rows),
                how: DataSplit::Stratified {
                    seed: options.seed,
                    test_share: options.test_share,
                    test_rows,
                },
            }
        }
    }
}

/// What cross-validation leaves for the later steps, per chosen model.
struct CrossValidated {
    /// The score of every training row by the fold's model that did not see it.
    out_of_fold: BTreeMap<ModelKind, Vec<f64>>,
    /// Per fold, at 0.5 or the model's own threshold.
    folds: BTreeMap<ModelKind, Vec<Scores>>,
}

/// Step 3: stratified K-fold cross-validation on the training part, for each model's fold
/// metrics and its out-of-fold scores (on which its threshold is chosen). Each fold refits
/// the feature pipeline on its fit rows alone, so its validation rows meet unseen categories
/// exactly as new traffic would.
fn cross_validate<F: Fitter>(
    fitter: &F,
    config: &CheckedConfig,
    parts: &Parts,
    options: &TrainOptions,
    progress: &dyn Fn(Progress),
) -> Result<CrossValidated, ProtocolError> {
    let Parts {
        train,
        train_labels,
        ..
    } = parts;
    let mut cv = CrossValidated {
        out_of_fold: options
            .kinds
            .iter()
            .map(|&k| (k, vec![0.0; train.len()]))
            .collect(),
        folds: BTreeMap::new(),
    };
    let folds = stratified_folds(train_labels, options.folds, options.seed);
    for (f, (fit_rows, valid_rows)) in folds.iter().enumerate() {
        let fit_part = train.select(fit_rows);
        let pipeline = FeaturePipeline::fit(&fit_part.schema, &fit_part.records);
        let fit_labels: Vec<bool> = fit_rows.iter().map(|&i| train_labels[i]).collect();
        let valid_labels: Vec<bool> = valid_rows.iter().map(|&i| train_labels[i]).collect();
        let valid = pipeline.encode(&train.select(valid_rows).records);
        let fitted = fit_all(
            fitter,
            config,
            options.seed,
            &pipeline.encode(&fit_part.records),
            &fit_labels,
            Some(f),
            progress,
        )?;
        for (kind, Fitted { model, .. }) in fitted {
            if !options.kinds.contains(&kind) {
                continue;
            }
            let scores = model.score(&valid);
            let out_of_fold = cv.out_of_fold.get_mut(&kind).expect("every kind");
            for (&row, &s) in valid_rows.iter().zip(&scores) {
                out_of_fold[row] = s;
            }
            let threshold = model.fixed_threshold().unwrap_or(0.5);
            cv.folds.entry(kind).or_default().push(Scores::at_threshold(
                &valid_labels,
                &scores,
                threshold,
            ));
        }
    }
    Ok(cv)
}

/// The final models and what they are measured on.
struct FinalFit<M> {
    /// Fitted on the whole training part.
    pipeline: FeaturePipeline,
    /// The test part, encoded by that pipeline.
    test: Encoded,
    /// The training part, encoded by that pipeline.
    train: Encoded,
    fitted: BTreeMap<ModelKind, Fitted<M>>,
}

/// Step 4: the models that are saved, fitted (with their pipeline) on the whole training
/// part: cross-validation only measured how such fits do.
fn final_fit<F: Fitter>(
    fitter: &F,
    config: &CheckedConfig,
    parts: &Parts,
    seed: u64,
    progress: &dyn Fn(Progress),
) -> Result<FinalFit<F::Model>, ProtocolError> {
    let pipeline = FeaturePipeline::fit(&parts.train.schema, &parts.train.records);
    let test = pipeline.encode(&parts.test.records);
    let train = pipeline.encode(&parts.train.records);
    let fitted = fit_all(
        fitter,
        config,
        seed,
        &train,
        &parts.train_labels,
        None,
        progress,
    )?;
    Ok(FinalFit {
        pipeline,
        test,
        train,
        fitted,
    })
}

/// Step 4b: the attack-family models, one per [`FamilyKind`] the chosen models use, fitted
/// on the training part the final models were (their classes its families, benign first)
/// and measured once on the test part. Data of more than [`MAX_FAMILIES`] families gets
/// none, and the run says so once.
fn fit_families<M>(
    parts: &Parts,
    last: &FinalFit<M>,
    options: &TrainOptions,
) -> Result<Families, ProtocolError> {
    let (Some(train_attacks), Some(test_attacks)) = (&parts.train.attacks, &parts.test.attacks)
    else {
        return Ok(Families::Unfitted("the data has no attack names".into()));
    };
    let schema = &parts.train.schema;
    let classes = family_classes(schema, train_attacks.iter().map(String::as_str));
    if classes.len() > MAX_FAMILIES {
        return Ok(Families::Unfitted(format!(
            "no attack-family models: the training part holds {} classes, family models \
             tell at most {MAX_FAMILIES} apart",
            classes.len()
        )));
    }
    if classes.len() < 2 {
        return Ok(Families::Unfitted(
            "no attack-family models: the training part holds one class only".into(),
        ));
    }
    let train_classes: Vec<u32> = train_attacks
        .iter()
        .map(|a| class_of(schema, &classes, a).expect("the classes are the training part's"))
        .collect();
    let test_classes: Vec<Option<u32>> = test_attacks
        .iter()
        .map(|a| class_of(&parts.test.schema, &classes, a))
        .collect();
    let known: Vec<usize> = (0..test_classes.len())
        .filter(|&i| test_classes[i].is_some())
        .collect();
    let truth: Vec<u32> = known.iter().filter_map(|&i| test_classes[i]).collect();
    let test = last.test.select(&known);
    let mut kinds: Vec<FamilyKind> = options
        .kinds
        .iter()
        .map(|&k| FamilyKind::for_model(k))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut fitted = BTreeMap::new();
    for kind in kinds {
        let start = Instant::now();
        let model = kind
            .fit(
                &options.config,
                &last.train,
                &train_classes,
                classes.len(),
                options.seed,
            )
            .map_err(|error| ProtocolError::Family { error })?;
        let fit_seconds = start.elapsed().as_secs_f64();
        let family = FamilyModel {
            classes: classes.clone(),
            model,
        };
        let predicted: Vec<u32> = family
            .predict_classes(&test)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        let report = FamilyReport {
            description: family.model.describe(),
            fit_seconds,
            holdout: ClassReport::new(&classes, &truth, &predicted),
            test_rows_of_unseen_families: test_classes.len() - known.len(),
        };
        fitted.insert(kind, (family, report));
    }
    Ok(Families::Fitted(fitted))
}

/// Per numeric column, the median of the rows (the mean of the two middle values of an even
/// count, as numpy's), NaN left out; NaN for a column of NaN only.
fn medians(data: &Encoded) -> Vec<f64> {
    (0..data.num_numeric())
        .map(|column| {
            let mut values: Vec<f64> = data
                .numeric
                .iter()
                .map(|row| row[column])
                .filter(|v| !v.is_nan())
                .collect();
            values.sort_unstable_by(f64::total_cmp);
            let n = values.len();
            match n {
                0 => f64::NAN,
                _ if n % 2 == 1 => values[n / 2],
                _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
            }
        })
        .collect()
}

/// Step 5: a model's decision threshold and the rule that gave it: the user's, else the one
/// the model fixed itself (a detector's), else the best F1 on its out-of-fold scores, so the
/// threshold is tuned on the training part only, never on the test part.
fn choose_threshold(
    options: &TrainOptions,
    model: &impl Classifier,
    train_labels: &[bool],
    out_of_fold: &[f64],
) -> (f64, String) {
    match (options.threshold, model.fixed_threshold()) {
        (Some(t), _) => (t, "set by the user".to_string()),
        (None, Some(t)) => (t, "fixed by the model when fitting".to_string()),
        (None, None) => (
            metrics::best_f1_threshold(train_labels, out_of_fold),
            format!(
                "best F1 on the {}-fold out-of-fold scores of the training part",
                options.folds
            ),
        ),
    }
}

/// Step 6: the one measurement on the test part, at the chosen threshold, timed.
fn measure_holdout<M: Classifier>(
    kind: ModelKind,
    fitted: Fitted<M>,
    (threshold, threshold_rule): (f64, String),
    folds: Vec<Scores>,
    test: &Encoded,
    test_labels: &[bool],
) -> Measured<M> {
    let Fitted {
        model,
        seconds: fit_seconds,
    } = fitted;
    let start = Instant::now();
    let scores = model.score(test);
    let predict_seconds = start.elapsed().as_secs_f64();
    Measured {
        kind,
        model,
        threshold,
        threshold_rule,
        folds,
        holdout: Scores::at_threshold(test_labels, &scores, threshold),
        fit_seconds,
        predict_seconds,
    }
}

/// The run's data for metrics.json: the rows used, the split, the test rows that hold a
/// category the training part never showed.
fn summarise(
    data: &Dataset,
    test_data: Option<&Dataset>,
    parts: Parts,
    test_encoded: &Encoded,
    options: &TrainOptions,
) -> DataSummary {
    let (train, test) = (parts.train.len(), parts.test.len());
    let attacks = parts
        .train_labels
        .iter()
        .chain(&parts.test_labels)
        .filter(|&&y| y)
        .count();
    DataSummary {
        source: data.source.clone(),
        sha256: data.sha256.clone(),
        test_source: test_data.map(|t| t.source.clone()),
        rows: train + test,
        skipped_rows: data.skipped.len() + test_data.map_or(0, |t| t.skipped.len()),
        train_rows: train,
        test_rows: test,
        test_share: test_data.is_none().then_some(options.test_share),
        split: Some(parts.how),
        attack_share: attacks as f64 / (train + test).max(1) as f64,
        test_rows_with_unseen_categories: rows_with_unseen(test_encoded),
    }
}

fn rows_with_unseen(encoded: &Encoded) -> usize {
    let mut rows: Vec<usize> = encoded.unseen.iter().map(|u| u.row).collect();
    rows.dedup();
    rows.len()
}

/// Importances per tree column, named and sorted, largest first.
fn named_importances(schema: &Schema, importances: Vec<f64>) -> Vec<(String, f64)> {
    let names = schema
        .numeric_names()
        .into_iter()
        .chain(schema.categorical_names());
    let mut named: Vec<(String, f64)> = names.map(String::from).zip(importances).collect();
    named.sort_by(|a, b| b.1.total_cmp(&a.1));
    named
}

/// Detection of one attack name (for `normal`: the false-alarm rate).
#[derive(Debug, Clone, Serialize)]
pub struct AttackRate {
    pub rows: usize,
    pub flagged: usize,
    pub rate: f64,
    /// Hybrid models only: how many flagged rows each part flagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired: Option<FiredCounts>,
}

/// Flagged rows of a hybrid model by the part that flagged them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FiredCounts {
    /// The classifier alone.
    pub classifier: usize,
    /// The novelty detector alone.
    pub novelty: usize,
    pub both: usize,
}

/// Detection per attack name at `threshold`; with a hybrid's part scores, also which part
/// flagged each row.
pub(crate) fn per_attack_rates<'a>(
    names: impl Iterator<Item = &'a str>,
    scores: &[f64],
    parts: Option<&[PartScores]>,
    threshold: f64,
) -> BTreeMap<String, AttackRate> {
    let mut per_attack: BTreeMap<String, AttackRate> = BTreeMap::new();
    for (i, (name, &s)) in names.zip(scores).enumerate() {
        let rate = per_attack.entry(name.to_string()).or_insert(AttackRate {
            rows: 0,
            flagged: 0,
            rate: 0.0,
            fired: parts.map(|_| FiredCounts::default()),
        });
        rate.rows += 1;
        rate.flagged += usize::from(s >= threshold);
        if let (Some(parts), Some(counts)) = (parts, rate.fired.as_mut()) {
            match parts[i].fired(threshold) {
                Some(Fired::Classifier) => counts.classifier += 1,
                Some(Fired::Novelty) => counts.novelty += 1,
                Some(Fired::Both) => counts.both += 1,
                None => {}
            }
        }
    }
    for rate in per_attack.values_mut() {
        rate.rate = rate.flagged as f64 / rate.rows as f64;
    }
    per_attack
}

/// A saved model measured on a labelled file.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub model: ModelKind,
    pub rows: usize,
    pub threshold: f64,
    #[serde(flatten)]
    pub scores: Scores,
    /// Average precision: the area under the precision–recall curve.
    pub pr_auc: Option<f64>,
    /// Balanced accuracy, MCC, detection at fixed false-positive rates.
    #[serde(flatten)]
    pub unflattering: metrics::Unflattering,
    pub per_attack: BTreeMap<String, AttackRate>,
    pub rows_with_unseen_categories: usize,
    /// The family model's per-class report, on the rows of the families it knows; absent
    /// for a model file without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub families: Option<ClassReport>,
    /// Rows of a family the model's family model does not know, left out of `families`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_of_unknown_families: Option<usize>,
}

/// Measures a saved model on labelled records.
pub fn evaluate(
    model: &SavedModel,
    data: &Dataset,
    threshold: Option<f64>,
) -> Result<Evaluation, ProtocolError> {
    let (attacks, labels) =
        data.attacks
            .as_ref()
            .zip(data.is_attack())
            .ok_or_else(|| ProtocolError::Unlabelled {
                path: data.source.clone(),
            })?;
    let threshold = threshold.unwrap_or(model.threshold);
    let encoded = model.pipeline.encode(&data.records);
    let (scores, parts) = model.model.score_with_parts(&encoded);
    let per_attack = per_attack_rates(
        attacks.iter().map(String::as_str),
        &scores,
        parts.as_deref(),
        threshold,
    );
    let measured = Scores::at_threshold(&labels, &scores, threshold);
    let families = model.family.as_ref().map(|family| {
        let classes: Vec<Option<u32>> = attacks
            .iter()
            .map(|a| class_of(&data.schema, &family.classes, a))
            .collect();
        let known: Vec<usize> = (0..classes.len())
            .filter(|&i| classes[i].is_some())
            .collect();
        let truth: Vec<u32> = known.iter().filter_map(|&i| classes[i]).collect();
        let predicted: Vec<u32> = family
            .predict_classes(&encoded.select(&known))
            .into_iter()
            .map(|(class, _)| class)
            .collect();
        let report = ClassReport::new(&family.classes, &truth, &predicted);
        (report, classes.len() - known.len())
    });
    Ok(Evaluation {
        model: model.kind(),
        rows: data.len(),
        threshold,
        unflattering: metrics::Unflattering::of(&labels, &scores, &measured.confusion),
        scores: measured,
        pr_auc: metrics::average_precision(&labels, &scores),
        per_attack,
        rows_with_unseen_categories: rows_with_unseen(&encoded),
        rows_of_unknown_families: families.as_ref().map(|(_, unknown)| *unknown),
        families: families.map(|(report, _)| report),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_data as sample;

    fn options(kinds: &[ModelKind]) -> TrainOptions {
        let mut config = ModelConfig::default();
        config.voting.members = vec![ModelKind::LogisticRegression, ModelKind::DecisionTree];
        TrainOptions {
            kinds: kinds.to_vec(),
            config,
            folds: 3,
            ..TrainOptions::default()
        }
    }

    #[test]
    fn trains_measures_and_reuses_members_for_voting() {
        let data = sample();
        let kinds = [
            ModelKind::LogisticRegression,
            ModelKind::DecisionTree,
            ModelKind::Voting,
        ];
        let fits = std::cell::Cell::new(0);
        let trained = train(&data, None, &options(&kinds), &|p| {
            if let Progress::Done = p {
                fits.set(fits.get() + 1);
            }
        })
        .unwrap();
        assert_eq!(fits.get(), 3 * 4);
        let report = &trained.report;
        assert_eq!((report.data.train_rows, report.data.test_rows), (1400, 600));
        assert_eq!(report.models.len(), 3);
        for m in &report.models {
            assert!(m.holdout.accuracy > 0.9, "{:?}", m.name);
            assert!((0.0..=1.0).contains(&m.threshold));
            assert_eq!(m.cross_validation.folds.len(), 3);
            assert_eq!(m.holdout.confusion.total(), 600);
        }
        let seconds = |k| {
            report
                .models
                .iter()
                .find(|m| m.name == k)
                .unwrap()
                .fit_seconds
        };
        // The vote's own seconds on top of its members': no more than a millisecond.
        let members = seconds(ModelKind::LogisticRegression) + seconds(ModelKind::DecisionTree);
        let vote = seconds(ModelKind::Voting) - members;
        assert!((0.0..1e-3).contains(&vote), "{vote}");
    }

    #[test]
    fn same_seed_gives_identical_model_files() {
        let data = sample();
        let kinds = [ModelKind::LogisticRegression, ModelKind::DecisionTree];
        let a = train(&data, None, &options(&kinds), &|_| {}).unwrap();
        let b = train(&data, None, &options(&kinds), &|_| {}).unwrap();
        let bytes = |t: &Trained| {
            t.models
                .iter()
                .map(SavedModel::to_bytes)
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&a), bytes(&b));
    }

    #[test]
    fn threshold_override_and_separate_test_file() {
        let data = sample();
        let (train_rows, test_rows) = stratified_split(&data.is_attack().unwrap(), 0.5, 1);
        let mut opts = options(&[ModelKind::DecisionTree]);
        opts.threshold = Some(0.9);
        let trained = train(
            &data.select(&train_rows),
            Some(&data.select(&test_rows)),
            &opts,
            &|_| {},
        )
        .unwrap();
        assert_eq!(trained.report.data.test_rows, test_rows.len());
        assert_eq!(trained.models[0].threshold, 0.9);
        assert_eq!(trained.models[0].threshold_rule, "set by the user");
    }

    #[test]
    fn evaluate_counts_every_attack_name() {
        let data = sample();
        let trained = train(&data, None, &options(&[ModelKind::DecisionTree]), &|_| {}).unwrap();
        let e = evaluate(&trained.models[0], &data, None).unwrap();
        assert_eq!(e.per_attack.values().map(|r| r.rows).sum::<usize>(), 2000);
        assert_eq!(e.per_attack.len(), 23);
        let flagged: usize = e
            .per_attack
            .iter()
            .filter(|(name, _)| *name != "normal")
            .map(|(_, r)| r.flagged)
            .sum();
        assert_eq!(flagged as u64, e.scores.confusion.tp);
    }

    #[test]
    fn unlabelled_data_and_bad_options_are_errors() {
        let mut data = sample();
        let opts = options(&[ModelKind::DecisionTree]);
        assert!(matches!(
            train(
                &data,
                None,
                &TrainOptions {
                    folds: 1,
                    ..opts.clone()
                },
                &|_| {}
            ),
            Err(ProtocolError::Options(_))
        ));
        data.attacks = None;
        assert!(matches!(
            train(&data, None, &opts, &|_| {}),
            Err(ProtocolError::Unlabelled { .. })
        ));
    }

    /// Counts the fits asked of it and fits nothing: a run that reaches a fit fails with a
    /// fit error, not a hyperparameter error.
    struct CountingFitter(std::cell::Cell<usize>);

    impl Fitter for CountingFitter {
        type Model = crate::registry::AnyModel;

        fn fit(
            &self,
            _: ModelKind,
            _: &ModelConfig,
            _: Vec<Self::Model>,
            _: &Encoded,
            _: &[bool],
            _: u64,
        ) -> Result<Self::Model, FitError> {
            self.0.set(self.0.get() + 1);
            Err(FitError::Empty)
        }
    }

    /// One bad value per model family: the run stops before any progress and any fit, and
    /// the error names the model, the parameter and the value.
    #[test]
    fn a_bad_hyperparameter_stops_the_run_before_any_fit() {
        let data = sample();
        let cases = [
            ("logistic_regression.c=-1", "c", "-1.0"),
            (
                "linear_svm.calibration_share=1.5",
                "calibration_share",
                "1.5",
            ),
            ("kernel_svm.gamma=0", "gamma", "0.0"),
            (
                "decision_tree.min_samples_split=1",
                "min_samples_split",
                "1",
            ),
            ("random_forest.max_samples=0", "max_samples", "0.0"),
            (
                "gradient_boosting.learning_rate=-1",
                "learning_rate",
                "-1.0",
            ),
            ("mlp.hidden=[8, 0]", "hidden", "[8, 0]"),
            ("bagging.trees=0", "trees", "0"),
            ("voting.weights=[1, 1, -1]", "weights", "[1.0, 1.0, -1.0]"),
            ("isolation_forest.contamination=0.9", "contamination", "0.9"),
            ("hybrid.target_fpr=0.7", "target_fpr", "0.7"),
            ("autoencoder.layers=[8, 0]", "layers", "[8, 0]"),
            ("novelty_ensemble.ae_layers=[0]", "ae_layers", "[0]"),
        ];
        assert_eq!(cases.len(), ModelKind::ALL.len());
        for (set, parameter, value) in cases {
            let section = set.split_once('.').unwrap().0;
            let kind = ModelKind::parse_list(section).unwrap()[0];
            let options = TrainOptions {
                kinds: vec![kind],
                config: ModelConfig::from_toml("", &[set.to_string()]).unwrap(),
                folds: 2,
                ..TrainOptions::default()
            };
            let fitter = CountingFitter(std::cell::Cell::new(0));
            let events = std::cell::Cell::new(0);
            let error = run(&fitter, &data, None, &options, &|_| {
                events.set(events.get() + 1)
            })
            .err()
            .unwrap();
            assert_eq!((fitter.0.get(), events.get()), (0, 0), "{set}");
            let ProtocolError::Param(ParamError::Invalid {
                model,
                parameter: named,
                value: shown,
                ..
            }) = &error
            else {
                panic!("{set}: {error}")
            };
            assert_eq!(
                (*model, named.as_str(), shown.as_str()),
                (kind, parameter, value)
            );
            let message = error.to_string();
            assert!(
                message.starts_with(&format!(
                    "invalid hyperparameter {section}.{parameter} = {value}: "
                )),
                "{message}"
            );
        }
    }

    /// A model's parts are checked with it, and a model may not be made of itself.
    #[test]
    fn parts_are_checked_with_their_model() {
        let config = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            ModelConfig::from_toml("", &sets).unwrap()
        };
        let bad_part = config(&[
            "hybrid.classifier=\"random_forest\"",
            "random_forest.trees=0",
        ]);
        assert!(matches!(
            bad_part.check(&[ModelKind::Hybrid]),
            Err(ParamError::Invalid { model: ModelKind::RandomForest, ref parameter, .. }) if parameter == "trees"
        ));
        let circle = config(&[
            "hybrid.classifier=\"voting\"",
            "voting.members=[\"hybrid\"]",
        ]);
        let error = circle.check(&[ModelKind::Voting]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "voting is made of itself: voting → hybrid → voting"
        );
        let fine = config(&["hybrid.classifier=\"voting\""]);
        let checked = fine.check(&[ModelKind::Hybrid]).unwrap();
        assert_eq!(
            checked.kinds(),
            [
                ModelKind::LogisticRegression,
                ModelKind::RandomForest,
                ModelKind::GradientBoosting,
                ModelKind::Voting,
                ModelKind::Hybrid
            ]
        );
        // Sections of models not asked for are not checked.
        assert!(
            config(&["mlp.epochs=0"])
                .check(&[ModelKind::DecisionTree])
                .is_ok()
        );
    }

    #[test]
    fn a_bad_hyperparameter_stops_novel_validation_before_any_fit() {
        let options = crate::novel::NovelOptions {
            kinds: vec![ModelKind::DecisionTree, ModelKind::GradientBoosting],
            config: ModelConfig::from_toml("", &["gradient_boosting.max_iter=0".into()]).unwrap(),
            ..crate::novel::NovelOptions::default()
        };
        let fitter = CountingFitter(std::cell::Cell::new(0));
        let events = std::cell::Cell::new(0);
        let error = crate::novel::validate_with(&fitter, &sample(), &options, &|_| {
            events.set(events.get() + 1)
        })
        .err()
        .unwrap();
        assert_eq!((fitter.0.get(), events.get()), (0, 0));
        assert_eq!(
            error.to_string(),
            "invalid hyperparameter gradient_boosting.max_iter = 0: must be at least 1"
        );
    }

    #[test]
    fn fold_summaries_are_the_mean_and_population_sd() {
        let m = MeanStd::of([1.0, 2.0, 3.0, 4.0].into_iter());
        assert_eq!(m.mean, 2.5);
        assert_eq!(m.std, 1.25f64.sqrt());
        let none = MeanStd::of(std::iter::empty());
        assert_eq!((none.mean, none.std), (0.0, 0.0));
    }

    #[test]
    fn option_bounds_are_exact() {
        let data = sample();
        let opts = options(&[ModelKind::DecisionTree]);
        let two_folds = TrainOptions {
            folds: 2,
            ..opts.clone()
        };
        assert!(train(&data, None, &two_folds, &|_| {}).is_ok());
        for test_share in [0.0, 1.0, 1.5, -0.5] {
            let bad = TrainOptions {
                test_share,
                ..opts.clone()
            };
            assert!(
                matches!(
                    train(&data, None, &bad, &|_| {}),
                    Err(ProtocolError::Options(_))
                ),
                "test share {test_share} accepted"
            );
        }
    }

    /// The summary in metrics.json counts exactly the rows the run used, and progress
    /// announces exactly the fits that follow.
    #[test]
    fn the_data_summary_and_progress_count_what_the_run_did() {
        let mut data = crate::leaks::identifiable();
        let skipped = |rows: usize| {
            let mut skipped = nadir_data::Rejects::default();
            for index in 0..rows {
                let problem = nadir_data::RowProblem::Syntax("bad".into());
                skipped.reject(index, Some(7), problem);
            }
            skipped
        };
        data.skipped = skipped(2);
        let opts = options(&[ModelKind::DecisionTree, ModelKind::Voting]);
        let announced = std::cell::Cell::new(0);
        let fits = std::cell::Cell::new(0);
        let trained = train(&data, None, &opts, &|p| match p {
            Progress::Start { fits } => announced.set(fits),
            Progress::Fit { .. } => fits.set(fits.get() + 1),
            Progress::Done => {}
        })
        .unwrap();
        // Voting and its two members (the tree among them), each in 3 folds and once more.
        assert_eq!((announced.get(), fits.get()), (12, 12));
        let summary = &trained.report.data;
        assert_eq!(summary.rows, data.len());
        assert_eq!(summary.train_rows + summary.test_rows, data.len());
        assert_eq!(summary.skipped_rows, 2);
        let attacks = data.is_attack().unwrap().iter().filter(|&&a| a).count();
        assert_eq!(summary.attack_share, attacks as f64 / data.len() as f64);
        // Every row's `service` is its own, so every test row holds an unseen category.
        assert_eq!(summary.test_rows_with_unseen_categories, summary.test_rows);

        // With a separate test file, its skipped rows count too.
        let mut test_file = sample();
        test_file.skipped = skipped(1);
        let opts = options(&[ModelKind::DecisionTree]);
        let trained = train(&data, Some(&test_file), &opts, &|_| {}).unwrap();
        assert_eq!(trained.report.data.skipped_rows, 3);
        assert_eq!(trained.report.data.rows, data.len() + test_file.len());
    }

    /// metrics.json records the held-out rows themselves (and how they were drawn), or the
    /// separate test file.
    #[test]
    fn the_split_is_recorded_with_its_rows() {
        let data = sample();
        let opts = options(&[ModelKind::DecisionTree]);
        let trained = train(&data, None, &opts, &|_| {}).unwrap();
        let (_, test_rows) = stratified_split(&data.is_attack().unwrap(), 0.3, 42);
        assert_eq!(test_rows.len(), 600);
        assert!(test_rows.windows(2).all(|w| w[0] < w[1]));
        let expected = DataSplit::Stratified {
            seed: 42,
            test_share: 0.3,
            test_rows,
        };
        assert_eq!(trained.report.data.split.as_ref(), Some(&expected));
        let json = serde_json::to_value(&trained.report.data).unwrap();
        assert_eq!(json["split"]["method"], "stratified");
        assert_eq!(json["split"]["test_rows"].as_array().unwrap().len(), 600);
        let back: DataSummary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.split, Some(expected));

        // A metrics.json of an older nadir still reads, without a split.
        let mut older = json;
        older.as_object_mut().unwrap().remove("split");
        let older: DataSummary = serde_json::from_value(older).unwrap();
        assert_eq!(older.split, None);

        let mut test_file = sample();
        test_file.source = "test.csv".into();
        let trained = train(&data, Some(&test_file), &opts, &|_| {}).unwrap();
        assert_eq!(
            trained.report.data.split,
            Some(DataSplit::TestFile {
                source: "test.csv".into()
            })
        );
    }

    #[test]
    fn tree_importances_are_named_by_feature_largest_first() {
        let trained = train(
            &sample(),
            None,
            &options(&[ModelKind::DecisionTree]),
            &|_| {},
        )
        .unwrap();
        let named = trained.report.models[0]
            .feature_importances
            .clone()
            .unwrap();
        let mut names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let schema = Schema::nsl_kdd();
        let mut expected: Vec<&str> = schema
            .numeric_names()
            .into_iter()
            .chain(schema.categorical_names())
            .collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
        assert!(named.windows(2).all(|w| w[0].1 >= w[1].1), "{named:?}");
        assert!(named[0].1 > 0.0);
    }

    #[test]
    fn per_attack_rates_are_the_flagged_share_and_a_hybrid_says_which_part_fired() {
        let names = ["a", "a", "a", "b"];
        let scores = [0.9, 0.2, 0.7, 0.1];
        let rates = per_attack_rates(names.into_iter(), &scores, None, 0.5);
        assert_eq!((rates["a"].rows, rates["a"].flagged), (3, 2));
        assert_eq!(rates["a"].rate, 2.0 / 3.0);
        assert_eq!(rates["b"].rate, 0.0);
        assert!(rates["a"].fired.is_none());

        let part = |classifier, novelty| PartScores {
            classifier,
            novelty,
        };
        let parts = [
            part(0.9, 0.9),
            part(0.9, 0.1),
            part(0.1, 0.9),
            part(0.7, 0.6),
            part(0.1, 0.1),
        ];
        let scores: Vec<f64> = parts.iter().map(PartScores::combined).collect();
        let rates = per_attack_rates(["a"; 5].into_iter(), &scores, Some(&parts), 0.5);
        assert_eq!(rates["a"].flagged, 4);
        assert_eq!(
            rates["a"].fired,
            Some(FiredCounts {
                classifier: 1,
                novelty: 1,
                both: 2,
            })
        );
    }
}
