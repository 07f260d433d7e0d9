//! Every model counterexample replays on the real implementation: the weakened build reaches
//! the model's violation, the full build refuses it by the check the variant removes.

mod people;

use attacks::conformance::{Verdict, run_variant};
use model::variants::Variant;

use crate::one_at_a_time;

fn conforms(name: &str) -> attacks::ConformanceResult {
    let _serial = one_at_a_time();
    let variant = Variant::from_name(name).unwrap_or_else(|| panic!("no variant {name}"));
    let result = run_variant(variant);
    assert!(
        result.passed(),
        "{name}: {}\n{result:#?}",
        result.failure().unwrap_or_default()
    );
    result
}

/// A replayed variant: violated at the trace's last step, refused by the named check.
fn replays(name: &str, check: &str) {
    let result = conforms(name);
    assert!(result.replayed);
    let steps = result.trace.len();
    assert!(
        matches!(&result.weakened, Verdict::Violated { step, .. } if *step == steps),
        "{name}: {:?}",
        result.weakened
    );
    assert!(
        matches!(&result.normal, Verdict::Refused { check: c, .. } if c == check),
        "{name}: {:?}",
        result.normal
    );
}

#[test]
fn every_variant_has_a_test_here() {
    let names: Vec<&str> = Variant::all().into_iter().map(Variant::name).collect();
    assert_eq!(
        names,
        [
            "key-validation",
            "unique-key",
            "bootstrap-deadline",
            "empty-first-payload",
            "authenticated-key",
            "bound-identity",
            "fresh-sequence",
            "allowed-type",
            "valid-transition",
            "dedup-by-session",
            "identity-from-claim",
            "burn-refused-number",
            "ack-before-durable",
            "revocation-before-durable",
            "cylc7-key-shipping",
            "unauthenticated-bootstrap",
        ]
    );
}

/// A durability variant: the model's crash has no live replay, and the real driver's
/// counterpart finds each answer's event on disk when the answer arrives.
fn judged_by_the_durability_counterpart(name: &str, property: &str) {
    let result = conforms(name);
    assert!(!result.replayed, "{name}");
    assert_eq!(result.property.as_deref(), Some(property));
    assert!(
        matches!(&result.weakened, Verdict::NoCounterpart { .. }),
        "{name}: {:?}",
        result.weakened
    );
    assert!(
        matches!(&result.normal, Verdict::Counterpart { evidence } if evidence.contains("already held")),
        "{name}: {:?}",
        result.normal
    );
}

#[test]
fn acknowledging_before_durable_loses_a_message_in_the_model_and_the_real_driver_writes_before_it_acks() {
    judged_by_the_durability_counterpart("ack-before-durable", "durable-acknowledgement");
}

#[test]
fn answering_a_revocation_before_durable_revives_the_key_in_the_model_and_the_real_driver_writes_first() {
    judged_by_the_durability_counterpart("revocation-before-durable", "durable-revocation");
}

#[test]
fn without_key_validation_the_real_scheduler_registers_a_low_order_key() {
    replays("key-validation", "key-validation");
}

#[test]
fn without_unique_key_the_real_scheduler_gives_a_second_job_the_first_jobs_key() {
    replays("unique-key", "unique-key");
}

#[test]
fn without_the_bootstrap_deadline_the_real_scheduler_registers_a_late_key() {
    replays("bootstrap-deadline", "bootstrap-deadline");
}

#[test]
fn without_an_empty_first_payload_a_stolen_scheduler_key_forges_a_jobs_message_on_the_real_system() {
    replays("empty-first-payload", "empty-first-payload");
}

#[test]
fn without_authenticated_key_the_real_scheduler_hears_a_revoked_job() {
    replays("authenticated-key", "authenticated-key");
}

#[test]
fn without_bound_identity_the_real_scheduler_lets_one_job_report_as_another() {
    replays("bound-identity", "bound-identity");
}

#[test]
fn without_fresh_sequence_a_retransmission_takes_effect_twice_on_the_real_system() {
    replays("fresh-sequence", "fresh-sequence");
}

#[test]
fn without_allowed_type_a_job_key_carries_a_command_on_the_real_system() {
    replays("allowed-type", "allowed-type");
}

