//! The task that owns the scheduler core: applies inputs in arrival order, batches the events
//! they produce into group commits, and hands each batch with the replies that depend on it to
//! the log writer, which sends those replies only after the batch is durable.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use protocol_core::bootstrap::Offer;
use protocol_core::commit::{Answer, Commit};
use protocol_core::scheduler::{Accepted, JobSpec, JobState, LaunchError, Rejected, SchedulerCore, Session};
use protocol_core::scheduler::{ClientRegistrationError, WorkflowControl};
use protocol_core::time::SharedClock;
use protocol_core::wire::{Message, RejectCode, Reply};
use protocol_core::{JobId, Owner, PublicKey};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use super::quota::{Charge, JobQuota, Quotas};
use super::stats::{Stats, bump};
use crate::eventlog::EventLog;

/// Identifies one connection for the lifetime of the server.
pub(crate) type ConnId = u64;

/// Largest number of inputs folded into one group commit.
const MAX_BATCH: usize = 8192;

/// Inputs to the core task.
pub(crate) enum CoreInput {
    Handshake {
        conn: ConnId,
        peer: PublicKey,
        payload: Zeroizing<Vec<u8>>,
        replies: mpsc::UnboundedSender<Reply>,
        respond: oneshot::Sender<Result<Session, Rejected>>,
    },
    Message {
        conn: ConnId,
        peer: PublicKey,
        message: Message,
        /// Its encoded size (charged to the job's quota).
        bytes: u64,
    },
    Closed {
        conn: ConnId,
    },
    Launch {
        spec: JobSpec,
        respond: oneshot::Sender<Result<Offer, LaunchError>>,
    },
    BootstrapReply {
        job: JobId,
        key: [u8; 32],
        respond: oneshot::Sender<Result<(), String>>,
    },
    LaunchFailed {
        job: JobId,
        reason: String,
    },
    Revoke {
        job: JobId,
        respond: oneshot::Sender<bool>,
    },
    Jobs {
        respond: oneshot::Sender<Vec<(JobId, JobState)>>,
    },
    RegisterClient {
        key: [u8; 32],
        owner: Owner,
        respond: oneshot::Sender<Result<PublicKey, ClientRegistrationError>>,
    },
    RevokeClient {
        key: PublicKey,
        respond: oneshot::Sender<bool>,
    },
    Control {
        respond: oneshot::Sender<WorkflowControl>,
    },
    /// Resolves once everything before it is durable.
    Sync {
        respond: oneshot::Sender<()>,
    },
    /// Act on the clock's time now; answered once durable.
    Tick {
        respond: oneshot::Sender<()>,
    },
    /// Closes every established connection (only under `DriverFlaws::shared_fate`).
    #[cfg(feature = "weaken")]
    DropConnections,
}

/// Tells a launch task whether its job's key was registered (the reason when not).
pub(crate) type RegistrationVerdict = (oneshot::Sender<Result<(), String>>, Result<(), String>);

/// Tells an operator whether a UI server's key was registered.
pub(crate) type ClientVerdict = (
    oneshot::Sender<Result<PublicKey, ClientRegistrationError>>,
    Result<PublicKey, ClientRegistrationError>,
);

/// An answer the core task gives, released by the log writer once the events before it are
/// durable (or at once, for the answers a verification build's flaw releases early).
pub(crate) enum Release {
    /// A reply on a connection.
    Reply(mpsc::UnboundedSender<Reply>, Reply),
    /// A launch's registration verdict.
    Registration(RegistrationVerdict),
    /// A UI server's registration verdict.
    Client(ClientVerdict),
    /// An operator's revocation answer (of a job's or a UI server's key).
    Revocation(oneshot::Sender<bool>, bool),
    /// Everything before it is durable.
    Synced(oneshot::Sender<()>),
}

