//! An autoencoder trained on normal traffic only: a novelty detector whose score is how badly
//! it reconstructs a record.
//!
//! The network squeezes a record's scaled one-hot row (the numeric features log-scaled and
//! z-scored on normal traffic, clipped at ±8 deviations, then one 0/1 column per known
//! category value) through narrow ReLU layers (`layers`, default 64-16-64) and back to the
//! row's own width through a linear output layer, trained with Adam on mini-batches to
//! minimise the mean squared reconstruction error. It learns to rebuild what normal traffic
//! looks like; a record unlike it (an attack never seen, a category value never seen, whose
//! one-hot columns are all zero) is rebuilt badly.
//!
//! The training part's normal rows (attack rows are never used) are split, seeded, three ways:
//! the rows the network is fitted on, a `validation_share` on which the loss is measured after
//! each epoch (early stopping: the weights of the best epoch are kept, and training stops
//! after `patience` epochs without improvement), and a `threshold_share` held out of both,
//! on which the threshold is set: the `(1 - target_fpr)` quantile of their reconstruction
//! errors, as the hybrid's novelty part sets its own ([`crate::hybrid`]). The error `e` is
//! mapped to a score in [0, 1] with the threshold `τ` on 0.5 (`e / 2τ` below `τ`,
//! `1 - τ / 2e` above), so the model's own threshold is 0.5 ([`Classifier::fixed_threshold`]).
//!
//! A record's error is the sum over its schema features (numeric, then categorical) of each
//! feature's share: the squared errors of its columns (a categorical feature's one-hot columns
//! summed) divided by the row's width. [`Autoencoder::error_shares`] gives those shares, which
//! add up exactly to [`Autoencoder::errors`]: the error is computed as their sum.
//!
//! Deterministic: training runs in `f32` on one thread, in a fixed order (matrixmultiply is
//! built without threads and sums in a fixed order), from seeded streams ([`Rng::fork`]):
//! the same rows and seed give the same weights bit for bit whatever the thread count.
//! Scoring runs in parallel over fixed chunks of rows, each row independent of the others.
//! Hand-written on `ndarray`'s GEMM for the reasons [`crate::mlp`] gives.

use crate::hybrid::{novelty_score, upper_threshold};
use crate::model::{
    Classifier, Fit, FitError, InputWidth, Inputs, MalformedModel, ParamGuard, all_finite,
};
use crate::scale::Standardizer;
use nadir_data::{Encoded, Rng};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows scored per parallel work item.
const CHUNK_ROWS: usize = 2048;

/// Adam's guard against division by zero.
const ADAM_EPSILON: f64 = 1e-8;

/// Hyperparameters of [`Autoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoencoderParams {
    /// Units of the hidden layers, input side first; the output layer has the input's width.
    pub layers: Vec<usize>,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Adam's decay rate of the gradient mean.
    pub beta1: f64,
    /// Adam's decay rate of the squared gradient mean.
    pub beta2: f64,
    /// Rows per gradient step (all rows when there are fewer).
    pub batch_size: usize,
    /// The most passes over the rows.
    pub epochs: usize,
    /// Epochs without a lower validation loss before training stops.
    pub patience: usize,
    /// Share of the normal training rows held out to measure the loss for early stopping.
    pub validation_share: f64,
    /// Share of the normal training rows held out of the fit to set the threshold on.
    pub threshold_share: f64,
    /// Share of normal traffic the model may flag: sets its threshold.
    pub target_fpr: f64,
}

impl Default for AutoencoderParams {
    /// The shape (64-16-64), Adam's usual settings (Kingma and Ba's, scikit-learn's),
    /// batches of 256 rows, at most 30 epochs with a patience of 3, and the operating
    /// point, 1 % of normal traffic. Not tuned on held-out attacks.
    fn default() -> Self {
        AutoencoderParams {
            layers: vec![64, 16, 64],
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            batch_size: 256,
            epochs: 30,
            patience: 3,
            validation_share: 0.1,
            threshold_share: 0.2,
            target_fpr: 0.01,
        }
    }
}

