//! Multi-class decision trees and random forests: the attack-family models of the tree
//! family (issue 16). They grow on the grower of [`crate::tree`], which counts K classes per
//! histogram bin instead of two (`ClassLabels`) and scores splits by the Gini impurity over
//! the K counts, as scikit-learn's `DecisionTreeClassifier`. A leaf keeps the class shares
//! of its training rows, and a forest averages its trees' shares (scikit-learn's
//! `predict_proba`). The hyperparameters are the binary models' ([`DecisionTreeParams`],
//! [`ForestParams`]): a family model is fitted with its binary model's settings.
//!
//! Trees grow in parallel, tree `t` drawing from `Rng::fork(seed, t)` as the binary forest's
//! do, so a model is the same bit for bit whatever the thread count.

use crate::binning::tree_columns;
use crate::forest::ForestParams;
use crate::model::{
    FitError, FitMulti, InputWidth, Inputs, MalformedModel, MultiClassifier, ParamGuard,
    check_class_data,
};
use crate::tree::{
    ClassCounts, ClassLabels, ClassStats, DecisionTreeParams, GrowSettings, IN_PLACE_ROWS,
    TrainingSet, Tree, grow_counted, push_tree_rows,
};
use nadir_data::{Encoded, Rng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The most classes a multi-class tree tells apart: its histograms count them in 16 lanes.
pub const MAX_CLASSES: usize = 16;

/// How far a leaf's stored class shares may sum from 1 in a model file.
const SHARE_TOLERANCE: f64 = 1e-9;

/// A fitted multi-class tree: the binary tree's nodes (a leaf's `P(attack)` is the share
/// of its rows not in class 0) and each node's class shares beside them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MultiTree {
    tree: Tree,
    n_classes: usize,
    /// Per node, the shares of its (bootstrap-weighted) training rows in each class:
    /// `n_classes` values a node, summing to 1.
    shares: Vec<f64>,
}

/// A multi-class tree as a model file holds it, before its checks.
#[derive(Deserialize)]
struct UncheckedMultiTree {
    tree: Tree,
    n_classes: usize,
    shares: Vec<f64>,
}

crate::model::load_checked!(MultiTree, UncheckedMultiTree);

impl TryFrom<UncheckedMultiTree> for MultiTree {
    type Error = MalformedModel;

    /// 2 to [`MAX_CLASSES`] classes, one share per class and node, each in [0, 1], every
    /// node's summing to 1.
    fn try_from(stored: UncheckedMultiTree) -> Result<MultiTree, MalformedModel> {
        let k = stored.n_classes;
        if !(2..=MAX_CLASSES).contains(&k) {
            return Err(MalformedModel(format!(
                "multi-class tree: {k} classes; a tree tells 2 to {MAX_CLASSES} apart"
            )));
        }
        if stored.shares.len() != stored.tree.node_count() * k {
            return Err(MalformedModel(format!(
                "multi-class tree: {} class shares for {} nodes of {k} classes",
                stored.shares.len(),
                stored.tree.node_count()
            )));
        }
        let good = |node: &[f64]| {
            node.iter().all(|s| (0.0..=1.0).contains(s))
                && (node.iter().sum::<f64>() - 1.0).abs() <= SHARE_TOLERANCE
        };
        if let Some(node) = stored.shares.chunks_exact(k).position(|n| !good(n)) {
            return Err(MalformedModel(format!(
                "multi-class tree node {node}: class shares must lie in [0, 1] and sum to 1"
            )));
        }
        Ok(MultiTree {
            tree: stored.tree,
            n_classes: k,
            shares: stored.shares,
        })
    }
}

impl MultiTree {
    /// The tree and its nodes' class counts, of which the first `n_classes` lanes are used.
    fn new<const K: usize>(tree: Tree, counts: &[ClassCounts<K>], n_classes: usize) -> MultiTree {
        let shares = counts
            .iter()
            .flat_map(|&counts| {
                let total = f64::from(ClassLabels::<K>::weight(counts));
                (0..n_classes).map(move |c| f64::from(counts.0[c]) / total)
            })
            .collect();
        MultiTree {
            tree,
            n_classes,
            shares,
        }
    }
}

