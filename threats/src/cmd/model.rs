//! `threatcheck model`: run the model checker's proofs and attack searches, or serve
//! stateright's explorer for a model on loopback.

use std::io::IsTerminal;
use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, bail};
use model::channel::{Bounds, ChannelModel, Environment};
use model::run::{ProofReport, VariantReport, prove};
use model::variants::Variant;
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
    /// Serve stateright's explorer for the job-channel model (weakened with --weaken) on this
    /// loopback address, e.g. 127.0.0.1:3000, until interrupted.
    #[arg(long, value_name = "ADDR")]
    pub explore: Option<SocketAddr>,
    /// Prove within the smaller bound used for pull requests.
    #[arg(long)]
    pub quick: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// The proofs `threatcheck model` runs: name, model.
fn proofs(bounds: Bounds) -> Vec<(&'static str, ChannelModel)> {
    vec![
        (
            "channel",
            ChannelModel::new(Defences::all(), Environment::default(), bounds),
        ),
        (
            "channel-kci",
            ChannelModel::new(
                Defences::all(),
                Environment {
                    scheduler_key_leaked: true,
                    ..Environment::default()
                },
                bounds,
            ),
        ),
    ]
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
    mut progress: impl FnMut(&str),
) -> anyhow::Result<ModelResults> {
    let bounds = if quick { Bounds::QUICK } else { Bounds::PROOF };
    let selected = |name: &str| only.is_none_or(|o| o == name);
    if let Some(name) = only.or(weaken)
        && !proofs(bounds).iter().any(|(p, _)| *p == name)
        && Variant::from_name(name).is_none()
    {
        bail!("no proof or variant is called {name:?} (see threatcheck model --list)");
    }
    let mut results = ModelResults {
        proofs: Vec::new(),
        variants: Vec::new(),
    };
    if weaken.is_none() {
        for (name, model) in proofs(bounds) {
            if selected(name) {
                progress(name);
                results.proofs.push(prove(name, model));
            }
        }
    }
    for variant in Variant::all() {
        if selected(variant.name()) && weaken.is_none_or(|w| w == variant.name()) {
            progress(variant.name());
            // Attacks are searched within the quick bound: it holds every minimal attack, and
            // iterative deepening over the larger bound would only cost time.
            results.variants.push(variant.find_attack(Bounds::QUICK).0);
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
    let model = match weaken {
        Some(name) => Variant::from_name(name)
            .with_context(|| format!("no variant is called {name:?} (see threatcheck model --list)"))?
            .model(Bounds::QUICK),
        None => ChannelModel::new(Defences::all(), Environment::default(), Bounds::QUICK),
    };
    let _checker = model.checker().serve(addr);
    eprintln!("threatcheck model: explorer on http://{addr}/ (Ctrl-C to stop)");
    loop {
        std::thread::park();
    }
}

/// Runs the command.
pub fn run(args: ModelArgs) -> anyhow::Result<Outcome> {
    if args.list {
        for (name, _) in proofs(Bounds::PROOF) {
            println!("proof   {name}");
        }
        for v in Variant::all() {
            println!("variant {:28} {}", v.name(), v.description());
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
