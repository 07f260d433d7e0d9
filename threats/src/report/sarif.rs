//! `results.sarif`: SARIF 2.1.0 in the subset GitHub code scanning reads ("SARIF support for
//! code scanning": the `reportingDescriptor`, `result`, `physicalLocation` and `run` tables).
//!
//! - **Rules.** One per threat (rule id = threat id, stable; a second threat with the same id,
//!   which lint reports, gets none), with `properties.security-severity` from likelihood ×
//!   impact, then every lint rule (`lint/NAME`) in [`Rule::ALL`] order. Every rule has
//!   `shortDescription`, `fullDescription` and `help` (text and Markdown), all required by
//!   GitHub, the descriptions within its 1024-character limit. Rules describe the model and the
//!   tool, never the run: no status, no date of the run.
//! - **Results.** Exactly one per finding: one per failing (`error`) or unverified (`warning`)
//!   threat, and one per lint rule and model item (several findings of one rule about one item,
//!   e.g. two unknown references of one threat, are one result listing them). A lint finding
//!   that states the same fact as its threat's result (an expired acceptance, or no evidence
//!   and no acceptance, of a threat without evidence) is that result, not a second alert on the
//!   same line. Verified and accepted threats produce no result.
//! - **Locations.** `uri` is the model file's path from the repository root, with `uriBaseId`
//!   `%SRCROOT%`, which `run.originalUriBaseIds` defines as the repository root; the region is
//!   the item's table header (`[[threat]]`) with all four of `startLine`, `startColumn`,
//!   `endLine`, `endColumn`.
//! - **Fingerprints.** `partialFingerprints.primaryLocationLineHash`, the only key GitHub reads,
//!   is a hash of the rule id and the item the result is about (`threat:T-SCHED-S-01`): the
//!   same alert across runs, days, `--as-of` dates and line moves, and never a date.
//!
//! SARIF carries no timings and no date of the run, so the file is fully deterministic. Text is
//! JSON-escaped by serde; invisible characters (bidi overrides) are made visible so that
//! code-scanning views cannot be made to lie.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::escape::{code, md, visible};
use super::view::security_severity;
use crate::join::{Status, ThreatOutcome};
use crate::lint::{LintFinding, Rule, Severity};
use crate::model::{Location, Threat, ThreatModel};
use crate::results::Results;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The base every repository-relative location is relative to.
const SRCROOT: &str = "%SRCROOT%";

/// GitHub's limit on `shortDescription.text` and `fullDescription.text`, in characters.
const DESCRIPTION_LIMIT: usize = 1024;

/// The item a location points at: the table header it starts with, and what a result there is
/// about (the subject of its fingerprint).
struct Item {
    header: &'static str,
    subject: String,
}

/// Every model item by the location of its table header (the first item wins if two share a
/// line, which only inline tables can do).
fn items(m: &ThreatModel) -> BTreeMap<&Location, Item> {
    let mut out = BTreeMap::new();
    let mut add = |l, header, subject| {
        out.entry(l).or_insert(Item { header, subject });
    };
    if let Some(s) = &m.system {
        add(&s.location, "[system]", "system".to_owned());
    }
    for x in &m.boundaries {
        add(&x.location, "[[boundary]]", format!("boundary:{}", x.id));
    }
    for x in &m.entities {
        add(&x.location, "[[entity]]", format!("entity:{}", x.id));
    }
    for x in &m.flows {
        add(&x.location, "[[flow]]", format!("flow:{}", x.id));
    }
    for x in &m.assets {
        add(&x.location, "[[asset]]", format!("asset:{}", x.id));
    }
    for x in &m.dependencies {
        add(&x.location, "[[dependency]]", format!("dependency:{}", x.id));
    }
    for x in &m.stories {
        add(&x.location, "[[story]]", format!("story:{}", x.id));
    }
    for x in &m.sequences {
        add(&x.location, "[[sequence]]", format!("sequence:{}", x.id));
    }
    for x in &m.threats {
        add(&x.location, "[[threat]]", format!("threat:{}", x.id));
    }
    for x in &m.not_applicable {
        let subject = format!("not_applicable:{}/{}", x.entity, x.stride.name());
        add(&x.location, "[[not_applicable]]", subject);
    }
    out
}

