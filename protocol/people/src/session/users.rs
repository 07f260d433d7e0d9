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

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
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

/// Checks passwords against PHC strings in argon2 memory it keeps, so that a server checking
/// passwords on a fixed set of threads holds a fixed amount of memory: argon2's own path
/// allocates its m-cost afresh for every check, and a burst of parallel logins then leaves
/// the allocator holding gigabytes (issue: 64 parallel logins took a hub to 5.6 GB).
///
/// The memory grows to the largest m-cost it has met and is zeroed after every check (it
/// holds values derived from the password).
#[derive(Default)]
pub struct PasswordChecker {
    blocks: Vec<argon2::Block>,
}

impl std::fmt::Debug for PasswordChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChecker")
            .field("kib", &self.blocks.len())
            .finish()
    }
}

impl PasswordChecker {
    /// A checker holding no memory yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The argon2 memory it holds, in KiB (one block is 1 KiB).
    #[must_use]
    pub fn memory_kib(&self) -> usize {
        self.blocks.len()
    }

    /// Whether `password` matches the argon2id PHC string `phc`, computed in this checker's
    /// memory. Anything that is not a well-formed argon2id hash does not match.
    #[must_use]
    pub fn verify(&mut self, phc: &str, password: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        if hash.algorithm.as_str() != "argon2id" {
            return false;
        }
        let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&hash), hash.salt, hash.hash) else {
            return false;
        };
        let version = hash
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)
            .unwrap_or(Version::V0x13);
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        // `Params::try_from` takes the output length from the hash itself.
        let blocks = params.block_count();
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, argon2::Block::default());
        }
        let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
        let argon = Argon2::new(Algorithm::Argon2id, version, params);
        let computed = argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut self.blocks[..blocks])
            .is_ok();
        self.blocks[..blocks].fill(argon2::Block::default());
        computed && bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), out.as_slice()))
    }
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
        let mut checker = PasswordChecker::new();
        assert!(checker.verify(&phc, "correct horse"));
        assert!(!checker.verify(&phc, "correct horsf"));
        assert!(!checker.verify("not a hash", "correct horse"));
    }

    #[test]
    fn the_checker_agrees_with_argon2s_own_verifier_and_keeps_only_the_largest_m_cost() {
        use argon2::password_hash::PasswordVerifier;
        let mut rng = rand_core::OsRng;
        let small = hash_password("pw", HashParams::FAST_INSECURE, &mut rng).expect("hashes");
        let bigger = HashParams {
            m_cost_kib: 64,
            t_cost: 2,
            p_cost: 2,
        };
        let big = hash_password("pw", bigger, &mut rng).expect("hashes");
        let argon_says = |phc: &str, pw: &str| {
            PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
        };
        let mut checker = PasswordChecker::new();
        for (phc, pw) in [(&big, "pw"), (&small, "pw"), (&big, "pX"), (&small, "")] {
            assert_eq!(checker.verify(phc, pw), argon_says(phc, pw), "{pw:?}");
        }
        assert_eq!(checker.memory_kib(), 64);
        // An argon2i hash (not argon2id) of the right password is refused, as the user file does.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8, 1, 1, None).expect("params"),
        )
        .hash_password(b"pw", &SaltString::generate(&mut rng))
        .expect("hashes")
        .to_string();
        assert!(argon_says(&argon2i, "pw"));
        assert!(!checker.verify(&argon2i, "pw"));
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
        assert!(!PasswordChecker::new().verify(&a, ""));
    }
}
