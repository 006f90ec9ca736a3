//! Writes Redis data to a running target: a standalone Redis, a Redis
//! Cluster, or a proxy (twemproxy or Codis style: commands only, database 0,
//! no `MULTI`).
//!
//! - [`Sink`] connects, detects the target's kind (`INFO cluster`) unless
//!   told, and takes [`Write`]s: one command each, with its key and
//!   database. Commands are pipelined in batches over one connection per
//!   master (cluster) or `parallel` connections (standalone, proxy); a key
//!   always goes to one connection, so its commands stay in order. In-flight
//!   bytes are bounded. Every reply is checked: an error reply is recorded
//!   in the [`Report`] as a [`Failure`] naming the key; `MOVED`, `ASK`,
//!   `TRYAGAIN`, `LOADING` and `CLUSTERDOWN` are followed (after every
//!   command sent before them is answered, in their original order, so one
//!   key's commands are never reordered), up to a limit. The reply to
//!   `EXEC` is checked command by command: each error in it, or a nil reply
//!   (an aborted transaction), is a [`Failure`].
//! - [`Sink::flush`] waits until everything written is answered;
//!   [`Sink::barrier`] puts a marker behind what is written so far and
//!   returns a [`Barrier`] that tells, without waiting, when every write up
//!   to it is answered, redirects included (for confirming a replication
//!   offset while writing on).
//! - [`plan::Planner`] turns the items of an RDB file ([`ferry_rdb`], raw
//!   mode) into writes, choosing per key between `RESTORE` of a DUMP payload
//!   (when the target's RDB version can load the value's encoding, see
//!   [`TargetCaps`]) and command replay ([`replay::Replayer`]: `SET`,
//!   `RPUSH`, `SADD`, `ZADD`, `HSET`, `XADD`, ... then `PEXPIREAT`) in
//!   bounded batches, for older targets and big values.
//! - [`Slot`]: CRC16 hash slots with hash tags, as a pure function.
//!
//! What it does **not** do: TLS, Sentinel discovery, keeping a transaction
//! on one connection (`MULTI`, its commands and `EXEC` are writes like any
//! other: the caller keeps them together, as writes of one key or keyless
//! writes), reading from targets beyond the checks it needs
//! (`INFO`, `CLUSTER SHARDS`/`SLOTS`, `EXISTS`, `INFO keyspace`). Errors are
//! data: it never prints.
//!
//! ```no_run
//! use ferry_resp::Command;
//! use ferry_sink::{Expect, Sink, SinkConfig, Write, WriteMode};
//!
//! # async fn run() -> Result<(), ferry_sink::Error> {
//! let mut sink = Sink::connect(SinkConfig::new("127.0.0.1:7000")).await?;
//! sink.write(Write {
//!     db: 0,
//!     key: Some("greeting".into()),
//!     command: Command::new("SET").arg("greeting").arg("hello"),
//!     mode: WriteMode::Commands,
//!     expect: Expect::Success,
//!     last_of_key: true,
//! })
//! .await?;
//! let report = sink.flush().await?;
//! assert_eq!(report.keys_replayed, 1);
//! for failure in &report.failures {
//!     eprintln!("{:?} refused {}: {}", failure.key, failure.command, failure.message);
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod conn;
mod error;
mod keys;
mod pipe;
pub mod plan;
pub mod replay;
mod sink;
mod slot;
mod write;

pub use conn::{Client, Credentials, info_field, keyspace, query};
pub use error::{Error, Failure, ReplyError};
pub use keys::{KeyTable, KeysError};
pub use pipe::{MAX_FAILURES_KEPT, Report};
pub use plan::{Planner, TargetCaps};
pub use replay::{Note, NoteKind, Replayer};
pub use sink::{Barrier, MIN_PIPE_BUDGET_BYTES, ReportHandle, Sink, SinkConfig, TargetKind};
pub use slot::{SLOT_COUNT, Slot, crc16, hash_tag};
pub use write::{Expect, Write, WriteMode};
