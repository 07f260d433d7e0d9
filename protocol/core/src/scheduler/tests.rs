//! Unit tests of the acceptance pipeline: every check's rejection, and (in weakened builds)
//! that each check is what stops its scenario.

use std::collections::BTreeSet;
use std::time::Duration;

use super::ClientRegistrationError;
use super::*;
use crate::Owner;
use crate::keys::{LOW_ORDER_POINTS, StaticKeypair};
use crate::wire::{ClientCommand, CommandOp, FailReason, RejectCode};

struct Fixture {
    core: SchedulerCore,
    a: JobId,
    b: JobId,
    ka: PublicKey,
    kb: PublicKey,
}

const T0: Millis = Millis(1_000_000);

fn wf() -> WorkflowId {
    WorkflowId::new("alice", "wf").expect("valid")
}

fn job(task: &str) -> JobId {
    JobId::new(wf(), "1", task, 1).expect("valid")
}

fn spec(id: &JobId) -> JobSpec {
    JobSpec {
        id: id.clone(),
        outputs: BTreeSet::from([OutputName::new("file-ready").expect("valid")]),
    }
}

fn fixture_with(defences: Defences) -> Fixture {
    let mut core = SchedulerCore::with_defences(SchedulerConfig::new(wf()), defences);
    let (a, b) = (job("a"), job("b"));
    let ka = StaticKeypair::generate_from_os().public();
    let kb = StaticKeypair::generate_from_os().public();
    for (id, key) in [(&a, ka), (&b, kb)] {
        core.launch(T0, spec(id)).expect("launch");
        core.handle_bootstrap_reply(T0, id, *key.as_bytes()).expect("register");
    }
    Fixture { core, a, b, ka, kb }
}

fn fixture() -> Fixture {
    fixture_with(Defences::all())
}

fn msg(claim: &JobId, seq: u64, body: JobBody) -> Message {
    Message::Job(JobMessage {
        seq,
        claim: claim.clone(),
        body,
    })
}

fn output(name: &str) -> JobBody {
    JobBody::Output(OutputName::new(name).expect("valid"))
}

impl Fixture {
    fn send(&mut self, key: PublicKey, claim: &JobId, seq: u64, body: JobBody) -> Result<Accepted, Rejected> {
        self.core.handle_message(T0, &key, msg(claim, seq, body))
    }

    fn start_a(&mut self) {
        let (ka, a) = (self.ka, self.a.clone());
        self.send(ka, &a, 1, JobBody::Started).expect("started");
    }

    fn accepted_events(&mut self) -> usize {
        std::iter::from_fn(|| self.core.poll_event())
            .filter(|e| matches!(e, Event::Accepted { .. }))
            .count()
    }
}

#[test]
fn scheduler_accepts_a_job_lifecycle_in_order() {
    let mut f = fixture();
    let (ka, a) = (f.ka, f.a.clone());
    f.send(ka, &a, 1, JobBody::Started).expect("started");
    f.send(
        ka,
        &a,
        2,
        JobBody::Message {
            severity: crate::wire::Severity::Info,
            text: "hi".into(),
        },
    )
    .expect("message");
    f.send(ka, &a, 3, output("file-ready")).expect("output");
    f.send(ka, &a, 4, JobBody::Heartbeat).expect("heartbeat");
    f.send(ka, &a, 5, JobBody::Succeeded).expect("succeeded");
    let record = f.core.job(&a).expect("job");
    assert_eq!(record.state(), JobState::Succeeded);
    assert_eq!(
        record.completed_outputs(),
        &BTreeSet::from(["started".into(), "file-ready".into(), "succeeded".into()])
    );
    assert_eq!(f.core.binding(&ka).map(|(_, s)| s), Some(KeyStatus::Finished));
}

