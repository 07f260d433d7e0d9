//! Integration tests of protocol-people (one test binary; one module per area).

mod common;

mod audit_tamper;
mod cylc;
mod examples;
mod gate;
mod precedence;
mod properties;
mod sessions;
#[cfg(feature = "weaken")]
mod weaken;
