//! S14 — as a defender I'd like to monitor for unusual activity and shut the threat down.
//!
//! The scheduler's counters show refusals by check; the defender revokes the job under
//! suspicion. Revocation must take effect at once on the live connection, refuse every later
//! handshake, and leave the honest jobs alone.

use std::time::Duration;

use protocol_core::Check;
use protocol_core::scheduler::Event;
use protocol_core::wire::{FailReason, JobBody};

use protocol::Defence;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{Heard, Session, Talker, message};
use crate::live::target::{Target, TargetConfig, refusals, workflow};
use crate::live::wait_for;

/// The defender revokes a misbehaving job.
pub const REVOKE_JOB: Harness = Harness {
    info: HarnessInfo {
        id: "s14-revoke-job",
        story: "S14",
        target: "scheduler",
        title: "the defender sees bound-identity refusals in the scheduler's counters, revokes the misbehaving job, and the job tries to carry on",
        defences: &[Defence::Channel(Check::AuthenticatedKey)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(revoke_job(w)),
};

/// How soon "at once" must be.
const CLOSE_WITHIN: Duration = Duration::from_millis(500);

async fn revoke_job(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["h0", "c"]).await?;
    let (h0, c) = (&jobs[0], &jobs[1]);
    let (addr, key, wf) = (target.addr(), target.key(), workflow());
    let mut honest = Talker::new(
        Session::open(addr, &key, &wf, &h0.keypair)
            .await
            .map_err(|e| HarnessError::setup(format!("the honest job could not connect: {e}")))?,
        h0.id.clone(),
    );
    let mut rogue = Talker::new(
        Session::open(addr, &key, &wf, &c.keypair)
            .await
            .map_err(|e| HarnessError::setup(format!("the compromised job could not connect: {e}")))?,
        c.id.clone(),
    );
    if honest.say(JobBody::Started).await != Heard::Ack || rogue.say(JobBody::Started).await != Heard::Ack {
        return Err(HarnessError::setup("the jobs' started was not acknowledged"));
    }
    // The unusual activity: the compromised job claims to be the honest one.
    let before = refusals(&target.stats(), Check::BoundIdentity);
    let _ = rogue
        .send(&message(&h0.id, 2, JobBody::Failed(FailReason::Signal(9))))
        .await;
    let handle = target.handle.clone();
    let seen = wait_for(Duration::from_secs(1), || {
        refusals(&handle.stats(), Check::BoundIdentity) > before
    })
    .await;
    if !seen {
        return Err(HarnessError::setup("the misbehaviour did not show in the counters"));
    }
    // The defender acts.
    if !target.handle.revoke(c.id.clone()).await? {
        return Err(HarnessError::setup("the compromised job had no key to revoke"));
    }
    let closed = rogue.session.closed_by_peer(CLOSE_WITHIN).await;
    let mut carried_on = Vec::new();
    let answered = match Session::open(addr, &key, &wf, &c.keypair).await {
        Ok(session) => {
            rogue.session = session;
            for body in [JobBody::Heartbeat, JobBody::Failed(FailReason::Exit(3))] {
                let kind = body.kind_name();
                if rogue.say(body).await == Heard::Ack {
                    carried_on.push(kind);
                }
            }
            true
        }
        Err(_) => false,
    };
    let honest_ok =
        honest.say(JobBody::Heartbeat).await == Heard::Ack && honest.say(JobBody::Succeeded).await == Heard::Ack;
    let events = target.events().await?;
    let stats = target.stats();
    target.shutdown().await;
    let after = events
        .iter()
        .skip_while(|e| !matches!(e, Event::Revoked { job, .. } if *job == c.id))
        .filter(|e| matches!(e, Event::Accepted { job, .. } if *job == c.id))
        .count();
    let mut breaches = Vec::new();
    if !closed {
        breaches.push(format!(
            "the revoked job's live connection was still open {} ms after the revocation",
            CLOSE_WITHIN.as_millis()
        ));
    }
    if answered {
        breaches.push("the scheduler completed a handshake with the revoked key".to_owned());
    }
    if after > 0 {
        breaches.push(format!(
            "the revoked job carried on: {} took effect after the revocation",
            carried_on.join(", ")
        ));
    }
    if !honest_ok {
        breaches.push(format!("the honest job {} was disturbed by the revocation", h0.id));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::AuthenticatedKey, refusals(&stats, Check::AuthenticatedKey)),
        format!(
            "the defender saw the bound-identity refusal in the counters and revoked {}: its live connection closed \
             within {} ms, its next handshake got no answer (authenticated-key refusals counted: {}), nothing from it \
             took effect afterwards, and the honest job carried on and finished on its own connection",
            c.id,
            CLOSE_WITHIN.as_millis(),
            refusals(&stats, Check::AuthenticatedKey)
        ),
    ))
}
