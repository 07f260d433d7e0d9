//! The hub's configuration file (`threatcheck hub --config hub.toml`).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! audience = "threatcheck-hub"
//! users = "users.toml"                 # [users] NAME = "$argon2id$…"
//! audit_log = "audit/hub.log"          # the hub's audit log (logins, elevations, alerts, operators)
//! audit_key = "/etc/threatcheck/audit.key"   # mode 600
//! runs = "runs"                        # scheduler run directories (operators' revocations, counters, scan)
//! policy = "/etc/threatcheck/policy"   # the UI servers' policy: /scan answers from runs + policy
//! groups = "/etc/threatcheck/groups.toml"   # optional; the system's groups otherwise
//! owners = ["atmosphere_stage", "oceans_stage"]
//! operators = ["jacintar"]
//! secure_cookies = false               # true behind TLS: Secure, __Host- cookies
//! # public_origin = "https://hub.example"
//! # fast_insecure_hashes = true        # only when the user file uses the test parameters
//!
//! [uiserver]                           # the only program the hub ever runs
//! program = "/usr/local/bin/threatcheck"
//! args = ["uiserver", "--policy", "/etc/threatcheck/policy", "--runs", "runs",
//!         "--audit-dir", "audit", "--audit-key", "/etc/threatcheck/audit.key"]
//! start_timeout_ms = 10000
//!
//! [sessions]                           # optional; these are the defaults
//! idle_timeout_ms = 3600000
//! absolute_lifetime_ms = 43200000
//! elevation_window_ms = 900000
//!
//! [limits]                             # optional
//! requests_per_second = 20
//! request_burst = 40
//! logins_per_minute = 10
//! login_burst = 5
//! max_sources = 10000
//! refusals_per_minute = 60             # a person's refused requests recorded per minute (audit-rate-limit)
//! refusal_burst = 60
//! password_workers = 2                 # default: one per core (at most 8)
//! password_queue = 8                   # default: four per worker; beyond, logins get 503 busy
//!
//! [backoff]                            # optional: failed logins per account, elevations per session
//! free_failures = 5
//! base_ms = 1000                       # then doubling …
//! cap_ms = 300000                      # … up to this
//! forget_ms = 3600000
//!
//! [connections]                        # optional
//! header_timeout_ms = 10000
//! idle_timeout_ms = 60000
//! max_connections = 512                # keep well under the descriptor limit
//! max_per_source = 32
//! max_header_bytes = 16384
//!
//! [defender]                           # optional
//! window_ms = 60000
//! auth_failures = 10
//! denials = 20
//! rejected_job_messages = 5
//! rate_limited = 20
//! audit_rate_limited = 1
//! auto_block = false
//! auto_block_ms = 900000               # an automatic block ends by itself; an operator's does not
//! monitor_interval_ms = 1000
//! ```
//!
//! Relative paths are relative to the configuration file's directory. Unknown keys are
//! refused. The UI server's arguments are fixed here; the hub appends `--owner OWNER`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use protocol_core::Owner;
use protocol_people::audit::{AuditError, AuditKey, AuditKeyError, AuditWriter};
use protocol_people::authz::Authorizer;
use protocol_people::groups::{FileGroups, GroupProvider, SystemGroups};
use protocol_people::policy::Policy;
use protocol_people::session::{HashParams, SessionConfig, SessionError, SessionManager, UserDb, UserFileError};
use serde::Deserialize;

