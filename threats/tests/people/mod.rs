//! `threatcheck authz` and `threatcheck audit`, run as a user would, on the shipped examples.

mod cylc;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use protocol_core::time::Millis;
use protocol_people::audit::{Actor, AuditEvent, AuditKey, AuditRecord, AuditWriter, Outcome};
use protocol_people::ops::Operation;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/people/examples")
}

fn threatcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .args(args)
        .env_remove("THREATCHECK_AUDIT_KEY_FILE")
        .output()
        .expect("threatcheck runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `threatcheck authz SUB` on policy `dir` with groups `groups`, plus `extra`.
pub(super) fn authz_in(dir: &Path, sub: &str, who: [&str; 3], groups: &Path, extra: &[&str]) -> Output {
    let [user, workflow, op] = who;
    let mut args = vec![
        "authz",
        sub,
        "--policy",
        dir.to_str().expect("utf-8"),
        "--user",
        user,
        "--workflow",
        workflow,
        "--op",
        op,
        "--groups",
        groups.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    threatcheck(&args)
}

/// `threatcheck authz SUB` on the example policy and groups, plus `extra`.
fn authz(sub: &str, user: &str, workflow: &str, op: &str, extra: &[&str]) -> Output {
    authz_in(
        &examples().join("policy"),
        sub,
        [user, workflow, op],
        &examples().join("groups.toml"),
        extra,
    )
}

#[test]
fn authz_check_allows_an_elevated_granted_stop_with_exit_0() {
    let o = authz("check", "jacintar", "atmosphere_stage/clouds", "stop", &["--elevated"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("allow: granted by the owner layer at users/atmosphere_stage.toml:7"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn authz_check_denies_a_read_only_session_with_exit_1() {
    let o = authz("check", "jacintar", "atmosphere_stage/clouds", "stop", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "deny: needs a session elevated to execute, the session is at read"
    );
    let o = authz(
        "check",
        "jacintar",
        "atmosphere_stage/clouds",
        "reload",
        &["--level", "execute"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("elevated to write"), "{}", stdout(&o));
}

#[test]
fn authz_check_follows_seed_001_for_other_people_and_workflows() {
    for (user, workflow, op, code) in [
        ("mallory", "atmosphere_stage/clouds", "stop", 0),
        ("mallory", "atmosphere_stage/clouds", "trigger", 1),
        ("mallory", "oceans_stage/waves", "read", 1),
        ("jacintar", "oceans_stage/waves", "read", 0),
        ("jacintar", "oceans_stage/currents", "read", 1),
        ("oceans_stage", "oceans_stage/currents", "broadcast", 0),
    ] {
        let o = authz("check", user, workflow, op, &["--elevated"]);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{user} {op} {workflow}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
}

#[test]
fn authz_explain_prints_each_layer_and_the_deciding_rule() {
    let o = authz(
        "explain",
        "jacintar",
        "atmosphere_stage/clouds",
        "edit-trigger",
        &["--elevated"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    for expected in [
        "site default (overridden by the owner layer): does not grant edit-trigger",
        "site limit: does not allow edit-trigger",
        "site.toml:16 site.\"*\".\"group:operators\" = [READ, EXECUTE, reload]",
        "owner layer (decides): grants edit-trigger (users/atmosphere_stage.toml:7 grants.\"jacintar\")",
        "workflow layer: names nobody matching",
        "deny: the owner layer grants it at users/atmosphere_stage.toml:7",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let o = authz("explain", "jacintar", "oceans_stage/currents", "read", &[]);
    assert!(
        stdout(&o).contains("workflow layer (decides): negates read (workflows/oceans_stage/currents.toml:3"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn authz_reads_cylc_json_policies() {
    let policy = examples().join("cylc");
    let o = threatcheck(&[
        "authz",
        "check",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--user",
        "user3",
        "--workflow",
        "server_owner_1/w",
        "--op",
        "broadcast",
        "--elevated",
        "--groups",
        examples().join("groups.toml").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("site limit does not allow it"), "{}", stdout(&o));
}

#[test]
fn a_missing_policy_directory_is_a_usage_error_with_exit_2() {
    let o = threatcheck(&[
        "authz",
        "check",
        "--policy",
        "/nonexistent/policy",
        "--user",
        "jacintar",
        "--workflow",
        "a/b",
        "--op",
        "read",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/policy: cannot read"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn a_malformed_policy_is_refused_naming_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = examples().join("policy");
    for sub in ["", "users", "workflows", "workflows/oceans_stage"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    for f in [
        "site.toml",
        "users/atmosphere_stage.toml",
        "workflows/oceans_stage/currents.toml",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::write(
        dir.path().join("users/oceans_stage.toml"),
        "[grants]\n\"group:ocean_team\" = [\"READ\"]\n\"*\" = [\"trigerr\"]\n",
    )
    .expect("write");
    let o = threatcheck(&[
        "authz",
        "check",
        "--policy",
        dir.path().to_str().expect("utf-8"),
        "--user",
        "mallory",
        "--workflow",
        "atmosphere_stage/clouds",
        "--op",
        "read",
        "--groups",
        examples().join("groups.toml").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("users/oceans_stage.toml:3: grants.\"*\": unknown operation or access group \"trigerr\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_arguments_exit_2_without_panicking() {
    for args in [
        vec!["authz", "check"],
        vec![
            "authz",
            "check",
            "--policy",
            "x",
            "--user",
            "Bad User",
            "--workflow",
            "a/b",
            "--op",
            "read",
        ],
        vec![
            "authz",
            "check",
            "--policy",
            "x",
            "--user",
            "bob",
            "--workflow",
            "no-slash",
            "--op",
            "read",
        ],
        vec![
            "authz",
            "check",
            "--policy",
            "x",
            "--user",
            "bob",
            "--workflow",
            "a/b",
            "--op",
            "fly",
        ],
        vec![
            "authz",
            "check",
            "--policy",
            "x",
            "--user",
            "bob",
            "--workflow",
            "a/b",
            "--op",
            "read",
            "--level",
            "god",
        ],
        vec![
            "authz",
            "check",
            "--policy",
            "x",
            "--user",
            "bob",
            "--workflow",
            "a/b",
            "--op",
            "read",
            "--elevated",
            "--level",
            "read",
        ],
        vec!["audit", "verify"],
        vec!["audit", "verify", "log"],
    ] {
        let o = threatcheck(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
        assert!(!stderr(&o).is_empty(), "{args:?}");
    }
}

/// A key file and a log of three records in a fresh directory.
fn audit_fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("audit.key");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .expect("key file");
        writeln!(f, "{}", "09".repeat(32)).expect("write key");
    }
    let key = AuditKey::from_bytes([9; 32]);
    let log = dir.path().join("audit.log");
    let mut w = AuditWriter::open(&log, key).expect("opens");
    for i in 1..=3u64 {
        let record = AuditRecord {
            at: Millis(1_795_341_600_000 + i * 1000),
            actor: Actor::User(protocol_core::ids::Owner::new("jacintar").expect("owner")),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Stop,
                workflow: "atmosphere_stage/clouds".parse().expect("workflow"),
                target: Some(format!("climb.{i}")),
                outcome: Outcome::Allowed,
            },
        };
        let _ = w.append(&record).expect("appends");
    }
    (dir, log, key_path)
}

#[test]
fn audit_verify_prints_the_record_count_with_exit_0() {
    let (_d, log, key) = audit_fixture();
    let o = threatcheck(&[
        "audit",
        "verify",
        log.to_str().expect("utf-8"),
        "--key-file",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: 3 records verified"), "{}", stdout(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_threatcheck"))
        .args(["audit", "verify", log.to_str().expect("utf-8")])
        .env("THREATCHECK_AUDIT_KEY_FILE", &key)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "key from the environment: {}", stderr(&o));
}

#[test]
fn audit_verify_names_the_first_bad_record_with_exit_1() {
    let (_d, log, key) = audit_fixture();
    let text = std::fs::read_to_string(&log).expect("read");
    std::fs::write(&log, text.replacen("climb.2", "climb.9", 1)).expect("write");
    let o = threatcheck(&[
        "audit",
        "verify",
        log.to_str().expect("utf-8"),
        "--key-file",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("record 2: MAC mismatch"), "{}", stdout(&o));
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&log, format!("{}\n", lines[0])).expect("truncate");
    let o = threatcheck(&[
        "audit",
        "verify",
        log.to_str().expect("utf-8"),
        "--key-file",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("record 2: missing: the head anchors 3 records"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn audit_verify_refuses_unreadable_logs_and_exposed_keys_with_exit_2() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, log, key) = audit_fixture();
    let o = threatcheck(&[
        "audit",
        "verify",
        dir.path().join("nope.log").to_str().expect("utf-8"),
        "--key-file",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.log: cannot read"), "{}", stderr(&o));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let o = threatcheck(&[
        "audit",
        "verify",
        log.to_str().expect("utf-8"),
        "--key-file",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
}
