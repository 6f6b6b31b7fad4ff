//! The tree models' explainer: exact TreeSHAP.
//!
//! The tree models (decision tree, random forest, bagging, gradient boosting) are explained by
//! exact path-dependent TreeSHAP (Lundberg et al., "From local explanations to global
//! understanding with explainable AI for trees", Nature Machine Intelligence 2020): each
//! feature's Shapley value of the function "the tree's expected output knowing only a subset
//! of the features", where a split on an unknown feature sends the row down both sides
//! weighted by the training rows that went each way (the node covers stored in the model
//! files since format 4). The base value is the tree's cover-weighted mean leaf value, and the
//! base plus the contributions is the tree's output exactly (to rounding).
//!
//! Which output is explained:
//! - decision tree, random forest, bagging: the score itself, the probability of attack (a
//!   forest's score is the mean of its trees', so its explanation is the mean of theirs);
//! - gradient boosting: the raw score, the log-odds of attack, of which the reported
//!   probability is the logistic function. Shapley values add up only in that space, where
//!   the trees' outputs are summed; [`Space::LogOdds`] says so in every output.
//!
//! A feature is one of the schema's features: a categorical feature's splits test its codes,
//! and its contribution is the feature's.
//!
//! ## How: Linear TreeSHAP, integrated by Gauss–Legendre quadrature
//!
//! The same values as the paper's Algorithm 2 (and `shap`'s `tree_shap_recursive`), computed
//! in O(nodes × D) per tree instead of O(leaves × D²), D the most distinct features on a
//! root-to-leaf path (Yu et al., "Linear TreeShap", NeurIPS 2022). For a leaf of value v whose
//! path tests the distinct features U, feature j with the fraction `z_j` of training rows
//! (the product of its splits' cover ratios) and `o_j` = 1 if the row follows all of its
//! splits (else 0), the Shapley weight |Q|!(|U|−|Q|−1)!/|U|! is the Beta integral
//! ∫₀¹ t^|Q| (1−t)^(|U|−|Q|−1) dt, which turns feature i's share into
//!
//! φᵢ = v (oᵢ − zᵢ) ∫₀¹ P(t) / fᵢ(t) dt,  fⱼ(t) = oⱼ t + zⱼ (1 − t),  P(t) = Π_{j∈U} fⱼ(t),
//!
//! the integral of a polynomial of degree below D: a Gauss–Legendre rule of ⌈D/2⌉ points
//! integrates it exactly. One walk down the tree carries P at those points (a split
//! multiplies in its feature's new factor and divides out the old one); on the way back each
//! node returns the sum of its leaves' v·P, and each split adds its feature's integral for
//! the leaves whose last split on that feature it is. Every factor is positive and the
//! polynomials are summed, never interpolated, so nothing cancels: the values agree with
//! enumeration to 1e-12 (tests below).
//!
//! Why this and not the paper's recursion, measured with `benches/explain.rs` on NSL-KDD, one
//! thread, same machine and load (bench/EXPLAIN.md): the recursion copies and re-weights the
//! whole path at every node and unwinds it at every leaf, O(D²) per leaf: 0.75 ms per record
//! for gradient boosting (100 trees of 31 leaves, D up to 14), 10.4 ms for the 100-tree
//! forest (depth up to 32). This walk: 0.22 ms and 3.6–4.9 ms. Fast TreeSHAP v2 (Yang 2021)
//! would precompute 2^D values per leaf: possible for shallow boosting, not for the fully
//! grown forests. The points are handled `LANES` at a time (fixed-size arrays the compiler
//! vectorises); a split the row leaves has the factor z·(1 − t), whose reciprocal needs no
//! division; the cover shares are precomputed per node.
//!
//! Each tree gets the rule its own deepest path needs (⌈D/2⌉ points, D of that tree: a
//! boosting tree of 31 leaves mostly needs 1 or 2 chunks of 4 points, a fully grown forest
//! tree 3 or 4), and the walk is compiled once per number of chunks, 1 to `PASS_CHUNKS`, so
//! that its loops over the chunks are unrolled and its per-level arrays indexed with one
//! check; a rule of more chunks (paths of over 32 distinct features) is walked in passes,
//! the points being independent of one another. The nodes are one array of what the walk
//! reads (test, leaf value, cover share, liveness), not three. Measured the same way
//! (1,000 rows, fastest of 5; before at load average 8–11, after at 6–8, so part of it is
//! the load): gradient boosting 0.33 → 0.15 ms per record, the forest 4.5 → 3.4 ms; one
//! record at a time, gradient boosting's p50 is 0.13 ms at either load (bench/EXPLAIN.md).
//!
//! The forest's walk then waited on memory: its 100 trees' nodes (2.7 MB at 48 bytes a node)
//! do not fit a core's 1 MB L2 cache, every row streams them all, and a third of the walk's
//! samples (`perf record`, one thread) sat on the load of a child node. So a node is 32
//! bytes (a leaf's value where a split keeps its lower bound, the cover share's reciprocal
//! not stored but computed once per edge), a split's two children share one cache line, and
//! the lines are laid out depth first (`ShapTree`): the forest's nodes take 1.8 MB, and
//! one thread's CPU time per record went from 1.8–3.2 to 1.5–1.7 ms (four runs each, load
//! average 9–14, so only the direction is sure; bench/EXPLAIN.md). Tried and dropped:
//! the walk compiled for AVX2 (its 4 points per instruction instead of 2: no change, the
//! walk is not bound by arithmetic) and prefetching the lines of the child walked second
//! (no gain seen).

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
/// covers positive and adding up), laid out for the walk: the root, then each split's two
/// children side by side in one cache line, depth first (a split's children right after
/// its own pair), so that a walk reads every tree's memory forward, in whole lines.
#[derive(Debug, Clone)]
pub(crate) struct ShapTree {
    /// Node `i` is `lines[i / 2].0[i % 2]`; the root is node 0, node 1 a blank leaf.
    lines: Vec<Line>,
    /// The tree's nodes (the blank not counted).
    size: usize,
    depth: usize,
    /// The quadrature exact for this tree's polynomials.
    rule: Rule,
    /// The cover-weighted mean leaf value: the tree's output knowing no feature.
    expected: f64,
}

