//! S08 — as an attacker I want to inject code into (change the course of) a running suite.
//!
//! A job's outputs drive what runs next. A job may complete only the custom outputs its task
//! declares, each once; the outputs the scheduler derives itself (`succeeded`, `failed`, …)
//! follow only from the job's real state changes.

use protocol_core::Check;
use protocol_core::scheduler::{Event, JobState};
use protocol_core::wire::{JobBody, OutputName, RejectCode};

use protocol::Defence;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{Heard, Session, Talker};
use crate::live::target::{DECLARED_OUTPUT, Target, TargetConfig, refusals, workflow};

/// A compromised job completes outputs it must not.
pub const JOB_CHANGES_WORKFLOW: Harness = Harness {
    info: HarnessInfo {
        id: "s08-job-changes-workflow",
        story: "S08",
        target: "scheduler",
        title: "a running compromised job completes reserved outputs (succeeded, failed, expired, submit-failed), an undeclared output, and its declared output twice",
        defences: &[Defence::Channel(Check::ValidTransition)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(job_changes_workflow(w)),
};

const FORBIDDEN: [&str; 5] = ["succeeded", "failed", "expired", "submit-failed", "launch-missiles"];

async fn job_changes_workflow(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["c"]).await?;
    let c = &jobs[0];
    let session = Session::open(target.addr(), &target.key(), &workflow(), &c.keypair)
        .await
        .map_err(|e| HarnessError::setup(format!("the compromised job could not connect: {e}")))?;
    let mut talker = Talker::new(session, c.id.clone());
    if talker.say(JobBody::Started).await != Heard::Ack {
        return Err(HarnessError::setup(
            "the compromised job's started was not acknowledged",
        ));
    }
    let output = |name: &str| OutputName::new(name).map(JobBody::Output).map_err(HarnessError::setup);
    let mut refused = Vec::new();
    for name in FORBIDDEN {
        if talker.say(output(name)?).await == Heard::Rejected(RejectCode::InvalidTransition) {
            refused.push(name);
        }
    }
    let first = talker.say(output(DECLARED_OUTPUT)?).await;
    let repeat = talker.say(output(DECLARED_OUTPUT)?).await;
    let events = target.events().await?;
    let state = target.state(&c.id).await?;
    let stats = target.stats();
    target.shutdown().await;

    let completed: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Accepted {
                job,
                body: JobBody::Output(name),
                ..
            } if *job == c.id => Some(name.to_string()),
            _ => None,
        })
        .collect();
    let mut breaches = Vec::new();
    let forbidden: Vec<&String> = completed.iter().filter(|n| FORBIDDEN.contains(&n.as_str())).collect();
    if !forbidden.is_empty() {
        breaches.push(format!(
            "the event log records {} completing {} while {}: what runs next now follows outputs the job never earned",
            c.id,
            forbidden.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            state.map_or("unknown".to_owned(), |s| s.to_string())
        ));
    }
    if completed.iter().filter(|n| *n == DECLARED_OUTPUT).count() > 1 {
        breaches.push(format!("{DECLARED_OUTPUT} was completed twice"));
    }
    if first != Heard::Ack {
        breaches.push(format!("the declared output {DECLARED_OUTPUT} was refused"));
    }
    if state != Some(JobState::Running) {
        breaches.push(format!(
            "{} is {} instead of running",
            c.id,
            state.map_or("unknown".to_owned(), |s| s.to_string())
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::ValidTransition, refusals(&stats, Check::ValidTransition)),
        format!(
            "valid-transition refused {} (rejected: invalid transition) and the repeat of {DECLARED_OUTPUT} ({}); \
             only the declared output took effect, once; valid-transition refusals counted: {}; the job is still running",
            refused.join(", "),
            if repeat == Heard::Rejected(RejectCode::InvalidTransition) {
                "refused"
            } else {
                "not refused"
            },
            refusals(&stats, Check::ValidTransition)
        ),
    ))
}
