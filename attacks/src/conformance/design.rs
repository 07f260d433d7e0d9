//! The real system's counterparts of design variants that have no weakened build.

use std::sync::Arc;
use std::time::Duration;

use protocol_core::bootstrap::KeyReply;
use protocol_core::scheduler::{Event, JobState, RevokeReason};
use protocol_core::wire::JobBody;
use protocol_net::job_program::JobPlan;
use testkit::PresetKeyLauncher;
use tokio::net::TcpListener;

use super::Verdict;
use crate::harness::HarnessError;
use crate::live::launch::PipeJobLauncher;
use crate::live::peer::{Heard, Session, Talker};
use crate::live::relay::Relay;
use crate::live::scan;
use crate::live::target::{Target, TargetConfig, job, read_events, spec, workflow};
use crate::run::on_fresh_runtime;

/// Cylc 7 shipped each job's private key to a file on the job host. The real design makes no
/// such key: run the real scheduler and the reference job program end to end, recording the
/// bootstrap channel and the network, and search every byte written or sent for the
/// scheduler's private key; check the job's key reply carries its public key and nothing else.
pub fn no_private_key_anywhere() -> Result<Verdict, HarnessError> {
    on_fresh_runtime(Duration::from_secs(20), scan_run())
}

async fn scan_run() -> Result<Verdict, HarnessError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let mut config = TargetConfig::real();
    config.advertise = Some(listener.local_addr()?.to_string());
    let launcher = PipeJobLauncher::new(
        JobPlan {
            messages: 1,
            fail: false,
            outputs: Vec::new(),
        },
        None,
    );
    let target = Target::start_with(&config, Arc::new(launcher.clone()), PresetKeyLauncher::default()).await?;
    let relay = Relay::passive_on(listener, target.addr())?;
    let h0 = job("h0")?;
    target.handle.launch(spec(&h0)?).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !target.state(&h0).await?.is_some_and(JobState::is_terminal) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = target.state(&h0).await?;
    let events = target.events().await?;
    let secret = *target.stolen_secret();
    let dir = target.dir().to_path_buf();
    let files: Vec<(String, Vec<u8>)> = scan::files_under(&dir)
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&dir).unwrap_or(&p).display().to_string();
            std::fs::read(&p).map(|bytes| (name, bytes))
        })
        .collect::<Result<_, _>>()?;
    target.shutdown().await;
    if state != Some(JobState::Succeeded) {
        return Err(HarnessError::setup("the reference job did not finish"));
    }
    let needles = scan::secret_forms("the scheduler's private key", &secret);
    let bootstrap = launcher.bootstrap_bytes();
    let network = relay.captured();
    let mut places: Vec<(String, Vec<u8>)> = files;
    places.push(("the bootstrap channel".into(), bootstrap.clone()));
    places.push(("the network".into(), network));
    let leaks: Vec<String> = places
        .iter()
        .flat_map(|(place, bytes)| {
            scan::found(bytes, &needles)
                .into_iter()
                .map(move |n| format!("{n} in {place}"))
        })
        .collect();
    let registered = events.iter().find_map(|e| match e {
        Event::Registered { job, key } if *job == h0 => Some(*key),
        _ => None,
    });
    let reply = bootstrap
        .split(|b| *b == b'\n')
        .nth(1)
        .and_then(|line| serde_json::from_slice::<KeyReply>(line).ok());
    let reply_is_public_key = matches!((&reply, registered), (Some(r), Some(k)) if r.job_key == k.to_hex());
    // The scan can find keys when they are there: the job's public key is in the event log.
    let scan_works = registered.is_some_and(|k| {
        places
            .iter()
            .any(|(_, bytes)| scan::contains(bytes, k.to_hex().as_bytes()))
    });
    Ok(if !leaks.is_empty() {
        Verdict::Diverged {
            evidence: format!("private key material found: {}", leaks.join(", ")),
        }
    } else if !reply_is_public_key || !scan_works {
        Verdict::Diverged {
            evidence: "the job's key reply did not carry exactly its registered public key, or the scan could not \
                       find that public key"
                .into(),
        }
    } else {
        Verdict::Counterpart {
            evidence: format!(
                "a real scheduler and the reference job program ran end to end: the scheduler's private key \
                 (raw, hex, HEX) appears in none of the {} file(s) it wrote, nor on the bootstrap channel, nor on the \
                 network; the job's key reply carried only its public key (the one registered), so its private key \
                 never left the job; the same scan finds that public key in the event log",
                places.len() - 2
            ),
        }
    })
}

