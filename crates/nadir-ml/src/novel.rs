//! Leave-attacks-out validation: how well a model catches attack types it has never seen.
//!
//! A random split of NSL-KDD's training file flatters every model: nearly every test row has a
//! near twin in training. Real traffic brings attacks no labelled data shows (NSL-KDD's own
//! test file holds 17 attack names absent from its training file). This protocol measures
//! that from the training file alone.
//!
//! Folds: each attack family (DoS, Probe, R2L, U2R) present in the data, then a few seeded
//! random groups of attack names (each about a quarter of the names, drawn independently).
//! For each fold:
//! - every row of the fold's attack names is removed from training;
//! - the normal rows are split (seeded) into training normals and held-out normals;
//! - each model is fitted on the training normals plus the remaining attacks. A classifier's
//!   decision threshold is chosen as in [`crate::protocol`] but on the fold's training part
//!   only: the best F1 on a stratified validation share of it, scored by a model fitted (with
//!   its own feature pipeline) on the rest of it, the fit share; then the model is refitted on
//!   all of it. Detectors (the isolation forest, the hybrid) fix their own threshold.
//! - each model is measured on the held-out normals plus every row of the removed attacks:
//!   the detection rate of the unseen attacks, the false-positive rate on normal traffic,
//!   accuracy, F1 and ROC-AUC.
//!
//! The feature pipeline is fitted on the fold's training rows, so the removed attacks meet
//! category values (services) they alone use exactly as new traffic would: as unseen values.
//! Likewise the threshold's validation rows are encoded by the fit share's pipeline.
//!
//! Choosing a design on these same folds flatters it; [`crate::nested`] repeats the choice
//! inside each fold's training part and measures it on the fold.

use crate::fitting::{Catalogue, Fits, Fitter};
use crate::metrics::{self, FIXED_FPRS, Scores, Unflattering};
use crate::model::Classifier;
use crate::protocol::{AttackRate, MeanStd, ProtocolError, per_attack_rates};
use crate::registry::{CheckedConfig, ModelConfig, ModelKind};
use crate::split::stratified_split;
use nadir_data::schema::UNKNOWN_FAMILY;
use nadir_data::{Dataset, Encoded, FeaturePipeline, Rng, Schema};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// How to run the validation.
#[derive(Debug, Clone)]
pub struct NovelOptions {
    pub kinds: Vec<ModelKind>,
    pub config: ModelConfig,
    pub seed: u64,
    /// Share of the normal rows held out (per fold) to measure false positives on.
    pub normal_holdout: f64,
    /// Number of seeded random groups of attack names, folds beside the families.
    pub random_groups: usize,
    /// Share of the attack names in each random group.
    pub group_share: f64,
    /// Share of a fold's training rows on which a classifier's threshold is chosen.
    pub validation_share: f64,
}

impl NovelOptions {
    /// The models `nadir validate --novel` runs unless told otherwise: every supervised
    /// model but the kernel SVM (the slowest by far, and no better here than the MLP), the
    /// isolation forest fitted on normal rows, and the hybrid.
    pub fn default_kinds() -> Vec<ModelKind> {
        let mut kinds: Vec<ModelKind> = ModelKind::supervised()
            .into_iter()
            .filter(|&k| k != ModelKind::KernelSvm)
            .collect();
        kinds.push(ModelKind::IsolationForest);
        kinds.push(ModelKind::Hybrid);
        kinds.sort();
        kinds
    }
}

impl Default for NovelOptions {
    fn default() -> Self {
        let mut config = ModelConfig::default();
        config.isolation_forest.normal_only = true;
        NovelOptions {
            kinds: NovelOptions::default_kinds(),
            config,
            seed: 42,
            normal_holdout: 0.3,
            random_groups: 3,
            group_share: 0.25,
            validation_share: 0.2,
        }
    }
}

/// One fold: the attack names kept out of training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldPlan {
    /// `DoS`, `Probe`, `R2L`, `U2R`, or `random 1`, `random 2`, …
    pub name: String,
    /// The attack names removed from training, sorted.
    pub held_out: Vec<String>,
}

/// The rows of one fold, as indices into the dataset, each list ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldRows {
    pub train: Vec<usize>,
    /// Held-out normal rows, then every row of the held-out attack names (merged, ascending).
    pub test: Vec<usize>,
}

