//! What can happen next, and what it does to the state. Every login, elevation and operation
//! goes through the real `Gate` (authenticate, decide, record, then permit); logout records,
//! then calls the real session manager.
//!
//! The alphabet is kept small; each pruning is argued where the action is offered.

use protocol_core::Millis;
use protocol_people::audit::{Actor, AuditEvent, AuditRecord, check};
use protocol_people::authz::Decision;
use protocol_people::gate::{Gate, GateError, Request};
use protocol_people::ops::{Level, Operation};
use protocol_people::session::{SessionError, SessionId, Token};
use serde::Serialize;

use super::state::{Aud, Fact, Guess, Held, Issue, Issued, Origin, Party, PolicyVersion, SessionSpec, Standing, State, Tamper};
use super::{PASSWORD, PeopleModel, SeedRng, TICK, token_bytes, token_from};

/// The operations the model's people ask for: one of each kind the policy treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Op {
    /// `read` (Read).
    Read,
    /// `stop` (Execute; granted).
    Stop,
    /// `trigger` (Execute; granted to the person's group, negated for the person).
    Trigger,
    /// `reload` (Write; granted, within the operators' site limit).
    Reload,
    /// `edit-trigger` (Write; granted by the owner, above the site limit).
    EditTrigger,
}

impl Op {
    /// Every operation, in a fixed order.
    pub const ALL: [Self; 5] = [Self::Read, Self::Stop, Self::Trigger, Self::Reload, Self::EditTrigger];

    /// The real operation.
    #[must_use]
    pub const fn operation(self) -> Operation {
        match self {
            Self::Read => Operation::Read,
            Self::Stop => Operation::Stop,
            Self::Trigger => Operation::Trigger,
            Self::Reload => Operation::Reload,
            Self::EditTrigger => Operation::EditTrigger,
        }
    }
}

/// The levels a session can be raised to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Raise {
    /// Execute.
    Execute,
    /// Write.
    Write,
}

impl Raise {
    /// The real level.
    #[must_use]
    pub const fn level(self) -> Level {
        match self {
            Self::Execute => Level::Execute,
            Self::Write => Level::Write,
        }
    }
}

/// One step of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// The administrator installs the policy with a typo (only as the first step).
    Misconfigure,
    /// The honest person logs in to the hub with their password.
    Login,
    /// The honest person raises their session, giving their password again.
    Elevate(Raise),
    /// The honest person asks the hub to perform an operation on the workflow.
    Act(Op),
    /// The honest person logs out.
    Logout,
    /// The attacker copies the token the honest person holds now.
    Steal,
    /// The attacker reads a copy of the session store.
    CopyStore,
    /// The attacker presents a token it holds, at an audience, asking for an operation.
    Present {
        /// Which token.
        held: Held,
        /// Where.
        at: Aud,
        /// What it asks for.
        op: Op,
    },
    /// The attacker asks to raise a stolen token's session to Execute, without the password.
    ElevateWith(Held),
    /// The attacker tries a login with a wrong password.
    GuessLogin(Guess),
    /// The attacker sends a request whose target holds a line break and a forged record.
    InjectLine,
    /// The attacker tampers with the stored audit log; an auditor then verifies it.
    Tamper(Tamper),
    /// The clock advances one step.
    Tick,
    /// The gateway crashes and restarts: the audit log keeps only its durable records (the
    /// session store is durable and survives).
    Crash,
}

/// The target the honest person names.
const TARGET: &str = "climb.1234";

/// The attacker's target: a task name, a line break, and a forged record of the honest person
/// stopping the workflow.
pub(crate) const INJECTED: &str = "climb.1\n2026-11-22T10:00:00Z User jacintar stopped atmosphere_stage.clouds";

/// The password the attacker tries (it does not know the real one).
const GUESSED: &str = "password123";

/// A user name that does not exist.
pub(crate) const UNKNOWN_USER: &str = "nobody";

fn deny_code(e: &GateError) -> &'static str {
    match e {
        GateError::Session(e) => e.code(),
        GateError::Denied(Decision::Deny(reason)) => reason.code(),
        GateError::Denied(Decision::Allow(_)) | GateError::Groups(_) | GateError::Audit(_) => "internal",
    }
}

