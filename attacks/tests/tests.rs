//! The attack harnesses and the model-conformance replays, run the way `threatcheck attack`
//! runs them: every harness must be defended by the real target and breach its control, and
//! every model counterexample must reach its violation on the weakened build and be refused on
//! the full one.

mod api;
mod channel;
mod conformance;
mod hub;
mod uiserver;

use std::sync::{Mutex, MutexGuard};

/// Harnesses measure whether honest jobs keep their service and time out silent peers, so they
/// run one at a time (as the runner runs them), not beside each other on two cores.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