/// A node as the walk reads it, everything in 32 bytes: the walk streams every tree's
/// nodes once per row, and waiting for them was a third of its time (`perf`: the loads of
/// a child's `live`), so a split's two children share one cache line.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Split: rows whose value in `column` lies in `low..=high` go to `left`, the others to
    /// `left + 1`. A leaf has `left` 0 (no node is a child of the root's position) and its
    /// value (shifted, see [`ShapTree::new`]) in `low`.
    low: f64,
    high: f64,
    /// Its cover over its parent's (1 for the root): the fraction of the rows that reach the
    /// parent which go this way.
    share: f64,
    left: u32,
    column: u16,
    /// Whether a leaf below it (or it) has a value other than 0; the others add nothing and
    /// are not walked.
    live: bool,
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.left == 0
    }

    /// A leaf's value.
    fn value(&self) -> f64 {
        self.low
    }

    /// A leaf valued 0, which the walk never enters: the root's companion in its line.
    const BLANK: Node = Node {
        low: 0.0,
        high: 0.0,
        share: 1.0,
        left: 0,
        column: 0,
        live: false,
    };
}

/// Two nodes, a cache line: a split's children.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Line([Node; 2]);

/// Node `i` of `lines`.
#[inline(always)]
fn node_at(lines: &[Line], i: usize) -> Node {
    lines[i >> 1].0[i & 1]
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
        let nodes: Vec<ShapNode> = nodes
            .into_iter()
            .map(|node| match node.column {
                None => ShapNode {
                    value: node.value - shift,
                    ..node
                },
                Some(_) => node,
            })
            .collect();
        let mut live = vec![false; nodes.len()];
        for (i, node) in nodes.iter().enumerate().rev() {
            live[i] = match node.column {
                None => node.value != 0.0,
                Some(_) => live[node.left as usize] || live[node.left as usize + 1],
            };
        }
        let mut share = vec![1.0; nodes.len()];
        for node in &nodes {
            if node.column.is_some() {
                for child in [node.left as usize, node.left as usize + 1] {
                    share[child] = nodes[child].cover / node.cover;
                }
            }
        }
        let distinct = if nodes.is_empty() {
            0
        } else {
            most_distinct(&nodes, 0, &mut Vec::new())
        };
        // Children follow their parents, so a split's `left` is never 0, a leaf's mark.
        let flat: Vec<Node> = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| Node {
                low: if node.column.is_some() {
                    node.low
                } else {
                    node.value
                },
                high: node.high,
                share: share[i],
                left: node.column.map_or(0, |_| node.left),
                column: node.column.unwrap_or(0),
                live: live[i],
            })
            .collect();
        let mut placed = Vec::with_capacity(flat.len() + 1);
        if let Some(&root) = flat.first() {
            placed.extend([root, Node::BLANK]);
            place(&flat, 0, 0, &mut placed);
        }
        let lines = placed
            .chunks(2)
            .map(|pair| Line([pair[0], pair.get(1).copied().unwrap_or(Node::BLANK)]))
            .collect();
        ShapTree {
            lines,
            size: flat.len(),
            depth: depth.into_iter().max().unwrap_or(0),
            expected: expected.first().copied().unwrap_or(0.0),
            rule: Rule::gauss_legendre(distinct.div_ceil(2).max(1)),
        }
    }

    /// Node `i` in the walk's layout.
    fn node(&self, i: usize) -> Node {
        node_at(&self.lines, i)
    }

    /// The root, if the tree has a node.
    fn root(&self) -> Option<Node> {
        (self.size > 0).then(|| self.node(0))
    }
}

