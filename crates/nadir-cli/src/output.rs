//! Text and machine-readable renderings of the library's results, and the sink they are
//! written to.

use crate::ReportFormat;
use nadir_data::{Dataset, UnseenRows};
use nadir_ml::ModelKind;
use nadir_ml::cluster::ClusterReport;
use nadir_ml::dbscan::Clustering;
use nadir_ml::explain::TopFeatures;
use nadir_ml::family::FamilyPrediction;
use nadir_ml::file::Prediction;
use nadir_ml::metrics::{Scores, classification_report};
use nadir_ml::protocol::{Evaluation, TrainReport};
use nadir_ml::{ecs, output};
use serde::Serialize;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when a write to a [`Sink`] found its reader gone (`nadir predict … | head`).
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Whether a command's output lost its reader: its failure is then no failure, only the end
/// of what anyone wanted to read, and it exits with status 0 and no message.
///
/// The flag, rather than the error: the error reaches `main` wrapped by whichever writer met
/// it (`csv::Error`, `serde_json::Error`, whose `source` skips the `io::Error` it holds, a
/// stream consumer's error), and no walk of its causes finds them all.
pub fn reader_gone() -> bool {
    READER_GONE.load(Ordering::Relaxed)
}

/// Where a command's results go (standard output, or the file given): a writer that notes
/// a closed reader for [`reader_gone`].
pub struct Sink<W>(pub W);

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        noting_closed_reader(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        noting_closed_reader(self.0.flush())
    }
}

fn noting_closed_reader<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(error) = &result
        && error.kind() == io::ErrorKind::BrokenPipe
    {
        READER_GONE.store(true, Ordering::Relaxed);
    }
    result
}

/// Standard output, buffered, as a [`Sink`].
pub fn stdout() -> io::BufWriter<Sink<io::StdoutLock<'static>>> {
    io::BufWriter::new(Sink(io::stdout().lock()))
}

/// A command's result on `out`: `table` renders it for people; JSON is its serde form, the
/// same document as the file the command writes (metrics.json, summary.json, novel.json).
pub fn report<W: Write, T: Serialize>(
    out: &mut W,
    format: ReportFormat,
    value: &T,
    table: impl FnOnce(&mut W, &T) -> io::Result<()>,
) -> anyhow::Result<()> {
    match format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)?;
        }
        ReportFormat::Table => table(out, value)?,
    }
    Ok(())
}

fn auc(s: &Scores) -> String {
    s.roc_auc.map_or("-".into(), |a| format!("{a:.4}"))
}

fn confusion(out: &mut impl Write, s: &Scores) -> io::Result<()> {
    let c = &s.confusion;
    writeln!(out, "confusion matrix (rows: truth, columns: prediction)")?;
    writeln!(out, "{:>10} {:>9} {:>9}", "", "normal", "attack")?;
    writeln!(out, "{:>10} {:>9} {:>9}", "normal", c.tn, c.fp)?;
    writeln!(out, "{:>10} {:>9} {:>9}", "attack", c.fn_, c.tp)
}

