//! The window features against a brute-force reference that recomputes each connection's
//! features from the whole list by the definitions (`nadir_traffic::window`'s module doc).

use nadir_traffic::service::Service;
use nadir_traffic::window::{WindowFeatures, WindowParams, Windows, is_syn_error};
use nadir_traffic::{ConnState, Connection, ContentFeatures, Transport};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

const STATES: [ConnState; 13] = ConnState::ALL;

/// Transport and responder port of a few services, two of which share a name (`private`).
const SERVICES: [(Transport, u16); 6] = [
    (Transport::Tcp, 80),
    (Transport::Tcp, 21),
    (Transport::Tcp, 40000),
    (Transport::Tcp, 50000),
    (Transport::Udp, 53),
    (Transport::Icmp, 0),
];

fn host(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))
}

fn connection(start: f64, dst: u8, service: usize, src_port: u16, state: ConnState) -> Connection {
    let (transport, resp_port) = SERVICES[service];
    let orig_port = if transport == Transport::Icmp {
        8
    } else {
        src_port
    };
    Connection {
        start,
        duration: 0.5,
        transport,
        orig_addr: host(100 + src_port as u8 % 3),
        resp_addr: host(dst),
        orig_port,
        resp_port,
        vlan: Vec::new(),
        state,
        orig_bytes: 1,
        resp_bytes: 1,
        orig_packets: 1,
        resp_packets: 1,
        land: false,
        wrong_fragment: 0,
        urgent: 0,
        content: ContentFeatures::default(),
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Features of `conns[i]`, read off the definitions over the whole list.
fn reference(conns: &[Connection], i: usize, params: WindowParams) -> WindowFeatures {
    let current = &conns[i];
    let service = Service::of(current);
    let recent: Vec<&Connection> = conns[..=i]
        .iter()
        .filter(|c| c.start >= current.start - params.seconds)
        .collect();
    let last: Vec<&Connection> = conns[(i + 1).saturating_sub(params.connections)..=i]
        .iter()
        .collect();
    let same_host = |set: &[&Connection]| -> Vec<Connection> {
        set.iter()
            .filter(|c| c.resp_addr == current.resp_addr)
            .map(|c| (*c).clone())
            .collect()
    };
    let same_service = |set: &[&Connection]| -> Vec<Connection> {
        set.iter()
            .filter(|c| Service::of(c) == service)
            .map(|c| (*c).clone())
            .collect()
    };
    let syn = |set: &[Connection]| set.iter().filter(|c| is_syn_error(c.state)).count();
    let rej = |set: &[Connection]| set.iter().filter(|c| c.state == ConnState::REJ).count();
    let of_service = |set: &[Connection]| set.iter().filter(|c| Service::of(c) == service).count();
    let other_service = |set: &[Connection]| set.len() - of_service(set);
    let other_host = |set: &[Connection]| {
        set.iter()
            .filter(|c| c.resp_addr != current.resp_addr)
            .count()
    };
    let (host_2s, service_2s) = (same_host(&recent), same_service(&recent));
    let (host_100, service_100) = (same_host(&last), same_service(&last));
    let same_port = service_100
        .iter()
        .filter(|c| c.orig_port == current.orig_port)
        .count();
    WindowFeatures {
        count: host_2s.len() as u32,
        srv_count: service_2s.len() as u32,
        serror_rate: share(syn(&host_2s), host_2s.len()),
        srv_serror_rate: share(syn(&service_2s), service_2s.len()),
        rerror_rate: share(rej(&host_2s), host_2s.len()),
        srv_rerror_rate: share(rej(&service_2s), service_2s.len()),
        same_srv_rate: share(of_service(&host_2s), host_2s.len()),
        diff_srv_rate: share(other_service(&host_2s), host_2s.len()),
        srv_diff_host_rate: share(other_host(&service_2s), service_2s.len()),
        dst_host_count: host_100.len() as u32,
        dst_host_srv_count: service_100.len() as u32,
        dst_host_same_srv_rate: share(of_service(&host_100), host_100.len()),
        dst_host_diff_srv_rate: share(other_service(&host_100), host_100.len()),
        dst_host_same_src_port_rate: share(same_port, service_100.len()),
        dst_host_srv_diff_host_rate: share(other_host(&service_100), service_100.len()),
        dst_host_serror_rate: share(syn(&host_100), host_100.len()),
        dst_host_srv_serror_rate: share(syn(&service_100), service_100.len()),
        dst_host_rerror_rate: share(rej(&host_100), host_100.len()),
        dst_host_srv_rerror_rate: share(rej(&service_100), service_100.len()),
    }
}

fn assert_same(got: &WindowFeatures, want: &WindowFeatures, at: usize) {
    let counts =
        |f: &WindowFeatures| [f.count, f.srv_count, f.dst_host_count, f.dst_host_srv_count];
    let rates = |f: &WindowFeatures| {
        [
            f.serror_rate,
            f.srv_serror_rate,
            f.rerror_rate,
            f.srv_rerror_rate,
            f.same_srv_rate,
            f.diff_srv_rate,
            f.srv_diff_host_rate,
            f.dst_host_same_srv_rate,
            f.dst_host_diff_srv_rate,
            f.dst_host_same_src_port_rate,
            f.dst_host_srv_diff_host_rate,
            f.dst_host_serror_rate,
            f.dst_host_srv_serror_rate,
            f.dst_host_rerror_rate,
            f.dst_host_srv_rerror_rate,
        ]
    };
    assert_eq!(counts(got), counts(want), "connection {at}");
    for (k, (g, w)) in rates(got).iter().zip(rates(want)).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12,
            "connection {at}, rate {k}: {g} != {w}"
        );
    }
}

