//! Isolation forest (Liu, Ting & Zhou, *Isolation Forest*, ICDM 2008; and *Isolation-Based
//! Anomaly Detection*, ACM TKDD 6, 2012): an unsupervised anomaly detector. Anomalies are few
//! and different, so random axis-parallel cuts isolate them in fewer steps than normal
//! points.
//!
//! Each tree is grown on its own subsample of `max_samples` rows drawn without replacement:
//! a node picks a feature at random and a split value uniformly between the node's minimum
//! and maximum of it, until a node holds one row, its rows are identical, or the height
//! limit ⌈log₂ max_samples⌉ is reached. As in scikit-learn's splitter, a feature that is
//! constant in the node is redrawn, so every split separates rows (most one-hot columns are
//! constant in a node, and a cut on one would separate nothing and only lengthen paths). The
//! path length h(x) of a row is the depth of the leaf it reaches plus c(size), the average
//! path length of an unbuilt subtree over the leaf's training rows, with
//! c(n) = 2H(n − 1) − 2(n − 1)/n, H(i) = ln i + γ (Euler's constant), c(2) = 1, c(1) = 0.
//! The anomaly score is s(x, n) = 2^(−E[h(x)] / c(n)) over the trees, for subsamples of n
//! rows: near 1 for anomalies, clearly below 0.5 for normal rows.
//!
//! Rows are isolated in the one-hot view (the 38 raw numeric values, then a 0/1 column per
//! known category value; an unseen category is the all-zeros row), which is what
//! scikit-learn's `IsolationForest` saw in the original project. They are not scaled: a cut
//! uniform between a node's minimum and maximum does not depend on the scale.
//!
//! `contamination` fixes the threshold at fit time, as scikit-learn's `offset_`: `auto` is
//! the paper's 0.5; a share `c` is the (1 − c) quantile of the training rows' scores. With
//! `normal_only`, the forest is fitted on the rows labelled normal only, the semi-supervised
//! use of the 2012 paper; otherwise labels are ignored.
//!
//! Hand-written: the `extended-isolation-forest` crate (0.2.3) draws from an unseeded
//! `thread_rng`, so a model cannot be reproduced from its seed, fixes the dimension as a const
//! generic, and has no contamination threshold. Here tree `t` draws from `Rng::fork(seed, t)`
//! and the trees grow in parallel with rayon, so a model is the same bit for bit whatever
//! the thread count; the trees are stored as one flat node array and rows are scored in
//! parallel, in blocks taken level by level through each tree.
//!
//! Checked against scikit-learn 1.9.1's `IsolationForest` with the same settings on the same
//! one-hot rows of the 70/30 split: over 40 seeds the mean test ROC-AUC is 0.699 here and
//! 0.700 there fitted on all rows (standard deviation 0.024 over seeds in both), 0.980 in
//! both fitted on normal rows only. Fitting takes about 15–25 ms here against 0.3 s.

use crate::model::{Classifier, Fit, FitError, MalformedModel, ParamGuard};
use nadir_data::{Encoded, Rng};
use rayon::prelude::*;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;

/// Euler–Mascheroni constant, for the harmonic number H(i) ≈ ln i + γ.
const EULER_GAMMA: f64 = 0.577_215_664_9;

/// The paper's threshold: a row whose mean path equals the average c(n) scores 0.5.
const AUTO_THRESHOLD: f64 = 0.5;

/// Rows scored together, tree by tree; their one-hot rows (about 30 kB) fit the L1 cache.
const BLOCK_ROWS: usize = 32;

/// How the anomaly threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Contamination {
    /// The paper's threshold, 0.5.
    #[default]
    Auto,
    /// The expected share of anomalies in the training rows, in (0, 0.5]: the threshold
    /// flags that share of them.
    Share(f64),
}

