//! Which HTTP connections a server keeps (`connection-limits`), sans-IO.
//!
//! Without limits, 1,500 slow or 1,100 silent connections held a hub open until it ran out
//! of descriptors and a legitimate login timed out. [`ConnTable`] decides, for a driver that
//! owns the sockets: a new connection is admitted if there is room in all and for its
//! source, and otherwise the least recently active *idle* connection (no request in flight)
//! is dropped to make room — of that source when the source is at its cap, of anyone when the
//! server is — and only if none is idle is the new one refused. A connection with nothing in
//! flight for [`ConnLimits::idle_timeout`] is dropped. The header-read timeout is the
//! driver's ([`crate::http::serve`]) and the body-read timeout [`crate::http::read_body`]'s:
//! they bound a request that never completes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use protocol_core::time::Millis;

/// The limits on a server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnLimits {
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections per source address.
    pub max_per_source: usize,
    /// The largest request head buffered (at least 8 KiB).
    pub max_header_bytes: usize,
}

impl ConnLimits {
    /// The hub's defaults: headers within 10 s, 60 s idle, 512
    /// connections (well under the common 1,024-descriptor limit), 32 per source, 16 KiB of
    /// request head.
    pub const HUB: Self = Self {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 512,
        max_per_source: 32,
        max_header_bytes: 16 * 1024,
    };

    /// A UI server's defaults: as the hub's, but every request comes from the hub (one
    /// source), so the per-source cap is the total.
    pub const UI_SERVER: Self = Self {
        max_per_source: 512,
        ..Self::HUB
    };
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self::HUB
    }
}

/// A connection's handle in the table.
pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Conn {
    source: IpAddr,
    in_flight: u32,
    active: Millis,
}

/// What to do with a new connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Admit {
    /// Keep it; close these first (made room for it).
    Yes {
        /// Connections to close now.
        evict: Vec<ConnId>,
    },
    /// Close it: every connection that could make room is busy.
    Refused,
}

/// The open connections and their activity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnTable {
    limits: ConnLimits,
    conns: BTreeMap<ConnId, Conn>,
    per_source: BTreeMap<IpAddr, usize>,
}

impl ConnTable {
    /// An empty table.
    #[must_use]
    pub const fn new(limits: ConnLimits) -> Self {
        Self {
            limits,
            conns: BTreeMap::new(),
            per_source: BTreeMap::new(),
        }
    }

    /// The limits applied.
    #[must_use]
    pub const fn limits(&self) -> ConnLimits {
        self.limits
    }

