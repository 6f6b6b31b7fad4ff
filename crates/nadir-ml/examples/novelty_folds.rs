//! The bench driver of `bench/novelty_pyod.sh`: writes the leave-attacks-out folds of
//! `nadir validate --novel` (default options: seed 42, 30 % of normal rows held out, the four
//! families and three random groups) as row indices, so that PyOD's detectors are trained on
//! the same normal rows and measured on the same rows, and measures nadir's autoencoder and
//! normal-only isolation forest on them: fit time on one thread, detection at fixed
//! false-positive rates.
//!
//! `cargo run --release -p nadir-ml --example novelty_folds -- DATA.csv OUT_DIR [EPOCHS [SEEDS]]`
//!
//! EPOCHS: exactly that many, without early stopping, and on the rows PyOD fits on (all the
//! fold's normal training rows but the 1 % + 1 % the autoencoder must hold out); default: the
//! autoencoder's defaults. SEEDS: comma-separated fit seeds (default 42): one fit of each
//! detector per fold and seed, since one seed's autoencoder can sit several points from
//! another's.
//!
//! Writes `OUT_DIR/folds.json` (the schema's numeric features and which are counts, its
//! categorical features, and per fold its name, held-out attack names, the training rows'
//! indices with a normal flag each, and the test rows' with an attack flag each: indices
//! of the records as read, 0-based, the header not counted) and `OUT_DIR/nadir.json`.

use nadir_data::{Dataset, FeaturePipeline, Kind, ReadOptions, read_path};
use nadir_ml::autoencoder::AutoencoderParams;
use nadir_ml::iforest::IsolationForestParams;
use nadir_ml::metrics::{Unflattering, roc_auc};
use nadir_ml::novel::{NovelOptions, fold_rows, fold_seed, plan_folds};
use nadir_ml::{Classifier, Fit};
use serde_json::json;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(data), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: novelty_folds DATA.csv OUT_DIR [EPOCHS [SEEDS]]".into());
    };
    let epochs: Option<usize> = args.get(3).map(|e| e.parse()).transpose()?;
    let options = NovelOptions::default();
    let seeds: Vec<u64> = match args.get(4) {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse())
            .collect::<Result<_, _>>()?,
        None => vec![options.seed],
    };
    std::fs::create_dir_all(out)?;
    let data = read_path(std::path::Path::new(data), ReadOptions::default())?;
    let attacks = data.attacks.clone().ok_or("unlabelled data")?;
    let plans = plan_folds(
        &data.schema,
        &attacks,
        options.random_groups,
        options.group_share,
        options.seed,
    );
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut ae_params = AutoencoderParams::default();
    if let Some(epochs) = epochs {
        // Exactly this many epochs, as PyOD runs: no early stop, so the early-stopping rows
        // are not needed, nor the threshold's (detection at fixed false-positive rates sets
        // its own): the smallest shares, to fit on nearly the rows PyOD fits on.
        ae_params.epochs = epochs;
        ae_params.patience = epochs;
        ae_params.validation_share = 0.01;
        ae_params.threshold_share = 0.01;
    }
    let forest_params = IsolationForestParams {
        normal_only: true,
        ..IsolationForestParams::default()
    };
    let mut folds = Vec::new();
    let mut results = Vec::new();
    for (f, plan) in plans.iter().enumerate() {
        let rows = fold_rows(
            &data.schema,
            &attacks,
            plan,
            options.normal_holdout,
            fold_seed(options.seed, f),
        );
        let train_labels = labels(&data, &rows.train);
        let test_labels = labels(&data, &rows.test);
        folds.push(json!({
            "name": plan.name,
            "held_out": plan.held_out,
            "train": rows.train,
            "train_attack": train_labels,
            "test": rows.test,
            "test_attack": test_labels,
        }));
        let train = data.select(&rows.train);
        let pipeline = FeaturePipeline::fit(&train.schema, &train.records);
        let encoded = pipeline.encode(&train.records);
        let test = pipeline.encode(&data.select(&rows.test).records);
        let mut measure =
            |name: &str, seed: u64, fit: &(dyn Fn() -> Box<dyn Classifier + Send> + Sync)| {
                let start = Instant::now();
                let model = one_thread.install(fit);
                let fit_seconds = start.elapsed().as_secs_f64();
                let scores = model.score(&test);
                let confusion = nadir_ml::metrics::Scores::at_threshold(&test_labels, &scores, 0.5);
                let u = Unflattering::of(&test_labels, &scores, &confusion.confusion);
                eprintln!(
                    "{:<9} {name:<17} seed {seed:<3} fit {fit_seconds:>7.2} s  detection at 0.5/1/2 %: {}",
                    plan.name,
                    u.detection_at_fpr
                        .iter()
                        .map(|d| format!("{:.3}", d.detection_rate))
                        .collect::<Vec<_>>()
                        .join(" / ")
                );
                results.push(json!({
                    "fold": plan.name,
                    "model": name,
                    "seed": seed,
                    "fit_seconds": fit_seconds,
                    "describe": model.describe(),
                    "roc_auc": roc_auc(&test_labels, &scores),
                    "detection_at_fpr": u.detection_at_fpr,
                }));
            };
        for &seed in &seeds {
            measure("autoencoder", seed, &|| {
                Box::new(ae_params.fit(&encoded, &train_labels, seed).unwrap())
            });
            measure("isolation_forest", seed, &|| {
                Box::new(forest_params.fit(&encoded, &train_labels, seed).unwrap())
            });
        }
    }
    let schema = &data.schema;
    let features = json!({
        "numeric": schema.numeric_names(),
        "counts": schema.numeric().map(|f| f.kind == Kind::Count).collect::<Vec<_>>(),
        "categorical": schema.categorical_names(),
        "rows": data.len(),
        "source": data.source,
        "folds": folds,
    });
    std::fs::write(format!("{out}/folds.json"), features.to_string())?;
    std::fs::write(
        format!("{out}/nadir.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    Ok(())
}

fn labels(data: &Dataset, rows: &[usize]) -> Vec<bool> {
    let attacks = data.attacks.as_ref().expect("labelled");
    rows.iter()
        .map(|&i| !data.schema.is_normal(&attacks[i]))
        .collect()
}
