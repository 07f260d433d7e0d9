//! C02 — as a defender I want to see bad actions, including the ones that failed: someone
//! probing the hub (a cross-site command without the CSRF token, a token in a URL, a
//! malformed login, an unknown route, a read-only person asking for the operator's status,
//! an unknown operation, an owner the hub does not serve) leaves a trace of every attempt.
//!
//! `refusal-audit` must record each refused attempt exactly once in the hub's audit log,
//! naming the person (or "unauthenticated"), the source address, the route and the refusal
//! code. Without it, none of them is anywhere in the logs.

use protocol::Defence;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::http::client::{HttpRequest, Method};

use super::{code, get, post, raw};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// Refused probes leave a record each.
pub const REFUSED_ATTEMPTS: Harness = Harness {
    info: HarnessInfo {
        id: "c02-refused-attempts",
        story: "C02",
        target: "hub",
        title: "probes the hub seven ways that are all refused (a command with the session cookie but no CSRF token, a token in a URL, a malformed login, an unknown route, read-only mallory asking for the operator's status, an unknown operation, an owner the hub does not serve) and reads the hub's audit log",
        defences: &[Defence::Gateway(GatewayCheck::RefusalAudit)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(refused_attempts(w)),
};

async fn refused_attempts(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences: w.gateway(),
        ..GatewayOptions::default()
    })
    .await?;
    let result = probe(&world).await;
    world.stop().await;
    result
}

/// A probe: what it sends, and the record it must leave (the end of the line).
struct Probe {
    what: &'static str,
    status: u16,
    record: &'static str,
}

const PROBES: [Probe; 7] = [
    Probe {
        what: "a command with the session cookie but no CSRF token",
        status: 403,
        record: "User jacintar from 127.0.0.1 was refused POST /o/:owner/workflows/:name (csrf)",
    },
    Probe {
        what: "a token in a URL",
        status: 400,
        record: "An unauthenticated client from 127.0.0.1 was refused GET /me (token-in-url)",
    },
    Probe {
        what: "a malformed login",
        status: 400,
        record: "An unauthenticated client from 127.0.0.1 was refused POST /login (bad-request)",
    },
    Probe {
        what: "an unknown route",
        status: 404,
        record: "An unauthenticated client from 127.0.0.1 was refused GET \\x28unmatched\\x29 (not-found)",
    },
    Probe {
        what: "a read-only person asking for the operator's status",
        status: 403,
        record: "User mallory from 127.0.0.1 was refused GET /operator/status (forbidden)",
    },
    Probe {
        what: "an unknown operation",
        status: 400,
        record: "User jacintar from 127.0.0.1 was refused POST /o/:owner/workflows/:name (bad-request)",
    },
    Probe {
        what: "an owner the hub does not serve",
        status: 404,
        record: "User jacintar from 127.0.0.1 was refused POST /o/:owner/workflows/:name (not-found)",
    },
];

async fn probe(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut jacintar = world.login("jacintar").await?;
    let mut mallory = world.login("mallory").await?;
    let before = world.audit_lines("hub").len();
    let cookie = jacintar
        .session_cookie()
        .ok_or_else(|| HarnessError::setup("jacintar's login set no session cookie"))?;
    let hold = serde_json::json!({ "op": "hold", "target": "1234/climb" });
    let answers = [
        raw(
            world.addr(),
            &HttpRequest::new(Method::POST, "/o/atmosphere_stage/workflows/clouds")
                .header("cookie", format!("tc_session={cookie}"))
                .header("origin", format!("http://{}", world.addr()))
                .json(hold.to_string()),
        )
        .await?,
        raw(
            world.addr(),
            &HttpRequest::new(Method::GET, format!("/me?t={}", "ab".repeat(32))),
        )
        .await?,
        raw(
            world.addr(),
            &HttpRequest::new(Method::POST, "/login")
                .header("x-requested-with", "threatcheck")
                .json("{\"user\": 1}"),
        )
        .await?,
        raw(world.addr(), &HttpRequest::new(Method::GET, "/nope")).await?,
        get(&mut mallory, "/operator/status").await?,
        post(
            &mut jacintar,
            "/o/atmosphere_stage/workflows/clouds",
            &serde_json::json!({ "op": "frobnicate", "target": "1234/climb" }),
        )
        .await?,
        post(&mut jacintar, "/o/mallory/workflows/x", &hold).await?,
    ];
    for (p, r) in PROBES.iter().zip(&answers) {
        if r.status != p.status {
            return Err(HarnessError::setup(format!("{} was answered {}", p.what, code(r))));
        }
    }
    let lines = world.audit_lines("hub");
    let new = lines.get(before..).unwrap_or_default();
    let mut breaches = Vec::new();
    let mut recorded = 0u64;
    for p in &PROBES {
        match new.iter().filter(|l| l.ends_with(p.record)).count() {
            1 => recorded += 1,
            0 => breaches.push(format!("{} left no record in any audit log", p.what)),
            n => breaches.push(format!("{} was recorded {n} times", p.what)),
        }
    }
    if new.len() > PROBES.len() {
        breaches.push(format!("{} records for {} refused attempts", new.len(), PROBES.len()));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::RefusalAudit, recorded),
        "refusal-audit recorded each of the seven refused probes exactly once in the hub's audit log, naming the person \
         or an unauthenticated client, the source address, the route template and the refusal code",
    ))
}
