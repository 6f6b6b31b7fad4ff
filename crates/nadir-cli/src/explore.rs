//! `nadir explore`: reads the data, calls `nadir_explore::explore` and prints the result as
//! readable sections or as JSON.

use crate::{DataArgs, ReportFormat, load_data};
use anyhow::Result;
use clap::Args;
use nadir_data::DataError;
use nadir_explore::{Exploration, PValue, TestResult};
use nadir_traffic::{TrafficError, zeek::ZeekError};
use std::io::{self, Write};

/// Rows of each ranked list shown by `--format table` (JSON holds them all).
const TOP: usize = 15;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    nadir explore\n  \
    nadir explore --data KDDTrain+.txt --skip-invalid --format json > exploration.json")]
pub struct ExploreArgs {
    #[command(flatten)]
    data: DataArgs,
    /// `table`: readable sections with the top of each ranked list; `json`: the whole result.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

pub fn run(args: ExploreArgs) -> Result<()> {
    let data = load_data(&args.data).map_err(|error| {
        if !args.data.skip_invalid && stopped_at_an_invalid_row(&error) {
            error.context(
                "reading the data stopped at an invalid row (with --skip-invalid, invalid rows are skipped and counted per column instead)",
            )
        } else {
            error
        }
    })?;
    let exploration = nadir_explore::explore(&data)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&exploration)?)?,
        ReportFormat::Table => table(&mut out, &exploration)?,
    }
    out.flush()?;
    Ok(())
}

/// Whether the read stopped at a bad row or line, the one failure `--skip-invalid` changes
/// (not a missing file, a directory or a header that fits no schema).
fn stopped_at_an_invalid_row(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<DataError>(),
            Some(DataError::InvalidRow { .. })
        ) || matches!(
            cause.downcast_ref::<TrafficError>(),
            Some(TrafficError::Zeek(ZeekError::BadLine { .. }))
        )
    })
}

fn percent(share: f64) -> String {
    format!("{:.2} %", 100.0 * share)
}