/// Plans the folds: one per attack family present in `attacks` (by name; attacks of no known
/// family join none), then `random_groups` groups of attack names, each drawn with its own
/// seeded stream. A group holds `round(group_share × names)` names (at least one); groups
/// may overlap each other.
pub fn plan_folds(
    schema: &Schema,
    attacks: &[String],
    random_groups: usize,
    group_share: f64,
    seed: u64,
) -> Vec<FoldPlan> {
    let names: BTreeSet<&str> = attacks
        .iter()
        .map(String::as_str)
        .filter(|&a| !schema.is_normal(a))
        .collect();
    let mut families: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for &name in &names {
        let family = schema.family_of(name);
        if family != UNKNOWN_FAMILY {
            families.entry(family).or_default().push(name.to_string());
        }
    }
    let mut plans: Vec<FoldPlan> = families
        .into_iter()
        .map(|(family, held_out)| FoldPlan {
            name: family.to_string(),
            held_out,
        })
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    let size = ((names.len() as f64 * group_share).round() as usize).clamp(1, names.len().max(1));
    for group in 0..random_groups {
        if names.is_empty() {
            break;
        }
        let mut shuffled = names.clone();
        Rng::fork(seed, group as u64).shuffle(&mut shuffled);
        let mut held_out: Vec<String> = shuffled[..size].iter().map(|n| n.to_string()).collect();
        held_out.sort();
        plans.push(FoldPlan {
            name: format!("random {}", group + 1),
            held_out,
        });
    }
    plans
}

/// The training and test rows of a fold. The normal rows are split with a seed of their own
/// per fold, so each fold's held-out normals differ.
pub fn fold_rows(
    schema: &Schema,
    attacks: &[String],
    plan: &FoldPlan,
    normal_holdout: f64,
    seed: u64,
) -> FoldRows {
    let normal: Vec<usize> = (0..attacks.len())
        .filter(|&i| schema.is_normal(&attacks[i]))
        .collect();
    let (keep, hold) = stratified_split(&vec![false; normal.len()], normal_holdout, seed);
    let held_out: BTreeSet<&str> = plan.held_out.iter().map(String::as_str).collect();
    let mut train: Vec<usize> = keep.iter().map(|&k| normal[k]).collect();
    let mut test: Vec<usize> = hold.iter().map(|&k| normal[k]).collect();
    for (i, name) in attacks.iter().enumerate() {
        if schema.is_normal(name) {
            continue;
        }
        if held_out.contains(name.as_str()) {
            test.push(i);
        } else {
            train.push(i);
        }
    }
    train.sort_unstable();
    test.sort_unstable();
    FoldRows { train, test }
}

/// What the validation is doing, for progress displays.
#[derive(Debug, Clone)]
pub enum NovelProgress {
    /// Work is about to start: this many (fold, model) runs will follow.
    Start { runs: usize },
    /// A model is being fitted and measured on a fold.
    Run { fold: String, kind: ModelKind },
    /// One run finished.
    Done,
}

/// One model measured on one fold.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    pub model: ModelKind,
    pub threshold: f64,
    /// Share of the held-out attacks' rows flagged: recall of the unseen attacks.
    pub detection_rate: f64,
    /// Share of the held-out normal rows flagged.
    pub false_positive_rate: f64,
    pub accuracy: f64,
    pub f1: f64,
    pub roc_auc: Option<f64>,
    pub scores: Scores,
    /// Balanced accuracy and MCC at the threshold, and detection at fixed false-positive
    /// rates (thresholds from the held-out normal rows' scores: ROC points, comparable
    /// between models whatever their own thresholds).
    #[serde(flatten)]
    pub unflattering: Unflattering,
    /// Detection per held-out attack name, and the false-alarm rate under `normal`.
    pub per_attack: BTreeMap<String, AttackRate>,
    /// Seconds to fit (including the threshold's validation fit) and score.
    pub seconds: f64,
}

/// One fold and every model's result on it.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    pub name: String,
    pub held_out: Vec<String>,
    pub train_rows: usize,
    pub train_attacks: usize,
    pub test_normal: usize,
    pub test_attacks: usize,
    pub results: Vec<FoldResult>,
}

/// One model's results, averaged over the folds (mean and standard deviation).
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub model: ModelKind,
    #[serde(flatten)]
    pub stats: FoldStats,
}

