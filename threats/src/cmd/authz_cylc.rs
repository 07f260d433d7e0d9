//! `threatcheck authz check|explain --semantics cylc` and `threatcheck authz lint-cylc`: real
//! Cylc's answer for a Cylc-format configuration, and where that answer departs from what the
//! configuration says (`protocol_people::cylc`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use protocol_people::PeopleDefences;
use protocol_people::authz::Authorizer;
use protocol_people::cylc::lint::{LintFinding, lint as lint_files};
use protocol_people::cylc::{CylcAuthorization, CylcPolicy, CylcVersion};
use protocol_people::groups::{FileGroups, GroupError, Person};
use protocol_people::names::{GroupName, UserName};
use protocol_people::ops::{Level, Operation};
use protocol_people::policy::{Policy, PolicyFile};

use super::Outcome;
use super::authz::{Query, provider};

/// Arguments of `threatcheck authz lint-cylc`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The site's `site_authorization`, as JSON.
    #[arg(long, value_name = "FILE")]
    site: PathBuf,
    /// An owner's `user_authorization`, as JSON: `OWNER.json` (the owner is the file's stem)
    /// or `OWNER=FILE`. Repeat for each owner.
    #[arg(long = "user", value_name = "FILE")]
    users: Vec<String>,
    /// Group membership file ([groups] NAME = ["user", …]) for the people and owners named.
    #[arg(long, value_name = "FILE")]
    groups: Option<PathBuf>,
    /// The cylc-uiserver version to reproduce (supported: 1.7).
    #[arg(long, value_name = "VERSION", default_value = "1.7")]
    cylc_version: String,
}

