//! Launchers for harnesses: the bootstrap channel with the behaviour a run needs — real child
//! processes for some jobs and preset keys for others, a launcher that ignores the deadline
//! (so that the core's own deadline check is what a control removes), one that answers only
//! when a replay tells it to, and one that runs the reference job program in-process over
//! pipes, optionally with an attacker rewriting both bootstrap messages.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::JobId;
use protocol_core::PublicKey;
use protocol_core::bootstrap::{KeyReply, Offer, decode_key_reply, encode_line};
use protocol_core::keys::KEY_LEN;
use protocol_net::job_program::{JobPlan, run_reference_job};
use protocol_net::launcher::{LaunchFailure, LaunchFuture, Launched, Launcher, ProcessLauncher, read_bootstrap_line};
use testkit::PresetKeyLauncher;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

/// Launches some jobs as real child processes and answers for the rest with preset keys.
#[derive(Debug, Clone, Default)]
pub struct RouteLauncher {
    /// Keys for jobs that run in-process.
    pub presets: PresetKeyLauncher,
    processes: BTreeMap<JobId, (ProcessLauncher, bool)>,
}

impl RouteLauncher {
    /// Launches `job` as `sh -c script` (standard error discarded). With `patient`, the
    /// launcher waits for the answer whatever the deadline (the core's check still applies).
    #[must_use]
    pub fn with_script(mut self, job: &JobId, script: &str, patient: bool) -> Self {
        let launcher = ProcessLauncher::new("sh", vec!["-c".into(), script.into()]).quiet();
        self.processes.insert(job.clone(), (launcher, patient));
        self
    }
}

/// How long a patient launcher waits for an answer.
const PATIENCE: Duration = Duration::from_secs(10);

impl Launcher for RouteLauncher {
    fn launch(&self, offer: Offer, deadline: Duration) -> LaunchFuture {
        match self.processes.get(&offer.job) {
            Some((launcher, true)) => launcher.launch(offer, PATIENCE),
            Some((launcher, false)) => launcher.launch(offer, deadline),
            None => self.presets.launch(offer, deadline),
        }
    }
}

/// Answers each job's launch with the key a replay supplies, when it supplies it: the bootstrap
/// reply arrives exactly at the replay step that sends it. Never gives up by itself, so that
/// the only deadline is the core's.
#[derive(Debug, Clone, Default)]
pub struct ScriptedLauncher {
    waiting: Arc<Mutex<BTreeMap<JobId, oneshot::Sender<[u8; KEY_LEN]>>>>,
}

impl ScriptedLauncher {
    /// Delivers `key` as `job`'s bootstrap reply. Returns whether the job was waiting.
    pub fn answer(&self, job: &JobId, key: [u8; KEY_LEN]) -> bool {
        let sender = self.waiting.lock().ok().and_then(|mut w| w.remove(job));
        sender.is_some_and(|s| s.send(key).is_ok())
    }
}

impl Launcher for ScriptedLauncher {
    fn launch(&self, offer: Offer, deadline: Duration) -> LaunchFuture {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(offer.job.clone(), tx);
        }
        Box::pin(async move {
            let key = rx.await.map_err(|_| LaunchFailure::Timeout(deadline))?;
            Ok(Launched {
                key,
                channel: None,
                process: None,
            })
        })
    }
}

/// What an attacker on an unauthenticated bootstrap path puts in place of the real messages.
#[derive(Debug, Clone)]
pub struct Substitution {
    /// The scheduler key the job is told to pin.
    pub scheduler_key: PublicKey,
    /// The address the job is told to connect to.
    pub address: String,
    /// The key the scheduler is told the job made.
    pub job_key: PublicKey,
}

/// Runs the reference job program (`protocol_net::job_program`) in-process, its standard input
/// and output being pipes: the same bytes a child process would exchange. With a
/// [`Substitution`], an attacker rewrites the offer on its way to the job and the key reply on
/// its way back, as it could if the bootstrap crossed the network instead of the launch channel.
#[derive(Debug, Clone)]
pub struct PipeJobLauncher {
    plan: JobPlan,
    substitution: Option<Substitution>,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl PipeJobLauncher {
    /// Jobs that report `plan`, with the bootstrap optionally rewritten.
    #[must_use]
    pub fn new(plan: JobPlan, substitution: Option<Substitution>) -> Self {
        Self {
            plan,
            substitution,
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every byte that crossed the bootstrap channels, both directions.
    #[must_use]
    pub fn bootstrap_bytes(&self) -> Vec<u8> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Launcher for PipeJobLauncher {
    fn launch(&self, mut offer: Offer, deadline: Duration) -> LaunchFuture {
        let plan = self.plan.clone();
        let substitution = self.substitution.clone();
        let seen = Arc::clone(&self.seen);
        Box::pin(async move {
            let (scheduler_side, job_side) = tokio::io::duplex(4096);
            let (job_in, job_out) = tokio::io::split(job_side);
            tokio::spawn(async move {
                // The job's fate is observed at the scheduler; its own error is not evidence.
                let _ = run_reference_job(job_in, job_out, plan, None).await;
            });
            let (from_job, mut to_job) = tokio::io::split(scheduler_side);
            if let Some(s) = &substitution {
                offer.scheduler_key = s.scheduler_key.to_hex();
                offer.address.clone_from(&s.address);
            }
            let line = encode_line(&offer);
            let exchange = async {
                to_job.write_all(line.as_bytes()).await.map_err(LaunchFailure::Io)?;
                let mut reader = BufReader::new(from_job);
                let answer = read_bootstrap_line(&mut reader).await?;
                Ok::<_, LaunchFailure>(answer)
            };
            let answer = tokio::time::timeout(deadline, exchange)
                .await
                .map_err(|_| LaunchFailure::Timeout(deadline))??;
            if let Ok(mut seen) = seen.lock() {
                seen.extend_from_slice(line.as_bytes());
                seen.extend_from_slice(&answer);
            }
            let key = match &substitution {
                Some(s) => {
                    let forged = encode_line(&KeyReply::new(s.job_key));
                    decode_key_reply(forged.as_bytes()).map_err(LaunchFailure::Bootstrap)?
                }
                None => decode_key_reply(&answer).map_err(LaunchFailure::Bootstrap)?,
            };
            Ok(Launched {
                key,
                channel: Some(Box::new(to_job)),
                process: None,
            })
        })
    }
}
