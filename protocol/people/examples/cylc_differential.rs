//! The Rust half of `scripts/cylc-differential.sh`: reads the cases and real Cylc's answers
//! that `scripts/cylc_differential/oracle.py` wrote (cylc-uiserver's own `Authorization`,
//! run in-process), decides every query with `protocol_people::cylc`, and prints how many
//! disagree (exit 1 if any, or if any case cannot be read). Its last line is a benchmark on
//! the oracle's 1,000-user, 200-group configuration, against Cylc's own figures from the same
//! run.
//!
//! `cargo run --release -p protocol-people --example cylc_differential -- CASES.jsonl`

use std::io::BufRead as _;
use std::process::ExitCode;
use std::time::Instant;

use protocol_people::cylc::{CylcAuthorization, CylcSite, CylcUserConf, CylcVersion};

#[derive(serde::Deserialize)]
struct Query {
    user: String,
    groups: Vec<String>,
    op: String,
    cylc: bool,
}

#[derive(serde::Deserialize)]
struct Case {
    kind: String,
    #[serde(default)]
    id: String,
    owner: String,
    owner_groups: Vec<String>,
    site: String,
    user: String,
    #[serde(default)]
    error: Option<String>,
    queries: Vec<Query>,
    #[serde(default)]
    cylc_ns_per_decision: Option<f64>,
    #[serde(default)]
    cylc_ns_per_decision_cold: Option<f64>,
}

fn build(case: &Case) -> Result<CylcAuthorization, String> {
    let site = CylcSite::parse("site.json", &case.site).map_err(|e| e.to_string())?;
    let user = CylcUserConf::parse("users/owner.json", &case.user).map_err(|e| e.to_string())?;
    CylcAuthorization::new(CylcVersion::LATEST, &case.owner, &case.owner_groups, &site, &user)
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cylc_differential CASES.jsonl");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cylc_differential: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut cases, mut decisions, mut allowed, mut disagreements, mut unreadable) = (0, 0, 0, 0, 0);
    let mut refused_as_cylc = 0;
    let mut bench: Option<Case> = None;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("line {}: {e}", n + 1);
                unreadable += 1;
                continue;
            }
        };
        let case: Case = match serde_json::from_str(&line) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("line {}: not a case: {e}", n + 1);
                unreadable += 1;
                continue;
            }
        };
        let built = build(&case);
        match (&built, &case.error) {
            (Err(ours), Some(theirs)) => {
                refused_as_cylc += 1;
                if cases < 3 {
                    println!("  {}: refused as Cylc fails ({theirs}): {ours}", case.id);
                }
            }
            (Err(ours), None) => {
                disagreements += 1;
                eprintln!(
                    "DISAGREE {}: we refuse the configuration ({ours}); Cylc accepts it",
                    case.id
                );
            }
            (Ok(_), Some(theirs)) => {
                disagreements += 1;
                eprintln!(
                    "DISAGREE {}: Cylc's constructor fails ({theirs}); we accept the configuration",
                    case.id
                );
            }
            (Ok(auth), None) => {
                for q in &case.queries {
                    let d = auth.decide(&q.user, &q.groups, &q.op);
                    decisions += 1;
                    allowed += usize::from(d.allowed);
                    if d.allowed != q.cylc {
                        disagreements += 1;
                        if disagreements <= 20 {
                            eprintln!(
                                "DISAGREE {}: {} (groups {:?}) {:?} on {}'s server: Cylc {}, we {} ({:?})\n  site {}\n  user {}",
                                case.id,
                                q.user,
                                q.groups,
                                q.op,
                                case.owner,
                                q.cylc,
                                d.allowed,
                                d.reason,
                                case.site,
                                case.user
                            );
                        }
                    }
                }
            }
        }
        if case.kind == "bench" {
            bench = Some(case);
        } else {
            cases += 1;
        }
    }
    println!(
        "cylc-differential: {cases} cases, {decisions} decisions ({allowed} allowed), {refused_as_cylc} configurations both refuse, {disagreements} disagreements, {unreadable} unreadable lines"
    );
    if let Some(b) = &bench {
        report_bench(b);
    } else {
        eprintln!("cylc-differential: no bench line");
        unreadable += 1;
    }
    if disagreements > 0 || unreadable > 0 || cases == 0 {
        eprintln!("cylc-differential: FAILED");
        return ExitCode::FAILURE;
    }
    println!("cylc-differential: zero disagreements with {}", CylcVersion::LATEST);
    ExitCode::SUCCESS
}

/// Mean ns per decision over the bench queries (best of five), with the owner's view built
/// once as a UI server does, then the same without reuse between users (Cylc caches per user;
/// we do not cache at all, so both of our figures are the uncached cost).
fn report_bench(b: &Case) {
    let Ok(auth) = build(b) else {
        eprintln!("cylc-differential: the bench configuration does not build");
        return;
    };
    let mut best = f64::INFINITY;
    let mut allowed = 0usize;
    for _ in 0..5 {
        let start = Instant::now();
        allowed = 0;
        for q in &b.queries {
            allowed += usize::from(std::hint::black_box(auth.decide(&q.user, &q.groups, &q.op)).allowed);
        }
        let ns = start.elapsed().as_secs_f64() * 1e9 / b.queries.len().max(1) as f64;
        best = best.min(ns);
    }
    let start = Instant::now();
    let rounds = 200usize;
    for q in b.queries.iter().take(rounds) {
        let fresh = build(b).ok();
        std::hint::black_box(fresh.map(|a| a.decide(&q.user, &q.groups, &q.op)));
    }
    let with_build = start.elapsed().as_secs_f64() * 1e9 / rounds as f64;
    let ratio = |cylc: Option<f64>| cylc.map_or_else(|| "n/a".to_owned(), |c| format!("{:.1}×", c / best));
    let build = if cfg!(debug_assertions) {
        "debug build: slower than release"
    } else {
        "release build"
    };
    println!(
        "cylc-differential bench ({build}; site with 1,000 users and 200 groups, {} queries, {allowed} allowed): threatcheck {:.0} ns per decision ({:.1} µs including parsing and merging the configuration); Cylc {} ns per decision with its per-user cache, {} ns without; Cylc / threatcheck = {} cached, {} uncached",
        b.queries.len(),
        best,
        with_build / 1000.0,
        b.cylc_ns_per_decision
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.0}")),
        b.cylc_ns_per_decision_cold
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.0}")),
        ratio(b.cylc_ns_per_decision),
        ratio(b.cylc_ns_per_decision_cold),
    );
}
