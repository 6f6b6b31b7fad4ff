//! Bounded error answers (issue 18, F1) and the edge cases of a request's head and encoding
//! (F5), over HTTP against the real server on a loopback port.
//!
//! F1: a body of millions of bad records (2 million `{}` lines, 6 MB; 350,000 CSV rows of
//! empty fields, 14 MB) used to get an answer listing every bad field of every record, built
//! in memory: 376 MB and 4.4 GB of memory for 100,000 `{}` lines. The answer must stay small,
//! list at most the cap, count every record, and the process's peak memory grow by little
//! more than the body while it is handled. Memory is measured, not time: the peak resident
//! size (`VmHWM`) is reset before each request (`/proc/self/clear_refs`) and read after it.

use nadir_data::rejects::LISTED_PROBLEMS;
use nadir_ml::{ModelConfig, ModelKind};
use nadir_server::ServerConfig;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

mod common;
use common::{Running, model_dir, sample_path, train_on_sample};

/// The most an error answer may take, whatever the body: at most [`LISTED_PROBLEMS`] problems
/// (or one record's, when the first bad record has more), each value shown in at most 64
/// characters, and the counts per field of the schema.
const ANSWER_BYTES: usize = 64 * 1024;

/// How much the process's peak resident memory may grow while the server handles one of the
/// large bodies: the body itself (up to 14 MB) and the buffers that read it, with room to
/// spare on a busy machine. Before the bounds, the same bodies took gigabytes.
const PEAK_GROWTH_BYTES: u64 = 64 * 1024 * 1024;

/// The tests of this file one at a time, so that each one's memory is its own.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A server of one small random forest (the default model of `/v1/predict` and `/predict`)
/// trained on the 2,000-row sample, started once.
fn server() -> SocketAddr {
    // Runs until the test process ends.
    static SERVER: OnceLock<Running> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let mut config = ModelConfig::default();
            config.random_forest.trees = 10;
            let models = train_on_sample(&[ModelKind::RandomForest], config);
            let mut config = ServerConfig::new(model_dir("bounded", "rf", &models));
            // A debug build reads millions of records slowly; the verdicts are about memory.
            config.request_timeout = Duration::from_secs(600);
            let server = Running::start(config);
            // Warm up the pools and buffers a large body uses, before any memory is measured.
            let csv = std::fs::read(sample_path()).unwrap();
            let warm = post(server.addr, PREDICT, "text/csv", &csv);
            assert_eq!(warm.status, 200, "{}", warm.text());
            server
        })
        .addr
}

const PREDICT: &str = "/v1/predict";

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Sends `head` (the request line and headers, each ending in CRLF) and `body` on a new
/// connection and reads the whole answer.
fn send(addr: SocketAddr, head: &[u8], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .unwrap();
    let request = [
        head,
        format!(
            "host: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    ]
    .concat();
    stream.write_all(&request).unwrap();
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head.contains("transfer-encoding"),
        "answers here have a length: {head}"
    );
    Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let head = format!("POST {path} HTTP/1.1\r\ncontent-type: {content_type}\r\n");
    send(addr, head.as_bytes(), body)
}

/// A number of `/proc/self/status` in bytes.
fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"));
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kb * 1024
}

/// `work`'s result and how far the process's peak resident memory rose above its resident
/// memory before it. The peak is reset first; where it cannot be, the growth is measured
/// from the peak so far, which can only understate it when that peak was higher.
fn peak_growth<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = if reset {
        status_bytes("VmRSS:")
    } else {
        status_bytes("VmHWM:")
    };
    let result = work();
    let growth = status_bytes("VmHWM:").saturating_sub(before);
    (result, growth)
}

/// The checks every error answer to a body of many bad records passes: small, at most the
/// cap listed, each listed record whole (every feature named, at its index and line), all
/// of them counted.
fn check_bounded(reply: &Reply, records: u64, first_line: u64) -> Value {
    assert!(
        reply.body.len() < ANSWER_BYTES,
        "{} bytes: {}",
        reply.body.len(),
        &reply.text()[..2000.min(reply.body.len())]
    );
    let answer = reply.json();
    let errors = answer["errors"].as_array().unwrap();
    assert!(
        !errors.is_empty() && errors.len() <= LISTED_PROBLEMS,
        "{answer}"
    );
    let features = 41;
    // Listed records come whole: each index with every feature, in order, on its line.
    assert_eq!(errors.len() % features, 0, "{answer}");
    for (k, record) in errors.chunks(features).enumerate() {
        for e in record {
            assert_eq!(e["index"], k as u64, "{e}");
            assert_eq!(e["line"], first_line + k as u64, "{e}");
            assert_eq!(e["value"], "", "{e}");
            assert_eq!(e["message"], "value is missing", "{e}");
        }
        let named: std::collections::BTreeSet<&str> = record
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named.len(), features);
    }
    let listed = (errors.len() / features) as u64;
    let counts = &answer["error_counts"];
    assert_eq!(counts["records"], records, "{counts}");
    assert_eq!(counts["problems"], records * features as u64);
    assert_eq!(counts["unlisted_records"], records - listed);
    assert_eq!(
        counts["unlisted_problems"],
        (records - listed) * features as u64
    );
    assert_eq!(
        counts["by_problem"],
        serde_json::json!({ "missing": records * 41 })
    );
    let by_field = counts["by_field"].as_object().unwrap();
    assert_eq!(by_field.len(), features);
    assert!(by_field.values().all(|n| *n == records), "{by_field:?}");
    answer
}

