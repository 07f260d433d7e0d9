//! The properties of both models as one typed vocabulary: each is a [`Property`] value with one
//! name — the string the model's checker reports, the threat model cites (`property:NAME`) and
//! the reports print. The per-model `names` modules hold the same strings as constants for the
//! checkers' own use; a test keeps the two in step.

use std::fmt;
use std::str::FromStr;

use crate::channel::names as channel;
use crate::people::names as people;

/// A property one of the models checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Property {
    SenderAuthentication,
    InjectiveAgreement,
    JobIsolation,
    AllowList,
    RegistrationBinding,
    KeySecrecy,
    NoAcceptanceAfterRevocation,
    NoForgedCompletion,
    KciResistance,
    CommandLiveness,
    DurableAcknowledgement,
    DurableRevocation,
    ElevationRequired,
    AuditBeforeEffect,
    SiteLimitRespected,
    NegationRespected,
    FailClosed,
    TokenConfinement,
    StoreConfidentiality,
    LoginUniformity,
    AuditTamperEvidence,
    HubAssertionAgreement,
}

impl Property {
    /// Every property: the job channel's, then the people side's, each in its checker's order.
    pub const ALL: [Self; 22] = [
        Self::SenderAuthentication,
        Self::InjectiveAgreement,
        Self::JobIsolation,
        Self::AllowList,
        Self::RegistrationBinding,
        Self::KeySecrecy,
        Self::NoAcceptanceAfterRevocation,
        Self::NoForgedCompletion,
        Self::KciResistance,
        Self::CommandLiveness,
        Self::DurableAcknowledgement,
        Self::DurableRevocation,
        Self::ElevationRequired,
        Self::AuditBeforeEffect,
        Self::SiteLimitRespected,
        Self::NegationRespected,
        Self::FailClosed,
        Self::TokenConfinement,
        Self::StoreConfidentiality,
        Self::LoginUniformity,
        Self::AuditTamperEvidence,
        Self::HubAssertionAgreement,
    ];

    /// The stable name (`injective-agreement`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SenderAuthentication => channel::SENDER_AUTHENTICATION,
            Self::InjectiveAgreement => channel::INJECTIVE_AGREEMENT,
            Self::JobIsolation => channel::JOB_ISOLATION,
            Self::AllowList => channel::ALLOW_LIST,
            Self::RegistrationBinding => channel::REGISTRATION_BINDING,
            Self::KeySecrecy => channel::KEY_SECRECY,
            Self::NoAcceptanceAfterRevocation => channel::NO_ACCEPTANCE_AFTER_REVOCATION,
            Self::NoForgedCompletion => channel::NO_FORGED_COMPLETION,
            Self::KciResistance => channel::KCI_RESISTANCE,
            Self::CommandLiveness => channel::COMMAND_LIVENESS,
            Self::DurableAcknowledgement => channel::DURABLE_ACKNOWLEDGEMENT,
            Self::DurableRevocation => channel::DURABLE_REVOCATION,
            Self::ElevationRequired => people::ELEVATION_REQUIRED,
            Self::AuditBeforeEffect => people::AUDIT_BEFORE_EFFECT,
            Self::SiteLimitRespected => people::SITE_LIMIT_RESPECTED,
            Self::NegationRespected => people::NEGATION_RESPECTED,
            Self::FailClosed => people::FAIL_CLOSED,
            Self::TokenConfinement => people::TOKEN_CONFINEMENT,
            Self::StoreConfidentiality => people::STORE_CONFIDENTIALITY,
            Self::LoginUniformity => people::LOGIN_UNIFORMITY,
            Self::AuditTamperEvidence => people::AUDIT_TAMPER_EVIDENCE,
            Self::HubAssertionAgreement => people::HUB_ASSERTION_AGREEMENT,
        }
    }

    /// Which model checks it.
    #[must_use]
    pub const fn model(self) -> crate::ModelKind {
        match self {
            Self::SenderAuthentication
            | Self::InjectiveAgreement
            | Self::JobIsolation
            | Self::AllowList
            | Self::RegistrationBinding
            | Self::KeySecrecy
            | Self::NoAcceptanceAfterRevocation
            | Self::NoForgedCompletion
            | Self::KciResistance
            | Self::CommandLiveness
            | Self::DurableAcknowledgement
            | Self::DurableRevocation => crate::ModelKind::Channel,
            _ => crate::ModelKind::People,
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A property name that no model checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no model checks a property called {0:?}")]
pub struct UnknownProperty(pub String);

impl FromStr for Property {
    type Err = UnknownProperty;

    fn from_str(s: &str) -> Result<Self, UnknownProperty> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProperty(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_typed_properties_are_exactly_the_names_each_checker_reports_once_each() {
        let typed: Vec<&str> = Property::ALL.iter().map(|p| p.name()).collect();
        let checked: Vec<&str> = channel::ALL.into_iter().chain(people::ALL).collect();
        assert_eq!(typed, checked);
        assert_eq!(typed.iter().collect::<BTreeSet<_>>().len(), typed.len());
        for p in Property::ALL {
            assert_eq!(p.name().parse::<Property>(), Ok(p));
        }
        assert_eq!(
            "injective-agreemnt".parse::<Property>(),
            Err(UnknownProperty("injective-agreemnt".to_owned()))
        );
    }

    #[test]
    fn each_property_belongs_to_the_model_whose_names_list_it() {
        for p in Property::ALL {
            let listed = match p.model() {
                crate::ModelKind::Channel => channel::ALL.contains(&p.name()),
                crate::ModelKind::People => people::ALL.contains(&p.name()),
            };
            assert!(listed, "{p}");
        }
    }
}
