//! People acting on workflows as a model, through the composition production runs: the hub
//! authenticates a request's token with the real session manager (login, elevation with
//! re-authentication, expiry, logout), vouches for the person with a real signed assertion
//! (`protocol_gateway::assertion::{vouch, sign}`) on the request the UI server is sent, and
//! the UI server admits it with the real verification and replay guard
//! (`assertion::admit`), reads the command body as its handler does
//! (`uiserver::read_command`), then authorises and records through the real
//! `authorize_vouched`, so "record, then act" is the implementation's own ordering. Around
//! them: an honest person (`jacintar`), an attacker who steals tokens, copies the session
//! store, replays tokens elsewhere, reads the hub's link to the UI server and replays or edits
//! the assertions on it, guesses logins, injects line breaks and tampers with the stored log; a
//! clock that advances in fixed steps or jumps to the next deadline exactly; a crash; and an
//! administrator who may install a policy with a typo.
//!
//! Every decision is the cores'; the model only keeps, beside them, its own record of what the
//! design intends (which token each request carried, when each session was opened and last
//! used, whether it was logged out), against which the properties judge a core that has one
//! defence removed.
//!
//! Time: the clock moves in steps of 10 minutes; elevation lasts 15, a session idles out
//! after 20 and ends at 30. So one step leaves an elevation live, two end it (with the session
//! kept alive in between), two idle steps expire a session before its lifetime, and three
//! kept-alive steps reach its lifetime: every boundary is crossed, in every order, within three
//! steps. Production uses 15 minutes, 1 hour and 12 hours; only the order of the boundaries
//! matters to the properties, and it is the same. Beside the steps, the clock may jump to the
//! next deadline exactly (an elevation's end, a session's idle timeout or lifetime, a forwarded
//! assertion's last fresh instant), so an off-by-one at any boundary is met; an assertion's
//! freshness window is production's (30 s).

mod actions;
mod enumerate;
mod explain;
mod forward;
pub mod properties;
mod state;

use std::collections::BTreeMap;
use std::time::Duration;

use protocol_core::Millis;
use protocol_core::ids::{Owner, WorkflowId};
use protocol_gateway::assertion::{HubKey, ReplayGuard};
use protocol_gateway::checks::GatewayDefences;
use protocol_people::audit::{AuditKey, MemoryLog};
use protocol_people::authz::Authorizer;
use protocol_people::checks::PeopleDefences;
use protocol_people::groups::{FileGroups, GroupProvider};
use protocol_people::names::GroupName;
use protocol_people::ops::Level;
use protocol_people::policy::{Policy, PolicyFile};
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, Token, UserDb};
use rand_core::{CryptoRng, RngCore};
use serde::Serialize;
use stateright::{Model, Property};

pub use actions::{Action, Op, Raise};
pub use properties::names;
pub use state::{
    Attacker, Aud, Fact, Forwarded, Guess, Held, Honest, Issue, Issued, Origin, Party, PolicyVersion, SessionSpec,
    Standing, State, Tamper, UiSide, Vouch,
};

/// When the model starts: the hub design notes' morning, 2026-11-22T10:00:00Z.
pub const START: Millis = Millis(1_795_341_600_000);

/// One step of the clock.
pub const TICK: Duration = Duration::from_secs(10 * 60);

/// How far a hub assertion's time may be from the UI server's clock: the UI server's default.
#[must_use]
pub fn max_skew() -> Duration {
    protocol_gateway::uiserver::UiSettings::default().max_skew
}

/// The replay guard's capacity (production's is 100,000; the model never comes near either).
const GUARD_CAPACITY: usize = 64;

/// The honest person's account and password (a test fixture: the example user file's).
pub const PERSON: &str = "jacintar";
const PASSWORD: &str = "jacintar-example-password";
const USERS: &str = "[users]\njacintar = \"$argon2id$v=19$m=8,t=1,p=1$vXqqm2Jor1sXNV0iIeQG0A$zNXoNhAsqaqg3zoqGqT0woU575QA1KiBCWv4efrc2Ek\"\n";

/// The workflow acted on.
pub const WORKFLOW: &str = "atmosphere_stage/clouds";

/// Seed 001's site layer: everyone may read, stop and start; nobody gets more than Read and
/// Execute, except that operators may be given `reload`.
const SITE: &str = r#"[site."*"."*"]
default = ["READ", "stop", "play"]
limit = ["READ", "EXECUTE"]

