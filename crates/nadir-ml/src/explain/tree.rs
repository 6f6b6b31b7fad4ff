//! The tree models' explainer: exact TreeSHAP.
//!
//! The tree models (decision tree, random forest, bagging, gradient boosting) are explained by
//! exact path-dependent TreeSHAP (Lundberg et al., "From local explanations to global
//! understanding with explainable AI for trees", Nature Machine Intelligence 2020,
//! Algorithm 2): each feature's Shapley value of the function "the tree's expected output
//! knowing only a subset of the features", where a split on an unknown feature sends the row
//! down both sides weighted by the training rows that went each way (the node covers stored
//! in the model files since format 4). The base value is the tree's cover-weighted mean leaf
//! value, and the base plus the contributions is the tree's output exactly (to rounding).
//!
//! Which output is explained:
//! - decision tree, random forest, bagging: the score itself, the probability of attack (a
//!   forest's score is the mean of its trees', so its explanation is the mean of theirs);
//! - gradient boosting: the raw score, the log-odds of attack, of which the reported
//!   probability is the logistic function. Shapley values add up only in that space, where
//!   the trees' outputs are summed; [`Space::LogOdds`] says so in every output.
//!
//! A feature is one of the schema's features: a categorical feature's splits test its codes,
//! and its contribution is the feature's. Hand-written because no Rust crate implements
//! TreeSHAP for trees of our own layout; the recursion follows the paper's Algorithm 2 and
//! the reference implementation in the `shap` package (`tree_shap_recursive`).

use super::{ExplainError, Explanation, Method, Space};
use crate::registry::AnyModel;
use nadir_data::Encoded;
use rayon::prelude::*;

/// A tree node as TreeSHAP reads it: a split sends rows whose value in `column` lies in
/// `low..=high` to `left`, the others to `left + 1` (both tree layouts place the right
/// child there); a leaf has no column and outputs `value`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShapNode {
    pub(crate) column: Option<u16>,
    pub(crate) low: f64,
    pub(crate) high: f64,
    pub(crate) left: u32,
    pub(crate) cover: f64,
    pub(crate) value: f64,
}

/// One tree, its nodes checked when its model was loaded (children after their parent,
/// covers positive and adding up).
#[derive(Debug, Clone)]
pub(crate) struct ShapTree {
    nodes: Vec<ShapNode>,
    depth: usize,
    /// The cover-weighted mean leaf value: the tree's output knowing no feature.
    expected: f64,
}

impl ShapTree {
    pub(crate) fn new(nodes: Vec<ShapNode>) -> ShapTree {
        let mut depth = vec![0; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            if node.column.is_some() {
                let left = node.left as usize;
                depth[left] = depth[i] + 1;
                depth[left + 1] = depth[i] + 1;
            }
        }
        // Children follow their parents: backwards, every child is done before its parent.
        let mut expected = vec![0.0; nodes.len()];
        for (i, node) in nodes.iter().enumerate().rev() {
            expected[i] = match node.column {
                None => node.value,
                Some(_) => {
                    let left = node.left as usize;
                    (nodes[left].cover * expected[left]
                        + nodes[left + 1].cover * expected[left + 1])
                        / node.cover
                }
            };
        }
        // Shapley values do not change when every leaf's value moves by the same amount (a
        // constant's are zero), and a leaf valued 0 adds nothing: moving the commonest leaf
        // value to 0 lets the walk skip those leaves. Fully grown classification trees are
        // mostly pure, their leaves 0 or 1: this skips about half the leaf work.
        let shift = commonest(nodes.iter().filter(|n| n.column.is_none()).map(|n| n.value));
        let nodes = nodes
            .into_iter()
            .map(|node| match node.column {
                None => ShapNode {
                    value: node.value - shift,
                    ..node
                },
                Some(_) => node,
            })
            .collect();
        ShapTree {
            depth: depth.into_iter().max().unwrap_or(0),
            expected: expected.first().copied().unwrap_or(0.0),
            nodes,
        }
    }
}

