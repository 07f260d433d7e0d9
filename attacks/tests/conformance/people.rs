//! Every people-model counterexample replays on the running code: the weakened build reaches
//! the model's violation at the trace's last step, the full build refuses it by that step by
//! the check the variant removes (live on a loopback gateway, or on protocol-people's real
//! cores with real files where one hub cannot show the step).

use attacks::Weakening;
use attacks::conformance::people::{run, run_variant};
use attacks::conformance::{UnknownVariant, Verdict};
use model::variants::PeopleVariant;

use crate::one_at_a_time;

/// Replays `name`'s counterexample on both builds; returns the result's note.
fn conforms(name: &str) -> String {
    let _serial = one_at_a_time();
    let variant = PeopleVariant::from_name(name).unwrap_or_else(|| panic!("no people variant {name}"));
    let result = run_variant(variant);
    assert_eq!(result.variant, name);
    assert!(
        result.failure().is_none(),
        "{name}: {}\n{result:#?}",
        result.failure().unwrap_or_default()
    );
    let steps = result.trace.len();
    assert!(result.replayed, "{name}: {result:#?}");
    assert!(
        matches!(&result.weakened, Verdict::Violated { step, property, .. }
            if *step == steps && property.split(", ").any(|p| Some(p) == result.property.as_deref())),
        "{name}: {:?}",
        result.weakened
    );
    assert!(
        matches!(&result.normal, Verdict::Refused { check, step, .. } if check == name && *step <= steps),
        "{name}: {:?}",
        result.normal
    );
    for verdict in [&result.weakened, &result.normal] {
        let text = verdict.detail();
        assert!(
            !text.contains("-example-password"),
            "{name}: a password in the evidence"
        );
        assert!(!text.contains("Bearer"), "{name}: a token in the evidence");
    }
    result.note
}

fn live(name: &str) {
    let note = conforms(name);
    assert!(note.starts_with("replayed live"), "{name}: {note}");
}

fn on_the_cores(name: &str) {
    let note = conforms(name);
    assert!(
        note.starts_with("replayed on protocol-people's real cores"),
        "{name}: {note}"
    );
}

#[test]
fn every_people_variant_has_a_test_here() {
    let names: Vec<&str> = PeopleVariant::all().into_iter().map(PeopleVariant::name).collect();
    assert_eq!(
        names,
        [
            "site-limit",
            "negation-wins",
            "fail-closed",
            "elevation-required",
            "elevation-reauth",
            "elevation-new-token",
            "elevation-expiry",
            "token-audience",
            "token-idle-expiry",
            "token-absolute-expiry",
            "token-revocation",
            "token-hashing",
            "uniform-login-failure",
            "audit-chain",
            "audit-anchor",
            "audit-escaping",
            "audit-before-effect",
            "assertion-mac",
            "assertion-freshness",
            "assertion-replay",
        ]
    );
}

#[test]
fn an_unknown_people_variant_is_refused_before_anything_runs() {
    let mut told = Vec::new();
    let err = run(&["token-revocation", "no-such-check"], &Weakening::none(), |n| {
        told.push(n.to_owned())
    })
    .expect_err("unknown name");
    assert_eq!(err, UnknownVariant("no-such-check".into()));
    assert!(told.is_empty());
}

#[test]
fn an_edit_trigger_granted_above_the_site_limit_takes_effect_live_without_site_limit() {
    live("site-limit");
}

#[test]
fn a_group_grant_overrides_a_personal_negation_live_without_negation_wins() {
    live("negation-wins");
}

#[test]
fn a_mistyped_policy_file_lets_a_read_through_live_without_fail_closed() {
    live("fail-closed");
}

#[test]
fn a_read_only_session_stops_the_workflow_live_without_elevation_required() {
    live("elevation-required");
}

#[test]
fn a_stolen_token_elevates_without_the_password_live_without_elevation_reauth() {
    live("elevation-reauth");
}

#[test]
fn the_pre_elevation_token_stops_the_workflow_live_without_elevation_new_token() {
    live("elevation-new-token");
}

#[test]
fn a_lapsed_elevation_still_stops_the_workflow_live_without_elevation_expiry() {
    live("elevation-expiry");
}

#[test]
fn the_hubs_token_is_accepted_at_another_audience_on_the_cores_without_token_audience() {
    on_the_cores("token-audience");
}

#[test]
fn an_idle_session_still_reads_live_without_token_idle_expiry() {
    live("token-idle-expiry");
}

#[test]
fn a_kept_alive_session_outlives_its_lifetime_live_without_token_absolute_expiry() {
    live("token-absolute-expiry");
}

#[test]
fn a_logged_out_token_still_opens_the_session_live_without_token_revocation() {
    live("token-revocation");
}

#[test]
fn a_copy_of_the_session_store_gives_working_tokens_on_the_cores_without_token_hashing() {
    on_the_cores("token-hashing");
}

#[test]
fn failed_logins_tell_which_names_exist_live_without_uniform_login_failure() {
    live("uniform-login-failure");
}

#[test]
fn a_reordered_audit_log_verifies_on_the_cores_without_audit_chain() {
    on_the_cores("audit-chain");
}

#[test]
fn a_truncated_audit_log_verifies_live_without_audit_anchor() {
    live("audit-anchor");
}

#[test]
fn an_injected_line_break_forges_an_audit_line_live_without_audit_escaping() {
    live("audit-escaping");
}

#[test]
fn a_read_is_served_before_its_audit_record_is_on_disk_live_without_audit_before_effect() {
    live("audit-before-effect");
}

#[test]
fn an_assertion_copied_off_the_hubs_link_and_edited_to_write_is_believed_live_without_assertion_mac() {
    live("assertion-mac");
}

#[test]
fn an_assertion_copied_off_the_hubs_link_is_carried_out_again_ten_minutes_later_live_without_assertion_freshness() {
    live("assertion-freshness");
}

#[test]
fn an_assertion_copied_off_the_hubs_link_is_carried_out_twice_live_without_assertion_replay() {
    live("assertion-replay");
}

#[test]
fn the_people_replays_give_the_same_verdicts_and_evidence_on_every_run() {
    let _serial = one_at_a_time();
    let first = run::<&str>(&[], &Weakening::none(), |_| {}).expect("every variant is known");
    let second = run::<&str>(&[], &Weakening::none(), |_| {}).expect("every variant is known");
    assert_eq!(first.len(), 20);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.variant, b.variant);
        assert_eq!(a.trace, b.trace, "{}", a.variant);
        assert_eq!(a.weakened, b.weakened, "{}", a.variant);
        assert_eq!(a.normal, b.normal, "{}", a.variant);
        assert_eq!(a.note, b.note, "{}", a.variant);
    }
}
