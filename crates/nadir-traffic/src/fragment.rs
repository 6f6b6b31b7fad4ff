//! IPv4 and IPv6 fragment reassembly, and NSL-KDD's `wrong_fragment`.
//!
//! A datagram is keyed by source, destination, protocol, identification and VLAN tags. Its
//! payload is put together in one buffer; where fragments overlap, the bytes that came first
//! are kept (the datagram is still delivered: the extractor reports traffic, it does not
//! decide what a host would have accepted).
//!
//! A fragment is **wrong** when it is
//! - *overlapping*: it covers bytes an earlier fragment of the datagram covered, unless it is
//!   an exact repeat (same offset, same length, same bytes: a retransmission). Teardrop-style
//!   overlaps count whether or not the overlapped bytes differ;
//! - *oversized*: it ends beyond the largest payload an IP datagram can carry (65,515 bytes
//!   after a minimal IPv4 header, 65,535 for IPv6: the Ping of Death);
//! - *malformed*: empty; a fragment with "more fragments" whose length is not a multiple of
//!   8; a last fragment that disagrees with an earlier last fragment about where the
//!   datagram ends, or a fragment beyond that end; or one past the per-datagram limit.
//!
//! Oversized, empty and surplus fragments are dropped; the others are used. A datagram's
//! wrong fragments go to the connection of that datagram when it completes, or, when it
//! never does, when it is given up and its first bytes still name a connection (see
//! [`Reassembler::expire`]). Every wrong fragment is also counted in the capture's report.
//!
//! Bounds: at most [`MAX_PENDING`] datagrams wait at once (the oldest is given up for a new
//! one), each at most [`TIMEOUT_NS`] after its first fragment (Linux's `ipfrag_time`), with at
//! most [`MAX_FRAGMENTS`] fragments; a buffer never exceeds 65,535 bytes.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::HashMap;

use crate::packet::{FragmentInfo, VlanTags};

/// Datagrams waiting for fragments at once.
pub const MAX_PENDING: usize = 4096;
/// Nanoseconds a datagram waits for its fragments, from its first one.
pub const TIMEOUT_NS: i64 = 30_000_000_000;
/// Fragments one datagram may have: 65,535 bytes in 8-byte pieces.
pub const MAX_FRAGMENTS: usize = 8192;

const MAX_IPV4_PAYLOAD: u32 = 65_515;
const MAX_IPV6_PAYLOAD: u32 = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct DatagramKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub id: u32,
    pub vlan: VlanTags,
}

struct Pending {
    first_seen: i64,
    sequence: u64,
    last_seen: i64,
    buffer: Vec<u8>,
    /// Each fragment's (start, end), to tell a retransmission from an overlap.
    extents: Vec<(u32, u32)>,
    /// The bytes received, as sorted disjoint ranges.
    covered: Vec<(u32, u32)>,
    /// The payload's length once a last fragment has said it.
    total: Option<u32>,
    wrong: u32,
}

/// A datagram put together, or given up with the bytes it had from its start.
pub(crate) struct Reassembled {
    pub key: DatagramKey,
    pub payload: Vec<u8>,
    pub wrong: u32,
    /// Time of the fragment that completed it, or of its last fragment when given up.
    pub time: i64,
}

/// Pending datagrams.
#[derive(Default)]
pub(crate) struct Reassembler {
    pending: HashMap<DatagramKey, Pending>,
    /// (first fragment's time, arrival sequence) of each pending datagram, oldest first.
    by_age: BTreeSet<(i64, u64, DatagramKey)>,
    sequence: u64,
    /// Wrong fragments seen, for the report.
    pub wrong_total: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams given up.
    pub incomplete: u64,
}

