//! `threatcheck-server demo`: the reference system on 127.0.0.1.
//!
//! The job part: a scheduler with N reference jobs (this same binary, run as real child
//! processes), each reporting started, a few messages and succeeded; every message must be
//! accepted exactly once.
//!
//! The people part: the hub design notes' example. Two owners (`atmosphere_stage`, `oceans_stage`) with
//! two workflows each, each workflow with its own scheduler and run directory; a hub that
//! spawns the owners' UI servers as real processes; three people with different rights
//! (`jacintar`, `mallory`, `oceans_stage`). Each scans; a denied read and a denied command;
//! one elevation with the password again (the old token dies); the command reaches the
//! scheduler on behalf of the acting person; and the audit logs verify at the end.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use protocol_core::scheduler::{Event, JobSpec, SchedulerConfig};
use protocol_core::wire::CommandOp;
use protocol_core::{JobId, Owner, StaticKeypair, WorkflowId};
use protocol_gateway::http::client::HubClient;
use protocol_gateway::logging::NoLog;
use protocol_gateway::rundir::{Contact, RunDir, RunDirService, ServiceConfig};
use protocol_gateway::spawner::{ProcessUiLauncher, SpawnPolicy};
use protocol_gateway::{Hub, HubParts, HubSettings, ScanPolicy};
use protocol_net::eventlog::EventLog;
use protocol_net::{ProcessLauncher, Scheduler, ServerConfig};
use protocol_people::audit::{AuditKey, AuditWriter, verify};
use protocol_people::authz::Authorizer;
use protocol_people::groups::FileGroups;
use protocol_people::policy::Policy;
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, UserDb, hash_password};
use rand_core::RngCore as _;
use testkit::MemoryLog;

use super::Outcome;
use super::scheduler::run_jobs;

/// Arguments of `threatcheck-server demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many jobs to run.
    #[arg(long, default_value_t = 10)]
    pub jobs: u32,
    /// `message` reports per job, besides started and succeeded.
    #[arg(long, default_value_t = 3)]
    pub messages: u32,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe()?;
    let launcher = ProcessLauncher::new(
        exe.to_string_lossy(),
        vec!["job".into(), "--messages".into(), args.messages.to_string()],
    );
    let state = tempfile::tempdir()?;
    let workflow = WorkflowId::new("demo", "workflow")?;
    let config = ServerConfig::new(
        SchedulerConfig::new(workflow),
        "127.0.0.1:0".parse()?,
        state.path().join("events.jsonl"),
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let tasks: Vec<String> = (1..=args.jobs).map(|i| format!("job{i:05}")).collect();
    let summary = runtime.block_on(run_jobs(
        config,
        launcher,
        &tasks,
        "1",
        &BTreeSet::new(),
        Duration::from_secs(120),
        None,
    ))?;
    let sent = u64::from(args.jobs) * (u64::from(args.messages) + 2);
    summary.print(tasks.len(), Some(sent));
    // The demo's jobs are honest: a rejection here would be a bug, not a defence at work.
    let green = summary.all_green(tasks.len(), Some(sent)) && summary.stats.rejected == 0;
    println!(
        "{}",
        if green {
            "result: every message accepted exactly once"
        } else {
            "result: FAILED"
        }
    );
    let people = runtime.block_on(people(&exe, state.path()))?;
    Ok(if green && people {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}

const POLICY: [(&str, &str); 4] = [
    (
        "site.toml",
        include_str!("../../../protocol/people/examples/policy/site.toml"),
    ),
    (
        "users/atmosphere_stage.toml",
        include_str!("../../../protocol/people/examples/policy/users/atmosphere_stage.toml"),
    ),
    (
        "users/oceans_stage.toml",
        include_str!("../../../protocol/people/examples/policy/users/oceans_stage.toml"),
    ),
    (
        "workflows/oceans_stage/currents.toml",
        include_str!("../../../protocol/people/examples/policy/workflows/oceans_stage/currents.toml"),
    ),
];
const GROUPS: &str = include_str!("../../../protocol/people/examples/groups.toml");
const WORKFLOWS: [(&str, &str, &str); 4] = [
    ("atmosphere_stage", "clouds", "climb"),
    ("atmosphere_stage", "winds", "blow"),
    ("oceans_stage", "waves", "roll"),
    ("oceans_stage", "currents", "flow"),
];
const PEOPLE: [&str; 3] = ["jacintar", "mallory", "oceans_stage"];

/// What went wrong, collected rather than stopping at the first.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn expect(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }
}

struct Running {
    scheduler: Scheduler,
    service: RunDirService,
    run: RunDir,
}

/// Random passwords for the three people, hashed with the fast test parameters.
fn users() -> anyhow::Result<(UserDb, Vec<(String, String)>)> {
    let mut db = UserDb::new();
    let mut passwords = Vec::new();
    for p in PEOPLE {
        let mut raw = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut raw);
        let password: String = raw.iter().map(|b| char::from(b'a' + b % 26)).collect();
        let hash = hash_password(&password, HashParams::FAST_INSECURE, &mut rand_core::OsRng)?;
        db.insert(Owner::new(p)?, &hash)?;
        passwords.push((p.to_owned(), password));
    }
    Ok((db, passwords))
}

