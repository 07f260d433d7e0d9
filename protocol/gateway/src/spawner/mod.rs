//! Spawning UI servers on demand (the hub design notes, "Hub remote spawning of UI Servers"; story S09).
//!
//! [`SpawnPolicy`] is the sans-IO decision: the only thing a request contributes is an owner
//! name, which must be a valid account name ([`Owner`]: `[a-z_][a-z0-9_-]{0,31}`, so never an
//! option, a path or anything a shell would interpret) *and* one of the configured owners. The
//! command is the configured absolute program and its fixed arguments, then `--owner OWNER`;
//! nothing else from a request ever reaches it.
//!
//! A [`UiLauncher`] starts an instance: [`ProcessUiLauncher`] runs a real child process (with
//! an empty environment) and performs the [rendezvous](crate::rendezvous) on its pipes;
//! the test kit's `InProcessLauncher` starts one in this process (tests, harnesses).

mod process;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;

use protocol_core::{Owner, PublicKey};

pub use process::ProcessUiLauncher;

use crate::assertion::HubKey;
use crate::rendezvous::RendezvousError;

/// Why a UI server was not spawned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SpawnError {
    /// The requested owner is not a valid account name (an injection attempt, or a typo).
    #[error("not a valid owner name")]
    InvalidOwner,
    /// The owner is valid but not one this hub serves.
    #[error("not an owner this hub serves")]
    UnknownOwner,
    /// The configured program is not an absolute path (no search path is ever consulted).
    #[error("the UI server program must be an absolute path: {0}")]
    ProgramNotAbsolute(PathBuf),
    /// The configured fixed arguments already name an owner.
    #[error("the UI server's fixed arguments must not contain --owner")]
    OwnerInFixedArgs,
    /// The process could not be started.
    #[error("could not start the UI server: {0}")]
    Start(String),
    /// The rendezvous failed.
    #[error(transparent)]
    Rendezvous(#[from] RendezvousError),
    /// The UI server exited before it was ready.
    #[error("the UI server exited during start-up")]
    Exited,
}

/// What the hub may run, decided without I/O.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpawnPolicy {
    program: PathBuf,
    args: Vec<String>,
    owners: BTreeSet<Owner>,
}

/// A command the policy allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpawnCommand {
    /// The configured program.
    pub program: PathBuf,
    /// The configured arguments, then `--owner OWNER`.
    pub args: Vec<String>,
    /// The owner it runs for.
    pub owner: Owner,
}

impl SpawnPolicy {
    /// The configured program (absolute), fixed arguments and owners.
    ///
    /// # Errors
    /// [`SpawnError::ProgramNotAbsolute`] or [`SpawnError::OwnerInFixedArgs`].
    pub fn new(program: PathBuf, args: Vec<String>, owners: BTreeSet<Owner>) -> Result<Self, SpawnError> {
        if !program.is_absolute() {
            return Err(SpawnError::ProgramNotAbsolute(program));
        }
        if args.iter().any(|a| a == "--owner" || a.starts_with("--owner=")) {
            return Err(SpawnError::OwnerInFixedArgs);
        }
        Ok(Self { program, args, owners })
    }

    /// The owners served.
    #[must_use]
    pub const fn owners(&self) -> &BTreeSet<Owner> {
        &self.owners
    }

    /// Validates a requested owner name.
    ///
    /// # Errors
    /// [`SpawnError::InvalidOwner`] or [`SpawnError::UnknownOwner`].
    pub fn owner(&self, requested: &str) -> Result<Owner, SpawnError> {
        owner_in(&self.owners, requested)
    }

    /// The command for a requested owner name.
    ///
    /// # Errors
    /// As [`SpawnPolicy::owner`].
    pub fn command_for(&self, requested: &str) -> Result<SpawnCommand, SpawnError> {
        let owner = self.owner(requested)?;
        let mut args = self.args.clone();
        args.push("--owner".into());
        args.push(owner.as_str().to_owned());
        Ok(SpawnCommand {
            program: self.program.clone(),
            args,
            owner,
        })
    }
}

