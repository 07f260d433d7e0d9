//! Sessions: login, tokens, and time-limited elevation (sans-IO: `now` and the RNG are inputs).
//!
//! A new session is read-only. Elevating to Execute or Write needs the password again
//! (`elevation-reauth`), retires the presented token and issues a new one
//! (`elevation-new-token`), and lasts [`SessionConfig::elevation_window`] (default 15 minutes),
//! after which [`SessionManager::effective_level`] is Read again without any request
//! (`elevation-expiry`): the level is computed from `now`, never stored as "elevated".
//!
//! Tokens are bound to an [`Audience`] (`token-audience`), expire when idle and at an absolute
//! lifetime (`token-idle-expiry`, `token-absolute-expiry`), can be logged out or revoked
//! (`token-revocation`), are stored only as digests (`token-hashing`) and are looked up by a
//! constant-time comparison against every stored key, so lookup time does not depend on how
//! much of a guessed token is right. An unknown user and a wrong password fail with the same
//! error after the same argon2 work (`uniform-login-failure`).

mod attempt;
mod token;
mod types;
mod users;

use std::collections::{BTreeMap, BTreeSet};

use protocol_core::ids::Owner;
use protocol_core::time::Millis;
use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;

pub use attempt::{CheckedLogin, ElevationAttempt, LoginAttempt};
pub use token::{MalformedToken, StoredKey, TOKEN_BYTES, Token};
pub use types::{Audience, SessionConfig, SessionError, SessionId};
pub use users::{HashParams, PasswordChecker, UserDb, UserFileError, hash_password};

use crate::checks::{PeopleCheck, PeopleDefences};
use crate::ops::Level;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Session {
    user: Owner,
    audience: Audience,
    /// One key normally; more only when `elevation-new-token` is removed.
    keys: BTreeSet<StoredKey>,
    created: Millis,
    last_used: Millis,
    elevation: Option<(Level, Millis)>,
    revoked: bool,
}

/// A successfully authenticated session, as seen at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthSession {
    /// Its handle.
    pub id: SessionId,
    /// Whose it is.
    pub user: Owner,
    /// Its audience.
    pub audience: Audience,
    /// Its effective level now.
    pub level: Level,
    /// When the current elevation lapses, if it has not.
    pub elevated_until: Option<Millis>,
}

/// An elevation that passed its checks but is not yet applied: record it in the audit log,
/// then [`SessionManager::apply_elevation`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PendingElevation {
    id: SessionId,
    key: StoredKey,
    user: Owner,
    to: Level,
}

impl PendingElevation {
    /// Whose session.
    #[must_use]
    pub const fn user(&self) -> &Owner {
        &self.user
    }

    /// The level asked for.
    #[must_use]
    pub const fn to(&self) -> Level {
        self.to
    }

    /// The session.
    #[must_use]
    pub const fn session(&self) -> SessionId {
        self.id
    }
}

/// All sessions of one gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionManager {
    users: UserDb,
    config: SessionConfig,
    defences: PeopleDefences,
    dummy: String,
    sessions: BTreeMap<SessionId, Session>,
    next_id: u64,
}

impl SessionManager {
    /// A manager with every defence.
    ///
    /// # Errors
    /// [`SessionError::Hashing`] if `config.hash_params` are not valid argon2 parameters.
    pub fn new(users: UserDb, config: SessionConfig) -> Result<Self, SessionError> {
        Self::with_defences(users, config, PeopleDefences::all())
    }

    /// A manager with the given defences.
    ///
    /// # Errors
    /// As [`SessionManager::new`].
    pub fn with_defences(users: UserDb, config: SessionConfig, defences: PeopleDefences) -> Result<Self, SessionError> {
        let dummy = users::dummy_hash(config.hash_params)?;
        Ok(Self {
            users,
            config,
            defences,
            dummy,
            sessions: BTreeMap::new(),
            next_id: 1,
        })
    }

    fn on(&self, check: PeopleCheck) -> bool {
        self.defences.is_on(check)
    }

    /// Checks a password and opens a read-only session for `audience`: [`Self::begin_login`],
    /// the check, and [`Self::finish_login`] back to back.
    ///
    /// # Errors
    /// [`SessionError::BadCredentials`] for an unknown user or a wrong password.
    pub fn login(
        &mut self,
        now: Millis,
        user: &str,
        password: &str,
        audience: &Audience,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), SessionError> {
        let checked = self.begin_login(user).check(&mut PasswordChecker::new(), password);
        self.finish_login(now, checked, audience, rng)
    }

    /// The first half of a login: the hash `user`'s password is to be checked against (the
    /// dummy hash for an unknown name, so timing does not tell which names exist).
    #[must_use]
    pub fn begin_login(&self, user: &str) -> LoginAttempt {
        let known = Owner::new(user)
            .ok()
            .and_then(|o| self.users.hash_of(&o).map(|h| (o, h.to_owned())));
        let (owner, phc) = match known {
            Some((owner, phc)) => (Some(owner), Some(phc)),
            None if self.on(PeopleCheck::UniformLoginFailure) => (None, Some(self.dummy.clone())),
            None => (None, None),
        };
        LoginAttempt {
            claimed: user.to_owned(),
            owner,
            phc,
        }
    }

