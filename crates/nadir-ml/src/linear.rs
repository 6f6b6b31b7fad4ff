//! Linear models and an approximate kernel SVM: L2-regularised logistic regression, a linear
//! SVM, and an RBF-kernel SVM through random Fourier features.
//!
//! All three see the one-hot rows scaled by [`Standardizer`] (fitted on the training rows and
//! stored in the model): clipped at ±8 deviations for the SVMs, whose coordinate descent
//! stalls on far outliers, plain z-scores for logistic regression, as scikit-learn's
//! `StandardScaler` (the module doc of [`crate::scale`] says why). Unscaled, byte counts of
//! 10^9 beside rates in [0, 1] made the original project's logistic regression and SVM
//! predict one class (53.46 % accuracy).
//!
//! **Logistic regression** minimises scikit-learn's objective ½‖w‖² + C·Σ log(1 + e^(−yᵢ(w·xᵢ+b)))
//! with the intercept b unpenalised, divided by C·n so that `tol` means the same at any row
//! count. The solver is L-BFGS (Nocedal & Wright, *Numerical Optimization*, 2006, Alg. 7.4)
//! with a line search meeting the strong Wolfe conditions (their Alg. 3.5/3.6, cubic
//! interpolation). The loss is evaluated as max(−m, 0) + log1p(e^(−|m|)), which neither
//! overflows nor loses precision for large margins m. The gradient is summed over fixed
//! 1,024-row chunks in rayon, and the chunk sums are added in chunk order, so the model is
//! identical bit for bit whatever the thread count.
//!
//! **Linear SVM**: the L2-regularised hinge loss ½‖w‖² + C·Σ max(0, 1 − yᵢ(w·xᵢ+b)), or its
//! square ([`SvmLoss`]), solved in the dual by coordinate descent with shrinking (Hsieh,
//! Chang, Lin, Keerthi & Sundararajan, "A dual coordinate descent method for large-scale
//! linear SVM", ICML 2008; liblinear's `-s 3` and `-s 1`), visiting rows in a fresh random
//! order each epoch. As in liblinear, the
//! bias is a constant feature 1, so it is (lightly) regularised: the dual then has no
//! equality constraint and every coordinate step is closed form. The stopping rule is
//! liblinear's: the spread of the projected gradient falls below `tol`.
//!
//! **Probabilities** come from Platt scaling (Platt 1999, with the target smoothing and the
//! Newton method of Lin, Lin & Weng, "A note on Platt's probabilistic outputs for support
//! vector machines", 2007): a sigmoid P(attack | f) = 1/(1 + e^(A·f+B)) fitted to decision
//! values f of rows the SVM did not train on. We hold out a stratified `calibration_share`
//! (20 %) of the training rows, fit the SVM on the rest, fit the sigmoid on the held-out
//! decision values, then refit the SVM on all rows, warm-started from the first solution.
//! One held-out share rather than libsvm's 5-fold cross-validated decision values: a
//! two-parameter sigmoid is well determined by 17,000 held-out values, and the cost is one
//! extra (warm-started) fit instead of five, which matters for the kernel SVM. The sigmoid is
//! then applied to a model fitted on 25 % more rows with the same C, whose decision values
//! are on the same scale.
//!
//! **Kernel SVM**: the same model, [`Svm`], whose [`SvmParams`] carry a feature map (the
//! catalogue's `linear_svm` and `kernel_svm` are its two presets, without and with the map):
//! an RBF-kernel SVM, k(x, y) = e^(−γ‖x−y‖²), approximated by random Fourier
//! features (Rahimi & Recht, "Random features for large-scale kernel machines", NIPS 2007;
//! scikit-learn's `RBFSampler`): z(x) = √(2/D)·cos(Wx + b) with W ~ N(0, 2γI) and
//! b ~ U[0, 2π], so that z(x)·z(y) ≈ k(x, y). The linear SVM solver and Platt scaling above
//! then run on z(x) unchanged, with the squared hinge by default (see
//! [`SvmParams::kernel`]). An exact kernel SVM on the 88,000 training rows needs the 88,000²
//! Gram matrix (62 GB), or an SMO solver (libsvm) whose time grows between n² and n³ kernel
//! evaluations; this one needs n·D numbers (0.7 GB at D = 1,000) and trains on all rows in
//! about ten seconds.
//!
//! Hand-written because the crates do not fit: linfa-logistic returns the probability of
//! the majority class rather than of a fixed class and is about 8× slower than
//! scikit-learn; linfa-svm builds the dense n×n kernel matrix above; smartcore's
//! SVC cannot predict after deserialisation, and models here are saved to files.

use crate::model::{
    Classifier, Fit, FitError, InputWidth, Inputs, MalformedModel, ParamGuard, all_finite,
    check_training_data,
};
use crate::scale::Standardizer;
use crate::split::stratified_split;
use nadir_data::{Encoded, Rng};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Rows per parallel work item. Fixed, so sums over chunks never depend on the thread count.
const CHUNK_ROWS: usize = 1024;

/// `Rng::fork` stream indices: one per random decision of a fit.
const CALIBRATION_SPLIT_STREAM: u64 = 0;
const CALIBRATION_FIT_STREAM: u64 = 1;
const FINAL_FIT_STREAM: u64 = 2;
const FOURIER_FEATURE_STREAM: u64 = 3;

// ---------------------------------------------------------------------------------------
// Logistic regression
// ---------------------------------------------------------------------------------------

/// Hyperparameters of L2-regularised logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticRegressionParams {
    /// Inverse regularisation strength, as scikit-learn's `C`: smaller means a stronger
    /// L2 penalty on the weights (the intercept is never penalised).
    pub c: f64,
    /// Most L-BFGS iterations.
    pub max_iter: usize,
    /// Convergence: the largest gradient component of the objective divided by C·n.
    pub tol: f64,
}

impl Default for LogisticRegressionParams {
    /// scikit-learn's defaults (C = 1, tol = 1e-4; ~130 iterations on 88,000 rows). A 100×
    /// tighter tolerance triples the iterations and moves held-out accuracy by 0.02 %.
    fn default() -> Self {
        LogisticRegressionParams {
            c: 1.0,
            max_iter: 1000,
            tol: 1e-4,
        }
    }
}

/// A fitted logistic regression: P(attack) = σ(w·x + b) on scaled one-hot rows. Checked
/// when a model file is read (see "Checks on load" below).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogisticRegression {
    params: LogisticRegressionParams,
    scaler: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
    iterations: usize,
    converged: bool,
}

impl ParamGuard for LogisticRegressionParams {
    fn check(&self) -> Result<(), FitError> {
        positive_finite("c", self.c)?;
        positive_finite("tol", self.tol)?;
        at_least_one("max_iter", self.max_iter)
    }
}

impl Fit for LogisticRegressionParams {
    type Model = LogisticRegression;

    fn fit(
        &self,
        data: &Encoded,
        labels: &[bool],
        _seed: u64,
    ) -> Result<LogisticRegression, FitError> {
        check_training_data(data, labels)?;
        self.check()?;
        let scaler = Standardizer::fit_unclipped(data);
        let x = scaler.transform(data);
        let objective = LogisticObjective::new(&x, labels, self.c);
        let width = x.ncols();
        let minimum = lbfgs(
            |theta| objective.value_and_gradient(theta),
            vec![0.0; width + 1],
            self.max_iter,
            self.tol,
        );
        let mut weights = minimum.x;
        let intercept = weights.pop().unwrap_or_default();
        Ok(LogisticRegression {
            params: self.clone(),
            scaler,
            weights,
            intercept,
            iterations: minimum.iterations,
            converged: minimum.converged,
        })
    }
}

impl Inputs for LogisticRegression {
    fn input_widths(&self) -> Vec<InputWidth> {
        vec![InputWidth::OneHot {
            columns: self.weights.len(),
            numeric: Some(self.scaler.numeric()),
        }]
    }
}

impl Classifier for LogisticRegression {
    fn score(&self, data: &Encoded) -> Vec<f64> {
        let x = standardised(&self.scaler, data, self.weights.len());
        map_rows(&x, |row| logistic(dot(&self.weights, row) + self.intercept))
    }

    fn describe(&self) -> String {
        format!(
            "logistic regression: C={}, {} inputs, {} L-BFGS iterations ({})",
            self.params.c,
            self.weights.len(),
            self.iterations,
            if self.converged {
                "converged"
            } else {
                "not converged"
            }
        )
    }
}

/// (1/n)·Σ log(1 + e^(−yᵢzᵢ)) + ‖w‖²/(2·C·n), zᵢ = w·xᵢ + b: scikit-learn's objective divided
/// by C·n. Parameters are θ = (w, b).
struct LogisticObjective<'a> {
    rows: &'a [f64],
    width: usize,
    /// +1 for an attack, −1 for a normal row.
    signs: Vec<f64>,
    penalty: f64,
}