#[test]
fn a_final_message_is_logged_before_the_retirement_of_its_key() {
    let mut f = fixture();
    f.start_a();
    let _ = std::iter::from_fn(|| f.core.poll_event()).count();
    let (ka, a) = (f.ka, f.a.clone());
    f.send(ka, &a, 2, JobBody::Succeeded).expect("succeeded");
    let events: Vec<Event> = std::iter::from_fn(|| f.core.poll_event()).collect();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Accepted {
                    body: JobBody::Succeeded,
                    ..
                },
                Event::Revoked {
                    reason: RevokeReason::Terminal,
                    ..
                }
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn scheduler_rejects_message_from_an_unknown_key() {
    let mut f = fixture();
    let stranger = StaticKeypair::generate_from_os().public();
    let a = f.a.clone();
    assert_eq!(
        f.send(stranger, &a, 1, JobBody::Started),
        Err(Rejected::UnknownKey(stranger))
    );
    assert_eq!(
        f.core.handle_handshake(T0, &stranger, &[]),
        Err(Rejected::UnknownKey(stranger))
    );
}

#[test]
fn scheduler_rejects_messages_and_handshakes_from_a_revoked_key() {
    let mut f = fixture();
    f.start_a();
    let (ka, a) = (f.ka, f.a.clone());
    assert_eq!(f.core.revoke(&a), Some(ka));
    assert_eq!(
        f.send(ka, &a, 2, JobBody::Heartbeat),
        Err(Rejected::RevokedKey { job: a.clone() })
    );
    assert_eq!(
        f.core.handle_handshake(T0, &ka, &[]),
        Err(Rejected::RevokedKey { job: a })
    );
}

#[test]
fn scheduler_refuses_a_handshake_whose_first_payload_is_not_empty() {
    let mut f = fixture();
    let (ka, a) = (f.ka, f.a.clone());
    let payload = msg(&a, 1, JobBody::Started).to_bytes();
    assert_eq!(
        f.core.handle_handshake(T0, &ka, &payload),
        Err(Rejected::NonEmptyFirstPayload { len: payload.len() })
    );
    assert_eq!(
        f.core.job(&a).map(JobRecord::state),
        Some(JobState::Submitted),
        "payload was not acted on"
    );
}

#[test]
fn scheduler_rejects_message_claiming_another_jobs_identity() {
    let mut f = fixture();
    let (kb, a, b) = (f.kb, f.a.clone(), f.b.clone());
    assert_eq!(
        f.send(kb, &a, 1, JobBody::Started),
        Err(Rejected::IdentityMismatch {
            bound: b,
            claimed: a.clone()
        })
    );
    assert_eq!(f.core.job(&a).map(JobRecord::state), Some(JobState::Submitted));
}

#[test]
fn scheduler_rejects_message_with_a_sequence_gap() {
    let mut f = fixture();
    let (ka, a) = (f.ka, f.a.clone());
    assert_eq!(
        f.send(ka, &a, 2, JobBody::Started),
        Err(Rejected::SequenceGap {
            job: a,
            expected: 1,
            got: 2
        })
    );
}

#[test]
fn scheduler_rejects_message_with_replayed_sequence() {
    let mut f = fixture();
    f.start_a();
    let (ka, a) = (f.ka, f.a.clone());
    f.send(ka, &a, 2, JobBody::Heartbeat).expect("heartbeat");
    let replay = f.send(ka, &a, 2, output("file-ready"));
    assert!(
        matches!(replay, Err(Rejected::ReplayedSequence { seq: 2, last: 2, .. })),
        "{replay:?}"
    );
}

#[test]
fn scheduler_acknowledges_a_faithful_retransmission_without_a_second_effect() {
    let mut f = fixture();
    f.start_a();
    let (ka, a) = (f.ka, f.a.clone());
    assert_eq!(f.accepted_events(), 1);
    assert_eq!(
        f.send(ka, &a, 1, JobBody::Started),
        Ok(Accepted::Duplicate { job: a.clone(), seq: 1 })
    );
    assert_eq!(f.accepted_events(), 0, "a duplicate has no effect");
}

/// A core with a two-message window and job `a` having sent `started` and three heartbeats.
fn window_of_two_after_four_messages() -> (SchedulerCore, JobId, PublicKey) {
    let mut config = SchedulerConfig::new(wf());
    config.dedup_window = 2;
    let mut core = SchedulerCore::new(config);
    let a = job("a");
    let key = StaticKeypair::generate_from_os().public();
    core.launch(T0, spec(&a)).expect("launch");
    core.handle_bootstrap_reply(T0, &a, *key.as_bytes()).expect("register");
    core.handle_message(T0, &key, msg(&a, 1, JobBody::Started))
        .expect("started");
    for seq in 2..=4 {
        core.handle_message(T0, &key, msg(&a, seq, JobBody::Heartbeat))
            .expect("heartbeat");
    }
    (core, a, key)
}

#[test]
fn scheduler_refuses_retransmissions_older_than_the_window() {
    let (mut core, a, key) = window_of_two_after_four_messages();
    assert!(matches!(
        core.handle_message(T0, &key, msg(&a, 1, JobBody::Started)),
        Err(Rejected::ReplayedSequence { .. })
    ));
    assert!(matches!(
        core.handle_message(T0, &key, msg(&a, 4, JobBody::Heartbeat)),
        Ok(Accepted::Duplicate { .. })
    ));
}

#[test]
fn scheduler_rejects_message_types_not_allowed_in_the_jobs_state() {
    let mut f = fixture();
    let (ka, a) = (f.ka, f.a.clone());
    let early = f.send(ka, &a, 1, output("file-ready"));
    assert_eq!(
        early,
        Err(Rejected::TypeNotAllowed {
            job: a.clone(),
            kind: "output",
            state: JobState::Submitted
        })
    );
    f.start_a();
    let again = f.send(ka, &a, 2, JobBody::Started);
    assert_eq!(
        again,
        Err(Rejected::TypeNotAllowed {
            job: a.clone(),
            kind: "started",
            state: JobState::Running
        })
    );
    f.send(ka, &a, 2, JobBody::Failed(FailReason::Signal(15)))
        .expect("failed");
    let after = f.send(ka, &a, 3, JobBody::Heartbeat);
    assert!(matches!(
        after,
        Err(Rejected::TypeNotAllowed {
            kind: "heartbeat",
            state: JobState::Failed(_),
            ..
        })
    ));
}

#[test]
fn scheduler_rejects_a_command_sent_with_a_job_key() {
    let mut f = fixture();
    f.start_a();
    let ka = f.ka;
    let command = Message::Command(ClientCommand {
        seq: 2,
        actor: Owner::new("mallory").expect("valid"),
        op: CommandOp::Trigger,
        target: "1/b".into(),
    });
    let verdict = f.core.handle_message(T0, &ka, command);
    assert!(
        matches!(verdict, Err(Rejected::TypeNotAllowed { kind: "command", .. })),
        "{verdict:?}"
    );
}

#[test]
fn scheduler_rejects_undeclared_reserved_and_repeated_outputs() {
    let mut f = fixture();
    f.start_a();
    let (ka, a) = (f.ka, f.a.clone());
    let cases = [
        (
            "other",
            TransitionError::UndeclaredOutput(OutputName::new("other").expect("valid")),
        ),
        (
            "succeeded",
            TransitionError::ReservedOutput(OutputName::new("succeeded").expect("valid")),
        ),
    ];
    for (name, reason) in cases {
        assert_eq!(
            f.send(ka, &a, 2, output(name)),
            Err(Rejected::InvalidTransition { job: a.clone(), reason })
        );
    }
    f.send(ka, &a, 2, output("file-ready")).expect("first completion");
    let again = f.send(ka, &a, 3, output("file-ready"));
    assert!(matches!(
        again,
        Err(Rejected::InvalidTransition {
            reason: TransitionError::OutputAlreadyCompleted(_),
            ..
        })
    ));
    assert_eq!(
        f.core.job(&a).map(JobRecord::state),
        Some(JobState::Running),
        "still running: not marked succeeded"
    );
}

#[test]
fn registration_refuses_a_key_that_arrives_after_the_deadline() {
    let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
    let a = job("a");
    core.launch(T0, spec(&a)).expect("launch");
    let late = T0.after(Duration::from_secs(31));
    let key = StaticKeypair::generate_from_os().public();
    assert_eq!(
        core.handle_bootstrap_reply(late, &a, *key.as_bytes()),
        Err(RegistrationError::LateReply {
            job: a.clone(),
            late_ms: 1000
        })
    );
    assert_eq!(core.job(&a).map(JobRecord::state), Some(JobState::LaunchFailed));
    assert_eq!(core.binding(&key), None);
}

#[test]
fn registration_refuses_low_order_keys() {
    for point in LOW_ORDER_POINTS {
        let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
        let a = job("a");
        core.launch(T0, spec(&a)).expect("launch");
        let got = core.handle_bootstrap_reply(T0, &a, point);
        assert!(
            matches!(
                got,
                Err(RegistrationError::BadKey {
                    reason: crate::keys::KeyError::LowOrder,
                    ..
                })
            ),
            "{got:?}"
        );
    }
}

#[test]
fn registration_refuses_a_key_already_bound_to_another_job() {
    let mut f = fixture();
    let c = job("c");
    f.core.launch(T0, spec(&c)).expect("launch");
    let got = f.core.handle_bootstrap_reply(T0, &c, *f.ka.as_bytes());
    assert_eq!(
        got,
        Err(RegistrationError::DuplicateKey {
            job: c,
            holder: f.a.clone()
        })
    );
    assert_eq!(f.core.binding(&f.ka).map(|(j, _)| j.clone()), Some(f.a.clone()));
}

#[test]
fn registration_refuses_a_second_answer_for_the_same_launch() {
    let mut f = fixture();
    let a = f.a.clone();
    let other = StaticKeypair::generate_from_os().public();
    assert_eq!(
        f.core.handle_bootstrap_reply(T0, &a, *other.as_bytes()),
        Err(RegistrationError::NotAwaitingKey(a))
    );
}

#[test]
fn the_timer_follows_the_earliest_launch_still_waiting_for_its_key() {
    let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
    let (a, b, c) = (job("a"), job("b"), job("c"));
    let second = |n: u64| T0.after(Duration::from_secs(n));
    core.launch(T0, spec(&a)).expect("launch a");
    core.launch(second(5), spec(&b)).expect("launch b");
    core.launch(second(10), spec(&c)).expect("launch c");
    assert_eq!(core.poll_timeout(), Some(second(30)));
    let key = StaticKeypair::generate_from_os().public();
    core.handle_bootstrap_reply(second(1), &a, *key.as_bytes())
        .expect("register a");
    assert_eq!(
        core.poll_timeout(),
        Some(second(35)),
        "a registered: b's deadline is next"
    );
    core.handle_launch_failed(&b, "the process exited");
    assert_eq!(core.poll_timeout(), Some(second(40)), "b failed: c's deadline is next");
    core.handle_timeout(second(41));
    assert_eq!(core.job(&c).map(JobRecord::state), Some(JobState::LaunchFailed));
    assert_eq!(core.job(&a).map(JobRecord::state), Some(JobState::Submitted));
    assert_eq!(core.poll_timeout(), None);
}

#[test]
fn a_launch_without_a_key_fails_at_its_deadline() {
    let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
    let a = job("a");
    core.launch(T0, spec(&a)).expect("launch");
    assert_eq!(core.poll_timeout(), Some(T0.after(Duration::from_secs(30))));
    core.handle_timeout(T0.after(Duration::from_secs(30)));
    assert_eq!(core.job(&a).map(JobRecord::state), Some(JobState::Launching));
    core.handle_timeout(T0.after(Duration::from_secs(31)));
    assert_eq!(core.job(&a).map(JobRecord::state), Some(JobState::LaunchFailed));
    assert_eq!(core.poll_timeout(), None);
}

#[test]
fn launches_for_other_workflows_or_reserved_outputs_are_refused() {
    let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
    let foreign = JobId::new(WorkflowId::new("bob", "wf").expect("valid"), "1", "a", 1).expect("valid");
    assert_eq!(
        core.launch(T0, spec(&foreign)),
        Err(LaunchError::WrongWorkflow(foreign))
    );
    let mut bad = spec(&job("a"));
    bad.outputs.insert(OutputName::new("succeeded").expect("valid"));
    assert!(matches!(core.launch(T0, bad), Err(LaunchError::ReservedOutput(_))));
}

#[test]
fn launches_beyond_the_live_job_cap_are_refused_until_a_job_finishes() {
    let mut config = SchedulerConfig::new(wf());
    config.max_live_jobs = Some(2);
    let mut core = SchedulerCore::new(config);
    let (a, b, c) = (job("a"), job("b"), job("c"));
    core.launch(T0, spec(&a)).expect("first");
    core.launch(T0, spec(&b)).expect("second");
    assert_eq!(
        core.launch(T0, spec(&c)),
        Err(LaunchError::TooManyLiveJobs { live: 2, max: 2 })
    );
    let ka = StaticKeypair::generate_from_os().public();
    core.handle_bootstrap_reply(T0, &a, *ka.as_bytes()).expect("register");
    core.handle_message(T0, &ka, msg(&a, 1, JobBody::Started))
        .expect("started");
    core.handle_message(T0, &ka, msg(&a, 2, JobBody::Succeeded))
        .expect("succeeded");
    assert_eq!(core.live_jobs(), 1);
    core.launch(T0, spec(&c)).expect("a finished job frees its place");
    // Restoring replays launches already made, whatever the cap says now.
    let events: Vec<Event> = std::iter::from_fn(|| core.poll_event()).collect();
    let mut tight = SchedulerConfig::new(wf());
    tight.max_live_jobs = Some(1);
    let mut restored = SchedulerCore::new(tight);
    for e in &events {
        restored.restore(e);
    }
    assert_eq!(restored.live_jobs(), 2);
}

#[test]
fn a_terminal_job_gets_duplicate_acks_but_nothing_new() {
    let mut f = fixture();
    f.start_a();
    let (ka, a) = (f.ka, f.a.clone());
    f.send(ka, &a, 2, JobBody::Succeeded).expect("succeeded");
    assert!(
        f.core.handle_handshake(T0, &ka, &[]).is_ok(),
        "a finished job may reconnect to collect acks"
    );
    assert_eq!(
        f.send(ka, &a, 2, JobBody::Succeeded),
        Ok(Accepted::Duplicate { job: a.clone(), seq: 2 })
    );
    assert!(matches!(
        f.send(ka, &a, 3, JobBody::Heartbeat),
        Err(Rejected::TypeNotAllowed { .. })
    ));
}

#[test]
fn restoring_from_the_event_log_rebuilds_the_same_state() {
    let mut f = fixture();
    f.start_a();
    let (ka, kb, a, b) = (f.ka, f.kb, f.a.clone(), f.b.clone());
    f.send(ka, &a, 2, output("file-ready")).expect("output");
    f.send(kb, &b, 1, JobBody::Failed(FailReason::Exit(2))).expect("failed");
    f.core.revoke(&a);
    let log: Vec<Event> = std::iter::from_fn(|| f.core.poll_event()).collect();
    let mut restored = SchedulerCore::new(SchedulerConfig::new(wf()));
    for event in &log {
        restored.restore(event);
    }
    assert_eq!(restored, f.core);
    assert_eq!(
        restored.handle_message(T0, &ka, msg(&a, 3, JobBody::Heartbeat)),
        Err(Rejected::RevokedKey { job: a })
    );
}

fn command(seq: u64, op: CommandOp, target: &str) -> Message {
    Message::Command(ClientCommand {
        seq,
        actor: Owner::new("jacintar").expect("valid"),
        op,
        target: target.into(),
    })
}

fn with_ui_server() -> (Fixture, PublicKey) {
    let mut f = fixture();
    let key = StaticKeypair::generate_from_os().public();
    f.core
        .register_client(*key.as_bytes(), Owner::new("alice").expect("valid"))
        .expect("client");
    (f, key)
}

#[test]
fn commands_from_a_registered_ui_server_take_effect_on_behalf_of_the_acting_person() {
    let (mut f, ui) = with_ui_server();
    f.core.poll_event();
    let session = f.core.handle_handshake(T0, &ui, &[]).expect("client handshake");
    assert_eq!(session.client, Some(Owner::new("alice").expect("valid")));
    assert_eq!(
        f.core.handle_message(T0, &ui, command(1, CommandOp::Hold, "1/a")),
        Ok(Accepted::Command {
            client: Owner::new("alice").expect("valid"),
            seq: 1
        })
    );
    f.core
        .handle_message(T0, &ui, command(2, CommandOp::Pause, "*"))
        .expect("pause");
    assert!(f.core.control().paused && f.core.control().held.contains("1/a"));
    let events: Vec<Event> = std::iter::from_fn(|| f.core.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Commanded { actor, op: CommandOp::Hold, .. } if actor.as_str() == "jacintar"))
    );
}

