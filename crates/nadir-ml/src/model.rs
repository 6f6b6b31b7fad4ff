//! The two traits every model sits behind, in the manner of linfa: hyperparameters `Fit` a
//! model, and a fitted model scores records. Saving and loading is one implementation for all
//! models, in [`crate::file`], through the serialisable [`crate::AnyModel`].

use nadir_data::{Encoded, FeaturePipeline};
use serde::{Deserialize, Deserializer, Serialize};
use std::cell::{Cell, RefCell};
use std::fmt;
use thiserror::Error;

/// Hyperparameters that can say whether they are valid without any data, so a bad value
/// stops a run before any model is fitted (linfa's `ParamGuard`). Fitting checks them too.
pub trait ParamGuard {
    /// [`FitError::InvalidParameter`] naming the first bad parameter.
    fn check(&self) -> Result<(), FitError>;
}

/// Hyperparameters that can be fitted to labelled, encoded records.
pub trait Fit: ParamGuard {
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

    /// The scores, and for a model whose parts flag records each on their own (the hybrid's
    /// classifier and novelty detector) every part's scores too, so that a prediction can
    /// say which part fired. One call, as such a model's score is made from its parts'.
    fn score_with_parts(&self, data: &Encoded) -> (Vec<f64>, Option<Vec<PartScores>>) {
        (self.score(data), None)
    }
}

/// Hyperparameters that can be fitted to records labelled with one of several classes (the
/// attack families: normal, DoS, Probe, …), for the models that have a multi-class form.
pub trait FitMulti: ParamGuard {
    type Model: MultiClassifier;

    /// Fits a model. `classes[i] < n_classes` is row `i`'s class. The same parameters, data
    /// and seed give the same model, bit for bit, whatever the thread count.
    fn fit_multi(
        &self,
        data: &Encoded,
        classes: &[u32],
        n_classes: usize,
        seed: u64,
    ) -> Result<Self::Model, FitError>;
}

/// A fitted multi-class model.
pub trait MultiClassifier {
    /// The number of classes it tells apart.
    fn n_classes(&self) -> usize;

    /// Per row, each class's probability: `rows × n_classes` values, row by row, each row
    /// summing to 1.
    fn class_probabilities(&self, data: &Encoded) -> Vec<f64>;
}

/// Each part's score of one record, mapped so that each part's own threshold is 0.5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartScores {
    pub classifier: f64,
    pub novelty: f64,
}

impl PartScores {
    /// The hybrid's score, at least 0.5 exactly when a part reaches its own threshold. Rows
    /// the classifier flags rank above every row it does not (in [0.75, 1], by the larger
    /// part); the others rank by the novelty part alone, its [0.5, 1) squeezed into
    /// [0.5, 0.75). So any threshold up to 0.75 flags what the classifier flags at its own
    /// threshold OR what the novelty part flags at some threshold of its own: the operating
    /// points `target_fpr` reaches, and detection at a fixed false-positive rate sweeps the
    /// novelty threshold alone (with the larger of the two, sweeping it lowered the
    /// classifier's threshold too, and its extra false positives spent the budget).
    pub fn combined(&self) -> f64 {
        let beyond = |s: f64| (2.0 * s - 1.0).max(0.0);
        if self.classifier >= 0.5 {
            0.75 + 0.25 * beyond(self.classifier).max(beyond(self.novelty))
        } else if self.novelty < 0.5 {
            self.novelty
        } else {
            0.5 + 0.25 * beyond(self.novelty)
        }
    }

    /// Which part reaches `threshold` (0.5: each part's own threshold).
    pub fn fired(&self, threshold: f64) -> Option<Fired> {
        Fired::of(self.classifier >= threshold, self.novelty >= threshold)
    }
}

/// Which part of a hybrid flagged a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fired {
    Classifier,
    Novelty,
    Both,
}

impl Fired {
    /// The part that fired, if any, given whether each part's score reaches the threshold.
    pub fn of(classifier: bool, novelty: bool) -> Option<Fired> {
        match (classifier, novelty) {
            (true, true) => Some(Fired::Both),
            (true, false) => Some(Fired::Classifier),
            (false, true) => Some(Fired::Novelty),
            (false, false) => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fired::Classifier => "classifier",
            Fired::Novelty => "novelty",
            Fired::Both => "both",
        }
    }
}

