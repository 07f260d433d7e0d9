//! A whole people side on 127.0.0.1, built with the defences a run asks for: schedulers
//! publishing in run directories, a hub, and UI servers the hub starts in this process on
//! demand, all sharing one manual clock (harnesses move time instead of sleeping).
//!
//! Seed 001's example is the default: its policy, groups and users (test fixtures whose
//! passwords are `<user>-example-password`), and four workflows, each with one job `1234/TASK`
//! whose key the harness holds. A harness replaces policy files, groups or workflows, and
//! removes one defence through [`WorldOptions`]. Optionally every byte the hub sends to a UI
//! server passes a recording relay, as an attacker on the host who can read loopback traffic
//! would see it ([`World::captured`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::scheduler::{JobSpec, SchedulerConfig, WorkflowControl};
use protocol_core::time::Millis;
use protocol_core::{Defences, JobId, Owner, PublicKey, StaticKeypair, WorkflowId};
use protocol_gateway::assertion::HubKey;
use protocol_gateway::checks::GatewayDefences;
use protocol_gateway::clock::ManualClock;
use protocol_gateway::defender::Thresholds;
use protocol_gateway::http::client::HubClient;
use protocol_gateway::limits::RateLimit;
use protocol_gateway::logging::{MemoryLog, NoLog};
use protocol_gateway::rundir::{Contact, RunDir, RunDirService, ServiceConfig};
use protocol_gateway::spawner::{LaunchFuture, UiInstance, UiLauncher};
use protocol_gateway::uiserver::InProcessLauncher;
use protocol_gateway::{Hub, HubParts, HubSettings, UiServerParts, UiSettings};
use protocol_net::launcher::PresetKeyLauncher;
use protocol_net::{Scheduler, ServerConfig};
use protocol_people::PeopleDefences;
use protocol_people::audit::{AuditKey, AuditVerifyError, AuditWriter, VerifyReport, default_head_path};
use protocol_people::authz::Authorizer;
use protocol_people::groups::FileGroups;
use protocol_people::policy::Policy;
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, UserDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::HarnessError;

/// Seed 001's example policy, relative path and text.
pub const EXAMPLE_POLICY: [(&str, &str); 4] = [
    (
        "site.toml",
        include_str!("../../../protocol/people/examples/policy/site.toml"),
    ),
    (
        "users/atmosphere_stage.toml",
        include_str!("../../../protocol/people/examples/policy/users/atmosphere_stage.toml"),
    ),
    (
        "users/oceans_stage.toml",
        include_str!("../../../protocol/people/examples/policy/users/oceans_stage.toml"),
    ),
    (
        "workflows/oceans_stage/currents.toml",
        include_str!("../../../protocol/people/examples/policy/workflows/oceans_stage/currents.toml"),
    ),
];

/// Seed 001's example groups: `jacintar` in `operators` and `ocean_team`.
pub const EXAMPLE_GROUPS: &str = include_str!("../../../protocol/people/examples/groups.toml");

/// The example accounts (argon2 test parameters).
const EXAMPLE_USERS: &str = include_str!("../../../protocol/people/examples/users.toml");

/// Seed 001's workflows: owner, name, task (cycle point 1234).
pub const WORKFLOWS: [(&str, &str, &str); 4] = [
    ("atmosphere_stage", "clouds", "climb"),
    ("atmosphere_stage", "winds", "blow"),
    ("oceans_stage", "waves", "roll"),
    ("oceans_stage", "currents", "flow"),
];

/// Where the world's clock starts (2026-11-22T10:00:00Z), so that audit lines are the same
/// every run.
pub const START: Millis = Millis(1_795_341_600_000);

/// The owners the hub serves.
pub const OWNERS: [&str; 2] = ["atmosphere_stage", "oceans_stage"];

/// The example password of `user` (a published test fixture, never a real secret).
#[must_use]
pub fn password(user: &str) -> String {
    format!("{user}-example-password")
}

