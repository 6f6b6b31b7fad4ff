//! The connection table: packets to [`Connection`]s, released in order of start time.
//!
//! **Key.** Transport, both addresses and ports (in a canonical order, so both directions
//! find the same entry) and the frame's VLAN ids: the same addresses and ports on two
//! VLANs are two connections, except that replies coming back on another VLAN than their
//! requests (a router between VLANs seen on a trunk) join the requests' connection, whose
//! VLAN ids are the originator's. ICMP echo requests and replies pair into one connection by
//! identifier (its ports are the request's type and code, 8/0 or 128/0, as Zeek writes
//! them); any other ICMP message flow is its own connection keyed by type and code.
//!
//! **Direction.** The originator is the sender of the connection's first packet, except
//! that a TCP SYN-ACK or an ICMP echo reply seen first makes its receiver the originator.
//!
//! **TCP state** ([`ConnState`], Zeek's `conn_state`) from the flags each side sent, by the
//! rules of `shared/pcap/README.md`: with SYN and SYN-ACK, an originator RST is RSTO, else a
//! responder RST RSTR, else FINs both ways SF, from the originator only S2, from the
//! responder only S3, none S1; SYN without SYN-ACK: responder RST REJ, else originator RST
//! RSTOS0, else originator FIN SH, else S0; SYN-ACK without SYN: responder RST RSTRH, else
//! responder FIN SHR, else OTH; neither OTH. A capture that lost the client's SYN therefore
//! gives SHR where Zeek, which flips the direction and guesses the handshake, says SF.
//! UDP and ICMP: SF when both sides sent, S0 when only the originator did, OTH when only
//! the responder did (an echo reply whose request was not captured).
//!
//! **Bytes.** Transport payload each way, taken from the headers' lengths (so a frame cut
//! by the snap length still counts in full). TCP counts only payload beyond the highest
//! sequence number seen that way, so retransmissions are not counted twice; a segment
//! arriving after a later one (reordered) is then not counted either, which costs a few
//! bytes on reordered links and saves any per-connection buffering. The new in-order
//! bytes each way go through [`Active::payload`], the one place a content inspector reads.
//!
//! **Timeouts** (capture time: the timestamps, never the wall clock), checked once per
//! second of capture time, against a queue of the open connections by the time each could
//! time out at the earliest (so a check looks only at the connections due, not the whole
//! table: a SYN flood holds hundreds of thousands open for their 5 minutes):
//! - TCP closed (FIN both ways, or a RST): ends [`CLOSE_LINGER_NS`] (5 s, Zeek's
//!   `tcp_close_delay`) after its last packet; a new SYN on an established and closed
//!   connection ends it at once and opens the next one (a SYN retried after a refusal is
//!   the same attempt);
//! - TCP otherwise: [`TCP_INACTIVITY_NS`] (5 min, Zeek's `tcp_inactivity_timeout`);
//! - UDP and ICMP: [`DATAGRAM_INACTIVITY_NS`] (1 min, Zeek's `udp_`/`icmp_inactivity_timeout`);
//! - the end of the capture ends every connection.
//!
//! **Duration** runs from the first packet to the last, except that the bare ACK of a
//! closed connection's last FIN does not lengthen it (as in Zeek's logs).
//!
//! **Order.** Connections end in any order; they are released in order of start time (ties
//! by the index of their first packet) by holding each finished one until no active
//! connection (and no pending fragmented datagram) started before it.
//!
//! **Memory** is the open connections plus those finished while an older one is still open,
//! each bounded ([`Limits`]: about a million of each): beyond either bound, the open
//! connection that started first is ended early (counted in the report; its later packets,
//! if any, make a new connection), so a flood of spoofed SYNs or one connection open all
//! day cannot exhaust memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;

use crate::HashMap;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use crate::connection::{ConnState, Connection, Transport};
use crate::content::Inspector;
use crate::packet::{Detail, Segment, VlanTags, tcp_flags};

/// A closed TCP connection's linger after its last packet.
pub const CLOSE_LINGER_NS: i64 = 5_000_000_000;
/// A TCP connection's inactivity timeout.
pub const TCP_INACTIVITY_NS: i64 = 300_000_000_000;
/// A UDP or ICMP connection's inactivity timeout.
pub const DATAGRAM_INACTIVITY_NS: i64 = 60_000_000_000;
/// How often (in capture time) the table is swept for timeouts.
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

/// Which kind of flow a key is for: ICMP echo is keyed on its identifier, other ICMP on
/// type and code, TCP and UDP on ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Flow {
    Ports,
    IcmpEcho,
    IcmpOther,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    endpoints: EndpointKey,
    vlan: VlanTags,
}

