//! The hub's secure defaults: where tokens may travel, the CSRF scheme, uniform errors, and
//! logs that never hold a secret.

use protocol_gateway::http::client::{HttpRequest, HttpResponse, Method, send};
use serde_json::json;

use crate::common::{Options, World, password};

fn login_request(user: &str, pw: &str) -> HttpRequest {
    HttpRequest::new(Method::POST, "/login")
        .header("x-requested-with", "threatcheck")
        .json(json!({ "user": user, "password": pw }).to_string())
}

async fn raw(w: &World, req: HttpRequest) -> HttpResponse {
    send(w.addr(), None, &req, std::time::Duration::from_secs(10))
        .await
        .expect("response")
}

fn token_cookie(r: &HttpResponse) -> String {
    r.set_cookies()
        .iter()
        .find_map(|c| {
            c.strip_prefix("tc_session=")
                .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        })
        .expect("session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_token_travels_only_in_an_http_only_strict_cookie_or_a_bearer_header() {
    let w = World::start(Options::default()).await;
    let r = raw(&w, login_request("jacintar", &password("jacintar"))).await;
    assert_eq!(r.status, 200);
    let cookies = r.set_cookies();
    let session = cookies.iter().find(|c| c.starts_with("tc_session=")).expect("cookie");
    assert!(session.ends_with("; Path=/; SameSite=Strict; HttpOnly"), "{session}");
    let csrf = cookies.iter().find(|c| c.starts_with("tc_csrf=")).expect("csrf cookie");
    assert!(csrf.contains("SameSite=Strict") && !csrf.contains("HttpOnly"));
    let token = token_cookie(&r);
    assert!(!r.text().contains(&token), "the body of a cookie login holds no token");
    assert_eq!(
        r.headers.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );

    let bearer = raw(
        &w,
        HttpRequest::new(Method::POST, "/login")
            .header("x-requested-with", "threatcheck")
            .json(json!({ "user": "mallory", "password": password("mallory"), "bearer": true }).to_string()),
    )
    .await;
    assert!(bearer.set_cookies().is_empty(), "a bearer login sets no cookie");
    let t = bearer.json()["token"].as_str().expect("token").to_owned();
    let me = raw(
        &w,
        HttpRequest::new(Method::GET, "/me").header("authorization", format!("Bearer {t}")),
    )
    .await;
    assert_eq!((me.status, me.json()["user"].as_str()), (200, Some("mallory")));
    // A bearer token needs no CSRF token: browsers never send it by themselves.
    let ka = raw(
        &w,
        HttpRequest::new(Method::POST, "/o/atmosphere_stage/keepalive").header("authorization", format!("Bearer {t}")),
    )
    .await;
    assert_eq!(ka.status, 204, "{}", ka.text());

    for url in [
        format!("/me?token={t}"),
        format!("/scan?x={t}"),
        "/me?access_token=abc".to_owned(),
    ] {
        let r = raw(
            &w,
            HttpRequest::new(Method::GET, url.as_str()).header("authorization", format!("Bearer {t}")),
        )
        .await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (400, "{\"error\":\"token-in-url\"}"),
            "{url}"
        );
    }
    let both = raw(
        &w,
        HttpRequest::new(Method::GET, "/me")
            .header("authorization", format!("Bearer {t}"))
            .header("cookie", format!("tc_session={token}")),
    )
    .await;
    assert_eq!(both.status, 400);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_are_uniform_whether_or_not_the_account_exists() {
    let w = World::start(Options::default()).await;
    let unknown = raw(&w, login_request("nosuchuser", "whatever")).await;
    let wrong = raw(&w, login_request("jacintar", "wrong")).await;
    let garbage = raw(&w, login_request("-- ; rm -rf", "x")).await;
    for r in [&unknown, &wrong, &garbage] {
        assert_eq!((r.status, r.text().as_str()), (401, "{\"error\":\"login-failed\"}"));
        assert!(r.set_cookies().is_empty());
    }
    let malformed = raw(
        &w,
        HttpRequest::new(Method::POST, "/login")
            .header("x-requested-with", "threatcheck")
            .json("{\"user\": 1}"),
    )
    .await;
    assert_eq!(
        (malformed.status, malformed.text().as_str()),
        (400, "{\"error\":\"bad-request\"}")
    );
    let lines = w.audit_lines("hub.log");
    assert!(
        lines[0].ends_with("User nosuchuser from 127.0.0.1 failed to log in to threatcheck-hub (bad-credentials)"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with("User jacintar from 127.0.0.1 failed to log in to threatcheck-hub (bad-credentials)"));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_need_the_sessions_csrf_token_and_the_hubs_own_origin() {
    let w = World::start(Options::default()).await;
    let mut jacintar = w.login("jacintar").await;
    let mallory = w.login("mallory").await;
    let token = jacintar.session_cookie().expect("cookie");
    let mallory_csrf = {
        let mut m = mallory;
        m.get("/me").await.expect("me").json()["csrf"]
            .as_str()
            .expect("csrf")
            .to_owned()
    };
    let own_csrf = jacintar.get("/me").await.expect("me").json()["csrf"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let post = |headers: Vec<(&str, String)>| {
        let mut r = HttpRequest::new(Method::POST, "/o/atmosphere_stage/keepalive")
            .header("cookie", format!("tc_session={token}"));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r
    };
    let csrf_refused = "{\"error\":\"csrf\"}";
    for (what, headers) in [
        ("no token", vec![]),
        ("another session's token", vec![("x-csrf-token", mallory_csrf.clone())]),
        (
            "a foreign origin",
            vec![
                ("x-csrf-token", own_csrf.clone()),
                ("origin", "http://evil.example".into()),
            ],
        ),
        (
            "a cross-site fetch",
            vec![
                ("x-csrf-token", own_csrf.clone()),
                ("sec-fetch-site", "cross-site".into()),
            ],
        ),
    ] {
        let r = raw(&w, post(headers)).await;
        assert_eq!((r.status, r.text().as_str()), (403, csrf_refused), "{what}");
    }
    let ok = raw(
        &w,
        post(vec![
            ("x-csrf-token", own_csrf),
            ("origin", format!("http://{}", w.addr())),
        ]),
    )
    .await;
    assert_eq!(ok.status, 204, "{}", ok.text());
    // A login needs the custom header a cross-site form cannot send.
    let bare = HttpRequest::new(Method::POST, "/login")
        .json(json!({ "user": "jacintar", "password": password("jacintar") }).to_string());
    let r = raw(&w, bare).await;
    assert_eq!((r.status, r.text().as_str()), (403, csrf_refused));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies_name_no_address_path_or_detail_and_logs_hold_no_secret() {
    let w = World::start(Options::default()).await;
    let mut c = w.login("jacintar").await;
    let first = c.session_cookie().expect("cookie");
    c.elevate(&password("jacintar"), "execute").await.expect("elevate");
    let second = c.session_cookie().expect("cookie");
    let mut responses = Vec::new();
    for path in [
        "/nowhere",
        "/o/atmosphere_stage/workflows/..%2F..%2Fetc%2Fpasswd",
        "/o/oceans_stage/workflows/currents",
        "/o/%2Fetc/workflows",
        "/operator/status",
    ] {
        responses.push(c.get(path).await.expect("get"));
    }
    responses.push(
        c.post(
            "/o/atmosphere_stage/workflows/clouds",
            &json!({ "op": "nonsense", "target": "x" }),
        )
        .await
        .expect("post"),
    );
    responses.push(
        c.post(
            "/o/atmosphere_stage/workflows/clouds",
            &json!({ "op": "stop", "target": "1/a b" }),
        )
        .await
        .expect("post"),
    );
    responses.push(
        c.post(
            "/o/atmosphere_stage/workflows/clouds",
            &json!({ "op": "stop", "target": "9999/nope" }),
        )
        .await
        .expect("post"),
    );
    responses.push(
        c.send(HttpRequest::new(Method::DELETE, "/login"), false)
            .await
            .expect("delete"),
    );
    let huge = "x".repeat(20_000);
    responses.push(
        c.post(
            "/o/atmosphere_stage/workflows/clouds",
            &json!({ "op": huge, "target": "1" }),
        )
        .await
        .expect("post"),
    );
    let dir = w.dir().to_string_lossy().into_owned();
    let mut statuses = Vec::new();
    for r in &responses {
        let body = r.text();
        statuses.push(r.status);
        let v = r.json();
        let keys: Vec<&String> = v.as_object().expect("a JSON object").keys().collect();
        assert!(keys == ["error"] || keys == ["code", "error"], "{body}");
        for secret in [
            "127.0.0.1",
            dir.as_str(),
            "/work",
            "panicked",
            "at src",
            &first,
            &second,
        ] {
            assert!(!body.contains(secret), "{body} contains {secret}");
        }
    }
    assert_eq!(statuses, [404, 404, 404, 404, 403, 400, 400, 409, 405, 413]);
    // Bad tokens, a token in a URL, a wrong password: then no log line holds a secret.
    let mut thief = w.client();
    thief.set_session_cookie(&first);
    let _ = thief.get("/me").await;
    let _ = thief.get(&format!("/scan?token={second}")).await;
    let _ = c.elevate("not-the-password", "write").await;
    let lines = w.log_lines();
    assert!(lines.len() > 10, "{lines:?}");
    for line in &lines {
        for secret in [
            first.as_str(),
            second.as_str(),
            &password("jacintar"),
            "not-the-password",
        ] {
            assert!(!line.contains(secret), "log line {line:?} holds a secret");
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("GET /scan 400")),
        "the refused request is logged without its query"
    );
    w.stop().await;
}
