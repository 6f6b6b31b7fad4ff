//! `nadir`: the command line over the nadir libraries. It parses arguments, shows progress
//! and formats results; every decision lives in `nadir-data` and `nadir-ml`.

mod data;
mod explore;
mod extract;
mod generate;
mod output;
mod progress;
mod report;
mod serve;
mod stream;
mod validate;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use nadir_data::{Dataset, ReadOptions, Schema, default_data_path, read_path};
use nadir_ml::cluster::ClusterOptions;
use nadir_ml::file::SavedModel;
use nadir_ml::model_dir;
use nadir_ml::pca::PcaParams;
use nadir_ml::protocol::{self, Progress, TrainOptions};
use nadir_ml::registry::{ModelConfig, ModelKind};
use nadir_traffic::TrafficOptions;
use progress::Steps;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "nadir",
    version,
    about = "Network anomaly detection on NSL-KDD connection records",
    long_about = "Network anomaly detection on NSL-KDD connection records.\n\n\
        Reads the project's 43-column CSV (header row, columns in any order) or the headerless \
        NSL-KDD files (KDDTrain+.txt). Without --data, uses $NADIR_DATA, then \
        data/Network_anomaly_data.csv, then ../shared/data/Network_anomaly_data.csv; when \
        there is none, `train` fetches it into data/ (see `nadir data fetch`)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train and evaluate models (stratified 70/30 split, 5-fold CV), save them and their metrics.
    #[command(after_help = "Examples:\n  \
        nadir train\n  \
        nadir train --models rf,gb --out models/ --seed 7\n  \
        nadir train --models all --set random_forest.trees=300 --set mlp.hidden=[128,64]\n  \
        nadir train --config params.toml --data KDDTrain+.txt\n  \
        nadir train --models iforest --normal-only\n  \
        nadir train --models all,hybrid --target-fpr 0.01\n  \
        nadir train --models rf --format json | jq '.models[0].holdout.f1'")]
    Train(TrainArgs),
    /// Measure a saved model on a labelled file.
    #[command(
        after_help = "Example:\n  nadir evaluate --model models/random_forest.nadir --data KDDTest+.txt --format json"
    )]
    Evaluate(EvaluateArgs),
    /// Score every record of a file with a saved model.
    #[command(
        after_help = "Example:\n  nadir predict --model models/random_forest.nadir --data new.csv --format ndjson --output scores.ndjson"
    )]
    Predict(PredictArgs),
    /// PCA then DBSCAN on every record: clusters, core/edge/noise points, agreement with labels.
    #[command(after_help = "Examples:\n  \
        nadir cluster\n  \
        nadir cluster --variance 0.9 --eps 0.8 --min-samples 10 --out cluster/\n  \
        nadir cluster --format json > clusters.json")]
    Cluster(ClusterArgs),
    /// List the models and their default hyperparameters (TOML, usable with --config).
    #[command(after_help = "Examples:\n  \
        nadir models > params.toml    # edit, then: nadir train --config params.toml\n  \
        nadir models --format json | jq .random_forest")]
    Models(ModelsArgs),
    /// Data quality, class balance, feature summaries, correlations and hypothesis tests.
    Explore(explore::ExploreArgs),
    /// Write one self-contained HTML report with charts of the data, the models and the clusters.
    Report(report::ReportArgs),
    /// Serve the saved models over HTTP (JSON, CSV, NDJSON) with a web page on top.
    Serve(serve::ServeArgs),
    /// Leave-attacks-out validation: how well models catch attack types never seen in training.
    Validate(validate::ValidateArgs),
    /// Packet captures or Zeek conn.logs to NSL-KDD connection records (CSV), ready for
    /// predict, evaluate (with labels you join), train and serve.
    #[command(after_help = "Examples:\n  \
        nadir extract capture.pcap --out connections.csv\n  \
        nadir extract capture.pcap | nadir predict --model models/random_forest.nadir --data - --attacks-only\n  \
        nadir extract baseline.pcapng --label normal --out baseline.csv\n  \
        nadir extract conn.log --skip-invalid")]
    Extract(extract::ExtractArgs),
    /// Score records as they arrive on a Redis Stream, as one consumer of a group: start as
    /// many as needed, on any machines; each result goes to the output stream, each record
    /// that cannot be scored to the dead-letter stream.
    #[command(after_help = "Examples:\n  \
        nadir stream --redis redis://127.0.0.1:6379 --input conns --group scorers --consumer a \\\n      \
        --model models/random_forest.nadir --output verdicts\n  \
        nadir stream --input conns --group scorers --consumer b --model m.nadir --stdout \\\n      \
        --metrics-addr 127.0.0.1:9187\n\n\
        Exit status 2: it cannot start (a bad flag, a bad stream name, Redis unreachable).\n\
        SIGTERM or Ctrl-C: the batch in flight is finished and acknowledged, then exit 0.")]
    Stream(stream::StreamArgs),
    /// Append the records of a file (CSV, JSON, NDJSON, a capture or a Zeek conn.log) to a
    /// Redis Stream, for `nadir stream` to score.
    #[command(after_help = "Examples:\n  \
        nadir publish connections.csv --redis redis://127.0.0.1:6379 --stream conns\n  \
        nadir publish capture.pcap --stream conns --rate 5000")]
    Publish(stream::PublishArgs),
    /// Get the public data sets: `nadir data fetch` downloads them where the commands look.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Print a shell completion script for nadir.
    #[command(after_help = "Examples:\n  \
        nadir completions bash > ~/.local/share/bash-completion/completions/nadir\n  \
        nadir completions zsh > ~/.zfunc/_nadir    # with fpath+=(~/.zfunc) before compinit\n  \
        nadir completions fish > ~/.config/fish/completions/nadir.fish")]
    Completions(generate::CompletionsArgs),
    /// Print nadir's manual page (roff), or write one page per command to a directory.
    #[command(after_help = "Examples:\n  \
        nadir man | man -l -\n  \
        nadir man --out ~/.local/share/man/man1    # then: man nadir-train")]
    Man(generate::ManArgs),
}

