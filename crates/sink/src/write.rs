//! What the writers take: one command for the target, with what is needed to
//! route it, keep it in order and report it.

use bytes::Bytes;
use ferry_resp::Command;

/// How a key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// `RESTORE` with a DUMP payload.
    Restore,
    /// Command replay (`SET`, `RPUSH`, `HSET`, `XADD` ... then `PEXPIREAT`).
    Commands,
    /// Not a key: a function library (`FUNCTION LOAD`).
    Function,
}

/// What a reply must be for the command to count as applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// Any reply but an error.
    Success,
    /// Success, or a `BUSYKEY` error, which means the key already existed
    /// and was left as it was (`--on-conflict skip` with `RESTORE`).
    SuccessOrBusy,
}

/// One command for the target.
///
/// The commands of one key come in order and must be applied in that order;
/// the writers keep them so (one key always goes to one connection).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The key's database in the source (the caller maps it).
    pub db: u64,
    /// The key the command writes, for routing and for error messages;
    /// `None` for a command without a key (`FUNCTION LOAD`), which a
    /// cluster writer sends to every master.
    pub key: Option<Bytes>,
    /// The command.
    pub command: Command,
    /// How its key is written.
    pub mode: WriteMode,
    /// What its reply must be.
    pub expect: Expect,
    /// The last command of its key: the key counts as written once this and
    /// every command before it for the key succeeded.
    pub last_of_key: bool,
}
