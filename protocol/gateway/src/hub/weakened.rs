//! Verification builds only: the hub with `configured-owner` or `uniform-errors` removed, for
//! the attack controls. Nothing here exists in a production build; the production code calls
//! it through one `cfg`-gated line each.

use std::net::SocketAddr;

use protocol_core::Owner;

use super::HubState;
use crate::checks::GatewayCheck;
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
