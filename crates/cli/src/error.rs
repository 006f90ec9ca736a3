//! The CLI's errors: what failed, with enough context for a one-line message.

use crate::args::exit;
use ferry_rdb::ReadError;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The input file could not be opened.
    Open {
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The input could not be read or decoded (the decoder's message names the byte offset).
    Read {
        /// The path given, or `<stdin>`.
        input: String,
        /// What went wrong.
        source: ReadError,
    },
    /// Writing the output failed.
    Write(io::Error),
    /// The command line is wrong in a way clap cannot see.
    Usage(String),
    /// The target could not be used (unreachable, refused credentials,
    /// lost connection ...).
    Target(ferry_sink::Error),
    /// A check before writing failed; the message says what to do.
    Check(String),
    /// Not everything was copied; the message says what was not.
    Incomplete(String),
    /// Some values could not be represented in the output format.
    Unsupported {
        /// How many.
        count: u64,
    },
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Open { .. }
            | CliError::Read { .. }
            | CliError::Write(_)
            | CliError::Target(_)
            | CliError::Check(_)
            | CliError::Incomplete(_) => exit::ERROR,
            CliError::Usage(_) => exit::USAGE,
            CliError::Unsupported { .. } => exit::INCOMPLETE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Open { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            CliError::Read { input, source } => write!(f, "{input}: {source}"),
            CliError::Write(e) => write!(f, "cannot write the output: {e}"),
            CliError::Usage(m) | CliError::Check(m) | CliError::Incomplete(m) => f.write_str(m),
            CliError::Target(e) => write!(f, "target: {e}"),
            CliError::Unsupported { count } => write!(
                f,
                "{count} value(s) could not be represented in this format and were left out \
                 (see the warnings above); --skip-unsupported accepts that"
            ),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Open { source, .. } => Some(source),
            CliError::Read { source, .. } => Some(source),
            CliError::Write(e) => Some(e),
            CliError::Target(e) => Some(e),
            CliError::Usage(_)
            | CliError::Check(_)
            | CliError::Incomplete(_)
            | CliError::Unsupported { .. } => None,
        }
    }
}
