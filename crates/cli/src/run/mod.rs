//! The subcommands, one module each.

pub mod check;
pub mod common;
pub mod dump;
pub mod restore;
pub mod sync;
pub mod verify;

use crate::args::{Cli, Command};
use crate::error::CliError;

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command reports; see [`CliError::exit_code`].
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Dump(args) => dump::run(&args),
        Command::Restore(args) => restore::run(&args),
        Command::Sync(args) => sync::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Verify(args) => verify::run(&args),
    }
}
