//! Reading files of every schema: the built-in ones recognised from the header, a user's
//! own from TOML, features left out with `drop`, and a file checked against a given schema.

use nadir_data::{DataError, ReadOptions, Schema, read_from, read_path};
use std::path::PathBuf;
use std::sync::Arc;

fn shared(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(file)
}

/// A small schema of the kind a user writes for a flow export of their own.
const TOY: &str = r#"
name = "toy"
never_features = ["flow_id"]

[label]
column = "verdict"
normal = "ok"

[[feature]]
name = "bytes"
kind = "count"

[[feature]]
name = "proto"
kind = "categorical"

[[feature]]
name = "ratio"
kind = "rate"

[[feature]]
name = "skew"
kind = "continuous"
"#;

fn toy() -> Arc<Schema> {
    Arc::new(Schema::from_toml(TOY, "toy.toml").unwrap())
}

/// The header and first rows of the UNSW-NB15 file as distributed (with its byte-order mark).
fn unsw_head(rows: usize) -> String {
    let text = std::fs::read_to_string(shared("UNSW_NB15_82332.csv")).unwrap();
    text.lines().take(rows + 1).collect::<Vec<_>>().join("\n") + "\n"
}

#[test]
fn a_users_schema_reads_its_csv_in_any_column_order() {
    let text = "verdict,skew,flow_id,ratio,proto,bytes\nok,-1.5,7,0.25,tcp,100\nscan,2,8,1,udp,0\n";
    let data = read_from(text.as_bytes(), "t.csv", ReadOptions::with_schema(toy())).unwrap();
    assert_eq!(data.schema.name(), "toy");
    assert_eq!(data.records[0].numeric, [100.0, 0.25, -1.5]);
    assert_eq!(data.records[1].categorical, ["udp"]);
    assert_eq!(data.is_attack(), Some(vec![false, true]));
    assert!(
        data.ignored_columns.is_empty(),
        "flow_id is declared, never a feature"
    );
}

#[test]
fn a_users_schema_names_missing_columns_and_bad_values() {
    let missing = read_from(
        "verdict,bytes,proto\nok,1,tcp\n".as_bytes(),
        "t.csv",
        ReadOptions::with_schema(toy()),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        missing,
        "t.csv: the header lacks the column(s) ratio, skew of schema `toy`"
    );
    let bad = read_from(
        "bytes,proto,ratio,skew,extra\n1,tcp,1.5,0,x\n".as_bytes(),
        "t.csv",
        ReadOptions::with_schema(toy()),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        bad,
        "t.csv: line 2: column `ratio`, value `1.5`: a rate must lie in [0, 1]"
    );
}

#[test]
fn unsw_nb15_is_recognised_from_its_header_despite_the_byte_order_mark() {
    let data = read_from(unsw_head(50).as_bytes(), "unsw.csv", ReadOptions::default()).unwrap();
    assert_eq!(data.schema.name(), "unsw-nb15");
    assert_eq!(data.len(), 50);
    assert_eq!(data.records[0].numeric.len(), 39);
    assert_eq!(data.records[0].categorical, ["udp", "-", "INT"]);
    assert_eq!(data.attacks.as_ref().unwrap()[0], "Normal");
    assert!(data.ignored_columns.is_empty());
}

#[test]
fn the_binary_label_must_agree_with_the_attack_category() {
    let text = unsw_head(3);
    let mut lines: Vec<&str> = text.lines().collect();
    let flipped = lines[2].replace(",Normal,0", ",Normal,1");
    lines[2] = &flipped;
    let error = read_from(
        lines.join("\n").as_bytes(),
        "unsw.csv",
        ReadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "unsw.csv: line 3: column `label`, value `1`: disagrees with `attack_cat` = `Normal`"
    );
    // Without the category column, the 0/1 column alone labels the rows.
    let header_without_category = text.replace(",attack_cat,label", ",label");
    let rows: Vec<String> = header_without_category
        .lines()
        .map(|l| l.replace(",Normal,", ","))
        .collect();
    let data = read_from(
        rows.join("\n").as_bytes(),
        "unsw.csv",
        ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(data.is_attack(), Some(vec![false; 3]));
}

#[test]
fn dropped_features_are_left_out_and_need_not_be_in_the_file() {
    let drop: Vec<String> = ["sttl", "dttl", "ct_state_ttl"].map(String::from).into();
    let options = ReadOptions {
        drop: drop.clone(),
        ..ReadOptions::default()
    };
    let data = read_from(unsw_head(5).as_bytes(), "unsw.csv", options).unwrap();
    assert_eq!(
        data.schema.title(),
        "unsw-nb15 without sttl, dttl, ct_state_ttl"
    );
    assert_eq!(data.records[0].numeric.len(), 36);
    // A later file read against that schema may lack the dropped columns.
    let text = unsw_head(5);
    let without: String = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            [&fields[..10], &fields[12..32], &fields[33..]]
                .concat()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let again = read_from(
        without.as_bytes(),
        "later.csv",
        ReadOptions::with_schema(data.schema.clone()),
    )
    .unwrap();
    assert_eq!(again.records, data.records);
    let unknown = read_from(
        unsw_head(1).as_bytes(),
        "unsw.csv",
        ReadOptions {
            drop: vec!["ttl".into()],
            ..ReadOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(unknown, DataError::Schema { .. }), "{unknown}");
}

#[test]
fn a_header_of_no_known_schema_names_the_closest_one_and_the_way_out() {
    let error = read_from(
        "dur,proto,service,label\n1,tcp,-,0\n".as_bytes(),
        "mine.csv",
        ReadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("mine.csv: the header lacks the column(s) state, spkts")
            && error.contains("of schema `unsw-nb15`; pass --schema FILE"),
        "{error}"
    );
}

#[test]
fn the_whole_unsw_nb15_file_reads_with_its_documented_counts() {
    let data = read_path(&shared("UNSW_NB15_82332.csv"), ReadOptions::default()).unwrap();
    assert_eq!(data.len(), 82_332);
    assert_eq!(
        data.sha256,
        "734fe6642edf758f7c94d7d9149426b49d202fe8e7bf0bef47392489c3c0a559"
    );
    let attacks = data.is_attack().unwrap();
    assert_eq!(attacks.iter().filter(|&&a| a).count(), 45_332);
    let families: std::collections::BTreeSet<&str> = data.families().unwrap().into_iter().collect();
    assert_eq!(families.len(), 10, "{families:?}");
}
