//! `results.sarif`: SARIF 2.1.0 in the subset GitHub code scanning reads.
//!
//! One rule per threat (rule id = threat id, stable), with `properties.security-severity` from
//! likelihood × impact; one result per failing (`error`) or unverified (`warning`) threat,
//! located at the threat's line in its model file. Lint errors and warnings are results too,
//! under rules `lint/NAME`, since they also point at model lines. Verified and accepted
//! threats produce no result. SARIF carries no timings, so the file is fully deterministic.
//! Text is JSON-escaped by serde; invisible characters (bidi overrides) are made visible so
//! that code-scanning views cannot be made to lie.

use serde_json::{Value, json};

use super::escape::visible;
use super::view::security_severity;
use crate::join::Status;
use crate::lint::{Rule, Severity};
use crate::model::{Location, ThreatModel};
use crate::results::Results;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn location(m: &ThreatModel, l: &Location) -> Value {
    let uri = m.repo_path(&l.file);
    let artifact = if uri.starts_with('/') {
        json!({ "uri": format!("file://{uri}") })
    } else {
        json!({ "uri": uri, "uriBaseId": "%SRCROOT%" })
    };
    json!({ "physicalLocation": { "artifactLocation": artifact, "region": { "startLine": l.line.max(1) } } })
}

/// Where a finding without a line of its own is shown: the `[system]` section, else the first
/// model file.
fn fallback(m: &ThreatModel) -> Location {
    m.system.as_ref().map_or_else(
        || Location {
            file: m.files.first().cloned().unwrap_or_else(|| "README.md".into()),
            line: 1,
        },
        |s| s.location.clone(),
    )
}

/// Renders `results.sarif`.
///
/// # Errors
///
/// Only if serialisation fails.
pub fn sarif(r: &Results) -> Result<Vec<u8>, serde_json::Error> {
    let m = &r.model;
    let mut rules: Vec<Value> = m
        .threats
        .iter()
        .map(|t| {
            let mut tags = vec!["security".to_owned(), format!("stride/{}", t.stride.name())];
            tags.extend(t.stories.iter().map(|s| format!("story/{s}")));
            let level = match t.risk() {
                6.. => "error",
                3.. => "warning",
                _ => "note",
            };
            json!({
                "id": t.id,
                "name": t.id.replace('-', ""),
                "shortDescription": { "text": visible(&t.title) },
                "fullDescription": { "text": visible(&t.description) },
                "help": { "text": visible(&format!("Countermeasure: {}", t.countermeasure)) },
                "defaultConfiguration": { "level": level },
                "properties": {
                    "security-severity": security_severity(t.risk()),
                    "tags": tags,
                    "likelihood": t.likelihood.name(),
                    "impact": t.impact.name(),
                    "entity": t.entity,
                },
            })
        })
        .collect();
    let mut results = Vec::new();
    for (index, t) in m.threats.iter().enumerate() {
        let Some(o) = r.outcome.threats.iter().find(|o| o.id == t.id) else {
            continue;
        };
        let level = match o.status {
            Status::Failing => "error",
            Status::Unverified => "warning",
            Status::Verified | Status::Accepted => continue,
        };
        results.push(json!({
            "ruleId": t.id,
            "ruleIndex": index,
            "level": level,
            "message": { "text": visible(&format!("{} is {}: {}. {}", t.id, o.label(), o.note, t.title)) },
            "locations": [location(m, &t.location)],
            "partialFingerprints": { "threatcheck/v1": t.id },
            "properties": { "status": o.status.name() },
        }));
    }
    let mut lint_rules: Vec<Rule> = r
        .lint
        .iter()
        .filter(|f| f.severity != Severity::Note)
        .map(|f| f.rule)
        .collect();
    lint_rules.sort();
    lint_rules.dedup();
    let first_lint = rules.len();
    for rule in &lint_rules {
        rules.push(json!({
            "id": format!("lint/{}", rule.name()),
            "name": format!("lint/{}", rule.name()),
            "shortDescription": { "text": rule.description() },
            "defaultConfiguration": { "level": rule.severity().name() },
            "properties": { "tags": ["threat-model-lint"] },
        }));
    }
    for f in r.lint.iter().filter(|f| f.severity != Severity::Note) {
        let index = first_lint + lint_rules.iter().position(|x| *x == f.rule).unwrap_or(0);
        let loc = f.location.clone().unwrap_or_else(|| fallback(m));
        results.push(json!({
            "ruleId": format!("lint/{}", f.rule.name()),
            "ruleIndex": index,
            "level": f.severity.name(),
            "message": { "text": visible(&f.message) },
            "locations": [location(m, &loc)],
            "partialFingerprints": { "threatcheck/v1": format!("lint/{}:{}", f.rule.name(), f.message) },
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
            "results": results,
        }],
    });
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}
