//! Commands from UI servers: their keys, their own acceptance pipeline and the effects of the
//! operations they may ask for.
//!
//! A UI server connects with the same Noise IK handshake as a job, with a key the scheduler's
//! operator registered for it. The pipeline reuses the named checks: the key must be a
//! registered client key (`authenticated-key`), a client may send only commands and a job only
//! job messages (`allowed-type`), sequence numbers are per client (`fresh-sequence`), and the
//! target must name something in the workflow (`valid-transition`). The acting person comes
//! from the authenticated UI server, which has applied the authorisation engine and written
//! the audit record before sending.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{KeyStatus, MessageDigest, SchedulerCore};
use crate::checks::Check;
use crate::ids::Owner;
use crate::keys::{KEY_LEN, PublicKey, validate_public_key};
use crate::wire::{ClientCommand, CommandOp, Message};

use super::types::{Accepted, Event, Rejected};

/// A registered UI server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ClientRecord {
    pub owner: Owner,
    pub status: KeyStatus,
    pub last_seq: u64,
    pub window: BTreeMap<u64, MessageDigest>,
}

/// What commands have done to the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct WorkflowControl {
    /// The workflow is paused: no new jobs are launched.
    pub paused: bool,
    /// The workflow has been asked to stop.
    pub stopping: bool,
    /// Held tasks (`cycle/task`) or cycles.
    pub held: BTreeSet<String>,
    /// How many commands have been applied.
    pub commands: u64,
}

impl SchedulerCore {
    /// Registers the key of a UI server acting for `owner`'s workflows. Keys are validated and
    /// unique across jobs and clients.
    ///
    /// # Errors
    /// [`ClientRegistrationError`] naming the check that fired.
    pub fn register_client(&mut self, key: [u8; KEY_LEN], owner: Owner) -> Result<PublicKey, ClientRegistrationError> {
        let key = if self.defences.is_on(Check::KeyValidation) {
            validate_public_key(&key).map_err(ClientRegistrationError::BadKey)?
        } else {
            PublicKey::from_trusted_bytes(key)
        };
        if self.defences.is_on(Check::UniqueKey)
            && (self.registry.contains_key(&key) || self.clients.contains_key(&key))
        {
            return Err(ClientRegistrationError::DuplicateKey);
        }
        self.clients.insert(
            key,
            ClientRecord {
                owner: owner.clone(),
                status: KeyStatus::Active,
                last_seq: 0,
                window: BTreeMap::new(),
            },
        );
        self.events.push_back(Event::ClientRegistered { client: owner, key });
        Ok(key)
    }

    /// Revokes a UI server's key. Returns whether it was registered.
    pub fn revoke_client(&mut self, key: &PublicKey) -> bool {
        let Some(record) = self.clients.get_mut(key) else {
            return false;
        };
        record.status = KeyStatus::Revoked;
        self.events.push_back(Event::ClientRevoked { key: *key });
        true
    }

    /// The owner a client key belongs to, and whether it is still usable.
    #[must_use]
    pub fn client(&self, key: &PublicKey) -> Option<(&Owner, bool)> {
        self.clients.get(key).map(|c| (&c.owner, c.status == KeyStatus::Active))
    }

    /// What commands have done so far.
    #[must_use]
    pub const fn control(&self) -> &WorkflowControl {
        &self.control
    }

    /// The client pipeline, for a message whose key is a registered client key.
    pub(super) fn handle_client_message(&mut self, peer: &PublicKey, message: Message) -> Result<Accepted, Rejected> {
        let Some(record) = self.clients.get(peer) else {
            return Err(Rejected::UnknownKey(*peer));
        };
        let client = record.owner.clone();
        if record.status == KeyStatus::Revoked && self.defences.is_on(Check::AuthenticatedKey) {
            return Err(Rejected::RevokedClient { client });
        }
        let Message::Command(command) = message else {
            return Err(Rejected::JobMessageFromClient { client });
        };
        let digest = super::digest_bytes(&Message::Command(command.clone()).to_bytes());
        if self.defences.is_on(Check::FreshSequence) {
            let expected = record.last_seq.saturating_add(1);
            if command.seq != expected {
                if command.seq < expected && record.window.get(&command.seq) == Some(&digest) {
                    return Ok(Accepted::CommandDuplicate {
                        client,
                        seq: command.seq,
                    });
                }
                return Err(Rejected::ClientSequence {
                    client,
                    expected,
                    got: command.seq,
                });
            }
        }
        if self.defences.is_on(Check::ValidTransition) && !self.target_exists(&command.target) {
            return Err(Rejected::UnknownTarget {
                client,
                target: command.target,
            });
        }
        self.apply_command(peer, &client, &command, digest);
        Ok(Accepted::Command {
            client,
            seq: command.seq,
        })
    }

    /// `*`, a cycle point with at least one job, or `cycle/task` naming a job's task.
    fn target_exists(&self, target: &str) -> bool {
        target == "*"
            || self.jobs.keys().any(|id| {
                target == id.cycle()
                    || target
                        .split_once('/')
                        .is_some_and(|(cycle, task)| cycle == id.cycle() && task == id.task())
            })
    }

    pub(super) fn apply_command(
        &mut self,
        peer: &PublicKey,
        client: &Owner,
        command: &ClientCommand,
        digest: MessageDigest,
    ) {
        let window = self.config.dedup_window;
        if let Some(record) = self.clients.get_mut(peer) {
            record.last_seq = record.last_seq.max(command.seq);
            record.window.insert(command.seq, digest);
            while record.window.len() as u64 > window {
                record.window.pop_first();
            }
        }
        let control = &mut self.control;
        control.commands += 1;
        match command.op {
            CommandOp::Pause => control.paused = true,
            CommandOp::Resume => control.paused = false,
            CommandOp::Stop => control.stopping = true,
            CommandOp::Hold => {
                control.held.insert(command.target.clone());
            }
            CommandOp::Release => {
                control.held.remove(&command.target);
            }
            // The reference scheduler records these; acting on them (signalling a job host,
            // re-reading a definition) belongs to a real workflow engine.
            CommandOp::Kill
            | CommandOp::Trigger
            | CommandOp::Poll
            | CommandOp::Broadcast
            | CommandOp::Reload
            | CommandOp::EditTrigger => {}
        }
        self.events.push_back(Event::Commanded {
            key: *peer,
            client: client.clone(),
            actor: command.actor.clone(),
            op: command.op,
            target: command.target.clone(),
            seq: command.seq,
        });
    }
}

/// Why a UI server's key was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ClientRegistrationError {
    /// The key is non-canonical or of low order (`key-validation`).
    #[error("client key refused: {0}")]
    BadKey(crate::keys::KeyError),
    /// The key is already registered to a job or a client (`unique-key`).
    #[error("client key is already registered")]
    DuplicateKey,
}

impl ClientRegistrationError {
    /// The check that fired.
    #[must_use]
    pub const fn check(&self) -> Check {
        match self {
            Self::BadKey(_) => Check::KeyValidation,
            Self::DuplicateKey => Check::UniqueKey,
        }
    }
}
