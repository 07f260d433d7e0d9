//! The coverage rules: STRIDE per entity, evidence or acceptance per threat, evidence names,
//! stories and their harnesses, and connectedness.

use std::collections::{BTreeMap, BTreeSet};

use super::rules::Linter;
use super::{KnownEvidence, Rule};
use crate::model::{Date, EvidenceKind, EvidenceRef, Stride, ThreatModel};

impl Linter {
    /// STRIDE per entity: every category threatened or justified, never both.
    pub(super) fn stride(&mut self, m: &ThreatModel) {
        for e in &m.entities {
            for s in Stride::ALL {
                let threats = m.threats.iter().filter(|t| t.entity == e.id && t.stride == s).count();
                let na: Vec<_> = m
                    .not_applicable
                    .iter()
                    .filter(|n| n.entity == e.id && n.stride == s)
                    .collect();
                match (threats, na.as_slice()) {
                    (0, []) => {
                        let msg = format!("entity {} has no {s} threat and no not_applicable entry for it", e.id);
                        self.push(Rule::StrideGap, Some(&e.location), msg);
                    }
                    (0, [_]) => {}
                    (n, [first, ..]) if n > 0 => {
                        let msg = format!("entity {}: {s} is declared not applicable but has {n} threat(s)", e.id);
                        self.push(Rule::StrideContradiction, Some(&first.location), msg);
                    }
                    (_, [_, second, ..]) => {
                        let msg = format!("entity {}: {s} is declared not applicable twice", e.id);
                        self.push(Rule::StrideContradiction, Some(&second.location), msg);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Evidence or a valid risk acceptance for every threat; stories for every threat.
    pub(super) fn threats(&mut self, m: &ThreatModel, today: Date) {
        for t in &m.threats {
            let loc = Some(&t.location);
            match (&t.acceptance, t.evidence.is_empty()) {
                (None, true) => self.push(
                    Rule::NoEvidence,
                    loc,
                    format!("threat {} has no evidence and no risk acceptance", t.id),
                ),
                (Some(a), _) if a.until < today => self.push(
                    Rule::AcceptanceExpired,
                    loc,
                    format!(
                        "threat {}: risk acceptance by {} expired on {} (judged as of {today})",
                        t.id, a.owner, a.until
                    ),
                ),
                (Some(_), false) => self.push(
                    Rule::AcceptanceWithEvidence,
                    loc,
                    format!(
                        "threat {} has evidence and a risk acceptance; the acceptance is ignored",
                        t.id
                    ),
                ),
                _ => {}
            }
            if t.stories.is_empty() {
                self.push(
                    Rule::ThreatWithoutStory,
                    loc,
                    format!("threat {} serves no story", t.id),
                );
            }
        }
    }

    /// Every evidence name exists; every known item is used.
    pub(super) fn evidence_names(&mut self, m: &ThreatModel, known: &KnownEvidence) {
        let set = |k: EvidenceKind| match k {
            EvidenceKind::Property => &known.properties,
            EvidenceKind::Variant => &known.variants,
            EvidenceKind::Harness => &known.harnesses,
        };
        let mut used = BTreeSet::new();
        for t in &m.threats {
            for r in &t.evidence {
                used.insert(r.clone());
                if !set(r.kind).contains(&r.name) {
                    let msg = format!(
                        "threat {}: {r} does not exist (no such {} is known)",
                        t.id,
                        r.kind.prefix()
                    );
                    self.push(Rule::UnknownEvidence, Some(&t.location), msg);
                }
            }
        }
        for kind in [EvidenceKind::Property, EvidenceKind::Variant, EvidenceKind::Harness] {
            for name in set(kind) {
                if !used.contains(&EvidenceRef::new(kind, name.as_str())) {
                    let msg = format!("{}:{name} exists but no threat cites it", kind.prefix());
                    self.push(Rule::UnusedEvidence, None, msg);
                }
            }
        }
        if !known.broken_by.is_empty() {
            let mut cited: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for t in &m.threats {
                for r in t.evidence.iter().filter(|r| r.kind == EvidenceKind::Property) {
                    cited.entry(r.name.as_str()).or_default().push(t.id.as_str());
                }
            }
            for (property, threats) in cited {
                if known.properties.contains(property) && !known.broken_by.contains_key(property) {
                    let msg = format!(
                        "property:{property} is cited by {} but no variant breaks it, so that it holds shows nothing a removed defence would change",
                        threats.join(", ")
                    );
                    self.push(Rule::UnbrokenProperty, None, msg);
                }
            }
        }
        for (defence, tests) in &known.defences {
            if !tests.iter().any(|r| used.contains(r)) {
                let msg = if tests.is_empty() {
                    format!("defence {defence} is tested by no variant or harness, so no threat can rest on it")
                } else {
                    let names: Vec<String> = tests.iter().map(ToString::to_string).collect();
                    format!(
                        "defence {defence} is cited by no threat (none cites {})",
                        names.join(" or ")
                    )
                };
                self.push(Rule::UncitedDefence, None, msg);
            }
        }
    }

    /// Stories: served by threats, and by a harness when they need one.
    pub(super) fn stories(&mut self, m: &ThreatModel) {
        for s in &m.stories {
            if s.out_of_scope.is_some() {
                continue;
            }
            let serving: Vec<_> = m.threats.iter().filter(|t| t.stories.contains(&s.id)).collect();
            if serving.is_empty() && s.met_by.is_none() {
                let msg = format!(
                    "story {} is served by no threat (add one, or met_by / out_of_scope)",
                    s.id
                );
                self.push(Rule::StoryWithoutThreat, Some(&s.location), msg);
            }
            let harness = serving
                .iter()
                .any(|t| t.evidence.iter().any(|r| r.kind == EvidenceKind::Harness));
            if s.requires_harness && !harness {
                let msg = format!(
                    "story {} needs an attack harness, but none of its threats cites one",
                    s.id
                );
                self.push(Rule::StoryWithoutHarness, Some(&s.location), msg);
            }
        }
    }

    /// Entities in flows; assets held or carried.
    pub(super) fn connections(&mut self, m: &ThreatModel) {
        for e in &m.entities {
            let in_flow = m
                .flows
                .iter()
                .any(|f| f.from == e.id || f.to == e.id || f.via.contains(&e.id));
            if !in_flow {
                self.push(
                    Rule::Unconnected,
                    Some(&e.location),
                    format!("entity {} takes part in no data flow", e.id),
                );
            }
        }
        for a in &m.assets {
            let carried = m.flows.iter().any(|f| f.carries.contains(&a.id));
            if a.held_by.is_empty() && !carried {
                self.push(
                    Rule::Unconnected,
                    Some(&a.location),
                    format!("asset {} is neither held nor carried", a.id),
                );
            }
        }
    }
}
