//! The plain types of the session manager: audiences, configuration, session ids, errors.

use std::fmt;
use std::time::Duration;

use super::token::MalformedToken;
use super::users::{HashParams, UserFileError};
use crate::checks::PeopleCheck;
use crate::ops::Level;

/// Who a token is for (a gateway, a UI server): a token issued for one is refused by another.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Audience(String);

impl Audience {
    /// Validates an audience: 1 to 128 printable ASCII characters, no spaces.
    ///
    /// # Errors
    /// [`SessionError::BadAudience`].
    pub fn new(s: &str) -> Result<Self, SessionError> {
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SessionError::BadAudience);
        }
        Ok(Self(s.to_owned()))
    }

    /// The audience.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Timeouts and hashing costs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionConfig {
    /// A token unused this long is refused (keep-alives from an open view keep it fresh).
    pub idle_timeout: Duration,
    /// A token older than this is refused however busy it is.
    pub absolute_lifetime: Duration,
    /// How long an elevation lasts.
    pub elevation_window: Duration,
    /// Parameters of the dummy hash checked for unknown users; match the user file's.
    pub hash_params: HashParams,
}

impl Default for SessionConfig {
    /// Idle 1 hour, absolute 12 hours, elevation 15 minutes, production argon2 parameters.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(60 * 60),
            absolute_lifetime: Duration::from_secs(12 * 60 * 60),
            elevation_window: Duration::from_secs(15 * 60),
            hash_params: HashParams::PRODUCTION,
        }
    }
}

/// A session's public handle (not a secret: it names the session in revocations and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// Why a session operation was refused. No variant carries a token or a password.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SessionError {
    /// Unknown user or wrong password (deliberately the same error).
    #[error("bad user name or password")]
    BadCredentials,
    /// Only without `uniform-login-failure`: the user does not exist.
    #[error("no such user {user}")]
    UnknownUser {
        /// The name tried.
        user: String,
    },
    /// The password given to elevate is wrong.
    #[error("re-authentication failed")]
    ReauthFailed,
    /// No session has this token.
    #[error("unknown or retired token")]
    UnknownToken,
    /// The token was logged out or revoked.
    #[error("session {session} was revoked")]
    Revoked {
        /// The session.
        session: SessionId,
    },
    /// The token was unused for longer than the idle timeout.
    #[error("session {session} expired after being idle")]
    IdleExpired {
        /// The session.
        session: SessionId,
    },
    /// The token is older than the absolute lifetime.
    #[error("session {session} reached its absolute lifetime")]
    Expired {
        /// The session.
        session: SessionId,
    },
    /// The token was issued for another audience.
    #[error("token issued for {issued_for}, presented to {presented_to}")]
    AudienceMismatch {
        /// Its audience.
        issued_for: Audience,
        /// Where it was presented.
        presented_to: Audience,
    },
    /// Elevation must be to Execute or Write.
    #[error("cannot elevate to {to}: only execute or write are elevations")]
    NotAnElevation {
        /// The level asked for.
        to: Level,
    },
    /// The session changed between checking an elevation and applying it.
    #[error("session {session} changed before the elevation was applied")]
    ElevationStale {
        /// The session.
        session: SessionId,
    },
    /// An audience string is empty, too long or not printable ASCII.
    #[error("an audience must be 1 to 128 printable ASCII characters without spaces")]
    BadAudience,
    /// The token text is not a token.
    #[error(transparent)]
    Malformed(#[from] MalformedToken),
    /// The password hashing setup failed (an internal error).
    #[error(transparent)]
    Hashing(#[from] UserFileError),
}

impl SessionError {
    /// The checks whose refusal this is (several where the error cannot tell them apart: a
    /// retired pre-elevation token and a replayed stored digest are both unknown tokens).
    #[must_use]
    pub const fn checks(&self) -> &'static [PeopleCheck] {
        match self {
            Self::BadCredentials => &[PeopleCheck::UniformLoginFailure],
            Self::ReauthFailed => &[PeopleCheck::ElevationReauth],
            Self::UnknownToken | Self::Malformed(_) => &[PeopleCheck::TokenHashing, PeopleCheck::ElevationNewToken],
            Self::Revoked { .. } => &[PeopleCheck::TokenRevocation],
            Self::IdleExpired { .. } => &[PeopleCheck::TokenIdleExpiry],
            Self::Expired { .. } => &[PeopleCheck::TokenAbsoluteExpiry],
            Self::AudienceMismatch { .. } => &[PeopleCheck::TokenAudience],
            Self::UnknownUser { .. }
            | Self::NotAnElevation { .. }
            | Self::ElevationStale { .. }
            | Self::BadAudience
            | Self::Hashing(_) => &[],
        }
    }

    /// A short stable code (`bad-credentials`), for audit lines.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BadCredentials | Self::UnknownUser { .. } => "bad-credentials",
            Self::ReauthFailed => "reauth-failed",
            Self::UnknownToken | Self::Malformed(_) => "unknown-token",
            Self::Revoked { .. } => "revoked",
            Self::IdleExpired { .. } => "idle-expired",
            Self::Expired { .. } => "expired",
            Self::AudienceMismatch { .. } => "wrong-audience",
            Self::NotAnElevation { .. } => "not-an-elevation",
            Self::ElevationStale { .. } => "stale",
            Self::BadAudience => "bad-audience",
            Self::Hashing(_) => "internal",
        }
    }
}
