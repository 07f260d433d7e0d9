//! The threat model as data: the system's description, entities, trust boundaries, data flows,
//! data assets, external dependencies, threat stories, sequence diagrams, and the threats per
//! entity and STRIDE category with their countermeasures and evidence.
//!
//! [`ThreatModel::load`] reads a directory of TOML files (schema: `threats/model/README.md`).
//! The same types serialise into `results.json` (schema: `threats/RESULTS.md`), which is why
//! every item keeps the [`Location`] it was read from: SARIF points at it.

mod date;
mod load;
mod raw;
mod types;

pub use date::{BadDate, Date};
pub use load::{MAX_FILE_BYTES, MAX_FILES, MAX_ITEMS, ModelError};
pub use types::*;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ordinal rating: likelihood, impact, and confidentiality/integrity/availability needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rating {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl Rating {
    /// 1, 2 or 3.
    #[must_use]
    pub const fn weight(self) -> u8 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }

    /// `low`, `medium` or `high`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A STRIDE category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stride {
    /// Pretending to be something or someone else.
    Spoofing,
    /// Changing data or code.
    Tampering,
    /// Denying having done something.
    Repudiation,
    /// Exposing information to someone not allowed to see it.
    InformationDisclosure,
    /// Denying or degrading service.
    DenialOfService,
    /// Gaining capabilities without authorisation.
    ElevationOfPrivilege,
}

impl Stride {
    /// The six categories, in STRIDE order.
    pub const ALL: [Self; 6] = [
        Self::Spoofing,
        Self::Tampering,
        Self::Repudiation,
        Self::InformationDisclosure,
        Self::DenialOfService,
        Self::ElevationOfPrivilege,
    ];

    /// The letter used in threat ids (`S`, `T`, `R`, `I`, `D`, `E`).
    #[must_use]
    pub const fn letter(self) -> char {
        match self {
            Self::Spoofing => 'S',
            Self::Tampering => 'T',
            Self::Repudiation => 'R',
            Self::InformationDisclosure => 'I',
            Self::DenialOfService => 'D',
            Self::ElevationOfPrivilege => 'E',
        }
    }

    /// The kebab-case name used in model files.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Spoofing => "spoofing",
            Self::Tampering => "tampering",
            Self::Repudiation => "repudiation",
            Self::InformationDisclosure => "information-disclosure",
            Self::DenialOfService => "denial-of-service",
            Self::ElevationOfPrivilege => "elevation-of-privilege",
        }
    }

    /// The title-case name used in reports (`Information disclosure`).
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Spoofing => "Spoofing",
            Self::Tampering => "Tampering",
            Self::Repudiation => "Repudiation",
            Self::InformationDisclosure => "Information disclosure",
            Self::DenialOfService => "Denial of service",
            Self::ElevationOfPrivilege => "Elevation of privilege",
        }
    }
}

impl fmt::Display for Stride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of evidence a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvidenceKind {
    /// A model-checked property.
    Property,
    /// A weakened-model search showing a defence is necessary.
    Variant,
    /// An attack harness run against the live system (and its weakened control).
    Harness,
}

impl EvidenceKind {
    /// `property`, `variant` or `harness`.
    #[must_use]
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Property => "property",
            Self::Variant => "variant",
            Self::Harness => "harness",
        }
    }
}

/// A reference to one item of evidence: `property:NAME`, `variant:NAME` or `harness:ID`.
///
/// Ordered by kind (properties, variants, harnesses), then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EvidenceRef {
    /// Which kind of evidence.
    pub kind: EvidenceKind,
    /// Its name: lowercase ASCII letters, digits and `-`, starting with a letter or digit.
    pub name: String,
}

/// A string that is not a valid evidence reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an evidence reference: expected property:NAME, variant:NAME or harness:ID, NAME of lowercase letters, digits and '-'"
)]
pub struct BadEvidenceRef(pub String);

impl EvidenceRef {
    /// A reference of `kind` to `name` (not checked; see [`is_evidence_name`]).
    #[must_use]
    pub fn new(kind: EvidenceKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

/// Whether `name` is a well-formed evidence name (1–100 bytes of `[a-z0-9-]`, not starting with
/// `-`).
#[must_use]
pub fn is_evidence_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl fmt::Display for EvidenceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.prefix(), self.name)
    }
}

impl FromStr for EvidenceRef {
    type Err = BadEvidenceRef;

    fn from_str(s: &str) -> Result<Self, BadEvidenceRef> {
        let bad = || BadEvidenceRef(s.to_owned());
        let (prefix, name) = s.split_once(':').ok_or_else(bad)?;
        let kind = match prefix {
            "property" => EvidenceKind::Property,
            "variant" => EvidenceKind::Variant,
            "harness" => EvidenceKind::Harness,
            _ => return Err(bad()),
        };
        if !is_evidence_name(name) {
            return Err(bad());
        }
        Ok(Self::new(kind, name))
    }
}

impl Serialize for EvidenceRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EvidenceRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where an item was read from: a file of the model directory and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The file name inside the model directory (`threats-scheduler.toml`).
    pub file: String,
    /// The line the item starts on, from 1.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_references_parse_and_print() {
        let r: EvidenceRef = "variant:fresh-sequence".parse().expect("valid");
        assert_eq!(r, EvidenceRef::new(EvidenceKind::Variant, "fresh-sequence"));
        assert_eq!(r.to_string(), "variant:fresh-sequence");
        for bad in [
            "fresh-sequence",
            "check:x",
            "property:",
            "property:Upper",
            "harness:-x",
            "harness:a b",
        ] {
            assert!(bad.parse::<EvidenceRef>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn stride_letters_and_names_are_distinct() {
        let letters: std::collections::BTreeSet<char> = Stride::ALL.iter().map(|s| s.letter()).collect();
        assert_eq!(letters.len(), 6);
        assert_eq!(Stride::InformationDisclosure.name(), "information-disclosure");
    }
}
