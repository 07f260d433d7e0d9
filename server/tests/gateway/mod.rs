//! The people side for real: `threatcheck-server scheduler --serve`, `threatcheck-server hub`
//! and the `threatcheck-server uiserver` it spawns, as separate processes on loopback, driven over HTTP.
//!
//! login → read-only view → denied command (403, audited) → elevation with the password again
//! (the old token dies) → the command reaches the scheduler, which records the acting person
//! → audit line → keep-alives hold the UI server → it stops when idle → the elevation has
//! lapsed and the next request (spawning a new UI server) is denied again → every audit log
//! verifies, and no token ever reached a log.
//!
//! Short configured durations (1.5 s idle, 3 s elevation) and real sleeps; every wait is
//! bounded and every process is killed when the test ends, whatever happens.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::scheduler::Event;
use protocol_core::wire::CommandOp;
use protocol_gateway::http::client::{HttpRequest, HubClient, Method};
use protocol_gateway::rundir::RunDir;
use protocol_net::eventlog::EventLog;
use protocol_people::audit::{AuditKey, verify};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::{ALLOW, EXE, verification_build};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/people/examples")
}

/// A child process whose output lines are collected; killed when dropped.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

fn collect(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut v) = into.lock() {
                v.push(line);
            }
        }
    });
}

impl Proc {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(EXE)
            .args(args)
            .env(ALLOW, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("threatcheck starts");
        let (out, err) = (Arc::default(), Arc::default());
        collect(child.stdout.take().expect("stdout"), Arc::clone(&out));
        collect(child.stderr.take().expect("stderr"), Arc::clone(&err));
        Self {
            stdin: child.stdin.take(),
            child,
            out,
            err,
        }
    }

