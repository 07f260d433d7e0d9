//! `threatcheck lint` (placeholder).

use super::Outcome;

/// Arguments of `threatcheck lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {}

/// Runs the command.
pub fn run(_args: LintArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck lint is not built yet")
}
