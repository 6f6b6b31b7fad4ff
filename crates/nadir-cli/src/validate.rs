//! `nadir validate --novel`: leave-attacks-out validation (the protocol lives in
//! `nadir_ml::novel`; this file parses options, shows progress and formats the tables).

use crate::progress::Steps;
use crate::{DataArgs, ReportFormat, load_data, model_config, note, output};
use anyhow::{Context, Result, bail};
use clap::Args;
use nadir_ml::novel::{self, FoldResult, ModelSummary, NovelOptions, NovelProgress, NovelReport};
use nadir_ml::registry::ModelKind;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    nadir validate --novel\n  \
    nadir validate --novel --models rf,hybrid --out novel.json\n  \
    nadir validate --novel --models hybrid --target-fpr 0.01\n  \
    nadir validate --novel --models rf --format json > novel.json")]
pub struct ValidateArgs {
    /// Leave-attacks-out validation: for each attack family (DoS, Probe, R2L, U2R) and a few
    /// seeded random groups of attack names, train without them and measure how many of
    /// their rows each model flags, and its false-positive rate on held-out normal rows.
    #[arg(long, required = true)]
    novel: bool,
    #[command(flatten)]
    data: DataArgs,
    /// Models to validate (names or short names, `all` = the supervised ones). Default:
    /// every supervised model but the slow kernel SVM, the isolation forest on normal rows,
    /// and the hybrid.
    #[arg(long, value_name = "LIST")]
    models: Option<String>,
    /// Write every number (per fold, per model, per attack name) to this JSON file.
    #[arg(long, value_name = "FILE.json")]
    out: Option<PathBuf>,
    /// Seed of the groups, the splits and every model.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of random groups of attack names (folds beside the four families).
    #[arg(long, default_value_t = 3, value_name = "N")]
    groups: usize,
    /// Share of the attack names in each random group.
    #[arg(long, default_value_t = 0.25, value_name = "SHARE")]
    group_share: f64,
    /// Share of the normal rows held out in each fold to measure false positives on.
    #[arg(long, default_value_t = 0.3, value_name = "SHARE")]
    normal_holdout: f64,
    /// The hybrid's target false-positive rate (same as `--set hybrid.target_fpr=X`).
    #[arg(long, value_name = "RATE")]
    target_fpr: Option<f64>,
    /// TOML file of hyperparameters, one section per model (see `nadir models`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one hyperparameter, e.g. `hybrid.neighbours=10` (repeatable).
    #[arg(long = "set", value_name = "MODEL.PARAM=VALUE")]
    overrides: Vec<String>,
    /// The results as tables, or as JSON (the document --out writes) on standard output.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

pub fn run(args: ValidateArgs) -> Result<()> {
    debug_assert!(args.novel);
    let kinds = match &args.models {
        Some(list) => ModelKind::parse_list(list)?,
        None => NovelOptions::default_kinds(),
    };
    if kinds.is_empty() {
        bail!("--models names no model");
    }
    let mut overrides = vec!["isolation_forest.normal_only=true".to_string()];
    overrides.extend(args.overrides.iter().cloned());
    let config = model_config(args.config.as_deref(), &overrides, args.target_fpr)?;
    config.check(&kinds)?;
    let data = load_data(&args.data)?;
    let options = NovelOptions {
        kinds,
        config,
        seed: args.seed,
        normal_holdout: args.normal_holdout,
        random_groups: args.groups,
        group_share: args.group_share,
        ..NovelOptions::default()
    };
    eprintln!(
        "leave-attacks-out validation of {} on {} rows of {}",
        options
            .kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        data.len(),
        data.source
    );
    let steps = Steps::new();
    let report = novel::validate(&data, &options, &|event| match event {
        NovelProgress::Start { runs } => steps.start(runs),
        NovelProgress::Run { fold, kind } => steps.step(format!("fold {fold}: {kind}")),
        NovelProgress::Done => steps.done(),
    })?;
    steps.finish("validation");

    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = output::stdout();
    output::report(&mut out, args.format, &report, print_report)?;
    if let Some(path) = &args.out {
        note(&mut out, args.format, &format!("wrote {}", path.display()))?;
    }
    out.flush()?;
    Ok(())
}

fn percent(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

fn print_report(out: &mut impl Write, report: &NovelReport) -> std::io::Result<()> {
    writeln!(
        out,
        "data: {} ({} rows, sha256 {}…), seed {}",
        report.source,
        report.rows,
        &report.sha256[..12.min(report.sha256.len())],
        report.seed
    )?;
    writeln!(
        out,
        "each fold: its attack names removed from training; {:.0} % of the normal rows held out; \
         classifier thresholds by best F1 on {:.0} % of the fold's training rows\n",
        100.0 * report.normal_holdout,
        100.0 * report.validation_share
    )?;
    writeln!(out, "folds (attack names left out of training):")?;
    for fold in &report.folds {
        writeln!(
            out,
            "  {:<9} {} unseen attack rows + {} normal rows: {}",
            fold.name,
            fold.test_attacks,
            fold.test_normal,
            fold.held_out.join(", ")
        )?;
    }

    writeln!(
        out,
        "\ndetection rate of the unseen attacks (%), per fold, and the mean over folds:\n"
    )?;
    let heading = format!(
        "{:>6} {:>6} {:>8} {:>6} {:>7}",
        "detect", "FPR", "accuracy", "F1", "ROC-AUC"
    );
    per_fold_table(
        out,
        report,
        &heading,
        |r| Some(r.detection_rate),
        |summary| {
            format!(
                "{:>6} {:>6} {:>8} {:>6} {:>7.4}",
                percent(summary.detection_rate.mean),
                percent(summary.false_positive_rate.mean),
                percent(summary.accuracy.mean),
                percent(summary.f1.mean),
                summary.roc_auc.mean
            )
        },
    )?;
    writeln!(
        out,
        "\ndetect: share of the unseen attacks' rows flagged; FPR: share of held-out normal rows \
         flagged; accuracy, F1 (%) and ROC-AUC on held-out normal + unseen attack rows; means over \
         the {} folds",
        report.folds.len()
    )?;
    print_unflattering(out, report)
}

/// A table of one row per model: a value per fold (`-` where the model has none), then
/// `summary`'s columns over the folds, under `heading`.
fn per_fold_table(
    out: &mut impl Write,
    report: &NovelReport,
    heading: &str,
    cell: impl Fn(&FoldResult) -> Option<f64>,
    summary: impl Fn(&ModelSummary) -> String,
) -> std::io::Result<()> {
    write!(out, "{:<20}", "model")?;
    for fold in &report.folds {
        write!(out, " {:>8}", fold.name)?;
    }
    writeln!(out, " | {heading}")?;
    for model in &report.models {
        write!(out, "{:<20}", model.model.name())?;
        for fold in &report.folds {
            let value = fold
                .results
                .iter()
                .find(|r| r.model == model.model)
                .and_then(&cell)
                .map_or("-".to_string(), percent);
            write!(out, " {value:>8}")?;
        }
        writeln!(out, " | {}", summary(model))?;
    }
    Ok(())
}

/// Detection at fixed false-positive rates per fold (at 1 %) and over the folds (at each of
/// 0.5, 1 and 2 %), balanced accuracy and MCC: what accuracy on mostly attack rows hides.
fn print_unflattering(out: &mut impl Write, report: &NovelReport) -> std::io::Result<()> {
    writeln!(
        out,
        "\ndetection (%) at 1 % false positives per fold; the mean over folds at 0.5, 1 and 2 %; \
         balanced accuracy and MCC at each model's own threshold:\n"
    )?;
    let heading = format!(
        "{:>6} {:>6} {:>6} {:>8} {:>6}",
        "@0.5%", "@1%", "@2%", "bal.acc", "MCC"
    );
    per_fold_table(
        out,
        report,
        &heading,
        |r| r.unflattering.detection(0.01),
        |summary| {
            let at: Vec<String> = summary
                .detection_at_fpr
                .iter()
                .map(|d| format!("{:>6}", percent(d.detection_rate.mean)))
                .collect();
            format!(
                "{} {:>8} {:>6.3}",
                at.join(" "),
                percent(summary.balanced_accuracy.mean),
                summary.mcc.mean
            )
        },
    )?;
    writeln!(
        out,
        "\n@x%: detection when the threshold lets x % of the fold's held-out normal rows through \
         (the normal rows' score quantile, ties never split): a ROC point, comparable between \
         models whatever their own thresholds"
    )
}
