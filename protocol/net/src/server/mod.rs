//! The scheduler server: a tokio driver around [`SchedulerCore`].
//!
//! Tasks: an accept loop (one task per connection, see [`conn`]), the core task that owns the
//! sans-IO core ([`core_task`]), a log-writer thread that makes each group commit durable
//! before releasing its acknowledgements, and one task per launch for the bootstrap channel.

mod conn;
mod core_task;
mod quota;
mod slots;
mod stats;
#[cfg(feature = "weaken")]
mod weakened;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::bootstrap::Registration;
use protocol_core::noise::prologue;
use protocol_core::scheduler::{
    ClientRegistrationError, JobSpec, JobState, LaunchError, SchedulerConfig, SchedulerCore, WorkflowControl,
};
use protocol_core::time::SharedClock;
use protocol_core::{Defences, JobId, Owner, PublicKey, StaticKeypair};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use quota::{Charge, JobQuota, Over, Quotas};
pub use stats::{Stats, StatsSnapshot};
#[cfg(feature = "weaken")]
pub use weakened::DriverFlaws;

use crate::eventlog::{EventLog, EventLogError};
use crate::launcher::{Launcher, reap};
use core_task::{CoreInput, CoreLimits, CoreTask};

/// Why a launch restored in progress is failed at start-up: its bootstrap channel went with
/// the scheduler process that stopped (SPEC.md §9). The task may be launched again as its
/// next submission.
pub const RESTART_INTERRUPTED_LAUNCH: &str = "the scheduler restarted during the launch: its bootstrap channel is gone";

/// Settings of a scheduler server.
///
/// A production build (no `weaken` feature) has no driver defence to remove: the flaws type
/// does not exist, so this does not compile:
#[cfg_attr(not(feature = "weaken"), doc = "```compile_fail,E0432")]
#[cfg_attr(feature = "weaken", doc = "```")]
/// use protocol_net::DriverFlaws;
/// let _ = DriverFlaws { plaintext_transport: true, ..DriverFlaws::default() };
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen. Port 0 picks a free one.
    pub listen: SocketAddr,
    /// The core's settings (workflow, bootstrap timeout, de-duplication window).
    pub core: SchedulerConfig,
    /// The event log file.
    pub event_log: PathBuf,
    /// How long a connection has to complete its handshake.
    pub handshake_timeout: Duration,
    /// How many connections may be between accept and their first authenticated message at
    /// once; a newcomer to a full table takes the slot held longest, whose connection is
    /// closed (`handshake-eviction`).
    pub max_handshakes_in_flight: usize,
    /// How many connections may be open at once.
    pub max_connections: usize,
    /// How many authenticated connections one key may hold at once; a newer one closes the
    /// oldest, so one job (or one stolen key) cannot take the server's connections.
    pub max_connections_per_key: usize,
    /// An established connection silent for this long is closed (the job reconnects).
    pub idle_timeout: Duration,
    /// What one job may send: messages, bytes, rate (`job-quota`, SPEC.md §9.3).
    pub job_quota: JobQuota,
    /// The address given to jobs in the offer; defaults to the bound address.
    pub advertise: Option<String>,
    /// The defences the core applies (the full set except in weakened verification builds).
    pub defences: Defences,
    /// Where the core's time comes from (bootstrap deadlines, registration times): the system
    /// clock, or a manual one a test moves (then [`SchedulerHandle::tick`] makes the core look
    /// at it).
    pub clock: SharedClock,
    /// Defences of this driver removed, for attack controls (weakened builds only).
    #[cfg(feature = "weaken")]
    pub driver_flaws: DriverFlaws,
}

impl ServerConfig {
    /// Defaults for a workflow, listening on `listen`.
    #[must_use]
    pub fn new(core: SchedulerConfig, listen: SocketAddr, event_log: PathBuf) -> Self {
        Self {
            listen,
            core,
            event_log,
            handshake_timeout: Duration::from_secs(5),
            max_handshakes_in_flight: 512,
            max_connections: 20_000,
            max_connections_per_key: 8,
            idle_timeout: Duration::from_secs(600),
            job_quota: JobQuota::default(),
            advertise: None,
            defences: Defences::all(),
            clock: protocol_core::time::system(),
            #[cfg(feature = "weaken")]
            driver_flaws: DriverFlaws::default(),
        }
    }
}

