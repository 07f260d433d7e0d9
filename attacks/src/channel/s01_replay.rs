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
use crate::live::target::{JobKey, Target, TargetConfig};

/// Replays of a captured message 1 held open after the scheduler's answer.
pub const REPLAYED_FIRST_MESSAGE: Harness = Harness {
    info: HarnessInfo {
        id: "s01-replayed-first-message",
        story: "S01",
        target: "scheduler",
        title: "an eavesdropper replays an honest job's captured first handshake message on many connections, with no key, holds each open after the scheduler's answer, while another honest job tries to report",
        defences: &[Defence::Driver(DriverCheck::HandshakeDeadline)],
        control: Control::WithoutEach,
        note: "the deadline, which also covers the first authenticated message after message 2, raised to an hour; the in-flight cap stays. handshake-eviction is off on both runs (s01-held-handshakes isolates it)",
    },
    run: |w| Box::pin(replayed_first_message(w)),
};

/// Every handshake slot held by connections that will never authenticate.
pub const HELD_HANDSHAKES: Harness = Harness {
    info: HarnessInfo {
        id: "s01-held-handshakes",
        story: "S01",
        target: "scheduler",
        title: "silent connections and replays of a captured first handshake message, with no key, hold every handshake slot while an honest job tries to report",
        defences: &[Defence::Driver(DriverCheck::HandshakeEviction)],
        control: Control::WithoutEach,
        note: "the handshake deadline is an hour on both runs, so only eviction can free a slot here (s01-slowloris and s01-replayed-first-message isolate the deadline); the control's full table refuses newcomers, as a plain in-flight semaphore does",
    },
    run: |w| Box::pin(held_handshakes(w)),
};

async fn held_handshakes(w: Weakening) -> Result<Outcome, HarnessError> {
    let mut config = TargetConfig::for_run(&w);
    config.max_handshakes = SLOTS;
    config.handshake_timeout = Duration::from_secs(3600);
    let (target, jobs) = Target::with_jobs(&config, &["h0", "h1"]).await?;
    let (h0, h1) = (&jobs[0], &jobs[1]);
    let first = capture_first(&target, h0).await?;
    // Half the slots silent, half replays answered with message 2 and never followed.
    let mut holders = Vec::new();
    for i in 0..SLOTS {
        let mut stream = TcpStream::connect(target.addr()).await?;
        if i % 2 == 1 {
            stream.write_all(&first).await?;
        }
        holders.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut client = target.client(&h1.id);
    client.max_attempts = 5;
    let honest = tokio::time::timeout(HONEST_BOUND, run_honest(&client, &h1.keypair, lifecycle(1), false)).await;
    let stats = target.stats();
    let state = target.state(&h1.id).await?;
    drop(holders);
    target.shutdown().await;
    let mut breaches = Vec::new();
    match honest {
        Ok(Ok(_)) if state == Some(protocol_core::scheduler::JobState::Succeeded) => {}
        Ok(Ok(_)) => breaches.push("the honest job's messages did not all take effect".to_owned()),
        Ok(Err(_)) => breaches.push(format!(
            "the honest job was locked out and gave up: every attempt found all {SLOTS} handshake slots held by connections that would never authenticate"
        )),
        Err(_) => breaches.push(format!("the honest job did not finish within {} s", HONEST_BOUND.as_secs())),
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::HandshakeEviction, stats.handshakes_evicted),
        format!(
            "handshake-eviction: {SLOTS} connections that never authenticate ({} silent, {} replays of h0's first message \
             answered with message 2) held every slot; the honest job's connection took the longest-held one, whose \
             connection was closed, and the job finished succeeded",
            SLOTS / 2,
            SLOTS / 2
        ),
    ))
}

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

/// Has `job` report once through a recording relay and returns its first handshake message, as
/// an eavesdropper on the network would record it.
async fn capture_first(target: &Target, job: &JobKey) -> Result<Arc<Vec<u8>>, HarnessError> {
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
    let mut via_relay = target.client(&job.id);
    via_relay.address = relay.addr;
    run_honest(&via_relay, &job.keypair, lifecycle(1), false)
        .await
        .map_err(|e| HarnessError::setup(format!("the captured job did not report through the relay: {e}")))?;
    let first = captured
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .ok_or_else(|| HarnessError::setup("no first handshake message was captured"))?;
    Ok(Arc::new(first))
}

async fn replayed_first_message(w: Weakening) -> Result<Outcome, HarnessError> {
    let mut config = TargetConfig::for_run(&w);
    config.max_handshakes = SLOTS;
    // This harness is about the deadline alone: a full table refuses newcomers.
    config.flaws.refuse_when_full = true;
    if !w.lacks(DriverCheck::HandshakeDeadline) {
        config.handshake_timeout = HANDSHAKE_DEADLINE;
    }
    let (target, jobs) = Target::with_jobs(&config, &["h0", "h1"]).await?;
    let (h0, h1) = (&jobs[0], &jobs[1]);

    let first = capture_first(&target, h0).await?;

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
