//! The reference job program's logic: answer the bootstrap offer on stdin/stdout with a fresh
//! key, then report started, some messages and succeeded over the Noise channel.

use std::net::SocketAddr;

use protocol_core::StaticKeypair;
use protocol_core::bootstrap::{BootstrapError, KeyReply, Offer, decode_offer, decode_registration, encode_line};
use protocol_core::wire::{JobBody, OutputName, Severity};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::client::{ClientConfig, ClientError, ClientReport, run_job};
use crate::launcher::{LaunchFailure, read_bootstrap_line};

/// What the reference job reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    /// `message` reports between `started` and the final report.
    pub messages: u32,
    /// End with `failed` (exit 1) instead of `succeeded`.
    pub fail: bool,
    /// Outputs to report completed, after the messages (each must be one the task declares,
    /// or the scheduler rejects it).
    pub outputs: Vec<OutputName>,
}

impl JobPlan {
    /// The reports, in order.
    #[must_use]
    pub fn bodies(&self) -> Vec<JobBody> {
        let mut bodies = vec![JobBody::Started];
        for i in 0..self.messages {
            bodies.push(JobBody::Message {
                severity: Severity::Info,
                text: format!("progress {i}"),
            });
        }
        bodies.extend(self.outputs.iter().cloned().map(JobBody::Output));
        bodies.push(if self.fail {
            JobBody::Failed(protocol_core::wire::FailReason::Exit(1))
        } else {
            JobBody::Succeeded
        });
        bodies
    }
}

/// Why the reference job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobProgramError {
    /// Reading the offer or writing the key failed.
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] LaunchFailure),
    /// The scheduler refused the job's key.
    #[error("the scheduler did not register this job's key: {0}")]
    NotRegistered(String),
    /// The offer's address is not `host:port`.
    #[error("bootstrap offer address {0:?} is not an IP socket address")]
    Address(String),
    /// Talking to the scheduler failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Reads the offer, answers with a fresh public key, and returns the offer and the keypair.
/// The private key never leaves this process's memory.
///
/// `may_be_unconfirmed`: a job that can find its scheduler again (it has a contact file) does
/// not take a channel that closes before the registration line for a refusal. The scheduler
/// may have registered the key durably and stopped before it could say so (SPEC.md §2.4, §9);
/// the job then connects anyway, and the handshake completing is its registration (an
/// unregistered key never completes one).
///
/// # Errors
/// [`JobProgramError::Bootstrap`], or [`JobProgramError::NotRegistered`] on a refusal.
pub async fn bootstrap<R, W>(
    stdin: R,
    stdout: &mut W,
    may_be_unconfirmed: bool,
) -> Result<(Offer, StaticKeypair), JobProgramError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(stdin);
    let line = read_bootstrap_line(&mut reader).await?;
    let offer = decode_offer(&line).map_err(LaunchFailure::Bootstrap)?;
    let keypair = StaticKeypair::generate_from_os();
    stdout
        .write_all(encode_line(&KeyReply::new(keypair.public())).as_bytes())
        .await
        .map_err(LaunchFailure::Io)?;
    stdout.flush().await.map_err(LaunchFailure::Io)?;
    let line = match read_bootstrap_line(&mut reader).await {
        Err(LaunchFailure::Bootstrap(BootstrapError::Closed)) if may_be_unconfirmed => return Ok((offer, keypair)),
        line => line?,
    };
    let registration = decode_registration(&line).map_err(LaunchFailure::Bootstrap)?;
    if !registration.registered {
        return Err(JobProgramError::NotRegistered(registration.reason.unwrap_or_default()));
    }
    Ok((offer, keypair))
}

/// The environment variable that names the scheduler's contact file (SPEC.md §9); the launch
/// mechanism sets it, as Cylc's sets `CYLC_WORKFLOW_RUN_DIR`.
pub const CONTACT_ENV: &str = "THREATCHECK_CONTACT";

/// The whole reference job: bootstrap on the given streams, then report the plan. With a
/// `contact` file, a job that loses its scheduler re-reads it and reaches a restarted one.
///
/// # Errors
/// [`JobProgramError`].
pub async fn run_reference_job<R, W>(
    stdin: R,
    mut stdout: W,
    plan: JobPlan,
    contact: Option<std::path::PathBuf>,
) -> Result<ClientReport, JobProgramError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (offer, keypair) = bootstrap(stdin, &mut stdout, contact.is_some()).await?;
    drop(stdout);
    let address: SocketAddr = offer
        .address
        .parse()
        .map_err(|_| JobProgramError::Address(offer.address.clone()))?;
    let scheduler_key = offer.scheduler_key().map_err(LaunchFailure::Bootstrap)?;
    let mut config = ClientConfig::new(address, scheduler_key, offer.job.clone());
    config.contact = contact;
    Ok(run_job(&config, &keypair, plan.bodies()).await?)
}
