//! The people model's state: the real session manager and audit log, what the honest person and
//! the attacker hold, the model's own record of every token issued and every session's intended
//! life (the specification the properties judge against), and what the last step showed.

use std::collections::BTreeMap;

use protocol_core::Millis;
use protocol_gateway::assertion::ReplayGuard;
use protocol_people::audit::MemoryLog;
use protocol_people::gate::GateError;
use protocol_people::ops::{Level, Operation};
use protocol_people::session::SessionManager;
use serde::Serialize;

/// Which policy the gateway loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PolicyVersion {
    /// The policy as intended.
    AsWritten,
    /// The same policy plus a workflow file with a typo in it.
    WithTypo,
}

/// Where a request is presented: a token is issued for one audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Aud {
    /// The hub, where the honest person logs in and works.
    Hub,
    /// A UI server: another service that must refuse the hub's tokens.
    UiServer,
}

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Party {
    /// The honest person (`jacintar`), who knows their password.
    Honest,
    /// The attacker, who does not.
    Attacker,
}

/// Where a presented token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Origin {
    /// The gateway gave it to whoever presents it (the honest person's own token, or the token
    /// an elevation gave the attacker).
    Issued,
    /// The attacker copied it from the honest person.
    Stolen,
    /// The attacker rebuilt it from a copy of the session store.
    StoreCopy,
    /// The attacker made it up.
    Forged,
}

/// A token the attacker presents. Tokens are secrets without `Eq` or `Hash`, so the state
/// holds the seed each was generated from; the model regenerates the token when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Held {
    /// A token the honest person was given (stolen from them).
    Stolen(u8),
    /// A token an elevation handed to the attacker.
    Obtained(u8),
}

impl Held {
    /// The seed of the token.
    #[must_use]
    pub const fn seed(self) -> u8 {
        match self {
            Self::Stolen(seed) | Self::Obtained(seed) => seed,
        }
    }
}

/// How a token came to be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Issue {
    /// By a login.
    Login,
    /// By an elevation to `to`; `reauth` when the request carried the account's password.
    Elevation {
        /// The level.
        to: Level,
        /// Whether the password was presented.
        reauth: bool,
    },
}

/// A token the gateway issued (the token generated from seed `n` is `ledger[n]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Issued {
    /// Who it was handed to.
    pub holder: Party,
    /// The session it belongs to.
    pub session: u64,
    /// How.
    pub by: Issue,
    /// When.
    pub at: Millis,
}

/// A session as the design intends it to live: the model's specification, kept apart from the
/// core's own bookkeeping so that a core with a defence removed is judged against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionSpec {
    /// Where its tokens may be used.
    pub audience: Aud,
    /// When it was opened.
    pub created: Millis,
    /// When a request last used it.
    pub last_used: Millis,
    /// Whether it was logged out.
    pub ended: bool,
    /// The seed of its current token (an elevation retires the one before).
    pub latest: u8,
}

/// How a token that was honoured stood against the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Standing {
    /// Presented to the audience it was issued for.
    pub audience_ok: bool,
    /// Its session had been logged out.
    pub ended: bool,
    /// It is its session's current token (not one an elevation retired).
    pub latest: bool,
    /// Milliseconds since the session was last used.
    pub idle: u64,
    /// Milliseconds since the session was opened.
    pub age: u64,
}

/// What one step showed: the facts the properties and witnesses judge. Only the last step's
/// facts are kept (every state is checked, so each fact is judged in the state it appears in),
/// which keeps states that differ only in their past from multiplying.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fact {
    /// A request was carried out on a token's authority (authenticated, or an elevation
    /// applied).
    Honoured {
        /// Who presented it.
        by: Party,
        /// Where it came from.
        origin: Origin,
        /// How it stood, if it is a token the gateway issued.
        standing: Option<Standing>,
    },
    /// A token was refused.
    Refused {
        /// Who presented it.
        by: Party,
        /// Where it came from.
        origin: Origin,
        /// The core's reason code (`idle-expired`, `wrong-audience`…).
        code: &'static str,
    },
    /// A UI server issued a permit and acted.
    Effect {
        /// Who asked.
        by: Party,
        /// How the request acted on stood against what the hub vouched for.
        vouched: Vouch,
        /// What was done.
        op: Operation,
        /// The token the request carried, as issued.
        token: Option<Issued>,
        /// Whether the policy in force is the one with a typo.
        policy_broken: bool,
        /// Whether the permit's audit record was durable when the gateway acted.
        durable: bool,
    },
    /// The policy or the session's level denied an authenticated request.
    Denied {
        /// Who asked.
        by: Party,
        /// What.
        op: Operation,
        /// The token the request carried, as issued.
        token: Option<Issued>,
        /// The core's reason code (`needs-elevation`, `policy-broken`…).
        reason: &'static str,
    },
    /// A UI server refused a request's hub assertion.
    AssertionRefused {
        /// Who sent it.
        by: Party,
        /// The assertion code's reason (`replayed`, `stale`, `bad-mac`…).
        code: &'static str,
        /// Whether it came at the last instant of its freshness window.
        at_edge: bool,
    },
    /// A UI server refused a request's body (`400`; nothing recorded, nothing done).
    BadRequest,
    /// An elevation was applied.
    Elevated {
        /// Who asked.
        by: Party,
        /// To what.
        to: Level,
        /// Whether the request carried the password.
        reauth: bool,
    },
    /// An elevation was refused after its token was accepted (the password was wrong).
    ElevationRefused {
        /// Who asked.
        by: Party,
        /// The core's reason code.
        code: &'static str,
    },
    /// The honest person logged in.
    LoggedIn,
    /// The honest person logged out.
    LoggedOut,
    /// The attacker tampered with the stored log and an auditor verified it.
    Tampered {
        /// What was done.
        kind: Tamper,
        /// Whether verification failed.
        detected: bool,
    },
    /// A request whose field held a line break and a forged record was recorded.
    Injected,
    /// A crash lost the records that were not durable.
    Crashed {
        /// How many.
        lost: u64,
    },
}

