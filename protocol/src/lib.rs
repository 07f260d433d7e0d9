//! The threatcheck reference system, in one place: the sans-IO cores ([`core`]), the tokio
//! drivers ([`net`]) and the people side ([`people`]). The wire specification is SPEC.md beside
//! this crate; the benchmarks are in `benches/`.

pub use protocol_core as core;
pub use protocol_net as net;
pub use protocol_people as people;