impl Contamination {
    fn check(self) -> Result<(), FitError> {
        match self {
            Contamination::Share(share) if !(share > 0.0 && share <= 0.5) => {
                Err(FitError::invalid(
                    "contamination",
                    format!("{share} is not \"auto\" or in (0, 0.5]"),
                ))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Contamination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contamination::Auto => f.write_str("auto"),
            Contamination::Share(share) => write!(f, "{share}"),
        }
    }
}

/// The form binary model files store: postcard cannot hold a value that is "a string or a
/// number", which is what configuration files want.
#[derive(Serialize, Deserialize)]
enum StoredContamination {
    Auto,
    Share(f64),
}

impl Serialize for Contamination {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (serializer.is_human_readable(), *self) {
            (true, Contamination::Auto) => serializer.serialize_str("auto"),
            (true, Contamination::Share(share)) => serializer.serialize_f64(share),
            (false, Contamination::Auto) => StoredContamination::Auto.serialize(serializer),
            (false, Contamination::Share(share)) => {
                StoredContamination::Share(share).serialize(serializer)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Contamination {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            return deserializer.deserialize_any(ContaminationVisitor);
        }
        Ok(match StoredContamination::deserialize(deserializer)? {
            StoredContamination::Auto => Contamination::Auto,
            StoredContamination::Share(share) => Contamination::Share(share),
        })
    }
}

struct ContaminationVisitor;

impl Visitor<'_> for ContaminationVisitor {
    type Value = Contamination;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"auto\" or a share of anomalies in (0, 0.5]")
    }

    fn visit_f64<E: de::Error>(self, share: f64) -> Result<Contamination, E> {
        Ok(Contamination::Share(share))
    }

    fn visit_u64<E: de::Error>(self, share: u64) -> Result<Contamination, E> {
        Ok(Contamination::Share(share as f64))
    }

    fn visit_i64<E: de::Error>(self, share: i64) -> Result<Contamination, E> {
        Ok(Contamination::Share(share as f64))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Contamination, E> {
        if name == "auto" {
            Ok(Contamination::Auto)
        } else {
            Err(E::invalid_value(Unexpected::Str(name), &self))
        }
    }
}

/// Isolation forest hyperparameters (the paper's and scikit-learn's names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub trees: usize,
    /// Rows drawn (without replacement) per tree; capped at the training rows.
    pub max_samples: usize,
    /// `"auto"` (threshold 0.5) or the expected share of anomalies in the training rows.
    pub contamination: Contamination,
    /// Fit on the rows labelled normal only (semi-supervised); else labels are ignored.
    pub normal_only: bool,
}

impl Default for IsolationForestParams {
    /// The paper's settings, which scikit-learn keeps: 100 trees of 256 rows; path lengths
    /// converge well before 100 trees, and larger subsamples swamp the anomalies.
    fn default() -> Self {
        IsolationForestParams {
            trees: 100,
            max_samples: 256,
            contamination: Contamination::Auto,
            normal_only: false,
        }
    }
}

impl IsolationForestParams {
    /// The training rows: all of them, or those labelled normal.
    fn training_rows(&self, data: &Encoded, labels: &[bool]) -> Result<Vec<u32>, FitError> {
        if data.is_empty() {
            return Err(FitError::Empty);
        }
        if !self.normal_only {
            return Ok((0..data.len() as u32).collect());
        }
        if labels.len() != data.len() {
            return Err(FitError::LengthMismatch {
                rows: data.len(),
                labels: labels.len(),
            });
        }
        let normal: Vec<u32> = (0..data.len() as u32)
            .filter(|&i| !labels[i as usize])
            .collect();
        if normal.is_empty() {
            return Err(FitError::invalid(
                "normal_only",
                "the training data holds no normal rows",
            ));
        }
        Ok(normal)
    }

    /// The rows per tree for `available` training rows.
    fn subsample_size(&self, available: usize) -> Result<usize, FitError> {
        self.check()?;
        if available < 2 {
            return Err(FitError::invalid(
                "max_samples",
                format!("{available} training row(s); isolating needs at least 2"),
            ));
        }
        Ok(self.max_samples.min(available))
    }
}

impl ParamGuard for IsolationForestParams {
    fn check(&self) -> Result<(), FitError> {
        if self.trees == 0 {
            return Err(FitError::invalid("trees", "at least one tree is needed"));
        }
        if self.max_samples < 2 {
            return Err(FitError::invalid(
                "max_samples",
                format!(
                    "{} rows per tree; isolating needs at least 2",
                    self.max_samples
                ),
            ));
        }
        self.contamination.check()
    }
}

impl Fit for IsolationForestParams {
    type Model = IsolationForest;

