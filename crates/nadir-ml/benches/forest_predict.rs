//! Batch scoring speed of the random forest and bagging: fits each once, then scores the
//! test rows repeatedly at 1 and 2 threads and reports the fastest and the median run.
//!
//! The fastest of several runs is the number that survives a shared, noisy machine;
//! `bench/forest_predict.sh` runs this beside scikit-learn on the same split files and prints
//! the ratios. Plain `main` rather than criterion: one fit takes seconds, and a minimum and a
//! median over whole-batch runs are the statistics wanted.
//!
//!     cargo bench -p nadir-ml --bench forest_predict -- [TRAIN.csv TEST.csv] [--repeats N]
//!         [--json OUT.json]
//!
//! Without files: the default data file (or `NADIR_DATA`) split 70/30, stratified, seed 42,
//! as the ignored `full_data_*` tests do. Loading a saved model (decoding plus compiling the
//! trees for ranked scoring) is timed too: it is work a server pays once, not per batch.
//! Each run's CPU time (all threads) is recorded beside its wall time.

mod common;

use common::process_cpu_seconds;
use nadir_data::{Encoded, FeaturePipeline, ReadOptions, default_data_path, read_path};
use nadir_ml::forest::{Forest, ForestParams};
use nadir_ml::split::stratified_split;
use nadir_ml::{Classifier, Fit};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

struct Options {
    files: Vec<PathBuf>,
    repeats: usize,
    json: Option<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        files: Vec::new(),
        repeats: 20,
        json: None,
    };
    // `cargo bench` adds `--bench`; every other flag is ours.
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--repeats" => {
                options.repeats = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--repeats takes a positive number")
            }
            "--json" => options.json = Some(args.next().expect("--json takes a path").into()),
            file => options.files.push(file.into()),
        }
    }
    assert!(
        matches!(options.files.len(), 0 | 2),
        "give both TRAIN.csv and TEST.csv, or neither"
    );
    options
}

/// Training rows, their labels and the test rows, encoded by a pipeline fitted on the
/// training rows.
fn data(files: &[PathBuf]) -> (Encoded, Vec<bool>, Encoded) {
    let read = |path: &PathBuf| read_path(path, ReadOptions::default()).expect("readable data");
    let (train, test) = if let [train, test] = files {
        (read(train), read(test))
    } else {
        let all = read(&default_data_path().expect("the data file (set NADIR_DATA)"));
        let labels = all.is_attack().expect("labelled data");
        let (train_rows, test_rows) = stratified_split(&labels, 0.3, 42);
        (all.select(&train_rows), all.select(&test_rows))
    };
    let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
    let labels = train.is_attack().expect("labelled training data");
    (
        pipeline.encode(&train.records),
        labels,
        pipeline.encode(&test.records),
    )
}

fn main() {
    let options = options();
    let (train_x, train_y, test_x) = data(&options.files);
    let forest = ForestParams::random_forest()
        .fit(&train_x, &train_y, 42)
        .expect("forest fit");
    let bagging = ForestParams::bagging()
        .fit(&train_x, &train_y, 42)
        .expect("bagging fit");
    let load_seconds = [
        time_load::<Forest>(&postcard::to_stdvec(&forest).expect("encodes")),
        time_load::<Forest>(&postcard::to_stdvec(&bagging).expect("encodes")),
    ];
    let models: [(&str, &(dyn Classifier + Sync)); 2] =
        [("random_forest", &forest), ("bagging", &bagging)];
    let pools = common::thread_pools(&[1, 2]);
    println!("{} test rows, {} runs each", test_x.len(), options.repeats);
    let mut report = serde_json::Map::new();
    for ((name, model), load) in models.into_iter().zip(load_seconds) {
        println!("{name}: {}", model.describe());
        println!("  loading a saved model: {:.2} ms", load * 1e3);
        let mut reference = None;
        let mut by_threads = serde_json::Map::new();
        for (threads, pool) in &pools {
            let mut seconds = Vec::with_capacity(options.repeats);
            let mut cpu_seconds = Vec::with_capacity(options.repeats);
            let mut scores = Vec::new();
            for _ in 0..options.repeats {
                let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
                scores = pool.install(|| model.score(&test_x));
                seconds.push(start.elapsed().as_secs_f64());
                cpu_seconds.push(process_cpu_seconds() - cpu_start);
            }
            assert_eq!(*reference.get_or_insert_with(|| scores.clone()), scores);
            let runs = seconds.clone();
            seconds.sort_by(f64::total_cmp);
            let (fastest, median) = (seconds[0], seconds[seconds.len() / 2]);
            let cpu_fastest = cpu_seconds.iter().copied().fold(f64::INFINITY, f64::min);
            println!(
                "  {threads} thread(s): fastest {:.2} ms, median {:.2} ms; CPU fastest {:.2} ms",
                fastest * 1e3,
                median * 1e3,
                cpu_fastest * 1e3
            );
            by_threads.insert(
                threads.to_string(),
                json!({"fastest": fastest, "median": median, "runs": runs,
                       "cpu_runs": cpu_seconds}),
            );
        }
        report.insert(
            name.to_string(),
            json!({"describe": model.describe(), "load_seconds": load, "threads": by_threads}),
        );
    }
    if let Some(path) = options.json {
        let report = json!({"test_rows": test_x.len(), "models": report});
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("JSON"))
            .expect("writable --json path");
    }
}

/// Seconds to decode a saved model, fastest of five.
fn time_load<M: serde::de::DeserializeOwned>(bytes: &[u8]) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(postcard::from_bytes::<M>(bytes).expect("decodes"));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
