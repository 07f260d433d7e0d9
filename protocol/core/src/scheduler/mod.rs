//! The scheduler's sans-IO core: the key registry, the job state machines and the acceptance
//! pipeline of named checks.
//!
//! Drivers feed it inputs (`launch`, `handle_*`) with the time passed in, and drain the durable
//! facts it produces with [`SchedulerCore::poll_event`]. It owns no socket, clock or random
//! source, and its state is `Clone + Eq + Hash`, so the model checker explores this very code.

mod clients;
mod types;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use blake2::{Blake2s256, Digest};

pub use clients::{ClientRegistrationError, WorkflowControl};
pub use types::{
    Accepted, Event, JobSpec, JobState, LaunchError, RESERVED_OUTPUTS, RegistrationError, Rejected, RevokeReason,
    TransitionError,
};

use crate::checks::{Check, Defences, Flaw};
use crate::ids::{JobId, WorkflowId};
use crate::keys::{KEY_LEN, PublicKey, validate_public_key};
use crate::time::Millis;
use crate::wire::{ClientCommand, JobBody, JobMessage, Message, OutputName};

/// Digest of an accepted message, kept to recognise faithful retransmissions.
type MessageDigest = [u8; 16];

/// Settings of one scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchedulerConfig {
    /// The workflow this scheduler runs.
    pub workflow: WorkflowId,
    /// How long a launched job has to return its key.
    pub bootstrap_timeout: Duration,
    /// How many recent accepted messages per job are remembered for de-duplication. A job
    /// keeps at most this many unacknowledged (SPEC.md §6).
    pub dedup_window: u64,
    /// At most this many jobs live (launching, submitted or running) at once; a launch beyond
    /// it is refused with [`LaunchError::TooManyLiveJobs`] (concern C06). `None`: no cap.
    pub max_live_jobs: Option<u32>,
}

impl SchedulerConfig {
    /// Defaults: 30 s bootstrap timeout, 64-message window, no cap on live jobs.
    #[must_use]
    pub fn new(workflow: WorkflowId) -> Self {
        Self {
            workflow,
            bootstrap_timeout: Duration::from_secs(30),
            dedup_window: 64,
            max_live_jobs: None,
        }
    }
}

/// The state of a key in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// The job may send messages.
    Active,
    /// The job is terminal: retransmissions are acknowledged, nothing new is accepted.
    Finished,
    /// An operator revoked the key: nothing is accepted, handshakes are refused.
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Binding {
    job: JobId,
    status: KeyStatus,
}

/// Everything the scheduler knows about one job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobRecord {
    state: JobState,
    deadline: Millis,
    key: Option<PublicKey>,
    declared: BTreeSet<OutputName>,
    completed: BTreeSet<String>,
    last_seq: u64,
    window: BTreeMap<u64, MessageDigest>,
    /// Only under [`Flaw::DedupBySession`]: the next message starts a new sequence.
    session_fresh: bool,
}

impl JobRecord {
    /// The job's state.
    #[must_use]
    pub const fn state(&self) -> JobState {
        self.state
    }

    /// The outputs completed so far (standard ones included).
    #[must_use]
    pub const fn completed_outputs(&self) -> &BTreeSet<String> {
        &self.completed
    }

    /// The last accepted sequence number.
    #[must_use]
    pub const fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The job's registered key.
    #[must_use]
    pub const fn key(&self) -> Option<PublicKey> {
        self.key
    }
}

/// A handshake the core let through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Session {
    /// The job bound to the key (`None` for a UI server's key, and under
    /// [`Flaw::IdentityFromClaim`], which lets unregistered keys in).
    pub job: Option<JobId>,
    /// The owner whose UI server holds the key, for a client key.
    pub client: Option<crate::ids::Owner>,
    /// Only in builds without `empty-first-payload`: what acting on the first payload gave.
    pub first_payload: Option<Result<Accepted, Rejected>>,
}

/// The scheduler core. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchedulerCore {
    config: SchedulerConfig,
    defences: Defences,
    registry: BTreeMap<PublicKey, Binding>,
    jobs: BTreeMap<JobId, JobRecord>,
    /// Launch deadlines still pending, earliest first, so the driver's timer costs O(log n)
    /// rather than a scan of every job per loop. An entry whose job has left `Launching` by a
    /// path that does not remove it (only weakened cores have one) is skipped and dropped.
    launching: BTreeSet<(Millis, JobId)>,
    clients: BTreeMap<PublicKey, clients::ClientRecord>,
    control: WorkflowControl,
    events: VecDeque<Event>,
}

