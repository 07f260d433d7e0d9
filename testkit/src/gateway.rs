//! The people side of the reference system, live on 127.0.0.1: a hub, UI servers started
//! in-process on demand, and schedulers publishing in run directories, all in a temporary
//! directory with protocol-people's example policy, groups and users (the hub design notes), and all
//! sharing one [`ManualClock`] so harnesses move time instead of sleeping.
//!
//! ```text
//! harness ──HTTP──▶ hub ──(optional recording relay)──▶ UI server per owner ──Noise──▶ scheduler per workflow
//! ```
//!
//! Build a world with [`GatewayWorld::start`] and [`GatewayOptions`] (every defence on by
//! default; controls remove one with `GatewayDefences::all().without(..)` or
//! `PeopleDefences::all().without(..)`), speak to it with [`GatewayWorld::client`] /
//! [`GatewayWorld::login`], and observe it: audit logs ([`GatewayWorld::audit_lines`]),
//! schedulers ([`GatewayWorld::workflow`]), launches ([`GatewayWorld::launches`]), the
//! operational log ([`GatewayWorld::log_lines`]) and, with [`GatewayOptions::relay_ui`], the
//! bytes the hub sent each UI server ([`GatewayWorld::captured`]). Stop it with
//! [`GatewayWorld::stop`].
//!
//! Accounts are the examples': `jacintar` (operator group, ocean team), `atmosphere_stage`,
//! `oceans_stage` (configured operator here) and `mallory`, each with password
//! [`password`]`(user)`. Defaults keep rate limits and alert thresholds out of the way
//! (10 000 a second, 1000 signals); harnesses about limits set them.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{InProcessLauncher, ManualClock, MemoryLog, PresetKeyLauncher, WorldError};
use protocol_core::scheduler::{Event, JobSpec, JobState, SchedulerConfig, WorkflowControl};
use protocol_core::time::Millis;
use protocol_core::{JobId, Owner, PublicKey, StaticKeypair, WorkflowId};
use protocol_gateway::assertion::HubKey;
use protocol_gateway::backoff::BackoffPolicy;
use protocol_gateway::checks::GatewayDefences;
use protocol_gateway::conns::ConnLimits;
use protocol_gateway::defender::Thresholds;
use protocol_gateway::http::client::HubClient;
use protocol_gateway::limits::RateLimit;
use protocol_gateway::rundir::{Contact, RunDir, RunDirService, ServiceConfig};
use protocol_gateway::spawner::{LaunchFuture, UiInstance, UiLauncher};
use protocol_gateway::{Hub, HubParts, HubSettings, ScanPolicy, UiServerParts, UiSettings};
use protocol_net::{Scheduler, SchedulerHandle, ServerConfig};
use protocol_people::PeopleDefences;
use protocol_people::audit::{AuditKey, AuditVerifyError, AuditWriter, VerifyReport, default_head_path};
use protocol_people::authz::Authorizer;
use protocol_people::groups::FileGroups;
use protocol_people::policy::Policy;
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, UserDb, hash_password};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// The audience the hub issues tokens for.
pub const AUDIENCE: &str = "threatcheck-hub";

/// The example accounts (all have [`password`]).
pub const USERS: [&str; 4] = ["jacintar", "atmosphere_stage", "oceans_stage", "mallory"];

/// Seed 001's workflows: owner, name, task (one job each, cycle point 1234, submit 1).
pub const WORKFLOWS: [(&str, &str, &str); 4] = [
    ("atmosphere_stage", "clouds", "climb"),
    ("atmosphere_stage", "winds", "blow"),
    ("oceans_stage", "waves", "roll"),
    ("oceans_stage", "currents", "flow"),
];

/// The owners the hub serves.
pub const OWNERS: [&str; 2] = ["atmosphere_stage", "oceans_stage"];

/// A fixed start for the shared clock (2026-11-22T10:00:00Z), for harnesses whose evidence
/// must be the same every run (see [`GatewayOptions::start`]).
pub const FIXED_START: Millis = Millis(1_795_341_600_000);

