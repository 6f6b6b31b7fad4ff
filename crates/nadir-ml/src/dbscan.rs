//! DBSCAN over a kd-tree, with the tools to choose its parameters and to judge its clusters:
//! the k-distance curve and its knee, a silhouette-scored grid over eps × min_samples, and
//! agreement with the attack labels.
//!
//! # The algorithm
//!
//! DBSCAN (Ester, Kriegel, Sander & Xu, KDD 1996; Schubert et al., "DBSCAN revisited", ACM
//! TODS 2017) calls a point *core* when at least `min_samples` points, itself included, lie
//! within distance `eps` of it (distance ≤ eps, as scikit-learn). Cores within `eps` of each
//! other share a cluster; a non-core point within `eps` of a core is an *edge* (border) point
//! of that core's cluster; everything else is *noise*. Here it runs in three parallel passes
//! over a [`KdTree`], none of which stores a neighbourhood, so memory stays linear in the rows:
//!
//! 1. **Cores**: a radius count per point that stops at `min_samples`, and that counts a tree
//!    node whole, without distances, when its box lies inside the ball.
//! 2. **Clusters**: a concurrent union-find over the rows. Each core's radius query unites it
//!    with the cores it reaches. Most of that work would be wasted inside dense clusters,
//!    where nearly every neighbour is already in the core's set, so the queries skip what is
//!    known to be there. The cores of nodes whose box diagonal is at most `eps` are united
//!    beforehand. The queries run in rounds over growing, evenly spread subsets of the cores,
//!    and between rounds a snapshot records each core's set and which nodes hold cores of one
//!    set only; a query then skips the nodes and points of its own set, and unites with a
//!    single core of a one-set node that lies wholly within `eps`. In the last round, a leaf
//!    whose cores share one set queries once around their bounding box instead of once per
//!    core. Together with the box-inside counting of pass 1, this is what keeps dense regions
//!    and blocks of exact duplicates cheap (on the 20-dimensional NSL-KDD projection, a
//!    quarter of the rows have their 10th neighbour within 0.085, against an eps of about
//!    1.1). Union links the larger root under the smaller, so every root is its set's lowest
//!    row, and the sets come out the same whatever the thread schedule.
//! 3. **Edges**: each non-core point (it has fewer than `min_samples` neighbours, so its query
//!    is short) takes the lowest cluster id among the cores within `eps`.
//!
//! Clusters are numbered in the order of their lowest-indexed core point. That is the order in
//! which scikit-learn's `dbscan_inner` discovers them, and since it grows one cluster to the
//! end before starting the next and never relabels a point, a border point next to several
//! clusters gets the one discovered first, the lowest id: the labels equal scikit-learn's,
//! border points included. The one source of difference is rounding: scikit-learn's
//! `algorithm="auto"` switches to brute force above 15 features and computes distances as
//! ‖x‖² − 2x·y + ‖y‖², so a pair whose distance is within rounding of `eps` may fall on the
//! other side there. Other implementations that grow clusters in a different order can give a
//! shared border point to another cluster; core points and noise never depend on order.
//!
//! # Choosing the parameters
//!
//! [`k_distance_curve`] gives every point's distance to its k-th nearest neighbour, counting
//! the point itself as the first, which is scikit-learn's recipe
//! `NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)[0][:, k - 1]`. With `k =
//! min_samples`, a point is core exactly when this distance is at most `eps`, so the sorted
//! curve reads directly as "share of core points against eps". Its knee is estimated with
//! Kneedle (Satopää, Albrecht, Irwin & Raghavan, ICDCS workshops 2011): the point of the
//! normalised curve farthest below the chord joining its ends.
//!
//! [`grid_search`] runs DBSCAN over eps × min_samples (eps given, or multiples of each
//! min_samples' knee) and scores each pair with the mean silhouette (Rousseeuw 1987) of a
//! seeded sample of clustered points (see [`silhouette`]).
//!
//! # Why hand-written
//!
//! linfa-clustering 0.8.1's `Dbscan` took 48 s on all 125,973 rows here (measured), and linfa
//! is built on ndarray 0.16 while nadir uses 0.17, so every call would copy the data across
//! versions. smartcore 0.7's `DBSCAN` keeps its fitted labels private and its `predict`
//! relabels each point by a vote of its neighbours, which is not DBSCAN's labelling and marked
//! no point as noise on test data. scikit-learn's own DBSCAN stores every neighbourhood.
//!
//! Measured on all 125,973 rows, standardised and projected to 20 dimensions, eps = 1.0938
//! (the knee for k = 10), min_samples = 10, 2 cores: this module built the tree in 0.2 s,
//! computed the k-distance curve in 1.2 s and clustered in 1.1 s, at 224 MiB peak for the
//! whole process; scikit-learn 1.9.1 took 152 s and 4.1 GiB (`algorithm="kd_tree"`) or
//! 74 s and 8.3 GiB (`"auto"`, brute force), for the same labels on every row and the same
//! k-distances to the bit.

mod evaluate;
mod kdtree;

pub use evaluate::{Agreement, ClusterMix, adjusted_rand_index, agreement, silhouette};
pub use kdtree::KdTree;

use crate::model::FitError;
pub(crate) use kdtree::squared_distance_within;
use kdtree::{Descend, Reach, Region};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// DBSCAN's two parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbscanParams {
    /// The neighbourhood radius (Euclidean; a point at distance exactly `eps` is a neighbour).
    pub eps: f64,
    /// Neighbours within `eps` that make a point core, the point itself included (as
    /// scikit-learn's `min_samples`).
    pub min_samples: usize,
}

impl Default for DbscanParams {
    /// scikit-learn's eps of 0.5, a radius on the scale of standardised features, and 10
    /// samples: scikit-learn's 5 splinters this data (734 clusters at half the knee on all
    /// rows, 20 dimensions), while the 2 × dimensions rule of Sander et al. (40) would need
    /// rare attack types to gather 40 near-identical records. [`grid_search`] is the way to
    /// tune both.
    fn default() -> DbscanParams {
        DbscanParams {
            eps: 0.5,
            min_samples: 10,
        }
    }
}

/// The role DBSCAN gives a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PointKind {
    /// At least `min_samples` points within `eps`.
    Core,
    /// Not core, but within `eps` of a core point: on the edge (border) of its cluster.
    Edge,
    /// Neither.
    Noise,
}

/// The result of DBSCAN: per input row its kind and cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    pub params: DbscanParams,
    pub kinds: Vec<PointKind>,
    /// Cluster id per row, `None` for noise. Ids run from 0, in the order of each cluster's
    /// lowest-indexed core point.
    pub clusters: Vec<Option<usize>>,
    /// Rows per cluster, core and edge points together.
    pub cluster_sizes: Vec<usize>,
    /// Rows labelled noise.
    pub noise: usize,
}

