//! The nadir HTML report: one self-contained page (inline SVG, inline CSS, no scripts, no
//! network) that shows the data, the trained models, the clusters and the anomalies.
//!
//! [`build`] gathers everything — the exploration of `nadir-explore`, the models of a
//! `nadir train` directory scored again on their held-out rows, PCA and DBSCAN on every
//! record, the isolation forest — into a [`Report`]; [`Report::to_html`] writes the page. The
//! charts come from [`figures`] (one function per figure, each returning SVG markup) over the
//! small chart library in [`chart`], so the server can send the same charts.

pub mod chart;
pub mod figures;
mod html;
pub mod models;
pub mod unsupervised;

use models::{HeldOut, ModelDir, ModelResult};
use nadir_data::Dataset;
use nadir_data::schema::{Feature, Kind};
use nadir_explore::{Exploration, ExploreError};
use nadir_ml::FitError;
use nadir_ml::cluster::{ClusterOptions, ClusterStep};
use nadir_ml::file::ModelFileError;
use nadir_ml::model_dir::ModelDirError;
use nadir_ml::registry::ModelKind;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;
use unsupervised::{AnomalyInput, AnomalySection, ClusterSection};

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Explore(#[from] ExploreError),
    #[error(transparent)]
    ModelDir(#[from] ModelDirError),
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    #[error("{path} is missing: metrics.json lists it, and the report scores every listed model")]
    MissingModel { path: String },
    #[error(
        "the models were trained on {trained}, not on {data} (their sha256 differ): give the training file with --data, so the report can score the rows they never saw"
    )]
    OtherData { data: String, trained: String },
    #[error(
        "the models were measured on a separate test file, {path}: give it with --test so the report can draw their curves"
    )]
    TestFileNeeded { path: String },
    #[error("cannot find the held-out rows: {0}")]
    Split(String),
    #[error("fitting {kind}: {error}")]
    Fit { kind: ModelKind, error: FitError },
    #[error("clustering: {0}")]
    Cluster(FitError),
}

/// What a report is built from besides the data.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Seed of the scatter samples (and of the isolation forest the report fits when the
    /// model directory has none).
    pub seed: u64,
    /// Points drawn per scatter plot at most.
    pub max_points: usize,
    /// Features with a histogram by class: the best separating numeric ones.
    pub histograms: usize,
    pub cluster: ClusterOptions,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            seed: 42,
            max_points: 5_000,
            histograms: 6,
            cluster: ClusterOptions::default(),
        }
    }
}

/// What [`build`] is doing, for progress displays.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Explore,
    Score(ModelKind),
    Cluster(ClusterStep),
    IsolationForest,
}

/// One numeric feature's distribution in each class.
#[derive(Debug, Clone)]
pub struct FeatureHistogram {
    pub feature: String,
    pub kind: Kind,
    pub scale: chart::Scale,
    /// Bin edges in the feature's units; bin `i` is `edges[i]..edges[i + 1]`.
    pub edges: Vec<f64>,
    /// Share of each class's rows in each bin.
    pub normal: Vec<f64>,
    pub attack: Vec<f64>,
}

/// The models of a training run, measured on the rows they were not trained on.
pub struct ModelSection {
    pub dir: String,
    /// The name of the schema the models were trained on.
    pub schema: String,
    pub seed: u64,
    pub folds: usize,
    pub test_share: Option<f64>,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Where the held-out rows came from, in words.
    pub held_out: String,
    /// In the order of `metrics.json`.
    pub results: Vec<ModelResult>,
    /// The model `nadir train` picked: the best cross-validated F1 on the training part.
    pub best: Option<ModelKind>,
}

impl ModelSection {
    /// The model `nadir train` picked by cross-validated F1 ([`TrainReport::best`]), so the
    /// pick never looks at the held-out rows the page then measures it on.
    ///
    /// [`TrainReport::best`]: nadir_ml::protocol::TrainReport::best
    pub fn best(&self) -> Option<&ModelResult> {
        self.results.iter().find(|r| Some(r.kind) == self.best)
    }
}

