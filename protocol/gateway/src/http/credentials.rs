//! Where session tokens may travel, and the CSRF defence, sans-IO over request headers.
//!
//! **Tokens** travel only in the session cookie (`tc_session`, or `__Host-tc_session` with
//! TLS: `HttpOnly; SameSite=Strict; Path=/`, plus `Secure`) or in `Authorization: Bearer`.
//! A request with a credential-looking query parameter (`token`, `access_token`, `session`,
//! …) is refused outright, and nothing but the route template is ever logged. Presenting a
//! cookie and a bearer token at once is refused as ambiguous.
//!
//! **CSRF** (every request other than GET/HEAD/OPTIONS):
//! 1. *Origin*: if the browser sends `Origin`, it must be the hub's own origin; if it sends
//!    `Sec-Fetch-Site`, it must be `same-origin` or `none`.
//! 2. *Cookie sessions*: a per-session double-submit token. The hub derives
//!    `csrf = HMAC-SHA256(csrf_key, "threatcheck-csrf-v1\0" ‖ session id)`, hands it out in
//!    the login and elevation responses and in the readable `tc_csrf` cookie, and requires
//!    the request header `X-CSRF-Token` to equal it (constant-time). Another site can neither
//!    read the cookie nor set the header; a token planted by cookie tossing belongs to no
//!    session of the victim's.
//! 3. *Bearer tokens* are not sent by browsers on their own, so they need no CSRF token.
//! 4. *Login* (no session yet) must carry `X-Requested-With: threatcheck`: a cross-site form
//!    cannot set a custom header, and the hub never answers CORS preflights.
//!
//! `SameSite=Strict` cookies are a further layer: a cross-site request carries no cookie.

use axum::http::{HeaderMap, Method, Uri, header};
use hmac::{Hmac, Mac};
use protocol_people::session::{SessionId, Token};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ApiError;

/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The header a login must carry.
pub const REQUESTED_WITH: &str = "x-requested-with";
/// Its value.
pub const REQUESTED_WITH_VALUE: &str = "threatcheck";

/// Query parameter names refused because they look like credentials.
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

/// Cookie settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CookieSettings {
    /// Served over TLS: cookies get `Secure` and the `__Host-` prefix.
    pub secure: bool,
}

impl CookieSettings {
    /// The session cookie's name.
    #[must_use]
    pub const fn session_name(self) -> &'static str {
        if self.secure { "__Host-tc_session" } else { "tc_session" }
    }

    /// The CSRF cookie's name.
    #[must_use]
    pub const fn csrf_name(self) -> &'static str {
        if self.secure { "__Host-tc_csrf" } else { "tc_csrf" }
    }

    fn attributes(self, http_only: bool) -> String {
        let mut a = String::from("; Path=/; SameSite=Strict");
        if http_only {
            a.push_str("; HttpOnly");
        }
        if self.secure {
            a.push_str("; Secure");
        }
        a
    }

    /// `Set-Cookie` for a session token. Zeroised when dropped.
    #[must_use]
    pub fn session_cookie(self, token: &Token) -> Zeroizing<String> {
        let wire = token.to_wire();
        Zeroizing::new(format!(
            "{}={}{}",
            self.session_name(),
            wire.as_str(),
            self.attributes(true)
        ))
    }

    /// `Set-Cookie` for the CSRF token (readable by the page's script, by design).
    #[must_use]
    pub fn csrf_cookie(self, csrf: &str) -> String {
        format!("{}={csrf}{}", self.csrf_name(), self.attributes(false))
    }

    /// `Set-Cookie` values that delete both cookies.
    #[must_use]
    pub fn clearing(self) -> [String; 2] {
        [
            format!("{}=; Max-Age=0{}", self.session_name(), self.attributes(true)),
            format!("{}=; Max-Age=0{}", self.csrf_name(), self.attributes(false)),
        ]
    }
}

/// How a token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    /// In the session cookie: CSRF-able, so state changes need the CSRF token.
    Cookie,
    /// In `Authorization: Bearer`.
    Bearer,
}

/// The value of cookie `name` in the request, if exactly one is present.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let text = value.to_str().map_err(|_| ApiError::BadRequest)?;
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    return Err(ApiError::AmbiguousCredentials);
                }
                found = Some(v);
            }
        }
    }
    Ok(found)
}

/// The token the request presents, and how.
///
/// # Errors
/// [`ApiError::AmbiguousCredentials`] for two credentials, [`ApiError::Unauthenticated`] for
/// a malformed one.
pub fn credential(headers: &HeaderMap, cookies: CookieSettings) -> Result<Option<(Token, Carrier)>, ApiError> {
    let from_cookie = cookie(headers, cookies.session_name())?;
    let mut bearers = headers.get_all(header::AUTHORIZATION).iter();
    let from_header = bearers.next();
    if bearers.next().is_some() {
        return Err(ApiError::AmbiguousCredentials);
    }
    match (from_cookie, from_header) {
        (Some(_), Some(_)) => Err(ApiError::AmbiguousCredentials),
        (Some(c), None) => Token::from_wire(c)
            .map(|t| Some((t, Carrier::Cookie)))
            .map_err(|_| ApiError::Unauthenticated),
        (None, Some(h)) => {
            let text = Zeroizing::new(h.to_str().map_err(|_| ApiError::Unauthenticated)?.to_owned());
            let (scheme, value) = text.split_once(' ').ok_or(ApiError::Unauthenticated)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(ApiError::Unauthenticated);
            }
            Token::from_wire(value.trim())
                .map(|t| Some((t, Carrier::Bearer)))
                .map_err(|_| ApiError::Unauthenticated)
        }
        (None, None) => Ok(None),
    }
}

