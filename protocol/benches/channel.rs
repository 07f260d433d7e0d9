//! The job channel over loopback, end to end: every figure includes Noise encryption both ways,
//! the acceptance pipeline, and an `fdatasync`ed group commit before each acknowledgement.
//!
//! - `throughput/{1,100,1000}_jobs`: accepted, durably logged, acknowledged messages per second
//!   with that many jobs sending at once (connections made before the clock starts).
//! - `round_trip/one_message`: one message and its acknowledgement on an idle scheduler (one
//!   fsync each).
//! - after criterion (or alone: `-- memory`): heap bytes per registered and connected job at
//!   1,000 and at 10,000 jobs. Each point runs in a fresh process of this binary (so nothing an
//!   earlier benchmark allocated and freed skews it), the scheduler's live heap is read from an
//!   instrumented allocator (bytes allocated less bytes freed: exact, unlike RSS, which the
//!   allocator does not return), and the jobs' clients run in yet another process, so each
//!   process stays within its descriptor limit and only the scheduler's memory is counted.
//!   A figure that comes out zero or negative is reported as a failed measurement (exit 1),
//!   never printed as a result; RSS is printed beside it for context.

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
/// Set in the fresh process that measures one memory point (the number of jobs).
const POINT_ENV: &str = "THREATCHECK_BENCH_MEMORY_POINT";
/// The memory points.
const POINTS: [usize; 2] = [1_000, 10_000];

/// Counts every allocation, so the live heap is known exactly.
#[global_allocator]
static HEAP: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed.
fn live_heap() -> i128 {
    let s = HEAP.stats();
    s.bytes_allocated as i128 - s.bytes_deallocated as i128 + s.bytes_reallocated as i128
}

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

/// One memory point, in this (fresh) process: prints its figures and returns heap bytes per
/// job, or exits 1 when the measurement cannot be right (not every job connected, or a figure
/// at or below zero).
fn memory_point(n: usize) {
    let bench = Bench::new();
    let handle = bench.scheduler.handle();
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, n.to_string())
        .env_remove(POINT_ENV)
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
    let keys: Vec<PublicKey> = (0..n)
        .map(|_| PublicKey::from_hex(&stdout.next().expect("key").expect("line")).expect("key"))
        .collect();
    let ids: Vec<JobId> = (0..n)
        .map(|i| JobId::new(workflow(), "1", &format!("m{i}"), 1).expect("valid"))
        .collect();
    // Idle: the scheduler running, the inputs of the measurement already allocated.
    let (heap_idle, rss_idle) = (live_heap(), rss_kib());
    for (id, key) in ids.iter().zip(&keys) {
        bench.launcher.preset(id, *key.as_bytes());
        bench
            .runtime
            .block_on(handle.launch(JobSpec {
                id: id.clone(),
                outputs: BTreeSet::new(),
            }))
            .expect("launch");
    }
    bench.runtime.block_on(wait_launched(&handle, n as u64));
    let (heap_registered, rss_registered) = (live_heap(), rss_kib());
    for id in &ids {
        writeln!(stdin, "{id}").expect("write");
    }
    stdin.flush().expect("flush");
    let done = stdout.next().expect("connected").expect("line");
    let (heap_connected, rss_connected) = (live_heap(), rss_kib());
    let stats = handle.stats();
    drop(stdin);
    let _ = child.wait();
    let per_job = (heap_connected - heap_idle) as f64 / n as f64;
    let per_conn = (heap_connected - heap_registered) as f64 / n as f64;
    println!("memory/{n}_jobs: {done}; accepted {} started messages", stats.accepted);
    println!(
        "memory/{n}_jobs: scheduler heap {heap_idle} B idle, {heap_registered} B registered, {heap_connected} B connected (RSS {rss_idle} / {rss_registered} / {rss_connected} KiB)"
    );
    let all_connected = done == format!("connected {n}") && stats.accepted >= n as u64;
    if !all_connected || per_job <= 0.0 || per_conn <= 0.0 {
        println!(
            "memory/{n}_jobs: MEASUREMENT FAILED (per job {per_job:.0} B, per connection {per_conn:.0} B, {done})"
        );
        std::process::exit(1);
    }
    println!(
        "memory/{n}_jobs: {per_job:.0} B ({:.1} KiB) per registered and connected job, {per_conn:.0} B of it the connection; target < 64 KiB: ratio {:.3}",
        per_job / 1024.0,
        per_job / 1024.0 / 64.0
    );
}

/// Every memory point, each in a fresh process of this binary; then 10,000 against 1,000.
fn memory_per_job() {
    let exe = std::env::current_exe().expect("exe");
    let mut per_job = Vec::new();
    for n in POINTS {
        let out = Command::new(&exe)
            .env(POINT_ENV, n.to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("spawn memory point");
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        if !out.status.success() {
            eprintln!("memory/{n}_jobs: the measurement failed");
            std::process::exit(1);
        }
        let bytes = text.lines().find_map(|l| {
            l.split_once(" B (")
                .and_then(|(head, _)| head.rsplit(' ').next()?.parse::<f64>().ok())
        });
        per_job.push((n, bytes));
    }
    if let [(a, Some(x)), (b, Some(y))] = per_job.as_slice() {
        println!(
            "memory: per job at {b} jobs / at {a} jobs = {:.2} (1.00: memory grows linearly with jobs)",
            y / x
        );
    }
}

criterion_group!(benches, throughput, round_trip);

fn main() {
    if std::env::var(CHILD_ENV).is_ok() {
        clients_child();
        return;
    }
    if let Some(n) = std::env::var(POINT_ENV).ok().and_then(|v| v.parse().ok()) {
        memory_point(n);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let only_memory = args.iter().any(|a| a == "memory");
    if !only_memory {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    if only_memory || args.len() <= 2 {
        memory_per_job();
    }
}
