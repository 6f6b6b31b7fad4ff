//! `nadir serve` as a process: the `listening on` line, reload on SIGHUP, a clean exit on
//! SIGTERM. The routes themselves are tested in crates/nadir-server/tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{nadir, path, sample, scratch, text, train_on_sample};

fn get(addr: &str, route: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "GET {route} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.split(' ').nth(1).unwrap().parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn post_csv(addr: &str, route: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "POST {route} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/csv\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.split(' ').nth(1).unwrap().parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// Starts `nadir serve` on the models of `dir`; returns the process and its address.
fn serve(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(dir), "--addr", "127.0.0.1:0"])
        .env("NADIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls until `ready`. The ceiling only turns a hang into a failure, far above what any
/// step takes on a busy machine.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_prints_its_address_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = scratch("serve");
    train_on_sample("dt", &dir, &[]);

    let mut child = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(&dir), "--addr", "127.0.0.1:0"])
        .env("NADIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert_ne!(addr, "127.0.0.1:0");

    let (status, body) = get(&addr, "/v1/models");
    assert_eq!(status, 200);
    assert!(body.contains("\"decision_tree\"") && !body.contains("tree_copy"));

    std::fs::copy(dir.join("decision_tree.nadir"), dir.join("tree_copy.nadir")).unwrap();
    signal(&child, "HUP");
    wait_until("the SIGHUP reload", || {
        get(&addr, "/v1/models").1.contains("\"tree_copy\"")
    });

    signal(&child, "TERM");
    let mut exit = None;
    wait_until("an exit after SIGTERM", || {
        exit = child.try_wait().unwrap();
        exit.is_some()
    });
    let status = exit.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn serve_refuses_a_directory_with_a_corrupt_model() {
    let dir = std::env::temp_dir().join(format!("nadir-cli-serve-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("random_forest.nadir"), b"NADIRMDL-truncated").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(&dir), "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("random_forest.nadir") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// The output contract (`nadir_ml::output`): for a classifier, the isolation forest and the
/// hybrid, `nadir predict` (CSV and NDJSON) and the API write the same verdicts, the same
/// score field (the one `GET /v1/models` lists) and the same warning for an unseen value.
#[test]
fn predict_and_the_api_write_the_same_fields_verdicts_and_warnings() {
    let dir = scratch("contract");
    train_on_sample(
        "lr,iforest,hybrid",
        &dir,
        &[
            "--normal-only",
            "--set",
            "hybrid.classifier=decision_tree",
            "--set",
            "hybrid.max_reference=50",
        ],
    );
    let original = std::fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<String> = original.lines().take(6).map(String::from).collect();
    lines[2] = lines[2].replacen(",http,", ",gopher_v2,", 1);
    assert!(lines[2].contains("gopher_v2"));
    let body = lines.join("\n") + "\n";
    let data = dir.join("new.csv");
    std::fs::write(&data, &body).unwrap();

    let (mut child, addr) = serve(&dir);
    let (status, listing) = get(&addr, "/v1/models");
    assert_eq!(status, 200);
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let score_fields = ["probability", "anomaly_score", "score"];
    let expected = [
        ("hybrid", "score"),
        ("isolation_forest", "anomaly_score"),
        ("logistic_regression", "probability"),
    ];
    for (name, field) in expected {
        let listed = listing["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {listing}"));
        assert_eq!(listed["score_field"], field, "{name}");
        let model = dir.join(format!("{name}.nadir"));

        let csv = nadir(&["predict", "--model", path(&model), "--data", path(&data)]);
        assert!(csv.status.success(), "{}", text(&csv.stderr));
        let csv = text(&csv.stdout);
        let columns: Vec<&str> = listed["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(csv.lines().next().unwrap(), columns.join(","), "{name}");
        assert_eq!(columns[3], field);

        let ndjson = nadir(&[
            "predict",
            "--model",
            path(&model),
            "--data",
            path(&data),
            "--format",
            "ndjson",
        ]);
        assert!(ndjson.status.success(), "{}", text(&ndjson.stderr));
        let cli: Vec<serde_json::Value> = text(&ndjson.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();

        let (status, answer) = post_csv(&addr, &format!("/v1/models/{name}/predict"), &body);
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let api = answer["results"].as_array().unwrap();
        assert_eq!(api.len(), cli.len());
        assert_eq!(api.len(), 5);
        for (from_cli, from_api) in cli.iter().zip(api) {
            for other in score_fields.iter().filter(|f| **f != field) {
                assert!(from_cli.get(*other).is_none(), "{name}: {from_cli}");
                assert!(from_api.get(*other).is_none(), "{name}: {from_api}");
            }
            assert_eq!(from_cli[field], from_api[field], "{name}");
            assert_eq!(from_cli["prediction"], from_api["prediction"], "{name}");
            let warnings: Vec<&str> = from_api["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            assert_eq!(from_cli["warning"], warnings.join("; "), "{name}");
        }
        assert_eq!(
            cli[1]["warning"],
            "service value `gopher_v2` was not seen in training (encoded as none of the known values)"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
