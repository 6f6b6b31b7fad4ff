//! Principal component analysis for the unsupervised pipeline: the smallest number of
//! orthogonal directions that keep a given share of the variance of the one-hot rows.
//!
//! Input columns. Rows go through the [`Standardizer`] the classifiers use (`ln(1 + x)` of
//! counts, z-score, clip to ±8; one-hot columns 0/1), then every column is centred, because
//! PCA diagonalises the covariance about the mean and both clipping and the one-hot 0/1
//! values leave column means off zero. Columns are deliberately not rescaled afterwards:
//! - A numeric column has unit variance already, unless clipping has shrunk it, and that
//!   happens exactly to the columns whose rare values sat 30 to 140 deviations out: on the
//!   full data `urgent` keeps variance 0.005, `land` 0.013, `numshells` 0.024. Rescaling
//!   them to 1 would blow those rare values back up (×14 for `urgent`), undoing the clip and
//!   letting a handful of rows own whole components.
//! - A one-hot column of a value with frequency `p` keeps its variance `p(1 - p)`, so a
//!   categorical feature's columns add up to `1 - Σp² < 1`: at most one numeric feature's
//!   weight. At unit variance the seventy `service` values would weigh seventy features,
//!   mostly rare values nearly uncorrelated with the rest, each needing its own component.
//!
//! On the full data, 95 % of the variance takes 19 of the 122 components this way, 24 when
//! the numeric columns are rescaled after clipping, and 88 when every column is rescaled.
//!
//! Fitting. Two parallel passes over fixed chunks of rows compute the column means and then
//! the centred Gram matrix `XᵀX` (matrixmultiply's GEMM, through ndarray's `dot`); the chunk
//! results are added in chunk order, so the covariance, and everything after it, is the same
//! bit for bit whatever the thread count. Variances are population variances (divided by
//! `n`), like the standardiser's; the explained-variance ratios do not depend on that choice.
//!
//! Eigendecomposition. The covariance is only 122 × 122, so a cyclic Jacobi method
//! (Golub and Van Loan, *Matrix Computations*, 4th ed., §8.5.2) diagonalises it: each
//! rotation zeroes one off-diagonal entry, and sweeping over all of them converges
//! quadratically: nine sweeps and about 50 ms on the full data. Jacobi is simple and, of
//! the classic methods, the most accurate for symmetric matrices. Eigenvalues are sorted in
//! descending order and each eigenvector's sign is fixed so its largest-magnitude entry is
//! positive (as scikit-learn's `svd_flip` does), so a refit gives the same components.
//!
//! Hand-written because `linfa-reduction` is built on an older ndarray than this crate: it
//! would pull in a second ndarray and copy every matrix between the two, for a problem this
//! small.

use crate::model::{FitError, InputWidth, MalformedModel, all_finite};
use crate::scale::Standardizer;
use nadir_data::{Encoded, FeaturePipeline};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows per parallel work item. Fixed, so that the order in which chunk sums are added,
/// and hence the fitted model, does not depend on the thread count.
const CHUNK_ROWS: usize = 2048;

/// Jacobi converges quadratically: the 122-column covariance needs under ten sweeps. The
/// cap is only a guard against a matrix that never settles.
const MAX_SWEEPS: usize = 64;

/// Hyperparameters of [`Pca`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaParams {
    /// Keep the fewest components whose explained-variance ratios sum to at least this
    /// share, in (0, 1]. 1 keeps every component with non-zero variance.
    pub variance: f64,
    /// Keep at most this many components, whatever `variance` asks for.
    pub max_components: Option<usize>,
}

/// 95 % of the variance, the usual rule of thumb and the issue's default; no cap.
impl Default for PcaParams {
    fn default() -> PcaParams {
        PcaParams {
            variance: 0.95,
            max_components: None,
        }
    }
}

impl PcaParams {
    fn validate(&self) -> Result<(), FitError> {
        if !(self.variance > 0.0 && self.variance <= 1.0) {
            return Err(FitError::invalid("variance", "must be in (0, 1]"));
        }
        if self.max_components == Some(0) {
            return Err(FitError::invalid("max_components", "must be at least 1"));
        }
        Ok(())
    }
}

