//! NSL-KDD's `service` of a connection: its transport and responder port (for ICMP, its
//! message type) named as KDD'99 names them.
//!
//! The names are the 70 values of the `service` column of NSL-KDD (`KDDTrain+`), which keeps
//! KDD'99's names ([`Service::ALL`]). KDD'99 took them from Bro's port names; the rules here
//! rebuild them:
//!
//! - **TCP**: a responder port of the table below has its name; otherwise an originator port
//!   of 20 is `ftp_data` (active FTP: the server opens the data connection from port 20 to a
//!   port of the client's choosing); otherwise a responder port above 1024 (registered and
//!   ephemeral ports, which KDD'99 calls `private`) is `private`, and any other port `other`.
//! - **UDP**: 53 `domain_u`, 69 `tftp_u`, 123 `ntp_u` (the only UDP names the data set has:
//!   its UDP rows are those three, `private` and `other`); otherwise `private` above port 1024,
//!   `other` at or below.
//! - **ICMP** (Zeek writes the type of the first message as the originator port and, for
//!   one-way messages such as destination unreachable, the code as the responder port; ICMPv6
//!   types, told by the addresses, map to the same names): echo request `eco_i`, echo reply
//!   `ecr_i`, destination unreachable `urp_i` when the port was unreachable and `urh_i` for the
//!   other codes (host, network, protocol, prohibited), redirect `red_i`, time exceeded
//!   `tim_i` (NSL-KDD's `tim_i` rows are the 564- and 91-byte replies of the ping-of-death and
//!   normal traffic, time-exceeded errors, not timestamp replies). KDD'99's `oth_i` for the
//!   other ICMP types is not a value NSL-KDD's data holds, so a model trained on it would see
//!   an unseen category: they are `other`, the data set's name for traffic of no known service.
//!
//! The port table follows the IANA Service Name and Transport Protocol Port Number Registry
//! and the classic BSD `/etc/services` for the names KDD'99 kept from it (`mtp` 57, `rje` 77,
//! `link` 87, `netstat` 15); IRC also on 6667, X11 on 6000–6063 (one port per display).
//! `harvest` and `pm_dump` are NSL-KDD names with no documented port, so no connection is
//! given them.

use crate::connection::{Connection, Transport};

/// One of NSL-KDD's service names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service(u8);

/// The [`Service`] of a name of [`Service::ALL`], as a constant.
macro_rules! named {
    ($name:literal) => {
        const { Service::of_listed_name($name) }
    };
}

/// The highest port that is never `private`: KDD'99's well-known ports.
const LAST_WELL_KNOWN_PORT: u16 = 1024;

/// Active FTP's data port on the server side.
const FTP_DATA_PORT: u16 = 20;

impl Service {
    /// Every name NSL-KDD's `service` column holds, sorted by byte (upper case first).
    pub const ALL: [&'static str; 70] = [
        "IRC",
        "X11",
        "Z39_50",
        "aol",
        "auth",
        "bgp",
        "courier",
        "csnet_ns",
        "ctf",
        "daytime",
        "discard",
        "domain",
        "domain_u",
        "echo",
        "eco_i",
        "ecr_i",
        "efs",
        "exec",
        "finger",
        "ftp",
        "ftp_data",
        "gopher",
        "harvest",
        "hostnames",
        "http",
        "http_2784",
        "http_443",
        "http_8001",
        "imap4",
        "iso_tsap",
        "klogin",
        "kshell",
        "ldap",
        "link",
        "login",
        "mtp",
        "name",
        "netbios_dgm",
        "netbios_ns",
        "netbios_ssn",
        "netstat",
        "nnsp",
        "nntp",
        "ntp_u",
        "other",
        "pm_dump",
        "pop_2",
        "pop_3",
        "printer",
        "private",
        "red_i",
        "remote_job",
        "rje",
        "shell",
        "smtp",
        "sql_net",
        "ssh",
        "sunrpc",
        "supdup",
        "systat",
        "telnet",
        "tftp_u",
        "tim_i",
        "time",
        "urh_i",
        "urp_i",
        "uucp",
        "uucp_path",
        "vmnet",
        "whois",
    ];

    /// How many services there are: tallies per service are arrays of this length.
    pub const COUNT: usize = Self::ALL.len();

    /// The service of a name of [`Service::ALL`] (a binary search: the list is sorted).
    pub fn from_name(name: &str) -> Option<Service> {
        Self::ALL
            .binary_search(&name)
            .ok()
            .map(|i| Service(i as u8))
    }

