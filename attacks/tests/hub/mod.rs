//! Every hub harness passes: the real people side defends, the weakened control is breached.

use attacks::Outcome;
use attacks::run::{find, run_harness};

use crate::one_at_a_time;

fn passes(id: &str) {
    let _serial = one_at_a_time();
    let harness = find(id).unwrap_or_else(|| panic!("no harness {id}"));
    let result = run_harness(&harness);
    assert!(
        matches!(result.real, Outcome::Defended { .. }),
        "{id}: the real side was not defended: {result:#?}"
    );
    assert!(
        matches!(result.control, Outcome::Breached { .. }),
        "{id}: the control was not breached: {result:#?}"
    );
}

/// Every hub harness id, each covered by a test below.
const TESTED: [&str; 20] = [
    "c02-refused-attempts",
    "c06-audit-flood",
    "c06-login-flood",
    "c06-resource-limits",
    "c06-slow-connections",
    "s02-forged-token",
    "s02-login-csrf",
    "s03-account-enumeration",
    "s03-distributed-guessing",
    "s04-address-disclosure",
    "s05-cross-origin-command",
    "s05-csrf-token",
    "s05-pre-elevation-token",
    "s05-token-absolute-expiry",
    "s05-token-idle-expiry",
    "s05-token-in-url",
    "s05-token-replay",
    "s09-spawner-injection",
    "s10-cross-audience-token",
    "s14-alert-and-shutdown",
];

#[test]
fn every_hub_harness_has_a_test_here_and_is_registered() {
    let mut ids: Vec<&str> = attacks::hub::all().iter().map(|h| h.info.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, TESTED);
    for id in TESTED {
        assert!(find(id).is_some(), "{id} is not in run::all");
    }
}

#[test]
fn a_persons_flood_of_refused_requests_is_recorded_at_their_rate_and_refused_beyond_it() {
    passes("c06-audit-flood");
}

#[test]
fn every_refused_probe_of_the_hub_is_recorded_once_with_who_from_where_and_why() {
    passes("c02-refused-attempts");
}

#[test]
fn a_login_flood_is_checked_off_every_lock_and_a_logged_in_person_is_served_meanwhile() {
    passes("c06-login-flood");
}

#[test]
fn half_sent_and_silent_connections_are_closed_and_their_address_is_still_served() {
    passes("c06-slow-connections");
}

#[test]
fn guesses_at_one_password_from_many_addresses_or_a_stolen_session_back_off_without_locking_the_owner_out() {
    passes("s03-distributed-guessing");
}

#[test]
fn forged_tokens_are_refused_and_a_ui_server_believes_only_assertions_the_hub_signed() {
    passes("s02-forged-token");
}

#[test]
fn a_cross_site_form_cannot_log_the_victims_browser_into_the_attackers_account() {
    passes("s02-login-csrf");
}

#[test]
fn failed_logins_do_not_tell_which_accounts_exist_and_password_guessing_is_throttled() {
    passes("s03-account-enumeration");
}

#[test]
fn no_answer_of_the_hub_reveals_an_internal_address_port_or_path() {
    passes("s04-address-disclosure");
}

#[test]
fn a_token_replayed_after_logout_is_refused() {
    passes("s05-token-replay");
}

#[test]
fn a_token_replayed_after_the_idle_timeout_is_refused() {
    passes("s05-token-idle-expiry");
}

#[test]
fn a_kept_alive_token_is_refused_after_its_absolute_lifetime() {
    passes("s05-token-absolute-expiry");
}

#[test]
fn the_pre_elevation_token_is_dead_after_elevation() {
    passes("s05-pre-elevation-token");
}

#[test]
fn a_forged_command_without_the_csrf_token_is_refused_even_from_an_accepted_origin() {
    passes("s05-csrf-token");
}

#[test]
fn a_forged_command_from_another_origin_is_refused_even_with_the_real_csrf_token() {
    passes("s05-cross-origin-command");
}

#[test]
fn a_live_token_in_a_url_is_refused_even_with_valid_credentials() {
    passes("s05-token-in-url");
}

#[test]
fn owner_names_in_urls_never_spawn_anything_but_a_configured_owners_ui_server() {
    passes("s09-spawner-injection");
}

#[test]
fn a_captured_hub_assertion_cannot_be_replayed_and_a_hub_token_means_nothing_to_a_ui_server() {
    passes("s10-cross-audience-token");
}

#[test]
fn an_alert_lets_the_operator_block_a_source_at_once_while_others_carry_on() {
    passes("s14-alert-and-shutdown");
}

#[test]
fn floods_from_one_source_are_rate_limited_and_live_jobs_are_capped_while_others_are_served() {
    passes("c06-resource-limits");
}