/// Whether a full handshake table refuses newcomers instead of evicting its oldest holder:
/// only in a verification build without `handshake-eviction`.
fn refuse_when_full(config: &ServerConfig) -> bool {
    #[cfg(feature = "weaken")]
    return config.driver_flaws.refuse_when_full;
    #[cfg(not(feature = "weaken"))]
    {
        let _ = config;
        false
    }
}

/// The per-key cap in force: the configured one, or none at all in a verification build
/// without `key-connection-cap`.
fn per_key_cap(config: &ServerConfig) -> usize {
    #[cfg(feature = "weaken")]
    if let Some(uncapped) = weakened::per_key_cap(config) {
        return uncapped;
    }
    config.max_connections_per_key
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The event log failed.
    #[error(transparent)]
    EventLog(#[from] EventLogError),
    /// The event log was still failing when the scheduler shut down (while running, a failing
    /// log is retried, not fatal); nothing after the failure was acknowledged.
    #[error("event log write failed: {0}")]
    LogWrite(String),
    /// The core refused a launch.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The core refused a UI server's key.
    #[error(transparent)]
    Client(#[from] ClientRegistrationError),
    /// The server has stopped.
    #[error("the scheduler has stopped")]
    Stopped,
}

/// Exit statuses of launched job processes, as they are reaped.
type Exits = Arc<Mutex<Vec<(JobId, Option<std::process::ExitStatus>)>>>;

/// A cheap, cloneable handle for talking to a running scheduler.
#[derive(Clone)]
pub struct SchedulerHandle {
    core: mpsc::Sender<CoreInput>,
    launcher: Arc<dyn Launcher>,
    stats: Arc<Stats>,
    bootstrap_timeout: Duration,
    reaped: Exits,
}

impl std::fmt::Debug for SchedulerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerHandle").finish_non_exhaustive()
    }
}