/// A fitted principal component analysis: the input scaling and the kept components.
/// Checked when a model file is read ([`Pca::try_from`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pca {
    params: PcaParams,
    standardizer: Standardizer,
    /// Per one-hot column, the mean of the standardised training values.
    mean: Vec<f64>,
    /// The kept components, row-major: `n_components` rows of `mean.len()` loadings.
    components: Vec<f64>,
    /// The variance along every component (not only the kept ones), in descending order.
    explained_variance: Vec<f64>,
}

/// A PCA as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredPca {
    params: PcaParams,
    standardizer: Standardizer,
    mean: Vec<f64>,
    components: Vec<f64>,
    explained_variance: Vec<f64>,
}

crate::model::load_checked!(Pca, StoredPca);

impl TryFrom<StoredPca> for Pca {
    type Error = MalformedModel;

    /// At least one component of one loading per input column, no more components than
    /// variances, a scaling of at most that many columns, every number finite and the
    /// variances non-negative with a positive sum (the ratios divide by it).
    fn try_from(stored: StoredPca) -> Result<Pca, MalformedModel> {
        let width = stored.mean.len();
        let kept = stored.components.len() / width.max(1);
        if width == 0
            || kept == 0
            || stored.components.len() != kept * width
            || stored.explained_variance.len() < kept
        {
            return Err(MalformedModel(format!(
                "PCA: {} loadings and {} variances do not make components of {width} columns",
                stored.components.len(),
                stored.explained_variance.len()
            )));
        }
        if stored.standardizer.numeric() > width {
            return Err(MalformedModel(format!(
                "PCA: its scaling scales {} columns of {width}",
                stored.standardizer.numeric()
            )));
        }
        if ![&stored.mean, &stored.components, &stored.explained_variance]
            .into_iter()
            .all(|values| all_finite(values))
        {
            return Err(MalformedModel(
                "PCA: a mean, loading or variance is not a finite number".into(),
            ));
        }
        let variances = &stored.explained_variance;
        if variances.iter().any(|&v| v < 0.0) || variances.iter().sum::<f64>() <= 0.0 {
            return Err(MalformedModel(
                "PCA: the variances are not non-negative with a positive sum".into(),
            ));
        }
        Ok(Pca {
            params: stored.params,
            standardizer: stored.standardizer,
            mean: stored.mean,
            components: stored.components,
            explained_variance: stored.explained_variance,
        })
    }
}

/// One input column's weight in a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loading {
    /// The one-hot column's name, e.g. `srcbytes` or `service=http`.
    pub feature: String,
    pub weight: f64,
}

