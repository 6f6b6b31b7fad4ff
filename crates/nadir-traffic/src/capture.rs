//! Packet captures (pcap, pcapng) streamed into [`Connection`]s.
//!
//! The file formats are read with `pcap-parser` (rusticata, 0.17): one streaming reader
//! over any `Read` through a fixed circular buffer, which tells pcap from pcapng itself,
//! reads legacy pcap in both byte orders with microsecond, nanosecond and the "modified"
//! record formats, and pcapng with its interface blocks (each with its own link type,
//! timestamp resolution and offset, which this module keeps per section). `pcap-file`
//! would also do, but its current line is a release candidate (3.0.0-rc.3) with separate
//! pcap and pcapng readers to choose between; `etherparse` reads packets, not files (see
//! the `packet` module for why packets are read by hand).
//!
//! Memory is the reader's buffer (1 MiB, grown up to [`MAX_BLOCK`] for a block that needs
//! it), the active connections, the pending fragments and the finished connections not yet
//! released: never the capture's size.
//!
//! Bad input never panics and never stops the rest of the capture from being read: every
//! frame that cannot be read is counted by kind in the [`CaptureReport`]. Only a file that is
//! not a capture at all is an error ([`CaptureError`]); a file that ends inside a record, or
//! whose next block cannot be read, ends there with the connections read so far.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, PcapBlockOwned, PcapError, create_reader};

use crate::connection::Connection;
use crate::fragment::{DatagramKey, Reassembled, Reassembler};
use crate::packet::{self, Datagram, Frame};
use crate::report::{CaptureReport, Problem};
use crate::tracker::{Endpoints, Tracker};

/// The reader's buffer at first.
const BUFFER: usize = 1 << 20;
/// The largest block or record the reader's buffer grows to hold.
pub const MAX_BLOCK: usize = 16 << 20;
/// Bytes read to recognise the format (a legacy pcap file header's length).
const SNIFF: usize = 24;

/// A file that cannot be read as a capture at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read {name}: {source}")]
    Read { name: String, source: io::Error },
    #[error("{name} is empty, not a packet capture")]
    Empty { name: String },
    #[error("{name} is not a packet capture (pcap or pcapng): it starts with {start}")]
    NotACapture { name: String, start: String },
    #[error("{name} ends inside its capture file header ({len} bytes)")]
    TruncatedHeader { name: String, len: usize },
}

/// One interface of a pcapng section.
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    units_per_second: u64,
    offset_seconds: i64,
}

/// What the file's header says about its frames.
enum Format {
    Legacy { link_type: u32, nanoseconds: bool },
    Ng { interfaces: Vec<Interface> },
}

/// A capture being read: an iterator of its [`Connection`]s in order of start time, with
/// the [`CaptureReport`] of what was read so far.
pub struct Capture {
    name: String,
    reader: Box<dyn PcapReaderIterator + Send>,
    format: Format,
    buffer_size: usize,
    extractor: Extractor,
    ended: bool,
}

