//! S01 — as an attacker I want to stop user A's suite from running.
//!
//! An attacker who can reach the scheduler's port but holds no registered key tries to lock
//! honest jobs out: by holding handshake slots open ([`SLOWLORIS`]), by flooding bogus first
//! messages ([`HANDSHAKE_FLOOD`]), and — holding one compromised job's key — by hostile frames
//! on established connections ([`GARBAGE_FRAMES`]). The measure is always the honest jobs:
//! they must finish, with every message accepted once.

use std::time::Duration;

use protocol_core::keys::LOW_ORDER_POINTS;
use protocol_core::scheduler::JobState;
use protocol_core::wire::{FailReason, JobBody, Reply};
use protocol_core::{Check, Flaw, JobId, StaticKeypair, WorkflowId};
use protocol_net::ClientError;
use rand_core::RngCore;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use protocol::{Defence, DriverCheck};

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{Session, closed_by_peer, lifecycle, message, run_honest};
use crate::live::target::{Target, TargetConfig, accepted, refusals, workflow};

/// Silent connections hold the handshake slots.
pub const SLOWLORIS: Harness = Harness {
    info: HarnessInfo {
        id: "s01-slowloris",
        story: "S01",
        target: "scheduler",
        title: "silent connections take every handshake slot, reconnecting when closed, while an honest job tries to report",
        defences: &[Defence::Driver(DriverCheck::HandshakeDeadline)],
        control: Control::WithoutEach,
        note: "the deadline raised to an hour; the in-flight cap stays. handshake-eviction is off on both runs, so the deadline is the only thing that frees a slot here (s01-held-handshakes isolates eviction)",
    },
    run: |w| Box::pin(slowloris(w)),
};

/// Handshake slots on the targets of [`SLOWLORIS`].
const SLOTS: usize = 16;
/// The handshake deadline on the real target (the server's default is 5 s; shortened so the
/// harness stays quick, the mechanism is the same).
const HANDSHAKE_DEADLINE: Duration = Duration::from_millis(250);
/// How long the honest job may take.
const HONEST_BOUND: Duration = Duration::from_secs(3);

/// Holds a silent connection until the scheduler closes it, then opens another, `waves` times.
async fn hold(addr: std::net::SocketAddr, waves: usize) {
    for _ in 0..waves {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            return;
        };
        closed_by_peer(&mut stream, Duration::from_secs(10)).await;
    }
}

async fn slowloris(w: Weakening) -> Result<Outcome, HarnessError> {
    let mut config = TargetConfig::for_run(&w);
    config.max_handshakes = SLOTS;
    // This harness is about the deadline alone: a full table refuses newcomers.
    config.flaws.refuse_when_full = true;
    if !w.lacks(DriverCheck::HandshakeDeadline) {
        config.handshake_timeout = HANDSHAKE_DEADLINE;
    }
    let (target, jobs) = Target::with_jobs(&config, &["h0"]).await?;
    let addr = target.addr();
    let mut holders = JoinSet::new();
    for _ in 0..SLOTS {
        holders.spawn(hold(addr, 2));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(addr).await?;
    closed_by_peer(&mut extra, Duration::from_millis(500)).await;
    // Some connection (the extra one, or a late holder) found every slot taken.
    let cap_held = target.stats().connections_refused > 0;
    let job = &jobs[0];
    let honest = tokio::time::timeout(
        HONEST_BOUND,
        run_honest(&target.client(&job.id), &job.keypair, lifecycle(2), false),
    )
    .await;
    holders.abort_all();
    let state = target.state(&job.id).await?;
    let timeouts = target.stats().handshake_timeouts;
    target.shutdown().await;
    let mut breaches = Vec::new();
    if !cap_held {
        breaches.push(format!(
            "no connection beyond the {SLOTS} handshake slots was closed at once"
        ));
    }
    match honest {
        Ok(Ok(_)) if state == Some(JobState::Succeeded) => {}
        Ok(Ok(_)) => breaches.push("the honest job's messages did not all take effect".to_owned()),
        Ok(Err(ClientError::GaveUp { .. })) => breaches.push(format!(
            "the honest job was locked out and gave up: every attempt found all {SLOTS} handshake slots held by silent connections"
        )),
        Ok(Err(e)) => breaches.push(format!("the honest job was refused: {e}")),
        Err(_) => breaches.push(format!(
            "the honest job did not finish within {} s",
            HONEST_BOUND.as_secs()
        )),
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::HandshakeDeadline, timeouts),
        format!(
            "handshake-deadline: {SLOTS} silent connections (reopened once when closed) held every handshake slot and a \
             further connection was closed at once (in-flight cap); the deadline closed the silent ones and the honest \
             job finished succeeded within {} s",
            HONEST_BOUND.as_secs()
        ),
    ))
}

