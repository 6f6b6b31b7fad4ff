//! `nadir serve` as a process: the `listening on` line, reload on SIGHUP, a clean exit on
//! SIGTERM. The routes themselves are tested in crates/nadir-server/tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{path, scratch, train_on_sample};

fn get(addr: &str, route: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "GET {route} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.split(' ').nth(1).unwrap().parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls until `ready`. The ceiling only turns a hang into a failure, far above what any
/// step takes on a busy machine.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_prints_its_address_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = scratch("serve");
    train_on_sample("dt", &dir, &[]);

    let mut child = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(&dir), "--addr", "127.0.0.1:0"])
        .env("NADIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert_ne!(addr, "127.0.0.1:0");

    let (status, body) = get(&addr, "/v1/models");
    assert_eq!(status, 200);
    assert!(body.contains("\"decision_tree\"") && !body.contains("tree_copy"));

    std::fs::copy(dir.join("decision_tree.nadir"), dir.join("tree_copy.nadir")).unwrap();
    signal(&child, "HUP");
    wait_until("the SIGHUP reload", || {
        get(&addr, "/v1/models").1.contains("\"tree_copy\"")
    });

    signal(&child, "TERM");
    let mut exit = None;
    wait_until("an exit after SIGTERM", || {
        exit = child.try_wait().unwrap();
        exit.is_some()
    });
    let status = exit.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn serve_refuses_a_directory_with_a_corrupt_model() {
    let dir = std::env::temp_dir().join(format!("nadir-cli-serve-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("random_forest.nadir"), b"NADIRMDL-truncated").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nadir"))
        .args(["serve", "--models", path(&dir), "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("random_forest.nadir") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
