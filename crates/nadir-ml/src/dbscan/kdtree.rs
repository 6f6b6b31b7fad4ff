//! A kd-tree for exact Euclidean radius and k-nearest-neighbour queries.
//!
//! Built once, in flat arrays: the points copied in tree order (so a leaf's points sit together
//! in memory), one node record per node and one tight bounding box per node. A node is split
//! at the median of its widest dimension, so the tree is balanced whatever the data: blocks
//! of exact duplicates simply end in subtrees whose boxes have zero extent, and the depth
//! stays about log2(n / [`LEAF_SIZE`]) however many points coincide.
//! Pruning uses the boxes, not the splitting planes: a node is skipped when its box lies
//! farther than the radius, and handed whole to the caller when the box lies entirely inside
//! the ball, which is what keeps dense and duplicated regions cheap to count.
//!
//! Distances are compared squared, as scikit-learn's `KDTree` does: a point is within radius
//! `r` when the sum of squared coordinate differences is at most `r * r`.

use crate::model::FitError;
use ndarray::ArrayView2;
use std::cell::Cell;

/// The most points a leaf holds.
const LEAF_SIZE: usize = 32;

#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    /// The node's points are tree positions `start..end`.
    pub start: u32,
    pub end: u32,
    /// Index of the left child; the right one follows it. 0 marks a leaf (the root is never
    /// a child).
    pub left: u32,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.left == 0
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

/// What a radius search reports to its visitor.
pub(super) enum Reach<'a> {
    /// A node whose box reaches into the ball.
    Node(&'a Reached<'a>),
    /// A point of an entered leaf, before its distance is computed: `Enter` to measure it,
    /// `Skip` to pass it by.
    Candidate(usize),
    /// The tree position of a measured point within the ball (or of any point of a leaf
    /// entirely inside the ball).
    Point(usize),
}

/// What a radius search is around: the points within the radius of a point, or of a box.
#[derive(Clone, Copy)]
pub(super) enum Region<'a> {
    Point(&'a [f64]),
    /// The lower and upper corners of a box.
    Box(&'a [f64], &'a [f64]),
}

/// A node a radius search has reached.
pub(super) struct Reached<'a> {
    pub id: usize,
    tree: &'a KdTree,
    region: Region<'a>,
    radius2: f64,
    inside: Cell<Option<bool>>,
}

impl Reached<'_> {
    /// Whether every point of the node's box lies within the radius of the point, or of
    /// every point of the box (worked out on first request).
    pub fn inside(&self) -> bool {
        if let Some(inside) = self.inside.get() {
            return inside;
        }
        let inside = self.tree.max_distance_squared(self.region, self.id) <= self.radius2;
        self.inside.set(Some(inside));
        inside
    }
}

/// What a radius search does next: the visitor's answer to a [`Reach`]. After a
/// [`Reach::Point`], `Skip` and `Enter` both go on to the next point.
pub(super) enum Descend {
    /// Leave the node out (the caller has dealt with it, or it holds nothing of interest).
    Skip,
    /// Look at its children or, for a leaf, its points.
    Enter,
    /// End the whole search.
    Stop,
}

/// The tree. Points are identified by their row in the input matrix.
#[derive(Debug, Clone)]
pub struct KdTree {
    dim: usize,
    /// Coordinates in tree order, row-major.
    coords: Vec<f64>,
    /// Tree position → input row.
    rows: Vec<u32>,
    /// Input row → tree position.
    positions: Vec<u32>,
    pub(super) nodes: Vec<Node>,
    /// Per node, the lower then the upper corner of its bounding box.
    bounds: Vec<f64>,
}

