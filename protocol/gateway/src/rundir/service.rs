//! The scheduler's side of its run directory: publishes its contact and state, registers the
//! owner's UI server key found in `clients/` (and revokes a key that is removed or replaced),
//! and applies operators' revocation requests, polling every few tens of milliseconds.

use std::collections::BTreeSet;
use std::time::Duration;

use protocol_core::scheduler::ClientRegistrationError;
use protocol_core::{JobId, PublicKey, WorkflowId};
use protocol_net::{SchedulerHandle, ServerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Contact, JobView, RunDir, RunDirError, Status, WorkflowState};
use crate::logging::Log;

/// How the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceConfig {
    /// How often to look at `clients/` and `revoke/` and refresh the state file.
    pub poll: Duration,
    /// The scheduler's cap on live jobs (published in the state file).
    pub max_live_jobs: Option<u32>,
}

impl Default for ServiceConfig {
    /// Every 50 ms, no cap.
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(50),
            max_live_jobs: None,
        }
    }
}

/// A running run-directory service.
#[derive(Debug)]
pub struct RunDirService {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    run: RunDir,
}

struct Worker {
    run: RunDir,
    workflow: WorkflowId,
    handle: SchedulerHandle,
    config: ServiceConfig,
    log: Log,
    registered: BTreeSet<PublicKey>,
    revoked_jobs: BTreeSet<JobId>,
    revoked_clients: BTreeSet<PublicKey>,
    last: Option<WorkflowState>,
}

impl RunDirService {
    /// Creates the run directory (0700), publishes `contact`, registers any UI server key
    /// already there, and starts polling.
    ///
    /// # Errors
    /// [`RunDirError`] if the directory cannot be made or written.
    pub async fn start(
        run: RunDir,
        contact: Contact,
        handle: SchedulerHandle,
        config: ServiceConfig,
        log: Log,
    ) -> Result<Self, RunDirError> {
        run.create()?;
        let mut worker = Worker {
            run: run.clone(),
            workflow: contact.workflow.clone(),
            handle,
            config,
            log,
            registered: BTreeSet::new(),
            revoked_jobs: BTreeSet::new(),
            revoked_clients: BTreeSet::new(),
            last: None,
        };
        worker.tick().await;
        run.write_contact(&contact)?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(worker.config.poll) => worker.tick().await,
                }
            }
            worker.finish().await;
        });
        Ok(Self { task, stop, run })
    }

    /// The run directory.
    #[must_use]
    pub const fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// Stops polling, publishes the final state as stopped and removes the contact.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Worker {
    async fn tick(&mut self) {
        if let Err(e) = self.step().await {
            self.log
                .line(&format!("run directory {}: {e}", self.run.path().display()));
        }
    }

    async fn step(&mut self) -> Result<(), ServerError> {
        self.sync_clients().await?;
        self.revocations().await?;
        let state = self.state(None).await?;
        if self.last.as_ref() != Some(&state) {
            if let Err(e) = self.run.write_state(&state) {
                self.log.line(&format!("cannot write state: {e}"));
            }
            self.last = Some(state);
        }
        Ok(())
    }

    async fn sync_clients(&mut self) -> Result<(), ServerError> {
        let present: BTreeSet<PublicKey> = self.run.client_keys().into_iter().collect();
        for key in present.difference(&self.registered.clone()) {
            match self.handle.register_client(*key, self.workflow.owner().clone()).await {
                Ok(_) => self.log.line(&format!("registered UI server key {}", short(key))),
                // Known already (restored from the event log, or revoked): never re-enabled.
                Err(ServerError::Client(ClientRegistrationError::DuplicateKey)) => {}
                Err(ServerError::Client(e)) => {
                    self.log.line(&format!("refused UI server key {}: {e}", short(key)));
                }
                Err(e) => return Err(e),
            }
            self.registered.insert(*key);
        }
        for key in self.registered.difference(&present).copied().collect::<Vec<_>>() {
            self.handle.revoke_client(key).await?;
            self.revoked_clients.insert(key);
            self.registered.remove(&key);
            self.log
                .line(&format!("revoked UI server key {} (removed)", short(&key)));
        }
        Ok(())
    }

    async fn revocations(&mut self) -> Result<(), ServerError> {
        for (id, request) in self.run.pending_revocations() {
            let revoked = match request {
                Some(super::Revocation::Job(job)) if job.workflow() == &self.workflow => {
                    let done = self.handle.revoke(job.clone()).await?;
                    if done {
                        self.revoked_jobs.insert(job);
                    }
                    done
                }
                Some(super::Revocation::Client(key)) => {
                    let done = self.handle.revoke_client(key).await?;
                    if done {
                        self.revoked_clients.insert(key);
                    }
                    done
                }
                _ => false,
            };
            self.log.line(&format!(
                "revocation request {id}: {}",
                if revoked { "revoked" } else { "unknown" }
            ));
            if let Err(e) = self.run.answer_revocation(&id, revoked) {
                self.log.line(&format!("cannot answer revocation {id}: {e}"));
            }
        }
        Ok(())
    }

    async fn state(&self, status: Option<Status>) -> Result<WorkflowState, ServerError> {
        let jobs = self.handle.jobs().await?;
        let control = self.handle.control().await?;
        let stats = self.handle.stats();
        let status = status.unwrap_or(if control.stopping {
            Status::Stopping
        } else if control.paused {
            Status::Paused
        } else {
            Status::Running
        });
        Ok(WorkflowState {
            v: 1,
            workflow: self.workflow.clone(),
            status,
            live_jobs: jobs.iter().filter(|(_, s)| !s.is_terminal()).count() as u64,
            jobs: jobs
                .into_iter()
                .map(|(id, s)| JobView {
                    id,
                    state: s.name().to_owned(),
                })
                .collect(),
            max_live_jobs: self.config.max_live_jobs,
            control,
            rejected: stats.rejected,
            revoked_jobs: self.revoked_jobs.iter().cloned().collect(),
            revoked_clients: self.revoked_clients.iter().map(PublicKey::to_hex).collect(),
        })
    }

    async fn finish(&mut self) {
        if let Ok(state) = self.state(Some(Status::Stopped)).await {
            let _ = self.run.write_state(&state);
        } else if let Some(mut last) = self.last.take() {
            last.status = Status::Stopped;
            let _ = self.run.write_state(&last);
        }
        let _ = self.run.remove_contact();
    }
}

fn short(key: &PublicKey) -> String {
    key.to_hex().chars().take(12).collect()
}
