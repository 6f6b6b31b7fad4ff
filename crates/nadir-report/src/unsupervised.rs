//! The unsupervised half of the report: what the PCA and DBSCAN of `nadir cluster` find, and
//! what the isolation forest flags, with deterministic samples of points for the scatters.

use crate::ReportError;
use nadir_data::{Dataset, FeaturePipeline, Rng};
use nadir_ml::Classifier;
use nadir_ml::cluster::ClusterRun;
use nadir_ml::dbscan::PointKind;
use nadir_ml::file::SavedModel;
use nadir_ml::fitting;
use nadir_ml::metrics;
use nadir_ml::registry::{ModelConfig, ModelKind};
use ndarray::Array2;

/// At most `max` of `0..n`, drawn without replacement by a seeded shuffle, in ascending order:
/// the same seed always gives the same scatter.
pub fn sample_indices(n: usize, max: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if n > max {
        Rng::new(seed).shuffle(&mut rows);
        rows.truncate(max);
        rows.sort_unstable();
    }
    rows
}

/// One record on the first two principal components.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterPoint {
    pub x: f64,
    pub y: f64,
    pub cluster: Option<usize>,
    pub kind: PointKind,
}

/// PCA and DBSCAN on every record, and a sample of the records to draw.
pub struct ClusterSection {
    pub run: ClusterRun,
    pub sample: Vec<ClusterPoint>,
}

impl ClusterSection {
    pub fn new(run: ClusterRun, max_points: usize, seed: u64) -> ClusterSection {
        let points = &run.points;
        let sample = sample_indices(points.nrows(), max_points, seed)
            .into_iter()
            .map(|i| ClusterPoint {
                x: points[(i, 0)],
                y: if points.ncols() > 1 {
                    points[(i, 1)]
                } else {
                    0.0
                },
                cluster: run.clustering.clusters[i],
                kind: run.clustering.kinds[i],
            })
            .collect();
        ClusterSection { run, sample }
    }
}

/// One held-out record on the first two principal components, flagged or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyPoint {
    pub x: f64,
    pub y: f64,
    pub anomaly: bool,
    pub attack: bool,
}

/// The isolation forest on the held-out rows.
pub struct AnomalySection {
    /// Where the forest came from, in words.
    pub origin: String,
    /// The report fitted the forest itself: the model directory had none.
    pub fitted_here: bool,
    pub threshold: f64,
    pub normal_scores: Vec<f64>,
    pub attack_scores: Vec<f64>,
    pub roc_auc: Option<f64>,
    pub flagged: usize,
    pub sample: Vec<AnomalyPoint>,
}

/// Where the isolation forest is fitted and measured.
pub struct AnomalyInput<'a> {
    /// A saved forest (`DIR/isolation_forest.nadir`), if there is one.
    pub saved: Option<&'a SavedModel>,
    /// The training part, to fit a forest on when none is saved.
    pub train: &'a Dataset,
    /// The held-out rows and their labels.
    pub test: &'a Dataset,
    pub test_labels: &'a [bool],
    /// The held-out rows' principal-component coordinates.
    pub test_points: Array2<f64>,
    pub seed: u64,
    pub max_points: usize,
}

impl AnomalySection {
    pub fn new(input: AnomalyInput<'_>) -> Result<AnomalySection, ReportError> {
        let (scores, threshold, origin, fitted_here) = match input.saved {
            Some(model) => (
                model
                    .predict(&input.test.records, None)
                    .into_iter()
                    .map(|p| p.score)
                    .collect::<Vec<f64>>(),
                model.threshold,
                format!(
                    "the saved model isolation_forest.nadir ({}; threshold: {})",
                    model.model.describe(),
                    model.threshold_rule
                ),
                false,
            ),
            None => {
                let pipeline = FeaturePipeline::fit(&input.train.schema, &input.train.records);
                let labels = input.train.is_attack().unwrap_or_default();
                let model = fitting::fit(
                    ModelKind::IsolationForest,
                    &ModelConfig::default(),
                    &pipeline.encode(&input.train.records),
                    &labels,
                    input.seed,
                )
                .map_err(|error| ReportError::Fit {
                    kind: ModelKind::IsolationForest,
                    error,
                })?;
                let threshold = model.fixed_threshold().unwrap_or(0.5);
                (
                    model.score(&pipeline.encode(&input.test.records)),
                    threshold,
                    format!(
                        "fitted by this report on the {} training rows with the default settings and seed {} ({}), because the model directory holds no isolation_forest.nadir (`nadir train --models iforest` saves one)",
                        input.train.len(),
                        input.seed,
                        model.describe()
                    ),
                    true,
                )
            }
        };
        let (mut normal_scores, mut attack_scores) = (Vec::new(), Vec::new());
        for (&s, &attack) in scores.iter().zip(input.test_labels) {
            if attack {
                attack_scores.push(s);
            } else {
                normal_scores.push(s);
            }
        }
        let points = &input.test_points;
        let sample = sample_indices(scores.len(), input.max_points, input.seed)
            .into_iter()
            .map(|i| AnomalyPoint {
                x: points[(i, 0)],
                y: if points.ncols() > 1 {
                    points[(i, 1)]
                } else {
                    0.0
                },
                anomaly: scores[i] >= threshold,
                attack: input.test_labels[i],
            })
            .collect();
        Ok(AnomalySection {
            origin,
            fitted_here,
            threshold,
            roc_auc: metrics::roc_auc(input.test_labels, &scores),
            flagged: scores.iter().filter(|&&s| s >= threshold).count(),
            normal_scores,
            attack_scores,
            sample,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_seeded_sorted_and_bounded() {
        let a = sample_indices(10_000, 500, 7);
        assert_eq!(a.len(), 500);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample_indices(10_000, 500, 7));
        assert_ne!(a, sample_indices(10_000, 500, 8));
        assert_eq!(sample_indices(30, 500, 7), (0..30).collect::<Vec<_>>());
    }
}
