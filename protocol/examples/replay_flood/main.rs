//! Replay flood: how long honest jobs take to deliver while an attacker floods the scheduler
//! with replayed first handshake messages and idle connections, against a quiet run of the same
//! scheduler in the same invocation. `scripts/replay-flood.sh` builds and runs it.
//!
//! - This process is the scheduler (real Noise, the production `ServerConfig` defaults, an
//!   fsynced event log in a tempdir under `$REPLAY_FLOOD_DIR`, default `target/`) and the honest
//!   jobs (the reconnect loop of `protocol_net::run_job`). Its open-file soft limit is 1,024: it
//!   re-executes itself under `ulimit -Sn 1024` when started with another and checks
//!   `/proc/self/limits` (this package has no dependency that sets rlimits; `unsafe` is
//!   forbidden). The honest jobs' sockets count against that limit too.
//! - The attacker is a child process of this binary (soft limit 8,192) opening, as fast as it
//!   can, 2,000 connections that each send a replayed message 1, captured by a tap from honest
//!   jobs' connections (1,000 of a running job's, 500 of a finished job's, 500 of a revoked
//!   job's), and 2,000 that send nothing, and holding each until the scheduler closes it. By
//!   default it opens them once (a wave); `--sustained` opens each closed one again at once,
//!   until the honest jobs are done.
//! - A quiet run, then the flood run, on the same scheduler, each with 50 fresh jobs sending
//!   `started`, 5 × `message`, `succeeded`, one starting every 100 ms. A job's delivery time runs
//!   from its first connect to the acknowledgement of its last message.
//!
//! Exit 0 when the run completed (PASS/MISSED against the ≤ 2× target are informative), 1 when
//! an honest job did not finish, the event log failed or the hard timeout (120 s) passed, 2 for
//! a setup error.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use protocol_core::job::JobCore;
use protocol_core::scheduler::{JobSpec, JobState, SchedulerConfig};
use protocol_core::wire::{JobBody, Severity};
use protocol_core::{JobId, StaticKeypair, WorkflowId};
use protocol_net::client::{ClientReport, connect, deliver};
use protocol_net::{ClientConfig, Scheduler, ServerConfig, StatsSnapshot};
use testkit::PresetKeyLauncher;

mod attacker;

use attacker::attacker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Set in the attacker child.
const ATTACKER_ENV: &str = "THREATCHECK_REPLAY_FLOOD_ATTACKER";
/// Set once this process has re-executed itself under the 1,024 limit (so it never loops).
const LIMITED_ENV: &str = "THREATCHECK_REPLAY_FLOOD_LIMITED";
const SCHEDULER_NOFILE: u64 = 1024;
const ATTACKER_NOFILE: u64 = 8192;
const JOBS: usize = 50;
/// One honest job starts every this long: 50 jobs over 4.9 s, within the handshake deadline
/// (5 s) for which a wave's connections can hold the scheduler's handshake slots.
const SPACING: Duration = Duration::from_millis(100);
/// The attacker's connection kinds: replays of the running, finished and revoked job's message 1,
/// and idle connections.
const KINDS: [&str; 4] = [
    "replay/running-key",
    "replay/finished-key",
    "replay/revoked-key",
    "idle",
];
/// The order the attacker opens its connections in, `ROUNDS` times (2,000 idle, 1,000 + 500 +
/// 500 replays), every kind spread over the burst so each meets the scheduler in the same state.
const PATTERN: [usize; 8] = [3, 0, 3, 1, 3, 0, 3, 2];
const ROUNDS: usize = 500;
const HARD_TIMEOUT: Duration = Duration::from_secs(120);
/// How far into a run an honest job may still finish; later it counts as failed.
const PHASE_BOUND: Duration = Duration::from_secs(45);
/// A connection the scheduler closed later than this after it opened was held to a deadline.
const HELD: Duration = Duration::from_secs(1);

fn workflow() -> WorkflowId {
    WorkflowId::new("flood", "wf").expect("valid")
}

/// A job's core with `bodies` queued.
fn queued(config: &ClientConfig, bodies: Vec<JobBody>) -> JobCore {
    let mut core = JobCore::new(config.job.clone(), config.window);
    for body in bodies {
        core.send(body);
    }
    core
}

