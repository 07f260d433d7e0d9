//! The people model: sessions, elevation, authorisation and the audit log.

use model::people::{Bounds, PeopleModel};
use model::run::prove;
use model::variants::PeopleVariant;
use protocol_people::PeopleDefences;

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
    assert_eq!(always.len(), 9);
    assert_eq!(report.properties.iter().filter(|p| p.kind == "sometimes").count(), 15);
    // Pinned: a change to the cores or the model that changes the explored space must be seen.
    assert_eq!(report.unique_states, 206_057);
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
        ("elevation-expiry", "elevation-required", 5),
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
    assert!(last.detail.contains("permitted: the gateway performs stop"), "{last:?}");
}