#[test]
fn millions_of_bad_records_get_a_small_answer_in_little_memory() {
    let _one = one_at_a_time();
    let addr = server();
    let records = 2_000_000;
    let ndjson = "{}\n".repeat(records as usize);
    let (reply, growth) =
        peak_growth(|| post(addr, PREDICT, "application/x-ndjson", ndjson.as_bytes()));
    assert_eq!(reply.status, 422, "{}", reply.text());
    let answer = check_bounded(&reply, records, 1);
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.starts_with("2000000 of 2000000 record(s) are invalid")
            && message.contains("`errors` lists the first 2"),
        "{message}"
    );
    assert!(growth < PEAK_GROWTH_BYTES, "peak grew by {growth} bytes");
    eprintln!(
        "NDJSON, {records} bad records: {} bytes answered, peak +{} MiB",
        reply.body.len(),
        growth >> 20
    );

    // Skipped rather than refused: nothing to score, every record counted as rejected.
    let (reply, growth) = peak_growth(|| {
        let path = format!("{PREDICT}?on_error=skip");
        post(addr, &path, "application/x-ndjson", ndjson.as_bytes())
    });
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = check_bounded(&reply, records, 1);
    assert_eq!(answer["results"], serde_json::json!([]));
    assert_eq!(answer["summary"]["rejected"], records);
    assert!(growth < PEAK_GROWTH_BYTES, "peak grew by {growth} bytes");
    drop(ndjson);

    // CSV rows of empty fields under a header of the 41 features (no label column), read in
    // chunks on every core.
    let sample = std::fs::read_to_string(sample_path()).unwrap();
    let header: Vec<&str> = sample.lines().next().unwrap().split(',').take(41).collect();
    let header = header.join(",");
    let rows = 350_000;
    let empty_row = ",".repeat(40);
    let csv = format!(
        "{header}\n{}",
        format!("{empty_row}\n").repeat(rows as usize)
    );
    assert!(csv.len() > 14_000_000);
    for query in ["", "?on_error=skip"] {
        let path = format!("{PREDICT}{query}");
        let (reply, growth) = peak_growth(|| post(addr, &path, "text/csv", csv.as_bytes()));
        let status = if query.is_empty() { 422 } else { 200 };
        assert_eq!(reply.status, status, "{}", reply.text());
        check_bounded(&reply, rows, 2);
        assert!(growth < PEAK_GROWTH_BYTES, "peak grew by {growth} bytes");
        eprintln!(
            "CSV{query}, {rows} bad rows: {} bytes answered, peak +{} MiB",
            reply.body.len(),
            growth >> 20
        );
    }
}

#[test]
fn skipped_records_are_counted_and_the_good_ones_scored() {
    let _one = one_at_a_time();
    let addr = server();
    let sample = std::fs::read_to_string(sample_path()).unwrap();
    let mut lines = sample.lines();
    let header = lines.next().unwrap();
    let mut good_rows = lines.take(500);
    let empty_row = ",".repeat(header.matches(',').count());
    // Every 400th row is good, the others bad: 500 good rows among 200,000.
    let mut body = format!("{header}\n");
    let mut good_indices = Vec::new();
    for index in 0..200_000 {
        if index % 400 == 0 {
            good_indices.push(index);
            body.push_str(good_rows.next().unwrap());
        } else {
            body.push_str(&empty_row);
        }
        body.push('\n');
    }
    let scored = good_indices.len() as u64;
    assert_eq!(scored, 500);
    let reply = post(
        addr,
        &format!("{PREDICT}?on_error=skip"),
        "text/csv",
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.body.len() < ANSWER_BYTES + 200 * good_indices.len());
    let answer = reply.json();
    let indices: Vec<u64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indices,
        good_indices.iter().map(|&i| i as u64).collect::<Vec<_>>()
    );
    let summary = &answer["summary"];
    assert_eq!(summary["records"], 200_000);
    assert_eq!(summary["scored"], scored);
    assert_eq!(summary["rejected"], 200_000 - scored);
    assert_eq!(answer["error_counts"]["records"], 200_000 - scored);
    // The first bad rows are listed by their own index and line (the header is line 1).
    let first = &answer["errors"][0];
    assert_eq!((&first["index"], &first["line"]), (&1.into(), &3.into()));
    // The good rows before the last listed bad one are not in `errors`.
    let listed: Vec<u64> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert!(listed.iter().all(|i| i % 400 != 0), "{listed:?}");
}

