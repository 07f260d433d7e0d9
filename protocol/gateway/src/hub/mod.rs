//! The hub: the people's front door (the hub design notes' Cylc Hub).
//!
//! It authenticates people (protocol-people's sessions: read-only logins, elevation with the
//! password again, expiry), keeps tokens in `HttpOnly; SameSite=Strict` cookies or bearer
//! headers only, applies the CSRF defence ([`crate::http::credentials`]), rate limits and
//! counts every source ([`crate::limits`], [`crate::defender`]), and proxies requests to the
//! owner's UI server, spawning it on demand ([`crate::spawner`]) and vouching for the person
//! with a signed [assertion](crate::assertion). It decides nothing about workflows itself:
//! the UI servers authorise and audit operations. Its own audit log records logins,
//! elevations, logouts, alerts and operators' actions.
//!
//! | endpoint | |
//! |---|---|
//! | `POST /login` `{"user","password","bearer"?}` | read-only session: cookies (or the token in the body if `bearer`) and the CSRF token |
//! | `POST /elevate` `{"password","level"}` | re-authenticate; the old token dies, a new one lasts the elevation window |
//! | `POST /logout`, `GET /me` | |
//! | `GET /scan` | every workflow, across owners, the person may read (and nothing about others) |
//! | `GET /o/{owner}/workflows[/{name}]`, `POST /o/{owner}/workflows/{name}`, `POST /o/{owner}/keepalive` | proxied to `owner`'s UI server |
//! | `GET /operator/status`, `POST /operator/{block,unblock,revoke-session,revoke-job,revoke-client}` | defender controls (operators, elevated) |

mod auth;
pub mod config;
mod guard;
mod operator;
mod passwords;
mod proxy;
mod registry;
#[cfg(feature = "weaken")]
mod weakened;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use protocol_core::Owner;
use protocol_core::time::Millis;
use protocol_people::audit::{Actor, AuditEvent, AuditRecord, AuditSink};
use protocol_people::authz::Authorizer;
use protocol_people::gate::Gate;
use protocol_people::groups::{FileGroups, GroupProvider};
use protocol_people::policy::Policy;
use protocol_people::session::{Audience, SessionId, SessionManager};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use registry::UiStatus;

use crate::DynSink;
use crate::backoff::{Backoff, BackoffPolicy, KnownSources};
use crate::checks::{GatewayCheck, GatewayDefences};
use crate::clock::SharedClock;
use crate::conns::ConnLimits;
use crate::defender::{Alert, Defender, Signal, Source, Thresholds};
use crate::http::ApiError;
use crate::http::credentials::{CookieSettings, CsrfKey};
use crate::http::serve::ConnStats;
use crate::limits::{RateLimit, RateLimiter};
use crate::logging::Log;
use crate::refusals::RefusalLog;
use crate::spawner::UiLauncher;
use passwords::PasswordPool;
use registry::UiRegistry;

/// Access-log lines per second (burst 1,000, then 200 a second).
const ACCESS_LOG_RATE: RateLimit = RateLimit::per_second(1_000, 200);

/// Addresses remembered per account as ones its owner logs in from.
const KNOWN_SOURCES_PER_ACCOUNT: usize = 8;

/// Timings, limits and web settings of a hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HubSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Cookie flags (TLS).
    pub cookies: CookieSettings,
    /// The origin browsers use for the hub (`Origin` checks); defaults to `http://ADDR`.
    pub public_origin: Option<String>,
    /// Requests per source.
    pub requests: RateLimit,
    /// Logins (and elevations) per source.
    pub logins: RateLimit,
    /// Refused requests recorded per person (`audit-rate-limit`); beyond, `429`.
    pub refusals: RateLimit,
    /// Sources tracked by the limiters and the defender.
    pub max_sources: usize,
    /// When counters raise alerts.
    pub thresholds: Thresholds,
    /// How long a proxied request may take.
    pub proxy_timeout: Duration,
    /// How long a revocation may take to be confirmed by a scheduler.
    pub revoke_timeout: Duration,
    /// How often schedulers' rejection counters are read.
    pub monitor_interval: Duration,
    /// Threads that check passwords (argon2), each with its own memory.
    pub password_workers: usize,
    /// Password checks that may wait for a worker; more are answered `503 busy` at once.
    pub password_queue: usize,
    /// Back-off after failed logins per account and failed elevations per session.
    pub backoff: BackoffPolicy,
    /// Timeouts and caps on client connections.
    pub connections: ConnLimits,
    /// The gateway defences applied (all, except in weakened verification builds).
    pub defences: GatewayDefences,
}

