//! Logging in, elevating, logging out: protocol-people's `Gate` behind HTTP. Every attempt
//! is in the hub's audit log before its token leaves; failures answer alike.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol_core::Owner;
use protocol_people::audit::{Actor, AuditEvent};
use protocol_people::gate::GateError;
use protocol_people::ops::Level;
use protocol_people::session::{AuthSession, SessionError, Token};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::HubState;
use crate::backoff::Failed;
use crate::checks::GatewayCheck;
use crate::http::audited::{Refusal, audited};
use crate::http::credentials::{Carrier, check_login_header, credential, is_unsafe};
use crate::http::{ApiError, json, parse_json, read_body};

/// The authenticated person of a response, for the access log.
#[derive(Debug, Clone)]
pub(crate) struct ActingUser(pub Owner);

/// An authenticated request.
#[derive(Debug)]
pub(crate) struct Authed {
    pub session: AuthSession,
    pub carrier: Carrier,
    pub token: Token,
}

impl HubState {
    /// Authenticates the request's token; for a state-changing request made with the session
    /// cookie, also checks the CSRF token.
    pub(crate) fn authenticate(&self, headers: &HeaderMap, method: &Method) -> Result<Authed, ApiError> {
        let (token, carrier) = credential(headers, self.settings.cookies)?.ok_or(ApiError::Unauthenticated)?;
        let session = self
            .sessions
            .lock()
            .map_err(|_| ApiError::Internal)?
            .authenticate(self.now(), &token, &self.audience)
            .map_err(|_| ApiError::Unauthenticated)?;
        if is_unsafe(method) && self.settings.defences.is_on(GatewayCheck::CsrfToken) {
            self.csrf.check(headers, carrier, session.id)?;
        }
        Ok(Authed {
            session,
            carrier,
            token,
        })
    }

    fn limit_login(&self, ip: IpAddr) -> Result<(), ApiError> {
        if !self.settings.defences.is_on(GatewayCheck::RateLimit) {
            return Ok(());
        }
        let mut l = self.logins.lock().map_err(|_| ApiError::Internal)?;
        l.check(self.now(), &ip).map_err(|limited| ApiError::RateLimited {
            retry_after_secs: limited.retry_after_secs(),
        })
    }
}

/// A response that names its acting user for the access log.
pub(crate) fn acting(mut r: Response, user: &Owner) -> Response {
    r.extensions_mut().insert(ActingUser(user.clone()));
    r
}

fn session_body(state: &HubState, s: &AuthSession, token: Option<&Token>) -> serde_json::Value {
    let mut body = serde_json::json!({
        "user": s.user,
        "level": s.level.name(),
        "session": s.id.0,
        "elevated_until": s.elevated_until.map(|m| m.0),
        "csrf": state.csrf.token_for(s.id),
    });
    if let Some(t) = token {
        body["token"] = serde_json::Value::String(t.to_wire().to_string());
    }
    body
}

/// The response for a freshly issued token: cookies, or the token in the body for bearer use.
fn issue(state: &HubState, s: &AuthSession, token: &Token, carrier: Carrier) -> Response {
    let mut r = json(
        StatusCode::OK,
        &session_body(state, s, (carrier == Carrier::Bearer).then_some(token)),
    );
    if carrier == Carrier::Cookie {
        let cookies = state.settings.cookies;
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&cookies.session_cookie(token)) {
            h.append(header::SET_COOKIE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&cookies.csrf_cookie(&state.csrf.token_for(s.id))) {
            h.append(header::SET_COOKIE, v);
        }
    }
    acting(r, &s.user)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
    #[serde(default)]
    bearer: bool,
}

pub(super) async fn login(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    if state.settings.defences.is_on(GatewayCheck::LoginHeader) {
        check_login_header(&headers)?;
    }
    let ip = peer.ip().to_canonical();
    state.limit_login(ip)?;
    let bytes = Zeroizing::new(read_body(body).await?.to_vec());
    let LoginBody { user, password, bearer } = parse_json(&bytes)?;
    let password = Zeroizing::new(password);
    let account = account_key(&user);
    let counted = state.begin_account_attempt(&account, ip)?;
    let result = check_and_finish_login(&state, ip, user, password).await?;
    state.count_login(&account, ip, &result, counted);
    // The gate recorded the login either way (unless its record is what failed).
    match result {
        Ok((token, session)) => {
            let carrier = if bearer { Carrier::Bearer } else { Carrier::Cookie };
            Ok(audited(issue(&state, &session, &token, carrier)))
        }
        Err(GateError::Audit(e)) => {
            state.log.line(&format!("audit write failed, login refused: {e}"));
            Err(ApiError::Internal.into())
        }
        Err(_) => Err(ApiError::LoginFailed.recorded()),
    }
}

