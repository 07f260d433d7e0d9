//! The model's actions and what each does to the state (which are offered where:
//! `enumerate`). Logins and elevations go through the real `Gate` as the hub runs it (check,
//! record, then issue); an operation goes the way production takes it (`forward`); logout as
//! the hub does it: authenticate, end the session, then record.

use protocol_core::Millis;
use protocol_gateway::refusals::refused;
use protocol_people::audit::{Actor, AuditEvent, AuditRecord, check};
use protocol_people::authz::Decision;
use protocol_people::gate::{Gate, GateError};
use protocol_people::ops::{Level, Operation};
use protocol_people::session::{SessionError, SessionId, Token};
use serde::Serialize;

use super::forward::{SOURCE, shorten_nonce};
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
    /// The clock jumps to the next deadline exactly: the end of an elevation, a session's idle
    /// timeout or lifetime, or a forwarded assertion's last fresh instant.
    Jump,
    /// The attacker keeps a copy of the request the hub has just forwarded to the UI server,
    /// read on the loopback link.
    Capture,
    /// The attacker sends the UI server the request it copied, as it was (ends the run).
    ReplayAssertion,
    /// The attacker sends the UI server the request it copied, its assertion edited to vouch
    /// for Write with a nonce of its own (ends the run).
    EditAssertion,
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

/// The attacker's login name: a name, a line break, and a forged record of the honest person
/// stopping the workflow.
pub(crate) const INJECTED: &str = "nobody\n2026-11-22T10:00:00Z User jacintar stopped atmosphere_stage.clouds";

/// The password the attacker tries (it does not know the real one).
const GUESSED: &str = "password123";

/// A user name that does not exist.
pub(crate) const UNKNOWN_USER: &str = "nobody";

pub(super) fn deny_code(e: &GateError) -> &'static str {
    match e {
        GateError::Session(e) => e.code(),
        GateError::Denied(Decision::Deny(reason)) => reason.code(),
        GateError::Denied(Decision::Allow(_)) | GateError::Groups(_) | GateError::Audit(_) => "internal",
    }
}

impl PeopleModel {
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
    pub(super) fn honoured(state: &mut State, by: Party, origin: Origin, seed: Option<u8>, at: Aud) {
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
        next.ui.last = None;
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
                // As the hub does it: authenticate, end the session, then record (ending a
                // session takes power away, so it need not wait for its record).
                let now = next.now;
                match next.sessions.authenticate(now, &token, self.audience(Aud::Hub)) {
                    Ok(_) => {
                        let _ = next.sessions.logout(&token);
                        let _receipt = next.log.push(&AuditRecord {
                            at: now,
                            actor: Actor::User(self.person.clone()),
                            source: Some(SOURCE),
                            event: AuditEvent::Logout {
                                session: SessionId(session),
                            },
                        });
                        if let Some(spec) = next.spec.get_mut(&session) {
                            spec.ended = true;
                        }
                        next.facts.push(Fact::LoggedOut);
                    }
                    Err(e) => {
                        let _receipt = next.log.push(&AuditRecord {
                            at: now,
                            actor: Actor::Unauthenticated,
                            source: Some(SOURCE),
                            event: refused("POST", "/logout", "unauthenticated".to_owned()),
                        });
                        next.facts.push(Fact::Refused {
                            by: Party::Honest,
                            origin: Origin::Issued,
                            code: e.code(),
                        });
                    }
                }
            }
            Action::Wait { watching } => {
                next.ticks += 1;
                next.now = next.now.after(TICK);
                next.ui.at_instant = 0;
                next.ui.guard.expire(next.now);
                if watching {
                    self.honest_request(&mut next, Op::Read)?;
                }
            }
            Action::Jump => {
                next.ticks += 1;
                next.jumps += 1;
                next.now = self.next_deadline(state)?;
                next.ui.at_instant = 0;
                next.ui.guard.expire(next.now);
            }
            Action::Capture => {
                next.ui.captured.clone_from(&state.ui.last);
            }
            Action::ReplayAssertion => {
                next.over = true;
                let sent = next.ui.captured.clone()?;
                self.deliver(&mut next, Party::Attacker, &sent, &sent.header);
            }
            Action::EditAssertion => {
                next.over = true;
                let sent = next.ui.captured.clone()?;
                // Without the MAC every field is the attacker's to choose: Write, and a nonce
                // the replay guard has not seen.
                let edited = sent
                    .header
                    .replacen(&format!(" level={} ", sent.level.name()), " level=write ", 1)
                    .replacen(" nonce=", " nonce=ff", 1);
                let edited = shorten_nonce(&edited);
                self.deliver(&mut next, Party::Attacker, &sent, &edited);
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
                    Some(TARGET),
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
                        Some(TARGET),
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
                // A login under a name holding a line break: the hub records the claimed name.
                let _ = self.login(&mut next, INJECTED, GUESSED);
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
