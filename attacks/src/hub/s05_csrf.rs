//! S05 — as an attacker I want to ride or leak a person's session: cross-site request
//! forgery against the hub, and session tokens carried in URLs; and S02 — fool the hub's
//! authentication with a forged login (login CSRF).
//!
//! The victim, jacintar, is logged in (and elevated to execute) in a browser, simulated here
//! by raw requests carrying the victim's session cookie, as a browser attaches it to any
//! request to the hub. Each forged request is built so that exactly one of the hub's checks
//! stands between the attacker and the effect:
//!
//! * `csrf-token`: a hold command with the session cookie but no `X-CSRF-Token`, from a
//!   client that sends no `Origin` (an old browser, a privacy proxy stripping it) and from a
//!   page served on the hub's own origin, so the Origin check lets both through.
//! * `origin-check`: the same command carrying the victim's real CSRF token, as a page on
//!   another port of 127.0.0.1 can: cookies are not isolated by port, `tc_csrf` is readable
//!   by script by design and such a page is same-site, so `SameSite=Strict` does not hold the
//!   session cookie back either; its `Origin` (or `Sec-Fetch-Site: same-site`) is all that
//!   gives it away.
//! * `token-in-url`: requests that carry a live session token in the query string (besides
//!   the header the hub reads), the URLs that end up in histories, proxy logs and `Referer`.
//! * `login-header`: a form login into the attacker's account (mallory) without
//!   `X-Requested-With`, with no `Origin` or the hub's own, which would switch the victim's
//!   browser into the attacker's session.
//!
//! The CSRF token, Origin and login-header checks all answer `403 {"error":"csrf"}`; each
//! forged request is sent beside a twin that differs only in what the tested check looks at
//! and must be served, so a `403 csrf` to the forged one is that check's.

use protocol::Defence;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::http::client::{HttpRequest, HttpResponse, HubClient, Method};
use serde_json::json;

use super::{code, raw};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, password};

/// A command without the CSRF token, from a client whose Origin the hub accepts.
pub const CSRF_TOKEN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-csrf-token",
        story: "S05",
        target: "hub",
        title: "forges hold commands on ~atmosphere_stage/clouds with elevated jacintar's session cookie and no CSRF token, once with no Origin and once with the hub's own origin",
        defences: &[Defence::Gateway(GatewayCheck::CsrfToken)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(csrf_token(w)),
};

