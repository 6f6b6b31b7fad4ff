//! `nadir report` as a user meets it: train, then report; and the message when the model
//! directory is not one `nadir train` wrote.

mod common;
use common::{nadir, path, sample, scratch, text, train_on_sample};

/// Without `--out` the page goes beside the models it reports on, not into the directory the
/// command runs from; without a terminal the steps are written as lines.
#[test]
fn report_after_train_writes_one_self_contained_page() {
    let dir = scratch("page");
    let models = dir.join("models");
    train_on_sample("dt,iforest", &models, &[]);
    let page = models.join("report.html");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args([
            "report",
            "--data",
            path(&sample()),
            "--models",
            path(&models),
            "--max-points",
            "300",
        ])
        .current_dir(&dir)
        .env_remove("NADIR_DATA")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!dir.join("report.html").exists());
    assert!(text(&out.stdout).starts_with(&format!("wrote {}", page.display())));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("decision_tree"));
    assert!(
        html.contains("The isolation forest is the saved model isolation_forest.nadir"),
        "the saved forest is used, not a new one"
    );
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("fitted one"));
    // Standard error is a pipe here: the steps come as lines, the last one saying it is done.
    for step in [
        "exploring the data",
        "DBSCAN",
        "writing the page",
        "the report done",
    ] {
        assert!(
            stderr
                .lines()
                .any(|line| line.starts_with('[') && line.ends_with(step)),
            "no progress line for `{step}` in\n{stderr}"
        );
    }
}

#[test]
fn report_without_a_trained_directory_says_what_to_run() {
    let dir = scratch("empty");
    let out = nadir(&[
        "report",
        "--data",
        path(&sample()),
        "--models",
        path(&dir),
        "--out",
        path(&dir.join("report.html")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("metrics.json") && stderr.contains("nadir train --out DIR"),
        "{stderr}"
    );
    assert!(!dir.join("report.html").exists());
}