impl Pca {
    /// Fits the scaling and the components to `data`, which must be encoded by the pipeline
    /// that will encode the rows later passed to [`Pca::transform`].
    pub fn fit(params: &PcaParams, data: &Encoded) -> Result<Pca, FitError> {
        params.validate()?;
        if data.is_empty() {
            return Err(FitError::Empty);
        }
        let standardizer = Standardizer::fit(data);
        let width = data.one_hot_width();
        let rows = data.len() as f64;

        let column_sums = sum_over_chunks(data, Array1::zeros(width), |chunk| {
            standardizer.transform(chunk).sum_axis(Axis(0))
        });
        let mean = (column_sums / rows).to_vec();
        let gram = sum_over_chunks(data, Array2::zeros((width, width)), |chunk| {
            let x = centred(&standardizer, chunk, &mean);
            x.t().dot(&x)
        });
        let covariance = gram / rows;

        let eigen = symmetric_eigen(covariance.view());
        // The covariance is positive semidefinite; rounding can leave its zero eigenvalues
        // (constant columns, the one-hot columns' linear dependence) a hair below zero.
        let explained_variance: Vec<f64> = eigen.values.iter().map(|&v| v.max(0.0)).collect();
        let total: f64 = explained_variance.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return Err(FitError::invalid(
                "variance",
                "the rows have no variance to explain: every column is constant",
            ));
        }
        let cumulative = cumulative_ratio(&explained_variance);
        let wanted = cumulative
            .iter()
            .position(|&share| share >= params.variance)
            .map_or(width, |i| i + 1);
        let kept = params.max_components.map_or(wanted, |cap| wanted.min(cap));
        let components = eigen
            .vectors
            .rows()
            .into_iter()
            .take(kept)
            .flatten()
            .copied()
            .collect();
        Ok(Pca {
            params: params.clone(),
            standardizer,
            mean,
            components,
            explained_variance,
        })
    }

    /// The rows projected on the kept components: one row per record, one column per
    /// component, computed in parallel over chunks of rows.
    ///
    /// Panics when `data` was encoded by another pipeline than the training rows (its
    /// one-hot width differs), a programming error since the pipeline is saved with the model.
    pub fn transform(&self, data: &Encoded) -> Array2<f64> {
        assert_eq!(
            data.one_hot_width(),
            self.input_width(),
            "rows were encoded by a different feature pipeline than the PCA was fitted with"
        );
        let kept = self.n_components();
        let components = self.components();
        let mut projected = vec![0.0; data.len() * kept];
        let row_indices: Vec<usize> = (0..data.len()).collect();
        projected
            .par_chunks_mut(CHUNK_ROWS * kept)
            .zip(row_indices.par_chunks(CHUNK_ROWS))
            .for_each(|(out, chunk)| {
                let x = centred(&self.standardizer, &data.select(chunk), &self.mean);
                let mut out =
                    ArrayViewMut2::from_shape((chunk.len(), kept), out).expect("whole rows");
                general_mat_mul(1.0, &x, &components.t(), 0.0, &mut out);
            });
        Array2::from_shape_vec((data.len(), kept), projected).expect("rows × components")
    }

    /// The kept components, one per row, each a unit vector over the one-hot columns.
    pub fn components(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.n_components(), self.input_width()), &self.components)
            .expect("components × one-hot columns")
    }

    /// How many components [`Pca::transform`] keeps.
    pub fn n_components(&self) -> usize {
        self.components.len() / self.input_width()
    }

    /// The width of the one-hot rows the PCA was fitted on.
    pub fn input_width(&self) -> usize {
        self.mean.len()
    }

    /// What it reads of each row: its one-hot columns, the first of which its scaling scales
    /// (checked against the pipeline of the model file it is part of).
    pub fn reads(&self) -> InputWidth {
        InputWidth::OneHot {
            columns: self.input_width(),
            numeric: Some(self.standardizer.numeric()),
        }
    }

    pub fn params(&self) -> &PcaParams {
        &self.params
    }

    /// The variance of the training rows along each component, all of them, largest first.
    pub fn explained_variance(&self) -> &[f64] {
        &self.explained_variance
    }

    /// Each component's share of the total variance, all components, largest first.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        let total: f64 = self.explained_variance.iter().sum();
        self.explained_variance.iter().map(|v| v / total).collect()
    }

    /// The share of the total variance kept by the first 1, 2, … components; the last is 1.
    pub fn cumulative_ratio(&self) -> Vec<f64> {
        cumulative_ratio(&self.explained_variance)
    }

    /// For each kept component, its `count` largest loadings by magnitude, named by the
    /// one-hot columns of `pipeline` (the pipeline the training rows were encoded with).
    pub fn top_loadings(&self, pipeline: &FeaturePipeline, count: usize) -> Vec<Vec<Loading>> {
        let names = pipeline.one_hot_names();
        assert_eq!(
            names.len(),
            self.input_width(),
            "the pipeline is not the one the PCA was fitted with"
        );
        self.components()
            .rows()
            .into_iter()
            .map(|component| {
                let mut order: Vec<usize> = (0..component.len()).collect();
                order.sort_by(|&a, &b| component[b].abs().total_cmp(&component[a].abs()));
                order
                    .into_iter()
                    .take(count)
                    .map(|j| Loading {
                        feature: names[j].clone(),
                        weight: component[j],
                    })
                    .collect()
            })
            .collect()
    }

    /// One line: components kept, variance kept, the target.
    pub fn describe(&self) -> String {
        let kept = self.n_components();
        format!(
            "PCA: {kept} of {} components keep {:.1} % of the variance (target {} %{})",
            self.input_width(),
            100.0 * self.cumulative_ratio()[kept - 1],
            100.0 * self.params.variance,
            match self.params.max_components {
                Some(cap) => format!(", at most {cap} components"),
                None => String::new(),
            }
        )
    }
}

