//! C09 — protect users' credentials when they delegate authority to us.
//!
//! The hub vouches for each person to the owner's UI server with a signed assertion (who, at
//! what level, for which request, when, a nonce), keyed per UI server instance. Someone on the
//! host can reach a UI server's loopback port and can read the hub's traffic to it (here a
//! relay records it). [`DELEGATED_CREDENTIALS`] goes straight to the UI servers with no
//! assertion, one signed with a guessed key, a captured one edited to name the owner at write
//! level, a captured one on another request, a captured one at another owner's UI server, a
//! captured command replayed at once, and a captured one replayed a minute later. Judged on
//! the answers, on the UI servers' reasons, and on the scheduler (the replayed hold must not
//! be applied twice).

use std::time::Duration;

use protocol::Defence;
use protocol_core::Owner;
use protocol_gateway::assertion::{self, Assertion, AssertionError, HubKey};
use protocol_gateway::checks::{GatewayCheck, GatewayDefences};
use protocol_gateway::clock::Clock;
use protocol_gateway::http::client::{HttpRequest, HttpResponse, Method, send};
use protocol_people::ops::Level;

use super::{options, ui_server};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, eventually};

/// Forged, edited, replayed, stale and misdirected hub assertions.
pub const DELEGATED_CREDENTIALS: Harness = Harness {
    info: HarnessInfo {
        id: "c09-delegated-credentials",
        story: "C09",
        target: "UI server",
        title: "straight to the UI servers: no assertion, one signed with a guessed key, captured ones edited to name the owner, moved to another request or another owner's UI server, replayed at once and a minute later",
        defences: &[
            Defence::Gateway(GatewayCheck::AssertionMac),
            Defence::Gateway(GatewayCheck::AssertionReplay),
            Defence::Gateway(GatewayCheck::AssertionFreshness),
        ],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(delegated_credentials(w)),
};

/// A request the hub sent to a UI server, as the relay recorded it.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) assertion: String,
    pub(crate) body: Vec<u8>,
}

/// Splits recorded bytes into HTTP/1.1 requests.
pub(crate) fn requests(mut bytes: &[u8]) -> Vec<Captured> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, path) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
        let mut assertion = String::new();
        let mut length = 0;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case(assertion::HEADER) {
                    assertion = value.to_owned();
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
            }
        }
        let rest = bytes.get(end + 4..).unwrap_or_default();
        let body = rest.get(..length).unwrap_or(rest).to_vec();
        bytes = rest.get(length..).unwrap_or_default();
        out.push(Captured {
            method: method.to_owned(),
            path: path.to_owned(),
            assertion,
            body,
        });
    }
    out
}

pub(crate) fn request(method: &str, path: &str, header: Option<&str>, body: &[u8]) -> HttpRequest {
    let m = if method == "POST" { Method::POST } else { Method::GET };
    let mut r = HttpRequest::new(m, path);
    if let Some(h) = header {
        r = r.header(assertion::HEADER, h);
    }
    if !body.is_empty() {
        r = r.json(body.to_vec());
    }
    r
}

