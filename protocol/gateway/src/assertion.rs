//! How a UI server knows who is asking: the hub's signed assertion, sans-IO.
//!
//! The hub authenticates people; the UI server must believe the hub and nobody else (any
//! local process can connect to its loopback port). At each spawn the hub makes a fresh
//! 32-byte [`HubKey`] and hands it to the UI server on its standard input (never in its
//! arguments or environment, which other local users can read). Every proxied request then
//! carries the header
//!
//! ```text
//! x-threatcheck-assertion: v1 user=jacintar level=execute session=3 operator=0 at=1795341600000 nonce=<32 hex> mac=<64 hex>
//! ```
//!
//! with `mac = HMAC-SHA256(key, "threatcheck-hub-assertion-v1\0" ‖ method ‖ 0 ‖ path ‖ 0 ‖
//! user ‖ 0 ‖ level ‖ 0 ‖ session (u64 BE) ‖ operator (1 byte) ‖ at (u64 BE) ‖ nonce ‖
//! SHA-256(body))`. The UI server checks the MAC in constant time, refuses an `at` further
//! than the allowed skew from its own clock, and refuses a nonce it has already seen within
//! that skew ([`ReplayGuard`]), so a captured request cannot be replayed or altered. The
//! person and level it acts on come only from a valid assertion.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use protocol_core::Owner;
use protocol_core::time::Millis;
use protocol_people::ops::Level;
use protocol_people::session::AuthSession;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::checks::{GatewayCheck, GatewayDefences};

/// The header carrying the assertion.
pub const HEADER: &str = "x-threatcheck-assertion";

const DOMAIN: &[u8] = b"threatcheck-hub-assertion-v1\0";

/// The secret shared by the hub and one UI server instance. Zeroised on drop, `Debug`
/// redacted, never serialised.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HubKey([u8; 32]);

impl HubKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut k = Self([0; 32]);
        rng.fill_bytes(&mut k.0);
        k
    }

    /// A key from bytes (tests).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// 64 hex digits, for the rendezvous line.
    #[must_use]
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`AssertionError::Malformed`], saying nothing of the input.
    pub fn from_hex(s: &str) -> Result<Self, AssertionError> {
        let mut k = Self([0; 32]);
        hex::decode_to_slice(s, &mut k.0).map_err(|_| AssertionError::Malformed)?;
        Ok(k)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts any key length; 32 bytes is well within SHA-256's block.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_mac())
    }
}

/// HMAC-SHA256 takes keys of any length, so this is never called; it exists so that no
/// `unwrap` is needed on a path input could reach.
#[cold]
fn unreachable_mac() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new(&Default::default())
}

impl fmt::Debug for HubKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HubKey(<redacted>)")
    }
}

/// What the hub vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assertion {
    /// The authenticated person.
    pub user: Owner,
    /// Their session's effective level when the hub forwarded the request.
    pub level: Level,
    /// Their session (a public handle, for the logs).
    pub session: u64,
    /// Whether the hub recognised them as an operator.
    pub operator: bool,
    /// When the hub made the assertion.
    pub at: Millis,
    /// A random value, unique per request.
    pub nonce: [u8; 16],
}

/// Why an assertion was refused. Deliberately coarse: the UI server answers every one alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AssertionError {
    /// No assertion header.
    #[error("no hub assertion")]
    Missing,
    /// Not in the assertion format.
    #[error("malformed hub assertion")]
    Malformed,
    /// The MAC does not match: not made by the hub, or the request was altered.
    #[error("hub assertion MAC mismatch")]
    BadMac,
    /// Made too long ago, or in the future.
    #[error("hub assertion outside the allowed clock skew")]
    Stale,
    /// Seen before.
    #[error("hub assertion replayed")]
    Replayed,
}

