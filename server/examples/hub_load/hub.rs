//! The hub under test: its generated configuration (one account, production argon2id
//! parameters, generous request limits, everything else at the hub's defaults), the
//! `threatcheck-server hub` child process (started, optionally behind a wrapper, asked where it
//! listens, checked alive, stopped by closing its stdin and killed on drop), and what `/proc`
//! says about it: memory, CPU time, open descriptors and the open-file limit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use protocol_people::audit::AuditKey;
use protocol_people::session::{HashParams, hash_password};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::USER;
use crate::report::ms;

/// How long a hub may take to say where it listens.
const HUB_START_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest wait for the hub to go idle after a phase.
const SETTLE_MAX: Duration = Duration::from_secs(30);

/// Writes the user file, audit key and `hub.toml` into `dir`; returns the configuration's path.
pub fn write_config(dir: &Path, hub_bin: &Path, password: &str) -> anyhow::Result<PathBuf> {
    let t0 = Instant::now();
    let phc = hash_password(password, HashParams::PRODUCTION, &mut rand_core::OsRng)?;
    let p = HashParams::PRODUCTION;
    println!(
        "hub-load: user file: 1 account ({USER}), argon2id production parameters (m={} KiB, t={}, p={}); one hash took {:.0} ms here",
        p.m_cost_kib,
        p.t_cost,
        p.p_cost,
        ms(t0.elapsed())
    );
    std::fs::write(dir.join("users.toml"), format!("[users]\n{USER} = \"{phc}\"\n"))?;
    AuditKey::create_file(&dir.join("audit.key"), &mut rand_core::OsRng)?;
    std::fs::create_dir_all(dir.join("runs"))?;
    std::fs::create_dir_all(dir.join("audit"))?;
    let program = serde_json::to_string(&hub_bin.display().to_string())?;
    // `[connections]`, `[backoff]`, the password pool and the defender are left out, so each
    // hub measured runs its own defaults (an older hub refuses keys it does not know).
    let config = format!(
        "listen = \"127.0.0.1:0\"\n\
         users = \"users.toml\"\n\
         audit_log = \"audit/hub.log\"\n\
         audit_key = \"audit.key\"\n\
         runs = \"runs\"\n\
         owners = [\"{USER}\"]\n\
         # The load generator reads /operator/status with an elevated session of this account.\n\
         operators = [\"{USER}\"]\n\
         \n\
         [uiserver]\n\
         program = {program}\n\
         args = [\"uiserver\"]\n\
         \n\
         # Generous per-source request limits: the legitimate user's ~200 requests a second must\n\
         # not be what is measured. Login limits stay at their defaults.\n\
         [limits]\n\
         requests_per_second = 100000\n\
         request_burst = 100000\n"
    );
    println!(
        "hub-load: hub config: {USER} an owner and an operator; per-source request limits raised (100000/s); login \
         limits, password pool, back-off, connection limits and defender left to the hub's defaults"
    );
    let path = dir.join("hub.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// A running `threatcheck-server hub` child.
#[derive(Debug)]
pub struct Hub {
    child: Child,
    stdin: Option<ChildStdin>,
    pub pid: u32,
    pub address: SocketAddr,
    pub log: PathBuf,
}

impl Hub {
    pub async fn start(prefix: &[String], bin: &Path, config: &Path, log: &Path, allow: bool) -> anyhow::Result<Self> {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.arg("hub")
            .arg("--config")
            .arg(config)
            .arg("--until-stdin-closes")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        if allow {
            cmd.env("THREATCHECK_ALLOW_VERIFICATION_BUILD", "1");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting the hub ({})", bin.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("the hub exited at once"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no hub stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(HUB_START_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(l))) => l,
            Ok(Ok(None) | Err(_)) => {
                let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                anyhow::bail!(
                    "the hub did not start (exit {:?}); its log ends:\n{}",
                    status.ok().and_then(Result::ok),
                    log_tail(log, 15)
                );
            }
            Err(_) => anyhow::bail!(
                "the hub did not say where it listens within {HUB_START_TIMEOUT:?}; its log ends:\n{}",
                log_tail(log, 15)
            ),
        };
        let v: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("the hub's first line is not JSON: {line:?}"))?;
        let address: SocketAddr = v
            .get("address")
            .and_then(serde_json::Value::as_str)
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("the hub's first line names no address: {line:?}"))?;
        if !address.ip().is_loopback() {
            anyhow::bail!("the hub listens on {address}, not loopback");
        }
        // Drain anything else the hub prints, until it exits.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let stdin = child.stdin.take();
        Ok(Self {
            child,
            stdin,
            pid,
            address,
            log: log.to_owned(),
        })
    }

    /// `Err` with the exit status and log tail if the hub is gone.
    pub fn alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => anyhow::bail!(
                "the hub (pid {}) died: {status}; its log ends:\n{}",
                self.pid,
                log_tail(&self.log, 15)
            ),
            Err(e) => anyhow::bail!("cannot check the hub: {e}"),
        }
    }

    /// Closes its stdin (it stops), or kills it after 3 s.
    pub async fn stop(mut self) -> String {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await {
            Ok(Ok(s)) => format!("stopped ({s})"),
            _ => {
                let _ = self.child.start_kill();
                let s = tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await;
                format!("killed ({:?})", s.ok().and_then(Result::ok))
            }
        }
    }
}

fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines.get(lines.len().saturating_sub(n)..).unwrap_or_default();
    tail.iter()
        .map(|l| format!("      | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub threads: u64,
}

pub fn read_mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
        threads: field("Threads:").unwrap_or(0),
    })
}

/// utime + stime in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command: field 3 (state) is f[0]; utime (14) and stime (15) are f[11], f[12].
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(Iterator::count)
}

/// `(soft, hard)` of "Max open files".
pub fn nofile_limit(pid: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let rest = text.lines().find_map(|l| l.strip_prefix("Max open files"))?;
    let mut it = rest.split_whitespace();
    Some((it.next()?.to_owned(), it.next()?.to_owned()))
}

/// Waits until the hub uses under 10 % of a core over half a second (USER_HZ = 100 assumed).
pub async fn settle(pid: u32) -> Duration {
    let t0 = Instant::now();
    let mut before = cpu_ticks(pid);
    while t0.elapsed() < SETTLE_MAX {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_ticks(pid);
        match (before, now) {
            (Some(b), Some(n)) if n.saturating_sub(b) <= 5 => break,
            (_, None) => break,
            _ => {}
        }
        before = now;
    }
    t0.elapsed()
}
