//! The one vocabulary of defences: every named defence of every layer of the reference system
//! is a [`Defence`], with one kebab-case name used by the cores' refusal counters, the model's
//! variants, the attack harnesses, `verify --weaken`, the threat model and the reports.
//!
//! The layers keep their own enums where their code lives (a core cannot depend on the layers
//! above it): the scheduler core's [`Check`], the people cores' [`PeopleCheck`], the gateway's
//! [`GatewayCheck`] and the scheduler driver's [`DriverCheck`]. [`Defence`] is their union, and
//! [`Defence::ALL`] lists every one. Names are unique across layers (a test checks it).

use std::fmt;
use std::str::FromStr;

use protocol_core::Check;
use protocol_gateway::checks::GatewayCheck;
use protocol_people::PeopleCheck;

/// A defence of the scheduler's tokio driver, not of its core. Each is removable in the
/// verification build only (`protocol_net::DriverFlaws` and the harness's target settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriverCheck {
    /// A connection that has not finished its handshake within the deadline is closed.
    HandshakeDeadline,
    /// A connection ending on a bad frame takes no other connection with it (SPEC.md §11).
    ConnectionIsolation,
    /// After the handshake every frame is encrypted and authenticated by Noise.
    NoiseTransport,
    /// The offer and the key reply travel only on the launch's own pipes, never the network.
    AuthenticatedBootstrap,
    /// One key holds at most a few authenticated connections; a newer one closes the oldest.
    KeyConnectionCap,
    /// A job's messages, bytes and rate are capped before the event log (SPEC.md §9.3); a job
    /// that keeps going past them loses its key.
    JobQuota,
    /// A restarted scheduler publishes its new public key in the run directory's contact
    /// file, and a running job that loses its scheduler re-reads it and carries on (SPEC.md
    /// §9); the private key never touches disk.
    RestartRecovery,
    /// A connection arriving to a full handshake table takes the slot held longest, whose
    /// connection (one that has sent no authenticated message yet) is closed: held handshakes
    /// cannot lock honest jobs out.
    HandshakeEviction,
}

impl DriverCheck {
    /// Every driver check.
    pub const ALL: [Self; 8] = [
        Self::HandshakeDeadline,
        Self::ConnectionIsolation,
        Self::NoiseTransport,
        Self::AuthenticatedBootstrap,
        Self::KeyConnectionCap,
        Self::JobQuota,
        Self::RestartRecovery,
        Self::HandshakeEviction,
    ];

    /// The stable name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HandshakeDeadline => "handshake-deadline",
            Self::ConnectionIsolation => "connection-isolation",
            Self::NoiseTransport => "noise-transport",
            Self::AuthenticatedBootstrap => "authenticated-bootstrap",
            Self::KeyConnectionCap => "key-connection-cap",
            Self::JobQuota => "job-quota",
            Self::RestartRecovery => "restart-recovery",
            Self::HandshakeEviction => "handshake-eviction",
        }
    }
}

/// Any named defence of the reference system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Defence {
    /// A check of the scheduler core (registration, handshake, message pipeline).
    Channel(Check),
    /// A defence of the scheduler's driver.
    Driver(DriverCheck),
    /// A check of the people cores (authorisation, sessions, audit).
    People(PeopleCheck),
    /// A check of the hub or a UI server.
    Gateway(GatewayCheck),
}

/// The number of defences in [`Defence::ALL`].
pub const COUNT: usize = Check::ALL.len() + DriverCheck::ALL.len() + PeopleCheck::ALL.len() + GatewayCheck::ALL.len();

impl Defence {
    /// Every defence: the core's checks, the driver's, the people cores', the gateway's.
    pub const ALL: [Self; COUNT] = {
        let mut out = [Self::Channel(Check::KeyValidation); COUNT];
        let mut n = 0;
        let mut i = 0;
        while i < Check::ALL.len() {
            out[n] = Self::Channel(Check::ALL[i]);
            n += 1;
            i += 1;
        }
        i = 0;
        while i < DriverCheck::ALL.len() {
            out[n] = Self::Driver(DriverCheck::ALL[i]);
            n += 1;
            i += 1;
        }
        i = 0;
        while i < PeopleCheck::ALL.len() {
            out[n] = Self::People(PeopleCheck::ALL[i]);
            n += 1;
            i += 1;
        }
        i = 0;
        while i < GatewayCheck::ALL.len() {
            out[n] = Self::Gateway(GatewayCheck::ALL[i]);
            n += 1;
            i += 1;
        }
        out
    };

    /// The stable name (`bound-identity`, `csrf-token`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Channel(c) => c.name(),
            Self::Driver(d) => d.name(),
            Self::People(p) => p.name(),
            Self::Gateway(g) => g.name(),
        }
    }

    /// Which layer it belongs to (`scheduler-core`, `scheduler-driver`, `people`, `gateway`).
    #[must_use]
    pub const fn layer(self) -> &'static str {
        match self {
            Self::Channel(_) => "scheduler-core",
            Self::Driver(_) => "scheduler-driver",
            Self::People(_) => "people",
            Self::Gateway(_) => "gateway",
        }
    }
}

impl fmt::Display for Defence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A defence name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no defence is called {0:?}")]
pub struct UnknownDefence(pub String);

impl FromStr for Defence {
    type Err = UnknownDefence;

    fn from_str(s: &str) -> Result<Self, UnknownDefence> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDefence(s.to_owned()))
    }
}

impl From<Check> for Defence {
    fn from(c: Check) -> Self {
        Self::Channel(c)
    }
}

impl From<DriverCheck> for Defence {
    fn from(d: DriverCheck) -> Self {
        Self::Driver(d)
    }
}

impl From<PeopleCheck> for Defence {
    fn from(p: PeopleCheck) -> Self {
        Self::People(p)
    }
}

impl From<GatewayCheck> for Defence {
    fn from(g: GatewayCheck) -> Self {
        Self::Gateway(g)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_defence_has_a_unique_kebab_case_name_that_parses_back_to_it() {
        let names: BTreeSet<&str> = Defence::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names.len(), COUNT, "a name is shared by two layers");
        for d in Defence::ALL {
            assert_eq!(d.name().parse::<Defence>(), Ok(d));
            assert!(d.name().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{d}");
        }
        assert_eq!(
            "csrf-tokn".parse::<Defence>(),
            Err(UnknownDefence("csrf-tokn".to_owned()))
        );
    }

    #[test]
    fn the_vocabulary_holds_every_layer_including_the_gateway_and_the_driver() {
        assert!(Defence::ALL.contains(&Defence::Gateway(GatewayCheck::CsrfToken)));
        assert!(Defence::ALL.contains(&Defence::Driver(DriverCheck::NoiseTransport)));
        assert_eq!(Defence::ALL.len(), 9 + 8 + 17 + 16);
    }
}