impl Clustering {
    pub fn n_clusters(&self) -> usize {
        self.cluster_sizes.len()
    }

    /// Share of all rows that are noise.
    pub fn noise_share(&self) -> f64 {
        self.noise as f64 / self.kinds.len().max(1) as f64
    }

    pub fn count(&self, kind: PointKind) -> usize {
        self.kinds.iter().filter(|&&k| k == kind).count()
    }

    /// The labels as scikit-learn writes them in `labels_`: the cluster id, −1 for noise.
    pub fn sklearn_labels(&self) -> Vec<i64> {
        self.clusters
            .iter()
            .map(|c| c.map_or(-1, |id| id as i64))
            .collect()
    }
}

impl DbscanParams {
    pub fn validate(&self) -> Result<(), FitError> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(FitError::invalid(
                "eps",
                format!("must be a positive number, got {}", self.eps),
            ));
        }
        if self.min_samples == 0 {
            return Err(FitError::invalid(
                "min_samples",
                "must be at least 1 (it counts the point itself)",
            ));
        }
        Ok(())
    }

    /// Clusters the tree's points.
    pub fn fit(&self, tree: &KdTree) -> Result<Clustering, FitError> {
        self.validate()?;
        let n = tree.len();
        let eps2 = self.eps * self.eps;

        // Pass 1, by tree position: which points are core.
        let core: Vec<bool> = (0..n)
            .into_par_iter()
            .with_min_len(256)
            .map_init(Vec::new, |stack, position| {
                has_neighbours(tree, tree.at(position), eps2, self.min_samples, stack)
            })
            .collect();
        // Pass 2: the cores' sets.
        let first_core = first_core_per_node(tree, &core);
        let forest = link_cores(tree, &core, &first_core, eps2);

        // Number the clusters by their lowest core row: a root is its set's lowest row, so
        // a cluster is met first at its root.
        let mut core_rows = vec![false; n];
        for (position, &is_core) in core.iter().enumerate() {
            core_rows[tree.row(position)] = is_core;
        }
        let mut cluster_of_root = vec![u32::MAX; n];
        let mut clusters: Vec<Option<usize>> = vec![None; n];
        let mut cluster_sizes = Vec::new();
        for row in 0..n {
            if core_rows[row] {
                let root = forest.find(row as u32) as usize;
                if root == row {
                    cluster_of_root[row] = cluster_sizes.len() as u32;
                    cluster_sizes.push(0);
                }
                clusters[row] = Some(cluster_of_root[root] as usize);
            }
        }

        // Pass 3: edge points join the lowest-numbered cluster among their core neighbours.
        let edges: Vec<Option<usize>> = (0..n)
            .into_par_iter()
            .with_min_len(256)
            .map_init(Vec::new, |stack, position| {
                if core[position] {
                    return None;
                }
                let mut lowest: Option<usize> = None;
                tree.search(
                    Region::Point(tree.at(position)),
                    eps2,
                    stack,
                    |reach| match reach {
                        Reach::Node(node) if first_core[node.id] == NO_CORE => Descend::Skip,
                        Reach::Candidate(other) if !core[other] => Descend::Skip,
                        Reach::Node(_) | Reach::Candidate(_) => Descend::Enter,
                        Reach::Point(other) => {
                            if let Some(id) = clusters[tree.row(other)] {
                                lowest = Some(lowest.map_or(id, |l| l.min(id)));
                            }
                            Descend::Enter
                        }
                    },
                );
                lowest
            })
            .collect();

        let mut kinds = vec![PointKind::Noise; n];
        for (position, edge) in edges.into_iter().enumerate() {
            let row = tree.row(position);
            if core[position] {
                kinds[row] = PointKind::Core;
            } else if let Some(id) = edge {
                kinds[row] = PointKind::Edge;
                clusters[row] = Some(id);
            }
        }
        for id in clusters.iter().flatten() {
            cluster_sizes[*id] += 1;
        }
        let noise = clusters.iter().filter(|c| c.is_none()).count();
        Ok(Clustering {
            params: *self,
            kinds,
            clusters,
            cluster_sizes,
            noise,
        })
    }
}

/// Builds a tree over `points` and clusters them; build the [`KdTree`] yourself to run
/// several parameter pairs.
pub fn dbscan(points: ArrayView2<f64>, params: &DbscanParams) -> Result<Clustering, FitError> {
    params.validate()?;
    params.fit(&KdTree::new(points)?)
}

/// Whether at least `limit` points lie within squared radius `eps2` of `query`.
fn has_neighbours(
    tree: &KdTree,
    query: &[f64],
    eps2: f64,
    limit: usize,
    stack: &mut Vec<(u32, f64)>,
) -> bool {
    let mut count = 0;
    tree.search(Region::Point(query), eps2, stack, |reach| {
        match reach {
            Reach::Node(node) if node.inside() => count += tree.nodes[node.id].len(),
            Reach::Node(_) | Reach::Candidate(_) => return Descend::Enter,
            Reach::Point(_) => count += 1,
        }
        if count >= limit {
            Descend::Stop
        } else {
            Descend::Skip
        }
    });
    count >= limit
}

const NO_CORE: u32 = u32::MAX;

/// Per node, the tree position of its first core point, or [`NO_CORE`].
fn first_core_per_node(tree: &KdTree, core: &[bool]) -> Vec<u32> {
    let mut first = vec![NO_CORE; tree.nodes.len()];
    // Children come after their parent, so going backwards meets them first.
    for id in (0..tree.nodes.len()).rev() {
        let node = tree.nodes[id];
        first[id] = if node.is_leaf() {
            (node.start..node.end)
                .find(|&p| core[p as usize])
                .unwrap_or(NO_CORE)
        } else {
            let left = first[node.left as usize];
            if left != NO_CORE {
                left
            } else {
                first[node.left as usize + 1]
            }
        };
    }
    first
}

