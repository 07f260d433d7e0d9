//! S15 — as an attacker I'd like to snoop on or modify traffic between components.
//!
//! The attacker owns the network path between jobs and the scheduler: it records every byte
//! ([`PASSIVE_CAPTURE`]), alters, truncates and reorders frames ([`BIT_FLIP`]), and stands in
//! the middle answering with its own keys ([`KEY_SUBSTITUTION`]). Noise IK gives the channel
//! confidentiality and integrity, and the job pins the scheduler's key from an offer that never
//! crosses the network.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::noise::{Responder, prologue};
use protocol_core::scheduler::{Event, JobState};
use protocol_core::wire::{FailReason, JobBody, MAX_FRAME, Message, OutputName, Severity};
use protocol_core::{PublicKey, StaticKeypair};
use protocol_net::framing::{FrameReader, write_frame};
use protocol_net::job_program::JobPlan;
use testkit::PresetKeyLauncher;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use protocol::{Defence, DriverCheck};

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::launch::{PipeJobLauncher, Substitution};
use crate::live::peer::{Session, run_honest};
use crate::live::relay::{Direction, Relay, Tamper};
use crate::live::scan;
use crate::live::target::{DECLARED_OUTPUT, Target, TargetConfig, accepted, job, spec, workflow};

/// A recording relay on the path.
pub const PASSIVE_CAPTURE: Harness = Harness {
    info: HarnessInfo {
        id: "s15-passive-capture",
        story: "S15",
        target: "scheduler",
        title: "a relay on the path records every byte between two real jobs and the scheduler and searches it for job ids, message texts, output names, the workflow id and public keys",
        defences: &[Defence::Driver(DriverCheck::NoiseTransport)],
        control: Control::WithoutEach,
        note: "transport frames carried in the clear after the handshake",
    },
    run: |w| Box::pin(passive_capture(w)),
};

fn reports(task: &str) -> Result<Vec<JobBody>, HarnessError> {
    Ok(vec![
        JobBody::Started,
        JobBody::Message {
            severity: Severity::Warning,
            text: format!("surface pressure 1013 hPa at station {task}"),
        },
        JobBody::Output(OutputName::new(DECLARED_OUTPUT).map_err(HarnessError::setup)?),
        JobBody::Succeeded,
    ])
}

async fn passive_capture(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let plaintext = config.flaws.plaintext_transport;
    let (target, jobs) = Target::with_jobs(&config, &["h0", "h1"]).await?;
    let relay = Relay::passive(target.addr()).await?;
    let mut runs = JoinSet::new();
    let mut needles = vec![
        ("the workflow id".to_owned(), workflow().to_string().into_bytes()),
        ("the output name".to_owned(), DECLARED_OUTPUT.as_bytes().to_vec()),
        (
            "the scheduler's public key".to_owned(),
            target.key().as_bytes().to_vec(),
        ),
    ];
    for job in &jobs {
        let bodies = reports(job.id.task())?;
        for body in &bodies {
            if let JobBody::Message { text, .. } = body {
                needles.push((format!("{}'s message text", job.id.task()), text.clone().into_bytes()));
            }
        }
        needles.push((format!("job id {}", job.id), job.id.to_string().into_bytes()));
        needles.push((
            format!("{}'s public key", job.id.task()),
            job.keypair.public().as_bytes().to_vec(),
        ));
        let mut client = target.client(&job.id);
        client.address = relay.addr;
        let keypair = StaticKeypair::from_secret(job.keypair.secret_bytes());
        runs.spawn(async move { run_honest(&client, &keypair, bodies, plaintext).await });
    }
    let finished = tokio::time::timeout(Duration::from_secs(5), runs.join_all()).await;
    let capture = relay.captured();
    target.shutdown().await;
    if !matches!(&finished, Ok(r) if r.iter().all(Result::is_ok)) || relay.connections() < jobs.len() {
        return Err(HarnessError::setup("the jobs did not report through the relay"));
    }
    let found = scan::found(&capture, &needles);
    // noise-transport acted on every relayed connection whose recording shows no needle.
    let sealed = if found.is_empty() {
        relay.connections() as u64
    } else {
        0
    };
    let breaches = if found.is_empty() {
        Vec::new()
    } else {
        vec![format!("the recording shows {} in the clear", found.join(", "))]
    };
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::NoiseTransport, sealed),
        format!(
            "the relay recorded both jobs' connections, handshakes and all eight messages and replies: none of the \
             {} needles appears (job ids, message texts, the output name, the workflow id, the jobs' and the \
             scheduler's public keys; IK sends a job's static key encrypted, so not even who connects shows)",
            needles.len()
        ),
    ))
}

