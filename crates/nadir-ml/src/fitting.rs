//! Fitting models on one set of rows, each once: the one place a model made of other models
//! (voting, the hybrid) gets its parts. `train`, `validate --novel` and [`fit`] all fit
//! through `Fits`, so a voting ensemble reuses members fitted beside it, and a hybrid its
//! classifier.

use crate::model::{Classifier, FitError};
use crate::registry::{self, AnyModel, CheckedConfig, ModelConfig, ModelKind};
use nadir_data::Encoded;
use std::collections::BTreeMap;
use std::time::Instant;

/// Where the protocols get their fitted models: [`Catalogue`] in every real run. The seam
/// exists so the leak tests can fit a spy instead, one that records which rows reach each
/// fit and scores rows so that a chosen threshold names the rows that chose it.
pub(crate) trait Fitter {
    type Model: Classifier + Clone;

    /// Fits one model of `kind`; `parts` are the models [`ModelConfig::parts`] names for it,
    /// already fitted on the same rows.
    fn fit(
        &self,
        kind: ModelKind,
        config: &ModelConfig,
        parts: Vec<Self::Model>,
        data: &Encoded,
        labels: &[bool],
        seed: u64,
    ) -> Result<Self::Model, FitError>;
}

/// The models of [`crate::registry`].
pub(crate) struct Catalogue;

impl Fitter for Catalogue {
    type Model = AnyModel;

    fn fit(
        &self,
        kind: ModelKind,
        config: &ModelConfig,
        parts: Vec<AnyModel>,
        data: &Encoded,
        labels: &[bool],
        seed: u64,
    ) -> Result<AnyModel, FitError> {
        registry::build(kind, config, parts, data, labels, seed)
    }
}

/// A model fitted by [`Fits`], and the wall-clock seconds it took: for a model made of
/// parts, its own fit's and its parts' added up.
#[derive(Debug, Clone)]
pub(crate) struct Fitted<M> {
    pub(crate) model: M,
    pub(crate) seconds: f64,
}

/// Fits models on one set of rows, each at most once, parts before the models made of them,
/// from a configuration already checked for them.
pub(crate) struct Fits<'a, F: Fitter> {
    fitter: &'a F,
    config: &'a CheckedConfig<'a>,
    data: &'a Encoded,
    labels: &'a [bool],
    seed: u64,
    fitted: BTreeMap<ModelKind, Fitted<F::Model>>,
}

impl<'a, F: Fitter> Fits<'a, F> {
    pub(crate) fn new(
        fitter: &'a F,
        config: &'a CheckedConfig<'a>,
        data: &'a Encoded,
        labels: &'a [bool],
        seed: u64,
    ) -> Self {
        Fits {
            fitter,
            config,
            data,
            labels,
            seed,
            fitted: BTreeMap::new(),
        }
    }

    /// The model of `kind`, one of the checked configuration's, fitted now (with any of its
    /// parts not yet fitted) or before.
    pub(crate) fn get(&mut self, kind: ModelKind) -> Result<&Fitted<F::Model>, FitError> {
        debug_assert!(
            self.config.kinds().contains(&kind),
            "{kind} was not checked"
        );
        if !self.fitted.contains_key(&kind) {
            let mut parts = Vec::new();
            let mut parts_seconds = 0.0;
            for part in self.config.config().parts(kind) {
                let fitted = self.get(part)?;
                parts.push(fitted.model.clone());
                parts_seconds += fitted.seconds;
            }
            let start = Instant::now();
            let model = self.fitter.fit(
                kind,
                self.config.config(),
                parts,
                self.data,
                self.labels,
                self.seed,
            )?;
            let seconds = parts_seconds + start.elapsed().as_secs_f64();
            self.fitted.insert(kind, Fitted { model, seconds });
        }
        Ok(&self.fitted[&kind])
    }

    /// Every model fitted so far.
    pub(crate) fn into_fitted(self) -> BTreeMap<ModelKind, Fitted<F::Model>> {
        self.fitted
    }
}

/// Fits one model of `kind` with its section of `config` (and its parts with theirs), once
/// they have passed their checks.
pub fn fit(
    kind: ModelKind,
    config: &ModelConfig,
    data: &Encoded,
    labels: &[bool],
    seed: u64,
) -> Result<AnyModel, FitError> {
    let config = config.check(&[kind])?;
    let mut fits = Fits::new(&Catalogue, &config, data, labels, seed);
    fits.get(kind)?;
    let mut fitted = fits.into_fitted();
    Ok(fitted.remove(&kind).expect("just fitted").model)
}
