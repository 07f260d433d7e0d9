//! UI servers' commands over the real channel: accepted only from registered client keys.

use std::time::Duration;

use protocol_core::wire::{ClientCommand, CommandOp, Message, RejectCode, Reply};
use protocol_core::{Owner, StaticKeypair};
use protocol_net::client::{Connection, connect, connect_to};
use protocol_net::framing::write_frame;

use crate::support::{Running, config, workflow};

async fn send(connection: &mut Connection, message: &Message) -> Reply {
    let (stream, reader, transport) = connection;
    let mut sealed = Vec::new();
    transport.encrypt(&message.to_bytes(), &mut sealed).expect("encrypt");
    write_frame(stream, &sealed).await.expect("write");
    let frame = reader.read_frame(stream).await.expect("reply");
    let mut plain = Vec::new();
    transport.decrypt(&frame, &mut plain).expect("decrypt");
    Reply::decode(&plain).expect("decode")
}

fn hold(seq: u64) -> Message {
    Message::Command(ClientCommand {
        seq,
        actor: Owner::new("jacintar").expect("valid"),
        op: CommandOp::Hold,
        target: "1/j0".into(),
    })
}

#[tokio::test]
async fn a_registered_ui_server_commands_and_a_job_key_cannot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = Running::start(config(dir.path()), 1).await;
    let handle = running.scheduler.handle();
    let ui = StaticKeypair::generate_from_os();
    handle
        .register_client(ui.public(), Owner::new("alice").expect("valid"))
        .await
        .expect("register");
    let addr = running.scheduler.local_addr();
    let key = running.scheduler.public_key();
    let mut client = connect_to(addr, &key, &workflow(), &ui, Duration::from_secs(5))
        .await
        .expect("client handshake");
    assert_eq!(send(&mut client, &hold(1)).await, Reply::Ack { seq: 1 });
    assert!(handle.control().await.expect("control").held.contains("1/j0"));

    let mut job = connect(&running.client(0), &running.jobs[0].1)
        .await
        .expect("job handshake");
    assert_eq!(
        send(&mut job, &hold(1)).await,
        Reply::Rejected {
            seq: 1,
            code: RejectCode::TypeNotAllowed
        }
    );

    assert!(handle.revoke_client(ui.public()).await.expect("revoke"));
    let err = connect_to(addr, &key, &workflow(), &ui, Duration::from_secs(5))
        .await
        .err();
    assert!(
        matches!(err, Some(protocol_net::framing::ConnError::Closed)),
        "a revoked UI server gets no answer: {err:?}"
    );
    assert_eq!(handle.control().await.expect("control").commands, 1);
    running.scheduler.shutdown().await.expect("shutdown");
}
