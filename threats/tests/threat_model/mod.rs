//! The threat model library: loading (errors point at file, line and field; limits hold),
//! the shipped model, the join's statuses and verdict, and results.json's checks.

use std::fs;
use std::path::Path;

use threats::join::{ItemState, Status, Verdict};
use threats::lint::Rule;
use threats::model::{MAX_FILE_BYTES, MAX_FILES, MAX_ITEMS, ModelError};
use threats::results::{ResultsError, SCHEMA};
use threats::{EvidenceRef, KnownEvidence, Results, ThreatModel};

use crate::threat_fixtures as fx;

const MINI: &str = include_str!("../fixtures/mini-model/mini.toml");

/// A model directory holding `files`.
fn model_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn load_err(files: &[(&str, &str)]) -> ModelError {
    let dir = model_dir(files);
    ThreatModel::load(dir.path()).expect_err("the model must not load")
}

/// The line of `needle`'s first occurrence in `text`, from 1.
fn line_of(text: &str, needle: &str) -> u32 {
    let i = text.find(needle).expect("needle present");
    u32::try_from(text[..i].matches('\n').count() + 1).expect("small")
}

#[test]
fn the_shipped_model_loads_and_lints_clean_against_its_own_evidence_names() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("model");
    let m = ThreatModel::load(&dir).expect("the shipped model loads");
    let mut known = KnownEvidence::default();
    for r in m.threats.iter().flat_map(|t| &t.evidence) {
        let set = match r.kind {
            threats::model::EvidenceKind::Property => &mut known.properties,
            threats::model::EvidenceKind::Variant => &mut known.variants,
            threats::model::EvidenceKind::Harness => &mut known.harnesses,
        };
        set.insert(r.name.clone());
    }
    let findings = threats::lint::lint(&m, &known, fx::as_of());
    assert_eq!(findings, vec![]);
    for s in 1..=16 {
        let id = format!("S{s:02}");
        let harness = m
            .threats
            .iter()
            .filter(|t| t.stories.contains(&id))
            .flat_map(|t| &t.evidence)
            .any(|e| e.kind == threats::model::EvidenceKind::Harness);
        assert!(harness, "story {id} has no harness");
    }
}

#[test]
fn an_unknown_field_is_reported_with_file_line_and_field() {
    let text = MINI.replace(
        "likelihood = \"medium\"\nimpact = \"high\"",
        "likelyhood = \"medium\"\nimpact = \"high\"",
    );
    let e = load_err(&[("threats.toml", &text)]);
    let line = line_of(&text, "likelyhood");
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("threats.toml:{line}:1: threat[1].likelyhood: unknown field")),
        "{shown}"
    );
    assert_eq!(e.line(), Some(line));
    assert!(e.is_content_error());
}

#[test]
fn a_bad_rating_names_the_field_and_its_line() {
    let text = MINI.replace(
        "likelihood = \"low\"\nimpact = \"medium\"",
        "likelihood = \"extreme\"\nimpact = \"medium\"",
    );
    let e = load_err(&[("m.toml", &text)]);
    let shown = e.to_string();
    assert!(shown.contains("threat[2].likelihood"), "{shown}");
    assert!(shown.contains("unknown variant `extreme`"), "{shown}");
    assert_eq!(e.line(), Some(line_of(&text, "\"extreme\"")));
}

#[test]
fn a_missing_field_is_named_at_its_table() {
    let text = MINI.replacen("countermeasure = \"Authenticate.\"\n", "", 1);
    let e = load_err(&[("m.toml", &text)]);
    let shown = e.to_string();
    assert!(
        shown.contains("threat[0].countermeasure: missing field `countermeasure`"),
        "{shown}"
    );
    let table = line_of(&text, "[[threat]]");
    assert_eq!(e.line(), Some(table));
}