pub fn train_report(out: &mut impl Write, report: &TrainReport) -> io::Result<()> {
    let d = &report.data;
    writeln!(
        out,
        "data: {} ({} rows, {:.2} % attacks, sha256 {}…)",
        d.source,
        d.rows,
        100.0 * d.attack_share,
        &d.sha256[..12]
    )?;
    match &d.test_source {
        Some(test) => writeln!(out, "test: {test} ({} rows)", d.test_rows)?,
        None => writeln!(
            out,
            "split: {} train / {} test (stratified, seed {})",
            d.train_rows, d.test_rows, report.seed
        )?,
    }
    writeln!(
        out,
        "{}-fold stratified cross-validation on the {} training rows\n",
        report.folds, d.train_rows
    )?;
    writeln!(
        out,
        "{:<20} {:>8} {:>9} {:>8} {:>8} {:>8}  {:>15} {:>9} {:>8} {:>9}",
        "model",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "cv f1* (± sd)",
        "threshold",
        "fit s",
        "predict s"
    )?;
    for m in &report.models {
        let h = &m.holdout;
        writeln!(
            out,
            "{:<20} {:>8.4} {:>9.4} {:>8.4} {:>8.4} {:>8}  {:>8.4} ± {:.4} {:>9.4} {:>8.2} {:>9.4}",
            m.name.name(),
            h.accuracy,
            h.precision,
            h.recall,
            h.f1,
            auc(h),
            m.cross_validation.f1.mean,
            m.cross_validation.f1.std,
            m.threshold,
            m.fit_seconds,
            m.predict_seconds
        )?;
    }
    writeln!(
        out,
        "\nmetrics are on the {} test rows at each model's threshold (chosen by CV on the training rows, \
         or fixed by the model's own rule)\n\
         * cv f1: mean ± sd over the {} folds of the training rows, each fold scored at 0.5 (or at the \
         threshold the model fixes itself), not at the threshold column's",
        d.test_rows, report.folds
    )?;
    if d.test_rows_with_unseen_categories > 0 {
        writeln!(
            out,
            "test rows: {}",
            UnseenRows(d.test_rows_with_unseen_categories)
        )?;
    }
    if let Some(best) = report.best() {
        writeln!(
            out,
            "\nbest model by cv f1: {} ({})\n",
            best.name, best.description
        )?;
        write!(out, "{}", classification_report(&best.holdout.confusion))?;
        writeln!(out)?;
        confusion(out, &best.holdout)?;
        if let Some(families) = &best.families {
            writeln!(
                out,
                "\nattack families of {} on the test rows ({})\n",
                best.name, families.description
            )?;
            write!(out, "{}", families.holdout.to_text())?;
            if families.test_rows_of_unseen_families > 0 {
                writeln!(
                    out,
                    "{} test rows of families the training rows lack are left out",
                    families.test_rows_of_unseen_families
                )?;
            }
        }
    }
    if let Some(note) = &report.families_note {
        writeln!(out, "\n{note}")?;
    }
    Ok(())
}

/// Balanced accuracy, MCC and detection at fixed false-positive rates: the lines beside
/// accuracy that a file of mostly attacks cannot flatter.
fn unflattering(out: &mut impl Write, u: &nadir_ml::metrics::Unflattering) -> io::Result<()> {
    write!(
        out,
        "balanced accuracy {:.4}   MCC {:.4}",
        u.balanced_accuracy, u.mcc
    )?;
    let at: Vec<String> = u
        .detection_at_fpr
        .iter()
        .map(|d| format!("{} % FPR {:.4}", 100.0 * d.target_fpr, d.detection_rate))
        .collect();
    if !at.is_empty() {
        write!(out, "   detection at {}", at.join(", "))?;
    }
    writeln!(out, "\n")
}

pub fn evaluation(out: &mut impl Write, e: &Evaluation) -> io::Result<()> {
    let s = &e.scores;
    writeln!(
        out,
        "model: {}   rows: {}   threshold: {:.4}",
        e.model, e.rows, e.threshold
    )?;
    writeln!(
        out,
        "accuracy {:.4}   precision {:.4}   recall {:.4}   f1 {:.4}   roc_auc {}",
        s.accuracy,
        s.precision,
        s.recall,
        s.f1,
        auc(s)
    )?;
    unflattering(out, &e.unflattering)?;
    write!(out, "{}", classification_report(&s.confusion))?;
    writeln!(out)?;
    confusion(out, s)?;
    let hybrid = e.per_attack.values().any(|r| r.fired.is_some());
    if hybrid {
        writeln!(
            out,
            "\n{:<18} {:>7} {:>8} {:>8} {:>10} {:>8} {:>6}",
            "attack", "rows", "flagged", "rate", "classifier", "novelty", "both"
        )?;
    } else {
        writeln!(
            out,
            "\n{:<18} {:>7} {:>8} {:>8}",
            "attack", "rows", "flagged", "rate"
        )?;
    }
    for (name, rate) in &e.per_attack {
        write!(
            out,
            "{name:<18} {:>7} {:>8} {:>8.4}",
            rate.rows, rate.flagged, rate.rate
        )?;
        match &rate.fired {
            Some(f) => writeln!(out, " {:>10} {:>8} {:>6}", f.classifier, f.novelty, f.both)?,
            None => writeln!(out)?,
        }
    }
    writeln!(out, "(for `normal`, the rate is the false-alarm rate)")?;
    if hybrid {
        writeln!(
            out,
            "(classifier / novelty / both: which part of the hybrid flagged the rows)"
        )?;
    }
    if e.rows_with_unseen_categories > 0 {
        writeln!(out, "{}", UnseenRows(e.rows_with_unseen_categories))?;
    }
    match &e.families {
        Some(families) => {
            writeln!(out, "\nattack families\n")?;
            write!(out, "{}", families.to_text())?;
            if let Some(unknown) = e.rows_of_unknown_families.filter(|&n| n > 0) {
                writeln!(
                    out,
                    "{unknown} rows of families the family model does not know are left out"
                )?;
            }
        }
        None => writeln!(
            out,
            "\nno attack families: the model file has no family model (files before format 5)"
        )?,
    }
    Ok(())
}

