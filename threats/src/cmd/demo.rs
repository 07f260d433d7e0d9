//! `threatcheck demo`: a scheduler on 127.0.0.1 with N reference jobs (this same binary, run as
//! real child processes), each reporting started, a few messages and succeeded.

use std::time::Duration;

use protocol_core::WorkflowId;
use protocol_core::scheduler::SchedulerConfig;
use protocol_net::{ProcessLauncher, ServerConfig};

use super::Outcome;
use super::scheduler::run_jobs;

/// Arguments of `threatcheck demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many jobs to run.
    #[arg(long, default_value_t = 10)]
    pub jobs: u32,
    /// `message` reports per job, besides started and succeeded.
    #[arg(long, default_value_t = 3)]
    pub messages: u32,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe()?;
    let launcher = ProcessLauncher::new(
        exe.to_string_lossy(),
        vec!["job".into(), "--messages".into(), args.messages.to_string()],
    );
    let state = tempfile::tempdir()?;
    let workflow = WorkflowId::new("demo", "workflow")?;
    let config = ServerConfig::new(
        SchedulerConfig::new(workflow),
        "127.0.0.1:0".parse()?,
        state.path().join("events.jsonl"),
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let summary = runtime.block_on(run_jobs(config, launcher, args.jobs, Duration::from_secs(120)))?;
    let sent = u64::from(args.jobs) * (u64::from(args.messages) + 2);
    summary.print(args.jobs, Some(sent));
    let green = summary.all_green(args.jobs, Some(sent));
    println!(
        "{}",
        if green {
            "result: every message accepted exactly once"
        } else {
            "result: FAILED"
        }
    );
    Ok(if green { Outcome::Green } else { Outcome::Finding })
}
