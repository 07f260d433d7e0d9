//! A whole reference system in one process: in-process schedulers publishing in run
//! directories, a hub on loopback, and UI servers started in-process on demand, all sharing
//! one manual clock so that tests move time instead of sleeping.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use protocol_core::scheduler::{JobSpec, SchedulerConfig};
use protocol_core::time::Millis;
use protocol_core::{JobId, Owner, StaticKeypair, WorkflowId};
use protocol_gateway::assertion::HubKey;
use protocol_gateway::checks::GatewayDefences;
use protocol_gateway::defender::Thresholds;
use protocol_gateway::http::client::HubClient;
use protocol_gateway::limits::RateLimit;
use protocol_gateway::rundir::{Contact, RunDir, RunDirService, ServiceConfig};
use protocol_gateway::spawner::{LaunchFuture, UiLauncher};
use protocol_gateway::{Hub, HubParts, HubSettings, UiServerParts, UiSettings};
use protocol_net::{Scheduler, ServerConfig};
use protocol_people::audit::{AuditKey, AuditWriter};
use protocol_people::authz::Authorizer;
use protocol_people::groups::FileGroups;
use protocol_people::policy::Policy;
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, UserDb};
use testkit::InProcessLauncher;
use testkit::ManualClock;
use testkit::MemoryLog;
use testkit::PresetKeyLauncher;

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../people/examples")
}

pub fn password(user: &str) -> String {
    format!("{user}-example-password")
}

pub fn owner(s: &str) -> Owner {
    Owner::new(s).expect("owner")
}

/// Seed 001's workflows: owner, name, task (cycle point 1234).
pub const WORKFLOWS: [(&str, &str, &str); 4] = [
    ("atmosphere_stage", "clouds", "climb"),
    ("atmosphere_stage", "winds", "blow"),
    ("oceans_stage", "waves", "roll"),
    ("oceans_stage", "currents", "flow"),
];

/// What to build.
pub struct Options {
    pub workflows: Vec<(&'static str, &'static str, &'static str)>,
    pub operators: Vec<&'static str>,
    pub elevation_window: Duration,
    pub idle_timeout: Duration,
    pub thresholds: Thresholds,
    pub requests: RateLimit,
    /// Replaces the example site.toml.
    pub site: Option<&'static str>,
    pub monitor_interval: Duration,
    pub hub_defences: GatewayDefences,
    pub ui_defences: GatewayDefences,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workflows: WORKFLOWS.to_vec(),
            operators: vec!["oceans_stage"],
            elevation_window: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(600),
            thresholds: Thresholds {
                window: Duration::from_secs(60),
                auth_failures: 1000,
                denials: 1000,
                rejected_job_messages: 1000,
                rate_limited: 1000,
                auto_block: false,
            },
            requests: RateLimit::per_second(10_000, 10_000),
            site: None,
            monitor_interval: Duration::from_secs(3600),
            hub_defences: GatewayDefences::all(),
            ui_defences: GatewayDefences::all(),
        }
    }
}

pub struct Workflow {
    pub id: WorkflowId,
    pub scheduler: Scheduler,
    pub service: RunDirService,
    pub job: JobId,
    pub job_key: StaticKeypair,
}

/// Counts launches of UI servers.
#[derive(Debug)]
pub struct Counting {
    inner: InProcessLauncher,
    pub count: Arc<AtomicUsize>,
}

