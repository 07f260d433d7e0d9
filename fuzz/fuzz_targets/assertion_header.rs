//! The hub's signed assertion header (`x-threatcheck-assertion`), as a UI server checks it:
//! `protocol_gateway::assertion::verify` and the `ReplayGuard`.
//!
//! * Raw: the input is a header value, a method, a path and a body, separated by NUL bytes
//!   (seeded with headers signed with the fixed key). Whatever verifies must be fresh, must
//!   re-sign to a header that verifies to the same assertion, and is accepted by the replay
//!   guard once only.
//! * Structured: an assertion built from the input is signed for a request; it must verify
//!   for that request exactly when it is within the clock skew; the header altered in any
//!   byte, or the request's method, path or body changed, must not verify to anything else
//!   (an alteration may only ever be a different spelling of the same assertion: other
//!   whitespace, hex or level names in another case); the replay guard accepts each nonce
//!   once, forgets it only after the window, and refuses everything when full.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use protocol_core::{Millis, Owner};
use protocol_gateway::assertion::{Assertion, AssertionError, HubKey, ReplayGuard, sign, verify};
use protocol_people::ops::Level;

const T0: Millis = Millis(1_795_341_600_000);
const SKEW: Duration = Duration::from_secs(30);
const KEY: [u8; 32] = [1; 32];

fn key() -> HubKey {
    HubKey::from_bytes(KEY)
}

fn raw(data: &[u8]) {
    let mut parts = data.splitn(4, |&b| b == 0);
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let method = String::from_utf8_lossy(parts.next().unwrap_or(b"GET"));
    let path = String::from_utf8_lossy(parts.next().unwrap_or(b"/workflows"));
    let body = parts.next().unwrap_or_default();
    let Ok(a) = verify(&key(), &header, &method, &path, body, T0, SKEW) else {
        return;
    };
    assert!(T0.0.abs_diff(a.at.0) <= 30_000, "a stale assertion verified");
    let again = sign(&key(), &a, &method, &path, body);
    assert_eq!(verify(&key(), &again, &method, &path, body, T0, SKEW), Ok(a.clone()));
    let mut guard = ReplayGuard::new(SKEW, 16);
    assert_eq!(guard.check(&a, T0), Ok(()));
    assert_eq!(
        guard.check(&a, T0),
        Err(AssertionError::Replayed),
        "a nonce was accepted twice"
    );
}

#[derive(Arbitrary, Debug)]
enum RequestChange {
    Method(String),
    Path(String),
    Body(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Structured {
    user: u8,
    level: u8,
    session: u64,
    operator: bool,
    /// When the hub made it, relative to the UI server's clock.
    offset_ms: i32,
    nonce: [u8; 16],
    method: String,
    path: String,
    body: Vec<u8>,
    alter: Option<(u16, u8)>,
    request: Option<RequestChange>,
    /// Replay-guard steps: (nonce pick, ms later).
    replays: Vec<(u8, u16)>,
    capacity: u8,
}

fn structured(s: &Structured) {
    const USERS: [&str; 4] = ["jacintar", "oceans_stage", "a", "_x-1"];
    let a = Assertion {
        user: Owner::new(USERS[usize::from(s.user) % 4]).expect("valid"),
        level: Level::ALL[usize::from(s.level) % 3],
        session: s.session,
        operator: s.operator,
        at: Millis(T0.0.saturating_add_signed(i64::from(s.offset_ms))),
        nonce: s.nonce,
    };
    let header = sign(&key(), &a, &s.method, &s.path, &s.body);
    let fresh = T0.0.abs_diff(a.at.0) <= 30_000;
    let got = verify(&key(), &header, &s.method, &s.path, &s.body, T0, SKEW);
    if fresh {
        assert_eq!(got, Ok(a.clone()), "a fresh signed assertion did not verify");
    } else {
        assert_eq!(got, Err(AssertionError::Stale));
    }
    assert_eq!(
        verify(
            &HubKey::from_bytes([2; 32]),
            &header,
            &s.method,
            &s.path,
            &s.body,
            T0,
            SKEW
        ),
        Err(AssertionError::BadMac),
        "another key's check passed"
    );
    if let Some((at, mask)) = s.alter {
        let mut altered = header.clone().into_bytes();
        let i = usize::from(at) % altered.len();
        altered[i] ^= mask.max(1);
        let altered = String::from_utf8_lossy(&altered);
        if let Ok(b) = verify(&key(), &altered, &s.method, &s.path, &s.body, a.at, SKEW) {
            assert_eq!(b, a, "an altered header verified as another assertion: {altered:?}");
        }
    }
    if let Some(change) = &s.request {
        let (method, path, body): (&str, &str, &[u8]) = match change {
            RequestChange::Method(m) => (m, &s.path, &s.body),
            RequestChange::Path(p) => (&s.method, p, &s.body),
            RequestChange::Body(b) => (&s.method, &s.path, b),
        };
        if (method, path, body) != (s.method.as_str(), s.path.as_str(), s.body.as_slice()) {
            assert_eq!(
                verify(&key(), &header, method, path, body, a.at, SKEW),
                Err(AssertionError::BadMac),
                "the assertion verified for another request"
            );
        }
    }
    // The replay guard, fed assertions that differ only in nonce and time.
    let capacity = usize::from(s.capacity % 8) + 1;
    let mut guard = ReplayGuard::new(SKEW, capacity);
    let mut now = T0;
    let mut seen: Vec<([u8; 16], Millis)> = Vec::new();
    for &(pick, later) in s.replays.iter().take(32) {
        now = now.after(Duration::from_millis(u64::from(later)));
        let mut nonce = s.nonce;
        nonce[0] = pick % 4;
        let b = Assertion {
            nonce,
            at: now,
            ..a.clone()
        };
        seen.retain(|(_, at)| now <= at.after(SKEW));
        let known = seen.iter().any(|(n, _)| *n == nonce);
        let result = guard.check(&b, now);
        if known {
            assert_eq!(
                result,
                Err(AssertionError::Replayed),
                "a nonce seen within the window was accepted again"
            );
        } else if seen.len() >= capacity {
            assert_eq!(result, Err(AssertionError::Replayed), "a full guard accepted a nonce");
        } else {
            assert_eq!(result, Ok(()), "a new nonce was refused");
            seen.push((nonce, now));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        raw(rest);
    } else if let Ok(s) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
        structured(&s);
    }
});
