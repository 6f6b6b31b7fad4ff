//! Real records for unit tests: the 2,000-row sample from `../shared/data`, split 70/30.

use crate::metrics::{Scores, average_precision};
use crate::model::Classifier;
use crate::split::stratified_split;
use nadir_data::{Dataset, Encoded, FeaturePipeline, ReadOptions, read_path};
use std::path::PathBuf;
use std::time::Instant;

pub struct Split {
    pub train: Encoded,
    pub train_labels: Vec<bool>,
    pub test: Encoded,
    pub test_labels: Vec<bool>,
}

pub fn shared_data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(file)
}

/// The sample file as read, records and labels.
pub fn sample_data() -> Dataset {
    read_path(
        &shared_data("Network_anomaly_sample.csv"),
        ReadOptions::default(),
    )
    .expect("shared data")
}

/// The sample file, encoded with a pipeline fitted on its training part.
pub fn sample_split() -> Split {
    split_file("Network_anomaly_sample.csv")
}

pub fn split_file(file: &str) -> Split {
    let data = read_path(&shared_data(file), ReadOptions::default()).expect("shared data");
    let labels = data.is_attack().expect("labelled");
    let (train_idx, test_idx) = stratified_split(&labels, 0.3, 42);
    let train = data.select(&train_idx);
    let pipeline = FeaturePipeline::fit(&train.records);
    Split {
        train: pipeline.encode(&train.records),
        train_labels: train_idx.iter().map(|&i| labels[i]).collect(),
        test: pipeline.encode(&data.select(&test_idx).records),
        test_labels: test_idx.iter().map(|&i| labels[i]).collect(),
    }
}

/// Accuracy of scores at threshold 0.5.
pub fn accuracy(truth: &[bool], scores: &[f64]) -> f64 {
    Scores::at_threshold(truth, scores, 0.5).accuracy
}

/// What the ignored full-data tests print: fits on the split's training part, scores its test
/// part (best of three timings, as the machine is shared) and returns the metrics at the
/// model's own threshold, or 0.5.
pub fn report_holdout<M: Classifier>(
    name: &str,
    split: &Split,
    fit: impl FnOnce(&Encoded, &[bool]) -> M,
) -> Scores {
    let start = Instant::now();
    let model = fit(&split.train, &split.train_labels);
    let fit_seconds = start.elapsed().as_secs_f64();
    let mut score_seconds = f64::INFINITY;
    let mut scores = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        scores = model.score(&split.test);
        score_seconds = score_seconds.min(start.elapsed().as_secs_f64());
    }
    let threshold = model.fixed_threshold().unwrap_or(0.5);
    let result = Scores::at_threshold(&split.test_labels, &scores, threshold);
    println!(
        "{name} ({} threads): fit {fit_seconds:.3} s, score {score_seconds:.4} s for {} rows, \
         at threshold {threshold:.4}: accuracy {:.5}, F1 {:.5}; ROC-AUC {:.6}, \
         average precision {:.6}\n  {}",
        rayon::current_num_threads(),
        split.test.len(),
        result.accuracy,
        result.f1,
        result.roc_auc.unwrap_or(f64::NAN),
        average_precision(&split.test_labels, &scores).unwrap_or(f64::NAN),
        model.describe()
    );
    result
}

/// Runs `work` on a pool of `threads` threads: the determinism tests compare its result with
/// the default pool's.
pub fn with_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(work)
}
