//! One job connection: the Noise handshake under a deadline and a cap, then a loop that
//! decrypts frames into the core's queue and encrypts the core's replies back. Any bad frame,
//! failed decrypt or undecodable message closes this connection and nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use protocol_core::noise::{Responder, Transport};
use protocol_core::wire::{MAX_FRAME, Message, Reply};
use protocol_core::{PublicKey, StaticKeypair};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::core_task::{ConnId, CoreInput};
use super::slots::{HandshakeSlots, Slot, Taken};
use super::stats::{Stats, bump};
use crate::framing::{ConnError, FrameReader, push_frame, with_timeout};

/// Handshake frames are tiny; anything longer is refused before any cryptography.
pub(crate) const MAX_HANDSHAKE_FRAME: usize = 1024;

pub(crate) struct Shared {
    pub keypair: StaticKeypair,
    pub prologue: Vec<u8>,
    pub stats: Arc<Stats>,
    pub core: mpsc::Sender<CoreInput>,
    pub handshakes: HandshakeSlots,
    pub connections: AtomicUsize,
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub window: usize,
    #[cfg(feature = "weaken")]
    pub flaws: super::DriverFlaws,
}

pub(crate) async fn serve(shared: Arc<Shared>, mut stream: TcpStream, conn: ConnId) {
    let mut slot = match shared.handshakes.take(conn) {
        Taken::Free(slot) => slot,
        Taken::Evicted(slot) => {
            // handshake-eviction: the longest-held slot went to this newcomer.
            bump(&shared.stats.handshakes_evicted);
            slot
        }
        Taken::Refused => {
            bump(&shared.stats.connections_refused);
            return;
        }
    };
    if shared.connections.fetch_add(1, Ordering::Relaxed) >= shared.max_connections {
        shared.connections.fetch_sub(1, Ordering::Relaxed);
        bump(&shared.stats.connections_refused);
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut reader = FrameReader::new(MAX_HANDSHAKE_FRAME);
    // The deadline covers the whole handshake and the peer's first transport message: a
    // replayed message 1 (which anyone who saw it can send, key or no key) gets message 2,
    // but nobody without the key can follow it with an authenticated frame, so such a
    // connection holds its handshake slot only until this deadline.
    let deadline = tokio::time::Instant::now() + shared.handshake_timeout;
    let handshake = tokio::select! {
        done = with_timeout(
            shared.handshake_timeout,
            handshake(&shared, &mut stream, &mut reader, conn),
        ) => done,
        Ok(()) = &mut slot.evicted => Err(ConnError::Evicted),
    };
    match handshake {
        Ok((transport, peer, replies)) => {
            bump(&shared.stats.handshakes_completed);
            #[cfg(feature = "weaken")]
            let transport = super::weakened::transport(&shared, transport);
            reader.set_max(MAX_FRAME);
            let unconfirmed = Unconfirmed { slot, deadline };
            let served = serve_messages(
                &shared,
                &mut stream,
                reader,
                transport,
                peer,
                replies,
                conn,
                unconfirmed,
            )
            .await;
            if let Err(err) = served {
                bump(&shared.stats.connections_dropped);
                // An eviction was counted when it happened, by the newcomer (handshakes_evicted).
                if matches!(err, ConnError::Unconfirmed) {
                    // handshake-deadline: message 2 was never followed by an authenticated frame.
                    bump(&shared.stats.handshake_timeouts);
                }
                if matches!(err, ConnError::Noise(_)) {
                    // noise-transport: a frame that did not authenticate never reached the core.
                    bump(&shared.stats.transport_failures);
                }
                if matches!(err, ConnError::Frame(_) | ConnError::Noise(_) | ConnError::Decode(_)) {
                    #[cfg(feature = "weaken")]
                    let isolated = !super::weakened::shared_fate(&shared).await;
                    #[cfg(not(feature = "weaken"))]
                    let isolated = true;
                    if isolated {
                        // connection-isolation: only this connection ends.
                        bump(&shared.stats.isolated_drops);
                    }
                }
            }
            let _ = shared.core.send(CoreInput::Closed { conn }).await;
        }
        Err(err) => {
            drop(slot);
            bump(&shared.stats.handshakes_failed);
            if matches!(err, ConnError::Timeout(_)) {
                // handshake-deadline: the connection is closed, its slot freed.
                bump(&shared.stats.handshake_timeouts);
            }
        }
    }
    shared.connections.fetch_sub(1, Ordering::Relaxed);
}

async fn handshake(
    shared: &Shared,
    stream: &mut TcpStream,
    reader: &mut FrameReader,
    conn: ConnId,
) -> Result<(Transport, PublicKey, mpsc::UnboundedReceiver<Reply>), ConnError> {
    let first = reader.read_frame(stream).await?;
    let mut responder = Responder::new(&shared.keypair, &shared.prologue)?;
    let first = responder.read_first(&first)?;
    let (replies_tx, replies) = mpsc::unbounded_channel();
    let (respond, verdict) = oneshot::channel();
    let peer = first.peer;
    shared
        .core
        .send(CoreInput::Handshake {
            conn,
            peer,
            payload: first.payload,
            replies: replies_tx,
            respond,
        })
        .await
        .map_err(|_| ConnError::Closed)?;
    // A refused key gets no answer at all: the peer learns nothing about the registry.
    verdict
        .await
        .map_err(|_| ConnError::Closed)?
        .map_err(|_| ConnError::Closed)?;
    let (second, transport) = responder.write_second()?;
    let mut out = Vec::with_capacity(second.len() + 2);
    push_frame(&mut out, &second)?;
    stream.write_all(&out).await?;
    Ok((transport, peer, replies))
}

/// A connection past message 2 that has not yet delivered an authenticated transport frame:
/// it keeps its handshake slot (the in-flight cap) until it does, until the deadline, or until
/// a newcomer takes the slot from it.
struct Unconfirmed<'a> {
    slot: Slot<'a>,
    deadline: tokio::time::Instant,
}