/// Bogus first messages from many connections.
pub const HANDSHAKE_FLOOD: Harness = Harness {
    info: HarnessInfo {
        id: "s01-handshake-flood",
        story: "S01",
        target: "scheduler",
        title: "floods the scheduler with bogus first handshake messages (random bytes, low-order ephemerals, unregistered keys, oversize frames, another workflow's prologue) before and while honest jobs report; answered floods claim the honest jobs failed",
        defences: &[Defence::Channel(Check::AuthenticatedKey)],
        control: Control::Flaw(Flaw::IdentityFromClaim),
        note: "the scheduler serves any key and believes the claim: unknown keys are refused structurally, not by a removable check",
    },
    run: |w| Box::pin(handshake_flood(w)),
};

/// Connections per flood wave: eight of each kind.
const FLOOD_WAVE: usize = 40;
const FLOOD_KINDS: usize = 5;

/// What one flood connection achieved.
#[derive(Debug, Default)]
struct FloodHit {
    answered: bool,
    accepted: Vec<JobId>,
}

async fn flood_one(
    i: usize,
    addr: std::net::SocketAddr,
    scheduler: protocol_core::PublicKey,
    honest: Vec<JobId>,
) -> FloodHit {
    let mut hit = FloodHit::default();
    let mut noise = [0u8; 96];
    rand_core::OsRng.fill_bytes(&mut noise);
    match i % FLOOD_KINDS {
        0 | 1 | 3 => {
            let mut frame = Vec::with_capacity(100);
            match i % FLOOD_KINDS {
                // Random bytes where message 1 belongs.
                0 => frame.extend_from_slice(&[0, 96]),
                // A low-order point as the ephemeral key: refused before any Diffie-Hellman.
                1 => {
                    noise[..32].copy_from_slice(&LOW_ORDER_POINTS[i % LOW_ORDER_POINTS.len()]);
                    frame.extend_from_slice(&[0, 96]);
                }
                // A frame header announcing 65,535 bytes during the handshake.
                _ => frame.extend_from_slice(&[0xff, 0xff]),
            }
            frame.extend_from_slice(&noise);
            if let Ok(mut stream) = TcpStream::connect(addr).await {
                let _ = stream.write_all(&frame).await;
                // An answer would be a frame before the close; a refusal is a bare close.
                hit.answered = !closed_by_peer(&mut stream, Duration::from_secs(2)).await;
            }
        }
        kind => {
            // A well-formed handshake with an unregistered key, for this workflow (kind 2) or
            // for another one (kind 4: the prologue differs, the scheduler cannot read it).
            let stranger = StaticKeypair::generate_from_os();
            let wf = if kind == 2 {
                workflow()
            } else {
                WorkflowId::new("alice", "other").unwrap_or_else(|_| workflow())
            };
            if let Ok(mut session) = Session::open(addr, &scheduler, &wf, &stranger).await {
                hit.answered = true;
                // Served anyway: claim each honest job failed, trying the first few numbers.
                for claim in &honest {
                    for seq in 1..=3 {
                        let failed = message(claim, seq, JobBody::Failed(FailReason::Signal(9)));
                        if let Ok(Reply::Ack { .. }) = session.exchange(&failed).await {
                            hit.accepted.push(claim.clone());
                        }
                    }
                }
            }
        }
    }
    hit
}

async fn flood_wave(target: &Target, honest: &[JobId]) -> Vec<FloodHit> {
    let mut set = JoinSet::new();
    for i in 0..FLOOD_WAVE {
        set.spawn(flood_one(i, target.addr(), target.key(), honest.to_vec()));
    }
    set.join_all().await
}