/// Appends the children of `flat[old]`, placed at `new`, and their subtrees, depth first:
/// each split's pair of children, then the first child's subtree, then the second's.
fn place(flat: &[Node], old: usize, new: usize, placed: &mut Vec<Node>) {
    if flat[old].is_leaf() {
        return;
    }
    let (left, children) = (flat[old].left as usize, placed.len());
    placed[new].left = u32::try_from(children).expect("a tree's nodes are counted in u32");
    placed.extend([flat[left], flat[left + 1]]);
    place(flat, left, children, placed);
    place(flat, left + 1, children + 1, placed);
}

/// The most distinct features tested on a path from `node` down to a leaf, counting those
/// already in `above`.
fn most_distinct(nodes: &[ShapNode], node: usize, above: &mut Vec<u16>) -> usize {
    let Some(column) = nodes[node].column else {
        return above.len();
    };
    let new = !above.contains(&column);
    if new {
        above.push(column);
    }
    let left = nodes[node].left as usize;
    let most = most_distinct(nodes, left, above).max(most_distinct(nodes, left + 1, above));
    if new {
        above.pop();
    }
    most
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

/// Points handled together: the walk's vectors are chunks of this many, which the compiler
/// turns into a few SIMD instructions each, whatever the number of points.
const LANES: usize = 4;
type Lanes = [f64; LANES];

fn lanes(f: impl Fn(usize) -> f64) -> Lanes {
    std::array::from_fn(f)
}

/// A Gauss–Legendre rule on [0, 1]: Σ `weight`·p(`t`) = ∫₀¹ p(t) dt for every polynomial p
/// of degree below twice its number of points; with what the walk divides by, once. In
/// chunks of [`LANES`] points, the last padded by points of weight 0 at t = ½ (whose values
/// stay finite and count for nothing).
#[derive(Debug, Clone)]
struct Rule {
    t: Vec<Lanes>,
    one_minus_t: Vec<Lanes>,
    weight: Vec<Lanes>,
    /// 1 / (1 − t): a split the row does not follow has the factor z·(1 − t).
    over_one_minus_t: Vec<Lanes>,
    /// weight / (1 − t).
    weight_over_one_minus_t: Vec<Lanes>,
}

impl Rule {
    /// The `points`-point rule: the roots of the Legendre polynomial by Newton's method from
    /// the usual cosine guesses (as in Numerical Recipes' `gauleg`), mapped to [0, 1].
    fn gauss_legendre(points: usize) -> Rule {
        let n = points as f64;
        let (mut t, mut weight) = (Vec::new(), Vec::new());
        for i in 0..points {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n + 0.5)).cos();
            let mut slope = 1.0;
            for _ in 0..100 {
                // P_n(x) and P_{n−1}(x) by the three-term recurrence.
                let (mut previous, mut value) = (1.0, x);
                for k in 2..=points {
                    let k = k as f64;
                    (previous, value) = (
                        value,
                        ((2.0 * k - 1.0) * x * value - (k - 1.0) * previous) / k,
                    );
                }
                slope = n * (x * value - previous) / (x * x - 1.0);
                let step = value / slope;
                x -= step;
                if step.abs() <= 1e-16 {
                    break;
                }
            }
            t.push((1.0 - x) / 2.0);
            weight.push(1.0 / ((1.0 - x * x) * slope * slope));
        }
        let chunks = points.div_ceil(LANES);
        t.resize(chunks * LANES, 0.5);
        weight.resize(chunks * LANES, 0.0);
        let chunked = |f: &dyn Fn(usize) -> f64| -> Vec<Lanes> {
            (0..chunks).map(|c| lanes(|k| f(c * LANES + k))).collect()
        };
        Rule {
            t: chunked(&|i| t[i]),
            one_minus_t: chunked(&|i| 1.0 - t[i]),
            weight: chunked(&|i| weight[i]),
            over_one_minus_t: chunked(&|i| 1.0 / (1.0 - t[i])),
            weight_over_one_minus_t: chunked(&|i| weight[i] / (1.0 - t[i])),
        }
    }

    fn chunks(&self) -> usize {
        self.t.len()
    }
}

