//! [`EventRing`]: the worker's bounded buffer of events not yet acknowledged by the master.

use std::collections::VecDeque;

use contextbay_proto::v1::Event;

/// Events waiting for the master's ack, oldest first, each with its sequence number.
///
/// Owned by the worker's connection loop, so it survives reconnects (not restarts: it lives in
/// memory). Sequence numbers strictly increase; when the ring is full the oldest event is
/// dropped and counted. Events are sent once per connection ([`EventRing::pending`] /
/// [`EventRing::mark_sent`]); an ack removes everything up to the acked seq; after a reconnect
/// ([`EventRing::resend_all`]) every unacked event is sent again with its seq, and the master
/// de-duplicates by seq.
#[derive(Debug)]
pub struct EventRing {
    events: VecDeque<Event>,
    capacity: usize,
    next_seq: u64,
    sent_upto: u64,
    dropped_total: u64,
}

impl EventRing {
    /// A ring for `capacity` events whose first seq is `first_seq` (at least 1).
    pub fn new(capacity: usize, first_seq: u64) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
            next_seq: first_seq.max(1),
            sent_upto: 0,
            dropped_total: 0,
        }
    }

    /// Assigns the next seq to `event` and buffers it, dropping the oldest when full.
    pub fn push(&mut self, mut event: Event) -> u64 {
        event.seq = self.next_seq;
        self.next_seq += 1;
        if self.events.len() == self.capacity {
            self.events.pop_front();
            self.dropped_total += 1;
        }
        let seq = event.seq;
        self.events.push_back(event);
        seq
    }

    /// The master already stores events up to `last_seq`: never assign one at or below it, and
    /// forget buffered events it already has.
    pub fn master_has(&mut self, last_seq: u64) {
        self.next_seq = self.next_seq.max(last_seq.saturating_add(1));
        self.ack(last_seq);
    }

    /// Up to `max` events not yet sent on this connection, in seq order.
    pub fn pending(&self, max: usize) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.seq <= self.sent_upto);
        self.events.iter().skip(start).take(max).cloned().collect()
    }

    pub fn has_pending(&self) -> bool {
        self.events.back().is_some_and(|e| e.seq > self.sent_upto)
    }

    pub fn mark_sent(&mut self, upto: u64) {
        self.sent_upto = self.sent_upto.max(upto);
    }

    /// Drops every event with seq ≤ `highest_seq`.
    pub fn ack(&mut self, highest_seq: u64) {
        while self.events.front().is_some_and(|e| e.seq <= highest_seq) {
            self.events.pop_front();
        }
    }

    /// A new connection: everything still buffered goes out again.
    pub fn resend_all(&mut self) {
        self.sent_upto = 0;
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Events dropped because the ring was full, since the worker started.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str) -> Event {
        Event {
            action: action.into(),
            ..Default::default()
        }
    }

    fn seqs(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn bounded_and_drops_oldest_with_a_counter() {
        let mut ring = EventRing::new(3, 1);
        for i in 0..5 {
            ring.push(ev(&i.to_string()));
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.dropped_total(), 2);
        let pending = ring.pending(10);
        assert_eq!(seqs(&pending), [3, 4, 5]);
        assert_eq!(pending[0].action, "2");
    }

    #[test]
    fn ack_trims_and_reconnect_resends_the_rest_with_their_seq() {
        let mut ring = EventRing::new(100, 10);
        for _ in 0..5 {
            ring.push(ev("x"));
        }
        let batch = ring.pending(3);
        assert_eq!(seqs(&batch), [10, 11, 12]);
        ring.mark_sent(12);
        assert_eq!(seqs(&ring.pending(10)), [13, 14]);
        // The master stored up to 11 only.
        ring.ack(11);
        assert_eq!(ring.len(), 3);
        ring.mark_sent(14);
        assert!(!ring.has_pending());
        ring.resend_all();
        assert_eq!(seqs(&ring.pending(10)), [12, 13, 14]);
        ring.ack(14);
        assert!(ring.is_empty());
        assert_eq!(ring.push(ev("y")), 15);
    }

    #[test]
    fn seq_never_goes_below_what_the_master_has() {
        let mut ring = EventRing::new(10, 1);
        ring.push(ev("a"));
        ring.push(ev("b"));
        ring.master_has(100);
        assert!(ring.is_empty());
        assert_eq!(ring.push(ev("c")), 101);
        ring.master_has(50);
        assert_eq!(ring.push(ev("d")), 102);
    }
}