/// One output row of `predict`.
struct PredictionRow<'a> {
    /// 1-based position of the record among the file's records.
    row: usize,
    /// Line of the record in the file.
    line: u64,
    /// The record's values of the file's own columns ([`Dataset::ignored_values`]).
    own: &'a [String],
    prediction: &'static str,
    score: f64,
    /// Hybrid models: which part flagged the record (empty when none did).
    fired: &'static str,
    /// The most probable attack family, when the model file has a family model.
    family: Option<&'a FamilyPrediction>,
    warning: String,
}

/// The rows to write: every record's, or with `attacks_only` those predicted attacks.
fn rows<'a>(
    data: &'a Dataset,
    predictions: &'a [Prediction],
    attacks_only: bool,
) -> impl Iterator<Item = PredictionRow<'a>> + 'a {
    let no_own: &[String] = &[];
    predictions
        .iter()
        .enumerate()
        .filter(move |(_, p)| !attacks_only || p.is_attack)
        .map(move |(i, p)| PredictionRow {
            row: i + 1,
            line: data.lines[i],
            own: data.ignored_values.get(i).map_or(no_own, Vec::as_slice),
            prediction: p.verdict(),
            score: p.score,
            fired: p.fired.map_or("", |f| f.name()),
            family: p.family.as_ref(),
            warning: p.warning_text(),
        })
}

/// `nadir predict --format csv`: the columns of [`output::columns_with_own`], one row per
/// record (per predicted attack with `attacks_only`), then with `explanations` (one per
/// record) the [`output::explanation_columns`].
pub fn predictions_csv(
    out: &mut impl Write,
    kind: ModelKind,
    data: &Dataset,
    predictions: &[Prediction],
    explanations: Option<&[TopFeatures]>,
    attacks_only: bool,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let fired = output::reports_fired(kind);
    let mut columns = output::columns_with_own(kind, own_columns(data));
    if explanations.is_some() {
        columns.extend(
            output::explanation_columns(kind)
                .into_iter()
                .map(String::from),
        );
    }
    writer.write_record(columns)?;
    for r in rows(data, predictions, attacks_only) {
        let mut record = vec![r.row.to_string(), r.line.to_string()];
        record.extend(r.own.iter().cloned());
        record.extend([r.prediction.to_string(), r.score.to_string()]);
        if fired {
            record.push(r.fired.to_string());
        }
        match r.family {
            Some(f) => record.extend([f.family.clone(), f.probability.to_string()]),
            None => record.extend([String::new(), String::new()]),
        }
        record.push(r.warning);
        if let Some(explanation) = explanations.map(|e| &e[r.row - 1]) {
            record.extend([
                explanation.space.name().to_string(),
                explanation.base.to_string(),
                output::explanation_text(&explanation.features),
                explanation.method.name().to_string(),
            ]);
            if fired {
                record.push(explanation.part.map_or("", |p| p.name()).to_string());
            }
        }
        writer.write_record(record)?;
    }
    writer.flush()?;
    Ok(())
}

