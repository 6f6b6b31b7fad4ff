//! `nadir report`: one self-contained HTML page of the data, the models, the clusters and the
//! anomalies (built by `nadir-report`).

use crate::progress::{self, Steps};
use crate::{ClusteringArgs, DataArgs, load_data, load_data_as};
use anyhow::{Context, Result};
use clap::Args;
use nadir_report::{ReportOptions, Step};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Directory written by `nadir train` (model files and metrics.json).
    #[arg(long, default_value = "models", value_name = "DIR")]
    models: PathBuf,
    /// The labelled test file the models were measured on, when they were trained with
    /// `nadir train --test` (default: the path recorded in metrics.json).
    #[arg(long, value_name = "FILE")]
    test: Option<PathBuf>,
    /// The HTML file to write [default: report.html in the --models directory, beside the
    /// models it reports on].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Seed of the scatter-plot samples and of DBSCAN's silhouette samples.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Points drawn per scatter plot at most.
    #[arg(long, default_value_t = 5_000, value_name = "N")]
    max_points: usize,
    /// Histograms by class for this many of the best separating features.
    #[arg(long, default_value_t = 6, value_name = "N")]
    histograms: usize,
    #[command(flatten)]
    clustering: ClusteringArgs,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| nadir_report::default_page_path(&args.models));
    let models = nadir_report::load_models(&args.models)?;
    let data = match models.schema() {
        Some(schema) => load_data_as(&args.data, schema)?,
        None => load_data(&args.data)?,
    };
    let test_path = args
        .test
        .clone()
        .or_else(|| models.metrics.data.test_source.as_ref().map(PathBuf::from));
    let test = match test_path {
        Some(path) => Some(load_data_as(
            &DataArgs {
                data: Some(path),
                skip_invalid: args.data.skip_invalid,
                ..DataArgs::default()
            },
            &data.schema,
        )?),
        None => None,
    };
    let options = ReportOptions {
        seed: args.seed,
        max_points: args.max_points,
        histograms: args.histograms,
        cluster: args.clustering.options(args.seed),
    };
    eprintln!(
        "report on {} rows of {} with the {} model(s) in {}",
        data.len(),
        data.source,
        models.models.len(),
        args.models.display()
    );
    let steps = Steps::new();
    let report = nadir_report::build(&data, &models, test.as_ref(), &options, &|step| {
        steps.step(match step {
            Step::Explore => "exploring the data".to_string(),
            Step::Score(kind) => format!("scoring the held-out rows with {kind}"),
            Step::Cluster(step) => progress::cluster_step(step).into(),
            Step::IsolationForest => "isolation forest".into(),
        })
    })?;
    steps.step("writing the page");
    let html = report.to_html();
    steps.finish("the report");
    std::fs::write(&out, &html).with_context(|| format!("cannot write {}", out.display()))?;
    if report.anomalies.fitted_here {
        eprintln!(
            "note: {} has no isolation_forest.nadir; the report fitted one on the training rows",
            args.models.display()
        );
    }
    eprintln!(
        "time per step: {}",
        report
            .step_seconds
            .iter()
            .map(|(step, s)| format!("{step} {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    writeln!(
        std::io::stdout().lock(),
        "wrote {} ({:.1} MB) in {:.1} s",
        out.display(),
        html.len() as f64 / 1e6,
        report.seconds
    )?;
    Ok(())
}
