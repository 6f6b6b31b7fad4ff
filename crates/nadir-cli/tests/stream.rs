//! `nadir stream` and `nadir publish` against a real redis-server (issue 14): one consumer
//! scores a stream exactly as `nadir predict` scores the file; consumers share a group's work,
//! take over a killed one's entries and dead-letter what cannot be scored; a consumer survives
//! Redis restarts (without persistence it starts again on the new stream; with an append-only
//! file nothing it acknowledged is lost); SIGTERM finishes the batch in flight; bad settings
//! fail with exit code 2; `nadir publish` sends CSV, NDJSON and captures; `--metrics-addr`
//! counts what was scored.
//!
//! Each test runs its own server (`common::redis`); every wait polls Redis with a deadline of
//! minutes, and consumers are killed when their test ends, whether it passes or not.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;
use common::redis::{self as store, Entry, POLL, Persistence, RedisServer};
use common::{nadir, nadir_with_stdin, path, sample, scratch, text, train_on_sample};

/// The longest any awaited event may take: generous, the machine is shared and builds are
/// unoptimised.
const WAIT: Duration = Duration::from_secs(300);

/// The consumer group every test's consumers join.
const GROUP: &str = "scorers";

/// The random forest trained once on the sample, shared by every test of this file.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch("stream-model");
        train_on_sample("random_forest", &dir, &[]);
        dir.join("random_forest.nadir")
    })
}

/// The results stream of `input`.
fn results_of(input: &str) -> String {
    format!("{input}:results")
}

/// Polls `probe` until it answers, failing after [`WAIT`] with `what` was awaited.
fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(answer) = probe() {
            return answer;
        }
        assert!(started.elapsed() < WAIT, "waited {WAIT:?} for {what}");
        std::thread::sleep(POLL);
    }
}

/// An entry ID as the pair of numbers it orders by.
fn id_key(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap(), seq.parse().unwrap())
}

/// A running `nadir stream`, killed when the test ends whether it passes or not.
struct Consumer {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Consumer {
    /// `nadir stream` reading `input` into `input:results` as `name` of [`GROUP`], no
    /// progress lines unless `extra` asks for them, `extra` arguments added.
    fn start(redis: &RedisServer, dir: &Path, input: &str, name: &str, extra: &[&str]) -> Self {
        Self::start_with(redis, dir, input, name, model(), extra)
    }

    /// [`Consumer::start`] scoring with `model`.
    fn start_with(
        redis: &RedisServer,
        dir: &Path,
        input: &str,
        name: &str,
        model: &Path,
        extra: &[&str],
    ) -> Self {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let output = results_of(input);
        let child = Command::new(env!("CARGO_BIN_EXE_nadir"))
            .args(["stream", "--redis", &redis.url(), "--input", input])
            .args(["--group", GROUP, "--consumer", name])
            .args(["--model", path(model), "--output", &output])
            .args(if extra.contains(&"--progress") {
                &[][..]
            } else {
                &["--progress", "0"][..]
            })
            .args(extra)
            .env_remove("NADIR_DATA")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("nadir stream starts");
        Consumer {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    /// What it wrote to standard output (`--stdout`: one JSON object per result).
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Fails, showing what it said, when the consumer has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "consumer {} exited ({status}); its stderr:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`) to the consumer.
    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {}", self.child.id());
    }

    /// SIGKILL, and the process reaped.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its exit status, once it has exited.
    fn wait_exit(&mut self) -> ExitStatus {
        let name = self.name.clone();
        wait_until(&format!("consumer {name} to exit"), || {
            self.child.try_wait().unwrap()
        })
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A process killed when the test ends, whether it passes or not.
struct KilledOnDrop(Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `output` holds a result for every one of `inputs` and nothing of `input` is
/// pending in [`GROUP`], failing early if a consumer exits.
fn wait_all_scored(
    con: &mut redis::Connection,
    consumers: &mut [&mut Consumer],
    input: &str,
    inputs: &[String],
) -> Vec<Entry> {
    let output = results_of(input);
    let wanted: HashSet<&str> = inputs.iter().map(String::as_str).collect();
    wait_until(
        &format!("results of all {} entries of {input}", inputs.len()),
        || {
            for consumer in consumers.iter_mut() {
                consumer.assert_running();
            }
            if store::len(con, &output) < wanted.len() {
                return None;
            }
            let results = store::entries(con, &output);
            let scored: HashSet<&str> = results.iter().map(|r| r.field("id")).collect();
            let done = wanted.is_subset(&scored) && store::pending_count(con, input, GROUP) == 0;
            done.then(|| results.clone())
        },
    )
}

/// `nadir publish file --stream stream`: checks its message and returns the count it gives.
fn publish(redis: &RedisServer, file: &Path, stream: &str, extra: &[&str]) -> usize {
    let url = redis.url();
    let mut args = vec!["publish", path(file), "--redis", &url, "--stream", stream];
    args.extend_from_slice(extra);
    let out = nadir(&args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "nadir publish failed: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("published "))
        .unwrap_or_else(|| panic!("no `published N records to {stream}` in: {stderr}"));
    let count = line
        .strip_prefix("published ")
        .and_then(|rest| rest.strip_suffix(&format!(" records to {stream}")))
        .unwrap_or_else(|| panic!("`{line}` is not `published N records to {stream}`"));
    count.parse().unwrap()
}

/// The first `rows` records of the NSL-KDD training file, with its header, written to
/// `dir/name`.
fn write_records(dir: &Path, name: &str, rows: usize) -> PathBuf {
    let full = sample().with_file_name("Network_anomaly_data.csv");
    let text = std::fs::read_to_string(&full).unwrap();
    let lines: Vec<&str> = text.lines().take(rows + 1).collect();
    assert_eq!(lines.len(), rows + 1, "{} holds fewer rows", full.display());
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file
}

/// `nadir predict --format ndjson` of `data` by the shared random forest, one object per
/// record.
fn predict(data: &Path) -> Vec<serde_json::Value> {
    predict_with(model(), data, &[])
}

/// `nadir predict --model model --data data --format ndjson extra…`, one object per record.
fn predict_with(model: &Path, data: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "predict",
        "--model",
        path(model),
        "--data",
        path(data),
        "--format",
        "ndjson",
    ];
    args.extend_from_slice(extra);
    let out = nadir(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Runs `nadir args…` to its end, killed and failed if it is still running after [`WAIT`].
fn nadir_bounded(dir: &Path, args: &[&str]) -> Output {
    let stdout = dir.join("bounded.stdout");
    let stderr = dir.join("bounded.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(args)
        .env_remove("NADIR_DATA")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .expect("nadir runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WAIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nadir {args:?} still ran after {WAIT:?}");
        }
        std::thread::sleep(POLL);
    };
    Output {
        status,
        stdout: std::fs::read(&stdout).unwrap(),
        stderr: std::fs::read(&stderr).unwrap(),
    }
}

/// Compares one stream result with `nadir predict`'s object for the same record: the same
/// verdict, the same score (under the same field name) to the bit, the same warning, and
/// for the hybrid the same part fired.
fn same_as_predict(result: &Entry, predicted: &serde_json::Value) -> Result<(), String> {
    let differ = || format!("stream {:?} vs predict {predicted}", result.fields);
    let score_field = ["probability", "anomaly_score", "score"]
        .into_iter()
        .find(|field| predicted.get(field).is_some())
        .ok_or_else(differ)?;
    let predicted_score = predicted[score_field].as_f64().unwrap();
    let score: f64 = result
        .get(score_field)
        .and_then(|text| text.parse().ok())
        .ok_or_else(differ)?;
    let text_of = |value: &serde_json::Value| value.as_str().unwrap_or("").to_string();
    let same = result.field("prediction") == predicted["prediction"].as_str().unwrap()
        && score.to_bits() == predicted_score.to_bits()
        && result.get("warning").unwrap_or("") == text_of(&predicted["warning"])
        && result.get("fired").unwrap_or("") == text_of(&predicted["fired"]);
    if same { Ok(()) } else { Err(differ()) }
}

#[test]
fn one_consumer_scores_ten_thousand_entries_as_predict_does() {
    let Some(redis) = RedisServer::start("stream-parity", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-parity");
    let data = write_records(&dir, "records.csv", 10_000);
    assert_eq!(publish(&redis, &data, "flows", &[]), 10_000);
    let mut con = redis.connect();
    let inputs = store::ids(&mut con, "flows");
    assert_eq!(inputs.len(), 10_000);

    let mut solo = Consumer::start(&redis, &dir, "flows", "solo", &[]);
    let results = wait_all_scored(&mut con, &mut [&mut solo], "flows", &inputs);
    assert_eq!(results.len(), 10_000, "one result per entry");

    let predicted = predict(&data);
    assert_eq!(predicted.len(), 10_000);
    let by_id: HashMap<&str, &Entry> = results.iter().map(|r| (r.field("id"), r)).collect();
    let mismatches: Vec<String> = inputs
        .iter()
        .zip(&predicted)
        .filter_map(|(id, predicted)| same_as_predict(by_id[id.as_str()], predicted).err())
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of 10000 results differ from nadir predict, the first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(3)]
    );

    let first = &results[0];
    let fields: Vec<&str> = first
        .names()
        .into_iter()
        .filter(|name| *name != "warning")
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "prediction",
            "probability",
            "family",
            "family_probability",
            "model",
            "consumer",
            "scored_at_us"
        ]
    );
    assert!(
        results
            .iter()
            .all(|r| r.field("model") == "random_forest" && r.field("consumer") == "solo")
    );
    let attacks = results
        .iter()
        .filter(|r| r.field("prediction") == "attack")
        .count();
    assert!(attacks > 1000 && attacks < 9000, "{attacks} attacks");
    println!(
        "10000 entries scored by one consumer, bit for bit as nadir predict; {attacks} attacks"
    );
}

/// The isolation forest and the hybrid trained once on the sample.
fn detectors() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("stream-detectors");
        train_on_sample("isolation_forest,hybrid", &dir, &[]);
        dir
    })
}

