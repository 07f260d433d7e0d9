//! The driver's weaken-only flaws (attack controls): each does what it says, and only when set.

use std::time::Duration;

use protocol_core::wire::{JobBody, JobMessage, Message, Reply};
use protocol_net::client::connect;
use protocol_net::framing::write_frame;
use tokio::io::AsyncReadExt;

use crate::support::{Running, config};

fn started(running: &Running, i: usize) -> Vec<u8> {
    Message::Job(JobMessage {
        seq: 1,
        claim: running.jobs[i].0.clone(),
        body: JobBody::Started,
    })
    .to_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_transport_carries_messages_and_replies_in_the_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.driver_flaws.plaintext_transport = true;
    let running = Running::start(cfg, 1).await;
    let (mut stream, mut reader, transport) = connect(&running.client(0), &running.jobs[0].1)
        .await
        .expect("the handshake is still Noise");
    let mut transport = transport.into_plaintext();
    let plain = started(&running, 0);
    write_frame(&mut stream, &plain).await.expect("write");
    let frame = reader.read_frame(&mut stream).await.expect("reply");
    assert_eq!(
        Reply::decode(&frame),
        Ok(Reply::Ack { seq: 1 }),
        "the reply is plaintext too"
    );
    let mut out = Vec::new();
    transport
        .decrypt(&frame, &mut out)
        .expect("a plaintext transport takes it as it is");
    assert_eq!(running.scheduler.handle().stats().accepted, 1);
    running.scheduler.shutdown().await.expect("shutdown");
}

async fn closed(stream: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

async fn bad_frame_takes_the_other_connection(shared_fate: bool) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.driver_flaws.shared_fate = shared_fate;
    let running = Running::start(cfg, 2).await;
    let (mut bystander, _, _) = connect(&running.client(0), &running.jobs[0].1)
        .await
        .expect("handshake");
    let (mut hostile, _, _) = connect(&running.client(1), &running.jobs[1].1)
        .await
        .expect("handshake");
    write_frame(&mut hostile, &[7u8; 40]).await.expect("write");
    assert!(closed(&mut hostile).await, "the bad frame closes its own connection");
    let lost = closed(&mut bystander).await;
    running.scheduler.shutdown().await.expect("shutdown");
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_fate_lets_one_bad_frame_close_every_connection_and_only_when_set() {
    assert!(bad_frame_takes_the_other_connection(true).await);
    assert!(!bad_frame_takes_the_other_connection(false).await);
}
