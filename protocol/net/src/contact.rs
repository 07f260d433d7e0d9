//! The scheduler's contact file: where a running scheduler listens and its public key (SPEC.md
//! §9). The scheduler rewrites it at every start; a job that loses its scheduler re-reads it,
//! so a job launched before a restart reaches the restarted scheduler and its new key.
//!
//! Everything in it is public. Its trust comes from the file system alone: a job believes a
//! contact only from a regular file that it could have written itself (owned by the job's
//! user, in a directory owned by that user, neither writable by group or others), naming the
//! job's own workflow. Anyone who can write such a file is the workflow's owner, who can
//! already launch, stop and read every job. A file that fails a check is ignored and the job
//! keeps the contact it has ([`ContactError`] says why, for its log).

use std::fs;
use std::io::Read as _;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use protocol_core::{PublicKey, WorkflowId};
use serde::{Deserialize, Serialize};

/// Where a scheduler listens: public data, written by the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    /// Its workflow.
    pub workflow: WorkflowId,
    /// Its address.
    pub address: SocketAddr,
    /// Its public key (new at every start).
    pub scheduler_key: PublicKey,
    /// Its process id.
    pub pid: u32,
}

/// The file's format, version 1.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactFile {
    v: u8,
    workflow: WorkflowId,
    address: SocketAddr,
    scheduler_key: String,
    pid: u32,
}

/// The largest contact file read (a real one is about 160 bytes).
pub const MAX_CONTACT_FILE: u64 = 4096;

/// Why a contact file was not believed.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// It could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a regular file, or longer than [`MAX_CONTACT_FILE`].
    #[error("{path}: not a regular file of at most {MAX_CONTACT_FILE} bytes")]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// The file or its directory belongs to another user.
    #[error("{path}: owned by uid {uid}, not by this process's user {expected}")]
    NotOwned {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// This process's effective user.
        expected: u32,
    },
    /// Group or others can write the file or its directory.
    #[error("{path}: group or others can write it (mode {mode:o})")]
    TooOpen {
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not in the format above, or a key that is not a valid X25519 public key.
    #[error("{path}: malformed contact file")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// It is another workflow's scheduler.
    #[error("{path}: names workflow {found}, not {expected}")]
    OtherWorkflow {
        /// The file.
        path: PathBuf,
        /// The workflow it names.
        found: WorkflowId,
        /// The job's workflow.
        expected: WorkflowId,
    },
}

