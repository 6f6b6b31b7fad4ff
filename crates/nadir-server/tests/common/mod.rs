//! What the server's integration tests share: the sample, small models trained on it, and the
//! real server on its own runtime on an ephemeral loopback port. Each test file is its own
//! crate and uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

use nadir_data::{ReadOptions, read_path};
use nadir_ml::file::SavedModel;
use nadir_ml::protocol::{TrainOptions, train};
use nadir_ml::{ModelConfig, ModelKind};
use nadir_server::{AppState, Server, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a test waits for the server before it fails: a hang guard, never part of a
/// verdict.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// The 2,000-row NSL-KDD sample beside the checkout.
pub fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/Network_anomaly_sample.csv")
}

/// Models of `kinds` trained on the sample with 2 folds.
pub fn train_on_sample(kinds: &[ModelKind], config: ModelConfig) -> Vec<SavedModel> {
    let data = read_path(&sample_path(), ReadOptions::default()).unwrap();
    let options = TrainOptions {
        kinds: kinds.to_vec(),
        config,
        folds: 2,
        ..TrainOptions::default()
    };
    train(&data, None, &options, &|_| {}).unwrap().models
}

/// A fresh directory `nadir-TAG-PID-NAME` of the system's temporary one holding `models`,
/// each under its kind's file name.
pub fn model_dir(tag: &str, name: &str, models: &[SavedModel]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nadir-{tag}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for m in models {
        m.save(&dir.join(format!("{}.nadir", m.kind()))).unwrap();
    }
    dir
}

/// Polls `condition` until it holds. [`HANG_GUARD`] only turns a hang into a failure; no
/// verdict depends on how fast the machine is.
pub fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < HANG_GUARD, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A server running on its own runtime; stops when dropped, and removes its model directory.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(config: ServerConfig) -> Running {
        let server = Server::new(config).unwrap();
        let state = server.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                server
                    .serve(listener, async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Running {
            addr: addr_rx.recv().unwrap(),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Tells the server to stop gracefully, without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server gracefully and waits until it has.
    pub fn shutdown(&mut self) {
        self.begin_shutdown();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.begin_shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.state.config.models_dir);
    }
}
