//! One test per lint rule: each breaks the minimal clean model in one way and expects that
//! rule's finding, so removing a rule fails its test.

use std::collections::BTreeSet;

use super::{KnownEvidence, Rule, Severity, has_errors, lint};
use crate::model::{Acceptance, Asset, Date, EvidenceRef, Rating, Story, ThreatModel};

const MINI: &str = include_str!("../../tests/fixtures/mini-model/mini.toml");

fn mini() -> ThreatModel {
    ThreatModel::from_sources("threats/tests/fixtures/mini-model", [("mini.toml", MINI)]).expect("the mini model loads")
}

fn known() -> KnownEvidence {
    KnownEvidence::new(&["p"], &["v"], &["s01-h"])
}

fn today() -> Date {
    "2026-11-23".parse().expect("a date")
}

fn rules_of(m: &ThreatModel, k: &KnownEvidence) -> BTreeSet<Rule> {
    lint(m, k, today()).into_iter().map(|f| f.rule).collect()
}

fn assert_finds(m: &ThreatModel, rule: Rule) {
    let rules = rules_of(m, &known());
    assert!(rules.contains(&rule), "expected {rule}, got {rules:?}");
}

#[test]
fn the_minimal_model_is_clean() {
    assert_eq!(lint(&mini(), &known(), today()), vec![]);
}

#[test]
fn a_missing_system_section_is_found() {
    let mut m = mini();
    m.system = None;
    assert_finds(&m, Rule::SectionMissing);
    let mut m = mini();
    m.dependencies.clear();
    assert_finds(&m, Rule::SectionMissing);
    let mut m = mini();
    m.sequences.clear();
    assert_finds(&m, Rule::SectionMissing);
}

#[test]
fn an_entity_without_purpose_or_a_threat_without_countermeasure_is_incomplete() {
    let mut m = mini();
    m.entities[0].purpose = "  ".into();
    assert_finds(&m, Rule::ItemIncomplete);
    let mut m = mini();
    m.threats[0].countermeasure.clear();
    assert_finds(&m, Rule::ItemIncomplete);
    let mut m = mini();
    m.dependencies[0].assumptions.clear();
    assert_finds(&m, Rule::ItemIncomplete);
}

#[test]
fn a_reference_to_an_unknown_entity_is_found() {
    let mut m = mini();
    m.flows[0].to = "nowhere".into();
    assert_finds(&m, Rule::UnknownReference);
    let mut m = mini();
    m.threats[0].stories.push("S99".into());
    assert_finds(&m, Rule::UnknownReference);
}

#[test]
fn duplicate_ids_are_found() {
    let mut m = mini();
    let again = m.flows[0].clone();
    m.flows.push(again);
    assert_finds(&m, Rule::DuplicateId);
}

#[test]
fn a_threat_id_that_does_not_match_its_entity_and_category_is_found() {
    let mut m = mini();
    m.threats[0].id = "T-SRV-S-1".into();
    assert_finds(&m, Rule::IdFormat);
    let mut m = mini();
    m.threats[0].id = "T-CLI-S-01".into();
    assert_finds(&m, Rule::IdFormat);
}

#[test]
fn a_stride_category_neither_threatened_nor_justified_is_a_gap() {
    let mut m = mini();
    m.not_applicable
        .retain(|n| n.stride != crate::model::Stride::Repudiation);
    assert_finds(&m, Rule::StrideGap);
}

#[test]
fn a_category_both_threatened_and_not_applicable_is_a_contradiction() {
    let mut m = mini();
    let mut na = m.not_applicable[0].clone();
    na.entity = "server".into();
    m.not_applicable.push(na);
    assert_finds(&m, Rule::StrideContradiction);
}

#[test]
fn a_threat_without_evidence_or_acceptance_is_found() {
    let mut m = mini();
    m.threats[0].evidence.clear();
    assert_finds(&m, Rule::NoEvidence);
}

#[test]
fn an_expired_acceptance_is_found_relative_to_the_date_passed_in() {
    let mut m = mini();
    m.threats[0].evidence.clear();
    m.threats[0].acceptance = Some(Acceptance {
        owner: "me".into(),
        reason: "later".into(),
        until: "2026-11-22".parse().expect("a date"),
    });
    assert_finds(&m, Rule::AcceptanceExpired);
    let earlier = lint(&m, &known(), "2026-11-22".parse().expect("a date"));
    assert!(earlier.is_empty(), "valid through its until date: {earlier:?}");
}

