//! The job's side of the channel as a sans-IO state machine: numbering, the window of
//! unacknowledged messages, and retransmission after a reconnect.
//!
//! A driver calls [`JobCore::send`] for each report, [`JobCore::poll_transmit`] for what to
//! write while connected, [`JobCore::handle_reply`] for each reply and
//! [`JobCore::handle_disconnect`] when the connection drops. Nothing is forgotten until the
//! scheduler acknowledges it, and every message is resent with its original sequence number,
//! which is what lets the scheduler de-duplicate (exactly-once effect).

use std::collections::{BTreeMap, VecDeque};

use crate::ids::JobId;
use crate::wire::{JobBody, JobMessage, Message, RejectCode, Reply};

/// Why the job gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum JobClientError {
    /// The scheduler refused a message; an honest job never recovers from that.
    #[error("scheduler rejected message {seq}: {code:?}")]
    Rejected {
        /// The message.
        seq: u64,
        /// Why.
        code: RejectCode,
    },
    /// The scheduler acknowledged a message that was never sent or is not outstanding.
    #[error("acknowledgement for message {0} which is not outstanding")]
    UnexpectedAck(u64),
}

/// The job side. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobCore {
    id: JobId,
    next_seq: u64,
    window: u64,
    queued: VecDeque<JobMessage>,
    unacked: BTreeMap<u64, JobMessage>,
    connected: bool,
    acked_final: bool,
}

impl JobCore {
    /// A job that keeps at most `window` messages unacknowledged (the scheduler's de-duplication
    /// window; SPEC.md §6).
    #[must_use]
    pub fn new(id: JobId, window: u64) -> Self {
        Self {
            id,
            next_seq: 1,
            window: window.max(1),
            queued: VecDeque::new(),
            unacked: BTreeMap::new(),
            connected: false,
            acked_final: false,
        }
    }

    /// The job's identity.
    #[must_use]
    pub const fn id(&self) -> &JobId {
        &self.id
    }

