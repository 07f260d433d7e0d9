//! The hub's guard around every handler: refusals before it (blocked sources, credentials
//! in URLs, rates, a person's audit rate, cross-origin state changes), and after it the
//! access log line, the defender's counters and the audit record of a refusal no handler
//! recorded, so every refused attempt is in the hub's audit log exactly once.
//!
//! How refusals are recorded (bounded for the unauthenticated, one writer) is
//! [`crate::refusals`]'s.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use protocol_core::Owner;
use protocol_people::audit::AuditRecord;

use super::HubState;
use super::proxy::Relayed;
use crate::checks::GatewayCheck;
use crate::defender::{Signal, Source};
use crate::http::ApiError;
use crate::http::audited::is_audited;
use crate::http::credentials::{check_origin, is_unsafe, refuse_token_in_query};
use crate::refusals::{AuditLog, refused, route_of};

/// Before every handler: refuse blocked sources, credentials in URLs, excess rates and
/// cross-origin state changes. After it: the access log line and the defender's counters.
pub(super) async fn guard(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    // An IPv4 peer may arrive as `::ffff:a.b.c.d` on a dual-stack socket: one source, one key.
    let ip = peer.ip().to_canonical();
    let method = req.method().clone();
    let route = route_of(req.extensions());
    let on = |c| state.settings.defences.is_on(c);
    // The person behind the request, if its credential is valid (not marked used here).
    let peeked = state.peek_person(req.headers());
    let person = peeked.clone().filter(|_| on(GatewayCheck::AuditRateLimit));
    let mut audit_limited = false;
    let refusal = if on(GatewayCheck::SourceBlock) && state.defender.lock().is_ok_and(|d| d.is_blocked(state.now(), ip))
    {
        Some(ApiError::Blocked)
    } else if let (true, Err(e)) = (on(GatewayCheck::TokenInUrl), refuse_token_in_query(req.uri())) {
        Some(e)
    } else if let Err(limited) = state
        .requests
        .lock()
        .map_err(|_| crate::limits::Limited {
            retry_after: Duration::from_secs(1),
        })
        .and_then(|mut l| {
            if on(GatewayCheck::RateLimit) {
                l.check(state.now(), &ip)
            } else {
                Ok(())
            }
        })
    {
        Some(ApiError::RateLimited {
            retry_after_secs: limited.retry_after_secs(),
        })
    } else if let Some(limited) = person.as_ref().and_then(|p| state.refusals_exhausted(p)) {
        audit_limited = true;
        Some(limited)
    } else if is_unsafe(&method) && on(GatewayCheck::OriginCheck) {
        check_origin(req.headers(), state.origin()).err()
    } else {
        None
    };
    let response = match refusal {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    };
    let status = response.status().as_u16();
    // Exactly one record per attempt: a refusal nothing recorded yet is recorded here (one
    // refused for the person's audit rate is not: its alert counts it).
    if on(GatewayCheck::RefusalAudit) && status >= 400 && !is_audited(&response) && !audit_limited {
        let reason = match (
            response.extensions().get::<ApiError>(),
            response.extensions().get::<Relayed>(),
        ) {
            (Some(e), _) => e.to_string(),
            (None, Some(Relayed(code))) => code.clone(),
            (None, None) => status.to_string(),
        };
        state.record_refusal(peeked, ip, method.as_str(), &route, reason).await;
    }
    let user = response
        .extensions()
        .get::<super::auth::ActingUser>()
        .map_or_else(String::new, |u| format!(" user={}", u.0));
    state.access_line(&format!("{ip} {method} {route} {status}{user}"));
    let signal = match status {
        401 => Some(Signal::AuthFailure),
        403 | 404 if refusal != Some(ApiError::Blocked) => Some(Signal::Denial),
        429 => Some(Signal::RateLimited),
        _ => None,
    };
    if let Some(p) = &person
        && refusal.is_none()
        && is_refusal(status)
        && let Ok(mut r) = state.refusals.lock()
    {
        // Spent whatever the answer: the bucket only says whether the next one is recorded.
        let _ = r.check(state.now(), p);
    }
    // Counting is in memory; only an alert it raises costs an fsync, off the async workers
    // (a task per refused request, as this once spawned, made a flood of refusals a flood of
    // blocking threads).
    let mut alerts = Vec::new();
    if let Some(signal) = signal {
        alerts.extend(state.count(Source::Addr(ip), signal));
    }
    if let Some(user) = person.filter(|_| audit_limited) {
        alerts.extend(state.count(Source::User(user), Signal::AuditRateLimited));
    }
    if !alerts.is_empty() {
        let state = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || alerts.iter().for_each(|a| state.alert(a))).await;
    }
    response
}

/// A refusal that may have cost an audit record (everything 4xx but the limiter's own 429).
fn is_refusal(status: u16) -> bool {
    (400..500).contains(&status) && status != 429
}

impl HubState {
    /// The person a request's credential belongs to, without marking the session used.
    fn peek_person(&self, headers: &axum::http::HeaderMap) -> Option<Owner> {
        let (token, _) = crate::http::credentials::credential(headers, self.settings.cookies).ok()??;
        let sessions = self.sessions.lock().ok()?;
        sessions.peek(self.now(), &token, &self.audience).ok().map(|s| s.user)
    }

    /// `Some(429)` if `person` has used up their recorded refusals for now.
    fn refusals_exhausted(&self, person: &Owner) -> Option<ApiError> {
        let refusals = self.refusals.lock().ok()?;
        let limited = refusals.peek(self.now(), person).err()?;
        self.audit_limited.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(ApiError::RateLimited {
            retry_after_secs: limited.retry_after_secs(),
        })
    }

    /// Records a refusal no handler recorded: by the person if the credential was valid,
    /// else as unauthenticated (at the bounded rate), with the source address and the route
    /// template (never the raw path or query).
    async fn record_refusal(
        self: &Arc<Self>,
        person: Option<Owner>,
        ip: IpAddr,
        method: &str,
        route: &str,
        reason: String,
    ) {
        let event = refused(method, route, reason);
        self.refusal_log.record(self.now(), person, ip, event).await;
    }

    /// Records the count of unauthenticated refusals not recorded one by one, if any (the
    /// monitor calls this, so a flood that ends leaves its count in the log).
    pub(super) fn record_uncounted(&self) {
        if let Some(record) = self.refusal_log.take_uncounted(self.now()) {
            self.append(&record);
        }
    }
}

impl AuditLog for HubState {
    fn append(&self, record: &AuditRecord) -> bool {
        Self::append(self, record)
    }
}