/// Results averaged over folds (mean and standard deviation).
#[derive(Debug, Clone, Serialize)]
pub struct FoldStats {
    pub detection_rate: MeanStd,
    pub false_positive_rate: MeanStd,
    pub accuracy: MeanStd,
    pub f1: MeanStd,
    pub roc_auc: MeanStd,
    /// The lowest detection rate over the folds, and the fold it was on.
    pub worst_detection: (f64, String),
    pub balanced_accuracy: MeanStd,
    pub mcc: MeanStd,
    /// Detection at each of [`FIXED_FPRS`], over the folds.
    pub detection_at_fpr: Vec<MeanDetection>,
}

/// Detection at one fixed false-positive rate, mean and standard deviation over the folds.
#[derive(Debug, Clone, Serialize)]
pub struct MeanDetection {
    pub target_fpr: f64,
    pub detection_rate: MeanStd,
}

/// Everything `nadir validate --novel` measured.
#[derive(Debug, Clone, Serialize)]
pub struct NovelReport {
    pub nadir_version: String,
    pub source: String,
    pub sha256: String,
    pub rows: usize,
    pub seed: u64,
    pub normal_holdout: f64,
    pub validation_share: f64,
    pub folds: Vec<FoldReport>,
    /// One per model, in catalogue order.
    pub models: Vec<ModelSummary>,
}

/// Runs leave-attacks-out validation of every model of `options.kinds` on a labelled dataset.
pub fn validate(
    data: &Dataset,
    options: &NovelOptions,
    progress: &dyn Fn(NovelProgress),
) -> Result<NovelReport, ProtocolError> {
    validate_with(&Catalogue, data, options, progress)
}

/// [`validate`] on models from `fitter`.
pub(crate) fn validate_with<F: Fitter>(
    fitter: &F,
    data: &Dataset,
    options: &NovelOptions,
    progress: &dyn Fn(NovelProgress),
) -> Result<NovelReport, ProtocolError> {
    let attacks = data
        .attacks
        .as_ref()
        .ok_or_else(|| ProtocolError::Unlabelled {
            path: data.source.clone(),
        })?;
    check_options(options)?;
    let config = options.config.check(&options.kinds)?;
    let plans = plan_folds(
        &data.schema,
        attacks,
        options.random_groups,
        options.group_share,
        options.seed,
    );
    if plans.is_empty() {
        return Err(ProtocolError::Options(format!(
            "{} holds no attack rows to leave out",
            data.source
        )));
    }
    progress(NovelProgress::Start {
        runs: plans.len() * options.kinds.len(),
    });
    let mut folds = Vec::with_capacity(plans.len());
    for (f, plan) in plans.iter().enumerate() {
        let rows = fold_rows(
            &data.schema,
            attacks,
            plan,
            options.normal_holdout,
            fold_seed(options.seed, f),
        );
        folds.push(run_fold(
            fitter, &config, data, attacks, plan, &rows, options, progress,
        )?);
    }
    let models = options
        .kinds
        .iter()
        .map(|&kind| summarise(kind, &folds))
        .collect();
    Ok(NovelReport {
        nadir_version: env!("CARGO_PKG_VERSION").to_string(),
        source: data.source.clone(),
        sha256: data.sha256.clone(),
        rows: data.len(),
        seed: options.seed,
        normal_holdout: options.normal_holdout,
        validation_share: options.validation_share,
        folds,
        models,
    })
}

/// The seed of fold `fold`'s split of the normal rows.
pub fn fold_seed(seed: u64, fold: usize) -> u64 {
    Rng::fork(seed, 1000 + fold as u64).next_u64()
}

fn check_options(options: &NovelOptions) -> Result<(), ProtocolError> {
    check_shares(
        options.normal_holdout,
        options.group_share,
        options.validation_share,
    )?;
    if options.kinds.is_empty() {
        return Err(ProtocolError::Options("no model to validate".into()));
    }
    Ok(())
}

/// The shares of the fold plans, each strictly between 0 and 1.
pub(crate) fn check_shares(
    normal_holdout: f64,
    group_share: f64,
    validation_share: f64,
) -> Result<(), ProtocolError> {
    let share = |name: &str, v: f64| {
        if 0.0 < v && v < 1.0 {
            Ok(())
        } else {
            Err(ProtocolError::Options(format!(
                "{name} must lie strictly between 0 and 1, got {v}"
            )))
        }
    };
    share("the normal hold-out share", normal_holdout)?;
    share("the group share", group_share)?;
    share("the validation share", validation_share)
}

