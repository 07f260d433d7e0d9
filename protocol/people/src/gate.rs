//! Putting the cores together so that "write the record, then act" is the only way through.
//!
//! [`Gate::authorize`] authenticates the token, resolves groups, decides, appends the audit
//! record (allowed or denied) and only then hands out a [`Permit`], the one value an effect
//! should demand. [`Gate::elevate`] records the elevation before applying it, and
//! [`Gate::login`] records a login before the token leaves. If the record cannot be made
//! durable, nothing happens.

use std::fmt;

use protocol_core::ids::{Owner, WorkflowId};
use protocol_core::time::Millis;
use rand_core::CryptoRngCore;

use crate::audit::{Actor, AuditError, AuditEvent, AuditRecord, AuditSink, Outcome, Receipt};
use crate::authz::{Authorizer, Decision, DenyReason};
use crate::groups::{GroupError, GroupProvider};
use crate::names::UserName;
use crate::ops::{Level, Operation};
use crate::session::{
    Audience, AuthSession, CheckedLogin, ElevationAttempt, PasswordChecker, PendingElevation, SessionError,
    SessionManager, Token,
};

/// An elevation the gate has begun: who asks, for what, and the password still to check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GateElevation {
    actor: Actor,
    to: Level,
    attempt: ElevationAttempt,
}

impl GateElevation {
    /// The session being elevated.
    #[must_use]
    pub const fn session(&self) -> crate::session::SessionId {
        self.attempt.session()
    }

    /// Checks the password (the slow step; no session or record is touched).
    #[must_use]
    pub fn check(self, checker: &mut PasswordChecker, password: &str) -> CheckedElevation {
        CheckedElevation {
            actor: self.actor,
            to: self.to,
            result: self.attempt.check(checker, password),
        }
    }
}

/// An elevation whose password has been checked: give it to [`Gate::finish_elevation`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckedElevation {
    actor: Actor,
    to: Level,
    result: Result<PendingElevation, SessionError>,
}

/// Leave to perform one operation: made only after its audit record is durable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permit {
    user: Owner,
    workflow: WorkflowId,
    op: Operation,
    receipt: Receipt,
}

impl Permit {
    /// Who may act.
    #[must_use]
    pub const fn user(&self) -> &Owner {
        &self.user
    }

    /// On which workflow.
    #[must_use]
    pub const fn workflow(&self) -> &WorkflowId {
        &self.workflow
    }

    /// Which operation.
    #[must_use]
    pub const fn op(&self) -> Operation {
        self.op
    }

    /// The audit record that allowed it.
    pub const fn receipt(&self) -> Receipt {
        self.receipt
    }
}

/// Why a request through the gate did not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum GateError {
    /// The token or password was refused (recorded).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Group membership could not be established (recorded as a denial).
    #[error(transparent)]
    Groups(#[from] GroupError),
    /// The policy refused (recorded).
    #[error("denied: {0}")]
    Denied(Decision),
    /// The audit record could not be made durable, so nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A request to perform an operation.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The session's token.
    pub token: &'a Token,
    /// Where it is presented.
    pub audience: &'a Audience,
    /// The workflow.
    pub workflow: &'a WorkflowId,
    /// The operation.
    pub op: Operation,
    /// Task, cycle point… within the workflow (untrusted; escaped in the log).
    pub target: Option<&'a str>,
}

/// The sessions, the authoriser, group lookup and the audit log of one gateway.
pub struct Gate<'a, G: GroupProvider + ?Sized, S: AuditSink> {
    /// Sessions.
    pub sessions: &'a mut SessionManager,
    /// The authoriser.
    pub authorizer: &'a Authorizer,
    /// Group lookup.
    pub groups: &'a G,
    /// The audit log.
    pub audit: &'a mut S,
    /// The address the attempt came from, written on every record this gate makes (`None`
    /// where there is no peer: the model, the cores' conformance).
    pub source: Option<std::net::IpAddr>,
}

impl<G: GroupProvider + ?Sized, S: AuditSink> fmt::Debug for Gate<'_, G, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl<G: GroupProvider + ?Sized, S: AuditSink> Gate<'_, G, S> {
    fn record(&mut self, at: Millis, actor: Actor, event: AuditEvent) -> Result<Receipt, AuditError> {
        self.audit.append(&AuditRecord {
            at,
            actor,
            source: self.source,
            event,
        })
    }

