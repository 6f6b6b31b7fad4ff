//! Connection records from a network's own traffic: packet captures (pcap, pcapng) and Zeek
//! `conn.log` files become [`Connection`]s, and connections become NSL-KDD records with the
//! data set's 41 features plus identity columns that are never features.
//!
//! ```text
//! capture ─► packets ─► connection table (TCP state, bytes, fragments, content) ─┐
//! Zeek conn.log ─────────────────────────────────────────────────────────────────┴► Connection
//!   (in start-time order) ─► windows (2-second and 100-connection features) ─► NSL-KDD record
//! ```

pub mod capture;
pub mod connection;
pub mod content;
mod fragment;
pub mod input;
mod packet;
pub mod record;
pub mod report;
pub mod service;
mod tracker;
pub mod window;
pub mod zeek;

/// The crate's hash map: keys come from the traffic (addresses, ports), so the hash is
/// foldhash, randomly seeded per map, rather than a fixed one an attacker could collide.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub use capture::{Capture, CaptureError};
pub use connection::{ConnState, Connection, ContentFeatures, Transport};
pub use input::{Extraction, TrafficError, TrafficFormat, TrafficOptions, TrafficSummary};
pub use report::{CaptureReport, Problem, ProblemCounts};