fn lifecycle() -> Vec<JobBody> {
    let mut bodies = vec![JobBody::Started];
    bodies.extend((0..5).map(|i| JobBody::Message {
        severity: Severity::Info,
        text: format!("progress {i}"),
    }));
    bodies.push(JobBody::Succeeded);
    bodies
}

/// Soft and hard `RLIMIT_NOFILE` of this process, from `/proc/self/limits`.
fn nofile() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "unlimited" is the only value that is not a number.
    let mut values = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(u64::MAX));
    Some((values.next()?, values.next()?))
}

/// `program` run with its open-file soft limit set to `soft`. The hard limit is left as it is,
/// so the 1,024-limited scheduler can still give its attacker child 8,192.
fn with_soft_nofile(soft: u64, program: &std::path::Path) -> Command {
    let mut command = Command::new("bash");
    command
        .args(["-c", r#"ulimit -Sn "$0" && exec "$@""#])
        .arg(soft.to_string())
        .arg(program);
    command
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn main() -> ExitCode {
    if std::env::var_os(ATTACKER_ENV).is_some() {
        return attacker();
    }
    let Some((soft, hard)) = nofile() else {
        eprintln!("replay-flood: ERROR: cannot read /proc/self/limits");
        return ExitCode::from(2);
    };
    if soft != SCHEDULER_NOFILE {
        if std::env::var_os(LIMITED_ENV).is_some() || hard < SCHEDULER_NOFILE {
            eprintln!("replay-flood: ERROR: cannot set the open-file soft limit to 1024 (soft {soft}, hard {hard})");
            return ExitCode::from(2);
        }
        let exe = std::env::current_exe().expect("exe");
        let err = with_soft_nofile(SCHEDULER_NOFILE, &exe)
            .args(std::env::args_os().skip(1))
            .env(LIMITED_ENV, "1")
            .exec();
        eprintln!("replay-flood: ERROR: cannot re-execute under the 1024 limit: {err}");
        return ExitCode::from(2);
    }
    // Bounded whatever happens: a stuck run is a failed run. The attacker child stops when its
    // stdin closes, which our exit does.
    std::thread::spawn(|| {
        std::thread::sleep(HARD_TIMEOUT);
        println!(
            "replay-flood: FAILED: hard timeout of {} s reached",
            HARD_TIMEOUT.as_secs()
        );
        std::process::exit(1);
    });
    let sustained = std::env::args().any(|a| a == "--sustained");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(hard, sustained))
}

/// One honest job's delivery: its time, or why it did not finish.
struct Delivery {
    elapsed: Result<Duration, String>,
    /// Connection attempts (1 when nothing went wrong).
    attempts: u32,
}

/// The production job driver's loop (`protocol_net::run_job`: same backoff, same give-up),
/// counting its attempts so refused connections show, and ending at `deadline`.
async fn honest(config: &ClientConfig, key: &StaticKeypair, deadline: tokio::time::Instant) -> Delivery {
    let start = Instant::now();
    let mut attempts = 0u32;
    let run = async {
        let mut core = queued(config, lifecycle());
        let (mut failures, mut backoff) = (0u32, config.backoff);
        while !core.is_idle() {
            attempts += 1;
            let outcome = match connect(config, key).await {
                Ok(mut connection) => {
                    failures = 0;
                    backoff = config.backoff;
                    deliver(&mut core, &mut connection, &mut ClientReport::default()).await
                }
                Err(err) => Err(err),
            };
            core.handle_disconnect();
            match outcome {
                Ok(Ok(())) => break,
                Ok(Err(refused)) => return Err(format!("refused: {refused}")),
                Err(last) => {
                    failures += 1;
                    if failures >= config.max_attempts {
                        return Err(format!("gave up after {failures} attempts: {last}"));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(config.max_backoff);
                }
            }
        }
        Ok(start.elapsed())
    };
    let elapsed = tokio::time::timeout_at(deadline, run)
        .await
        .unwrap_or_else(|_| Err(format!("not finished {} s into the run", PHASE_BOUND.as_secs())));
    Delivery { elapsed, attempts }
}

struct Fixture {
    scheduler: Scheduler,
    launcher: PresetKeyLauncher,
}

impl Fixture {
    /// Launches jobs named `names` (their keys registered) and returns their client settings.
    async fn launch(&self, names: &[String]) -> Vec<(ClientConfig, StaticKeypair)> {
        let handle = self.scheduler.handle();
        let target = handle.stats().launched + names.len() as u64;
        let mut jobs = Vec::new();
        for name in names {
            let id = JobId::new(workflow(), "1", name, 1).expect("valid");
            let key = StaticKeypair::generate_from_os();
            self.launcher.preset(&id, *key.public().as_bytes());
            let spec = JobSpec {
                id: id.clone(),
                outputs: BTreeSet::new(),
            };
            handle.launch(spec).await.expect("launch");
            let config = ClientConfig::new(self.scheduler.local_addr(), self.scheduler.public_key(), id);
            jobs.push((config, key));
        }
        while handle.stats().launched < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        jobs
    }

    /// Runs one job through a one-connection tap that keeps the first frame it forwards to the
    /// scheduler: the job's message 1 (framed), as an eavesdropper on the network records it.
    async fn capture(&self, name: &str, bodies: Vec<JobBody>) -> (Vec<u8>, JobId) {
        let (mut config, key) = self.launch(&[name.to_owned()]).await.pop().expect("job");
        let tap = TcpListener::bind("127.0.0.1:0").await.expect("tap");
        config.address = tap.local_addr().expect("tap address");
        let upstream = self.scheduler.local_addr();
        let relay = tokio::spawn(async move {
            let (mut job, _) = tap.accept().await?;
            let mut to = TcpStream::connect(upstream).await?;
            let mut header = [0u8; 2];
            job.read_exact(&mut header).await?;
            let mut frame = header.to_vec();
            frame.resize(2 + usize::from(u16::from_be_bytes(header)), 0);
            job.read_exact(&mut frame[2..]).await?;
            to.write_all(&frame).await?;
            let _ = tokio::io::copy_bidirectional(&mut job, &mut to).await;
            Ok::<_, std::io::Error>(frame)
        });
        let mut core = queued(&config, bodies);
        let mut connection = connect(&config, &key).await.expect("connect through the tap");
        deliver(&mut core, &mut connection, &mut ClientReport::default())
            .await
            .expect("connection")
            .expect("accepted");
        drop(connection);
        (relay.await.expect("join").expect("captured message 1"), config.job)
    }
}

/// Starts one job every [`SPACING`] whatever the others do (a workflow's jobs do not wait for
/// each other), so the same arrival schedule meets the quiet and the flooded scheduler.
async fn run_jobs(jobs: Vec<(ClientConfig, StaticKeypair)>) -> Vec<Delivery> {
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = (0u32..)
        .zip(jobs)
        .map(|(i, (config, key))| {
            tokio::spawn(async move {
                tokio::time::sleep_until(start + SPACING * i).await;
                honest(&config, &key, start + PHASE_BOUND).await
            })
        })
        .collect();
    let mut done = Vec::new();
    for task in tasks {
        done.push(task.await.expect("join"));
    }
    done
}

/// Median and maximum delivery time in ms, an unfinished job counting as never delivered.
fn figures(deliveries: &[Delivery]) -> (f64, f64) {
    let mut ms: Vec<f64> = deliveries
        .iter()
        .map(|d| d.elapsed.as_ref().map_or(f64::INFINITY, |e| e.as_secs_f64() * 1e3))
        .collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    // The mean of the two middle values when `n` is even, the middle one when it is odd.
    let median = (ms[(n - 1) / 2] + ms[n / 2]) / 2.0;
    (median, ms[n - 1])
}

fn ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1} ms")
    } else {
        "not delivered".into()
    }
}

