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

use super::state::{
    Aud, Fact, Guess, Held, Issue, Issued, Origin, Party, PolicyVersion, SessionSpec, Standing, State, Tamper,
};
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
    /// Ten minutes pass. If `watching`, the honest person's open view keeps their session alive
    /// (a read, at the end of the ten minutes).
    Wait {
        /// Whether the honest person's view is open.
        watching: bool,
    },
    /// The attacker asks to raise the session of a token it holds to Execute, without the
    /// password.
    ElevateWith(Held),
    /// The attacker presents a token it holds and asks to stop the workflow (ends the run).
    Present {
        /// Which token.
        held: Held,
        /// Where.
        at: Aud,
    },
    /// The attacker reads a copy of the session store and presents every key in it as a token
    /// (ends the run).
    ReplayStore,
    /// The attacker tries two logins with a wrong password: an unknown user name, and the
    /// honest person's (ends the run).
    GuessLogins,
    /// The attacker sends a request whose target holds a line break and a forged record (ends
    /// the run).
    InjectLine,
    /// The attacker tampers with the stored audit log; an auditor then verifies it (ends the
    /// run).
    Tamper(Tamper),
    /// The gateway crashes: the audit log keeps only its durable records (ends the run).
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
            Issue::Elevation { to: have, .. } => have >= to && state.now < t.at.after(self.config().elevation_window),
            Issue::Login => false,
        })
    }

    pub(super) fn enumerate(&self, state: &State, actions: &mut Vec<Action>) {
        if state.over {
            return;
        }
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
                    // Raising only to levels the UI offers operations for, and only when the
                    // session cannot already do them.
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
        if state.ticks < b.ticks {
            actions.push(Action::Wait { watching: false });
            if state.honest.token.is_some() {
                actions.push(Action::Wait { watching: true });
            }
        }
        if !b.attacker {
            return;
        }
        // Theft needs no step of its own: the attacker may present any token the honest person
        // was ever given, at any later time, which is the most a thief could do (when it stole
        // the token matters only through what happened to the session since, and the honest
        // person's steps explore that).
        let stolen = state
            .ledger
            .iter()
            .enumerate()
            .filter(|(_, t)| t.holder == Party::Honest)
            .filter_map(|(seed, _)| u8::try_from(seed).ok().map(Held::Stolen));
        let held: Vec<Held> = stolen
            .chain(state.attacker.obtained.iter().map(|s| Held::Obtained(*s)))
            .collect();
        if state.attacker.elevations < b.attacker_elevations {
            // Raising a token an elevation already gave the attacker adds nothing a stolen
            // token's elevation does not show.
            for h in held.iter().filter(|h| matches!(h, Held::Stolen(_))) {
                actions.push(Action::ElevateWith(*h));
            }
        }
        // The attacker's other moves change nothing the cores read afterwards (a presented
        // token only marks its session used, which the honest person's own requests explore;
        // the rest touch only the log), so each ends the run and is judged at once.
        for h in &held {
            actions.push(Action::Present { held: *h, at: Aud::Hub });
        }
        // A token refused at the hub is refused elsewhere for the same reason: replaying at
        // another audience matters for the token the honest person uses now.
        if let Some(seed) = state.honest.token {
            actions.push(Action::Present {
                held: Held::Stolen(seed),
                at: Aud::UiServer,
            });
        }
        if !state.sessions.is_empty() {
            actions.push(Action::ReplayStore);
        }
        // Failed logins and an injected field do not depend on anything before them (the
        // user database never changes, and the log escapes each record alone): first step only.
        if state.fresh {
            actions.push(Action::GuessLogins);
            actions.push(Action::InjectLine);
        }
        if b.tamper {
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
        // With every defence nothing is ever lost, so a crash would change nothing: it is
        // offered only when some record is not yet durable.
        if state.log.durable_records() < state.log.records() {
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
            source: None,
        }
    }

    /// The seed of the issued token whose bytes are `bytes`, if any.
    fn seed_of(state: &State, bytes: &[u8; 32]) -> Option<u8> {
        (0..state.ledger.len())
            .filter_map(|s| u8::try_from(s).ok())
            .find(|s| token_bytes(*s) == *bytes)
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
                    holder: by,
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
            // Only the honest person knows a password, so only their logins succeed.
            holder: Party::Honest,
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

    /// The honest person's request with the token they hold; forgets the token if refused.
    fn honest_request(&self, state: &mut State, op: Op) -> Option<()> {
        let seed = state.honest.token?;
        let token = token_from(&token_bytes(seed))?;
        let refused = self.request(
            state,
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
            state.honest.token = None;
        }
        Some(())
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
                self.honest_request(&mut next, op)?;
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
                    source: None,
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
            Action::Wait { watching } => {
                next.ticks += 1;
                next.now = next.now.after(TICK);
                if watching {
                    self.honest_request(&mut next, Op::Read)?;
                }
            }
            Action::ElevateWith(held) => {
                next.attacker.elevations += 1;
                let token = token_from(&token_bytes(held.seed()))?;
                let (new, _) = self.elevate(
                    &mut next,
                    Party::Attacker,
                    Origin::Stolen,
                    &token,
                    Some(held.seed()),
                    Level::Execute,
                    GUESSED,
                );
                next.attacker.obtained.extend(new);
            }
            Action::Present { held, at } => {
                next.over = true;
                let token = token_from(&token_bytes(held.seed()))?;
                let origin = match held {
                    Held::Stolen(_) => Origin::Stolen,
                    Held::Obtained(_) => Origin::Issued,
                };
                let _ = self.request(
                    &mut next,
                    Party::Attacker,
                    origin,
                    &token,
                    Some(held.seed()),
                    at,
                    Op::Stop,
                    None,
                );
            }
            Action::ReplayStore => {
                next.over = true;
                for key in next.sessions.stored_keys() {
                    let bytes = key.bytes();
                    let token = token_from(&bytes)?;
                    // With hashed keys no issued token has these bytes.
                    let seed = Self::seed_of(&next, &bytes);
                    let _ = self.request(
                        &mut next,
                        Party::Attacker,
                        Origin::StoreCopy,
                        &token,
                        seed,
                        Aud::Hub,
                        Op::Stop,
                        None,
                    );
                }
            }
            Action::GuessLogins => {
                next.over = true;
                for (guess, user) in [(Guess::UnknownUser, UNKNOWN_USER), (Guess::KnownUser, super::PERSON)] {
                    let outcome = self.login(&mut next, user, GUESSED).map(drop);
                    next.attacker.guesses.insert(guess, outcome);
                }
            }
            Action::InjectLine => {
                next.over = true;
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
                next.over = true;
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
            Action::Crash => {
                next.over = true;
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
