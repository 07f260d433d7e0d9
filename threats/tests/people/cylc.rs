//! `threatcheck authz --semantics cylc` and `threatcheck authz lint-cylc`, run as a site
//! administrator would, on the shipped Cylc examples.

use std::path::Path;
use std::process::Output;

use super::{authz_in, examples, stderr, stdout, threatcheck};

/// `--semantics cylc` on a shipped example, with the example groups.
fn cylc(sub: &str, dir: &str, user: &str, workflow: &str, op: &str) -> Output {
    let groups = examples().join("groups.toml");
    authz_in(
        &examples().join(dir),
        sub,
        [user, workflow, op],
        &groups,
        &["--semantics", "cylc"],
    )
}

/// `threatcheck authz lint-cylc --site SITE --user USER…`.
fn lint(site: &Path, users: &[&Path]) -> Output {
    let mut args = vec!["authz", "lint-cylc", "--site", site.to_str().expect("utf-8")];
    for u in users {
        args.extend(["--user", u.to_str().expect("utf-8")]);
    }
    threatcheck(&args)
}

#[test]
fn cylc_semantics_allow_the_stop_that_cylcs_merge_lets_through_with_exit_0() {
    let o = cylc("check", "cylc-order", "dave", "own1/w", "stop");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("allow stop: in the permitted set"),
        "{}",
        stdout(&o)
    );
    // threatcheck's own semantics, as Cylc's documentation describes, deny it.
    let groups = examples().join("groups.toml");
    let own = authz_in(
        &examples().join("cylc-order"),
        "check",
        ["dave", "own1/w", "stop"],
        &groups,
        &["--elevated"],
    );
    assert_eq!(own.status.code(), Some(1), "{}{}", stdout(&own), stderr(&own));
    assert!(stdout(&own).contains("negated by the site limit"), "{}", stdout(&own));
}

#[test]
fn cylc_explain_names_the_replacing_owner_key_and_the_differing_documented_answer() {
    let o = cylc("explain", "cylc-order", "dave", "own1/w", "stop");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("line 7: \"bob\" is new, so Cylc's owner_dict.update()"),
        "{out}"
    );
    assert!(
        out.contains("\"*\": replaced by owner key at line 5; what lines 3 gave it is lost"),
        "{out}"
    );
    assert!(
        out.contains("threatcheck's own semantics DIFFER: deny: negated by the site limit"),
        "{out}"
    );
    assert!(out.contains("order-dependent"), "{out}");
}

#[test]
fn cylc_semantics_match_names_exactly_and_accept_names_directories_allow() {
    // carol's "Trigger" grants nothing in Cylc; her "!Stop" negates nothing.
    let t = cylc("check", "cylc-order", "carol", "own1/w", "trigger");
    assert_eq!(t.status.code(), Some(1), "{}", stdout(&t));
    assert!(
        stdout(&t).starts_with("deny trigger: not in the permitted set"),
        "{}",
        stdout(&t)
    );
    // john.smith's "" falls back to the site defaults (CONTROL): he may pause.
    let j = cylc("check", "cylc-order", "john.smith", "own1/w", "pause");
    assert_eq!(j.status.code(), Some(0), "{}{}", stdout(&j), stderr(&j));
    // Operation names are converted as GraphQL field names are, and unknown ones refused.
    let camel = cylc("check", "cylc-order", "dave", "own1/w", "setHoldPoint");
    assert!(stdout(&camel).starts_with("allow set_hold_point"), "{}", stdout(&camel));
    let odd = cylc("check", "cylc-order", "own1", "own1/w", "RELeaseHOLdPoint");
    assert_eq!(odd.status.code(), Some(1), "{}", stdout(&odd));
    assert!(stdout(&odd).contains("re_lease_ho_ld_point"), "{}", stdout(&odd));
}

#[test]
fn lint_cylc_reports_every_departure_with_file_and_line_and_exits_1() {
    let site = examples().join("cylc-order/site.json");
    let user = examples().join("cylc-order/users/own1.json");
    let o = lint(&site, &[&user]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let site = site.display().to_string();
    let user = user.display().to_string();
    for want in [
        format!("{site}:5: order-dependent: for own1:"),
        format!("{user}:2: ignored-entry: \"carol\": \"Trigger\""),
        format!("{user}:2: negation-does-not-negate: \"carol\": \"!Stop\""),
        format!("{user}:3: empty-string-fallback: \"john.smith\""),
        "exposure: on own1's workflows, Cylc lets (anyone else) stop".to_owned(),
        "limit-lifted: in Cylc, own1's user_authorization can give bob".to_owned(),
    ] {
        assert!(out.contains(&want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn lint_cylc_passes_a_clean_configuration_with_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site.json");
    std::fs::write(
        &site,
        r#"{"*": {"*": {"default": "READ", "limit": ["READ", "CONTROL", "!stop"]}}}"#,
    )
    .expect("write");
    let user = dir.path().join("own1.json");
    std::fs::write(
        &user,
        r#"{"group:ops@example.org": ["CONTROL"], "Alice": ["read", "trigger"]}"#,
    )
    .expect("write");
    let o = lint(&site, &[&user]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).ends_with("lint-cylc: 0 finding(s)\n"), "{}", stdout(&o));
}

#[test]
fn a_configuration_cylc_cannot_read_is_refused_with_its_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site.json");
    std::fs::write(&site, "{\n  \"*\": {\"*\": {\"default\": \"READ\",}}\n}").expect("write");
    let o = lint(&site, &[]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains(&format!("{}:2:", site.display())), "{}", stderr(&o));
}

#[test]
fn an_unsupported_cylc_version_is_a_usage_error() {
    let policy = examples().join("cylc-order");
    let o = threatcheck(&[
        "authz",
        "check",
        "--semantics",
        "cylc",
        "--cylc-version",
        "1.5",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--user",
        "dave",
        "--workflow",
        "own1/w",
        "--op",
        "stop",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("not a supported version (supported: 1.7)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn threatchecks_own_semantics_accept_the_names_directories_allow() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("site.json"),
        r#"{"*": {"group:Domain Users": {"default": ["READ", "scan", "!!stop"]}, "Alice": {"default": ""}}}"#,
    )
    .expect("write");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let groups = elsewhere.path().join("groups.toml");
    std::fs::write(
        &groups,
        "[groups]\n\"Domain Users\" = [\"john.smith\"]\n\"ops@example.org\" = [\"Alice\"]\n",
    )
    .expect("write");
    let ask = |user: &str, op: &str| authz_in(dir.path(), "check", [user, "jacintar/w", op], &groups, &["--elevated"]);
    let read = ask("john.smith", "read");
    assert_eq!(read.status.code(), Some(0), "{}{}", stdout(&read), stderr(&read));
    let scan = ask("john.smith", "scan");
    assert_eq!(scan.status.code(), Some(0), "{}{}", stdout(&scan), stderr(&scan));
    let alice = ask("Alice", "read");
    assert_eq!(
        alice.status.code(),
        Some(1),
        "a denial, not a usage error: {}{}",
        stdout(&alice),
        stderr(&alice)
    );
}
