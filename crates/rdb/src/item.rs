//! What the decoder emits: file-level records, key headers and element-level items.

use bytes::Bytes;
use std::fmt;

/// Which server family wrote the file, from its magic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Magic {
    /// `REDIS` followed by a four-digit version.
    Redis,
    /// `VALKEY` followed by a three-digit version (Valkey 9 writes `VALKEY080`).
    Valkey,
}

/// The file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Server family.
    pub magic: Magic,
    /// RDB format version from the header.
    pub version: u32,
}

/// The logical Redis type of a value, as `TYPE` would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A string.
    String,
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A hash.
    Hash,
    /// A stream.
    Stream,
    /// A module value.
    Module,
}

impl Kind {
    /// The lowercase name used by `TYPE` (`zset`, `hash`, ...), `module` for module values.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Hash => "hash",
            Kind::Stream => "stream",
            Kind::Module => "module",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The on-disk encoding of a value: the RDB type byte, interpreted.
///
/// Type byte 22 means two different things: Valkey's hash with field TTLs in
/// `VALKEY` files, and the pre-GA hash-field-expiry hash in `REDIS0012` files
/// written by Redis 7.4 release candidates. The decoder picks by the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// 0: plain string (raw, integer or LZF).
    String,
    /// 1: linked list of strings (Redis < 3.2).
    List,
    /// 2: hashtable set.
    Set,
    /// 3: skiplist sorted set with scores as decimal strings (RDB < 8).
    ZSet,
    /// 4: hashtable hash.
    Hash,
    /// 5: skiplist sorted set with binary double scores.
    ZSet2,
    /// 6: pre-GA module value without opcodes (Redis 4.0 RCs).
    ModulePreGa,
    /// 7: module value with typed opcodes, skippable without the module.
    Module2,
    /// 9: zipmap hash (Redis < 2.6).
    HashZipmap,
    /// 10: ziplist list.
    ListZiplist,
    /// 11: intset set.
    SetIntset,
    /// 12: ziplist sorted set.
    ZSetZiplist,
    /// 13: ziplist hash.
    HashZiplist,
    /// 14: quicklist of ziplists (Redis 3.2 to 6.2).
    ListQuicklist,
    /// 15: stream of listpacks, v1 (Redis 5 to 6.2).
    StreamListpacks,
    /// 16: listpack hash.
    HashListpack,
    /// 17: listpack sorted set.
    ZSetListpack,
    /// 18: quicklist of listpacks and plain nodes (Redis 7.0+).
    ListQuicklist2,
    /// 19: stream of listpacks, v2 (Redis 7.0+: first/max-deleted id, entries added, entries read).
    StreamListpacks2,
    /// 20: listpack set (Redis 7.2+).
    SetListpack,
    /// 21: stream of listpacks, v3 (Redis 7.2+: consumer active time).
    StreamListpacks3,
    /// 22 in `REDIS0012` files of Redis 7.4 release candidates: hashtable hash with field TTLs (pre-GA form).
    HashMetadataPreGa,
    /// 23 in `REDIS0012` files of Redis 7.4 release candidates: listpack hash with field TTLs (pre-GA form).
    HashListpackExPreGa,
    /// 24: hashtable hash with field TTLs (Redis 7.4+).
    HashMetadata,
    /// 25: listpack hash with field TTLs (Redis 7.4+).
    HashListpackEx,
    /// 22 in `VALKEY` files: Valkey's hashtable hash with field TTLs.
    ValkeyHash2,
}

