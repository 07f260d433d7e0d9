//! `threatcheck audit` (placeholder until the people crate lands).

use super::Outcome;

/// Arguments of `threatcheck audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {}

/// Runs the command.
pub fn run(_args: AuditArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck audit is not built yet")
}
