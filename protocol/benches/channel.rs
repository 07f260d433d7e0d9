//! The job channel over loopback, end to end: every figure includes Noise encryption both ways,
//! the acceptance pipeline, and an `fdatasync`ed group commit before each acknowledgement.
//!
//! - `throughput/{1,100,1000}_jobs`: accepted, durably logged, acknowledged messages per second
//!   with that many jobs sending at once (connections made before the clock starts).
//! - `round_trip/one_message`: one message and its acknowledgement on an idle scheduler (one
//!   fsync each).
//! - after criterion: memory per connected job, with 10,000 jobs registered and connected
//!   (clients in a child process, so each process stays within its descriptor limit), printed
//!   as a figure and against the 64 KiB target.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use protocol_core::job::JobCore;
use protocol_core::scheduler::{JobSpec, SchedulerConfig};
use protocol_core::wire::JobBody;
use protocol_core::{JobId, PublicKey, StaticKeypair, WorkflowId};
use protocol_net::client::{ClientReport, connect, deliver};
use protocol_net::{ClientConfig, Scheduler, SchedulerHandle, ServerConfig};
use testkit::PresetKeyLauncher;

const CHILD_ENV: &str = "THREATCHECK_BENCH_CLIENTS";

fn workflow() -> WorkflowId {
    WorkflowId::new("bench", "wf").expect("valid")
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    scheduler: Scheduler,
    launcher: PresetKeyLauncher,
    next: u64,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).expect("tempdir");
        let mut config = ServerConfig::new(
            SchedulerConfig::new(workflow()),
            "127.0.0.1:0".parse().expect("addr"),
            dir.path().join("events.jsonl"),
        );
        config.max_handshakes_in_flight = 2048;
        let launcher = PresetKeyLauncher::default();
        let scheduler = runtime
            .block_on(Scheduler::start(
                config,
                StaticKeypair::generate_from_os(),
                Arc::new(launcher.clone()),
            ))
            .expect("start");
        Self {
            runtime,
            scheduler,
            launcher,
            next: 0,
            _dir: dir,
        }
    }

    /// Registers `n` fresh jobs and returns their client settings and keys.
    fn jobs(&mut self, n: usize) -> Vec<(ClientConfig, StaticKeypair)> {
        let handle = self.scheduler.handle();
        let mut jobs = Vec::with_capacity(n);
        for _ in 0..n {
            self.next += 1;
            let id = JobId::new(workflow(), "1", &format!("j{}", self.next), 1).expect("valid");
            let key = StaticKeypair::generate_from_os();
            self.launcher.preset(&id, *key.public().as_bytes());
            self.runtime
                .block_on(handle.launch(JobSpec {
                    id: id.clone(),
                    outputs: BTreeSet::new(),
                }))
                .expect("launch");
            jobs.push((
                ClientConfig::new(self.scheduler.local_addr(), self.scheduler.public_key(), id),
                key,
            ));
        }
        let target = self.next;
        self.runtime.block_on(wait_launched(&handle, target));
        jobs
    }
}

async fn wait_launched(handle: &SchedulerHandle, n: u64) {
    while handle.stats().launched < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn bodies(n: u64) -> Vec<JobBody> {
    let mut v = vec![JobBody::Started];
    v.extend(std::iter::repeat_n(
        JobBody::Heartbeat,
        usize::try_from(n - 2).unwrap_or(0),
    ));
    v.push(JobBody::Succeeded);
    v
}

/// Connects every job, then times all of them sending `per_job` messages at once.
async fn run_concurrent(jobs: Vec<(ClientConfig, StaticKeypair)>, per_job: u64) -> Duration {
    let mut connected = Vec::with_capacity(jobs.len());
    for (config, key) in &jobs {
        connected.push((config.job.clone(), connect(config, key).await.expect("connect")));
    }
    let start = Instant::now();
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|(id, connection)| {
            tokio::spawn(async move {
                let mut core = JobCore::new(id, 64);
                for body in bodies(per_job) {
                    core.send(body);
                }
                let mut report = ClientReport::default();
                let mut connection = connection;
                deliver(&mut core, &mut connection, &mut report)
                    .await
                    .expect("connection")
                    .expect("accepted");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join");
    }
    start.elapsed()
}

fn throughput(c: &mut Criterion) {
    let mut bench = Bench::new();
    let mut group = c.benchmark_group("throughput");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for (jobs, per_job) in [(1usize, 20_000u64), (100, 500), (1000, 100)] {
        group.throughput(Throughput::Elements(jobs as u64 * per_job));
        group.bench_function(format!("{jobs}_jobs"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let set = bench.jobs(jobs);
                    total += bench.runtime.block_on(run_concurrent(set, per_job));
                }
                total
            });
        });
    }
    group.finish();
    drop(bench);
}

