//! The best model is picked on training data: by cross-validated F1, never by the held-out
//! rows' F1, which would tune the choice on the rows that are meant to judge it.

use nadir_data::{ReadOptions, read_path};
use nadir_ml::protocol::{TrainOptions, train};
use nadir_ml::registry::ModelKind;
use std::path::PathBuf;

#[test]
fn the_best_model_has_the_best_cross_validated_f1_whatever_its_held_out_f1() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv");
    let data = read_path(&path, ReadOptions::default()).expect("shared data");
    let options = TrainOptions {
        kinds: vec![ModelKind::LogisticRegression, ModelKind::DecisionTree],
        folds: 3,
        ..TrainOptions::default()
    };
    let mut report = train(&data, None, &options, &|_| {}).unwrap().report;
    // Cross-validation and the held-out rows disagree on purpose.
    for model in &mut report.models {
        let (cv_f1, held_out_f1) = match model.name {
            ModelKind::LogisticRegression => (0.99, 0.50),
            _ => (0.50, 0.99),
        };
        model.cross_validation.f1.mean = cv_f1;
        model.holdout.f1 = held_out_f1;
    }
    let best = report.best().expect("two models");
    assert_eq!(best.name, ModelKind::LogisticRegression);
}
