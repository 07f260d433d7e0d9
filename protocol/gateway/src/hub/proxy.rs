//! Proxying to owners' UI servers (spawned on demand) and the cross-owner scan (answered
//! from published state).
//!
//! Only validated values reach a UI server: the owner must be a configured owner, the
//! workflow name a valid workflow name, and the path is rebuilt from them; the request's
//! cookies and headers are not forwarded, only its body and the hub's signed assertion.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use protocol_core::{Owner, WorkflowId};
use protocol_people::audit::{AuditEvent, Outcome};
use protocol_people::ops::{Level, Operation};
use serde::Serialize;

use super::HubState;
use super::auth::{Authed, acting};
use crate::assertion;
use crate::http::audited::{AUDITED_HEADER, Refusal, audited};
use crate::http::client::{HttpError, HttpRequest, HttpResponse, send};
use crate::http::{ApiError, json, read_body, secure_headers};
use crate::rundir::{Status, discover};
use crate::spawner::{SpawnError, owner_in};

type PathRejection = axum::extract::rejection::PathRejection;

impl HubState {
    pub(super) fn known_owner(&self, requested: &str) -> Result<Owner, SpawnError> {
        #[cfg(feature = "weaken")]
        if let Some(any) = super::weakened::any_owner(self, requested) {
            return any;
        }
        owner_in(&self.owners, requested)
    }

    /// Whether `authed` may use the operator endpoints: a configured operator, elevated.
    pub(super) fn is_operator(&self, authed: &Authed) -> bool {
        self.operators.contains(&authed.session.user) && authed.session.level >= Level::Execute
    }

    /// Sends a request to `owner`'s UI server as `authed`, spawning it if needed; a server that
    /// stopped (idle) or does not answer is replaced and the request tried once more.
    pub(crate) async fn forward(
        &self,
        owner: &Owner,
        authed: &Authed,
        method: Method,
        path: String,
        body: Vec<u8>,
    ) -> Result<HttpResponse, ApiError> {
        let mut last = None;
        #[cfg(feature = "weaken")]
        let mut last_address = None;
        for _attempt in 0..2 {
            let target = self.uis.ensure(owner).await.map_err(|e| {
                self.log.line(&format!("cannot start {owner}'s UI server: {e}"));
                ApiError::Unavailable
            })?;
            let mut nonce = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
            let a = assertion::vouch(&authed.session, self.is_operator(authed), self.now(), nonce);
            #[cfg(feature = "weaken")]
            {
                last_address = Some(target.address);
            }
            let signed = assertion::sign(&target.key, &a, method.as_str(), &path, &body);
            let mut req = HttpRequest::new(method.clone(), path.clone()).header(assertion::HEADER, signed);
            if !body.is_empty() {
                req = req.json(body.clone());
            }
            match send(target.address, None, &req, self.settings.proxy_timeout).await {
                Ok(r) => return Ok(r),
                Err(e @ (HttpError::Connect(_) | HttpError::Protocol(_))) => {
                    self.log
                        .line(&format!("{owner}'s UI server did not answer ({e}); replacing it"));
                    self.uis.reset(owner, target.generation).await;
                    last = Some(e);
                }
                Err(e) => {
                    self.log.line(&format!("{owner}'s UI server: {e}"));
                    return Err(ApiError::Unavailable);
                }
            }
        }
        if let Some(e) = last {
            self.log.line(&format!("{owner}'s UI server is unavailable: {e}"));
            #[cfg(feature = "weaken")]
            if let Some(careless) = super::weakened::careless_unavailable(self, owner, last_address, &e) {
                return Ok(careless);
            }
        }
        Err(ApiError::Unavailable)
    }
}

/// A UI server's refusal code, as its body said it (for the hub's audit record of a refusal
/// the UI server did not record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Relayed(pub String);

/// The `error` of a UI server's uniform refusal body, if it is one of [`ApiError`]'s codes.
fn refusal_code(body: &[u8]) -> Option<String> {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("error")?
        .as_str()?
        .to_owned();
    let plain = !code.is_empty() && code.len() <= 32 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    plain.then_some(code)
}

