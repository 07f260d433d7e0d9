//! S11 — as an attacker or user I want to change other users' running suites.
//!
//! Under the hub design notes' policy everyone may read, stop and start (`play`) every workflow by
//! default, `atmosphere_stage` gives `jacintar` Execute, `reload` and `edit-trigger` (the last
//! above the site limit), and `oceans_stage` lets only the ocean team read. [`CROSS_OWNER_COMMAND`]
//! has `mallory` (read-only, then elevated to write) and `jacintar` (elevated to write) send,
//! through the hub, every command their grants do not cover to both owners' workflows, one
//! with an extra `actor` field naming the owner; then it goes to the schedulers' client
//! channel directly, with a key of its own that no run directory lists and with a job's key,
//! claiming to act as the owner. Judged on the schedulers: their control state and event logs
//! must show no command at all.

use std::sync::Arc;
use std::time::Duration;

use protocol::Defence;
use protocol_core::scheduler::Event;
use protocol_core::wire::CommandOp;
use protocol_core::{Owner, StaticKeypair};
use protocol_gateway::schedclient::{CommandOutcome, SchedulerLink};
use protocol_people::PeopleCheck;
use serde_json::json;

use super::options;
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// Commands against other owners' workflows, through the hub and around it.
pub const CROSS_OWNER_COMMAND: Harness = Harness {
    info: HarnessInfo {
        id: "s11-cross-owner-command",
        story: "S11",
        target: "hub, UI server, scheduler",
        title: "two users send other owners' workflows every command their grants do not cover, through the hub (read-only and elevated, with an owner-naming actor field) and straight to the schedulers' client channel with an unlisted key and a job's key",
        defences: &[Defence::People(PeopleCheck::SiteLimit)],
        control: Control::WithoutEach,
        note: "the UI servers' authoriser lets atmosphere_stage's grant of edit-trigger to jacintar through; the authoriser's grants, elevation and the scheduler's client-key check stay",
    },
    run: |w| Box::pin(cross_owner_command(w)),
};

/// Commands `mallory` is never granted on `atmosphere_stage`'s workflows (`stop` and `play`
/// are granted to everyone by the site default, so they are not attacks).
const MALLORY_OPS: [&str; 9] = [
    "hold",
    "release",
    "pause",
    "resume",
    "kill",
    "trigger",
    "poll",
    "reload",
    "edit-trigger",
];

/// Every command with a scheduler counterpart, by its wire name.
fn all_ops() -> [&'static str; 11] {
    CommandOp::ALL.map(CommandOp::name)
}

/// `EditTrigger` as `edit-trigger`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

