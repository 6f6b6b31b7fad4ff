//! Input scaling for the models that need it (logistic regression, SVM, MLP).
//!
//! Without it the original project's logistic regression and SVM predicted one class: byte
//! counts reach 10^9 while rates stay in [0, 1]. Counts are heavy tailed, so they pass through
//! `ln(1 + x)` before the z-score; one-hot columns are left as 0/1.
//!
//! [`Standardizer::fit`] clips scaled values to ±[`CLIP`] standard deviations. Rare counts and
//! indicators (`urgent`, `land`, `numshells`) otherwise land 30 to 140 deviations out, which
//! stalls the SVM's coordinate descent and lets single rows dominate gradients; at 8
//! deviations such a value still stands far from the bulk of its column.
//!
//! [`Standardizer::fit_unclipped`] gives plain z-scores, scikit-learn's `StandardScaler`, for
//! logistic regression: its L-BFGS fit reaches the optimum of its convex objective whatever
//! the spread of the inputs, so the clip would only change the model, and it costs accuracy
//! where the far tail carries the label (UNSW-NB15 without its TTL columns, where
//! `tcprtt = synack + ackdat`: clipping `synack` or `ackdat`, 0.17 % of the rows beyond 8
//! deviations, costs 0.9 points; docs/RESULTS.md).
//!
//! The bound is saved with the fitted transform, so a model scores new rows as it saw its
//! training rows.

use crate::model::MalformedModel;
use nadir_data::{Encoded, Kind};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The bound, in standard deviations, of the values [`Standardizer::fit`] scales.
pub const CLIP: f64 = 8.0;

/// Per-numeric-feature transform fitted on training data. Checked when a model file is read:
/// one mean and one positive scale per column, all finite, and a positive finite bound if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standardizer {
    log: Vec<bool>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Scaled values are clipped to ± this many standard deviations; `None`: not clipped.
    clip: Option<f64>,
}

/// A [`Standardizer`] as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredStandardizer {
    log: Vec<bool>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    clip: Option<f64>,
}

crate::model::load_checked!(Standardizer, StoredStandardizer);

impl TryFrom<StoredStandardizer> for Standardizer {
    type Error = MalformedModel;

    fn try_from(stored: StoredStandardizer) -> Result<Standardizer, MalformedModel> {
        let columns = stored.log.len();
        if stored.mean.len() != columns
            || stored.scale.len() != columns
            || !stored.mean.iter().all(|m| m.is_finite())
            || !stored.scale.iter().all(|&s| s.is_finite() && s > 0.0)
        {
            return Err(MalformedModel(
                "input scaling: expected one finite mean and one positive scale per column".into(),
            ));
        }
        if stored.clip.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return Err(MalformedModel(
                "input scaling: the clipping bound must be a positive finite number".into(),
            ));
        }
        Ok(Standardizer {
            log: stored.log,
            mean: stored.mean,
            scale: stored.scale,
            clip: stored.clip,
        })
    }
}

impl Standardizer {
    /// The numeric columns it scales: the first of a one-hot row.
    pub fn numeric(&self) -> usize {
        self.log.len()
    }

    /// log1p of the counts, then z-scores clipped to ±[`CLIP`] (see the module doc).
    pub fn fit(data: &Encoded) -> Standardizer {
        Standardizer::fit_with_clip(data, Some(CLIP))
    }

    /// log1p of the counts, then z-scores, not clipped (see the module doc).
    pub fn fit_unclipped(data: &Encoded) -> Standardizer {
        Standardizer::fit_with_clip(data, None)
    }

    fn fit_with_clip(data: &Encoded, clip: Option<f64>) -> Standardizer {
        let numeric = data.num_numeric();
        let log: Vec<bool> = data
            .numeric_kinds
            .iter()
            .map(|&k| k == Kind::Count)
            .collect();
        assert_eq!(log.len(), numeric, "every numeric column has its kind");
        let n = data.len().max(1) as f64;
        let mut mean = vec![0.0; numeric];
        let mut sq = vec![0.0; numeric];
        for row in data.numeric.iter() {
            for j in 0..numeric {
                let v = transform(log[j], row[j]);
                mean[j] += v;
                sq[j] += v * v;
            }
        }
        let scale = (0..numeric)
            .map(|j| {
                mean[j] /= n;
                let var = (sq[j] / n - mean[j] * mean[j]).max(0.0);
                // A constant column (numoutboundcmds) keeps scale 1 and so maps to 0.
                if var > 1e-24 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Standardizer {
            log,
            mean,
            scale,
            clip,
        }
    }

    /// The scaled one-hot matrix, one row per record.
    pub fn transform(&self, data: &Encoded) -> Array2<f64> {
        let width = data.one_hot_width();
        let mut out = Array2::zeros((data.len(), width));
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            let row = row.as_slice_mut().expect("standard layout");
            data.one_hot_row(i, row);
            for (j, value) in row[..self.log.len()].iter_mut().enumerate() {
                let z = (transform(self.log[j], *value) - self.mean[j]) / self.scale[j];
                *value = match self.clip {
                    Some(bound) => z.clamp(-bound, bound),
                    None => z,
                };
            }
        }
        out
    }
}

impl Standardizer {
    /// The raw value of each numeric column whose scaled value is 0: the training mean of
    /// the column (of its logarithm, for counts). The explanations' reference row.
    pub(crate) fn centre(&self) -> Vec<f64> {
        (0..self.log.len()).map(|j| self.raw(j, 0.0)).collect()
    }