#[test]
fn without_valid_transition_a_job_completes_the_succeeded_output_on_the_real_system() {
    replays("valid-transition", "valid-transition");
    // no-forged-completion reads the scheduler core restored from the real event log, so it
    // fails on the real system only if the launches are restored too (they are not history).
    let result = conforms("valid-transition");
    assert!(
        matches!(&result.weakened, Verdict::Violated { property, .. }
            if property.split(", ").any(|p| p == "no-forged-completion")),
        "{:?}",
        result.weakened
    );
}

#[test]
fn dedup_by_session_accepts_a_retransmission_twice_and_the_real_design_acknowledges_it_as_a_duplicate() {
    replays("dedup-by-session", "fresh-sequence");
}

#[test]
fn identity_from_claim_lets_a_stranger_report_and_the_real_design_refuses_its_key() {
    replays("identity-from-claim", "authenticated-key");
}

#[test]
fn burning_a_refused_number_makes_the_next_command_a_gap_on_the_real_scheduler_and_the_real_ui_core_hands_it_on() {
    let result = conforms("burn-refused-number");
    assert!(result.replayed);
    let steps = result.trace.len();
    assert!(
        matches!(&result.weakened, Verdict::Violated { step, property, evidence }
            if *step == steps && property == "command-liveness" && evidence.contains("sequence gap")),
        "{:?}",
        result.weakened
    );
    // The full build's second command carries the refused number, 1, and is judged on what it
    // asks (applied, or refused for its own target), never as a gap.
    assert!(
        matches!(&result.normal, Verdict::Counterpart { evidence }
            if (evidence.contains("command acknowledged #1") || evidence.contains("command rejected #1 (invalid transition)"))
                && !evidence.contains("sequence gap")),
        "{:?}",
        result.normal
    );
}

#[test]
fn cylc7_key_shipping_has_no_counterpart_and_no_private_key_is_on_disk_or_the_wire() {
    let result = conforms("cylc7-key-shipping");
    assert!(!result.replayed);
    assert!(matches!(result.weakened, Verdict::NoCounterpart { .. }));
    assert!(matches!(result.normal, Verdict::Counterpart { .. }));
}

#[test]
fn an_unauthenticated_bootstrap_registers_the_attackers_key_and_the_real_design_stops_the_substitution_live() {
    let result = conforms("unauthenticated-bootstrap");
    assert!(matches!(result.weakened, Verdict::Violated { step: 1, .. }));
    assert!(matches!(&result.normal, Verdict::Counterpart { evidence } if evidence.contains("s15-key-substitution")));
}

#[test]
fn a_stalled_connections_old_copy_read_after_the_resend_is_acknowledged_as_a_duplicate_by_the_real_scheduler() {
    use attacks::conformance::replay::Replayer;
    use attacks::live::target::TargetConfig;
    use model::channel::{Action, Bounds, ChannelModel, Environment, KeySym};
    use protocol_core::Defences;
    use protocol_core::scheduler::Event;
    let _serial = one_at_a_time();
    // The model test's trace, step for step: job h0 writes #1 and #2, its connection stalls, it
    // reconnects and resends both; the scheduler reads the new #1, then the old #1.
    let actions = [
        Action::KeyReply {
            job: 0,
            key: KeySym::Job(0),
        },
        Action::Connect(0),
        Action::Transmit(0),
        Action::Transmit(0),
        Action::Abandon(0),
        Action::Connect(0),
        Action::Transmit(0),
        Action::Transmit(0),
        Action::Deliver(0),
        Action::DeliverStale(0),
    ];
    let model = ChannelModel::new(Defences::all(), Environment::default(), Bounds::QUICK);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (records, violated) = runtime.block_on(async {
        let mut replayer = Replayer::start(model, TargetConfig::real(), false)
            .await
            .expect("the target starts");
        let mut records = Vec::new();
        for action in &actions {
            records.push(replayer.step(action).await.expect("the step is performed"));
        }
        let violated = replayer.violated();
        replayer.finish().await;
        (records, violated)
    });
    let accepted = |r: &attacks::conformance::replay::StepRecord| {
        r.events.iter().filter(|e| matches!(e, Event::Accepted { .. })).count()
    };
    let (deliver, stale) = (&records[8], &records[9]);
    assert_eq!(
        accepted(deliver),
        1,
        "the new connection's #1 takes effect: {deliver:?}"
    );
    assert!(!deliver.duplicate);
    assert!(
        stale.duplicate,
        "the old connection's #1 is acknowledged as a duplicate: {stale:?}"
    );
    assert_eq!(accepted(stale), 0, "and takes no effect: {stale:?}");
    assert!(violated.is_empty(), "{violated:?}");
}
