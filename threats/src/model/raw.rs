//! The file format's raw types: they mirror `threats/model/README.md` field for field, refuse
//! unknown fields, keep each item's span, and are merged into a [`ThreatModel`] with every
//! item's [`Location`].

use serde::Deserialize;
use toml::Spanned;

use super::load::{MaybePos, ModelError, position};
use super::{
    Acceptance, Asset, Boundary, Date, Dependency, Entity, EntityKind, EvidenceRef, Flow, Location, NotApplicable,
    Rating, Sequence, Step, Story, Stride, System, Threat, ThreatModel,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    system: Option<Spanned<RawSystem>>,
    #[serde(default)]
    boundary: Vec<Spanned<RawBoundary>>,
    #[serde(default)]
    entity: Vec<Spanned<RawEntity>>,
    #[serde(default)]
    flow: Vec<Spanned<RawFlow>>,
    #[serde(default)]
    asset: Vec<Spanned<RawAsset>>,
    #[serde(default)]
    dependency: Vec<Spanned<RawDependency>>,
    #[serde(default)]
    story: Vec<Spanned<RawStory>>,
    #[serde(default)]
    sequence: Vec<Spanned<RawSequence>>,
    #[serde(default)]
    threat: Vec<Spanned<RawThreat>>,
    #[serde(default)]
    not_applicable: Vec<Spanned<RawNotApplicable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    name: String,
    description: String,
    usage: String,
    deployment: String,
    administration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoundary {
    id: String,
    name: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    id: String,
    code: String,
    name: String,
    kind: EntityKind,
    boundary: String,
    purpose: String,
    sensitive_data: Vec<String>,
    protocols: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    id: String,
    from: String,
    to: String,
    #[serde(default)]
    via: Vec<String>,
    protocol: String,
    description: String,
    carries: Vec<String>,
    authentication: String,
    confidentiality: Rating,
    integrity: Rating,
    availability: Rating,
    entry_point: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    id: String,
    name: String,
    description: String,
    held_by: Vec<String>,
    confidentiality: Rating,
    integrity: Rating,
    availability: Rating,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDependency {
    id: String,
    name: String,
    used_by: Vec<String>,
    assumptions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStory {
    id: String,
    title: String,
    text: String,
    source: String,
    #[serde(default = "yes")]
    requires_harness: bool,
    met_by: Option<String>,
    out_of_scope: Option<String>,
}

const fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSequence {
    id: String,
    title: String,
    description: String,
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    from: String,
    to: String,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreat {
    id: String,
    entity: String,
    stride: Stride,
    title: String,
    description: String,
    countermeasure: String,
    likelihood: Rating,
    impact: Rating,
    stories: Vec<String>,
    #[serde(default)]
    evidence: Vec<EvidenceRef>,
    acceptance: Option<RawAcceptance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcceptance {
    owner: String,
    reason: String,
    until: Spanned<toml::value::Datetime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotApplicable {
    entity: String,
    stride: Stride,
    reason: String,
}

impl RawFile {
    pub(super) fn count(&self) -> usize {
        let steps: usize = self.sequence.iter().map(|s| s.get_ref().step.len()).sum();
        usize::from(self.system.is_some())
            + self.boundary.len()
            + self.entity.len()
            + self.flow.len()
            + self.asset.len()
            + self.dependency.len()
            + self.story.len()
            + self.sequence.len()
            + steps
            + self.threat.len()
            + self.not_applicable.len()
    }

    pub(super) fn merge_into(self, m: &mut ThreatModel, name: &str, text: &str, shown: &str) -> Result<(), ModelError> {
        let loc = |span: std::ops::Range<usize>| Location {
            file: name.to_owned(),
            line: position(text, span.start).line,
        };
        if let Some(s) = self.system {
            let location = loc(s.span());
            if let Some(first) = &m.system {
                return Err(ModelError::DuplicateSystem {
                    file: shown.to_owned(),
                    pos: MaybePos(Some(position(text, s.span().start))),
                    first: first.location.clone(),
                });
            }
            let s = s.into_inner();
            m.system = Some(System {
                name: s.name,
                description: s.description,
                usage: s.usage,
                deployment: s.deployment,
                administration: s.administration,
                location,
            });
        }
        m.boundaries.extend(self.boundary.into_iter().map(|b| {
            let location = loc(b.span());
            let b = b.into_inner();
            Boundary {
                id: b.id,
                name: b.name,
                description: b.description,
                location,
            }
        }));
        m.entities.extend(self.entity.into_iter().map(|e| {
            let location = loc(e.span());
            let e = e.into_inner();
            Entity {
                id: e.id,
                code: e.code,
                name: e.name,
                kind: e.kind,
                boundary: e.boundary,
                purpose: e.purpose,
                sensitive_data: e.sensitive_data,
                protocols: e.protocols,
                location,
            }
        }));
        m.flows.extend(self.flow.into_iter().map(|f| {
            let location = loc(f.span());
            let f = f.into_inner();
            Flow {
                id: f.id,
                from: f.from,
                to: f.to,
                via: f.via,
                protocol: f.protocol,
                description: f.description,
                carries: f.carries,
                authentication: f.authentication,
                confidentiality: f.confidentiality,
                integrity: f.integrity,
                availability: f.availability,
                entry_point: f.entry_point,
                location,
            }
        }));
        m.assets.extend(self.asset.into_iter().map(|a| {
            let location = loc(a.span());
            let a = a.into_inner();
            Asset {
                id: a.id,
                name: a.name,
                description: a.description,
                held_by: a.held_by,
                confidentiality: a.confidentiality,
                integrity: a.integrity,
                availability: a.availability,
                location,
            }
        }));
        m.dependencies.extend(self.dependency.into_iter().map(|d| {
            let location = loc(d.span());
            let d = d.into_inner();
            Dependency {
                id: d.id,
                name: d.name,
                used_by: d.used_by,
                assumptions: d.assumptions,
                location,
            }
        }));
        m.stories.extend(self.story.into_iter().map(|s| {
            let location = loc(s.span());
            let s = s.into_inner();
            Story {
                id: s.id,
                title: s.title,
                text: s.text,
                source: s.source,
                requires_harness: s.requires_harness,
                met_by: s.met_by,
                out_of_scope: s.out_of_scope,
                location,
            }
        }));
        m.sequences.extend(self.sequence.into_iter().map(|s| {
            let location = loc(s.span());
            let s = s.into_inner();
            let steps = s
                .step
                .into_iter()
                .map(|p| Step {
                    from: p.from,
                    to: p.to,
                    message: p.message,
                })
                .collect();
            Sequence {
                id: s.id,
                title: s.title,
                description: s.description,
                steps,
                location,
            }
        }));
        for t in self.threat {
            let location = loc(t.span());
            let t = t.into_inner();
            let acceptance = match t.acceptance {
                None => None,
                Some(a) => Some(Acceptance {
                    owner: a.owner,
                    reason: a.reason,
                    until: date(&a.until, text, shown)?,
                }),
            };
            m.threats.push(Threat {
                id: t.id,
                entity: t.entity,
                stride: t.stride,
                title: t.title,
                description: t.description,
                countermeasure: t.countermeasure,
                likelihood: t.likelihood,
                impact: t.impact,
                stories: t.stories,
                evidence: t.evidence,
                acceptance,
                location,
            });
        }
        m.not_applicable.extend(self.not_applicable.into_iter().map(|n| {
            let location = loc(n.span());
            let n = n.into_inner();
            NotApplicable {
                entity: n.entity,
                stride: n.stride,
                reason: n.reason,
                location,
            }
        }));
        Ok(())
    }
}

/// A TOML date-time that must be a plain date (`2027-06-30`).
fn date(v: &Spanned<toml::value::Datetime>, text: &str, shown: &str) -> Result<Date, ModelError> {
    let dt = v.get_ref();
    let plain = match (dt.date, dt.time, dt.offset) {
        (Some(d), None, None) => Date::new(d.year, d.month, d.day),
        _ => None,
    };
    plain.ok_or_else(|| ModelError::Schema {
        file: shown.to_owned(),
        pos: MaybePos(Some(position(text, v.span().start))),
        field: "acceptance.until".to_owned(),
        message: format!("{dt} is not a plain date (write until = 2027-06-30)"),
    })
}
