//! The real server on an ephemeral loopback port, called over HTTP: every route, content type
//! and error class, concurrent requests, timeouts, reload with a good and a corrupt file, and
//! graceful shutdown. Models are trained once, small, on the 2,000-row sample.

use nadir_data::{ReadOptions, Record, Schema, read_from, read_path};
use nadir_ml::file::SavedModel;
use nadir_ml::protocol::{TrainOptions, train};
use nadir_ml::{ModelConfig, ModelKind};
use nadir_server::{Server, ServerConfig};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

mod common;
use common::{Running, sample_path, train_on_sample, wait_until};

fn sample_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string(sample_path()).unwrap())
}

/// A random forest (20 trees) and a normal-only isolation forest, trained once.
fn trained() -> &'static [SavedModel] {
    static MODELS: OnceLock<Vec<SavedModel>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut config = ModelConfig::default();
        config.random_forest.trees = 20;
        config.isolation_forest.normal_only = true;
        train_on_sample(
            &[ModelKind::RandomForest, ModelKind::IsolationForest],
            config,
        )
    })
}

fn model(kind: ModelKind) -> &'static SavedModel {
    trained().iter().find(|m| m.kind() == kind).unwrap()
}

/// A fresh model directory holding both models.
fn model_dir(name: &str) -> PathBuf {
    common::model_dir("server", name, trained())
}

impl Running {
    fn with_models(name: &str) -> Running {
        Running::start(ServerConfig::new(model_dir(name)))
    }

    /// Waits until `n` requests are reading their body.
    fn wait_for_reading(&self, n: usize) {
        wait_until("requests reading their body", || {
            self.state.metrics.reading() >= n
        });
    }

    /// Waits until `n` requests are queued for a concurrency slot.
    fn wait_for_waiting(&self, n: usize) {
        wait_until("requests waiting for a slot", || {
            self.state.metrics.waiting() >= n
        });
    }

    fn get(&self, path: &str) -> Reply {
        call(self.addr, "GET", path, &[], b"")
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        call(
            self.addr,
            "POST",
            path,
            &[("content-type", content_type)],
            body,
        )
    }

    fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post(path, "application/json", body.to_string().as_bytes())
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
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
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// An error answer: the status, a JSON body with an `error` string.
    fn expect_error(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        let body = self.json();
        assert!(body["error"].is_string(), "{body}");
        body
    }
}

/// A minimal HTTP/1.1 client: one request per connection, so the tests see the server
/// exactly as any client does, with no client library in between.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The server may answer (413) before reading all of a large body.
    let _ = stream.write_all(body);
    read_reply(&mut stream)
}

fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
}

/// The sample's lines: header, then records.
fn sample_lines() -> Vec<&'static str> {
    sample_text().lines().collect()
}

/// The first `n` records of the sample as JSON objects (numbers as numbers; attack and
/// lastflag kept, which the server must ignore).
fn json_records(n: usize) -> Vec<Value> {
    let mut reader = csv::Reader::from_reader(sample_text().as_bytes());
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .take(n)
        .map(|row| {
            let row = row.unwrap();
            Value::Object(
                header
                    .iter()
                    .zip(row.iter())
                    .map(|(name, value)| {
                        let value = value
                            .parse::<f64>()
                            .map_or_else(|_| json!(value), |x| json!(x));
                        (name.to_string(), value)
                    })
                    .collect(),
            )
        })
        .collect()
}

fn sample_records(n: usize) -> Vec<Record> {
    let data = read_path(&sample_path(), ReadOptions::default()).unwrap();
    data.records[..n].to_vec()
}

fn csv_body(n: usize, header: bool) -> String {
    let lines = sample_lines();
    let mut body = String::new();
    if header {
        body.push_str(lines[0]);
        body.push('\n');
    }
    for line in &lines[1..=n] {
        body.push_str(line);
        body.push('\n');
    }
    body
}

fn probabilities(reply: &Reply, key: &str) -> Vec<f64> {
    reply.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_f64().unwrap())
        .collect()
}

#[test]
fn every_content_type_gives_the_models_own_predictions() {
    let server = Running::with_models("formats");
    let n = 25;
    let expected: Vec<f64> = model(ModelKind::RandomForest)
        .predict(&sample_records(n), None)
        .iter()
        .map(|p| p.score)
        .collect();

    let with_header = server.post(
        "/v1/models/random_forest/predict",
        "text/csv",
        csv_body(n, true).as_bytes(),
    );
    assert_eq!(with_header.status, 200, "{}", with_header.text());
    assert_eq!(probabilities(&with_header, "probability"), expected);

    // Headerless, like KDDTrain+.txt: the sample's file order is the schema's.
    let headerless = server.post(
        "/v1/models/random_forest/predict",
        "text/csv; charset=utf-8",
        csv_body(n, false).as_bytes(),
    );
    assert_eq!(probabilities(&headerless, "probability"), expected);

    let array = server.post_json("/v1/predict", &Value::Array(json_records(n)));
    assert_eq!(probabilities(&array, "probability"), expected);
    let body = array.json();
    assert_eq!(body["model"], "random_forest");
    let attacks = expected
        .iter()
        .filter(|&&p| p >= model(ModelKind::RandomForest).threshold)
        .count();
    assert_eq!(
        body["summary"],
        json!({"records": n, "scored": n, "attacks": attacks, "normal": n - attacks, "rejected": 0})
    );
    let first = &body["results"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(
        first["threshold"],
        json!(model(ModelKind::RandomForest).threshold)
    );
    assert_eq!(first["warnings"], json!([]));
    assert_eq!(
        first["prediction"],
        if expected[0] >= model(ModelKind::RandomForest).threshold {
            "attack"
        } else {
            "normal"
        }
    );

    let ndjson: String = json_records(n).iter().map(|r| format!("{r}\n")).collect();
    let nd = server.post("/v1/predict", "application/x-ndjson", ndjson.as_bytes());
    assert_eq!(probabilities(&nd, "probability"), expected);

    // One object in, one result object out.
    let one = server.post_json("/v1/predict", &json_records(1)[0]);
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["probability"].as_f64().unwrap(), expected[0]);
    assert_eq!(one["model"], "random_forest");
    assert!(one.get("results").is_none());

    // The anomaly detector answers with an anomaly score, not a probability.
    let detector = model(ModelKind::IsolationForest);
    let scores: Vec<f64> = detector
        .predict(&sample_records(n), None)
        .iter()
        .map(|p| p.score)
        .collect();
    let anomaly = server.post("/v1/anomaly", "text/csv", csv_body(n, true).as_bytes());
    assert_eq!(probabilities(&anomaly, "anomaly_score"), scores);
    assert_eq!(anomaly.json()["model"], "isolation_forest");
    assert!(anomaly.json()["results"][0].get("probability").is_none());
    assert!(anomaly.json()["results"][0].get("score").is_none());
}

