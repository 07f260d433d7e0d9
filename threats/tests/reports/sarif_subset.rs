//! `results.sarif` against the vendored OASIS SARIF 2.1.0 schema (`tests/schemas/`) and against
//! the subset GitHub code scanning documents ("SARIF support for code scanning"): the rules'
//! three descriptions, rule references, full regions, defined URI bases, one alert per finding,
//! and fingerprints that carry no date and do not change with the date a run is judged on.
//!
//! The red runs: the fixture (an acceptance expired in 2020), and the shipped model without any
//! evidence judged in 2099, when every acceptance in it has expired.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use threats::join::{Status, Verdict};
use threats::lint::Rule;
use threats::report;
use threats::{Date, Evidence, KnownEvidence, Results, ThreatModel};

use crate::threat_fixtures as fx;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn date(s: &str) -> Date {
    s.parse().expect("a date")
}

/// The vendored schema, compiled; formats (`uri`, `date-time`, …) are checked too.
fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(path).expect("the vendored SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored schema compiles")
}

/// Every way `doc` breaks the vendored schema.
fn schema_errors(doc: &Value) -> Vec<String> {
    schema()
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn sarif(r: &Results) -> Value {
    serde_json::from_slice(&report::sarif(r).expect("renders")).expect("SARIF is JSON")
}

/// The fixture model judged as of `as_of`.
fn fixture_as_of(as_of: Date) -> Results {
    let model = fx::model();
    let lint = threats::lint::lint(&model, &fx::known(), as_of);
    Results::new(fx::results().tool, as_of, model, fx::evidence(), lint)
}

/// The fixture model with an acceptance, expired in 2021, beside the evidence of a failing
/// threat: lint reports the expiry as its own finding (the threat fails on its evidence).
fn fixture_with_expired_acceptance_beside_evidence(as_of: Date) -> Results {
    let mut model = fx::model();
    let t = model
        .threats
        .iter_mut()
        .find(|t| t.id == "T-SRV-T-01")
        .expect("a failing threat with evidence");
    t.acceptance = Some(threats::model::Acceptance {
        owner: "Someone".into(),
        reason: "For a while.".into(),
        until: date("2021-03-31"),
    });
    let lint = threats::lint::lint(&model, &fx::known(), as_of);
    Results::new(fx::results().tool, as_of, model, fx::evidence(), lint)
}

/// The shipped model with no evidence at all, judged as of `as_of`: every threat unverified,
/// every cited item unknown, and (in 2099) every acceptance expired.
fn shipped_without_evidence(as_of: Date) -> Results {
    let mut model =
        ThreatModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("model")).expect("the shipped model loads");
    model.source_dir = "threats/model".into();
    let lint = threats::lint::lint(&model, &KnownEvidence::default(), as_of);
    Results::new(fx::results().tool, as_of, model, Evidence::default(), lint)
}

fn text<'a>(v: &'a Value, what: &str, problems: &mut Vec<String>) -> Option<&'a str> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Some(s),
        _ => {
            problems.push(format!("{what} is missing or empty"));
            None
        }
    }
}

/// Whether `s` holds something shaped like a date, `YYYY-MM-DD`.
fn has_date(s: &str) -> bool {
    s.as_bytes().windows(10).any(|w| {
        w.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
    })
}

