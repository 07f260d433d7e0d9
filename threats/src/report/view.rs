//! What the human-readable reports show, computed once from [`Results`]: threats grouped by
//! entity, the story index, the priority order, and who cites which evidence.

use std::collections::{BTreeMap, BTreeSet};

use crate::join::{Counts, ItemOutcome, ItemState, ThreatOutcome};
use crate::model::{Entity, EvidenceRef, NotApplicable, Story, Threat};
use crate::results::Results;

/// One entity's part of the STRIDE table.
#[derive(Debug)]
pub struct EntitySection<'a> {
    /// The entity.
    pub entity: &'a Entity,
    /// Its threats, in STRIDE order then id, with outcomes.
    pub threats: Vec<(&'a Threat, Option<&'a ThreatOutcome>)>,
    /// Its not-applicable categories.
    pub not_applicable: Vec<&'a NotApplicable>,
}

/// One row of the story index.
#[derive(Debug)]
pub struct StoryRow<'a> {
    /// The story.
    pub story: &'a Story,
    /// Threats serving it, with outcomes.
    pub threats: Vec<(&'a Threat, Option<&'a ThreatOutcome>)>,
    /// The evidence those threats cite, sorted.
    pub evidence: Vec<&'a EvidenceRef>,
}

/// One model assumption with the threats that rest on it.
#[derive(Debug)]
pub struct AssumptionRow<'a> {
    /// The assumption, from the model crate.
    pub assumption: &'static model::assumptions::Assumption,
    /// Threats citing a property that rests on it, sorted, each once.
    pub threats: Vec<&'a str>,
}

/// Every model assumption with the threats of `cited_by` that rest on it.
fn assumption_rows<'a>(cited_by: &BTreeMap<&'a EvidenceRef, Vec<&'a str>>) -> Vec<AssumptionRow<'a>> {
    model::assumptions::ALL
        .iter()
        .map(|a| {
            let threats: BTreeSet<&str> = a
                .properties
                .iter()
                .flat_map(|p| {
                    cited_by
                        .iter()
                        .filter(move |(e, _)| e.kind == crate::model::EvidenceKind::Property && e.name == p.name())
                        .flat_map(|(_, ts)| ts.iter().copied())
                })
                .collect();
            AssumptionRow {
                assumption: a,
                threats: threats.into_iter().collect(),
            }
        })
        .collect()
}

/// Everything the Markdown and HTML writers need beyond [`Results`] itself.
#[derive(Debug)]
pub struct View<'a> {
    /// Threats grouped by entity, in model order.
    pub entities: Vec<EntitySection<'a>>,
    /// Threats whose entity is not in the model.
    pub orphans: Vec<(&'a Threat, Option<&'a ThreatOutcome>)>,
    /// The story index, in model order.
    pub stories: Vec<StoryRow<'a>>,
    /// Threats by risk (likelihood × impact), highest first, then id.
    pub priorities: Vec<(&'a Threat, Option<&'a ThreatOutcome>)>,
    /// Which threats cite each evidence item.
    pub cited_by: BTreeMap<&'a EvidenceRef, Vec<&'a str>>,
    /// What the models assume, and which threats rest on each assumption.
    pub assumptions: Vec<AssumptionRow<'a>>,
}

