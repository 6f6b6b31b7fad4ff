//! Output for programs: `--format json` is one JSON document on standard output, the same as
//! the file the command writes; a reader that stops early (`| head`) ends the command with
//! status 0 and no message; progress is written as lines when standard error is not a
//! terminal.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

mod common;
use common::{nadir, path, sample, scratch, text, train_on_sample};

/// Standard output parsed as exactly one JSON document (trailing text is an error).
fn one_document(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", text(stdout)))
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `nadir args…` with standard output, error and input piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(args)
        .env_remove("NADIR_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nadir runs")
}

#[test]
fn train_json_is_metrics_json_and_progress_comes_as_lines() {
    let dir = scratch("train-json");
    let out = nadir(&[
        "train",
        "--data",
        path(&sample()),
        "--models",
        "lr,dt",
        "--folds",
        "2",
        "--out",
        path(&dir),
        "--format",
        "json",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        one_document(&out.stdout),
        json_file(&dir.join("metrics.json"))
    );
    assert!(stderr.contains(&format!(
        "wrote 2 model(s) and metrics.json to {}",
        dir.display()
    )));

    // Standard error is a pipe here: a line per fit, each with the time so far.
    for step in [
        "fold 1/2: logistic_regression",
        "fold 2/2: logistic_regression",
        "fold 1/2: decision_tree",
        "fold 2/2: decision_tree",
        "final fit: logistic_regression",
        "final fit: decision_tree",
    ] {
        let line = stderr
            .lines()
            .find(|l| l.ends_with(step))
            .unwrap_or_else(|| panic!("no progress line for `{step}` in\n{stderr}"));
        assert!(line.starts_with('[') && line.contains(" s] "), "{line}");
        assert!(line.contains("/6 "), "steps done out of 6 fits: {line}");
    }
    assert!(
        stderr.lines().any(|l| l.ends_with("training done")),
        "{stderr}"
    );
}

#[test]
fn cluster_json_is_summary_json() {
    let dir = scratch("cluster-json");
    let out = nadir(&[
        "cluster",
        "--data",
        path(&sample()),
        "--eps",
        "1.0",
        "--min-samples",
        "5",
        "--out",
        path(&dir),
        "--format",
        "json",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary = one_document(&out.stdout);
    assert_eq!(summary, json_file(&dir.join("summary.json")));
    assert_eq!(summary["rows"], 2000);
    for step in ["PCA", "DBSCAN", "clustering done"] {
        assert!(
            stderr.lines().any(|l| l.ends_with(step)),
            "{step}: {stderr}"
        );
    }
}

#[test]
fn validate_json_is_the_out_file() {
    let dir = scratch("validate-json");
    let file = dir.join("novel.json");
    let out = nadir(&[
        "validate",
        "--novel",
        "--data",
        path(&sample()),
        "--models",
        "dt",
        "--groups",
        "1",
        "--out",
        path(&file),
        "--format",
        "json",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(one_document(&out.stdout), json_file(&file));
    assert!(
        stderr.contains(&format!("wrote {}", file.display())),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.ends_with("fold DoS: decision_tree")),
        "{stderr}"
    );
}

#[test]
fn models_json_holds_every_section_of_the_toml() {
    let toml = nadir(&["models"]);
    assert!(toml.status.success(), "{}", text(&toml.stderr));
    let sections: Vec<String> = text(&toml.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix('[')?.split_once(']'))
        .map(|(name, _)| name.to_string())
        .collect();
    assert!(sections.len() >= 10, "{sections:?}");
    let out = nadir(&["models", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = one_document(&out.stdout);
    for name in &sections {
        assert!(
            json.get(name).is_some_and(|v| v.is_object()),
            "no {name}: {json}"
        );
    }
    assert_eq!(json["random_forest"]["trees"], 100);
    assert_eq!(json["bagging"]["trees"], 50);
}

/// The sample five times over (10,000 records): its predictions fill far more than a pipe's
/// buffer, so writing them must meet the closed pipe.
fn large_input(dir: &Path) -> std::path::PathBuf {
    let sample = std::fs::read_to_string(sample()).unwrap();
    let (header, rows) = sample.split_once('\n').unwrap();
    let file = dir.join("large.csv");
    let mut text = format!("{header}\n");
    for _ in 0..5 {
        text.push_str(rows);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn predict_stops_quietly_when_its_reader_goes() {
    let dir = scratch("pipe-predict");
    train_on_sample("dt", &dir, &[]);
    let data = large_input(&dir);
    let model = dir.join("decision_tree.nadir");
    for format in ["csv", "ndjson"] {
        let mut child = spawn(&[
            "predict",
            "--model",
            path(&model),
            "--data",
            path(&data),
            "--format",
            format,
        ]);
        drop(child.stdin.take());
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "{format}: no output");
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{format}: {:?}\n{stderr}", out.status);
        assert!(
            !stderr.to_lowercase().contains("broken pipe"),
            "{format}: {stderr}"
        );
        assert!(!stderr.contains("error"), "{format}: {stderr}");
    }
}

/// `train --format json` with its output closed before it has read its data: the document
/// it writes after training meets the closed pipe.
#[test]
fn a_json_command_stops_quietly_when_its_reader_goes() {
    let dir = scratch("pipe-train");
    let mut child = spawn(&[
        "train",
        "--data",
        "-",
        "--models",
        "dt",
        "--folds",
        "2",
        "--out",
        path(&dir),
        "--format",
        "json",
    ]);
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(sample()).unwrap()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    // It did get as far as writing: the models were saved first.
    assert!(dir.join("metrics.json").is_file(), "{stderr}");
}
