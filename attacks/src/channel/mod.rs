//! Harnesses against the job channel: a live scheduler on 127.0.0.1 attacked by silent and
//! flooding connections, compromised jobs holding their own keys, and a network attacker on
//! the path.
//!
//! | module | stories |
//! |---|---|
//! | [`c06_quota`] | C06 one job fills the event log with maximal messages |
//! | [`s01`] | S01 stop a user's suite from running (slow-loris, handshake flood, hostile frames) |
//! | [`s01_restart`] | S01 a scheduler restart strands its running jobs |
//! | [`s01_replay`] | S01 replayed first handshake messages held open without a key; every handshake slot held |
//! | [`s07`] | S07 execute code through a job's messages |
//! | [`s08`] | S08 change a running workflow's course from a job |
//! | [`s12`] | S12 a malicious job affects other jobs (identity, terminal state, revocation, registration) |
//! | [`s12_hog`] | S12 one key's authenticated connections fill the scheduler |
//! | [`s14`] | S14 the defender revokes a job |
//! | [`s15`] | S15 snoop on or modify traffic (capture, tampering, key substitution) |

pub mod c06_quota;
pub mod s01;
pub mod s01_replay;
pub mod s01_restart;
pub mod s07;
pub mod s08;
pub mod s12;
pub mod s12_hog;
pub mod s14;
pub mod s15;

use crate::harness::Harness;

/// Every job-channel harness.
#[must_use]
pub fn all() -> Vec<Harness> {
    vec![
        c06_quota::EVENT_LOG_FLOOD,
        s01::SLOWLORIS,
        s01::HANDSHAKE_FLOOD,
        s01::GARBAGE_FRAMES,
        s01_replay::REPLAYED_FIRST_MESSAGE,
        s01_replay::HELD_HANDSHAKES,
        s01_restart::SCHEDULER_RESTART,
        s07::JOB_RUNS_CODE,
        s08::JOB_CHANGES_WORKFLOW,
        s12::COMPROMISED_JOB,
        s12::AFTER_TERMINAL,
        s12::AFTER_REVOCATION,
        s12::LOW_ORDER_KEY,
        s12::COPIED_KEY,
        s12::LATE_KEY,
        s12_hog::CONNECTION_HOG,
        s14::REVOKE_JOB,
        s15::PASSIVE_CAPTURE,
        s15::BIT_FLIP,
        s15::KEY_SUBSTITUTION,
    ]
}