impl ParamGuard for AutoencoderParams {
    fn check(&self) -> Result<(), FitError> {
        if self.layers.is_empty() || self.layers.contains(&0) {
            return Err(FitError::invalid(
                "layers",
                "needs at least one hidden layer, each of at least one unit",
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(FitError::invalid(
                "learning_rate",
                "must be positive and finite",
            ));
        }
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(FitError::invalid(name, "must be in [0, 1)"));
            }
        }
        for (name, value) in [
            ("batch_size", self.batch_size),
            ("epochs", self.epochs),
            ("patience", self.patience),
        ] {
            if value == 0 {
                return Err(FitError::invalid(name, "must be at least 1"));
            }
        }
        let open_share = |v: f64| 0.0 < v && v < 1.0;
        if !open_share(self.validation_share) {
            return Err(FitError::invalid(
                "validation_share",
                "must lie strictly between 0 and 1",
            ));
        }
        if !open_share(self.threshold_share) {
            return Err(FitError::invalid(
                "threshold_share",
                "must lie strictly between 0 and 1",
            ));
        }
        if self.validation_share + self.threshold_share >= 1.0 {
            return Err(FitError::invalid(
                "threshold_share",
                "with validation_share, must leave rows to fit on (their sum below 1)",
            ));
        }
        if !(0.0 < self.target_fpr && self.target_fpr < 0.5) {
            return Err(FitError::invalid(
                "target_fpr",
                format!("{} is not in (0, 0.5)", self.target_fpr),
            ));
        }
        Ok(())
    }
}

/// One fully connected layer: `output = input · weights + bias`, `weights` row-major
/// `inputs × outputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Layer {
    inputs: usize,
    outputs: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Layer {
    fn weights(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.inputs, self.outputs), &self.weights)
            .expect("a layer holds inputs × outputs weights")
    }
}

/// A fitted autoencoder. Checked when a model file is read ([`Autoencoder::try_from`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Autoencoder {
    params: AutoencoderParams,
    scaler: Standardizer,
    layers: Vec<Layer>,
    /// The reconstruction error at or above which a record is flagged.
    threshold: f64,
    /// Normal rows the threshold was set on.
    threshold_rows: usize,
    /// Mean training loss of each epoch run.
    training_loss: Vec<f64>,
    /// Mean loss on the validation rows after each epoch run.
    validation_loss: Vec<f64>,
}

/// An autoencoder as a model file holds it, before its checks.
#[derive(Deserialize)]
struct StoredAutoencoder {
    params: AutoencoderParams,
    scaler: Standardizer,
    layers: Vec<Layer>,
    threshold: f64,
    threshold_rows: usize,
    training_loss: Vec<f64>,
    validation_loss: Vec<f64>,
}

crate::model::load_checked!(Autoencoder, StoredAutoencoder);

impl TryFrom<StoredAutoencoder> for Autoencoder {
    type Error = MalformedModel;

    /// Hyperparameters that pass their checks; layers of the widths they name, chained, from
    /// and back to one width that holds the scaled numeric columns, with finite weights; a
    /// positive finite threshold.
    fn try_from(stored: StoredAutoencoder) -> Result<Autoencoder, MalformedModel> {
        let malformed = |what: String| MalformedModel(format!("autoencoder: {what}"));
        stored
            .params
            .check()
            .map_err(|e| malformed(e.to_string()))?;
        let layers = &stored.layers;
        let width = layers.first().map_or(0, |l| l.inputs);
        let mut widths = vec![width];
        widths.extend(&stored.params.layers);
        widths.push(width);
        if layers.len() + 1 != widths.len() || width < stored.scaler.numeric() || width == 0 {
            return Err(malformed(format!(
                "{} layers from {width} columns, not the {}-{width} its parameters name",
                layers.len(),
                widths[..widths.len() - 1]
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("-"),
            )));
        }
        for (i, (layer, pair)) in layers.iter().zip(widths.windows(2)).enumerate() {
            if (layer.inputs, layer.outputs) != (pair[0], pair[1])
                || Some(layer.weights.len()) != layer.inputs.checked_mul(layer.outputs)
                || layer.bias.len() != layer.outputs
            {
                return Err(malformed(format!(
                    "layer {i} is {} × {} with {} weights and {} biases, not {} × {}",
                    layer.inputs,
                    layer.outputs,
                    layer.weights.len(),
                    layer.bias.len(),
                    pair[0],
                    pair[1]
                )));
            }
            if !layer
                .weights
                .iter()
                .chain(&layer.bias)
                .all(|v| v.is_finite())
            {
                return Err(malformed(format!(
                    "layer {i}: a weight or bias is not a finite number"
                )));
            }
        }
        if !(stored.threshold.is_finite() && stored.threshold > 0.0) {
            return Err(malformed(format!(
                "threshold {} is not a positive finite number",
                stored.threshold
            )));
        }
        if !all_finite(&stored.training_loss) || !all_finite(&stored.validation_loss) {
            return Err(malformed("a loss is not a finite number".into()));
        }
        Ok(Autoencoder {
            params: stored.params,
            scaler: stored.scaler,
            layers: stored.layers,
            threshold: stored.threshold,
            threshold_rows: stored.threshold_rows,
            training_loss: stored.training_loss,
            validation_loss: stored.validation_loss,
        })
    }
}

