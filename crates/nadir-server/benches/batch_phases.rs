//! Where the time of a 1,000-record batch goes: parsing the body (JSON array, CSV with a
//! header), scoring it, and the whole request over loopback HTTP (one keep-alive connection,
//! as a client sending batches one after the other sees it). Plain `main`: the fastest and
//! the median of repeated runs are the statistics wanted on a shared machine.
//!
//!     cargo bench -p nadir-server --bench batch_phases -- [MODELS_DIR BATCH.json BATCH.csv]
//!         [--repeats N]
//!
//! Without files: the model directory and bodies `bench/compare_flask.sh` leaves in
//! `bench/out/flask` (the default model, random_forest, must be among the models).
//! `RAYON_NUM_THREADS=1` shows what a batch costs on one core, which is what it gets when
//! another process holds the other one: rayon's second thread, woken for the second half of
//! a parse, then starts too late to take it.

use nadir_ml::file::SavedModel;
use nadir_server::body::{self, Format};
use nadir_server::{Server, ServerConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Instant;

struct Options {
    files: Vec<PathBuf>,
    repeats: usize,
}

fn options() -> Options {
    let mut options = Options {
        files: Vec::new(),
        repeats: 41,
    };
    // `cargo bench` adds `--bench`; every other flag is ours.
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--repeats" => {
                options.repeats = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--repeats takes a positive number")
            }
            file => options.files.push(file.into()),
        }
    }
    if options.files.is_empty() {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/out/flask");
        options.files = vec![
            out.join("models"),
            out.join("batch.json"),
            out.join("batch.csv"),
        ];
    }
    assert_eq!(
        options.files.len(),
        3,
        "give MODELS_DIR BATCH.json BATCH.csv, or nothing"
    );
    options
}

/// Runs `work` `repeats` times; prints the fastest and the median wall time, and the same of
/// the CPU time of all the process's threads, which does not grow while other processes
/// hold the cores (the HTTP runs count the in-process server's threads and the client's).
fn time(label: &str, repeats: usize, mut work: impl FnMut()) {
    work();
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..repeats)
        .map(|_| {
            let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
            work();
            let elapsed = start.elapsed().as_secs_f64();
            (elapsed, process_cpu_seconds() - cpu_start)
        })
        .unzip();
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "{label:<24} wall fastest {:>6.3} ms, median {:>6.3} ms; CPU fastest {:>6.3} ms, median {:>6.3} ms",
        wall[0] * 1e3,
        wall[wall.len() / 2] * 1e3,
        cpu[0] * 1e3,
        cpu[cpu.len() / 2] * 1e3
    );
}

/// CPU seconds the process's threads have run so far (`CLOCK_PROCESS_CPUTIME_ID`: exact, where
/// `/proc`'s per-thread counters only move at scheduler ticks).
fn process_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to write.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    if status != 0 {
        return f64::NAN;
    }
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// One POST on a keep-alive connection; returns the answer's status line.
fn post(stream: &mut TcpStream, content_type: &str, body: &[u8]) -> String {
    let head = format!(
        "POST /v1/predict HTTP/1.1\r\nhost: bench\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reply = Vec::with_capacity(1 << 18);
    let mut buf = [0u8; 1 << 16];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed the connection");
        reply.extend_from_slice(&buf[..n]);
        let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&reply[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .expect("a content-length")
            .trim()
            .parse()
            .unwrap();
        if reply.len() >= end + 4 + length {
            return head.lines().next().unwrap_or_default().to_string();
        }
    }
}

fn main() {
    let options = options();
    let [models, json, csv] = &options.files[..] else {
        unreachable!()
    };
    let json = std::fs::read(json).unwrap();
    let csv = std::fs::read(csv).unwrap();
    let model = SavedModel::load(&models.join("random_forest.nadir")).unwrap();
    let fields = body::Fields::new(model.pipeline.schema().clone());
    let repeats = options.repeats;
    println!(
        "{} threads, {repeats} runs each, JSON body {} bytes, CSV body {} bytes",
        rayon::current_num_threads(),
        json.len(),
        csv.len()
    );

    time("parse JSON array", repeats, || {
        body::parse(Format::Json, &json, &fields).unwrap();
    });
    time("parse CSV", repeats, || {
        body::parse(Format::Csv, &csv, &fields).unwrap();
    });
    let records = body::parse(Format::Csv, &csv, &fields).unwrap().records;
    time("predict (random_forest)", repeats, || {
        model.predict(&records, None);
    });

    let server = Server::new(ServerConfig::new(models.clone())).unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            server
                .serve(listener, std::future::pending())
                .await
                .unwrap();
        });
    });
    let mut stream = TcpStream::connect(addr_rx.recv().unwrap()).unwrap();
    stream.set_nodelay(true).unwrap();
    for (label, content_type, body) in [
        ("HTTP JSON array", "application/json", &json),
        ("HTTP CSV", "text/csv", &csv),
    ] {
        time(label, repeats, || {
            let status = post(&mut stream, content_type, body);
            assert!(status.contains(" 200 "), "{status}");
        });
    }
}
