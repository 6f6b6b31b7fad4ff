//! Nested leave-attacks-out validation: choosing a detector's design without looking at the
//! attacks it is measured on.
//!
//! [`crate::novel`] measures designs on folds that leave attack names out of training; a
//! design chosen by those same folds' numbers is flattered by them. Here the choice is made
//! again inside each fold:
//! - the outer folds are [`crate::novel`]'s (each attack family, then seeded random groups of
//!   attack names, a seeded share of the normal rows held out);
//! - inside an outer fold's training part alone (its attack names minus the held-out ones,
//!   its training normal rows; the outer held-out normal rows are never seen), inner folds
//!   are planned the same way;
//! - every candidate design is fitted and measured on every inner fold, and one is picked by
//!   the rule fixed in advance ([`SELECTION_RULE`]): the highest mean detection at 1 % false
//!   positives on the inner folds' held-out normal rows; a candidate within 0.1 point of the
//!   best counts as tied with it, and ties go to the one listed first (the default grid
//!   lists simpler, cheaper designs first);
//! - the picked design is fitted on the outer fold's whole training part and measured on the
//!   outer fold: only those numbers report how the whole procedure does on unseen attacks.
//!
//! Candidates are data: a name, a model and `--set`-style overrides of the configuration
//! ([`DEFAULT_CANDIDATES`], or a user's TOML file of the same shape). Candidates that share a
//! part under the same configuration (the hybrids' random forest) share its fit on each fold.

use crate::fitting::{Catalogue, Fitter};
use crate::model::{Classifier, FitError};
use crate::novel::{
    FoldPlan, FoldResult, FoldRows, FoldStats, PreparedFold, check_shares, fold_rows, fold_seed,
    plan_folds,
};
use crate::protocol::ProtocolError;
use crate::registry::{ModelConfig, ModelKind};
use nadir_data::{Dataset, Rng, Schema};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;

/// The false-positive rate at which inner folds compare candidates.
pub const SELECTION_FPR: f64 = 0.01;

/// Candidates whose inner mean is within this of the best count as tied with it.
pub const SELECTION_TIE: f64 = 0.001;

/// The selection rule, as reports state it.
pub const SELECTION_RULE: &str = "the highest mean detection at 1 % false positives on the \
    inner folds' held-out normal rows; within 0.1 point of the best counts as a tie, and ties \
    go to the candidate listed first";

/// The default grid, simplest and cheapest first (ties go to the earlier one). Adding a
/// candidate is adding one entry.
pub const DEFAULT_CANDIDATES: &str = r#"
[[candidate]]
name = "autoencoder"
model = "autoencoder"

[[candidate]]
name = "hybrid iforest"
model = "hybrid"
set = ["hybrid.novelty=isolation_forest"]

[[candidate]]
name = "hybrid knn k=1 pca 0.95"
model = "hybrid"
set = ["hybrid.novelty=knn", "hybrid.neighbours=1", "hybrid.pca_variance=0.95"]

[[candidate]]
name = "hybrid knn k=5 pca 0.95"
model = "hybrid"
set = ["hybrid.novelty=knn", "hybrid.neighbours=5", "hybrid.pca_variance=0.95"]

[[candidate]]
name = "hybrid knn k=1 pca 0.99"
model = "hybrid"
set = ["hybrid.novelty=knn", "hybrid.neighbours=1", "hybrid.pca_variance=0.99"]

[[candidate]]
name = "hybrid v2 knn k=1 pca 0.95"
model = "hybrid"
set = ["hybrid.novelty=ensemble", 'novelty_ensemble.members=["knn"]']

[[candidate]]
name = "hybrid v2 knn+iforest"
model = "hybrid"
set = ["hybrid.novelty=ensemble", 'novelty_ensemble.members=["knn", "iforest"]']

[[candidate]]
name = "hybrid knn k=1 full"
model = "hybrid"
set = ["hybrid.novelty=knn", "hybrid.neighbours=1", "hybrid.pca_variance=none"]

[[candidate]]
name = "hybrid v2 knn k=1 full"
model = "hybrid"
set = ["hybrid.novelty=ensemble", 'novelty_ensemble.members=["knn"]', "novelty_ensemble.pca=false"]

[[candidate]]
name = "hybrid knn k=1 pca 0.99 loo"
model = "hybrid"
set = ["hybrid.novelty=knn_leave_one_out", "hybrid.neighbours=1", "hybrid.pca_variance=0.99"]