async fn start_workflow(exe: &Path, runs: &Path, owner: &str, name: &str, task: &str) -> anyhow::Result<Running> {
    let workflow = WorkflowId::new(owner, name)?;
    let run = RunDir::of(runs, &workflow);
    run.create()?;
    let config = ServerConfig::new(
        SchedulerConfig::new(workflow.clone()),
        "127.0.0.1:0".parse()?,
        run.event_log(),
    );
    let launcher = ProcessLauncher::new(
        exe.to_string_lossy(),
        vec!["job".into(), "--messages".into(), "1".into()],
    )
    .quiet();
    let scheduler = Scheduler::start(config, StaticKeypair::generate_from_os(), Arc::new(launcher)).await?;
    let contact = Contact {
        workflow: workflow.clone(),
        address: scheduler.local_addr(),
        scheduler_key: scheduler.public_key(),
        pid: std::process::id(),
    };
    let service = RunDirService::start(
        run.clone(),
        contact,
        scheduler.handle(),
        ServiceConfig::default(),
        Arc::new(NoLog),
    )
    .await?;
    let id = JobId::new(workflow, "1234", task, 1)?;
    scheduler
        .handle()
        .launch(JobSpec {
            id,
            outputs: BTreeSet::new(),
        })
        .await?;
    Ok(Running {
        scheduler,
        service,
        run,
    })
}

