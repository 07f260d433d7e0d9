//! The report writers on the hostile fixture: snapshots of every format, SARIF and JUnit
//! validity, escaping, determinism, and writing the six files.

use std::collections::BTreeSet;

use threats::report::{self, REPORT_FILES, RenderOptions};

use crate::threat_fixtures as fx;
mod junit_schema;
mod sarif_subset;

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn stride_markdown_matches_its_snapshot() {
    insta::assert_snapshot!(
        "stride_md",
        report::stride_markdown(&fx::results(), RenderOptions::stable())
    );
}

#[test]
fn stride_html_matches_its_snapshot() {
    insta::assert_snapshot!(
        "stride_html",
        report::stride_html(&fx::results(), RenderOptions::stable())
    );
}

#[test]
fn architecture_markdown_matches_its_snapshot() {
    insta::assert_snapshot!("architecture_md", report::architecture_markdown(&fx::results()));
}

#[test]
fn results_json_matches_its_snapshot() {
    let json = report::results_json(&fx::results(), RenderOptions::stable()).expect("json");
    insta::assert_snapshot!("results_json", text(json));
}

#[test]
fn sarif_matches_its_snapshot() {
    insta::assert_snapshot!("results_sarif", text(report::sarif(&fx::results()).expect("sarif")));
}

#[test]
fn junit_matches_its_snapshot() {
    insta::assert_snapshot!("junit_xml", report::junit(&fx::results(), RenderOptions::stable()));
}

#[test]
fn the_committed_fixture_results_json_is_current() {
    // tests/fixtures/results.json is what the `report` command tests re-render; regenerate it
    // with THREATCHECK_UPDATE_FIXTURES=1 when the fixture or the schema changes.
    let fresh = report::results_json(&fx::results(), RenderOptions::default()).expect("json");
    let path = fx::dir().join("results.json");
    if std::env::var_os("THREATCHECK_UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &fresh).expect("write the fixture");
    }
    let committed = std::fs::read(&path).expect("tests/fixtures/results.json exists");
    assert!(
        committed == fresh,
        "tests/fixtures/results.json is stale: run with THREATCHECK_UPDATE_FIXTURES=1"
    );
}

#[test]
fn sarif_is_valid_for_code_scanning() {
    let r = fx::results();
    let doc: serde_json::Value = serde_json::from_slice(&report::sarif(&r).expect("sarif")).expect("parses");
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().is_some_and(|s| s.contains("sarif-2.1.0")));
    let run = &doc["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "threatcheck");
    assert!(
        driver["informationUri"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    let rules = driver["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().map(|x| x["id"].as_str().expect("rule id")).collect();
    for t in &r.model.threats {
        assert!(ids.contains(&t.id.as_str()), "no rule for {}", t.id);
    }
    for rule in rules
        .iter()
        .filter(|x| !x["id"].as_str().unwrap_or("").starts_with("lint/"))
    {
        let sev: f64 = rule["properties"]["security-severity"]
            .as_str()
            .expect("a string")
            .parse()
            .expect("a number");
        assert!((0.0..=10.0).contains(&sev));
    }
    let results = run["results"].as_array().expect("results");
    let mut threat_results = BTreeSet::new();
    for res in results {
        let rule_id = res["ruleId"].as_str().expect("ruleId");
        let index = usize::try_from(res["ruleIndex"].as_u64().expect("ruleIndex")).expect("fits");
        assert_eq!(ids[index], rule_id, "ruleIndex points at its rule");
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().expect("level")));
        assert!(!res["message"]["text"].as_str().expect("message").is_empty());
        let loc = &res["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(uri.starts_with("threats/tests/fixtures/model/"), "{uri}");
        let line = loc["region"]["startLine"].as_u64().expect("startLine");
        let file = fx::dir()
            .join("model")
            .join(uri.trim_start_matches("threats/tests/fixtures/model/"));
        let source = std::fs::read_to_string(file).expect("the located file exists");
        assert!(line >= 1 && line as usize <= source.lines().count());
        if !rule_id.starts_with("lint/") {
            assert_eq!(source.lines().nth(line as usize - 1), Some("[[threat]]"));
            threat_results.insert(rule_id.to_owned());
        }
    }
    let expected: BTreeSet<String> = [
        "T-SRV-T-01",
        "T-SRV-R-01",
        "T-SRV-I-01",
        "T-SRV-D-01",
        "T-SRV-E-01",
        "T-DB-I-01",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        threat_results, expected,
        "results only for failing and unverified threats"
    );
}

#[test]
fn junit_is_well_formed_with_one_case_per_threat_and_evidence_item() {
    let r = fx::results();
    let xml = report::junit(&r, RenderOptions::default());
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let threats = root
        .children()
        .find(|n| n.attribute("name") == Some("threats"))
        .expect("threats suite");
    let cases: Vec<_> = threats.children().filter(|n| n.has_tag_name("testcase")).collect();
    let items: usize = r.model.threats.iter().map(|t| t.evidence.len().max(1)).sum();
    assert_eq!(cases.len(), items);
    assert_eq!(threats.attribute("tests"), Some(items.to_string().as_str()));
    let failures = doc.descendants().filter(|n| n.has_tag_name("failure")).count();
    assert_eq!(root.attribute("failures"), Some(failures.to_string().as_str()));
    let skipped: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].attribute("classname"), Some("T-DB-T-01"));
    let missing = cases
        .iter()
        .find(|c| c.attribute("name") == Some("property:missing-prop"))
        .expect("the missing item has a case");
    assert!(missing.children().any(|n| n.has_tag_name("failure")));
}

