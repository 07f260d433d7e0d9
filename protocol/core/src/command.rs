//! The UI server's side of the command channel, sans-IO: numbering, one command in flight,
//! retransmission after a reconnect (as [`crate::job::JobCore`] does for jobs). The tokio
//! driver is `protocol_gateway::schedclient`; the channel model drives this same core.
//!
//! The scheduler consumes a command's sequence number only when it applies the command; one it
//! refuses for what it asks (a target that does not exist, say) leaves the number unused there.
//! So the core numbers a command only when it is about to be sent and nothing else is numbered,
//! and hands a refused number to the next command. Were several commands numbered ahead, one
//! refusal would turn every later one — from anyone, for as long as the UI server runs — into a
//! sequence gap (the bug the channel model's `command-liveness` property catches).

use std::collections::{BTreeMap, VecDeque};

use crate::checks::{Defences, Flaw};
use crate::ids::Owner;
use crate::wire::{ClientCommand, CommandOp, Message, RejectCode, Reply};

/// Commands waiting to be sent, at most (one per person's request that timed out).
pub const MAX_QUEUED: usize = 64;

/// Outcomes kept for callers that have not taken them, at most (a caller that gave up never
/// will; the oldest is forgotten first).
pub const MAX_OUTCOMES: usize = 64;

/// What the scheduler said about a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandOutcome {
    /// Applied and durable (or a duplicate of one that was).
    Accepted,
    /// Refused for good.
    Rejected(RejectCode),
}

/// A caller's handle on the command it asked for (sequence numbers are assigned later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// A reply the core did not expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("reply for command {0}, which is not outstanding")]
pub struct UnexpectedReply(pub u64);

/// The queue is full: [`MAX_QUEUED`] commands wait to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{MAX_QUEUED} commands are already waiting for the scheduler")]
pub struct QueueFull;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Pending {
    ticket: Ticket,
    actor: Owner,
    op: CommandOp,
    target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct InFlight {
    ticket: Ticket,
    command: ClientCommand,
    /// Written on the current connection (cleared when it drops, so it is written again).
    sent: bool,
}

/// Numbering and retransmission of commands, sans-IO. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandCore {
    defences: Defences,
    next_seq: u64,
    next_ticket: u64,
    queued: VecDeque<Pending>,
    in_flight: Option<InFlight>,
    outcomes: BTreeMap<Ticket, CommandOutcome>,
    connected: bool,
}

impl Default for CommandCore {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandCore {
    /// A core whose first command will carry sequence number 1.
    #[must_use]
    pub fn new() -> Self {
        Self::with_defences(Defences::all())
    }

    /// A core with `defences` (verification builds can give it [`Flaw::BurnRefusedNumber`]).
    #[must_use]
    pub fn with_defences(defences: Defences) -> Self {
        Self {
            defences,
            next_seq: 1,
            next_ticket: 0,
            queued: VecDeque::new(),
            in_flight: None,
            outcomes: BTreeMap::new(),
            connected: false,
        }
    }

    /// Queues a command on behalf of `actor`.
    ///
    /// # Errors
    /// [`QueueFull`] when [`MAX_QUEUED`] commands are already waiting.
    pub fn send(&mut self, actor: Owner, op: CommandOp, target: String) -> Result<Ticket, QueueFull> {
        if self.queued.len() >= MAX_QUEUED {
            return Err(QueueFull);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.queued.push_back(Pending {
            ticket,
            actor,
            op,
            target,
        });
        Ok(ticket)
    }

    /// The connection is up.
    pub fn handle_connected(&mut self) {
        self.connected = true;
    }

    /// The connection dropped: the command in flight is written again, unchanged, on the next.
    pub fn handle_disconnect(&mut self) {
        self.connected = false;
        if let Some(f) = self.in_flight.as_mut() {
            f.sent = false;
        }
    }

    /// The next message to write: the command in flight if this connection has not carried it,
    /// else the next queued command, numbered now, once nothing is in flight.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        if !self.connected {
            return None;
        }
        if let Some(f) = self.in_flight.as_mut() {
            if f.sent {
                return None;
            }
            f.sent = true;
            return Some(Message::Command(f.command.clone()));
        }
        let p = self.queued.pop_front()?;
        let command = ClientCommand {
            seq: self.next_seq,
            actor: p.actor,
            op: p.op,
            target: p.target,
        };
        self.next_seq += 1;
        self.in_flight = Some(InFlight {
            ticket: p.ticket,
            command: command.clone(),
            sent: true,
        });
        Some(Message::Command(command))
    }

