//! `nadir validate --novel` and the hybrid model as a user meets them.

mod common;
use common::{nadir, path, sample, scratch, text, train_on_sample};

/// A hybrid on a decision tree trains in a fraction of the random forest's time.
const TREE_CLASSIFIER: &str = "hybrid.classifier=\"decision_tree\"";

#[test]
fn validate_novel_prints_the_table_and_writes_json() {
    let dir = scratch("novel");
    let json = dir.join("novel.json");
    let out = nadir(&[
        "validate",
        "--novel",
        "--data",
        path(&sample()),
        "--models",
        "dt,hybrid",
        "--set",
        "hybrid.classifier=\"decision_tree\"",
        "--groups",
        "2",
        "--out",
        path(&json),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "DoS",
        "Probe",
        "R2L",
        "U2R",
        "random 2",
        "decision_tree",
        "hybrid",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from\n{stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 6);
    assert_eq!(report["models"].as_array().unwrap().len(), 2);
    for fold in folds {
        let held_out: Vec<&str> = fold["held_out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        for result in fold["results"].as_array().unwrap() {
            let tested: Vec<&String> = result["per_attack"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "normal")
                .collect();
            assert!(tested.iter().all(|k| held_out.contains(&k.as_str())));
            let rate = result["detection_rate"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&rate));
        }
    }
}

#[test]
fn validate_needs_the_novel_flag_and_labelled_data() {
    let out = nadir(&["validate", "--data", path(&sample())]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = nadir(&[
        "validate",
        "--novel",
        "--data",
        path(&sample()),
        "--normal-holdout",
        "1.5",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("normal hold-out share"));
}

#[test]
fn validate_nested_prints_both_levels_and_writes_them_to_json() {
    let dir = scratch("nested");
    let grid = dir.join("grid.toml");
    std::fs::write(
        &grid,
        "[[candidate]]\nname = \"iforest\"\nmodel = \"isolation_forest\"\n\n\
         [[candidate]]\nname = \"tree hybrid\"\nmodel = \"hybrid\"\n\
         set = [\"hybrid.classifier=decision_tree\"]\n",
    )
    .unwrap();
    let json = dir.join("nested.json");
    let out = nadir(&[
        "validate",
        "--novel",
        "--nested",
        "--candidates",
        path(&grid),
        "--data",
        path(&sample()),
        "--groups",
        "1",
        "--out",
        path(&json),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "inner level",
        "outer level",
        "tree hybrid",
        "picked:",
        "U2R",
        "mean",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from\n{stdout}"
        );
    }
    assert!(text(&out.stderr).contains("inner fold"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 5);
    for fold in folds {
        assert_eq!(fold["inner"].as_array().unwrap().len(), 2);
        assert!(!fold["inner_folds"].as_array().unwrap().is_empty());
        let picked = fold["picked"].as_str().unwrap();
        assert!(["iforest", "tree hybrid"].contains(&picked), "{picked}");
        assert!(fold["result"]["detection_rate"].is_number());
    }
    let picks: u64 = report["picks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["picked"].as_u64().unwrap())
        .sum();
    assert_eq!(picks, 5);
    assert!(report["outer"]["detection_at_fpr"].is_array());
}

#[test]
fn nested_needs_the_novel_flag_and_names_its_own_candidates() {
    let out = nadir(&["validate", "--nested", "--data", path(&sample())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--novel"),
        "{}",
        text(&out.stderr)
    );
    let out = nadir(&[
        "validate",
        "--novel",
        "--nested",
        "--models",
        "rf",
        "--data",
        path(&sample()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--models"),
        "{}",
        text(&out.stderr)
    );
    let dir = scratch("nested-bad");
    let grid = dir.join("grid.toml");
    std::fs::write(
        &grid,
        "[[candidate]]\nname = \"wide\"\nmodel = \"hybrid\"\nset = [\"hybrid.neighbours=0\"]\n",
    )
    .unwrap();
    let out = nadir(&[
        "validate",
        "--novel",
        "--nested",
        "--candidates",
        path(&grid),
        "--data",
        path(&sample()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("candidate `wide`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_trained_hybrid_says_which_part_fired() {
    let dir = scratch("hybrid");
    train_on_sample(
        "hybrid",
        &dir,
        &["--set", TREE_CLASSIFIER, "--target-fpr", "0.05"],
    );
    let model = dir.join("hybrid.nadir");
    let out = nadir(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&sample()),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("row,line,prediction,score,fired,family,family_probability,warning")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2000);
    for row in &rows {
        assert_eq!(row[2] == "attack", !row[4].is_empty(), "{row:?}");
        assert!(["", "classifier", "novelty", "both"].contains(&row[4]));
    }
    assert!(rows.iter().any(|r| r[4] == "novelty"));

    let out = nadir(&[
        "evaluate",
        "--model",
        path(&model),
        "--data",
        path(&sample()),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("classifier"));
    let out = nadir(&[
        "evaluate",
        "--model",
        path(&model),
        "--data",
        path(&sample()),
        "--format",
        "json",
    ]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let normal = &e["per_attack"]["normal"];
    let fired = &normal["fired"];
    let parts = ["classifier", "novelty", "both"].map(|k| fired[k].as_u64().unwrap());
    assert_eq!(
        parts.iter().sum::<u64>(),
        normal["flagged"].as_u64().unwrap()
    );
    assert!(e["threshold"].as_f64().unwrap() == 0.5);
}

#[test]
fn target_fpr_moves_the_operating_point() {
    let dir = scratch("fpr");
    let false_alarms = |rate: &str| {
        let out_dir = dir.join(rate);
        train_on_sample(
            "hybrid",
            &out_dir,
            &["--set", TREE_CLASSIFIER, "--target-fpr", rate],
        );
        let out = nadir(&[
            "evaluate",
            "--model",
            path(&out_dir.join("hybrid.nadir")),
            "--data",
            path(&sample()),
            "--format",
            "json",
        ]);
        let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        e["per_attack"]["normal"]["fired"]["novelty"]
            .as_u64()
            .unwrap()
    };
    assert!(false_alarms("0.01") < false_alarms("0.2"));
    let out = nadir(&[
        "train",
        "--data",
        path(&sample()),
        "--models",
        "hybrid",
        "--target-fpr",
        "0",
        "--out",
        path(&dir),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("target_fpr"));
}