impl KdTree {
    /// Builds the tree over the rows of `points`. Fails on an empty matrix, on more than
    /// `u32::MAX - 1` rows, and on a value that is not finite.
    pub fn new(points: ArrayView2<f64>) -> Result<KdTree, FitError> {
        let (n, dim) = points.dim();
        if n == 0 {
            return Err(FitError::Empty);
        }
        if dim == 0 {
            return Err(FitError::invalid(
                "points",
                "the points have no coordinates",
            ));
        }
        if n >= u32::MAX as usize {
            return Err(FitError::invalid(
                "points",
                format!("{n} rows; the tree indexes at most {} rows", u32::MAX - 1),
            ));
        }
        if let Some(((row, column), value)) = points.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(FitError::invalid(
                "points",
                format!("row {row}, column {column} holds {value}, not a finite number"),
            ));
        }
        let flat: Vec<f64> = points.iter().copied().collect();
        let coord = |row: u32, d: usize| flat[row as usize * dim + d];

        let mut rows: Vec<u32> = (0..n as u32).collect();
        let mut nodes = vec![Node {
            start: 0,
            end: n as u32,
            left: 0,
        }];
        let mut bounds = Vec::new();
        // Children are appended after their parent, so one pass in index order builds the
        // whole tree without recursion.
        let mut next = 0;
        while next < nodes.len() {
            let Node { start, end, .. } = nodes[next];
            let members = &mut rows[start as usize..end as usize];
            let (lower, upper) = bounding_box(
                members.iter().map(|&r| &flat[r as usize * dim..][..dim]),
                dim,
            );
            if members.len() > LEAF_SIZE {
                let widest = (0..dim)
                    .max_by(|&a, &b| (upper[a] - lower[a]).total_cmp(&(upper[b] - lower[b])))
                    .unwrap_or(0);
                let half = members.len() / 2;
                members.select_nth_unstable_by(half, |&a, &b| {
                    coord(a, widest).total_cmp(&coord(b, widest))
                });
                let left = nodes.len() as u32;
                let mid = start + half as u32;
                nodes[next].left = left;
                nodes.push(Node {
                    start,
                    end: mid,
                    left: 0,
                });
                nodes.push(Node {
                    start: mid,
                    end,
                    left: 0,
                });
            }
            bounds.extend_from_slice(&lower);
            bounds.extend_from_slice(&upper);
            next += 1;
        }

        let mut coords = Vec::with_capacity(n * dim);
        let mut positions = vec![0u32; n];
        for (position, &row) in rows.iter().enumerate() {
            coords.extend_from_slice(&flat[row as usize * dim..][..dim]);
            positions[row as usize] = position as u32;
        }
        Ok(KdTree {
            dim,
            coords,
            rows,
            positions,
            nodes,
            bounds,
        })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Always false: a tree holds at least one point.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of coordinates per point.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The coordinates of input row `row`.
    pub fn point(&self, row: usize) -> &[f64] {
        self.at(self.positions[row] as usize)
    }

    /// The input rows within distance `radius` of `query` (distance ≤ radius), ascending.
    pub fn within(&self, query: &[f64], radius: f64) -> Vec<usize> {
        assert_eq!(query.len(), self.dim, "query dimension");
        let mut found = Vec::new();
        let mut stack = Vec::new();
        self.search(
            Region::Point(query),
            radius * radius,
            &mut stack,
            |reach| match reach {
                Reach::Node(node) if node.inside() => {
                    let node = &self.nodes[node.id];
                    found.extend(
                        self.rows[node.start as usize..node.end as usize]
                            .iter()
                            .map(|&r| r as usize),
                    );
                    Descend::Skip
                }
                Reach::Node(_) | Reach::Candidate(_) => Descend::Enter,
                Reach::Point(position) => {
                    found.push(self.rows[position] as usize);
                    Descend::Enter
                }
            },
        );
        found.sort_unstable();
        found
    }