/// A flow's key without its VLAN ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EndpointKey {
    transport: Transport,
    flow: Flow,
    low: (IpAddr, u16),
    high: (IpAddr, u16),
}

/// Flags one side of a TCP connection sent, and its sequence tracking.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    syn: bool,
    syn_ack: bool,
    fin: bool,
    rst: bool,
    /// One past the highest payload sequence number seen.
    next_seq: Option<u32>,
}

/// An open connection.
struct Active {
    /// Its key in the table, and the key's hash ([`Tracker::hash`]).
    key: FlowKey,
    hash: u32,
    /// Unique to this connection among all the table opens: what tells an entry of the
    /// timeout queue or of the start order that still names it from one whose connection
    /// ended (and whose slot another connection may hold now).
    serial: u64,
    /// Ended and out of the table: its slot holds it until its turn to be released (and
    /// made a [`Connection`]), so that ending moves nothing.
    ended: bool,
    start: i64,
    first_index: u64,
    last: i64,
    transport: Transport,
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    vlan: VlanTags,
    orig_side: Side,
    resp_side: Side,
    orig_bytes: u64,
    resp_bytes: u64,
    orig_packets: u64,
    resp_packets: u64,
    wrong_fragment: u32,
    urgent: u32,
    /// Reads the payload for the content features (a no-op for services it does not read).
    content: Inspector,
}

impl Active {
    fn closed(&self) -> bool {
        self.transport == Transport::Tcp
            && (self.orig_side.rst
                || self.resp_side.rst
                || (self.orig_side.fin && self.resp_side.fin))
    }

    /// A new SYN starts a new connection once this one was established and closed; a
    /// SYN repeated after a refusal (REJ) or a reset attempt is the same attempt.
    fn reused_by_syn(&self) -> bool {
        self.orig_side.syn && self.resp_side.syn_ack && self.closed()
    }

    fn timeout(&self) -> i64 {
        match self.transport {
            Transport::Tcp if self.closed() => CLOSE_LINGER_NS,
            Transport::Tcp => TCP_INACTIVITY_NS,
            Transport::Udp | Transport::Icmp => DATAGRAM_INACTIVITY_NS,
        }
    }

    fn expired(&self, now: i64) -> bool {
        now.saturating_sub(self.last) >= self.timeout()
    }

    /// The capture time from which [`Active::expired`] holds unless more packets come.
    fn deadline(&self) -> i64 {
        self.last.saturating_add(self.timeout())
    }

    fn state(&self) -> ConnState {
        let (o, r) = (&self.orig_side, &self.resp_side);
        if self.transport != Transport::Tcp {
            return match (self.orig_packets > 0, self.resp_packets > 0) {
                (true, true) => ConnState::SF,
                (true, false) => ConnState::S0,
                _ => ConnState::OTH,
            };
        }
        match (o.syn, r.syn_ack) {
            (true, true) if o.rst => ConnState::RSTO,
            (true, true) if r.rst => ConnState::RSTR,
            (true, true) => match (o.fin, r.fin) {
                (true, true) => ConnState::SF,
                (true, false) => ConnState::S2,
                (false, true) => ConnState::S3,
                (false, false) => ConnState::S1,
            },
            (true, false) if r.rst => ConnState::REJ,
            (true, false) if o.rst => ConnState::RSTOS0,
            (true, false) if o.fin => ConnState::SH,
            (true, false) => ConnState::S0,
            (false, true) if r.rst => ConnState::RSTRH,
            (false, true) if r.fin => ConnState::SHR,
            _ => ConnState::OTH,
        }
    }

    /// The connection's new in-order payload bytes, each way, as captured: the one place
    /// the content inspector reads.
    fn payload(&mut self, from_originator: bool, bytes: &[u8]) {
        self.content.feed(from_originator, bytes);
    }

    fn finish(self) -> Connection {
        Connection {
            start: self.start as f64 / 1e9,
            duration: self.last.saturating_sub(self.start).max(0) as f64 / 1e9,
            transport: self.transport,
            orig_addr: self.orig.0,
            resp_addr: self.resp.0,
            orig_port: self.orig.1,
            resp_port: self.resp.1,
            vlan: self.vlan.to_vec(),
            orig_bytes: self.orig_bytes,
            resp_bytes: self.resp_bytes,
            orig_packets: self.orig_packets,
            resp_packets: self.resp_packets,
            land: self.orig == self.resp,
            wrong_fragment: self.wrong_fragment,
            urgent: self.urgent,
            state: self.state(),
            content: self.content.finish(),
        }
    }
}

