//! The linear models' explainer (logistic regression, the linear SVM): exact, in log-odds.
//!
//! Both models' log-odds of attack are linear in the scaled one-hot row x: w·x + b for
//! logistic regression, −(A·(w·x + b) + B) for the linear SVM, whose reported probability
//! is Platt's sigmoid of its decision value. For such a function the Shapley values against
//! a reference row r are exactly wⱼ·(xⱼ − rⱼ) per column (Lundberg & Lee 2017, "linear
//! SHAP" with independent features), summed here over each feature's columns:
//!
//! - a numeric feature: w·z, z its scaled value (the reference, the training mean, scales
//!   to 0);
//! - a categorical feature of code k: w₍k₎ − w₍0₎, its value's weight against that of the
//!   commonest training value (an unseen value, all of whose columns are 0: −w₍0₎).
//!
//! The base is the log-odds of the reference row, b + Σ w₍0₎ over the categorical features,
//! so base + contributions is the row's log-odds exactly (to rounding).

use super::{Explanation, Method, Space, one_hot_features};
use crate::linear::{LogisticRegression, Svm};
use crate::scale::Standardizer;
use nadir_data::Encoded;
use ndarray::Array2;

/// Explains log-odds w·x + b on the scaled one-hot rows.
#[derive(Debug, Clone)]
pub struct LinearExplainer {
    scaler: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
}

impl LinearExplainer {
    pub(crate) fn logistic(model: &LogisticRegression) -> LinearExplainer {
        let (weights, intercept) = model.log_odds_weights();
        LinearExplainer {
            scaler: model.scaler().clone(),
            weights: weights.to_vec(),
            intercept,
        }
    }

    /// A linear SVM's explainer; `None` for a kernel SVM.
    pub(crate) fn svm(model: &Svm) -> Option<LinearExplainer> {
        let (weights, intercept) = model.log_odds_weights()?;
        Some(LinearExplainer {
            scaler: model.scaler().clone(),
            weights,
            intercept,
        })
    }