    fn out(&self) -> Vec<String> {
        self.out.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn err(&self) -> Vec<String> {
        self.err.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits (bounded) for a line of stdout (`stderr: false`) or stderr containing `text`.
    async fn wait_line(&self, stderr: bool, text: &str) -> String {
        let found = eventually(Duration::from_secs(15), || {
            let lines = if stderr { self.err() } else { self.out() };
            lines.into_iter().find(|l| l.contains(text))
        })
        .await;
        found.unwrap_or_else(|| panic!("no line {text:?}; stdout {:?}; stderr {:?}", self.out(), self.err()))
    }

    /// Closes stdin (the process stops by itself) and waits at most 10 s.
    async fn stop(&mut self) {
        drop(self.stdin.take());
        let ended = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        assert!(
            matches!(ended, Ok(Ok(s)) if s.success()),
            "did not stop cleanly: {ended:?}"
        );
    }
}

async fn eventually<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn hub_config(dir: &Path) -> PathBuf {
    let ex = examples();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut args = vec![
        "uiserver".to_owned(),
        "--policy".into(),
        s(&ex.join("policy")),
        "--groups".into(),
        s(&ex.join("groups.toml")),
        "--runs".into(),
        s(&dir.join("runs")),
        "--audit-dir".into(),
        s(&dir.join("audit")),
        "--audit-key".into(),
        s(&dir.join("audit.key")),
        "--idle-timeout-ms".into(),
        "1500".into(),
    ];
    // The hub spawns UI servers with an empty environment: a verification build of this binary
    // (a workspace-wide test run) is told through env that it may run.
    let program = if verification_build() {
        args.splice(0..0, [format!("{ALLOW}=1"), EXE.to_owned()]);
        "/usr/bin/env"
    } else {
        EXE
    };
    let text = format!(
        "users = {users:?}\naudit_log = \"audit/hub.log\"\naudit_key = \"audit.key\"\nruns = \"runs\"\n\
         owners = [\"atmosphere_stage\", \"oceans_stage\"]\noperators = [\"oceans_stage\"]\n\
         fast_insecure_hashes = true\n\n[uiserver]\nprogram = {program:?}\nargs = {args:?}\n\n\
         [sessions]\nelevation_window_ms = 3000\n",
        users = s(&ex.join("users.toml")),
    );
    let path = dir.join("hub.toml");
    std::fs::write(&path, text).expect("config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_side_runs_for_real_from_login_to_lapsed_elevation_and_idle_respawn() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("audit")).expect("audit dir");
    let key = AuditKey::create_file(&dir.join("audit.key"), &mut rand_core::OsRng).expect("key");
    let run_dir = dir.join("runs/atmosphere_stage/clouds");
    let job_command = format!("\"{EXE}\" job --messages 1");
    let scheduler = Proc::start(&[
        "scheduler",
        "--serve",
        "--run-dir",
        run_dir.to_str().expect("utf-8"),
        "--workflow",
        "atmosphere_stage/clouds",
        "--job-command",
        &job_command,
        "--task",
        "climb",
        "--cycle",
        "1234",
        "--until-stdin-closes",
    ]);
    scheduler.wait_line(false, "serving ~atmosphere_stage/clouds").await;
    let run = RunDir::at(run_dir.clone());
    let job_done = eventually(Duration::from_secs(15), || {
        run.read_state()
            .ok()
            .flatten()
            .filter(|s| s.jobs.iter().any(|j| j.state == "succeeded"))
    })
    .await;
    assert!(job_done.is_some(), "the job ran: {:?}", scheduler.err());

    let config = hub_config(dir);
    let hub = Proc::start(&[
        "hub",
        "--config",
        config.to_str().expect("utf-8"),
        "--until-stdin-closes",
    ]);
    let ready = hub.wait_line(false, "\"address\"").await;
    let address = serde_json::from_str::<serde_json::Value>(&ready).expect("json")["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("socket address");

    // Login: a read-only session.
    let mut jacintar = HubClient::new(address);
    let r = jacintar
        .login("jacintar", "jacintar-example-password")
        .await
        .expect("login");
    assert_eq!(
        (r.status, r.json()["level"].as_str()),
        (200, Some("read")),
        "{}",
        r.text()
    );

    // The read-only view, which spawns atmosphere_stage's UI server.
    let view = jacintar
        .get("/o/atmosphere_stage/workflows/clouds")
        .await
        .expect("view");
    assert_eq!(view.status, 200, "{}", view.text());
    assert_eq!(view.json()["permitted"], json!(["read"]));
    hub.wait_line(true, "spawned atmosphere_stage's UI server (instance 1)")
        .await;

    // A command from the read-only session: denied, and audited.
    let hold = json!({ "op": "hold", "target": "1234/climb" });
    let denied = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &hold)
        .await
        .expect("post");
    assert_eq!(
        (denied.status, denied.text().as_str()),
        (403, "{\"error\":\"forbidden\"}")
    );
    let audit = |file: &str| std::fs::read_to_string(dir.join("audit").join(file)).unwrap_or_default();
    let denial = "User jacintar was denied hold on atmosphere_stage.clouds.1234/climb (needs-elevation)";
    assert!(audit("uiserver-atmosphere_stage.log").contains(denial));

    // Elevation with the password again: a new token; the old one is dead.
    let old = jacintar.session_cookie().expect("cookie");
    let up = jacintar
        .elevate("jacintar-example-password", "execute")
        .await
        .expect("elevate");
    assert_eq!(up.status, 200, "{}", up.text());
    let new = jacintar.session_cookie().expect("cookie");
    assert_ne!(old, new);
    let mut replay = HubClient::new(address);
    replay.set_session_cookie(&old);
    assert_eq!(
        replay.get("/me").await.expect("me").status,
        401,
        "the pre-elevation token"
    );

    // The command reaches the scheduler, on behalf of jacintar.
    let done = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &hold)
        .await
        .expect("post");
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["result"], "accepted");
    let held = eventually(Duration::from_secs(5), || {
        run.read_state()
            .ok()
            .flatten()
            .filter(|s| s.control.held.contains("1234/climb"))
    })
    .await;
    assert!(held.is_some(), "the scheduler's published state shows the hold");
    let events = EventLog::read(&run.event_log()).expect("event log");
    let acted: Vec<(String, CommandOp)> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Commanded { actor, op, .. } => Some((actor.to_string(), op)),
            _ => None,
        })
        .collect();
    assert_eq!(acted, [("jacintar".to_owned(), CommandOp::Hold)]);
    let ui_log = audit("uiserver-atmosphere_stage.log");
    assert!(
        ui_log.contains("User jacintar held atmosphere_stage.clouds.1234/climb"),
        "{ui_log}"
    );
    assert!(
        ui_log.contains("User jacintar had hold on atmosphere_stage.clouds.1234/climb (record ")
            && ui_log.contains(") applied by the scheduler"),
        "{ui_log}"
    );
    let hub_log = audit("hub.log");
    assert!(
        hub_log.contains("User jacintar from 127.0.0.1 raised privileges to execute"),
        "{hub_log}"
    );

    // Keep-alives every 0.5 s hold a watched view's UI server open past its 1.5 s timeout.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ka = jacintar
            .send(HttpRequest::new(Method::POST, "/o/atmosphere_stage/keepalive"), false)
            .await
            .expect("keepalive");
        assert_eq!(ka.status, 204, "{}", ka.text());
    }
    assert!(
        !hub.err().iter().any(|l| l.contains("idle: stopping")),
        "{:?}",
        hub.err()
    );

    // Left alone, it stops; the elevation lapses too.
    hub.wait_line(true, "idle: stopping").await;
    let until = up.json()["elevated_until"].as_u64().expect("elevated until");
    let wait = until.saturating_sub(protocol_core::time::Millis::now().0) + 200;
    tokio::time::sleep(Duration::from_millis(wait)).await;

    // The same command: the next request spawns a new UI server, which denies it.
    let again = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &hold)
        .await
        .expect("post");
    assert_eq!(again.status, 403, "{}", again.text());
    hub.wait_line(true, "spawned atmosphere_stage's UI server (instance 2)")
        .await;
    assert_eq!(audit("uiserver-atmosphere_stage.log").matches(denial).count(), 2);
    assert_eq!(jacintar.get("/me").await.expect("me").json()["level"], "read");

    let (mut hub, mut scheduler) = (hub, scheduler);
    hub.stop().await;
    scheduler.stop().await;
    for file in ["hub.log", "uiserver-atmosphere_stage.log"] {
        let n = verify(&dir.join("audit").join(file), &key).expect("the audit log verifies");
        assert!(n >= 2, "{file}: {n}");
    }
    let logs = [hub.out(), hub.err(), scheduler.out(), scheduler.err()].concat();
    for secret in [old.as_str(), new.as_str(), "jacintar-example-password"] {
        assert!(!logs.iter().any(|l| l.contains(secret)), "a secret in a log line");
    }
    assert!(
        !run.path().join("contact.json").exists(),
        "the scheduler withdrew its contact"
    );
}
