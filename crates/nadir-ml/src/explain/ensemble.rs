//! The novelty ensemble's explainer: the member that decided the record's score, explained
//! in its own output.
//!
//! The ensemble's score is a combination of its members' normalised scores
//! ([`crate::ensemble`]); the member with the largest normalised score (the first on a tie)
//! decides it under `max` and adds most to it under `mean`. Its raw output is explained
//! with that member's own explainer, and the explanation adds up to it (its space says
//! which member: a distance, an anomaly score or a reconstruction error):
//!
//! - the distance to the nearest normal rows: the sampling estimate ([`super::sampling`])
//!   of the distance against normal traffic's means (in either space: the ensemble keeps
//!   only the reference rows' coordinates);
//! - the isolation forest: its path-length explanation ([`super::isolation`]);
//! - the autoencoder: each feature's share of the reconstruction error, exact.
//!
//! The normalisation and the combination are monotone in each member's raw score, so the
//! deciding member's features are what made the record rare; the other members' views are
//! not shown.

use super::{Explainer, Explanation, PathLengthExplainer, SamplingExplainer, Space};
use crate::ensemble::{Member, NoveltyEnsemble};
use nadir_data::Encoded;
use std::sync::Arc;

/// Explains a novelty ensemble (see the module doc).
#[derive(Debug, Clone)]
pub struct EnsembleExplainer {
    ensemble: NoveltyEnsemble,
    members: Vec<Explainer>,
}

impl EnsembleExplainer {
    pub(crate) fn of(ensemble: &NoveltyEnsemble) -> EnsembleExplainer {
        let members = ensemble
            .members()
            .iter()
            .map(|member| match member {
                Member::Knn(knn) => {
                    let reference = knn.standardizer().centre();
                    let scored = knn.clone();
                    Explainer::Sampling(SamplingExplainer::new(
                        Arc::new(move |data| scored.distances(data)),
                        reference,
                        Space::Distance,
                    ))
                }
                Member::IsolationForest(forest) => {
                    Explainer::PathLength(PathLengthExplainer::new((**forest).clone()))
                }
                Member::Autoencoder(ae) => Explainer::Reconstruction(ae.clone()),
            })
            .collect();
        EnsembleExplainer {
            ensemble: ensemble.clone(),
            members,
        }
    }

    /// Every row's explanation, of the member that decided its score.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let deciding = self.ensemble.deciding_members(data);
        let mut explanations: Vec<Option<Explanation>> = vec![None; data.len()];
        for (m, explainer) in self.members.iter().enumerate() {
            let rows: Vec<usize> = (0..data.len()).filter(|&i| deciding[i] == m).collect();
            if rows.is_empty() {
                continue;
            }
            for (&i, e) in rows.iter().zip(explainer.explain(&data.select(&rows))) {
                explanations[i] = Some(e);
            }
        }
        explanations
            .into_iter()
            .map(|e| e.expect("every row explained"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::NoveltyEnsembleParams;
    use crate::explain::Method;
    use crate::model::Fit;
    use crate::registry::AnyModel;
    use crate::testdata::{sample_split, with_threads};

    /// Every row's explanation adds up to the raw output of the member that decided it,
    /// in that member's space; each member decides some of the sample's test rows.
    #[test]
    fn an_ensemble_explains_the_member_that_decided() {
        let s = sample_split();
        let params = NoveltyEnsembleParams {
            max_reference: 300,
            iforest_trees: 20,
            ae_layers: vec![16, 4, 16],
            ae_epochs: 3,
            ..NoveltyEnsembleParams::default()
        };
        let model = params.fit(&s.train, &s.train_labels, 4).unwrap();
        let explainer = Explainer::of(&AnyModel::NoveltyEnsemble(model.clone())).unwrap();
        assert_eq!(explainer.space(), None);
        // Few rows: the sampled distance explanations cost thousands of scores each.
        let test = s.test.select(&(0..80).collect::<Vec<_>>());
        let explanations = with_threads(2, || explainer.explain(&test));
        assert_eq!(explanations, with_threads(1, || explainer.explain(&test)));
        let deciding = model.deciding_members(&test);
        let raw: Vec<Vec<f64>> = model
            .members()
            .iter()
            .map(|m| m.raw_scores(&test))
            .collect();
        let mut decided = [0; 3];
        for (i, e) in explanations.iter().enumerate() {
            let m = deciding[i];
            decided[m] += 1;
            let (space, method) = match model.members()[m] {
                Member::Knn(_) => (Space::Distance, Method::SamplingShapley),
                Member::IsolationForest(_) => (Space::AnomalyScore, Method::PathLength),
                Member::Autoencoder(_) => (Space::ReconstructionError, Method::ReconstructionShare),
            };
            assert_eq!((e.space, e.method), (space, method));
            assert!(
                (e.output() - raw[m][i]).abs() <= 1e-9 * raw[m][i].abs().max(1.0),
                "{:?}: {} against {}",
                e.method,
                e.output(),
                raw[m][i]
            );
        }
        assert!(
            decided.iter().filter(|&&n| n > 0).count() >= 2,
            "{decided:?}"
        );
    }
}