#[test]
fn a_job_message_sent_with_a_ui_server_key_is_refused() {
    let (mut f, ui) = with_ui_server();
    let a = f.a.clone();
    let verdict = f.core.handle_message(T0, &ui, msg(&a, 1, JobBody::Started));
    assert!(
        matches!(verdict, Err(Rejected::JobMessageFromClient { .. })),
        "{verdict:?}"
    );
    assert_eq!(f.core.job(&a).map(JobRecord::state), Some(JobState::Submitted));
}

#[test]
fn ui_server_commands_are_sequenced_deduplicated_and_checked_for_targets() {
    let (mut f, ui) = with_ui_server();
    f.core
        .handle_message(T0, &ui, command(1, CommandOp::Hold, "1/a"))
        .expect("hold");
    assert!(matches!(
        f.core.handle_message(T0, &ui, command(1, CommandOp::Hold, "1/a")),
        Ok(Accepted::CommandDuplicate { .. })
    ));
    assert!(matches!(
        f.core.handle_message(T0, &ui, command(1, CommandOp::Release, "1/a")),
        Err(Rejected::ClientSequence {
            expected: 2,
            got: 1,
            ..
        })
    ));
    assert!(matches!(
        f.core.handle_message(T0, &ui, command(5, CommandOp::Release, "1/a")),
        Err(Rejected::ClientSequence { got: 5, .. })
    ));
    assert!(matches!(
        f.core.handle_message(T0, &ui, command(2, CommandOp::Kill, "9/zzz")),
        Err(Rejected::UnknownTarget { .. })
    ));
    assert_eq!(f.core.control().commands, 1);
}

