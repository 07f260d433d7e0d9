//! The hub's request head: the request line and headers, as the hub's front door reads them
//! (`protocol_gateway::http::credentials`): the token-in-URL refusal, the session cookie and
//! `Authorization: Bearer` parsing, the session lookup, the CSRF double-submit check, and the
//! Origin / Fetch-Metadata and login-header checks.
//!
//! Input: `METHOD TARGET` on the first line, then `name: value` header lines (lines that are
//! not a valid header are skipped). The first byte picks TLS cookie names (`__Host-`) or not.
//! One session exists, opened at start-up with a fixed random source, so its token is known
//! (the seeds carry it).
//!
//! Checked: a URL with a run of 18 or more hex digits in its query, or a parameter named like
//! a credential, is refused; a credential is found only in the one session cookie or the one
//! bearer header and is exactly what was presented; two credentials are refused as
//! ambiguous; only the issued token authenticates; a cookie-carried session passes CSRF only
//! with its own token; a session cookie the hub sets reads back as the same token; the Origin
//! and login checks pass only what they document.
#![no_main]

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use libfuzzer_sys::fuzz_target;
use protocol_core::{Millis, Owner};
use protocol_gateway::http::ApiError;
use protocol_gateway::http::credentials::{
    CSRF_HEADER, Carrier, CookieSettings, CsrfKey, REQUESTED_WITH, REQUESTED_WITH_VALUE, check_login_header,
    check_origin, credential, is_unsafe, refuse_token_in_query,
};
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionId, SessionManager, UserDb, hash_password};
use rand_core::{CryptoRng, RngCore};

const OWN_ORIGIN: &str = "http://127.0.0.1:8000";
const T0: Millis = Millis(1_795_341_600_000);
/// The query parameter names the hub documents as credentials (`CREDENTIAL_PARAMS`).
const CREDENTIAL_PARAMS: [&str; 9] = [
    "token",
    "access_token",
    "id_token",
    "session",
    "tc_session",
    "__host-tc_session",
    "auth",
    "authorization",
    "bearer",
];

/// A fixed random source (splitmix64), so the session's token is the same in every run.
struct Fixed(u64);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let n = chunk.len();
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..n]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Fixed {}

struct Fixture {
    sessions: SessionManager,
    audience: Audience,
    token: String,
    session: SessionId,
    csrf: CsrfKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = Fixed(7);
        let params = HashParams::FAST_INSECURE;
        let mut users = UserDb::new();
        let phc = hash_password("correct horse", params, &mut rng).expect("hash");
        users
            .insert(Owner::new("jacintar").expect("valid"), &phc)
            .expect("user");
        let config = SessionConfig {
            hash_params: params,
            ..SessionConfig::default()
        };
        let mut sessions = SessionManager::new(users, config).expect("sessions");
        let audience = Audience::new("hub").expect("valid");
        let (token, auth) = sessions
            .login(T0, "jacintar", "correct horse", &audience, &mut rng)
            .expect("login");
        Fixture {
            sessions,
            audience,
            token: token.to_wire().to_string(),
            session: auth.id,
            csrf: CsrfKey::from_bytes([3; 32]),
        }
    })
}

fn has_hex_run(s: &str, n: usize) -> bool {
    let mut run = 0;
    s.bytes().any(|b| {
        run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
        run >= n
    })
}

fn check_url(target: &str) {
    let Ok(uri) = target.parse::<Uri>() else { return };
    let verdict = refuse_token_in_query(&uri);
    assert!(matches!(verdict, Ok(()) | Err(ApiError::TokenInUrl)));
    let Some(query) = uri.query() else {
        assert_eq!(verdict, Ok(()));
        return;
    };
    if verdict.is_ok() {
        // 18 raw hex digits stay at least 16 after percent-decoding (a `%` before them takes two).
        assert!(!has_hex_run(query, 18), "a token-like run in {query:?} got through");
        for pair in query.split(['&', ';']) {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            if !name.contains(['%', '+']) {
                let lowered = name.trim().to_ascii_lowercase();
                assert!(
                    !CREDENTIAL_PARAMS.contains(&lowered.as_str()),
                    "parameter {name:?} got through"
                );
            }
        }
    }
}

/// The values of cookie `name` over every Cookie header, as the hub splits them.
fn cookies<'a>(headers: &'a HeaderMap, name: &str) -> Option<Vec<&'a str>> {
    let mut found = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        for pair in value.to_str().ok()?.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                found.push(v);
            }
        }
    }
    Some(found)
}