    /// The last half of a login: opens the session if the password matched.
    ///
    /// # Errors
    /// [`SessionError::BadCredentials`] for an unknown user or a wrong password.
    pub fn finish_login(
        &mut self,
        now: Millis,
        checked: CheckedLogin,
        audience: &Audience,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), SessionError> {
        let CheckedLogin { attempt, matched } = checked;
        let Some(owner) = attempt.owner else {
            if !self.on(PeopleCheck::UniformLoginFailure) {
                return Err(SessionError::UnknownUser { user: attempt.claimed });
            }
            return Err(SessionError::BadCredentials);
        };
        if !matched {
            return Err(SessionError::BadCredentials);
        }
        let token = Token::generate(rng);
        let id = SessionId(self.next_id);
        self.next_id += 1;
        let session = Session {
            user: owner,
            audience: audience.clone(),
            keys: BTreeSet::from([token.stored_key(self.on(PeopleCheck::TokenHashing))]),
            created: now,
            last_used: now,
            elevation: None,
            revoked: false,
        };
        self.sessions.insert(id, session);
        let view = self.view(now, id).ok_or(SessionError::UnknownToken)?;
        Ok((token, view))
    }

    /// Finds the session holding `token`, comparing against every stored key in constant time.
    fn find(&self, token: &Token) -> Option<(SessionId, StoredKey)> {
        let key = token.stored_key(self.on(PeopleCheck::TokenHashing));
        let mut found = None;
        for (id, s) in &self.sessions {
            for k in &s.keys {
                if bool::from(k.ct_eq(&key)) {
                    found = Some((*id, *k));
                }
            }
        }
        found
    }

    /// Why a session can no longer be used at `now`, whatever the audience.
    fn refusal(&self, id: SessionId, s: &Session, now: Millis) -> Option<SessionError> {
        if s.revoked && self.on(PeopleCheck::TokenRevocation) {
            return Some(SessionError::Revoked { session: id });
        }
        if self.on(PeopleCheck::TokenAbsoluteExpiry) && now >= s.created.after(self.config.absolute_lifetime) {
            return Some(SessionError::Expired { session: id });
        }
        if self.on(PeopleCheck::TokenIdleExpiry) && now >= s.last_used.after(self.config.idle_timeout) {
            return Some(SessionError::IdleExpired { session: id });
        }
        None
    }

    fn check(&self, now: Millis, token: &Token, audience: &Audience) -> Result<(SessionId, StoredKey), SessionError> {
        let (id, key) = self.find(token).ok_or(SessionError::UnknownToken)?;
        let s = self.sessions.get(&id).ok_or(SessionError::UnknownToken)?;
        if let Some(e) = self.refusal(id, s, now) {
            return Err(e);
        }
        if self.on(PeopleCheck::TokenAudience) && s.audience != *audience {
            return Err(SessionError::AudienceMismatch {
                issued_for: s.audience.clone(),
                presented_to: audience.clone(),
            });
        }
        Ok((id, key))
    }

    fn level_of(&self, now: Millis, s: &Session) -> (Level, Option<Millis>) {
        match s.elevation {
            Some((level, until)) if now < until || !self.on(PeopleCheck::ElevationExpiry) => (level, Some(until)),
            _ => (Level::Read, None),
        }
    }

    fn view(&self, now: Millis, id: SessionId) -> Option<AuthSession> {
        let s = self.sessions.get(&id)?;
        let (level, elevated_until) = self.level_of(now, s);
        Some(AuthSession {
            id,
            user: s.user.clone(),
            audience: s.audience.clone(),
            level,
            elevated_until,
        })
    }

    /// Checks a token presented to `audience` at `now`, and marks the session used.
    ///
    /// # Errors
    /// [`SessionError::UnknownToken`], [`SessionError::Revoked`], [`SessionError::Expired`],
    /// [`SessionError::IdleExpired`] or [`SessionError::AudienceMismatch`].
    pub fn authenticate(
        &mut self,
        now: Millis,
        token: &Token,
        audience: &Audience,
    ) -> Result<AuthSession, SessionError> {
        let (id, _) = self.check(now, token, audience)?;
        if let Some(s) = self.sessions.get_mut(&id) {
            s.last_used = s.last_used.max(now);
        }
        self.view(now, id).ok_or(SessionError::UnknownToken)
    }

    /// Checks a token like [`SessionManager::authenticate`] without marking the session used.
    ///
    /// # Errors
    /// As [`SessionManager::authenticate`].
    pub fn peek(&self, now: Millis, token: &Token, audience: &Audience) -> Result<AuthSession, SessionError> {
        let (id, _) = self.check(now, token, audience)?;
        self.view(now, id).ok_or(SessionError::UnknownToken)
    }