/// What to build.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// Workflows: owner, name, task.
    pub workflows: Vec<(&'static str, &'static str, &'static str)>,
    /// Policy files replacing (or adding to) the example's; an empty text removes a file.
    pub policy: Vec<(String, String)>,
    /// The groups file.
    pub groups: String,
    /// Defences of the UI servers' authoriser and policy loading.
    pub authz: PeopleDefences,
    /// Defences of the UI servers' audit logs.
    pub ui_audit: PeopleDefences,
    /// Defences of the hub's audit log.
    pub hub_audit: PeopleDefences,
    /// Defences of the hub's sessions.
    pub sessions: PeopleDefences,
    /// The UI servers' gateway defences.
    pub ui: GatewayDefences,
    /// The hub's gateway defences.
    pub hub: GatewayDefences,
    /// The schedulers' defences.
    pub core: Defences,
    /// Operators.
    pub operators: Vec<&'static str>,
    /// Put a recording relay between the hub and each UI server.
    pub capture: bool,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            workflows: WORKFLOWS.to_vec(),
            policy: Vec::new(),
            groups: EXAMPLE_GROUPS.to_owned(),
            authz: PeopleDefences::all(),
            ui_audit: PeopleDefences::all(),
            hub_audit: PeopleDefences::all(),
            sessions: PeopleDefences::all(),
            ui: GatewayDefences::all(),
            hub: GatewayDefences::all(),
            core: Defences::all(),
            operators: vec!["oceans_stage"],
            capture: false,
        }
    }
}

/// One workflow's scheduler, its run directory service and its job.
#[derive(Debug)]
pub struct Workflow {
    /// The workflow.
    pub id: WorkflowId,
    scheduler: Scheduler,
    service: RunDirService,
    run: RunDir,
    /// Its one job, `1234/TASK/01`.
    pub job: JobId,
    /// That job's keypair (as a compromised job would hold it).
    pub job_key: StaticKeypair,
}

impl Workflow {
    /// What commands have done to the workflow, as its scheduler holds it.
    ///
    /// # Errors
    /// [`HarnessError::Target`] if the scheduler stopped.
    pub async fn control(&self) -> Result<WorkflowControl, HarnessError> {
        Ok(self.scheduler.handle().control().await?)
    }

    /// The run directory.
    #[must_use]
    pub const fn run(&self) -> &RunDir {
        &self.run
    }

    /// The scheduler's event log (`Commanded` events name the actor).
    ///
    /// # Errors
    /// [`HarnessError`] if the scheduler stopped or the log cannot be read.
    pub async fn events(&self) -> Result<Vec<protocol_core::scheduler::Event>, HarnessError> {
        self.scheduler.handle().sync().await?;
        crate::live::target::read_events(&self.run.event_log())
    }
}

/// A UI server the hub started: its owner and where it really listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSeen {
    /// Whose.
    pub owner: Owner,
    /// Its own address (behind the relay, if any).
    pub address: SocketAddr,
}

type Captured = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

/// The most bytes recorded per owner.
const MAX_CAPTURE: usize = 1 << 20;

/// A running world. Stop it with [`World::stop`].
#[derive(Debug)]
pub struct World {
    dir: tempfile::TempDir,
    /// The clock every component reads.
    pub clock: ManualClock,
    hub: Option<Hub>,
    /// The hub's address.
    pub addr: SocketAddr,
    /// The operational log lines of the hub and UI servers.
    pub log: Arc<MemoryLog>,
    /// The workflows.
    pub workflows: Vec<Workflow>,
    key: AuditKey,
    ui_audit: PeopleDefences,
    hub_audit: PeopleDefences,
    seen: Arc<Mutex<Vec<UiSeen>>>,
    captured: Captured,
}