impl<'a> LogisticObjective<'a> {
    fn new(x: &'a Array2<f64>, labels: &[bool], c: f64) -> Self {
        LogisticObjective {
            rows: x.as_slice().expect("standard layout"),
            width: x.ncols(),
            signs: labels.iter().map(|&y| sign(y)).collect(),
            penalty: 1.0 / (c * labels.len() as f64),
        }
    }

    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let width = self.width;
        let (w, b) = (&theta[..width], theta[width]);
        let chunk_sums: Vec<(f64, Vec<f64>)> = self
            .rows
            .par_chunks(CHUNK_ROWS * width)
            .zip(self.signs.par_chunks(CHUNK_ROWS))
            .map(|(rows, signs)| {
                let mut loss = 0.0;
                let mut gradient = vec![0.0; width + 1];
                for (row, &y) in rows.chunks_exact(width).zip(signs) {
                    let margin = y * (dot(w, row) + b);
                    loss += log_loss(margin);
                    let coefficient = -y * logistic(-margin);
                    axpy(coefficient, row, &mut gradient[..width]);
                    gradient[width] += coefficient;
                }
                (loss, gradient)
            })
            .collect();
        let mut value = 0.0;
        let mut gradient = vec![0.0; width + 1];
        for (loss, chunk_gradient) in chunk_sums {
            value += loss;
            axpy(1.0, &chunk_gradient, &mut gradient);
        }
        let n = self.signs.len() as f64;
        value = value / n + 0.5 * self.penalty * dot(w, w);
        for (j, g) in gradient.iter_mut().enumerate() {
            *g /= n;
            if j < width {
                *g += self.penalty * w[j];
            }
        }
        (value, gradient)
    }
}

/// log(1 + e^(−m)) without overflow for any margin m.
fn log_loss(margin: f64) -> f64 {
    (-margin).max(0.0) + (-margin.abs()).exp().ln_1p()
}

/// σ(t) = 1/(1 + e^(−t)), evaluated on the side where the exponential cannot overflow.
fn logistic(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

// ---------------------------------------------------------------------------------------
// L-BFGS with a strong Wolfe line search
// ---------------------------------------------------------------------------------------

/// Correction pairs L-BFGS keeps (scipy's default).
const LBFGS_MEMORY: usize = 10;
/// Sufficient decrease (Armijo) and curvature constants, Nocedal & Wright's choices for
/// quasi-Newton methods.
const ARMIJO: f64 = 1e-4;
const CURVATURE: f64 = 0.9;
/// Objective evaluations one line search may spend.
const LINE_SEARCH_EVALUATIONS: usize = 40;

struct Minimum {
    x: Vec<f64>,
    iterations: usize,
    /// Whether the gradient criterion was met (rather than the iteration limit or the
    /// limit of floating-point progress).
    converged: bool,
}

/// Minimises a smooth function from `start` until max |∇f| ≤ `tol`.
fn lbfgs(
    objective: impl Fn(&[f64]) -> (f64, Vec<f64>),
    start: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> Minimum {
    let mut x = start;
    let (mut value, mut gradient) = objective(&x);
    // (s, y, 1/(s·y)) of the latest steps, oldest first.
    let mut history: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::new();
    for iteration in 0..max_iter {
        if max_abs(&gradient) <= tol {
            return Minimum {
                x,
                iterations: iteration,
                converged: true,
            };
        }
        let mut direction = two_loop_direction(&gradient, &history);
        if dot(&direction, &gradient) >= 0.0 {
            history.clear();
            direction = gradient.iter().map(|g| -g).collect();
        }
        let initial_step = if history.is_empty() {
            (1.0 / dot(&gradient, &gradient).sqrt()).min(1.0)
        } else {
            1.0
        };
        let Some(trial) =
            wolfe_line_search(&objective, &x, value, &gradient, &direction, initial_step)
        else {
            break;
        };
        let s: Vec<f64> = trial.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = trial
            .gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if history.len() == LBFGS_MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        let decrease = value - trial.value;
        (x, value, gradient) = (trial.x, trial.value, trial.gradient);
        if decrease <= 4.0 * f64::EPSILON * value.abs().max(1.0) {
            return Minimum {
                converged: max_abs(&gradient) <= tol,
                x,
                iterations: iteration + 1,
            };
        }
    }
    Minimum {
        converged: max_abs(&gradient) <= tol,
        x,
        iterations: max_iter,
    }
}

/// −H·g by the two-loop recursion (Nocedal & Wright Alg. 7.4), H0 = (s·y / y·y)·I.
fn two_loop_direction(gradient: &[f64], history: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let mut q = gradient.to_vec();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let alpha = rho * dot(s, &q);
        axpy(-alpha, y, &mut q);
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = history.back() {
        let scale = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|v| *v *= scale);
    }
    for ((s, y, rho), alpha) in history.iter().zip(alphas.into_iter().rev()) {
        let beta = rho * dot(y, &q);
        axpy(alpha - beta, s, &mut q);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

/// A point on the search line x + step·d.
struct Trial {
    step: f64,
    x: Vec<f64>,
    value: f64,
    gradient: Vec<f64>,
    /// Directional derivative ∇f·d at the point.
    slope: f64,
}

/// A step meeting the strong Wolfe conditions (Nocedal & Wright Alg. 3.5 and 3.6): first
/// bracket an acceptable step by doubling, then shrink the bracket by safeguarded cubic
/// interpolation. `None` when no step lowers the objective.
fn wolfe_line_search(
    objective: &impl Fn(&[f64]) -> (f64, Vec<f64>),
    x: &[f64],
    value: f64,
    gradient: &[f64],
    direction: &[f64],
    initial_step: f64,
) -> Option<Trial> {
    let slope0 = dot(gradient, direction);
    let evaluate = |step: f64| {
        let point: Vec<f64> = x.iter().zip(direction).map(|(a, d)| a + step * d).collect();
        let (value, gradient) = objective(&point);
        let slope = dot(&gradient, direction);
        Trial {
            step,
            x: point,
            value,
            gradient,
            slope,
        }
    };
    let sufficient_decrease = |t: &Trial| t.value <= value + ARMIJO * t.step * slope0;
    let curvature_met = |t: &Trial| t.slope.abs() <= -CURVATURE * slope0;

    let mut previous = Trial {
        step: 0.0,
        x: x.to_vec(),
        value,
        gradient: gradient.to_vec(),
        slope: slope0,
    };
    let mut step = initial_step;
    let mut evaluations = 0;
    // Bracketing: (low, high) where low satisfies sufficient decrease and the minimiser lies between.
    let (mut low, mut high) = loop {
        if evaluations == LINE_SEARCH_EVALUATIONS {
            return None;
        }
        let trial = evaluate(step);
        evaluations += 1;
        if !sufficient_decrease(&trial) || (evaluations > 1 && trial.value >= previous.value) {
            break (previous, trial);
        }
        if curvature_met(&trial) {
            return Some(trial);
        }
        if trial.slope >= 0.0 {
            break (trial, previous);
        }
        step *= 2.0;
        previous = trial;
    };
    while evaluations < LINE_SEARCH_EVALUATIONS {
        let trial = evaluate(cubic_minimiser(&low, &high));
        evaluations += 1;
        if !sufficient_decrease(&trial) || trial.value >= low.value {
            high = trial;
        } else {
            if curvature_met(&trial) {
                return Some(trial);
            }
            if trial.slope * (high.step - low.step) >= 0.0 {
                high = low;
            }
            low = trial;
        }
        if (high.step - low.step).abs() <= f64::EPSILON * low.step.abs().max(1.0) {
            break;
        }
    }
    // The bracket collapsed: its low end still lowers the objective, if it ever moved.
    (low.step > 0.0).then_some(low)
}

/// The minimiser of the cubic matching value and slope at both ends, kept at least a tenth
/// of the interval away from either end (bisection when the cubic is of no use).
fn cubic_minimiser(a: &Trial, b: &Trial) -> f64 {
    let (left, right) = (a.step.min(b.step), a.step.max(b.step));
    let margin = 0.1 * (right - left);
    let midpoint = 0.5 * (left + right);
    let d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step);
    let discriminant = d1 * d1 - a.slope * b.slope;
    if discriminant.is_nan() || discriminant < 0.0 {
        return midpoint;
    }
    let d2 = (b.step - a.step).signum() * discriminant.sqrt();
    let t = b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    if t.is_finite() && t >= left + margin && t <= right - margin {
        t
    } else {
        midpoint
    }
}

// ---------------------------------------------------------------------------------------
// SVMs: shared solver settings, dual coordinate descent, Platt scaling
// ---------------------------------------------------------------------------------------

/// Hyperparameters of the SVM: the solver's and, for a kernel SVM, its feature map. The
/// catalogue has two presets of them: [`SvmParams::linear`] (no map) and
/// [`SvmParams::kernel`] (the RBF map). In TOML the map is its two keys, `gamma` and
/// `components`, given both or neither.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "SvmKeys")]
pub struct SvmParams {
    /// What a margin violation costs: `hinge` or `squared_hinge` (see [`SvmLoss`]).
    pub loss: SvmLoss,
    /// Cost of a margin violation (larger: less regularisation), as liblinear's `-c`.
    pub c: f64,
    /// Most epochs (passes over the rows) of dual coordinate descent.
    pub max_iter: usize,
    /// Stop when the projected-gradient spread falls below this (liblinear's `-e`).
    pub tol: f64,
    /// Share of the training rows held out to fit the Platt sigmoid, in (0, 1).
    pub calibration_share: f64,
    /// The random Fourier features the SVM runs on, approximating an RBF kernel; the scaled
    /// one-hot rows themselves when absent (a linear SVM).
    pub feature_map: Option<RbfFeatures>,
}

/// Random Fourier features of an RBF kernel (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RbfFeatures {
    /// RBF kernel width: k(x, y) = exp(−gamma·‖x − y‖²) on scaled one-hot rows.
    pub gamma: f64,
    /// Number of random Fourier features D. Fitting holds rows × D numbers in memory
    /// (0.7 GB for 88,000 rows at D = 1,000); the approximation error falls as 1/√D.
    pub components: usize,
}

/// The loss of a margin violation m = 1 − y(w·x + b) > 0, in the SVM's objective
/// ½‖w‖² + C·Σ loss(m): liblinear's L1-loss and L2-loss SVMs (its `-s 3` and `-s 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvmLoss {
    /// m: the classic SVM.
    Hinge,
    /// m²: scikit-learn's `LinearSVC` default. Smooth, so every violator pulls on the
    /// solution in proportion; on random Fourier features it gives a better ranking of the
    /// rows (see [`SvmParams::kernel`]).
    SquaredHinge,
}

