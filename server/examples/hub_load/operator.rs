//! The hub's own view of a phase: an operator session (the generated configuration makes
//! [`USER`] an operator; a second bearer login from 127.0.0.1, elevated to `execute` with the
//! same password through `POST /elevate`) that reads `GET /operator/status` — the password
//! pool's and back-off's counters and the connection limits' counters (accepted, header
//! timeouts, idle closes, evictions, refusals) — so a phase's report can say what the hub did,
//! not only what the clients saw. A hub that reports a counter group it does not have (an
//! older build) is shown as such; a failure here never stops the run.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::anyhow;

use crate::USER;
use crate::http::{elevate_request, request, status_request};
use crate::legit::log_in;

/// A status request's timeout (short: a hub out of descriptors may not answer at all).
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection limits' counters, in the order printed.
pub const CONNECTION_COUNTERS: [&str; 5] = ["accepted", "header_timeouts", "idle_closed", "evicted", "refused"];
/// The login defences' counters, in the order printed.
pub const LOGIN_COUNTERS: [&str; 4] = [
    "password_checks",
    "password_busy",
    "backoff_refused",
    "audit_rate_limited",
];

/// An elevated operator session's bearer token.
#[derive(Debug)]
pub struct Operator {
    to: SocketAddr,
    token: String,
}

impl Operator {
    /// Logs [`USER`] in a second time and elevates that session to `execute`.
    pub async fn start(to: SocketAddr, password: &str) -> anyhow::Result<Self> {
        let (token, _) = log_in(to, password).await?;
        let a = request(
            None,
            to,
            &elevate_request(to, &token, password, "execute"),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| anyhow!("the elevation failed: {e}"))?;
        if a.status != 200 {
            anyhow::bail!("the elevation was answered {}", a.status);
        }
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
        let token = v
            .get("token")
            .and_then(serde_json::Value::as_str)
            .map_or(token, str::to_owned);
        Ok(Self { to, token })
    }

    /// Starts an operator session, or says why not (the run goes on without one).
    pub async fn try_start(label: &str, to: SocketAddr, password: &str) -> Option<Self> {
        match Self::start(to, password).await {
            Ok(o) => {
                println!("{label}operator session: {USER} (an operator in the generated config), elevated to execute");
                Some(o)
            }
            Err(e) => {
                println!("{label}operator session: unavailable ({e:#}); no /operator/status counters");
                None
            }
        }
    }

    /// `GET /operator/status`, or why not.
    pub async fn status(&self) -> Result<serde_json::Value, String> {
        let a = request(None, self.to, &status_request(self.to, &self.token), STATUS_TIMEOUT).await?;
        if a.status != 200 {
            return Err(format!("status-{}", a.status));
        }
        serde_json::from_slice(&a.body).map_err(|_| "not-json".to_string())
    }
}

/// `Some(status)` of an optional operator, `None` (and nothing printed) without one.
pub async fn status_of(op: Option<&Operator>) -> Option<Result<serde_json::Value, String>> {
    match op {
        Some(o) => Some(o.status().await),
        None => None,
    }
}

fn counter(v: &serde_json::Value, group: Option<&str>, name: &str) -> Option<u64> {
    let g = match group {
        Some(g) => v.get(g)?,
        None => v,
    };
    g.get(name).and_then(serde_json::Value::as_u64)
}

/// `name N (+D)` for each counter of `group` (top level when `None`) in `after`, with its change
/// since `before` when that status was read; `None` when `after` has none of them.
pub fn counters_line(
    before: Option<&serde_json::Value>,
    after: &serde_json::Value,
    group: Option<&str>,
    names: &[&str],
) -> Option<String> {
    let parts: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let now = counter(after, group, name)?;
            let delta = before
                .and_then(|b| counter(b, group, name))
                .map_or_else(String::new, |b| format!(" (+{})", now.saturating_sub(b)));
            Some(format!("{name} {now}{delta}"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Prints one status line: `label` then the counters (changes since `before` in brackets).
pub fn print_counters(
    label: &str,
    before: Option<&Result<serde_json::Value, String>>,
    after: Option<&Result<serde_json::Value, String>>,
    group: Option<&str>,
    names: &[&str],
) {
    let Some(after) = after else { return };
    let before = before.and_then(|b| b.as_ref().ok());
    match after {
        Ok(v) => match counters_line(before, v, group, names) {
            Some(line) => println!("    {label}: {line}"),
            None => println!("    {label}: this hub's /operator/status has no such counters"),
        },
        Err(e) => println!("    {label}: /operator/status failed: {e}"),
    }
}
