//! The set of models a server holds: every `*.nadir` file of one directory, named by file
//! stem, loaded all together or not at all so that a reload never serves half a directory.

use nadir_ml::Classifier;
use nadir_ml::file::{EXTENSION, SavedModel};
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
}

/// Every model of the directory, by name.
#[derive(Debug, Default)]
pub struct ModelSet {
    pub dir: PathBuf,
    models: BTreeMap<String, Arc<LoadedModel>>,
}

/// Why a directory could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read the model directory {dir}: {source}")]
    Dir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} bad model file(s): {}", .0.len(), .0.join("; "))]
    BadFiles(Vec<String>),
}

impl ModelSet {
    /// Loads every `*.nadir` file of `dir`; any bad file fails the whole load, naming every
    /// bad file and why.
    pub fn load(dir: &Path) -> Result<ModelSet, LoadError> {
        let dir_error = |source| LoadError::Dir {
            dir: dir.display().to_string(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_error)? {
            let path = entry.map_err(dir_error)?.path();
            if path.extension().is_some_and(|e| e == EXTENSION) && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut models = BTreeMap::new();
        let mut bad = Vec::new();
        for path in paths {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match SavedModel::load(&path) {
                Ok(model) => {
                    let summary = summary(&name, &model);
                    models.insert(
                        name.clone(),
                        Arc::new(LoadedModel {
                            name,
                            model,
                            summary,
                        }),
                    );
                }
                Err(e) => bad.push(e.to_string()),
            }
        }
        if !bad.is_empty() {
            return Err(LoadError::BadFiles(bad));
        }
        Ok(ModelSet {
            dir: dir.to_path_buf(),
            models,
        })
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
        "detector": model.kind().is_detector(),
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
