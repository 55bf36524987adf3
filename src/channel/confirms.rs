//! Publisher confirms (rabbit_confirms): each publish on a confirming channel gets the next
//! sequence number; it is settled at once (transient routing) or when its storage commit
//! completes. What the client is told is batched the way RabbitMQ batches it: acks first,
//! then nacks; the run of settled sequences starting at the lowest one not yet confirmed goes
//! out as one frame with `multiple` (an ack of a lone sequence without it), every later one
//! on its own, so no multiple-ack ever covers a nacked sequence. Pure: the channel turns the
//! output into frames.

use std::collections::BTreeSet;

/// Confirm bookkeeping of one channel.
#[derive(Debug)]
pub struct Confirms {
    next_seq: u64,
    /// Sequences waiting for storage.
    pending: BTreeSet<u64>,
    /// Nacked sequences above `confirmed_through`, and whether each was sent already.
    nacked: std::collections::BTreeMap<u64, bool>,
    /// Every sequence up to here has been acked or nacked to the client.
    confirmed_through: u64,
}

/// One basic.ack or basic.nack to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmFrame {
    /// basic.ack (true) or basic.nack (false).
    pub ack: bool,
    /// The delivery tag (publish sequence).
    pub tag: u64,
    /// Whether it covers every earlier unconfirmed sequence too.
    pub multiple: bool,
}

impl ConfirmFrame {
    fn ack(tag: u64, multiple: bool) -> Self {
        ConfirmFrame {
            ack: true,
            tag,
            multiple,
        }
    }

    fn nack(tag: u64, multiple: bool) -> Self {
        ConfirmFrame {
            ack: false,
            tag,
            multiple,
        }
    }
}

impl Default for Confirms {
    fn default() -> Self {
        Confirms {
            next_seq: 1,
            pending: BTreeSet::new(),
            nacked: std::collections::BTreeMap::new(),
            confirmed_through: 0,
        }
    }
}

impl Confirms {
    /// The highest sequence number settled (acked or nacked) towards the client.
    pub fn confirmed_through(&self) -> u64 {
        self.confirmed_through
    }

    /// Publishes waiting for their confirm.
    pub fn unconfirmed(&self) -> u64 {
        (self.next_seq - 1).saturating_sub(self.confirmed_through)
    }

