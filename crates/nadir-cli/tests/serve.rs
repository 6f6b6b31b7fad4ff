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
            assert!(from_api["family"].is_string(), "{name}: {from_api}");
            assert_eq!(from_cli["family"], from_api["family"], "{name}");
            assert_eq!(
                from_cli["family_probability"], from_api["family_probability"],
                "{name}"
            );
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

/// A request with its own id, so that its log line can be found.
fn request_with_id(addr: &str, head: &str, id: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "{head} HTTP/1.1\r\nhost: {addr}\r\nx-request-id: {id}\r\ncontent-type: text/csv\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply.split(' ').nth(1).unwrap().parse().unwrap()
}

/// `nadir serve ARGS` with `env` set and its standard error in a file of `dir`; returns the
/// process and its address once it listens.
fn serve_logging(
    dir: &std::path::Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, String, std::path::PathBuf) {
    let log = dir.join(format!("{name}.stderr"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_nadir"));
    command
        .arg("serve")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NADIR_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| {
            panic!(
                "unexpected first line {line:?}; stderr: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_string();
    (child, addr, log)
}

/// Stops the server with SIGTERM and returns what it logged: every line is written before
/// it exits.
fn stop_and_read_log(mut child: Child, log: &std::path::Path) -> String {
    signal(&child, "TERM");
    let mut exit = None;
    wait_until("an exit after SIGTERM", || {
        exit = child.try_wait().unwrap();
        exit.is_some()
    });
    let stderr = std::fs::read_to_string(log).unwrap();
    assert!(exit.unwrap().success(), "{stderr}");
    stderr
}

/// The first five records of the sample, as a CSV body.
fn sample_body() -> String {
    let sample = std::fs::read_to_string(sample()).unwrap();
    sample.lines().take(6).collect::<Vec<_>>().join("\n") + "\n"
}

#[test]
fn json_logs_parse_and_carry_each_requests_fields() {
    let dir = scratch("json-logs");
    train_on_sample("dt", &dir, &[]);
    let (child, addr, log) = serve_logging(
        &dir,
        "json",
        &[
            "--models",
            path(&dir),
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[("RUST_LOG", "nadir_server=debug,info")],
    );
    let route = "/v1/models/decision_tree/predict";
    let status = request_with_id(
        &addr,
        &format!("POST {route}"),
        "json-log-1",
        &sample_body(),
    );
    assert_eq!(status, 200);
    let stderr = stop_and_read_log(child, &log);

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?} in\n{stderr}"))
        })
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    for line in &lines {
        for key in ["level", "target", "message"] {
            assert!(line[key].is_string(), "no {key}: {line}");
        }
        // RFC 3339 in UTC: 2026-12-03T22:30:01.123456Z.
        let timestamp = line["timestamp"].as_str().unwrap();
        let bytes = timestamp.as_bytes();
        assert!(
            bytes.len() >= 20
                && bytes[4] == b'-'
                && bytes[10] == b'T'
                && bytes[13] == b':'
                && timestamp.ends_with('Z'),
            "{timestamp}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "listening" && l["bound"].as_str() == Some(&addr)),
        "{stderr}"
    );
    let request = lines
        .iter()
        .find(|l| l["id"] == "json-log-1")
        .unwrap_or_else(|| panic!("no line for the request in\n{stderr}"));
    assert_eq!(request["level"], "DEBUG", "{request}");
    assert_eq!(request["target"], "nadir_server", "{request}");
    assert_eq!(request["message"], "request", "{request}");
    assert_eq!(request["method"], "POST", "{request}");
    assert_eq!(request["path"], route, "{request}");
    assert_eq!(request["route"], "/v1/models/{name}/predict", "{request}");
    assert_eq!(request["status"], 200, "{request}");
    assert_eq!(request["model"], "decision_tree", "{request}");
    assert!(request["duration_us"].as_u64().is_some(), "{request}");
}

#[test]
fn rust_log_sets_what_is_logged() {
    let dir = scratch("rust-log");
    train_on_sample("dt", &dir, &[]);
    let args = ["--models", path(&dir), "--addr", "127.0.0.1:0"];
    for (name, env, logs_requests) in [
        ("default", vec![], false),
        ("info", vec![("RUST_LOG", "info")], false),
        ("debug", vec![("RUST_LOG", "nadir_server=debug,info")], true),
        // NADIR_LOG is read when RUST_LOG is not set, and only then.
        ("nadir-log", vec![("NADIR_LOG", "debug")], true),
        (
            "both",
            vec![("RUST_LOG", "info"), ("NADIR_LOG", "debug")],
            false,
        ),
    ] {
        let (child, addr, log) = serve_logging(&dir, name, &args, &env);
        let id = format!("rust-log-{name}");
        assert_eq!(request_with_id(&addr, "GET /healthz", &id, ""), 200);
        let stderr = stop_and_read_log(child, &log);
        // Start-up is logged at info whatever the filter.
        assert!(
            stderr.contains(" INFO nadir_server: listening"),
            "{name}: {stderr}"
        );
        let line = stderr.lines().find(|l| l.contains(&id));
        assert_eq!(line.is_some(), logs_requests, "{name}: {stderr}");
        if let Some(line) = line {
            assert!(line.contains(" DEBUG nadir_server: request "), "{line}");
            for field in ["method=GET", "path=/healthz", "status=200", "duration_us="] {
                assert!(line.contains(field), "{field}: {line}");
            }
        }
    }
    // A filter that does not parse is an error, not a silent default.
    let out = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(&dir), "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "nadir_server=loud")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("RUST_LOG=`nadir_server=loud` is not a log filter"),
        "{stderr}"
    );
}

/// The value of the series `name` (no labels) in a Prometheus text page.
fn series(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{page}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_carry_the_build_and_the_process() {
    let dir = scratch("process-metrics");
    train_on_sample("dt", &dir, &[]);
    let (mut child, addr) = serve(&dir);
    let (status, page) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    let build = page
        .lines()
        .find(|l| l.starts_with("nadir_build_info{"))
        .unwrap_or_else(|| panic!("no nadir_build_info in\n{page}"));
    assert!(
        build.starts_with(&format!(
            "nadir_build_info{{version=\"{}\"",
            env!("CARGO_PKG_VERSION")
        )) && build.ends_with("} 1"),
        "{build}"
    );
    if cfg!(target_os = "linux") {
        assert!(series(&page, "process_resident_memory_bytes") > 0.0);
        assert!(series(&page, "process_cpu_seconds_total") >= 0.0);
        // The listener and the standard streams at least.
        assert!(series(&page, "process_open_fds") >= 4.0);
        assert!(series(&page, "process_threads") >= 2.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = series(&page, "process_start_time_seconds");
        assert!(
            started > now - 86_400.0 && started <= now + 1.0,
            "{started} vs {now}"
        );
        assert!(page.contains("# TYPE process_cpu_seconds_total counter\n"));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn serve_takes_its_settings_from_a_file_under_the_flags() {
    let dir = scratch("serve-config");
    train_on_sample("dt", &dir, &[]);
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/serve.example.toml");
    // The documented example, with the flags for what differs here: it logs JSON lines.
    let (child, addr, log) = serve_logging(
        &dir,
        "example",
        &[
            "--config",
            path(&example),
            "--models",
            path(&dir),
            "--addr",
            "127.0.0.1:0",
            "--max-connections",
            "100",
        ],
        &[],
    );
    assert_eq!(request_with_id(&addr, "GET /healthz", "example", ""), 200);
    let stderr = stop_and_read_log(child, &log);
    for line in stderr.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(line["level"].is_string(), "{line}");
    }

    // A file's setting applies (the body limit); the flags override the file's address and
    // model directory, which would not do.
    let file = dir.join("serve.toml");
    std::fs::write(
        &file,
        "addr = \"127.0.0.1:1\"\nmodels = \"/nonexistent\"\nmax_body = 750\n",
    )
    .unwrap();
    let (child, addr, log) = serve_logging(
        &dir,
        "override",
        &[
            "--config",
            path(&file),
            "--models",
            path(&dir),
            "--addr",
            "127.0.0.1:0",
        ],
        &[],
    );
    let route = "POST /v1/models/decision_tree/predict";
    let body = sample_body();
    assert!(body.len() > 750);
    assert_eq!(request_with_id(&addr, route, "large", &body), 413);
    let small = body.lines().take(2).collect::<Vec<_>>().join("\n") + "\n";
    assert!(small.len() <= 750);
    assert_eq!(request_with_id(&addr, route, "small", &small), 200);
    stop_and_read_log(child, &log);
    // A flag given still overrides the file's limit.
    let (child, addr, log) = serve_logging(
        &dir,
        "flag",
        &[
            "--config",
            path(&file),
            "--models",
            path(&dir),
            "--addr",
            "127.0.0.1:0",
            "--max-body",
            "100000",
        ],
        &[],
    );
    assert_eq!(request_with_id(&addr, route, "large", &body), 200);
    stop_and_read_log(child, &log);

    // A key the server does not know is an error naming it and the file.
    std::fs::write(&file, "max_body = 300\nmax_bdoy = 300\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--config", path(&file), "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(path(&file)) && stderr.contains("unknown field `max_bdoy`"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