#[test]
fn a_revoked_ui_server_is_refused_at_handshake_and_message() {
    let (mut f, ui) = with_ui_server();
    assert!(f.core.revoke_client(&ui));
    assert!(matches!(
        f.core.handle_handshake(T0, &ui, &[]),
        Err(Rejected::RevokedClient { .. })
    ));
    assert!(matches!(
        f.core.handle_message(T0, &ui, command(1, CommandOp::Stop, "*")),
        Err(Rejected::RevokedClient { .. })
    ));
    assert!(!f.core.control().stopping);
}

#[test]
fn ui_server_keys_are_validated_and_unique_across_jobs_and_clients() {
    let mut f = fixture();
    let alice = Owner::new("alice").expect("valid");
    assert!(matches!(
        f.core.register_client(LOW_ORDER_POINTS[1], alice.clone()),
        Err(ClientRegistrationError::BadKey(_))
    ));
    assert_eq!(
        f.core.register_client(*f.ka.as_bytes(), alice),
        Err(ClientRegistrationError::DuplicateKey)
    );
}

#[test]
fn a_job_cannot_register_a_ui_servers_client_key_as_its_own() {
    // Found by the scheduler_ops fuzz target: job registration once checked only other jobs'
    // keys, so a job could take the UI server's identity and have it revoked with its own.
    let (mut f, ui) = with_ui_server();
    let c = job("c");
    f.core.launch(T0, spec(&c)).expect("launch");
    let err = f
        .core
        .handle_bootstrap_reply(T0, &c, *ui.as_bytes())
        .expect_err("a client's key is not a job key");
    assert_eq!(err, RegistrationError::ClientKey { job: c.clone() });
    assert_eq!(err.check(), Some(Check::UniqueKey));
    let session = f
        .core
        .handle_handshake(T0, &ui, &[])
        .expect("the UI server still connects");
    assert_eq!(session.job, None);
    assert!(session.client.is_some());
}