/// Where a finding without a location of its own is shown: the `[system]` table, else the
/// model's first item, else the first line of the first model file.
fn fallback(m: &ThreatModel, items: &BTreeMap<&Location, Item>) -> Location {
    if let Some(s) = &m.system {
        return s.location.clone();
    }
    let file_order = |l: &Location| m.files.iter().position(|f| *f == l.file).unwrap_or(usize::MAX);
    items.keys().min_by_key(|l| (file_order(l), l.line)).map_or_else(
        || Location {
            file: m.files.first().cloned().unwrap_or_else(|| "README.md".into()),
            line: 1,
        },
        |l| (*l).clone(),
    )
}

/// `s` as a URI path: unreserved characters and `/` as they are, every other byte
/// percent-encoded (so a space or a `:` in a file name cannot make the reference invalid).
fn uri_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn location(m: &ThreatModel, items: &BTreeMap<&Location, Item>, l: &Location) -> Value {
    let path = m.repo_path(&l.file);
    let drive = path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic();
    let artifact = if path.starts_with('/') {
        // A model outside the repository: an absolute URI, which needs no base.
        json!({ "uri": format!("file://{}", uri_path(&path)) })
    } else if drive {
        json!({ "uri": format!("file:///{}:{}", &path[..1], uri_path(&path[2..])) })
    } else {
        // GitHub: "a relative path from the root of the GitHub repository being analyzed".
        json!({ "uri": uri_path(&path), "uriBaseId": SRCROOT })
    };
    // results.json carries each item's line but not the model's text (every report is a pure
    // function of it), so the region is what that line is known to hold: the item's table
    // header, which the loader's location is the start of. A location that is no item's
    // (only a hand-made results file has one) is an empty region at the start of its line.
    let line = l.line.max(1);
    let width = items.get(l).map_or(0, |i| i.header.chars().count());
    let region = json!({
        "startLine": line,
        "startColumn": 1,
        "endLine": line,
        "endColumn": 1 + width,
    });
    json!({ "physicalLocation": { "artifactLocation": artifact, "region": region } })
}

