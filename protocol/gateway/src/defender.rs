//! The defender's counters, thresholds, alerts and blocks (story S14), sans-IO.
//!
//! The hub feeds [`Defender::record`] every authentication failure, denial and rate-limit hit
//! with its source (the client address), and the rejected job messages each scheduler reports
//! (source: the workflow). When a source reaches a signal's threshold within the window, an
//! [`Alert`] comes back, which the hub writes to the audit log; a source alerts at most once
//! per window per signal, so an attack cannot flood the log. With `auto_block` an alert on an
//! address also blocks it for [`Thresholds::auto_block_for`] (an address shared by a
//! legitimate user is not banned for good by one burst of errors). Operators block and unblock
//! addresses by hand (an operator's block lasts until it is lifted); a blocked address is
//! refused before anything else is done for it.
//!
//! Memory is bounded: at most `max_sources` (source, signal) series are kept. When the table
//! is full, quiet series are forgotten first and then the least suspicious one (fewest events
//! in the window, oldest last); each series forgotten that way is counted in
//! [`Defender::overflow`]. A spray of new sources therefore cannot keep a new source from
//! alerting (it once could: a full table counted new sources only in `overflow`). Both are
//! found through indexes kept beside the table, so counting costs `O(log max_sources)` however
//! many sources a flood rotates through (a scan of the whole table per new source, as this
//! once did, was most of the hub's cost per request under a rotating-address login flood).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use protocol_core::time::Millis;
use protocol_core::{Owner, WorkflowId};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// A failed login, a bad or expired token, a failed re-authentication.
    AuthFailure,
    /// A request the authorisation engine refused (403, or 404 hiding a refusal).
    Denial,
    /// A job message a scheduler rejected.
    RejectedJobMessage,
    /// A request refused by the rate limiter.
    RateLimited,
    /// A request refused because its person had too many refusals recorded lately
    /// (`audit-rate-limit`).
    AuditRateLimited,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Self; 5] = [
        Self::AuthFailure,
        Self::Denial,
        Self::RejectedJobMessage,
        Self::RateLimited,
        Self::AuditRateLimited,
    ];

    /// The stable name (`auth-failure`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::AuthFailure => "auth-failure",
            Self::Denial => "denial",
            Self::RejectedJobMessage => "rejected-job-message",
            Self::RateLimited => "rate-limited",
            Self::AuditRateLimited => "audit-rate-limited",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a signal came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A client address.
    Addr(IpAddr),
    /// A workflow's scheduler (rejected job messages).
    Workflow(WorkflowId),
    /// An authenticated person (refusals recorded for them).
    User(Owner),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(a) => write!(f, "{a}"),
            Self::Workflow(w) => write!(f, "{w}"),
            Self::User(u) => write!(f, "user:{u}"),
        }
    }
}

/// How many of each signal within `window` raise an alert (0: never).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Thresholds {
    /// The sliding window.
    pub window: Duration,
    /// Authentication failures.
    pub auth_failures: u32,
    /// Denials.
    pub denials: u32,
    /// Rejected job messages.
    pub rejected_job_messages: u32,
    /// Rate-limit hits.
    pub rate_limited: u32,
    /// A person's refusals beyond their audit rate (1: alert on the first in a window).
    pub audit_rate_limited: u32,
    /// Block an address as soon as it raises an alert.
    pub auto_block: bool,
    /// How long an automatic block lasts.
    pub auto_block_for: Duration,
}

impl Default for Thresholds {
    /// Within a minute: 10 authentication failures, 20 denials, 5 rejected job messages, 20
    /// rate-limit hits, the first audit-rate refusal; no automatic blocking (15 minutes when
    /// it is turned on).
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            auth_failures: 10,
            denials: 20,
            rejected_job_messages: 5,
            rate_limited: 20,
            audit_rate_limited: 1,
            auto_block: false,
            auto_block_for: Duration::from_secs(15 * 60),
        }
    }
}

