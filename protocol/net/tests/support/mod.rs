//! Shared fixtures: schedulers on 127.0.0.1, a launcher that hands over keys made by the test
//! (the launcher trait is the edge the issue allows to be replaced), and a connection killer.

pub mod killer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol_core::scheduler::SchedulerConfig;
use protocol_core::{JobId, StaticKeypair};
use protocol_net::{ClientConfig, Scheduler, ServerConfig};

pub use testkit::channel::{spec, workflow};

pub fn job(task: &str) -> JobId {
    testkit::channel::job(task).expect("valid")
}

pub fn config(dir: &Path) -> ServerConfig {
    let mut core = SchedulerConfig::new(workflow());
    core.bootstrap_timeout = Duration::from_secs(5);
    ServerConfig::new(core, "127.0.0.1:0".parse().expect("addr"), dir.join("events.jsonl"))
}

pub use testkit::PresetKeyLauncher as KeyLauncher;

/// A scheduler with `n` jobs registered through a [`KeyLauncher`].
pub struct Running {
    pub scheduler: Scheduler,
    pub jobs: Vec<(JobId, StaticKeypair)>,
}

impl Running {
    pub async fn start(config: ServerConfig, n: usize) -> Self {
        let launcher = KeyLauncher::default();
        let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher.clone()))
            .await
            .expect("start");
        let handle = scheduler.handle();
        let mut jobs = Vec::new();
        for i in 0..n {
            let id = job(&format!("j{i}"));
            let keypair = StaticKeypair::generate_from_os();
            launcher.preset(&id, *keypair.public().as_bytes());
            handle.launch(spec(&id)).await.expect("launch");
            jobs.push((id, keypair));
        }
        wait_for(|| handle.stats().launched == n as u64).await;
        Self { scheduler, jobs }
    }

    pub fn client(&self, i: usize) -> ClientConfig {
        ClientConfig::new(
            self.scheduler.local_addr(),
            self.scheduler.public_key(),
            self.jobs[i].0.clone(),
        )
    }
}

/// Polls `cond` every 10 ms for up to 10 s.
pub async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 10 s");
}
