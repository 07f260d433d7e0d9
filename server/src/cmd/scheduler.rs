//! `threatcheck-server scheduler`: run a scheduler that launches N jobs with any program speaking
//! SPEC.md on stdio, wait for them, and report what the event log shows.
//!
//! With `--serve --run-dir DIR` it keeps running as a workflow's scheduler for the people side:
//! it publishes its contact and state in the run directory, accepts commands from the owner's
//! UI server (whose public key it finds in `DIR/clients/`), applies operators' revocations,
//! and caps live jobs with `--max-live-jobs` (concern C06).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use protocol_core::scheduler::{Event, JobSpec, JobState, SchedulerConfig};
use protocol_core::wire::OutputName;
use protocol_core::{JobId, StaticKeypair, WorkflowId};
use protocol_gateway::logging::StderrLog;
use protocol_gateway::rundir::{Contact, RunDir, RunDirService, ServiceConfig};
use protocol_net::eventlog::EventLog;
use protocol_net::job_program::CONTACT_ENV;
use protocol_net::{ProcessLauncher, Scheduler, SchedulerHandle, ServerConfig, StatsSnapshot};

use super::Outcome;
use super::restart::{self, Launches};

/// Arguments of `threatcheck-server scheduler`.
#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The job program and its arguments, split like a shell would (no expansion). Needed
    /// whenever jobs are launched.
    #[arg(long)]
    pub job_command: Option<String>,
    /// How many jobs to launch.
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// The workflow, `owner/name`.
    #[arg(long, default_value = "demo/workflow")]
    pub workflow: WorkflowId,
    /// The event log file (appended to; state is restored from it). Default:
    /// `threatcheck-events.jsonl`, or `RUN_DIR/events.jsonl` with `--serve`.
    #[arg(long)]
    pub event_log: Option<PathBuf>,
    /// Seconds a job has to answer on the bootstrap channel.
    #[arg(long, default_value_t = 30)]
    pub bootstrap_timeout: u64,
    /// Seconds to wait for every job to finish.
    #[arg(long, default_value_t = 120)]
    pub wait: u64,
    /// Keep running after launching, serving commands from the owner's UI server, until
    /// signalled (or stdin closes, with `--until-stdin-closes`).
    #[arg(long, requires = "run_dir")]
    pub serve: bool,
    /// The run directory (mode 0700): contact.json, state.json, clients/, revoke/. Without
    /// `--serve`, only the contact is published there (jobs re-read it after a restart).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Refuse launches while this many jobs are live (launching, submitted or running).
    #[arg(long)]
    pub max_live_jobs: Option<u32>,
    /// Task names to launch (repeatable; instead of `--jobs` numbered tasks).
    #[arg(long = "task")]
    pub tasks: Vec<String>,
    /// The cycle point of the launched jobs.
    #[arg(long, default_value = "1")]
    pub cycle: String,
    /// An output every launched task declares (repeatable); a job may report only these.
    #[arg(long = "output", value_parser = super::parse_output)]
    pub outputs: Vec<OutputName>,
    /// With `--serve`: stop when standard input closes.
    #[arg(long)]
    pub until_stdin_closes: bool,
}

/// What a run of jobs came to, read back from the durable event log.
#[derive(Debug)]
pub struct RunSummary {
    /// Jobs whose key was registered by this run.
    pub launched: u64,
    /// What the event log restored and this run did about it (all zero on a fresh log).
    pub restart: Option<Launches>,
    /// Tasks whose latest submission succeeded.
    pub succeeded: usize,
    /// Tasks whose latest submission is in any other state.
    pub unfinished: Vec<(JobId, JobState)>,
    /// Accepted messages in the event log (over every run on it).
    pub accepted: usize,
    /// Jobs whose accepted sequence numbers are not exactly 1..=n, each once.
    pub not_exactly_once: Vec<JobId>,
    /// The server's counters.
    pub stats: StatsSnapshot,
}