impl Thresholds {
    /// The threshold of `signal`.
    #[must_use]
    pub const fn of(&self, signal: Signal) -> u32 {
        match signal {
            Signal::AuthFailure => self.auth_failures,
            Signal::Denial => self.denials,
            Signal::RejectedJobMessage => self.rejected_job_messages,
            Signal::RateLimited => self.rate_limited,
            Signal::AuditRateLimited => self.audit_rate_limited,
        }
    }
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alert {
    /// From where.
    pub source: Source,
    /// What.
    pub signal: Signal,
    /// How many within the window.
    pub count: u64,
    /// The window.
    pub window: Duration,
    /// Whether the source was blocked because of it.
    pub blocked: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Series {
    recent: VecDeque<Millis>,
    total: u64,
    last_alert: Option<Millis>,
}

/// One counter, for operators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Counter {
    /// The source.
    pub source: String,
    /// The signal.
    pub signal: &'static str,
    /// All occurrences since the start.
    pub total: u64,
}

/// Counters, thresholds and blocks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Defender {
    thresholds: Thresholds,
    max_sources: usize,
    series: BTreeMap<(Source, Signal), Series>,
    /// Every series by its last event, oldest first (quiet ones are forgotten first).
    by_last: BTreeSet<(Option<Millis>, (Source, Signal))>,
    /// Every series by suspicion, least first: events held, then last event.
    by_suspicion: BTreeSet<(usize, Option<Millis>, (Source, Signal))>,
    /// Last totals reported by schedulers, to turn totals into increments.
    reported: BTreeMap<(Source, Signal), u64>,
    /// Blocked addresses: until when (automatic blocks), or `None` (an operator's).
    blocked: BTreeMap<IpAddr, Option<Millis>>,
    overflow: u64,
}

impl Defender {
    /// A defender keeping at most `max_sources` series.
    #[must_use]
    pub const fn new(thresholds: Thresholds, max_sources: usize) -> Self {
        Self {
            thresholds,
            max_sources,
            series: BTreeMap::new(),
            by_last: BTreeSet::new(),
            by_suspicion: BTreeSet::new(),
            reported: BTreeMap::new(),
            blocked: BTreeMap::new(),
            overflow: 0,
        }
    }

    /// The thresholds.
    #[must_use]
    pub const fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Counts one `signal` from `source`.
    pub fn record(&mut self, now: Millis, source: Source, signal: Signal) -> Option<Alert> {
        self.record_n(now, source, signal, 1)
    }

    /// Counts `n` `signal`s from `source` at `now`.
    pub fn record_n(&mut self, now: Millis, source: Source, signal: Signal, n: u64) -> Option<Alert> {
        if n == 0 {
            return None;
        }
        let key = (source, signal);
        if !self.series.contains_key(&key) && self.series.len() >= self.max_sources.max(1) {
            self.forget_quiet(now);
            if self.series.len() >= self.max_sources.max(1) {
                self.forget_least_suspicious();
            }
        }
        let threshold = u64::from(self.thresholds.of(signal));
        let window = self.thresholds.window;
        let mut series = self.take(&key).unwrap_or_default();
        series.total = series.total.saturating_add(n);
        let keep = usize::try_from(threshold.max(1)).unwrap_or(usize::MAX);
        for _ in 0..n.min(threshold.max(1)) {
            series.recent.push_back(now);
        }
        while series.recent.len() > keep {
            series.recent.pop_front();
        }
        while series.recent.front().is_some_and(|t| now >= t.after(window)) {
            series.recent.pop_front();
        }
        let count = series.recent.len() as u64;
        let quiet = series.last_alert.is_none_or(|t| now >= t.after(window));
        let alerts = threshold != 0 && count >= threshold && quiet;
        if alerts {
            series.last_alert = Some(now);
        }
        self.put(key.clone(), series);
        if !alerts {
            return None;
        }
        let (source, signal) = key;
        let blocked = match &source {
            Source::Addr(ip) if self.thresholds.auto_block => {
                let until = now.after(self.thresholds.auto_block_for);
                // An operator's block (no end) is never shortened by an automatic one.
                let entry = self.blocked.entry(ip.to_canonical()).or_insert(Some(until));
                if let Some(end) = entry {
                    *end = (*end).max(until);
                }
                true
            }
            _ => false,
        };
        Some(Alert {
            source,
            signal,
            count,
            window,
            blocked,
        })
    }

