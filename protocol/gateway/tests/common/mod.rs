//! A whole reference system in one process — the test kit's [`GatewayWorld`]: in-process
//! schedulers publishing in run directories, a hub on loopback, and UI servers started
//! in-process on demand, all sharing one manual clock so that tests move time instead of
//! sleeping. This module only adapts it to these tests: their defaults (a two-minute
//! elevation window) and helpers that fail the test instead of returning errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(feature = "weaken")]
use protocol_core::Owner;
use protocol_gateway::checks::GatewayDefences;
use protocol_gateway::defender::Thresholds;
use protocol_gateway::http::client::HubClient;
use protocol_gateway::limits::RateLimit;
pub use testkit::gateway::{LiveWorkflow as Workflow, examples, password};
use testkit::{GatewayOptions, GatewayWorld};

#[cfg(feature = "weaken")]
pub fn owner(s: &str) -> Owner {
    Owner::new(s).expect("owner")
}

/// What to build.
pub struct Options {
    pub workflows: Vec<(&'static str, &'static str, &'static str)>,
    pub operators: Vec<&'static str>,
    pub elevation_window: Duration,
    /// How long a UI server stays up without requests.
    pub idle_timeout: Duration,
    pub thresholds: Thresholds,
    pub requests: RateLimit,
    /// A person's refusals recorded (`audit-rate-limit`).
    pub refusals: RateLimit,
    /// Replaces the example site.toml.
    pub site: Option<&'static str>,
    pub monitor_interval: Duration,
    pub hub_defences: GatewayDefences,
    pub ui_defences: GatewayDefences,
}

impl Default for Options {
    fn default() -> Self {
        let kit = GatewayOptions::default();
        Self {
            workflows: kit.workflows,
            operators: kit.operators,
            elevation_window: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(600),
            thresholds: kit.thresholds,
            requests: kit.requests,
            refusals: kit.refusals,
            site: None,
            monitor_interval: kit.monitor_interval,
            hub_defences: kit.hub_defences,
            ui_defences: kit.ui_defences,
        }
    }
}

/// The world, with these tests' helpers.
pub struct World(GatewayWorld);

impl std::ops::Deref for World {
    type Target = GatewayWorld;

    fn deref(&self) -> &GatewayWorld {
        &self.0
    }
}

impl World {
    pub async fn start(o: Options) -> Self {
        let world = GatewayWorld::start(GatewayOptions {
            workflows: o.workflows,
            operators: o.operators,
            elevation_window: o.elevation_window,
            ui_idle_timeout: o.idle_timeout,
            thresholds: o.thresholds,
            requests: o.requests,
            refusals: o.refusals,
            site: o.site.map(str::to_owned),
            monitor_interval: o.monitor_interval,
            hub_defences: o.hub_defences,
            ui_defences: o.ui_defences,
            ..GatewayOptions::default()
        })
        .await
        .expect("the world starts");
        Self(world)
    }

    pub fn client_from(&self, ip: &str) -> HubClient {
        self.0.client_from(ip).expect("a loopback address")
    }

    /// A client logged in (read-only) as `user`.
    pub async fn login(&self, user: &str) -> HubClient {
        let mut c = self.client();
        let r = c.login(user, &password(user)).await.expect("login");
        assert_eq!(r.status, 200, "{user}: {}", r.text());
        c
    }

    pub fn workflow(&self, name: &str) -> &Workflow {
        self.0.workflow(name).expect("workflow")
    }

    /// The records of audit log `file` (`hub.log`, `uiserver-OWNER.log`), without MACs.
    pub fn audit_lines(&self, file: &str) -> Vec<String> {
        let log = file
            .strip_suffix(".log")
            .map(|f| f.strip_prefix("uiserver-").unwrap_or(f))
            .unwrap_or(file);
        self.0.audit_lines(log)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    pub fn runs(&self) -> PathBuf {
        self.0.runs()
    }

    pub fn dir(&self) -> &Path {
        self.0.dir()
    }

    /// How many UI servers the hub has spawned.
    pub fn spawned(&self) -> usize {
        self.0.launches().len()
    }

    /// Waits (at most 5 s) for a log line containing `text`.
    pub async fn wait_for_log(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.0.log_lines().iter().any(|l| l.contains(text)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line {text:?}: {:?}",
                self.0.log_lines()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(self) {
        self.0.stop().await;
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
