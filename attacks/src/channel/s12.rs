//! S12 — as a malicious job I would like to send messages that affect other jobs and suites.
//!
//! The attacker controls one job completely: it holds that job's private key, answers that
//! job's bootstrap as it likes (real child processes here), and sends whatever it wants. It
//! must not be able to act as another job ([`COMPROMISED_JOB`]), keep acting after its own end
//! ([`AFTER_TERMINAL`]) or revocation ([`AFTER_REVOCATION`]), or register a key it should not
//! ([`LOW_ORDER_KEY`], [`COPIED_KEY`], [`LATE_KEY`]).

use std::sync::Arc;
use std::time::Duration;

use protocol_core::scheduler::{Event, JobState};
use protocol_core::wire::{FailReason, JobBody, OutputName, RejectCode, Severity};
use protocol_core::{Check, JobId, Millis, StaticKeypair};

use protocol::Defence;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::launch::RouteLauncher;
use crate::live::peer::{Heard, Session, Talker, lifecycle, message, run_honest};
use crate::live::target::{JobKey, Target, TargetConfig, job, refusals, spec, workflow};
use crate::live::wait_for;

async fn open(target: &Target, job: &JobKey) -> Result<Session, HarnessError> {
    Session::open(target.addr(), &target.key(), &workflow(), &job.keypair)
        .await
        .map_err(|e| HarnessError::setup(format!("{} could not connect: {e}", job.id)))
}

fn state_name(state: Option<JobState>) -> String {
    state.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
}

/// A compromised job claims another job's identity.
pub const COMPROMISED_JOB: Harness = Harness {
    info: HarnessInfo {
        id: "s12-compromised-job",
        story: "S12",
        target: "scheduler",
        title: "a compromised job, on its own authenticated connection, claims to be another job and reports it started, then succeeded",
        defences: &[Defence::Channel(Check::BoundIdentity)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(compromised_job(w)),
};

async fn compromised_job(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["h0", "c"]).await?;
    let (h0, c) = (&jobs[0], &jobs[1]);
    let mut talker = Talker::new(open(&target, c).await?, c.id.clone());
    // The victim's sequence numbers, as the attacker guesses them: from 1.
    let mut victim_seq = 1;
    let mut mismatches = 0;
    let mut taken = Vec::new();
    for body in [JobBody::Started, JobBody::Succeeded] {
        let kind = body.kind_name();
        match talker.send(&message(&h0.id, victim_seq, body)).await {
            Heard::Ack => {
                victim_seq += 1;
                taken.push(kind);
            }
            Heard::Rejected(RejectCode::IdentityMismatch) => mismatches += 1,
            other => return Err(HarnessError::setup(format!("unexpected answer: {other:?}"))),
        }
    }
    let victim_state = target.state(&h0.id).await?;
    let honest = run_honest(&target.client(&h0.id), &h0.keypair, lifecycle(1), false).await;
    let stats = target.stats();
    target.shutdown().await;
    let mut breaches = Vec::new();
    if !taken.is_empty() {
        breaches.push(format!(
            "{}'s key reported {} as {}, which the scheduler marked {}",
            c.id,
            taken.join(" and "),
            h0.id,
            state_name(victim_state)
        ));
    }
    if let Err(e) = honest {
        breaches.push(format!("{}'s own reports were then refused: {e}", h0.id));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::BoundIdentity, refusals(&stats, Check::BoundIdentity)),
        format!(
            "bound-identity refused: message claims {} but the key is bound to {} (rejected: identity mismatch, \
             {mismatches} times; bound-identity refusals counted: {}); {} was untouched and finished on its own reports",
            h0.id,
            c.id,
            refusals(&stats, Check::BoundIdentity),
            h0.id
        ),
    ))
}