use super::{HubParts, HubSettings, ScanPolicy};
use crate::backoff::BackoffPolicy;
use crate::conns::ConnLimits;
use crate::defender::Thresholds;
use crate::http::credentials::CookieSettings;
use crate::limits::RateLimit;
use crate::logging::Log;
use crate::spawner::{ProcessUiLauncher, SpawnError, SpawnPolicy};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not valid.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        message: String,
    },
    /// A value is not allowed.
    #[error("{field}: {message}")]
    Invalid {
        /// The key.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The user file.
    #[error(transparent)]
    Users(#[from] UserFileError),
    /// The audit key.
    #[error(transparent)]
    AuditKey(#[from] AuditKeyError),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The UI server command.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The session settings.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The group file.
    #[error("groups: {0}")]
    Groups(String),
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn m(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The `[uiserver]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiServerTable {
    /// The program (absolute).
    pub program: PathBuf,
    /// Its fixed arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// How long the rendezvous may take.
    #[serde(default = "default_start")]
    pub start_timeout_ms: u64,
}

const fn default_start() -> u64 {
    10_000
}

/// The `[sessions]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsTable {
    /// Idle timeout.
    pub idle_timeout_ms: u64,
    /// Absolute lifetime.
    pub absolute_lifetime_ms: u64,
    /// Elevation window.
    pub elevation_window_ms: u64,
}

impl Default for SessionsTable {
    fn default() -> Self {
        let d = SessionConfig::default();
        let m = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            idle_timeout_ms: m(d.idle_timeout),
            absolute_lifetime_ms: m(d.absolute_lifetime),
            elevation_window_ms: m(d.elevation_window),
        }
    }
}

/// The `[limits]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsTable {
    /// Sustained requests per second per source.
    pub requests_per_second: u32,
    /// Burst of requests per source.
    pub request_burst: u32,
    /// Sustained logins per minute per source.
    pub logins_per_minute: u32,
    /// Burst of logins per source.
    pub login_burst: u32,
    /// Sources tracked.
    pub max_sources: usize,
    /// A person's refused requests recorded per minute.
    pub refusals_per_minute: u32,
    /// Burst of a person's refused requests.
    pub refusal_burst: u32,
    /// Password worker threads.
    pub password_workers: usize,
    /// Password checks that may wait for a worker.
    pub password_queue: usize,
}

impl Default for LimitsTable {
    fn default() -> Self {
        let s = HubSettings::default();
        Self {
            requests_per_second: s.requests.per_minute / 60,
            request_burst: s.requests.burst,
            logins_per_minute: s.logins.per_minute,
            login_burst: s.logins.burst,
            max_sources: s.max_sources,
            refusals_per_minute: s.refusals.per_minute,
            refusal_burst: s.refusals.burst,
            password_workers: s.password_workers,
            password_queue: s.password_queue,
        }
    }
}

/// The `[backoff]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffTable {
    /// Failures before any wait.
    pub free_failures: u32,
    /// The first wait.
    pub base_ms: u64,
    /// The longest wait.
    pub cap_ms: u64,
    /// Failures are forgotten after this long without one.
    pub forget_ms: u64,
}

impl Default for BackoffTable {
    fn default() -> Self {
        let b = BackoffPolicy::default();
        Self {
            free_failures: b.free_failures,
            base_ms: m(b.base),
            cap_ms: m(b.cap),
            forget_ms: m(b.forget),
        }
    }
}

/// The `[connections]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsTable {
    /// Time to send a request's headers.
    pub header_timeout_ms: u64,
    /// Time a connection may stay open with nothing in flight.
    pub idle_timeout_ms: u64,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections per source.
    pub max_per_source: usize,
    /// Largest request head.
    pub max_header_bytes: usize,
}

impl Default for ConnectionsTable {
    fn default() -> Self {
        let c = ConnLimits::HUB;
        Self {
            header_timeout_ms: m(c.header_timeout),
            idle_timeout_ms: m(c.idle_timeout),
            max_connections: c.max_connections,
            max_per_source: c.max_per_source,
            max_header_bytes: c.max_header_bytes,
        }
    }
}

/// The `[defender]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefenderTable {
    /// The alert window.
    pub window_ms: u64,
    /// Authentication failures per window.
    pub auth_failures: u32,
    /// Denials per window.
    pub denials: u32,
    /// Rejected job messages per window.
    pub rejected_job_messages: u32,
    /// Rate-limit hits per window.
    pub rate_limited: u32,
    /// Refusals beyond a person's audit rate per window.
    pub audit_rate_limited: u32,
    /// Block an address that alerts.
    pub auto_block: bool,
    /// How long an automatic block lasts.
    pub auto_block_ms: u64,
    /// How often schedulers' counters are read.
    pub monitor_interval_ms: u64,
}

