//! The job channel model.

use model::channel::{Action, Bounds, ChannelModel, Environment, KeySym, State};
use model::run::prove;
use model::variants::Variant;
use protocol_core::Defences;
use stateright::Model;

/// A step the test needs to be possible.
fn step(model: &ChannelModel, state: &State, action: Action) -> State {
    model.next_state(state, action).expect("possible")
}

/// Honest job h0's key reply, with its own key.
const fn registration() -> Action {
    Action::KeyReply {
        job: 0,
        key: KeySym::Job(0),
    }
}

/// Job h0 connects and writes what its window allows (its writes come first: a persistent set
/// of one).
fn connect_and_write(model: &ChannelModel, state: &State) -> State {
    let mut state = step(model, state, Action::Connect(0));
    while state.honest[0].core.clone().poll_transmit().is_some() {
        state = step(model, &state, Action::Transmit(0));
    }
    state
}

#[test]
fn every_channel_property_holds_and_every_witness_is_reached_within_the_quick_bound() {
    let report = prove(
        "channel",
        ChannelModel::new(Defences::all(), Environment::default(), Bounds::QUICK),
    );
    for p in &report.properties {
        assert!(p.holds, "{} {} failed: {:#?}", p.kind, p.name, p.trace);
    }
    assert_eq!(report.properties.iter().filter(|p| p.kind == "always").count(), 10);
    assert_eq!(report.properties.iter().filter(|p| p.kind == "sometimes").count(), 12);
    // Pinned: a change to the cores or the model that changes the explored space must be seen.
    assert_eq!(report.unique_states, 53_762);
}

#[test]
fn sender_authentication_survives_a_leaked_scheduler_key() {
    let env = Environment {
        scheduler_key_leaked: true,
        ..Environment::default()
    };
    let report = prove("channel-kci", ChannelModel::new(Defences::all(), env, Bounds::QUICK));
    let kci = report
        .properties
        .iter()
        .find(|p| p.name == "kci-resistance")
        .expect("the KCI property is checked");
    assert!(kci.holds);
    assert!(
        report.all_hold(),
        "{:#?}",
        report.properties.iter().filter(|p| !p.holds).collect::<Vec<_>>()
    );
    assert_eq!(report.unique_states, 55_818);
}

#[test]
fn a_refused_command_never_blocks_later_commands_within_the_quick_command_bound() {
    let report = prove(
        "channel-commands",
        ChannelModel::new(Defences::all(), Environment::default(), Bounds::COMMANDS_QUICK),
    );
    for p in &report.properties {
        assert!(p.holds, "{} {} failed: {:#?}", p.kind, p.name, p.trace);
    }
    let names: Vec<&str> = report.properties.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"command-liveness"), "{names:?}");
    assert!(
        names.contains(&"a refused command's number is carried by the next command, which is applied"),
        "{names:?}"
    );
    assert_eq!(report.unique_states, 89_714);
}

#[test]
fn every_property_holds_across_a_crash_at_any_point_within_the_quick_crash_bound() {
    let report = prove(
        "channel-crash",
        ChannelModel::new(Defences::all(), Environment::default(), Bounds::CRASH_QUICK),
    );
    for p in &report.properties {
        assert!(p.holds, "{} {} failed: {:#?}", p.kind, p.name, p.trace);
    }
    let names: Vec<&str> = report.properties.iter().map(|p| p.name.as_str()).collect();
    for witness in [
        "a crash loses an event that was not yet durable, and an honest job still finishes",
        "the scheduler restarts after the defender was told of its revocation",
    ] {
        assert!(names.contains(&witness), "{names:?}");
    }
    assert_eq!(report.unique_states, 3_258);
}

#[test]
fn a_crash_loses_an_acceptance_not_yet_durable_and_the_restored_core_takes_the_resent_message() {
    let model = ChannelModel::new(Defences::all(), Environment::default(), Bounds::CRASH_QUICK);
    let mut state = model.init_states().remove(0);
    let step = |state: &model::channel::State, action: Action| {
        model
            .next_state(state, action)
            .unwrap_or_else(|| panic!("{action:?} is possible"))
    };
    for action in [
        Action::KeyReply {
            job: 0,
            key: model::channel::KeySym::Job(0),
        },
        Action::Commit,
        Action::Connect(0),
        Action::Transmit(0),
        Action::Deliver(0),
    ] {
        state = step(&state, action);
    }
    let id = &model.ids()[0];
    assert_eq!(state.core.job(id).map(|r| r.last_seq()), Some(1), "accepted in memory");
    assert!(
        state.honest[0].link.as_ref().is_some_and(|l| l.to_job.is_empty()),
        "its ack waits for the write"
    );
    state = step(&state, Action::Crash);
    assert!(
        state.monitor.crash_lost,
        "the crash lost the acceptance that was not yet durable"
    );
    assert_eq!(
        state.core.job(id).map(|r| r.last_seq()),
        Some(0),
        "restored from the log, which never held the acceptance"
    );
    for action in [
        Action::Connect(0),
        Action::Transmit(0),
        Action::Deliver(0),
        Action::Commit,
        Action::Receive(0),
    ] {
        state = step(&state, action);
    }
    assert!(state.honest[0].core.is_acknowledged(1));
    assert_eq!(state.core.job(id).map(|r| r.last_seq()), Some(1));
}