    /// The `k` input rows nearest to `query` with their distances, nearest first (fewer when
    /// the tree holds fewer points). Among points at equal distance the choice is arbitrary.
    pub fn nearest(&self, query: &[f64], k: usize) -> Vec<(usize, f64)> {
        assert_eq!(query.len(), self.dim, "query dimension");
        let mut best = Vec::with_capacity(k);
        self.nearest_squared(query, k, &mut best, &mut Vec::new());
        best.into_iter()
            .map(|(d2, position)| (self.rows[position as usize] as usize, d2.sqrt()))
            .collect()
    }

    /// Coordinates of tree position `position`.
    pub(super) fn at(&self, position: usize) -> &[f64] {
        &self.coords[position * self.dim..][..self.dim]
    }

    /// The input row at tree position `position`.
    pub(crate) fn row(&self, position: usize) -> usize {
        self.rows[position] as usize
    }

    /// Squared length of a node's bounding-box diagonal: no two of its points lie farther
    /// apart than this.
    pub(super) fn diameter_squared(&self, node: usize) -> f64 {
        let (lower, upper) = self.node_box(node);
        lower
            .iter()
            .zip(upper)
            .map(|(l, u)| (u - l) * (u - l))
            .sum()
    }

    fn node_box(&self, node: usize) -> (&[f64], &[f64]) {
        let corners = &self.bounds[node * 2 * self.dim..][..2 * self.dim];
        corners.split_at(self.dim)
    }

    /// Squared distance from `region` to the nearest point of a node's box, or a partial sum
    /// above `bound` once it is clear the distance exceeds it.
    fn min_distance_squared(&self, region: Region, node: usize, bound: f64) -> f64 {
        let (lower, upper) = self.node_box(node);
        match region {
            Region::Point(query) => point_box_distance_squared(query, lower, upper, bound),
            Region::Box(from, to) => {
                let mut sum = 0.0;
                for d in 0..self.dim {
                    let gap = if to[d] < lower[d] {
                        lower[d] - to[d]
                    } else if from[d] > upper[d] {
                        from[d] - upper[d]
                    } else {
                        0.0
                    };
                    sum += gap * gap;
                    if d % 4 == 3 && sum > bound {
                        break;
                    }
                }
                sum
            }
        }
    }

    /// Largest squared distance between a point of `region` and a point of a node's box.
    fn max_distance_squared(&self, region: Region, node: usize) -> f64 {
        let (lower, upper) = self.node_box(node);
        let (from, to) = match region {
            Region::Point(query) => (query, query),
            Region::Box(from, to) => (from, to),
        };
        let mut sum = 0.0;
        for d in 0..self.dim {
            let gap = (to[d] - lower[d]).abs().max((upper[d] - from[d]).abs());
            sum += gap * gap;
        }
        sum
    }

    /// Walks the nodes that reach within squared radius `radius2` of `region`, nearer child
    /// first, telling `visit` about each node (which decides whether to enter it), then about
    /// each point of the leaves it entered (which decides whether to measure it), then about
    /// each measured point within the radius. `stack` is scratch space, reused between calls.
    pub(super) fn search(
        &self,
        region: Region,
        radius2: f64,
        stack: &mut Vec<(u32, f64)>,
        mut visit: impl FnMut(Reach) -> Descend,
    ) {
        stack.clear();
        stack.push((0, self.min_distance_squared(region, 0, radius2)));
        while let Some((id, _)) = stack.pop() {
            let reached = Reached {
                id: id as usize,
                tree: self,
                region,
                radius2,
                inside: Cell::new(None),
            };
            match visit(Reach::Node(&reached)) {
                Descend::Skip => continue,
                Descend::Stop => return,
                Descend::Enter => {}
            }
            let node = &self.nodes[id as usize];
            if node.is_leaf() {
                for position in node.start as usize..node.end as usize {
                    match visit(Reach::Candidate(position)) {
                        Descend::Skip => continue,
                        Descend::Stop => return,
                        Descend::Enter => {}
                    }
                    let point = self.at(position);
                    let near = reached.inside()
                        || match region {
                            Region::Point(query) => {
                                squared_distance_within(query, point, radius2) <= radius2
                            }
                            Region::Box(from, to) => {
                                point_box_distance_squared(point, from, to, radius2) <= radius2
                            }
                        };
                    if near && matches!(visit(Reach::Point(position)), Descend::Stop) {
                        return;
                    }
                }
            } else {
                // The nearer child goes on top, so that the query's own region comes first.
                let (left, right) = (node.left, node.left + 1);
                let near_left = self.min_distance_squared(region, left as usize, radius2);
                let near_right = self.min_distance_squared(region, right as usize, radius2);
                let (first, second) = if near_left <= near_right {
                    ((left, near_left), (right, near_right))
                } else {
                    ((right, near_right), (left, near_left))
                };
                for child in [second, first] {
                    if child.1 <= radius2 {
                        stack.push(child);
                    }
                }
            }
        }
    }

