//! Soft voting: the weighted mean of the members' attack probabilities, as scikit-learn's
//! `VotingClassifier(voting="soft")`. No crate offers voting over unlike models.

use crate::model::{Classifier, FitError, ParamGuard};
use crate::registry::{AnyModel, BuildModel, ModelKind};
use nadir_data::Encoded;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VotingParams {
    /// The models whose probabilities are averaged. The default mixes three different
    /// inductive biases (linear, bagged trees, boosted trees).
    pub members: Vec<ModelKind>,
    /// One weight per member; equal weights when empty.
    pub weights: Vec<f64>,
}

impl Default for VotingParams {
    fn default() -> Self {
        VotingParams {
            members: vec![
                ModelKind::LogisticRegression,
                ModelKind::RandomForest,
                ModelKind::GradientBoosting,
            ],
            weights: Vec::new(),
        }
    }
}

impl ParamGuard for VotingParams {
    /// At least one member, no ensemble inside an ensemble, and no weights or one
    /// non-negative weight per member with a positive sum.
    fn check(&self) -> Result<(), FitError> {
        if self.members.is_empty() {
            return Err(FitError::invalid("members", "needs at least one model"));
        }
        if self.members.contains(&ModelKind::Voting) {
            return Err(FitError::invalid(
                "members",
                "a voting ensemble cannot contain another",
            ));
        }
        if self.weights.is_empty() {
            return Ok(());
        }
        if self.weights.len() != self.members.len() {
            return Err(FitError::invalid(
                "weights",
                format!(
                    "{} weights for {} members",
                    self.weights.len(),
                    self.members.len()
                ),
            ));
        }
        let total: f64 = self.weights.iter().sum();
        if self.weights.iter().any(|w| !w.is_finite() || *w < 0.0) || total <= 0.0 {
            return Err(FitError::invalid(
                "weights",
                "weights must be non-negative with a positive sum",
            ));
        }
        Ok(())
    }
}

impl BuildModel for VotingParams {
    type Model = Voting;

    fn parts(&self) -> Vec<ModelKind> {
        self.members.clone()
    }

    /// The members are fitted first, on the same rows: the vote itself learns nothing.
    fn build(
        &self,
        members: Vec<AnyModel>,
        _: &Encoded,
        _: &[bool],
        _: u64,
    ) -> Result<Voting, FitError> {
        Voting::new(self, members)
    }
}

/// A fitted soft-voting ensemble. Checked when a model file is read ([`Voting::try_from`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Voting {
    members: Vec<AnyModel>,
    /// Normalised to sum to 1.
    weights: Vec<f64>,
}

/// A voting ensemble as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredVoting {
    #[serde(deserialize_with = "crate::registry::deserialize_parts")]
    members: Vec<AnyModel>,
    weights: Vec<f64>,
}

crate::model::load_checked!(Voting, StoredVoting);

impl TryFrom<StoredVoting> for Voting {
    type Error = crate::model::MalformedModel;

    /// At least one member, none a voting ensemble, and one finite non-negative weight per
    /// member, the weights summing to 1.
    fn try_from(stored: StoredVoting) -> Result<Voting, Self::Error> {
        let malformed = |what: String| crate::model::MalformedModel(format!("voting: {what}"));
        if stored.members.is_empty() {
            return Err(malformed("no members".into()));
        }
        if stored.members.iter().any(|m| m.kind() == ModelKind::Voting) {
            return Err(malformed("a member is itself a voting ensemble".into()));
        }
        if stored.weights.len() != stored.members.len() {
            return Err(malformed(format!(
                "{} weights for {} members",
                stored.weights.len(),
                stored.members.len()
            )));
        }
        let total: f64 = stored.weights.iter().sum();
        if stored.weights.iter().any(|w| !w.is_finite() || *w < 0.0) || (total - 1.0).abs() > 1e-9 {
            return Err(malformed(
                "the weights are not non-negative numbers summing to 1".into(),
            ));
        }
        Ok(Voting {
            members: stored.members,
            weights: stored.weights,
        })
    }
}

impl Voting {
    /// Builds the ensemble from fitted members, in the order of `params.members`.
    pub fn new(params: &VotingParams, members: Vec<AnyModel>) -> Result<Voting, FitError> {
        params.check()?;
        if members.len() != params.members.len() {
            return Err(FitError::invalid(
                "members",
                format!(
                    "{} fitted models for {} members",
                    members.len(),
                    params.members.len()
                ),
            ));
        }
        let weights = if params.weights.is_empty() {
            vec![1.0; members.len()]
        } else {
            params.weights.clone()
        };
        let total: f64 = weights.iter().sum();
        Ok(Voting {
            members,
            weights: weights.iter().map(|w| w / total).collect(),
        })
    }
}

impl crate::model::Inputs for Voting {
    /// Its members'.
    fn input_widths(&self) -> Vec<crate::model::InputWidth> {
        self.members
            .iter()
            .flat_map(AnyModel::input_widths)
            .collect()
    }
}

impl Classifier for Voting {
    fn score(&self, data: &Encoded) -> Vec<f64> {
        let mut mean = vec![0.0; data.len()];
        for (member, weight) in self.members.iter().zip(&self.weights) {
            for (m, s) in mean.iter_mut().zip(member.score(data)) {
                *m += weight * s;
            }
        }
        mean
    }

