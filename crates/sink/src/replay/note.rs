//! Notes: what could not be written, or not exactly, as data for the caller
//! to print, log or count.

use bytes::Bytes;
use ferry_rdb::{Encoding, StreamId};
use std::fmt;

/// Something left out or changed while turning RDB items into writes.
///
/// Each note is also counted in a summary (`unsupported`). Its [`fmt::Display`]
/// form is one line without a trailing period, for example
/// `db 0 key "k": member "m" has a NaN score, which ZADD refuses; skipped`.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// The key's database, for notes about a key.
    pub db: Option<u64>,
    /// The key, for notes about a key.
    pub key: Option<Bytes>,
    /// What happened.
    pub kind: NoteKind,
}

/// What a [`Note`] is about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NoteKind {
    /// A module value: no command rebuilds it (the key is skipped).
    ModuleValue {
        /// The module type's name (`ReJSON-RL` ...), empty if unknown.
        module: String,
    },
    /// A sorted-set member with a NaN score, which `ZADD` refuses (skipped).
    NanScore {
        /// The member.
        member: Bytes,
    },
    /// A stream entry without fields, which `XADD` refuses (skipped).
    EntryWithoutFields {
        /// The entry's id.
        id: StreamId,
    },
    /// A consumer's pending id that its group's pending list does not hold (skipped).
    UnlistedPending {
        /// The group.
        group: Bytes,
        /// The consumer.
        consumer: Bytes,
        /// The pending id.
        id: StreamId,
    },
    /// A consumer that owns no pending entry, on a target without `XGROUP
    /// CREATECONSUMER` (before Redis 6.2): it is not created.
    ConsumerNotCreated {
        /// The group.
        group: Bytes,
        /// The consumer.
        consumer: Bytes,
    },
    /// Hash fields written without their own TTL, on a target without
    /// `HPEXPIREAT` (before Redis 7.4 or Valkey 9.0).
    FieldTtlsDropped {
        /// How many fields of the key lost their TTL.
        fields: u64,
    },
    /// A function library in the format of Redis 7.0 release candidates,
    /// which `FUNCTION LOAD` does not take (skipped).
    PreGaFunction {
        /// The function's name.
        name: Bytes,
    },
    /// A function library, on a target without functions (before 7.0): skipped.
    FunctionsUnsupported,
    /// Module AUX data: no command writes it (skipped).
    ModuleAux {
        /// The module type's name.
        module: String,
    },
    /// A value the target cannot load with `RESTORE` (a module value, or any
    /// value under [`crate::plan::Mode::Restore`]): skipped.
    NotRestorable {
        /// The value's encoding in the source file.
        encoding: Encoding,
    },
    /// A value that must be restored (a module value, or any value under
    /// [`crate::plan::Mode::Restore`]) grew past the size the planner holds
    /// (`big_value_bytes`): skipped.
    TooBigToRestore {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// A value that must be restored arrived without its serialized bytes (the
    /// decoder was not in raw mode): skipped.
    NoRawBytes,
}

/// A key or name for messages: printable ASCII as is, the rest escaped.
fn shown(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.db, &self.key) {
            (Some(db), Some(key)) => write!(f, "db {db} key \"{}\": ", shown(key))?,
            (None, Some(key)) => write!(f, "key \"{}\": ", shown(key))?,
            _ => {}
        }
        match &self.kind {
            NoteKind::ModuleValue { module } => write!(
                f,
                "module value (type {module}) cannot be written as commands; skipped"
            ),
            NoteKind::NanScore { member } => write!(
                f,
                "member \"{}\" has a NaN score, which ZADD refuses; skipped",
                shown(member)
            ),
            NoteKind::EntryWithoutFields { id } => write!(
                f,
                "stream entry {id} has no fields, which XADD refuses; skipped"
            ),
            NoteKind::UnlistedPending {
                group,
                consumer,
                id,
            } => write!(
                f,
                "consumer \"{}\" has pending id {id} that group \"{}\" does not list; skipped",
                shown(consumer),
                shown(group)
            ),
            NoteKind::ConsumerNotCreated { group, consumer } => write!(
                f,
                "consumer \"{}\" of group \"{}\" owns no pending entry and the target has no \
                 XGROUP CREATECONSUMER; not created",
                shown(consumer),
                shown(group)
            ),
            NoteKind::FieldTtlsDropped { fields } => write!(
                f,
                "{fields} hash field(s) written without their TTL: the target has no HPEXPIREAT"
            ),
            NoteKind::PreGaFunction { name } => write!(
                f,
                "function \"{}\" is in the format of Redis 7.0 release candidates, which \
                 FUNCTION LOAD does not take; skipped",
                shown(name)
            ),
            NoteKind::FunctionsUnsupported => {
                f.write_str("function library skipped: the target has no functions (Redis 7.0+)")
            }
            NoteKind::ModuleAux { module } => write!(
                f,
                "AUX data of module type {module} cannot be written as commands; skipped"
            ),
            NoteKind::NotRestorable { encoding } => write!(
                f,
                "value encoded as {encoding} cannot be loaded by the target with RESTORE; skipped"
            ),
            NoteKind::TooBigToRestore { limit_bytes } => write!(
                f,
                "value must be restored but is larger than the {limit_bytes} bytes held per \
                 key; skipped"
            ),
            NoteKind::NoRawBytes => f.write_str(
                "value must be restored but its serialized bytes were not given (raw mode); skipped",
            ),
        }
    }
}