/// Pass 2 of DBSCAN: a union-find over the rows in which cores within `eps` of each other
/// share a set. First the cores of nodes whose box diagonal is at most eps are united (they
/// are all neighbours of each other). Then each core's radius query unites it with the cores
/// it reaches, in rounds over growing subsets of the cores (see [`ROUND_STRIDES`]), skipping
/// nodes and points already known to be in its set. Last, every leaf is covered: a leaf
/// whose cores are all in one set runs a single query around their bounding box in place of
/// one per core, and the other leaves query from each core.
fn link_cores(tree: &KdTree, core: &[bool], first_core: &[u32], eps2: f64) -> UnionFind {
    let n = tree.len();
    let mut sets = Sets {
        tree,
        core,
        first_core,
        eps2,
        linked: (0..tree.nodes.len())
            .map(|id| tree.diameter_squared(id) <= eps2)
            .collect(),
        forest: UnionFind::new(n),
        roots: vec![NO_CORE; n],
        settled: vec![NO_CORE; tree.nodes.len()],
    };
    sets.link_small_nodes();
    let core_positions: Vec<usize> = (0..n).filter(|&p| core[p]).collect();
    let mut previous_stride: Option<usize> = None;
    for stride in ROUND_STRIDES {
        sets.settle();
        let sets = &sets;
        core_positions
            .par_iter()
            .enumerate()
            .with_min_len(16)
            .filter(|(i, _)| i % stride == 0 && previous_stride.is_none_or(|s| i % s != 0))
            .for_each_init(Vec::new, |stack, (_, &position)| {
                sets.link_from_core(position, stack)
            });
        previous_stride = Some(stride);
    }
    sets.settle();
    let leaves: Vec<usize> = (0..tree.nodes.len())
        .filter(|&id| tree.nodes[id].is_leaf() && first_core[id] != NO_CORE)
        .collect();
    {
        let sets = &sets;
        leaves.par_iter().for_each_init(Vec::new, |stack, &leaf| {
            if sets.settled[leaf] != NO_CORE {
                sets.link_from_leaf(leaf, stack);
            } else {
                let node = tree.nodes[leaf];
                for position in (node.start as usize..node.end as usize).filter(|&p| core[p]) {
                    sets.link_from_core(position, stack);
                }
            }
        });
    }
    sets.forest
}

/// The state of pass 2: the sets being built and the latest snapshot of them.
struct Sets<'a> {
    tree: &'a KdTree,
    core: &'a [bool],
    first_core: &'a [u32],
    eps2: f64,
    /// Per node, whether its box diagonal is at most eps, so that its cores are united from
    /// the start.
    linked: Vec<bool>,
    forest: UnionFind,
    /// Per tree position, the root of the core's set at the last snapshot; [`NO_CORE`] for
    /// non-cores.
    roots: Vec<u32>,
    /// Per node, the snapshot root shared by all its cores, or [`NO_CORE`] (they were in
    /// several sets, or there are none).
    settled: Vec<u32>,
}

impl Sets<'_> {
    /// Unites the cores of every linked node, once, at the largest such nodes.
    fn link_small_nodes(&self) {
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            let node = self.tree.nodes[id];
            if self.first_core[id] == NO_CORE {
                continue;
            }
            if self.linked[id] {
                let representative = self.tree.row(self.first_core[id] as usize) as u32;
                let (start, end) = (node.start as usize, node.end as usize);
                for (offset, _) in self.core[start..end].iter().enumerate().filter(|c| *c.1) {
                    self.forest
                        .union(representative, self.tree.row(start + offset) as u32);
                }
            } else if !node.is_leaf() {
                stack.push(node.left as usize);
                stack.push(node.left as usize + 1);
            }
        }
    }

    /// Takes a snapshot of the sets (`roots` and `settled`). A query from a core of a node's
    /// set can skip the node; one that covers the node whole needs a single union. Sets
    /// only ever merge, so equal snapshot roots stay a proof of a shared set, and a settled
    /// node stays settled.
    fn settle(&mut self) {
        let Sets {
            tree,
            core,
            first_core,
            forest,
            roots,
            settled,
            ..
        } = self;
        for (position, root) in roots.iter_mut().enumerate() {
            if core[position] {
                *root = forest.find(tree.row(position) as u32);
            }
        }
        for id in (0..tree.nodes.len()).rev() {
            let node = tree.nodes[id];
            settled[id] = if first_core[id] == NO_CORE {
                NO_CORE
            } else if node.is_leaf() {
                let root = roots[first_core[id] as usize];
                let mut cores = (node.start as usize..node.end as usize).filter(|&p| core[p]);
                if cores.all(|p| roots[p] == root) {
                    root
                } else {
                    NO_CORE
                }
            } else {
                let (left, right) = (node.left as usize, node.left as usize + 1);
                match (first_core[left] == NO_CORE, first_core[right] == NO_CORE) {
                    (true, _) => settled[right],
                    (_, true) => settled[left],
                    _ if settled[left] == settled[right] => settled[left],
                    _ => NO_CORE,
                }
            };
        }
    }

    /// Unites the core at `position` with every core within eps.
    fn link_from_core(&self, position: usize, stack: &mut Vec<(u32, f64)>) {
        let row = self.tree.row(position) as u32;
        self.link_around(
            Region::Point(self.tree.at(position)),
            row,
            self.roots[position],
            stack,
            |_| true,
        );
    }

    /// Unites the cores of a settled leaf (all in one set) with every core within eps of
    /// any of them, in one query around their bounding box.
    fn link_from_leaf(&self, leaf: usize, stack: &mut Vec<(u32, f64)>) {
        let tree = self.tree;
        let node = tree.nodes[leaf];
        let members: Vec<usize> = (node.start as usize..node.end as usize)
            .filter(|&p| self.core[p])
            .collect();
        let dim = tree.dim();
        let (mut lower, mut upper) = (vec![f64::INFINITY; dim], vec![f64::NEG_INFINITY; dim]);
        for &p in &members {
            for (d, &x) in tree.at(p).iter().enumerate() {
                lower[d] = lower[d].min(x);
                upper[d] = upper[d].max(x);
            }
        }
        let representative = tree.row(members[0]) as u32;
        self.link_around(
            Region::Box(&lower, &upper),
            representative,
            self.settled[leaf],
            stack,
            |other| {
                let point = tree.at(other);
                self.forest.find(tree.row(other) as u32) != self.forest.find(representative)
                    && members.iter().any(|&p| {
                        squared_distance_within(tree.at(p), point, self.eps2) <= self.eps2
                    })
            },
        );
    }

    /// One query of pass 2: unites the set of `representative` (snapshot root `root`) with
    /// the cores within eps of `region` for which `reaches` holds, skipping what is already
    /// known to be in the set. Every node skipped whole is so only when either all its
    /// cores are in the set, or all are within eps of every point of the region and share
    /// a set, which one union then joins.
    fn link_around(
        &self,
        region: Region,
        representative: u32,
        root: u32,
        stack: &mut Vec<(u32, f64)>,
        reaches: impl Fn(usize) -> bool,
    ) {
        let (tree, forest) = (self.tree, &self.forest);
        let same_set =
            |other: u32| other == root || forest.find(other) == forest.find(representative);
        tree.search(region, self.eps2, stack, |reach| match reach {
            Reach::Node(node) => {
                let one_set = self.settled[node.id];
                if self.first_core[node.id] == NO_CORE || (one_set != NO_CORE && same_set(one_set))
                {
                    Descend::Skip
                } else if (self.linked[node.id] || one_set != NO_CORE) && node.inside() {
                    forest.union(
                        representative,
                        tree.row(self.first_core[node.id] as usize) as u32,
                    );
                    Descend::Skip
                } else {
                    Descend::Enter
                }
            }
            // Non-cores, and cores known to be in the set, need no distance.
            Reach::Candidate(other) => {
                if self.roots[other] == NO_CORE || self.roots[other] == root {
                    Descend::Skip
                } else {
                    Descend::Enter
                }
            }
            Reach::Point(other) => {
                if reaches(other) {
                    forest.union(representative, tree.row(other) as u32);
                }
                Descend::Enter
            }
        });
    }
}