/// Refuses a URL carrying a credential-looking query parameter, or anything that may hold a
/// token or pieces of one: [`TOKENISH_RUN`] or more hex digits in the query's names and
/// values together, however they are split. Names and values are percent-decoded first, and
/// both `&` and `;` separate parameters, so neither `%74oken=`, an encoded token,
/// `x=1;token=…` nor a token split over any number of parameters gets through. (No route of
/// the hub or a UI server takes a query parameter, so the rule costs no legitimate request.)
///
/// # Errors
/// [`ApiError::TokenInUrl`].
pub fn refuse_token_in_query(uri: &Uri) -> Result<(), ApiError> {
    let Some(query) = uri.query() else { return Ok(()) };
    let mut hex_digits = 0usize;
    for pair in query.split(['&', ';']) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name), percent_decode(value));
        let lowered = String::from_utf8_lossy(&name).trim().to_ascii_lowercase();
        hex_digits += name.iter().chain(&value).filter(|b| b.is_ascii_hexdigit()).count();
        if CREDENTIAL_PARAMS.contains(&lowered.as_str()) || hex_digits >= TOKENISH_RUN {
            return Err(ApiError::TokenInUrl);
        }
    }
    Ok(())
}

/// The fewest hex digits in a query taken for a token or pieces of one (a token is 64; a
/// quarter of one is refused, however it is split into parameters).
pub const TOKENISH_RUN: usize = 16;

/// `%XX` decoded (and `+` as a space); a `%` not followed by two hex digits is kept as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Whether a method changes state (everything but GET, HEAD and OPTIONS).
#[must_use]
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The Origin and Fetch-Metadata check for a state-changing request.
///
/// # Errors
/// [`ApiError::Csrf`].
pub fn check_origin(headers: &HeaderMap, own_origin: &str) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.as_bytes() != own_origin.as_bytes()
    {
        return Err(ApiError::Csrf);
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(ApiError::Csrf);
    }
    Ok(())
}

/// The custom-header check for a login.
///
/// # Errors
/// [`ApiError::Csrf`].
pub fn check_login_header(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(REQUESTED_WITH) {
        Some(v) if v.as_bytes() == REQUESTED_WITH_VALUE.as_bytes() => Ok(()),
        _ => Err(ApiError::Csrf),
    }
}

