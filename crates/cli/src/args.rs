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
    /// Load an RDB file into a standalone Redis, a Redis Cluster or a proxy.
    #[command(
        long_about = "Load an RDB file (any Redis version, or Valkey) into a running target: a \
standalone Redis, a Redis Cluster (keys routed by slot to their masters, MOVED/ASK followed), or \
a proxy such as twemproxy or Codis.\n\n\
Each key is written with RESTORE when the target can load its serialized form (fast), else by \
command replay (SET, RPUSH, SADD, ZADD, HSET, XADD ... then PEXPIREAT): for older targets, for \
values over --big-value-bytes (written in bounded batches), and with --mode commands. Keys \
already expired are skipped and counted. By default the target must be empty.\n\n\
Examples:\n  ferry restore dump.rdb --target redis://127.0.0.1:6379\n  \
FERRY_TARGET_PASSWORD=secret ferry restore dump.rdb --target redis://10.0.0.5:7000 --parallel 8\n  \
ferry restore -i dump.rdb -t 127.0.0.1:6380 -n 16        (crs-port style)",
        after_help = RESTORE_EXIT_CODES_HELP
    )]
    Restore(RestoreArgs),
    /// Copy a live Redis to a target, then keep applying its writes until stopped.
    #[command(
        long_about = "Copy a live Redis to a target without stopping it: Ferry connects to the \
source as a replica (PSYNC), writes the snapshot to the target (RESTORE or command replay per \
key, as `ferry restore` does), then applies the source's command stream as it comes, until \
SIGINT or SIGTERM; then it finishes what is in flight and exits.\n\n\
The source is a standalone server (master or replica), any node of a Redis Cluster (every \
shard is replicated, from a healthy replica unless --source-prefer master), or the nodes \
listed with --source-nodes (Codis or twemproxy backends). The stream is read at network speed \
and queued in memory, then on disk in --work-dir, so a slow target never makes the source \
drop Ferry. A broken connection is resumed where it stopped (PSYNC <replid> <offset>); when \
the source cannot continue, Ferry stops, or takes a new copy with --on-break full-resync. A \
command the target cannot take as it is (keys in several cluster slots) is reported with its \
keys, never dropped silently.\n\n\
Phases: connecting, full-sync, incremental, caught-up (everything the source had at its last \
reading is confirmed by the target). --status-addr serves GET /status (JSON) and GET /metrics \
(Prometheus).\n\n\
Examples:\n  ferry sync --source redis://10.0.0.4:6379 --target redis://10.0.0.9:7000\n  \
ferry sync --source 10.0.0.4:7000 --target 10.0.1.4:7000 --status-addr 127.0.0.1:9121\n  \
ferry sync --source-nodes 10.0.0.4:6379,10.0.0.5:6379 --source 10.0.0.4:6379 --target 10.0.1.9:22121 --target-kind proxy",
        after_help = SYNC_EXIT_CODES_HELP
    )]
    Sync(SyncArgs),
    /// Check a source and a target before a migration: every check passes,
    /// alarms or fails, with what to do.
    #[command(
        long_about = "Check a source and a target before a migration, against the live servers: \
connectivity and credentials of every node, the right to replicate, versions (and types the \
target cannot hold: streams before 5.0, functions before 7.0, hash field TTLs before 7.4), \
databases (a cluster has only db 0), an empty target, the target's maxmemory against the \
source's used memory, big keys against the source's replica output buffer limit, a master \
whose replicas could be synced from instead, multi-key commands that a cluster target needs \
in one slot, and modules.\n\n\
Each line gives the check's id, its level (pass, alarm, fail) and what to do. With \
--source-file, the source is an RDB file (before `ferry restore`). `ferry sync` and `ferry \
restore` run the same checks first and stop on a failure unless --skip-check ID names it.\n\n\
Examples:\n  ferry check --source 10.0.0.4:6379 --target 10.0.1.9:7000\n  \
ferry check --source 10.0.0.4:6379 --target 10.0.1.9:6379 --format json\n  \
ferry check --source-file dump.rdb --target 10.0.1.9:6379",
        after_help = "Exit status:\n  0  nothing failed (alarms allowed)\n  1  a check failed\n  2  usage error"
    )]
    Check(CheckArgs),
    /// Compare every key of a source with a target: missing, extra and
    /// different keys.
    #[command(
        long_about = "Compare every key of a source with a target, after a restore or while a \
sync runs: each source key's type, value and expire time (within --ttl-tolerance), and every \
target key that the source does not have. Either side is a standalone server or a Redis Cluster \
(given by any node).\n\n\
Keys that differ are compared again after --interval, up to --rounds times, so that keys a \
running sync is still changing are not reported; only keys that still differ at the end are. \
Values are read in bounded pieces: a big string, list, sorted set or stream in windows, a big \
hash or set by scanning the source and looking its elements up on the target; scores are \
compared as numbers. Consumer groups of streams, hash field expire times and module values \
are not compared (module keys by type only).\n\n\
The summary (stdout) counts keys per database: compared, missing (on the source only), extra \
(on the target only), different by type, value or ttl, and lists the first differences; \
--report FILE has them all, one JSON object per line. Progress goes to stderr.\n\n\
Examples:\n  ferry verify --source 10.0.0.4:6379 --target 10.0.1.9:7000\n  \
ferry verify -s 10.0.0.4:6379 -t 10.0.1.9:6379 --mode quick --rate 20000\n  \
ferry verify -s 10.0.0.4:6379 -t 10.0.1.9:6379 --sample 10000 --report diff.jsonl\n  \
FERRY_SOURCE_PASSWORD=s FERRY_TARGET_PASSWORD=t ferry verify -s 10.0.0.4:6379 -t 10.0.1.9:6379 --db-map 1:0 --format json",
        after_help = VERIFY_EXIT_CODES_HELP
    )]
    Verify(VerifyArgs),
}

