//! `threatcheck lint` and `threatcheck report`, run as a user would.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use threats::report::{self, REPORT_FILES, RenderOptions};

use crate::threat_fixtures as fx;
use crate::threat_model::green_results;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("model")
}

fn threatcheck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("threatcheck runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the shipped model in a temporary directory, with `edit` applied to one file.
fn broken_copy(file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in fs::read_dir(shipped_model()).expect("model dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(entry.path()).expect("read");
        let text = if name == file { edit(&text) } else { text };
        fs::write(dir.path().join(&name), text).expect("write");
    }
    dir
}

#[test]
fn lint_fails_on_a_misspelled_defence_name_in_a_copy_of_the_model_and_says_where() {
    let dir = broken_copy("threats-scheduler.toml", |t| {
        t.replacen("\"variant:bound-identity\"", "\"variant:bound-identiy\"", 1)
    });
    let o = threatcheck(
        &workspace(),
        &["lint", dir.path().to_str().expect("utf-8"), "--today", "2026-11-23"],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let text = fs::read_to_string(dir.path().join("threats-scheduler.toml")).expect("read");
    let at = text.find("variant:bound-identiy").expect("edited");
    let start = text[..at].rfind("[[threat]]").expect("its threat");
    let line = text[..start].matches('\n').count() + 1;
    let out = stdout(&o);
    assert!(
        out.contains(&format!("threats-scheduler.toml:{line}: error[unknown-evidence]"))
            && out.contains("variant:bound-identiy does not exist"),
        "{out}"
    );
}

#[test]
fn lint_passes_on_the_shipped_model_from_the_workspace_root() {
    let o = threatcheck(&workspace(), &["lint", "--today", "2026-11-23"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // No errors and no warnings: every cited property is broken by some variant (issue 11),
    // and every property is cited.
    let out = stdout(&o);
    assert!(out.contains("lint: 0 error(s), 0 warning(s) in threats/model"), "{out}");
}

#[test]
fn lint_finds_the_shipped_model_from_anywhere() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let o = threatcheck(elsewhere.path(), &["lint", "--today", "2026-11-23"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("in threats/model"),
        "SARIF-ready path: {}",
        stdout(&o)
    );
}

#[test]
fn lint_fails_with_file_and_line_on_a_stride_gap() {
    // The network's repudiation entry becomes a second elevation entry: a gap and a
    // contradiction.
    let from = "entity = \"network\"\nstride = \"repudiation\"";
    let to = "entity = \"network\"\nstride = \"elevation-of-privilege\"";
    let dir = broken_copy("threats-network.toml", |t| t.replacen(from, to, 1));
    let o = threatcheck(
        &workspace(),
        &["lint", dir.path().to_str().expect("utf-8"), "--today", "2026-11-23"],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let system = fs::read_to_string(shipped_model().join("system.toml")).expect("read");
    let line = system[..system.find("id = \"network\"\ncode").expect("entity")]
        .matches('\n')
        .count();
    assert!(
        out.contains(&format!(
            "system.toml:{line}: error[stride-gap]: entity network has no repudiation threat"
        )),
        "{out}"
    );
    assert!(out.contains("error[stride-contradiction]"), "{out}");
}

#[test]
fn lint_fails_with_file_line_and_field_on_a_schema_error() {
    let dir = broken_copy("threats-scheduler.toml", |t| {
        t.replacen("likelihood = \"high\"", "likelihood = \"certain\"", 1)
    });
    let o = threatcheck(&workspace(), &["lint", dir.path().to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let text = fs::read_to_string(dir.path().join("threats-scheduler.toml")).expect("read");
    let line = text[..text.find("\"certain\"").expect("edited")].matches('\n').count() + 1;
    assert!(
        stdout(&o).contains(&format!(
            "threats-scheduler.toml:{line}:14: threat[0].likelihood: unknown variant `certain`"
        )),
        "{}",
        stdout(&o)
    );
}

#[test]
fn lint_judges_risk_acceptances_by_the_date_given() {
    let o = threatcheck(&workspace(), &["lint", "--today", "2099-01-01"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("error[acceptance-expired]"), "{}", stdout(&o));
}

#[test]
fn lint_of_a_missing_directory_is_an_input_error() {
    let o = threatcheck(&workspace(), &["lint", "no/such/model"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/model"), "{}", stderr(&o));
}

#[test]
fn report_re_renders_every_file_from_the_fixture_results() {
    let out = tempfile::tempdir().expect("tempdir");
    let fixture = fx::dir().join("results.json");
    let o = threatcheck(
        &workspace(),
        &[
            "report",
            "--results",
            fixture.to_str().expect("utf-8"),
            "--out",
            out.path().to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the fixture's verdict is red: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("verdict red"), "{}", stdout(&o));
    let expected = report::render_all(&fx::results(), RenderOptions::default()).expect("render");
    for (name, bytes) in expected {
        let written = fs::read(out.path().join(name)).expect("written");
        assert!(written == bytes, "{name} differs from the library's rendering");
    }
    assert_eq!(fs::read_dir(out.path()).expect("dir").count(), REPORT_FILES.len());
}

#[test]
fn report_of_green_results_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("results.json");
    fs::write(&file, green_results().to_json().expect("json")).expect("write");
    let out = dir.path().join("out");
    let o = threatcheck(
        dir.path(),
        &["report", "--results", "results.json", "--out", "out", "--no-timings"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let json = fs::read_to_string(out.join("results.json")).expect("written");
    assert!(
        json.contains("\"seconds\": 0.0") && !json.contains("\"seconds\": 0.1"),
        "timings zeroed"
    );
}

#[test]
fn report_refuses_bad_input_with_exit_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        fs::write(&p, bytes).expect("write");
        threatcheck(dir.path(), &["report", "--results", name, "--out", "out"])
    };
    let o = bad("malformed.json", b"{\"schema\": \"threatcheck-results/1\",");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("malformed.json") && stderr(&o).contains("line 1"),
        "{}",
        stderr(&o)
    );
    let o = bad("old.json", b"{\"schema\": \"threatcheck-results/0\"}");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not supported"), "{}", stderr(&o));
    let big = dir.path().join("big.json");
    fs::File::create(&big)
        .expect("create")
        .set_len(threats::results::MAX_RESULTS_BYTES + 1)
        .expect("grow");
    let o = threatcheck(dir.path(), &["report", "--results", "big.json", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("larger than the limit"), "{}", stderr(&o));
    let o = threatcheck(dir.path(), &["report", "--results", "absent.json", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("out").exists(), "nothing written for bad input");
}
