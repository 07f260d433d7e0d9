//! Hostile connections: each is closed on its own while honest jobs carry on.

use std::time::Duration;

use protocol_core::StaticKeypair;
use protocol_core::noise::{Initiator, prologue};
use protocol_core::wire::{JobBody, JobMessage, Message};
use protocol_net::client::connect;
use protocol_net::framing::{ConnError, write_frame};
use protocol_net::{ClientError, run_job};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Running, config, wait_for};

fn lifecycle(n: usize) -> Vec<JobBody> {
    let mut bodies = vec![JobBody::Started];
    bodies.extend(std::iter::repeat_n(JobBody::Heartbeat, n));
    bodies.push(JobBody::Succeeded);
    bodies
}

/// Reads until the peer closes; true if it closed (rather than timing out).
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_own_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = Running::start(config(dir.path()), 2).await;
    let handle = running.scheduler.handle();
    let (honest_cfg, hostile_cfg) = (running.client(0), running.client(1));
    let mut jobs = std::mem::take(&mut running.jobs).into_iter();
    let (_, honest_key) = jobs.next().expect("job 0");
    let (_, hostile_key) = jobs.next().expect("job 1");

    // Garbage before any handshake: an oversize frame header.
    let mut raw = TcpStream::connect(running.scheduler.local_addr())
        .await
        .expect("connect");
    raw.write_all(&[0xff, 0xff, 1, 2, 3]).await.expect("write");
    assert!(closed_by_peer(&mut raw).await);

    // A registered job that sends a frame that does not decrypt after its handshake.
    let (mut stream, _, _) = connect(&hostile_cfg, &hostile_key).await.expect("handshake");
    write_frame(&mut stream, &[7u8; 40]).await.expect("write");
    assert!(closed_by_peer(&mut stream).await);

    // A registered job that sends a well-encrypted message that does not decode.
    let (mut stream, _, mut transport) = connect(&hostile_cfg, &hostile_key).await.expect("handshake");
    let mut sealed = Vec::new();
    transport
        .encrypt(&[1, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1], &mut sealed)
        .expect("encrypt");
    write_frame(&mut stream, &sealed).await.expect("write");
    assert!(closed_by_peer(&mut stream).await);

    wait_for(|| handle.stats().connections_dropped >= 2).await;
    let report = run_job(&honest_cfg, &honest_key, lifecycle(20))
        .await
        .expect("the honest job is unaffected");
    assert_eq!(report.connections, 1);
    let stats = running.scheduler.shutdown().await.expect("shutdown");
    assert_eq!(stats.accepted, 22);
    assert_eq!(stats.handshakes_failed, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_to_a_full_handshake_table_takes_the_oldest_slot_and_the_honest_job_gets_in_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.max_handshakes_in_flight = 4;
    // Long enough that only eviction, never the deadline, frees a slot in this test.
    cfg.handshake_timeout = Duration::from_secs(60);
    let mut running = Running::start(cfg, 1).await;
    let handle = running.scheduler.handle();
    let client = running.client(0);
    let (_, key) = running.jobs.pop().expect("job");
    // Slow-loris: connections that never send a handshake hold every slot…
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(
            TcpStream::connect(running.scheduler.local_addr())
                .await
                .expect("connect"),
        );
        // Arrival order decides who is oldest.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // …so the next connection takes the oldest one's slot, and the oldest is closed,
    let _extra = TcpStream::connect(running.scheduler.local_addr())
        .await
        .expect("connect");
    assert!(closed_by_peer(&mut idle[0]).await, "the oldest holder is closed");
    assert_eq!(handle.stats().handshakes_evicted, 1);
    assert_eq!(handle.stats().connections_refused, 0);
    // and the honest job connects at once, long before any deadline, taking the next oldest.
    let report = run_job(&client, &key, lifecycle(1)).await.expect("honest job");
    assert_eq!((report.messages, report.connections), (3, 1));
    let stats = running.scheduler.shutdown().await.expect("shutdown");
    assert_eq!(stats.handshakes_evicted, 2, "{stats:?}");
    assert_eq!(stats.handshake_timeouts, 0, "{stats:?}");
}

