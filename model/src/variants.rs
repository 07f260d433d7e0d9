//! The weakened designs the checker must break: every named check removed in turn, and the
//! design-level alternatives the reference design rejected. [`Variant`] is the job channel's,
//! [`PeopleVariant`] the people model's; [`catalogue`] lists every proof and variant of both.

use protocol_core::{Check, Defences, Flaw};
use protocol_gateway::checks::{GatewayCheck, GatewayDefences};
use protocol_people::{PeopleCheck, PeopleDefences};
use serde::Serialize;

use crate::channel::{Bounds, ChannelModel, Environment};
use crate::people::PeopleModel;
use crate::run::{ProofReport, VariantReport};

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
            Self::Without(Check::AuthenticatedKey) => NO_ACCEPTANCE_AFTER_REVOCATION,
            // Without the binding, the compromised job's key carries messages for another job:
            // the breach is of isolation (the sender is the attacker, as its key says).
            Self::Without(Check::BoundIdentity) => JOB_ISOLATION,
            Self::Flaw(Flaw::IdentityFromClaim) => SENDER_AUTHENTICATION,
            Self::Without(Check::FreshSequence) | Self::Flaw(Flaw::DedupBySession) => INJECTIVE_AGREEMENT,
            Self::Flaw(Flaw::BurnRefusedNumber) => COMMAND_LIVENESS,
            Self::Flaw(Flaw::AckBeforeDurable) => DURABLE_ACKNOWLEDGEMENT,
            Self::Flaw(Flaw::RevocationBeforeDurable) => DURABLE_REVOCATION,
            // Without the transition check, the reserved output `succeeded` completes the job.
            Self::Without(Check::ValidTransition) => NO_FORGED_COMPLETION,
            Self::Without(Check::AllowedType) => ALLOW_LIST,
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
            Self::Flaw(Flaw::BurnRefusedNumber) => {
                "the UI server's command client consumes a sequence number the scheduler refused".into()
            }
            Self::Flaw(Flaw::AckBeforeDurable) => {
                "the scheduler acknowledges a message before its acceptance is durable".into()
            }
            Self::Flaw(Flaw::RevocationBeforeDurable) => {
                "the scheduler tells the operator a key is revoked before the revocation is durable".into()
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
        crate::run::find_attack(
            self.name(),
            &self.description(),
            || self.model(bounds),
            40,
            self.breaks(),
        )
    }

    /// The model of this variant within `bounds` (for a UI-server flaw, with at least the two
    /// commands its attack needs).
    #[must_use]
    pub fn model(self, bounds: Bounds) -> ChannelModel {
        let bounds = match self {
            Self::Flaw(Flaw::BurnRefusedNumber) => Bounds {
                commands: bounds.commands.max(2),
                ..bounds
            },
            // A durability flaw shows only where a crash can fall between an event and its write.
            Self::Flaw(Flaw::AckBeforeDurable | Flaw::RevocationBeforeDurable) => Bounds {
                crashes: bounds.crashes.max(1),
                ..bounds
            },
            _ => bounds,
        };
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

/// A weakened gateway: the people cores (sessions, authoriser, audit log) or the UI server's
/// admission of hub assertions without one named check. Its name is the check's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeopleVariant {
    /// Without a check of the people cores.
    People(PeopleCheck),
    /// Without one of the UI server's checks of hub assertions.
    Gateway(GatewayCheck),
}

/// The gateway checks the people model drives: the UI server's admission of hub assertions.
pub const ASSERTION_CHECKS: [GatewayCheck; 3] = [
    GatewayCheck::AssertionMac,
    GatewayCheck::AssertionFreshness,
    GatewayCheck::AssertionReplay,
];

impl PeopleVariant {
    /// Every variant of the people model: the people cores' checks in their order, then the
    /// assertion checks.
    #[must_use]
    pub fn all() -> Vec<Self> {
        PeopleCheck::ALL
            .into_iter()
            .map(Self::People)
            .chain(ASSERTION_CHECKS.into_iter().map(Self::Gateway))
            .collect()
    }

