//! The named defences of people acting on workflows, and the set of them a core is built with.
//!
//! Every defence the authoriser, the session manager and the audit log apply is a
//! [`PeopleCheck`] with a stable kebab-case name used by the model checker, the attack harnesses
//! and the threat model. A [`PeopleDefences`] value says which are on. Production code can only
//! build [`PeopleDefences::all`]; removing a check needs the `weaken` feature, which only
//! verification builds enable.

#[cfg(any(feature = "weaken", test))]
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A named, removable defence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeopleCheck {
    /// Authz: the site limit caps what the owner and workflow layers grant.
    SiteLimit,
    /// Authz: within a layer (and in the site limit) a negation beats any grant.
    NegationWins,
    /// Authz: a malformed or unreadable policy file refuses the whole policy.
    FailClosed,
    /// Authz: an Execute or Write operation needs a session elevated to that level.
    ElevationRequired,
    /// Sessions: elevating needs the password again.
    ElevationReauth,
    /// Sessions: elevating retires the old token and issues a new one.
    ElevationNewToken,
    /// Sessions: an elevation lapses at the end of its window.
    ElevationExpiry,
    /// Sessions: a token is accepted only by the audience it was issued for.
    TokenAudience,
    /// Sessions: a token unused for the idle timeout is refused.
    TokenIdleExpiry,
    /// Sessions: a token older than the absolute lifetime is refused, however busy.
    TokenAbsoluteExpiry,
    /// Sessions: logout and revocation take effect at once.
    TokenRevocation,
    /// Sessions: only a digest of each token is stored, so the store does not hold bearer tokens.
    TokenHashing,
    /// Sessions: an unknown user and a wrong password fail alike (same error, same work).
    UniformLoginFailure,
    /// Audit: each record's MAC covers its sequence number and the previous record's MAC.
    AuditChain,
    /// Audit: a sidecar head (count and last MAC, itself MACed) anchors the end of the log.
    AuditAnchor,
    /// Audit: untrusted fields are escaped, so no field can start a line of its own.
    AuditEscaping,
    /// Audit: `append` returns only once the record (and head) are on disk.
    AuditBeforeEffect,
}

impl PeopleCheck {
    /// Every check, authz first, then sessions, then audit.
    pub const ALL: [Self; 17] = [
        Self::SiteLimit,
        Self::NegationWins,
        Self::FailClosed,
        Self::ElevationRequired,
        Self::ElevationReauth,
        Self::ElevationNewToken,
        Self::ElevationExpiry,
        Self::TokenAudience,
        Self::TokenIdleExpiry,
        Self::TokenAbsoluteExpiry,
        Self::TokenRevocation,
        Self::TokenHashing,
        Self::UniformLoginFailure,
        Self::AuditChain,
        Self::AuditAnchor,
        Self::AuditEscaping,
        Self::AuditBeforeEffect,
    ];

    /// The stable name (`site-limit`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SiteLimit => "site-limit",
            Self::NegationWins => "negation-wins",
            Self::FailClosed => "fail-closed",
            Self::ElevationRequired => "elevation-required",
            Self::ElevationReauth => "elevation-reauth",
            Self::ElevationNewToken => "elevation-new-token",
            Self::ElevationExpiry => "elevation-expiry",
            Self::TokenAudience => "token-audience",
            Self::TokenIdleExpiry => "token-idle-expiry",
            Self::TokenAbsoluteExpiry => "token-absolute-expiry",
            Self::TokenRevocation => "token-revocation",
            Self::TokenHashing => "token-hashing",
            Self::UniformLoginFailure => "uniform-login-failure",
            Self::AuditChain => "audit-chain",
            Self::AuditAnchor => "audit-anchor",
            Self::AuditEscaping => "audit-escaping",
            Self::AuditBeforeEffect => "audit-before-effect",
        }
    }
}

impl fmt::Display for PeopleCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check {0:?}")]
pub struct UnknownPeopleCheck(pub String);

impl FromStr for PeopleCheck {
    type Err = UnknownPeopleCheck;

    fn from_str(s: &str) -> Result<Self, UnknownPeopleCheck> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownPeopleCheck(s.to_owned()))
    }
}

/// Which defences are applied.
///
/// In a production build (no `weaken` feature) this is a zero-sized value with every check on:
/// [`PeopleDefences::is_on`] is the constant `true`, so no removed-check path exists in the binary. A
/// check cannot be removed — this does not compile:
#[cfg_attr(not(feature = "weaken"), doc = "```compile_fail,E0599")]
#[cfg_attr(feature = "weaken", doc = "```")]
/// let _ = protocol_people::PeopleDefences::all().without(protocol_people::PeopleCheck::SiteLimit);
/// ```
/// (In the verification build, where the same line compiles, [`weakened`] adds the removals.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PeopleDefences {
    #[cfg(feature = "weaken")]
    removed: BTreeSet<PeopleCheck>,
}

impl PeopleDefences {
    /// Every check on: the only value production code can build.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether `check` is applied (always, in a production build).
    #[must_use]
    #[inline]
    pub fn is_on(&self, check: PeopleCheck) -> bool {
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

    use super::{PeopleCheck, PeopleDefences};

    impl PeopleDefences {
        /// The same defences without `check`.
        #[must_use]
        pub fn without(mut self, check: PeopleCheck) -> Self {
            self.removed.insert(check);
            self
        }

        /// The checks that are off.
        #[must_use]
        pub const fn removed(&self) -> &BTreeSet<PeopleCheck> {
            &self.removed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_round_trip_and_are_unique_kebab_case() {
        let names: BTreeSet<_> = PeopleCheck::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), PeopleCheck::ALL.len());
        for c in PeopleCheck::ALL {
            assert_eq!(c.name().parse::<PeopleCheck>(), Ok(c));
            assert!(c.name().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
        assert_eq!(
            "no-such-check".parse::<PeopleCheck>(),
            Err(UnknownPeopleCheck("no-such-check".into()))
        );
    }

    #[test]
    fn production_defences_have_every_check_on() {
        let d = PeopleDefences::all();
        assert!(d.is_complete());
        assert!(PeopleCheck::ALL.iter().all(|c| d.is_on(*c)));
    }
}
