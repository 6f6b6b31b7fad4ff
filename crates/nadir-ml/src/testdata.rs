//! Real records for unit tests: the 2,000-row sample from `../shared/data`, split 70/30.

use crate::metrics::{Scores, average_precision};
use crate::model::Classifier;
use crate::split::stratified_split;
use nadir_data::{
    Dataset, Encoded, FeaturePipeline, ReadOptions, Record, Rows, Schema, UNSEEN, read_path,
};
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
    let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
    Split {
        train: pipeline.encode(&train.records),
        train_labels: train_idx.iter().map(|&i| labels[i]).collect(),
        test: pipeline.encode(&data.select(&test_idx).records),
        test_labels: test_idx.iter().map(|&i| labels[i]).collect(),
    }
}

/// NSL-KDD's numeric features, for records made up in tests.
pub const NSL_NUMERIC: usize = 38;
/// NSL-KDD's tree columns: its 38 numeric and 3 categorical features.
pub const NSL_COLUMNS: usize = 41;

/// A pipeline of NSL-KDD's schema fitted on records made up in tests.
pub fn nsl_pipeline(records: &[Record]) -> FeaturePipeline {
    FeaturePipeline::fit(&Schema::nsl_kdd(), records)
}

/// An NSL-KDD record of zeros but for `numeric`'s given positions, with these categories.
pub fn nsl_record(numeric: &[(usize, f64)], categories: [&str; 3]) -> Record {
    let mut values = vec![0.0; NSL_NUMERIC];
    for &(i, v) in numeric {
        values[i] = v;
    }
    Record {
        numeric: values,
        categorical: categories.map(String::from).to_vec(),
    }
}

/// Encoded NSL-KDD rows with these numeric values and no known category (every code
/// unseen, no vocabulary).
pub fn nsl_encoded(numeric: impl IntoIterator<Item = Vec<f64>>) -> Encoded {
    let schema = Schema::nsl_kdd();
    let mut data = Encoded {
        numeric: Rows::new(NSL_NUMERIC),
        codes: Rows::new(3),
        numeric_kinds: schema.numeric().map(|f| f.kind).collect(),
        cardinalities: vec![0; 3],
        unseen: Vec::new(),
    };
    for row in numeric {
        data.numeric.push(&row);
        data.codes.push(&[UNSEEN; 3]);
    }
    data
}

/// Encoded NSL-KDD rows with these numeric values and, for each categorical feature, the one
/// value of its one-value vocabulary.
pub fn nsl_encoded_one_category(numeric: impl IntoIterator<Item = Vec<f64>>) -> Encoded {
    let mut data = nsl_encoded(numeric);
    data.cardinalities = vec![1; 3];
    for row in 0..data.len() {
        data.codes[row].fill(0);
    }
    data
}

/// A model file of `tests/fixtures`, written by an earlier version (see
/// `file::tests::model_files_written_by_earlier_versions_load_and_score`).
pub fn fixture(name: &str) -> crate::file::SavedModel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("v{}", crate::file::FORMAT_VERSION))
        .join(format!("{name}.nadir"));
    crate::file::SavedModel::load(&path).expect("fixture")
}

/// Asserts that `saved`, written as a model file's bytes (checksum and all), fails to load.
pub fn assert_load_error(saved: &crate::file::SavedModel) {
    load_error(saved);
}

/// What loading `saved`, written as a model file's bytes (checksum and all), says is wrong;
/// panics unless it fails to decode.
pub fn load_error(saved: &crate::file::SavedModel) -> String {
    match crate::file::SavedModel::from_bytes(&saved.to_bytes(), "tampered.nadir") {
        Err(crate::file::ModelFileError::Decode { message, .. }) => message,
        other => panic!("expected a decoding error, got {other:?}"),
    }
}

/// Encodes `value` and decodes it again as a model file does: `Some` of what a load check
/// refused in it, `None` when it decodes.
pub fn refusal<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> Option<String> {
    crate::model::take_refusal();
    let decoded = postcard::from_bytes::<T>(&postcard::to_stdvec(value).expect("serialises"));
    let refusal = crate::model::take_refusal();
    match decoded {
        Ok(_) => None,
        Err(error) => Some(refusal.unwrap_or_else(|| error.to_string())),
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

/// Records split for the multi-class models: classes are indices into `names` (benign
/// first, then the families in name order).
pub struct FamilySplit {
    pub names: Vec<String>,
    pub train: Encoded,
    pub train_classes: Vec<u32>,
    pub test: Encoded,
    pub test_classes: Vec<u32>,
}

/// The sample file split 70/30, stratified by attack family (seed 42), encoded with a
/// pipeline fitted on its training part.
pub fn sample_family_split() -> FamilySplit {
    let data = sample_data();
    let families = data.families().expect("labelled");
    let mut names: Vec<String> = families.iter().map(|f| f.to_string()).collect();
    names.sort_unstable();
    names.dedup();
    let normal = names
        .iter()
        .position(|n| n == "normal")
        .expect("normal rows");
    names[..=normal].rotate_right(1);
    let classes: Vec<u32> = families
        .iter()
        .map(|f| names.iter().position(|n| n == f).expect("a listed family") as u32)
        .collect();
    let (train_idx, test_idx) = crate::split::stratified_split_classes(&classes, 0.3, 42);
    let train = data.select(&train_idx);
    let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
    FamilySplit {
        train: pipeline.encode(&train.records),
        train_classes: train_idx.iter().map(|&i| classes[i]).collect(),
        test: pipeline.encode(&data.select(&test_idx).records),
        test_classes: test_idx.iter().map(|&i| classes[i]).collect(),
        names,
    }
}

/// Each row's most probable class (the lowest on ties), from `rows × n_classes`
/// probabilities.
pub fn most_probable(probabilities: &[f64], n_classes: usize) -> Vec<u32> {
    probabilities
        .chunks_exact(n_classes)
        .map(|row| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (k, &p)| if p > row[best] { k } else { best });
            best as u32
        })
        .collect()
}

/// Macro-averaged F1 over the classes that occur in `truth` or `predicted`, as
/// scikit-learn's `f1_score(average="macro")` (a class's F1 is 0 when it has no true
/// positive).
pub fn macro_f1(truth: &[u32], predicted: &[u32]) -> f64 {
    let classes = truth.iter().chain(predicted).max().map_or(0, |&c| c + 1);
    let mut f1s = Vec::new();
    for class in 0..classes {
        let tp = (truth.iter().zip(predicted))
            .filter(|&(&t, &p)| t == class && p == class)
            .count();
        let actual = truth.iter().filter(|&&t| t == class).count();
        let said = predicted.iter().filter(|&&p| p == class).count();
        if actual + said > 0 {
            f1s.push(2.0 * tp as f64 / (actual + said) as f64);
        }
    }
    f1s.iter().sum::<f64>() / f1s.len() as f64
}

/// Asserts every row of `rows × n_classes` probabilities is finite, in [0, 1], and sums to 1.
pub fn assert_rows_sum_to_one(probabilities: &[f64], n_classes: usize) {
    assert!(!probabilities.is_empty() && probabilities.len().is_multiple_of(n_classes));
    for (row, p) in probabilities.chunks_exact(n_classes).enumerate() {
        assert!(
            p.iter().all(|&v| (0.0..=1.0).contains(&v)),
            "row {row}: {p:?}"
        );
        let sum: f64 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "row {row} sums to {sum}");
    }
}
