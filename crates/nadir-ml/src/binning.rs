//! Histogram binning shared by every tree model (decision tree, random forest, bagging,
//! gradient boosting).
//!
//! Trees find splits on small integer bins instead of sorted floats, as LightGBM and
//! scikit-learn's `HistGradientBoosting` do: a node's best split costs one pass over its rows
//! per feature. Numeric features get up to 255 bins cut at midpoints between training values;
//! each categorical feature is one column of category codes, split as `code == c` against the
//! rest, which is exactly the set of splits a tree has on one-hot columns at a seventieth of
//! the cost. Fitted trees keep raw thresholds ([`SplitRule`]), so prediction needs no binning.

use nadir_data::{Encoded, UNSEEN};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Number of tree columns of encoded data: the numeric features, then one per categorical
/// feature.
pub fn tree_columns(data: &Encoded) -> usize {
    data.num_numeric() + data.num_categorical()
}

/// Bins per column at most (bins are `u8`).
pub const MAX_BINS: usize = 256;
/// The bin of categories without a bin of their own: unseen values, and codes ≥ 255.
const OTHER_CATEGORY_BIN: u8 = 255;

/// Bin boundaries learnt from training data.
#[derive(Debug, Clone, PartialEq)]
pub struct Binner {
    /// Per numeric feature, ascending thresholds: bin `b` holds `t[b-1] < v <= t[b]`.
    thresholds: Vec<Vec<f64>>,
    /// Categorical features, one tree column each after the numeric ones.
    categorical: usize,
}

/// Encoded rows as bins, column-major (`bins[column][row]`).
#[derive(Debug, Clone)]
pub struct BinnedData {
    pub rows: usize,
    pub bins: Vec<Vec<u8>>,
    /// Bins in use per column.
    pub n_bins: Vec<usize>,
    /// Numeric columns, which come first.
    pub numeric: usize,
}

impl BinnedData {
    /// Whether column `c` is categorical (split by equality) rather than numeric (by order).
    pub fn is_categorical(&self, column: usize) -> bool {
        column >= self.numeric
    }

    /// Tree columns: numeric, then categorical.
    pub fn columns(&self) -> usize {
        self.bins.len()
    }
}

/// A fitted split on raw values: rows for which it holds go to the left child.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SplitRule {
    /// `numeric[feature] <= threshold`
    AtMost { feature: u8, threshold: f64 },
    /// `codes[feature] == code`
    CategoryIs { feature: u8, code: u32 },
}

impl SplitRule {
    pub fn goes_left(&self, data: &Encoded, row: usize) -> bool {
        match *self {
            SplitRule::AtMost { feature, threshold } => {
                data.numeric[row][feature as usize] <= threshold
            }
            SplitRule::CategoryIs { feature, code } => data.codes[row][feature as usize] == code,
        }
    }

    /// The tree column this rule tests (for feature importances), in data with `numeric`
    /// numeric columns.
    pub fn column(&self, numeric: usize) -> usize {
        match *self {
            SplitRule::AtMost { feature, .. } => feature as usize,
            SplitRule::CategoryIs { feature, .. } => numeric + feature as usize,
        }
    }
}

impl Binner {
    pub fn fit(data: &Encoded) -> Binner {
        Binner::fit_columns(
            &numeric_columns(data, 0..data.len()),
            data.num_categorical(),
        )
    }

    /// The binner of the rows `rows` of `data` and those rows binned: what `fit` and
    /// `transform` give on `data.select(rows)`, without that copy, reading every row once.
    pub fn fit_transform(data: &Encoded, rows: &[usize]) -> (Binner, BinnedData) {
        let columns = numeric_columns(data, rows.iter().copied());
        let binner = Binner::fit_columns(&columns, data.num_categorical());
        let binned = binner.bin(&columns, data, rows.iter().copied());
        (binner, binned)
    }

    /// Cut points per numeric column, from its training values.
    fn fit_columns(columns: &[Vec<f64>], categorical: usize) -> Binner {
        let thresholds = columns
            .par_iter()
            .map(|values| cut_points(&sorted_distinct(values)))
            .collect();
        Binner {
            thresholds,
            categorical,
        }
    }

    /// Tree columns: numeric, then categorical.
    pub fn columns(&self) -> usize {
        self.thresholds.len() + self.categorical
    }

    pub fn transform(&self, data: &Encoded) -> BinnedData {
        let rows = 0..data.len();
        self.bin(&numeric_columns(data, rows.clone()), data, rows)
    }

    /// The rows `rows` of `data` binned: `transform` of `data.select(rows)`, without that copy.
    pub fn transform_rows(&self, data: &Encoded, rows: &[usize]) -> BinnedData {
        let rows = rows.iter().copied();
        self.bin(&numeric_columns(data, rows.clone()), data, rows)
    }