/// Launches `tasks` with `launcher` and waits for them. On an event log that already holds
/// jobs (a restart), each task's restored job is waited for or relaunched as
/// [`restart::plan`] says. With a run directory, the scheduler's contact is published there
/// and every job is told where (SPEC.md §9), so jobs reach it again after a restart.
///
/// # Errors
/// Server start-up, launch or event-log errors.
pub async fn run_jobs(
    config: ServerConfig,
    launcher: ProcessLauncher,
    tasks: &[String],
    cycle: &str,
    outputs: &BTreeSet<OutputName>,
    wait: Duration,
    run_dir: Option<&RunDir>,
) -> anyhow::Result<RunSummary> {
    let workflow = config.core.workflow.clone();
    let log_path = config.event_log.clone();
    let launcher = match run_dir {
        Some(run) => launcher.env(CONTACT_ENV, run.path().join("contact.json")),
        None => launcher,
    };
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher)).await?;
    let handle = scheduler.handle();
    if let Some(run) = run_dir {
        run.create()?;
        run.write_contact(&Contact {
            workflow: workflow.clone(),
            address: scheduler.local_addr(),
            scheduler_key: scheduler.public_key(),
            pid: std::process::id(),
        })?;
    }
    let log_watch = Arc::new(std::sync::Mutex::new(LogWatch::new()));
    let watch = tokio::spawn(watch_event_log(handle.clone(), Arc::clone(&log_watch)));
    let restored = handle.jobs().await?;
    let launches = restart::plan(&restored, &workflow, cycle, tasks)?;
    if !restored.is_empty() {
        println!(
            "restarted on the event log: {} jobs restored; waiting for {} still running to reconnect, relaunching {} whose launch failed, {} tasks already finished",
            restored.len(),
            launches.waiting.len(),
            launches.relaunched,
            launches.finished
        );
    }
    for id in &launches.launch {
        handle
            .launch(JobSpec {
                id: id.clone(),
                outputs: outputs.clone(),
            })
            .await?;
    }
    let states = handle.wait_until_terminal(wait).await?;
    // A terminal state is durable, but its acknowledgement may still be on its way to the job:
    // stay up until every launched process has exited (it exits once acknowledged), or for a
    // short grace period, so no job is left retrying its last message against a closed port.
    let launched = handle.stats().launched;
    let grace = tokio::time::Instant::now() + Duration::from_secs(5);
    while (handle.exits().len() as u64) < launched && tokio::time::Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watch.abort();
    if let Ok(mut w) = log_watch.lock() {
        w.observe(&handle.stats());
    }
    let stats = scheduler.shutdown().await?;
    if let Some(run) = run_dir {
        run.remove_contact()?;
    }
    let (accepted, not_exactly_once) = audit_event_log(&log_path)?;
    let latest = restart::latest_submissions(states);
    Ok(RunSummary {
        launched: stats.launched,
        restart: (!restored.is_empty()).then_some(launches),
        succeeded: latest.iter().filter(|(_, s)| *s == JobState::Succeeded).count(),
        unfinished: latest.into_iter().filter(|(_, s)| *s != JobState::Succeeded).collect(),
        accepted,
        not_exactly_once,
        stats,
    })
}

/// Tells the operator, on stderr, when the event log starts failing (no acknowledgement leaves
/// until it is written; the scheduler keeps running and retries), every minute it goes on, and
/// when it is written again.
#[derive(Debug)]
pub struct LogWatch {
    since: Option<tokio::time::Instant>,
    told: tokio::time::Instant,
    stalls: u64,
}

