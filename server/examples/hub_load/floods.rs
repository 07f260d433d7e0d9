//! The attack traffic, bounded in count and time: phase 2's wrong-password login workers
//! (a new source address per attempt, capped in attempts), and phases 3 and 4's held
//! connections (slow partial headers or silent sockets, one source address each) with the
//! counters of how many connected and are still open, the wait for them to ramp up, and the
//! teardown that closes every socket a phase opened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinSet;

use crate::http::{ADDRESSES_PER_OCTET, connect_from, io_kind, login_request, request, source_ip};
use crate::report::Tally;

/// Flood traffic runs this long before the legitimate user is measured.
pub const WARM_UP: Duration = Duration::from_secs(1);

pub const LOGIN_WORKERS: usize = 64;
/// Enough for a hub that answers most attempts at once (429 or 503) for the whole phase, over
/// five second octets (127.10-14.X.Y) so that no flood source address is used twice.
pub const LOGIN_MAX_ATTEMPTS: u64 = 300_000;
/// The last second octet the login flood uses.
pub const LOGIN_LAST_OCTET: u64 = LOGIN_OCTET as u64 + (LOGIN_MAX_ATTEMPTS - 1) / ADDRESSES_PER_OCTET;
const _: () = assert!(
    LOGIN_LAST_OCTET < SLOW_OCTET as u64,
    "login and slow sources must not overlap"
);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

pub const SLOW_CONNECTIONS: u64 = 1_500;
pub const SLOW_BYTES_PER_TICK: usize = 3;
pub const SLOW_TICK: Duration = Duration::from_secs(1);

pub const SILENT_SOCKETS: u64 = 1_100;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the floods' sockets may take to connect before measuring starts anyway.
const RAMP_WAIT: Duration = Duration::from_secs(6);

pub const LOGIN_OCTET: u8 = 10;
pub const SLOW_OCTET: u8 = 20;
pub const SILENT_OCTET: u8 = 30;

/// Phase 2's workers: wrong-password logins, one new source address per attempt.
/// `capped_at_ms` gets the time (since `start`) at which the attempt cap was reached, if it was.
pub fn login_flood(
    set: &mut JoinSet<()>,
    to: SocketAddr,
    (start, deadline): (Instant, Instant),
    next: &Arc<AtomicU64>,
    capped_at_ms: &Arc<AtomicU64>,
    tally: &Tally,
) {
    for w in 0..LOGIN_WORKERS {
        let next = Arc::clone(next);
        let capped_at_ms = Arc::clone(capped_at_ms);
        let tally = tally.clone();
        set.spawn(async move {
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= LOGIN_MAX_ATTEMPTS {
                    let at = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let _ = capped_at_ms.compare_exchange(u64::MAX, at, Ordering::Relaxed, Ordering::Relaxed);
                    break;
                }
                let req = login_request(to, &format!("wrong-{w}-{i}"), false);
                match request(Some(source_ip(LOGIN_OCTET, i)), to, &req, LOGIN_TIMEOUT).await {
                    Ok(a) => tally.add(format!("status-{}", a.status)),
                    Err(e) => tally.add(e),
                }
            }
        });
    }
}

#[derive(Debug, Default)]
pub struct Conns {
    pub connected: AtomicU64,
    pub open: AtomicU64,
    finished_connecting: AtomicU64,
}

/// Phases 3 and 4: `count` connections from 127.OCTET.X.Y, opened over about `count` / 2 ms;
/// with `slow`, each sends a partial request header a few bytes a second; otherwise nothing.
/// They are held until the set is aborted.
pub fn hold_connections(
    set: &mut JoinSet<()>,
    to: SocketAddr,
    count: u64,
    octet: u8,
    slow: bool,
    conns: &Arc<Conns>,
    tally: &Tally,
) {
    const HEAD: &[u8] = b"GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    for i in 0..count {
        let conns = Arc::clone(conns);
        let tally = tally.clone();
        set.spawn(async move {
            tokio::time::sleep(Duration::from_micros(500 * i)).await;
            let c = tokio::time::timeout(CONNECT_TIMEOUT, connect_from(Some(source_ip(octet, i)), to)).await;
            conns.finished_connecting.fetch_add(1, Ordering::Relaxed);
            let mut stream = match c {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tally.add(format!("connect-{}", io_kind(&e))),
                Err(_) => return tally.add("connect-timeout"),
            };
            conns.connected.fetch_add(1, Ordering::Relaxed);
            conns.open.fetch_add(1, Ordering::Relaxed);
            let mut sent = 0usize;
            let mut buf = [0u8; 512];
            let end = loop {
                tokio::select! {
                    () = tokio::time::sleep(SLOW_TICK), if slow => {
                        let bytes: Vec<u8> = (sent..sent + SLOW_BYTES_PER_TICK)
                            .map(|k| HEAD.get(k).copied().unwrap_or(b'a'))
                            .collect();
                        sent += bytes.len();
                        match tokio::time::timeout(CONNECT_TIMEOUT, stream.write_all(&bytes)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => break format!("write-{}", io_kind(&e)),
                            Err(_) => break "write-timeout".to_string(),
                        }
                    }
                    r = stream.read(&mut buf) => match r {
                        Ok(0) => break "closed-by-hub".to_string(),
                        Ok(_) => break "answered-by-hub".to_string(),
                        Err(e) => break format!("read-{}", io_kind(&e)),
                    },
                }
            };
            conns.open.fetch_sub(1, Ordering::Relaxed);
            tally.add(end);
        });
    }
}

/// Waits until every connection attempt finished (or `RAMP_WAIT`), then `WARM_UP`.
pub async fn ramp(conns: &Conns, count: u64) -> Duration {
    let t0 = Instant::now();
    while conns.finished_connecting.load(Ordering::Relaxed) < count && t0.elapsed() < RAMP_WAIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t0.elapsed();
    tokio::time::sleep(WARM_UP).await;
    took
}

/// Aborts a phase's tasks and waits for them: every socket they held is closed.
pub async fn close_all(mut set: JoinSet<()>) {
    set.abort_all();
    while set.join_next().await.is_some() {}
}
