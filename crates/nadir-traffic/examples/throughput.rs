//! Packets per second of capture → connections on one core:
//! `cargo run --release -p nadir-traffic --example throughput -- FILE [RUNS]`.
//! Prints the best of RUNS runs (default 5), each streaming the file from the page cache.

use std::time::Instant;

use nadir_traffic::Capture;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: throughput FILE [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let mut best = f64::INFINITY;
    let mut report = None;
    for _ in 0..runs {
        let started = Instant::now();
        let mut capture = Capture::open(&path)?;
        let connections = capture.by_ref().count();
        best = best.min(started.elapsed().as_secs_f64());
        report = Some((capture.report(), connections));
    }
    let (report, connections) = report.ok_or("RUNS must be at least 1")?;
    println!(
        "{path}: {} packets, {connections} connections, best of {runs}: {:.1} ms, {:.2} M packets/s, {:.0} k connections/s",
        report.packets,
        best * 1e3,
        report.packets as f64 / best / 1e6,
        connections as f64 / best / 1e3
    );
    Ok(())
}
