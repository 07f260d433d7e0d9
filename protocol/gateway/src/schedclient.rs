//! The UI server's command channel to one scheduler: a sans-IO [`CommandCore`] (numbering,
//! unacknowledged commands, retransmission after a reconnect, as `JobCore` does for jobs) and
//! the [`SchedulerLink`] that drives it over the Noise IK channel with the UI server's client
//! key.
//!
//! A command keeps its sequence number and bytes until the scheduler answers it: after any
//! connection failure it is resent unchanged, so the scheduler's per-client de-duplication
//! gives it exactly one effect. A command not confirmed before its deadline stays queued and
//! is resent ahead of the next one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use protocol_core::wire::message::MAX_TARGET;
use protocol_core::wire::{ClientCommand, CommandOp, Message, RejectCode, Reply};
use protocol_core::{Owner, StaticKeypair, WorkflowId};
use protocol_net::client::{Connection, connect_to};
use protocol_net::framing::{ConnError, push_frame};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::rundir::RunDir;

/// What the scheduler said about a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandOutcome {
    /// Applied and durable (or a duplicate of one that was).
    Accepted,
    /// Refused for good.
    Rejected(RejectCode),
}

/// A reply the core did not expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("reply for command {0}, which is not outstanding")]
pub struct UnexpectedReply(pub u64);

/// Numbering and retransmission of commands, sans-IO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandCore {
    next_seq: u64,
    window: usize,
    queued: VecDeque<ClientCommand>,
    unacked: BTreeMap<u64, ClientCommand>,
    outcomes: BTreeMap<u64, CommandOutcome>,
    connected: bool,
}

impl CommandCore {
    /// A core keeping at most `window` commands unacknowledged.
    #[must_use]
    pub fn new(window: usize) -> Self {
        Self {
            next_seq: 1,
            window: window.max(1),
            queued: VecDeque::new(),
            unacked: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            connected: false,
        }
    }

    /// Queues a command on behalf of `actor`; returns its sequence number.
    pub fn send(&mut self, actor: Owner, op: CommandOp, target: String) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queued.push_back(ClientCommand { seq, actor, op, target });
        seq
    }

    /// The connection is up.
    pub fn handle_connected(&mut self) {
        self.connected = true;
    }

    /// The connection dropped: unacknowledged commands go back to the front, in order.
    pub fn handle_disconnect(&mut self) {
        self.connected = false;
        let resend = std::mem::take(&mut self.unacked);
        for (_, c) in resend.into_iter().rev() {
            self.queued.push_front(c);
        }
    }

    /// The next message to write, if connected and the window allows.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        if !self.connected || self.unacked.len() >= self.window {
            return None;
        }
        let c = self.queued.pop_front()?;
        self.unacked.insert(c.seq, c.clone());
        Some(Message::Command(c))
    }

    /// A reply from the scheduler.
    ///
    /// # Errors
    /// [`UnexpectedReply`] for a reply to nothing outstanding.
    pub fn handle_reply(&mut self, reply: Reply) -> Result<(), UnexpectedReply> {
        let (seq, outcome) = match reply {
            Reply::Ack { seq } => (seq, CommandOutcome::Accepted),
            Reply::Rejected { seq, code } => (seq, CommandOutcome::Rejected(code)),
        };
        self.unacked.remove(&seq).ok_or(UnexpectedReply(seq))?;
        self.outcomes.insert(seq, outcome);
        // The scheduler consumes a sequence number only when it applies the command: one it
        // refuses for what it asks (an unknown target, an operation not permitted) leaves the
        // number unused there, so the next command must carry it again, or it and every
        // command after it would be a gap. Only the newest number can be handed back; with
        // later commands already numbered (never, under `SchedLink`'s one-at-a-time lock) the
        // gap is left for the caller to see.
        if let CommandOutcome::Rejected(code) = outcome
            && !matches!(code, RejectCode::SequenceGap | RejectCode::ReplayedSequence)
            && seq.saturating_add(1) == self.next_seq
            && self.queued.is_empty()
            && self.unacked.is_empty()
        {
            self.next_seq = seq;
        }
        Ok(())
    }

    /// The outcome of command `seq`, once (it is forgotten when taken).
    pub fn take_outcome(&mut self, seq: u64) -> Option<CommandOutcome> {
        self.outcomes.remove(&seq)
    }

    /// Commands sent but not answered.
    #[must_use]
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }

    /// Whether nothing is waiting to be sent or answered.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.unacked.is_empty()
    }
}

