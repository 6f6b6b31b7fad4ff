//! A schema of the user's own, declared in TOML: every command works on it, files are checked
//! against the schema a model was trained on, and `--drop` leaves features out for good.

use std::path::{Path, PathBuf};

mod common;
use common::{nadir, path, sample, scratch, text};

const TOY: &str = r#"
name = "toy"
description = "flows of a made-up exporter"
never_features = ["flow_id"]

[label]
column = "verdict"
normal = "ok"

[[feature]]
name = "bytes"
kind = "count"

[[feature]]
name = "proto"
kind = "categorical"

[[feature]]
name = "ratio"
kind = "rate"

[[feature]]
name = "skew"
kind = "continuous"
"#;

/// `rows` records whose verdict follows a rule a tree can learn (a high ratio or ICMP is a
/// scan), in a file with the columns in their own order and an id the schema never uses.
fn toy_csv(rows: usize, seed: u64, with_skew: bool) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut csv = String::from(if with_skew {
        "flow_id,verdict,skew,ratio,proto,bytes\n"
    } else {
        "flow_id,verdict,ratio,proto,bytes\n"
    });
    for id in 0..rows {
        let ratio = (next() % 1000) as f64 / 1000.0;
        let proto = ["tcp", "udp", "icmp"][(next() % 3) as usize];
        let bytes = next() % 5000;
        let skew = (next() % 200) as f64 / 10.0 - 10.0;
        let scan = ratio > 0.6 || proto == "icmp";
        let verdict = if scan { "scan" } else { "ok" };
        if with_skew {
            csv += &format!("{id},{verdict},{skew},{ratio},{proto},{bytes}\n");
        } else {
            csv += &format!("{id},{verdict},{ratio},{proto},{bytes}\n");
        }
    }
    csv
}

struct Toy {
    dir: PathBuf,
}

impl Toy {
    fn new(name: &str) -> Toy {
        let dir = scratch(name);
        std::fs::write(dir.join("toy.toml"), TOY).unwrap();
        std::fs::write(dir.join("train.csv"), toy_csv(600, 1, true)).unwrap();
        std::fs::write(dir.join("test.csv"), toy_csv(300, 2, true)).unwrap();
        std::fs::write(dir.join("test-no-skew.csv"), toy_csv(300, 2, false)).unwrap();
        Toy { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn succeed(args: &[&str]) -> (String, String) {
    let result = nadir(args);
    assert!(
        result.status.success(),
        "nadir {args:?}: {}",
        text(&result.stderr)
    );
    (text(&result.stdout), text(&result.stderr))
}

fn fail(args: &[&str]) -> String {
    let result = nadir(args);
    assert!(!result.status.success(), "nadir {args:?} should fail");
    text(&result.stderr)
}

fn model(dir: &Path, kind: &str) -> PathBuf {
    dir.join("models").join(format!("{kind}.nadir"))
}

#[test]
fn a_users_schema_trains_predicts_evaluates_and_explores() {
    let toy = Toy::new("own-schema");
    let (train, schema, test) = (
        toy.file("train.csv"),
        toy.file("toy.toml"),
        toy.file("test.csv"),
    );
    let models = toy.file("models");
    let (stdout, stderr) = succeed(&[
        "train",
        "--data",
        path(&train),
        "--schema",
        path(&schema),
        "--models",
        "dt,lr,rf",
        "--folds",
        "2",
        "--out",
        path(&models),
    ]);
    assert!(
        stderr.contains("read 600 rows of") && stderr.contains("as schema toy"),
        "{stderr}"
    );
    assert!(stdout.contains("random_forest"), "{stdout}");

    let (report, _) = succeed(&[
        "evaluate",
        "--model",
        path(&model(&toy.dir, "decision_tree")),
        "--data",
        path(&test),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.95,
        "the rule is learnable: accuracy {accuracy}"
    );

    let (predictions, _) = succeed(&[
        "predict",
        "--model",
        path(&model(&toy.dir, "random_forest")),
        "--data",
        path(&test),
    ]);
    assert_eq!(predictions.lines().count(), 301);
    assert!(
        predictions.starts_with("row,line,prediction,"),
        "{predictions}"
    );

    let (exploration, _) = succeed(&[
        "explore",
        "--data",
        path(&train),
        "--schema",
        path(&schema),
        "--format",
        "json",
    ]);
    let exploration: serde_json::Value = serde_json::from_str(&exploration).unwrap();
    assert_eq!(exploration["schema"], "toy");
    assert_eq!(exploration["hypotheses"].as_array().unwrap().len(), 0);
    assert_eq!(exploration["features"].as_array().unwrap().len(), 3);
}

#[test]
fn files_are_checked_against_the_models_schema_naming_what_is_missing() {
    let toy = Toy::new("schema-mismatch");
    let (train, schema) = (toy.file("train.csv"), toy.file("toy.toml"));
    let models = toy.file("models");
    succeed(&[
        "train",
        "--data",
        path(&train),
        "--schema",
        path(&schema),
        "--models",
        "dt",
        "--folds",
        "2",
        "--out",
        path(&models),
    ]);
    let tree = model(&toy.dir, "decision_tree");
    let nsl = sample();
    let error = fail(&["predict", "--model", path(&tree), "--data", path(&nsl)]);
    assert!(
        error.contains(
            "line 1 names none of the columns of schema `toy` (bytes, proto, ratio, skew); its files need a header naming them"
        ),
        "{error}"
    );
    let partial = toy.file("partial.csv");
    std::fs::write(
        &partial,
        "verdict,bytes,proto
ok,1,tcp
",
    )
    .unwrap();
    let error = fail(&["predict", "--model", path(&tree), "--data", path(&partial)]);
    assert!(
        error.contains("the header lacks the column(s) ratio, skew of schema `toy`"),
        "{error}"
    );
    let error = fail(&[
        "evaluate",
        "--model",
        path(&tree),
        "--data",
        path(&train),
        "--drop",
        "skew",
    ]);
    assert!(
        error.contains(
            "--schema and --drop apply when training; here the model's schema (toy) decides"
        ),
        "{error}"
    );
    // Without --schema the header names no built-in schema's columns: the closest is named.
    let error = fail(&["explore", "--data", path(&train)]);
    assert!(error.contains("pass --schema FILE"), "{error}");
}

#[test]
fn dropped_features_stay_out_and_later_files_need_not_hold_them() {
    let toy = Toy::new("drop");
    let (train, schema) = (toy.file("train.csv"), toy.file("toy.toml"));
    let models = toy.file("models");
    let (_, stderr) = succeed(&[
        "train",
        "--data",
        path(&train),
        "--schema",
        path(&schema),
        "--drop",
        "skew",
        "--models",
        "dt",
        "--folds",
        "2",
        "--out",
        path(&models),
    ]);
    assert!(stderr.contains("as schema toy without skew"), "{stderr}");
    let tree = model(&toy.dir, "decision_tree");
    let with = succeed(&[
        "predict",
        "--model",
        path(&tree),
        "--data",
        path(&toy.file("test.csv")),
    ])
    .0;
    let without = succeed(&[
        "predict",
        "--model",
        path(&tree),
        "--data",
        path(&toy.file("test-no-skew.csv")),
    ])
    .0;
    assert_eq!(with, without);
    let error = fail(&[
        "train",
        "--data",
        path(&train),
        "--schema",
        path(&schema),
        "--drop",
        "nope",
        "--models",
        "dt",
        "--out",
        path(&models),
    ]);
    assert!(
        error.contains("has no feature `nope` to drop; its features: bytes, proto, ratio, skew"),
        "{error}"
    );
}