fn print_run(label: &str, deliveries: &[Delivery], peak_fds: usize) -> (f64, f64) {
    let (median, max) = figures(deliveries);
    let attempts: u32 = deliveries.iter().map(|d| d.attempts).sum();
    let retried = deliveries.iter().filter(|d| d.attempts > 1).count();
    println!(
        "{label}: {JOBS} jobs x {} messages, one starting every {} ms: delivery median {}, max {}; \
         {attempts} connection attempts ({retried} jobs needed more than one); \
         peak open descriptors {peak_fds} of {SCHEDULER_NOFILE}",
        lifecycle().len(),
        SPACING.as_millis(),
        ms(median),
        ms(max)
    );
    let delivered: Vec<Delivery> = deliveries
        .iter()
        .filter_map(|d| {
            d.elapsed.clone().ok().map(|e| Delivery {
                elapsed: Ok(e),
                attempts: d.attempts,
            })
        })
        .collect();
    if !delivered.is_empty() && delivered.len() < deliveries.len() {
        let (m, x) = figures(&delivered);
        println!(
            "{label}: the {} jobs delivered: median {}, max {}",
            delivered.len(),
            ms(m),
            ms(x)
        );
    }
    for (i, d) in deliveries.iter().enumerate() {
        if let Err(why) = &d.elapsed {
            println!("{label}: FAILED honest job {i} ({} attempts): {why}", d.attempts);
        }
    }
    (median, max)
}