    /// Queues a report; returns its sequence number.
    pub fn send(&mut self, body: JobBody) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queued.push_back(JobMessage {
            seq,
            claim: self.id.clone(),
            body,
        });
        seq
    }

    /// The connection is up (handshake complete).
    pub fn handle_connected(&mut self) {
        self.connected = true;
    }

    /// The connection dropped: everything unacknowledged goes back to the front of the queue,
    /// in order, to be resent with the same sequence numbers.
    pub fn handle_disconnect(&mut self) {
        self.connected = false;
        let resend = std::mem::take(&mut self.unacked);
        for (_, message) in resend.into_iter().rev() {
            self.queued.push_front(message);
        }
    }

    /// The next message to write, if connected and the window allows.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        if !self.connected || self.unacked.len() as u64 >= self.window {
            return None;
        }
        let message = self.queued.pop_front()?;
        self.unacked.insert(message.seq, message.clone());
        Some(Message::Job(message))
    }

    /// A reply from the scheduler.
    ///
    /// # Errors
    /// [`JobClientError::Rejected`] for a rejection (the job should stop), or
    /// [`JobClientError::UnexpectedAck`].
    pub fn handle_reply(&mut self, reply: Reply) -> Result<(), JobClientError> {
        match reply {
            Reply::Ack { seq } => {
                let message = self.unacked.remove(&seq).ok_or(JobClientError::UnexpectedAck(seq))?;
                if matches!(message.body, JobBody::Succeeded | JobBody::Failed(_)) {
                    self.acked_final = true;
                }
                Ok(())
            }
            Reply::Rejected { seq, code } => Err(JobClientError::Rejected { seq, code }),
        }
    }

    /// Whether message `seq` was sent and the scheduler acknowledged it.
    #[must_use]
    pub fn is_acknowledged(&self, seq: u64) -> bool {
        seq >= 1 && seq < self.next_seq && !self.unacked.contains_key(&seq) && self.queued.iter().all(|m| m.seq != seq)
    }

    /// Messages sent but not yet acknowledged.
    #[must_use]
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }

    /// Whether every message has been acknowledged.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.unacked.is_empty()
    }

    /// Whether the final message (succeeded or failed) has been acknowledged.
    #[must_use]
    pub const fn is_finished(&self) -> bool {
        self.acked_final
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkflowId;

    fn core() -> JobCore {
        JobCore::new(
            JobId::new(WorkflowId::new("alice", "wf").expect("valid"), "1", "a", 1).expect("valid"),
            2,
        )
    }

    #[test]
    fn a_message_counts_as_acknowledged_only_once_sent_and_acked_and_never_before_it_is_queued() {
        let mut job = core();
        job.send(JobBody::Started);
        job.send(JobBody::Heartbeat);
        job.send(JobBody::Succeeded);
        job.handle_connected();
        let _ = job.poll_transmit();
        assert!(!job.is_acknowledged(1), "sent, not acked");
        job.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        assert!(job.is_acknowledged(1));
        assert!(!job.is_acknowledged(2) && !job.is_acknowledged(3), "queued");
        assert!(!job.is_acknowledged(0) && !job.is_acknowledged(4), "never sent");
        let _ = job.poll_transmit();
        job.handle_disconnect();
        assert!(!job.is_acknowledged(2), "back in the queue after a disconnect");
    }

    #[test]
    fn job_resends_unacknowledged_messages_with_their_sequence_after_a_reconnect() {
        let mut job = core();
        job.send(JobBody::Started);
        job.send(JobBody::Heartbeat);
        job.send(JobBody::Succeeded);
        job.handle_connected();
        let first: Vec<u64> = std::iter::from_fn(|| job.poll_transmit()).map(|m| m.seq()).collect();
        assert_eq!(first, vec![1, 2], "window of 2 holds back message 3");
        job.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        job.handle_disconnect();
        assert_eq!(job.poll_transmit(), None, "nothing is sent while disconnected");
        job.handle_connected();
        let second: Vec<u64> = std::iter::from_fn(|| job.poll_transmit()).map(|m| m.seq()).collect();
        assert_eq!(second, vec![2, 3]);
        job.handle_reply(Reply::Ack { seq: 2 }).expect("ack");
        job.handle_reply(Reply::Ack { seq: 3 }).expect("ack");
        assert!(job.is_finished() && job.is_idle());
    }

    #[test]
    fn the_job_reports_what_is_unacknowledged_idle_and_finished_at_each_step() {
        let mut job = core();
        assert!(job.is_idle() && !job.is_finished() && job.unacked() == 0);
        job.send(JobBody::Started);
        job.send(JobBody::Succeeded);
        assert!(!job.is_idle(), "queued, not sent");
        job.handle_connected();
        assert_eq!(job.poll_transmit().map(|m| m.seq()), Some(1));
        assert_eq!(job.unacked(), 1);
        assert_eq!(job.poll_transmit().map(|m| m.seq()), Some(2));
        assert_eq!(job.unacked(), 2);
        assert!(!job.is_idle(), "sent, not acknowledged");
        job.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        assert!(!job.is_finished(), "started is not final");
        job.handle_reply(Reply::Ack { seq: 2 }).expect("ack");
        assert!(job.is_finished() && job.is_idle() && job.unacked() == 0);
    }

    #[test]
    fn job_refuses_an_ack_for_a_message_it_did_not_send() {
        let mut job = core();
        assert_eq!(
            job.handle_reply(Reply::Ack { seq: 9 }),
            Err(JobClientError::UnexpectedAck(9))
        );
    }

    #[test]
    fn job_stops_on_a_rejection() {
        let mut job = core();
        let rej = Reply::Rejected {
            seq: 1,
            code: RejectCode::RevokedKey,
        };
        assert_eq!(
            job.handle_reply(rej),
            Err(JobClientError::Rejected {
                seq: 1,
                code: RejectCode::RevokedKey
            })
        );
    }
}