    /// The `k` nearest points to `query` as (squared distance, tree position), nearest first,
    /// into `best`. Depth first, nearer child first; a node is pruned once `k` points are
    /// known and its box is no nearer than the farthest of them, so a query inside a block of
    /// duplicates stops as soon as it has `k` of them.
    pub(super) fn nearest_squared(
        &self,
        query: &[f64],
        k: usize,
        best: &mut Vec<(f64, u32)>,
        stack: &mut Vec<(u32, f64)>,
    ) {
        best.clear();
        if k == 0 {
            return;
        }
        let worst = |best: &Vec<(f64, u32)>| {
            if best.len() < k {
                f64::INFINITY
            } else {
                best[k - 1].0
            }
        };
        stack.clear();
        stack.push((
            0,
            self.min_distance_squared(Region::Point(query), 0, f64::INFINITY),
        ));
        while let Some((id, near)) = stack.pop() {
            if near >= worst(best) && best.len() == k {
                continue;
            }
            let node = &self.nodes[id as usize];
            if node.is_leaf() {
                for position in node.start..node.end {
                    let d2 =
                        squared_distance_within(query, self.at(position as usize), worst(best));
                    if best.len() < k || d2 < best[k - 1].0 {
                        if best.len() == k {
                            best.pop();
                        }
                        let at = best.partition_point(|&(d, _)| d <= d2);
                        best.insert(at, (d2, position));
                    }
                }
            } else {
                let (left, right) = (node.left, node.left + 1);
                let bound = worst(best);
                let near_left =
                    self.min_distance_squared(Region::Point(query), left as usize, bound);
                let near_right =
                    self.min_distance_squared(Region::Point(query), right as usize, bound);
                let (first, second) = if near_left <= near_right {
                    ((left, near_left), (right, near_right))
                } else {
                    ((right, near_right), (left, near_left))
                };
                if best.len() < k || second.1 < bound {
                    stack.push(second);
                }
                if best.len() < k || first.1 < bound {
                    stack.push(first);
                }
            }
        }
    }
}