    /// Every row's explanation (see the module doc).
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let x: Array2<f64> = self.scaler.transform(data);
        assert_eq!(
            x.ncols(),
            self.weights.len(),
            "rows were encoded by a different feature pipeline than the model was fitted with"
        );
        let features = one_hot_features(data);
        let numeric = data.num_numeric();
        // The first column of each categorical feature: its commonest value's.
        let firsts: Vec<usize> = data
            .cardinalities
            .iter()
            .scan(numeric, |at, &width| {
                let first = *at;
                *at += width;
                Some(first)
            })
            .collect();
        let base = self.intercept
            + firsts
                .iter()
                .zip(&data.cardinalities)
                .filter(|&(_, &width)| width > 0)
                .map(|(&first, _)| self.weights[first])
                .sum::<f64>();
        x.rows()
            .into_iter()
            .map(|row| {
                let mut contributions = vec![0.0; numeric + data.num_categorical()];
                for (column, (&w, &value)) in self.weights.iter().zip(row).enumerate() {
                    if value != 0.0 {
                        contributions[features[column]] += w * value;
                    }
                }
                for (c, (&first, &width)) in firsts.iter().zip(&data.cardinalities).enumerate() {
                    if width > 0 {
                        contributions[numeric + c] -= self.weights[first];
                    }
                }
                Explanation::new(base, contributions, Space::LogOdds, Method::Linear)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explainer;
    use crate::linear::{LogisticRegressionParams, SvmParams};
    use crate::model::{Classifier, Fit};
    use crate::registry::AnyModel;
    use crate::testdata::sample_split;

    /// Base plus contributions is the log-odds of every test row: logistic regression's
    /// against the logit of its probability, the linear SVM's against its Platt sigmoid's
    /// argument from its decision values.
    #[test]
    fn linear_explanations_add_up_to_the_log_odds() {
        let s = sample_split();
        let lr = LogisticRegressionParams {
            max_iter: 100,
            ..LogisticRegressionParams::default()
        }
        .fit(&s.train, &s.train_labels, 0)
        .unwrap();
        let (weights, intercept) = lr.log_odds_weights();
        let x = lr.scaler().transform(&s.test);
        let explanations = Explainer::of(&AnyModel::LogisticRegression(lr.clone()))
            .unwrap()
            .explain(&s.test);
        let mut moved = 0;
        for (row, explanation) in x.rows().into_iter().zip(&explanations) {
            let log_odds: f64 =
                row.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() + intercept;
            assert!((explanation.output() - log_odds).abs() <= 1e-9);
            assert_eq!(explanation.space, Space::LogOdds);
            assert_eq!(explanation.method, Method::Linear);
            moved += usize::from(explanation.contributions.iter().any(|&c| c != 0.0));
        }
        assert_eq!(moved, s.test.len());
        // And the logit of the score, where the probability keeps the digits.
        for (e, p) in explanations.iter().zip(lr.score(&s.test)) {
            if p > 1e-6 && p < 1.0 - 1e-6 {
                assert!((e.output() - (p / (1.0 - p)).ln()).abs() <= 1e-6);
            }
        }

        let svm = SvmParams::linear()
            .fit(&s.train, &s.train_labels, 0)
            .unwrap();
        let (a, b) = {
            let (w, b) = svm.log_odds_weights().unwrap();
            (w, b)
        };
        let decisions = svm.decision_function(&s.test);
        let x = svm.scaler().transform(&s.test);
        let explanations = Explainer::of(&AnyModel::LinearSvm(svm))
            .unwrap()
            .explain(&s.test);
        for ((row, e), _decision) in x.rows().into_iter().zip(&explanations).zip(&decisions) {
            let log_odds: f64 = row.iter().zip(&a).map(|(x, w)| x * w).sum::<f64>() + b;
            assert!((e.output() - log_odds).abs() <= 1e-9);
        }
    }

    /// On a hand-made model: two numeric features (counts, so log-scaled) and one
    /// categorical feature of two values, each contribution computed by hand.
    #[test]
    fn a_linear_explanation_is_the_hand_computation() {
        let records = vec![
            crate::testdata::nsl_record(&[(0, 2.0), (1, 100.0)], ["tcp", "http", "SF"]),
            crate::testdata::nsl_record(&[(0, 4.0), (1, 1000.0)], ["udp", "http", "SF"]),
            crate::testdata::nsl_record(&[(0, 6.0), (1, 10.0)], ["tcp", "ftp", "REJ"]),
        ];
        let pipeline = crate::testdata::nsl_pipeline(&records);
        let data = pipeline.encode(&records);
        let mut weights = vec![0.0; data.one_hot_width()];
        weights[0] = 0.5; // duration
        weights[1] = -2.0; // srcbytes
        // protocoltype's columns: tcp (code 0, the commonest), udp (code 1).
        let protocol = 38;
        weights[protocol] = 0.25;
        weights[protocol + 1] = 1.5;
        let explainer = LinearExplainer {
            scaler: Standardizer::fit_unclipped(&data),
            weights,
            intercept: -1.0,
        };
        let explanations = explainer.explain(&data);
        // z-scores of ln(1 + x), with the population standard deviation.
        let z = |values: [f64; 3], row: usize| {
            let logs = values.map(f64::ln_1p);
            let mean = logs.iter().sum::<f64>() / 3.0;
            let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
            (logs[row] - mean) / sd
        };
        for (row, explanation) in explanations.iter().enumerate() {
            let duration = 0.5 * z([2.0, 4.0, 6.0], row);
            let bytes = -2.0 * z([100.0, 1000.0, 10.0], row);
            let protocol_contribution = if row == 1 { 1.5 - 0.25 } else { 0.0 };
            assert!((explanation.contributions[0] - duration).abs() < 1e-12);
            assert!((explanation.contributions[1] - bytes).abs() < 1e-12);
            assert!((explanation.contributions[38] - protocol_contribution).abs() < 1e-12);
            assert!(explanation.contributions[2..38].iter().all(|&c| c == 0.0));
            assert_eq!(explanation.contributions[39..], [0.0, 0.0]);
            // The intercept and the commonest values' weights (service's and flag's are 0).
            assert_eq!(explanation.base, -1.0 + 0.25);
        }
        // An unseen protocol value: minus the commonest value's weight.
        let unseen = pipeline.encode(&[crate::testdata::nsl_record(
            &[(0, 4.0)],
            ["icmp", "http", "SF"],
        )]);
        assert_eq!(explainer.explain(&unseen)[0].contributions[38], -0.25);
    }
}
