//! Checks on the full data file (`cargo test -p nadir-explore --release -- --ignored`).

use nadir_data::{ReadOptions, default_data_path, read_path};
use nadir_explore::{Verdict, explore};

#[test]
#[ignore = "reads the full 125,973-row file"]
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
    let data = read_path(&path, ReadOptions { skip_invalid: true }).unwrap();
    let e = explore(&data).unwrap();
    assert_eq!(e.rows, 125_973);
    assert_eq!(e.balance.normal, 67_343);
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
        .map(|f| (f.family, f.rows))
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
    let s0 = e
        .hypotheses
        .iter()
        .find(|h| h.id == "s0_flag_attacks")
        .unwrap();
    assert_eq!(s0.verdict, Verdict::Supported);
}
