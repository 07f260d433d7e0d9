//! `threatcheck job` (placeholder).

use super::Outcome;

/// Arguments of `threatcheck job`.
#[derive(Debug, clap::Args)]
pub struct JobArgs {}

/// Runs the command.
pub fn run(_args: JobArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck job is not built yet")
}
