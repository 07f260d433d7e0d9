//! The UI server's routes and its assertion check.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol_core::time::Millis;
use protocol_core::wire::CommandOp;
use protocol_core::{Owner, WorkflowId};
use protocol_people::audit::{Actor, AuditEvent, AuditRecord, CommandVerdict};
use protocol_people::gate::{GateError, Vouched, authorize_vouched};
use protocol_people::groups::Person;
use protocol_people::ops::{Level, Operation};
use serde::{Deserialize, Serialize};

use super::UiState;
use crate::assertion::{self, Assertion};
use crate::http::audited::{AUDITED_HEADER, Refusal, audited, is_audited};
use crate::http::{ApiError, json, parse_json, read_body};
use crate::refusals::{refused, route_of};
use crate::rundir::{RunDir, Status};
use crate::schedclient::{CommandOutcome, LinkError, valid_target};

pub(super) fn router(state: Arc<UiState>) -> Router {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/{*name}", get(show).post(command))
        .route("/keepalive", post(keepalive))
        .fallback(crate::http::not_found)
        .method_not_allowed_fallback(crate::http::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state)
}

/// Ends a request's activity even if the handler is cancelled.
struct InFlight(Arc<UiState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.clock.now();
        if let Ok(mut t) = self.0.idle.lock() {
            t.end(now);
        }
    }
}

/// Lets through only requests bearing a valid, fresh, unreplayed assertion from the hub, and
/// counts only those as activity (anyone on the host can reach the port: an unauthenticated
/// request must not keep the server alive); the [`Assertion`] travels on as a request
/// extension.
async fn guard(
    State(state): State<Arc<UiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let now = state.clock.now();
    let (mut parts, body) = req.into_parts();
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return refuse(&state, now, peer, &parts, e).await,
    };
    let header = parts
        .headers
        .get(assertion::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let verified = state
        .replay
        .lock()
        .map_err(|_| assertion::AssertionError::Replayed)
        .and_then(|mut guard| {
            assertion::admit(
                &state.hub_key,
                &mut guard,
                header,
                (parts.method.as_str(), path, &bytes),
                now,
                state.settings.max_skew,
                &state.settings.defences,
            )
        });
    let a = match verified {
        Ok(a) => a,
        Err(e) => {
            state.log.line(&format!("refused a request: {e}"));
            return refuse(&state, now, peer, &parts, ApiError::Unauthenticated).await;
        }
    };
    parts.extensions.insert(a);
    if let Ok(mut t) = state.idle.lock() {
        t.begin(now);
    }
    let _in_flight = InFlight(Arc::clone(&state));
    let mut response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if is_audited(&response) {
        response
            .headers_mut()
            .insert(AUDITED_HEADER, axum::http::HeaderValue::from_static("1"));
    }
    response
}

/// Answers a request the guard refuses, once this server has recorded it (the hub's own
/// requests never meet a refusal here).
async fn refuse(state: &UiState, now: Millis, peer: SocketAddr, parts: &Parts, e: ApiError) -> Response {
    let event = refused(parts.method.as_str(), &route_of(&parts.extensions), e.to_string());
    state.refusal_log.record(now, None, peer.ip(), event).await;
    e.into_response()
}

fn assertion_of(req_ext: &axum::http::Extensions) -> Result<Assertion, ApiError> {
    req_ext.get::<Assertion>().cloned().ok_or(ApiError::Unauthenticated)
}

impl UiState {
    fn person(&self, user: &Owner) -> Result<Person, ApiError> {
        self.groups.person(&user.into()).map_err(|e| {
            self.log.line(&format!("group lookup failed: {e}"));
            ApiError::Unavailable
        })
    }

    fn may(&self, person: &Person, id: &WorkflowId, op: Operation, level: Level) -> bool {
        self.groups
            .workflow(id)
            .is_ok_and(|w| self.authorizer.decide(person, &w, op, level).is_allowed())
    }

