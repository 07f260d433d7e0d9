//! Attack harnesses against live loopback targets built from the reference system, and the
//! replay of the model checker's counterexamples against the real implementation.
//!
//! - [`harness`]: the API — a [`Harness`] attacks a fresh target twice, the real one (every
//!   defence on, must be [`Outcome::Defended`]) and a control with the defence it tests removed
//!   (must be [`Outcome::Breached`]); [`HarnessResult::passed`] says both happened.
//! - [`run`]: the registry ([`run::all`]) and the runner, one fresh runtime per run.
//! - [`channel`]: the job-channel harnesses, one module per story group.
//! - [`uiserver`]: the people-side harnesses against live UI servers, the hub's assertions,
//!   the authoriser and the audit logs, on a [`live::gateway::GatewayWorld`] with a fixed
//!   clock ([`uiserver::options`]).
//! - [`hub`]: the people-side harnesses against the hub — forged and replayed tokens, account
//!   enumeration, address disclosure, spawner injection, assertion replay, the defender's
//!   block, rate limits — on a [`live::gateway::GatewayWorld`].
//! - [`live`]: targets, peers, relays and forgeries the harnesses are built from.
//! - [`conformance`]: every weakened design's minimal counterexample from the model, replayed
//!   step by step against a real scheduler, weakened and whole.
//!
//! Controls need cores and drivers with a defence removed, so this crate enables the `weaken`
//! features of `protocol-core`, `protocol-net`, `protocol-people` and `protocol-gateway`; the
//! server commands never build one.
//! All traffic stays on 127.0.0.1.

pub mod channel;
pub mod conformance;
pub mod harness;
pub mod hub;
pub mod live;
pub mod run;
pub mod uiserver;

pub use conformance::{ConformanceResult, Verdict};
pub use harness::{Control, Fired, Harness, HarnessError, HarnessInfo, HarnessResult, Outcome, RunFuture, Weakening};
