//! A scheduler restarted on its event log: state and per-job sequences come back, the old key
//! does not (SPEC.md §9).

use std::sync::Arc;

use protocol_core::StaticKeypair;
use protocol_core::scheduler::JobState;
use protocol_core::wire::{JobBody, Severity};
use protocol_net::{ClientError, Scheduler, run_job};

use crate::support::{Running, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scheduler_restores_state_and_sequences_but_not_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = Running::start(config(dir.path()), 1).await;
    let client = running.client(0);
    let (id, key) = running.jobs.pop().expect("job");
    let msg = |n: u32| JobBody::Message {
        severity: Severity::Info,
        text: format!("m{n}"),
    };
    run_job(&client, &key, vec![JobBody::Started, msg(1), msg(2)])
        .await
        .expect("first half");
    let before = running.scheduler.handle().jobs().await.expect("jobs");
    let old_key = running.scheduler.public_key();
    running.scheduler.shutdown().await.expect("shutdown");

    let restarted = Scheduler::start(
        config(dir.path()),
        StaticKeypair::generate_from_os(),
        Arc::new(crate::support::KeyLauncher::default()),
    )
    .await
    .expect("restart");
    assert_ne!(restarted.public_key(), old_key, "a restarted scheduler has a new key");
    let handle = restarted.handle();
    assert_eq!(handle.jobs().await.expect("jobs"), before);
    assert_eq!(before, vec![(id.clone(), JobState::Running)]);

    // The job still pins the old key: its handshake fails.
    let mut stale = client.clone();
    stale.address = restarted.local_addr();
    stale.max_attempts = 1;
    let err = run_job(&stale, &key, vec![msg(3)])
        .await
        .expect_err("old scheduler key");
    assert!(matches!(err, ClientError::GaveUp { .. }), "{err}");

    // Given the new key (re-keyed), it continues where it left off: message 4 is fresh, and
    // its retransmission of message 3 is recognised as a duplicate of the restored history.
    let mut rekeyed = stale.clone();
    rekeyed.scheduler_key = restarted.public_key();
    rekeyed.max_attempts = 3;
    let report = run_job(
        &rekeyed,
        &key,
        vec![JobBody::Started, msg(1), msg(2), JobBody::Succeeded],
    )
    .await
    .expect("resumed");
    assert_eq!(report.messages, 4);
    let stats = restarted.shutdown().await.expect("shutdown");
    assert_eq!((stats.duplicates, stats.accepted), (3, 1), "{stats:?}");
}
