//! The readiness check of a threat model (the threat-analysis review process, "Verifying readiness for a threat analysis
//! review"): the sections the architecture page needs, STRIDE coverage of every entity,
//! countermeasures and evidence (or dated, owned risk acceptances) for every threat, harnesses
//! for the stories that need them, and evidence names that exist.
//!
//! [`lint`] is pure: the evidence names that exist and "today" are passed in.

mod coverage;
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Date, EvidenceRef, Location, ThreatModel};

/// How serious a finding is. Only errors fail `threatcheck lint` and the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The model is not ready for review.
    Error,
    /// Probably a mistake; does not fail the check.
    Warning,
    /// For information.
    Note,
}

impl Severity {
    /// `error`, `warning` or `note`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A lint rule. Names are stable (they are SARIF rule ids, `lint/NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A section the architecture page needs is missing or empty.
    SectionMissing,
    /// An item lacks required text (purpose, protocols, countermeasure, assumptions, …).
    ItemIncomplete,
    /// An id refers to nothing (entity, boundary, asset, story).
    UnknownReference,
    /// Two items of one kind share an id (or a threat lists an evidence item twice).
    DuplicateId,
    /// An id does not have its required shape (`T-SCHED-S-01`, `S01`, `SCHED`).
    IdFormat,
    /// An entity has neither a threat nor a not-applicable entry for a STRIDE category.
    StrideGap,
    /// An entity has both threats and a not-applicable entry for one category (or two entries).
    StrideContradiction,
    /// A threat has neither evidence nor a risk acceptance.
    NoEvidence,
    /// A risk acceptance has expired.
    AcceptanceExpired,
    /// A threat has evidence and a risk acceptance.
    AcceptanceWithEvidence,
    /// An evidence reference names a property, variant or harness that does not exist.
    UnknownEvidence,
    /// A story that needs an attack harness has none.
    StoryWithoutHarness,
    /// An in-scope story is served by no threat.
    StoryWithoutThreat,
    /// A threat serves no story.
    ThreatWithoutStory,
    /// A known property, variant or harness is referenced by no threat.
    UnusedEvidence,
    /// A defence of the vocabulary is tested by no cited variant or harness: no threat rests on
    /// evidence about it.
    UncitedDefence,
    /// A property some threat cites is broken by no variant: that it holds says nothing a
    /// removed defence would change, so it cannot show the threat's countermeasure works.
    UnbrokenProperty,
    /// An entity in no data flow, or an asset neither held nor carried.
    Unconnected,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Self; 18] = [
        Self::SectionMissing,
        Self::ItemIncomplete,
        Self::UnknownReference,
        Self::DuplicateId,
        Self::IdFormat,
        Self::StrideGap,
        Self::StrideContradiction,
        Self::NoEvidence,
        Self::AcceptanceExpired,
        Self::AcceptanceWithEvidence,
        Self::UnknownEvidence,
        Self::StoryWithoutHarness,
        Self::StoryWithoutThreat,
        Self::ThreatWithoutStory,
        Self::UnusedEvidence,
        Self::UncitedDefence,
        Self::UnbrokenProperty,
        Self::Unconnected,
    ];

    /// The stable kebab-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SectionMissing => "section-missing",
            Self::ItemIncomplete => "item-incomplete",
            Self::UnknownReference => "unknown-reference",
            Self::DuplicateId => "duplicate-id",
            Self::IdFormat => "id-format",
            Self::StrideGap => "stride-gap",
            Self::StrideContradiction => "stride-contradiction",
            Self::NoEvidence => "no-evidence",
            Self::AcceptanceExpired => "acceptance-expired",
            Self::AcceptanceWithEvidence => "acceptance-with-evidence",
            Self::UnknownEvidence => "unknown-evidence",
            Self::StoryWithoutHarness => "story-without-harness",
            Self::StoryWithoutThreat => "story-without-threat",
            Self::ThreatWithoutStory => "threat-without-story",
            Self::UnusedEvidence => "unused-evidence",
            Self::UncitedDefence => "uncited-defence",
            Self::UnbrokenProperty => "unbroken-property",
            Self::Unconnected => "unconnected",
        }
    }

    /// The severity of its findings.
    #[must_use]
    pub const fn severity(self) -> Severity {
        match self {
            Self::AcceptanceWithEvidence
            | Self::UnusedEvidence
            | Self::UncitedDefence
            | Self::UnbrokenProperty
            | Self::Unconnected => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// What the rule checks, in a sentence (SARIF rule descriptions).
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::SectionMissing => "Every section the architecture page needs is present.",
            Self::ItemIncomplete => "Every item has its required text.",
            Self::UnknownReference => "Every id an item refers to exists.",
            Self::DuplicateId => "Ids are unique within their kind.",
            Self::IdFormat => "Ids have their required shape.",
            Self::StrideGap => "Every entity has each STRIDE category covered or justified as not applicable.",
            Self::StrideContradiction => "No STRIDE category is both threatened and not applicable.",
            Self::NoEvidence => "Every threat has evidence or a risk acceptance.",
            Self::AcceptanceExpired => "Risk acceptances have not expired.",
            Self::AcceptanceWithEvidence => "A threat with evidence needs no risk acceptance.",
            Self::UnknownEvidence => "Every evidence reference names a property, variant or harness that exists.",
            Self::StoryWithoutHarness => "Every story that needs one has an attack harness.",
            Self::StoryWithoutThreat => "Every in-scope story is served by a threat.",
            Self::ThreatWithoutStory => "Every threat serves a story.",
            Self::UnusedEvidence => "Every known property, variant and harness is used by a threat.",
            Self::UncitedDefence => {
                "Every defence of the vocabulary is tested by a variant or harness that some threat cites."
            }
            Self::UnbrokenProperty => {
                "Every property a threat cites is broken by some variant, so that it holding means something."
            }
            Self::Unconnected => "Every entity takes part in a flow; every asset is held or carried.",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintFinding {
    /// Where, when the finding is about one item (file inside the model directory, line).
    pub location: Option<Location>,
    /// The rule.
    pub rule: Rule,
    /// Its severity (the rule's).
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.rule, self.message)
    }
}

