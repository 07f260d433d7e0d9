//! C06 — overuse of resources (the science-platform concerns: "limit parallel jobs", quotas).
//!
//! One source floods the hub with requests (each scan reads every owner's run directories) and
//! with logins (each costs an argon2 hash); the per-source rate limits must cut it off with
//! `429 rate-limited` and `Retry-After` while another person is still served. A scheduler
//! with a live-job cap refuses launches past it.

use protocol::Defence;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::limits::RateLimit;

use super::{code, get};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// Request and login floods from one source, and launches past the live-job cap.
pub const RESOURCE_LIMITS: Harness = Harness {
    info: HarnessInfo {
        id: "c06-resource-limits",
        story: "C06",
        target: "hub",
        title: "one source sends 60 scans and 12 logins back to back while another person works; a workflow is asked for jobs past its live-job cap",
        defences: &[Defence::Gateway(GatewayCheck::RateLimit)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(resource_limits(w)),
};

const FLOODER: &str = "127.0.0.41";
const LOGIN_FLOODER: &str = "127.0.0.43";
const BYSTANDER: &str = "127.0.0.42";
const BURST: u32 = 20;
const LOGIN_BURST: u32 = 5;
const SCANS: usize = 60;
const LOGINS: usize = 12;
const CAP: u32 = 2;

async fn resource_limits(w: Weakening) -> Result<Outcome, HarnessError> {
    let hub_defences = w.gateway();
    // The clock stands still, so the buckets never refill: counts are exact.
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences,
        requests: RateLimit::per_second(BURST, 10),
        logins: RateLimit {
            burst: LOGIN_BURST,
            per_minute: 10,
        },
        max_live_jobs: Some(CAP),
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut breaches = Vec::new();
    let mut flooder = world.login_from("mallory", FLOODER).await?;
    let (mut served, mut limited, mut retry_after) = (0, 0, true);
    // Refusals with the answer only the rate limit gives: 429 rate-limited.
    let mut rate_limited = 0;
    for _ in 0..SCANS {
        let r = get(&mut flooder, "/scan").await?;
        match r.status {
            200 => served += 1,
            429 => {
                limited += 1;
                if code(&r) == "429 rate-limited" {
                    rate_limited += 1;
                }
                retry_after &= r.headers.contains_key("retry-after");
            }
            _ => return Err(HarnessError::setup(format!("a scan was answered {}", code(&r)))),
        }
    }
    if limited == 0 {
        breaches.push(format!(
            "all {served} of {SCANS} back-to-back scans from {FLOODER} were served"
        ));
    } else if !retry_after {
        breaches.push("a 429 came without Retry-After".to_owned());
    }
    let mut guesser = world.client_from(LOGIN_FLOODER)?;
    let (mut answered, mut login_limited) = (0, 0);
    for i in 0..LOGINS {
        let r = guesser
            .login("jacintar", &format!("guess-{i}"))
            .await
            .map_err(|e| HarnessError::setup(format!("a login got no answer: {e}")))?;
        if r.status == 429 {
            login_limited += 1;
            if code(&r) == "429 rate-limited" {
                rate_limited += 1;
            }
        } else {
            answered += 1;
        }
    }
    if login_limited == 0 {
        breaches.push(format!(
            "all {answered} of {LOGINS} back-to-back logins from {LOGIN_FLOODER} were checked (argon2 each)"
        ));
    }
    // Another person is still served.
    let mut other = world.login_from("jacintar", BYSTANDER).await?;
    let r = get(&mut other, "/o/atmosphere_stage/workflows").await?;
    if r.status != 200 {
        breaches.push(format!(
            "jacintar from {BYSTANDER} was refused during the flood ({})",
            code(&r)
        ));
    }
    // The live-job cap: the workflow already has one job live; ask for three more.
    let clouds = world.workflow("clouds")?;
    let mut launched = 1;
    let mut capped = Vec::new();
    for task in ["extra1", "extra2", "extra3"] {
        match clouds.launch(task).await {
            Ok(_) => launched += 1,
            Err(testkit::WorldError::Target(e)) => {
                let e = format!("launch refused: {e}");
                if !capped.contains(&e) {
                    capped.push(e);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if launched > CAP {
        breaches.push(format!(
            "{launched} jobs were live in ~atmosphere_stage/clouds past its cap of {CAP}"
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::RateLimit, rate_limited),
        format!(
            "rate-limit served {served} of {SCANS} scans from {FLOODER} (its burst of {BURST}, less its login) and answered the other {limited} \
             429 rate-limited with Retry-After; it checked {answered} of {LOGINS} logins from {LOGIN_FLOODER} and \
             refused {login_limited} with 429; jacintar from {BYSTANDER} was served while {FLOODER} was still cut off; the live-job cap held \
             ~atmosphere_stage/clouds at {CAP} live jobs ({})",
            capped.join(", ")
        ),
    ))
}
