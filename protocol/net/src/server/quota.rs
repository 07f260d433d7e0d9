//! Per-job quotas (`job-quota`), sans-IO: how many messages, how many bytes and how fast one
//! job may make the scheduler write to its event log.
//!
//! Without them one job's stream of maximal messages filled a small event-log filesystem in
//! 0.3 s and stopped the scheduler for every other job. The core task charges every message a
//! job sends, before the core sees it (so before anything reaches the log): a message past a
//! quota is refused with `over-quota` and nothing is written; a job that keeps going past its
//! quota ([`JobQuota::strikes`] refusals) has its key revoked. A UI server's commands are not
//! charged. The defaults are far above what an honest job sends (SPEC.md §9.3).

use std::collections::BTreeMap;
use std::time::Duration;

use protocol_core::PublicKey;
use protocol_core::time::Millis;

/// The limits per job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobQuota {
    /// Messages a job may send in its life (accepted or not: every one is read and judged).
    pub max_messages: u64,
    /// Bytes of encoded messages a job may send in its life.
    pub max_bytes: u64,
    /// Messages at once before the rate applies.
    pub burst: u32,
    /// Messages per second, sustained.
    pub per_second: u32,
    /// Refusals for quota after which the job's key is revoked.
    pub strikes: u32,
}

impl Default for JobQuota {
    /// 100,000 messages and 64 MiB per job, bursts of 1,000 then 200 a second, revoked after
    /// 100 refusals.
    fn default() -> Self {
        Self {
            max_messages: 100_000,
            max_bytes: 64 * 1024 * 1024,
            burst: 1_000,
            per_second: 200,
            strikes: 100,
        }
    }
}

/// Which quota a message was past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Over {
    /// The job's message count.
    Messages,
    /// The job's bytes.
    Bytes,
    /// The job's rate.
    Rate,
}

impl Over {
    /// `messages`, `bytes` or `rate`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Bytes => "bytes",
            Self::Rate => "rate",
        }
    }
}

/// What to do with a charged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charge {
    /// Within every quota: let the core judge it.
    Within,
    /// Past a quota: refuse it (`over-quota`); `revoke` once the job has used its strikes.
    Refuse {
        /// Which quota.
        over: Over,
        /// Whether the job's key is now to be revoked.
        revoke: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Usage {
    messages: u64,
    bytes: u64,
    /// Rate tokens, in thousandths of a message.
    tokens: u64,
    at: Millis,
    strikes: u32,
}

/// Every job's usage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quotas {
    limits: JobQuota,
    usage: BTreeMap<PublicKey, Usage>,
}

impl Quotas {
    /// No usage yet.
    #[must_use]
    pub const fn new(limits: JobQuota) -> Self {
        Self {
            limits,
            usage: BTreeMap::new(),
        }
    }

    fn capacity(&self) -> u64 {
        u64::from(self.limits.burst.max(1)) * 1000
    }

    /// Charges a message of `bytes` from `key` at `now`.
    pub fn handle_message(&mut self, now: Millis, key: &PublicKey, bytes: u64) -> Charge {
        let capacity = self.capacity();
        let per_ms = u64::from(self.limits.per_second.max(1));
        let limits = self.limits;
        let u = self.usage.entry(*key).or_insert(Usage {
            messages: 0,
            bytes: 0,
            tokens: capacity,
            at: now,
            strikes: 0,
        });
        let elapsed = now.0.saturating_sub(u.at.0);
        u.tokens = u.tokens.saturating_add(elapsed.saturating_mul(per_ms)).min(capacity);
        u.at = u.at.max(now);
        let over = if u.messages >= limits.max_messages {
            Some(Over::Messages)
        } else if u.bytes.saturating_add(bytes) > limits.max_bytes {
            Some(Over::Bytes)
        } else if u.tokens < 1000 {
            Some(Over::Rate)
        } else {
            None
        };
        match over {
            None => {
                u.messages += 1;
                u.bytes = u.bytes.saturating_add(bytes);
                u.tokens -= 1000;
                Charge::Within
            }
            Some(over) => {
                u.strikes = u.strikes.saturating_add(1);
                Charge::Refuse {
                    over,
                    revoke: u.strikes == limits.strikes.max(1),
                }
            }
        }
    }

    /// The job behind `key` is gone (revoked or finished): its usage is forgotten.
    pub fn forget(&mut self, key: &PublicKey) {
        self.usage.remove(key);
    }

    /// Jobs with usage held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.usage.len()
    }

    /// Whether none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.usage.is_empty()
    }

    /// How long after `now` the job behind `key` may send again at its rate (zero if it may now).
    #[must_use]
    pub fn rate_wait(&self, now: Millis, key: &PublicKey) -> Duration {
        let Some(u) = self.usage.get(key) else {
            return Duration::ZERO;
        };
        let per_ms = u64::from(self.limits.per_second.max(1));
        let tokens = u
            .tokens
            .saturating_add(now.0.saturating_sub(u.at.0).saturating_mul(per_ms));
        Duration::from_millis(1000u64.saturating_sub(tokens).div_ceil(per_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_trusted_bytes([n; 32])
    }

    fn quota() -> JobQuota {
        JobQuota {
            max_messages: 5,
            max_bytes: 1000,
            burst: 3,
            per_second: 1,
            strikes: 2,
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies_and_refills() {
        let mut q = Quotas::new(quota());
        for _ in 0..3 {
            assert_eq!(q.handle_message(Millis(0), &key(1), 10), Charge::Within);
        }
        assert_eq!(
            q.handle_message(Millis(0), &key(1), 10),
            Charge::Refuse {
                over: Over::Rate,
                revoke: false
            }
        );
        assert_eq!(q.rate_wait(Millis(0), &key(1)), Duration::from_secs(1));
        assert_eq!(q.handle_message(Millis(1000), &key(1), 10), Charge::Within);
        // Another job has its own quota.
        assert_eq!(q.handle_message(Millis(0), &key(2), 10), Charge::Within);
    }

    #[test]
    fn a_job_past_its_messages_or_bytes_is_refused_and_revoked_at_its_strikes() {
        let mut q = Quotas::new(JobQuota { burst: 100, ..quota() });
        assert_eq!(q.handle_message(Millis(0), &key(1), 990), Charge::Within);
        assert_eq!(
            q.handle_message(Millis(0), &key(1), 11),
            Charge::Refuse {
                over: Over::Bytes,
                revoke: false
            }
        );
        assert_eq!(
            q.handle_message(Millis(0), &key(1), 10),
            Charge::Within,
            "a small one still fits"
        );
        for _ in 0..3 {
            assert_eq!(q.handle_message(Millis(0), &key(1), 0), Charge::Within);
        }
        assert_eq!(
            q.handle_message(Millis(0), &key(1), 0),
            Charge::Refuse {
                over: Over::Messages,
                revoke: true
            },
            "the second refusal is the last strike"
        );
        q.forget(&key(1));
        assert!(q.is_empty());
    }
}