#[test]
fn rendering_is_deterministic_and_stable_output_ignores_timings() {
    let r = fx::results();
    let a = report::render_all(&r, RenderOptions::default()).expect("render");
    let b = report::render_all(&r, RenderOptions::default()).expect("render");
    assert_eq!(a, b);
    let mut slower = r.clone();
    for p in &mut slower.evidence.properties {
        p.timing.seconds += 100.0;
    }
    for h in &mut slower.evidence.harnesses {
        h.timing.seconds *= 3.0;
    }
    let stable = report::render_all(&r, RenderOptions::stable()).expect("render");
    let stable_slower = report::render_all(&slower, RenderOptions::stable()).expect("render");
    assert_eq!(stable, stable_slower);
    let timed = report::render_all(&slower, RenderOptions::default()).expect("render");
    assert_ne!(timed, stable_slower, "timings show when asked for");
}

#[test]
fn html_escapes_untrusted_text_and_loads_nothing() {
    let html = report::stride_html(&fx::results(), RenderOptions::stable());
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "raw script tag");
    assert!(lower.contains("&lt;script&gt;alert("), "escaped script text present");
    for external in [
        "src=",
        "<link",
        "<img",
        "@import",
        "url(",
        "href=\"http",
        "href=\"//",
        "javascript:",
    ] {
        assert!(!lower.contains(external), "{external} in a self-contained page");
    }
    // Every link is to this page, and to an id that exists on it.
    let ids: std::collections::BTreeSet<&str> = html
        .split(" id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let mut links = 0;
    for rest in html.split("href=\"").skip(1) {
        let target = rest.split('"').next().unwrap_or("");
        let anchor = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("link off the page: {target}"));
        assert!(ids.contains(anchor), "a link to #{anchor}, which no element has");
        links += 1;
    }
    assert!(links > 10, "the page links its ids ({links} links)");
    assert!(html.contains("default-src 'none'"));
    assert!(!html.contains('\u{202e}'), "bidi override printed raw");
    assert!(html.contains("\\u{202e}"));
}

#[test]
fn markdown_escapes_untrusted_text_and_keeps_tables_intact() {
    let r = fx::results();
    for md in [
        report::stride_markdown(&r, RenderOptions::stable()),
        report::architecture_markdown(&r),
    ] {
        assert!(!md.to_lowercase().contains("<script"));
        assert!(!md.contains('\u{202e}'));
        let mut in_fence = false;
        let mut columns = None;
        for line in md.lines() {
            if line.starts_with("```") {
                in_fence = !in_fence;
                continue;
            }
            if in_fence || !line.starts_with('|') {
                columns = None;
                continue;
            }
            // Cells are separated by unescaped pipes; every row of a table has the same count.
            let n = line.replace("\\\\", "").replace("\\|", "").matches('|').count();
            assert_eq!(*columns.get_or_insert(n), n, "ragged table row: {line}");
        }
    }
}

#[test]
fn mermaid_blocks_carry_no_raw_special_characters() {
    let r = fx::results();
    let md = report::stride_markdown(&r, RenderOptions::stable()) + &report::architecture_markdown(&r);
    let mut in_fence = false;
    for line in md.lines() {
        if line == "```mermaid" {
            in_fence = true;
            continue;
        }
        if line == "```" {
            in_fence = false;
            continue;
        }
        if in_fence {
            // The labels: quoted in flowcharts, after ": " in messages and notes, after " as "
            // in participant declarations.
            let text: String = if line.contains('"') {
                line.split('"').skip(1).step_by(2).collect::<Vec<_>>().join(" ")
            } else if let Some((_, t)) = line.split_once(": ") {
                t.to_owned()
            } else if let Some((_, t)) = line.split_once(" as ") {
                t.to_owned()
            } else {
                continue;
            };
            let mut plain = text.replace("<br/>", " ");
            while let Some(i) = plain.find('#') {
                let end = plain[i..].find(';').map_or(plain.len(), |e| i + e + 1);
                plain.replace_range(i..end, "");
            }
            for bad in [';', '%', '`', '<', '>', '"', ':', '[', ']', '{', '}', '|'] {
                assert!(!plain.contains(bad), "raw {bad:?} in mermaid line {line}");
            }
        }
    }
}

#[test]
fn write_reports_writes_the_six_files_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("reports");
    report::write_reports(&fx::results(), &out).expect("written");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = REPORT_FILES.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn the_shipped_model_renders_an_architecture_page_with_every_section() {
    let model =
        threats::ThreatModel::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("model")).expect("loads");
    let evidence = threats::Evidence::default();
    let lint = threats::lint::lint(&model, &threats::KnownEvidence::default(), fx::as_of());
    let r = threats::Results::new(fx::results().tool, fx::as_of(), model, evidence, lint);
    let page = report::architecture_markdown(&r);
    for heading in [
        "## 1. Description",
        "### Purpose",
        "### Deployment",
        "## 2. Components",
        "## 3. Trust boundaries",
        "## 4. External dependencies and security assumptions",
        "## 5. Interfaces",
        "## 6. Data assets",
        "## 7. Block diagram",
        "## 8. Sequence diagrams",
        "### Job key exchange and first message",
        "## 9. Findings",
    ] {
        assert!(page.contains(heading), "missing {heading}");
    }
    assert!(page.contains("```mermaid\nflowchart LR\n  subgraph b0"));
    assert!(page.contains("IK message 1"));
    if let Some(dir) = std::env::var_os("THREATCHECK_SHIPPED_REPORTS") {
        report::write_reports(&r, std::path::Path::new(&dir)).expect("written");
    }
}