    /// The least recently active idle connection, of `source` only if given.
    fn oldest_idle(&self, source: Option<IpAddr>) -> Option<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.in_flight == 0 && source.is_none_or(|s| c.source == s))
            .min_by_key(|(id, c)| (c.active, **id))
            .map(|(id, _)| *id)
    }

    /// A new connection `id` from `source` at `now`.
    pub fn handle_open(&mut self, now: Millis, id: ConnId, source: IpAddr) -> Admit {
        let source = source.to_canonical();
        let mut evict = Vec::new();
        if self.per_source.get(&source).copied().unwrap_or(0) >= self.limits.max_per_source.max(1) {
            match self.oldest_idle(Some(source)) {
                Some(old) => {
                    self.handle_close(old);
                    evict.push(old);
                }
                None => return Admit::Refused,
            }
        }
        if self.conns.len() >= self.limits.max_connections.max(1) {
            match self.oldest_idle(None) {
                Some(old) => {
                    self.handle_close(old);
                    evict.push(old);
                }
                None => return Admit::Refused,
            }
        }
        self.conns.insert(
            id,
            Conn {
                source,
                in_flight: 0,
                active: now,
            },
        );
        *self.per_source.entry(source).or_default() += 1;
        Admit::Yes { evict }
    }

    /// A request started on `id`.
    pub fn handle_request_start(&mut self, now: Millis, id: ConnId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.in_flight = c.in_flight.saturating_add(1);
            c.active = c.active.max(now);
        }
    }

    /// A request on `id` was answered.
    pub fn handle_request_end(&mut self, now: Millis, id: ConnId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.in_flight = c.in_flight.saturating_sub(1);
            c.active = c.active.max(now);
        }
    }

    /// `id` is closed (by either side).
    pub fn handle_close(&mut self, id: ConnId) {
        if let Some(c) = self.conns.remove(&id)
            && let Some(n) = self.per_source.get_mut(&c.source)
        {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&c.source);
            }
        }
    }

    /// Connections idle for the idle timeout at `now`: close them (they are forgotten).
    pub fn poll_idle(&mut self, now: Millis) -> Vec<ConnId> {
        let timeout = self.limits.idle_timeout;
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.in_flight == 0 && now >= c.active.after(timeout))
            .map(|(id, _)| *id)
            .collect();
        for id in &idle {
            self.handle_close(*id);
        }
        idle
    }

    /// Open connections.
    #[must_use]
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether none is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Open connections from `source`.
    #[must_use]
    pub fn from_source(&self, source: IpAddr) -> usize {
        self.per_source.get(&source.to_canonical()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    fn limits(max: usize, per_source: usize) -> ConnLimits {
        ConnLimits {
            max_connections: max,
            max_per_source: per_source,
            ..ConnLimits::HUB
        }
    }

    #[test]
    fn a_source_at_its_cap_loses_its_own_oldest_idle_connection_and_nobody_elses() {
        let mut t = ConnTable::new(limits(10, 2));
        assert_eq!(t.handle_open(Millis(1), 1, ip(2)), Admit::Yes { evict: vec![] });
        assert_eq!(t.handle_open(Millis(2), 2, ip(2)), Admit::Yes { evict: vec![] });
        assert_eq!(t.handle_open(Millis(0), 3, ip(3)), Admit::Yes { evict: vec![] });
        t.handle_request_start(Millis(5), 1);
        t.handle_request_end(Millis(6), 1);
        // 2 is now the source's least recently active.
        assert_eq!(t.handle_open(Millis(7), 4, ip(2)), Admit::Yes { evict: vec![2] });
        assert_eq!((t.from_source(ip(2)), t.from_source(ip(3)), t.len()), (2, 1, 3));
    }

    #[test]
    fn a_full_server_drops_the_least_recently_active_idle_connection_and_refuses_when_all_are_busy() {
        let mut t = ConnTable::new(limits(2, 2));
        t.handle_open(Millis(1), 1, ip(2));
        t.handle_open(Millis(2), 2, ip(3));
        assert_eq!(t.handle_open(Millis(3), 3, ip(4)), Admit::Yes { evict: vec![1] });
        t.handle_request_start(Millis(4), 2);
        t.handle_request_start(Millis(4), 3);
        assert_eq!(t.handle_open(Millis(5), 4, ip(5)), Admit::Refused);
        assert_eq!(t.len(), 2);
        t.handle_request_end(Millis(6), 3);
        assert_eq!(t.handle_open(Millis(7), 5, ip(5)), Admit::Yes { evict: vec![3] });
    }

    #[test]
    fn a_connection_idles_out_only_with_nothing_in_flight() {
        let mut t = ConnTable::new(limits(10, 10));
        let idle = ConnLimits::HUB.idle_timeout;
        t.handle_open(Millis(0), 1, ip(2));
        t.handle_open(Millis(0), 2, ip(2));
        t.handle_request_start(Millis(10), 2);
        assert_eq!(t.poll_idle(Millis(idle.as_millis() as u64 - 1)), Vec::<ConnId>::new());
        assert_eq!(t.poll_idle(Millis(0).after(idle)), vec![1]);
        assert_eq!(t.poll_idle(Millis(10).after(idle * 100)), Vec::<ConnId>::new());
        t.handle_request_end(Millis(20), 2);
        assert_eq!(t.poll_idle(Millis(20).after(idle)), vec![2]);
        assert!(t.is_empty() && t.from_source(ip(2)) == 0);
    }

    #[test]
    fn the_documented_defaults_hold_and_a_ui_server_caps_per_source_at_its_total() {
        // README and the hub's configuration document these values.
        assert_eq!(ConnLimits::HUB.max_header_bytes, 16 * 1024);
        assert_eq!(
            (ConnLimits::HUB.max_connections, ConnLimits::HUB.max_per_source),
            (512, 32)
        );
        // Every request to a UI server comes from the hub: one source.
        assert_eq!(
            ConnLimits::UI_SERVER.max_per_source,
            ConnLimits::UI_SERVER.max_connections
        );
        assert_eq!(ConnLimits::default(), ConnLimits::HUB);
    }

    #[test]
    fn an_ipv4_mapped_peer_counts_as_its_ipv4_source() {
        let mut t = ConnTable::new(limits(10, 1));
        t.handle_open(Millis(0), 1, ip(2));
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("address");
        assert_eq!(t.handle_open(Millis(1), 2, mapped), Admit::Yes { evict: vec![1] });
    }
}
