//! The model directory `nadir train --out DIR` writes and the server and the report read:
//!
//! ```text
//! DIR/<model name>.nadir   one model file per trained model (crate::file), named by its kind
//! DIR/metrics.json         the run's TrainReport (split, folds, every model's metrics)
//! ```
//!
//! Every file is written atomically (a temporary file beside it, synced, then renamed), so a
//! server loading the directory while `nadir train` writes it never reads half a file.

use crate::file::{EXTENSION, ModelFileError, SavedModel};
use crate::protocol::{TrainReport, Trained};
use crate::registry::ModelKind;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The name of the run's metrics file in a model directory.
pub const METRICS_FILE: &str = "metrics.json";

/// What to do about a directory that is not a model directory, said in errors.
const HINT: &str = "is it a directory written by `nadir train --out DIR`?";

/// A model directory that could not be written or read.
#[derive(Debug, Error)]
pub enum ModelDirError {
    #[error("cannot create the model directory {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the model directory {path}: {source} ({HINT})")]
    ReadDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source} ({HINT})")]
    ReadMetrics {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not the metrics of a `nadir train` run of this version: {message}; train again with `nadir train --out DIR`"
    )]
    Metrics { path: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Model(#[from] ModelFileError),
}

/// Where the model of `kind` lives in `dir`: `dir/<kind's name>.nadir`.
pub fn model_path(dir: &Path, kind: ModelKind) -> PathBuf {
    dir.join(format!("{}.{EXTENSION}", kind.name()))
}

/// Where the run's metrics live in `dir`: `dir/metrics.json`.
pub fn metrics_path(dir: &Path) -> PathBuf {
    dir.join(METRICS_FILE)
}

/// The name a model file goes by (its file stem: `random_forest` for
/// `random_forest.nadir`), which the server routes by.
pub fn model_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every model file of `dir` (regular files ending in `.nadir`), sorted by path.
pub fn model_files(dir: &Path) -> Result<Vec<PathBuf>, ModelDirError> {
    let error = |source| ModelDirError::ReadDir {
        path: dir.display().to_string(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let path = entry.map_err(error)?.path();
        if path.extension().is_some_and(|e| e == EXTENSION) && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Writes a training run to `dir`, creating it: each model at [`model_path`] and the report at
/// [`metrics_path`], every file atomically. Returns the paths written, models first.
pub fn save(dir: &Path, trained: &Trained) -> Result<Vec<PathBuf>, ModelDirError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelDirError::Create {
        path: dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::with_capacity(trained.models.len() + 1);
    for model in &trained.models {
        let path = model_path(dir, model.kind());
        model.save(&path)?;
        written.push(path);
    }
    let path = metrics_path(dir);
    let json = serde_json::to_string_pretty(&trained.report).expect("reports serialise") + "\n";
    write_atomically(&path, json.as_bytes())?;
    written.push(path);
    Ok(written)
}

/// Reads `dir/metrics.json`.
pub fn load_metrics(dir: &Path) -> Result<TrainReport, ModelDirError> {
    let path = metrics_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|source| ModelDirError::ReadMetrics {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ModelDirError::Metrics {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Loads the model of `kind` from `dir`.
pub fn load_model(dir: &Path, kind: ModelKind) -> Result<SavedModel, ModelDirError> {
    Ok(SavedModel::load(&model_path(dir, kind))?)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it to `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelDirError> {
    let error = |source| ModelDirError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    std::fs::rename(&tmp, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{TrainOptions, train};
    use crate::testdata::shared_data;
    use nadir_data::{ReadOptions, read_path};

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nadir-model-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_saved_run_reads_back_by_kind_and_lists_its_files() {
        let data = read_path(
            &shared_data("Network_anomaly_sample.csv"),
            ReadOptions::default(),
        )
        .unwrap();
        let mut options = TrainOptions {
            kinds: vec![ModelKind::LogisticRegression, ModelKind::DecisionTree],
            folds: 2,
            ..TrainOptions::default()
        };
        options.config.logistic_regression.max_iter = 20;
        options.config.decision_tree.max_depth = Some(3);
        let trained = train(&data, None, &options, &|_| {}).unwrap();
        let dir = scratch("run").join("nested");
        let written = save(&dir, &trained).unwrap();
        let expected = [
            dir.join("logistic_regression.nadir"),
            dir.join("decision_tree.nadir"),
            dir.join("metrics.json"),
        ];
        assert_eq!(written, expected);
        assert_eq!(model_path(&dir, ModelKind::DecisionTree), expected[1]);
        assert_eq!(metrics_path(&dir), expected[2]);
        std::fs::write(dir.join("notes.txt"), "not a model").unwrap();
        std::fs::create_dir(dir.join("old.nadir")).unwrap();
        assert_eq!(
            model_files(&dir).unwrap(),
            [expected[1].clone(), expected[0].clone()]
        );
        assert_eq!(model_name(&expected[1]), "decision_tree");
        let metrics = load_metrics(&dir).unwrap();
        assert_eq!(metrics.models.len(), 2);
        let tree = load_model(&dir, ModelKind::DecisionTree).unwrap();
        assert_eq!(tree, trained.models[1]);
        let leftovers = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn errors_name_the_path_and_how_to_make_a_model_directory() {
        let dir = scratch("missing");
        let missing = load_metrics(&dir).unwrap_err();
        assert!(matches!(missing, ModelDirError::ReadMetrics { .. }));
        let text = missing.to_string();
        assert!(
            text.contains(&metrics_path(&dir).display().to_string())
                && text.contains("nadir train --out DIR"),
            "{text}"
        );
        let listing = model_files(&dir).unwrap_err().to_string();
        assert!(
            listing.contains(&dir.display().to_string()) && listing.contains("nadir train --out"),
            "{listing}"
        );
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(metrics_path(&dir), "{\"models\": 3}").unwrap();
        let bad = load_metrics(&dir).unwrap_err();
        assert!(matches!(bad, ModelDirError::Metrics { .. }), "{bad}");
        assert!(bad.to_string().contains("metrics.json"), "{bad}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