impl SchedulerHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> CoreInput) -> Result<T, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.core.send(make(tx)).await.map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)
    }

    /// Launches a job: registers the launch with the core, then runs the bootstrap exchange
    /// in the background. Returns once the launch has begun.
    ///
    /// # Errors
    /// [`ServerError::Launch`] if the core refuses, [`ServerError::Stopped`].
    pub async fn launch(&self, spec: JobSpec) -> Result<(), ServerError> {
        let job = spec.id.clone();
        let offer = self.ask(|respond| CoreInput::Launch { spec, respond }).await??;
        let bootstrap = self.launcher.launch(offer, self.bootstrap_timeout);
        let core = self.core.clone();
        let reaped = Arc::clone(&self.reaped);
        tokio::spawn(async move {
            match bootstrap.await {
                Ok(mut launched) => {
                    let (respond, verdict) = oneshot::channel();
                    let _ = core
                        .send(CoreInput::BootstrapReply {
                            job: job.clone(),
                            key: launched.key,
                            respond,
                        })
                        .await;
                    let registration = match verdict.await {
                        Ok(Ok(())) => Registration::accepted(),
                        Ok(Err(reason)) => Registration::refused(reason),
                        Err(_) => Registration::refused("scheduler stopped".into()),
                    };
                    launched.confirm(&registration).await;
                    if let Some(mut child) = launched.process.take() {
                        if !registration.registered {
                            // A refused job is told, and then ended with all it started.
                            crate::launcher::kill_group(&mut child).await;
                        }
                        let status = reap(child).await;
                        if let Ok(mut r) = reaped.lock() {
                            r.push((job, status));
                        }
                    }
                }
                Err(err) => {
                    let _ = core
                        .send(CoreInput::LaunchFailed {
                            job,
                            reason: err.to_string(),
                        })
                        .await;
                }
            }
        });
        Ok(())
    }

    /// Revokes a job's key and closes its connections. Returns whether the job had a key.
    ///
    /// # Errors
    /// [`ServerError::Stopped`].
    pub async fn revoke(&self, job: JobId) -> Result<bool, ServerError> {
        self.ask(|respond| CoreInput::Revoke { job, respond }).await
    }

    /// Every job and its state.
    ///
    /// # Errors
    /// [`ServerError::Stopped`].
    pub async fn jobs(&self) -> Result<Vec<(JobId, JobState)>, ServerError> {
        self.ask(|respond| CoreInput::Jobs { respond }).await
    }

    /// Registers the key of a UI server allowed to send commands on behalf of `owner`'s people.
    /// Returns once the registration is durable.
    ///
    /// # Errors
    /// [`ServerError::Client`] if the key is refused, [`ServerError::Stopped`].
    pub async fn register_client(&self, key: PublicKey, owner: Owner) -> Result<PublicKey, ServerError> {
        let key = *key.as_bytes();
        Ok(self
            .ask(|respond| CoreInput::RegisterClient { key, owner, respond })
            .await??)
    }

    /// Revokes a UI server's key and closes its connections at once.
    ///
    /// # Errors
    /// [`ServerError::Stopped`].
    pub async fn revoke_client(&self, key: PublicKey) -> Result<bool, ServerError> {
        self.ask(|respond| CoreInput::RevokeClient { key, respond }).await
    }

    /// What commands have done to the workflow (paused, stopping, held tasks).
    ///
    /// # Errors
    /// [`ServerError::Stopped`].
    pub async fn control(&self) -> Result<WorkflowControl, ServerError> {
        self.ask(|respond| CoreInput::Control { respond }).await
    }

    /// Resolves once everything the core has done so far is durable.
    ///
    /// # Errors
    /// [`ServerError::Stopped`].
    pub async fn sync(&self) -> Result<(), ServerError> {
        self.ask(|respond| CoreInput::Sync { respond }).await
    }

    /// Makes the core act on the time its clock shows now (fail launches whose bootstrap
    /// deadline has passed), then waits until that is durable. The core does this by itself on
    /// the system clock; a test that moves a manual clock calls this instead of sleeping.
    ///
    /// # Errors
    /// [`ServerError::Stopped`].
    pub async fn tick(&self) -> Result<(), ServerError> {
        self.ask(|respond| CoreInput::Tick { respond }).await
    }

    /// Waits until every job is terminal, polling every 20 ms, for at most `limit`.
    ///
    /// # Errors
    /// [`ServerError::Stopped`]. Returns the states reached either way.
    pub async fn wait_until_terminal(&self, limit: Duration) -> Result<Vec<(JobId, JobState)>, ServerError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let jobs = self.jobs().await?;
            if jobs.iter().all(|(_, s)| s.is_terminal()) || tokio::time::Instant::now() >= deadline {
                return Ok(jobs);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Exit statuses of launched processes that have ended.
    #[must_use]
    pub fn exits(&self) -> Vec<(JobId, Option<std::process::ExitStatus>)> {
        self.reaped.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

/// A running scheduler server.
pub struct Scheduler {
    handle: SchedulerHandle,
    local_addr: SocketAddr,
    public_key: PublicKey,
    accept: JoinHandle<()>,
    core_task: JoinHandle<()>,
    writer: Option<std::thread::JoinHandle<()>>,
    failure: Arc<Mutex<Option<String>>>,
    /// Tells a writer retrying a failing log to give up (at shutdown).
    writer_stop: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("local_addr", &self.local_addr)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// How long a starting scheduler waits for its event log's lock before refusing. A scheduler
/// killed while it was starting a job can leave, for an instant, a child between spawn and
/// exec that still shares the log's open file and so its lock; a restart at that moment must
/// not be refused. A log another live scheduler holds is still refused, this much later.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);

/// [`EventLog::open`], waiting up to [`LOCK_PATIENCE`] while the log is in use.
async fn open_log(path: &std::path::Path) -> Result<(EventLog, Vec<protocol_core::scheduler::Event>), EventLogError> {
    let deadline = tokio::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match EventLog::open(path) {
            Err(EventLogError::InUse { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            opened => return opened,
        }
    }
}

impl Scheduler {
    /// Opens the event log (restoring state from it), binds the listener and starts serving.
    /// The keypair is moved in and lives only in this server's memory.
    ///
    /// # Errors
    /// [`ServerError::Bind`] or [`ServerError::EventLog`].
    pub async fn start(
        config: ServerConfig,
        keypair: StaticKeypair,
        launcher: Arc<dyn Launcher>,
    ) -> Result<Self, ServerError> {
        let (log, history) = open_log(&config.event_log).await?;
        let mut core = SchedulerCore::with_defences(config.core.clone(), config.defences.clone());
        for event in &history {
            core.restore(event);
        }
        // A launch in progress when the last scheduler stopped has lost its bootstrap channel
        // with that process: no key can arrive on it any more (SPEC.md §9).
        let interrupted: Vec<JobId> = core
            .jobs()
            .filter(|(_, r)| r.state() == JobState::Launching)
            .map(|(id, _)| id.clone())
            .collect();
        for job in &interrupted {
            core.handle_launch_failed(job, RESTART_INTERRUPTED_LAUNCH);
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let public_key = keypair.public();
        let stats = Arc::new(Stats::default());
        let failure = Arc::new(Mutex::new(None));
        let writer_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

        let (core_tx, core_rx) = mpsc::channel(16_384);
        let (writer_tx, writer_rx) = mpsc::channel(1);
        let writer = {
            let (stats, failure, stop) = (Arc::clone(&stats), Arc::clone(&failure), Arc::clone(&writer_stop));
            std::thread::Builder::new()
                .name("event-log".into())
                .spawn(move || core_task::run_writer(log, writer_rx, stats, failure, stop))
                .map_err(|source| {
                    ServerError::EventLog(EventLogError::Io {
                        path: config.event_log.clone(),
                        source,
                    })
                })?
        };
        let advertise = config.advertise.clone().unwrap_or_else(|| local_addr.to_string());
        let core_task = tokio::spawn(
            CoreTask::new(
                core,
                Arc::clone(&stats),
                public_key,
                advertise,
                config.clock.clone(),
                CoreLimits {
                    max_per_key: per_key_cap(&config),
                    quota: config.job_quota,
                    #[cfg(feature = "weaken")]
                    flaws: config.driver_flaws,
                },
            )
            .run(core_rx, writer_tx),
        );

        let shared = Arc::new(conn::Shared {
            prologue: prologue(&config.core.workflow),
            keypair,
            stats: Arc::clone(&stats),
            core: core_tx.clone(),
            handshakes: slots::HandshakeSlots::new(config.max_handshakes_in_flight, refuse_when_full(&config)),
            connections: AtomicUsize::new(0),
            max_connections: config.max_connections,
            handshake_timeout: config.handshake_timeout,
            idle_timeout: config.idle_timeout,
            window: usize::try_from(config.core.dedup_window).unwrap_or(64),
            #[cfg(feature = "weaken")]
            flaws: config.driver_flaws,
        });
        let accept = tokio::spawn(async move {
            let mut next: u64 = 0;
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        next += 1;
                        tokio::spawn(conn::serve(Arc::clone(&shared), stream, next));
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        let handle = SchedulerHandle {
            core: core_tx,
            launcher,
            stats,
            bootstrap_timeout: config.core.bootstrap_timeout,
            reaped: Arc::new(Mutex::new(Vec::new())),
        };
        Ok(Self {
            handle,
            local_addr,
            public_key,
            accept,
            core_task,
            writer: Some(writer),
            failure,
            writer_stop,
        })
    }

    /// The bound address.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The scheduler's public key.
    #[must_use]
    pub const fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// A handle for launching, revoking and querying.
    #[must_use]
    pub fn handle(&self) -> SchedulerHandle {
        self.handle.clone()
    }

    /// Stops accepting, makes everything durable, and returns the final counters.
    ///
    /// # Errors
    /// [`ServerError::LogWrite`] if the event log was failing at the end (a failure the log
    /// recovered from is only counted in the stats).
    pub async fn shutdown(mut self) -> Result<StatsSnapshot, ServerError> {
        self.accept.abort();
        // A writer retrying a failing log gives up instead of holding the shutdown for ever.
        self.writer_stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.handle.sync().await;
        let stats = self.handle.stats();
        self.stop_tasks().await;
        match self.failure.lock().ok().and_then(|mut f| f.take()) {
            Some(err) => Err(ServerError::LogWrite(err)),
            None => Ok(stats),
        }
    }

    /// Stops at once, as a crash would: nothing pending is flushed and nothing more is
    /// acknowledged; only a batch the log writer already holds may still be written (as a
    /// write in progress may or may not reach the disk in a real crash). Returns once the event
    /// log is closed, so another scheduler can open it. For crash-recovery tests and harnesses.
    pub async fn abort(mut self) {
        self.accept.abort();
        self.writer_stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.stop_tasks().await;
    }

    /// Ends the core task (connection tasks hold senders to it, so they all end) and waits
    /// for the log writer to close the event log.
    async fn stop_tasks(&mut self) {
        self.core_task.abort();
        let _ = (&mut self.core_task).await;
        if let Some(writer) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}
