//! Every rule of precedence, on the hub design notes' example (everyone may read and stop/start; a
//! sensitive owner narrows that; a sensitive workflow is owner-only) and on small policies.

use protocol_people::authz::{AllowReason, Authorizer, Decision, DenyReason, LayerKind, LayerVerdict};
use protocol_people::names::Subject;
use protocol_people::ops::{Level, Operation, Right};
use protocol_people::policy::{Policy, PolicyError};

use crate::common::*;

fn example() -> Authorizer {
    Authorizer::from_load(Policy::load(&example_policy()))
}

fn rights(list: &[&str]) -> Vec<Right> {
    list.iter().map(|r| r.parse().expect("right")).collect()
}

fn subject(s: &str) -> Subject {
    s.parse().expect("subject")
}

fn decide(a: &Authorizer, who: &str, on: &str, op: Operation, level: Level) -> Decision {
    a.decide(&example_person(who), &example_wf(on), op, level)
}

#[test]
fn the_site_default_lets_anyone_read_stop_and_start_where_no_owner_says_otherwise() {
    let a = example();
    let clouds = "atmosphere_stage/clouds";
    for (op, level) in [
        (Operation::Read, Level::Read),
        (Operation::Stop, Level::Execute),
        (Operation::Play, Level::Execute),
    ] {
        let d = decide(&a, "mallory", clouds, op, level);
        assert!(
            matches!(&d, Decision::Allow(AllowReason::Granted { layer: LayerKind::SiteDefault, rule }) if rule.file == "site.toml"),
            "{op}: {d:?}"
        );
    }
    assert_eq!(
        decide(&a, "mallory", clouds, Operation::Trigger, Level::Write),
        Decision::Deny(DenyReason::NotGranted {
            layer: Some(LayerKind::SiteDefault)
        })
    );
}

#[test]
fn an_owner_layer_that_names_a_person_replaces_the_site_default_for_them() {
    let a = example();
    let d = decide(
        &a,
        "jacintar",
        "atmosphere_stage/clouds",
        Operation::Trigger,
        Level::Execute,
    );
    assert!(
        matches!(&d, Decision::Allow(AllowReason::Granted { layer: LayerKind::Owner, rule }) if rule.file == "users/atmosphere_stage.toml" && rule.line == 7),
        "{d:?}"
    );
}

#[test]
fn the_site_limit_caps_an_owner_grant_of_edit_trigger() {
    let d = decide(
        &example(),
        "jacintar",
        "atmosphere_stage/clouds",
        Operation::EditTrigger,
        Level::Write,
    );
    assert!(
        matches!(&d, Decision::Deny(DenyReason::AboveSiteLimit { layer: LayerKind::Owner, granted_by }) if granted_by.file == "users/atmosphere_stage.toml"),
        "{d:?}"
    );
}

#[test]
fn a_group_limit_adds_to_the_limit_for_everyone() {
    let a = example();
    let d = decide(
        &a,
        "jacintar",
        "atmosphere_stage/clouds",
        Operation::Reload,
        Level::Write,
    );
    assert!(d.is_allowed(), "operators may be given reload: {d:?}");
    let outsider = a.decide(
        &person("jacintar", &[]),
        &example_wf("atmosphere_stage/clouds"),
        Operation::Reload,
        Level::Write,
    );
    assert!(
        matches!(outsider, Decision::Deny(DenyReason::AboveSiteLimit { .. })),
        "{outsider:?}"
    );
}

#[test]
fn a_sensitive_owner_narrows_the_site_default_to_read_for_one_role_and_nothing_for_others() {
    let a = example();
    let waves = "oceans_stage/waves";
    assert!(decide(&a, "jacintar", waves, Operation::Read, Level::Read).is_allowed());
    assert_eq!(
        decide(&a, "jacintar", waves, Operation::Stop, Level::Execute),
        Decision::Deny(DenyReason::NotGranted {
            layer: Some(LayerKind::Owner)
        })
    );
    assert_eq!(
        decide(&a, "mallory", waves, Operation::Read, Level::Read),
        Decision::Deny(DenyReason::NotGranted {
            layer: Some(LayerKind::Owner)
        })
    );
}

