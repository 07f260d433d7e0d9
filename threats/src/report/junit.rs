//! `junit.xml`: JUnit XML for CI test views.
//!
//! Suite `threats`: one test case per threat × evidence item (classname = threat id, name =
//! evidence reference), failing when the item is red or missing; a threat without evidence has
//! one case named `risk-acceptance` (skipped while the acceptance is valid, failed otherwise).
//! Suite `evidence`: one case per result, so red evidence no threat cites still fails.
//! Suite `lint`: one case per lint error, or one passing case. Everything is XML-escaped.

use std::fmt::Write as _;

use super::RenderOptions;
use super::escape::xml;
use crate::evidence::{Health, Timing};
use crate::join::{ItemState, Status};
use crate::lint::Severity;
use crate::model::{EvidenceKind, EvidenceRef};
use crate::results::Results;

enum Verdict {
    Pass,
    Fail { kind: &'static str, message: String },
    Skip(String),
}

struct Case {
    classname: String,
    name: String,
    seconds: f64,
    verdict: Verdict,
}

fn timing_of(r: &Results, e: &EvidenceRef) -> Timing {
    let t = match e.kind {
        EvidenceKind::Property => r.evidence.property(&e.name).map(|p| p.timing),
        EvidenceKind::Variant => r.evidence.variant(&e.name).map(|v| v.timing),
        EvidenceKind::Harness => r.evidence.harness(&e.name).map(|h| h.timing),
    };
    t.unwrap_or_default()
}

fn suite(out: &mut String, name: &str, cases: &[Case], opts: RenderOptions) {
    let failures = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail { .. }))
        .count();
    let skipped = cases.iter().filter(|c| matches!(c.verdict, Verdict::Skip(_))).count();
    let secs = |s: f64| {
        if opts.timings {
            format!("{s:.3}")
        } else {
            "0".to_owned()
        }
    };
    let total: f64 = cases.iter().map(|c| c.seconds).sum();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        xml(name),
        cases.len(),
        secs(total)
    );
    for c in cases {
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            xml(&c.classname),
            xml(&c.name),
            secs(c.seconds)
        );
        match &c.verdict {
            Verdict::Pass => {
                let _ = writeln!(out, "{head}/>");
            }
            Verdict::Fail { kind, message } => {
                let _ = writeln!(
                    out,
                    "{head}>\n      <failure type=\"{kind}\" message=\"{m}\">{m}</failure>\n    </testcase>",
                    m = xml(message)
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

/// Renders `junit.xml` (times are `0` unless `opts.timings`).
#[must_use]
pub fn junit(r: &Results, opts: RenderOptions) -> String {
    let mut threats = Vec::new();
    for o in &r.outcome.threats {
        if o.items.is_empty() {
            let verdict = match o.status {
                Status::Accepted => Verdict::Skip(format!("{}: {}", o.label(), o.note)),
                _ => Verdict::Fail {
                    kind: "unverified",
                    message: o.note.clone(),
                },
            };
            threats.push(Case {
                classname: o.id.clone(),
                name: "risk-acceptance".into(),
                seconds: 0.0,
                verdict,
            });
        }
        for i in &o.items {
            let verdict = match i.state {
                ItemState::Green => Verdict::Pass,
                ItemState::Red => Verdict::Fail {
                    kind: "red",
                    message: i.detail.clone(),
                },
                ItemState::Missing => Verdict::Fail {
                    kind: "missing",
                    message: i.detail.clone(),
                },
            };
            let seconds = timing_of(r, &i.evidence).seconds;
            threats.push(Case {
                classname: o.id.clone(),
                name: i.evidence.to_string(),
                seconds,
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
            seconds: timing_of(r, &e).seconds,
            verdict: match health {
                Health::Green => Verdict::Pass,
                Health::Red(why) => Verdict::Fail {
                    kind: "red",
                    message: why,
                },
            },
        })
        .collect();
    let mut lint: Vec<Case> = r
        .lint
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| Case {
            classname: "lint".into(),
            name: match &f.location {
                Some(l) => format!("{}:{}: {}", r.model.repo_path(&l.file), l.line, f.rule),
                None => f.rule.to_string(),
            },
            seconds: 0.0,
            verdict: Verdict::Fail {
                kind: "lint",
                message: f.message.clone(),
            },
        })
        .collect();
    if lint.is_empty() {
        lint.push(Case {
            classname: "lint".into(),
            name: "no lint errors".into(),
            seconds: 0.0,
            verdict: Verdict::Pass,
        });
    }
    let all = threats.len() + evidence.len() + lint.len();
    let count = |f: &dyn Fn(&Verdict) -> bool| {
        threats
            .iter()
            .chain(&evidence)
            .chain(&lint)
            .filter(|c| f(&c.verdict))
            .count()
    };
    let failures = count(&|v| matches!(v, Verdict::Fail { .. }));
    let skipped = count(&|v| matches!(v, Verdict::Skip(_)));
    let total: f64 = if opts.timings {
        evidence.iter().map(|c| c.seconds).sum()
    } else {
        0.0
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"threatcheck\" tests=\"{all}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        if opts.timings {
            format!("{total:.3}")
        } else {
            "0".to_owned()
        }
    );
    suite(&mut out, "threats", &threats, opts);
    suite(&mut out, "evidence", &evidence, opts);
    suite(&mut out, "lint", &lint, opts);
    out.push_str("</testsuites>\n");
    out
}