impl fmt::Display for Fired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded model that breaks its own rules (shapes that do not fit together, numbers that
/// are not finite): a corrupt but well-formed model file then fails to load instead of
/// panicking or scoring nonsense later.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{0}")]
pub struct MalformedModel(pub String);

thread_local! {
    /// The first load check refused on this thread since [`take_refusal`] last ran: postcard
    /// drops the text of a deserialisation error, so the model file reader takes it from here
    /// to say what is wrong.
    static REFUSAL: RefCell<Option<String>> = const { RefCell::new(None) };
}

thread_local! {
    /// The format version of the model file being decoded on this thread: parts whose layout
    /// changed since an older version still read (see [`crate::file::OLDEST_READABLE`])
    /// decode that version's layout. Outside a file's reading, the current one.
    static READING_FORMAT: Cell<u32> = const { Cell::new(crate::file::FORMAT_VERSION) };
}

/// The format version of the model file being decoded on this thread.
pub(crate) fn reading_format() -> u32 {
    READING_FORMAT.get()
}

/// Runs `decode` with [`reading_format`] saying `version`, then restores the current one.
pub(crate) fn with_reading_format<T>(version: u32, decode: impl FnOnce() -> T) -> T {
    READING_FORMAT.set(version);
    let decoded = decode();
    READING_FORMAT.set(crate::file::FORMAT_VERSION);
    decoded
}

/// Deserialises a `T` checked on load: its unchecked form `S`, then `T::try_from`. Every
/// model part with load checks deserialises through here (see [`load_checked!`])
/// rather than serde's `try_from` attribute, so that the refusal's text reaches the error.
pub(crate) fn deserialize_checked<'de, D, S, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    S: Deserialize<'de>,
    T: TryFrom<S, Error: fmt::Display>,
{
    T::try_from(S::deserialize(deserializer)?).map_err(|error| refusal(error.to_string()))
}

/// A deserialisation error saying `text`, which [`take_refusal`] gives back (postcard's
/// errors drop it) unless an earlier refusal on this thread is waiting there.
pub(crate) fn refusal<E: serde::de::Error>(text: String) -> E {
    let error = E::custom(&text);
    REFUSAL.with_borrow_mut(|first| {
        first.get_or_insert(text);
    });
    error
}

/// The text of the first load check refused on this thread since the last call, if any.
pub(crate) fn take_refusal() -> Option<String> {
    REFUSAL.with_borrow_mut(Option::take)
}

/// `impl Deserialize for $model` through [`deserialize_checked`] from `$stored`.
macro_rules! load_checked {
    ($model:ty, $stored:ty) => {
        impl<'de> serde::Deserialize<'de> for $model {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::model::deserialize_checked::<D, $stored, $model>(deserializer)
            }
        }
    };
}
pub(crate) use load_checked;

/// Whether every value is a finite number.
pub(crate) fn all_finite(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite())
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
    #[error("row {row} has class {class}, but there are only {n_classes} classes")]
    UnknownClass {
        row: usize,
        class: u32,
        n_classes: usize,
    },
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

/// The checks every [`FitMulti::fit_multi`] starts with: rows to fit, one class per row, every
/// class below `n_classes`, and at least two classes present.
pub fn check_class_data(data: &Encoded, classes: &[u32], n_classes: usize) -> Result<(), FitError> {
    if data.is_empty() {
        return Err(FitError::Empty);
    }
    if data.len() != classes.len() {
        return Err(FitError::LengthMismatch {
            rows: data.len(),
            labels: classes.len(),
        });
    }
    if let Some((row, &class)) = classes
        .iter()
        .enumerate()
        .find(|&(_, &c)| c as usize >= n_classes)
    {
        return Err(FitError::UnknownClass {
            row,
            class,
            n_classes,
        });
    }
    if classes.iter().all(|&c| c == classes[0]) {
        return Err(FitError::SingleClass);
    }
    Ok(())
}

/// The width of the encoded rows a fitted model reads: checked against the feature pipeline
/// saved beside it when a model file is read, so that a file whose model and pipeline
/// disagree is a load error rather than a panic or nonsense when it scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputWidth {
    /// One-hot rows (linear models, SVMs, the MLP, the isolation forest, PCA): `columns` in
    /// all, of which the first `numeric` are scaled, when the model has a scaler.
    OneHot {
        columns: usize,
        numeric: Option<usize>,
    },
    /// Tree columns (tree models): the numeric features, then one per categorical feature;
    /// `numeric` when the model records where the categorical ones start.
    TreeColumns {
        columns: usize,
        numeric: Option<usize>,
    },
}

impl InputWidth {
    /// The width `pipeline` encodes, in this width's terms.
    pub fn of_pipeline(self, pipeline: &FeaturePipeline) -> InputWidth {
        let schema = pipeline.schema();
        let numeric = schema.num_numeric();
        match self {
            InputWidth::OneHot {
                numeric: scaled, ..
            } => InputWidth::OneHot {
                columns: pipeline.one_hot_width(),
                numeric: scaled.map(|_| numeric),
            },
            InputWidth::TreeColumns { numeric: split, .. } => InputWidth::TreeColumns {
                columns: numeric + schema.num_categorical(),
                numeric: split.map(|_| numeric),
            },
        }
    }
}

impl fmt::Display for InputWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputWidth::OneHot {
                columns,
                numeric: Some(numeric),
            } => write!(f, "{columns} one-hot columns ({numeric} numeric)"),
            InputWidth::OneHot {
                columns,
                numeric: None,
            } => write!(f, "{columns} one-hot columns"),
            InputWidth::TreeColumns {
                columns,
                numeric: Some(numeric),
            } => write!(f, "{columns} tree columns ({numeric} numeric)"),
            InputWidth::TreeColumns {
                columns,
                numeric: None,
            } => write!(f, "{columns} tree columns"),
        }
    }
}

/// What a fitted model reads of each row: one width per part that reads rows (a voting
/// ensemble's members, a hybrid's classifier and novelty detector).
pub trait Inputs {
    fn input_widths(&self) -> Vec<InputWidth>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::nsl_encoded;

    #[test]
    fn class_data_is_checked_before_any_fit() {
        let data = nsl_encoded(vec![vec![0.0; 38], vec![1.0; 38], vec![2.0; 38]]);
        assert_eq!(check_class_data(&data, &[0, 1, 2], 3), Ok(()));
        assert_eq!(
            check_class_data(&data, &[0, 3, 1], 3),
            Err(FitError::UnknownClass {
                row: 1,
                class: 3,
                n_classes: 3
            })
        );
        assert_eq!(
            check_class_data(&data, &[2, 2, 2], 3),
            Err(FitError::SingleClass)
        );
        assert_eq!(
            check_class_data(&data, &[0, 1], 3),
            Err(FitError::LengthMismatch { rows: 3, labels: 2 })
        );
    }
}