impl Release {
    fn send(self) {
        match self {
            Self::Reply(tx, reply) => {
                let _ = tx.send(reply);
            }
            Self::Registration((respond, verdict)) => {
                let _ = respond.send(verdict);
            }
            Self::Client((respond, verdict)) => {
                let _ = respond.send(verdict);
            }
            Self::Revocation(respond, revoked) => {
                let _ = respond.send(revoked);
            }
            Self::Synced(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// One group commit for the writer: the encoded events to append, then the answers to release.
pub(crate) struct Batch {
    pub bytes: Vec<u8>,
    pub answers: Vec<Release>,
}

struct Conn {
    peer: PublicKey,
    replies: mpsc::UnboundedSender<Reply>,
}

/// The per-key and per-job limits the core task enforces (and, in weakened builds, which of
/// them are gone).
pub(crate) struct CoreLimits {
    /// The most confirmed connections one key may hold.
    pub max_per_key: usize,
    /// What one job may send.
    pub quota: JobQuota,
    /// The driver's defences removed.
    #[cfg(feature = "weaken")]
    pub flaws: super::weakened::DriverFlaws,
}

pub(crate) struct CoreTask {
    pub core: SchedulerCore,
    pub stats: Arc<Stats>,
    pub public_key: PublicKey,
    pub advertise: String,
    clock: SharedClock,
    /// The most confirmed connections one key may hold; a newer one closes the oldest.
    max_per_key: usize,
    conns: BTreeMap<ConnId, Conn>,
    /// Per key, its connections that have delivered an authenticated message (so their peer
    /// holds the key), oldest first. Only these count against the per-key cap: a replayed
    /// message 1 never gets this far, so replays cannot push an honest job's connection out.
    confirmed: BTreeMap<PublicKey, BTreeSet<ConnId>>,
    /// Every job's usage of its quota (`job-quota`).
    quotas: Quotas,
    #[cfg(feature = "weaken")]
    flaws: super::weakened::DriverFlaws,
    /// The durability policy (shared with the model): which answer waits for which write.
    commit: Commit<Release>,
}

impl CoreTask {
    pub fn new(
        core: SchedulerCore,
        stats: Arc<Stats>,
        public_key: PublicKey,
        advertise: String,
        clock: SharedClock,
        limits: CoreLimits,
    ) -> Self {
        let CoreLimits {
            max_per_key,
            quota,
            #[cfg(feature = "weaken")]
            flaws,
        } = limits;
        let commit = Commit::new(core.defences().clone());
        Self {
            commit,
            core,
            stats,
            public_key,
            advertise,
            clock,
            max_per_key: max_per_key.max(1),
            conns: BTreeMap::new(),
            confirmed: BTreeMap::new(),
            quotas: Quotas::new(quota),
            #[cfg(feature = "weaken")]
            flaws,
        }
    }

    pub async fn run(mut self, mut inputs: mpsc::Receiver<CoreInput>, writer: mpsc::Sender<Batch>) {
        // What the start-up itself decided (launches a restart interrupted) is logged first.
        self.drain_events();
        if self.flush(&writer).await.is_err() {
            return;
        }
        loop {
            let input = match self.core.poll_timeout() {
                Some(deadline) => {
                    let wait = deadline.0.saturating_sub(self.clock.now().0).saturating_add(1);
                    tokio::select! {
                        input = inputs.recv() => input,
                        () = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {
                            self.core.handle_timeout(self.clock.now());
                            self.drain_events();
                            if self.flush(&writer).await.is_err() { return; }
                            continue;
                        }
                    }
                }
                None => inputs.recv().await,
            };
            let Some(input) = input else { break };
            self.handle(input);
            let mut n = 1;
            while n < MAX_BATCH {
                match inputs.try_recv() {
                    Ok(input) => self.handle(input),
                    Err(_) => break,
                }
                n += 1;
            }
            self.drain_events();
            if self.flush(&writer).await.is_err() {
                return;
            }
        }
        self.drain_events();
        let _ = self.flush(&writer).await;
    }

    async fn flush(&mut self, writer: &mpsc::Sender<Batch>) -> Result<(), ()> {
        // Only a verification build's flaw releases anything here.
        while let Some(answer) = self.commit.poll_release() {
            answer.send();
        }
        let Some(batch) = self.commit.poll_commit() else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        EventLog::encode(batch.events, &mut bytes);
        writer
            .send(Batch {
                bytes,
                answers: batch.answers,
            })
            .await
            .map_err(|_| ())
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            self.commit.handle_event(event);
        }
    }

    fn reply_to(&mut self, conn: ConnId, reply: Reply) {
        if let Some(c) = self.conns.get(&conn) {
            self.commit
                .hold(Answer::Reply, Release::Reply(c.replies.clone(), reply));
        }
    }

    /// `conn` delivered an authenticated message: it counts against its key's cap, and the
    /// key's oldest confirmed connections close while it holds more than the cap
    /// (`key-connection-cap`). The newest wins, so an honest job that reconnects after a
    /// network failure is never locked out by its own half-open connections.
    fn confirm(&mut self, conn: ConnId, peer: PublicKey) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let held = self.confirmed.entry(peer).or_default();
        if !held.insert(conn) {
            return;
        }
        while held.len() > self.max_per_key {
            // Connection ids only grow, so the first is the oldest (never `conn`, the newest).
            let Some(oldest) = held.pop_first() else { break };
            // Dropping its reply sender ends that connection's task.
            self.conns.remove(&oldest);
            bump(&self.stats.key_cap_closed);
        }
    }

    /// Forgets a closed connection (and its place under its key's cap).
    fn forget(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn)
            && let Some(held) = self.confirmed.get_mut(&c.peer)
        {
            held.remove(&conn);
            if held.is_empty() {
                self.confirmed.remove(&c.peer);
            }
        }
    }

    /// Closes every connection of `key`.
    fn drop_key(&mut self, key: &PublicKey) {
        self.conns.retain(|_, c| c.peer != *key);
        self.confirmed.remove(key);
    }

    fn verdict(&mut self, conn: ConnId, seq: u64, verdict: Result<Accepted, Rejected>) {
        let reply = match verdict {
            Ok(Accepted::New { .. } | Accepted::Command { .. }) => {
                bump(&self.stats.accepted);
                Reply::Ack { seq }
            }
            Ok(Accepted::Duplicate { .. } | Accepted::CommandDuplicate { .. }) => {
                bump(&self.stats.duplicates);
                Reply::Ack { seq }
            }
            Err(rejected) => {
                self.stats.reject(rejected.check());
                Reply::Rejected {
                    seq,
                    code: rejected.code(),
                }
            }
        };
        self.reply_to(conn, reply);
    }

    /// `job-quota`: charges a job's message before the core (and so the log) sees it; a
    /// message past a quota is refused with `over-quota`, and a job that has used its strikes
    /// loses its key. A UI server's commands are not charged. Returns whether it refused.
    fn over_quota(
        &mut self,
        now: protocol_core::time::Millis,
        conn: ConnId,
        peer: &PublicKey,
        seq: u64,
        bytes: u64,
    ) -> bool {
        #[cfg(feature = "weaken")]
        if self.flaws.unlimited_quota {
            return false;
        }
        let Some((job, _)) = self.core.binding(peer) else {
            return false; // Not a job's key: a client's command, or a key the core refuses.
        };
        let job = job.clone();
        let Charge::Refuse { over, revoke } = self.quotas.handle_message(now, peer, bytes) else {
            return false;
        };
        bump(&self.stats.rejected);
        bump(&self.stats.quota_refused);
        self.reply_to(
            conn,
            Reply::Rejected {
                seq,
                code: RejectCode::OverQuota,
            },
        );
        if revoke && let Some(key) = self.core.revoke(&job) {
            bump(&self.stats.quota_revoked);
            let _ = over;
            self.quotas.forget(&key);
            self.drop_key(&key);
        }
        true
    }

    fn handle(&mut self, input: CoreInput) {
        let now = self.clock.now();
        match input {
            CoreInput::Handshake {
                conn,
                peer,
                payload,
                replies,
                respond,
            } => {
                let seq = Message::decode(&payload).map(|m| m.seq()).unwrap_or(0);
                let result = self.core.handle_handshake(now, &peer, &payload);
                match &result {
                    Ok(session) => {
                        self.conns.insert(conn, Conn { peer, replies });
                        if let Some(verdict) = session.first_payload.clone() {
                            self.verdict(conn, seq, verdict);
                        }
                    }
                    Err(rejected) => self.stats.refuse(rejected.check()),
                }
                let _ = respond.send(result);
            }
            CoreInput::Message {
                conn,
                peer,
                message,
                bytes,
            } => {
                self.confirm(conn, peer);
                let seq = message.seq();
                if self.over_quota(now, conn, &peer, seq, bytes) {
                    return;
                }
                let verdict = self.core.handle_message(now, &peer, message);
                self.verdict(conn, seq, verdict);
            }
            CoreInput::Closed { conn } => {
                self.forget(conn);
            }
            CoreInput::Launch { spec, respond } => {
                let job = spec.id.clone();
                let result = self
                    .core
                    .launch(now, spec)
                    .map(|()| Offer::new(job, self.public_key, self.advertise.clone()));
                let _ = respond.send(result);
            }
            CoreInput::BootstrapReply { job, key, respond } => {
                let verdict = match self.core.handle_bootstrap_reply(now, &job, key) {
                    Ok(_) => {
                        bump(&self.stats.launched);
                        Ok(())
                    }
                    Err(err) => {
                        bump(&self.stats.launch_failed);
                        if let Some(check) = err.check() {
                            self.stats.refuse(check);
                        }
                        Err(err.to_string())
                    }
                };
                // The job may connect as soon as it hears this, so the registration must be
                // durable first: the verdict rides in this batch.
                self.drain_events();
                self.commit
                    .hold(Answer::Registration, Release::Registration((respond, verdict)));
            }
            CoreInput::LaunchFailed { job, reason } => {
                bump(&self.stats.launch_failed);
                self.core.handle_launch_failed(&job, &reason);
            }
            CoreInput::Revoke { job, respond } => {
                let revoked = self.core.revoke(&job);
                if let Some(key) = revoked {
                    // Dropping the reply senders closes the job's connections at once.
                    self.drop_key(&key);
                }
                self.drain_events();
                self.commit
                    .hold(Answer::Revocation, Release::Revocation(respond, revoked.is_some()));
            }
            CoreInput::Jobs { respond } => {
                let _ = respond.send(self.core.jobs().map(|(id, r)| (id.clone(), r.state())).collect());
            }
            CoreInput::Sync { respond } => self.commit.hold(Answer::Sync, Release::Synced(respond)),
            CoreInput::Tick { respond } => {
                self.core.handle_timeout(now);
                self.drain_events();
                self.commit.hold(Answer::Sync, Release::Synced(respond));
            }
            CoreInput::RegisterClient { key, owner, respond } => {
                let result = self.core.register_client(key, owner);
                if let Err(err) = &result {
                    self.stats.refuse(err.check());
                }
                // Registered before any command from it can be accepted: rides in this batch.
                self.drain_events();
                self.commit
                    .hold(Answer::Registration, Release::Client((respond, result)));
            }
            CoreInput::RevokeClient { key, respond } => {
                let revoked = self.core.revoke_client(&key);
                if revoked {
                    self.drop_key(&key);
                }
                self.drain_events();
                self.commit
                    .hold(Answer::Revocation, Release::Revocation(respond, revoked));
            }
            CoreInput::Control { respond } => {
                let _ = respond.send(self.core.control().clone());
            }
            // Dropping the reply senders closes the connections, as revocation does.
            #[cfg(feature = "weaken")]
            CoreInput::DropConnections => {
                self.conns.clear();
                self.confirmed.clear();
            }
        }
    }
}

/// The log writer: appends each batch, syncs, then releases its replies. Runs on its own
/// thread because `fdatasync` blocks.
pub(crate) fn run_writer(
    mut log: EventLog,
    mut batches: mpsc::Receiver<Batch>,
    stats: Arc<Stats>,
    failure: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    while let Some(batch) = batches.blocking_recv() {
        if !batch.bytes.is_empty() {
            if !write_until_durable(&mut log, &batch.bytes, &stats, &failure, &stop) {
                return;
            }
            bump(&stats.log_batches);
        }
        for answer in batch.answers {
            answer.send();
        }
    }
}

/// No acknowledgement without durability, and no stop for a failing log: a batch that cannot
/// be written (a full disk, a file-size limit, an I/O error) is retried, backing off to once a
/// second, until it is written or the scheduler shuts down. Meanwhile the core task waits for
/// this thread (the channel holds one batch), so nothing new is accepted or acknowledged, and
/// every job keeps its state and its connection; when space returns, the same batch is written
/// and everything resumes. The failure is visible in the stats (`log_stalled`, `log_failure`)
/// for the operator. Returns `false` only when shut down while still failing.
fn write_until_durable(
    log: &mut EventLog,
    bytes: &[u8],
    stats: &Stats,
    failure: &std::sync::Mutex<Option<String>>,
    stop: &std::sync::atomic::AtomicBool,
) -> bool {
    use std::sync::atomic::Ordering;
    let mut delay = std::time::Duration::from_millis(10);
    let mut stalled = false;
    loop {
        match log.append_durable(bytes) {
            Ok(()) => {
                if stalled {
                    stats.log_stalled.store(0, Ordering::Relaxed);
                    for slot in [failure, &stats.log_failure] {
                        if let Ok(mut slot) = slot.lock() {
                            *slot = None;
                        }
                    }
                }
                return true;
            }
            Err(err) => {
                bump(&stats.log_write_failures);
                if !stalled {
                    stalled = true;
                    bump(&stats.log_stalls);
                    stats.log_stalled.store(1, Ordering::Relaxed);
                }
                for slot in [failure, &stats.log_failure] {
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some(err.to_string());
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}
