//! `architecture.md`: the architecture page a threat-analysis review asks for,
//! generated from the model — description, components, trust boundaries, external dependencies
//! and assumptions, interfaces with their CIA needs, data assets, the block diagram, sequence
//! diagrams — and a findings section with one entry per failing or unverified item.

use std::fmt::Write as _;

use super::escape::{code, md};
use super::mermaid;
use crate::join::{ItemState, Status};
use crate::lint::Severity;
use crate::model::{Rating, ThreatModel};
use crate::results::Results;

fn cells(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", if c.is_empty() { " " } else { c });
    }
    out.push('\n');
}

fn header(out: &mut String, names: &[&str]) {
    cells(out, &names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
    let _ = writeln!(out, "|{}", "---|".repeat(names.len()));
}

/// Paragraphs of `text` (blank-line separated), each escaped on one line.
fn paragraphs(out: &mut String, text: &str) {
    let text = text.replace("\r\n", "\n");
    for p in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let joined = p.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let _ = writeln!(out, "{}\n", md(&joined));
    }
}

fn names(m: &ThreatModel, ids: &[String]) -> String {
    ids.iter()
        .map(|id| m.entity(id).map_or_else(|| md(id), |e| md(&e.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| md(s)).collect::<Vec<_>>().join("<br>")
}

fn r(x: Rating) -> String {
    x.to_string()
}

/// Renders `architecture.md`.
#[must_use]
pub fn architecture_markdown(res: &Results) -> String {
    let m = &res.model;
    let mut out = String::new();
    let name = m.system.as_ref().map_or("(unnamed system)", |s| s.name.as_str());
    let _ = writeln!(out, "# Architecture: {}\n", md(name));
    let files = m
        .files
        .iter()
        .map(|f| code(&m.repo_path(f)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "Generated from the threat model ({files}) as of {}.\n", res.as_of);
    out.push_str("## 1. Description\n\n");
    match &m.system {
        None => out.push_str("**Missing:** the model has no `[system]` section.\n\n"),
        Some(s) => {
            for (title, text) in [
                ("Purpose", &s.description),
                ("Intended usage", &s.usage),
                ("Deployment", &s.deployment),
                ("Administration", &s.administration),
            ] {
                let _ = writeln!(out, "### {title}\n");
                paragraphs(&mut out, text);
            }
        }
    }
    components(&mut out, m);
    dependencies(&mut out, m);
    model_assumptions(&mut out, res);
    interfaces(&mut out, m);
    assets(&mut out, m);
    out.push_str(
        "## 7. Block diagram\n\nTrust boundaries are drawn as boxes; edges are the data flows of section 5.\n\n",
    );
    let _ = writeln!(out, "```mermaid\n{}```\n", mermaid::flowchart(m));
    out.push_str("## 8. Sequence diagrams\n\n");
    if m.sequences.is_empty() {
        out.push_str("**Missing:** the model has no sequence diagram.\n\n");
    }
    for s in &m.sequences {
        let _ = writeln!(out, "### {}\n", md(&s.title));
        paragraphs(&mut out, &s.description);
        let _ = writeln!(out, "```mermaid\n{}```\n", mermaid::model_sequence(m, s));
    }
    findings(&mut out, res);
    out
}

fn components(out: &mut String, m: &ThreatModel) {
    out.push_str("## 2. Components\n\n");
    header(
        out,
        &[
            "Component",
            "Kind",
            "Trust boundary",
            "Purpose",
            "Sensitive data it persists",
            "Protocols it exposes",
        ],
    );
    for e in &m.entities {
        let boundary = m
            .boundaries
            .iter()
            .find(|b| b.id == e.boundary)
            .map_or_else(|| md(&e.boundary), |b| md(&b.name));
        cells(
            out,
            &[
                format!("{} ({})", md(&e.name), code(&e.id)),
                e.kind.name().to_owned(),
                boundary,
                md(&e.purpose),
                list(&e.sensitive_data),
                list(&e.protocols),
            ],
        );
    }
    out.push_str("\n## 3. Trust boundaries\n\n");
    header(out, &["Boundary", "Description", "Components"]);
    for b in &m.boundaries {
        let inside: Vec<String> = m
            .entities
            .iter()
            .filter(|e| e.boundary == b.id)
            .map(|e| e.id.clone())
            .collect();
        cells(
            out,
            &[
                format!("{} ({})", md(&b.name), code(&b.id)),
                md(&b.description),
                names(m, &inside),
            ],
        );
    }
    out.push('\n');
}

fn dependencies(out: &mut String, m: &ThreatModel) {
    out.push_str("## 4. External dependencies and security assumptions\n\n");
    if m.dependencies.is_empty() {
        out.push_str("**Missing:** the model lists no external dependencies.\n\n");
    }
    for d in &m.dependencies {
        let _ = writeln!(
            out,
            "### {} ({})\n\nUsed by: {}.\n",
            md(&d.name),
            code(&d.id),
            names(m, &d.used_by)
        );
        for a in &d.assumptions {
            let _ = writeln!(out, "- {}", md(a));
        }
        out.push('\n');
    }
}

/// The model checker's own assumptions (from the model crate), after the system's.
fn model_assumptions(out: &mut String, res: &Results) {
    out.push_str("### What the model checker's proofs assume\n\nEach proof holds within its model; this is what the models abstract or leave out, what tests that part instead, and the threats whose property evidence rests on each.\n\n");
    super::markdown::assumption_table(out, &super::view::View::new(res));
}

fn interfaces(out: &mut String, m: &ThreatModel) {
    out.push_str("## 5. Interfaces\n\nFor each data flow: its protocol, how both ends are authenticated, and its confidentiality (C), integrity (I) and availability (A) needs.\n\n");
    header(
        out,
        &[
            "Flow",
            "From → To",
            "Via",
            "Protocol",
            "Carries",
            "Authentication",
            "C",
            "I",
            "A",
            "Entry point",
        ],
    );
    for f in &m.flows {
        let carries = f
            .carries
            .iter()
            .map(|a| {
                m.assets
                    .iter()
                    .find(|x| &x.id == a)
                    .map_or_else(|| md(a), |x| md(&x.name))
            })
            .collect::<Vec<_>>()
            .join(", ");
        cells(
            out,
            &[
                format!("{}<br>{}", md(&f.id), md(&f.description)),
                format!(
                    "{} → {}",
                    names(m, std::slice::from_ref(&f.from)),
                    names(m, std::slice::from_ref(&f.to))
                ),
                names(m, &f.via),
                md(&f.protocol),
                carries,
                md(&f.authentication),
                r(f.confidentiality),
                r(f.integrity),
                r(f.availability),
                if f.entry_point { "yes".into() } else { "no".into() },
            ],
        );
    }
    out.push('\n');
}

fn assets(out: &mut String, m: &ThreatModel) {
    out.push_str("## 6. Data assets\n\n");
    header(
        out,
        &[
            "Asset",
            "Description",
            "Held by (at rest or in memory)",
            "In flight on",
            "C",
            "I",
            "A",
        ],
    );
    for a in &m.assets {
        let flows: Vec<String> = m
            .flows
            .iter()
            .filter(|f| f.carries.contains(&a.id))
            .map(|f| md(&f.id))
            .collect();
        cells(
            out,
            &[
                format!("{} ({})", md(&a.name), code(&a.id)),
                md(&a.description),
                names(m, &a.held_by),
                flows.join(", "),
                r(a.confidentiality),
                r(a.integrity),
                r(a.availability),
            ],
        );
    }
    out.push('\n');
}

fn findings(out: &mut String, res: &Results) {
    out.push_str("## 9. Findings\n\nOne entry per failing or unverified threat, red evidence no threat cites, and lint error.\n\n");
    let mut n = 0;
    for o in &res.outcome.threats {
        if !matches!(o.status, Status::Failing | Status::Unverified) {
            continue;
        }
        n += 1;
        let t = res.model.threat(&o.id);
        let title = t.map_or("", |t| t.title.as_str());
        let _ = writeln!(out, "### F{n}. {} {} — {}\n", md(&o.id), md(title), o.label());
        if let Some(t) = t {
            let _ = writeln!(
                out,
                "Entity {}, {}, likelihood {}, impact {}; declared at {}.\n",
                code(&t.entity),
                t.stride.title(),
                t.likelihood,
                t.impact,
                code(&format!(
                    "{}:{}",
                    res.model.repo_path(&t.location.file),
                    t.location.line
                ))
            );
        }
        let _ = writeln!(out, "{}\n", md(&o.note));
        for i in o.items.iter().filter(|i| i.state != ItemState::Green) {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                if i.state == ItemState::Red { "red" } else { "missing" },
                md(&i.evidence.to_string()),
                md(&i.detail)
            );
        }
        if o.items.iter().any(|i| i.state != ItemState::Green) {
            out.push('\n');
        }
    }
    for (e, health) in res.evidence.all() {
        if let crate::evidence::Health::Red(why) = health
            && res.outcome.uncited.contains(&e)
        {
            n += 1;
            let _ = writeln!(
                out,
                "### F{n}. {} (cited by no threat) — red\n\n{}\n",
                md(&e.to_string()),
                md(&why)
            );
        }
    }
    for f in res.lint.iter().filter(|f| f.severity == Severity::Error) {
        n += 1;
        let loc = f.location.as_ref().map_or_else(String::new, |l| {
            format!(" at {}", code(&format!("{}:{}", res.model.repo_path(&l.file), l.line)))
        });
        let _ = writeln!(out, "### F{n}. Lint {}{loc}\n\n{}\n", f.rule, md(&f.message));
    }
    if n == 0 {
        out.push_str("No findings: every threat is verified or an accepted risk, all evidence is green, and lint has no errors.\n");
    }
}
