//! The job-channel model's state: the real scheduler core, honest jobs driven by the real job
//! core, the links between them, what the attacker holds, and what the properties remember of
//! what happened.

use std::collections::{BTreeSet, VecDeque};

use protocol_core::command::CommandCore;
use protocol_core::commit::Commit;
use protocol_core::job::JobCore;
use protocol_core::keys::LOW_ORDER_POINTS;
use protocol_core::scheduler::SchedulerCore;
use protocol_core::wire::{
    ClientCommand, CommandOp, FailReason, JobBody, JobMessage, Message, OutputName, RejectCode, Reply,
};
use protocol_core::{Defences, JobId, Millis, PublicKey};
use serde::Serialize;

use super::monitor::Monitor;

/// A key, symbolically: the attacker can use a key exactly when it holds the private half
/// (or, for a low-order point, always: anyone can compute its Diffie-Hellman results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum KeySym {
    /// The scheduler's static key.
    Scheduler,
    /// The static key job `n` made for itself.
    Job(u8),
    /// A key the network attacker made.
    Attacker,
    /// The UI server's client key, registered with the scheduler for the workflow's owner.
    Client,
    /// A low-order point: no private key, predictable shared secrets.
    LowOrder,
}

impl KeySym {
    /// The bytes the real core sees for this key. Distinct, canonical, and (but for
    /// `LowOrder`) not of low order.
    #[must_use]
    pub fn public(self) -> PublicKey {
        match self {
            Self::Scheduler => PublicKey::from_trusted_bytes([0x21; 32]),
            Self::Job(n) => PublicKey::from_trusted_bytes([0x40 + n; 32]),
            Self::Attacker => PublicKey::from_trusted_bytes([0x31; 32]),
            Self::Client => PublicKey::from_trusted_bytes([0x51; 32]),
            Self::LowOrder => PublicKey::from_trusted_bytes(LOW_ORDER_POINTS[0]),
        }
    }

    /// The symbol for bytes the core reports.
    #[must_use]
    pub fn from_public(key: &PublicKey, jobs: u8) -> Option<Self> {
        [Self::Scheduler, Self::Attacker, Self::Client, Self::LowOrder]
            .into_iter()
            .chain((0..jobs).map(Self::Job))
            .find(|k| k.public() == *key)
    }
}

/// Who built a message that reached the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Sender {
    /// The honest job with this index.
    Honest(u8),
    /// The attacker (the network, or the compromised job it controls).
    Attacker,
    /// The honest UI server.
    UiServer,
}

/// The message bodies the attacker may try. Every other body is either one of these for the
/// properties' purposes or refused by the decoder before the core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Body {
    /// `started`.
    Started,
    /// `heartbeat`.
    Heartbeat,
    /// `output` naming the reserved `succeeded` output.
    SucceededOutput,
    /// `succeeded`.
    Succeeded,
    /// `failed` (exit status 1).
    Failed,
    /// `output` naming the task's declared output `file-ready`.
    DeclaredOutput,
    /// `output` naming an output the task never declared.
    UndeclaredOutput,
    /// A command (`stop *`), which only a UI server's key may carry.
    Command,
}

impl Body {
    /// The job-message bodies: every kind a job may send (`message` is `heartbeat`'s twin for
    /// the core: allowed while running, no effect on state), and each branch of `output`.
    pub const JOB: [Self; 7] = [
        Self::Started,
        Self::Heartbeat,
        Self::SucceededOutput,
        Self::Succeeded,
        Self::Failed,
        Self::DeclaredOutput,
        Self::UndeclaredOutput,
    ];

    /// The real message: a job message claiming `claim`, or a command acting as `claim`'s
    /// owner.
    #[must_use]
    pub fn to_message(self, claim: &JobId, seq: u64) -> Message {
        let body = match self {
            Self::Started => JobBody::Started,
            Self::Heartbeat => JobBody::Heartbeat,
            Self::SucceededOutput => JobBody::Output(OutputName::new("succeeded").expect("a valid output name")),
            Self::Succeeded => JobBody::Succeeded,
            Self::Failed => JobBody::Failed(FailReason::Exit(1)),
            Self::DeclaredOutput => JobBody::Output(OutputName::new("file-ready").expect("a valid output name")),
            Self::UndeclaredOutput => JobBody::Output(OutputName::new("never-declared").expect("a valid output name")),
            Self::Command => {
                return Message::Command(ClientCommand {
                    seq,
                    actor: claim.workflow().owner().clone(),
                    op: CommandOp::Stop,
                    target: "*".to_owned(),
                });
            }
        };
        Message::Job(JobMessage {
            seq,
            claim: claim.clone(),
            body,
        })
    }
}

