//! The hybrid's explainer: the part that decided the record's score, explained in its own
//! output.
//!
//! A hybrid's score is the larger of its parts' mapped scores ([`crate::hybrid`]), so the
//! part whose mapped score is larger decides it (the classifier on a tie); the explanation
//! says which ([`Part`]):
//!
//! - the classifier: its own explainer's explanation of its own output (its probability,
//!   or its log-odds for gradient boosting and the linear models);
//! - a k-nearest-neighbour novelty part on the scaled one-hot rows (`pca_variance` unset):
//!   each feature's share of the squared distance to the normal training row the novelty
//!   score is measured to (the nearest, for the default k = 1), scaled so that they add up
//!   to the distance itself: contribution(j) = d · Σ₍columns of j₎ (xc − yc)² / d², base 0
//!   (`distance_share`). That row, unscaled, is the explanation's `nearest_normal`: the most
//!   similar normal connection of the training data, and what the record differs from it
//!   in;
//! - a k-nearest-neighbour part measured on principal components (the default, which keeps
//!   only the rows' projections, not the rows): the sampling estimate ([`super::sampling`])
//!   of the distance, against normal traffic's means;
//! - an isolation-forest novelty part: its path-length explanation ([`super::isolation`]);
//! - a novelty ensemble: its deciding member's explanation ([`super::ensemble`]), which
//!   adds up to that member's raw output, not to the ensemble's combined score.

use super::{
    EncodedRow, EnsembleExplainer, ExplainError, Explainer, Explanation, Method, Part,
    PathLengthExplainer, SamplingExplainer, Space, one_hot_features,
};
use crate::hybrid::Hybrid;
use nadir_data::Encoded;
use std::sync::Arc;

/// Explains a hybrid (see the module doc).
#[derive(Debug, Clone)]
pub struct HybridExplainer {
    hybrid: Hybrid,
    classifier: Explainer,
    novelty: Novelty,
}

#[derive(Debug, Clone)]
enum Novelty {
    DistanceShare,
    Sampling(SamplingExplainer),
    PathLength(PathLengthExplainer),
    Ensemble(Box<EnsembleExplainer>),
}

impl HybridExplainer {
    pub(crate) fn of(hybrid: &Hybrid) -> Result<HybridExplainer, ExplainError> {
        let classifier = Explainer::of(hybrid.classifier())?;
        let novelty = if let Some(ensemble) = hybrid.novelty_ensemble() {
            Novelty::Ensemble(Box::new(EnsembleExplainer::of(ensemble)))
        } else if let Some(forest) = hybrid.novelty_forest() {
            Novelty::PathLength(PathLengthExplainer::new(forest.clone()))
        } else if hybrid.novelty_keeps_rows() {
            Novelty::DistanceShare
        } else {
            let reference = hybrid
                .novelty_scaler()
                .expect("a k-nearest-neighbour part")
                .centre();
            let scored = hybrid.clone();
            Novelty::Sampling(SamplingExplainer::new(
                Arc::new(move |data| scored.novelty_scores(data)),
                reference,
                Space::Distance,
            ))
        };
        Ok(HybridExplainer {
            hybrid: hybrid.clone(),
            classifier,
            novelty,
        })
    }