#[derive(Args)]
struct ModelsArgs {
    /// TOML, one commented section per model (what --config reads), or the same
    /// hyperparameters as one JSON object keyed by model name.
    #[arg(long, value_enum, default_value = "toml")]
    format: ModelsFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModelsFormat {
    Toml,
    Json,
}

#[derive(Args)]
struct ClusterArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    clustering: ClusteringArgs,
    /// Directory for labels.csv, summary.json, k_distance.csv and pca.json.
    #[arg(long, default_value = "cluster", value_name = "DIR")]
    out: PathBuf,
    /// Seed of the silhouette samples.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write every record's principal-component coordinates (CSV) to this file.
    #[arg(long, value_name = "FILE")]
    points: Option<PathBuf>,
    /// The summary as a table, or as JSON (summary.json's document) on standard output.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

/// The PCA and DBSCAN settings of `cluster` and `report`.
#[derive(Args)]
struct ClusteringArgs {
    /// Share of variance the kept principal components must explain, in (0, 1].
    #[arg(long, default_value_t = 0.95, value_name = "SHARE")]
    variance: f64,
    /// DBSCAN radius, or `auto` to search multiples of the k-distance knee by silhouette.
    #[arg(long, default_value = "auto", value_parser = parse_auto::<f64>, value_name = "X|auto")]
    eps: Auto<f64>,
    /// DBSCAN core-point threshold (the point itself included), or `auto` to search 5, 10, 20.
    #[arg(long, default_value = "auto", value_parser = parse_auto::<usize>, value_name = "N|auto")]
    min_samples: Auto<usize>,
}

impl ClusteringArgs {
    fn options(&self, seed: u64) -> ClusterOptions {
        ClusterOptions {
            pca: PcaParams {
                variance: self.variance,
                ..PcaParams::default()
            },
            eps: self.eps.0,
            min_samples: self.min_samples.0,
            seed,
            ..ClusterOptions::default()
        }
    }
}

/// A value, or `auto` (`None`).
#[derive(Clone, Copy)]
struct Auto<T>(Option<T>);

fn parse_auto<T: std::str::FromStr>(text: &str) -> Result<Auto<T>, String> {
    if text == "auto" {
        return Ok(Auto(None));
    }
    text.parse()
        .map(|v| Auto(Some(v)))
        .map_err(|_| format!("expected a number or `auto`, got `{text}`"))
}

#[derive(Args, Clone, Default)]
struct DataArgs {
    /// Record file: CSV whose header names a built-in schema's columns (nsl-kdd, unsw-nb15)
    /// or those of --schema, a headerless NSL-KDD .txt, a .json file (an array of record
    /// objects keyed by feature name, or one object), a .ndjson or .jsonl file (one object per
    /// line), or `-` for standard input. Standard input is JSON when its first non-blank byte
    /// is `[` or `{` (NDJSON when that `{` line is a whole object and more lines follow),
    /// else CSV. JSON records may carry the label column (and a 0/1 column) as CSV does.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// TOML schema of a CSV of your own (features and kinds, label column; see
    /// docs/SCHEMAS.md). Without it the header decides between the built-in schemas.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Features to leave out, comma-separated (e.g. `--drop sttl,dttl,ct_state_ttl`). The
    /// models remember them: later files need not hold those columns.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    drop: Vec<String>,
    /// Skip invalid rows (reporting how many and which lines) instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Models to train: comma-separated names or short names; `all` is every supervised model
    /// (add `iforest` for the isolation forest; see `nadir models`).
    #[arg(long, default_value = "all", value_name = "LIST")]
    models: String,
    /// Directory for the model files and metrics.json.
    #[arg(long, default_value = "models", value_name = "DIR")]
    out: PathBuf,
    /// Seed of the split, the folds and every model.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Labelled file to measure the models on, instead of holding out --test-share of --data
    /// (e.g. train on KDDTrain+.txt, test on KDDTest+.txt).
    #[arg(long, value_name = "FILE")]
    test: Option<PathBuf>,
    /// Cross-validation folds on the training part (at least 2).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Share of rows held out as the test part.
    #[arg(long, default_value_t = 0.3, value_name = "SHARE")]
    test_share: f64,
    /// A fixed decision threshold for every model, instead of the one chosen by CV.
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
    /// TOML file of hyperparameters, one section per model (see `nadir models`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one hyperparameter, e.g. `random_forest.trees=300` (repeatable).
    #[arg(long = "set", value_name = "MODEL.PARAM=VALUE")]
    overrides: Vec<String>,
    /// Fit the isolation forest on normal rows only (semi-supervised); the same as
    /// `--set isolation_forest.normal_only=true`.
    #[arg(long)]
    normal_only: bool,
    /// The hybrid's operating point: the share of normal traffic its novelty detector may
    /// flag (e.g. 0.01 = 1 %); the same as `--set hybrid.target_fpr=X`.
    #[arg(long, value_name = "RATE")]
    target_fpr: Option<f64>,
    /// The results as tables, or as JSON (metrics.json's document) on standard output;
    /// progress and notes always go to standard error.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

/// `--format` of the commands that print tables: the tables for people, or one JSON document
/// (the library's own serde form) for programs.
#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
}

#[derive(Args)]
struct EvaluateArgs {
    /// A model file written by `nadir train`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// The results as tables, or as JSON on standard output.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Decision threshold instead of the one saved in the model.
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum PredictFormat {
    Csv,
    Ndjson,
    /// Elastic Common Schema documents, one per line: alerts for attacks (docs/CLI.md).
    Ecs,
}

#[derive(Args)]
struct PredictArgs {
    /// A model file written by `nadir train`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// csv and ndjson: nadir's columns; ecs: Elastic Common Schema JSON lines for a SIEM
    /// (`event.kind` alert or event, source and destination when the records carry them).
    #[arg(long, value_enum, default_value = "csv")]
    format: PredictFormat,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Decision threshold instead of the one saved in the model.
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
    /// Write only the records predicted to be attacks (the alerts); `row` and `line` still
    /// say where each is in the input.
    #[arg(long)]
    attacks_only: bool,
    /// Explain each prediction: the K features that moved its score most, each with the
    /// record's value and its signed contribution, the base value they add to, what they
    /// add up to and how they were computed (csv and ndjson columns, `nadir.explanation` in
    /// ecs; every model: TreeSHAP for the tree models, exact for the linear ones, sampled
    /// Shapley values for the MLP and the kernel SVM, path lengths for the isolation forest,
    /// a hybrid's deciding part).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(1..))]
    explain: Option<u16>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Evaluate(args) => evaluate(args),
        Command::Predict(args) => predict(args),
        Command::Cluster(args) => cluster(args),
        Command::Models(args) => models(args),
        Command::Explore(args) => explore::run(args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Extract(args) => extract::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Publish(args) => stream::publish(args),
        Command::Data(command) => data::run(command),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader went away (`nadir predict … | head`): nothing is left to report.
        Err(error) if reader_went_away(&error) => std::process::ExitCode::SUCCESS,
        Err(error) if error.is::<stream::CannotStart>() => {
            eprintln!("error: {error}");
            std::process::ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: the libraries' errors already name their cause
/// in their own message, and repeating it would only make the line longer.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Whether `error` comes of the output's reader having gone: noted by [`output::Sink`], which
/// every command's results go through, or, for a line written straight to standard output,
/// the `io::Error` itself.
fn reader_went_away(error: &anyhow::Error) -> bool {
    output::reader_gone()
        || error.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        })
}

/// Reads `--data` as the `--schema` given, or as the built-in schema its header names, less
/// the `--drop` features.
fn load_data(args: &DataArgs) -> Result<Dataset> {
    let schema = match &args.schema {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read schema {}", path.display()))?;
            Some(Arc::new(Schema::from_toml(
                &text,
                &path.display().to_string(),
            )?))
        }
        None => None,
    };
    read_data(args, schema, args.drop.clone(), false)
}

/// Reads `--data` as `schema`: a model's, or the training data's for a test file. `--schema`
/// and `--drop` belong to training, where a schema is chosen.
fn load_data_as(args: &DataArgs, schema: &Arc<Schema>) -> Result<Dataset> {
    read_model_data(args, schema, false)
}

/// [`load_data_as`], keeping each record's values of the file's own columns (a connection's
/// identity) for the output.
fn read_model_data(args: &DataArgs, schema: &Arc<Schema>, keep_own: bool) -> Result<Dataset> {
    if args.schema.is_some() || !args.drop.is_empty() {
        bail!(
            "--schema and --drop apply when training; here the model's schema ({}) decides",
            schema.title()
        );
    }
    read_data(args, Some(schema.clone()), Vec::new(), keep_own)
}

/// Reads `--data`: a packet capture or Zeek conn.log (told by its first bytes) as NSL-KDD
/// connection records; else in the format its name says (`.json`; `.ndjson`, `.jsonl`; CSV
/// otherwise), or, for standard input, the one its first bytes show
/// (`nadir_data::DataFormat::sniff`).
fn read_data(
    args: &DataArgs,
    schema: Option<Arc<Schema>>,
    drop: Vec<String>,
    keep_own: bool,
) -> Result<Dataset> {
    use nadir_data::{DataFormat, read_json_dataset};
    use nadir_traffic::{Extraction, TrafficFormat};
    let recognised = schema.is_none();
    let traffic = TrafficOptions {
        skip_invalid: args.skip_invalid,
        ..TrafficOptions::default()
    };
    let options = ReadOptions {
        skip_invalid: args.skip_invalid,
        schema,
        drop,
        keep_ignored: keep_own,
    };
    let mut format = DataFormat::Csv;
    let data = match &args.data {
        Some(path) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .context("cannot read standard input")?;
            if TrafficFormat::sniff(&bytes).is_some() {
                let extraction = Extraction::from_reader(
                    "standard input",
                    std::io::Cursor::new(bytes),
                    traffic,
                )?;
                return read_traffic(extraction, &options);
            }
            format = DataFormat::sniff(&bytes);
            match format {
                DataFormat::Csv => nadir_data::read_from(&bytes[..], "standard input", options)?,
                json => read_json_dataset(&bytes, "standard input", json, options)?,
            }
        }
        Some(path) => {
            if TrafficFormat::of_path(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .is_some()
            {
                return read_traffic(Extraction::open(path, traffic)?, &options);
            }
            format = DataFormat::from_path(path);
            match format {
                DataFormat::Csv => read_path(path, options)?,
                json => {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    read_json_dataset(&bytes, &path.display().to_string(), json, options)?
                }
            }
        }
        None => read_path(&default_data_path()?, options)?,
    };
    let (rows, from) = match format {
        DataFormat::Csv => ("rows", "its header"),
        DataFormat::Json | DataFormat::Ndjson => ("records", "its first record's fields"),
    };
    eprintln!(
        "read {} {rows} of {} as schema {}{}",
        data.len(),
        data.source,
        data.schema.title(),
        if recognised {
            format!(" (recognised from {from})")
        } else {
            String::new()
        }
    );
    if !data.ignored_columns.is_empty() {
        eprintln!(
            "  columns not in the schema, {}: {}",
            if keep_own {
                "not features, written beside each prediction"
            } else {
                "left unread"
            },
            data.ignored_columns.join(", ")
        );
    }
    if !data.skipped.is_empty() {
        report_skipped(&data.skipped, &data.source);
    }
    Ok(data)
}

/// A capture's or Zeek log's connections as records of the model's schema, or of NSL-KDD's
/// (less `--drop`) when training: connection records hold NSL-KDD's features.
fn read_traffic(extraction: nadir_traffic::Extraction, options: &ReadOptions) -> Result<Dataset> {
    let schema = match &options.schema {
        Some(schema) => schema.clone(),
        None => Arc::new(Schema::nsl_kdd().without(&options.drop)?),
    };
    let format = extraction.format();
    let (data, summary) = extraction.into_dataset(&schema, options.keep_ignored)?;
    eprintln!(
        "read {} connections of {} ({}) as schema {}: {summary}",
        data.len(),
        data.source,
        format.name(),
        data.schema.title(),
    );
    Ok(data)
}

/// Rows listed when invalid rows are skipped; the rest are counted.
const LISTED_ROWS: usize = 10;

/// The skipped rows: the first few, then the problems of all of them counted by kind and by
/// column, so that a file of millions of bad rows still gets a few lines.
fn report_skipped(skipped: &nadir_data::Rejects, source: &str) {
    eprintln!("skipped {} invalid row(s) of {source}:", skipped.len());
    let listed = &skipped.listed()[..skipped.listed().len().min(LISTED_ROWS)];
    for row in listed {
        eprintln!("  {row}");
    }
    if skipped.len() > listed.len() {
        eprintln!("  … and {} more", skipped.len() - listed.len());
    }
    let join = |counts: Vec<String>| {
        let more = counts.len().saturating_sub(LISTED_ROWS);
        let mut text = counts[..counts.len() - more].join(", ");
        if more > 0 {
            text.push_str(&format!(", and {more} more"));
        }
        text
    };
    let kinds: Vec<String> = skipped
        .by_kind()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    eprintln!("  problems by kind: {}", join(kinds));
    let columns: Vec<String> = skipped
        .by_field()
        .map(|(column, n)| format!("{column} {n}"))
        .collect();
    if !columns.is_empty() {
        eprintln!("  bad values by column: {}", join(columns));
    }
}

fn check_threshold(threshold: Option<f64>) -> Result<()> {
    if let Some(t) = threshold
        && !(0.0..=1.0).contains(&t)
    {
        bail!("--threshold must lie in [0, 1], got {t}");
    }
    Ok(())
}

/// The hyperparameters: the defaults, then the `--config` file, then each `--set`, then the
/// hybrid's `--target-fpr`.
fn model_config(
    file: Option<&Path>,
    overrides: &[String],
    target_fpr: Option<f64>,
) -> Result<ModelConfig> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?,
        None => String::new(),
    };
    let mut overrides = overrides.to_vec();
    if let Some(rate) = target_fpr {
        overrides.push(format!("hybrid.target_fpr={rate}"));
    }
    Ok(ModelConfig::from_toml(&text, &overrides)?)
}