/// The value that occurs most often (the smallest of those tied); 0 for none.
fn commonest(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let mut best = (0.0, 0);
    for run in values.chunk_by(|a, b| a.total_cmp(b).is_eq()) {
        if run.len() > best.1 {
            best = (run[0], run.len());
        }
    }
    best.0
}

/// TreeSHAP over an ensemble whose output is `offset + scale × Σ trees' outputs`.
#[derive(Debug, Clone)]
pub struct TreeExplainer {
    trees: Vec<ShapTree>,
    scale: f64,
    offset: f64,
    columns: usize,
    space: Space,
}

/// One element of the path of unique features from the root to a node (the paper's `m`):
/// the feature, the fraction of "feature unknown" paths (`z`) and of "feature known" paths
/// (`o`) that flow through, and the permutation weight (`w`).
#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    column: Option<u16>,
    zero: f64,
    one: f64,
    weight: f64,
}

impl TreeExplainer {
    /// The explainer of a fitted tree model; models of other kinds, or tree models from files
    /// without covers, are errors.
    pub fn of(model: &AnyModel) -> Result<TreeExplainer, ExplainError> {
        let kind = model.kind();
        let retrain = || ExplainError::NeedsRetrain { kind };
        match model {
            AnyModel::DecisionTree(tree) => Ok(TreeExplainer::sum(
                tree.shap_trees().ok_or_else(retrain)?,
                tree.columns(),
                1.0,
                0.0,
                Space::Probability,
            )),
            AnyModel::RandomForest(forest) | AnyModel::Bagging(forest) => {
                let trees = forest.shap_trees().ok_or_else(retrain)?;
                let scale = 1.0 / trees.len() as f64;
                Ok(TreeExplainer::sum(
                    trees,
                    forest.columns(),
                    scale,
                    0.0,
                    Space::Probability,
                ))
            }
            AnyModel::GradientBoosting(boosting) => Ok(TreeExplainer::sum(
                boosting.shap_trees().ok_or_else(retrain)?,
                boosting.columns(),
                1.0,
                boosting.base_score(),
                Space::LogOdds,
            )),
            _ => Err(ExplainError::NoExplainer { kind }),
        }
    }

    fn sum(
        trees: Vec<ShapTree>,
        columns: usize,
        scale: f64,
        offset: f64,
        space: Space,
    ) -> TreeExplainer {
        TreeExplainer {
            trees,
            scale,
            offset,
            columns,
            space,
        }
    }

    /// The output its explanations add up to.
    pub fn space(&self) -> Space {
        self.space
    }

    /// The output knowing no feature: the base of every explanation.
    pub fn base(&self) -> f64 {
        self.offset + self.scale * self.trees.iter().map(|t| t.expected).sum::<f64>()
    }

    /// Every row's explanation. Rows are independent and each is computed in the same
    /// order whatever the thread count, so explanations are deterministic.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let explain_row = |row| self.explain_row(data, row);
        if data.len() <= crate::tree::IN_PLACE_ROWS {
            (0..data.len()).map(explain_row).collect()
        } else {
            (0..data.len()).into_par_iter().map(explain_row).collect()
        }
    }

    fn explain_row(&self, data: &Encoded, row: usize) -> Explanation {
        // The row as trees read it: numeric values, then codes as numbers (an unseen code,
        // `nadir_data::UNSEEN`, equals no split's code, so it goes right, as when scoring).
        let values: Vec<f64> = data.numeric[row]
            .iter()
            .copied()
            .chain(data.codes[row].iter().map(|&code| f64::from(code)))
            .collect();
        let mut phi = vec![0.0; self.columns];
        let deepest = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let mut path = vec![PathElement::default(); (deepest + 2) * (deepest + 3) / 2];
        for tree in &self.trees {
            recurse(tree, &values, &mut phi, &mut path, 0, 0, 0, 1.0, 1.0, None);
        }
        phi.iter_mut().for_each(|p| *p *= self.scale);
        Explanation::new(self.base(), phi, self.space, Method::TreeShap)
    }
}

