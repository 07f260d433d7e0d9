//! The people model: sessions, elevation, authorisation and the audit log.

use model::people::{Action, Bounds, Fact, Op, PeopleModel, START, State, max_skew};
use model::run::prove;
use model::variants::PeopleVariant;
use protocol_people::PeopleDefences;
use stateright::Model;

#[test]
fn every_people_property_holds_and_every_witness_is_reached_within_the_quick_bound() {
    let report = prove("people", PeopleModel::new(PeopleDefences::all(), Bounds::QUICK));
    for p in &report.properties {
        assert!(p.holds, "{} {} failed: {:#?}", p.kind, p.name, p.trace);
    }
    let always: Vec<_> = report
        .properties
        .iter()
        .filter(|p| p.kind == "always")
        .map(|p| p.name.as_str())
        .collect();
    for required in ["elevation-required", "audit-before-effect", "site-limit-respected"] {
        assert!(always.contains(&required), "{required} is checked: {always:?}");
    }
    assert_eq!(always.len(), 10);
    assert!(always.contains(&"hub-assertion-agreement"), "{always:?}");
    assert_eq!(report.properties.iter().filter(|p| p.kind == "sometimes").count(), 20);
    // Pinned: a change to the cores or the model that changes the explored space must be seen.
    assert_eq!(report.unique_states, 334_531);
}

#[test]
fn every_weakened_gateway_is_broken_and_names_the_property_it_breaks() {
    let expected = [
        ("site-limit", "site-limit-respected", 3),
        ("negation-wins", "negation-respected", 3),
        ("fail-closed", "fail-closed", 3),
        ("elevation-required", "elevation-required", 2),
        ("elevation-reauth", "elevation-required", 3),
        ("elevation-new-token", "elevation-required", 3),
        ("elevation-expiry", "elevation-required", 4),
        ("token-audience", "token-confinement", 2),
        ("token-idle-expiry", "token-confinement", 3),
        ("token-absolute-expiry", "token-confinement", 4),
        ("token-revocation", "token-confinement", 3),
        ("token-hashing", "store-confidentiality", 2),
        ("uniform-login-failure", "login-uniformity", 1),
        ("audit-chain", "audit-tamper-evidence", 4),
        ("audit-anchor", "audit-tamper-evidence", 2),
        ("audit-escaping", "audit-tamper-evidence", 1),
        ("audit-before-effect", "audit-before-effect", 2),
        ("assertion-mac", "hub-assertion-agreement", 4),
        ("assertion-freshness", "hub-assertion-agreement", 5),
        ("assertion-replay", "hub-assertion-agreement", 4),
    ];
    assert_eq!(
        expected.len(),
        PeopleVariant::all().len(),
        "every variant is listed here"
    );
    for (name, property, steps) in expected {
        let variant = PeopleVariant::from_name(name).expect("a known variant");
        let (report, actions) = variant.find_attack(Bounds::QUICK);
        assert!(
            report.found,
            "{name}: no attack found, so the defence is not shown necessary"
        );
        assert_eq!(report.property.as_deref(), Some(property), "{name}");
        assert_eq!(
            variant.breaks(),
            property,
            "{name}: the catalogue names the property it breaks"
        );
        assert_eq!(actions.len(), steps, "{name}: {:#?}", report.trace);
        assert_eq!(report.trace.len(), steps);
    }
}

#[test]
fn an_elevation_attack_trace_reads_as_sentences_naming_the_person_and_the_operation() {
    let (report, _) = PeopleVariant::from_name("elevation-required")
        .expect("a known variant")
        .find_attack(Bounds::QUICK);
    let last = report.trace.last().expect("a trace");
    assert!(
        report.trace.iter().all(|s| !s.actor.is_empty() && !s.detail.is_empty()),
        "{:#?}",
        report.trace
    );
    // The attack ends with a read-only login token getting an Execute operation performed.
    assert!(last.detail.contains("login token"), "{last:?}");
    assert!(
        last.detail
            .contains("the hub vouches for it and the UI server performs stop"),
        "{last:?}"
    );
}

#[test]
fn without_the_replay_guard_a_request_copied_off_the_hubs_link_is_carried_out_a_second_time() {
    let (report, actions) = PeopleVariant::from_name("assertion-replay")
        .expect("a known variant")
        .find_attack(Bounds::QUICK);
    // Log in, read (asked for, or the open view's keep-alive), copy the read off the link,
    // send it again.
    assert_eq!(actions.len(), 4, "{:#?}", report.trace);
    assert_eq!(actions.first(), Some(&Action::Login));
    assert!(matches!(
        actions.get(1),
        Some(Action::Act(Op::Read) | Action::Wait { watching: true })
    ));
    assert_eq!(actions.get(2..), Some(&[Action::Capture, Action::ReplayAssertion][..]));
    let last = report.trace.last().expect("a trace");
    assert!(last.detail.contains("A SECOND TIME"), "{last:?}");
    // With the guard the same copy is refused, at once or at the window's last instant, and a
    // copy sent after the window is refused as stale.
    let model = PeopleModel::new(PeopleDefences::all(), Bounds::QUICK);
    let run = |steps: &[Action]| {
        steps
            .iter()
            .try_fold(model.init_states().remove(0), |s, a| model.next_state(&s, *a))
            .expect("every step possible")
    };
    let refused = |s: &State| {
        s.facts.iter().find_map(|f| match f {
            Fact::AssertionRefused { code, at_edge, .. } => Some((*code, *at_edge)),
            _ => None,
        })
    };
    let copied = [Action::Login, Action::Act(Op::Read), Action::Capture];
    let at_once = run(&[&copied[..], &[Action::ReplayAssertion]].concat());
    assert_eq!(refused(&at_once), Some(("replayed", false)));
    let at_edge = run(&[&copied[..], &[Action::Jump, Action::ReplayAssertion]].concat());
    assert_eq!(
        at_edge.now,
        START.after(max_skew()),
        "the jump lands on the last fresh instant"
    );
    assert_eq!(refused(&at_edge), Some(("replayed", true)));
    let late = run(&[
        &copied[..],
        &[Action::Wait { watching: false }, Action::ReplayAssertion],
    ]
    .concat());
    assert_eq!(refused(&late), Some(("stale", false)));
    let edited = run(&[&copied[..], &[Action::EditAssertion]].concat());
    assert_eq!(refused(&edited), Some(("bad-mac", false)));
}
