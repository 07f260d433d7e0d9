//! Exactly-once effect: jobs whose connections are severed mid-stream, in both directions,
//! reconnect and resend; the event log holds each message once.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol_core::scheduler::{Event, JobState};
use protocol_core::wire::{JobBody, Severity};
use protocol_net::eventlog::EventLog;
use protocol_net::run_job;

use crate::support::killer::Killer;
use crate::support::{Running, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_reconnecting_through_a_connection_killer_take_effect_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let log_path = cfg.event_log.clone();
    let mut running = Running::start(cfg, 4).await;
    let killer = Killer::start(running.scheduler.local_addr(), 40).await;
    let per_job = 60u64;
    let mut tasks = Vec::new();
    let clients: Vec<_> = (0..4).map(|i| running.client(i)).collect();
    for (mut client, (_, keypair)) in clients.into_iter().zip(std::mem::take(&mut running.jobs)) {
        client.address = killer.addr;
        client.backoff = Duration::from_millis(5);
        client.window = 8;
        tasks.push(tokio::spawn(async move {
            let mut bodies = vec![JobBody::Started];
            bodies.extend((0..per_job - 2).map(|n| JobBody::Message {
                severity: Severity::Info,
                text: format!("m{n}"),
            }));
            bodies.push(JobBody::Succeeded);
            run_job(&client, &keypair, bodies).await
        }));
    }
    let mut reconnects = 0;
    for task in tasks {
        let report = task.await.expect("join").expect("job finished");
        reconnects += report.connections - 1;
    }
    let handle = running.scheduler.handle();
    let states = handle.jobs().await.expect("jobs");
    assert!(states.iter().all(|(_, s)| *s == JobState::Succeeded), "{states:?}");
    let stats = running.scheduler.shutdown().await.expect("shutdown");

    assert!(
        killer.severed.load(Ordering::Relaxed) >= 10,
        "the killer must actually cut connections"
    );
    assert!(reconnects >= 10, "jobs reconnected {reconnects} times");
    assert!(
        stats.duplicates > 0,
        "some retransmissions must have been suppressed: {stats:?}"
    );
    assert_eq!(stats.rejected, 0, "{stats:?}");

    let events = EventLog::read(&log_path).expect("log");
    let mut seqs: BTreeMap<_, Vec<u64>> = BTreeMap::new();
    for event in events {
        if let Event::Accepted { job, seq, .. } = event {
            seqs.entry(job).or_default().push(seq);
        }
    }
    assert_eq!(seqs.len(), 4);
    for (job, seqs) in seqs {
        assert_eq!(
            seqs,
            (1..=per_job).collect::<Vec<_>>(),
            "{job}: every message exactly once, in order"
        );
    }
}
