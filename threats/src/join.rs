//! The evidence join: a threat model and the evidence of one run give every threat a status,
//! and the run an overall verdict.
//!
//! A threat is *verified* when every evidence item it cites is green, *failing* when any is red
//! (a property fails or is vacuous, a variant's counterexample was not found, a harness breached
//! the real target or did not breach its control), *unverified* when an item is missing from the
//! results (or it has no evidence and no valid risk acceptance), and *accepted until DATE* when
//! it has no evidence and a risk acceptance valid on the run's date.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::evidence::{Evidence, HarnessOutcome, Health, PropertyVerdict};
use crate::lint::{LintFinding, Severity};
use crate::model::{Date, EvidenceKind, EvidenceRef, Threat, ThreatModel};

/// The state of one evidence item a threat cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemState {
    /// It shows what it should.
    Green,
    /// It does not.
    Red,
    /// It is not in the results.
    Missing,
}

/// One evidence item of one threat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemOutcome {
    /// The reference.
    pub evidence: EvidenceRef,
    /// Green, red or missing.
    pub state: ItemState,
    /// A one-line summary (why it is red, or what it showed).
    pub detail: String,
}

/// A threat's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Some of its evidence is red.
    Failing,
    /// Evidence is missing, or there is none and no valid risk acceptance.
    Unverified,
    /// No evidence; a valid risk acceptance (see [`ThreatOutcome::accepted_until`]).
    Accepted,
    /// All its evidence is green.
    Verified,
}

impl Status {
    /// `failing`, `unverified`, `accepted` or `verified`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Unverified => "unverified",
            Self::Accepted => "accepted",
            Self::Verified => "verified",
        }
    }

    /// Whether the status keeps the verdict red.
    #[must_use]
    pub const fn is_red(self) -> bool {
        matches!(self, Self::Failing | Self::Unverified)
    }
}

/// A threat's joined result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatOutcome {
    /// The threat's id.
    pub id: String,
    /// Its status.
    pub status: Status,
    /// For an accepted risk, the last day the acceptance is valid.
    pub accepted_until: Option<Date>,
    /// Each cited evidence item.
    pub items: Vec<ItemOutcome>,
    /// Why the status is what it is, in a sentence.
    pub note: String,
}

impl ThreatOutcome {
    /// `verified`, `failing`, `unverified` or `accepted until DATE`.
    #[must_use]
    pub fn label(&self) -> String {
        match (self.status, self.accepted_until) {
            (Status::Accepted, Some(until)) => format!("accepted until {until}"),
            (s, _) => s.name().to_owned(),
        }
    }
}

/// The overall verdict: the binary's exit 0 (green) or 1 (red).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every property holds, every variant is found, every harness defends with a breaching
    /// control, lint has no errors, and no threat is failing or unverified.
    Green,
    /// Something above is not so.
    Red,
}

/// Counts for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Threats.
    pub threats: usize,
    /// Verified threats.
    pub verified: usize,
    /// Failing threats.
    pub failing: usize,
    /// Unverified threats.
    pub unverified: usize,
    /// Accepted risks.
    pub accepted: usize,
    /// Properties that hold (with every witness reached) / all properties.
    pub properties_green: usize,
    /// All properties.
    pub properties: usize,
    /// Variants whose counterexample was found.
    pub variants_green: usize,
    /// All variants.
    pub variants: usize,
    /// Harnesses that defended with a breaching control.
    pub harnesses_green: usize,
    /// All harnesses.
    pub harnesses: usize,
    /// Lint errors.
    pub lint_errors: usize,
    /// Lint warnings.
    pub lint_warnings: usize,
}

/// The result of the join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Joined {
    /// Green or red.
    pub verdict: Verdict,
    /// Why it is red (empty when green), most fundamental first.
    pub reasons: Vec<String>,
    /// Counts.
    pub counts: Counts,
    /// One per threat, in model order.
    pub threats: Vec<ThreatOutcome>,
    /// Results no threat cites (they still count towards the verdict).
    pub uncited: Vec<EvidenceRef>,
}

