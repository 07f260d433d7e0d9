//! The UI server's idle timer, sans-IO (the hub design notes: "UI Servers should time out and die if no
//! one is looking at them, and be respawned upon interaction").
//!
//! Every request counts as activity when it begins and when it ends; a keep-alive request is
//! just activity. The server is idle once nothing is in flight and the last activity is at
//! least `timeout` old; a request that takes longer than the timeout does not make its own
//! server stop under it.

use std::time::Duration;

use protocol_core::time::Millis;

/// Tracks activity; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdleTimer {
    timeout: Duration,
    last: Millis,
    in_flight: u32,
}

impl IdleTimer {
    /// A timer started at `now`.
    #[must_use]
    pub const fn new(now: Millis, timeout: Duration) -> Self {
        Self {
            timeout,
            last: now,
            in_flight: 0,
        }
    }

    /// Activity (a keep-alive).
    pub fn touch(&mut self, now: Millis) {
        self.last = self.last.max(now);
    }

    /// A request begins.
    pub fn begin(&mut self, now: Millis) {
        self.in_flight = self.in_flight.saturating_add(1);
        self.touch(now);
    }

    /// A request ends.
    pub fn end(&mut self, now: Millis) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.touch(now);
    }

    /// When the server becomes idle if nothing happens, or `None` while requests are in flight.
    #[must_use]
    pub fn deadline(&self) -> Option<Millis> {
        (self.in_flight == 0).then(|| self.last.after(self.timeout))
    }

    /// Whether the server should stop now.
    #[must_use]
    pub fn expired(&self, now: Millis) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    /// Requests in flight.
    #[must_use]
    pub const fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = Millis(5_000);
    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_timer_expires_after_the_timeout_without_activity() {
        let t = IdleTimer::new(T0, MIN);
        assert!(!t.expired(T0.after(Duration::from_secs(59))));
        assert!(t.expired(T0.after(MIN)));
        assert_eq!(t.deadline(), Some(T0.after(MIN)));
    }

    #[test]
    fn a_keep_alive_resets_it() {
        let mut t = IdleTimer::new(T0, MIN);
        t.touch(T0.after(Duration::from_secs(50)));
        assert!(!t.expired(T0.after(Duration::from_secs(100))));
        assert!(t.expired(T0.after(Duration::from_secs(110))));
        t.touch(T0);
        assert_eq!(
            t.deadline(),
            Some(T0.after(Duration::from_secs(110))),
            "time never runs back"
        );
    }

    #[test]
    fn a_request_in_flight_holds_it_open_and_its_end_counts_as_activity() {
        let mut t = IdleTimer::new(T0, MIN);
        t.begin(T0.after(Duration::from_secs(10)));
        assert_eq!(t.in_flight(), 1);
        assert!(!t.expired(T0.after(Duration::from_secs(3600))));
        assert_eq!(t.deadline(), None);
        t.end(T0.after(Duration::from_secs(3600)));
        assert!(!t.expired(T0.after(Duration::from_secs(3601))));
        assert!(t.expired(T0.after(Duration::from_secs(3660))));
    }
}
