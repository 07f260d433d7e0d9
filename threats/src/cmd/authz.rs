//! `threatcheck authz check|explain|lint-cylc`: query an authorisation policy directory, with
//! threatcheck's semantics (what the gateway enforces, and what Cylc's documentation describes)
//! or with real Cylc's (`--semantics cylc`: what a cylc-uiserver answers, [`super::authz_cylc`]).
//!
//! Exit 0 allow, 1 deny, 2 for usage or input errors (including a malformed policy, which the
//! gateway would treat as "deny everything": the message says which file, line and field).
//! `lint-cylc` exits 1 on any finding.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use protocol_core::ids::WorkflowId;
use protocol_people::authz::Authorizer;
use protocol_people::groups::{FileGroups, GroupProvider, SystemGroups};
use protocol_people::names::UserName;
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
    /// Report where a Cylc configuration does not do what it says (exit 1 on any finding).
    LintCylc(super::authz_cylc::LintArgs),
}

/// Whose reading of the policy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Semantics {
    /// threatcheck's: what the gateway enforces; Cylc files read as Cylc's documentation says.
    Threatcheck,
    /// Real Cylc's, bugs included (cylc-uiserver's own algorithm, `--cylc-version`).
    Cylc,
}

#[derive(Debug, clap::Args)]
pub(super) struct Query {
    /// Policy directory (site.toml, users/OWNER.toml, workflows/OWNER/NAME.toml; or Cylc's
    /// site.json and users/OWNER.json).
    #[arg(long, value_name = "DIR")]
    pub(super) policy: PathBuf,
    /// The person acting.
    #[arg(long, value_name = "USER")]
    pub(super) user: String,
    /// The workflow, as OWNER/NAME (or ~OWNER/NAME).
    #[arg(long, value_name = "OWNER/NAME")]
    pub(super) workflow: String,
    /// The operation (Cylc's name: read, stop, trigger, set_hold_point, setHoldPoint, …).
    #[arg(long, value_name = "OP")]
    pub(super) op: String,
    /// Whose reading decides: threatcheck's (default) or real Cylc's.
    #[arg(long, value_enum, default_value = "threatcheck")]
    pub(super) semantics: Semantics,
    /// With --semantics cylc: the cylc-uiserver version to reproduce (supported: 1.7).
    #[arg(long, value_name = "VERSION", default_value = "1.7")]
    pub(super) cylc_version: String,
    /// Assume a session elevated to write (default: a fresh, read-only session).
    #[arg(long, conflicts_with = "level")]
    pub(super) elevated: bool,
    /// Assume a session at this level: read, execute or write.
    #[arg(long, value_name = "LEVEL")]
    pub(super) level: Option<String>,
    /// Group membership file ([groups] NAME = ["user", …]); default: the system's groups.
    #[arg(long, value_name = "FILE")]
    pub(super) groups: Option<PathBuf>,
}

/// Group membership from `--groups FILE`, else the system's.
pub(super) fn provider(groups: Option<&std::path::Path>) -> anyhow::Result<Box<dyn GroupProvider>> {
    Ok(match groups {
        Some(file) => Box::new(FileGroups::load(file)?),
        None => Box::new(SystemGroups),
    })
}

/// Runs the command.
pub fn run(args: AuthzArgs) -> anyhow::Result<Outcome> {
    let (query, explain) = match args.command {
        AuthzCommand::Check(q) => (q, false),
        AuthzCommand::Explain(q) => (q, true),
        AuthzCommand::LintCylc(l) => return super::authz_cylc::lint(&l),
    };
    if query.semantics == Semantics::Cylc {
        return super::authz_cylc::query(&query, explain);
    }
    let user = UserName::new(&query.user).with_context(|| format!("--user {:?}", query.user))?;
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
    let provider = provider(query.groups.as_deref())?;
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
