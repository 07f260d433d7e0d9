//! Live targets and the attacker's tools: a real scheduler on 127.0.0.1 built with chosen
//! defences ([`target`]), real Noise peers and honest jobs ([`peer`]), a frame-aware relay that
//! records and tampers with traffic ([`relay`]), first handshake messages forged with a
//! compromised scheduler key ([`forge`]), byte scans ([`scan`]), and the people side — hub, UI
//! servers and schedulers in one temporary directory ([`gateway`]) — and the judgement of login
//! timings ([`timing`]).

pub mod forge;
pub mod launch;
pub mod peer;
pub mod relay;
pub mod scan;
pub mod target;
pub mod timing;

pub use testkit::channel::wait_for;

/// The people side live on loopback: the test kit's world, used by the people-side harnesses.
pub mod gateway {
    pub use testkit::gateway::*;
}
