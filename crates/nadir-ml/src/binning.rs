//! Histogram binning shared by every tree model (decision tree, random forest, bagging,
//! gradient boosting).
//!
//! Trees find splits on small integer bins instead of sorted floats, as LightGBM and
//! scikit-learn's `HistGradientBoosting` do: a node's best split costs one pass over its rows
//! per feature. Numeric features get up to 255 bins cut at midpoints between training values
//! (at quantiles of the rows or of the distinct values when there are more: [`Cuts`]);
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

/// Where a numeric column with more distinct training values than bins is cut (one with
/// fewer gets a bin per value either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cuts {
    /// At evenly spaced quantiles of its distinct values: each bin spans as many distinct
    /// values, however many rows hold them. Gradient boosting's, whose accuracy and speed
    /// were measured on these bins (row quantiles for it are untried).
    DistinctValues,
    /// At evenly spaced quantiles of its rows, as scikit-learn and LightGBM cut: each bin
    /// holds as many rows as ties allow, so splits are finest where the rows are dense. The
    /// decision tree's and the forests': value quantiles put most of a skewed column's rows
    /// in a few bins, which cost the tree 0.3 pt beside scikit-learn's exact splits on
    /// UNSW-NB15 without the TTL columns.
    Rows,
}

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
    pub fn fit(data: &Encoded, cuts: Cuts) -> Binner {
        Binner::fit_columns(
            &numeric_columns(data, 0..data.len()),
            data.num_categorical(),
            cuts,
        )
    }

    /// The binner of the rows `rows` of `data` and those rows binned: what `fit` and
    /// `transform` give on `data.select(rows)`, without that copy, reading every row once.
    pub fn fit_transform(data: &Encoded, rows: &[usize], cuts: Cuts) -> (Binner, BinnedData) {
        let columns = numeric_columns(data, rows.iter().copied());
        let binner = Binner::fit_columns(&columns, data.num_categorical(), cuts);
        let binned = binner.bin(&columns, data, rows.iter().copied());
        (binner, binned)
    }

    /// Cut points per numeric column, from its training values.
    fn fit_columns(columns: &[Vec<f64>], categorical: usize, cuts: Cuts) -> Binner {
        let thresholds = columns
            .par_iter()
            .map(|values| cut_points(&sorted(values), cuts))
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
/// The columns are shared out in one even slice per thread, each read in such a pass.
fn numeric_columns(
    data: &Encoded,
    rows: impl ExactSizeIterator<Item = usize> + Clone + Sync,
) -> Vec<Vec<f64>> {
    let mut columns: Vec<Vec<f64>> = (0..data.num_numeric())
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    let per_thread = columns.len().div_ceil(rayon::current_num_threads()).max(1);
    columns
        .par_chunks_mut(per_thread)
        .enumerate()
        .for_each(|(slice, columns)| {
            let first = slice * per_thread;
            for r in rows.clone() {
                for (column, &v) in columns.iter_mut().zip(&data.numeric[r][first..]) {
                    column.push(v);
                }
            }
        });
    columns
}

/// `values` ordered by [`f64::total_cmp`], as `sort_by(f64::total_cmp)` gives them: a radix
/// sort on the values' bits,
/// mapped to integers that order as `total_cmp` does, a byte per pass, skipping the bytes all
/// values share (most of a count's). Several times faster than comparison sorting the tens
/// of thousands of values of a column.
fn sorted(values: &[f64]) -> Vec<f64> {
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
    keys.into_iter()
        .map(|k| f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k }))
        .collect()
}

fn category_bin(code: u32) -> u8 {
    if code == UNSEEN || code >= OTHER_CATEGORY_BIN as u32 {
        OTHER_CATEGORY_BIN
    } else {
        code as u8
    }
}

/// Thresholds for a column's sorted values: midpoints between neighbouring distinct values
/// when there are few enough, else at evenly spaced quantiles as `cuts` says (254 of them at
/// most, fewer where quantiles coincide).
fn cut_points(sorted: &[f64], cuts: Cuts) -> Vec<f64> {
    let mut distinct = sorted.to_vec();
    distinct.dedup();
    let midpoint = |a: f64, b: f64| a + (b - a) / 2.0;
    if distinct.len() < MAX_BINS {
        return distinct.windows(2).map(|w| midpoint(w[0], w[1])).collect();
    }
    let quantiles = MAX_BINS - 2;
    let mut t: Vec<f64> = match cuts {
        Cuts::DistinctValues => (1..=quantiles)
            .map(|k| {
                let i = k * (distinct.len() - 1) / (quantiles + 1);
                midpoint(distinct[i], distinct[i + 1])
            })
            .collect(),
        // numpy's `percentile(method="midpoint")`, as scikit-learn takes them: the value at
        // a whole position, else the midpoint of the two around it.
        Cuts::Rows => (1..=quantiles)
            .map(|k| {
                let position = k * (sorted.len() - 1);
                let (i, rest) = (position / (quantiles + 1), position % (quantiles + 1));
                if rest == 0 {
                    sorted[i]
                } else {
                    midpoint(sorted[i], sorted[i + 1])
                }
            })
            .collect(),
    };
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
        let binner = Binner::fit(&e, Cuts::DistinctValues);
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
        let binner = Binner::fit(&e, Cuts::DistinctValues);
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

    /// 300 values held by 50 rows each, then 5,000 held by one row each: row quantiles give
    /// the crowded values bins of their own (about 78 rows per bin), distinct-value quantiles
    /// lump them 21 to a bin.
    #[test]
    fn row_quantiles_spread_the_rows_and_value_quantiles_the_values() {
        let values: Vec<f64> = (0..15_000)
            .map(|i| (i % 300) as f64)
            .chain((0..5_000).map(|i| 1_000.0 + i as f64))
            .collect();
        let services = vec!["x"; values.len()];
        let (_, e) = encoded(&values, &services);
        let most_rows_in_a_bin = |cuts| {
            let binned = Binner::fit(&e, cuts).transform(&e);
            let mut counts = [0; MAX_BINS];
            binned.bins[1].iter().for_each(|&b| counts[b as usize] += 1);
            (binned.n_bins[1], counts.into_iter().max().unwrap_or(0))
        };
        let (bins, most) = most_rows_in_a_bin(Cuts::Rows);
        assert!(
            bins > 200 && most <= 150,
            "{bins} bins, {most} rows in the fullest"
        );
        let (bins, most) = most_rows_in_a_bin(Cuts::DistinctValues);
        assert!(
            bins > 200 && most >= 1_000,
            "{bins} bins, {most} rows in the fullest"
        );
    }

    #[test]
    fn sorted_is_a_comparison_sort() {
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
        let got = sorted(&values);
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
        let (binner, binned) = Binner::fit_transform(&e, &rows, Cuts::DistinctValues);
        let selected = e.select(&rows);
        let expected = Binner::fit(&selected, Cuts::DistinctValues);
        assert_eq!(binner, expected);
        assert_eq!(binned.bins, expected.transform(&selected).bins);
        assert_eq!(binner.transform_rows(&e, &rows).bins, binned.bins);
    }

    #[test]
    fn categorical_rule_matches_one_code_and_not_unseen() {
        let (p, e) = encoded(&[0.0, 0.0], &["http", "ftp"]);
        let binner = Binner::fit(&e, Cuts::DistinctValues);
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
