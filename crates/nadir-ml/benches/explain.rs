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
//! `--model FILE.nadir TEST.csv` takes a trained model file instead (the one `nadir serve`
//! serves) and measures what its `?explain=5` requests cost in process: see [`as_requests`].
//!
//!     cargo bench -p nadir-ml --bench explain -- TRAIN.csv TEST.csv [--rows N] [--repeats N]
//!         [--json OUT.json] [--models KINDS] [--train-rows N]
//!     cargo bench -p nadir-ml --bench explain -- --model FILE.nadir TEST.csv [--rows N]
//!         [--repeats N]

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
    let mut saved = None::<PathBuf>;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|n| n.parse().ok()).expect("a number");
        match arg.as_str() {
            "--bench" => {}
            "--rows" => rows = number(),
            "--repeats" => repeats = number(),
            "--train-rows" => train_rows = number(),
            "--json" => out = Some(args.next().expect("--json takes a path").into()),
            "--model" => saved = Some(args.next().expect("--model takes a path").into()),
            "--models" => {
                let list = args.next().expect("--models takes a list");
                models = Some(ModelKind::parse_list(&list).expect("known models"));
            }
            file => files.push(file.into()),
        }
    }
    if let Some(saved) = saved {
        let [test] = &files[..] else {
            panic!("give TEST.csv with --model")
        };
        as_requests(&saved, test, rows, repeats);
        return;
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

/// `--model FILE.nadir TEST.csv`: what a server's `?explain=5` request costs in process, with
/// the model file it serves: each of the first `rows` records alone, `repeats` times, handed
/// from a thread outside the pool to rayon's pool (as the server's async worker does) for its
/// top 5 features and its prediction, the caller waiting on a channel, with a pause between
/// records (a client's round trip, in which the pool's threads go idle). Prints the latency
/// percentiles and the CPU time per request of the whole process (every thread, spinning
/// included), beside the bare explanation's on one thread and on every core.
fn as_requests(path: &std::path::Path, test: &std::path::Path, rows: usize, repeats: usize) {
    let saved = nadir_ml::file::SavedModel::load(path).expect("a model file");
    let test = read_path(test, ReadOptions::default()).expect("readable data");
    let rows = rows.min(test.len());
    let records = &test.records[..rows];
    let encoded: Vec<_> = (0..rows)
        .map(|row| saved.pipeline.encode(&records[row..=row]))
        .collect();
    let explainer = Explainer::of(&saved.model).expect("an explainer");
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    };
    let percentiles = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        let at = |p: f64| {
            times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1] * 1e3
        };
        format!(
            "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms",
            at(0.5),
            at(0.9),
            at(0.99)
        )
    };
    let cpu_seconds = || {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split(' ').collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(12) + ticks(13)) / 100.0
    };
    {
        let one = pool(1);
        let batch = saved.pipeline.encode(records);
        let start = Instant::now();
        for _ in 0..repeats {
            one.install(|| explainer.explain(&batch));
        }
        println!(
            "{}: explanation alone, 1 thread, batch of {rows}: {:.3} ms per record",
            saved.model.kind(),
            start.elapsed().as_secs_f64() / (rows * repeats) as f64 * 1e3
        );
    }
    for threads in [1, 2] {
        let pool = pool(threads);
        let mut times = Vec::new();
        let cpu = cpu_seconds();
        for _ in 0..repeats {
            for record in &encoded {
                let start = Instant::now();
                pool.install(|| explainer.explain(record));
                times.push(start.elapsed().as_secs_f64());
            }
        }
        let cpu = (cpu_seconds() - cpu) / times.len() as f64 * 1e3;
        println!(
            "{}: explanation alone, {threads} thread(s), back to back: {}, CPU {cpu:.3} ms",
            saved.model.kind(),
            percentiles(&mut times)
        );
    }
    let pool = pool(2);
    let mut times = Vec::new();
    let cpu = cpu_seconds();
    for _ in 0..repeats {
        for row in 0..rows {
            let start = Instant::now();
            let (done, answer) = std::sync::mpsc::channel();
            let saved = &saved;
            pool.in_place_scope(|scope| {
                scope.spawn(move |_| {
                    let top = saved
                        .explain_top(&records[row..=row], 5)
                        .expect("explained");
                    let predictions = saved.predict(&records[row..=row], None);
                    let _ = done.send((top, predictions));
                });
                answer.recv().expect("an answer");
            });
            times.push(start.elapsed().as_secs_f64());
            std::thread::sleep(std::time::Duration::from_micros(150));
        }
    }
    let cpu = (cpu_seconds() - cpu) / times.len() as f64 * 1e3;
    println!(
        "{}: as a request (top 5 and prediction on the pool, 2 threads, 150 µs apart): {}, CPU {cpu:.3} ms",
        saved.model.kind(),
        percentiles(&mut times)
    );
}
