//! `nadir validate --novel [--nested]`: leave-attacks-out validation (the protocols live in
//! `nadir_ml::novel` and `nadir_ml::nested`; this file parses options, shows progress and
//! formats the tables).

use crate::progress::Steps;
use crate::{DataArgs, ReportFormat, load_data, model_config, note, output};
use anyhow::{Context, Result, bail};
use clap::Args;
use nadir_ml::nested::{self, NestedOptions, NestedProgress, NestedReport};
use nadir_ml::novel::{
    self, FoldResult, FoldStats, ModelSummary, NovelOptions, NovelProgress, NovelReport,
};
use nadir_ml::registry::ModelKind;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    nadir validate --novel\n  \
    nadir validate --novel --models rf,hybrid --out novel.json\n  \
    nadir validate --novel --models hybrid --target-fpr 0.01\n  \
    nadir validate --novel --models rf --format json > novel.json\n  \
    nadir validate --novel --nested --out nested.json\n  \
    nadir validate --novel --nested --candidates grid.toml")]
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
    #[arg(long, value_name = "LIST", conflicts_with = "nested")]
    models: Option<String>,
    /// Nested validation: inside each fold's training part, leave-attacks-out inner folds
    /// pick one candidate design (the best mean detection at 1 % false positives there);
    /// the pick, fitted on the whole training part, is measured on the fold.
    #[arg(long, requires = "novel")]
    nested: bool,
    /// With --nested: the candidate designs, a TOML file of `[[candidate]]` tables with
    /// `name`, `model` and `set` (a list of `model.parameter=value` overrides). Default: the
    /// built-in grid (see docs/CLI.md).
    #[arg(long, value_name = "FILE.toml", requires = "nested")]
    candidates: Option<PathBuf>,
    /// With --nested: random groups of attack names in each fold's inner folds, beside the
    /// families.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "nested")]
    inner_groups: usize,
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
    if args.nested {
        return run_nested(args);
    }
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

    write_out(&args, &report, print_report)
}

/// Where the tables go.
type Stdout = std::io::BufWriter<output::Sink<std::io::StdoutLock<'static>>>;

fn run_nested(args: ValidateArgs) -> Result<()> {
    let candidates = match &args.candidates {
        Some(path) => nested::parse_candidates(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        )
        .with_context(|| format!("in {}", path.display()))?,
        None => nested::default_candidates(),
    };
    let mut overrides = vec!["isolation_forest.normal_only=true".to_string()];
    overrides.extend(args.overrides.iter().cloned());
    let config = model_config(args.config.as_deref(), &overrides, args.target_fpr)?;
    let data = load_data(&args.data)?;
    let options = NestedOptions {
        config,
        candidates,
        seed: args.seed,
        normal_holdout: args.normal_holdout,
        random_groups: args.groups,
        inner_groups: args.inner_groups,
        group_share: args.group_share,
        ..NestedOptions::default()
    };
    eprintln!(
        "nested leave-attacks-out validation of {} candidates ({}) on {} rows of {}",
        options.candidates.len(),
        options
            .candidates
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        data.len(),
        data.source
    );
    let steps = Steps::new();
    let report = nested::validate(&data, &options, &|event| match event {
        NestedProgress::Start { runs } => steps.start(runs),
        NestedProgress::Run {
            outer,
            inner: Some(inner),
            candidate,
        } => steps.step(format!("fold {outer}, inner fold {inner}: {candidate}")),
        NestedProgress::Run {
            outer,
            inner: None,
            candidate,
        } => steps.step(format!("fold {outer}: picked {candidate}, measured")),
        NestedProgress::Done => steps.done(),
    })?;
    steps.finish("nested validation");
    write_out(&args, &report, print_nested)
}

/// Writes `report` to `--out` if asked, and on standard output as tables or JSON.
fn write_out<T: serde::Serialize>(
    args: &ValidateArgs,
    report: &T,
    table: fn(&mut Stdout, &T) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = output::stdout();
    output::report(&mut out, args.format, report, table)?;
    if let Some(path) = &args.out {
        note(&mut out, args.format, &format!("wrote {}", path.display()))?;
    }
    out.flush()?;
    Ok(())
}