    /// Records an attempt that has no effect to follow (a refusal).
    fn note(&mut self, at: Millis, actor: Actor, event: AuditEvent) -> Result<(), AuditError> {
        self.record(at, actor, event).map(drop)
    }

    /// Logs in; the token is returned only after the login is recorded. The halves
    /// ([`SessionManager::begin_login`], the password check, [`Gate::finish_login`]) back to
    /// back; a server runs the check between them with no lock held.
    ///
    /// # Errors
    /// [`GateError::Session`] (recorded) or [`GateError::Audit`].
    pub fn login(
        &mut self,
        now: Millis,
        user: &str,
        password: &str,
        audience: &Audience,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), GateError> {
        let checked = self
            .sessions
            .begin_login(user)
            .check(&mut PasswordChecker::new(), password);
        self.finish_login(now, checked, audience, rng)
    }

    /// The last half of a login: opens the session (if the password matched), records the
    /// attempt, and only then lets the token out.
    ///
    /// # Errors
    /// [`GateError::Session`] (recorded) or [`GateError::Audit`].
    pub fn finish_login(
        &mut self,
        now: Millis,
        checked: CheckedLogin,
        audience: &Audience,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), GateError> {
        let claimed = checked.claimed().to_owned();
        match self.sessions.finish_login(now, checked, audience, rng) {
            Ok((token, session)) => {
                let event = AuditEvent::Login {
                    audience: audience.clone(),
                    outcome: Outcome::Allowed,
                };
                let recorded = self.note(now, Actor::User(session.user.clone()), event);
                if let Err(e) = recorded {
                    // The token never leaves, so the session must not outlive the failure.
                    let _ = self.sessions.revoke(session.id);
                    return Err(e.into());
                }
                Ok((token, session))
            }
            Err(e) => {
                let outcome = Outcome::Denied {
                    reason: e.code().to_owned(),
                };
                let event = AuditEvent::Login {
                    audience: audience.clone(),
                    outcome,
                };
                self.note(now, Actor::Claimed(claimed), event)?;
                Err(e.into())
            }
        }
    }

    /// Re-authenticates and elevates: records the attempt, then applies it. The halves
    /// ([`Gate::begin_elevation`], the password check, [`Gate::finish_elevation`]) back to
    /// back.
    ///
    /// # Errors
    /// [`GateError::Session`] (recorded) or [`GateError::Audit`].
    pub fn elevate(
        &mut self,
        now: Millis,
        token: &Token,
        audience: &Audience,
        password: &str,
        to: Level,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), GateError> {
        let attempt = self.begin_elevation(now, token, audience, to)?;
        let checked = attempt.check(&mut PasswordChecker::new(), password);
        self.finish_elevation(now, checked, rng)
    }

    /// The first half of an elevation: the token and the level (a refusal is recorded).
    ///
    /// # Errors
    /// [`GateError::Session`] (recorded) or [`GateError::Audit`].
    pub fn begin_elevation(
        &mut self,
        now: Millis,
        token: &Token,
        audience: &Audience,
        to: Level,
    ) -> Result<GateElevation, GateError> {
        let actor = match self.sessions.peek(now, token, audience) {
            Ok(s) => Actor::User(s.user),
            Err(e) => {
                let outcome = Outcome::Denied {
                    reason: e.code().to_owned(),
                };
                self.note(now, Actor::Unauthenticated, AuditEvent::Elevation { to, outcome })?;
                return Err(e.into());
            }
        };
        match self.sessions.begin_elevation(now, token, audience, to) {
            Ok(attempt) => Ok(GateElevation { actor, to, attempt }),
            Err(e) => {
                let outcome = Outcome::Denied {
                    reason: e.code().to_owned(),
                };
                self.note(now, actor, AuditEvent::Elevation { to, outcome })?;
                Err(e.into())
            }
        }
    }

