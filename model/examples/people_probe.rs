//! Prints the people model's proof and every people variant's attack (development aid).
//!
//! `cargo run --release -p model --example people_probe [quick] [no-proof] [witnesses] [variants] [traces]
//! [honest=N] [ticks=N] [elevations=N]`
use model::people::{Bounds, PeopleModel};
use model::run::prove;
use model::variants::PeopleVariant;
use protocol_people::PeopleDefences;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |s: &str| args.iter().any(|a| a == s);
    let mut bounds = if has("quick") { Bounds::QUICK } else { Bounds::PROOF };
    // Overrides for sizing bounds: honest=N ticks=N elevations=N.
    for a in &args {
        if let Some((k, v)) = a.split_once('=')
            && let Ok(n) = v.parse::<u8>()
        {
            match k {
                "honest" => bounds.honest_requests = n,
                "ticks" => bounds.ticks = n,
                "jumps" => bounds.jumps = n,
                "assertions" => bounds.assertions = n > 0,
                "elevations" => bounds.attacker_elevations = n,
                _ => {}
            }
        }
    }
    if !has("no-proof") {
        let r = prove("people", PeopleModel::new(PeopleDefences::all(), bounds));
        println!(
            "proof: {} unique ({} generated), depth {}, {:.2}s, all hold {}",
            r.unique_states,
            r.states,
            r.max_depth,
            r.seconds,
            r.all_hold()
        );
        for p in &r.properties {
            println!("  {:5} {:9} {}", p.holds, p.kind, p.name);
            if !p.holds || has("witnesses") {
                for s in &p.trace {
                    println!("      {:13} {}", s.actor, s.detail);
                }
            }
        }
    }
    if has("variants") {
        for v in PeopleVariant::all() {
            let (r, _) = v.find_attack(Bounds::QUICK);
            println!(
                "variant {:24} found {} breaks {:?} in {} steps ({} states, {:.2}s)",
                r.variant,
                r.found,
                r.property,
                r.trace.len(),
                r.unique_states,
                r.seconds
            );
            if has("traces") {
                for s in &r.trace {
                    println!("      {:13} {}", s.actor, s.detail);
                }
            }
        }
    }
}
