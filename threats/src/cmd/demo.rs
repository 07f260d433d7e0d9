//! `threatcheck demo` (placeholder).

use super::Outcome;

/// Arguments of `threatcheck demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs the command.
pub fn run(_args: DemoArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck demo is not built yet")
}