/// One IP datagram's addresses, as the tracker needs them.
pub(crate) struct Endpoints {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub vlan: VlanTags,
}

/// An open connection's place in the timeout queue: the time it could time out at the
/// earliest, ordered by that time and then by its first packet; its slot (no table look-up
/// to find it) and its serial (to tell whether the slot still holds it).
#[derive(Debug, Clone, Copy)]
struct Due {
    at: i64,
    first_index: u64,
    serial: u64,
    slot: usize,
}

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        (self.at, self.first_index) == (other.at, other.first_index)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        (self.at, self.first_index).cmp(&(other.at, other.first_index))
    }
}

/// The timeout queue. An entry's time is a packet's time plus a timeout, so as long as
/// capture time runs forward the entries of one timeout come in order of time: each timeout
/// has a first-in first-out queue, and a heap takes the entries that would break a queue's
/// order (a packet older than one before it, or a connection's deadline moved on after
/// others were queued). A flood of SYNs is then pushed and popped at the ends of one queue.
#[derive(Default)]
struct Deadlines {
    /// Entries for [`CLOSE_LINGER_NS`], [`TCP_INACTIVITY_NS`], [`DATAGRAM_INACTIVITY_NS`].
    queues: [VecDeque<Due>; 3],
    late: BinaryHeap<Reverse<Due>>,
}

impl Deadlines {
    /// Queues the current deadline of `conn`, in `slot`, under its current timeout.
    fn schedule(&mut self, conn: &Active, slot: usize) {
        self.push(
            conn.timeout(),
            Due {
                at: conn.deadline(),
                first_index: conn.first_index,
                serial: conn.serial,
                slot,
            },
        );
    }

    fn push(&mut self, timeout: i64, due: Due) {
        let queue = &mut self.queues[match timeout {
            CLOSE_LINGER_NS => 0,
            TCP_INACTIVITY_NS => 1,
            _ => 2,
        }];
        if queue.back().is_none_or(|last| last.at <= due.at) {
            queue.push_back(due);
        } else {
            self.late.push(Reverse(due));
        }
    }

    /// An entry due by `now`, taken out (in no particular order among those due).
    fn pop_due(&mut self, now: i64) -> Option<Due> {
        for queue in &mut self.queues {
            if queue.front().is_some_and(|due| due.at <= now) {
                return queue.pop_front();
            }
        }
        if self.late.peek().is_some_and(|Reverse(due)| due.at <= now) {
            return self.late.pop().map(|Reverse(due)| due);
        }
        None
    }

    fn clear(&mut self) {
        self.queues.iter_mut().for_each(VecDeque::clear);
        self.late.clear();
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty) && self.late.is_empty()
    }
}

/// A priority queue (smallest first) for entries that mostly come in order, as finished
/// connections do: timeouts end them in order of their last packet, which on a flood of
/// one-packet connections is their order of start. Entries in order go to the back of a
/// first-in first-out run, the others into a heap; the smallest is at the front of one of
/// the two. Entries must be distinct (they are: each holds its own slot), so the order in
/// which they come out is the heap's.
struct MostlyOrdered<T> {
    run: VecDeque<T>,
    late: BinaryHeap<Reverse<T>>,
}

impl<T> Default for MostlyOrdered<T> {
    fn default() -> Self {
        MostlyOrdered {
            run: VecDeque::new(),
            late: BinaryHeap::new(),
        }
    }
}

impl<T: Ord + Copy> MostlyOrdered<T> {
    fn push(&mut self, entry: T) {
        if self.run.back().is_none_or(|last| *last <= entry) {
            self.run.push_back(entry);
        } else {
            self.late.push(Reverse(entry));
        }
    }

    fn peek(&self) -> Option<T> {
        let late = self.late.peek().map(|Reverse(entry)| *entry);
        match (self.run.front().copied(), late) {
            (Some(run), Some(late)) => Some(run.min(late)),
            (run, late) => run.or(late),
        }
    }

    fn pop(&mut self) -> Option<T> {
        let first = self.peek()?;
        if self.run.front() == Some(&first) {
            self.run.pop_front()
        } else {
            self.late.pop().map(|Reverse(entry)| entry)
        }
    }

    fn len(&self) -> usize {
        self.run.len() + self.late.len()
    }

    fn clear(&mut self) {
        self.run.clear();
        self.late.clear();
    }
}

