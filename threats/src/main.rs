//! `threatcheck`: prove, attack and report on the security design of the reference system.
//!
//! This is the verification tool, compiled with the protocol crates' `weaken` feature so that
//! its harness controls and the model checker can build targets with one defence removed. The
//! servers themselves are another package (`threatcheck-server`), built without it.
//!
//! A thin main: parse arguments, dispatch to `cmd::*`, map the outcome to the exit code
//! (0 all green, 1 a finding, 2 usage, input or internal error).

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "threatcheck",
    version,
    about = "Prove, attack and report on the security design of a multi-user workflow engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The release gate: lint, model checker, attack harnesses, reports; exit 0 only if green.
    Verify(cmd::verify::VerifyArgs),
    /// Run the model checker: proofs of every property, attacks on every weakened design.
    Model(cmd::model::ModelArgs),
    /// Run the attack harnesses on live loopback targets (real and weakened) and replay the
    /// model's counterexamples against the real implementation.
    Attack(cmd::attack::AttackArgs),
    /// Readiness check of a threat model (the threat-analysis review process): sections, STRIDE coverage, evidence.
    Lint(cmd::lint::LintArgs),
    /// Re-render the reports from a saved results.json without re-running anything.
    Report(cmd::report::ReportArgs),
    /// Query an authorisation policy: who may do what, and why.
    Authz(cmd::authz::AuthzArgs),
    /// Work with audit logs.
    Audit(cmd::audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Verify(args) => cmd::verify::run(args),
        Command::Model(args) => cmd::model::run(args),
        Command::Attack(args) => cmd::attack::run(args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Authz(args) => cmd::authz::run(args),
        Command::Audit(args) => cmd::audit::run(args),
    };
    match outcome {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("threatcheck: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