#[test]
fn a_replayed_first_handshake_message_is_offered_before_and_after_its_connection_closes_and_is_pruned_as_changing_nothing()
 {
    let model = ChannelModel::new(Defences::all(), Environment::default(), Bounds::QUICK);
    let offered = |state: &State| {
        let mut actions = Vec::new();
        model.actions(state, &mut actions);
        actions.contains(&Action::ReplayFirstMessage(0))
    };
    let registered = step(&model, &model.init_states().remove(0), registration());
    assert!(!offered(&registered), "nothing captured before the job connects");
    let open = connect_and_write(&model, &registered);
    assert!(offered(&open), "while its connection is up");
    let cut = step(&model, &open, Action::Sever(0));
    assert!(cut.honest[0].link.is_none());
    assert!(offered(&cut), "and after it closed");
    for state in [open, cut] {
        // The real core answers the replay (message 2) and keeps nothing of it ...
        let mut core = state.core.clone();
        let session = core
            .handle_handshake(state.now, &KeySym::Job(0).public(), &[])
            .expect("the real core answers a replayed first message for a registered key");
        assert_eq!(session.job.as_ref(), Some(&model.ids()[0]), "bound to job h0's record");
        assert!(session.client.is_none() && session.first_payload.is_none());
        assert_eq!(
            core, state.core,
            "the handshake alone changes nothing the scheduler keeps"
        );
        // ... so the step is computed and not explored further: its state is this one with
        // less of the attacker's budget.
        assert_eq!(model.next_state(&state, Action::ReplayFirstMessage(0)), None);
    }
}

#[test]
fn the_ui_servers_old_numbering_turns_one_refused_command_into_a_gap_for_the_next() {
    // The design before the fix: the command core consumes the number the scheduler refused.
    let (report, _) = Variant::Flaw(protocol_core::Flaw::BurnRefusedNumber).find_attack(Bounds::QUICK);
    assert_eq!(report.property.as_deref(), Some("command-liveness"));
    let told: Vec<&str> = report.trace.iter().map(|s| s.detail.as_str()).collect();
    assert!(
        told.first().is_some_and(|d| d.ends_with("hold 1/no_such_task"))
            && told.last().is_some_and(|d| d.contains("UI server's next command")),
        "a hold on a missing task first, the scheduler judging the next command last: {told:#?}"
    );
}

#[test]
fn every_weakened_design_is_broken_and_names_the_property_it_breaks() {
    let expected = [
        ("key-validation", "registration-binding", 1),
        ("unique-key", "registration-binding", 2),
        ("bootstrap-deadline", "registration-binding", 2),
        ("empty-first-payload", "kci-resistance", 2),
        ("authenticated-key", "no-acceptance-after-revocation", 3),
        ("bound-identity", "job-isolation", 3),
        ("fresh-sequence", "injective-agreement", 3),
        ("allowed-type", "allow-list", 2),
        ("valid-transition", "no-forged-completion", 3),
        ("dedup-by-session", "injective-agreement", 3),
        ("identity-from-claim", "sender-authentication", 2),
        ("burn-refused-number", "command-liveness", 8),
        ("ack-before-durable", "durable-acknowledgement", 7),
        ("revocation-before-durable", "durable-revocation", 4),
        ("cylc7-key-shipping", "key-secrecy", 2),
        ("unauthenticated-bootstrap", "registration-binding", 1),
    ];
    assert_eq!(expected.len(), Variant::all().len(), "every variant is listed here");
    for (name, property, steps) in expected {
        let variant = Variant::from_name(name).expect("a known variant");
        let (report, actions) = variant.find_attack(Bounds::QUICK);
        assert!(
            report.found,
            "{name}: no attack found, so the defence is not shown necessary"
        );
        assert_eq!(report.property.as_deref(), Some(property), "{name}");
        assert_eq!(
            variant.breaks(),
            property,
            "{name}: the catalogue names the property the attack breaks"
        );
        assert_eq!(actions.len(), steps, "{name}: {:#?}", report.trace);
        assert_eq!(report.trace.len(), steps);
    }
}

#[test]
fn a_weakened_design_with_no_attacker_in_range_is_reported_as_not_found() {
    // With no forgeries the compromised job cannot send, so removing allowed-type (whose attack
    // needs the compromised job to talk after its final message) leaves nothing to find: the
    // search must say so rather than invent a counterexample.
    let bounds = Bounds {
        forgeries: 0,
        revocation: false,
        ..Bounds::QUICK
    };
    let (report, actions) = Variant::Without(protocol_core::Check::AllowedType).find_attack(bounds);
    assert!(!report.found && actions.is_empty(), "{report:#?}");
}

#[test]
fn a_message_read_from_a_connection_the_job_gave_up_on_after_its_resend_is_a_duplicate_and_takes_effect_once() {
    let model = ChannelModel::new(Defences::all(), Environment::default(), Bounds::QUICK);
    let registered = step(&model, &model.init_states().remove(0), registration());
    let mut state = step(&model, &connect_and_write(&model, &registered), Action::Abandon(0));
    assert_eq!(state.honest[0].stale.len(), 2, "both writes still on their way");
    state = step(&model, &connect_and_write(&model, &state), Action::Deliver(0));
    let id = &model.ids()[0];
    assert_eq!(state.core.job(id).map(|r| r.last_seq()), Some(1));
    assert!(!state.monitor.duplicate);
    state = step(&model, &state, Action::DeliverStale(0));
    assert!(state.honest[0].link.is_some(), "read beside the job's new connection");
    assert!(state.monitor.duplicate, "the old copy of #1 is recognised");
    assert_eq!(state.core.job(id).map(|r| r.last_seq()), Some(1), "and takes no effect");
    assert!(!state.monitor.not_injective);
}