impl Encoding {
    /// Interprets a type byte for a file of the given header, `None` if unknown.
    pub fn from_type_byte(byte: u8, magic: Magic) -> Option<Encoding> {
        Some(match byte {
            0 => Encoding::String,
            1 => Encoding::List,
            2 => Encoding::Set,
            3 => Encoding::ZSet,
            4 => Encoding::Hash,
            5 => Encoding::ZSet2,
            6 => Encoding::ModulePreGa,
            7 => Encoding::Module2,
            9 => Encoding::HashZipmap,
            10 => Encoding::ListZiplist,
            11 => Encoding::SetIntset,
            12 => Encoding::ZSetZiplist,
            13 => Encoding::HashZiplist,
            14 => Encoding::ListQuicklist,
            15 => Encoding::StreamListpacks,
            16 => Encoding::HashListpack,
            17 => Encoding::ZSetListpack,
            18 => Encoding::ListQuicklist2,
            19 => Encoding::StreamListpacks2,
            20 => Encoding::SetListpack,
            21 => Encoding::StreamListpacks3,
            22 if magic == Magic::Valkey => Encoding::ValkeyHash2,
            22 => Encoding::HashMetadataPreGa,
            23 if magic == Magic::Redis => Encoding::HashListpackExPreGa,
            24 if magic == Magic::Redis => Encoding::HashMetadata,
            25 if magic == Magic::Redis => Encoding::HashListpackEx,
            _ => return None,
        })
    }

    /// The type byte this encoding is written with.
    pub fn type_byte(self) -> u8 {
        match self {
            Encoding::String => 0,
            Encoding::List => 1,
            Encoding::Set => 2,
            Encoding::ZSet => 3,
            Encoding::Hash => 4,
            Encoding::ZSet2 => 5,
            Encoding::ModulePreGa => 6,
            Encoding::Module2 => 7,
            Encoding::HashZipmap => 9,
            Encoding::ListZiplist => 10,
            Encoding::SetIntset => 11,
            Encoding::ZSetZiplist => 12,
            Encoding::HashZiplist => 13,
            Encoding::ListQuicklist => 14,
            Encoding::StreamListpacks => 15,
            Encoding::HashListpack => 16,
            Encoding::ZSetListpack => 17,
            Encoding::ListQuicklist2 => 18,
            Encoding::StreamListpacks2 => 19,
            Encoding::SetListpack => 20,
            Encoding::StreamListpacks3 => 21,
            Encoding::HashMetadataPreGa | Encoding::ValkeyHash2 => 22,
            Encoding::HashListpackExPreGa => 23,
            Encoding::HashMetadata => 24,
            Encoding::HashListpackEx => 25,
        }
    }

    /// The logical type.
    pub fn kind(self) -> Kind {
        match self {
            Encoding::String => Kind::String,
            Encoding::List
            | Encoding::ListZiplist
            | Encoding::ListQuicklist
            | Encoding::ListQuicklist2 => Kind::List,
            Encoding::Set | Encoding::SetIntset | Encoding::SetListpack => Kind::Set,
            Encoding::ZSet | Encoding::ZSet2 | Encoding::ZSetZiplist | Encoding::ZSetListpack => {
                Kind::ZSet
            }
            Encoding::Hash
            | Encoding::HashZipmap
            | Encoding::HashZiplist
            | Encoding::HashListpack
            | Encoding::HashMetadataPreGa
            | Encoding::HashListpackExPreGa
            | Encoding::HashMetadata
            | Encoding::HashListpackEx
            | Encoding::ValkeyHash2 => Kind::Hash,
            Encoding::StreamListpacks | Encoding::StreamListpacks2 | Encoding::StreamListpacks3 => {
                Kind::Stream
            }
            Encoding::ModulePreGa | Encoding::Module2 => Kind::Module,
        }
    }

