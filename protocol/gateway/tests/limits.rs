//! Concern C06: a scheduler's cap on live jobs refuses launches clearly, through protocol-net,
//! and says so in its run directory.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use protocol_core::scheduler::{JobSpec, LaunchError, SchedulerConfig};
use protocol_core::{JobId, StaticKeypair, WorkflowId};
use protocol_gateway::rundir::{Contact, RunDir, RunDirService, ServiceConfig};
use protocol_net::{Scheduler, ServerConfig, ServerError};
use testkit::PresetKeyLauncher;

use crate::common::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launches_beyond_the_live_job_cap_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let id = WorkflowId::new("atmosphere_stage", "clouds").expect("valid");
    let run = RunDir::of(dir.path(), &id);
    run.create().expect("run dir");
    let mut core = SchedulerConfig::new(id.clone());
    core.max_live_jobs = Some(2);
    let config = ServerConfig::new(core, "127.0.0.1:0".parse().expect("addr"), run.event_log());
    let launcher = PresetKeyLauncher::default();
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher.clone()))
        .await
        .expect("start");
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
            max_live_jobs: Some(2),
        },
        Arc::new(protocol_gateway::logging::NoLog),
    )
    .await
    .expect("service");
    let handle = scheduler.handle();
    let spec = |task: &str| {
        let job = JobId::new(id.clone(), "1", task, 1).expect("job");
        launcher.preset(&job, *StaticKeypair::generate_from_os().public().as_bytes());
        JobSpec {
            id: job,
            outputs: BTreeSet::new(),
        }
    };
    handle.launch(spec("a")).await.expect("first");
    handle.launch(spec("b")).await.expect("second");
    let refused = handle.launch(spec("c")).await.expect_err("third");
    assert!(
        matches!(
            refused,
            ServerError::Launch(LaunchError::TooManyLiveJobs { live: 2, max: 2 })
        ),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "2 jobs are live, the limit is 2: launch refused until one finishes"
    );
    eventually("the state file", || {
        run.read_state()
            .ok()
            .flatten()
            .is_some_and(|s| s.live_jobs == 2 && s.max_live_jobs == Some(2))
    })
    .await;
    service.stop().await;
    scheduler.shutdown().await.expect("shutdown");
}
