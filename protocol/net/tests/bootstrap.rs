//! The bootstrap channel with real child processes: the answers a job may give, and the ones
//! that fail its launch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol_core::StaticKeypair;
use protocol_core::bootstrap::{BootstrapError, Offer};
use protocol_core::scheduler::JobState;
use protocol_net::launcher::{LaunchFailure, Launcher};
use protocol_net::{ProcessLauncher, Scheduler};

use crate::support::{config, job, spec, wait_for};

fn sh(script: &str) -> ProcessLauncher {
    ProcessLauncher::new("sh", vec!["-c".into(), script.into()]).quiet()
}

fn offer() -> Offer {
    Offer::new(
        job("a"),
        StaticKeypair::generate_from_os().public(),
        "127.0.0.1:9".into(),
    )
}

async fn launch(script: &str, deadline: Duration) -> Result<protocol_net::launcher::Launched, LaunchFailure> {
    sh(script).launch(offer(), deadline).await
}

#[tokio::test]
async fn the_job_receives_its_identity_the_scheduler_key_and_address_on_stdin() {
    // The job echoes the offer's fields back through a file so the test can read them.
    let dir = tempfile::tempdir().expect("tempdir");
    let seen = dir.path().join("offer");
    let key = StaticKeypair::generate_from_os().public().to_hex();
    let script = format!(
        "read line; printf '%s' \"$line\" > '{}'; echo '{{\"v\":1,\"job_key\":\"{key}\"}}'",
        seen.display()
    );
    let launched = launch(&script, Duration::from_secs(5)).await.expect("launch");
    assert_eq!(hex::encode(launched.key), key);
    let text = std::fs::read_to_string(&seen).expect("offer written");
    let got: Offer = serde_json::from_str(&text).expect("offer is JSON");
    assert_eq!(got.job, job("a"));
    assert_eq!(got.address, "127.0.0.1:9");
}

#[tokio::test]
async fn a_garbage_answer_fails_the_launch() {
    let err = launch("read line; echo hello", Duration::from_secs(5))
        .await
        .expect_err("garbage");
    assert!(
        matches!(err, LaunchFailure::Bootstrap(BootstrapError::Malformed { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversize_answer_fails_the_launch() {
    let err = launch("read line; head -c 5000 /dev/zero | tr '\\0' a", Duration::from_secs(5))
        .await
        .expect_err("oversize");
    assert!(
        matches!(err, LaunchFailure::Bootstrap(BootstrapError::TooLong)),
        "{err}"
    );
}

#[tokio::test]
async fn a_job_that_exits_without_answering_fails_the_launch() {
    let err = launch("read line; exit 3", Duration::from_secs(5))
        .await
        .expect_err("closed");
    assert!(matches!(err, LaunchFailure::Bootstrap(BootstrapError::Closed)), "{err}");
}

#[tokio::test]
async fn a_silent_job_fails_at_the_deadline_and_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let script = format!("echo $$ > '{}'; read line; exec sleep 30", pidfile.display());
    let started = Instant::now();
    let err = launch(&script, Duration::from_millis(300)).await.expect_err("timeout");
    assert!(matches!(err, LaunchFailure::Timeout(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = std::fs::read_to_string(&pidfile).expect("pid").trim().to_owned();
    // The killed child is reaped by the launcher, so /proc/PID is gone (or a different process).
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(!status.contains("sleep"), "the silent job must be killed: {status}");
}

/// Whether process `pid` is gone (reaped, or a zombie nobody waits for).
fn gone(pid: &str) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.is_empty() || status.contains("State:\tZ")
}

#[tokio::test]
async fn a_failed_launch_ends_what_the_job_started_too_not_only_the_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("grandchild");
    // The job starts a background process of its own, then never answers.
    let script = format!("sleep 30 & echo $! > '{}'; read line; sleep 30", pidfile.display());
    let err = launch(&script, Duration::from_millis(300)).await.expect_err("timeout");
    assert!(matches!(err, LaunchFailure::Timeout(_)), "{err}");
    let pid = std::fs::read_to_string(&pidfile).expect("pid").trim().to_owned();
    let mut ended = false;
    for _ in 0..100 {
        if gone(&pid) {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ended, "the job's background process {pid} survived the failed launch");
}

#[tokio::test]
async fn a_job_answering_with_a_low_order_key_is_not_registered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zero = "00".repeat(32);
    let script = format!("read line; echo '{{\"v\":1,\"job_key\":\"{zero}\"}}'; read verdict; echo \"$verdict\" >&2");
    let scheduler = Scheduler::start(
        config(dir.path()),
        StaticKeypair::generate_from_os(),
        Arc::new(sh(&script)),
    )
    .await
    .expect("start");
    let handle = scheduler.handle();
    handle.launch(spec(&job("a"))).await.expect("launch");
    wait_for(|| handle.stats().launch_failed == 1).await;
    assert_eq!(
        handle.jobs().await.expect("jobs"),
        vec![(job("a"), JobState::LaunchFailed)]
    );
    let stats = scheduler.shutdown().await.expect("shutdown");
    assert_eq!(stats.rejected_by_check, vec![("key-validation", 1)]);
}

#[tokio::test]
async fn the_job_is_told_whether_its_key_was_registered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let verdict = dir.path().join("verdict");
    let key = StaticKeypair::generate_from_os().public().to_hex();
    let script = format!(
        "read line; echo '{{\"v\":1,\"job_key\":\"{key}\"}}'; read v; printf '%s' \"$v\" > '{}'",
        verdict.display()
    );
    let scheduler = Scheduler::start(
        config(dir.path()),
        StaticKeypair::generate_from_os(),
        Arc::new(sh(&script)),
    )
    .await
    .expect("start");
    let handle = scheduler.handle();
    handle.launch(spec(&job("a"))).await.expect("launch");
    wait_for(|| std::fs::metadata(&verdict).is_ok_and(|m| m.len() > 0)).await;
    assert_eq!(
        std::fs::read_to_string(&verdict).expect("verdict"),
        r#"{"v":1,"registered":true}"#
    );
    scheduler.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_bootstrap_deadline_runs_on_the_servers_clock_so_a_test_moves_time_instead_of_sleeping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = testkit::ManualClock::new(protocol_core::Millis(1_000_000));
    let mut config = config(dir.path());
    config.core.bootstrap_timeout = Duration::from_secs(30);
    config.clock = Arc::new(clock.clone());
    // A job that holds its bootstrap channel open and never answers.
    let silent = sh("read offer; sleep 30");
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(silent))
        .await
        .expect("start");
    let handle = scheduler.handle();
    handle.launch(spec(&job("a"))).await.expect("launch");
    let state = |jobs: Vec<(protocol_core::JobId, JobState)>| jobs.into_iter().map(|(_, s)| s).next();
    handle.tick().await.expect("tick");
    assert_eq!(state(handle.jobs().await.expect("jobs")), Some(JobState::Launching));
    // 30 s later by the clock, a moment later by the wall.
    clock.advance(Duration::from_secs(31));
    handle.tick().await.expect("tick");
    assert_eq!(state(handle.jobs().await.expect("jobs")), Some(JobState::LaunchFailed));
    scheduler.shutdown().await.expect("shutdown");
}
