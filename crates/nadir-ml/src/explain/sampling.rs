//! The explainer of the models whose score has no structure to exploit (the MLP, the kernel
//! SVM, a voting ensemble of members that explain different outputs): Shapley values
//! estimated by permutation sampling against a reference row.
//!
//! The value of a set S of features is the model's score of the record with the features
//! outside S set to the reference row's values ("baseline Shapley", Sundararajan & Najmi
//! 2020, "The many Shapley values for model explanation"; the reference is the training
//! means, [`super::reference_numeric`]). For one permutation of the features, switching
//! them from the reference's value to the record's one at a time, each feature is credited
//! with the change of score its switch made (Štrumbelj & Kononenko 2014, "Explaining
//! prediction models and individual predictions with feature contributions"). Averaged over
//! permutations, that is an unbiased estimate of the Shapley values; each permutation's
//! credits add up to score(record) − score(reference), so their mean does too, exactly:
//! base (the reference's score) + contributions = the record's score, to rounding.
//!
//! The budget is fixed: [`PERMUTATIONS`] permutations in antithetic pairs (each drawn
//! permutation and its reverse, which cancels much of the estimate's variance: Mitchell et
//! al. 2022, "Sampling permutations for Shapley value estimation"), drawn from a fixed seed,
//! so a record's explanation is the same on every call. A feature whose value is the
//! reference's takes no step (its contribution is 0), so a record costs
//! 2 + [`PERMUTATIONS`] × (d − 1) scored rows, d the features that differ from the reference
//! (at most 41 on NSL-KDD: 2,562 rows), scored in one batch.

use super::{Explanation, Method, Space};
use crate::model::Classifier;
use crate::registry::AnyModel;
use nadir_data::{Encoded, Rng, UNSEEN};
use rayon::prelude::*;
use std::sync::Arc;

/// Permutations per explanation: 32 antithetic pairs.
pub const PERMUTATIONS: usize = 64;
/// The seed the permutations are drawn from.
const SEED: u64 = 0x5A4D_504C_4553_4841;

/// The scores of rows: what is explained.
pub type ScoreFn = Arc<dyn Fn(&Encoded) -> Vec<f64> + Send + Sync>;

/// Explains a score by permutation sampling (see the module doc).
#[derive(Clone)]
pub struct SamplingExplainer {
    score: ScoreFn,
    /// The reference row's numeric values; its categorical features are their commonest
    /// values (code 0).
    reference: Vec<f64>,
    space: Space,
}

impl std::fmt::Debug for SamplingExplainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamplingExplainer")
            .field("reference", &self.reference)
            .field("space", &self.space)
            .finish_non_exhaustive()
    }
}

impl SamplingExplainer {
    /// Explains `model`'s score, a probability, against `reference`.
    pub(crate) fn of_model(model: &AnyModel, reference: Vec<f64>) -> SamplingExplainer {
        let model = model.clone();
        SamplingExplainer::new(
            Arc::new(move |data| model.score(data)),
            reference,
            Space::Probability,
        )
    }

    /// Explains `score`, an output in `space`, against `reference` (numeric values).
    pub fn new(score: ScoreFn, reference: Vec<f64>, space: Space) -> SamplingExplainer {
        SamplingExplainer {
            score,
            reference,
            space,
        }
    }

    /// The output its explanations add up to.
    pub fn space(&self) -> Space {
        self.space
    }