/// `chunk_sum` of every fixed chunk of rows, computed in parallel and added to `zero` in
/// chunk order, so the result does not depend on the thread count.
fn sum_over_chunks<D: ndarray::Dimension>(
    data: &Encoded,
    zero: ndarray::Array<f64, D>,
    chunk_sum: impl Fn(&Encoded) -> ndarray::Array<f64, D> + Sync,
) -> ndarray::Array<f64, D> {
    let row_indices: Vec<usize> = (0..data.len()).collect();
    let partial: Vec<ndarray::Array<f64, D>> = row_indices
        .par_chunks(CHUNK_ROWS)
        .map(|chunk| chunk_sum(&data.select(chunk)))
        .collect();
    partial.into_iter().fold(zero, |sum, part| sum + part)
}

/// The standardised one-hot rows of `data` minus the training means, column by column.
fn centred(standardizer: &Standardizer, data: &Encoded, mean: &[f64]) -> Array2<f64> {
    let mut x = standardizer.transform(data);
    x -= &ArrayView1::from(mean);
    x
}

/// Running sums of `variances` over their total. Dividing each prefix sum by the total
/// (the last prefix sum) makes the final share exactly 1, and exactly 1 already at the last
/// non-zero variance, so `variance = 1` is always reachable.
fn cumulative_ratio(variances: &[f64]) -> Vec<f64> {
    let prefix: Vec<f64> = variances
        .iter()
        .scan(0.0, |sum, v| {
            *sum += v;
            Some(*sum)
        })
        .collect();
    let total = prefix.last().copied().unwrap_or(0.0);
    prefix.iter().map(|s| s / total).collect()
}

/// The eigenpairs of a symmetric matrix, eigenvalues in descending order.
#[derive(Debug)]
pub(crate) struct SymmetricEigen {
    pub(crate) values: Vec<f64>,
    /// Row `i` is the unit eigenvector of `values[i]`, its largest-magnitude entry positive.
    pub(crate) vectors: Array2<f64>,
}

/// Cyclic Jacobi eigendecomposition of the symmetric matrix `a` (only its symmetry is
/// relied on, not definiteness).
///
/// Each step picks an off-diagonal entry `a_pq` and applies the plane rotation `J` in
/// `(p, q)` that makes `(JᵀAJ)_pq = 0`, taking the smaller of the two possible angles
/// (|θ| ≤ π/4) so that entries already made small stay small. The rotations accumulate in
/// `V`, whose columns end up the eigenvectors. An entry is rotated only when it exceeds
/// `ε‖A‖_F / n`; when a full sweep rotates nothing, the off-diagonal part is below
/// `ε‖A‖_F` in Frobenius norm, which by Weyl's inequality bounds every eigenvalue's error.
pub(crate) fn symmetric_eigen(a: ArrayView2<f64>) -> SymmetricEigen {
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "a square matrix");
    let mut a = a.to_owned();
    let mut v = Array2::<f64>::eye(n);
    let norm = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let negligible = f64::EPSILON * norm / n.max(1) as f64;
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[[p, q]];
                if apq.abs() <= negligible || apq.is_nan() {
                    continue;
                }
                rotated = true;
                // t = tan θ, the smaller root of t² + 2τt − 1 = 0 (Golub & Van Loan 8.5.2).
                let tau = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = if tau >= 0.0 {
                    1.0 / (tau + tau.hypot(1.0))
                } else {
                    -1.0 / (-tau + tau.hypot(1.0))
                };
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                for k in 0..n {
                    if k != p && k != q {
                        let (akp, akq) = (a[[k, p]], a[[k, q]]);
                        let new_kp = c * akp - s * akq;
                        let new_kq = s * akp + c * akq;
                        a[[k, p]] = new_kp;
                        a[[p, k]] = new_kp;
                        a[[k, q]] = new_kq;
                        a[[q, k]] = new_kq;
                    }
                }
                a[[p, p]] -= t * apq;
                a[[q, q]] += t * apq;
                a[[p, q]] = 0.0;
                a[[q, p]] = 0.0;
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
        if !rotated {
            break;
        }
    }

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[[j, j]].total_cmp(&a[[i, i]]));
    let values = order.iter().map(|&i| a[[i, i]]).collect();
    let mut vectors = Array2::zeros((n, n));
    for (mut row, &i) in vectors.rows_mut().into_iter().zip(&order) {
        row.assign(&v.column(i));
        if largest_magnitude(row.view()) < 0.0 {
            row.mapv_inplace(|x| -x);
        }
    }
    SymmetricEigen { values, vectors }
}