/// The key CSRF tokens are derived with (per hub process). Zeroised on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
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

    /// The CSRF token of a session.
    #[must_use]
    pub fn token_for(&self, session: SessionId) -> String {
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            return String::new();
        };
        m.update(b"threatcheck-csrf-v1\0");
        m.update(&session.0.to_be_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// The double-submit check for a state-changing request made with a session cookie.
    ///
    /// # Errors
    /// [`ApiError::Csrf`].
    pub fn check(&self, headers: &HeaderMap, carrier: Carrier, session: SessionId) -> Result<(), ApiError> {
        if carrier == Carrier::Bearer {
            return Ok(());
        }
        let expected = self.token_for(session);
        let presented = headers.get(CSRF_HEADER).ok_or(ApiError::Csrf)?;
        if expected.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(ApiError::Csrf);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn token_hex() -> String {
        "ab".repeat(32)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_under_tls() {
        let token = Token::from_wire(&token_hex()).expect("token");
        let plain = CookieSettings { secure: false }.session_cookie(&token);
        assert_eq!(
            plain.as_str(),
            format!("tc_session={}; Path=/; SameSite=Strict; HttpOnly", token_hex())
        );
        let tls = CookieSettings { secure: true }.session_cookie(&token);
        assert!(tls.starts_with("__Host-tc_session="));
        assert!(tls.ends_with("; Path=/; SameSite=Strict; HttpOnly; Secure"));
        let csrf = CookieSettings { secure: false }.csrf_cookie("c5");
        assert_eq!(csrf, "tc_csrf=c5; Path=/; SameSite=Strict");
        let [a, b] = CookieSettings::default().clearing();
        assert!(a.starts_with("tc_session=; Max-Age=0") && b.starts_with("tc_csrf=; Max-Age=0"));
    }

    #[test]
    fn a_token_comes_from_the_cookie_or_a_bearer_header_never_both() {
        let c = CookieSettings::default();
        let cookie = format!("other=1; tc_session={}", token_hex());
        let bearer = format!("Bearer {}", token_hex());
        let got = credential(&headers(&[("cookie", &cookie)]), c)
            .expect("ok")
            .map(|(_, k)| k);
        assert_eq!(got, Some(Carrier::Cookie));
        let got = credential(&headers(&[("authorization", &bearer)]), c)
            .expect("ok")
            .map(|(_, k)| k);
        assert_eq!(got, Some(Carrier::Bearer));
        assert_eq!(credential(&HeaderMap::new(), c).map(|t| t.is_none()), Ok(true));
        assert_eq!(
            credential(&headers(&[("cookie", &cookie), ("authorization", &bearer)]), c).map(|_| ()),
            Err(ApiError::AmbiguousCredentials)
        );
        let twice = format!("tc_session={0}; tc_session={0}", token_hex());
        assert_eq!(
            credential(&headers(&[("cookie", &twice)]), c).map(|_| ()),
            Err(ApiError::AmbiguousCredentials)
        );
        for bad in ["Basic abc", "Bearer nothex", "Bearer"] {
            assert_eq!(
                credential(&headers(&[("authorization", bad)]), c).map(|_| ()),
                Err(ApiError::Unauthenticated),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_in_query_strings_are_refused() {
        for uri in [
            format!("/scan?token={}", token_hex()),
            "/scan?access_token=x".to_owned(),
            "/scan?TC_SESSION=x".to_owned(),
            format!("/o/a/workflows?x={}", token_hex()),
        ] {
            let u: Uri = uri.parse().expect("uri");
            assert_eq!(refuse_token_in_query(&u), Err(ApiError::TokenInUrl), "{uri}");
        }
        for fine in ["/scan?verbose=1&page=2", "/scan?cycle=20260101T0000Z"] {
            let u: Uri = fine.parse().expect("uri");
            assert_eq!(refuse_token_in_query(&u), Ok(()), "{fine}");
        }
        let t = token_hex();
        let encoded: String = t.bytes().map(|b| format!("%{b:02x}")).collect();
        for bypass in [
            format!("/scan?%74oken={t}"),
            format!("/scan?x={encoded}"),
            format!("/scan?verbose=1;token={t}"),
            format!("/scan?a={}&b={}", &t[..32], &t[32..]),
            format!("/scan?a={}&b={}&c={}&d={}", &t[..16], &t[16..32], &t[32..48], &t[48..]),
            // Split finer than any run a per-parameter rule would catch, and over names too.
            t.as_bytes()
                .chunks(4)
                .enumerate()
                .map(|(i, c)| format!("p{i}={}", String::from_utf8_lossy(c)))
                .fold("/scan?".to_owned(), |q, p| {
                    if q.ends_with('?') { q + &p } else { q + "&" + &p }
                }),
            format!("/scan?{}={}", &t[..8], &t[8..16]),
            format!("/scan?a={}-{}", &t[..8], &t[8..16]),
            format!("/scan?TOKEN%20={t}"),
        ] {
            let u: Uri = bypass.parse().expect("uri");
            assert_eq!(refuse_token_in_query(&u), Err(ApiError::TokenInUrl), "{bypass}");
        }
    }

    #[test]
    fn origins_and_fetch_metadata_are_checked() {
        let own = "http://127.0.0.1:8000";
        assert_eq!(check_origin(&HeaderMap::new(), own), Ok(()));
        assert_eq!(check_origin(&headers(&[("origin", own)]), own), Ok(()));
        assert_eq!(
            check_origin(&headers(&[("origin", "http://evil.example")]), own),
            Err(ApiError::Csrf)
        );
        assert_eq!(
            check_origin(&headers(&[("sec-fetch-site", "cross-site")]), own),
            Err(ApiError::Csrf)
        );
        assert_eq!(
            check_origin(&headers(&[("sec-fetch-site", "same-origin")]), own),
            Ok(())
        );
        assert_eq!(check_login_header(&HeaderMap::new()), Err(ApiError::Csrf));
        assert_eq!(
            check_login_header(&headers(&[("x-requested-with", "threatcheck")])),
            Ok(())
        );
    }

    #[test]
    fn the_double_submit_token_is_bound_to_the_session() {
        let key = CsrfKey::from_bytes([3; 32]);
        let s1 = SessionId(1);
        let t1 = key.token_for(s1);
        assert_eq!(t1.len(), 64);
        assert_ne!(t1, key.token_for(SessionId(2)));
        assert_ne!(t1, CsrfKey::from_bytes([4; 32]).token_for(s1));
        assert_eq!(
            key.check(&headers(&[("x-csrf-token", &t1)]), Carrier::Cookie, s1),
            Ok(())
        );
        assert_eq!(key.check(&HeaderMap::new(), Carrier::Cookie, s1), Err(ApiError::Csrf));
        let other = key.token_for(SessionId(2));
        assert_eq!(
            key.check(&headers(&[("x-csrf-token", &other)]), Carrier::Cookie, s1),
            Err(ApiError::Csrf),
            "another session's token does not do"
        );
        assert_eq!(key.check(&HeaderMap::new(), Carrier::Bearer, s1), Ok(()));
        assert!(is_unsafe(&Method::POST) && !is_unsafe(&Method::GET));
        assert_eq!(format!("{key:?}"), "CsrfKey(<redacted>)");
    }
}