    fn permitted(&self, person: &Person, id: &WorkflowId, level: Level) -> Vec<&'static str> {
        self.groups.workflow(id).map_or_else(
            |_| Vec::new(),
            |w| {
                self.authorizer
                    .permitted_ops(person, &w, level)
                    .into_iter()
                    .map(Operation::name)
                    .collect()
            },
        )
    }

    fn find(&self, id: &WorkflowId) -> Option<RunDir> {
        self.workflows().into_iter().find(|(w, _)| w == id).map(|(_, r)| r)
    }

    /// Records what the scheduler made of an operation record `allowed` let through (after
    /// its answer; the effect, if any, has happened, so a failing log is reported, not
    /// answered).
    async fn record_verdict(
        self: &Arc<Self>,
        user: Owner,
        id: &WorkflowId,
        op: Operation,
        target: String,
        allowed: u64,
        verdict: CommandVerdict,
    ) {
        let state = Arc::clone(self);
        let record = AuditRecord {
            at: state.clock.now(),
            actor: Actor::User(user),
            source: None,
            event: AuditEvent::Verdict {
                op,
                workflow: id.clone(),
                target: Some(target),
                allowed,
                verdict,
            },
        };
        let written = tokio::task::spawn_blocking(move || state.append_record(&record)).await;
        if !matches!(written, Ok(true)) {
            self.log.line("a command's verdict could not be recorded");
        }
    }

    /// Authorises and records `op` (blocking: the record is fsynced before this returns).
    async fn gate(
        self: &Arc<Self>,
        a: &Assertion,
        id: &WorkflowId,
        op: Operation,
        target: Option<String>,
    ) -> Result<protocol_people::gate::Permit, GateError> {
        let state = Arc::clone(self);
        let (user, level, id) = (a.user.clone(), a.level, id.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let mut audit = state
                .audit
                .lock()
                .map_err(|_| GateError::Audit(protocol_people::audit::AuditError::Poisoned))?;
            let vouched = Vouched {
                user: &user,
                level,
                workflow: &id,
                op,
                target: target.as_deref(),
            };
            let now = state.clock.now();
            authorize_vouched(&state.authorizer, &*state.groups, &mut *audit, now, &vouched)
        })
        .await;
        joined.unwrap_or(Err(GateError::Audit(protocol_people::audit::AuditError::Poisoned)))
    }
}

fn status_of(run: &RunDir) -> Status {
    Status::of(run)
}

#[derive(Serialize)]
struct Listed {
    name: String,
    status: Status,
    permitted: Vec<&'static str>,
    permitted_elevated: Vec<&'static str>,
}

async fn list(State(state): State<Arc<UiState>>, req: Request) -> Result<Response, ApiError> {
    let a = assertion_of(req.extensions())?;
    let person = state.person(&a.user)?;
    let workflows: Vec<Listed> = state
        .workflows()
        .into_iter()
        .filter(|(id, _)| state.may(&person, id, Operation::Read, a.level))
        .map(|(id, run)| Listed {
            name: id.name().to_owned(),
            status: status_of(&run),
            permitted: state.permitted(&person, &id, a.level),
            permitted_elevated: state.permitted(&person, &id, Level::Write),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "owner": state.owner, "workflows": workflows }),
    ))
}

fn workflow_id(state: &UiState, name: &str) -> Result<WorkflowId, ApiError> {
    WorkflowId::new(state.owner.as_str(), name).map_err(|_| ApiError::NotFound)
}

async fn show(
    State(state): State<Arc<UiState>>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Request,
) -> Result<Response, Refusal> {
    let a = assertion_of(req.extensions())?;
    let Path(name) = name.map_err(|_| ApiError::NotFound)?;
    let id = workflow_id(&state, &name)?;
    match state.gate(&a, &id, Operation::Read, None).await {
        Ok(_) => {}
        Err(GateError::Audit(e)) => {
            state.log.line(&format!("audit failed, nothing done: {e}"));
            return Err(ApiError::Internal.into());
        }
        Err(_) => return Err(ApiError::NotFound.recorded()),
    }
    // Recorded: whatever follows is answered with the mark, so the hub records nothing more.
    shown(&state, &a, &id).map(audited).map_err(ApiError::recorded)
}

fn shown(state: &UiState, a: &Assertion, id: &WorkflowId) -> Result<Response, ApiError> {
    let run = state.find(id).ok_or(ApiError::NotFound)?;
    let person = state.person(&a.user)?;
    let published = run.read_state().ok().flatten();
    let body = serde_json::json!({
        "owner": state.owner,
        "name": id.name(),
        "status": status_of(&run),
        "jobs": published.as_ref().map(|s| s.jobs.clone()).unwrap_or_default(),
        "live_jobs": published.as_ref().map_or(0, |s| s.live_jobs),
        "max_live_jobs": published.as_ref().and_then(|s| s.max_live_jobs),
        "control": published.as_ref().map(|s| s.control.clone()).unwrap_or_default(),
        "permitted": state.permitted(&person, id, a.level),
        "permitted_elevated": state.permitted(&person, id, Level::Write),
    });
    Ok(json(StatusCode::OK, &body))
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    op: String,
    target: String,
}