fn mac_input(
    key: &HubKey,
    a: &Assertion,
    method: &str,
    path: &str,
    body: &[u8],
) -> hmac::digest::CtOutput<Hmac<Sha256>> {
    let mut m = key.mac();
    m.update(DOMAIN);
    for part in [
        method.as_bytes(),
        path.as_bytes(),
        a.user.as_str().as_bytes(),
        a.level.name().as_bytes(),
    ] {
        m.update(part);
        m.update(&[0]);
    }
    m.update(&a.session.to_be_bytes());
    m.update(&[u8::from(a.operator)]);
    m.update(&a.at.0.to_be_bytes());
    m.update(&a.nonce);
    m.update(&Sha256::digest(body));
    m.finalize()
}

/// The header value for `a` on a request `method path` with `body`.
#[must_use]
pub fn sign(key: &HubKey, a: &Assertion, method: &str, path: &str, body: &[u8]) -> String {
    let mac = mac_input(key, a, method, path, body).into_bytes();
    format!(
        "v1 user={} level={} session={} operator={} at={} nonce={} mac={}",
        a.user.as_str(),
        a.level.name(),
        a.session,
        u8::from(a.operator),
        a.at.0,
        hex::encode(a.nonce),
        hex::encode(mac)
    )
}

fn field<'a>(parts: &mut std::str::SplitAsciiWhitespace<'a>, name: &str) -> Result<&'a str, AssertionError> {
    parts
        .next()
        .and_then(|p| p.strip_prefix(name))
        .and_then(|p| p.strip_prefix('='))
        .ok_or(AssertionError::Malformed)
}

/// Parses and checks a header value for a request `method path` with `body` at `now`.
/// Does not check for replay: see [`ReplayGuard`].
///
/// # Errors
/// [`AssertionError`].
pub fn verify(
    key: &HubKey,
    header: &str,
    method: &str,
    path: &str,
    body: &[u8],
    now: Millis,
    max_skew: Duration,
) -> Result<Assertion, AssertionError> {
    verify_with(
        key,
        header,
        (method, path, body),
        now,
        max_skew,
        &GatewayDefences::all(),
    )
}

/// [`verify`] with the given defences (`assertion-mac`, `assertion-freshness`).
///
/// # Errors
/// [`AssertionError`].
pub fn verify_with(
    key: &HubKey,
    header: &str,
    (method, path, body): (&str, &str, &[u8]),
    now: Millis,
    max_skew: Duration,
    defences: &GatewayDefences,
) -> Result<Assertion, AssertionError> {
    let mut parts = header.split_ascii_whitespace();
    if parts.next() != Some("v1") {
        return Err(AssertionError::Malformed);
    }
    let user = Owner::new(field(&mut parts, "user")?).map_err(|_| AssertionError::Malformed)?;
    let level = field(&mut parts, "level")?
        .parse::<Level>()
        .map_err(|_| AssertionError::Malformed)?;
    let session = field(&mut parts, "session")?
        .parse::<u64>()
        .map_err(|_| AssertionError::Malformed)?;
    let operator = match field(&mut parts, "operator")? {
        "0" => false,
        "1" => true,
        _ => return Err(AssertionError::Malformed),
    };
    let at = Millis(
        field(&mut parts, "at")?
            .parse::<u64>()
            .map_err(|_| AssertionError::Malformed)?,
    );
    let mut nonce = [0u8; 16];
    hex::decode_to_slice(field(&mut parts, "nonce")?, &mut nonce).map_err(|_| AssertionError::Malformed)?;
    let mut mac = [0u8; 32];
    hex::decode_to_slice(field(&mut parts, "mac")?, &mut mac).map_err(|_| AssertionError::Malformed)?;
    if parts.next().is_some() {
        return Err(AssertionError::Malformed);
    }
    let a = Assertion {
        user,
        level,
        session,
        operator,
        at,
        nonce,
    };
    let expected = mac_input(key, &a, method, path, body).into_bytes();
    if defences.is_on(GatewayCheck::AssertionMac) && !bool::from(expected.as_slice().ct_eq(&mac)) {
        return Err(AssertionError::BadMac);
    }
    let skew = u64::try_from(max_skew.as_millis()).unwrap_or(u64::MAX);
    if defences.is_on(GatewayCheck::AssertionFreshness) && now.0.abs_diff(at.0) > skew {
        return Err(AssertionError::Stale);
    }
    Ok(a)
}

