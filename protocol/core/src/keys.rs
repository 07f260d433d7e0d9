//! X25519 key material for the job channel.
//!
//! Private keys live only in memory: [`StaticKeypair`] zeroises its secret on drop, has no
//! `Serialize`, and its `Debug` prints only the public half. Public keys that arrive from a peer
//! are validated by [`validate_public_key`] before anything trusts them, because snow accepts
//! low-order points and an all-zero Diffie-Hellman result without complaint.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Length in bytes of an X25519 public key, private key and shared secret.
pub const KEY_LEN: usize = 32;

/// The field prime 2^255 - 19, little-endian, the order X25519 u-coordinates are written in.
const P_LE: [u8; KEY_LEN] = {
    let mut p = [0xff_u8; KEY_LEN];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Canonical u-coordinates of every point of small order on Curve25519 and its twist.
///
/// With non-canonical encodings rejected first, these five values are all of them (the
/// libsodium blacklist adds only their non-canonical aliases). A public key in this table lets
/// anyone compute the Diffie-Hellman result without a private key.
pub const LOW_ORDER_POINTS: [[u8; KEY_LEN]; 5] = [
    // 0
    [0; KEY_LEN],
    // 1
    {
        let mut k = [0; KEY_LEN];
        k[0] = 1;
        k
    },
    // 325606250916557431795983626356110631294008115727848805560023387167927233504 (order 8)
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09,
        0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
    ],
    // 39382357235489614581723060781553021112529911719440698176882885853963445705823 (order 8)
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44,
        0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
    ],
    // p - 1
    {
        let mut k = P_LE;
        k[0] = 0xec;
        k
    },
];

/// Why a peer's public key (or the result of using it) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum KeyError {
    /// The encoding has the top bit set or a value at or above the field prime.
    #[error("public key is not a canonical X25519 encoding")]
    NonCanonical,
    /// The key is a point of small order: its Diffie-Hellman result is predictable.
    #[error("public key is a low-order point")]
    LowOrder,
    /// Diffie-Hellman with the key produced all zeros (a non-contributory key).
    #[error("Diffie-Hellman with the public key gave an all-zero shared secret")]
    ZeroSharedSecret,
    /// The key has the wrong length (for keys read from the wire).
    #[error("public key must be {KEY_LEN} bytes, got {0}")]
    WrongLength(usize),
    /// A key written as text is not 64 hex digits (the length given is in characters, so an
    /// odd count is never reported as a whole number of bytes).
    #[error("public key must be {hex} hex digits, got {0} characters", hex = KEY_LEN * 2)]
    NotHex(usize),
}

/// A validated X25519 public key. Public keys are not secret; `Debug` shows a short hex prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    /// Wraps bytes *without* validation. Use only for keys this process made itself, or in
    /// models and tests that need a particular key; peers' keys go through
    /// [`validate_public_key`].
    #[must_use]
    pub const fn from_trusted_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key's 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key as 64 lowercase hex digits, the form used on the bootstrap channel.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits and validates the key.
    ///
    /// # Errors
    /// [`KeyError::NotHex`] for anything but 64 hex digits, else as [`validate_public_key`].
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        if text.len() != KEY_LEN * 2 {
            return Err(KeyError::NotHex(text.chars().count()));
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| KeyError::NotHex(text.chars().count()))?;
        validate_public_key(&bytes)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Deserialises 64 hex digits *without* validation: used for the scheduler's own event log,
/// whose keys were validated when registered. Keys from peers go through [`PublicKey::from_hex`].
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(text.as_bytes(), &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(Self(bytes))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}…)", hex::encode(&self.0[..6]))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Returns whether `bytes`, read as a little-endian integer, is the canonical encoding of a
/// field element (top bit clear, value below 2^255 - 19).
fn is_canonical(bytes: &[u8; KEY_LEN]) -> bool {
    if bytes[31] & 0x80 != 0 {
        return false;
    }
    // Compare against p from the most significant byte down.
    for i in (0..KEY_LEN).rev() {
        if bytes[i] != P_LE[i] {
            // The bytes differ here, so `<` and `<=` agree (an equivalent mutant).
            return bytes[i] < P_LE[i];
        }
    }
    false
}

/// Validates a peer's X25519 public key: canonical encoding and not a low-order point.
///
/// # Errors
/// [`KeyError::WrongLength`], [`KeyError::NonCanonical`] or [`KeyError::LowOrder`].
pub fn validate_public_key(bytes: &[u8]) -> Result<PublicKey, KeyError> {
    let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::WrongLength(bytes.len()))?;
    if !is_canonical(&array) {
        return Err(KeyError::NonCanonical);
    }
    let low_order = LOW_ORDER_POINTS
        .iter()
        .fold(subtle::Choice::from(0), |acc, p| acc | p.ct_eq(&array));
    if bool::from(low_order) {
        return Err(KeyError::LowOrder);
    }
    Ok(PublicKey(array))
}

/// A static X25519 keypair held only in memory.
///
/// The secret is zeroised on drop (x25519-dalek's `zeroize` feature), is never serialised and
/// never printed: `Debug` shows only the public key.
pub struct StaticKeypair {
    secret: x25519_dalek::StaticSecret,
    public: PublicKey,
}