/// Before the final, per-leaf step, pass 2 queries from growing, evenly spread subsets of the
/// cores (every 1024th, then every 256th, ...), retaking the sets' snapshot (see
/// [`Sets::settle`]) between rounds: the first few hundred queries merge the bulk of each
/// dense cluster, after which most of every later query's ball lies in nodes already known to
/// belong to its set, and most leaves hold cores of one set, to be queried once for all. On
/// all NSL-KDD rows (20 dimensions, eps at the knee, 2 threads), one query per core in a
/// single round took 13.6 s; these rounds brought it to 2.2 s, and the per-leaf queries of
/// the last step to 1.1 s.
const ROUND_STRIDES: [usize; 4] = [1024, 256, 64, 16];

/// A union-find safe to share between threads (lock-free, after Anderson & Woll 1991):
/// a union links the larger root under the smaller with a compare-and-swap, retrying when
/// another thread moved first; finds halve paths as they go.
struct UnionFind {
    parent: Vec<AtomicU32>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).map(AtomicU32::new).collect(),
        }
    }

    fn find(&self, mut x: u32) -> u32 {
        loop {
            let parent = self.parent[x as usize].load(Ordering::Acquire);
            if parent == x {
                return x;
            }
            let grandparent = self.parent[parent as usize].load(Ordering::Acquire);
            if grandparent != parent {
                // Path halving; losing the race is harmless, the link stays an ancestor.
                let _ = self.parent[x as usize].compare_exchange(
                    parent,
                    grandparent,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            x = grandparent;
        }
    }

    fn union(&self, a: u32, b: u32) {
        let (mut a, mut b) = (a, b);
        loop {
            a = self.find(a);
            b = self.find(b);
            if a == b {
                return;
            }
            let (high, low) = if a > b { (a, b) } else { (b, a) };
            if self.parent[high as usize]
                .compare_exchange(high, low, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// The sorted k-distance curve and its knee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KDistanceCurve {
    /// The neighbour counted, the point itself being the first (scikit-learn's
    /// `kneighbors(X)` column `k - 1`); use `k = min_samples`.
    pub k: usize,
    /// Every point's distance to its k-th nearest neighbour, ascending.
    pub distances: Vec<f64>,
    /// The Kneedle knee, when the curve has one.
    pub knee: Option<Knee>,
}

/// A knee of a sorted curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Rank (position in the sorted curve).
    pub rank: usize,
    /// The curve's value there: the suggested eps.
    pub eps: f64,
}

/// One point of a curve to plot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub rank: usize,
    pub distance: f64,
}

impl KDistanceCurve {
    /// At most `max_points` points of the curve for plotting, by ascending rank: half spread
    /// evenly over the ranks, half over the distance range (the first rank reaching each
    /// level), so that both the long flat part and the steep tail keep their shape; the knee
    /// is always among them.
    pub fn plot_points(&self, max_points: usize) -> Vec<CurvePoint> {
        let n = self.distances.len();
        let mut ranks: Vec<usize> = if n <= max_points {
            (0..n).collect()
        } else {
            let budget = max_points.saturating_sub(usize::from(self.knee.is_some()));
            let by_rank = budget / 2;
            let by_level = budget - by_rank;
            let (lowest, highest) = (self.distances[0], self.distances[n - 1]);
            let mut ranks: Vec<usize> = spread(by_rank, n - 1).collect();
            ranks.extend(spread(by_level, 1 << 20).map(|step| {
                let level = lowest + (highest - lowest) * step as f64 / (1 << 20) as f64;
                self.distances.partition_point(|&d| d < level).min(n - 1)
            }));
            ranks.extend(self.knee.map(|k| k.rank));
            ranks
        };
        ranks.sort_unstable();
        ranks.dedup();
        ranks
            .into_iter()
            .map(|rank| CurvePoint {
                rank,
                distance: self.distances[rank],
            })
            .collect()
    }

    /// [`plot_points`](Self::plot_points) as CSV: `rank,share,distance`, where share is the
    /// rank as a fraction of the points (the share of points whose k-distance is at most
    /// that distance, up to ties).
    pub fn plot_csv(&self, max_points: usize) -> String {
        let n = self.distances.len().max(1) as f64;
        let mut csv = String::from("rank,share,distance\n");
        for p in self.plot_points(max_points) {
            let _ = writeln!(csv, "{},{:.6},{}", p.rank, p.rank as f64 / n, p.distance);
        }
        csv
    }
}

/// `count` integers spread evenly over `0..=last`, both ends included when `count ≥ 2`.
fn spread(count: usize, last: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| {
        if count == 1 {
            last
        } else {
            (i as u128 * last as u128 / (count - 1) as u128) as usize
        }
    })
}

/// The k-distance curve of the tree's points for one `k` (see [`KDistanceCurve::k`]).
pub fn k_distance_curve(tree: &KdTree, k: usize) -> Result<KDistanceCurve, FitError> {
    Ok(k_distance_curves(tree, &[k])?.remove(0))
}

/// k-distance curves for several `k` from one nearest-neighbour pass with the largest.
pub fn k_distance_curves(tree: &KdTree, ks: &[usize]) -> Result<Vec<KDistanceCurve>, FitError> {
    let n = tree.len();
    if let Some(&k) = ks.iter().find(|&&k| k == 0 || k > n) {
        return Err(FitError::invalid(
            "k",
            format!("must be between 1 and the number of points ({n}), got {k}"),
        ));
    }
    let deepest = ks.iter().copied().max().unwrap_or(0);
    let width = ks.len();
    let mut by_position = vec![0.0; n * width];
    by_position
        .par_chunks_mut(width.max(1))
        .enumerate()
        .with_min_len(256)
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(best, stack), (position, out)| {
                tree.nearest_squared(tree.at(position), deepest, best, stack);
                for (slot, &k) in out.iter_mut().zip(ks) {
                    *slot = best[k - 1].0.sqrt();
                }
            },
        );
    Ok(ks
        .iter()
        .enumerate()
        .map(|(column, &k)| {
            let mut distances: Vec<f64> = by_position
                .iter()
                .skip(column)
                .step_by(width)
                .copied()
                .collect();
            distances.par_sort_unstable_by(f64::total_cmp);
            let knee = knee_rank(&distances).map(|rank| Knee {
                rank,
                eps: distances[rank],
            });
            KDistanceCurve { k, distances, knee }
        })
        .collect())
}