/// [`SvmParams`] as TOML sections and model files hold them: the feature map's keys beside
/// the solver's.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SvmKeys {
    gamma: Option<f64>,
    components: Option<usize>,
    c: f64,
    max_iter: usize,
    tol: f64,
    calibration_share: f64,
    loss: SvmLoss,
}

/// [`SvmKeys`] as model files before [`crate::file::SVM_LOSS_SINCE`] hold them: without a
/// loss, which was the hinge.
#[derive(Deserialize)]
struct SvmKeysBeforeLoss {
    gamma: Option<f64>,
    components: Option<usize>,
    c: f64,
    max_iter: usize,
    tol: f64,
    calibration_share: f64,
}

impl From<SvmParams> for SvmKeys {
    fn from(p: SvmParams) -> SvmKeys {
        SvmKeys {
            gamma: p.feature_map.as_ref().map(|m| m.gamma),
            components: p.feature_map.as_ref().map(|m| m.components),
            c: p.c,
            max_iter: p.max_iter,
            tol: p.tol,
            calibration_share: p.calibration_share,
            loss: p.loss,
        }
    }
}

impl From<SvmKeysBeforeLoss> for SvmKeys {
    fn from(keys: SvmKeysBeforeLoss) -> SvmKeys {
        SvmKeys {
            gamma: keys.gamma,
            components: keys.components,
            c: keys.c,
            max_iter: keys.max_iter,
            tol: keys.tol,
            calibration_share: keys.calibration_share,
            loss: SvmLoss::Hinge,
        }
    }
}

impl<'de> Deserialize<'de> for SvmParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SvmParams, D::Error> {
        let keys = if crate::model::reading_format() < crate::file::SVM_LOSS_SINCE {
            SvmKeysBeforeLoss::deserialize(deserializer)?.into()
        } else {
            SvmKeys::deserialize(deserializer)?
        };
        SvmParams::try_from(keys).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<SvmKeys> for SvmParams {
    type Error = String;

    fn try_from(keys: SvmKeys) -> Result<SvmParams, String> {
        let feature_map = match (keys.gamma, keys.components) {
            (Some(gamma), Some(components)) => Some(RbfFeatures { gamma, components }),
            (None, None) => None,
            _ => {
                return Err(
                    "`gamma` and `components` make the RBF kernel's feature map: give \
                            both (a kernel SVM) or neither (a linear SVM)"
                        .to_string(),
                );
            }
        };
        Ok(SvmParams {
            loss: keys.loss,
            c: keys.c,
            max_iter: keys.max_iter,
            tol: keys.tol,
            calibration_share: keys.calibration_share,
            feature_map,
        })
    }
}

impl SvmParams {
    /// The linear SVM: liblinear's defaults (C = 1, tolerance 0.1, 1,000 epochs) and a 20 %
    /// calibration share.
    ///
    /// On this data the tolerance is not reached in 1,000 epochs at C = 1 (the model says
    /// "not converged"): z-scored rare counts and indicators reach 30–140 standard deviations,
    /// and those rows make coordinate descent crawl. It does not matter for the predictions:
    /// 10,000 epochs change held-out accuracy by 0.02 %. C = 0.1 converges (in ~2,500
    /// epochs) but loses 0.2 % accuracy.
    pub fn linear() -> Self {
        SvmParams {
            loss: SvmLoss::Hinge,
            c: 1.0,
            max_iter: 1000,
            tol: 0.1,
            calibration_share: 0.2,
            feature_map: None,
        }
    }

    /// The kernel SVM: the linear SVM's solver settings (it converges in ~50 epochs here) on
    /// 1,000 random Fourier features of gamma = 0.025, scikit-learn's `gamma='scale'`,
    /// 1/(columns · variance of all entries), on these scaled rows: 1/(122 · 0.33), so
    /// γ‖x − y‖² ≈ 2 for typical pairs. 1,000 features reach 99.5 % held-out accuracy; 2,000
    /// add < 0.1 % for twice the time.
    ///
    /// The squared hinge, as scikit-learn's `LinearSVC` on `RBFSampler` features: on
    /// UNSW-NB15's training part (a 70/30 split of it, the test part unseen) the hinge gave
    /// 95.5 % accuracy and ROC-AUC 0.987, the squared hinge 95.9 % and 0.992, scikit-learn's
    /// pipeline 95.9 % and 0.991; the fit took the same time. (The linear SVM keeps the
    /// hinge: there the squared hinge changed accuracy by 0.01 points and took five times as
    /// long to fit.)
    pub fn kernel() -> Self {
        SvmParams {
            loss: SvmLoss::SquaredHinge,
            feature_map: Some(RbfFeatures {
                gamma: 0.025,
                components: 1000,
            }),
            ..SvmParams::linear()
        }
    }

    fn settings(&self) -> SolverSettings {
        SolverSettings {
            loss: self.loss,
            c: self.c,
            max_iter: self.max_iter,
            tol: self.tol,
            calibration_share: self.calibration_share,
        }
    }
}

/// A fitted SVM with Platt-scaled probabilities: linear on the scaled one-hot rows, or on
/// their random Fourier features (an RBF-kernel SVM). Checked when a model file is read (see
/// "Checks on load" below).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Svm {
    params: SvmParams,
    scaler: Standardizer,
    /// Drawn when the parameters have a feature map.
    features: Option<RandomFourierFeatures>,
    svm: CalibratedSvm,
}

impl ParamGuard for SvmParams {
    fn check(&self) -> Result<(), FitError> {
        self.settings().validate()?;
        if let Some(map) = &self.feature_map {
            positive_finite("gamma", map.gamma)?;
            at_least_one("components", map.components)?;
        }
        Ok(())
    }
}

impl Fit for SvmParams {
    type Model = Svm;

    fn fit(&self, data: &Encoded, labels: &[bool], seed: u64) -> Result<Svm, FitError> {
        check_training_data(data, labels)?;
        self.check()?;
        let settings = self.settings();
        let scaler = Standardizer::fit(data);
        let x = scaler.transform(data);
        let (features, svm) = match &self.feature_map {
            None => (None, CalibratedSvm::fit(&x, labels, &settings, seed)?),
            Some(map) => {
                let features = RandomFourierFeatures::draw(
                    x.ncols(),
                    map.components,
                    map.gamma,
                    &mut Rng::fork(seed, FOURIER_FEATURE_STREAM),
                );
                let z = features.map(&x);
                drop(x);
                let svm = CalibratedSvm::fit(&z, labels, &settings, seed)?;
                (Some(features), svm)
            }
        };
        Ok(Svm {
            params: self.clone(),
            scaler,
            features,
            svm,
        })
    }
}

impl Svm {
    /// The SVM's decision values w·z + b, z the scaled row or its random features: positive
    /// means attack.
    pub fn decision_function(&self, data: &Encoded) -> Vec<f64> {
        self.map_svm_rows(data, |row| self.svm.decision(row))
    }

    /// Applies `f` to the row the SVM reads of every record: the scaled one-hot row, or its
    /// random features, computed one chunk of rows at a time so that the n × D feature
    /// matrix is never held whole.
    fn map_svm_rows(&self, data: &Encoded, f: impl Fn(&[f64]) -> f64 + Sync) -> Vec<f64> {
        let Some(features) = &self.features else {
            let x = standardised(&self.scaler, data, self.svm.weights.len());
            return map_rows(&x, f);
        };
        let x = standardised(&self.scaler, data, features.inputs);
        let inputs = x.ncols();
        let rows = x.as_slice().expect("standard layout");
        let chunks: Vec<Vec<f64>> = rows
            .par_chunks(CHUNK_ROWS * inputs)
            .map(|chunk| {
                let chunk = ArrayView2::from_shape((chunk.len() / inputs, inputs), chunk)
                    .expect("whole rows");
                let mut z = Array2::zeros((chunk.nrows(), features.components()));
                features.map_into(&chunk, &mut z.view_mut());
                z.rows()
                    .into_iter()
                    .map(|row| f(row.as_slice().expect("standard layout")))
                    .collect()
            })
            .collect();
        chunks.concat()
    }
}

impl Inputs for Svm {
    /// The scaled rows' width; a kernel SVM's weights are checked against its features.
    fn input_widths(&self) -> Vec<InputWidth> {
        let columns = match &self.features {
            Some(features) => features.inputs,
            None => self.svm.weights.len(),
        };
        vec![InputWidth::OneHot {
            columns,
            numeric: Some(self.scaler.numeric()),
        }]
    }
}

impl Classifier for Svm {
    fn score(&self, data: &Encoded) -> Vec<f64> {
        self.map_svm_rows(data, |row| self.svm.probability(row))
    }

