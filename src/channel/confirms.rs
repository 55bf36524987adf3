//! Publisher confirms (rabbit_confirms): each publish on a confirming channel gets the next
//! sequence number; it is settled at once (transient routing) or when its storage commit
//! completes. What the client is told is batched: nacks individually first, then one
//! `basic.ack multiple=true` for the highest sequence below which nothing is pending.
//! Pure: the channel turns the output into frames.

use std::collections::BTreeSet;

/// Confirm bookkeeping of one channel.
#[derive(Debug)]
pub struct Confirms {
    next_seq: u64,
    /// Sequences waiting for storage.
    pending: BTreeSet<u64>,
    /// Nacks not yet sent.
    unsent_nacks: Vec<u64>,
    /// Sequences already nacked and not yet covered by a multiple-ack (so the ack skips them).
    nacked: BTreeSet<u64>,
    /// Highest sequence the client has been acked or nacked up to.
    acked_through: u64,
}

/// What to send: individual nacks, then at most one ack.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfirmOutput {
    /// Sequence numbers to nack one by one.
    pub nacks: Vec<u64>,
    /// Sequence to ack, with multiple=true when it settles more than that one sequence
    /// (RabbitMQ acks a lone publish with multiple=false, and some clients count on it).
    pub ack_through: Option<u64>,
    /// Whether the ack covers earlier sequences too.
    pub ack_multiple: bool,
}

impl Default for Confirms {
    fn default() -> Self {
        Confirms {
            next_seq: 1,
            pending: BTreeSet::new(),
            unsent_nacks: Vec::new(),
            nacked: BTreeSet::new(),
            acked_through: 0,
        }
    }
}

impl Confirms {
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
        if seq > self.acked_through && self.nacked.insert(seq) {
            self.unsent_nacks.push(seq);
        }
    }

    /// What to tell the client now.
    pub fn take_output(&mut self) -> ConfirmOutput {
        let nacks = std::mem::take(&mut self.unsent_nacks);
        let settled_through = match self.pending.first() {
            Some(first) => first - 1,
            None => self.next_seq - 1,
        };
        let mut ack_through = None;
        let mut ack_multiple = false;
        if settled_through > self.acked_through {
            // Ack up to the highest settled sequence that was not nacked.
            let mut top = settled_through;
            while top > self.acked_through && self.nacked.contains(&top) {
                top -= 1;
            }
            if top > self.acked_through {
                ack_through = Some(top);
                ack_multiple = top > self.acked_through + 1;
            }
            self.acked_through = settled_through;
            self.nacked = self.nacked.split_off(&(settled_through + 1));
        }
        ConfirmOutput {
            nacks,
            ack_through,
            ack_multiple,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_publishes_are_acked_with_one_multiple_ack() {
        let mut c = Confirms::default();
        for _ in 0..3 {
            c.next_sequence();
        }
        assert_eq!(
            c.take_output(),
            ConfirmOutput {
                nacks: vec![],
                ack_through: Some(3),
                ack_multiple: true,
            }
        );
        assert_eq!(c.take_output(), ConfirmOutput::default());
    }

    #[test]
    fn a_pending_publish_holds_back_later_acks() {
        let mut c = Confirms::default();
        let a = c.next_sequence();
        let b = c.next_sequence();
        c.hold(b);
        let _ = c.next_sequence();
        assert_eq!(c.take_output().ack_through, Some(a));
        c.settle(b, true);
        assert_eq!(c.take_output().ack_through, Some(3));
    }

    #[test]
    fn nacks_go_first_and_the_ack_skips_them() {
        let mut c = Confirms::default();
        c.next_sequence();
        let b = c.next_sequence();
        c.nack(b);
        assert_eq!(
            c.take_output(),
            ConfirmOutput {
                nacks: vec![2],
                ack_through: Some(1),
                ack_multiple: false,
            }
        );
        let d = c.next_sequence();
        c.nack(d);
        assert_eq!(
            c.take_output(),
            ConfirmOutput {
                nacks: vec![3],
                ack_through: None,
                ack_multiple: false,
            }
        );
        c.next_sequence();
        let out = c.take_output();
        assert_eq!((out.ack_through, out.ack_multiple), (Some(4), false));
    }

    #[test]
    fn a_lone_publish_is_acked_without_multiple() {
        let mut c = Confirms::default();
        c.next_sequence();
        let out = c.take_output();
        assert_eq!((out.ack_through, out.ack_multiple), (Some(1), false));
        c.next_sequence();
        c.next_sequence();
        let out = c.take_output();
        assert_eq!((out.ack_through, out.ack_multiple), (Some(3), true));
    }
}
