//! `threatcheck-server job`: the reference job program. It speaks SPEC.md on stdin/stdout, so any
//! scheduler can launch it with `--job-command "threatcheck-server job"`.

use protocol_core::wire::OutputName;
use protocol_net::job_program::{CONTACT_ENV, JobPlan, run_reference_job};

use super::Outcome;

/// Arguments of `threatcheck-server job`.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// How many `message` reports to send between `started` and the final report.
    #[arg(long, default_value_t = 3)]
    pub messages: u32,
    /// Report `failed` (exit code 1, on the wire) instead of `succeeded`; the program itself
    /// still exits 0, having run the protocol to its end.
    #[arg(long)]
    pub fail: bool,
    /// An output to report completed before the final report (repeatable; the task must
    /// declare it, see `scheduler --output`).
    #[arg(long = "output", value_parser = super::parse_output)]
    pub outputs: Vec<OutputName>,
}

/// Runs the reference job on this process's stdin and stdout.
pub fn run(args: JobArgs) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let plan = JobPlan {
        messages: args.messages,
        fail: args.fail,
        outputs: args.outputs,
    };
    // The launch mechanism names the scheduler's contact file, for reconnecting after a
    // scheduler restart (SPEC.md §9).
    let contact = std::env::var_os(CONTACT_ENV).map(std::path::PathBuf::from);
    runtime.block_on(run_reference_job(
        tokio::io::stdin(),
        tokio::io::stdout(),
        plan,
        contact,
    ))?;
    Ok(Outcome::Green)
}
