//! `nadir data fetch` and `nadir train` without a data file, against a loopback server: this
//! machine has no internet, so a catalogue of the test's own file (`NADIR_DATA_CATALOGUE`)
//! and the mirror (`--mirror`, `NADIR_DATA_MIRROR`) point them at it.

#[path = "../../nadir-fetch/tests/server/mod.rs"]
mod server;

mod common;

use common::{path, scratch, text};
use server::{Answer, Server};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `nadir args…` in `dir` with this catalogue file, without `NADIR_DATA`, a mirror or a proxy
/// from the environment.
fn nadir_in(dir: &Path, catalogue: &Path, args: &[&str], mirror: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nadir"));
    command
        .args(args)
        .current_dir(dir)
        .env("NADIR_DATA_CATALOGUE", catalogue)
        .env_remove("NADIR_DATA")
        .env_remove("NADIR_DATA_MIRROR");
    for proxy in [
        "ALL_PROXY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "http_proxy",
        "https_proxy",
    ] {
        command.env_remove(proxy);
    }
    if let Some(mirror) = mirror {
        command.env("NADIR_DATA_MIRROR", mirror);
    }
    command.output().expect("nadir runs")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The header the catalogue's `prepend_header = "nsl-kdd"` writes.
fn nsl_kdd_header() -> String {
    nadir_data::Schema::nsl_kdd().headerless_columns().join(",") + "\n"
}

/// Headerless NSL-KDD rows, half normal web traffic and half a SYN flood, varied row by row.
fn nsl_kdd_rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                format!(
                    "0,tcp,http,SF,{},{},0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,{c},{c},0.00,0.00,0.00,\
                     0.00,1.00,0.00,0.00,{},255,1.00,0.00,0.01,0.03,0.00,0.00,0.00,0.00,normal,21\n",
                    200 + i % 97,
                    1000 + i * 7 % 500,
                    9 + i % 200,
                    c = 1 + i % 9,
                )
            } else {
                format!(
                    "0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,{},{s},1.00,1.00,0.00,\
                     0.00,0.05,0.07,0.00,255,{s},0.04,0.06,0.00,0.00,1.00,1.00,0.00,0.00,neptune,21\n",
                    100 + i % 50,
                    s = 1 + i % 20,
                )
            }
        })
        .collect()
}