/// The training part's normal rows, split three ways (see the module doc).
struct NormalRows {
    fit: Vec<usize>,
    validation: Vec<usize>,
    threshold: Vec<usize>,
}

impl NormalRows {
    fn new(labels: &[bool], params: &AutoencoderParams, seed: u64) -> NormalRows {
        let mut normal: Vec<usize> = (0..labels.len()).filter(|&i| !labels[i]).collect();
        Rng::fork(seed, 1).shuffle(&mut normal);
        let n = normal.len() as f64;
        let n_threshold = (n * params.threshold_share).round() as usize;
        let n_validation = (n * params.validation_share).round() as usize;
        let mut threshold = normal[..n_threshold].to_vec();
        let mut validation = normal[n_threshold..n_threshold + n_validation].to_vec();
        let mut fit = normal[n_threshold + n_validation..].to_vec();
        for rows in [&mut fit, &mut validation, &mut threshold] {
            rows.sort_unstable();
        }
        NormalRows {
            fit,
            validation,
            threshold,
        }
    }
}

impl Fit for AutoencoderParams {
    type Model = Autoencoder;

    /// Fits on the rows labelled normal only; attack rows are ignored (there may be none).
    fn fit(&self, data: &Encoded, labels: &[bool], seed: u64) -> Result<Autoencoder, FitError> {
        self.check()?;
        if data.is_empty() {
            return Err(FitError::Empty);
        }
        if data.len() != labels.len() {
            return Err(FitError::LengthMismatch {
                rows: data.len(),
                labels: labels.len(),
            });
        }
        let rows = NormalRows::new(labels, self, seed);
        if rows.fit.is_empty() || rows.validation.is_empty() || rows.threshold.is_empty() {
            return Err(FitError::invalid(
                "validation_share",
                format!(
                    "{} normal row(s) are too few to fit on, stop early and set a threshold",
                    rows.fit.len() + rows.validation.len() + rows.threshold.len()
                ),
            ));
        }
        let fit_part = data.select(&rows.fit);
        let scaler = Standardizer::fit(&fit_part);
        let fit_x = inputs(&scaler, &fit_part);
        let valid_x = inputs(&scaler, &data.select(&rows.validation));
        let mut rng = Rng::fork(seed, 2);
        let mut network = Network::initialised(fit_x.ncols(), &self.layers, &mut rng);
        let (training_loss, validation_loss) =
            network.train(self, fit_x.view(), valid_x.view(), &mut rng);
        let mut model = Autoencoder {
            params: self.clone(),
            scaler,
            layers: network.layers,
            threshold: f64::MIN_POSITIVE,
            threshold_rows: rows.threshold.len(),
            training_loss,
            validation_loss,
        };
        let errors = model.errors(&data.select(&rows.threshold));
        model.threshold = upper_threshold(errors, self.target_fpr);
        Ok(model)
    }
}

/// The scaled one-hot rows of `data`, in `f32`.
fn inputs(scaler: &Standardizer, data: &Encoded) -> Array2<f32> {
    scaler.transform(data).mapv(|v| v as f32)
}