    /// The stable name: the check's name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::People(c) => c.name(),
            Self::Gateway(c) => c.name(),
        }
    }

    /// Looks a variant up by name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|v| v.name() == name)
    }

    /// The property this design is expected to break (the model's tests pin that it does).
    #[must_use]
    pub const fn breaks(self) -> &'static str {
        use crate::people::names::*;
        let check = match self {
            Self::People(c) => c,
            Self::Gateway(_) => return HUB_ASSERTION_AGREEMENT,
        };
        match check {
            PeopleCheck::SiteLimit => SITE_LIMIT_RESPECTED,
            PeopleCheck::NegationWins => NEGATION_RESPECTED,
            PeopleCheck::FailClosed => FAIL_CLOSED,
            PeopleCheck::ElevationRequired
            | PeopleCheck::ElevationReauth
            | PeopleCheck::ElevationNewToken
            | PeopleCheck::ElevationExpiry => ELEVATION_REQUIRED,
            PeopleCheck::TokenAudience
            | PeopleCheck::TokenIdleExpiry
            | PeopleCheck::TokenAbsoluteExpiry
            | PeopleCheck::TokenRevocation => TOKEN_CONFINEMENT,
            PeopleCheck::TokenHashing => STORE_CONFIDENTIALITY,
            PeopleCheck::UniformLoginFailure => LOGIN_UNIFORMITY,
            PeopleCheck::AuditChain | PeopleCheck::AuditAnchor | PeopleCheck::AuditEscaping => AUDIT_TAMPER_EVIDENCE,
            PeopleCheck::AuditBeforeEffect => AUDIT_BEFORE_EFFECT,
        }
    }

    /// What the variant is, in a sentence.
    #[must_use]
    pub fn description(self) -> String {
        let check = match self {
            Self::People(c) => c,
            Self::Gateway(c) => {
                let without = match c {
                    GatewayCheck::AssertionMac => "a hub assertion is believed without checking its MAC",
                    GatewayCheck::AssertionFreshness => "a hub assertion of any age is accepted",
                    GatewayCheck::AssertionReplay => "a hub assertion is accepted again and again",
                    _ => "the check is not one the people model drives",
                };
                return format!("the UI server without the `{c}` check: {without}");
            }
        };
        let without = match check {
            PeopleCheck::SiteLimit => "an owner's grant above the site limit takes effect",
            PeopleCheck::NegationWins => "a group's grant overrides a personal negation",
            PeopleCheck::FailClosed => "a policy file with a typo is skipped and the rest applies",
            PeopleCheck::ElevationRequired => "a read-only session may perform Execute and Write operations",
            PeopleCheck::ElevationReauth => "elevating does not ask for the password again",
            PeopleCheck::ElevationNewToken => "elevating keeps the old token, which is elevated too",
            PeopleCheck::ElevationExpiry => "an elevation never lapses",
            PeopleCheck::TokenAudience => "a token is accepted by any audience",
            PeopleCheck::TokenIdleExpiry => "an idle session never expires",
            PeopleCheck::TokenAbsoluteExpiry => "a kept-alive session lives for ever",
            PeopleCheck::TokenRevocation => "logging out leaves the token working",
            PeopleCheck::TokenHashing => "the session store holds the tokens themselves",
            PeopleCheck::UniformLoginFailure => "a failed login says whether the user exists",
            PeopleCheck::AuditChain => "audit records are MACed one by one, not chained",
            PeopleCheck::AuditAnchor => "nothing anchors the end of the audit log",
            PeopleCheck::AuditEscaping => "audit fields are written as they came",
            PeopleCheck::AuditBeforeEffect => "the audit log buffers records and acknowledges them at once",
        };
        format!("the gateway without the `{check}` check: {without}")
    }

    /// Searches for the shortest attack on this variant within `bounds`.
    #[must_use]
    pub fn find_attack(self, bounds: crate::people::Bounds) -> (crate::run::VariantReport, Vec<crate::people::Action>) {
        crate::run::find_attack(
            self.name(),
            &self.description(),
            || self.model(bounds),
            40,
            self.breaks(),
        )
    }

    /// The model of this variant within `bounds`.
    #[must_use]
    pub fn model(self, bounds: crate::people::Bounds) -> PeopleModel {
        match self {
            Self::People(c) => PeopleModel::new(PeopleDefences::all().without(c), bounds),
            Self::Gateway(c) => {
                PeopleModel::with_gateway(PeopleDefences::all(), GatewayDefences::all().without(c), bounds)
            }
        }
    }
}

/// Which model a proof or variant belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ModelKind {
    /// The job channel ([`crate::channel`]).
    Channel,
    /// People acting on workflows ([`crate::people`]).
    People,
}

impl ModelKind {
    /// The stable name: `channel` or `people`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::People => "people",
        }
    }

    /// A property of this model in a plain sentence.
    #[must_use]
    pub fn sentence(self, property: &str) -> Option<&'static str> {
        match self {
            Self::Channel => crate::channel::names::sentence(property),
            Self::People => crate::people::names::sentence(property),
        }
    }
}

type ProofFn = Box<dyn Fn(bool) -> ProofReport + Send + Sync>;
type SearchFn = Box<dyn Fn() -> VariantReport + Send + Sync>;