/// The entry of largest magnitude (the first of equals), or 0 for an empty vector.
fn largest_magnitude(vector: ArrayView1<f64>) -> f64 {
    vector
        .iter()
        .copied()
        .reduce(|best, x| if x.abs() > best.abs() { x } else { best })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{NSL_NUMERIC, nsl_encoded_one_category, nsl_pipeline};
    use crate::testdata::{sample_split, shared_data, with_threads};
    use nadir_data::{ReadOptions, Rng, read_path};
    use std::time::Instant;

    fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: {actual} vs {expected}"
        );
    }

    /// `‖AV − VΛ‖_max` and `‖VVᵀ − I‖_max` for the eigenpairs of `a`.
    fn residuals(a: &Array2<f64>, eigen: &SymmetricEigen) -> (f64, f64) {
        let mut worst_pair: f64 = 0.0;
        for (value, vector) in eigen.values.iter().zip(eigen.vectors.rows()) {
            let av = a.dot(&vector);
            for (x, y) in av.iter().zip(vector.iter()) {
                worst_pair = worst_pair.max((x - value * y).abs());
            }
        }
        let gram = eigen.vectors.dot(&eigen.vectors.t());
        let identity = Array2::<f64>::eye(a.nrows());
        let worst_orthogonality = (gram - identity).iter().fold(0.0f64, |m, x| m.max(x.abs()));
        (worst_pair, worst_orthogonality)
    }

    #[test]
    fn eigen_of_a_diagonal_matrix_is_its_sorted_diagonal_and_unit_vectors() {
        let a = Array2::from_diag(&Array1::from(vec![3.0, -1.0, 2.0, 0.0]));
        let eigen = symmetric_eigen(a.view());
        assert_eq!(eigen.values, [3.0, 2.0, 0.0, -1.0]);
        let expected = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
            [0.0, 1.0, 0.0, 0.0],
        ];
        for (row, want) in eigen.vectors.rows().into_iter().zip(expected) {
            assert_eq!(row.to_vec(), want);
        }
    }

    #[test]
    fn eigen_of_two_by_two_matches_closed_form() {
        let a = ndarray::array![[2.0, 1.0], [1.0, 2.0]];
        let eigen = symmetric_eigen(a.view());
        assert_close(eigen.values[0], 3.0, 1e-15, "λ1");
        assert_close(eigen.values[1], 1.0, 1e-15, "λ2");
        let h = std::f64::consts::FRAC_1_SQRT_2;
        for (got, want) in eigen.vectors.iter().zip([h, h, h, -h]) {
            assert_close(*got, want, 1e-15, "eigenvector entry");
        }
    }

    #[test]
    fn eigen_recovers_q_diag_qt_built_from_a_householder_reflection() {
        // Q = I − 2uuᵀ/uᵀu is orthogonal and symmetric; A = Q·diag(λ)·Qᵀ has eigenpairs
        // (λ_i, column i of Q).
        let n = 12;
        let u = Array1::from_shape_fn(n, |i| (i as f64 + 1.0).sin() + 0.5);
        let q = Array2::<f64>::eye(n)
            - 2.0 / u.dot(&u)
                * u.view()
                    .insert_axis(Axis(1))
                    .dot(&u.view().insert_axis(Axis(0)));
        let lambda: Vec<f64> = (0..n).map(|i| 10.0 - 1.7 * i as f64).collect();
        let a = q
            .dot(&Array2::from_diag(&Array1::from(lambda.clone())))
            .dot(&q.t());
        let eigen = symmetric_eigen(a.view());
        for (i, vector) in eigen.vectors.rows().into_iter().enumerate() {
            assert_close(eigen.values[i], lambda[i], 1e-13, "eigenvalue");
            let along = vector.dot(&q.column(i));
            assert_close(along.abs(), 1.0, 1e-13, "eigenvector along Q's column");
            assert!(largest_magnitude(vector) > 0.0, "sign convention");
        }
        let (pair, orthogonality) = residuals(&a, &eigen);
        assert!(
            pair < 1e-13 && orthogonality < 1e-14,
            "{pair} {orthogonality}"
        );
    }

    #[test]
    fn eigen_of_a_large_random_covariance_has_small_residuals() {
        let mut rng = Rng::new(7);
        let x = Array2::from_shape_fn((300, 122), |(_, j)| rng.normal() * (1.0 + j as f64 % 7.0));
        let a = x.t().dot(&x) / 300.0;
        let eigen = symmetric_eigen(a.view());
        let (pair, orthogonality) = residuals(&a, &eigen);
        let trace: f64 = a.diag().sum();
        assert!(pair < 1e-12 * trace, "eigenpair residual {pair}");
        assert!(orthogonality < 1e-13, "orthogonality {orthogonality}");
        assert!(eigen.values.windows(2).all(|w| w[0] >= w[1]));
        assert_close(eigen.values.iter().sum(), trace, 1e-12 * trace, "trace");
    }

    /// Rows whose only varying columns are two rates, `t + 0.1·e₁` and `t + 0.1·e₂`, for
    /// standard normal `t`, `e₁`, `e₂`: variance lies along (1, 1)/√2 in those columns.
    fn stretched(rows: usize) -> Encoded {
        let mut rng = Rng::new(3);
        nsl_encoded_one_category((0..rows).map(|_| {
            let t = rng.normal();
            let mut row = vec![0.0; NSL_NUMERIC];
            row[21] = t + 0.1 * rng.normal(); // serrorrate
            row[22] = t + 0.1 * rng.normal(); // srvserrorrate
            row
        }))
    }

    #[test]
    fn pca_recovers_the_stretched_direction_and_its_variance_share() {
        let data = stretched(1000);
        let pca = Pca::fit(&PcaParams::default(), &data).unwrap();
        // Two unit-variance columns with correlation ρ: eigenvalues 1 ± ρ along (1, ±1)/√2.
        let (x, y): (Vec<f64>, Vec<f64>) = data.numeric.iter().map(|r| (r[21], r[22])).unzip();
        let correlation = pearson(&x, &y);
        assert!(correlation > 0.98);
        assert_close(pca.explained_variance()[0], 1.0 + correlation, 1e-12, "λ1");
        assert_close(pca.explained_variance()[1], 1.0 - correlation, 1e-12, "λ2");
        let ratio = pca.explained_variance_ratio();
        assert_close(ratio[0], (1.0 + correlation) / 2.0, 1e-12, "ratio");
        assert!(ratio[2..].iter().all(|&r| r == 0.0));
        assert_eq!(pca.n_components(), 1);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let first = pca.components().row(0).to_owned();
        assert_close(first[21], h, 1e-12, "loading 21");
        assert_close(first[22], h, 1e-12, "loading 22");
        assert_close(first.dot(&first), 1.0, 1e-12, "unit length");

        // Keeping everything with variance keeps exactly the two non-zero components.
        let all = PcaParams {
            variance: 1.0,
            ..PcaParams::default()
        };
        assert_eq!(Pca::fit(&all, &data).unwrap().n_components(), 2);
    }

    fn pearson(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    }

    #[test]
    fn top_loadings_name_the_stretched_columns() {
        let data = stretched(200);
        let pca = Pca::fit(&PcaParams::default(), &data).unwrap();
        let records: Vec<nadir_data::Record> = vec![nadir_data::Record {
            numeric: vec![0.0; NSL_NUMERIC],
            categorical: ["tcp", "http", "SF"].map(String::from).to_vec(),
        }];
        let pipeline = nsl_pipeline(&records);
        let top = pca.top_loadings(&pipeline, 2);
        assert_eq!(top.len(), 1);
        let mut names: Vec<&str> = top[0].iter().map(|l| l.feature.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["serrorrate", "srvserrorrate"]);
    }

    #[test]
    fn ratios_sum_to_one_and_the_rule_keeps_the_fewest_components() {
        let train = sample_split().train;
        let pca = Pca::fit(&PcaParams::default(), &train).unwrap();
        let ratio = pca.explained_variance_ratio();
        assert_eq!(ratio.len(), train.one_hot_width());
        assert_close(ratio.iter().sum(), 1.0, 1e-12, "sum of ratios");
        assert!(ratio.windows(2).all(|w| w[0] >= w[1]));
        let cumulative = pca.cumulative_ratio();
        assert_eq!(*cumulative.last().unwrap(), 1.0);
        let k = pca.n_components();
        assert!(k > 1 && k < train.one_hot_width(), "k = {k}");
        assert!(cumulative[k - 1] >= 0.95 && cumulative[k - 2] < 0.95);

        let capped = PcaParams {
            max_components: Some(3),
            ..PcaParams::default()
        };
        let capped = Pca::fit(&capped, &train).unwrap();
        assert_eq!(capped.n_components(), 3);
        assert_eq!(
            capped.components(),
            pca.components().slice(ndarray::s![..3, ..])
        );
        let half = PcaParams {
            variance: 0.5,
            ..PcaParams::default()
        };
        let half = Pca::fit(&half, &train).unwrap().n_components();
        assert!(half < k && cumulative[half - 1] >= 0.5 && cumulative[half - 2] < 0.5);
    }

    #[test]
    fn transformed_training_rows_are_uncorrelated_with_the_eigenvalues_as_variances() {
        let train = sample_split().train;
        let pca = Pca::fit(&PcaParams::default(), &train).unwrap();
        let z = pca.transform(&train);
        assert_eq!(z.dim(), (train.len(), pca.n_components()));
        let n = z.nrows() as f64;
        let mean = z.mean_axis(Axis(0)).unwrap();
        assert!(mean.iter().all(|m| m.abs() < 1e-9), "{mean}");
        let covariance = z.t().dot(&z) / n;
        for i in 0..z.ncols() {
            for j in 0..z.ncols() {
                let expected = if i == j {
                    pca.explained_variance()[i]
                } else {
                    0.0
                };
                assert_close(covariance[[i, j]], expected, 1e-9, "covariance");
            }
        }
        // The components are orthonormal.
        let gram = pca.components().dot(&pca.components().t());
        let identity = Array2::<f64>::eye(pca.n_components());
        assert!((gram - identity).iter().all(|x| x.abs() < 1e-12));
    }

    #[test]
    fn fit_is_deterministic_whatever_the_thread_count() {
        let train = sample_split().train;
        // Four copies, so the rows span several chunks.
        let rows: Vec<usize> = (0..4 * train.len()).map(|i| i % train.len()).collect();
        let data = train.select(&rows);
        let fit_with = |threads| {
            with_threads(threads, || {
                let pca = Pca::fit(&PcaParams::default(), &data).unwrap();
                let z = pca.transform(&data);
                (pca, z)
            })
        };
        let (one, z_one) = fit_with(1);
        let (four, z_four) = fit_with(4);
        assert_eq!(one, four);
        assert_eq!(z_one, z_four);
        assert_eq!(one, Pca::fit(&PcaParams::default(), &data).unwrap());
    }

    #[test]
    fn postcard_round_trip_gives_the_same_transform() {
        let s = sample_split();
        let pca = Pca::fit(&PcaParams::default(), &s.train).unwrap();
        let back: Pca = postcard::from_bytes(&postcard::to_stdvec(&pca).unwrap()).unwrap();
        assert_eq!(back, pca);
        assert_eq!(back.transform(&s.test), pca.transform(&s.test));
        let expected = format!(
            "{} of {} components",
            pca.n_components(),
            s.train.one_hot_width()
        );
        assert!(pca.describe().contains(&expected), "{}", pca.describe());
    }

    /// A PCA that breaks its rules is a load error naming what is wrong; what it reads is
    /// checked against a model file's pipeline.
    #[test]
    fn a_tampered_pca_is_refused_when_read() {
        let s = sample_split();
        let pca = Pca::fit(&PcaParams::default(), &s.train).unwrap();
        assert_eq!(crate::testdata::refusal(&pca), None);
        assert_eq!(
            pca.reads(),
            InputWidth::OneHot {
                columns: s.train.one_hot_width(),
                numeric: Some(NSL_NUMERIC)
            }
        );
        let refused = |change: fn(&mut Pca)| {
            let mut pca = pca.clone();
            change(&mut pca);
            crate::testdata::refusal(&pca).expect("a load error")
        };
        let shape = "do not make components";
        assert!(
            refused(|p| {
                p.components.pop();
            })
            .contains(shape)
        );
        assert!(refused(|p| p.explained_variance.clear()).contains(shape));
        // Fewer columns than the scaling scales.
        assert!(
            refused(|p| {
                p.mean.truncate(10);
                p.components.truncate(10);
            })
            .contains("scales 38 columns of 10")
        );
        assert!(refused(|p| p.mean[0] = f64::NAN).contains("not a finite number"));
        assert!(refused(|p| p.explained_variance[1] = -1.0).contains("non-negative"));
        assert!(refused(|p| p.explained_variance.fill(0.0)).contains("positive sum"));
    }

    #[test]
    fn bad_parameters_and_data_are_errors() {
        let data = stretched(10);
        for variance in [0.0, -0.5, 1.01, f64::NAN] {
            let params = PcaParams {
                variance,
                ..PcaParams::default()
            };
            assert!(matches!(
                Pca::fit(&params, &data),
                Err(FitError::InvalidParameter { name, .. }) if name == "variance"
            ));
        }
        let params = PcaParams {
            max_components: Some(0),
            ..PcaParams::default()
        };
        assert!(matches!(
            Pca::fit(&params, &data),
            Err(FitError::InvalidParameter { name, .. }) if name == "max_components"
        ));
        assert_eq!(
            Pca::fit(&PcaParams::default(), &Encoded::default()),
            Err(FitError::Empty)
        );
        let constant = data.select(&[0, 0, 0]);
        assert!(matches!(
            Pca::fit(&PcaParams::default(), &constant),
            Err(FitError::InvalidParameter { .. })
        ));
        let unknown: Result<PcaParams, _> = serde_json::from_str(r#"{"varience": 0.9}"#);
        assert!(unknown.is_err());
    }

    #[test]
    #[ignore]
    fn full_data_holdout() {
        let dataset = read_path(
            &shared_data("Network_anomaly_data.csv"),
            ReadOptions::default(),
        )
        .expect("shared data");
        let pipeline = FeaturePipeline::fit(&dataset.schema, &dataset.records);
        let data = pipeline.encode(&dataset.records);
        let start = Instant::now();
        let pca = Pca::fit(&PcaParams::default(), &data).unwrap();
        let fit_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let z = pca.transform(&data);
        let transform_seconds = start.elapsed().as_secs_f64();
        println!("{}", pca.describe());
        println!(
            "{} rows: fit {fit_seconds:.3} s, transform {transform_seconds:.3} s ({} × {})",
            data.len(),
            z.nrows(),
            z.ncols()
        );
        let ratio = pca.explained_variance_ratio();
        let cumulative = pca.cumulative_ratio();
        println!("first 10 ratios: {:.4?}", &ratio[..10]);
        println!("cumulative: {:.4?}", &cumulative[..pca.n_components()]);
        for (i, loadings) in pca.top_loadings(&pipeline, 4).iter().enumerate().take(5) {
            let named: Vec<String> = loadings
                .iter()
                .map(|l| format!("{} {:+.2}", l.feature, l.weight))
                .collect();
            println!("PC{}: {}", i + 1, named.join(", "));
        }
        // Measured on 2026-12-03, as scikit-learn finds (README): 19 components keep 0.9510 of
        // the variance, the first 0.3159.
        assert_eq!(pca.n_components(), 19);
        assert!(ratio[0] >= 0.315, "{ratio:?}");
    }
}
