//! A finished connection: what the NSL-KDD basic and content features are made of, and the
//! identity (time, addresses, ports) that says which connection a record describes. Both the
//! capture reader and the Zeek log reader produce these; the window features and the record
//! are computed from them.

use std::net::IpAddr;

/// The transport protocol of a connection (NSL-KDD's `protocol_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
    Icmp,
}

impl Transport {
    /// The name NSL-KDD's `protocol_type` column uses.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
        }
    }
}

/// A connection's end state with Zeek's `conn_state` meaning, which is NSL-KDD's `flag`
/// (NSL-KDD writes the same names; Zeek's RSTRH and SHR have no NSL-KDD name, see
/// [`ConnState::nsl_kdd_flag`]). UDP and ICMP connections are SF when both sides spoke,
/// S0 when only the originator did, as in NSL-KDD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Established, originator closed, no reply from the responder.
    S2,
    /// Established, responder closed, no reply from the originator.
    S3,
    /// Established, originator aborted (sent a RST).
    RSTO,
    /// Established, responder aborted.
    RSTR,
    /// Originator sent a SYN followed by a RST; no SYN-ACK from the responder.
    RSTOS0,
    /// Responder sent a SYN-ACK followed by a RST; no SYN from the originator.
    RSTRH,
    /// Originator sent a SYN followed by a FIN; no SYN-ACK from the responder.
    SH,
    /// Responder sent a SYN-ACK followed by a FIN; no SYN from the originator.
    SHR,
    /// No SYN seen, just midstream traffic.
    OTH,
}

impl ConnState {
    /// Every state, in Zeek's documentation order.
    pub const ALL: [ConnState; 13] = [
        ConnState::S0,
        ConnState::S1,
        ConnState::SF,
        ConnState::REJ,
        ConnState::S2,
        ConnState::S3,
        ConnState::RSTO,
        ConnState::RSTR,
        ConnState::RSTOS0,
        ConnState::RSTRH,
        ConnState::SH,
        ConnState::SHR,
        ConnState::OTH,
    ];

    /// Zeek's name of the state.
    pub fn zeek_name(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }

    /// Zeek's state of a `conn_state` name.
    pub fn from_zeek_name(name: &str) -> Option<ConnState> {
        Some(match name {
            "S0" => ConnState::S0,
            "S1" => ConnState::S1,
            "SF" => ConnState::SF,
            "REJ" => ConnState::REJ,
            "S2" => ConnState::S2,
            "S3" => ConnState::S3,
            "RSTO" => ConnState::RSTO,
            "RSTR" => ConnState::RSTR,
            "RSTOS0" => ConnState::RSTOS0,
            "RSTRH" => ConnState::RSTRH,
            "SH" => ConnState::SH,
            "SHR" => ConnState::SHR,
            "OTH" => ConnState::OTH,
            _ => return None,
        })
    }

    /// NSL-KDD's `flag` value. NSL-KDD has no RSTRH or SHR: both are a responder answering a
    /// SYN nobody was seen sending, then leaving, which NSL-KDD's `OTH` ("no SYN seen") covers.
    pub fn nsl_kdd_flag(self) -> &'static str {
        match self {
            ConnState::RSTRH | ConnState::SHR => "OTH",
            other => other.zeek_name(),
        }
    }
}

/// NSL-KDD's content features 10–22, read from a connection's payload where its protocol
/// allows (the `content` module says which are computed for which service); zero otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentFeatures {
    pub hot: u32,
    pub num_failed_logins: u32,
    pub logged_in: bool,
    pub num_compromised: u32,
    pub root_shell: bool,
    pub su_attempted: bool,
    pub num_root: u32,
    pub num_file_creations: u32,
    pub num_shells: u32,
    pub num_access_files: u32,
    pub num_outbound_cmds: u32,
    pub is_host_login: bool,
    pub is_guest_login: bool,
}

/// One finished connection. The originator is the side that opened it (the sender of the
/// SYN, or of the first packet when no SYN was seen; for ICMP, the sender of the request).
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Time of the connection's first packet, seconds since the Unix epoch.
    pub start: f64,
    /// Seconds from the first packet to the last.
    pub duration: f64,
    pub transport: Transport,
    pub orig_addr: IpAddr,
    pub resp_addr: IpAddr,
    /// Transport ports; for ICMP, as Zeek writes them, the type of the originator's first
    /// message and its code.
    pub orig_port: u16,
    pub resp_port: u16,
    /// The 802.1Q VLAN ids the packets carried, outermost first (none when untagged): two
    /// connections with the same addresses and ports on different VLANs are different.
    pub vlan: Vec<u16>,
    pub state: ConnState,
    /// Transport payload bytes each way (NSL-KDD's `src_bytes`, `dst_bytes`).
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    /// Packets each way.
    pub orig_packets: u64,
    pub resp_packets: u64,
    /// Source and destination address and port equal (NSL-KDD's `land`).
    pub land: bool,
    /// Wrong IP fragments (overlapping, oversized or malformed) of the connection's packets.
    pub wrong_fragment: u32,
    /// Packets with the TCP URG flag.
    pub urgent: u32,
    pub content: ContentFeatures,
}