/// A compromised job keeps talking after its final message.
pub const AFTER_TERMINAL: Harness = Harness {
    info: HarnessInfo {
        id: "s12-after-terminal",
        story: "S12",
        target: "scheduler",
        title: "a compromised job reports succeeded, then keeps sending (heartbeat, message, output, failed, started), also on a new connection",
        defences: &[Defence::Channel(Check::AllowedType)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(after_terminal(w)),
};

fn after_bodies() -> Result<Vec<JobBody>, HarnessError> {
    Ok(vec![
        JobBody::Heartbeat,
        JobBody::Message {
            severity: Severity::Critical,
            text: "still here".into(),
        },
        JobBody::Output(OutputName::new(crate::live::target::DECLARED_OUTPUT).map_err(HarnessError::setup)?),
        JobBody::Failed(FailReason::Exit(1)),
        JobBody::Started,
    ])
}

async fn after_terminal(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["c"]).await?;
    let c = &jobs[0];
    let mut talker = Talker::new(open(&target, c).await?, c.id.clone());
    for body in [JobBody::Started, JobBody::Succeeded] {
        if talker.say(body).await != Heard::Ack {
            return Err(HarnessError::setup(
                "the compromised job's own life was not acknowledged",
            ));
        }
    }
    let mut refused = 0;
    for body in after_bodies()? {
        if talker.say(body).await == Heard::Rejected(RejectCode::TypeNotAllowed) {
            refused += 1;
        }
    }
    // A finished job's handshake still completes (to collect missed acknowledgements).
    talker.session = open(&target, c).await?;
    if talker.say(JobBody::Heartbeat).await == Heard::Rejected(RejectCode::TypeNotAllowed) {
        refused += 1;
    }
    let events = target.events().await?;
    let state = target.state(&c.id).await?;
    let stats = target.stats();
    target.shutdown().await;
    let after: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Accepted { job, body, .. } if *job == c.id => Some(body.kind_name()),
            _ => None,
        })
        .skip_while(|k| *k != "succeeded")
        .skip(1)
        .collect();
    let mut breaches = Vec::new();
    if !after.is_empty() {
        breaches.push(format!(
            "after its final message {} still made {} take effect, and is now {}",
            c.id,
            after.join(", "),
            state_name(state)
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::AllowedType, refusals(&stats, Check::AllowedType)),
        format!(
            "allowed-type refused all {refused} messages sent after succeeded, on the old connection and a new one \
             (rejected: type not allowed; allowed-type refusals counted: {}); the job stays succeeded",
            refusals(&stats, Check::AllowedType)
        ),
    ))
}