    /// Every row's explanation, of the part that decided its score.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let parts = self.hybrid.part_scores(data);
        let (novelty_rows, classifier_rows): (Vec<usize>, Vec<usize>) =
            (0..data.len()).partition(|&i| parts[i].novelty > parts[i].classifier);
        let mut explanations: Vec<Option<Explanation>> = vec![None; data.len()];
        if !classifier_rows.is_empty() {
            let rows = data.select(&classifier_rows);
            for (&i, mut e) in classifier_rows.iter().zip(self.classifier.explain(&rows)) {
                e.part = Some(Part::Classifier);
                explanations[i] = Some(e);
            }
        }
        if !novelty_rows.is_empty() {
            let rows = data.select(&novelty_rows);
            for (&i, mut e) in novelty_rows.iter().zip(self.explain_novelty(&rows)) {
                e.part = Some(Part::Novelty);
                explanations[i] = Some(e);
            }
        }
        explanations
            .into_iter()
            .map(|e| e.expect("every row explained"))
            .collect()
    }

    /// The novelty part's explanations of every row.
    pub fn explain_novelty(&self, data: &Encoded) -> Vec<Explanation> {
        match &self.novelty {
            Novelty::PathLength(e) => e.explain(data),
            Novelty::Sampling(e) => e.explain(data),
            Novelty::Ensemble(e) => e.explain(data),
            Novelty::DistanceShare => {
                let features = one_hot_features(data);
                let neighbours = self
                    .hybrid
                    .novelty_neighbours(data)
                    .expect("a novelty part that keeps its rows");
                neighbours
                    .into_iter()
                    .map(|n| {
                        let total: f64 = n.squares.iter().sum();
                        let mut contributions =
                            vec![0.0; data.num_numeric() + data.num_categorical()];
                        if total > 0.0 {
                            for (column, square) in n.squares.iter().enumerate() {
                                contributions[features[column]] += n.distance * square / total;
                            }
                        }
                        let mut e = Explanation::new(
                            0.0,
                            contributions,
                            Space::Distance,
                            Method::DistanceShare,
                        );
                        e.nearest_normal = Some(EncodedRow {
                            numeric: n.numeric,
                            codes: n.codes,
                        });
                        e
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fitting::fit;
    use crate::hybrid::NoveltyKind;
    use crate::model::Classifier;
    use crate::registry::{AnyModel, ModelConfig, ModelKind};
    use crate::testdata::{sample_split, with_threads};

    fn hybrid(config: impl FnOnce(&mut ModelConfig)) -> Hybrid {
        let s = sample_split();
        let mut c = ModelConfig::default();
        c.hybrid.classifier = ModelKind::DecisionTree;
        c.hybrid.target_fpr = 0.05;
        c.hybrid.max_reference = 300;
        config(&mut c);
        match fit(ModelKind::Hybrid, &c, &s.train, &s.train_labels, 3).unwrap() {
            AnyModel::Hybrid(h) => h,
            other => panic!("{}", other.kind()),
        }
    }

    /// Every row's explanation adds up to the output of the part that decided it, for each
    /// kind of novelty part; both parts decide some of the sample's test rows.
    #[test]
    fn a_hybrid_explains_the_part_that_decided() {
        let s = sample_split();
        let variants = [
            (
                hybrid(|c| c.hybrid.pca_variance = None),
                Method::DistanceShare,
            ),
            (
                hybrid(|c| c.hybrid.pca_variance = Some(0.95)),
                Method::SamplingShapley,
            ),
            (
                hybrid(|c| c.hybrid.novelty = NoveltyKind::IsolationForest),
                Method::PathLength,
            ),
        ];
        for (model, novelty_method) in variants {
            let explainer = Explainer::of(&AnyModel::Hybrid(model.clone())).unwrap();
            // Few rows: the sampled novelty explanations cost thousands of scores each.
            let test = s.test.select(&(0..60).collect::<Vec<_>>());
            let explanations = with_threads(2, || explainer.explain(&test));
            assert_eq!(explanations, with_threads(1, || explainer.explain(&test)));
            let parts = model.part_scores(&test);
            let probabilities = model.classifier().score(&test);
            let novelty = model.novelty_scores(&test);
            let mut decided = [0, 0];
            for (i, e) in explanations.iter().enumerate() {
                let (expected, part) = if parts[i].novelty > parts[i].classifier {
                    decided[1] += 1;
                    assert_eq!(e.method, novelty_method);
                    (novelty[i], Part::Novelty)
                } else {
                    decided[0] += 1;
                    assert_eq!(e.method, Method::TreeShap);
                    (probabilities[i], Part::Classifier)
                };
                assert_eq!(e.part, Some(part));
                assert_eq!(
                    e.nearest_normal.is_some(),
                    e.method == Method::DistanceShare
                );
                assert!(
                    (e.output() - expected).abs() <= 1e-9,
                    "{:?}: {} against {expected}",
                    e.method,
                    e.output()
                );
            }
            assert!(decided[0] > 0 && decided[1] > 0, "{decided:?}");
        }
    }

    /// The distance shares add up to the distance to the nearest normal row, which is that
    /// row's distance computed afresh from its unscaled values, and whose shares are 0 where
    /// the record equals it.
    #[test]
    fn distance_shares_sum_to_the_distance_to_the_nearest_normal_row() {
        let s = sample_split();
        let model = hybrid(|c| c.hybrid.pca_variance = None);
        let explainer = HybridExplainer::of(&model).unwrap();
        let test = s.test.select(&(0..40).collect::<Vec<_>>());
        let distances = model.novelty_scores(&test);
        let scaler = model.novelty_scaler().unwrap();
        for (row, e) in explainer.explain_novelty(&test).iter().enumerate() {
            assert_eq!(e.base, 0.0);
            assert!((e.output() - distances[row]).abs() <= 1e-9);
            assert!(e.contributions.iter().all(|&c| c >= 0.0));
            let nearest = e.nearest_normal.as_ref().unwrap();
            let mut pair = test.select(&[row, row]);
            pair.numeric[1].copy_from_slice(&nearest.numeric);
            pair.codes[1].copy_from_slice(&nearest.codes);
            let x = scaler.transform(&pair);
            let again: f64 = x
                .row(0)
                .iter()
                .zip(x.row(1))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            assert!(
                (again - distances[row]).abs() <= 1e-6,
                "{again} against {}",
                distances[row]
            );
            for (c, contribution) in e.contributions.iter().enumerate() {
                let same = match c.checked_sub(test.num_numeric()) {
                    None => test.numeric[row][c] == nearest.numeric[c],
                    Some(k) => test.codes[row][k] == nearest.codes[k],
                };
                if same {
                    assert!(contribution.abs() <= 1e-9);
                }
            }
        }
    }
}
