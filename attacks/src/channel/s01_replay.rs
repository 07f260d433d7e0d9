//! S01 — an eavesdropper without any key replays an honest job's captured first handshake
//! message. Noise IK's message 1 is replayable by design (the specification grades its
//! payload's security accordingly), so the scheduler answers each replay with message 2; what
//! must not happen is that the replayed connections then stay open. Without the deadline on
//! the first authenticated message they held the scheduler for the 600 s idle limit: each kept
//! a descriptor and, on this target, a handshake slot, until honest jobs were locked out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{Defence, DriverCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{closed_by_peer, lifecycle, run_honest};
use crate::live::relay::{Direction, Relay};
use crate::live::target::{Target, TargetConfig};

/// Replays of a captured message 1 held open after the scheduler's answer.
pub const REPLAYED_FIRST_MESSAGE: Harness = Harness {
    info: HarnessInfo {
        id: "s01-replayed-first-message",
        story: "S01",
        target: "scheduler",
        title: "an eavesdropper replays an honest job's captured first handshake message on many connections, with no key, holds each open after the scheduler's answer, while another honest job tries to report",
        defences: &[Defence::Driver(DriverCheck::HandshakeDeadline)],
        control: Control::WithoutEach,
        note: "the deadline, which also covers the first authenticated message after message 2, raised to an hour; the in-flight cap stays",
    },
    run: |w| Box::pin(replayed_first_message(w)),
};

/// Handshake slots on the target.
const SLOTS: usize = 16;
/// The handshake deadline on the real target (shortened from the 5 s default so the harness
/// stays quick; the mechanism is the same).
const HANDSHAKE_DEADLINE: Duration = Duration::from_millis(250);
/// How long a replayed connection is watched for the scheduler to close it.
const WATCH: Duration = Duration::from_secs(2);
/// How long the other honest job may take.
const HONEST_BOUND: Duration = Duration::from_secs(3);

/// What happened to one replayed connection.
struct Replayed {
    /// The scheduler answered (message 2).
    answered: bool,
    /// The scheduler closed it within [`WATCH`].
    closed: bool,
}

async fn replay(addr: std::net::SocketAddr, first: Arc<Vec<u8>>) -> Option<Replayed> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(&first).await.ok()?;
    let mut buf = [0u8; 256];
    let answered = matches!(
        tokio::time::timeout(WATCH, stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    );
    let closed = closed_by_peer(&mut stream, WATCH).await;
    Some(Replayed { answered, closed })
}

async fn replayed_first_message(w: Weakening) -> Result<Outcome, HarnessError> {
    let mut config = TargetConfig::for_run(&w);
    config.max_handshakes = SLOTS;
    if !w.lacks(DriverCheck::HandshakeDeadline) {
        config.handshake_timeout = HANDSHAKE_DEADLINE;
    }
    let (target, jobs) = Target::with_jobs(&config, &["h0", "h1"]).await?;
    let (h0, h1) = (&jobs[0], &jobs[1]);

    // The eavesdropper records h0's first handshake message on the network.
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
    let store = Arc::clone(&captured);
    let relay = Relay::start(target.addr(), move |_| {
        let store = Arc::clone(&store);
        Box::new(move |direction, index, frame| {
            if direction == Direction::ToScheduler
                && index == 0
                && let Ok(mut slot) = store.lock()
                && slot.is_none()
            {
                *slot = Some(frame.clone());
            }
            vec![frame]
        })
    })
    .await?;
    let mut via_relay = target.client(&h0.id);
    via_relay.address = relay.addr;
    run_honest(&via_relay, &h0.keypair, lifecycle(1), false)
        .await
        .map_err(|e| HarnessError::setup(format!("h0 did not report through the relay: {e}")))?;
    let first = captured
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .ok_or_else(|| HarnessError::setup("no first handshake message was captured"))?;
    let first = Arc::new(first);

    // Replays on every slot, while h1 tries to report.
    let mut replays = JoinSet::new();
    for _ in 0..SLOTS {
        replays.spawn(replay(target.addr(), Arc::clone(&first)));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let honest = tokio::time::timeout(
        HONEST_BOUND,
        run_honest(&target.client(&h1.id), &h1.keypair, lifecycle(1), false),
    )
    .await;
    let results: Vec<Replayed> = replays.join_all().await.into_iter().flatten().collect();
    let timeouts = target.stats().handshake_timeouts;
    target.shutdown().await;

    if results.len() < SLOTS {
        return Err(HarnessError::setup("some replays could not connect"));
    }
    let answered = results.iter().filter(|r| r.answered).count();
    let held = results.iter().filter(|r| !r.closed).count();
    let mut breaches = Vec::new();
    if held > 0 {
        breaches.push(format!(
            "{held} of {SLOTS} replayed connections were still open {} s after the scheduler's answer",
            WATCH.as_secs()
        ));
    }
    match honest {
        Ok(Ok(_)) => {}
        // Not the error's own words: they vary with socket timing, the evidence must not.
        Ok(Err(_)) => breaches.push("the other honest job was refused or gave up".to_owned()),
        Err(_) => breaches.push(format!(
            "the other honest job did not finish within {} s while the replays held the handshake slots",
            HONEST_BOUND.as_secs()
        )),
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::HandshakeDeadline, timeouts),
        format!(
            "handshake-deadline: {answered} of {SLOTS} replays of h0's captured first message were answered with \
             message 2 (IK's message 1 is replayable), none was followed by an authenticated frame, and the \
             scheduler closed every one at the deadline; the other honest job finished"
        ),
    ))
}