/// The layers being trained: ReLU hidden layers, a linear output layer.
struct Network {
    layers: Vec<Layer>,
}

impl Network {
    /// Layers of widths `width`, `hidden…`, `width`, initialised as PyTorch's `nn.Linear` is
    /// and PyOD's autoencoder starts: a hidden (ReLU) layer's weights He-uniform,
    /// `U(±√(6 / fan_in))` (He et al. 2015, variance 2 / fan_in, which keeps a ReLU layer's
    /// output variance); the linear output layer's weights and every bias `U(±1 / √fan_in)`.
    /// A He-scaled output layer (variance 2 / fan_in, zero biases, tried first) doubles the
    /// output's variance that no ReLU halves, and its detection moved by up to 17 points from
    /// one seed to another on NSL-KDD; these start 1 point apart (bench/NOVELTY.md).
    fn initialised(width: usize, hidden: &[usize], rng: &mut Rng) -> Network {
        let mut widths = vec![width];
        widths.extend_from_slice(hidden);
        widths.push(width);
        let last = widths.len() - 2;
        let mut uniform = |bound: f64, n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| (bound * (2.0 * rng.next_f64() - 1.0)) as f32)
                .collect()
        };
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(index, pair)| {
                let (inputs, outputs) = (pair[0], pair[1]);
                let fan_in = inputs.max(1) as f64;
                let weight_bound = if index == last {
                    1.0 / fan_in.sqrt()
                } else {
                    (6.0 / fan_in).sqrt()
                };
                Layer {
                    inputs,
                    outputs,
                    weights: uniform(weight_bound, inputs * outputs),
                    bias: uniform(1.0 / fan_in.sqrt(), outputs),
                }
            })
            .collect();
        Network { layers }
    }

    fn zeros_like(&self) -> Network {
        Network {
            layers: self
                .layers
                .iter()
                .map(|l| Layer {
                    inputs: l.inputs,
                    outputs: l.outputs,
                    weights: vec![0.0; l.weights.len()],
                    bias: vec![0.0; l.bias.len()],
                })
                .collect(),
        }
    }

    /// Adam over shuffled mini-batches, keeping the weights of the epoch with the lowest
    /// validation loss. The mean training and validation loss of each epoch run.
    fn train(
        &mut self,
        params: &AutoencoderParams,
        x: ArrayView2<'_, f32>,
        valid: ArrayView2<'_, f32>,
        rng: &mut Rng,
    ) -> (Vec<f64>, Vec<f64>) {
        let (n, width) = x.dim();
        let batch = params.batch_size.min(n);
        let mut order: Vec<usize> = (0..n).collect();
        let mut rows = Array2::<f32>::zeros((batch, width));
        let mut work = Workspace::new(&self.layers, batch);
        let mut grad = self.zeros_like();
        let mut mean = self.zeros_like();
        let mut square = self.zeros_like();
        let mut best = (f64::INFINITY, self.layers.clone());
        let (mut training_loss, mut validation_loss) = (Vec::new(), Vec::new());
        let mut step = 0i32;
        let mut stale = 0;
        for _ in 0..params.epochs {
            rng.shuffle(&mut order);
            let mut total = 0.0;
            for chunk in order.chunks(batch) {
                let mut batch_rows = rows.slice_mut(s![..chunk.len(), ..]);
                for (mut row, &i) in batch_rows.rows_mut().into_iter().zip(chunk) {
                    row.assign(&x.row(i));
                }
                total +=
                    self.gradient(batch_rows.view(), &mut grad, &mut work) * chunk.len() as f64;
                step += 1;
                self.adam_step(params, step, &grad, &mut mean, &mut square);
            }
            training_loss.push(total / n as f64);
            let loss = mean_of(&self.row_errors(valid));
            validation_loss.push(loss);
            if loss < best.0 {
                best = (loss, self.layers.clone());
                stale = 0;
            } else {
                stale += 1;
                if stale >= params.patience {
                    break;
                }
            }
        }
        self.layers = best.1;
        (training_loss, validation_loss)
    }

    /// The batch's mean squared error per column (the loss), with its gradient in `grad`.
    fn gradient(&self, x: ArrayView2<'_, f32>, grad: &mut Network, work: &mut Workspace) -> f64 {
        let rows = x.nrows();
        forward(&self.layers, x, &mut work.outputs);
        let last = self.layers.len() - 1;
        let width = x.ncols();
        let scale = 2.0 / (rows * width) as f32;
        let mut loss = 0.0f64;
        {
            let output = work.outputs[last].slice(s![..rows, ..]);
            let mut delta = work.deltas[last].slice_mut(s![..rows, ..]);
            for ((d, &o), &t) in delta.iter_mut().zip(output.iter()).zip(x.iter()) {
                let e = o - t;
                loss += f64::from(e * e);
                *d = scale * e;
            }
        }
        for l in (0..=last).rev() {
            let (lower, upper) = work.deltas.split_at_mut(l);
            let delta = upper[0].slice(s![..rows, ..]);
            let input = if l == 0 {
                x
            } else {
                work.outputs[l - 1].slice(s![..rows, ..])
            };
            let layer = &self.layers[l];
            let g = &mut grad.layers[l];
            let mut gw = ArrayViewMut2::from_shape((layer.inputs, layer.outputs), &mut g.weights)
                .expect("inputs × outputs");
            general_mat_mul(1.0, &input.t(), &delta, 0.0, &mut gw);
            for (b, column) in g.bias.iter_mut().zip(delta.columns()) {
                *b = column.sum();
            }
            if l > 0 {
                let mut below = lower[l - 1].slice_mut(s![..rows, ..]);
                general_mat_mul(1.0, &delta, &layer.weights().t(), 0.0, &mut below);
                // Through the ReLU: no gradient where the unit was off.
                below.zip_mut_with(&input, |d, &a| {
                    if a <= 0.0 {
                        *d = 0.0
                    }
                });
            }
        }
        loss / (rows * width) as f64
    }

    /// One bias-corrected Adam step (Kingma and Ba 2015).
    fn adam_step(
        &mut self,
        params: &AutoencoderParams,
        step: i32,
        grad: &Network,
        mean: &mut Network,
        square: &mut Network,
    ) {
        let (b1, b2) = (params.beta1, params.beta2);
        let rate =
            (params.learning_rate * (1.0 - b2.powi(step)).sqrt() / (1.0 - b1.powi(step))) as f32;
        let (b1, b2, eps) = (b1 as f32, b2 as f32, ADAM_EPSILON as f32);
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let g = &grad.layers[l];
            let m = &mut mean.layers[l];
            let v = &mut square.layers[l];
            for (((w, &g), m), v) in layer
                .weights
                .iter_mut()
                .chain(layer.bias.iter_mut())
                .zip(g.weights.iter().chain(&g.bias))
                .zip(m.weights.iter_mut().chain(m.bias.iter_mut()))
                .zip(v.weights.iter_mut().chain(v.bias.iter_mut()))
            {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *w -= rate * *m / (v.sqrt() + eps);
            }
        }
    }

    /// Each row's mean squared error per column.
    fn row_errors(&self, x: ArrayView2<'_, f32>) -> Vec<f64> {
        let out = reconstruct(&self.layers, x);
        x.rows()
            .into_iter()
            .zip(out.rows())
            .map(|(a, b)| {
                a.iter()
                    .zip(b)
                    .map(|(&a, &b)| f64::from(a - b).powi(2))
                    .sum::<f64>()
                    / x.ncols() as f64
            })
            .collect()
    }
}