#[test]
fn a_malformed_evidence_reference_points_at_it() {
    let text = MINI.replacen(
        "evidence = [\"property:p\"]",
        "evidence = [\"property:p\", \"proof:p\"]",
        1,
    );
    let e = load_err(&[("m.toml", &text)]);
    let shown = e.to_string();
    assert!(shown.contains("threat[0].evidence[1]"), "{shown}");
    assert!(shown.contains("not an evidence reference"), "{shown}");
    assert_eq!(e.line(), Some(line_of(&text, "\"proof:p\"")));
}

#[test]
fn a_toml_syntax_error_points_at_its_line() {
    let text = format!("{MINI}\n[[threat]\n");
    let e = load_err(&[("m.toml", &text)]);
    assert_eq!(e.line(), Some(line_of(&text, "[[threat]\n")));
    assert!(e.to_string().contains("m.toml:"), "{e}");
}

#[test]
fn an_acceptance_date_with_a_time_is_refused() {
    let text = MINI.replacen(
        "evidence = [\"property:p\"]",
        "[threat.acceptance]\nowner = \"me\"\nreason = \"r\"\nuntil = 2027-01-01T00:00:00Z",
        1,
    );
    let e = load_err(&[("m.toml", &text)]);
    let shown = e.to_string();
    assert!(shown.contains("acceptance.until"), "{shown}");
    assert_eq!(e.line(), Some(line_of(&text, "until =")));
}

#[test]
fn a_second_system_section_is_refused_with_both_places() {
    let e = load_err(&[
        ("a.toml", MINI),
        (
            "b.toml",
            "\n[system]\nname = \"x\"\ndescription = \"d\"\nusage = \"u\"\ndeployment = \"d\"\nadministration = \"a\"\n",
        ),
    ]);
    let shown = e.to_string();
    assert!(
        shown.contains("b.toml:2:1: system: declared again (first at a.toml:"),
        "{shown}"
    );
}

#[test]
fn stray_files_are_refused_and_documentation_is_ignored() {
    let e = load_err(&[("mini.toml", MINI), ("threats.tml", "")]);
    assert!(matches!(e, ModelError::StrayFile { .. }), "{e}");
    let dir = model_dir(&[("mini.toml", MINI), ("README.md", "# notes"), (".hidden", "x")]);
    let m = ThreatModel::load(dir.path()).expect("loads");
    assert_eq!(m.files, vec!["mini.toml".to_owned()]);
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let big = "#".repeat(usize::try_from(MAX_FILE_BYTES).expect("fits") + 1);
    let e = load_err(&[("big.toml", &big)]);
    assert!(matches!(e, ModelError::FileTooLarge { .. }), "{e}");
}

#[test]
fn too_many_files_are_refused() {
    let names: Vec<String> = (0..=MAX_FILES).map(|i| format!("f{i:03}.toml")).collect();
    let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    let e = load_err(&files);
    assert!(matches!(e, ModelError::TooManyFiles { .. }), "{e}");
}

#[test]
fn too_many_items_are_refused() {
    let item = "[[not_applicable]]\nentity = \"e\"\nstride = \"spoofing\"\nreason = \"r\"\n";
    let text = item.repeat(MAX_ITEMS + 1);
    let e = ThreatModel::from_sources("x", [("many.toml", text.as_str())]).expect_err("too many");
    assert!(matches!(e, ModelError::TooManyItems { .. }), "{e}");
}

#[test]
fn an_empty_or_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ThreatModel::load(dir.path()).expect_err("empty");
    assert!(matches!(e, ModelError::NoModelFiles { .. }), "{e}");
    let e = ThreatModel::load(&dir.path().join("absent")).expect_err("missing");
    assert!(matches!(e, ModelError::ReadDir { .. }), "{e}");
    assert!(!e.is_content_error());
}