impl KdTree {
    /// The `k` nearest points to `query` under an exact squared distance the tree's own
    /// coordinates only bound from below, as (exact squared distance, tree position), nearest
    /// first, into `best`: the tree holds each point's image under a map that never lengthens
    /// a distance (a projection), `query` is the query's image, and `exact(position, bound)`
    /// measures the exact squared distance of the query to the point at `position` (or some
    /// value above `bound` once it exceeds it). `limit(worst)` is the squared tree distance
    /// beyond which no point can be nearer than `worst` exactly: the bound plus a margin for
    /// the rounding of both images. Depth first, nearer child first, as [`KdTree::nearest`];
    /// a node or point is passed by once `k` points are known and its tree distance exceeds
    /// `limit` of the farthest of them, so the result is the exact k nearest: a point passed
    /// by could not have been nearer.
    pub(crate) fn nearest_bounded(
        &self,
        query: &[f64],
        k: usize,
        limit: impl Fn(f64) -> f64,
        mut exact: impl FnMut(usize, f64) -> f64,
        best: &mut Vec<(f64, u32)>,
        stack: &mut Vec<(u32, f64)>,
    ) {
        best.clear();
        if k == 0 {
            return;
        }
        let mut reach = f64::INFINITY;
        stack.clear();
        stack.push((
            0,
            self.min_distance_squared(Region::Point(query), 0, f64::INFINITY),
        ));
        while let Some((id, near)) = stack.pop() {
            if near > reach {
                continue;
            }
            let node = &self.nodes[id as usize];
            if node.is_leaf() {
                for position in node.start..node.end {
                    let bound = squared_distance_within(query, self.at(position as usize), reach);
                    if bound > reach {
                        continue;
                    }
                    let worst = if best.len() < k {
                        f64::INFINITY
                    } else {
                        best[k - 1].0
                    };
                    let d2 = exact(position as usize, worst);
                    if best.len() < k || d2 < worst {
                        if best.len() == k {
                            best.pop();
                        }
                        let at = best.partition_point(|&(d, _)| d <= d2);
                        best.insert(at, (d2, position));
                        if best.len() == k {
                            reach = limit(best[k - 1].0);
                        }
                    }
                }
            } else {
                let (left, right) = (node.left, node.left + 1);
                let near_left =
                    self.min_distance_squared(Region::Point(query), left as usize, reach);
                let near_right =
                    self.min_distance_squared(Region::Point(query), right as usize, reach);
                let (first, second) = if near_left <= near_right {
                    ((left, near_left), (right, near_right))
                } else {
                    ((right, near_right), (left, near_left))
                };
                for child in [second, first] {
                    if child.1 <= reach {
                        stack.push(child);
                    }
                }
            }
        }
    }
}

/// Squared Euclidean distance, summed in coordinate order.
pub(super) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Squared distance from `point` to the box `lower..upper`, or a partial sum above `bound`
/// once it is clear the distance exceeds it.
fn point_box_distance_squared(point: &[f64], lower: &[f64], upper: &[f64], bound: f64) -> f64 {
    #[cfg(test)]
    count_distance();
    let mut sum = 0.0;
    for (d, ((&q, &l), &u)) in point.iter().zip(lower).zip(upper).enumerate() {
        let gap = if q < l {
            l - q
        } else if q > u {
            q - u
        } else {
            0.0
        };
        sum += gap * gap;
        if d % 4 == 3 && sum > bound {
            break;
        }
    }
    sum
}

/// [`squared_distance`] when it is at most `bound`; otherwise some partial sum above `bound`
/// (summing stops once it passes: the terms are not negative, so it can only grow).
pub(crate) fn squared_distance_within(a: &[f64], b: &[f64], bound: f64) -> f64 {
    #[cfg(test)]
    count_distance();
    let mut sum = 0.0;
    for (d, (x, y)) in a.iter().zip(b).enumerate() {
        let gap = x - y;
        sum += gap * gap;
        if d % 4 == 3 && sum > bound {
            break;
        }
    }
    sum
}

fn bounding_box<'a>(points: impl Iterator<Item = &'a [f64]>, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lower = vec![f64::INFINITY; dim];
    let mut upper = vec![f64::NEG_INFINITY; dim];
    for p in points {
        for d in 0..dim {
            lower[d] = lower[d].min(p[d]);
            upper[d] = upper[d].max(p[d]);
        }
    }
    (lower, upper)
}

#[cfg(test)]
thread_local! {
    /// Point distances measured on this thread: tests bound the work of an algorithm by
    /// counting it, which no machine's speed can sway.
    static DISTANCES: Cell<u64> = const { Cell::new(0) };
}

#[cfg(test)]
fn count_distance() {
    DISTANCES.with(|n| n.set(n.get() + 1));
}

