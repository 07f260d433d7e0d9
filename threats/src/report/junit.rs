//! `junit.xml`: JUnit XML for CI test views, valid against the Jenkins xunit-plugin schema
//! `junit-10.xsd` (vendored in `threats/tests/schemas/`, checked by the tests).
//!
//! Suite `threats`: one test case per threat × evidence item (classname = threat id, name =
//! evidence reference), failing when the item is red or missing; a threat without evidence has
//! one case named `risk-acceptance` (skipped while the acceptance is valid, failed otherwise).
//! Suite `evidence`: one case per result, so red evidence no threat cites still fails.
//! Suite `lint`: one case per lint error, named by rule and subject (`acceptance-expired:
//! threat T-DB-I-01`, never by file and line, so a case keeps its name when lines move; the
//! location is in the failure text), or one passing case. Everything is XML-escaped.
//!
//! Times add up: a case's time is the time its own item took, when the results carry one — a
//! variant's search, a harness's real and control runs; otherwise it is 0. A property's timing
//! is the time of the whole proof run that checked it together with the other properties of
//! that model, so property cases are 0 (never one run's time repeated per property); a threat
//! case only points at evidence, whose time is in the `evidence` suite, so it is 0 too; lint is
//! not timed. Each suite's time is the sum of its cases and `<testsuites>`' the sum of the
//! suites, all in whole milliseconds so the sums are exact in the file. Without timings
//! ([`RenderOptions::stable`]) every time is `0`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RenderOptions;
use super::escape::xml;
use crate::evidence::Health;
use crate::join::{ItemState, Status};
use crate::lint::{LintFinding, Severity};
use crate::model::{EvidenceKind, EvidenceRef, Location, ThreatModel};
use crate::results::Results;

enum Verdict {
    Pass,
    Fail {
        kind: &'static str,
        /// The `message` attribute.
        message: String,
        /// The element's text (the message, with more detail where there is any).
        text: String,
    },
    Skip(String),
}

impl Verdict {
    fn fail(kind: &'static str, message: String) -> Self {
        Self::Fail {
            kind,
            text: message.clone(),
            message,
        }
    }
}

struct Case {
    classname: String,
    name: String,
    /// Whole milliseconds.
    millis: u64,
    verdict: Verdict,
}

/// Seconds as whole milliseconds (0 for anything not a finite, non-negative number).
fn millis(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        // Saturating conversion; a run is never 584 million years long.
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}

/// The time the evidence item `e` itself took, if the results carry one for it alone.
fn own_millis(r: &Results, e: &EvidenceRef) -> u64 {
    let seconds = match e.kind {
        // The proof run's time, shared by every property it checked: not this property's own.
        EvidenceKind::Property => None,
        EvidenceKind::Variant => r.evidence.variant(&e.name).map(|v| v.timing.seconds),
        EvidenceKind::Harness => r.evidence.harness(&e.name).map(|h| h.timing.seconds),
    };
    seconds.map_or(0, millis)
}

/// A time attribute's value: `S.mmm` seconds, or `0` without timings.
fn time(ms: u64, opts: RenderOptions) -> String {
    if opts.timings {
        format!("{}.{:03}", ms / 1000, ms % 1000)
    } else {
        "0".to_owned()
    }
}

fn suite_millis(cases: &[Case]) -> u64 {
    cases.iter().map(|c| c.millis).sum()
}

