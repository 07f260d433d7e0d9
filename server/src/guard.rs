//! The refusal to run a server compiled against the verification build of the protocol
//! crates (their `weaken` feature, which a workspace-wide cargo build unifies in).

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;

/// The environment variable a test of a workspace-wide build sets (to `1`) to run this binary
/// although it was compiled with removable defences. Nothing deployed sets it; a deployment
/// builds the binary on its own graph, where the question does not arise.
pub const ALLOW_VERIFICATION_BUILD: &str = "THREATCHECK_ALLOW_VERIFICATION_BUILD";

/// `--version`: says which build this is.
pub const VERSION: &str = if WEAKENED.is_empty() {
    concat!(env!("CARGO_PKG_VERSION"), " (production build: no removable defence)")
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (VERIFICATION BUILD: compiled with removable defences; not for deployment)"
    )
};

/// The protocol crates of this binary that were compiled with `weaken`.
const WEAKENED: &[&str] = &{
    const N: usize = protocol_core::WEAKEN_COMPILED as usize
        + protocol_net::WEAKEN_COMPILED as usize
        + protocol_people::WEAKEN_COMPILED as usize
        + protocol_gateway::WEAKEN_COMPILED as usize;
    let all = [
        ("protocol-core", protocol_core::WEAKEN_COMPILED),
        ("protocol-net", protocol_net::WEAKEN_COMPILED),
        ("protocol-people", protocol_people::WEAKEN_COMPILED),
        ("protocol-gateway", protocol_gateway::WEAKEN_COMPILED),
    ];
    let mut out = [""; N];
    let (mut i, mut j) = (0, 0);
    while i < all.len() {
        if all[i].1 {
            out[j] = all[i].0;
            j += 1;
        }
        i += 1;
    }
    out
};

/// Why the binary will not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationBuild {
    crates: &'static [&'static str],
}

impl fmt::Display for VerificationBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this binary was compiled with removable defences (the `weaken` feature of {}), as a \
             workspace-wide cargo build does; it is not a server to deploy. Build it on its own: \
             `cargo build --release -p threatcheck-server` (tests of the workspace build set {}=1)",
            self.crates.join(", "),
            ALLOW_VERIFICATION_BUILD
        )
    }
}

impl std::error::Error for VerificationBuild {}

/// `Ok` for a production build, or for a verification build whose environment sets
/// [`ALLOW_VERIFICATION_BUILD`] to exactly `1`.
pub fn check(allow: Option<&OsStr>) -> Result<(), VerificationBuild> {
    refuse(WEAKENED, allow)
}

fn refuse(weakened: &'static [&'static str], allow: Option<&OsStr>) -> Result<(), VerificationBuild> {
    if weakened.is_empty() || allow == Some(OsStr::new("1")) {
        Ok(())
    } else {
        Err(VerificationBuild { crates: weakened })
    }
}

/// The program and arguments that start `exe` with `args` in an empty environment (as the hub
/// spawns UI servers): `exe` itself in a production build; through `/usr/bin/env` with
/// [`ALLOW_VERIFICATION_BUILD`] set in a verification build this process was allowed to run as.
pub fn spawn_through_env(exe: PathBuf, args: Vec<String>) -> (PathBuf, Vec<String>) {
    if WEAKENED.is_empty() {
        return (exe, args);
    }
    let mut wrapped = vec![
        format!("{ALLOW_VERIFICATION_BUILD}=1"),
        exe.to_string_lossy().into_owned(),
    ];
    wrapped.extend(args);
    (PathBuf::from("/usr/bin/env"), wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_production_build_runs_whatever_the_environment_says() {
        assert_eq!(refuse(&[], None), Ok(()));
        assert_eq!(refuse(&[], Some(OsStr::new("0"))), Ok(()));
    }

    #[test]
    fn a_verification_build_refuses_unless_the_environment_allows_it_exactly() {
        let err = refuse(&["protocol-core"], None).expect_err("refused");
        assert!(err.to_string().contains("protocol-core"), "{err}");
        assert_eq!(
            refuse(&["protocol-core"], Some(OsStr::new("yes"))),
            Err(VerificationBuild {
                crates: &["protocol-core"]
            })
        );
        assert_eq!(refuse(&["protocol-core"], Some(OsStr::new("1"))), Ok(()));
    }
}