impl Capture {
    /// Opens a capture file.
    pub fn open(path: impl AsRef<Path>) -> Result<Capture, CaptureError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Capture::from_reader(path.display().to_string(), file)
    }

    /// Reads a capture from any byte stream (standard input, a pipe); `name` is what
    /// messages call it.
    pub fn from_reader<R: Read + Send + 'static>(
        name: impl Into<String>,
        mut input: R,
    ) -> Result<Capture, CaptureError> {
        let name = name.into();
        let mut start = Vec::with_capacity(SNIFF);
        (&mut input)
            .take(SNIFF as u64)
            .read_to_end(&mut start)
            .map_err(|source| CaptureError::Read {
                name: name.clone(),
                source,
            })?;
        let format = sniff(&name, &start)?;
        let len = start.len();
        let reader =
            create_reader(BUFFER, Filling(Cursor::new(start).chain(input))).map_err(|error| {
                match error {
                    PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
                        CaptureError::TruncatedHeader {
                            name: name.clone(),
                            len,
                        }
                    }
                    _ => CaptureError::NotACapture {
                        name: name.clone(),
                        start: format!("{format}, but its header cannot be read"),
                    },
                }
            })?;
        Ok(Capture {
            name,
            reader,
            format: Format::Ng {
                interfaces: Vec::new(),
            },
            buffer_size: BUFFER,
            extractor: Extractor::default(),
            ended: false,
        })
    }

    /// What this capture is called in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What has been read so far (all of it once the iterator has ended).
    pub fn report(&self) -> CaptureReport {
        self.extractor.report()
    }

    /// Reads the next block; false once the capture has ended.
    fn read_block(&mut self) -> bool {
        enum Step {
            Consume(usize),
            Refill,
            Grow,
            End(Option<Problem>),
        }
        let step = match self.reader.next() {
            Ok((offset, block)) => {
                handle_block(&mut self.format, &mut self.extractor, block);
                Step::Consume(offset)
            }
            Err(PcapError::Eof) => Step::End(None),
            Err(PcapError::Incomplete(_)) => Step::Refill,
            Err(PcapError::BufferTooSmall) => Step::Grow,
            Err(PcapError::UnexpectedEof) => Step::End(Some(Problem::TruncatedFile)),
            Err(PcapError::ReadError) => Step::End(Some(Problem::ReadError)),
            Err(_) => Step::End(Some(Problem::CorruptFile)),
        };
        match step {
            Step::Consume(offset) => self.reader.consume(offset),
            Step::Refill => {
                if self.reader.refill().is_err() {
                    return self.end(Some(Problem::ReadError));
                }
            }
            Step::Grow => {
                if self.buffer_size >= MAX_BLOCK {
                    return self.end(Some(Problem::CorruptFile));
                }
                self.buffer_size *= 2;
                self.reader.grow(self.buffer_size);
                if self.reader.refill().is_err() {
                    return self.end(Some(Problem::ReadError));
                }
            }
            Step::End(problem) => return self.end(problem),
        }
        true
    }

    fn end(&mut self, problem: Option<Problem>) -> bool {
        if let Some(problem) = problem {
            self.extractor.report.problems.add(problem, 1);
        }
        self.extractor.finish();
        self.ended = true;
        false
    }
}

impl Iterator for Capture {
    type Item = Connection;

    fn next(&mut self) -> Option<Connection> {
        loop {
            if let Some(connection) = self.extractor.pop_ready() {
                return Some(connection);
            }
            if self.ended || !self.read_block() {
                return self.extractor.pop_ready();
            }
        }
    }
}

/// A reader whose reads fill the buffer unless the input ends: `pcap-parser` takes a short
/// read at the start (of a pipe, or of the bytes read to recognise the format chained to
/// the rest) for the whole file header.
struct Filling<R>(R);

impl<R: Read> Read for Filling<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if filled == 0 => return Err(error),
                Err(_) => break,
            }
        }
        Ok(filled)
    }
}

/// Recognises a capture by its first bytes, or says what the bytes look like.
fn sniff(name: &str, start: &[u8]) -> Result<&'static str, CaptureError> {
    let magic: Option<[u8; 4]> = start.get(..4).and_then(|m| m.try_into().ok());
    match magic {
        _ if start.is_empty() => Err(CaptureError::Empty {
            name: name.to_string(),
        }),
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => Ok("pcapng"),
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34],
        ) => Ok("pcap"),
        _ => Err(CaptureError::NotACapture {
            name: name.to_string(),
            start: describe_start(start),
        }),
    }
}

