//! Launching jobs and running the bootstrap channel (SPEC.md §2).
//!
//! A [`Launcher`] starts a job and returns the key it answers with. [`ProcessLauncher`] runs a
//! child process and uses its stdin/stdout as the channel; remotely the same bytes would cross
//! `ssh host cmd`. The channel stays open until the key line arrives or the deadline passes, and
//! only the first line counts: garbage, an oversize line or silence fails the launch and the
//! process is killed.

use std::future::Future;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use protocol_core::bootstrap::{
    BootstrapError, MAX_BOOTSTRAP_LINE, Offer, Registration, decode_key_reply, encode_line,
};
use protocol_core::keys::KEY_LEN;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// Why a launch failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchFailure {
    /// The job command could not be started.
    #[error("could not start the job command: {0}")]
    Spawn(std::io::Error),
    /// Writing the offer or reading the answer failed.
    #[error("bootstrap channel i/o: {0}")]
    Io(std::io::Error),
    /// The answer was refused.
    #[error("bootstrap answer refused: {0}")]
    Bootstrap(BootstrapError),
    /// No answer before the deadline.
    #[error("no key on the bootstrap channel within {0:?}")]
    Timeout(Duration),
}

/// A launched job: the key it answered with, the still-open channel, and the process.
pub struct Launched {
    /// The key bytes from the answer (validated later by the registry's checks).
    pub key: [u8; KEY_LEN],
    /// The channel back to the job, for the registration verdict.
    pub channel: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// The running process, to reap.
    pub process: Option<Child>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched")
            .field("process", &self.process)
            .finish_non_exhaustive()
    }
}

impl Launched {
    /// Tells the job whether its key was registered, then closes the channel.
    pub async fn confirm(&mut self, registration: &Registration) {
        if let Some(mut channel) = self.channel.take() {
            // A job that has gone away cannot be told; its launch has failed anyway.
            let _ = channel.write_all(encode_line(registration).as_bytes()).await;
            let _ = channel.flush().await;
        }
    }
}

/// Boxed future returned by launchers.
pub type LaunchFuture = Pin<Box<dyn Future<Output = Result<Launched, LaunchFailure>> + Send>>;

/// Something that can start a job and carry its bootstrap exchange.
pub trait Launcher: Send + Sync + 'static {
    /// Starts the job, sends it `offer`, and waits at most `deadline` for its key.
    fn launch(&self, offer: Offer, deadline: Duration) -> LaunchFuture;
}

/// Runs the job as a local child process: the configured program and arguments only, never
/// anything taken from the offer.
#[derive(Debug, Clone)]
pub struct ProcessLauncher {
    program: String,
    args: Vec<String>,
    quiet: bool,
    env: Vec<(String, std::ffi::OsString)>,
}

impl ProcessLauncher {
    /// A launcher for `program args…`.
    #[must_use]
    pub fn new(program: impl Into<String>, args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            args,
            quiet: false,
            env: Vec::new(),
        }
    }

    /// Parses a command line with shell-style quoting (no expansion of any kind).
    ///
    /// # Errors
    /// A message when the line is empty or its quoting is unbalanced.
    pub fn from_command_line(line: &str) -> Result<Self, String> {
        let mut words = shlex::split(line).ok_or_else(|| format!("unbalanced quoting in job command {line:?}"))?;
        if words.is_empty() {
            return Err("empty job command".into());
        }
        let program = words.remove(0);
        Ok(Self::new(program, words))
    }

    /// Sends the jobs' standard error to /dev/null instead of inheriting it.
    #[must_use]
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Sets an environment variable for every job (public values only: a job's environment is
    /// readable by its user's other processes).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<std::ffi::OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// Reads one line of at most [`MAX_BOOTSTRAP_LINE`] bytes.
///
/// # Errors
/// [`LaunchFailure::Bootstrap`] for an oversize line or end of stream, [`LaunchFailure::Io`].
pub async fn read_bootstrap_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Result<Vec<u8>, LaunchFailure> {
    let mut line = Vec::with_capacity(128);
    loop {
        let available = reader.fill_buf().await.map_err(LaunchFailure::Io)?;
        if available.is_empty() {
            return Err(LaunchFailure::Bootstrap(BootstrapError::Closed));
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        if line.len() + chunk.len() > MAX_BOOTSTRAP_LINE {
            return Err(LaunchFailure::Bootstrap(BootstrapError::TooLong));
        }
        line.extend_from_slice(chunk);
        let n = chunk.len();
        reader.consume(n);
        if done {
            return Ok(line);
        }
    }
}

async fn exchange(child: &mut Child, offer: &Offer) -> Result<([u8; KEY_LEN], ChildStdin), LaunchFailure> {
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| LaunchFailure::Io(std::io::ErrorKind::BrokenPipe.into()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| LaunchFailure::Io(std::io::ErrorKind::BrokenPipe.into()))?;
    stdin
        .write_all(encode_line(offer).as_bytes())
        .await
        .map_err(LaunchFailure::Io)?;
    stdin.flush().await.map_err(LaunchFailure::Io)?;
    let mut reader = BufReader::with_capacity(MAX_BOOTSTRAP_LINE, stdout);
    let line = read_bootstrap_line(&mut reader).await?;
    Ok((decode_key_reply(&line).map_err(LaunchFailure::Bootstrap)?, stdin))
}

impl Launcher for ProcessLauncher {
    fn launch(&self, offer: Offer, deadline: Duration) -> LaunchFuture {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if self.quiet { Stdio::null() } else { Stdio::inherit() })
            // Its own process group, so that a failed launch ends everything it started, not
            // just the direct child (a job script's background processes are its children's).
            .process_group(0)
            .kill_on_drop(false);
        Box::pin(async move {
            let mut child = command.spawn().map_err(LaunchFailure::Spawn)?;
            let outcome = match tokio::time::timeout(deadline, exchange(&mut child, &offer)).await {
                Ok(result) => result,
                Err(_) => Err(LaunchFailure::Timeout(deadline)),
            };
            match outcome {
                Ok((key, stdin)) => Ok(Launched {
                    key,
                    channel: Some(Box::new(stdin)),
                    process: Some(child),
                }),
                Err(err) => {
                    // A failed launch must not leave a job running that the scheduler will
                    // never hear from: not the process, and nothing it started.
                    kill_group(&mut child).await;
                    Err(err)
                }
            }
        })
    }
}

/// Kills a launched process's whole process group (it leads one: see
/// [`ProcessLauncher`]'s launch), then the process itself, and reaps it.
pub async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

/// Waits for a launched process and returns its exit status.
pub async fn reap(mut child: Child) -> Option<ExitStatus> {
    child.wait().await.ok()
}

/// Launches nothing: every launch fails at once. For a scheduler that only serves commands
/// (`threatcheck-server scheduler --serve` without `--job-command`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLauncher;

impl Launcher for NoLauncher {
    fn launch(&self, _offer: Offer, _deadline: Duration) -> LaunchFuture {
        Box::pin(async move {
            Err(LaunchFailure::Spawn(std::io::Error::other(
                "this scheduler launches no jobs",
            )))
        })
    }
}