impl Reassembler {
    /// Adds a fragment; returns the datagram when this fragment completes it. Datagrams
    /// given up to make room are pushed to `given_up`.
    pub(crate) fn add(
        &mut self,
        key: DatagramKey,
        fragment: FragmentInfo,
        data: &[u8],
        time: i64,
        given_up: &mut Vec<Reassembled>,
    ) -> Option<Reassembled> {
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= MAX_PENDING
                && let Some(&(_, _, oldest)) = self.by_age.first()
            {
                given_up.extend(self.give_up(oldest));
            }
            self.sequence += 1;
            self.by_age.insert((time, self.sequence, key));
            self.pending.insert(
                key,
                Pending {
                    first_seen: time,
                    sequence: self.sequence,
                    last_seen: time,
                    buffer: Vec::new(),
                    extents: Vec::new(),
                    covered: Vec::new(),
                    total: None,
                    wrong: 0,
                },
            );
        }
        let limit = if key.src.is_ipv6() {
            MAX_IPV6_PAYLOAD
        } else {
            MAX_IPV4_PAYLOAD
        };
        let pending = self.pending.get_mut(&key).expect("inserted above");
        pending.last_seen = pending.last_seen.max(time);
        let wrong = pending.place(fragment, data, limit);
        self.wrong_total += u64::from(wrong);
        let total = pending.total?;
        if !matches!(pending.covered.first(), Some(&(0, end)) if end >= total) {
            return None;
        }
        let done = self.remove(&key)?;
        self.reassembled += 1;
        let mut payload = done.buffer;
        payload.truncate(total as usize);
        Some(Reassembled {
            key,
            payload,
            wrong: done.wrong,
            time,
        })
    }

    /// Gives up the datagrams whose first fragment is older than the timeout at `now`
    /// (or all of them, with `None`: the end of the capture). Each is returned with the
    /// bytes it holds from offset 0, so that its transport header (when those bytes hold
    /// it) can still count its packet and wrong fragments for its connection.
    pub(crate) fn expire(&mut self, now: Option<i64>, given_up: &mut Vec<Reassembled>) {
        while let Some(&(first_seen, _, oldest)) = self.by_age.first() {
            if now.is_some_and(|now| first_seen.saturating_add(TIMEOUT_NS) > now) {
                break;
            }
            given_up.extend(self.give_up(oldest));
        }
    }

    /// The first fragment's time of the oldest pending datagram: no connection it may still
    /// make can have started before it.
    pub(crate) fn oldest(&self) -> Option<i64> {
        self.by_age.first().map(|&(time, _, _)| time)
    }

    fn remove(&mut self, key: &DatagramKey) -> Option<Pending> {
        let pending = self.pending.remove(key)?;
        self.by_age
            .remove(&(pending.first_seen, pending.sequence, *key));
        Some(pending)
    }

    fn give_up(&mut self, key: DatagramKey) -> Option<Reassembled> {
        let pending = self.remove(&key)?;
        self.incomplete += 1;
        let head = match pending.covered.first() {
            Some(&(0, end)) => end as usize,
            _ => 0,
        };
        let mut payload = pending.buffer;
        payload.truncate(head);
        Some(Reassembled {
            key,
            payload,
            wrong: pending.wrong,
            time: pending.last_seen,
        })
    }
}

impl Pending {
    /// Places a fragment's bytes; returns how many wrong fragments it was (0 or 1).
    fn place(&mut self, fragment: FragmentInfo, data: &[u8], limit: u32) -> u32 {
        let wrong = u32::from(!self.place_checked(fragment, data, limit));
        self.wrong += wrong;
        wrong
    }

    /// False when the fragment is wrong.
    fn place_checked(&mut self, fragment: FragmentInfo, data: &[u8], limit: u32) -> bool {
        let start = fragment.offset;
        let Ok(len) = u32::try_from(data.len()) else {
            return false;
        };
        let end = start + len;
        if len == 0 || end > limit || self.extents.len() >= MAX_FRAGMENTS {
            return false;
        }
        let mut good = !(fragment.more && len % 8 != 0);
        match (fragment.more, self.total) {
            (false, Some(total)) if total != end => good = false,
            (false, None) => {
                good &= self.covered.last().is_none_or(|&(_, last)| last <= end);
                self.total = Some(end);
            }
            (true, Some(total)) if end > total => good = false,
            _ => {}
        }
        let repeat = self.extents.contains(&(start, end));
        let overlapping = self.overlaps(start, end);
        if self.buffer.len() < end as usize {
            self.buffer.resize(end as usize, 0);
        }
        if overlapping {
            let same_bytes = self.write_gaps(start, end, data);
            good &= repeat && same_bytes;
        } else {
            self.buffer[start as usize..end as usize].copy_from_slice(data);
        }
        self.extents.push((start, end));
        self.cover(start, end);
        good
    }

    fn overlaps(&self, start: u32, end: u32) -> bool {
        self.covered.iter().any(|&(s, e)| s < end && start < e)
    }