const SYNC_EXIT_CODES_HELP: &str = "\
Exit status:
  0  stopped by SIGINT/SIGTERM; every command sent to the target was confirmed
     (the summary gives the replication offset reached on each shard)
  1  something was not applied (named on stderr), the source or the target
     failed, a connection could not be resumed, or a check failed
  2  usage error";

/// Arguments of `ferry sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The source: `redis://[user:password@]host:port`, or `host:port`.
    #[arg(short = 's', long, value_name = "URL")]
    pub source: String,

    /// Read the source's password from the first line of this file (else
    /// $FERRY_SOURCE_PASSWORD, else the URL).
    #[arg(long, value_name = "FILE")]
    pub source_password_file: Option<PathBuf>,

    /// The target: `redis://[user:password@]host:port[/db]`, or `host:port`.
    #[arg(short = 't', long, value_name = "URL")]
    pub target: String,

    /// Read the target's password from the first line of this file (else
    /// $FERRY_TARGET_PASSWORD, else the URL).
    #[arg(long, value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,

    /// Go on although this check fails (the checks of `ferry check` run
    /// first and stop on a failure). Repeatable; `all` skips every failure.
    /// Alarms never stop.
    #[arg(long = "skip-check", value_name = "ID")]
    pub skip_check: Vec<String>,

    /// Is the target standalone, a cluster or a proxy.
    #[arg(long, value_enum, default_value_t = TargetKindArg::Auto)]
    pub target_kind: TargetKindArg,

    /// Connections to a standalone target during the snapshot (the command
    /// stream uses one, to keep the source's order).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,

    /// Write the keys of source database SRC into database DST. Repeatable.
    #[arg(long = "db-map", value_name = "SRC:DST")]
    pub db_map: Vec<String>,

    /// What to do with keys of the snapshot that already exist on the target.
    #[arg(long, value_enum, default_value_t = OnConflict::Fail)]
    pub on_conflict: OnConflict,

    /// Apply FLUSHALL and FLUSHDB from the source (otherwise they stop the sync).
    #[arg(long)]
    pub allow_flush: bool,

    /// Seconds between status lines on stderr.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub status_interval: u64,

    /// Replicate from these nodes, one shard each (Codis or twemproxy
    /// backends), instead of discovering them from --source. Comma-separated
    /// or repeated.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',')]
    pub source_nodes: Vec<String>,

    /// On a source cluster, replicate each shard from a healthy replica
    /// (leaves the masters' work alone) or from its master.
    #[arg(long, value_enum, default_value_t = SourcePrefer::Replica)]
    pub source_prefer: SourcePrefer,

    /// When a broken connection cannot be continued (the source's backlog
    /// no longer holds the offset, or it broke during the snapshot): stop,
    /// or take a new full copy (keys deleted on the source meanwhile may
    /// remain on the target; `ferry verify` finds them).
    #[arg(long, value_enum, default_value_t = OnBreakArg::Fail)]
    pub on_break: OnBreakArg,

    /// Seconds to keep trying to reconnect to a source before stopping.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub reconnect_timeout: u64,

    /// Folder for the spool: the part of the stream the target has not yet
    /// taken, beyond --spool-memory-mb (default: the system's temp folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Megabytes of the stream kept in memory before spooling to disk.
    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub spool_memory_mb: u64,

    /// Megabytes the spool may use on disk; when full, Ferry reads the
    /// source more slowly (the source then buffers, up to its
    /// client-output-buffer-limit).
    #[arg(long, value_name = "MB", default_value_t = 4096)]
    pub spool_disk_mb: u64,

    /// Serve GET /status (JSON) and GET /metrics (Prometheus) here, e.g.
    /// 127.0.0.1:9121. Port 0 takes a free port; the address is printed
    /// ("status: http://...").
    #[arg(long, value_name = "HOST:PORT")]
    pub status_addr: Option<std::net::SocketAddr>,

    /// Progress display during the full copy: a bar on a terminal, log
    /// lines otherwise.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
}

