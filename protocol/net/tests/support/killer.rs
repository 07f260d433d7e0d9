//! A loopback TCP relay that severs connections after a chosen number of bytes, in either
//! direction, for the first `cuts` connections; later connections pass through untouched so
//! every test ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Killer {
    pub addr: SocketAddr,
    pub severed: Arc<AtomicUsize>,
}

/// Byte budgets per connection: (job→scheduler, scheduler→job), from a fixed pattern so runs
/// are repeatable.
fn budget(n: usize) -> (usize, usize) {
    let up = 150 + (n * 97) % 900;
    let down = 60 + (n * 53) % 400;
    (up, down)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limit: Option<usize>,
) -> bool {
    let mut buf = [0u8; 4096];
    let mut sent = 0usize;
    loop {
        let Ok(n) = from.read(&mut buf).await else { return false };
        if n == 0 {
            return false;
        }
        let take = limit.map_or(n, |l| n.min(l.saturating_sub(sent)));
        if to.write_all(&buf[..take]).await.is_err() {
            return false;
        }
        sent += take;
        if limit.is_some_and(|l| sent >= l) {
            return true;
        }
    }
}

impl Killer {
    pub async fn start(upstream: SocketAddr, cuts: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let severed = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&severed);
        tokio::spawn(async move {
            let mut n = 0usize;
            while let Ok((client, _)) = listener.accept().await {
                n += 1;
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (up, down) = if n <= cuts {
                    (Some(budget(n).0), Some(budget(n).1))
                } else {
                    (None, None)
                };
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let cut = tokio::select! {
                        c = pump(cr, sw, up) => c,
                        c = pump(sr, cw, down) => c,
                    };
                    if cut {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    // Dropping both halves here closes both sockets mid-stream.
                });
            }
        });
        Self { addr, severed }
    }
}
