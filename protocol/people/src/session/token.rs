//! Session tokens: 256 random bits, a secret the holder presents and the server never stores.
//!
//! A [`Token`] is zeroised on drop, has no `Serialize`, no `Display`, and a redacted `Debug`;
//! its wire form (64 hex digits) is only handed out as [`Zeroizing`] text. The server keeps a
//! [`StoredKey`]: a domain-separated SHA-256 digest of the token (check `token-hashing`), so a
//! copy of the session store is not a set of bearer tokens.

use std::fmt;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Token length in bytes.
pub const TOKEN_BYTES: usize = 32;

/// A session token.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Token([u8; TOKEN_BYTES]);

/// A string that is not a token's wire form. Deliberately carries nothing of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("malformed token")]
pub struct MalformedToken;

impl Token {
    pub(crate) fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill_bytes(&mut bytes);
        let token = Self(bytes);
        bytes.zeroize();
        token
    }

    /// The wire form: 64 lower-case hex digits.
    #[must_use]
    pub fn to_wire(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// Parses the wire form.
    ///
    /// # Errors
    /// [`MalformedToken`], which says nothing about the input.
    pub fn from_wire(s: &str) -> Result<Self, MalformedToken> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        hex::decode_to_slice(s.trim(), bytes.as_mut_slice()).map_err(|_| MalformedToken)?;
        Ok(Self(*bytes))
    }

    /// The key under which the server stores this token's session.
    pub(crate) fn stored_key(&self, hashed: bool) -> StoredKey {
        if !hashed {
            return StoredKey(self.0);
        }
        let mut h = Sha256::new();
        h.update(b"threatcheck session token v1\0");
        h.update(self.0);
        StoredKey(h.finalize().into())
    }
}

impl ConstantTimeEq for Token {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What the server stores for a token: its digest (or, with `token-hashing` removed, the token).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoredKey(pub(crate) [u8; TOKEN_BYTES]);

impl StoredKey {
    /// The stored bytes: what someone who reads the session store learns.
    #[must_use]
    pub const fn bytes(&self) -> [u8; TOKEN_BYTES] {
        self.0
    }
}

impl ConstantTimeEq for StoredKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_through_its_wire_form_and_debug_hides_it() {
        let t = Token::generate(&mut rand_core::OsRng);
        let wire = t.to_wire();
        assert_eq!(wire.len(), 64);
        let back = Token::from_wire(&wire).expect("parses");
        assert!(bool::from(back.ct_eq(&t)));
        let shown = format!("{t:?} {:?}", t.stored_key(true));
        assert!(!shown.contains(&wire[..16]), "{shown}");
        assert_eq!(Token::from_wire("zz").map(|_| ()), Err(MalformedToken));
        assert_eq!(MalformedToken.to_string(), "malformed token");
    }

    #[test]
    fn the_stored_key_is_a_digest_not_the_token() {
        let t = Token::generate(&mut rand_core::OsRng);
        assert_ne!(t.stored_key(true).bytes(), t.0);
        assert_eq!(t.stored_key(false).bytes(), t.0);
    }
}
