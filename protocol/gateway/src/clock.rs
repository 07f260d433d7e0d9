//! Time for the HTTP servers: a [`Clock`] trait and the system clock. Tests put the test kit's
//! manual clock in its place, so that elevation expiry, idle stops, rate limits and alert
//! windows can be tested without sleeping.

use std::fmt;
use std::sync::Arc;

use protocol_core::time::Millis;

/// Where a server reads the time from. The sans-IO cores take `now` from here.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch (or the clock's own origin).
    fn now(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::now()
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, shared.
#[must_use]
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}