/// Which node of a source cluster's shard to replicate from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourcePrefer {
    /// A healthy replica when the shard has one.
    Replica,
    /// Always the master.
    Master,
}

/// What to do when the source cannot continue a broken connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnBreakArg {
    /// Stop with a message.
    Fail,
    /// Take a new full copy.
    FullResync,
}

const RESTORE_EXIT_CODES_HELP: &str = "\
Exit status:
  0  every selected key landed on the target
  1  something was not copied: a key the target refused (named on stderr), a lost
     connection, an unreadable or corrupt file, a check that failed (non-empty
     target, several databases into a cluster ...)
  2  usage error
  3  some values cannot be written to this target (module values without the
     module, functions on a target older than 7.0 ...) and were left out";

/// What to do with a key that already exists on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    /// Refuse to start unless the target is empty; a key that exists anyway
    /// is an error naming it.
    Fail,
    /// Overwrite it (RESTORE ... REPLACE, or DEL then the commands).
    Replace,
    /// Leave the existing key as it is and count it.
    Skip,
}

/// How keys are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriteModeArg {
    /// RESTORE where the target can load the value, else command replay.
    Auto,
    /// RESTORE only; a value the target cannot load is reported and left out.
    Restore,
    /// Command replay only (for proxies that refuse RESTORE, or to normalise encodings).
    Commands,
}

/// The target's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKindArg {
    /// Ask the target (INFO cluster).
    Auto,
    /// One server: databases with SELECT.
    Standalone,
    /// A Redis Cluster.
    Cluster,
    /// twemproxy/Codis: commands only, database 0 only.
    Proxy,
}