[site."*"."group:operators"]
limit = ["READ", "EXECUTE", "reload"]
"#;

/// `atmosphere_stage`'s grants: operators may read and execute; `jacintar` (an operator) may
/// also reload and edit-trigger (above the site limit), and may never trigger.
const OWNER: &str = r#"[grants]
"group:operators" = ["READ", "EXECUTE"]
"jacintar" = ["READ", "stop", "reload", "edit-trigger", "!trigger"]
"#;

/// The administrator meant to make `clouds` read-only for everyone and mistyped `READ`.
const TYPO: &str = r#"[grants]
"*" = ["REED"]
"#;

/// How far the checker explores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Bounds {
    /// Requests the honest person makes (logins, elevations, operations, logouts; the
    /// keep-alives of an open view come with the clock).
    pub honest_requests: u8,
    /// Clock steps of 10 minutes.
    pub ticks: u8,
    /// Jumps of the clock to the next deadline.
    pub jumps: u8,
    /// Whether the attacker acts at all.
    pub attacker: bool,
    /// Elevations the attacker may ask for with a stolen token (its other moves end the run).
    pub attacker_elevations: u8,
    /// Whether the attacker may tamper with the stored audit log.
    pub tamper: bool,
    /// Whether the attacker may replay and edit the assertions it read on the hub's link to
    /// the UI server (each such move ends the run).
    pub assertions: bool,
    /// Whether the administrator may install the policy with a typo (as the first step).
    pub misconfiguration: bool,
}

impl Bounds {
    /// The default proof bound.
    pub const PROOF: Self = Self {
        honest_requests: 4,
        ticks: 3,
        jumps: 1,
        attacker: true,
        attacker_elevations: 1,
        tamper: true,
        assertions: true,
        misconfiguration: true,
    };

    /// The bound for pull requests (`--quick`) and for attack searches: every variant's attack
    /// is within it.
    pub const QUICK: Self = Self {
        honest_requests: 3,
        ticks: 3,
        jumps: 1,
        attacker: true,
        attacker_elevations: 1,
        tamper: true,
        assertions: true,
        misconfiguration: true,
    };
}

/// A deterministic stand-in for the gateway's random source: the token generated from seed `n`
/// is a fixed function of `n`, so states are reproducible and a held token is regenerated from
/// its seed when used. The attacker is symbolic (it never guesses a token), so predictability
/// gives it nothing.
#[derive(Debug)]
pub(crate) struct SeedRng {
    seed: u8,
    next: u8,
}

impl SeedRng {
    pub(crate) const fn new(seed: u8) -> Self {
        Self { seed, next: 0 }
    }
}