    /// Writes the bytes of `data` (placed at `start`) that no earlier fragment covered;
    /// returns whether the overlapped ones were equal.
    fn write_gaps(&mut self, start: u32, end: u32, data: &[u8]) -> bool {
        let mut same = true;
        let mut at = start;
        for &(s, e) in &self.covered {
            if e <= at || s >= end {
                continue;
            }
            if s > at {
                let gap = at as usize..s as usize;
                self.buffer[gap.clone()]
                    .copy_from_slice(&data[gap.start - start as usize..gap.end - start as usize]);
            }
            let overlap = s.max(at) as usize..e.min(end) as usize;
            same &= self.buffer[overlap.clone()]
                == data[overlap.start - start as usize..overlap.end - start as usize];
            at = e.min(end);
        }
        if at < end {
            let gap = at as usize..end as usize;
            self.buffer[gap.clone()]
                .copy_from_slice(&data[gap.start - start as usize..gap.end - start as usize]);
        }
        same
    }

    /// Adds a range to the sorted disjoint covered ranges, merging touching ones.
    fn cover(&mut self, start: u32, end: u32) {
        let first = self.covered.partition_point(|&(_, e)| e < start);
        let last = self.covered.partition_point(|&(s, _)| s <= end);
        if first == last {
            self.covered.insert(first, (start, end));
        } else {
            let merged = (
                start.min(self.covered[first].0),
                end.max(self.covered[last - 1].1),
            );
            self.covered.splice(first..last, [merged]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn key() -> DatagramKey {
        DatagramKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            protocol: 17,
            id: 7,
            vlan: VlanTags::default(),
        }
    }

    fn frag(offset: u32, more: bool) -> FragmentInfo {
        FragmentInfo {
            id: 7,
            offset,
            more,
        }
    }

    #[test]
    fn fragments_in_any_order_reassemble() {
        let mut reassembler = Reassembler::default();
        let mut given_up = Vec::new();
        let data: Vec<u8> = (0..40).collect();
        assert!(
            reassembler
                .add(key(), frag(32, false), &data[32..], 1, &mut given_up)
                .is_none()
        );
        assert!(
            reassembler
                .add(key(), frag(0, true), &data[..16], 2, &mut given_up)
                .is_none()
        );
        let done = reassembler
            .add(key(), frag(16, true), &data[16..32], 3, &mut given_up)
            .expect("complete");
        assert_eq!(done.payload, data);
        assert_eq!(done.wrong, 0);
        assert_eq!(reassembler.oldest(), None);
    }

    #[test]
    fn overlaps_and_malformed_fragments_are_wrong() {
        let mut reassembler = Reassembler::default();
        let mut given_up = Vec::new();
        reassembler.add(key(), frag(0, true), &[1; 16], 1, &mut given_up);
        // An exact repeat is a retransmission, not wrong.
        reassembler.add(key(), frag(0, true), &[1; 16], 1, &mut given_up);
        // Overlapping with the same bytes but other bounds is wrong (teardrop).
        reassembler.add(key(), frag(8, true), &[1; 16], 1, &mut given_up);
        // A middle fragment of 5 bytes is malformed.
        reassembler.add(key(), frag(24, true), &[2; 5], 1, &mut given_up);
        // Empty.
        reassembler.add(key(), frag(40, true), &[], 1, &mut given_up);
        let done = reassembler
            .add(key(), frag(24, false), &[3; 8], 2, &mut given_up)
            .expect("complete");
        assert_eq!(done.wrong, 4);
        assert_eq!(&done.payload[..24], &[1; 24]);
        assert_eq!(&done.payload[24..29], &[2; 5], "the first bytes win");
        assert_eq!(reassembler.wrong_total, 4);
    }

    #[test]
    fn oversized_fragment_is_wrong_and_dropped() {
        let mut reassembler = Reassembler::default();
        let mut given_up = Vec::new();
        reassembler.add(key(), frag(65_512, false), &[0; 16], 1, &mut given_up);
        reassembler.expire(None, &mut given_up);
        assert_eq!(given_up.len(), 1);
        assert_eq!(given_up[0].wrong, 1);
        assert!(given_up[0].payload.is_empty());
    }

    #[test]
    fn datagrams_time_out_and_the_pending_ones_are_capped() {
        let mut reassembler = Reassembler::default();
        let mut given_up = Vec::new();
        for id in 0..MAX_PENDING as u32 + 1 {
            let key = DatagramKey { id, ..key() };
            reassembler.add(key, frag(0, true), &[0; 8], i64::from(id), &mut given_up);
        }
        assert_eq!(given_up.len(), 1, "the oldest made room");
        assert_eq!(given_up[0].key.id, 0);
        assert_eq!(given_up[0].payload, [0; 8]);
        reassembler.expire(Some(TIMEOUT_NS + 10), &mut given_up);
        assert_eq!(given_up.len(), 1 + 10, "ids 1 to 10 waited their 30 s");
        assert_eq!(reassembler.oldest(), Some(11));
    }
}
