//! Frames to IP datagrams, and datagrams to transport segments.
//!
//! Written here rather than with etherparse (which the tests use to build packets): the
//! extractor reads a handful of fields at fixed offsets, needs the VLAN ids, SLL2 and the
//! BSD loopback header (etherparse 0.21 reads neither link type), takes payload lengths from
//! the IP header when the capture cut the frame short (etherparse's strict slicer refuses
//! such frames, its lax one would still have to be re-run on every reassembled fragment
//! payload), and counts every malformed header by its own kinds. These fixed-offset reads
//! are shorter than that adaptation and cost a few nanoseconds a packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::connection::Transport;
use crate::report::Problem;

/// pcap link types (LINKTYPE_* / DLT_* values) the extractor reads.
pub(crate) mod link {
    /// BSD loopback: a 4-byte address family in the writer's byte order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW on most systems.
    pub const RAW_12: u32 = 12;
    /// DLT_RAW on OpenBSD.
    pub const RAW_14: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LINUX_SLL: u32 = 113;
    /// OpenBSD loopback: the address family in network byte order.
    pub const LOOP: u32 = 108;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// IP protocol numbers.
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

/// Most VLAN tags a connection key keeps (802.1Q inside 802.1ad covers real networks;
/// tags beyond these still get parsed past, they just do not split connections further).
pub(crate) const MAX_VLAN_TAGS: usize = 3;

/// The VLAN ids of a frame, outermost first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct VlanTags {
    ids: [u16; MAX_VLAN_TAGS],
    len: u8,
}

impl VlanTags {
    fn push(&mut self, id: u16) {
        if usize::from(self.len) < MAX_VLAN_TAGS {
            self.ids[usize::from(self.len)] = id;
            self.len += 1;
        }
    }

    pub(crate) fn to_vec(self) -> Vec<u16> {
        self.ids[..usize::from(self.len)].to_vec()
    }
}

/// What a frame carried.
pub(crate) enum Frame<'a> {
    Ip(Datagram<'a>),
    /// ARP, STP, LLDP, …: not an error, just not IP.
    NotIp,
}

/// Where a fragment sits in its datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FragmentInfo {
    pub id: u32,
    /// Byte offset of this fragment's payload in the datagram's payload.
    pub offset: u32,
    pub more: bool,
}

/// An IP datagram (or fragment of one).
pub(crate) struct Datagram<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The protocol of the payload (after IPv6 extension headers).
    pub protocol: u8,
    pub vlan: VlanTags,
    pub fragment: Option<FragmentInfo>,
    /// The payload bytes captured (never beyond the length the IP header gives, so Ethernet
    /// padding is left out).
    pub payload: &'a [u8],
    /// The payload length the IP header gives; more than `payload.len()` when the capture
    /// cut the frame short.
    pub payload_len: usize,
}

/// Parses a frame of the given link type down to its IP datagram.
pub(crate) fn parse_frame(link_type: u32, data: &[u8]) -> Result<Frame<'_>, Problem> {
    let mut vlan = VlanTags::default();
    let (ethertype, rest) = match link_type {
        link::ETHERNET => {
            let (ethertype, rest) = ethernet(data, &mut vlan)?;
            (ethertype, rest)
        }
        link::LINUX_SLL => {
            let header = data.get(..16).ok_or(Problem::TruncatedFrame)?;
            (be16(header, 14), &data[16..])
        }
        link::LINUX_SLL2 => {
            let header = data.get(..20).ok_or(Problem::TruncatedFrame)?;
            (be16(header, 0), &data[20..])
        }
        link::RAW | link::RAW_12 | link::RAW_14 | link::IPV4 | link::IPV6 => {
            match data.first().map(|b| b >> 4) {
                Some(4) => (ETHERTYPE_IPV4, data),
                Some(6) => (ETHERTYPE_IPV6, data),
                Some(_) => return Err(Problem::BadIpHeader),
                None => return Err(Problem::TruncatedFrame),
            }
        }
        link::NULL | link::LOOP => {
            let header: [u8; 4] = data
                .get(..4)
                .and_then(|h| h.try_into().ok())
                .ok_or(Problem::TruncatedFrame)?;
            // The family is in the writer's byte order (NULL) or big-endian (LOOP); the
            // values are small, so whichever order gives one is the one.
            let family = u32::from_le_bytes(header).min(u32::from_be_bytes(header));
            let ethertype = match family {
                2 => ETHERTYPE_IPV4,
                24 | 28 | 30 => ETHERTYPE_IPV6,
                _ => return Ok(Frame::NotIp),
            };
            (ethertype, &data[4..])
        }
        _ => return Err(Problem::UnknownLinkType),
    };
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(rest, vlan).map(Frame::Ip),
        ETHERTYPE_IPV6 => ipv6(rest, vlan).map(Frame::Ip),
        _ => Ok(Frame::NotIp),
    }
}

