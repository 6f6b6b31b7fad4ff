//! The isolation forest's explainer: each feature's share of the row's path-length deficit,
//! additive to the anomaly score.
//!
//! A row is anomalous because the trees isolate it in fewer cuts than the average row: its
//! score is `s = 2^(−E[h]/c)`, `E[h]` its mean path length over the trees, c = c(n) the average
//! path length of the trees' subsamples of n rows (see [`crate::iforest`]); a row whose mean
//! path is c scores 0.5. Its deficit D = c − E\[h\] (positive: isolated early) is the mean over
//! the trees of c − hₜ, and each tree's deficit is credited in equal parts to the cuts on
//! the row's path there, each to the feature the cut reads (a one-hot column, to its
//! categorical feature). This is the local, signed form of DIFFI's idea (Carletti, Terzi &
//! Susto, "Interpretable anomaly detection with DIFFI: depth-based feature importance for
//! the isolation forest", 2020: credit the features of the cuts that isolate a row,
//! weighted by how early they do it), without its global weighting by induced imbalance,
//! which needs node sizes the model does not keep.
//!
//! The deficit shares Dⱼ sum to D; the score is a monotone function of D alone,
//! s = ½·2^(D/c), so each feature's contribution is its share of the change of score from
//! 0.5: Dⱼ·(s − ½)/D (Dⱼ·½·ln 2/c, the limit, when D is 0). The base is 0.5 and base +
//! contributions is the anomaly score exactly (to rounding).

use super::{Explanation, Method, Space, one_hot_features};
use crate::iforest::{IsolationForest, anomaly_score, average_path_length};
use nadir_data::Encoded;
use rayon::prelude::*;

/// The score of a row whose mean path length is the subsamples' average: the base.
const NEUTRAL: f64 = 0.5;

/// Explains an isolation forest's anomaly score (see the module doc).
#[derive(Debug, Clone)]
pub struct PathLengthExplainer {
    forest: IsolationForest,
}

impl PathLengthExplainer {
    pub(crate) fn new(forest: IsolationForest) -> PathLengthExplainer {
        PathLengthExplainer { forest }
    }

    /// Every row's explanation, each row on its own.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let features = one_hot_features(data);
        let width = data.one_hot_width();
        let subsample = self.forest.subsample();
        let c = average_path_length(subsample);
        let trees = self.forest.trees() as f64;
        (0..data.len())
            .into_par_iter()
            .map_init(
                || vec![0.0; width],
                |one_hot, row| {
                    data.one_hot_row(row, one_hot);
                    let mut shares = vec![0.0; data.num_numeric() + data.num_categorical()];
                    let mut total = 0.0;
                    self.forest.walk(one_hot, |columns, length| {
                        total += length;
                        if !columns.is_empty() {
                            let share = (c - length) / columns.len() as f64;
                            for &column in columns {
                                shares[features[column as usize]] += share;
                            }
                        }
                    });
                    let mean = total / trees;
                    let score = anomaly_score(mean, subsample);
                    let deficit = c - mean;
                    let per_deficit = if deficit.abs() > 1e-12 * c {
                        (score - NEUTRAL) / deficit
                    } else {
                        NEUTRAL * std::f64::consts::LN_2 / c
                    };
                    let contributions = shares.iter().map(|s| s / trees * per_deficit).collect();
                    Explanation::new(
                        NEUTRAL,
                        contributions,
                        Space::AnomalyScore,
                        Method::PathLength,
                    )
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explainer;
    use crate::iforest::IsolationForestParams;
    use crate::model::{Classifier, Fit};
    use crate::registry::AnyModel;
    use crate::testdata::{sample_split, with_threads};

    /// Base plus contributions is the anomaly score of every test row, above and below 0.5;
    /// explanations do not depend on the thread count or the batch.
    #[test]
    fn path_length_explanations_add_up_to_the_anomaly_score() {
        let s = sample_split();
        let forest = IsolationForestParams::default()
            .fit(&s.train, &s.train_labels, 3)
            .unwrap();
        let scores = forest.score(&s.test);
        let explainer = Explainer::of(&AnyModel::IsolationForest(forest)).unwrap();
        let explanations = with_threads(1, || explainer.explain(&s.test));
        assert_eq!(explanations, with_threads(2, || explainer.explain(&s.test)));
        assert_eq!(explainer.explain(&s.test.select(&[5]))[0], explanations[5]);
        for (e, &score) in explanations.iter().zip(&scores) {
            assert_eq!(e.base, 0.5);
            assert_eq!(e.space, Space::AnomalyScore);
            assert_eq!(e.method, Method::PathLength);
            assert!(
                (e.output() - score).abs() <= 1e-9,
                "{} against {score}",
                e.output()
            );
        }
        assert!(scores.iter().any(|&s| s > 0.55) && scores.iter().any(|&s| s < 0.45));
    }
}
