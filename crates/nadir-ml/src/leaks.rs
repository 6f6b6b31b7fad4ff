//! Leak guards: no row of the test part, and no held-out attack, may reach a fit, a feature
//! pipeline, a threshold or a model choice. Read today, the protocols are honest; these tests
//! keep them so.
//!
//! A [`Spy`] stands in for every model (through [`Fitter`]) on the sample whose rows are made
//! identifiable: each row's `duration` is its index and its `service` a value of its own. So
//! - the rows a fit saw are the durations it was given;
//! - the pipeline that encoded them was fitted on exactly those rows when its `service`
//!   vocabulary holds as many values as the fit has rows, none of them unknown to it;
//! - a threshold chosen by best F1 on spy scores names the two rows that chose it
//!   ([`Spy::chosen_by`]);
//! - the rows a model scored, and which of them the pipeline that encoded them had never
//!   seen, are recorded too ([`SpyScored`]): a row unseen there did not reach that pipeline.

use crate::fitting::Fitter;
use crate::model::{Classifier, FitError};
use crate::novel::{self, NovelOptions, NovelProgress};
use crate::protocol::{self, Progress, TrainOptions};
use crate::registry::{ModelConfig, ModelKind};
use crate::split::stratified_split;
use crate::testdata::sample_data;
use nadir_data::{Dataset, Encoded, UNSEEN};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// The categorical column that names each row.
const SERVICE: usize = 1;

/// The sample, each row identifiable by its `duration` and its `service`.
pub(crate) fn identifiable() -> Dataset {
    let mut data = sample_data();
    for (i, record) in data.records.iter_mut().enumerate() {
        record.numeric[0] = i as f64;
        record.categorical[SERVICE] = format!("row {i}");
    }
    data
}

/// One fit the spy saw.
#[derive(Debug)]
struct SpyFit {
    /// The protocol's step when it fitted (from its progress reports), e.g. `fold 2`.
    step: String,
    /// The rows fitted on, as indices into the dataset.
    rows: Vec<usize>,
    /// Values in the `service` vocabulary of the pipeline that encoded them.
    vocabulary: usize,
    /// Fitted rows whose `service` that pipeline did not know.
    unknown: usize,
}

/// One batch of rows a spy model scored.
#[derive(Debug)]
struct SpyScored {
    /// The protocol's step when it scored.
    step: String,
    /// The rows scored, as indices into the dataset.
    rows: Vec<usize>,
    /// Values in the `service` vocabulary of the pipeline that encoded them.
    vocabulary: usize,
    /// Scored rows whose `service` that pipeline did not know: rows it was not fitted on.
    unknown: Vec<usize>,
}

/// Stands in for every model: records each fit and each scoring, and scores a row by its
/// identity alone.
struct Spy {
    is_attack: Rc<[bool]>,
    step: Rc<RefCell<String>>,
    fits: RefCell<Vec<SpyFit>>,
    scored: Rc<RefCell<Vec<SpyScored>>>,
}

/// A model the spy fitted.
#[derive(Clone)]
struct SpyModel {
    is_attack: Rc<[bool]>,
    step: Rc<RefCell<String>>,
    scored: Rc<RefCell<Vec<SpyScored>>>,
}

/// Row `i` of `n` scores `i / 2n²` when normal, below every attack's `0.5 + i / 2n`. Every
/// set of rows is then perfectly separated, and its best-F1 threshold is the midpoint between
/// its highest normal row and its lowest attack row, from which both are read back.
fn spy_score(i: usize, attack: bool, n: usize) -> f64 {
    let (i, n) = (i as f64, n as f64);
    if attack {
        0.5 + i / (2.0 * n)
    } else {
        i / (2.0 * n * n)
    }
}

