//! The scheduler killed with SIGKILL at random points of a run and restarted on its event log
//! and run directory (SPEC.md §9): running jobs reach the new scheduler through the contact
//! file, interrupted launches are relaunched, and every message is accepted exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{ALLOW, EXE};

const JOBS: usize = 100;
/// Reports per job: `started`, the messages, `succeeded`.
const MESSAGES: u64 = 20;
const PER_JOB: u64 = MESSAGES + 2;

fn scheduler(dir: &Path) -> Command {
    let job = format!("\"{EXE}\" job --messages {MESSAGES}");
    let mut command = Command::new(EXE);
    command
        .args(["scheduler", "--job-command", &job, "--jobs", &JOBS.to_string()])
        .args(["--wait", "120", "--event-log"])
        .arg(dir.join("events.jsonl"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .env(ALLOW, "1");
    command
}

/// A scheduler that is killed if the test fails before killing it, so none outlives the test.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `(launched, accepted)` events in the log so far.
fn progress(log: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let count = |kind: &str| text.matches(&format!("{{\"event\":\"{kind}\"")).count();
    (count("launched"), count("accepted"))
}

/// Waits until `reached` says the log has got far enough, then kills the scheduler outright.
/// A failure names the seed and shows what the scheduler wrote (`out` and `err` are its
/// standard output and error files), so a failing run can be read and repeated.
fn kill_when(
    child: Child,
    log: &Path,
    (out, err): (&Path, &Path),
    context: &str,
    reached: impl Fn((usize, usize)) -> bool,
) -> (usize, usize) {
    let mut child = Killed(child);
    let child = &mut child.0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let written = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("stdout:\n{}\nstderr:\n{}", read(out), read(err))
    };
    while !reached(progress(log)) {
        assert!(
            Instant::now() < deadline,
            "the run stalled at {:?}; {context}\n{}",
            progress(log),
            written()
        );
        if let Some(status) = child.try_wait().expect("status") {
            panic!(
                "the scheduler ended ({status}) before the kill point, at {:?}; {context}\n{}",
                progress(log),
                written()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    progress(log)
}

/// A small xorshift generator: the test's kill points, reproducible from the seed a failure
/// prints (`THREATCHECK_RESTART_SEED`).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_scheduler_killed_at_random_points_and_restarted_loses_nothing_and_every_job_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("events.jsonl");
    // THREATCHECK_RESTART_SEED repeats a run whose failure printed its seed.
    let mut seed = std::env::var("THREATCHECK_RESTART_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    let start = seed;
    let total = JOBS as u64 * PER_JOB;
    // One kill while jobs are still being launched, two while messages flow.
    let during_launch = 1 + (next(&mut seed) % (JOBS as u64 / 2)) as usize;
    let mut flowing = [next(&mut seed) % (total / 2), total / 2 + next(&mut seed) % (total / 3)];
    flowing.sort_unstable();
    let mut kills = Vec::new();
    let mut outputs = Vec::new();
    let thresholds = std::iter::once((true, during_launch as u64)).chain(flowing.map(|at| (false, at)));
    for (i, (launching, at)) in thresholds.enumerate() {
        let out = dir.path().join(format!("run{i}.out"));
        let err = dir.path().join(format!("run{i}.err"));
        let child = scheduler(dir.path())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("scheduler");
        let context = format!(
            "seed {start}, run {i}, to be killed at {} {at}, killed before at {kills:?}",
            if launching { "launched" } else { "accepted" }
        );
        kills.push(kill_when(
            child,
            &log,
            (&out, &err),
            &context,
            |(launched, accepted)| (if launching { launched } else { accepted }) as u64 >= at,
        ));
        outputs.push(out);
    }
    let out = scheduler(dir.path())
        .output()
        .expect("the last restart runs to the end");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let context = format!("seed {start}, killed at (launched, accepted) {kills:?}\n{stdout}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{context}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("restarted on the event log"), "{context}");
    assert!(stdout.contains(&format!("tasks succeeded:        {JOBS}")), "{context}");
    assert!(!stdout.contains("not exactly once"), "{context}");
    // The kills fell while jobs ran: some restart found running jobs and waited for them.
    let waited: usize = outputs
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .chain([stdout.to_string()])
        .filter_map(|text| {
            let rest = text.split("waiting for ").nth(1)?;
            rest.split(' ').next()?.parse::<usize>().ok()
        })
        .sum();
    assert!(waited > 0, "no restart found a running job to recover: {context}");

    // Read back what is durable: each task's messages, accepted exactly once, all under one
    // submission (a relaunched task's interrupted submission never got a key registered, so
    // it never sent anything).
    let mut accepted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in std::fs::read_to_string(&log).expect("event log").lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("a whole record");
        if event["event"] == "accepted" {
            let job = event["job"].as_str().expect("job").to_owned();
            accepted
                .entry(job)
                .or_default()
                .push(event["seq"].as_u64().expect("seq"));
        }
    }
    let mut tasks = BTreeMap::new();
    for (job, seqs) in &accepted {
        let task = job.rsplit_once('/').expect("task part").0.to_owned();
        assert!(
            tasks.insert(task, job).is_none(),
            "two submissions of {job}'s task sent messages: {context}"
        );
        assert!(seqs.iter().copied().eq(1..=PER_JOB), "{job}: {seqs:?} {context}");
    }
    assert_eq!(tasks.len(), JOBS, "{context}");
}
