//! Traffic in: `nadir extract` on real captures and a Zeek conn.log, and the whole path from a
//! capture to alerts (`extract | predict --attacks-only`, `predict --data capture.pcap`), with
//! normal-only detectors trained on a baseline of normal captures.

use std::path::PathBuf;
use std::sync::OnceLock;

mod common;
use common::{nadir, nadir_with_stdin, path, scratch, text};

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/pcap")
        .join(name)
}

use nadir_traffic::record::IDENTITY_COLUMNS as IDENTITY;

/// An isolation forest trained normal-only on four captures of ordinary traffic (web, TLS,
/// DNS, an app's mixed traffic, a P2P client), extracted with `--label normal`.
fn baseline_model() -> &'static PathBuf {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch("traffic-baseline");
        let csv = dir.join("baseline.csv");
        let captures: Vec<PathBuf> = [
            "alexa-app-mixed.pcapng",
            "http-dns-wikipedia.pcap",
            "tls-https-session.pcap",
            "gnutella-p2p-mixed.pcap",
        ]
        .iter()
        .map(|c| capture(c))
        .collect();
        let mut args = vec!["extract", "--label", "normal", "--out", path(&csv)];
        args.extend(captures.iter().map(|c| path(c)));
        let out = nadir(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = nadir(&[
            "train",
            "--data",
            path(&csv),
            "--models",
            "iforest",
            "--normal-only",
            "--folds",
            "2",
            "--out",
            path(&dir),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir.join("isolation_forest.nadir")
    })
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn extract_writes_one_record_per_connection_with_its_identity() {
    let out = nadir(&["extract", path(&capture("ftp-bruteforce.pcap"))]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = csv_rows(&text(&out.stdout));
    assert_eq!(rows.len(), 31, "a header and 30 connections");
    assert_eq!(rows[0].len(), 41 + IDENTITY.len());
    assert_eq!(rows[0][41..], IDENTITY);
    assert_eq!(
        rows[0][..4],
        ["duration", "protocoltype", "service", "flag"]
    );
    for row in &rows[1..] {
        assert_eq!(row[1..4], ["tcp", "ftp", "SF"], "{row:?}");
        // Each password guess is a failed login (content feature 11).
        assert_eq!(row[10], "1", "{row:?}");
        assert_eq!(row[45], "21");
    }
    let err = text(&out.stderr);
    assert!(
        err.contains("ftp-bruteforce.pcap (pcap capture): 30 connections; 606 packets"),
        "{err}"
    );
    // Standard error is a pipe: the count comes as a line with the time, not a spinner.
    assert!(
        err.lines()
            .any(|line| line.starts_with('[')
                && line.ends_with("ftp-bruteforce.pcap: 1 connections")),
        "{err}"
    );
}

#[test]
fn extract_refuses_what_is_not_traffic_and_names_it() {
    let dir = scratch("traffic-not");
    let file = dir.join("notes.txt");
    std::fs::write(&file, "hello\n").unwrap();
    let out = nadir(&["extract", path(&file)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("notes.txt is neither a packet capture (pcap, pcapng) nor a Zeek conn.log"),
        "{err}"
    );
}

/// `extract | predict --data - --attacks-only` and `predict --data capture.pcap` give the same
/// alerts, each with the connection's identity; the scan's probes are flagged, the normal-only
/// baseline having never seen a scan.
#[test]
fn a_capture_becomes_alerts_through_a_pipe_or_directly() {
    let model = baseline_model();
    let scan = capture("nmap-syn-scan.pcap");
    let extracted = nadir(&["extract", path(&scan)]);
    assert!(extracted.status.success(), "{}", text(&extracted.stderr));
    let piped = nadir_with_stdin(
        &[
            "predict",
            "--model",
            path(model),
            "--data",
            "-",
            "--attacks-only",
        ],
        &extracted.stdout,
    );
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    let direct = nadir(&[
        "predict",
        "--model",
        path(model),
        "--data",
        path(&scan),
        "--attacks-only",
    ]);
    assert!(direct.status.success(), "{}", text(&direct.stderr));
    let (piped, direct) = (
        csv_rows(&text(&piped.stdout)),
        csv_rows(&text(&direct.stdout)),
    );
    assert_eq!(piped[0][2..12], IDENTITY);
    // The same rows but for `line`: the CSV's line (after its header), or the connection's
    // number in the capture.
    let without_line = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter().map(|r| [&r[..1], &r[2..]].concat()).collect()
    };
    assert_eq!(without_line(&piped), without_line(&direct));
    assert_eq!(
        direct[1][1], direct[1][0],
        "a capture's line is the connection's number"
    );
    // 1,994 probes of one host from one scanner: nearly all are alerts.
    let alerts = &piped[1..];
    assert!(alerts.len() >= 1_900, "{} of 1,994 flagged", alerts.len());
    for alert in alerts {
        assert_eq!(alert[3], "172.16.0.8", "{alert:?}");
        assert_eq!(alert[12], "attack");
    }
}

/// `predict --format ecs --attacks-only` on a capture: every line an ECS alert naming the
/// connection's two ends, its transport and its start (the capture's time, not the scoring
/// time); the same connections as the CSV alerts.
#[test]
fn a_capture_becomes_ecs_alerts_with_both_ends() {
    let model = baseline_model();
    let scan = capture("nmap-syn-scan.pcap");
    let predict = |format: &str| {
        let out = nadir(&[
            "predict",
            "--model",
            path(model),
            "--data",
            path(&scan),
            "--attacks-only",
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let csv = csv_rows(&predict("csv"));
    let ecs: Vec<serde_json::Value> = predict("ecs")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(ecs.len(), csv.len() - 1);
    assert!(ecs.len() >= 1_900, "{} of 1,994 flagged", ecs.len());
    for (doc, row) in ecs.iter().zip(&csv[1..]) {
        assert_eq!(doc["event"]["kind"], "alert");
        assert_eq!(doc["rule"]["name"], "isolation_forest");
        assert_eq!(doc["nadir"]["row"].to_string(), row[0]);
        assert_eq!(doc["nadir"]["score_kind"], "anomaly_score");
        assert_eq!(doc["source"]["ip"], row[3]);
        assert_eq!(doc["source"]["port"].to_string(), row[4]);
        assert_eq!(doc["destination"]["ip"], row[5]);
        assert_eq!(doc["destination"]["port"].to_string(), row[6]);
        assert_eq!(doc["source"]["ip"], "172.16.0.8");
        assert_eq!(doc["network"]["transport"], row[7]);
        let start: f64 = row[2].parse().unwrap();
        assert_eq!(
            doc["@timestamp"],
            nadir_ml::ecs::timestamp((start * 1000.0).round() as i64)
        );
        assert_eq!(doc["event"]["start"], doc["@timestamp"]);
        assert_ne!(doc["event"]["created"], doc["@timestamp"]);
    }
}

/// The same detector leaves most connections of an ordinary exchange it was not trained on
/// (NTP, a UDP service the baseline does not hold) alone.
#[test]
fn the_baseline_leaves_an_ordinary_exchange_mostly_alone() {
    let model = baseline_model();
    let out = nadir(&[
        "predict",
        "--model",
        path(model),
        "--data",
        path(&capture("ntp-client-server.pcap")),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = csv_rows(&text(&out.stdout));
    let flagged = rows[1..].iter().filter(|r| r[12] == "attack").count();
    assert_eq!(rows.len(), 17, "16 NTP exchanges");
    assert!(
        flagged * 4 < rows.len() - 1,
        "{flagged} of {} flagged",
        rows.len() - 1
    );
}

/// A Zeek conn.log (TSV) is read by `predict` like a capture: its connections scored, each
/// with its identity, and a bad line named by line, field and value.
#[test]
fn a_zeek_conn_log_is_scored_and_its_bad_lines_named() {
    let dir = scratch("traffic-zeek");
    let log = dir.join("conn.log");
    let header = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
        #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
        #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";
    let mut lines = String::from(header);
    for i in 0..20 {
        lines.push_str(&format!(
            "{}.5\tC{i}\t10.0.0.9\t{}\t10.0.0.1\t{}\ttcp\t-\t0.000{i}\t0\t0\tS0\t-\t-\t0\tS\t1\t44\t0\t0\t(empty)\n",
            1_600_000_000 + i,
            40_000 + i,
            1_000 + i
        ));
    }
    std::fs::write(&log, &lines).unwrap();
    let model = baseline_model();
    let out = nadir(&["predict", "--model", path(model), "--data", path(&log)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = csv_rows(&text(&out.stdout));
    assert_eq!(rows.len(), 21);
    assert_eq!(rows[1][3], "10.0.0.9");
    assert_eq!(rows[1][10], "S0");
    assert!(
        text(&out.stderr).contains("Zeek conn.log (TSV)"),
        "{}",
        text(&out.stderr)
    );

    let bad = lines.replacen("\t1001\ttcp", "\tx1001\ttcp", 1);
    std::fs::write(&log, bad).unwrap();
    let out = nadir(&["predict", "--model", path(model), "--data", path(&log)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 9") && err.contains("id.resp_p") && err.contains("x1001"),
        "{err}"
    );
}

/// Every shared capture goes the whole way: extracted, then scored directly, one verdict per
/// extracted connection, each beside the same identity.
#[test]
fn every_shared_capture_goes_through_the_whole_path() {
    let model = baseline_model();
    let dir = capture("");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    captures.sort();
    assert_eq!(
        captures.len(),
        40,
        "the shared captures in {}",
        dir.display()
    );
    for file in &captures {
        let extracted = nadir(&["extract", path(file)]);
        assert!(
            extracted.status.success(),
            "{}: {}",
            file.display(),
            text(&extracted.stderr)
        );
        let records = csv_rows(&text(&extracted.stdout));
        let scored = nadir(&["predict", "--model", path(model), "--data", path(file)]);
        assert!(
            scored.status.success(),
            "{}: {}",
            file.display(),
            text(&scored.stderr)
        );
        let verdicts = csv_rows(&text(&scored.stdout));
        assert_eq!(verdicts.len(), records.len(), "{}", file.display());
        assert!(records.len() > 1, "{}: no connection", file.display());
        for (record, verdict) in records[1..].iter().zip(&verdicts[1..]) {
            assert_eq!(record[41..], verdict[2..12], "{}", file.display());
            assert!(["normal", "attack"].contains(&verdict[12].as_str()));
        }
    }
}