/// An example account's password (a test fixture: `<user>-example-password`).
#[must_use]
pub fn password(user: &str) -> String {
    format!("{user}-example-password")
}

/// protocol-people's examples directory (policy, groups, users).
#[must_use]
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/people/examples")
}

/// What to build. [`Default`] is the real system (every defence on) with generous limits.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Workflows to run: owner, name, task.
    pub workflows: Vec<(&'static str, &'static str, &'static str)>,
    /// The owners whose UI servers the hub may spawn.
    pub owners: Vec<&'static str>,
    /// Who may use the operator endpoints (elevated).
    pub operators: Vec<&'static str>,
    /// The hub's gateway checks.
    pub hub_defences: GatewayDefences,
    /// The UI servers' gateway checks.
    pub ui_defences: GatewayDefences,
    /// The hub's session manager's checks.
    pub session_defences: PeopleDefences,
    /// The UI servers' authorisation checks (also used to load the policy).
    pub authz_defences: PeopleDefences,
    /// The audit writers' checks (hub and UI servers).
    pub audit_defences: PeopleDefences,
    /// Session idle timeout.
    pub idle_timeout: Duration,
    /// Session absolute lifetime.
    pub absolute_lifetime: Duration,
    /// Elevation window.
    pub elevation_window: Duration,
    /// Password hashing parameters: the users are re-hashed with these (and unknown users cost
    /// the same) unless they are [`HashParams::FAST_INSECURE`], the example file's.
    pub hash_params: HashParams,
    /// Requests per source.
    pub requests: RateLimit,
    /// Logins and elevations per source.
    pub logins: RateLimit,
    /// Refused requests recorded per person (the hub's `audit-rate-limit`).
    pub refusals: RateLimit,
    /// When the defender raises alerts.
    pub thresholds: Thresholds,
    /// The hub's back-off after failed password checks (loose by default, like the rate
    /// limits, so that tests about something else are not refused by it).
    pub backoff: BackoffPolicy,
    /// The hub's password workers and the checks that may queue for them.
    pub password_pool: (usize, usize),
    /// The hub's connection limits.
    pub connections: ConnLimits,
    /// How often schedulers' rejection counters are read.
    pub monitor_interval: Duration,
    /// UI servers stop after this long idle (by the shared clock).
    pub ui_idle_timeout: Duration,
    /// Replaces the example `site.toml`.
    pub site: Option<String>,
    /// Each scheduler's cap on live jobs.
    pub max_live_jobs: Option<u32>,
    /// Puts a recording relay in front of every UI server (see [`GatewayWorld::captured`]).
    pub relay_ui: bool,
    /// Where the shared clock starts; `None` for now ([`FIXED_START`] makes audit lines the
    /// same every run).
    pub start: Option<Millis>,
    /// Policy files (relative path, text) replacing or adding to the example's, written after
    /// [`GatewayOptions::site`]; an empty text removes the file.
    pub policy: Vec<(String, String)>,
    /// The hub's audit writer's checks, when they differ from
    /// [`GatewayOptions::audit_defences`] (which then apply to the UI servers' only).
    pub hub_audit_defences: Option<PeopleDefences>,
    /// Waits (up to 3 s) at start until each workflow's first job has registered its key, so
    /// a harness can use [`LiveWorkflow::job_key`] as a compromised job's at once.
    pub await_jobs: bool,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            workflows: WORKFLOWS.to_vec(),
            owners: OWNERS.to_vec(),
            operators: vec!["oceans_stage"],
            hub_defences: GatewayDefences::all(),
            ui_defences: GatewayDefences::all(),
            session_defences: PeopleDefences::all(),
            authz_defences: PeopleDefences::all(),
            audit_defences: PeopleDefences::all(),
            idle_timeout: Duration::from_secs(3600),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            elevation_window: Duration::from_secs(15 * 60),
            hash_params: HashParams::FAST_INSECURE,
            requests: RateLimit::per_second(10_000, 10_000),
            logins: RateLimit::per_second(10_000, 10_000),
            refusals: RateLimit::per_second(10_000, 10_000),
            thresholds: Thresholds {
                window: Duration::from_secs(60),
                auth_failures: 1000,
                denials: 1000,
                rejected_job_messages: 1000,
                rate_limited: 1000,
                audit_rate_limited: 1,
                auto_block: false,
                auto_block_for: Duration::from_secs(900),
            },
            backoff: BackoffPolicy {
                free_failures: 10_000,
                ..BackoffPolicy::default()
            },
            password_pool: (2, 64),
            connections: ConnLimits::HUB,
            monitor_interval: Duration::from_secs(3600),
            ui_idle_timeout: Duration::from_secs(3600),
            site: None,
            max_live_jobs: None,
            relay_ui: false,
            start: None,
            policy: Vec::new(),
            hub_audit_defences: None,
            await_jobs: false,
        }
    }
}

