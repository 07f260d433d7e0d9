//! The UI server: one per owner, spawned by the hub on demand, stopped when idle.
//!
//! It believes only the hub's signed [assertion](crate::assertion) about who is asking and at
//! what level, applies the authorisation engine (site, owner and workflow layers) to every
//! request, writes the audit record before any effect (`protocol_people::gate`), lists the
//! operations a person may perform, serves workflow state from the owner's
//! [run directories](crate::rundir), and forwards commands to the schedulers over the Noise
//! channel with its own client key ([`crate::schedclient`]), naming the acting person.
//!
//! Endpoints (all need a valid assertion; all answer JSON; errors are uniform):
//!
//! | | |
//! |---|---|
//! | `GET /workflows` | the owner's workflows the person may read: name, status, permitted operations now and after elevating |
//! | `GET /workflows/{name}` | one workflow's state (audited read; `404` if absent *or* not readable) |
//! | `POST /workflows/{name}` | `{"op":"stop","target":"1234/climb"}`: a command (audited, then sent) |
//! | `POST /keepalive` | activity only: keeps a watched view's UI server alive |

mod process;
mod routes;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::{Owner, PublicKey, StaticKeypair, WorkflowId};
use protocol_people::audit::{AuditRecord, AuditSink};
use protocol_people::authz::Authorizer;
use protocol_people::groups::GroupProvider;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use process::{UiProcessConfig, UiProcessError, run_process};
pub use routes::{command_body, read_command};

use crate::DynSink;
use crate::assertion::{HubKey, ReplayGuard};
use crate::checks::GatewayDefences;
use crate::clock::SharedClock;
use crate::conns::ConnLimits;
use crate::idle::IdleTimer;
use crate::logging::Log;
use crate::refusals::{AuditLog, RefusalLog};
use crate::rundir::RunDir;
use crate::schedclient::SchedulerLink;

/// Timings and defences of a UI server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UiSettings {
    /// Where to listen (loopback; port 0 lets the system choose).
    pub listen: SocketAddr,
    /// Stop after this long without a request.
    pub idle_timeout: Duration,
    /// How long a command may wait for its scheduler's answer.
    pub command_timeout: Duration,
    /// How far an assertion's time may be from this server's clock.
    pub max_skew: Duration,
    /// Timeouts and caps on connections (they all come from the hub, or from local users
    /// trying their luck).
    pub connections: ConnLimits,
    /// The gateway defences applied (all, except in weakened verification builds).
    pub defences: GatewayDefences,
}

impl Default for UiSettings {
    /// 127.0.0.1:0, idle after 30 minutes, 10 s per command, 30 s skew.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            idle_timeout: Duration::from_secs(30 * 60),
            command_timeout: Duration::from_secs(10),
            max_skew: Duration::from_secs(30),
            connections: ConnLimits::UI_SERVER,
            defences: GatewayDefences::all(),
        }
    }
}

/// Everything a UI server is built from. Build the authoriser, groups and audit sink with
/// `PeopleDefences` of your choice to get a weakened variant (with the `weaken` feature).
pub struct UiServerParts {
    /// Whose UI server it is.
    pub owner: Owner,
    /// The authorisation engine (policy loaded, or failed closed).
    pub authorizer: Authorizer,
    /// Group membership.
    pub groups: Arc<dyn GroupProvider + Send + Sync>,
    /// The audit log.
    pub audit: Box<dyn AuditSink + Send>,
    /// Root of the run directories (`RUNS/OWNER/NAME`).
    pub runs: PathBuf,
    /// The key the hub signs assertions with.
    pub hub_key: HubKey,
    /// The client key presented to schedulers (kept in memory only).
    pub keypair: StaticKeypair,
    /// The clock.
    pub clock: SharedClock,
    /// Operational log lines.
    pub log: Log,
    /// Timings.
    pub settings: UiSettings,
}

impl std::fmt::Debug for UiServerParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiServerParts")
            .field("owner", &self.owner)
            .field("runs", &self.runs)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a UI server did not start.
#[derive(Debug, thiserror::Error)]
pub enum UiServerError {
    /// It could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The refusal records' writer thread could not be started.
    #[error("cannot start the UI server's worker thread: {0}")]
    Workers(std::io::Error),
}

pub(crate) struct UiState {
    owner: Owner,
    authorizer: Authorizer,
    groups: Arc<dyn GroupProvider + Send + Sync>,
    audit: Mutex<DynSink>,
    /// Records of the requests this server refuses before any handler (`crate::refusals`).
    refusal_log: RefusalLog,
    runs: PathBuf,
    hub_key: HubKey,
    keypair: Arc<StaticKeypair>,
    replay: Mutex<ReplayGuard>,
    idle: Mutex<IdleTimer>,
    links: Mutex<BTreeMap<WorkflowId, Arc<SchedulerLink>>>,
    published: Mutex<BTreeSet<PathBuf>>,
    clock: SharedClock,
    log: Log,
    settings: UiSettings,
}

impl UiState {
    /// Appends `record` to this server's audit log (blocking: fsynced); `false` if it failed.
    fn append_record(&self, record: &AuditRecord) -> bool {
        crate::append_logged(&self.audit, &self.log, record)
    }
}

