//! The handshake slots: how many connections may be between accept and their first
//! authenticated transport frame at once, the only phase anyone can hold without a key (a
//! silent socket, a replayed message 1 that gets message 2, a bogus message 1).
//!
//! When every slot is taken, a newcomer takes the slot of the connection that has held one
//! longest, which is told to close (`handshake-eviction`). An honest job holds a slot for one
//! round trip and a frame, an attacker's connection for as long as the deadline lets it; so
//! the oldest holder is almost always the attacker's, and an attacker who wants to push out an
//! honest handshake must open a whole table's worth of connections within that round trip.
//! Refusing newcomers instead, as a plain semaphore does, lets a slow trickle of held
//! connections (a table's worth per handshake deadline) lock every honest job out.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use super::core_task::ConnId;

/// The table of held slots, oldest (lowest connection number) first.
pub(crate) struct HandshakeSlots {
    max: usize,
    /// Without `handshake-eviction` (verification builds only): a full table refuses.
    refuse_when_full: bool,
    held: Mutex<BTreeMap<ConnId, oneshot::Sender<()>>>,
}

/// One connection's slot, given back when dropped. `evicted` resolves when a newcomer took it.
pub(crate) struct Slot<'a> {
    slots: &'a HandshakeSlots,
    conn: ConnId,
    pub evicted: oneshot::Receiver<()>,
}

/// What taking a slot did.
pub(crate) enum Taken<'a> {
    /// A free slot.
    Free(Slot<'a>),
    /// The oldest holder's slot; it has been told to close.
    Evicted(Slot<'a>),
    /// None free and none taken (only without `handshake-eviction`).
    Refused,
}

impl HandshakeSlots {
    pub fn new(max: usize, refuse_when_full: bool) -> Self {
        Self {
            max: max.max(1),
            refuse_when_full,
            held: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes a slot for `conn` (connection numbers grow with arrival: lower is older).
    pub fn take(&self, conn: ConnId) -> Taken<'_> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mut evicted = false;
        if held.len() >= self.max {
            if self.refuse_when_full {
                return Taken::Refused;
            }
            if let Some((_, tell)) = held.pop_first() {
                // The holder may be finishing at this moment; then there is no one to tell.
                let _ = tell.send(());
                evicted = true;
            }
        }
        let (tell, told) = oneshot::channel();
        held.insert(conn, tell);
        let slot = Slot {
            slots: self,
            conn,
            evicted: told,
        };
        if evicted {
            Taken::Evicted(slot)
        } else {
            Taken::Free(slot)
        }
    }

    #[cfg(test)]
    fn held(&self) -> Vec<ConnId> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(t: Taken<'_>) -> (Slot<'_>, bool) {
        match t {
            Taken::Free(s) => (s, false),
            Taken::Evicted(s) => (s, true),
            Taken::Refused => panic!("refused"),
        }
    }

    #[test]
    fn a_full_table_gives_the_newcomer_the_oldest_holders_slot_and_tells_that_holder() {
        let slots = HandshakeSlots::new(2, false);
        let (mut first, e1) = slot(slots.take(1));
        let (second, e2) = slot(slots.take(2));
        assert!(!e1 && !e2);
        let (third, e3) = slot(slots.take(3));
        assert!(e3, "the third connection found the table full");
        assert_eq!(first.evicted.try_recv(), Ok(()), "the oldest holder is told to close");
        assert_eq!(slots.held(), vec![2, 3]);
        drop(first);
        assert_eq!(
            slots.held(),
            vec![2, 3],
            "an evicted slot's drop frees nothing of another's"
        );
        drop(second);
        let (_fourth, e4) = slot(slots.take(4));
        assert!(!e4, "a slot given back is free for the next");
        assert_eq!(slots.held(), vec![3, 4]);
        drop(third);
    }

    #[test]
    fn a_holder_that_finishes_gives_its_slot_back_and_is_never_told_to_close() {
        let slots = HandshakeSlots::new(1, false);
        let (mut only, _) = slot(slots.take(7));
        assert!(
            only.evicted
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Empty)
        );
        drop(only);
        assert!(slots.held().is_empty());
        let (_next, evicted) = slot(slots.take(8));
        assert!(!evicted, "the slot given back was free");
    }

    #[test]
    fn without_eviction_a_full_table_refuses_the_newcomer_and_keeps_the_old() {
        let slots = HandshakeSlots::new(1, true);
        let (mut first, _) = slot(slots.take(1));
        assert!(matches!(slots.take(2), Taken::Refused));
        assert!(
            first
                .evicted
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Empty)
        );
        assert_eq!(slots.held(), vec![1]);
    }
}
