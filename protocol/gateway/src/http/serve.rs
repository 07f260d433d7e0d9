//! Serving HTTP with the connection limits of [`crate::conns`]: the thin driver around
//! hyper that owns the sockets, applies the header-read timeout and the request-head size
//! limit, and closes the connections the [`ConnTable`] says to close.
//!
//! Each connection is a task; evicting or idling one out aborts its task, which drops the
//! socket. A stop closes the listener and lets requests in flight finish (for at most five
//! seconds) before the remaining connections are cut.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tower_service::Service;

use crate::clock::SharedClock;
use crate::conns::{Admit, ConnId, ConnLimits, ConnTable};
use crate::logging::Log;

/// How often idle connections are looked for.
const SWEEP: Duration = Duration::from_millis(500);
/// How long a stop waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(5);

/// What the connection limits did, for the operator and the harnesses.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections closed because their headers did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Connections closed after the idle timeout.
    pub idle_closed: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub evicted: AtomicU64,
    /// New connections refused because every one that could make room was busy.
    pub refused: AtomicU64,
}

impl ConnStats {
    /// The counters as JSON (for `/operator/status`).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "accepted": n(&self.accepted),
            "header_timeouts": n(&self.header_timeouts),
            "idle_closed": n(&self.idle_closed),
            "evicted": n(&self.evicted),
            "refused": n(&self.refused),
        })
    }
}

struct Shared {
    table: Mutex<ConnTable>,
    tasks: Mutex<BTreeMap<ConnId, AbortHandle>>,
    stats: Arc<ConnStats>,
    clock: SharedClock,
}

impl Shared {
    fn close(&self, ids: &[ConnId], counter: &AtomicU64) {
        if ids.is_empty() {
            return;
        }
        let Ok(mut tasks) = self.tasks.lock() else { return };
        for id in ids {
            if let Some(task) = tasks.remove(id) {
                task.abort();
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Forgets a connection however its task ends (finished, failed or aborted).
struct Forget {
    shared: Arc<Shared>,
    id: ConnId,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Ok(mut t) = self.shared.table.lock() {
            t.handle_close(self.id);
        }
        if let Ok(mut t) = self.shared.tasks.lock() {
            t.remove(&self.id);
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    clock: SharedClock,
    stats: Arc<ConnStats>,
    log: Log,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let shared = Arc::new(Shared {
        table: Mutex::new(ConnTable::new(limits)),
        tasks: Mutex::new(BTreeMap::new()),
        stats,
        clock,
    });
    let mut conns = JoinSet::new();
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_id: ConnId = 0;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = sweep.tick() => {
                let now = shared.clock.now();
                let idle = shared.table.lock().map(|mut t| t.poll_idle(now)).unwrap_or_default();
                shared.close(&idle, &shared.stats.idle_closed);
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors, a reset before accept…: wait a little, go on.
                        log.line(&format!("accept failed: {}", e.kind()));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                next_id += 1;
                let id = next_id;
                let now = shared.clock.now();
                let admit = shared.table.lock().map_or(Admit::Refused, |mut t| t.handle_open(now, id, peer.ip()));
                let Admit::Yes { evict } = admit else {
                    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                };
                shared.close(&evict, &shared.stats.evicted);
                shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
                let task = conns.spawn(connection(
                    Arc::clone(&shared),
                    id,
                    stream,
                    peer,
                    app.clone(),
                    limits,
                    drain_rx.clone(),
                ));
                if let Ok(mut tasks) = shared.tasks.lock() {
                    tasks.insert(id, task);
                }
            }
        }
    }
    drop(listener);
    let _ = drain_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

async fn connection(
    shared: Arc<Shared>,
    id: ConnId,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnLimits,
    mut drain: watch::Receiver<bool>,
) {
    let _forget = Forget {
        shared: Arc::clone(&shared),
        id,
    };
    let _ = stream.set_nodelay(true);
    let svc_shared = Arc::clone(&shared);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let shared = Arc::clone(&svc_shared);
        let mut app = app.clone();
        async move {
            if let Ok(mut t) = shared.table.lock() {
                t.handle_request_start(shared.clock.now(), id);
            }
            let response: Response = match app.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if let Ok(mut t) = shared.table.lock() {
                t.handle_request_end(shared.clock.now(), id);
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper refuses a buffer under 8 KiB.
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let served = tokio::select! {
        r = conn.as_mut() => r,
        () = async { let _ = drain.wait_for(|d| *d).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served
        && e.is_timeout()
    {
        shared.stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Verification builds only: limits so loose they are none, for the control without
/// `connection-limits`.
#[cfg(feature = "weaken")]
pub mod weakened {
    use std::time::Duration;

    use crate::conns::ConnLimits;

    /// A day for every timeout (no client waits that long in an attack), no practical cap,
    /// and hyper's default head buffer (about 400 KB).
    pub const UNBOUNDED: ConnLimits = ConnLimits {
        header_timeout: Duration::from_secs(86_400),
        idle_timeout: Duration::from_secs(86_400),
        max_connections: usize::MAX / 2,
        max_per_source: usize::MAX / 2,
        max_header_bytes: 400 * 1024,
    };
}