    /// Bins the rows `rows` of `data`, whose numeric values by column are `columns`.
    fn bin(
        &self,
        columns: &[Vec<f64>],
        data: &Encoded,
        rows: impl Iterator<Item = usize> + Clone + Sync,
    ) -> BinnedData {
        let numeric = self.thresholds.len();
        let bins = (0..self.columns())
            .into_par_iter()
            .map(|column| match self.thresholds.get(column) {
                Some(t) => columns[column]
                    .iter()
                    .map(|&v| t.partition_point(|&x| x < v) as u8)
                    .collect(),
                None => rows
                    .clone()
                    .map(|r| category_bin(data.codes[r][column - numeric]))
                    .collect(),
            })
            .collect();
        let n_bins = (0..self.columns())
            .map(|column| {
                self.thresholds
                    .get(column)
                    .map_or(MAX_BINS, |t| t.len() + 1)
            })
            .collect();
        BinnedData {
            rows: columns.first().map_or_else(|| rows.count(), Vec::len),
            bins,
            n_bins,
            numeric,
        }
    }

    /// The raw rule for "bin ≤ `bin`" on a numeric column, or "bin == `bin`" on a categorical
    /// one. `None` for the catch-all category bin, which has no single code.
    pub fn split_rule(&self, column: usize, bin: u8) -> Option<SplitRule> {
        let numeric = self.thresholds.len();
        if column < numeric {
            let t = &self.thresholds[column];
            let threshold = t.get(bin as usize).copied().unwrap_or(f64::INFINITY);
            Some(SplitRule::AtMost {
                feature: column as u8,
                threshold,
            })
        } else if bin == OTHER_CATEGORY_BIN {
            None
        } else {
            Some(SplitRule::CategoryIs {
                feature: (column - numeric) as u8,
                code: bin as u32,
            })
        }
    }
}

/// The numeric values of `rows` by column, read row by row: one pass over the row-major
/// values, where gathering each column on its own would read every row once per column.
fn numeric_columns(data: &Encoded, rows: impl ExactSizeIterator<Item = usize>) -> Vec<Vec<f64>> {
    let mut columns = vec![Vec::with_capacity(rows.len()); data.num_numeric()];
    for r in rows {
        for (column, &v) in columns.iter_mut().zip(&data.numeric[r]) {
            column.push(v);
        }
    }
    columns
}

/// `values` ordered by [`f64::total_cmp`] without consecutive equal values, as
/// `sort_by(f64::total_cmp)` then `dedup()` give them: a radix sort on the values' bits,
/// mapped to integers that order as `total_cmp` does, a byte per pass, skipping the bytes all
/// values share (most of a count's). Several times faster than comparison sorting the tens
/// of thousands of values of a column.
fn sorted_distinct(values: &[f64]) -> Vec<f64> {
    const SIGN: u64 = 1 << 63;
    let key = |v: f64| {
        let bits = v.to_bits();
        if bits & SIGN == 0 { bits | SIGN } else { !bits }
    };
    let mut keys: Vec<u64> = values.iter().map(|&v| key(v)).collect();
    let mut counts = [[0usize; 256]; 8];
    for &k in &keys {
        for (byte, counts) in counts.iter_mut().enumerate() {
            counts[(k >> (8 * byte)) as usize & 0xff] += 1;
        }
    }
    let mut sorted = vec![0; keys.len()];
    for (byte, counts) in counts.iter().enumerate() {
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut start = 0;
        for (next, &count) in next.iter_mut().zip(counts) {
            *next = start;
            start += count;
        }
        for &k in &keys {
            let slot = &mut next[(k >> (8 * byte)) as usize & 0xff];
            sorted[*slot] = k;
            *slot += 1;
        }
        std::mem::swap(&mut keys, &mut sorted);
    }
    let mut distinct: Vec<f64> = keys
        .into_iter()
        .map(|k| f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k }))
        .collect();
    distinct.dedup();
    distinct
}

fn category_bin(code: u32) -> u8 {
    if code == UNSEEN || code >= OTHER_CATEGORY_BIN as u32 {
        OTHER_CATEGORY_BIN
    } else {
        code as u8
    }
}