#[test]
fn a_sensitive_workflow_is_owner_only() {
    let a = example();
    let currents = "oceans_stage/currents";
    let d = decide(&a, "jacintar", currents, Operation::Read, Level::Read);
    assert!(
        matches!(&d, Decision::Deny(DenyReason::NegatedAt { layer: LayerKind::Workflow, rule }) if rule.file == "workflows/oceans_stage/currents.toml"),
        "{d:?}"
    );
    assert!(!decide(&a, "mallory", currents, Operation::Read, Level::Read).is_allowed());
    for op in Operation::ALL {
        assert_eq!(
            decide(&a, "oceans_stage", currents, *op, Level::Write),
            Decision::Allow(AllowReason::Owner)
        );
    }
}

#[test]
fn an_unelevated_session_cannot_execute_even_what_the_policy_grants() {
    let d = decide(
        &example(),
        "mallory",
        "atmosphere_stage/clouds",
        Operation::Stop,
        Level::Read,
    );
    assert_eq!(
        d,
        Decision::Deny(DenyReason::LevelTooLow {
            needed: Level::Execute,
            have: Level::Read
        })
    );
}

#[test]
fn execute_elevation_does_not_reach_write_operations() {
    let d = decide(
        &example(),
        "jacintar",
        "atmosphere_stage/clouds",
        Operation::Reload,
        Level::Execute,
    );
    assert_eq!(
        d,
        Decision::Deny(DenyReason::LevelTooLow {
            needed: Level::Write,
            have: Level::Execute
        })
    );
}

#[test]
fn the_owner_too_needs_elevation_for_execute_operations() {
    let d = decide(
        &example(),
        "atmosphere_stage",
        "atmosphere_stage/clouds",
        Operation::Broadcast,
        Level::Read,
    );
    assert_eq!(
        d,
        Decision::Deny(DenyReason::LevelTooLow {
            needed: Level::Write,
            have: Level::Read
        })
    );
}

#[test]
fn a_negation_in_the_deciding_layer_beats_a_grant_to_another_matching_subject() {
    let p = Policy::new()
        .with_site_rule(Subject::Anyone, Subject::Anyone, None, Some(rights(&["ALL"])))
        .with_owner_rule(owner("olivia"), subject("group:ops"), rights(&["READ", "EXECUTE"]))
        .with_owner_rule(owner("olivia"), subject("mallory"), rights(&["!trigger"]));
    let a = Authorizer::new(p);
    let m = person("mallory", &["ops"]);
    let d = a.decide(&m, &wf("olivia/w"), Operation::Trigger, Level::Write);
    assert!(
        matches!(
            d,
            Decision::Deny(DenyReason::NegatedAt {
                layer: LayerKind::Owner,
                ..
            })
        ),
        "{d:?}"
    );
    assert!(
        a.decide(&m, &wf("olivia/w"), Operation::Stop, Level::Write)
            .is_allowed()
    );
}

#[test]
fn a_negation_in_the_site_limit_caps_every_layer() {
    let p = Policy::new()
        .with_site_rule(
            Subject::Anyone,
            Subject::Anyone,
            None,
            Some(rights(&["READ", "EXECUTE", "!kill"])),
        )
        .with_owner_rule(owner("olivia"), Subject::Anyone, rights(&["kill", "stop"]));
    let a = Authorizer::new(p);
    let d = a.decide(&person("bob", &[]), &wf("olivia/w"), Operation::Kill, Level::Write);
    assert!(
        matches!(
            d,
            Decision::Deny(DenyReason::NegatedAt {
                layer: LayerKind::SiteLimit,
                ..
            })
        ),
        "{d:?}"
    );
    assert!(
        a.decide(&person("bob", &[]), &wf("olivia/w"), Operation::Stop, Level::Write)
            .is_allowed()
    );
}

#[test]
fn a_workflow_layer_may_widen_its_owners_grants_within_the_site_limit() {
    let p = Policy::new()
        .with_site_rule(
            Subject::Anyone,
            Subject::Anyone,
            None,
            Some(rights(&["READ", "EXECUTE"])),
        )
        .with_owner_rule(owner("olivia"), Subject::Anyone, vec![])
        .with_workflow_rule(
            wid("olivia/open"),
            subject("bob"),
            rights(&["READ", "stop", "broadcast"]),
        );
    let a = Authorizer::new(p);
    let bob = person("bob", &[]);
    assert_eq!(
        a.decide(&bob, &wf("olivia/closed"), Operation::Stop, Level::Write),
        Decision::Deny(DenyReason::NotGranted {
            layer: Some(LayerKind::Owner)
        })
    );
    assert!(
        a.decide(&bob, &wf("olivia/open"), Operation::Stop, Level::Write)
            .is_allowed()
    );
    assert!(matches!(
        a.decide(&bob, &wf("olivia/open"), Operation::Broadcast, Level::Write),
        Decision::Deny(DenyReason::AboveSiteLimit {
            layer: LayerKind::Workflow,
            ..
        })
    ));
}