impl RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // 37 is odd, so the first byte alone tells seeds apart; never all zeros (the forged
        // token).
        for b in dest {
            *b = self.seed.wrapping_mul(37).wrapping_add(self.next) ^ 0xa5;
            self.next = self.next.wrapping_add(1);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SeedRng {}

/// The bytes of the token generated from `seed`.
pub(crate) fn token_bytes(seed: u8) -> [u8; 32] {
    let mut b = [0; 32];
    SeedRng::new(seed).fill_bytes(&mut b);
    b
}

/// The token whose bytes are `bytes` (through its public wire form).
pub(crate) fn token_from(bytes: &[u8]) -> Option<Token> {
    Token::from_wire(&hex::encode(bytes)).ok()
}

/// The model. See the module documentation.
#[derive(Debug, Clone)]
pub struct PeopleModel {
    /// The defences every core is built with.
    pub defences: PeopleDefences,
    /// The gateway's defences the UI server applies to assertions.
    pub gateway: GatewayDefences,
    /// The bounds.
    pub bounds: Bounds,
    config: SessionConfig,
    authorizers: [Authorizer; 2],
    offered: [Vec<Op>; 2],
    groups: FileGroups,
    person: Owner,
    workflow: WorkflowId,
    audiences: [Audience; 2],
    key: AuditKey,
    hub_key: HubKey,
    sessions: SessionManager,
}

fn file(path: &str, text: &str) -> PolicyFile {
    PolicyFile {
        path: path.to_owned(),
        text: text.to_owned(),
    }
}

impl PeopleModel {
    /// A model of the gateway built with `defences`, explored within `bounds`.
    #[must_use]
    pub fn new(defences: PeopleDefences, bounds: Bounds) -> Self {
        Self::with_gateway(defences, GatewayDefences::all(), bounds)
    }

    /// A model of the gateway built with `defences` and the UI server with `gateway`,
    /// explored within `bounds`.
    #[must_use]
    pub fn with_gateway(defences: PeopleDefences, gateway: GatewayDefences, bounds: Bounds) -> Self {
        let config = SessionConfig {
            idle_timeout: Duration::from_secs(20 * 60),
            absolute_lifetime: Duration::from_secs(30 * 60),
            elevation_window: Duration::from_secs(15 * 60),
            hash_params: HashParams::FAST_INSECURE,
        };
        let person = Owner::new(PERSON).expect("a valid constant");
        let workflow: WorkflowId = WORKFLOW.parse().expect("a valid constant");
        let operators = GroupName::new("operators").expect("a valid constant");
        let groups = FileGroups::from_members(BTreeMap::from([(person.clone(), [operators].into())]));
        let written = [file("site.toml", SITE), file("users/atmosphere_stage.toml", OWNER)];
        let typo = [
            file("site.toml", SITE),
            file("users/atmosphere_stage.toml", OWNER),
            file("workflows/atmosphere_stage/clouds.toml", TYPO),
        ];
        let authorizers = [&written[..], &typo[..]]
            .map(|files| Authorizer::with_defences(Policy::from_files(files, &defences), defences.clone()));
        // What a UI offers (the operations the policy lets the person perform once elevated):
        // the honest person asks for nothing else, and always tries to read.
        let offered = [0, 1].map(|i| {
            let allowed = match (groups.person(&(&person).into()), groups.workflow(&workflow)) {
                (Ok(p), Ok(w)) => authorizers[i].permitted_ops(&p, &w, Level::Write),
                _ => Default::default(),
            };
            Op::ALL
                .into_iter()
                .filter(|op| *op == Op::Read || allowed.contains(&op.operation()))
                .collect()
        });
        let users = UserDb::parse("users.toml", USERS).expect("a valid constant");
        let sessions = SessionManager::with_defences(users, config.clone(), defences.clone())
            .expect("the fast argon2 parameters are valid");
        Self {
            defences,
            gateway,
            bounds,
            config,
            authorizers,
            offered,
            groups,
            person,
            workflow,
            audiences: [
                Audience::new("hub").expect("a valid constant"),
                Audience::new("uiserver:atmosphere_stage").expect("a valid constant"),
            ],
            key: AuditKey::from_bytes([7; 32]),
            hub_key: HubKey::from_bytes([9; 32]),
            sessions,
        }
    }

    /// Every defence, the proof bound.
    #[must_use]
    pub fn standard() -> Self {
        Self::new(PeopleDefences::all(), Bounds::PROOF)
    }

    /// The session timing the model uses.
    #[must_use]
    pub const fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The operations the honest person tries under a policy: what the UI offers, and `read`.
    #[must_use]
    pub fn offered(&self, policy: PolicyVersion) -> &[Op] {
        &self.offered[policy as usize]
    }

    /// The real audience for a symbolic one.
    #[must_use]
    pub fn audience(&self, aud: Aud) -> &Audience {
        &self.audiences[aud as usize]
    }

    fn authorizer(&self, policy: PolicyVersion) -> &Authorizer {
        &self.authorizers[policy as usize]
    }

    pub(crate) fn initial(&self) -> State {
        State {
            fresh: true,
            now: START,
            ticks: 0,
            jumps: 0,
            policy: PolicyVersion::AsWritten,
            sessions: self.sessions.clone(),
            log: MemoryLog::new(self.key.clone(), self.defences.clone()),
            ui: UiSide {
                guard: ReplayGuard::new(max_skew(), GUARD_CAPACITY),
                last: None,
                captured: None,
                at_instant: 0,
            },
            honest: Honest::default(),
            attacker: Attacker::default(),
            ledger: Vec::new(),
            spec: BTreeMap::new(),
            over: false,
            facts: Vec::new(),
        }
    }
}

impl Model for PeopleModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial()]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.enumerate(state, actions);
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.step(state, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all(self)
    }
}