fn mean_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Each layer's output for a batch of up to `capacity` rows, and the loss gradient with
/// respect to each layer's pre-activation output, reused across batches.
struct Workspace {
    outputs: Vec<Array2<f32>>,
    deltas: Vec<Array2<f32>>,
}

impl Workspace {
    fn new(layers: &[Layer], capacity: usize) -> Workspace {
        let buffers = || {
            layers
                .iter()
                .map(|l| Array2::zeros((capacity, l.outputs)))
                .collect()
        };
        Workspace {
            outputs: buffers(),
            deltas: buffers(),
        }
    }
}

/// Runs the rows of `x` through `layers`, leaving each layer's output (after ReLU for the
/// hidden ones) in the first `x.nrows()` rows of `outputs`.
fn forward(layers: &[Layer], x: ArrayView2<'_, f32>, outputs: &mut [Array2<f32>]) {
    let rows = x.nrows();
    let last = layers.len() - 1;
    for (l, layer) in layers.iter().enumerate() {
        let (done, rest) = outputs.split_at_mut(l);
        let input = if l == 0 {
            x
        } else {
            done[l - 1].slice(s![..rows, ..])
        };
        let mut output = rest[0].slice_mut(s![..rows, ..]);
        general_mat_mul(1.0, &input, &layer.weights(), 0.0, &mut output);
        let hidden = l < last;
        for mut row in output.rows_mut() {
            for (v, &b) in row.iter_mut().zip(&layer.bias) {
                let z = *v + b;
                *v = if hidden && z < 0.0 { 0.0 } else { z };
            }
        }
    }
}