    fn describe(&self) -> String {
        match (&self.params.feature_map, &self.features) {
            (Some(map), Some(features)) => format!(
                "kernel SVM (RBF, gamma={}, {} random Fourier features): C={}, {}",
                map.gamma,
                features.components(),
                self.params.c,
                self.svm.describe()
            ),
            _ => format!(
                "linear SVM: C={}, {} inputs, {}",
                self.params.c,
                self.svm.weights.len(),
                self.svm.describe()
            ),
        }
    }
}

/// The settings the SVM solver and its calibration take.
struct SolverSettings {
    loss: SvmLoss,
    c: f64,
    max_iter: usize,
    tol: f64,
    calibration_share: f64,
}

impl SolverSettings {
    fn validate(&self) -> Result<(), FitError> {
        positive_finite("c", self.c)?;
        positive_finite("tol", self.tol)?;
        at_least_one("max_iter", self.max_iter)?;
        if !(self.calibration_share > 0.0 && self.calibration_share < 1.0) {
            return Err(FitError::invalid(
                "calibration_share",
                format!(
                    "must lie strictly between 0 and 1, got {}",
                    self.calibration_share
                ),
            ));
        }
        Ok(())
    }
}

/// An SVM w·x + b, of either loss, with a Platt sigmoid on its decision values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CalibratedSvm {
    weights: Vec<f64>,
    bias: f64,
    sigmoid: PlattSigmoid,
    /// Epochs of the final (all-rows) fit.
    epochs: usize,
    converged: bool,
}

impl CalibratedSvm {
    /// Fits on a held-out split for the sigmoid, then on all rows (see the module doc).
    fn fit(
        features: &Array2<f64>,
        labels: &[bool],
        settings: &SolverSettings,
        seed: u64,
    ) -> Result<CalibratedSvm, FitError> {
        let split_seed = Rng::fork(seed, CALIBRATION_SPLIT_STREAM).next_u64();
        let (fit_rows, held_out) = stratified_split(labels, settings.calibration_share, split_seed);
        let held_out_labels: Vec<bool> = held_out.iter().map(|&i| labels[i]).collect();
        if !held_out_labels.contains(&true) || !held_out_labels.contains(&false) {
            return Err(FitError::invalid(
                "calibration_share",
                "holds out no rows of one class for the Platt sigmoid; raise it or add rows",
            ));
        }
        let mut solver = DualCoordinateDescent::new(features, labels, settings.loss, settings.c);
        solver.solve(
            &fit_rows,
            settings.max_iter,
            settings.tol,
            &mut Rng::fork(seed, CALIBRATION_FIT_STREAM),
        );
        let held_out_decisions: Vec<f64> = held_out
            .iter()
            .map(|&i| decision(&solver.weights, solver.bias, solver.row(i)))
            .collect();
        let sigmoid = PlattSigmoid::fit(&held_out_decisions, &held_out_labels);
        let all_rows: Vec<usize> = (0..labels.len()).collect();
        let (epochs, converged) = solver.solve(
            &all_rows,
            settings.max_iter,
            settings.tol,
            &mut Rng::fork(seed, FINAL_FIT_STREAM),
        );
        Ok(CalibratedSvm {
            weights: solver.weights,
            bias: solver.bias,
            sigmoid,
            epochs,
            converged,
        })
    }

    fn decision(&self, row: &[f64]) -> f64 {
        decision(&self.weights, self.bias, row)
    }

    fn probability(&self, row: &[f64]) -> f64 {
        self.sigmoid.probability(self.decision(row))
    }

    fn describe(&self) -> String {
        format!(
            "{} epochs ({}), Platt A={:.4} B={:.4}",
            self.epochs,
            if self.converged {
                "converged"
            } else {
                "not converged"
            },
            self.sigmoid.a,
            self.sigmoid.b
        )
    }
}

fn decision(weights: &[f64], bias: f64, row: &[f64]) -> f64 {
    dot(weights, row) + bias
}

/// The dual of the L2-regularised SVM, min ½αᵀ(Q + D)α − Σα subject to 0 ≤ αᵢ ≤ U with
/// Qᵢⱼ = yᵢyⱼ(xᵢ·xⱼ + 1): for the hinge U = C and D = 0, for the squared hinge U = ∞ and
/// D = I/(2C). Solved one coordinate at a time while keeping w = Σ αᵢyᵢxᵢ and b = Σ αᵢyᵢ
/// up to date (Hsieh et al. 2008, Algorithm 3 with shrinking).
struct DualCoordinateDescent<'a> {
    rows: &'a [f64],
    width: usize,
    signs: Vec<f64>,
    /// U.
    upper: f64,
    /// Dᵢᵢ.
    diagonal_shift: f64,
    alpha: Vec<f64>,
    weights: Vec<f64>,
    bias: f64,
}

impl<'a> DualCoordinateDescent<'a> {
    fn new(features: &'a Array2<f64>, labels: &[bool], loss: SvmLoss, c: f64) -> Self {
        let (upper, diagonal_shift) = match loss {
            SvmLoss::Hinge => (c, 0.0),
            SvmLoss::SquaredHinge => (f64::INFINITY, 0.5 / c),
        };
        DualCoordinateDescent {
            rows: features.as_slice().expect("standard layout"),
            width: features.ncols(),
            signs: labels.iter().map(|&y| sign(y)).collect(),
            upper,
            diagonal_shift,
            alpha: vec![0.0; labels.len()],
            weights: vec![0.0; features.ncols()],
            bias: 0.0,
        }
    }

    fn row(&self, i: usize) -> &'a [f64] {
        &self.rows[i * self.width..(i + 1) * self.width]
    }

    /// Optimises the dual variables of `rows` (the others stay as they are, so a later call
    /// on more rows is warm-started). Returns the epochs run and whether `tol` was met.
    fn solve(&mut self, rows: &[usize], max_iter: usize, tol: f64, rng: &mut Rng) -> (usize, bool) {
        let (upper, shift) = (self.upper, self.diagonal_shift);
        // Diagonal of Q + D, with the bias feature's 1.
        let diagonal: Vec<f64> = rows
            .iter()
            .map(|&i| dot(self.row(i), self.row(i)) + 1.0 + shift)
            .collect();
        // Positions into `rows`; the first `active` are not shrunk.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut active = rows.len();
        let (mut shrink_above, mut shrink_below) = (f64::INFINITY, f64::NEG_INFINITY);
        for epoch in 0..max_iter {
            rng.shuffle(&mut order[..active]);
            let (mut largest, mut smallest) = (f64::NEG_INFINITY, f64::INFINITY);
            let mut s = 0;
            while s < active {
                let position = order[s];
                let i = rows[position];
                let x = self.row(i);
                let y = self.signs[i];
                let alpha = self.alpha[i];
                let gradient = y * decision(&self.weights, self.bias, x) - 1.0 + shift * alpha;
                // The projected gradient; rows stuck at a bound are shrunk (set aside) when
                // their gradient points out of the box by more than any free row's last epoch.
                let projected = if alpha == 0.0 {
                    if gradient > shrink_above {
                        active -= 1;
                        order.swap(s, active);
                        continue;
                    }
                    gradient.min(0.0)
                } else if alpha == upper {
                    if gradient < shrink_below {
                        active -= 1;
                        order.swap(s, active);
                        continue;
                    }
                    gradient.max(0.0)
                } else {
                    gradient
                };
                largest = largest.max(projected);
                smallest = smallest.min(projected);
                if projected.abs() > 1e-12 {
                    let updated = (alpha - gradient / diagonal[position]).clamp(0.0, upper);
                    let step = (updated - alpha) * y;
                    self.alpha[i] = updated;
                    axpy(step, x, &mut self.weights);
                    self.bias += step;
                }
                s += 1;
            }
            if largest - smallest <= tol {
                if active == rows.len() {
                    return (epoch + 1, true);
                }
                // Converged on the active set: check every row once more before stopping.
                active = rows.len();
                (shrink_above, shrink_below) = (f64::INFINITY, f64::NEG_INFINITY);
                continue;
            }
            shrink_above = if largest <= 0.0 {
                f64::INFINITY
            } else {
                largest
            };
            shrink_below = if smallest >= 0.0 {
                f64::NEG_INFINITY
            } else {
                smallest
            };
        }
        (max_iter, false)
    }
}

/// P(attack | f) = 1/(1 + e^(A·f + B)), Platt's sigmoid on SVM decision values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PlattSigmoid {
    a: f64,
    b: f64,
}