fn train(args: TrainArgs) -> Result<()> {
    check_threshold(args.threshold)?;
    let kinds = ModelKind::parse_list(&args.models)?;
    if kinds.is_empty() {
        bail!("--models names no model");
    }
    let mut config = model_config(args.config.as_deref(), &args.overrides, args.target_fpr)?;
    config.isolation_forest.normal_only |= args.normal_only;
    config.check(&kinds)?;
    let mut data_args = args.data.clone();
    if data_args.data.is_none() {
        data_args.data = Some(data::default_data_or_fetch()?);
    }
    let data = load_data(&data_args)?;
    let test_data = match &args.test {
        Some(path) => Some(load_data_as(
            &DataArgs {
                data: Some(path.clone()),
                skip_invalid: args.data.skip_invalid,
                ..DataArgs::default()
            },
            &data.schema,
        )?),
        None => None,
    };
    // Created before training too, so that an --out that cannot be a directory fails at once.
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    eprintln!(
        "training {} on {} rows of {}",
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        data.len(),
        data.source
    );
    let options = TrainOptions {
        kinds,
        config,
        seed: args.seed,
        test_share: args.test_share,
        folds: args.folds,
        threshold: args.threshold,
    };
    let steps = Steps::new();
    let trained = protocol::train(&data, test_data.as_ref(), &options, &|event| match event {
        Progress::Start { fits } => steps.start(fits),
        Progress::Fit { kind, fold } => steps.step(match fold {
            Some(f) => format!("fold {}/{}: {kind}", f + 1, options.folds),
            None => format!("final fit: {kind}"),
        }),
        Progress::Done => steps.done(),
    })?;
    steps.finish("training");

    model_dir::save(&args.out, &trained)?;

    let mut out = output::stdout();
    output::report(&mut out, args.format, &trained.report, output::train_report)?;
    let wrote = format!(
        "wrote {} model(s) and {} to {}",
        trained.models.len(),
        model_dir::METRICS_FILE,
        args.out.display()
    );
    note(&mut out, args.format, &wrote)?;
    out.flush()?;
    Ok(())
}

