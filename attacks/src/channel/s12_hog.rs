//! S12 — a malicious job, holding its own key, tries to take every connection the scheduler
//! will accept, so that other jobs cannot report. Each connection is fully authenticated (the
//! attacker has the key), so the handshake deadline and the in-flight cap do not apply; the
//! per-key cap does: a key's newest connection closes its oldest beyond the cap.

use std::time::Duration;

use protocol::{Defence, DriverCheck};
use protocol_core::wire::{JobBody, Reply};

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{Session, lifecycle, message, run_honest};
use crate::live::target::{Target, TargetConfig, workflow};

/// One key's connections fill the scheduler.
pub const CONNECTION_HOG: Harness = Harness {
    info: HarnessInfo {
        id: "s12-connection-hog",
        story: "S12",
        target: "scheduler",
        title: "a compromised job opens authenticated connection after connection with its own key, keeping all of them, until the scheduler's connection limit is reached, while an honest job tries to report",
        defences: &[Defence::Driver(DriverCheck::KeyConnectionCap)],
        control: Control::WithoutEach,
        note: "one key may hold any number of connections; the server-wide connection limit stays",
    },
    run: |w| Box::pin(connection_hog(w)),
};

/// Connections the target accepts at once (the production default is 20,000; small here so
/// the harness stays quick, the mechanism is the same).
const MAX_CONNECTIONS: usize = 24;
/// How long the honest job may take.
const HONEST_BOUND: Duration = Duration::from_secs(3);

async fn connection_hog(w: Weakening) -> Result<Outcome, HarnessError> {
    let mut config = TargetConfig::for_run(&w);
    config.max_connections = MAX_CONNECTIONS;
    let (target, jobs) = Target::with_jobs(&config, &["h0", "c"]).await?;
    let (h0, c) = (&jobs[0], &jobs[1]);
    let started = message(&c.id, 1, JobBody::Started);
    // Every connection authenticates and delivers a message (the first is accepted, the rest
    // are acknowledged duplicates), so each is a confirmed connection of c's key.
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let Ok(mut session) = Session::open(target.addr(), &target.key(), &workflow(), &c.keypair).await else {
            continue;
        };
        if matches!(session.exchange(&started).await, Ok(Reply::Ack { seq: 1 })) {
            held.push(session);
        }
    }
    if held.is_empty() {
        return Err(HarnessError::setup(
            "the compromised job could not open a single connection",
        ));
    }
    let honest = tokio::time::timeout(
        HONEST_BOUND,
        run_honest(&target.client(&h0.id), &h0.keypair, lifecycle(1), false),
    )
    .await;
    let mut still_open = 0;
    for session in &mut held {
        if !session.closed_by_peer(Duration::from_millis(20)).await {
            still_open += 1;
        }
    }
    let stats = target.stats();
    target.shutdown().await;
    let mut breaches = Vec::new();
    match honest {
        Ok(Ok(_)) => {}
        // Not the error's own words: they vary with socket timing, the evidence must not.
        Ok(Err(_)) => breaches.push(format!(
            "the honest job was locked out while {} connections of one key filled the scheduler",
            held.len()
        )),
        Err(_) => breaches.push(format!(
            "the honest job did not finish within {} s while {} connections of one key filled the scheduler",
            HONEST_BOUND.as_secs(),
            held.len()
        )),
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::KeyConnectionCap, stats.key_cap_closed),
        format!(
            "key-connection-cap: the compromised job authenticated {} connections in a row; each beyond the cap \
             closed its oldest, {still_open} stayed open, and the honest job finished",
            held.len()
        ),
    ))
}