impl PlattSigmoid {
    /// Lin, Lin & Weng (2007), Algorithm 1: Newton's method with backtracking on the
    /// cross-entropy against Platt's smoothed targets (N₊+1)/(N₊+2) and 1/(N₋+2), which keep
    /// the sigmoid from going infinitely steep on separable decision values.
    fn fit(decisions: &[f64], labels: &[bool]) -> PlattSigmoid {
        const MAX_ITERATIONS: usize = 100;
        const MIN_STEP: f64 = 1e-10;
        const HESSIAN_RIDGE: f64 = 1e-12;
        const GRADIENT_TOLERANCE: f64 = 1e-5;
        let positives = labels.iter().filter(|&&y| y).count() as f64;
        let negatives = labels.len() as f64 - positives;
        let high = (positives + 1.0) / (positives + 2.0);
        let low = 1.0 / (negatives + 2.0);
        let targets: Vec<f64> = labels.iter().map(|&y| if y { high } else { low }).collect();
        let objective = |a: f64, b: f64| -> f64 {
            decisions
                .iter()
                .zip(&targets)
                .map(|(&f, &t)| {
                    let z = a * f + b;
                    // t·z + log(1 + e^(−z)) computed without overflow.
                    if z >= 0.0 {
                        t * z + (-z).exp().ln_1p()
                    } else {
                        (t - 1.0) * z + z.exp().ln_1p()
                    }
                })
                .sum()
        };
        let mut a = 0.0;
        let mut b = ((negatives + 1.0) / (positives + 1.0)).ln();
        let mut value = objective(a, b);
        for _ in 0..MAX_ITERATIONS {
            let (mut h11, mut h22, mut h21) = (HESSIAN_RIDGE, HESSIAN_RIDGE, 0.0);
            let (mut g1, mut g2) = (0.0, 0.0);
            for (&f, &t) in decisions.iter().zip(&targets) {
                let p = logistic(-(a * f + b));
                let d2 = p * (1.0 - p);
                h11 += f * f * d2;
                h22 += d2;
                h21 += f * d2;
                let d1 = t - p;
                g1 += f * d1;
                g2 += d1;
            }
            if g1.abs() < GRADIENT_TOLERANCE && g2.abs() < GRADIENT_TOLERANCE {
                break;
            }
            let det = h11 * h22 - h21 * h21;
            let da = -(h22 * g1 - h21 * g2) / det;
            let db = -(-h21 * g1 + h11 * g2) / det;
            let descent = g1 * da + g2 * db;
            let mut step = 1.0;
            while step >= MIN_STEP {
                let (new_a, new_b) = (a + step * da, b + step * db);
                let new_value = objective(new_a, new_b);
                if new_value < value + 1e-4 * step * descent {
                    (a, b, value) = (new_a, new_b, new_value);
                    break;
                }
                step /= 2.0;
            }
            if step < MIN_STEP {
                break;
            }
        }
        PlattSigmoid { a, b }
    }

    fn probability(&self, decision: f64) -> f64 {
        logistic(-(self.a * decision + self.b))
    }
}

// ---------------------------------------------------------------------------------------
// Random Fourier features
// ---------------------------------------------------------------------------------------

/// z(x) = √(2/D)·cos(Wx + b), W ~ N(0, 2γ) entrywise, b ~ U[0, 2π].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RandomFourierFeatures {
    inputs: usize,
    /// W, D × inputs, row-major.
    frequencies: Vec<f64>,
    /// b, length D.
    phases: Vec<f64>,
}

impl RandomFourierFeatures {
    fn draw(inputs: usize, components: usize, gamma: f64, rng: &mut Rng) -> Self {
        let deviation = (2.0 * gamma).sqrt();
        let frequencies = (0..components * inputs)
            .map(|_| deviation * rng.normal())
            .collect();
        let phases = (0..components)
            .map(|_| std::f64::consts::TAU * rng.next_f64())
            .collect();
        RandomFourierFeatures {
            inputs,
            frequencies,
            phases,
        }
    }

    fn components(&self) -> usize {
        self.phases.len()
    }

    /// The feature matrix of all rows of `x`, computed in parallel row chunks.
    fn map(&self, x: &Array2<f64>) -> Array2<f64> {
        let components = self.components();
        let mut z = Array2::zeros((x.nrows(), components));
        z.as_slice_mut()
            .expect("standard layout")
            .par_chunks_mut(CHUNK_ROWS * components)
            .zip(
                x.as_slice()
                    .expect("standard layout")
                    .par_chunks(CHUNK_ROWS * self.inputs),
            )
            .for_each(|(out, rows)| {
                let rows = ArrayView2::from_shape((rows.len() / self.inputs, self.inputs), rows)
                    .expect("whole rows");
                let mut out =
                    ArrayViewMut2::from_shape((rows.nrows(), components), out).expect("whole rows");
                self.map_into(&rows, &mut out);
            });
        z
    }

    fn map_into(&self, rows: &ArrayView2<f64>, out: &mut ArrayViewMut2<f64>) {
        let frequencies =
            ArrayView2::from_shape((self.components(), self.inputs), &self.frequencies)
                .expect("D × inputs");
        ndarray::linalg::general_mat_mul(1.0, rows, &frequencies.t(), 0.0, out);
        let scale = (2.0 / self.components() as f64).sqrt();
        for mut row in out.rows_mut() {
            for (v, &phase) in row.iter_mut().zip(&self.phases) {
                *v = scale * (*v + phase).cos();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small shared helpers
// ---------------------------------------------------------------------------------------

/// The scaled one-hot rows, checking they have the width the model was fitted on (they are
/// encoded by the pipeline saved with the model, so a mismatch is a programming error).
fn standardised(scaler: &Standardizer, data: &Encoded, width: usize) -> Array2<f64> {
    assert_eq!(
        data.one_hot_width(),
        width,
        "rows were encoded by a different feature pipeline than the model was fitted with"
    );
    scaler.transform(data)
}

/// `f` of every row of `x`, in parallel over fixed chunks, in row order.
fn map_rows(x: &Array2<f64>, f: impl Fn(&[f64]) -> f64 + Sync) -> Vec<f64> {
    let width = x.ncols();
    if width == 0 {
        // Rows of no values (a model file's pipeline may hold no feature): no chunks to cut.
        return (0..x.nrows()).map(|_| f(&[])).collect();
    }
    x.as_slice()
        .expect("standard layout")
        .par_chunks(CHUNK_ROWS * width)
        .flat_map_iter(|rows| rows.chunks_exact(width).map(&f))
        .collect()
}

fn sign(attack: bool) -> f64 {
    if attack { 1.0 } else { -1.0 }
}

fn positive_finite(name: &str, value: f64) -> Result<(), FitError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(FitError::invalid(
            name,
            format!("must be a positive finite number, got {value}"),
        ))
    }
}

fn at_least_one(name: &str, value: usize) -> Result<(), FitError> {
    if value >= 1 {
        Ok(())
    } else {
        Err(FitError::invalid(name, "must be at least 1"))
    }
}

/// a·b with four running sums: fast (vectorisable) and with a fixed summation order.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            sums[k] += x[k] * y[k];
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// y += a·x
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

// ---------------------------------------------------------------------------------------
// Checks on load
// ---------------------------------------------------------------------------------------

/// A [`LogisticRegression`] as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredLogisticRegression {
    params: LogisticRegressionParams,
    scaler: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
    iterations: usize,
    converged: bool,
}

crate::model::load_checked!(LogisticRegression, StoredLogisticRegression);

impl TryFrom<StoredLogisticRegression> for LogisticRegression {
    type Error = MalformedModel;

    /// Finite weights and intercept (the width is checked against the pipeline's).
    fn try_from(stored: StoredLogisticRegression) -> Result<LogisticRegression, MalformedModel> {
        if !all_finite(&stored.weights) || !stored.intercept.is_finite() {
            return Err(MalformedModel(
                "logistic regression: a weight or the intercept is not a finite number".into(),
            ));
        }
        Ok(LogisticRegression {
            params: stored.params,
            scaler: stored.scaler,
            weights: stored.weights,
            intercept: stored.intercept,
            iterations: stored.iterations,
            converged: stored.converged,
        })
    }
}

/// An [`Svm`] as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredSvm {
    params: SvmParams,
    scaler: Standardizer,
    features: Option<RandomFourierFeatures>,
    svm: CalibratedSvm,
}

crate::model::load_checked!(Svm, StoredSvm);

impl TryFrom<StoredSvm> for Svm {
    type Error = MalformedModel;

    /// Finite weights, bias and sigmoid; with random features, a D × inputs matrix of finite
    /// frequencies, D finite phases and one weight per feature (the inputs are checked
    /// against the pipeline's width).
    fn try_from(stored: StoredSvm) -> Result<Svm, MalformedModel> {
        let malformed = |what: &str| MalformedModel(format!("SVM: {what}"));
        let svm = &stored.svm;
        if !all_finite(&svm.weights) || !all_finite(&[svm.bias, svm.sigmoid.a, svm.sigmoid.b]) {
            return Err(malformed(
                "a weight, the bias or the Platt sigmoid is not a finite number",
            ));
        }
        if let Some(features) = &stored.features {
            let components = features.components();
            if components == 0
                || Some(features.frequencies.len()) != components.checked_mul(features.inputs)
                || svm.weights.len() != components
            {
                return Err(malformed(&format!(
                    "{} frequencies, {components} phases and {} weights do not make random \
                     features of {} inputs",
                    features.frequencies.len(),
                    svm.weights.len(),
                    features.inputs
                )));
            }
            if !all_finite(&features.frequencies) || !all_finite(&features.phases) {
                return Err(malformed(
                    "a random feature's frequency or phase is not a finite number",
                ));
            }
        }
        Ok(Svm {
            params: stored.params,
            scaler: stored.scaler,
            features: stored.features,
            svm: stored.svm,
        })
    }
}

/// What the explainers read ([`crate::explain::linear`], [`crate::explain::sampling`]).
impl LogisticRegression {
    pub(crate) fn scaler(&self) -> &Standardizer {
        &self.scaler
    }

    /// The weights of the scaled one-hot columns and the intercept: the log-odds of a row
    /// are their dot product plus the intercept.
    pub(crate) fn log_odds_weights(&self) -> (&[f64], f64) {
        (&self.weights, self.intercept)
    }
}

/// What the explainers read ([`crate::explain::linear`], [`crate::explain::sampling`]).
impl Svm {
    pub(crate) fn scaler(&self) -> &Standardizer {
        &self.scaler
    }

