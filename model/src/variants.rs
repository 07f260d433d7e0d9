//! The weakened designs the checker must break: every named check removed in turn, and the
//! design-level alternatives the reference design rejected.

use protocol_core::{Check, Defences, Flaw};

use crate::channel::{Bounds, ChannelModel, Environment};

/// A weakened design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// The core without one named check.
    Without(Check),
    /// The core with a design flaw.
    Flaw(Flaw),
    /// Cylc 7's scheme: the scheduler makes the job's private key and ships it to a file on the
    /// job host.
    Cylc7KeyShipping,
    /// The job's key reply crosses the network instead of the authenticated launch channel.
    UnauthenticatedBootstrap,
}

impl Variant {
    /// Every variant of the job channel, in a fixed order.
    #[must_use]
    pub fn all() -> Vec<Self> {
        Check::ALL
            .into_iter()
            .map(Self::Without)
            .chain(Flaw::ALL.into_iter().map(Self::Flaw))
            .chain([Self::Cylc7KeyShipping, Self::UnauthenticatedBootstrap])
            .collect()
    }

    /// The stable name: the check's name, or the flaw's.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Without(check) => check.name(),
            Self::Flaw(flaw) => flaw.name(),
            Self::Cylc7KeyShipping => "cylc7-key-shipping",
            Self::UnauthenticatedBootstrap => "unauthenticated-bootstrap",
        }
    }

    /// Looks a variant up by name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|v| v.name() == name)
    }

    /// The property this design is expected to break (the model's tests pin that it does).
    #[must_use]
    pub fn breaks(self) -> &'static str {
        use crate::channel::names::*;
        match self {
            Self::Without(Check::KeyValidation | Check::UniqueKey | Check::BootstrapDeadline)
            | Self::UnauthenticatedBootstrap => REGISTRATION_BINDING,
            Self::Without(Check::EmptyFirstPayload) => KCI_RESISTANCE,
            Self::Without(Check::AuthenticatedKey | Check::AllowedType) => NO_ACCEPTANCE_AFTER_REVOCATION,
            Self::Without(Check::BoundIdentity) | Self::Flaw(Flaw::IdentityFromClaim) => SENDER_AUTHENTICATION,
            Self::Without(Check::FreshSequence) | Self::Flaw(Flaw::DedupBySession) => INJECTIVE_AGREEMENT,
            Self::Without(Check::ValidTransition) => ALLOW_LIST,
            Self::Cylc7KeyShipping => KEY_SECRECY,
        }
    }

    /// Whether this is a removed check (as opposed to a different design).
    #[must_use]
    pub const fn is_check(self) -> bool {
        matches!(self, Self::Without(_))
    }

    /// What the variant is, in a sentence.
    #[must_use]
    pub fn description(self) -> String {
        match self {
            Self::Without(check) => format!("the scheduler without the `{check}` check"),
            Self::Flaw(Flaw::DedupBySession) => {
                "the scheduler de-duplicates per connection, not per job sequence".into()
            }
            Self::Flaw(Flaw::IdentityFromClaim) => {
                "the scheduler authenticates only itself and takes the job's identity from the message".into()
            }
            Self::Cylc7KeyShipping => "the scheduler makes each job's private key and ships it to the job host".into(),
            Self::UnauthenticatedBootstrap => {
                "the job's key reply travels over the network, not the launch channel".into()
            }
        }
    }

    /// Searches for the shortest attack on this variant within `bounds`.
    #[must_use]
    pub fn find_attack(self, bounds: Bounds) -> (crate::run::VariantReport, Vec<crate::channel::Action>) {
        crate::run::find_attack(self.name(), &self.description(), || self.model(bounds), 40)
    }

    /// The model of this variant within `bounds`.
    #[must_use]
    pub fn model(self, bounds: Bounds) -> ChannelModel {
        let mut env = Environment::default();
        let defences = match self {
            Self::Without(check) => {
                // The first payload matters only to someone who can forge one: an attacker
                // holding the scheduler's key (IK's key-compromise impersonation).
                env.scheduler_key_leaked = check == Check::EmptyFirstPayload;
                Defences::all().without(check)
            }
            Self::Flaw(flaw) => Defences::all().with_flaw(flaw),
            Self::Cylc7KeyShipping => {
                env.cylc7_key_shipping = true;
                Defences::all()
            }
            Self::UnauthenticatedBootstrap => {
                env.unauthenticated_bootstrap = true;
                Defences::all()
            }
        };
        ChannelModel::new(defences, env, bounds)
    }
}
