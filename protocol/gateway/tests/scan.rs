//! Scan (the hub design notes, "Cylc gscan"): one request, every workflow the person may read across
//! owners, and nothing about the others — not even that they exist; answered by the hub from
//! the schedulers' published state and the UI servers' policy, starting no UI server.

use serde_json::json;

use crate::common::{Options, World};

/// Nobody is named by the site default: only grants in lower layers give anything.
const NOTHING_BY_DEFAULT: &str = "[site.\"*\".\"*\"]\ndefault = []\nlimit = [\"READ\", \"EXECUTE\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_lists_exactly_the_readable_workflows_across_owners() {
    let w = World::start(Options::default()).await;
    let mut jacintar = w.login("jacintar").await;
    let scan = jacintar.get("/scan").await.expect("scan");
    assert_eq!(scan.status, 200);
    assert_eq!(
        scan.json(),
        json!({ "workflows": [
            { "owner": "atmosphere_stage", "name": "clouds", "status": "running" },
            { "owner": "atmosphere_stage", "name": "winds", "status": "running" },
            { "owner": "oceans_stage", "name": "waves", "status": "running" },
        ]})
    );
    let mut owner = w.login("oceans_stage").await;
    let all = owner.get("/scan").await.expect("scan").json();
    assert_eq!(
        all["workflows"].as_array().map(Vec::len),
        Some(4),
        "an owner sees all their own"
    );
    assert_eq!(
        w.spawned(),
        0,
        "a scan is answered from published state: no UI server was started"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_with_no_rights_sees_exactly_what_everyone_sees_when_no_workflows_exist() {
    let with = World::start(Options {
        site: Some(NOTHING_BY_DEFAULT),
        ..Options::default()
    })
    .await;
    let without = World::start(Options {
        site: Some(NOTHING_BY_DEFAULT),
        workflows: Vec::new(),
        ..Options::default()
    })
    .await;
    let mut answers = Vec::new();
    for w in [&with, &without] {
        let mut mallory = w.login("mallory").await;
        let mut seen = Vec::new();
        for path in [
            "/scan",
            "/o/atmosphere_stage/workflows",
            "/o/oceans_stage/workflows",
            "/o/atmosphere_stage/workflows/clouds",
            "/o/oceans_stage/workflows/currents",
        ] {
            let r = mallory.get(path).await.expect("get");
            seen.push((path, r.status, r.text()));
        }
        let r = mallory
            .post(
                "/o/atmosphere_stage/workflows/clouds",
                &json!({ "op": "stop", "target": "1234/climb" }),
            )
            .await
            .expect("post");
        seen.push(("stop clouds", r.status, r.text()));
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "existence leaks through no answer");
    assert_eq!(answers[0][0].2, "{\"workflows\":[]}");
    // And an owner the hub does not serve looks like an owner with nothing readable.
    let mut mallory = with.login("mallory").await;
    let ghost = mallory.get("/o/nobody_here/workflows").await.expect("get");
    assert_eq!(
        (ghost.status, ghost.text()),
        (200, "{\"owner\":\"nobody_here\",\"workflows\":[]}".to_owned())
    );
    // jacintar, named by atmosphere_stage's owner layer, still sees that owner's workflows.
    let mut jacintar = with.login("jacintar").await;
    let names: Vec<String> = jacintar.get("/scan").await.expect("scan").json()["workflows"]
        .as_array()
        .expect("list")
        .iter()
        .map(|x| {
            format!(
                "{}/{}",
                x["owner"].as_str().unwrap_or(""),
                x["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "atmosphere_stage/clouds",
            "atmosphere_stage/winds",
            "oceans_stage/waves"
        ]
    );
    with.stop().await;
    without.stop().await;
}