fn suite(out: &mut String, name: &str, cases: &[Case], opts: RenderOptions) {
    let failures = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail { .. }))
        .count();
    let skipped = cases.iter().filter(|c| matches!(c.verdict, Verdict::Skip(_))).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        xml(name),
        cases.len(),
        time(suite_millis(cases), opts)
    );
    for c in cases {
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            xml(&c.classname),
            xml(&c.name),
            time(c.millis, opts)
        );
        match &c.verdict {
            Verdict::Pass => {
                let _ = writeln!(out, "{head}/>");
            }
            Verdict::Fail { kind, message, text } => {
                let _ = writeln!(
                    out,
                    "{head}>\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>",
                    xml(message),
                    xml(text)
                );
            }
            Verdict::Skip(message) => {
                let _ = writeln!(
                    out,
                    "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(message)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n");
}

/// What the model item declared at `at` is (`threat T-DB-I-01`, `entity SRV`, `system`), if
/// any item is declared there.
fn subject_at(m: &ThreatModel, at: &Location) -> Option<String> {
    let mut items: Vec<(&Location, String)> = Vec::new();
    if let Some(s) = &m.system {
        items.push((&s.location, "system".to_owned()));
    }
    items.extend(m.boundaries.iter().map(|b| (&b.location, format!("boundary {}", b.id))));
    items.extend(m.entities.iter().map(|e| (&e.location, format!("entity {}", e.id))));
    items.extend(m.flows.iter().map(|f| (&f.location, format!("flow {}", f.id))));
    items.extend(m.assets.iter().map(|a| (&a.location, format!("asset {}", a.id))));
    items.extend(
        m.dependencies
            .iter()
            .map(|d| (&d.location, format!("dependency {}", d.id))),
    );
    items.extend(m.stories.iter().map(|s| (&s.location, format!("story {}", s.id))));
    items.extend(m.sequences.iter().map(|s| (&s.location, format!("sequence {}", s.id))));
    items.extend(m.threats.iter().map(|t| (&t.location, format!("threat {}", t.id))));
    items.extend(
        m.not_applicable
            .iter()
            .map(|n| (&n.location, format!("not_applicable {} {}", n.entity, n.stride))),
    );
    items.into_iter().find(|(l, _)| *l == at).map(|(_, s)| s)
}

/// The lint error cases: `rule: subject`, the subject being the model item the finding is
/// about (or, for a finding about the model as a whole, its message); a second finding of the
/// same rule on the same subject is `… #2`, and so on.
fn lint_cases(r: &Results) -> Vec<Case> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    r.lint
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f: &LintFinding| {
            let subject = f
                .location
                .as_ref()
                .and_then(|l| subject_at(&r.model, l))
                .unwrap_or_else(|| f.message.clone());
            let base = format!("{}: {subject}", f.rule);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let name = if *n == 1 { base } else { format!("{base} #{n}") };
            let text = match &f.location {
                Some(l) => format!("{}:{}: {}", r.model.repo_path(&l.file), l.line, f.message),
                None => f.message.clone(),
            };
            Case {
                classname: "lint".into(),
                name,
                millis: 0,
                verdict: Verdict::Fail {
                    kind: "lint",
                    message: f.message.clone(),
                    text,
                },
            }
        })
        .collect()
}

/// Renders `junit.xml` (times are `0` unless `opts.timings`).
#[must_use]
pub fn junit(r: &Results, opts: RenderOptions) -> String {
    let mut threats = Vec::new();
    for o in &r.outcome.threats {
        if o.items.is_empty() {
            let verdict = match o.status {
                Status::Accepted => Verdict::Skip(format!("{}: {}", o.label(), o.note)),
                _ => Verdict::fail("unverified", o.note.clone()),
            };
            threats.push(Case {
                classname: o.id.clone(),
                name: "risk-acceptance".into(),
                millis: 0,
                verdict,
            });
        }
        for i in &o.items {
            let verdict = match i.state {
                ItemState::Green => Verdict::Pass,
                ItemState::Red => Verdict::fail("red", i.detail.clone()),
                ItemState::Missing => Verdict::fail("missing", i.detail.clone()),
            };
            // The item's time is its evidence's, counted once in the `evidence` suite.
            threats.push(Case {
                classname: o.id.clone(),
                name: i.evidence.to_string(),
                millis: 0,
                verdict,
            });
        }
    }
    let evidence: Vec<Case> = r
        .evidence
        .all()
        .map(|(e, health)| Case {
            classname: e.kind.prefix().to_owned(),
            name: e.name.clone(),
            millis: own_millis(r, &e),
            verdict: match health {
                Health::Green => Verdict::Pass,
                Health::Red(why) => Verdict::fail("red", why),
            },
        })
        .collect();
    let mut lint = lint_cases(r);
    if lint.is_empty() {
        lint.push(Case {
            classname: "lint".into(),
            name: "no lint errors".into(),
            millis: 0,
            verdict: Verdict::Pass,
        });
    }
    let suites = [("threats", &threats), ("evidence", &evidence), ("lint", &lint)];
    let all: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures = suites
        .iter()
        .flat_map(|(_, c)| c.iter())
        .filter(|c| matches!(c.verdict, Verdict::Fail { .. }))
        .count();
    let total: u64 = suites.iter().map(|(_, c)| suite_millis(c)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // junit-10.xsd allows no `skipped` here (only on each <testsuite>).
    let _ = writeln!(
        out,
        "<testsuites name=\"threatcheck\" tests=\"{all}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
        time(total, opts)
    );
    for (name, cases) in suites {
        suite(&mut out, name, cases, opts);
    }
    out.push_str("</testsuites>\n");
    out
}