/// A compromised job carries on after the defender revoked it.
pub const AFTER_REVOCATION: Harness = Harness {
    info: HarnessInfo {
        id: "s12-after-revocation",
        story: "S12",
        target: "scheduler",
        title: "a compromised job whose key the defender revoked reconnects and reports failed and heartbeats",
        defences: &[Defence::Channel(Check::AuthenticatedKey)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(after_revocation(w)),
};

async fn after_revocation(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["c"]).await?;
    let c = &jobs[0];
    let mut talker = Talker::new(open(&target, c).await?, c.id.clone());
    if talker.say(JobBody::Started).await != Heard::Ack {
        return Err(HarnessError::setup(
            "the compromised job's started was not acknowledged",
        ));
    }
    target.handle.revoke(c.id.clone()).await?;
    let closed = talker.session.closed_by_peer(Duration::from_secs(1)).await;
    let reconnected = Session::open(target.addr(), &target.key(), &workflow(), &c.keypair).await;
    let mut heard = Vec::new();
    let answered = reconnected.is_ok();
    if let Ok(session) = reconnected {
        talker.session = session;
        for body in [JobBody::Heartbeat, JobBody::Failed(FailReason::Signal(9))] {
            let kind = body.kind_name();
            if talker.say(body).await == Heard::Ack {
                heard.push(kind);
            }
        }
    }
    let events = target.events().await?;
    let state = target.state(&c.id).await?;
    let stats = target.stats();
    target.shutdown().await;
    let after_revocation = events
        .iter()
        .skip_while(|e| !matches!(e, Event::Revoked { job, .. } if *job == c.id))
        .filter(|e| matches!(e, Event::Accepted { job, .. } if *job == c.id))
        .count();
    let mut breaches = Vec::new();
    if !closed {
        breaches.push("the revoked job's open connection stayed open".to_owned());
    }
    if answered {
        breaches.push("the scheduler answered the revoked key's next handshake".to_owned());
    }
    if after_revocation > 0 {
        breaches.push(format!(
            "{after_revocation} messages from the revoked key took effect ({}); {} is now {}",
            heard.join(", "),
            c.id,
            state_name(state)
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::AuthenticatedKey, refusals(&stats, Check::AuthenticatedKey)),
        format!(
            "authenticated-key: the revoked job's open connection was closed at once and its next handshake got no \
             answer (authenticated-key refusals counted: {}); nothing from it took effect after the revocation",
            refusals(&stats, Check::AuthenticatedKey)
        ),
    ))
}

/// Shell scripts that answer the bootstrap like a compromised job.
fn answer_with(key_hex: &str) -> String {
    format!(r#"read offer; echo '{{"v":1,"job_key":"{key_hex}"}}'; read verdict"#)
}

async fn launch_scripted(
    config: &TargetConfig,
    route: RouteLauncher,
    victim: Option<&JobKey>,
    c: &JobId,
) -> Result<Target, HarnessError> {
    let target = Target::start_with(config, Arc::new(route.clone()), route.presets.clone()).await?;
    if let Some(v) = victim {
        target.register(&v.id, v.keypair.public()).await?;
        if target.settled(&v.id, Duration::from_secs(3)).await? != Some(JobState::Submitted) {
            return Err(HarnessError::setup("the honest job was not registered"));
        }
    }
    target.handle.launch(spec(c)?).await?;
    Ok(target)
}

/// A compromised job registers a low-order point.
pub const LOW_ORDER_KEY: Harness = Harness {
    info: HarnessInfo {
        id: "s12-low-order-key",
        story: "S12",
        target: "scheduler",
        title: "a compromised job's process answers its bootstrap with a low-order point (all zeros) as its key",
        defences: &[Defence::Channel(Check::KeyValidation)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(low_order_key(w)),
};

async fn low_order_key(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let c = job("c")?;
    let zero = "0".repeat(64);
    let route = RouteLauncher::default().with_script(&c, &answer_with(&zero), false);
    let target = launch_scripted(&config, route, None, &c).await?;
    let state = target.settled(&c, Duration::from_secs(3)).await?;
    let events = target.events().await?;
    let stats = target.stats();
    target.shutdown().await;
    let registered = events
        .iter()
        .any(|e| matches!(e, Event::Registered { job, key } if *job == c && key.as_bytes() == &[0u8; 32]));
    let mut breaches = Vec::new();
    if registered {
        breaches.push(format!(
            "the scheduler registered the low-order point 00…00 as {c}'s key: its Diffie-Hellman results are \
             predictable without any private key (job is {})",
            state_name(state)
        ));
    }
    if state != Some(JobState::LaunchFailed) && !registered {
        breaches.push(format!("{c} is {} instead of launch-failed", state_name(state)));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::KeyValidation, refusals(&stats, Check::KeyValidation)),
        format!(
            "key-validation refused the low-order key (key-validation refusals counted: {}); the launch failed and \
             nothing was registered",
            refusals(&stats, Check::KeyValidation)
        ),
    ))
}

/// A compromised job registers an honest job's public key.
pub const COPIED_KEY: Harness = Harness {
    info: HarnessInfo {
        id: "s12-copied-key",
        story: "S12",
        target: "scheduler",
        title: "a compromised job's process answers its bootstrap with an honest job's public key, then the honest job reports",
        defences: &[Defence::Channel(Check::UniqueKey)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(copied_key(w)),
};

async fn copied_key(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let h0 = JobKey {
        id: job("h0")?,
        keypair: StaticKeypair::generate_from_os(),
    };
    let c = job("c")?;
    let route = RouteLauncher::default().with_script(&c, &answer_with(&h0.keypair.public().to_hex()), false);
    let target = launch_scripted(&config, route, Some(&h0), &c).await?;
    let state = target.settled(&c, Duration::from_secs(3)).await?;
    let honest = run_honest(&target.client(&h0.id), &h0.keypair, lifecycle(1), false).await;
    let victim = target.state(&h0.id).await?;
    let stats = target.stats();
    target.shutdown().await;
    let mut breaches = Vec::new();
    if state != Some(JobState::LaunchFailed) {
        breaches.push(format!(
            "{c} registered {}'s public key as its own (it is {})",
            h0.id,
            state_name(state)
        ));
    }
    if let Err(e) = honest {
        breaches.push(format!(
            "{}'s key is now bound to {c}: its own reports are refused ({e}) and it is stuck {}",
            h0.id,
            state_name(victim)
        ));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::UniqueKey, refusals(&stats, Check::UniqueKey)),
        format!(
            "unique-key refused the copied key (unique-key refusals counted: {}); {c}'s launch failed and {} kept its \
             binding and finished on its own reports",
            refusals(&stats, Check::UniqueKey),
            h0.id
        ),
    ))
}

/// The bootstrap deadline on the late-key target.
const BOOTSTRAP_DEADLINE: Duration = Duration::from_millis(300);

/// A compromised job answers its bootstrap after the deadline.
pub const LATE_KEY: Harness = Harness {
    info: HarnessInfo {
        id: "s12-late-key",
        story: "S12",
        target: "scheduler",
        title: "a compromised job's process holds its bootstrap channel open past the 300 ms deadline (on the core's clock, moved by the harness), then answers with a key",
        defences: &[Defence::Channel(Check::BootstrapDeadline)],
        control: Control::WithoutEach,
        note: "both runs use a launcher that waits for the answer however long it takes, so the core's check alone decides (the real launcher enforces the same deadline again)",
    },
    run: |w| Box::pin(late_key(w)),
};

async fn late_key(w: Weakening) -> Result<Outcome, HarnessError> {
    // The core's time is a manual clock: the harness moves it past the deadline instead of
    // sleeping, and the job's process answers only when told to.
    let clock = testkit::ManualClock::new(Millis::now());
    let mut config = TargetConfig::for_run(&w);
    config.bootstrap_timeout = BOOTSTRAP_DEADLINE;
    config.clock = Some(Arc::new(clock.clone()));
    let c = job("c")?;
    let key = StaticKeypair::generate_from_os().public().to_hex();
    let dir = tempfile::tempdir()?;
    let (go, marker) = (dir.path().join("go"), dir.path().join("answered"));
    let script = format!(
        r#"read offer; while [ ! -e '{}' ]; do sleep 0.01; done; touch '{}'; echo '{{"v":1,"job_key":"{key}"}}'; read verdict"#,
        go.display(),
        marker.display()
    );
    // The launcher waits for the answer however long it takes: only the core's check decides.
    let route = RouteLauncher::default().with_script(&c, &script, true);
    let target = launch_scripted(&config, route, None, &c).await?;
    clock.advance(BOOTSTRAP_DEADLINE * 3);
    target.handle.tick().await?;
    std::fs::write(&go, b"")?;
    if !wait_for(Duration::from_secs(5), || marker.exists()).await {
        return Err(HarnessError::setup("the job's process never answered"));
    }
    let state = target.settled(&c, Duration::from_secs(2)).await?;
    // Until the answer has been judged: the process is told (or killed) and reaped.
    if !wait_for(Duration::from_secs(5), || {
        target.handle.exits().iter().any(|(j, _)| *j == c)
    })
    .await
    {
        return Err(HarnessError::setup("the job's process was never reaped"));
    }
    let events = target.events().await?;
    let stats = target.stats();
    target.shutdown().await;
    let registered = events
        .iter()
        .any(|e| matches!(e, Event::Registered { job, .. } if *job == c));
    let failed_at_deadline = events
        .iter()
        .any(|e| matches!(e, Event::LaunchFailed { job, .. } if *job == c));
    let mut breaches = Vec::new();
    if registered {
        breaches.push(format!(
            "the scheduler registered a key that arrived after the 300 ms deadline had passed by 600 ms (job is {})",
            state_name(state)
        ));
    }
    if !failed_at_deadline && !registered {
        breaches.push(format!("{c}'s launch neither failed nor registered"));
    }
    Ok(Outcome::judge(
        breaches,
        // The core fails the launch at the deadline (and would refuse the late reply).
        &Fired::count(
            Check::BootstrapDeadline,
            refusals(&stats, Check::BootstrapDeadline) + u64::from(failed_at_deadline),
        ),
        "bootstrap-deadline: the launch failed at the deadline; the key the job's process answered with \
         afterwards was never registered",
    ))
}
