//! The scheduler core's vocabulary: job states, verdicts, rejections and events.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checks::Check;
use crate::ids::{JobId, Owner};
use crate::keys::{KeyError, PublicKey};
use crate::wire::{CommandOp, FailReason, JobBody, OutputName, RejectCode};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Launched; waiting for its key on the bootstrap channel.
    Launching,
    /// Key registered; the job has not reported yet.
    Submitted,
    /// The job reported `started`.
    Running,
    /// The job reported `succeeded` (terminal).
    Succeeded,
    /// The job reported `failed` (terminal).
    Failed(FailReason),
    /// The launch failed: no key in time, a bad key, or the launcher failed (terminal).
    LaunchFailed,
}

impl JobState {
    /// Whether nothing more can happen to the job.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed(_) | Self::LaunchFailed)
    }

    /// A short name for messages and logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Launching => "launching",
            Self::Submitted => "submitted",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed(_) => "failed",
            Self::LaunchFailed => "launch-failed",
        }
    }

    /// The message kinds a job may send in this state: the allow-list of the `allowed-type`
    /// check. Commands are never in it.
    #[must_use]
    pub fn allows(self, body: &JobBody) -> bool {
        match self {
            Self::Submitted => matches!(body, JobBody::Started | JobBody::Failed(_)),
            Self::Running => !matches!(body, JobBody::Started),
            Self::Launching | Self::Succeeded | Self::Failed(_) | Self::LaunchFailed => false,
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Outputs the scheduler itself derives from job states; a job may not complete them directly.
pub const RESERVED_OUTPUTS: [&str; 6] = [
    "submitted",
    "submit-failed",
    "started",
    "succeeded",
    "failed",
    "expired",
];

/// What a launch asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job.
    pub id: JobId,
    /// The custom outputs its task declares.
    pub outputs: BTreeSet<OutputName>,
}

/// Why a launch could not begin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum LaunchError {
    /// The job already exists.
    #[error("job {0} already exists")]
    AlreadyExists(JobId),
    /// The job belongs to another workflow.
    #[error("job {0} does not belong to this scheduler's workflow")]
    WrongWorkflow(JobId),
    /// A declared output uses a reserved name.
    #[error("output {0} is reserved")]
    ReservedOutput(OutputName),
    /// The cap on live jobs is reached (concern C06: limit parallel jobs).
    #[error("{live} jobs are live, the limit is {max}: launch refused until one finishes")]
    TooManyLiveJobs {
        /// Jobs launching, submitted or running.
        live: u64,
        /// The cap.
        max: u32,
    },
}

/// Why a job's key was not registered. The launch fails.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RegistrationError {
    /// No launch of this job is waiting for a key.
    #[error("no launch of {0} is waiting for a key")]
    NotAwaitingKey(JobId),
    /// The key arrived after the deadline (`bootstrap-deadline`).
    #[error("key for {job} arrived {late_ms} ms after the deadline")]
    LateReply {
        /// The job.
        job: JobId,
        /// How late.
        late_ms: u64,
    },
    /// The key is non-canonical or of low order (`key-validation`).
    #[error("key for {job} refused: {reason}")]
    BadKey {
        /// The job.
        job: JobId,
        /// Why.
        reason: KeyError,
    },
    /// The key is already bound to another job (`unique-key`).
    #[error("key for {job} is already registered to {holder}")]
    DuplicateKey {
        /// The job asking.
        job: JobId,
        /// The job holding the key.
        holder: JobId,
    },
    /// The key is a UI server's client key (`unique-key`: keys are unique across jobs and
    /// clients, so a job can never take a client's identity or have it revoked with its own).
    #[error("key for {job} is a UI server's client key")]
    ClientKey {
        /// The job asking.
        job: JobId,
    },
}

impl RegistrationError {
    /// The check that fired, if a named one did.
    #[must_use]
    pub const fn check(&self) -> Option<Check> {
        match self {
            Self::NotAwaitingKey(_) => None,
            Self::LateReply { .. } => Some(Check::BootstrapDeadline),
            Self::BadKey { .. } => Some(Check::KeyValidation),
            Self::DuplicateKey { .. } | Self::ClientKey { .. } => Some(Check::UniqueKey),
        }
    }
}

