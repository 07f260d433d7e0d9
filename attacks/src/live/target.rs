//! A real scheduler server on 127.0.0.1, built with the defences a run asks for, with its event
//! log in a temporary directory and its static key made from secret bytes the harness keeps
//! (so that key-compromise harnesses can play an attacker who has stolen it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use protocol::DriverCheck;
use protocol_core::scheduler::{Event, JobSpec, JobState, SchedulerConfig};
use protocol_core::wire::JobBody;
use protocol_core::{Check, Defences, Flaw, JobId, PublicKey, StaticKeypair};
use protocol_net::contact::Contact;
use protocol_net::launcher::Launcher;
use protocol_net::{ClientConfig, DriverFlaws, Scheduler, SchedulerHandle, ServerConfig, StatsSnapshot};
use rand_core::RngCore;
use testkit::PresetKeyLauncher;
use zeroize::Zeroizing;

use super::wait_for;
use crate::harness::{HarnessError, Weakening};

pub use testkit::channel::{DECLARED_OUTPUT, workflow};

/// The job of `task` in cycle 1, submit 1: `~alice/wf//1/TASK/01`.
///
/// # Errors
/// [`HarnessError::Setup`] for a task name that is not a valid id.
pub fn job(task: &str) -> Result<JobId, HarnessError> {
    testkit::channel::job(task).map_err(HarnessError::setup)
}

/// What a job is launched with: it declares [`DECLARED_OUTPUT`].
///
/// # Errors
/// Never: kept fallible for the harnesses' `?` chains.
pub fn spec(id: &JobId) -> Result<JobSpec, HarnessError> {
    Ok(testkit::channel::spec(id))
}

/// How to build a target.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// The core's defences.
    pub defences: Defences,
    /// The driver's defences removed.
    pub flaws: DriverFlaws,
    /// How long a connection has to complete its handshake.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once.
    pub max_handshakes: usize,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a launched job has to return its key.
    pub bootstrap_timeout: Duration,
    /// The address offers give jobs (the listening address when `None`), e.g. a relay's.
    pub advertise: Option<String>,
    /// The core's clock (the system clock when `None`); a manual one lets a harness move
    /// time past a deadline instead of sleeping ([`protocol_net::SchedulerHandle::tick`]).
    pub clock: Option<protocol_core::time::SharedClock>,
    /// What one job may send (the server's default unless a harness makes it small).
    pub job_quota: protocol_net::JobQuota,
}

impl TargetConfig {
    /// Every defence on, the server's default limits, a 5 s bootstrap deadline.
    #[must_use]
    pub fn real() -> Self {
        Self {
            defences: Defences::all(),
            flaws: DriverFlaws::default(),
            handshake_timeout: Duration::from_secs(5),
            max_handshakes: 512,
            max_connections: 20_000,
            bootstrap_timeout: Duration::from_secs(5),
            advertise: None,
            clock: None,
            job_quota: protocol_net::JobQuota::default(),
        }
    }

    /// The real configuration without `check` (for the conformance replays).
    #[must_use]
    pub fn without(check: Check) -> Self {
        Self {
            defences: Defences::all().without(check),
            ..Self::real()
        }
    }

    /// The real configuration with a design flaw (for the conformance replays).
    #[must_use]
    pub fn with_flaw(flaw: Flaw) -> Self {
        Self {
            defences: Defences::all().with_flaw(flaw),
            ..Self::real()
        }
    }

    /// The configuration of a run with `w` removed: the core's checks and flaws, the driver's
    /// flaws, and without `handshake-deadline` a deadline of an hour (the in-flight cap stays).
    #[must_use]
    pub fn for_run(w: &Weakening) -> Self {
        let real = Self::real();
        Self {
            defences: w.core(),
            flaws: w.driver(),
            handshake_timeout: if w.lacks(DriverCheck::HandshakeDeadline) {
                Duration::from_secs(3600)
            } else {
                real.handshake_timeout
            },
            ..real
        }
    }
}

/// A job the harness registered, with its keypair.
#[derive(Debug)]
pub struct JobKey {
    /// The job.
    pub id: JobId,
    /// Its keypair (an honest job's, or a compromised job's the attacker holds).
    pub keypair: StaticKeypair,
}