/// Starts UI servers in process and records where (and, with capture, what the hub sends).
struct Recording {
    inner: InProcessLauncher,
    seen: Arc<Mutex<Vec<UiSeen>>>,
    captured: Option<Captured>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Relayed {
    inner: Box<dyn UiInstance>,
    front: SocketAddr,
    relay: tokio::task::JoinHandle<()>,
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
        self.relay.abort();
        self.inner.stop()
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    record: Option<(Captured, String)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if let Some((captured, owner)) = &record
            && let Ok(mut c) = captured.lock()
        {
            let bytes = c.entry(owner.clone()).or_default();
            if bytes.len() + chunk.len() <= MAX_CAPTURE {
                bytes.extend_from_slice(chunk);
            }
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

async fn relay(listener: TcpListener, to: SocketAddr, captured: Captured, owner: String) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(to).await else {
            continue;
        };
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        tokio::spawn(pipe(cr, sw, Some((Arc::clone(&captured), owner.clone()))));
        tokio::spawn(pipe(sr, cw, None));
    }
}

impl UiLauncher for Recording {
    fn launch(&self, owner: Owner, hub_key: HubKey) -> LaunchFuture {
        let launched = self.inner.launch(owner.clone(), hub_key);
        let seen = Arc::clone(&self.seen);
        let captured = self.captured.clone();
        Box::pin(async move {
            let inner = launched.await?;
            if let Ok(mut s) = seen.lock() {
                s.push(UiSeen {
                    owner: owner.clone(),
                    address: inner.address(),
                });
            }
            let Some(captured) = captured else {
                return Ok(inner);
            };
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| protocol_gateway::spawner::SpawnError::Start(e.to_string()))?;
            let front = listener
                .local_addr()
                .map_err(|e| protocol_gateway::spawner::SpawnError::Start(e.to_string()))?;
            let relay = tokio::spawn(relay(listener, inner.address(), captured, owner.to_string()));
            Ok(Box::new(Relayed { inner, front, relay }) as Box<dyn UiInstance>)
        })
    }
}

fn owner(s: &str) -> Result<Owner, HarnessError> {
    Owner::new(s).map_err(HarnessError::setup)
}

fn write_policy(dir: &Path, files: &[(String, String)]) -> Result<(), HarnessError> {
    let mut all: BTreeMap<String, String> = EXAMPLE_POLICY
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    for (p, t) in files {
        all.insert(p.clone(), t.clone());
    }
    for (p, t) in all {
        if t.is_empty() {
            continue;
        }
        let path = dir.join(&p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, t)?;
    }
    Ok(())
}

impl World {
    /// Starts the schedulers and the hub (UI servers start on the first request for their owner).
    ///
    /// # Errors
    /// [`HarnessError`] if a component does not start.
    pub async fn start(o: WorldOptions) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("threatcheck-people").tempdir()?;
        let (policy, runs, audit) = (
            dir.path().join("policy"),
            dir.path().join("runs"),
            dir.path().join("audit"),
        );
        write_policy(&policy, &o.policy)?;
        std::fs::create_dir_all(&audit)?;
        let groups_file = dir.path().join("groups.toml");
        std::fs::write(&groups_file, &o.groups)?;
        let key = AuditKey::generate(&mut rand_core::OsRng);
        let clock = ManualClock::new(START);
        let log = Arc::new(MemoryLog::new());

        let mut workflows = Vec::new();
        for (owner, name, task) in &o.workflows {
            workflows.push(start_workflow(&runs, owner, name, task, &o.core).await?);
        }

