//! The four phases, each bounded in count and time and each printing its own lines: quiet
//! (the legitimate user alone), the login flood (with the hub's memory sampled from `/proc`
//! and the flood's answers split into wrong-password, rate-limited/back-off and busy), slow
//! connections (held past the hub's header timeout) and silent sockets against a second hub
//! limited to 1,024 open files. Every phase but the first returns its summary row with the
//! verdict against the quiet phase; phases 3 and 4 also say what became of their connections
//! and print the hub's own connection counters when an operator session is available.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::USER;
use crate::floods::{
    Conns, LOGIN_LAST_OCTET, LOGIN_MAX_ATTEMPTS, LOGIN_OCTET, LOGIN_WORKERS, SILENT_OCTET, SILENT_SOCKETS,
    SLOW_BYTES_PER_TICK, SLOW_CONNECTIONS, SLOW_OCTET, SLOW_TICK, WARM_UP, close_all, hold_connections, login_flood,
    ramp,
};
use crate::hub::{Hub, Mem, nofile_limit, open_fds, read_mem, settle};
use crate::legit::{Legit, legit_user, log_in, probe};
use crate::operator::{CONNECTION_COUNTERS, LOGIN_COUNTERS, Operator, print_counters, status_of};
use crate::report::{
    Row, TARGET_PEAK_MIB, Tally, fmt_count, held_lines, legit_line, login_answers_line, mib, print_verdict, show_counts,
};

/// The phase-4 hub's quiet baseline.
const BASELINE: Duration = Duration::from_secs(3);
/// The slow-connection phase measures at least this long: past the hub's default 10 s header
/// timeout, so that the timeout is exercised.
const SLOW_MIN: Duration = Duration::from_secs(15);
const LIMITED_NOFILE: u64 = 1_024;

/// Phase 1: the legitimate user alone. `Err` if it was not served at all.
pub async fn quiet(hub: &mut Hub, token: &str, duration: Duration) -> anyhow::Result<Legit> {
    println!("\n[1] quiet");
    let quiet = legit_user(hub.address, token, duration).await;
    println!("    legitimate user: {}", legit_line(&quiet));
    hub.alive()?;
    if quiet.completed == 0 {
        anyhow::bail!("phase 1: the legitimate user was not served at all in the quiet phase");
    }
    Ok(quiet)
}

