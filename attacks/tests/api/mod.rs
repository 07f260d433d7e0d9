//! The harness API as other engineers and the CLI use it.

use attacks::harness::{
    Control, Fired, Harness, HarnessError, HarnessInfo, HarnessResult, Outcome, RunFuture, Weakening,
};
use attacks::live::peer::Session;
use attacks::live::target::{Target, TargetConfig, refusals};
use attacks::run::{UnknownHarness, all, run, run_harness, select};
use protocol::{Defence, DriverCheck};
use protocol_core::{Check, Flaw, WorkflowId};
use protocol_gateway::checks::GatewayCheck;
use protocol_people::PeopleCheck;

use crate::one_at_a_time;

#[test]
fn harness_ids_are_unique_story_prefixed_and_listed_in_order() {
    let harnesses = all();
    let ids: Vec<&str> = harnesses.iter().map(|h| h.info.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted and unique");
    for h in &harnesses {
        let prefix = h.info.story.to_ascii_lowercase();
        assert!(h.info.id.starts_with(&format!("{prefix}-")), "{}", h.info.id);
        assert!(!h.info.defences.is_empty() && !h.info.title.is_empty(), "{}", h.info.id);
        assert!(!h.info.controls().is_empty(), "{} has a control", h.info.id);
    }
}

#[test]
fn an_unknown_id_is_refused_before_anything_runs() {
    let mut started = 0;
    let err = run(&["s12-compromised-job", "s99-nothing"], &Weakening::none(), |_| {
        started += 1
    })
    .expect_err("unknown id");
    assert_eq!(err, UnknownHarness("s99-nothing".into()));
    assert_eq!(started, 0);
}

#[test]
fn selecting_nothing_selects_everything_and_repeats_run_once() {
    assert_eq!(select::<&str>(&[]).expect("all").len(), all().len());
    let twice = select(&["s14-revoke-job", "s14-revoke-job"]).expect("known");
    assert_eq!(twice.len(), 1);
}

fn fired(d: impl Into<Defence>) -> Fired {
    Fired::count(d, 1)
}

#[test]
fn a_harness_whose_control_is_not_breached_fails() {
    let info = all()[0].info;
    let toothless = HarnessResult {
        info,
        base: Weakening::none(),
        real: Outcome::judge(vec![], &fired(Check::BoundIdentity), "refused"),
        control: Outcome::judge(vec![], &fired(Check::BoundIdentity), "refused as well"),
        seconds: 0.0,
    };
    assert!(!toothless.passed());
    assert!(toothless.failure().is_some_and(|w| w.contains("no teeth")));
    let broken = HarnessResult {
        real: Outcome::breached("got through"),
        control: Outcome::breached("got through"),
        ..toothless.clone()
    };
    assert!(!broken.passed());
    let good = HarnessResult {
        real: Outcome::judge(vec![], &fired(Check::BoundIdentity), "refused"),
        control: Outcome::breached("got through"),
        ..toothless
    };
    assert!(good.passed() && good.failure().is_none());
}

#[test]
fn a_verdict_is_defended_only_when_every_named_defence_fired() {
    let both = Fired::count(GatewayCheck::AssertionMac, 3).and(GatewayCheck::AssertionReplay, 1);
    assert!(Outcome::judge(vec![], &both, "refused").is_defended());
    let one_silent = Fired::count(GatewayCheck::AssertionMac, 3).and(GatewayCheck::AssertionReplay, 0);
    match Outcome::judge(vec![], &one_silent, "refused") {
        Outcome::Error { error } => assert!(error.contains("assertion-replay never fired"), "{error}"),
        other => panic!("a silent defence must make the run an error: {other:?}"),
    }
    assert!(matches!(
        Outcome::judge(vec![], &Fired::default(), "refused"),
        Outcome::Error { .. }
    ));
    assert!(Outcome::judge(vec!["got in".into()], &one_silent, "refused").is_breached());
}

/// A harness with a typo in its attack: the compromised job dials the scheduler with the wrong
/// workflow's prologue, so its handshake fails and nothing it claims is ever tried.
const TYPO: Harness = Harness {
    info: HarnessInfo {
        id: "s12-typo",
        story: "S12",
        target: "scheduler",
        title: "a compromised job claims another job's identity, but dials with the wrong workflow",
        defences: &[Defence::Channel(Check::BoundIdentity)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(typo(w)) as RunFuture,
};

async fn typo(w: Weakening) -> Result<Outcome, HarnessError> {
    let (target, jobs) = Target::with_jobs(&TargetConfig::for_run(&w), &["h0", "c"]).await?;
    let wrong = WorkflowId::new("alice", "other").map_err(HarnessError::setup)?;
    let reached = Session::open(target.addr(), &target.key(), &wrong, &jobs[1].keypair)
        .await
        .is_ok();
    let stats = target.stats();
    target.shutdown().await;
    let breaches = if reached {
        vec!["the attacker connected".to_owned()]
    } else {
        Vec::new()
    };
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::BoundIdentity, refusals(&stats, Check::BoundIdentity)),
        "the claim of another job's identity was not taken",
    ))
}

#[test]
fn a_harness_whose_named_defence_did_not_fire_is_reported_as_an_error_not_as_defended() {
    let _serial = one_at_a_time();
    let result = run_harness(&TYPO);
    match &result.real {
        Outcome::Error { error } => assert!(error.contains("bound-identity never fired"), "{error}"),
        other => panic!("the typo must not count as a defence: {other:?}"),
    }
    assert!(!result.passed());
}

#[test]
fn a_weakening_removes_exactly_its_defences_from_each_layer() {
    let w = Weakening::without(Check::FreshSequence)
        .and(&Weakening::without(PeopleCheck::SiteLimit))
        .and(&Weakening::without(GatewayCheck::CsrfToken))
        .and(&Weakening::without(DriverCheck::NoiseTransport));
    assert!(!w.core().is_on(Check::FreshSequence) && w.core().is_on(Check::BoundIdentity));
    assert!(!w.people().is_on(PeopleCheck::SiteLimit) && w.people().is_on(PeopleCheck::NegationWins));
    assert!(!w.gateway().is_on(GatewayCheck::CsrfToken) && w.gateway().is_on(GatewayCheck::OriginCheck));
    assert!(w.driver().plaintext_transport && !w.driver().shared_fate);
    assert!(
        Weakening::with_flaw(Flaw::DedupBySession)
            .core()
            .has_flaw(Flaw::DedupBySession)
    );
    assert!(Weakening::none().core().is_complete() && Weakening::none().is_none());
    assert_eq!(
        Weakening::without(Check::FreshSequence).label(),
        "without fresh-sequence"
    );
}

#[test]
fn every_harness_control_removes_a_defence_it_names_or_adds_a_design_flaw() {
    for h in all() {
        for control in h.info.controls() {
            match h.info.control {
                Control::WithoutEach => {
                    assert!(control.removed().all(|d| h.info.tests(d)), "{}", h.info.id);
                }
                Control::Flaw(flaw) => assert!(control.has_flaw(flaw), "{}", h.info.id),
            }
        }
    }
}

#[test]
fn results_serialise_with_the_outcome_as_a_tag_and_defences_by_name() {
    let json = serde_json::to_value(Outcome::breached("x")).expect("json");
    assert_eq!(json["outcome"], "breached");
    assert_eq!(json["evidence"], "x");
    let info = serde_json::to_value(TYPO.info).expect("json");
    assert_eq!(info["defences"], serde_json::json!(["bound-identity"]));
    assert_eq!(info["control"], "without-each");
}