/// The file's own columns that go through to `predict`'s output: those it kept values of.
fn own_columns(data: &Dataset) -> &[String] {
    if data.ignored_values.is_empty() {
        &[]
    } else {
        &data.ignored_columns
    }
}

/// `nadir predict --format ndjson`: one object per record (per predicted attack with
/// `attacks_only`), keyed by [`output::columns_with_own`], then with `explanations` (one per
/// record) by [`output::explanation_columns`], the features an array of objects, and a
/// hybrid's [`output::NEAREST_NORMAL`] row when its explanation has one.
pub fn predictions_ndjson(
    out: &mut impl Write,
    kind: ModelKind,
    data: &Dataset,
    predictions: &[Prediction],
    explanations: Option<&[TopFeatures]>,
    attacks_only: bool,
) -> anyhow::Result<()> {
    let own = own_columns(data);
    for r in rows(data, predictions, attacks_only) {
        let mut object = serde_json::Map::new();
        object.insert("row".into(), r.row.into());
        object.insert("line".into(), r.line.into());
        for (name, value) in own.iter().zip(r.own) {
            object.insert(name.clone(), value.clone().into());
        }
        object.insert("prediction".into(), r.prediction.into());
        object.insert(kind.score_field().into(), r.score.into());
        if output::reports_fired(kind) {
            let fired = (!r.fired.is_empty()).then_some(r.fired);
            object.insert(output::FIRED.into(), fired.into());
        }
        object.insert(
            output::FAMILY.into(),
            r.family.map(|f| f.family.clone()).into(),
        );
        object.insert(
            output::FAMILY_PROBABILITY.into(),
            r.family.map(|f| f.probability).into(),
        );
        object.insert("warning".into(), r.warning.into());
        if let Some(explanation) = explanations.map(|e| &e[r.row - 1]) {
            object.insert(output::EXPLAINED.into(), explanation.space.name().into());
            object.insert(output::BASE_VALUE.into(), explanation.base.into());
            object.insert(
                output::EXPLANATION.into(),
                serde_json::to_value(&explanation.features)?,
            );
            object.insert(
                output::EXPLANATION_METHOD.into(),
                explanation.method.name().into(),
            );
            if output::reports_fired(kind) {
                object.insert(
                    output::EXPLAINED_PART.into(),
                    explanation.part.map(|p| p.name()).into(),
                );
            }
            if let Some(nearest) = &explanation.nearest_normal {
                object.insert(
                    output::NEAREST_NORMAL.into(),
                    serde_json::to_value(nearest)?,
                );
            }
        }
        serde_json::to_writer(&mut *out, &object)?;
        writeln!(out)?;
    }
    Ok(())
}

/// `nadir predict --format ecs`: one Elastic Common Schema document per record (per predicted
/// attack with `attacks_only`), as [`nadir_ml::ecs`] builds them; the record's own columns
/// (a connection's addresses, ports and start) fill in its source, destination and time;
/// with `explanations` (one per record), `nadir.explanation`.
pub fn predictions_ecs(
    out: &mut impl Write,
    scoring: &ecs::Scoring<'_>,
    data: &Dataset,
    predictions: &[Prediction],
    explanations: Option<&[TopFeatures]>,
    attacks_only: bool,
) -> anyhow::Result<()> {
    let own = own_columns(data);
    for r in rows(data, predictions, attacks_only) {
        let i = r.row - 1;
        let subject = ecs::Subject::new(
            own.iter()
                .map(String::as_str)
                .zip(r.own.iter().map(String::as_str)),
            ecs::transport_feature(&data.schema, &data.records[i]),
        );
        let place = ecs::Place::Row {
            row: r.row,
            line: r.line,
        };
        let mut document = ecs::document(scoring, place, &predictions[i], &subject);
        if let Some(explanations) = explanations {
            ecs::add_explanation(&mut document, &explanations[i]);
        }
        serde_json::to_writer(&mut *out, &document)?;
        writeln!(out)?;
    }
    Ok(())
}

