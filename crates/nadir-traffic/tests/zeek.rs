//! Zeek conn.log reading (TSV and JSON lines built here: there is no Zeek on the test
//! machines), and the whole path from a log to NSL-KDD records read back by nadir-data.

use nadir_data::{ReadOptions, Schema, read_path};
use nadir_traffic::record::{self, CsvWriter, IDENTITY_COLUMNS};
use nadir_traffic::service::Service;
use nadir_traffic::window::Windows;
use nadir_traffic::zeek::{self, Problem, ZeekError, ZeekFormat, ZeekOptions, ZeekReader};
use nadir_traffic::{ConnState, Connection, Transport};
use std::io::Cursor;

const FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents";
const TYPES: &str = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]";

/// A conn.log's header as Zeek writes it.
fn header() -> String {
    format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2020-06-05-14-39-59\n#fields\t{FIELDS}\n#types\t{TYPES}\n"
    )
}

/// One record: start, addresses and ports, proto, duration, bytes, state, packets.
#[allow(clippy::too_many_arguments)]
fn row(
    ts: &str,
    orig: (&str, &str),
    resp: (&str, &str),
    proto: &str,
    duration: &str,
    bytes: (&str, &str),
    state: &str,
    packets: (&str, &str),
) -> String {
    [
        ts, "CAbc123", orig.0, orig.1, resp.0, resp.1, proto, "-", duration, bytes.0, bytes.1,
        state, "T", "F", "0", "ShADadFf", packets.0, "100", packets.1, "200", "(empty)",
    ]
    .join("\t")
        + "\n"
}

/// Four connections, written in end order (as Zeek does): the long HTTP connection that
/// started first ends last.
fn tsv_log() -> String {
    header()
        + &row(
            "1591367999.305988",
            ("192.168.1.5", "58132"),
            ("192.168.1.1", "53"),
            "udp",
            "0.000229",
            ("35", "51"),
            "SF",
            ("1", "1"),
        )
        + &row(
            "1591367999.400000",
            ("192.168.1.5", "40001"),
            ("10.0.0.9", "23"),
            "tcp",
            "-",
            ("-", "-"),
            "S0",
            ("1", "0"),
        )
        + &row(
            "1591368000.000000",
            ("fe80::1", "128"),
            ("fe80::2", "129"),
            "icmp",
            "1.5",
            ("64", "64"),
            "OTH",
            ("2", "2"),
        )
        + &row(
            "1591367990.000000",
            ("192.168.1.5", "40000"),
            ("93.184.216.34", "80"),
            "tcp",
            "12.25",
            ("420", "17000"),
            "SF",
            ("9", "14"),
        )
        + "#close\t2020-06-05-14-40-10\n"
}

/// The same connections as JSON lines; unset fields are left out, as Zeek does.
fn json_log() -> String {
    [
        r#"{"ts":1591367999.305988,"uid":"CAbc123","id.orig_h":"192.168.1.5","id.orig_p":58132,"id.resp_h":"192.168.1.1","id.resp_p":53,"proto":"udp","duration":0.000229,"orig_bytes":35,"resp_bytes":51,"conn_state":"SF","orig_pkts":1,"resp_pkts":1}"#,
        r#"{"ts":1591367999.4,"uid":"CAbc123","id.orig_h":"192.168.1.5","id.orig_p":40001,"id.resp_h":"10.0.0.9","id.resp_p":23,"proto":"tcp","conn_state":"S0","orig_pkts":1,"resp_pkts":0}"#,
        r#"{"ts":1591368000.0,"uid":"CAbc123","id.orig_h":"fe80::1","id.orig_p":128,"id.resp_h":"fe80::2","id.resp_p":129,"proto":"icmp","duration":1.5,"orig_bytes":64,"resp_bytes":64,"conn_state":"OTH","orig_pkts":2,"resp_pkts":2,"tunnel_parents":[]}"#,
        r#"{"ts":1591367990.0,"uid":"CAbc123","id.orig_h":"192.168.1.5","id.orig_p":40000,"id.resp_h":"93.184.216.34","id.resp_p":80,"proto":"tcp","duration":12.25,"orig_bytes":420,"resp_bytes":17000,"conn_state":"SF","orig_pkts":9,"resp_pkts":14}"#,
    ]
    .join("\n")
        + "\n"
}

