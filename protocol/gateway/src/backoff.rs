//! Exponential back-off after failed password checks (`account-backoff`), sans-IO.
//!
//! The per-source rate limit ([`crate::limits`]) does not stop a guesser with many
//! addresses: the issue that led here made 299 guesses at one account from 60 addresses in
//! 8.5 s. [`Backoff`] counts failures per key (an account name for logins, a session for
//! elevations): the first [`BackoffPolicy::free_failures`] cost nothing, each one after that
//! doubles the wait before the next check of that key is even attempted (from
//! [`BackoffPolicy::base`] up to [`BackoffPolicy::cap`]), and a success or
//! [`BackoffPolicy::forget`] without failures clears the count. It is a back-off, not a lock:
//! an attempt is refused only until the wait is over, and [`KnownSources`] lets an account's
//! owner in from an address they have logged in from before, so guessing at someone's name
//! cannot lock them out of their own account.
//!
//! A check is counted as a failure when it is let through ([`Backoff::attempt`]: the wait is
//! checked and the failure counted in one step), and a success clears it afterwards. Checking
//! first and counting when the password work is done, as this once did, let every attempt
//! that arrived while earlier ones were still being hashed through the same open door: a
//! flood of 64 parallel logins got a burst of the password pool's whole capacity past every
//! wait instead of one check.
//!
//! Memory is bounded: at most `max_keys` keys; when full, the key whose last failure is
//! oldest is forgotten (failing open for that one key rather than refusing to track new
//! ones, which would let a name spray switch the defence off for everyone). Keys are also
//! indexed by last failure, so making room costs `O(log max_keys)`, not a scan of the table
//! per new name a spray sends.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use protocol_core::time::Millis;

use crate::limits::Limited;

/// How failures turn into waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BackoffPolicy {
    /// Failures allowed before any wait.
    pub free_failures: u32,
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// A key with no failure for this long starts again from zero.
    pub forget: Duration,
}

impl Default for BackoffPolicy {
    /// Five free failures, then 1 s, 2 s, 4 s … up to 5 minutes; forgotten after an hour.
    fn default() -> Self {
        Self {
            free_failures: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            forget: Duration::from_secs(3600),
        }
    }
}

impl BackoffPolicy {
    /// The wait after `failures` failures.
    #[must_use]
    pub fn wait_after(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.free_failures).filter(|n| *n > 0) else {
            return Duration::ZERO;
        };
        let doublings = (over - 1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Entry {
    failures: u32,
    last: Millis,
    until: Millis,
}

/// What a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failed {
    /// Still within the free failures.
    Counted {
        /// Failures so far.
        failures: u32,
    },
    /// The key is backing off; `first` on the failure that started it (alert then).
    BackingOff {
        /// Failures so far.
        failures: u32,
        /// The wait before the next check.
        wait: Duration,
        /// Whether this failure started the back-off.
        first: bool,
    },
}

/// Failure counts and waits per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backoff<K: Ord> {
    policy: BackoffPolicy,
    max_keys: usize,
    entries: BTreeMap<K, Entry>,
    /// Every key by its last failure, oldest first.
    by_last: BTreeSet<(Millis, K)>,
}

impl<K: Ord + Clone> Backoff<K> {
    /// Back-off for at most `max_keys` keys.
    #[must_use]
    pub const fn new(policy: BackoffPolicy, max_keys: usize) -> Self {
        Self {
            policy,
            max_keys,
            entries: BTreeMap::new(),
            by_last: BTreeSet::new(),
        }
    }

    fn live(&self, now: Millis, e: &Entry) -> bool {
        now < e.last.after(self.policy.forget)
    }

    /// Whether a check of `key` may be attempted at `now`.
    ///
    /// # Errors
    /// [`Limited`] with the rest of the wait.
    pub fn check(&self, now: Millis, key: &K) -> Result<(), Limited> {
        match self.entries.get(key) {
            Some(e) if self.live(now, e) && now < e.until => Err(Limited {
                retry_after: Duration::from_millis(e.until.0 - now.0),
            }),
            _ => Ok(()),
        }
    }

    /// Lets a check of `key` through at `now`, counting it as a failure at once (a
    /// [`Backoff::success`] after it clears the count), or refuses it while `key` waits.
    ///
    /// # Errors
    /// [`Limited`] with the rest of the wait.
    pub fn attempt(&mut self, now: Millis, key: &K) -> Result<Failed, Limited> {
        self.check(now, key)?;
        Ok(self.failure(now, key))
    }