/// An active relay alters frames.
pub const BIT_FLIP: Harness = Harness {
    info: HarnessInfo {
        id: "s15-bit-flip",
        story: "S15",
        target: "scheduler",
        title: "an active relay flips a bit in a message's text, truncates a frame, swaps two frames and flips a bit in a reply, one tampering per connection, while a real job reports",
        defences: &[Defence::Driver(DriverCheck::NoiseTransport)],
        control: Control::WithoutEach,
        note: "transport frames carried in the clear after the handshake",
    },
    run: |w| Box::pin(bit_flip(w)),
};

fn flip_reports() -> Vec<JobBody> {
    let text = |t: &str| JobBody::Message {
        severity: Severity::Info,
        text: t.to_owned(),
    };
    vec![
        JobBody::Started,
        text("progress 0"),
        text("progress 1"),
        JobBody::Heartbeat,
        JobBody::Succeeded,
    ]
}

/// The `n`th connection's tampering: a flipped text bit, a truncation, a swap, a flipped
/// reply; later connections pass untouched so that the job can finish.
fn tampering(n: usize, text_at: usize) -> Tamper {
    match n {
        1 => Box::new(move |dir, i, mut frame| {
            if dir == Direction::ToScheduler && i == 2 && frame.len() > text_at {
                // 'p' becomes 'q': valid text, if nothing protects it.
                frame[text_at] ^= 1;
            }
            vec![frame]
        }),
        2 => Box::new(|dir, i, mut frame| {
            if dir == Direction::ToScheduler && i == 1 && frame.len() > 8 {
                let body = frame.len() - 2 - 5;
                frame.truncate(frame.len() - 5);
                frame[..2].copy_from_slice(&u16::try_from(body).unwrap_or(0).to_be_bytes());
            }
            vec![frame]
        }),
        3 => {
            let mut held: Option<Vec<u8>> = None;
            Box::new(move |dir, i, frame| match (dir, i) {
                (Direction::ToScheduler, 1) => {
                    held = Some(frame);
                    Vec::new()
                }
                (Direction::ToScheduler, 2) => std::iter::once(frame).chain(held.take()).collect(),
                _ => vec![frame],
            })
        }
        4 => Box::new(|dir, i, mut frame| {
            if dir == Direction::ToJob
                && i == 1
                && let Some(last) = frame.last_mut()
            {
                *last ^= 0x80;
            }
            vec![frame]
        }),
        _ => Box::new(|_, _, frame| vec![frame]),
    }
}

async fn bit_flip(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let plaintext = config.flaws.plaintext_transport;
    let (target, jobs) = Target::with_jobs(&config, &["h0"]).await?;
    let h0 = &jobs[0];
    // Where a `message`'s text starts in its frame: frame header, message header, claim,
    // severity, text length.
    let text_at = 2 + 10 + 1 + h0.id.to_string().len() + 1 + 2;
    let relay = Relay::start(target.addr(), move |n| tampering(n, text_at)).await?;
    let mut client = target.client(&h0.id);
    client.address = relay.addr;
    let sent = flip_reports();
    let run = tokio::time::timeout(
        Duration::from_secs(5),
        run_honest(&client, &h0.keypair, sent.clone(), plaintext),
    )
    .await;
    let events = target.events().await?;
    let stats = target.stats();
    target.shutdown().await;
    let got: Vec<JobBody> = accepted(&events, &h0.id).into_iter().map(|(_, b)| b.clone()).collect();
    let mut breaches = Vec::new();
    for (seq, (sent, got)) in (1..).zip(sent.iter().zip(&got)) {
        if sent != got {
            breaches.push(format!(
                "an altered message was accepted as #{seq}: {} where the job sent {}",
                describe(got),
                describe(sent)
            ));
        }
    }
    if got.len() != sent.len() && breaches.is_empty() {
        breaches.push(format!(
            "the scheduler accepted {} messages where the job sent {}",
            got.len(),
            sent.len()
        ));
    }
    match run {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => breaches.push(format!("the job could not finish: {e}")),
        Err(_) => breaches.push("the job did not finish within 5 s".to_owned()),
    }
    let detected = stats.connections_dropped;
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::NoiseTransport, stats.transport_failures),
        format!(
            "every tampered frame failed to decrypt and closed only its own connection (a flipped text bit, a \
             truncated frame and two swapped frames at the scheduler, a flipped reply at the job{}); the job \
             reconnected and retransmitted, and the event log holds exactly the {} messages it sent, each once",
            if detected >= 3 {
                ""
            } else {
                ", though fewer drops were counted than tamperings"
            },
            sent.len()
        ),
    ))
}

