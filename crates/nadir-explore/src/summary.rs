//! Per-feature summaries by class: location, spread and share of zeros of each numeric
//! feature, and the rows per class of each category value.

use crate::Table;
use crate::stats::mean_variance;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// One numeric feature, overall and per class.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    pub feature: String,
    /// The schema kind ([`Kind::name`](nadir_data::Kind::name)): `count`, `indicator`,
    /// `rate` or `continuous`.
    pub kind: &'static str,
    pub all: Summary,
    pub normal: Summary,
    pub attack: Summary,
}

/// Location and spread of one sample. Quartiles interpolate linearly between order statistics
/// (numpy's default), so they match `numpy.quantile`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub rows: usize,
    pub mean: f64,
    /// Standard deviation (n − 1).
    pub sd: f64,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
    /// Share of the rows whose value is exactly 0.
    pub zero_share: f64,
}

impl Summary {
    /// Summarises values sorted ascending; `None` when there are none.
    pub fn of_sorted(sorted: &[f64]) -> Option<Summary> {
        let (first, last) = (*sorted.first()?, *sorted.last()?);
        let (mean, variance) = mean_variance(sorted);
        let zeros = sorted.iter().filter(|v| **v == 0.0).count();
        Some(Summary {
            rows: sorted.len(),
            mean,
            sd: variance.sqrt(),
            min: first,
            q1: quantile(sorted, 0.25),
            median: quantile(sorted, 0.5),
            q3: quantile(sorted, 0.75),
            max: last,
            zero_share: zeros as f64 / sorted.len() as f64,
        })
    }
}

/// The `q` quantile of a non-empty sorted sample by linear interpolation.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

/// One numeric column split by class, each part sorted ascending, with its most frequent
/// value.
pub(crate) struct SortedByClass {
    pub normal: Vec<f64>,
    pub attack: Vec<f64>,
    pub mode: f64,
    pub mode_rows: usize,
}

/// The numeric features' summaries, and their columns sorted by class for the rank tests.
pub(crate) fn numeric_summaries(table: &Table) -> (Vec<FeatureSummary>, Vec<SortedByClass>) {
    let features: Vec<_> = table.schema().numeric().collect();
    table
        .numeric
        .par_iter()
        .enumerate()
        .map(|(c, column)| {
            let mut normal = Vec::with_capacity(column.len());
            let mut attack = Vec::with_capacity(column.len());
            for (value, is_attack) in column.iter().zip(&table.is_attack) {
                if *is_attack {
                    attack.push(*value);
                } else {
                    normal.push(*value);
                }
            }
            normal.sort_unstable_by(f64::total_cmp);
            attack.sort_unstable_by(f64::total_cmp);
            let all = merge_sorted(&normal, &attack);
            let summary = FeatureSummary {
                feature: features[c].name.clone(),
                kind: features[c].kind.name(),
                all: Summary::of_sorted(&all).expect("the table has rows"),
                normal: Summary::of_sorted(&normal).expect("both classes are present"),
                attack: Summary::of_sorted(&attack).expect("both classes are present"),
            };
            let (mode, mode_rows) = all
                .chunk_by(|a, b| a == b)
                .map(|run| (run[0], run.len()))
                .max_by_key(|(_, n)| *n)
                .expect("the table has rows");
            let columns = SortedByClass {
                normal,
                attack,
                mode,
                mode_rows,
            };
            (summary, columns)
        })
        .unzip()
}

fn merge_sorted(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            merged.push(a[i]);
            i += 1;
        } else {
            merged.push(b[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    merged
}

/// One categorical feature: every value seen, most frequent first.
#[derive(Debug, Clone, Serialize)]
pub struct CategorySummary {
    pub feature: String,
    /// Distinct values seen.
    pub levels: usize,
    pub values: Vec<CategoryCount>,
}

/// Rows of one category value per class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryCount {
    pub value: String,
    pub rows: usize,
    pub normal: usize,
    pub attack: usize,
    /// attack / rows.
    pub attack_share: f64,
}

pub(crate) fn category_summaries(table: &Table) -> Vec<CategorySummary> {
    table
        .schema()
        .categorical_names()
        .into_iter()
        .enumerate()
        .map(|(c, name)| {
            let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
            for (record, is_attack) in table.data.records.iter().zip(&table.is_attack) {
                let entry = counts.entry(&record.categorical[c]).or_default();
                if *is_attack {
                    entry.1 += 1;
                } else {
                    entry.0 += 1;
                }
            }
            let mut values: Vec<CategoryCount> = counts
                .into_iter()
                .map(|(value, (normal, attack))| CategoryCount {
                    value: value.to_string(),
                    rows: normal + attack,
                    normal,
                    attack,
                    attack_share: attack as f64 / (normal + attack) as f64,
                })
                .collect();
            values.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.value.cmp(&b.value)));
            CategorySummary {
                feature: name.to_string(),
                levels: values.len(),
                values,
            }
        })
        .collect()
}
