//! Checks on the full data file, run by CI (`.ci/run`) in release: `cargo test -p
//! nadir-explore --release -- --ignored`.

use nadir_data::{ReadOptions, default_data_path, read_path};
use nadir_explore::{Magnitude, Verdict, explore};

#[test]
#[ignore = "reads the full 125,973-row file; CI runs it in release (.ci/run)"]
fn full_data_exploration_finds_the_known_facts() {
    let path = default_data_path()
        .or_else(|_| {
            let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/Network_anomaly_data.csv");
            if beside.is_file() {
                Ok(beside)
            } else {
                Err(())
            }
        })
        .expect("the full data file");
    let data = read_path(
        &path,
        ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let e = explore(&data).unwrap();
    assert_eq!(e.rows, 125_973);
    assert_eq!(e.schema, "nsl-kdd");
    assert_eq!(e.balance.normal, 67_343);
    assert_eq!(e.hypotheses_note, None);
    assert!(
        e.quality
            .constant_columns
            .contains(&"numoutboundcmds".to_string())
    );
    assert!(
        e.quality
            .suspicious
            .iter()
            .any(|s| s.column == "suattempted" && s.value == 2.0)
    );
    let families: Vec<_> = e
        .balance
        .families
        .iter()
        .map(|f| (f.family.as_str(), f.rows))
        .collect();
    println!("families: {families:?}");
    println!("duplicates: {:?}", e.quality.duplicates);
    println!("near constant: {:?}", e.quality.near_constant);
    for t in e.tests.iter().take(10) {
        println!(
            "{:>2} {:<24} {:.3} {}",
            t.rank, t.feature, t.separation, t.direction
        );
    }
    for h in &e.hypotheses {
        println!("{:?}: {} — {}", h.verdict, h.statement, h.conclusion);
    }
    // What the README says of the full file: one claim contradicted, two supported but
    // negligible, every other supported (effect sizes as measured on 2026-12-03).
    use Magnitude::{Large, Negligible, Small};
    use Verdict::{Contradicted, Supported};
    let expected = [
        ("s0_flag_attacks", Supported, Large),              // phi 0.650
        ("dos_serrorrate", Supported, Large),               // rank-biserial r 0.739
        ("r2l_failed_logins", Supported, Negligible),       // r 0.051
        ("attacks_fewer_bytes", Supported, Large),          // r -0.797
        ("guest_logins_attacks", Contradicted, Negligible), // phi -0.039
        ("logged_in_fewer_attacks", Supported, Large),      // phi -0.690
        ("icmp_attacks", Supported, Small),                 // phi 0.200
        ("dos_count", Supported, Large),                    // r 0.863
        ("probe_diffsrvrate", Supported, Small),            // r 0.301
        ("u2r_rootshell", Supported, Large),                // r 0.498
        ("attacks_shorter", Supported, Negligible),         // r -0.082
    ];
    let found: Vec<(&str, Verdict, Magnitude)> = e
        .hypotheses
        .iter()
        .map(|h| {
            let test = h.test.as_ref().expect("every hypothesis is testable here");
            (h.id, h.verdict, test.magnitude)
        })
        .collect();
    assert_eq!(found, expected);
}

#[test]
#[ignore = "reads the 82,332-row UNSW-NB15 file; CI runs it in release (.ci/run)"]
fn unsw_nb15_is_explored_by_its_own_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/UNSW_NB15_82332.csv");
    let data = read_path(&path, ReadOptions::default()).unwrap();
    let e = explore(&data).unwrap();
    assert_eq!((e.schema.as_str(), e.rows), ("unsw-nb15", 82_332));

    // `Normal` is benign; the nine attack categories are the families.
    let b = &e.balance;
    assert_eq!(
        (b.normal_label.as_str(), b.normal, b.attack),
        ("Normal", 37_000, 45_332)
    );
    let families: Vec<(&str, usize)> = b
        .families
        .iter()
        .map(|f| (f.family.as_str(), f.rows))
        .collect();
    println!("families: {families:?}");
    assert_eq!(families.len(), 9);
    assert_eq!(families[0], ("Generic", 18_871));
    assert_eq!(families[8], ("Worms", 44));
    assert!(
        families
            .iter()
            .all(|(f, _)| *f != "Normal" && *f != "unknown")
    );
    assert_eq!(families.iter().map(|(_, n)| n).sum::<usize>(), b.attack);
    assert!(b.families.iter().all(|f| f.attacks == [f.family.clone()]));

    // Summaries and tests follow the schema: 39 numeric and 3 categorical features.
    assert_eq!(e.features.len(), 39);
    assert_eq!(e.features[0].feature, "dur");
    let categories: Vec<&str> = e.categories.iter().map(|c| c.feature.as_str()).collect();
    assert_eq!(categories, ["proto", "service", "state"]);
    assert_eq!(e.tests.len(), 42);
    assert_eq!(e.tests.last().unwrap().rank, 42);
    let columns: Vec<&str> = e
        .quality
        .invalid_values
        .iter()
        .map(|c| c.column.as_str())
        .collect();
    assert_eq!(columns.len(), 44);
    assert_eq!(columns[42..], ["attack_cat", "label"]);

    // Measured quantities of kind `count` (seconds, packets per second) are not flagged for
    // their fractions; the indicator `is_ftp_login` holding 2 is.
    println!(
        "suspicious: {:?}",
        e.quality
            .suspicious
            .iter()
            .map(|s| (&s.column, s.value, s.rows))
            .collect::<Vec<_>>()
    );
    assert!(
        !e.quality
            .suspicious
            .iter()
            .any(|s| s.column == "dur" || s.column == "rate")
    );
    assert!(
        e.quality
            .suspicious
            .iter()
            .any(|s| s.column == "is_ftp_login" && s.value == 2.0)
    );

    // No hypothesis is written for this schema.
    assert!(e.hypotheses.is_empty());
    assert_eq!(
        e.hypotheses_note.as_deref(),
        Some("written for NSL-KDD; none apply to schema unsw-nb15")
    );
}