/// What the scheduler counted between two snapshots.
fn print_counters(label: &str, before: &StatsSnapshot, after: &StatsSnapshot) {
    let d = |f: fn(&StatsSnapshot) -> u64| f(after) - f(before);
    println!(
        "{label}: scheduler counters (the honest jobs' connections included): {} connections closed at once by the \
         in-flight cap or connection limit (connections_refused); {} handshakes completed (message 2 sent); {} \
         handshakes failed (no message 2: idle to the deadline, refused key, closed by the peer); {} closed by the \
         handshake deadline (handshake_timeouts: idle, or message 2 never followed by an authenticated frame); \
         {} closed when a newcomer to a full handshake table took their slot (handshakes_evicted); \
         {} established connections ended with an error, an honest job's own close included \
         (connections_dropped); key_cap_closed {}; transport_failures {}; messages accepted {}, rejected {}",
        d(|s| s.connections_refused),
        d(|s| s.handshakes_completed),
        d(|s| s.handshakes_failed),
        d(|s| s.handshake_timeouts),
        d(|s| s.handshakes_evicted),
        d(|s| s.connections_dropped),
        d(|s| s.key_cap_closed),
        d(|s| s.transport_failures),
        d(|s| s.accepted),
        d(|s| s.rejected),
    );
    let was = |name: &str| {
        before
            .rejected_by_check
            .iter()
            .find(|(b, _)| *b == name)
            .map_or(0, |(_, v)| *v)
    };
    let refusals: Vec<String> = after
        .rejected_by_check
        .iter()
        .filter(|(name, n)| *n > was(name))
        .map(|(name, n)| format!("{name} {}", n - was(name)))
        .collect();
    println!("{label}: refusals by check: {}", refusals.join(", "));
}

