//! Sequences of operations on the scheduler core (`SchedulerCore`), structure-aware: the input
//! is decoded (`arbitrary`) into launches, bootstrap replies, launch failures, timers, clock
//! jumps, revocations, handshakes, job messages (built, or decoded from raw bytes as a peer
//! would send them), UI-server registrations, revocations and commands, and restarts from
//! the event log. After every operation the core's documented invariants are checked against
//! a shadow the harness keeps:
//!
//! * no message is accepted (takes effect) twice; a duplicate acknowledgement is only ever
//!   for the very message accepted under that sequence number, and has no effect;
//! * a job's sequence numbers only increase, one at a time (`fresh-sequence`), and a UI
//!   server's too;
//! * a message takes effect only on the job its key is bound to (`bound-identity`), a key is
//!   bound to one job for ever (`unique-key`), and nothing is accepted from a revoked key or
//!   client (`authenticated-key`);
//! * a terminal job never changes state or outputs again; completed outputs are the declared
//!   ones plus the standard ones, and match the state (`valid-transition`, `allowed-type`);
//! * a key is bound exactly when the launch got past bootstrap; only valid keys are bound
//!   (`key-validation`); a non-empty first payload is always refused (`empty-first-payload`);
//! * a refused input changes nothing; every acceptance is logged once, in order, before the
//!   key retirement it causes;
//! * the launch timer is set exactly while a launch waits, never in the past after the timer
//!   ran, and the cap on live jobs holds;
//! * restoring a fresh core from the events logged so far (through the event log's JSON
//!   encoding) rebuilds exactly the same state;
//! * no input panics.
//!
//! It also checks that no key is ever both a job's and a UI server's (keys are unique across
//! jobs and clients). This target found that job registration once checked only other jobs'
//! keys, so a job could register a UI server's key; the seed
//! `finding-client-key-registered-as-job-key` reproduces it, and the core now refuses it
//! (`RegistrationError::ClientKey`).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use protocol_core::keys::{KEY_LEN, LOW_ORDER_POINTS, StaticKeypair, validate_public_key};
use protocol_core::scheduler::{
    Accepted, ClientRegistrationError, Event, JobSpec, JobState, LaunchError, RegistrationError, Rejected,
    RevokeReason, SchedulerConfig, SchedulerCore,
};
use protocol_core::wire::{ClientCommand, CommandOp, FailReason, JobBody, JobMessage, Message, OutputName, Severity};
use protocol_core::{JobId, Millis, Owner, PublicKey, WorkflowId};
use protocol_net::eventlog::EventLog;
use zeroize::Zeroizing;

const TASKS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const OUTPUT_NAMES: [&str; 5] = ["file-ready", "done", "other", "succeeded", "started"];
const STANDARD: [&str; 3] = ["started", "succeeded", "failed"];
const OWNERS: [&str; 3] = ["alice", "bob", "jacintar"];

fn workflow() -> WorkflowId {
    WorkflowId::new("alice", "wf").expect("valid")
}

/// Eight valid keys, made once.
fn pool() -> &'static [PublicKey; 8] {
    static POOL: std::sync::OnceLock<[PublicKey; 8]> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        std::array::from_fn(|i| {
            let secret: [u8; KEY_LEN] = std::array::from_fn(|j| (i as u8).wrapping_mul(37).wrapping_add(j as u8 + 1));
            StaticKeypair::from_secret(Zeroizing::new(secret)).public()
        })
    })
}

#[derive(Arbitrary, Debug, Clone)]
enum KeySel {
    Pool(u8),
    LowOrder(u8),
    Raw([u8; KEY_LEN]),
}

impl KeySel {
    fn bytes(&self) -> [u8; KEY_LEN] {
        match self {
            Self::Pool(i) => *pool()[usize::from(*i) % 8].as_bytes(),
            Self::LowOrder(i) => LOW_ORDER_POINTS[usize::from(*i) % LOW_ORDER_POINTS.len()],
            Self::Raw(b) => *b,
        }
    }