        let factory = {
            let (runs, audit, key, clock, log) = (
                runs.clone(),
                audit.clone(),
                key.clone(),
                clock.clone(),
                Arc::clone(&log),
            );
            let (authz, ui_audit, ui) = (o.authz.clone(), o.ui_audit.clone(), o.ui.clone());
            move |owner: Owner, hub_key: HubKey| -> Result<UiServerParts, String> {
                let groups = FileGroups::load(&groups_file).map_err(|e| e.to_string())?;
                let path = audit.join(format!("uiserver-{owner}.log"));
                let writer = AuditWriter::open_with(&path, &default_head_path(&path), key.clone(), ui_audit.clone())
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
                        idle_timeout: Duration::from_secs(600),
                        command_timeout: Duration::from_secs(3),
                        defences: ui.clone(),
                        ..UiSettings::default()
                    },
                })
            }
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let captured: Captured = Arc::new(Mutex::new(BTreeMap::new()));
        let launcher = Recording {
            inner: InProcessLauncher::new(factory),
            seen: Arc::clone(&seen),
            captured: o.capture.then(|| Arc::clone(&captured)),
        };
        let users = UserDb::parse("users.toml", EXAMPLE_USERS).map_err(HarnessError::setup)?;
        let sessions = SessionManager::with_defences(
            users,
            SessionConfig {
                elevation_window: Duration::from_secs(120),
                hash_params: HashParams::FAST_INSECURE,
                ..SessionConfig::default()
            },
            o.sessions.clone(),
        )
        .map_err(HarnessError::setup)?;
        let hub_log = audit.join("hub.log");
        let hub_writer =
            AuditWriter::open_with(&hub_log, &default_head_path(&hub_log), key.clone(), o.hub_audit.clone())
                .map_err(HarnessError::setup)?;
        let hub = Hub::start(HubParts {
            sessions,
            audience: Audience::new("threatcheck-attack").map_err(HarnessError::setup)?,
            audit: Box::new(hub_writer),
            launcher: Arc::new(launcher),
            owners: OWNERS.iter().map(|s| owner(s)).collect::<Result<BTreeSet<_>, _>>()?,
            operators: o
                .operators
                .iter()
                .map(|s| owner(s))
                .collect::<Result<BTreeSet<_>, _>>()?,
            runs: Some(runs),
            clock: Arc::new(clock.clone()),
            log: log.clone(),
            settings: HubSettings {
                thresholds: Thresholds {
                    window: Duration::from_secs(60),
                    auth_failures: 1000,
                    denials: 1000,
                    rejected_job_messages: 1000,
                    rate_limited: 1000,
                    auto_block: false,
                },
                requests: RateLimit::per_second(10_000, 10_000),
                logins: RateLimit::per_second(10_000, 10_000),
                monitor_interval: Duration::from_secs(3600),
                proxy_timeout: Duration::from_secs(5),
                defences: o.hub.clone(),
                ..HubSettings::default()
            },
        })
        .await
        .map_err(HarnessError::setup)?;
        let addr = hub.address();
        Ok(Self {
            dir,
            clock,
            hub: Some(hub),
            addr,
            log,
            workflows,
            key,
            ui_audit: o.ui_audit,
            hub_audit: o.hub_audit,
            seen,
            captured,
        })
    }

    /// A browser-like client of the hub, not logged in.
    #[must_use]
    pub fn client(&self) -> HubClient {
        HubClient::new(self.addr)
    }

    /// A client logged in (read-only) as `user` with the example password.
    ///
    /// # Errors
    /// [`HarnessError::Setup`] if the login is refused.
    pub async fn login(&self, user: &str) -> Result<HubClient, HarnessError> {
        let mut c = self.client();
        let r = c
            .login(user, &password(user))
            .await
            .map_err(|e| HarnessError::setup(format!("login as {user}: {e}")))?;
        if r.status != 200 {
            return Err(HarnessError::setup(format!("login as {user}: status {}", r.status)));
        }
        Ok(c)
    }

    /// A client logged in as `user` and elevated to `level` (`execute` or `write`).
    ///
    /// # Errors
    /// [`HarnessError::Setup`] if the login or the elevation is refused.
    pub async fn elevated(&self, user: &str, level: &str) -> Result<HubClient, HarnessError> {
        let mut c = self.login(user).await?;
        let r = c
            .elevate(&password(user), level)
            .await
            .map_err(|e| HarnessError::setup(format!("elevate {user}: {e}")))?;
        if r.status != 200 {
            return Err(HarnessError::setup(format!("elevate {user}: status {}", r.status)));
        }
        Ok(c)
    }

    /// The workflow called `name`.
    ///
    /// # Errors
    /// [`HarnessError::Setup`] if the world has none.
    pub fn workflow(&self, name: &str) -> Result<&Workflow, HarnessError> {
        self.workflows
            .iter()
            .find(|w| w.id.name() == name)
            .ok_or_else(|| HarnessError::setup(format!("no workflow {name}")))
    }

    /// The audit log file of `owner`'s UI server.
    #[must_use]
    pub fn ui_audit_path(&self, owner: &str) -> PathBuf {
        self.dir.path().join("audit").join(format!("uiserver-{owner}.log"))
    }

    /// The hub's audit log file.
    #[must_use]
    pub fn hub_audit_path(&self) -> PathBuf {
        self.dir.path().join("audit").join("hub.log")
    }

    /// The raw text of an audit log, as on disk now (empty if absent).
    #[must_use]
    pub fn audit_text(path: &Path) -> String {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Verifies an audit log of this world with its key and the defences its writer had (the
    /// verifier is part of the defence: a control without `audit-chain` verifies without it).
    ///
    /// # Errors
    /// The verifier's [`AuditVerifyError`].
    pub fn verify(&self, log: &Path, head: &Path) -> Result<VerifyReport, AuditVerifyError> {
        let defences = if log == self.hub_audit_path() {
            &self.hub_audit
        } else {
            &self.ui_audit
        };
        protocol_people::audit::verify_with(log, head, &self.key, defences)
    }

    /// The UI servers started so far.
    #[must_use]
    pub fn ui_servers(&self) -> Vec<UiSeen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The address of `owner`'s most recent UI server.
    ///
    /// # Errors
    /// [`HarnessError::Setup`] if none was started.
    pub fn ui_server(&self, owner: &str) -> Result<SocketAddr, HarnessError> {
        self.ui_servers()
            .iter()
            .rev()
            .find(|u| u.owner.as_str() == owner)
            .map(|u| u.address)
            .ok_or_else(|| HarnessError::setup(format!("no UI server for {owner}")))
    }

    /// What the hub has sent to `owner`'s UI servers, as recorded by the relay.
    #[must_use]
    pub fn captured(&self, owner: &str) -> Vec<u8> {
        self.captured
            .lock()
            .ok()
            .and_then(|c| c.get(owner).cloned())
            .unwrap_or_default()
    }

    /// The working directory (policy, runs, audit).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the hub (and with it the UI servers) and the schedulers; the working directory
    /// (audit logs, run directories) stays until the world is dropped.
    pub async fn stop(&mut self) {
        if let Some(hub) = self.hub.take() {
            hub.shutdown().await;
        }
        for w in self.workflows.drain(..) {
            w.service.stop().await;
            let _ = w.scheduler.shutdown().await;
        }
    }
}

/// A scheduler for `owner/name` with one job `1234/task` whose key the harness holds.
async fn start_workflow(
    runs: &Path,
    owner: &str,
    name: &str,
    task: &str,
    defences: &Defences,
) -> Result<Workflow, HarnessError> {
    let id = WorkflowId::new(owner, name).map_err(HarnessError::setup)?;
    let run = RunDir::of(runs, &id);
    run.create().map_err(HarnessError::setup)?;
    let mut config = ServerConfig::new(
        SchedulerConfig::new(id.clone()),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        run.event_log(),
    );
    config.defences = defences.clone();
    let launcher = PresetKeyLauncher::default();
    let job = JobId::new(id.clone(), "1234", task, 1).map_err(HarnessError::setup)?;
    let job_key = StaticKeypair::generate_from_os();
    launcher.preset(&job, *job_key.public().as_bytes());
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher)).await?;
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
            max_live_jobs: None,
        },
        Arc::new(NoLog),
    )
    .await
    .map_err(HarnessError::setup)?;
    let handle = scheduler.handle();
    handle
        .launch(JobSpec {
            id: job.clone(),
            outputs: BTreeSet::new(),
        })
        .await?;
    // The job's key is registered before anyone acts (harnesses use it as a compromised job's).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let launching = handle
            .jobs()
            .await?
            .iter()
            .any(|(j, s)| *j == job && *s == protocol_core::scheduler::JobState::Launching);
        if !launching || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Workflow {
        id,
        scheduler,
        service,
        run,
        job,
        job_key,
    })
}