#[test]
fn every_threat_remembers_its_file_and_line() {
    let m = fx::model();
    let t = m.threat("T-DB-I-01").expect("present");
    let text = fs::read_to_string(fx::dir().join("model").join(&t.location.file)).expect("read");
    let line = text.lines().nth(t.location.line as usize - 1).expect("line");
    assert_eq!(line, "[[threat]]");
    let next = text.lines().nth(t.location.line as usize).expect("line");
    assert_eq!(next, "id = \"T-DB-I-01\"");
}

#[test]
fn the_join_gives_each_threat_its_status() {
    let r = fx::results();
    let status = |id: &str| {
        let o = r.outcome.threats.iter().find(|o| o.id == id).expect("outcome");
        (o.status, o.label())
    };
    assert_eq!(status("T-SRV-S-01"), (Status::Verified, "verified".into()));
    assert_eq!(status("T-SRV-T-01").0, Status::Failing, "a failing property");
    assert_eq!(status("T-SRV-R-01").0, Status::Failing, "a variant not found");
    assert_eq!(status("T-SRV-I-01").0, Status::Failing, "a breached harness");
    assert_eq!(status("T-SRV-D-01").0, Status::Failing, "a control that did not breach");
    assert_eq!(
        status("T-SRV-E-01").0,
        Status::Unverified,
        "evidence missing from the results"
    );
    assert_eq!(
        status("T-DB-T-01"),
        (Status::Accepted, "accepted until 2099-12-31".into())
    );
    assert_eq!(status("T-DB-I-01").0, Status::Unverified, "an expired acceptance");
    let e01 = r
        .outcome
        .threats
        .iter()
        .find(|o| o.id == "T-SRV-E-01")
        .expect("outcome");
    let states: Vec<ItemState> = e01.items.iter().map(|i| i.state).collect();
    assert_eq!(states, vec![ItemState::Green, ItemState::Missing]);
}

#[test]
fn the_verdict_is_red_with_every_reason_and_uncited_evidence_counts() {
    let r = fx::results();
    assert_eq!(r.outcome.verdict, Verdict::Red);
    let reasons = r.outcome.reasons.join("\n");
    for needle in [
        "property integrity-fails fails",
        "witness anything-happens was never reached",
        "variant missed-check",
        "harness s02-breached: the real target was breached",
        "harness s01-toothless: the control",
        "lint: 1 error(s)",
        "threat T-SRV-E-01 is unverified",
        "threat T-DB-I-01 is unverified: no evidence, and the risk acceptance expired on 2020-01-01",
    ] {
        assert!(reasons.contains(needle), "missing {needle:?} in:\n{reasons}");
    }
    let vacuous: EvidenceRef = "property:vacuous-prop".parse().expect("a reference");
    assert_eq!(r.outcome.uncited, vec![vacuous]);
    assert!(r.lint.iter().any(|f| f.rule == Rule::AcceptanceExpired));
}

#[test]
fn all_green_evidence_and_a_clean_model_give_a_green_verdict() {
    let r = green_results();
    assert_eq!(r.outcome.verdict, Verdict::Green, "{:?}", r.outcome.reasons);
    assert!(r.outcome.threats.iter().all(|o| o.status == Status::Verified));
}

#[test]
fn lint_errors_alone_make_the_verdict_red() {
    let g = green_results();
    let mut lint = g.lint.clone();
    lint.push(threats::LintFinding {
        location: None,
        rule: Rule::SectionMissing,
        severity: threats::Severity::Error,
        message: "x".into(),
    });
    let r = Results::new(g.tool.clone(), g.as_of, g.model.clone(), g.evidence.clone(), lint);
    assert_eq!(r.outcome.verdict, Verdict::Red);
}

/// The mini model with green evidence for everything it cites.
pub fn green_results() -> Results {
    let model = ThreatModel::from_sources("mini", [("mini.toml", MINI)]).expect("loads");
    let evidence: threats::Evidence = serde_json::from_str(GREEN).expect("parses");
    let lint = threats::lint::lint(&model, &KnownEvidence::from_evidence(&evidence), fx::as_of());
    Results::new(fx::results().tool, fx::as_of(), model, evidence, lint)
}

