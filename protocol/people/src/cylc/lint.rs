//! `threatcheck authz lint-cylc`.
