//! The test kit: the doubles that tests, attack harnesses, benchmarks and the demo put in
//! place of the real edges, kept out of the production crates so that no deployed server
//! carries them.
//!
//! | module | what |
//! |---|---|
//! | [`channel`] | the job channel's fixtures: the workflow, its jobs and specs, a bounded wait |
//! | [`launch`] | [`PresetKeyLauncher`]: jobs that run in-process answer their offers with keys registered in advance |
//! | [`ui`] | [`InProcessLauncher`]: the hub's UI servers started inside the test's process (sharing its clock) |
//! | [`clock`] | [`ManualClock`]: time that moves only when a test says so |
//! | [`log`] | [`MemoryLog`]: a server's log lines kept in memory, to search them |

pub mod channel;
pub mod clock;
pub mod launch;
pub mod log;
pub mod ui;

pub use clock::ManualClock;
pub use launch::PresetKeyLauncher;
pub use log::MemoryLog;
pub use ui::InProcessLauncher;
