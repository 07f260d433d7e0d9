//! Per-source request rate limits (concern C06, story S14): a token bucket per key, sans-IO.
//!
//! Each key (a client address) has a bucket of `burst` requests that refills at `per_minute`.
//! A request takes one; an empty bucket refuses with the time until one is back, which the hub
//! turns into `429 Too Many Requests` with `Retry-After`. Arithmetic is exact integers: a
//! request costs 60 000 units and a bucket gains `per_minute` units per millisecond.
//!
//! Memory is bounded: at most `max_keys` buckets. When full, buckets that have refilled
//! completely (indistinguishable from new ones) are dropped; if none has, the bucket nearest
//! to refilled (the least limited) is. Both are found through an index ordered by the time
//! each bucket is full again, so a request costs `O(log max_keys)` however many sources a
//! flood rotates through (a scan of the table per new source, as this once did, made every
//! request of a rotating-address flood cost the whole table). A spray of fresh addresses therefore evicts its own oldest addresses first
//! and never locks a new legitimate source out (refusing every new key, as this once did,
//! let a login flood from rotating addresses refuse every newcomer's login); what a spray
//! gains is a fresh bucket per address it uses, which it had anyway. Password guessing across
//! addresses is bounded per account instead ([`crate::backoff`]).

use std::collections::{BTreeMap, BTreeSet};
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
    /// Every bucket by the time it is full again: `(full_at, key)`.
    by_full: BTreeSet<(Millis, K)>,
}

impl<K: Ord + Clone> RateLimiter<K> {
    /// A limiter holding at most `max_keys` buckets.
    #[must_use]
    pub const fn new(limit: RateLimit, max_keys: usize) -> Self {
        Self {
            limit,
            max_keys,
            buckets: BTreeMap::new(),
            by_full: BTreeSet::new(),
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
            self.make_room(now);
        }
        let current = self
            .buckets
            .get(key)
            .map_or(self.limit.capacity(), |b| self.level(b, now));
        let (units, verdict) = match current.checked_sub(COST) {
            Some(left) => (left, Ok(())),
            None => (
                current,
                Err(Limited {
                    retry_after: Duration::from_millis((COST - current).div_ceil(self.limit.refill())),
                }),
            ),
        };
        self.put(key, Bucket { units, at: now });
        verdict
    }

    /// The time `b` is full again.
    fn full_at(&self, b: &Bucket) -> Millis {
        let missing = self.limit.capacity().saturating_sub(b.units);
        Millis(b.at.0.saturating_add(missing.div_ceil(self.limit.refill())))
    }

    fn put(&mut self, key: &K, bucket: Bucket) {
        let full_at = self.full_at(&bucket);
        if let Some(old) = self.buckets.insert(key.clone(), bucket) {
            let was = self.full_at(&old);
            self.by_full.remove(&(was, key.clone()));
        }
        self.by_full.insert((full_at, key.clone()));
    }

    fn remove_first(&mut self) {
        if let Some((_, k)) = self.by_full.pop_first() {
            self.buckets.remove(&k);
        }
    }

    /// Drops every bucket that has refilled; if none has, the one nearest to refilled.
    fn make_room(&mut self, now: Millis) {
        while self.by_full.first().is_some_and(|(full_at, _)| *full_at <= now) {
            self.remove_first();
        }
        if self.buckets.len() >= self.max_keys {
            self.remove_first();
        }
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
    fn memory_is_bounded_and_a_new_source_evicts_the_bucket_nearest_to_refilled() {
        let mut l = RateLimiter::new(RateLimit::per_second(1, 1), 2);
        l.check(T0, &1).expect("one");
        l.check(T0.after(Duration::from_millis(10)), &2).expect("two");
        // Full, nothing refilled: the one nearest to refilled (1) makes room; 2 keeps its history.
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

    #[test]
    fn a_drained_source_keeps_its_limit_while_a_spray_of_fresh_sources_evicts_its_own() {
        let mut l = RateLimiter::new(RateLimit::per_second(3, 1), 4);
        for _ in 0..3 {
            l.check(T0, &0).expect("the burst");
        }
        assert!(l.check(T0, &0).is_err_and(|e| e.retry_after == Duration::from_secs(1)));
        // A spray of 1,000 fresh sources, one request each: each is nearer to refilled
        // (1 s) than the drained source (3 s), so the spray evicts its own entries.
        for k in 1..=1000 {
            l.check(T0.after(Duration::from_millis(1)), &k)
                .expect("a fresh source passes");
            assert!(l.len() <= 4, "bounded");
            assert_eq!(l.by_full.len(), l.len(), "one index entry per bucket");
        }
        assert_eq!(
            l.check(T0.after(Duration::from_millis(2)), &0),
            Err(Limited {
                retry_after: Duration::from_millis(998)
            }),
            "the drained source is still limited"
        );
    }

    #[test]
    fn the_index_follows_every_bucket_it_holds() {
        let mut l = RateLimiter::new(RateLimit::per_second(2, 1), 3);
        for (i, k) in [1, 2, 1, 3, 1, 4, 2, 5, 5, 5].iter().enumerate() {
            let _ = l.check(T0.after(Duration::from_millis(100 * i as u64)), k);
            let keys: BTreeSet<i32> = l.buckets.keys().copied().collect();
            let indexed: BTreeSet<i32> = l.by_full.iter().map(|(_, k)| *k).collect();
            assert_eq!(keys, indexed);
            for (full_at, k) in &l.by_full {
                assert_eq!(*full_at, l.full_at(&l.buckets[k]));
            }
        }
    }
}