/// TreeSHAP over an ensemble whose output is `offset + scale × Σ trees' outputs`.
#[derive(Debug, Clone)]
pub struct TreeExplainer {
    trees: Vec<ShapTree>,
    scale: f64,
    offset: f64,
    columns: usize,
    space: Space,
    /// The scratch every row's walk needs: levels below the root.
    levels: usize,
    /// What a row costs: the trees' nodes × chunks of points (see [`SHARED_WORK`]).
    work: usize,
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
            levels: trees.iter().map(|t| t.depth + 1).max().unwrap_or(1),
            work: trees.iter().map(|t| t.size * t.rule.chunks()).sum(),
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

    /// Every row's explanation. A row's contributions are summed over `TREES_PER_CHUNK`
    /// trees at a time, chunk after chunk in the order of the trees, whether the chunks run
    /// on one thread (rows explained side by side) or on several (one row, a server's
    /// request), so explanations are the same bit for bit whatever the thread count and
    /// however the rows are batched. One row's trees are shared only when they are
    /// `SHARED_WORK` or more.
    pub fn explain(&self, data: &Encoded) -> Vec<Explanation> {
        let base = self.base();
        let parallel = data.len() == 1 && self.work >= SHARED_WORK;
        let explain_row = |row| self.explain_row(data, row, base, parallel);
        if data.len() <= crate::tree::IN_PLACE_ROWS {
            (0..data.len()).map(explain_row).collect()
        } else {
            (0..data.len()).into_par_iter().map(explain_row).collect()
        }
    }

    fn explain_row(&self, data: &Encoded, row: usize, base: f64, parallel: bool) -> Explanation {
        // The row as trees read it: numeric values, then codes as numbers (an unseen code,
        // `nadir_data::UNSEEN`, equals no split's code, so it goes right, as when scoring).
        let values: Vec<f64> = data.numeric[row]
            .iter()
            .copied()
            .chain(data.codes[row].iter().map(|&code| f64::from(code)))
            .collect();
        let mut phi = vec![0.0; self.columns];
        let add = |phi: &mut Vec<f64>, part: &[f64]| {
            phi.iter_mut().zip(part).for_each(|(p, x)| *p += x);
        };
        if parallel {
            let parts: Vec<Vec<f64>> = self
                .trees
                .par_chunks(TREES_PER_CHUNK)
                .map(|trees| {
                    let mut part = vec![0.0; self.columns];
                    self.walk(trees, &values, &mut part, &mut self.scratch());
                    part
                })
                .collect();
            parts.iter().for_each(|part| add(&mut phi, part));
        } else {
            let (mut part, mut scratch) = (vec![0.0; self.columns], self.scratch());
            for trees in self.trees.chunks(TREES_PER_CHUNK) {
                part.fill(0.0);
                self.walk(trees, &values, &mut part, &mut scratch);
                add(&mut phi, &part);
            }
        }
        phi.iter_mut().for_each(|p| *p *= self.scale);
        Explanation::new(base, phi, self.space, Method::TreeShap)
    }