impl Contact {
    /// The file's bytes.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let file = ContactFile {
            v: 1,
            workflow: self.workflow.clone(),
            address: self.address,
            scheduler_key: self.scheduler_key.to_hex(),
            pid: self.pid,
        };
        serde_json::to_vec(&file).unwrap_or_default()
    }

    /// Parses the file's bytes; `None` when they are not a version-1 contact with a valid key.
    #[must_use]
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let f: ContactFile = serde_json::from_slice(bytes).ok()?;
        if f.v != 1 {
            return None;
        }
        Some(Self {
            workflow: f.workflow,
            address: f.address,
            scheduler_key: PublicKey::from_hex(&f.scheduler_key).ok()?,
            pid: f.pid,
        })
    }

    /// Reads the contact at `path` as a job does: only from a file and directory of this
    /// process's user that no one else can write, naming `workflow`.
    ///
    /// # Errors
    /// [`ContactError`], one variant per check.
    pub fn read_trusted(path: &Path, workflow: &WorkflowId) -> Result<Self, ContactError> {
        let io = |source| ContactError::Io {
            path: path.to_owned(),
            source,
        };
        // Not followed: a symbolic link could point anywhere its writer likes.
        let meta = fs::symlink_metadata(path).map_err(io)?;
        if !meta.file_type().is_file() || meta.len() > MAX_CONTACT_FILE {
            return Err(ContactError::NotAFile { path: path.to_owned() });
        }
        let expected = nix::unistd::geteuid().as_raw();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        for (p, meta) in [(dir, fs::metadata(dir).map_err(io)?), (path, meta.clone())] {
            if meta.uid() != expected {
                return Err(ContactError::NotOwned {
                    path: p.to_owned(),
                    uid: meta.uid(),
                    expected,
                });
            }
            let mode = meta.mode() & 0o7777;
            if mode & 0o022 != 0 {
                return Err(ContactError::TooOpen {
                    path: p.to_owned(),
                    mode,
                });
            }
        }
        // The file read is the file checked: a rename in between is noticed, and a file that
        // grows after the check is still read only up to the limit.
        let file = fs::File::open(path).map_err(io)?;
        let opened = file.metadata().map_err(io)?;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(ContactError::NotAFile { path: path.to_owned() });
        }
        let mut bytes = Vec::new();
        file.take(MAX_CONTACT_FILE).read_to_end(&mut bytes).map_err(io)?;
        let contact = Self::from_json(&bytes).ok_or_else(|| ContactError::Malformed { path: path.to_owned() })?;
        if &contact.workflow != workflow {
            return Err(ContactError::OtherWorkflow {
                path: path.to_owned(),
                found: contact.workflow,
                expected: workflow.clone(),
            });
        }
        Ok(contact)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn contact(workflow: &str) -> Contact {
        Contact {
            workflow: workflow.parse().expect("workflow"),
            address: "127.0.0.1:4242".parse().expect("address"),
            scheduler_key: protocol_core::StaticKeypair::generate_from_os().public(),
            pid: 7,
        }
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        dir
    }

    fn write(path: &Path, bytes: &[u8], mode: u32) {
        fs::write(path, bytes).expect("write");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_contact_round_trips_through_its_file_and_is_believed_from_a_private_file() {
        let dir = private_dir();
        let path = dir.path().join("contact.json");
        let c = contact("o/w");
        write(&path, &c.to_json(), 0o600);
        assert_eq!(Contact::from_json(&c.to_json()), Some(c.clone()));
        assert_eq!(Contact::read_trusted(&path, &c.workflow).expect("trusted"), c);
    }

    #[test]
    fn the_contact_file_spec_md_shows_is_the_one_the_scheduler_writes() {
        let spec = include_str!("../../SPEC.md");
        let line = spec
            .lines()
            .find(|l| l.starts_with("{\"v\":1,\"workflow\":\"~alice/wf\",\"address\""))
            .expect("SPEC.md §9 shows a contact file");
        let key = protocol_core::StaticKeypair::generate_from_os().public();
        let text = line.replace("<64 hex digits>", &key.to_hex());
        let parsed = Contact::from_json(text.as_bytes()).expect("SPEC.md's contact parses");
        assert_eq!(parsed.scheduler_key, key);
        assert_eq!(
            parsed.to_json(),
            text.as_bytes(),
            "written byte for byte as SPEC.md shows"
        );
    }

    #[test]
    fn a_contact_file_of_exactly_the_limit_is_read_whole_and_one_byte_more_is_refused() {
        let dir = private_dir();
        let path = dir.path().join("contact.json");
        let c = contact("o/w");
        let json = c.to_json();
        let limit = usize::try_from(MAX_CONTACT_FILE).expect("small");
        // Padding in front, so that the file's last byte is the JSON's closing brace.
        let mut padded = vec![b' '; limit - json.len()];
        padded.extend_from_slice(&json);
        write(&path, &padded, 0o600);
        assert_eq!(Contact::read_trusted(&path, &c.workflow).expect("exactly the limit"), c);
        padded.insert(0, b' ');
        write(&path, &padded, 0o600);
        let err = Contact::read_trusted(&path, &c.workflow).expect_err("one byte over");
        assert!(matches!(err, ContactError::NotAFile { .. }), "{err}");
    }

    #[test]
    fn a_contact_others_can_write_or_in_an_open_directory_is_not_believed() {
        let dir = private_dir();
        let path = dir.path().join("contact.json");
        let c = contact("o/w");
        write(&path, &c.to_json(), 0o620);
        let err = Contact::read_trusted(&path, &c.workflow).expect_err("group-writable file");
        assert!(
            matches!(err, ContactError::TooOpen { mode: 0o620, ref path } if path.ends_with("contact.json")),
            "{err}"
        );
        write(&path, &c.to_json(), 0o600);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = Contact::read_trusted(&path, &c.workflow).expect_err("world-writable directory");
        assert!(
            matches!(err, ContactError::TooOpen { mode: 0o777, ref path } if path == dir.path()),
            "{err}"
        );
    }

    #[test]
    fn a_contact_for_another_workflow_a_symlink_or_a_bad_key_is_not_believed() {
        let dir = private_dir();
        let path = dir.path().join("contact.json");
        let c = contact("o/other");
        write(&path, &c.to_json(), 0o600);
        let mine: WorkflowId = "o/w".parse().expect("workflow");
        let err = Contact::read_trusted(&path, &mine).expect_err("other workflow");
        assert!(
            matches!(err, ContactError::OtherWorkflow { ref found, .. } if *found == c.workflow),
            "{err}"
        );

        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        let err = Contact::read_trusted(&link, &c.workflow).expect_err("symlink");
        assert!(matches!(err, ContactError::NotAFile { .. }), "{err}");

        let low_order = String::from_utf8(c.to_json())
            .expect("utf-8")
            .replace(&c.scheduler_key.to_hex(), &"00".repeat(32));
        write(&path, low_order.as_bytes(), 0o600);
        let err = Contact::read_trusted(&path, &c.workflow).expect_err("all-zero key");
        assert!(matches!(err, ContactError::Malformed { .. }), "{err}");

        write(&path, &vec![b' '; 5000], 0o600);
        let err = Contact::read_trusted(&path, &c.workflow).expect_err("oversize");
        assert!(matches!(err, ContactError::NotAFile { .. }), "{err}");
        assert!(matches!(
            Contact::read_trusted(&dir.path().join("absent"), &c.workflow),
            Err(ContactError::Io { ref source, .. }) if source.kind() == std::io::ErrorKind::NotFound
        ));
    }
}