/// The connection table.
#[derive(Default)]
pub(crate) struct Tracker {
    /// Each open connection's slot in `slots` and its key's hash ([`Tracker::hash`]), found
    /// by that hash. The table holds no keys, 8 bytes an entry, so that it stays in cache on
    /// a SYN flood's hundreds of thousands of open connections: a look-up compares the key
    /// in the slot, which is met only on a hash match; ending a connection finds its entry
    /// by the hash and slot it keeps, comparing no key; growing the table reads the hashes
    /// in its entries, no connection (on a flood every packet opens a connection and the
    /// table's memory, not its arithmetic, was its cost). The connections stay where they
    /// are while the table grows, and a new one takes the slot of one just ended, still in
    /// cache. Slot numbers fit 32 bits: [`Limits`] keeps the slots to a few million.
    active: HashTable<(u32, u32)>,
    /// The table's hash: keys come from the traffic, so foldhash, randomly seeded.
    hasher: foldhash::fast::RandomState,
    /// The open connections, and the ended ones waiting for their turn, by slot; `None` in
    /// the slots listed in `free`.
    slots: Vec<Option<Active>>,
    free: Vec<usize>,
    /// The VLAN ids under which each endpoint pair has an open tagged connection (untagged
    /// ones are found by their key alone, so most traffic never touches this).
    vlans: HashMap<EndpointKey, Vec<VlanTags>>,
    /// The open connections in order of start: (start, first packet index, serial, slot).
    /// An entry stays when its connection ends and is dropped when it comes first (the
    /// slot no longer holds that serial), so that opening and ending a connection each cost
    /// a push or a pop at the ends of a queue, not a search tree's rebalancing.
    start_order: MostlyOrdered<(i64, u64, u64, usize)>,
    /// The serial the next connection opened gets.
    next_serial: u64,
    /// The timeout queue. Every open connection has an entry no later than
    /// its [`Active::deadline`]: one when it opens, one more when it closes (which shortens
    /// its timeout), and a new one when an entry comes due while later packets have moved
    /// its deadline on. Entries of connections already ended are dropped when they come due.
    deadlines: Deadlines,
    /// Finished connections waiting for their turn: (start, first packet index, slot),
    /// earliest first; the queue moves these small entries, not connections.
    finished: MostlyOrdered<(i64, u64, usize)>,
    now: i64,
    next_sweep: Option<i64>,
    limits: Limits,
    pub peak_active: usize,
    /// Connections ended before their time to keep within [`Limits`].
    pub ended_early: u64,
}

/// The most connections held at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Open connections.
    pub active: usize,
    /// Finished connections waiting for an older open one to finish.
    pub waiting: usize,
}

/// About 300 bytes a connection, open or waiting: at most some 600 MiB in all.
impl Default for Limits {
    fn default() -> Self {
        Limits {
            active: 1 << 20,
            waiting: 1 << 20,
        }
    }
}

impl Tracker {
    /// Moves capture time to `time` (never back), ending the connections that timed out.
    pub(crate) fn advance(&mut self, time: i64) {
        self.now = self.now.max(time);
        let due = *self
            .next_sweep
            .get_or_insert(time.saturating_add(SWEEP_INTERVAL_NS));
        if self.now < due {
            return;
        }
        self.next_sweep = Some(self.now.saturating_add(SWEEP_INTERVAL_NS));
        let now = self.now;
        while let Some(due) = self.deadlines.pop_due(now) {
            let Some(conn) = self.slot(due.slot, due.serial) else {
                continue;
            };
            if conn.expired(now) {
                self.end(due.slot);
                continue;
            }
            // Not expired, so its deadline is later than now, unless that saturated at the
            // end of time (a damaged timestamp): such a connection ends with the capture.
            let at = conn.deadline();
            if at > now {
                self.deadlines.push(conn.timeout(), Due { at, ..due });
            }
        }
    }