fn read_all(
    text: &str,
    options: ZeekOptions,
) -> Result<(Vec<Connection>, zeek::ZeekSummary), ZeekError> {
    let mut reader = ZeekReader::new("conn.log", Cursor::new(text.as_bytes().to_vec()), options);
    let mut conns = Vec::new();
    while let Some(conn) = reader.next_connection()? {
        conns.push(conn);
    }
    Ok((conns, reader.summary().clone()))
}

fn strict() -> ZeekOptions {
    ZeekOptions::default()
}

fn skipping() -> ZeekOptions {
    ZeekOptions {
        skip_invalid: true,
        ..ZeekOptions::default()
    }
}

fn bad_line(text: &str, options: ZeekOptions) -> zeek::BadLine {
    match read_all(text, options) {
        Err(ZeekError::BadLine { bad, .. }) => bad,
        other => panic!("expected a bad line, got {other:?}"),
    }
}

#[test]
fn tsv_fields_map_to_connections_in_start_order() {
    let (conns, summary) = read_all(&tsv_log(), strict()).unwrap();
    let starts: Vec<f64> = conns.iter().map(|c| c.start).collect();
    assert_eq!(
        starts,
        [1591367990.0, 1591367999.305988, 1591367999.4, 1591368000.0]
    );
    let http = &conns[0];
    assert_eq!(http.transport, Transport::Tcp);
    assert_eq!(
        http.orig_addr,
        "192.168.1.5".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!((http.orig_port, http.resp_port), (40000, 80));
    assert_eq!(
        (http.duration, http.orig_bytes, http.resp_bytes),
        (12.25, 420, 17000)
    );
    assert_eq!((http.orig_packets, http.resp_packets), (9, 14));
    assert_eq!(http.state, ConnState::SF);
    assert_eq!(Service::of(http).name(), "http");
    assert!(http.vlan.is_empty());
    // Unset duration and bytes (`-`) read as 0.
    let syn = &conns[2];
    assert_eq!((syn.duration, syn.orig_bytes, syn.resp_bytes), (0.0, 0, 0));
    assert_eq!(syn.state, ConnState::S0);
    assert_eq!(Service::of(syn).name(), "telnet");
    // ICMPv6 echo: type as originator port.
    let ping = &conns[3];
    assert_eq!(ping.transport, Transport::Icmp);
    assert_eq!(Service::of(ping).name(), "eco_i");
    assert_eq!(Service::of(&conns[1]).name(), "domain_u");
    for conn in &conns {
        assert_eq!((conn.wrong_fragment, conn.urgent, conn.land), (0, 0, false));
    }
    assert_eq!(summary.records, 4);
    assert_eq!(summary.lines, 13);
    assert_eq!(summary.late, 0);
    assert_eq!(summary.skipped_total(), 0);
}

#[test]
fn json_lines_read_as_the_tsv() {
    let (from_tsv, _) = read_all(&tsv_log(), strict()).unwrap();
    let (from_json, summary) = read_all(&json_log(), strict()).unwrap();
    assert_eq!(from_json, from_tsv);
    assert_eq!(summary.lines, 4);
}

#[test]
fn the_format_is_told_by_the_first_bytes() {
    let mut reader = ZeekReader::new("t", Cursor::new(tsv_log().into_bytes()), strict());
    reader.next_connection().unwrap();
    assert_eq!(reader.format(), Some(ZeekFormat::Tsv));
    assert_eq!(
        ZeekFormat::sniff(tsv_log().as_bytes()),
        Some(ZeekFormat::Tsv)
    );
    assert_eq!(
        ZeekFormat::sniff(json_log().as_bytes()),
        Some(ZeekFormat::Json)
    );
    let bom_and_blank = format!("\u{feff}\n  {}", json_log());
    assert_eq!(
        ZeekFormat::sniff(bom_and_blank.as_bytes()),
        Some(ZeekFormat::Json)
    );
    assert_eq!(read_all(&bom_and_blank, strict()).unwrap().0.len(), 4);
    // NSL-KDD records as JSON, or CSV, are not conn.logs.
    assert_eq!(
        ZeekFormat::sniff(br#"{"duration":0,"service":"http"}"#),
        None
    );
    assert_eq!(ZeekFormat::sniff(b"duration,protocoltype\n0,tcp\n"), None);
    assert!(matches!(
        read_all("duration,protocoltype\n0,tcp\n", strict()),
        Err(ZeekError::NotZeek { .. })
    ));
}

#[test]
fn a_bad_value_names_line_field_column_and_value() {
    let text = tsv_log().replace("\t58132\t", "\t70000\t");
    let bad = bad_line(&text, strict());
    assert_eq!(bad.line, 9);
    assert_eq!(bad.field.as_deref(), Some("id.orig_p"));
    assert_eq!(bad.column, Some(4));
    assert_eq!(bad.value.as_deref(), Some("70000"));
    let message = ZeekError::BadLine {
        source_name: "conn.log".into(),
        bad,
    }
    .to_string();
    assert_eq!(
        message,
        "conn.log, line 9, field `id.orig_p` (column 4): not a port (0 to 65535): `70000`"
    );
}

#[test]
fn bad_json_values_name_their_field() {
    let lines: Vec<String> = json_log().lines().map(str::to_string).collect();
    let with = |line: usize, text: String| {
        let mut lines = lines.clone();
        lines[line] = text;
        lines.join("\n")
    };
    let bad = bad_line(
        &with(1, lines[1].replace("\"10.0.0.9\"", "\"10.0.0.999\"")),
        strict(),
    );
    assert_eq!((bad.line, bad.field.as_deref()), (2, Some("id.resp_h")));
    assert_eq!(bad.value.as_deref(), Some("\"10.0.0.999\""));
    let bad = bad_line(
        &with(
            0,
            lines[0].replace("1591367999.305988", "\"2020-06-05 at 14:39\""),
        ),
        strict(),
    );
    assert_eq!((bad.line, bad.field.as_deref()), (1, Some("ts")));
    assert_eq!(
        bad.problem,
        Problem::Invalid {
            expected: "a time (seconds since 1970, or ISO 8601)"
        }
    );
    let bad = bad_line(
        &with(2, lines[2].replace(r#""ts":1591368000.0,"#, "")),
        strict(),
    );
    assert_eq!(
        (bad.line, bad.field.as_deref(), &bad.problem),
        (3, Some("ts"), &Problem::Missing)
    );
    let bad = bad_line(&with(3, "{\"ts\":".to_string()), strict());
    assert_eq!(bad.line, 4);
    assert!(matches!(bad.problem, Problem::Json(_)));
    let bad = bad_line(&with(3, lines[3].replace("\"SF\"", "\"XX\"")), strict());
    assert_eq!(
        (bad.field.as_deref(), bad.problem.clone()),
        (Some("conn_state"), Problem::UnknownState)
    );
    let bad = bad_line(
        &with(
            3,
            lines[3].replace("\"orig_bytes\":420", "\"orig_bytes\":-1"),
        ),
        strict(),
    );
    assert_eq!(
        (bad.field.as_deref(), bad.value.as_deref()),
        (Some("orig_bytes"), Some("-1"))
    );
}

#[test]
fn skipping_counts_bad_lines_by_kind_and_reads_the_rest() {
    let text = tsv_log()
        .replace("\t58132\t", "\tnot-a-port\t")
        .replace("\ticmp\t", "\tunknown_transport\t")
        + "1591368001.0\ttoo\tfew\tfields\n";
    let (conns, summary) = read_all(&text, skipping()).unwrap();
    assert_eq!(conns.len(), 2);
    assert_eq!(summary.records, 2);
    assert_eq!(summary.skipped.get("invalid"), Some(&1));
    assert_eq!(summary.skipped.get("unsupported_transport"), Some(&1));
    assert_eq!(summary.skipped.get("field_count"), Some(&1));
    assert_eq!(summary.skipped_total(), 3);
    let lines: Vec<u64> = summary.first_skipped.iter().map(|b| b.line).collect();
    assert_eq!(lines, [9, 11, 14]);
    assert_eq!(
        summary.first_skipped[2].problem,
        Problem::FieldCount {
            expected: 21,
            found: 4
        }
    );
    // Without skipping, the first bad line ends the reading.
    assert_eq!(bad_line(&text, strict()).line, 9);
}

#[test]
fn a_header_without_a_needed_field_fails_in_both_modes() {
    let text = tsv_log().replace("\torig_bytes\t", "\tbytes_out\t");
    for options in [strict(), skipping()] {
        match read_all(&text, options) {
            Err(ZeekError::Header { line, message, .. }) => {
                assert_eq!(line, 7);
                assert!(message.contains("orig_bytes"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    let headless = "#separator \\x09\n1591368000.0\tCAbc\n";
    assert!(matches!(
        read_all(headless, skipping()),
        Err(ZeekError::Header { line: 2, .. })
    ));
}

#[test]
fn joined_logs_and_vlan_fields_are_read() {
    // A second log with its own layout (fields in another order, VLAN ids) after the first.
    let second = "#separator \\x09\n#unset_field\t-\n#fields\tproto\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tduration\torig_bytes\tresp_bytes\tconn_state\torig_pkts\tresp_pkts\tvlan\tinner_vlan\n\
udp\t1591368005.0\t10.1.1.1\t5000\t10.1.1.2\t123\t0.1\t48\t48\tSF\t1\t1\t100\t200\n\
tcp\t1591368006.0\t10.1.1.1\t5001\t10.1.1.1\t5001\t-\t0\t0\tS0\t1\t0\t7\t-\n";
    let (conns, _) = read_all(&(tsv_log() + second), strict()).unwrap();
    assert_eq!(conns.len(), 6);
    assert_eq!(conns[4].vlan, [100, 200]);
    assert_eq!(Service::of(&conns[4]).name(), "ntp_u");
    assert_eq!(conns[5].vlan, [7]);
    assert!(conns[5].land, "same address and port both ends");
    let bad = bad_line(&second.replace("\t100\t200", "\t100\t5000"), strict());
    assert_eq!(
        (bad.field.as_deref(), bad.column),
        (Some("inner_vlan"), Some(14))
    );
}

/// A log in end order: connection `i` starts at `i` and ends at `i + 1`, except that every
/// tenth lasts 30 s and so is written 30 records later.
fn end_ordered(count: u32) -> String {
    let mut ends: Vec<(f64, u32)> = (0..count)
        .map(|i| {
            let duration = if i % 10 == 0 { 30.0 } else { 1.0 };
            (f64::from(i) + duration, i)
        })
        .collect();
    ends.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut text = header();
    for (end, i) in ends {
        let start = f64::from(i);
        text += &row(
            &format!("{}", 1_000_000.0 + start),
            ("10.0.0.1", &format!("{}", 2000 + i)),
            ("10.0.0.2", "80"),
            "tcp",
            &format!("{}", end - start),
            ("1", "1"),
            "SF",
            ("1", "1"),
        );
    }
    text
}

#[test]
fn the_reorder_buffer_restores_start_order_within_its_span() {
    let text = end_ordered(500);
    let (conns, summary) = read_all(&text, strict()).unwrap();
    let starts: Vec<f64> = conns.iter().map(|c| c.start).collect();
    let mut sorted = starts.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(starts, sorted);
    assert_eq!((summary.records, summary.late), (500, 0));
}

#[test]
fn beyond_its_span_the_reorder_buffer_gives_late_records_at_once() {
    let options = ZeekOptions {
        reorder_seconds: 10.0,
        ..strict()
    };
    let (conns, summary) = read_all(&end_ordered(500), options).unwrap();
    assert_eq!(conns.len(), 500);
    // Every 30-second connection but the last few is written more than 10 s of starts late.
    assert!(summary.late >= 45, "{summary:?}");
    let in_order = conns
        .windows(2)
        .filter(|w| w[0].start <= w[1].start)
        .count();
    assert!(in_order >= 499 - 2 * summary.late as usize);
    // The buffer holds about the records of 10 s of starts, not the log.
    assert!(summary.peak_buffered <= 12, "{summary:?}");
}

/// The whole path: a log read, its windows computed, the records written as CSV and read
/// back by nadir-data with the NSL-KDD schema.
#[test]
fn records_written_as_csv_read_back_with_the_nsl_kdd_schema() {
    let schema = Schema::nsl_kdd();
    let header: Vec<String> = schema
        .declared()
        .iter()
        .map(|f| f.name.clone())
        .chain(IDENTITY_COLUMNS.iter().map(|c| c.to_string()))
        .collect();
    assert_eq!(record::columns(), header);

    let (conns, _) = read_all(&(tsv_log()), strict()).unwrap();
    let mut windows = Windows::default();
    let mut writer = CsvWriter::new(Vec::new()).unwrap();
    let mut expected = Vec::new();
    for conn in &conns {
        let features = windows.push(conn);
        writer.write(conn, &features).unwrap();
        expected.push(record::to_record(&schema, conn, &features).unwrap());
    }
    let csv = writer.into_inner().unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    assert_eq!(text.lines().next().unwrap(), header.join(","));

    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("zeek_records.csv");
    std::fs::write(&path, &csv).unwrap();
    let data = read_path(&path, ReadOptions::with_schema(schema.clone())).unwrap();
    assert_eq!(data.records, expected);
    assert_eq!(data.ignored_columns, IDENTITY_COLUMNS);
    assert!(data.attacks.is_none());
    // Recognised from the header alone, too.
    let detected = read_path(&path, ReadOptions::default()).unwrap();
    assert_eq!(detected.schema.name(), "nsl-kdd");
    assert_eq!(detected.records, expected);

    // Spot checks of what the values mean.
    let first = &data.records[0];
    let numeric = |name: &str| first.numeric[schema.numeric_index(name).unwrap()];
    assert_eq!(numeric("duration"), 12.25);
    assert_eq!((numeric("srcbytes"), numeric("dstbytes")), (420.0, 17000.0));
    assert_eq!((numeric("count"), numeric("dsthostcount")), (1.0, 1.0));
    assert_eq!(first.categorical, ["tcp", "http", "SF"]);
    let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(
        &row[41..],
        [
            "1591367990",
            "192.168.1.5",
            "40000",
            "93.184.216.34",
            "80",
            "tcp",
            "9",
            "14",
            "SF",
            ""
        ]
    );
    let icmp: Vec<&str> = text.lines().nth(4).unwrap().split(',').collect();
    assert_eq!(&icmp[41..44], ["1591368000", "fe80::1", "128"]);
}

/// Reading speed of both formats (prints, asserts nothing about time):
/// `cargo test --release -p nadir-traffic --test zeek -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn read_throughput() {
    let records = 500_000u32;
    let mut tsv = header();
    let mut json = String::new();
    for i in 0..records {
        let ts = 1_591_367_000.0 + f64::from(i) * 0.001;
        let port = format!("{}", 1024 + i % 60_000);
        tsv += &row(
            &format!("{ts}"),
            ("192.168.1.5", &port),
            ("10.0.0.9", "80"),
            "tcp",
            "0.25",
            ("420", "17000"),
            "SF",
            ("9", "14"),
        );
        json += &format!(
            r#"{{"ts":{ts},"uid":"CAbc123","id.orig_h":"192.168.1.5","id.orig_p":{port},"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp","service":"http","duration":0.25,"orig_bytes":420,"resp_bytes":17000,"conn_state":"SF","local_orig":true,"local_resp":false,"missed_bytes":0,"history":"ShADadFf","orig_pkts":9,"orig_ip_bytes":100,"resp_pkts":14,"resp_ip_bytes":200}}"#
        );
        json.push('\n');
    }
    for (name, text) in [("TSV", &tsv), ("JSON", &json)] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let (conns, _) = read_all(text, strict()).unwrap();
            assert_eq!(conns.len(), records as usize);
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!(
            "{name}: {records} records, {:.1} MB in {best:.3} s (best of 3): {:.2} M records/s",
            text.len() as f64 / 1e6,
            f64::from(records) / best / 1e6
        );
    }
}

/// Every feature lands under its own name: records of varied connections (hosts, services,
/// states, content), written and read back, compared feature by feature with what they were
/// made of.
#[test]
fn every_feature_reads_back_under_its_name() {
    let schema = Schema::nsl_kdd();
    let states = [
        ConnState::S0,
        ConnState::SF,
        ConnState::REJ,
        ConnState::RSTRH,
        ConnState::S2,
    ];
    let ports = [80u16, 21, 23, 40000, 25];
    let conns: Vec<Connection> = (0..300u32)
        .map(|i| {
            let mut conn = read_all(&tsv_log(), strict()).unwrap().0.remove(0);
            conn.start += f64::from(i) * 0.3;
            conn.duration = f64::from(i) / 7.0;
            conn.resp_addr = format!("10.0.0.{}", i % 7).parse().unwrap();
            conn.orig_port = 1024 + (i % 11) as u16;
            conn.resp_port = ports[(i % 5) as usize];
            conn.state = states[(i % 3 + i % 2) as usize];
            conn.orig_bytes = u64::from(i) * 1000;
            conn.resp_bytes = u64::from(i % 13);
            conn.land = i % 17 == 0;
            conn.wrong_fragment = i % 3;
            conn.urgent = i % 4;
            conn.content.hot = i % 5;
            conn.content.num_failed_logins = i % 6;
            conn.content.logged_in = i % 2 == 0;
            conn.content.num_compromised = i % 7;
            conn.content.root_shell = i % 3 == 0;
            conn.content.su_attempted = i % 4 == 0;
            conn.content.num_root = i % 8;
            conn.content.num_file_creations = i % 9;
            conn.content.num_shells = i % 10;
            conn.content.num_access_files = i % 11;
            conn.content.num_outbound_cmds = i % 12;
            conn.content.is_host_login = i % 5 == 0;
            conn.content.is_guest_login = i % 6 == 0;
            conn
        })
        .collect();
    let mut windows = Windows::default();
    let mut writer = CsvWriter::new(Vec::new()).unwrap();
    let mut made = Vec::new();
    for conn in &conns {
        let features = windows.push(conn);
        writer.write(conn, &features).unwrap();
        made.push(features);
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("varied_records.csv");
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
    let data = read_path(&path, ReadOptions::with_schema(schema.clone())).unwrap();
    assert_eq!(data.records.len(), conns.len());
    let mut distinct_rates = std::collections::BTreeSet::new();
    for ((record, conn), w) in data.records.iter().zip(&conns).zip(&made) {
        let c = &conn.content;
        let flag = |b: bool| f64::from(u8::from(b));
        let want: [(&str, f64); 38] = [
            ("duration", conn.duration),
            ("srcbytes", conn.orig_bytes as f64),
            ("dstbytes", conn.resp_bytes as f64),
            ("land", flag(conn.land)),
            ("wrongfragment", f64::from(conn.wrong_fragment)),
            ("urgent", f64::from(conn.urgent)),
            ("hot", f64::from(c.hot)),
            ("numfailedlogins", f64::from(c.num_failed_logins)),
            ("loggedin", flag(c.logged_in)),
            ("numcompromised", f64::from(c.num_compromised)),
            ("rootshell", flag(c.root_shell)),
            ("suattempted", flag(c.su_attempted)),
            ("numroot", f64::from(c.num_root)),
            ("numfilecreations", f64::from(c.num_file_creations)),
            ("numshells", f64::from(c.num_shells)),
            ("numaccessfiles", f64::from(c.num_access_files)),
            ("numoutboundcmds", f64::from(c.num_outbound_cmds)),
            ("ishostlogin", flag(c.is_host_login)),
            ("isguestlogin", flag(c.is_guest_login)),
            ("count", f64::from(w.count)),
            ("srvcount", f64::from(w.srv_count)),
            ("serrorrate", w.serror_rate),
            ("srvserrorrate", w.srv_serror_rate),
            ("rerrorrate", w.rerror_rate),
            ("srvrerrorrate", w.srv_rerror_rate),
            ("samesrvrate", w.same_srv_rate),
            ("diffsrvrate", w.diff_srv_rate),
            ("srvdiffhostrate", w.srv_diff_host_rate),
            ("dsthostcount", f64::from(w.dst_host_count)),
            ("dsthostsrvcount", f64::from(w.dst_host_srv_count)),
            ("dsthostsamesrvrate", w.dst_host_same_srv_rate),
            ("dsthostdiffsrvrate", w.dst_host_diff_srv_rate),
            ("dsthostsamesrcportrate", w.dst_host_same_src_port_rate),
            ("dsthostsrvdiffhostrate", w.dst_host_srv_diff_host_rate),
            ("dsthostserrorrate", w.dst_host_serror_rate),
            ("dsthostsrvserrorrate", w.dst_host_srv_serror_rate),
            ("dsthostrerrorrate", w.dst_host_rerror_rate),
            ("dsthostsrvrerrorrate", w.dst_host_srv_rerror_rate),
        ];
        for (name, value) in want {
            let got = record.numeric[schema.numeric_index(name).unwrap()];
            assert_eq!(got.to_bits(), value.to_bits(), "{name}");
            if name.ends_with("rate") {
                distinct_rates.insert(value.to_bits());
            }
        }
        let service = Service::of(conn).name();
        let expected_categories = ["tcp", service, conn.state.nsl_kdd_flag()];
        assert_eq!(record.categorical, expected_categories);
    }
    // The records exercise many values, not a few round ones.
    assert!(distinct_rates.len() > 50, "{}", distinct_rates.len());
}

/// Zeek's `json_timestamps` options: ISO 8601 text and milliseconds read as the same times.
#[test]
fn json_timestamps_in_iso_8601_or_milliseconds() {
    let (epoch, _) = read_all(&json_log(), strict()).unwrap();
    let iso = json_log()
        .replace("1591367999.305988", "\"2020-06-05T14:39:59.305988Z\"")
        .replace("1591367999.4", "\"2020-06-05T16:39:59.4+02:00\"")
        .replace("1591368000.0", "\"2020-06-05T14:40:00Z\"")
        .replace("1591367990.0", "\"2020-06-05T10:39:50-04:00\"");
    let (from_iso, _) = read_all(&iso, strict()).unwrap();
    assert_eq!(from_iso, epoch);
    let millis = json_log()
        .replace("1591367999.305988", "1591367999305.988")
        .replace("1591367999.4", "1591367999400")
        .replace("1591368000.0", "1591368000000")
        .replace("1591367990.0", "1591367990000");
    let starts: Vec<f64> = read_all(&millis, strict())
        .unwrap()
        .0
        .iter()
        .map(|c| c.start)
        .collect();
    let want: Vec<f64> = epoch.iter().map(|c| c.start).collect();
    for (got, want) in starts.iter().zip(&want) {
        assert!((got - want).abs() < 1e-6, "{got} {want}");
    }
    for bad in [
        "2020-02-30T00:00:00Z",
        "2020-06-05T14:39:59",
        "2020-06-05T14:39:59.Z",
        "1969-12-31T23:59:59Z",
    ] {
        let text = json_log().replace("1591367999.305988", &format!("\"{bad}\""));
        let line = bad_line(&text, strict());
        assert_eq!((line.line, line.field.as_deref()), (1, Some("ts")), "{bad}");
    }
    // A leap day and the end of a century that is not a leap year.
    let leap = json_log().replace("1591367999.305988", "\"2000-02-29T00:00:00Z\"");
    assert_eq!(read_all(&leap, strict()).unwrap().0[0].start, 951782400.0);
    let century = json_log().replace("1591367999.305988", "\"2100-03-01T00:00:00Z\"");
    assert_eq!(
        read_all(&century, strict())
            .unwrap()
            .0
            .last()
            .unwrap()
            .start,
        4107542400.0
    );
}

#[test]
fn a_line_beyond_the_limit_ends_the_reading() {
    let long = format!("{}{}\n", json_log(), "x".repeat(zeek::MAX_LINE_BYTES + 10));
    for options in [strict(), skipping()] {
        match read_all(&long, options) {
            Err(ZeekError::LineTooLong { line, .. }) => assert_eq!(line, 5),
            other => panic!("{other:?}"),
        }
    }
    // A line of exactly the limit (its newline included) is read as any other.
    let at_limit = format!("{}{}\n", json_log(), " ".repeat(zeek::MAX_LINE_BYTES - 1));
    assert_eq!(read_all(&at_limit, strict()).unwrap().0.len(), 4);
}
