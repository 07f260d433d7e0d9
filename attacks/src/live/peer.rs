//! Peers of a live scheduler: Noise sessions the attacker drives message by message, and
//! honest jobs run by the reference job client (`protocol_net::client`).

use std::net::SocketAddr;
use std::time::Duration;

use protocol_core::job::JobCore;
use protocol_core::noise::{Initiator, Transport, prologue};
use protocol_core::wire::{JobBody, JobMessage, MAX_FRAME, Message, Reply};
use protocol_core::{JobId, PublicKey, StaticKeypair, WorkflowId};
use protocol_net::client::{ClientReport, Connection, connect, connect_to, deliver};
use protocol_net::framing::{ConnError, FrameReader, write_frame};
use protocol_net::{ClientConfig, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A job message.
#[must_use]
pub fn message(claim: &JobId, seq: u64, body: JobBody) -> Message {
    Message::Job(JobMessage {
        seq,
        claim: claim.clone(),
        body,
    })
}

/// An established Noise session, driven one frame at a time.
#[derive(Debug)]
pub struct Session {
    stream: TcpStream,
    reader: FrameReader,
    transport: Transport,
}

impl Session {
    /// Connects to `addr` and completes the IK handshake as `keypair`, pinning `scheduler`.
    ///
    /// # Errors
    /// [`ConnError`]: refused, no answer (an unknown or revoked key), or a failed handshake.
    pub async fn open(
        addr: SocketAddr,
        scheduler: &PublicKey,
        workflow: &WorkflowId,
        keypair: &StaticKeypair,
    ) -> Result<Self, ConnError> {
        let (stream, reader, transport) =
            connect_to(addr, scheduler, workflow, keypair, Duration::from_secs(2)).await?;
        Ok(Self {
            stream,
            reader,
            transport,
        })
    }

    /// Completes the IK handshake over an already connected `stream` (for sockets the
    /// attacker tuned, e.g. with a tiny receive buffer).
    ///
    /// # Errors
    /// [`ConnError`]: no answer (an unknown or revoked key), or a failed handshake.
    pub async fn handshake_over(
        mut stream: TcpStream,
        scheduler: &PublicKey,
        workflow: &WorkflowId,
        keypair: &StaticKeypair,
    ) -> Result<Self, ConnError> {
        let mut initiator = Initiator::new(keypair, scheduler, &prologue(workflow))?;
        let first = initiator.write_first()?;
        write_frame(&mut stream, &first).await?;
        let mut reader = FrameReader::new(MAX_FRAME);
        let limit = Duration::from_secs(2);
        let second = tokio::time::timeout(limit, reader.read_frame(&mut stream))
            .await
            .map_err(|_| ConnError::Timeout(limit))??;
        let transport = initiator.read_second(&second)?;
        Ok(Self {
            stream,
            reader,
            transport,
        })
    }

    /// The same session carrying frames in the clear (only against a target whose transport
    /// is plaintext too).
    #[must_use]
    pub fn into_plaintext(self) -> Self {
        Self {
            transport: self.transport.into_plaintext(),
            ..self
        }
    }

    /// Encrypts `plaintext` into a frame body.
    ///
    /// # Errors
    /// [`ConnError::Noise`].
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, ConnError> {
        let mut sealed = Vec::with_capacity(plaintext.len() + 16);
        self.transport.encrypt(plaintext, &mut sealed)?;
        Ok(sealed)
    }

    /// Sends one message.
    ///
    /// # Errors
    /// [`ConnError`].
    pub async fn send(&mut self, message: &Message) -> Result<(), ConnError> {
        let sealed = self.seal(&message.to_bytes())?;
        write_frame(&mut self.stream, &sealed).await
    }

    /// Writes raw bytes on the connection, framing and all.
    ///
    /// # Errors
    /// [`ConnError::Io`].
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Reads the next reply, waiting at most `limit`.
    ///
    /// # Errors
    /// [`ConnError::Closed`] if the scheduler closed the connection, [`ConnError::Timeout`],
    /// or a frame that does not decrypt or decode.
    pub async fn reply(&mut self, limit: Duration) -> Result<Reply, ConnError> {
        let frame = tokio::time::timeout(limit, self.reader.read_frame(&mut self.stream))
            .await
            .map_err(|_| ConnError::Timeout(limit))??;
        let mut plain = Vec::new();
        self.transport.decrypt(&frame, &mut plain)?;
        Ok(Reply::decode(&plain)?)
    }

    /// Sends `message` and reads its reply.
    ///
    /// # Errors
    /// As [`Session::send`] and [`Session::reply`].
    pub async fn exchange(&mut self, message: &Message) -> Result<Reply, ConnError> {
        self.send(message).await?;
        self.reply(Duration::from_secs(2)).await
    }

    /// Whether the scheduler closes the connection within `limit` (anything it sends first
    /// is read and ignored).
    pub async fn closed_by_peer(&mut self, limit: Duration) -> bool {
        closed_by_peer(&mut self.stream, limit).await
    }
}

/// Reads until the peer closes; true if it closed within `limit` (rather than timing out).
pub async fn closed_by_peer(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Runs an honest job with the reference client's logic (`protocol_net::client::deliver`):
/// sends `bodies` in order and returns once the last is acknowledged, reconnecting after any
/// failure and resending everything unacknowledged. With `plaintext`, every connection's
/// transport carries frames in the clear (against a target built the same way).
///
/// # Errors
/// [`ClientError::Refused`] if the scheduler rejects a message, [`ClientError::GaveUp`].
pub async fn run_honest(
    config: &ClientConfig,
    keypair: &StaticKeypair,
    bodies: Vec<JobBody>,
    plaintext: bool,
) -> Result<ClientReport, ClientError> {
    let mut core = JobCore::new(config.job.clone(), config.window);
    let mut report = ClientReport::default();
    for body in bodies {
        core.send(body);
        report.messages += 1;
    }
    let mut failures = 0u32;
    let mut backoff = config.backoff;
    while !core.is_idle() {
        let outcome = match connect(config, keypair).await {
            Ok((stream, reader, transport)) => {
                report.connections += 1;
                failures = 0;
                backoff = config.backoff;
                let transport = if plaintext {
                    transport.into_plaintext()
                } else {
                    transport
                };
                let mut connection: Connection = (stream, reader, transport);
                deliver(&mut core, &mut connection, &mut report).await
            }
            Err(err) => Err(err),
        };
        core.handle_disconnect();
        match outcome {
            Ok(Ok(())) => break,
            Ok(Err(refused)) => return Err(ClientError::Refused(refused)),
            Err(last) => {
                failures += 1;
                if failures >= config.max_attempts {
                    return Err(ClientError::GaveUp {
                        attempts: failures,
                        last,
                        contact: None,
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
    }
    Ok(report)
}

/// An honest job's life: started, `n` progress messages, succeeded.
#[must_use]
pub fn lifecycle(n: usize) -> Vec<JobBody> {
    let mut bodies = vec![JobBody::Started];
    bodies.extend((0..n).map(|i| JobBody::Message {
        severity: protocol_core::wire::Severity::Info,
        text: format!("progress {i}"),
    }));
    bodies.push(JobBody::Succeeded);
    bodies
}

/// A compromised job's session that numbers its own messages: the next number after each
/// acknowledgement, the same number again after a refusal (a refused message takes no number).
#[derive(Debug)]
pub struct Talker {
    /// The session.
    pub session: Session,
    /// The job every message claims to be.
    pub claim: JobId,
    /// The next sequence number.
    pub next: u64,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Acknowledged.
    Ack,
    /// Refused with this code.
    Rejected(protocol_core::wire::RejectCode),
    /// The connection failed (closed, or a frame that did not decode).
    Lost,
}

impl Talker {
    /// A talker on `session` claiming `claim`, starting at sequence 1.
    #[must_use]
    pub const fn new(session: Session, claim: JobId) -> Self {
        Self {
            session,
            claim,
            next: 1,
        }
    }

    /// Sends `body` under the claim, with the next number.
    pub async fn say(&mut self, body: JobBody) -> Heard {
        let claim = self.claim.clone();
        self.say_as(&claim, body).await
    }

    /// Sends `body` claiming `claim`, with the next number.
    pub async fn say_as(&mut self, claim: &JobId, body: JobBody) -> Heard {
        self.send(&message(claim, self.next, body)).await
    }

    /// Sends any message (its own number is kept), advancing the count on an acknowledgement.
    pub async fn send(&mut self, message: &Message) -> Heard {
        match self.session.exchange(message).await {
            Ok(Reply::Ack { .. }) => {
                self.next += 1;
                Heard::Ack
            }
            Ok(Reply::Rejected { code, .. }) => Heard::Rejected(code),
            Err(_) => Heard::Lost,
        }
    }
}