/// `?format=ecs`: one Elastic Common Schema document per scored record, a line each, as
/// `application/x-ndjson`: an alert for each record the model calls an attack, an event for
/// the others, with the record's index, the model's score and the record's transport;
/// `attacks_only=true` keeps the alerts alone, and is refused without `format=ecs`.
#[test]
fn the_scoring_routes_answer_ecs_documents_and_only_alerts_when_asked() {
    let server = Running::with_models("ecs");
    let n = 60;
    let forest = model(ModelKind::RandomForest);
    let expected = forest.predict(&sample_records(n), None);
    let lines = |reply: &Reply| -> Vec<Value> {
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
        reply
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let all = lines(&server.post(
        "/v1/predict?format=ecs",
        "text/csv",
        csv_body(n, true).as_bytes(),
    ));
    assert_eq!(all.len(), n);
    for (i, (document, prediction)) in all.iter().zip(&expected).enumerate() {
        let kind = if prediction.is_attack {
            "alert"
        } else {
            "event"
        };
        assert_eq!(document["event"]["kind"], kind, "{document}");
        assert_eq!(document["nadir"]["index"], i);
        assert_eq!(
            document["nadir"]["score"].as_f64().unwrap().to_bits(),
            prediction.score.to_bits()
        );
        assert_eq!(document["event"]["risk_score"], document["nadir"]["score"]);
        assert_eq!(document["nadir"]["score_kind"], "probability");
        assert_eq!(document["rule"]["name"], "random_forest");
        assert_eq!(document["ecs"]["version"], nadir_ml::ecs::ECS_VERSION);
        assert!(
            ["tcp", "udp", "icmp"].contains(&document["network"]["transport"].as_str().unwrap()),
            "{document}"
        );
        assert_eq!(document["@timestamp"], document["event"]["created"]);
    }
    let attacks: Vec<usize> = (0..n).filter(|&i| expected[i].is_attack).collect();
    assert!(!attacks.is_empty() && attacks.len() < n);
    let alerts = lines(&server.post_json(
        "/v1/models/random_forest/predict?format=ecs&attacks_only=true",
        &Value::Array(json_records(n)),
    ));
    let indices: Vec<usize> = alerts
        .iter()
        .map(|a| a["nadir"]["index"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(indices, attacks);
    assert!(alerts.iter().all(|a| a["event"]["kind"] == "alert"));

    // One object in, one line out; the detector's score is its anomaly score.
    let one = lines(&server.post_json("/v1/anomaly?format=ecs", &json_records(1)[0]));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["nadir"]["score_kind"], "anomaly_score");
    assert_eq!(one[0]["rule"]["name"], "isolation_forest");

    server
        .post_json("/v1/predict?attacks_only=true", &json_records(1)[0])
        .expect_error(400);
    server
        .post_json("/v1/predict?format=xml", &json_records(1)[0])
        .expect_error(400);
}

/// `?explain=K`: each scored record carries its explanation, the model's own (the same
/// object `Explanation::top` makes), in JSON and in ECS; with every feature, its
/// contributions and base add up to the score; K out of range and too many records are
/// refused naming what is wrong.
#[test]
fn explain_adds_each_records_explanation_to_its_result() {
    let server = Running::with_models("explain");
    let forest = model(ModelKind::RandomForest);
    let n = 40;
    let records = sample_records(n);
    let features = forest.pipeline.schema().num_features();
    let expected = |k: usize| -> Vec<Value> {
        forest
            .explain_top(&records, k)
            .unwrap()
            .iter()
            .map(|top| serde_json::to_value(top).unwrap())
            .collect()
    };
    let reply = server.post(
        "/v1/predict?explain=3",
        "text/csv",
        csv_body(n, true).as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let results = reply.json()["results"].as_array().unwrap().clone();
    let explanations: Vec<Value> = results.iter().map(|r| r["explanation"].clone()).collect();
    assert_eq!(explanations, expected(3));
    assert!(
        explanations
            .iter()
            .all(|e| e["features"].as_array().unwrap().len() <= 3)
    );
    assert!(
        explanations
            .iter()
            .any(|e| e["features"].as_array().unwrap().len() == 3)
    );

    // With every feature, the base and the contributions are the score.
    let all = server.post(
        "/v1/predict?explain=41",
        "text/csv",
        csv_body(n, true).as_bytes(),
    );
    assert_eq!(features, 41);
    assert_eq!(all.status, 200, "{}", all.text());
    for result in all.json()["results"].as_array().unwrap() {
        let explanation = &result["explanation"];
        assert_eq!(explanation["space"], "probability");
        let sum: f64 = explanation["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["contribution"].as_f64().unwrap())
            .sum();
        let score = result["probability"].as_f64().unwrap();
        let total = explanation["base"].as_f64().unwrap() + sum;
        assert!((total - score).abs() < 1e-9, "{total} vs {score}");
    }

    // One object, one result with its explanation; none without asking.
    let one = server.post_json(
        "/v1/models/random_forest/predict?explain=5",
        &json_records(1)[0],
    );
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.json()["explanation"], expected(5)[0]);
    let plain = server.post_json("/v1/predict", &json_records(1)[0]);
    assert!(
        plain.json().get("explanation").is_none(),
        "{}",
        plain.text()
    );

    // Skipped records leave no hole: each explanation is its own record's.
    let body = csv_body(3, true).replacen('\n', "\n1,2,3\n", 1);
    let skipped = server.post(
        "/v1/predict?explain=2&on_error=skip",
        "text/csv",
        body.as_bytes(),
    );
    assert_eq!(skipped.status, 200, "{}", skipped.text());
    let results = skipped.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i + 1);
        assert_eq!(result["explanation"], expected(2)[i]);
    }

    // ECS documents carry it under `nadir`.
    let ecs = server.post(
        "/v1/predict?format=ecs&explain=4",
        "text/csv",
        csv_body(n, true).as_bytes(),
    );
    assert_eq!(ecs.status, 200, "{}", ecs.text());
    let documents: Vec<Value> = ecs
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let in_ecs: Vec<Value> = documents
        .iter()
        .map(|d| d["nadir"]["explanation"].clone())
        .collect();
    assert_eq!(in_ecs, expected(4));

    for bad in ["explain=0", "explain=42", "explain=all"] {
        let error = server
            .post_json(&format!("/v1/predict?{bad}"), &json_records(1)[0])
            .expect_error(400);
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .starts_with("explain must be"),
            "{error}"
        );
    }
    let error = server
        .post_json("/v1/predict?explain=42", &json_records(1)[0])
        .expect_error(400);
    assert!(
        error["error"].as_str().unwrap().contains("from 1 to 41"),
        "{error}"
    );

    let limit = nadir_server::api::MAX_EXPLAINED_RECORDS;
    let too_many = server.post(
        "/v1/predict?explain=1",
        "text/csv",
        csv_body(limit + 1, true).as_bytes(),
    );
    let error = too_many.expect_error(413);
    let message = error["error"].as_str().unwrap();
    assert!(
        message.starts_with("explain:") && message.contains("MAX_EXPLAINED_RECORDS"),
        "{message}"
    );
    assert!(
        message.contains(&format!("at most {limit} records")),
        "{message}"
    );
    let just_enough = server.post(
        "/v1/predict?explain=1",
        "text/csv",
        csv_body(limit, true).as_bytes(),
    );
    assert_eq!(just_enough.status, 200, "{}", just_enough.text());
    assert_eq!(
        just_enough.json()["results"].as_array().unwrap().len(),
        limit
    );
}

