//! Verification builds only: the hub with `configured-owner`, `uniform-errors` or
//! `password-pool` removed, for
//! the attack controls. Nothing here exists in a production build; the production code calls
//! it through one `cfg`-gated line each.

use std::net::SocketAddr;
use std::sync::Arc;

use protocol_core::Owner;
use protocol_people::gate::GateError;
use protocol_people::ops::Level;
use protocol_people::session::{AuthSession, Token};
use zeroize::Zeroizing;

use super::HubState;
use crate::checks::GatewayCheck;
use crate::http::ApiError;
use crate::http::client::{HeaderMap, HttpError, HttpResponse};
use crate::spawner::SpawnError;

/// Without `configured-owner`: any valid account name is served (and its UI server spawned).
pub(super) fn any_owner(state: &HubState, requested: &str) -> Option<Result<Owner, SpawnError>> {
    (!state.settings.defences.is_on(GatewayCheck::ConfiguredOwner))
        .then(|| Owner::new(requested).map_err(|_| SpawnError::InvalidOwner))
}

/// Without `uniform-errors`: the failure's details go to the client, as a careless proxy's
/// would.
pub(super) fn careless_unavailable(
    state: &HubState,
    owner: &Owner,
    address: Option<SocketAddr>,
    error: &HttpError,
) -> Option<HttpResponse> {
    if state.settings.defences.is_on(GatewayCheck::UniformErrors) {
        return None;
    }
    let detail = format!(
        "{owner}'s UI server at {} did not answer: {error}",
        address.map_or_else(String::new, |a| a.to_string())
    );
    Some(HttpResponse {
        status: 503,
        headers: HeaderMap::new(),
        body: serde_json::json!({ "error": "unavailable", "detail": detail })
            .to_string()
            .into_bytes(),
    })
}

/// Without `password-pool`: the password is checked on tokio's unbounded blocking pool in
/// argon2's own fresh memory, with the sessions and audit locks held throughout (every
/// authenticated request waits behind it).
pub(super) async fn login_under_lock(
    state: &Arc<HubState>,
    ip: std::net::IpAddr,
    user: String,
    password: Zeroizing<String>,
) -> Result<Result<(Token, AuthSession), GateError>, ApiError> {
    state
        .with_gate(ip, move |gate, now, hub| {
            gate.login(now, &user, &password, &hub.audience, &mut rand_core::OsRng)
        })
        .await
}

/// Without `password-pool`: an elevation's password checked as [`login_under_lock`] does.
pub(super) async fn elevate_under_lock(
    state: &Arc<HubState>,
    ip: std::net::IpAddr,
    token: Token,
    to: Level,
    password: Zeroizing<String>,
) -> Result<Result<(Token, AuthSession), GateError>, ApiError> {
    state
        .with_gate(ip, move |gate, now, hub| {
            gate.elevate(now, &token, &hub.audience, &password, to, &mut rand_core::OsRng)
        })
        .await
}