async fn run(hard: u64, sustained: bool) -> ExitCode {
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "replay-flood: machine: nproc {nproc}, /proc/loadavg at start {}",
        loadavg()
    );
    let base = std::env::var("REPLAY_FLOOD_DIR").unwrap_or_else(|_| "target".into());
    let Ok(dir) = tempfile::tempdir_in(&base) else {
        eprintln!("replay-flood: ERROR: cannot make a tempdir in {base}");
        return ExitCode::from(2);
    };
    // The production defaults, untouched: the figure is for the scheduler as deployed.
    let config = ServerConfig::new(
        SchedulerConfig::new(workflow()),
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("events.jsonl"),
    );
    println!(
        "replay-flood: scheduler in this process, open files soft limit {SCHEDULER_NOFILE} (hard {hard}); \
         ServerConfig defaults: handshake deadline {:?}, {} handshakes in flight, {} connections, {} per key; \
         event log {} (fdatasync per group commit)",
        config.handshake_timeout,
        config.max_handshakes_in_flight,
        config.max_connections,
        config.max_connections_per_key,
        config.event_log.display()
    );
    let launcher = PresetKeyLauncher::default();
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher.clone()))
        .await
        .expect("start the scheduler");
    let fx = Fixture { scheduler, launcher };
    let handle = fx.scheduler.handle();

    // Peak descriptors of this process, counted every 5 ms; a failed count is the limit itself.
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = Arc::clone(&peak);
    std::thread::spawn(move || {
        loop {
            let n = std::fs::read_dir("/proc/self/fd").map_or(SCHEDULER_NOFILE as usize, Iterator::count);
            sampler.fetch_max(n, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
    });

    // The messages 1 the attacker replays, each captured from an honest job's connection.
    let (running, _) = fx.capture("victim-running", vec![JobBody::Started]).await;
    let (finished, _) = fx.capture("victim-finished", lifecycle()).await;
    let (revoked, revoked_job) = fx.capture("victim-revoked", vec![JobBody::Started]).await;
    handle.revoke(revoked_job).await.expect("revoke");
    println!(
        "replay-flood: captured message 1 ({} bytes framed) from a job's connection that stays running, one that \
         finished and one then revoked",
        running.len()
    );

    let names = |prefix: &str| (0..JOBS).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
    let quiet_jobs = fx.launch(&names("quiet")).await;
    let flood_jobs = fx.launch(&names("flood")).await;
    let honest_ids: Vec<JobId> = quiet_jobs
        .iter()
        .chain(&flood_jobs)
        .map(|(c, _)| c.job.clone())
        .collect();

    peak.store(0, Ordering::Relaxed);
    let quiet = run_jobs(quiet_jobs).await;
    let quiet_fds = peak.load(Ordering::Relaxed);

    // The attacker, in its own process with its own limit.
    let exe = std::env::current_exe().expect("exe");
    let spawned = with_soft_nofile(ATTACKER_NOFILE.min(hard), &exe)
        .env(ATTACKER_ENV, "1")
        .env_remove(LIMITED_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        eprintln!("replay-flood: ERROR: cannot start the attacker process");
        return ExitCode::from(2);
    };
    let mut to_child = child.stdin.take().expect("stdin");
    let mut from_child = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mode = if sustained { "sustained" } else { "wave" };
    writeln!(to_child, "{} {mode}", fx.scheduler.local_addr()).expect("write");
    for frame in [&running, &finished, &revoked] {
        writeln!(to_child, "{}", hex::encode(frame)).expect("write");
    }
    to_child.flush().expect("flush");
    let ready = from_child.next().and_then(Result::ok).unwrap_or_default();
    if ready != "ready" {
        eprintln!("replay-flood: ERROR: the attacker did not start: {ready}");
        return ExitCode::from(2);
    }

    let before = handle.stats();
    peak.store(0, Ordering::Relaxed);
    writeln!(to_child, "go").and_then(|()| to_child.flush()).expect("go");
    // The honest jobs start as the attacker's connections start arriving.
    let flood = run_jobs(flood_jobs).await;
    let flood_fds = peak.load(Ordering::Relaxed);
    // After a wave the attacker may be gone already (every connection of it closed).
    let _ = writeln!(to_child, "stop").and_then(|()| to_child.flush());
    let tally: Vec<String> = from_child.map_while(Result::ok).collect();
    let _ = child.wait();
    // Let the scheduler count the connections the attacker closed on its way out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = handle.stats();
    let states = handle.jobs().await.unwrap_or_default();
    let unfinished = states
        .iter()
        .filter(|(id, s)| honest_ids.contains(id) && *s != JobState::Succeeded)
        .count();
    let shutdown = fx.scheduler.shutdown().await;

    println!();
    let (quiet_median, quiet_max) = print_run("quiet", &quiet, quiet_fds);
    let (flood_median, flood_max) = print_run(&format!("flood ({mode})"), &flood, flood_fds);
    for line in &tally {
        println!("flood: attacker: {line}");
    }
    print_counters("flood", &before, &after);
    if flood_fds + 8 >= SCHEDULER_NOFILE as usize {
        println!("flood: DESCRIPTORS EXHAUSTED: the scheduler process reached its {SCHEDULER_NOFILE} limit");
    }
    for (what, quiet, flood) in [("median", quiet_median, flood_median), ("max", quiet_max, flood_max)] {
        let ratio = flood / quiet;
        let verdict = if ratio <= 2.0 { "PASS" } else { "MISSED" };
        println!(
            "ratio flood/quiet, {:<7} {ratio:.2} (target <= 2.00): {verdict}",
            format!("{what}:")
        );
    }

    let mut failed = Vec::new();
    let not_delivered = quiet.iter().chain(&flood).filter(|d| d.elapsed.is_err()).count();
    if not_delivered > 0 {
        failed.push(format!("{not_delivered} honest jobs did not finish"));
    }
    if unfinished > 0 {
        failed.push(format!("{unfinished} honest jobs are not succeeded in the scheduler"));
    }
    if after.log_write_failures > 0 || after.log_stalls > 0 {
        failed.push(format!("{} event-log write failures", after.log_write_failures));
    }
    if let Err(err) = shutdown {
        failed.push(format!("scheduler shutdown: {err}"));
    }
    println!("replay-flood: /proc/loadavg at end {}", loadavg());
    if failed.is_empty() {
        println!("replay-flood: every honest job succeeded; no event-log write failed");
        ExitCode::SUCCESS
    } else {
        println!("replay-flood: FAILED: {}", failed.join("; "));
        ExitCode::from(1)
    }
}
