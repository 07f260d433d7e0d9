//! A man in the middle on loopback: jobs connect to the relay, which connects to the
//! scheduler and passes every frame through a tampering function, recording every byte it
//! sees. The attacker here holds no key: it can read (ciphertext), drop, alter, reorder and
//! truncate frames, nothing more.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Job to scheduler.
    ToScheduler,
    /// Scheduler to job.
    ToJob,
}

/// What to do with one frame: given its direction, its index in that direction on this
/// connection (0 is the handshake message) and the whole frame (header and body), the frames
/// to write instead (none to hold or drop it).
pub type Tamper = Box<dyn FnMut(Direction, usize, Vec<u8>) -> Vec<Vec<u8>> + Send>;

/// Most bytes a relay records: enough for every harness, bounded so nothing grows unchecked.
const MAX_CAPTURE: usize = 4 << 20;

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    /// Where jobs should connect.
    pub addr: SocketAddr,
    capture: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
}

impl Relay {
    /// Relays to `upstream`; `tamper(n)` makes the tampering function of the `n`th connection
    /// (from 1).
    ///
    /// # Errors
    /// If the relay cannot listen on loopback.
    pub async fn start(
        upstream: SocketAddr,
        tamper: impl Fn(usize) -> Tamper + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        Self::start_on(TcpListener::bind(("127.0.0.1", 0)).await?, upstream, tamper)
    }

    /// As [`Relay::start`], on a listener bound beforehand (so that a target can be told the
    /// relay's address before the relay knows the target's).
    ///
    /// # Errors
    /// If the listener has no local address.
    pub fn start_on(
        listener: TcpListener,
        upstream: SocketAddr,
        tamper: impl Fn(usize) -> Tamper + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let capture = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (cap, count) = (Arc::clone(&capture), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let hook = Arc::new(Mutex::new(tamper(n)));
                let cap = Arc::clone(&cap);
                tokio::spawn(async move {
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = pump(cr, sw, Direction::ToScheduler, Arc::clone(&hook), Arc::clone(&cap)) => {}
                        () = pump(sr, cw, Direction::ToJob, hook, cap) => {}
                    }
                    // Dropping both halves closes both sockets.
                });
            }
        });
        Ok(Self {
            addr,
            capture,
            connections,
        })
    }

    /// Relays to `upstream` without changing anything (a passive observer).
    ///
    /// # Errors
    /// If the relay cannot listen on loopback.
    pub async fn passive(upstream: SocketAddr) -> std::io::Result<Self> {
        Self::start(upstream, pass).await
    }

    /// As [`Relay::passive`], on a listener bound beforehand.
    ///
    /// # Errors
    /// If the listener has no local address.
    pub fn passive_on(listener: TcpListener, upstream: SocketAddr) -> std::io::Result<Self> {
        Self::start_on(listener, upstream, pass)
    }

    /// Every byte seen so far, both directions, in arrival order.
    #[must_use]
    pub fn captured(&self) -> Vec<u8> {
        self.capture.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Connections relayed so far.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Forwards every frame unchanged.
fn pass(_: usize) -> Tamper {
    Box::new(|_, _, frame| vec![frame])
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    hook: Arc<Mutex<Tamper>>,
    capture: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = [0u8; 4096];
    let mut pending = Vec::new();
    let mut index = 0usize;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Ok(mut c) = capture.lock()
            && c.len() + n <= MAX_CAPTURE
        {
            c.extend_from_slice(&buf[..n]);
        }
        pending.extend_from_slice(&buf[..n]);
        let mut out = Vec::new();
        while let Some(header) = pending.first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*header));
            if pending.len() < 2 + len {
                break;
            }
            let frame: Vec<u8> = pending.drain(..2 + len).collect();
            let Ok(mut hook) = hook.lock() else { return };
            for f in hook(direction, index, frame) {
                out.extend_from_slice(&f);
            }
            index += 1;
        }
        if !out.is_empty() && to.write_all(&out).await.is_err() {
            return;
        }
    }
}