    /// Labels are used only with `normal_only`: otherwise the fit is unsupervised, and any
    /// labels (even one class, or none) are accepted.
    fn fit(&self, data: &Encoded, labels: &[bool], seed: u64) -> Result<IsolationForest, FitError> {
        let rows = self.training_rows(data, labels)?;
        let subsample = self.subsample_size(rows.len())?;
        let columns = data.one_hot_width();
        let trees: Vec<GrownTree> = (0..self.trees)
            .into_par_iter()
            .map(|t| grow_tree(data, &rows, subsample, &mut Rng::fork(seed, t as u64)))
            .collect();
        let mut roots = Vec::with_capacity(trees.len());
        let mut nodes = Vec::new();
        let mut path_lengths = Vec::new();
        for tree in trees {
            let offset = nodes.len() as u32;
            roots.push(offset);
            nodes.extend(tree.nodes.into_iter().map(|node| Node {
                left: node.left + offset,
                ..node
            }));
            path_lengths.extend(tree.path_lengths);
        }
        let mut forest = IsolationForest {
            params: self.clone(),
            subsample,
            columns,
            roots,
            nodes,
            path_lengths,
            threshold: AUTO_THRESHOLD,
        };
        if let Contamination::Share(share) = self.contamination {
            let training_scores = forest.scores_of(data, &rows);
            forest.threshold = quantile(training_scores, 1.0 - share);
        }
        Ok(forest)
    }
}

/// A node of the flat tree array: a cut sending rows at or below `value` in column `feature`
/// to `left`, the others to `left + 1`. A leaf sends every row back to itself (it cuts
/// column 0 at +∞ with `left` its own index), so a row can take the same number of steps in
/// every tree, with no branch per node, and still end at its leaf.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    feature: u32,
    value: f64,
    left: u32,
}

impl Node {
    fn leaf(index: usize) -> Node {
        Node {
            feature: 0,
            value: f64::INFINITY,
            left: index as u32,
        }
    }

    fn next(&self, row: &[f64]) -> u32 {
        self.left + u32::from(row[self.feature as usize] > self.value)
    }
}

/// ⌈log₂ subsample⌉: the depth at which growing stops, beyond which cutting would only
/// separate normal rows.
fn height_limit(subsample: usize) -> usize {
    subsample.next_power_of_two().trailing_zeros() as usize
}

/// A grown tree: its nodes (children linked by index from 0) and, for each node, the path
/// length of the rows ending there (depth + c(size) at a leaf, 0 elsewhere).
struct GrownTree {
    nodes: Vec<Node>,
    path_lengths: Vec<f64>,
}

/// Grows one isolation tree on `subsample` of `rows`, drawn without replacement.
fn grow_tree(data: &Encoded, rows: &[u32], subsample: usize, rng: &mut Rng) -> GrownTree {
    let drawn = draw_without_replacement(rows, subsample, rng);
    // Column-major, so scanning a feature over a node's rows reads one column.
    let columns = data.one_hot_width();
    let mut sample = vec![0.0; columns * subsample];
    let mut row = vec![0.0; columns];
    for (r, &i) in drawn.iter().enumerate() {
        data.one_hot_row(i as usize, &mut row);
        for (f, &value) in row.iter().enumerate() {
            sample[f * subsample + r] = value;
        }
    }

    let height_limit = height_limit(subsample);
    let mut features: Vec<u32> = (0..columns as u32).collect();
    let mut order: Vec<u32> = (0..subsample as u32).collect();
    let mut nodes = vec![Node::leaf(0)];
    let mut path_lengths = vec![0.0];
    // (node, its rows order[start..end], depth)
    let mut pending = vec![(0usize, 0usize, subsample, 0usize)];
    while let Some((node, start, end, depth)) = pending.pop() {
        let size = end - start;
        let cut = if depth < height_limit && size > 1 {
            draw_cut(&sample, subsample, &order[start..end], &mut features, rng)
        } else {
            None
        };
        let Some((feature, value)) = cut else {
            nodes[node] = Node::leaf(node);
            path_lengths[node] = depth as f64 + average_path_length(size);
            continue;
        };
        let column = &sample[feature as usize * subsample..][..subsample];
        let mut middle = start;
        for k in start..end {
            if column[order[k] as usize] <= value {
                order.swap(k, middle);
                middle += 1;
            }
        }
        let left = nodes.len();
        nodes.extend([Node::leaf(left), Node::leaf(left + 1)]);
        path_lengths.extend([0.0, 0.0]);
        nodes[node] = Node {
            feature,
            value,
            left: left as u32,
        };
        pending.push((left + 1, middle, end, depth + 1));
        pending.push((left, start, middle, depth + 1));
    }
    GrownTree {
        nodes,
        path_lengths,
    }
}