/// A model without the node covers explanations need (a model file of format 3) answers 422
/// with the library's reason; it still scores without `explain`.
#[test]
fn a_model_that_cannot_be_explained_answers_422_with_the_reason() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nadir-ml/tests/fixtures/v3/decision_tree.nadir");
    let old = SavedModel::load(&fixture).unwrap();
    let dir = common::model_dir("server", "unexplained", std::slice::from_ref(&old));
    let server = Running::start(ServerConfig::new(dir));
    let reason = old.explain(&sample_records(1)).unwrap_err().to_string();
    let path = "/v1/models/decision_tree/predict";
    let error = server
        .post(
            "/v1/models/decision_tree/predict?explain=3",
            "text/csv",
            csv_body(5, true).as_bytes(),
        )
        .expect_error(422);
    assert_eq!(
        error["error"],
        format!("explain: cannot explain decision_tree's predictions: {reason}")
    );
    let scored = server.post(path, "text/csv", csv_body(5, true).as_bytes());
    assert_eq!(scored.status, 200, "{}", scored.text());
}

/// Every loaded model answers under the score field `GET /v1/models` lists for it, which is
/// the one `nadir predict` writes (`ModelKind::score_field`), with its columns: the web page
/// reads both from the listing. (The isolation forest once answered `score` while the page
/// and the CLI wrote `anomaly_score`.)
#[test]
fn every_model_answers_under_its_listed_score_field() {
    let server = Running::with_models("score-fields");
    let listing = server.get("/v1/models").json();
    // The model `POST /v1/predict` uses, which the web page starts at.
    assert_eq!(
        listing["default_model"],
        nadir_server::models::DEFAULT_CLASSIFIER
    );
    let models = listing["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let body = csv_body(3, true);
    for listed in models {
        let name = listed["name"].as_str().unwrap();
        let kind = model(ModelKind::parse_list(name).unwrap()[0]).kind();
        let field = kind.score_field();
        assert_eq!(listed["score_field"], field, "{name}");
        assert_eq!(
            listed["columns"],
            json!(nadir_ml::output::columns(kind)),
            "{name}"
        );
        let reply = server.post(
            &format!("/v1/models/{name}/predict"),
            "text/csv",
            body.as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        for result in reply.json()["results"].as_array().unwrap() {
            assert!(result[field].is_number(), "{name}: {result}");
            for other in ["probability", "anomaly_score", "score"] {
                assert!(
                    other == field || result.get(other).is_none(),
                    "{name} writes `{other}` beside `{field}`: {result}"
                );
            }
            let verdict = result["prediction"].as_str().unwrap();
            assert!(["attack", "normal"].contains(&verdict), "{result}");
        }
    }
    assert_eq!(
        models
            .iter()
            .map(|m| m["score_field"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["anomaly_score", "probability"]
    );
}

#[test]
fn legacy_predict_keeps_the_flask_contract() {
    let server = Running::with_models("legacy");
    let rf = model(ModelKind::RandomForest);
    let records = sample_records(40);
    let predictions = rf.predict(&records, None);
    let lines = sample_lines();
    for (line, p) in lines[1..=40].iter().zip(&predictions) {
        let features: Vec<Value> = line
            .split(',')
            .take(41)
            .map(|v| v.parse::<f64>().map_or_else(|_| json!(v), |x| json!(x)))
            .collect();
        let reply = server.post_json("/predict", &json!({ "features": features }));
        assert_eq!(reply.status, 200, "{}", reply.text());
        let expected = if p.is_attack {
            json!({"prediction": 1, "message": "Anomaly"})
        } else {
            json!({"prediction": 0, "message": "Normal"})
        };
        assert_eq!(reply.json(), expected);
    }
    assert!(predictions.iter().any(|p| p.is_attack) && predictions.iter().any(|p| !p.is_attack));

    let short = server.post_json("/predict", &json!({"features": [0, "tcp"]}));
    let body = short.expect_error(422);
    assert_eq!(body["errors"][0]["field"], "features");
    let wrong = server.post_json("/predict", &json!({"features": vec![json!(-1); 41]}));
    let body = wrong.expect_error(422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"duration") && fields.contains(&"service"),
        "{fields:?}"
    );
    server
        .post_json("/predict", &json!({"values": []}))
        .expect_error(400);
    server
        .post("/predict", "text/csv", b"1,2")
        .expect_error(415);
}

#[test]
fn listing_health_metrics_and_openapi() {
    let server = Running::with_models("listing");
    let listing = server.get("/v1/models");
    assert_eq!(listing.status, 200);
    let listing = listing.json();
    let models = listing["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["isolation_forest", "random_forest"]);
    let rf = &models[1];
    assert_eq!(rf["kind"], "random_forest");
    assert_eq!(rf["detector"], false);
    assert_eq!(models[0]["detector"], true);
    assert_eq!(
        rf["threshold"],
        json!(model(ModelKind::RandomForest).threshold)
    );
    assert_eq!(rf["training"]["rows"], 1400);
    assert_eq!(rf["training"]["data_sha256"].as_str().unwrap().len(), 64);
    assert!(rf["metrics"]["holdout"]["accuracy"].as_f64().unwrap() > 0.9);
    assert!(
        rf["describe"].as_str().unwrap().contains("20 trees"),
        "{}",
        rf["describe"]
    );
    assert_eq!(listing["schema"]["name"], "nsl-kdd");
    assert_eq!(listing["schema"]["headerless"], true);
    assert_eq!(
        listing["schema"]["other_columns"],
        json!(["attack", "lastflag"])
    );
    assert_eq!(rf["schema"], "nsl-kdd");
    let features = listing["features"].as_array().unwrap();
    assert_eq!(features.len(), 41);
    assert_eq!(
        features[1],
        json!({"name": "protocoltype", "kind": "categorical", "values": ["icmp", "tcp", "udp"]})
    );
    let services = features[2]["values"].as_array().unwrap();
    assert!(services.contains(&json!("http")), "{services:?}");
    assert_eq!(features[24], json!({"name": "serrorrate", "kind": "rate"}));

    let health = server.get("/healthz");
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    assert!(health.header("x-request-id").is_some());
    let ready = server.get("/readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json()["models"],
        json!(["isolation_forest", "random_forest"])
    );

    // A client's request id is echoed, so its logs and ours can be joined.
    let traced = call(
        server.addr,
        "GET",
        "/healthz",
        &[("x-request-id", "abc-123")],
        b"",
    );
    assert_eq!(traced.header("x-request-id"), Some("abc-123"));

    for _ in 0..3 {
        assert_eq!(
            server
                .post("/v1/predict", "text/csv", csv_body(4, true).as_bytes())
                .status,
            200
        );
    }
    server
        .post("/v1/models/random_forest/predict", "text/csv", b"oops\n")
        .expect_error(400);
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    for line in [
        r#"nadir_http_requests_total{route="/v1/predict",model="random_forest",status="200"} 3"#,
        r#"nadir_http_requests_total{route="/v1/models/{name}/predict",model="random_forest",status="400"} 1"#,
        r#"nadir_http_request_duration_seconds_count{route="/v1/predict",model="random_forest"} 3"#,
        r#"nadir_http_requests_total{route="/healthz",model="",status="200"} 2"#,
        "nadir_models_loaded 2",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    let scored: u64 = text
        .lines()
        .filter(|l| l.starts_with(r#"nadir_predictions_total{model="random_forest""#))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(scored, 12);

    let doc = server.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for route in &nadir_server::api::ROUTES {
        assert!(paths.contains_key(route.path), "{}", route.path);
        // Every documented route exists on the live server (any answer but "no route").
        let method = route.method.as_str();
        let reply = call(
            server.addr,
            method,
            &route.path.replace("{name}", "random_forest"),
            &[],
            b"",
        );
        assert_ne!(reply.status, 405, "{method} {}", route.path);
        let unrouted = reply.status == 404
            && reply.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("no route");
        assert!(!unrouted, "{method} {}", route.path);
    }
}

#[test]
fn every_error_class_answers_json_never_500() {
    let mut config = ServerConfig::new(model_dir("errors"));
    config.max_body_bytes = 64 * 1024;
    let server = Running::start(config);

    // 400: malformed bodies and query.
    server
        .post("/v1/predict", "application/json", b"{\"duration\": 0,")
        .expect_error(400);
    server
        .post("/v1/predict", "application/json", b"[]")
        .expect_error(400);
    server
        .post("/v1/predict", "text/csv", b"")
        .expect_error(400);
    server
        .post("/v1/predict", "text/csv", b"a,b,c\n1,2,3\n")
        .expect_error(400);
    let nd = server
        .post("/v1/predict", "application/x-ndjson", b"{}\nnot json\n")
        .expect_error(400);
    assert!(nd["error"].as_str().unwrap().contains("line 2"), "{nd}");
    server
        .post(
            "/v1/predict?on_error=sometimes",
            "text/csv",
            csv_body(1, true).as_bytes(),
        )
        .expect_error(400);

    // 404: unknown model (naming the loaded ones) and unknown route; 405 wrong method.
    let unknown = server
        .post(
            "/v1/models/nope/predict",
            "text/csv",
            csv_body(1, true).as_bytes(),
        )
        .expect_error(404);
    assert_eq!(
        unknown["models"],
        json!(["isolation_forest", "random_forest"])
    );
    server.get("/v2/nothing").expect_error(404);
    server.get("/v1/predict").expect_error(405);

    // 413 over the limit, 415 unsupported or missing content type.
    let big = csv_body(600, true);
    assert!(big.len() > 64 * 1024);
    server
        .post("/v1/predict", "text/csv", big.as_bytes())
        .expect_error(413);
    server
        .post("/v1/predict", "application/x-www-form-urlencoded", b"a=1")
        .expect_error(415);
    call(server.addr, "POST", "/v1/predict", &[], b"{}").expect_error(415);

    // 422: every bad field of every record, by index, line and field.
    let lines = sample_lines();
    let bad_row = {
        let mut fields: Vec<String> = lines[2].split(',').map(String::from).collect();
        fields[0] = "NaN".into(); // duration
        fields[24] = "1.5".into(); // serrorrate
        fields.join(",")
    };
    let body = format!(
        "{}\n{}\n{}\n{},1\n{}\n",
        lines[0], lines[1], bad_row, lines[3], lines[4]
    );
    let rejected = server
        .post("/v1/predict", "text/csv", body.as_bytes())
        .expect_error(422);
    let errors: Vec<(u64, u64, Option<&str>)> = rejected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["line"].as_u64().unwrap(),
                e["field"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (1, 3, Some("duration")),
            (1, 3, Some("serrorrate")),
            (2, 4, None)
        ],
        "{rejected}"
    );
    // skip: the good records are scored under their own indices, the bad ones listed.
    let skipped = server.post("/v1/predict?on_error=skip", "text/csv", body.as_bytes());
    assert_eq!(skipped.status, 200, "{}", skipped.text());
    let skipped = skipped.json();
    let indices: Vec<u64> = skipped["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 3]);
    assert_eq!(skipped["errors"], rejected["errors"]);
    assert_eq!(skipped["summary"]["rejected"], 2);
    assert_eq!(skipped["summary"]["records"], 4);

    // JSON: wrong types, missing fields, negative counts, rates out of range, non-objects.
    let mut record = json_records(1).remove(0);
    record["service"] = json!(17);
    record["srcbytes"] = json!(-1);
    record["dsthostsrvrerrorrate"] = json!(2.0);
    record["land"] = json!(true);
    record.as_object_mut().unwrap().remove("flag");
    let rejected = server
        .post_json("/v1/predict", &json!([json_records(1)[0], record, "text"]))
        .expect_error(422);
    let fields: Vec<(u64, Option<&str>)> = rejected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            (1, Some("service")),
            (1, Some("flag")),
            (1, Some("srcbytes")),
            (1, Some("land")),
            (1, Some("dsthostsrvrerrorrate")),
            (2, None)
        ]
    );
    // A single bad object is refused even with skip: there is nothing to answer with.
    server
        .post_json("/v1/predict?on_error=skip", &record)
        .expect_error(422);

    // A number beyond the range of f64 is a bad field like any other, not a malformed body.
    let mut records = json_records(3);
    records[0]["srcbytes"] = json!("too large");
    let body = serde_json::to_string(&records)
        .unwrap()
        .replace("\"too large\"", "1e400");
    let rejected = server
        .post("/v1/predict", "application/json", body.as_bytes())
        .expect_error(422);
    assert_eq!(
        rejected["errors"],
        json!([{"index": 0, "field": "srcbytes", "value": "1e400",
            "message": "NaN or infinity is not allowed (numbers must lie within ±1.8e308)"}])
    );
    let skipped = server.post(
        "/v1/predict?on_error=skip",
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(skipped.status, 200, "{}", skipped.text());
    let skipped = skipped.json();
    assert_eq!(skipped["summary"]["scored"], 2);
    assert_eq!(skipped["results"][0]["index"], 1);
    assert_eq!(skipped["errors"], rejected["errors"]);

    // Unseen categories are warnings, not errors.
    let mut novel = json_records(1).remove(0);
    novel["service"] = json!("quantum_tunnel");
    let reply = server.post_json("/v1/predict", &novel);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["warnings"],
        json!([
            "service value `quantum_tunnel` was not seen in training (encoded as none of the known values)"
        ])
    );

    // Hostile bodies: never a panic, never a 500, always a JSON error.
    let deep = "[".repeat(50_000);
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", deep.into_bytes()),
        ("application/json", b"\xff\xfe\x00garbage".to_vec()),
        ("application/json", b"{\"duration\": 1e999}".to_vec()),
        (
            "application/json",
            b"[{\"duration\": 18446744073709551616}]".to_vec(),
        ),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[null, [], {}]".to_vec()),
        ("text/csv", b"\xff\xfe,\x00\n\"unterminated".to_vec()),
        ("text/csv", b"duration,duration\n1,2\n".to_vec()),
        ("text/csv", "\u{feff}".repeat(10).into_bytes()),
        ("application/x-ndjson", b"\n\n   \n".to_vec()),
        ("application/x-ndjson", b"[1,2]\n\"x\"\n".to_vec()),
    ];
    for (content_type, body) in hostile {
        let reply = server.post("/v1/predict", content_type, &body);
        assert!(
            [400, 422].contains(&reply.status),
            "{content_type} {:?} -> {} {}",
            String::from_utf8_lossy(&body[..body.len().min(40)]),
            reply.status,
            reply.text()
        );
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn concurrent_requests_all_get_their_own_answers() {
    let server = Running::with_models("concurrent");
    let rf = model(ModelKind::RandomForest);
    let records = sample_records(64);
    let expected: Vec<f64> = rf.predict(&records, None).iter().map(|p| p.score).collect();
    let objects = json_records(64);
    let addr = server.addr;
    std::thread::scope(|scope| {
        for t in 0..16 {
            let (objects, expected) = (&objects, &expected);
            scope.spawn(move || {
                for k in 0..12 {
                    let i = (t * 12 + k) % 64;
                    let reply = call(
                        addr,
                        "POST",
                        "/v1/predict",
                        &[("content-type", "application/json")],
                        objects[i].to_string().as_bytes(),
                    );
                    assert_eq!(reply.status, 200);
                    assert_eq!(
                        reply.json()["probability"].as_f64().unwrap(),
                        expected[i],
                        "record {i}"
                    );
                }
            });
        }
    });
}

/// Sends a CSV request whose body is one byte short, so that the server waits for it.
fn start_slow_request(addr: SocketAddr, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST /v1/predict HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: text/csv\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..body.len() - 1]).unwrap();
    stream
}

/// Takes every concurrency slot, as long batches would, until dropped.
fn hold_every_slot(server: &Running) -> tokio::sync::OwnedSemaphorePermit {
    let slots = u32::try_from(server.state.config.max_concurrent).unwrap();
    server
        .state
        .concurrency
        .clone()
        .try_acquire_many_owned(slots)
        .unwrap()
}

/// `send` from another thread while the test holds every slot: the request is seen waiting,
/// has no answer while the slots are held, and is answered once they are free. Ordering is
/// the claim, so nothing here depends on how long anything takes.
fn assert_queues_for_a_slot(
    server: &Running,
    send: impl FnOnce(SocketAddr) -> Reply + Send + 'static,
) -> Reply {
    let held = hold_every_slot(server);
    let (sent, reply) = mpsc::channel();
    let addr = server.addr;
    std::thread::spawn(move || {
        let _ = sent.send(send(addr));
    });
    server.wait_for_waiting(1);
    assert!(
        matches!(reply.try_recv(), Err(mpsc::TryRecvError::Empty)),
        "a request was answered while every slot was held"
    );
    drop(held);
    reply
        .recv_timeout(Duration::from_secs(120))
        .expect("the queued request was answered")
}

#[test]
fn the_concurrency_limit_queues_requests_until_a_slot_is_free() {
    let mut config = ServerConfig::new(model_dir("limits"));
    // Longer than any client here waits: a request that wrongly needs the held slot hangs
    // and fails rather than passing once it times out.
    config.request_timeout = Duration::from_secs(600);
    config.max_concurrent = 1;
    let server = Running::start(config);
    let held = hold_every_slot(&server);
    // Probes never wait for a slot: they answer while the only one is held.
    assert_eq!(server.get("/healthz").status, 200);
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains("\nnadir_requests_in_flight 1\n"),
        "{metrics}"
    );
    drop(held);
    let body = csv_body(2, true);
    let reply = assert_queues_for_a_slot(&server, move |addr| {
        call(
            addr,
            "POST",
            "/v1/predict",
            &[("content-type", "text/csv")],
            body.as_bytes(),
        )
    });
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["summary"]["scored"], 2);
    // Every route that needs a slot waits for one, the original apps' route included.
    let features: Vec<serde_json::Value> = vec![json!(0); 41];
    let legacy = serde_json::to_vec(&json!({ "features": features })).unwrap();
    let reply = assert_queues_for_a_slot(&server, move |addr| {
        call(
            addr,
            "POST",
            "/predict",
            &[("content-type", "application/json")],
            &legacy,
        )
    });
    // Answered by its handler once the slot is free (zeros are not valid categories).
    assert_eq!(reply.status, 422, "{}", reply.text());
    let reply = assert_queues_for_a_slot(&server, |addr| call(addr, "GET", "/v1/models", &[], b""));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(server.state.metrics.waiting(), 0);
}

#[test]
fn a_request_past_its_deadline_gets_503_and_stops_waiting() {
    let mut config = ServerConfig::new(model_dir("timeout"));
    // Generous for the requests that should finish, short for the test's wait.
    config.request_timeout = Duration::from_secs(2);
    config.max_concurrent = 1;
    let server = Running::start(config);
    let held = hold_every_slot(&server);
    let body = server
        .post("/v1/predict", "text/csv", csv_body(2, true).as_bytes())
        .expect_error(503);
    assert!(
        body["error"].as_str().unwrap().contains("did not finish"),
        "{body}"
    );
    assert_eq!(server.state.metrics.waiting(), 0);
    // Once the slot is free, the next request is served.
    drop(held);
    assert_eq!(server.get("/v1/models").status, 200);
}

#[test]
fn shutdown_lets_the_request_in_flight_finish() {
    let mut server = Running::with_models("shutdown");
    let body = csv_body(3, true);
    let mut slow = start_slow_request(server.addr, body.as_bytes());
    server.wait_for_reading(1);
    server.begin_shutdown();
    // Once shutdown has begun, new connections are refused (or closed unanswered); until
    // the server has seen the signal they may still be served, so poll.
    let addr = server.addr;
    wait_until("new connections refused", || {
        TcpStream::connect(addr)
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(60)))?;
                s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
                let mut buf = [0u8; 1];
                s.read(&mut buf)
            })
            .map_or(true, |n| n == 0)
    });
    slow.write_all(&body.as_bytes()[body.len() - 1..]).unwrap();
    let reply = read_reply(&mut slow);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["summary"]["scored"], 3);
    server.shutdown();
}