/// Why a state change did not happen (`valid-transition`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransitionError {
    /// The output is one the scheduler derives itself.
    ReservedOutput(OutputName),
    /// The task does not declare the output.
    UndeclaredOutput(OutputName),
    /// The output is already complete.
    OutputAlreadyCompleted(OutputName),
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOutput(o) => write!(f, "output {o} is reserved to the scheduler"),
            Self::UndeclaredOutput(o) => write!(f, "output {o} is not declared by the task"),
            Self::OutputAlreadyCompleted(o) => write!(f, "output {o} is already complete"),
        }
    }
}

/// Why a handshake or message was refused: one variant per violated defence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejected {
    /// The sender's key is bound to no job (`authenticated-key`; cannot be removed: there is
    /// no identity to act for).
    #[error("unknown key {0:?}")]
    UnknownKey(PublicKey),
    /// The sender's key was revoked by an operator (`authenticated-key`).
    #[error("key of {job} has been revoked")]
    RevokedKey {
        /// The job it was bound to.
        job: JobId,
    },
    /// The first handshake payload was not empty (`empty-first-payload`).
    #[error("first handshake payload of {len} bytes; it must be empty")]
    NonEmptyFirstPayload {
        /// Its length.
        len: usize,
    },
    /// The first handshake payload was acted on and did not decode (weakened builds only).
    #[error("first handshake payload did not decode")]
    MalformedFirstPayload,
    /// The message claims to be from another job (`bound-identity`).
    #[error("message claims {claimed} but the key is bound to {bound}")]
    IdentityMismatch {
        /// The job bound to the key.
        bound: JobId,
        /// The job claimed.
        claimed: JobId,
    },
    /// A sequence number beyond the next one (`fresh-sequence`).
    #[error("{job}: sequence {got} skips ahead of {expected}")]
    SequenceGap {
        /// The job.
        job: JobId,
        /// The next sequence number.
        expected: u64,
        /// The one received.
        got: u64,
    },
    /// An old sequence number that is not a faithful retransmission (`fresh-sequence`).
    #[error("{job}: sequence {seq} was already used (last {last})")]
    ReplayedSequence {
        /// The job.
        job: JobId,
        /// The sequence number received.
        seq: u64,
        /// The last accepted.
        last: u64,
    },
    /// The message type is not one this job may send now (`allowed-type`).
    #[error("{job}: {kind} is not allowed while {state}")]
    TypeNotAllowed {
        /// The job.
        job: JobId,
        /// The message kind (Cylc's name).
        kind: &'static str,
        /// The job's state.
        state: JobState,
    },
    /// The state change is invalid (`valid-transition`).
    #[error("{job}: {reason}")]
    InvalidTransition {
        /// The job.
        job: JobId,
        /// Why.
        reason: TransitionError,
    },
    /// A UI server's key was revoked (`authenticated-key`).
    #[error("client key of {client}'s UI server has been revoked")]
    RevokedClient {
        /// The owner whose UI server held the key.
        client: Owner,
    },
    /// A job message arrived on a UI server's key (`allowed-type`).
    #[error("{client}'s UI server sent a job message")]
    JobMessageFromClient {
        /// The owner whose UI server sent it.
        client: Owner,
    },
    /// A command's sequence number is not the next one, nor a faithful retransmission
    /// (`fresh-sequence`).
    #[error("{client}'s UI server: sequence {got}, expected {expected}")]
    ClientSequence {
        /// The owner whose UI server sent it.
        client: Owner,
        /// The next sequence number.
        expected: u64,
        /// The one received.
        got: u64,
    },
    /// A command names nothing in this workflow (`valid-transition`).
    #[error("{client}'s UI server: unknown target {target:?}")]
    UnknownTarget {
        /// The owner whose UI server sent it.
        client: Owner,
        /// The target named.
        target: String,
    },
}

impl Rejected {
    /// The check that fired.
    #[must_use]
    pub const fn check(&self) -> Check {
        match self {
            Self::UnknownKey(_) | Self::RevokedKey { .. } | Self::RevokedClient { .. } => Check::AuthenticatedKey,
            Self::NonEmptyFirstPayload { .. } | Self::MalformedFirstPayload => Check::EmptyFirstPayload,
            Self::IdentityMismatch { .. } => Check::BoundIdentity,
            Self::SequenceGap { .. } | Self::ReplayedSequence { .. } | Self::ClientSequence { .. } => {
                Check::FreshSequence
            }
            Self::TypeNotAllowed { .. } | Self::JobMessageFromClient { .. } => Check::AllowedType,
            Self::InvalidTransition { .. } | Self::UnknownTarget { .. } => Check::ValidTransition,
        }
    }