/// Kneedle on an ascending curve: with ranks and values scaled to [0, 1], the rank where the
/// curve lies farthest below the chord from its first to its last point (the largest
/// `x - y`); the first such rank on ties. `None` when the curve has fewer than 3 points or is
/// flat.
pub fn knee_rank(ascending: &[f64]) -> Option<usize> {
    let n = ascending.len();
    if n < 3 {
        return None;
    }
    let (lowest, highest) = (ascending[0], ascending[n - 1]);
    if highest <= lowest {
        return None;
    }
    let mut best = (f64::NEG_INFINITY, 0);
    for (rank, &value) in ascending.iter().enumerate() {
        let gap = rank as f64 / (n - 1) as f64 - (value - lowest) / (highest - lowest);
        if gap > best.0 {
            best = (gap, rank);
        }
    }
    Some(best.1)
}

/// The eps × min_samples grid to search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridSearchParams {
    /// eps values to try. Empty (the default) means "auto": `knee_multiples` times the knee
    /// of the k-distance curve with `k = min_samples`, for each min_samples.
    pub eps: Vec<f64>,
    /// Multiples of the knee eps tried when `eps` is empty.
    pub knee_multiples: Vec<f64>,
    pub min_samples: Vec<usize>,
    /// Rows sampled to compute each silhouette (the same rows for every pair; the noise
    /// among them is left out, see [`silhouette`]).
    pub silhouette_sample: usize,
}

impl Default for GridSearchParams {
    /// Half to twice the knee, and min_samples around the default 10: the knee is only a
    /// rough guide. A 5,000-row silhouette costs about 0.2 s on all rows, against 2 to 4 s
    /// for each DBSCAN; over five sample seeds, one clustering's score there ranged from 0.289
    /// to 0.304.
    fn default() -> GridSearchParams {
        GridSearchParams {
            eps: Vec::new(),
            knee_multiples: vec![0.5, 0.75, 1.0, 1.5, 2.0],
            min_samples: vec![5, 10, 20],
            silhouette_sample: 5_000,
        }
    }
}

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridRow {
    pub eps: f64,
    /// The multiple of the knee that gave `eps`, when eps was automatic.
    pub knee_multiple: Option<f64>,
    pub min_samples: usize,
    pub clusters: usize,
    pub core: usize,
    pub edge: usize,
    pub noise: usize,
    pub noise_share: f64,
    /// Mean silhouette of the sampled clustered points; `None` with fewer than two clusters.
    pub silhouette: Option<f64>,
}

/// The scored grid and its best cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSearch {
    pub rows: Vec<GridRow>,
    /// Index in `rows` of the highest silhouette (ties: fewer noise points, then the earlier
    /// row); `None` when no cell has a silhouette.
    pub best: Option<usize>,
}

impl GridSearch {
    /// The best cell's parameters.
    pub fn best_params(&self) -> Option<DbscanParams> {
        self.best.map(|i| DbscanParams {
            eps: self.rows[i].eps,
            min_samples: self.rows[i].min_samples,
        })
    }

    /// The grid as an aligned text table, the best row marked with `*`.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "  knee×         eps  min_samples  clusters    core    edge   noise  noise %  silhouette\n",
        );
        for (i, r) in self.rows.iter().enumerate() {
            let multiple = r
                .knee_multiple
                .map_or("-".to_string(), |m| format!("{m:.2}"));
            let silhouette = r.silhouette.map_or("-".to_string(), |s| format!("{s:.4}"));
            let mark = if self.best == Some(i) { '*' } else { ' ' };
            let _ = writeln!(
                out,
                "{mark} {multiple:>5} {:>11.5} {:>12} {:>9} {:>7} {:>7} {:>7} {:>8.2} {:>11}",
                r.eps,
                r.min_samples,
                r.clusters,
                r.core,
                r.edge,
                r.noise,
                100.0 * r.noise_share,
                silhouette,
            );
        }
        out
    }
}

/// Runs DBSCAN on every eps × min_samples pair and scores it with the [`silhouette`] of the
/// clustered rows among `silhouette_sample` rows drawn with `seed` (the same rows for every
/// pair).
pub fn grid_search(
    tree: &KdTree,
    params: &GridSearchParams,
    seed: u64,
) -> Result<GridSearch, FitError> {
    if params.min_samples.is_empty() {
        return Err(FitError::invalid("min_samples", "give at least one value"));
    }
    if params.silhouette_sample < 2 {
        return Err(FitError::invalid(
            "silhouette_sample",
            "must be at least 2 points",
        ));
    }
    let auto = params.eps.is_empty();
    let values = if auto {
        ("knee_multiples", &params.knee_multiples)
    } else {
        ("eps", &params.eps)
    };
    if values.1.is_empty() || values.1.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(FitError::invalid(
            values.0,
            "give one or more positive numbers",
        ));
    }
    let mut cells = Vec::new();
    if auto {
        let curves = k_distance_curves(tree, &params.min_samples)?;
        for curve in curves {
            let knee = curve.knee.filter(|k| k.eps > 0.0).ok_or_else(|| {
                FitError::invalid(
                    "eps",
                    format!(
                        "the k-distance curve for min_samples {} has no usable knee; give eps values",
                        curve.k
                    ),
                )
            })?;
            for &multiple in &params.knee_multiples {
                cells.push((knee.eps * multiple, Some(multiple), curve.k));
            }
        }
    } else {
        for &min_samples in &params.min_samples {
            for &eps in &params.eps {
                cells.push((eps, None, min_samples));
            }
        }
    }

    let mut rows = Vec::with_capacity(cells.len());
    for (eps, knee_multiple, min_samples) in cells {
        let clustering = DbscanParams { eps, min_samples }.fit(tree)?;
        let sample = evaluate::sample_rows(&clustering.clusters, params.silhouette_sample, seed);
        let coords: Vec<f64> = sample
            .iter()
            .flat_map(|&row| tree.point(row).iter().copied())
            .collect();
        let labels: Vec<usize> = sample
            .iter()
            .filter_map(|&row| clustering.clusters[row])
            .collect();
        rows.push(GridRow {
            eps,
            knee_multiple,
            min_samples,
            clusters: clustering.n_clusters(),
            core: clustering.count(PointKind::Core),
            edge: clustering.count(PointKind::Edge),
            noise: clustering.noise,
            noise_share: clustering.noise_share(),
            silhouette: evaluate::mean_silhouette(&coords, tree.dim(), &labels),
        });
    }
    let best = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.silhouette.map(|s| (i, s, r.noise)))
        .min_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)))
        .map(|(i, _, _)| i);
    Ok(GridSearch { rows, best })
}