    /// The last half of an elevation: records the checked attempt, then applies it.
    ///
    /// # Errors
    /// [`GateError::Session`] (recorded) or [`GateError::Audit`].
    pub fn finish_elevation(
        &mut self,
        now: Millis,
        checked: CheckedElevation,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), GateError> {
        let CheckedElevation { actor, to, result } = checked;
        match result {
            Ok(pending) => {
                let _receipt = self.record(
                    now,
                    actor,
                    AuditEvent::Elevation {
                        to,
                        outcome: Outcome::Allowed,
                    },
                )?;
                Ok(self.sessions.apply_elevation(now, &pending, rng)?)
            }
            Err(e) => {
                let outcome = Outcome::Denied {
                    reason: e.code().to_owned(),
                };
                self.note(now, actor, AuditEvent::Elevation { to, outcome })?;
                Err(e.into())
            }
        }
    }

    /// Authenticates, decides and records a request; a [`Permit`] means "act now".
    ///
    /// # Errors
    /// [`GateError::Session`], [`GateError::Groups`] or [`GateError::Denied`] (each recorded),
    /// or [`GateError::Audit`].
    pub fn authorize(&mut self, now: Millis, req: &Request<'_>) -> Result<Permit, GateError> {
        let event = |outcome| AuditEvent::Operation {
            op: req.op,
            workflow: req.workflow.clone(),
            target: req.target.map(str::to_owned),
            outcome,
        };
        let session = match self.sessions.authenticate(now, req.token, req.audience) {
            Ok(s) => s,
            Err(e) => {
                let outcome = Outcome::Denied {
                    reason: e.code().to_owned(),
                };
                self.note(now, Actor::Unauthenticated, event(outcome))?;
                return Err(e.into());
            }
        };
        let vouched = Vouched {
            user: &session.user,
            level: session.level,
            workflow: req.workflow,
            op: req.op,
            target: req.target,
        };
        authorize_vouched(self.authorizer, self.groups, self.audit, now, &vouched)
    }
}

/// A request whose person and session level were established by someone the caller trusts:
/// a UI server behind the hub, which authenticated the session and vouches for it.
#[derive(Debug, Clone, Copy)]
pub struct Vouched<'a> {
    /// The authenticated person.
    pub user: &'a Owner,
    /// Their session's effective level now.
    pub level: Level,
    /// The workflow.
    pub workflow: &'a WorkflowId,
    /// The operation.
    pub op: Operation,
    /// Task, cycle point… within the workflow (untrusted; escaped in the log).
    pub target: Option<&'a str>,
}

/// Resolves groups, decides and records a request already authenticated elsewhere; a
/// [`Permit`] means "act now". The second half of [`Gate::authorize`], for a UI server that
/// receives the person and level from the hub rather than a token.
///
/// # Errors
/// [`GateError::Groups`] or [`GateError::Denied`] (each recorded), or [`GateError::Audit`].
pub fn authorize_vouched<G: GroupProvider + ?Sized, S: AuditSink>(
    authorizer: &Authorizer,
    groups: &G,
    audit: &mut S,
    now: Millis,
    req: &Vouched<'_>,
) -> Result<Permit, GateError> {
    let event = |outcome| AuditEvent::Operation {
        op: req.op,
        workflow: req.workflow.clone(),
        target: req.target.map(str::to_owned),
        outcome,
    };
    let actor = Actor::User(req.user.clone());
    let mut record = |actor: Actor, outcome| {
        audit.append(&AuditRecord {
            at: now,
            actor,
            source: None,
            event: event(outcome),
        })
    };
    let resolved = groups
        .person(&UserName::from(req.user))
        .and_then(|p| groups.workflow(req.workflow).map(|w| (p, w)));
    let (person, workflow) = match resolved {
        Ok(pw) => pw,
        Err(e) => {
            let _receipt = record(
                actor,
                Outcome::Denied {
                    reason: "group-lookup-failed".into(),
                },
            )?;
            return Err(e.into());
        }
    };
    let decision = authorizer.decide(&person, &workflow, req.op, req.level);
    let receipt = record(actor, Outcome::of(&decision))?;
    match decision {
        Decision::Allow(_) => Ok(Permit {
            user: req.user.clone(),
            workflow: req.workflow.clone(),
            op: req.op,
            receipt,
        }),
        Decision::Deny(reason) => Err(GateError::Denied(Decision::Deny(reason))),
    }
}

/// Shorthand for the reason inside a [`GateError::Denied`].
#[must_use]
pub fn deny_reason(e: &GateError) -> Option<&DenyReason> {
    match e {
        GateError::Denied(Decision::Deny(r)) => Some(r),
        _ => None,
    }
}
