//! S06 — as an attacker I want to harvest suite state via the HTTP proxy on the hub.
//!
//! The policy: the ocean team may read `oceans_stage/currents`, except `jacintar` (`!ALL`),
//! although `jacintar` is in the team; nobody but the team may read anything of
//! `oceans_stage`'s. [`UNAUTHORISED_SCAN`] has `jacintar` and `mallory` scan, list and fetch
//! the workflows they may not read, by name and through every other spelling a proxy might
//! map to the same workflow (other case, percent-encoding, a trailing slash, dot segments, a
//! NUL, Cylc's `~owner`), send commands to them, and go around the hub to the UI server. Every
//! answer about a hidden workflow must be exactly the answer about one that does not exist:
//! not even its existence may leak.

use protocol::Defence;
use protocol_gateway::http::client::{HttpRequest, Method, send};
use protocol_people::PeopleCheck;
use serde_json::json;

use super::{options, ui_server};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, WORKFLOWS};

/// Harvest state of unreadable workflows through the hub.
pub const UNAUTHORISED_SCAN: Harness = Harness {
    info: HarnessInfo {
        id: "s06-unauthorised-scan",
        story: "S06",
        target: "hub, UI server",
        title: "two users scan, list, fetch and command workflows they may not read, by name and in other case, percent-encoded, with dot segments, NUL, trailing slash and ~owner, and go around the hub",
        defences: &[Defence::People(PeopleCheck::NegationWins)],
        control: Control::WithoutEach,
        note: "the UI servers' authoriser lets ocean_team's READ beat jacintar's !ALL; the scan and 404 answers that hide existence stay",
    },
    run: |w| Box::pin(unauthorised_scan(w)),
};

/// `currents`: the ocean team may read it, except jacintar.
const CURRENTS: &str = "# The ocean team may read currents, but not jacintar.\n[grants]\n\"group:ocean_team\" = [\"READ\"]\n\"jacintar\" = [\"!ALL\"]\n";

/// The workflows someone may not read: `jacintar` neither `currents`; `mallory` neither.
const HIDDEN: [(&str, &[&str]); 2] = [("jacintar", &["currents"]), ("mallory", &["currents", "waves"])];

/// The path spellings tried for `name` (each must mean the same to the proxy, or nothing).
fn spellings(name: &str) -> Vec<(&'static str, String)> {
    let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        ("by name", format!("/o/oceans_stage/workflows/{name}")),
        ("owner upper case", format!("/o/OCEANS_STAGE/workflows/{name}")),
        ("owner mixed case", format!("/o/Oceans_Stage/workflows/{name}")),
        ("owner percent-encoded", format!("/o/%6Fceans%5Fstage/workflows/{name}")),
        ("name percent-encoded", format!("/o/oceans_stage/workflows/{encoded}")),
        (
            "name upper case",
            format!("/o/oceans_stage/workflows/{}", name.to_uppercase()),
        ),
        ("trailing slash", format!("/o/oceans_stage/workflows/{name}/")),
        ("dot segment", format!("/o/oceans_stage/workflows/./{name}")),
        ("dot-dot segment", format!("/o/oceans_stage/workflows/waves/../{name}")),
        (
            "encoded slash",
            format!("/o/oceans_stage/workflows/waves%2F..%2F{name}"),
        ),
        ("NUL suffix", format!("/o/oceans_stage/workflows/{name}%00")),
        ("Cylc ~owner", format!("/o/~oceans_stage/workflows/{name}")),
        ("double-encoded", format!("/o/oceans%255Fstage/workflows/{name}")),
    ]
}

/// Listings that must not name a hidden workflow.
const LISTINGS: [&str; 4] = [
    "/scan",
    "/o/oceans_stage/workflows",
    "/o/OCEANS_STAGE/workflows",
    "/o/oceans%5Fstage/workflows",
];

/// One answer: what was asked (user, what, path) and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    user: &'static str,
    what: String,
    status: u16,
    body: String,
}

