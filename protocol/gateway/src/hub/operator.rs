//! Defender controls (story S14): operators (configured accounts, with an elevated session)
//! see the counters and act at once — block or unblock a source, revoke a session (or every
//! session of a user), a job's key or a UI server's client key. Every action, and every
//! refused attempt at one, is in the hub's audit log before it takes effect. Also the monitor
//! that reads schedulers' rejection counters into the defender.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use protocol_core::{JobId, Owner, PublicKey};
use protocol_people::audit::{Actor, AuditEvent, DefenceAction, Outcome};
use protocol_people::session::SessionId;
use serde::Deserialize;

use super::HubState;
use super::auth::{Authed, acting};
use crate::defender::{Signal, Source};
use crate::http::audited::{Refusal, audited};
use crate::http::{ApiError, json, parse_json, read_body};
use crate::rundir::{Revocation, RunDir, discover};

impl HubState {
    /// Authenticates an operator; a refused attempt at `action` on `target` is recorded.
    async fn operator(
        self: &Arc<Self>,
        headers: &HeaderMap,
        method: &Method,
        attempt: Option<(DefenceAction, &str)>,
    ) -> Result<Authed, Refusal> {
        let authed = self.authenticate(headers, method)?;
        if self.is_operator(&authed) {
            return Ok(authed);
        }
        if let Some((action, target)) = attempt {
            let event = AuditEvent::Defence {
                action,
                target: target.to_owned(),
                outcome: Outcome::Denied {
                    reason: "not-an-operator".into(),
                },
            };
            if self
                .record_blocking(Actor::User(authed.session.user.clone()), event)
                .await
            {
                return Err(ApiError::Forbidden.recorded());
            }
        }
        Err(ApiError::Forbidden.into())
    }

    /// Records off the async workers; `false` if the record could not be made durable.
    async fn record_blocking(self: &Arc<Self>, actor: Actor, event: AuditEvent) -> bool {
        let worker = Arc::clone(self);
        tokio::task::spawn_blocking(move || worker.record(actor, None, event))
            .await
            .unwrap_or(false)
    }

    /// Records an allowed action before it is carried out.
    async fn record_action(
        self: &Arc<Self>,
        authed: &Authed,
        action: DefenceAction,
        target: &str,
    ) -> Result<(), ApiError> {
        let event = AuditEvent::Defence {
            action,
            target: target.to_owned(),
            outcome: Outcome::Allowed,
        };
        if self
            .record_blocking(Actor::User(authed.session.user.clone()), event)
            .await
        {
            Ok(())
        } else {
            Err(ApiError::Internal)
        }
    }
}

async fn body<T: serde::de::DeserializeOwned>(b: Body) -> Result<T, ApiError> {
    parse_json(&read_body(b).await?)
}