[[candidate]]
name = "hybrid knn k=1 full loo"
model = "hybrid"
set = ["hybrid.novelty=knn_leave_one_out", "hybrid.neighbours=1", "hybrid.pca_variance=none"]

[[candidate]]
name = "hybrid knn k=3 full loo"
model = "hybrid"
set = ["hybrid.novelty=knn_leave_one_out", "hybrid.neighbours=3", "hybrid.pca_variance=none"]
"#;

/// One candidate design: a model and the overrides of the configuration that make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Its name in tables and in the report.
    pub name: String,
    pub model: ModelKind,
    /// `--set`-style overrides, `model.parameter=value`, applied over the run's configuration.
    #[serde(default)]
    pub set: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CandidateFile {
    candidate: Vec<Candidate>,
}

/// Reads candidates from TOML: one `[[candidate]]` table each, with `name`, `model` and an
/// optional `set` list.
pub fn parse_candidates(text: &str) -> Result<Vec<Candidate>, ProtocolError> {
    let file: CandidateFile = toml::from_str(text)
        .map_err(|e| ProtocolError::Options(format!("candidates: {}", e.message().trim_end())))?;
    Ok(file.candidate)
}

/// [`DEFAULT_CANDIDATES`], read.
pub fn default_candidates() -> Vec<Candidate> {
    parse_candidates(DEFAULT_CANDIDATES).expect("the default grid parses")
}

/// How to run the nested validation.
#[derive(Debug, Clone)]
pub struct NestedOptions {
    /// The configuration every candidate's overrides apply over.
    pub config: ModelConfig,
    pub candidates: Vec<Candidate>,
    pub seed: u64,
    /// Share of the normal rows held out per fold (outer and inner alike).
    pub normal_holdout: f64,
    /// Random groups of attack names beside the families, in the outer folds.
    pub random_groups: usize,
    /// Random groups of attack names beside the families, in each outer fold's inner folds.
    pub inner_groups: usize,
    /// Share of the attack names in each random group.
    pub group_share: f64,
    /// Share of a fold's training rows on which a classifier's threshold is chosen.
    pub validation_share: f64,
}

impl Default for NestedOptions {
    fn default() -> Self {
        let novel = crate::novel::NovelOptions::default();
        NestedOptions {
            config: novel.config,
            candidates: default_candidates(),
            seed: novel.seed,
            normal_holdout: novel.normal_holdout,
            random_groups: novel.random_groups,
            inner_groups: 1,
            group_share: novel.group_share,
            validation_share: novel.validation_share,
        }
    }
}

/// An outer fold and its inner folds, every row list an index list into the whole dataset.
#[derive(Debug, Clone)]
pub struct NestedFold {
    pub plan: FoldPlan,
    pub rows: FoldRows,
    /// Planned on `rows.train` alone.
    pub inner: Vec<(FoldPlan, FoldRows)>,
}

/// Plans the outer folds as [`crate::novel`] does, and inside each outer fold's training rows
/// its inner folds, with seeds of their own.
pub fn plan_nested(
    schema: &Schema,
    attacks: &[String],
    options: &NestedOptions,
) -> Vec<NestedFold> {
    let outer = plan_folds(
        schema,
        attacks,
        options.random_groups,
        options.group_share,
        options.seed,
    );
    outer
        .into_iter()
        .enumerate()
        .map(|(f, plan)| {
            let rows = fold_rows(
                schema,
                attacks,
                &plan,
                options.normal_holdout,
                fold_seed(options.seed, f),
            );
            let inner_attacks: Vec<String> =
                rows.train.iter().map(|&i| attacks[i].clone()).collect();
            let inner_seed = Rng::fork(options.seed, 2000 + f as u64).next_u64();
            let inner = plan_folds(
                schema,
                &inner_attacks,
                options.inner_groups,
                options.group_share,
                inner_seed,
            )
            .into_iter()
            .enumerate()
            .map(|(g, inner_plan)| {
                let local = fold_rows(
                    schema,
                    &inner_attacks,
                    &inner_plan,
                    options.normal_holdout,
                    fold_seed(inner_seed, g),
                );
                let global = |list: Vec<usize>| list.into_iter().map(|i| rows.train[i]).collect();
                let inner_rows = FoldRows {
                    train: global(local.train),
                    test: global(local.test),
                };
                (inner_plan, inner_rows)
            })
            .collect();
            NestedFold { plan, rows, inner }
        })
        .collect()
}