#[test]
fn restoring_from_the_event_log_brings_back_ui_servers_and_their_commands() {
    let (mut f, ui) = with_ui_server();
    f.core
        .handle_message(T0, &ui, command(1, CommandOp::Hold, "1/b"))
        .expect("hold");
    let log: Vec<Event> = std::iter::from_fn(|| f.core.poll_event()).collect();
    let mut restored = SchedulerCore::new(SchedulerConfig::new(wf()));
    for event in &log {
        restored.restore(event);
    }
    assert_eq!(restored, f.core);
    assert!(matches!(
        restored.handle_message(T0, &ui, command(1, CommandOp::Hold, "1/b")),
        Ok(Accepted::CommandDuplicate { .. })
    ));
}

#[cfg(feature = "weaken")]
mod weakened {
    //! Each scenario is refused by the full core with a typed error (or answer) that names the
    //! check, and let through by the core without that check: the check, and nothing else, is
    //! what stops it.

    use super::*;

    /// What a scenario saw: `Ok` when the attack got through, otherwise the check that the
    /// core's typed refusal names (`None` for a refusal that names no check).
    type Seen = Result<(), Option<Check>>;

    /// The check a typed refusal names.
    trait Names {
        fn named(&self) -> Option<Check>;
    }

    impl Names for Rejected {
        fn named(&self) -> Option<Check> {
            Some(self.check())
        }
    }