/// The real design's answer to an unauthenticated bootstrap: the `s15-key-substitution`
/// harness, run live.
#[must_use]
pub fn authenticated_bootstrap() -> Verdict {
    let result = crate::run::run_harness(&crate::channel::s15::KEY_SUBSTITUTION);
    match result.failure() {
        None => Verdict::Counterpart {
            evidence: format!(
                "s15-key-substitution, live: with the offer and the key reply on the launch channel — {}; with both \
                 on the network (this variant) — {}",
                result.real.detail(),
                result.control.detail()
            ),
        },
        Some(why) => Verdict::Diverged {
            evidence: format!("s15-key-substitution did not pass: {why}"),
        },
    }
}

/// The real driver's answer to the durability flaws: every answer waits for the event it
/// answers. Run the real scheduler, send a job's whole lifecycle and revoke another job, and
/// the moment each answer arrives read the event log from disk (without asking the scheduler
/// to sync): the acceptance, or the revocation, must already be written there. Written is what
/// the file shows; that the writer syncs before it releases anything is `write_until_durable`
/// in the driver, not something a reader of the file can see.
pub fn answers_follow_their_events() -> Result<Verdict, HarnessError> {
    on_fresh_runtime(Duration::from_secs(20), durable_answers())
}

async fn durable_answers() -> Result<Verdict, HarnessError> {
    let (target, jobs) = Target::with_jobs(&TargetConfig::real(), &["h0", "c"]).await?;
    let (h0, c) = (&jobs[0], &jobs[1]);
    let session = Session::open(target.addr(), &target.key(), &workflow(), &h0.keypair)
        .await
        .map_err(|e| HarnessError::setup(format!("the job could not connect: {e}")))?;
    let mut talker = Talker::new(session, h0.id.clone());
    let mut early = Vec::new();
    let bodies = [JobBody::Started, JobBody::Heartbeat, JobBody::Succeeded];
    for (seq, body) in (1..).zip(bodies) {
        if talker.say(body).await != Heard::Ack {
            target.shutdown().await;
            return Err(HarnessError::setup(format!("message {seq} was not acknowledged")));
        }
        let logged = read_events(target.log_path())?;
        if !logged
            .iter()
            .any(|e| matches!(e, Event::Accepted { job, seq: s, .. } if *job == h0.id && *s == seq))
        {
            early.push(format!("the ack of message {seq}"));
        }
    }
    let revoked = target.handle.revoke(c.id.clone()).await?;
    let logged = read_events(target.log_path())?;
    target.shutdown().await;
    if !revoked {
        return Err(HarnessError::setup("the revocation was refused"));
    }
    if !logged
        .iter()
        .any(|e| matches!(e, Event::Revoked { job, reason: RevokeReason::Operator } if *job == c.id))
    {
        early.push("the operator's revocation answer".into());
    }
    Ok(if early.is_empty() {
        Verdict::Counterpart {
            evidence: "a real scheduler acknowledged a job's started, heartbeat and succeeded, and answered an \
                       operator's revocation of another job; read from disk the moment each answer arrived, the \
                       event log already held the acceptance or the revocation it answered"
                .into(),
        }
    } else {
        Verdict::Diverged {
            evidence: format!("answered before its event was in the log: {}", early.join(", ")),
        }
    })
}