    fn scratch(&self) -> Scratch {
        Scratch::new(self.levels, self.columns)
    }

    /// Adds the contributions of `trees` for the row `values` to `phi`.
    fn walk(&self, trees: &[ShapTree], values: &[f64], phi: &mut [f64], scratch: &mut Scratch) {
        for tree in trees {
            // A tree that is one leaf, or whose leaves are all valued 0, adds nothing.
            let Some(root) = tree.root() else {
                continue;
            };
            if !root.live || root.is_leaf() {
                continue;
            }
            // The points are independent of one another: a rule of more than
            // `PASS_CHUNKS` chunks is walked in passes of at most that many.
            let chunks = tree.rule.chunks();
            let mut start = 0;
            while start < chunks {
                let pass = (chunks - start).min(PASS_CHUNKS);
                match pass {
                    1 => walk_tree::<1>(tree, start, values, phi, scratch),
                    2 => walk_tree::<2>(tree, start, values, phi, scratch),
                    3 => walk_tree::<3>(tree, start, values, phi, scratch),
                    _ => walk_tree::<PASS_CHUNKS>(tree, start, values, phi, scratch),
                }
                start += pass;
            }
        }
    }
}

/// The work (nodes × chunks of points, summed over the trees) from which one row's trees are
/// shared among threads: about half a millisecond of one core (some 15 ns each). Below it
/// the hand-off costs more than it saves, and on a busy machine a row waits for a thread
/// that is not running: measured with `benches/explain.rs`, one record at a time, gradient
/// boosting (100 trees of 31 leaves, about 9,000) p50 0.133 ms on one thread against
/// 0.140 ms on two, p99 4.1 against 5.3 ms; the 100-tree forest (about 170,000) 4.0 against
/// 2.2 ms at p50.
const SHARED_WORK: usize = 30_000;

/// Trees whose contributions to a row are summed before they join the row's: the unit of
/// work when one row's trees are shared among threads (see [`TreeExplainer::explain`]).
const TREES_PER_CHUNK: usize = 8;

/// The most chunks of points one walk carries (16 points: exact for paths of up to 32
/// distinct features in one pass). The walk is compiled once per number of chunks up to this,
/// so that its loops over the chunks are unrolled and its arrays are indexed without checks:
/// the boosting trees' 1 or 2 chunks cost what they need and no more.
const PASS_CHUNKS: usize = 4;

/// Walks `tree` for the `C` chunks of its rule from `start`, adding to `phi`.
fn walk_tree<const C: usize>(
    tree: &ShapTree,
    start: usize,
    values: &[f64],
    phi: &mut [f64],
    s: &mut Scratch,
) {
    let points = Points::<C>::of(&tree.rule, start);
    let (path, _) = s.path.as_chunks_mut::<C>();
    let (below, _) = s.below.as_chunks_mut::<C>();
    let (reciprocal, _) = s.reciprocal.as_chunks_mut::<C>();
    let (deeper, _) = s.deeper.as_chunks_mut::<C>();
    path[0] = [[1.0; LANES]; C];
    Walk {
        nodes: &tree.lines,
        points: &points,
        values,
        phi,
        path,
        below,
        reciprocal,
        deeper,
        edge: &mut s.edge,
        last: &mut s.last,
    }
    .node(0, 0);
}

/// `C` chunks of a rule's points, and what the walk derives from them.
struct Points<const C: usize> {
    t: [Lanes; C],
    one_minus_t: [Lanes; C],
    weight: [Lanes; C],
    over_one_minus_t: [Lanes; C],
    weight_over_one_minus_t: [Lanes; C],
}

impl<const C: usize> Points<C> {
    fn of(rule: &Rule, start: usize) -> Points<C> {
        let take = |all: &[Lanes]| std::array::from_fn(|c| all[start + c]);
        Points {
            t: take(&rule.t),
            one_minus_t: take(&rule.one_minus_t),
            weight: take(&rule.weight),
            over_one_minus_t: take(&rule.over_one_minus_t),
            weight_over_one_minus_t: take(&rule.weight_over_one_minus_t),
        }
    }
}

