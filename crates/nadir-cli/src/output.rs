//! Text and machine-readable renderings of the library's results.

use nadir_data::Dataset;
use nadir_ml::file::Prediction;
use nadir_ml::metrics::{Scores, classification_report};
use nadir_ml::protocol::{Evaluation, TrainReport};
use serde::Serialize;
use std::io::{self, Write};

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
        "cv f1 (± sd)",
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
        "\nmetrics are on the {} held-out test rows at each model's threshold (chosen by CV on the train part)",
        d.test_rows
    )?;
    if d.test_rows_with_unseen_categories > 0 {
        writeln!(
            out,
            "{} test row(s) hold category values unseen in training",
            d.test_rows_with_unseen_categories
        )?;
    }
    if let Some(best) = report.best() {
        writeln!(out, "\nbest model: {} ({})\n", best.name, best.description)?;
        write!(out, "{}", classification_report(&best.holdout.confusion))?;
        writeln!(out)?;
        confusion(out, &best.holdout)?;
    }
    Ok(())
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
        "accuracy {:.4}   precision {:.4}   recall {:.4}   f1 {:.4}   roc_auc {}\n",
        s.accuracy,
        s.precision,
        s.recall,
        s.f1,
        auc(s)
    )?;
    write!(out, "{}", classification_report(&s.confusion))?;
    writeln!(out)?;
    confusion(out, s)?;
    writeln!(
        out,
        "\n{:<18} {:>7} {:>8} {:>8}",
        "attack", "rows", "flagged", "rate"
    )?;
    for (name, rate) in &e.per_attack {
        writeln!(
            out,
            "{name:<18} {:>7} {:>8} {:>8.4}",
            rate.rows, rate.flagged, rate.rate
        )?;
    }
    writeln!(out, "(for `normal`, the rate is the false-alarm rate)")?;
    if e.rows_with_unseen_categories > 0 {
        writeln!(
            out,
            "{} row(s) hold category values unseen in training",
            e.rows_with_unseen_categories
        )?;
    }
    Ok(())
}

/// One output row of `predict`.
#[derive(Serialize)]
struct PredictionRow {
    /// 1-based position of the record among the file's records.
    row: usize,
    /// Line of the record in the file.
    line: u64,
    prediction: &'static str,
    probability: f64,
    warning: String,
}

fn rows<'a>(
    data: &'a Dataset,
    predictions: &'a [Prediction],
) -> impl Iterator<Item = PredictionRow> + 'a {
    predictions.iter().enumerate().map(|(i, p)| PredictionRow {
        row: i + 1,
        line: data.lines[i],
        prediction: if p.is_attack { "attack" } else { "normal" },
        probability: p.score,
        warning: p
            .unseen
            .iter()
            .map(|u| format!("unseen {} `{}`", u.feature, u.value))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

pub fn predictions_csv(
    out: &mut impl Write,
    data: &Dataset,
    predictions: &[Prediction],
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    for row in rows(data, predictions) {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}

pub fn predictions_ndjson(
    out: &mut impl Write,
    data: &Dataset,
    predictions: &[Prediction],
) -> anyhow::Result<()> {
    for row in rows(data, predictions) {
        serde_json::to_writer(&mut *out, &row)?;
        writeln!(out)?;
    }
    Ok(())
}