    /// Checks an elevation without applying it: the token, the password again, the level
    /// ([`Self::begin_elevation`] and the password check back to back).
    ///
    /// # Errors
    /// As [`SessionManager::authenticate`], and [`SessionError::ReauthFailed`] or
    /// [`SessionError::NotAnElevation`].
    pub fn check_elevation(
        &self,
        now: Millis,
        token: &Token,
        audience: &Audience,
        password: &str,
        to: Level,
    ) -> Result<PendingElevation, SessionError> {
        self.begin_elevation(now, token, audience, to)?
            .check(&mut PasswordChecker::new(), password)
    }

    /// The first half of an elevation: the token and the level, and the hash the password is
    /// to be checked against.
    ///
    /// # Errors
    /// As [`SessionManager::authenticate`], and [`SessionError::NotAnElevation`].
    pub fn begin_elevation(
        &self,
        now: Millis,
        token: &Token,
        audience: &Audience,
        to: Level,
    ) -> Result<ElevationAttempt, SessionError> {
        let (id, key) = self.check(now, token, audience)?;
        let s = self.sessions.get(&id).ok_or(SessionError::UnknownToken)?;
        if to == Level::Read {
            return Err(SessionError::NotAnElevation { to });
        }
        let phc = self
            .on(PeopleCheck::ElevationReauth)
            .then(|| self.users.hash_of(&s.user).unwrap_or(&self.dummy).to_owned());
        Ok(ElevationAttempt {
            pending: PendingElevation {
                id,
                key,
                user: s.user.clone(),
                to,
            },
            phc,
        })
    }

    /// Applies a checked elevation: retires the old token, issues a new one, starts the window.
    ///
    /// # Errors
    /// [`SessionError::ElevationStale`] if the session changed since the check (logged out,
    /// revoked, expired, or its token already replaced).
    pub fn apply_elevation(
        &mut self,
        now: Millis,
        pending: &PendingElevation,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), SessionError> {
        let stale = SessionError::ElevationStale { session: pending.id };
        let s = self.sessions.get(&pending.id).ok_or_else(|| stale.clone())?;
        if !s.keys.contains(&pending.key) || self.refusal(pending.id, s, now).is_some() {
            return Err(stale);
        }
        let token = Token::generate(rng);
        let key = token.stored_key(self.on(PeopleCheck::TokenHashing));
        let new_token = self.on(PeopleCheck::ElevationNewToken);
        let window = self.config.elevation_window;
        let s = self.sessions.get_mut(&pending.id).ok_or(stale)?;
        if new_token {
            s.keys.clear();
        }
        s.keys.insert(key);
        s.elevation = Some((pending.to, now.after(window)));
        s.last_used = s.last_used.max(now);
        let view = self.view(now, pending.id).ok_or(SessionError::UnknownToken)?;
        Ok((token, view))
    }

    /// Re-authenticates and elevates in one step (when no audit record must come between).
    ///
    /// # Errors
    /// As [`SessionManager::check_elevation`] and [`SessionManager::apply_elevation`].
    pub fn elevate(
        &mut self,
        now: Millis,
        token: &Token,
        audience: &Audience,
        password: &str,
        to: Level,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Token, AuthSession), SessionError> {
        let pending = self.check_elevation(now, token, audience, password, to)?;
        self.apply_elevation(now, &pending, rng)
    }

    /// Ends the session holding `token`.
    ///
    /// # Errors
    /// [`SessionError::UnknownToken`].
    pub fn logout(&mut self, token: &Token) -> Result<SessionId, SessionError> {
        let (id, _) = self.find(token).ok_or(SessionError::UnknownToken)?;
        self.revoke(id)?;
        Ok(id)
    }

    /// Revokes a session (a defender's action).
    ///
    /// # Errors
    /// [`SessionError::UnknownToken`] if there is no such session.
    pub fn revoke(&mut self, id: SessionId) -> Result<(), SessionError> {
        let s = self.sessions.get_mut(&id).ok_or(SessionError::UnknownToken)?;
        s.revoked = true;
        Ok(())
    }

    /// Revokes every session of a user; returns how many.
    pub fn revoke_user(&mut self, user: &Owner) -> usize {
        let mut n = 0;
        for s in self.sessions.values_mut().filter(|s| s.user == *user && !s.revoked) {
            s.revoked = true;
            n += 1;
        }
        n
    }

    /// The session's effective level at `now` (Read once an elevation has lapsed), or `None`
    /// if it cannot be used at `now`.
    #[must_use]
    pub fn effective_level(&self, now: Millis, id: SessionId) -> Option<Level> {
        let s = self.sessions.get(&id)?;
        if self.refusal(id, s, now).is_some() {
            return None;
        }
        Some(self.level_of(now, s).0)
    }

    /// Drops sessions that can never be used again.
    pub fn purge(&mut self, now: Millis) {
        let dead: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(id, s)| self.refusal(**id, s, now).is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            self.sessions.remove(&id);
        }
    }

    /// Every stored key: what someone who reads the session store learns.
    #[must_use]
    pub fn stored_keys(&self) -> Vec<StoredKey> {
        self.sessions.values().flat_map(|s| s.keys.iter().copied()).collect()
    }

    /// The number of sessions held (including unusable ones not yet purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}
