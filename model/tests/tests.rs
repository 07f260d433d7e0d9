//! The model checker's evidence, as tests: the proofs hold within their bound (with their
//! witnesses reached and their state counts pinned), and every weakened design is broken.

mod channel;
mod people;