/// Arguments of `ferry restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The RDB file to load.
    #[arg(value_name = "FILE", required_unless_present = "input")]
    pub file: Option<PathBuf>,

    /// The RDB file (crs-port's -i).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        conflicts_with = "file"
    )]
    pub input: Option<PathBuf>,

    /// The target: `redis://[user:password@]host:port[/db]`, or `host:port`. A
    /// cluster is given by any of its nodes.
    #[arg(short = 't', long, value_name = "URL")]
    pub target: String,

    /// The target's password (crs-port's -A). It shows in `ps`: prefer
    /// --target-password-file or $FERRY_TARGET_PASSWORD.
    #[arg(short = 'A', long = "target-password", value_name = "PASSWORD")]
    pub target_password: Option<String>,

    /// Read the target's password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,

    /// Go on although this check fails (the checks of `ferry check` run
    /// first and stop on a failure). Repeatable; `all` skips every failure.
    /// Alarms never stop.
    #[arg(long = "skip-check", value_name = "ID")]
    pub skip_check: Vec<String>,

    /// Is the target standalone, a cluster or a proxy.
    #[arg(long, value_enum, default_value_t = TargetKindArg::Auto)]
    pub target_kind: TargetKindArg,

    /// Connections to a standalone target or a proxy (a cluster gets one per master).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,

    /// Write the keys of source database SRC into database DST. Repeatable;
    /// unmapped databases keep their number, or go to the URL's /db when it has one.
    #[arg(long = "db-map", value_name = "SRC:DST")]
    pub db_map: Vec<String>,

    /// What to do with keys that already exist on the target.
    #[arg(long, value_enum, default_value_t = OnConflict::Fail)]
    pub on_conflict: OnConflict,

    /// How to write keys.
    #[arg(long, value_enum, default_value_t = WriteModeArg::Auto)]
    pub mode: WriteModeArg,

    /// Only keys matching this Redis glob pattern (as SCAN MATCH takes it).
    #[arg(short = 'k', long, value_name = "GLOB")]
    pub key_pattern: Option<OsString>,

    /// Read the file and connect to the target, but write nothing; print what
    /// would be done.
    #[arg(long)]
    pub dry_run: bool,

    /// Leave out Redis function libraries.
    #[arg(long)]
    pub no_functions: bool,

    /// Do not verify the file's CRC64 trailer.
    #[arg(long)]
    pub no_verify_checksum: bool,

    /// Decode every value before writing it (slower). By default a value
    /// written with RESTORE is sent as the file holds it, and damage inside
    /// it is caught by the file's checksum at the end (the run then fails);
    /// with this, it is caught before the key is sent.
    #[arg(long)]
    pub decode_values: bool,

    /// Values whose serialized form is larger than this are written by command
    /// replay in bounded batches instead of one RESTORE.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub big_value_bytes: usize,

    /// Exit 0 even when values this target cannot hold were left out (they are
    /// still reported).
    #[arg(long)]
    pub skip_unsupported: bool,

    /// Progress display: a bar on a terminal, log lines otherwise.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// A bar when stderr is a terminal, else a log line every 5 seconds.
    Auto,
    /// Always the bar.
    Bar,
    /// Always log lines.
    Log,
    /// Nothing but the summary.
    None,
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