/// A closing note (what a command wrote where): after the tables on standard output, or on
/// standard error when standard output holds a JSON document.
fn note(out: &mut impl Write, format: ReportFormat, text: &str) -> std::io::Result<()> {
    match format {
        ReportFormat::Table => writeln!(out, "\n{text}"),
        ReportFormat::Json => writeln!(std::io::stderr(), "{text}"),
    }
}

fn load_model(path: &Path) -> Result<SavedModel> {
    Ok(SavedModel::load(path)?)
}

fn evaluate(args: EvaluateArgs) -> Result<()> {
    check_threshold(args.threshold)?;
    let model = load_model(&args.model)?;
    let data = load_data_as(&args.data, model.pipeline.schema())?;
    let evaluation = protocol::evaluate(&model, &data, args.threshold)?;
    let mut out = output::stdout();
    output::report(&mut out, args.format, &evaluation, output::evaluation)?;
    out.flush()?;
    Ok(())
}

fn predict(args: PredictArgs) -> Result<()> {
    check_threshold(args.threshold)?;
    let model = load_model(&args.model)?;
    let data = read_model_data(&args.data, model.pipeline.schema(), true)?;
    let predictions = model.predict(&data.records, args.threshold);
    let explanations = match args.explain {
        None => None,
        Some(k) => {
            let tops = model
                .explain_top(&data.records, usize::from(k))
                .with_context(|| format!("cannot explain {}", args.model.display()))?;
            Some(tops)
        }
    };
    let unseen = predictions.iter().filter(|p| !p.unseen.is_empty()).count();
    let mut sink = output_sink(args.output.as_deref())?;
    match args.format {
        PredictFormat::Csv => output::predictions_csv(
            &mut sink,
            model.kind(),
            &data,
            &predictions,
            explanations.as_deref(),
            args.attacks_only,
        )?,
        PredictFormat::Ndjson => output::predictions_ndjson(
            &mut sink,
            model.kind(),
            &data,
            &predictions,
            explanations.as_deref(),
            args.attacks_only,
        )?,
        PredictFormat::Ecs => output::predictions_ecs(
            &mut sink,
            &nadir_ml::ecs::Scoring {
                rule: model.kind().name(),
                kind: model.kind(),
                at: std::time::SystemTime::now(),
            },
            &data,
            &predictions,
            explanations.as_deref(),
            args.attacks_only,
        )?,
    }
    sink.flush()?;
    if unseen > 0 {
        eprintln!("warning: {}", nadir_data::UnseenRows(unseen));
    }
    if let Some(note) = model.family_note() {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// Where a command writes its records: the file given, else standard output; buffered.
fn output_sink(path: Option<&Path>) -> Result<std::io::BufWriter<output::Sink<Box<dyn Write>>>> {
    let sink: Box<dyn Write> = match path {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    // 64 KiB: a SYN flood's extract writes 6 MB of rows; 8 KiB made that 800 system calls.
    Ok(std::io::BufWriter::with_capacity(
        64 * 1024,
        output::Sink(sink),
    ))
}

fn cluster(args: ClusterArgs) -> Result<()> {
    let data = load_data(&args.data)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let options = args.clustering.options(args.seed);
    let steps = Steps::new();
    let run = nadir_ml::cluster::cluster(&data, &options, &|step| {
        steps.step(progress::cluster_step(step))
    })?;
    steps.finish("clustering");

    let write = |name: &str, text: String| {
        let path = args.out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        "summary.json",
        serde_json::to_string_pretty(&run.report)? + "\n",
    )?;
    write("pca.json", serde_json::to_string(&run.transform)? + "\n")?;
    let mut labels = Vec::new();
    output::cluster_labels(&mut labels, &data, &run.clustering)?;
    write("labels.csv", String::from_utf8(labels)?)?;
    let mut curve = String::from("rank,distance\n");
    for p in &run.report.k_distance.points {
        curve.push_str(&format!("{},{}\n", p.rank, p.distance));
    }
    write("k_distance.csv", curve)?;
    if let Some(path) = &args.points {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        output::points_csv(std::io::BufWriter::new(file), &run.points)?;
    }

    let mut out = output::stdout();
    output::report(&mut out, args.format, &run.report, output::cluster_report)?;
    let wrote = format!(
        "wrote labels.csv, summary.json, k_distance.csv and pca.json to {}",
        args.out.display()
    );
    note(&mut out, args.format, &wrote)?;
    out.flush()?;
    Ok(())
}

fn models(args: ModelsArgs) -> Result<()> {
    let defaults = ModelConfig::default();
    let mut out = output::stdout();
    match args.format {
        ModelsFormat::Toml => write!(out, "{}", defaults.annotated_toml())?,
        ModelsFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &defaults)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}