    /// The service's NSL-KDD name.
    pub fn name(self) -> &'static str {
        Self::ALL[self.0 as usize]
    }

    /// Position in [`Service::ALL`], `0..Service::COUNT`.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The service of a connection.
    pub fn of(conn: &Connection) -> Service {
        Self::classify(
            conn.transport,
            conn.orig_addr.is_ipv6(),
            conn.orig_port,
            conn.resp_port,
        )
    }

    /// The service of a transport and its ports (for ICMP: type and code, `ipv6` telling
    /// ICMPv6's numbering from ICMP's).
    pub fn classify(transport: Transport, ipv6: bool, orig_port: u16, resp_port: u16) -> Service {
        match transport {
            Transport::Tcp => tcp_name(resp_port).unwrap_or(if orig_port == FTP_DATA_PORT {
                named!("ftp_data")
            } else {
                unnamed_port(resp_port)
            }),
            Transport::Udp => udp_name(resp_port).unwrap_or_else(|| unnamed_port(resp_port)),
            Transport::Icmp if ipv6 => icmpv6_name(orig_port, resp_port),
            Transport::Icmp => icmp_name(orig_port, resp_port),
        }
    }

    /// The service of a name of [`Service::ALL`], found when the program is compiled (a
    /// name missing from the list does not compile): the tables below name services by
    /// `named!`, so that classifying a connection compares no strings.
    const fn of_listed_name(name: &str) -> Service {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i].len() == name.len() {
                let (a, b) = (Self::ALL[i].as_bytes(), name.as_bytes());
                let mut j = 0;
                while j < a.len() && a[j] == b[j] {
                    j += 1;
                }
                if j == a.len() {
                    return Service(i as u8);
                }
            }
            i += 1;
        }
        panic!("not one of NSL-KDD's service names");
    }
}

/// KDD'99's name for a port of no listed service.
fn unnamed_port(port: u16) -> Service {
    if port > LAST_WELL_KNOWN_PORT {
        named!("private")
    } else {
        named!("other")
    }
}

fn tcp_name(port: u16) -> Option<Service> {
    Some(match port {
        7 => named!("echo"),
        9 => named!("discard"),
        11 => named!("systat"),
        13 => named!("daytime"),
        15 => named!("netstat"),
        20 => named!("ftp_data"),
        21 => named!("ftp"),
        22 => named!("ssh"),
        23 => named!("telnet"),
        25 => named!("smtp"),
        37 => named!("time"),
        42 => named!("name"),
        43 => named!("whois"),
        53 => named!("domain"),
        57 => named!("mtp"),
        70 => named!("gopher"),
        71..=74 => named!("remote_job"),
        5 | 77 => named!("rje"),
        79 => named!("finger"),
        80 => named!("http"),
        84 => named!("ctf"),
        87 => named!("link"),
        95 => named!("supdup"),
        101 => named!("hostnames"),
        102 => named!("iso_tsap"),
        105 => named!("csnet_ns"),
        109 => named!("pop_2"),
        110 => named!("pop_3"),
        111 => named!("sunrpc"),
        113 => named!("auth"),
        117 => named!("uucp_path"),
        119 => named!("nntp"),
        137 => named!("netbios_ns"),
        138 => named!("netbios_dgm"),
        139 => named!("netbios_ssn"),
        143 => named!("imap4"),
        150 => named!("sql_net"),
        175 => named!("vmnet"),
        179 => named!("bgp"),
        194 | 6667 => named!("IRC"),
        210 => named!("Z39_50"),
        389 => named!("ldap"),
        433 => named!("nnsp"),
        443 => named!("http_443"),
        512 => named!("exec"),
        513 => named!("login"),
        514 => named!("shell"),
        515 => named!("printer"),
        520 => named!("efs"),
        530 => named!("courier"),
        540 => named!("uucp"),
        543 => named!("klogin"),
        544 => named!("kshell"),
        2784 => named!("http_2784"),
        5190 => named!("aol"),
        6000..=6063 => named!("X11"),
        8001 => named!("http_8001"),
        _ => return None,
    })
}

fn udp_name(port: u16) -> Option<Service> {
    Some(match port {
        53 => named!("domain_u"),
        69 => named!("tftp_u"),
        123 => named!("ntp_u"),
        _ => return None,
    })
}

/// ICMP (RFC 792) types; `code` matters for destination unreachable only.
fn icmp_name(icmp_type: u16, code: u16) -> Service {
    const PORT_UNREACHABLE: u16 = 3;
    match icmp_type {
        0 => named!("ecr_i"),
        3 if code == PORT_UNREACHABLE => named!("urp_i"),
        3 => named!("urh_i"),
        5 => named!("red_i"),
        8 => named!("eco_i"),
        11 => named!("tim_i"),
        _ => named!("other"),
    }
}