/// What one walk keeps per level of the tree, [`PASS_CHUNKS`] chunks of points each (a
/// walk of fewer chunks reads the same memory as that many per level): at the node of that
/// level on the current path, P at the points (`path`), the sum of its leaves' v·P
/// (`below`); for the split that led to it, the reciprocal of its feature's factor
/// (`reciprocal`), the sum of v·P under the next splits on the same feature further down
/// (`deeper`), and its feature's `o`, `z` and 1/`z` (`edge`). `last` gives, per feature, the
/// level of the latest split on it on the path.
struct Scratch {
    path: Vec<Lanes>,
    below: Vec<Lanes>,
    reciprocal: Vec<Lanes>,
    deeper: Vec<Lanes>,
    edge: Vec<(f64, f64, f64)>,
    last: Vec<Option<usize>>,
}

impl Scratch {
    fn new(levels: usize, columns: usize) -> Scratch {
        let zeros = vec![[0.0; LANES]; levels * PASS_CHUNKS];
        Scratch {
            path: zeros.clone(),
            below: zeros.clone(),
            reciprocal: zeros.clone(),
            deeper: zeros,
            edge: vec![(1.0, 1.0, 1.0); levels],
            last: vec![None; columns],
        }
    }
}

/// One row's walk of one tree for `C` chunks of points, adding its contributions to `phi`.
struct Walk<'a, const C: usize> {
    nodes: &'a [Line],
    points: &'a Points<C>,
    values: &'a [f64],
    phi: &'a mut [f64],
    path: &'a mut [[Lanes; C]],
    below: &'a mut [[Lanes; C]],
    reciprocal: &'a mut [[Lanes; C]],
    deeper: &'a mut [[Lanes; C]],
    edge: &'a mut [(f64, f64, f64)],
    last: &'a mut [Option<usize>],
}

impl<const C: usize> Walk<'_, C> {
    /// Walks the live subtree of the split `node`, at `level`, whose `path` entry is set;
    /// leaves the sum of its leaves' v·P in its `below` entry. The child the row follows
    /// goes first, each by code of its own, without a branch per point on which it is.
    fn node(&mut self, node: usize, level: usize) {
        let here = node_at(self.nodes, node);
        let column = usize::from(here.column);
        let left = here.left as usize;
        let value = self.values[column];
        let (hot, cold) = if here.low <= value && value <= here.high {
            (left, left + 1)
        } else {
            (left + 1, left)
        };
        let previous = self.last[column];
        let before = previous.map_or((1.0, 1.0, 1.0), |l| self.edge[l]);
        self.below[level] = [[0.0; LANES]; C];
        let split = Split {
            level,
            column,
            previous,
            before,
        };
        if node_at(self.nodes, hot).live {
            if before.0 == 0.0 {
                self.child::<false>(hot, &split);
            } else {
                self.child::<true>(hot, &split);
            }
        }
        if node_at(self.nodes, cold).live {
            self.child::<false>(cold, &split);
        }
    }

    /// The edge from a split to its live `child`, which the row follows (`FOLLOWS`: it
    /// follows every split on the feature so far, o = 1) or not (o = 0): puts the feature's
    /// new factor f(t) = o·t + z·(1 − t) in P in place of its previous one, walks the child
    /// (a leaf's v·P at once), adds the feature's integral and the child's sums to its
    /// parent's.
    fn child<const FOLLOWS: bool>(&mut self, child: usize, split: &Split) {
        let there = node_at(self.nodes, child);
        let points = self.points;
        let (at, next) = (split.level, split.level + 1);
        let zero = split.before.1 * there.share;
        let over_zero = 1.0 / zero;
        let undo = split.previous.map(|l| self.reciprocal[l]);
        let parent = self.path[at];
        let mut path = [[0.0; LANES]; C];
        let mut reciprocal = [[0.0; LANES]; C];
        for c in 0..C {
            let (factor, over_factor) = if FOLLOWS {
                let t = points.t[c];
                let factor = lanes(|k| zero + (1.0 - zero) * t[k]);
                (factor, lanes(|k| 1.0 / factor[k]))
            } else {
                let (one_minus_t, over) = (points.one_minus_t[c], points.over_one_minus_t[c]);
                (
                    lanes(|k| zero * one_minus_t[k]),
                    lanes(|k| over_zero * over[k]),
                )
            };
            let undo = undo.map_or([1.0; LANES], |u| u[c]);
            path[c] = lanes(|k| parent[c][k] * factor[k] * undo[k]);
            reciprocal[c] = over_factor;
        }
        self.path[next] = path;
        self.reciprocal[next] = reciprocal;
        self.deeper[next] = [[0.0; LANES]; C];
        if there.is_leaf() {
            let value = there.value();
            self.below[next] = path.map(|p| lanes(|k| value * p[k]));
        } else {
            self.edge[next] = (if FOLLOWS { 1.0 } else { 0.0 }, zero, over_zero);
            self.last[split.column] = Some(next);
            self.node(child, next);
            self.last[split.column] = split.previous;
        }
        // The leaves whose last split on the feature is this one: all below, but those under
        // a deeper split on it (whose own integrals have counted them). Where the row does
        // not follow, (o − z)/f(t) is −1/(1 − t).
        let (below, deeper) = (self.below[next], self.deeper[next]);
        let mut sum = [0.0; LANES];
        for c in 0..C {
            let (below, deeper) = (below[c], deeper[c]);
            let weighted = if FOLLOWS {
                let (w, r) = (points.weight[c], reciprocal[c]);
                lanes(|k| (1.0 - zero) * w[k] * (below[k] - deeper[k]) * r[k])
            } else {
                let w = points.weight_over_one_minus_t[c];
                lanes(|k| -w[k] * (below[k] - deeper[k]))
            };
            sum = lanes(|k| sum[k] + weighted[k]);
        }
        self.phi[split.column] += sum.iter().sum::<f64>();
        if let Some(o) = split.previous {
            let deeper = &mut self.deeper[o];
            for c in 0..C {
                deeper[c] = lanes(|k| deeper[c][k] + below[c][k]);
            }
        }
        let total = &mut self.below[at];
        for c in 0..C {
            total[c] = lanes(|k| total[c][k] + below[c][k]);
        }
    }
}

