//! Every job-channel harness passes: the real target defends, the weakened control is breached.

use attacks::channel::all;
use attacks::run::{find, run_harness};

use crate::one_at_a_time;

fn passes(id: &str) {
    let _serial = one_at_a_time();
    let harness = find(id).unwrap_or_else(|| panic!("no harness {id}"));
    let result = run_harness(&harness);
    assert!(
        result.passed(),
        "{id}: {}\n{result:#?}",
        result.failure().unwrap_or_default()
    );
}

/// Every harness id, each covered by a test below.
const TESTED: [&str; 20] = [
    "c06-event-log-flood",
    "s01-garbage-frames",
    "s01-handshake-flood",
    "s01-held-handshakes",
    "s01-replayed-first-message",
    "s01-scheduler-restart",
    "s01-slowloris",
    "s07-job-runs-code",
    "s08-job-changes-workflow",
    "s12-after-revocation",
    "s12-after-terminal",
    "s12-compromised-job",
    "s12-connection-hog",
    "s12-copied-key",
    "s12-late-key",
    "s12-low-order-key",
    "s14-revoke-job",
    "s15-bit-flip",
    "s15-key-substitution",
    "s15-passive-capture",
];

#[test]
fn every_channel_harness_has_a_test_here() {
    let mut ids: Vec<&str> = all().iter().map(|h| h.info.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, TESTED);
}

#[test]
fn one_jobs_stream_of_maximal_messages_is_refused_past_its_quota_before_the_event_log_and_its_key_revoked() {
    passes("c06-event-log-flood");
}

#[test]
fn running_jobs_reach_a_restarted_scheduler_through_its_contact_file_and_every_message_is_accepted_once() {
    passes("s01-scheduler-restart");
}

#[test]
fn connections_that_never_authenticate_cannot_hold_every_handshake_slot_against_an_honest_job() {
    passes("s01-held-handshakes");
}

#[test]
fn silent_connections_cannot_lock_an_honest_job_out_while_the_handshake_deadline_frees_their_slots() {
    passes("s01-slowloris");
}

#[test]
fn a_flood_of_bogus_first_messages_is_refused_without_an_answer_while_honest_jobs_finish() {
    passes("s01-handshake-flood");
}

#[test]
fn replayed_first_messages_without_a_key_are_answered_but_closed_at_the_deadline_and_lock_no_honest_job_out() {
    passes("s01-replayed-first-message");
}

#[test]
fn hostile_frames_close_only_their_own_connection_and_honest_jobs_keep_theirs() {
    passes("s01-garbage-frames");
}

#[test]
fn a_job_cannot_command_the_workflow_and_its_shell_text_never_runs() {
    passes("s07-job-runs-code");
}

#[test]
fn a_job_cannot_complete_reserved_undeclared_or_repeated_outputs() {
    passes("s08-job-changes-workflow");
}

#[test]
fn a_compromised_job_cannot_report_as_another_job() {
    passes("s12-compromised-job");
}

#[test]
fn nothing_a_job_sends_after_its_final_message_takes_effect() {
    passes("s12-after-terminal");
}

#[test]
fn nothing_a_revoked_job_sends_takes_effect() {
    passes("s12-after-revocation");
}

#[test]
fn a_low_order_key_is_never_registered() {
    passes("s12-low-order-key");
}

#[test]
fn a_job_cannot_register_another_jobs_public_key() {
    passes("s12-copied-key");
}

#[test]
fn one_keys_connections_cannot_fill_the_scheduler_because_its_newest_closes_its_oldest() {
    passes("s12-connection-hog");
}

#[test]
fn a_key_that_arrives_after_the_bootstrap_deadline_is_never_registered() {
    passes("s12-late-key");
}

#[test]
fn revocation_closes_the_live_connection_at_once_and_refuses_every_later_handshake() {
    passes("s14-revoke-job");
}

#[test]
fn a_recording_relay_finds_no_job_id_text_or_key_in_the_traffic() {
    passes("s15-passive-capture");
}

#[test]
fn altered_truncated_and_reordered_frames_are_never_accepted_and_the_job_still_finishes() {
    passes("s15-bit-flip");
}

#[test]
fn a_man_in_the_middle_with_its_own_key_learns_and_changes_nothing() {
    passes("s15-key-substitution");
}
