//! `threatcheck model`: run the model checker's proofs and attack searches, or serve
//! stateright's explorer for a model on loopback.

use std::io::IsTerminal;
use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, bail};
use model::channel::{Bounds as ChannelBounds, ChannelModel, Environment};
use model::people::Bounds as PeopleBounds;
use model::run::{ProofReport, VariantReport};
use model::variants::{PeopleVariant, Variant};
use protocol_core::Defences;
use serde::Serialize;
use stateright::Model;

use super::Outcome;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs: the same results as data.
    Json,
}

/// Arguments of `threatcheck model`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// List the proofs and the weakened variants, and exit.
    #[arg(long)]
    pub list: bool,
    /// Run only the proof or variant with this name.
    #[arg(long, value_name = "NAME")]
    pub only: Option<String>,
    /// Run only the attack search on the design without this check (or with this flaw).
    #[arg(long, value_name = "CHECK")]
    pub weaken: Option<String>,
    /// Serve stateright's explorer for the job-channel model (or the weakened design named by
    /// --weaken, of either model) on this loopback address, e.g. 127.0.0.1:3000, until interrupted.
    #[arg(long, value_name = "ADDR")]
    pub explore: Option<SocketAddr>,
    /// Prove within the smaller bound used for pull requests.
    #[arg(long)]
    pub quick: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Everything a model run produced.
#[derive(Debug, Serialize)]
pub struct ModelResults {
    /// Proof runs.
    pub proofs: Vec<ProofReport>,
    /// Attack searches on weakened designs.
    pub variants: Vec<VariantReport>,
}

impl ModelResults {
    /// Whether every property holds and every weakened design was broken.
    #[must_use]
    pub fn all_green(&self) -> bool {
        self.proofs.iter().all(ProofReport::all_hold) && self.variants.iter().all(|v| v.found)
    }
}

/// Runs the selected proofs and searches. `progress` is told each item's name as it starts.
///
/// # Errors
/// An unknown name in `only` or `weaken`.
pub fn run_models(
    only: Option<&str>,
    weaken: Option<&str>,
    quick: bool,
    progress: impl FnMut(&str),
) -> anyhow::Result<ModelResults> {
    run_models_where(only, weaken, quick, |_| true, progress)
}

/// As [`run_models`], running only the proofs and variants whose name `wanted` accepts (a
/// shard's share).
///
/// # Errors
/// As [`run_models`].
pub fn run_models_where(
    only: Option<&str>,
    weaken: Option<&str>,
    quick: bool,
    wanted: impl Fn(&str) -> bool,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<ModelResults> {
    let catalogue = model::catalogue();
    let selected = |name: &str| only.is_none_or(|o| o == name) && wanted(name);
    if let Some(name) = only.or(weaken)
        && catalogue.proof(name).is_none()
        && catalogue.variant(name).is_none()
    {
        bail!("no proof or variant is called {name:?} (see threatcheck model --list)");
    }
    let mut results = ModelResults {
        proofs: Vec::new(),
        variants: Vec::new(),
    };
    if weaken.is_none() {
        for proof in &catalogue.proofs {
            if selected(proof.name) {
                progress(proof.name);
                results.proofs.push(proof.run(quick));
            }
        }
    }
    for variant in &catalogue.variants {
        if selected(variant.name) && weaken.is_none_or(|w| w == variant.name) {
            progress(variant.name);
            // Attacks are searched within the quick bound: it holds every minimal attack, and
            // iterative deepening over the larger bound would only cost time.
            results.variants.push(variant.find_attack());
        }
    }
    Ok(results)
}

fn print_text(results: &ModelResults) {
    for proof in &results.proofs {
        println!(
            "proof {}: {} unique states ({} generated), depth {}, {:.1} s — within {}",
            proof.model, proof.unique_states, proof.states, proof.max_depth, proof.seconds, proof.bound
        );
        for p in &proof.properties {
            let verdict = match (p.kind, p.holds) {
                ("always", true) => "holds",
                ("always", false) => "FAILS",
                (_, true) => "reached",
                (_, false) => "NOT REACHED",
            };
            println!("  {verdict:11} {:9} {}", p.kind, p.name);
            if p.kind == "always" && !p.holds {
                for step in &p.trace {
                    println!("      {:10} {}", step.actor, step.detail);
                }
            }
        }
    }
    for v in &results.variants {
        match &v.property {
            Some(property) if v.found => {
                println!(
                    "variant {}: {} — breaks {property} in {} steps",
                    v.variant,
                    v.description,
                    v.trace.len()
                );
                for (i, step) in v.trace.iter().enumerate() {
                    println!("  {:2}. {:10} {}", i + 1, step.actor, step.detail);
                }
            }
            _ => println!(
                "variant {}: {} — NO ATTACK FOUND (the defence is not shown necessary)",
                v.variant, v.description
            ),
        }
    }
    let proofs_ok = results.proofs.iter().filter(|p| p.all_hold()).count();
    let found = results.variants.iter().filter(|v| v.found).count();
    println!(
        "summary: {proofs_ok}/{} proofs hold, {found}/{} weakened designs broken",
        results.proofs.len(),
        results.variants.len()
    );
}

fn explore(addr: SocketAddr, weaken: Option<&str>) -> anyhow::Result<Outcome> {
    if !addr.ip().is_loopback() {
        bail!("the explorer serves only on a loopback address, not {addr}");
    }
    // stateright panics if it cannot bind; find out first and say so properly.
    drop(TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?);
    match weaken {
        Some(name) => {
            if let Some(v) = Variant::from_name(name) {
                serve(v.model(ChannelBounds::QUICK), addr)
            } else if let Some(v) = PeopleVariant::from_name(name) {
                serve(v.model(PeopleBounds::QUICK), addr)
            } else {
                bail!("no variant is called {name:?} (see threatcheck model --list)");
            }
        }
        None => serve(
            ChannelModel::new(Defences::all(), Environment::default(), ChannelBounds::QUICK),
            addr,
        ),
    }
}

fn serve<M>(model: M, addr: SocketAddr) -> anyhow::Result<Outcome>
where
    M: Model + Send + Sync + 'static,
    M::State: std::fmt::Debug + std::hash::Hash + Clone + PartialEq + Send + Sync + 'static,
    M::Action: std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static,
{
    let _checker = model.checker().serve(addr);
    eprintln!("threatcheck model: explorer on http://{addr}/ (Ctrl-C to stop)");
    loop {
        std::thread::park();
    }
}

/// Runs the command.
pub fn run(args: ModelArgs) -> anyhow::Result<Outcome> {
    if args.list {
        let catalogue = model::catalogue();
        for proof in &catalogue.proofs {
            println!("proof   {}", proof.name);
        }
        for v in &catalogue.variants {
            println!("variant {:28} {}", v.name, v.description);
        }
        return Ok(Outcome::Green);
    }
    if let Some(addr) = args.explore {
        return explore(addr, args.weaken.as_deref());
    }
    let terminal = std::io::stderr().is_terminal();
    let results = run_models(args.only.as_deref(), args.weaken.as_deref(), args.quick, |name| {
        if terminal {
            eprint!("\r\x1b[2Kchecking {name}…");
        }
    })?;
    if terminal {
        eprint!("\r\x1b[2K");
    }
    match args.format {
        Format::Text => print_text(&results),
        Format::Json => println!("{}", serde_json::to_string_pretty(&results)?),
    }
    Ok(if results.all_green() {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}
