//! One module per subcommand. Each `run` returns the exit status or an error (exit 2).

pub mod attack;
pub mod audit;
pub mod authz;
mod authz_cylc;
pub mod evidence;
pub mod lint;
pub mod model;
pub mod report;
pub mod verify;

/// How a command ended, when it ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out (exit 0).
    Green,
    /// A finding: a denial, a failed property, a breach, a bad record (exit 1).
    Finding,
}

impl From<Outcome> for std::process::ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Green => Self::SUCCESS,
            Outcome::Finding => Self::from(1),
        }
    }
}
