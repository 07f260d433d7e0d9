//! S05 — as an attacker I want to hijack current tokens to take over sessions.
//!
//! The attacker has captured a session token (from a shared terminal, a proxy log, a
//! browser's disk) and replays it when its owner no longer uses it: after logout, after it
//! lay idle past the idle timeout, after a kept-alive session passed its absolute lifetime,
//! and the pre-elevation token after its owner elevated. The hub's clock is a manual clock,
//! so time is moved, not waited for. Each replay is tried in the cookie and as a bearer token.
//!
//! One attack, four harnesses: each control removes the session check one replay meets.

use std::time::Duration;

use protocol_gateway::http::client::{HubClient, Method};
use protocol_people::{PeopleCheck, PeopleDefences};

use super::{code, get, post, raw, with_token};
use crate::harness::{Harness, HarnessError, HarnessInfo, Outcome, Side};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

const TITLE: &str = "replays captured session tokens after logout, after the idle timeout, after the absolute lifetime of a kept-alive session, and the pre-elevation token after elevation";

/// Replay after logout (the cited harness).
pub const TOKEN_REPLAY: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-replay",
        story: "S05",
        target: "hub",
        title: TITLE,
        defence: "token-revocation",
        control: "variant:token-revocation",
    },
    run: |side| Box::pin(replay(side, PeopleCheck::TokenRevocation)),
};

/// The same attack; the control lacks the idle timeout.
pub const IDLE_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-idle-expiry",
        story: "S05",
        target: "hub",
        title: TITLE,
        defence: "token-idle-expiry",
        control: "variant:token-idle-expiry",
    },
    run: |side| Box::pin(replay(side, PeopleCheck::TokenIdleExpiry)),
};

/// The same attack; the control lacks the absolute lifetime.
pub const EXPIRED_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-absolute-expiry",
        story: "S05",
        target: "hub",
        title: TITLE,
        defence: "token-absolute-expiry",
        control: "variant:token-absolute-expiry",
    },
    run: |side| Box::pin(replay(side, PeopleCheck::TokenAbsoluteExpiry)),
};

/// The same attack; the control keeps the old token through elevation.
pub const PRE_ELEVATION_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-pre-elevation-token",
        story: "S05",
        target: "hub",
        title: TITLE,
        defence: "elevation-new-token",
        control: "variant:elevation-new-token",
    },
    run: |side| Box::pin(replay(side, PeopleCheck::ElevationNewToken)),
};

/// Session timings of the target.
const IDLE: Duration = Duration::from_secs(10 * 60);
const LIFETIME: Duration = Duration::from_secs(60 * 60);

async fn replay(side: Side, control: PeopleCheck) -> Result<Outcome, HarnessError> {
    let session_defences = match side {
        Side::Real => PeopleDefences::all(),
        Side::Control => PeopleDefences::all().without(control),
    };
    let world = GatewayWorld::start(GatewayOptions {
        session_defences,
        idle_timeout: IDLE,
        absolute_lifetime: LIFETIME,
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

fn captured(c: &HubClient) -> Result<String, HarnessError> {
    c.session_cookie()
        .ok_or_else(|| HarnessError::setup("the hub set no session cookie"))
}

/// Replays `token` at `/me` in the cookie and as a bearer token; the breaches it finds.
async fn try_replay(
    world: &GatewayWorld,
    token: &str,
    when: &str,
    check: &str,
    defended: &mut Vec<String>,
) -> Result<Vec<String>, HarnessError> {
    let mut breaches = Vec::new();
    let mut codes = Vec::new();
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
            let c = code(&r);
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
    }
    if breaches.is_empty() {
        defended.push(format!("{check}: {when} → {}", codes.join(", ")));
    }
    Ok(breaches)
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut breaches = Vec::new();
    let mut defended = Vec::new();

    // After logout.
    let mut victim = world.login("mallory").await?;
    let token = captured(&victim)?;
    let out = post(&mut victim, "/logout", &serde_json::json!({})).await?;
    if out.status != 200 {
        return Err(HarnessError::setup(format!("logout was answered {}", out.status)));
    }
    breaches.extend(try_replay(world, &token, "after logout", "token-revocation", &mut defended).await?);

    // After lying idle past the idle timeout.
    let victim = world.login("mallory").await?;
    let token = captured(&victim)?;
    world.advance(IDLE + Duration::from_secs(60));
    breaches.extend(
        try_replay(
            world,
            &token,
            "after the idle timeout",
            "token-idle-expiry",
            &mut defended,
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
            "token-absolute-expiry",
            &mut defended,
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
            "elevation-new-token",
            &mut defended,
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
    Ok(Outcome::judge(
        breaches,
        format!(
            "every replay was refused by the hub's session checks, in the cookie and as a bearer token ({}); the \
             owners' live sessions kept working",
            defended.join("; ")
        ),
    ))
}