    /// A scheduler reports its running total of `signal`; the increase since its last report
    /// is counted. A total lower than before (a restarted scheduler) starts afresh.
    pub fn observe_total(&mut self, now: Millis, source: Source, signal: Signal, total: u64) -> Option<Alert> {
        let key = (source, signal);
        let before = self.reported.insert(key.clone(), total);
        let increase = match before {
            Some(b) if total >= b => total - b,
            _ => total,
        };
        self.record_n(now, key.0, key.1, increase)
    }

    /// Takes `key`'s series out of the table and its indexes.
    fn take(&mut self, key: &(Source, Signal)) -> Option<Series> {
        let series = self.series.remove(key)?;
        let last = series.recent.back().copied();
        self.by_last.remove(&(last, key.clone()));
        self.by_suspicion.remove(&(series.recent.len(), last, key.clone()));
        Some(series)
    }

    /// Puts `key`'s series into the table and its indexes.
    fn put(&mut self, key: (Source, Signal), series: Series) {
        let last = series.recent.back().copied();
        self.by_last.insert((last, key.clone()));
        self.by_suspicion.insert((series.recent.len(), last, key.clone()));
        self.series.insert(key, series);
    }

    /// Forgets the series with the fewest events in its window (the oldest last event among
    /// those), counting it in `overflow`.
    fn forget_least_suspicious(&mut self) {
        let least = self.by_suspicion.first().map(|(_, _, k)| k.clone());
        if let Some(k) = least {
            self.take(&k);
            self.overflow = self.overflow.saturating_add(1);
        }
    }

    /// Forgets every series with no event in the window.
    fn forget_quiet(&mut self, now: Millis) {
        let window = self.thresholds.window;
        while let Some((last, k)) = self.by_last.first().cloned()
            && last.is_none_or(|t| now >= t.after(window))
        {
            self.take(&k);
        }
    }

    /// Blocks an address until an operator lifts it (an IPv4-mapped IPv6 address is its IPv4
    /// address); returns whether it was not blocked by an operator already.
    pub fn block(&mut self, ip: IpAddr) -> bool {
        self.blocked.insert(ip.to_canonical(), None) != Some(None)
    }

    /// Lifts a block; returns whether there was one.
    pub fn unblock(&mut self, ip: IpAddr) -> bool {
        self.blocked.remove(&ip.to_canonical()).is_some()
    }

    /// Whether `ip` is blocked at `now`.
    #[must_use]
    pub fn is_blocked(&self, now: Millis, ip: IpAddr) -> bool {
        self.blocked
            .get(&ip.to_canonical())
            .is_some_and(|until| until.is_none_or(|t| now < t))
    }

