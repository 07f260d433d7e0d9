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
    let events = std::fs::read_to_string(&log).expect("event log");
    for task in ["alpha", "beta"] {
        assert!(events.contains(&format!("20260101T00Z/{task}/01")), "{task}: {events}");
    }
}
