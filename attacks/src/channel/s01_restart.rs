//! S01 — a scheduler restart strands every running job: whatever stops the scheduler (a crash,
//! an attacker who can kill it, an operator's restart), the restarted scheduler has a new key,
//! and jobs pinned to the old one can never report again, so the suite cannot finish.
//!
//! `restart-recovery` must bring them back: the restarted scheduler publishes its new public
//! key in the run directory's contact file, each running job re-reads it after its first failed
//! attempt, resends what was not acknowledged, and finishes; what the first scheduler made
//! durable comes back as duplicates, so every message is accepted exactly once. Without it the
//! jobs keep retrying the old scheduler until they give up.

use std::collections::BTreeMap;

use protocol::{Defence, DriverCheck};
use protocol_core::scheduler::{Event, JobState};
use protocol_net::run_job;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::lifecycle;
use crate::live::target::{Target, TargetConfig, read_events};

/// Running jobs across a scheduler restart.
pub const SCHEDULER_RESTART: Harness = Harness {
    info: HarnessInfo {
        id: "s01-scheduler-restart",
        story: "S01",
        target: "scheduler",
        title: "the scheduler is stopped while three jobs are running and restarted on its event log with a new key; the jobs still hold the old one",
        defences: &[Defence::Driver(DriverCheck::RestartRecovery)],
        control: Control::WithoutEach,
        note: "The first scheduler stops cleanly here (kill -9 at random points of 100 jobs is server/tests/cli/restart.rs); the jobs retry 3 times before giving up (the reference job: 30).",
    },
    run: |w| Box::pin(restart(w)),
};

const JOBS: [&str; 3] = ["r0", "r1", "r2"];
/// Messages in each job's life: started, two progress messages, succeeded.
const PER_JOB: u64 = 4;

async fn restart(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &JOBS).await?;
    let bodies = lifecycle(2);
    // Each job reports started and its first message to the first scheduler.
    let mut pinned = Vec::new();
    for job in &jobs {
        let client = target.client(&job.id);
        run_job(&client, &job.keypair, bodies[..2].to_vec())
            .await
            .map_err(|e| HarnessError::setup(format!("{} could not report before the restart: {e}", job.id)))?;
        pinned.push(client);
    }
    let target = target.restart(&config).await?;
    let mut breaches = Vec::new();
    let mut recontacts = 0;
    for (job, pinned) in jobs.iter().zip(pinned) {
        let mut client = pinned;
        client.max_attempts = 3;
        client.contact = (!w.lacks(DriverCheck::RestartRecovery)).then(|| target.contact_path());
        // The job's whole life from its first message: what it sent before is resent (its
        // client cannot know what the first scheduler made durable), the rest is new.
        match run_job(&client, &job.keypair, bodies.clone()).await {
            Ok(report) => recontacts += report.recontacts,
            Err(e) => breaches.push(format!("{} never reached the restarted scheduler: {e}", job.id)),
        }
    }
    let states = target.handle.jobs().await?;
    // Read while the target (and its directory) is still there.
    let events = read_events(&target.dir().join("events.jsonl"))?;
    target.shutdown().await;
    let mut accepted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for event in events {
        if let Event::Accepted { job, seq, .. } = event {
            accepted.entry(job.to_string()).or_default().push(seq);
        }
    }
    for (job, state) in &states {
        if *state != JobState::Succeeded {
            breaches.push(format!("{job} is left {state} after the restart"));
        }
        let seqs = accepted.get(&job.to_string()).cloned().unwrap_or_default();
        if !seqs.iter().copied().eq(1..=PER_JOB) && *state == JobState::Succeeded {
            breaches.push(format!(
                "{job}'s messages were not each accepted exactly once: {seqs:?}"
            ));
        }
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::RestartRecovery, recontacts),
        format!(
            "restart-recovery: each of the {} running jobs failed to reach the stopped scheduler, re-read the contact file, \
             took the restarted scheduler's new key and address, resent the 2 messages the first one had acknowledged \
             (acknowledged again as duplicates) and finished; every message accepted exactly once",
            JOBS.len()
        ),
    ))
}