/// Passes a UI server's answer on: its status and its (uniform, JSON) body, nothing else.
fn relay(r: &HttpResponse, user: &Owner) -> Response {
    let known = matches!(r.status, 200 | 204 | 400 | 403 | 404 | 409 | 413 | 429 | 503 | 504);
    let status = StatusCode::from_u16(r.status).ok().filter(|_| known);
    let Some(status) = status else {
        return acting(axum::response::IntoResponse::into_response(ApiError::Unavailable), user);
    };
    let mut out = Response::new(Body::from(r.body.clone()));
    *out.status_mut() = status;
    if !r.body.is_empty() {
        out.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    secure_headers(out.headers_mut());
    // The UI server recorded this attempt (its gate ran): the hub records nothing more.
    if r.headers.contains_key(AUDITED_HEADER) {
        out = audited(out);
    } else if r.status >= 400
        && let Some(code) = refusal_code(&r.body)
    {
        out.extensions_mut().insert(Relayed(code));
    }
    acting(out, user)
}

fn workflow(owner: &Owner, name: &str) -> Result<WorkflowId, ApiError> {
    WorkflowId::new(owner.as_str(), name).map_err(|_| ApiError::NotFound)
}

pub(super) async fn list(
    State(state): State<Arc<HubState>>,
    owner: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let authed = state.authenticate(&headers, &Method::GET)?;
    let Path(owner) = owner.map_err(|_| ApiError::NotFound)?;
    let owner = match state.known_owner(&owner) {
        Ok(o) => o,
        Err(SpawnError::UnknownOwner) => {
            // Exactly what an owner with nothing readable looks like: no account is revealed,
            // and nothing is spawned.
            let empty = serde_json::json!({ "owner": owner, "workflows": [] });
            return Ok(acting(json(StatusCode::OK, &empty), &authed.session.user));
        }
        Err(_) => return Err(ApiError::NotFound),
    };
    let r = state
        .forward(&owner, &authed, Method::GET, "/workflows".into(), Vec::new())
        .await?;
    Ok(relay(&r, &authed.session.user))
}

pub(super) async fn show(
    State(state): State<Arc<HubState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let authed = state.authenticate(&headers, &Method::GET)?;
    let Path((owner, name)) = path.map_err(|_| ApiError::NotFound)?;
    let owner = state.known_owner(&owner).map_err(|_| ApiError::NotFound)?;
    let id = workflow(&owner, &name)?;
    let r = state
        .forward(
            &owner,
            &authed,
            Method::GET,
            format!("/workflows/{}", id.name()),
            Vec::new(),
        )
        .await?;
    Ok(relay(&r, &authed.session.user))
}

#[derive(serde::Deserialize)]
struct LooseCommand {
    op: String,
}

pub(super) async fn command(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let body = read_body(body).await?.to_vec();
    let Path((owner, name)) = path.map_err(|_| ApiError::NotFound)?;
    let authed = match state.authenticate(&headers, &Method::POST) {
        Ok(a) => a,
        Err(e) => {
            // An unauthenticated attempt at an operation is recorded too (when it names one).
            let op = serde_json::from_slice::<LooseCommand>(&body)
                .ok()
                .and_then(|c| c.op.parse::<Operation>().ok());
            let id = state.known_owner(&owner).ok().and_then(|o| workflow(&o, &name).ok());
            if let (Some(op), Some(id), ApiError::Unauthenticated) = (op, id, e) {
                let event = AuditEvent::Operation {
                    op,
                    workflow: id,
                    target: None,
                    outcome: Outcome::Denied {
                        reason: "unauthenticated".into(),
                    },
                };
                // At the unauthenticated rate, counted past it, as any unauthenticated refusal.
                state.refusal_log.record(state.now(), None, peer.ip(), event).await;
                return Err(e.recorded());
            }
            return Err(e.into());
        }
    };
    let owner = state.known_owner(&owner).map_err(|_| ApiError::NotFound)?;
    let id = workflow(&owner, &name)?;
    let r = state
        .forward(&owner, &authed, Method::POST, format!("/workflows/{}", id.name()), body)
        .await?;
    Ok(relay(&r, &authed.session.user))
}

pub(super) async fn keepalive(
    State(state): State<Arc<HubState>>,
    owner: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let authed = state.authenticate(&headers, &Method::POST)?;
    let Path(owner) = owner.map_err(|_| ApiError::NotFound)?;
    let owner = match state.known_owner(&owner) {
        Ok(o) => o,
        Err(SpawnError::UnknownOwner) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            return Ok(acting(r, &authed.session.user));
        }
        Err(_) => return Err(ApiError::NotFound),
    };
    let r = state
        .forward(&owner, &authed, Method::POST, "/keepalive".into(), Vec::new())
        .await?;
    Ok(relay(&r, &authed.session.user))
}

/// One line of the scan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Scanned {
    owner: String,
    name: String,
    status: String,
}

/// Every workflow the person may read, across owners, from what the schedulers publish in
/// their run directories and the UI servers' own policy: no UI server is spawned or asked
/// (a scan once spawned every owner's), and someone with no rights gets exactly the answer
/// for "no workflows at all".
pub(super) async fn scan(State(state): State<Arc<HubState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let authed = state.authenticate(&headers, &Method::GET)?;
    let (user, level) = (authed.session.user.clone(), authed.session.level);
    let worker = Arc::clone(&state);
    // Reading run directories is blocking file work.
    let found = tokio::task::spawn_blocking(move || worker.scan_published(&user, level))
        .await
        .map_err(|_| ApiError::Internal)??;
    let r = json(StatusCode::OK, &serde_json::json!({ "workflows": found }));
    Ok(acting(r, &authed.session.user))
}

impl HubState {
    fn scan_published(&self, user: &Owner, level: Level) -> Result<Vec<Scanned>, ApiError> {
        let (Some(policy), Some(runs)) = (&self.scan, &self.runs) else {
            self.log.line("scan: no policy or run directories configured");
            return Err(ApiError::Unavailable);
        };
        let person = policy.groups.person(&user.into()).map_err(|e| {
            self.log.line(&format!("scan: group lookup failed: {e}"));
            ApiError::Unavailable
        })?;
        let authorizer = (policy.authorizer)();
        let mut found = Vec::new();
        for owner in &self.owners {
            for (id, run) in discover(runs, owner) {
                let readable = policy
                    .groups
                    .workflow(&id)
                    .is_ok_and(|w| authorizer.decide(&person, &w, Operation::Read, level).is_allowed());
                if readable {
                    found.push(Scanned {
                        owner: owner.to_string(),
                        name: id.name().to_owned(),
                        status: Status::of(&run).name().to_owned(),
                    });
                }
            }
        }
        found.sort();
        Ok(found)
    }
}