    /// The raw value of column `j` whose scaled value is `z` (a value clipped when scaled
    /// comes back as the clip's bound).
    pub(crate) fn raw(&self, j: usize, z: f64) -> f64 {
        let v = z * self.scale[j] + self.mean[j];
        if self.log[j] { v.exp_m1() } else { v }
    }
}

fn transform(log: bool, v: f64) -> f64 {
    if log { v.ln_1p() } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{NSL_NUMERIC, nsl_pipeline};
    use nadir_data::{Record, Schema};

    fn column(name: &str) -> usize {
        Schema::nsl_kdd()
            .numeric_names()
            .iter()
            .position(|n| *n == name)
            .expect("a numeric feature")
    }

    #[test]
    fn scaled_numeric_columns_have_zero_mean_unit_variance() {
        let (bytes, rate) = (column("srcbytes"), column("serrorrate"));
        let records: Vec<Record> = (0..10)
            .map(|i| {
                let mut numeric = vec![0.0; NSL_NUMERIC];
                numeric[bytes] = 10f64.powi(i); // a count: log-scaled
                numeric[rate] = i as f64 / 10.0;
                Record {
                    numeric,
                    categorical: ["tcp", "http", "SF"].map(String::from).to_vec(),
                }
            })
            .collect();
        let encoded = nsl_pipeline(&records).encode(&records);
        let x = Standardizer::fit(&encoded).transform(&encoded);
        for j in [bytes, rate] {
            let col = x.column(j);
            let mean = col.mean().unwrap();
            let var = col.mapv(|v| (v - mean).powi(2)).mean().unwrap();
            assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-9, "column {j}");
        }
        // The constant column maps to zero; the one-hot columns stay 0/1.
        assert!(x.iter().all(|v| v.abs() <= CLIP));
        assert!(x.column(0).iter().all(|&v| v == 0.0));
        assert!(x.column(NSL_NUMERIC).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn a_rare_value_is_clipped_but_stays_apart_from_the_bulk() {
        let urgent = column("urgent");
        let records: Vec<Record> = (0..1000)
            .map(|i| {
                let mut numeric = vec![0.0; NSL_NUMERIC];
                numeric[urgent] = if i == 0 { 3.0 } else { 0.0 };
                Record {
                    numeric,
                    categorical: ["tcp", "http", "SF"].map(String::from).to_vec(),
                }
            })
            .collect();
        let encoded = nsl_pipeline(&records).encode(&records);
        let x = Standardizer::fit(&encoded).transform(&encoded);
        assert_eq!(x[[0, urgent]], CLIP);
        assert!(x[[1, urgent]].abs() < 0.1);
        // Unclipped, the one nonzero value in 1,000 lies √999 deviations out, the rest 1/√999 below.
        let x = Standardizer::fit_unclipped(&encoded).transform(&encoded);
        assert!((x[[0, urgent]] - 999f64.sqrt()).abs() < 1e-9);
        assert!((x[[1, urgent]] + 1.0 / 999f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_tampered_scaling_is_refused_when_read() {
        let records = vec![crate::testdata::nsl_record(
            &[(1, 5.0)],
            ["tcp", "http", "SF"],
        )];
        let encoded = nsl_pipeline(&records).encode(&records);
        let good = Standardizer::fit(&encoded);
        let read = |s: &Standardizer| {
            postcard::from_bytes::<Standardizer>(&postcard::to_stdvec(s).unwrap()).map(drop)
        };
        assert!(read(&good).is_ok());
        let mut zero = good.clone();
        zero.scale[3] = 0.0;
        assert!(read(&zero).is_err());
        let mut short = good.clone();
        short.mean.pop();
        assert!(read(&short).is_err());
        let mut nan = good.clone();
        nan.mean[0] = f64::NAN;
        assert!(read(&nan).is_err());
        assert!(read(&Standardizer::fit_unclipped(&encoded)).is_ok());
        for bad in [0.0, -CLIP, f64::NAN, f64::INFINITY] {
            let mut clip = good.clone();
            clip.clip = Some(bad);
            assert!(read(&clip).is_err(), "clip {bad}");
        }
    }
}
