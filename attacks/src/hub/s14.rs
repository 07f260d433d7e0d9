//! S14 — as a defender I'd like to monitor for unusual activity and be able to shut the
//! threat down.
//!
//! An attacker with an account of their own (mallory) guesses another person's password from
//! one address. The hub counts the failures and raises an alert into its audit log; an
//! operator reads the alert and the counters, blocks the address and revokes mallory's
//! sessions. The attacker's next requests — with the old session, a fresh login, anything —
//! must be refused at once, while other people carry on.

use protocol::Defence;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::defender::Thresholds;
use serde_json::json;

use super::{code, get, post};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, password};

/// The defender blocks a source after an alert.
pub const ALERT_AND_SHUTDOWN: Harness = Harness {
    info: HarnessInfo {
        id: "s14-alert-and-shutdown",
        story: "S14",
        target: "hub",
        title: "guesses a password from one address until the hub raises an alert; an operator blocks the address and revokes the attacker's sessions, and the attacker carries on",
        defences: &[Defence::Gateway(GatewayCheck::SourceBlock)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(alert_and_shutdown(w)),
};

const ATTACKER: &str = "127.0.0.31";
const BYSTANDER: &str = "127.0.0.32";
/// Failures that raise the alert.
const THRESHOLD: u32 = 3;

async fn alert_and_shutdown(w: Weakening) -> Result<Outcome, HarnessError> {
    let hub_defences = w.gateway();
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences,
        operators: vec!["oceans_stage"],
        thresholds: Thresholds {
            auth_failures: THRESHOLD,
            ..GatewayOptions::default().thresholds
        },
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut attacker = world.login_from("mallory", ATTACKER).await?;
    let mut guesser = world.client_from(ATTACKER)?;
    for guess in ["password", "jacintar", "123456", "letmein"] {
        let r = guesser
            .login("jacintar", guess)
            .await
            .map_err(|e| HarnessError::setup(format!("a guess got no answer: {e}")))?;
        if r.status != 401 {
            return Err(HarnessError::setup(format!(
                "a wrong password was answered {}",
                code(&r)
            )));
        }
    }
    let mut breaches = Vec::new();
    // The defender's view: the alert in the hub's audit log.
    let alert = world
        .audit_lines("hub")
        .into_iter()
        .find(|l| l.contains("raised an alert") && l.contains(ATTACKER))
        .map(|l| l.split_once(' ').map_or(l.clone(), |(_, rest)| rest.to_owned()));
    if alert.is_none() {
        breaches.push(format!(
            "{THRESHOLD}+ authentication failures from {ATTACKER} raised no alert"
        ));
    }
    // The operator acts.
    let mut operator = world.login("oceans_stage").await?;
    GatewayWorld::elevate(&mut operator, "oceans_stage", "execute").await?;
    let status = get(&mut operator, "/operator/status").await?;
    if status.status != 200 || !status.text().contains(ATTACKER) {
        return Err(HarnessError::setup(format!(
            "the operator's status did not show {ATTACKER} ({})",
            code(&status)
        )));
    }
    let blocked = post(&mut operator, "/operator/block", &json!({ "source": ATTACKER })).await?;
    let revoked = post(&mut operator, "/operator/revoke-session", &json!({ "user": "mallory" })).await?;
    if blocked.status != 200 || revoked.status != 200 {
        return Err(HarnessError::setup(format!(
            "the operator's block was answered {} and revocation {}",
            code(&blocked),
            code(&revoked)
        )));
    }
    // The attacker carries on at once: the old session, a fresh login, a scan. Each answer
    // `403 blocked` is source-block's.
    let mut refused = Vec::new();
    let mut blocked_answers = 0;
    let r = get(&mut attacker, "/me").await?;
    if r.status == 200 {
        breaches.push("mallory's revoked session still opened /me".to_owned());
    } else {
        blocked_answers += u64::from(code(&r) == "403 blocked");
        refused.push(format!("old session {}", code(&r)));
    }
    let mut again = world.client_from(ATTACKER)?;
    let r = again
        .login("mallory", &password("mallory"))
        .await
        .map_err(|e| HarnessError::setup(format!("the fresh login got no answer: {e}")))?;
    if r.status == 200 {
        let scan = get(&mut again, "/scan").await?;
        breaches.push(format!(
            "the blocked address {ATTACKER} logged in again as mallory and scanned the workflows (scan answered {})",
            code(&scan)
        ));
    } else {
        blocked_answers += u64::from(code(&r) == "403 blocked");
        refused.push(format!("fresh login {}", code(&r)));
    }
    let r = guesser
        .login("jacintar", "guess-after-block")
        .await
        .map_err(|e| HarnessError::setup(format!("a guess got no answer: {e}")))?;
    if r.status == 401 {
        breaches.push(format!(
            "the blocked address {ATTACKER} could keep guessing passwords (401, not refused)"
        ));
    } else {
        blocked_answers += u64::from(code(&r) == "403 blocked");
        refused.push(format!("further guess {}", code(&r)));
    }
    // Everyone else carries on.
    let mut bystander = world.login_from("jacintar", BYSTANDER).await?;
    let served = get(&mut bystander, "/o/atmosphere_stage/workflows").await?;
    if served.status != 200 {
        breaches.push(format!(
            "jacintar, from another address, was refused too ({})",
            code(&served)
        ));
    }
    let actions: Vec<String> = world
        .audit_lines("hub")
        .into_iter()
        .filter(|l| l.contains("User oceans_stage") && (l.contains("block") || l.contains("revoke")))
        .map(|l| l.split_once(' ').map_or(l.clone(), |(_, rest)| rest.to_owned()))
        .collect();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::SourceBlock, blocked_answers),
        format!(
            "the hub's audit log holds the alert ({}); the operator's actions are audited ({}); source-block refused \
             the blocked address at once ({}); jacintar from {BYSTANDER} was still served",
            alert.unwrap_or_default(),
            actions.join("; "),
            refused.join(", ")
        ),
    ))
}
