//! Anchors and links of `stride.html`: one id per heading, threat, story, defence, property,
//! harness and lint finding, and text in which every id the page knows becomes a link.
//!
//! Anchor ids are built from names the threat model and the results already restrict to
//! `[A-Za-z0-9-]` (threat ids, story ids, evidence names) behind a fixed prefix, and are
//! escaped anyway.

use std::collections::{BTreeMap, BTreeSet};

use super::super::escape::html;
use crate::model::{EvidenceKind, EvidenceRef};
use crate::results::Results;

/// The anchor of a threat's row.
#[must_use]
pub fn threat(id: &str) -> String {
    format!("threat-{id}")
}

/// The anchor of a story's row.
#[must_use]
pub fn story(id: &str) -> String {
    format!("story-{id}")
}

/// The anchor of an entity's section.
#[must_use]
pub fn entity(id: &str) -> String {
    format!("entity-{id}")
}

/// The anchor of an evidence item (a variant's section, a property's or harness's row).
#[must_use]
pub fn evidence(kind: EvidenceKind, name: &str) -> String {
    format!("{}-{name}", kind.prefix())
}

/// `<a href="#anchor">text</a>`, text escaped.
#[must_use]
pub fn to(anchor: &str, text: &str) -> String {
    format!("<a href=\"#{}\">{}</a>", html(anchor), html(text))
}

/// Everything on the page a sentence may name, and where it is.
#[derive(Debug)]
pub struct Anchors {
    /// "word" → anchor, for the phrases the verdict's reasons use (`threat T-…`,
    /// `harness s01-…`, `variant fresh-sequence`, `property …`, `lint:`).
    phrases: BTreeMap<String, String>,
    /// The anchors of the evidence items the results hold.
    evidence: BTreeSet<String>,
}

impl Anchors {
    /// The anchors of `r`'s page.
    #[must_use]
    pub fn new(r: &Results) -> Self {
        let mut phrases = BTreeMap::new();
        for t in &r.model.threats {
            phrases.insert(format!("threat {}", t.id), threat(&t.id));
        }
        for p in &r.evidence.properties {
            phrases.insert(
                format!("property {}", p.name),
                evidence(EvidenceKind::Property, &p.name),
            );
        }
        for v in &r.evidence.variants {
            phrases.insert(format!("variant {}", v.name), evidence(EvidenceKind::Variant, &v.name));
        }
        for h in &r.evidence.harnesses {
            phrases.insert(format!("harness {}", h.id), evidence(EvidenceKind::Harness, &h.id));
        }
        phrases.insert("lint:".to_owned(), "lint".to_owned());
        let evidence = r
            .evidence
            .properties
            .iter()
            .map(|p| evidence(EvidenceKind::Property, &p.name))
            .chain(
                r.evidence
                    .variants
                    .iter()
                    .map(|v| evidence(EvidenceKind::Variant, &v.name)),
            )
            .chain(
                r.evidence
                    .harnesses
                    .iter()
                    .map(|h| evidence(EvidenceKind::Harness, &h.id)),
            )
            .collect();
        Self { phrases, evidence }
    }

    /// An evidence reference as a link to its item, or plain text when the results hold no
    /// such item (a cited name that is missing).
    #[must_use]
    pub fn evidence_ref(&self, e: &EvidenceRef) -> String {
        let anchor = evidence(e.kind, &e.name);
        if self.evidence.contains(&anchor) {
            to(&anchor, &e.to_string())
        } else {
            html(&e.to_string())
        }
    }

    /// `text`, escaped (newlines as `<br>`), with every known phrase a link to its anchor.
    /// A phrase is matched only where it ends at a word boundary, so `harness s01-x` does
    /// not link inside `harness s01-xy`.
    #[must_use]
    pub fn linkify(&self, text: &str) -> String {
        let mut out = String::new();
        let mut plain = String::new();
        let flush = |plain: &mut String, out: &mut String| {
            out.push_str(&html(plain).replace('\n', "<br>"));
            plain.clear();
        };
        let mut rest = text.trim();
        'outer: while !rest.is_empty() {
            // The longest phrase starting here wins.
            let mut best: Option<(&str, &str)> = None;
            for (phrase, anchor) in &self.phrases {
                if rest.starts_with(phrase.as_str())
                    && ends_at_boundary(&rest[phrase.len()..])
                    && best.is_none_or(|(p, _)| phrase.len() > p.len())
                {
                    best = Some((phrase.as_str(), anchor.as_str()));
                }
            }
            if let Some((phrase, anchor)) = best {
                flush(&mut plain, &mut out);
                out.push_str(&to(anchor, phrase));
                rest = &rest[phrase.len()..];
                continue 'outer;
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                plain.push(c);
            }
            rest = chars.as_str();
        }
        flush(&mut plain, &mut out);
        out
    }
}

fn ends_at_boundary(after: &str) -> bool {
    after
        .chars()
        .next()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors(pairs: &[(&str, &str)]) -> Anchors {
        Anchors {
            phrases: pairs.iter().map(|(p, a)| ((*p).to_owned(), (*a).to_owned())).collect(),
            evidence: BTreeSet::new(),
        }
    }

    #[test]
    fn known_phrases_become_links_and_everything_else_is_escaped() {
        let a = anchors(&[
            ("threat T-A-S-01", "threat-T-A-S-01"),
            ("harness s01-x", "harness-s01-x"),
        ]);
        assert_eq!(
            a.linkify("threat T-A-S-01 is failing: harness s01-x <b>"),
            "<a href=\"#threat-T-A-S-01\">threat T-A-S-01</a> is failing: <a href=\"#harness-s01-x\">harness s01-x</a> &lt;b&gt;"
        );
    }

    #[test]
    fn a_phrase_is_not_linked_inside_a_longer_name() {
        let a = anchors(&[("harness s01-x", "harness-s01-x")]);
        assert_eq!(a.linkify("harness s01-xy"), "harness s01-xy");
        assert_eq!(
            a.linkify("harness s01-x."),
            "<a href=\"#harness-s01-x\">harness s01-x</a>."
        );
    }
}