/// A proof a front end can run.
pub struct ProofEntry {
    /// Its stable name (`channel`, `channel-kci`, `people`).
    pub name: &'static str,
    /// Its model.
    pub model: ModelKind,
    run: ProofFn,
}

impl ProofEntry {
    /// Runs the proof within the model's proof bound, or its quick bound.
    #[must_use]
    pub fn run(&self, quick: bool) -> ProofReport {
        (self.run)(quick)
    }
}

impl std::fmt::Debug for ProofEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofEntry")
            .field("name", &self.name)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// A weakened design a front end can search for an attack on.
pub struct VariantEntry {
    /// Its stable name (unique across both models).
    pub name: &'static str,
    /// Its model.
    pub model: ModelKind,
    /// Whether it is a removed check (as opposed to a different design).
    pub is_check: bool,
    /// The property it is expected to break.
    pub breaks: &'static str,
    /// What it is, in a sentence.
    pub description: String,
    search: SearchFn,
}

impl VariantEntry {
    /// Searches for its shortest attack within its model's quick bound (which holds every
    /// minimal attack).
    #[must_use]
    pub fn find_attack(&self) -> VariantReport {
        (self.search)()
    }
}

impl std::fmt::Debug for VariantEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariantEntry")
            .field("name", &self.name)
            .field("model", &self.model)
            .field("breaks", &self.breaks)
            .finish_non_exhaustive()
    }
}

/// Every proof and every weakened design, across both models.
#[derive(Debug)]
pub struct Catalogue {
    /// The proofs.
    pub proofs: Vec<ProofEntry>,
    /// The variants, channel first.
    pub variants: Vec<VariantEntry>,
}

impl Catalogue {
    /// The proof called `name`.
    #[must_use]
    pub fn proof(&self, name: &str) -> Option<&ProofEntry> {
        self.proofs.iter().find(|p| p.name == name)
    }

    /// The variant called `name`.
    #[must_use]
    pub fn variant(&self, name: &str) -> Option<&VariantEntry> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// A property of either model in a plain sentence.
    #[must_use]
    pub fn sentence(property: &str) -> Option<&'static str> {
        ModelKind::Channel
            .sentence(property)
            .or_else(|| ModelKind::People.sentence(property))
    }
}

/// Every proof and weakened design of both models, for command-line front ends. Names are
/// unique across the two models.
#[must_use]
pub fn catalogue() -> Catalogue {
    use crate::channel::Bounds as ChannelBounds;
    use crate::people::Bounds as PeopleBounds;
    // A proof of the full channel design in `env`, within `quick` or `full`.
    let channel = |name: &'static str, env: Environment, quick: ChannelBounds, full: ChannelBounds| ProofEntry {
        name,
        model: ModelKind::Channel,
        run: Box::new(move |is_quick| {
            let bounds = if is_quick { quick } else { full };
            crate::run::prove(name, ChannelModel::new(Defences::all(), env, bounds))
        }),
    };
    let kci = Environment {
        scheduler_key_leaked: true,
        ..Environment::default()
    };
    let plain = Environment::default();
    let proofs = vec![
        channel("channel", plain, ChannelBounds::QUICK, ChannelBounds::PROOF),
        channel("channel-kci", kci, ChannelBounds::QUICK, ChannelBounds::KCI),
        channel(
            "channel-commands",
            plain,
            ChannelBounds::COMMANDS_QUICK,
            ChannelBounds::COMMANDS,
        ),
        channel("channel-crash", plain, ChannelBounds::CRASH_QUICK, ChannelBounds::CRASH),
        ProofEntry {
            name: "people",
            model: ModelKind::People,
            run: Box::new(|quick| {
                let bounds = if quick {
                    PeopleBounds::QUICK
                } else {
                    PeopleBounds::PROOF
                };
                crate::run::prove("people", PeopleModel::new(PeopleDefences::all(), bounds))
            }),
        },
    ];
    let channel_variants = Variant::all().into_iter().map(|v| VariantEntry {
        name: v.name(),
        model: ModelKind::Channel,
        is_check: v.is_check(),
        breaks: v.breaks(),
        description: v.description(),
        search: Box::new(move || v.find_attack(ChannelBounds::QUICK).0),
    });
    let people_variants = PeopleVariant::all().into_iter().map(|v| VariantEntry {
        name: v.name(),
        model: ModelKind::People,
        is_check: true,
        breaks: v.breaks(),
        description: v.description(),
        search: Box::new(move || v.find_attack(PeopleBounds::QUICK).0),
    });
    Catalogue {
        proofs,
        variants: channel_variants.chain(people_variants).collect(),
    }
}