/// Nonces seen within the skew window; anything older is refused as stale anyway. Nonces are
/// also indexed by time, so forgetting the old ones costs only what is forgotten (a sweep of
/// every nonce in the window on every request, as this once did, grew with the request rate).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayGuard {
    window: Duration,
    max: usize,
    seen: BTreeMap<[u8; 16], Millis>,
    by_at: BTreeSet<(Millis, [u8; 16])>,
}

impl ReplayGuard {
    /// Remembers nonces for `window` (the allowed skew, both ways), at most `max` of them.
    #[must_use]
    pub const fn new(window: Duration, max: usize) -> Self {
        Self {
            window,
            max,
            seen: BTreeMap::new(),
            by_at: BTreeSet::new(),
        }
    }

    /// Accepts a verified assertion's nonce once.
    ///
    /// # Errors
    /// [`AssertionError::Replayed`] for a nonce seen before, or when the table is full of
    /// nonces still in their window (fail closed).
    pub fn check(&mut self, a: &Assertion, now: Millis) -> Result<(), AssertionError> {
        self.expire(now);
        if self.seen.contains_key(&a.nonce) || self.seen.len() >= self.max {
            return Err(AssertionError::Replayed);
        }
        self.seen.insert(a.nonce, a.at);
        self.by_at.insert((a.at, a.nonce));
        Ok(())
    }

    /// Forgets every nonce whose assertion is stale at `now` (each check does this first; a
    /// guard that did it earlier behaves the same from `now` on, as time does not go back).
    pub fn expire(&mut self, now: Millis) {
        let window = self.window;
        // An assertion is valid until `at + window`; forget it after that.
        while let Some((at, nonce)) = self.by_at.first().copied()
            && now > at.after(window)
        {
            self.by_at.pop_first();
            self.seen.remove(&nonce);
        }
    }
}

/// The hub's half of the assertion protocol: what it vouches for when it forwards a request
/// of `session` at `now` (the hub's proxy and the people model both build it here).
#[must_use]
pub fn vouch(session: &AuthSession, operator: bool, now: Millis, nonce: [u8; 16]) -> Assertion {
    Assertion {
        user: session.user.clone(),
        level: session.level,
        session: session.id.0,
        operator,
        at: now,
        nonce,
    }
}