impl Default for HubSettings {
    /// 127.0.0.1:0, plain HTTP, 20 requests a second per source (burst 40), 10 logins a
    /// minute (burst 5), 10 000 sources, default thresholds, 30 s proxy, 5 s revocations,
    /// scheduler counters read every second; one password worker per core (at most 8) and
    /// four queued checks per worker; the default back-off.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            cookies: CookieSettings::default(),
            public_origin: None,
            requests: RateLimit::per_second(40, 20),
            logins: RateLimit {
                burst: 5,
                per_minute: 10,
            },
            refusals: RateLimit {
                burst: 60,
                per_minute: 60,
            },
            max_sources: 10_000,
            thresholds: Thresholds::default(),
            proxy_timeout: Duration::from_secs(30),
            revoke_timeout: Duration::from_secs(5),
            monitor_interval: Duration::from_secs(1),
            password_workers: workers,
            password_queue: 4 * workers,
            backoff: BackoffPolicy::default(),
            connections: ConnLimits::HUB,
            defences: GatewayDefences::all(),
        }
    }
}

/// Everything a hub is built from. Build the session manager and audit sink with
/// `PeopleDefences` of your choice to get a weakened variant (with the `weaken` feature).
pub struct HubParts {
    /// The sessions (and the user database inside).
    pub sessions: SessionManager,
    /// The audience tokens are issued for.
    pub audience: Audience,
    /// The hub's audit log.
    pub audit: Box<dyn AuditSink + Send>,
    /// How UI servers are started.
    pub launcher: Arc<dyn UiLauncher>,
    /// The owners whose UI servers may be spawned.
    pub owners: BTreeSet<Owner>,
    /// Who may use the operator endpoints (with an elevated session).
    pub operators: BTreeSet<Owner>,
    /// Root of the scheduler run directories (operators' revocations, rejection counters,
    /// the scan).
    pub runs: Option<PathBuf>,
    /// The policy `/scan` decides with (the UI servers' own); without it `/scan` is
    /// unavailable.
    pub scan: Option<ScanPolicy>,
    /// The clock.
    pub clock: SharedClock,
    /// Operational log lines.
    pub log: Log,
    /// Settings.
    pub settings: HubSettings,
}

impl std::fmt::Debug for HubParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubParts")
            .field("audience", &self.audience)
            .field("owners", &self.owners)
            .field("operators", &self.operators)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What the hub needs to answer `/scan` from the schedulers' published state, without
/// spawning any UI server: the same policy and group lookup the UI servers decide with.
pub struct ScanPolicy {
    /// Loads the authoriser (the site and owners' policy) for one scan, as a UI server loads
    /// it when it starts, so that a policy change applies to the next scan.
    pub authorizer: Box<dyn Fn() -> Authorizer + Send + Sync>,
    /// Group membership.
    pub groups: Arc<dyn GroupProvider + Send + Sync>,
}

impl std::fmt::Debug for ScanPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanPolicy").finish_non_exhaustive()
    }
}

/// Why the hub did not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// It could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The password worker threads or the refusal records' writer could not be started.
    #[error("cannot start the hub's worker threads: {0}")]
    Workers(std::io::Error),
}

pub(crate) struct HubState {
    audience: Audience,
    sessions: Mutex<SessionManager>,
    audit: Mutex<DynSink>,
    /// The hub decides no operation; `Gate` needs an authoriser and groups for its login and
    /// elevation paths, which never consult them.
    no_policy: Authorizer,
    no_groups: FileGroups,
    csrf: CsrfKey,
    origin: OnceLock<String>,
    defender: Mutex<Defender>,
    requests: Mutex<RateLimiter<IpAddr>>,
    logins: Mutex<RateLimiter<IpAddr>>,
    /// Refused requests per person (`audit-rate-limit`).
    refusals: Mutex<RateLimiter<Owner>>,
    /// The access log's rate, and the lines not written since the last one.
    access_log: Mutex<(RateLimiter<()>, u64)>,
    /// Records of refusals no handler recorded (`crate::refusals`).
    refusal_log: RefusalLog,
    passwords: PasswordPool,
    /// Failed logins per claimed account name.
    account_backoff: Mutex<Backoff<String>>,
    /// Failed elevations per session.
    session_backoff: Mutex<Backoff<SessionId>>,
    /// Where each account has logged in from (exempt from its back-off).
    known_sources: Mutex<KnownSources<String>>,
    /// Logins and elevations refused because their account or session was backing off.
    backoff_refused: std::sync::atomic::AtomicU64,
    /// Requests refused because their person's refusals were used up.
    audit_limited: std::sync::atomic::AtomicU64,
    conn_stats: Arc<ConnStats>,
    uis: UiRegistry,
    owners: BTreeSet<Owner>,
    operators: BTreeSet<Owner>,
    runs: Option<PathBuf>,
    scan: Option<ScanPolicy>,
    clock: SharedClock,
    log: Log,
    settings: HubSettings,
}