/// Why a command did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No scheduler runs for the workflow (no contact).
    #[error("no scheduler is running")]
    NotRunning,
    /// The target is not a well-formed target.
    #[error("malformed target")]
    BadTarget,
    /// No answer before the deadline; the command stays queued and is resent.
    #[error("no answer within {0:?} (last failure: {1})")]
    Unconfirmed(Duration, String),
    /// The scheduler answered something that was not asked.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedReply),
}

/// Whether `target` is a well-formed command target: `*`, a cycle point or `cycle/task`, at
/// most [`MAX_TARGET`] bytes of `[A-Za-z0-9_:+%@./*-]`.
#[must_use]
pub fn valid_target(target: &str) -> bool {
    !target.is_empty()
        && target.len() <= MAX_TARGET
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:+%@./*-".contains(&b))
}

struct LinkState {
    core: CommandCore,
    conn: Option<Connection>,
}

/// The channel to one workflow's scheduler.
pub struct SchedulerLink {
    workflow: WorkflowId,
    run: RunDir,
    keypair: Arc<StaticKeypair>,
    state: Mutex<LinkState>,
}

impl std::fmt::Debug for SchedulerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerLink")
            .field("workflow", &self.workflow)
            .finish_non_exhaustive()
    }
}

impl SchedulerLink {
    /// A link to the scheduler whose contact is in `run`, using the UI server's `keypair`.
    #[must_use]
    pub fn new(workflow: WorkflowId, run: RunDir, keypair: Arc<StaticKeypair>) -> Self {
        Self {
            workflow,
            run,
            keypair,
            state: Mutex::new(LinkState {
                core: CommandCore::new(64),
                conn: None,
            }),
        }
    }

    async fn connect(&self, limit: Duration) -> Result<Connection, String> {
        let contact = match self.run.read_contact() {
            Ok(Some(c)) if c.workflow == self.workflow => c,
            Ok(_) => return Err("no contact".into()),
            Err(e) => return Err(e.to_string()),
        };
        connect_to(
            contact.address,
            &contact.scheduler_key,
            &self.workflow,
            &self.keypair,
            limit.min(Duration::from_secs(2)),
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// Sends a command on behalf of `actor` and waits at most `limit` for the answer.
    ///
    /// # Errors
    /// [`LinkError`].
    pub async fn command(
        &self,
        actor: Owner,
        op: CommandOp,
        target: String,
        limit: Duration,
    ) -> Result<CommandOutcome, LinkError> {
        if !valid_target(&target) {
            return Err(LinkError::BadTarget);
        }
        if !matches!(self.run.read_contact(), Ok(Some(_))) {
            return Err(LinkError::NotRunning);
        }
        let deadline = tokio::time::Instant::now() + limit;
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let seq = state.core.send(actor, op, target);
        let mut backoff = Duration::from_millis(25);
        let mut last = String::from("none");
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(LinkError::Unconfirmed(limit, last));
            }
            if state.conn.is_none() {
                match self.connect(remaining).await {
                    Ok(c) => {
                        state.conn = Some(c);
                        state.core.handle_connected();
                    }
                    Err(e) => {
                        last = e;
                        tokio::time::sleep(backoff.min(remaining)).await;
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                        continue;
                    }
                }
            }
            let Some(conn) = state.conn.as_mut() else { continue };
            match tokio::time::timeout(remaining, exchange(&mut state.core, conn, seq)).await {
                Ok(Ok(Some(outcome))) => return Ok(outcome),
                Ok(Ok(None)) => {}
                Ok(Err(ExchangeError::Conn(e))) => {
                    last = e.to_string();
                    state.conn = None;
                    state.core.handle_disconnect();
                }
                Ok(Err(ExchangeError::Unexpected(e))) => {
                    state.conn = None;
                    state.core.handle_disconnect();
                    return Err(e.into());
                }
                Err(_) => {
                    // The connection may be wedged: start afresh next time.
                    state.conn = None;
                    state.core.handle_disconnect();
                    return Err(LinkError::Unconfirmed(limit, "timed out".into()));
                }
            }
        }
    }
}

enum ExchangeError {
    Conn(ConnError),
    Unexpected(UnexpectedReply),
}

impl From<ConnError> for ExchangeError {
    fn from(e: ConnError) -> Self {
        Self::Conn(e)
    }
}

/// Writes what the core has to send, then reads replies until `seq` is answered.
async fn exchange(
    core: &mut CommandCore,
    (stream, reader, transport): &mut Connection,
    seq: u64,
) -> Result<Option<CommandOutcome>, ExchangeError> {
    let mut plain = Vec::with_capacity(128);
    let mut sealed = Vec::with_capacity(128);
    let mut out = Vec::with_capacity(256);
    while let Some(m) = core.poll_transmit() {
        plain.clear();
        m.encode(&mut plain);
        transport.encrypt(&plain, &mut sealed).map_err(ConnError::from)?;
        push_frame(&mut out, &sealed).map_err(ConnError::from)?;
    }
    if !out.is_empty() {
        stream.write_all(&out).await.map_err(ConnError::from)?;
    }
    loop {
        if let Some(o) = core.take_outcome(seq) {
            return Ok(Some(o));
        }
        if core.unacked() == 0 {
            return Ok(None);
        }
        let frame = reader.read_frame(stream).await?;
        transport.decrypt(&frame, &mut plain).map_err(ConnError::from)?;
        let reply = Reply::decode(&plain).map_err(ConnError::from)?;
        core.handle_reply(reply).map_err(ExchangeError::Unexpected)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jacintar() -> Owner {
        Owner::new("jacintar").expect("valid")
    }

    #[test]
    fn commands_are_numbered_and_resent_unchanged_after_a_reconnect() {
        let mut core = CommandCore::new(2);
        let s1 = core.send(jacintar(), CommandOp::Hold, "1/a".into());
        let s2 = core.send(jacintar(), CommandOp::Stop, "*".into());
        let s3 = core.send(jacintar(), CommandOp::Release, "1/a".into());
        assert_eq!((s1, s2, s3), (1, 2, 3));
        assert_eq!(core.poll_transmit(), None, "nothing is sent while disconnected");
        core.handle_connected();
        let first: Vec<Message> = std::iter::from_fn(|| core.poll_transmit()).collect();
        assert_eq!(
            first.iter().map(Message::seq).collect::<Vec<_>>(),
            [1, 2],
            "window of 2"
        );
        core.handle_reply(Reply::Ack { seq: 1 }).expect("ack");
        assert_eq!(core.take_outcome(1), Some(CommandOutcome::Accepted));
        assert_eq!(core.take_outcome(1), None);
        core.handle_disconnect();
        core.handle_connected();
        let again: Vec<Message> = std::iter::from_fn(|| core.poll_transmit()).collect();
        assert_eq!(again.first(), first.get(1), "command 2 is resent byte for byte");
        assert_eq!(again.iter().map(Message::seq).collect::<Vec<_>>(), [2, 3]);
        core.handle_reply(Reply::Rejected {
            seq: 2,
            code: RejectCode::InvalidTransition,
        })
        .expect("reply");
        assert_eq!(
            core.take_outcome(2),
            Some(CommandOutcome::Rejected(RejectCode::InvalidTransition))
        );
        assert_eq!(core.handle_reply(Reply::Ack { seq: 9 }), Err(UnexpectedReply(9)));
        core.handle_reply(Reply::Ack { seq: 3 }).expect("ack");
        assert!(core.is_idle());
    }

    #[test]
    fn a_refused_command_hands_its_number_to_the_next_one_but_a_sequence_refusal_does_not() {
        let mut core = CommandCore::new(1);
        core.handle_connected();
        let s1 = core.send(jacintar(), CommandOp::Hold, "1/no_such_task".into());
        assert_eq!(core.poll_transmit().map(|m| m.seq()), Some(s1));
        core.handle_reply(Reply::Rejected {
            seq: s1,
            code: RejectCode::InvalidTransition,
        })
        .expect("reply");
        // The scheduler never applied 1, so it still expects 1.
        assert_eq!(core.send(jacintar(), CommandOp::Hold, "1/a".into()), s1);
        assert_eq!(core.poll_transmit().map(|m| m.seq()), Some(s1));
        core.handle_reply(Reply::Ack { seq: s1 }).expect("ack");
        let s2 = core.send(jacintar(), CommandOp::Release, "1/a".into());
        assert_eq!(s2, 2);
        let _ = core.poll_transmit();
        core.handle_reply(Reply::Rejected {
            seq: s2,
            code: RejectCode::SequenceGap,
        })
        .expect("reply");
        assert_eq!(
            core.send(jacintar(), CommandOp::Release, "1/a".into()),
            3,
            "a refusal of the number itself does not hand it back"
        );
    }

    #[test]
    fn targets_are_checked_before_anything_is_sent() {
        for ok in ["*", "1234", "1234/climb", "20260101T00:00Z/a_b-c"] {
            assert!(valid_target(ok), "{ok}");
        }
        for bad in ["", "a b", "1/a\n", "x;y", &"a".repeat(MAX_TARGET + 1)] {
            assert!(!valid_target(bad), "{bad:?}");
        }
    }
}