fn reload(server: &Running, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    call(server.addr, "POST", "/v1/admin/reload", &headers, b"")
}

fn corrupt_copy(from: &Path, to: &Path) {
    let mut bytes = std::fs::read(from).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(to, bytes).unwrap();
}

#[test]
fn reload_swaps_in_good_files_and_keeps_serving_on_a_corrupt_one() {
    let disabled = Running::with_models("reload-off");
    let body = reload(&disabled, Some("x")).expect_error(404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("NADIR_ADMIN_TOKEN")
    );
    drop(disabled);

    let dir = model_dir("reload");
    let mut config = ServerConfig::new(dir.clone());
    config.admin_token = Some("s3cret".into());
    let server = Running::start(config);
    reload(&server, None).expect_error(401);
    reload(&server, Some("wrong")).expect_error(401);

    // A good new file: it serves after the reload.
    std::fs::copy(dir.join("random_forest.nadir"), dir.join("rf_copy.nadir")).unwrap();
    assert_eq!(
        server
            .post(
                "/v1/models/rf_copy/predict",
                "text/csv",
                csv_body(2, true).as_bytes()
            )
            .status,
        404
    );
    let ok = reload(&server, Some("s3cret"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json()["models"],
        json!(["isolation_forest", "random_forest", "rf_copy"])
    );
    let copied = server.post(
        "/v1/models/rf_copy/predict",
        "text/csv",
        csv_body(2, true).as_bytes(),
    );
    assert_eq!(copied.status, 200);
    assert_eq!(copied.json()["model"], "rf_copy");

    // A corrupt file: 409 naming it, nothing changes, the old models keep answering.
    corrupt_copy(&dir.join("random_forest.nadir"), &dir.join("broken.nadir"));
    std::fs::remove_file(dir.join("rf_copy.nadir")).unwrap();
    let failed = reload(&server, Some("s3cret")).expect_error(409);
    assert!(
        failed["error"].as_str().unwrap().contains("broken.nadir"),
        "{failed}"
    );
    assert_eq!(
        failed["models"],
        json!(["isolation_forest", "random_forest", "rf_copy"])
    );
    assert_eq!(
        server
            .post(
                "/v1/models/rf_copy/predict",
                "text/csv",
                csv_body(2, true).as_bytes()
            )
            .status,
        200
    );
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains("nadir_model_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("nadir_model_reloads_total{result=\"failed\"} 1"),
        "{metrics}"
    );

    // A corrupt file refuses start-up, naming it.
    let error = Server::new(ServerConfig::new(dir.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("broken.nadir") && error.contains("corrupted"),
        "{error}"
    );

    // Fixed: the reload goes through and rf_copy is gone.
    std::fs::remove_file(dir.join("broken.nadir")).unwrap();
    let ok = reload(&server, Some("s3cret"));
    assert_eq!(
        ok.json()["models"],
        json!(["isolation_forest", "random_forest"])
    );
    server
        .post(
            "/v1/models/rf_copy/predict",
            "text/csv",
            csv_body(2, true).as_bytes(),
        )
        .expect_error(404);
}

#[test]
fn missing_default_models_say_how_to_train_them() {
    let dir = std::env::temp_dir().join(format!("nadir-server-{}-empty", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = Running::start(ServerConfig::new(dir));
    server.get("/readyz").expect_error(503);
    let body = server
        .post("/v1/anomaly", "text/csv", csv_body(1, true).as_bytes())
        .expect_error(404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("nadir train --models iforest --normal-only"),
        "{body}"
    );
    let body = server
        .post_json("/predict", &json!({"features": []}))
        .expect_error(404);
    assert!(
        body["error"].as_str().unwrap().contains("--models rf"),
        "{body}"
    );
}

/// Checks `value` against the subset of JSON Schema that /openapi.json's `Record` uses
/// (`type`, `minimum`, `maximum`, `pattern` "\S", `properties`, `required`); panics on a
/// keyword it does not know, so the schema cannot grow past what this checks.
fn schema_errors(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    for (keyword, rule) in schema.as_object().unwrap() {
        match keyword.as_str() {
            "description" => {}
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    other => other
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap())
                        .collect(),
                };
                let found = match value {
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Object(_) => "object",
                    _ => "other",
                };
                if !types.contains(&found) {
                    errors.push(format!("{at}: {found} is not one of {types:?}"));
                }
            }
            "minimum" | "maximum" => {
                if let Some(x) = value.as_f64() {
                    let bound = rule.as_f64().unwrap();
                    if (keyword == "minimum" && x < bound) || (keyword == "maximum" && x > bound) {
                        errors.push(format!("{at}: {x} is beyond the {keyword} {bound}"));
                    }
                }
            }
            "pattern" => {
                assert_eq!(rule, r"\S", "a pattern this check does not know");
                if value.as_str().is_some_and(|t| t.trim().is_empty()) {
                    errors.push(format!("{at}: blank text"));
                }
            }
            "required" => {
                for name in rule.as_array().unwrap() {
                    if value.get(name.as_str().unwrap()).is_none() {
                        errors.push(format!("{at}: {name} is missing"));
                    }
                }
            }
            "properties" => {
                for (name, property) in rule.as_object().unwrap() {
                    if let Some(field) = value.get(name) {
                        errors.extend(schema_errors(property, field, name));
                    }
                }
            }
            other => panic!("a schema keyword this check does not know: {other}"),
        }
    }
    errors
}

#[test]
fn openapi_record_schema_accepts_what_the_server_accepts() {
    let server = Running::with_models("schema");
    let record_schema =
        server.get("/openapi.json").json()["components"]["schemas"]["Record"].clone();
    let plain = json_records(1).remove(0);
    let as_text = |record: &Value| -> Value {
        Value::Object(
            record
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let text = v
                        .as_f64()
                        .map_or_else(|| v.clone(), |x| json!(format!(" {x} ")));
                    (k.clone(), text)
                })
                .collect(),
        )
    };
    let respelled = |record: &Value| -> Value {
        let mut fields = record.as_object().unwrap().clone();
        for (from, to) in [
            ("srcbytes", "src_bytes"),
            ("dstbytes", "DstBytes"),
            ("serrorrate", "Serror Rate"),
        ] {
            let value = fields.remove(from).unwrap();
            fields.insert(to.to_string(), value);
        }
        fields.insert("my_own_id".into(), json!({"any": ["thing"]}));
        Value::Object(fields)
    };
    // A record as the schema spells it is accepted, and valid under the schema.
    let reply = server.post_json("/v1/predict", &plain);
    assert_eq!(reply.status, 200, "{plain} -> {}", reply.text());
    let errors = schema_errors(&record_schema, &plain, "record");
    assert!(errors.is_empty(), "{plain}: {errors:?}");
    // The leniency the schema's description states in words (numbers as text, other
    // spellings of a name, fields of your own) is accepted too.
    for record in [
        as_text(&plain),
        respelled(&plain),
        respelled(&as_text(&plain)),
    ] {
        let reply = server.post_json("/v1/predict", &record);
        assert_eq!(reply.status, 200, "{record} -> {}", reply.text());
    }
    // The check is not vacuous: what the server refuses for a value's type or range, or for
    // a missing feature, the schema refuses too.
    let mut missing = plain.clone();
    missing.as_object_mut().unwrap().remove("srcbytes");
    server.post_json("/v1/predict", &missing).expect_error(422);
    assert!(!schema_errors(&record_schema, &missing, "record").is_empty());
    for (field, value) in [
        ("service", json!(17)),
        ("serrorrate", json!(1.5)),
        ("flag", json!(" ")),
        ("count", json!(-1)),
    ] {
        let mut record = plain.clone();
        record[field] = value;
        server.post_json("/v1/predict", &record).expect_error(422);
        assert!(
            !schema_errors(&record_schema, &record, "record").is_empty(),
            "{record}"
        );
    }
}