fn describe(body: &JobBody) -> String {
    match body {
        JobBody::Message { text, .. } => format!("message {text:?}"),
        JobBody::Failed(FailReason::Exit(code)) => format!("failed (exit {code})"),
        JobBody::Failed(FailReason::Signal(sig)) => format!("failed (signal {sig})"),
        JobBody::Output(name) => format!("output {name}"),
        other => other.kind_name().to_owned(),
    }
}

/// A man in the middle answering with its own keys.
pub const KEY_SUBSTITUTION: Harness = Harness {
    info: HarnessInfo {
        id: "s15-key-substitution",
        story: "S15",
        target: "scheduler",
        title: "a man in the middle takes the job's connections (the offer's address leads to it) and answers with its own key, relaying to the scheduler with another; the reference job program runs in-process over pipes",
        defences: &[Defence::Driver(DriverCheck::AuthenticatedBootstrap)],
        control: Control::WithoutEach,
        note: "the model's unauthenticated-bootstrap design run live: the offer and the key reply cross the network and the attacker substitutes its keys in both",
    },
    run: |w| Box::pin(key_substitution(w)),
};

/// What the man in the middle managed.
#[derive(Debug, Default)]
struct MitmLog {
    attempts: usize,
    opened: usize,
    read: Vec<String>,
    altered: Vec<String>,
}

struct Mitm {
    /// The key it answers jobs with.
    face: StaticKeypair,
    /// The key it hopes the scheduler registered for the job.
    back: StaticKeypair,
    upstream: SocketAddr,
    scheduler: PublicKey,
    log: Arc<Mutex<MitmLog>>,
}

impl Mitm {
    fn note(&self, f: impl FnOnce(&mut MitmLog)) {
        if let Ok(mut log) = self.log.lock() {
            f(&mut log);
        }
    }

    async fn serve(self, listener: TcpListener) {
        while let Ok((stream, _)) = listener.accept().await {
            self.note(|l| l.attempts += 1);
            // One job connection at a time: the reference job never opens two at once.
            let _ = tokio::time::timeout(Duration::from_secs(5), self.relay(stream)).await;
        }
    }

    async fn relay(&self, mut job: TcpStream) -> Option<()> {
        let wf = workflow();
        let mut reader = FrameReader::new(1024);
        let first = reader.read_frame(&mut job).await.ok()?;
        let mut responder = Responder::new(&self.face, &prologue(&wf)).ok()?;
        // With the job pinning the real scheduler key this fails: message 1 is encrypted to it.
        responder.read_first(&first).ok()?;
        self.note(|l| l.opened += 1);
        let (second, mut to_job) = responder.write_second().ok()?;
        write_frame(&mut job, &second).await.ok()?;
        reader.set_max(MAX_FRAME);
        let mut upstream = Session::open(self.upstream, &self.scheduler, &wf, &self.back)
            .await
            .ok()?;
        let mut plain = Vec::new();
        loop {
            let frame = reader.read_frame(&mut job).await.ok()?;
            to_job.decrypt(&frame, &mut plain).ok()?;
            let mut message = Message::decode(&plain).ok()?;
            if let Message::Job(m) = &mut message {
                self.note(|l| l.read.push(format!("{} #{}", describe(&m.body), m.seq)));
                if m.body == JobBody::Succeeded {
                    m.body = JobBody::Failed(FailReason::Exit(1));
                    self.note(|l| l.altered.push(format!("#{} succeeded into failed (exit 1)", m.seq)));
                }
            }
            upstream.send(&message).await.ok()?;
            let reply = upstream.reply(Duration::from_secs(2)).await.ok()?;
            plain.clear();
            reply.encode(&mut plain);
            let mut sealed = Vec::new();
            to_job.encrypt(&plain, &mut sealed).ok()?;
            write_frame(&mut job, &sealed).await.ok()?;
        }
    }
}