/// A fold's rows, encoded once for every model measured on it.
pub(crate) struct PreparedFold<'a> {
    /// The fold's training part, encoded by a pipeline fitted on it, and its labels.
    pub(crate) encoded: Encoded,
    pub(crate) train_labels: Vec<bool>,
    /// The threshold's fit share of the training part, encoded by its own pipeline.
    pub(crate) fit_part: Encoded,
    pub(crate) fit_labels: Vec<bool>,
    valid_part: Encoded,
    valid_labels: Vec<bool>,
    test: Encoded,
    test_attacks: Vec<&'a str>,
    test_labels: Vec<bool>,
}

impl<'a> PreparedFold<'a> {
    /// Encodes fold `rows` of `data` (whose attack names are `attacks`).
    pub(crate) fn new(
        data: &Dataset,
        attacks: &'a [String],
        rows: &FoldRows,
        validation_share: f64,
        seed: u64,
    ) -> Self {
        let train = data.select(&rows.train);
        let train_labels: Vec<bool> = rows
            .train
            .iter()
            .map(|&i| !data.schema.is_normal(&attacks[i]))
            .collect();
        let test_attacks: Vec<&str> = rows.test.iter().map(|&i| attacks[i].as_str()).collect();
        let test_labels: Vec<bool> = test_attacks
            .iter()
            .map(|&a| !data.schema.is_normal(a))
            .collect();
        let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
        let encoded = pipeline.encode(&train.records);
        let test = pipeline.encode(&data.select(&rows.test).records);

        // The threshold's validation split inside the fold's training part. The threshold's
        // model and its pipeline see the fit share only: the validation rows are encoded by
        // that pipeline, so their category values are unseen there exactly as new traffic's
        // would be.
        let (fit_rows, valid_rows) = stratified_split(&train_labels, validation_share, seed);
        let fit_records = train.select(&fit_rows);
        let fit_pipeline = FeaturePipeline::fit(&fit_records.schema, &fit_records.records);
        let fit_part = fit_pipeline.encode(&fit_records.records);
        let fit_labels: Vec<bool> = fit_rows.iter().map(|&i| train_labels[i]).collect();
        let valid_part = fit_pipeline.encode(&train.select(&valid_rows).records);
        let valid_labels: Vec<bool> = valid_rows.iter().map(|&i| train_labels[i]).collect();
        PreparedFold {
            encoded,
            train_labels,
            fit_part,
            fit_labels,
            valid_part,
            valid_labels,
            test,
            test_attacks,
            test_labels,
        }
    }

    /// A classifier's threshold: the best F1 on the validation rows, scored by `partial`,
    /// the same model fitted on the fit share.
    pub(crate) fn threshold_of<M: Classifier>(&self, partial: &M) -> f64 {
        metrics::best_f1_threshold(&self.valid_labels, &partial.score(&self.valid_part))
    }

