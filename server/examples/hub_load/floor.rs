//! The floor the login flood is compared with: the cheapest HTTP/1.1 service this machine can
//! run, in a child process of its own like the hub. It reads each request's head (and a body
//! up to its `Content-Length`), answers `POST /login` with an immediate `429` and anything else
//! with `200 {}`, and closes the connection. No TLS, no parsing beyond that, no password work,
//! no state: what the legitimate user suffers against it under the same flood is what TCP and
//! HTTP on shared cores cost, which no hub can go below.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use crate::floods::{WARM_UP, close_all, login_flood};
use crate::legit::{Legit, legit_user};
use crate::report::{Tally, legit_line, ms};

/// The largest request head the floor reads.
const MAX_HEAD: usize = 16 * 1024;
/// How long the floor waits for one request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves on 127.0.0.1 until standard input closes (`hub_load --floor-server`); prints
/// `listening ADDR` first.
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    let stop = tokio::spawn(async {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    });
    tokio::select! {
        () = async {
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream)).await;
                    });
                }
            }
        } => {}
        _ = stop => {}
    }
    Ok(())
}

async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 2048];
    let end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            return Ok(());
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_HEAD);
    let mut have = head.len() - end;
    while have < length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let reply: &[u8] = if text.starts_with("post /login") {
        b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    } else {
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
    };
    stream.write_all(reply).await?;
    stream.shutdown().await
}

/// The floor server as a child process; killed when dropped.
pub struct Floor {
    pub address: SocketAddr,
    child: Child,
}

impl Floor {
    /// Starts `this_program --floor-server` and reads where it listens.
    pub async fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("--floor-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the floor server")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), BufReader::new(stdout).read_line(&mut line))
            .await
            .context("the floor server did not say where it listens")??;
        let address = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("the floor server said {line:?}"))?;
        Ok(Self { address, child })
    }

    /// Stops it (closing its standard input, then killing it).
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Phase 2b: the login flood of phase 2, unchanged, against the floor instead of the hub.
/// Prints the floor's own quiet and flood figures and the hub's flood p95 over the floor's:
/// how much of the hub's slowdown is the hub's and how much any HTTP server's here.
pub async fn login_flood_against_floor(duration: Duration, token: &str, hub_flood: &Legit) -> anyhow::Result<()> {
    println!(
        "\n[2b] the same login flood against the floor (a do-nothing HTTP/1.1 server in its own process: \
         429 to every login, 200 {{}} to GET /me, connection closed)"
    );
    let floor = Floor::start().await?;
    let quiet = legit_user(floor.address, token, duration).await;
    println!("    floor, quiet: {}", legit_line(&quiet));
    let tally = Tally::default();
    let next = Arc::new(AtomicU64::new(0));
    let capped_at_ms = Arc::new(AtomicU64::new(u64::MAX));
    let start = Instant::now();
    let mut set = JoinSet::new();
    login_flood(
        &mut set,
        floor.address,
        (start, start + WARM_UP + duration),
        &next,
        &capped_at_ms,
        &tally,
    );
    tokio::time::sleep(WARM_UP).await;
    let flood = legit_user(floor.address, token, duration).await;
    let secs = start.elapsed().as_secs_f64();
    close_all(set).await;
    floor.stop().await;
    let answered = tally.answered();
    #[allow(clippy::cast_precision_loss)]
    let rate = answered as f64 / secs;
    println!("    floor, flood: {}", legit_line(&flood));
    println!("    the floor answered {answered} flood attempts ({rate:.0}/s)");
    let p95 = |l: &Legit| l.percentile(0.95).map(ms);
    match (p95(&quiet), p95(&flood), p95(hub_flood)) {
        (Some(q), Some(f), Some(h)) if q > 0.0 && f > 0.0 => println!(
            "    p95 under the flood: floor {f:.2} ms ({:.1}x its quiet {q:.2} ms); hub {h:.2} ms = {:.1}x the floor's",
            f / q,
            h / f
        ),
        _ => println!("    p95 not comparable: a run without completed requests"),
    }
    Ok(())
}