#[test]
fn an_acceptance_beside_evidence_is_a_warning() {
    let mut m = mini();
    m.threats[0].acceptance = Some(Acceptance {
        owner: "me".into(),
        reason: "belt and braces".into(),
        until: "2099-01-01".parse().expect("a date"),
    });
    assert_finds(&m, Rule::AcceptanceWithEvidence);
    assert!(!has_errors(&lint(&m, &known(), today())));
}

#[test]
fn evidence_that_does_not_exist_is_found() {
    let mut m = mini();
    m.threats[0]
        .evidence
        .push("harness:s01-nope".parse::<EvidenceRef>().expect("a reference"));
    assert_finds(&m, Rule::UnknownEvidence);
}

#[test]
fn a_story_that_needs_a_harness_without_one_is_found() {
    let mut m = mini();
    for t in &mut m.threats {
        t.evidence.retain(|e| e.kind != crate::model::EvidenceKind::Harness);
        if t.evidence.is_empty() {
            t.evidence.push("property:p".parse().expect("a reference"));
        }
    }
    let k = KnownEvidence::new(&["p"], &["v"], &[]);
    assert!(rules_of(&m, &k).contains(&Rule::StoryWithoutHarness));
}

#[test]
fn a_story_no_threat_serves_is_found_unless_met_otherwise() {
    let mut m = mini();
    let mut s: Story = m.stories[0].clone();
    s.id = "C02".into();
    s.requires_harness = false;
    m.stories.push(s);
    assert_finds(&m, Rule::StoryWithoutThreat);
    if let Some(s) = m.stories.last_mut() {
        s.met_by = Some("by the process".into());
    }
    assert!(!rules_of(&m, &known()).contains(&Rule::StoryWithoutThreat));
}

#[test]
fn a_threat_serving_no_story_is_found() {
    let mut m = mini();
    m.threats[0].stories.clear();
    assert_finds(&m, Rule::ThreatWithoutStory);
}

#[test]
fn known_evidence_no_threat_cites_is_a_warning() {
    let mut k = known();
    k.variants.insert("unused-check".into());
    let findings = lint(&mini(), &k, today());
    assert!(
        findings
            .iter()
            .any(|f| f.rule == Rule::UnusedEvidence && f.severity == Severity::Warning)
    );
}

#[test]
fn a_cited_property_no_variant_breaks_is_a_warning_and_one_a_variant_breaks_is_not() {
    // Knowing that v breaks some other property, the mini model's property:p breaks nowhere.
    let k = known().with_break("v", "q");
    let findings = lint(&mini(), &k, today());
    let unbroken: Vec<_> = findings.iter().filter(|f| f.rule == Rule::UnbrokenProperty).collect();
    assert_eq!(unbroken.len(), 1, "{findings:?}");
    assert_eq!(unbroken[0].severity, Severity::Warning);
    assert!(
        unbroken[0].message.starts_with("property:p is cited by "),
        "{}",
        unbroken[0].message
    );
    let k = known().with_break("v", "p");
    assert!(!rules_of(&mini(), &k).contains(&Rule::UnbrokenProperty));
    // Knowing nothing about variants, the rule is not checked.
    assert!(!rules_of(&mini(), &known()).contains(&Rule::UnbrokenProperty));
}

#[test]
fn an_asset_neither_held_nor_carried_is_unconnected() {
    let mut m = mini();
    let mut a: Asset = m.assets[0].clone();
    a.id = "orphan".into();
    a.held_by.clear();
    a.confidentiality = Rating::Low;
    m.assets.push(a);
    assert_finds(&m, Rule::Unconnected);
}

#[test]
fn every_rule_has_a_distinct_name_and_a_description() {
    let names: BTreeSet<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(names.len(), Rule::ALL.len());
    assert!(Rule::ALL.iter().all(|r| !r.description().is_empty()));
}

#[test]
fn findings_carry_the_file_and_line_of_the_item() {
    let mut m = mini();
    m.threats[1].evidence.clear();
    let f = lint(&m, &known(), today());
    let loc = f
        .iter()
        .find(|f| f.rule == Rule::NoEvidence)
        .and_then(|f| f.location.clone())
        .expect("located");
    assert_eq!(loc.file, "mini.toml");
    assert_eq!(MINI.lines().nth(loc.line as usize - 1), Some("[[threat]]"));
    assert_eq!(MINI.lines().nth(loc.line as usize), Some("id = \"T-SRV-T-01\""));
}
