//! Harnesses against the people side: the hub (authentication, sessions, limits, the
//! defender, spawning) and the signed assertions it gives UI servers, on a live
//! [`GatewayWorld`](crate::live::gateway::GatewayWorld).
//!
//! | module | stories |
//! |---|---|
//! | [`s02`] | S02 fool hub authentication (forged tokens, forged hub assertions) |
//! | [`s03`] | S03 harvest user names and passwords (enumeration, guessing) |
//! | [`s03_guessing`] | S03 guess one account's password from many addresses, or through a stolen token's elevation |
//! | [`s04`] | S04 get the network map (addresses and paths in answers) |
//! | [`s05`] | S05 hijack tokens (after logout, idle, absolute expiry, elevation) |
//! | [`s05_csrf`] | S05 ride a session cross-site (CSRF token, Origin), tokens in URLs; S02 login CSRF |
//! | [`s09`] | S09 spawn a non-UI server (owner-name injection) |
//! | [`s10`] | S10 steal SSO (a captured assertion replayed) |
//! | [`s14`] | S14 the defender sees an alert and blocks the source |
//! | [`c06`] | C06 overuse of resources (floods, live-job cap) |
//! | [`c06_load`] | C06 login floods, slow and silent connections, audit floods against the hub |

pub mod c02_refusals;
pub mod c06;
pub mod c06_load;
pub mod s02;
pub mod s03;
pub mod s03_guessing;
pub mod s04;
pub mod s05;
pub mod s05_csrf;
pub mod s09;
pub mod s10;
pub mod s14;

use std::net::SocketAddr;
use std::time::Duration;

use protocol_gateway::http::client::{HttpRequest, HttpResponse, HubClient, Method, send};

use crate::harness::{Harness, HarnessError};

/// Every people-side harness of this group.
#[must_use]
pub fn all() -> Vec<Harness> {
    vec![
        s02::FORGED_TOKEN,
        s03::ACCOUNT_ENUMERATION,
        s03_guessing::DISTRIBUTED_GUESSING,
        s04::ADDRESS_DISCLOSURE,
        s05::TOKEN_REPLAY,
        s05::IDLE_TOKEN,
        s05::EXPIRED_TOKEN,
        s05::PRE_ELEVATION_TOKEN,
        s05_csrf::CSRF_TOKEN,
        s05_csrf::CROSS_ORIGIN,
        s05_csrf::TOKEN_IN_URL,
        s05_csrf::LOGIN_CSRF,
        s09::SPAWNER_INJECTION,
        s10::CROSS_AUDIENCE_TOKEN,
        s14::ALERT_AND_SHUTDOWN,
        c02_refusals::REFUSED_ATTEMPTS,
        c06::RESOURCE_LIMITS,
        c06_load::LOGIN_FLOOD,
        c06_load::SLOW_CONNECTIONS,
        c06_load::AUDIT_FLOOD,
    ]
}

/// How long one request may take.
pub(crate) const REQUEST_LIMIT: Duration = Duration::from_secs(5);

/// Sends `req` to `addr` on a fresh connection (from 127.0.0.1).
pub(crate) async fn raw(addr: SocketAddr, req: &HttpRequest) -> Result<HttpResponse, HarnessError> {
    send(addr, None, req, REQUEST_LIMIT)
        .await
        .map_err(|e| HarnessError::setup(format!("{} {} got no answer: {e}", req.method, req.path)))
}

/// `GET path` as `client`.
pub(crate) async fn get(client: &mut HubClient, path: &str) -> Result<HttpResponse, HarnessError> {
    client
        .get(path)
        .await
        .map_err(|e| HarnessError::setup(format!("GET {path} got no answer: {e}")))
}

/// `POST path` as `client`.
pub(crate) async fn post(
    client: &mut HubClient,
    path: &str,
    body: &serde_json::Value,
) -> Result<HttpResponse, HarnessError> {
    client
        .post(path, body)
        .await
        .map_err(|e| HarnessError::setup(format!("POST {path} got no answer: {e}")))
}

/// A request presenting `token` the way `how` says (`cookie` or `bearer`).
pub(crate) fn with_token(method: Method, path: &str, how: &str, token: &str) -> HttpRequest {
    let req = HttpRequest::new(method, path);
    if how == "bearer" {
        req.header("authorization", format!("Bearer {token}"))
    } else {
        req.header("cookie", format!("tc_session={token}"))
    }
}

/// The `error` code of a hub or UI server refusal, or the status alone.
pub(crate) fn code(r: &HttpResponse) -> String {
    r.json()["error"]
        .as_str()
        .map_or_else(|| r.status.to_string(), |e| format!("{} {e}", r.status))
}
