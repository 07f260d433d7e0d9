//! A clock that tests move by hand, so that elevation expiry, idle stops, rate limits and
//! alert windows can be tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol_core::time::Millis;
use protocol_gateway::clock::Clock;

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Millis) -> Self {
        Self(Arc::new(AtomicU64::new(start.0)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set(&self, to: Millis) {
        self.0.store(to.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use protocol_gateway::clock::SystemClock;

    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = ManualClock::new(Millis(1000));
        let d = c.clone();
        assert_eq!(c.now(), Millis(1000));
        d.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Millis(3000));
        c.set(Millis(5));
        assert_eq!(d.now(), Millis(5));
        assert!(SystemClock.now() > Millis(1_600_000_000_000));
    }
}