    /// A stable snake_case name (`set_listpack`, `zset_2`, `hash_listpack_ex` ...).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::String => "string",
            Encoding::List => "list",
            Encoding::Set => "set",
            Encoding::ZSet => "zset",
            Encoding::Hash => "hash",
            Encoding::ZSet2 => "zset_2",
            Encoding::ModulePreGa => "module_pre_ga",
            Encoding::Module2 => "module_2",
            Encoding::HashZipmap => "hash_zipmap",
            Encoding::ListZiplist => "list_ziplist",
            Encoding::SetIntset => "set_intset",
            Encoding::ZSetZiplist => "zset_ziplist",
            Encoding::HashZiplist => "hash_ziplist",
            Encoding::ListQuicklist => "list_quicklist",
            Encoding::StreamListpacks => "stream_listpacks",
            Encoding::HashListpack => "hash_listpack",
            Encoding::ZSetListpack => "zset_listpack",
            Encoding::ListQuicklist2 => "list_quicklist_2",
            Encoding::StreamListpacks2 => "stream_listpacks_2",
            Encoding::SetListpack => "set_listpack",
            Encoding::StreamListpacks3 => "stream_listpacks_3",
            Encoding::HashMetadataPreGa => "hash_metadata_pre_ga",
            Encoding::HashListpackExPreGa => "hash_listpack_ex_pre_ga",
            Encoding::HashMetadata => "hash_metadata",
            Encoding::HashListpackEx => "hash_listpack_ex",
            Encoding::ValkeyHash2 => "valkey_hash_2",
        }
    }

    /// True for hash encodings that carry per-field TTLs.
    pub fn has_field_ttls(self) -> bool {
        matches!(
            self,
            Encoding::HashMetadataPreGa
                | Encoding::HashListpackExPreGa
                | Encoding::HashMetadata
                | Encoding::HashListpackEx
                | Encoding::ValkeyHash2
        )
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A module type: the 64-bit id in the file and the 9-character name plus encoding version it packs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModuleType {
    /// The raw 64-bit module id as stored.
    pub id: u64,
}

impl ModuleType {
    const CHARSET: &'static [u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// The 9-character type name (e.g. `ReJSON-RL`).
    pub fn name(&self) -> String {
        let mut name = String::with_capacity(9);
        for i in 0..9 {
            let shift = 64 - 6 * (i + 1);
            let idx = ((self.id >> shift) & 63) as usize;
            name.push(Self::CHARSET[idx] as char);
        }
        name
    }

    /// The module's encoding version (low 10 bits of the id).
    pub fn encver(&self) -> u64 {
        self.id & 1023
    }
}

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Everything known about a key when its value starts.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHeader {
    /// Database number (from the last SELECTDB; 0 before any).
    pub db: u64,
    /// The key name, binary-safe. Integer-encoded keys are given as decimal text.
    pub key: Bytes,
    /// On-disk encoding (and so the logical type).
    pub encoding: Encoding,
    /// Absolute expire time in Unix milliseconds, if the key has one.
    pub expire_at_ms: Option<i64>,
    /// LRU idle time in seconds (IDLE opcode), if present.
    pub lru_idle: Option<u64>,
    /// LFU frequency (FREQ opcode), if present.
    pub lfu_freq: Option<u8>,
    /// Number of elements when the encoding states it up front (hash fields, set
    /// members, zset entries, list items; stream length is in [`StreamMeta`]).
    pub len: Option<u64>,
    /// Module type for module values.
    pub module: Option<ModuleType>,
    /// File offset of the value's type byte.
    pub offset: u64,
}

impl KeyHeader {
    /// The logical type.
    pub fn kind(&self) -> Kind {
        self.encoding.kind()
    }
}

/// A pending (delivered, not acknowledged) entry of a consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamNack {
    /// The entry id.
    pub id: StreamId,
    /// Last delivery time, Unix ms.
    pub delivery_time_ms: u64,
    /// Number of deliveries.
    pub delivery_count: u64,
}

/// Stream metadata, emitted after the stream's entries and before its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMeta {
    /// The stored length (what XLEN returns after load).
    pub length: u64,
    /// Last id generated.
    pub last_id: StreamId,
    /// First live id (v2+; `0-0` when absent).
    pub first_id: StreamId,
    /// Maximal deleted id (v2+).
    pub max_deleted_id: StreamId,
    /// Entries ever added (v2+; for v1 files, the stored length).
    pub entries_added: u64,
    /// Number of consumer groups that follow.
    pub group_count: u64,
}

/// A consumer group header; its PEL entries and consumers follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGroup {
    /// Group name.
    pub name: Bytes,
    /// Last delivered id.
    pub last_id: StreamId,
    /// Entries read counter (v2+); `None` in v1 files and when Redis saved it as unknown (-1).
    pub entries_read: Option<u64>,
    /// Number of [`Item::StreamPending`] items that follow.
    pub pel_len: u64,
}

/// A consumer header; its pending ids follow as [`Item::StreamConsumerPending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumer {
    /// Consumer name.
    pub name: Bytes,
    /// Seen time, Unix ms.
    pub seen_time_ms: u64,
    /// Active time, Unix ms (v3+).
    pub active_time_ms: Option<u64>,
    /// Number of pending ids that follow.
    pub pel_len: u64,
}

