//! `ferry`: the command-line tool. Parses arguments, runs, maps errors to exit statuses.

use clap::Parser;
use ferry_cli::args::{Cli, exit};
use std::io::Write;
use std::process::ExitCode;

// glibc's malloc was a third of `ferry restore`'s CPU time (many small
// buffers per key, freed on other threads); mimalloc handles that pattern
// well. Measured in docs/performance.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