#[test]
fn a_person_no_layer_names_gets_nothing() {
    let p = Policy::new()
        .with_site_rule(Subject::Anyone, subject("group:staff"), Some(rights(&["ALL"])), None)
        .with_owner_rule(owner("olivia"), subject("bob"), rights(&["ALL"]));
    let a = Authorizer::new(p);
    let zed = person("zed", &["visitors"]);
    assert_eq!(
        a.decide(&zed, &wf("olivia/w"), Operation::Read, Level::Write),
        Decision::Deny(DenyReason::NotGranted { layer: None })
    );
    assert!(a.permitted_ops(&zed, &wf("olivia/w"), Level::Write).is_empty());
}

#[test]
fn site_rules_keyed_by_an_owner_group_apply_only_to_that_groups_owners() {
    let p = Policy::new().with_site_rule(
        subject("group:public_owners"),
        Subject::Anyone,
        Some(rights(&["READ"])),
        None,
    );
    let a = Authorizer::new(p);
    let bob = person("bob", &[]);
    let public = protocol_people::groups::WorkflowRef::new(wid("olivia/w"), [group("public_owners")].into());
    assert!(a.decide(&bob, &public, Operation::Read, Level::Read).is_allowed());
    assert!(
        !a.decide(&bob, &wf("olivia/w"), Operation::Read, Level::Read)
            .is_allowed()
    );
}

#[test]
fn a_malformed_policy_denies_everything_even_to_the_owner() {
    let err = PolicyError::MissingSite { dir: "x".into() };
    let a = Authorizer::from_load(Err(err.clone()));
    let d = a.decide(&person("olivia", &[]), &wf("olivia/w"), Operation::Read, Level::Write);
    assert_eq!(d, Decision::Deny(DenyReason::PolicyBroken { error: err }));
    assert!(
        a.permitted_ops(&person("olivia", &[]), &wf("olivia/w"), Level::Write)
            .is_empty()
    );
}

#[test]
fn permitted_ops_are_exactly_what_decide_allows_so_a_ui_offers_nothing_else() {
    let a = example();
    let j = example_person("jacintar");
    let clouds = example_wf("atmosphere_stage/clouds");
    for level in Level::ALL {
        let offered = a.permitted_ops(&j, &clouds, level);
        for op in Operation::ALL {
            assert_eq!(
                offered.contains(op),
                a.decide(&j, &clouds, *op, level).is_allowed(),
                "{op} at {level}"
            );
        }
    }
    assert_eq!(a.permitted_ops(&j, &clouds, Level::Read), [Operation::Read].into());
    let write = a.permitted_ops(&j, &clouds, Level::Write);
    assert!(write.contains(&Operation::Reload) && write.contains(&Operation::Stop));
    assert!(!write.contains(&Operation::EditTrigger) && !write.contains(&Operation::Broadcast));
}

#[test]
fn explain_names_the_deciding_rule_of_each_layer() {
    let a = example();
    let e = a.explain(
        &example_person("jacintar"),
        &example_wf("atmosphere_stage/clouds"),
        Operation::EditTrigger,
        Level::Write,
    );
    let by = |k: LayerKind| e.layers.iter().find(|l| l.layer == k).expect("layer");
    assert_eq!(by(LayerKind::SiteDefault).verdict, LayerVerdict::Silent);
    assert!(!by(LayerKind::SiteDefault).decided);
    assert_eq!(by(LayerKind::SiteLimit).verdict, LayerVerdict::Silent);
    assert!(
        matches!(&by(LayerKind::Owner).verdict, LayerVerdict::Grants(r) if r.file == "users/atmosphere_stage.toml")
    );
    assert!(by(LayerKind::Owner).decided);
    assert_eq!(by(LayerKind::Workflow).verdict, LayerVerdict::NamesNobody);
    assert!(matches!(e.decision, Decision::Deny(DenyReason::AboveSiteLimit { .. })));
    let text = e.to_string();
    assert!(
        text.contains("owner layer (decides): grants edit-trigger (users/atmosphere_stage.toml:7"),
        "{text}"
    );
    assert!(text.contains("site limit: does not allow edit-trigger"), "{text}");
}
