//! `threatcheck attack`: run the attack harnesses against live loopback targets (each against
//! the real target and a weakened control) and replay the model's counterexamples against the
//! real implementation.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::bail;
use attacks::conformance::{self, ConformanceResult, Verdict};
use attacks::{HarnessResult, Outcome as RunOutcome};
use model::variants::{PeopleVariant, Variant};
use serde::Serialize;

use super::Outcome;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: one line per harness and per replay, then a summary.
    Text,
    /// For programs: the same results as data.
    Json,
}

/// Arguments of `threatcheck attack`.
#[derive(Debug, clap::Args)]
pub struct AttackArgs {
    /// List the harnesses and the replayable variants, and exit.
    #[arg(long)]
    pub list: bool,
    /// Run only these: harness ids (`s12-compromised-job`) and variant names whose model
    /// counterexample to replay (`bound-identity`). Default: every harness and every replay.
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// Skip the replays of the model's counterexamples when running everything.
    #[arg(long)]
    pub no_conformance: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Everything an attack run produced.
#[derive(Debug, Serialize)]
pub struct AttackResults {
    /// The harnesses, in id order.
    pub harnesses: Vec<HarnessResult>,
    /// The replays, in the model's variant order.
    pub conformance: Vec<ConformanceResult>,
    /// Counts.
    pub summary: Summary,
}

/// Counts of an attack run.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Harnesses run.
    pub harnesses: usize,
    /// Of those, how many passed (real defended, control breached).
    pub harnesses_passed: usize,
    /// Replays run.
    pub replays: usize,
    /// Of those, how many conformed.
    pub replays_conforming: usize,
    /// Wall-clock seconds for the whole run (a timing field).
    pub seconds: f64,
}

impl AttackResults {
    /// No harness and no replay run.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            harnesses: Vec::new(),
            conformance: Vec::new(),
            summary: Summary {
                harnesses: 0,
                harnesses_passed: 0,
                replays: 0,
                replays_conforming: 0,
                seconds: 0.0,
            },
        }
    }

    /// Whether every harness passed and every replay conformed.
    #[must_use]
    pub fn all_green(&self) -> bool {
        self.summary.harnesses_passed == self.summary.harnesses
            && self.summary.replays_conforming == self.summary.replays
    }
}

/// Splits `ids` into harness ids and variant names.
///
/// # Errors
/// A name that is neither (a usage error).
fn split(ids: &[String]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut harnesses, mut variants) = (Vec::new(), Vec::new());
    for id in ids {
        if attacks::run::find(id).is_some() {
            harnesses.push(id.clone());
        } else if Variant::from_name(id).is_some() || PeopleVariant::from_name(id).is_some() {
            variants.push(id.clone());
        } else {
            bail!("no harness or variant is called {id:?} (see threatcheck attack --list)");
        }
    }
    Ok((harnesses, variants))
}

/// Whether the variant `name` has a replay on the real implementation.
#[must_use]
pub fn has_replay(name: &str) -> bool {
    Variant::from_name(name).is_some() || PeopleVariant::from_name(name).is_some()
}

/// Runs the selected harnesses and replays. `progress` is told what starts.
///
/// # Errors
/// An unknown id.
pub fn run_attacks(
    ids: &[String],
    conformance: bool,
    base: &attacks::Weakening,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<AttackResults> {
    let start = Instant::now();
    let (harness_ids, variant_names) = split(ids)?;
    let everything = ids.is_empty();
    let harnesses = if everything || !harness_ids.is_empty() {
        attacks::run::run(&harness_ids, base, |info| progress(info.id))?
    } else {
        Vec::new()
    };
    let replays = if (everything && conformance) || !variant_names.is_empty() {
        // Each model's replays, for the names that are its (all of them when none is named).
        let (channel, people): (Vec<String>, Vec<String>) = variant_names
            .iter()
            .cloned()
            .partition(|n| Variant::from_name(n).is_some());
        let mut replays = Vec::new();
        if everything || !channel.is_empty() {
            replays.extend(conformance::run(&channel, base, |name| {
                progress(&format!("replay {name}"))
            })?);
        }
        if everything || !people.is_empty() {
            replays.extend(conformance::people::run(&people, base, |name| {
                progress(&format!("replay {name}"));
            })?);
        }
        replays
    } else {
        Vec::new()
    };
    let summary = Summary {
        harnesses: harnesses.len(),
        harnesses_passed: harnesses.iter().filter(|h| h.passed()).count(),
        replays: replays.len(),
        replays_conforming: replays.iter().filter(|r| r.passed()).count(),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(AttackResults {
        harnesses,
        conformance: replays,
        summary,
    })
}

fn list() {
    for h in attacks::run::all() {
        println!(
            "harness {:24} {}  {:22} {}",
            h.info.id,
            h.info.story,
            h.info.defences.iter().map(|d| d.name()).collect::<Vec<_>>().join(","),
            h.info.title
        );
    }
    for v in Variant::all() {
        println!("replay  {:24} {}", v.name(), v.description());
    }
    for v in PeopleVariant::all() {
        println!("replay  {:24} {}", v.name(), v.description());
    }
}

fn outcome_word(o: &RunOutcome) -> &'static str {
    o.label()
}

fn verdict_word(v: &Verdict) -> String {
    match v {
        Verdict::Violated { step, .. } => format!("violated@{step}"),
        Verdict::Refused { step, check, .. } => format!("refused@{step} by {check}"),
        other => other.label().to_owned(),
    }
}

fn print_text(results: &AttackResults) {
    for h in &results.harnesses {
        println!(
            "{} {:24} {}  real {:8} control {:8}  {} | control: {}",
            if h.passed() { "ok  " } else { "FAIL" },
            h.info.id,
            h.info.story,
            outcome_word(&h.real),
            outcome_word(&h.control),
            h.real.detail(),
            h.control.detail()
        );
        if let Some(why) = h.failure() {
            println!("     why: {why}");
        }
    }
    for r in &results.conformance {
        println!(
            "{} replay {:25} weakened {:12} full {:30} {}",
            if r.passed() { "ok  " } else { "FAIL" },
            r.variant,
            verdict_word(&r.weakened),
            verdict_word(&r.normal),
            r.normal.detail()
        );
        if let Some(why) = r.failure() {
            println!("     why: {why}");
        }
    }
    let s = &results.summary;
    println!(
        "summary: {}/{} harnesses passed (real target defended, weakened control breached), {}/{} model \
         counterexamples conform on the real system; {:.1} s",
        s.harnesses_passed, s.harnesses, s.replays_conforming, s.replays, s.seconds
    );
}

/// Runs the command.
///
/// # Errors
/// An unknown id (exit 2).
pub fn run(args: AttackArgs) -> anyhow::Result<Outcome> {
    if args.list {
        list();
        return Ok(Outcome::Green);
    }
    // Validate before anything runs, so a typo costs nothing.
    split(&args.ids)?;
    let terminal = std::io::stderr().is_terminal();
    let results = run_attacks(&args.ids, !args.no_conformance, &attacks::Weakening::none(), |what| {
        if terminal {
            eprint!("\r\x1b[2Kattacking {what}…");
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