fn digest(message: &JobMessage) -> MessageDigest {
    digest_bytes(&Message::Job(message.clone()).to_bytes())
}

fn digest_bytes(bytes: &[u8]) -> MessageDigest {
    let full = Blake2s256::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl SchedulerCore {
    /// A core with every defence on.
    #[must_use]
    pub fn new(config: SchedulerConfig) -> Self {
        Self::with_defences(config, Defences::all())
    }

    /// A core with the given defences (only weakened builds can make anything but the full set).
    #[must_use]
    pub fn with_defences(config: SchedulerConfig, defences: Defences) -> Self {
        Self {
            config,
            defences,
            registry: BTreeMap::new(),
            jobs: BTreeMap::new(),
            launching: BTreeSet::new(),
            clients: BTreeMap::new(),
            control: WorkflowControl::default(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// The defences in force.
    #[must_use]
    pub const fn defences(&self) -> &Defences {
        &self.defences
    }

    /// A job's record.
    #[must_use]
    pub fn job(&self, id: &JobId) -> Option<&JobRecord> {
        self.jobs.get(id)
    }

    /// Every job, in id order.
    pub fn jobs(&self) -> impl Iterator<Item = (&JobId, &JobRecord)> {
        self.jobs.iter()
    }

    /// The job a key is bound to and the key's status.
    #[must_use]
    pub fn binding(&self, key: &PublicKey) -> Option<(&JobId, KeyStatus)> {
        self.registry.get(key).map(|b| (&b.job, b.status))
    }

    /// The next durable fact to log, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest launch deadline still pending, for the driver's timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.launching
            .iter()
            .find(|(deadline, job)| self.is_launching(job, *deadline))
            .map(|(deadline, _)| *deadline)
    }

    fn is_launching(&self, job: &JobId, deadline: Millis) -> bool {
        self.jobs
            .get(job)
            .is_some_and(|r| r.state == JobState::Launching && r.deadline == deadline)
    }

    /// Begins a launch: the job waits for its key until `now + bootstrap_timeout`.
    ///
    /// # Errors
    /// [`LaunchError`] when the job exists, is another workflow's, declares a reserved output,
    /// or the cap on live jobs is reached.
    pub fn launch(&mut self, now: Millis, spec: JobSpec) -> Result<(), LaunchError> {
        if let Some(max) = self.config.max_live_jobs {
            let live = self.live_jobs();
            if live >= u64::from(max) {
                return Err(LaunchError::TooManyLiveJobs { live, max });
            }
        }
        self.begin_launch(now, spec)
    }

    /// Jobs launching, submitted or running.
    #[must_use]
    pub fn live_jobs(&self) -> u64 {
        self.jobs.values().filter(|j| !j.state.is_terminal()).count() as u64
    }

    /// A launch without the live-job cap (restoring from the log replays launches already made).
    fn begin_launch(&mut self, now: Millis, spec: JobSpec) -> Result<(), LaunchError> {
        if spec.id.workflow() != &self.config.workflow {
            return Err(LaunchError::WrongWorkflow(spec.id));
        }
        if self.jobs.contains_key(&spec.id) {
            return Err(LaunchError::AlreadyExists(spec.id));
        }
        if let Some(reserved) = spec.outputs.iter().find(|o| RESERVED_OUTPUTS.contains(&o.as_str())) {
            return Err(LaunchError::ReservedOutput(reserved.clone()));
        }
        self.jobs.insert(
            spec.id.clone(),
            JobRecord {
                state: JobState::Launching,
                deadline: now.after(self.config.bootstrap_timeout),
                key: None,
                declared: spec.outputs.clone(),
                completed: BTreeSet::new(),
                last_seq: 0,
                window: BTreeMap::new(),
                session_fresh: false,
            },
        );
        let deadline = now.after(self.config.bootstrap_timeout);
        self.launching.insert((deadline, spec.id.clone()));
        self.events.push_back(Event::Launched { spec, deadline });
        Ok(())
    }

    /// The job's answer on the bootstrap channel: registers its key if every registration check
    /// passes, else fails the launch.
    ///
    /// # Errors
    /// [`RegistrationError`] naming the check that fired.
    pub fn handle_bootstrap_reply(
        &mut self,
        now: Millis,
        job: &JobId,
        key: [u8; KEY_LEN],
    ) -> Result<PublicKey, RegistrationError> {
        let result = self.register(now, job, key);
        if let Err(err) = &result
            && !matches!(err, RegistrationError::NotAwaitingKey(_))
        {
            self.fail_launch(job, &err.to_string());
        }
        result
    }

    fn register(&mut self, now: Millis, job: &JobId, key: [u8; KEY_LEN]) -> Result<PublicKey, RegistrationError> {
        let record = self
            .jobs
            .get(job)
            .filter(|r| r.state == JobState::Launching)
            .ok_or_else(|| RegistrationError::NotAwaitingKey(job.clone()))?;
        if self.defences.is_on(Check::BootstrapDeadline) && now > record.deadline {
            return Err(RegistrationError::LateReply {
                job: job.clone(),
                late_ms: now.0 - record.deadline.0,
            });
        }
        let key = if self.defences.is_on(Check::KeyValidation) {
            validate_public_key(&key).map_err(|reason| RegistrationError::BadKey {
                job: job.clone(),
                reason,
            })?
        } else {
            PublicKey::from_trusted_bytes(key)
        };
        if let Some(holder) = self.registry.get(&key)
            && self.defences.is_on(Check::UniqueKey)
        {
            return Err(RegistrationError::DuplicateKey {
                job: job.clone(),
                holder: holder.job.clone(),
            });
        }
        if self.defences.is_on(Check::UniqueKey) && self.clients.contains_key(&key) {
            return Err(RegistrationError::ClientKey { job: job.clone() });
        }
        self.bind(job, key);
        self.events.push_back(Event::Registered { job: job.clone(), key });
        Ok(key)
    }

    fn bind(&mut self, job: &JobId, key: PublicKey) {
        // Without `unique-key` this overwrites another job's binding: the flaw the model finds.
        self.registry.insert(
            key,
            Binding {
                job: job.clone(),
                status: KeyStatus::Active,
            },
        );
        if let Some(record) = self.jobs.get_mut(job) {
            record.key = Some(key);
            record.state = JobState::Submitted;
            self.launching.remove(&(record.deadline, job.clone()));
        }
    }

    /// The launcher failed (process did not start, channel closed, garbage on the channel).
    pub fn handle_launch_failed(&mut self, job: &JobId, reason: &str) {
        if self.jobs.get(job).is_some_and(|r| r.state == JobState::Launching) {
            self.fail_launch(job, reason);
        }
    }

    fn fail_launch(&mut self, job: &JobId, reason: &str) {
        if let Some(record) = self.jobs.get_mut(job) {
            record.state = JobState::LaunchFailed;
            self.launching.remove(&(record.deadline, job.clone()));
            self.events.push_back(Event::LaunchFailed {
                job: job.clone(),
                reason: reason.to_owned(),
            });
        }
    }

    /// Fails every launch whose deadline has passed.
    pub fn handle_timeout(&mut self, now: Millis) {
        if !self.defences.is_on(Check::BootstrapDeadline) {
            return;
        }
        let mut expired = Vec::new();
        while let Some((deadline, job)) = self.launching.first().cloned()
            && now > deadline
        {
            self.launching.pop_first();
            if self.is_launching(&job, deadline) {
                expired.push(job);
            }
        }
        for job in expired {
            self.fail_launch(&job, "no key on the bootstrap channel before the deadline");
        }
    }

    /// An operator revokes a job's key: nothing from it is accepted from now on.
    /// Returns the key, so the driver can close its connections, or `None` for an unknown job.
    pub fn revoke(&mut self, job: &JobId) -> Option<PublicKey> {
        let key = self.jobs.get(job)?.key?;
        if let Some(binding) = self.registry.get_mut(&key) {
            binding.status = KeyStatus::Revoked;
        }
        self.events.push_back(Event::Revoked {
            job: job.clone(),
            reason: RevokeReason::Operator,
        });
        Some(key)
    }

    /// A Noise handshake completed its first message from `peer`.
    ///
    /// # Errors
    /// [`Rejected::UnknownKey`], [`Rejected::RevokedKey`] or
    /// [`Rejected::NonEmptyFirstPayload`].
    pub fn handle_handshake(
        &mut self,
        now: Millis,
        peer: &PublicKey,
        first_payload: &[u8],
    ) -> Result<Session, Rejected> {
        if self.defences.is_on(Check::EmptyFirstPayload) && !first_payload.is_empty() {
            return Err(Rejected::NonEmptyFirstPayload {
                len: first_payload.len(),
            });
        }
        let job = match self.registry.get(peer) {
            Some(b) if b.status == KeyStatus::Revoked && self.defences.is_on(Check::AuthenticatedKey) => {
                return Err(Rejected::RevokedKey { job: b.job.clone() });
            }
            Some(b) => b.job.clone(),
            None => {
                if let Some(client) = self.clients.get(peer) {
                    if client.status == KeyStatus::Revoked && self.defences.is_on(Check::AuthenticatedKey) {
                        return Err(Rejected::RevokedClient {
                            client: client.owner.clone(),
                        });
                    }
                    // A UI server never needs a first payload either; it was refused above.
                    return Ok(Session {
                        job: None,
                        client: Some(client.owner.clone()),
                        first_payload: None,
                    });
                }
                if self.defences.has_flaw(Flaw::IdentityFromClaim) {
                    return Ok(Session {
                        job: None,
                        client: None,
                        first_payload: None,
                    });
                }
                return Err(Rejected::UnknownKey(*peer));
            }
        };
        if self.defences.has_flaw(Flaw::DedupBySession)
            && let Some(record) = self.jobs.get_mut(&job)
        {
            record.session_fresh = true;
        }
        let first_payload = (!first_payload.is_empty()).then(|| match Message::decode(first_payload) {
            Ok(message) => self.handle_message(now, peer, message),
            Err(_) => Err(Rejected::MalformedFirstPayload),
        });
        Ok(Session {
            job: Some(job),
            client: None,
            first_payload,
        })
    }

    /// A decoded message from the holder of `peer`'s private key. Applies the acceptance
    /// pipeline; on success the effect is applied and an event queued for the log.
    ///
    /// # Errors
    /// The [`Rejected`] variant of the first check that failed.
    pub fn handle_message(&mut self, now: Millis, peer: &PublicKey, message: Message) -> Result<Accepted, Rejected> {
        let _ = now;
        if self.clients.contains_key(peer) {
            return self.handle_client_message(peer, message);
        }
        let job = self.authenticate(peer, &message)?;
        let message = match message {
            Message::Job(message) => message,
            Message::Command(command) => return self.command_from_job(job, peer, &command),
        };
        let Some(record) = self.jobs.get(&job) else {
            return Err(Rejected::UnknownKey(*peer));
        };
        let digest = digest(&message);
        if let Some(outcome) = self.check_sequence(&job, record, message.seq, &digest) {
            return outcome;
        }
        if self.defences.is_on(Check::AllowedType) && !record.state.allows(&message.body) {
            return Err(Rejected::TypeNotAllowed {
                job,
                kind: message.body.kind_name(),
                state: record.state,
            });
        }
        if self.defences.is_on(Check::ValidTransition)
            && let JobBody::Output(name) = &message.body
        {
            let reason = if RESERVED_OUTPUTS.contains(&name.as_str()) {
                Some(TransitionError::ReservedOutput(name.clone()))
            } else if !record.declared.contains(name) {
                Some(TransitionError::UndeclaredOutput(name.clone()))
            } else if record.completed.contains(name.as_str()) {
                Some(TransitionError::OutputAlreadyCompleted(name.clone()))
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Rejected::InvalidTransition { job, reason });
            }
        }
        // The acceptance is logged before the key retirement a final message causes (which
        // `apply` records), so a log cut between the two never holds a retired key for a job
        // whose final message is not in it.
        self.events.push_back(Event::Accepted {
            job: job.clone(),
            seq: message.seq,
            body: message.body.clone(),
        });
        self.apply(&job, message.seq, digest, &message.body);
        Ok(Accepted::New { job, seq: message.seq })
    }

    /// A command arriving on a job's key. Commands come only from UI servers' client keys, so
    /// `allowed-type` refuses it; the core without that check obeys it as if the job's owner's
    /// UI server had sent it: the flaw the check exists to stop (story S07).
    fn command_from_job(
        &mut self,
        job: JobId,
        peer: &PublicKey,
        command: &ClientCommand,
    ) -> Result<Accepted, Rejected> {
        if self.defences.is_on(Check::AllowedType) {
            let state = self.jobs.get(&job).map_or(JobState::LaunchFailed, |r| r.state);
            return Err(Rejected::TypeNotAllowed {
                job,
                kind: "command",
                state,
            });
        }
        let client = job.workflow().owner().clone();
        let digest = digest_bytes(&Message::Command(command.clone()).to_bytes());
        self.apply_command(peer, &client, command, digest);
        Ok(Accepted::Command {
            client,
            seq: command.seq,
        })
    }

    /// `authenticated-key` and `bound-identity`: which job the message is for.
    fn authenticate(&self, peer: &PublicKey, message: &Message) -> Result<JobId, Rejected> {
        let claimed = match message {
            Message::Job(m) => Some(&m.claim),
            Message::Command(_) => None,
        };
        if self.defences.has_flaw(Flaw::IdentityFromClaim)
            && let Some(claimed) = claimed
        {
            return Ok(claimed.clone());
        }
        let binding = self.registry.get(peer).ok_or(Rejected::UnknownKey(*peer))?;
        if binding.status == KeyStatus::Revoked && self.defences.is_on(Check::AuthenticatedKey) {
            return Err(Rejected::RevokedKey {
                job: binding.job.clone(),
            });
        }
        match claimed {
            Some(claimed) if *claimed != binding.job => {
                if self.defences.is_on(Check::BoundIdentity) {
                    Err(Rejected::IdentityMismatch {
                        bound: binding.job.clone(),
                        claimed: claimed.clone(),
                    })
                } else {
                    // The weakened core believes the claim: the flaw the model must find.
                    Ok(claimed.clone())
                }
            }
            _ => Ok(binding.job.clone()),
        }
    }

    /// `fresh-sequence`: `Some` ends the pipeline (duplicate or refusal), `None` continues.
    fn check_sequence(
        &self,
        job: &JobId,
        record: &JobRecord,
        seq: u64,
        digest: &MessageDigest,
    ) -> Option<Result<Accepted, Rejected>> {
        if !self.defences.is_on(Check::FreshSequence) {
            return None;
        }
        if record.session_fresh {
            return None;
        }
        let last = record.last_seq;
        if seq == last.saturating_add(1) {
            None
        } else if seq > last {
            Some(Err(Rejected::SequenceGap {
                job: job.clone(),
                expected: last + 1,
                got: seq,
            }))
        } else if record.window.get(&seq) == Some(digest) {
            Some(Ok(Accepted::Duplicate { job: job.clone(), seq }))
        } else {
            Some(Err(Rejected::ReplayedSequence {
                job: job.clone(),
                seq,
                last,
            }))
        }
    }

    fn apply(&mut self, job: &JobId, seq: u64, digest: MessageDigest, body: &JobBody) {
        let window = self.config.dedup_window;
        let Some(record) = self.jobs.get_mut(job) else { return };
        record.session_fresh = false;
        record.last_seq = record.last_seq.max(seq);
        record.window.insert(seq, digest);
        while record.window.len() as u64 > window {
            record.window.pop_first();
        }
        let finished = match body {
            JobBody::Started => {
                record.state = JobState::Running;
                record.completed.insert("started".into());
                false
            }
            JobBody::Succeeded => {
                record.state = JobState::Succeeded;
                record.completed.insert("succeeded".into());
                true
            }
            JobBody::Failed(reason) => {
                record.state = JobState::Failed(*reason);
                record.completed.insert("failed".into());
                true
            }
            JobBody::Output(name) => {
                record.completed.insert(name.as_str().to_owned());
                false
            }
            JobBody::Message { .. } | JobBody::Heartbeat => false,
        };
        if finished
            && let Some(binding) = record.key.and_then(|k| self.registry.get_mut(&k))
            && binding.status == KeyStatus::Active
        {
            binding.status = KeyStatus::Finished;
            self.events.push_back(Event::Revoked {
                job: job.clone(),
                reason: RevokeReason::Terminal,
            });
        }
    }

    /// Rebuilds state from the event log after a restart. Events are trusted: they were
    /// written by this scheduler after its own checks.
    pub fn restore(&mut self, event: &Event) {
        match event {
            Event::Launched { spec, deadline } => {
                let start = Millis(deadline.0.saturating_sub(duration_ms(self.config.bootstrap_timeout)));
                let _ = self.begin_launch(start, spec.clone());
            }
            Event::Registered { job, key } => self.bind(job, *key),
            Event::LaunchFailed { job, reason } => self.fail_launch(job, reason),
            Event::Accepted { job, seq, body } => {
                let message = JobMessage {
                    seq: *seq,
                    claim: job.clone(),
                    body: body.clone(),
                };
                self.apply(job, *seq, digest(&message), body);
            }
            Event::Revoked {
                job,
                reason: RevokeReason::Operator,
            } => {
                let _ = self.revoke(job);
            }
            Event::Revoked {
                reason: RevokeReason::Terminal,
                ..
            } => {}
            Event::ClientRegistered { client, key } => {
                let _ = self.register_client(*key.as_bytes(), client.clone());
            }
            Event::ClientRevoked { key } => {
                self.revoke_client(key);
            }
            Event::Commanded {
                key,
                client,
                actor,
                op,
                target,
                seq,
            } => {
                let command = ClientCommand {
                    seq: *seq,
                    actor: actor.clone(),
                    op: *op,
                    target: target.clone(),
                };
                let digest = digest_bytes(&Message::Command(command.clone()).to_bytes());
                self.apply_command(key, client, &command, digest);
            }
        }
        self.events.clear();
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
