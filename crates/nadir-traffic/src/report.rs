//! What reading a capture met: packets, what was skipped and why, problems by kind.

use std::fmt;

/// Something wrong in a capture. None stops the reading except the file-level ones
/// (`TruncatedFile`, `CorruptFile`, `ReadError`), which end it where they occur; the
/// connections before are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The file ends inside a record or block.
    TruncatedFile,
    /// A record or block that cannot be read (its length is impossible, or it is not a
    /// block); nothing after it can be found reliably.
    CorruptFile,
    /// Reading the file failed part way.
    ReadError,
    /// A frame of a link type the extractor does not read.
    UnknownLinkType,
    /// A frame that ends inside a link, IP or transport header.
    TruncatedFrame,
    /// An IP header whose version, header length or total length is impossible.
    BadIpHeader,
    /// A TCP, UDP or ICMP header whose lengths are impossible.
    BadTransportHeader,
    /// A wrong IP fragment (overlapping, oversized or malformed: the `fragment` module).
    WrongFragment,
}

impl Problem {
    pub const ALL: [Problem; 8] = [
        Problem::TruncatedFile,
        Problem::CorruptFile,
        Problem::ReadError,
        Problem::UnknownLinkType,
        Problem::TruncatedFrame,
        Problem::BadIpHeader,
        Problem::BadTransportHeader,
        Problem::WrongFragment,
    ];

    /// A short name for reports and logs.
    pub fn name(self) -> &'static str {
        match self {
            Problem::TruncatedFile => "truncated file",
            Problem::CorruptFile => "corrupt file",
            Problem::ReadError => "read error",
            Problem::UnknownLinkType => "unknown link type",
            Problem::TruncatedFrame => "truncated frame",
            Problem::BadIpHeader => "bad IP header",
            Problem::BadTransportHeader => "bad transport header",
            Problem::WrongFragment => "wrong fragment",
        }
    }
}

/// Counts of [`Problem`]s by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProblemCounts([u64; Problem::ALL.len()]);

impl ProblemCounts {
    pub fn get(&self, problem: Problem) -> u64 {
        self.0[problem as usize]
    }

    pub(crate) fn add(&mut self, problem: Problem, count: u64) {
        self.0[problem as usize] += count;
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The kinds that occurred, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (Problem, u64)> + '_ {
        Problem::ALL
            .into_iter()
            .map(|problem| (problem, self.get(problem)))
            .filter(|&(_, count)| count > 0)
    }
}

/// What reading one capture met.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureReport {
    /// Frames read from the file.
    pub packets: u64,
    /// Bytes of frames as captured.
    pub captured_bytes: u64,
    /// Frames that carried no IP (ARP, STP, LLDP, …): skipped, not an error.
    pub not_ip: u64,
    /// IP datagrams of transports other than TCP, UDP and ICMP (IGMP, ESP, GRE, …): skipped.
    pub other_transport: u64,
    /// IP fragments read.
    pub fragments: u64,
    /// Datagrams put together from fragments.
    pub reassembled: u64,
    /// Fragmented datagrams that never completed (timed out, evicted or pending at the end).
    pub incomplete_datagrams: u64,
    /// Connections produced.
    pub connections: u64,
    /// The most connections open at once.
    pub peak_active_connections: u64,
    /// Open connections ended before their time to bound memory (the tracker's limits).
    pub ended_early: u64,
    pub problems: ProblemCounts,
}

impl fmt::Display for CaptureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} packets, {} connections, {} not IP, {} other transports",
            self.packets, self.connections, self.not_ip, self.other_transport
        )?;
        if self.fragments > 0 {
            write!(
                f,
                ", {} fragments ({} datagrams reassembled, {} incomplete)",
                self.fragments, self.reassembled, self.incomplete_datagrams
            )?;
        }
        if self.ended_early > 0 {
            write!(f, ", {} connections ended early for room", self.ended_early)?;
        }
        for (problem, count) in self.problems.iter() {
            write!(f, ", {count} {}", problem.name())?;
        }
        Ok(())
    }
}
