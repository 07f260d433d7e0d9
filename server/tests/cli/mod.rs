//! The scheduler command as an operator runs it.

use std::process::Command;

use crate::{ALLOW, EXE};

#[test]
fn the_scheduler_launches_the_tasks_named_with_task_on_the_cycle_given_without_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("events.jsonl");
    let job = format!("\"{EXE}\" job --messages 1");
    let out = Command::new(EXE)
        .args(["scheduler", "--job-command", &job, "--task", "alpha", "--task", "beta"])
        .args(["--cycle", "20260101T00Z", "--wait", "30", "--event-log"])
        .arg(&log)
        .env(ALLOW, "1")
        .output()
        .expect("the scheduler runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("jobs launched:          2 of 2"), "{stdout}");
    assert!(stdout.contains("jobs succeeded:         2"), "{stdout}");
    assert!(stdout.contains("closed for bad input:   0"), "{stdout}");
    assert!(stdout.contains("closed at the deadline: 0"), "{stdout}");
    let events = std::fs::read_to_string(&log).expect("event log");
    for task in ["alpha", "beta"] {
        assert!(events.contains(&format!("20260101T00Z/{task}/01")), "{task}: {events}");
    }
}

#[test]
fn an_output_the_task_declares_is_accepted_and_one_it_does_not_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |job_outputs: &str, wait: &str, log: &std::path::Path| {
        let job = format!("\"{EXE}\" job --messages 0 {job_outputs}");
        Command::new(EXE)
            .args([
                "scheduler",
                "--job-command",
                &job,
                "--task",
                "a",
                "--output",
                "file-ready",
            ])
            .args(["--wait", wait, "--event-log"])
            .arg(log)
            .env(ALLOW, "1")
            .output()
            .expect("the scheduler runs")
    };
    let declared = dir.path().join("declared.jsonl");
    let out = run("--output file-ready", "30", &declared);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("messages rejected:      0"), "{stdout}");
    let events = std::fs::read_to_string(&declared).expect("event log");
    assert!(events.contains("file-ready"), "the output was accepted: {events}");

    let undeclared = dir.path().join("undeclared.jsonl");
    // The job stops at the rejection (SPEC §7: a rejection is final), so it never succeeds.
    let out = run("--output not-declared", "3", &undeclared);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("messages rejected:      0"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let events = std::fs::read_to_string(&undeclared).expect("event log");
    assert!(!events.contains("not-declared"), "{events}");
}