/// The Ethernet header and its VLAN tags (802.1Q, 802.1ad and the older 0x9100 QinQ).
fn ethernet<'a>(data: &'a [u8], vlan: &mut VlanTags) -> Result<(u16, &'a [u8]), Problem> {
    if data.len() < 14 {
        return Err(Problem::TruncatedFrame);
    }
    let mut ethertype = be16(data, 12);
    let mut rest = &data[14..];
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        let tag = rest.get(..4).ok_or(Problem::TruncatedFrame)?;
        vlan.push(be16(tag, 0) & 0x0fff);
        ethertype = be16(tag, 2);
        rest = &rest[4..];
    }
    Ok((ethertype, rest))
}

fn ipv4(data: &[u8], vlan: VlanTags) -> Result<Datagram<'_>, Problem> {
    if data.len() < 20 {
        return Err(Problem::TruncatedFrame);
    }
    let header_len = usize::from(data[0] & 0x0f) * 4;
    let total_len = usize::from(be16(data, 2));
    if data[0] >> 4 != 4 || header_len < 20 || total_len < header_len {
        return Err(Problem::BadIpHeader);
    }
    if data.len() < header_len {
        return Err(Problem::TruncatedFrame);
    }
    let flags_offset = be16(data, 6);
    let more = flags_offset & 0x2000 != 0;
    let offset = u32::from(flags_offset & 0x1fff) * 8;
    let fragment = (more || offset != 0).then_some(FragmentInfo {
        id: u32::from(be16(data, 4)),
        offset,
        more,
    });
    let end = total_len.min(data.len());
    Ok(Datagram {
        src: IpAddr::V4(Ipv4Addr::new(data[12], data[13], data[14], data[15])),
        dst: IpAddr::V4(Ipv4Addr::new(data[16], data[17], data[18], data[19])),
        protocol: data[9],
        vlan,
        fragment,
        payload: &data[header_len..end],
        payload_len: total_len - header_len,
    })
}

/// IPv6 extension headers walked to the payload: hop-by-hop, routing, fragment, destination
/// options, authentication, mobility and the HIP/shim6 ones that share the generic layout.
fn ipv6(data: &[u8], vlan: VlanTags) -> Result<Datagram<'_>, Problem> {
    if data.len() < 40 {
        return Err(Problem::TruncatedFrame);
    }
    if data[0] >> 4 != 6 {
        return Err(Problem::BadIpHeader);
    }
    let declared = usize::from(be16(data, 4));
    // A payload length of 0 is a jumbogram (or a broken header): trust the frame.
    let declared = if declared == 0 {
        data.len() - 40
    } else {
        declared
    };
    let src: [u8; 16] = data[8..24].try_into().expect("16 bytes");
    let dst: [u8; 16] = data[24..40].try_into().expect("16 bytes");
    let end = (40 + declared).min(data.len());
    let mut next = data[6];
    let mut at = 40;
    let mut fragment = None;
    loop {
        match next {
            0 | 43 | 60 | 135 | 139 | 140 => {
                let ext = data.get(at..at + 2).ok_or(Problem::TruncatedFrame)?;
                next = ext[0];
                at += (usize::from(ext[1]) + 1) * 8;
            }
            44 => {
                let ext = data.get(at..at + 8).ok_or(Problem::TruncatedFrame)?;
                next = ext[0];
                let offset_flags = be16(ext, 2);
                fragment = Some(FragmentInfo {
                    id: u32::from_be_bytes([ext[4], ext[5], ext[6], ext[7]]),
                    offset: u32::from(offset_flags & 0xfff8),
                    more: offset_flags & 1 != 0,
                });
                at += 8;
            }
            51 => {
                let ext = data.get(at..at + 2).ok_or(Problem::TruncatedFrame)?;
                next = ext[0];
                at += (usize::from(ext[1]) + 2) * 4;
            }
            _ => break,
        }
        if at > 40 + declared {
            return Err(Problem::BadIpHeader);
        }
    }
    if at > end {
        return Err(Problem::TruncatedFrame);
    }
    // A fragment header saying "offset 0, no more" is an atomic fragment: a whole datagram.
    let fragment = fragment.filter(|f| f.more || f.offset != 0);
    Ok(Datagram {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: next,
        vlan,
        fragment,
        payload: &data[at..end],
        payload_len: 40 + declared - at,
    })
}

/// The transport-specific part of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    Tcp {
        flags: u8,
        seq: u32,
    },
    Udp,
    /// An ICMP message; `echo` holds the identifier of an echo request or reply.
    Icmp {
        kind: u8,
        code: u8,
        echo: Option<Echo>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Echo {
    pub id: u16,
    pub request: bool,
}

pub(crate) mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// A TCP segment, UDP datagram or ICMP message.
pub(crate) struct Segment<'a> {
    pub transport: Transport,
    pub src_port: u16,
    pub dst_port: u16,
    pub detail: Detail,
    /// The payload bytes captured.
    pub payload: &'a [u8],
    /// The payload length the headers give (more than captured when the frame was cut).
    pub payload_len: usize,
}

