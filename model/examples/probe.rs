//! Prints a proof and every variant's attack (development aid).
//!
//! `cargo run --release -p model --example probe [quick] [no-variants] [commands=N]
//! [severs=N] [forgeries=N] [honest=N]`
use model::channel::{Bounds, ChannelModel};
use model::run::prove;
use model::variants::Variant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |s: &str| args.iter().any(|a| a == s);
    let mut bounds = if has("quick") { Bounds::QUICK } else { Bounds::PROOF };
    // Overrides for sizing bounds.
    for a in &args {
        if let Some((k, v)) = a.split_once('=')
            && let Ok(n) = v.parse::<u8>()
        {
            match k {
                "commands" => bounds.commands = n,
                "severs" => bounds.severs = n,
                "forgeries" => bounds.forgeries = n,
                "honest" => bounds.honest_jobs = n,
                _ => {}
            }
        }
    }
    let r = prove(
        "channel",
        ChannelModel::new(protocol_core::Defences::all(), Default::default(), bounds),
    );
    println!(
        "proof: {} unique, depth {}, {:.2}s, all hold {}",
        r.unique_states,
        r.max_depth,
        r.seconds,
        r.all_hold()
    );
    for p in r.properties.iter().filter(|p| !p.holds) {
        println!("  fails: {} {}", p.kind, p.name);
        for s in &p.trace {
            println!("    {}: {}", s.actor, s.detail);
        }
    }
    if has("no-variants") {
        return;
    }
    for v in Variant::all() {
        let (r, _) = v.find_attack(Bounds::QUICK);
        println!(
            "variant {:28} found {} breaks {:?} in {} steps",
            r.variant,
            r.found,
            r.property,
            r.trace.len()
        );
    }
}
