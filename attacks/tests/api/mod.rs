//! The harness API as other engineers and the CLI use it.

use attacks::harness::{HarnessResult, Outcome, Side};
use attacks::run::{UnknownHarness, all, run, select};

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
        assert!(!h.info.defence.is_empty() && !h.info.control.is_empty() && !h.info.title.is_empty());
    }
}

#[test]
fn an_unknown_id_is_refused_before_anything_runs() {
    let mut started = 0;
    let err = run(&["s12-compromised-job", "s99-nothing"], |_| started += 1).expect_err("unknown id");
    assert_eq!(err, UnknownHarness("s99-nothing".into()));
    assert_eq!(started, 0);
}

#[test]
fn selecting_nothing_selects_everything_and_repeats_run_once() {
    assert_eq!(select::<&str>(&[]).expect("all").len(), all().len());
    let twice = select(&["s14-revoke-job", "s14-revoke-job"]).expect("known");
    assert_eq!(twice.len(), 1);
}

#[test]
fn a_harness_whose_control_is_not_breached_fails() {
    let info = all()[0].info;
    let toothless = HarnessResult {
        info,
        real: Outcome::defended("refused"),
        control: Outcome::defended("refused as well"),
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
        real: Outcome::defended("refused"),
        control: Outcome::breached("got through"),
        ..toothless
    };
    assert!(good.passed() && good.failure().is_none());
}

#[test]
fn results_serialise_with_the_outcome_as_a_tag() {
    let json = serde_json::to_value(Outcome::breached("x")).expect("json");
    assert_eq!(json["outcome"], "breached");
    assert_eq!(json["evidence"], "x");
    assert_eq!(serde_json::to_value(Side::Control).expect("json"), "control");
}
