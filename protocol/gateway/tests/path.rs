//! The path, in process with a manual clock: login → read-only view → denied command →
//! elevation with re-authentication → the command reaches the scheduler → audit → elevation
//! expires → denied again; and the UI server's idle stop, keep-alive and respawn.

use std::time::Duration;

use protocol_core::scheduler::Event;
use protocol_core::wire::CommandOp;
use protocol_gateway::http::client::{HttpRequest, Method, send};
use protocol_gateway::rundir::RunDir;
use protocol_net::eventlog::EventLog;
use protocol_people::audit::verify;
use serde_json::json;

use crate::common::{Options, World, eventually, password};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_session_is_denied_until_elevated_and_again_once_the_elevation_lapses() {
    let w = World::start(Options::default()).await;
    let mut jacintar = w.login("jacintar").await;
    let view = jacintar
        .get("/o/atmosphere_stage/workflows/clouds")
        .await
        .expect("view");
    assert_eq!(view.status, 200, "{}", view.text());
    let v = view.json();
    assert_eq!(
        v["permitted"],
        json!(["read"]),
        "a read-only session is offered reading only"
    );
    let elevated: Vec<&str> = v["permitted_elevated"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o.as_str())
        .collect();
    assert!(elevated.contains(&"stop") && elevated.contains(&"reload"));
    assert!(
        !elevated.contains(&"edit-trigger"),
        "above the site limit: never offered"
    );

    let stop = json!({ "op": "stop", "target": "1234/climb" });
    let denied = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &stop)
        .await
        .expect("post");
    assert_eq!(
        (denied.status, denied.text().as_str()),
        (403, "{\"error\":\"forbidden\"}")
    );

    let old = jacintar.session_cookie().expect("cookie");
    let up = jacintar
        .elevate(&password("jacintar"), "execute")
        .await
        .expect("elevate");
    assert_eq!(up.status, 200, "{}", up.text());
    assert_eq!(up.json()["level"], "execute");
    assert_ne!(jacintar.session_cookie().expect("cookie"), old, "a new token");
    let mut thief = w.client();
    thief.set_session_cookie(&old);
    assert_eq!(thief.get("/me").await.expect("me").status, 401, "the old token is dead");

    let done = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &stop)
        .await
        .expect("post");
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["result"], "accepted");
    let clouds = w.workflow("clouds");
    let control = clouds.scheduler.handle().control().await.expect("control");
    assert!(control.stopping && control.commands == 1);
    clouds.scheduler.handle().sync().await.expect("sync");
    let events = EventLog::read(&RunDir::of(&w.runs(), &clouds.id).event_log()).expect("log");
    let actors: Vec<(String, CommandOp, String)> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Commanded { actor, op, target, .. } => Some((actor.to_string(), op, target)),
            _ => None,
        })
        .collect();
    assert_eq!(
        actors,
        [("jacintar".to_owned(), CommandOp::Stop, "1234/climb".to_owned())]
    );

    w.clock().advance(Duration::from_secs(121));
    let again = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &stop)
        .await
        .expect("post");
    assert_eq!(again.status, 403, "the elevation lapsed: {}", again.text());
    assert_eq!(jacintar.get("/me").await.expect("me").json()["level"], "read");

    let ui = w.audit_lines("uiserver-atmosphere_stage.log");
    let tail: Vec<&str> = ui.iter().map(|l| l.split_once(' ').map_or("", |x| x.1)).collect();
    assert_eq!(
        tail,
        [
            "User jacintar read atmosphere_stage.clouds",
            "User jacintar was denied stop on atmosphere_stage.clouds.1234/climb (needs-elevation)",
            "User jacintar stopped atmosphere_stage.clouds.1234/climb",
            "User jacintar had stop on atmosphere_stage.clouds.1234/climb (record 3) applied by the scheduler",
            "User jacintar was denied stop on atmosphere_stage.clouds.1234/climb (needs-elevation)",
        ]
    );
    let hub: Vec<String> = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with("User jacintar from 127.0.0.1 raised privileges to execute")),
        "{hub:?}"
    );
    let audit = w.dir().join("audit");
    assert_eq!(
        verify(&audit.join("uiserver-atmosphere_stage.log"), w.audit_key()),
        Ok(5)
    );
    // The login, the elevation, and the thief's refused replay of the old token.
    assert!(
        hub.iter()
            .any(|l| l.ends_with("An unauthenticated client from 127.0.0.1 was refused GET /me (unauthenticated)")),
        "{hub:?}"
    );
    assert_eq!(verify(&audit.join("hub.log"), w.audit_key()), Ok(3));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_ui_server_stops_a_keep_alive_holds_it_and_the_next_request_respawns_it() {
    let w = World::start(Options {
        idle_timeout: Duration::from_secs(60),
        elevation_window: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let mut c = w.login("jacintar").await;
    assert_eq!(c.get("/o/atmosphere_stage/workflows").await.expect("list").status, 200);
    assert_eq!(w.spawned(), 1);
    for _ in 0..3 {
        w.clock().advance(Duration::from_secs(40));
        let r = c
            .send(HttpRequest::new(Method::POST, "/o/atmosphere_stage/keepalive"), false)
            .await
            .expect("keepalive");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.spawned(),
        1,
        "120 s of keep-alives, never idle for 60 s: still the first instance"
    );
    assert!(!w.log_lines().iter().any(|l| l.contains("idle: stopping")));

    w.clock().advance(Duration::from_secs(61));
    w.wait_for_log("idle: stopping").await;
    let r = c.get("/o/atmosphere_stage/workflows").await.expect("list");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(w.spawned(), 2, "respawned on demand");
    let listed = r.json();
    let names: Vec<&str> = listed["workflows"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["clouds", "winds"]);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_respawned_ui_server_gets_a_new_key_that_the_scheduler_accepts() {
    let w = World::start(Options {
        idle_timeout: Duration::from_secs(60),
        elevation_window: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let mut c = w.login("jacintar").await;
    c.elevate(&password("jacintar"), "execute").await.expect("elevate");
    let hold = json!({ "op": "hold", "target": "1234/climb" });
    let first = c
        .post("/o/atmosphere_stage/workflows/clouds", &hold)
        .await
        .expect("hold");
    assert_eq!(first.status, 200, "{}", first.text());
    w.clock().advance(Duration::from_secs(61));
    w.wait_for_log("idle: stopping").await;
    let run = RunDir::of(&w.runs(), &w.workflow("clouds").id);
    eventually("the old key withdrawn and revoked", || {
        run.client_keys().is_empty()
            && run
                .read_state()
                .ok()
                .flatten()
                .is_some_and(|s| s.revoked_clients.len() == 1)
    })
    .await;
    let release = json!({ "op": "release", "target": "1234/climb" });
    let second = c
        .post("/o/atmosphere_stage/workflows/clouds", &release)
        .await
        .expect("release");
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(w.spawned(), 2);
    let control = w
        .workflow("clouds")
        .scheduler
        .handle()
        .control()
        .await
        .expect("control");
    assert!(control.held.is_empty() && control.commands == 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_names_that_inject_or_name_no_served_owner_never_spawn_anything() {
    let w = World::start(Options::default()).await;
    let mut c = w.login("jacintar").await;
    for owner in [
        "atmosphere_stage%20--policy%20%2Ftmp%2Fevil",
        "--policy=%2Ftmp",
        "..%2F..%2Fbin%2Fsh",
        "%2Fbin%2Fsh",
        "a%3Bid",
        "%24(id)",
        "Atmosphere_stage",
        "atmosphere_stage%0A",
    ] {
        for path in [format!("/o/{owner}/workflows"), format!("/o/{owner}/workflows/clouds")] {
            let r = c.get(&path).await.expect("get");
            assert_eq!(
                (r.status, r.text().as_str()),
                (404, "{\"error\":\"not-found\"}"),
                "{path}"
            );
        }
        let r = c
            .send(HttpRequest::new(Method::POST, format!("/o/{owner}/keepalive")), false)
            .await
            .expect("post");
        assert_eq!(r.status, 404, "{owner}");
    }
    // Valid account names the hub does not serve: answered like an owner with nothing
    // readable, and still nothing is spawned.
    for owner in ["mallory", "root", "jacintar"] {
        let r = c.get(&format!("/o/{owner}/workflows")).await.expect("get");
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["workflows"], json!([]));
        let r = c.get(&format!("/o/{owner}/workflows/clouds")).await.expect("get");
        assert_eq!(r.status, 404);
    }
    assert_eq!(w.spawned(), 0, "no UI server was started for any of these");
    assert_eq!(c.get("/o/oceans_stage/workflows").await.expect("get").status, 200);
    assert_eq!(w.spawned(), 1);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_the_scheduler_rejects_does_not_block_the_next_command_from_anyone() {
    let w = World::start(Options {
        elevation_window: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let mut c = w.login("jacintar").await;
    c.elevate(&password("jacintar"), "execute").await.expect("elevate");
    // A task that does not exist: the scheduler refuses the command for good.
    let stop_nothing = json!({ "op": "hold", "target": "1234/no_such_task" });
    let refused = c
        .post("/o/atmosphere_stage/workflows/clouds", &stop_nothing)
        .await
        .expect("refused hold");
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(refused.text().contains("invalid-transition"), "{}", refused.text());
    // The next commands, from the same person and from the workflow's owner, are applied.
    let hold = json!({ "op": "hold", "target": "1234/climb" });
    let r = c
        .post("/o/atmosphere_stage/workflows/clouds", &hold)
        .await
        .expect("hold");
    assert_eq!(r.status, 200, "after a rejected command: {}", r.text());
    // The UI server's audit log has each allowed hold, then what the scheduler made of it,
    // naming the allowing record by number.
    let lines = w.audit_lines("atmosphere_stage");
    let refused_at = lines
        .iter()
        .position(|l| {
            l.contains("User jacintar had hold on atmosphere_stage.clouds.1234/no_such_task (record ")
                && l.ends_with(") rejected by the scheduler (invalid-transition)")
        })
        .unwrap_or_else(|| panic!("no verdict for the refused hold: {lines:#?}"));
    let allowing: usize = lines[refused_at]
        .split("(record ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .expect("a record number");
    assert!(allowing >= 1 && allowing - 1 < refused_at, "{lines:#?}");
    assert!(
        lines[allowing - 1].ends_with("User jacintar held atmosphere_stage.clouds.1234/no_such_task"),
        "record {allowing} is the allowing one: {lines:#?}"
    );
    let applied = r.json()["record"].as_u64().expect("the hold's record");
    assert!(
        lines.iter().any(|l| l.ends_with(&format!(
            "User jacintar had hold on atmosphere_stage.clouds.1234/climb (record {applied}) applied by the scheduler"
        ))),
        "{lines:#?}"
    );
    let mut owner = w.login("atmosphere_stage").await;
    owner
        .elevate(&password("atmosphere_stage"), "execute")
        .await
        .expect("elevate");
    let release = json!({ "op": "release", "target": "1234/climb" });
    let r = owner
        .post("/o/atmosphere_stage/workflows/clouds", &release)
        .await
        .expect("release");
    assert_eq!(r.status, 200, "the owner's command after a rejected one: {}", r.text());
    let control = w
        .workflow("clouds")
        .scheduler
        .handle()
        .control()
        .await
        .expect("control");
    assert!(
        control.held.is_empty(),
        "the hold and the release were both applied: {control:?}"
    );
    assert_eq!(control.commands, 2, "{control:?}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_hubs_assertion_do_not_keep_a_ui_server_alive() {
    let w = World::start(Options {
        idle_timeout: Duration::from_secs(60),
        ..Options::default()
    })
    .await;
    let mut c = w.login("jacintar").await;
    assert_eq!(c.get("/o/atmosphere_stage/workflows").await.expect("list").status, 200);
    let ui = w.ui_address("atmosphere_stage").expect("the UI server's address");
    // Someone on the host talks to the UI server directly, without the hub's assertion.
    for _ in 0..2 {
        w.clock().advance(Duration::from_secs(40));
        let r = send(
            ui,
            None,
            &HttpRequest::new(Method::GET, "/workflows"),
            Duration::from_secs(5),
        )
        .await
        .expect("an answer");
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // 80 s since the last request the hub vouched for: idle, whatever the stranger sent.
    w.wait_for_log("idle: stopping").await;
    w.stop().await;
}