/// A running workflow: its scheduler, run-directory service and one launched job.
#[derive(Debug)]
pub struct LiveWorkflow {
    /// `~owner/name`.
    pub id: WorkflowId,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Its run-directory service.
    pub service: RunDirService,
    /// Its run directory.
    pub run: RunDir,
    /// The job launched at start (`1234/TASK/01`), still waiting for its key's connection.
    pub job: JobId,
    /// That job's keypair.
    pub job_key: StaticKeypair,
    /// Presets keys for further jobs ([`LiveWorkflow::launch`]).
    presets: PresetKeyLauncher,
}

impl LiveWorkflow {
    /// A handle on the scheduler.
    #[must_use]
    pub fn handle(&self) -> SchedulerHandle {
        self.scheduler.handle()
    }

    /// Launches job `1234/TASK/01` with a fresh key.
    ///
    /// # Errors
    /// [`WorldError::Setup`] for a bad task name; [`WorldError::Target`] if the scheduler
    /// refuses the launch (e.g. its live-job cap).
    pub async fn launch(&self, task: &str) -> Result<JobId, WorldError> {
        let job = JobId::new(self.id.clone(), "1234", task, 1).map_err(WorldError::setup)?;
        let key = StaticKeypair::generate_from_os();
        self.presets.preset(&job, *key.public().as_bytes());
        self.scheduler
            .handle()
            .launch(JobSpec {
                id: job.clone(),
                outputs: BTreeSet::new(),
            })
            .await?;
        Ok(job)
    }

    /// What commands have done to the workflow, as its scheduler holds it.
    ///
    /// # Errors
    /// [`WorldError::Target`] if the scheduler stopped.
    pub async fn control(&self) -> Result<WorkflowControl, WorldError> {
        Ok(self.scheduler.handle().control().await?)
    }

    /// The scheduler's event log, read back after a sync (`Commanded` events name the actor).
    ///
    /// # Errors
    /// [`WorldError`] if the scheduler stopped or the log cannot be read.
    pub async fn events(&self) -> Result<Vec<Event>, WorldError> {
        self.scheduler.handle().sync().await?;
        crate::channel::read_events(&self.run.event_log())
    }

