//! Network anomaly detectors for nadir: the model traits, the classifiers, metrics, the
//! evaluation protocol, the model file format and directory, and the output contract of a
//! scored record.

pub mod autoencoder;
pub mod binning;
pub mod cluster;
mod cpu;
pub mod dbscan;
pub mod ecs;
pub mod ensemble;
pub mod explain;
pub mod family;
pub mod file;
pub mod fitting;
pub mod forest;
pub mod gbdt;
pub mod hybrid;
pub mod iforest;
#[cfg(test)]
mod leaks;
pub mod linear;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod model_dir;
pub mod multitree;
mod neighbours;
pub mod nested;
pub mod novel;
pub mod output;
pub mod pca;
pub mod protocol;
pub mod registry;
pub mod scale;
pub mod split;
#[cfg(test)]
mod testdata;
pub mod tree;
pub mod voting;

pub use model::{Classifier, Fit, FitError, FitMulti, MultiClassifier};
pub use registry::{AnyModel, ModelConfig, ModelKind};
