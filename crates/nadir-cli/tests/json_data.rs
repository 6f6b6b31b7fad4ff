//! JSON and NDJSON data files (and JSON on standard input) read as the CSV of the same records.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use common::{nadir, nadir_with_stdin, path, sample, scratch, text, train_on_sample};

/// A model trained once on the sample, and the first 300 records of the sample as CSV,
/// NDJSON and a pretty-printed JSON array, in a scratch directory.
fn setup() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("json-data");
        train_on_sample("dt", &dir, &[]);
        let original = std::fs::read_to_string(sample()).unwrap();
        let lines: Vec<&str> = original.lines().take(301).collect();
        std::fs::write(dir.join("x.csv"), lines.join("\n") + "\n").unwrap();
        let header: Vec<&str> = lines[0].split(',').collect();
        let records: Vec<serde_json::Value> = lines[1..]
            .iter()
            .map(|line| {
                let object: serde_json::Map<String, serde_json::Value> = header
                    .iter()
                    .zip(line.split(','))
                    .map(|(name, value)| {
                        let value = match value.parse::<f64>() {
                            Ok(number) if *name != "attack" => serde_json::json!(number),
                            _ => serde_json::json!(value),
                        };
                        (name.to_string(), value)
                    })
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        let ndjson: String = records.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(dir.join("x.ndjson"), ndjson).unwrap();
        let array = serde_json::to_string_pretty(&records).unwrap();
        std::fs::write(dir.join("x.json"), array).unwrap();
        dir
    })
}

fn model() -> PathBuf {
    setup().join("decision_tree.nadir")
}

/// The predictions of `predict`'s CSV output without the `line` column, and the lines.
fn predictions(out: &std::process::Output) -> (Vec<String>, Vec<u64>) {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("row,line,prediction,probability,family,family_probability,warning")
    );
    rows.map(|row| {
        let mut fields: Vec<&str> = row.split(',').collect();
        let line: u64 = fields.remove(1).parse().unwrap();
        (fields.join(","), line)
    })
    .unzip()
}

fn predict(data: &Path) -> std::process::Output {
    nadir(&["predict", "--model", path(&model()), "--data", path(data)])
}

#[test]
fn predict_on_json_ndjson_and_stdin_matches_the_csv() {
    let dir = setup();
    let (expected, csv_lines) = predictions(&predict(&dir.join("x.csv")));
    assert_eq!(expected.len(), 300);
    assert_eq!(csv_lines, (2..302).collect::<Vec<u64>>());

    let out = predict(&dir.join("x.ndjson"));
    assert!(
        text(&out.stderr).contains("read 300 records of"),
        "{}",
        text(&out.stderr)
    );
    let (got, lines) = predictions(&out);
    assert_eq!(got, expected);
    assert_eq!(lines, (1..301).collect::<Vec<u64>>());

    // The pretty-printed array: each record on the line of its `{`.
    let array = std::fs::read_to_string(dir.join("x.json")).unwrap();
    let braces: Vec<u64> = (1..)
        .zip(array.lines())
        .filter(|(_, line)| *line == "  {")
        .map(|(i, _)| i)
        .collect();
    let (got, lines) = predictions(&predict(&dir.join("x.json")));
    assert_eq!(got, expected);
    assert_eq!(lines, braces);

    let model = model();
    let args = ["predict", "--model", path(&model), "--data", "-"];
    for file in ["x.ndjson", "x.json", "x.csv"] {
        let input = std::fs::read(dir.join(file)).unwrap();
        let (got, _) = predictions(&nadir_with_stdin(&args, &input));
        assert_eq!(got, expected, "{file} on standard input");
    }
}

#[test]
fn evaluate_reads_the_labels_of_json_records() {
    let dir = setup();
    let evaluate = |file: &str| {
        let out = nadir(&[
            "evaluate",
            "--model",
            path(&model()),
            "--data",
            path(&dir.join(file)),
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let csv = evaluate("x.csv");
    for file in ["x.ndjson", "x.json"] {
        let json = evaluate(file);
        assert_eq!(json["rows"], 300);
        for key in ["confusion", "per_attack", "f1", "roc_auc"] {
            assert_eq!(json[key], csv[key], "{file}: {key}");
        }
    }
}

#[test]
fn bad_json_records_stop_the_read_or_are_skipped() {
    let dir = setup();
    let ndjson = std::fs::read_to_string(dir.join("x.ndjson")).unwrap();
    let bad = ndjson.replacen("\"srcbytes\":", "\"srcbytes\":-1,\"x\":", 1);
    assert_ne!(bad, ndjson);
    let file = dir.join("bad.jsonl");
    std::fs::write(&file, bad).unwrap();
    let out = predict(&file);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.jsonl: line 1: column `srcbytes`, value `-1`"),
        "{err}"
    );
    let out = nadir(&[
        "predict",
        "--model",
        path(&model()),
        "--data",
        path(&file),
        "--skip-invalid",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("skipped 1 invalid row(s)"));
    let (got, lines) = predictions(&out);
    assert_eq!((got.len(), lines[0]), (299, 2));
}