/// `partialFingerprints` of a result: `primaryLocationLineHash` from the rule id and the
/// subject only.
///
/// GitHub code scanning reads only `primaryLocationLineHash` (a custom key is ignored), and
/// computes one from the text of the start line when it is absent. For these results that text
/// is `[[threat]]` for every threat, so the computed hash tells threats apart only by their order
/// in the file; a threat's id is the stable identity, so this hash is chosen instead. The
/// upload action keeps a value it is given (it logs that its own differs). 64-bit FNV-1a: a
/// fingerprint needs stability, not secrecy.
fn fingerprints(rule_id: &str, subject: &str) -> Value {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rule_id.bytes().chain([0]).chain(subject.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    json!({ "primaryLocationLineHash": format!("{h:016x}") })
}

/// At most `limit` characters, cut with an ellipsis.
fn limited(s: &str, limit: usize) -> String {
    if s.chars().count() <= limit {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(limit - 1).collect();
        out.push('…');
        out
    }
}

/// Rule text: invisible characters made visible, never empty (GitHub refuses empty required
/// text), within GitHub's description limit.
fn description(s: &str, or: &str) -> Value {
    let s = visible(s.trim());
    let s = if s.is_empty() { or.to_owned() } else { s };
    json!({ "text": limited(&s, DESCRIPTION_LIMIT) })
}

/// A lint message without the date lint judged it as of: "(judged as of 2026-11-23)" changes
/// every day, and an alert's title must not. The acceptance's own expiry date, the fact
/// reported, stays.
fn without_today(message: &str) -> String {
    let mut out = message.to_owned();
    while let Some(start) = out.find(" (judged as of ") {
        let Some(len) = out[start..].find(')') else { break };
        out.replace_range(start..=start + len, "");
    }
    out
}

fn level_rank(level: &str) -> u8 {
    match level {
        "error" => 2,
        "warning" => 1,
        _ => 0,
    }
}

/// The lint rule's `fullDescription` and its `help` in Markdown (the plain-text help is the
/// same without the backticks).
const fn lint_text(rule: Rule) -> (&'static str, &'static str) {
    match rule {
        Rule::SectionMissing => (
            "The architecture page a threat-analysis review needs is generated from the model: a [system] section with name, description, usage, deployment and administration, and at least one trust boundary, entity, data flow, data asset, external dependency, sequence diagram, story and threat. A missing or empty section leaves that part of the review without input.",
            "Add the section the message names to a model file, or fill in its empty field; `threats/model/README.md` lists every section's fields.",
        ),
        Rule::ItemIncomplete => (
            "Every item carries the text a reviewer reads: an entity's purpose, sensitive data and protocols, a flow's description and authentication, a dependency's assumptions, a threat's description and countermeasure, an acceptance's owner and reason, a not-applicable entry's reason.",
            "Fill in the empty field the message names. For an entity that holds no sensitive data, write `\"none: why\"`.",
        ),
        Rule::UnknownReference => (
            "Items refer to each other by id: entities to boundaries, flows to entities and assets, sequences to entities, threats to entities and stories. An id that names nothing breaks the diagrams and the STRIDE table.",
            "Correct the id the message names, or add the item it should name.",
        ),
        Rule::DuplicateId => (
            "Ids identify items across the model and the reports (a threat's id is its SARIF rule id), so two items of one kind never share one, and a threat cites each evidence item once.",
            "Rename one of the two items and the references to it, or remove the repeated evidence reference.",
        ),
        Rule::IdFormat => (
            "Threat ids have the shape T-{entity code}-{STRIDE letter}-{NN}, with their entity's code and their category's letter; entity codes are 1 to 12 upper-case letters and digits, starting with a letter; story ids are a capital letter and two digits.",
            "Rename the id to the required shape (`T-SCHED-S-01`, `SCHED`, `S01`). A threat's id is its SARIF rule id, so a renamed threat starts a new alert history.",
        ),
        Rule::StrideGap => (
            "Every entity is examined for each of the six STRIDE categories: each category has at least one threat, or exactly one not_applicable entry saying why it does not apply.",
            "Add a `[[threat]]` for the entity and category the message names, or a `[[not_applicable]]` entry with the reason.",
        ),
        Rule::StrideContradiction => (
            "A STRIDE category of an entity is either threatened (it has threats) or declared not applicable, never both, and declared not applicable at most once.",
            "Remove the `[[not_applicable]]` entry, the threats, or the second entry.",
        ),
        Rule::NoEvidence => (
            "A threat is verified only by evidence (a model-checked property, a weakened-model variant, an attack harness against the live system) or carried by a dated, owned risk acceptance. A threat with neither cannot be judged, and the release gate fails.",
            "Cite evidence in the threat's `evidence` list, or add a `[threat.acceptance]` table with `owner`, `reason` and `until`.",
        ),
        Rule::AcceptanceExpired => (
            "A risk acceptance is valid through its until date. After that date lint reports an error and the threat is unverified, so the release gate fails until the risk is accepted again or evidenced.",
            "Renew the acceptance with its owner (a new `until` date), or cite evidence for the threat and remove the `[threat.acceptance]` table.",
        ),
        Rule::AcceptanceWithEvidence => (
            "A threat with evidence is judged by its evidence; a risk acceptance beside it is ignored and misleads the reader.",
            "Remove the `[threat.acceptance]` table, or the evidence if the risk is in fact accepted rather than verified.",
        ),
        Rule::UnknownEvidence => (
            "Evidence references name a property, a variant or a harness that the model checker or the attack crate produces. A reference to anything else can never be green.",
            "Correct the reference (`threatcheck model --list` and `threatcheck attack --list` print the names), or remove it.",
        ),
        Rule::StoryWithoutHarness => (
            "A story marked requires_harness (the default) is served by at least one threat that cites an attack harness, so that it is shown on the live system and not only in the model.",
            "Cite a `harness:ID` in one of the story's threats, or set `requires_harness = false` on a story that cannot be attacked live.",
        ),
        Rule::StoryWithoutThreat => (
            "Every in-scope story is served by at least one threat, unless met_by says how it is met otherwise.",
            "Add the story's id to the `stories` of a threat that serves it, add such a threat, or give the story `met_by` or `out_of_scope`.",
        ),
        Rule::ThreatWithoutStory => (
            "Every threat serves at least one threat story, which ties it to the concerns the model answers.",
            "List the ids of the stories the threat serves in its `stories` field.",
        ),
        Rule::UnusedEvidence => (
            "Every property, variant and harness the tools produce is cited by some threat. Evidence no threat cites still counts towards the verdict but says nothing about the threat model.",
            "Cite the item the message names from the threat it supports, or retire it from the model checker or the attack crate.",
        ),
        Rule::UncitedDefence => (
            "Every defence of the vocabulary (protocol::Defence) is tested by a weakened-model variant or an attack harness that some threat cites; otherwise no threat rests on evidence that the defence is needed.",
            "Cite the defence's variant or one of its harnesses (the message names them) from the threat the defence protects against.",
        ),
        Rule::UnbrokenProperty => (
            "A model-checked property counts as evidence only if some weakened variant of the model breaks it: then its holding is due to the defences the variant removes. A cited property that no variant breaks may hold because the model cannot express the attack at all, which shows nothing about the countermeasure.",
            "Add a variant that removes the defence the property depends on and breaks it, or cite evidence that does test the countermeasure (a variant or a harness) instead of the property.",
        ),
        Rule::Unconnected => (
            "Every entity takes part in a data flow, and every data asset is held by an entity or carried by a flow; otherwise the block diagram and the data-asset table have loose ends.",
            "Add the flow or the holder, or remove the item if it is not part of the system.",
        ),
    }
}

fn lint_rule(rule: Rule) -> Value {
    let (full, help) = lint_text(rule);
    let id = format!("lint/{}", rule.name());
    let severity = rule.severity().name();
    json!({
        "id": id,
        "name": id,
        "shortDescription": description(rule.description(), &id),
        "fullDescription": description(full, &id),
        "help": { "text": help.replace('`', ""), "markdown": help },
        "defaultConfiguration": { "level": severity },
        // A lint result is a deterministic fact about the model, not a heuristic.
        "properties": {
            "tags": ["threat-model-lint"],
            "precision": "very-high",
            "problem.severity": severity,
        },
    })
}

fn threat_rule(t: &Threat) -> Value {
    let mut tags = vec!["security".to_owned(), format!("stride/{}", t.stride.name())];
    tags.extend(t.stories.iter().map(|s| format!("story/{s}")));
    let level = match t.risk() {
        6.. => "error",
        3.. => "warning",
        _ => "note",
    };
    let evidence: Vec<String> = t.evidence.iter().map(ToString::to_string).collect();
    let mut text = format!(
        "Countermeasure: {}\n\nEntity: {}. STRIDE: {}. Likelihood {} × impact {} (risk {} of 9).\nStories: {}.\nEvidence: {}.",
        t.countermeasure.trim(),
        t.entity,
        t.stride.title(),
        t.likelihood.name(),
        t.impact.name(),
        t.risk(),
        t.stories.join(", "),
        if evidence.is_empty() {
            "none".to_owned()
        } else {
            evidence.join(", ")
        },
    );
    let codes = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ")
        }
    };
    let mut markdown = format!(
        "**Countermeasure:** {}\n\n- Entity: {}\n- STRIDE: {}\n- Likelihood × impact: {} × {} (risk {} of 9)\n- Stories: {}\n- Evidence: {}",
        md(&t.countermeasure),
        code(&t.entity),
        t.stride.title(),
        t.likelihood.name(),
        t.impact.name(),
        t.risk(),
        codes(&t.stories),
        codes(&evidence),
    );
    if let Some(a) = &t.acceptance {
        // Model data (it changes when the model does), not the date of the run.
        let _ = write!(
            text,
            "\nRisk acceptance: by {} until {}: {}",
            a.owner.trim(),
            a.until,
            a.reason.trim()
        );
        let _ = write!(
            markdown,
            "\n- Risk acceptance: by {} until {}: {}",
            md(&a.owner),
            a.until,
            md(&a.reason)
        );
    }
    json!({
        "id": t.id,
        "name": t.id.replace('-', ""),
        "shortDescription": description(&t.title, &t.id),
        "fullDescription": description(&t.description, &t.title),
        "help": { "text": visible(&text), "markdown": markdown },
        "defaultConfiguration": { "level": level },
        "properties": {
            "security-severity": security_severity(t.risk()),
            "tags": tags,
            // A result is the outcome of a proof, a counterexample, an attack or a missing
            // item, not a heuristic match.
            "precision": "very-high",
            "likelihood": t.likelihood.name(),
            "impact": t.impact.name(),
            "entity": t.entity,
        },
    })
}

