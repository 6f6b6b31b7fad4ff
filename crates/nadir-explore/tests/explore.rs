//! `explore` on a hand-made file whose quality problems are known, and on the 2,000-row
//! sample.

use nadir_data::{Dataset, ReadOptions, Schema, read_from, read_path};
use nadir_explore::stats::{self, Alternative};
use nadir_explore::{ExploreError, Verdict, explore};
use std::path::PathBuf;

/// A valid normal row (the schema's field order), to be edited per test row.
const BASE: [&str; 41] = [
    "0", "tcp", "ftp_data", "SF", "491", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
    "0", "0", "0", "0", "0", "0", "2", "2", "0.00", "0.00", "0.00", "0.00", "1.00", "0.00", "0.00",
    "150", "25", "0.17", "0.03", "0.17", "0.00", "0.00", "0.00", "0.05", "0.00",
];

fn row(changes: &[(&str, &str)], attack: &str) -> String {
    let mut fields = BASE.map(str::to_string).to_vec();
    for (name, value) in changes {
        let i = Schema::nsl_kdd().feature_index(name).unwrap();
        fields[i] = value.to_string();
    }
    fields.push(attack.to_string());
    fields.push("20".to_string());
    fields.join(",")
}

fn handmade() -> Dataset {
    let schema = Schema::nsl_kdd();
    let header: Vec<&str> = schema
        .features()
        .map(|f| f.name.as_str())
        .chain(["attack", "lastflag"])
        .collect();
    let lines = [
        header.join(","),
        row(&[], "normal"),                                          // line 2
        row(&[("srcbytes", "1200"), ("service", "http")], "normal"), // line 3
        row(&[("srcbytes", "300"), ("loggedin", "1")], "normal"),    // line 4
        row(
            &[("srcbytes", "0"), ("flag", "S0"), ("serrorrate", "1.00")],
            "neptune",
        ),
        row(
            &[("srcbytes", "0"), ("flag", "S0"), ("count", "200")],
            "neptune",
        ),
        row(
            &[("srcbytes", "10"), ("suattempted", "2")],
            "buffer_overflow",
        ), // line 7
        row(&[], "normal"),  // duplicate of line 2, same label
        row(&[], "neptune"), // duplicate of line 2, other label
        row(&[("srcbytes", "-3"), ("serrorrate", "1.5")], "normal"), // invalid: skipped
        "0,tcp,http".to_string(), // malformed: skipped
    ];
    read_from(
        lines.join("\n").as_bytes(),
        "handmade.csv",
        ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn quality_counts_every_known_problem() {
    let e = explore(&handmade()).unwrap();
    let q = &e.quality;
    assert_eq!(q.rows, 8);
    assert_eq!((q.skipped_rows, q.malformed_rows), (2, 1));
    let column = |name: &str| q.invalid_values.iter().find(|c| c.column == name).unwrap();
    assert_eq!(column("srcbytes").negative, 1);
    assert_eq!(column("serrorrate").rate_out_of_range, 1);
    assert_eq!(q.invalid_values.iter().map(|c| c.total).sum::<usize>(), 2);
    assert_eq!(q.duplicates.feature_rows, 2);
    assert_eq!(q.duplicates.labelled_rows, 1);
    assert_eq!(q.duplicates.conflicting_groups, 1);
    assert_eq!(q.duplicates.conflicting_rows, 3);
    assert!(q.constant_columns.contains(&"numoutboundcmds".to_string()));
    assert!(q.constant_columns.contains(&"protocoltype".to_string()));
    assert!(!q.constant_columns.contains(&"srcbytes".to_string()));
    let su = &q.suspicious;
    assert_eq!(su.len(), 1, "{su:?}");
    assert_eq!((su[0].column.as_str(), su[0].value), ("suattempted", 2.0));
    assert_eq!(su[0].lines, [7]);
    assert_eq!(su[0].labels, [("buffer_overflow".to_string(), 1)]);
}

#[test]
fn balance_counts_names_and_families() {
    let b = explore(&handmade()).unwrap().balance;
    assert_eq!((b.normal, b.attack), (4, 4));
    assert_eq!(b.attacks[0].name, "neptune");
    assert_eq!(b.attacks[0].rows, 3);
    let family = |f: &str| b.families.iter().find(|x| x.family == f).unwrap().rows;
    assert_eq!((family("DoS"), family("U2R"), family("R2L")), (3, 1, 0));
}

#[test]
fn refuses_unlabelled_and_one_class_data() {
    let mut data = handmade();
    let labels = data.attacks.take();
    assert!(matches!(
        explore(&data),
        Err(ExploreError::Unlabelled { .. })
    ));
    data.attacks = labels.map(|l| l.iter().map(|_| "normal".to_string()).collect());
    let error = explore(&data).unwrap_err();
    assert!(matches!(error, ExploreError::OneClass { .. }));
    assert!(error.to_string().contains("handmade.csv"), "{error}");
}

fn sample() -> Dataset {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv");
    read_path(&path, ReadOptions::default()).unwrap()
}

fn column(data: &Dataset, name: &str, keep: impl Fn(&str) -> bool) -> Vec<f64> {
    let c = data
        .schema
        .numeric_names()
        .iter()
        .position(|n| *n == name)
        .unwrap();
    let labels = data.attacks.as_ref().unwrap();
    data.records
        .iter()
        .zip(labels)
        .filter(|(_, label)| keep(label))
        .map(|(r, _)| r.numeric[c])
        .collect()
}

#[test]
fn sample_results_agree_with_the_public_statistics() {
    let data = sample();
    let e = explore(&data).unwrap();
    assert_eq!(e.rows, 2000);
    assert_eq!(e.balance.normal + e.balance.attack, 2000);
    assert_eq!(e.features.len(), 38);
    assert_eq!(e.tests.len(), 41);

    // The matrices agree with the pairwise functions.
    let c = &e.correlations;
    let all = |name: &str| column(&data, name, |_| true);
    let (i, j) = (
        c.names.iter().position(|n| n == "serrorrate").unwrap(),
        c.names.iter().position(|n| n == "dsthostcount").unwrap(),
    );
    let (a, b) = (all(&c.names[i]), all(&c.names[j]));
    assert!((c.pearson[i][j] - stats::pearson(&a, &b).unwrap()).abs() < 1e-12);
    assert!((c.spearman[j][i] - stats::spearman(&a, &b).unwrap()).abs() < 1e-12);
    assert!(!c.names.iter().any(|n| n == "numoutboundcmds"));
    let strength = |k: usize| {
        let p = &c.top_pairs[k];
        p.pearson.abs().max(p.spearman.abs())
    };
    assert!(strength(0) >= strength(c.top_pairs.len() - 1));

    // Each feature test is the two-sided test of attack against normal rows.
    let srcbytes = e.tests.iter().find(|t| t.feature == "srcbytes").unwrap();
    let attack = column(&data, "srcbytes", |l| l != "normal");
    let normal = column(&data, "srcbytes", |l| l == "normal");
    let direct = stats::mann_whitney_u(&attack, &normal, Alternative::TwoSided).unwrap();
    let reported = srcbytes.mann_whitney.as_ref().unwrap();
    assert_eq!(reported.p_value.value, direct.p_value);
    assert!(reported.p_adjusted.value >= reported.p_value.value);
    assert_eq!(srcbytes.separation, direct.rank_biserial.abs());

    // Ranked best first, ranks 1..=41.
    assert!(
        e.tests
            .windows(2)
            .all(|w| w[0].separation >= w[1].separation)
    );
    assert_eq!(e.tests.last().unwrap().rank, 41);

    // Summaries: the class parts add up.
    let f = e.features.iter().find(|f| f.feature == "count").unwrap();
    assert_eq!(f.normal.rows + f.attack.rows, f.all.rows);
    assert!(f.normal.q1 <= f.normal.median && f.normal.median <= f.normal.q3);
}

#[test]
fn sample_hypotheses_get_honest_verdicts() {
    let e = explore(&sample()).unwrap();
    assert!(e.hypotheses.len() >= 5);
    for h in &e.hypotheses {
        let Some(test) = &h.test else {
            assert_eq!(h.verdict, Verdict::NotTestable, "{}", h.id);
            continue;
        };
        assert_eq!(test.alternative, h.expected, "{}", h.id);
        match h.verdict {
            Verdict::Supported => assert!(test.p_adjusted.value < e.alpha, "{}", h.id),
            Verdict::Contradicted | Verdict::NotSignificant => {
                assert!(test.p_adjusted.value >= e.alpha, "{}", h.id)
            }
            Verdict::NotTestable => panic!("{} has a test but is not testable", h.id),
        }
    }
    let s0 = e
        .hypotheses
        .iter()
        .find(|h| h.id == "s0_flag_attacks")
        .unwrap();
    assert_eq!(s0.verdict, Verdict::Supported);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["hypotheses"][0]["expected"], "greater");
}

/// A schema of neither built-in data set: a continuous and a count feature around a
/// categorical one, the label in `verdict` with `ok` for benign rows and no family table.
const TOY_SCHEMA: &str = r#"
name = "toy"
[label]
column = "verdict"
normal = "ok"

[[feature]]
name = "latency"
kind = "continuous"

[[feature]]
name = "proto"
kind = "categorical"

[[feature]]
name = "packets"
kind = "count"
"#;

fn toy() -> Dataset {
    let schema = Schema::from_toml(TOY_SCHEMA, "toy.toml").unwrap();
    let csv = "latency,proto,packets,verdict\n\
               -1.5,tcp,3,ok\n\
               0.5,udp,4,ok\n\
               2.0,tcp,10,scan\n\
               3.0,tcp,12,scan\n\
               4.5,udp,11,flood\n\
               1.0,tcp,5,ok\n\
               1.0,tcp,-2,ok\n\
               1.0,tcp,5,\n";
    read_from(
        csv.as_bytes(),
        "t.csv",
        ReadOptions {
            skip_invalid: true,
            ..ReadOptions::with_schema(schema.into())
        },
    )
    .unwrap()
}

#[test]
fn a_schema_of_its_own_is_explored_by_its_own_columns() {
    let e = explore(&toy()).unwrap();
    assert_eq!((e.schema.as_str(), e.rows), ("toy", 6));

    let features: Vec<(&str, &str)> = e
        .features
        .iter()
        .map(|f| (f.feature.as_str(), f.kind))
        .collect();
    assert_eq!(features, [("latency", "continuous"), ("packets", "count")]);
    let latency = &e.features[0];
    assert_eq!((latency.normal.min, latency.normal.median), (-1.5, 0.5));
    assert!(latency.normal.mean.abs() < 1e-12);
    assert_eq!((latency.attack.rows, latency.attack.max), (3, 4.5));
    assert_eq!(e.categories.len(), 1);
    let proto = &e.categories[0];
    assert_eq!((proto.feature.as_str(), proto.levels), ("proto", 2));
    assert_eq!(
        (
            proto.values[0].value.as_str(),
            proto.values[0].rows,
            proto.values[0].attack
        ),
        ("tcp", 4, 2)
    );
    assert_eq!(e.correlations.names, ["latency", "packets"]);

    let mut tested: Vec<&str> = e.tests.iter().map(|t| t.feature.as_str()).collect();
    tested.sort_unstable();
    assert_eq!(tested, ["latency", "packets", "proto"]);
    let packets = e.tests.iter().find(|t| t.feature == "packets").unwrap();
    assert_eq!(packets.direction, "higher in attacks");
    assert_eq!(packets.separation, 1.0);

    // Benign is `ok`; without a family table each attack name is its own family.
    let b = &e.balance;
    assert_eq!((b.normal_label.as_str(), b.normal, b.attack), ("ok", 3, 3));
    let families: Vec<(&str, usize)> = b
        .families
        .iter()
        .map(|f| (f.family.as_str(), f.rows))
        .collect();
    assert_eq!(families, [("scan", 2), ("flood", 1)]);

    // Invalid values are counted per column of this schema, its label column last.
    let q = &e.quality;
    let columns: Vec<&str> = q.invalid_values.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(columns, ["latency", "proto", "packets", "verdict"]);
    assert_eq!(q.invalid_values[2].negative, 1);
    assert_eq!(q.invalid_values[3].missing, 1);
    assert!(q.suspicious.is_empty(), "{:?}", q.suspicious);

    // The hypotheses name NSL-KDD's features: none is listed, and the note says why.
    assert!(e.hypotheses.is_empty());
    assert_eq!(
        e.hypotheses_note.as_deref(),
        Some("written for NSL-KDD; none apply to schema toy")
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["hypotheses"], serde_json::json!([]));
}

#[test]
fn unlabelled_data_is_refused_by_the_schemas_label_column() {
    let mut data = toy();
    data.attacks = None;
    let error = explore(&data).unwrap_err().to_string();
    assert_eq!(
        error,
        "t.csv has no `verdict` column; exploration compares normal and attack rows"
    );
}

#[test]
fn hypotheses_on_features_left_out_are_left_out_and_named() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv");
    let options = ReadOptions {
        drop: vec!["srcbytes".into(), "isguestlogin".into()],
        ..ReadOptions::default()
    };
    let e = explore(&read_path(&path, options).unwrap()).unwrap();
    assert_eq!(e.features.len(), 36);
    let ids: Vec<&str> = e.hypotheses.iter().map(|h| h.id).collect();
    assert_eq!(ids.len(), 9);
    assert!(!ids.contains(&"attacks_fewer_bytes") && !ids.contains(&"guest_logins_attacks"));
    assert_eq!(
        e.hypotheses_note.as_deref(),
        Some(
            "written for NSL-KDD; 9 of 11 apply to schema nsl-kdd without srcbytes, isguestlogin; \
             left out: attacks_fewer_bytes (lacks numeric feature `srcbytes`); \
             guest_logins_attacks (lacks 0/1 indicator feature `isguestlogin`)"
        )
    );
    // The full schema has every hypothesis and no note.
    let full = explore(&sample()).unwrap();
    assert_eq!((full.hypotheses.len(), full.hypotheses_note), (11, None));
}
