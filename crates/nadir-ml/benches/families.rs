//! Fit time and macro-F1 of the multi-class random forest on the attack families: fits the
//! 100-tree forest on the training file's families with each thread count, times each fit
//! (the fastest of `--repeats`), and measures macro-F1 on the test file. `bench/families.sh`
//! runs this beside scikit-learn's `RandomForestClassifier(100 trees)` on the same split.
//!
//!     cargo bench -p nadir-ml --bench families -- TRAIN.csv TEST.csv [--threads N]
//!         [--repeats N] [--json OUT.json]

use nadir_data::{FeaturePipeline, ReadOptions, read_path};
use nadir_ml::FitMulti;
use nadir_ml::family::{FamilyModel, MultiModel, class_of, family_classes};
use nadir_ml::forest::ForestParams;
use nadir_ml::metrics::ClassReport;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// The process's peak resident set (`VmHWM`), in MiB; NaN where `/proc` is missing.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    let mut files: Vec<PathBuf> = Vec::new();
    let (mut threads, mut repeats, mut out) = (1, 1, None::<PathBuf>);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|n| n.parse().ok()).expect("a number");
        match arg.as_str() {
            "--bench" => {}
            "--threads" => threads = number(),
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
    let schema = &train.schema;
    let attacks = train.attacks.as_ref().expect("labelled training data");
    let classes = family_classes(schema, attacks.iter().map(String::as_str));
    let train_classes: Vec<u32> = attacks
        .iter()
        .map(|a| class_of(schema, &classes, a).expect("a training family"))
        .collect();
    let (known, truth): (Vec<usize>, Vec<u32>) = test
        .attacks
        .as_ref()
        .expect("labelled test data")
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some((i, class_of(schema, &classes, a)?)))
        .unzip();
    let train_x = pipeline.encode(&train.records);
    let test_x = pipeline.encode(&test.records).select(&known);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let params = ForestParams::random_forest();
    let mut seconds = Vec::new();
    let mut model = None;
    for _ in 0..repeats {
        let start = Instant::now();
        let fitted = pool.install(|| {
            params
                .fit_multi(&train_x, &train_classes, classes.len(), 42)
                .expect("forest fit")
        });
        seconds.push(start.elapsed().as_secs_f64());
        model = Some(fitted);
    }
    let family = FamilyModel {
        classes: classes.clone(),
        model: MultiModel::Forest(model.expect("at least one fit")),
    };
    let predicted: Vec<u32> = pool
        .install(|| family.predict_classes(&test_x))
        .into_iter()
        .map(|(class, _)| class)
        .collect();
    let report = ClassReport::new(&classes, &truth, &predicted);
    let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let rss = peak_rss_mib();
    println!("{}", family.model.describe());
    println!(
        "nadir multi-class forest, {threads} thread(s): fit {fastest:.3} s (fastest of {repeats}), \
         macro-F1 {:.4}, peak RSS {rss:.0} MiB\n{}",
        report.macro_f1,
        report.to_text()
    );
    if let Some(path) = out {
        let json = json!({
            "threads": threads,
            "fit_seconds": fastest,
            "runs": seconds,
            "macro_f1": report.macro_f1,
            "peak_rss_mib": rss,
            "classes": classes,
        });
        std::fs::write(&path, json.to_string()).expect("writes the report");
    }
}