impl<'a> View<'a> {
    /// Builds the view.
    #[must_use]
    pub fn new(r: &'a Results) -> Self {
        let m = &r.model;
        let outcomes: BTreeMap<&str, &ThreatOutcome> = r.outcome.threats.iter().map(|t| (t.id.as_str(), t)).collect();
        let with = |t: &'a Threat| (t, outcomes.get(t.id.as_str()).copied());
        let entities = m
            .entities
            .iter()
            .map(|e| {
                let mut threats: Vec<_> = m.threats.iter().filter(|t| t.entity == e.id).map(with).collect();
                threats.sort_by(|a, b| (a.0.stride, &a.0.id).cmp(&(b.0.stride, &b.0.id)));
                let mut not_applicable: Vec<_> = m.not_applicable.iter().filter(|n| n.entity == e.id).collect();
                not_applicable.sort_by_key(|n| n.stride);
                EntitySection {
                    entity: e,
                    threats,
                    not_applicable,
                }
            })
            .collect();
        let orphans = m
            .threats
            .iter()
            .filter(|t| m.entity(&t.entity).is_none())
            .map(with)
            .collect();
        let stories = m
            .stories
            .iter()
            .map(|s| {
                let threats: Vec<_> = m
                    .threats
                    .iter()
                    .filter(|t| t.stories.contains(&s.id))
                    .map(with)
                    .collect();
                let evidence: BTreeSet<&EvidenceRef> = threats.iter().flat_map(|(t, _)| &t.evidence).collect();
                StoryRow {
                    story: s,
                    threats,
                    evidence: evidence.into_iter().collect(),
                }
            })
            .collect();
        let mut priorities: Vec<_> = m.threats.iter().map(with).collect();
        priorities.sort_by(|a, b| b.0.risk().cmp(&a.0.risk()).then_with(|| a.0.id.cmp(&b.0.id)));
        let mut cited_by: BTreeMap<&EvidenceRef, Vec<&str>> = BTreeMap::new();
        for t in &m.threats {
            for e in &t.evidence {
                cited_by.entry(e).or_default().push(t.id.as_str());
            }
        }
        let assumptions = assumption_rows(&cited_by);
        Self {
            entities,
            orphans,
            stories,
            priorities,
            cited_by,
            assumptions,
        }
    }
}

/// The status label of a threat (`unverified` when the outcome is absent).
#[must_use]
pub fn status_label(o: Option<&ThreatOutcome>) -> String {
    o.map_or_else(|| "unverified".to_owned(), ThreatOutcome::label)
}

/// A short mark for an evidence item's state.
#[must_use]
pub const fn mark(state: ItemState) -> &'static str {
    match state {
        ItemState::Green => "✓",
        ItemState::Red => "✗",
        ItemState::Missing => "?",
    }
}

/// A threat's evidence items with their states (every cited item appears, missing or not).
#[must_use]
pub fn items<'a>(t: &'a Threat, o: Option<&'a ThreatOutcome>) -> Vec<(&'a EvidenceRef, ItemState)> {
    t.evidence
        .iter()
        .map(|r| {
            let state = o
                .and_then(|o| o.items.iter().find(|i: &&ItemOutcome| &i.evidence == r))
                .map_or(ItemState::Missing, |i| i.state);
            (r, state)
        })
        .collect()
}

/// GitHub's `security-severity` (0.0–10.0) for likelihood × impact (1–9). Both high is
/// critical (9.5); high × medium is high (8.0); medium × medium is medium (6.0), as is high ×
/// low (5.0); medium × low (3.0) and low × low (1.0) are low.
#[must_use]
pub const fn security_severity(risk: u8) -> &'static str {
    match risk {
        9.. => "9.5",
        6..=8 => "8.0",
        4..=5 => "6.0",
        3 => "5.0",
        2 => "3.0",
        _ => "1.0",
    }
}

/// The summary's count lines, worded the same in every format (plain text, no markup).
#[must_use]
pub fn count_lines(c: &Counts) -> [String; 5] {
    [
        format!(
            "Threats: {} ({} verified, {} failing, {} unverified, {} accepted)",
            c.threats, c.verified, c.failing, c.unverified, c.accepted
        ),
        format!(
            "Properties: {} of {} hold, every witness reached",
            c.properties_green, c.properties
        ),
        format!(
            "Variants: {} of {} found (defence shown necessary)",
            c.variants_green, c.variants
        ),
        format!(
            "Harnesses: {} of {} defended, with a breaching control",
            c.harnesses_green, c.harnesses
        ),
        format!("Lint: {} error(s), {} warning(s)", c.lint_errors, c.lint_warnings),
    ]
}
