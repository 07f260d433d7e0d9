//! `threatcheck verify`: the release gate. Lints the threat model, runs the model checker and
//! every attack harness (and replays the model's counterexamples on the real implementation),
//! joins the evidence with the threat model, writes the six reports, and exits 0 only when
//! everything is green.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use threats::evidence::Evidence;
use threats::model::Date;
use threats::report::RenderOptions;
use threats::results::{Results, Tool};
use threats::shard::{ShardInfo, ShardSpec, harness_unit, proof_unit, variant_unit};

use super::Outcome;
use super::attack::{has_replay, run_attacks};
use super::evidence::{harness_results, property_results, variant_results};
use super::lint::{known_evidence, load_model, resolve_model_dir, today_utc};
use super::model::{ModelResults, run_models, run_models_where};

/// Arguments of `threatcheck verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Where to write the reports (default: a build-output directory, so a first run leaves the
    /// committed `reports/` alone; `scripts/regenerate-reports.sh` writes those).
    #[arg(long, default_value = "target/threatcheck/reports")]
    pub out: PathBuf,
    /// The smaller bounds for pull requests: proofs within the quick bound (attack searches,
    /// harnesses and replays are the same as without it).
    #[arg(long)]
    pub quick: bool,
    /// The threat model directory (default threats/model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Judge risk acceptances as of this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Run only shard K of N (`K/N`): a deterministic 1/N of the proofs, variant searches with
    /// their replays, and harnesses. Writes only `results.json` (the shard's evidence, its
    /// place and a fingerprint of its inputs) to `--out`; `threatcheck report --merge` joins
    /// the N files into the six reports a single run writes. Exits 0 when this shard's own
    /// evidence is green.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<ShardSpec>,
    /// Leave the timing fields out (zero in results.json and junit.xml, omitted elsewhere), so
    /// two runs write byte-identical files: how `reports/` in the repository is made.
    #[arg(long)]
    pub no_timings: bool,
    /// Test builds only: verify the system without this defence (any name of the defence
    /// vocabulary, or a model variant). Every harness attacks targets started without it (its
    /// "real" run lacks it; its controls lack it and their own defence); every counterexample
    /// replay runs with it removed from both builds; where it is a model
    /// variant, that model's proofs run on the weakened design (within the quick bound). The
    /// threats it protects show as failing. Exits 1.
    #[cfg(feature = "weaken")]
    #[arg(long, value_name = "CHECK")]
    pub weaken: Option<String>,
}