/// A catalogue in `dir` whose `nsl-kdd` is `body` with the header row, at a public-looking
/// address that only a mirror can serve.
fn catalogue(dir: &Path, body: &[u8]) -> PathBuf {
    let mut file = nsl_kdd_header().into_bytes();
    file.extend_from_slice(body);
    let path = dir.join("catalogue.toml");
    std::fs::write(
        &path,
        format!(
            "[[dataset]]\nname = \"nsl-kdd\"\ndescription = \"test rows\"\n\
             file = \"Network_anomaly_data.csv\"\n\
             url = \"https://example.invalid/NSL_KDD/KDDTrain%2B.txt\"\n\
             prepend_header = \"nsl-kdd\"\nsize = {}\nsha256 = \"{}\"\n",
            file.len(),
            sha256(&file)
        ),
    )
    .unwrap();
    path
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn data_fetch_writes_the_checked_file_shows_progress_and_does_not_fetch_twice() {
    let body = nsl_kdd_rows(2_000);
    let server = Server::start(vec![(
        "/KDDTrain%2B.txt",
        Answer::Body(body.clone().into_bytes()),
    )]);
    let dir = scratch("fetch");
    let catalogue = catalogue(&dir, body.as_bytes());
    let args = [
        "data",
        "fetch",
        "--dest",
        "downloads",
        "--mirror",
        &server.base,
    ];
    let out = nadir_in(&dir, &catalogue, &args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = dir.join("downloads/Network_anomaly_data.csv");
    let contents = std::fs::read(&written).unwrap();
    assert_eq!(contents, (nsl_kdd_header() + &body).into_bytes());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("downloads/Network_anomaly_data.csv")
            && stdout.contains(&format!("sha256 {} verified", sha256(&contents))),
        "{stdout}"
    );
    assert!(
        stderr.contains("fetching nsl-kdd (")
            && stderr.contains(&format!("from {}/KDDTrain%2B.txt", server.base)),
        "{stderr}"
    );
    assert!(
        stderr.contains("nsl-kdd: 50%") && stderr.contains("nsl-kdd: 100%"),
        "{stderr}"
    );
    assert_eq!(
        listing(&dir.join("downloads")),
        ["Network_anomaly_data.csv"]
    );

    let out = nadir_in(&dir, &catalogue, &args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("already in place"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.requests(), 1);
}

#[test]
fn data_fetch_errors_name_the_cause_and_leave_nothing() {
    let server = Server::start(vec![]);
    let dir = scratch("fetch-errors");
    let catalogue = catalogue(&dir, b"");
    let out = nadir_in(
        &dir,
        &catalogue,
        &["data", "fetch", "--mirror", &server.base],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: cannot fetch nsl-kdd: {}/KDDTrain%2B.txt answered HTTP 404",
            server.base
        )),
        "{stderr}"
    );
    assert!(listing(&dir.join("data")).is_empty());

    let out = nadir_in(
        &dir,
        &catalogue,
        &["data", "fetch", "--dataset", "kdd99"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no data set `kdd99`; the catalogue has: nsl-kdd"),
        "{}",
        text(&out.stderr)
    );
}

/// Two levels down, so that `../shared` is inside the scratch directory and absent.
fn fresh_checkout(name: &str) -> PathBuf {
    let dir = scratch(name).join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn train_without_a_data_file_fetches_the_default_data_set_then_trains() {
    let body = nsl_kdd_rows(400);
    let server = Server::start(vec![(
        "/KDDTrain%2B.txt",
        Answer::Body(body.clone().into_bytes()),
    )]);
    let dir = fresh_checkout("train-fetch");
    let catalogue = catalogue(&dir, body.as_bytes());
    let args = ["train", "--models", "lr", "--folds", "2", "--out", "models"];
    let out = nadir_in(&dir, &catalogue, &args, Some(&server.base));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no data file found")
            && stderr.contains("fetching the default data set, nsl-kdd, into data/")
            && stderr.contains("wrote data/Network_anomaly_data.csv"),
        "{stderr}"
    );
    assert!(
        stderr.contains("read 400 rows of data/Network_anomaly_data.csv"),
        "{stderr}"
    );
    assert!(dir.join("models/logistic_regression.nadir").is_file());
    assert_eq!(server.requests(), 1);
}

#[test]
fn train_without_a_data_file_says_what_was_missing_and_why_the_fetch_failed() {
    let server = Server::start(vec![]);
    let dir = fresh_checkout("train-fetch-fails");
    let catalogue = catalogue(&dir, b"");
    let out = nadir_in(
        &dir,
        &catalogue,
        &["train", "--models", "lr"],
        Some(&server.base),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    for expected in [
        "no data file found (data/Network_anomaly_data.csv, ../shared/data/Network_anomaly_data.csv)",
        "--data FILE",
        "NADIR_DATA",
        "HTTP 404",
    ] {
        assert!(error.contains(expected), "{expected}: {stderr}");
    }
    assert!(listing(&dir.join("data")).is_empty());
    assert!(!dir.join("models").exists(), "{}", path(&dir));
}

#[test]
fn data_fetch_failures_each_say_what_went_wrong_and_leave_no_file() {
    let body = nsl_kdd_rows(1_000).into_bytes();
    let mut other = body.clone();
    other[100] = b'9';
    let cut = Server::start(vec![("/KDDTrain%2B.txt", Answer::Cut(body.clone()))]);
    let changed = Server::start(vec![("/KDDTrain%2B.txt", Answer::Body(other))]);
    let dir = scratch("fetch-failures");
    let catalogue = catalogue(&dir, &body);
    std::fs::write(dir.join("a-file"), b"").unwrap();
    let cases = [
        (&cut, "data", "the download from"),
        (&changed, "data", "checksum mismatch for"),
        (&changed, "a-file/data", "cannot write a-file/data: "),
    ];
    for (server, dest, expected) in cases {
        let args = ["data", "fetch", "--dest", dest, "--mirror", &server.base];
        let out = nadir_in(&dir, &catalogue, &args, None);
        assert_eq!(out.status.code(), Some(1), "{expected}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("error: cannot fetch nsl-kdd: {expected}")),
            "{stderr}"
        );
    }
    assert_eq!(listing(&dir), ["a-file", "catalogue.toml", "data"]);
    assert!(listing(&dir.join("data")).is_empty());
}