/// How an operation a UI server carried out stood against the request the hub forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Vouch {
    /// Carried out once, as the hub vouched for it (person, level, request).
    Once,
    /// A request the hub forwarded, carried out a second time.
    Again,
    /// Carried out for another person, level or request than the hub vouched for.
    Altered,
}

/// A request the hub forwarded to the UI server: the signed header as it crossed the loopback
/// link (the attacker reads that link), and what the hub vouched for, kept as the design's
/// intent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Forwarded {
    /// The assertion header.
    pub header: String,
    /// What was asked.
    pub op: super::Op,
    /// The task named, if any.
    pub target: Option<&'static str>,
    /// The level the hub vouched for.
    pub level: Level,
    /// When the hub signed it.
    pub at: Millis,
    /// The token the request carried, as issued.
    pub token: Option<Issued>,
    /// Whether a UI server has carried it out.
    pub carried: bool,
}

/// Ways of tampering with the stored audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Tamper {
    /// Swap the first two records.
    Reorder,
    /// Cut the last record off.
    Truncate,
    /// Change the first record's date.
    Backdate,
}

impl Tamper {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 3] = [Self::Reorder, Self::Truncate, Self::Backdate];
}

/// A failed login the attacker tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Guess {
    /// A user name that does not exist.
    UnknownUser,
    /// The honest person's name with a wrong password.
    KnownUser,
}

/// The honest person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Honest {
    /// The seed of the token they hold, if any.
    pub token: Option<u8>,
    /// Requests made so far.
    pub requests: u8,
}

/// What the attacker has done. It holds, implicitly, a copy of every token the honest person
/// was ever given (see the actions for why theft needs no step of its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attacker {
    /// Tokens its own elevations handed it, by seed.
    pub obtained: Vec<u8>,
    /// Elevations it has asked for.
    pub elevations: u8,
    /// The outcome of each guessed login, by kind.
    pub guesses: BTreeMap<Guess, Result<(), GateError>>,
}

/// The UI server's side: its replay guard, the request the hub forwarded in the last step, and
/// the one the attacker kept a copy of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UiSide {
    /// The real replay guard.
    pub guard: ReplayGuard,
    /// The request the hub forwarded in the last step, while it is on the link.
    pub last: Option<Forwarded>,
    /// The request the attacker copied off the link (one per run: which one is the
    /// attacker's choice, so every choice is explored).
    pub captured: Option<Forwarded>,
    /// Requests forwarded at the current instant (with the time, each one's nonce: unique
    /// within the replay guard's window, as a random nonce is, without numbering every request
    /// of the run, which would keep states apart that differ only in their past).
    pub at_instant: u8,
}

/// The whole state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// Whether nothing has happened yet (the administrator may still install a policy).
    pub fresh: bool,
    /// The time the cores were last given.
    pub now: Millis,
    /// Clock steps taken.
    pub ticks: u8,
    /// Jumps of the clock to the next deadline taken.
    pub jumps: u8,
    /// The policy in force.
    pub policy: PolicyVersion,
    /// The real session manager.
    pub sessions: SessionManager,
    /// The real audit log.
    pub log: MemoryLog,
    /// The UI server.
    pub ui: UiSide,
    /// The honest person.
    pub honest: Honest,
    /// The attacker.
    pub attacker: Attacker,
    /// Every token issued, by seed.
    pub ledger: Vec<Issued>,
    /// Every session as the design intends it, by session id.
    pub spec: BTreeMap<u64, SessionSpec>,
    /// Whether the run is over: the last step was one after which nothing the cores read
    /// changes (a replay, a guessed login, an injection, tampering, a crash).
    pub over: bool,
    /// What the last step showed.
    pub facts: Vec<Fact>,
}
