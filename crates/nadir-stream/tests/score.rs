//! Entries to outcomes without Redis: every record scored exactly as `SavedModel::predict`
//! scores the file it came from, whatever form it comes in; every bad one dead-lettered with
//! its fault named.

use nadir_data::{Dataset, ReadOptions, read_path};
use nadir_ml::ModelKind;
use nadir_ml::file::SavedModel;
use nadir_ml::protocol::{TrainOptions, train};
use nadir_stream::Scorer;
use nadir_stream::entry::{InputEntry, Outcome, Stamp};
use std::path::PathBuf;

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv")
}

fn entry(id: usize, record: Option<&str>, header: Option<&str>) -> InputEntry {
    InputEntry {
        id: format!("{id}-0"),
        record: record.map(|r| r.as_bytes().to_vec()),
        header: header.map(|h| h.as_bytes().to_vec()),
        deliveries: 1,
    }
}

/// A decision tree trained on the sample, and the sample as read.
fn tree_and_sample() -> (SavedModel, Dataset) {
    let data = read_path(&sample_path(), ReadOptions::default()).unwrap();
    let options = TrainOptions {
        kinds: vec![ModelKind::DecisionTree],
        folds: 2,
        ..TrainOptions::default()
    };
    let model = train(&data, None, &options, &|_| {})
        .unwrap()
        .models
        .remove(0);
    (model, data)
}

#[test]
fn csv_lines_with_and_without_header_and_json_records_score_as_predict_does() {
    let (model, data) = tree_and_sample();
    let expected = model.predict(&data.records, None);

    let text = std::fs::read_to_string(sample_path()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let lines: Vec<&str> = lines.take(300).collect();
    let columns: Vec<&str> = header.split(',').collect();

    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match i % 3 {
            // With its header, plus an identity column of its own in front.
            0 => entries.push(InputEntry {
                record: Some(format!("host-{i},{line}").into_bytes()),
                header: Some(format!("src,{header}").into_bytes()),
                ..entry(i, None, None)
            }),
            // A JSON object, values typed as the CSV reads them, with an identity field.
            1 => {
                let mut object = serde_json::Map::new();
                object.insert("src".into(), format!("host-{i}").into());
                for (name, value) in columns.iter().zip(line.split(',')) {
                    let value = match value.parse::<f64>() {
                        Ok(number) => serde_json::Value::from(number),
                        Err(_) => value.into(),
                    };
                    object.insert(name.to_string(), value);
                }
                entries.push(entry(
                    i,
                    Some(&serde_json::Value::Object(object).to_string()),
                    None,
                ));
            }
            _ => entries.push(entry(i, Some(line), Some(header))),
        }
    }
    let outcomes = Scorer::new(model, None).score(entries);
    assert_eq!(outcomes.len(), lines.len());
    for (i, outcome) in outcomes.iter().enumerate() {
        let Outcome::Scored(scored) = outcome else {
            panic!("entry {i} was not scored: {outcome:?}");
        };
        assert_eq!(scored.id, format!("{i}-0"));
        assert_eq!(
            scored.prediction.score.to_bits(),
            expected[i].score.to_bits(),
            "entry {i}"
        );
        assert_eq!(scored.prediction.is_attack, expected[i].is_attack);
        if i % 3 == 2 {
            assert!(scored.own.is_empty(), "{:?}", scored.own);
        } else {
            assert_eq!(scored.own, [("src".to_string(), format!("host-{i}"))]);
        }
    }
}

#[test]
fn bad_entries_are_dead_lettered_with_their_fault_and_good_ones_beside_them_scored() {
    let (model, _) = tree_and_sample();
    let text = std::fs::read_to_string(sample_path()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let good = lines.next().unwrap();
    // A good line with `src_bytes` negative.
    let bad_value = {
        let mut fields: Vec<&str> = good.split(',').collect();
        let src_bytes = header
            .split(',')
            .position(|c| c == "srcbytes" || c == "src_bytes");
        fields[src_bytes.expect("the sample names src_bytes")] = "-5";
        fields.join(",")
    };
    let entries = vec![
        entry(0, Some(good), Some(header)),
        entry(1, Some(&bad_value), Some(header)),
        entry(2, Some("1,2,3"), None),
        entry(3, None, None),
        entry(4, Some("{\"duration\": "), None),
        entry(5, Some("a,b\nc,d"), Some(header)),
        entry(6, Some(good), Some(header)),
    ];
    let outcomes = Scorer::new(model, None).score(entries);
    let error = |i: usize| match &outcomes[i] {
        Outcome::Dead(letter) => letter.error.clone(),
        other => panic!("entry {i} was not dead-lettered: {other:?}"),
    };
    assert!(matches!(outcomes[0], Outcome::Scored(_)));
    assert!(matches!(outcomes[6], Outcome::Scored(_)));
    assert!(
        error(1).contains("value `-5`: a count cannot be negative"),
        "{}",
        error(1)
    );
    assert!(error(2).contains("3 columns and no header"), "{}", error(2));
    assert!(error(3).contains("no `record` field"), "{}", error(3));
    assert!(error(4).starts_with("malformed JSON"), "{}", error(4));
    assert!(error(5).contains("one line"), "{}", error(5));
}

/// `explaining(k)`: each scored entry carries its own record's explanation, as
/// `SavedModel::explain` and `Explanation::top` give it, dead entries between them
/// notwithstanding; in the result's fields, its JSON and its ECS document. A model that
/// cannot be explained is refused when the scorer is made.
#[test]
fn an_explaining_scorer_gives_each_result_its_records_explanation() {
    let (model, data) = tree_and_sample();
    let expected = model.explain_top(&data.records[..4], 3).unwrap();
    let text = std::fs::read_to_string(sample_path()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let lines: Vec<&str> = lines.take(4).collect();
    let entries = vec![
        entry(0, Some(lines[0]), Some(header)),
        entry(1, Some("1,2,3"), None),
        entry(2, Some(lines[1]), Some(header)),
        entry(3, Some(lines[2]), None),
        entry(4, Some(lines[3]), Some(header)),
    ];
    let scorer = Scorer::new(model, None).explaining(3).unwrap();
    let outcomes = scorer.score(entries);
    let scored: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Scored(s) => Some(s),
            Outcome::Dead(_) => None,
        })
        .collect();
    assert!(matches!(outcomes[1], Outcome::Dead(_)));
    assert_eq!(scored.len(), 4);
    let stamp = Stamp {
        model: ModelKind::DecisionTree,
        consumer: "c",
        scored_at_us: 0,
    };
    for (s, want) in scored.iter().zip(&expected) {
        assert_eq!(s.explanation.as_ref(), Some(want));
        let fields = s.fields(&stamp);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(field("explained").as_deref(), Some("probability"));
        assert_eq!(field("base_value"), Some(want.base.to_string()));
        assert_eq!(
            field("explanation"),
            Some(nadir_ml::output::explanation_text(&want.features))
        );
        let json = s.json(&stamp);
        assert_eq!(json["base_value"], serde_json::json!(want.base));
        assert_eq!(
            json["explanation"],
            serde_json::to_value(&want.features).unwrap()
        );
        assert_eq!(
            s.ecs(&stamp)["nadir"]["explanation"],
            serde_json::to_value(want).unwrap()
        );
    }

    let old = SavedModel::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../nadir-ml/tests/fixtures/v3/decision_tree.nadir"),
    )
    .unwrap();
    let error = Scorer::new(old, None).explaining(3).err().unwrap();
    assert!(
        error.to_string().contains("retrain it with this nadir"),
        "{error}"
    );
}