/// A command with the cookie and the real CSRF token from a page of another origin.
pub const CROSS_ORIGIN: Harness = Harness {
    info: HarnessInfo {
        id: "s05-cross-origin-command",
        story: "S05",
        target: "hub",
        title: "forges hold commands on ~atmosphere_stage/clouds from a page on another port of 127.0.0.1 that read jacintar's CSRF token, with the session cookie and that token",
        defences: &[Defence::Gateway(GatewayCheck::OriginCheck)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(cross_origin(w)),
};

/// A live token in the query string.
pub const TOKEN_IN_URL: Harness = Harness {
    info: HarnessInfo {
        id: "s05-token-in-url",
        story: "S05",
        target: "hub",
        title: "requests /me and ~atmosphere_stage's workflows with jacintar's live bearer token and session cookie also in the query string (?token=, ?access_token=, ?tc_session=, a token-shaped ?t=, and the ways round a literal check: a percent-encoded token, a `;` separator, a token split over two parameters)",
        defences: &[Defence::Gateway(GatewayCheck::TokenInUrl)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(token_in_url(w)),
};

/// Login CSRF: a cross-site form logs the victim's browser into the attacker's account.
pub const LOGIN_CSRF: Harness = Harness {
    info: HarnessInfo {
        id: "s02-login-csrf",
        story: "S02",
        target: "hub",
        title: "makes jacintar's browser post mallory's credentials to /login as a form would (no X-Requested-With), with no Origin and with the hub's own",
        defences: &[Defence::Gateway(GatewayCheck::LoginHeader)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(login_csrf(w)),
};

/// The victim.
const VICTIM: &str = "jacintar";
/// The attacker's own account.
const ATTACKER: &str = "mallory";
/// The workflow the forged commands aim at.
const TARGET: &str = "/o/atmosphere_stage/workflows/clouds";
/// Where the twin commands (which must be served) go, so they never touch [`TARGET`].
const TWIN: &str = "/o/atmosphere_stage/workflows/winds";
/// Where the cross-origin attacker's page is served (another port of the hub's host).
const OTHER_PORT: u16 = 8888;

/// The world on a target weakened by `w` (hub, UI servers and people cores alike).
async fn world(w: &Weakening) -> Result<GatewayWorld, HarnessError> {
    let (gateway, people) = (w.gateway(), w.people());
    GatewayWorld::start(GatewayOptions {
        hub_defences: gateway.clone(),
        ui_defences: gateway,
        session_defences: people.clone(),
        authz_defences: people.clone(),
        audit_defences: people,
        ..GatewayOptions::default()
    })
    .await
    .map_err(HarnessError::from)
}

async fn csrf_token(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = world(&w).await?;
    let result = forged_commands(&world, Forgery::NoCsrfToken).await;
    world.stop().await;
    result
}

async fn cross_origin(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = world(&w).await?;
    let result = forged_commands(&world, Forgery::ForeignOrigin).await;
    world.stop().await;
    result
}

/// Every byte as `%xx`.
fn percent_encoded(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02x}")).collect()
}

async fn token_in_url(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = world(&w).await?;
    let result = urls(&world).await;
    world.stop().await;
    result
}

async fn login_csrf(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = world(&w).await?;
    let result = forged_logins(&world).await;
    world.stop().await;
    result
}

/// The victim's browser: its page (a [`HubClient`] that sends the CSRF token, the Origin and
/// the login header as the hub's own page does) and what the browser holds.
struct Victim {
    page: HubClient,
    cookie: String,
    csrf: String,
}

/// jacintar logged in and elevated to execute, as the hub's own page does it.
async fn elevated_victim(world: &GatewayWorld) -> Result<Victim, HarnessError> {
    let mut page = world.login(VICTIM).await?;
    let r = page
        .elevate(&password(VICTIM), "execute")
        .await
        .map_err(|e| HarnessError::setup(format!("{VICTIM} could not elevate: {e}")))?;
    if r.status != 200 {
        return Err(HarnessError::setup(format!(
            "{VICTIM}'s elevation was answered {}",
            code(&r)
        )));
    }
    let csrf = r.json()["csrf"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| HarnessError::setup("the elevation answer carried no CSRF token"))?;
    let cookie = page
        .session_cookie()
        .ok_or_else(|| HarnessError::setup("the elevation set no session cookie"))?;
    Ok(Victim { page, cookie, csrf })
}

/// A body a page can send without a preflight (`text/plain`), holding JSON.
fn simple_body(req: HttpRequest, body: &serde_json::Value) -> HttpRequest {
    let mut req = req.header("content-type", "text/plain;charset=UTF-8");
    req.body = body.to_string().into_bytes();
    req
}

/// `headers` added to `req`.
fn with(mut req: HttpRequest, headers: &[(&str, String)]) -> HttpRequest {
    for (k, v) in headers {
        req = req.header(*k, v.clone());
    }
    req
}

/// What the forged commands lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forgery {
    /// No CSRF token; an Origin the hub accepts (none, or its own).
    NoCsrfToken,
    /// The real CSRF token; another origin.
    ForeignOrigin,
}

/// One forged command and its twin: the headers each carries besides the session cookie.
struct Variant {
    what: &'static str,
    forged: Vec<(&'static str, String)>,
    twin: Vec<(&'static str, String)>,
    target: &'static str,
    twin_target: &'static str,
}

fn variants(world: &GatewayWorld, forgery: Forgery, csrf: &str) -> Vec<Variant> {
    let own = format!("http://{}", world.addr());
    let port = if world.addr().port() == OTHER_PORT {
        OTHER_PORT + 1
    } else {
        OTHER_PORT
    };
    let other = format!("http://127.0.0.1:{port}");
    let token = ("x-csrf-token", csrf.to_owned());
    match forgery {
        Forgery::NoCsrfToken => vec![
            Variant {
                what: "from a client that sends no Origin or Sec-Fetch-Site, without the CSRF token",
                forged: vec![],
                twin: vec![token.clone()],
                target: "1234",
                twin_target: "1234",
            },
            Variant {
                what: "from a page on the hub's own origin, without the CSRF token",
                forged: vec![("origin", own.clone()), ("sec-fetch-site", "same-origin".into())],
                twin: vec![("origin", own), ("sec-fetch-site", "same-origin".into()), token],
                target: "1234/climb",
                twin_target: "1234/blow",
            },
        ],
        Forgery::ForeignOrigin => vec![
            Variant {
                what: "from a page at 127.0.0.1:8888 (Origin and Sec-Fetch-Site: same-site) with the real CSRF token",
                forged: vec![("origin", other), ("sec-fetch-site", "same-site".into()), token.clone()],
                twin: vec![
                    ("origin", own.clone()),
                    ("sec-fetch-site", "same-origin".into()),
                    token.clone(),
                ],
                target: "1234",
                twin_target: "1234",
            },
            Variant {
                what: "from a client that strips Origin but sends Sec-Fetch-Site: same-site, with the real CSRF token",
                forged: vec![("sec-fetch-site", "same-site".into()), token.clone()],
                twin: vec![("sec-fetch-site", "same-origin".into()), token],
                target: "1234/climb",
                twin_target: "1234/blow",
            },
        ],
    }
}

/// The forged hold commands on `~atmosphere_stage/clouds`; the breach is what its scheduler
/// applied.
async fn forged_commands(world: &GatewayWorld, forgery: Forgery) -> Result<Outcome, HarnessError> {
    let tested = match forgery {
        Forgery::NoCsrfToken => GatewayCheck::CsrfToken,
        Forgery::ForeignOrigin => GatewayCheck::OriginCheck,
    };
    let mut victim = elevated_victim(world).await?;
    let cookie = format!("tc_session={}", victim.cookie);
    let clouds = world.workflow("clouds")?;
    let before = clouds.control().await?.commands;
    let (mut fired, mut answers, mut accepted) = (0, Vec::new(), Vec::new());
    for v in variants(world, forgery, &victim.csrf) {
        let send = |path: &str, target: &str, headers: &[(&str, String)]| {
            let req = HttpRequest::new(Method::POST, path).header("cookie", cookie.clone());
            with(simple_body(req, &json!({ "op": "hold", "target": target })), headers)
        };
        // The twin differs only in what the tested check looks at: it must be served.
        let twin = raw(world.addr(), &send(TWIN, v.twin_target, &v.twin)).await?;
        if twin.status != 200 {
            return Err(HarnessError::setup(format!(
                "the twin of the request {} was answered {}, so a refusal proves nothing about {tested}",
                v.what,
                code(&twin)
            )));
        }
        let r = raw(world.addr(), &send(TARGET, v.target, &v.forged)).await?;
        if r.status == 200 {
            accepted.push(format!(
                "the hold of {} {} was answered 200 {}",
                v.target,
                v.what,
                r.text()
            ));
        } else if code(&r) == "403 csrf" {
            fired += 1;
        }
        answers.push(format!("{}: {}", v.what, code(&r)));
    }
    let control = clouds.control().await?;
    let mut breaches = Vec::new();
    if control.commands > before || !control.held.is_empty() {
        breaches.push(format!(
            "~atmosphere_stage/clouds's scheduler applied {} forged command(s) as {VICTIM} (held: {}): {}",
            control.commands - before,
            control.held.iter().cloned().collect::<Vec<_>>().join(", "),
            accepted.join("; ")
        ));
    } else if !accepted.is_empty() {
        breaches.push(accepted.join("; "));
    }
    // The victim's own page still commands: the refusals are not a broken hub.
    let own = victim
        .page
        .post(TWIN, &json!({ "op": "hold", "target": "1234/blow" }))
        .await
        .map_err(|e| HarnessError::setup(format!("the victim's own command got no answer: {e}")))?;
    if !matches!(own.status, 200 | 409) {
        return Err(HarnessError::setup(format!(
            "the victim's own command was answered {}",
            code(&own)
        )));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(tested, fired),
        format!(
            "the hub refused every forged hold on ~atmosphere_stage/clouds ({}) while their twins (differing only in what \
             {tested} looks at) were served, and the scheduler applied nothing",
            answers.join("; ")
        ),
    ))
}

/// What a served answer gave away, without its secrets: whose session, or which fields.
fn what_served(r: &HttpResponse) -> String {
    let body = r.json();
    if let Some(user) = body["user"].as_str() {
        return format!("{user}'s session at level {}", body["level"].as_str().unwrap_or("?"));
    }
    let fields: Vec<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    format!("a body with {}", fields.join(", "))
}

/// A response that served data (200 with a JSON body).
fn served(r: &HttpResponse) -> bool {
    r.status == 200 && !r.json().is_null()
}

async fn urls(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let cookie_client = world.login(VICTIM).await?;
    let cookie = cookie_client
        .session_cookie()
        .ok_or_else(|| HarnessError::setup("the login set no session cookie"))?;
    // A bearer token, as a script gets one.
    let mut script = world.client();
    let r = script
        .post(
            "/login",
            &json!({ "user": VICTIM, "password": password(VICTIM), "bearer": true }),
        )
        .await
        .map_err(|e| HarnessError::setup(format!("the bearer login got no answer: {e}")))?;
    let bearer = r.json()["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| HarnessError::setup(format!("the bearer login was answered {}", code(&r))))?;
    let (first_half, second_half) = match (cookie.get(..32), cookie.get(32..)) {
        (Some(a), Some(b)) if cookie.len() == 64 => (a.to_owned(), b.to_owned()),
        _ => return Err(HarnessError::setup("the session cookie is not a 64-character token")),
    };
    let by_bearer =
        |path: &str| HttpRequest::new(Method::GET, path).header("authorization", format!("Bearer {bearer}"));
    let by_cookie = |path: &str| HttpRequest::new(Method::GET, path).header("cookie", format!("tc_session={cookie}"));
    // The same credentials without a URL token are served: the tokens are live.
    for (what, req) in [("bearer", by_bearer("/me")), ("cookie", by_cookie("/me"))] {
        let r = raw(world.addr(), &req).await?;
        if !served(&r) {
            return Err(HarnessError::setup(format!(
                "/me with the {what} token alone was answered {}",
                code(&r)
            )));
        }
    }
    let attempts = [
        ("/me?token= (bearer)", by_bearer(&format!("/me?token={bearer}"))),
        (
            "clouds?access_token= (bearer)",
            by_bearer(&format!("{TARGET}?access_token={bearer}")),
        ),
        (
            "workflows?tc_session= (cookie)",
            by_cookie(&format!("/o/atmosphere_stage/workflows?tc_session={cookie}")),
        ),
        ("/me?t=<token> (cookie)", by_cookie(&format!("/me?t={cookie}"))),
        // The ways round a check that looks only at whole, literal `name=value` pairs.
        (
            "/me?x=<percent-encoded token> (bearer)",
            by_bearer(&format!("/me?x={}", percent_encoded(&bearer))),
        ),
        (
            "/me?verbose=1;token= (bearer)",
            by_bearer(&format!("/me?verbose=1;token={bearer}")),
        ),
        (
            "/me?a=<half>&b=<half> (cookie)",
            by_cookie(&format!("/me?a={first_half}&b={second_half}")),
        ),
    ];
    let (mut fired, mut breaches, mut answers) = (0, Vec::new(), Vec::new());
    for (what, req) in attempts {
        let r = raw(world.addr(), &req).await?;
        if served(&r) {
            breaches.push(format!(
                "{what} with a live token in the URL was served 200 ({})",
                what_served(&r)
            ));
        } else if code(&r) == "400 token-in-url" {
            fired += 1;
        }
        answers.push(format!("{what}: {}", code(&r)));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::TokenInUrl, fired),
        format!(
            "the hub refused every request with {VICTIM}'s live token in its URL ({}), while the same tokens in the \
             cookie and Authorization header alone were served",
            answers.join("; ")
        ),
    ))
}

/// Who the browser `page` is logged in as, by the hub's `/me`.
async fn whoami(page: &mut HubClient) -> Result<String, HarnessError> {
    let r = page
        .get("/me")
        .await
        .map_err(|e| HarnessError::setup(format!("GET /me got no answer: {e}")))?;
    Ok(r.json()["user"].as_str().map_or_else(|| code(&r), str::to_owned))
}

async fn forged_logins(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut victim = world.login(VICTIM).await?;
    let own = format!("http://{}", world.addr());
    let credentials = json!({ "user": ATTACKER, "password": password(ATTACKER) });
    let variants: [(&str, Vec<(&str, String)>); 2] = [
        (
            "a form posted by a browser that sends no Origin or Sec-Fetch-Site",
            vec![],
        ),
        (
            "a form on a page of the hub's own origin",
            vec![("origin", own), ("sec-fetch-site", "same-origin".into())],
        ),
    ];
    let (mut fired, mut breaches, mut answers) = (0, Vec::new(), Vec::new());
    for (what, headers) in variants {
        // The twin adds only the login header, from a browser of its own: it must log in.
        let twin = with(
            simple_body(HttpRequest::new(Method::POST, "/login"), &credentials),
            &headers,
        )
        .header("x-requested-with", "threatcheck");
        let t = raw(world.addr(), &twin).await?;
        if t.status != 200 {
            return Err(HarnessError::setup(format!(
                "the twin of {what} (with X-Requested-With) was answered {}, so a refusal proves nothing about login-header",
                code(&t)
            )));
        }
        // The forged form, sent by the victim's browser (which attaches its own cookie).
        let mut req = simple_body(HttpRequest::new(Method::POST, "/login"), &credentials);
        if let Some(c) = victim.session_cookie() {
            req = req.header("cookie", format!("tc_session={c}"));
        }
        let r = victim
            .send(with(req, &headers), true)
            .await
            .map_err(|e| HarnessError::setup(format!("the forged login got no answer: {e}")))?;
        if r.status != 200 && code(&r) == "403 csrf" {
            fired += 1;
        }
        answers.push(format!("{what}: {}", code(&r)));
        let now = whoami(&mut victim).await?;
        if now != VICTIM {
            breaches.push(format!(
                "{what} was answered {} and the victim's browser is now logged in as {now} (GET /me)",
                r.status
            ));
            // The victim logs in again, as they would, for the next attempt.
            victim = world.login(VICTIM).await?;
        }
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::LoginHeader, fired),
        format!(
            "the hub refused every forged login into {ATTACKER}'s account ({}) while their twins with X-Requested-With \
             were served, and the victim's browser stayed {VICTIM}'s",
            answers.join("; ")
        ),
    ))
}
