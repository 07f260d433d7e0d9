//! The named defences of the job channel, and the set of them a core is built with.
//!
//! Every defence the scheduler core applies is a [`Check`] with a stable kebab-case name used
//! by the model checker, the attack harnesses and the threat model. A [`Defences`] value says
//! which are on. Production code can only build [`Defences::all`]; removing a check (or adding
//! a design [`Flaw`]) needs the `weaken` feature, which only verification builds enable.

#[cfg(any(feature = "weaken", test))]
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A named, removable defence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// Registration: the job's public key is canonical and not a low-order point.
    KeyValidation,
    /// Registration: a key is bound to at most one job.
    UniqueKey,
    /// Registration: the job's key must arrive on the bootstrap channel before its deadline.
    BootstrapDeadline,
    /// Handshake: the first handshake payload must be empty and is never acted on.
    EmptyFirstPayload,
    /// Pipeline: the sender's authenticated static key is registered and not revoked.
    AuthenticatedKey,
    /// Pipeline: the job a message claims to be from is the job bound to the sender's key.
    BoundIdentity,
    /// Pipeline: the sequence number is the next one for the job (retransmissions of accepted
    /// messages are acknowledged again without effect).
    FreshSequence,
    /// Pipeline: the message type is one a job may send, in the job's current state.
    AllowedType,
    /// Pipeline: the state change is valid (declared, unreserved, not yet completed outputs).
    ValidTransition,
}

impl Check {
    /// Every check, in pipeline order.
    pub const ALL: [Self; 9] = [
        Self::KeyValidation,
        Self::UniqueKey,
        Self::BootstrapDeadline,
        Self::EmptyFirstPayload,
        Self::AuthenticatedKey,
        Self::BoundIdentity,
        Self::FreshSequence,
        Self::AllowedType,
        Self::ValidTransition,
    ];

    /// The stable name (`fresh-sequence`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::KeyValidation => "key-validation",
            Self::UniqueKey => "unique-key",
            Self::BootstrapDeadline => "bootstrap-deadline",
            Self::EmptyFirstPayload => "empty-first-payload",
            Self::AuthenticatedKey => "authenticated-key",
            Self::BoundIdentity => "bound-identity",
            Self::FreshSequence => "fresh-sequence",
            Self::AllowedType => "allowed-type",
            Self::ValidTransition => "valid-transition",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check {0:?}")]
pub struct UnknownCheck(pub String);

impl FromStr for Check {
    type Err = UnknownCheck;

    fn from_str(s: &str) -> Result<Self, UnknownCheck> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCheck(s.to_owned()))
    }
}

/// A design-level flaw: not a missing check but a different (worse) design, kept so that the
/// model can show why this design was not chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flaw {
    /// The scheduler de-duplicates only within one connection, not by the job's sequence.
    DedupBySession,
    /// The scheduler takes the job's identity from the message's claim and accepts any key,
    /// as a server that authenticates only itself would.
    IdentityFromClaim,
    /// The UI server's command client consumes a number the scheduler refused, as it did before
    /// issue 11: the next command, and every one after it, is then a sequence gap.
    BurnRefusedNumber,
    /// The scheduler sends a job's or a UI server's reply before the events it answers are
    /// durable: a crash in between loses a message its sender was told was accepted.
    AckBeforeDurable,
    /// The scheduler tells the operator a key is revoked before the revocation is durable, as
    /// it did before issue 11: a crash in between revives the key on restart.
    RevocationBeforeDurable,
}

impl Flaw {
    /// Every flaw.
    pub const ALL: [Self; 5] = [
        Self::DedupBySession,
        Self::IdentityFromClaim,
        Self::BurnRefusedNumber,
        Self::AckBeforeDurable,
        Self::RevocationBeforeDurable,
    ];

    /// The stable name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::DedupBySession => "dedup-by-session",
            Self::IdentityFromClaim => "identity-from-claim",
            Self::BurnRefusedNumber => "burn-refused-number",
            Self::AckBeforeDurable => "ack-before-durable",
            Self::RevocationBeforeDurable => "revocation-before-durable",
        }
    }
}