/// A split being walked: its level, feature, the level of the previous split on that feature
/// on the path (if any) and that split's `o`, `z`, 1/`z` (else 1, 1, 1).
struct Split {
    level: usize,
    column: usize,
    previous: Option<usize>,
    before: (f64, f64, f64),
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

    /// Every split's children share a cache line and come after it, each subtree's nodes
    /// are contiguous (depth first), and every node of the model's trees is placed once.
    #[test]
    fn nodes_are_laid_out_in_lines_depth_first() {
        let s = sample_split();
        for model in explained_models(&s) {
            let explainer = TreeExplainer::of(&model).unwrap();
            for tree in &explainer.trees {
                assert_eq!(std::mem::size_of::<Line>(), 64);
                assert_eq!(tree.lines.as_ptr() as usize % 64, 0);
                assert!(tree.lines.len() * 2 > tree.size);
                // Depth first: a split's children are the next pair placed after its own.
                fn check(tree: &ShapTree, i: usize, reached: &mut usize) {
                    let node = tree.node(i);
                    if node.is_leaf() {
                        return;
                    }
                    let left = node.left as usize;
                    assert_eq!(left % 2, 0, "children straddle two lines");
                    assert_eq!(left, *reached, "not depth first");
                    *reached += 2;
                    check(tree, left, reached);
                    check(tree, left + 1, reached);
                }
                let mut reached = 2;
                if tree.size > 0 {
                    check(tree, 0, &mut reached);
                }
                assert_eq!(reached, tree.size.max(1) + 1);
            }
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
        let here = tree.node(node);
        if here.is_leaf() {
            return here.value();
        }
        let left = here.left as usize;
        if known.contains(&here.column) {
            let value = values[usize::from(here.column)];
            let child = if here.low <= value && value <= here.high {
                left
            } else {
                left + 1
            };
            conditional_value(tree, values, known, child)
        } else {
            let (l, r) = (tree.node(left), tree.node(left + 1));
            l.share * conditional_value(tree, values, known, left)
                + r.share * conditional_value(tree, values, known, left + 1)
        }
    }

    /// Every node of `tree`, the blank included.
    fn nodes(tree: &ShapTree) -> impl Iterator<Item = Node> + '_ {
        tree.lines.iter().flat_map(|line| line.0)
    }