#[cfg(test)]
mod tests {
    use super::kdtree::squared_distance;
    use super::*;
    use crate::testdata::with_threads;
    use nadir_data::Rng;
    use ndarray::Array2;

    /// Squared distances between all rows.
    fn pairwise(points: &Array2<f64>) -> Vec<Vec<f64>> {
        let rows: Vec<Vec<f64>> = points.rows().into_iter().map(|r| r.to_vec()).collect();
        rows.iter()
            .map(|a| rows.iter().map(|b| squared_distance(a, b)).collect())
            .collect()
    }

    /// scikit-learn's `dbscan_inner`, line for line, over brute-force neighbourhoods: the
    /// reference labels (−1 = noise) and core flags.
    fn reference(pairwise: &[Vec<f64>], eps: f64, min_samples: usize) -> (Vec<i64>, Vec<bool>) {
        let n = pairwise.len();
        let neighbourhoods: Vec<Vec<usize>> = pairwise
            .iter()
            .map(|d| (0..n).filter(|&j| d[j] <= eps * eps).collect())
            .collect();
        let is_core: Vec<bool> = neighbourhoods
            .iter()
            .map(|nb| nb.len() >= min_samples)
            .collect();
        let mut labels = vec![-1i64; n];
        let mut label_num = 0;
        let mut stack = Vec::new();
        for start in 0..n {
            if labels[start] != -1 || !is_core[start] {
                continue;
            }
            let mut i = start;
            loop {
                if labels[i] == -1 {
                    labels[i] = label_num;
                    if is_core[i] {
                        stack.extend(neighbourhoods[i].iter().filter(|&&v| labels[v] == -1));
                    }
                }
                match stack.pop() {
                    Some(next) => i = next,
                    None => break,
                }
            }
            label_num += 1;
        }
        (labels, is_core)
    }

    fn assert_matches_reference(points: &Array2<f64>, grid: &[(f64, usize)]) {
        let tree = KdTree::new(points.view()).unwrap();
        let distances = pairwise(points);
        for &(eps, min_samples) in grid {
            let params = DbscanParams { eps, min_samples };
            let got = params.fit(&tree).unwrap();
            let (labels, is_core) = reference(&distances, eps, min_samples);
            assert_eq!(got.sklearn_labels(), labels, "{params:?}");
            for (i, kind) in got.kinds.iter().enumerate() {
                let expected = match (is_core[i], labels[i]) {
                    (true, _) => PointKind::Core,
                    (false, -1) => PointKind::Noise,
                    (false, _) => PointKind::Edge,
                };
                assert_eq!(*kind, expected, "row {i}, {params:?}");
            }
            let mut sizes = vec![0; got.n_clusters()];
            for &label in labels.iter().filter(|&&l| l >= 0) {
                sizes[label as usize] += 1;
            }
            assert_eq!(got.cluster_sizes, sizes);
            assert_eq!(got.noise, labels.iter().filter(|&&l| l == -1).count());
        }
    }

    /// Blobs of different spread, a uniform background and duplicated rows.
    fn blobs_with_noise(n: usize, dim: usize, seed: u64) -> Array2<f64> {
        let mut rng = Rng::new(seed);
        let mut points = Array2::zeros((n, dim));
        for mut row in points.rows_mut() {
            let pick = rng.below(10);
            for (d, value) in row.iter_mut().enumerate() {
                *value = match pick {
                    0..=3 => 2.0 * d as f64 + 0.3 * rng.normal(),
                    4..=6 => -3.0 + 0.8 * rng.normal(),
                    7 => (rng.below(4) as f64 * 0.1).round(),
                    _ => 12.0 * rng.next_f64() - 6.0,
                };
            }
        }
        points
    }

    #[test]
    fn hand_made_core_edge_and_noise_points() {
        let mut rows: Vec<[f64; 2]> = Vec::new();
        // Rows 0–8: blob B, a 3×3 grid with unit spacing at x 4..6; rows 9–17: blob A at x 0..2.
        for x0 in [4.0, 0.0] {
            for x in 0..3 {
                for y in 0..3 {
                    rows.push([x0 + x as f64, y as f64]);
                }
            }
        }
        rows.push([3.0, 1.0]); // 18: at distance 1 from a core of each blob
        rows.push([-0.9, 1.0]); // 19: at 0.9 from one core of A, far from the rest
        rows.push([10.0, 10.0]); // 20: alone
        rows.push([20.0, 20.0]); // 21, 22: a pair, too small to be core
        rows.push([20.0, 20.5]);
        let points = Array2::from_shape_fn((rows.len(), 2), |(i, d)| rows[i][d]);
        let params = DbscanParams {
            eps: 1.0,
            min_samples: 4,
        };
        let got = dbscan(points.view(), &params).unwrap();
        // In a 3×3 grid with eps = spacing, the centre has 5 neighbours (itself included),
        // the side middles 4 (core), the corners 3 (edge).
        let grid_kinds: Vec<PointKind> = (0..9)
            .map(|i| {
                if [0, 2, 6, 8].contains(&i) {
                    PointKind::Edge
                } else {
                    PointKind::Core
                }
            })
            .collect();
        let mut kinds = grid_kinds.clone();
        kinds.extend(&grid_kinds);
        kinds.extend([PointKind::Edge, PointKind::Edge]);
        kinds.extend([PointKind::Noise; 3]);
        assert_eq!(got.kinds, kinds);
        let mut clusters = vec![Some(0); 9];
        clusters.extend([Some(1); 9]);
        // Row 18 touches both blobs and joins the lower id (B, whose cores come first).
        clusters.extend([Some(0), Some(1), None, None, None]);
        assert_eq!(got.clusters, clusters);
        assert_eq!(got.cluster_sizes, [10, 10]);
        assert_eq!(
            (
                got.noise,
                got.count(PointKind::Core),
                got.count(PointKind::Edge)
            ),
            (3, 10, 10)
        );
        assert_matches_reference(&points, &[(1.0, 4)]);
    }

    #[test]
    fn duplicates_become_core_only_in_sufficient_number() {
        let mut points = Array2::zeros((19, 3));
        points.slice_mut(ndarray::s![10.., ..]).fill(5.0);
        let got = dbscan(
            points.view(),
            &DbscanParams {
                eps: 1e-9,
                min_samples: 10,
            },
        )
        .unwrap();
        assert_eq!(got.cluster_sizes, [10]);
        assert_eq!(&got.kinds[..10], &[PointKind::Core; 10]);
        assert_eq!(&got.clusters[10..], &[None; 9]);
    }