    /// The key as a completed Noise handshake hands it over: validated (`read_first` refuses
    /// anything else), so only valid keys ever reach `handle_handshake` and `handle_message`.
    fn peer(&self) -> Option<PublicKey> {
        validate_public_key(&self.bytes()).ok()
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum JobSel {
    Task {
        task: u8,
        cycle: u8,
        submit: u8,
    },
    /// A job of another workflow.
    Foreign,
}

impl JobSel {
    fn id(&self) -> JobId {
        match self {
            Self::Task { task, cycle, submit } => JobId::new(
                workflow(),
                ["1", "2"][usize::from(*cycle % 2)],
                TASKS[usize::from(*task) % TASKS.len()],
                submit % 2 + 1,
            )
            .expect("valid"),
            Self::Foreign => JobId::new(WorkflowId::new("bob", "wf").expect("valid"), "1", "a", 1).expect("valid"),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SeqSel {
    Next,
    Same,
    Back(u8),
    Ahead(u8),
    Raw(u64),
}

impl SeqSel {
    fn seq(self, last: u64) -> u64 {
        match self {
            Self::Next => last.saturating_add(1),
            Self::Same => last,
            Self::Back(n) => last.saturating_sub(u64::from(n)),
            Self::Ahead(n) => last.saturating_add(2 + u64::from(n)),
            Self::Raw(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum BodySel {
    Started,
    Succeeded,
    Exit(u8),
    Signal(u8),
    Message { severity: u8, text: String },
    Output(u8),
    Heartbeat,
}

impl BodySel {
    fn body(&self) -> Option<JobBody> {
        Some(match self {
            Self::Started => JobBody::Started,
            Self::Succeeded => JobBody::Succeeded,
            Self::Exit(c) => JobBody::Failed(FailReason::Exit(*c)),
            Self::Signal(s) => JobBody::Failed(FailReason::Signal(*s)),
            Self::Message { severity, text } => JobBody::Message {
                severity: [
                    Severity::Debug,
                    Severity::Info,
                    Severity::Warning,
                    Severity::Error,
                    Severity::Critical,
                ][usize::from(*severity % 5)],
                text: text.clone(),
            },
            Self::Output(i) => JobBody::Output(OutputName::new(OUTPUT_NAMES[usize::from(*i) % 5]).ok()?),
            Self::Heartbeat => JobBody::Heartbeat,
        })
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum TargetSel {
    All,
    Cycle(u8),
    Task(u8, u8),
    Raw(String),
}

impl TargetSel {
    fn text(&self) -> String {
        match self {
            Self::All => "*".into(),
            Self::Cycle(c) => ["1", "2", "9"][usize::from(*c % 3)].into(),
            Self::Task(c, t) => format!("{}/{}", ["1", "2"][usize::from(*c % 2)], TASKS[usize::from(*t) % 6]),
            Self::Raw(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Launch {
        job: JobSel,
        outputs: u8,
    },
    BootstrapReply {
        job: JobSel,
        key: KeySel,
    },
    LaunchFailed {
        job: JobSel,
    },
    Advance {
        ms: u32,
    },
    Jump {
        to: u64,
    },
    Timeout,
    Revoke {
        job: JobSel,
    },
    Handshake {
        key: KeySel,
        payload: Vec<u8>,
    },
    Job {
        key: KeySel,
        claim: JobSel,
        seq: SeqSel,
        body: BodySel,
    },
    /// Bytes as a peer would send them, decoded first.
    Wire {
        key: KeySel,
        bytes: Vec<u8>,
    },
    RegisterClient {
        key: KeySel,
        owner: u8,
    },
    RevokeClient {
        key: KeySel,
    },
    Command {
        key: KeySel,
        actor: u8,
        seq: SeqSel,
        op: u8,
        target: TargetSel,
    },
    Restart,
}

#[derive(Arbitrary, Debug)]
struct Input {
    window: u8,
    cap: Option<u8>,
    ops: Vec<Op>,
}

/// What the harness remembers independently of the core.
#[derive(Default)]
struct Shadow {
    now: u64,
    /// Every event the core produced, in order (the event log).
    log: Vec<Event>,
    /// The launch spec of each job that began.
    specs: BTreeMap<JobId, BTreeSet<String>>,
    /// (job, seq) → the encoding of the message accepted under it.
    accepted: BTreeMap<(JobId, u64), Vec<u8>>,
    /// Each job's highest accepted sequence number.
    last_seq: BTreeMap<JobId, u64>,
    /// Each bound key's job.
    bound: BTreeMap<PublicKey, JobId>,
    revoked: BTreeSet<PublicKey>,
    /// Terminal jobs: their state and outputs when they became terminal.
    terminal: BTreeMap<JobId, (JobState, BTreeSet<String>)>,
    /// Registered UI servers: owner, last command sequence, revoked.
    clients: BTreeMap<PublicKey, (Owner, u64, bool)>,
    commands: u64,
    cap: Option<u32>,
}

fn job_message(claim: &JobId, seq: u64, body: JobBody) -> Option<Message> {
    let m = Message::Job(JobMessage {
        seq,
        claim: claim.clone(),
        body,
    });
    // Only what the decoder lets through reaches the core from a peer.
    Message::decode(&m.to_bytes()).ok()
}

fn drain(core: &mut SchedulerCore, shadow: &mut Shadow) -> Vec<Event> {
    let events: Vec<Event> = std::iter::from_fn(|| core.poll_event()).collect();
    shadow.log.extend(events.iter().cloned());
    events
}

/// A job or client message from `peer`, with every check on its verdict.
fn deliver(core: &mut SchedulerCore, shadow: &mut Shadow, peer: PublicKey, message: Message) {
    let before = core.clone();
    let bytes = message.to_bytes();
    let verdict = core.handle_message(Millis(shadow.now), &peer, message.clone());
    let events = drain(core, shadow);
    match &verdict {
        Ok(Accepted::New { job, seq }) => {
            let Message::Job(m) = &message else {
                panic!("a command was accepted as a job message")
            };
            assert_eq!(
                shadow.bound.get(&peer),
                Some(job),
                "accepted for a job the key is not bound to"
            );
            assert_eq!(&m.claim, job, "accepted a message claiming another job");
            assert!(!shadow.revoked.contains(&peer), "accepted from a revoked key");
            assert!(
                !shadow.terminal.contains_key(job),
                "a terminal job accepted a new message"
            );
            let last = shadow.last_seq.get(job).copied().unwrap_or(0);
            assert_eq!(*seq, last + 1, "sequence numbers must go up one at a time");
            assert!(
                shadow.accepted.insert((job.clone(), *seq), bytes).is_none(),
                "a message was accepted twice"
            );
            shadow.last_seq.insert(job.clone(), *seq);
            // The acceptance is logged first, then (for a final message) the key's retirement.
            match events.as_slice() {
                [Event::Accepted { job: j, seq: s, body }] => {
                    assert!(j == job && s == seq && body == &m.body);
                    assert!(!matches!(body, JobBody::Succeeded | JobBody::Failed(_)));
                }
                [
                    Event::Accepted { job: j, seq: s, body },
                    Event::Revoked {
                        job: r,
                        reason: RevokeReason::Terminal,
                    },
                ] => {
                    assert!(j == job && s == seq && r == job && body == &m.body);
                    assert!(matches!(body, JobBody::Succeeded | JobBody::Failed(_)));
                }
                other => panic!("an acceptance logged {other:?}"),
            }
        }
        Ok(Accepted::Duplicate { job, seq }) => {
            assert_eq!(
                shadow.accepted.get(&(job.clone(), *seq)),
                Some(&bytes),
                "a duplicate acknowledgement for a message never accepted"
            );
            assert_eq!(core, &before, "a duplicate had an effect");
            assert!(events.is_empty());
        }
        Ok(Accepted::Command { client, seq }) => {
            let Message::Command(_) = &message else {
                panic!("a job message was accepted as a command")
            };
            let entry = shadow
                .clients
                .get_mut(&peer)
                .expect("a command from a registered client");
            assert_eq!(&entry.0, client);
            assert!(!entry.2, "a revoked client was obeyed");
            assert_eq!(*seq, entry.1 + 1, "command sequence numbers must go up one at a time");
            entry.1 = *seq;
            shadow.commands += 1;
            assert_eq!(core.control().commands, shadow.commands);
            assert!(matches!(events.as_slice(), [Event::Commanded { seq: s, .. }] if s == seq));
        }
        Ok(Accepted::CommandDuplicate { seq, .. }) => {
            let entry = shadow.clients.get(&peer).expect("a duplicate from a registered client");
            assert!(*seq <= entry.1);
            assert_eq!(core, &before, "a duplicate command had an effect");
        }
        Err(_) => {
            assert_eq!(core, &before, "a refused message changed the core");
            assert!(events.is_empty());
        }
    }
}

/// The invariants that hold between any two operations.
fn check(core: &SchedulerCore, shadow: &mut Shadow) {
    {
        for key in shadow.bound.keys() {
            assert!(core.client(key).is_none(), "a key is both a job's and a UI server's");
        }
    }
    let mut launching = false;
    for (id, record) in core.jobs() {
        let state = record.state();
        let completed = record.completed_outputs();
        launching |= state == JobState::Launching;
        let last = shadow.last_seq.get(id).copied().unwrap_or(0);
        assert_eq!(record.last_seq(), last, "{id}: last sequence number moved on its own");
        if let Some((was, outputs)) = shadow.terminal.get(id) {
            assert_eq!(state, *was, "{id}: a terminal job changed state");
            assert_eq!(completed, outputs, "{id}: a terminal job's outputs changed");
        } else if state.is_terminal() {
            shadow.terminal.insert(id.clone(), (state, completed.clone()));
        }
        let declared = shadow.specs.get(id).expect("only launched jobs exist");
        for output in completed {
            assert!(
                declared.contains(output) || STANDARD.contains(&output.as_str()),
                "{id}: completed {output}, neither declared nor standard"
            );
        }
        match state {
            JobState::Running => assert!(completed.contains("started")),
            JobState::Succeeded => assert!(completed.contains("succeeded")),
            JobState::Failed(_) => assert!(completed.contains("failed")),
            _ => {}
        }
        let has_key = !matches!(state, JobState::Launching | JobState::LaunchFailed);
        assert_eq!(
            record.key().is_some(),
            has_key,
            "{id}: a key is bound iff the launch got through"
        );
        if let Some(key) = record.key() {
            assert_eq!(
                validate_public_key(key.as_bytes()),
                Ok(key),
                "{id}: an invalid key was bound"
            );
            assert_eq!(shadow.bound.get(&key), Some(id));
        }
    }
    for (key, job) in &shadow.bound {
        assert_eq!(core.binding(key).map(|(j, _)| j), Some(job), "a key's binding moved");
    }
    assert_eq!(
        core.poll_timeout().is_some(),
        launching,
        "the launch timer is set iff a launch waits"
    );
    if let Some(cap) = shadow.cap {
        assert!(core.live_jobs() <= u64::from(cap), "more live jobs than the cap");
    }
}

fn restart(core: &SchedulerCore, shadow: &Shadow) {
    // Through the event log's own encoding, as a restarted server reads it back.
    let mut encoded = Vec::new();
    EventLog::encode(shadow.log.iter().cloned(), &mut encoded);
    let back: Vec<Event> = encoded
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("an encoded event decodes"))
        .collect();
    assert_eq!(back, shadow.log, "events do not survive the log's encoding");
    let mut restored = SchedulerCore::new(core.config().clone());
    for event in &back {
        restored.restore(event);
    }
    assert_eq!(&restored, core, "restoring from the log did not rebuild the same state");
}

fn run(input: Input) {
    let mut config = SchedulerConfig::new(workflow());
    config.dedup_window = u64::from(input.window % 8) + 1;
    config.max_live_jobs = input.cap.map(|c| u32::from(c % 4) + 1);
    let mut shadow = Shadow {
        now: 1_000_000,
        cap: config.max_live_jobs,
        ..Shadow::default()
    };
    let mut core = SchedulerCore::new(config);
    for op in input.ops.into_iter().take(64) {
        let now = Millis(shadow.now);
        match op {
            Op::Launch { job, outputs } => {
                let id = job.id();
                let names: BTreeSet<OutputName> = (0..5)
                    .filter(|i| outputs & (1 << i) != 0)
                    .filter_map(|i| OutputName::new(OUTPUT_NAMES[i]).ok())
                    .collect();
                let live = core.live_jobs();
                let before = core.clone();
                let result = core.launch(
                    now,
                    JobSpec {
                        id: id.clone(),
                        outputs: names.clone(),
                    },
                );
                let events = drain(&mut core, &mut shadow);
                match result {
                    Ok(()) => {
                        assert!(shadow.cap.is_none_or(|c| live < u64::from(c)));
                        assert!(id.workflow() == &workflow() && !shadow.specs.contains_key(&id));
                        shadow
                            .specs
                            .insert(id.clone(), names.iter().map(|n| n.as_str().to_owned()).collect());
                        assert!(matches!(events.as_slice(), [Event::Launched { spec, .. }] if spec.id == id));
                        assert_eq!(core.job(&id).map(|r| r.state()), Some(JobState::Launching));
                    }
                    Err(e) => {
                        assert_eq!(core, before, "a refused launch changed the core");
                        match e {
                            LaunchError::AlreadyExists(_) => assert!(shadow.specs.contains_key(&id)),
                            LaunchError::WrongWorkflow(_) => assert!(id.workflow() != &workflow()),
                            LaunchError::ReservedOutput(_) => {}
                            LaunchError::TooManyLiveJobs { live: l, max } => {
                                assert!(shadow.cap == Some(max) && l == live && live >= u64::from(max));
                            }
                        }
                    }
                }
            }
            Op::BootstrapReply { job, key } => {
                let id = job.id();
                let bytes = key.bytes();
                let was = core.job(&id).map(|r| r.state());
                let result = core.handle_bootstrap_reply(now, &id, bytes);
                let events = drain(&mut core, &mut shadow);
                match result {
                    Ok(k) => {
                        assert_eq!(was, Some(JobState::Launching));
                        assert_eq!(k.as_bytes(), &bytes);
                        assert_eq!(validate_public_key(&bytes), Ok(k), "registered an invalid key");
                        assert!(
                            shadow.bound.insert(k, id.clone()).is_none(),
                            "a key was registered twice"
                        );
                        assert!(matches!(events.as_slice(), [Event::Registered { .. }]));
                    }
                    Err(RegistrationError::NotAwaitingKey(_)) => {
                        assert_ne!(was, Some(JobState::Launching));
                        assert!(events.is_empty());
                    }
                    Err(e) => {
                        assert_eq!(was, Some(JobState::Launching));
                        assert_eq!(core.job(&id).map(|r| r.state()), Some(JobState::LaunchFailed));
                        if let RegistrationError::DuplicateKey { holder, .. } = &e {
                            assert_eq!(shadow.bound.get(&PublicKey::from_trusted_bytes(bytes)), Some(holder));
                        }
                        assert!(matches!(events.as_slice(), [Event::LaunchFailed { .. }]));
                    }
                }
            }
            Op::LaunchFailed { job } => {
                let id = job.id();
                let was = core.job(&id).map(|r| r.state());
                core.handle_launch_failed(&id, "the launcher failed");
                drain(&mut core, &mut shadow);
                let is = core.job(&id).map(|r| r.state());
                if was == Some(JobState::Launching) {
                    assert_eq!(is, Some(JobState::LaunchFailed));
                } else {
                    assert_eq!(is, was, "a launch failure touched a job that was not launching");
                }
            }
            Op::Advance { ms } => shadow.now = shadow.now.saturating_add(u64::from(ms)),
            Op::Jump { to } => shadow.now = to,
            Op::Timeout => {
                core.handle_timeout(now);
                drain(&mut core, &mut shadow);
                if let Some(deadline) = core.poll_timeout() {
                    assert!(
                        deadline >= now,
                        "the timer ran but a launch past its deadline still waits"
                    );
                }
            }
            Op::Revoke { job } => {
                let id = job.id();
                let key = core.job(&id).and_then(|r| r.key());
                let got = core.revoke(&id);
                let events = drain(&mut core, &mut shadow);
                assert_eq!(got, key);
                if let Some(k) = got {
                    shadow.revoked.insert(k);
                    assert!(matches!(
                        events.as_slice(),
                        [Event::Revoked {
                            reason: RevokeReason::Operator,
                            ..
                        }]
                    ));
                }
            }
            Op::Handshake { key, payload } => {
                let Some(peer) = key.peer() else { continue };
                let before = core.clone();
                let result = core.handle_handshake(now, &peer, &payload);
                assert!(drain(&mut core, &mut shadow).is_empty());
                assert_eq!(core, before, "a handshake changed the core");
                match result {
                    Ok(session) => {
                        assert!(payload.is_empty(), "a non-empty first payload was let through");
                        assert!(session.first_payload.is_none());
                        assert!(!shadow.revoked.contains(&peer), "a revoked key completed a handshake");
                        match (session.job, session.client) {
                            (Some(job), None) => assert_eq!(shadow.bound.get(&peer), Some(&job)),
                            (None, Some(owner)) => {
                                let c = shadow.clients.get(&peer).expect("a registered client");
                                assert!(c.0 == owner && !c.2, "a revoked or unknown client got in");
                            }
                            other => panic!("a handshake let in {other:?}"),
                        }
                    }
                    Err(Rejected::NonEmptyFirstPayload { len }) => assert_eq!(len, payload.len()),
                    Err(Rejected::UnknownKey(_)) => {
                        assert!(payload.is_empty() && !shadow.bound.contains_key(&peer));
                        assert!(!shadow.clients.contains_key(&peer));
                    }
                    Err(Rejected::RevokedKey { .. }) => assert!(shadow.revoked.contains(&peer)),
                    Err(Rejected::RevokedClient { .. }) => assert!(shadow.clients.get(&peer).is_some_and(|c| c.2)),
                    Err(e) => panic!("a handshake was refused with {e:?}"),
                }
            }
            Op::Job { key, claim, seq, body } => {
                let Some(peer) = key.peer() else { continue };
                let claim = claim.id();
                let last = core.job(&claim).map_or(0, |r| r.last_seq());
                let Some(body) = body.body() else { continue };
                let Some(message) = job_message(&claim, seq.seq(last), body) else {
                    continue;
                };
                deliver(&mut core, &mut shadow, peer, message);
            }
            Op::Wire { key, bytes } => {
                let Some(peer) = key.peer() else { continue };
                let Ok(message) = Message::decode(&bytes) else { continue };
                deliver(&mut core, &mut shadow, peer, message);
            }
            Op::RegisterClient { key, owner } => {
                let bytes = key.bytes();
                let owner = Owner::new(OWNERS[usize::from(owner) % 3]).expect("valid");
                let before = core.clone();
                let result = core.register_client(bytes, owner.clone());
                let events = drain(&mut core, &mut shadow);
                match result {
                    Ok(k) => {
                        assert_eq!(validate_public_key(&bytes), Ok(k), "registered an invalid client key");
                        assert!(!shadow.bound.contains_key(&k) && !shadow.clients.contains_key(&k));
                        shadow.clients.insert(k, (owner, 0, false));
                        assert!(matches!(events.as_slice(), [Event::ClientRegistered { .. }]));
                    }
                    Err(ClientRegistrationError::BadKey(reason)) => {
                        assert_eq!(
                            validate_public_key(&bytes).err(),
                            Some(reason),
                            "refused for another reason"
                        );
                        assert_eq!(core, before);
                    }
                    Err(ClientRegistrationError::DuplicateKey) => {
                        let k = PublicKey::from_trusted_bytes(bytes);
                        assert!(shadow.bound.contains_key(&k) || shadow.clients.contains_key(&k));
                        assert_eq!(core, before);
                    }
                }
            }
            Op::RevokeClient { key } => {
                let k = PublicKey::from_trusted_bytes(key.bytes());
                let known = core.revoke_client(&k);
                drain(&mut core, &mut shadow);
                assert_eq!(known, shadow.clients.contains_key(&k));
                if let Some(c) = shadow.clients.get_mut(&k) {
                    c.2 = true;
                }
            }
            Op::Command {
                key,
                actor,
                seq,
                op,
                target,
            } => {
                let Some(peer) = key.peer() else { continue };
                let last = shadow.clients.get(&peer).map_or(0, |c| c.1);
                let command = Message::Command(ClientCommand {
                    seq: seq.seq(last),
                    actor: Owner::new(OWNERS[usize::from(actor) % 3]).expect("valid"),
                    op: CommandOp::ALL[usize::from(op) % CommandOp::ALL.len()],
                    target: target.text(),
                });
                let Ok(command) = Message::decode(&command.to_bytes()) else {
                    continue;
                };
                deliver(&mut core, &mut shadow, peer, command);
            }
            Op::Restart => {
                restart(&core, &shadow);
                continue;
            }
        }
        check(&core, &mut shadow);
    }
    restart(&core, &shadow);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run(input);
    }
});
