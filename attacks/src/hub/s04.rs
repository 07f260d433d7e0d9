//! S04 — as an attacker I want to get the network map relevant to the workflow system.
//!
//! With an ordinary account, the attacker provokes every kind of answer the hub gives —
//! refusals of all kinds, malformed requests, unknown owners and workflows, scans, and
//! proxy failures (the UI servers stop answering) — asks the UI servers directly, and sends a
//! scheduler a stranger's handshake, and searches every answer for loopback addresses and
//! ports of UI servers and schedulers and for run-directory paths.

use std::path::Path;

use protocol::Defence;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::http::client::{HttpRequest, HttpResponse, Method};
use serde_json::json;

use super::{code, raw};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// Addresses and paths in the hub's answers.
pub const ADDRESS_DISCLOSURE: Harness = Harness {
    info: HarnessInfo {
        id: "s04-address-disclosure",
        story: "S04",
        target: "hub",
        title: "provokes refusals, malformed-request errors, scans and proxy failures and searches every answer for internal addresses, ports and paths",
        defences: &[Defence::Gateway(GatewayCheck::UniformErrors)],
        control: Control::WithoutEach,
        note: "a proxy failure is answered with its details",
    },
    run: |w| Box::pin(address_disclosure(w)),
};

async fn address_disclosure(w: Weakening) -> Result<Outcome, HarnessError> {
    let hub_defences = w.gateway();
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences,
        relay_ui: true,
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

/// What in `text` maps the system: a loopback address with a port other than the hub's,
/// the world's directory, a run directory.
fn disclosures(text: &str, hub_port: u16, dir: &Path) -> Vec<&'static str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        let after = &rest[i + "127.0.0.1:".len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if digits.parse::<u16>().is_ok_and(|p| p != hub_port) {
            found.push("an internal loopback address and port");
            break;
        }
        rest = after;
    }
    let dir = dir.display().to_string();
    if text.contains(&dir) || text.contains("/runs/") || text.contains("threatcheck-gateway") {
        found.push("a file-system path");
    }
    found
}

/// What a scheduler sends back to a stranger's first handshake message (random bytes in a
/// length-prefixed frame): everything it writes within half a second, or until it closes.
async fn stranger_answer(addr: std::net::SocketAddr) -> Result<Vec<u8>, HarnessError> {
    use rand_core::RngCore;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut frame = vec![0u8, 96];
    let mut body = [0u8; 96];
    rand_core::OsRng.fill_bytes(&mut body);
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 || answer.len() > 64 * 1024 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    Ok(answer)
}

fn got(
    what: &str,
    r: Result<HttpResponse, protocol_gateway::http::client::HttpError>,
) -> Result<(String, HttpResponse), HarnessError> {
    let r = r.map_err(|e| HarnessError::setup(format!("{what} got no answer: {e}")))?;
    Ok((what.to_owned(), r))
}

