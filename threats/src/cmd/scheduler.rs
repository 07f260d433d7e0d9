//! `threatcheck scheduler` (placeholder).

use super::Outcome;

/// Arguments of `threatcheck scheduler`.
#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {}

/// Runs the command.
pub fn run(_args: SchedulerArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck scheduler is not built yet")
}
