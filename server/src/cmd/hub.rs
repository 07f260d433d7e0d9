//! `threatcheck-server hub --config hub.toml`: the people's front door on loopback.
//!
//! Prints one line on stdout once it listens, `{"v":1,"address":"127.0.0.1:PORT","origin":…}`,
//! then logs requests (route templates and statuses only) on stderr until it is signalled or,
//! with `--until-stdin-closes`, until its standard input closes. It stops every UI server it
//! spawned on the way out. See protocol/gateway/README.md for the endpoints and the file.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use protocol_gateway::Hub;
use protocol_gateway::hub::config::HubConfig;
use protocol_gateway::logging::StderrLog;
use tokio::io::AsyncReadExt as _;

use super::Outcome;

/// Arguments of `threatcheck-server hub`.
#[derive(Debug, clap::Args)]
pub struct HubArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Stop when standard input closes (for supervisors and tests that hold a pipe).
    #[arg(long)]
    pub until_stdin_closes: bool,
}

/// Runs the hub.
pub fn run(args: HubArgs) -> anyhow::Result<Outcome> {
    let config = HubConfig::load(&args.config)?;
    let parts = config
        .into_parts(Arc::new(StderrLog::new("hub")))
        .with_context(|| format!("configuration {}", args.config.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        let hub = Hub::start(parts).await?;
        let ready = serde_json::json!({ "v": 1, "address": hub.address().to_string(), "origin": hub.origin() });
        let mut out = std::io::stdout();
        writeln!(out, "{ready}")?;
        out.flush()?;
        tokio::select! {
            () = terminated() => {}
            () = stdin_closed(), if args.until_stdin_closes => {}
        }
        hub.shutdown().await;
        Ok::<_, anyhow::Error>(())
    });
    // A blocking read of stdin may still be pending; do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    result?;
    Ok(Outcome::Green)
}

/// SIGTERM or SIGINT.
pub(crate) async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Resolves when standard input reaches its end.
pub(crate) async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 256];
    while let Ok(n) = stdin.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}