/// Point distances measured on this thread so far (tests only).
#[cfg(test)]
pub(super) fn distances_measured() -> u64 {
    DISTANCES.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nadir_data::Rng;
    use ndarray::Array2;

    /// Random points on a coarse grid, so that many are exact duplicates, plus a block of
    /// 200 copies of one point.
    fn points_with_duplicates(n: usize, dim: usize, seed: u64) -> Array2<f64> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((n, dim), |(i, _)| {
            if i < 200 {
                0.5
            } else {
                rng.below(6) as f64 * 0.25
            }
        })
    }

    fn brute_within(points: &Array2<f64>, query: &[f64], radius: f64) -> Vec<usize> {
        (0..points.nrows())
            .filter(|&i| {
                squared_distance(query, points.row(i).as_slice().unwrap()) <= radius * radius
            })
            .collect()
    }

    fn brute_nearest_distances(points: &Array2<f64>, query: &[f64], k: usize) -> Vec<f64> {
        let mut d: Vec<f64> = (0..points.nrows())
            .map(|i| squared_distance(query, points.row(i).as_slice().unwrap()).sqrt())
            .collect();
        d.sort_by(f64::total_cmp);
        d.truncate(k);
        d
    }

    #[test]
    fn radius_and_nearest_queries_equal_brute_force() {
        for (dim, seed) in [(2, 1), (3, 2), (8, 3)] {
            let points = points_with_duplicates(1500, dim, seed);
            let tree = KdTree::new(points.view()).unwrap();
            let mut rng = Rng::new(seed + 100);
            for q in 0..60 {
                // Half the queries are data points (duplicates included), half are random.
                let query: Vec<f64> = if q % 2 == 0 {
                    points.row(rng.below(points.nrows())).to_vec()
                } else {
                    (0..dim).map(|_| rng.next_f64() * 1.4 - 0.1).collect()
                };
                for radius in [0.0, 0.25, 0.3, 0.6] {
                    assert_eq!(
                        tree.within(&query, radius),
                        brute_within(&points, &query, radius),
                        "dim {dim}, radius {radius}"
                    );
                }
                for k in [1, 7, 40, 250] {
                    let got: Vec<f64> = tree.nearest(&query, k).iter().map(|p| p.1).collect();
                    assert_eq!(got, brute_nearest_distances(&points, &query, k), "k {k}");
                    let rows = tree.nearest(&query, k);
                    for (row, distance) in rows {
                        let direct = squared_distance(&query, tree.point(row)).sqrt();
                        assert_eq!(direct, distance);
                    }
                }
            }
        }
    }

    #[test]
    fn all_duplicates_build_a_balanced_tree() {
        let points = Array2::from_elem((10_000, 4), 1.0);
        let tree = KdTree::new(points.view()).unwrap();
        let leaves = tree.nodes.iter().filter(|n| n.is_leaf()).count();
        assert!(
            tree.nodes
                .iter()
                .all(|n| !n.is_leaf() || n.len() <= LEAF_SIZE)
        );
        assert!(leaves <= 2 * 10_000 / LEAF_SIZE + 1, "{leaves} leaves");
        assert_eq!(tree.within(&[1.0; 4], 0.0).len(), 10_000);
        let nearest = tree.nearest(&[1.0; 4], 5);
        let mut rows: Vec<usize> = nearest.iter().map(|p| p.0).collect();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(rows.len(), 5);
        assert!(nearest.iter().all(|p| p.1 == 0.0));
    }

    #[test]
    fn rejects_empty_and_non_finite_points() {
        assert_eq!(
            KdTree::new(Array2::<f64>::zeros((0, 3)).view()).unwrap_err(),
            FitError::Empty
        );
        let mut points = Array2::<f64>::zeros((4, 2));
        points[[2, 1]] = f64::NAN;
        assert!(matches!(
            KdTree::new(points.view()),
            Err(FitError::InvalidParameter { .. })
        ));
    }
}
