//! Integration tests of the job channel over real loopback sockets and real child processes.

mod support;

mod bootstrap;
mod commands;
mod exactly_once;
mod restart;
mod robustness;
mod secrets;
#[cfg(feature = "weaken")]
mod weakened;