async fn handshake_flood(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["h0", "h1"]).await?;
    let honest: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
    // A wave before the jobs report, then a wave while they do.
    let mut hits = flood_wave(&target, &honest).await;
    let mut runs = JoinSet::new();
    for job in &jobs {
        let config = target.client(&job.id);
        let keypair = StaticKeypair::from_secret(job.keypair.secret_bytes());
        runs.spawn(async move { run_honest(&config, &keypair, lifecycle(3), false).await });
    }
    hits.extend(flood_wave(&target, &honest).await);
    let runs = tokio::time::timeout(Duration::from_secs(5), runs.join_all()).await;
    let stats = target.stats();
    let mut states = Vec::new();
    for id in &honest {
        states.push((id.clone(), target.state(id).await?));
    }
    target.shutdown().await;

    let floods = 2 * FLOOD_WAVE;
    let strangers = 2 * FLOOD_WAVE / FLOOD_KINDS;
    let mut breaches = Vec::new();
    let answered = hits.iter().filter(|h| h.answered).count();
    if answered > 0 {
        breaches.push(format!(
            "the scheduler answered {answered} of {floods} bogus handshakes (from keys it never registered)"
        ));
    }
    let mut victims: Vec<String> = hits
        .iter()
        .flat_map(|h| h.accepted.iter().map(ToString::to_string))
        .collect();
    victims.sort();
    victims.dedup();
    if !victims.is_empty() {
        breaches.push(format!(
            "flood connections' claims were accepted: {} marked failed by a stranger",
            victims.join(", ")
        ));
    }
    match runs {
        Ok(results) => {
            if results.iter().any(Result::is_err) {
                breaches.push("an honest job was refused or gave up under the flood".to_owned());
            }
        }
        Err(_) => breaches.push("the honest jobs did not finish within 5 s under the flood".to_owned()),
    }
    for (id, state) in &states {
        if *state != Some(JobState::Succeeded) {
            breaches.push(format!(
                "{id} ended {}",
                state.map_or("unknown".to_owned(), |s| s.to_string())
            ));
        }
    }
    let refused_keys = refusals(&stats, Check::AuthenticatedKey);
    let keys_note = if refused_keys == strangers as u64 {
        format!("authenticated-key refused all {strangers} unregistered keys at the handshake")
    } else {
        "authenticated-key refused the unregistered keys at the handshake".to_owned()
    };
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::AuthenticatedKey, refused_keys),
        format!(
            "{floods} bogus first messages were all refused without an answer (low-order ephemerals before any \
             Diffie-Hellman, oversize frames before any cryptography, another workflow's prologue by the handshake); \
             {keys_note}; both honest jobs finished succeeded"
        ),
    ))
}

/// Hostile frames on established connections.
pub const GARBAGE_FRAMES: Harness = Harness {
    info: HarnessInfo {
        id: "s01-garbage-frames",
        story: "S01",
        target: "scheduler",
        title: "a compromised job sends oversize, empty, undecryptable and undecodable frames while two honest jobs hold connections mid-conversation",
        defences: &[Defence::Driver(DriverCheck::ConnectionIsolation)],
        control: Control::WithoutEach,
        note: "a connection ending on a bad frame takes every established connection with it",
    },
    run: |w| Box::pin(garbage_frames(w)),
};

/// The hostile frames, each built on a fresh session of the compromised job.
type Garbage = (&'static str, fn(&mut Session) -> Vec<u8>);

const GARBAGE: [Garbage; 3] = [
    ("an empty frame", |_| vec![0, 0]),
    ("an undecryptable frame", |_| {
        let mut f = vec![0, 40];
        f.extend_from_slice(&[7u8; 40]);
        f
    }),
    ("a well-encrypted message that does not decode", |s| {
        let mut f = Vec::new();
        if let Ok(body) = s.seal(&[1, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1]) {
            let _ = protocol_net::framing::push_frame(&mut f, &body);
        }
        f
    }),
];

/// An honest job's open session and its last sequence number.
type Open<'a> = (&'a crate::live::target::JobKey, Session, u64);