    /// Every row's explanation: rows independently, each from the same permutations, so the
    /// result does not depend on the thread count or on the batch.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let features = data.num_numeric() + data.num_categorical();
        let orders = self.orders(features);
        let codes: Vec<u32> = data
            .cardinalities
            .iter()
            .map(|&width| if width > 0 { 0 } else { UNSEEN })
            .collect();
        let explain_row = |row| self.explain_row(data, row, &orders, &codes);
        (0..data.len()).into_par_iter().map(explain_row).collect()
    }

    /// The permutations of `features` features: each drawn one, then its reverse.
    fn orders(&self, features: usize) -> Vec<Vec<usize>> {
        (0..PERMUTATIONS / 2)
            .flat_map(|pair| {
                let mut order: Vec<usize> = (0..features).collect();
                Rng::fork(SEED, pair as u64).shuffle(&mut order);
                let reverse = order.iter().rev().copied().collect();
                [order, reverse]
            })
            .collect()
    }

    fn explain_row(
        &self,
        data: &Encoded,
        row: usize,
        orders: &[Vec<usize>],
        reference_codes: &[u32],
    ) -> Explanation {
        let numeric = data.num_numeric();
        let record = (&data.numeric[row], &data.codes[row]);
        let differs = |feature: usize| match feature.checked_sub(numeric) {
            None => record.0[feature] != self.reference[feature],
            Some(c) => record.1[c] != reference_codes[c],
        };
        // The rows to score: the reference, the record, then every permutation's steps but
        // its last (which is the record).
        let mut batch = data.select(&[]);
        let mut values = self.reference.clone();
        let mut codes = reference_codes.to_vec();
        batch.numeric.push(&values);
        batch.codes.push(&codes);
        batch.numeric.push(record.0);
        batch.codes.push(record.1);
        let steps: Vec<Vec<usize>> = orders
            .iter()
            .map(|order| order.iter().copied().filter(|&f| differs(f)).collect())
            .collect();
        for order in &steps {
            values.copy_from_slice(&self.reference);
            codes.copy_from_slice(reference_codes);
            for &feature in order.iter().take(order.len().saturating_sub(1)) {
                match feature.checked_sub(numeric) {
                    None => values[feature] = record.0[feature],
                    Some(c) => codes[c] = record.1[c],
                }
                batch.numeric.push(&values);
                batch.codes.push(&codes);
            }
        }
        let scores = (self.score)(&batch);
        let (base, whole) = (scores[0], scores[1]);
        let mut contributions = vec![0.0; numeric + data.num_categorical()];
        let mut at = 2;
        for order in &steps {
            let mut before = base;
            for (k, &feature) in order.iter().enumerate() {
                let after = if k + 1 == order.len() {
                    whole
                } else {
                    at += 1;
                    scores[at - 1]
                };
                contributions[feature] += after - before;
                before = after;
            }
        }
        let scale = 1.0 / steps.len() as f64;
        contributions.iter_mut().for_each(|c| *c *= scale);
        Explanation::new(base, contributions, self.space, Method::SamplingShapley)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explainer;
    use crate::linear::SvmParams;
    use crate::mlp::MlpParams;
    use crate::model::Fit;
    use crate::testdata::{sample_split, with_threads};
    use nadir_data::Rows;

    /// Rows of four numeric features and no categorical one.
    fn four_features(rows: &[[f64; 4]]) -> Encoded {
        let mut data = Encoded {
            numeric: Rows::new(4),
            codes: Rows::new(0),
            numeric_kinds: vec![nadir_data::Kind::Continuous; 4],
            cardinalities: Vec::new(),
            unseen: Vec::new(),
        };
        for row in rows {
            data.numeric.push(row);
            data.codes.push(&[]);
        }
        data
    }

    /// Exact baseline Shapley values of `f` at `x` against `reference`, by enumerating every
    /// subset of the four features.
    fn exact(f: &dyn Fn(&Encoded) -> Vec<f64>, x: [f64; 4], reference: [f64; 4]) -> Vec<f64> {
        let value = |subset: u32| {
            let row: [f64; 4] = std::array::from_fn(|j| {
                if subset & (1 << j) != 0 {
                    x[j]
                } else {
                    reference[j]
                }
            });
            f(&four_features(&[row]))[0]
        };
        let factorial = |n: usize| (1..=n).product::<usize>() as f64;
        (0..4)
            .map(|j| {
                (0u32..16)
                    .filter(|s| s & (1 << j) == 0)
                    .map(|s| {
                        let size = s.count_ones() as usize;
                        factorial(size) * factorial(3 - size) / factorial(4)
                            * (value(s | 1 << j) - value(s))
                    })
                    .sum()
            })
            .collect()
    }

    /// On a small MLP of four features, fitted on a rule with interactions, the sampled
    /// values are within 0.02 of the exact ones (scores in [0, 1]) and add up exactly.
    #[test]
    fn sampled_shapley_values_are_near_the_exact_ones_on_a_tiny_model() {
        let mut rng = Rng::new(3);
        let rows: Vec<[f64; 4]> = (0..600)
            .map(|_| std::array::from_fn(|_| rng.next_f64() * 2.0 - 1.0))
            .collect();
        let labels: Vec<bool> = rows
            .iter()
            .map(|r| r[0] * r[1] + 0.5 * r[2] - r[3] * r[3] > -0.2)
            .collect();
        let mlp = MlpParams {
            hidden: vec![16],
            epochs: 60,
            ..MlpParams::default()
        }
        .fit(&four_features(&rows), &labels, 1)
        .unwrap();
        let reference = [0.0; 4];
        let score: ScoreFn = Arc::new(move |data| mlp.score(data));
        let explainer =
            SamplingExplainer::new(score.clone(), reference.to_vec(), Space::Probability);
        let mut worst: f64 = 0.0;
        let mut largest: f64 = 0.0;
        for x in rows.iter().take(40) {
            let e = &explainer.explain(&four_features(&[*x]))[0];
            let exact = exact(score.as_ref(), *x, reference);
            assert!((e.output() - score(&four_features(&[*x]))[0]).abs() <= 1e-9);
            assert!((e.base - score(&four_features(&[reference]))[0]).abs() <= 1e-12);
            for (a, b) in e.contributions.iter().zip(&exact) {
                worst = worst.max((a - b).abs());
                largest = largest.max(b.abs());
            }
        }
        assert!(
            largest > 0.1,
            "the model hardly depends on its features: {largest}"
        );
        assert!(worst <= 0.02, "{worst}");
    }

    /// Base plus contributions is the score of every test row, for the MLP and the kernel
    /// SVM; the same rows give the same explanations whatever the thread count and batch.
    #[test]
    fn sampled_explanations_add_up_and_are_deterministic() {
        let s = sample_split();
        let mlp = MlpParams {
            hidden: vec![16],
            epochs: 5,
            ..MlpParams::default()
        }
        .fit(&s.train, &s.train_labels, 2)
        .unwrap();
        let ksvm = SvmParams {
            max_iter: 20,
            feature_map: Some(crate::linear::RbfFeatures {
                gamma: 0.025,
                components: 50,
            }),
            ..SvmParams::kernel()
        }
        .fit(&s.train, &s.train_labels, 0)
        .unwrap();
        let rows: Vec<usize> = (0..20).collect();
        let test = s.test.select(&rows);
        for model in [AnyModel::Mlp(mlp), AnyModel::KernelSvm(ksvm)] {
            let explainer = Explainer::of(&model).unwrap();
            let one = with_threads(1, || explainer.explain(&test));
            let two = with_threads(2, || explainer.explain(&test));
            assert_eq!(one, two, "{}", model.kind());
            assert_eq!(explainer.explain(&test.select(&[7]))[0], one[7]);
            for (e, score) in one.iter().zip(model.score(&test)) {
                assert_eq!(e.method, Method::SamplingShapley);
                assert_eq!(e.space, Space::Probability);
                assert!(
                    (e.output() - score).abs() <= 1e-9,
                    "{}: {} against {score}",
                    model.kind(),
                    e.output()
                );
            }
            assert!(
                one.iter()
                    .all(|e| e.contributions.iter().any(|&c| c != 0.0))
            );
        }
    }
}