/// Runs the command.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let progress = |what: &str| {
        if terminal {
            eprint!("\r\x1b[2Kverify [{:>3.0} s]: {what}…", started.elapsed().as_secs_f64());
        }
    };
    let as_of = match &args.as_of {
        Some(text) => text
            .parse::<Date>()
            .map_err(|e| anyhow::anyhow!("--as-of {text:?}: {e}"))?,
        None => today_utc()?,
    };
    #[cfg(feature = "weaken")]
    let weaken = args.weaken.as_deref();
    #[cfg(not(feature = "weaken"))]
    let weaken: Option<&str> = None;
    if let Some(check) = weaken {
        weakened::validate(check)?;
        if args.shard.is_some() {
            anyhow::bail!("--shard and --weaken cannot be combined");
        }
    }
    let units = all_units();
    let mine: Option<Vec<String>> = args
        .shard
        .map(|spec| spec.select(&units).into_iter().map(str::to_owned).collect());

    progress("loading the threat model");
    let dir = resolve_model_dir(args.model.clone());
    let threat_model = load_model(&dir).with_context(|| format!("loading the threat model from {}", dir.display()))?;
    let findings = threats::lint::lint(&threat_model, &known_evidence(), as_of);

    let models = match (weaken, &mine) {
        (Some(check), _) => weakened::models(check, args.quick, |name| progress(&format!("model {name}")))?,
        (None, None) => run_models(None, None, args.quick, |name| progress(&format!("model {name}")))?,
        (None, Some(mine)) => run_models_where(
            None,
            None,
            args.quick,
            |name| mine.contains(&proof_unit(name)) || mine.contains(&variant_unit(name)),
            |name| progress(&format!("model {name}")),
        )?,
    };
    // Under `--weaken`, every live target of every harness lacks the named defence.
    let base = weaken.and_then(weakened::weakening).unwrap_or_default();
    let attacks = match &mine {
        None => run_attacks(&[], true, &base, |what| progress(&format!("attack {what}")))?,
        Some(mine) => {
            // This shard's harnesses, and the replays of its variants.
            let ids: Vec<String> = attacks::run::all()
                .iter()
                .map(|h| h.info.id.to_owned())
                .filter(|id| mine.contains(&harness_unit(id)))
                .chain(
                    model::catalogue()
                        .variants
                        .iter()
                        .map(|v| v.name.to_owned())
                        .filter(|n| mine.contains(&variant_unit(n)) && has_replay(n)),
                )
                .collect();
            if ids.is_empty() {
                super::attack::AttackResults::empty()
            } else {
                run_attacks(&ids, true, &base, |what| progress(&format!("attack {what}")))?
            }
        }
    };
    let evidence = Evidence {
        properties: property_results(&models),
        variants: variant_results(&models, &attacks.conformance),
        harnesses: harness_results(&attacks.harnesses),
    };
    evidence.validate().context("the evidence produced is malformed")?;

    progress("writing reports");
    let mut results = Results::new(
        Tool::threatcheck(env!("CARGO_PKG_VERSION")),
        as_of,
        threat_model,
        evidence,
        findings,
    );
    if let Some(spec) = args.shard {
        let bounds = if args.quick { "quick" } else { "full" };
        results.shard = Some(ShardInfo::new(spec, units, &results, bounds));
        return write_shard(&results, &args.out, spec, args.no_timings, started);
    }
    let options = if args.no_timings {
        RenderOptions::stable()
    } else {
        RenderOptions::default()
    };
    threats::report::write_reports_with(&results, &args.out, options)
        .with_context(|| format!("writing reports to {}", args.out.display()))?;
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let green = results.outcome.verdict == threats::join::Verdict::Green;
    if let Some(check) = weaken {
        match weakened::weakening(check) {
            Some(w) => println!(
                "weakened: every harness target {w}; the model's proofs without `{check}` where it is a model variant (test build)"
            ),
            None => println!(
                "weakened: the model's proofs without `{check}` (a model-only design; live targets unchanged) (test build)"
            ),
        }
    }
    println!("verdict: {}", if green { "green" } else { "RED" });
    for reason in &results.outcome.reasons {
        println!("  {reason}");
    }
    println!(
        "reports written to {} in {:.1} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(if green { Outcome::Green } else { Outcome::Finding })
}

/// Every unit of a whole run, in the order a single run reports them: the proofs and the
/// variants in the model catalogue's order, the harnesses in id order.
fn all_units() -> Vec<String> {
    let catalogue = model::catalogue();
    catalogue
        .proofs
        .iter()
        .map(|p| proof_unit(p.name))
        .chain(catalogue.variants.iter().map(|v| variant_unit(v.name)))
        .chain(attacks::run::all().iter().map(|h| harness_unit(h.info.id)))
        .collect()
}

