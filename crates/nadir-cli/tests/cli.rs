//! The `nadir` command as a user meets it: exit codes, messages and files written.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::{nadir, path, sample, scratch, text, train_on_sample};

/// Models trained once on the sample and shared by the tests that only read them.
fn trained() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("trained");
        let out = nadir(&[
            "train",
            "--data",
            path(&sample()),
            "--models",
            "lr,dt,vote",
            "--set",
            "voting.members=[\"logistic_regression\", \"decision_tree\"]",
            "--folds",
            "3",
            "--out",
            path(&dir),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir
    })
}

#[test]
fn help_lists_the_commands() {
    let out = nadir(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["train", "evaluate", "predict", "models"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn train_writes_models_and_metrics_and_prints_the_table() {
    let dir = trained();
    for name in ["logistic_regression", "decision_tree", "voting"] {
        assert!(dir.join(format!("{name}.nadir")).is_file(), "{name}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    let models = metrics["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    for m in models {
        assert!(m["holdout"]["accuracy"].as_f64().unwrap() > 0.9, "{m}");
        assert_eq!(m["cross_validation"]["folds"].as_array().unwrap().len(), 3);
        assert_eq!(m["test_rows"], 600);
        let families = &m["families"]["holdout"];
        assert_eq!(families["classes"][0]["class"], "normal", "{m}");
        assert!(families["macro_f1"].as_f64().unwrap() > 0.5, "{m}");
    }
    assert_eq!(metrics["data"]["train_rows"], 1400);
}

#[test]
fn evaluate_json_has_the_documented_keys() {
    let model = trained().join("decision_tree.nadir");
    let out = nadir(&[
        "evaluate",
        "--model",
        path(&model),
        "--data",
        path(&sample()),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "model",
        "rows",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "confusion",
        "per_attack",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["model"], "decision_tree");
    assert_eq!(v["rows"], 2000);
    let c = &v["confusion"];
    let total: u64 = ["tn", "fp", "fn", "tp"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2000);
    assert!(v["per_attack"]["neptune"]["rate"].as_f64().unwrap() > 0.9);
}

#[test]
fn predict_writes_one_row_per_record_with_warnings_for_unseen_categories() {
    let dir = scratch("predict");
    let data = dir.join("new.csv");
    let original = std::fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<String> = original.lines().take(4).map(String::from).collect();
    lines[2] = lines[2].replacen(",http,", ",gopher_v2,", 1);
    assert!(lines[2].contains("gopher_v2"));
    std::fs::write(&data, lines.join("\n")).unwrap();
    let model = trained().join("logistic_regression.nadir");

    let out = nadir(&["predict", "--model", path(&model), "--data", path(&data)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "row,line,prediction,probability,family,family_probability,warning"
    );
    assert_eq!(rows.len(), 4);
    assert!(rows[2].starts_with("2,3,"), "{csv}");
    assert!(
        rows[2].ends_with(
            ",service value `gopher_v2` was not seen in training (encoded as none of the known values)"
        ),
        "{csv}"
    );
    assert!(text(&out.stderr).contains(
        "warning: 1 row(s) hold category values not seen in training (encoded as none of the known values)"
    ));

    let output = dir.join("out.ndjson");
    let out = nadir(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&data),
        "--format",
        "ndjson",
        "--output",
        path(&output),
    ]);
    assert!(out.status.success());
    let written = std::fs::read_to_string(&output).unwrap();
    let first: serde_json::Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert!(["normal", "attack"].contains(&first["prediction"].as_str().unwrap()));
    assert!((0.0..=1.0).contains(&first["probability"].as_f64().unwrap()));
    // The sample's families: the logistic regression's family model is the multi-class
    // random forest.
    let families = ["normal", "DoS", "Probe", "R2L", "U2R"];
    assert!(
        families.contains(&first["family"].as_str().unwrap()),
        "{first}"
    );
    assert!((0.0..=1.0).contains(&first["family_probability"].as_f64().unwrap()));
}

/// A file's own columns (a connection's identity, as `nadir extract` writes it) are written
/// beside each verdict; `--attacks-only` keeps the records predicted to be attacks, each with
/// its own row and line.
#[test]
fn predict_writes_the_files_own_columns_and_keeps_only_attacks_when_asked() {
    let dir = scratch("predict-own");
    let data = dir.join("own.csv");
    let original = std::fs::read_to_string(sample()).unwrap();
    let mut lines = original.lines().take(41);
    let header = format!("conn_id,{},orig_addr", lines.next().unwrap());
    let mut text_out = vec![header];
    for (i, line) in lines.enumerate() {
        text_out.push(format!("c{i},{line},10.0.0.{i}"));
    }
    std::fs::write(&data, text_out.join("\n")).unwrap();
    let model = trained().join("decision_tree.nadir");

    let all = nadir(&["predict", "--model", path(&model), "--data", path(&data)]);
    assert!(all.status.success(), "{}", text(&all.stderr));
    assert!(
        text(&all.stderr).contains("written beside each prediction: conn_id, orig_addr"),
        "{}",
        text(&all.stderr)
    );
    let csv = text(&all.stdout);
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "row",
            "line",
            "conn_id",
            "orig_addr",
            "prediction",
            "probability",
            "family",
            "family_probability",
            "warning"
        ]
    );
    assert_eq!(rows.len(), 41);
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(
            row[..4],
            [
                &(i + 1).to_string(),
                &(i + 2).to_string(),
                &format!("c{i}")[..],
                &format!("10.0.0.{i}")[..]
            ]
        );
    }
    let attacks: Vec<&Vec<&str>> = rows[1..].iter().filter(|r| r[4] == "attack").collect();
    assert!(!attacks.is_empty() && attacks.len() < 40, "{csv}");

    let only = nadir(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&data),
        "--attacks-only",
        "--format",
        "ndjson",
    ]);
    assert!(only.status.success(), "{}", text(&only.stderr));
    let alerts: Vec<serde_json::Value> = text(&only.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), attacks.len());
    for (alert, row) in alerts.iter().zip(&attacks) {
        assert_eq!(alert["prediction"], "attack");
        assert_eq!(alert["row"].to_string(), row[0]);
        assert_eq!(alert["conn_id"], row[2]);
        assert_eq!(alert["orig_addr"], row[3]);
    }
}