/// A running target. Stop it with [`Target::shutdown`]; dropping it leaves its tasks to the
/// runtime, which the runner drops after every run.
#[derive(Debug)]
pub struct Target {
    scheduler: Scheduler,
    /// A handle for launching, revoking and querying.
    pub handle: SchedulerHandle,
    dir: tempfile::TempDir,
    log: PathBuf,
    secret: Zeroizing<[u8; 32]>,
    presets: PresetKeyLauncher,
}

impl Target {
    /// Starts a target whose jobs are launched with keys preset by [`Target::register`].
    ///
    /// # Errors
    /// [`HarnessError`] if the directory or the server cannot be made.
    pub async fn start(config: &TargetConfig) -> Result<Self, HarnessError> {
        let presets = PresetKeyLauncher::default();
        Self::start_with(config, Arc::new(presets.clone()), presets).await
    }

    /// Starts a target whose jobs are launched by `launcher`; `presets` is where
    /// [`Target::register`] puts keys (the launcher's own, if it uses any).
    ///
    /// # Errors
    /// [`HarnessError`] if the directory or the server cannot be made.
    pub async fn start_with(
        config: &TargetConfig,
        launcher: Arc<dyn Launcher>,
        presets: PresetKeyLauncher,
    ) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("threatcheck-attack").tempdir()?;
        Self::start_in(config, launcher, presets, dir).await
    }

    async fn start_in(
        config: &TargetConfig,
        launcher: Arc<dyn Launcher>,
        presets: PresetKeyLauncher,
        dir: tempfile::TempDir,
    ) -> Result<Self, HarnessError> {
        let log = dir.path().join("events.jsonl");
        let mut core = SchedulerConfig::new(workflow());
        core.bootstrap_timeout = config.bootstrap_timeout;
        let mut server = ServerConfig::new(core, ([127, 0, 0, 1], 0).into(), log.clone());
        server.defences = config.defences.clone();
        server.driver_flaws = config.flaws;
        server.handshake_timeout = config.handshake_timeout;
        server.max_handshakes_in_flight = config.max_handshakes;
        server.max_connections = config.max_connections;
        server.job_quota = config.job_quota;
        server.advertise.clone_from(&config.advertise);
        if let Some(clock) = &config.clock {
            server.clock = std::sync::Arc::clone(clock);
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        rand_core::OsRng.fill_bytes(secret.as_mut_slice());
        let keypair = StaticKeypair::from_secret(secret.clone());
        let scheduler = Scheduler::start(server, keypair, launcher).await?;
        let contact = Contact {
            workflow: workflow(),
            address: scheduler.local_addr(),
            scheduler_key: scheduler.public_key(),
            pid: std::process::id(),
        };
        // Written as the scheduler command writes it: atomically, private to its owner.
        protocol_gateway::rundir::RunDir::at(dir.path().to_owned())
            .write_contact(&contact)
            .map_err(|e| HarnessError::setup(format!("the contact file: {e}")))?;
        Ok(Self {
            handle: scheduler.handle(),
            scheduler,
            dir,
            log,
            secret,
            presets,
        })
    }

    /// Crashes this scheduler (stopped at once, nothing pending flushed: `Scheduler::abort`)
    /// and starts a new one on the same event log, with a new key and a new port, publishing
    /// its contact where [`Target::contact_path`] says (SPEC.md §9). The jobs' launcher is the
    /// preset-key one.
    ///
    /// # Errors
    /// [`HarnessError`] if the new server cannot start.
    pub async fn crash_and_restart(self, config: &TargetConfig) -> Result<Self, HarnessError> {
        let Self {
            scheduler,
            dir,
            presets,
            ..
        } = self;
        scheduler.abort().await;
        Self::start_in(config, Arc::new(presets.clone()), presets, dir).await
    }

    /// The scheduler's contact file, rewritten at every (re)start.
    #[must_use]
    pub fn contact_path(&self) -> PathBuf {
        self.dir.path().join("contact.json")
    }

    /// Starts a target with `config` and registers a job for each task through the preset-key
    /// launcher, each with a fresh keypair.
    ///
    /// # Errors
    /// [`HarnessError`] if the target does not start or a job is not registered in time.
    pub async fn with_jobs(config: &TargetConfig, tasks: &[&str]) -> Result<(Self, Vec<JobKey>), HarnessError> {
        let target = Self::start(config).await?;
        let mut jobs = Vec::new();
        for task in tasks {
            let id = job(task)?;
            let keypair = StaticKeypair::generate_from_os();
            target.register(&id, keypair.public()).await?;
            jobs.push(JobKey { id, keypair });
        }
        let n = jobs.len() as u64;
        let handle = target.handle.clone();
        if !wait_for(Duration::from_secs(3), || handle.stats().launched >= n).await {
            return Err(HarnessError::setup("the target did not register its jobs"));
        }
        Ok((target, jobs))
    }

    /// Launches `id`, answering its bootstrap with `key` through the preset keys.
    ///
    /// # Errors
    /// [`HarnessError::Target`] if the core refuses the launch.
    pub async fn register(&self, id: &JobId, key: PublicKey) -> Result<(), HarnessError> {
        self.presets.preset(id, *key.as_bytes());
        self.handle.launch(spec(id)?).await?;
        Ok(())
    }

    /// The event log's path (read it with [`read_events`] to see what is on disk without
    /// asking the scheduler to sync first).
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The listening address.
    #[must_use]
    pub fn addr(&self) -> std::net::SocketAddr {
        self.scheduler.local_addr()
    }

    /// The scheduler's public key (what a job's offer carries).
    #[must_use]
    pub fn key(&self) -> PublicKey {
        self.scheduler.public_key()
    }

    /// The scheduler's private key, as an attacker who stole it would hold it.
    #[must_use]
    pub fn stolen_secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// A job client's settings for `id`: this target's address and key, quick retries.
    #[must_use]
    pub fn client(&self, id: &JobId) -> ClientConfig {
        let mut config = ClientConfig::new(self.addr(), self.key(), id.clone());
        config.backoff = Duration::from_millis(10);
        config.max_backoff = Duration::from_millis(100);
        config.connect_timeout = Duration::from_secs(2);
        config.max_attempts = 20;
        config
    }

    /// The target's working directory (its event log is there).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.stats()
    }

    /// Everything the target has made durable so far, read back from its event log.
    ///
    /// # Errors
    /// [`HarnessError`] if the target stopped or the log cannot be read.
    pub async fn events(&self) -> Result<Vec<Event>, HarnessError> {
        self.handle.sync().await?;
        read_events(&self.log)
    }

    /// A job's state, if the target knows the job.
    ///
    /// # Errors
    /// [`HarnessError::Target`] if the target stopped.
    pub async fn state(&self, id: &JobId) -> Result<Option<JobState>, HarnessError> {
        Ok(self
            .handle
            .jobs()
            .await?
            .into_iter()
            .find(|(j, _)| j == id)
            .map(|(_, s)| s))
    }

    /// Waits (at most `limit`) until `id` is no longer launching, and returns its state then.
    ///
    /// # Errors
    /// [`HarnessError::Target`] if the target stopped.
    pub async fn settled(&self, id: &JobId, limit: Duration) -> Result<Option<JobState>, HarnessError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let state = self.state(id).await?;
            if state != Some(JobState::Launching) || tokio::time::Instant::now() >= deadline {
                return Ok(state);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the server and makes everything durable.
    pub async fn shutdown(self) {
        // The verdict is already taken; a failing shutdown changes nothing in it.
        let _ = self.scheduler.shutdown().await;
    }
}

/// Reads an event log: one JSON event per complete line.
///
/// # Errors
/// [`HarnessError::Io`] or [`HarnessError::EventLog`].
pub fn read_events(path: &Path) -> Result<Vec<Event>, HarnessError> {
    Ok(testkit::channel::read_events(path)?)
}

/// The messages accepted for `id`, in log order.
#[must_use]
pub fn accepted<'a>(events: &'a [Event], id: &JobId) -> Vec<(u64, &'a JobBody)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Accepted { job, seq, body } if job == id => Some((*seq, body)),
            _ => None,
        })
        .collect()
}

/// How many refusals the scheduler's counters attribute to `check`.
#[must_use]
pub fn refusals(stats: &StatsSnapshot, check: Check) -> u64 {
    stats
        .rejected_by_check
        .iter()
        .find(|(name, _)| *name == check.name())
        .map_or(0, |(_, n)| *n)
}