fn round_trip(c: &mut Criterion) {
    let mut bench = Bench::new();
    let (config, key) = bench.jobs(1).pop().expect("job");
    let mut core = JobCore::new(config.job.clone(), 64);
    core.send(JobBody::Started);
    let mut connection = Some(bench.runtime.block_on(connect(&config, &key)).expect("connect"));
    let mut group = c.benchmark_group("round_trip");
    group.sample_size(20);
    group.bench_function("one_message", |b| {
        b.iter_custom(|iters| {
            bench.runtime.block_on(async {
                let (mut stream, mut reader, mut transport) = connection.take().expect("connection");
                let mut plain = Vec::new();
                let mut sealed = Vec::new();
                let mut framed = Vec::new();
                let start = Instant::now();
                for _ in 0..iters {
                    core.send(JobBody::Heartbeat);
                    let message = core.poll_transmit().or_else(|| {
                        core.handle_connected();
                        core.poll_transmit()
                    });
                    let message = message.expect("message");
                    plain.clear();
                    message.encode(&mut plain);
                    transport.encrypt(&plain, &mut sealed).expect("encrypt");
                    framed.clear();
                    protocol_net::framing::push_frame(&mut framed, &sealed).expect("frame");
                    tokio::io::AsyncWriteExt::write_all(&mut stream, &framed)
                        .await
                        .expect("write");
                    let reply = reader.read_frame(&mut stream).await.expect("reply");
                    transport.decrypt(&reply, &mut plain).expect("decrypt");
                    let reply = protocol_core::wire::Reply::decode(&plain).expect("decode");
                    core.handle_reply(reply).expect("ack");
                }
                let elapsed = start.elapsed();
                connection = Some((stream, reader, transport));
                elapsed
            })
        });
    });
    group.finish();
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child side of the memory measurement: makes N keys, prints them, waits for "go", connects
/// them all (each sends `started`), prints "connected", and holds until stdin closes.
fn clients_child() {
    let n: usize = std::env::var(CHILD_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut lines = BufReader::new(std::io::stdin()).lines();
    let header = lines.next().and_then(Result::ok).unwrap_or_default();
    let mut parts = header.split_whitespace();
    let address = parts.next().and_then(|a| a.parse().ok()).expect("address");
    let scheduler = PublicKey::from_hex(parts.next().unwrap_or_default()).expect("scheduler key");
    let keys: Vec<StaticKeypair> = (0..n).map(|_| StaticKeypair::generate_from_os()).collect();
    let mut out = std::io::stdout().lock();
    for key in &keys {
        writeln!(out, "{}", key.public().to_hex()).expect("write");
    }
    out.flush().expect("flush");
    let ids: Vec<JobId> = lines
        .by_ref()
        .take(n)
        .map(|l| l.expect("id").parse().expect("job id"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let held = runtime.block_on(async {
        let mut held = Vec::with_capacity(n);
        let mut pending = Vec::new();
        for (id, key) in ids.into_iter().zip(keys) {
            let config = ClientConfig::new(address, scheduler, id.clone());
            pending.push(tokio::spawn(async move {
                let mut connection = connect(&config, &key).await.expect("connect");
                let mut core = JobCore::new(id, 64);
                core.send(JobBody::Started);
                let mut report = ClientReport::default();
                deliver(&mut core, &mut connection, &mut report)
                    .await
                    .expect("connection")
                    .expect("accepted");
                // Returned so the connection stays open while the parent measures.
                connection
            }));
            if pending.len() >= 256 {
                for task in pending.drain(..) {
                    held.push(task.await.expect("join"));
                }
            }
        }
        for task in pending {
            held.push(task.await.expect("join"));
        }
        held
    });
    writeln!(out, "connected {}", held.len()).expect("write");
    out.flush().expect("flush");
    // Hold every connection until the parent closes our stdin.
    for _ in lines {}
    drop(held);
}

fn memory_per_job(n: usize) {
    let bench = Bench::new();
    let handle = bench.scheduler.handle();
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn client process");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    writeln!(
        stdin,
        "{} {}",
        bench.scheduler.local_addr(),
        bench.scheduler.public_key().to_hex()
    )
    .expect("write");
    let before = rss_kib();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let key = PublicKey::from_hex(&stdout.next().expect("key").expect("line")).expect("key");
        let id = JobId::new(workflow(), "1", &format!("m{i}"), 1).expect("valid");
        bench.launcher.preset(&id, *key.as_bytes());
        bench
            .runtime
            .block_on(handle.launch(JobSpec {
                id: id.clone(),
                outputs: BTreeSet::new(),
            }))
            .expect("launch");
        ids.push(id);
    }
    bench.runtime.block_on(wait_launched(&handle, n as u64));
    let registered = rss_kib();
    for id in &ids {
        writeln!(stdin, "{id}").expect("write");
    }
    stdin.flush().expect("flush");
    let done = stdout.next().expect("connected").expect("line");
    let connected = rss_kib();
    let stats = handle.stats();
    drop(stdin);
    let _ = child.wait();
    let per_job = (connected.saturating_sub(before)) as f64 / n as f64;
    let per_conn = (connected.saturating_sub(registered)) as f64 / n as f64;
    println!("memory/{n}_jobs: {done}; accepted {} started messages", stats.accepted);
    println!(
        "memory/{n}_jobs: scheduler RSS {before} KiB idle, {registered} KiB registered, {connected} KiB connected"
    );
    println!(
        "memory/{n}_jobs: {per_job:.1} KiB per registered and connected job ({per_conn:.1} KiB of it the connection); target < 64 KiB: ratio {:.3}",
        per_job / 64.0
    );
}

criterion_group!(benches, throughput, round_trip);

fn main() {
    if std::env::var(CHILD_ENV).is_ok() {
        clients_child();
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let only_memory = args.iter().any(|a| a == "memory");
    if !only_memory {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    if only_memory || args.len() <= 2 {
        memory_per_job(10_000);
    }
}