/// Each honest job sends a heartbeat on its open connection; one that fails has lost its
/// connection to garbage sent on another.
async fn keep_talking(honest: &mut [Open<'_>], lost: &mut Vec<String>, breaches: &mut Vec<String>, after: &str) {
    for (job, session, seq) in honest.iter_mut() {
        if lost.contains(&job.id.to_string()) {
            continue;
        }
        *seq += 1;
        if !matches!(
            session.exchange(&message(&job.id, *seq, JobBody::Heartbeat)).await,
            Ok(Reply::Ack { .. })
        ) {
            lost.push(job.id.to_string());
            breaches.push(format!(
                "{} lost its connection after {after} on another connection",
                job.id
            ));
        }
    }
}

async fn garbage_frames(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["h0", "h1", "c"]).await?;
    let (addr, key, wf) = (target.addr(), target.key(), workflow());
    let c = &jobs[2];
    let limit = Duration::from_secs(2);
    let mut breaches = Vec::new();

    // Two honest jobs connect and start; their connections stay open throughout.
    let mut honest = Vec::new();
    for job in &jobs[..2] {
        let mut session = Session::open(addr, &key, &wf, &job.keypair)
            .await
            .map_err(|e| HarnessError::setup(format!("{} could not connect: {e}", job.id)))?;
        let reply = session.exchange(&message(&job.id, 1, JobBody::Started)).await;
        if !matches!(reply, Ok(Reply::Ack { seq: 1 })) {
            return Err(HarnessError::setup(format!(
                "{}'s started was not acknowledged",
                job.id
            )));
        }
        honest.push((job, session, 1u64));
    }
    let mut lost: Vec<String> = Vec::new();

    // Before any handshake: a header announcing 65,535 bytes.
    let mut raw = TcpStream::connect(addr).await?;
    raw.write_all(&[0xff, 0xff, 1, 2, 3]).await?;
    let oversize_closed = closed_by_peer(&mut raw, limit).await;
    keep_talking(&mut honest, &mut lost, &mut breaches, "an oversize handshake frame").await;
    let mut unclosed = Vec::new();
    if !oversize_closed {
        unclosed.push("an oversize handshake frame");
    }
    // After the handshake, each on a fresh connection of the compromised job.
    for (what, make) in GARBAGE {
        let mut session = Session::open(addr, &key, &wf, &c.keypair)
            .await
            .map_err(|e| HarnessError::setup(format!("the compromised job could not connect: {e}")))?;
        let bytes = make(&mut session);
        session.send_raw(&bytes).await.map_err(HarnessError::setup)?;
        if !session.closed_by_peer(limit).await {
            unclosed.push(what);
        }
        keep_talking(&mut honest, &mut lost, &mut breaches, what).await;
    }
    for what in unclosed {
        breaches.push(format!("{what} did not close its connection"));
    }
    // The honest jobs finish on the connections they started on.
    for (job, session, seq) in &mut honest {
        *seq += 1;
        let _ = session.exchange(&message(&job.id, *seq, JobBody::Succeeded)).await;
    }
    let events = target.events().await?;
    let expected: Vec<JobBody> = std::iter::once(JobBody::Started)
        .chain(std::iter::repeat_n(JobBody::Heartbeat, 1 + GARBAGE.len()))
        .chain(std::iter::once(JobBody::Succeeded))
        .collect();
    for job in &jobs[..2] {
        let bodies: Vec<JobBody> = accepted(&events, &job.id).into_iter().map(|(_, b)| b.clone()).collect();
        if bodies != expected && !lost.contains(&job.id.to_string()) {
            breaches.push(format!("{}'s accepted messages differ from what it sent", job.id));
        }
        if target.state(&job.id).await? != Some(JobState::Succeeded) && !lost.contains(&job.id.to_string()) {
            breaches.push(format!("{} did not finish", job.id));
        }
    }
    let isolated = target.stats().isolated_drops;
    target.shutdown().await;
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::ConnectionIsolation, isolated),
        "each hostile frame (oversize before the handshake; empty, undecryptable, undecodable after it) closed only \
         its own connection; both honest jobs kept their connections throughout, every message acknowledged and \
         accepted once, and finished succeeded",
    ))
}
