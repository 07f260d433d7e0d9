//! The people side of the reference system, running for real on loopback as Cylc 8 lays it
//! out (the hub design notes): a [hub](hub) that authenticates people and proxies to per-owner
//! [UI servers](uiserver) it spawns on demand, which authorise, audit and forward commands to
//! schedulers over the Noise channel.
//!
//! ```text
//! person ──HTTP──▶ hub ──HTTP + signed assertion──▶ UI server (one per owner) ──Noise IK──▶ scheduler
//!                  │ sessions, elevation, CSRF        │ authz (site/owner/workflow)         │ client keys from
//!                  │ rate limits, defender, scan      │ audit before effect                 │ the run directory
//!                  └── spawns (configured program only; rendezvous on the child's pipes) ──┘
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`hub`] | the HTTP front door: login, elevation, proxy, scan, operator controls |
//! | [`uiserver`] | one owner's UI server: authorisation, audit, state, commands |
//! | [`spawner`] | what may be spawned (sans-IO policy) and how (processes, or in-process) |
//! | [`rendezvous`] | the hub ↔ UI server lines on the child's stdin/stdout |
//! | [`assertion`] | the hub's signed statement of who is asking, checked by UI servers |
//! | [`schedclient`] | the UI server's command channel to a scheduler (sans-IO core + driver) |
//! | [`rundir`] | the scheduler run directory: contact, state, client keys, revocations |
//! | [`defender`] | counters, thresholds, alerts and blocks per source (sans-IO) |
//! | [`limits`] | per-source rate limits (sans-IO) |
//! | [`conns`] | which HTTP connections a server keeps: caps in all and per source, idle timeout (sans-IO) |
//! | [`backoff`] | exponential back-off after failed password checks, per account and per session (sans-IO) |
//! | [`idle`] | the UI server's idle timer (sans-IO) |
//! | [`checks`] | the gateway's named defences, removable one at a time with `weaken` |
//! | [`http`] | uniform errors, credentials and CSRF, a small client |
//! | [`clock`], [`logging`] | time as an input; operational log lines that never hold secrets |
//!
//! The decision logic (spawn policy, rate limits, defender, idle timer, assertions, CSRF) is
//! sans-IO with time passed in; the servers take a [`clock::Clock`], so tests move time by
//! hand. The README beside this crate documents the endpoints, the configuration, the CSRF
//! scheme, the rendezvous and the run-directory layout.

pub mod assertion;
pub mod backoff;
pub mod checks;
pub mod clock;
pub mod conns;
pub mod defender;
pub mod http;
pub mod hub;
pub mod idle;
pub mod limits;
pub mod logging;
pub mod refusals;
pub mod rendezvous;
pub mod rundir;
pub mod schedclient;
pub mod spawner;
pub mod uiserver;

pub use hub::{Hub, HubParts, HubSettings, ScanPolicy};
pub use uiserver::{UiServer, UiServerParts, UiSettings};

/// Whether this crate was compiled with the `weaken` feature (a verification build, in which
/// defences can be removed). The deployed servers refuse to start when it is true.
pub const WEAKEN_COMPILED: bool = cfg!(feature = "weaken");

use protocol_people::audit::{AuditError, AuditRecord, AuditSink, Receipt};

/// An audit sink behind a box, as a sized sink (the gate's functions take `S: AuditSink`).
pub(crate) struct DynSink(pub(crate) Box<dyn AuditSink + Send>);

impl AuditSink for DynSink {
    fn append(&mut self, record: &AuditRecord) -> Result<Receipt, AuditError> {
        self.0.append(record)
    }
}

/// Appends `record` to a server's audit log (blocking: fsynced before this returns); a failure
/// goes to the operational log and gives `false`.
pub(crate) fn append_logged(audit: &std::sync::Mutex<DynSink>, log: &logging::Log, record: &AuditRecord) -> bool {
    match audit.lock().map(|mut a| a.append(record)) {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            log.line(&format!("audit write failed: {e}"));
            false
        }
        Err(_) => false,
    }
}