impl HubState {
    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn origin(&self) -> &str {
        self.origin.get().map_or("", String::as_str)
    }

    /// Appends an audit record (blocking the caller for the fsync); logs a failure.
    fn record(&self, actor: Actor, source: Option<IpAddr>, event: AuditEvent) -> bool {
        self.append(&self.audit_record(actor, source, event))
    }

    /// A record of now.
    fn audit_record(&self, actor: Actor, source: Option<IpAddr>, event: AuditEvent) -> AuditRecord {
        AuditRecord {
            at: self.now(),
            actor,
            source,
            event,
        }
    }

    /// Appends `record` (blocking: fsynced before this returns); `false` if it failed.
    fn append(&self, record: &AuditRecord) -> bool {
        crate::append_logged(&self.audit, &self.log, record)
    }

    /// Runs `f` with the hub's gate (sessions and audit log locked) on a blocking thread, so
    /// that opening a session and the fsync of its audit record stay off the async workers.
    /// Never used while a password is checked (`password-pool`), except by the weakened
    /// control that puts the check under these locks on purpose.
    pub(crate) async fn with_gate<T: Send + 'static>(
        self: &Arc<Self>,
        source: IpAddr,
        f: impl FnOnce(&mut Gate<'_, FileGroups, DynSink>, Millis, &Self) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let hub = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let now = hub.now();
            let mut sessions = hub.sessions.lock().map_err(|_| ApiError::Internal)?;
            let mut audit = hub.audit.lock().map_err(|_| ApiError::Internal)?;
            let mut gate = Gate {
                sessions: &mut sessions,
                authorizer: &hub.no_policy,
                groups: &hub.no_groups,
                audit: &mut *audit,
                source: Some(source),
            };
            Ok(f(&mut gate, now, &hub))
        })
        .await
        .map_err(|_| ApiError::Internal)?
    }

    /// Writes an access-log line within the log's rate; a line past it is counted, and the
    /// count is written with the next line that fits (log space is bounded under a flood).
    fn access_line(&self, line: &str) {
        let Ok(mut l) = self.access_log.lock() else { return };
        if l.0.check(self.now(), &()).is_err() {
            l.1 += 1;
            return;
        }
        let suppressed = std::mem::take(&mut l.1);
        drop(l);
        if suppressed > 0 {
            self.log.line(&format!(
                "({suppressed} access-log lines over the log's rate were not written)"
            ));
        }
        self.log.line(line);
    }

    /// Counts a signal; returns the alert it raises, if any (for the caller to write).
    fn count(&self, source: Source, signal: Signal) -> Option<Alert> {
        self.defender
            .lock()
            .ok()
            .and_then(|mut d| d.record(self.now(), source, signal))
    }

    /// An alert that is not a defender counter: a key starting to back off.
    fn backoff_alert(&self, source: String, failures: u32) {
        // The account name is as claimed (untrusted): escaped like an audit field.
        self.log.line(&format!(
            "ALERT: {failures} failed password checks for {}: backing off",
            protocol_people::audit::escape(&source)
        ));
        self.record(
            Actor::Defender,
            None,
            AuditEvent::Alert {
                source,
                signal: GatewayCheck::AccountBackoff.name().to_owned(),
                count: u64::from(failures),
                window_secs: self.settings.backoff.forget.as_secs(),
            },
        );
    }

    fn alert(&self, alert: &Alert) {
        self.log.line(&format!(
            "ALERT: {} {} from {} within {}s{}",
            alert.count,
            alert.signal,
            alert.source,
            alert.window.as_secs(),
            if alert.blocked { " (blocked)" } else { "" }
        ));
        self.record(
            Actor::Defender,
            None,
            AuditEvent::Alert {
                source: alert.source.to_string(),
                signal: alert.signal.name().to_owned(),
                count: alert.count,
                window_secs: alert.window.as_secs(),
            },
        );
    }
}

