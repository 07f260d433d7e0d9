//! S05 — as an attacker I want to hijack current tokens to take over sessions.
//!
//! The attacker has captured a session token (from a shared terminal, a proxy log, a
//! browser's disk) and replays it when its owner no longer uses it: after logout, after it
//! lay idle past the idle timeout, after a kept-alive session passed its absolute lifetime,
//! and the pre-elevation token after its owner elevated. The hub's clock is a manual clock,
//! so time is moved, not waited for. Each replay is tried in the cookie and as a bearer token.
//!
//! One attack, four harnesses: each control removes the session check one replay meets, and
//! each harness counts as fired the refusals of the replay its check meets.

use std::time::Duration;

use protocol::Defence;
use protocol_gateway::http::client::{HubClient, Method};
use protocol_people::PeopleCheck;

use super::{code, get, post, raw, with_token};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

const TITLE: &str = "replays captured session tokens after logout, after the idle timeout, after the absolute lifetime of a kept-alive session, and the pre-elevation token after elevation";

/// Replay after logout (the cited harness).
pub const TOKEN_REPLAY: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-replay",
        story: "S05",
        target: "hub",
        title: TITLE,
        defences: &[Defence::People(PeopleCheck::TokenRevocation)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(replay(w, PeopleCheck::TokenRevocation)),
};

/// The same attack; the control lacks the idle timeout.
pub const IDLE_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-idle-expiry",
        story: "S05",
        target: "hub",
        title: TITLE,
        defences: &[Defence::People(PeopleCheck::TokenIdleExpiry)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(replay(w, PeopleCheck::TokenIdleExpiry)),
};

/// The same attack; the control lacks the absolute lifetime.
pub const EXPIRED_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-absolute-expiry",
        story: "S05",
        target: "hub",
        title: TITLE,
        defences: &[Defence::People(PeopleCheck::TokenAbsoluteExpiry)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(replay(w, PeopleCheck::TokenAbsoluteExpiry)),
};

/// The same attack; the control keeps the old token through elevation.
pub const PRE_ELEVATION_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-pre-elevation-token",
        story: "S05",
        target: "hub",
        title: TITLE,
        defences: &[Defence::People(PeopleCheck::ElevationNewToken)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(replay(w, PeopleCheck::ElevationNewToken)),
};

/// Session timings of the target.
const IDLE: Duration = Duration::from_secs(10 * 60);
const LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The attack on a target weakened by `w`; `tested` is the harness's defence, whose replay's
/// refusals count as its firing.
async fn replay(w: Weakening, tested: PeopleCheck) -> Result<Outcome, HarnessError> {
    let session_defences = w.people();
    let world = GatewayWorld::start(GatewayOptions {
        session_defences,
        idle_timeout: IDLE,
        absolute_lifetime: LIFETIME,
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world, tested).await;
    world.stop().await;
    result
}

fn captured(c: &HubClient) -> Result<String, HarnessError> {
    c.session_cookie()
        .ok_or_else(|| HarnessError::setup("the hub set no session cookie"))
}

/// Replays `token` at `/me` in the cookie and as a bearer token; the breaches it finds. Each
/// refusal is counted in `refused` for `check`, the one session check this replay meets.
async fn try_replay(
    world: &GatewayWorld,
    token: &str,
    when: &str,
    check: PeopleCheck,
    defended: &mut Vec<String>,
    refused: &mut Vec<(PeopleCheck, u64)>,
) -> Result<Vec<String>, HarnessError> {
    let mut breaches = Vec::new();
    let mut codes = Vec::new();
    let mut refusals = 0;
    for how in ["cookie", "bearer"] {
        let r = raw(world.addr(), &with_token(Method::GET, "/me", how, token)).await?;
        if r.status == 200 {
            let body = r.json();
            breaches.push(format!(
                "the token replayed {when} ({how}) opened {}'s session at level {}",
                body["user"].as_str().unwrap_or("?"),
                body["level"].as_str().unwrap_or("?")
            ));
        } else {
            refusals += 1;
            let c = code(&r);
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
    }
    refused.push((check, refusals));
    if breaches.is_empty() {
        defended.push(format!("{check}: {when} → {}", codes.join(", ")));
    }
    Ok(breaches)
}

async fn attack(world: &GatewayWorld, tested: PeopleCheck) -> Result<Outcome, HarnessError> {
    let mut breaches = Vec::new();
    let mut defended = Vec::new();
    let mut refused = Vec::new();

    // After logout.
    let mut victim = world.login("mallory").await?;
    let token = captured(&victim)?;
    let out = post(&mut victim, "/logout", &serde_json::json!({})).await?;
    if out.status != 200 {
        return Err(HarnessError::setup(format!("logout was answered {}", out.status)));
    }
    breaches.extend(
        try_replay(
            world,
            &token,
            "after logout",
            PeopleCheck::TokenRevocation,
            &mut defended,
            &mut refused,
        )
        .await?,
    );

    // After lying idle past the idle timeout.
    let victim = world.login("mallory").await?;
    let token = captured(&victim)?;
    world.advance(IDLE + Duration::from_secs(60));
    breaches.extend(
        try_replay(
            world,
            &token,
            "after the idle timeout",
            PeopleCheck::TokenIdleExpiry,
            &mut defended,
            &mut refused,
        )
        .await?,
    );

    // Kept alive (used every 9 minutes) past its absolute lifetime.
    let mut victim = world.login("mallory").await?;
    let token = captured(&victim)?;
    let step = Duration::from_secs(9 * 60);
    let mut elapsed = Duration::ZERO;
    while elapsed + step < LIFETIME {
        world.advance(step);
        elapsed += step;
        let r = get(&mut victim, "/me").await?;
        if r.status != 200 {
            return Err(HarnessError::setup(format!(
                "the kept-alive session was refused before its lifetime ({})",
                code(&r)
            )));
        }
    }
    world.advance(step);
    breaches.extend(
        try_replay(
            world,
            &token,
            "after the absolute lifetime of a kept-alive session",
            PeopleCheck::TokenAbsoluteExpiry,
            &mut defended,
            &mut refused,
        )
        .await?,
    );

    // The pre-elevation token after its owner elevated.
    let mut victim = world.login("jacintar").await?;
    let token = captured(&victim)?;
    GatewayWorld::elevate(&mut victim, "jacintar", "execute").await?;
    if captured(&victim)? == token {
        breaches.push("elevation kept the same token".to_owned());
    }
    breaches.extend(
        try_replay(
            world,
            &token,
            "after its owner elevated",
            PeopleCheck::ElevationNewToken,
            &mut defended,
            &mut refused,
        )
        .await?,
    );
    // The elevated session itself still works: the refusals are not a broken hub.
    let me = get(&mut victim, "/me").await?;
    if me.status != 200 {
        return Err(HarnessError::setup(format!(
            "the elevated session was refused ({})",
            code(&me)
        )));
    }
    let fired: u64 = refused.iter().filter(|(c, _)| *c == tested).map(|(_, n)| n).sum();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(tested, fired),
        format!(
            "every replay was refused by the hub's session checks, in the cookie and as a bearer token ({}); the \
             owners' live sessions kept working",
            defended.join("; ")
        ),
    ))
}