    /// Counts one datagram's segment for its connection.
    pub(crate) fn packet(
        &mut self,
        time: i64,
        index: u64,
        ends: &Endpoints,
        segment: &Segment<'_>,
        wrong_fragment: u32,
    ) {
        let (flow, src_port, dst_port) = match segment.detail {
            Detail::Icmp {
                echo: Some(echo), ..
            } => (Flow::IcmpEcho, echo.id, echo.id),
            Detail::Icmp { kind, code, .. } => (Flow::IcmpOther, u16::from(kind), u16::from(code)),
            Detail::Tcp { .. } | Detail::Udp => (Flow::Ports, segment.src_port, segment.dst_port),
        };
        let src = (ends.src, src_port);
        let dst = (ends.dst, dst_port);
        let (low, high) = if flow == Flow::IcmpOther || src <= dst {
            (src, dst)
        } else {
            (dst, src)
        };
        let key = FlowKey {
            endpoints: EndpointKey {
                transport: segment.transport,
                flow,
                low,
                high,
            },
            vlan: ends.vlan,
        };
        // As few look-ups in the table as can be: on a SYN flood every packet is a new
        // connection, and the table is most of its cost.
        let hash = self.hash(&key);
        let (key, hash, mut found) = match self.find(hash, &key) {
            Some(slot) => (key, hash, Some(slot)),
            None => match self.reply_on_other_vlan(&key, ends, src) {
                Some((other, slot)) => (other, self.hash(&other), Some(slot)),
                None => (key, hash, None),
            },
        };
        let flags = match segment.detail {
            Detail::Tcp { flags, .. } => flags,
            _ => 0,
        };
        let pure_syn = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        if let Some(slot) = found
            && pure_syn
            && self.slots[slot].as_ref().is_some_and(Active::reused_by_syn)
        {
            self.end(slot);
            found = None;
        }
        let slot = match found {
            Some(slot) => slot,
            None => {
                if self.active.len() >= self.limits.active {
                    self.end_oldest();
                }
                let conn = self.open(key, hash, time, index, ends, segment, src, dst);
                if key.vlan != VlanTags::default() {
                    self.vlans.entry(key.endpoints).or_default().push(key.vlan);
                }
                self.peak_active = self.peak_active.max(self.active.len() + 1);
                self.insert(conn)
            }
        };
        let Some(conn) = self.slots[slot].as_mut() else {
            return;
        };
        // As Zeek: the bare ACK of the last FIN does not make a closed connection longer.
        let bare_ack = flags == tcp_flags::ACK && segment.payload_len == 0;
        if !(bare_ack && conn.closed()) {
            conn.last = conn.last.max(time);
        }
        conn.wrong_fragment += wrong_fragment;
        let from_orig = match segment.detail {
            Detail::Icmp { echo: Some(_), .. } => ends.src == conn.orig.0,
            _ => src == conn.orig,
        };
        // A land packet (source = destination) is always the originator's.
        let from_orig = from_orig || conn.orig == conn.resp;
        let new_bytes = match segment.detail {
            Detail::Tcp { flags, seq } => {
                if flags & tcp_flags::URG != 0 {
                    conn.urgent += 1;
                }
                let was_closed = conn.closed();
                let side = if from_orig {
                    &mut conn.orig_side
                } else {
                    &mut conn.resp_side
                };
                side_flags(side, flags);
                let new_bytes = new_payload(side, flags, seq, segment.payload_len);
                // Closing shortens the timeout: the queue learns the earlier deadline.
                if !was_closed && conn.closed() {
                    self.deadlines.schedule(conn, slot);
                }
                new_bytes
            }
            _ => 0..segment.payload_len,
        };
        let counted = (new_bytes.end - new_bytes.start) as u64;
        if from_orig {
            conn.orig_packets += 1;
            conn.orig_bytes += counted;
        } else {
            conn.resp_packets += 1;
            conn.resp_bytes += counted;
        }
        let captured =
            new_bytes.start.min(segment.payload.len())..new_bytes.end.min(segment.payload.len());
        conn.payload(from_orig, &segment.payload[captured]);
    }

    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        key: FlowKey,
        hash: u32,
        time: i64,
        index: u64,
        ends: &Endpoints,
        segment: &Segment<'_>,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
    ) -> Active {
        let (orig, resp) = match segment.detail {
            Detail::Tcp { flags, .. }
                if flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK =>
            {
                (dst, src)
            }
            Detail::Icmp {
                echo: Some(echo), ..
            } => {
                // Ports as Zeek writes echo: the request's type and code.
                let request_type = if ends.dst.is_ipv6() { 128 } else { 8 };
                if echo.request {
                    ((ends.src, request_type), (ends.dst, 0))
                } else {
                    ((ends.dst, request_type), (ends.src, 0))
                }
            }
            _ => (src, dst),
        };
        self.next_serial += 1;
        Active {
            key,
            hash,
            serial: self.next_serial,
            ended: false,
            start: time,
            first_index: index,
            last: time,
            transport: segment.transport,
            orig,
            resp,
            vlan: ends.vlan,
            orig_side: Side::default(),
            resp_side: Side::default(),
            orig_bytes: 0,
            resp_bytes: 0,
            orig_packets: 0,
            resp_packets: 0,
            wrong_fragment: 0,
            urgent: 0,
            content: Inspector::new(segment.transport, resp.1),
        }
    }

    /// The connection a packet answers when the answer comes back on another VLAN (a router
    /// between VLANs, captured on the trunk): an open connection with the same endpoints on
    /// another VLAN, from whose responder this packet comes (while none is open on the
    /// packet's own VLAN).
    fn reply_on_other_vlan(
        &self,
        key: &FlowKey,
        ends: &Endpoints,
        src: (IpAddr, u16),
    ) -> Option<(FlowKey, usize)> {
        let tagged = self.vlans.get(&key.endpoints).into_iter().flatten();
        std::iter::once(&VlanTags::default())
            .chain(tagged)
            .filter(|&&vlan| vlan != key.vlan)
            .map(|&vlan| FlowKey {
                endpoints: key.endpoints,
                vlan,
            })
            .find_map(|other| {
                let slot = self.find(self.hash(&other), &other)?;
                let conn = self.slots.get(slot)?.as_ref()?;
                (conn.resp.0 == ends.src
                    && conn.orig.0 == ends.dst
                    && (key.endpoints.flow != Flow::Ports || conn.resp.1 == src.1))
                    .then_some((other, slot))
            })
    }

    /// The connection in `slot` if it is still the one with `serial`, and open.
    fn slot(&self, slot: usize, serial: u64) -> Option<&Active> {
        self.slots
            .get(slot)?
            .as_ref()
            .filter(|conn| conn.serial == serial && !conn.ended)
    }

    /// A key's hash: 32 bits of foldhash's, which the table's entries keep.
    fn hash(&self, key: &FlowKey) -> u32 {
        (self.hasher.hash_one(key) >> 32) as u32
    }

    /// The slot of the open connection with `key`, whose hash is `hash`.
    fn find(&self, hash: u32, key: &FlowKey) -> Option<usize> {
        let slots = &self.slots;
        self.active
            .find(table_hash(hash), |&(slot, _)| {
                slots
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|conn| conn.key == *key)
            })
            .map(|&(slot, _)| slot as usize)
    }

    /// Opens `conn` (whose key is not in the table) in a free slot, which it gives, and
    /// queues it in start order and for its timeout.
    fn insert(&mut self, conn: Active) -> usize {
        let (order, hash) = ((conn.start, conn.first_index, conn.serial), conn.hash);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(conn);
                slot
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        };
        self.active
            .insert_unique(table_hash(hash), (slot as u32, hash), |&(_, hash)| {
                table_hash(hash)
            });
        self.start_order.push((order.0, order.1, order.2, slot));
        if let Some(conn) = &self.slots[slot] {
            self.deadlines.schedule(conn, slot);
        }
        slot
    }

    /// Ends the open connection in `slot`, which holds it until its turn.
    fn end(&mut self, slot: usize) {
        let Some(conn) = self
            .slots
            .get_mut(slot)
            .and_then(Option::as_mut)
            .filter(|conn| !conn.ended)
        else {
            return;
        };
        conn.ended = true;
        let (key, hash) = (conn.key, conn.hash);
        self.finished.push((conn.start, conn.first_index, slot));
        if let Ok(entry) = self
            .active
            .find_entry(table_hash(hash), |&(other, _)| other as usize == slot)
        {
            entry.remove();
        }
        if key.vlan != VlanTags::default()
            && let Some(vlans) = self.vlans.get_mut(&key.endpoints)
        {
            vlans.retain(|&vlan| vlan != key.vlan);
            if vlans.is_empty() {
                self.vlans.remove(&key.endpoints);
            }
        }
    }

    /// The open connection that started first, as (start, first packet index, slot),
    /// dropping the start-order entries of connections that ended before it.
    fn oldest_active(&mut self) -> Option<(i64, u64, usize)> {
        while let Some((start, index, serial, slot)) = self.start_order.peek() {
            if self.slot(slot, serial).is_some() {
                return Some((start, index, slot));
            }
            self.start_order.pop();
        }
        None
    }

    /// Ends the open connection that started first, to make room: for a new connection
    /// when the table is full, or for the finished ones it holds back when too many wait.
    fn end_oldest(&mut self) {
        if let Some((_, _, slot)) = self.oldest_active() {
            self.ended_early += 1;
            self.end(slot);
        }
    }

    /// Ends every connection (the end of the capture).
    pub(crate) fn end_all(&mut self) {
        self.start_order.clear();
        self.deadlines.clear();
        self.vlans.clear();
        self.active.clear();
        for (slot, conn) in self.slots.iter_mut().enumerate() {
            if let Some(conn) = conn
                && !conn.ended
            {
                conn.ended = true;
                self.finished.push((conn.start, conn.first_index, slot));
            }
        }
    }

    /// The next finished connection that no active connection, and no datagram still
    /// pending from `held_from` on, can precede.
    pub(crate) fn pop_ready(&mut self, held_from: Option<i64>) -> Option<Connection> {
        loop {
            let (start, index, slot) = self.finished.peek()?;
            let blocked_by_active =
                self.oldest_active()
                    .is_some_and(|(first_start, first_index, _)| {
                        (first_start, first_index) < (start, index)
                    });
            if self.finished.len() > self.limits.waiting && blocked_by_active {
                self.end_oldest();
                continue;
            }
            let blocked_by_fragments = held_from.is_some_and(|time| time <= start);
            if blocked_by_active || blocked_by_fragments {
                return None;
            }
            self.finished.pop();
            let conn = self.slots.get_mut(slot)?.take()?;
            self.free.push(slot);
            return Some(conn.finish());
        }
    }
}