#[allow(clippy::too_many_arguments)]
async fn serve_messages(
    shared: &Shared,
    stream: &mut TcpStream,
    mut reader: FrameReader,
    mut transport: Transport,
    peer: PublicKey,
    mut replies: mpsc::UnboundedReceiver<Reply>,
    conn: ConnId,
    unconfirmed: Unconfirmed<'_>,
) -> Result<(), ConnError> {
    let mut unconfirmed = Some(unconfirmed);
    let (mut rd, mut wr) = stream.split();
    let mut plain = Vec::with_capacity(128);
    let mut sealed = Vec::with_capacity(128);
    let mut out = Vec::with_capacity(256);
    let mut outstanding = 0usize;
    loop {
        // Stop reading once a window's worth awaits replies: a peer that never reads its
        // acknowledgements cannot make the scheduler buffer without bound.
        while outstanding < shared.window {
            let Some(frame) = reader.next_frame()? else { break };
            transport.decrypt(frame, &mut plain)?;
            // Authenticated: the peer holds the key. Its handshake slot is free again.
            if let Some(u) = unconfirmed.take() {
                drop(u.slot);
            }
            let message = Message::decode(&plain)?;
            let bytes = plain.len() as u64;
            shared
                .core
                .send(CoreInput::Message {
                    conn,
                    peer,
                    message,
                    bytes,
                })
                .await
                .map_err(|_| ConnError::Closed)?;
            outstanding += 1;
        }
        tokio::select! {
            biased;
            reply = replies.recv() => {
                // `None`: the scheduler dropped us (revocation or shutdown).
                let Some(reply) = reply else { return Ok(()) };
                let mut next = Some(reply);
                while let Some(reply) = next {
                    plain.clear();
                    reply.encode(&mut plain);
                    transport.encrypt(&plain, &mut sealed)?;
                    push_frame(&mut out, &sealed)?;
                    outstanding = outstanding.saturating_sub(1);
                    next = replies.try_recv().ok();
                }
                wr.write_all(&out).await?;
                out.clear();
            }
            filled = reader.fill(&mut rd), if outstanding < shared.window => filled?,
            // Until its first authenticated frame a connection ends at the handshake deadline
            // or when a newcomer takes its slot; after it, when it has been idle too long.
            ended = async {
                match unconfirmed.as_mut() {
                    Some(u) => tokio::select! {
                        Ok(()) = &mut u.slot.evicted => ConnError::Evicted,
                        () = tokio::time::sleep_until(u.deadline) => ConnError::Unconfirmed,
                    },
                    None => {
                        tokio::time::sleep(shared.idle_timeout).await;
                        ConnError::Timeout(shared.idle_timeout)
                    }
                }
            } => return Err(ended),
        }
    }
}