fn check_credentials(headers: &HeaderMap, settings: CookieSettings) {
    let f = fixture();
    let got = credential(headers, settings);
    let bearers: Vec<&HeaderValue> = headers.get_all(header::AUTHORIZATION).iter().collect();
    let from_cookie = cookies(headers, settings.session_name());
    match &got {
        Ok(Some((token, carrier))) => {
            let wire = token.to_wire();
            match carrier {
                Carrier::Cookie => {
                    let values = from_cookie.expect("the cookie header was readable");
                    assert!(bearers.is_empty() && values.len() == 1);
                    assert!(
                        values[0].trim().eq_ignore_ascii_case(wire.as_str()),
                        "not the token presented"
                    );
                }
                Carrier::Bearer => {
                    assert!(bearers.len() == 1 && from_cookie.as_ref().is_none_or(Vec::is_empty));
                    let text = bearers[0].to_str().expect("a bearer header that parsed is text");
                    let (scheme, value) = text.split_once(' ').expect("scheme and value");
                    assert!(scheme.eq_ignore_ascii_case("bearer"));
                    assert!(
                        value.trim().eq_ignore_ascii_case(wire.as_str()),
                        "not the token presented"
                    );
                }
            }
            // The cookie the hub sets reads back as the same token.
            let set = settings.session_cookie(token);
            let pair = set.split(';').next().expect("name=value");
            let mut back = HeaderMap::new();
            back.insert(
                header::COOKIE,
                HeaderValue::from_str(pair).expect("a cookie is a header value"),
            );
            let again = credential(&back, settings)
                .expect("our own cookie parses")
                .expect("a token");
            assert_eq!(again.0.to_wire().as_str(), wire.as_str());
            assert_eq!(again.1, Carrier::Cookie);

            let mut sessions = f.sessions.clone();
            match sessions.authenticate(T0, token, &f.audience) {
                Ok(auth) => {
                    assert_eq!(wire.as_str(), f.token, "a token that was never issued authenticated");
                    assert_eq!(auth.id, f.session);
                    let csrf = f.csrf.check(headers, *carrier, auth.id);
                    if csrf.is_ok() && *carrier == Carrier::Cookie {
                        let presented = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
                        assert_eq!(
                            presented,
                            Some(f.csrf.token_for(auth.id).as_bytes()),
                            "CSRF let in a wrong token"
                        );
                    }
                }
                Err(_) => assert_ne!(wire.as_str(), f.token, "the issued token did not authenticate"),
            }
        }
        Ok(None) => {
            assert!(bearers.is_empty(), "a bearer header was ignored");
            assert!(
                from_cookie.is_some_and(|v| v.is_empty()),
                "a session cookie was ignored"
            );
        }
        Err(ApiError::AmbiguousCredentials) => {
            // (An unreadable Cookie header after two session cookies still reads as ambiguous.)
            let cookies = from_cookie.map_or(usize::MAX, |v| v.len());
            assert!(
                cookies.saturating_add(bearers.len()) >= 2,
                "refused as ambiguous with one credential"
            );
        }
        Err(ApiError::BadRequest) => assert!(from_cookie.is_none(), "a readable cookie header was refused"),
        Err(ApiError::Unauthenticated) => assert!(
            bearers.len() + from_cookie.map_or(0, |v| v.len()) == 1,
            "refused as malformed without exactly one credential"
        ),
        Err(e) => panic!("unexpected credential error {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let settings = CookieSettings { secure: flags & 1 != 0 };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let request = lines.next().unwrap_or_default();
    let (method, target) = request.split_once(' ').unwrap_or((request, "/"));
    if let Ok(method) = Method::from_bytes(method.as_bytes()) {
        assert_eq!(
            is_unsafe(&method),
            !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        );
    }
    check_url(target.trim());

    let mut headers = HeaderMap::new();
    for line in lines.take(32) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_bytes(value.trim_start().trim_end_matches('\r').as_bytes()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    check_credentials(&headers, settings);

    if check_origin(&headers, OWN_ORIGIN).is_ok() {
        assert!(
            headers
                .get(header::ORIGIN)
                .is_none_or(|o| o.as_bytes() == OWN_ORIGIN.as_bytes())
        );
        assert!(
            headers
                .get("sec-fetch-site")
                .is_none_or(|s| matches!(s.as_bytes(), b"same-origin" | b"none"))
        );
    }
    if check_login_header(&headers).is_ok() {
        assert_eq!(
            headers.get(REQUESTED_WITH).map(HeaderValue::as_bytes),
            Some(REQUESTED_WITH_VALUE.as_bytes())
        );
    }
});