/// Whether lint finding `f` states the same fact as the result of threat `t` (with outcome
/// `o`): an expired acceptance, or neither evidence nor acceptance, of a threat that cites no
/// evidence is exactly why the join calls it unverified.
fn same_finding(t: &Threat, o: &ThreatOutcome, f: &LintFinding) -> bool {
    f.location.as_ref() == Some(&t.location)
        && t.evidence.is_empty()
        && o.status == Status::Unverified
        && matches!(f.rule, Rule::AcceptanceExpired | Rule::NoEvidence)
}

/// Renders `results.sarif`.
///
/// # Errors
///
/// Only if serialisation fails.
pub fn sarif(r: &Results) -> Result<Vec<u8>, serde_json::Error> {
    let m = &r.model;
    let items = items(m);
    let lint: Vec<&LintFinding> = r.lint.iter().filter(|f| f.severity != Severity::Note).collect();
    let mut folded = vec![false; lint.len()];

    let mut seen = BTreeSet::new();
    let threats: Vec<&Threat> = m.threats.iter().filter(|t| seen.insert(t.id.as_str())).collect();
    let mut rules: Vec<Value> = threats.iter().map(|t| threat_rule(t)).collect();
    let mut results = Vec::new();
    for (index, t) in threats.iter().enumerate() {
        let Some(o) = r.outcome.threats.iter().find(|o| o.id == t.id) else {
            continue;
        };
        let mut level = match o.status {
            Status::Failing => "error",
            Status::Unverified => "warning",
            Status::Verified | Status::Accepted => continue,
        };
        let mut same = Vec::new();
        for (i, f) in lint.iter().enumerate() {
            if same_finding(t, o, f) {
                folded[i] = true;
                same.push(f.rule.name());
                if level_rank(f.severity.name()) > level_rank(level) {
                    level = f.severity.name();
                }
            }
        }
        same.sort_unstable();
        same.dedup();
        let mut properties = json!({ "status": o.status.name() });
        if !same.is_empty() {
            properties["lint"] = json!(same);
        }
        results.push(json!({
            "ruleId": t.id,
            "ruleIndex": index,
            "level": level,
            "message": { "text": visible(&format!("{} is {}: {}. {}", t.id, o.label(), o.note, t.title)) },
            "locations": [location(m, &items, &t.location)],
            "partialFingerprints": fingerprints(&t.id, &format!("threat:{}", t.id)),
            "properties": properties,
        }));
    }

    // One result per lint rule and item, in the order of their first finding.
    let mut groups: Vec<(Rule, Location, Vec<String>)> = Vec::new();
    for (f, _) in lint.iter().zip(&folded).filter(|(_, folded)| !**folded) {
        let loc = f.location.clone().unwrap_or_else(|| fallback(m, &items));
        let message = without_today(&f.message);
        match groups.iter_mut().find(|(rule, l, _)| *rule == f.rule && *l == loc) {
            Some((_, _, messages)) => {
                if !messages.contains(&message) {
                    messages.push(message);
                }
            }
            None => groups.push((f.rule, loc, vec![message])),
        }
    }
    // Every lint rule, whether it has results or not: rules describe the tool, and GitHub's
    // guidance is that they differ between tool versions, not between analyses.
    let first_lint = rules.len();
    let lint_rules = Rule::ALL;
    rules.extend(lint_rules.iter().map(|rule| lint_rule(*rule)));
    for (rule, loc, messages) in &groups {
        let index = first_lint + lint_rules.iter().position(|x| x == rule).unwrap_or(0);
        let id = format!("lint/{}", rule.name());
        // A location that is no item's (only a hand-made results file has one) is its own
        // subject.
        let subject = items
            .get(loc)
            .map_or_else(|| format!("{}:{}", loc.file, loc.line), |i| i.subject.clone());
        let text = match messages.as_slice() {
            [one] => one.clone(),
            many => format!("{} findings: {}", many.len(), many.join("; ")),
        };
        results.push(json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": rule.severity().name(),
            "message": { "text": visible(&text) },
            "locations": [location(m, &items, loc)],
            "partialFingerprints": fingerprints(&id, &subject),
        }));
    }

    let doc = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": r.tool.name,
                "version": r.tool.version,
                "informationUri": r.tool.information_uri,
                "rules": rules,
            }},
            // Every `uriBaseId` used. Its absolute URI is not given: it is wherever the
            // repository is checked out (GitHub resolves relative URIs against the checkout),
            // and naming this machine's path would make the file differ between machines.
            "originalUriBaseIds": {
                SRCROOT: { "description": { "text": "The root of the repository the threat model is in; every relative artifact URI is a path from it." } },
            },
            // Columns count characters (the regions only span ASCII table headers).
            "columnKind": "unicodeCodePoints",
            // No `automationDetails`: the category is the upload's choice (upload-sarif's
            // `category` input), and the action only sets it where the file has none.
            "results": results,
        }],
    });
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}
