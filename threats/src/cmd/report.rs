//! `threatcheck report --results FILE [--out DIR]`: re-render the six reports from a saved
//! `results.json` without re-running anything; `threatcheck report --merge A.json B.json …`:
//! join the shards of one run (`verify --shard K/N`) into the six reports a single run writes
//! (byte-identical but for timings), refusing shards of different inputs, a missing or
//! repeated shard.
//!
//! Exit 0 when the saved verdict is green, 1 when it is red (the reports are written either
//! way), 2 when the file cannot be used: unreadable, too large, not JSON, another schema
//! version, malformed evidence, or an outcome that does not follow from its inputs.

use std::path::PathBuf;

use anyhow::Context as _;
use threats::report::{REPORT_FILES, RenderOptions, write_reports_with};
use threats::{Results, Verdict};

use super::Outcome;

/// Arguments of `threatcheck report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The results.json to render (schema threatcheck-results/1).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "merge",
        conflicts_with = "merge"
    )]
    results: Option<PathBuf>,
    /// The shards' results.json files to join (one per shard of one run, any order).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    merge: Vec<PathBuf>,
    /// Where to write stride.md, stride.html, architecture.md, results.json, results.sarif and
    /// junit.xml.
    #[arg(long, value_name = "DIR", default_value = "target/threatcheck/reports")]
    out: PathBuf,
    /// Leave timings out (zeroed in JSON and JUnit) so that the output is byte-stable.
    #[arg(long)]
    no_timings: bool,
}

/// Runs the command.
pub fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    let results = match &args.results {
        Some(path) => {
            let r = Results::read(path).with_context(|| format!("{}", path.display()))?;
            if let Some(s) = &r.shard {
                anyhow::bail!(
                    "{} is shard {} of a run: join the shards with --merge",
                    path.display(),
                    s.shard
                );
            }
            r
        }
        None => {
            let mut shards = Vec::new();
            for path in &args.merge {
                shards.push(Results::read(path).with_context(|| format!("{}", path.display()))?);
            }
            threats::shard::merge(&shards).context("cannot merge the shards")?
        }
    };
    let opts = if args.no_timings {
        RenderOptions::stable()
    } else {
        RenderOptions::default()
    };
    write_reports_with(&results, &args.out, opts).context("cannot write the reports")?;
    let c = &results.outcome.counts;
    let verdict = if results.outcome.verdict == Verdict::Green {
        "green"
    } else {
        "red"
    };
    println!(
        "report: wrote {} to {}: verdict {verdict} ({} threats: {} verified, {} failing, {} unverified, {} accepted)",
        REPORT_FILES.join(", "),
        args.out.display(),
        c.threats,
        c.verified,
        c.failing,
        c.unverified,
        c.accepted
    );
    for reason in &results.outcome.reasons {
        println!("  red: {reason}");
    }
    Ok(if results.outcome.verdict == Verdict::Green {
        Outcome::Green
    } else {
        Outcome::Finding
    })
}
