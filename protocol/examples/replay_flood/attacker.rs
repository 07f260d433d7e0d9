//! The attacker side of the replay flood: a child process that opens the replayed-message-1
//! and idle connections and reports what the scheduler did with each kind.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{HARD_TIMEOUT, HELD, KINDS, PATTERN, ROUNDS};

/// The attacker's counts per connection kind: attempts, connect errors, answered with message 2,
/// closed by the scheduler at once, closed after a hold, still held at stop, longest hold (ms).
type Tally = [[AtomicU64; 7]; 4];

/// The attacker: reads the scheduler's address, the mode and three captured messages 1 (hex),
/// says "ready", waits for "go", floods until "stop" (or stdin closes), then prints its tallies.
pub fn attacker() -> ExitCode {
    std::thread::spawn(|| {
        std::thread::sleep(HARD_TIMEOUT);
        std::process::exit(1);
    });
    let mut lines = BufReader::new(std::io::stdin()).lines();
    let mut next = move || lines.next().and_then(Result::ok).unwrap_or_default();
    let header = next();
    let Some(addr) = header
        .split_whitespace()
        .next()
        .and_then(|a| a.parse::<SocketAddr>().ok())
    else {
        return ExitCode::from(2);
    };
    let sustained = header.ends_with("sustained");
    let mut frames: Vec<Option<Arc<Vec<u8>>>> = (0..3).map(|_| hex::decode(next()).ok().map(Arc::new)).collect();
    frames.push(None);
    // One thread: the attacker is I/O-bound, and on a shared 2-core host a second thread would
    // mostly take CPU from the scheduler (which a remote attacker could not).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("ready");
    let _ = std::io::stdout().flush();
    if next() != "go" {
        return ExitCode::from(2);
    }
    let (stop_tx, stop) = watch::channel(false);
    std::thread::spawn(move || {
        // "stop", or our stdin closing because the scheduler process is gone.
        let _ = next();
        let _ = stop_tx.send(true);
        std::thread::sleep(HARD_TIMEOUT);
    });
    let tally: Arc<Tally> = Arc::new(Default::default());
    let start = Instant::now();
    let (opened, all_opened_ms) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let total = (ROUNDS * PATTERN.len()) as u64;
    let bump = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for kind in (0..ROUNDS).flat_map(|_| PATTERN) {
            let (payload, tally, mut stop) = (frames[kind].clone(), Arc::clone(&tally), stop.clone());
            let (opened, all_opened_ms) = (Arc::clone(&opened), Arc::clone(&all_opened_ms));
            tasks.spawn(async move {
                let t = &tally[kind];
                let mut first = true;
                while !*stop.borrow() {
                    bump(&t[0]);
                    let connected = tokio::select! {
                        c = TcpStream::connect(addr) => c,
                        _ = stop.changed() => break,
                    };
                    if std::mem::take(&mut first) && opened.fetch_add(1, Ordering::Relaxed) + 1 == total {
                        all_opened_ms.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                    }
                    let Ok(mut stream) = connected else {
                        bump(&t[1]);
                        if !sustained {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let since = Instant::now();
                    let mut closed = match &payload {
                        Some(p) => stream.write_all(p).await.is_err(),
                        None => false,
                    };
                    // Hold until the scheduler closes it (EOF or reset) or we are told to stop.
                    let (mut buf, mut answered) = ([0u8; 256], false);
                    while !closed {
                        tokio::select! {
                            r = stream.read(&mut buf) => match r {
                                Ok(0) | Err(_) => closed = true,
                                Ok(_) => answered = true,
                            },
                            _ = stop.changed() => break,
                        }
                    }
                    if answered {
                        bump(&t[2]);
                    }
                    if !closed {
                        bump(&t[5]);
                        break;
                    }
                    let held = since.elapsed();
                    t[6].fetch_max(held.as_millis() as u64, Ordering::Relaxed);
                    bump(&t[if held >= HELD { 4 } else { 3 }]);
                    if !sustained {
                        break;
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{total} connections first opened within {} ms; per kind: attempts / connect errors / answered with \
         message 2 / closed by the scheduler at once (< {} s) / closed by it after a hold / still held at stop / \
         longest hold",
        all_opened_ms.load(Ordering::Relaxed),
        HELD.as_secs()
    );
    for (name, t) in KINDS.iter().zip(tally.iter()) {
        let v: Vec<u64> = t.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let _ = writeln!(
            out,
            "  {name:<20} {} / {} / {} / {} / {} / {} / {} ms",
            v[0], v[1], v[2], v[3], v[4], v[5], v[6]
        );
    }
    ExitCode::SUCCESS
}