/// Everything the page shows.
pub struct Report {
    pub exploration: Exploration,
    pub histograms: Vec<FeatureHistogram>,
    pub models: ModelSection,
    pub clusters: ClusterSection,
    pub anomalies: AnomalySection,
    pub options: ReportOptions,
    /// Seconds [`build`] took, and each of its steps.
    pub seconds: f64,
    pub step_seconds: Vec<(&'static str, f64)>,
}

impl Report {
    /// The whole page: one self-contained HTML document.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

/// Builds the report of `data` (labelled) and the models in `dir`. `test_file` is the
/// separate test file the models were measured on, when `nadir train --test` was used.
pub fn build(
    data: &Dataset,
    dir: &ModelDir,
    test_file: Option<&Dataset>,
    options: &ReportOptions,
    progress: &dyn Fn(Step),
) -> Result<Report, ReportError> {
    let start = Instant::now();
    let mut steps = Vec::new();
    let mut lap = Instant::now();
    let mut time_step = |name: &'static str| {
        steps.push((name, lap.elapsed().as_secs_f64()));
        lap = Instant::now();
    };
    progress(Step::Explore);
    let exploration = nadir_explore::explore(data)?;
    let labels = data.is_attack().expect("explore checked the labels");
    let histograms = class_histograms(data, &labels, &exploration, options.histograms);

    time_step("exploration");
    let held = models::held_out(data, dir, test_file)?;
    let test = models::held_out_rows(data, &held, test_file);
    let test_labels = test
        .is_attack()
        .ok_or_else(|| ReportError::Split(format!("{} has no `attack` column", test.source)))?;
    let mut results = Vec::new();
    for model in &dir.models {
        progress(Step::Score(model.kind()));
        results.push(models::measure(model, dir, &test, &test_labels)?);
    }
    let models = model_section(dir, &held, results);
    time_step("scoring the held-out rows");

    let run = nadir_ml::cluster::cluster(data, &options.cluster, &|step| {
        progress(Step::Cluster(step))
    })
    .map_err(ReportError::Cluster)?;
    let test_points = match &held.test_rows {
        Some(rows) => run.points.select(ndarray::Axis(0), rows),
        None => run
            .transform
            .pca
            .transform(&run.transform.pipeline.encode(&test.records)),
    };
    let clusters = ClusterSection::new(run, options.max_points, options.seed);
    time_step("PCA and DBSCAN");

