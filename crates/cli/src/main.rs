//! `ferry`: the command-line tool. Parses arguments, runs, maps errors to exit statuses.

use clap::Parser;
use ferry_cli::args::{Cli, exit};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ferry_cli::run::run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "ferry: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