fn whole(r: &HttpResponse) -> String {
    let headers: Vec<String> = r
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    format!("{}\n{}", headers.join("\n"), r.text())
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut c = world.login("jacintar").await?;
    let cookie = c
        .session_cookie()
        .ok_or_else(|| HarnessError::setup("the login set no session cookie"))?;
    let mut answers: Vec<(String, HttpResponse)> = Vec::new();
    // Working answers first: they spawn both owners' UI servers.
    answers.push(got("scan", c.get("/scan").await)?);
    answers.push(got(
        "a workflow's state",
        c.get("/o/atmosphere_stage/workflows/clouds").await,
    )?);
    answers.push(got("an owner's list", c.get("/o/oceans_stage/workflows").await)?);
    answers.push(got(
        "an unreadable workflow",
        c.get("/o/oceans_stage/workflows/currents").await,
    )?);
    answers.push(got(
        "a missing workflow",
        c.get("/o/atmosphere_stage/workflows/nope").await,
    )?);
    answers.push(got("an unknown owner", c.get("/o/nobody/workflows").await)?);
    answers.push(got("an invalid owner", c.get("/o/..%2F..%2Fetc/workflows").await)?);
    answers.push(got("an unknown route", c.get("/internal/status").await)?);
    answers.push(got("the operator view", c.get("/operator/status").await)?);
    answers.push(got(
        "a forbidden command",
        c.post("/o/atmosphere_stage/workflows/clouds", &json!({ "op": "stop" }))
            .await,
    )?);
    answers.push(got(
        "an unknown operation",
        c.post("/o/atmosphere_stage/workflows/clouds", &json!({ "op": "rm -rf" }))
            .await,
    )?);
    answers.push(got(
        "a malformed command",
        c.post("/o/atmosphere_stage/workflows/clouds", &json!({ "op": 7, "x": [] }))
            .await,
    )?);
    answers.push(got("a token in the URL", c.get(&format!("/me?token={cookie}")).await)?);
    let mut anon = world.client();
    answers.push(got("an unauthenticated request", anon.get("/scan").await)?);
    answers.push(got("a failed login", anon.login("jacintar", "wrong").await)?);
    let garbage = HttpRequest::new(Method::POST, "/login")
        .header("x-requested-with", "threatcheck")
        .json("{\"user\":");
    answers.push(("a malformed login".to_owned(), raw(world.addr(), &garbage).await?));
    let big = HttpRequest::new(Method::POST, "/login")
        .header("x-requested-with", "threatcheck")
        .json(vec![b'x'; 20_000]);
    answers.push(("an oversized body".to_owned(), raw(world.addr(), &big).await?));
    let wrong_method = HttpRequest::new(Method::DELETE, "/scan");
    answers.push(("a wrong method".to_owned(), raw(world.addr(), &wrong_method).await?));
    // Round the hub: the UI servers' own answers, and a scheduler's answer to a stranger.
    for owner in ["atmosphere_stage", "oceans_stage"] {
        let ui = world
            .ui_address(owner)
            .ok_or_else(|| HarnessError::setup(format!("{owner}'s UI server was not spawned")))?;
        for (what, path) in [
            ("a UI server without an assertion", "/workflows"),
            ("a UI server's unknown route", "/debug"),
        ] {
            answers.push((what.to_owned(), raw(ui, &HttpRequest::new(Method::GET, path)).await?));
        }
    }
    // Proxy failures: the UI servers stop answering.
    world.refuse_ui_connections(true);
    answers.push(got(
        "a proxy failure (list)",
        c.get("/o/atmosphere_stage/workflows").await,
    )?);
    answers.push(got(
        "a proxy failure (state)",
        c.get("/o/oceans_stage/workflows/waves").await,
    )?);
    answers.push(got("a scan during proxy failures", c.get("/scan").await)?);
    world.refuse_ui_connections(false);

    let scheduler = world.workflow("clouds")?.scheduler.local_addr();
    let stranger = stranger_answer(scheduler).await?;

    let hub_port = world.addr().port();
    let mut breaches = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    let mut proxy_failures = Vec::new();
    // Proxy failures answered with the fixed body only uniform-errors gives.
    let mut uniform = 0;
    for (what, r) in &answers {
        let found = disclosures(&whole(r), hub_port, world.dir());
        if !found.is_empty() {
            breaches.push(format!("{what} ({}) disclosed {}", code(r), found.join(" and ")));
        }
        let c = code(r);
        if what.starts_with("a proxy failure") {
            if r.status == 503 && r.json() == json!({ "error": "unavailable" }) {
                uniform += 1;
            }
            proxy_failures.push(c.clone());
        }
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    let scheduler_found = disclosures(&String::from_utf8_lossy(&stranger), hub_port, world.dir());
    if !scheduler_found.is_empty() {
        breaches.push(format!(
            "a scheduler's answer to a stranger's handshake disclosed {}",
            scheduler_found.join(" and ")
        ));
    }
    if !proxy_failures.iter().any(|c| c.starts_with("503")) {
        return Err(HarnessError::setup("the proxy failures were not provoked"));
    }
    codes.sort();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::UniformErrors, uniform),
        format!(
            "uniform-errors: none of {} answers named a loopback address, port or path — refusals, errors and proxy \
             failures ({}) carried fixed bodies, scans only owners, names and statuses (answers seen: {}); a scheduler answered a stranger's handshake \
             with {}",
            answers.len(),
            proxy_failures.join(", "),
            codes.join(", "),
            if stranger.is_empty() {
                "nothing".to_owned()
            } else {
                format!("{} bytes that name nothing", stranger.len())
            }
        ),
    ))
}