/// Reads the transport header of a whole (unfragmented or reassembled) datagram's payload;
/// `None` for transports other than TCP, UDP and ICMP.
pub(crate) fn parse_transport(
    protocol: u8,
    data: &[u8],
    payload_len: usize,
) -> Result<Option<Segment<'_>>, Problem> {
    let segment = match protocol {
        PROTO_TCP => {
            if data.len() < 20 {
                return Err(short(data, payload_len, 20));
            }
            let header_len = usize::from(data[12] >> 4) * 4;
            if header_len < 20 || header_len > payload_len {
                return Err(Problem::BadTransportHeader);
            }
            Segment {
                transport: Transport::Tcp,
                src_port: be16(data, 0),
                dst_port: be16(data, 2),
                detail: Detail::Tcp {
                    flags: data[13],
                    seq: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                },
                payload: data.get(header_len..).unwrap_or_default(),
                payload_len: payload_len - header_len,
            }
        }
        PROTO_UDP => {
            if data.len() < 8 {
                return Err(short(data, payload_len, 8));
            }
            let udp_len = usize::from(be16(data, 4));
            if udp_len < 8 || udp_len > payload_len {
                return Err(Problem::BadTransportHeader);
            }
            Segment {
                transport: Transport::Udp,
                src_port: be16(data, 0),
                dst_port: be16(data, 2),
                detail: Detail::Udp,
                payload: &data[8..udp_len.min(data.len())],
                payload_len: udp_len - 8,
            }
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            if data.len() < 8 {
                return Err(short(data, payload_len, 8));
            }
            let (kind, code) = (data[0], data[1]);
            let echo = match (protocol, kind) {
                (PROTO_ICMP, 8) | (PROTO_ICMPV6, 128) => Some(true),
                (PROTO_ICMP, 0) | (PROTO_ICMPV6, 129) => Some(false),
                _ => None,
            }
            .map(|request| Echo {
                id: be16(data, 4),
                request,
            });
            Segment {
                transport: Transport::Icmp,
                src_port: u16::from(kind),
                dst_port: u16::from(code),
                detail: Detail::Icmp { kind, code, echo },
                payload: &data[8..],
                payload_len: payload_len - 8,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(segment))
}

/// A header shorter than its minimum: cut by the capture, or declared too short.
fn short(data: &[u8], payload_len: usize, minimum: usize) -> Problem {
    if payload_len >= minimum && data.len() < payload_len {
        Problem::TruncatedFrame
    } else {
        Problem::BadTransportHeader
    }
}

fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0u8; 14];
        frame[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let total = 20 + 8 + payload.len();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, PROTO_UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        frame.extend(ip);
        frame.extend([0x04, 0x00, 0x00, 0x35]);
        frame.extend(((8 + payload.len()) as u16).to_be_bytes());
        frame.extend([0, 0]);
        frame.extend(payload);
        frame
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = ipv4_udp(b"ab");
        frame.extend([0u8; 16]);
        let Frame::Ip(datagram) = parse_frame(link::ETHERNET, &frame).unwrap() else {
            panic!("not IP")
        };
        let segment = parse_transport(datagram.protocol, datagram.payload, datagram.payload_len)
            .unwrap()
            .unwrap();
        assert_eq!(segment.payload, b"ab");
        assert_eq!((segment.src_port, segment.dst_port), (1024, 53));
    }

    #[test]
    fn vlan_tags_are_read_outermost_first() {
        let plain = ipv4_udp(b"x");
        let mut frame = plain[..12].to_vec();
        frame.extend([0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x20, 0x14]);
        frame.extend(&plain[12..]);
        let Frame::Ip(datagram) = parse_frame(link::ETHERNET, &frame).unwrap() else {
            panic!("not IP")
        };
        assert_eq!(datagram.vlan.to_vec(), vec![10, 20]);
    }

    #[test]
    fn snap_length_cut_keeps_the_declared_payload_length() {
        let frame = ipv4_udp(&[7u8; 100]);
        let Frame::Ip(datagram) = parse_frame(link::ETHERNET, &frame[..14 + 20 + 8 + 10]).unwrap()
        else {
            panic!("not IP")
        };
        let segment = parse_transport(datagram.protocol, datagram.payload, datagram.payload_len)
            .unwrap()
            .unwrap();
        assert_eq!(segment.payload.len(), 10);
        assert_eq!(segment.payload_len, 100);
    }

    #[test]
    fn bad_headers_are_named() {
        let mut frame = ipv4_udp(b"x");
        frame[14] = 0x43;
        assert!(matches!(
            parse_frame(link::ETHERNET, &frame),
            Err(Problem::BadIpHeader)
        ));
        assert!(matches!(
            parse_frame(link::ETHERNET, &frame[..20]),
            Err(Problem::TruncatedFrame)
        ));
        assert!(matches!(
            parse_frame(147, &frame),
            Err(Problem::UnknownLinkType)
        ));
    }
}
