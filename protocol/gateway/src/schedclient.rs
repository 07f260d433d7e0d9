//! The UI server's command channel to one scheduler: the [`SchedulerLink`] that drives
//! `protocol_core::command`'s sans-IO [`CommandCore`] (numbering, one command in flight,
//! retransmission after a reconnect) over the Noise IK channel with the UI server's client key.
//!
//! A command keeps its sequence number and bytes until the scheduler answers it: after any
//! connection failure it is resent unchanged, so the scheduler's per-client de-duplication
//! gives it exactly one effect. A command not confirmed before its deadline stays queued and
//! is sent ahead of the next one.

use std::sync::Arc;
use std::time::Duration;

pub use protocol_core::command::{CommandCore, CommandOutcome, QueueFull, Ticket, UnexpectedReply};
use protocol_core::wire::message::MAX_TARGET;
use protocol_core::wire::{CommandOp, Reply};
use protocol_core::{Owner, StaticKeypair, WorkflowId};
use protocol_net::client::{Connection, connect_to};
use protocol_net::framing::{ConnError, push_frame};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::rundir::RunDir;

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
    /// Too many earlier commands are still waiting for the scheduler.
    #[error(transparent)]
    Busy(#[from] QueueFull),
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
                core: CommandCore::new(),
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
        let ticket = state.core.send(actor, op, target)?;
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
            match tokio::time::timeout(remaining, exchange(&mut state.core, conn, ticket)).await {
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

/// Writes what the core has to send, then reads replies until `ticket` is answered or nothing
/// written is waiting for an answer (an earlier caller's command was; the caller loops).
async fn exchange(
    core: &mut CommandCore,
    (stream, reader, transport): &mut Connection,
    ticket: Ticket,
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
        if let Some(o) = core.take_outcome(ticket) {
            return Ok(Some(o));
        }
        if !core.awaiting_reply() {
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
