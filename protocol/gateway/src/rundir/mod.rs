//! The scheduler run directory: how a UI server finds its owner's schedulers and how a
//! scheduler learns the UI server's public key, through files only the owner can write.
//!
//! ```text
//! RUNS/OWNER/NAME/           mode 0700 (NAME may hold '/': nested directories)
//!   contact.json             {"v":1,"workflow":"~o/n","address":"127.0.0.1:P","scheduler_key":"<hex>","pid":N}
//!   state.json               status, jobs, control, counters (rewritten when they change)
//!   events.jsonl             the scheduler's event log
//!   clients/uiserver.pub     the owner's current UI server's public key (64 hex digits)
//!   revoke/ID.req            an operator's revocation: "job ~o/n//1/t/01" or "client <hex>"
//!   revoke/ID.done           the scheduler's answer: "revoked" or "unknown"
//! ```
//!
//! Everything here is public data (addresses, public keys, states); no private key or token
//! is ever written. The trust comes from the file system: only the owner (and the hub's
//! operators, who act as root would in a real deployment) can write an owner's run
//! directories, so a key in `clients/` is the owner's UI server's, and the scheduler registers
//! it for the owner. A run directory that others can write is ignored.
//! The scheduler side lives in [`service`]; the UI server side is [`discover`] and [`RunDir`].

pub mod service;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol_core::scheduler::WorkflowControl;
use protocol_core::{JobId, Owner, PublicKey, WorkflowId};
use serde::{Deserialize, Serialize};

pub use service::{RunDirService, ServiceConfig};

/// Why a run directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not in its format.
    #[error("{path}: malformed")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// Others than the owner can write it.
    #[error("{path}: others can write it (mode {mode:o}); ignored")]
    TooOpen {
        /// The directory.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// The scheduler did not answer a revocation in time.
    #[error("the scheduler did not answer within {0:?}")]
    Timeout(Duration),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (a private temporary file, then a rename).
///
/// # Errors
/// [`RunDirError::Io`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunDirError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io(path))
}

/// Where a scheduler listens (the contact file's format lives with the job client, which
/// reads it after a scheduler restart).
pub use protocol_net::contact::Contact;

/// A workflow's status as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The scheduler runs.
    Running,
    /// Paused: no new jobs.
    Paused,
    /// Asked to stop.
    Stopping,
    /// No scheduler runs.
    Stopped,
}

impl Status {
    /// What a run directory says: stopped without a contact file, otherwise the state file's
    /// status (running if it has none yet).
    #[must_use]
    pub fn of(run: &RunDir) -> Self {
        match run.read_contact() {
            Ok(Some(_)) => run.read_state().ok().flatten().map_or(Self::Running, |s| s.status),
            _ => Self::Stopped,
        }
    }

    /// The name the UI shows (`running`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }
}

/// One job in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobView {
    /// The job.
    pub id: JobId,
    /// Its state's name.
    pub state: String,
}

/// What a scheduler publishes about its workflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowState {
    /// Format version, 1.
    pub v: u8,
    /// The workflow.
    pub workflow: WorkflowId,
    /// Its status.
    pub status: Status,
    /// Its jobs.
    pub jobs: Vec<JobView>,
    /// Jobs launching, submitted or running.
    pub live_jobs: u64,
    /// The cap on live jobs, if any.
    pub max_live_jobs: Option<u32>,
    /// What commands have done.
    pub control: WorkflowControl,
    /// Messages rejected by the acceptance pipeline so far.
    pub rejected: u64,
    /// Job keys revoked by operators.
    pub revoked_jobs: Vec<JobId>,
    /// Client keys revoked (by operators, or replaced).
    pub revoked_clients: Vec<String>,
}

/// A revocation an operator asks a scheduler for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Revocation {
    /// A job's key.
    Job(JobId),
    /// A UI server's client key.
    Client(PublicKey),
}

impl Revocation {
    fn line(&self) -> String {
        match self {
            Self::Job(j) => format!("job {j}\n"),
            Self::Client(k) => format!("client {}\n", k.to_hex()),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let (kind, value) = text.trim_end_matches('\n').split_once(' ')?;
        match kind {
            "job" => value.parse().ok().map(Self::Job),
            "client" => PublicKey::from_hex(value).ok().map(Self::Client),
            _ => None,
        }
    }
}

/// One scheduler run directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunDir {
    path: PathBuf,
}

/// The name of the UI server's key file in `clients/`.
pub const CLIENT_KEY_FILE: &str = "uiserver.pub";

impl RunDir {
    /// The run directory at `path` (nothing is checked or created).
    #[must_use]
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// `RUNS/OWNER/NAME` for a workflow.
    #[must_use]
    pub fn of(runs: &Path, workflow: &WorkflowId) -> Self {
        Self::at(runs.join(workflow.owner().as_str()).join(workflow.name()))
    }

