//! `fetch` against a loopback server: the file in place and checked, or a clear error and
//! nothing left in DEST.

mod server;

use nadir_fetch::{DataSource, FetchError, FetchOptions, Fetched, Progress, fetch};
use server::{Answer, Server};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// An empty directory of the system's temporary one, private to this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nadir-fetch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, hidden ones (the temporary `.part` files) included.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Bytes that are not all alike, so that a wrong offset changes the checksum.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A data set written as `file` with these contents, fetched from `url`.
fn source(url: &str, contents: &[u8]) -> DataSource {
    DataSource {
        name: "test".to_string(),
        description: "test data".to_string(),
        file: "test.csv".to_string(),
        url: url.to_string(),
        prepend_header: None,
        size: contents.len() as u64,
        sha256: sha256(contents),
    }
}

fn run(source: &DataSource, dest: &Path, options: &FetchOptions) -> Result<Fetched, FetchError> {
    fetch(source, dest, options, &mut |_| {})
}

#[test]
fn a_download_lands_checked_with_its_header_and_is_not_fetched_twice() {
    let data = body(300_000);
    let server = Server::start(vec![
        ("/data.txt", Answer::Redirect("/files/data.txt".to_string())),
        ("/files/data.txt", Answer::Body(data.clone())),
    ]);
    let header = nadir_data::Schema::nsl_kdd().headerless_columns().join(",") + "\n";
    let mut contents = header.into_bytes();
    contents.extend_from_slice(&data);
    let source = DataSource {
        prepend_header: Some("nsl-kdd".to_string()),
        // The mirror replaces this address; the file's name is kept.
        ..source("https://example.invalid/dist/data.txt", &contents)
    };
    let options = FetchOptions {
        mirror: Some(format!("{}/", server.base)),
        force: false,
    };
    let dest = scratch("success").join("data");
    let mut events = Vec::new();
    let fetched = fetch(&source, &dest, &options, &mut |event| {
        events.push(match event {
            Progress::Start { url, total } => (Some(url.to_string()), total),
            Progress::Written(n) => (None, n),
        })
    })
    .unwrap();
    let path = dest.join("test.csv");
    assert_eq!(
        fetched,
        Fetched {
            path: path.clone(),
            sha256: source.sha256.clone(),
            size: contents.len() as u64,
            downloaded: true,
        }
    );
    assert_eq!(std::fs::read(&path).unwrap(), contents);
    assert_eq!(listing(&dest), ["test.csv"]);
    assert_eq!(
        events[0],
        (
            Some(format!("{}/data.txt", server.base)),
            contents.len() as u64
        )
    );
    let written: Vec<u64> = events[1..].iter().map(|&(_, n)| n).collect();
    assert!(written.len() > 2, "{written:?}");
    assert!(written.windows(2).all(|w| w[0] <= w[1]), "{written:?}");
    assert_eq!(written.last(), Some(&(contents.len() as u64)));
    assert_eq!(server.requests(), 2, "the redirect and the file");

    let again = run(&source, &dest, &options).unwrap();
    assert!(!again.downloaded);
    assert_eq!(again.sha256, source.sha256);
    assert_eq!(
        server.requests(),
        2,
        "a file in place is not downloaded again"
    );

    let forced = FetchOptions {
        force: true,
        ..options
    };
    assert!(run(&source, &dest, &forced).unwrap().downloaded);
    assert_eq!(server.requests(), 4);
    assert_eq!(listing(&dest), ["test.csv"]);
}

#[test]
fn a_wrong_checksum_names_both_and_leaves_nothing() {
    let server = Server::start(vec![("/d.csv", Answer::Body(body(100_000)))]);
    let mut wrong = body(100_000);
    wrong[50_000] ^= 1;
    let source = source(&format!("{}/d.csv", server.base), &wrong);
    let dest = scratch("checksum");
    let error = run(&source, &dest, &FetchOptions::default()).unwrap_err();
    let FetchError::Checksum { expected, got, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(expected, &source.sha256);
    assert_eq!(got, &sha256(&body(100_000)));
    let message = error.to_string();
    assert!(
        message.contains(expected.as_str()) && message.contains(got.as_str()),
        "{message}"
    );
    assert!(listing(&dest).is_empty(), "{:?}", listing(&dest));
}

#[test]
fn a_cut_connection_says_how_much_came_and_leaves_nothing() {
    let data = body(200_000);
    let server = Server::start(vec![("/d.csv", Answer::Cut(data.clone()))]);
    let source = source(&format!("{}/d.csv", server.base), &data);
    let dest = scratch("cut");
    let error = run(&source, &dest, &FetchOptions::default()).unwrap_err();
    let FetchError::Interrupted {
        received, expected, ..
    } = error
    else {
        panic!("{error}")
    };
    assert_eq!((received, expected), (100_000, 200_000));
    assert!(listing(&dest).is_empty(), "{:?}", listing(&dest));
}

#[test]
fn more_bytes_than_the_catalogue_says_is_an_error_and_leaves_nothing() {
    let data = body(1_000);
    let server = Server::start(vec![("/d.csv", Answer::Body(data.clone()))]);
    let source = source(&format!("{}/d.csv", server.base), &data[..999]);
    let dest = scratch("long");
    let error = run(&source, &dest, &FetchOptions::default()).unwrap_err();
    assert!(
        matches!(error, FetchError::TooLong { expected: 999, .. }),
        "{error}"
    );
    assert!(listing(&dest).is_empty(), "{:?}", listing(&dest));
}

#[test]
fn an_http_error_names_the_address_and_status_and_leaves_nothing() {
    let server = Server::start(vec![]);
    let url = format!("{}/missing.csv", server.base);
    let dest = scratch("404");
    let error = run(&source(&url, b"x"), &dest, &FetchOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{url} answered HTTP 404"),
        "{error:?}"
    );
    assert!(listing(&dest).is_empty(), "{:?}", listing(&dest));
}

#[test]
fn a_dest_that_cannot_be_a_directory_is_named_before_any_download() {
    let server = Server::start(vec![("/d.csv", Answer::Body(body(10)))]);
    let dir = scratch("not-writable");
    // A path under a regular file: no directory can be made there, whoever runs the test.
    std::fs::write(dir.join("file"), b"").unwrap();
    let dest = dir.join("file/data");
    let source = source(&format!("{}/d.csv", server.base), &body(10));
    let error = run(&source, &dest, &FetchOptions::default()).unwrap_err();
    let FetchError::Write { path, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(path, &dest);
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot write {}: ", dest.display()))
    );
    assert_eq!(server.requests(), 0);
    assert_eq!(listing(&dir), ["file"]);
}

#[test]
fn a_different_file_in_place_is_kept_unless_forced() {
    let data = body(5_000);
    let server = Server::start(vec![("/d.csv", Answer::Body(data.clone()))]);
    let source = source(&format!("{}/d.csv", server.base), &data);
    let dest = scratch("differs");
    let path = dest.join("test.csv");
    std::fs::write(&path, b"my own data").unwrap();
    let error = run(&source, &dest, &FetchOptions::default()).unwrap_err();
    assert!(
        matches!(&error, FetchError::Differs { got, .. } if *got == sha256(b"my own data")),
        "{error}"
    );
    assert!(error.to_string().contains("--force"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"my own data");
    assert_eq!(server.requests(), 0);
    let forced = FetchOptions {
        force: true,
        ..FetchOptions::default()
    };
    assert!(run(&source, &dest, &forced).unwrap().downloaded);
    assert_eq!(std::fs::read(&path).unwrap(), data);
}