impl Default for DefenderTable {
    fn default() -> Self {
        let t = Thresholds::default();
        Self {
            window_ms: u64::try_from(t.window.as_millis()).unwrap_or(u64::MAX),
            auth_failures: t.auth_failures,
            denials: t.denials,
            rejected_job_messages: t.rejected_job_messages,
            rate_limited: t.rate_limited,
            audit_rate_limited: t.audit_rate_limited,
            auto_block: t.auto_block,
            auto_block_ms: u64::try_from(t.auto_block_for.as_millis()).unwrap_or(u64::MAX),
            monitor_interval_ms: 1000,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Where to listen.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The token audience.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// The user file.
    pub users: PathBuf,
    /// The hub's audit log.
    pub audit_log: PathBuf,
    /// The audit key file.
    pub audit_key: PathBuf,
    /// Scheduler run directories.
    #[serde(default)]
    pub runs: Option<PathBuf>,
    /// The UI servers' policy directory: `/scan` decides with it (without it, and `runs`,
    /// `/scan` is unavailable).
    #[serde(default)]
    pub policy: Option<PathBuf>,
    /// The group file the UI servers use (system groups if absent).
    #[serde(default)]
    pub groups: Option<PathBuf>,
    /// Owners served.
    pub owners: Vec<String>,
    /// Operators.
    #[serde(default)]
    pub operators: Vec<String>,
    /// TLS cookies.
    #[serde(default)]
    pub secure_cookies: bool,
    /// The browser-facing origin.
    #[serde(default)]
    pub public_origin: Option<String>,
    /// The user file uses `HashParams::FAST_INSECURE` (tests only).
    #[serde(default)]
    pub fast_insecure_hashes: bool,
    /// The UI server command.
    pub uiserver: UiServerTable,
    /// Session timings.
    #[serde(default)]
    pub sessions: SessionsTable,
    /// Rate limits.
    #[serde(default)]
    pub limits: LimitsTable,
    /// Back-off after failed password checks.
    #[serde(default)]
    pub backoff: BackoffTable,
    /// Connection limits.
    #[serde(default)]
    pub connections: ConnectionsTable,
    /// Alert thresholds.
    #[serde(default)]
    pub defender: DefenderTable,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn default_audience() -> String {
    "threatcheck-hub".into()
}

fn owner_set(field: &'static str, names: &[String]) -> Result<BTreeSet<Owner>, ConfigError> {
    names
        .iter()
        .map(|n| {
            Owner::new(n).map_err(|e| ConfigError::Invalid {
                field,
                message: format!("{n:?}: {e}"),
            })
        })
        .collect()
}

impl HubConfig {
    /// Reads and parses a configuration file, resolving relative paths against its directory.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut c: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        for p in [&mut c.users, &mut c.audit_log, &mut c.audit_key] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for r in [c.runs.as_mut(), c.policy.as_mut(), c.groups.as_mut()]
            .into_iter()
            .flatten()
        {
            if r.is_relative() {
                *r = base.join(&*r);
            }
        }
        Ok(c)
    }

    /// Builds the hub's parts: loads the users, opens the audit log, checks the UI server
    /// command.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn into_parts(self, log: Log) -> Result<HubParts, ConfigError> {
        let owners = owner_set("owners", &self.owners)?;
        let operators = owner_set("operators", &self.operators)?;
        let audience = protocol_people::session::Audience::new(&self.audience)?;
        let users = UserDb::load(&self.users)?;
        let sessions = SessionManager::new(
            users,
            SessionConfig {
                idle_timeout: ms(self.sessions.idle_timeout_ms),
                absolute_lifetime: ms(self.sessions.absolute_lifetime_ms),
                elevation_window: ms(self.sessions.elevation_window_ms),
                hash_params: if self.fast_insecure_hashes {
                    HashParams::FAST_INSECURE
                } else {
                    HashParams::PRODUCTION
                },
            },
        )?;
        let key = AuditKey::from_file(&self.audit_key)?;
        if let Some(dir) = self.audit_log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ConfigError::Read {
                path: dir.to_owned(),
                reason: e.to_string(),
            })?;
        }
        let audit = AuditWriter::open(&self.audit_log, key)?;
        let policy = SpawnPolicy::new(self.uiserver.program, self.uiserver.args, owners.clone())?;
        let launcher = ProcessUiLauncher::new(policy, ms(self.uiserver.start_timeout_ms));
        let l = &self.limits;
        let d = &self.defender;
        let settings = HubSettings {
            listen: self.listen,
            cookies: CookieSettings {
                secure: self.secure_cookies,
            },
            public_origin: self.public_origin,
            requests: RateLimit::per_second(l.request_burst, l.requests_per_second),
            logins: RateLimit {
                burst: l.login_burst,
                per_minute: l.logins_per_minute,
            },
            max_sources: l.max_sources,
            thresholds: Thresholds {
                window: ms(d.window_ms),
                auth_failures: d.auth_failures,
                denials: d.denials,
                rejected_job_messages: d.rejected_job_messages,
                rate_limited: d.rate_limited,
                audit_rate_limited: d.audit_rate_limited,
                auto_block: d.auto_block,
                auto_block_for: ms(d.auto_block_ms),
            },
            refusals: RateLimit {
                burst: l.refusal_burst,
                per_minute: l.refusals_per_minute,
            },
            password_workers: l.password_workers.max(1),
            password_queue: l.password_queue,
            backoff: BackoffPolicy {
                free_failures: self.backoff.free_failures,
                base: ms(self.backoff.base_ms),
                cap: ms(self.backoff.cap_ms),
                forget: ms(self.backoff.forget_ms),
            },
            connections: ConnLimits {
                header_timeout: ms(self.connections.header_timeout_ms.max(100)),
                idle_timeout: ms(self.connections.idle_timeout_ms.max(100)),
                max_connections: self.connections.max_connections.max(1),
                max_per_source: self.connections.max_per_source.max(1),
                max_header_bytes: self.connections.max_header_bytes,
            },
            monitor_interval: ms(d.monitor_interval_ms.max(10)),
            ..HubSettings::default()
        };
        let scan = match self.policy {
            None => None,
            Some(dir) => {
                let groups: Arc<dyn GroupProvider + Send + Sync> = match &self.groups {
                    Some(path) => Arc::new(FileGroups::load(path).map_err(|e| ConfigError::Groups(e.to_string()))?),
                    None => Arc::new(SystemGroups),
                };
                Some(ScanPolicy {
                    authorizer: Box::new(move || Authorizer::from_load(Policy::load(&dir))),
                    groups,
                })
            }
        };
        Ok(HubParts {
            sessions,
            audience,
            audit: Box::new(audit),
            launcher: Arc::new(launcher),
            owners,
            operators,
            runs: self.runs,
            scan,
            clock: crate::clock::system(),
            log,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_gets_the_defaults_and_unknown_keys_are_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("hub.toml");
        std::fs::write(
            &path,
            "users = \"users.toml\"\naudit_log = \"a/hub.log\"\naudit_key = \"/k\"\nowners = [\"alice\"]\n\
             [uiserver]\nprogram = \"/bin/threatcheck\"\n",
        )
        .expect("write");
        let c = HubConfig::load(&path).expect("loads");
        assert_eq!(c.users, tmp.path().join("users.toml"));
        assert_eq!(c.audit_key, PathBuf::from("/k"));
        assert_eq!(c.sessions.elevation_window_ms, 900_000);
        assert_eq!(c.limits.requests_per_second, 20);
        assert_eq!(c.audience, "threatcheck-hub");
        std::fs::write(&path, "users = \"u\"\nsurprise = 1\n").expect("write");
        assert!(matches!(HubConfig::load(&path), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn bad_owner_names_are_refused() {
        assert!(matches!(
            owner_set("owners", &["ok".into(), "--bad".into()]),
            Err(ConfigError::Invalid { field: "owners", .. })
        ));
    }
}