#[test]
fn values_and_repeated_keys_cannot_make_an_answer_large() {
    let _one = one_at_a_time();
    let addr = server();
    // A megabyte-long value is shown in 64 characters.
    let long = "9".repeat(1 << 20);
    let body = format!("{{\"srcbytes\": \"{long}x\"}}");
    let reply = post(addr, PREDICT, "application/json", body.as_bytes());
    assert_eq!(reply.status, 422, "{}", &reply.text()[..200]);
    assert!(reply.body.len() < 8 * 1024, "{} bytes", reply.body.len());
    let answer = reply.json();
    let srcbytes = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "srcbytes")
        .unwrap();
    assert_eq!(srcbytes["value"], format!("{}…", &long[..64]));
    assert_eq!(srcbytes["message"], "not a number");
    // A feature named 200,000 times is one problem.
    let body = format!("{{{}\"duration\": 0}}", "\"duration\": 0, ".repeat(200_000));
    let reply = post(addr, PREDICT, "application/json", body.as_bytes());
    assert_eq!(reply.status, 422);
    assert!(reply.body.len() < 8 * 1024, "{} bytes", reply.body.len());
    let counts = &reply.json()["error_counts"];
    assert_eq!(counts["by_problem"]["duplicate"], 1, "{counts}");
}

#[test]
fn a_header_hyper_cannot_parse_gets_a_json_400() {
    let _one = one_at_a_time();
    let addr = server();
    for bad in [
        &b"content-type: application/json\0x\r\n"[..],
        b"content-type: \x01application/json\r\n",
        b"x-\0name: 1\r\n",
    ] {
        let head = [b"POST /v1/predict HTTP/1.1\r\n", bad].concat();
        // No body: hyper answers without reading one, and closes.
        let reply = send(addr, &head, b"");
        assert_eq!(reply.status, 400, "{}", reply.head);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(
            reply.header("content-length"),
            Some(reply.body.len().to_string().as_str())
        );
        let error = reply.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains("header"), "{error}");
    }
    // The server goes on answering.
    let reply = send(addr, b"GET /healthz HTTP/1.1\r\n", b"");
    assert_eq!(
        (reply.status, reply.json()["status"].clone()),
        (200, "ok".into())
    );
}

#[test]
fn compressed_bodies_are_refused_with_415() {
    let _one = one_at_a_time();
    let addr = server();
    let sample = std::fs::read_to_string(sample_path()).unwrap();
    let csv: String = sample.lines().take(3).map(|l| format!("{l}\n")).collect();
    for (path, content_type) in [(PREDICT, "text/csv"), ("/predict", "application/json")] {
        for encoding in ["br", "gzip", "identity, gzip", "x-unknown"] {
            let head = format!(
                "POST {path} HTTP/1.1\r\ncontent-type: {content_type}\r\ncontent-encoding: {encoding}\r\n"
            );
            let reply = send(addr, head.as_bytes(), csv.as_bytes());
            assert_eq!(reply.status, 415, "{encoding}: {}", reply.text());
            assert_eq!(reply.header("accept-encoding"), Some("identity"));
            let error = reply.json()["error"].as_str().unwrap().to_string();
            assert!(error.contains("content encoding"), "{error}");
        }
    }
    // `identity` is no encoding at all.
    let head = format!(
        "POST {PREDICT} HTTP/1.1\r\ncontent-type: text/csv\r\ncontent-encoding: identity\r\n"
    );
    let reply = send(addr, head.as_bytes(), csv.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["summary"]["scored"], 2);
}

#[test]
fn error_answers_are_as_the_openapi_document_says() {
    let _one = one_at_a_time();
    let addr = server();
    let reply = send(addr, b"GET /openapi.json HTTP/1.1\r\n", b"");
    let schemas = reply.json()["components"]["schemas"].clone();
    let declared = &schemas["ErrorCounts"];
    let mut required: Vec<&str> = declared["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    required.sort_unstable();
    for schema in ["Error", "Batch"] {
        assert_eq!(
            schemas[schema]["properties"]["error_counts"]["$ref"],
            "#/components/schemas/ErrorCounts"
        );
    }
    let body = "{}\n[]\n{\"duration\": -1}\n";
    for query in ["", "?on_error=skip"] {
        let path = format!("{PREDICT}{query}");
        let answer = post(addr, &path, "application/x-ndjson", body.as_bytes()).json();
        let counts = answer["error_counts"].as_object().unwrap();
        let mut keys: Vec<&str> = counts.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, required);
        let kinds = declared["properties"]["by_problem"]["description"]
            .as_str()
            .unwrap();
        for kind in counts["by_problem"].as_object().unwrap().keys() {
            assert!(kinds.contains(kind.as_str()), "{kind} not in {kinds}");
        }
        assert_eq!(counts["records"], 3);
        assert_eq!(counts["by_problem"]["not_an_object"], 1);
        assert_eq!(counts["by_problem"]["negative"], 1);
    }
}