/// What the person using the UI server asks for: a hold on a task that exists, or on one that
/// does not (which the scheduler refuses as `invalid-transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Ask {
    /// `hold` on the first job's task.
    HoldExisting,
    /// `hold` on a task the workflow does not have.
    HoldMissing,
}

impl Ask {
    /// Both, in a fixed order.
    pub const ALL: [Self; 2] = [Self::HoldExisting, Self::HoldMissing];

    /// The command's target for a workflow whose first job is `first`.
    #[must_use]
    pub fn target(self, first: &JobId) -> String {
        match self {
            Self::HoldExisting => format!("{}/{}", first.cycle(), first.task()),
            Self::HoldMissing => format!("{}/no_such_task", first.cycle()),
        }
    }
}

/// The honest UI server: the real command core, driven as `SchedulerLink` drives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UiServer {
    /// The real command core: numbering, one command in flight, retransmission.
    pub core: CommandCore,
    /// Its connection, if it has one (replies travel in `to_job`).
    pub link: Option<Link>,
    /// Commands people have asked it for (the workflow's owner is the acting person).
    pub asked: u8,
}

/// One connection between an honest job (or the UI server) and the scheduler, in both
/// directions. Noise keeps
/// each direction in order and unforgeable, so the attacker can only stop it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Link {
    /// Messages on their way to the scheduler.
    pub to_scheduler: VecDeque<Message>,
    /// Replies on their way to the job.
    pub to_job: VecDeque<Reply>,
}

/// An honest job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HonestJob {
    /// The real job core: numbering, window, retransmission.
    pub core: JobCore,
    /// Its connection, if it has one.
    pub link: Option<Link>,
    /// Whether its launch succeeded (its key reply was registered).
    pub registered: bool,
    /// Whether it gave up (launch failed or a message was rejected).
    pub stopped: bool,
    /// Messages it wrote on connections it has since given up on, which the network still
    /// carries to the scheduler (oldest first): the scheduler may read them beside the job's
    /// current connection, and its answers on them reach nobody.
    pub stale: VecDeque<Message>,
    /// Whether it has connected, so that the attacker holds a first handshake message of its
    /// to replay (on any later connection: while its own is up, after it closed, after the
    /// job finished or the scheduler restarted).
    pub captured: bool,
}

/// A refusal branch of the pipeline that a witness must see reached. Other refusals are not
/// told apart (keeping them out keeps the state space small).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Refusal {
    /// A sequence number beyond the next (`fresh-sequence`).
    Gap,
    /// An earlier sequence number that is not a byte-identical retransmission.
    Replay,
    /// An output the task never declared (`valid-transition`).
    UndeclaredOutput,
    /// An output already completed (`valid-transition`).
    CompletedOutput,
}

impl Refusal {
    /// The witnessed branch a core's refusal took, if it is one.
    #[must_use]
    pub fn witnessed(rejected: &protocol_core::scheduler::Rejected) -> Option<Self> {
        use protocol_core::scheduler::{Rejected as R, TransitionError as T};
        match rejected {
            R::SequenceGap { .. } => Some(Self::Gap),
            R::ReplayedSequence { .. } => Some(Self::Replay),
            R::InvalidTransition {
                reason: T::UndeclaredOutput(_),
                ..
            } => Some(Self::UndeclaredOutput),
            R::InvalidTransition {
                reason: T::OutputAlreadyCompleted(_),
                ..
            } => Some(Self::CompletedOutput),
            _ => None,
        }
    }
}

/// What the attacker holds and has done.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attacker {
    /// Keys whose private half it holds.
    pub keys: BTreeSet<KeySym>,
    /// Messages it has sent.
    pub forged: u8,
    /// Whether the scheduler has refused one of them (a count would only tell apart states
    /// with the same futures).
    pub refused: bool,
    /// Connections it has cut.
    pub severed: u8,
    /// Which refusals its messages have met, for the witnesses that every branch of the
    /// pipeline is reached.
    pub refusals: BTreeSet<Refusal>,
    /// Whether it has read the job host's files (Cylc 7 variant).
    pub read_files: bool,
}

