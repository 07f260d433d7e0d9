//! The structural lint rules (sections, completeness, ids, references), one method per group
//! of [`Rule`]s; the coverage rules are in `coverage.rs`.

use std::collections::{BTreeMap, BTreeSet};

use super::{LintFinding, Rule};
use crate::model::{Location, Stride, ThreatModel};

#[derive(Debug, Default)]
pub(super) struct Linter {
    findings: Vec<LintFinding>,
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_code(s: &str) -> bool {
    (1..=12).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_story_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit()
}

/// `T-{code}-{letter}-{NN}` with the entity's code and the category's letter.
fn threat_id_ok(id: &str, code: &str, stride: Stride) -> bool {
    let mut letter = [0u8; 4];
    let prefix = format!("T-{code}-{}-", stride.letter().encode_utf8(&mut letter));
    id.strip_prefix(&prefix)
        .is_some_and(|n| (2..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

impl Linter {
    pub(super) fn push(&mut self, rule: Rule, location: Option<&Location>, message: String) {
        self.findings.push(LintFinding {
            location: location.cloned(),
            rule,
            severity: rule.severity(),
            message,
        });
    }

    pub(super) fn into_findings(self) -> Vec<LintFinding> {
        self.findings
    }

    /// Seed 002: description, components, dependencies, interfaces, assets, and the inputs of
    /// the block and sequence diagrams.
    pub(super) fn sections(&mut self, m: &ThreatModel) {
        match &m.system {
            None => self.push(
                Rule::SectionMissing,
                None,
                "no [system] section: the service is not described".into(),
            ),
            Some(s) => {
                for (field, text) in [
                    ("name", &s.name),
                    ("description", &s.description),
                    ("usage", &s.usage),
                    ("deployment", &s.deployment),
                    ("administration", &s.administration),
                ] {
                    if blank(text) {
                        self.push(
                            Rule::SectionMissing,
                            Some(&s.location),
                            format!("system.{field} is empty"),
                        );
                    }
                }
            }
        }
        let sections = [
            (
                m.boundaries.is_empty(),
                "no trust boundaries ([[boundary]]): the block diagram cannot be drawn",
            ),
            (m.entities.is_empty(), "no components ([[entity]])"),
            (m.flows.is_empty(), "no data flows ([[flow]]): no interfaces to review"),
            (m.assets.is_empty(), "no data assets ([[asset]])"),
            (m.dependencies.is_empty(), "no external dependencies ([[dependency]])"),
            (
                m.sequences.is_empty(),
                "no sequence diagram ([[sequence]]) of a common operation",
            ),
            (m.stories.is_empty(), "no threat stories ([[story]])"),
            (m.threats.is_empty(), "no threats ([[threat]])"),
        ];
        for (missing, message) in sections {
            if missing {
                self.push(Rule::SectionMissing, None, message.into());
            }
        }
    }

    /// Required text of every item.
    pub(super) fn completeness(&mut self, m: &ThreatModel) {
        let mut need = |loc: &Location, what: String, empty: bool| {
            if empty {
                self.push(Rule::ItemIncomplete, Some(loc), what);
            }
        };
        let any_blank = |v: &[String]| v.is_empty() || v.iter().any(|s| blank(s));
        for b in &m.boundaries {
            need(
                &b.location,
                format!("boundary {}: name or description is empty", b.id),
                blank(&b.name) || blank(&b.description),
            );
        }
        for e in &m.entities {
            need(
                &e.location,
                format!("entity {}: purpose is empty", e.id),
                blank(&e.purpose) || blank(&e.name),
            );
            let what = format!(
                "entity {}: sensitive_data must list what it persists (or say \"none: why\")",
                e.id
            );
            need(&e.location, what, any_blank(&e.sensitive_data));
            need(
                &e.location,
                format!("entity {}: protocols must list what it exposes", e.id),
                any_blank(&e.protocols),
            );
        }
        for f in &m.flows {
            let empty = blank(&f.protocol) || blank(&f.description) || blank(&f.authentication);
            need(
                &f.location,
                format!("flow {}: protocol, description or authentication is empty", f.id),
                empty,
            );
        }
        for a in &m.assets {
            need(
                &a.location,
                format!("asset {}: name or description is empty", a.id),
                blank(&a.name) || blank(&a.description),
            );
        }
        for d in &m.dependencies {
            need(
                &d.location,
                format!("dependency {}: no security assumptions", d.id),
                any_blank(&d.assumptions),
            );
            need(
                &d.location,
                format!("dependency {}: used_by is empty", d.id),
                d.used_by.is_empty(),
            );
        }
        for s in &m.stories {
            need(
                &s.location,
                format!("story {}: title or text is empty", s.id),
                blank(&s.title) || blank(&s.text),
            );
        }
        for s in &m.sequences {
            let empty = s.steps.is_empty() || s.steps.iter().any(|p| blank(&p.message));
            need(
                &s.location,
                format!("sequence {}: no steps, or a step without a message", s.id),
                empty,
            );
        }
        for t in &m.threats {
            for (field, text) in [
                ("title", &t.title),
                ("description", &t.description),
                ("countermeasure", &t.countermeasure),
            ] {
                need(&t.location, format!("threat {}: {field} is empty", t.id), blank(text));
            }
            if let Some(a) = &t.acceptance {
                let empty = blank(&a.owner) || blank(&a.reason);
                need(
                    &t.location,
                    format!("threat {}: risk acceptance needs an owner and a reason", t.id),
                    empty,
                );
            }
        }
        for n in &m.not_applicable {
            let what = format!("not_applicable {} {}: no reason given", n.entity, n.stride);
            need(&n.location, what, blank(&n.reason));
        }
    }

    /// Unique, well-formed ids.
    pub(super) fn ids(&mut self, m: &ThreatModel) {
        let mut unique = |kind: &str, items: Vec<(&str, &Location)>, shape: fn(&str) -> bool, shape_text: &str| {
            let mut seen: BTreeMap<&str, &Location> = BTreeMap::new();
            for (id, loc) in items {
                if !shape(id) {
                    self.push(
                        Rule::IdFormat,
                        Some(loc),
                        format!("{kind} id {id:?} is not {shape_text}"),
                    );
                }
                if let Some(first) = seen.get(id) {
                    self.push(
                        Rule::DuplicateId,
                        Some(loc),
                        format!("{kind} {id} is also declared at {first}"),
                    );
                } else {
                    seen.insert(id, loc);
                }
            }
        };
        let plain = "letters, digits, '-' and '_' (at most 64)";
        unique(
            "boundary",
            m.boundaries.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_id,
            plain,
        );
        unique(
            "entity",
            m.entities.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_id,
            plain,
        );
        let codes = m.entities.iter().map(|x| (x.code.as_str(), &x.location)).collect();
        unique(
            "entity code",
            codes,
            is_code,
            "upper-case letters and digits (at most 12)",
        );
        unique(
            "flow",
            m.flows.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_id,
            plain,
        );
        unique(
            "asset",
            m.assets.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_id,
            plain,
        );
        unique(
            "dependency",
            m.dependencies.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_id,
            plain,
        );
        unique(
            "sequence",
            m.sequences.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_id,
            plain,
        );
        unique(
            "story",
            m.stories.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            is_story_id,
            "like S01",
        );
        unique(
            "threat",
            m.threats.iter().map(|x| (x.id.as_str(), &x.location)).collect(),
            |_| true,
            "",
        );
        for t in &m.threats {
            if let Some(e) = m.entity(&t.entity)
                && !threat_id_ok(&t.id, &e.code, t.stride)
            {
                let letter = t.stride.letter();
                let msg = format!(
                    "threat id {:?} should be T-{}-{letter}-NN (entity {}, {})",
                    t.id, e.code, e.id, t.stride
                );
                self.push(Rule::IdFormat, Some(&t.location), msg);
            }
            let mut seen = BTreeSet::new();
            for r in &t.evidence {
                if !seen.insert(r) {
                    self.push(
                        Rule::DuplicateId,
                        Some(&t.location),
                        format!("threat {} lists {r} twice", t.id),
                    );
                }
            }
        }
    }

    /// Every id that is referred to exists.
    pub(super) fn references(&mut self, m: &ThreatModel) {
        let entities: BTreeSet<&str> = m.entities.iter().map(|e| e.id.as_str()).collect();
        let boundaries: BTreeSet<&str> = m.boundaries.iter().map(|b| b.id.as_str()).collect();
        let assets: BTreeSet<&str> = m.assets.iter().map(|a| a.id.as_str()).collect();
        let stories: BTreeSet<&str> = m.stories.iter().map(|s| s.id.as_str()).collect();
        let mut check = |set: &BTreeSet<&str>, kind: &str, id: &str, loc: &Location, from: String| {
            if !set.contains(id) {
                self.push(Rule::UnknownReference, Some(loc), format!("{from}: no {kind} {id:?}"));
            }
        };
        for e in &m.entities {
            check(
                &boundaries,
                "boundary",
                &e.boundary,
                &e.location,
                format!("entity {}", e.id),
            );
        }
        for f in &m.flows {
            let from = || format!("flow {}", f.id);
            for id in [&f.from, &f.to].into_iter().chain(&f.via) {
                check(&entities, "entity", id, &f.location, from());
            }
            for id in &f.carries {
                check(&assets, "asset", id, &f.location, from());
            }
        }
        for a in &m.assets {
            for id in &a.held_by {
                check(&entities, "entity", id, &a.location, format!("asset {}", a.id));
            }
        }
        for d in &m.dependencies {
            for id in &d.used_by {
                check(&entities, "entity", id, &d.location, format!("dependency {}", d.id));
            }
        }
        for s in &m.sequences {
            for p in &s.steps {
                for id in [&p.from, &p.to] {
                    check(&entities, "entity", id, &s.location, format!("sequence {}", s.id));
                }
            }
        }
        for t in &m.threats {
            check(&entities, "entity", &t.entity, &t.location, format!("threat {}", t.id));
            for id in &t.stories {
                check(&stories, "story", id, &t.location, format!("threat {}", t.id));
            }
        }
        for n in &m.not_applicable {
            check(
                &entities,
                "entity",
                &n.entity,
                &n.location,
                format!("not_applicable {}", n.stride),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threat_ids_must_match_entity_code_and_stride_letter() {
        assert!(threat_id_ok("T-SCHED-S-01", "SCHED", Stride::Spoofing));
        assert!(!threat_id_ok("T-SCHED-T-01", "SCHED", Stride::Spoofing));
        assert!(!threat_id_ok("T-JOB-S-01", "SCHED", Stride::Spoofing));
        assert!(!threat_id_ok("T-SCHED-S-1", "SCHED", Stride::Spoofing));
        assert!(!threat_id_ok("T-SCHED-S-0a", "SCHED", Stride::Spoofing));
    }
}