/// `count` of `rows` drawn without replacement: a Fisher–Yates shuffle stopped after `count`
/// steps, with the swapped-out entries kept in a map rather than copying all the rows.
fn draw_without_replacement(rows: &[u32], count: usize, rng: &mut Rng) -> Vec<u32> {
    let mut displaced: HashMap<usize, u32> = HashMap::with_capacity(2 * count);
    (0..count)
        .map(|i| {
            let pick = i + rng.below(rows.len() - i);
            let at = |k: usize, displaced: &HashMap<usize, u32>| {
                displaced.get(&k).copied().unwrap_or(rows[k])
            };
            let chosen = at(pick, &displaced);
            displaced.insert(pick, at(i, &displaced));
            chosen
        })
        .collect()
}

/// A random cut of the node's rows: a feature drawn uniformly among those not constant on
/// them, and a value uniform in [min, max) of it. `None` when the rows are all identical.
fn draw_cut(
    sample: &[f64],
    subsample: usize,
    node_rows: &[u32],
    features: &mut [u32],
    rng: &mut Rng,
) -> Option<(u32, f64)> {
    // A partial Fisher–Yates shuffle: the first non-constant feature of a random order.
    for drawn in 0..features.len() {
        let pick = drawn + rng.below(features.len() - drawn);
        features.swap(drawn, pick);
        let feature = features[drawn];
        let column = &sample[feature as usize * subsample..][..subsample];
        let (min, max) = node_rows
            .iter()
            .map(|&r| column[r as usize])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if max > min {
            let value = min + rng.next_f64() * (max - min);
            // Rounding can reach `max`, which would leave the right side empty.
            return Some((feature, if value < max { value } else { min }));
        }
    }
    None
}

/// c(n): the average path length of an unsuccessful search in a binary search tree of `n`
/// keys, the normaliser of path lengths.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// s(x, n) = 2^(−E[h(x)] / c(n)) for a mean path length over trees of `subsample` rows.
pub fn anomaly_score(mean_path_length: f64, subsample: usize) -> f64 {
    (-mean_path_length / average_path_length(subsample)).exp2()
}

/// The `q` quantile with linear interpolation (numpy's default, which scikit-learn uses).
fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let position = q * (values.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    values[below] + (values[above] - values[below]) * (position - below as f64)
}

/// A fitted isolation forest. Checked when a model file is read
/// ([`IsolationForest::try_from`]), so that no walk leaves its tree or a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolationForest {
    params: IsolationForestParams,
    /// Rows each tree was grown on: the n of c(n).
    subsample: usize,
    /// Width of the one-hot rows it was fitted on.
    columns: usize,
    /// Where each tree starts in `nodes`.
    roots: Vec<u32>,
    nodes: Vec<Node>,
    /// Per node, the path length of the rows ending there (at leaves).
    path_lengths: Vec<f64>,
    threshold: f64,
}

/// An isolation forest as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredIsolationForest {
    params: IsolationForestParams,
    subsample: usize,
    columns: usize,
    roots: Vec<u32>,
    nodes: Vec<Node>,
    path_lengths: Vec<f64>,
    threshold: f64,
}

crate::model::load_checked!(IsolationForest, StoredIsolationForest);

impl TryFrom<StoredIsolationForest> for IsolationForest {
    type Error = MalformedModel;