/// The back-off key of a claimed account name (bounded, whatever was sent).
fn account_key(user: &str) -> String {
    user.chars().take(64).collect()
}

/// The two halves of a login around a password check on the pool, with no lock held while
/// the password is checked.
async fn check_and_finish_login(
    state: &Arc<HubState>,
    ip: IpAddr,
    user: String,
    password: Zeroizing<String>,
) -> Result<Result<(Token, AuthSession), GateError>, ApiError> {
    #[cfg(feature = "weaken")]
    if !state.settings.defences.is_on(GatewayCheck::PasswordPool) {
        return super::weakened::login_under_lock(state, ip, user, password).await;
    }
    let attempt = state
        .sessions
        .lock()
        .map_err(|_| ApiError::Internal)?
        .begin_login(&user);
    let checked = state
        .passwords
        .run(move |checker| attempt.check(checker, &password))
        .await
        .map_err(|_| ApiError::Busy)?;
    // Opening the session and the fsync of its record happen off the async workers.
    state
        .with_gate(ip, move |gate, now, hub| {
            gate.finish_login(now, checked, &hub.audience, &mut rand_core::OsRng)
        })
        .await
}

impl HubState {
    /// Refuses a login for an account that is backing off, unless it comes from an address
    /// the account has logged in from before; a login let through is counted as a failure
    /// at once (the returned count), so logins arriving while it is checked meet the wait
    /// it may have started. `None`: not counted yet (a known address, or the defence off).
    fn begin_account_attempt(&self, account: &str, ip: IpAddr) -> Result<Option<Failed>, ApiError> {
        if !self.settings.defences.is_on(GatewayCheck::AccountBackoff) {
            return Ok(None);
        }
        let account = account.to_owned();
        if self.known_sources.lock().is_ok_and(|k| k.contains(&account, ip)) {
            return Ok(None);
        }
        self.backoff_attempt(&self.account_backoff, &account).map(Some)
    }

    /// Lets a password check of `key` through `backoff` (counting it as a failure at once),
    /// or refuses it with the rest of the wait.
    fn backoff_attempt<K: Ord + Clone>(
        &self,
        backoff: &std::sync::Mutex<crate::backoff::Backoff<K>>,
        key: &K,
    ) -> Result<Failed, ApiError> {
        let mut backoff = backoff.lock().map_err(|_| ApiError::Internal)?;
        backoff.attempt(self.now(), key).map_err(|limited| {
            self.backoff_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::RateLimited {
                retry_after_secs: limited.retry_after_secs(),
            }
        })
    }

    /// A failed check's count: what letting it through already counted, or (for a check
    /// that was not counted then: a known address, or the defence off) the failure counted
    /// now; alerts, as `source`, when this failure started the back-off.
    fn count_failure<K: Ord + Clone>(
        &self,
        counted: Option<Failed>,
        backoff: &std::sync::Mutex<crate::backoff::Backoff<K>>,
        key: &K,
        source: impl FnOnce() -> String,
    ) {
        let failed = counted.or_else(|| backoff.lock().ok().map(|mut b| b.failure(self.now(), key)));
        if let Some(Failed::BackingOff {
            failures, first: true, ..
        }) = failed
            && self.settings.defences.is_on(GatewayCheck::AccountBackoff)
        {
            self.backoff_alert(source(), failures);
        }
    }