/// Thresholds for sorted distinct values: midpoints between neighbours when there are few
/// enough, else midpoints at evenly spaced quantiles of the distinct values.
fn cut_points(distinct: &[f64]) -> Vec<f64> {
    let midpoint = |i: usize| distinct[i] + (distinct[i + 1] - distinct[i]) / 2.0;
    if distinct.len() < MAX_BINS {
        return (0..distinct.len().saturating_sub(1))
            .map(midpoint)
            .collect();
    }
    let cuts = MAX_BINS - 2;
    let mut t: Vec<f64> = (1..=cuts)
        .map(|k| midpoint(k * (distinct.len() - 1) / (cuts + 1)))
        .collect();
    t.dedup();
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{NSL_NUMERIC, nsl_pipeline};
    use nadir_data::{FeaturePipeline, Record};

    fn encoded(values: &[f64], services: &[&str]) -> (FeaturePipeline, Encoded) {
        let records: Vec<Record> = values
            .iter()
            .zip(services)
            .map(|(&v, s)| {
                let mut numeric = vec![0.0; NSL_NUMERIC];
                numeric[1] = v;
                Record {
                    numeric,
                    categorical: ["tcp", s, "SF"].map(String::from).to_vec(),
                }
            })
            .collect();
        let p = nsl_pipeline(&records);
        let e = p.encode(&records);
        (p, e)
    }

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let (_, e) = encoded(&[5.0, 1.0, 3.0, 3.0], &["a", "a", "b", "c"]);
        let binner = Binner::fit(&e);
        let b = binner.transform(&e);
        assert_eq!(b.bins[1], [2, 0, 1, 1]);
        assert_eq!(b.n_bins[1], 3);
        // A rule from a bin split sends exactly the rows of bins ≤ b left.
        let rule = binner.split_rule(1, 0).unwrap();
        let left: Vec<bool> = (0..4).map(|r| rule.goes_left(&e, r)).collect();
        assert_eq!(left, [false, true, false, false]);
    }

    #[test]
    fn many_distinct_values_fit_in_255_ordered_bins() {
        let values: Vec<f64> = (0..10_000).map(|i| (i * 7919 % 10_000) as f64).collect();
        let services = vec!["x"; values.len()];
        let (_, e) = encoded(&values, &services);
        let binner = Binner::fit(&e);
        let b = binner.transform(&e);
        assert!(b.n_bins[1] <= MAX_BINS);
        for r in 0..values.len() {
            for s in 0..values.len().min(50) {
                if values[r] < values[s] {
                    assert!(b.bins[1][r] <= b.bins[1][s]);
                }
            }
        }
    }

    #[test]
    fn sorted_distinct_is_a_comparison_sort_without_repeats() {
        let mut rng = nadir_data::Rng::new(7);
        let mut values: Vec<f64> = (0..5000)
            .map(|_| match rng.next_f64() {
                u if u < 0.3 => (u * 100.0).round(),
                u if u < 0.6 => -(u * 1e6).round(),
                u => u * 1e-310 - 1e-308 * rng.next_f64(),
            })
            .collect();
        values.extend([
            0.0,
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::NAN,
        ]);
        let mut expected = values.clone();
        expected.sort_by(f64::total_cmp);
        expected.dedup();
        let got = sorted_distinct(&values);
        assert_eq!(got.len(), expected.len());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
    }

    #[test]
    fn fit_transform_of_some_rows_is_fit_and_transform_of_those_rows() {
        let values: Vec<f64> = (0..3000)
            .map(|i| ((i * 7919) % 3001) as f64 / 7.0)
            .collect();
        let services: Vec<&str> = (0..3000).map(|i| ["a", "b", "c"][i % 3]).collect();
        let (_, e) = encoded(&values, &services);
        let rows: Vec<usize> = (0..3000).filter(|i| i % 4 != 1).rev().collect();
        let (binner, binned) = Binner::fit_transform(&e, &rows);
        let selected = e.select(&rows);
        let expected = Binner::fit(&selected);
        assert_eq!(binner, expected);
        assert_eq!(binned.bins, expected.transform(&selected).bins);
        assert_eq!(binner.transform_rows(&e, &rows).bins, binned.bins);
    }

    #[test]
    fn categorical_rule_matches_one_code_and_not_unseen() {
        let (p, e) = encoded(&[0.0, 0.0], &["http", "ftp"]);
        let binner = Binner::fit(&e);
        let rule = binner.split_rule(NSL_NUMERIC + 1, 0).unwrap();
        let record = |s: &str| Record {
            numeric: vec![0.0; NSL_NUMERIC],
            categorical: ["tcp", s, "SF"].map(String::from).to_vec(),
        };
        let new = p.encode(&[record("ftp"), record("http"), record("gopher")]);
        let left: Vec<bool> = (0..3).map(|r| rule.goes_left(&new, r)).collect();
        assert_eq!(left, [true, false, false]);
        assert_eq!(binner.transform(&new).bins[NSL_NUMERIC + 1][2], 255);
    }
}