impl StaticKeypair {
    /// Makes a fresh keypair from the injected random source.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let secret = x25519_dalek::StaticSecret::random_from_rng(rng);
        let public = PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// A keypair from secret bytes the caller already holds (test vectors; keys derived in
    /// memory). The scheduler and the reference job never load keys from storage.
    #[must_use]
    pub fn from_secret(secret: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let secret = x25519_dalek::StaticSecret::from(*secret);
        let public = PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// Makes a keypair from the operating system's random source.
    #[must_use]
    pub fn generate_from_os() -> Self {
        Self::generate(&mut rand_core::OsRng)
    }

    /// The public half.
    #[must_use]
    pub const fn public(&self) -> PublicKey {
        self.public
    }

    /// The secret bytes, for handing to the Noise handshake. The copy is zeroised when dropped.
    #[must_use]
    pub fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// Diffie-Hellman with a peer's key, refusing a non-contributory (all-zero) result.
    ///
    /// # Errors
    /// [`KeyError::ZeroSharedSecret`] when the peer's key is of small order.
    pub fn diffie_hellman_checked(&self, peer: &[u8; KEY_LEN]) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
        let shared = self.secret.diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
        if !shared.was_contributory() {
            return Err(KeyError::ZeroSharedSecret);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl fmt::Debug for StaticKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeypair")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
#[path = "keys_wycheproof.rs"]
mod wycheproof_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; KEY_LEN] {
        let mut out = [0u8; KEY_LEN];
        hex::decode_to_slice(s, &mut out).expect("test vector is valid hex");
        out
    }

    /// Known-bad keys: libsodium's blacklist (canonical and non-canonical aliases) plus edge
    /// encodings. Each row names the refusal it must get.
    const KNOWN_BAD: &[(&str, &str, KeyError)] = &[
        (
            "zero",
            "0000000000000000000000000000000000000000000000000000000000000000",
            KeyError::LowOrder,
        ),
        (
            "one",
            "0100000000000000000000000000000000000000000000000000000000000000",
            KeyError::LowOrder,
        ),
        (
            "order 8 (a)",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            KeyError::LowOrder,
        ),
        (
            "order 8 (b)",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            KeyError::LowOrder,
        ),
        (
            "p - 1",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            KeyError::LowOrder,
        ),
        (
            "p (alias of 0)",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            KeyError::NonCanonical,
        ),
        (
            "p + 1 (alias of 1)",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            KeyError::NonCanonical,
        ),
        (
            "2^255 - 1",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            KeyError::NonCanonical,
        ),
        (
            "order 8 (a) with top bit",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
            KeyError::NonCanonical,
        ),
        (
            "order 8 (b) with top bit",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
            KeyError::NonCanonical,
        ),
        (
            "zero with top bit",
            "0000000000000000000000000000000000000000000000000000000000000080",
            KeyError::NonCanonical,
        ),
        (
            "p - 1 with top bit",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            KeyError::NonCanonical,
        ),
    ];

    #[test]
    fn validation_refuses_every_known_bad_key_with_the_expected_reason() {
        for (name, hex, expected) in KNOWN_BAD {
            let got = validate_public_key(&hex32(hex));
            assert_eq!(got, Err(*expected), "{name}");
        }
    }

    #[test]
    fn every_canonical_low_order_point_really_gives_an_all_zero_shared_secret() {
        // Proves the table is right: the contributory check agrees with it for every entry.
        let keypair = StaticKeypair::generate_from_os();
        for point in LOW_ORDER_POINTS {
            assert_eq!(
                keypair.diffie_hellman_checked(&point),
                Err(KeyError::ZeroSharedSecret),
                "{}",
                hex::encode(point)
            );
        }
    }

    #[test]
    fn non_canonical_aliases_of_low_order_points_also_give_zero_and_are_refused() {
        let keypair = StaticKeypair::generate_from_os();
        for (name, hex, expected) in KNOWN_BAD {
            if *expected == KeyError::NonCanonical && name.contains("alias") {
                assert_eq!(
                    keypair.diffie_hellman_checked(&hex32(hex)).err(),
                    Some(KeyError::ZeroSharedSecret),
                    "{name} is an alias of a low-order point and must give zero"
                );
            }
        }
    }

    #[test]
    fn honest_keys_pass_validation_and_agree_on_a_shared_secret() {
        let a = StaticKeypair::generate_from_os();
        let b = StaticKeypair::generate_from_os();
        assert_eq!(validate_public_key(a.public().as_bytes()), Ok(a.public()));
        let ab = a.diffie_hellman_checked(b.public().as_bytes()).expect("contributory");
        let ba = b.diffie_hellman_checked(a.public().as_bytes()).expect("contributory");
        assert_eq!(*ab, *ba);
    }

    #[test]
    fn wrong_length_keys_are_refused_with_their_length() {
        assert_eq!(validate_public_key(&[7u8; 31]), Err(KeyError::WrongLength(31)));
        assert_eq!(validate_public_key(&[]), Err(KeyError::WrongLength(0)));
        assert_eq!(PublicKey::from_hex("abcd"), Err(KeyError::NotHex(4)));
        assert_eq!(PublicKey::from_hex(&"zz".repeat(32)), Err(KeyError::NotHex(64)));
        // 65 characters once read "must be 32 bytes, got 32".
        let odd = PublicKey::from_hex(&"a".repeat(65)).expect_err("odd length");
        assert_eq!(odd, KeyError::NotHex(65));
        assert_eq!(odd.to_string(), "public key must be 64 hex digits, got 65 characters");
    }

    #[test]
    fn a_public_key_displays_as_its_hex_and_debugs_as_a_short_prefix() {
        let key = PublicKey::from_trusted_bytes([0xab; KEY_LEN]);
        assert_eq!(key.to_string(), "ab".repeat(KEY_LEN));
        assert_eq!(format!("{key:?}"), "PublicKey(abababababab…)");
    }

    #[test]
    fn keypair_debug_output_never_contains_the_secret() {
        let keypair = StaticKeypair::generate_from_os();
        let debug = format!("{keypair:?}");
        let secret_hex = hex::encode(*keypair.secret_bytes());
        assert!(!debug.contains(&secret_hex));
        assert!(!debug.contains(&secret_hex[..12]));
        assert!(debug.contains("redacted"));
    }
}