/// The paper's RECURSE: walks every path of `tree` from `node`, keeping the unique-feature
/// path in `path[start..]` (each level's copy after its parent's, in one buffer), and adds
/// each leaf's share to `phi`.
#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &ShapTree,
    values: &[f64],
    phi: &mut [f64],
    path: &mut [PathElement],
    node: usize,
    parent_start: usize,
    mut depth: usize,
    zero: f64,
    one: f64,
    column: Option<u16>,
) {
    let here = tree.nodes[node];
    if here.column.is_none() && here.value == 0.0 {
        return;
    }
    let start = parent_start + depth;
    if depth > 0 {
        path.copy_within(parent_start..parent_start + depth, start);
    }
    let unique = &mut path[start..];
    extend(unique, depth, zero, one, column);
    let Some(split) = here.column else {
        // What `unwound_sum` gives an element whose `one` is 0, but for its `zero`, which
        // divides it: summed once for all such elements.
        let length = (depth + 1) as f64;
        let unknown_sum = (0..depth)
            .map(|i| unique[i].weight / (depth - i) as f64)
            .sum::<f64>()
            * length;
        for i in 1..=depth {
            let element = unique[i];
            let weight = if element.one == 0.0 {
                unknown_sum / element.zero
            } else {
                unwound_sum(unique, depth, i)
            };
            // Only the root's element (index 0) has no column.
            if let Some(column) = element.column {
                phi[usize::from(column)] += weight * (element.one - element.zero) * here.value;
            }
        }
        return;
    };
    let left = here.left as usize;
    let value = values[usize::from(split)];
    let goes_left = here.low <= value && value <= here.high;
    let (hot, cold) = if goes_left {
        (left, left + 1)
    } else {
        (left + 1, left)
    };
    let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
    if let Some(k) = (1..=depth).find(|&k| unique[k].column == Some(split)) {
        incoming_zero = unique[k].zero;
        incoming_one = unique[k].one;
        unwind(unique, depth, k);
        depth -= 1;
    }
    let nodes = &tree.nodes;
    for (child, one) in [(hot, incoming_one), (cold, 0.0)] {
        let zero = nodes[child].cover / here.cover * incoming_zero;
        recurse(
            tree,
            values,
            phi,
            path,
            child,
            start,
            depth + 1,
            zero,
            one,
            Some(split),
        );
    }
}

/// The paper's EXTEND: grows the path by one feature, updating the permutation weights.
fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, column: Option<u16>) {
    path[depth] = PathElement {
        column,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let length = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / length;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / length;
    }
}

/// The paper's UNWIND: removes element `index` from the path, undoing its EXTEND.
fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let PathElement { zero, one, .. } = path[index];
    let length = (depth + 1) as f64;
    let mut next_one = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next_one * length / ((i + 1) as f64 * one);
            next_one = kept - path[i].weight * zero * (depth - i) as f64 / length;
        } else {
            path[i].weight = path[i].weight * length / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].column = path[i + 1].column;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// The total permutation weight the path would have with element `index` unwound, without