impl LogWatch {
    /// A watch that has seen nothing yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            since: None,
            told: tokio::time::Instant::now(),
            stalls: 0,
        }
    }

    /// Reports what changed since the last look.
    pub fn observe(&mut self, stats: &StatsSnapshot) {
        let now = tokio::time::Instant::now();
        let why = stats.log_failure.as_deref().unwrap_or("a write failed");
        // A stall that began and ended between two looks is still reported.
        if stats.log_stalls > self.stalls && self.since.is_none() {
            eprintln!(
                "ALERT event log failing ({why}): no acknowledgements until it can be written; the scheduler keeps running, keeps every job's state and retries"
            );
            (self.since, self.told) = (Some(now), now);
        }
        self.stalls = stats.log_stalls;
        match self.since {
            Some(start) if !stats.log_stalled => {
                eprintln!(
                    "event log written again after {:.1} s: acknowledgements resumed",
                    (now - start).as_secs_f64()
                );
                self.since = None;
            }
            Some(start) if now - self.told >= Duration::from_secs(60) => {
                eprintln!(
                    "ALERT event log still failing after {} s ({why})",
                    (now - start).as_secs()
                );
                self.told = now;
            }
            _ => {}
        }
    }
}

impl Default for LogWatch {
    fn default() -> Self {
        Self::new()
    }
}

/// Looks at the scheduler's event log five times a second (see [`LogWatch`]).
pub async fn watch_event_log(handle: SchedulerHandle, watch: Arc<std::sync::Mutex<LogWatch>>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(mut w) = watch.lock() {
            w.observe(&handle.stats());
        }
    }
}

/// Counts accepted messages and finds jobs whose accepted sequence is not exactly 1..=n once.
fn audit_event_log(path: &Path) -> anyhow::Result<(usize, Vec<JobId>)> {
    let events = EventLog::read(path).with_context(|| format!("reading back {}", path.display()))?;
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
    pub fn print(&self, jobs: usize, sent: Option<u64>) {
        match &self.restart {
            None => println!("jobs launched:          {} of {jobs}", self.launched),
            Some(r) => {
                println!(
                    "jobs launched:          {} (of {jobs} tasks: {} relaunched after a failed launch)",
                    self.launched, r.relaunched
                );
                println!(
                    "jobs recovered:         {} restored running or submitted, waited for (reconnected through the contact file)",
                    r.waiting.len()
                );
            }
        }
        println!("tasks succeeded:        {}", self.succeeded);
        if let Some(sent) = sent {
            println!("messages sent:          {sent}");
        }
        println!("messages accepted:      {}", self.accepted);
        println!("duplicates suppressed:  {}", self.stats.duplicates);
        println!("messages rejected:      {}", self.stats.rejected);
        println!("group commits:          {}", self.stats.log_batches);
        println!(
            "event log stalls:       {} ({} failed writes, each retried; nothing acknowledged before it was durable)",
            self.stats.log_stalls, self.stats.log_write_failures
        );
        println!(
            "closed for bad input:   {} (a bad frame, message or decryption)",
            self.stats.isolated_drops
        );
        println!(
            "closed at the deadline: {} (no authenticated message in time)",
            self.stats.handshake_timeouts
        );
        println!("handshakes refused:     {}", self.stats.handshakes_failed);
        println!(
            "refused past quota:     {} (jobs revoked for it: {})",
            self.stats.quota_refused, self.stats.quota_revoked
        );
        for (job, state) in &self.unfinished {
            println!("not succeeded:          {job} ({state})");
        }
        for job in &self.not_exactly_once {
            println!("not exactly once:       {job}");
        }
    }

    /// Whether every task's latest job succeeded and every message was accepted exactly once. Messages the
    /// checks rejected are reported but are not a failure of the run: refusing them is the
    /// scheduler doing its job (an honest job is never refused; see [`RunSummary::print`]).
    #[must_use]
    pub fn all_green(&self, jobs: usize, sent: Option<u64>) -> bool {
        self.succeeded == jobs
            && self.unfinished.is_empty()
            && self.not_exactly_once.is_empty()
            && sent.is_none_or(|s| s == self.accepted as u64)
    }
}

/// The tasks to launch: the `--task` names, or `--jobs` numbered ones.
pub fn task_names(args: &SchedulerArgs) -> Vec<String> {
    if args.tasks.is_empty() {
        (1..=args.jobs).map(|i| format!("job{i:05}")).collect()
    } else {
        args.tasks.clone()
    }
}