fn number(value: f64) -> String {
    if value == value.round() && value.abs() < 1e12 {
        format!("{value:.0}")
    } else if value.abs() >= 1000.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

fn heading(out: &mut impl Write, title: &str) -> io::Result<()> {
    writeln!(out, "\n== {title} ==")
}

fn table(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    writeln!(
        out,
        "data: {} ({} rows, sha256 {}…)",
        e.source,
        e.rows,
        &e.sha256[..12.min(e.sha256.len())]
    )?;
    quality(out, e)?;
    balance(out, e)?;
    features(out, e)?;
    categories(out, e)?;
    correlations(out, e)?;
    tests(out, e)?;
    hypotheses(out, e)
}

fn quality(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    let q = &e.quality;
    heading(out, "data quality")?;
    writeln!(out, "valid rows            {}", q.rows)?;
    writeln!(
        out,
        "skipped invalid rows  {} ({} malformed)",
        q.skipped_rows, q.malformed_rows
    )?;
    let bad: Vec<_> = q.invalid_values.iter().filter(|c| c.total > 0).collect();
    if bad.is_empty() {
        writeln!(
            out,
            "invalid values        none ({})",
            q.invalid_values_note
        )?;
    } else {
        writeln!(
            out,
            "invalid values per column ({}):\n  {:<24} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7}",
            q.invalid_values_note,
            "column",
            "missing",
            "not num",
            "not fin",
            "negative",
            "rate>1",
            "other",
            "total"
        )?;
        for c in bad {
            writeln!(
                out,
                "  {:<24} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7}",
                c.column,
                c.missing,
                c.not_a_number,
                c.not_finite,
                c.negative,
                c.rate_out_of_range,
                c.other,
                c.total
            )?;
        }
    }
    let d = &q.duplicates;
    writeln!(
        out,
        "duplicate rows        {} of the {} features; {} with the label too",
        d.feature_rows,
        e.features.len() + e.categories.len(),
        d.labelled_rows
    )?;
    writeln!(
        out,
        "conflicting labels    {} groups of identical features labelled both normal and attack ({} rows)",
        d.conflicting_groups, d.conflicting_rows
    )?;
    writeln!(
        out,
        "constant columns      {}",
        list_or_none(&q.constant_columns)
    )?;
    let near: Vec<String> = q
        .near_constant
        .iter()
        .map(|n| format!("{} ({} in {})", n.column, n.value, percent(n.share)))
        .collect();
    writeln!(out, "near-constant columns {}", list_or_none(&near))?;
    if q.suspicious.is_empty() {
        writeln!(out, "suspicious values     none")?;
    } else {
        writeln!(
            out,
            "suspicious values (valid, but the documentation rules them out):"
        )?;
        for s in &q.suspicious {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(label, n)| format!("{label} {n}"))
                .collect();
            let lines: Vec<String> = s.lines.iter().map(u64::to_string).collect();
            writeln!(
                out,
                "  {} = {} in {} rows ({} normal, {} attack: {}); documented as {}; lines {}",
                s.column,
                number(s.value),
                s.rows,
                s.normal_rows,
                s.attack_rows,
                labels.join(", "),
                s.rule,
                lines.join(", ")
            )?;
        }
    }
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn balance(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    let b = &e.balance;
    heading(out, "class balance")?;
    writeln!(
        out,
        "normal {} ({}), attack {} ({})",
        b.normal,
        percent(b.normal_share),
        b.attack,
        percent(b.attack_share)
    )?;
    let family_width = b
        .families
        .iter()
        .map(|f| f.family.len())
        .chain(b.attacks.iter().map(|a| a.family.len()))
        .max()
        .unwrap_or(0)
        .max("family".len());
    let name_width = b
        .attacks
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0)
        .max(18);
    writeln!(
        out,
        "\n{:<family_width$} {:>8} {:>9} {:>11}  attacks",
        "family", "rows", "of rows", "of attacks"
    )?;
    for f in &b.families {
        writeln!(
            out,
            "{:<family_width$} {:>8} {:>9} {:>11}  {}",
            f.family,
            f.rows,
            percent(f.share),
            percent(f.attack_share),
            f.attacks.join(", ")
        )?;
    }
    writeln!(
        out,
        "\n{:<name_width$} {:<family_width$} {:>8} {:>9}",
        "attack", "family", "rows", "of rows"
    )?;
    for a in &b.attacks {
        writeln!(
            out,
            "{:<name_width$} {:<family_width$} {:>8} {:>9}",
            a.name,
            a.family,
            a.rows,
            percent(a.share)
        )?;
    }
    Ok(())
}

fn features(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    heading(
        out,
        "numeric features by class (mean, quartiles, share of zeros)",
    )?;
    writeln!(
        out,
        "{:<24} | {:>11} {:>8} {:>8} {:>8} {:>6} | {:>11} {:>8} {:>8} {:>8} {:>6}",
        "feature",
        "normal mean",
        "q1",
        "median",
        "q3",
        "zeros",
        "attack mean",
        "q1",
        "median",
        "q3",
        "zeros"
    )?;
    for f in &e.features {
        let (n, a) = (&f.normal, &f.attack);
        writeln!(
            out,
            "{:<24} | {:>11} {:>8} {:>8} {:>8} {:>5.1}% | {:>11} {:>8} {:>8} {:>8} {:>5.1}%",
            f.feature,
            number(n.mean),
            number(n.q1),
            number(n.median),
            number(n.q3),
            100.0 * n.zero_share,
            number(a.mean),
            number(a.q1),
            number(a.median),
            number(a.q3),
            100.0 * a.zero_share
        )?;
    }
    Ok(())
}

