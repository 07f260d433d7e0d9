//! The job's network driver: connects with the Noise IK handshake, pipelines messages from a
//! [`JobCore`], and reconnects after any failure, resending everything unacknowledged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use protocol_core::job::{JobClientError, JobCore};
use protocol_core::noise::{Initiator, Transport, prologue};
use protocol_core::wire::{JobBody, MAX_FRAME, Reply};
use protocol_core::{JobId, PublicKey, StaticKeypair, WorkflowId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::contact::{Contact, ContactError};
use crate::framing::{ConnError, FrameReader, push_frame, with_timeout};

/// Settings of a job client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The scheduler's address.
    pub address: SocketAddr,
    /// The scheduler's key, from the bootstrap offer.
    pub scheduler_key: PublicKey,
    /// The job's workflow, bound into the prologue.
    pub workflow: WorkflowId,
    /// The job's identity (claimed in each message; the scheduler checks it against the key).
    pub job: JobId,
    /// Most messages unacknowledged at once.
    pub window: u64,
    /// Deadline for connecting and completing the handshake.
    pub connect_timeout: Duration,
    /// First pause between reconnection attempts; doubles up to `max_backoff`.
    pub backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
    /// Give up after this many consecutive failed attempts (a completed handshake resets the
    /// count, so a job survives any number of dropped connections).
    pub max_attempts: u32,
    /// The scheduler's contact file (SPEC.md §9), re-read after every failed attempt: a
    /// restarted scheduler has a new key and perhaps a new address, and publishes them there.
    pub contact: Option<PathBuf>,
}

impl ClientConfig {
    /// Defaults: window 64, 5 s connect timeout, backoff 50 ms doubling to 2 s, 30 attempts,
    /// no contact file.
    #[must_use]
    pub fn new(address: SocketAddr, scheduler_key: PublicKey, job: JobId) -> Self {
        Self {
            address,
            scheduler_key,
            workflow: job.workflow().clone(),
            job,
            window: 64,
            connect_timeout: Duration::from_secs(5),
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            max_attempts: 30,
            contact: None,
        }
    }
}

/// Why a job client gave up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The scheduler refused one of the job's messages.
    #[error(transparent)]
    Refused(#[from] JobClientError),
    /// Too many consecutive connection failures; the last one is given.
    #[error("gave up after {attempts} attempts: {last}{}", contact.as_ref().map(|c| format!(" (contact file not believed: {c})")).unwrap_or_default())]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: ConnError,
        /// Why the contact file was not believed at the last attempt, if it was not.
        contact: Option<ContactError>,
    },
}

/// What a job client did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientReport {
    /// Distinct messages sent.
    pub messages: u64,
    /// Frames written, retransmissions included.
    pub transmissions: u64,
    /// Connections made (1 when nothing went wrong).
    pub connections: u64,
    /// Times a new scheduler contact was taken from the contact file (after a restart).
    pub recontacts: u64,
}

/// An established job connection: the socket, its frame buffer and the Noise transport.
pub type Connection = (TcpStream, FrameReader, Transport);

/// Connects and completes the IK handshake.
///
/// # Errors
/// [`ConnError`] for a refused connection, timeout or failed handshake.
pub async fn connect(config: &ClientConfig, keypair: &StaticKeypair) -> Result<Connection, ConnError> {
    connect_to(
        config.address,
        &config.scheduler_key,
        &config.workflow,
        keypair,
        config.connect_timeout,
    )
    .await
}

/// Connects to a scheduler as any peer (a job, or a UI server with a registered client key)
/// and completes the IK handshake.
///
/// # Errors
/// [`ConnError`] for a refused connection, timeout or failed handshake.
pub async fn connect_to(
    address: SocketAddr,
    scheduler_key: &PublicKey,
    workflow: &WorkflowId,
    keypair: &StaticKeypair,
    timeout: Duration,
) -> Result<Connection, ConnError> {
    with_timeout(timeout, async {
        let mut stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let mut initiator = Initiator::new(keypair, scheduler_key, &prologue(workflow))?;
        let first = initiator.write_first()?;
        let mut out = Vec::with_capacity(first.len() + 2);
        push_frame(&mut out, &first)?;
        stream.write_all(&out).await?;
        let mut reader = FrameReader::new(MAX_FRAME);
        let second = reader.read_frame(&mut stream).await?;
        let transport = initiator.read_second(&second)?;
        Ok((stream, reader, transport))
    })
    .await
}

/// Sends `bodies` in order and returns once the last is acknowledged, reconnecting as needed.
///
/// # Errors
/// [`ClientError::Refused`] if the scheduler rejects a message, [`ClientError::GaveUp`].
pub async fn run_job(
    config: &ClientConfig,
    keypair: &StaticKeypair,
    bodies: Vec<JobBody>,
) -> Result<ClientReport, ClientError> {
    let mut core = JobCore::new(config.job.clone(), config.window);
    let mut report = ClientReport::default();
    for body in bodies {
        core.send(body);
        report.messages += 1;
    }
    // Where the scheduler is: the offer's contact, until the contact file gives a newer one.
    let (mut address, mut scheduler_key) = (config.address, config.scheduler_key);
    let mut failures = 0u32;
    let mut backoff = config.backoff;
    while !core.is_idle() {
        let connected = connect_to(
            address,
            &scheduler_key,
            &config.workflow,
            keypair,
            config.connect_timeout,
        )
        .await;
        let outcome = match connected {
            Ok(mut connection) => {
                report.connections += 1;
                failures = 0;
                backoff = config.backoff;
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
                let mut distrusted = None;
                if let Some(path) = &config.contact {
                    match Contact::read_trusted(path, &config.workflow) {
                        // A new scheduler (restarted: new key, perhaps a new address) gets a
                        // fresh run of attempts; everything unacknowledged is resent to it.
                        Ok(c) if (c.address, c.scheduler_key) != (address, scheduler_key) => {
                            (address, scheduler_key) = (c.address, c.scheduler_key);
                            report.recontacts += 1;
                            failures = 0;
                            backoff = config.backoff;
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => distrusted = Some(e),
                    }
                }
                if failures >= config.max_attempts {
                    return Err(ClientError::GaveUp {
                        attempts: failures,
                        last,
                        contact: distrusted,
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
    }
    Ok(report)
}

/// Drives one connection until the core is idle (`Ok(Ok)`), the scheduler refuses a message
/// (`Ok(Err)`), or the connection fails (`Err`). The caller handles the disconnect.
///
/// # Errors
/// [`ConnError`] when the connection fails.
pub async fn deliver(
    core: &mut JobCore,
    (stream, reader, transport): &mut Connection,
    report: &mut ClientReport,
) -> Result<Result<(), JobClientError>, ConnError> {
    core.handle_connected();
    let mut plain = Vec::with_capacity(128);
    let mut sealed = Vec::with_capacity(128);
    let mut out = Vec::with_capacity(1024);
    loop {
        while let Some(message) = core.poll_transmit() {
            plain.clear();
            message.encode(&mut plain);
            transport.encrypt(&plain, &mut sealed)?;
            push_frame(&mut out, &sealed)?;
            report.transmissions += 1;
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if core.is_idle() {
            return Ok(Ok(()));
        }
        while let Some(frame) = reader.next_frame()? {
            transport.decrypt(frame, &mut plain)?;
            let reply = Reply::decode(&plain)?;
            if let Err(refused) = core.handle_reply(reply) {
                return Ok(Err(refused));
            }
        }
        if core.is_idle() {
            return Ok(Ok(()));
        }
        if core.unacked() > 0 {
            reader.fill(stream).await?;
        }
    }
}