/// Validates `requested` against the account-name rules and the set of owners served.
///
/// # Errors
/// [`SpawnError::InvalidOwner`] or [`SpawnError::UnknownOwner`].
pub fn owner_in(owners: &BTreeSet<Owner>, requested: &str) -> Result<Owner, SpawnError> {
    let owner = Owner::new(requested).map_err(|_| SpawnError::InvalidOwner)?;
    if !owners.contains(&owner) {
        return Err(SpawnError::UnknownOwner);
    }
    Ok(owner)
}

/// A running UI server, as the hub sees it.
pub trait UiInstance: Send + Sync + fmt::Debug {
    /// Where it listens.
    fn address(&self) -> SocketAddr;
    /// Its public key for schedulers.
    fn client_key(&self) -> PublicKey;
    /// Its process id, if it is a process.
    fn pid(&self) -> Option<u32>;
    /// Whether it has stopped (without waiting).
    fn has_exited(&mut self) -> bool;
    /// Stops it (if it has not stopped) and waits until it has.
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// A boxed launch.
pub type LaunchFuture = Pin<Box<dyn Future<Output = Result<Box<dyn UiInstance>, SpawnError>> + Send>>;

/// Starts UI servers.
pub trait UiLauncher: Send + Sync + fmt::Debug + 'static {
    /// Starts `owner`'s UI server, handing it `hub_key`.
    fn launch(&self, owner: Owner, hub_key: HubKey) -> LaunchFuture;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SpawnPolicy {
        SpawnPolicy::new(
            PathBuf::from("/usr/bin/threatcheck"),
            vec!["uiserver".into(), "--policy".into(), "/etc/threatcheck/policy".into()],
            BTreeSet::from([
                Owner::new("atmosphere_stage").expect("valid"),
                Owner::new("oceans_stage").expect("valid"),
            ]),
        )
        .expect("policy")
    }

    #[test]
    fn a_known_owner_gets_the_configured_command_and_nothing_else() {
        let cmd = policy().command_for("atmosphere_stage").expect("allowed");
        assert_eq!(cmd.program, PathBuf::from("/usr/bin/threatcheck"));
        assert_eq!(
            cmd.args,
            [
                "uiserver",
                "--policy",
                "/etc/threatcheck/policy",
                "--owner",
                "atmosphere_stage"
            ]
        );
    }

    #[test]
    fn injections_through_the_owner_name_are_refused() {
        let p = policy();
        for attempt in [
            "atmosphere_stage --policy /tmp/evil",
            "--policy=/tmp/evil",
            "-x",
            "../oceans_stage",
            "/bin/sh",
            "atmosphere_stage;rm -rf /",
            "$(id)",
            "`id`",
            "a|b",
            "Atmosphere_stage",
            "atmosphere_stage\n",
            "atmosphere_stage\0",
            "",
            "ａtmosphere_stage",
            &"a".repeat(33),
        ] {
            assert_eq!(p.command_for(attempt), Err(SpawnError::InvalidOwner), "{attempt:?}");
        }
        assert_eq!(p.command_for("mallory"), Err(SpawnError::UnknownOwner));
        assert_eq!(p.command_for("root"), Err(SpawnError::UnknownOwner));
    }

    #[test]
    fn the_configuration_itself_is_checked() {
        assert_eq!(
            SpawnPolicy::new(PathBuf::from("threatcheck"), vec![], BTreeSet::new()),
            Err(SpawnError::ProgramNotAbsolute(PathBuf::from("threatcheck")))
        );
        assert_eq!(
            SpawnPolicy::new(
                PathBuf::from("/bin/threatcheck"),
                vec!["--owner=root".into()],
                BTreeSet::new()
            ),
            Err(SpawnError::OwnerInFixedArgs)
        );
    }
}