    /// A linear SVM's Platt-calibrated log-odds −(A·(w·x + b) + B) as weights of the scaled
    /// one-hot columns and an intercept; `None` for a kernel SVM.
    pub(crate) fn log_odds_weights(&self) -> Option<(Vec<f64>, f64)> {
        if self.features.is_some() {
            return None;
        }
        let PlattSigmoid { a, b } = self.svm.sigmoid;
        let weights = self.svm.weights.iter().map(|w| -a * w).collect();
        Some((weights, -(a * self.svm.bias + b)))
    }
}

/// The checks on load, beside them so that they move with them.
#[cfg(test)]
mod load_checks {
    use super::*;
    use crate::testdata::{refusal, sample_split};

    /// A well-formed file whose linear model breaks its rules is a load error naming what is
    /// wrong, not a panic or NaN scores.
    #[test]
    fn a_tampered_linear_model_or_svm_file_is_a_load_error() {
        let split = sample_split();
        let (train, labels) = (&split.train, &split.train_labels);
        let lr = LogisticRegressionParams::default()
            .fit(train, labels, 0)
            .unwrap();
        assert_eq!(refusal(&lr), None);
        let lr_refused = |change: fn(&mut LogisticRegression)| {
            let mut lr = lr.clone();
            change(&mut lr);
            refusal(&lr).expect("a load error")
        };
        assert!(lr_refused(|m| m.weights[3] = f64::NAN).contains("logistic regression"));
        assert!(lr_refused(|m| m.intercept = f64::INFINITY).contains("intercept"));

        let params = SvmParams {
            max_iter: 20,
            feature_map: Some(RbfFeatures {
                gamma: 0.025,
                components: 8,
            }),
            ..SvmParams::kernel()
        };
        let ksvm = params.fit(train, labels, 0).unwrap();
        let linear = SvmParams::linear().fit(train, labels, 0).unwrap();
        assert_eq!(refusal(&ksvm), None);
        assert_eq!(refusal(&linear), None);
        let refused = |svm: &Svm, change: fn(&mut Svm)| {
            let mut svm = svm.clone();
            change(&mut svm);
            refusal(&svm).expect("a load error")
        };
        fn features(m: &mut Svm) -> &mut RandomFourierFeatures {
            m.features.as_mut().expect("random features")
        }
        let shape = "do not make random features of";
        assert!(
            refused(&ksvm, |m| {
                features(m).frequencies.pop();
            })
            .contains(shape)
        );
        assert!(
            refused(&ksvm, |m| {
                features(m).phases.pop();
            })
            .contains(shape)
        );
        assert!(refused(&ksvm, |m| features(m).inputs += 1).contains(shape));
        assert!(
            refused(&ksvm, |m| {
                m.svm.weights.pop();
            })
            .contains(shape)
        );
        assert!(refused(&ksvm, |m| features(m).phases[2] = f64::NAN).contains("phase"));
        assert!(refused(&ksvm, |m| features(m).frequencies[0] = f64::NAN).contains("frequency"));
        assert!(refused(&linear, |m| m.svm.sigmoid.a = f64::NAN).contains("Platt sigmoid"));
        assert!(refused(&linear, |m| m.svm.bias = f64::INFINITY).contains("the bias"));
        assert!(refused(&linear, |m| m.svm.weights[0] = f64::NAN).contains("a weight"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;
    use crate::testdata::{NSL_NUMERIC, nsl_encoded_one_category};
    use crate::testdata::{accuracy, report_holdout, sample_split, split_file, with_threads};
    use nadir_data::Schema;

    /// At the optimum of the squared-hinge dual every row's multiplier is 2C times its margin
    /// violation (the KKT conditions of min ½‖w‖² + C·Σ max(0, 1 − yᵢf(xᵢ))²), and the
    /// hinge's multipliers stay in [0, C]: the two duals are the two losses.
    #[test]
    fn each_loss_solves_its_own_dual() {
        let mut rng = Rng::new(5);
        let (rows, width) = (300, 4);
        let x = Array2::from_shape_fn((rows, width), |_| rng.next_f64() * 2.0 - 1.0);
        // Labels from a noisy linear rule, so that some rows violate any margin.
        let labels: Vec<bool> = x
            .rows()
            .into_iter()
            .map(|r| r[0] + 0.5 * r[1] + 0.6 * (rng.next_f64() - 0.5) > 0.0)
            .collect();
        let all: Vec<usize> = (0..rows).collect();
        let c = 0.7;
        let mut squared = DualCoordinateDescent::new(&x, &labels, SvmLoss::SquaredHinge, c);
        let (_, converged) = squared.solve(&all, 10_000, 1e-9, &mut Rng::new(1));
        assert!(converged);
        let mut violators = 0;
        for (i, &label) in labels.iter().enumerate() {
            let margin = sign(label) * decision(&squared.weights, squared.bias, squared.row(i));
            let violation = (1.0 - margin).max(0.0);
            violators += usize::from(violation > 0.0);
            assert!(
                (squared.alpha[i] - 2.0 * c * violation).abs() < 1e-6,
                "row {i}: alpha {} against 2C·{violation}",
                squared.alpha[i]
            );
        }
        assert!(violators > 10 && squared.alpha.iter().any(|&a| a > c));
        let mut hinge = DualCoordinateDescent::new(&x, &labels, SvmLoss::Hinge, c);
        hinge.solve(&all, 10_000, 1e-9, &mut Rng::new(1));
        assert!(hinge.alpha.iter().all(|&a| (0.0..=c).contains(&a)));
        assert!(hinge.alpha.contains(&c));
    }

    fn numeric_index(name: &str) -> usize {
        Schema::nsl_kdd()
            .numeric_index(name)
            .expect("a numeric feature")
    }

    /// Hand-made rows: the given rate features set, everything else constant, one category
    /// value per categorical feature.
    fn toy(points: &[(&[f64], bool)], features: &[&str]) -> (Encoded, Vec<bool>) {
        let columns: Vec<usize> = features.iter().map(|f| numeric_index(f)).collect();
        let data = nsl_encoded_one_category(points.iter().map(|(values, _)| {
            let mut row = vec![0.0; NSL_NUMERIC];
            for (&column, &v) in columns.iter().zip(values.iter()) {
                row[column] = v;
            }
            row
        }));
        (data, points.iter().map(|&(_, y)| y).collect())
    }

    fn sample_quality(model: &impl Classifier) -> (f64, f64) {
        let split = sample_split();
        let scores = model.score(&split.test);
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        (
            accuracy(&split.test_labels, &scores),
            roc_auc(&split.test_labels, &scores).expect("both classes"),
        )
    }

    fn small_kernel_params() -> SvmParams {
        SvmParams {
            feature_map: Some(RbfFeatures {
                gamma: 0.025,
                components: 300,
            }),
            ..SvmParams::kernel()
        }
    }

    #[test]
    fn logistic_loss_and_sigmoid_are_stable_at_extreme_margins() {
        assert_eq!(log_loss(1000.0), 0.0);
        assert!((log_loss(-1000.0) - 1000.0).abs() < 1e-9);
        assert!((log_loss(0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(logistic(-1000.0), 0.0);
        assert_eq!(logistic(1000.0), 1.0);
        assert!((logistic(2.0) + logistic(-2.0) - 1.0).abs() < 1e-15);
    }

    /// x = +1: three attacks, one normal; x = −1: the mirror image. By symmetry the optimal
    /// intercept is 0, and the weight solves w = C·(6σ(−w) − 2σ(w)) (the derivative of
    /// ½w² + C·Σ log(1 + e^(−yᵢwxᵢ)) set to zero); without a penalty σ(w) = 3/4, w = ln 3.
    fn symmetric_logistic_case() -> (Encoded, Vec<bool>) {
        let (plus, minus): (&[f64], &[f64]) = (&[0.75], &[0.25]); // standardised to ±1
        let points = [
            (plus, true),
            (plus, true),
            (plus, true),
            (plus, false),
            (minus, false),
            (minus, false),
            (minus, false),
            (minus, true),
        ];
        toy(&points, &["serrorrate"])
    }

    #[test]
    fn logistic_regression_matches_the_hand_solved_symmetric_case() {
        let (data, labels) = symmetric_logistic_case();
        let column = numeric_index("serrorrate");
        for c in [1.0, 0.1] {
            let params = LogisticRegressionParams {
                c,
                tol: 1e-10,
                ..LogisticRegressionParams::default()
            };
            let model = params.fit(&data, &labels, 0).unwrap();
            assert!(model.converged, "{}", model.describe());
            let w = model.weights[column];
            let stationarity = w - c * (6.0 * logistic(-w) - 2.0 * logistic(w));
            assert!(
                stationarity.abs() < 1e-8,
                "C={c}: w={w}, residual {stationarity}"
            );
            assert!(model.intercept.abs() < 1e-8);
            // The constant columns carry nothing: the unpenalised intercept absorbs them.
            let others = model
                .weights
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != column);
            assert!(others.map(|(_, v)| v.abs()).fold(0.0, f64::max) < 1e-8);

            let x = model.scaler.transform(&data);
            let mut theta = model.weights.clone();
            theta.push(model.intercept);
            let (_, gradient) = LogisticObjective::new(&x, &labels, c).value_and_gradient(&theta);
            assert!(max_abs(&gradient) <= 1e-10);
        }
        // A vanishing penalty leaves the unregularised optimum, σ(w) = 3/4.
        let params = LogisticRegressionParams {
            c: 1e9,
            tol: 1e-12,
            ..LogisticRegressionParams::default()
        };
        let model = params.fit(&data, &labels, 0).unwrap();
        assert!((model.weights[column] - 3f64.ln()).abs() < 1e-6);
        let scores = model.score(&data);
        assert!((scores[0] - 0.75).abs() < 1e-6 && (scores[4] - 0.25).abs() < 1e-6);
    }

    /// Far outliers are part of the model: its inputs are plain z-scores, as scikit-learn's
    /// StandardScaler gives them, not clipped at ±8 deviations as the SVMs' are.
    #[test]
    fn logistic_regression_matches_scikit_learn_on_far_outliers() {
        // Printed by tests/logistic_reference.py (scikit-learn 1.9.1, numpy 2.4.6:
        // LogisticRegression(C=1, newton-cholesky, tol 1e-12) on log1p + StandardScaler);
        // the rows are built the same way there. The two columns reach 10.7 and 10.9
        // deviations; clipped at 8, srcbytes' weight would be 0.234.
        const SRCBYTES_WEIGHT: f64 = 0.032706766505766365;
        const SERRORRATE_WEIGHT: f64 = 0.272128431586452;
        const INTERCEPT: f64 = 0.7066332926315946;
        const OBJECTIVE: f64 = 76.0225143005837;
        let rows: Vec<(Vec<f64>, bool)> = (0..120)
            .map(|i| {
                let attack = i % 3 != 0;
                let bytes = (50 + (i * 37) % 101) as f64 * if attack { 2.0 } else { 1.0 };
                match i {
                    0 => (vec![1e12, 0.0], attack),
                    1 => (vec![bytes, 1.0], attack),
                    _ => (vec![bytes, 0.0], attack),
                }
            })
            .collect();
        let points: Vec<(&[f64], bool)> = rows.iter().map(|(v, y)| (&v[..], *y)).collect();
        let (data, labels) = toy(&points, &["srcbytes", "serrorrate"]);
        let params = LogisticRegressionParams {
            tol: 1e-9,
            ..LogisticRegressionParams::default()
        };
        let model = params.fit(&data, &labels, 0).unwrap();
        assert!(model.converged, "{}", model.describe());
        let (bytes, rate) = (numeric_index("srcbytes"), numeric_index("serrorrate"));
        for (name, got, expected) in [
            ("srcbytes", model.weights[bytes], SRCBYTES_WEIGHT),
            ("serrorrate", model.weights[rate], SERRORRATE_WEIGHT),
            ("intercept", model.intercept, INTERCEPT),
        ] {
            assert!(
                (got - expected).abs() < 1e-7,
                "{name}: {got}, scikit-learn {expected}"
            );
        }
        let others = (0..model.weights.len()).filter(|&j| j != bytes && j != rate);
        assert!(others.map(|j| model.weights[j].abs()).fold(0.0, f64::max) < 1e-8);
        // The objective in scikit-learn's units: ours is divided by C·n.
        let x = model.scaler.transform(&data);
        let mut theta = model.weights.clone();
        theta.push(model.intercept);
        let (value, _) = LogisticObjective::new(&x, &labels, 1.0).value_and_gradient(&theta);
        assert!((value * labels.len() as f64 - OBJECTIVE).abs() < 1e-8 * OBJECTIVE);
    }

    #[test]
    fn lbfgs_minimises_an_ill_conditioned_quadratic_and_rosenbrock() {
        let quadratic = |x: &[f64]| {
            let scales = [1.0, 100.0, 1e4];
            let value = x
                .iter()
                .zip(scales)
                .map(|(v, s)| 0.5 * s * (v - 1.0).powi(2))
                .sum();
            (
                value,
                x.iter().zip(scales).map(|(v, s)| s * (v - 1.0)).collect(),
            )
        };
        let minimum = lbfgs(quadratic, vec![0.0; 3], 200, 1e-6);
        assert!(minimum.converged, "{} iterations", minimum.iterations);
        assert!(minimum.x.iter().all(|v| (v - 1.0).abs() < 1e-6));

        let rosenbrock = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let gradient = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (value, gradient)
        };
        let minimum = lbfgs(rosenbrock, vec![-1.2, 1.0], 500, 1e-8);
        assert!(minimum.converged, "{} iterations", minimum.iterations);
        assert!((minimum.x[0] - 1.0).abs() < 1e-6 && (minimum.x[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn svm_on_a_separable_set_finds_the_maximum_margin_hyperplane() {
        // In units u (rate = 0.5 + 0.2·u), attacks at (1,0), (0,1), (2,2) and normals at their
        // mirror images: the maximum-margin hyperplane is u₁ + u₂ = 0 with margin 1/‖(1,1)‖,
        // so the decision function is exactly u₁ + u₂ (support vectors at ±1).
        let units = [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]];
        let rates: Vec<[f64; 2]> = units
            .iter()
            .flat_map(|&[a, b]| {
                [
                    [0.5 + 0.2 * a, 0.5 + 0.2 * b],
                    [0.5 - 0.2 * a, 0.5 - 0.2 * b],
                ]
            })
            .collect();
        let points: Vec<(&[f64], bool)> = rates
            .iter()
            .enumerate()
            .map(|(i, r)| (&r[..], i % 2 == 0))
            .collect();
        let (data, labels) = toy(&points, &["serrorrate", "rerrorrate"]);
        let params = SvmParams {
            c: 1e6,
            tol: 1e-10,
            calibration_share: 0.34,
            ..SvmParams::linear()
        };
        let model = params.fit(&data, &labels, 3).unwrap();
        assert!(model.svm.converged);
        let decisions = model.decision_function(&data);
        let expected: Vec<f64> = units
            .iter()
            .flat_map(|u| [u[0] + u[1], -(u[0] + u[1])])
            .collect();
        for (got, want) in decisions.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-6, "{decisions:?} vs {expected:?}");
        }
    }

    #[test]
    fn platt_sigmoid_orders_probabilities_like_decision_values() {
        let split = sample_split();
        let model = SvmParams::linear()
            .fit(&split.train, &split.train_labels, 1)
            .unwrap();
        assert!(model.svm.sigmoid.a < 0.0);
        let decisions = model.decision_function(&split.test);
        let scores = model.score(&split.test);
        let mut pairs: Vec<(f64, f64)> = decisions.into_iter().zip(scores).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(pairs.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(pairs[0].1 < 0.05 && pairs[pairs.len() - 1].1 > 0.95);
    }

    #[test]
    fn platt_fit_on_symmetric_separable_values_is_symmetric_and_smoothed() {
        let decisions = [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0];
        let labels = [false, false, false, true, true, true];
        let sigmoid = PlattSigmoid::fit(&decisions, &labels);
        assert!(sigmoid.b.abs() < 1e-6 && sigmoid.a < 0.0);
        // The smoothed targets (4/5 and 1/5 here) keep it from going to 0 and 1.
        let top = sigmoid.probability(3.0);
        assert!(top > 0.75 && top < 0.999, "{top}");
    }

    /// An independent check of the whole fit, targets included: the imbalanced cases move by
    /// 0.1 to 0.4 if a smoothed target is computed from the other class's count; one row of a
    /// class checks the starting intercept, all-zero values the stopping rule.
    #[test]
    fn platt_fit_matches_scikit_learn_sigmoid_calibration() {
        // Printed by tests/platt_reference.py (scikit-learn 1.9.1, numpy 2.4.6), whose
        // `_sigmoid_calibration` lands within 1e-6 of the exact optimum; ours stops at a
        // gradient below 1e-5, hence the tolerance.
        const OVERLAP_A: f64 = -0.9225236989402331;
        const OVERLAP_B: f64 = 0.06408749160855637;
        const IMBALANCED_SEPARABLE_A: f64 = -1.377251941407308;
        const IMBALANCED_SEPARABLE_B: f64 = 0.9643482760182085;
        const IMBALANCED_TIES_A: f64 = -1.2192460636356628;
        const IMBALANCED_TIES_B: f64 = 1.7561125049087245;
        const ONE_NORMAL_A: f64 = -0.5804019852785358;
        const ONE_NORMAL_B: f64 = -1.0635233117259528;
        const ONE_ATTACK_A: f64 = -0.9380677959005971;
        const ONE_ATTACK_B: f64 = 0.8855188955199134;
        const ALL_ZERO_A: f64 = 0.0;
        const ALL_ZERO_B: f64 = 0.24889604737873083;
        const TOLERANCE: f64 = 1e-4;
        let check = |name: &str, decisions: &[f64], labels: &[u8], a: f64, b: f64| {
            let labels: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
            let sigmoid = PlattSigmoid::fit(decisions, &labels);
            assert!(
                (sigmoid.a - a).abs() < TOLERANCE && (sigmoid.b - b).abs() < TOLERANCE,
                "{name}: got ({}, {}), scikit-learn ({a}, {b})",
                sigmoid.a,
                sigmoid.b
            );
            let expected = 1.0 / (1.0 + (a + b).exp());
            assert!(
                (sigmoid.probability(1.0) - expected).abs() < TOLERANCE,
                "{name}"
            );
        };
        check(
            "overlap",
            &[-2.1, -1.3, -0.8, -0.2, 0.4, -0.5, 0.3, 0.9, 1.7, 2.6],
            &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
            OVERLAP_A,
            OVERLAP_B,
        );
        check(
            "imbalanced separable",
            &[-1.9, -1.5, -1.2, -1.0, -0.7, -0.4, -0.3, 0.1, 0.8, 1.4],
            &[0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
            IMBALANCED_SEPARABLE_A,
            IMBALANCED_SEPARABLE_B,
        );
        check(
            "imbalanced with ties",
            &[
                0.5, 1.0, 1.0, 1.5, 2.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.5, 4.0,
            ],
            &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
            IMBALANCED_TIES_A,
            IMBALANCED_TIES_B,
        );
        check(
            "one normal",
            &[-0.6, -0.9, 0.2, 0.7, 1.1, 1.8],
            &[0, 1, 1, 1, 1, 1],
            ONE_NORMAL_A,
            ONE_NORMAL_B,
        );
        check(
            "one attack",
            &[-1.6, -1.1, -0.8, -0.2, 0.3, 0.5],
            &[0, 0, 0, 0, 0, 1],
            ONE_ATTACK_A,
            ONE_ATTACK_B,
        );
        check(
            "all zero",
            &[0.0; 7],
            &[0, 0, 0, 0, 1, 1, 1],
            ALL_ZERO_A,
            ALL_ZERO_B,
        );
    }

    #[test]
    fn random_fourier_features_approximate_the_rbf_kernel() {
        let gamma = 0.3;
        let features = RandomFourierFeatures::draw(3, 20_000, gamma, &mut Rng::new(5));
        let x = Array2::from_shape_vec((3, 3), vec![0.0, 0.0, 0.0, 1.0, 0.5, -0.5, 2.0, 1.0, 0.0])
            .unwrap();
        let z = features.map(&x);
        for i in 0..3 {
            for j in 0..3 {
                let distance: f64 = (0..3).map(|k| (x[[i, k]] - x[[j, k]]).powi(2)).sum();
                let kernel = (-gamma * distance).exp();
                let approx = dot(z.row(i).as_slice().unwrap(), z.row(j).as_slice().unwrap());
                assert!(
                    (approx - kernel).abs() < 0.03,
                    "({i},{j}): {approx} vs {kernel}"
                );
            }
        }
    }

    #[test]
    fn models_do_well_on_the_sample() {
        let split = sample_split();
        let (train, labels) = (&split.train, &split.train_labels);
        let lr = LogisticRegressionParams::default()
            .fit(train, labels, 0)
            .unwrap();
        let svm = SvmParams::linear().fit(train, labels, 0).unwrap();
        let ksvm = small_kernel_params().fit(train, labels, 0).unwrap();
        for (name, (acc, auc)) in [
            ("logistic regression", sample_quality(&lr)),
            ("linear SVM", sample_quality(&svm)),
            ("kernel SVM", sample_quality(&ksvm)),
        ] {
            assert!(
                acc >= 0.95 && auc >= 0.975,
                "{name}: accuracy {acc}, AUC {auc}"
            );
        }
    }

    #[test]
    fn fits_are_deterministic_whatever_the_thread_count() {
        let split = sample_split();
        let (train, labels) = (&split.train, &split.train_labels);
        let lr = LogisticRegressionParams::default();
        let svm = SvmParams::linear();
        let ksvm = small_kernel_params();
        assert_eq!(
            lr.fit(train, labels, 9).unwrap(),
            with_threads(1, || lr.fit(train, labels, 9).unwrap())
        );
        assert_eq!(
            svm.fit(train, labels, 9).unwrap(),
            svm.fit(train, labels, 9).unwrap()
        );
        assert_eq!(
            ksvm.fit(train, labels, 9).unwrap(),
            with_threads(1, || ksvm.fit(train, labels, 9).unwrap())
        );
        assert_ne!(
            svm.fit(train, labels, 9).unwrap(),
            svm.fit(train, labels, 10).unwrap()
        );
    }

    #[test]
    fn postcard_round_trips_give_identical_scores() {
        let split = sample_split();
        let (train, labels) = (&split.train, &split.train_labels);
        let lr = LogisticRegressionParams::default()
            .fit(train, labels, 0)
            .unwrap();
        let svm = SvmParams::linear().fit(train, labels, 0).unwrap();
        let ksvm = small_kernel_params().fit(train, labels, 0).unwrap();
        let lr2: LogisticRegression =
            postcard::from_bytes(&postcard::to_stdvec(&lr).unwrap()).unwrap();
        let svm2: Svm = postcard::from_bytes(&postcard::to_stdvec(&svm).unwrap()).unwrap();
        let ksvm2: Svm = postcard::from_bytes(&postcard::to_stdvec(&ksvm).unwrap()).unwrap();
        assert_eq!(lr.score(&split.test), lr2.score(&split.test));
        assert_eq!(svm.score(&split.test), svm2.score(&split.test));
        assert_eq!(ksvm.score(&split.test), ksvm2.score(&split.test));
        assert_eq!(ksvm, ksvm2);
    }

    #[test]
    fn svm_params_read_their_map_as_two_keys() {
        let kernel: SvmParams = toml::from_str(
            "gamma = 0.1\ncomponents = 5\nc = 1.0\nmax_iter = 3\ntol = 0.1\ncalibration_share = 0.2\n\
             loss = \"squared_hinge\"",
        )
        .unwrap();
        assert_eq!(
            kernel.feature_map,
            Some(RbfFeatures {
                gamma: 0.1,
                components: 5
            })
        );
        let linear = toml::to_string(&SvmParams::linear()).unwrap();
        assert!(
            !linear.contains("gamma") && !linear.contains("components"),
            "{linear}"
        );
        assert_eq!(
            toml::from_str::<SvmParams>(&linear).unwrap(),
            SvmParams::linear()
        );
        let half = toml::from_str::<SvmParams>(&format!("gamma = 0.1\n{linear}")).unwrap_err();
        assert!(half.to_string().contains("give both"), "{half}");
        let unknown = toml::from_str::<SvmParams>(&format!("cost = 2.0\n{linear}"));
        assert!(unknown.is_err());
    }

    #[test]
    fn bad_hyperparameters_are_fit_errors() {
        let (data, labels) = symmetric_logistic_case();
        let name = |e: FitError| match e {
            FitError::InvalidParameter { name, .. } => name,
            other => panic!("{other:?}"),
        };
        let lr = |p: LogisticRegressionParams| name(p.fit(&data, &labels, 0).unwrap_err());
        let base = LogisticRegressionParams::default();
        assert_eq!(
            lr(LogisticRegressionParams {
                c: 0.0,
                ..base.clone()
            }),
            "c"
        );
        assert_eq!(
            lr(LogisticRegressionParams {
                c: f64::NAN,
                ..base.clone()
            }),
            "c"
        );
        assert_eq!(
            lr(LogisticRegressionParams {
                tol: -1.0,
                ..base.clone()
            }),
            "tol"
        );
        assert_eq!(
            lr(LogisticRegressionParams {
                max_iter: 0,
                ..base
            }),
            "max_iter"
        );

        let svm = |p: SvmParams| name(p.fit(&data, &labels, 0).unwrap_err());
        let base = SvmParams::linear();
        assert_eq!(
            svm(SvmParams {
                c: -1.0,
                ..base.clone()
            }),
            "c"
        );
        assert_eq!(
            svm(SvmParams {
                calibration_share: 1.0,
                ..base.clone()
            }),
            "calibration_share"
        );
        // 5 % of four rows per class rounds to none held out.
        assert_eq!(
            svm(SvmParams {
                calibration_share: 0.05,
                ..base
            }),
            "calibration_share"
        );

        let ksvm = |p: SvmParams| name(p.fit(&data, &labels, 0).unwrap_err());
        let base = SvmParams::kernel();
        assert_eq!(
            ksvm(SvmParams {
                feature_map: Some(RbfFeatures {
                    gamma: f64::INFINITY,
                    components: 10,
                }),
                ..base.clone()
            }),
            "gamma"
        );
        assert_eq!(
            ksvm(SvmParams {
                feature_map: Some(RbfFeatures {
                    gamma: 0.1,
                    components: 0,
                }),
                ..base.clone()
            }),
            "components"
        );
        assert_eq!(ksvm(SvmParams { tol: 0.0, ..base }), "tol");

        assert_eq!(
            SvmParams::linear().fit(&data, &[true; 8], 0),
            Err(FitError::SingleClass)
        );
    }

    #[test]
    #[ignore = "full data set; run in release"]
    fn full_data_holdout() {
        let split = split_file("Network_anomaly_data.csv");
        let lr = report_holdout("logistic regression", &split, |x, y| {
            LogisticRegressionParams::default().fit(x, y, 42).unwrap()
        });
        let svm = report_holdout("linear SVM", &split, |x, y| {
            SvmParams::linear().fit(x, y, 42).unwrap()
        });
        let ksvm = report_holdout("kernel SVM", &split, |x, y| {
            SvmParams::kernel().fit(x, y, 42).unwrap()
        });
        // Floors just under the accuracies at 0.5 measured on 2026-12-03. Logistic regression
        // on plain z-scores, as scikit-learn's (0.98463 with the ±8 sd clip it no longer
        // gets: docs/RESULTS.md, "Logistic regression and the ±8 sd clip").
        assert!(lr.accuracy >= 0.9838, "{lr:?}"); // 0.98402
        assert!(svm.accuracy >= 0.9860, "{svm:?}"); // 0.98637
        assert!(ksvm.accuracy >= 0.9955, "{ksvm:?}"); // 0.99603 (the hinge's 0.99577)
    }
}