#[tokio::test]
async fn a_handshake_carrying_a_first_payload_gets_no_answer_and_no_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = Running::start(config(dir.path()), 1).await;
    let handle = running.scheduler.handle();
    let (id, key) = &running.jobs[0];
    let mut initiator = Initiator::new(
        key,
        &running.scheduler.public_key(),
        &prologue(&crate::support::workflow()),
    )
    .expect("init");
    let payload = Message::Job(JobMessage {
        seq: 1,
        claim: id.clone(),
        body: JobBody::Started,
    })
    .to_bytes();
    let first = initiator.write_first_with_payload(&payload).expect("write");
    let mut stream = TcpStream::connect(running.scheduler.local_addr())
        .await
        .expect("connect");
    write_frame(&mut stream, &first).await.expect("write");
    assert!(closed_by_peer(&mut stream).await);
    let stats = handle.stats();
    assert_eq!(stats.rejected_by_check, vec![("empty-first-payload", 1)]);
    assert_eq!(stats.accepted, 0);
    running.scheduler.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_handshake_for_another_workflow_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = Running::start(config(dir.path()), 1).await;
    let mut client = running.client(0);
    client.workflow = protocol_core::WorkflowId::new("alice", "other").expect("valid");
    client.max_attempts = 1;
    let err = run_job(&client, &running.jobs[0].1, lifecycle(0))
        .await
        .expect_err("prologue mismatch");
    assert!(matches!(err, ClientError::GaveUp { .. }), "{err}");
    assert_eq!(running.scheduler.handle().stats().handshakes_failed, 1);
    running.scheduler.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_unregistered_key_gets_no_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = Running::start(config(dir.path()), 1).await;
    let stranger = StaticKeypair::generate_from_os();
    let err = connect(&running.client(0), &stranger).await.expect_err("unknown key");
    assert!(matches!(err, ConnError::Closed), "{err}");
    assert_eq!(
        running.scheduler.handle().stats().rejected_by_check,
        vec![("authenticated-key", 1)]
    );
    running.scheduler.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_closes_the_connection_at_once_and_refuses_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = Running::start(config(dir.path()), 1).await;
    let handle = running.scheduler.handle();
    let (id, key) = &running.jobs[0];
    let (mut stream, mut reader, mut transport) = connect(&running.client(0), key).await.expect("handshake");
    let mut sealed = Vec::new();
    let started = Message::Job(JobMessage {
        seq: 1,
        claim: id.clone(),
        body: JobBody::Started,
    })
    .to_bytes();
    transport.encrypt(&started, &mut sealed).expect("encrypt");
    write_frame(&mut stream, &sealed).await.expect("write");
    let ack = reader.read_frame(&mut stream).await.expect("ack");
    let mut plain = Vec::new();
    transport.decrypt(&ack, &mut plain).expect("decrypt");
    assert!(handle.revoke(id.clone()).await.expect("revoke"));
    // The operator is told only once the revocation is durable: a crash after the answer
    // cannot bring the key back on restart.
    let logged = protocol_net::eventlog::EventLog::read(&dir.path().join("events.jsonl")).expect("log");
    assert!(
        logged.iter().any(|e| matches!(
            e,
            protocol_core::scheduler::Event::Revoked {
                job,
                reason: protocol_core::scheduler::RevokeReason::Operator
            } if job == id
        )),
        "revoke answered before its event was durable: {logged:?}"
    );
    assert!(
        closed_by_peer(&mut stream).await,
        "revocation closes the live connection"
    );
    let mut client = running.client(0);
    client.max_attempts = 2;
    let err = run_job(&client, key, vec![JobBody::Heartbeat]).await;
    assert!(
        matches!(
            err,
            Err(ClientError::GaveUp {
                last: ConnError::Closed,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(handle.stats().rejected_by_check, vec![("authenticated-key", 2)]);
    running.scheduler.shutdown().await.expect("shutdown");
}