/// `--format ecs`: one Elastic Common Schema document per record, every line JSON; a record
/// predicted an attack is an alert, any other an event; the record's own address column
/// becomes `source.ip`, its `protocoltype` `network.transport`; `--attacks-only` writes the
/// alerts alone, the same ones.
#[test]
fn predict_writes_ecs_documents_and_only_alerts_when_asked() {
    let dir = scratch("predict-ecs");
    let data = dir.join("own.csv");
    let original = std::fs::read_to_string(sample()).unwrap();
    let mut lines = original.lines().take(41);
    let mut rows = vec![format!("{},orig_addr", lines.next().unwrap())];
    rows.extend(
        lines
            .enumerate()
            .map(|(i, line)| format!("{line},10.0.0.{i}")),
    );
    std::fs::write(&data, rows.join("\n")).unwrap();
    let model = trained().join("decision_tree.nadir");
    let predict = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["predict", "--model", path(&model), "--data", path(&data)];
        args.extend(["--format", "ecs"]);
        args.extend(extra);
        let out = nadir(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let all = predict(&[]);
    assert_eq!(all.len(), 40);
    for (i, doc) in all.iter().enumerate() {
        let attack = doc["nadir"]["prediction"] == "attack";
        assert_eq!(doc["event"]["kind"], if attack { "alert" } else { "event" });
        assert_eq!(doc["ecs"]["version"], nadir_ml::ecs::ECS_VERSION);
        assert_eq!(doc["rule"]["name"], "decision_tree");
        assert_eq!(doc["source"]["ip"], format!("10.0.0.{i}"));
        assert!(doc["source"].get("port").is_none() && doc.get("destination").is_none());
        assert!(["tcp", "udp", "icmp"].contains(&doc["network"]["transport"].as_str().unwrap()));
        assert_eq!(doc["nadir"]["row"], i + 1);
        assert_eq!(doc["nadir"]["line"], i + 2);
        assert_eq!(doc["nadir"]["score_kind"], "probability");
        assert!((0.0..=1.0).contains(&doc["event"]["risk_score"].as_f64().unwrap()));
        assert_eq!(
            doc["@timestamp"], doc["event"]["created"],
            "no start time: scored at"
        );
    }
    let alerts: Vec<&serde_json::Value> = all
        .iter()
        .filter(|d| d["event"]["kind"] == "alert")
        .collect();
    assert!(!alerts.is_empty() && alerts.len() < 40);
    let only = predict(&["--attacks-only"]);
    assert_eq!(only.len(), alerts.len());
    for (alert, expected) in only.iter().zip(&alerts) {
        assert_eq!(alert["event"]["kind"], "alert");
        assert_eq!(
            alert["event"]["category"],
            serde_json::json!(["network", "intrusion_detection"])
        );
        assert_eq!(alert["nadir"], expected["nadir"]);
    }
}

#[test]
fn bad_data_fails_with_file_line_column_and_value() {
    let dir = scratch("bad-data");
    let data = dir.join("bad.csv");
    let original = std::fs::read_to_string(sample()).unwrap();
    let bad = original.replacen(",491,", ",-491,", 1);
    std::fs::write(&data, bad).unwrap();
    let model = trained().join("decision_tree.nadir");
    let out = nadir(&["predict", "--model", path(&model), "--data", path(&data)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.csv: line") && err.contains("column `srcbytes`, value `-491`"),
        "{err}"
    );

    let out = nadir(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&data),
        "--skip-invalid",
    ]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("skipped 1 invalid row(s)"));
    assert_eq!(text(&out.stdout).lines().count(), 2000);
}

