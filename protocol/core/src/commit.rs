//! The scheduler's durability policy, sans-IO: which answer waits for which write.
//!
//! The scheduler core emits events (the durable facts of the event log) and the driver gives
//! answers: an `ack` or a rejection to a job or a UI server, a launch's registration verdict,
//! an operator's "revoked". An answer may leave only once every event emitted before it is
//! durable. A job that hears `ack` stops resending and an operator told "revoked" stops
//! acting, so an answer that overtook its event would be a promise the next crash breaks: the
//! message lost with nobody to resend it, the revoked key live again after a restart.
//!
//! [`Commit`] groups events and answers into batches (group commit): the driver takes a batch
//! with [`Commit::poll_commit`], makes its events durable, and only then releases its
//! answers. The tokio server and the model both run this policy, so the model's crashes lose
//! exactly what the server's would.

use crate::checks::{Defences, Flaw};
use crate::scheduler::Event;

/// What an answer tells its receiver, which decides what a crash may not undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// A reply to a job's or a UI server's message.
    Reply,
    /// A launch's registration verdict (the job connects as soon as it hears it).
    Registration,
    /// An operator's revocation answer.
    Revocation,
    /// A caller waiting for everything so far to be durable.
    Sync,
}

/// One group commit: events to make durable, then the answers they release.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Batch<R> {
    /// Events to append to the log, in order.
    pub events: Vec<Event>,
    /// Answers to release once the events are durable, in order.
    pub answers: Vec<R>,
}

/// The group-commit policy. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Commit<R> {
    defences: Defences,
    events: Vec<Event>,
    answers: Vec<R>,
    /// Only with a flaw that releases answers early: answers that wait for nothing.
    early: Vec<R>,
}

impl<R> Commit<R> {
    /// An empty policy for a scheduler built with `defences` (verification builds can give it
    /// [`Flaw::AckBeforeDurable`] or [`Flaw::RevocationBeforeDurable`]).
    #[must_use]
    pub const fn new(defences: Defences) -> Self {
        Self {
            defences,
            events: Vec::new(),
            answers: Vec::new(),
            early: Vec::new(),
        }
    }

    /// Takes in an event the core emitted (from `SchedulerCore::poll_event`).
    pub fn handle_event(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Takes in an answer: it waits for every event taken in before it.
    pub fn hold(&mut self, kind: Answer, answer: R) {
        let early = match kind {
            Answer::Reply => self.defences.has_flaw(Flaw::AckBeforeDurable),
            Answer::Revocation => self.defences.has_flaw(Flaw::RevocationBeforeDurable),
            Answer::Registration | Answer::Sync => false,
        };
        if early {
            self.early.push(answer);
        } else {
            self.answers.push(answer);
        }
    }

    /// An answer that may leave now, before any write. In a production build there is none:
    /// every answer waits for its batch.
    pub fn poll_release(&mut self) -> Option<R> {
        if self.early.is_empty() {
            None
        } else {
            Some(self.early.remove(0))
        }
    }

    /// The next batch to make durable, if anything waits.
    pub fn poll_commit(&mut self) -> Option<Batch<R>> {
        if self.events.is_empty() && self.answers.is_empty() {
            return None;
        }
        Some(Batch {
            events: std::mem::take(&mut self.events),
            answers: std::mem::take(&mut self.answers),
        })
    }

    /// Whether nothing waits (no event, no answer).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.answers.is_empty() && self.early.is_empty()
    }

    /// The events not yet durable, oldest first.
    #[must_use]
    pub fn pending_events(&self) -> &[Event] {
        &self.events
    }

    /// Drops the answers `keep` refuses (their receiver is gone: a closed connection).
    pub fn retain_answers(&mut self, mut keep: impl FnMut(&R) -> bool) {
        self.answers.retain(&mut keep);
        self.early.retain(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{JobId, WorkflowId};
    use crate::scheduler::RevokeReason;

    fn event() -> Event {
        let workflow = WorkflowId::new("alice", "wf").expect("a valid workflow");
        Event::Revoked {
            job: JobId::new(workflow, "1", "a", 1).expect("a valid job"),
            reason: RevokeReason::Operator,
        }
    }

    #[test]
    fn an_answer_leaves_only_in_the_batch_that_carries_the_events_before_it() {
        let mut commit = Commit::new(Defences::all());
        commit.handle_event(event());
        commit.hold(Answer::Reply, 1);
        commit.hold(Answer::Revocation, 2);
        assert_eq!(commit.poll_release(), None, "nothing bypasses the write");
        let batch = commit.poll_commit().expect("a batch");
        assert_eq!(batch.events, vec![event()]);
        assert_eq!(batch.answers, vec![1, 2]);
        assert!(commit.is_empty() && commit.poll_commit().is_none());
    }

    #[test]
    fn the_policy_is_empty_only_with_no_event_no_answer_and_nothing_to_release_early() {
        let mut commit: Commit<u8> = Commit::new(Defences::all());
        assert!(commit.is_empty() && commit.pending_events().is_empty());
        commit.handle_event(event());
        assert!(!commit.is_empty(), "an event waits");
        assert_eq!(commit.pending_events(), [event()]);
        let _ = commit.poll_commit();
        assert!(commit.is_empty() && commit.pending_events().is_empty());
        commit.hold(Answer::Sync, 1);
        assert!(!commit.is_empty(), "an answer waits");
        assert!(commit.pending_events().is_empty(), "answers are not events");
    }

    #[cfg(feature = "weaken")]
    #[test]
    fn an_answer_released_early_still_counts_as_waiting_until_it_is_taken() {
        let mut commit = Commit::new(Defences::all().with_flaw(Flaw::AckBeforeDurable));
        commit.hold(Answer::Reply, 1);
        assert!(!commit.is_empty());
        assert_eq!(commit.poll_release(), Some(1));
        assert!(commit.is_empty());
    }

    #[test]
    fn a_batch_of_answers_alone_is_still_a_batch_so_a_sync_waits_for_earlier_writes() {
        let mut commit = Commit::new(Defences::all());
        commit.hold(Answer::Sync, 7);
        let batch = commit.poll_commit().expect("a batch");
        assert!(batch.events.is_empty());
        assert_eq!(batch.answers, vec![7]);
    }

    #[test]
    fn answers_for_a_closed_connection_are_dropped_and_the_rest_kept() {
        let mut commit = Commit::new(Defences::all());
        for n in 0..4 {
            commit.hold(Answer::Reply, n);
        }
        commit.retain_answers(|n| n % 2 == 0);
        assert_eq!(commit.poll_commit().expect("a batch").answers, vec![0, 2]);
    }

    #[cfg(feature = "weaken")]
    #[test]
    fn the_early_release_flaws_each_release_only_their_own_kind_of_answer() {
        let mut acks = Commit::new(Defences::all().with_flaw(Flaw::AckBeforeDurable));
        acks.hold(Answer::Reply, 1);
        acks.hold(Answer::Revocation, 2);
        assert_eq!(acks.poll_release(), Some(1));
        assert_eq!(acks.poll_release(), None);
        assert_eq!(acks.poll_commit().expect("a batch").answers, vec![2]);

        let mut revocations = Commit::new(Defences::all().with_flaw(Flaw::RevocationBeforeDurable));
        revocations.hold(Answer::Reply, 1);
        revocations.hold(Answer::Revocation, 2);
        revocations.hold(Answer::Registration, 3);
        assert_eq!(revocations.poll_release(), Some(2));
        assert_eq!(revocations.poll_release(), None);
        assert_eq!(revocations.poll_commit().expect("a batch").answers, vec![1, 3]);
    }
}
