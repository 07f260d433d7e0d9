//! Sans-IO cores of the threatcheck reference system's job channel.
//!
//! Everything here is deterministic and free of I/O: keys and their validation ([`keys`]),
//! names ([`ids`]), the wire codec ([`wire`]), the bootstrap messages ([`bootstrap`]), Noise
//! handshake and transport wrappers over snow ([`noise`]), the scheduler's registry, job state
//! machines and acceptance pipeline ([`scheduler`]), the job's retransmission logic ([`job`])
//! and the UI server's command numbering ([`command`]). The tokio drivers live in
//! `protocol-net` and `protocol-gateway`; the model checker drives these cores directly.
//! SPEC.md beside this crate is the wire specification.

pub mod bootstrap;
pub mod checks;
pub mod command;
pub mod commit;
pub mod ids;
pub mod job;
pub mod keys;
pub mod noise;
pub mod scheduler;
pub mod time;
pub mod wire;

pub use checks::{Check, Defences, Flaw};
pub use ids::{JobId, Owner, WorkflowId};
pub use keys::{PublicKey, StaticKeypair};
pub use time::Millis;

/// Whether this crate was compiled with the `weaken` feature (a verification build, in which
/// defences can be removed). The deployed servers refuse to start when it is true.
pub const WEAKEN_COMPILED: bool = cfg!(feature = "weaken");