    fn describe(&self) -> String {
        let members: Vec<String> = self
            .members
            .iter()
            .zip(&self.weights)
            .map(|(m, w)| format!("{} ×{w:.2}", m.kind()))
            .collect();
        format!("soft vote of {}", members.join(", "))
    }
}

impl Voting {
    /// The members, in the order of their weights.
    pub fn members(&self) -> &[AnyModel] {
        &self.members
    }

    /// Each member's weight; they sum to 1.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fitting::fit;
    use crate::registry::ModelConfig;
    use crate::testdata::sample_split;

    #[test]
    fn score_is_the_weighted_mean_of_the_members() {
        let s = sample_split();
        let config = ModelConfig::default();
        let members: Vec<AnyModel> = [ModelKind::LogisticRegression, ModelKind::DecisionTree]
            .iter()
            .map(|&k| fit(k, &config, &s.train, &s.train_labels, 1).unwrap())
            .collect();
        let params = VotingParams {
            members: vec![ModelKind::LogisticRegression, ModelKind::DecisionTree],
            weights: vec![3.0, 1.0],
        };
        let voting = Voting::new(&params, members.clone()).unwrap();
        let (a, b) = (members[0].score(&s.test), members[1].score(&s.test));
        for (i, v) in voting.score(&s.test).iter().enumerate() {
            assert!((v - (0.75 * a[i] + 0.25 * b[i])).abs() < 1e-12);
        }
        assert!(voting.describe().contains("logistic_regression ×0.75"));
    }

    #[test]
    fn bad_members_and_weights_are_fit_errors() {
        let nested = VotingParams {
            members: vec![ModelKind::Voting],
            weights: vec![],
        };
        assert!(nested.check().is_err());
        let empty = VotingParams {
            members: vec![],
            weights: vec![],
        };
        assert!(empty.check().is_err());
        let s = sample_split();
        let two = vec![ModelKind::LogisticRegression, ModelKind::DecisionTree];
        let members: Vec<AnyModel> = two
            .iter()
            .map(|&k| fit(k, &ModelConfig::default(), &s.train, &s.train_labels, 1).unwrap())
            .collect();
        for weights in [
            vec![1.0],
            vec![-1.0, 2.0],
            vec![0.0, 0.0],
            vec![f64::NAN, 1.0],
        ] {
            let params = VotingParams {
                members: two.clone(),
                weights,
            };
            assert!(
                Voting::new(&params, members.clone()).is_err(),
                "{:?}",
                params.weights
            );
        }
    }

    /// A voting file whose weights do not match its members fails to load.
    #[test]
    fn a_voting_file_with_inconsistent_weights_is_a_load_error() {
        let s = sample_split();
        let members: Vec<AnyModel> = [ModelKind::LogisticRegression, ModelKind::DecisionTree]
            .iter()
            .map(|&k| fit(k, &ModelConfig::default(), &s.train, &s.train_labels, 1).unwrap())
            .collect();
        let good = Voting {
            members: members.clone(),
            weights: vec![0.5, 0.5],
        };
        let bytes = postcard::to_stdvec(&good).unwrap();
        assert_eq!(postcard::from_bytes::<Voting>(&bytes).unwrap(), good);
        for weights in [vec![1.0], vec![0.5, 0.6], vec![f64::NAN, 0.5]] {
            let bad = Voting {
                members: members.clone(),
                weights,
            };
            let bytes = postcard::to_stdvec(&bad).unwrap();
            assert!(postcard::from_bytes::<Voting>(&bytes).is_err(), "{bad:?}");
        }
    }

    /// Voting ensembles nested in each other in a model file (no configuration makes one) are
    /// a load error, however deep: decoding them recursed until the stack overflowed, which
    /// aborts a server rather than failing one load.
    #[test]
    fn a_file_of_deeply_nested_models_is_a_load_error() {
        let find = |haystack: &[u8], needle: &[u8]| {
            haystack
                .windows(needle.len())
                .position(|w| w == needle)
                .expect("postcard writes a part's bytes inside its whole's")
        };
        let saved = crate::testdata::fixture("decision_tree");
        let member = saved.model.clone();
        let params = VotingParams {
            members: vec![member.kind()],
            weights: Vec::new(),
        };
        let ensemble = AnyModel::Voting(Voting::new(&params, vec![member.clone()]).unwrap());
        // The bytes of an ensemble of one member: `before`, the member's, `after`.
        let (outer, inner) = (
            postcard::to_stdvec(&ensemble).unwrap(),
            postcard::to_stdvec(&member).unwrap(),
        );
        let at = find(&outer, &inner);
        let (before, after) = (&outer[..at], &outer[at + inner.len()..]);
        let mut file = saved.clone();
        file.model = ensemble;
        let payload = file.payload();
        let model_at = find(&payload, &outer);
        let nested = |depth: usize| {
            let mut bytes = payload[..model_at].to_vec();
            bytes.extend(before.repeat(depth));
            bytes.extend(&inner);
            bytes.extend(after.repeat(depth));
            bytes.extend(&payload[model_at + outer.len()..]);
            crate::file::SavedModel::from_bytes(&crate::file::frame(&bytes), "nested.nadir")
        };
        assert_eq!(nested(1).unwrap(), file);
        let inside = nested(2).unwrap_err().to_string();
        assert!(
            inside.ends_with("voting: a member is itself a voting ensemble"),
            "{inside}"
        );
        for depth in [3, 200_000] {
            let deep = nested(depth).unwrap_err().to_string();
            assert!(deep.contains("models nested more than 2 deep"), "{deep}");
        }
    }
}
