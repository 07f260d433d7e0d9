//! `threatcheck-server uiserver --owner OWNER …`: one owner's UI server, as the hub spawns it.
//!
//! It reads the hub's key from stdin, listens on loopback on a port of its own choosing and
//! announces it on stdout (protocol-gateway's rendezvous), then serves until it has been idle
//! for `--idle-timeout-ms`, its stdin closes (the hub is gone) or it is signalled. It is not
//! meant to be run by hand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use protocol_core::Owner;
use protocol_gateway::UiSettings;
use protocol_gateway::uiserver::{UiProcessConfig, run_process};

use super::Outcome;

/// Arguments of `threatcheck-server uiserver`.
#[derive(Debug, clap::Args)]
pub struct UiServerArgs {
    /// Whose UI server this is.
    #[arg(long)]
    pub owner: Owner,
    /// The policy directory (site.toml, users/, workflows/); a broken policy denies everything.
    #[arg(long)]
    pub policy: PathBuf,
    /// A groups file (default: the system's groups).
    #[arg(long)]
    pub groups: Option<PathBuf>,
    /// Root of the scheduler run directories (RUNS/OWNER/NAME).
    #[arg(long)]
    pub runs: PathBuf,
    /// Directory of the audit logs: this one writes `uiserver-OWNER.log`.
    #[arg(long)]
    pub audit_dir: PathBuf,
    /// The audit MAC key file (mode 600).
    #[arg(long)]
    pub audit_key: PathBuf,
    /// Stop after this many milliseconds without a request.
    #[arg(long, default_value_t = 30 * 60 * 1000)]
    pub idle_timeout_ms: u64,
    /// How long a command may wait for its scheduler.
    #[arg(long, default_value_t = 10_000)]
    pub command_timeout_ms: u64,
    /// Where to listen (loopback; port 0 chooses one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Runs the UI server.
pub fn run(args: UiServerArgs) -> anyhow::Result<Outcome> {
    let audit_log = args.audit_dir.join(format!("uiserver-{}.log", args.owner));
    let config = UiProcessConfig {
        owner: args.owner,
        policy: args.policy,
        groups: args.groups,
        runs: args.runs,
        audit_log,
        audit_key: args.audit_key,
        settings: UiSettings {
            listen: args.listen,
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            command_timeout: Duration::from_millis(args.command_timeout_ms),
            ..UiSettings::default()
        },
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(run_process(config));
    // A blocking read of stdin may still be pending; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result?;
    Ok(Outcome::Green)
}
