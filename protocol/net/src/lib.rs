//! Tokio drivers for the job channel of the threatcheck reference system.
//!
//! The sans-IO cores in `protocol-core` decide; this crate moves bytes: the bootstrap
//! [`launcher`], length-prefixed [`framing`] over TCP, the scheduler [`server`] with its durable
//! [`eventlog`], the scheduler's [`contact`] file, the job [`client`], and the reference job
//! program ([`job_program`]).

pub mod client;
pub mod contact;
pub mod eventlog;
pub mod framing;
pub mod job_program;
pub mod launcher;
pub mod server;

pub use client::{ClientConfig, ClientError, ClientReport, run_job};
pub use launcher::{Launcher, ProcessLauncher};
#[cfg(feature = "weaken")]
pub use server::DriverFlaws;
pub use server::{JobQuota, Scheduler, SchedulerHandle, ServerConfig, ServerError, StatsSnapshot};

/// Whether this crate was compiled with the `weaken` feature (a verification build, in which
/// defences can be removed). The deployed servers refuse to start when it is true.
pub const WEAKEN_COMPILED: bool = cfg!(feature = "weaken");