    impl Names for RegistrationError {
        fn named(&self) -> Option<Check> {
            self.check()
        }
    }

    fn named<T, E: Names>(r: Result<T, E>) -> Result<T, Option<Check>> {
        r.map_err(|e| e.named())
    }

    /// `Ok` if `got_through`, else a refusal that names no check.
    fn effect(got_through: bool) -> Seen {
        if got_through { Ok(()) } else { Err(None) }
    }

    fn both(check: Check, scenario: impl Fn(&mut Fixture) -> Seen) {
        let mut full = fixture();
        assert_eq!(
            scenario(&mut full),
            Err(Some(check)),
            "{check}: the full core must refuse, and its refusal must name {check}"
        );
        let mut weak = fixture_with(Defences::all().without(check));
        assert_eq!(
            scenario(&mut weak),
            Ok(()),
            "{check}: weakened core must let it through"
        );
    }

    #[test]
    fn without_authenticated_key_a_revoked_job_is_still_heard() {
        both(Check::AuthenticatedKey, |f| {
            f.start_a();
            f.core.revoke(&f.a.clone());
            let (ka, a) = (f.ka, f.a.clone());
            named(f.send(ka, &a, 2, JobBody::Heartbeat)).map(drop)
        });
    }

    #[test]
    fn without_bound_identity_one_job_finishes_another() {
        both(Check::BoundIdentity, |f| {
            let (kb, a) = (f.kb, f.a.clone());
            named(f.send(kb, &a, 1, JobBody::Started))?;
            effect(f.core.job(&a).map(JobRecord::state) == Some(JobState::Running))
        });
    }

    #[test]
    fn without_fresh_sequence_a_retransmission_takes_effect_twice() {
        both(Check::FreshSequence, |f| {
            f.start_a();
            let (ka, a) = (f.ka, f.a.clone());
            f.send(ka, &a, 2, JobBody::Heartbeat).expect("heartbeat");
            f.accepted_events();
            // fresh-sequence answers a retransmission with a duplicate acknowledgement.
            if matches!(
                named(f.send(ka, &a, 2, JobBody::Heartbeat))?,
                Accepted::Duplicate { .. }
            ) {
                return Err(Some(Check::FreshSequence));
            }
            effect(f.accepted_events() == 1)
        });
    }

    #[test]
    fn without_allowed_type_a_finished_job_keeps_talking() {
        both(Check::AllowedType, |f| {
            f.start_a();
            let (ka, a) = (f.ka, f.a.clone());
            f.send(ka, &a, 2, JobBody::Succeeded).expect("succeeded");
            named(f.send(ka, &a, 3, JobBody::Heartbeat)).map(drop)
        });
    }

    #[test]
    fn without_valid_transition_a_job_completes_the_succeeded_output_while_running() {
        both(Check::ValidTransition, |f| {
            f.start_a();
            let (ka, a) = (f.ka, f.a.clone());
            named(f.send(ka, &a, 2, output("succeeded"))).map(drop)
        });
    }

    #[test]
    fn without_empty_first_payload_the_scheduler_acts_on_it() {
        both(Check::EmptyFirstPayload, |f| {
            let (ka, a) = (f.ka, f.a.clone());
            let payload = msg(&a, 1, JobBody::Started).to_bytes();
            let session = named(f.core.handle_handshake(T0, &ka, &payload))?;
            effect(matches!(session.first_payload, Some(Ok(_))))
        });
    }

    #[test]
    fn without_unique_key_a_job_steals_another_jobs_binding() {
        both(Check::UniqueKey, |f| {
            let c = job("c");
            f.core.launch(T0, spec(&c)).expect("launch");
            let ka = f.ka;
            named(f.core.handle_bootstrap_reply(T0, &c, *ka.as_bytes()))?;
            effect(f.core.binding(&ka).map(|(j, _)| j.clone()) == Some(c))
        });
    }

    #[test]
    fn without_key_validation_a_low_order_key_is_registered() {
        both(Check::KeyValidation, |f| {
            let c = job("c");
            f.core.launch(T0, spec(&c)).expect("launch");
            named(f.core.handle_bootstrap_reply(T0, &c, LOW_ORDER_POINTS[0])).map(drop)
        });
    }

    #[test]
    fn without_bootstrap_deadline_a_late_key_is_registered() {
        both(Check::BootstrapDeadline, |f| {
            let c = job("c");
            f.core.launch(T0, spec(&c)).expect("launch");
            let late = T0.after(Duration::from_secs(3600));
            let key = StaticKeypair::generate_from_os().public();
            named(f.core.handle_bootstrap_reply(late, &c, *key.as_bytes())).map(drop)
        });
    }

