//! Command-line arguments (clap derive).

use crate::output::spool::DEFAULT_SPILL_BYTES;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// Exit statuses, as listed in `--help`.
pub mod exit {
    /// Everything went well.
    pub const OK: u8 = 0;
    /// The input is bad (corrupt, truncated, checksum mismatch, unknown
    /// format) or could not be read, or the output could not be written.
    pub const ERROR: u8 = 1;
    /// Bad command line (clap's own status).
    pub const USAGE: u8 = 2;
    /// Done, but some data could not be represented in the output format
    /// and was left out (see the warnings); `--skip-unsupported` makes this 0.
    pub const INCOMPLETE: u8 = 3;
}

const EXIT_CODES_HELP: &str = "\
Exit status:
  0  success
  1  data or I/O error: corrupt, truncated or unknown input, checksum mismatch,
     unreadable file, unwritable output (a closed pipe, as with `| head`, is not
     an error: ferry stops quietly with 0)
  2  usage error
  3  some values could not be represented in the output format and were left
     out (warnings on stderr); --skip-unsupported turns this into 0";

/// ferry: move Redis data between deployments.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the contents of an RDB file as JSON lines, Redis commands or a key list.
    #[command(
        long_about = "Print the contents of an RDB file (any Redis version, or Valkey) as JSON \
lines, as the Redis commands that rebuild it, or as a key list.\n\n\
Keys come in file order. Errors name the byte offset where the file went wrong; \
everything printed before an error is complete (whole JSON lines, whole commands).",
        after_help = EXIT_CODES_HELP
    )]
    Dump(DumpArgs),
}

/// Arguments of `ferry dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The RDB file to read, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,

    /// Only keys of database N. Repeat the option for several databases; without
    /// it, all databases.
    #[arg(long = "db", value_name = "N")]
    pub dbs: Vec<u64>,

    /// Only keys matching this Redis glob pattern, as `SCAN MATCH` takes it: `*` any
    /// bytes, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` one byte of (or not of) a
    /// set, `\` escapes the next character. Matched case-sensitively against the
    /// raw key bytes.
    #[arg(short = 'k', long, value_name = "GLOB")]
    pub key_pattern: Option<OsString>,

    /// With `--format resp`: exit 0 even when values that no command can rebuild
    /// (module values, pre-GA functions, ...) were left out. They are still
    /// reported on stderr.
    #[arg(long)]
    pub skip_unsupported: bool,

    /// Leave out Redis function libraries (`--format resp` would otherwise replace
    /// the target's libraries of the same name with `FUNCTION LOAD REPLACE`).
    #[arg(long)]
    pub no_functions: bool,

    /// Do not verify the file's CRC64 trailer (to read what a damaged file still
    /// holds). Truncation and structural damage are still errors.
    #[arg(long)]
    pub no_verify_checksum: bool,

    /// Do not print the closing summary line of `--format resp` on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Most bytes of one key's output (`jsonl`) or of a stream group's pending
    /// entries (`resp`) held in memory; the rest waits in an anonymous
    /// temporary file in `$TMPDIR`. Hidden: for tests of that path.
    #[arg(long, hide = true, value_name = "BYTES", default_value_t = DEFAULT_SPILL_BYTES)]
    pub spill_bytes: usize,
}

/// Output formats of `ferry dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line and key: {"db","key","type","expire_at_ms","value"};
    /// function libraries as {"function": code}. Byte strings that are not UTF-8
    /// are {"base64": "..."}. Keeps expired and empty keys, as the file has them.
    Jsonl,
    /// Redis commands (RESP) that rebuild the data, for `redis-cli --pipe`: SELECT,
    /// DEL, SET/APPEND, RPUSH, SADD, ZADD, HSET, HPEXPIREAT, XADD, XSETID, XGROUP,
    /// XCLAIM, PEXPIREAT, FUNCTION LOAD. Leaves out keys already expired and empty
    /// collections, as a server loading the file would; prints a summary on stderr.
    Resp,
    /// One line per key: `db<TAB>type<TAB>key`, the key quoted like redis-cli
    /// ("...", with \n, \xHH ... escapes) unless it is printable ASCII not starting
    /// with a double quote. Reads no values, so it is fast.
    Keys,
}
