//! nadir's side of bench/families_gbdt_mlp.sh: fits one multi-class model (gradient boosting
//! with `GradientBoostingParams::multi_class()`, or the MLP with `MlpParams::default()`) on
//! the attack families of the training rows of a split that bench/families_gbdt_mlp.py drew,
//! on a pool of `--threads` threads, scores the test rows and prints one JSON line: fit wall
//! and CPU seconds, macro-F1 and per-class F1 on the test rows, and the process's peak RSS
//! (which includes reading the data). One model per process, so that the peak is its own.
//!
//!     cargo bench -p nadir-ml --bench families_gbdt_mlp -- DATA.csv SPLIT.json
//!         --model gbdt|gbdt_l0|mlp [--threads N]
//!
//! `gbdt_l0` is gradient boosting with the binary defaults (no L2 penalty on leaf values), to
//! show what the preset's penalty does.
//!
//! The fit is timed as `nadir train` times a fit: on rows already encoded by a pipeline
//! fitted on the training rows (which the Python side's times exclude too).

mod common;

use common::process_cpu_seconds;
use nadir_data::{FeaturePipeline, ReadOptions, read_path};
use nadir_ml::gbdt::GradientBoostingParams;
use nadir_ml::mlp::MlpParams;
use nadir_ml::{FitMulti, MultiClassifier};
use serde_json::{Value, json};
use std::time::Instant;

fn main() {
    // `cargo bench` adds `--bench`; every other argument is ours.
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let data_path = args.next().expect("DATA.csv");
    let split_path = args.next().expect("SPLIT.json");
    let (mut model, mut threads) = (String::new(), 1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = args.next().expect("--model gbdt|gbdt_l0|mlp"),
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--threads takes a positive number")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let split: Value =
        serde_json::from_str(&std::fs::read_to_string(&split_path).expect("a readable split file"))
            .expect("the split's JSON");
    let indices = |part: &str| -> Vec<usize> {
        split[part]
            .as_array()
            .expect("row indices")
            .iter()
            .map(|i| i.as_u64().expect("an index") as usize)
            .collect()
    };
    let names: Vec<String> = split["classes"]
        .as_array()
        .expect("class names")
        .iter()
        .map(|n| n.as_str().expect("a name").to_string())
        .collect();
    let data =
        read_path(std::path::Path::new(&data_path), ReadOptions::default()).expect("readable data");
    let classes: Vec<u32> = data
        .families()
        .expect("labelled data")
        .iter()
        .map(|f| {
            names
                .iter()
                .position(|n| n == f)
                .expect("a class of the split") as u32
        })
        .collect();
    let (train_rows, test_rows) = (indices("train"), indices("test"));
    assert_eq!(
        train_rows.len() + test_rows.len(),
        data.len(),
        "another file's split"
    );
    let (train, test) = (data.select(&train_rows), data.select(&test_rows));
    let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
    let (train_x, test_x) = (
        pipeline.encode(&train.records),
        pipeline.encode(&test.records),
    );
    let pick = |rows: &[usize]| -> Vec<u32> { rows.iter().map(|&i| classes[i]).collect() };
    let (train_y, test_y) = (pick(&train_rows), pick(&test_rows));
    let n = names.len();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let (start, cpu) = (Instant::now(), process_cpu_seconds());
    let (probabilities, fit_seconds, fit_cpu, describe) = pool.install(|| match model.as_str() {
        "gbdt" | "gbdt_l0" => {
            let params = if model == "gbdt" {
                GradientBoostingParams::multi_class()
            } else {
                GradientBoostingParams::default()
            };
            let m = params.fit_multi(&train_x, &train_y, n, 42).expect("fits");
            let (wall, cpu) = (start.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
            (m.class_probabilities(&test_x), wall, cpu, m.describe())
        }
        "mlp" => {
            let m = MlpParams::default()
                .fit_multi(&train_x, &train_y, n, 42)
                .expect("fits");
            let (wall, cpu) = (start.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
            (m.class_probabilities(&test_x), wall, cpu, m.describe())
        }
        other => panic!("--model gbdt, gbdt_l0 or mlp, not {other:?}"),
    });
    let predicted: Vec<usize> = probabilities
        .chunks_exact(n)
        .map(|row| (0..n).fold(0, |best, k| if row[k] > row[best] { k } else { best }))
        .collect();
    // Per class F1 = 2 TP / (true + predicted); macro over the classes that occur in either,
    // as scikit-learn's f1_score(average="macro").
    let mut f1 = serde_json::Map::new();
    let mut occurring = Vec::new();
    for (class, name) in names.iter().enumerate() {
        let truth = test_y.iter().filter(|&&y| y as usize == class).count();
        let said = predicted.iter().filter(|&&p| p == class).count();
        let hits = (test_y.iter().zip(&predicted))
            .filter(|&(&y, &p)| y as usize == class && p == class)
            .count();
        let score = if truth + said > 0 {
            2.0 * hits as f64 / (truth + said) as f64
        } else {
            0.0
        };
        if truth + said > 0 {
            occurring.push(score);
        }
        f1.insert(name.clone(), json!(score));
    }
    let macro_f1 = occurring.iter().sum::<f64>() / occurring.len() as f64;
    eprintln!("{describe}");
    println!(
        "{}",
        json!({
            "side": format!("nadir {model}"), "threads": threads, "fit_seconds": fit_seconds,
            "fit_cpu_seconds": fit_cpu, "macro_f1": macro_f1, "f1": f1,
            "peak_rss_mb": peak_rss_mb(),
        })
    );
}

/// The process's peak resident set (`VmHWM`), in MiB; NaN where `/proc` is missing.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