/// Grows `trees` trees on the training rows: tree `t` on the row weights and generator
/// `draw(rows, t)` gives. The class histograms count in as few lanes as hold `n_classes`.
fn grow_trees(
    data: &Encoded,
    classes: &[u32],
    n_classes: usize,
    trees: usize,
    settings: &GrowSettings,
    draw: impl Fn(usize, usize) -> (Vec<u32>, Rng) + Sync,
) -> Result<Vec<MultiTree>, FitError> {
    if n_classes > MAX_CLASSES {
        return Err(FitError::invalid(
            "classes",
            format!("{n_classes} classes; multi-class trees tell at most {MAX_CLASSES} apart"),
        ));
    }
    if n_classes <= 8 {
        grow_in_lanes::<8>(data, classes, n_classes, trees, settings, draw)
    } else {
        grow_in_lanes::<16>(data, classes, n_classes, trees, settings, draw)
    }
}

fn grow_in_lanes<const K: usize>(
    data: &Encoded,
    classes: &[u32],
    n_classes: usize,
    trees: usize,
    settings: &GrowSettings,
    draw: impl Fn(usize, usize) -> (Vec<u32>, Rng) + Sync,
) -> Result<Vec<MultiTree>, FitError> {
    let set = TrainingSet::with_labels(data, ClassLabels::<K>(classes))?;
    Ok((0..trees)
        .into_par_iter()
        .map(|t| {
            let (weights, rng) = draw(set.rows(), t);
            let (tree, counts) = grow_counted(&set, &weights, settings, rng);
            MultiTree::new(tree, &counts, n_classes)
        })
        .collect())
}

/// The mean class shares of `trees` per row, row by row (`rows × n_classes` values), each
/// row's sum in tree order; rows in parallel chunks past [`IN_PLACE_ROWS`].
fn mean_shares(trees: &[MultiTree], data: &Encoded) -> Vec<f64> {
    const CHUNK: usize = 256;
    let k = trees[0].n_classes;
    let score_chunk = |rows: &mut Vec<f64>, (chunk, out): (usize, &mut [f64])| {
        let first = chunk * CHUNK;
        push_tree_rows(data, first..first + out.len() / k, rows);
        for tree in trees {
            tree.tree.for_each_leaf(rows, |i, leaf| {
                let shares = &tree.shares[leaf as usize * k..][..k];
                let sums = &mut out[i * k..][..k];
                sums.iter_mut().zip(shares).for_each(|(sum, s)| *sum += s);
            });
        }
        out.iter_mut().for_each(|sum| *sum /= trees.len() as f64);
    };
    let mut shares = vec![0.0; data.len() * k];
    if data.len() <= IN_PLACE_ROWS {
        score_chunk(&mut Vec::new(), (0, &mut shares));
    } else {
        shares
            .par_chunks_mut(CHUNK * k)
            .enumerate()
            .for_each_init(Vec::new, score_chunk);
    }
    shares
}

/// A fitted multi-class decision tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiDecisionTree {
    params: DecisionTreeParams,
    tree: MultiTree,
}

impl FitMulti for DecisionTreeParams {
    type Model = MultiDecisionTree;

    fn fit_multi(
        &self,
        data: &Encoded,
        classes: &[u32],
        n_classes: usize,
        seed: u64,
    ) -> Result<MultiDecisionTree, FitError> {
        self.check()?;
        check_class_data(data, classes, n_classes)?;
        let settings = self.grow_settings(tree_columns(data))?;
        let mut trees = grow_trees(data, classes, n_classes, 1, &settings, |rows, _| {
            (vec![1; rows], Rng::new(seed))
        })?;
        Ok(MultiDecisionTree {
            params: self.clone(),
            tree: trees.remove(0),
        })
    }
}

impl MultiDecisionTree {
    /// One line saying what the model is.
    pub fn describe(&self) -> String {
        format!(
            "multi-class decision tree: {} classes, {} leaves, depth {}",
            self.tree.n_classes,
            self.tree.tree.leaves(),
            self.tree.tree.depth()
        )
    }
}

impl MultiClassifier for MultiDecisionTree {
    fn n_classes(&self) -> usize {
        self.tree.n_classes
    }

    fn class_probabilities(&self, data: &Encoded) -> Vec<f64> {
        mean_shares(std::slice::from_ref(&self.tree), data)
    }
}

impl Inputs for MultiDecisionTree {
    fn input_widths(&self) -> Vec<InputWidth> {
        vec![self.tree.tree.input_width()]
    }
}

/// A fitted multi-class random forest (or bagging ensemble: `max_features` all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiForest {
    params: ForestParams,
    trees: Vec<MultiTree>,
}

