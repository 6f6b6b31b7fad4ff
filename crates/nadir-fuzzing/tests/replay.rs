//! Replays the inputs kept under `fuzz/` through the target bodies, on stable Rust and
//! without libFuzzer, so that CI checks on every run each input the fuzzer ever found:
//! `fuzz/corpus/<target>/` (the minimised corpus) and `fuzz/regressions/<target>/` (inputs
//! that once failed a target). `fuzz/crashes/<target>/` holds inputs that fail now, for bugs
//! not fixed yet: the ignored test below replays them, and each moves to `regressions/` with
//! its fix.

use nadir_fuzzing::TARGETS;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `fuzz/<folder>/<target>`, sorted; none when it does not exist.
fn inputs(folder: &str, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(folder).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `fuzz/<folder>/` through its target: each failure as `path: message`.
fn replay(folder: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for target in TARGETS {
        let inputs = inputs(folder, target.name);
        for path in &inputs {
            let data = std::fs::read(path).expect("a readable input");
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (target.run)(&data))) {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                failures.push(format!("{}: {message}", path.display()));
            }
        }
        println!("{folder}/{}: {} inputs", target.name, inputs.len());
    }
    failures
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    for target in TARGETS {
        // An empty corpus would let this test pass without checking anything.
        assert!(
            !inputs("corpus", target.name).is_empty(),
            "fuzz/corpus/{} holds no inputs",
            target.name
        );
    }
    let failures = [replay("corpus"), replay("regressions")].concat();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `cargo test -p nadir-fuzzing -- --ignored`: passes once every known crash is fixed.
#[test]
#[ignore = "the inputs of bugs not fixed yet"]
fn known_crashes_are_fixed() {
    let failures = replay("crashes");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_target_has_a_fuzz_harness() {
    for target in TARGETS {
        let harness = fuzz_dir()
            .join("fuzz_targets")
            .join(format!("{}.rs", target.name));
        let text = std::fs::read_to_string(&harness)
            .unwrap_or_else(|e| panic!("{}: {e}", harness.display()));
        assert!(
            text.contains(&format!("nadir_fuzzing::{}(", target.name)),
            "{} does not call nadir_fuzzing::{}",
            harness.display(),
            target.name
        );
    }
}
