//! `threatcheck audit verify`: check an audit log's MAC chain and head anchor.
//!
//! Exit 0 when every record verifies, 1 at the first bad record (printed with the reason),
//! 2 when the log or key cannot be read.

use std::path::PathBuf;

use anyhow::Context as _;
use protocol_people::audit::{AuditKey, AuditVerifyError, default_head_path, verify_with};
use protocol_people::checks::PeopleDefences;

use super::Outcome;

/// The environment variable naming the key file when `--key-file` is not given.
const KEY_ENV: &str = "THREATCHECK_AUDIT_KEY_FILE";

/// Arguments of `threatcheck audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Verify a log: print its record count, or the first bad record and why (exit 1).
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The audit log.
    file: PathBuf,
    /// The MAC key file (64 hex digits, mode 600); default: $THREATCHECK_AUDIT_KEY_FILE.
    #[arg(long, value_name = "K")]
    key_file: Option<PathBuf>,
    /// The head anchor file (default: FILE.head).
    #[arg(long, value_name = "H")]
    head: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let AuditCommand::Verify(args) = args.command;
    let key_file = match args.key_file {
        Some(k) => k,
        None => std::env::var_os(KEY_ENV)
            .map(PathBuf::from)
            .with_context(|| format!("no MAC key: give --key-file K (or set {KEY_ENV})"))?,
    };
    let key = AuditKey::from_file(&key_file)?;
    let head = args.head.unwrap_or_else(|| default_head_path(&args.file));
    match verify_with(&args.file, &head, &key, &PeopleDefences::all()) {
        Ok(report) => {
            let s = if report.records == 1 { "" } else { "s" };
            print!(
                "ok: {} record{s} verified, anchored by {}",
                report.records,
                head.display()
            );
            if report.unanchored > 0 {
                print!(
                    " ({} written just before a crash and not yet anchored)",
                    report.unanchored
                );
            }
            println!();
            Ok(Outcome::Green)
        }
        Err(e @ AuditVerifyError::Io { .. }) => Err(e.into()),
        Err(e) => {
            println!("bad: {}: {e}", args.file.display());
            Ok(Outcome::Finding)
        }
    }
}
