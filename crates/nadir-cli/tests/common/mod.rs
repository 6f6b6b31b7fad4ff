//! Helpers shared by the CLI's integration tests. Each test file is its own crate and uses
//! only some of them, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod redis;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The 2,000-row sample beside the checkout.
pub fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv")
}

/// An empty directory of the system's temporary one, private to this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nadir-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `nadir` binary, without `NADIR_DATA` so the default data path is the checkout's.
pub fn nadir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(args)
        .env_remove("NADIR_DATA")
        .output()
        .expect("nadir runs")
}

/// `nadir args…` with `input` on standard input.
pub fn nadir_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(args)
        .env_remove("NADIR_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nadir runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Trains `models` on the sample with 2 folds into `out`, `extra` arguments added, and checks
/// that it worked.
pub fn train_on_sample(models: &str, out: &Path, extra: &[&str]) {
    let data = sample();
    let mut args = vec![
        "train",
        "--data",
        path(&data),
        "--models",
        models,
        "--folds",
        "2",
        "--out",
        path(out),
    ];
    args.extend_from_slice(extra);
    let result = nadir(&args);
    assert!(result.status.success(), "{}", text(&result.stderr));
}
