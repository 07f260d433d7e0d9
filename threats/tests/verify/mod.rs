//! `threatcheck verify`, the release gate: the committed `reports/` are its output on the
//! shipped model and evidence, and a target without one check turns it red, naming the
//! threats that check protects in every report format.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use threats::EvidenceRef;
use threats::join::{Status, Verdict};
use threats::model::{EvidenceKind, ThreatModel};
use threats::report::{REPORT_FILES, RenderOptions, render_all};
use threats::results::Results;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_reports_are_the_output_of_verify_on_the_shipped_model_and_current_evidence() {
    let dir = workspace().join("reports");
    // Reading checks the schema, the evidence and that the stored outcome means what the
    // stored model, evidence and lint give.
    let stored = Results::read(&dir.join("results.json")).expect("reports/results.json is valid");
    let hint = "reports/ is out of date: run `scripts/regenerate-reports.sh` and commit it";

    let mut shipped = ThreatModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("model")).expect("shipped model");
    shipped.source_dir = stored.model.source_dir.clone();
    assert!(stored.model == shipped, "the threat model changed since: {hint}");

    // The evidence names that exist, from the crates that produce them (as `threatcheck lint`
    // gathers them).
    let catalogue = model::catalogue();
    let harness_list = attacks::run::all();
    let properties: Vec<&str> = model::Property::ALL.iter().map(|p| p.name()).collect();
    let variants: Vec<&str> = catalogue.variants.iter().map(|v| v.name).collect();
    let harnesses: Vec<&str> = harness_list.iter().map(|h| h.info.id).collect();
    let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>();
    let e = &stored.evidence;
    let stored_names = |it: Vec<String>| it.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(
        stored_names(e.properties.iter().map(|p| p.name.clone()).collect()),
        set(&properties),
        "{hint}"
    );
    assert_eq!(
        stored_names(e.variants.iter().map(|v| v.name.clone()).collect()),
        set(&variants),
        "{hint}"
    );
    assert_eq!(
        stored_names(e.harnesses.iter().map(|h| h.id.clone()).collect()),
        set(&harnesses),
        "{hint}"
    );
    let mut known = threats::lint::KnownEvidence::new(&properties, &variants, &harnesses);
    // The defence vocabulary and what tests each defence, as `threatcheck` knows them.
    for defence in protocol::Defence::ALL {
        let name = defence.name();
        let variant = variants
            .contains(&name)
            .then(|| EvidenceRef::new(EvidenceKind::Variant, name));
        let tested_by = attacks::run::all()
            .into_iter()
            .filter(|h| h.info.tests(defence))
            .map(|h| EvidenceRef::new(EvidenceKind::Harness, h.info.id));
        known = known.with_defence(name, variant.into_iter().chain(tested_by));
    }
    // And which property each variant breaks.
    for v in &catalogue.variants {
        known = known.with_break(v.name, v.breaks);
    }
    let lint = threats::lint::lint(&stored.model, &known, stored.as_of);
    assert_eq!(stored.lint, lint, "{hint}");

    assert_eq!(stored.outcome.verdict, Verdict::Green, "{:#?}", stored.outcome.reasons);
    // The committed reports carry no timings; a plain `verify` (the README's main command)
    // rewrites them with timings, which must re-render just as faithfully.
    let timed = e.properties.iter().map(|p| p.timing.seconds).any(|s| s > 0.0)
        || e.variants.iter().map(|v| v.timing.seconds).any(|s| s > 0.0)
        || e.harnesses.iter().map(|h| h.timing.seconds).any(|s| s > 0.0);
    let options = if timed {
        RenderOptions::default()
    } else {
        RenderOptions::stable()
    };
    for (name, bytes) in render_all(&stored, options).expect("renders") {
        let committed = fs::read(dir.join(name)).unwrap_or_default();
        assert!(
            committed == bytes,
            "reports/{name} differs from its re-rendering: {hint}"
        );
    }
}

