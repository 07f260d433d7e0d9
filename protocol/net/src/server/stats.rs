//! Counters a scheduler keeps for operators, the demo and the defender (story S14).

use std::sync::atomic::{AtomicU64, Ordering};

use protocol_core::Check;
use serde::Serialize;

/// Live counters, shared between the server's tasks.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) connections_refused: AtomicU64,
    pub(crate) handshakes_completed: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) connections_dropped: AtomicU64,
    pub(crate) launched: AtomicU64,
    pub(crate) launch_failed: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) rejected_by_check: [AtomicU64; Check::ALL.len()],
    pub(crate) log_batches: AtomicU64,
    pub(crate) handshake_timeouts: AtomicU64,
    pub(crate) handshakes_evicted: AtomicU64,
    pub(crate) quota_refused: AtomicU64,
    pub(crate) quota_revoked: AtomicU64,
    pub(crate) transport_failures: AtomicU64,
    pub(crate) isolated_drops: AtomicU64,
    pub(crate) key_cap_closed: AtomicU64,
    pub(crate) log_write_failures: AtomicU64,
    pub(crate) log_stalls: AtomicU64,
    pub(crate) log_stalled: AtomicU64,
    pub(crate) log_failure: std::sync::Mutex<Option<String>>,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    /// A message rejected by `check`.
    pub(crate) fn reject(&self, check: Check) {
        bump(&self.rejected);
        self.refuse(check);
    }

    /// A handshake or registration refused by `check`.
    pub(crate) fn refuse(&self, check: Check) {
        if let Some(i) = Check::ALL.iter().position(|c| *c == check) {
            bump(&self.rejected_by_check[i]);
        }
    }

    /// A consistent-enough copy for printing.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections_refused: get(&self.connections_refused),
            handshakes_completed: get(&self.handshakes_completed),
            handshakes_failed: get(&self.handshakes_failed),
            connections_dropped: get(&self.connections_dropped),
            launched: get(&self.launched),
            launch_failed: get(&self.launch_failed),
            accepted: get(&self.accepted),
            duplicates: get(&self.duplicates),
            rejected: get(&self.rejected),
            rejected_by_check: Check::ALL
                .iter()
                .zip(&self.rejected_by_check)
                .filter(|(_, n)| get(n) > 0)
                .map(|(c, n)| (c.name(), get(n)))
                .collect(),
            log_batches: get(&self.log_batches),
            handshake_timeouts: get(&self.handshake_timeouts),
            handshakes_evicted: get(&self.handshakes_evicted),
            transport_failures: get(&self.transport_failures),
            isolated_drops: get(&self.isolated_drops),
            key_cap_closed: get(&self.key_cap_closed),
            log_write_failures: get(&self.log_write_failures),
            log_stalls: get(&self.log_stalls),
            log_stalled: get(&self.log_stalled) != 0,
            log_failure: self.log_failure.lock().ok().and_then(|f| f.clone()),
            quota_refused: get(&self.quota_refused),
            quota_revoked: get(&self.quota_revoked),
        }
    }
}

/// A copy of the counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Connections closed at once: too many handshakes in flight or connections open.
    pub connections_refused: u64,
    /// Handshakes that completed and were let through by the core.
    pub handshakes_completed: u64,
    /// Handshakes that failed: timeout, bad frame, bad crypto, or refused by the core.
    pub handshakes_failed: u64,
    /// Established connections closed for a bad frame, message or decrypt failure.
    pub connections_dropped: u64,
    /// Jobs whose key was registered.
    pub launched: u64,
    /// Launches that failed.
    pub launch_failed: u64,
    /// Messages accepted and made durable.
    pub accepted: u64,
    /// Retransmissions acknowledged without effect.
    pub duplicates: u64,
    /// Messages rejected by a check.
    pub rejected: u64,
    /// Refusals by check name: messages, handshakes and registrations.
    pub rejected_by_check: Vec<(&'static str, u64)>,
    /// Group commits written.
    pub log_batches: u64,
    /// Connections closed by the handshake deadline before their first authenticated transport
    /// message: a stalled handshake, or a message 2 never followed (`handshake-deadline` fired).
    pub handshake_timeouts: u64,
    /// Connections that arrived to a full handshake table and took the slot held longest,
    /// whose connection was closed (`handshake-eviction` fired).
    pub handshakes_evicted: u64,
    /// Established connections closed because a transport frame failed to decrypt and
    /// authenticate (`noise-transport` fired).
    pub transport_failures: u64,
    /// Connections closed for a bad frame, decrypt failure or bad message with no other
    /// connection affected (`connection-isolation` fired).
    pub isolated_drops: u64,
    /// Confirmed connections closed because a newer one of the same key went over the per-key
    /// cap (`key-connection-cap` fired).
    pub key_cap_closed: u64,
    /// Job messages refused for being past a quota, before the core or the log saw them
    /// (`job-quota` fired; also counted in `rejected`).
    pub quota_refused: u64,
    /// Jobs whose key was revoked for going on past their quota.
    pub quota_revoked: u64,
    /// Attempts to make a batch durable that failed (a full disk, a file-size limit, an I/O
    /// error); each is retried, and nothing in the batch is acknowledged until one succeeds.
    pub log_write_failures: u64,
    /// Times the event log went from writable to failing.
    pub log_stalls: u64,
    /// Whether the event log is failing now: no acknowledgement leaves until it is written.
    pub log_stalled: bool,
    /// Why, while it is failing.
    pub log_failure: Option<String>,
}
