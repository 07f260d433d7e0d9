//! Prints a proof and every variant's attack (development aid).
use model::channel::{Bounds, ChannelModel};
use model::run::prove;
use model::variants::Variant;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let bounds = if quick { Bounds::QUICK } else { Bounds::PROOF };
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
