//! `threatcheck report` (placeholder).

use super::Outcome;

/// Arguments of `threatcheck report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

/// Runs the command.
pub fn run(_args: ReportArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck report is not built yet")
}
