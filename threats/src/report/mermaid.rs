//! Mermaid diagrams: the block diagram (a flowchart with trust boundaries as subgraphs), the
//! model's sequence diagrams, and counterexample traces as sequence diagrams.
//!
//! Node and participant ids are generated (`n0`, `p1`, …), never taken from input; every label
//! goes through [`escape::mermaid`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::escape;
use crate::evidence::Action;
use crate::model::{EntityKind, Sequence, ThreatModel};

/// The block diagram: entities grouped by trust boundary, one labelled edge per flow (the
/// channel entities it crosses named in its label).
#[must_use]
pub fn flowchart(m: &ThreatModel) -> String {
    let ids: BTreeMap<&str, String> = m
        .entities
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), format!("n{i}")))
        .collect();
    let mut out = String::from("flowchart LR\n");
    let node = |e: &crate::model::Entity| {
        let label = escape::mermaid(&e.name);
        let id = ids.get(e.id.as_str()).map_or("nx", String::as_str);
        match e.kind {
            EntityKind::Person => format!("{id}([\"{label}\"])"),
            EntityKind::Process => format!("{id}[\"{label}\"]"),
            EntityKind::DataStore => format!("{id}[(\"{label}\")]"),
            EntityKind::Channel => format!("{id}{{{{\"{label}\"}}}}"),
            EntityKind::External => format!("{id}[/\"{label}\"/]"),
        }
    };
    for (i, b) in m.boundaries.iter().enumerate() {
        let _ = writeln!(out, "  subgraph b{i}[\"{}\"]", escape::mermaid(&b.name));
        for e in m.entities.iter().filter(|e| e.boundary == b.id) {
            let _ = writeln!(out, "    {}", node(e));
        }
        out.push_str("  end\n");
    }
    for e in m
        .entities
        .iter()
        .filter(|e| !m.boundaries.iter().any(|b| b.id == e.boundary))
    {
        let _ = writeln!(out, "  {}", node(e));
    }
    // One labelled edge per flow, from its source to its destination; the channels it
    // crosses are named in the label, not drawn as hops (a shared "site network" node made
    // every flow's second hop unlabelled and indistinguishable).
    for f in &m.flows {
        let (Some(from), Some(to)) = (ids.get(f.from.as_str()), ids.get(f.to.as_str())) else {
            continue;
        };
        let via: Vec<&str> = f
            .via
            .iter()
            .map(|id| m.entity(id).map_or(id.as_str(), |e| e.name.as_str()))
            .collect();
        let text = if via.is_empty() {
            format!("{} {}", f.id, f.protocol)
        } else {
            format!("{} {} (via {})", f.id, f.protocol, via.join(", "))
        };
        let _ = writeln!(out, "  {from} -->|\"{}\"| {to}", escape::mermaid(&text));
    }
    out
}

/// Participants in order of first appearance, with generated ids.
struct Participants {
    order: Vec<(String, String)>,
}

impl Participants {
    fn new() -> Self {
        Self { order: Vec::new() }
    }

    fn id(&mut self, name: &str) -> String {
        if let Some((_, id)) = self.order.iter().find(|(n, _)| n == name) {
            return id.clone();
        }
        let id = format!("p{}", self.order.len());
        self.order.push((name.to_owned(), id.clone()));
        id
    }

    fn declare(&self, label: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for (name, id) in &self.order {
            let _ = writeln!(out, "  participant {id} as {}", escape::mermaid(&label(name)));
        }
        out
    }
}

/// A sequence diagram of one of the model's sequences (a step to itself is a note).
#[must_use]
pub fn model_sequence(m: &ThreatModel, s: &Sequence) -> String {
    let mut parts = Participants::new();
    let mut body = String::new();
    for step in &s.steps {
        let from = parts.id(&step.from);
        let msg = escape::mermaid(&step.message);
        if step.from == step.to {
            let _ = writeln!(body, "  Note over {from}: {msg}");
        } else {
            let to = parts.id(&step.to);
            let _ = writeln!(body, "  {from}->>{to}: {msg}");
        }
    }
    let names = |id: &str| m.entity(id).map_or_else(|| id.to_owned(), |e| e.name.clone());
    format!("sequenceDiagram\n{}{body}", parts.declare(names))
}

/// A counterexample as a sequence diagram: an action with a recipient is an arrow, one without
/// is a note over its actor.
#[must_use]
pub fn trace(actions: &[Action]) -> String {
    let mut parts = Participants::new();
    let mut body = String::new();
    for (n, a) in actions.iter().enumerate() {
        let from = parts.id(&a.actor);
        let mut text = format!("{}. {}", n + 1, escape::mermaid(&a.label));
        if !a.detail.trim().is_empty() {
            let _ = write!(text, "<br/>{}", escape::mermaid(&a.detail));
        }
        match &a.to {
            Some(to) if *to != a.actor => {
                let to = parts.id(to);
                let _ = writeln!(body, "  {from}->>{to}: {text}");
            }
            _ => {
                let _ = writeln!(body, "  Note over {from}: {text}");
            }
        }
    }
    if actions.is_empty() {
        parts.id("(no actions)");
        body.push_str("  Note over p0: no counterexample\n");
    }
    format!("sequenceDiagram\n{}{body}", parts.declare(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_draw_arrows_for_messages_and_notes_for_other_actions() {
        let a = |actor: &str, to: Option<&str>, label: &str| Action {
            actor: actor.into(),
            to: to.map(Into::into),
            label: label.into(),
            detail: String::new(),
        };
        let d = trace(&[
            a("attacker", Some("scheduler"), "replay; frame"),
            a("scheduler", None, "accepts"),
        ]);
        assert_eq!(
            d,
            "sequenceDiagram\n  participant p0 as attacker\n  participant p1 as scheduler\n  p0->>p1: 1. replay#59; frame\n  Note over p1: 2. accepts\n"
        );
    }
}