#[test]
fn many_bad_rows_are_reported_in_a_few_lines() {
    let dir = scratch("many-bad");
    let data = dir.join("many-bad.csv");
    let original = std::fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<String> = original.lines().map(String::from).collect();
    // 100,000 rows of empty values after the good ones, their label given.
    let empty_row = format!("{}normal,20", ",".repeat(41));
    lines.extend(std::iter::repeat_n(empty_row, 100_000));
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let model = trained().join("decision_tree.nadir");
    let out = nadir(&["predict", "--model", path(&model), "--data", path(&data)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    // The first bad row: ten of its 41 bad values named, the rest counted.
    assert!(
        err.contains("many-bad.csv: line 2002: column `duration`, value ``: value is missing")
            && err.contains("; and 31 more bad value(s)"),
        "{err}"
    );
    assert!(err.len() < 2000, "{err}");

    let out = nadir(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&data),
        "--skip-invalid",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The header and the 2,000 good rows.
    assert_eq!(text(&out.stdout).lines().count(), 2001);
    let err = text(&out.stderr);
    let skipped: Vec<&str> = err
        .lines()
        .skip_while(|l| !l.starts_with("skipped"))
        .take_while(|l| l.starts_with("skipped") || l.starts_with("  "))
        .collect();
    assert!(
        skipped[0].starts_with("skipped 100000 invalid row(s)"),
        "{err}"
    );
    // Two rows listed (41 problems each; the limit is 100), then counts of all of them.
    assert_eq!(skipped.len(), 6, "{err}");
    assert!(skipped[1].starts_with("  line 2002: ") && skipped[2].starts_with("  line 2003: "));
    assert_eq!(skipped[3], "  … and 99998 more");
    assert_eq!(skipped[4], "  problems by kind: missing 4100000");
    assert!(
        skipped[5].starts_with("  bad values by column: duration 100000, protocoltype 100000,")
            && skipped[5].ends_with(", and 31 more"),
        "{err}"
    );
}

#[test]
fn damaged_or_foreign_model_files_are_clear_errors() {
    let dir = scratch("damaged");
    let good = std::fs::read(trained().join("decision_tree.nadir")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", good[..good.len() / 2].to_vec(), "is truncated"),
        (
            "corrupt",
            {
                let mut b = good.clone();
                let last = b.len() - 1;
                b[last] ^= 0xff;
                b
            },
            "is corrupted",
        ),
        (
            "version",
            {
                let mut b = good.clone();
                b[8] = 99;
                b
            },
            "format version 99",
        ),
        (
            "foreign",
            b"hello world, not a model".to_vec(),
            "not a nadir model file",
        ),
    ];
    for (name, bytes, expected) in cases {
        let file = dir.join(format!("{name}.nadir"));
        std::fs::write(&file, bytes).unwrap();
        let out = nadir(&[
            "evaluate",
            "--model",
            path(&file),
            "--data",
            path(&sample()),
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            text(&out.stderr).contains(expected),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn usage_errors_exit_2_and_bad_settings_exit_1() {
    assert_eq!(nadir(&["train", "--no-such-flag"]).status.code(), Some(2));
    let out = nadir(&["train", "--data", path(&sample()), "--models", "xgboost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown model `xgboost`"));
    let out = nadir(&[
        "train",
        "--data",
        path(&sample()),
        "--set",
        "random_forest.tress=3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("tress"));
    let out = nadir(&[
        "evaluate",
        "--model",
        "missing.nadir",
        "--data",
        path(&sample()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read model missing.nadir"));
}

/// A bad hyperparameter is refused before the data is read and before any model trains:
/// here the data file does not exist, and the error is still the hyperparameter's.
#[test]
fn a_bad_hyperparameter_fails_before_the_data_is_read() {
    let out = nadir(&[
        "train",
        "--data",
        "no-such-file.csv",
        "--models",
        "gb",
        "--set",
        "gradient_boosting.learning_rate=-1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid hyperparameter gradient_boosting.learning_rate = -1.0: "),
        "{stderr}"
    );
    assert!(!stderr.contains("no-such-file"), "{stderr}");
}

#[test]
fn without_data_the_error_says_where_to_put_the_file() {
    // Two levels down, so that `../shared` is inside the scratch directory and absent.
    let dir = scratch("no-data").join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["train", "--models", "dt"])
        .current_dir(&dir)
        .env("NADIR_DATA", dir.join("absent.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("data/Network_anomaly_data.csv") && err.contains("NADIR_DATA"),
        "{err}"
    );
}

#[test]
fn isolation_forest_trains_on_normal_rows_and_reports_anomaly_scores() {
    let dir = scratch("iforest");
    train_on_sample("iforest", &dir, &["--normal-only"]);
    let model = dir.join("isolation_forest.nadir");
    let out = nadir(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&sample()),
    ]);
    assert!(out.status.success());
    let csv = text(&out.stdout);
    assert_eq!(
        csv.lines().next(),
        Some("row,line,prediction,anomaly_score,family,family_probability,warning")
    );
    let out = nadir(&[
        "evaluate",
        "--model",
        path(&model),
        "--data",
        path(&sample()),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "isolation_forest");
    assert_eq!(v["threshold"], 0.5);
    assert!(v["roc_auc"].as_f64().unwrap() > 0.9, "{v}");
    assert!(v["pr_auc"].as_f64().unwrap() > 0.9, "{v}");
}

#[test]
fn cluster_writes_labels_summary_and_curve() {
    let dir = scratch("cluster");
    let out = nadir(&[
        "cluster",
        "--data",
        path(&sample()),
        "--min-samples",
        "10",
        "--out",
        path(&dir),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("grid search") && printed.contains("adjusted Rand index"),
        "{printed}"
    );
    let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    assert_eq!(labels.lines().next(), Some("row,line,cluster,kind,attack"));
    assert_eq!(labels.lines().count(), 2001);
    assert!(labels.lines().skip(1).all(|l| {
        let f: Vec<&str> = l.split(',').collect();
        matches!((f[2], f[3]), ("noise", "noise") | (_, "core") | (_, "edge"))
    }));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let noise = summary["noise"].as_u64().unwrap();
    let sizes: u64 = summary["cluster_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .sum();
    assert_eq!(noise + sizes, 2000);
    assert_eq!(summary["chosen"]["min_samples"], 10);
    let curve = std::fs::read_to_string(dir.join("k_distance.csv")).unwrap();
    assert!(curve.starts_with("rank,distance\n") && curve.lines().count() > 100);

    let bad = nadir(&["cluster", "--data", path(&sample()), "--eps", "wide"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("expected a number or `auto`"));
}

#[test]
fn a_failure_names_its_cause_once() {
    let missing = scratch("a-missing-dir").join("no.nadir");
    let out = nadir(&["evaluate", "--model", path(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: cannot read model "), "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}

/// `--explain K`: each record's K strongest features after the usual columns, as one text in
/// CSV and as objects in NDJSON, which with every feature asked for add up with the base to
/// the record's probability (a tree model) or its log-odds (logistic regression), with the
/// method that computed them, and in ECS under `nadir.explanation`; model files without node
/// covers are errors that say what to do.
#[test]
fn predict_explains_every_model_and_says_what_it_cannot() {
    let dir = scratch("predict-explain");
    let data = dir.join("head.csv");
    let original = std::fs::read_to_string(sample()).unwrap();
    std::fs::write(
        &data,
        original.lines().take(31).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let model = trained().join("decision_tree.nadir");
    let predict = |extra: &[&str]| {
        let mut args = vec!["predict", "--model", path(&model), "--data", path(&data)];
        args.extend(extra);
        nadir(&args)
    };

    let csv = predict(&["--explain", "2"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[header.len() - 5..],
        [
            "warning",
            "explained",
            "base_value",
            "explanation",
            "explanation_method"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 30);
    let explained = rows.iter().filter(|r| !r[9].is_empty()).count();
    assert!(explained > 0);
    for row in &rows {
        assert_eq!(&row[7], "probability");
        assert_eq!(&row[10], "tree_shap");
        let features: Vec<&str> = row[9].split(';').filter(|f| !f.is_empty()).collect();
        assert!(features.len() <= 2, "{row:?}");
        for feature in features {
            let (name_value, contribution) = feature.rsplit_once(':').unwrap();
            assert!(name_value.contains('='), "{feature}");
            assert!(contribution.starts_with(['+', '-']), "{feature}");
        }
    }

    let ndjson = predict(&["--explain", "41", "--format", "ndjson"]);
    assert!(ndjson.status.success(), "{}", text(&ndjson.stderr));
    for line in text(&ndjson.stdout).lines() {
        let object: serde_json::Value = serde_json::from_str(line).unwrap();
        let contributions: f64 = object["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert!(f["feature"].is_string() && f["value"].is_string(), "{f}");
                f["contribution"].as_f64().unwrap()
            })
            .sum();
        let base = object["base_value"].as_f64().unwrap();
        let probability = object["probability"].as_f64().unwrap();
        assert!((base + contributions - probability).abs() <= 1e-9, "{line}");
    }

    let linear = nadir(&[
        "predict",
        "--model",
        path(&trained().join("logistic_regression.nadir")),
        "--data",
        path(&data),
        "--explain",
        "41",
        "--format",
        "ndjson",
    ]);
    assert!(linear.status.success(), "{}", text(&linear.stderr));
    let mut compared = 0;
    for line in text(&linear.stdout).lines() {
        let object: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(object["explained"], "log_odds");
        assert_eq!(object["explanation_method"], "linear");
        let contributions: f64 = object["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["contribution"].as_f64().unwrap())
            .sum();
        let log_odds = object["base_value"].as_f64().unwrap() + contributions;
        let probability = object["probability"].as_f64().unwrap();
        if probability > 1e-6 && probability < 1.0 - 1e-6 {
            let logit = (probability / (1.0 - probability)).ln();
            assert!((log_odds - logit).abs() <= 1e-6, "{line}");
            compared += 1;
        }
    }
    assert!(compared > 0);
    let old = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nadir-ml/tests/fixtures/v3/decision_tree.nadir");
    let retrain = nadir(&[
        "predict",
        "--model",
        path(&old),
        "--data",
        path(&data),
        "--explain",
        "3",
    ]);
    assert!(!retrain.status.success());
    assert!(
        text(&retrain.stderr).contains("retrain it with this nadir to explain its predictions"),
        "{}",
        text(&retrain.stderr)
    );
    // ECS documents carry the same explanation under `nadir.explanation`.
    let ecs = predict(&["--explain", "3", "--format", "ecs"]);
    assert!(ecs.status.success(), "{}", text(&ecs.stderr));
    let ndjson = predict(&["--explain", "3", "--format", "ndjson"]);
    let documents = text(&ecs.stdout);
    let objects = text(&ndjson.stdout);
    assert_eq!(documents.lines().count(), 30);
    for (document, object) in documents.lines().zip(objects.lines()) {
        let document: serde_json::Value = serde_json::from_str(document).unwrap();
        let object: serde_json::Value = serde_json::from_str(object).unwrap();
        let explanation = &document["nadir"]["explanation"];
        assert_eq!(explanation["space"], object["explained"], "{document}");
        assert_eq!(explanation["base"], object["base_value"], "{document}");
        assert_eq!(explanation["features"], object["explanation"], "{document}");
    }
}