    /// A reply from the scheduler.
    ///
    /// # Errors
    /// [`UnexpectedReply`] for a reply to nothing outstanding on this connection.
    pub fn handle_reply(&mut self, reply: Reply) -> Result<(), UnexpectedReply> {
        let (seq, outcome) = match reply {
            Reply::Ack { seq } => (seq, CommandOutcome::Accepted),
            Reply::Rejected { seq, code } => (seq, CommandOutcome::Rejected(code)),
        };
        let Some(f) = self.in_flight.take_if(|f| f.sent && f.command.seq == seq) else {
            return Err(UnexpectedReply(seq));
        };
        if let CommandOutcome::Rejected(code) = outcome
            && !matches!(code, RejectCode::SequenceGap | RejectCode::ReplayedSequence)
            && !self.defences.has_flaw(Flaw::BurnRefusedNumber)
        {
            // Refused for what it asks: the scheduler still expects this number. Nothing else
            // is numbered, so the next command can carry it.
            self.next_seq = seq;
        }
        if self.outcomes.len() >= MAX_OUTCOMES {
            self.outcomes.pop_first();
        }
        self.outcomes.insert(f.ticket, outcome);
        Ok(())
    }

    /// The outcome of the command behind `ticket`, once (it is forgotten when taken).
    pub fn take_outcome(&mut self, ticket: Ticket) -> Option<CommandOutcome> {
        self.outcomes.remove(&ticket)
    }