    /// Counts a failed check of `key` at `now`.
    pub fn failure(&mut self, now: Millis, key: &K) -> Failed {
        let previous = self
            .entries
            .get(key)
            .filter(|e| self.live(now, e))
            .map_or(0, |e| e.failures);
        if !self.entries.contains_key(key) && self.entries.len() >= self.max_keys {
            self.make_room(now);
        }
        let failures = previous.saturating_add(1);
        let wait = self.policy.wait_after(failures);
        let until = now.after(wait);
        let entry = Entry {
            failures,
            last: now,
            until,
        };
        if let Some(old) = self.entries.insert(key.clone(), entry) {
            self.by_last.remove(&(old.last, key.clone()));
        }
        self.by_last.insert((now, key.clone()));
        if wait.is_zero() {
            Failed::Counted { failures }
        } else {
            Failed::BackingOff {
                failures,
                wait,
                first: self.policy.wait_after(previous).is_zero(),
            }
        }
    }

    /// A successful check: `key` starts again from zero.
    pub fn success(&mut self, key: &K) {
        if let Some(old) = self.entries.remove(key) {
            self.by_last.remove(&(old.last, key.clone()));
        }
    }

    /// Forgets every key past the forget time; if none is, the one whose last failure is
    /// oldest.
    fn make_room(&mut self, now: Millis) {
        let forget = self.policy.forget;
        while self.by_last.first().is_some_and(|(last, _)| now >= last.after(forget)) {
            self.forget_oldest();
        }
        if self.entries.len() >= self.max_keys {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, k)) = self.by_last.pop_first() {
            self.entries.remove(&k);
        }
    }

    /// Keys held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The addresses each account has logged in from (at most `per_key` each, the most recent
/// kept, and at most `max_keys` accounts): a login from one of them skips the account's
/// back-off (the per-source limit still applies).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KnownSources<K: Ord> {
    per_key: usize,
    max_keys: usize,
    known: BTreeMap<K, VecDeque<IpAddr>>,
    order: VecDeque<K>,
}