async fn key_substitution(w: Weakening) -> Result<Outcome, HarnessError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let mitm_addr = listener.local_addr()?;
    let (face, back) = (StaticKeypair::generate_from_os(), StaticKeypair::generate_from_os());
    let substitution = w.lacks(DriverCheck::AuthenticatedBootstrap).then(|| Substitution {
        scheduler_key: face.public(),
        address: mitm_addr.to_string(),
        job_key: back.public(),
    });
    let plan = JobPlan {
        messages: 2,
        fail: false,
        outputs: Vec::new(),
    };
    let launcher = PipeJobLauncher::new(plan, substitution);
    let mut config = TargetConfig::for_run(&w);
    // The network leads the job's connection to the attacker whatever the offer says.
    config.advertise = Some(mitm_addr.to_string());
    let target = Target::start_with(&config, Arc::new(launcher), PresetKeyLauncher::default()).await?;
    let log = Arc::new(Mutex::new(MitmLog::default()));
    tokio::spawn(
        Mitm {
            face,
            back,
            upstream: target.addr(),
            scheduler: target.key(),
            log: Arc::clone(&log),
        }
        .serve(listener),
    );
    let h0 = job("h0")?;
    target.handle.launch(spec(&h0)?).await?;
    // Long enough for the job to finish through the relay, or for three attempts to fail.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    loop {
        let state = target.state(&h0).await?;
        let attempts = log.lock().map(|l| l.attempts).unwrap_or(0);
        if state.is_some_and(JobState::is_terminal) || attempts >= 3 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = target.events().await?;
    let state = target.state(&h0).await?;
    target.shutdown().await;
    let log = log.lock().map(|l| MitmLog {
        attempts: l.attempts,
        opened: l.opened,
        read: l.read.clone(),
        altered: l.altered.clone(),
    });
    let log = log.map_err(|_| HarnessError::setup("the relay's log is unreadable"))?;
    if log.attempts == 0 {
        return Err(HarnessError::setup("the job never reached the man in the middle"));
    }
    let recorded_failed = events
        .iter()
        .any(|e| matches!(e, Event::Accepted { job, body: JobBody::Failed(_), .. } if *job == h0));
    let mut breaches = Vec::new();
    if log.opened > 0 {
        breaches.push(format!(
            "the job completed a handshake with the attacker's key (the bootstrap told it to pin it) and the \
             scheduler served the attacker's key as {h0}'s"
        ));
    }
    if !log.read.is_empty() {
        breaches.push(format!(
            "the relay read every message in the clear: {}",
            log.read.join(", ")
        ));
    }
    if recorded_failed && !log.altered.is_empty() {
        breaches.push(format!(
            "the relay altered {} and the scheduler recorded {h0} {} although it reported succeeded",
            log.altered.join(", "),
            state.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
        ));
    }
    // authenticated-bootstrap acted on every handshake the man in the middle could not open.
    let pinned = (log.attempts - log.opened.min(log.attempts)) as u64;
    Ok(Outcome::judge(
        breaches,
        &Fired::count(DriverCheck::AuthenticatedBootstrap, pinned),
        format!(
            "the job pinned the scheduler key from its offer, which came over the launch channel: the relay \
             answering with its own key could not open any of the job's first messages (they are encrypted to the \
             pinned key), learnt neither the job's identity nor any message, and nothing reached the scheduler \
             through it ({h0} is still {})",
            state.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
        ),
    ))
}
