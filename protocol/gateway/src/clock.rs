//! Time for the HTTP servers: the [`Clock`] trait and the system clock of protocol-core, here
//! under the name the gateway has always used. Tests put the test kit's manual clock in its
//! place, so that elevation expiry, idle stops, rate limits and alert windows can be tested
//! without sleeping.

pub use protocol_core::time::{Clock, SharedClock, SystemClock, system};