    /// The features `tree` splits on.
    fn split_features(tree: &ShapTree) -> Vec<u16> {
        let mut features: Vec<u16> = nodes(tree)
            .filter(|n| !n.is_leaf())
            .map(|n| n.column)
            .collect();
        features.sort_unstable();
        features.dedup();
        features
    }

    /// Shapley values by enumerating every subset of the features the tree splits on (the
    /// others are dummies, whose presence changes no one's value).
    fn exact_shapley(tree: &ShapTree, values: &[f64], columns: usize) -> Vec<f64> {
        let features = split_features(tree);
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
                let splits = nodes(t).filter(|n| !n.is_leaf()).count();
                split_features(t).len() < splits
            })
            .count();
        assert!(repeats > 0, "no tree splits twice on a feature");
        for tree in &trees {
            let explainer =
                TreeExplainer::sum(vec![tree.clone()], 41, 1.0, 0.0, Space::Probability);
            for row in 0..s.test.len() {
                let fast = explainer
                    .explain_row(&s.test, row, 0.0, false)
                    .contributions;
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

    /// A rule of more points than a tree needs is exact too, so the same trees explained
    /// with 1 to 24 points per tree (where enough) equal enumeration: every compiled width
    /// of the walk (1 to `PASS_CHUNKS` chunks) and rules walked in several passes (above 16
    /// points), which the forests' deepest trees need.
    #[test]
    fn every_walk_width_and_pass_split_equals_enumeration() {
        let s = sample_split();
        let mut chunks_checked = Vec::new();
        for (depth, seed) in [3, 4].into_iter().flat_map(|d| (0..4).map(move |s| (d, s))) {
            let params = DecisionTreeParams {
                max_depth: Some(depth),
                max_features: crate::tree::MaxFeatures::Count(2),
                ..DecisionTreeParams::default()
            };
            let trees = params
                .fit(&s.train, &s.train_labels, seed)
                .unwrap()
                .shap_trees()
                .unwrap();
            let tree = &trees[0];
            let features = split_features(tree).len();
            if features > 8 {
                continue;
            }
            for points in [1, 2, 3, 4, 5, 8, 9, 12, 13, 16, 17, 24] {
                if points * 2 < features {
                    continue;
                }
                let mut wider = tree.clone();
                wider.rule = Rule::gauss_legendre(points);
                let explainer = TreeExplainer::sum(vec![wider], 41, 1.0, 0.0, Space::Probability);
                for row in (0..s.test.len()).step_by(7) {
                    let fast = explainer
                        .explain_row(&s.test, row, 0.0, false)
                        .contributions;
                    let exact = exact_shapley(tree, &tree_row(&s.test, row), 41);
                    for (column, (a, b)) in fast.iter().zip(&exact).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-12,
                            "depth {depth}, {points} points, row {row} column {column}: \
                             {a} against {b}"
                        );
                    }
                }
                chunks_checked.push(points.div_ceil(LANES));
            }
        }
        // Every width of the walk, and rules of 5 and 6 chunks (passes of 4 + 1 and 4 + 2).
        chunks_checked.sort_unstable();
        let checked = chunks_checked.len();
        chunks_checked.dedup();
        assert_eq!(chunks_checked, [1, 2, 3, 4, 5, 6]);
        assert!(checked >= 30, "{checked} trees and rules checked");
    }

    /// The same rows give the same explanations bit for bit, whatever the thread count and
    /// however the rows are batched (one row alone shares its trees among the threads).
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
        // One row: its trees shared among the threads, in chunks (10 trees make two), or not
        // (10 small trees are less than `SHARED_WORK`).
        assert!(explainer.work < SHARED_WORK);
        for threads in [1, 2] {
            let single =
                crate::testdata::with_threads(threads, || explainer.explain(&s.test.select(&[7])));
            assert_eq!(single[0], one[7]);
            let shared = crate::testdata::with_threads(threads, || {
                explainer.explain_row(&s.test, 7, explainer.base(), true)
            });
            assert_eq!(shared, one[7]);
        }
        assert!(s.test.len() > crate::tree::IN_PLACE_ROWS);
    }
}
