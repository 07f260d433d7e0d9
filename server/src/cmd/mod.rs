//! One module per subcommand of `threatcheck-server`. Each `run` returns the exit status or an
//! error (exit 2).

pub mod demo;
pub mod hub;
pub mod job;
pub mod restart;
pub mod scheduler;
pub mod uiserver;

/// How a command ended, when it ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out (exit 0).
    Green,
    /// A finding: a rejected message, a failed job, a denied step (exit 1).
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

/// `--output NAME`: a valid output name, or clap's usage error naming what is wrong.
pub(crate) fn parse_output(s: &str) -> Result<protocol_core::wire::OutputName, String> {
    protocol_core::wire::OutputName::new(s).map_err(|e| e.to_string())
}