/// Something that happened, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Happening {
    /// The scheduler registered `key` for `job`; `late` if after the launch deadline.
    Registered {
        /// The job.
        job: u8,
        /// The key.
        key: Option<KeySym>,
        /// Whether the deadline had passed.
        late: bool,
    },
    /// A launch failed.
    LaunchFailed {
        /// The job.
        job: u8,
    },
    /// A message took effect on `job`.
    Accepted {
        /// The job whose state changed.
        job: u8,
        /// Its sequence number.
        seq: u64,
        /// What it said.
        body: JobBody,
        /// Who built it.
        sender: Sender,
        /// The key of the session it arrived on.
        key: Option<KeySym>,
    },
    /// A retransmission was acknowledged without effect.
    Duplicate {
        /// The job.
        job: u8,
    },
    /// The defender revoked a job's key.
    Revoked {
        /// The job.
        job: u8,
    },
    /// The scheduler answered the honest UI server's command `seq`: applied (or a duplicate of
    /// an applied one) when `refused` is `None`.
    CommandAnswered {
        /// Its sequence number.
        seq: u64,
        /// The refusal, if refused.
        refused: Option<RejectCode>,
    },
    /// A command took effect, carried by `key`.
    Commanded {
        /// The session key it arrived on.
        key: Option<KeySym>,
    },
    /// The scheduler crashed and restarted from its durable log.
    Crashed {
        /// Events emitted but not yet durable, lost with the process.
        lost: usize,
        /// Whether the defender had been told of its revocation by then.
        told_revoked: bool,
    },
}

/// The whole state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// The real scheduler core.
    pub core: SchedulerCore,
    /// The time the core was last given.
    pub now: Millis,
    /// The honest jobs, by index.
    pub honest: Vec<HonestJob>,
    /// Whether each job's bootstrap reply has been delivered, by index (honest then the
    /// compromised one).
    pub answered: Vec<bool>,
    /// The attacker.
    pub attacker: Attacker,
    /// The honest UI server, if the bound has one.
    pub ui: Option<UiServer>,
    /// Whether the defender has revoked the compromised job.
    pub revoked: bool,
    /// What the properties remember of what happened: the durable part of it (an event's
    /// happening is folded in when the event is durable, so a crash takes back only what was
    /// never durable).
    pub monitor: Monitor,
    /// The scheduler's durability policy and its log, and what a crash would lose.
    pub durability: Durability,
}

/// An answer the scheduler gives an honest party, held by the durability policy
/// ([`protocol_core::commit::Commit`]) until the events before it are durable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Held {
    /// A reply on honest job `job`'s connection.
    Job {
        /// The job.
        job: u8,
        /// The reply.
        reply: Reply,
    },
    /// A reply on the UI server's connection.
    Ui(Reply),
    /// Honest job `job`'s registration verdict, on its launch channel.
    Registration {
        /// The job.
        job: u8,
        /// Whether its key was registered.
        registered: bool,
    },
    /// The defender's answer to its revocation.
    Revocation,
}

/// The scheduler's durability: the production policy, the event log it has made durable, and
/// the happenings of events not yet durable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Durability {
    /// The real group-commit policy: events and the answers waiting for them.
    pub commit: Commit<Held>,
    /// The happenings of the events in `commit`, folded into the monitor when they are durable.
    pub pending: Vec<Happening>,
    /// What a restart would rebuild: a fresh core given every durable event through the real
    /// restore path, one event as it becomes durable (the same calls, in the same order, as
    /// restoring from the whole log at start-up). Kept instead of the log itself so that two
    /// logs that restore to the same core are one state; `None` once no crash can come, when
    /// nothing reads it.
    pub restored: Option<SchedulerCore>,
    /// Crashes so far.
    pub crashes: u8,
    /// Whether the defender has been told its revocation took effect.
    pub told_revoked: bool,
}

impl Durability {
    /// Nothing pending, nothing logged, for a scheduler with `defences` (`restored`: the
    /// fresh core a restart begins from, if a crash may come).
    #[must_use]
    pub const fn new(defences: Defences, restored: Option<SchedulerCore>) -> Self {
        Self {
            commit: Commit::new(defences),
            pending: Vec::new(),
            restored,
            crashes: 0,
            told_revoked: false,
        }
    }
}
