//! `nadir explore` as a user meets it.

use std::path::PathBuf;

mod common;
use common::{nadir, sample, text};

/// The sample with one invalid row appended (a negative byte count).
fn sample_with_a_bad_row(name: &str) -> PathBuf {
    let content = std::fs::read_to_string(sample()).unwrap();
    let last = content.lines().last().unwrap();
    let mut fields: Vec<&str> = last.split(',').collect();
    fields[4] = "-5";
    let path =
        std::env::temp_dir().join(format!("nadir-explore-{}-{name}.csv", std::process::id()));
    std::fs::write(&path, format!("{}{}\n", content, fields.join(","))).unwrap();
    path
}

#[test]
fn json_holds_every_section() {
    let out = nadir(&[
        "explore",
        "--data",
        sample().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows"], 2000);
    for key in [
        "quality",
        "balance",
        "features",
        "categories",
        "correlations",
        "tests",
        "hypotheses",
    ] {
        assert!(!json[key].is_null(), "missing {key}");
    }
    let names = json["correlations"]["names"].as_array().unwrap().len();
    assert_eq!(
        json["correlations"]["spearman"].as_array().unwrap().len(),
        names
    );
    assert_eq!(json["tests"][0]["rank"], 1);
}

#[test]
fn table_prints_readable_sections() {
    let out = nadir(&["explore", "--data", sample().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for section in [
        "== data quality ==",
        "== class balance ==",
        "== most correlated numeric features ==",
        "== features that separate attacks best",
        "== hypotheses",
    ] {
        assert!(stdout.contains(section), "no `{section}` in:\n{stdout}");
    }
    assert!(stdout.contains("Connections with flag S0"));
}

#[test]
fn invalid_rows_stop_the_read_or_are_counted_per_column() {
    let path = sample_with_a_bad_row("bad");
    let out = nadir(&["explore", "--data", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("srcbytes") && stderr.contains("--skip-invalid"),
        "{stderr}"
    );

    let out = nadir(&[
        "explore",
        "--data",
        path.to_str().unwrap(),
        "--skip-invalid",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["quality"]["skipped_rows"], 1);
    let srcbytes = json["quality"]["invalid_values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "srcbytes")
        .unwrap();
    assert_eq!(srcbytes["negative"], 1);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn the_skip_invalid_hint_comes_only_where_it_helps() {
    let missing =
        std::env::temp_dir().join(format!("nadir-explore-{}-none.csv", std::process::id()));
    let directory = std::env::temp_dir();
    for path in [&missing, &directory] {
        let out = nadir(&["explore", "--data", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&path.display().to_string()) && !stderr.contains("--skip-invalid"),
            "{stderr}"
        );
    }
}

#[test]
fn unlabelled_data_is_refused_with_the_reason() {
    let content = std::fs::read_to_string(sample()).unwrap();
    let features_only: String = content
        .lines()
        .map(|line| line.rsplitn(3, ',').nth(2).unwrap().to_string() + "\n")
        .collect();
    let path = std::env::temp_dir().join(format!(
        "nadir-explore-{}-unlabelled.csv",
        std::process::id()
    ));
    std::fs::write(&path, features_only).unwrap();
    let out = nadir(&["explore", "--data", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no `attack` column"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(path).unwrap();
}