/// Joins `model` with `evidence` and `lint` findings; `as_of` decides which risk acceptances
/// are valid.
#[must_use]
pub fn join(model: &ThreatModel, evidence: &Evidence, lint: &[LintFinding], as_of: Date) -> Joined {
    let threats: Vec<ThreatOutcome> = model
        .threats
        .iter()
        .map(|t| threat_outcome(t, evidence, as_of))
        .collect();
    let mut counts = Counts {
        threats: threats.len(),
        ..Counts::default()
    };
    for t in &threats {
        match t.status {
            Status::Verified => counts.verified += 1,
            Status::Failing => counts.failing += 1,
            Status::Unverified => counts.unverified += 1,
            Status::Accepted => counts.accepted += 1,
        }
    }
    let mut reasons = Vec::new();
    for (r, health) in evidence.all() {
        let (all, green) = match r.kind {
            EvidenceKind::Property => (&mut counts.properties, &mut counts.properties_green),
            EvidenceKind::Variant => (&mut counts.variants, &mut counts.variants_green),
            EvidenceKind::Harness => (&mut counts.harnesses, &mut counts.harnesses_green),
        };
        *all += 1;
        match health {
            Health::Green => *green += 1,
            Health::Red(why) => reasons.push(why),
        }
    }
    counts.lint_errors = lint.iter().filter(|f| f.severity == Severity::Error).count();
    counts.lint_warnings = lint.iter().filter(|f| f.severity == Severity::Warning).count();
    if counts.lint_errors > 0 {
        reasons.push(format!("lint: {} error(s) in the threat model", counts.lint_errors));
    }
    for t in threats.iter().filter(|t| t.status.is_red()) {
        reasons.push(format!("threat {} is {}: {}", t.id, t.label(), t.note));
    }
    let cited: BTreeSet<&EvidenceRef> = model.threats.iter().flat_map(|t| &t.evidence).collect();
    let uncited = evidence.all().map(|(r, _)| r).filter(|r| !cited.contains(r)).collect();
    let verdict = if reasons.is_empty() {
        Verdict::Green
    } else {
        Verdict::Red
    };
    Joined {
        verdict,
        reasons,
        counts,
        threats,
        uncited,
    }
}

fn threat_outcome(t: &Threat, evidence: &Evidence, as_of: Date) -> ThreatOutcome {
    let items: Vec<ItemOutcome> = t.evidence.iter().map(|r| item(r, evidence)).collect();
    let mut accepted_until = None;
    let (status, note) = if items.is_empty() {
        match &t.acceptance {
            Some(a) if a.until >= as_of => {
                accepted_until = Some(a.until);
                (Status::Accepted, format!("risk accepted by {}: {}", a.owner, a.reason))
            }
            Some(a) => (
                Status::Unverified,
                format!("no evidence, and the risk acceptance expired on {}", a.until),
            ),
            None => (Status::Unverified, "no evidence and no risk acceptance".to_owned()),
        }
    } else {
        let of = |s: ItemState| {
            items
                .iter()
                .filter(|i| i.state == s)
                .map(|i| i.evidence.to_string())
                .collect::<Vec<_>>()
        };
        let (red, missing) = (of(ItemState::Red), of(ItemState::Missing));
        if !red.is_empty() {
            (Status::Failing, format!("red evidence: {}", red.join(", ")))
        } else if !missing.is_empty() {
            (
                Status::Unverified,
                format!("missing from the results: {}", missing.join(", ")),
            )
        } else {
            (Status::Verified, format!("all {} evidence item(s) green", items.len()))
        }
    };
    ThreatOutcome {
        id: t.id.clone(),
        status,
        accepted_until,
        items,
        note,
    }
}

fn item(r: &EvidenceRef, e: &Evidence) -> ItemOutcome {
    let (state, detail) = match (e.health(r), summary(r, e)) {
        (None, _) | (_, None) => (ItemState::Missing, "not in the results".to_owned()),
        (Some(Health::Red(why)), Some(_)) => (ItemState::Red, why),
        (Some(Health::Green), Some(s)) => (ItemState::Green, s),
    };
    ItemOutcome {
        evidence: r.clone(),
        state,
        detail,
    }
}

/// What a green result showed, in a line (no timings: outcomes are compared across runs).
fn summary(r: &EvidenceRef, e: &Evidence) -> Option<String> {
    match r.kind {
        EvidenceKind::Property => e.property(&r.name).map(|p| {
            let verdict = if p.verdict == PropertyVerdict::Holds {
                "holds"
            } else {
                "fails"
            };
            format!("{verdict} over {} states, depth {}", p.unique_states, p.max_depth)
        }),
        EvidenceKind::Variant => e
            .variant(&r.name)
            .map(|v| format!("without it, {} breaks in {} step(s)", v.breaks, v.counterexample.len())),
        EvidenceKind::Harness => e.harness(&r.name).map(|h| {
            let outcome = HarnessOutcome::word;
            format!(
                "{}: {}; control {}: {}",
                outcome(h.outcome),
                h.evidence,
                outcome(h.control.outcome),
                h.control.evidence
            )
        }),
    }
}