/// A shard's output: its `results.json` only (the six reports come from the merge).
fn write_shard(
    results: &Results,
    out: &std::path::Path,
    spec: ShardSpec,
    no_timings: bool,
    started: Instant,
) -> anyhow::Result<Outcome> {
    let results = if no_timings {
        results.without_timings()
    } else {
        results.clone()
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("results.json");
    std::fs::write(&path, results.to_json()?).with_context(|| format!("writing {}", path.display()))?;
    let e = &results.evidence;
    let red: Vec<String> = e
        .all()
        .filter_map(|(r, h)| match h {
            threats::evidence::Health::Red(why) => Some(format!("{r}: {why}")),
            threats::evidence::Health::Green => None,
        })
        .collect();
    let lint_errors = results
        .lint
        .iter()
        .filter(|f| f.severity == threats::lint::Severity::Error)
        .count();
    let green = red.is_empty() && lint_errors == 0;
    println!(
        "shard {spec}: {} properties, {} variants, {} harnesses: {}",
        e.properties.len(),
        e.variants.len(),
        e.harnesses.len(),
        if green { "green" } else { "RED" }
    );
    for why in &red {
        println!("  {why}");
    }
    if lint_errors > 0 {
        println!("  lint: {lint_errors} error(s) in the threat model");
    }
    println!(
        "shard results written to {} in {:.1} s (join the shards with `threatcheck report --merge`)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(if green { Outcome::Green } else { Outcome::Finding })
}

/// `--weaken`: the release gate run against targets without one check. Compiled always (so
/// it is type-checked and linted) but reachable only from builds with the `weaken` feature.
mod weakened {
    use anyhow::bail;
    use attacks::Weakening;
    use model::channel::Bounds as ChannelBounds;
    use model::people::Bounds as PeopleBounds;
    use model::run::prove;
    use model::variants::{PeopleVariant, Variant};
    use protocol_core::Flaw;

    use super::ModelResults;

    /// What `--weaken NAME` removes from every live target: the defence of that name, or the
    /// channel design flaw of that name; `None` for a name only a model knows.
    pub fn weakening(name: &str) -> Option<Weakening> {
        if let Ok(defence) = name.parse::<protocol::Defence>() {
            return Some(Weakening::without(defence));
        }
        Flaw::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .map(Weakening::with_flaw)
    }

    /// Refuses a name that is neither a defence of the vocabulary nor a model variant, before
    /// anything runs.
    pub fn validate(name: &str) -> anyhow::Result<()> {
        if weakening(name).is_none() && Variant::from_name(name).is_none() && PeopleVariant::from_name(name).is_none() {
            bail!("--weaken {name:?}: no defence or model variant has that name");
        }
        Ok(())
    }

    /// The model runs with `check` removed from its model's proofs: those proofs run on the
    /// weakened design within the quick bound (its attack is within it, and a full proof of a
    /// broken design would only cost time); every other proof and every search runs as usual.
    pub fn models(check: &str, quick: bool, mut progress: impl FnMut(&str)) -> anyhow::Result<ModelResults> {
        let catalogue = model::catalogue();
        let mut results = ModelResults {
            proofs: Vec::new(),
            variants: Vec::new(),
        };
        let channel = Variant::from_name(check);
        let people = PeopleVariant::from_name(check);
        // The design without the first-payload check matters only with the scheduler's key
        // leaked: its weakened model is the key-compromise run; the UI server's flaw shows in
        // the command-channel run, the durability flaws in the crash run.
        let (channel_proof, channel_bounds) = match channel {
            Some(Variant::Without(protocol_core::Check::EmptyFirstPayload)) => ("channel-kci", ChannelBounds::QUICK),
            Some(Variant::Flaw(protocol_core::Flaw::BurnRefusedNumber)) => {
                ("channel-commands", ChannelBounds::COMMANDS_QUICK)
            }
            // The durability flaws show only where a crash can fall between an event and its write.
            Some(Variant::Flaw(
                protocol_core::Flaw::AckBeforeDurable | protocol_core::Flaw::RevocationBeforeDurable,
            )) => ("channel-crash", ChannelBounds::CRASH_QUICK),
            _ => ("channel", ChannelBounds::QUICK),
        };
        for proof in &catalogue.proofs {
            progress(proof.name);
            let report = match (proof.name, channel, people) {
                (name, Some(v), _) if name == channel_proof => prove(name, v.model(channel_bounds)),
                ("people", _, Some(v)) => prove("people", v.model(PeopleBounds::QUICK)),
                _ => proof.run(quick),
            };
            results.proofs.push(report);
        }
        for variant in &catalogue.variants {
            progress(variant.name);
            results.variants.push(variant.find_attack());
        }
        Ok(results)
    }
}
