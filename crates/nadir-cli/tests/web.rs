//! The web page of `nadir serve` in a real browser: models trained with the `nadir` binary,
//! the server started on a free port, and `browser/web.mjs` driving headless Chromium
//! through upload, results, download, a malformed file, the one-record form, the models and
//! the report. The downloaded results must match `nadir predict` on the same file.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::{nadir, path, sample, text, train_on_sample};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether Chromium and the browser driver are installed. Without them the test fails saying
/// how to install them, unless `NADIR_SKIP_BROWSER=1` asks to skip it outside CI.
fn browser_available() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = repo_root().join("browser/node_modules/playwright-core");
    let node = Command::new("node").arg("--version").output().is_ok();
    let missing: Vec<&str> = [
        (!Path::new(&chromium).exists()).then_some("chromium (apt-get install chromium)"),
        (!node).then_some("node (apt-get install nodejs)"),
        (!driver.exists()).then_some("playwright-core (npm ci --prefix browser)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("the browser test needs {}", missing.join(", "));
    let on_ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
    if on_ci {
        panic!("{message}; CI=true: the browser test must run (NADIR_SKIP_BROWSER does not apply)");
    }
    if std::env::var("NADIR_SKIP_BROWSER").as_deref() == Ok("1") {
        // Straight to stderr: libtest captures `eprintln!` of a passing test, and a skip
        // that prints nothing reads as a pass.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the_page_scores_a_file_a_pasted_text_and_a_form_and_explains_bad_input: {message} (NADIR_SKIP_BROWSER=1)"
        );
        return false;
    }
    panic!("{message}; or set NADIR_SKIP_BROWSER=1 to skip it");
}

/// A running `nadir serve`, killed when the test ends whether it passes or not.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(models: &Path, report: &Path, log: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(models), "--addr", "127.0.0.1:0"])
        .args(["--report", path(report)])
        .stdout(Stdio::piped())
        .stderr(File::create(log).unwrap())
        .spawn()
        .expect("nadir serve starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, first_line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = lines.send(line);
    });
    let mut server = Server {
        child,
        url: String::new(),
    };
    let line = first_line
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_default();
    server.url = match line.trim().strip_prefix("listening on ") {
        Some(url) => url.to_string(),
        None => panic!(
            "nadir serve printed {line:?} instead of `listening on http://...`; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        ),
    };
    server
}

/// `row,line,prediction,score,warning` of a results CSV (the score as a number: the page
/// and the CLI print floats differently; the warning as written: the API and the CLI share
/// its wording).
fn prediction_rows(csv: &str) -> Vec<(String, String, String, f64, String)> {
    csv.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.splitn(5, ',').collect();
            (
                fields[0].to_string(),
                fields[1].to_string(),
                fields[2].to_string(),
                fields[3].parse().unwrap(),
                fields.get(4).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_page_scores_a_file_a_pasted_text_and_a_form_and_explains_bad_input() {
    if !browser_available() {
        return;
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web");
    let models = root.join("models");
    let shots = root.join("screenshots");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&models).unwrap();

    // With random_forest, the API's default model, which the page must start at.
    train_on_sample("lr,dt,rf", &models, &[]);

    let server = serve(
        &models,
        &root.join("no-report.html"),
        &root.join("server.log"),
    );
    let run = Command::new("node")
        .arg(repo_root().join("browser/web.mjs"))
        .args([&server.url, path(&shots), path(&sample())])
        .current_dir(repo_root())
        .output()
        .expect("node runs");
    let stdout = text(&run.stdout);
    assert!(
        run.status.success(),
        "browser/web.mjs failed:\n{stdout}\n{}\nserver log:\n{}",
        text(&run.stderr),
        std::fs::read_to_string(root.join("server.log")).unwrap_or_default()
    );
    drop(server);
    eprintln!("{stdout}screenshots in {}", shots.display());

    let result: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .expect("a RESULT line"),
    )
    .unwrap();
    let mut names: Vec<&str> = result["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["decision_tree", "logistic_regression", "random_forest"]
    );
    assert_eq!(result["defaultModel"], "random_forest");
    assert_eq!(result["model"], "logistic_regression");
    assert_eq!(result["summary"]["records"], 2000);
    assert!(
        result["malformedError"]
            .as_str()
            .unwrap()
            .contains("Line 3, field srcbytes")
    );
    assert!(
        result["formVerdict"]
            .as_str()
            .unwrap()
            .contains("Prediction: normal")
    );
    assert_eq!(result["reportHeading"], "No report to show");
    assert_eq!(result["screenshots"].as_array().unwrap().len(), 12);
    // The row's "Why?" showed the library's explanation of that record (the sample's second).
    let forest = nadir_ml::file::SavedModel::load(&models.join("random_forest.nadir")).unwrap();
    let data = nadir_data::read_path(&sample(), nadir_data::ReadOptions::default()).unwrap();
    let record = &data.records[1];
    let top = forest.explain_top(std::slice::from_ref(record), 5).unwrap()[0].clone();
    let shown: Vec<&str> = result["why"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[0].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = top.features.iter().map(|f| f.feature.as_str()).collect();
    assert_eq!(shown, expected);
    for shot in result["screenshots"].as_array().unwrap() {
        assert!(Path::new(shot.as_str().unwrap()).is_file(), "{shot}");
    }

    let cli = nadir(&[
        "predict",
        "--model",
        path(&models.join("logistic_regression.nadir")),
        "--data",
        path(&sample()),
    ]);
    assert!(cli.status.success(), "{}", text(&cli.stderr));
    let cli_csv = text(&cli.stdout);
    let page_csv = std::fs::read_to_string(shots.join("results.csv")).unwrap();
    assert_eq!(page_csv.lines().next(), cli_csv.lines().next(), "headers");
    let expected = prediction_rows(&cli_csv);
    let downloaded = prediction_rows(&page_csv);
    assert_eq!(downloaded.len(), expected.len());
    for (got, want) in downloaded.iter().zip(&expected) {
        assert_eq!((&got.0, &got.1, &got.2), (&want.0, &want.1, &want.2));
        assert!((got.3 - want.3).abs() < 1e-9, "{got:?} vs {want:?}");
        assert_eq!(got.4, want.4, "warnings differ: {got:?} vs {want:?}");
    }
    let attacks = downloaded.iter().filter(|r| r.2 == "attack").count();
    assert_eq!(result["summary"]["attacks"], attacks);
}