#[test]
fn verify_without_bound_identity_exits_one_and_names_the_failing_threats_in_every_format() {
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .current_dir(workspace())
        .args(["verify", "--quick", "--weaken", "bound-identity", "--out"])
        .arg(out.path())
        .output()
        .expect("threatcheck runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("every harness target without bound-identity"),
        "{stdout}"
    );

    let results = Results::read(&out.path().join("results.json")).expect("results.json");
    assert_eq!(results.outcome.verdict, Verdict::Red);
    let failing: Vec<&str> = results
        .outcome
        .threats
        .iter()
        .filter(|t| t.status == Status::Failing)
        .map(|t| t.id.as_str())
        .collect();
    // The check's own threats: a compromised job claiming another job's identity.
    let citing: Vec<&str> = results
        .model
        .threats
        .iter()
        .filter(|t| {
            t.evidence.iter().any(|e| {
                e.to_string() == "property:sender-authentication" || e.to_string() == "harness:s12-compromised-job"
            })
        })
        .map(|t| t.id.as_str())
        .collect();
    assert!(!citing.is_empty());
    for id in &citing {
        assert!(
            failing.contains(id),
            "{id} cites bound-identity's evidence but is not failing: {failing:?}"
        );
    }
    // Nothing unrelated fails: the people side does not depend on the job channel's check.
    assert!(!failing.iter().any(|id| id.starts_with("T-POLICY")), "{failing:?}");
    for name in REPORT_FILES {
        let text = fs::read_to_string(out.path().join(name)).expect("report written");
        for id in &failing {
            assert!(text.contains(id), "{name} does not name failing threat {id}");
        }
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.path().join("results.sarif")).expect("sarif")).expect("json");
    let flagged = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["level"] == "error")
        .count();
    assert!(flagged >= failing.len(), "every failing threat is an error in SARIF");
    assert!(
        fs::read_to_string(out.path().join("junit.xml"))
            .expect("junit")
            .contains("<failure"),
        "JUnit has failures"
    );
}

/// `verify --quick --weaken NAME` into a fresh directory: its exit code and results.
fn weakened_run(name: &str) -> (Option<i32>, Results, String) {
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .current_dir(workspace())
        .args(["verify", "--quick", "--weaken", name, "--out"])
        .arg(out.path())
        .output()
        .expect("threatcheck runs");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let results = Results::read(&out.path().join("results.json")).expect("results.json");
    (run.status.code(), results, stdout)
}

#[test]
fn verify_weakened_for_a_people_and_a_gateway_defence_breaches_their_harnesses_real_runs() {
    // (bound-identity, the scheduler core's, is the test above.) A people-core defence and a
    // gateway defence that no model variant has: only live targets started without them can
    // breach these harnesses' real runs.
    for (name, harness) in [
        ("site-limit", "s11-cross-owner-command"),
        ("assertion-replay", "s10-cross-audience-token"),
    ] {
        let (code, results, stdout) = weakened_run(name);
        assert_eq!(code, Some(1), "--weaken {name}: {stdout}");
        assert!(
            stdout.contains(&format!("every harness target without {name}")),
            "{stdout}"
        );
        let h = results
            .evidence
            .harnesses
            .iter()
            .find(|h| h.id == harness)
            .unwrap_or_else(|| panic!("{harness} ran"));
        assert_eq!(
            h.outcome,
            threats::HarnessOutcome::Breached,
            "--weaken {name}: {harness}'s real run: {}",
            h.evidence
        );
        let failing: Vec<&str> = results
            .outcome
            .threats
            .iter()
            .filter(|t| t.status == Status::Failing)
            .map(|t| t.id.as_str())
            .collect();
        for t in &results.model.threats {
            if t.evidence.iter().any(|e| e.to_string() == format!("harness:{harness}")) {
                assert!(
                    failing.contains(&t.id.as_str()),
                    "--weaken {name}: {} cites {harness}",
                    t.id
                );
            }
        }
    }
}

#[test]
fn verify_weaken_knows_every_defence_of_the_vocabulary_and_every_model_variant_by_name() {
    // A model directory that does not exist: a known name passes the name check and fails at
    // loading the model (exit 2), before anything runs; an unknown name fails at the check.
    let catalogue = model::catalogue();
    let names = protocol::Defence::ALL
        .iter()
        .map(|d| d.name())
        .chain(catalogue.variants.iter().map(|v| v.name));
    for name in names {
        let run = Command::new(env!("CARGO_BIN_EXE_threatcheck"))
            .current_dir(workspace())
            .args([
                "verify",
                "--quick",
                "--weaken",
                name,
                "--model",
                "/nonexistent/threatcheck-model",
            ])
            .output()
            .expect("threatcheck runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            !stderr.contains("no defence or model variant"),
            "{name} refused: {stderr}"
        );
        assert!(stderr.contains("loading the threat model"), "{name}: {stderr}");
    }
}

#[test]
fn verify_refuses_an_unknown_check_to_weaken_before_running_anything() {
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .current_dir(workspace())
        .args(["verify", "--quick", "--weaken", "no-such-check", "--out"])
        .arg(out.path())
        .output()
        .expect("threatcheck runs");
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no-such-check"));
    assert!(!out.path().join("results.json").exists(), "nothing was written");
}
