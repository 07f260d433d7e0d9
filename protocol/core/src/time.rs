//! Time as an input: cores never read a clock, drivers pass `now` in, read from a [`Clock`]
//! (the system clock in production, a manual one in tests).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (or any fixed origin a driver chooses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + d`, saturating.
    #[must_use]
    pub fn after(self, d: Duration) -> Self {
        Self(self.0.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }

    /// The current wall-clock time, for drivers.
    #[must_use]
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Where a driver reads the time from. The sans-IO cores take `now` from here.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_wall_clock_and_after_adds_saturating() {
        // 2020-09-13T12:26:40Z, long past; the clock must read later than that.
        assert!(SystemClock.now() > Millis(1_600_000_000_000));
        assert!(system().now() >= Millis(1_600_000_000_000));
        assert_eq!(Millis(5).after(Duration::from_millis(7)), Millis(12));
        assert_eq!(Millis(u64::MAX).after(Duration::from_secs(1)), Millis(u64::MAX));
    }
}