impl<K: Ord + Clone> KnownSources<K> {
    /// An empty table.
    #[must_use]
    pub const fn new(per_key: usize, max_keys: usize) -> Self {
        Self {
            per_key,
            max_keys,
            known: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` has logged in from `addr`.
    #[must_use]
    pub fn contains(&self, key: &K, addr: IpAddr) -> bool {
        self.known.get(key).is_some_and(|a| a.contains(&addr))
    }

    /// Remembers a successful login of `key` from `addr`.
    pub fn insert(&mut self, key: &K, addr: IpAddr) {
        if !self.known.contains_key(key) {
            while self.known.len() >= self.max_keys.max(1) {
                let Some(oldest) = self.order.pop_front() else { break };
                self.known.remove(&oldest);
            }
            self.order.push_back(key.clone());
        }
        let addrs = self.known.entry(key.clone()).or_default();
        addrs.retain(|a| *a != addr);
        addrs.push_back(addr);
        while addrs.len() > self.per_key.max(1) {
            addrs.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Millis {
        Millis(ms)
    }

    #[test]
    fn waits_double_after_the_free_failures_up_to_the_cap() {
        let p = BackoffPolicy::default();
        let waits: Vec<u64> = (0..=16).map(|n| p.wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(p.wait_after(u32::MAX), p.cap);
    }

    #[test]
    fn a_key_backs_off_after_its_free_failures_and_a_success_clears_it() {
        let mut b = Backoff::new(BackoffPolicy::default(), 10);
        let k = "jacintar".to_owned();
        for n in 1..=5 {
            assert_eq!(b.check(at(n), &k), Ok(()));
            assert_eq!(b.failure(at(n), &k), Failed::Counted { failures: n as u32 });
        }
        assert_eq!(
            b.failure(at(10), &k),
            Failed::BackingOff {
                failures: 6,
                wait: Duration::from_secs(1),
                first: true
            }
        );
        assert_eq!(
            b.check(at(500), &k),
            Err(Limited {
                retry_after: Duration::from_millis(510)
            })
        );
        assert_eq!(b.check(at(1010), &k), Ok(()));
        assert!(matches!(
            b.failure(at(1010), &k),
            Failed::BackingOff {
                failures: 7,
                first: false,
                ..
            }
        ));
        assert!(
            b.check(at(3009), &k)
                .is_err_and(|l| l.retry_after == Duration::from_millis(1))
        );
        // Another key is not affected.
        assert_eq!(b.check(at(1011), &"bob".to_owned()), Ok(()));
        b.success(&k);
        assert_eq!(b.check(at(1011), &k), Ok(()));
        assert_eq!(b.failure(at(1011), &k), Failed::Counted { failures: 1 });
    }

    #[test]
    fn failures_are_forgotten_after_the_forget_time_without_one() {
        let p = BackoffPolicy::default();
        let mut b = Backoff::new(p, 10);
        let k = 7u64;
        for n in 0..6 {
            b.failure(at(n), &k);
        }
        assert_eq!(
            b.check(at(10), &k),
            Err(Limited {
                retry_after: Duration::from_millis(995)
            })
        );
        let later = at(5).after(p.forget);
        assert_eq!(b.check(later, &k), Ok(()));
        assert_eq!(b.failure(later, &k), Failed::Counted { failures: 1 });
    }

    #[test]
    fn a_full_table_forgets_the_key_whose_last_failure_is_oldest() {
        let mut b = Backoff::new(BackoffPolicy::default(), 2);
        b.failure(at(1), &1u8);
        b.failure(at(2), &2u8);
        b.failure(at(3), &3u8);
        assert_eq!(b.len(), 2);
        assert_eq!(b.failure(at(4), &1u8), Failed::Counted { failures: 1 });
        assert_eq!(b.failure(at(5), &3u8), Failed::Counted { failures: 2 });
    }

    #[test]
    fn a_failure_of_a_key_already_held_never_evicts_another_and_quiet_keys_make_room_first() {
        let p = BackoffPolicy::default();
        let mut b = Backoff::new(p, 2);
        assert!(b.is_empty());
        for n in 0..6 {
            b.failure(at(n), &1u8);
        }
        b.failure(at(10), &2u8);
        assert!(!b.is_empty());
        // The table is full; another failure of key 2 must not push key 1 (backing off) out.
        b.failure(at(11), &2u8);
        assert_eq!(
            b.check(at(12), &1u8),
            Err(Limited {
                retry_after: Duration::from_millis(993)
            }),
            "key 1 still backs off"
        );
        // Two keys both quiet exactly at the forget time: both go, nothing is evicted for room.
        let mut q = Backoff::new(p, 2);
        q.failure(at(0), &1u8);
        q.failure(at(0), &2u8);
        q.failure(at(0).after(p.forget), &3u8);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn known_sources_keep_the_most_recent_addresses_of_the_most_recent_accounts() {
        let ip = |n: u8| IpAddr::from([127, 0, 0, n]);
        let mut k = KnownSources::new(2, 2);
        k.insert(&"a", ip(1));
        k.insert(&"a", ip(2));
        k.insert(&"a", ip(3));
        assert!(!k.contains(&"a", ip(1)) && k.contains(&"a", ip(2)) && k.contains(&"a", ip(3)));
        k.insert(&"b", ip(1));
        k.insert(&"c", ip(1));
        assert!(!k.contains(&"a", ip(3)), "the oldest account was forgotten");
        assert!(k.contains(&"b", ip(1)) && k.contains(&"c", ip(1)));
        assert!(!k.contains(&"b", ip(2)));
    }

    #[test]
    fn attempts_let_through_together_are_counted_together_so_a_burst_gets_no_more_than_the_policy() {
        let p = BackoffPolicy::default();
        let mut b = Backoff::new(p, 10);
        let k = "alice".to_owned();
        // 64 attempts at the same instant, none of them finished: the five free ones and the
        // sixth (which starts the wait) pass, every other is refused with the whole wait.
        let passed: Vec<Failed> = (0..64).filter_map(|_| b.attempt(at(0), &k).ok()).collect();
        assert_eq!(passed.len(), 6);
        assert_eq!(
            passed[5],
            Failed::BackingOff {
                failures: 6,
                wait: Duration::from_secs(1),
                first: true
            }
        );
        assert_eq!(
            b.attempt(at(999), &k),
            Err(Limited {
                retry_after: Duration::from_millis(1)
            })
        );
        // After the wait, one more, then two seconds.
        assert!(matches!(
            b.attempt(at(1000), &k),
            Ok(Failed::BackingOff { failures: 7, .. })
        ));
        assert_eq!(
            b.attempt(at(1000), &k),
            Err(Limited {
                retry_after: Duration::from_secs(2)
            })
        );
        // A success clears the count the attempt made.
        b.success(&k);
        assert_eq!(b.attempt(at(1001), &k), Ok(Failed::Counted { failures: 1 }));
    }

    #[test]
    fn a_spray_of_names_keeps_the_table_bounded_and_its_index_whole() {
        let p = BackoffPolicy::default();
        let mut b = Backoff::new(p, 16);
        for _ in 0..6 {
            b.failure(at(0), &0u32);
        }
        for n in 1..=5_000u32 {
            b.failure(at(u64::from(n)), &n);
            assert!(b.len() <= 16);
            assert_eq!(b.by_last.len(), b.len());
        }
        for (k, e) in &b.entries {
            assert!(b.by_last.contains(&(e.last, *k)));
        }
        assert_eq!(
            b.failure(at(5_002), &5_000),
            Failed::Counted { failures: 2 },
            "the newest key is held"
        );
        assert_eq!(
            b.failure(at(5_003), &0),
            Failed::Counted { failures: 1 },
            "the oldest key was forgotten for room"
        );
    }
}
