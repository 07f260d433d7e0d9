//! Prints an argon2id PHC hash for a user file: reads the password from standard input (never
//! from the command line, where other users could see it in the process list).
//!
//! ```text
//! cargo run -p protocol-people --example hash_password            # production parameters
//! cargo run -p protocol-people --example hash_password -- --fast  # test fixtures only
//! ```

use std::io::BufRead as _;
use std::process::ExitCode;

use protocol_people::session::{HashParams, hash_password};

fn main() -> ExitCode {
    let fast = std::env::args().skip(1).any(|a| a == "--fast");
    let params = if fast {
        HashParams::FAST_INSECURE
    } else {
        HashParams::PRODUCTION
    };
    let mut line = zeroize::Zeroizing::new(String::new());
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        eprintln!("hash_password: cannot read the password from standard input");
        return ExitCode::from(2);
    }
    match hash_password(line.trim_end_matches(['\r', '\n']), params, &mut rand_core::OsRng) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hash_password: {e}");
            ExitCode::from(2)
        }
    }
}