impl AuditLog for UiState {
    fn append(&self, record: &AuditRecord) -> bool {
        self.append_record(record)
    }
}

impl UiState {
    /// The owner's run directories, publishing this server's key in any new one.
    fn workflows(&self) -> Vec<(WorkflowId, RunDir)> {
        let found = crate::rundir::discover(&self.runs, &self.owner);
        if let Ok(mut published) = self.published.lock() {
            for (_, run) in &found {
                if !published.contains(run.path()) {
                    match run.write_client_key(&self.keypair.public()) {
                        Ok(()) => {
                            published.insert(run.path().to_owned());
                        }
                        Err(e) => self.log.line(&format!("cannot publish the client key: {e}")),
                    }
                }
            }
        }
        found
    }

    fn link(&self, id: &WorkflowId, run: &RunDir) -> Option<Arc<SchedulerLink>> {
        let mut links = self.links.lock().ok()?;
        let link = links
            .entry(id.clone())
            .or_insert_with(|| Arc::new(SchedulerLink::new(id.clone(), run.clone(), Arc::clone(&self.keypair))));
        Some(Arc::clone(link))
    }

    fn unpublish(&self) {
        let paths: Vec<PathBuf> = self
            .published
            .lock()
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default();
        for p in paths {
            let _ = RunDir::at(p).remove_client_key(&self.keypair.public());
        }
    }
}

/// A running UI server.
#[derive(Debug)]
pub struct UiServer {
    address: SocketAddr,
    client_key: PublicKey,
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl UiServer {
    /// Binds, publishes the client key in the owner's run directories, and serves until idle
    /// or told to stop.
    ///
    /// # Errors
    /// [`UiServerError::Bind`].
    pub async fn start(parts: UiServerParts) -> Result<Self, UiServerError> {
        let listen = parts.settings.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| UiServerError::Bind { addr: listen, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| UiServerError::Bind { addr: listen, source })?;
        let client_key = parts.keypair.public();
        let now = parts.clock.now();
        let (refusal_log, refusal_writer) = RefusalLog::new();
        let state = Arc::new(UiState {
            owner: parts.owner,
            authorizer: parts.authorizer,
            groups: parts.groups,
            audit: Mutex::new(DynSink(parts.audit)),
            refusal_log,
            runs: parts.runs,
            hub_key: parts.hub_key,
            keypair: Arc::new(parts.keypair),
            replay: Mutex::new(ReplayGuard::new(parts.settings.max_skew, 100_000)),
            idle: Mutex::new(IdleTimer::new(now, parts.settings.idle_timeout)),
            links: Mutex::new(BTreeMap::new()),
            published: Mutex::new(BTreeSet::new()),
            clock: parts.clock,
            log: parts.log,
            settings: parts.settings,
        });
        refusal_writer
            .start(&state, "uiserver-refusal-records")
            .map_err(UiServerError::Workers)?;
        let _ = state.workflows();
        let (stop, mut stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let app = routes::router(Arc::clone(&state));
        let watcher = Arc::clone(&state);
        let ticker = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let idle = async move {
                let tick =
                    (ticker.settings.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
                loop {
                    tokio::time::sleep(tick).await;
                    let now = ticker.clock.now();
                    // A flood of refusals that ended leaves its count in the log.
                    if let Some(record) = ticker.refusal_log.take_uncounted(now) {
                        let writer = Arc::clone(&ticker);
                        let _ = tokio::task::spawn_blocking(move || writer.append_record(&record)).await;
                    }
                    if ticker.idle.lock().is_ok_and(|t| t.expired(now)) {
                        ticker.log.line("idle: stopping");
                        return;
                    }
                }
            };
            let shutdown = async move {
                tokio::select! {
                    () = idle => {}
                    _ = stop_rx.changed() => {}
                }
            };
            let limits = watcher.settings.connections;
            #[cfg(feature = "weaken")]
            let limits = if watcher
                .settings
                .defences
                .is_on(crate::checks::GatewayCheck::ConnectionLimits)
            {
                limits
            } else {
                crate::http::serve::weakened::UNBOUNDED
            };
            crate::http::serve::serve(
                listener,
                app,
                limits,
                Arc::clone(&watcher.clock),
                Arc::new(crate::http::serve::ConnStats::default()),
                Arc::clone(&watcher.log),
                shutdown,
            )
            .await;
            watcher.unpublish();
            let _ = done_tx.send(true);
        });
        Ok(Self {
            address,
            client_key,
            stop,
            done,
            task,
        })
    }

    /// Where it listens.
    #[must_use]
    pub const fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its client key.
    #[must_use]
    pub const fn client_key(&self) -> PublicKey {
        self.client_key
    }

    /// Whether it has stopped.
    #[must_use]
    pub fn has_stopped(&self) -> bool {
        *self.done.borrow()
    }

    /// Waits until it stops (idle, or told to).
    pub async fn stopped(&mut self) {
        let _ = self.done.wait_for(|d| *d).await;
    }

    /// Stops it and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