/// A multi-class forest as a model file holds it, before its checks.
#[derive(Deserialize)]
struct UncheckedMultiForest {
    params: ForestParams,
    trees: Vec<MultiTree>,
}

crate::model::load_checked!(MultiForest, UncheckedMultiForest);

impl TryFrom<UncheckedMultiForest> for MultiForest {
    type Error = MalformedModel;

    /// At least one tree, all telling the same classes apart on the same columns.
    fn try_from(stored: UncheckedMultiForest) -> Result<MultiForest, MalformedModel> {
        let Some(first) = stored.trees.first() else {
            return Err(MalformedModel(
                "multi-class forest: an ensemble needs at least one tree".into(),
            ));
        };
        let shape = |t: &MultiTree| (t.n_classes, t.tree.input_width());
        if stored.trees.iter().any(|t| shape(t) != shape(first)) {
            return Err(MalformedModel(
                "multi-class forest: every tree must read the same columns and tell the same \
                 classes apart"
                    .into(),
            ));
        }
        Ok(MultiForest {
            params: stored.params,
            trees: stored.trees,
        })
    }
}

impl FitMulti for ForestParams {
    type Model = MultiForest;

    fn fit_multi(
        &self,
        data: &Encoded,
        classes: &[u32],
        n_classes: usize,
        seed: u64,
    ) -> Result<MultiForest, FitError> {
        self.check()?;
        check_class_data(data, classes, n_classes)?;
        let plan = self.plan(tree_columns(data))?;
        let trees = grow_trees(
            data,
            classes,
            n_classes,
            plan.trees,
            &plan.grow,
            |rows, t| {
                let mut rng = Rng::fork(seed, t as u64);
                let weights = plan.draw_rows(rows, &mut rng);
                (weights, rng)
            },
        )?;
        Ok(MultiForest {
            params: self.clone(),
            trees,
        })
    }
}

impl MultiForest {
    /// One line saying what the model is.
    pub fn describe(&self) -> String {
        let leaves: usize = self.trees.iter().map(|t| t.tree.leaves()).sum();
        format!(
            "multi-class forest: {} classes, {} trees (mean {} leaves), max_features {}",
            self.trees[0].n_classes,
            self.trees.len(),
            leaves / self.trees.len(),
            self.params.max_features
        )
    }
}

impl MultiClassifier for MultiForest {
    fn n_classes(&self) -> usize {
        self.trees[0].n_classes
    }

    fn class_probabilities(&self, data: &Encoded) -> Vec<f64> {
        mean_shares(&self.trees, data)
    }
}