/// Every way `doc` breaks GitHub code scanning's documented SARIF subset (empty: it keeps it).
fn github_subset(doc: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if doc["version"] != "2.1.0" {
        p.push("version is not 2.1.0".to_owned());
    }
    text(&doc["$schema"], "$schema", &mut p);
    let Some(runs) = doc["runs"].as_array().filter(|r| !r.is_empty()) else {
        p.push("no runs".to_owned());
        return p;
    };
    for (n, run) in runs.iter().enumerate() {
        let driver = &run["tool"]["driver"];
        text(&driver["name"], &format!("runs[{n}].tool.driver.name"), &mut p);
        let Some(rules) = driver["rules"].as_array() else {
            p.push(format!("runs[{n}]: no rules array"));
            continue;
        };
        let mut ids = BTreeSet::new();
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("rule {i} ({})", rule["id"]);
            if let Some(id) = text(&rule["id"], &format!("{at}: id"), &mut p)
                && !ids.insert(id)
            {
                p.push(format!("{at}: id is not unique"));
            }
            for field in ["shortDescription", "fullDescription"] {
                if let Some(t) = text(&rule[field]["text"], &format!("{at}: {field}.text"), &mut p)
                    && t.chars().count() > 1024
                {
                    p.push(format!("{at}: {field}.text is longer than 1024 characters"));
                }
            }
            text(&rule["help"]["text"], &format!("{at}: help.text"), &mut p);
            if !rule["help"]["markdown"].is_null() {
                text(&rule["help"]["markdown"], &format!("{at}: help.markdown"), &mut p);
            }
            if rule["name"].as_str().is_some_and(|s| s.chars().count() > 255) {
                p.push(format!("{at}: name is longer than 255 characters"));
            }
            let level = &rule["defaultConfiguration"]["level"];
            if !level.is_null() && !["note", "warning", "error"].contains(&level.as_str().unwrap_or("")) {
                p.push(format!("{at}: defaultConfiguration.level {level}"));
            }
            let props = &rule["properties"];
            if let Some(sev) = props.get("security-severity") {
                let ok = sev
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .is_some_and(|s| s > 0.0 && s <= 10.0);
                if !ok {
                    p.push(format!("{at}: security-severity {sev} is not a string in (0, 10]"));
                }
            }
            if let Some(v) = props.get("precision")
                && !["very-high", "high", "medium", "low"].contains(&v.as_str().unwrap_or(""))
            {
                p.push(format!("{at}: precision {v}"));
            }
            if let Some(v) = props.get("problem.severity")
                && !["error", "warning", "recommendation"].contains(&v.as_str().unwrap_or(""))
            {
                p.push(format!("{at}: problem.severity {v}"));
            }
            if let Some(tags) = props.get("tags")
                && !tags.as_array().is_some_and(|t| t.iter().all(Value::is_string))
            {
                p.push(format!("{at}: tags is not a list of strings"));
            }
        }
        let bases = run["originalUriBaseIds"].as_object();
        if let Some(bases) = bases {
            for (name, base) in bases {
                // SARIF: a base without a base of its own has an absolute URI, or none.
                if base["uriBaseId"].is_null()
                    && let Some(uri) = base["uri"].as_str()
                    && (!uri.contains("://") || !uri.ends_with('/'))
                {
                    p.push(format!(
                        "originalUriBaseIds.{name}: {uri} is not an absolute URI ending in /"
                    ));
                }
            }
        }
        let mut used_bases = BTreeSet::new();
        collect_bases(run, &mut used_bases);
        for base in used_bases {
            if !bases.is_some_and(|b| b.contains_key(&base)) {
                p.push(format!(
                    "uriBaseId {base} is not defined in runs[{n}].originalUriBaseIds"
                ));
            }
        }
        let Some(results) = run["results"].as_array() else {
            p.push(format!("runs[{n}]: no results array"));
            continue;
        };
        let mut seen = BTreeSet::new();
        let mut fingerprints = BTreeSet::new();
        for (i, res) in results.iter().enumerate() {
            let at = format!("result {i} ({})", res["ruleId"]);
            let rule_id = text(&res["ruleId"], &format!("{at}: ruleId"), &mut p);
            if let Some(id) = rule_id
                && !ids.contains(id)
            {
                p.push(format!("{at}: ruleId names no rule"));
            }
            if let Some(index) = res["ruleIndex"].as_u64() {
                let named = usize::try_from(index)
                    .ok()
                    .and_then(|i| rules.get(i))
                    .and_then(|r| r["id"].as_str());
                if named != rule_id {
                    p.push(format!("{at}: ruleIndex {index} is rule {named:?}"));
                }
            } else if !res["ruleIndex"].is_null() {
                p.push(format!("{at}: ruleIndex is not a non-negative integer"));
            }
            let level = &res["level"];
            if !level.is_null() && !["none", "note", "warning", "error"].contains(&level.as_str().unwrap_or("")) {
                p.push(format!("{at}: level {level}"));
            }
            text(&res["message"]["text"], &format!("{at}: message.text"), &mut p);
            let Some(locations) = res["locations"].as_array().filter(|l| !l.is_empty() && l.len() <= 10) else {
                p.push(format!("{at}: locations is not 1 to 10 locations"));
                continue;
            };
            let physical = &locations[0]["physicalLocation"];
            let uri = text(
                &physical["artifactLocation"]["uri"],
                &format!("{at}: artifactLocation.uri"),
                &mut p,
            );
            if !physical["artifactLocation"]["uriBaseId"].is_null()
                && uri.is_some_and(|u| u.starts_with('/') || u.contains(':') || u.contains('\\'))
            {
                p.push(format!("{at}: {uri:?} with a uriBaseId is not a relative path"));
            }
            let region = &physical["region"];
            let field = |name: &str| region[name].as_u64().filter(|v| *v >= 1);
            match (
                field("startLine"),
                field("startColumn"),
                field("endLine"),
                field("endColumn"),
            ) {
                (Some(sl), Some(sc), Some(el), Some(ec)) => {
                    if el < sl || (el == sl && ec < sc) {
                        p.push(format!("{at}: region ends before it starts"));
                    }
                    if !seen.insert((rule_id.unwrap_or(""), uri.unwrap_or(""), sl)) {
                        p.push(format!("{at}: a second result of its rule on {uri:?} line {sl}"));
                    }
                }
                _ => p.push(format!(
                    "{at}: region lacks one of startLine, startColumn, endLine, endColumn (each ≥ 1): {region}"
                )),
            }
            match res["partialFingerprints"]["primaryLocationLineHash"].as_str() {
                Some(h) if !h.is_empty() => {
                    if !fingerprints.insert((rule_id.unwrap_or(""), h)) {
                        p.push(format!("{at}: its fingerprint is another result's"));
                    }
                }
                _ => p.push(format!("{at}: no partialFingerprints.primaryLocationLineHash")),
            }
            if let Some(all) = res["partialFingerprints"].as_object() {
                for (key, value) in all {
                    if value.as_str().is_none_or(has_date) {
                        p.push(format!(
                            "{at}: fingerprint {key} = {value} is not a string without a date"
                        ));
                    }
                }
            }
        }
    }
    p
}