fn print_nested(out: &mut impl Write, report: &NestedReport) -> std::io::Result<()> {
    write_data_line(
        out,
        &report.source,
        report.rows,
        &report.sha256,
        report.seed,
    )?;
    writeln!(
        out,
        "each outer fold picks one candidate on inner folds planned inside its training part \
         (its other attack names, its training normal rows; {} random group(s) beside the \
         families); the rule: {}\n",
        report.inner_groups, report.selection_rule
    )?;
    writeln!(out, "candidates:")?;
    for c in &report.candidates {
        let set = if c.set.is_empty() {
            "(the configuration as given)".to_string()
        } else {
            c.set.join(", ")
        };
        writeln!(out, "  {:<28} {}: {}", c.name, c.model, set)?;
    }
    writeln!(
        out,
        "\ninner level: each candidate's mean detection (%) at 1 % false positives over the \
         outer fold's inner folds (* = picked):\n"
    )?;
    write!(out, "{:<28}", "candidate")?;
    for fold in &report.folds {
        write!(out, " {:>9}", fold.name)?;
    }
    writeln!(out)?;
    for (c, candidate) in report.candidates.iter().enumerate() {
        write!(out, "{:<28}", candidate.name)?;
        for fold in &report.folds {
            let mean = fold.inner[c].mean.map_or("-".to_string(), percent);
            let mark = if fold.picked == candidate.name {
                "*"
            } else {
                " "
            };
            write!(out, " {mean:>8}{mark}")?;
        }
        writeln!(out)?;
    }
    // The fold column fits the longest fold name (UNSW-NB15's `Reconnaissance`).
    let w = report
        .folds
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(9);
    writeln!(
        out,
        "\nouter level: the picked design, fitted on the fold's training part, on the fold's \
         unseen attacks and held-out normal rows:\n"
    )?;
    writeln!(
        out,
        "{:<w$} {:<28} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6}",
        "fold", "picked", "@0.5%", "@1%", "@2%", "detect", "FPR", "bal.acc", "MCC"
    )?;
    for fold in &report.folds {
        let r = &fold.result;
        let at = |fpr: f64| {
            r.unflattering
                .detection(fpr)
                .map_or("-".to_string(), percent)
        };
        writeln!(
            out,
            "{:<w$} {:<28} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6.3}",
            fold.name,
            fold.picked,
            at(0.005),
            at(0.01),
            at(0.02),
            percent(r.detection_rate),
            percent(r.false_positive_rate),
            percent(r.unflattering.balanced_accuracy),
            r.unflattering.mcc
        )?;
    }
    let s: &FoldStats = &report.outer;
    let at: Vec<String> = s
        .detection_at_fpr
        .iter()
        .map(|d| format!("{:>6}", percent(d.detection_rate.mean)))
        .collect();
    writeln!(
        out,
        "{:<w$} {:<28} {} {:>6} {:>6} {:>8} {:>6.3}",
        "mean",
        "",
        at.join(" "),
        percent(s.detection_rate.mean),
        percent(s.false_positive_rate.mean),
        percent(s.balanced_accuracy.mean),
        s.mcc.mean
    )?;
    writeln!(out, "\npicked:")?;
    for p in &report.picks {
        writeln!(
            out,
            "  {:<28} {} of {} folds",
            p.candidate,
            p.picked,
            report.folds.len()
        )?;
    }
    writeln!(
        out,
        "\n@x%: detection when the threshold lets x % of the fold's held-out normal rows \
         through; detect, FPR, balanced accuracy and MCC at the design's own threshold"
    )
}

/// The run's data line: which file, how many rows, the start of its checksum, the seed.
fn write_data_line(
    out: &mut impl Write,
    source: &str,
    rows: usize,
    sha256: &str,
    seed: u64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "data: {source} ({rows} rows, sha256 {}…), seed {seed}",
        &sha256[..12.min(sha256.len())]
    )
}

fn percent(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

fn print_report(out: &mut impl Write, report: &NovelReport) -> std::io::Result<()> {
    write_data_line(
        out,
        &report.source,
        report.rows,
        &report.sha256,
        report.seed,
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
                percent(summary.stats.detection_rate.mean),
                percent(summary.stats.false_positive_rate.mean),
                percent(summary.stats.accuracy.mean),
                percent(summary.stats.f1.mean),
                summary.stats.roc_auc.mean
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
                .stats
                .detection_at_fpr
                .iter()
                .map(|d| format!("{:>6}", percent(d.detection_rate.mean)))
                .collect();
            format!(
                "{} {:>8} {:>6.3}",
                at.join(" "),
                percent(summary.stats.balanced_accuracy.mean),
                summary.stats.mcc.mean
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
