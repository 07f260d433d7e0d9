//! The gateway's own named defences, removable one at a time in `weaken` builds
//! so that attack harnesses can show each is necessary. Production code can only build
//! [`GatewayDefences::all`]. The people-side defences (sessions, authorisation, audit) are
//! protocol-people's `PeopleCheck`s, chosen when the parts are built.

#[cfg(feature = "weaken")]
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A named, removable defence of the hub or a UI server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GatewayCheck {
    /// Hub: a request with a credential in its query string is refused.
    TokenInUrl,
    /// Hub: a state change made with the session cookie needs the session's CSRF token.
    CsrfToken,
    /// Hub: a state change from a foreign `Origin` (or a cross-site fetch) is refused.
    OriginCheck,
    /// Hub: a login needs the `X-Requested-With` header a cross-site form cannot send.
    LoginHeader,
    /// Hub: requests and logins per source are rate-limited.
    RateLimit,
    /// Hub: a blocked source is refused.
    SourceBlock,
    /// Hub: a failure behind the hub (a UI server that does not answer) is answered with the
    /// fixed `unavailable` body, never with the address or error that caused it.
    UniformErrors,
    /// Hub: only the configured owners' UI servers are spawned; any other (valid) account name
    /// is answered as an owner with nothing readable.
    ConfiguredOwner,
    /// Hub: passwords are checked on a fixed pool of threads with their own argon2 memory and
    /// no lock held; a login beyond the pool's queue is refused at once (`503 busy`).
    PasswordPool,
    /// Hub: failed logins per account and failed elevations per session back off
    /// exponentially (an account's known addresses are exempt, so guessing cannot lock its
    /// owner out).
    AccountBackoff,
    /// Hub and UI servers: header-read and idle timeouts, and caps on open connections in all
    /// and per source (the oldest idle dropped first).
    ConnectionLimits,
    /// Hub: a person's refused requests are recorded at a bounded rate; beyond it they are
    /// refused with `429` and counted in one record per window, with an alert.
    AuditRateLimit,
    /// Hub: a refused request no handler recorded is recorded by the guard (who, from where,
    /// what, why), unauthenticated ones at a bounded rate and counted beyond it.
    RefusalAudit,
    /// UI server: the hub's assertion must carry a valid MAC.
    AssertionMac,
    /// UI server: the assertion must be recent.
    AssertionFreshness,
    /// UI server: an assertion is accepted once.
    AssertionReplay,
}

impl GatewayCheck {
    /// Every check, the hub's first.
    pub const ALL: [Self; 16] = [
        Self::TokenInUrl,
        Self::CsrfToken,
        Self::OriginCheck,
        Self::LoginHeader,
        Self::RateLimit,
        Self::SourceBlock,
        Self::UniformErrors,
        Self::ConfiguredOwner,
        Self::PasswordPool,
        Self::AccountBackoff,
        Self::ConnectionLimits,
        Self::AuditRateLimit,
        Self::RefusalAudit,
        Self::AssertionMac,
        Self::AssertionFreshness,
        Self::AssertionReplay,
    ];

    /// The stable name (`csrf-token`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::TokenInUrl => "token-in-url",
            Self::CsrfToken => "csrf-token",
            Self::OriginCheck => "origin-check",
            Self::LoginHeader => "login-header",
            Self::RateLimit => "rate-limit",
            Self::SourceBlock => "source-block",
            Self::UniformErrors => "uniform-errors",
            Self::ConfiguredOwner => "configured-owner",
            Self::PasswordPool => "password-pool",
            Self::AccountBackoff => "account-backoff",
            Self::ConnectionLimits => "connection-limits",
            Self::AuditRateLimit => "audit-rate-limit",
            Self::RefusalAudit => "refusal-audit",
            Self::AssertionMac => "assertion-mac",
            Self::AssertionFreshness => "assertion-freshness",
            Self::AssertionReplay => "assertion-replay",
        }
    }
}

impl fmt::Display for GatewayCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown gateway check {0:?}")]
pub struct UnknownGatewayCheck(pub String);

impl FromStr for GatewayCheck {
    type Err = UnknownGatewayCheck;

    fn from_str(s: &str) -> Result<Self, UnknownGatewayCheck> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownGatewayCheck(s.to_owned()))
    }
}

/// Which defences are applied.
///
/// In a production build (no `weaken` feature) this is a zero-sized value with every check on:
/// [`GatewayDefences::is_on`] is the constant `true`, so no removed-check path exists in the binary. A
/// check cannot be removed — this does not compile:
#[cfg_attr(not(feature = "weaken"), doc = "```compile_fail,E0599")]
#[cfg_attr(feature = "weaken", doc = "```")]
/// let _ = protocol_gateway::checks::GatewayDefences::all().without(protocol_gateway::checks::GatewayCheck::CsrfToken);
/// ```
/// (In the verification build, where the same line compiles, [`weakened`] adds the removals.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GatewayDefences {
    #[cfg(feature = "weaken")]
    removed: BTreeSet<GatewayCheck>,
}

impl GatewayDefences {
    /// Every check on: the only value production code can build.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether `check` is applied (always, in a production build).
    #[must_use]
    #[inline]
    pub fn is_on(&self, check: GatewayCheck) -> bool {
        #[cfg(feature = "weaken")]
        return !self.removed.contains(&check);
        #[cfg(not(feature = "weaken"))]
        {
            let _ = check;
            true
        }
    }

    /// Whether every check is applied.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        #[cfg(feature = "weaken")]
        return self.removed.is_empty();
        #[cfg(not(feature = "weaken"))]
        true
    }
}

/// Verification builds only: removing checks.
#[cfg(feature = "weaken")]
pub mod weakened {
    use std::collections::BTreeSet;

    use super::{GatewayCheck, GatewayDefences};

    impl GatewayDefences {
        /// The same defences without `check`.
        #[must_use]
        pub fn without(mut self, check: GatewayCheck) -> Self {
            self.removed.insert(check);
            self
        }

        /// The checks that are off.
        #[must_use]
        pub const fn removed(&self) -> &BTreeSet<GatewayCheck> {
            &self.removed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_production_has_every_check() {
        for c in GatewayCheck::ALL {
            assert_eq!(c.name().parse::<GatewayCheck>(), Ok(c));
        }
        assert!("nope".parse::<GatewayCheck>().is_err());
        let d = GatewayDefences::all();
        assert!(d.is_complete() && GatewayCheck::ALL.iter().all(|c| d.is_on(*c)));
    }
}