fn categories(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    heading(out, "categorical features (most frequent values)")?;
    for c in &e.categories {
        writeln!(out, "{} ({} values)", c.feature, c.levels)?;
        for v in c.values.iter().take(TOP) {
            writeln!(
                out,
                "  {:<14} {:>8} rows {:>8} normal {:>8} attack {:>9} attacks",
                v.value,
                v.rows,
                v.normal,
                v.attack,
                percent(v.attack_share)
            )?;
        }
        if c.values.len() > TOP {
            writeln!(out, "  … and {} more", c.values.len() - TOP)?;
        }
    }
    Ok(())
}

fn correlations(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    let c = &e.correlations;
    heading(out, "most correlated numeric features")?;
    if !c.excluded.is_empty() {
        writeln!(out, "(constant, left out: {})", c.excluded.join(", "))?;
    }
    writeln!(
        out,
        "{:<24} {:<24} {:>8} {:>9}",
        "feature", "feature", "pearson", "spearman"
    )?;
    for p in c.top_pairs.iter().take(TOP) {
        writeln!(
            out,
            "{:<24} {:<24} {:>8.3} {:>9.3}",
            p.a, p.b, p.pearson, p.spearman
        )?;
    }
    Ok(())
}

fn p_adjusted(test: Option<&TestResult>) -> String {
    test.map_or("-".to_string(), |t| t.p_adjusted.to_string())
}

fn tests(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    heading(
        out,
        "features that separate attacks best (attack vs normal rows; p-values BH-adjusted)",
    )?;
    writeln!(
        out,
        "{:>4} {:<24} {:<11} {:>10} {:<10} {:>9} {:>10} {:>8} {:>10}  direction",
        "rank",
        "feature",
        "kind",
        "separation",
        "magnitude",
        "U p adj",
        "Hedges g",
        "t p adj",
        "χ² p adj"
    )?;
    for t in e.tests.iter().take(TOP) {
        writeln!(
            out,
            "{:>4} {:<24} {:<11} {:>10.3} {:<10} {:>9} {:>10} {:>8} {:>10}  {}",
            t.rank,
            t.feature,
            t.kind,
            t.separation,
            format!("{:?}", t.magnitude).to_lowercase(),
            p_adjusted(t.mann_whitney.as_ref()),
            t.welch
                .as_ref()
                .map_or("-".to_string(), |w| format!("{:.3}", w.effect_size)),
            p_adjusted(t.welch.as_ref()),
            p_adjusted(t.chi_square.as_ref()),
            t.direction
        )?;
    }
    writeln!(
        out,
        "separation: |rank-biserial r| (numeric) or Cramér's V (categorical); {} features in all, JSON lists every test",
        e.tests.len()
    )
}

fn hypotheses(out: &mut impl Write, e: &Exploration) -> io::Result<()> {
    heading(
        out,
        &format!(
            "hypotheses (one-sided where directional; α = {}, BH-adjusted over the hypotheses)",
            e.alpha
        ),
    )?;
    if let Some(note) = &e.hypotheses_note {
        writeln!(out, "{note}")?;
    }
    for (i, h) in e.hypotheses.iter().enumerate() {
        writeln!(out, "\n{}. {}", i + 1, h.statement)?;
        writeln!(out, "   compared: {}", h.groups)?;
        writeln!(out, "   observed: {}", h.observed)?;
        if let Some(t) = &h.test {
            writeln!(
                out,
                "   test:     {} ({}), statistic {}, {} = {:.3}, p {}, adjusted {}",
                t.test.label(),
                serde_plain(&t.alternative),
                number(t.statistic),
                t.effect_measure.label(),
                t.effect_size,
                t.p_value,
                t.p_adjusted
            )?;
        }
        writeln!(out, "   verdict:  {}", h.conclusion)?;
    }
    writeln!(
        out,
        "\n`{}`: the p-value underflows double precision. All p-values come from normal, t or \
         chi-square approximations, whose far tails only say \"far beyond any significance \
         level\"; the effect sizes say how much a difference matters.",
        PValue::new(0.0)
    )
}

/// The serde name of a unit enum value (`two-sided`, `not_significant`, …).
fn serde_plain(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