    /// Counts a login's outcome for its account's back-off (and alerts when it starts);
    /// `counted` is what [`HubState::begin_account_attempt`] already counted.
    fn count_login(
        &self,
        account: &str,
        ip: IpAddr,
        result: &Result<(Token, AuthSession), GateError>,
        counted: Option<Failed>,
    ) {
        let account = account.to_owned();
        match result {
            Ok(_) => {
                if let Ok(mut b) = self.account_backoff.lock() {
                    b.success(&account);
                }
                if let Ok(mut k) = self.known_sources.lock() {
                    k.insert(&account, ip);
                }
            }
            Err(GateError::Session(SessionError::BadCredentials | SessionError::UnknownUser { .. })) => {
                self.count_failure(counted, &self.account_backoff, &account, || {
                    format!("account:{account}")
                });
            }
            // A check that ended without a verdict stays counted: an attempt is an attempt.
            Err(_) => {}
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ElevateBody {
    password: String,
    level: String,
}

pub(super) async fn elevate(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let authed = state.authenticate(&headers, &Method::POST)?;
    let ip = peer.ip().to_canonical();
    state.limit_login(ip)?;
    let bytes = Zeroizing::new(read_body(body).await?.to_vec());
    let ElevateBody { password, level } = parse_json(&bytes)?;
    let password = Zeroizing::new(password);
    let to: Level = level.parse().map_err(|_| ApiError::BadRequest)?;
    let session = authed.session.id;
    // As for logins: counted as a failure when let through, cleared by a success.
    let counted = if state.settings.defences.is_on(GatewayCheck::AccountBackoff) {
        Some(state.backoff_attempt(&state.session_backoff, &session)?)
    } else {
        None
    };
    let result = check_and_finish_elevation(&state, ip, authed.token.clone(), to, password).await?;
    match &result {
        Ok(_) => {
            if let Ok(mut b) = state.session_backoff.lock() {
                b.success(&session);
            }
        }
        Err(GateError::Session(SessionError::ReauthFailed)) => {
            let user = &authed.session.user;
            state.count_failure(counted, &state.session_backoff, &session, || {
                format!("session:{}:{user}", session.0)
            });
        }
        Err(_) => {}
    }
    // The gate recorded the elevation either way (unless its record is what failed).
    match result {
        Ok((token, session)) => Ok(audited(issue(&state, &session, &token, authed.carrier))),
        Err(GateError::Session(SessionError::NotAnElevation { .. })) => Err(ApiError::BadRequest.recorded()),
        Err(GateError::Session(SessionError::ReauthFailed)) => Ok(audited(acting(
            ApiError::LoginFailed.into_response(),
            &authed.session.user,
        ))),
        Err(GateError::Audit(e)) => {
            state.log.line(&format!("audit write failed, elevation refused: {e}"));
            Err(ApiError::Internal.into())
        }
        Err(_) => Err(ApiError::Unauthenticated.recorded()),
    }
}

/// The two halves of an elevation around a password check on the pool.
async fn check_and_finish_elevation(
    state: &Arc<HubState>,
    ip: IpAddr,
    token: Token,
    to: Level,
    password: Zeroizing<String>,
) -> Result<Result<(Token, AuthSession), GateError>, ApiError> {
    #[cfg(feature = "weaken")]
    if !state.settings.defences.is_on(GatewayCheck::PasswordPool) {
        return super::weakened::elevate_under_lock(state, ip, token, to, password).await;
    }
    // A refusal here is recorded (an fsync), so off the async workers.
    let begun = state
        .with_gate(ip, move |gate, now, hub| {
            gate.begin_elevation(now, &token, &hub.audience, to)
        })
        .await?;
    let attempt = match begun {
        Ok(attempt) => attempt,
        Err(e) => return Ok(Err(e)),
    };
    let checked = state
        .passwords
        .run(move |checker| attempt.check(checker, &password))
        .await
        .map_err(|_| ApiError::Busy)?;
    state
        .with_gate(ip, move |gate, now, _| {
            gate.finish_elevation(now, checked, &mut rand_core::OsRng)
        })
        .await
}

pub(super) async fn logout(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let authed = state.authenticate(&headers, &Method::POST)?;
    let worker = Arc::clone(&state);
    let token = authed.token.clone();
    let user = authed.session.user.clone();
    tokio::task::spawn_blocking(move || {
        let session = worker
            .sessions
            .lock()
            .map_err(|_| ApiError::Internal)?
            .logout(&token)
            .map_err(|_| ApiError::Unauthenticated)?;
        worker.record(Actor::User(user), Some(peer.ip()), AuditEvent::Logout { session });
        Ok::<_, ApiError>(())
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    let mut r = json(StatusCode::OK, &serde_json::json!({ "result": "logged-out" }));
    for c in state.settings.cookies.clearing() {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(audited(acting(r, &authed.session.user)))
}

pub(super) async fn me(State(state): State<Arc<HubState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let authed = state.authenticate(&headers, &Method::GET)?;
    let r = json(StatusCode::OK, &session_body(&state, &authed.session, None));
    Ok(acting(r, &authed.session.user))
}
