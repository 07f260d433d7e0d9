//! `threatcheck authz` (placeholder until the people crate lands).

use super::Outcome;

/// Arguments of `threatcheck authz`.
#[derive(Debug, clap::Args)]
pub struct AuthzArgs {}

/// Runs the command.
pub fn run(_args: AuthzArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("threatcheck authz is not built yet")
}
