//! `threatcheck authz check|explain`: query an authorisation policy directory.
//!
//! Exit 0 allow, 1 deny, 2 for usage or input errors (including a malformed policy, which the
//! gateway would treat as "deny everything": the message says which file, line and field).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use protocol_core::ids::{Owner, WorkflowId};
use protocol_people::authz::Authorizer;
use protocol_people::groups::{FileGroups, GroupProvider, SystemGroups};
use protocol_people::ops::{Level, Operation};
use protocol_people::policy::Policy;

use super::Outcome;

/// Arguments of `threatcheck authz`.
#[derive(Debug, clap::Args)]
pub struct AuthzArgs {
    #[command(subcommand)]
    command: AuthzCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuthzCommand {
    /// Print allow or deny (exit 0 or 1) for one request.
    Check(Query),
    /// Print what each policy layer says about one request, and which rule decided.
    Explain(Query),
}

#[derive(Debug, clap::Args)]
struct Query {
    /// Policy directory (site.toml, users/OWNER.toml, workflows/OWNER/NAME.toml).
    #[arg(long, value_name = "DIR")]
    policy: PathBuf,
    /// The person acting.
    #[arg(long, value_name = "USER")]
    user: String,
    /// The workflow, as OWNER/NAME (or ~OWNER/NAME).
    #[arg(long, value_name = "OWNER/NAME")]
    workflow: String,
    /// The operation (Cylc's name: read, stop, trigger, edit-trigger, …).
    #[arg(long, value_name = "OP")]
    op: String,
    /// Assume a session elevated to write (default: a fresh, read-only session).
    #[arg(long, conflicts_with = "level")]
    elevated: bool,
    /// Assume a session at this level: read, execute or write.
    #[arg(long, value_name = "LEVEL")]
    level: Option<String>,
    /// Group membership file ([groups] NAME = ["user", …]); default: the system's groups.
    #[arg(long, value_name = "FILE")]
    groups: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: AuthzArgs) -> anyhow::Result<Outcome> {
    let (query, explain) = match args.command {
        AuthzCommand::Check(q) => (q, false),
        AuthzCommand::Explain(q) => (q, true),
    };
    let user = Owner::new(&query.user).with_context(|| format!("--user {:?}", query.user))?;
    let workflow: WorkflowId = query
        .workflow
        .parse()
        .with_context(|| format!("--workflow {:?} (expected OWNER/NAME)", query.workflow))?;
    let Ok(op) = query.op.parse::<Operation>() else {
        let known: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
        bail!(
            "--op {:?} is not an operation; expected one of: {}",
            query.op,
            known.join(", ")
        );
    };
    let level = match (&query.level, query.elevated) {
        (Some(l), _) => l.parse::<Level>().context("--level")?,
        (None, true) => Level::Write,
        (None, false) => Level::Read,
    };
    let policy = Policy::load(&query.policy).with_context(|| {
        format!(
            "policy {} refused (a gateway would deny every request)",
            query.policy.display()
        )
    })?;
    let provider: Box<dyn GroupProvider> = match &query.groups {
        Some(file) => Box::new(FileGroups::load(file)?),
        None => Box::new(SystemGroups),
    };
    let hint = if query.groups.is_some() {
        ""
    } else {
        " (or give --groups FILE)"
    };
    let person = provider
        .person(&user)
        .with_context(|| format!("groups of {user}{hint}"))?;
    let owner = workflow.owner().clone();
    let workflow = provider
        .workflow(&workflow)
        .with_context(|| format!("groups of the workflow's owner {owner}{hint}"))?;
    let authz = Authorizer::new(policy);
    let decision = if explain {
        let e = authz.explain(&person, &workflow, op, level);
        println!("{e}");
        e.decision
    } else {
        let d = authz.decide(&person, &workflow, op, level);
        println!("{d}");
        d
    };
    Ok(if decision.is_allowed() {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}