    /// Creates the directory and its subdirectories, mode 0700.
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn create(&self) -> Result<(), RunDirError> {
        for dir in [self.path.clone(), self.path.join("clients"), self.path.join("revoke")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io(&dir))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
        }
        Ok(())
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The event log's path.
    #[must_use]
    pub fn event_log(&self) -> PathBuf {
        self.path.join("events.jsonl")
    }

    /// Refuses a directory group or others can write.
    ///
    /// # Errors
    /// [`RunDirError::TooOpen`] or [`RunDirError::Io`].
    pub fn check_private(&self) -> Result<(), RunDirError> {
        let mode = fs::metadata(&self.path).map_err(io(&self.path))?.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(RunDirError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Publishes the scheduler's contact.
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn write_contact(&self, c: &Contact) -> Result<(), RunDirError> {
        write_atomic(&self.path.join("contact.json"), &c.to_json())
    }

    /// The scheduler's contact, or `None` when no scheduler runs.
    ///
    /// # Errors
    /// [`RunDirError::Io`] or [`RunDirError::Malformed`].
    pub fn read_contact(&self) -> Result<Option<Contact>, RunDirError> {
        let path = self.path.join("contact.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        Contact::from_json(&bytes)
            .map(Some)
            .ok_or(RunDirError::Malformed { path })
    }

    /// Removes the contact (the scheduler stopped).
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn remove_contact(&self) -> Result<(), RunDirError> {
        let path = self.path.join("contact.json");
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(()),
        }
    }

    /// Publishes the workflow's state.
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn write_state(&self, s: &WorkflowState) -> Result<(), RunDirError> {
        let text = serde_json::to_vec(s).unwrap_or_default();
        write_atomic(&self.path.join("state.json"), &text)
    }

    /// The workflow's last published state.
    ///
    /// # Errors
    /// [`RunDirError::Io`] or [`RunDirError::Malformed`].
    pub fn read_state(&self) -> Result<Option<WorkflowState>, RunDirError> {
        let path = self.path.join("state.json");
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| RunDirError::Malformed { path }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Publishes the owner's UI server key.
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn write_client_key(&self, key: &PublicKey) -> Result<(), RunDirError> {
        let dir = self.path.join("clients");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        write_atomic(&dir.join(CLIENT_KEY_FILE), format!("{}\n", key.to_hex()).as_bytes())
    }

    /// Removes the UI server key if it is still `key` (a newer instance may have replaced it).
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn remove_client_key(&self, key: &PublicKey) -> Result<(), RunDirError> {
        let path = self.path.join("clients").join(CLIENT_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) if text.trim() == key.to_hex() => fs::remove_file(&path).map_err(io(&path)),
            _ => Ok(()),
        }
    }

    /// Every key in `clients/` (files that are not a valid key are skipped).
    #[must_use]
    pub fn client_keys(&self) -> Vec<PublicKey> {
        let Ok(entries) = fs::read_dir(self.path.join("clients")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pub"))
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .filter_map(|t| PublicKey::from_hex(t.trim()).ok())
            .collect()
    }

    /// Asks the scheduler for a revocation; returns the request's id.
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn request_revocation(&self, r: &Revocation) -> Result<String, RunDirError> {
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let id = hex::encode(nonce);
        let dir = self.path.join("revoke");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        write_atomic(&dir.join(format!("{id}.req")), r.line().as_bytes())?;
        Ok(id)
    }

    /// Waits for the scheduler's answer to request `id`: whether anything was revoked.
    ///
    /// # Errors
    /// [`RunDirError::Timeout`] or [`RunDirError::Io`].
    pub async fn await_revocation(&self, id: &str, limit: Duration) -> Result<bool, RunDirError> {
        let done = self.path.join("revoke").join(format!("{id}.done"));
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match fs::read_to_string(&done) {
                Ok(text) => {
                    let _ = fs::remove_file(&done);
                    return Ok(text.trim() == "revoked");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&done)(e)),
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = fs::remove_file(self.path.join("revoke").join(format!("{id}.req")));
                return Err(RunDirError::Timeout(limit));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pending requests (scheduler side): id and parsed request (`None` if malformed).
    #[must_use]
    pub fn pending_revocations(&self) -> Vec<(String, Option<Revocation>)> {
        let Ok(entries) = fs::read_dir(self.path.join("revoke")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".req")?;
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                let parsed = fs::read_to_string(e.path()).ok().and_then(|t| Revocation::parse(&t));
                Some((id.to_owned(), parsed))
            })
            .collect()
    }

    /// Answers request `id` (scheduler side).
    ///
    /// # Errors
    /// [`RunDirError::Io`].
    pub fn answer_revocation(&self, id: &str, revoked: bool) -> Result<(), RunDirError> {
        let dir = self.path.join("revoke");
        write_atomic(
            &dir.join(format!("{id}.done")),
            if revoked { b"revoked\n" } else { b"unknown\n" },
        )?;
        let req = dir.join(format!("{id}.req"));
        fs::remove_file(&req).map_err(io(&req))
    }
}

/// The workflows of `owner` under `runs`: every directory below `RUNS/OWNER` (up to 8 levels)
/// holding a `contact.json` or `state.json`, whose path is a valid workflow name, and which
/// others cannot write. Sorted by name.
#[must_use]
pub fn discover(runs: &Path, owner: &Owner) -> Vec<(WorkflowId, RunDir)> {
    let root = runs.join(owner.as_str());
    let mut found = Vec::new();
    let mut stack = vec![(root.clone(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        if dir != root && (dir.join("contact.json").exists() || dir.join("state.json").exists()) {
            let name = dir.strip_prefix(&root).ok().and_then(Path::to_str).map(str::to_owned);
            let run = RunDir::at(dir.clone());
            if let Some(name) = name
                && let Ok(id) = WorkflowId::new(owner.as_str(), &name)
                && run.check_private().is_ok()
            {
                found.push((id, run));
            }
            continue;
        }
        if depth >= 8 {
            continue;
        }
        for e in entries.filter_map(Result::ok) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(name: &str) -> WorkflowId {
        WorkflowId::new("atmosphere_stage", name).expect("valid")
    }

    #[test]
    fn contacts_states_and_keys_round_trip() {
        let tmp = tempfile::tempdir().expect("tmp");
        let run = RunDir::of(tmp.path(), &wf("clouds"));
        run.create().expect("create");
        run.check_private().expect("0700");
        assert_eq!(run.read_contact().expect("read"), None);
        let key = protocol_core::StaticKeypair::generate_from_os().public();
        let c = Contact {
            workflow: wf("clouds"),
            address: "127.0.0.1:5000".parse().expect("addr"),
            scheduler_key: key,
            pid: 7,
        };
        run.write_contact(&c).expect("write");
        assert_eq!(run.read_contact().expect("read"), Some(c));
        run.write_client_key(&key).expect("client");
        assert_eq!(run.client_keys(), [key]);
        let other = protocol_core::StaticKeypair::generate_from_os().public();
        run.remove_client_key(&other).expect("not ours: kept");
        assert_eq!(run.client_keys(), [key]);
        run.remove_client_key(&key).expect("ours: removed");
        assert!(run.client_keys().is_empty());
        run.remove_contact().expect("remove");
        assert_eq!(run.read_contact().expect("read"), None);
    }

    #[test]
    fn discovery_finds_nested_private_run_dirs_and_ignores_open_or_misnamed_ones() {
        let tmp = tempfile::tempdir().expect("tmp");
        let owner = Owner::new("atmosphere_stage").expect("valid");
        for name in ["clouds", "winds/high"] {
            let run = RunDir::of(tmp.path(), &wf(name));
            run.create().expect("create");
            std::fs::write(run.path().join("state.json"), "{}").expect("state");
        }
        let open = tmp.path().join("atmosphere_stage/open");
        std::fs::create_dir_all(&open).expect("dir");
        std::fs::write(open.join("contact.json"), "{}").expect("contact");
        std::fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
        let bad = tmp.path().join("atmosphere_stage/.hidden");
        std::fs::create_dir_all(&bad).expect("dir");
        std::fs::write(bad.join("contact.json"), "{}").expect("contact");
        let names: Vec<String> = discover(tmp.path(), &owner)
            .into_iter()
            .map(|(id, _)| id.name().to_owned())
            .collect();
        assert_eq!(names, ["clouds", "winds/high"]);
        assert!(discover(tmp.path(), &Owner::new("nobody").expect("valid")).is_empty());
    }

    #[test]
    fn revocation_requests_are_parsed_answered_and_awaited() {
        let tmp = tempfile::tempdir().expect("tmp");
        let run = RunDir::of(tmp.path(), &wf("clouds"));
        run.create().expect("create");
        let job: JobId = "~atmosphere_stage/clouds//1/a/01".parse().expect("job");
        let id = run.request_revocation(&Revocation::Job(job.clone())).expect("request");
        std::fs::write(run.path().join("revoke/zz.req"), "job x").expect("ignored name");
        std::fs::write(run.path().join("revoke/abcd.req"), "nonsense").expect("malformed");
        let mut pending = run.pending_revocations();
        pending.sort();
        let mut expected = vec![("abcd".to_owned(), None), (id.clone(), Some(Revocation::Job(job)))];
        expected.sort();
        assert_eq!(pending, expected);
        run.answer_revocation(&id, true).expect("answer");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        let got = rt.block_on(run.await_revocation(&id, Duration::from_secs(1)));
        assert!(matches!(got, Ok(true)));
        let late = rt.block_on(run.await_revocation("ffff", Duration::from_millis(30)));
        assert!(matches!(late, Err(RunDirError::Timeout(_))));
    }
}