impl PeopleModel {
    /// Whether the token from `seed` carries a live elevation to at least `to`, by the design's
    /// clock: the honest person does not raise a session that can already do what they want.
    fn elevated(&self, state: &State, seed: u8, to: Level) -> bool {
        state.ledger.get(usize::from(seed)).is_some_and(|t| match t.by {
            Issue::Elevation { to: have, .. } => {
                have >= to && state.now < t.at.after(self.config().elevation_window)
            }
            Issue::Login => false,
        })
    }

    pub(super) fn enumerate(&self, state: &State, actions: &mut Vec<Action>) {
        let b = self.bounds;
        if state.fresh && b.misconfiguration {
            actions.push(Action::Misconfigure);
        }
        let offered = self.offered(state.policy);
        if state.honest.requests < b.honest_requests {
            match state.honest.token {
                // Logging in again while holding a token adds only a second session of the same
                // kind; the honest person logs in when they have none (at first, after logging
                // out, or after the hub refused their token).
                None => actions.push(Action::Login),
                Some(seed) => {
                    // Raising only to levels the UI offers operations for.
                    for raise in [Raise::Execute, Raise::Write] {
                        let useful = offered.iter().any(|op| op.operation().level() == raise.level());
                        if useful && !self.elevated(state, seed, raise.level()) {
                            actions.push(Action::Elevate(raise));
                        }
                    }
                    actions.extend(offered.iter().map(|op| Action::Act(*op)));
                    actions.push(Action::Logout);
                }
            }
        }
        let a = &state.attacker;
        if a.thefts < b.thefts {
            if let Some(seed) = state.honest.token
                && !a.held.contains(&Held::Stolen(seed))
            {
                actions.push(Action::Steal);
            }
            // One copy of the store is enough: every key in it is tried.
            if a.store_copy.is_empty() && !state.sessions.is_empty() {
                actions.push(Action::CopyStore);
            }
        }
        if a.requests < b.attacker_requests {
            for held in &a.held {
                match held {
                    // Reading shows that a token is honoured; stopping, that it carries Execute.
                    // Every other operation passes the same authentication and level checks,
                    // and what the policy grants the person is explored by the honest person's
                    // requests. At the wrong audience, being honoured at all is the breach.
                    Held::Stolen(_) | Held::Obtained(_) => {
                        for (at, op) in [(Aud::Hub, Op::Read), (Aud::Hub, Op::Stop), (Aud::UiServer, Op::Read)] {
                            actions.push(Action::Present { held: *held, at, op });
                        }
                    }
                    // A key from the store either is a working token (unhashed store) or is
                    // refused; reading shows which.
                    Held::Copied(_) => actions.push(Action::Present {
                        held: *held,
                        at: Aud::Hub,
                        op: Op::Read,
                    }),
                }
                // Raising a token the attacker was already given by an elevation adds nothing
                // a stolen token's elevation does not show.
                if matches!(held, Held::Stolen(_)) {
                    actions.push(Action::ElevateWith(*held));
                }
            }
            for guess in [Guess::UnknownUser, Guess::KnownUser] {
                if !a.guesses.contains_key(&guess) {
                    actions.push(Action::GuessLogin(guess));
                }
            }
            if !a.injected {
                actions.push(Action::InjectLine);
            }
        }
        if b.tamper && !a.tampered {
            let lines = state.log.text().lines().count();
            for kind in Tamper::ALL {
                let possible = match kind {
                    Tamper::Reorder => lines >= 2,
                    Tamper::Truncate | Tamper::Backdate => lines >= 1,
                };
                if possible {
                    actions.push(Action::Tamper(kind));
                }
            }
        }
        if state.ticks < b.ticks {
            actions.push(Action::Tick);
        }
        // With every defence nothing is ever lost, so a crash would change nothing: it is
        // offered only when some record is not yet durable.
        if !state.crashed && state.log.durable_records() < state.log.records() {
            actions.push(Action::Crash);
        }
    }

