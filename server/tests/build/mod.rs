//! Which build the binary is, and that a verification build will not serve by accident.

use std::process::Command;

use crate::{ALLOW, EXE, verification_build};

fn run(args: &[&str], allow: Option<&str>) -> std::process::Output {
    let mut command = Command::new(EXE);
    command.args(args).env_remove(ALLOW);
    if let Some(value) = allow {
        command.env(ALLOW, value);
    }
    command.output().expect("the server binary runs")
}

#[test]
fn version_says_whether_the_binary_can_have_a_defence_removed() {
    let out = run(&["--version"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    if verification_build() {
        assert!(text.contains("VERIFICATION BUILD"), "{text}");
    } else {
        assert!(text.contains("production build: no removable defence"), "{text}");
    }
}

#[test]
fn a_verification_build_refuses_to_serve_unless_told_it_is_a_test_and_a_production_build_serves() {
    // `job` with no bootstrap on stdin fails at once when it runs; the guard comes before.
    let refused = run(&["job"], None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    if verification_build() {
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("compiled with removable defences"), "{stderr}");
        let allowed = run(&["job"], Some("1"));
        let stderr = String::from_utf8_lossy(&allowed.stderr);
        assert!(!stderr.contains("compiled with removable defences"), "{stderr}");
    } else {
        assert!(!stderr.contains("compiled with removable defences"), "{stderr}");
    }
}
