//! Captures built in the tests: packets from etherparse's builder, written as pcap or pcapng
//! by the small writers here, read back through `Capture::from_reader`.

use std::io::Cursor;
use std::path::PathBuf;

use etherparse::PacketBuilder;
use nadir_traffic::{Capture, CaptureReport, Connection};

pub const ETHERNET: u32 = 1;
pub const RAW: u32 = 101;
pub const CLIENT: [u8; 4] = [10, 0, 0, 1];
pub const SERVER: [u8; 4] = [10, 0, 0, 2];
pub const CLIENT_PORT: u16 = 40_000;
pub const SERVER_PORT: u16 = 80;

/// A legacy pcap file being written.
pub struct Pcap {
    bytes: Vec<u8>,
    nanoseconds: bool,
    big_endian: bool,
}

impl Pcap {
    pub fn new(link_type: u32) -> Pcap {
        Pcap::with(link_type, false, false)
    }

    pub fn with(link_type: u32, nanoseconds: bool, big_endian: bool) -> Pcap {
        let mut pcap = Pcap {
            bytes: Vec::new(),
            nanoseconds,
            big_endian,
        };
        let magic: u32 = if nanoseconds {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        pcap.u32(magic);
        pcap.u16(2);
        pcap.u16(4);
        pcap.u32(0);
        pcap.u32(0);
        pcap.u32(65_535);
        pcap.u32(link_type);
        pcap
    }

    /// Adds a frame at `time_ns` nanoseconds since the epoch.
    pub fn packet(&mut self, time_ns: i64, frame: &[u8]) -> &mut Pcap {
        let seconds = (time_ns / 1_000_000_000) as u32;
        let fraction = (time_ns % 1_000_000_000) as u32;
        self.u32(seconds);
        self.u32(if self.nanoseconds {
            fraction
        } else {
            fraction / 1000
        });
        self.u32(frame.len() as u32);
        self.u32(frame.len() as u32);
        self.bytes.extend_from_slice(frame);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    fn u32(&mut self, value: u32) {
        let bytes = if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        self.bytes.extend(bytes);
    }

    fn u16(&mut self, value: u16) {
        let bytes = if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        self.bytes.extend(bytes);
    }
}

/// A pcapng file being written (little-endian, one section).
pub struct PcapNg {
    bytes: Vec<u8>,
}

impl PcapNg {
    pub fn new() -> PcapNg {
        let mut body = Vec::new();
        body.extend(0x1a2b_3c4d_u32.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend((-1i64).to_le_bytes());
        let mut ng = PcapNg { bytes: Vec::new() };
        ng.block(0x0a0d_0d0a, &body);
        ng
    }

    /// Declares the next interface: its link type and `if_tsresol` (units of 10^-n s).
    pub fn interface(&mut self, link_type: u16, tsresol: u8) -> &mut PcapNg {
        let mut body = Vec::new();
        body.extend(link_type.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend(65_535u32.to_le_bytes());
        body.extend(9u16.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend([tsresol, 0, 0, 0]);
        body.extend([0u8; 4]);
        self.block(1, &body);
        self
    }

    /// Adds a frame on interface `interface` at `units` of its resolution.
    pub fn packet(&mut self, interface: u32, units: u64, frame: &[u8]) -> &mut PcapNg {
        let mut body = Vec::new();
        body.extend(interface.to_le_bytes());
        body.extend(((units >> 32) as u32).to_le_bytes());
        body.extend((units as u32).to_le_bytes());
        body.extend((frame.len() as u32).to_le_bytes());
        body.extend((frame.len() as u32).to_le_bytes());
        body.extend(frame);
        body.resize(body.len().next_multiple_of(4), 0);
        self.block(6, &body);
        self
    }

    /// Adds a block of any type (an unknown one is skipped by readers).
    pub fn block(&mut self, kind: u32, body: &[u8]) -> &mut PcapNg {
        let len = (12 + body.len()) as u32;
        self.bytes.extend(kind.to_le_bytes());
        self.bytes.extend(len.to_le_bytes());
        self.bytes.extend(body);
        self.bytes.extend(len.to_le_bytes());
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// Every connection of a capture held in memory, and its report.
pub fn extract(bytes: Vec<u8>) -> (Vec<Connection>, CaptureReport) {
    let mut capture = Capture::from_reader("test capture", Cursor::new(bytes)).expect("a capture");
    let connections: Vec<Connection> = capture.by_ref().collect();
    (connections, capture.report())
}

/// A TCP segment between the test client and server over Ethernet; `flags` holds
/// S(YN), A(CK), F(IN), R(ST), P(SH), U(RG).
pub fn tcp(from_client: bool, flags: &str, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        (CLIENT, SERVER, CLIENT_PORT, SERVER_PORT)
    } else {
        (SERVER, CLIENT, SERVER_PORT, CLIENT_PORT)
    };
    tcp_between((src, sport), (dst, dport), flags, seq, payload)
}

pub fn tcp_between(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    flags: &str,
    seq: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut builder = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, 1024);
    for flag in flags.chars() {
        builder = match flag {
            'S' => builder.syn(),
            'A' => builder.ack(1),
            'F' => builder.fin(),
            'R' => builder.rst(),
            'P' => builder.psh(),
            'U' => builder.urg(1),
            other => panic!("no TCP flag {other}"),
        };
    }
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).expect("a frame");
    frame
}

pub fn udp(from_client: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        (CLIENT, SERVER, 5000, 53)
    } else {
        (SERVER, CLIENT, 53, 5000)
    };
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut frame, payload)
        .expect("a frame");
    frame
}

/// A capture of frames 1 ms apart, starting at second 1,000.
pub fn capture_of(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut pcap = Pcap::new(ETHERNET);
    for (i, frame) in frames.iter().enumerate() {
        pcap.packet(1_000_000_000_000 + i as i64 * 1_000_000, frame);
    }
    pcap.bytes()
}

/// The shared captures' directory beside the checkout, or `None` (with a note) when it is
/// absent outside CI; in CI its absence fails the test.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcap");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing in CI",
        dir.display()
    );
    eprintln!(
        "note: {} is absent; shared-capture test skipped",
        dir.display()
    );
    None
}