impl UiLauncher for Counting {
    fn launch(&self, owner: Owner, hub_key: HubKey) -> LaunchFuture {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.launch(owner, hub_key)
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub hub: Option<Hub>,
    pub addr: SocketAddr,
    pub log: Arc<MemoryLog>,
    pub workflows: Vec<Workflow>,
    pub key: AuditKey,
    pub spawns: Arc<AtomicUsize>,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

impl World {
    pub async fn start(o: Options) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let (policy, runs, audit) = (
            dir.path().join("policy"),
            dir.path().join("runs"),
            dir.path().join("audit"),
        );
        copy_tree(&examples().join("policy"), &policy);
        if let Some(site) = o.site {
            std::fs::write(policy.join("site.toml"), site).expect("site");
        }
        std::fs::create_dir_all(&audit).expect("audit dir");
        let key = AuditKey::from_bytes([7; 32]);
        let clock = ManualClock::new(Millis::now());
        let log = Arc::new(MemoryLog::new());

        let mut workflows = Vec::new();
        for (owner, name, task) in &o.workflows {
            workflows.push(start_workflow(&runs, owner, name, task).await);
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
            let idle_timeout = o.idle_timeout;
            let ui_defences = o.ui_defences.clone();
            move |owner: Owner, hub_key: HubKey| -> Result<UiServerParts, String> {
                let groups = FileGroups::load(&examples().join("groups.toml")).map_err(|e| e.to_string())?;
                let writer = AuditWriter::open(&audit.join(format!("uiserver-{owner}.log")), key.clone())
                    .map_err(|e| e.to_string())?;
                Ok(UiServerParts {
                    owner,
                    authorizer: Authorizer::from_load(Policy::load(&policy)),
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
        let spawns = Arc::new(AtomicUsize::new(0));
        let launcher = Counting {
            inner: InProcessLauncher::new(factory),
            count: Arc::clone(&spawns),
        };
        let users = UserDb::load(&examples().join("users.toml")).expect("users");
        let sessions = SessionManager::new(
            users,
            SessionConfig {
                elevation_window: o.elevation_window,
                hash_params: HashParams::FAST_INSECURE,
                ..SessionConfig::default()
            },
        )
        .expect("sessions");
        let hub = Hub::start(HubParts {
            sessions,
            audience: Audience::new("test-hub").expect("audience"),
            audit: Box::new(AuditWriter::open(&audit.join("hub.log"), key.clone()).expect("hub audit")),
            launcher: Arc::new(launcher),
            owners: BTreeSet::from([owner("atmosphere_stage"), owner("oceans_stage")]),
            operators: o.operators.iter().map(|s| owner(s)).collect(),
            runs: Some(runs),
            clock: Arc::new(clock.clone()),
            log: log.clone(),
            settings: HubSettings {
                thresholds: o.thresholds,
                requests: o.requests,
                logins: RateLimit::per_second(10_000, 10_000),
                monitor_interval: o.monitor_interval,
                revoke_timeout: Duration::from_secs(5),
                defences: o.hub_defences,
                ..HubSettings::default()
            },
        })
        .await
        .expect("hub");
        let addr = hub.address();
        Self {
            dir,
            clock,
            hub: Some(hub),
            addr,
            log,
            workflows,
            key,
            spawns,
        }
    }

    pub fn client(&self) -> HubClient {
        HubClient::new(self.addr)
    }

    pub fn client_from(&self, ip: &str) -> HubClient {
        HubClient::new(self.addr).from_ip(ip.parse::<IpAddr>().expect("ip"))
    }

    /// A client logged in (read-only) as `user`.
    pub async fn login(&self, user: &str) -> HubClient {
        let mut c = self.client();
        let r = c.login(user, &password(user)).await.expect("login");
        assert_eq!(r.status, 200, "{user}: {}", r.text());
        c
    }

    pub fn workflow(&self, name: &str) -> &Workflow {
        self.workflows.iter().find(|w| w.id.name() == name).expect("workflow")
    }

    pub fn audit_lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("audit").join(file))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(" [#").next().unwrap_or(l).to_owned())
            .collect()
    }

    pub fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    pub fn spawned(&self) -> usize {
        self.spawns.load(Ordering::SeqCst)
    }

    /// Waits (at most 5 s) for a log line containing `text`.
    pub async fn wait_for_log(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.log.lines().iter().any(|l| l.contains(text)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line {text:?}: {:?}",
                self.log.lines()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(hub) = self.hub.take() {
            hub.shutdown().await;
        }
        for w in self.workflows.drain(..) {
            w.service.stop().await;
            w.scheduler.shutdown().await.expect("scheduler");
        }
    }
}

/// Waits (at most 5 s) for `cond`.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A scheduler for `owner/name` with one job `1234/task` whose key is known to the test.
pub async fn start_workflow(runs: &Path, owner: &str, name: &str, task: &str) -> Workflow {
    let id = WorkflowId::new(owner, name).expect("workflow");
    let run = RunDir::of(runs, &id);
    run.create().expect("run dir");
    let config = ServerConfig::new(
        SchedulerConfig::new(id.clone()),
        "127.0.0.1:0".parse().expect("addr"),
        run.event_log(),
    );
    let launcher = PresetKeyLauncher::default();
    let job = JobId::new(id.clone(), "1234", task, 1).expect("job");
    let job_key = StaticKeypair::generate_from_os();
    launcher.preset(&job, *job_key.public().as_bytes());
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher))
        .await
        .expect("scheduler");
    let service = RunDirService::start(
        run,
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
        Arc::new(protocol_gateway::logging::NoLog),
    )
    .await
    .expect("service");
    scheduler
        .handle()
        .launch(JobSpec {
            id: job.clone(),
            outputs: BTreeSet::new(),
        })
        .await
        .expect("launch");
    Workflow {
        id,
        scheduler,
        service,
        job,
        job_key,
    }
}