    /// Whether a command is written and waiting for its answer on this connection.
    #[must_use]
    pub fn awaiting_reply(&self) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.sent)
    }

    /// Whether nothing is waiting to be sent or answered.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.in_flight.is_none()
    }

    /// The sequence number the next new command will carry.
    #[must_use]
    pub const fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jacintar() -> Owner {
        Owner::new("jacintar").expect("valid")
    }

    fn seq(m: Option<Message>) -> Option<u64> {
        m.map(|m| m.seq())
    }

    #[test]
    fn commands_are_numbered_when_sent_one_at_a_time_and_resent_unchanged_after_a_reconnect() {
        let mut core = CommandCore::new();
        let t1 = core.send(jacintar(), CommandOp::Hold, "1/a".into()).expect("queued");
        let t2 = core.send(jacintar(), CommandOp::Stop, "*".into()).expect("queued");
        assert_eq!(core.poll_transmit(), None, "nothing is sent while disconnected");
        core.handle_connected();
        let first = core.poll_transmit().expect("command 1");
        assert_eq!(first.seq(), 1);
        assert_eq!(core.poll_transmit(), None, "one command in flight at a time");
        core.handle_disconnect();
        core.handle_connected();
        assert_eq!(core.poll_transmit().as_ref(), Some(&first), "resent byte for byte");
        core.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        assert_eq!(core.take_outcome(t1), Some(CommandOutcome::Accepted));
        assert_eq!(core.take_outcome(t1), None, "an outcome is taken once");
        assert_eq!(seq(core.poll_transmit()), Some(2));
        assert_eq!(core.handle_reply(Reply::Ack { seq: 9 }), Err(UnexpectedReply(9)));
        core.handle_reply(Reply::Ack { seq: 2 }).expect("ack");
        assert_eq!(core.take_outcome(t2), Some(CommandOutcome::Accepted));
        assert!(core.is_idle());
    }

    #[test]
    fn the_core_reports_whether_it_is_idle_or_awaiting_a_reply_at_each_step() {
        let mut core = CommandCore::new();
        assert!(core.is_idle() && !core.awaiting_reply());
        core.send(jacintar(), CommandOp::Hold, "1/a".into()).expect("queued");
        assert!(!core.is_idle() && !core.awaiting_reply(), "queued");
        core.handle_connected();
        let _ = core.poll_transmit();
        assert!(!core.is_idle() && core.awaiting_reply(), "in flight, nothing queued");
        core.handle_disconnect();
        assert!(
            !core.is_idle() && !core.awaiting_reply(),
            "in flight, to be written again"
        );
        core.handle_connected();
        let _ = core.poll_transmit();
        core.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        assert!(core.is_idle() && !core.awaiting_reply());
    }

    #[test]
    fn a_reply_before_the_command_was_written_on_this_connection_is_unexpected() {
        let mut core = CommandCore::new();
        core.send(jacintar(), CommandOp::Hold, "1/a".into()).expect("queued");
        core.handle_connected();
        assert_eq!(seq(core.poll_transmit()), Some(1));
        core.handle_disconnect();
        core.handle_connected();
        assert_eq!(core.handle_reply(Reply::Ack { seq: 1 }), Err(UnexpectedReply(1)));
        assert!(!core.awaiting_reply());
    }

    #[test]
    fn a_refused_command_hands_its_number_to_the_next_one_even_with_others_waiting() {
        let mut core = CommandCore::new();
        core.handle_connected();
        let refused = core
            .send(jacintar(), CommandOp::Hold, "1/no_such_task".into())
            .expect("queued");
        let next = core.send(jacintar(), CommandOp::Hold, "1/a".into()).expect("queued");
        assert_eq!(seq(core.poll_transmit()), Some(1));
        core.handle_reply(Reply::Rejected {
            seq: 1,
            code: RejectCode::InvalidTransition,
        })
        .expect("reply");
        assert_eq!(
            core.take_outcome(refused),
            Some(CommandOutcome::Rejected(RejectCode::InvalidTransition))
        );
        // The scheduler never applied 1, so it still expects 1.
        assert_eq!(seq(core.poll_transmit()), Some(1), "the waiting command takes number 1");
        core.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        assert_eq!(core.take_outcome(next), Some(CommandOutcome::Accepted));
        assert_eq!(core.next_seq(), 2);
    }

    #[test]
    fn a_refusal_of_the_number_itself_does_not_hand_it_back() {
        for code in [RejectCode::SequenceGap, RejectCode::ReplayedSequence] {
            let mut core = CommandCore::new();
            core.handle_connected();
            core.send(jacintar(), CommandOp::Release, "1/a".into()).expect("queued");
            assert_eq!(seq(core.poll_transmit()), Some(1));
            core.handle_reply(Reply::Rejected { seq: 1, code }).expect("reply");
            assert_eq!(core.next_seq(), 2, "{code:?}");
        }
    }

    #[test]
    fn the_queue_and_the_untaken_outcomes_are_bounded() {
        let mut core = CommandCore::new();
        for _ in 0..MAX_QUEUED {
            core.send(jacintar(), CommandOp::Hold, "1/a".into()).expect("queued");
        }
        assert_eq!(core.send(jacintar(), CommandOp::Hold, "1/a".into()), Err(QueueFull));
        core.handle_connected();
        for n in 1..=MAX_QUEUED as u64 {
            assert_eq!(seq(core.poll_transmit()), Some(n));
            core.handle_reply(Reply::Ack { seq: n }).expect("ack");
        }
        assert!(core.is_idle());
        assert_eq!(core.outcomes.len(), MAX_OUTCOMES);
        core.send(jacintar(), CommandOp::Hold, "1/a".into()).expect("queued");
        let _ = core.poll_transmit();
        core.handle_reply(Reply::Ack { seq: 65 }).expect("ack");
        assert_eq!(
            core.outcomes.len(),
            MAX_OUTCOMES,
            "the oldest untaken outcome is forgotten"
        );
        assert_eq!(core.take_outcome(Ticket(0)), None);
        assert_eq!(core.take_outcome(Ticket(64)), Some(CommandOutcome::Accepted));
    }
}