    /// Waits up to `limit` until the job launched at start has left `Launching` (its key is
    /// registered); returns whether it did.
    ///
    /// # Errors
    /// [`WorldError::Target`] if the scheduler stopped.
    pub async fn await_job(&self, limit: Duration) -> Result<bool, WorldError> {
        let handle = self.scheduler.handle();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let launching = handle
                .jobs()
                .await?
                .iter()
                .any(|(j, s)| *j == self.job && *s == JobState::Launching);
            if !launching {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// What the launcher saw: every launch, in order.
#[derive(Debug, Default)]
struct Launches {
    owners: Vec<String>,
    /// The latest instance's real address per owner.
    addresses: Vec<(String, SocketAddr)>,
    /// Requests the relays carried to each owner's UI servers (owner, raw bytes).
    captured: Vec<(String, Vec<u8>)>,
}

/// Wraps the in-process launcher: records launches, and puts a relay in front of instances.
#[derive(Debug)]
struct Recording {
    inner: InProcessLauncher,
    seen: Arc<Mutex<Launches>>,
    relay: bool,
    refuse: Arc<AtomicBool>,
}

impl UiLauncher for Recording {
    fn launch(&self, owner: Owner, hub_key: HubKey) -> LaunchFuture {
        if let Ok(mut s) = self.seen.lock() {
            s.owners.push(owner.as_str().to_owned());
        }
        let launched = self.inner.launch(owner.clone(), hub_key);
        let (seen, relay, refuse) = (Arc::clone(&self.seen), self.relay, Arc::clone(&self.refuse));
        Box::pin(async move {
            let instance = launched.await?;
            if let Ok(mut s) = seen.lock() {
                s.addresses.push((owner.as_str().to_owned(), instance.address()));
            }
            if !relay {
                return Ok(instance);
            }
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| protocol_gateway::spawner::SpawnError::Start(e.kind().to_string()))?;
            let front = listener
                .local_addr()
                .map_err(|e| protocol_gateway::spawner::SpawnError::Start(e.kind().to_string()))?;
            let task = tokio::spawn(relay_loop(
                listener,
                instance.address(),
                owner.as_str().to_owned(),
                seen,
                refuse,
            ));
            Ok(Box::new(Relayed {
                inner: instance,
                front,
                task,
            }) as Box<dyn UiInstance>)
        })
    }
}

/// The most bytes recorded per relayed connection.
const CAPTURE_LIMIT: usize = 64 * 1024;

async fn relay_loop(
    listener: tokio::net::TcpListener,
    back: SocketAddr,
    owner: String,
    seen: Arc<Mutex<Launches>>,
    refuse: Arc<AtomicBool>,
) {
    while let Ok((mut client, _)) = listener.accept().await {
        if refuse.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let (owner, seen) = (owner.clone(), Arc::clone(&seen));
        tokio::spawn(async move {
            let Ok(mut server) = tokio::net::TcpStream::connect(back).await else {
                return;
            };
            let (mut cr, mut cw) = client.split();
            let (mut sr, mut sw) = server.split();
            let mut recorded = Vec::new();
            let upstream = async {
                let mut buf = [0u8; 4096];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let room = CAPTURE_LIMIT.saturating_sub(recorded.len());
                    recorded.extend_from_slice(&buf[..n.min(room)]);
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            };
            let downstream = async {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
                let _ = cw.shutdown().await;
            };
            tokio::join!(upstream, downstream);
            if let Ok(mut s) = seen.lock() {
                s.captured.push((owner, recorded));
            }
        });
    }
}

/// A UI server behind a recording relay: the hub sees the relay's address.
#[derive(Debug)]
struct Relayed {
    inner: Box<dyn UiInstance>,
    front: SocketAddr,
    task: JoinHandle<()>,
}

impl UiInstance for Relayed {
    fn address(&self) -> SocketAddr {
        self.front
    }

    fn client_key(&self) -> PublicKey {
        self.inner.client_key()
    }

    fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    fn has_exited(&mut self) -> bool {
        self.inner.has_exited()
    }

    fn stop(self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        self.task.abort();
        self.inner.stop()
    }
}

/// A whole people-side system on loopback. See the [module documentation](self).
#[derive(Debug)]
pub struct GatewayWorld {
    dir: tempfile::TempDir,
    clock: ManualClock,
    hub: Option<Hub>,
    addr: SocketAddr,
    log: Arc<MemoryLog>,
    workflows: Vec<LiveWorkflow>,
    seen: Arc<Mutex<Launches>>,
    refuse: Arc<AtomicBool>,
    key: AuditKey,
    audit_defences: PeopleDefences,
    hub_audit_defences: PeopleDefences,
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), WorldError> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)?.flatten() {
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Writes `files` over the policy in `dir` (an empty text removes a file).
fn overlay_policy(dir: &Path, files: &[(String, String)]) -> Result<(), WorldError> {
    for (relative, text) in files {
        let path = dir.join(relative);
        if text.is_empty() {
            if path.exists() {
                std::fs::remove_file(&path)?;
            }
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

fn owner(s: &str) -> Result<Owner, WorldError> {
    Owner::new(s).map_err(WorldError::setup)
}

fn users(params: HashParams) -> Result<UserDb, WorldError> {
    let examples = UserDb::load(&examples().join("users.toml")).map_err(WorldError::setup)?;
    if params == HashParams::FAST_INSECURE {
        return Ok(examples);
    }
    let mut db = UserDb::new();
    for user in USERS {
        let phc = hash_password(&password(user), params, &mut rand_core::OsRng).map_err(WorldError::setup)?;
        db.insert(owner(user)?, &phc).map_err(WorldError::setup)?;
    }
    Ok(db)
}

impl GatewayWorld {
    /// Starts schedulers for `o.workflows`, then the hub (UI servers start on demand).
    ///
    /// # Errors
    /// [`WorldError`] if a directory, scheduler, service or the hub cannot be made.
    pub async fn start(o: GatewayOptions) -> Result<Self, WorldError> {
        let dir = tempfile::Builder::new().prefix("threatcheck-gateway").tempdir()?;
        let (policy, runs, audit) = (
            dir.path().join("policy"),
            dir.path().join("runs"),
            dir.path().join("audit"),
        );
        copy_tree(&examples().join("policy"), &policy)?;
        if let Some(site) = &o.site {
            std::fs::write(policy.join("site.toml"), site)?;
        }
        overlay_policy(&policy, &o.policy)?;
        std::fs::create_dir_all(&audit)?;
        let key = AuditKey::from_bytes([7; 32]);
        let clock = ManualClock::new(o.start.unwrap_or_else(Millis::now));
        let log = Arc::new(MemoryLog::new());

        let mut workflows = Vec::new();
        for (owner, name, task) in &o.workflows {
            workflows.push(start_workflow(&runs, owner, name, task, o.max_live_jobs).await?);
        }
        if o.await_jobs {
            for w in &workflows {
                w.await_job(Duration::from_secs(3)).await?;
            }
        }

        let factory = {
            let (policy, runs, audit, key, clock, log) = (
                policy.clone(),
                runs.clone(),
                audit.clone(),
                key.clone(),
                clock.clone(),
                Arc::clone(&log),
            );
            let (ui_defences, authz, audit_defences) = (
                o.ui_defences.clone(),
                o.authz_defences.clone(),
                o.audit_defences.clone(),
            );
            let idle_timeout = o.ui_idle_timeout;
            move |owner: Owner, hub_key: HubKey| -> Result<UiServerParts, String> {
                let groups = FileGroups::load(&examples().join("groups.toml")).map_err(|e| e.to_string())?;
                let path = audit.join(format!("uiserver-{owner}.log"));
                let writer =
                    AuditWriter::open_with(&path, &default_head_path(&path), key.clone(), audit_defences.clone())
                        .map_err(|e| e.to_string())?;
                Ok(UiServerParts {
                    owner,
                    authorizer: Authorizer::with_defences(Policy::load_with(&policy, &authz), authz.clone()),
                    groups: Arc::new(groups),
                    audit: Box::new(writer),
                    runs: runs.clone(),
                    hub_key,
                    keypair: StaticKeypair::generate_from_os(),
                    clock: Arc::new(clock.clone()),
                    log: log.clone(),
                    settings: UiSettings {
                        idle_timeout,
                        command_timeout: Duration::from_secs(5),
                        defences: ui_defences.clone(),
                        ..UiSettings::default()
                    },
                })
            }
        };
        let seen = Arc::new(Mutex::new(Launches::default()));
        let refuse = Arc::new(AtomicBool::new(false));
        let launcher = Recording {
            inner: InProcessLauncher::new(factory),
            seen: Arc::clone(&seen),
            relay: o.relay_ui,
            refuse: Arc::clone(&refuse),
        };
        let sessions = SessionManager::with_defences(
            users(o.hash_params)?,
            SessionConfig {
                idle_timeout: o.idle_timeout,
                absolute_lifetime: o.absolute_lifetime,
                elevation_window: o.elevation_window,
                hash_params: o.hash_params,
            },
            o.session_defences.clone(),
        )
        .map_err(WorldError::setup)?;
        let hub_log = audit.join("hub.log");
        let hub_audit_defences = o.hub_audit_defences.clone().unwrap_or_else(|| o.audit_defences.clone());
        let hub_audit = AuditWriter::open_with(
            &hub_log,
            &default_head_path(&hub_log),
            key.clone(),
            hub_audit_defences.clone(),
        )
        .map_err(WorldError::setup)?;
        let hub = Hub::start(HubParts {
            sessions,
            audience: Audience::new(AUDIENCE).map_err(WorldError::setup)?,
            audit: Box::new(hub_audit),
            launcher: Arc::new(launcher),
            owners: o.owners.iter().map(|s| owner(s)).collect::<Result<_, _>>()?,
            operators: o.operators.iter().map(|s| owner(s)).collect::<Result<_, _>>()?,
            runs: Some(runs),
            scan: Some(ScanPolicy {
                authorizer: {
                    let (policy, authz) = (policy.clone(), o.authz_defences.clone());
                    Box::new(move || Authorizer::with_defences(Policy::load_with(&policy, &authz), authz.clone()))
                },
                groups: Arc::new(FileGroups::load(&examples().join("groups.toml")).map_err(WorldError::setup)?),
            }),
            clock: Arc::new(clock.clone()),
            log: log.clone(),
            settings: HubSettings {
                thresholds: o.thresholds.clone(),
                requests: o.requests,
                logins: o.logins,
                refusals: o.refusals,
                monitor_interval: o.monitor_interval,
                revoke_timeout: Duration::from_secs(3),
                proxy_timeout: Duration::from_secs(5),
                backoff: o.backoff,
                password_workers: o.password_pool.0,
                password_queue: o.password_pool.1,
                connections: o.connections,
                defences: o.hub_defences.clone(),
                ..HubSettings::default()
            },
        })
        .await
        .map_err(WorldError::setup)?;
        let addr = hub.address();
        Ok(Self {
            dir,
            clock,
            hub: Some(hub),
            addr,
            log,
            workflows,
            seen,
            refuse,
            key,
            audit_defences: o.audit_defences,
            hub_audit_defences,
        })
    }

    /// The hub's address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The audit MAC key of every log of this world.
    #[must_use]
    pub const fn audit_key(&self) -> &AuditKey {
        &self.key
    }

    /// A browser-like client of the hub (from 127.0.0.1), not logged in.
    #[must_use]
    pub fn client(&self) -> HubClient {
        HubClient::new(self.addr)
    }

    /// A client speaking from `ip` (any of 127.0.0.0/8).
    ///
    /// # Errors
    /// [`WorldError::Setup`] if `ip` is not a loopback address.
    pub fn client_from(&self, ip: &str) -> Result<HubClient, WorldError> {
        let ip: IpAddr = ip.parse().map_err(WorldError::setup)?;
        if !ip.is_loopback() {
            return Err(WorldError::setup(format!("{ip} is not a loopback address")));
        }
        Ok(HubClient::new(self.addr).from_ip(ip))
    }

    /// A client logged in (read-only, session cookie) as the example account `user`.
    ///
    /// # Errors
    /// [`WorldError::Setup`] if the login is not answered 200.
    pub async fn login(&self, user: &str) -> Result<HubClient, WorldError> {
        let c = self.client();
        login_as(c, user).await
    }

    /// As [`GatewayWorld::login`], speaking from `ip`.
    ///
    /// # Errors
    /// As [`GatewayWorld::login`] and [`GatewayWorld::client_from`].
    pub async fn login_from(&self, user: &str, ip: &str) -> Result<HubClient, WorldError> {
        let c = self.client_from(ip)?;
        login_as(c, user).await
    }

    /// Logs `client` (already logged in as `user`) up to `level` (`execute` or `write`).
    ///
    /// # Errors
    /// [`WorldError::Setup`] if the elevation is not answered 200.
    pub async fn elevate(client: &mut HubClient, user: &str, level: &str) -> Result<(), WorldError> {
        let r = client
            .elevate(&password(user), level)
            .await
            .map_err(|e| WorldError::setup(format!("{user} could not elevate: {e}")))?;
        if r.status != 200 {
            return Err(WorldError::setup(format!(
                "{user}'s elevation was answered {}",
                r.status
            )));
        }
        Ok(())
    }

    /// A client logged in as the example account `user` and elevated to `level` (`execute`
    /// or `write`).
    ///
    /// # Errors
    /// As [`GatewayWorld::login`] and [`GatewayWorld::elevate`].
    pub async fn elevated(&self, user: &str, level: &str) -> Result<HubClient, WorldError> {
        let mut c = self.login(user).await?;
        Self::elevate(&mut c, user, level).await?;
        Ok(c)
    }

    /// The shared clock (hub, UI servers, sessions, limits).
    #[must_use]
    pub const fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Moves the shared clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The audit log `log`: `"hub"` for the hub's, an owner's name for that owner's UI
    /// server's; each record without its `[#n mac]` suffix. Empty if there is none yet.
    #[must_use]
    pub fn audit_lines(&self, log: &str) -> Vec<String> {
        let file = if log == "hub" {
            "hub.log".to_owned()
        } else {
            format!("uiserver-{log}.log")
        };
        std::fs::read_to_string(self.audit_dir().join(file))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(" [#").next().unwrap_or(l).to_owned())
            .collect()
    }

    /// The file of audit log `log` (named as in [`GatewayWorld::audit_lines`]).
    #[must_use]
    pub fn audit_path(&self, log: &str) -> PathBuf {
        if log == "hub" {
            self.audit_dir().join("hub.log")
        } else {
            self.audit_dir().join(format!("uiserver-{log}.log"))
        }
    }

    /// The raw text of audit log `log` as on disk now, trailers and all (empty if absent).
    #[must_use]
    pub fn audit_text(&self, log: &str) -> String {
        std::fs::read(self.audit_path(log))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Verifies an audit log file (this world's or a copy of one) and its head with the
    /// world's key and the checks its writer had: the hub's for the hub's log, the UI
    /// servers' for any other (a control without `audit-chain` verifies without it too).
    ///
    /// # Errors
    /// The verifier's [`AuditVerifyError`].
    pub fn verify(&self, log: &Path, head: &Path) -> Result<VerifyReport, AuditVerifyError> {
        let defences = if log == self.audit_path("hub") {
            &self.hub_audit_defences
        } else {
            &self.audit_defences
        };
        protocol_people::audit::verify_with(log, head, &self.key, defences)
    }

    /// The workflow called `name`.
    ///
    /// # Errors
    /// [`WorldError::Setup`] if no workflow has that name.
    pub fn workflow(&self, name: &str) -> Result<&LiveWorkflow, WorldError> {
        self.workflows
            .iter()
            .find(|w| w.id.name() == name)
            .ok_or_else(|| WorldError::setup(format!("no workflow {name}")))
    }

    /// Every running workflow.
    #[must_use]
    pub fn workflows(&self) -> &[LiveWorkflow] {
        &self.workflows
    }

    /// The owners UI servers were launched for, in order (one entry per launch).
    #[must_use]
    pub fn launches(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.owners.clone()).unwrap_or_default()
    }

    /// The real address of `owner`'s latest UI server (behind the relay, if any).
    #[must_use]
    pub fn ui_address(&self, owner: &str) -> Option<SocketAddr> {
        self.seen
            .lock()
            .ok()?
            .addresses
            .iter()
            .rev()
            .find(|(o, _)| o == owner)
            .map(|(_, a)| *a)
    }

    /// Every address a UI server listened on, relays excluded.
    #[must_use]
    pub fn ui_addresses(&self) -> Vec<SocketAddr> {
        self.seen
            .lock()
            .map(|s| s.addresses.iter().map(|(_, a)| *a).collect())
            .unwrap_or_default()
    }

    /// The requests (raw HTTP bytes, one connection each) the hub sent `owner`'s UI servers
    /// through the relay, in the order their connections ended. Empty without
    /// [`GatewayOptions::relay_ui`].
    #[must_use]
    pub fn captured(&self, owner: &str) -> Vec<Vec<u8>> {
        self.seen
            .lock()
            .map(|s| {
                s.captured
                    .iter()
                    .filter(|(o, _)| o == owner)
                    .map(|(_, b)| b.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// While `on`, the relays close every new connection at once (a UI server that does not
    /// answer). Needs [`GatewayOptions::relay_ui`].
    pub fn refuse_ui_connections(&self, on: bool) {
        self.refuse.store(on, Ordering::SeqCst);
    }

    /// The operational log so far (hub and UI servers).
    #[must_use]
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lines()
    }

    /// The world's directory (policy/, runs/, audit/).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The run directories' root.
    #[must_use]
    pub fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    /// The audit logs' directory.
    #[must_use]
    pub fn audit_dir(&self) -> PathBuf {
        self.dir.path().join("audit")
    }

    /// As [`GatewayWorld::stop`], but keeps the world (its directory, audit logs and run
    /// directories) for reading afterwards; a second call does nothing.
    pub async fn stop_in_place(&mut self) {
        if let Some(hub) = self.hub.take() {
            hub.shutdown().await;
        }
        for w in self.workflows.drain(..) {
            w.service.stop().await;
            // The verdict is already taken; a failing shutdown changes nothing in it.
            let _ = w.scheduler.shutdown().await;
        }
    }

    /// Stops the hub (and its UI servers), then the services and schedulers.
    pub async fn stop(mut self) {
        self.stop_in_place().await;
    }
}

async fn login_as(mut c: HubClient, user: &str) -> Result<HubClient, WorldError> {
    let r = c
        .login(user, &password(user))
        .await
        .map_err(|e| WorldError::setup(format!("{user} could not log in: {e}")))?;
    if r.status != 200 {
        return Err(WorldError::setup(format!("{user}'s login was answered {}", r.status)));
    }
    Ok(c)
}

/// Polls `cond` every 5 ms until it holds or `limit` passes; returns whether it held (the same
/// as [`crate::channel::wait_for`], here for users of only this module).
pub async fn eventually(limit: Duration, cond: impl FnMut() -> bool) -> bool {
    crate::channel::wait_for(limit, cond).await
}

async fn start_workflow(
    runs: &Path,
    owner: &str,
    name: &str,
    task: &str,
    max_live_jobs: Option<u32>,
) -> Result<LiveWorkflow, WorldError> {
    let id = WorkflowId::new(owner, name).map_err(WorldError::setup)?;
    let run = RunDir::of(runs, &id);
    run.create().map_err(WorldError::setup)?;
    let mut core = SchedulerConfig::new(id.clone());
    core.max_live_jobs = max_live_jobs;
    let config = ServerConfig::new(core, SocketAddr::from(([127, 0, 0, 1], 0)), run.event_log());
    let presets = PresetKeyLauncher::default();
    let job = JobId::new(id.clone(), "1234", task, 1).map_err(WorldError::setup)?;
    let job_key = StaticKeypair::generate_from_os();
    presets.preset(&job, *job_key.public().as_bytes());
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(presets.clone())).await?;
    let service = RunDirService::start(
        run.clone(),
        Contact {
            workflow: id.clone(),
            address: scheduler.local_addr(),
            scheduler_key: scheduler.public_key(),
            pid: std::process::id(),
        },
        scheduler.handle(),
        ServiceConfig {
            poll: Duration::from_millis(20),
            max_live_jobs,
        },
        Arc::new(protocol_gateway::logging::NoLog),
    )
    .await
    .map_err(WorldError::setup)?;
    scheduler
        .handle()
        .launch(JobSpec {
            id: job.clone(),
            outputs: BTreeSet::new(),
        })
        .await?;
    Ok(LiveWorkflow {
        id,
        scheduler,
        service,
        run,
        job,
        job_key,
        presets,
    })
}