    /// What scoring relies on: trees of at least two rows each, starting in order at node 0;
    /// in each, a cut reads a column and points to two children after it in its tree, a leaf
    /// points to itself and cuts at +∞, and no leaf lies deeper than the steps a row takes
    /// (⌈log₂ subsample⌉); one finite path length per node and a threshold in [0, 1].
    fn try_from(stored: StoredIsolationForest) -> Result<IsolationForest, MalformedModel> {
        let malformed = |what: String| MalformedModel(format!("isolation forest: {what}"));
        let StoredIsolationForest {
            subsample,
            columns,
            ref roots,
            ref nodes,
            ref path_lengths,
            threshold,
            ..
        } = stored;
        if !(2..=u32::MAX as usize).contains(&subsample) || columns == 0 {
            return Err(malformed(format!(
                "trees of {subsample} rows on {columns} columns"
            )));
        }
        if path_lengths.len() != nodes.len()
            || !path_lengths.iter().all(|p| p.is_finite() && *p >= 0.0)
        {
            return Err(malformed(format!(
                "{} path lengths for {} nodes, each a finite length ≥ 0",
                path_lengths.len(),
                nodes.len()
            )));
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(malformed(format!("threshold {threshold} is not in [0, 1]")));
        }
        let starts = roots.iter().map(|&r| r as usize);
        let ends = starts.clone().skip(1).chain([nodes.len()]);
        if roots.first() != Some(&0) || starts.clone().zip(ends.clone()).any(|(s, e)| s >= e) {
            return Err(malformed(format!(
                "trees starting at nodes {roots:?} do not divide its {} nodes",
                nodes.len()
            )));
        }
        let steps = height_limit(subsample);
        for (tree, (start, end)) in starts.zip(ends).enumerate() {
            let mut depth = vec![0; end - start];
            for (i, node) in nodes[start..end].iter().enumerate() {
                let (index, left) = (start + i, node.left as usize);
                let good = (node.feature as usize) < columns
                    && depth[i] <= steps
                    && if left == index {
                        node.value == f64::INFINITY
                    } else {
                        node.value.is_finite() && index < left && left + 1 < end
                    };
                if !good {
                    return Err(malformed(format!("node {i} of tree {tree} is malformed")));
                }
                if left != index {
                    for child in [left - start, left + 1 - start] {
                        depth[child] = depth[child].max(depth[i] + 1);
                    }
                }
            }
        }
        Ok(IsolationForest {
            params: stored.params,
            subsample,
            columns,
            roots: stored.roots,
            nodes: stored.nodes,
            path_lengths: stored.path_lengths,
            threshold,
        })
    }
}

impl IsolationForest {
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// The score at or above which a row is an anomaly, fixed at fit time by
    /// `contamination`.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The anomaly scores of the given rows, in their order.
    fn scores_of(&self, data: &Encoded, rows: &[u32]) -> Vec<f64> {
        assert_eq!(
            data.one_hot_width(),
            self.columns,
            "rows were encoded by a different feature pipeline than the model was fitted with"
        );
        rows.par_chunks(BLOCK_ROWS)
            .map_init(
                || vec![0.0; BLOCK_ROWS * self.columns],
                |one_hot, block| self.block_scores(data, block, one_hot),
            )
            .flatten_iter()
            .collect()
    }

    /// The scores of a block of rows, taken tree by tree: one tree's nodes stay in the
    /// nearest cache while the block's rows go through it.
    fn block_scores(&self, data: &Encoded, block: &[u32], one_hot: &mut [f64]) -> Vec<f64> {
        let one_hot = &mut one_hot[..block.len() * self.columns];
        for (row, &i) in one_hot.chunks_exact_mut(self.columns).zip(block) {
            data.one_hot_row(i as usize, row);
        }
        let steps = height_limit(self.subsample);
        let mut at = vec![0; block.len()];
        let mut total_path_lengths = vec![0.0; block.len()];
        for &root in &self.roots {
            at.fill(root);
            // Level by level, so the rows' independent steps overlap in the processor.
            for _ in 0..steps {
                for (node, row) in at.iter_mut().zip(one_hot.chunks_exact(self.columns)) {
                    *node = self.nodes[*node as usize].next(row);
                }
            }
            for (total, &leaf) in total_path_lengths.iter_mut().zip(&at) {
                *total += self.path_lengths[leaf as usize];
            }
        }
        let trees = self.roots.len() as f64;
        total_path_lengths
            .into_iter()
            .map(|total| anomaly_score(total / trees, self.subsample))
            .collect()
    }
}

/// What the path-length explainer reads ([`crate::explain::isolation`]).
impl IsolationForest {
    /// The rows each tree was grown on: the n of c(n).
    pub(crate) fn subsample(&self) -> usize {
        self.subsample
    }

    /// Walks one-hot `row` down every tree: calls `path` with the columns of the cuts it
    /// passes, root first, and the path length of the leaf it reaches.
    pub(crate) fn walk(&self, row: &[f64], mut path: impl FnMut(&[u32], f64)) {
        let mut columns = Vec::new();
        for &root in &self.roots {
            columns.clear();
            let mut at = root;
            loop {
                let node = &self.nodes[at as usize];
                if node.left == at {
                    break;
                }
                columns.push(node.feature);
                at = node.next(row);
            }
            path(&columns, self.path_lengths[at as usize]);
        }
    }

    /// The number of trees.
    pub(crate) fn trees(&self) -> usize {
        self.roots.len()
    }
}

