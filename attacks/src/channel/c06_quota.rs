//! C06 — one job fills the scheduler's event log: a compromised job, holding its own key,
//! sends message after maximal message (each a valid `message` a running job may send, so
//! every check of the pipeline accepts it), while an honest job reports.
//!
//! `job-quota` must stop it before the event log: past the job's byte quota its messages are
//! refused with `over-quota` and nothing more of it is written, after its strikes its key is
//! revoked, and the honest job finishes. Without it, every one of the job's messages is made
//! durable, however many it sends.

use protocol::{Defence, DriverCheck};
use protocol_core::wire::{JobBody, MAX_MESSAGE_TEXT, RejectCode, Severity};
use protocol_net::JobQuota;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{Heard, Session, Talker, lifecycle, run_honest};
use crate::live::target::{Target, TargetConfig, workflow};

/// A job's stream of maximal messages.
pub const EVENT_LOG_FLOOD: Harness = Harness {
    info: HarnessInfo {
        id: "c06-event-log-flood",
        story: "C06",
        target: "scheduler",
        title: "a compromised job sends 60 maximal progress messages with its own key, each one a running job may send, while an honest job reports",
        defences: &[Defence::Driver(DriverCheck::JobQuota)],
        control: Control::WithoutEach,
        note: "The scheduler here allows a job 16 KiB of messages and revokes it after 5 refusals (the defaults are 64 MiB and 100).",
    },
    run: |w| Box::pin(flood(w)),
};

const MESSAGES: u64 = 60;
const QUOTA_BYTES: u64 = 16 * 1024;
const STRIKES: u32 = 5;

async fn flood(w: Weakening) -> Result<Outcome, HarnessError> {
    let mut config = TargetConfig::for_run(&w);
    config.job_quota = JobQuota {
        max_bytes: QUOTA_BYTES,
        strikes: STRIKES,
        ..JobQuota::default()
    };
    let (target, jobs) = Target::with_jobs(&config, &["h0", "c"]).await?;
    let (h0, c) = (&jobs[0], &jobs[1]);
    let session = Session::open(target.addr(), &target.key(), &workflow(), &c.keypair)
        .await
        .map_err(|e| HarnessError::setup(format!("the compromised job could not connect: {e}")))?;
    let mut talker = Talker::new(session, c.id.clone());
    if talker.say(JobBody::Started).await != Heard::Ack {
        return Err(HarnessError::setup(
            "the compromised job's started was not acknowledged",
        ));
    }
    let text = "x".repeat(MAX_MESSAGE_TEXT);
    let (mut accepted, mut over_quota, mut lost) = (0u64, 0u64, false);
    for _ in 0..MESSAGES {
        let body = JobBody::Message {
            severity: Severity::Info,
            text: text.clone(),
        };
        match talker.say(body).await {
            Heard::Ack => accepted += 1,
            Heard::Rejected(RejectCode::OverQuota) => over_quota += 1,
            Heard::Rejected(other) => {
                return Err(HarnessError::setup(format!(
                    "a maximal message was refused with {}",
                    other.name()
                )));
            }
            Heard::Lost => {
                // Revoked: its connections are closed.
                lost = true;
                break;
            }
        }
    }
    let honest = run_honest(&target.client(&h0.id), &h0.keypair, lifecycle(2), false).await;
    let stats = target.stats();
    target.shutdown().await;
    let per_message = MAX_MESSAGE_TEXT as u64;
    let mut breaches = Vec::new();
    if accepted * per_message > QUOTA_BYTES {
        breaches.push(format!(
            "{accepted} of the job's {MESSAGES} maximal messages were accepted and made durable, past its quota of {QUOTA_BYTES} bytes"
        ));
    }
    if honest.is_err() {
        breaches.push("the honest job did not finish while the other job flooded the log".to_owned());
    }
    let revoked = lost && stats.quota_revoked == 1;
    if breaches.is_empty() && !revoked {
        breaches.push(format!(
            "the job was refused {over_quota} times past its quota and still held its key"
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::JobQuota, stats.quota_refused),
        format!(
            "job-quota accepted {accepted} of the job's maximal messages (its {QUOTA_BYTES}-byte quota), refused the next \
             {over_quota} with over-quota before the event log, then revoked its key and closed its connection; \
             the honest job finished"
        ),
    ))
}