/// Random connections in start order: gaps of 0 (same start) to 2 s, four hosts, six
/// services, three source ports, every state.
fn connections(max: usize) -> impl Strategy<Value = Vec<Connection>> {
    prop::collection::vec(
        (
            // Whole halves too, so that starts fall exactly on a window's edge.
            prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(2.0), 0.0..1.5f64],
            1..5u8,
            0..SERVICES.len(),
            prop::sample::select(vec![1024u16, 2000, 3000]),
            prop::sample::select(STATES.to_vec()),
        ),
        1..max,
    )
    .prop_map(|steps| {
        let mut start = 1_600_000_000.0;
        steps
            .into_iter()
            .map(|(gap, dst, service, port, state)| {
                start += gap;
                connection(start, dst, service, port, state)
            })
            .collect()
    })
}

fn check(conns: &[Connection], params: WindowParams) {
    let mut windows = Windows::new(params);
    for (i, conn) in conns.iter().enumerate() {
        let got = windows.push(conn);
        assert_same(&got, &reference(conns, i, params), i);
        let (recent, last) = windows.held();
        assert!(last <= params.connections);
        assert!(recent <= i + 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The documented windows: 2 seconds, 100 connections, on sequences longer than 100.
    #[test]
    fn documented_windows_match_the_definitions(conns in connections(260)) {
        check(&conns, WindowParams::default());
    }

    /// Short windows, so that connections leave them often.
    #[test]
    fn short_windows_match_the_definitions(
        conns in connections(120),
        seconds in 0.1..3.0f64,
        connections in 1..12usize,
    ) {
        check(&conns, WindowParams { seconds, connections });
    }
}

#[test]
fn syn_flood_reads_as_one_host_full_of_syn_errors() {
    let mut windows = Windows::default();
    let mut last = WindowFeatures::default();
    for i in 0..50 {
        last = windows.push(&connection(
            10.0 + f64::from(i) * 0.01,
            1,
            2,
            1024 + i as u16,
            ConnState::S0,
        ));
    }
    assert_eq!((last.count, last.srv_count), (50, 50));
    assert_eq!((last.serror_rate, last.rerror_rate), (1.0, 0.0));
    assert_eq!((last.same_srv_rate, last.diff_srv_rate), (1.0, 0.0));
    assert_eq!((last.dst_host_count, last.dst_host_serror_rate), (50, 1.0));
    // Every source port differs: only the connection itself shares its port.
    assert_eq!(last.dst_host_same_src_port_rate, 1.0 / 50.0);
    // A REJ to another host two seconds later no longer sees the flood.
    let after = windows.push(&connection(10.49 + 2.01, 2, 0, 5000, ConnState::REJ));
    assert_eq!((after.count, after.srv_count), (1, 1));
    assert_eq!((after.rerror_rate, after.serror_rate), (1.0, 0.0));
    assert_eq!((after.dst_host_count, after.dst_host_srv_count), (1, 1));
}

#[test]
fn the_time_window_holds_exactly_two_seconds() {
    let mut windows = Windows::default();
    windows.push(&connection(100.0, 1, 0, 1024, ConnState::SF));
    let at_edge = windows.push(&connection(102.0, 1, 0, 1024, ConnState::SF));
    assert_eq!(at_edge.count, 2, "a start exactly two seconds back is in");
    let beyond = windows.push(&connection(102.25, 1, 0, 1024, ConnState::SF));
    assert_eq!(beyond.count, 2, "the first start is now 2.25 s back");
}

#[test]
fn a_late_connection_counts_with_the_newest() {
    let mut windows = Windows::default();
    windows.push(&connection(100.0, 1, 0, 1024, ConnState::SF));
    windows.push(&connection(110.0, 1, 0, 1024, ConnState::SF));
    // Starts before the newest: counted as starting at 110 (the window never moves back),
    // so it sees the connection at 110 and not the one at 100.
    let late = windows.push(&connection(100.5, 1, 0, 1024, ConnState::SF));
    assert_eq!(late.count, 2);
    let next = windows.push(&connection(111.0, 1, 0, 1024, ConnState::SF));
    assert_eq!(next.count, 3);
}

#[test]
fn memory_follows_the_windows_not_the_stream() {
    let mut windows = Windows::default();
    for i in 0..20_000u32 {
        let conn = connection(
            f64::from(i) * 0.125,
            (i % 200) as u8,
            (i % 6) as usize,
            1024 + (i % 5000) as u16,
            ConnState::SF,
        );
        windows.push(&conn);
    }
    // 1/8 s apart: the 17 of the last two seconds (both ends in), and the last 100.
    assert_eq!(windows.held(), (17, 100));
}

/// Throughput of `Windows::push` (prints, asserts nothing about time):
/// `cargo test --release -p nadir-traffic --test windows -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn push_throughput() {
    // 2 million connections, 2,000 a second, to 500 hosts from 60,000 source ports: a busy
    // network's mix, with about 4,000 connections in the time window.
    let conns: Vec<Connection> = (0..2_000_000u32)
        .map(|i| {
            let mut conn = connection(
                f64::from(i) / 2000.0,
                0,
                (i % 6) as usize,
                1024 + (i.wrapping_mul(2_654_435_761) % 60_000) as u16,
                STATES[(i % 13) as usize],
            );
            conn.resp_addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i * 7919) % 500));
            conn
        })
        .collect();
    // The best of five runs: the machine is shared.
    let mut best = f64::INFINITY;
    let mut total = 0u64;
    for _ in 0..5 {
        let mut windows = Windows::default();
        let started = std::time::Instant::now();
        for conn in &conns {
            total += u64::from(windows.push(conn).count);
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "{} connections in {best:.3} s (best of 5): {:.2} M connections/s (checksum {total})",
        conns.len(),
        conns.len() as f64 / best / 1e6
    );
}
