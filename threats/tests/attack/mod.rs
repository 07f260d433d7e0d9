//! `threatcheck attack`, run as a user would.

use std::process::{Command, Output};

fn threatcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .args(args)
        .output()
        .expect("threatcheck runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn attack_list_names_every_harness_and_every_variant_it_replays() {
    let o = threatcheck(&["attack", "--list"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for id in [
        "s01-slowloris",
        "s01-handshake-flood",
        "s01-garbage-frames",
        "s07-job-runs-code",
        "s08-job-changes-workflow",
        "s12-compromised-job",
        "s14-revoke-job",
        "s15-passive-capture",
        "s15-bit-flip",
        "s15-key-substitution",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with("harness") && l.contains(id)),
            "{id}: {out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("replay") && l.contains("bound-identity")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("replay") && l.contains("cylc7-key-shipping")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("replay") && l.contains("token-revocation")),
        "the people model's variants are replayed too: {out}"
    );
    let harnesses = out.lines().filter(|l| l.starts_with("harness")).count();
    assert_eq!(harnesses, attacks::run::all().len(), "{out}");
}

#[test]
fn a_people_variant_is_replayed_on_the_live_gateway_by_name() {
    let o = threatcheck(&["attack", "token-revocation", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let replays = json["conformance"].as_array().expect("replays");
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0]["variant"], "token-revocation");
    assert_eq!(replays[0]["weakened"]["verdict"], "violated");
    assert_eq!(replays[0]["normal"]["verdict"], "refused");
    assert_eq!(replays[0]["normal"]["check"], "token-revocation");
    assert_eq!(json["harnesses"].as_array().map(Vec::len), Some(0));
}

#[test]
fn one_harness_and_one_replay_run_by_name_and_report_json() {
    let o = threatcheck(&["attack", "s12-compromised-job", "bound-identity", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(o.stderr.is_empty(), "no progress off a terminal: {}", text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let harnesses = json["harnesses"].as_array().expect("harnesses");
    assert_eq!(harnesses.len(), 1);
    let h = &harnesses[0];
    assert_eq!(h["info"]["id"], "s12-compromised-job");
    assert_eq!(h["info"]["story"], "S12");
    assert_eq!(h["info"]["defences"], serde_json::json!(["bound-identity"]));
    assert_eq!(h["real"]["outcome"], "defended");
    assert!(
        h["real"]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("bound-identity refused")),
        "{h}"
    );
    assert_eq!(h["control"]["outcome"], "breached");
    let replays = json["conformance"].as_array().expect("conformance");
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0]["variant"], "bound-identity");
    assert_eq!(replays[0]["weakened"]["verdict"], "violated");
    assert_eq!(replays[0]["normal"]["verdict"], "refused");
    assert_eq!(replays[0]["normal"]["check"], "bound-identity");
    assert_eq!(json["summary"]["harnesses_passed"], 1);
    assert_eq!(json["summary"]["replays_conforming"], 1);
}

#[test]
fn text_output_has_one_line_per_harness_and_a_summary() {
    let o = threatcheck(&["attack", "s08-job-changes-workflow"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("ok") && lines[0].contains("s08-job-changes-workflow"),
        "{out}"
    );
    assert!(
        lines[0].contains("real defended") && lines[0].contains("control breached"),
        "{out}"
    );
    assert!(lines[1].starts_with("summary: 1/1 harnesses passed"), "{out}");
}

#[test]
fn an_unknown_id_is_a_usage_error() {
    let o = threatcheck(&["attack", "s99-no-such-attack"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("s99-no-such-attack"), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
}
