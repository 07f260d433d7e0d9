//! A bounded load run against the real hub: how a legitimate user is served while floods run.
//!
//! ```sh
//! scripts/hub-load.sh                     # builds, raises the fd limit, runs this, prints figures
//! hub_load --hub target/release/threatcheck-server [--seconds 8] [-- WRAPPER…]
//! ```
//!
//! It writes a hub configuration into a temporary directory (one account, `alice`, hashed with
//! the production argon2id parameters and made an operator; generous per-source request limits
//! so that the request limiter is not what is measured; login limits, the password pool,
//! back-off, connection limits and the defender left at the hub's defaults, i.e. not written),
//! starts `threatcheck-server hub` as a child process on 127.0.0.1 and runs four phases, each
//! bounded in count and time:
//!
//! 1. quiet: the legitimate user alone;
//! 2. login flood: 64 parallel wrong-password logins in a loop, each from its own source
//!    address (127.10-14.X.Y, at most 300,000 attempts), with the hub's memory read from
//!    `/proc/PID/status`; the answers are counted by status (401 checked, 429 rate-limited or
//!    backing off, 503 password pool busy);
//!    2b. the same flood against the floor: a do-nothing HTTP/1.1 server in a child process
//!    (429 to every login at once, `200 {}` to `GET /me`), so that the hub's p95 under the
//!    flood is also given as a ratio to what any HTTP server suffers on these cores;
//! 3. slow connections: 1,500 connections (127.20.X.Y) that each send a partial request header a
//!    few bytes a second, held for the phase, which measures at least 15 s so that the hub's
//!    default 10 s header timeout is exercised; it reports how many the hub closed and how many
//!    connect attempts failed;
//! 4. silent sockets: a second hub, started as `WRAPPER… threatcheck-server hub …` (the wrapper
//!    must leave the hub with a 1,024 open-file limit and `exec` it, e.g. `prlimit
//!    --nofile=1024:1024 --`), and 1,100 connections (127.30.X.Y) that send nothing; it reports
//!    how many stayed open to the phase's end.
//!
//! The legitimate user (source 127.0.0.1) logs in once per hub with a bearer token and then
//! sends `GET /me` sequentially for the phase's duration: a new TCP connection per request
//! (`Connection: close`), at most one request started per 5 ms, each bounded by a 10 s timeout.
//! Latency percentiles are over every attempt; a failed attempt counts at the time it took
//! (a timeout at 10 s). Network errors are counted per phase, never panicked on. A second
//! session of the same account, elevated to `execute`, reads `/operator/status` around phases
//! 2, 3 and 4 (the login and connection counters; a hub without them says so). Every socket
//! is closed and every hub child is stopped (and killed on drop) before the program ends.
//! With the default 8 s phases a run takes about a minute (phase 3 measures 15 s); with
//! `--seconds 30` about two and a half minutes.
//!
//! Exit status: 0 when the run completed (whatever the figures), 1 when the hub could not be
//! started, the legitimate user could not log in or be served in the quiet phase, or a hub
//! died during the run; 2 for bad arguments.

mod floods;
mod floor;
mod http;
mod hub;
mod legit;
mod operator;
mod phases;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::floods::{SILENT_SOCKETS, SLOW_CONNECTIONS};
use crate::hub::{Hub, nofile_limit, write_config};
use crate::legit::{PACE, REQUEST_TIMEOUT, log_in};
use crate::operator::Operator;
use crate::phases::SecondHub;
use crate::report::{Row, ms, print_summary};