/// The network's reconstruction of every row of `x`.
fn reconstruct(layers: &[Layer], x: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut outputs: Vec<Array2<f32>> = layers
        .iter()
        .map(|l| Array2::zeros((x.nrows(), l.outputs)))
        .collect();
    forward(layers, x, &mut outputs);
    outputs.pop().expect("at least the output layer")
}

impl Autoencoder {
    pub fn params(&self) -> &AutoencoderParams {
        &self.params
    }

    /// The reconstruction error at or above which a record is flagged (score 0.5).
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Mean training loss of each epoch run.
    pub fn training_loss(&self) -> &[f64] {
        &self.training_loss
    }

    /// Mean loss on the early-stopping rows after each epoch run.
    pub fn validation_loss(&self) -> &[f64] {
        &self.validation_loss
    }

    fn width(&self) -> usize {
        self.layers[0].inputs
    }

    /// Per record, per schema feature (numeric, then categorical: a categorical feature's
    /// one-hot columns summed), its share of the reconstruction error: its columns' squared
    /// errors divided by the row's width. A record's shares add up exactly to its
    /// [`Autoencoder::errors`].
    pub fn error_shares(&self, data: &Encoded) -> Vec<Vec<f64>> {
        assert_eq!(
            data.one_hot_width(),
            self.width(),
            "the records were encoded by another feature pipeline than the model's"
        );
        let numeric = data.num_numeric();
        let width = self.width() as f64;
        let rows: Vec<usize> = (0..data.len()).collect();
        rows.par_chunks(CHUNK_ROWS)
            .flat_map_iter(|chunk| {
                let x = inputs(&self.scaler, &data.select(chunk));
                let out = reconstruct(&self.layers, x.view());
                let shares: Vec<Vec<f64>> = x
                    .rows()
                    .into_iter()
                    .zip(out.rows())
                    .map(|(a, b)| {
                        let squared: Vec<f64> = a
                            .iter()
                            .zip(b)
                            .map(|(&a, &b)| f64::from(a - b).powi(2) / width)
                            .collect();
                        let mut shares: Vec<f64> = squared[..numeric].to_vec();
                        let mut start = numeric;
                        for &cardinality in &data.cardinalities {
                            shares.push(squared[start..start + cardinality].iter().sum());
                            start += cardinality;
                        }
                        shares
                    })
                    .collect();
                shares
            })
            .collect()
    }

    /// Each record's reconstruction error: the sum of its [`Autoencoder::error_shares`], in
    /// feature order.
    pub fn errors(&self, data: &Encoded) -> Vec<f64> {
        self.error_shares(data)
            .iter()
            .map(|shares| shares.iter().sum())
            .collect()
    }
}

impl Inputs for Autoencoder {
    fn input_widths(&self) -> Vec<InputWidth> {
        vec![InputWidth::OneHot {
            columns: self.width(),
            numeric: Some(self.scaler.numeric()),
        }]
    }
}

impl Classifier for Autoencoder {
    /// The reconstruction error mapped to [0, 1], the threshold on 0.5.
    fn score(&self, data: &Encoded) -> Vec<f64> {
        self.errors(data)
            .into_iter()
            .map(|e| novelty_score(e, self.threshold))
            .collect()
    }

