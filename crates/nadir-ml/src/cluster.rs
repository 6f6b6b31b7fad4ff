//! The unsupervised protocol: PCA on the scaled one-hot features, then DBSCAN on the kept
//! components, its parameters chosen from the k-distance knee and a silhouette grid search.
//! Labels, when the data has them, are used only afterwards, to say how the clusters line up
//! with attacks: never to choose anything.

use crate::dbscan::{
    Agreement, Clustering, CurvePoint, DbscanParams, GridSearch, GridSearchParams, KdTree,
    PointKind, agreement, grid_search, k_distance_curve,
};
use crate::model::FitError;
use crate::pca::{Loading, Pca, PcaParams};
use nadir_data::{Dataset, FeaturePipeline};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How to cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub pca: PcaParams,
    /// A fixed eps; `None` searches multiples of the k-distance knee.
    pub eps: Option<f64>,
    /// A fixed min_samples; `None` searches the grid's values.
    pub min_samples: Option<usize>,
    /// The grid searched where eps or min_samples is not fixed.
    pub grid: GridSearchParams,
    /// Seed of the silhouette samples.
    pub seed: u64,
    /// Points of the k-distance curve kept for plotting.
    pub curve_points: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            pca: PcaParams::default(),
            eps: None,
            min_samples: None,
            grid: GridSearchParams::default(),
            seed: 42,
            curve_points: 1_000,
        }
    }
}

/// What `cluster` reports about PCA.
#[derive(Debug, Clone, Serialize)]
pub struct PcaSummary {
    pub components: usize,
    pub variance_target: f64,
    /// Explained-variance ratio of every component, kept or not, in descending order.
    pub explained_variance_ratio: Vec<f64>,
    pub cumulative_ratio: Vec<f64>,
    /// The five largest loadings of each kept component.
    pub top_loadings: Vec<Vec<Loading>>,
}

/// The k-distance curve for the chosen min_samples.
#[derive(Debug, Clone, Serialize)]
pub struct KDistanceSummary {
    pub k: usize,
    pub knee_eps: Option<f64>,
    pub points: Vec<CurvePoint>,
}

/// Seconds spent in each step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub pca: f64,
    pub index: f64,
    pub grid_search: f64,
    pub dbscan: f64,
    pub k_distance: f64,
}

/// Everything `cluster` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub source: String,
    pub sha256: String,
    pub rows: usize,
    pub pca: PcaSummary,
    pub k_distance: KDistanceSummary,
    /// The searched grid; `None` when both eps and min_samples were fixed.
    pub grid: Option<GridSearch>,
    pub chosen: DbscanParams,
    pub clusters: usize,
    pub cluster_sizes: Vec<usize>,
    pub core: usize,
    pub edge: usize,
    pub noise: usize,
    /// How the clusters line up with the attack labels, when the data has them.
    pub agreement: Option<Agreement>,
    pub seconds: Timings,
}

/// The fitted transform, saved so the same projection can be applied to new records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPca {
    pub nadir_version: String,
    pub pipeline: FeaturePipeline,
    pub pca: Pca,
}

pub struct ClusterRun {
    pub report: ClusterReport,
    pub transform: SavedPca,
    /// Every record projected on the kept components: what DBSCAN clustered.
    pub points: Array2<f64>,
    pub clustering: Clustering,
}

/// Progress of a clustering run, for displays.
#[derive(Debug, Clone, Copy)]
pub enum ClusterStep {
    Pca,
    Index,
    GridSearch,
    Dbscan,
    KDistance,
}

/// Runs PCA and DBSCAN on every record of `data`.
pub fn cluster(
    data: &Dataset,
    options: &ClusterOptions,
    progress: &dyn Fn(ClusterStep),
) -> Result<ClusterRun, FitError> {
    let mut seconds = Timings::default();
    progress(ClusterStep::Pca);
    let pipeline = FeaturePipeline::fit(&data.schema, &data.records);
    let (fitted, t) = timed(|| {
        let encoded = pipeline.encode(&data.records);
        let pca = Pca::fit(&options.pca, &encoded)?;
        let points = pca.transform(&encoded);
        Ok::<_, FitError>((pca, points))
    });
    let (pca, points) = fitted?;
    seconds.pca = t;

    progress(ClusterStep::Index);
    let (tree, t) = timed(|| KdTree::new(points.view()));
    let tree = tree?;
    seconds.index = t;

    let fixed = options.eps.zip(options.min_samples);
    let grid = match fixed {
        Some(_) => None,
        None => {
            progress(ClusterStep::GridSearch);
            let mut grid = options.grid.clone();
            if let Some(eps) = options.eps {
                grid.eps = vec![eps];
            }
            if let Some(min_samples) = options.min_samples {
                grid.min_samples = vec![min_samples];
            }
            let (searched, t) = timed(|| grid_search(&tree, &grid, options.seed));
            seconds.grid_search = t;
            Some(searched?)
        }
    };
    let chosen = match (fixed, &grid) {
        (Some((eps, min_samples)), _) => DbscanParams { eps, min_samples },
        (None, Some(grid)) => grid.best_params().ok_or_else(|| {
            FitError::invalid(
                "eps",
                "no eps × min_samples pair gave two or more clusters; give --eps and --min-samples",
            )
        })?,
        (None, None) => unreachable!("the grid is searched whenever a parameter is not fixed"),
    };

    progress(ClusterStep::Dbscan);
    let (clustering, t) = timed(|| chosen.fit(&tree));
    let clustering = clustering?;
    seconds.dbscan = t;

    progress(ClusterStep::KDistance);
    let (curve, t) = timed(|| k_distance_curve(&tree, chosen.min_samples));
    let curve = curve?;
    seconds.k_distance = t;

    let labels = data.is_attack();
    let report = ClusterReport {
        source: data.source.clone(),
        sha256: data.sha256.clone(),
        rows: data.len(),
        pca: PcaSummary {
            components: pca.n_components(),
            variance_target: options.pca.variance,
            explained_variance_ratio: pca.explained_variance_ratio(),
            cumulative_ratio: pca.cumulative_ratio(),
            top_loadings: pca.top_loadings(&pipeline, 5),
        },
        k_distance: KDistanceSummary {
            k: curve.k,
            knee_eps: curve.knee.as_ref().map(|k| k.eps),
            points: curve.plot_points(options.curve_points),
        },
        grid,
        chosen,
        clusters: clustering.n_clusters(),
        cluster_sizes: clustering.cluster_sizes.clone(),
        core: clustering.count(PointKind::Core),
        edge: clustering.count(PointKind::Edge),
        noise: clustering.noise,
        agreement: labels.map(|l| agreement(&clustering.clusters, &l)),
        seconds,
    };
    Ok(ClusterRun {
        report,
        transform: SavedPca {
            nadir_version: env!("CARGO_PKG_VERSION").to_string(),
            pipeline,
            pca,
        },
        points,
        clustering,
    })
}

fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let result = work();
    (result, start.elapsed().as_secs_f64())
}