/// Runs the command.
pub fn run(args: SchedulerArgs) -> anyhow::Result<Outcome> {
    if args.serve {
        return serve(args);
    }
    let command = args.job_command.as_deref().context("--job-command is required")?;
    let launcher = ProcessLauncher::from_command_line(command).map_err(anyhow::Error::msg)?;
    let mut core = SchedulerConfig::new(args.workflow.clone());
    core.bootstrap_timeout = Duration::from_secs(args.bootstrap_timeout);
    core.max_live_jobs = args.max_live_jobs;
    let event_log = args
        .event_log
        .clone()
        .unwrap_or_else(|| "threatcheck-events.jsonl".into());
    let config = ServerConfig::new(core, args.listen, event_log);
    let runtime = tokio::runtime::Runtime::new()?;
    let tasks = task_names(&args);
    let run_dir = args.run_dir.clone().map(RunDir::at);
    let summary = runtime.block_on(run_jobs(
        config,
        launcher,
        &tasks,
        &args.cycle,
        &args.outputs.iter().cloned().collect(),
        Duration::from_secs(args.wait),
        run_dir.as_ref(),
    ))?;
    summary.print(tasks.len(), None);
    Ok(if summary.all_green(tasks.len(), None) {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}

/// `--serve`: a long-running scheduler publishing in its run directory.
fn serve(args: SchedulerArgs) -> anyhow::Result<Outcome> {
    let run_dir = args.run_dir.clone().context("--serve needs --run-dir")?;
    let run = RunDir::at(run_dir.clone());
    run.create()?;
    let mut core = SchedulerConfig::new(args.workflow.clone());
    core.bootstrap_timeout = Duration::from_secs(args.bootstrap_timeout);
    core.max_live_jobs = args.max_live_jobs;
    let event_log = args.event_log.clone().unwrap_or_else(|| run.event_log());
    let config = ServerConfig::new(core, args.listen, event_log);
    let tasks: Vec<String> = match (&args.job_command, args.tasks.is_empty()) {
        (_, false) => args.tasks.clone(),
        (Some(_), true) => (1..=args.jobs).map(|i| format!("job{i:05}")).collect(),
        (None, true) => Vec::new(),
    };
    let launcher: Arc<dyn protocol_net::Launcher> = match args.job_command.as_deref() {
        Some(c) => Arc::new(
            ProcessLauncher::from_command_line(c)
                .map_err(anyhow::Error::msg)?
                .env(CONTACT_ENV, run.path().join("contact.json")),
        ),
        None if tasks.is_empty() => Arc::new(protocol_net::launcher::NoLauncher),
        None => anyhow::bail!("--job-command is required to launch jobs"),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), launcher).await?;
        let handle = scheduler.handle();
        let contact = Contact {
            workflow: args.workflow.clone(),
            address: scheduler.local_addr(),
            scheduler_key: scheduler.public_key(),
            pid: std::process::id(),
        };
        let service = RunDirService::start(
            run,
            contact,
            handle.clone(),
            ServiceConfig {
                max_live_jobs: args.max_live_jobs,
                ..ServiceConfig::default()
            },
            Arc::new(StderrLog::new("scheduler")),
        )
        .await?;
        for task in &tasks {
            let id = JobId::new(args.workflow.clone(), &args.cycle, task, 1)?;
            match handle
                .launch(JobSpec {
                    id: id.clone(),
                    outputs: args.outputs.iter().cloned().collect(),
                })
                .await
            {
                Ok(()) => {}
                Err(protocol_net::ServerError::Launch(refused)) => println!("launch refused: {refused}"),
                Err(e) => return Err(e.into()),
            }
        }
        println!(
            "serving {} at {} (run directory {})",
            args.workflow,
            scheduler.local_addr(),
            run_dir.display()
        );
        use std::io::Write as _;
        std::io::stdout().flush()?;
        tokio::select! {
            () = super::hub::terminated() => {}
            () = super::hub::stdin_closed(), if args.until_stdin_closes => {}
        }
        service.stop().await;
        scheduler.shutdown().await?;
        Ok::<_, anyhow::Error>(())
    });
    // A blocking read of stdin may still be pending; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result?;
    Ok(Outcome::Green)
}