/// The UI server's half: a request is let through only with an assertion that verifies for it
/// ([`verify_with`]: `assertion-mac`, `assertion-freshness`) and whose nonce `guard` has not
/// seen (`assertion-replay`). The UI server's guard and the people model both call this.
///
/// # Errors
/// [`AssertionError`].
pub fn admit(
    key: &HubKey,
    guard: &mut ReplayGuard,
    header: &str,
    request: (&str, &str, &[u8]),
    now: Millis,
    max_skew: Duration,
    defences: &GatewayDefences,
) -> Result<Assertion, AssertionError> {
    let a = verify_with(key, header, request, now, max_skew, defences)?;
    if defences.is_on(GatewayCheck::AssertionReplay) {
        guard.check(&a, now)?;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = Millis(1_795_341_600_000);
    const SKEW: Duration = Duration::from_secs(30);

    fn assertion() -> Assertion {
        Assertion {
            user: Owner::new("jacintar").expect("valid"),
            level: Level::Execute,
            session: 3,
            operator: false,
            at: T0,
            nonce: [7; 16],
        }
    }

    #[test]
    fn a_signed_assertion_verifies_for_its_request_only() {
        let key = HubKey::from_bytes([1; 32]);
        let a = assertion();
        let h = sign(&key, &a, "POST", "/workflows/clouds", b"{\"op\":\"stop\"}");
        assert!(h.starts_with("v1 user=jacintar level=execute session=3 operator=0 at=1795341600000 nonce="));
        let ok = verify(&key, &h, "POST", "/workflows/clouds", b"{\"op\":\"stop\"}", T0, SKEW);
        assert_eq!(ok, Ok(a));
        for (method, path, body) in [
            ("GET", "/workflows/clouds", &b"{\"op\":\"stop\"}"[..]),
            ("POST", "/workflows/winds", b"{\"op\":\"stop\"}"),
            ("POST", "/workflows/clouds", b"{\"op\":\"kill\"}"),
        ] {
            assert_eq!(
                verify(&key, &h, method, path, body, T0, SKEW),
                Err(AssertionError::BadMac),
                "{method} {path}"
            );
        }
        let other = HubKey::from_bytes([2; 32]);
        assert_eq!(
            verify(&other, &h, "POST", "/workflows/clouds", b"{\"op\":\"stop\"}", T0, SKEW),
            Err(AssertionError::BadMac)
        );
    }

    #[test]
    fn an_edited_field_breaks_the_mac_and_bad_shapes_are_malformed() {
        let key = HubKey::from_bytes([1; 32]);
        let h = sign(&key, &assertion(), "GET", "/workflows", b"");
        let raised = h.replace("level=execute", "level=write");
        assert_eq!(
            verify(&key, &raised, "GET", "/workflows", b"", T0, SKEW),
            Err(AssertionError::BadMac)
        );
        let someone_else = h.replace("user=jacintar", "user=oceans_stage");
        assert_eq!(
            verify(&key, &someone_else, "GET", "/workflows", b"", T0, SKEW),
            Err(AssertionError::BadMac)
        );
        for bad in [
            "",
            "v2 user=x",
            "v1 user=Root level=read session=1 operator=0 at=1 nonce=00 mac=00",
            &format!("{h} extra=1"),
            &h.replace("operator=0", "operator=2"),
        ] {
            assert_eq!(
                verify(&key, bad, "GET", "/workflows", b"", T0, SKEW),
                Err(AssertionError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn stale_and_replayed_assertions_are_refused() {
        let key = HubKey::from_bytes([1; 32]);
        let a = assertion();
        let h = sign(&key, &a, "GET", "/workflows", b"");
        let late = T0.after(Duration::from_secs(31));
        assert_eq!(
            verify(&key, &h, "GET", "/workflows", b"", late, SKEW),
            Err(AssertionError::Stale)
        );
        let mut guard = ReplayGuard::new(SKEW, 100);
        guard.check(&a, T0).expect("first");
        assert_eq!(guard.check(&a, T0), Err(AssertionError::Replayed));
        let mut full = ReplayGuard::new(SKEW, 1);
        full.check(&a, T0).expect("first");
        let b = Assertion {
            nonce: [8; 16],
            ..a.clone()
        };
        assert_eq!(full.check(&b, T0), Err(AssertionError::Replayed), "full: fail closed");
        full.check(&b, T0.after(Duration::from_secs(31)))
            .expect("the old nonce has aged out");
    }

    #[test]
    fn a_nonce_is_remembered_to_the_end_of_its_window_and_forgotten_just_after() {
        let a = Assertion {
            nonce: [9; 16],
            ..assertion()
        };
        let mut guard = ReplayGuard::new(SKEW, 1_000);
        guard.check(&a, T0).expect("first");
        for n in 0..500u16 {
            let [hi, lo] = n.to_be_bytes();
            let mut nonce = [0; 16];
            nonce[..2].copy_from_slice(&[hi, lo]);
            let other = Assertion {
                nonce,
                at: T0.after(Duration::from_millis(u64::from(n))),
                ..a.clone()
            };
            guard.check(&other, other.at).expect("a fresh nonce");
        }
        assert_eq!(
            guard.check(&a, T0.after(SKEW)),
            Err(AssertionError::Replayed),
            "the window's last instant"
        );
        guard
            .check(&a, T0.after(SKEW).after(Duration::from_millis(1)))
            .expect("forgotten just after its window");
        assert_eq!(guard.seen.len(), guard.by_at.len());
        assert!(
            guard
                .seen
                .iter()
                .all(|(nonce, at)| guard.by_at.contains(&(*at, *nonce)))
        );
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let key = HubKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "HubKey(<redacted>)");
        assert_eq!(HubKey::from_hex(&key.to_hex()).map(|k| k.0), Ok([0xab; 32]));
        assert_eq!(HubKey::from_hex("zz").map(|_| ()), Err(AssertionError::Malformed));
    }
}