    /// Addresses blocked at `now`.
    #[must_use]
    pub fn blocked(&self, now: Millis) -> Vec<IpAddr> {
        self.blocked
            .iter()
            .filter(|(_, until)| until.is_none_or(|t| now < t))
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// Forgets automatic blocks that have ended (bounded memory under a long attack).
    pub fn purge_blocks(&mut self, now: Millis) {
        self.blocked.retain(|_, until| until.is_none_or(|t| now < t));
    }

    /// Every counter's total since the start.
    #[must_use]
    pub fn counters(&self) -> Vec<Counter> {
        self.series
            .iter()
            .map(|((source, signal), s)| Counter {
                source: source.to_string(),
                signal: signal.name(),
                total: s.total,
            })
            .collect()
    }

    /// The total for one source and signal.
    #[must_use]
    pub fn total(&self, source: &Source, signal: Signal) -> u64 {
        self.series.get(&(source.clone(), signal)).map_or(0, |s| s.total)
    }

    /// Signals not counted per source because the table was full.
    #[must_use]
    pub const fn overflow(&self) -> u64 {
        self.overflow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = Millis(10_000_000);

    fn ip(s: &str) -> Source {
        Source::Addr(s.parse().expect("ip"))
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            window: Duration::from_secs(60),
            auth_failures: 3,
            denials: 2,
            rejected_job_messages: 5,
            rate_limited: 0,
            audit_rate_limited: 1,
            auto_block: false,
            auto_block_for: Duration::from_secs(900),
        }
    }

    #[test]
    fn the_threshold_within_the_window_raises_one_alert_per_window() {
        let mut d = Defender::new(thresholds(), 100);
        let a = ip("127.0.0.2");
        assert_eq!(d.record(T0, a.clone(), Signal::AuthFailure), None);
        assert_eq!(d.record(T0, a.clone(), Signal::AuthFailure), None);
        let alert = d.record(T0, a.clone(), Signal::AuthFailure).expect("third raises");
        assert_eq!(
            (alert.count, alert.signal, alert.blocked),
            (3, Signal::AuthFailure, false)
        );
        assert_eq!(d.record(T0, a.clone(), Signal::AuthFailure), None, "once per window");
        assert_eq!(d.total(&a, Signal::AuthFailure), 4);
        assert!(!d.is_blocked(T0, "127.0.0.2".parse().expect("ip")));
        // A new window: the old failures have aged out, three more are needed.
        let later = T0.after(Duration::from_secs(61));
        assert_eq!(d.record(later, a.clone(), Signal::AuthFailure), None);
        assert_eq!(d.record(later, a.clone(), Signal::AuthFailure), None);
        assert!(d.record(later, a, Signal::AuthFailure).is_some());
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_alert() {
        let mut d = Defender::new(thresholds(), 100);
        let a = ip("127.0.0.2");
        for i in 0..10 {
            let at = T0.after(Duration::from_secs(31 * i));
            assert_eq!(d.record(at, a.clone(), Signal::AuthFailure), None, "at {i}");
        }
    }

    #[test]
    fn sources_and_signals_are_counted_apart_and_zero_never_alerts() {
        let mut d = Defender::new(thresholds(), 100);
        assert_eq!(d.record(T0, ip("127.0.0.2"), Signal::Denial), None);
        assert_eq!(d.record(T0, ip("127.0.0.3"), Signal::Denial), None);
        assert!(d.record(T0, ip("127.0.0.2"), Signal::Denial).is_some());
        for _ in 0..100 {
            assert_eq!(d.record(T0, ip("127.0.0.2"), Signal::RateLimited), None);
        }
    }

    #[test]
    fn auto_block_blocks_the_address_that_alerted_and_operators_can_unblock() {
        let mut d = Defender::new(
            Thresholds {
                auto_block: true,
                ..thresholds()
            },
            100,
        );
        let addr: IpAddr = "127.0.0.9".parse().expect("ip");
        d.record(T0, Source::Addr(addr), Signal::Denial);
        let alert = d.record(T0, Source::Addr(addr), Signal::Denial).expect("alert");
        assert!(alert.blocked && d.is_blocked(T0, addr));
        assert!(d.unblock(addr));
        assert!(!d.is_blocked(T0, addr));
        assert!(d.block(addr) && !d.block(addr));
        assert_eq!(d.blocked(T0), [addr]);
    }

    #[test]
    fn an_automatic_block_ends_by_itself_and_an_operators_block_does_not() {
        let mut d = Defender::new(
            Thresholds {
                auto_block: true,
                ..thresholds()
            },
            100,
        );
        let auto: IpAddr = "127.0.0.9".parse().expect("ip");
        let manual: IpAddr = "127.0.0.10".parse().expect("ip");
        d.record(T0, Source::Addr(auto), Signal::Denial);
        assert!(
            d.record(T0, Source::Addr(auto), Signal::Denial)
                .is_some_and(|a| a.blocked)
        );
        d.block(manual);
        let end = T0.after(Duration::from_secs(900));
        assert!(d.is_blocked(Millis(end.0 - 1), auto));
        assert!(!d.is_blocked(end, auto), "the automatic block is over");
        assert!(d.is_blocked(end.after(Duration::from_secs(86_400)), manual));
        // An alert does not shorten an operator's block.
        d.record(T0, Source::Addr(manual), Signal::Denial);
        d.record(T0, Source::Addr(manual), Signal::Denial);
        assert!(d.is_blocked(end.after(Duration::from_secs(86_400)), manual));
        d.purge_blocks(end);
        assert_eq!(d.blocked(end), [manual]);
    }

    #[test]
    fn scheduler_totals_are_turned_into_increments() {
        let mut d = Defender::new(thresholds(), 100);
        let wf = Source::Workflow(WorkflowId::new("atmosphere_stage", "clouds").expect("valid"));
        assert_eq!(d.observe_total(T0, wf.clone(), Signal::RejectedJobMessage, 2), None);
        assert_eq!(d.observe_total(T0, wf.clone(), Signal::RejectedJobMessage, 2), None);
        let alert = d
            .observe_total(T0, wf.clone(), Signal::RejectedJobMessage, 7)
            .expect("five more");
        assert_eq!(alert.count, 5);
        assert_eq!(d.total(&wf, Signal::RejectedJobMessage), 7);
        // A restarted scheduler reports from zero again.
        assert_eq!(d.observe_total(T0, wf.clone(), Signal::RejectedJobMessage, 1), None);
        assert_eq!(d.total(&wf, Signal::RejectedJobMessage), 8);
        assert_eq!(alert.source.to_string(), "~atmosphere_stage/clouds");
    }

    #[test]
    fn the_table_is_bounded_and_a_full_table_still_alerts_on_a_new_source() {
        let mut d = Defender::new(thresholds(), 2);
        d.record(T0, ip("10.0.0.1"), Signal::Denial);
        d.record(T0, ip("10.0.0.1"), Signal::AuthFailure);
        d.record(T0, ip("10.0.0.1"), Signal::AuthFailure);
        d.record(T0, ip("10.0.0.3"), Signal::Denial);
        assert_eq!(d.counters().len(), 2);
        assert_eq!(d.overflow(), 1, "the least suspicious series made room");
        assert_eq!(
            d.total(&ip("10.0.0.1"), Signal::AuthFailure),
            2,
            "the busiest series is kept"
        );
        assert!(
            d.record(T0, ip("10.0.0.3"), Signal::Denial).is_some(),
            "the new source alerts"
        );
        d.record(T0.after(Duration::from_secs(120)), ip("10.0.0.4"), Signal::Denial);
        assert_eq!(d.counters().len(), 1, "quiet series are forgotten to make room");
    }

    #[test]
    fn an_ipv4_mapped_address_and_its_ipv4_address_are_one_source_to_block() {
        let mut d = Defender::new(Thresholds::default(), 100);
        let mapped: IpAddr = "::ffff:127.0.32.1".parse().expect("ip");
        let plain: IpAddr = "127.0.32.1".parse().expect("ip");
        assert!(d.block(mapped));
        assert!(d.is_blocked(T0, plain) && d.is_blocked(T0, mapped));
        assert!(!d.block(plain), "already blocked");
        assert!(d.unblock(plain));
        assert!(!d.is_blocked(T0, mapped));
    }

    #[test]
    fn a_flood_of_rotating_sources_keeps_the_table_bounded_its_indexes_whole_and_a_busy_source_counted() {
        let mut d = Defender::new(thresholds(), 8);
        let busy = ip("10.9.9.9");
        for _ in 0..3 {
            d.record(T0, busy.clone(), Signal::AuthFailure);
        }
        for i in 0..2_000u32 {
            let at = T0.after(Duration::from_millis(u64::from(i)));
            let [_, _, a, b] = i.to_be_bytes();
            d.record(at, Source::Addr(IpAddr::from([10, 1, a, b])), Signal::RateLimited);
            if i % 100 == 0 {
                d.record(at, busy.clone(), Signal::AuthFailure);
            }
            assert!(d.series.len() <= 8);
            assert_eq!(d.by_last.len(), d.series.len());
            assert_eq!(d.by_suspicion.len(), d.series.len());
        }
        for (key, s) in &d.series {
            let last = s.recent.back().copied();
            assert!(d.by_last.contains(&(last, key.clone())));
            assert!(d.by_suspicion.contains(&(s.recent.len(), last, key.clone())));
        }
        assert_eq!(
            d.total(&busy, Signal::AuthFailure),
            23,
            "the busiest series was never forgotten"
        );
        assert_eq!(
            d.overflow(),
            2_000 - 7,
            "every flood series but the last seven made room"
        );
    }
}
