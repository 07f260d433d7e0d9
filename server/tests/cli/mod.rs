//! The scheduler command as an operator runs it.

use std::process::Command;

use crate::{ALLOW, EXE};

mod restart;

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
    assert!(stdout.contains("tasks succeeded:        2"), "{stdout}");
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

/// Lines a child writes to stderr, as they come.
fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(lines: &std::sync::mpsc::Receiver<String>, want: &str, seen: &mut Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(200)) {
            let found = line.contains(want);
            seen.push(line);
            if found {
                return;
            }
        }
    }
    panic!("no {want:?} on stderr within 60 s: {seen:#?}");
}

#[test]
fn a_failing_event_log_stops_acknowledgements_and_the_run_resumes_intact_once_it_can_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("events.jsonl");
    let job = format!("\"{EXE}\" job --messages 20");
    // The event log may grow to 16 KiB: past that the kernel refuses its writes (EFBIG, as a
    // full disk refuses them with ENOSPC); SIGXFSZ is ignored, as it is for a daemon under a
    // file-size limit. prlimit(1) later lifts the limit from outside, as freeing space would.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "trap '' XFSZ; exec prlimit --fsize=16384:unlimited -- \"$@\"",
            "sh",
            EXE,
        ])
        .args([
            "scheduler",
            "--job-command",
            &job,
            "--jobs",
            "10",
            "--wait",
            "120",
            "--event-log",
        ])
        .arg(&log)
        .env(ALLOW, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the scheduler runs under prlimit");
    let lines = stderr_lines(&mut child);
    let mut seen = Vec::new();
    wait_for(&lines, "ALERT event log failing", &mut seen);
    // Stalled, not stopped: still running, and the log holds only whole records.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(
        child.try_wait().expect("status").is_none(),
        "the scheduler exited: {seen:#?}"
    );
    let stalled = std::fs::read(&log).expect("event log");
    assert!(
        stalled.len() <= 16_384 && stalled.ends_with(b"\n"),
        "{} bytes",
        stalled.len()
    );
    let lift = Command::new("prlimit")
        .args(["--pid", &child.id().to_string(), "--fsize=unlimited:unlimited"])
        .status()
        .expect("prlimit runs");
    assert!(lift.success());
    wait_for(&lines, "event log written again", &mut seen);
    let out = child.wait_with_output().expect("the scheduler exits");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{seen:#?}");
    assert!(stdout.contains("tasks succeeded:        10"), "{stdout}");
    assert!(!stdout.contains("not exactly once"), "{stdout}");
    assert!(stdout.contains("event log stalls:       1 ("), "{stdout}");
    assert!(std::fs::metadata(&log).expect("log").len() > 16_384);
}