pub(super) async fn status(State(state): State<Arc<HubState>>, headers: HeaderMap) -> Result<Response, Refusal> {
    let authed = state.operator(&headers, &Method::GET, None).await?;
    let (counters, blocked, overflow) = {
        let d = state.defender.lock().map_err(|_| ApiError::Internal)?;
        (d.counters(), d.blocked(state.now()), d.overflow())
    };
    let sessions = state.sessions.lock().map_err(|_| ApiError::Internal)?.len();
    let body = serde_json::json!({
        "counters": counters,
        "blocked": blocked,
        "overflow": overflow,
        "sessions": sessions,
        "password_checks": state.passwords.checks(),
        "password_busy": state.passwords.refused(),
        "backoff_refused": state.backoff_refused.load(std::sync::atomic::Ordering::Relaxed),
        "connections": state.conn_stats.to_json(),
        "audit_rate_limited": state.audit_limited.load(std::sync::atomic::Ordering::Relaxed),
        "uiservers": state.uis.status().await,
    });
    Ok(acting(json(StatusCode::OK, &body), &authed.session.user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceBody {
    source: String,
}

async fn set_block(state: Arc<HubState>, headers: HeaderMap, b: Body, block: bool) -> Result<Response, Refusal> {
    let SourceBody { source } = body(b).await?;
    let action = if block {
        DefenceAction::BlockSource
    } else {
        DefenceAction::UnblockSource
    };
    let authed = state.operator(&headers, &Method::POST, Some((action, &source))).await?;
    let ip: IpAddr = source.parse().map_err(|_| ApiError::BadRequest)?;
    state.record_action(&authed, action, &ip.to_string()).await?;
    let changed = {
        let mut d = state.defender.lock().map_err(|_| ApiError::Internal)?;
        if block { d.block(ip) } else { d.unblock(ip) }
    };
    state
        .log
        .line(&format!("{} {} {ip}", authed.session.user, action.past_tense()));
    let r = json(
        StatusCode::OK,
        &serde_json::json!({ "source": ip.to_string(), "blocked": block, "changed": changed }),
    );
    Ok(audited(acting(r, &authed.session.user)))
}

pub(super) async fn block(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    b: Body,
) -> Result<Response, Refusal> {
    set_block(state, headers, b, true).await
}

pub(super) async fn unblock(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    b: Body,
) -> Result<Response, Refusal> {
    set_block(state, headers, b, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeSessionBody {
    session: Option<u64>,
    user: Option<String>,
}

pub(super) async fn revoke_session(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    b: Body,
) -> Result<Response, Refusal> {
    let req: RevokeSessionBody = body(b).await?;
    let shown = match (&req.session, &req.user) {
        (Some(s), None) => format!("s{s}"),
        (None, Some(u)) => u.clone(),
        _ => return Err(ApiError::BadRequest.into()),
    };
    // A refused attempt is recorded as what it asked: one session, or every session of a user.
    let asked = if req.session.is_some() {
        DefenceAction::RevokeSession
    } else {
        DefenceAction::RevokeUserSessions
    };
    let authed = state.operator(&headers, &Method::POST, Some((asked, &shown))).await?;
    let revoked = if let Some(s) = req.session {
        let id = SessionId(s);
        let worker = Arc::clone(&state);
        let user = authed.session.user.clone();
        tokio::task::spawn_blocking(move || {
            // The revocation is recorded first; a record that cannot be made means no effect.
            if !worker.record(Actor::User(user), None, AuditEvent::Revocation { session: id }) {
                return Err(ApiError::Internal);
            }
            let mut sessions = worker.sessions.lock().map_err(|_| ApiError::Internal)?;
            Ok(usize::from(sessions.revoke(id).is_ok()))
        })
        .await
        .map_err(|_| ApiError::Internal)??
    } else {
        let user = Owner::new(&shown).map_err(|_| ApiError::BadRequest)?;
        state.record_action(&authed, asked, user.as_str()).await?;
        state
            .sessions
            .lock()
            .map_err(|_| ApiError::Internal)?
            .revoke_user(&user)
    };
    state.log.line(&format!(
        "{} revoked {revoked} session(s) ({shown})",
        authed.session.user
    ));
    let r = json(StatusCode::OK, &serde_json::json!({ "revoked": revoked }));
    Ok(audited(acting(r, &authed.session.user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeJobBody {
    job: String,
}

pub(super) async fn revoke_job(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    b: Body,
) -> Result<Response, Refusal> {
    let RevokeJobBody { job } = body(b).await?;
    let authed = state
        .operator(&headers, &Method::POST, Some((DefenceAction::RevokeJobKey, &job)))
        .await?;
    let job: JobId = job.parse().map_err(|_| ApiError::BadRequest)?;
    let runs = state.runs.as_ref().ok_or(ApiError::NotFound)?;
    if !state.owners.contains(job.workflow().owner()) {
        return Err(ApiError::NotFound.into());
    }
    let run = RunDir::of(runs, job.workflow());
    if !matches!(run.read_contact(), Ok(Some(_))) {
        return Err(ApiError::NotFound.into());
    }
    state
        .record_action(&authed, DefenceAction::RevokeJobKey, &job.to_string())
        .await?;
    let revoked = request(&state, &run, &Revocation::Job(job.clone())).await?;
    state
        .log
        .line(&format!("{} revoked the key of {job}: {revoked}", authed.session.user));
    let r = json(
        StatusCode::OK,
        &serde_json::json!({ "job": job.to_string(), "revoked": revoked }),
    );
    Ok(audited(acting(r, &authed.session.user)))
}

async fn request(state: &HubState, run: &RunDir, r: &Revocation) -> Result<bool, ApiError> {
    let id = run.request_revocation(r).map_err(|e| {
        state.log.line(&format!("cannot request a revocation: {e}"));
        ApiError::Internal
    })?;
    run.await_revocation(&id, state.settings.revoke_timeout)
        .await
        .map_err(|e| {
            state.log.line(&format!("revocation not confirmed: {e}"));
            ApiError::Unconfirmed
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeClientBody {
    owner: String,
    key: Option<String>,
}

/// Revokes the owner's current UI server key (or the given one) at every scheduler of the
/// owner, and stops the current UI server; the next request spawns one with a fresh key.
pub(super) async fn revoke_client(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    b: Body,
) -> Result<Response, Refusal> {
    let RevokeClientBody { owner, key } = body(b).await?;
    let shown = key.clone().unwrap_or_else(|| format!("of {owner}'s UI server"));
    let authed = state
        .operator(&headers, &Method::POST, Some((DefenceAction::RevokeClientKey, &shown)))
        .await?;
    let owner = state.known_owner(&owner).map_err(|_| ApiError::NotFound)?;
    let given = match key {
        Some(k) => Some(PublicKey::from_hex(&k).map_err(|_| ApiError::BadRequest)?),
        None => None,
    };
    let runs = state.runs.clone().ok_or(ApiError::NotFound)?;
    let current = state
        .uis
        .status()
        .await
        .into_iter()
        .find(|u| u.owner == owner)
        .and_then(|u| u.client_key)
        .and_then(|k| PublicKey::from_hex(&k).ok());
    let key = given.or(current).ok_or(ApiError::NotFound)?;
    state
        .record_action(&authed, DefenceAction::RevokeClientKey, &key.to_hex())
        .await?;
    if current == Some(key) {
        state.uis.stop_owner(&owner).await;
    }
    let mut revoked = 0usize;
    for (_, run) in discover(&runs, &owner) {
        if matches!(run.read_contact(), Ok(Some(_))) && request(&state, &run, &Revocation::Client(key)).await? {
            revoked += 1;
        }
    }
    state.log.line(&format!(
        "{} revoked client key {} at {revoked} scheduler(s)",
        authed.session.user,
        key.to_hex()
    ));
    let r = json(
        StatusCode::OK,
        &serde_json::json!({ "key": key.to_hex(), "schedulers": revoked }),
    );
    Ok(audited(acting(r, &authed.session.user)))
}

/// Reads every scheduler's rejection counter into the defender, raising alerts; and drops
/// sessions that can never be used again, so logins do not accumulate.
pub(super) async fn monitor(state: Arc<HubState>) {
    loop {
        tokio::time::sleep(state.settings.monitor_interval).await;
        let worker = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(mut sessions) = worker.sessions.lock() {
                sessions.purge(worker.now());
            }
            worker.record_uncounted();
            let Some(runs) = worker.runs.clone() else { return };
            for owner in &worker.owners {
                for (id, run) in discover(&runs, owner) {
                    let Ok(Some(published)) = run.read_state() else {
                        continue;
                    };
                    let alert = worker.defender.lock().ok().and_then(|mut d| {
                        d.observe_total(
                            worker.now(),
                            Source::Workflow(id),
                            Signal::RejectedJobMessage,
                            published.rejected,
                        )
                    });
                    if let Some(alert) = alert {
                        worker.alert(&alert);
                    }
                }
            }
        })
        .await;
    }
}
