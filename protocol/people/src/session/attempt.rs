//! Logins and elevations in two halves, so a server can check the password with no lock held.
//!
//! Checking a password is the one slow step (argon2: tens of milliseconds and its m-cost of
//! memory). [`super::SessionManager::begin_login`] and
//! [`super::SessionManager::begin_elevation`] take what the check needs from the sessions;
//! [`LoginAttempt::check`] and [`ElevationAttempt::check`] run it in a [`PasswordChecker`]
//! the caller owns, touching no session; the `finish` half then needs the sessions again.
//! The checked types can only be made by running the check, so no caller can finish an
//! attempt whose password was not checked. The one-call `login` and `check_elevation` are
//! these halves run back to back.

use protocol_core::ids::Owner;

use super::users::PasswordChecker;
use super::{PendingElevation, SessionError};

/// A login between its halves: the claimed name, and the hash its password is checked
/// against (the dummy hash for an unknown name, so both cost the same).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LoginAttempt {
    pub(super) claimed: String,
    pub(super) owner: Option<Owner>,
    /// `None` when no work is to be done (only with `uniform-login-failure` removed).
    pub(super) phc: Option<String>,
}

impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whether the name is known is exactly what the login must not reveal: not printed.
        f.debug_struct("LoginAttempt")
            .field("claimed", &self.claimed)
            .finish_non_exhaustive()
    }
}

impl LoginAttempt {
    /// The name given (untrusted).
    #[must_use]
    pub fn claimed(&self) -> &str {
        &self.claimed
    }

    /// Checks `password` (the slow step); no session is touched.
    #[must_use]
    pub fn check(self, checker: &mut PasswordChecker, password: &str) -> CheckedLogin {
        let matched = self.phc.as_deref().is_some_and(|phc| checker.verify(phc, password));
        CheckedLogin { attempt: self, matched }
    }
}

/// A login whose password has been checked: give it to
/// [`super::SessionManager::finish_login`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckedLogin {
    pub(super) attempt: LoginAttempt,
    pub(super) matched: bool,
}

impl CheckedLogin {
    /// The name given (untrusted).
    #[must_use]
    pub fn claimed(&self) -> &str {
        &self.attempt.claimed
    }
}

/// An elevation between its halves: the token and level passed their checks; the password
/// is still to be checked against the session owner's hash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ElevationAttempt {
    pub(super) pending: PendingElevation,
    /// `None` when the password is not checked (only with `elevation-reauth` removed).
    pub(super) phc: Option<String>,
}

impl std::fmt::Debug for ElevationAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevationAttempt")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl ElevationAttempt {
    /// Whose session.
    #[must_use]
    pub const fn user(&self) -> &Owner {
        self.pending.user()
    }

    /// The session.
    #[must_use]
    pub const fn session(&self) -> super::SessionId {
        self.pending.session()
    }

    /// Checks `password` (the slow step); no session is touched.
    ///
    /// # Errors
    /// [`SessionError::ReauthFailed`] if it does not match.
    pub fn check(self, checker: &mut PasswordChecker, password: &str) -> Result<PendingElevation, SessionError> {
        match &self.phc {
            Some(phc) if !checker.verify(phc, password) => Err(SessionError::ReauthFailed),
            _ => Ok(self.pending),
        }
    }
}