/// Asks everything about the hidden workflows in `w`; the listings too when `listings`.
async fn probe(w: &GatewayWorld, listings: bool) -> Result<Vec<Answer>, HarnessError> {
    let http = |e: protocol_gateway::http::client::HttpError| HarnessError::setup(format!("no answer: {e}"));
    let mut answers = Vec::new();
    for (user, hidden) in HIDDEN {
        let mut c = w.elevated(user, "write").await?;
        if listings {
            for path in LISTINGS {
                let r = c.get(path).await.map_err(http)?;
                answers.push(Answer {
                    user,
                    what: format!("listing {path}"),
                    status: r.status,
                    body: r.text(),
                });
            }
        }
        for name in hidden {
            for (what, path) in spellings(name) {
                let r = c.get(&path).await.map_err(http)?;
                answers.push(Answer {
                    user,
                    what: format!("{name} {what}"),
                    status: r.status,
                    body: r.text(),
                });
            }
            let r = c
                .post(
                    &format!("/o/oceans_stage/workflows/{name}"),
                    &json!({ "op": "hold", "target": "1234" }),
                )
                .await
                .map_err(http)?;
            answers.push(Answer {
                user,
                what: format!("{name} hold command"),
                status: r.status,
                body: r.text(),
            });
        }
    }
    Ok(answers)
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(120).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

async fn unauthorised_scan(weakening: Weakening) -> Result<Outcome, HarnessError> {
    let authz = weakening.people();
    let options = GatewayOptions {
        policy: vec![("workflows/oceans_stage/currents.toml".into(), CURRENTS.into())],
        authz_defences: authz,
        ..options()
    };
    let w = GatewayWorld::start(options.clone()).await?;
    let seen = probe(&w, true).await?;
    let jobs: Vec<(String, String)> = ["currents", "waves"]
        .iter()
        .map(|name| w.workflow(name).map(|wf| ((*name).to_owned(), wf.job.to_string())))
        .collect::<Result<_, _>>()?;
    // Around the hub: straight to oceans_stage's UI server, with no assertion.
    let ui = ui_server(&w, "oceans_stage")?;
    let direct = send(
        ui,
        None,
        &HttpRequest::new(Method::GET, "/workflows/currents"),
        std::time::Duration::from_secs(5),
    )
    .await
    .map_err(|e| HarnessError::setup(format!("no answer: {e}")))?;
    let mut commands = 0;
    for name in ["currents", "waves"] {
        commands += w.workflow(name)?.control().await?.commands;
    }
    // Requests oceans_stage's UI server denied as negated, as its audit log records them.
    let negated = w
        .audit_lines("oceans_stage")
        .iter()
        .filter(|l| l.ends_with("(negated)"))
        .count() as u64;
    w.stop().await;
    // The same questions where the hidden workflows do not exist: every answer must match.
    let none = GatewayWorld::start(GatewayOptions {
        workflows: WORKFLOWS
            .iter()
            .copied()
            .filter(|(o, _, _)| *o != "oceans_stage")
            .collect(),
        ..options
    })
    .await?;
    let baseline = probe(&none, false).await?;
    none.stop().await;

    let mut breaches = Vec::new();
    for a in &seen {
        let hidden = HIDDEN.iter().find(|(u, _)| *u == a.user).map_or(&[][..], |(_, h)| *h);
        let named = jobs
            .iter()
            .filter(|(name, _)| hidden.contains(&name.as_str()))
            .find(|(name, job)| a.body.contains(&format!("\"{name}\"")) || a.body.contains(job.as_str()));
        if let Some((name, _)) = named {
            breaches.push(format!("{}'s {} ({}) disclosed {name}", a.user, a.what, a.status));
        }
    }
    for b in &baseline {
        if let Some(a) = seen.iter().find(|a| a.user == b.user && a.what == b.what)
            && (a.status, &a.body) != (b.status, &b.body)
            && a.status != 200
        {
            breaches.push(format!(
                "{} learnt a hidden workflow exists ({}: {} {} where it does not exist: {} {})",
                a.user,
                a.what,
                a.status,
                short(&a.body),
                b.status,
                short(&b.body)
            ));
        }
    }
    if direct.status != 401 {
        breaches.push(format!(
            "the UI server answered a request without the hub's assertion: {} {}",
            direct.status,
            short(&direct.text())
        ));
    }
    if commands > 0 {
        breaches.push(format!("{commands} commands reached the hidden workflows' schedulers"));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(PeopleCheck::NegationWins, negated),
        format!(
            "negation-wins: jacintar's !ALL on oceans_stage/currents beat ocean_team's READ; {} questions by jacintar \
             and mallory (scans, owner listings, 13 spellings of each hidden workflow's URL, a hold command) named no \
             hidden workflow, and each got exactly the answer it gets where the workflow does not exist (404 \
             {{\"error\":\"not-found\"}}); no command reached them, and the UI server refused a request that went \
             around the hub (401 unauthenticated)",
            seen.len()
        ),
    ))
}