/// The table's 64-bit hash of a key's 32: both halves, since the table takes its bucket
/// from the low bits and a tag from the top ones.
fn table_hash(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

fn side_flags(side: &mut Side, flags: u8) {
    let syn = flags & tcp_flags::SYN != 0;
    let ack = flags & tcp_flags::ACK != 0;
    side.syn |= syn && !ack;
    side.syn_ack |= syn && ack;
    side.fin |= flags & tcp_flags::FIN != 0;
    side.rst |= flags & tcp_flags::RST != 0;
}

/// The part of a segment's payload (as a range of it) beyond the highest sequence number
/// this side has sent so far.
fn new_payload(side: &mut Side, flags: u8, seq: u32, len: usize) -> std::ops::Range<usize> {
    let data_start = seq.wrapping_add(u32::from(flags & tcp_flags::SYN != 0));
    let next = *side.next_seq.get_or_insert(data_start);
    // Lengths beyond what a sequence window can tell apart are taken as they come.
    let Ok(len32) = u32::try_from(len) else {
        return 0..len;
    };
    let end = data_start.wrapping_add(len32);
    if (end.wrapping_sub(next) as i32) <= 0 {
        return 0..0;
    }
    side.next_seq = Some(end);
    let skip = next.wrapping_sub(data_start) as i32;
    (skip.max(0) as usize).min(len)..len
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::connection::Transport;

    /// A payload-less TCP segment from 10.0.0.1:`port` to 10.0.0.2:80.
    fn syn(tracker: &mut Tracker, time: i64, port: u16) {
        let ends = Endpoints {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            vlan: VlanTags::default(),
        };
        let segment = Segment {
            transport: Transport::Tcp,
            src_port: port,
            dst_port: 80,
            detail: Detail::Tcp {
                flags: tcp_flags::SYN,
                seq: 1,
            },
            payload: &[],
            payload_len: 0,
        };
        tracker.advance(time);
        tracker.packet(time, time as u64, &ends, &segment, 0);
    }

    fn ports(connections: &[Connection]) -> Vec<u16> {
        connections.iter().map(|c| c.orig_port).collect()
    }

    #[test]
    fn a_full_table_ends_its_oldest_connection() {
        let mut tracker = Tracker {
            limits: Limits {
                active: 3,
                waiting: 100,
            },
            ..Tracker::default()
        };
        for port in 1..=5 {
            syn(&mut tracker, i64::from(port), port);
        }
        assert_eq!(tracker.active.len(), 3);
        assert_eq!(tracker.ended_early, 2);
        let released: Vec<Connection> = std::iter::from_fn(|| tracker.pop_ready(None)).collect();
        assert_eq!(ports(&released), [1, 2]);
    }

    #[test]
    fn too_many_waiting_ends_the_connection_holding_them() {
        let mut tracker = Tracker {
            limits: Limits {
                active: 100,
                waiting: 2,
            },
            ..Tracker::default()
        };
        let minute = 60_000_000_000;
        // Port 1 stays open (a SYN every minute); ports 2.. each time out behind it, 5 min
        // after their SYN.
        for step in 0..8i64 {
            syn(&mut tracker, step * minute, 1);
            syn(&mut tracker, step * minute + 1, 2 + step as u16);
        }
        assert_eq!(tracker.finished.len(), 2, "ports 2 and 3 timed out");
        assert!(tracker.pop_ready(None).is_none(), "held by port 1");
        syn(&mut tracker, 8 * minute, 1);
        assert_eq!(tracker.finished.len(), 3, "port 4 too: one over the limit");
        let released: Vec<Connection> = std::iter::from_fn(|| tracker.pop_ready(None)).collect();
        assert_eq!(ports(&released), [1, 2, 3, 4]);
        assert_eq!(tracker.ended_early, 1);
    }

    /// The timeout queue ends a connection only once it has been idle for its timeout: one
    /// kept busy by packets lives on past its first deadline, one left idle ends at the
    /// first check after its deadline.
    #[test]
    fn timeouts_follow_the_last_packet() {
        let mut tracker = Tracker::default();
        let minute = 60_000_000_000;
        syn(&mut tracker, 0, 1);
        syn(&mut tracker, 1, 2);
        // Port 1 gets a packet every 4 minutes; port 2 none.
        for step in 1..=3i64 {
            syn(&mut tracker, step * 4 * minute, 1);
            let expected = if step * 4 * minute > TCP_INACTIVITY_NS {
                1
            } else {
                2
            };
            assert_eq!(tracker.active.len(), expected, "after {} min", step * 4);
        }
        let released: Vec<Connection> = std::iter::from_fn(|| tracker.pop_ready(None)).collect();
        assert!(
            released.is_empty(),
            "port 2 waits for port 1, which started first"
        );
        // 5 minutes after its last packet (at 12 min), port 1 times out too.
        tracker.advance(17 * minute - 1_000_000_000);
        assert_eq!(tracker.active.len(), 1);
        tracker.advance(17 * minute);
        assert!(tracker.active.is_empty());
        let released: Vec<Connection> = std::iter::from_fn(|| tracker.pop_ready(None)).collect();
        assert_eq!(ports(&released), [1, 2]);
        assert!(tracker.deadlines.is_empty(), "no entry left behind");
    }

    /// A timestamp at the end of time (a damaged capture) neither loops the timeout check
    /// nor ends the connection before the capture does.
    #[test]
    fn a_deadline_past_the_end_of_time_ends_with_the_capture() {
        let mut tracker = Tracker::default();
        syn(&mut tracker, i64::MAX - 1, 1);
        syn(&mut tracker, i64::MAX, 2);
        tracker.advance(i64::MAX);
        assert_eq!(tracker.active.len(), 2);
        tracker.end_all();
        let released: Vec<Connection> = std::iter::from_fn(|| tracker.pop_ready(None)).collect();
        assert_eq!(ports(&released), [1, 2]);
    }

    /// Entries out of their queue's order (an older packet) are still taken when due.
    #[test]
    fn deadlines_out_of_order_are_due_in_time() {
        let mut deadlines = Deadlines::default();
        let due = |at: i64| Due {
            at,
            first_index: at as u64,
            serial: at as u64,
            slot: 0,
        };
        deadlines.push(TCP_INACTIVITY_NS, due(10));
        deadlines.push(TCP_INACTIVITY_NS, due(5));
        deadlines.push(CLOSE_LINGER_NS, due(7));
        deadlines.push(TCP_INACTIVITY_NS, due(12));
        let mut taken = |now: i64| {
            let mut at: Vec<i64> = std::iter::from_fn(|| deadlines.pop_due(now))
                .map(|due| due.at)
                .collect();
            at.sort();
            at
        };
        assert_eq!(taken(4), [0i64; 0]);
        assert_eq!(taken(7), [5, 7]);
        assert_eq!(taken(11), [10]);
        assert_eq!(taken(100), [12]);
        assert!(deadlines.is_empty());
    }

    /// Entries pushed in and out of order come out smallest first, as from a heap.
    #[test]
    fn mostly_ordered_pops_smallest_first() {
        let mut queue = MostlyOrdered::default();
        let pushed = [3, 5, 4, 9, 1, 10, 2, 11, 7];
        for (i, entry) in pushed.into_iter().enumerate() {
            queue.push(entry);
            if i == 4 {
                assert_eq!(queue.pop(), Some(1));
            }
        }
        assert_eq!(queue.len(), pushed.len() - 1);
        let popped: Vec<i32> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(popped, [2, 3, 4, 5, 7, 9, 10, 11]);
        assert_eq!(queue.peek(), None);
    }

    #[test]
    fn retransmitted_payload_counts_once() {
        let mut side = Side::default();
        assert_eq!(new_payload(&mut side, tcp_flags::SYN, 99, 0), 0..0);
        assert_eq!(new_payload(&mut side, 0, 100, 10), 0..10);
        assert_eq!(new_payload(&mut side, 0, 100, 10), 0..0, "retransmission");
        assert_eq!(new_payload(&mut side, 0, 105, 10), 5..10, "overlap");
        assert_eq!(new_payload(&mut side, 0, 200, 4), 0..4, "after a gap");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut side = Side::default();
        assert_eq!(new_payload(&mut side, 0, u32::MAX - 3, 8), 0..8);
        assert_eq!(new_payload(&mut side, 0, 4, 8), 0..8);
        assert_eq!(side.next_seq, Some(12));
    }
}