    fn gate<'a>(
        &'a self,
        policy: PolicyVersion,
        sessions: &'a mut protocol_people::session::SessionManager,
        log: &'a mut protocol_people::audit::MemoryLog,
    ) -> Gate<'a, protocol_people::groups::FileGroups, protocol_people::audit::MemoryLog> {
        Gate {
            sessions,
            authorizer: self.authorizer(policy),
            groups: &self.groups,
            audit: log,
        }
    }

    /// The seed of the token a held item stands for, if the gateway issued it.
    fn seed_of(state: &State, held: Held) -> Option<u8> {
        match held {
            Held::Stolen(seed) | Held::Obtained(seed) => Some(seed),
            Held::Copied(i) => {
                let key = state.attacker.store_copy.get(usize::from(i))?.bytes();
                (0..state.ledger.len())
                    .filter_map(|s| u8::try_from(s).ok())
                    .find(|s| token_bytes(*s) == key)
            }
        }
    }

    fn token_of(state: &State, held: Held) -> Option<Token> {
        match held {
            Held::Stolen(seed) | Held::Obtained(seed) => token_from(&token_bytes(seed)),
            Held::Copied(i) => token_from(&state.attacker.store_copy.get(usize::from(i))?.bytes()),
        }
    }

    /// Records that a token was honoured (with how it stood against the design), and marks
    /// its session used.
    fn honoured(state: &mut State, by: Party, origin: Origin, seed: Option<u8>, at: Aud) {
        let now = state.now;
        let session = seed.and_then(|s| state.ledger.get(usize::from(s)).map(|t| (s, t.session)));
        let standing = session.and_then(|(s, id)| {
            state.spec.get(&id).map(|spec| Standing {
                audience_ok: spec.audience == at,
                ended: spec.ended,
                latest: spec.latest == s,
                idle: now.0.saturating_sub(spec.last_used.0),
                age: now.0.saturating_sub(spec.created.0),
            })
        });
        if let Some(spec) = session.and_then(|(_, id)| state.spec.get_mut(&id)) {
            spec.last_used = spec.last_used.max(now);
        }
        state.facts.push(super::Fact::Honoured { by, origin, standing });
    }

    /// Sends an operation request through the gate. Returns whether the token was refused.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        state: &mut State,
        by: Party,
        origin: Origin,
        token: &Token,
        seed: Option<u8>,
        at: Aud,
        op: Op,
        target: Option<&str>,
    ) -> bool {
        let now = state.now;
        let policy = state.policy;
        let outcome = self.gate(policy, &mut state.sessions, &mut state.log).authorize(
            now,
            &Request {
                token,
                audience: self.audience(at),
                workflow: &self.workflow,
                op: op.operation(),
                target,
            },
        );
        let issued = seed.and_then(|s| state.ledger.get(usize::from(s)).copied());
        match outcome {
            Ok(permit) => {
                Self::honoured(state, by, origin, seed, at);
                let durable = permit.receipt().record <= state.log.durable_records();
                state.facts.push(Fact::Effect {
                    by,
                    op: permit.op(),
                    token: issued,
                    policy_broken: policy == PolicyVersion::WithTypo,
                    durable,
                });
                false
            }
            Err(e @ (GateError::Denied(_) | GateError::Groups(_))) => {
                Self::honoured(state, by, origin, seed, at);
                state.facts.push(Fact::Denied {
                    by,
                    op: op.operation(),
                    token: issued,
                    reason: deny_code(&e),
                });
                false
            }
            Err(e) => {
                state.facts.push(Fact::Refused {
                    by,
                    origin,
                    code: deny_code(&e),
                });
                true
            }
        }
    }

    /// Sends an elevation through the gate. Returns the new token's seed, and whether the
    /// presented token was refused.
    #[allow(clippy::too_many_arguments)]
    fn elevate(
        &self,
        state: &mut State,
        by: Party,
        origin: Origin,
        token: &Token,
        seed: Option<u8>,
        to: Level,
        password: &str,
    ) -> (Option<u8>, bool) {
        let now = state.now;
        let new_seed = u8::try_from(state.ledger.len()).unwrap_or(u8::MAX);
        let mut rng = SeedRng::new(new_seed);
        let outcome = self.gate(state.policy, &mut state.sessions, &mut state.log).elevate(
            now,
            token,
            self.audience(Aud::Hub),
            password,
            to,
            &mut rng,
        );
        match outcome {
            Ok((_, session)) => {
                Self::honoured(state, by, origin, seed, Aud::Hub);
                let reauth = password == PASSWORD;
                state.ledger.push(Issued {
                    session: session.id.0,
                    by: Issue::Elevation { to, reauth },
                    at: now,
                });
                if let Some(spec) = state.spec.get_mut(&session.id.0) {
                    spec.latest = new_seed;
                }
                state.facts.push(Fact::Elevated { by, to, reauth });
                (Some(new_seed), false)
            }
            Err(GateError::Session(e @ (SessionError::ReauthFailed | SessionError::NotAnElevation { .. }))) => {
                state.facts.push(Fact::ElevationRefused { by, code: e.code() });
                (None, false)
            }
            Err(e) => {
                state.facts.push(Fact::Refused {
                    by,
                    origin,
                    code: deny_code(&e),
                });
                (None, true)
            }
        }
    }

    fn login(&self, state: &mut State, user: &str, password: &str) -> Result<u8, GateError> {
        let now = state.now;
        let new_seed = u8::try_from(state.ledger.len()).unwrap_or(u8::MAX);
        let mut rng = SeedRng::new(new_seed);
        let (_, session) = self.gate(state.policy, &mut state.sessions, &mut state.log).login(
            now,
            user,
            password,
            self.audience(Aud::Hub),
            &mut rng,
        )?;
        state.ledger.push(Issued {
            session: session.id.0,
            by: Issue::Login,
            at: now,
        });
        state.spec.insert(
            session.id.0,
            SessionSpec {
                audience: Aud::Hub,
                created: now,
                last_used: now,
                ended: false,
                latest: new_seed,
            },
        );
        Ok(new_seed)
    }

    fn tampered_text(text: &str, kind: Tamper) -> String {
        let mut lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
        match kind {
            Tamper::Reorder => lines.swap(0, 1),
            Tamper::Truncate => {
                lines.pop();
            }
            Tamper::Backdate => {
                // Every record starts with its RFC 3339 time: move the first one a day back.
                if let Some(first) = lines.first_mut()
                    && let Some(day) = first.get(8..10)
                {
                    let earlier = if day == "01" { "02" } else { "01" };
                    first.replace_range(8..10, earlier);
                }
            }
        }
        lines.concat()
    }

    pub(super) fn step(&self, state: &State, action: Action) -> Option<State> {
        let mut next = state.clone();
        next.fresh = false;
        next.facts.clear();
        match action {
            Action::Misconfigure => next.policy = PolicyVersion::WithTypo,
            Action::Login => {
                next.honest.requests += 1;
                match self.login(&mut next, super::PERSON, PASSWORD) {
                    Ok(seed) => {
                        next.honest.token = Some(seed);
                        next.facts.push(Fact::LoggedIn);
                    }
                    Err(e) => next.facts.push(Fact::Refused {
                        by: Party::Honest,
                        origin: Origin::Issued,
                        code: deny_code(&e),
                    }),
                }
            }
            Action::Elevate(raise) => {
                next.honest.requests += 1;
                let seed = next.honest.token?;
                let token = token_from(&token_bytes(seed))?;
                let (new, refused) = self.elevate(
                    &mut next,
                    Party::Honest,
                    Origin::Issued,
                    &token,
                    Some(seed),
                    raise.level(),
                    PASSWORD,
                );
                if let Some(new) = new {
                    next.honest.token = Some(new);
                } else if refused {
                    next.honest.token = None;
                }
            }
            Action::Act(op) => {
                next.honest.requests += 1;
                let seed = next.honest.token?;
                let token = token_from(&token_bytes(seed))?;
                let refused = self.request(
                    &mut next,
                    Party::Honest,
                    Origin::Issued,
                    &token,
                    Some(seed),
                    Aud::Hub,
                    op,
                    Some(TARGET),
                );
                if refused {
                    // The person sees they must log in again.
                    next.honest.token = None;
                }
            }
            Action::Logout => {
                next.honest.requests += 1;
                let seed = next.honest.token.take()?;
                let token = token_from(&token_bytes(seed))?;
                let session = next.ledger.get(usize::from(seed))?.session;
                // Record, then act: the logout is in the log before the session ends.
                let _receipt = next.log.push(&AuditRecord {
                    at: next.now,
                    actor: Actor::User(self.person.clone()),
                    event: AuditEvent::Logout {
                        session: SessionId(session),
                    },
                });
                let _ = next.sessions.logout(&token);
                if let Some(spec) = next.spec.get_mut(&session) {
                    spec.ended = true;
                }
                next.facts.push(Fact::LoggedOut);
            }
            Action::Steal => {
                let seed = next.honest.token?;
                next.attacker.thefts += 1;
                next.attacker.held.insert(Held::Stolen(seed));
            }
            Action::CopyStore => {
                next.attacker.thefts += 1;
                next.attacker.store_copy = next.sessions.stored_keys();
                for i in 0..next.attacker.store_copy.len() {
                    next.attacker.held.insert(Held::Copied(u8::try_from(i).ok()?));
                }
            }
            Action::Present { held, at, op } => {
                next.attacker.requests += 1;
                let token = Self::token_of(&next, held)?;
                let seed = Self::seed_of(&next, held);
                let origin = match held {
                    Held::Stolen(_) => Origin::Stolen,
                    Held::Obtained(_) => Origin::Issued,
                    Held::Copied(_) => Origin::StoreCopy,
                };
                let _ = self.request(&mut next, Party::Attacker, origin, &token, seed, at, op, None);
            }
            Action::ElevateWith(held) => {
                next.attacker.requests += 1;
                let token = Self::token_of(&next, held)?;
                let seed = Self::seed_of(&next, held);
                let (new, _) = self.elevate(
                    &mut next,
                    Party::Attacker,
                    Origin::Stolen,
                    &token,
                    seed,
                    Level::Execute,
                    GUESSED,
                );
                if let Some(new) = new {
                    next.attacker.held.insert(Held::Obtained(new));
                }
            }
            Action::GuessLogin(guess) => {
                next.attacker.requests += 1;
                let user = match guess {
                    Guess::UnknownUser => UNKNOWN_USER,
                    Guess::KnownUser => super::PERSON,
                };
                let outcome = self.login(&mut next, user, GUESSED).map(drop);
                next.attacker.guesses.insert(guess, outcome);
            }
            Action::InjectLine => {
                next.attacker.requests += 1;
                next.attacker.injected = true;
                let forged = token_from(&[0; 32])?;
                let _ = self.request(
                    &mut next,
                    Party::Attacker,
                    Origin::Forged,
                    &forged,
                    None,
                    Aud::Hub,
                    Op::Stop,
                    Some(INJECTED),
                );
                next.facts.push(Fact::Injected);
            }
            Action::Tamper(kind) => {
                next.attacker.tampered = true;
                let stored = Self::tampered_text(next.log.text(), kind);
                let verified = check(
                    &self.key,
                    &self.defences,
                    stored.as_bytes(),
                    Some(&next.log.head()),
                    "audit.log.head",
                );
                next.facts.push(Fact::Tampered {
                    kind,
                    detected: verified.is_err(),
                });
            }
            Action::Tick => {
                next.ticks += 1;
                next.now = next.now.after(TICK);
            }
            Action::Crash => {
                next.crashed = true;
                let lost = next.log.records() - next.log.durable_records();
                next.log.crash();
                next.facts.push(Fact::Crashed { lost });
            }
        }
        Some(next)
    }
}

/// When the model's clock reads `now`, minutes since the start (for traces).
pub(crate) fn minutes(now: Millis) -> u64 {
    now.0.saturating_sub(super::START.0) / 60_000
}