    fn describe(&self) -> String {
        let mut widths = vec![self.width()];
        widths.extend(self.layers.iter().map(|l| l.outputs));
        let widths: Vec<String> = widths.iter().map(usize::to_string).collect();
        let best = self
            .validation_loss
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i + 1);
        format!(
            "autoencoder {} (ReLU) on normal rows, Adam learning_rate {} over {} epochs of \
             batch {} (weights of epoch {best}), threshold {:.4e} for {} % false positives on \
             {} held-out normal rows",
            widths.join("-"),
            self.params.learning_rate,
            self.training_loss.len(),
            self.params.batch_size,
            self.threshold,
            self.params.target_fpr * 100.0,
            self.threshold_rows,
        )
    }

    fn fixed_threshold(&self) -> Option<f64> {
        Some(0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;
    use crate::testdata::{sample_split, with_threads};

    fn small() -> AutoencoderParams {
        AutoencoderParams {
            layers: vec![16, 4, 16],
            epochs: 15,
            batch_size: 64,
            ..AutoencoderParams::default()
        }
    }

    /// Analytic gradients against central differences of the loss, in f32 on a tiny network
    /// (coarse tolerance: single precision).
    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(3);
        let net = Network::initialised(5, &[4, 2, 4], &mut rng);
        let x = Array2::from_shape_fn((6, 5), |(i, j)| ((i * 5 + j) as f32 * 0.37).sin());
        let mut grad = net.zeros_like();
        let mut work = Workspace::new(&net.layers, 6);
        net.gradient(x.view(), &mut grad, &mut work);
        let loss = |n: &Network| {
            let mut g = n.zeros_like();
            let mut w = Workspace::new(&n.layers, 6);
            n.gradient(x.view(), &mut g, &mut w)
        };
        let mut checked = 0;
        for l in 0..net.layers.len() {
            for k in 0..net.layers[l].weights.len() {
                let h = 1e-3f32;
                let mut plus = Network {
                    layers: net.layers.clone(),
                };
                plus.layers[l].weights[k] += h;
                let mut minus = Network {
                    layers: net.layers.clone(),
                };
                minus.layers[l].weights[k] -= h;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * f64::from(h));
                let analytic = f64::from(grad.layers[l].weights[k]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 + 0.05 * analytic.abs(),
                    "layer {l} weight {k}: {numeric} vs {analytic}"
                );
                checked += 1;
            }
        }
        assert!(checked > 40);
    }

    #[test]
    fn trained_on_normal_rows_it_ranks_attacks_above_normal_traffic() {
        let split = sample_split();
        let model = small().fit(&split.train, &split.train_labels, 42).unwrap();
        let scores = model.score(&split.test);
        let auc = roc_auc(&split.test_labels, &scores).unwrap();
        assert!(auc > 0.85, "ROC-AUC {auc}");
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        // The validation loss fell from the first epoch to the kept one.
        let kept = model
            .validation_loss()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert!(kept < model.validation_loss()[0]);
        // Normal test rows are flagged at about the target rate or below (few rows).
        let normal: Vec<f64> = scores
            .iter()
            .zip(&split.test_labels)
            .filter(|(_, y)| !**y)
            .map(|(s, _)| *s)
            .collect();
        let flagged = normal.iter().filter(|&&s| s >= 0.5).count() as f64 / normal.len() as f64;
        assert!(flagged < 0.06, "false-positive rate {flagged}");
    }

    /// Attack rows changed beyond recognition: the very same model, bit for bit; and no
    /// normal row to fit on is an error.
    #[test]
    fn attack_rows_never_reach_the_fit() {
        let split = sample_split();
        let model = small().fit(&split.train, &split.train_labels, 42).unwrap();
        let mut garbled = split.train.clone();
        let mut numeric = nadir_data::Rows::new(garbled.numeric.width());
        for (row, &attack) in split.train.numeric.iter().zip(&split.train_labels) {
            if attack {
                numeric.push(&vec![1e6; row.len()]);
            } else {
                numeric.push(row);
            }
        }
        garbled.numeric = numeric;
        assert_eq!(
            small().fit(&garbled, &split.train_labels, 42).unwrap(),
            model
        );
        let attacks: Vec<usize> = (0..split.train.len())
            .filter(|&i| split.train_labels[i])
            .collect();
        let only_attacks = split.train.select(&attacks);
        assert!(matches!(
            small().fit(&only_attacks, &vec![true; attacks.len()], 42),
            Err(FitError::InvalidParameter { .. })
        ));
    }

    #[test]
    fn the_same_seed_gives_the_same_model_whatever_the_thread_count() {
        let split = sample_split();
        let one = with_threads(1, || {
            small().fit(&split.train, &split.train_labels, 7).unwrap()
        });
        let four = with_threads(4, || {
            small().fit(&split.train, &split.train_labels, 7).unwrap()
        });
        assert_eq!(one, four);
        let s1 = with_threads(1, || one.score(&split.test));
        let s4 = with_threads(4, || four.score(&split.test));
        assert_eq!(s1, s4);
        let other = small().fit(&split.train, &split.train_labels, 8).unwrap();
        assert_ne!(one, other);
    }

    #[test]
    fn error_shares_sum_exactly_to_the_error_per_schema_feature() {
        let split = sample_split();
        let model = small().fit(&split.train, &split.train_labels, 1).unwrap();
        let shares = model.error_shares(&split.test);
        let errors = model.errors(&split.test);
        let features = split.test.num_numeric() + split.test.cardinalities.len();
        for (row, error) in shares.iter().zip(&errors) {
            assert_eq!(row.len(), features);
            assert!(row.iter().all(|&s| s >= 0.0));
            assert_eq!(row.iter().sum::<f64>(), *error);
        }
        // The threshold sits where the score is 0.5.
        let at = model.threshold();
        assert_eq!(novelty_score(at, at), 0.5);
        // Its explanations are these shares, adding up to the error.
        let explainer =
            crate::explain::Explainer::of(&crate::AnyModel::Autoencoder(model.clone())).unwrap();
        for (explanation, error) in explainer.explain(&split.test).iter().zip(&errors) {
            assert!((explanation.output() - error).abs() <= 1e-9);
            assert_eq!(explanation.method.name(), "reconstruction_share");
        }
    }

    #[test]
    fn bad_hyperparameters_are_refused_before_any_fit() {
        let bad = [
            AutoencoderParams {
                layers: vec![],
                ..Default::default()
            },
            AutoencoderParams {
                layers: vec![8, 0],
                ..Default::default()
            },
            AutoencoderParams {
                learning_rate: 0.0,
                ..Default::default()
            },
            AutoencoderParams {
                beta2: 1.0,
                ..Default::default()
            },
            AutoencoderParams {
                epochs: 0,
                ..Default::default()
            },
            AutoencoderParams {
                patience: 0,
                ..Default::default()
            },
            AutoencoderParams {
                validation_share: 0.6,
                threshold_share: 0.4,
                ..Default::default()
            },
            AutoencoderParams {
                target_fpr: 0.5,
                ..Default::default()
            },
        ];
        for params in bad {
            assert!(
                matches!(params.check(), Err(FitError::InvalidParameter { .. })),
                "{params:?}"
            );
        }
        assert_eq!(AutoencoderParams::default().check(), Ok(()));
    }

    #[test]
    fn a_tampered_model_is_refused_when_read() {
        let split = sample_split();
        let model = small().fit(&split.train, &split.train_labels, 1).unwrap();
        let read = |m: &Autoencoder| {
            postcard::from_bytes::<Autoencoder>(&postcard::to_stdvec(m).unwrap()).map(drop)
        };
        assert!(read(&model).is_ok());
        let mut nan = model.clone();
        nan.layers[1].weights[0] = f32::NAN;
        assert!(read(&nan).is_err());
        let mut short = model.clone();
        short.layers[2].bias.pop();
        assert!(read(&short).is_err());
        let mut dropped = model.clone();
        dropped.layers.pop();
        assert!(read(&dropped).is_err());
        let mut threshold = model.clone();
        threshold.threshold = 0.0;
        assert!(read(&threshold).is_err());
        let mut params = model.clone();
        params.params.layers = vec![16, 5, 16];
        assert!(read(&params).is_err());
    }
}
