//! Per-source request rate limits (concern C06, story S14): a token bucket per key, sans-IO.
//!
//! Each key (a client address) has a bucket of `burst` requests that refills at `per_minute`.
//! A request takes one; an empty bucket refuses with the time until one is back, which the hub
//! turns into `429 Too Many Requests` with `Retry-After`. Arithmetic is exact integers: a
//! request costs 60 000 units and a bucket gains `per_minute` units per millisecond.
//!
//! Memory is bounded: at most `max_keys` buckets. When full, buckets that have refilled
//! completely (indistinguishable from new ones) are dropped; if none has, the least recently
//! used bucket is. A spray of fresh addresses therefore evicts its own oldest addresses first
//! and never locks a new legitimate source out (refusing every new key, as this once did,
//! let a login flood from rotating addresses refuse every newcomer's login); what a spray
//! gains is a fresh bucket per address it uses, which it had anyway. Password guessing across
//! addresses is bounded per account instead ([`crate::backoff`]).

use std::collections::BTreeMap;
use std::time::Duration;

use protocol_core::time::Millis;

/// Units one request costs.
const COST: u64 = 60_000;

/// A rate: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests a full bucket allows back to back (at least 1).
    pub burst: u32,
    /// Requests regained per minute (at least 1).
    pub per_minute: u32,
}

impl RateLimit {
    /// `burst` at once, `per_second` sustained.
    #[must_use]
    pub const fn per_second(burst: u32, per_second: u32) -> Self {
        Self {
            burst,
            per_minute: per_second.saturating_mul(60),
        }
    }

    fn capacity(self) -> u64 {
        u64::from(self.burst.max(1)) * COST
    }

    fn refill(self) -> u64 {
        u64::from(self.per_minute.max(1))
    }
}

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limited {
    /// How long until a request would be allowed.
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds, rounded up, at least 1.
    #[must_use]
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after
            .as_millis()
            .div_ceil(1000)
            .max(1)
            .try_into()
            .unwrap_or(u64::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Bucket {
    units: u64,
    at: Millis,
}

/// Token buckets per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateLimiter<K: Ord> {
    limit: RateLimit,
    max_keys: usize,
    buckets: BTreeMap<K, Bucket>,
}

impl<K: Ord + Clone> RateLimiter<K> {
    /// A limiter holding at most `max_keys` buckets.
    #[must_use]
    pub const fn new(limit: RateLimit, max_keys: usize) -> Self {
        Self {
            limit,
            max_keys,
            buckets: BTreeMap::new(),
        }
    }

    /// The limit applied.
    #[must_use]
    pub const fn limit(&self) -> RateLimit {
        self.limit
    }

    fn level(&self, b: &Bucket, now: Millis) -> u64 {
        let elapsed = now.0.saturating_sub(b.at.0);
        b.units
            .saturating_add(elapsed.saturating_mul(self.limit.refill()))
            .min(self.limit.capacity())
    }

    /// Whether a request from `key` would pass at `now`, taking nothing.
    ///
    /// # Errors
    /// [`Limited`] with the wait until one would.
    pub fn peek(&self, now: Millis, key: &K) -> Result<(), Limited> {
        let current = self
            .buckets
            .get(key)
            .map_or(self.limit.capacity(), |b| self.level(b, now));
        if current >= COST {
            return Ok(());
        }
        Err(Limited {
            retry_after: Duration::from_millis((COST - current).div_ceil(self.limit.refill())),
        })
    }

    /// Takes one request from `key`'s bucket at `now`.
    ///
    /// # Errors
    /// [`Limited`] with the wait until the next request would pass.
    pub fn check(&mut self, now: Millis, key: &K) -> Result<(), Limited> {
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            let capacity = self.limit.capacity();
            let full: Vec<K> = self
                .buckets
                .iter()
                .filter(|(_, b)| self.level(b, now) >= capacity)
                .map(|(k, _)| k.clone())
                .collect();
            for k in full {
                self.buckets.remove(&k);
            }
            if self.buckets.len() >= self.max_keys
                && let Some(oldest) = self.buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone())
            {
                self.buckets.remove(&oldest);
            }
        }
        let fresh = Bucket {
            units: self.limit.capacity(),
            at: now,
        };
        let current = self.buckets.get(key).map_or(fresh.units, |b| self.level(b, now));
        if current < COST {
            let missing = COST - current;
            let ms = missing.div_ceil(self.limit.refill());
            self.buckets.insert(
                key.clone(),
                Bucket {
                    units: current,
                    at: now,
                },
            );
            return Err(Limited {
                retry_after: Duration::from_millis(ms),
            });
        }
        self.buckets.insert(
            key.clone(),
            Bucket {
                units: current - COST,
                at: now,
            },
        );
        Ok(())
    }

    /// Buckets held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = Millis(1_000_000);

    #[test]
    fn a_burst_passes_then_requests_are_refused_until_the_bucket_refills() {
        let mut l = RateLimiter::new(RateLimit::per_second(3, 1), 10);
        for _ in 0..3 {
            l.check(T0, &"a").expect("within the burst");
        }
        let refused = l.check(T0, &"a").expect_err("burst spent");
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(refused.retry_after_secs(), 1);
        assert_eq!(
            l.check(T0.after(Duration::from_millis(999)), &"a"),
            Err(Limited {
                retry_after: Duration::from_millis(1)
            })
        );
        l.check(T0.after(Duration::from_millis(2000)), &"a")
            .expect("one regained");
        l.check(T0, &"b").expect("another source has its own bucket");
    }

    #[test]
    fn a_slow_rate_gives_a_long_retry_after() {
        let mut l = RateLimiter::new(
            RateLimit {
                burst: 1,
                per_minute: 2,
            },
            10,
        );
        l.check(T0, &1).expect("first");
        let refused = l.check(T0, &1).expect_err("second");
        assert_eq!(refused.retry_after, Duration::from_secs(30));
        assert_eq!(refused.retry_after_secs(), 30);
    }

    #[test]
    fn memory_is_bounded_and_a_new_source_evicts_the_least_recently_used_bucket() {
        let mut l = RateLimiter::new(RateLimit::per_second(1, 1), 2);
        l.check(T0, &1).expect("one");
        l.check(T0.after(Duration::from_millis(10)), &2).expect("two");
        // Full, nothing refilled: the least recently used (1) makes room; 2 keeps its history.
        l.check(T0.after(Duration::from_millis(20)), &3)
            .expect("a newcomer is not refused");
        assert_eq!(l.len(), 2);
        assert_eq!(
            l.check(T0.after(Duration::from_millis(30)), &2),
            Err(Limited {
                retry_after: Duration::from_millis(980)
            }),
            "2 is still limited"
        );
        // Once the others have refilled completely, they are forgotten to make room.
        l.check(T0.after(Duration::from_secs(5)), &4).expect("room made");
        assert_eq!(l.len(), 1);
    }
}