    #[test]
    fn a_large_block_of_duplicates_is_one_cluster_found_without_quadratic_work() {
        // 30,000 copies of one point beside a sparse cloud: pairwise work would be 8 × 10^8
        // distances; the tree counts and links the block through whole nodes. The work is
        // counted, not timed, so a busy machine cannot fail the test.
        let mut rng = Rng::new(2);
        let points = Array2::from_shape_fn((40_000, 5), |(i, _)| {
            if i % 4 == 0 {
                10.0 * rng.next_f64()
            } else {
                3.0
            }
        });
        // One pool thread, so that every distance is counted on the thread that reads the
        // count (the counter is per thread, untouched by tests running beside this one).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (got, distances) = pool.install(|| {
            let before = kdtree::distances_measured();
            let got = dbscan(
                points.view(),
                &DbscanParams {
                    eps: 0.5,
                    min_samples: 20,
                },
            )
            .unwrap();
            (got, kdtree::distances_measured() - before)
        });
        assert_eq!(got.clusters[1], Some(0));
        assert_eq!(got.cluster_sizes[0], 30_000);
        assert!(
            (0..40_000)
                .filter(|i| i % 4 != 0)
                .all(|i| got.kinds[i] == PointKind::Core)
        );
        // About 73 a point today; pairwise work would be 8 × 10^8.
        assert!(distances < 200 * 40_000, "{distances} distances measured");
    }

    #[test]
    fn labels_equal_scikit_learns_algorithm_on_random_data() {
        for (dim, seed) in [(2, 1), (3, 2), (6, 3)] {
            let points = blobs_with_noise(1200, dim, seed);
            let grid: Vec<(f64, usize)> = [0.05, 0.2, 0.5, 1.0]
                .into_iter()
                .flat_map(|eps| [1, 2, 5, 15, 60].map(|min_samples| (eps, min_samples)))
                .collect();
            assert_matches_reference(&points, &grid);
        }
    }

    #[test]
    fn labels_equal_scikit_learns_algorithm_on_the_sample_records() {
        let split = crate::testdata::sample_split();
        let scaled = crate::scale::Standardizer::fit(&split.train).transform(&split.train);
        assert_matches_reference(&scaled, &[(0.5, 5), (1.0, 10), (2.0, 10), (3.0, 30)]);
    }

    #[test]
    fn two_separated_blobs_give_two_clusters_and_a_high_silhouette() {
        let mut rng = Rng::new(9);
        let points = Array2::from_shape_fn((2000, 4), |(i, _)| {
            (if i < 1000 { 0.0 } else { 50.0 }) + rng.normal()
        });
        let tree = KdTree::new(points.view()).unwrap();
        let got = DbscanParams {
            eps: 1.5,
            min_samples: 5,
        }
        .fit(&tree)
        .unwrap();
        assert_eq!(got.n_clusters(), 2);
        assert!(got.clusters[..1000].iter().all(|c| *c != Some(1)));
        assert!(got.clusters[1000..].iter().all(|c| *c != Some(0)));
        assert!(got.noise < 40, "{} noise", got.noise);
        assert!(silhouette(points.view(), &got.clusters, 5000, 1).unwrap() > 0.9);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let points = blobs_with_noise(20_000, 4, 11);
        let tree = KdTree::new(points.view()).unwrap();
        let run = || {
            let clustering = DbscanParams {
                eps: 0.4,
                min_samples: 8,
            }
            .fit(&tree)
            .unwrap();
            let curve = k_distance_curve(&tree, 8).unwrap();
            (clustering, curve)
        };
        let serial = with_threads(1, run);
        let parallel = run();
        assert!(serial.0.n_clusters() > 1);
        assert_eq!(serial, parallel);
    }

    #[test]
    fn k_distance_counts_the_point_itself_like_kneighbors() {
        let points = blobs_with_noise(700, 3, 4);
        let tree = KdTree::new(points.view()).unwrap();
        let curves = k_distance_curves(&tree, &[1, 5, 10]).unwrap();
        for curve in &curves {
            let mut expected: Vec<f64> = (0..700)
                .map(|i| {
                    let mut d: Vec<f64> = (0..700)
                        .map(|j| squared_distance(tree.point(i), tree.point(j)).sqrt())
                        .collect();
                    d.sort_by(f64::total_cmp);
                    d[curve.k - 1]
                })
                .collect();
            expected.sort_by(f64::total_cmp);
            assert_eq!(curve.distances, expected, "k {}", curve.k);
        }
        // k = 1 is the point itself; a point is core exactly when its k-distance ≤ eps.
        assert!(curves[0].distances.iter().all(|&d| d == 0.0));
        let clustering = DbscanParams {
            eps: 0.3,
            min_samples: 10,
        }
        .fit(&tree)
        .unwrap();
        let within = curves[2].distances.iter().filter(|&&d| d <= 0.3).count();
        assert_eq!(clustering.count(PointKind::Core), within);
        assert!(k_distance_curve(&tree, 0).is_err() && k_distance_curve(&tree, 701).is_err());
    }

    #[test]
    fn knee_of_a_hockey_stick_and_plot_points() {
        // Flat at slope 0.001 for 900 ranks, then rising by 1 per rank.
        let curve: Vec<f64> = (0..1000)
            .map(|i| {
                if i < 900 {
                    0.001 * i as f64
                } else {
                    0.9 + (i - 900) as f64
                }
            })
            .collect();
        assert_eq!(knee_rank(&curve), Some(900));
        assert_eq!(knee_rank(&[1.0; 50]), None);
        assert_eq!(knee_rank(&[0.0, 1.0]), None);

        let curve = KDistanceCurve {
            k: 2,
            knee: Some(Knee {
                rank: 900,
                eps: curve[900],
            }),
            distances: curve,
        };
        let plot = curve.plot_points(101);
        assert!(plot.len() <= 101 && plot.len() > 90, "{}", plot.len());
        assert!(plot.windows(2).all(|w| w[0].rank < w[1].rank));
        assert_eq!((plot[0].rank, plot[plot.len() - 1].rank), (0, 999));
        assert!(plot.iter().any(|p| p.rank == 900));
        // The steep tail (last 10 % of ranks) gets about half the points.
        assert!(plot.iter().filter(|p| p.rank > 900).count() > 40);
        assert_eq!(curve.plot_points(5000).len(), 1000);
        assert!(
            curve
                .plot_csv(10)
                .starts_with("rank,share,distance\n0,0.000000,0\n")
        );
    }

    #[test]
    fn grid_search_finds_the_two_blobs() {
        let mut rng = Rng::new(3);
        let points = Array2::from_shape_fn((3000, 3), |(i, _)| {
            (if i % 3 == 0 { 20.0 } else { 0.0 }) + rng.normal()
        });
        let tree = KdTree::new(points.view()).unwrap();
        let grid = grid_search(&tree, &GridSearchParams::default(), 7).unwrap();
        assert_eq!(grid.rows.len(), 15);
        let best = grid.best_params().unwrap();
        let best_row = &grid.rows[grid.best.unwrap()];
        assert_eq!(best_row.clusters, 2, "{}", grid.table());
        assert!(best_row.silhouette.unwrap() > 0.8);
        assert!(
            grid.rows
                .iter()
                .all(|r| r.silhouette <= best_row.silhouette)
        );
        assert_eq!(
            grid,
            grid_search(&tree, &GridSearchParams::default(), 7).unwrap()
        );
        let table = grid.table();
        assert_eq!(table.lines().count(), 16);
        assert!(
            table
                .lines()
                .any(|l| l.starts_with('*') && l.contains(&format!("{:.5}", best.eps)))
        );

        let explicit = GridSearchParams {
            eps: vec![0.5, 1.0],
            min_samples: vec![5],
            ..GridSearchParams::default()
        };
        let grid = grid_search(&tree, &explicit, 7).unwrap();
        assert_eq!(
            grid.rows.iter().map(|r| r.eps).collect::<Vec<_>>(),
            [0.5, 1.0]
        );
        assert!(grid.rows.iter().all(|r| r.knee_multiple.is_none()));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let points = Array2::from_shape_fn((50, 2), |(i, d)| (i * (d + 1)) as f64);
        let tree = KdTree::new(points.view()).unwrap();
        for (eps, min_samples) in [
            (0.0, 5),
            (-1.0, 5),
            (f64::NAN, 5),
            (f64::INFINITY, 5),
            (1.0, 0),
        ] {
            assert!(matches!(
                DbscanParams { eps, min_samples }.fit(&tree),
                Err(FitError::InvalidParameter { .. })
            ));
        }
        let bad_grids = [
            GridSearchParams {
                min_samples: vec![],
                ..Default::default()
            },
            GridSearchParams {
                eps: vec![0.5, -1.0],
                ..Default::default()
            },
            GridSearchParams {
                knee_multiples: vec![],
                ..Default::default()
            },
            GridSearchParams {
                silhouette_sample: 1,
                ..Default::default()
            },
            GridSearchParams {
                min_samples: vec![51],
                ..Default::default()
            },
        ];
        for params in bad_grids {
            assert!(grid_search(&tree, &params, 1).is_err(), "{params:?}");
        }
        let params: DbscanParams = serde_json::from_str(r#"{"eps": 0.8}"#).unwrap();
        assert_eq!(
            params,
            DbscanParams {
                eps: 0.8,
                min_samples: 10
            }
        );
        assert!(serde_json::from_str::<DbscanParams>(r#"{"epsilon": 0.8}"#).is_err());
    }

    /// Peak resident memory of this process so far, in MiB (Linux).
    fn peak_rss_mib() -> f64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }

    /// All 125,973 rows, standardised, then projected to 20 dimensions with a seeded Gaussian
    /// random projection (a stand-in for PCA with about as many components).
    #[test]
    #[ignore]
    fn full_data_holdout() {
        use std::time::Instant;
        // Resets the process's peak RSS, so that the full-data tests run before this one in
        // the same process do not count (run them one at a time for the peak to be ours).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let path = crate::testdata::shared_data("Network_anomaly_data.csv");
        let data = nadir_data::read_path(&path, nadir_data::ReadOptions::default()).unwrap();
        let is_attack = data.is_attack().unwrap();
        let encoded =
            nadir_data::FeaturePipeline::fit(&data.schema, &data.records).encode(&data.records);
        let scaled = crate::scale::Standardizer::fit(&encoded).transform(&encoded);
        drop(data);
        let components = 20;
        let mut rng = Rng::new(42);
        let projection = Array2::from_shape_fn((scaled.ncols(), components), |_| {
            rng.normal() / (components as f64).sqrt()
        });
        let points = scaled.dot(&projection);
        drop(scaled);
        println!(
            "points: {} × {}, peak RSS so far {:.0} MiB",
            points.nrows(),
            points.ncols(),
            peak_rss_mib()
        );

        let start = Instant::now();
        let tree = KdTree::new(points.view()).unwrap();
        println!("kd-tree build: {:.3} s", start.elapsed().as_secs_f64());

        let start = Instant::now();
        let curve = k_distance_curve(&tree, 10).unwrap();
        let knee = curve.knee.unwrap();
        println!(
            "k-distance (k = 10, all rows): {:.3} s; knee at rank {} of {}: eps {:.4}; plot {} points",
            start.elapsed().as_secs_f64(),
            knee.rank,
            curve.distances.len(),
            knee.eps,
            curve.plot_points(1000).len()
        );
        for q in [0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0] {
            let rank = ((curve.distances.len() - 1) as f64 * q) as usize;
            println!("  quantile {q}: {:.4}", curve.distances[rank]);
        }

        let params = DbscanParams {
            eps: knee.eps,
            min_samples: 10,
        };
        let start = Instant::now();
        let clustering = params.fit(&tree).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "DBSCAN eps {:.4}, min_samples 10: {seconds:.3} s; {} clusters, {} core, {} edge, {} noise ({:.2} %)",
            knee.eps,
            clustering.n_clusters(),
            clustering.count(PointKind::Core),
            clustering.count(PointKind::Edge),
            clustering.noise,
            100.0 * clustering.noise_share()
        );
        let mut sizes = clustering.cluster_sizes.clone();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        println!("  largest clusters: {:?}", &sizes[..sizes.len().min(10)]);

        let start = Instant::now();
        let score = silhouette(points.view(), &clustering.clusters, 5000, 1);
        println!(
            "silhouette (5,000 sampled): {score:?} in {:.3} s",
            start.elapsed().as_secs_f64()
        );
        let a = agreement(&clustering.clusters, &is_attack);
        println!(
            "agreement: noise among attacks {:.2} %, among normal {:.2} %, purity {:.4}, ARI {:.4} (clustered only {:.4})",
            100.0 * a.attack_noise_share,
            100.0 * a.normal_noise_share,
            a.purity,
            a.adjusted_rand,
            a.adjusted_rand_clustered
        );

        let peak = peak_rss_mib();
        println!("peak RSS: {peak:.0} MiB");

        // The README's target: DBSCAN on all rows in under 2 GiB (measured: 224 MiB).
        assert!(peak < 2048.0, "peak RSS {peak} MiB");
        // Measured 2026-11-21: 184 clusters, purity 0.9911.
        assert!(clustering.n_clusters() >= 2, "{}", clustering.n_clusters());
        assert!(a.purity >= 0.99, "purity {}", a.purity);
    }
}
