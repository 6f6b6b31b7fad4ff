//! The TCP payload of each connection of a classic pcap file (Ethernet, 802.1Q, IPv4 and
//! IPv6, no IP options beyond the header length, no fragments), in capture order, with
//! retransmitted bytes dropped: just enough to feed shared captures to the content
//! inspector while the crate's own capture reader is written elsewhere.

use std::collections::HashMap;
use std::net::IpAddr;

/// One side of a connection: address and port.
type Endpoint = (IpAddr, u16);

/// A TCP connection's payload, each piece tagged with its direction.
pub struct TcpConnection {
    pub responder_port: u16,
    pub payload: Vec<(bool, Vec<u8>)>,
}

struct Builder {
    originator: Endpoint,
    responder_port: u16,
    /// The next sequence number expected from the originator and from the responder.
    next_seq: [Option<u32>; 2],
    payload: Vec<(bool, Vec<u8>)>,
}

struct Segment<'a> {
    source: Endpoint,
    destination: Endpoint,
    seq: u32,
    syn: bool,
    ack: bool,
    payload: &'a [u8],
}

/// The TCP connections of the pcap `bytes`, in the order their first packets came, or
/// `None` when `bytes` are not a classic pcap file of Ethernet frames.
pub fn tcp_connections(bytes: &[u8]) -> Option<Vec<TcpConnection>> {
    let magic = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    let little_endian = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => return None,
    };
    let read_u32 = |at: usize| {
        let word: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if little_endian {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        }
    };
    if bytes.len() < 24 || read_u32(20) != 1 {
        return None;
    }
    let mut order: Vec<(Endpoint, Endpoint)> = Vec::new();
    let mut connections: HashMap<(Endpoint, Endpoint), Builder> = HashMap::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let captured = read_u32(at + 8) as usize;
        let frame = &bytes[at + 16..(at + 16 + captured).min(bytes.len())];
        at += 16 + captured;
        let Some(segment) = tcp_segment(frame) else {
            continue;
        };
        let key = if segment.source <= segment.destination {
            (segment.source, segment.destination)
        } else {
            (segment.destination, segment.source)
        };
        let builder = connections.entry(key).or_insert_with(|| {
            order.push(key);
            // The originator sent the first SYN, or the first packet when no SYN was seen.
            let (originator, responder) = if segment.syn && segment.ack {
                (segment.destination, segment.source)
            } else {
                (segment.source, segment.destination)
            };
            Builder {
                originator,
                responder_port: responder.1,
                next_seq: [None, None],
                payload: Vec::new(),
            }
        });
        let from_originator = segment.source == builder.originator;
        let direction = usize::from(!from_originator);
        let start = segment.seq.wrapping_add(u32::from(segment.syn));
        let next = builder.next_seq[direction].get_or_insert(start);
        let already_seen = next.wrapping_sub(start) as i32;
        let new_bytes = match usize::try_from(already_seen) {
            Ok(seen) => segment.payload.get(seen..).unwrap_or(&[]),
            Err(_) => segment.payload,
        };
        let end = start.wrapping_add(segment.payload.len() as u32);
        if (end.wrapping_sub(*next) as i32) > 0 {
            *next = end;
        }
        if !new_bytes.is_empty() {
            builder.payload.push((from_originator, new_bytes.to_vec()));
        }
    }
    Some(
        order
            .into_iter()
            .filter_map(|key| connections.remove(&key))
            .map(|builder| TcpConnection {
                responder_port: builder.responder_port,
                payload: builder.payload,
            })
            .collect(),
    )
}

fn tcp_segment(frame: &[u8]) -> Option<Segment<'_>> {
    let mut ether_type = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let mut at = 14;
    while ether_type == 0x8100 || ether_type == 0x88a8 {
        ether_type = u16::from_be_bytes(frame.get(at + 2..at + 4)?.try_into().ok()?);
        at += 4;
    }
    let (source, destination, tcp) = match ether_type {
        0x0800 => {
            let ip = frame.get(at..)?;
            let header = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes(ip.get(2..4)?.try_into().ok()?));
            if *ip.get(9)? != 6 {
                return None;
            }
            let source: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let destination: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                IpAddr::from(source),
                IpAddr::from(destination),
                ip.get(header..total.min(ip.len()))?,
            )
        }
        0x86dd => {
            let ip = frame.get(at..)?;
            if *ip.get(6)? != 6 {
                return None;
            }
            let length = usize::from(u16::from_be_bytes(ip.get(4..6)?.try_into().ok()?));
            let source: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let destination: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                IpAddr::from(source),
                IpAddr::from(destination),
                ip.get(40..(40 + length).min(ip.len()))?,
            )
        }
        _ => return None,
    };
    let source_port = u16::from_be_bytes(tcp.get(0..2)?.try_into().ok()?);
    let destination_port = u16::from_be_bytes(tcp.get(2..4)?.try_into().ok()?);
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    let offset = usize::from(tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    Some(Segment {
        source: (source, source_port),
        destination: (destination, destination_port),
        seq,
        syn: flags & 0x02 != 0,
        ack: flags & 0x10 != 0,
        payload: tcp.get(offset..)?,
    })
}