/// A running hub.
#[derive(Debug)]
pub struct Hub {
    address: SocketAddr,
    origin: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Hub {
    /// Binds and serves.
    ///
    /// # Errors
    /// [`HubError::Bind`].
    pub async fn start(parts: HubParts) -> Result<Self, HubError> {
        let listen = parts.settings.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| HubError::Bind { addr: listen, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| HubError::Bind { addr: listen, source })?;
        let origin = parts
            .settings
            .public_origin
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let uis = registry(&parts);
        let s = &parts.settings;
        let (refusal_log, refusal_writer) = RefusalLog::new();
        let state = Arc::new(HubState {
            audience: parts.audience,
            sessions: Mutex::new(parts.sessions),
            audit: Mutex::new(DynSink(parts.audit)),
            no_policy: Authorizer::new(Policy::new()),
            no_groups: FileGroups::default(),
            csrf: CsrfKey::generate(&mut rand_core::OsRng),
            origin: OnceLock::from(origin.clone()),
            defender: Mutex::new(Defender::new(s.thresholds.clone(), s.max_sources)),
            requests: Mutex::new(RateLimiter::new(s.requests, s.max_sources)),
            logins: Mutex::new(RateLimiter::new(s.logins, s.max_sources)),
            refusals: Mutex::new(RateLimiter::new(s.refusals, s.max_sources)),
            access_log: Mutex::new((RateLimiter::new(ACCESS_LOG_RATE, 1), 0)),
            refusal_log,
            passwords: PasswordPool::new(s.password_workers, s.password_queue).map_err(HubError::Workers)?,
            account_backoff: Mutex::new(Backoff::new(s.backoff, s.max_sources)),
            session_backoff: Mutex::new(Backoff::new(s.backoff, s.max_sources)),
            known_sources: Mutex::new(KnownSources::new(KNOWN_SOURCES_PER_ACCOUNT, s.max_sources)),
            backoff_refused: std::sync::atomic::AtomicU64::new(0),
            audit_limited: std::sync::atomic::AtomicU64::new(0),
            conn_stats: Arc::new(ConnStats::default()),
            uis,
            owners: parts.owners,
            operators: parts.operators,
            runs: parts.runs,
            scan: parts.scan,
            clock: parts.clock,
            log: parts.log,
            settings: parts.settings,
        });
        refusal_writer
            .start(&state, "hub-refusal-records")
            .map_err(HubError::Workers)?;
        let app = router(Arc::clone(&state));
        let (stop, mut stop_rx) = watch::channel(false);
        let background = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let monitor = tokio::spawn(operator::monitor(Arc::clone(&background)));
            let limits = background.settings.connections;
            #[cfg(feature = "weaken")]
            let limits = if background.settings.defences.is_on(GatewayCheck::ConnectionLimits) {
                limits
            } else {
                crate::http::serve::weakened::UNBOUNDED
            };
            crate::http::serve::serve(
                listener,
                app,
                limits,
                Arc::clone(&background.clock),
                Arc::clone(&background.conn_stats),
                Arc::clone(&background.log),
                async move {
                    let _ = stop_rx.changed().await;
                },
            )
            .await;
            monitor.abort();
            background.uis.stop_all().await;
        });
        Ok(Self {
            address,
            origin,
            stop,
            task,
        })
    }

    /// Where it listens.
    #[must_use]
    pub const fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its origin, as browsers name it.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Stops serving and stops every UI server it spawned.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The UI server table: the configured owners' slots (and, in weakened builds without
/// `configured-owner`, slots made on demand for any owner).
fn registry(parts: &HubParts) -> UiRegistry {
    let registry = UiRegistry::new(
        Arc::clone(&parts.launcher),
        parts.owners.iter().cloned(),
        Arc::clone(&parts.log),
    );
    #[cfg(feature = "weaken")]
    if !parts.settings.defences.is_on(GatewayCheck::ConfiguredOwner) {
        return registry.open_to_any_owner();
    }
    registry
}

fn router(state: Arc<HubState>) -> Router {
    Router::new()
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/elevate", post(auth::elevate))
        .route("/me", get(auth::me))
        .route("/scan", get(proxy::scan))
        .route("/o/{owner}/workflows", get(proxy::list))
        .route("/o/{owner}/workflows/{*name}", get(proxy::show).post(proxy::command))
        .route("/o/{owner}/keepalive", post(proxy::keepalive))
        .route("/operator/status", get(operator::status))
        .route("/operator/block", post(operator::block))
        .route("/operator/unblock", post(operator::unblock))
        .route("/operator/revoke-session", post(operator::revoke_session))
        .route("/operator/revoke-job", post(operator::revoke_job))
        .route("/operator/revoke-client", post(operator::revoke_client))
        .fallback(crate::http::not_found)
        .method_not_allowed_fallback(crate::http::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), guard::guard))
        .with_state(state)
}