/// The one account: the legitimate user, the flood's target and the operator.
const USER: &str = "alice";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    // The floor server of phase 2b runs as a child of this same program.
    if std::env::args().nth(1).as_deref() == Some("--floor-server") {
        return match floor::serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hub_load --floor-server: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let args = match Args::parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hub_load: {e}");
            eprintln!("usage: hub_load --hub PATH [--seconds N] [-- WRAPPER…]");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("hub-load: ERROR: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[derive(Debug)]
struct Args {
    hub: PathBuf,
    seconds: u64,
    wrapper: Vec<String>,
}

impl Args {
    fn parse(argv: Vec<String>) -> Result<Self, String> {
        let mut hub = None;
        let mut seconds = 8;
        let mut wrapper = Vec::new();
        let mut it = argv.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--hub" => hub = Some(PathBuf::from(it.next().ok_or("--hub needs a path")?)),
                "--seconds" => {
                    let v = it.next().ok_or("--seconds needs a number")?;
                    seconds = v.parse().map_err(|_| format!("--seconds {v:?}: not a number"))?;
                    if !(1..=30).contains(&seconds) {
                        return Err("--seconds must be within 1..=30".into());
                    }
                }
                "--" => {
                    wrapper = it.by_ref().collect();
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let hub = hub.ok_or("--hub is required")?;
        Ok(Self { hub, seconds, wrapper })
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "hub-load: machine: nproc {nproc}, /proc/loadavg at start: {}",
        loadavg.trim()
    );
    if let Some((soft, hard)) = nofile_limit("self") {
        println!("hub-load: load generator open-file limit: soft {soft}, hard {hard}");
        if soft
            .parse::<u64>()
            .is_ok_and(|s| s < SLOW_CONNECTIONS + SILENT_SOCKETS + 100)
        {
            println!(
                "hub-load: ERROR: the load generator needs more than {} open files (raise `ulimit -n`)",
                SLOW_CONNECTIONS + SILENT_SOCKETS + 100
            );
        }
    }

    let hub_bin = std::fs::canonicalize(&args.hub).with_context(|| format!("{}", args.hub.display()))?;
    let version = std::process::Command::new(&hub_bin)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", hub_bin.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    println!("hub-load: hub binary: {} ({version})", hub_bin.display());
    let allow = version.contains("VERIFICATION BUILD");
    if allow {
        println!(
            "hub-load: WARNING: this is a VERIFICATION BUILD of threatcheck-server; running it with \
             THREATCHECK_ALLOW_VERIFICATION_BUILD=1 (figures may differ from the deployed build)"
        );
    }

    let tmp = tempfile::tempdir()?;
    let mut raw = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let config = write_config(tmp.path(), &hub_bin, &password)?;
    let duration = Duration::from_secs(args.seconds);
    println!(
        "hub-load: legitimate user: source 127.0.0.1, bearer token, sequential GET /me over a NEW TCP \
         connection per request (Connection: close), at most one started per {} ms, {} s per phase, {} s \
         timeout; percentiles over every attempt (a failure counts at the time it took)",
        PACE.as_millis(),
        duration.as_secs(),
        REQUEST_TIMEOUT.as_secs()
    );

    let mut hub = Hub::start(&[], &hub_bin, &config, &tmp.path().join("hub-a.log"), allow)
        .await
        .context("phase 1: the hub could not start")?;
    let to = hub.address;
    let (soft, hard) = nofile_limit(&hub.pid.to_string()).unwrap_or_default();
    println!(
        "hub-load: hub A: pid {}, {to}, open-file limit soft {soft} hard {hard}",
        hub.pid
    );
    let (token, login_took) = log_in(to, &password)
        .await
        .context("phase 1: the legitimate user could not log in")?;
    println!("hub-load: legitimate login (quiet): {:.1} ms", ms(login_took));
    let op = Operator::try_start("hub-load: hub A ", to, &password).await;

    let quiet = phases::quiet(&mut hub, &token, duration).await?;
    let mut rows = vec![Row {
        name: "quiet",
        legit: quiet.clone(),
        verdict: None,
    }];
    let login = phases::login_flood_phase(&mut hub, &token, duration, &quiet, op.as_ref()).await?;
    floor::login_flood_against_floor(duration, &token, &login.legit).await?;
    rows.push(login);
    rows.push(phases::slow_connections(&mut hub, &token, duration, &quiet, op.as_ref()).await?);
    println!("    hub A {}", hub.stop().await);

    let second = SecondHub {
        wrapper: &args.wrapper,
        bin: &hub_bin,
        config: &config,
        log: &tmp.path().join("hub-b.log"),
        allow,
        password: &password,
    };
    if let Some(row) = phases::silent_sockets(&second, duration, &quiet).await? {
        rows.push(row);
    }

    print_summary(&rows);
    println!("hub-load: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