/// What the nested validation is doing, for progress displays.
#[derive(Debug, Clone)]
pub enum NestedProgress {
    /// This many runs (a candidate on an inner fold, or a picked design on an outer one)
    /// will follow.
    Start { runs: usize },
    /// `candidate` is being fitted and measured on inner fold `inner` of outer fold `outer`,
    /// or, without `inner`, on the outer fold itself.
    Run {
        outer: String,
        inner: Option<String>,
        candidate: String,
    },
    /// One run finished.
    Done,
}

/// An inner fold, as planned.
#[derive(Debug, Clone, Serialize)]
pub struct InnerFold {
    pub name: String,
    pub held_out: Vec<String>,
    pub train_rows: usize,
    pub test_normal: usize,
    pub test_attacks: usize,
}

/// One candidate on the inner folds of an outer fold.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScore {
    pub candidate: String,
    /// Detection at [`SELECTION_FPR`] per inner fold (absent where a fold has no normal rows).
    pub detection_at_1pct: Vec<Option<f64>>,
    /// Their mean over the folds that have one; what the selection compares.
    pub mean: Option<f64>,
}

/// One outer fold: the inner level's scores, the pick, and the pick measured.
#[derive(Debug, Clone, Serialize)]
pub struct OuterFold {
    pub name: String,
    pub held_out: Vec<String>,
    pub train_rows: usize,
    pub test_normal: usize,
    pub test_attacks: usize,
    pub inner_folds: Vec<InnerFold>,
    /// One per candidate, in the candidates' order.
    pub inner: Vec<CandidateScore>,
    pub picked: String,
    /// The picked design, fitted on the outer training part, measured on the outer fold.
    pub result: FoldResult,
}

/// How often a candidate was picked.
#[derive(Debug, Clone, Serialize)]
pub struct PickCount {
    pub candidate: String,
    pub picked: usize,
}

/// Everything `nadir validate --novel --nested` measured.
#[derive(Debug, Clone, Serialize)]
pub struct NestedReport {
    pub nadir_version: String,
    pub source: String,
    pub sha256: String,
    pub rows: usize,
    pub seed: u64,
    pub normal_holdout: f64,
    pub validation_share: f64,
    pub inner_groups: usize,
    pub selection_rule: String,
    pub candidates: Vec<Candidate>,
    pub folds: Vec<OuterFold>,
    pub picks: Vec<PickCount>,
    /// The picked designs over the outer folds: the procedure's honest numbers.
    pub outer: FoldStats,
}

/// A candidate with its configuration made and checked.
struct Resolved<'c> {
    candidate: &'c Candidate,
    config: ModelConfig,
}

/// Applies every candidate's overrides over `base` and checks the result for its model,
/// before anything is fitted; an error names the candidate.
fn resolve<'c>(
    base: &ModelConfig,
    candidates: &'c [Candidate],
) -> Result<Vec<Resolved<'c>>, ProtocolError> {
    if candidates.is_empty() {
        return Err(ProtocolError::Options("no candidate design".into()));
    }
    let base_text =
        toml::to_string(base).map_err(|e| ProtocolError::Options(format!("configuration: {e}")))?;
    let mut resolved: Vec<Resolved> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if resolved.iter().any(|r| r.candidate.name == candidate.name) {
            return Err(ProtocolError::Options(format!(
                "two candidates are named `{}`",
                candidate.name
            )));
        }
        let bad =
            |e: String| ProtocolError::Options(format!("candidate `{}`: {e}", candidate.name));
        let config =
            ModelConfig::from_toml(&base_text, &candidate.set).map_err(|e| bad(e.to_string()))?;
        config
            .check(&[candidate.model])
            .map_err(|e| bad(e.to_string()))?;
        resolved.push(Resolved { candidate, config });
    }
    Ok(resolved)
}

/// Picks by [`SELECTION_RULE`]: the index of the first candidate whose mean is within
/// [`SELECTION_TIE`] of the best; `None` when no candidate has a mean.
pub fn pick(scores: &[CandidateScore]) -> Option<usize> {
    let best = scores
        .iter()
        .filter_map(|s| s.mean)
        .max_by(f64::total_cmp)?;
    scores
        .iter()
        .position(|s| s.mean.is_some_and(|m| m >= best - SELECTION_TIE))
}