/// Every `uriBaseId` used in `v` (outside `originalUriBaseIds`' own chain).
fn collect_bases(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (key, value) in o {
                match (key.as_str(), value) {
                    ("originalUriBaseIds", _) => {}
                    ("uriBaseId", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => collect_bases(value, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_bases(x, out)),
        _ => {}
    }
}

fn assert_valid(doc: &Value, what: &str) {
    let errors = schema_errors(doc);
    assert!(
        errors.is_empty(),
        "{what} breaks the SARIF 2.1.0 schema:\n{}",
        errors.join("\n")
    );
    let problems = github_subset(doc);
    assert!(
        problems.is_empty(),
        "{what} breaks GitHub's subset:\n{}",
        problems.join("\n")
    );
}

fn results_of(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"].as_array().expect("results")
}

/// `(ruleId, uri, startLine)` of every result.
fn places(doc: &Value) -> Vec<(String, String, u64)> {
    results_of(doc)
        .iter()
        .map(|r| {
            let l = &r["locations"][0]["physicalLocation"];
            (
                r["ruleId"].as_str().unwrap_or_default().to_owned(),
                l["artifactLocation"]["uri"].as_str().unwrap_or_default().to_owned(),
                l["region"]["startLine"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn sarif_rendered_from_the_fixture_results_json_is_valid_sarif_in_githubs_subset() {
    let stored = Results::read(&fx::dir().join("results.json")).expect("the fixture results.json reads");
    assert_eq!(stored.outcome.verdict, Verdict::Red);
    assert_valid(&sarif(&stored), "the fixture's SARIF");
}

#[test]
fn sarif_of_red_runs_with_expired_acceptances_is_valid_sarif_in_githubs_subset() {
    for (what, r) in [
        ("the fixture in 2099", fixture_as_of(date("2099-01-01"))),
        (
            "the shipped model without evidence in 2099",
            shipped_without_evidence(date("2099-01-01")),
        ),
    ] {
        assert_eq!(r.outcome.verdict, Verdict::Red, "{what}");
        assert!(r.lint.iter().any(|f| f.rule == Rule::AcceptanceExpired), "{what}");
        assert_valid(&sarif(&r), what);
    }
}

#[test]
fn every_rule_has_a_short_and_full_description_and_help_in_text_and_markdown() {
    for r in [fx::results(), shipped_without_evidence(date("2099-01-01"))] {
        let doc = sarif(&r);
        let rules = doc["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
        let ids: BTreeSet<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
        for t in &r.model.threats {
            assert!(ids.contains(t.id.as_str()), "no rule for {}", t.id);
        }
        // Every lint rule, with or without results (lint/acceptance-expired among them).
        for lint in Rule::ALL {
            let id = format!("lint/{}", lint.name());
            assert!(ids.contains(id.as_str()), "no rule {id}");
        }
        assert_eq!(ids.len(), r.model.threats.len() + Rule::ALL.len());
        for rule in rules {
            for field in [
                "/shortDescription/text",
                "/fullDescription/text",
                "/help/text",
                "/help/markdown",
            ] {
                let t = rule.pointer(field).and_then(Value::as_str).unwrap_or("");
                assert!(!t.trim().is_empty(), "{} has no {field}", rule["id"]);
            }
        }
    }
}

#[test]
fn an_expired_acceptance_is_one_alert_on_its_threat_line_without_todays_date() {
    let r = fx::results();
    let doc = sarif(&r);
    let t = r.model.threat("T-DB-I-01").expect("the fixture's expired threat");
    let uri = r.model.repo_path(&t.location.file);
    let here: Vec<&Value> = results_of(&doc)
        .iter()
        .filter(|x| {
            let l = &x["locations"][0]["physicalLocation"];
            l["artifactLocation"]["uri"] == uri.as_str() && l["region"]["startLine"] == t.location.line
        })
        .collect();
    assert_eq!(here.len(), 1, "one alert on the line: {here:#?}");
    let alert = here[0];
    assert_eq!(alert["ruleId"], "T-DB-I-01");
    assert_eq!(alert["level"], "error", "the expired acceptance fails the gate");
    assert_eq!(alert["properties"]["lint"], serde_json::json!(["acceptance-expired"]));
    let message = alert["message"]["text"].as_str().expect("message");
    assert!(message.contains("expired on 2020-01-01"), "{message}");
    assert!(!message.contains("today"), "{message}");

    // The shipped model in 2099: every threat with an expired acceptance is one alert, on its
    // own rule.
    let r = shipped_without_evidence(date("2099-01-01"));
    let doc = sarif(&r);
    let places = places(&doc);
    for t in r.model.threats.iter().filter(|t| t.acceptance.is_some()) {
        let uri = r.model.repo_path(&t.location.file);
        let on_line: Vec<&String> = places
            .iter()
            .filter(|(_, u, l)| *u == uri && *l == u64::from(t.location.line))
            .map(|(rule, _, _)| rule)
            .collect();
        assert!(on_line.contains(&&t.id), "{}: {on_line:?}", t.id);
        assert!(
            !on_line.iter().any(|rule| *rule == "lint/acceptance-expired"),
            "{}: {on_line:?}",
            t.id
        );
    }
    for res in results_of(&doc) {
        let message = res["message"]["text"].as_str().expect("message");
        assert!(
            !message.contains("today") && !message.contains("2099-01-01"),
            "{message}"
        );
    }
}

#[test]
fn several_findings_of_one_rule_on_one_item_are_one_result_listing_them() {
    let r = shipped_without_evidence(date("2099-01-01"));
    let doc = sarif(&r);
    // A threat citing several items: each is unknown evidence, all on its line.
    let t = r
        .model
        .threats
        .iter()
        .find(|t| t.evidence.len() > 1)
        .expect("a threat with evidence items");
    let alerts: Vec<&Value> = results_of(&doc)
        .iter()
        .filter(|x| {
            x["ruleId"] == "lint/unknown-evidence"
                && x["locations"][0]["physicalLocation"]["region"]["startLine"] == t.location.line
                && x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    == r.model.repo_path(&t.location.file).as_str()
        })
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let message = alerts[0]["message"]["text"].as_str().expect("message");
    for e in &t.evidence {
        assert!(message.contains(&e.to_string()), "{e} missing from {message}");
    }
}

#[test]
fn regions_span_the_items_table_header_in_the_model_source() {
    for (what, r) in [
        ("the fixture", fx::results()),
        ("the shipped model", shipped_without_evidence(date("2099-01-01"))),
    ] {
        let doc = sarif(&r);
        let mut sources = BTreeMap::new();
        for res in results_of(&doc) {
            let l = &res["locations"][0]["physicalLocation"];
            let uri = l["artifactLocation"]["uri"].as_str().expect("uri").to_owned();
            let source = sources
                .entry(uri.clone())
                .or_insert_with(|| std::fs::read_to_string(workspace().join(&uri)).expect("the located file"));
            let region = |f: &str| usize::try_from(l["region"][f].as_u64().expect(f)).expect("fits");
            assert_eq!(region("startLine"), region("endLine"), "{what}: {res}");
            let line = source.lines().nth(region("startLine") - 1).expect("the line exists");
            let covered: String = line
                .chars()
                .skip(region("startColumn") - 1)
                .take(region("endColumn") - region("startColumn"))
                .collect();
            // The header, without a comment after it.
            let header = line.split('#').next().unwrap_or_default().trim_end();
            assert!(
                covered.starts_with('[') && covered == header,
                "{what}: {uri}:{} region covers {covered:?} of {line:?}",
                region("startLine")
            );
            if !res["ruleId"].as_str().unwrap_or("").starts_with("lint/") {
                assert_eq!(covered, "[[threat]]", "{what}: {res}");
            }
        }
    }
}

#[test]
fn fingerprints_and_messages_are_the_same_for_as_of_dates_that_keep_the_verdict() {
    let pairs = [
        (fixture_as_of(date("2026-11-23")), fixture_as_of(date("2031-06-15"))),
        (
            shipped_without_evidence(date("2099-01-01")),
            shipped_without_evidence(date("2100-02-03")),
        ),
        (
            fixture_with_expired_acceptance_beside_evidence(date("2026-11-23")),
            fixture_with_expired_acceptance_beside_evidence(date("2027-01-02")),
        ),
    ];
    for (a, b) in pairs {
        assert_eq!(a.outcome.verdict, b.outcome.verdict);
        let statuses = |r: &Results| r.outcome.threats.iter().map(|t| t.status).collect::<Vec<Status>>();
        assert_eq!(statuses(&a), statuses(&b), "the dates change no threat's status");
        let (sa, sb) = (sarif(&a), sarif(&b));
        let prints = |doc: &Value| {
            results_of(doc)
                .iter()
                .map(|r| (r["ruleId"].to_string(), r["partialFingerprints"].to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(prints(&sa), prints(&sb));
        for (_, fingerprint) in prints(&sa) {
            assert!(!has_date(&fingerprint), "{fingerprint}");
            for day in [a.as_of, b.as_of] {
                assert!(
                    !fingerprint.contains(&day.to_string().replace('-', "")),
                    "{fingerprint}"
                );
            }
        }
        assert!(
            report::sarif(&a).expect("renders") == report::sarif(&b).expect("renders"),
            "the whole file is the same: nothing in it is the date of the run"
        );
    }
}

#[test]
fn the_checks_reject_hand_broken_sarif() {
    let good = sarif(&fx::results());
    assert!(github_subset(&good).is_empty());
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        edit(&mut doc);
        doc
    };
    let rule = "/runs/0/tool/driver/rules/0";
    let result = "/runs/0/results/0";
    let remove = |doc: &mut Value, at: &str, key: &str| {
        doc.pointer_mut(at)
            .and_then(Value::as_object_mut)
            .expect("an object")
            .remove(key);
    };
    let set = |doc: &mut Value, at: &str, value: Value| {
        *doc.pointer_mut(at).expect("the field exists") = value;
    };
    for (what, doc, expected) in [
        ("a rule without help", broken(&|d| remove(d, rule, "help")), "help.text"),
        (
            "a rule without a full description",
            broken(&|d| remove(d, rule, "fullDescription")),
            "fullDescription",
        ),
        (
            "a region without an end column",
            broken(&|d| remove(d, &format!("{result}/locations/0/physicalLocation/region"), "endColumn")),
            "region lacks",
        ),
        (
            "a result naming no rule",
            broken(&|d| set(d, &format!("{result}/ruleId"), "nope".into())),
            "names no rule",
        ),
        (
            "an undefined URI base",
            broken(&|d| remove(d, "/runs/0", "originalUriBaseIds")),
            "is not defined",
        ),
        (
            "two alerts on one line",
            broken(&|d| {
                let results = d
                    .pointer_mut("/runs/0/results")
                    .and_then(Value::as_array_mut)
                    .expect("results");
                let mut twin = results[0].clone();
                twin["partialFingerprints"]["primaryLocationLineHash"] = "another".into();
                results.push(twin);
            }),
            "a second result",
        ),
        (
            "a dated fingerprint",
            broken(&|d| {
                let dated = serde_json::json!({ "primaryLocationLineHash": "x:2099-01-01" });
                set(d, &format!("{result}/partialFingerprints"), dated);
            }),
            "without a date",
        ),
    ] {
        let problems = github_subset(&doc);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{what} not rejected: {problems:?}"
        );
    }
    // The schema check is not vacuous either.
    let bad_level = broken(&|d| set(d, &format!("{result}/level"), "fatal".into()));
    assert!(
        !schema_errors(&bad_level).is_empty(),
        "level \"fatal\" passes the schema"
    );
    let no_version = broken(&|d| remove(d, "", "version"));
    assert!(
        !schema_errors(&no_version).is_empty(),
        "a log without a version passes the schema"
    );
}

#[test]
fn an_expired_acceptance_beside_evidence_is_its_own_lint_alert_without_todays_date() {
    let r = fixture_with_expired_acceptance_beside_evidence(date("2026-11-23"));
    let doc = sarif(&r);
    assert_valid(&doc, "the fixture with an expired acceptance beside evidence");
    let t = r.model.threat("T-SRV-T-01").expect("the threat");
    let on_line: Vec<&Value> = results_of(&doc)
        .iter()
        .filter(|x| x["locations"][0]["physicalLocation"]["region"]["startLine"] == t.location.line)
        .collect();
    let rules: Vec<&str> = on_line.iter().filter_map(|x| x["ruleId"].as_str()).collect();
    assert_eq!(
        rules,
        ["T-SRV-T-01", "lint/acceptance-expired"],
        "two findings, two rules"
    );
    let message = on_line[1]["message"]["text"].as_str().expect("message");
    assert!(message.contains("expired on 2021-03-31"), "{message}");
    assert!(
        !message.contains("today") && !message.contains("2026-11-23"),
        "{message}"
    );
}
