//! Fit and batch-scoring speed of gradient boosting: fits the default model (seed 42, as the
//! final fit of `nadir train`) repeatedly on a 1-thread and a 2-thread pool, alternating, and
//! scores the test rows after each fit; reports the fastest and the median run, and the
//! fastest CPU time.
//!
//! What is timed is what `nadir train` times as the model's fit (`Fit::fit` on encoded rows:
//! the early-stopping split, binning, the boosting iterations and the validation scoring) and
//! as its prediction (`Classifier::score` on the encoded test rows, `--score-repeats` times
//! after each fit: one batch takes tens of milliseconds). Every fit must give the
//! same model, whatever the pool, or the run stops. Plain `main` rather than criterion, for
//! the same reasons as `forest_predict`.
//!
//!     cargo bench -p nadir-ml --bench gbdt_fit -- [TRAIN.csv TEST.csv] [--repeats N]
//!         [--drop a,b,c] [--threads 1,2] [--score-repeats N] [--json OUT.json]
//!
//! Without files: the default data file (or `NADIR_DATA`) split 70/30, stratified, seed 42.
//! `--json` writes every run's wall and CPU seconds per thread count, with the test scores'
//! checksum, for `bench/compare_unsw.sh`, which runs this bench in rounds interleaved with
//! LightGBM's fits.

mod common;

use common::process_cpu_seconds;
use nadir_data::{Encoded, FeaturePipeline, ReadOptions, default_data_path, read_path};
use nadir_ml::gbdt::GradientBoostingParams;
use nadir_ml::split::stratified_split;
use nadir_ml::{Classifier, Fit};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

struct Options {
    files: Vec<PathBuf>,
    repeats: usize,
    drop: Vec<String>,
    threads: Vec<usize>,
    score_repeats: usize,
    json: Option<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        files: Vec::new(),
        repeats: 5,
        drop: Vec::new(),
        threads: vec![1, 2],
        score_repeats: 1,
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
            "--score-repeats" => {
                options.score_repeats = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--score-repeats takes a positive number")
            }
            "--drop" => {
                let names = args.next().expect("--drop takes feature names");
                options.drop = names.split(',').map(String::from).collect();
            }
            "--threads" => {
                let counts = args.next().expect("--threads takes thread counts");
                options.threads = counts
                    .split(',')
                    .map(|n| n.parse().ok().filter(|&n| n > 0))
                    .collect::<Option<_>>()
                    .expect("--threads takes positive numbers, e.g. 1,2")
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

/// Training rows and labels, test rows and labels, encoded by a pipeline fitted on the
/// training rows.
fn data(options: &Options) -> (Encoded, Vec<bool>, Encoded, Vec<bool>) {
    let train_options = ReadOptions {
        drop: options.drop.clone(),
        ..ReadOptions::default()
    };
    let (train, test) = if let [train, test] = &options.files[..] {
        let train = read_path(train, train_options).expect("readable training data");
        let test_options = ReadOptions::with_schema(train.schema.clone());
        let test = read_path(test, test_options).expect("readable test data");
        (train, test)
    } else {
        let path = default_data_path().expect("the data file (set NADIR_DATA)");
        let all = read_path(&path, train_options).expect("readable data");
        let labels = all.is_attack().expect("labelled data");
        let (train_rows, test_rows) = stratified_split(&labels, 0.3, 42);
        (all.select(&train_rows), all.select(&test_rows))
    };
    let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
    (
        pipeline.encode(&train.records),
        train.is_attack().expect("labelled training data"),
        pipeline.encode(&test.records),
        test.is_attack().expect("labelled test data"),
    )
}

fn main() {
    let options = options();
    let (train_x, train_y, test_x, test_y) = data(&options);
    let params = GradientBoostingParams::default();
    let pools = common::thread_pools(&options.threads);
    println!(
        "{} training rows, {} test rows, {} runs per pool",
        train_x.len(),
        test_x.len(),
        options.repeats
    );
    let mut fits = vec![Vec::new(); pools.len()];
    let mut predicts = vec![Vec::new(); pools.len()];
    let mut reference = None;
    for _ in 0..options.repeats {
        for ((_, pool), (fits, predicts)) in pools.iter().zip(fits.iter_mut().zip(&mut predicts)) {
            let (start, cpu) = (Instant::now(), process_cpu_seconds());
            let model = pool.install(|| params.fit(&train_x, &train_y, 42).expect("fits"));
            fits.push((start.elapsed().as_secs_f64(), process_cpu_seconds() - cpu));
            let mut scores = Vec::new();
            for _ in 0..options.score_repeats {
                let (start, cpu) = (Instant::now(), process_cpu_seconds());
                scores = pool.install(|| model.score(&test_x));
                predicts.push((start.elapsed().as_secs_f64(), process_cpu_seconds() - cpu));
            }
            let (model_ref, scores_ref) =
                reference.get_or_insert_with(|| (model.clone(), scores.clone()));
            assert_eq!(*model_ref, model, "a fit gave another model");
            assert_eq!(*scores_ref, scores, "a scoring gave other scores");
        }
    }
    let (model, scores) = reference.expect("at least one run");
    let correct = scores
        .iter()
        .zip(&test_y)
        .filter(|&(&s, &y)| (s >= 0.5) == y)
        .count();
    println!("{}", model.describe());
    // FNV-1a over the scores' bits: equal checksums from two builds mean the same scores.
    let checksum = scores.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, s| {
        (h ^ s.to_bits()).wrapping_mul(0x0000_0100_0000_01b3)
    });
    println!("test scores checksum {checksum:016x}");
    println!(
        "test accuracy at 0.5: {:.2} %",
        100.0 * correct as f64 / test_y.len() as f64
    );
    let mut by_threads = serde_json::Map::new();
    for ((threads, _), (fits, predicts)) in pools.iter().zip(fits.iter().zip(&predicts)) {
        let (fit, fit_median, fit_cpu) = summary(fits);
        let (predict, predict_median, predict_cpu) = summary(predicts);
        println!(
            "{threads} thread(s): fit fastest {:.3} s, median {:.3} s, CPU fastest {:.3} s; \
             predict fastest {:.1} ms, median {:.1} ms, CPU fastest {:.1} ms",
            fit,
            fit_median,
            fit_cpu,
            predict * 1e3,
            predict_median * 1e3,
            predict_cpu * 1e3
        );
        let (walls, cpus): (Vec<f64>, Vec<f64>) = fits.iter().copied().unzip();
        let (predict_walls, predict_cpus): (Vec<f64>, Vec<f64>) = predicts.iter().copied().unzip();
        by_threads.insert(
            threads.to_string(),
            json!({"fit_runs": walls, "fit_cpu_runs": cpus,
                   "predict_runs": predict_walls, "predict_cpu_runs": predict_cpus}),
        );
    }
    if let Some(path) = options.json {
        let report = json!({
            "train_rows": train_x.len(),
            "test_rows": test_x.len(),
            "trees": model.n_iter(),
            "test_scores_checksum": format!("{checksum:016x}"),
            "test_accuracy_at_half": correct as f64 / test_y.len() as f64,
            "threads": by_threads,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("JSON"))
            .expect("a writable --json path");
    }
}

/// Fastest and median wall time, and fastest CPU time, of (wall, CPU) runs.
fn summary(runs: &[(f64, f64)]) -> (f64, f64, f64) {
    let mut wall: Vec<f64> = runs.iter().map(|r| r.0).collect();
    wall.sort_by(f64::total_cmp);
    let cpu = runs.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    (wall[0], wall[wall.len() / 2], cpu)
}
