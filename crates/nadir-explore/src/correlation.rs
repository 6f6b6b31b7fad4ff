//! Pearson and Spearman correlation matrices of the numeric features, and the most
//! correlated pairs.

use crate::Table;
use crate::stats::average_ranks;
use rayon::prelude::*;
use serde::Serialize;

/// Pairs listed in [`Correlations::top_pairs`].
pub const TOP_PAIRS: usize = 20;

/// Correlations between the non-constant numeric features over all rows.
#[derive(Debug, Clone, Serialize)]
pub struct Correlations {
    /// The features of the matrices' rows and columns, in schema order.
    pub names: Vec<String>,
    /// Constant features, left out: their correlation is undefined.
    pub excluded: Vec<String>,
    /// `pearson[i][j]`: Pearson's r of `names[i]` and `names[j]` (symmetric, 1 on the diagonal).
    pub pearson: Vec<Vec<f64>>,
    /// Spearman's rho (Pearson's r of average ranks), laid out as `pearson`.
    pub spearman: Vec<Vec<f64>>,
    /// The [`TOP_PAIRS`] most correlated pairs, by the larger of |Pearson| and |Spearman|.
    pub top_pairs: Vec<CorrelatedPair>,
}

/// Two features and how strongly they move together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelatedPair {
    pub a: String,
    pub b: String,
    pub pearson: f64,
    pub spearman: f64,
}

pub(crate) fn correlate(table: &Table, constant: &[String]) -> Correlations {
    let all_names = table.schema().numeric_names();
    let kept: Vec<usize> = (0..all_names.len())
        .filter(|&c| !constant.iter().any(|n| n == all_names[c]))
        .collect();
    let columns: Vec<&[f64]> = kept.iter().map(|&c| table.numeric[c].as_slice()).collect();
    let ranks: Vec<Vec<f64>> = columns.par_iter().map(|c| average_ranks(c)).collect();
    let pearson = matrix(&columns);
    let spearman = matrix(&ranks.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let names: Vec<String> = kept.iter().map(|&c| all_names[c].to_string()).collect();
    let mut top_pairs = Vec::new();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            top_pairs.push(CorrelatedPair {
                a: names[i].clone(),
                b: names[j].clone(),
                pearson: pearson[i][j],
                spearman: spearman[i][j],
            });
        }
    }
    let strength = |p: &CorrelatedPair| p.pearson.abs().max(p.spearman.abs());
    top_pairs.sort_by(|x, y| strength(y).total_cmp(&strength(x)));
    top_pairs.truncate(TOP_PAIRS);
    Correlations {
        names,
        excluded: constant.to_vec(),
        pearson,
        spearman,
        top_pairs,
    }
}

/// The correlation matrix of non-constant columns: centre and scale each column to unit
/// length once, then every entry is one dot product.
fn matrix(columns: &[&[f64]]) -> Vec<Vec<f64>> {
    let unit: Vec<Vec<f64>> = columns
        .par_iter()
        .map(|column| {
            let mean = column.iter().sum::<f64>() / column.len() as f64;
            let centred: Vec<f64> = column.iter().map(|v| v - mean).collect();
            let length = centred.iter().map(|v| v * v).sum::<f64>().sqrt();
            centred.into_iter().map(|v| v / length).collect()
        })
        .collect();
    let k = unit.len();
    let upper: Vec<Vec<f64>> = (0..k)
        .into_par_iter()
        .map(|i| {
            (i..k)
                .map(|j| {
                    if i == j {
                        1.0
                    } else {
                        dot(&unit[i], &unit[j]).clamp(-1.0, 1.0)
                    }
                })
                .collect()
        })
        .collect();
    (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    if j >= i {
                        upper[i][j - i]
                    } else {
                        upper[j][i - j]
                    }
                })
                .collect()
        })
        .collect()
}

/// A dot product over eight independent sums, which the compiler can vectorise (one running
/// sum cannot be reordered).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for k in 0..8 {
            sums[k] += x[k] * y[k];
        }
    }
    sums.iter().sum::<f64>() + tail
}
