//! C05 — privacy between users.
//!
//! `oceans_stage/currents` is private to its owner (`"*" = ["!ALL"]`), but the admin who wrote
//! its policy file made a typo (`"!AL"`). [`PRIVACY_BETWEEN_USERS`] has `jacintar` (in the
//! ocean team, which may read `oceans_stage`'s other workflows) and `mallory` (nobody's
//! friend) look at everything a person can ask the hub about others: scans, listings and states
//! of other owners' workflows, their own session, the operator view of every session, logins
//! that probe for accounts, and error answers. No answer may name another person, a private
//! workflow, a policy file or a parser message; each person's session view is their own; each
//! owner's audit log names only that owner's workflows. The typo must close the policy, not
//! open the workflow.

use protocol::Defence;
use protocol_gateway::http::client::HubClient;
use protocol_people::PeopleCheck;

use super::options;
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// One user's sessions, state and errors never show another's.
pub const PRIVACY_BETWEEN_USERS: Harness = Harness {
    info: HarnessInfo {
        id: "c05-privacy-between-users",
        story: "C05",
        target: "hub, UI server",
        title: "two users look for other users' sessions, private workflows, accounts and policy in scans, listings, states, /me, the operator view, login failures and error answers, while the private workflow's policy file has a typo",
        defences: &[Defence::People(PeopleCheck::FailClosed)],
        control: Control::WithoutEach,
        note: "the UI servers' policy loader skips the malformed file, so the owner layer's grants apply to the private workflow; the uniform answers that name nobody stay",
    },
    run: |w| Box::pin(privacy_between_users(w)),
};

/// `currents`' policy as the admin wrote it: `!AL` for `!ALL`.
const TYPO: &str = "# So sensitive that only its owner may even read it.\n[grants]\n\"*\" = [\"!AL\"]\n";

/// What each person asks.
const PATHS: [&str; 9] = [
    "/scan",
    "/me",
    "/o/oceans_stage/workflows",
    "/o/oceans_stage/workflows/currents",
    "/o/oceans_stage/workflows/waves",
    "/o/atmosphere_stage/workflows",
    "/o/atmosphere_stage/workflows/clouds",
    "/o/nobody_here/workflows",
    "/operator/status",
];

/// What must never appear in an answer to each person: other people, the private workflow
/// (its name is in its state and its job ids), the policy's files and the parser's words.
fn secrets(user: &str) -> Vec<&'static str> {
    let mut s = vec!["currents", ".toml", "!AL", "policy", "argon2"];
    s.push(if user == "mallory" { "jacintar" } else { "mallory" });
    if user == "mallory" {
        s.push("waves");
    }
    s
}

struct Answer {
    user: &'static str,
    path: String,
    status: u16,
    body: String,
}

async fn ask(user: &'static str, c: &mut HubClient, answers: &mut Vec<Answer>) -> Result<(), HarnessError> {
    for path in PATHS {
        let r = c
            .get(path)
            .await
            .map_err(|e| HarnessError::setup(format!("no answer: {e}")))?;
        answers.push(Answer {
            user,
            path: path.to_owned(),
            status: r.status,
            body: r.text(),
        });
    }
    Ok(())
}

async fn privacy_between_users(weakening: Weakening) -> Result<Outcome, HarnessError> {
    let authz = weakening.people();
    let mut w = GatewayWorld::start(GatewayOptions {
        policy: vec![("workflows/oceans_stage/currents.toml".into(), TYPO.into())],
        authz_defences: authz,
        ..options()
    })
    .await?;
    let http = |e: protocol_gateway::http::client::HttpError| HarnessError::setup(format!("no answer: {e}"));
    let mut answers = Vec::new();
    for user in ["jacintar", "mallory"] {
        let mut c = w.login(user).await?;
        ask(user, &mut c, &mut answers).await?;
        let mut up = w.elevated(user, "write").await?;
        ask(user, &mut up, &mut answers).await?;
    }
    // Probing for accounts: an unknown user and a known one with a wrong password.
    let unknown = w.client().login("nobody_here", "guess").await.map_err(http)?;
    let wrong = w.client().login("jacintar", "guess").await.map_err(http)?;
    w.stop_in_place().await;

    // Requests the UI servers denied because the policy failed closed, as their audit logs
    // record them (deny code policy-broken).
    let policy_broken = ["atmosphere_stage", "oceans_stage"]
        .iter()
        .map(|owner| {
            w.audit_lines(owner)
                .iter()
                .filter(|l| l.ends_with("(policy-broken)"))
                .count()
        })
        .sum::<usize>() as u64;
    let mut breaches = Vec::new();
    for a in &answers {
        let said: Vec<&str> = secrets(a.user).into_iter().filter(|s| a.body.contains(s)).collect();
        if !said.is_empty() {
            breaches.push(format!(
                "{}'s {} ({}) disclosed {}",
                a.user,
                a.path,
                a.status,
                said.join(", ")
            ));
        }
        if a.path == "/me" && !a.body.contains(&format!("\"user\":\"{}\"", a.user)) {
            breaches.push(format!("{}'s /me is not their own session", a.user));
        }
        if a.path == "/operator/status" && a.status != 403 {
            breaches.push(format!(
                "{} saw the operator view of every session ({})",
                a.user, a.status
            ));
        }
    }
    if (unknown.status, unknown.text()) != (wrong.status, wrong.text()) {
        breaches.push(format!(
            "a login tells accounts apart: unknown user {} {}, wrong password {} {}",
            unknown.status,
            unknown.text(),
            wrong.status,
            wrong.text()
        ));
    }
    for (owner, other) in [
        ("atmosphere_stage", "oceans_stage"),
        ("oceans_stage", "atmosphere_stage"),
    ] {
        let text = w.audit_text(owner);
        if text.contains(&format!(" {other}.")) {
            breaches.push(format!("{owner}'s audit log records {other}'s workflows"));
        }
    }
    let refused = answers
        .iter()
        .filter(|a| a.path.contains("/workflows/") && a.status == 404)
        .count();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(PeopleCheck::FailClosed, policy_broken),
        format!(
            "fail-closed: the malformed workflows/oceans_stage/currents.toml (\"!AL\") refused the whole policy, so \
             currents stayed private (and every workflow closed: {refused} state requests answered 404 not-found, \
             listings empty); none of {} answers to jacintar and mallory (read-only and elevated) named another person, \
             the private workflow, a policy file or a parser message; /me showed each their own session only; the \
             operator view of every session was refused (403); an unknown user and a wrong password got the same \
             answer ({} {}); each owner's audit log names only that owner's workflows",
            answers.len(),
            unknown.status,
            unknown.text()
        ),
    ))
}