pub fn cluster_labels(
    out: &mut impl Write,
    data: &Dataset,
    clustering: &Clustering,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["row", "line", "cluster", "kind", "attack"])?;
    for (i, (cluster, kind)) in clustering
        .clusters
        .iter()
        .zip(&clustering.kinds)
        .enumerate()
    {
        let attack = data.attacks.as_ref().map_or("", |a| a[i].as_str());
        writer.write_record([
            (i + 1).to_string(),
            data.lines[i].to_string(),
            cluster.map_or("noise".to_string(), |c| c.to_string()),
            format!("{kind:?}").to_lowercase(),
            attack.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

pub fn cluster_report(out: &mut impl Write, r: &ClusterReport) -> io::Result<()> {
    writeln!(out, "data: {} ({} rows)", r.source, r.rows)?;
    let p = &r.pca;
    writeln!(
        out,
        "\nPCA: {} components explain {:.2} % of the variance (target {:.0} %)",
        p.components,
        100.0 * p.cumulative_ratio[p.components - 1],
        100.0 * p.variance_target
    )?;
    writeln!(
        out,
        "{:>9} {:>9} {:>11}  top loadings",
        "component", "ratio", "cumulative"
    )?;
    for (i, loadings) in p.top_loadings.iter().enumerate() {
        let top: Vec<String> = loadings
            .iter()
            .take(3)
            .map(|l| format!("{} {:+.2}", l.feature, l.weight))
            .collect();
        writeln!(
            out,
            "{:>9} {:>9.4} {:>11.4}  {}",
            i + 1,
            p.explained_variance_ratio[i],
            p.cumulative_ratio[i],
            top.join(", ")
        )?;
    }
    let k = &r.k_distance;
    writeln!(
        out,
        "\nk-distance (k = {}): knee at eps {}",
        k.k,
        k.knee_eps.map_or("-".into(), |e| format!("{e:.5}"))
    )?;
    if let Some(grid) = &r.grid {
        writeln!(
            out,
            "\ngrid search (silhouette on a seeded sample; * = chosen)"
        )?;
        write!(out, "{}", grid.table())?;
    }
    writeln!(
        out,
        "\nDBSCAN eps {:.5}, min_samples {}: {} clusters, {} core, {} edge, {} noise ({:.2} %)",
        r.chosen.eps,
        r.chosen.min_samples,
        r.clusters,
        r.core,
        r.edge,
        r.noise,
        100.0 * r.noise as f64 / r.rows.max(1) as f64
    )?;
    let mut sizes = r.cluster_sizes.clone();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let largest: Vec<String> = sizes.iter().take(10).map(ToString::to_string).collect();
    writeln!(out, "largest clusters: {}", largest.join(", "))?;
    if let Some(a) = &r.agreement {
        writeln!(
            out,
            "\nagreement with the labels: noise is {:.2} % of attacks and {:.2} % of normal rows; \
             cluster purity {:.4}; adjusted Rand index {:.4} (clustered rows only: {:.4})",
            100.0 * a.attack_noise_share,
            100.0 * a.normal_noise_share,
            a.purity,
            a.adjusted_rand,
            a.adjusted_rand_clustered
        )?;
    }
    let s = &r.seconds;
    writeln!(
        out,
        "\nseconds: PCA {:.2}, kd-tree {:.2}, grid search {:.2}, DBSCAN {:.2}, k-distance {:.2}",
        s.pca, s.index, s.grid_search, s.dbscan, s.k_distance
    )
}

/// Principal-component coordinates, one row per record: `pc1,pc2,…`.
pub fn points_csv(out: impl Write, points: &ndarray::Array2<f64>) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record((1..=points.ncols()).map(|i| format!("pc{i}")))?;
    for row in points.rows() {
        writer.write_record(row.iter().map(f64::to_string))?;
    }
    writer.flush()?;
    Ok(())
}