/// Phase 2: 64 parallel wrong-password logins, a new source per attempt.
#[allow(clippy::too_many_lines)]
pub async fn login_flood_phase(
    hub: &mut Hub,
    token: &str,
    duration: Duration,
    quiet: &Legit,
    op: Option<&Operator>,
) -> anyhow::Result<Row> {
    let to = hub.address;
    let pid = hub.pid;
    let before = read_mem(pid).unwrap_or_default();
    let status_before = status_of(op).await;
    println!(
        "\n[2] login flood: {LOGIN_WORKERS} parallel wrong-password logins for {USER}, a new source \
         127.{LOGIN_OCTET}-{LOGIN_LAST_OCTET}.X.Y per attempt, at most {LOGIN_MAX_ATTEMPTS} attempts, {} s warm-up",
        WARM_UP.as_secs()
    );
    let tally = Tally::default();
    let next = Arc::new(AtomicU64::new(0));
    let capped_at_ms = Arc::new(AtomicU64::new(u64::MAX));
    let flood_start = Instant::now();
    let mut set = JoinSet::new();
    let window = (flood_start, flood_start + WARM_UP + duration);
    login_flood(&mut set, to, window, &next, &capped_at_ms, &tally);
    let sampler_stop = Arc::new(AtomicU64::new(0));
    let sampler = {
        let stop = Arc::clone(&sampler_stop);
        tokio::spawn(async move {
            let mut peak = Mem::default();
            while stop.load(Ordering::Relaxed) == 0 {
                if let Some(m) = read_mem(pid) {
                    peak.rss_kib = peak.rss_kib.max(m.rss_kib);
                    peak.hwm_kib = peak.hwm_kib.max(m.hwm_kib);
                    peak.threads = peak.threads.max(m.threads);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    };
    tokio::time::sleep(WARM_UP).await;
    let flood = legit_user(to, token, duration).await;
    let flood_secs = flood_start.elapsed().as_secs_f64();
    let in_flight_end = read_mem(pid).unwrap_or_default();
    sampler_stop.store(1, Ordering::Relaxed);
    let peak = sampler.await.unwrap_or_default();
    close_all(set).await;
    let attempts = next.load(Ordering::Relaxed).min(LOGIN_MAX_ATTEMPTS);
    let answers = tally.snapshot();
    let answered = tally.answered();
    #[allow(clippy::cast_precision_loss)]
    let rate = answered as f64 / flood_secs;
    println!(
        "    flood: {attempts} attempts started in {flood_secs:.1} s, {answered} answered ({rate:.1}/s); outcomes: {}; \
         the rest were cut off at the phase's end",
        show_counts(&answers)
    );
    println!("    flood answers: {}", login_answers_line(&answers));
    let capped = capped_at_ms.load(Ordering::Relaxed);
    if capped != u64::MAX {
        #[allow(clippy::cast_precision_loss)]
        let at = capped as f64 / 1000.0;
        println!("    NOTE: the attempt cap ({LOGIN_MAX_ATTEMPTS}) was reached after {at:.1} s: the flood ended early");
    }
    let v = print_verdict(quiet, &flood);
    let settled = settle(pid).await;
    hub.alive()?;
    let after = read_mem(pid).unwrap_or_default();
    let peak_kib = peak.hwm_kib.max(after.hwm_kib);
    println!(
        "    hub memory: before VmRSS {:.1} MiB / VmHWM {:.1} MiB; during: max VmRSS {:.1} MiB, max threads {}; at the \
         phase's end VmRSS {:.1} MiB; after settling ({:.1} s): VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        mib(before.rss_kib),
        mib(before.hwm_kib),
        mib(peak.rss_kib),
        peak.threads,
        mib(in_flight_end.rss_kib),
        settled.as_secs_f64(),
        mib(after.rss_kib),
        mib(after.hwm_kib)
    );
    println!(
        "    hub peak memory (VmHWM) {:.1} MiB; target < {TARGET_PEAK_MIB} MiB: {}",
        mib(peak_kib),
        if mib(peak_kib) < TARGET_PEAK_MIB {
            "PASS"
        } else {
            "MISS"
        }
    );
    println!("    after the flood: GET /me {}", probe(to, token).await);
    let status_after = status_of(op).await;
    print_counters(
        "hub login counters (/operator/status; in brackets: this phase)",
        status_before.as_ref(),
        status_after.as_ref(),
        None,
        &LOGIN_COUNTERS,
    );
    Ok(Row {
        name: "login flood",
        legit: flood,
        verdict: Some(v),
    })
}

/// Phase 3: 1,500 connections each sending a partial header a few bytes a second, held for at
/// least [`SLOW_MIN`] of measuring.
pub async fn slow_connections(
    hub: &mut Hub,
    token: &str,
    duration: Duration,
    quiet: &Legit,
    op: Option<&Operator>,
) -> anyhow::Result<Row> {
    let to = hub.address;
    let pid = hub.pid;
    let measure = duration.max(SLOW_MIN);
    println!(
        "\n[3] slow connections: {SLOW_CONNECTIONS} connections from 127.{SLOW_OCTET}.X.Y, each sending a partial \
         request header {SLOW_BYTES_PER_TICK} bytes every {} s, held for the phase",
        SLOW_TICK.as_secs()
    );
    println!(
        "    the legitimate user is measured for {} s here (at least {} s: past the hub's default 10 s header timeout)",
        measure.as_secs(),
        SLOW_MIN.as_secs()
    );
    let status_before = status_of(op).await;
    let tally = Tally::default();
    let conns = Arc::new(Conns::default());
    let mut set = JoinSet::new();
    let first_connect = Instant::now();
    hold_connections(&mut set, to, SLOW_CONNECTIONS, SLOW_OCTET, true, &conns, &tally);
    let ramp_took = ramp(&conns, SLOW_CONNECTIONS).await;
    println!(
        "    {} of {SLOW_CONNECTIONS} connected ({:.1} s); hub open fds {}",
        conns.connected.load(Ordering::Relaxed),
        ramp_took.as_secs_f64(),
        fmt_count(open_fds(pid))
    );
    let slow = legit_user(to, token, measure).await;
    let still_open = conns.open.load(Ordering::Relaxed);
    let ended = tally.snapshot();
    let secs = first_connect.elapsed().as_secs_f64();
    let fds = open_fds(pid);
    let status_end = status_of(op).await;
    close_all(set).await;
    println!(
        "    at the phase's end: {still_open} still open, hub open fds {}; ended early / errors: {}",
        fmt_count(fds),
        show_counts(&ended)
    );
    let connected = conns.connected.load(Ordering::Relaxed);
    for line in held_lines(SLOW_CONNECTIONS, connected, still_open, &ended, secs) {
        println!("    {line}");
    }
    print_counters(
        "hub connection counters at the phase's end (/operator/status; in brackets: this phase)",
        status_before.as_ref(),
        status_end.as_ref(),
        Some("connections"),
        &CONNECTION_COUNTERS,
    );
    let v = print_verdict(quiet, &slow);
    let settled = settle(pid).await;
    hub.alive()?;
    println!(
        "    after closing them ({:.1} s to idle): GET /me {}",
        settled.as_secs_f64(),
        probe(to, token).await
    );
    Ok(Row {
        name: "slow connections",
        legit: slow,
        verdict: Some(v),
    })
}

/// What phase 4 needs to start its own hub.
#[derive(Debug)]
pub struct SecondHub<'a> {
    pub wrapper: &'a [String],
    pub bin: &'a Path,
    pub config: &'a Path,
    pub log: &'a Path,
    pub allow: bool,
    pub password: &'a str,
}

/// Phase 4: a second hub behind the wrapper (1,024 open files), 1,100 silent sockets.
/// `None` when no wrapper was given (the phase is skipped).
#[allow(clippy::too_many_lines)]
pub async fn silent_sockets(b: &SecondHub<'_>, duration: Duration, quiet: &Legit) -> anyhow::Result<Option<Row>> {
    println!(
        "\n[4] silent sockets: {SILENT_SOCKETS} connections from 127.{SILENT_OCTET}.X.Y that send nothing, against a \
         second hub limited to {LIMITED_NOFILE} open files"
    );
    if b.wrapper.is_empty() {
        println!("    SKIPPED: no wrapper given after `--` to limit the hub's open files");
        return Ok(None);
    }
    println!(
        "    hub B started as: {} {} hub …",
        b.wrapper.join(" "),
        b.bin.display()
    );
    let mut hub = Hub::start(b.wrapper, b.bin, b.config, b.log, b.allow)
        .await
        .context("phase 4: the limited hub could not start")?;
    let to = hub.address;
    let pid = hub.pid;
    let (soft, hard) = nofile_limit(&pid.to_string()).unwrap_or_default();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    println!(
        "    hub B: pid {pid} ({}), {to}, open-file limit soft {soft} hard {hard}",
        comm.trim()
    );
    if soft != LIMITED_NOFILE.to_string() || !comm.starts_with("threatcheck") {
        println!(
            "    WARNING: the wrapper did not leave the hub itself with a {LIMITED_NOFILE} open-file limit \
             (pid {pid} is {:?} with soft limit {soft})",
            comm.trim()
        );
    }
    let (token, _) = log_in(to, b.password)
        .await
        .context("phase 4: the legitimate user could not log in to the limited hub")?;
    let op = Operator::try_start("    hub B ", to, b.password).await;
    let baseline = legit_user(to, &token, BASELINE).await;
    println!(
        "    hub B quiet baseline ({} s): {}",
        BASELINE.as_secs(),
        legit_line(&baseline)
    );
    let status_before = status_of(op.as_ref()).await;
    let tally = Tally::default();
    let conns = Arc::new(Conns::default());
    let mut set = JoinSet::new();
    let first_connect = Instant::now();
    hold_connections(&mut set, to, SILENT_SOCKETS, SILENT_OCTET, false, &conns, &tally);
    let ramp_took = ramp(&conns, SILENT_SOCKETS).await;
    println!(
        "    {} of {SILENT_SOCKETS} connected ({:.1} s; a connection the hub cannot accept still completes \
         in the kernel's backlog); hub open fds {}",
        conns.connected.load(Ordering::Relaxed),
        ramp_took.as_secs_f64(),
        fmt_count(open_fds(pid))
    );
    let silent = legit_user(to, &token, duration).await;
    let still_open = conns.open.load(Ordering::Relaxed);
    let ended = tally.snapshot();
    let secs = first_connect.elapsed().as_secs_f64();
    let fds = open_fds(pid);
    let status_end = status_of(op.as_ref()).await;
    close_all(set).await;
    println!(
        "    at the phase's end: {still_open} still open, hub open fds {}; ended early / errors: {}",
        fmt_count(fds),
        show_counts(&ended)
    );
    let connected = conns.connected.load(Ordering::Relaxed);
    for line in held_lines(SILENT_SOCKETS, connected, still_open, &ended, secs) {
        println!("    {line}");
    }
    print_counters(
        "hub B connection counters at the phase's end (/operator/status; in brackets: this phase)",
        status_before.as_ref(),
        status_end.as_ref(),
        Some("connections"),
        &CONNECTION_COUNTERS,
    );
    let v = print_verdict(quiet, &silent);
    tokio::time::sleep(Duration::from_secs(1)).await;
    hub.alive()?;
    println!("    after closing them: GET /me {}", probe(to, &token).await);
    let log = std::fs::read_to_string(&hub.log).unwrap_or_default();
    let emfile = log
        .lines()
        .filter(|l| l.contains("Too many open files") || l.contains("os error 24"))
        .count();
    println!("    hub B log lines mentioning EMFILE (a failing accept): {emfile}");
    // A hub with its own accept loop logs only the error's kind.
    let accept_failed = log.lines().filter(|l| l.contains("accept failed")).count();
    println!("    hub B log lines saying \"accept failed\": {accept_failed}");
    println!("    hub B {}", hub.stop().await);
    Ok(Some(Row {
        name: "silent sockets (1024 fds)",
        legit: silent,
        verdict: Some(v),
    }))
}
