//! `threatcheck scheduler`: run a scheduler that launches N jobs with any program speaking
//! SPEC.md on stdio, wait for them, and report what the event log shows.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use protocol_core::scheduler::{Event, JobSpec, JobState, SchedulerConfig};
use protocol_core::{JobId, StaticKeypair, WorkflowId};
use protocol_net::eventlog::EventLog;
use protocol_net::{ProcessLauncher, Scheduler, ServerConfig, StatsSnapshot};

use super::Outcome;

/// Arguments of `threatcheck scheduler`.
#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The job program and its arguments, split like a shell would (no expansion).
    #[arg(long)]
    pub job_command: String,
    /// How many jobs to launch.
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// The workflow, `owner/name`.
    #[arg(long, default_value = "demo/workflow")]
    pub workflow: WorkflowId,
    /// The event log file (appended to; state is restored from it).
    #[arg(long, default_value = "threatcheck-events.jsonl")]
    pub event_log: PathBuf,
    /// Seconds a job has to answer on the bootstrap channel.
    #[arg(long, default_value_t = 30)]
    pub bootstrap_timeout: u64,
    /// Seconds to wait for every job to finish.
    #[arg(long, default_value_t = 120)]
    pub wait: u64,
}

/// What a run of jobs came to, read back from the durable event log.
#[derive(Debug)]
pub struct RunSummary {
    /// Jobs whose key was registered.
    pub launched: u64,
    /// Jobs that succeeded.
    pub succeeded: usize,
    /// Jobs in any other state.
    pub unfinished: Vec<(JobId, JobState)>,
    /// Accepted messages in the event log.
    pub accepted: usize,
    /// Jobs whose accepted sequence numbers are not exactly 1..=n, each once.
    pub not_exactly_once: Vec<JobId>,
    /// The server's counters.
    pub stats: StatsSnapshot,
}

/// Launches `jobs` jobs with `launcher` on a fresh scheduler and waits for them.
///
/// # Errors
/// Server start-up, launch or event-log errors.
pub async fn run_jobs(
    config: ServerConfig,
    launcher: ProcessLauncher,
    jobs: u32,
    wait: Duration,
) -> anyhow::Result<RunSummary> {
    let workflow = config.core.workflow.clone();
    let log_path = config.event_log.clone();
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher)).await?;
    let handle = scheduler.handle();
    for i in 1..=jobs {
        let id = JobId::new(workflow.clone(), "1", &format!("job{i:05}"), 1)?;
        handle
            .launch(JobSpec {
                id,
                outputs: BTreeSet::new(),
            })
            .await?;
    }
    let states = handle.wait_until_terminal(wait).await?;
    let stats = scheduler.shutdown().await?;
    let (accepted, not_exactly_once) = audit_event_log(&log_path)?;
    Ok(RunSummary {
        launched: stats.launched,
        succeeded: states.iter().filter(|(_, s)| *s == JobState::Succeeded).count(),
        unfinished: states.into_iter().filter(|(_, s)| *s != JobState::Succeeded).collect(),
        accepted,
        not_exactly_once,
        stats,
    })
}

/// Counts accepted messages and finds jobs whose accepted sequence is not exactly 1..=n once.
fn audit_event_log(path: &Path) -> anyhow::Result<(usize, Vec<JobId>)> {
    let (_, events) = EventLog::open(path).with_context(|| format!("reading back {}", path.display()))?;
    let mut seqs: BTreeMap<JobId, Vec<u64>> = BTreeMap::new();
    for event in events {
        if let Event::Accepted { job, seq, .. } = event {
            seqs.entry(job).or_default().push(seq);
        }
    }
    let accepted = seqs.values().map(Vec::len).sum();
    let bad = seqs
        .into_iter()
        .filter(|(_, s)| !s.iter().copied().eq(1..=s.len() as u64))
        .map(|(job, _)| job)
        .collect();
    Ok((accepted, bad))
}

impl RunSummary {
    /// Prints the summary; `sent` is how many messages the jobs were asked to send.
    pub fn print(&self, jobs: u32, sent: Option<u64>) {
        println!("jobs launched:          {} of {jobs}", self.launched);
        println!("jobs succeeded:         {}", self.succeeded);
        if let Some(sent) = sent {
            println!("messages sent:          {sent}");
        }
        println!("messages accepted:      {}", self.accepted);
        println!("duplicates suppressed:  {}", self.stats.duplicates);
        println!("messages rejected:      {}", self.stats.rejected);
        println!("group commits:          {}", self.stats.log_batches);
        for (job, state) in &self.unfinished {
            println!("not succeeded:          {job} ({state})");
        }
        for job in &self.not_exactly_once {
            println!("not exactly once:       {job}");
        }
    }

    /// Whether every job succeeded and every message was accepted exactly once.
    #[must_use]
    pub fn all_green(&self, jobs: u32, sent: Option<u64>) -> bool {
        self.launched == u64::from(jobs)
            && self.unfinished.is_empty()
            && self.not_exactly_once.is_empty()
            && self.stats.rejected == 0
            && sent.is_none_or(|s| s == self.accepted as u64)
    }
}

/// Runs the command.
pub fn run(args: SchedulerArgs) -> anyhow::Result<Outcome> {
    let launcher = ProcessLauncher::from_command_line(&args.job_command).map_err(anyhow::Error::msg)?;
    let mut core = SchedulerConfig::new(args.workflow.clone());
    core.bootstrap_timeout = Duration::from_secs(args.bootstrap_timeout);
    let config = ServerConfig::new(core, args.listen, args.event_log.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    let summary = runtime.block_on(run_jobs(config, launcher, args.jobs, Duration::from_secs(args.wait)))?;
    summary.print(args.jobs, None);
    Ok(if summary.all_green(args.jobs, None) {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}