/// The first bytes in hex and as text, with a guess at what the file is.
fn describe_start(start: &[u8]) -> String {
    let shown = &start[..start.len().min(16)];
    let mut text = String::new();
    for byte in shown {
        let _ = write!(text, "{byte:02x} ");
    }
    let printable: String = shown
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let _ = write!(text, "(\"{printable}\")");
    let guess = match shown {
        [0x1f, 0x8b, ..] => Some("gzip-compressed: decompress it first"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd-compressed: decompress it first"),
        [b'#', b's', b'e', b'p', ..] | [b'#', b'f', b'i', b'e', b'l', b'd', b's', ..] => {
            Some("a Zeek log")
        }
        _ if shown.iter().all(|b| b.is_ascii()) => Some("text"),
        _ => None,
    };
    if let Some(guess) = guess {
        let _ = write!(text, ", {guess}");
    }
    text
}

fn handle_block(format: &mut Format, extractor: &mut Extractor, block: PcapBlockOwned<'_>) {
    match block {
        PcapBlockOwned::LegacyHeader(header) => {
            *format = Format::Legacy {
                // The upper bits may carry the frame check sequence's length.
                link_type: header.network.0 as u32 & 0xffff,
                nanoseconds: header.is_nanosecond_precision(),
            };
        }
        PcapBlockOwned::Legacy(record) => {
            let Format::Legacy {
                link_type,
                nanoseconds,
            } = *format
            else {
                return;
            };
            let fraction = if nanoseconds {
                i64::from(record.ts_usec)
            } else {
                i64::from(record.ts_usec) * 1000
            };
            let time = i64::from(record.ts_sec) * 1_000_000_000 + fraction;
            extractor.frame(link_type, time, record.data);
        }
        PcapBlockOwned::NG(block) => {
            let Format::Ng { interfaces } = format else {
                return;
            };
            match block {
                Block::SectionHeader(_) => interfaces.clear(),
                Block::InterfaceDescription(idb) => interfaces.push(Interface {
                    link_type: idb.linktype.0 as u32,
                    units_per_second: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_seconds: idb.ts_offset(),
                }),
                Block::EnhancedPacket(epb) => {
                    let Some(interface) = interfaces.get(epb.if_id as usize) else {
                        extractor.unreadable(Problem::UnknownLinkType);
                        return;
                    };
                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let time = units_to_ns(units, interface.units_per_second)
                        .saturating_add(interface.offset_seconds.saturating_mul(1_000_000_000));
                    extractor.frame(interface.link_type, time, epb.packet_data());
                }
                Block::SimplePacket(spb) => {
                    // No timestamp: it happened "now", at the latest time seen.
                    let Some(interface) = interfaces.first() else {
                        extractor.unreadable(Problem::UnknownLinkType);
                        return;
                    };
                    let time = extractor.latest.unwrap_or(0);
                    extractor.frame(interface.link_type, time, spb.packet_data());
                }
                _ => {}
            }
        }
    }
}

/// Timestamp units to nanoseconds, without overflow for any resolution.
fn units_to_ns(units: u64, units_per_second: u64) -> i64 {
    match units_per_second {
        1_000_000 => (units as i64).saturating_mul(1000),
        1_000_000_000 => units as i64,
        0 => 0,
        per_second => {
            let ns = u128::from(units) * 1_000_000_000 / u128::from(per_second);
            i64::try_from(ns).unwrap_or(i64::MAX)
        }
    }
}

/// Frames to connections: parsing, reassembly, the connection table and the counts.
#[derive(Default)]
struct Extractor {
    reassembler: Reassembler,
    tracker: Tracker,
    report: CaptureReport,
    given_up: Vec<Reassembled>,
    /// The capture's clock: the latest packet time so far.
    latest: Option<i64>,
}

impl Extractor {
    fn frame(&mut self, link_type: u32, time: i64, data: &[u8]) {
        let index = self.report.packets;
        self.report.packets += 1;
        self.report.captured_bytes += data.len() as u64;
        // Capture time never goes back: a packet stamped before the latest one (a clock
        // stepped back, captures merged out of order) is taken at the latest time, so that
        // connections still come out in order of start.
        let time = self.latest.map_or(time, |latest| latest.max(time));
        self.latest = Some(time);
        self.tracker.advance(time);
        if self.reassembler.oldest().is_some() {
            self.reassembler.expire(Some(time), &mut self.given_up);
            self.deliver_given_up(index);
        }
        match packet::parse_frame(link_type, data) {
            Err(problem) => self.unreadable(problem),
            Ok(Frame::NotIp) => self.report.not_ip += 1,
            Ok(Frame::Ip(datagram)) => self.datagram(datagram, time, index),
        }
    }

    fn datagram(&mut self, datagram: Datagram<'_>, time: i64, index: u64) {
        let ends = Endpoints {
            src: datagram.src,
            dst: datagram.dst,
            vlan: datagram.vlan,
        };
        let Some(fragment) = datagram.fragment else {
            self.segment(
                &ends,
                datagram.protocol,
                datagram.payload,
                datagram.payload_len,
                0,
                time,
                index,
            );
            return;
        };
        self.report.fragments += 1;
        if datagram.payload.len() < datagram.payload_len {
            // A fragment cut by the snap length cannot be put back together.
            self.unreadable(Problem::TruncatedFrame);
            return;
        }
        let key = DatagramKey {
            src: datagram.src,
            dst: datagram.dst,
            protocol: datagram.protocol,
            id: fragment.id,
            vlan: datagram.vlan,
        };
        if let Some(done) =
            self.reassembler
                .add(key, fragment, datagram.payload, time, &mut self.given_up)
        {
            self.segment(
                &ends,
                key.protocol,
                &done.payload,
                done.payload.len(),
                done.wrong,
                time,
                index,
            );
        }
        self.deliver_given_up(index);
    }

    /// Datagrams whose fragments never all came: when the bytes they hold from the start
    /// carry a transport header, they still count as a packet of their connection, with
    /// their wrong fragments.
    fn deliver_given_up(&mut self, index: u64) {
        for done in std::mem::take(&mut self.given_up) {
            let ends = Endpoints {
                src: done.key.src,
                dst: done.key.dst,
                vlan: done.key.vlan,
            };
            if let Ok(Some(segment)) =
                packet::parse_transport(done.key.protocol, &done.payload, done.payload.len())
            {
                self.tracker
                    .packet(done.time, index, &ends, &segment, done.wrong);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        ends: &Endpoints,
        protocol: u8,
        payload: &[u8],
        payload_len: usize,
        wrong_fragment: u32,
        time: i64,
        index: u64,
    ) {
        match packet::parse_transport(protocol, payload, payload_len) {
            Err(problem) => self.unreadable(problem),
            Ok(None) => self.report.other_transport += 1,
            Ok(Some(segment)) => self
                .tracker
                .packet(time, index, ends, &segment, wrong_fragment),
        }
    }

    fn unreadable(&mut self, problem: Problem) {
        self.report.problems.add(problem, 1);
    }

    fn finish(&mut self) {
        self.reassembler.expire(None, &mut self.given_up);
        self.deliver_given_up(self.report.packets);
        self.tracker.end_all();
    }

    fn pop_ready(&mut self) -> Option<Connection> {
        let connection = self.tracker.pop_ready(self.reassembler.oldest())?;
        self.report.connections += 1;
        Some(connection)
    }

    fn report(&self) -> CaptureReport {
        let mut report = self.report.clone();
        report.reassembled = self.reassembler.reassembled;
        report.incomplete_datagrams = self.reassembler.incomplete;
        report.peak_active_connections = self.tracker.peak_active as u64;
        report.ended_early = self.tracker.ended_early;
        report
            .problems
            .add(Problem::WrongFragment, self.reassembler.wrong_total);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_capture_says_what_the_bytes_look_like() {
        let error = Capture::from_reader("x.gz", &[0x1f, 0x8b, 8, 0, 1, 2][..]).err();
        let message = error.expect("refused").to_string();
        assert!(message.contains("x.gz"), "{message}");
        assert!(message.contains("1f 8b 08 00"), "{message}");
        assert!(message.contains("gzip"), "{message}");
        let text = Capture::from_reader("notes.txt", &b"hello, world"[..]).err();
        assert!(
            text.expect("refused")
                .to_string()
                .contains("\"hello, world\"")
        );
        assert!(matches!(
            Capture::from_reader("empty", &[][..]),
            Err(CaptureError::Empty { .. })
        ));
        assert!(matches!(
            Capture::from_reader("cut", &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0][..]),
            Err(CaptureError::TruncatedHeader { .. })
        ));
    }

    #[test]
    fn timestamps_of_any_resolution() {
        assert_eq!(units_to_ns(1_500_000, 1_000_000), 1_500_000_000);
        assert_eq!(units_to_ns(7, 1_000_000_000), 7);
        assert_eq!(units_to_ns(3, 2), 1_500_000_000);
        assert_eq!(units_to_ns(u64::MAX, 1), i64::MAX);
    }
}
