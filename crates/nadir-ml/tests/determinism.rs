//! The README's promise that the same seed and data give the same models, bit for bit,
//! whatever the number of threads: every model of the catalogue goes through the whole
//! protocol (cross-validation, threshold, final fit) on a pool of 1 thread and on one of 3,
//! and the model files and scores must be identical. Small data and small settings keep it
//! fast; the code paths that split work across threads are the same at any size.

use nadir_data::{Dataset, ReadOptions, read_path};
use nadir_ml::protocol::{TrainOptions, train};
use nadir_ml::registry::{ModelConfig, ModelKind};
use std::path::PathBuf;

fn sample() -> Dataset {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv");
    read_path(&path, ReadOptions::default()).expect("shared data")
}

/// Defaults shrunk so that a debug build trains every model of the catalogue three times in seconds.
fn small_config() -> ModelConfig {
    let mut config = ModelConfig::default();
    let feature_map = config.kernel_svm.feature_map.as_mut();
    feature_map.expect("the kernel SVM's RBF map").components = 64;
    config.random_forest.trees = 8;
    config.bagging.trees = 8;
    config.gradient_boosting.max_iter = 20;
    config.mlp.epochs = 2;
    config.isolation_forest.trees = 20;
    config
}

/// Each model's file bytes and the bits of its scores of every sample record, trained and
/// scored on a pool of `threads` threads.
fn files_and_scores(data: &Dataset, threads: usize) -> Vec<(ModelKind, Vec<u8>, Vec<u64>)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let options = TrainOptions {
            kinds: ModelKind::ALL.to_vec(),
            config: small_config(),
            folds: 2,
            ..TrainOptions::default()
        };
        let trained = train(data, None, &options, &|_| {}).expect("training");
        trained
            .models
            .iter()
            .map(|model| {
                let scores = model
                    .predict(&data.records, None)
                    .iter()
                    .map(|p| p.score.to_bits())
                    .collect();
                (model.kind(), model.to_bytes(), scores)
            })
            .collect()
    })
}

#[test]
fn every_model_is_the_same_on_one_thread_and_on_three() {
    let data = sample();
    let one = files_and_scores(&data, 1);
    let three = files_and_scores(&data, 3);
    let kinds: Vec<ModelKind> = one.iter().map(|(kind, _, _)| *kind).collect();
    assert_eq!(
        kinds,
        ModelKind::ALL.to_vec(),
        "every model of the catalogue"
    );
    for ((kind, one_file, one_scores), (_, three_file, three_scores)) in one.iter().zip(&three) {
        assert!(
            one_file == three_file,
            "{kind}: the model files differ between 1 and 3 threads"
        );
        assert!(
            one_scores == three_scores,
            "{kind}: the scores differ between 1 and 3 threads"
        );
    }
}