impl Spy {
    fn new(data: &Dataset) -> Spy {
        Spy {
            is_attack: data.is_attack().expect("labelled").into(),
            step: Rc::new(RefCell::new("start".into())),
            fits: RefCell::new(Vec::new()),
            scored: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// The (normal, attack) rows whose scores a best-F1 `threshold` lies halfway between.
    fn chosen_by(&self, threshold: f64) -> (usize, usize) {
        let n = self.is_attack.len();
        let code = ((2.0 * threshold - 0.5) * 2.0 * (n * n) as f64).round() as usize;
        let (normal, attack) = (code % n, code / n);
        let midpoint = (spy_score(normal, false, n) + spy_score(attack, true, n)) / 2.0;
        assert!(
            !self.is_attack[normal]
                && self.is_attack[attack]
                && (midpoint - threshold).abs() < 1e-12,
            "threshold {threshold} was not chosen by best F1 on spy scores"
        );
        (normal, attack)
    }

    /// The fits seen so far, taken out of the spy.
    fn take_fits(&self) -> Vec<SpyFit> {
        self.fits.take()
    }
}

impl Classifier for SpyModel {
    fn score(&self, data: &Encoded) -> Vec<f64> {
        let n = self.is_attack.len();
        let rows: Vec<usize> = data.numeric.iter().map(|row| row[0] as usize).collect();
        let unknown = rows
            .iter()
            .zip(data.codes.iter())
            .filter(|(_, codes)| codes[SERVICE] == UNSEEN)
            .map(|(&i, _)| i)
            .collect();
        self.scored.borrow_mut().push(SpyScored {
            step: self.step.borrow().clone(),
            rows,
            vocabulary: data.cardinalities[SERVICE],
            unknown,
        });
        data.numeric
            .iter()
            .map(|row| {
                let i = row[0] as usize;
                spy_score(i, self.is_attack[i], n)
            })
            .collect()
    }

    fn describe(&self) -> String {
        "spy".into()
    }
}

impl Fitter for Spy {
    type Model = SpyModel;

    fn fit(
        &self,
        _: ModelKind,
        _: &ModelConfig,
        _: Vec<SpyModel>,
        data: &Encoded,
        _: &[bool],
        _: u64,
    ) -> Result<SpyModel, FitError> {
        self.fits.borrow_mut().push(SpyFit {
            step: self.step.borrow().clone(),
            rows: data.numeric.iter().map(|row| row[0] as usize).collect(),
            vocabulary: data.cardinalities[SERVICE],
            unknown: data.codes.iter().filter(|c| c[SERVICE] == UNSEEN).count(),
        });
        Ok(SpyModel {
            is_attack: Rc::clone(&self.is_attack),
            step: Rc::clone(&self.step),
            scored: Rc::clone(&self.scored),
        })
    }
}

/// The highest normal row and the lowest attack row among `rows`: the rows that choose the
/// best-F1 threshold of spy scores on them.
fn choosers(spy: &Spy, rows: impl IntoIterator<Item = usize>) -> (usize, usize) {
    let (attacks, normal): (Vec<usize>, Vec<usize>) =
        rows.into_iter().partition(|&i| spy.is_attack[i]);
    (
        *normal.iter().max().expect("normal rows"),
        *attacks.iter().min().expect("attack rows"),
    )
}

#[test]
fn no_test_row_reaches_a_fit_a_pipeline_or_a_threshold_in_train() {
    let data = identifiable();
    let options = TrainOptions {
        kinds: vec![ModelKind::LogisticRegression],
        folds: 3,
        ..TrainOptions::default()
    };
    let spy = Spy::new(&data);
    let run = protocol::run(&spy, &data, None, &options, &|progress| {
        if let Progress::Fit { fold, .. } = progress {
            *spy.step.borrow_mut() = fold.map_or("final fit".into(), |f| format!("fold {f}"));
        }
    })
    .unwrap();
    let (train_rows, _) = stratified_split(&spy.is_attack, options.test_share, options.seed);
    let train: BTreeSet<usize> = train_rows.iter().copied().collect();

    // Every threshold chosen by best F1 on the out-of-fold scores of the training part.
    for measured in &run.models {
        assert_eq!(
            spy.chosen_by(measured.threshold),
            choosers(&spy, train_rows.iter().copied()),
            "{}: the threshold was not chosen on the training part's out-of-fold scores",
            measured.kind
        );
    }
    // The final pipeline knows the training part's rows, and no other.
    let vocabulary: BTreeSet<&str> = run
        .pipeline
        .vocabulary(SERVICE)
        .iter()
        .map(String::as_str)
        .collect();
    let names = |rows: &[usize]| -> BTreeSet<&str> {
        rows.iter()
            .map(|&i| data.records[i].categorical[SERVICE].as_str())
            .collect()
    };
    assert!(
        vocabulary == names(&train_rows),
        "the final pipeline was fitted on other rows than the training part"
    );

    let fits = spy.take_fits();
    assert_eq!(fits.len(), options.folds + 1, "{fits:?}");
    for fit in &fits {
        assert!(
            fit.rows.iter().all(|i| train.contains(i)),
            "{}: fitted on a row of the test part",
            fit.step
        );
        assert_eq!(
            (fit.vocabulary, fit.unknown),
            (fit.rows.len(), 0),
            "{}: the pipeline was fitted on other rows than the model",
            fit.step
        );
    }
    // Each cross-validation fit leaves out its own fold: every training row exactly once.
    let (final_fit, cv_fits) = fits.split_last().unwrap();
    assert_eq!(final_fit.step, "final fit");
    assert_eq!(final_fit.rows, train_rows);
    for &i in &train_rows {
        let left_out = cv_fits.iter().filter(|fit| !fit.rows.contains(&i)).count();
        assert_eq!(left_out, 1, "training row {i} left out of {left_out} folds");
    }
}

#[test]
fn no_held_out_row_reaches_a_fit_a_pipeline_or_a_threshold_in_novel_validation() {
    let data = identifiable();
    let attacks = data.attacks.as_ref().unwrap();
    let options = NovelOptions {
        kinds: vec![ModelKind::LogisticRegression],
        random_groups: 1,
        ..NovelOptions::default()
    };
    let spy = Spy::new(&data);
    let report = novel::validate_with(&spy, &data, &options, &|progress| {
        if let NovelProgress::Run { fold, .. } = progress {
            *spy.step.borrow_mut() = fold;
        }
    })
    .unwrap();
    let plans = novel::plan_folds(
        &data.schema,
        attacks,
        options.random_groups,
        options.group_share,
        options.seed,
    );
    assert_eq!(report.folds.len(), plans.len());
    let fits = spy.take_fits();
    let scored = spy.scored.take();
    for (f, (plan, fold)) in plans.iter().zip(&report.folds).enumerate() {
        let rows = novel::fold_rows(
            &data.schema,
            attacks,
            plan,
            options.normal_holdout,
            novel::fold_seed(options.seed, f),
        );
        let held_out: BTreeSet<usize> = rows.test.iter().copied().collect();
        assert!(rows.test.iter().all(|&i| !rows.train.contains(&i)));
        // The threshold: best F1 on the validation share of the fold's training rows.
        let train_labels: Vec<bool> = rows.train.iter().map(|&i| spy.is_attack[i]).collect();
        let (fit_share, validation_share) =
            stratified_split(&train_labels, options.validation_share, options.seed);
        let in_fold = |share: &[usize]| share.iter().map(|&k| rows.train[k]).collect::<Vec<_>>();
        assert_eq!(
            spy.chosen_by(fold.results[0].threshold),
            choosers(&spy, in_fold(&validation_share)),
            "{}: the threshold was not chosen on the fold's validation share",
            plan.name
        );
        // The fits: the model on the fold's training rows, the threshold's model on the
        // fit share of them; each with a pipeline fitted on exactly its rows.
        let fold_fits: Vec<&SpyFit> = fits.iter().filter(|fit| fit.step == plan.name).collect();
        let fitted: Vec<&[usize]> = fold_fits.iter().map(|fit| &fit.rows[..]).collect();
        assert_eq!(
            fitted,
            [&rows.train[..], &in_fold(&fit_share)[..]],
            "{}",
            plan.name
        );
        for fit in &fold_fits {
            assert!(
                fit.rows.iter().all(|i| !held_out.contains(i)),
                "{}: fitted on a held-out row",
                plan.name
            );
            assert!(
                fit.rows
                    .iter()
                    .all(|&i| !plan.held_out.contains(&attacks[i])),
                "{}: fitted on a held-out attack",
                plan.name
            );
            assert_eq!(
                (fit.vocabulary, fit.unknown),
                (fit.rows.len(), 0),
                "{}: the pipeline was fitted on other rows than the model",
                plan.name
            );
        }
        // The validation share was scored once, by a pipeline that none of its rows reached:
        // every one of them holds a `service` that pipeline never saw.
        let validation = in_fold(&validation_share);
        let scorings: Vec<&SpyScored> = scored
            .iter()
            .filter(|s| s.step == plan.name && s.rows == validation)
            .collect();
        assert_eq!(scorings.len(), 1, "{}: {scorings:?}", plan.name);
        assert_eq!(
            (scorings[0].vocabulary, &scorings[0].unknown),
            (fit_share.len(), &validation),
            "{}: a validation row reached the pipeline that scored the validation share",
            plan.name
        );
    }
}