fn names(scan: &serde_json::Value) -> Vec<String> {
    scan["workflows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| Some(format!("{}/{}", w["owner"].as_str()?, w["name"].as_str()?)))
        .collect()
}

/// The people part; prints what happens and returns whether everything checked out.
async fn people(exe: &Path, dir: &Path) -> anyhow::Result<bool> {
    let (policy, runs, audit_dir) = (dir.join("policy"), dir.join("runs"), dir.join("audit"));
    for (file, text) in POLICY {
        let path = policy.join(file);
        std::fs::create_dir_all(path.parent().context("policy path")?)?;
        std::fs::write(path, text)?;
    }
    std::fs::write(dir.join("groups.toml"), GROUPS)?;
    std::fs::create_dir_all(&audit_dir)?;
    let key_file = dir.join("audit.key");
    let key = AuditKey::create_file(&key_file, &mut rand_core::OsRng)?;
    let (db, passwords) = users()?;
    let password = |who: &str| {
        passwords
            .iter()
            .find(|(p, _)| p == who)
            .map(|(_, pw)| pw.clone())
            .unwrap_or_default()
    };

    let mut workflows = Vec::new();
    for (owner, name, task) in WORKFLOWS {
        workflows.push(start_workflow(exe, &runs, owner, name, task).await?);
    }
    for w in &workflows {
        w.scheduler
            .handle()
            .wait_until_terminal(Duration::from_secs(20))
            .await?;
    }

    let owners: BTreeSet<Owner> = ["atmosphere_stage", "oceans_stage"]
        .into_iter()
        .map(Owner::new)
        .collect::<Result<_, _>>()?;
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let ui_args = vec![
        "uiserver".into(),
        "--policy".into(),
        s(&policy),
        "--groups".into(),
        s(&dir.join("groups.toml")),
        "--runs".into(),
        s(&runs),
        "--audit-dir".into(),
        s(&audit_dir),
        "--audit-key".into(),
        s(&key_file),
    ];
    // The hub spawns UI servers with an empty environment; a verification build that was
    // allowed to run passes the permission on explicitly (a production build has no need).
    let (program, ui_args) = crate::guard::spawn_through_env(exe.to_owned(), ui_args);
    let launcher = ProcessUiLauncher::new(
        SpawnPolicy::new(program, ui_args, owners.clone())?,
        Duration::from_secs(10),
    )
    .quiet();
    let log = Arc::new(MemoryLog::new());
    let hub = Hub::start(HubParts {
        sessions: SessionManager::new(
            db,
            SessionConfig {
                hash_params: HashParams::FAST_INSECURE,
                ..SessionConfig::default()
            },
        )?,
        audience: Audience::new("threatcheck-demo-hub")?,
        audit: Box::new(AuditWriter::open(&audit_dir.join("hub.log"), key.clone())?),
        launcher: Arc::new(launcher),
        owners,
        operators: BTreeSet::new(),
        runs: Some(runs.clone()),
        scan: Some(ScanPolicy {
            authorizer: {
                let policy = policy.clone();
                Box::new(move || Authorizer::from_load(Policy::load(&policy)))
            },
            groups: Arc::new(FileGroups::load(&dir.join("groups.toml"))?),
        }),
        clock: protocol_gateway::clock::system(),
        log: log.clone(),
        settings: HubSettings::default(),
    })
    .await?;
    println!(
        "people: hub on {}, 2 owners with 2 workflows each, 3 people",
        hub.address()
    );

    let mut checks = Checks::default();
    let mut clients = Vec::new();
    for p in PEOPLE {
        let mut c = HubClient::new(hub.address());
        let r = c.login(p, &password(p)).await?;
        checks.expect(r.status == 200, format!("{p} could not log in"));
        clients.push(c);
    }
    let expected: [&[&str]; 3] = [
        &[
            "atmosphere_stage/clouds",
            "atmosphere_stage/winds",
            "oceans_stage/waves",
        ],
        &["atmosphere_stage/clouds", "atmosphere_stage/winds"],
        &[
            "atmosphere_stage/clouds",
            "atmosphere_stage/winds",
            "oceans_stage/currents",
            "oceans_stage/waves",
        ],
    ];
    for ((p, c), want) in PEOPLE.iter().zip(clients.iter_mut()).zip(expected) {
        let seen = names(&c.get("/scan").await?.json());
        println!("  {p:<13} scans and sees {}", seen.join(", "));
        checks.expect(seen == want, format!("{p}'s scan: {seen:?}"));
    }
    let [jacintar, mallory, _oceans] = &mut clients[..] else {
        anyhow::bail!("three clients");
    };
    let r = mallory.get("/o/oceans_stage/workflows/currents").await?;
    println!(
        "  mallory reads oceans_stage/currents:                 {} {}",
        r.status,
        r.text()
    );
    checks.expect(r.status == 404, "mallory's read of currents");
    let hold = serde_json::json!({ "op": "hold", "target": "1234/climb" });
    let r = jacintar.post("/o/atmosphere_stage/workflows/clouds", &hold).await?;
    println!(
        "  jacintar holds clouds 1234/climb, read-only:         {} {}",
        r.status,
        r.text()
    );
    checks.expect(r.status == 403, "jacintar's read-only hold");
    let old = jacintar.session_cookie().unwrap_or_default();
    let r = jacintar.elevate(&password("jacintar"), "execute").await?;
    let mut replay = HubClient::new(hub.address());
    replay.set_session_cookie(&old);
    let stale = replay.get("/me").await?.status;
    println!(
        "  jacintar elevates to execute, password again:       {}; the old token now gets {stale}",
        r.status
    );
    checks.expect(r.status == 200 && stale == 401, "jacintar's elevation");
    let r = jacintar.post("/o/atmosphere_stage/workflows/clouds", &hold).await?;
    let clouds = &workflows[0];
    let control = clouds.scheduler.handle().control().await?;
    println!(
        "  jacintar holds clouds 1234/climb, elevated:          {} {}; scheduler holds {:?}",
        r.status,
        r.json()["result"].as_str().unwrap_or("-"),
        control.held
    );
    checks.expect(
        r.status == 200 && control.held.contains("1234/climb"),
        "jacintar's elevated hold",
    );
    let r = mallory.post("/o/atmosphere_stage/workflows/clouds", &hold).await?;
    println!(
        "  mallory holds clouds 1234/climb:                     {} {}",
        r.status,
        r.text()
    );
    checks.expect(r.status == 403, "mallory's hold");

    hub.shutdown().await;
    let mut acted_for = Vec::new();
    for w in workflows {
        w.service.stop().await;
        w.scheduler.shutdown().await?;
        let events = EventLog::read(&w.run.event_log())?;
        for e in events {
            if let Event::Commanded {
                actor,
                op: CommandOp::Hold,
                ..
            } = e
            {
                acted_for.push(actor.to_string());
            }
        }
    }
    println!("  the scheduler's event log names the acting person:   {acted_for:?}");
    checks.expect(acted_for == ["jacintar"], "the scheduler's record of the actor");

    let mut lines = Vec::new();
    let mut counts = Vec::new();
    for file in ["hub.log", "uiserver-atmosphere_stage.log", "uiserver-oceans_stage.log"] {
        let path = audit_dir.join(file);
        match verify(&path, &key) {
            Ok(n) => counts.push(format!("{file} {n} record{}", if n == 1 { "" } else { "s" })),
            Err(e) => checks.expect(false, format!("{file}: {e}")),
        }
        lines.extend(
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned),
        );
    }
    println!("audit logs verified: {}", counts.join(", "));
    for want in [
        "User mallory was denied read on oceans_stage.currents (negated)",
        "User jacintar was denied hold on atmosphere_stage.clouds.1234/climb (needs-elevation)",
        "User jacintar raised privileges to execute",
        "User jacintar held atmosphere_stage.clouds.1234/climb",
        "User mallory was denied hold on atmosphere_stage.clouds.1234/climb (not-granted)",
    ] {
        match lines.iter().find(|l| l.contains(want)) {
            Some(l) => println!("  {}", l.split(" [#").next().unwrap_or(l)),
            None => checks.expect(false, format!("no audit line: {want}")),
        }
    }
    let leaked = passwords
        .iter()
        .any(|(_, pw)| log.lines().iter().any(|l| l.contains(pw.as_str())))
        || log.lines().iter().any(|l| l.contains(&old));
    checks.expect(!leaked, "a secret reached the hub's log");
    let green = checks.0.is_empty();
    if green {
        println!("people result: denied, elevated, commanded and audited as the policy says");
    } else {
        println!("people result: FAILED: {}", checks.0.join("; "));
    }
    Ok(green)
}