    progress(Step::IsolationForest);
    let train = data.select(&held.train_rows);
    let saved_forest = dir
        .models
        .iter()
        .find(|m| m.kind() == ModelKind::IsolationForest);
    let anomalies = AnomalySection::new(AnomalyInput {
        saved: saved_forest,
        train: &train,
        test: &test,
        test_labels: &test_labels,
        test_points,
        seed: dir.metrics.seed,
        max_points: options.max_points,
    })?;
    time_step("isolation forest");
    Ok(Report {
        exploration,
        histograms,
        models,
        clusters,
        anomalies,
        options: options.clone(),
        seconds: start.elapsed().as_secs_f64(),
        step_seconds: steps,
    })
}

fn model_section(dir: &ModelDir, held: &HeldOut, results: Vec<ModelResult>) -> ModelSection {
    ModelSection {
        dir: dir.dir.display().to_string(),
        schema: dir
            .schema()
            .map_or_else(String::new, |s| s.name().to_string()),
        seed: dir.metrics.seed,
        folds: dir.metrics.folds,
        test_share: held.test_share,
        train_rows: dir.metrics.data.train_rows,
        test_rows: dir.metrics.data.test_rows,
        held_out: held.how.clone(),
        results,
        best: dir.metrics.best().map(|m| m.name),
    }
}

/// Bins per histogram.
const BINS: usize = 40;

/// Histograms by class of the `count` numeric features that separate the classes best, in
/// the exploration's ranking. Counts spanning more than two decades (bytes, durations) are
/// binned on a log(1 + x) scale, or their bulk would sit in the first bin.
pub fn class_histograms(
    data: &Dataset,
    labels: &[bool],
    exploration: &Exploration,
    count: usize,
) -> Vec<FeatureHistogram> {
    let numeric: Vec<&Feature> = data.schema.numeric().collect();
    exploration
        .tests
        .iter()
        .filter_map(|t| {
            let column = numeric.iter().position(|f| f.name == t.feature)?;
            Some((t.feature.clone(), column, numeric[column].kind))
        })
        .take(count)
        .map(|(feature, column, kind)| {
            let values: Vec<f64> = data.records.iter().map(|r| r.numeric[column]).collect();
            histogram(feature, kind, &values, labels)
        })
        .collect()
}

fn histogram(feature: String, kind: Kind, values: &[f64], labels: &[bool]) -> FeatureHistogram {
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(0.0, f64::min);
    let (scale, edges) = match kind {
        // Any real values: even bins over their range.
        Kind::Continuous => (
            chart::Scale::Linear,
            (0..=BINS)
                .map(|i| min + (max - min) * i as f64 / BINS as f64)
                .collect(),
        ),
        Kind::Rate => (
            chart::Scale::Linear,
            (0..=20).map(|i| i as f64 / 20.0).collect::<Vec<f64>>(),
        ),
        Kind::Count if max > 100.0 => {
            let top = (1.0 + max).log10();
            (
                chart::Scale::Log1p,
                (0..=BINS)
                    .map(|i| 10f64.powf(top * i as f64 / BINS as f64) - 1.0)
                    .collect(),
            )
        }
        // Small integer counts and indicators: one bin per value.
        Kind::Count | Kind::Indicator | Kind::Categorical => (
            chart::Scale::Linear,
            (0..=(max.ceil() as usize + 1)).map(|v| v as f64).collect(),
        ),
    };
    let bins = edges.len() - 1;
    let (mut normal, mut attack) = (vec![0.0; bins], vec![0.0; bins]);
    for (&v, &is_attack) in values.iter().zip(labels) {
        let bin = edges[1..].partition_point(|&e| e <= v).min(bins - 1);
        if is_attack {
            attack[bin] += 1.0;
        } else {
            normal[bin] += 1.0;
        }
    }
    let to_shares = |counts: &mut Vec<f64>| {
        let total: f64 = counts.iter().sum();
        if total > 0.0 {
            counts.iter_mut().for_each(|c| *c /= total);
        }
    };
    to_shares(&mut normal);
    to_shares(&mut attack);
    FeatureHistogram {
        feature,
        kind,
        scale,
        edges,
        normal,
        attack,
    }
}

/// Where `nadir report` writes the page when not told: beside the models it reports on, in
/// the directory `nadir train` wrote (git-ignored in a checkout as `models/`), not in
/// whatever directory the command runs from.
pub fn default_page_path(model_dir: &Path) -> PathBuf {
    model_dir.join("report.html")
}

/// Reads the model directory: see [`ModelDir::load`].
pub fn load_models(dir: &Path) -> Result<ModelDir, ReportError> {
    ModelDir::load(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_bin_every_row_and_use_log_bins_for_wide_counts() {
        let values = [0.0, 0.0, 5.0, 120.0, 1e6, 1e6];
        let labels = [false, true, false, true, true, true];
        let h = histogram("srcbytes".into(), Kind::Count, &values, &labels);
        assert_eq!(h.scale, chart::Scale::Log1p);
        assert_eq!(h.edges.len(), BINS + 1);
        assert!((h.edges[BINS] - 1e6).abs() < 1e-3);
        assert!((h.normal.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((h.attack.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(
            h.attack[BINS - 1],
            0.5,
            "the largest value falls in the last bin"
        );
        assert_eq!(h.normal[0], 0.5, "zero falls in the first bin");

        let rates = histogram("serrorrate".into(), Kind::Rate, &[0.0, 1.0], &[false, true]);
        assert_eq!(rates.scale, chart::Scale::Linear);
        assert_eq!(rates.attack[19], 1.0, "a rate of 1 is in the last bin");

        let small = histogram(
            "hot".into(),
            Kind::Count,
            &[0.0, 2.0, 2.0],
            &[false, true, true],
        );
        assert_eq!(small.edges, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(small.attack, vec![0.0, 0.0, 1.0]);
    }
}