/// Arguments of `ferry check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The source: `redis://[user:password@]host:port`, or `host:port`; a
    /// cluster node stands for the whole cluster.
    #[arg(
        short = 's',
        long,
        value_name = "URL",
        required_unless_present = "source_file",
        conflicts_with = "source_file"
    )]
    pub source: Option<String>,

    /// The source is this RDB file (before `ferry restore`): read whole,
    /// skipping values, so keys are counted and sized exactly.
    #[arg(long, value_name = "FILE")]
    pub source_file: Option<PathBuf>,

    /// Read the source's password from the first line of this file (else
    /// $FERRY_SOURCE_PASSWORD, else the URL).
    #[arg(long, value_name = "FILE")]
    pub source_password_file: Option<PathBuf>,

    /// The target: `redis://[user:password@]host:port[/db]`, or `host:port`.
    #[arg(short = 't', long, value_name = "URL")]
    pub target: String,

    /// Read the target's password from the first line of this file (else
    /// $FERRY_TARGET_PASSWORD, else the URL).
    #[arg(long, value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,

    /// The source nodes, one shard each (Codis or twemproxy backends).
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',')]
    pub source_nodes: Vec<String>,

    /// On a source cluster, the node of each shard the sync would use.
    #[arg(long, value_enum, default_value_t = SourcePrefer::Replica)]
    pub source_prefer: SourcePrefer,

    /// The database map the migration will use (SRC:DST). Repeatable.
    #[arg(long = "db-map", value_name = "SRC:DST")]
    pub db_map: Vec<String>,

    /// What the migration will do with keys that exist on the target.
    #[arg(long, value_enum, default_value_t = OnConflict::Fail)]
    pub on_conflict: OnConflict,

    /// Keys of the source sampled for big keys (SCAN + MEMORY USAGE).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub sample_keys: u64,

    /// Output: text lines, or JSON lines for machines.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// How `ferry check` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// One line per check.
    Text,
    /// One JSON object per check: id, level, message.
    Json,
}

const VERIFY_EXIT_CODES_HELP: &str = "\
Exit status:
  0  no key differs
  1  some keys differ (listed), or a server could not be read (named on stderr)
  2  usage error";

/// Arguments of `ferry verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The source: `redis://[user:password@]host:port[/db]`, or `host:port`;
    /// a cluster node stands for the whole cluster. With /db, only that
    /// database is compared.
    #[arg(short = 's', long, value_name = "URL")]
    pub source: String,

    /// Read the source's password from the first line of this file (else
    /// $FERRY_SOURCE_PASSWORD, else the URL).
    #[arg(long, value_name = "FILE")]
    pub source_password_file: Option<PathBuf>,

    /// The target: `redis://[user:password@]host:port[/db]`, or `host:port`.
    /// With /db, source databases not in --db-map are compared with that one.
    #[arg(short = 't', long, value_name = "URL")]
    pub target: String,

    /// Read the target's password from the first line of this file (else
    /// $FERRY_TARGET_PASSWORD, else the URL).
    #[arg(long, value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,

    /// What to compare: types, values and expire times, or only types and
    /// lengths (faster).
    #[arg(long, value_enum, default_value_t = VerifyModeArg::Full)]
    pub mode: VerifyModeArg,

    /// Expire times this far apart are equal.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub ttl_tolerance: f64,

    /// Compare about N random keys of the source (RANDOMKEY), and look N
    /// random target keys up on the source, instead of every key.
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,

    /// Send at most OPS commands per second to each server.
    #[arg(long, value_name = "OPS")]
    pub rate: Option<u64>,

    /// Compare keys that differ again, up to this many rounds in all.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: u32,

    /// Seconds between rounds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub interval: f64,

    /// Source database SRC was copied into target database DST. Repeatable.
    #[arg(long = "db-map", value_name = "SRC:DST")]
    pub db_map: Vec<String>,

    /// Only keys matching this Redis glob pattern (as SCAN MATCH takes it).
    #[arg(short = 'k', long, value_name = "GLOB")]
    pub key_pattern: Option<OsString>,

    /// Write every difference to FILE, one JSON object per line: db,
    /// target_db, key (a string, or {"base64": ...} when not UTF-8), reason
    /// (missing, extra, type, value, ttl), detail.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// The summary on stdout: text, or one JSON object.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,

    /// Differences listed in the summary.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub show: usize,

    /// Batches of keys compared at once.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,
}

/// What `ferry verify` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyModeArg {
    /// Types, values and expire times.
    Full,
    /// Types and lengths (STRLEN, LLEN, SCARD, ZCARD, HLEN, XLEN).
    Quick,
}

/// How `ferry verify` prints its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// Lines for people.
    Text,
    /// One JSON object.
    Json,
}
