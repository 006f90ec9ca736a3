//! Writes Redis data to a target: a standalone Redis, a Redis Cluster, or a
//! proxy (twemproxy or Codis style: commands only, no `SELECT`, no `MULTI`).
//!
//! (Crate documentation in progress: see the crate README.)

mod conn;
mod error;
mod pipe;
pub mod plan;
pub mod replay;
mod sink;
mod slot;
mod write;

pub use conn::{Credentials, info_field};
pub use error::{Error, Failure, ReplyError};
pub use pipe::{MAX_FAILURES_KEPT, Report};
pub use plan::{Planner, TargetCaps};
pub use replay::{Note, NoteKind, Replayer};
pub use sink::{MIN_PIPE_BUDGET_BYTES, Sink, SinkConfig, TargetKind};
pub use slot::{SLOT_COUNT, Slot, crc16, hash_tag};
pub use write::{Expect, Write, WriteMode};