/// unwinding it.
fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let PathElement { zero, one, .. } = path[index];
    let length = (depth + 1) as f64;
    let mut next_one = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let share = next_one / ((i + 1) as f64 * one);
            total += share;
            next_one = path[i].weight - share * zero * (depth - i) as f64;
        } else {
            total += path[i].weight / (zero * (depth - i) as f64);
        }
    }
    total * length
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::ForestParams;
    use crate::gbdt::GradientBoostingParams;
    use crate::model::{Classifier, Fit};
    use crate::registry::ModelKind;
    use crate::testdata::{Split, sample_split};
    use crate::tree::DecisionTreeParams;

    /// Every explained model of the sample, fitted on its training part.
    fn explained_models(s: &Split) -> Vec<AnyModel> {
        let (x, y) = (&s.train, &s.train_labels);
        let few_trees = ForestParams {
            trees: 20,
            ..ForestParams::random_forest()
        };
        vec![
            AnyModel::DecisionTree(DecisionTreeParams::default().fit(x, y, 1).unwrap()),
            AnyModel::RandomForest(few_trees.fit(x, y, 2).unwrap()),
            AnyModel::Bagging(ForestParams::bagging().fit(x, y, 3).unwrap()),
            AnyModel::GradientBoosting(GradientBoostingParams::default().fit(x, y, 4).unwrap()),
        ]
    }

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    /// Base plus contributions is the score (the log-odds for gradient boosting) of every
    /// test row of the sample, within 1e-9.
    #[test]
    fn contributions_and_base_add_up_to_the_score() {
        let s = sample_split();
        for model in explained_models(&s) {
            let explainer = TreeExplainer::of(&model).unwrap();
            let explanations = explainer.explain(&s.test);
            let scores = model.score(&s.test);
            assert_eq!(explanations.len(), s.test.len());
            let mut moved = 0;
            for (explanation, &score) in explanations.iter().zip(&scores) {
                let (explained, space) = match model.kind() {
                    ModelKind::GradientBoosting => (logit(score), Space::LogOdds),
                    _ => (score, Space::Probability),
                };
                assert_eq!(explanation.space, space);
                assert_eq!(explanation.contributions.len(), 41);
                // The logit of a probability near 1 loses digits; the log-odds themselves are
                // what is compared where the probability keeps them.
                let tolerance = if space == Space::LogOdds && score > 1.0 - 1e-6 {
                    1e-3
                } else {
                    1e-9
                };
                assert!(
                    (explanation.output() - explained).abs() <= tolerance,
                    "{}: {} + {:?} = {} against {explained}",
                    model.kind(),
                    explanation.base,
                    explanation.contributions,
                    explanation.output()
                );
                moved += usize::from(explanation.contributions.iter().any(|&c| c != 0.0));
            }
            assert!(moved > s.test.len() / 2, "{}: {moved} rows", model.kind());
        }
    }

    /// Gradient boosting's log-odds are checked exactly against its raw scores.
    #[test]
    fn gradient_boosting_explains_its_raw_score_exactly() {
        let s = sample_split();
        let model = GradientBoostingParams::default()
            .fit(&s.train, &s.train_labels, 4)
            .unwrap();
        let explainer = TreeExplainer::of(&AnyModel::GradientBoosting(model.clone())).unwrap();
        let raw = model.raw_scores(&s.test);
        for (explanation, raw) in explainer.explain(&s.test).iter().zip(raw) {
            assert!((explanation.output() - raw).abs() <= 1e-9);
        }
    }

    /// The path-dependent value of knowing the features in `known` (a bit set over
    /// `features`): a split on a known feature follows the row, one on an unknown feature
    /// averages its sides by cover.
    fn conditional_value(tree: &ShapTree, values: &[f64], known: &[u16], node: usize) -> f64 {
        let here = tree.nodes[node];
        let Some(column) = here.column else {
            return here.value;
        };
        let left = here.left as usize;
        if known.contains(&column) {
            let value = values[usize::from(column)];
            let child = if here.low <= value && value <= here.high {
                left
            } else {
                left + 1
            };
            conditional_value(tree, values, known, child)
        } else {
            let (l, r) = (&tree.nodes[left], &tree.nodes[left + 1]);
            (l.cover * conditional_value(tree, values, known, left)
                + r.cover * conditional_value(tree, values, known, left + 1))
                / here.cover
        }
    }

    /// Shapley values by enumerating every subset of the features the tree splits on (the
    /// others are dummies, whose presence changes no one's value).
    fn exact_shapley(tree: &ShapTree, values: &[f64], columns: usize) -> Vec<f64> {
        let mut features: Vec<u16> = tree.nodes.iter().filter_map(|n| n.column).collect();
        features.sort_unstable();
        features.dedup();
        let m = features.len();
        assert!(m <= 8, "{m} features");
        let factorial = |n: usize| (1..=n).product::<usize>() as f64;
        let mut phi = vec![0.0; columns];
        for (i, &feature) in features.iter().enumerate() {
            for subset in 0u32..1 << m {
                if subset & (1 << i) != 0 {
                    continue;
                }
                let known: Vec<u16> = (0..m)
                    .filter(|&j| subset & (1 << j) != 0)
                    .map(|j| features[j])
                    .collect();
                let size = known.len();
                let mut with = known.clone();
                with.push(feature);
                let weight = factorial(size) * factorial(m - size - 1) / factorial(m);
                phi[usize::from(feature)] += weight
                    * (conditional_value(tree, values, &with, 0)
                        - conditional_value(tree, values, &known, 0));
            }
        }
        phi
    }

    fn tree_row(data: &Encoded, row: usize) -> Vec<f64> {
        data.numeric[row]
            .iter()
            .copied()
            .chain(data.codes[row].iter().map(|&c| f64::from(c)))
            .collect()
    }

    /// TreeSHAP equals the Shapley values by enumeration on small trees (at most 8 features
    /// each, features repeated along paths), on every test row.
    #[test]
    fn tree_shap_equals_shapley_values_by_enumeration() {
        let s = sample_split();
        let (x, y) = (&s.train, &s.train_labels);
        let mut trees = Vec::new();
        for (seed, max_features) in [
            (0, crate::tree::MaxFeatures::All),
            (1, crate::tree::MaxFeatures::Sqrt),
            (2, crate::tree::MaxFeatures::Count(3)),
        ] {
            let params = DecisionTreeParams {
                max_depth: Some(3),
                max_features,
                ..DecisionTreeParams::default()
            };
            trees.extend(params.fit(x, y, seed).unwrap().shap_trees().unwrap());
        }
        let boosting = GradientBoostingParams {
            max_iter: 5,
            max_leaf_nodes: 8,
            min_samples_leaf: 5,
            early_stopping: crate::gbdt::EarlyStopping::Off,
            ..GradientBoostingParams::default()
        };
        trees.extend(boosting.fit(x, y, 0).unwrap().shap_trees().unwrap());
        let repeats = trees
            .iter()
            .filter(|t| {
                let mut columns: Vec<u16> = t.nodes.iter().filter_map(|n| n.column).collect();
                let all = columns.len();
                columns.sort_unstable();
                columns.dedup();
                columns.len() < all
            })
            .count();
        assert!(repeats > 0, "no tree splits twice on a feature");
        for tree in &trees {
            let explainer =
                TreeExplainer::sum(vec![tree.clone()], 41, 1.0, 0.0, Space::Probability);
            for row in 0..s.test.len() {
                let fast = explainer.explain_row(&s.test, row).contributions;
                let exact = exact_shapley(tree, &tree_row(&s.test, row), 41);
                for (column, (a, b)) in fast.iter().zip(&exact).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12,
                        "row {row} column {column}: {a} against {b}"
                    );
                }
            }
        }
    }

    /// The same rows give the same explanations bit for bit, whatever the thread count and
    /// however the rows are batched.
    #[test]
    fn explanations_are_deterministic() {
        let s = sample_split();
        let forest = ForestParams {
            trees: 10,
            ..ForestParams::random_forest()
        }
        .fit(&s.train, &s.train_labels, 5)
        .unwrap();
        let explainer = TreeExplainer::of(&AnyModel::RandomForest(forest)).unwrap();
        let one = crate::testdata::with_threads(1, || explainer.explain(&s.test));
        let two = crate::testdata::with_threads(2, || explainer.explain(&s.test));
        assert_eq!(one, two);
        let single = explainer.explain(&s.test.select(&[7]));
        assert_eq!(single[0], one[7]);
        assert!(s.test.len() > crate::tree::IN_PLACE_ROWS);
    }
}
