//! The test kit: the doubles that tests, attack harnesses, benchmarks and the demo put in
//! place of the real edges, kept out of the production crates so that no deployed server
//! carries them.
//!
//! | module | what |
//! |---|---|
//! | [`channel`] | the job channel's fixtures: the workflow, its jobs and specs, a bounded wait |
//! | [`gateway`] | [`GatewayWorld`]: the people side live on loopback — hub, in-process UI servers, schedulers in run directories, example accounts and policy, one manual clock |
//! | [`launch`] | [`PresetKeyLauncher`]: jobs that run in-process answer their offers with keys registered in advance |
//! | [`ui`] | [`InProcessLauncher`]: the hub's UI servers started inside the test's process (sharing its clock) |
//! | [`clock`] | [`ManualClock`]: time that moves only when a test says so |
//! | [`log`] | [`MemoryLog`]: a server's log lines kept in memory, to search them |

pub mod channel;
pub mod clock;
pub mod gateway;
pub mod launch;
pub mod log;
pub mod ui;

pub use clock::ManualClock;
pub use gateway::{GatewayOptions, GatewayWorld};
pub use launch::PresetKeyLauncher;
pub use log::MemoryLog;
pub use ui::InProcessLauncher;

/// Why a world could not be built or observed.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A scheduler could not be started, or stopped under the caller.
    #[error("the target failed: {0}")]
    Target(#[from] protocol_net::ServerError),
    /// A temporary directory or file could not be made or read.
    #[error("filesystem: {0}")]
    Io(#[from] std::io::Error),
    /// A step of building the world failed.
    #[error("{0}")]
    Setup(String),
    /// An event log holds a line that cannot be read.
    #[error("event log line {line}: {detail}")]
    EventLog {
        /// One-based line number.
        line: usize,
        /// The parser's complaint.
        detail: String,
    },
}

impl WorldError {
    /// A setup failure described in words.
    pub fn setup(what: impl std::fmt::Display) -> Self {
        Self::Setup(what.to_string())
    }
}
