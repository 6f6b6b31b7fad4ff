//! The set of models a server holds: every `*.nadir` file of one directory
//! ([`nadir_ml::model_dir`]), named by file stem, loaded all together or not at all so that a reload never serves half a directory.
//! The models of a directory score records of one schema (the same features), which the set
//! knows and the body parsers read against.

use crate::body::Fields;
use nadir_data::Schema;
use nadir_ml::Classifier;
use nadir_ml::file::SavedModel;
use nadir_ml::model_dir::{self, ModelDirError};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// The model `POST /v1/predict` and the legacy `POST /predict` use.
pub const DEFAULT_CLASSIFIER: &str = "random_forest";
/// The model `POST /v1/anomaly` uses.
pub const DEFAULT_DETECTOR: &str = "isolation_forest";

/// One loaded model.
#[derive(Debug)]
pub struct LoadedModel {
    pub name: String,
    pub model: SavedModel,
    /// Its entry in `GET /v1/models`, built once at load time.
    pub summary: Value,
    /// The features of the set's schema as the body parsers look them up; shared by every
    /// model of the set, so a request reads its body against the model it is scored by.
    pub fields: Arc<Fields>,
}

/// Every model of the directory, by name.
#[derive(Debug, Default)]
pub struct ModelSet {
    pub dir: PathBuf,
    models: BTreeMap<String, Arc<LoadedModel>>,
    /// The schema the models share; `None` when none is loaded.
    fields: Option<Arc<Fields>>,
}

/// Why a directory could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Dir(#[from] ModelDirError),
    #[error("{} bad model file(s): {}", .0.len(), .0.join("; "))]
    BadFiles(Vec<String>),
    #[error(
        "the models of {dir} score records of different features: {first_model} was trained on schema `{first}`, {other_model} on `{other}`; put the models of each schema in a directory of their own and run a server for each"
    )]
    MixedSchemas {
        dir: String,
        first_model: String,
        first: String,
        other_model: String,
        other: String,
    },
}

impl ModelSet {
    /// Loads every `*.nadir` file of `dir`; any bad file fails the whole load, naming every
    /// bad file and why, and so do models whose schemas differ in their features.
    pub fn load(dir: &Path) -> Result<ModelSet, LoadError> {
        let mut loaded = Vec::new();
        let mut bad = Vec::new();
        for path in model_dir::model_files(dir)? {
            let name = model_dir::model_name(&path);
            match SavedModel::load(&path) {
                Ok(model) => loaded.push((name, model)),
                Err(e) => bad.push(e.to_string()),
            }
        }
        if !bad.is_empty() {
            return Err(LoadError::BadFiles(bad));
        }
        let Some((first_model, first)) = loaded.first() else {
            return Ok(ModelSet {
                dir: dir.to_path_buf(),
                ..ModelSet::default()
            });
        };
        let schema: &Arc<Schema> = first.pipeline.schema();
        if let Some((other_model, other)) = loaded
            .iter()
            .find(|(_, m)| !m.pipeline.schema().same_features(schema))
        {
            return Err(LoadError::MixedSchemas {
                dir: dir.display().to_string(),
                first_model: first_model.clone(),
                first: schema.title(),
                other_model: other_model.clone(),
                other: other.pipeline.schema().title(),
            });
        }
        let fields = Arc::new(Fields::new(schema.clone()));
        let models = loaded
            .into_iter()
            .map(|(name, model)| {
                let summary = summary(&name, &model);
                let loaded = LoadedModel {
                    name: name.clone(),
                    model,
                    summary,
                    fields: fields.clone(),
                };
                (name, Arc::new(loaded))
            })
            .collect();
        Ok(ModelSet {
            dir: dir.to_path_buf(),
            models,
            fields: Some(fields),
        })
    }

    /// The schema of the loaded models, with its lookup tables; `None` when none is loaded.
    pub fn fields(&self) -> Option<&Arc<Fields>> {
        self.fields.as_ref()
    }

    /// The schema of the loaded models; `None` when none is loaded.
    pub fn schema(&self) -> Option<&Arc<Schema>> {
        self.fields.as_ref().map(|f| f.schema())
    }

    pub fn get(&self, name: &str) -> Option<&Arc<LoadedModel>> {
        self.models.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.models.keys().map(String::as_str).collect()
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<LoadedModel>> {
        self.models.values()
    }
}

fn summary(name: &str, model: &SavedModel) -> Value {
    json!({
        "name": name,
        "kind": model.kind().name(),
        "schema": model.pipeline.schema().title(),
        "detector": model.kind().is_detector(),
        "score_field": model.kind().score_field(),
        "score_description": model.kind().score().description(),
        "columns": nadir_ml::output::columns(model.kind()),
        "threshold": model.threshold,
        "threshold_rule": model.threshold_rule,
        "describe": model.model.describe(),
        "training": model.training,
        "metrics": model.metrics,
        "nadir_version": model.nadir_version,
    })
}

/// How to get a default model that is missing, for the 404 message.
pub fn training_hint(name: &str, dir: &Path) -> Option<String> {
    let command = match name {
        DEFAULT_CLASSIFIER => "nadir train --models rf",
        DEFAULT_DETECTOR => "nadir train --models iforest --normal-only",
        _ => return None,
    };
    Some(format!(
        "train it with `{command} --out {}` then reload the server (SIGHUP or POST /v1/admin/reload)",
        dir.display()
    ))
}