/// A stream entry with its field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Entry id.
    pub id: StreamId,
    /// Field/value pairs in order.
    pub fields: Vec<(Bytes, Bytes)>,
}

/// A Redis function library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The library code (`#!lua name=...` for FUNCTION2).
    pub code: Bytes,
    /// For the Redis 7.0 release-candidate format (opcode 246): name, engine and description.
    pub pre_ga: Option<Box<PreGaFunction>>,
}

/// The extra fields of a Redis 7.0 release-candidate function (opcode 246).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreGaFunction {
    /// Function name.
    pub name: Bytes,
    /// Engine name (`LUA`).
    pub engine: Bytes,
    /// Optional description.
    pub description: Option<Bytes>,
}

/// Auxiliary data a module saved outside keys (MODULE_AUX opcode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleAux {
    /// Module type.
    pub module: ModuleType,
    /// When the module asked to save it (before or after keys).
    pub when: u64,
    /// Serialized payload (module opcodes up to and including the EOF opcode).
    pub payload: Bytes,
}

/// One thing decoded from an RDB stream.
///
/// A key is a [`Item::Key`] header, then its elements, then [`Item::KeyEnd`].
/// Elements are bounded: a long string value arrives as several
/// [`Item::StringChunk`]s, a big collection as one item per element.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Item {
    /// The file header, always first.
    Header(Header),
    /// An AUX field (`redis-ver`, `ctime`, `lua`, `repl-id` ...).
    Aux {
        /// Field name.
        key: Bytes,
        /// Field value.
        value: Bytes,
    },
    /// SELECTDB: the following keys belong to this database.
    SelectDb(u64),
    /// RESIZEDB hints for the current database.
    ResizeDb {
        /// Keys in the database.
        db_size: u64,
        /// Keys with an expire time.
        expires_size: u64,
    },
    /// SLOT_INFO (cluster files, Redis 7.4+).
    SlotInfo {
        /// Slot number.
        slot_id: u64,
        /// Keys in the slot.
        slot_size: u64,
        /// Keys with an expire time in the slot.
        expires_slot_size: u64,
    },
    /// MODULE_AUX data.
    ModuleAux(ModuleAux),
    /// A function library (FUNCTION2, or FUNCTION_PRE_GA).
    Function(Function),
    /// A key starts. (Boxed: items are moved often, and the header is the largest.)
    Key(Box<KeyHeader>),
    /// A chunk of a string value, at most [`crate::Config::chunk_len`] bytes
    /// (chunks concatenate to the value; an empty string is one empty chunk).
    StringChunk(Bytes),
    /// A list element.
    ListItem(Bytes),
    /// A set member.
    SetMember(Bytes),
    /// A sorted set member with its score.
    ZSetEntry {
        /// Member.
        member: Bytes,
        /// Score.
        score: f64,
    },
    /// A hash field and value, with the field's own TTL where the encoding has one.
    HashField {
        /// Field.
        field: Bytes,
        /// Value.
        value: Bytes,
        /// Absolute expire time of the field, Unix ms.
        expire_at_ms: Option<u64>,
    },
    /// A live stream entry.
    StreamEntry(StreamEntry),
    /// Stream metadata after the entries.
    StreamMeta(StreamMeta),
    /// A consumer group.
    StreamGroup(StreamGroup),
    /// A pending entry of the current group.
    StreamPending(StreamNack),
    /// A consumer of the current group.
    StreamConsumer(StreamConsumer),
    /// A pending id of the current consumer.
    StreamConsumerPending(StreamId),
    /// A chunk of a module value's serialized payload (after the module id,
    /// up to and including the module EOF opcode for MODULE_2).
    ModuleChunk(Bytes),
    /// Raw mode only: a chunk of the value's serialized bytes, starting with
    /// its type byte. The chunks of one key concatenate to the value part of a
    /// DUMP payload (see [`crate::dump`]).
    Raw(Bytes),
    /// The current key is complete.
    KeyEnd,
    /// EOF opcode and trailer: the stream is complete.
    End {
        /// The checksum stored in the trailer (`None` before RDB 5, `Some(0)` when disabled).
        checksum: Option<u64>,
    },
}