    /// Measures `model`, fitted on the training part, on the test rows at `threshold`;
    /// `start` is when its fit began.
    pub(crate) fn measure<M: Classifier>(
        &self,
        kind: ModelKind,
        model: &M,
        threshold: f64,
        start: Instant,
    ) -> FoldResult {
        let (scores, parts) = model.score_with_parts(&self.test);
        let s = Scores::at_threshold(&self.test_labels, &scores, threshold);
        let c = &s.confusion;
        FoldResult {
            model: kind,
            threshold,
            detection_rate: s.recall,
            false_positive_rate: c.fp as f64 / (c.fp + c.tn).max(1) as f64,
            accuracy: s.accuracy,
            f1: s.f1,
            roc_auc: s.roc_auc,
            unflattering: Unflattering::of(&self.test_labels, &scores, &s.confusion),
            scores: s,
            per_attack: per_attack_rates(
                self.test_attacks.iter().copied(),
                &scores,
                parts.as_deref(),
                threshold,
            ),
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// Held-out normal rows, then held-out attack rows.
    pub(crate) fn test_counts(&self) -> (usize, usize) {
        let attacks = self.test_labels.iter().filter(|&&y| y).count();
        (self.test_labels.len() - attacks, attacks)
    }
}

#[allow(clippy::too_many_arguments)]
fn run_fold<F: Fitter>(
    fitter: &F,
    config: &CheckedConfig,
    data: &Dataset,
    attacks: &[String],
    plan: &FoldPlan,
    rows: &FoldRows,
    options: &NovelOptions,
    progress: &dyn Fn(NovelProgress),
) -> Result<FoldReport, ProtocolError> {
    let fold = PreparedFold::new(data, attacks, rows, options.validation_share, options.seed);
    let mut full = Fits::new(
        fitter,
        config,
        &fold.encoded,
        &fold.train_labels,
        options.seed,
    );
    let mut partial = Fits::new(
        fitter,
        config,
        &fold.fit_part,
        &fold.fit_labels,
        options.seed,
    );
    let mut results = Vec::with_capacity(options.kinds.len());
    for &kind in &options.kinds {
        progress(NovelProgress::Run {
            fold: plan.name.clone(),
            kind,
        });
        let start = Instant::now();
        let fit_error = |error| ProtocolError::Fit { kind, error };
        let model = full.get(kind).map_err(fit_error)?.model.clone();
        let threshold = match model.fixed_threshold() {
            Some(t) => t,
            None => fold.threshold_of(&partial.get(kind).map_err(fit_error)?.model),
        };
        results.push(fold.measure(kind, &model, threshold, start));
        progress(NovelProgress::Done);
    }
    let (test_normal, test_attacks) = fold.test_counts();
    Ok(FoldReport {
        name: plan.name.clone(),
        held_out: plan.held_out.clone(),
        train_rows: rows.train.len(),
        train_attacks: fold.train_labels.iter().filter(|&&y| y).count(),
        test_normal,
        test_attacks,
        results,
    })
}

fn summarise(kind: ModelKind, folds: &[FoldReport]) -> ModelSummary {
    let results: Vec<(&FoldResult, &str)> = folds
        .iter()
        .filter_map(|f| {
            f.results
                .iter()
                .find(|r| r.model == kind)
                .map(|r| (r, f.name.as_str()))
        })
        .collect();
    ModelSummary {
        model: kind,
        stats: FoldStats::of(&results),
    }
}

impl FoldStats {
    /// Over `results`, each with the name of its fold.
    pub(crate) fn of(results: &[(&FoldResult, &str)]) -> FoldStats {
        let of = |get: fn(&FoldResult) -> f64| MeanStd::of(results.iter().map(|(r, _)| get(r)));
        let worst = results
            .iter()
            .min_by(|a, b| a.0.detection_rate.total_cmp(&b.0.detection_rate))
            .map_or((0.0, String::new()), |(r, name)| {
                (r.detection_rate, name.to_string())
            });
        FoldStats {
            detection_rate: of(|r| r.detection_rate),
            false_positive_rate: of(|r| r.false_positive_rate),
            accuracy: of(|r| r.accuracy),
            f1: of(|r| r.f1),
            roc_auc: MeanStd::of(results.iter().filter_map(|(r, _)| r.roc_auc)),
            worst_detection: worst,
            balanced_accuracy: of(|r| r.unflattering.balanced_accuracy),
            mcc: of(|r| r.unflattering.mcc),
            detection_at_fpr: FIXED_FPRS
                .iter()
                .map(|&fpr| MeanDetection {
                    target_fpr: fpr,
                    detection_rate: MeanStd::of(
                        results
                            .iter()
                            .filter_map(|(r, _)| r.unflattering.detection(fpr)),
                    ),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{sample_data as sample, shared_data};
    use nadir_data::{ReadOptions, read_path};

    #[test]
    fn folds_are_the_families_then_seeded_random_groups() {
        let data = sample();
        let attacks = data.attacks.as_ref().unwrap();
        let plans = plan_folds(&data.schema, attacks, 3, 0.25, 7);
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "DoS", "Probe", "R2L", "U2R", "random 1", "random 2", "random 3"
            ]
        );
        assert!(plans[..4].iter().all(|p| {
            p.held_out
                .iter()
                .all(|n| data.schema.family_of(n) == p.name)
        }));
        // 22 attack names in the sample: groups of round(22 / 4) = 6 distinct names.
        for plan in &plans[4..] {
            let distinct: BTreeSet<&String> = plan.held_out.iter().collect();
            assert_eq!(distinct.len(), 6, "{plan:?}");
            assert!(!plan.held_out.iter().any(|n| data.schema.is_normal(n)));
        }
        assert_ne!(plans[4], plans[5]);
        assert_eq!(plan_folds(&data.schema, attacks, 3, 0.25, 7), plans);
        assert_ne!(
            plan_folds(&data.schema, attacks, 3, 0.25, 8)[4..],
            plans[4..]
        );
    }

    #[test]
    fn a_fold_never_trains_on_a_removed_attack_and_tests_on_all_of_its_rows() {
        let data = sample();
        let attacks = data.attacks.as_ref().unwrap();
        let normal_rows = attacks.iter().filter(|a| data.schema.is_normal(a)).count();
        for (f, plan) in plan_folds(&data.schema, attacks, 3, 0.25, 42)
            .iter()
            .enumerate()
        {
            let rows = fold_rows(&data.schema, attacks, plan, 0.3, fold_seed(42, f));
            let train = data.select(&rows.train);
            let test = data.select(&rows.test);
            let train_names = train.attacks.as_ref().unwrap();
            let test_names = test.attacks.as_ref().unwrap();
            for removed in &plan.held_out {
                assert!(
                    !train_names.contains(removed),
                    "{removed} leaked into the training rows of fold {}",
                    plan.name
                );
                let everywhere = attacks.iter().filter(|a| *a == removed).count();
                let tested = test_names.iter().filter(|a| *a == removed).count();
                assert_eq!(tested, everywhere, "{removed}");
            }
            // The test rows are normal or removed attacks; the normal rows are split 70/30.
            assert!(
                test_names
                    .iter()
                    .all(|a| data.schema.is_normal(a) || plan.held_out.contains(a))
            );
            let test_normal = test_names
                .iter()
                .filter(|a| data.schema.is_normal(a))
                .count();
            let train_normal = train_names
                .iter()
                .filter(|a| data.schema.is_normal(a))
                .count();
            assert_eq!(test_normal + train_normal, normal_rows);
            assert_eq!(test_normal, (normal_rows as f64 * 0.3).round() as usize);
            assert!(rows.train.iter().all(|i| !rows.test.contains(i)));
        }
    }

    #[test]
    fn validation_measures_every_model_on_every_fold() {
        let data = sample();
        let mut config = ModelConfig::default();
        config.voting.members = vec![ModelKind::DecisionTree, ModelKind::LogisticRegression];
        config.hybrid.classifier = ModelKind::DecisionTree;
        let options = NovelOptions {
            kinds: vec![
                ModelKind::DecisionTree,
                ModelKind::Voting,
                ModelKind::Hybrid,
            ],
            config,
            random_groups: 1,
            ..NovelOptions::default()
        };
        let runs = std::cell::Cell::new(0);
        let announced = std::cell::Cell::new(0);
        let report = validate(&data, &options, &|p| match p {
            NovelProgress::Start { runs } => announced.set(runs),
            NovelProgress::Done => runs.set(runs.get() + 1),
            _ => {}
        })
        .unwrap();
        assert_eq!(report.folds.len(), 5);
        assert_eq!((announced.get(), runs.get()), (5 * 3, 5 * 3));
        for fold in &report.folds {
            assert_eq!(fold.results.len(), 3);
            let removed: usize = fold
                .held_out
                .iter()
                .map(|n| {
                    data.attacks
                        .as_ref()
                        .unwrap()
                        .iter()
                        .filter(|a| *a == n)
                        .count()
                })
                .sum();
            assert_eq!(fold.test_attacks, removed);
            for r in &fold.results {
                assert_eq!(
                    r.scores.confusion.total() as usize,
                    fold.test_attacks + fold.test_normal
                );
                assert!((0.0..=1.0).contains(&r.detection_rate));
                let u = &r.unflattering;
                assert_eq!(u.detection_at_fpr.len(), FIXED_FPRS.len());
                for d in &u.detection_at_fpr {
                    assert!(d.false_positive_rate <= d.target_fpr, "{d:?}");
                }
                assert_eq!(u.balanced_accuracy, r.scores.confusion.balanced_accuracy());
                let c = r.scores.confusion;
                assert_eq!(r.false_positive_rate, c.fp as f64 / (c.fp + c.tn) as f64);
                // Every flagged test row is counted once, under its attack name.
                let flagged: usize = r.per_attack.values().map(|a| a.flagged).sum();
                assert_eq!(flagged as u64, c.tp + c.fp);
                assert_eq!(
                    r.per_attack.values().any(|a| a.fired.is_some()),
                    r.model == ModelKind::Hybrid
                );
            }
        }
        // Each model's summary is over its own fold results.
        for (k, summary) in report.models.iter().enumerate() {
            assert_eq!(summary.model, options.kinds[k]);
            let rates: Vec<f64> = report
                .folds
                .iter()
                .map(|f| f.results[k].detection_rate)
                .collect();
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            assert!((summary.stats.detection_rate.mean - mean).abs() < 1e-12);
        }
        let hybrid = report
            .models
            .iter()
            .find(|m| m.model == ModelKind::Hybrid)
            .unwrap();
        // A 2 % target on ~225 validation normals: the false-alarm rate stays near it.
        assert!(
            hybrid.stats.false_positive_rate.mean < 0.06,
            "{:?}",
            hybrid.stats.false_positive_rate
        );
        assert_eq!(
            hybrid.stats.worst_detection.0,
            report
                .folds
                .iter()
                .map(|f| f.results[2].detection_rate)
                .fold(1.0, f64::min)
        );
    }

    #[test]
    fn the_default_models_are_every_supervised_one_but_the_kernel_svm_plus_the_detectors() {
        let mut expected: Vec<ModelKind> = ModelKind::supervised()
            .into_iter()
            .filter(|&k| k != ModelKind::KernelSvm)
            .chain([ModelKind::IsolationForest, ModelKind::Hybrid])
            .collect();
        expected.sort();
        assert_eq!(NovelOptions::default_kinds(), expected);
        assert!(expected.len() >= 9);
    }

    #[test]
    fn every_fold_splits_the_normal_rows_its_own_way() {
        let seeds: BTreeSet<u64> = (0..7).map(|f| fold_seed(42, f)).collect();
        assert_eq!(seeds.len(), 7);
        assert_ne!(fold_seed(42, 0), fold_seed(7, 0));
    }

    #[test]
    fn shares_must_lie_strictly_between_0_and_1() {
        let data = sample();
        for share in [0.0, 1.0] {
            for bad in [
                NovelOptions {
                    normal_holdout: share,
                    ..NovelOptions::default()
                },
                NovelOptions {
                    group_share: share,
                    ..NovelOptions::default()
                },
                NovelOptions {
                    validation_share: share,
                    ..NovelOptions::default()
                },
            ] {
                assert!(matches!(
                    validate(&data, &bad, &|_| {}),
                    Err(ProtocolError::Options(_))
                ));
            }
        }
    }

    #[test]
    fn unlabelled_data_and_bad_shares_are_errors() {
        let mut data = sample();
        let bad = NovelOptions {
            normal_holdout: 1.0,
            ..NovelOptions::default()
        };
        assert!(matches!(
            validate(&data, &bad, &|_| {}),
            Err(ProtocolError::Options(_))
        ));
        data.attacks = None;
        assert!(matches!(
            validate(&data, &NovelOptions::default(), &|_| {}),
            Err(ProtocolError::Unlabelled { .. })
        ));
    }

    /// The target: on the full file, the hybrid catches more unseen attacks than
    /// any single model whose false-positive rate is at most 3 %, and itself stays under 3 %.
    #[test]
    #[ignore = "full data: a few minutes in release; CI runs it (.ci/run)"]
    fn full_data_hybrid_beats_every_single_model_on_unseen_attacks() {
        let data = read_path(
            &shared_data("Network_anomaly_data.csv"),
            ReadOptions::default(),
        )
        .unwrap();
        let report = validate(&data, &NovelOptions::default(), &|_| {}).unwrap();
        let hybrid = report
            .models
            .iter()
            .find(|m| m.model == ModelKind::Hybrid)
            .unwrap();
        println!(
            "hybrid: detection {:.4}, false positives {:.4}",
            hybrid.stats.detection_rate.mean, hybrid.stats.false_positive_rate.mean
        );
        assert!(hybrid.stats.false_positive_rate.mean <= 0.03);
        // Just under and over what was measured on 2026-12-03: detection 0.6647 (the best
        // single model 0.5193), false positives 0.0047.
        assert!(hybrid.stats.detection_rate.mean >= 0.66);
        assert!(hybrid.stats.false_positive_rate.mean <= 0.005);
        for other in report
            .models
            .iter()
            .filter(|m| m.model != ModelKind::Hybrid)
        {
            println!(
                "{}: detection {:.4}, false positives {:.4}",
                other.model, other.stats.detection_rate.mean, other.stats.false_positive_rate.mean
            );
            if other.stats.false_positive_rate.mean <= 0.03 {
                assert!(
                    hybrid.stats.detection_rate.mean > other.stats.detection_rate.mean,
                    "{}",
                    other.model
                );
            }
        }
    }
}
