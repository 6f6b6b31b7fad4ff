//! Judging a clustering: the silhouette (without labels) and agreement with the attack labels.

use nadir_data::Rng;
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::kdtree::squared_distance;

/// Mean silhouette (Rousseeuw 1987) of the clustered rows, noise left out, computed exactly
/// within a seeded sample: `sample_size` rows drawn from all rows (all of them when there
/// are fewer), of which the clustered ones are scored; as scikit-learn's `silhouette_score`
/// with `sample_size`, but drawn before the noise is dropped, so that clusterings of the same
/// rows with different parameters are scored on the same rows and their comparison is not
/// also a comparison of draws. A point's silhouette is `(b - a) / max(a, b)` with `a` its
/// mean distance to the rest of its cluster and `b` the smallest mean distance to another
/// cluster, both within the sample; a point alone in its cluster scores 0. `None` when the
/// sample holds fewer than 2 clusters or as many clusters as points (where scikit-learn
/// raises an error).
///
/// Leaving noise out is the usual choice for DBSCAN (noise is not a cluster), but it favours
/// settings that call much of the data noise: read the score beside the noise share.
///
/// # Panics
/// When `points` and `clusters` differ in length.
pub fn silhouette(
    points: ArrayView2<f64>,
    clusters: &[Option<usize>],
    sample_size: usize,
    seed: u64,
) -> Option<f64> {
    assert_eq!(
        points.nrows(),
        clusters.len(),
        "one cluster entry per point"
    );
    let sample = sample_rows(clusters, sample_size, seed);
    let coords: Vec<f64> = sample
        .iter()
        .flat_map(|&row| points.row(row).into_iter().copied().collect::<Vec<_>>())
        .collect();
    let labels: Vec<usize> = sample.iter().filter_map(|&row| clusters[row]).collect();
    mean_silhouette(&coords, points.ncols(), &labels)
}

/// The clustered rows among `sample_size` rows drawn with `seed` (all rows when there are
/// no more), ascending.
pub(super) fn sample_rows(clusters: &[Option<usize>], sample_size: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..clusters.len()).collect();
    if rows.len() > sample_size {
        Rng::new(seed).shuffle(&mut rows);
        rows.truncate(sample_size);
        rows.sort_unstable();
    }
    rows.retain(|&row| clusters[row].is_some());
    rows
}

/// Mean silhouette of points (row-major `coords`, `dim` per point) with cluster `labels`,
/// exact: O(points² · dim), parallel over points, summed in point order.
pub(super) fn mean_silhouette(coords: &[f64], dim: usize, labels: &[usize]) -> Option<f64> {
    let n = labels.len();
    let mut dense: HashMap<usize, usize> = HashMap::new();
    let compact: Vec<usize> = labels
        .iter()
        .map(|&label| {
            let next = dense.len();
            *dense.entry(label).or_insert(next)
        })
        .collect();
    let k = dense.len();
    if k < 2 || k >= n {
        return None;
    }
    let mut sizes = vec![0usize; k];
    for &c in &compact {
        sizes[c] += 1;
    }
    let point = |i: usize| &coords[i * dim..][..dim];
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(16)
        .map_init(
            || vec![0.0; k],
            |sums, i| {
                let own = compact[i];
                if sizes[own] == 1 {
                    return 0.0;
                }
                sums.fill(0.0);
                for j in 0..n {
                    sums[compact[j]] += squared_distance(point(i), point(j)).sqrt();
                }
                let a = sums[own] / (sizes[own] - 1) as f64;
                let b = (0..k)
                    .filter(|&c| c != own)
                    .map(|c| sums[c] / sizes[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                let scale = a.max(b);
                if scale > 0.0 { (b - a) / scale } else { 0.0 }
            },
        )
        .collect();
    Some(scores.iter().sum::<f64>() / n as f64)
}

/// The adjusted Rand index (Hubert & Arabie 1985) of two labellings of the same points, as
/// scikit-learn's `adjusted_rand_score`: 1 for identical partitions (whatever the label
/// names), about 0 for independent ones, negative for worse than chance. Computed from the
/// pair counts in exact integers.
///
/// # Panics
/// When the labellings differ in length.
pub fn adjusted_rand_index(truth: &[usize], predicted: &[usize]) -> f64 {
    assert_eq!(
        truth.len(),
        predicted.len(),
        "labellings of the same points"
    );
    let mut cells: HashMap<(usize, usize), i128> = HashMap::new();
    let mut truth_sizes: HashMap<usize, i128> = HashMap::new();
    let mut predicted_sizes: HashMap<usize, i128> = HashMap::new();
    for (&t, &p) in truth.iter().zip(predicted) {
        *cells.entry((t, p)).or_default() += 1;
        *truth_sizes.entry(t).or_default() += 1;
        *predicted_sizes.entry(p).or_default() += 1;
    }
    let n = truth.len() as i128;
    let squares = |counts: &mut dyn Iterator<Item = &i128>| counts.map(|c| c * c).sum::<i128>();
    let both = squares(&mut cells.values());
    // Ordered pairs of distinct points (scikit-learn's pair confusion matrix).
    let together_in_both = both - n;
    let only_predicted = squares(&mut predicted_sizes.values()) - both;
    let only_truth = squares(&mut truth_sizes.values()) - both;
    let apart_in_both = n * n - only_predicted - only_truth - both;
    if only_predicted == 0 && only_truth == 0 {
        return 1.0;
    }
    let (tp, tn, fp, fn_) = (
        together_in_both as f64,
        apart_in_both as f64,
        only_predicted as f64,
        only_truth as f64,
    );
    2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn))
}

