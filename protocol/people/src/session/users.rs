//! The user file: account names and their argon2id password hashes (PHC strings).
//!
//! ```toml
//! [users]
//! jacintar = "$argon2id$v=19$m=19456,t=2,p=1$…$…"
//! ```
//!
//! The cost of checking a password is set by the parameters inside each hash, so they are
//! chosen when a hash is made ([`hash_password`] with [`HashParams`]). Production should use
//! [`HashParams::PRODUCTION`] (OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane);
//! [`HashParams::FAST_INSECURE`] exists so that test suites stay fast and must never protect a
//! real password. Hashes of every user should share one set of parameters: a login for an
//! unknown user is checked against a dummy hash made with [`super::SessionConfig::hash_params`],
//! and only equal parameters make the two cases take equal time.

use std::collections::BTreeMap;
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use protocol_core::ids::Owner;
use rand_core::CryptoRngCore;

use crate::policy::line_of;

/// Argon2id cost parameters for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashParams {
    /// Memory, in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl HashParams {
    /// The production default: 19 MiB, 2 passes, 1 lane (OWASP's argon2id minimum).
    pub const PRODUCTION: Self = Self {
        m_cost_kib: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    /// The cheapest parameters argon2 accepts: for tests and fixtures only.
    pub const FAST_INSECURE: Self = Self {
        m_cost_kib: 8,
        t_cost: 1,
        p_cost: 1,
    };

    fn hasher(self) -> Result<Argon2<'static>, UserFileError> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
            .map_err(|e| UserFileError::Params(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::PRODUCTION
    }
}

/// Why a user file or a hash was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum UserFileError {
    /// The file could not be read.
    #[error("{file}: cannot read the user file: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// The I/O error.
        reason: String,
    },
    /// The file is not valid.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong (never the hash itself).
        message: String,
    },
    /// Bad argon2 parameters.
    #[error("argon2 parameters refused: {0}")]
    Params(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Hashes `password` with argon2id and a random salt, giving a PHC string for the user file.
///
/// # Errors
/// [`UserFileError::Params`] or [`UserFileError::Hashing`].
pub fn hash_password(
    password: &str,
    params: HashParams,
    rng: &mut impl CryptoRngCore,
) -> Result<String, UserFileError> {
    let salt = SaltString::generate(rng);
    hash_with_salt(password, params, &salt)
}

fn hash_with_salt(password: &str, params: HashParams, salt: &SaltString) -> Result<String, UserFileError> {
    let hash = params
        .hasher()?
        .hash_password(password.as_bytes(), salt)
        .map_err(|e| UserFileError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

/// A dummy hash to verify against when the user is unknown, so that the failure costs the same.
pub(crate) fn dummy_hash(params: HashParams) -> Result<String, UserFileError> {
    let salt = SaltString::from_b64("dGhyZWF0Y2hlY2stZHVtbXk").map_err(|e| UserFileError::Hashing(e.to_string()))?;
    hash_with_salt("threatcheck: no such user", params, &salt)
}

/// Whether `password` matches the PHC string `phc` (with the parameters inside it).
pub(crate) fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Accounts and their password hashes.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct UserDb {
    users: BTreeMap<Owner, String>,
}

impl std::fmt::Debug for UserDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDb")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    #[serde(default)]
    users: BTreeMap<toml::Spanned<String>, toml::Spanned<String>>,
}

impl UserDb {
    /// An empty database.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a user with a PHC hash.
    ///
    /// # Errors
    /// [`UserFileError::Invalid`] if `phc` is not an argon2id PHC string.
    pub fn insert(&mut self, user: Owner, phc: &str) -> Result<(), UserFileError> {
        check_phc(phc).map_err(|message| UserFileError::Invalid {
            file: "<memory>".into(),
            line: 1,
            message,
        })?;
        self.users.insert(user, phc.to_owned());
        Ok(())
    }

    /// The PHC hash of a user.
    pub(crate) fn hash_of(&self, user: &Owner) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// Parses a user file's text; `file` names it in errors.
    ///
    /// # Errors
    /// [`UserFileError::Invalid`] naming the line.
    pub fn parse(file: &str, text: &str) -> Result<Self, UserFileError> {
        let invalid = |at: usize, message: String| UserFileError::Invalid {
            file: file.to_owned(),
            line: line_of(text, at),
            message,
        };
        let parsed: UserFile = toml::from_str(text)
            .map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().trim().to_owned()))?;
        let mut users = BTreeMap::new();
        for (name, phc) in parsed.users {
            let user = Owner::new(name.get_ref())
                .map_err(|e| invalid(name.span().start, format!("users.{}: {e}", name.get_ref())))?;
            check_phc(phc.get_ref()).map_err(|m| invalid(phc.span().start, format!("users.{}: {m}", user)))?;
            users.insert(user, phc.into_inner());
        }
        Ok(Self { users })
    }

    /// Reads and parses a user file.
    ///
    /// # Errors
    /// [`UserFileError`].
    pub fn load(path: &Path) -> Result<Self, UserFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| UserFileError::Unreadable {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&file, &text)
    }
}

fn check_phc(phc: &str) -> Result<(), String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC password hash: {e}"))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(format!("hash algorithm must be argon2id, not {}", hash.algorithm));
    }
    Params::try_from(&hash).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let mut rng = rand_core::OsRng;
        let phc = hash_password("correct horse", HashParams::FAST_INSECURE, &mut rng).expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(verify(&phc, "correct horse"));
        assert!(!verify(&phc, "correct horsf"));
        assert!(!verify("not a hash", "correct horse"));
    }

    #[test]
    fn a_user_file_with_a_non_argon2id_hash_is_refused_on_its_line() {
        let text = "[users]\nbob = \"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcA\"\neve = \"$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcA\"\n";
        let err = UserDb::parse("users.toml", text).expect_err("refused");
        assert!(
            matches!(&err, UserFileError::Invalid { line: 3, message, .. } if message.contains("argon2id")),
            "{err:?}"
        );
    }

    #[test]
    fn the_dummy_hash_is_stable_and_matches_no_ordinary_password() {
        let a = dummy_hash(HashParams::FAST_INSECURE).expect("hashes");
        assert_eq!(a, dummy_hash(HashParams::FAST_INSECURE).expect("hashes"));
        assert!(!verify(&a, ""));
    }
}