#[test]
fn each_model_names_its_score_and_parts_as_predict_does_and_a_threshold_applies() {
    let Some(redis) = RedisServer::start("stream-models", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-models");
    let data = write_records(&dir, "records.csv", 300);
    let hybrid = detectors().join("hybrid.nadir");
    let iforest = detectors().join("isolation_forest.nadir");
    let cases: [(&str, &Path, &[&str], &str); 3] = [
        ("hybrid", &hybrid, &[], "score"),
        ("iforest", &iforest, &[], "anomaly_score"),
        ("strict", model(), &["--threshold", "0.9"], "probability"),
    ];
    let mut con = redis.connect();
    for (input, model, threshold, score_field) in cases {
        assert_eq!(publish(&redis, &data, input, &[]), 300);
        let inputs = store::ids(&mut con, input);
        let mut extra = vec!["--block-ms", "100"];
        extra.extend_from_slice(threshold);
        let mut consumer = Consumer::start_with(&redis, &dir, input, input, model, &extra);
        let results = wait_all_scored(&mut con, &mut [&mut consumer], input, &inputs);
        let predicted = predict_with(model, &data, threshold);
        let by_id: HashMap<&str, &Entry> = results.iter().map(|r| (r.field("id"), r)).collect();
        for (id, predicted) in inputs.iter().zip(&predicted) {
            let result = by_id[id.as_str()];
            same_as_predict(result, predicted).unwrap();
            assert_eq!(result.names()[2], score_field, "{result:?}");
        }
        let attacks = results
            .iter()
            .filter(|r| r.field("prediction") == "attack")
            .count();
        if !threshold.is_empty() {
            let by_default = predict_with(model, &data, &[]);
            let default_attacks = by_default
                .iter()
                .filter(|p| p["prediction"] == "attack")
                .count();
            assert_ne!(attacks, default_attacks, "--threshold changed no verdict");
        }
        let fired = results.iter().filter(|r| r.get("fired").is_some()).count();
        println!("{input}: {attacks} of 300 attacks, `fired` on {fired}, as nadir predict");
    }
}

/// Waits until every one of `consumers` waits for new entries, so that entries published
/// next may reach any of them.
fn wait_listening(con: &mut redis::Connection, consumers: &mut [&mut Consumer]) {
    wait_until(
        &format!("{} consumers to wait for entries", consumers.len()),
        || {
            for consumer in consumers.iter_mut() {
                consumer.assert_running();
            }
            (store::blocked_readers(con) >= consumers.len()).then_some(())
        },
    );
}

/// How many results each consumer wrote.
fn per_consumer(results: &[Entry]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for result in results {
        *counts
            .entry(result.field("consumer").to_string())
            .or_default() += 1;
    }
    counts
}

#[test]
fn three_consumers_share_the_work_and_leave_nothing_pending() {
    let Some(redis) = RedisServer::start("stream-share", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-share");
    let options = ["--batch", "8", "--block-ms", "100"];
    let mut one = Consumer::start(&redis, &dir, "work", "one", &options);
    let mut two = Consumer::start(&redis, &dir, "work", "two", &options);
    let mut three = Consumer::start(&redis, &dir, "work", "three", &options);
    let mut con = redis.connect();
    wait_listening(&mut con, &mut [&mut one, &mut two, &mut three]);

    let data = write_records(&dir, "records.csv", 600);
    assert_eq!(publish(&redis, &data, "work", &[]), 600);
    let inputs = store::ids(&mut con, "work");
    let results = wait_all_scored(
        &mut con,
        &mut [&mut one, &mut two, &mut three],
        "work",
        &inputs,
    );

    assert_eq!(store::pending_count(&mut con, "work", GROUP), 0);
    let scored: Vec<&str> = results.iter().map(|r| r.field("id")).collect();
    let distinct: HashSet<&str> = scored.iter().copied().collect();
    assert_eq!(scored.len(), distinct.len(), "an entry was scored twice");
    assert_eq!(
        distinct,
        inputs.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    let counts = per_consumer(&results);
    for name in ["one", "two", "three"] {
        assert!(
            counts.get(name).copied().unwrap_or(0) > 0,
            "{name} scored nothing: {counts:?}"
        );
    }
    println!("600 entries shared by three consumers: {counts:?}");
}

#[test]
fn a_killed_consumers_pending_entries_are_claimed_by_the_others() {
    let Some(redis) = RedisServer::start("stream-claim", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-claim");
    let batch = 8;
    let batch_text = batch.to_string();
    let others = [
        "--batch",
        &batch_text,
        "--block-ms",
        "100",
        "--claim-idle",
        "1000",
    ];
    // The victim blocks long, so that once stopped it keeps receiving entries it will never
    // acknowledge.
    let victim_options = [
        "--batch",
        &batch_text,
        "--block-ms",
        "60000",
        "--claim-idle",
        "1000",
    ];
    let mut victim = Consumer::start(&redis, &dir, "work", "victim", &victim_options);
    let mut two = Consumer::start(&redis, &dir, "work", "two", &others);
    let mut three = Consumer::start(&redis, &dir, "work", "three", &others);
    let mut con = redis.connect();
    wait_listening(&mut con, &mut [&mut victim, &mut two, &mut three]);

    let data = write_records(&dir, "records.csv", 600);
    let url = redis.url();
    let mut publisher = KilledOnDrop(
        Command::new(env!("CARGO_BIN_EXE_nadir"))
            .args(["publish", path(&data), "--redis", &url, "--stream", "work"])
            .args(["--rate", "200"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nadir publish starts"),
    );

    // Mid-stream: once the victim has scored some, it is stopped until it holds entries
    // delivered and not acknowledged, then killed.
    wait_until("the victim's first 20 results", || {
        victim.assert_running();
        let results = store::entries(&mut con, "work:results");
        let victims = results
            .iter()
            .filter(|r| r.field("consumer") == "victim")
            .count();
        (victims >= 20).then_some(())
    });
    let mut held = Vec::new();
    for _ in 0..20 {
        victim.signal("STOP");
        for _ in 0..100 {
            held = store::pending(&mut con, "work", GROUP, Some("victim"));
            if !held.is_empty() {
                break;
            }
            std::thread::sleep(POLL);
        }
        if !held.is_empty() {
            break;
        }
        victim.signal("CONT");
    }
    assert!(!held.is_empty(), "the victim never held a pending entry");
    victim.kill();
    let publisher_status = wait_until("the publisher to finish", || {
        publisher.0.try_wait().unwrap()
    });
    assert!(publisher_status.success());

    let inputs = store::ids(&mut con, "work");
    assert_eq!(inputs.len(), 600);
    let results = wait_all_scored(&mut con, &mut [&mut two, &mut three], "work", &inputs);

    let mut first_writer: HashMap<&str, &str> = HashMap::new();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for result in &results {
        let id = result.field("id");
        first_writer.entry(id).or_insert(result.field("consumer"));
        *copies.entry(id).or_default() += 1;
    }
    let duplicated: Vec<&str> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        duplicated.len() <= batch,
        "{} entries scored twice, more than the victim's batch of {batch}",
        duplicated.len()
    );
    for id in &duplicated {
        assert_eq!(
            first_writer[id], "victim",
            "entry {id} scored twice, first by {}",
            first_writer[id]
        );
    }
    for (id, _, _) in &held {
        assert!(
            results
                .iter()
                .any(|r| r.field("id") == id && r.field("consumer") != "victim"),
            "entry {id}, pending for the victim when it was killed, was not claimed and scored"
        );
    }
    println!(
        "killed consumer: {} entries pending at the kill, claimed by the others; {} duplicated result(s) (batch {batch}); per consumer {:?}",
        held.len(),
        duplicated.len(),
        per_consumer(&results)
    );
}

/// The sample's header and its first data line.
fn sample_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut lines = text.lines().map(String::from);
    let header = lines.next().unwrap();
    (header, lines.take(10).collect())
}

/// `line` with its `column`-th field replaced by `value`.
fn with_field(line: &str, column: usize, value: &str) -> String {
    let mut fields: Vec<&str> = line.split(',').collect();
    fields[column] = value;
    fields.join(",")
}

/// A CSV line of `header` as a JSON object: numbers as numbers, the rest as text.
fn as_json(header: &str, line: &str) -> String {
    let object: serde_json::Map<String, serde_json::Value> = header
        .split(',')
        .zip(line.split(','))
        .map(|(name, value)| {
            let value = match value.parse::<f64>() {
                Ok(number) => serde_json::json!(number),
                Err(_) => serde_json::json!(value),
            };
            (name.to_string(), value)
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// The command `parts[0]` with the rest as its arguments.
fn command(parts: &[&str]) -> redis::Cmd {
    let mut command = redis::cmd(parts[0]);
    for part in &parts[1..] {
        command.arg(*part);
    }
    command
}

#[test]
fn invalid_and_poison_entries_are_dead_lettered_with_their_error() {
    let Some(redis) = RedisServer::start("stream-dead", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-dead");
    let mut con = redis.connect();
    let (header, lines) = sample_lines();
    let srcbytes = header.split(',').position(|c| c == "srcbytes").unwrap();

    // The poison: a good record that looks delivered ten times already, to a consumer
    // (`ghost`) that never acknowledges.
    let _: () = command(&["XGROUP", "CREATE", "work", GROUP, "0", "MKSTREAM"])
        .query(&mut con)
        .unwrap();
    let poison = store::add(
        &mut con,
        "work",
        &[("record", &lines[0]), ("header", &header)],
    );
    let read = [
        "XREADGROUP",
        "GROUP",
        GROUP,
        "ghost",
        "COUNT",
        "1",
        "STREAMS",
        "work",
        ">",
    ];
    let _: redis::Value = command(&read).query(&mut con).unwrap();
    let claim = [
        "XCLAIM",
        "work",
        GROUP,
        "ghost",
        "0",
        &poison,
        "RETRYCOUNT",
        "10",
    ];
    let _: redis::Value = command(&claim).query(&mut con).unwrap();
    assert_eq!(
        store::pending(&mut con, "work", GROUP, Some("ghost"))[0].2,
        10
    );

    let good = store::add(
        &mut con,
        "work",
        &[("record", &lines[1]), ("header", &header)],
    );
    let headerless = store::add(&mut con, "work", &[("record", &lines[2])]);
    let service = header.split(',').position(|c| c == "service").unwrap();
    let unseen = store::add(
        &mut con,
        "work",
        &[
            ("record", &with_field(&lines[8], service, "gopher_v2")),
            ("header", &header),
        ],
    );
    let json = store::add(
        &mut con,
        "work",
        &[("record", &as_json(&header, &lines[3]))],
    );
    let bad_value_line = with_field(&lines[4], srcbytes, "-491");
    let bad_value = store::add(
        &mut con,
        "work",
        &[("record", &bad_value_line), ("header", &header)],
    );
    let short_line = lines[5].rsplit_once(',').unwrap().0.to_string();
    let column_count = store::add(
        &mut con,
        "work",
        &[("record", &short_line), ("header", &header)],
    );
    let not_json = store::add(
        &mut con,
        "work",
        &[("record", "{\"duration\": 0, \"flag\": ")],
    );
    let no_record = store::add(&mut con, "work", &[("payload", &lines[6])]);
    let bad_json_value = store::add(
        &mut con,
        "work",
        &[(
            "record",
            &as_json(&header, &with_field(&lines[7], srcbytes, "lots")),
        )],
    );

    let mut solo = Consumer::start(
        &redis,
        &dir,
        "work",
        "solo",
        &[
            "--max-deliveries",
            "3",
            "--claim-idle",
            "300",
            "--block-ms",
            "100",
        ],
    );
    let scored_ids = [&good, &headerless, &unseen, &json];
    let dead_ids = [
        &poison,
        &bad_value,
        &column_count,
        &not_json,
        &no_record,
        &bad_json_value,
    ];
    let (results, dead) = wait_until("every entry scored or dead-lettered", || {
        solo.assert_running();
        let results = store::entries(&mut con, "work:results");
        let dead = store::entries(&mut con, "work:dead");
        let done = results.len() + dead.len() >= scored_ids.len() + dead_ids.len()
            && store::pending_count(&mut con, "work", GROUP) == 0;
        done.then_some((results, dead))
    });

    let scored: Vec<&str> = results.iter().map(|r| r.field("id")).collect();
    assert_eq!(
        scored,
        scored_ids.map(String::as_str),
        "results: {results:?}; dead letters: {dead:?}"
    );
    // A category unseen in training is scored, with the warning `nadir predict` writes.
    let warned = &results[2];
    assert_eq!(
        warned.field("warning"),
        "service value `gopher_v2` was not seen in training (encoded as none of the known values)"
    );
    assert_eq!(
        warned.names(),
        [
            "id",
            "prediction",
            "probability",
            "family",
            "family_probability",
            "warning",
            "model",
            "consumer",
            "scored_at_us"
        ]
    );
    assert!(
        results
            .iter()
            .filter(|r| r.get("warning").is_some())
            .count()
            == 1
    );

    let letter = |id: &str| -> &Entry {
        dead.iter()
            .find(|d| d.field("id") == id)
            .unwrap_or_else(|| panic!("no dead letter for {id}; dead letters: {dead:?}"))
    };
    assert_eq!(dead.len(), dead_ids.len(), "{dead:?}");
    for entry in &dead {
        assert_eq!(entry.field("consumer"), "solo");
        assert!(!entry.field("error").contains('\n'), "{entry:?}");
    }

    let poisoned = letter(&poison);
    assert!(
        poisoned.field("error").starts_with("delivered 11 times")
            && poisoned.field("error").contains("max"),
        "{poisoned:?}"
    );
    assert_eq!(poisoned.field("deliveries"), "11");
    assert_eq!(poisoned.field("record"), lines[0]);
    assert_eq!(poisoned.field("header"), header);

    let named = |id: &str, words: &[&str]| {
        let entry = letter(id);
        let error = entry.field("error");
        for word in words {
            assert!(error.contains(word), "`{error}` does not name `{word}`");
        }
        assert_eq!(entry.field("deliveries"), "1", "{entry:?}");
    };
    named(&bad_value, &["srcbytes", "-491"]);
    assert_eq!(letter(&bad_value).field("record"), bad_value_line);
    assert_eq!(letter(&bad_value).field("header"), header);
    named(&column_count, &["42", "43"]);
    named(&not_json, &["JSON"]);
    named(&no_record, &["no `record` field"]);
    assert!(letter(&no_record).get("record").is_none());
    named(&bad_json_value, &["srcbytes", "lots"]);
    for entry in &dead {
        println!(
            "dead letter {}: {}",
            entry.field("id"),
            entry.field("error")
        );
    }
}

#[test]
fn a_consumer_restarted_under_its_name_scores_its_own_pending_entries_first() {
    let Some(redis) = RedisServer::start("stream-own", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-own");
    let data = write_records(&dir, "records.csv", 40);
    let mut con = redis.connect();
    let _: () = command(&["XGROUP", "CREATE", "work", GROUP, "0", "MKSTREAM"])
        .query(&mut con)
        .unwrap();
    assert_eq!(publish(&redis, &data, "work", &[]), 40);
    // A consumer named `solo` read ten entries and died before acknowledging them.
    let read = [
        "XREADGROUP",
        "GROUP",
        GROUP,
        "solo",
        "COUNT",
        "10",
        "STREAMS",
        "work",
        ">",
    ];
    let _: redis::Value = command(&read).query(&mut con).unwrap();
    let held = store::pending(&mut con, "work", GROUP, Some("solo"));
    assert_eq!(held.len(), 10);

    // Started again under its name, it takes them back at once: with --claim-idle ten
    // minutes, longer than any wait here, only its own re-read can score them.
    let mut solo = Consumer::start(
        &redis,
        &dir,
        "work",
        "solo",
        &["--claim-idle", "600000", "--block-ms", "100"],
    );
    let inputs = store::ids(&mut con, "work");
    let results = wait_all_scored(&mut con, &mut [&mut solo], "work", &inputs);
    assert_eq!(results.len(), 40);
    let first: Vec<&str> = results[..10].iter().map(|r| r.field("id")).collect();
    let held: Vec<&str> = held.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(first, held, "its own pending entries were not scored first");
}

/// The raw bytes of field `name` of every entry of `stream`.
fn raw_field(con: &mut redis::Connection, stream: &str, name: &str) -> Vec<Option<Vec<u8>>> {
    let raw: Vec<(String, Vec<Vec<u8>>)> =
        command(&["XRANGE", stream, "-", "+"]).query(con).unwrap();
    raw.into_iter()
        .map(|(_, flat)| {
            flat.chunks(2)
                .find(|pair| pair[0] == name.as_bytes())
                .map(|pair| pair[1].clone())
        })
        .collect()
}

/// A record whose bytes are not UTF-8 is dead-lettered saying so, the bytes kept as they
/// came.
#[test]
fn a_record_that_is_not_utf8_is_dead_lettered_saying_so() {
    let Some(redis) = RedisServer::start("stream-utf8", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-utf8");
    let mut con = redis.connect();
    let (header, lines) = sample_lines();
    let mut bytes = lines[0].clone().into_bytes();
    bytes[2] = 0xff;
    let bad: String = redis::cmd("XADD")
        .arg("work")
        .arg("*")
        .arg("record")
        .arg(&bytes)
        .arg("header")
        .arg(&header)
        .query(&mut con)
        .unwrap();
    let mut solo = Consumer::start(&redis, &dir, "work", "solo", &["--block-ms", "100"]);
    let dead = wait_until("the entry dead-lettered", || {
        solo.assert_running();
        let dead = store::entries(&mut con, "work:dead");
        (!dead.is_empty() && store::pending_count(&mut con, "work", GROUP) == 0).then_some(dead)
    });
    assert_eq!(dead[0].field("id"), bad);
    assert_eq!(store::len(&mut con, "work:results"), 0);
    let error = dead[0].field("error");
    assert!(
        error.contains("UTF-8"),
        "`{error}` does not say the record is not UTF-8"
    );
    assert_eq!(raw_field(&mut con, "work:dead", "record"), [Some(bytes)]);
}

/// An entry is acknowledged only once its result is written. An output key that is not a
/// stream is refused at start; one that becomes something else while the consumer runs makes
/// XADD fail with WRONGTYPE, and the entries then stay pending (inside MULTI a failed command
/// does not stop the ones after it, so the XACK must not ride in the same transaction).
#[test]
fn an_entry_whose_result_cannot_be_written_stays_pending() {
    let Some(redis) = RedisServer::start("stream-unwritten", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-unwritten");
    let mut con = redis.connect();
    let _: () = command(&["SET", "work:results", "not a stream"])
        .query(&mut con)
        .unwrap();
    let mut refused = Consumer::start(&redis, &dir, "work", "refused", &[]);
    let status = refused.wait_exit();
    let stderr = refused.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`work:results` holds a Redis string, not a stream"),
        "{stderr}"
    );

    let _: () = command(&["DEL", "work:results"]).query(&mut con).unwrap();
    let mut solo = Consumer::start(&redis, &dir, "work", "solo", &["--block-ms", "100"]);
    wait_listening(&mut con, &mut [&mut solo]);
    let _: () = command(&["SET", "work:results", "not a stream"])
        .query(&mut con)
        .unwrap();
    let data = write_records(&dir, "records.csv", 5);
    assert_eq!(publish(&redis, &data, "work", &[]), 5);
    wait_until("the consumer to fail writing results", || {
        solo.assert_running();
        solo.stderr().contains("WRONGTYPE").then_some(())
    });
    // Every entry delivered so far is still pending or dead-lettered: none has a result to
    // show for its acknowledgement. Read in this order, a later acknowledgement cannot hide.
    let last = store::last_delivered(&mut con, "work", GROUP).unwrap();
    let pending: HashSet<String> = store::pending(&mut con, "work", GROUP, None)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let dead: HashSet<String> = store::entries(&mut con, "work:dead")
        .iter()
        .map(|d| d.field("id").to_string())
        .collect();
    let delivered: Vec<String> = store::ids(&mut con, "work")
        .into_iter()
        .filter(|id| id_key(id) <= id_key(&last))
        .collect();
    assert!(!delivered.is_empty());
    let lost: Vec<&String> = delivered
        .iter()
        .filter(|id| !pending.contains(*id) && !dead.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} entries delivered were acknowledged with neither a result nor a dead letter; the consumer said:\n{}",
        lost.len(),
        delivered.len(),
        solo.stderr()
    );
    println!(
        "{} entries delivered while the output key held a string: all still pending",
        delivered.len()
    );
}

#[test]
fn without_persistence_a_restarted_redis_gets_a_new_group_and_new_entries_are_scored() {
    let Some(mut redis) = RedisServer::start("stream-restart", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-restart");
    let mut solo = Consumer::start(
        &redis,
        &dir,
        "work",
        "solo",
        &["--block-ms", "100", "--progress", "1"],
    );
    let before = write_records(&dir, "before.csv", 50);
    assert_eq!(publish(&redis, &before, "work", &[]), 50);
    let mut con = redis.connect();
    let inputs = store::ids(&mut con, "work");
    wait_all_scored(&mut con, &mut [&mut solo], "work", &inputs);

    redis.kill();
    redis.restart();
    let mut con = redis.connect();
    assert_eq!(
        store::len(&mut con, "work"),
        0,
        "the stream survived without persistence"
    );
    // The consumer finds the stream gone and makes it again, with its group.
    wait_until("the consumer to recreate its group", || {
        solo.assert_running();
        store::last_delivered(&mut con, "work", GROUP).map(|_| ())
    });
    let after = write_records(&dir, "after.csv", 80);
    assert_eq!(publish(&redis, &after, "work", &[]), 80);
    let inputs = store::ids(&mut con, "work");
    assert_eq!(inputs.len(), 80);
    let results = wait_all_scored(&mut con, &mut [&mut solo], "work", &inputs);
    assert_eq!(results.len(), 80);
    // It said that it lost the server, and the stream with it.
    let lost = "stream `work` or its group `scorers` was gone";
    let stderr = solo.stderr();
    assert!(stderr.contains("reconnecting"), "{stderr}");
    assert_eq!(stderr.matches(lost).count(), 1, "{stderr}");

    // The stream deleted under a running consumer: it says so and makes it again.
    let _: () = redis::cmd("DEL").arg("work").query(&mut con).unwrap();
    wait_until("the consumer to recreate its deleted stream", || {
        solo.assert_running();
        store::last_delivered(&mut con, "work", GROUP).map(|_| ())
    });
    let again = write_records(&dir, "again.csv", 20);
    assert_eq!(publish(&redis, &again, "work", &[]), 20);
    let inputs = store::ids(&mut con, "work");
    wait_all_scored(&mut con, &mut [&mut solo], "work", &inputs);
    let stderr = solo.stderr();
    assert_eq!(stderr.matches(lost).count(), 2, "{stderr}");

    // Every second a progress line counts what was done: 150 entries in all.
    let progress = wait_until("a progress line counting 150 entries", || {
        solo.assert_running();
        solo.stderr()
            .lines()
            .find(|line| {
                line.contains(" INFO ")
                    && line.contains(": read 150, scored 150, acked 150, claimed ")
                    && line.ends_with(" consumer=solo")
            })
            .map(String::from)
    });
    for part in [", dead-lettered 0, errors ", ", lag "] {
        assert!(progress.contains(part), "{progress}");
    }
    println!(
        "after the restart, 80 new entries scored; after DEL, 20; the consumer said:\n{}",
        solo.stderr()
    );
}

#[test]
fn with_an_append_only_file_nothing_acknowledged_is_lost_when_redis_is_killed() {
    let Some(mut redis) = RedisServer::start("stream-aof", Persistence::AppendOnly) else {
        return;
    };
    let dir = scratch("stream-aof");
    let data = write_records(&dir, "records.csv", 3000);
    assert_eq!(publish(&redis, &data, "work", &[]), 3000);
    let mut con = redis.connect();
    let inputs = store::ids(&mut con, "work");
    let mut solo = Consumer::start(
        &redis,
        &dir,
        "work",
        "solo",
        &["--batch", "16", "--block-ms", "100", "--claim-idle", "1000"],
    );
    let scored_at_kill = wait_until("the first 300 results", || {
        solo.assert_running();
        let n = store::len(&mut con, "work:results");
        (n >= 300).then_some(n)
    });
    redis.kill();
    redis.restart();
    let mut con = redis.connect();
    assert_eq!(
        store::ids(&mut con, "work"),
        inputs,
        "the input stream changed"
    );

    // Acknowledged: delivered (up to the group's last-delivered ID) and not pending. Read
    // before the results, which only grow: whatever is acknowledged now has its result.
    let last = store::last_delivered(&mut con, "work", GROUP).expect("the group survived");
    let pending: HashSet<String> = store::pending(&mut con, "work", GROUP, None)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let acknowledged: Vec<&String> = inputs
        .iter()
        .filter(|id| id_key(id) <= id_key(&last) && !pending.contains(*id))
        .collect();
    let results: HashSet<String> = store::entries(&mut con, "work:results")
        .iter()
        .map(|r| r.field("id").to_string())
        .collect();
    let lost: Vec<&&String> = acknowledged
        .iter()
        .filter(|id| !results.contains(**id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged entries have no result, the first {:?}",
        lost.len(),
        lost.first()
    );
    assert!(!acknowledged.is_empty());

    let results = wait_all_scored(&mut con, &mut [&mut solo], "work", &inputs);
    let distinct: HashSet<&str> = results.iter().map(|r| r.field("id")).collect();
    assert_eq!(distinct.len(), 3000);
    println!(
        "redis killed after {scored_at_kill} results; after the restart {} entries acknowledged, {} pending, all with results; finally {} results for 3000 entries",
        acknowledged.len(),
        pending.len(),
        results.len()
    );
}

#[test]
fn sigterm_finishes_the_batch_in_flight_and_exits_0() {
    let Some(redis) = RedisServer::start("stream-sigterm", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-sigterm");
    let data = write_records(&dir, "records.csv", 2000);
    assert_eq!(publish(&redis, &data, "work", &[]), 2000);
    let mut con = redis.connect();
    let inputs = store::ids(&mut con, "work");
    let mut solo = Consumer::start(&redis, &dir, "work", "solo", &["--batch", "64"]);
    wait_until("the first 200 results", || {
        solo.assert_running();
        (store::len(&mut con, "work:results") >= 200).then_some(())
    });
    solo.signal("TERM");
    let status = solo.wait_exit();
    let stderr = solo.stderr();
    assert!(status.success(), "{status}; stderr:\n{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("scored") && l.contains("acked")),
        "no summary line: {stderr}"
    );

    assert!(store::pending(&mut con, "work", GROUP, Some("solo")).is_empty());
    let last = store::last_delivered(&mut con, "work", GROUP).unwrap();
    let results: HashSet<String> = store::entries(&mut con, "work:results")
        .iter()
        .map(|r| r.field("id").to_string())
        .collect();
    let read: Vec<&String> = inputs
        .iter()
        .filter(|id| id_key(id) <= id_key(&last))
        .collect();
    let missing = read.iter().filter(|id| !results.contains(**id)).count();
    assert_eq!(missing, 0, "{missing} entries read have no result");
    println!(
        "SIGTERM after {} of 2000 entries read: all scored and acknowledged; {stderr}",
        read.len()
    );
}

#[test]
fn an_unreachable_server_or_a_bad_name_fails_with_exit_code_2() {
    let Some(redis) = RedisServer::start("stream-errors", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-errors");
    let model = path(model());
    let nowhere = format!("127.0.0.1:{}", common::redis::free_port());
    let url = format!("redis://{nowhere}");
    let out = nadir_bounded(
        &dir,
        &[
            "stream",
            "--redis",
            &url,
            "--input",
            "work",
            "--group",
            GROUP,
            "--consumer",
            "c",
            "--model",
            model,
            "--output",
            "out",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&nowhere),
        "{}",
        text(&out.stderr)
    );

    let url = redis.url();
    let base = |input: &'static str, group: &'static str, consumer: &'static str| {
        vec![
            "stream",
            "--redis",
            &url,
            "--input",
            input,
            "--group",
            group,
            "--consumer",
            consumer,
            "--model",
            model,
        ]
    };
    let cases: [(Vec<&str>, &[&str], &str); 7] = [
        (base("work", GROUP, "c"), &["--output", "a b"], "a b"),
        (
            base("work", GROUP, "c"),
            &["--stdout", "--dead-letter", "d e"],
            "d e",
        ),
        (
            base("work", GROUP, "c"),
            &["--stdout", "--block-ms", "0"],
            "--block-ms",
        ),
        (base("work", GROUP, "c"), &["--output", "work"], "work"),
        (base("work", GROUP, "tab\there"), &["--stdout"], "consumer"),
        (base("work", "", "c"), &["--stdout"], "group"),
        (base("", GROUP, "c"), &["--stdout"], "input"),
    ];
    for (mut args, extra, named) in cases {
        args.extend_from_slice(extra);
        let out = nadir_bounded(&dir, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{args:?}: `{stderr}` does not name `{named}`"
        );
    }
    // Neither --output nor --stdout: nowhere to write.
    let out = nadir_bounded(&dir, &base("work", GROUP, "c"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let mut con = redis.connect();
    assert_eq!(store::len(&mut con, "a b"), 0);
}

#[test]
fn publish_sends_csv_ndjson_a_json_array_and_a_captures_connections() {
    let Some(redis) = RedisServer::start("stream-publish", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-publish");
    let mut con = redis.connect();

    let csv = write_records(&dir, "records.csv", 25);
    assert_eq!(publish(&redis, &csv, "csv", &[]), 25);
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let mut csv_lines = csv_text.lines();
    let header = csv_lines.next().unwrap();
    let sent = store::entries(&mut con, "csv");
    assert_eq!(sent.len(), 25);
    for (entry, line) in sent.iter().zip(csv_lines) {
        assert_eq!(entry.field("record"), line);
        assert_eq!(entry.field("header"), header);
    }

    // Headerless (NSL-KDD's KDDTrain+.txt layout): the lines alone.
    let headerless = dir.join("records.txt");
    let rows: Vec<&str> = csv_text.lines().skip(1).take(7).collect();
    std::fs::write(&headerless, rows.join("\n") + "\n").unwrap();
    assert_eq!(publish(&redis, &headerless, "headerless", &[]), 7);
    let sent = store::entries(&mut con, "headerless");
    assert_eq!(sent.len(), 7);
    for (entry, line) in sent.iter().zip(&rows) {
        assert_eq!(entry.names(), ["record"]);
        assert_eq!(entry.field("record"), *line);
    }

    let ndjson = dir.join("records.ndjson");
    let objects: Vec<String> = csv_text
        .lines()
        .skip(1)
        .take(12)
        .map(|line| as_json(header, line))
        .collect();
    std::fs::write(&ndjson, objects.join("\n") + "\n").unwrap();
    assert_eq!(
        publish(&redis, &ndjson, "ndjson", &["--maxlen", "1000"]),
        12
    );
    let sent = store::entries(&mut con, "ndjson");
    assert_eq!(sent.len(), 12);
    for (entry, object) in sent.iter().zip(&objects) {
        let record: serde_json::Value = serde_json::from_str(entry.field("record")).unwrap();
        assert_eq!(
            record,
            serde_json::from_str::<serde_json::Value>(object).unwrap()
        );
        assert!(entry.get("header").is_none());
    }

    // A JSON array, read from standard input: one entry per object.
    let array = format!("[{}]", objects[..5].join(","));
    let url = redis.url();
    let out = nadir_with_stdin(
        &["publish", "-", "--redis", &url, "--stream", "array"],
        array.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("published 5 records to array"),
        "{}",
        text(&out.stderr)
    );
    let sent = store::entries(&mut con, "array");
    assert_eq!(sent.len(), 5);
    for (entry, object) in sent.iter().zip(&objects) {
        let record: serde_json::Value = serde_json::from_str(entry.field("record")).unwrap();
        assert_eq!(
            record,
            serde_json::from_str::<serde_json::Value>(object).unwrap()
        );
    }

    // A capture: its connections as `nadir extract` writes them, each line with its header.
    let capture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcap/ftp-bruteforce.pcap");
    let extracted = nadir(&["extract", path(&capture)]);
    assert!(extracted.status.success(), "{}", text(&extracted.stderr));
    let extracted = text(&extracted.stdout);
    let mut extracted_lines = extracted.lines();
    let capture_header = extracted_lines.next().unwrap();
    let connections: Vec<&str> = extracted_lines.collect();
    assert!(connections.len() >= 30, "{extracted}");
    assert_eq!(publish(&redis, &capture, "capture", &[]), connections.len());
    let sent = store::entries(&mut con, "capture");
    assert_eq!(sent.len(), connections.len());
    for (entry, line) in sent.iter().zip(&connections) {
        assert_eq!(entry.field("record"), *line);
        assert_eq!(entry.field("header"), capture_header);
    }

    // Scored, a connection keeps its identity columns, as `nadir predict` writes them.
    let mut solo = Consumer::start(&redis, &dir, "capture", "solo", &["--block-ms", "100"]);
    let inputs = store::ids(&mut con, "capture");
    let results = wait_all_scored(&mut con, &mut [&mut solo], "capture", &inputs);
    let predicted = predict(&capture);
    assert_eq!(predicted.len(), connections.len());
    let own = own_columns(&capture);
    assert!(!own.is_empty());
    let by_id: HashMap<&str, &Entry> = results.iter().map(|r| (r.field("id"), r)).collect();
    for (id, predicted) in inputs.iter().zip(&predicted) {
        let result = by_id[id.as_str()];
        same_as_predict(result, predicted).unwrap();
        let names = result.names();
        assert_eq!(&names[1..=own.len()], own.as_slice(), "{result:?}");
        for name in &own {
            let expected = match &predicted[name.as_str()] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(result.field(name), expected, "{name} of {result:?}");
        }
    }
    println!(
        "published 25 CSV rows, 7 headerless, 12 NDJSON objects, a JSON array of 5 and {} connections of ftp-bruteforce.pcap",
        connections.len()
    );
}

/// The file's own columns `nadir predict` writes beside each verdict, in its order (the
/// header of its CSV between `row,line` and `prediction`).
fn own_columns(data: &Path) -> Vec<String> {
    let out = nadir(&["predict", "--model", path(model()), "--data", path(data)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap();
    let columns: Vec<&str> = header.split(',').collect();
    assert_eq!(columns[..2], ["row", "line"], "{header}");
    columns[2..]
        .iter()
        .take_while(|c| **c != "prediction")
        .map(|c| c.to_string())
        .collect()
}

/// A JSON record's fields its schema does not know go through to its result, in the
/// record's order as a CSV record's columns do, and it scores as `nadir predict` scores the
/// NDJSON file.
#[test]
fn json_records_keep_their_own_fields_in_their_order() {
    let Some(redis) = RedisServer::start("stream-json", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-json");
    let (header, lines) = sample_lines();
    let objects: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let features = as_json(&header, line);
            format!(
                "{{\"zz_flow\":\"f{i}\",{},\"aa_sensor\":\"s{i}\"}}",
                &features[1..features.len() - 1]
            )
        })
        .collect();
    let ndjson = dir.join("records.ndjson");
    std::fs::write(&ndjson, objects.join("\n") + "\n").unwrap();
    assert_eq!(publish(&redis, &ndjson, "json", &[]), objects.len());
    let mut con = redis.connect();
    let inputs = store::ids(&mut con, "json");
    let mut solo = Consumer::start(&redis, &dir, "json", "solo", &["--block-ms", "100"]);
    let results = wait_all_scored(&mut con, &mut [&mut solo], "json", &inputs);
    let predicted = predict(&ndjson);
    let by_id: HashMap<&str, &Entry> = results.iter().map(|r| (r.field("id"), r)).collect();
    for (i, (id, predicted)) in inputs.iter().zip(&predicted).enumerate() {
        let result = by_id[id.as_str()];
        same_as_predict(result, predicted).unwrap();
        assert_eq!(
            result.fields[1..3],
            [
                ("zz_flow".to_string(), format!("f{i}")),
                ("aa_sensor".to_string(), format!("s{i}"))
            ],
            "{result:?}"
        );
    }
}

/// The value of metric `name` (no labels) in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// `GET /metrics` of `addr`, the body, or `None` while nothing answers there.
fn scrape(addr: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200"),
        "{head}"
    );
    Some(body.to_string())
}

#[test]
fn metrics_count_the_entries_scored_and_stdout_writes_each_result() {
    let Some(redis) = RedisServer::start("stream-metrics", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-metrics");
    let addr = format!("127.0.0.1:{}", common::redis::free_port());
    let mut solo = Consumer::start(
        &redis,
        &dir,
        "work",
        "solo",
        &[
            "--metrics-addr",
            &addr,
            "--block-ms",
            "100",
            "--stdout",
            "--log-format",
            "json",
        ],
    );
    let data = write_records(&dir, "records.csv", 200);
    assert_eq!(publish(&redis, &data, "work", &[]), 200);
    let mut con = redis.connect();
    let inputs = store::ids(&mut con, "work");
    let results = wait_all_scored(&mut con, &mut [&mut solo], "work", &inputs);

    // `--stdout` writes each result as the output stream holds it, one object a line.
    let written = wait_until("200 results on standard output", || {
        let stdout = solo.stdout();
        (stdout.lines().count() >= 200).then_some(stdout)
    });
    let objects: Vec<serde_json::Value> = written
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(objects.len(), 200);
    for (object, result) in objects.iter().zip(&results) {
        let object = object.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut names = result.names();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(sorted_keys, names, "{object:?} vs {result:?}");
        for (name, value) in &result.fields {
            let written = match &object[name] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if name == "probability" || name == "family_probability" {
                let parsed: f64 = value.parse().unwrap();
                assert_eq!(object[name].as_f64().unwrap().to_bits(), parsed.to_bits());
            } else {
                assert_eq!(&written, value, "{name}: {object:?} vs {result:?}");
            }
        }
    }
    let body = wait_until("the metrics to count 200 acknowledged entries", || {
        solo.assert_running();
        let body = scrape(&addr)?;
        (metric(&body, "nadir_stream_entries_acked_total")? >= 200.0).then_some(body)
    });
    assert_eq!(
        metric(&body, "nadir_stream_entries_scored_total"),
        Some(200.0),
        "{body}"
    );
    assert_eq!(
        metric(&body, "nadir_stream_entries_read_total"),
        Some(200.0),
        "{body}"
    );
    assert_eq!(
        metric(&body, "nadir_stream_entries_acked_total"),
        Some(200.0),
        "{body}"
    );
    assert_eq!(
        metric(&body, "nadir_stream_entries_dead_lettered_total"),
        Some(0.0),
        "{body}"
    );
    assert!(body.contains("nadir_stream_batch_seconds_bucket"), "{body}");
    assert!(metric(&body, "nadir_stream_batch_seconds_count").is_some_and(|n| n >= 1.0));
    // The build's and the process's metrics, under their standard names.
    assert!(
        body.lines()
            .any(|l| l.starts_with("nadir_build_info{version=\"")),
        "{body}"
    );
    if cfg!(target_os = "linux") {
        assert!(metric(&body, "process_resident_memory_bytes").is_some_and(|b| b > 0.0));
        assert!(metric(&body, "process_open_fds").is_some_and(|n| n >= 3.0));
    }
    // The lag is sampled now and then: it comes down to 0 once everything is read.
    wait_until("the lag gauge to reach 0", || {
        let body = scrape(&addr)?;
        (metric(&body, "nadir_stream_group_lag")? == 0.0).then_some(())
    });
    // `--log-format json`: every line of its log is a JSON object, the consumer named.
    solo.signal("TERM");
    let status = solo.wait_exit();
    let stderr = solo.stderr();
    assert!(status.success(), "{status}; stderr:\n{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
        assert_eq!(line["consumer"], "solo", "{line}");
    }
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("stopped: read 200, scored 200"))),
        "{stderr}"
    );
}

/// Waits until [`GROUP`] has read every one of `inputs` and acknowledged them all, failing
/// early if the consumer exits: with `--attacks-only` the results alone do not say so.
fn wait_all_acknowledged(
    con: &mut redis::Connection,
    consumer: &mut Consumer,
    input: &str,
    inputs: &[String],
) {
    let last = inputs.last().expect("entries were sent");
    wait_until(
        &format!("all {} entries of {input} acknowledged", inputs.len()),
        || {
            consumer.assert_running();
            let read_all =
                store::last_delivered(con, input, GROUP).as_deref() == Some(last.as_str());
            (read_all && store::pending_count(con, input, GROUP) == 0).then_some(())
        },
    );
}

/// `--format ecs`: each result is the record's ECS document, in the output stream as one
/// `ecs` field and on standard output as a line, the entry's ID as `event.id`; with
/// `--attacks-only` only the alerts are written (exactly the records `nadir predict` calls
/// attacks) while every entry is acknowledged and counted; a capture's connections carry
/// their two ends and their start.
#[test]
fn ecs_results_and_attacks_only_write_the_alerts_alone() {
    let Some(redis) = RedisServer::start("stream-ecs", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-ecs");
    let mut con = redis.connect();
    let data = write_records(&dir, "records.csv", 200);
    assert_eq!(publish(&redis, &data, "work", &[]), 200);
    let inputs = store::ids(&mut con, "work");
    let addr = format!("127.0.0.1:{}", common::redis::free_port());
    let mut alerts_only = Consumer::start(
        &redis,
        &dir,
        "work",
        "alerts",
        &[
            "--format",
            "ecs",
            "--attacks-only",
            "--stdout",
            "--block-ms",
            "100",
            "--metrics-addr",
            &addr,
        ],
    );
    wait_all_acknowledged(&mut con, &mut alerts_only, "work", &inputs);
    let predicted = predict(&data);
    let attacks: Vec<&String> = inputs
        .iter()
        .zip(&predicted)
        .filter(|(_, p)| p["prediction"] == "attack")
        .map(|(id, _)| id)
        .collect();
    assert!(
        !attacks.is_empty() && attacks.len() < 200,
        "{}",
        attacks.len()
    );
    let written = store::entries(&mut con, &results_of("work"));
    let documents: Vec<serde_json::Value> = written
        .iter()
        .map(|entry| {
            assert_eq!(entry.names(), ["ecs"], "{entry:?}");
            serde_json::from_str(entry.field("ecs")).unwrap()
        })
        .collect();
    let ids: Vec<&str> = documents
        .iter()
        .map(|d| d["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, attacks, "the alerts, in the input's order");
    for document in &documents {
        assert_eq!(document["event"]["kind"], "alert");
        assert_eq!(document["nadir"]["prediction"], "attack");
        assert_eq!(document["rule"]["name"], "random_forest");
        assert!(document.get("source").is_none(), "{document}");
        assert!(
            ["tcp", "udp", "icmp"].contains(&document["network"]["transport"].as_str().unwrap())
        );
    }
    let stdout = wait_until("the alerts on standard output", || {
        let stdout = alerts_only.stdout();
        (stdout.lines().count() >= attacks.len()).then_some(stdout)
    });
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines, documents,
        "standard output writes what the stream holds"
    );
    let body = wait_until("the metrics to count 200 acknowledged entries", || {
        let body = scrape(&addr)?;
        (metric(&body, "nadir_stream_entries_acked_total")? >= 200.0).then_some(body)
    });
    assert_eq!(
        metric(&body, "nadir_stream_entries_scored_total"),
        Some(200.0),
        "normal results are counted though not written: {body}"
    );

    // A capture's connections, every result written: alerts and events, with both ends.
    let capture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcap/ftp-bruteforce.pcap");
    let sent = publish(&redis, &capture, "capture", &[]);
    let inputs = store::ids(&mut con, "capture");
    assert_eq!(inputs.len(), sent);
    let mut every = Consumer::start(
        &redis,
        &dir,
        "capture",
        "every",
        &["--format", "ecs", "--block-ms", "100"],
    );
    wait_all_acknowledged(&mut con, &mut every, "capture", &inputs);
    let written = store::entries(&mut con, &results_of("capture"));
    assert_eq!(written.len(), sent);
    for (entry, id) in written.iter().zip(&inputs) {
        let document: serde_json::Value = serde_json::from_str(entry.field("ecs")).unwrap();
        assert_eq!(document["event"]["id"], id.as_str());
        let attack = document["nadir"]["prediction"] == "attack";
        assert_eq!(
            document["event"]["kind"],
            if attack { "alert" } else { "event" }
        );
        assert_eq!(document["destination"]["port"], 21, "{document}");
        assert!(document["source"]["ip"].is_string(), "{document}");
        assert!(document["source"]["port"].is_u64(), "{document}");
        assert_eq!(document["network"]["transport"], "tcp");
        assert!(document["event"]["start"].is_string(), "{document}");
        assert_eq!(document["@timestamp"], document["event"]["start"]);
    }
}

/// `--explain K`: each result carries its record's explanation, the one `nadir predict
/// --explain K` gives: in the output stream as `explained`, `base_value` and `explanation`
/// (the compact text), on standard output as predict's NDJSON writes them; a model that
/// cannot be explained stops the consumer at start (exit code 2), saying why.
#[test]
fn explain_adds_each_records_explanation_to_its_result() {
    let Some(redis) = RedisServer::start("stream-explain", Persistence::None) else {
        return;
    };
    let dir = scratch("stream-explain");
    let mut con = redis.connect();
    let data = write_records(&dir, "records.csv", 60);
    assert_eq!(publish(&redis, &data, "work", &[]), 60);
    let inputs = store::ids(&mut con, "work");
    let mut consumer = Consumer::start(
        &redis,
        &dir,
        "work",
        "explainer",
        &["--explain", "3", "--stdout", "--block-ms", "100"],
    );
    wait_all_acknowledged(&mut con, &mut consumer, "work", &inputs);
    let predicted = predict_with(model(), &data, &["--explain", "3"]);
    let written = store::entries(&mut con, &results_of("work"));
    assert_eq!(written.len(), 60);
    for (entry, predicted) in written.iter().zip(&predicted) {
        assert_eq!(
            entry.field("explained"),
            predicted["explained"],
            "{entry:?}"
        );
        let base: f64 = entry.field("base_value").parse().unwrap();
        assert_eq!(
            base.to_bits(),
            predicted["base_value"].as_f64().unwrap().to_bits()
        );
        let features: Vec<&str> = entry
            .field("explanation")
            .split(';')
            .filter(|f| !f.is_empty())
            .map(|f| f.split_once('=').unwrap().0)
            .collect();
        let expected: Vec<&str> = predicted["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["feature"].as_str().unwrap())
            .collect();
        assert!(features.len() <= 3, "{entry:?}");
        assert_eq!(features, expected, "{entry:?}");
    }
    let stdout = wait_until("the results on standard output", || {
        let stdout = consumer.stdout();
        (stdout.lines().count() >= 60).then_some(stdout)
    });
    for (line, predicted) in stdout.lines().zip(&predicted) {
        let result: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["explained", "base_value", "explanation"] {
            assert_eq!(result[key], predicted[key], "{key}: {line}");
        }
    }

    let old = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nadir-ml/tests/fixtures/v3/decision_tree.nadir");
    let url = redis.url();
    let out = nadir_bounded(
        &dir,
        &[
            "stream",
            "--redis",
            &url,
            "--input",
            "work",
            "--group",
            GROUP,
            "--consumer",
            "old",
            "--model",
            path(&old),
            "--stdout",
            "--explain",
            "3",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot explain") && stderr.contains("retrain it with this nadir"),
        "{stderr}"
    );
}