    #[test]
    fn without_bootstrap_deadline_the_timer_fails_no_launch() {
        let late = T0.after(Duration::from_secs(3600));
        for (defences, fails) in [
            (Defences::all(), true),
            (Defences::all().without(Check::BootstrapDeadline), false),
        ] {
            let mut f = fixture_with(defences);
            let c = job("c");
            f.core.launch(T0, spec(&c)).expect("launch");
            f.core.handle_timeout(late);
            let state = f.core.job(&c).map(JobRecord::state);
            assert_eq!(state == Some(JobState::LaunchFailed), fails, "{state:?}");
        }
    }

    #[test]
    fn without_allowed_type_a_job_key_commands_the_workflow_as_a_ui_server_would() {
        both(Check::AllowedType, |f| {
            let ka = f.ka;
            let pause = Message::Command(ClientCommand {
                seq: 1,
                actor: Owner::new("mallory").expect("valid"),
                op: CommandOp::Pause,
                target: "*".into(),
            });
            named(f.core.handle_message(T0, &ka, pause))?;
            effect(f.core.control().paused)
        });
    }

    #[test]
    fn every_check_has_a_weakened_scenario_above() {
        // Keeps this module honest when a check is added: the list must name every check.
        let covered = [
            Check::AuthenticatedKey,
            Check::BoundIdentity,
            Check::FreshSequence,
            Check::AllowedType,
            Check::ValidTransition,
            Check::EmptyFirstPayload,
            Check::UniqueKey,
            Check::KeyValidation,
            Check::BootstrapDeadline,
        ];
        assert_eq!(BTreeSet::from(covered), BTreeSet::from(Check::ALL));
    }
}

// Boundaries cargo-mutants found untested (issue "the job-channel proof…"): each test pins
// the exact edge, so `>` against `>=` or `==`, a guard turned constant, or an accessor that
// answers `None` is caught.

#[test]
fn the_dedup_window_keeps_exactly_its_size_the_oldest_kept_is_a_duplicate_the_next_older_a_replay() {
    let (mut core, a, key) = window_of_two_after_four_messages();
    assert_eq!(
        core.handle_message(T0, &key, msg(&a, 3, JobBody::Heartbeat)),
        Ok(Accepted::Duplicate { job: a.clone(), seq: 3 }),
        "the window holds the last two: 3 and 4"
    );
    assert!(matches!(
        core.handle_message(T0, &key, msg(&a, 2, JobBody::Heartbeat)),
        Err(Rejected::ReplayedSequence { seq: 2, .. })
    ));
}

#[test]
fn a_key_reply_at_the_deadline_is_in_time_and_one_millisecond_later_is_late() {
    let config = SchedulerConfig::new(wf());
    let timeout = config.bootstrap_timeout;
    let mut core = SchedulerCore::new(config);
    let (a, b) = (job("a"), job("b"));
    core.launch(T0, spec(&a)).expect("launch");
    core.launch(T0, spec(&b)).expect("launch");
    let deadline = T0.after(timeout);
    let ka = StaticKeypair::generate_from_os().public();
    core.handle_bootstrap_reply(deadline, &a, *ka.as_bytes())
        .expect("exactly at the deadline is in time");
    assert_eq!(
        core.job(&a).and_then(JobRecord::key),
        Some(ka),
        "the record holds the key"
    );
    let kb = StaticKeypair::generate_from_os().public();
    let late = core.handle_bootstrap_reply(Millis(deadline.0 + 1), &b, *kb.as_bytes());
    assert!(matches!(late, Err(RegistrationError::LateReply { .. })), "{late:?}");
    assert_eq!(core.job(&b).and_then(JobRecord::key), None);
}

#[test]
fn a_launch_expires_one_millisecond_after_its_deadline_not_at_it() {
    let config = SchedulerConfig::new(wf());
    let deadline = T0.after(config.bootstrap_timeout);
    let mut core = SchedulerCore::new(config);
    let a = job("a");
    core.launch(T0, spec(&a)).expect("launch");
    core.handle_timeout(deadline);
    assert_eq!(core.job(&a).map(JobRecord::state), Some(JobState::Launching));
    core.handle_timeout(Millis(deadline.0 + 1));
    assert_eq!(core.job(&a).map(JobRecord::state), Some(JobState::LaunchFailed));
}

#[test]
fn the_next_timeout_is_the_earliest_launch_still_waiting_for_its_key() {
    let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
    let (a, b) = (job("a"), job("b"));
    core.launch(T0, spec(&a)).expect("launch");
    let later = Millis(T0.0 + 1_000);
    core.launch(later, spec(&b)).expect("launch");
    assert_eq!(core.poll_timeout(), Some(T0.after(core_timeout())));
    // a registers: its deadline no longer counts, b's does.
    let ka = StaticKeypair::generate_from_os().public();
    core.handle_bootstrap_reply(T0, &a, *ka.as_bytes()).expect("register");
    assert_eq!(core.poll_timeout(), Some(later.after(core_timeout())));
    let kb = StaticKeypair::generate_from_os().public();
    core.handle_bootstrap_reply(later, &b, *kb.as_bytes())
        .expect("register");
    assert_eq!(core.poll_timeout(), None);
}

