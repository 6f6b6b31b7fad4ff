//! The page: sections, tables and numbered figures around the charts, with a table of
//! contents. Everything is inline (CSS and SVG); the page loads nothing and runs no script.

use crate::chart::escape;
use crate::figures::{self, Figure, grouped, metric};
use crate::{ModelSection, Report};
use nadir_explore::{Exploration, Verdict};
use nadir_ml::cluster::ClusterReport;
use nadir_ml::registry::ModelKind;
use std::fmt::Write;

const STYLE: &str = r#"
:root { --ink: #222; --muted: #5f6368; --line: #dde1e6; --accent: #3a78b5; --bg: #fafbfc; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header { padding: 28px 40px 20px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { margin: 0 0 4px; font-size: 28px; }
header p { margin: 2px 0; color: var(--muted); }
.layout { display: flex; align-items: flex-start; }
nav.toc { position: sticky; top: 0; flex: 0 0 250px; max-height: 100vh; overflow-y: auto; padding: 20px 16px 40px 24px; font-size: 14px; border-right: 1px solid var(--line); }
nav.toc h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 8px; }
nav.toc ol { padding-left: 18px; margin: 0; }
nav.toc ol ol { padding-left: 4px; font-size: 13px; list-style: none; color: var(--muted); }
nav.toc a { color: var(--ink); text-decoration: none; }
nav.toc a:hover { color: var(--accent); text-decoration: underline; }
main { flex: 1; min-width: 0; max-width: 1060px; padding: 8px 40px 60px; }
section { margin-top: 28px; }
h2 { font-size: 23px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin: 32px 0 12px; }
h3 { font-size: 18px; margin: 26px 0 8px; }
p { max-width: 78ch; }
figure { margin: 22px 0 30px; padding: 14px 16px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
figure h4 { margin: 0 0 4px; font-size: 14px; text-align: center; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { margin-top: 10px; font-size: 14.5px; color: #3c4043; max-width: 90ch; }
figcaption b { color: var(--ink); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--chart, 300px), 1fr)); gap: 10px 18px; }
.grid h4 { margin: 4px 0 2px; font-size: 14px; text-align: center; font-weight: 600; }
.figures2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 0 20px; }
.figures2 figure { margin: 10px 0; }
table { border-collapse: collapse; margin: 12px 0 20px; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td { white-space: nowrap; }
td:has(.text) { white-space: normal; text-align: left; min-width: 16ch; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
tr.best td { background: #eef5fc; font-weight: 600; }
.wide { overflow-x: auto; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 12px; margin: 16px 0; }
.fact { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; background: var(--bg); }
.fact .value { font-size: 22px; font-weight: 650; }
.fact .label { font-size: 13px; color: var(--muted); }
.note { border-left: 4px solid #e0a100; background: #fff8e1; padding: 8px 14px; max-width: 78ch; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12.5px; font-weight: 600; white-space: nowrap; }
.supported { background: #e3f3e6; color: #1e6b2f; }
.contradicted { background: #fde7e7; color: #a31b1b; }
.not_significant, .not_testable { background: #eceff1; color: #455a64; }
ul.hypotheses { padding-left: 0; list-style: none; }
ul.hypotheses li { margin: 0 0 14px; max-width: 90ch; }
ul.hypotheses .detail { color: var(--muted); font-size: 14px; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; color: var(--accent); }
code { font-size: 90%; background: #f1f3f4; padding: 1px 4px; border-radius: 3px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
@media (max-width: 900px) { .layout { display: block; } nav.toc { position: static; max-height: none; border-right: 0; border-bottom: 1px solid var(--line); } main { padding: 8px 16px 40px; } }
"#;

/// A section of the page: its anchor, title and content, and the figures in it (for the
/// table of contents).
struct Section {
    id: &'static str,
    title: &'static str,
    html: String,
    figures: Vec<(String, String)>,
}

/// Writes the page, numbering figures by section: the second figure of section 3 is
/// figure 3.2, in its caption and in the contents.
struct Page {
    sections: Vec<Section>,
}

impl Page {
    fn section(&mut self, id: &'static str, title: &'static str) -> &mut Section {
        self.sections.push(Section {
            id,
            title,
            html: String::new(),
            figures: Vec::new(),
        });
        self.sections.last_mut().expect("just pushed")
    }

    fn figure(&mut self, figure: &Figure) -> String {
        let section_number = self.sections.len();
        let section = self.sections.last_mut().expect("a section");
        let number = format!("{section_number}.{}", section.figures.len() + 1);
        section
            .figures
            .push((figure.id.clone(), format!("{number} {}", figure.title)));
        let mut html = format!(r#"<figure id="{}">"#, escape(&figure.id));
        if figure.charts.len() > 1 {
            let _ = write!(
                html,
                r#"<div class="grid" style="--chart: {}px">"#,
                figure.min_chart_width
            );
            for (title, svg) in &figure.charts {
                html.push_str("<div>");
                if let Some(title) = title {
                    let _ = write!(html, "<h4>{}</h4>", escape(title));
                }
                html.push_str(svg);
                html.push_str("</div>");
            }
            html.push_str("</div>");
        } else {
            for (title, svg) in &figure.charts {
                if let Some(title) = title {
                    let _ = write!(html, "<h4>{}</h4>", escape(title));
                }
                html.push_str(svg);
            }
        }
        let _ = write!(
            html,
            "<figcaption><b>Figure {number}. {}.</b> {}</figcaption></figure>",
            escape(&figure.title),
            escape(&figure.caption)
        );
        html
    }

    fn push_figure(&mut self, figure: &Figure) {
        let html = self.figure(figure);
        self.sections
            .last_mut()
            .expect("a section")
            .html
            .push_str(&html);
    }

    fn push(&mut self, html: &str) {
        self.sections
            .last_mut()
            .expect("a section")
            .html
            .push_str(html);
    }
}

/// An HTML table: header cells, then rows of cells (already escaped HTML), the first column
/// left-aligned, and so is a column whose every cell is [`text`] (its header too);
/// `highlight` marks one row.
fn table(header: &[&str], rows: &[Vec<String>], highlight: Option<usize>) -> String {
    let mut html = String::from(r#"<div class="wide"><table><thead><tr>"#);
    for (column, h) in header.iter().enumerate() {
        let prose = !rows.is_empty()
            && rows
                .iter()
                .all(|row| row.get(column).is_some_and(|cell| cell.starts_with(TEXT)));
        let _ = write!(
            html,
            "<th{}>{h}</th>",
            if prose { r#" class="text""# } else { "" }
        );
    }
    html.push_str("</tr></thead><tbody>");
    for (i, row) in rows.iter().enumerate() {
        html.push_str(if Some(i) == highlight {
            r#"<tr class="best">"#
        } else {
            "<tr>"
        });
        for cell in row {
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

const TEXT: &str = r#"<span class="text">"#;

/// A table cell of prose (a list, a sentence): it wraps and is left-aligned, where numbers
/// stay on one line, right-aligned.
fn text(prose: &str) -> String {
    format!("{TEXT}{}</span>", escape(prose))
}

fn fact(value: &str, label: &str) -> String {
    format!(
        r#"<div class="fact"><div class="value">{}</div><div class="label">{}</div></div>"#,
        escape(value),
        escape(label)
    )
}

fn share(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

pub fn render(report: &Report) -> String {
    let e = &report.exploration;
    let mut page = Page {
        sections: Vec::new(),
    };
    summary(&mut page, report);
    data_section(&mut page, e);
    features_section(&mut page, report);
    correlations_section(&mut page, e);
    hypotheses_section(&mut page, e);
    models_section(&mut page, &report.models);
    clusters_section(&mut page, report);
    anomalies_section(&mut page, report);
    method_section(&mut page, report);

    let mut html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>nadir report: {}</title><style>{STYLE}</style></head><body><header><h1>nadir report</h1><p>Data: <code>{}</code> ({} rows) · models: <code>{}</code></p><p>nadir {} · built in {:.1} s</p></header><div class="layout"><nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>"#,
        escape(&e.source),
        escape(&e.source),
        grouped(e.rows),
        escape(&report.models.dir),
        env!("CARGO_PKG_VERSION"),
        report.seconds
    );
    for section in &page.sections {
        let _ = write!(
            html,
            r##"<li><a href="#{}">{}</a>"##,
            section.id,
            escape(section.title)
        );
        if !section.figures.is_empty() {
            html.push_str("<ol>");
            for (id, title) in &section.figures {
                let _ = write!(
                    html,
                    r##"<li><a href="#{}">{}</a></li>"##,
                    escape(id),
                    escape(title)
                );
            }
            html.push_str("</ol>");
        }
        html.push_str("</li>");
    }
    html.push_str("</ol></nav><main>");
    for section in &page.sections {
        let _ = write!(
            html,
            r#"<section id="{}"><h2>{}</h2>{}</section>"#,
            section.id,
            escape(section.title),
            section.html
        );
    }
    html.push_str(
        "<footer>Generated by <code>nadir report</code>. Every chart is inline SVG; the page needs no network.</footer></main></div></body></html>\n",
    );
    html
}

fn summary(page: &mut Page, report: &Report) {
    let e = &report.exploration;
    let m = &report.models;
    let c = &report.clusters.run.report;
    let a = &report.anomalies;
    let mut facts = String::from(r#"<div class="facts">"#);
    facts.push_str(&fact(&grouped(e.rows), "records"));
    facts.push_str(&fact(&share(e.balance.attack_share), "of them attacks"));
    if let Some(best) = m.best() {
        facts.push_str(&fact(
            &metric(best.holdout.f1),
            &format!("held-out F1 of {}, the best by CV F1", best.kind),
        ));
        facts.push_str(&fact(
            &grouped((best.holdout.confusion.fp + best.holdout.confusion.fn_) as usize),
            &format!("its errors in {} held-out rows", grouped(m.test_rows)),
        ));
    }
    facts.push_str(&fact(
        &grouped(c.clusters),
        &format!("DBSCAN clusters ({} noise rows)", grouped(c.noise)),
    ));
    facts.push_str(&fact(
        &a.roc_auc.map_or("–".into(), |v| format!("{v:.3}")),
        "isolation forest ROC-AUC",
    ));
    facts.push_str("</div>");
    let top = e
        .tests
        .iter()
        .take(3)
        .map(|t| t.feature.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let section = page.section("summary", "At a glance");
    section.html = format!(
        "{facts}<p>{} The features that separate attacks from normal traffic best are {}. Unsupervised, the isolation forest catches far fewer attacks than any trained classifier: labels matter on this data.</p>",
        escape(&figures::best_model_sentence(m)),
        escape(&top)
    );
}

fn data_section(page: &mut Page, e: &Exploration) {
    let q = &e.quality;
    let mut html = String::from(
        "<p>What the file holds and how clean it is. Values that break the schema (a negative count, a rate above 1) stop the reader, so every row here passed validation; the checks below look for what validation cannot catch.</p>",
    );
    let rows = vec![
        vec!["records".into(), grouped(q.rows)],
        vec!["rows skipped as invalid".into(), grouped(q.skipped_rows)],
        vec![
            "duplicate rows (features only)".into(),
            grouped(q.duplicates.feature_rows),
        ],
        vec![
            "duplicate rows (with label)".into(),
            grouped(q.duplicates.labelled_rows),
        ],
        vec![
            "identical features, different labels (rows)".into(),
            grouped(q.duplicates.conflicting_rows),
        ],
        vec![
            "constant columns".into(),
            text(&if q.constant_columns.is_empty() {
                "none".into()
            } else {
                q.constant_columns.join(", ")
            }),
        ],
        vec![
            "near-constant columns".into(),
            text(
                &q.near_constant
                    .iter()
                    .map(|n| format!("{} ({} = {})", n.column, share(n.share), n.value))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ],
    ];
    html.push_str(&table(&["check", "result"], &rows, None));
    if !q.suspicious.is_empty() {
        html.push_str("<h3>Suspicious values</h3><p>Valid by the schema's rules but against the documentation:</p>");
        let rows: Vec<Vec<String>> = q
            .suspicious
            .iter()
            .map(|s| {
                vec![
                    escape(&s.column),
                    escape(&crate::chart::format_number(s.value)),
                    grouped(s.rows),
                    grouped(s.normal_rows),
                    grouped(s.attack_rows),
                    text(s.rule),
                ]
            })
            .collect();
        html.push_str(&table(
            &["column", "value", "rows", "normal", "attack", "rule"],
            &rows,
            None,
        ));
    }
    page.section("data", "The data").html = html;
    page.push_figure(&figures::class_balance(&e.balance));
    let mut attacks: Vec<_> = e.balance.attacks.iter().collect();
    attacks.sort_by_key(|a| std::cmp::Reverse(a.rows));
    let rows: Vec<Vec<String>> = attacks
        .iter()
        .map(|a| {
            vec![
                escape(&a.name),
                escape(&a.family),
                grouped(a.rows),
                share(a.share),
            ]
        })
        .collect();
    page.push(&format!(
        "<details><summary>Rows per attack name ({})</summary>{}</details>",
        attacks.len(),
        table(&["attack", "family", "rows", "share"], &rows, None)
    ));
}

fn features_section(page: &mut Page, report: &Report) {
    let e = &report.exploration;
    page.section("features", "Features by class").html = format!(
        "<p>Each feature tested for a difference between attack and normal rows: Mann–Whitney U and Welch's t for numeric features, chi-square for categorical ones, p-values adjusted by Benjamini–Hochberg over all {} tests, ranked by effect size (with {} rows nearly everything is significant; the effect size says whether it matters). The histograms show the {} best separating numeric features: the share of each class's rows in each bin, so the classes compare despite their sizes; where the orange (attack) and blue (normal) areas do not overlap, the feature tells attacks from normal traffic. Counts that span many decades are drawn on a log(1 + x) axis whose first bin holds the zeros.</p>",
        e.tests.len(),
        grouped(e.rows),
        report.histograms.len()
    );
    page.push(r#"<div class="figures2">"#);
    for h in &report.histograms {
        let test = e.tests.iter().find(|t| t.feature == h.feature);
        page.push_figure(&figures::class_histogram(h, test));
    }
    page.push("</div>");
    let rows: Vec<Vec<String>> = e
        .tests
        .iter()
        .map(|t| {
            let main = t
                .mann_whitney
                .as_ref()
                .or(t.chi_square.as_ref())
                .or(t.welch.as_ref());
            vec![
                t.rank.to_string(),
                escape(&t.feature),
                escape(t.kind),
                format!("{:.3}", t.separation),
                escape(&format!("{:?}", t.magnitude).to_lowercase()),
                text(&t.direction),
                main.map_or("–".into(), |m| escape(m.test.label())),
                main.map_or("–".into(), |m| escape(&m.p_adjusted.text)),
                t.welch
                    .as_ref()
                    .map_or("–".into(), |w| format!("{:.2}", w.effect_size)),
            ]
        })
        .collect();
    page.push(&format!(
        "<h3>Which features separate the classes</h3><details open><summary>All {} features, best separating first</summary>{}</details>",
        rows.len(),
        table(
            &[
                "#",
                "feature",
                "kind",
                "separation",
                "effect",
                "direction",
                "test",
                "adjusted p",
                "Hedges' g"
            ],
            &rows,
            None
        )
    ));
    let rows: Vec<Vec<String>> = e
        .features
        .iter()
        .map(|f| {
            let s = |v: f64| escape(&crate::chart::format_number(v));
            vec![
                escape(&f.feature),
                s(f.normal.median),
                s(f.attack.median),
                s(f.normal.mean),
                s(f.attack.mean),
                share(f.normal.zero_share),
                share(f.attack.zero_share),
                s(f.all.max),
            ]
        })
        .collect();
    page.push(&format!(
        "<details><summary>Summary of every numeric feature by class</summary>{}</details>",
        table(
            &[
                "feature",
                "median normal",
                "median attack",
                "mean normal",
                "mean attack",
                "zeros normal",
                "zeros attack",
                "max"
            ],
            &rows,
            None
        )
    ));
    for c in &e.categories {
        let rows: Vec<Vec<String>> = c
            .values
            .iter()
            .take(15)
            .map(|v| {
                vec![
                    escape(&v.value),
                    grouped(v.rows),
                    grouped(v.normal),
                    grouped(v.attack),
                    share(v.attack_share),
                ]
            })
            .collect();
        page.push(&format!(
            "<details><summary>{}: {} values (the 15 most frequent)</summary>{}</details>",
            escape(&c.feature),
            c.levels,
            table(
                &["value", "rows", "normal", "attack", "attack share"],
                &rows,
                None
            )
        ));
    }
}

fn correlations_section(page: &mut Page, e: &Exploration) {
    page.section("correlations", "Correlations").html =
        "<p>Pearson's r measures linear association; Spearman's ρ, on ranks, any monotonic one, and suits these skewed counts better. Strongly correlated features carry the same information: models need only one of each group.</p>".into();
    page.push_figure(&figures::correlation_heatmap(&e.correlations, false));
    page.push_figure(&figures::correlation_heatmap(&e.correlations, true));
    let rows: Vec<Vec<String>> = e
        .correlations
        .top_pairs
        .iter()
        .map(|p| {
            vec![
                escape(&p.a),
                text(&p.b),
                format!("{:.3}", p.pearson),
                format!("{:.3}", p.spearman),
            ]
        })
        .collect();
    page.push(&format!(
        "<h3>The most correlated pairs</h3>{}",
        table(&["feature", "with", "Pearson", "Spearman"], &rows, None)
    ));
}

fn hypotheses_section(page: &mut Page, e: &Exploration) {
    let mut html = format!(
        "<p>Questions an analyst would ask of this traffic, each tested in the direction it claims, p-values adjusted over all of them (significance level {}).</p><ul class=\"hypotheses\">",
        e.alpha
    );
    for h in &e.hypotheses {
        let (class, word) = match h.verdict {
            Verdict::Supported => ("supported", "supported"),
            Verdict::Contradicted => ("contradicted", "contradicted"),
            Verdict::NotSignificant => ("not_significant", "not significant"),
            Verdict::NotTestable => ("not_testable", "not testable"),
        };
        let _ = write!(
            html,
            r#"<li><span class="verdict {class}">{word}</span> <b>{}</b><br>{}<br><span class="detail">{} · {}{}</span></li>"#,
            escape(h.statement),
            escape(&h.conclusion),
            escape(&h.groups),
            escape(&h.observed),
            h.test.as_ref().map_or(String::new(), |t| format!(
                " · {} adjusted p {}",
                escape(t.test.label()),
                escape(&t.p_adjusted.text)
            ))
        );
    }
    html.push_str("</ul>");
    if let Some(note) = &e.hypotheses_note {
        let _ = write!(html, "<p class=\"detail\">{}</p>", escape(note));
    }
    page.section("hypotheses", "Hypotheses").html = html;
}

fn models_section(page: &mut Page, m: &ModelSection) {
    let best = m.best().map(|b| b.kind);
    let rows: Vec<Vec<String>> = m
        .results
        .iter()
        .map(|r| {
            let s = &r.holdout;
            vec![
                escape(r.kind.name()),
                metric(s.accuracy),
                metric(s.precision),
                metric(s.recall),
                metric(s.f1),
                s.roc_auc.map_or("–".into(), metric),
                r.average_precision.map_or("–".into(), metric),
                r.cv_f1.map_or("–".into(), |cv| {
                    format!("{} (± {:.4})", metric(cv.mean), cv.std)
                }),
                format!("{:.3}", r.threshold),
                r.fit_seconds.map_or("–".into(), |v| format!("{v:.2}")),
                r.predict_seconds.map_or("–".into(), |v| format!("{v:.3}")),
            ]
        })
        .collect();
    let highlight = m.results.iter().position(|r| Some(r.kind) == best);
    let html = format!(
        "<p>The models in <code>{}</code>, measured on {}. Each threshold was chosen on training data only (out-of-fold scores of {}-fold cross-validation, or fixed by the model), and the best model is the one with the best CV F1; no fit, threshold or pick used the held-out rows.{} CV F1 is the mean (± sd) over the folds of the training rows, each fold scored at 0.5 or at the threshold the model fixes itself, not at the threshold in the table. Balanced accuracy (the mean of the two classes' recalls) and MCC do not reward a model for the classes' proportions, as accuracy does on a file of mostly attacks.</p>{}<p>{} Times are from the training run (fit: seconds for the final fit; predict: seconds to score the {} held-out rows).</p>",
        escape(&m.dir),
        escape(&m.held_out),
        m.folds,
        defaults_seen_on_the_split(m),
        table(
            &[
                "model",
                "accuracy",
                "precision",
                "recall",
                "F1",
                "ROC-AUC",
                "PR-AUC",
                "CV F1 (± sd)",
                "threshold",
                "fit s",
                "predict s"
            ],
            &rows,
            highlight
        ),
        escape(&figures::best_model_sentence(m)),
        grouped(m.test_rows)
    );
    page.section("models", "Supervised models").html = html;
    let unflattering: Vec<Vec<String>> = m
        .results
        .iter()
        .map(|r| {
            let c = &r.holdout.confusion;
            vec![
                escape(r.kind.name()),
                metric(r.holdout.accuracy),
                metric(c.balanced_accuracy()),
                metric(c.mcc()),
            ]
        })
        .collect();
    page.push(&table(
        &["model", "accuracy", "balanced accuracy", "MCC"],
        &unflattering,
        highlight,
    ));
    for figure in figures::model_figures(m) {
        page.push_figure(&figure);
    }
    let rows: Vec<Vec<String>> = m
        .results
        .iter()
        .map(|r| {
            vec![
                escape(r.kind.name()),
                text(&r.description),
                text(&r.threshold_rule),
            ]
        })
        .collect();
    page.push(&format!(
        "<details><summary>What each model is and how its threshold was chosen</summary>{}</details>",
        table(&["model", "description", "threshold rule"], &rows, None)
    ));
    families_table(page, m);
}

/// The best model's attack-family model on the held-out rows: per family precision, recall,
/// F1 and support, the macro F1, and the confusion matrix.
fn families_table(page: &mut Page, m: &ModelSection) {
    let Some((kind, families)) = m.best().and_then(|b| Some((b.kind, b.families.as_ref()?))) else {
        return;
    };
    let report = &families.holdout;
    let rows: Vec<Vec<String>> = report
        .classes
        .iter()
        .map(|c| {
            vec![
                escape(&c.class),
                metric(c.precision),
                metric(c.recall),
                metric(c.f1),
                grouped(c.support as usize),
            ]
        })
        .collect();
    let mut header = vec!["true family (rows) by predicted (columns)".to_string()];
    header.extend(report.classes.iter().map(|c| escape(&c.class)));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let confusion: Vec<Vec<String>> = report
        .classes
        .iter()
        .zip(&report.confusion)
        .map(|(c, row)| {
            std::iter::once(escape(&c.class))
                .chain(row.iter().map(|&n| grouped(n as usize)))
                .collect()
        })
        .collect();
    page.push(&format!(
        "<h3>Attack families</h3><p>The family model of {} ({}), fitted on the training rows, on the held-out rows: macro F1 {}, accuracy {}.</p>{}<details><summary>Confusion matrix of the families</summary>{}</details>",
        escape(kind.name()),
        text(&families.description),
        metric(report.macro_f1),
        metric(report.accuracy),
        table(&["family", "precision", "recall", "F1", "support"], &rows, None),
        table(&header, &confusion, None)
    ));
}

/// Names the models whose default settings were chosen with the full file's seed-42 70/30
/// split in view, so their rows there are slightly optimistic (README: "What honest means").
/// Only NSL-KDD's: no default was chosen on another data set.
fn defaults_seen_on_the_split(m: &ModelSection) -> String {
    if m.schema != "nsl-kdd" {
        return String::new();
    }
    let seen = [
        (
            ModelKind::KernelSvm,
            "the kernel SVM's default gamma and components were compared on it",
        ),
        (
            ModelKind::Hybrid,
            "the hybrid's design and default operating point (target_fpr) were chosen with its accuracy on it in view",
        ),
    ];
    let present: Vec<&str> = seen
        .iter()
        .filter(|(kind, _)| m.results.iter().any(|r| r.kind == *kind))
        .map(|(_, why)| *why)
        .collect();
    if present.is_empty() {
        return String::new();
    }
    format!(
        " Some defaults were chosen while looking at the held-out 30 % of the full NSL-KDD training file (the default split, seed 42): {}; on that split their rows are slightly optimistic.",
        present.join("; ")
    )
}

fn grid_table(c: &ClusterReport) -> String {
    let Some(grid) = &c.grid else {
        return String::new();
    };
    let rows: Vec<Vec<String>> = grid
        .rows
        .iter()
        .map(|r| {
            vec![
                format!("{:.3}", r.eps),
                r.knee_multiple.map_or("–".into(), |k| format!("{k}×")),
                r.min_samples.to_string(),
                grouped(r.clusters),
                share(r.noise_share),
                r.silhouette.map_or("–".into(), |s| format!("{s:.3}")),
            ]
        })
        .collect();
    format!(
        "<details><summary>The searched eps × min_samples grid ({} cells; the chosen one highlighted)</summary>{}</details>",
        rows.len(),
        table(
            &[
                "eps",
                "knee ×",
                "min_samples",
                "clusters",
                "noise",
                "silhouette"
            ],
            &rows,
            grid.best
        )
    )
}

fn clusters_section(page: &mut Page, report: &Report) {
    let c = &report.clusters.run.report;
    page.section("clusters", "Clusters (PCA and DBSCAN)").html = format!(
        "<p>Without labels: PCA on the scaled, one-hot encoded features of all {} records, then DBSCAN on the kept components. Labels are used only afterwards, to say how the clusters line up with attacks.</p>",
        grouped(c.rows)
    );
    page.push_figure(&figures::pca_variance(c));
    page.push_figure(&figures::k_distance(c));
    page.push(&grid_table(c));
    page.push_figure(&figures::dbscan_scatter(&report.clusters));
    if let Some(a) = &c.agreement {
        let mut clusters: Vec<_> = a.clusters.iter().enumerate().collect();
        clusters.sort_by_key(|(_, m)| std::cmp::Reverse(m.size));
        let rows: Vec<Vec<String>> = clusters
            .iter()
            .take(12)
            .map(|(i, m)| {
                vec![
                    format!("cluster {}", i + 1),
                    grouped(m.size),
                    grouped(m.attacks),
                    share(m.attacks as f64 / m.size.max(1) as f64),
                ]
            })
            .collect();
        page.push(&format!(
            "<p>Purity {} (the share of clustered rows in their cluster's majority class); adjusted Rand index {:.3} over all rows, {:.3} over the clustered rows. The index is low whenever DBSCAN splits a class into many pure clusters, which is what it does here.</p><details><summary>The 12 largest clusters and their attack share</summary>{}</details>",
            share(a.purity),
            a.adjusted_rand,
            a.adjusted_rand_clustered,
            table(&["cluster", "rows", "attacks", "attack share"], &rows, None)
        ));
    }
}

fn anomalies_section(page: &mut Page, report: &Report) {
    let a = &report.anomalies;
    let note = if a.fitted_here {
        format!(
            r#"<p class="note">This isolation forest was {}.</p>"#,
            escape(&a.origin)
        )
    } else {
        format!("<p>The isolation forest is {}.</p>", escape(&a.origin))
    };
    page.section("anomalies", "Anomalies (isolation forest)")
        .html = format!(
        "<p>The isolation forest scores how easily a record is isolated by random splits: rare, odd records are isolated quickly and score high. It is measured on the same held-out rows as the supervised models.</p>{note}"
    );
    page.push_figure(&figures::anomaly_histogram(a));
    page.push_figure(&figures::anomaly_scatter(a));
}

fn method_section(page: &mut Page, report: &Report) {
    let m = &report.models;
    let o = &report.options;
    page.section("method", "How this report was made").html = format!(
        "<ul><li>Data: <code>{}</code>, sha256 <code>{}</code>.</li><li>Models: the model files and <code>metrics.json</code> in <code>{}</code> (seed {}, {}-fold cross-validation, {} training rows). Curves and confusion matrices come from scoring {}.</li><li>Clusters: <code>nadir cluster</code>'s protocol on every record (variance target {}, silhouette seed {}).</li><li>Scatter plots draw a sample of at most {} points chosen by a shuffle seeded with {}, so the same inputs give the same page.</li><li>Built in {:.1} s: {}.</li></ul>",
        escape(&report.exploration.source),
        escape(&report.exploration.sha256),
        escape(&m.dir),
        m.seed,
        m.folds,
        grouped(m.train_rows),
        escape(&m.held_out),
        o.cluster.pca.variance,
        o.cluster.seed,
        grouped(o.max_points),
        o.seed,
        report.seconds,
        report
            .step_seconds
            .iter()
            .map(|(step, s)| format!("{step} {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
