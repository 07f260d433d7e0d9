//! Stateright models that drive the reference system's own sans-IO cores against a Dolev-Yao
//! attacker: the properties they must keep, and the counterexamples the checker finds when a
//! defence is removed.
//!
//! [`channel`] models the job key exchange and messaging with the real
//! `protocol_core::scheduler::SchedulerCore` and `protocol_core::job::JobCore`; [`people`]
//! models sessions, elevation, authorisation and the audit log with the real
//! `protocol_people` cores; [`variants`] lists the weakened designs of both (and
//! [`catalogue`] every proof and variant, for front ends); [`run`] proves and searches;
//! [`trace`] turns counterexamples into steps a person reads; [`property`] names every
//! property of both models as one typed [`Property`]; [`assumptions`] says what each model
//! abstracts and which properties rest on it.

pub mod assumptions;
pub mod channel;
pub mod people;
pub mod property;
pub mod run;
pub mod trace;
pub mod variants;

pub use property::{Property, UnknownProperty};
pub use variants::{Catalogue, ModelKind, ProofEntry, VariantEntry, catalogue};