impl crate::model::Inputs for IsolationForest {
    fn input_widths(&self) -> Vec<crate::model::InputWidth> {
        vec![crate::model::InputWidth::OneHot {
            columns: self.columns,
            numeric: None,
        }]
    }
}

impl Classifier for IsolationForest {
    /// The anomaly score s(x, n) in [0, 1]; higher is more anomalous.
    fn score(&self, data: &Encoded) -> Vec<f64> {
        let rows: Vec<u32> = (0..data.len() as u32).collect();
        self.scores_of(data, &rows)
    }

    /// The contamination rule's threshold: an unsupervised detector's cut does not come
    /// from labels.
    fn fixed_threshold(&self) -> Option<f64> {
        Some(self.threshold)
    }

    fn describe(&self) -> String {
        format!(
            "isolation forest: {} trees of {} rows ({} nodes, height ≤ {}), contamination {} \
             (threshold {:.4}), fitted on {}",
            self.roots.len(),
            self.subsample,
            self.nodes.len(),
            height_limit(self.subsample),
            self.params.contamination,
            self.threshold,
            if self.params.normal_only {
                "normal rows only"
            } else {
                "all rows, unlabelled"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{classify, roc_auc};
    use crate::testdata::{report_holdout, sample_split, split_file, with_threads};

    /// `inliers` standard Gaussian rows in 4 dimensions, then `outliers` rows 8 standard
    /// deviations away along a random axis; labels mark the outliers.
    fn planted(inliers: usize, outliers: usize, seed: u64) -> (Encoded, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut numeric = Vec::new();
        for i in 0..inliers + outliers {
            let mut row = vec![0.0; 38];
            for value in &mut row[..4] {
                *value = rng.normal();
            }
            if i >= inliers {
                row[rng.below(4)] += if rng.below(2) == 0 { 8.0 } else { -8.0 };
            }
            numeric.push(row);
        }
        let labels = (0..inliers + outliers).map(|i| i >= inliers).collect();
        let data = crate::testdata::nsl_encoded_one_category(numeric);
        (data, labels)
    }

    #[test]
    fn average_path_length_follows_the_formula() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        assert!((average_path_length(3) - 1.207_392_9).abs() < 1e-6);
        assert!((average_path_length(256) - 10.244_770_2).abs() < 1e-6);
    }

    #[test]
    fn a_row_at_the_average_path_length_scores_one_half() {
        assert_eq!(anomaly_score(average_path_length(256), 256), 0.5);
        assert_eq!(anomaly_score(0.0, 256), 1.0);
        assert!(anomaly_score(3.0 * average_path_length(256), 256) < 0.126);
    }

    #[test]
    fn two_distinct_rows_are_always_cut_apart_at_the_root() {
        let (data, labels) = planted(2, 0, 1);
        let forest = IsolationForestParams::default()
            .fit(&data, &labels, 0)
            .unwrap();
        // Each tree: a root cut and two leaves of one row at depth 1, c(1) = 0; c(2) = 1.
        assert_eq!(forest.nodes.len(), 300);
        assert_eq!(forest.score(&data), vec![0.5, 0.5]);
    }

    #[test]
    fn planted_outliers_score_highest() {
        let (data, labels) = planted(2000, 20, 2);
        let forest = IsolationForestParams::default()
            .fit(&data, &labels, 7)
            .unwrap();
        let scores = forest.score(&data);
        let auc = roc_auc(&labels, &scores).unwrap();
        assert!(auc >= 0.99, "{auc}");
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        // Every tree is cut to the height limit ⌈log₂ 256⌉ = 8 at most.
        assert!(forest.nodes.len() <= 100 * 511);
        assert_eq!(forest.threshold(), 0.5);
    }

    #[test]
    fn contamination_flags_that_share_of_the_training_rows() {
        let (data, labels) = planted(2000, 20, 3);
        let forest = IsolationForestParams {
            contamination: Contamination::Share(0.1),
            ..IsolationForestParams::default()
        }
        .fit(&data, &labels, 1)
        .unwrap();
        let flagged = classify(&forest.score(&data), forest.threshold());
        let share = flagged.iter().filter(|&&f| f).count() as f64 / data.len() as f64;
        assert!((share - 0.1).abs() < 0.002, "{share}");
        // The planted outliers are among the flagged.
        assert!(flagged.iter().zip(&labels).all(|(&f, &y)| f || !y));
    }

    #[test]
    fn normal_only_ignores_attack_rows() {
        let s = sample_split();
        let params = IsolationForestParams {
            trees: 30,
            contamination: Contamination::Share(0.05),
            normal_only: true,
            ..IsolationForestParams::default()
        };
        let semi = params.fit(&s.train, &s.train_labels, 5).unwrap();
        let normal: Vec<usize> = (0..s.train.len()).filter(|&i| !s.train_labels[i]).collect();
        let subset = IsolationForestParams {
            normal_only: false,
            ..params.clone()
        }
        .fit(&s.train.select(&normal), &[], 5)
        .unwrap();
        assert_eq!(semi.score(&s.test), subset.score(&s.test));
        assert_eq!(semi.threshold(), subset.threshold());
        assert_eq!(semi.nodes, subset.nodes);
        let auc = roc_auc(&s.test_labels, &semi.score(&s.test)).unwrap();
        assert!(auc > 0.9, "{auc}");
    }

    #[test]
    fn unsupervised_fit_separates_attacks_on_the_sample() {
        let s = sample_split();
        let forest = IsolationForestParams::default()
            .fit(&s.train, &[], 11)
            .unwrap();
        let auc = roc_auc(&s.test_labels, &forest.score(&s.test)).unwrap();
        // Weak but real: with 46 % attacks they are not few; 0.70 on the full data, as
        // scikit-learn's forest.
        assert!(auc > 0.6, "{auc}");
    }

    #[test]
    fn same_seed_same_model_whatever_the_thread_count() {
        let s = sample_split();
        let params = IsolationForestParams {
            trees: 20,
            contamination: Contamination::Share(0.2),
            ..IsolationForestParams::default()
        };
        let one_thread = with_threads(1, || params.fit(&s.train, &s.train_labels, 3).unwrap());
        let default = params.fit(&s.train, &s.train_labels, 3).unwrap();
        assert_eq!(one_thread, default);
        assert_ne!(params.fit(&s.train, &s.train_labels, 4).unwrap(), default);
    }

    #[test]
    fn model_files_and_configurations_round_trip() {
        let s = sample_split();
        let forest = IsolationForestParams {
            trees: 10,
            max_samples: 64,
            contamination: Contamination::Share(0.25),
            normal_only: true,
        }
        .fit(&s.train, &s.train_labels, 1)
        .unwrap();
        let back: IsolationForest =
            postcard::from_bytes(&postcard::to_stdvec(&forest).unwrap()).unwrap();
        assert_eq!(back, forest);
        assert_eq!(back.score(&s.test), forest.score(&s.test));

        let auto: IsolationForestParams = toml::from_str("contamination = \"auto\"").unwrap();
        assert_eq!(auto, IsolationForestParams::default());
        let share: IsolationForestParams =
            serde_json::from_str(r#"{"contamination": 0.1, "normal_only": true}"#).unwrap();
        assert_eq!(share.contamination, Contamination::Share(0.1));
        assert!(share.normal_only);
        let json = serde_json::to_string(&share).unwrap();
        assert!(json.contains(r#""contamination":0.1"#), "{json}");
        assert_eq!(
            serde_json::from_str::<IsolationForestParams>(&json).unwrap(),
            share
        );
        assert!(toml::from_str::<IsolationForestParams>("contamination = \"most\"").is_err());
        assert!(toml::from_str::<IsolationForestParams>("max_features = 3").is_err());
    }

    /// A well-formed file whose forest breaks its rules is a load error naming what is wrong,
    /// not a walk out of a tree or a row.
    #[test]
    fn a_tampered_isolation_forest_file_is_a_load_error() {
        let (data, labels) = planted(60, 4, 5);
        let forest = IsolationForestParams {
            trees: 3,
            max_samples: 32,
            ..IsolationForestParams::default()
        }
        .fit(&data, &labels, 2)
        .unwrap();
        assert_eq!(crate::testdata::refusal(&forest), None);
        let refused = |change: &dyn Fn(&mut IsolationForest)| {
            let mut forest = forest.clone();
            change(&mut forest);
            crate::testdata::refusal(&forest).expect("a load error")
        };
        let root = 0;
        assert!(forest.nodes[root].value.is_finite(), "the root cuts");
        let leaf = forest.nodes.iter().rposition(|n| n.value.is_infinite());
        let (leaf, last_tree) = (leaf.unwrap(), forest.roots.len() - 1);
        let tree_end = forest.roots[1] as usize;
        assert!(
            refused(&|f| f.nodes[root].feature = f.columns as u32)
                .contains("node 0 of tree 0 is malformed")
        );
        assert!(refused(&|f| f.nodes[root].left = tree_end as u32 - 1).contains("of tree 0"));
        assert!(refused(&|f| f.nodes[root].left = 0).contains("node 0 of tree 0"));
        assert!(refused(&|f| f.nodes[root].value = f64::NAN).contains("node 0 of tree 0"));
        let text = refused(&|f| f.nodes[leaf].value = 0.5);
        assert!(text.contains(&format!("of tree {last_tree}")), "{text}");
        assert!(refused(&|f| f.subsample = 2).contains("is malformed"));
        assert!(refused(&|f| f.subsample = 1).contains("trees of 1 rows"));
        assert!(refused(&|f| f.columns = 0).contains("on 0 columns"));
        assert!(
            refused(&|f| {
                f.path_lengths.pop();
            })
            .contains("path lengths")
        );
        assert!(refused(&|f| f.path_lengths[0] = f64::INFINITY).contains("path lengths"));
        assert!(refused(&|f| f.roots[1] = f.roots[2]).contains("do not divide"));
        assert!(refused(&|f| f.roots.clear()).contains("do not divide"));
        assert!(refused(&|f| f.roots[0] = 1).contains("do not divide"));
        assert!(refused(&|f| f.threshold = f64::NAN).contains("threshold NaN"));
    }

    #[test]
    fn bad_parameters_and_data_are_fit_errors() {
        let (data, labels) = planted(50, 5, 4);
        let fit = |p: IsolationForestParams, labels: &[bool]| p.fit(&data, labels, 0).map(|_| ());
        let expect = |result: Result<(), FitError>, name: &str| match result {
            Err(FitError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        };
        let with = |change: fn(&mut IsolationForestParams)| {
            let mut params = IsolationForestParams::default();
            change(&mut params);
            params
        };
        expect(fit(with(|p| p.trees = 0), &labels), "trees");
        expect(fit(with(|p| p.max_samples = 1), &labels), "max_samples");
        for share in [0.0, 0.6, -0.1, f64::NAN] {
            let params = IsolationForestParams {
                contamination: Contamination::Share(share),
                ..Default::default()
            };
            expect(fit(params, &labels), "contamination");
        }
        expect(
            fit(with(|p| p.normal_only = true), &vec![true; data.len()]),
            "normal_only",
        );
        assert_eq!(
            fit(with(|p| p.normal_only = true), &[]),
            Err(FitError::LengthMismatch {
                rows: data.len(),
                labels: 0
            })
        );
        assert_eq!(
            IsolationForestParams::default().fit(&Encoded::default(), &[], 0),
            Err(FitError::Empty)
        );
        expect(
            IsolationForestParams::default()
                .fit(&data.select(&[0]), &[], 0)
                .map(|_| ()),
            "max_samples",
        );
        // Unsupervised, one class of labels is fine.
        assert!(fit(IsolationForestParams::default(), &vec![false; data.len()]).is_ok());
    }

    #[test]
    #[ignore = "reads the full data set; run with --release"]
    fn full_data_holdout() {
        let split = split_file("Network_anomaly_data.csv");
        // The third fit shows the contamination threshold (near the 46.5 % attack share);
        // its fit time includes scoring the 88k training rows for the quantile.
        // Floors just under the ROC-AUC measured on 2026-12-03 (0.71964 on all rows, 0.98024
        // on normal rows only); the threshold's accuracy is only the auto setting's concern
        // (0.92980 on normal rows only).
        let settings = [
            (false, Contamination::Auto, 0.715),
            (true, Contamination::Auto, 0.978),
            (false, Contamination::Share(0.45), 0.715),
        ];
        for (normal_only, contamination, auc_floor) in settings {
            let params = IsolationForestParams {
                normal_only,
                contamination,
                ..IsolationForestParams::default()
            };
            let name = format!("normal_only {normal_only}, contamination {contamination}");
            let result = report_holdout(&name, &split, |x, y| params.fit(x, y, 42).unwrap());
            assert!(result.roc_auc.unwrap() >= auc_floor, "{result:?}");
            if normal_only {
                assert!(result.accuracy >= 0.925, "{result:?}");
            }
        }
    }
}