/// A schema of nadir's built-ins' format that is neither of them: the server scores whatever
/// schema its models were trained on.
const TOY_SCHEMA: &str = r#"
name = "toy"
description = "three features of a made-up flow log"

[label]
column = "verdict"
normal = "ok"

[[feature]]
name = "bytes"
kind = "count"

[[feature]]
name = "ratio"
kind = "rate"

[[feature]]
name = "proto"
kind = "categorical"
"#;

/// A random forest trained on generated records of [`TOY_SCHEMA`]: large, lopsided flows
/// are attacks.
fn toy_model() -> &'static SavedModel {
    static MODEL: OnceLock<SavedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let schema = std::sync::Arc::new(Schema::from_toml(TOY_SCHEMA, "toy.toml").unwrap());
        let mut text = String::from("bytes,ratio,proto,verdict\n");
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..400 {
            let bytes = next() % 2000;
            let ratio = (next() % 101) as f64 / 100.0;
            let proto = ["tcp", "udp", "icmp"][(next() % 3) as usize];
            let verdict = if bytes > 1000 && ratio > 0.5 {
                "flood"
            } else {
                "ok"
            };
            text.push_str(&format!("{bytes},{ratio},{proto},{verdict}\n"));
        }
        let data = read_from(text.as_bytes(), "toy.csv", ReadOptions::with_schema(schema)).unwrap();
        let mut config = ModelConfig::default();
        config.random_forest.trees = 10;
        let options = TrainOptions {
            kinds: vec![ModelKind::RandomForest],
            config,
            folds: 2,
            ..TrainOptions::default()
        };
        train(&data, None, &options, &|_| {})
            .unwrap()
            .models
            .remove(0)
    })
}

