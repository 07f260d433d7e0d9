//! Every people-side harness passes: the real hub, UI servers and authoriser defend, and each
//! weakened control is breached.

use attacks::harness::{HarnessResult, Outcome};
use attacks::run::{find, run_harness};
use attacks::uiserver::all;

use crate::one_at_a_time;

fn run(id: &str) -> HarnessResult {
    let _serial = one_at_a_time();
    let harness = find(id).unwrap_or_else(|| panic!("no harness {id}"));
    run_harness(&harness)
}

fn passes(id: &str) {
    let result = run(id);
    assert!(
        matches!(result.real, Outcome::Defended { .. }),
        "{id}: the real side must be defended: {result:#?}"
    );
    assert!(
        matches!(result.control, Outcome::Breached { .. }),
        "{id}: the control must be breached: {result:#?}"
    );
}

/// Every harness id, each covered by a test below.
const TESTED: [&str; 7] = [
    "c02-detect-bad-actions",
    "c05-privacy-between-users",
    "c09-delegated-credentials",
    "s06-unauthorised-scan",
    "s11-cross-owner-command",
    "s13-stored-payload",
    "s16-escalation-search",
];

#[test]
fn every_people_side_harness_has_a_test_here() {
    let mut ids: Vec<&str> = all().iter().map(|h| h.info.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, TESTED);
}

#[test]
fn no_policy_file_or_group_combination_lifts_an_insider_above_the_site_limit_or_past_a_negation() {
    passes("s16-escalation-search");
}

#[test]
fn hostile_text_reaches_the_audit_logs_escaped_and_never_forges_a_line_or_reaches_an_admin_raw() {
    passes("s13-stored-payload");
}

#[test]
fn every_attempt_is_on_disk_before_its_effect_and_every_tampering_with_the_log_is_detected() {
    passes("c02-detect-bad-actions");
}

#[test]
fn nobody_harvests_or_even_detects_a_workflow_they_may_not_read_through_any_spelling_of_its_url() {
    passes("s06-unauthorised-scan");
}

#[test]
fn nobody_changes_another_owners_workflow_beyond_their_grants_through_the_hub_or_around_it() {
    passes("s11-cross-owner-command");
}

#[test]
fn a_ui_server_believes_only_a_fresh_unreplayed_hub_assertion_for_its_own_request() {
    passes("c09-delegated-credentials");
}

#[test]
fn no_answer_shows_one_user_another_users_sessions_private_workflows_accounts_or_policy() {
    passes("c05-privacy-between-users");
}
