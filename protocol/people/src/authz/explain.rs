//! Why a decision came out as it did: what each layer says, and which rule decided.

use std::fmt;

use protocol_core::ids::WorkflowId;

use super::{Authorizer, Decision, DenyReason, Evaluation, LayerKind, Matched};
use crate::groups::{Person, WorkflowRef};
use crate::names::UserName;
use crate::ops::{Level, Operation, Right};
use crate::policy::RuleRef;

/// What one layer says about the operation, for this person.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LayerVerdict {
    /// No rule of the layer names the person.
    NamesNobody,
    /// A rule grants the operation (for the limit: the limit allows it).
    Grants(RuleRef),
    /// A rule negates the operation.
    Negates(RuleRef),
    /// Rules name the person but none mentions the operation.
    Silent,
}

/// One layer's part in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerReport {
    /// Which layer.
    pub layer: LayerKind,
    /// The rules that name the person, with their rights as written.
    pub rules: Vec<(RuleRef, Vec<Right>)>,
    /// What the layer says about the operation.
    pub verdict: LayerVerdict,
    /// Whether this layer decided (the site limit never decides, it caps).
    pub decided: bool,
}

/// A decision with every layer's part in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Explanation {
    /// Who.
    pub person: UserName,
    /// On what.
    pub workflow: WorkflowId,
    /// Which operation.
    pub op: Operation,
    /// At which session level.
    pub level: Level,
    /// Whether the person owns the workflow.
    pub owner: bool,
    /// Each layer, most general first (empty when the policy did not load).
    pub layers: Vec<LayerReport>,
    /// The decision, as [`Authorizer::decide`] gives it.
    pub decision: Decision,
}

fn report(kind: LayerKind, m: &Matched<'_>, op: Operation, deciding: Option<LayerKind>) -> LayerReport {
    let verdict = if !m.names_person() {
        LayerVerdict::NamesNobody
    } else if let Some(r) = m.first(op, true) {
        LayerVerdict::Negates(r.clone())
    } else if let Some(r) = m.first(op, false) {
        LayerVerdict::Grants(r.clone())
    } else {
        LayerVerdict::Silent
    };
    LayerReport {
        layer: kind,
        rules: m.rules.iter().map(|(at, r)| ((*at).clone(), r.to_vec())).collect(),
        verdict,
        decided: deciding == Some(kind),
    }
}

impl Authorizer {
    /// Explains the decision for `person` doing `op` on `workflow` at `level`.
    #[must_use]
    pub fn explain(&self, person: &Person, workflow: &WorkflowRef, op: Operation, level: Level) -> Explanation {
        let decision = self.decide(person, workflow, op, level);
        let layers = match self.policy() {
            Ok(policy) => {
                let e: Evaluation<'_> = self.evaluate(policy, person, workflow);
                [
                    LayerKind::SiteDefault,
                    LayerKind::SiteLimit,
                    LayerKind::Owner,
                    LayerKind::Workflow,
                ]
                .into_iter()
                .map(|k| report(k, e.layer(k), op, if e.owner { None } else { e.deciding }))
                .collect()
            }
            Err(_) => Vec::new(),
        };
        Explanation {
            person: person.name.clone(),
            workflow: workflow.id.clone(),
            op,
            level,
            owner: person.name == *workflow.owner(),
            layers,
            decision,
        }
    }
}

fn rights_list(rights: &[Right]) -> String {
    let items: Vec<String> = rights.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} on {} at level {}:",
            self.person, self.op, self.workflow, self.level
        )?;
        if let Decision::Deny(DenyReason::PolicyBroken { error }) = &self.decision {
            writeln!(f, "  policy: malformed, every request is denied: {error}")?;
        }
        if self.owner {
            writeln!(
                f,
                "  owner: {} owns the workflow and may do anything to it",
                self.person
            )?;
        }
        let deciding = self.layers.iter().find(|l| l.decided).map(|l| l.layer);
        for layer in &self.layers {
            let overridden = !layer.decided
                && layer.layer != LayerKind::SiteLimit
                && layer.verdict != LayerVerdict::NamesNobody
                && deciding.is_some();
            let mark = match (layer.decided, overridden, deciding) {
                (true, _, _) => " (decides)".to_owned(),
                (false, true, Some(by)) => format!(" (overridden by the {by})"),
                _ => String::new(),
            };
            let says = match &layer.verdict {
                LayerVerdict::NamesNobody if layer.layer == LayerKind::SiteLimit => {
                    "names nobody matching: the limit is empty".to_owned()
                }
                LayerVerdict::NamesNobody => "names nobody matching".to_owned(),
                LayerVerdict::Grants(r) if layer.layer == LayerKind::SiteLimit => format!("allows {} ({r})", self.op),
                LayerVerdict::Grants(r) => format!("grants {} ({r})", self.op),
                LayerVerdict::Negates(r) => format!("negates {} ({r})", self.op),
                LayerVerdict::Silent if layer.layer == LayerKind::SiteLimit => {
                    format!("does not allow {}", self.op)
                }
                LayerVerdict::Silent => format!("does not grant {}", self.op),
            };
            writeln!(f, "  {}{mark}: {says}", layer.layer)?;
            for (at, rights) in &layer.rules {
                writeln!(f, "    {at} = {}", rights_list(rights))?;
            }
        }
        if self.op.level() > Level::Read {
            writeln!(
                f,
                "  session: {} needs level {}, the session is at {}",
                self.op,
                self.op.level(),
                self.level
            )?;
        }
        write!(f, "{}", self.decision)
    }
}