fn version(s: &str) -> anyhow::Result<CylcVersion> {
    s.parse::<CylcVersion>().context("--cylc-version")
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `--workflow OWNER/NAME`: Cylc decides per UI server, so only the owner matters, and any
/// name Cylc accepts is an owner.
fn owner_of(workflow: &str) -> anyhow::Result<UserName> {
    let w = workflow.strip_prefix('~').unwrap_or(workflow);
    let Some((owner, name)) = w.split_once('/') else {
        bail!("--workflow {workflow:?}: expected OWNER/NAME");
    };
    if name.is_empty() {
        bail!("--workflow {workflow:?}: expected OWNER/NAME");
    }
    UserName::new(owner).with_context(|| format!("--workflow {workflow:?}: owner"))
}

fn cylc_groups(groups: &BTreeSet<GroupName>) -> Vec<String> {
    groups.iter().map(|g| format!("group:{g}")).collect()
}

/// `check` / `explain` with `--semantics cylc`.
pub(super) fn query(q: &Query, explain: bool) -> anyhow::Result<Outcome> {
    let version = version(&q.cylc_version)?;
    let user = UserName::new(&q.user).with_context(|| format!("--user {:?}", q.user))?;
    let owner = owner_of(&q.workflow)?;
    // Read once: Cylc's reading, threatcheck's reading and the lint all parse these files.
    let files = Policy::read_files(&q.policy).with_context(|| format!("policy {}", q.policy.display()))?;
    let policy =
        CylcPolicy::from_files(files.iter().map(|f| (f.path.as_str(), f.text.as_str()))).with_context(|| {
            format!(
                "{} refused (--semantics cylc reads Cylc's site.json and users/OWNER.json)",
                q.policy.display()
            )
        })?;
    let groups = provider(q.groups.as_deref())?;
    let hint = if q.groups.is_some() {
        ""
    } else {
        " (or give --groups FILE)"
    };
    // As Cylc's get_groups (os.getgrouplist), a name the system does not know has no groups.
    let lookup = |name: &UserName| match groups.groups_of(name) {
        Err(GroupError::UnknownUser(_)) if q.groups.is_none() => {
            eprintln!("note: the system has no user {name}: no groups, as Cylc's get_groups gives");
            Ok(BTreeSet::new())
        }
        other => other.with_context(|| format!("groups of {name}{hint}")),
    };
    let user_groups = lookup(&user)?;
    let owner_groups = lookup(&owner)?;
    let conf = policy.user_conf(owner.as_str());
    let built = CylcAuthorization::new(
        version,
        owner.as_str(),
        &cylc_groups(&owner_groups),
        &policy.site,
        &conf,
    );
    let auth = match built {
        Ok(a) => a,
        Err(e) => {
            println!("deny: {e} (Cylc {})", version.id());
            return Ok(Outcome::Finding);
        }
    };
    if q.level.is_some() || q.elevated {
        eprintln!("note: Cylc has no elevated sessions; --level and --elevated do not change its answer");
    }
    let e = auth.explain(user.as_str(), &cylc_groups(&user_groups), &q.op);
    if explain {
        print!("{e}");
        documented(
            q,
            &files,
            &user,
            &user_groups,
            &owner,
            &owner_groups,
            e.decision.allowed,
        )?;
    } else {
        println!("{} (Cylc {})", e.decision, version.id());
    }
    Ok(if e.decision.allowed {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}

/// For `explain`: what threatcheck's own (documented) reading decides, and if it differs, why.
fn documented(
    q: &Query,
    files: &[PolicyFile],
    user: &UserName,
    user_groups: &BTreeSet<GroupName>,
    owner: &UserName,
    owner_groups: &BTreeSet<GroupName>,
    cylc_allows: bool,
) -> anyhow::Result<()> {
    if !files.iter().any(|f| f.path == "site.json" || f.path == "site.toml") {
        println!("threatcheck's own semantics refuse this configuration: it has no site layer");
        return Ok(());
    }
    let policy = match Policy::from_files(files, &PeopleDefences::all()) {
        Ok(p) => p,
        Err(e) => {
            println!("threatcheck's own semantics refuse this configuration: {e}");
            return Ok(());
        }
    };
    let Ok(op) = q.op.parse::<Operation>() else {
        println!("threatcheck's own semantics: {:?} is not an operation", q.op);
        return Ok(());
    };
    let person = Person::new(user.clone(), user_groups.clone());
    let d = Authorizer::new(policy).decide_for_owner(&person, owner, owner_groups, op, Level::Write);
    if d.is_allowed() == cylc_allows {
        println!("threatcheck's own semantics agree: {d}");
        return Ok(());
    }
    println!("threatcheck's own semantics DIFFER: {d}");
    let version = version(&q.cylc_version)?;
    // A finding is about this request when it names the person (or `*`, or one of their
    // groups) and the owner (or `*`, or one of the owner's groups).
    let mut people: BTreeSet<String> = ["*".to_owned(), user.to_string()].into();
    people.extend(cylc_groups(user_groups));
    let mut owners: BTreeSet<String> = ["*".to_owned(), owner.to_string()].into();
    owners.extend(cylc_groups(owner_groups));
    let findings = lint_files(files, None, version).unwrap_or_default();
    let names = |f: &LintFinding, set: &BTreeSet<String>| f.about.iter().any(|a| set.contains(a));
    let relevant: Vec<&LintFinding> = findings
        .iter()
        .filter(|f| names(f, &people) && names(f, &owners))
        .collect();
    if relevant.is_empty() {
        println!("  (no lint finding names these people; run `threatcheck authz lint-cylc`)");
    } else {
        println!("  why (lint-cylc findings about these people):");
        for f in relevant {
            println!("    {f}");
        }
    }
    Ok(())
}

/// `lint-cylc`.
pub(super) fn lint(args: &LintArgs) -> anyhow::Result<Outcome> {
    let version = version(&args.cylc_version)?;
    let mut files = vec![PolicyFile {
        path: "site.json".into(),
        text: read(&args.site)?,
    }];
    let mut shown = vec![("site.json".to_owned(), args.site.display().to_string())];
    for u in &args.users {
        let (owner, path) = match u.split_once('=') {
            Some((o, p)) => (o.to_owned(), PathBuf::from(p)),
            None => {
                let p = PathBuf::from(u);
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
                (stem, p)
            }
        };
        UserName::new(&owner).with_context(|| format!("--user {u:?}: owner {owner:?}"))?;
        let internal = format!("users/{owner}.json");
        files.push(PolicyFile {
            path: internal.clone(),
            text: read(&path)?,
        });
        shown.push((internal, path.display().to_string()));
    }
    let groups = args.groups.as_deref().map(FileGroups::load).transpose()?;
    let rename = |s: &str| -> String {
        shown
            .iter()
            .find(|(internal, _)| s == internal)
            .map_or_else(|| s.to_owned(), |(_, real)| real.clone())
    };
    let findings = match lint_files(&files, groups.as_ref(), version) {
        Ok(f) => f,
        Err(e) => {
            let mut msg = e.to_string();
            for (internal, real) in &shown {
                if let Some(rest) = msg.strip_prefix(internal.as_str()) {
                    msg = format!("{real}{rest}");
                }
            }
            bail!("{msg} (Cylc fails on this configuration)");
        }
    };
    println!(
        "lint-cylc: {} against {}",
        shown.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join(", "),
        version
    );
    for f in &findings {
        println!("{}:{}: {}: {}", rename(&f.file), f.line, f.rule.name(), f.message);
    }
    println!("lint-cylc: {} finding(s)", findings.len());
    Ok(if findings.is_empty() {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}