#[test]
fn a_model_of_any_schema_is_served_with_its_own_features() {
    let dir = std::env::temp_dir().join(format!("nadir-server-{}-toy", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let toy = toy_model();
    toy.save(&dir.join("random_forest.nadir")).unwrap();
    let server = Running::start(ServerConfig::new(dir.clone()));

    // A JSON record of the toy schema scores as the model scores it; keys in any spelling,
    // the label and the client's own fields ignored.
    let record = Record {
        numeric: vec![1500.0, 0.9],
        categorical: vec!["tcp".into()],
    };
    let expected = toy.predict(std::slice::from_ref(&record), None)[0].score;
    let reply = server.post_json(
        "/v1/predict",
        &json!({"Bytes": 1500, "ratio": "0.9", "proto": "tcp", "verdict": "flood", "id": 7}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["probability"].as_f64().unwrap(), expected);
    assert_eq!(reply.json()["prediction"], "attack");
    let csv = server.post(
        "/v1/predict",
        "text/csv",
        b"proto,verdict,ratio,bytes\ntcp,ok,0.9,1500\nudp,ok,0.1,20\n",
    );
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(probabilities(&csv, "probability")[0], expected);
    let legacy = server.post_json("/predict", &json!({"features": [1500, 0.9, "tcp"]}));
    assert_eq!(
        legacy.json(),
        json!({"prediction": 1, "message": "Anomaly"})
    );

    // A missing feature is named; so is a wrong value count on the legacy route.
    let missing = server
        .post_json("/v1/predict", &json!({"bytes": 10, "proto": "udp"}))
        .expect_error(422);
    assert_eq!(
        missing["errors"],
        json!([{"index": 0, "field": "ratio", "value": "", "message": "value is missing"}])
    );
    let wrong = server
        .post_json("/predict", &json!({"features": vec![json!(0); 41]}))
        .expect_error(422);
    assert_eq!(
        wrong["errors"][0]["message"],
        "expected 3 values in file order (bytes … proto)"
    );
    let kdd = server
        .post("/v1/predict", "text/csv", csv_body(2, true).as_bytes())
        .expect_error(400);
    assert!(
        kdd["error"].as_str().unwrap().contains("schema `toy`"),
        "{kdd}"
    );

    // The listing and the OpenAPI document describe the toy schema.
    let listing = server.get("/v1/models").json();
    assert_eq!(listing["schema"]["name"], "toy");
    assert_eq!(listing["schema"]["title"], "toy");
    assert_eq!(listing["schema"]["other_columns"], json!(["verdict"]));
    assert_eq!(listing["models"][0]["schema"], "toy");
    assert_eq!(
        listing["features"],
        json!([
            {"name": "bytes", "kind": "count"},
            {"name": "ratio", "kind": "rate"},
            {"name": "proto", "kind": "categorical", "values": ["icmp", "tcp", "udp"]},
        ])
    );
    let doc = server.get("/openapi.json").json();
    assert_eq!(doc["info"]["x-nadir-schema"], "toy");
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap()
            .contains("`toy`"),
        "{}",
        doc["info"]
    );
    let schemas = &doc["components"]["schemas"];
    let properties: Vec<&String> = schemas["Record"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(properties, ["bytes", "proto", "ratio"]);
    assert_eq!(
        schemas["Record"]["properties"]["ratio"]["maximum"],
        json!(1)
    );
    assert_eq!(
        schemas["LegacyRequest"]["properties"]["features"]["minItems"],
        3
    );

    // Models of another schema in the same directory: refused, naming both schemas.
    model(ModelKind::RandomForest)
        .save(&dir.join("kdd_forest.nadir"))
        .unwrap();
    let error = Server::new(ServerConfig::new(dir.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("kdd_forest") && error.contains("`nsl-kdd`") && error.contains("`toy`"),
        "{error}"
    );
    let failed = server.state.reload().unwrap_err().to_string();
    assert_eq!(failed, error);
    assert_eq!(
        server
            .post_json("/predict", &json!({"features": [1, 0.5, "udp"]}))
            .status,
        200
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