/// ICMPv6 (RFC 4443, RFC 4861) types, named as their ICMP counterparts.
fn icmpv6_name(icmp_type: u16, code: u16) -> Service {
    const PORT_UNREACHABLE: u16 = 4;
    match icmp_type {
        1 if code == PORT_UNREACHABLE => named!("urp_i"),
        1 => named!("urh_i"),
        3 => named!("tim_i"),
        128 => named!("eco_i"),
        129 => named!("ecr_i"),
        137 => named!("red_i"),
        _ => named!("other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_is_the_listed_name() {
        assert_eq!(named!("other").name(), "other");
        assert_eq!(named!("IRC").name(), "IRC");
        assert_eq!(named!("whois").name(), "whois");
    }

    fn name(transport: Transport, orig_port: u16, resp_port: u16) -> &'static str {
        Service::classify(transport, false, orig_port, resp_port).name()
    }

    #[test]
    fn ports_map_to_kdd_names() {
        use Transport::{Icmp, Tcp, Udp};
        for (transport, orig, resp, want) in [
            (Tcp, 40000, 80, "http"),
            (Tcp, 40000, 21, "ftp"),
            (Tcp, 40000, 20, "ftp_data"),
            (Tcp, 20, 40000, "ftp_data"),
            (Tcp, 20, 80, "http"),
            (Tcp, 40000, 23, "telnet"),
            (Tcp, 40000, 25, "smtp"),
            (Tcp, 40000, 22, "ssh"),
            (Tcp, 40000, 53, "domain"),
            (Tcp, 40000, 443, "http_443"),
            (Tcp, 40000, 6000, "X11"),
            (Tcp, 40000, 6063, "X11"),
            (Tcp, 40000, 6064, "private"),
            (Tcp, 40000, 6667, "IRC"),
            (Tcp, 40000, 8001, "http_8001"),
            (Tcp, 40000, 8080, "private"),
            (Tcp, 40000, 1025, "private"),
            (Tcp, 40000, 1024, "other"),
            (Tcp, 40000, 600, "other"),
            (Tcp, 40000, 0, "other"),
            (Udp, 40000, 53, "domain_u"),
            (Udp, 40000, 69, "tftp_u"),
            (Udp, 40000, 123, "ntp_u"),
            (Udp, 40000, 137, "other"),
            (Udp, 40000, 5353, "private"),
            (Udp, 20, 40000, "private"),
            (Icmp, 8, 0, "eco_i"),
            (Icmp, 0, 0, "ecr_i"),
            (Icmp, 3, 3, "urp_i"),
            (Icmp, 3, 1, "urh_i"),
            (Icmp, 3, 0, "urh_i"),
            (Icmp, 5, 1, "red_i"),
            (Icmp, 11, 0, "tim_i"),
            (Icmp, 13, 14, "other"),
        ] {
            assert_eq!(
                name(transport, orig, resp),
                want,
                "{transport:?} {orig} → {resp}"
            );
        }
        let v6 = |kind, code| Service::classify(Icmp, true, kind, code).name();
        assert_eq!(
            [
                v6(128, 129),
                v6(129, 128),
                v6(1, 4),
                v6(1, 3),
                v6(3, 0),
                v6(137, 0),
                v6(135, 136),
                v6(8, 0)
            ],
            [
                "eco_i", "ecr_i", "urp_i", "urh_i", "tim_i", "red_i", "other", "other"
            ]
        );
    }

    /// The vocabulary of NSL-KDD's `service` column: read from the shared data where it is
    /// beside the checkout, and otherwise this list, written from the data set.
    fn nsl_kdd_vocabulary() -> Vec<String> {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/Network_anomaly_data.csv");
        if !data.exists() {
            return "IRC X11 Z39_50 aol auth bgp courier csnet_ns ctf daytime discard domain \
                domain_u echo eco_i ecr_i efs exec finger ftp ftp_data gopher harvest hostnames \
                http http_2784 http_443 http_8001 imap4 iso_tsap klogin kshell ldap link login \
                mtp name netbios_dgm netbios_ns netbios_ssn netstat nnsp nntp ntp_u other \
                pm_dump pop_2 pop_3 printer private red_i remote_job rje shell smtp sql_net ssh \
                sunrpc supdup systat telnet tftp_u tim_i time urh_i urp_i uucp uucp_path vmnet \
                whois"
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        let mut reader = csv::Reader::from_path(&data).unwrap();
        let column = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "service")
            .unwrap();
        let mut names: Vec<String> = reader
            .records()
            .map(|r| r.unwrap()[column].to_string())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every name produced, for every port and ICMP type, is one the data set holds, and the
    /// list of names is the data set's.
    #[test]
    fn names_are_the_data_sets() {
        let vocabulary = nsl_kdd_vocabulary();
        assert_eq!(vocabulary, Service::ALL);
        let mut produced = std::collections::BTreeSet::new();
        for transport in [Transport::Tcp, Transport::Udp, Transport::Icmp] {
            for ipv6 in [false, true] {
                for port in 0..=u16::MAX {
                    produced.insert(Service::classify(transport, ipv6, 20, port).name());
                    produced.insert(Service::classify(transport, ipv6, port, 3).name());
                }
            }
        }
        for name in &produced {
            assert!(vocabulary.iter().any(|v| v == name), "{name}");
        }
        // All but the two names no documented port has.
        assert_eq!(produced.len(), Service::COUNT - 2);
    }

    #[test]
    fn all_is_sorted_and_unique() {
        assert!(Service::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