    /// Assigns the next sequence number to a publish.
    pub fn next_sequence(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Marks `seq` as waiting for storage.
    pub fn hold(&mut self, seq: u64) {
        self.pending.insert(seq);
    }

    /// Settles `seq`: `ok` false nacks it.
    pub fn settle(&mut self, seq: u64, ok: bool) {
        self.pending.remove(&seq);
        if !ok {
            self.nack(seq);
        }
    }

    /// Nacks `seq` (a rejected publish) whether or not it was held.
    pub fn nack(&mut self, seq: u64) {
        self.pending.remove(&seq);
        if seq > self.confirmed_through {
            self.nacked.entry(seq).or_insert(false);
        }
    }

    /// What to tell the client now, in sending order.
    pub fn take_output(&mut self) -> Vec<ConfirmFrame> {
        let settled_through = match self.pending.first() {
            Some(first) => first - 1,
            None => self.next_seq - 1,
        };
        let mut acks = Vec::new();
        let mut nacks = Vec::new();
        let mut tag = self.confirmed_through + 1;
        // The first run: everything from the lowest unconfirmed sequence on of one kind.
        if tag <= settled_through {
            match self.nacked.get(&tag).copied() {
                None => {
                    let end = self
                        .nacked
                        .range(tag..=settled_through)
                        .next()
                        .map_or(settled_through, |(&n, _)| n - 1);
                    acks.push(ConfirmFrame::ack(end, end > tag));
                    tag = end + 1;
                }
                Some(false) => {
                    let mut end = tag;
                    while end < settled_through && self.nacked.get(&(end + 1)) == Some(&false) {
                        end += 1;
                    }
                    nacks.push(ConfirmFrame::nack(end, true));
                    tag = end + 1;
                }
                Some(true) => {}
            }
        }
        // The rest one by one, skipping nacks already sent.
        let rest: Vec<(u64, bool)> = self
            .nacked
            .range(tag..=settled_through.max(tag))
            .map(|(&n, &sent)| (n, sent))
            .collect();
        let mut next_nack = rest.iter().peekable();
        while tag <= settled_through {
            match next_nack.peek() {
                Some(&&(n, sent)) if n == tag => {
                    if !sent {
                        nacks.push(ConfirmFrame::nack(tag, false));
                    }
                    next_nack.next();
                }
                _ => acks.push(ConfirmFrame::ack(tag, false)),
            }
            tag += 1;
        }
        if settled_through > self.confirmed_through {
            self.confirmed_through = settled_through;
            self.nacked = self.nacked.split_off(&(settled_through + 1));
        }
        // Nacks above a still-pending sequence go out now, on their own.
        for (&n, sent) in self.nacked.iter_mut() {
            if !*sent {
                *sent = true;
                nacks.push(ConfirmFrame::nack(n, false));
            }
        }
        acks.extend(nacks);
        acks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(c: &mut Confirms) -> Vec<(bool, u64, bool)> {
        c.take_output()
            .into_iter()
            .map(|f| (f.ack, f.tag, f.multiple))
            .collect()
    }

    const ACK: bool = true;
    const NACK: bool = false;

    #[test]
    fn settled_publishes_are_acked_with_one_multiple_ack() {
        let mut c = Confirms::default();
        for _ in 0..3 {
            c.next_sequence();
        }
        assert_eq!(frames(&mut c), [(ACK, 3, true)]);
        assert_eq!(frames(&mut c), []);
    }

    #[test]
    fn a_pending_publish_holds_back_later_acks() {
        let mut c = Confirms::default();
        let a = c.next_sequence();
        let b = c.next_sequence();
        c.hold(b);
        let _ = c.next_sequence();
        assert_eq!(frames(&mut c), [(ACK, a, false)]);
        c.settle(b, true);
        assert_eq!(frames(&mut c), [(ACK, 3, true)]);
    }

    #[test]
    fn acks_go_first_and_never_cover_a_nack() {
        // RabbitMQ 3.10.8: x-max-length 1, reject-publish; a, b, c -> ack 1, nack 2, nack 3.
        let mut c = Confirms::default();
        c.next_sequence();
        let b = c.next_sequence();
        let d = c.next_sequence();
        c.nack(b);
        c.nack(d);
        assert_eq!(
            frames(&mut c),
            [(ACK, 1, false), (NACK, 2, false), (NACK, 3, false)]
        );
        // x-max-length-bytes: ack, nack, ack -> ack 1, ack 3, nack 2.
        let mut c = Confirms::default();
        c.next_sequence();
        let b = c.next_sequence();
        c.next_sequence();
        c.nack(b);
        assert_eq!(
            frames(&mut c),
            [(ACK, 1, false), (ACK, 3, false), (NACK, 2, false)]
        );
    }

    #[test]
    fn nacks_from_the_lowest_unconfirmed_sequence_are_one_multiple_nack() {
        // RabbitMQ 3.10.8: x-max-length 0, reject-publish; a, b, c -> nack 3 multiple.
        let mut c = Confirms::default();
        for _ in 0..3 {
            let s = c.next_sequence();
            c.nack(s);
        }
        assert_eq!(frames(&mut c), [(NACK, 3, true)]);
        let s = c.next_sequence();
        c.nack(s);
        assert_eq!(frames(&mut c), [(NACK, 4, true)]);
    }

    #[test]
    fn a_nack_above_a_pending_publish_is_sent_at_once_and_only_once() {
        let mut c = Confirms::default();
        let a = c.next_sequence();
        c.hold(a);
        let b = c.next_sequence();
        c.nack(b);
        c.next_sequence();
        assert_eq!(frames(&mut c), [(NACK, 2, false)]);
        c.settle(a, true);
        assert_eq!(frames(&mut c), [(ACK, 1, false), (ACK, 3, false)]);
    }

    #[test]
    fn a_lone_publish_is_acked_without_multiple() {
        let mut c = Confirms::default();
        c.next_sequence();
        assert_eq!(frames(&mut c), [(ACK, 1, false)]);
        c.next_sequence();
        c.next_sequence();
        assert_eq!(frames(&mut c), [(ACK, 3, true)]);
    }
}