impl Inputs for MultiForest {
    fn input_widths(&self) -> Vec<InputWidth> {
        vec![self.trees[0].tree.input_width()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{NSL_NUMERIC, nsl_encoded};

    /// Rows whose numeric feature 0 is `x`, the rest zero, with their classes.
    fn rows(cases: &[(f64, u32)]) -> (Encoded, Vec<u32>) {
        let data = nsl_encoded(cases.iter().map(|&(x, _)| {
            let mut row = vec![0.0; NSL_NUMERIC];
            row[0] = x;
            row
        }));
        (data, cases.iter().map(|&(_, c)| c).collect())
    }

    /// Class 0 at x = 0 (4 rows), class 1 at x = 1 (3 rows), classes 1 and 2 at x = 2
    /// (1 and 2 rows). The weighted Gini scores Σ n²/n of the children: cutting after 0
    /// gives 16/4 + (16 + 4)/6 = 7.33, after 1 gives 25/7 + 5/3 = 5.24, so a stump cuts
    /// at 0.5 and its right leaf holds 4/6 of class 1 and 2/6 of class 2.
    fn three_classes() -> (Encoded, Vec<u32>) {
        let mut cases = vec![(0.0, 0); 4];
        cases.extend([(1.0, 1); 3]);
        cases.extend([(2.0, 1), (2.0, 2), (2.0, 2)]);
        rows(&cases)
    }

    fn close(got: &[f64], want: &[f64]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12)
    }

    #[test]
    fn a_stump_cuts_where_the_gini_over_k_classes_says() {
        let (data, classes) = three_classes();
        let stump = DecisionTreeParams {
            max_depth: Some(1),
            ..DecisionTreeParams::default()
        };
        let model = stump.fit_multi(&data, &classes, 3, 1).unwrap();
        assert_eq!(model.n_classes(), 3);
        assert_eq!(model.tree.tree.leaves(), 2);
        let probabilities = model.class_probabilities(&data);
        assert!(close(&probabilities[..3], &[1.0, 0.0, 0.0]));
        let right = [0.0, 4.0 / 6.0, 2.0 / 6.0];
        assert!(close(&probabilities[4 * 3..5 * 3], &right));
        assert!(close(&probabilities[9 * 3..], &right));
    }

    #[test]
    fn a_full_tree_separates_what_the_feature_separates() {
        let (data, classes) = three_classes();
        let model = DecisionTreeParams::default()
            .fit_multi(&data, &classes, 3, 1)
            .unwrap();
        let probabilities = model.class_probabilities(&data);
        // x = 0 and x = 1 are pure; x = 2 holds one row of class 1 and two of class 2.
        assert!(close(&probabilities[..3], &[1.0, 0.0, 0.0]));
        assert!(close(&probabilities[4 * 3..5 * 3], &[0.0, 1.0, 0.0]));
        assert!(close(&probabilities[9 * 3..], &[0.0, 1.0 / 3.0, 2.0 / 3.0]));
    }

    /// The sample's families, as class indices in the order of first appearance (the order
    /// does not matter to these tests).
    fn sample_classes() -> (Encoded, Vec<u32>, usize) {
        let data = crate::testdata::sample_data();
        let families = data.families().expect("labelled");
        let mut names: Vec<&str> = Vec::new();
        let classes = families
            .iter()
            .map(|f| match names.iter().position(|n| n == f) {
                Some(i) => i as u32,
                None => {
                    names.push(f);
                    names.len() as u32 - 1
                }
            })
            .collect();
        let pipeline = nadir_data::FeaturePipeline::fit(&data.schema, &data.records);
        (pipeline.encode(&data.records), classes, names.len())
    }

    #[test]
    fn forest_probabilities_sum_to_one_and_fit_the_training_rows() {
        let (data, classes, k) = sample_classes();
        assert!(k >= 4, "the sample holds normal rows and several families");
        let params = ForestParams {
            trees: 20,
            ..ForestParams::random_forest()
        };
        let model = params.fit_multi(&data, &classes, k, 7).unwrap();
        let probabilities = model.class_probabilities(&data);
        assert_eq!(probabilities.len(), data.len() * k);
        let mut right = 0;
        for (row, &class) in probabilities.chunks_exact(k).zip(&classes) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let best = (0..k)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                .unwrap();
            right += usize::from(best == class as usize);
        }
        assert!(right as f64 > 0.98 * data.len() as f64, "{right} right");
    }

    #[test]
    fn forests_are_the_same_whatever_the_thread_count_and_round_trip() {
        let (data, classes, k) = sample_classes();
        let params = ForestParams {
            trees: 8,
            ..ForestParams::random_forest()
        };
        let fit = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| params.fit_multi(&data, &classes, k, 3).unwrap())
        };
        let one = fit(1);
        assert_eq!(one, fit(2));
        assert_ne!(one, params.fit_multi(&data, &classes, k, 4).unwrap());
        let bytes = postcard::to_allocvec(&one).unwrap();
        let back: MultiForest = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, one);
        assert_eq!(
            back.class_probabilities(&data),
            one.class_probabilities(&data)
        );
    }

    #[test]
    fn bad_class_data_and_too_many_classes_are_fit_errors() {
        let (data, classes) = three_classes();
        let tree = DecisionTreeParams::default();
        assert!(matches!(
            tree.fit_multi(&data, &classes, 2, 1),
            Err(FitError::UnknownClass { class: 2, .. })
        ));
        assert!(matches!(
            tree.fit_multi(&data, &classes, MAX_CLASSES + 1, 1),
            Err(FitError::InvalidParameter { .. })
        ));
    }

    #[test]
    fn tampered_class_shares_are_refused_on_loading() {
        let (data, classes) = three_classes();
        let model = DecisionTreeParams::default()
            .fit_multi(&data, &classes, 3, 1)
            .unwrap();
        let mut tampered = model.clone();
        tampered.tree.shares[0] = 0.5;
        let bytes = postcard::to_allocvec(&tampered).unwrap();
        assert!(postcard::from_bytes::<MultiDecisionTree>(&bytes).is_err());
        let text = crate::model::take_refusal().unwrap();
        assert!(text.contains("sum to 1"), "{text}");
    }
}