    /// The code sent to the peer.
    #[must_use]
    pub const fn code(&self) -> RejectCode {
        match self {
            Self::UnknownKey(_) => RejectCode::UnknownKey,
            Self::RevokedKey { .. } | Self::RevokedClient { .. } => RejectCode::RevokedKey,
            Self::JobMessageFromClient { .. } => RejectCode::TypeNotAllowed,
            Self::ClientSequence { got, expected, .. } if *got > *expected => RejectCode::SequenceGap,
            Self::ClientSequence { .. } => RejectCode::ReplayedSequence,
            Self::UnknownTarget { .. } => RejectCode::InvalidTransition,
            Self::NonEmptyFirstPayload { .. } | Self::MalformedFirstPayload => RejectCode::TypeNotAllowed,
            Self::IdentityMismatch { .. } => RejectCode::IdentityMismatch,
            Self::SequenceGap { .. } => RejectCode::SequenceGap,
            Self::ReplayedSequence { .. } => RejectCode::ReplayedSequence,
            Self::TypeNotAllowed { .. } => RejectCode::TypeNotAllowed,
            Self::InvalidTransition { .. } => RejectCode::InvalidTransition,
        }
    }
}

/// A message the pipeline let through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Accepted {
    /// A new message: its effect has been applied and an [`Event::Accepted`] queued; the
    /// driver must make that event durable before acknowledging.
    New {
        /// The job it was applied to.
        job: JobId,
        /// Its sequence number.
        seq: u64,
    },
    /// A faithful retransmission of a message already accepted: acknowledge, nothing else.
    Duplicate {
        /// The job.
        job: JobId,
        /// Its sequence number.
        seq: u64,
    },
    /// A UI server's command was applied and an [`Event::Commanded`] queued.
    Command {
        /// The owner whose UI server sent it.
        client: Owner,
        /// Its sequence number.
        seq: u64,
    },
    /// A faithful retransmission of a command already applied.
    CommandDuplicate {
        /// The owner whose UI server sent it.
        client: Owner,
        /// Its sequence number.
        seq: u64,
    },
}

impl Accepted {
    /// The sequence number to acknowledge.
    #[must_use]
    pub const fn seq(&self) -> u64 {
        match self {
            Self::New { seq, .. }
            | Self::Duplicate { seq, .. }
            | Self::Command { seq, .. }
            | Self::CommandDuplicate { seq, .. } => *seq,
        }
    }
}

/// Why a job's key stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevokeReason {
    /// The job reached a terminal state.
    Terminal,
    /// An operator revoked it.
    Operator,
}

/// A durable fact the driver must write to the event log, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A launch began.
    Launched {
        /// What was launched.
        spec: JobSpec,
        /// When its key is due.
        deadline: crate::time::Millis,
    },
    /// A job's key was registered.
    Registered {
        /// The job.
        job: JobId,
        /// Its key.
        key: PublicKey,
    },
    /// A launch failed.
    LaunchFailed {
        /// The job.
        job: JobId,
        /// Why, for people.
        reason: String,
    },
    /// A message was accepted and applied.
    Accepted {
        /// The job.
        job: JobId,
        /// Its sequence number.
        seq: u64,
        /// What it said.
        body: JobBody,
    },
    /// A key was revoked.
    Revoked {
        /// The job.
        job: JobId,
        /// Why.
        reason: RevokeReason,
    },
    /// A UI server's key was registered.
    ClientRegistered {
        /// The owner whose UI server it is.
        client: Owner,
        /// Its key.
        key: PublicKey,
    },
    /// A UI server's key was revoked.
    ClientRevoked {
        /// The key.
        key: PublicKey,
    },
    /// A command from a UI server was applied, on behalf of `actor`.
    Commanded {
        /// The UI server's key.
        key: PublicKey,
        /// The owner whose UI server sent it (authenticated by its key).
        client: Owner,
        /// The person the UI server authenticated and authorised.
        actor: Owner,
        /// The operation.
        op: CommandOp,
        /// Its target.
        target: String,
        /// The command's sequence number.
        seq: u64,
    },
}