pub const GREEN: &str = r#"{
  "properties": [{ "name": "p", "description": "P holds.", "verdict": "holds", "unique_states": 10, "max_depth": 3,
                   "witnesses": [{ "name": "w", "reached": true }], "counterexample": null, "timing": { "seconds": 0.1 } }],
  "variants": [{ "name": "v", "kind": "check", "description": "Without v.", "breaks": "p", "found": true,
                 "counterexample": [{ "actor": "a", "to": "b", "label": "x", "detail": "" }], "states_explored": 5,
                 "timing": { "seconds": 0.2 } }],
  "harnesses": [{ "id": "s01-h", "story": "S01", "target": "server", "description": "Attack.", "outcome": "defended",
                  "evidence": "refused", "control": { "weakened": "variant:v", "outcome": "breached", "evidence": "got in" },
                  "timing": { "seconds": 0.3 } }]
}"#;

#[test]
fn results_round_trip_through_json() {
    let r = fx::results();
    let bytes = r.to_json().expect("serialises");
    let back = Results::from_json(&bytes).expect("reads back");
    assert_eq!(back, r);
    assert!(String::from_utf8_lossy(&bytes).starts_with(&format!("{{\n  \"schema\": \"{SCHEMA}\"")));
}

#[test]
fn results_of_another_schema_version_are_refused() {
    let text = String::from_utf8(fx::results().to_json().expect("json")).expect("utf-8");
    let other = text.replacen(SCHEMA, "threatcheck-results/2", 1);
    let e = Results::from_json(other.as_bytes()).expect_err("refused");
    assert!(
        matches!(e, ResultsError::WrongSchema { ref found } if found == "threatcheck-results/2"),
        "{e}"
    );
    let e = Results::from_json(b"{}").expect_err("refused");
    assert!(matches!(e, ResultsError::WrongSchema { .. }), "{e}");
}

#[test]
fn malformed_results_are_refused_with_a_position() {
    let e = Results::from_json(b"{\n  \"schema\": \"threatcheck-results/1\",\n  oops\n}").expect_err("refused");
    assert!(matches!(e, ResultsError::Json { line: 3, .. }), "{e}");
}

#[test]
fn a_hand_edited_verdict_is_refused() {
    let text = String::from_utf8(fx::results().to_json().expect("json")).expect("utf-8");
    let edited = text.replacen("\"verdict\": \"red\"", "\"verdict\": \"green\"", 1);
    assert_ne!(edited, text);
    let e = Results::from_json(edited.as_bytes()).expect_err("refused");
    assert!(matches!(e, ResultsError::Inconsistent(_)), "{e}");
}

#[test]
fn duplicate_evidence_is_refused() {
    let mut r = fx::results();
    let again = r.evidence.properties[0].clone();
    r.evidence.properties.push(again);
    let bytes = r.to_json().expect("json");
    let e = Results::from_json(&bytes).expect_err("refused");
    assert!(matches!(e, ResultsError::Evidence(_)), "{e}");
}

#[test]
fn reworded_notes_are_accepted_and_recomputed() {
    let r = fx::results();
    let text = String::from_utf8(r.to_json().expect("json")).expect("utf-8");
    let reworded = text.replacen("all 2 evidence item(s) green", "an older wording", 1);
    assert_ne!(reworded, text);
    let back = Results::from_json(reworded.as_bytes()).expect("same meaning");
    assert_eq!(back, r, "the current wording is rendered");
}

#[test]
fn a_hand_edited_threat_status_is_refused() {
    let text = String::from_utf8(fx::results().to_json().expect("json")).expect("utf-8");
    let edited = text.replacen("\"status\": \"failing\"", "\"status\": \"verified\"", 1);
    let e = Results::from_json(edited.as_bytes()).expect_err("refused");
    assert!(e.to_string().contains("is stored as verified"), "{e}");
}