/// Which defences a core applies.
///
/// In a production build (no `weaken` feature) this is a zero-sized value with every check on:
/// [`Defences::is_on`] is the constant `true`, so every guard in the cores compiles to the
/// check alone and no removed-check path exists in the binary. A check cannot be removed —
/// this does not compile:
#[cfg_attr(not(feature = "weaken"), doc = "```compile_fail,E0599")]
#[cfg_attr(feature = "weaken", doc = "```")]
/// let _ = protocol_core::Defences::all().without(protocol_core::Check::FreshSequence);
/// ```
/// (In the verification build, where the same line compiles, [`weakened`] adds the removals.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Defences {
    #[cfg(feature = "weaken")]
    removed: BTreeSet<Check>,
    #[cfg(feature = "weaken")]
    flaws: BTreeSet<Flaw>,
}

impl Defences {
    /// Every check on, no flaw: the only value production code can build.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether `check` is applied (always, in a production build).
    #[must_use]
    #[inline]
    pub fn is_on(&self, check: Check) -> bool {
        #[cfg(feature = "weaken")]
        return !self.removed.contains(&check);
        #[cfg(not(feature = "weaken"))]
        {
            let _ = check;
            true
        }
    }

    /// Whether the core has `flaw` (never, in a production build).
    #[must_use]
    #[inline]
    pub fn has_flaw(&self, flaw: Flaw) -> bool {
        #[cfg(feature = "weaken")]
        return self.flaws.contains(&flaw);
        #[cfg(not(feature = "weaken"))]
        {
            let _ = flaw;
            false
        }
    }

    /// Whether this is the full set of defences.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        #[cfg(feature = "weaken")]
        return self.removed.is_empty() && self.flaws.is_empty();
        #[cfg(not(feature = "weaken"))]
        true
    }
}

/// Verification builds only: removing checks and adding design flaws.
#[cfg(feature = "weaken")]
pub mod weakened {
    use super::{Check, Defences, Flaw};

    impl Defences {
        /// The same defences without `check`.
        #[must_use]
        pub fn without(mut self, check: Check) -> Self {
            self.removed.insert(check);
            self
        }

        /// The same defences with a design flaw.
        #[must_use]
        pub fn with_flaw(mut self, flaw: Flaw) -> Self {
            self.flaws.insert(flaw);
            self
        }

        /// The checks that are off.
        pub fn removed(&self) -> impl Iterator<Item = Check> + '_ {
            self.removed.iter().copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_round_trip_and_are_unique() {
        let names: BTreeSet<_> = Check::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Check::ALL.len());
        for c in Check::ALL {
            assert_eq!(c.name().parse::<Check>(), Ok(c));
        }
        assert!("no-such-check".parse::<Check>().is_err());
    }

    #[test]
    fn checks_display_as_their_names_and_flaws_have_unique_kebab_case_names() {
        for c in Check::ALL {
            assert_eq!(c.to_string(), c.name());
        }
        let flaws: BTreeSet<&str> = Flaw::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(flaws.len(), Flaw::ALL.len());
        assert_eq!(Flaw::DedupBySession.name(), "dedup-by-session");
        assert_eq!(Flaw::BurnRefusedNumber.name(), "burn-refused-number");
        assert!(
            flaws
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        );
    }

    #[test]
    fn production_defences_have_every_check_on() {
        let d = Defences::all();
        assert!(d.is_complete());
        assert!(Check::ALL.iter().all(|c| d.is_on(*c)));
    }

    #[cfg(feature = "weaken")]
    #[test]
    fn a_removed_check_or_an_added_flaw_is_exactly_what_the_defences_report() {
        let d = Defences::all().without(Check::FreshSequence);
        assert!(!d.is_on(Check::FreshSequence) && d.is_on(Check::BoundIdentity));
        assert!(!d.is_complete() && !d.has_flaw(Flaw::DedupBySession));
        assert_eq!(d.removed().collect::<Vec<_>>(), [Check::FreshSequence]);
        let f = Defences::all().with_flaw(Flaw::DedupBySession);
        assert!(f.has_flaw(Flaw::DedupBySession) && !f.has_flaw(Flaw::IdentityFromClaim));
        assert!(!f.is_complete() && f.is_on(Check::FreshSequence));
    }
}