/// Fits models on one set of rows, each (kind, configuration of it and its parts) at most
/// once: candidates that differ only in a hybrid's novelty part share its classifier.
struct SharedFits<'a, F: Fitter> {
    fitter: &'a F,
    data: &'a nadir_data::Encoded,
    labels: &'a [bool],
    seed: u64,
    fitted: HashMap<String, F::Model>,
}

impl<'a, F: Fitter> SharedFits<'a, F> {
    fn new(fitter: &'a F, data: &'a nadir_data::Encoded, labels: &'a [bool], seed: u64) -> Self {
        SharedFits {
            fitter,
            data,
            labels,
            seed,
            fitted: HashMap::new(),
        }
    }

    fn get(&mut self, kind: ModelKind, config: &ModelConfig) -> Result<F::Model, FitError> {
        let key = fingerprint(kind, config);
        if let Some(model) = self.fitted.get(&key) {
            return Ok(model.clone());
        }
        let parts = config
            .parts(kind)
            .into_iter()
            .map(|part| self.get(part, config))
            .collect::<Result<Vec<_>, _>>()?;
        let model = self
            .fitter
            .fit(kind, config, parts, self.data, self.labels, self.seed)?;
        self.fitted.insert(key, model.clone());
        Ok(model)
    }
}

/// What decides a fitted `kind` under `config`: its section and its parts', recursively.
fn fingerprint(kind: ModelKind, config: &ModelConfig) -> String {
    let mut key = format!("[{kind}]\n{}", config.section_toml(kind));
    for part in config.parts(kind) {
        key.push_str(&fingerprint(part, config));
    }
    key
}

/// Fits `resolved` on the fold's training part (sharing fits through `full` and `partial`)
/// and measures it on the fold's test rows.
fn run_candidate<F: Fitter>(
    fold: &PreparedFold,
    full: &mut SharedFits<F>,
    partial: &mut SharedFits<F>,
    resolved: &Resolved,
) -> Result<FoldResult, ProtocolError> {
    let kind = resolved.candidate.model;
    let fit_error = |error| ProtocolError::Fit { kind, error };
    let start = Instant::now();
    let model = full.get(kind, &resolved.config).map_err(fit_error)?;
    let threshold = match model.fixed_threshold() {
        Some(t) => t,
        None => fold.threshold_of(&partial.get(kind, &resolved.config).map_err(fit_error)?),
    };
    Ok(fold.measure(kind, &model, threshold, start))
}

/// Runs nested leave-attacks-out validation of `options.candidates` on a labelled dataset.
pub fn validate(
    data: &Dataset,
    options: &NestedOptions,
    progress: &dyn Fn(NestedProgress),
) -> Result<NestedReport, ProtocolError> {
    validate_with(&Catalogue, data, options, progress)
}

