//! S01 — a scheduler crash strands every running job: whatever stops the scheduler (a crash,
//! an attacker who can kill it, an operator's restart), the restarted scheduler has a new key,
//! and jobs pinned to the old one can never report again, so the suite cannot finish.
//!
//! `restart-recovery` must bring them back: the restarted scheduler publishes its new public
//! key in the run directory's contact file, each running job re-reads it after a failed
//! attempt, resends what was not acknowledged, and finishes; what the crashed scheduler made
//! durable comes back as duplicates, so every message is accepted exactly once. Without it the
//! jobs keep retrying the old scheduler until they give up.

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::{Defence, DriverCheck};
use protocol_core::scheduler::{Event, JobState};
use protocol_net::run_job;
use tokio::task::JoinSet;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::lifecycle;
use crate::live::target::{Target, TargetConfig, read_events};

/// Running jobs across a scheduler crash and restart.
pub const SCHEDULER_RESTART: Harness = Harness {
    info: HarnessInfo {
        id: "s01-scheduler-restart",
        story: "S01",
        target: "scheduler",
        title: "the scheduler crashes while three jobs stream their messages and is restarted on its event log with a new key and port; the jobs still hold the old ones",
        defences: &[Defence::Driver(DriverCheck::RestartRecovery)],
        control: Control::WithoutEach,
        note: "the crash is in-process (the server's tasks aborted, nothing pending flushed); kill -9 of the real scheduler at random points of 100 jobs is server/tests/cli/restart.rs. The jobs retry 3 times before giving up (the reference job: 30)",
    },
    run: |w| Box::pin(restart(w)),
};

const JOBS: [&str; 3] = ["r0", "r1", "r2"];
/// Progress messages per job: enough that every job is mid-stream when the crash comes, few
/// enough for the default rate quota (bursts of 1,000).
const MESSAGES: usize = 500;

async fn restart(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &JOBS).await?;
    let contact = (!w.lacks(DriverCheck::RestartRecovery)).then(|| target.contact_path());
    let mut running = JoinSet::new();
    for job in jobs {
        let mut client = target.client(&job.id);
        client.max_attempts = 3;
        client.contact.clone_from(&contact);
        running.spawn(async move {
            let report = run_job(&client, &job.keypair, lifecycle(MESSAGES)).await;
            (job.id, report)
        });
    }
    // Crash once every job has started and before any has finished.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut all_running = false;
    while !all_running && tokio::time::Instant::now() < deadline {
        all_running = target
            .handle
            .jobs()
            .await
            .is_ok_and(|jobs| jobs.iter().all(|(_, s)| *s == JobState::Running));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let at_crash = target.stats().accepted;
    let per_job = MESSAGES as u64 + 2;
    if !all_running || at_crash >= per_job * JOBS.len() as u64 {
        return Err(HarnessError::setup(format!(
            "the jobs were not all mid-stream at the crash ({at_crash} messages accepted)"
        )));
    }
    let target = target.crash_and_restart(&config).await?;
    let mut breaches = Vec::new();
    let mut recontacts = 0;
    let mut reports = running.join_all().await;
    // In job order, not the order they ended in, so the evidence reads the same every run.
    reports.sort_by(|a, b| a.0.cmp(&b.0));
    for (job, report) in reports {
        match report {
            Ok(report) => recontacts += report.recontacts,
            Err(e) => breaches.push(format!("{job} never reached the restarted scheduler: {e}")),
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
            continue;
        }
        let seqs = accepted.get(&job.to_string()).map_or(&[][..], Vec::as_slice);
        if !seqs.iter().copied().eq(1..=per_job) {
            breaches.push(format!("{job}'s messages were not each accepted exactly once"));
        }
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count_varying(DriverCheck::RestartRecovery, recontacts),
        format!(
            "restart-recovery: the scheduler crashed with each of the {} jobs mid-stream; each failed to reach it, \
             re-read the contact file, took the restarted scheduler's new key and address, resent what it had no \
             acknowledgement for (what the crashed scheduler had made durable acknowledged again as duplicates) and \
             finished; every one of its {} messages accepted exactly once",
            JOBS.len(),
            MESSAGES + 2
        ),
    ))
}