/// A header with some `key=value` fields replaced.
pub(crate) fn edit(header: &str, fields: &[(&str, &str)]) -> String {
    header
        .split(' ')
        .map(|part| {
            part.split_once('=')
                .and_then(|(k, _)| fields.iter().find(|(f, _)| *f == k))
                .map_or_else(|| part.to_owned(), |(k, v)| format!("{k}={v}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One attack: what it was, the status, and the reason the UI server logged, if any.
struct Tried {
    what: &'static str,
    status: u16,
    reason: String,
}

async fn try_at(
    w: &GatewayWorld,
    addr: std::net::SocketAddr,
    what: &'static str,
    req: &HttpRequest,
) -> Result<Tried, HarnessError> {
    let before = w.log_lines().len();
    let r: HttpResponse = send(addr, None, req, Duration::from_secs(5))
        .await
        .map_err(|e| HarnessError::setup(format!("no answer: {e}")))?;
    let reason = w
        .log_lines()
        .into_iter()
        .skip(before)
        .find_map(|l| l.strip_prefix("refused a request: ").map(str::to_owned))
        .unwrap_or_default();
    Ok(Tried {
        what,
        status: r.status,
        reason,
    })
}

async fn attack(ui: GatewayDefences) -> Result<Outcome, HarnessError> {
    let w = GatewayWorld::start(GatewayOptions {
        ui_defences: ui,
        relay_ui: true,
        ..options()
    })
    .await?;
    let http = |e: protocol_gateway::http::client::HttpError| HarnessError::setup(format!("no answer: {e}"));
    // Honest traffic for the relay to record.
    let mut jacintar = w.elevated("jacintar", "execute").await?;
    for path in ["/o/atmosphere_stage/workflows", "/o/atmosphere_stage/workflows/clouds"] {
        if jacintar.get(path).await.map_err(http)?.status != 200 {
            return Err(HarnessError::setup(format!("jacintar's {path} was refused")));
        }
    }
    let hold = jacintar
        .post(
            "/o/atmosphere_stage/workflows/clouds",
            &serde_json::json!({ "op": "hold", "target": "1234/climb" }),
        )
        .await
        .map_err(http)?;
    if hold.status != 200 {
        return Err(HarnessError::setup(format!("jacintar's hold answered {}", hold.status)));
    }
    let mut mallory = w.login("mallory").await?;
    mallory.get("/o/oceans_stage/workflows").await.map_err(http)?;
    // The relay records a connection when it ends: wait for the three requests used below.
    let recorded = || -> Vec<Captured> {
        w.captured("atmosphere_stage")
            .iter()
            .flat_map(|bytes| requests(bytes))
            .collect()
    };
    let wanted = [
        ("GET", "/workflows"),
        ("GET", "/workflows/clouds"),
        ("POST", "/workflows/clouds"),
    ];
    eventually(Duration::from_secs(2), || {
        let seen = recorded();
        wanted.iter().all(|(method, path)| {
            seen.iter()
                .any(|c| c.method == *method && c.path == *path && !c.assertion.is_empty())
        })
    })
    .await;
    let captured = recorded();
    let find = |method: &str, path: &str| {
        captured
            .iter()
            .find(|c| c.method == method && c.path == path && !c.assertion.is_empty())
            .cloned()
            .ok_or_else(|| HarnessError::setup(format!("the relay recorded no {method} {path}")))
    };
    let (list, state, command) = (
        find("GET", "/workflows")?,
        find("GET", "/workflows/clouds")?,
        find("POST", "/workflows/clouds")?,
    );
    let atmosphere = ui_server(&w, "atmosphere_stage")?;
    let oceans = ui_server(&w, "oceans_stage")?;
    let now = w.clock().now();
    let owner_claim = Assertion {
        user: Owner::new("atmosphere_stage").map_err(HarnessError::setup)?,
        level: Level::Write,
        session: 1,
        operator: true,
        at: now,
        nonce: [0x5a; 16],
    };
    let guessed = assertion::sign(
        &HubKey::from_bytes([0; 32]),
        &owner_claim,
        "GET",
        "/workflows/clouds",
        b"",
    );
    let edited = edit(
        &list.assertion,
        &[
            ("user", "atmosphere_stage"),
            ("level", "write"),
            ("nonce", &"ff".repeat(16)),
        ],
    );
    let mut tried = vec![
        try_at(
            &w,
            atmosphere,
            "no assertion",
            &request("GET", "/workflows/clouds", None, b""),
        )
        .await?,
        try_at(
            &w,
            atmosphere,
            "an assertion for the owner at write level signed with a guessed key",
            &request("GET", "/workflows/clouds", Some(&guessed), b""),
        )
        .await?,
        try_at(
            &w,
            atmosphere,
            "jacintar's captured assertion edited to name the owner at write level",
            &request("GET", "/workflows", Some(&edited), b""),
        )
        .await?,
        try_at(
            &w,
            atmosphere,
            "jacintar's captured listing assertion on a state request",
            &request("GET", "/workflows/winds", Some(&list.assertion), b""),
        )
        .await?,
        try_at(
            &w,
            oceans,
            "jacintar's captured assertion at oceans_stage's UI server",
            &request("GET", "/workflows", Some(&list.assertion), b""),
        )
        .await?,
        try_at(
            &w,
            atmosphere,
            "jacintar's captured hold command replayed at once",
            &request(&command.method, &command.path, Some(&command.assertion), &command.body),
        )
        .await?,
    ];
    w.advance(Duration::from_secs(60));
    tried.push(
        try_at(
            &w,
            atmosphere,
            "jacintar's captured state request replayed 60 s later",
            &request(&state.method, &state.path, Some(&state.assertion), &state.body),
        )
        .await?,
    );
    let holds = w.workflow("clouds")?.control().await?.commands;
    w.stop().await;
    let mut breaches: Vec<String> = tried
        .iter()
        .filter(|t| t.status != 401)
        .map(|t| format!("{} was accepted ({})", t.what, t.status))
        .collect();
    if holds > 1 {
        breaches.push(format!("the scheduler applied jacintar's one hold {holds} times"));
    }
    // The UI servers answer every refusal alike (401); the reason each logged tells which
    // check refused it.
    let refused_for = |e: AssertionError| tried.iter().filter(|t| t.reason == e.to_string()).count() as u64;
    let fired = Fired::count(GatewayCheck::AssertionMac, refused_for(AssertionError::BadMac))
        .and(GatewayCheck::AssertionReplay, refused_for(AssertionError::Replayed))
        .and(GatewayCheck::AssertionFreshness, refused_for(AssertionError::Stale));
    let refused: Vec<String> = tried
        .iter()
        .map(|t| {
            format!(
                "{}: 401 ({})",
                t.what,
                if t.reason.is_empty() {
                    "refused"
                } else {
                    t.reason.as_str()
                }
            )
        })
        .collect();
    Ok(Outcome::judge(
        breaches,
        &fired,
        format!(
            "the UI servers believed no assertion but the hub's, fresh, for its own request, once: {}; the hold \
             was applied once",
            refused.join("; ")
        ),
    ))
}

async fn delegated_credentials(w: Weakening) -> Result<Outcome, HarnessError> {
    attack(w.gateway()).await
}
