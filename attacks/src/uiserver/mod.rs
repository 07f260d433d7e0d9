//! Harnesses against the people side: the hub, per-owner UI servers (authorisation, audit,
//! commands to schedulers) and the hub's signed assertions, live on 127.0.0.1 in a
//! [`GatewayWorld`] built with the defences a run asks for (see [`options`]).
//!
//! | module | stories |
//! |---|---|
//! | [`s06`] | S06 harvest suite state via the proxy (scan, direct URLs, other spellings) |
//! | [`s11`] | S11 change other users' running suites (hub, scheduler client channel) |
//! | [`s13`] | S13 store something executed when admins log in (audit lines, served state) |
//! | [`s16`] | S16 an insider searches policy and group combinations for escalation |
//! | [`c02`] | C02 detect bad actions (audit before effect, tampering detected) |
//! | [`c05`] | C05 privacy between users (sessions, listings, errors) |
//! | [`c09`] | C09 protect delegated credentials (the hub's assertion) |

pub mod c02;
pub mod c05;
pub mod c09;
pub mod s06;
pub mod s11;
pub mod s13;
pub mod s16;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::harness::{Harness, HarnessError};
use crate::live::gateway::{FIXED_START, GatewayOptions, GatewayWorld};

/// The world these harnesses attack: the hub design notes' example with every defence on, the shared
/// clock at [`FIXED_START`] (audit lines are the same every run), two-minute elevations, UI
/// servers stopping after ten idle minutes, and each workflow's job registered before anyone
/// acts (harnesses use its key as a compromised job's). Harnesses change the defence they test.
#[must_use]
pub fn options() -> GatewayOptions {
    GatewayOptions {
        start: Some(FIXED_START),
        elevation_window: Duration::from_secs(120),
        ui_idle_timeout: Duration::from_secs(600),
        await_jobs: true,
        ..GatewayOptions::default()
    }
}

/// The address of `owner`'s most recent UI server.
///
/// # Errors
/// [`HarnessError::Setup`] if none was started.
pub fn ui_server(w: &GatewayWorld, owner: &str) -> Result<SocketAddr, HarnessError> {
    w.ui_address(owner)
        .ok_or_else(|| HarnessError::setup(format!("no UI server for {owner}")))
}

/// The raw text of a file as on disk now (empty if absent).
#[must_use]
pub fn file_text(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Every people-side harness.
#[must_use]
pub fn all() -> Vec<Harness> {
    vec![
        c02::DETECT_BAD_ACTIONS,
        c05::PRIVACY_BETWEEN_USERS,
        c09::DELEGATED_CREDENTIALS,
        s06::UNAUTHORISED_SCAN,
        s11::CROSS_OWNER_COMMAND,
        s13::STORED_PAYLOAD,
        s16::ESCALATION_SEARCH,
    ]
}

/// Percent-encodes everything but unreserved characters, for putting hostile text in a path.
#[must_use]
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Hostile text shown safely in evidence: printable ASCII as it is, anything else escaped like
/// an audit field (`\n`, `\x1b`, `\u{2028}`), at most 80 characters.
#[must_use]
pub fn shown(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 80 {
            out.push('…');
            break;
        }
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            out.push_str(&protocol_people::audit::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

/// The security headers every JSON answer of the hub must carry, missing ones named.
#[must_use]
pub fn missing_headers(r: &protocol_gateway::http::client::HttpResponse) -> Vec<&'static str> {
    let has = |name: &str, want: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(want))
    };
    let mut missing = Vec::new();
    if !r.body.is_empty() && !has("content-type", "application/json") {
        missing.push("content-type: application/json");
    }
    if !has("x-content-type-options", "nosniff") {
        missing.push("nosniff");
    }
    if !has("content-security-policy", "default-src 'none'") {
        missing.push("content-security-policy default-src 'none'");
    }
    missing
}
