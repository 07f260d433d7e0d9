//! `threatcheck-server`: the reference system's servers as they are deployed — the scheduler,
//! the reference job, the hub, the UI server it spawns, and the demo that runs them together.
//!
//! This package's normal dependency graph has no `weaken` feature, so none of the protocol
//! crates it is built from contains a removable defence (`.ci/run` checks the graph with
//! `cargo tree`). Cargo unifies features across every package of one build, though, so a
//! workspace-wide build (`cargo build --workspace`, `cargo test --workspace`) compiles this
//! binary against the verification build of the crates. Such a binary refuses to run (exit 2)
//! unless the environment says, in so many words, that it is a test of that build
//! ([`guard::ALLOW_VERIFICATION_BUILD`]); build the deployed binary with
//! `cargo build --release -p threatcheck-server`.

mod cmd;
mod guard;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "threatcheck-server",
    version = guard::VERSION,
    about = "The threatcheck reference servers: scheduler, job, hub and UI server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scheduler that launches jobs over the bootstrap channel and hears them over Noise.
    Scheduler(cmd::scheduler::SchedulerArgs),
    /// The reference job program (speaks SPEC.md on stdin/stdout).
    Job(cmd::job::JobArgs),
    /// Run a scheduler on 127.0.0.1 with reference jobs, then the people side, and print what
    /// was accepted.
    Demo(cmd::demo::DemoArgs),
    /// Run the hub: authentication, elevation, and UI servers spawned on demand.
    Hub(cmd::hub::HubArgs),
    /// One owner's UI server (spawned by the hub; not run by hand).
    Uiserver(cmd::uiserver::UiServerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(refusal) = guard::check(std::env::var_os(guard::ALLOW_VERIFICATION_BUILD).as_deref()) {
        eprintln!("threatcheck-server: error: {refusal}");
        return ExitCode::from(2);
    }
    let outcome = match cli.command {
        Command::Scheduler(args) => cmd::scheduler::run(args),
        Command::Job(args) => cmd::job::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Hub(args) => cmd::hub::run(args),
        Command::Uiserver(args) => cmd::uiserver::run(args),
    };
    match outcome {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("threatcheck-server: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