/// [`validate`] on models from `fitter`.
pub(crate) fn validate_with<F: Fitter>(
    fitter: &F,
    data: &Dataset,
    options: &NestedOptions,
    progress: &dyn Fn(NestedProgress),
) -> Result<NestedReport, ProtocolError> {
    let attacks = data
        .attacks
        .as_ref()
        .ok_or_else(|| ProtocolError::Unlabelled {
            path: data.source.clone(),
        })?;
    check_shares(
        options.normal_holdout,
        options.group_share,
        options.validation_share,
    )?;
    let resolved = resolve(&options.config, &options.candidates)?;
    let plans = plan_nested(&data.schema, attacks, options);
    if plans.is_empty() {
        return Err(ProtocolError::Options(format!(
            "{} holds no attack rows to leave out",
            data.source
        )));
    }
    progress(NestedProgress::Start {
        runs: plans
            .iter()
            .map(|p| p.inner.len() * resolved.len() + 1)
            .sum(),
    });
    let mut folds = Vec::with_capacity(plans.len());
    for nested in &plans {
        let mut per_candidate: Vec<Vec<Option<f64>>> = vec![Vec::new(); resolved.len()];
        let mut inner_folds = Vec::with_capacity(nested.inner.len());
        for (plan, rows) in &nested.inner {
            let fold =
                PreparedFold::new(data, attacks, rows, options.validation_share, options.seed);
            let mut full = SharedFits::new(fitter, &fold.encoded, &fold.train_labels, options.seed);
            let mut partial =
                SharedFits::new(fitter, &fold.fit_part, &fold.fit_labels, options.seed);
            for (c, candidate) in resolved.iter().enumerate() {
                progress(NestedProgress::Run {
                    outer: nested.plan.name.clone(),
                    inner: Some(plan.name.clone()),
                    candidate: candidate.candidate.name.clone(),
                });
                let result = run_candidate(&fold, &mut full, &mut partial, candidate)?;
                per_candidate[c].push(result.unflattering.detection(SELECTION_FPR));
                progress(NestedProgress::Done);
            }
            let (test_normal, test_attacks) = fold.test_counts();
            inner_folds.push(InnerFold {
                name: plan.name.clone(),
                held_out: plan.held_out.clone(),
                train_rows: rows.train.len(),
                test_normal,
                test_attacks,
            });
        }
        let inner: Vec<CandidateScore> = resolved
            .iter()
            .zip(per_candidate)
            .map(|(r, detections)| {
                let known: Vec<f64> = detections.iter().flatten().copied().collect();
                CandidateScore {
                    candidate: r.candidate.name.clone(),
                    mean: (!known.is_empty())
                        .then(|| known.iter().sum::<f64>() / known.len() as f64),
                    detection_at_1pct: detections,
                }
            })
            .collect();
        let picked = &resolved[pick(&inner).ok_or_else(|| {
            ProtocolError::Options(format!(
                "outer fold {}: no inner fold measured detection at 1 % false positives",
                nested.plan.name
            ))
        })?];
        progress(NestedProgress::Run {
            outer: nested.plan.name.clone(),
            inner: None,
            candidate: picked.candidate.name.clone(),
        });
        let fold = PreparedFold::new(
            data,
            attacks,
            &nested.rows,
            options.validation_share,
            options.seed,
        );
        let mut full = SharedFits::new(fitter, &fold.encoded, &fold.train_labels, options.seed);
        let mut partial = SharedFits::new(fitter, &fold.fit_part, &fold.fit_labels, options.seed);
        let result = run_candidate(&fold, &mut full, &mut partial, picked)?;
        progress(NestedProgress::Done);
        let (test_normal, test_attacks) = fold.test_counts();
        folds.push(OuterFold {
            name: nested.plan.name.clone(),
            held_out: nested.plan.held_out.clone(),
            train_rows: nested.rows.train.len(),
            test_normal,
            test_attacks,
            inner_folds,
            inner,
            picked: picked.candidate.name.clone(),
            result,
        });
    }
    let picks = resolved
        .iter()
        .map(|r| PickCount {
            candidate: r.candidate.name.clone(),
            picked: folds
                .iter()
                .filter(|f| f.picked == r.candidate.name)
                .count(),
        })
        .collect();
    let results: Vec<(&FoldResult, &str)> =
        folds.iter().map(|f| (&f.result, f.name.as_str())).collect();
    let outer = FoldStats::of(&results);
    Ok(NestedReport {
        nadir_version: env!("CARGO_PKG_VERSION").to_string(),
        source: data.source.clone(),
        sha256: data.sha256.clone(),
        rows: data.len(),
        seed: options.seed,
        normal_holdout: options.normal_holdout,
        validation_share: options.validation_share,
        inner_groups: options.inner_groups,
        selection_rule: SELECTION_RULE.to_string(),
        candidates: options.candidates.clone(),
        folds,
        picks,
        outer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::AnyModel;
    use crate::testdata::{sample_data as sample, shared_data};
    use nadir_data::Encoded;
    use nadir_data::{ReadOptions, read_path};
    use std::cell::Cell;
    use std::collections::BTreeSet;

    /// Quick candidates for the 2,000-row sample: hybrids on a decision tree.
    fn quick() -> Vec<Candidate> {
        parse_candidates(
            r#"
            [[candidate]]
            name = "iforest"
            model = "isolation_forest"

            [[candidate]]
            name = "hybrid knn"
            model = "hybrid"
            set = ["hybrid.classifier=decision_tree"]

            [[candidate]]
            name = "hybrid k=3"
            model = "hybrid"
            set = ["hybrid.classifier=decision_tree", "hybrid.neighbours=3"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn inner_folds_never_see_the_outer_held_out_names_or_normal_rows() {
        let data = sample();
        let attacks = data.attacks.as_ref().unwrap();
        let options = NestedOptions {
            inner_groups: 2,
            ..NestedOptions::default()
        };
        let plans = plan_nested(&data.schema, attacks, &options);
        assert_eq!(plans.len(), 4 + 3);
        for nested in &plans {
            let outer_test: BTreeSet<usize> = nested.rows.test.iter().copied().collect();
            let outer_train: BTreeSet<usize> = nested.rows.train.iter().copied().collect();
            // Every outer fold but U2R's leaves at least three families inside.
            assert!(nested.inner.len() >= 3 + 2, "{}", nested.plan.name);
            for (plan, rows) in &nested.inner {
                for i in rows.train.iter().chain(&rows.test) {
                    assert!(!outer_test.contains(i), "row {i} of the outer test part");
                    assert!(outer_train.contains(i));
                    assert!(!nested.plan.held_out.contains(&attacks[*i]));
                }
                assert!(
                    plan.held_out
                        .iter()
                        .all(|n| !nested.plan.held_out.contains(n))
                );
                // The inner test rows hold normal rows and every training row of its names.
                assert!(
                    rows.test
                        .iter()
                        .any(|&i| data.schema.is_normal(&attacks[i]))
                );
                for name in &plan.held_out {
                    let everywhere = nested
                        .rows
                        .train
                        .iter()
                        .filter(|&&i| &attacks[i] == name)
                        .count();
                    let tested = rows.test.iter().filter(|&&i| &attacks[i] == name).count();
                    assert_eq!(tested, everywhere, "{name}");
                    assert!(rows.train.iter().all(|&i| &attacks[i] != name));
                }
                assert!(
                    rows.train
                        .iter()
                        .all(|i| rows.test.binary_search(i).is_err())
                );
            }
        }
        // Inner folds of different outer folds split their normal rows their own ways.
        assert_ne!(plans[0].inner[0].1.test, plans[1].inner[0].1.test);
    }

    fn score(name: &str, mean: Option<f64>) -> CandidateScore {
        CandidateScore {
            candidate: name.into(),
            detection_at_1pct: vec![mean],
            mean,
        }
    }

    #[test]
    fn the_rule_picks_the_best_inner_mean_and_ties_go_to_the_first_listed() {
        let scores = [
            score("a", Some(0.60)),
            score("b", None),
            score("c", Some(0.75)),
            score("d", Some(0.70)),
        ];
        assert_eq!(pick(&scores), Some(2));
        let tied = [
            score("a", Some(0.70)),
            score("b", Some(0.7005)),
            score("c", Some(0.69)),
        ];
        assert_eq!(pick(&tied), Some(0));
        let clear = [score("a", Some(0.70)), score("b", Some(0.702))];
        assert_eq!(pick(&clear), Some(1));
        assert_eq!(pick(&[score("a", None)]), None);
    }

    /// Counts the fits it passes on.
    struct Counting(Cell<usize>);

    impl Fitter for Counting {
        type Model = AnyModel;

        fn fit(
            &self,
            kind: ModelKind,
            config: &ModelConfig,
            parts: Vec<AnyModel>,
            data: &Encoded,
            labels: &[bool],
            seed: u64,
        ) -> Result<AnyModel, FitError> {
            self.0.set(self.0.get() + 1);
            Catalogue.fit(kind, config, parts, data, labels, seed)
        }
    }

    #[test]
    fn a_bad_candidate_fails_before_any_fit_and_is_named() {
        let data = sample();
        for (set, expected) in [
            ("hybrid.no_such_key=3", "no_such_key"),
            ("hybrid.neighbours=0", "neighbours"),
            ("hybrid.novelty=\"sometimes\"", "sometimes"),
            ("no equals sign", "--set"),
        ] {
            let mut candidates = quick();
            candidates.push(Candidate {
                name: "broken one".into(),
                model: ModelKind::Hybrid,
                set: vec![set.into()],
            });
            let options = NestedOptions {
                candidates,
                ..NestedOptions::default()
            };
            let fitter = Counting(Cell::new(0));
            let error = validate_with(&fitter, &data, &options, &|_| {})
                .unwrap_err()
                .to_string();
            assert!(error.contains("candidate `broken one`"), "{error}");
            assert!(error.contains(expected), "{error}");
            assert_eq!(fitter.0.get(), 0);
        }
        let twice = NestedOptions {
            candidates: [quick(), quick()].concat(),
            ..NestedOptions::default()
        };
        let error = validate(&data, &twice, &|_| {}).unwrap_err().to_string();
        assert!(
            error.contains("two candidates are named `iforest`"),
            "{error}"
        );
        assert!(parse_candidates("[[candidate]]\nname = \"x\"\nmodel = \"nope\"\n").is_err());
    }

    #[test]
    fn the_default_grid_resolves_and_its_hybrid_defaults_are_the_shipped_ones() {
        let grid = default_candidates();
        let base = NestedOptions::default().config;
        let resolved = resolve(&base, &grid).unwrap();
        assert_eq!(resolved.len(), grid.len());
        assert!(
            resolved
                .iter()
                .any(|r| r.candidate.model == ModelKind::Hybrid && r.config == base),
            "the shipped hybrid is a candidate"
        );
    }

    #[test]
    fn the_report_holds_both_levels_and_the_picks() {
        let data = sample();
        let options = NestedOptions {
            candidates: quick(),
            random_groups: 1,
            ..NestedOptions::default()
        };
        let runs = Cell::new(0);
        let announced = Cell::new(0);
        let fitter = Counting(Cell::new(0));
        let report = validate_with(&fitter, &data, &options, &|p| match p {
            NestedProgress::Start { runs } => announced.set(runs),
            NestedProgress::Done => runs.set(runs.get() + 1),
            NestedProgress::Run { .. } => {}
        })
        .unwrap();
        assert_eq!(report.folds.len(), 5);
        assert_eq!(announced.get(), runs.get());
        let inner_runs: usize = report.folds.iter().map(|f| f.inner_folds.len() * 3).sum();
        assert_eq!(runs.get(), inner_runs + 5);
        // Per inner fold: one isolation forest, one decision tree shared by both hybrids, two
        // hybrids; per outer fold, the pick and its parts.
        let inner_fits: usize = report.folds.iter().map(|f| f.inner_folds.len() * 4).sum();
        let outer_fits: usize = report
            .folds
            .iter()
            .map(|f| if f.picked == "iforest" { 1 } else { 2 })
            .sum();
        assert_eq!(fitter.0.get(), inner_fits + outer_fits);
        for fold in &report.folds {
            assert_eq!(fold.inner.len(), 3);
            let chosen = pick(&fold.inner).unwrap();
            assert_eq!(fold.picked, fold.inner[chosen].candidate);
            for score in &fold.inner {
                assert_eq!(score.detection_at_1pct.len(), fold.inner_folds.len());
            }
            let kind = options.candidates[chosen].model;
            assert_eq!(fold.result.model, kind);
            assert!(
                fold.result
                    .per_attack
                    .keys()
                    .all(|k| k == "normal" || fold.held_out.contains(k))
            );
        }
        assert_eq!(report.picks.iter().map(|p| p.picked).sum::<usize>(), 5);
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        let first = &json["folds"][0];
        assert!(first["inner"][0]["mean"].is_number());
        assert!(first["inner_folds"][0]["held_out"].is_array());
        assert!(first["result"]["detection_at_fpr"].is_array());
        assert!(json["outer"]["detection_at_fpr"][1]["detection_rate"]["mean"].is_number());
        assert_eq!(json["candidates"].as_array().unwrap().len(), 3);
        assert_eq!(json["selection_rule"], SELECTION_RULE);
    }

    /// The issue's bar for the shipped design: on the full file, every outer fold picks a
    /// hybrid whose novelty part is the distance to the nearest normal row (k = 1), alone or
    /// through the ensemble, and the picks catch at least 75 % of the unseen attacks at 1 %
    /// false positives.
    #[test]
    #[ignore = "full data: a few minutes in release; CI runs it (.ci/run)"]
    fn full_data_nested_selection_picks_the_leave_one_out_nearest_normal_row_hybrid() {
        let data = read_path(
            &shared_data("Network_anomaly_data.csv"),
            ReadOptions::default(),
        )
        .unwrap();
        let report = validate(&data, &NestedOptions::default(), &|_| {}).unwrap();
        for fold in &report.folds {
            println!("{}: {}", fold.name, fold.picked);
            assert_eq!(fold.picked, "hybrid knn k=1 full loo", "{}", fold.name);
        }
        let at_1pct = report.outer.detection_at_fpr[1].detection_rate.mean;
        println!("outer mean detection at 1 %: {at_1pct:.4}");
        // Measured on 2026-12-04: 0.7658; with the full-space candidates, 0.7689; with the
        // leave-one-out candidates (and the score that ranks the forest's alarms first),
        // 0.8030 (the whole grid of 12 and its 8 likeliest alike).
        assert!(at_1pct >= 0.78);
    }
}