/// The body of a command request (`POST /workflows/NAME`): what the hub forwards and the
/// people model signs.
#[must_use]
pub fn command_body(op: Operation, target: &str) -> Vec<u8> {
    let body = CommandBody {
        op: op.name().to_owned(),
        target: target.to_owned(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// What a command request's body asks for: the operation, its scheduler command and the
/// target, each checked (the UI server's command handler and the people model read it here).
///
/// # Errors
/// [`ApiError::BadRequest`] for a body that is not one, an operation with no scheduler
/// command or a target the wire cannot carry.
pub fn read_command(bytes: &[u8]) -> Result<(Operation, CommandOp, String), ApiError> {
    let body: CommandBody = parse_json(bytes)?;
    let op: Operation = body.op.parse().map_err(|_| ApiError::BadRequest)?;
    let cmd = command_op(op).ok_or(ApiError::BadRequest)?;
    if !valid_target(&body.target) {
        return Err(ApiError::BadRequest);
    }
    Ok((op, cmd, body.target))
}

/// The scheduler command for an operation, if it has one.
#[must_use]
pub fn command_op(op: Operation) -> Option<CommandOp> {
    Some(match op {
        Operation::Hold => CommandOp::Hold,
        Operation::Release => CommandOp::Release,
        Operation::Pause => CommandOp::Pause,
        Operation::Resume => CommandOp::Resume,
        Operation::Stop => CommandOp::Stop,
        Operation::Kill => CommandOp::Kill,
        Operation::Trigger => CommandOp::Trigger,
        Operation::Poll => CommandOp::Poll,
        Operation::Broadcast => CommandOp::Broadcast,
        Operation::Reload => CommandOp::Reload,
        Operation::EditTrigger => CommandOp::EditTrigger,
        _ => return None,
    })
}

async fn command(
    State(state): State<Arc<UiState>>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Request,
) -> Result<Response, Refusal> {
    let a = assertion_of(req.extensions())?;
    let Path(name) = name.map_err(|_| ApiError::NotFound)?;
    let bytes = read_body(req.into_body()).await?;
    let (op, cmd, target) = read_command(&bytes)?;
    let id = workflow_id(&state, &name)?;
    let person = state.person(&a.user)?;
    let readable = state.may(&person, &id, Operation::Read, a.level);
    let permit = match state.gate(&a, &id, op, Some(target.clone())).await {
        Ok(p) => p,
        Err(GateError::Audit(e)) => {
            state.log.line(&format!("audit failed, nothing done: {e}"));
            return Err(ApiError::Internal.into());
        }
        // Someone who may not even read the workflow learns nothing of it.
        Err(_) if !readable => return Err(ApiError::NotFound.recorded()),
        Err(_) => return Err(ApiError::Forbidden.recorded()),
    };
    // Recorded, and so is its verdict: whatever follows is answered with the mark.
    let answer: Result<Response, ApiError> = async {
        let allowed = permit.receipt().record;
        let not_sent = |reason: &str| CommandVerdict::NotSent {
            reason: reason.to_owned(),
        };
        let Some(run) = state.find(&id) else {
            let verdict = not_sent("no-run-directory");
            state
                .record_verdict(a.user.clone(), &id, op, target.clone(), allowed, verdict)
                .await;
            return Err(ApiError::NotFound);
        };
        let Some(link) = state.link(&id, &run) else {
            let verdict = not_sent("no-scheduler-link");
            state
                .record_verdict(a.user.clone(), &id, op, target.clone(), allowed, verdict)
                .await;
            return Err(ApiError::Internal);
        };
        let outcome = link
            .command(
                permit.user().clone(),
                cmd,
                target.clone(),
                state.settings.command_timeout,
            )
            .await;
        let verdict = match &outcome {
            Ok(CommandOutcome::Accepted) => CommandVerdict::Applied,
            Ok(CommandOutcome::Rejected(code)) => CommandVerdict::Rejected {
                code: code.name().to_owned(),
            },
            Err(LinkError::NotRunning) => not_sent("not-running"),
            Err(LinkError::BadTarget) => not_sent("bad-target"),
            Err(LinkError::Busy(_)) => not_sent("busy"),
            Err(LinkError::Unconfirmed(..) | LinkError::Unexpected(_)) => CommandVerdict::Unconfirmed,
        };
        state
            .record_verdict(permit.user().clone(), &id, op, target.clone(), allowed, verdict)
            .await;
        match outcome {
            Ok(CommandOutcome::Accepted) => Ok(json(
                StatusCode::OK,
                &serde_json::json!({
                    "result": "accepted",
                    "workflow": id.to_string(),
                    "op": op.name(),
                    "target": target,
                    "record": permit.receipt().record,
                }),
            )),
            Ok(CommandOutcome::Rejected(code)) => Err(ApiError::Rejected { code: code.name() }),
            Err(LinkError::NotRunning) => Err(ApiError::Unavailable),
            Err(LinkError::BadTarget) => Err(ApiError::BadRequest),
            Err(LinkError::Busy(e)) => {
                state.log.line(&format!("command to {id} refused: {e}"));
                Err(ApiError::Busy)
            }
            Err(e) => {
                state.log.line(&format!("command to {id} unconfirmed: {e}"));
                Err(ApiError::Unconfirmed)
            }
        }
    }
    .await;
    answer.map(audited).map_err(ApiError::recorded)
}

async fn keepalive() -> StatusCode {
    StatusCode::NO_CONTENT
}
