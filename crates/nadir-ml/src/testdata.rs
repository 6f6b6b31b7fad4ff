//! Real records for unit tests: the 2,000-row sample from `../shared/data`, split 70/30.

use crate::split::stratified_split;
use nadir_data::{Encoded, FeaturePipeline, ReadOptions, read_path};
use std::path::PathBuf;

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
