//! S03 — as an attacker I want passwords: guessing one account's password from many
//! addresses (each far under the per-source login limit), and a stolen read-only token
//! guessing its owner's password through `/elevate`.
//!
//! `account-backoff` must stop both: after the free failures, an attempt for that account
//! (or that session) is refused with `429 rate-limited` without any password check, even
//! when it carries the right password. And it must be a back-off, not a lock: the owner,
//! logging in from an address they have used before, is let in during the attack.

use protocol::Defence;
use protocol_gateway::backoff::BackoffPolicy;
use protocol_gateway::checks::GatewayCheck;

use super::code;
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, password};

/// Guessing one password from many addresses, and through a stolen token's elevation.
pub const DISTRIBUTED_GUESSING: Harness = Harness {
    info: HarnessInfo {
        id: "s03-distributed-guessing",
        story: "S03",
        target: "hub",
        title: "guesses jacintar's password 12 times from 12 addresses and then sends the right one from a 13th; with mallory's stolen read-only token guesses mallory's password 12 times through /elevate and then sends the right one; jacintar logs in from her usual address meanwhile; sends 24 guesses at oceans_stage's password at once from 24 addresses",
        defences: &[Defence::Gateway(GatewayCheck::AccountBackoff)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(guessing(w)),
};

const GUESSES: usize = 12;
/// Guesses sent at once: more than the free failures plus the password pool's capacity.
const BURST: usize = 24;
const OWNER_ADDRESS: &str = "127.0.0.71";

async fn guessing(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences: w.gateway(),
        // The per-source limits are loose here: only the per-account back-off is tested.
        backoff: BackoffPolicy::default(),
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut breaches = Vec::new();
    let mut backed_off = 0u64;
    // jacintar's usual address: she logged in from it before the attack.
    let _before = world.login_from("jacintar", OWNER_ADDRESS).await?;
    for n in 0..GUESSES {
        let mut guesser = world.client_from(&format!("127.0.71.{n}"))?;
        let r = guesser
            .login("jacintar", &format!("guess-{n}"))
            .await
            .map_err(|e| HarnessError::setup(format!("a guess got no answer: {e}")))?;
        match code(&r).as_str() {
            "401 login-failed" => {}
            "429 rate-limited" => backed_off += 1,
            other => return Err(HarnessError::setup(format!("a guess was answered {other}"))),
        }
    }
    let mut lucky = world.client_from("127.0.71.200")?;
    let r = lucky
        .login("jacintar", &password("jacintar"))
        .await
        .map_err(|e| HarnessError::setup(format!("the right password got no answer: {e}")))?;
    match code(&r).as_str() {
        "200" => breaches.push(format!(
            "after {GUESSES} wrong guesses from {GUESSES} addresses the right password was accepted from a new one"
        )),
        "429 rate-limited" => backed_off += 1,
        other => return Err(HarnessError::setup(format!("the right password was answered {other}"))),
    }
    let mut owner = world.client_from(OWNER_ADDRESS)?;
    let r = owner
        .login("jacintar", &password("jacintar"))
        .await
        .map_err(|e| HarnessError::setup(format!("jacintar's login got no answer: {e}")))?;
    if r.status != 200 {
        breaches.push(format!(
            "jacintar was locked out of her own account from her usual address ({})",
            code(&r)
        ));
    }
    // A stolen read-only token guessing the password through elevation.
    let mut stolen = world.login("mallory").await?;
    for n in 0..GUESSES {
        let r = stolen
            .elevate(&format!("guess-{n}"), "execute")
            .await
            .map_err(|e| HarnessError::setup(format!("an elevation guess got no answer: {e}")))?;
        match code(&r).as_str() {
            "401 login-failed" => {}
            "429 rate-limited" => backed_off += 1,
            other => return Err(HarnessError::setup(format!("an elevation guess was answered {other}"))),
        }
    }
    let r = stolen
        .elevate(&password("mallory"), "execute")
        .await
        .map_err(|e| HarnessError::setup(format!("the right elevation got no answer: {e}")))?;
    match code(&r).as_str() {
        "200" => breaches.push(format!(
            "after {GUESSES} wrong elevation passwords the stolen token was elevated with the right one"
        )),
        "429 rate-limited" => backed_off += 1,
        other => return Err(HarnessError::setup(format!("the right elevation was answered {other}"))),
    }
    // A burst at once: the hub's clock does not move, so the back-off lets through the free
    // failures and the one that starts the wait, however many arrive while they are checked.
    let allowed = BackoffPolicy::default().free_failures as usize + 1;
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..BURST {
        let mut guesser = world.client_from(&format!("127.0.72.{n}"))?;
        burst.spawn(async move { guesser.login("oceans_stage", &format!("burst-{n}")).await });
    }
    let mut checked = 0usize;
    for answer in burst.join_all().await {
        let r = answer.map_err(|e| HarnessError::setup(format!("a burst guess got no answer: {e}")))?;
        match code(&r).as_str() {
            "401 login-failed" => checked += 1,
            "429 rate-limited" => backed_off += 1,
            other => return Err(HarnessError::setup(format!("a burst guess was answered {other}"))),
        }
    }
    if checked > allowed {
        breaches.push(format!(
            "{checked} of {BURST} guesses sent at once had their password checked (the back-off allows {allowed})"
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::AccountBackoff, backed_off),
        format!(
            "account-backoff refused the guesses past the first {} for jacintar and for the stolen session with 429 rate-limited, \
             the right password included, while jacintar logged in from her usual address; of {BURST} guesses sent at once, \
             {checked} were checked (the back-off allows {allowed})",
            BackoffPolicy::default().free_failures
        ),
    ))
}
