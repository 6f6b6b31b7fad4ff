//! Data quality: invalid values per column, duplicate rows, constant columns and values that
//! pass validation but contradict the documentation.

use crate::Table;
use crate::summary::{FeatureSummary, SortedByClass};
use nadir_data::{Dataset, ErrorKind, Kind};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

/// A column is listed as near-constant when one value holds at least this share of the rows.
pub const NEAR_CONSTANT_SHARE: f64 = 0.999;

/// A count column's fractions are listed as suspicious only when at least this share of its
/// rows are whole numbers. The kind `count` covers counts proper (every NSL-KDD count column
/// is whole) as well as measured quantities (UNSW-NB15's `dur` in seconds, `rate` in packets
/// per second); only among whole numbers is a fraction out of place.
pub const WHOLE_COUNT_SHARE: f64 = NEAR_CONSTANT_SHARE;

/// Rows listed per suspicious value, so a reader can look them up.
const EXAMPLE_LINES: usize = 10;

/// The health of the data set.
#[derive(Debug, Clone, Serialize)]
pub struct DataQuality {
    /// Valid rows read.
    pub rows: usize,
    /// Rows left out because they failed validation (read with `skip_invalid`).
    pub skipped_rows: usize,
    /// Of those, rows with the wrong number of columns or malformed CSV.
    pub malformed_rows: usize,
    /// Invalid values per column, counted over the skipped rows: every feature of the schema,
    /// then its label column (`attack`, `attack_cat`) and, where the schema has one, its 0/1
    /// label column.
    pub invalid_values: Vec<ColumnIssues>,
    /// How `invalid_values` was obtained, for the reader of the report.
    pub invalid_values_note: String,
    pub duplicates: Duplicates,
    /// Features with a single value in every row: they carry no information.
    pub constant_columns: Vec<String>,
    /// Features where one value fills at least [`NEAR_CONSTANT_SHARE`] of the rows.
    pub near_constant: Vec<NearConstant>,
    /// Valid values that contradict the documentation.
    pub suspicious: Vec<SuspiciousValue>,
}

/// Invalid values of one column, by what is wrong with them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnIssues {
    pub column: String,
    pub missing: usize,
    pub not_a_number: usize,
    pub not_finite: usize,
    pub negative: usize,
    pub rate_out_of_range: usize,
    /// Problems only typed input (JSON) can have (a wrong type, a feature given twice) and
    /// those of a 0/1 label column (not 0 or 1, or disagreeing with the label column).
    pub other: usize,
    pub total: usize,
}

/// Repeated rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duplicates {
    /// Rows whose features (all of the schema's) equal an earlier row's.
    pub feature_rows: usize,
    /// Rows whose features and label equal an earlier row's.
    pub labelled_rows: usize,
    /// Groups of identical feature rows that hold both normal and attack labels: no model
    /// can classify all of their rows correctly.
    pub conflicting_groups: usize,
    /// Rows in those groups.
    pub conflicting_rows: usize,
}

/// A feature dominated by one value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearConstant {
    pub column: String,
    pub value: String,
    pub share: f64,
}

/// A valid value that its feature's kind rules out: not 0 or 1 in an indicator, a fraction in
/// a count column of whole numbers (see [`WHOLE_COUNT_SHARE`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspiciousValue {
    pub column: String,
    /// `count` or `indicator`.
    pub kind: &'static str,
    /// What the kind says.
    pub rule: &'static str,
    pub value: f64,
    pub rows: usize,
    pub normal_rows: usize,
    pub attack_rows: usize,
    /// The labels of those rows with their row counts, most frequent first.
    pub labels: Vec<(String, usize)>,
    /// The first lines (1-based, in the file) holding the value.
    pub lines: Vec<u64>,
}

pub(crate) fn assess(
    data: &Dataset,
    table: &Table,
    features: &[FeatureSummary],
    columns: &[SortedByClass],
) -> DataQuality {
    let (invalid_values, malformed_rows) = invalid_per_column(data);
    let mut constant_columns: Vec<String> = features
        .iter()
        .filter(|f| f.all.min == f.all.max)
        .map(|f| f.feature.clone())
        .collect();
    let mut near_constant = Vec::new();
    for (feature, column) in features.iter().zip(columns) {
        let share = column.mode_rows as f64 / table.rows as f64;
        if (NEAR_CONSTANT_SHARE..1.0).contains(&share) {
            near_constant.push(NearConstant {
                column: feature.feature.clone(),
                value: column.mode.to_string(),
                share,
            });
        }
    }
    for (c, name) in data.schema.categorical_names().into_iter().enumerate() {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for record in &data.records {
            *counts.entry(&record.categorical[c]).or_default() += 1;
        }
        let Some((value, rows)) = counts.iter().max_by_key(|(_, n)| **n) else {
            continue;
        };
        let share = *rows as f64 / table.rows as f64;
        if counts.len() == 1 {
            constant_columns.push(name.to_string());
        } else if share >= NEAR_CONSTANT_SHARE {
            near_constant.push(NearConstant {
                column: name.to_string(),
                value: value.to_string(),
                share,
            });
        }
    }
    DataQuality {
        rows: table.rows,
        skipped_rows: data.skipped.len(),
        malformed_rows,
        invalid_values,
        invalid_values_note: "counted over the rows skipped as invalid when the file is read with \
            --skip-invalid; without it the first invalid row stops the read, so a file that \
            reads at all has none"
            .to_string(),
        duplicates: duplicates(table),
        constant_columns,
        near_constant,
        suspicious: suspicious_values(table),
    }
}

