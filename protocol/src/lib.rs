//! The threatcheck reference system, in one place: the sans-IO cores ([`core`]), the tokio
//! drivers ([`net`]), the people side ([`people`], [`gateway`]) and the one vocabulary of
//! their defences ([`defence`]). The wire specification is SPEC.md beside this crate; the
//! benchmarks are in `benches/`.

pub mod defence;

pub use defence::{Defence, DriverCheck, UnknownDefence};
pub use protocol_core as core;
pub use protocol_gateway as gateway;
pub use protocol_net as net;
pub use protocol_people as people;