async fn cross_owner_command(weakening: Weakening) -> Result<Outcome, HarnessError> {
    let authz = weakening.people();
    let w = GatewayWorld::start(GatewayOptions {
        authz_defences: authz,
        ..options()
    })
    .await?;
    let http = |e: protocol_gateway::http::client::HttpError| HarnessError::setup(format!("no answer: {e}"));
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut sent = 0;
    let mut attempts: Vec<(&str, &str, &str)> = Vec::new();
    // mallory, read-only: everything, stop and play included (they need elevation).
    for wf in ["clouds", "winds"] {
        for op in all_ops() {
            attempts.push(("mallory-read", wf, op));
        }
    }
    for wf in ["clouds", "winds"] {
        for op in MALLORY_OPS {
            attempts.push(("mallory", wf, op));
        }
    }
    for wf in ["waves", "currents"] {
        for op in all_ops() {
            attempts.push(("mallory", wf, op));
            attempts.push(("jacintar", wf, op));
        }
    }
    for wf in ["clouds", "winds"] {
        for op in ["broadcast", "edit-trigger"] {
            attempts.push(("jacintar", wf, op));
        }
    }
    let mut clients = [
        ("mallory-read", w.login("mallory").await?),
        ("mallory", w.elevated("mallory", "write").await?),
        ("jacintar", w.elevated("jacintar", "write").await?),
    ];
    for (who, wf, op) in &attempts {
        let owner = w.workflow(wf)?.id.owner().to_string();
        let Some((_, client)) = clients.iter_mut().find(|(n, _)| n == who) else {
            continue;
        };
        let r = client
            .post(
                &format!("/o/{owner}/workflows/{wf}"),
                &json!({ "op": op, "target": "1234" }),
            )
            .await
            .map_err(http)?;
        sent += 1;
        *statuses.entry(r.status).or_default() += 1;
    }
    // The owner named in the request body.
    let [_, (_, mallory), _] = &mut clients;
    let r = mallory
        .post(
            "/o/atmosphere_stage/workflows/clouds",
            &json!({ "op": "hold", "target": "1234", "actor": "atmosphere_stage" }),
        )
        .await
        .map_err(http)?;
    sent += 1;
    *statuses.entry(r.status).or_default() += 1;
    // Around the hub: the scheduler's client channel, claiming to act as the owner.
    let clouds = w.workflow("clouds")?;
    let owner = Owner::new("atmosphere_stage").map_err(HarnessError::setup)?;
    let mut direct = Vec::new();
    for (what, keypair) in [
        ("a key of its own", StaticKeypair::generate_from_os()),
        (
            "the job key of ~atmosphere_stage/clouds//1234/climb/01",
            StaticKeypair::from_secret(clouds.job_key.secret_bytes()),
        ),
    ] {
        let link = SchedulerLink::new(clouds.id.clone(), clouds.run.clone(), Arc::new(keypair));
        let outcome = link
            .command(
                owner.clone(),
                CommandOp::Stop,
                "1234".into(),
                Duration::from_millis(800),
            )
            .await;
        direct.push(match outcome {
            Ok(CommandOutcome::Accepted) => (what, "accepted".to_owned()),
            Ok(CommandOutcome::Rejected(code)) => (what, format!("rejected: {}", code.name())),
            Err(_) => (what, "no handshake answer".to_owned()),
        });
    }
    let mut changed = Vec::new();
    for wf in w.workflows() {
        let control = wf.control().await?;
        let commanded: Vec<String> = wf
            .events()
            .await?
            .into_iter()
            .filter_map(|e| match e {
                Event::Commanded { actor, op, .. } => Some(format!("{} by {actor}", kebab(&format!("{op:?}")))),
                _ => None,
            })
            .collect();
        if control.commands > 0 || !commanded.is_empty() {
            changed.push(format!(
                "{} applied {} command(s) ({}; paused {}, stopping {}, held {})",
                wf.id,
                control.commands,
                commanded.join(", "),
                control.paused,
                control.stopping,
                control.held.len()
            ));
        }
    }
    // Commands the UI servers denied as above the site limit, as their audit logs record them.
    let above_limit = ["atmosphere_stage", "oceans_stage"]
        .iter()
        .map(|owner| {
            w.audit_lines(owner)
                .iter()
                .filter(|l| l.ends_with("(above-site-limit)"))
                .count()
        })
        .sum::<usize>() as u64;
    w.stop().await;
    let mut breaches = changed;
    for (what, result) in &direct {
        if result == "accepted" {
            breaches.push(format!("the scheduler obeyed a stop sent with {what}"));
        }
    }
    let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}× {s}")).collect();
    let direct: Vec<String> = direct.iter().map(|(what, r)| format!("{what}: {r}")).collect();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(PeopleCheck::SiteLimit, above_limit),
        format!(
            "site-limit and the grants behind it: {sent} commands to other owners' workflows through the hub were all \
             refused ({}: 403 not granted, above the site limit or not elevated; 404 where not even readable; 400 for \
             the owner-naming actor field) and no scheduler applied any (commands 0, no Commanded event); straight to \
             the scheduler's client channel — {}",
            statuses.join(", "),
            direct.join("; ")
        ),
    ))
}