/// How the rows of one cluster split between the classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMix {
    pub size: usize,
    pub attacks: usize,
}

/// How a clustering lines up with the attack labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub attacks: usize,
    pub normals: usize,
    /// Share of attack rows labelled noise.
    pub attack_noise_share: f64,
    /// Share of normal rows labelled noise.
    pub normal_noise_share: f64,
    /// Over the clustered rows (noise left out), the share that belongs to its cluster's
    /// majority class: the cluster-size-weighted mean of the clusters' majority shares.
    pub purity: f64,
    /// Adjusted Rand index of clusters against the two classes, over all rows, noise counting
    /// as one more cluster: what `adjusted_rand_score(is_attack, dbscan.labels_)` gives.
    pub adjusted_rand: f64,
    /// The same over the clustered rows only.
    pub adjusted_rand_clustered: f64,
    /// Per cluster id, its size and attack count.
    pub clusters: Vec<ClusterMix>,
}

/// Compares DBSCAN's clusters (`None` = noise) with the attack labels. The ARI over two classes
/// is low whenever DBSCAN splits a class into many clusters, even pure ones; purity is the
/// measure of whether clusters mix the classes.
///
/// # Panics
/// When `clusters` and `is_attack` differ in length.
pub fn agreement(clusters: &[Option<usize>], is_attack: &[bool]) -> Agreement {
    assert_eq!(clusters.len(), is_attack.len(), "one label per row");
    let n_clusters = clusters.iter().flatten().max().map_or(0, |&m| m + 1);
    let mut mix = vec![
        ClusterMix {
            size: 0,
            attacks: 0
        };
        n_clusters
    ];
    let (mut noisy_attacks, mut noisy_normals) = (0, 0);
    for (&cluster, &attack) in clusters.iter().zip(is_attack) {
        match cluster {
            Some(id) => {
                mix[id].size += 1;
                mix[id].attacks += usize::from(attack);
            }
            None if attack => noisy_attacks += 1,
            None => noisy_normals += 1,
        }
    }
    let attacks = is_attack.iter().filter(|&&a| a).count();
    let normals = is_attack.len() - attacks;
    let clustered: usize = mix.iter().map(|m| m.size).sum();
    let majority: usize = mix.iter().map(|m| m.attacks.max(m.size - m.attacks)).sum();
    let share = |part: usize, whole: usize| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };

    let truth: Vec<usize> = is_attack.iter().map(|&a| usize::from(a)).collect();
    let with_noise: Vec<usize> = clusters
        .iter()
        .map(|c| c.map_or(n_clusters, |id| id))
        .collect();
    let (clustered_truth, clustered_ids): (Vec<usize>, Vec<usize>) = clusters
        .iter()
        .zip(&truth)
        .filter_map(|(c, &t)| c.map(|id| (t, id)))
        .unzip();
    Agreement {
        attacks,
        normals,
        attack_noise_share: share(noisy_attacks, attacks),
        normal_noise_share: share(noisy_normals, normals),
        purity: share(majority, clustered),
        adjusted_rand: adjusted_rand_index(&truth, &with_noise),
        adjusted_rand_clustered: adjusted_rand_index(&clustered_truth, &clustered_ids),
        clusters: mix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn adjusted_rand_matches_scikit_learn_examples() {
        // From scikit-learn's adjusted_rand_score documentation.
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 1]), 1.0);
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 2], &[0, 0, 1, 1]),
            4.0 / 7.0
        ));
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]),
            4.0 / 7.0
        ));
        assert_eq!(adjusted_rand_index(&[0, 0, 0, 0], &[0, 1, 2, 3]), 0.0);
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]),
            -0.5
        ));
        // Both labellings a single cluster: identical partitions.
        assert_eq!(adjusted_rand_index(&[3, 3, 3], &[7, 7, 7]), 1.0);
    }

    #[test]
    fn silhouette_of_small_examples_worked_by_hand() {
        // 1-D points 0, 1 | 4, 5: s = 7/9, 5/7, 5/7, 7/9.
        let points = array![[0.0], [1.0], [4.0], [5.0]];
        let clusters = [Some(0), Some(0), Some(1), Some(1)];
        assert!(close(
            silhouette(points.view(), &clusters, 100, 1).unwrap(),
            47.0 / 63.0
        ));
        // A singleton cluster at 10 scores 0 and is the nearest cluster of nobody but
        // changes nothing else: (2·7/9 + 2·5/7) / 5. Noise is left out.
        let points = array![[0.0], [1.0], [4.0], [5.0], [10.0], [100.0]];
        let clusters = [Some(0), Some(0), Some(1), Some(1), Some(2), None];
        assert!(close(
            silhouette(points.view(), &clusters, 100, 1).unwrap(),
            188.0 / 315.0
        ));
        // One cluster, or every point its own: undefined.
        assert_eq!(silhouette(points.view(), &[Some(0); 6], 100, 1), None);
        let own: Vec<Option<usize>> = (0..6).map(Some).collect();
        assert_eq!(silhouette(points.view(), &own, 100, 1), None);
    }

    #[test]
    fn silhouette_of_two_tight_distant_blobs_is_near_one_and_sampling_is_seeded() {
        let mut rng = Rng::new(5);
        let points = Array2::from_shape_fn((4000, 3), |(i, _)| {
            (if i % 2 == 0 { 0.0 } else { 100.0 }) + rng.next_f64()
        });
        let clusters: Vec<Option<usize>> = (0..4000).map(|i| Some(i % 2)).collect();
        let full = silhouette(points.view(), &clusters, 4000, 1).unwrap();
        let sampled = silhouette(points.view(), &clusters, 500, 1).unwrap();
        assert!(full > 0.98 && sampled > 0.98, "{full} {sampled}");
        assert_eq!(
            sampled,
            silhouette(points.view(), &clusters, 500, 1).unwrap()
        );
        assert_ne!(
            sampled,
            silhouette(points.view(), &clusters, 500, 2).unwrap()
        );
    }

    #[test]
    fn agreement_counts_noise_purity_and_rand_index() {
        // Cluster 0: 3 attacks + 1 normal; cluster 1: 2 normals; noise: 1 attack, 1 normal.
        let clusters = [
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            None,
            None,
        ];
        let attack = [true, true, true, false, false, false, true, false];
        let a = agreement(&clusters, &attack);
        assert_eq!((a.attacks, a.normals), (4, 4));
        assert!(close(a.attack_noise_share, 0.25) && close(a.normal_noise_share, 0.25));
        assert!(close(a.purity, 5.0 / 6.0));
        assert_eq!(
            a.clusters,
            [
                ClusterMix {
                    size: 4,
                    attacks: 3
                },
                ClusterMix {
                    size: 2,
                    attacks: 0
                }
            ]
        );
        let truth = [1, 1, 1, 0, 0, 0, 1, 0];
        assert_eq!(
            a.adjusted_rand,
            adjusted_rand_index(&truth, &[0, 0, 0, 0, 1, 1, 2, 2])
        );
        assert_eq!(
            a.adjusted_rand_clustered,
            adjusted_rand_index(&truth[..6], &[0, 0, 0, 0, 1, 1])
        );
        // Perfect clusters of each class, no noise.
        let a = agreement(&[Some(0), Some(0), Some(1)], &[true, true, false]);
        assert_eq!(
            (a.purity, a.adjusted_rand, a.attack_noise_share),
            (1.0, 1.0, 0.0)
        );
    }
}
