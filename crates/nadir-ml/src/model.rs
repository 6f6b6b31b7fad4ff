//! The two traits every model sits behind, in the manner of linfa: hyperparameters `Fit` a
//! model, and a fitted model scores records. Saving and loading is one implementation for all
//! models, in [`crate::file`], through the serialisable [`crate::AnyModel`].

use nadir_data::Encoded;
use thiserror::Error;

/// Hyperparameters that can be fitted to labelled, encoded records.
pub trait Fit {
    type Model: Classifier;

    /// Fits a model. `labels[i]` is `true` when row `i` is an attack. The same parameters,
    /// data and seed give the same model, bit for bit, whatever the thread count.
    fn fit(&self, data: &Encoded, labels: &[bool], seed: u64) -> Result<Self::Model, FitError>;
}

/// A fitted model.
pub trait Classifier {
    /// Per row, a score in [0, 1] where higher means "more likely an attack": the attack
    /// probability for classifiers, the anomaly score for anomaly detectors.
    fn score(&self, data: &Encoded) -> Vec<f64>;

    /// One line saying what the model is (its size, its main settings).
    fn describe(&self) -> String;

    /// A decision threshold the model fixed itself while fitting (an anomaly detector's
    /// contamination rule); `None` lets the protocol choose one by cross-validation.
    fn fixed_threshold(&self) -> Option<f64> {
        None
    }
}

/// Why fitting failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FitError {
    #[error("no rows to fit on")]
    Empty,
    #[error("labels ({labels}) and rows ({rows}) differ in number")]
    LengthMismatch { rows: usize, labels: usize },
    #[error(
        "the training data holds one class only; a classifier needs both normal and attack rows"
    )]
    SingleClass,
    #[error("parameter `{name}`: {message}")]
    InvalidParameter { name: String, message: String },
}

impl FitError {
    pub fn invalid(name: &str, message: impl Into<String>) -> FitError {
        FitError::InvalidParameter {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// The checks every supervised `fit` starts with.
pub fn check_training_data(data: &Encoded, labels: &[bool]) -> Result<(), FitError> {
    if data.is_empty() {
        return Err(FitError::Empty);
    }
    if data.len() != labels.len() {
        return Err(FitError::LengthMismatch {
            rows: data.len(),
            labels: labels.len(),
        });
    }
    let attacks = labels.iter().filter(|&&y| y).count();
    if attacks == 0 || attacks == labels.len() {
        return Err(FitError::SingleClass);
    }
    Ok(())
}
