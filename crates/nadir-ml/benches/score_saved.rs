//! Batch scoring time of a saved model, repeated: loads a model file (as `nadir train`
//! wrote it), reads and encodes a data file with the model's schema and pipeline, then times
//! `Classifier::score` on all its rows `--repeats` times per thread count.
//!
//! What is timed is what `nadir train` reports as a model's prediction time
//! (`measure_holdout`: one `score` of the encoded test part), which a single run measures at
//! the mercy of the scheduler: one batch is tens of milliseconds. `bench/compare_unsw.sh`
//! runs this on each model it trained and sets the median beside the median of as many
//! `predict_proba` runs of the peers. Every run must give the same scores, or the run stops.
//! Plain `main` rather than criterion, for the same reasons as `forest_predict`.
//!
//!     cargo bench -p nadir-ml --bench score_saved -- MODEL.nadir DATA.csv [--repeats N]
//!         [--threads 1,2] [--json OUT.json]
//!
//! The JSON holds, per thread count, every run's wall and CPU seconds and their medians.

mod common;

use common::process_cpu_seconds;
use nadir_data::{ReadOptions, read_path};
use nadir_ml::Classifier;
use nadir_ml::file::SavedModel;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

struct Options {
    model: PathBuf,
    data: PathBuf,
    repeats: usize,
    threads: Vec<usize>,
    json: Option<PathBuf>,
}

fn options() -> Options {
    let mut files = Vec::new();
    let mut repeats = 5;
    let mut threads = vec![1, 2];
    let mut json = None;
    // `cargo bench` adds `--bench`; every other flag is ours.
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--repeats" => {
                repeats = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--repeats takes a positive number")
            }
            "--threads" => {
                let counts = args.next().expect("--threads takes thread counts");
                threads = counts
                    .split(',')
                    .map(|n| n.parse().ok().filter(|&n| n > 0))
                    .collect::<Option<_>>()
                    .expect("--threads takes positive numbers, e.g. 1,2")
            }
            "--json" => json = Some(args.next().expect("--json takes a path").into()),
            file => files.push(PathBuf::from(file)),
        }
    }
    let [model, data] = <[PathBuf; 2]>::try_from(files).expect("give MODEL.nadir and DATA.csv");
    Options {
        model,
        data,
        repeats,
        threads,
        json,
    }
}

fn main() {
    let options = options();
    let saved = SavedModel::load(&options.model).expect("a readable model file");
    let data = read_path(
        &options.data,
        ReadOptions::with_schema(saved.pipeline.schema().clone()),
    )
    .expect("data of the model's schema");
    let encoded = saved.pipeline.encode(&data.records);
    println!(
        "{}: {} rows, {} runs per thread count",
        saved.model.describe(),
        encoded.len(),
        options.repeats
    );
    let pools = common::thread_pools(&options.threads);
    let mut reference = None;
    let mut by_threads = serde_json::Map::new();
    for (threads, pool) in &pools {
        let mut runs = Vec::with_capacity(options.repeats);
        let mut cpu_runs = Vec::with_capacity(options.repeats);
        for _ in 0..options.repeats {
            let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
            let scores = pool.install(|| saved.model.score(&encoded));
            runs.push(start.elapsed().as_secs_f64());
            cpu_runs.push(process_cpu_seconds() - cpu_start);
            assert_eq!(
                *reference.get_or_insert_with(|| scores.clone()),
                scores,
                "a run gave other scores"
            );
        }
        let (median, cpu_median) = (median(&runs), median(&cpu_runs));
        println!(
            "  {threads} thread(s): median {:.2} ms (fastest {:.2} ms), CPU median {:.2} ms",
            median * 1e3,
            runs.iter().copied().fold(f64::INFINITY, f64::min) * 1e3,
            cpu_median * 1e3
        );
        by_threads.insert(
            threads.to_string(),
            json!({"median": median, "cpu_median": cpu_median, "runs": runs,
                   "cpu_runs": cpu_runs}),
        );
    }
    if let Some(path) = options.json {
        let report = json!({
            "model": saved.kind().name(),
            "rows": encoded.len(),
            "repeats": options.repeats,
            "threads": by_threads,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("JSON"))
            .expect("a writable --json path");
    }
}

fn median(runs: &[f64]) -> f64 {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}
