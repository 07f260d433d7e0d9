//! S10 — as an attacker I want to steal SSO from the hub.
//!
//! The hub's single sign-on reaches UI servers as a signed assertion on each proxied
//! request. An attacker on the host records one (a relay stands in for any way of reading
//! the loopback traffic) and replays it: to the same UI server, to another owner's UI
//! server, and after the freshness window; and presents the hub's own session token to a UI
//! server, which is a different audience.

use std::time::Duration;

use protocol::Defence;
use protocol_gateway::assertion::{self, AssertionError};
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::http::client::{HttpRequest, Method};

use super::{code, get, raw};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, eventually};

/// A captured assertion replayed; the hub's token shown to a UI server.
pub const CROSS_AUDIENCE_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s10-cross-audience-token",
        story: "S10",
        target: "hub",
        title: "replays jacintar's captured hub assertion to the same UI server, to another owner's UI server and after 31 s, and presents the hub session token to a UI server",
        defences: &[Defence::Gateway(GatewayCheck::AssertionReplay)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(cross_audience(w)),
};

async fn cross_audience(w: Weakening) -> Result<Outcome, HarnessError> {
    let ui_defences = w.gateway();
    let world = GatewayWorld::start(GatewayOptions {
        ui_defences,
        relay_ui: true,
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

/// The assertion header of a captured request.
fn assertion_of(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case(assertion::HEADER)
            .then(|| value.trim().to_owned())
    })
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut victim = world.login("jacintar").await?;
    let token = victim
        .session_cookie()
        .ok_or_else(|| HarnessError::setup("the login set no session cookie"))?;
    // Spawn both owners' UI servers, then capture one request of jacintar's.
    for path in ["/o/oceans_stage/workflows", "/o/atmosphere_stage/workflows/clouds"] {
        let r = get(&mut victim, path).await?;
        if r.status != 200 {
            return Err(HarnessError::setup(format!("GET {path} was answered {}", code(&r))));
        }
    }
    let captured = eventually(Duration::from_secs(2), || {
        world
            .captured("atmosphere_stage")
            .iter()
            .any(|b| assertion_of(b).is_some())
    })
    .await;
    let header = world
        .captured("atmosphere_stage")
        .iter()
        .find_map(|b| assertion_of(b))
        .filter(|_| captured)
        .ok_or_else(|| HarnessError::setup("no assertion was captured"))?;
    let (atmos, oceans) = (
        world
            .ui_address("atmosphere_stage")
            .ok_or_else(|| HarnessError::setup("atmosphere_stage's UI server was not spawned"))?,
        world
            .ui_address("oceans_stage")
            .ok_or_else(|| HarnessError::setup("oceans_stage's UI server was not spawned"))?,
    );
    let logged = world.log_lines().len();
    let replay = |path: &str| HttpRequest::new(Method::GET, path).header(assertion::HEADER, header.clone());
    let mut breaches = Vec::new();
    let mut refused = Vec::new();
    let mut attempt = |what: &str, r: &protocol_gateway::http::client::HttpResponse| {
        if r.status == 200 {
            breaches.push(format!("{what} was believed (200, the workflow's state as jacintar)"));
        } else {
            refused.push(format!("{what}: {}", code(r)));
        }
    };
    let r = raw(atmos, &replay("/workflows/clouds")).await?;
    attempt("the replay to atmosphere_stage's UI server (assertion-replay)", &r);
    let r = raw(oceans, &replay("/workflows/waves")).await?;
    attempt(
        "the replay to oceans_stage's UI server (assertion-mac: another key)",
        &r,
    );
    let r = raw(atmos, &replay("/workflows/winds")).await?;
    attempt(
        "the replay for another workflow (assertion-mac: the path is signed)",
        &r,
    );
    let hub_token = HttpRequest::new(Method::GET, "/workflows/clouds")
        .header("cookie", format!("tc_session={token}"))
        .header("authorization", format!("Bearer {token}"));
    let r = raw(atmos, &hub_token).await?;
    attempt("the hub's session token at a UI server (another audience)", &r);
    world.advance(Duration::from_secs(31));
    let r = raw(atmos, &replay("/workflows/clouds")).await?;
    attempt("the replay after 31 s (assertion-freshness)", &r);
    // The UI servers answer every refusal alike; their log gives the reason, and only
    // assertion-replay refuses an assertion as replayed.
    let replayed = format!("refused a request: {}", AssertionError::Replayed);
    let replays_refused = world
        .log_lines()
        .iter()
        .skip(logged)
        .filter(|l| l.contains(&replayed))
        .count() as u64;
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::AssertionReplay, replays_refused),
        format!(
            "every replay of jacintar's captured assertion was refused: {}",
            refused.join("; ")
        ),
    ))
}
