//! Per-record cost of explaining the 100-tree random forest and gradient boosting (the
//! catalogue's defaults) with TreeSHAP: fits each model once on the training file, then
//! explains the first rows of the test file on one thread, several times, and reports the
//! fastest run per record, per model. `bench/explain.sh` runs this beside Python `shap`'s
//! TreeExplainer on scikit-learn's forest of the same size and its HistGradientBoosting, and
//! prints the ratios.
//!
//!     cargo bench -p nadir-ml --bench explain -- TRAIN.csv TEST.csv [--rows N] [--repeats N]
//!         [--json OUT.json]

use nadir_data::{FeaturePipeline, ReadOptions, read_path};
use nadir_ml::explain::TreeExplainer;
use nadir_ml::forest::ForestParams;
use nadir_ml::gbdt::GradientBoostingParams;
use nadir_ml::{AnyModel, Classifier, Fit};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut files: Vec<PathBuf> = Vec::new();
    let (mut rows, mut repeats, mut out) = (1000, 3, None::<PathBuf>);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|n| n.parse().ok()).expect("a number");
        match arg.as_str() {
            "--bench" => {}
            "--rows" => rows = number(),
            "--repeats" => repeats = number(),
            "--json" => out = Some(args.next().expect("--json takes a path").into()),
            file => files.push(file.into()),
        }
    }
    let [train, test] = &files[..] else {
        panic!("give TRAIN.csv and TEST.csv")
    };
    let read = |path: &PathBuf| read_path(path, ReadOptions::default()).expect("readable data");
    let (train, test) = (read(train), read(test));
    let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
    let labels = train.is_attack().expect("labelled training data");
    let train_x = pipeline.encode(&train.records);
    let forest = ForestParams::random_forest()
        .fit(&train_x, &labels, 42)
        .expect("forest fit");
    let boosting = GradientBoostingParams::default()
        .fit(&train_x, &labels, 42)
        .expect("gradient boosting fit");
    let rows = rows.min(test.len());
    let test_x = pipeline.encode(&test.records[..rows]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let mut report = serde_json::Map::new();
    for (name, model) in [
        ("random_forest", AnyModel::RandomForest(forest)),
        ("gradient_boosting", AnyModel::GradientBoosting(boosting)),
    ] {
        let described = model.describe();
        println!("{name}: {described}");
        let mut seconds = Vec::new();
        for _ in 0..repeats {
            let start = Instant::now();
            let explanations = pool.install(|| {
                TreeExplainer::of(&model)
                    .expect("a tree model")
                    .explain(&test_x)
            });
            seconds.push(start.elapsed().as_secs_f64());
            assert_eq!(explanations.len(), rows);
        }
        let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
        let per_record = fastest / rows as f64;
        println!(
            "nadir TreeSHAP, {name}, 1 thread: {rows} records in {:.3} s (fastest of {repeats}), {:.3} ms per record",
            fastest,
            per_record * 1e3
        );
        report.insert(
            name.into(),
            json!({"model": described, "rows": rows, "runs": seconds, "seconds_per_record": per_record}),
        );
    }
    if let Some(path) = out {
        std::fs::write(&path, serde_json::Value::Object(report).to_string())
            .expect("writes the report");
    }
}