fn core_timeout() -> Duration {
    SchedulerConfig::new(wf()).bootstrap_timeout
}

#[test]
fn a_client_sequence_ahead_is_a_gap_and_one_behind_or_equal_is_a_replay() {
    let client = Owner::new("alice").expect("valid");
    let code = |got, expected| {
        Rejected::ClientSequence {
            client: client.clone(),
            expected,
            got,
        }
        .code()
    };
    assert_eq!(code(5, 3), RejectCode::SequenceGap);
    assert_eq!(code(4, 3), RejectCode::SequenceGap);
    assert_eq!(code(3, 3), RejectCode::ReplayedSequence);
    assert_eq!(code(2, 3), RejectCode::ReplayedSequence);
}

#[test]
fn a_command_target_must_name_a_jobs_cycle_and_task_together() {
    let (mut f, ui) = with_ui_server();
    // Jobs a and b run in cycle 1.
    let mut seq = 0;
    let mut try_target = |f: &mut Fixture, target: &str| {
        let verdict = f
            .core
            .handle_message(T0, &ui, command(seq + 1, CommandOp::Hold, target));
        if verdict.is_ok() {
            seq += 1;
        }
        verdict
    };
    for target in ["1/a", "1", "*"] {
        assert!(
            matches!(try_target(&mut f, target), Ok(Accepted::Command { .. })),
            "{target}"
        );
    }
    for target in ["2/a", "1/c", "2/c", "a", "1/"] {
        assert!(
            matches!(try_target(&mut f, target), Err(Rejected::UnknownTarget { target: t, .. }) if t == target),
            "{target}"
        );
    }
}

#[test]
fn a_ui_servers_window_keeps_exactly_its_size_the_oldest_kept_is_a_duplicate_the_next_older_a_replay() {
    let mut f = fixture();
    let window = f.core.config().dedup_window;
    let ui = StaticKeypair::generate_from_os().public();
    f.core
        .register_client(*ui.as_bytes(), Owner::new("alice").expect("valid"))
        .expect("client");
    for seq in 1..=window + 1 {
        f.core
            .handle_message(T0, &ui, command(seq, CommandOp::Hold, "1/a"))
            .expect("applied");
    }
    assert!(
        matches!(
            f.core.handle_message(T0, &ui, command(2, CommandOp::Hold, "1/a")),
            Ok(Accepted::CommandDuplicate { seq: 2, .. })
        ),
        "the oldest command still in the window"
    );
    assert!(
        matches!(
            f.core.handle_message(T0, &ui, command(1, CommandOp::Hold, "1/a")),
            Err(Rejected::ClientSequence { got: 1, .. })
        ),
        "evicted"
    );
}

#[test]
fn the_client_lookup_says_whose_key_it_is_and_whether_it_is_still_usable() {
    let (mut f, ui) = with_ui_server();
    let alice = Owner::new("alice").expect("valid");
    assert_eq!(f.core.client(&ui), Some((&alice, true)));
    assert!(f.core.revoke_client(&ui));
    assert_eq!(f.core.client(&ui), Some((&alice, false)));
    assert_eq!(f.core.client(&f.ka), None, "a job's key is no client's");
}

#[test]
fn records_report_their_last_sequence_and_the_core_lists_every_job() {
    let mut f = fixture();
    let (ka, a) = (f.ka, f.a.clone());
    assert_eq!(f.core.job(&a).map(JobRecord::last_seq), Some(0));
    for (seq, body) in [(1, JobBody::Started), (2, JobBody::Heartbeat), (3, JobBody::Heartbeat)] {
        assert_eq!(f.send(ka, &a, seq, body).map(|ok| ok.seq()), Ok(seq));
    }
    assert_eq!(f.core.job(&a).map(JobRecord::last_seq), Some(3));
    assert_eq!(
        f.send(ka, &a, 3, JobBody::Heartbeat).map(|ok| ok.seq()),
        Ok(3),
        "a duplicate's acknowledgement carries its number"
    );
    let ids: Vec<&JobId> = f.core.jobs().map(|(id, _)| id).collect();
    assert_eq!(ids, [&f.a, &f.b]);
}

#[test]
fn states_and_transition_refusals_read_as_their_names() {
    for (state, name) in [
        (JobState::Launching, "launching"),
        (JobState::Submitted, "submitted"),
        (JobState::Running, "running"),
        (JobState::Succeeded, "succeeded"),
        (JobState::LaunchFailed, "launch-failed"),
    ] {
        assert_eq!((state.name(), state.to_string()), (name, name.to_owned()));
    }
    let undeclared = TransitionError::UndeclaredOutput(OutputName::new("x").expect("valid"));
    assert!(undeclared.to_string().contains("x"), "{undeclared}");
}
