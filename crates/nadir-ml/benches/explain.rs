//! Per-record cost of explaining the 100-tree random forest and gradient boosting (the
//! catalogue's defaults) with TreeSHAP: fits each model once on the training file, then
//! explains the first rows of the test file on one thread, several times, and reports the
//! fastest run per record, per model. `bench/explain.sh` runs this beside Python `shap`'s
//! TreeExplainer on scikit-learn's forest of the same size and its HistGradientBoosting, and
//! prints the ratios.
//!
//! `--models lr,mlp,…` measures those models' explainers instead (each fitted with its
//! default hyperparameters on at most `--train-rows` training rows; a voting ensemble of
//! logistic regression and the random forest, whose outputs differ, so it is sampled), one
//! line each: the explainer's method and its cost per record (bench/EXPLAIN.md).
//!
//! Then, per model, the latency of explaining one record at a time (what a server's
//! `?explain=K` request does), on one thread and on every core: p50 and p99 over the rows,
//! each explained `--repeats` times.
//!
//!     cargo bench -p nadir-ml --bench explain -- TRAIN.csv TEST.csv [--rows N] [--repeats N]
//!         [--json OUT.json] [--models KINDS] [--train-rows N]

use nadir_data::{FeaturePipeline, ReadOptions, read_path};
use nadir_ml::explain::{Explainer, TreeExplainer};
use nadir_ml::fitting::fit;
use nadir_ml::forest::ForestParams;
use nadir_ml::gbdt::GradientBoostingParams;
use nadir_ml::{AnyModel, Classifier, Fit, ModelConfig, ModelKind};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut files: Vec<PathBuf> = Vec::new();
    let (mut rows, mut repeats, mut out) = (1000, 3, None::<PathBuf>);
    let (mut models, mut train_rows) = (None::<Vec<ModelKind>>, 20_000);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|n| n.parse().ok()).expect("a number");
        match arg.as_str() {
            "--bench" => {}
            "--rows" => rows = number(),
            "--repeats" => repeats = number(),
            "--train-rows" => train_rows = number(),
            "--json" => out = Some(args.next().expect("--json takes a path").into()),
            "--models" => {
                let list = args.next().expect("--models takes a list");
                models = Some(ModelKind::parse_list(&list).expect("known models"));
            }
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let all_cores = rayon::ThreadPoolBuilder::new()
        .build()
        .expect("a thread pool");
    if let Some(kinds) = models {
        let train_rows = train_rows.min(train.len());
        let x = pipeline.encode(&train.records[..train_rows]);
        let y = &labels[..train_rows];
        let mut config = ModelConfig::default();
        config.voting.members = vec![ModelKind::LogisticRegression, ModelKind::RandomForest];
        let rows = rows.min(test.len());
        let test_x = pipeline.encode(&test.records[..rows]);
        println!("| model | method | rows | per record, 1 thread |");
        println!("| --- | --- | --- | --- |");
        for kind in kinds {
            let model = fit(kind, &config, &x, y, 42).expect("fits");
            let explainer = Explainer::of(&model).expect("an explainer");
            let mut fastest = f64::INFINITY;
            let mut methods = Vec::new();
            for _ in 0..repeats {
                let start = Instant::now();
                let explanations = pool.install(|| explainer.explain(&test_x));
                fastest = fastest.min(start.elapsed().as_secs_f64());
                methods = explanations.iter().map(|e| e.method.name()).collect();
            }
            methods.sort_unstable();
            methods.dedup();
            println!(
                "| {kind} | {} | {rows} | {:.3} ms |",
                methods.join(", "),
                fastest / rows as f64 * 1e3
            );
        }
        return;
    }
    let train_x = pipeline.encode(&train.records);
    let forest = ForestParams::random_forest()
        .fit(&train_x, &labels, 42)
        .expect("forest fit");
    let boosting = GradientBoostingParams::default()
        .fit(&train_x, &labels, 42)
        .expect("gradient boosting fit");
    let rows = rows.min(test.len());
    let test_x = pipeline.encode(&test.records[..rows]);
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
        let explainer = TreeExplainer::of(&model).expect("a tree model");
        let singles: Vec<_> = (0..rows).map(|row| test_x.select(&[row])).collect();
        let mut single = serde_json::Map::new();
        for (threads, pool) in [("1_thread", &pool), ("all_cores", &all_cores)] {
            let mut times = Vec::with_capacity(rows * repeats);
            for _ in 0..repeats {
                for record in &singles {
                    let start = Instant::now();
                    let explanation = pool.install(|| explainer.explain(record));
                    times.push(start.elapsed().as_secs_f64());
                    assert_eq!(explanation.len(), 1);
                }
            }
            times.sort_by(f64::total_cmp);
            let at = |p: f64| {
                times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1]
            };
            let (p50, p99) = (at(0.5), at(0.99));
            println!(
                "nadir TreeSHAP, {name}, one record at a time, {threads} ({} threads): p50 {:.3} ms, p99 {:.3} ms",
                pool.current_num_threads(),
                p50 * 1e3,
                p99 * 1e3
            );
            single.insert(
                threads.into(),
                json!({"p50": p50, "p99": p99, "threads": pool.current_num_threads()}),
            );
        }
        report.insert(
            name.into(),
            json!({"model": described, "rows": rows, "runs": seconds, "seconds_per_record": per_record, "single_record": single}),
        );
    }
    if let Some(path) = out {
        std::fs::write(&path, serde_json::Value::Object(report).to_string())
            .expect("writes the report");
    }
}
