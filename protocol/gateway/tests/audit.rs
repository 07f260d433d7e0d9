//! Audit completeness on the live hub: every refused attempt is in an audit log exactly once,
//! naming who (or "unauthenticated") and from where, what was asked and why it was refused;
//! an attempt a UI server gated is in that UI server's log only; unauthenticated refusals
//! past their rate are counted, not lost.

use std::time::Duration;

use protocol_gateway::http::client::{HttpRequest, HttpResponse, Method, send};
use serde_json::json;

use crate::common::{Options, World, password};

async fn raw(w: &World, req: HttpRequest) -> HttpResponse {
    send(w.addr(), None, &req, Duration::from_secs(10))
        .await
        .expect("response")
}

/// The hub's records after the first `skip`, without their timestamps.
fn hub_since(w: &World, skip: usize) -> Vec<String> {
    w.audit_lines("hub.log")
        .iter()
        .skip(skip)
        .map(|l| l.split_once(' ').map_or(String::new(), |(_, rest)| rest.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_attempt_is_recorded_once_with_who_from_where_what_and_why() {
    let w = World::start(Options {
        elevation_window: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let mut jacintar = w.login("jacintar").await;
    jacintar
        .elevate(&password("jacintar"), "execute")
        .await
        .expect("elevate");
    let mut mallory = w.login("mallory").await;
    let before = w.audit_lines("hub.log").len();
    let ui_before = w.audit_lines("uiserver-atmosphere_stage.log").len();
    let wf = "/o/atmosphere_stage/workflows/clouds";

    // A command with the session cookie but without the CSRF token.
    let cookie = jacintar.session_cookie().expect("a session cookie");
    let r = raw(
        &w,
        HttpRequest::new(Method::POST, wf)
            .header("cookie", format!("tc_session={cookie}"))
            .header("origin", format!("http://{}", w.addr()))
            .json(json!({ "op": "hold", "target": "1234/climb" }).to_string()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // A token in the URL, a malformed login body, an unknown route.
    let r = raw(&w, HttpRequest::new(Method::GET, format!("/me?t={}", "ab".repeat(32)))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = raw(
        &w,
        HttpRequest::new(Method::POST, "/login")
            .header("x-requested-with", "threatcheck")
            .json("{\"user\": 1}"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(raw(&w, HttpRequest::new(Method::GET, "/nope")).await.status, 404);
    // A non-operator asks for the operator's status; an unknown operation; an owner the hub
    // does not serve.
    assert_eq!(mallory.get("/operator/status").await.expect("status").status, 403);
    let r = jacintar
        .post(wf, &json!({ "op": "frobnicate", "target": "1234/climb" }))
        .await
        .expect("post");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = jacintar
        .post(
            "/o/mallory/workflows/x",
            &json!({ "op": "hold", "target": "1234/climb" }),
        )
        .await
        .expect("post");
    assert_eq!(r.status, 404, "{}", r.text());
    // A command the UI server gates (denied for a read-only session, allowed for an elevated
    // one): recorded there, not again by the hub.
    let r = mallory
        .post(wf, &json!({ "op": "hold", "target": "1234/climb" }))
        .await
        .expect("post");
    assert!(matches!(r.status, 403 | 404), "{}", r.text());
    let r = jacintar
        .post(wf, &json!({ "op": "hold", "target": "1234/climb" }))
        .await
        .expect("post");
    assert_eq!(r.status, 200, "{}", r.text());

    let hub = hub_since(&w, before);
    assert_eq!(
        hub,
        [
            "User jacintar from 127.0.0.1 was refused POST /o/:owner/workflows/:name (csrf)",
            "An unauthenticated client from 127.0.0.1 was refused GET /me (token-in-url)",
            "An unauthenticated client from 127.0.0.1 was refused POST /login (bad-request)",
            "An unauthenticated client from 127.0.0.1 was refused GET \\x28unmatched\\x29 (not-found)",
            "User mallory from 127.0.0.1 was refused GET /operator/status (forbidden)",
            "User jacintar from 127.0.0.1 was refused POST /o/:owner/workflows/:name (bad-request)",
            "User jacintar from 127.0.0.1 was refused POST /o/:owner/workflows/:name (not-found)",
        ],
        "one record per refused attempt, none for the attempts the UI server recorded"
    );
    let ui: Vec<String> = w
        .audit_lines("uiserver-atmosphere_stage.log")
        .iter()
        .skip(ui_before)
        .map(|l| l.split_once(' ').map_or(String::new(), |(_, rest)| rest.to_owned()))
        .collect();
    assert_eq!(ui.len(), 3, "the denial, the allowed hold and its verdict: {ui:#?}");
    assert!(ui[0].starts_with("User mallory was denied hold on atmosphere_stage.clouds.1234/climb"));
    assert_eq!(ui[1], "User jacintar held atmosphere_stage.clouds.1234/climb");
    assert!(ui[2].ends_with("applied by the scheduler"), "{ui:#?}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_refusals_past_their_rate_are_counted_and_the_count_is_recorded() {
    let w = World::start(Options::default()).await;
    let before = w.audit_lines("hub.log").len();
    // The hub's clock stands still: the burst is recorded one by one, the rest counted.
    for n in 0..80 {
        let r = w.client_from(&format!("127.0.9.{n}")).get("/me").await.expect("me");
        assert_eq!(r.status, 401);
    }
    let hub = hub_since(&w, before);
    assert_eq!(hub.len(), 50, "the burst: {hub:#?}");
    assert!(
        hub.iter()
            .all(|l| l.starts_with("An unauthenticated client from 127.0.9.")
                && l.ends_with(" was refused GET /me (unauthenticated)")),
        "{hub:#?}"
    );
    // A second later the rate allows more: the count comes first, then the refusal itself.
    w.advance(Duration::from_secs(1));
    let r = w.client_from("127.0.9.200").get("/me").await.expect("me");
    assert_eq!(r.status, 401);
    let hub = hub_since(&w, before + 50);
    assert_eq!(
        hub,
        [
            "Defender counted 30 refusals not recorded one by one (over the unauthenticated audit rate, or the refusal queue full)",
            "An unauthenticated client from 127.0.9.200 was refused GET /me (unauthenticated)",
        ]
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_records_the_count_a_flood_left_and_never_a_count_of_nothing() {
    let w = World::start(Options {
        monitor_interval: Duration::from_millis(20),
        ..Options::default()
    })
    .await;
    let before = w.audit_lines("hub.log").len();
    for n in 0..80 {
        let r = w.client_from(&format!("127.0.8.{n}")).get("/me").await.expect("me");
        assert_eq!(r.status, 401);
    }
    // Nothing more arrives: the monitor writes what is left of the count by itself.
    let counted = |lines: &[String]| -> u64 {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix("Defender counted "))
            .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    crate::common::eventually("the monitor records the count", || {
        counted(&hub_since(&w, before)) == 30
    })
    .await;
    // A few more monitor rounds with nothing pending.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hub = hub_since(&w, before);
    assert_eq!(counted(&hub), 30);
    assert_eq!(
        hub.iter()
            .filter(|l| l.starts_with("An unauthenticated client"))
            .count(),
        50
    );
    assert!(
        hub.iter()
            .filter(|l| l.starts_with("Defender counted "))
            .all(|l| !l.starts_with("Defender counted 0 ")),
        "{hub:#?}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_straight_to_a_ui_server_without_the_hubs_assertion_is_recorded_by_that_ui_server() {
    let w = World::start(Options::default()).await;
    let mut c = w.login("jacintar").await;
    assert_eq!(c.get("/o/atmosphere_stage/workflows").await.expect("list").status, 200);
    let ui = w.ui_address("atmosphere_stage").expect("the UI server's address");
    let before = w.audit_lines("uiserver-atmosphere_stage.log").len();
    for req in [
        HttpRequest::new(Method::GET, "/workflows"),
        HttpRequest::new(Method::POST, "/workflows/clouds")
            .header("x-threatcheck-assertion", "v1 user=jacintar level=write")
            .json(json!({ "op": "stop", "target": "1234/climb" }).to_string()),
    ] {
        let r = send(ui, None, &req, Duration::from_secs(10)).await.expect("answer");
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let lines: Vec<String> = w
        .audit_lines("uiserver-atmosphere_stage.log")
        .iter()
        .skip(before)
        .map(|l| l.split_once(' ').map_or(String::new(), |(_, rest)| rest.to_owned()))
        .collect();
    assert_eq!(
        lines,
        [
            "An unauthenticated client from 127.0.0.1 was refused GET /workflows (unauthenticated)",
            "An unauthenticated client from 127.0.0.1 was refused POST /workflows/:name (unauthenticated)",
        ]
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_attempts_at_an_operation_are_recorded_once_each_and_bounded_like_any_refusal() {
    let w = World::start(Options::default()).await;
    let before = w.audit_lines("hub.log").len();
    for n in 0..80 {
        let r = w
            .client_from(&format!("127.0.7.{n}"))
            .post(
                "/o/atmosphere_stage/workflows/clouds",
                &json!({ "op": "hold", "target": "1234/climb" }),
            )
            .await
            .expect("post");
        assert_eq!(r.status, 401, "{}", r.text());
    }
    w.advance(Duration::from_secs(1));
    let r = raw(&w, HttpRequest::new(Method::GET, "/me")).await;
    assert_eq!(r.status, 401);
    let hub = hub_since(&w, before);
    assert_eq!(hub.len(), 52, "{hub:#?}");
    assert!(
        hub[..50]
            .iter()
            .all(|l| l.starts_with("An unauthenticated client from 127.0.7.")
                && l.ends_with(" was denied hold on atmosphere_stage.clouds (unauthenticated)")),
        "one record each, and no refusal record besides: {hub:#?}"
    );
    assert_eq!(
        hub[50],
        "Defender counted 30 refusals not recorded one by one (over the unauthenticated audit rate, or the refusal queue full)"
    );
    w.stop().await;
}
