//! Running a UI server: as the `threatcheck uiserver` process (rendezvous on stdin/stdout,
//! stop on idle, end of stdin or a signal), or in this process ([`InProcessLauncher`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protocol_core::{Owner, StaticKeypair};
use protocol_people::audit::{AuditError, AuditKey, AuditKeyError, AuditWriter};
use protocol_people::authz::Authorizer;
use protocol_people::groups::{FileGroups, GroupError, GroupProvider, SystemGroups};
use protocol_people::policy::Policy;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use super::{UiServer, UiServerError, UiServerParts, UiSettings};
use crate::logging::{Log, StderrLog};
use crate::rendezvous::{Ready, RendezvousError, parse_hello, read_line, ready_line};

/// Settings of the `threatcheck uiserver` process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiProcessConfig {
    /// Whose UI server.
    pub owner: Owner,
    /// The policy directory (a broken policy denies everything).
    pub policy: PathBuf,
    /// A groups file; the system's groups when absent.
    pub groups: Option<PathBuf>,
    /// Root of the run directories.
    pub runs: PathBuf,
    /// This owner's audit log.
    pub audit_log: PathBuf,
    /// The audit MAC key file (mode 600).
    pub audit_key: PathBuf,
    /// Timings and the listening address.
    pub settings: UiSettings,
}

/// Why the UI server process failed.
#[derive(Debug, thiserror::Error)]
pub enum UiProcessError {
    /// The hub's rendezvous line was missing or bad.
    #[error("rendezvous: {0}")]
    Rendezvous(#[from] RendezvousError),
    /// The groups file could not be read.
    #[error(transparent)]
    Groups(#[from] GroupError),
    /// The audit key could not be read.
    #[error(transparent)]
    AuditKey(#[from] AuditKeyError),
    /// The audit log could not be opened.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The server did not start.
    #[error(transparent)]
    Server(#[from] UiServerError),
    /// Writing the ready line failed.
    #[error("cannot write the ready line: {0}")]
    Ready(std::io::Error),
}

/// Runs the UI server process: reads the hub key from stdin, starts, announces itself on
/// stdout, and serves until idle, until stdin closes (the hub is gone) or a signal.
///
/// # Errors
/// [`UiProcessError`].
pub async fn run_process(config: UiProcessConfig) -> Result<(), UiProcessError> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let hello = read_line(&mut stdin, Duration::from_secs(10)).await?;
    let hub_key = parse_hello(&hello)?;
    drop(hello);
    let groups: Arc<dyn GroupProvider + Send + Sync> = match &config.groups {
        Some(path) => Arc::new(FileGroups::load(path)?),
        None => Arc::new(SystemGroups),
    };
    let log: Log = Arc::new(StderrLog::new("uiserver"));
    let authorizer = Authorizer::from_load(Policy::load(&config.policy));
    if let Err(e) = authorizer.policy() {
        log.line(&format!("the policy did not load; everything is denied: {e}"));
    }
    let key = AuditKey::from_file(&config.audit_key)?;
    let audit = AuditWriter::open(&config.audit_log, key)?;
    let server = UiServer::start(UiServerParts {
        owner: config.owner.clone(),
        authorizer,
        groups,
        audit: Box::new(audit),
        runs: config.runs.clone(),
        hub_key,
        keypair: StaticKeypair::generate_from_os(),
        clock: crate::clock::system(),
        log: Arc::clone(&log),
        settings: config.settings,
    })
    .await?;
    let line = ready_line(&Ready {
        address: server.address(),
        client_key: server.client_key(),
    });
    let mut stdout = tokio::io::stdout();
    stdout.write_all(line.as_bytes()).await.map_err(UiProcessError::Ready)?;
    stdout.flush().await.map_err(UiProcessError::Ready)?;
    log.line(&format!("serving {} at {}", config.owner, server.address()));
    let hub_gone = async move {
        let mut sink = [0u8; 64];
        loop {
            match stdin.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let mut server = server;
    tokio::select! {
        () = server.stopped() => {}
        () = hub_gone => log.line("the hub is gone: stopping"),
        () = terminated() => log.line("signalled: stopping"),
    }
    server.shutdown().await;
    Ok(())
}

/// SIGTERM or SIGINT.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
