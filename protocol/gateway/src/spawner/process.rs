//! UI servers as real child processes: the policy's command, an empty environment, the
//! rendezvous on the pipes, and the stdin pipe held open for the instance's lifetime.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use protocol_core::{Owner, PublicKey};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{LaunchFuture, SpawnError, SpawnPolicy, UiInstance, UiLauncher};
use crate::assertion::HubKey;
use crate::rendezvous::{hello_line, parse_ready, read_line};

/// Runs UI servers as child processes.
#[derive(Debug, Clone)]
pub struct ProcessUiLauncher {
    policy: SpawnPolicy,
    start_timeout: Duration,
    quiet: bool,
}

impl ProcessUiLauncher {
    /// A launcher for `policy`'s command, waiting at most `start_timeout` for the rendezvous.
    #[must_use]
    pub const fn new(policy: SpawnPolicy, start_timeout: Duration) -> Self {
        Self {
            policy,
            start_timeout,
            quiet: false,
        }
    }

    /// Sends the UI servers' standard error to /dev/null instead of inheriting it.
    #[must_use]
    pub const fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// The policy.
    #[must_use]
    pub const fn policy(&self) -> &SpawnPolicy {
        &self.policy
    }
}

/// A UI server process.
#[derive(Debug)]
struct ProcessUi {
    child: Child,
    // Held open: the UI server stops when it reads end of file.
    stdin: Option<ChildStdin>,
    // Held open: a UI server writing after the rendezvous must not die of a broken pipe.
    _stdout: BufReader<ChildStdout>,
    address: SocketAddr,
    client_key: PublicKey,
}

impl UiInstance for ProcessUi {
    fn address(&self) -> SocketAddr {
        self.address
    }

    fn client_key(&self) -> PublicKey {
        self.client_key
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn stop(mut self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            // Closing stdin asks it to stop cleanly (it withdraws its client key); a UI server
            // that does not stop within two seconds is killed.
            drop(self.stdin.take());
            if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
                .await
                .is_err()
            {
                let _ = self.child.kill().await;
                let _ = self.child.wait().await;
            }
        })
    }
}

impl UiLauncher for ProcessUiLauncher {
    fn launch(&self, owner: Owner, hub_key: HubKey) -> LaunchFuture {
        // The owner is validated again here: the launcher trusts no caller.
        let command = self.policy.command_for(owner.as_str());
        let limit = self.start_timeout;
        let stderr = if self.quiet { Stdio::null() } else { Stdio::inherit() };
        Box::pin(async move {
            let command = command?;
            let mut child = Command::new(&command.program)
                .args(&command.args)
                .env_clear()
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| SpawnError::Start(e.kind().to_string()))?;
            let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(SpawnError::Start("no pipes".into()));
            };
            let hello = hello_line(&hub_key);
            let started = async {
                stdin
                    .write_all(hello.as_bytes())
                    .await
                    .map_err(|_| SpawnError::Exited)?;
                stdin.flush().await.map_err(|_| SpawnError::Exited)?;
                let mut stdout = BufReader::new(stdout);
                let line = read_line(&mut stdout, limit).await?;
                Ok::<_, SpawnError>((parse_ready(&line)?, stdout))
            };
            match started.await {
                Ok((ready, stdout)) => Ok(Box::new(ProcessUi {
                    child,
                    stdin: Some(stdin),
                    _stdout: stdout,
                    address: ready.address,
                    client_key: ready.client_key,
                }) as Box<dyn UiInstance>),
                Err(e) => {
                    let _ = child.kill().await;
                    Err(e)
                }
            }
        })
    }
}