/// The evidence that exists: names the model checker and the attack crate can produce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownEvidence {
    /// Property names.
    pub properties: BTreeSet<String>,
    /// Variant names (checks and design flaws).
    pub variants: BTreeSet<String>,
    /// Harness ids.
    pub harnesses: BTreeSet<String>,
    /// Every defence of the vocabulary, with the evidence that tests it (its model variant and
    /// the harnesses that name it). Empty when the caller knows no vocabulary.
    pub defences: BTreeMap<String, BTreeSet<EvidenceRef>>,
    /// Property → the variants that break it. Empty when the caller knows no variants, and then
    /// `unbroken-property` is not checked.
    pub broken_by: BTreeMap<String, BTreeSet<String>>,
}

impl KnownEvidence {
    /// Lists from string slices.
    #[must_use]
    pub fn new(properties: &[&str], variants: &[&str], harnesses: &[&str]) -> Self {
        let set = |s: &[&str]| s.iter().map(|n| (*n).to_owned()).collect();
        Self {
            properties: set(properties),
            variants: set(variants),
            harnesses: set(harnesses),
            defences: BTreeMap::new(),
            broken_by: BTreeMap::new(),
        }
    }

    /// The same, knowing that `variant` breaks `property`.
    #[must_use]
    pub fn with_break(mut self, variant: &str, property: &str) -> Self {
        self.broken_by
            .entry(property.to_owned())
            .or_default()
            .insert(variant.to_owned());
        self
    }

    /// The same, knowing that `defence` is tested by `evidence` (its variant, its harnesses).
    #[must_use]
    pub fn with_defence(mut self, defence: &str, evidence: impl IntoIterator<Item = EvidenceRef>) -> Self {
        self.defences.entry(defence.to_owned()).or_default().extend(evidence);
        self
    }

    /// The names present in a set of results.
    #[must_use]
    pub fn from_evidence(e: &crate::evidence::Evidence) -> Self {
        Self {
            properties: e.properties.iter().map(|p| p.name.clone()).collect(),
            variants: e.variants.iter().map(|v| v.name.clone()).collect(),
            harnesses: e.harnesses.iter().map(|h| h.id.clone()).collect(),
            defences: BTreeMap::new(),
            // Only searches that found their attack count as breaking.
            broken_by: e.variants.iter().filter(|v| v.found).fold(BTreeMap::new(), |mut m, v| {
                m.entry(v.breaks.clone()).or_default().insert(v.name.clone());
                m
            }),
        }
    }
}

/// Checks `model` for readiness. `today` decides which risk acceptances have expired (an
/// acceptance is valid through its `until` date). Findings are sorted by location, then rule.
#[must_use]
pub fn lint(model: &ThreatModel, known: &KnownEvidence, today: Date) -> Vec<LintFinding> {
    let mut out = rules::Linter::default();
    out.sections(model);
    out.completeness(model);
    out.ids(model);
    out.references(model);
    out.stride(model);
    out.threats(model, today);
    out.evidence_names(model, known);
    out.stories(model);
    out.connections(model);
    let mut findings = out.into_findings();
    findings.sort();
    findings.dedup();
    findings
}

/// Whether any finding is an error.
#[must_use]
pub fn has_errors(findings: &[LintFinding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

#[cfg(test)]
mod tests;
