//! S02 — as an attacker I want to be able to fool authentication on the hub.
//!
//! Two ways in: a session token the hub did not issue (random, malformed, truncated, one
//! byte changed from a real one, in the cookie, as a bearer token, or both at once), and
//! the hub's own word — a UI server believes only the hub's signed assertion of who is
//! asking, so the attacker speaks to a UI server directly with an assertion they made.

use std::collections::BTreeMap;

use protocol::Defence;
use protocol_core::Owner;
use protocol_gateway::assertion::{self, Assertion, AssertionError, HubKey};
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::clock::Clock;
use protocol_gateway::http::client::{HttpRequest, Method};
use protocol_people::ops::Level;
use rand_core::RngCore;

use super::{code, get, raw, with_token};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// Forged tokens at the hub, forged assertions at a UI server.
pub const FORGED_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s02-forged-token",
        story: "S02",
        target: "hub",
        title: "presents forged, random, malformed, truncated and one-byte-modified session tokens (cookie, bearer, both) at the hub, and assertions signed with a guessed key straight to a UI server",
        defences: &[Defence::Gateway(GatewayCheck::AssertionMac)],
        control: Control::WithoutEach,
        note: "the UI server believes any well-formed assertion",
    },
    run: |w| Box::pin(forged_token(w)),
};

/// The only workflow only its owner may read.
const SECRET: &str = "/o/oceans_stage/workflows/currents";

fn flip(token: &str, at: usize) -> String {
    token
        .chars()
        .enumerate()
        .map(|(i, c)| if i == at { if c == '0' { '1' } else { '0' } } else { c })
        .collect()
}

async fn forged_token(w: Weakening) -> Result<Outcome, HarnessError> {
    let ui_defences = w.gateway();
    let world = GatewayWorld::start(GatewayOptions {
        ui_defences,
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    // A real session of the attacker's own, to forge from.
    let mut own = world.login("mallory").await?;
    let real = own
        .session_cookie()
        .ok_or_else(|| HarnessError::setup("the login set no session cookie"))?;
    let mut random = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut random);
    let forged: Vec<(&str, String)> = vec![
        ("random", hex::encode(random)),
        ("all-zero", "0".repeat(64)),
        ("first byte changed", flip(&real, 0)),
        ("last byte changed", flip(&real, 63)),
        ("truncated", real[..62].to_owned()),
        ("extended", format!("{real}00")),
        ("malformed", "not-a-token".to_owned()),
        ("empty", String::new()),
        ("oversized", "a".repeat(4096)),
        ("non-hex", "z".repeat(64)),
    ];
    let mut breaches = Vec::new();
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    let mut tried = 0;
    for (what, token) in &forged {
        for how in ["cookie", "bearer"] {
            for path in ["/me", SECRET] {
                let r = raw(world.addr(), &with_token(Method::GET, path, how, token)).await?;
                tried += 1;
                if r.status == 200 {
                    breaches.push(format!("a {what} token in the {how} was accepted at {path}"));
                } else {
                    *refusals.entry(code(&r)).or_default() += 1;
                }
            }
        }
    }
    // Both carriers at once: the attacker's real cookie and a forged bearer.
    let both = HttpRequest::new(Method::GET, "/me")
        .header("cookie", format!("tc_session={real}"))
        .header("authorization", format!("Bearer {}", hex::encode(random)));
    let r = raw(world.addr(), &both).await?;
    tried += 1;
    if r.status == 200 {
        breaches.push("a cookie and a forged bearer token together were accepted".to_owned());
    } else {
        *refusals.entry(code(&r)).or_default() += 1;
    }
    // The hub's word: spawn the owner's UI server through the hub, then go round the hub.
    let listed = get(&mut own, "/o/oceans_stage/workflows").await?;
    if listed.status != 200 {
        return Err(HarnessError::setup(format!(
            "listing oceans_stage was answered {}",
            listed.status
        )));
    }
    let ui = world
        .ui_address("oceans_stage")
        .ok_or_else(|| HarnessError::setup("oceans_stage's UI server was not spawned"))?;
    let path = "/workflows/currents";
    let mut forged_assertions: Vec<(&str, Option<String>)> = vec![
        ("no assertion", None),
        ("a garbage assertion", Some("v1 user=oceans_stage".to_owned())),
    ];
    for (what, key) in [
        ("an assertion signed with a guessed key", HubKey::from_bytes([0xee; 32])),
        (
            "an assertion signed with a random key",
            HubKey::generate(&mut rand_core::OsRng),
        ),
    ] {
        let mut nonce = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut nonce);
        let a = Assertion {
            user: Owner::new("oceans_stage").map_err(HarnessError::setup)?,
            level: Level::Write,
            session: 1,
            operator: true,
            at: world.clock().now(),
            nonce,
        };
        forged_assertions.push((what, Some(assertion::sign(&key, &a, "GET", path, b""))));
    }
    let mut ui_refusals = 0;
    let mut ui_codes = Vec::new();
    let logged = world.log_lines().len();
    for (what, header) in &forged_assertions {
        let mut req = HttpRequest::new(Method::GET, path);
        if let Some(h) = header {
            req = req.header(assertion::HEADER, h.clone());
        }
        let r = raw(ui, &req).await?;
        if r.status == 200 {
            let status = r.json()["status"].as_str().unwrap_or("?").to_owned();
            breaches.push(format!(
                "oceans_stage's UI server believed {what} claiming to be oceans_stage and showed ~oceans_stage/currents \
                 (status {status}), which only its owner may read"
            ));
        } else {
            ui_refusals += 1;
            let c = code(&r);
            if !ui_codes.contains(&c) {
                ui_codes.push(c);
            }
        }
    }
    // The UI server answers every refusal alike; its log gives the reason, and only
    // assertion-mac refuses with a MAC mismatch.
    let mismatch = format!("refused a request: {}", AssertionError::BadMac);
    let bad_mac = world
        .log_lines()
        .iter()
        .skip(logged)
        .filter(|l| l.contains(&mismatch))
        .count();
    let codes: Vec<String> = refusals.iter().map(|(c, n)| format!("{n}× {c}")).collect();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::AssertionMac, bad_mac as u64),
        format!(
            "all {tried} forged session tokens were refused by the hub's session store ({}): no random, zeroed, \
             byte-changed, truncated, extended or malformed token opened /me or ~oceans_stage/currents; assertion-mac \
             refused all {ui_refusals} forged assertions sent straight to oceans_stage's UI server ({})",
            codes.join(", "),
            ui_codes.join(", ")
        ),
    ))
}