fn invalid_per_column(data: &Dataset) -> (Vec<ColumnIssues>, usize) {
    let schema = &data.schema;
    let label = schema.label();
    let mut columns: Vec<ColumnIssues> = schema
        .features()
        .map(|f| f.name.as_str())
        .chain([label.column.as_str()])
        .chain(label.binary.as_deref())
        .map(|name| ColumnIssues {
            column: name.to_string(),
            ..ColumnIssues::default()
        })
        .collect();
    for (field, kind, count) in data.skipped.by_field_and_kind() {
        let Some(column) = columns.iter_mut().find(|c| c.column == field) else {
            continue;
        };
        let counter = match kind {
            ErrorKind::Missing => &mut column.missing,
            ErrorKind::NotANumber => &mut column.not_a_number,
            ErrorKind::NotFinite => &mut column.not_finite,
            ErrorKind::Negative => &mut column.negative,
            ErrorKind::RateOutOfRange => &mut column.rate_out_of_range,
            _ => &mut column.other,
        };
        *counter += count;
        column.total += count;
    }
    let malformed = ErrorKind::ALL
        .into_iter()
        .filter(|kind| kind.whole_record())
        .map(|kind| data.skipped.count_of(kind))
        .sum();
    (columns, malformed)
}

/// Groups identical rows by sorting a fingerprint of each row and comparing the rows whose
/// fingerprints are equal: cheaper than hashing whole rows into a map.
fn duplicates(table: &Table) -> Duplicates {
    let records = &table.data.records;
    let fingerprints: Vec<u64> = records
        .par_iter()
        .map(|record| {
            let mut hasher = DefaultHasher::new();
            for value in &record.numeric {
                // `+ 0.0` folds −0 into 0, which compare equal as values.
                (value + 0.0).to_bits().hash(&mut hasher);
            }
            record.categorical.hash(&mut hasher);
            hasher.finish()
        })
        .collect();
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.par_sort_unstable_by_key(|&i| fingerprints[i]);
    let mut found = Duplicates {
        feature_rows: 0,
        labelled_rows: 0,
        conflicting_groups: 0,
        conflicting_rows: 0,
    };
    for run in order.chunk_by(|&a, &b| fingerprints[a] == fingerprints[b]) {
        if run.len() < 2 {
            continue;
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &row in run {
            match groups.iter_mut().find(|g| records[g[0]] == records[row]) {
                Some(group) => group.push(row),
                None => groups.push(vec![row]),
            }
        }
        for group in groups.iter().filter(|g| g.len() > 1) {
            let labels: HashSet<&str> = group.iter().map(|&r| table.attacks[r].as_str()).collect();
            found.feature_rows += group.len() - 1;
            found.labelled_rows += group.len() - labels.len();
            let attacks = group.iter().filter(|&&r| table.is_attack[r]).count();
            if attacks > 0 && attacks < group.len() {
                found.conflicting_groups += 1;
                found.conflicting_rows += group.len();
            }
        }
    }
    found
}

fn suspicious_values(table: &Table) -> Vec<SuspiciousValue> {
    let mut found: Vec<SuspiciousValue> = Vec::new();
    for (c, feature) in table.schema().numeric().enumerate() {
        let rule = match feature.kind {
            Kind::Indicator => "a 0/1 indicator",
            Kind::Count => {
                let whole = table.numeric[c].iter().filter(|v| v.fract() == 0.0).count();
                if (whole as f64) < WHOLE_COUNT_SHARE * table.rows as f64 {
                    continue;
                }
                "an integer count"
            }
            Kind::Rate | Kind::Continuous | Kind::Categorical => continue,
        };
        let breaks_rule = |v: f64| match feature.kind {
            Kind::Indicator => v != 0.0 && v != 1.0,
            _ => v.fract() != 0.0,
        };
        let mut by_value: Vec<(f64, Vec<usize>)> = Vec::new();
        for (row, value) in table.numeric[c].iter().enumerate() {
            if !breaks_rule(*value) {
                continue;
            }
            match by_value.iter_mut().find(|(v, _)| v == value) {
                Some((_, rows)) => rows.push(row),
                None => by_value.push((*value, vec![row])),
            }
        }
        by_value.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (value, rows) in by_value {
            let mut labels: HashMap<&str, usize> = HashMap::new();
            for &row in &rows {
                *labels.entry(&table.attacks[row]).or_default() += 1;
            }
            let mut labels: Vec<(String, usize)> = labels
                .into_iter()
                .map(|(l, n)| (l.to_string(), n))
                .collect();
            labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let attack_rows = rows.iter().filter(|&&r| table.is_attack[r]).count();
            found.push(SuspiciousValue {
                column: feature.name.clone(),
                kind: feature.kind.name(),
                rule,
                value,
                rows: rows.len(),
                normal_rows: rows.len() - attack_rows,
                attack_rows,
                labels,
                lines: rows
                    .iter()
                    .take(EXAMPLE_LINES)
                    .map(|&r| table.data.lines[r])
                    .collect(),
            });
        }
    }
    found
}
