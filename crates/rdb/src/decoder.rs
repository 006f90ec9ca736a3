//! The sans-IO decoder state machine.
//!
//! The input is parsed in *units*: an opcode with its payload, a key with the
//! head of its value, one element, one chunk of a long string. A unit is
//! consumed only once it is complete, so `decode` can stop at any byte and be
//! called again with more. Units are bounded by [`Config::max_element_len`]
//! (an element or a compact-encoding blob) or by [`Config::chunk_len`] (long
//! strings and module values, which are streamed).

use crate::cursor::{Cursor, Len, Res, Stop, StrRef, int_text};
use crate::encodings::intset::Intset;
use crate::encodings::listpack::Listpack;
use crate::encodings::ziplist::Ziplist;
use crate::encodings::zipmap::Zipmap;
use crate::encodings::{BlobError, Element};
use crate::error::{Error, ErrorKind};
use crate::item::{
    Encoding, Function, Header, Item, KeyHeader, Magic, ModuleAux, ModuleType, PreGaFunction,
    StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamMeta, StreamNack,
};
use crate::lzf::StreamDecoder;
use crate::{MAX_REDIS_VERSION, MAX_VALKEY_VERSION};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;

/// Redis Enterprise's RAM_LRU opcode (librdb's `__RDB_OPCODE_RAM_LRU`): one
/// length before a key, with no meaning for open-source servers.
const OP_ENTERPRISE_RAM_LRU: u8 = 107;
const OP_SLOT_INFO: u8 = 244;
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION_PRE_GA: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

const MODULE_OP_EOF: u64 = 0;
const MODULE_OP_SINT: u64 = 1;
const MODULE_OP_UINT: u64 = 2;
const MODULE_OP_FLOAT: u64 = 3;
const MODULE_OP_DOUBLE: u64 = 4;
const MODULE_OP_STRING: u64 = 5;

const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

const STREAM_ITEM_FLAG_DELETED: i64 = 1;
const STREAM_ITEM_FLAG_SAMEFIELDS: i64 = 2;

/// Decoder settings. Limits bound memory; defaults suit any real server's files.
#[derive(Debug, Clone)]
pub struct Config {
    /// Verify the CRC64 trailer (RDB 5+). A stored checksum of 0 means "disabled" and always passes.
    pub verify_checksum: bool,
    /// Also emit each value's serialized bytes as [`Item::Raw`] chunks (for DUMP payloads).
    pub raw: bool,
    /// Emit only key headers and [`Item::KeyEnd`], not elements (fast key listing).
    pub skip_values: bool,
    /// Largest [`Item::StringChunk`] in bytes; also the size from which
    /// [`Item::ModuleChunk`] and [`Item::Raw`] chunks are flushed (those hold
    /// whole units, so one may exceed it by one element). An LZF-compressed
    /// string is read `chunk_len` compressed bytes at a time, which expand to
    /// at most 88 times that before being cut into chunks: that is the most a
    /// string value holds in memory (5.5 MiB with the default).
    pub chunk_len: usize,
    /// Largest single element, key, AUX value or compact-encoding blob held whole, in bytes.
    pub max_element_len: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            verify_checksum: true,
            raw: false,
            skip_values: false,
            chunk_len: 64 * 1024,
            max_element_len: 512 * 1024 * 1024,
        }
    }
}

/// What a blob's entries mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    List,
    Set,
    ZSet,
    Hash,
    /// field, value, TTL triples (listpack-ex hashes).
    HashTtl,
}

#[derive(Debug)]
enum Src {
    Listpack(Listpack),
    Ziplist(Ziplist),
    Intset(Intset),
    Zipmap(Zipmap),
}

/// Where to go when a blob is exhausted.
#[derive(Debug, Clone, Copy)]
enum After {
    End,
    Quicklist { left: u64, v2: bool },
}

/// Where a blob's bytes are in the stream. Offsets inside an LZF-compressed
/// blob have no place in the file; errors there point at its compressed data.
#[derive(Debug, Clone, Copy)]
struct BlobAt {
    at: u64,
    mapped: bool,
}

impl BlobAt {
    /// The blob of string `s` in a unit that starts at stream offset `unit_at`.
    fn of(unit_at: u64, s: &StrRef) -> BlobAt {
        match *s {
            StrRef::Raw { start, .. } => BlobAt {
                at: unit_at + start as u64,
                mapped: true,
            },
            StrRef::Lzf { start, .. } => BlobAt {
                at: unit_at + start as u64,
                mapped: false,
            },
            StrRef::Int(_) => BlobAt {
                at: unit_at,
                mapped: false,
            },
        }
    }

    /// The stream offset of byte `inner` of the blob.
    fn offset(self, inner: usize) -> u64 {
        if self.mapped {
            self.at + inner as u64
        } else {
            self.at
        }
    }

    fn error(self, e: BlobError) -> Error {
        Error::new(ErrorKind::Corrupt { what: e.what }, self.offset(e.at))
    }
}

#[derive(Debug)]
struct Blob {
    src: Src,
    role: Role,
    base: BlobAt,
    after: After,
}

#[derive(Debug)]
struct StreamLp {
    lp: Listpack,
    master: StreamId,
    fields: Vec<Bytes>,
    started: bool,
    base: BlobAt,
    left: u64,
}

#[derive(Debug, Clone, Copy)]
enum ElemKind {
    List,
    Set,
    /// Sorted set with scores as strings (type 3).
    ZSetText,
    /// Sorted set with binary scores (type 5).
    ZSetBinary,
    Hash,
    /// Hash with a TTL length before each field: absolute ms (pre-GA 22), or
    /// relative to a minimum as `expire - min + 1` (GA 24, `min` given); 0 is none.
    HashTtl {
        min: Option<u64>,
    },
    /// Valkey's type 22: field, value, then an 8-byte expire time (-1 is none).
    ValkeyHash,
}

#[derive(Debug)]
enum Val {
    Str {
        left: u64,
        first: bool,
    },
    StrLzf {
        left_c: u64,
        lzf: StreamDecoder,
    },
    Elems {
        kind: ElemKind,
        left: u64,
    },
    Blob(Blob),
    Quicklist {
        left: u64,
        v2: bool,
    },
    StreamListpacks {
        left: u64,
    },
    StreamLp(StreamLp),
    StreamMeta,
    StreamGroups {
        left: u64,
    },
    StreamPel {
        left: u64,
        groups_left: u64,
    },
    StreamConsumers {
        left: u64,
        groups_left: u64,
    },
    StreamConsumerPel {
        left: u64,
        consumers_left: u64,
        groups_left: u64,
    },
    Module,
    ModuleLens {
        left: u64,
    },
    End,
}

#[derive(Debug)]
enum State {
    Header,
    Top,
    Value(Val),
    Trailer,
    Done,
}

/// CRC64 over the stream, fed unit by unit. Small units are staged and
/// hashed in blocks: the SIMD kernel costs far more per call than per byte.
#[derive(Debug)]
struct Crc {
    digest: crc_fast::Digest,
    stage: Vec<u8>,
}

impl Crc {
    const STAGE_BYTES: usize = 32 * 1024;
    const DIRECT_BYTES: usize = 512;

    fn new() -> Self {
        Crc {
            digest: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis),
            stage: Vec::with_capacity(Self::STAGE_BYTES),
        }
    }

    #[inline]
    fn update(&mut self, data: &[u8]) {
        if data.len() >= Self::DIRECT_BYTES {
            self.flush();
            self.digest.update(data);
        } else {
            self.stage.extend_from_slice(data);
            if self.stage.len() >= Self::STAGE_BYTES {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        if !self.stage.is_empty() {
            self.digest.update(&self.stage);
            self.stage.clear();
        }
    }

    fn finalize(&mut self) -> u64 {
        self.flush();
        self.digest.finalize()
    }
}

/// Key metadata set by opcodes before the key.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    expire_at_ms: Option<i64>,
    lru_idle: Option<u64>,
    lfu_freq: Option<u8>,
}

/// A resumable RDB decoder: feed it bytes, take [`Item`]s.
///
/// ```
/// use bytes::BytesMut;
/// use ferry_rdb::{Decoder, Item};
///
/// let mut file = b"REDIS0011\xfe\x00\x00\x03key\x05value\xff".to_vec();
/// file.extend_from_slice(&ferry_rdb::crc64(&file).to_le_bytes());
///
/// let mut decoder = Decoder::new();
/// let mut buf = BytesMut::new();
/// let mut items = Vec::new();
/// for piece in file.chunks(4) {
///     buf.extend_from_slice(piece);
///     while let Some(item) = decoder.decode(&mut buf)? {
///         items.push(item);
///     }
/// }
/// decoder.finish()?;
/// assert!(matches!(&items[2], Item::Key(h) if &h.key[..] == b"key"));
/// assert_eq!(items[3], Item::StringChunk("value".into()));
/// # Ok::<(), ferry_rdb::Error>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    state: State,
    offset: u64,
    needed: usize,
    header: Option<Header>,
    crc: Option<Crc>,
    db: u64,
    pending: Pending,
    key: Option<Bytes>,
    queue: VecDeque<Item>,
    raw: BytesMut,
    module: BytesMut,
    cur_encoding: Option<Encoding>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// A unit's parse result, before it is consumed.
enum Unit {
    Eof,
    Ignored,
    SelectDb(u64),
    ExpireMs(i64),
    ResizeDb(u64, u64),
    Aux(StrRef, StrRef),
    Freq(u8),
    Idle(u64),
    ModuleAux {
        module: u64,
        when: u64,
        start: usize,
    },
    FunctionPreGa {
        name: StrRef,
        engine: StrRef,
        desc: Option<StrRef>,
        code: StrRef,
    },
    Function2(StrRef),
    SlotInfo(u64, u64, u64),
    Key(KeyUnit),
}

struct KeyUnit {
    encoding: Encoding,
    key: StrRef,
    /// Offset of the value part (after the key) within the unit.
    value_at: usize,
    head: Head,
}

/// The head of a value, read together with the key.
enum Head {
    /// A string streamed in chunks: its length.
    Str(u64),
    StrLzf {
        clen: u64,
        len: u64,
    },
    StrInt(i64),
    Count(u64),
    Blob(Option<StrRef>),
    Module(u64),
    /// A whole short string at this position of the unit.
    StrInline(usize, usize),
    /// A whole short compressed string: position, compressed and decompressed lengths.
    StrInlineLzf(usize, usize, usize),
    /// Minimal field expire time and field count (hash_metadata).
    HashMin(u64, u64),
    /// A pre-GA module value made of `count` RDB lengths, starting at `payload_at`.
    ModuleLens {
        id: u64,
        count: u64,
        payload_at: usize,
    },
}

impl Decoder {
    /// A decoder with the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A decoder with the given settings.
    pub fn with_config(mut config: Config) -> Self {
        config.chunk_len = config.chunk_len.max(1);
        Decoder {
            config,
            state: State::Header,
            offset: 0,
            needed: 9,
            header: None,
            crc: None,
            db: 0,
            pending: Pending::default(),
            key: None,
            queue: VecDeque::new(),
            raw: BytesMut::new(),
            module: BytesMut::new(),
            cur_encoding: None,
        }
    }

    /// The least number of additional bytes the last `Ok(None)` needs (0 when done).
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Tells the decoder the input has ended.
    ///
    /// # Errors
    /// [`ErrorKind::Truncated`] unless the end of the RDB has been decoded.
    pub fn finish(&self) -> Result<(), Error> {
        if self.is_done() {
            return Ok(());
        }
        let what = match &self.state {
            State::Header => "header",
            State::Top => "opcode or key",
            State::Value(_) => "value",
            State::Trailer => "checksum trailer",
            State::Done => "end",
        };
        let err = Error::new(ErrorKind::Truncated { what }, self.offset);
        Err(match (&self.state, &self.key) {
            (State::Value(_), Some(k)) => err.with_key(k.clone()),
            _ => err,
        })
    }

    /// Bytes consumed so far: the stream offset of the next unit.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The header, once decoded.
    pub fn header(&self) -> Option<Header> {
        self.header
    }

    /// True once [`Item::End`] has been emitted. Bytes after the end are left in the buffer.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done) && self.queue.is_empty()
    }

    /// The current database (the last SELECTDB).
    pub fn db(&self) -> u64 {
        self.db
    }

    /// Decodes the next item from the front of `buf`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds too little for the next item; then
    /// [`Decoder::needed`] tells how many more bytes are needed at least. Once
    /// the RDB is complete, returns `Ok(None)` and leaves any further bytes alone.
    ///
    /// # Errors
    /// Any malformed input, with its byte offset and the key being read. After
    /// an error the decoder's state is unspecified: start a new one.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Item>, Error> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            match self.step(buf) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    return Err(match &self.key {
                        Some(k) if e.key().is_none() => e.with_key(k.clone()),
                        _ => e,
                    });
                }
            }
        }
    }

    fn err(&self, kind: ErrorKind, at: usize) -> Error {
        Error::new(kind, self.offset + at as u64)
    }

    /// Turns a parse stop into "need more" (Ok(false)) or an error.
    fn stop(&mut self, s: Stop) -> Result<bool, Error> {
        match s {
            Stop::More(n) => {
                self.needed = n;
                Ok(false)
            }
            Stop::Bad(kind, at) => Err(self.err(kind, at)),
        }
    }

    /// Consumes `n` bytes of input as one unit, returning them.
    fn take(&mut self, buf: &mut BytesMut, n: usize) -> Bytes {
        let unit = buf.split_to(n).freeze();
        self.account(&unit);
        unit
    }

    /// Consumes `n` bytes without keeping them.
    fn skip(&mut self, buf: &mut BytesMut, n: usize) {
        if let Some(crc) = &mut self.crc {
            crc.update(&buf[..n]);
        }
        if self.config.raw && matches!(self.state, State::Value(_)) {
            self.raw.extend_from_slice(&buf[..n]);
            self.flush_raw(false);
        }
        self.offset += n as u64;
        buf.advance(n);
    }

    fn account(&mut self, unit: &[u8]) {
        if let Some(crc) = &mut self.crc {
            crc.update(unit);
        }
        if self.config.raw && matches!(self.state, State::Value(_)) {
            self.raw.extend_from_slice(unit);
            self.flush_raw(false);
        }
        self.offset += unit.len() as u64;
    }

    fn flush_raw(&mut self, all: bool) {
        if (all && !self.raw.is_empty()) || self.raw.len() >= self.config.chunk_len {
            let chunk = self.raw.split().freeze();
            self.queue.push_back(Item::Raw(chunk));
        }
    }

    fn emit(&mut self, item: Item) {
        self.queue.push_back(item);
    }

    /// Where an element goes in the queue: before the Raw chunks flushed
    /// while consuming it (raw mode), else at the end.
    fn elem_slot(&self) -> usize {
        if self.config.raw {
            self.queue
                .iter()
                .position(|i| matches!(i, Item::Raw(_)))
                .unwrap_or(self.queue.len())
        } else {
            self.queue.len()
        }
    }

    fn emit_elem(&mut self, item: Item) {
        if !self.config.skip_values {
            let at = self.elem_slot();
            if at == self.queue.len() {
                self.queue.push_back(item);
            } else {
                self.queue.insert(at, item);
            }
        }
    }

    /// Emits decompressed string bytes as chunks of at most `chunk_len`.
    fn emit_string(&mut self, data: Bytes) {
        if self.config.skip_values {
            return;
        }
        let at = self.elem_slot();
        let mut pos = 0;
        let mut n = 0;
        while pos < data.len() {
            let end = (pos + self.config.chunk_len).min(data.len());
            self.queue
                .insert(at + n, Item::StringChunk(data.slice(pos..end)));
            pos = end;
            n += 1;
        }
    }

    fn magic(&self) -> Magic {
        self.header.map_or(Magic::Redis, |h| h.magic)
    }

    fn version(&self) -> u32 {
        self.header.map_or(0, |h| h.version)
    }

    /// Materializes a string of a consumed unit; `at` is the unit's offset.
    fn string(&self, unit: &Bytes, s: StrRef, at: u64) -> Result<Bytes, Error> {
        s.bytes(unit).map_err(|k| Error::new(k, at))
    }

    /// One step: parse and consume one unit. `Ok(false)` when more input is needed.
    fn step(&mut self, buf: &mut BytesMut) -> Result<bool, Error> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Header => {
                self.state = State::Header;
                self.step_header(buf)
            }
            State::Top => {
                self.state = State::Top;
                self.step_top(buf)
            }
            State::Value(v) => self.step_value(buf, v),
            State::Trailer => {
                self.state = State::Trailer;
                self.step_trailer(buf)
            }
            State::Done => {
                self.needed = 0;
                Ok(false)
            }
        }
    }

    fn step_header(&mut self, buf: &mut BytesMut) -> Result<bool, Error> {
        let have = &buf[..buf.len().min(9)];
        let redis = b"REDIS".starts_with(&have[..have.len().min(5)]);
        let valkey = b"VALKEY".starts_with(&have[..have.len().min(6)]);
        if !redis && !valkey {
            return Err(self.err(ErrorKind::BadMagic, 0));
        }
        if have.len() < 9 {
            self.needed = 9 - have.len();
            return Ok(false);
        }
        let (magic, digits) = if have.starts_with(b"REDIS") {
            (Magic::Redis, &have[5..9])
        } else {
            (Magic::Valkey, &have[6..9])
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(self.err(ErrorKind::BadMagic, 0));
        }
        let version = digits
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        let supported = match magic {
            Magic::Redis => (1..=MAX_REDIS_VERSION).contains(&version),
            Magic::Valkey => (80..=MAX_VALKEY_VERSION).contains(&version),
        };
        if !supported {
            return Err(self.err(ErrorKind::UnsupportedVersion { version }, 0));
        }
        let header = Header { magic, version };
        self.header = Some(header);
        if version >= 5 && self.config.verify_checksum {
            self.crc = Some(Crc::new());
        }
        self.skip(buf, 9);
        self.emit(Item::Header(header));
        self.state = State::Top;
        Ok(true)
    }

    fn step_trailer(&mut self, buf: &mut BytesMut) -> Result<bool, Error> {
        if self.version() < 5 {
            self.state = State::Done;
            self.emit(Item::End { checksum: None });
            return Ok(true);
        }
        if buf.len() < 8 {
            self.needed = 8 - buf.len();
            return Ok(false);
        }
        let mut stored = [0u8; 8];
        stored.copy_from_slice(&buf[..8]);
        let stored = u64::from_le_bytes(stored);
        if let Some(mut crc) = self.crc.take() {
            let actual = crc.finalize();
            if stored != 0 && stored != actual {
                return Err(self.err(
                    ErrorKind::ChecksumMismatch {
                        expected: stored,
                        actual,
                    },
                    0,
                ));
            }
        }
        self.offset += 8;
        buf.advance(8);
        self.state = State::Done;
        self.emit(Item::End {
            checksum: Some(stored),
        });
        Ok(true)
    }

    fn parse_top(&self, c: &mut Cursor) -> Res<Unit> {
        let max = self.config.max_element_len;
        let op = c.u8()?;
        Ok(match op {
            OP_EOF => Unit::Eof,
            OP_SELECTDB => Unit::SelectDb(c.len("SELECTDB")?),
            OP_EXPIRETIME => Unit::ExpireMs(i64::from(c.i32_le()?) * 1000),
            OP_EXPIRETIME_MS => Unit::ExpireMs(c.u64_le()? as i64),
            OP_RESIZEDB => Unit::ResizeDb(c.len("RESIZEDB")?, c.len("RESIZEDB")?),
            OP_AUX => Unit::Aux(c.string(max, "AUX key")?, c.string(max, "AUX value")?),
            OP_FREQ => Unit::Freq(c.u8()?),
            OP_IDLE => Unit::Idle(c.len("IDLE")?),
            OP_ENTERPRISE_RAM_LRU if self.magic() == Magic::Redis => {
                c.len("RAM_LRU")?;
                Unit::Ignored
            }
            OP_SLOT_INFO => Unit::SlotInfo(
                c.len("SLOT_INFO")?,
                c.len("SLOT_INFO")?,
                c.len("SLOT_INFO")?,
            ),
            OP_FUNCTION2 => Unit::Function2(c.string(max, "function")?),
            OP_FUNCTION_PRE_GA => {
                let name = c.string(max, "function name")?;
                let engine = c.string(max, "function engine")?;
                let desc = match c.len("function description flag")? {
                    0 => None,
                    _ => Some(c.string(max, "function description")?),
                };
                let code = c.string(max, "function code")?;
                Unit::FunctionPreGa {
                    name,
                    engine,
                    desc,
                    code,
                }
            }
            OP_MODULE_AUX => {
                let module = c.len("module id")?;
                let when_op = c.len("module aux when opcode")?;
                if when_op != MODULE_OP_UINT {
                    return c.bad(ErrorKind::Corrupt {
                        what: "module aux when opcode",
                    });
                }
                let when = c.len("module aux when")?;
                let start = c.pos;
                while !module_opcode(c, max)? {}
                Unit::ModuleAux {
                    module,
                    when,
                    start,
                }
            }
            t => {
                let Some(encoding) = Encoding::from_type_byte(t, self.magic()) else {
                    c.pos -= 1;
                    return c.bad(if t <= 30 {
                        ErrorKind::UnknownType { byte: t }
                    } else {
                        ErrorKind::UnknownOpcode { byte: t }
                    });
                };
                let key = c.string(max, "key")?;
                let value_at = c.pos;
                let head = self.parse_head(c, encoding)?;
                Unit::Key(KeyUnit {
                    encoding,
                    key,
                    value_at,
                    head,
                })
            }
        })
    }

    fn parse_head(&self, c: &mut Cursor, encoding: Encoding) -> Res<Head> {
        use Encoding as E;
        let max = self.config.max_element_len;
        Ok(match encoding {
            E::String => {
                let start = c.pos;
                match c.length()? {
                    Len::Plain(n) if n <= self.config.chunk_len as u64 => {
                        // Short enough to be one chunk: read it with the key.
                        let at = c.pos;
                        c.skip(n)?;
                        Head::StrInline(at, n as usize)
                    }
                    Len::Plain(n) => Head::Str(n),
                    Len::Special(3) => {
                        let clen = c.len("LZF compressed length")?;
                        let len = c.len("LZF uncompressed length")?;
                        if len <= self.config.chunk_len as u64 {
                            let at = c.pos;
                            c.skip(clen)?;
                            Head::StrInlineLzf(at, clen as usize, len as usize)
                        } else {
                            Head::StrLzf { clen, len }
                        }
                    }
                    Len::Special(_) => {
                        c.pos = start;
                        match c.string(max, "string")? {
                            StrRef::Int(v) => Head::StrInt(v),
                            _ => return c.bad(ErrorKind::Corrupt { what: "string" }),
                        }
                    }
                }
            }
            E::List | E::Set | E::ZSet | E::Hash | E::ZSet2 => Head::Count(c.len("length")?),
            E::ListQuicklist | E::ListQuicklist2 => Head::Count(c.len("quicklist length")?),
            E::StreamListpacks | E::StreamListpacks2 | E::StreamListpacks3 => {
                Head::Count(c.len("stream listpacks")?)
            }
            E::HashZipmap
            | E::ListZiplist
            | E::SetIntset
            | E::ZSetZiplist
            | E::HashZiplist
            | E::HashListpack
            | E::ZSetListpack
            | E::SetListpack
            | E::HashListpackExPreGa => {
                if self.config.skip_values {
                    c.skip_string()?;
                    Head::Blob(None)
                } else {
                    Head::Blob(Some(c.string(max, "encoded value")?))
                }
            }
            E::HashListpackEx => {
                // Minimal field expire time, then the listpack.
                c.u64_le()?;
                if self.config.skip_values {
                    c.skip_string()?;
                    Head::Blob(None)
                } else {
                    Head::Blob(Some(c.string(max, "encoded value")?))
                }
            }
            E::HashMetadata => {
                let min = c.u64_le()?;
                Head::HashMin(min, c.len("length")?)
            }
            E::HashMetadataPreGa | E::ValkeyHash2 => Head::Count(c.len("length")?),
            E::Module2 => Head::Module(c.len("module id")?),
            E::ModulePreGa => {
                let id = c.len("module id")?;
                let module = ModuleType { id };
                // Values without opcodes can only be framed when the layout is
                // known: Redis's own example module `hellotype` (encver 0)
                // saves a count and that many integers as RDB lengths.
                if module.name() != "hellotype" || module.encver() != 0 {
                    return c.bad(ErrorKind::UnsupportedModule {
                        name: module.name(),
                    });
                }
                let payload_at = c.pos;
                let count = c.len("module value length")?;
                Head::ModuleLens {
                    id,
                    count,
                    payload_at,
                }
            }
        })
    }

    fn step_top(&mut self, buf: &mut BytesMut) -> Result<bool, Error> {
        let mut c = Cursor::new(&buf[..]);
        let unit = match self.parse_top(&mut c) {
            Ok(u) => u,
            Err(s) => return self.stop(s),
        };
        let n = c.pos;
        let at = self.offset;
        match unit {
            Unit::Eof => {
                self.skip(buf, n);
                self.state = State::Trailer;
            }
            Unit::Ignored => self.skip(buf, n),
            Unit::SelectDb(db) => {
                self.skip(buf, n);
                self.db = db;
                self.emit(Item::SelectDb(db));
            }
            Unit::ExpireMs(ms) => {
                self.skip(buf, n);
                self.pending.expire_at_ms = Some(ms);
            }
            Unit::ResizeDb(db_size, expires_size) => {
                self.skip(buf, n);
                self.emit(Item::ResizeDb {
                    db_size,
                    expires_size,
                });
            }
            Unit::Freq(f) => {
                self.skip(buf, n);
                self.pending.lfu_freq = Some(f);
            }
            Unit::Idle(i) => {
                self.skip(buf, n);
                self.pending.lru_idle = Some(i);
            }
            Unit::SlotInfo(slot_id, slot_size, expires_slot_size) => {
                self.skip(buf, n);
                self.emit(Item::SlotInfo {
                    slot_id,
                    slot_size,
                    expires_slot_size,
                });
            }
            Unit::Aux(k, v) => {
                let unit = self.take(buf, n);
                let key = self.string(&unit, k, at)?;
                let value = self.string(&unit, v, at)?;
                self.emit(Item::Aux { key, value });
            }
            Unit::Function2(code) => {
                let unit = self.take(buf, n);
                let code = self.string(&unit, code, at)?;
                self.emit(Item::Function(Function { code, pre_ga: None }));
            }
            Unit::FunctionPreGa {
                name,
                engine,
                desc,
                code,
            } => {
                let unit = self.take(buf, n);
                let pre = PreGaFunction {
                    name: self.string(&unit, name, at)?,
                    engine: self.string(&unit, engine, at)?,
                    description: match desc {
                        Some(d) => Some(self.string(&unit, d, at)?),
                        None => None,
                    },
                };
                let code = self.string(&unit, code, at)?;
                self.emit(Item::Function(Function {
                    code,
                    pre_ga: Some(Box::new(pre)),
                }));
            }
            Unit::ModuleAux {
                module,
                when,
                start,
            } => {
                let unit = self.take(buf, n);
                self.emit(Item::ModuleAux(ModuleAux {
                    module: ModuleType { id: module },
                    when,
                    payload: unit.slice(start..),
                }));
            }
            Unit::Key(k) => self.begin_key(buf, n, k)?,
        }
        Ok(true)
    }

    fn begin_key(&mut self, buf: &mut BytesMut, n: usize, k: KeyUnit) -> Result<(), Error> {
        let at = self.offset;
        // Consume as a top-level unit (no raw), then seed raw with the value part.
        let unit = self.take(buf, n);
        let key = self.string(&unit, k.key, at)?;
        self.key = Some(key.clone());
        self.cur_encoding = Some(k.encoding);
        if self.config.raw {
            self.raw.clear();
            self.raw.extend_from_slice(&[k.encoding.type_byte()]);
            self.raw.extend_from_slice(&unit[k.value_at..]);
        }
        let pending = std::mem::take(&mut self.pending);
        let value_at = at + k.value_at as u64;
        let mut module = None;
        let (len, val) = match k.head {
            Head::StrInline(start, len) => {
                self.emit_elem(Item::StringChunk(unit.slice(start..start + len)));
                (Some(len as u64), Val::End)
            }
            Head::StrInlineLzf(start, clen, len) => {
                if !self.config.skip_values {
                    let text = crate::lzf::decompress(&unit[start..start + clen], len)
                        .map_err(|k| Error::new(k, value_at))?;
                    self.emit_elem(Item::StringChunk(Bytes::from(text)));
                }
                (Some(len as u64), Val::End)
            }
            Head::Str(len) => (
                Some(len),
                Val::Str {
                    left: len,
                    first: true,
                },
            ),
            Head::StrInt(v) => {
                let text = int_text(v);
                let len = text.len() as u64;
                self.emit_elem(Item::StringChunk(text));
                (Some(len), Val::End)
            }
            Head::StrLzf { clen, len } => {
                let out = usize::try_from(len).map_err(|_| {
                    Error::new(
                        ErrorKind::LimitExceeded {
                            what: "string length",
                            limit: usize::MAX as u64,
                            found: len,
                        },
                        value_at,
                    )
                })?;
                (
                    Some(len),
                    Val::StrLzf {
                        left_c: clen,
                        lzf: StreamDecoder::new(out),
                    },
                )
            }
            Head::Count(count) => {
                use Encoding as E;
                match k.encoding {
                    E::List => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::List,
                            left: count,
                        },
                    ),
                    E::Set => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::Set,
                            left: count,
                        },
                    ),
                    E::ZSet => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::ZSetText,
                            left: count,
                        },
                    ),
                    E::ZSet2 => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::ZSetBinary,
                            left: count,
                        },
                    ),
                    E::Hash => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::Hash,
                            left: count,
                        },
                    ),
                    E::HashMetadataPreGa => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::HashTtl { min: None },
                            left: count,
                        },
                    ),
                    E::ValkeyHash2 => (
                        Some(count),
                        Val::Elems {
                            kind: ElemKind::ValkeyHash,
                            left: count,
                        },
                    ),
                    E::ListQuicklist => (
                        None,
                        Val::Quicklist {
                            left: count,
                            v2: false,
                        },
                    ),
                    E::ListQuicklist2 => (
                        None,
                        Val::Quicklist {
                            left: count,
                            v2: true,
                        },
                    ),
                    _ => (None, Val::StreamListpacks { left: count }),
                }
            }
            Head::HashMin(min, count) => (
                Some(count),
                Val::Elems {
                    kind: ElemKind::HashTtl { min: Some(min) },
                    left: count,
                },
            ),
            Head::Blob(None) => (None, Val::End),
            Head::Blob(Some(s)) => {
                let data = self.string(&unit, s, value_at)?;
                let blob = self.open_blob(k.encoding, data, BlobAt::of(at, &s), After::End)?;
                (blob_len(&blob), Val::Blob(blob))
            }
            Head::ModuleLens {
                id,
                count,
                payload_at,
            } => {
                module = Some(ModuleType { id });
                self.module.clear();
                self.module.extend_from_slice(&unit[payload_at..]);
                (None, Val::ModuleLens { left: count })
            }
            Head::Module(id) => {
                module = Some(ModuleType { id });
                self.module.clear();
                (None, Val::Module)
            }
        };
        let header = KeyHeader {
            db: self.db,
            key,
            encoding: k.encoding,
            expire_at_ms: pending.expire_at_ms,
            lru_idle: pending.lru_idle,
            lfu_freq: pending.lfu_freq,
            len,
            module,
            offset: at,
        };
        // The Key item goes before anything emitted while reading its head.
        self.queue.push_front(Item::Key(Box::new(header)));
        if matches!(val, Val::End) {
            self.finish_key();
        } else {
            self.state = State::Value(val);
        }
        Ok(())
    }

    /// The current key's value is complete.
    fn finish_key(&mut self) {
        self.flush_raw(true);
        self.queue.push_back(Item::KeyEnd);
        self.key = None;
        self.state = State::Top;
    }

    fn open_blob(
        &self,
        encoding: Encoding,
        data: Bytes,
        base: BlobAt,
        after: After,
    ) -> Result<Blob, Error> {
        use Encoding as E;
        let fail = |e: BlobError| base.error(e);
        let (src, role) = match encoding {
            E::HashZipmap => (Src::Zipmap(Zipmap::new(data).map_err(fail)?), Role::Hash),
            E::ListZiplist | E::ListQuicklist => {
                (Src::Ziplist(Ziplist::new(data).map_err(fail)?), Role::List)
            }
            E::ZSetZiplist => (Src::Ziplist(Ziplist::new(data).map_err(fail)?), Role::ZSet),
            E::HashZiplist => (Src::Ziplist(Ziplist::new(data).map_err(fail)?), Role::Hash),
            E::SetIntset => (Src::Intset(Intset::new(data).map_err(fail)?), Role::Set),
            E::HashListpack => (
                Src::Listpack(Listpack::new(data).map_err(fail)?),
                Role::Hash,
            ),
            E::ZSetListpack => (
                Src::Listpack(Listpack::new(data).map_err(fail)?),
                Role::ZSet,
            ),
            E::SetListpack => (Src::Listpack(Listpack::new(data).map_err(fail)?), Role::Set),
            E::ListQuicklist2 => (
                Src::Listpack(Listpack::new(data).map_err(fail)?),
                Role::List,
            ),
            E::HashListpackEx | E::HashListpackExPreGa => (
                Src::Listpack(Listpack::new(data).map_err(fail)?),
                Role::HashTtl,
            ),
            _ => {
                return Err(Error::new(
                    ErrorKind::Corrupt {
                        what: "blob for a non-blob encoding",
                    },
                    base.offset(0),
                ));
            }
        };
        Ok(Blob {
            src,
            role,
            base,
            after,
        })
    }

    fn step_value(&mut self, buf: &mut BytesMut, val: Val) -> Result<bool, Error> {
        // Restore the state first so the helpers see "in a value".
        self.state = State::Value(Val::End);
        let max = self.config.max_element_len;
        let at = self.offset;
        let next = match val {
            Val::End => {
                self.finish_key();
                return Ok(true);
            }
            Val::Str { left, first } => {
                if left == 0 {
                    if first {
                        self.emit_elem(Item::StringChunk(Bytes::new()));
                    }
                    Val::End
                } else {
                    let want = left.min(self.config.chunk_len as u64) as usize;
                    if buf.len() < want {
                        self.state = State::Value(Val::Str { left, first });
                        self.needed = want - buf.len();
                        return Ok(false);
                    }
                    if self.config.skip_values {
                        self.skip(buf, want);
                    } else {
                        let chunk = self.take(buf, want);
                        self.emit_elem(Item::StringChunk(chunk));
                    }
                    Val::Str {
                        left: left - want as u64,
                        first: false,
                    }
                }
            }
            Val::StrLzf { left_c, mut lzf } => {
                let want = left_c.min(self.config.chunk_len as u64) as usize;
                if buf.len() < want {
                    self.state = State::Value(Val::StrLzf { left_c, lzf });
                    self.needed = want - buf.len();
                    return Ok(false);
                }
                let last = want as u64 == left_c;
                if last && !self.config.skip_values && lzf.is_fresh() {
                    // The whole compressed string is here: no window needed.
                    let out = lzf.out_len();
                    let piece =
                        crate::lzf::decompress(&buf[..want], out).map_err(|k| Error::new(k, at))?;
                    self.skip(buf, want);
                    self.emit_string(Bytes::from(piece));
                    self.state = State::Value(Val::End);
                    return Ok(true);
                }
                if self.config.skip_values {
                    self.skip(buf, want);
                    self.state = State::Value(if last {
                        Val::End
                    } else {
                        Val::StrLzf {
                            left_c: left_c - want as u64,
                            lzf,
                        }
                    });
                    return Ok(true);
                }
                let piece = lzf
                    .feed(&buf[..want], last)
                    .map_err(|k| Error::new(k, at))?;
                self.skip(buf, want);
                self.emit_string(Bytes::from(piece));
                if last {
                    Val::End
                } else {
                    Val::StrLzf {
                        left_c: left_c - want as u64,
                        lzf,
                    }
                }
            }
            Val::Elems { kind, left } => {
                if left == 0 {
                    Val::End
                } else {
                    let mut c = Cursor::new(&buf[..]);
                    match self.parse_elem(&mut c, kind, max) {
                        Err(s) => {
                            self.state = State::Value(Val::Elems { kind, left });
                            return self.stop(s);
                        }
                        Ok(None) => self.skip(buf, c.pos),
                        Ok(Some(e)) => {
                            let unit = self.take(buf, c.pos);
                            let item = self.elem_item(&unit, e, kind, at)?;
                            self.emit_elem(item);
                        }
                    }
                    Val::Elems {
                        kind,
                        left: left - 1,
                    }
                }
            }
            Val::Blob(mut blob) => match self.blob_next(&mut blob)? {
                Some(item) => {
                    self.emit_elem(item);
                    Val::Blob(blob)
                }
                None => match blob.after {
                    After::End => Val::End,
                    After::Quicklist { left, v2 } => Val::Quicklist { left, v2 },
                },
            },
            Val::Quicklist { left, v2 } => {
                if left == 0 {
                    Val::End
                } else {
                    let mut c = Cursor::new(&buf[..]);
                    let parsed = (|| -> Res<(u64, StrRef, usize)> {
                        let container = if v2 {
                            c.len("quicklist node container")?
                        } else {
                            QUICKLIST_NODE_PACKED
                        };
                        let s_at = c.pos;
                        let s = c.string(max, "quicklist node")?;
                        Ok((container, s, s_at))
                    })();
                    let (container, s, s_at) = match parsed {
                        Ok(p) => p,
                        Err(s) => {
                            self.state = State::Value(Val::Quicklist { left, v2 });
                            return self.stop(s);
                        }
                    };
                    let n = c.pos;
                    let unit = self.take(buf, n);
                    let left = left - 1;
                    if self.config.skip_values {
                        Val::Quicklist { left, v2 }
                    } else {
                        let data = self.string(&unit, s, at + s_at as u64)?;
                        match container {
                            QUICKLIST_NODE_PLAIN => {
                                self.emit_elem(Item::ListItem(data));
                                Val::Quicklist { left, v2 }
                            }
                            QUICKLIST_NODE_PACKED => {
                                let enc = if v2 {
                                    Encoding::ListQuicklist2
                                } else {
                                    Encoding::ListQuicklist
                                };
                                let blob = self.open_blob(
                                    enc,
                                    data,
                                    BlobAt::of(at, &s),
                                    After::Quicklist { left, v2 },
                                )?;
                                Val::Blob(blob)
                            }
                            _ => {
                                return Err(Error::new(
                                    ErrorKind::Corrupt {
                                        what: "quicklist node container",
                                    },
                                    at,
                                ));
                            }
                        }
                    }
                }
            }
            Val::StreamListpacks { left } => {
                if left == 0 {
                    Val::StreamMeta
                } else {
                    let mut c = Cursor::new(&buf[..]);
                    let parsed = (|| -> Res<(StrRef, StrRef, usize)> {
                        let id = c.string(max, "stream master id")?;
                        let lp_at = c.pos;
                        let lp = c.string(max, "stream listpack")?;
                        Ok((id, lp, lp_at))
                    })();
                    let (id, lp, lp_at) = match parsed {
                        Ok(p) => p,
                        Err(s) => {
                            self.state = State::Value(Val::StreamListpacks { left });
                            return self.stop(s);
                        }
                    };
                    let n = c.pos;
                    let unit = self.take(buf, n);
                    if self.config.skip_values {
                        Val::StreamListpacks { left: left - 1 }
                    } else {
                        let id = self.string(&unit, id, at)?;
                        if id.len() != 16 {
                            return Err(Error::new(
                                ErrorKind::Corrupt {
                                    what: "stream master id length",
                                },
                                at,
                            ));
                        }
                        let master = StreamId {
                            ms: be64(&id[..8]),
                            seq: be64(&id[8..]),
                        };
                        let data = self.string(&unit, lp, at + lp_at as u64)?;
                        let base = BlobAt::of(at, &lp);
                        let lp = Listpack::new(data).map_err(|e| base.error(e))?;
                        Val::StreamLp(StreamLp {
                            lp,
                            master,
                            fields: Vec::new(),
                            started: false,
                            base,
                            left: left - 1,
                        })
                    }
                }
            }
            Val::StreamLp(mut s) => match stream_lp_next(&mut s)? {
                Some(entry) => {
                    self.emit_elem(Item::StreamEntry(entry));
                    Val::StreamLp(s)
                }
                None => Val::StreamListpacks { left: s.left },
            },
            Val::StreamMeta => {
                let v = self.stream_version();
                let mut c = Cursor::new(&buf[..]);
                let parsed = (|| -> Res<StreamMeta> {
                    let length = c.len("stream length")?;
                    let last_id = stream_id(&mut c)?;
                    let (first_id, max_deleted_id, entries_added) = if v >= 2 {
                        (
                            stream_id(&mut c)?,
                            stream_id(&mut c)?,
                            c.len("stream entries added")?,
                        )
                    } else {
                        (StreamId::default(), StreamId::default(), length)
                    };
                    let group_count = c.len("stream groups")?;
                    Ok(StreamMeta {
                        length,
                        last_id,
                        first_id,
                        max_deleted_id,
                        entries_added,
                        group_count,
                    })
                })();
                let meta = match parsed {
                    Ok(m) => m,
                    Err(s) => {
                        self.state = State::Value(Val::StreamMeta);
                        return self.stop(s);
                    }
                };
                let n = c.pos;
                self.skip(buf, n);
                self.emit_elem(Item::StreamMeta(meta));
                Val::StreamGroups {
                    left: meta.group_count,
                }
            }
            Val::StreamGroups { left } => {
                if left == 0 {
                    Val::End
                } else {
                    let v = self.stream_version();
                    let mut c = Cursor::new(&buf[..]);
                    let parsed = (|| -> Res<(StrRef, StreamId, Option<u64>, u64)> {
                        let name = c.string(max, "consumer group name")?;
                        let last = stream_id(&mut c)?;
                        // Redis saves an unknown counter as -1.
                        let read = if v >= 2 {
                            Some(c.len("group entries read")?).filter(|&r| r != u64::MAX)
                        } else {
                            None
                        };
                        let pel = c.len("group PEL length")?;
                        Ok((name, last, read, pel))
                    })();
                    let (name, last_id, entries_read, pel_len) = match parsed {
                        Ok(p) => p,
                        Err(s) => {
                            self.state = State::Value(Val::StreamGroups { left });
                            return self.stop(s);
                        }
                    };
                    let n = c.pos;
                    let unit = self.take(buf, n);
                    let name = self.string(&unit, name, at)?;
                    self.emit_elem(Item::StreamGroup(StreamGroup {
                        name,
                        last_id,
                        entries_read,
                        pel_len,
                    }));
                    Val::StreamPel {
                        left: pel_len,
                        groups_left: left - 1,
                    }
                }
            }
            Val::StreamPel { left, groups_left } => {
                let mut c = Cursor::new(&buf[..]);
                if left == 0 {
                    match c.len("consumers") {
                        Ok(count) => {
                            self.skip(buf, c.pos);
                            Val::StreamConsumers {
                                left: count,
                                groups_left,
                            }
                        }
                        Err(s) => {
                            self.state = State::Value(Val::StreamPel { left, groups_left });
                            return self.stop(s);
                        }
                    }
                } else {
                    let parsed = (|| -> Res<StreamNack> {
                        let id = raw_stream_id(&mut c)?;
                        let delivery_time_ms = c.u64_le()?;
                        let delivery_count = c.len("delivery count")?;
                        Ok(StreamNack {
                            id,
                            delivery_time_ms,
                            delivery_count,
                        })
                    })();
                    match parsed {
                        Ok(nack) => {
                            self.skip(buf, c.pos);
                            self.emit_elem(Item::StreamPending(nack));
                            Val::StreamPel {
                                left: left - 1,
                                groups_left,
                            }
                        }
                        Err(s) => {
                            self.state = State::Value(Val::StreamPel { left, groups_left });
                            return self.stop(s);
                        }
                    }
                }
            }
            Val::StreamConsumers { left, groups_left } => {
                if left == 0 {
                    Val::StreamGroups { left: groups_left }
                } else {
                    let v = self.stream_version();
                    let mut c = Cursor::new(&buf[..]);
                    let parsed = (|| -> Res<(StrRef, u64, Option<u64>, u64)> {
                        let name = c.string(max, "consumer name")?;
                        let seen = c.u64_le()?;
                        let active = if v >= 3 { Some(c.u64_le()?) } else { None };
                        let pel = c.len("consumer PEL length")?;
                        Ok((name, seen, active, pel))
                    })();
                    let (name, seen_time_ms, active_time_ms, pel_len) = match parsed {
                        Ok(p) => p,
                        Err(s) => {
                            self.state = State::Value(Val::StreamConsumers { left, groups_left });
                            return self.stop(s);
                        }
                    };
                    let n = c.pos;
                    let unit = self.take(buf, n);
                    let name = self.string(&unit, name, at)?;
                    self.emit_elem(Item::StreamConsumer(StreamConsumer {
                        name,
                        seen_time_ms,
                        active_time_ms,
                        pel_len,
                    }));
                    Val::StreamConsumerPel {
                        left: pel_len,
                        consumers_left: left - 1,
                        groups_left,
                    }
                }
            }
            Val::StreamConsumerPel {
                left,
                consumers_left,
                groups_left,
            } => {
                if left == 0 {
                    Val::StreamConsumers {
                        left: consumers_left,
                        groups_left,
                    }
                } else {
                    let mut c = Cursor::new(&buf[..]);
                    match raw_stream_id(&mut c) {
                        Ok(id) => {
                            self.skip(buf, c.pos);
                            self.emit_elem(Item::StreamConsumerPending(id));
                            Val::StreamConsumerPel {
                                left: left - 1,
                                consumers_left,
                                groups_left,
                            }
                        }
                        Err(s) => {
                            self.state = State::Value(Val::StreamConsumerPel {
                                left,
                                consumers_left,
                                groups_left,
                            });
                            return self.stop(s);
                        }
                    }
                }
            }
            Val::ModuleLens { left } => {
                if left == 0 {
                    let chunk = self.module.split().freeze();
                    self.emit_elem(Item::ModuleChunk(chunk));
                    Val::End
                } else {
                    let mut c = Cursor::new(&buf[..]);
                    if let Err(s) = c.len("module value") {
                        self.state = State::Value(Val::ModuleLens { left });
                        return self.stop(s);
                    }
                    let n = c.pos;
                    self.module.extend_from_slice(&buf[..n]);
                    self.skip(buf, n);
                    Val::ModuleLens { left: left - 1 }
                }
            }
            Val::Module => {
                let mut c = Cursor::new(&buf[..]);
                match module_opcode(&mut c, max) {
                    Err(s) => {
                        self.state = State::Value(Val::Module);
                        return self.stop(s);
                    }
                    Ok(eof) => {
                        let n = c.pos;
                        if !self.config.skip_values {
                            self.module.extend_from_slice(&buf[..n]);
                        }
                        self.skip(buf, n);
                        if !self.config.skip_values
                            && (eof || self.module.len() >= self.config.chunk_len)
                        {
                            let chunk = self.module.split().freeze();
                            self.emit_elem(Item::ModuleChunk(chunk));
                        }
                        if eof { Val::End } else { Val::Module }
                    }
                }
            }
        };
        if matches!(next, Val::End) {
            self.finish_key();
        } else {
            self.state = State::Value(next);
        }
        Ok(true)
    }

    fn stream_version(&self) -> u8 {
        match self.cur_encoding {
            Some(Encoding::StreamListpacks2) => 2,
            Some(Encoding::StreamListpacks3) => 3,
            _ => 1,
        }
    }

    fn parse_elem(&self, c: &mut Cursor, kind: ElemKind, max: u64) -> Res<Option<Elem>> {
        if self.config.skip_values {
            match kind {
                ElemKind::List | ElemKind::Set => c.skip_string()?,
                ElemKind::ZSetText => {
                    c.skip_string()?;
                    let n = c.u8()?;
                    if n < 253 {
                        c.skip(u64::from(n))?;
                    }
                }
                ElemKind::ZSetBinary => {
                    c.skip_string()?;
                    c.skip(8)?;
                }
                ElemKind::Hash => {
                    c.skip_string()?;
                    c.skip_string()?;
                }
                ElemKind::HashTtl { .. } => {
                    c.len("hash field TTL")?;
                    c.skip_string()?;
                    c.skip_string()?;
                }
                ElemKind::ValkeyHash => {
                    c.skip_string()?;
                    c.skip_string()?;
                    c.skip(8)?;
                }
            }
            return Ok(None);
        }
        Ok(Some(match kind {
            ElemKind::List => Elem::One(c.string(max, "list element")?),
            ElemKind::Set => Elem::One(c.string(max, "set member")?),
            ElemKind::ZSetText => {
                let m = c.string(max, "zset member")?;
                let n = c.u8()?;
                let score = match n {
                    253 => f64::NAN,
                    254 => f64::INFINITY,
                    255 => f64::NEG_INFINITY,
                    n => {
                        let text = c.take(n as usize)?;
                        match std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()) {
                            Some(v) => v,
                            None => return c.bad(ErrorKind::Corrupt { what: "zset score" }),
                        }
                    }
                };
                Elem::Scored(m, score)
            }
            ElemKind::ZSetBinary => {
                let m = c.string(max, "zset member")?;
                Elem::Scored(m, c.f64_le()?)
            }
            ElemKind::Hash => Elem::Pair(
                c.string(max, "hash field")?,
                c.string(max, "hash value")?,
                None,
            ),
            ElemKind::HashTtl { min } => {
                let ttl = c.len("hash field TTL")?;
                let expire = match (ttl, min) {
                    (0, _) => None,
                    (t, None) => Some(t),
                    (t, Some(m)) => Some(m.wrapping_add(t - 1)),
                };
                Elem::Pair(
                    c.string(max, "hash field")?,
                    c.string(max, "hash value")?,
                    expire,
                )
            }
            ElemKind::ValkeyHash => {
                let f = c.string(max, "hash field")?;
                let v = c.string(max, "hash value")?;
                let t = c.u64_le()? as i64;
                Elem::Pair(f, v, (t >= 0).then_some(t as u64))
            }
        }))
    }

    fn elem_item(&self, unit: &Bytes, e: Elem, kind: ElemKind, at: u64) -> Result<Item, Error> {
        Ok(match e {
            Elem::One(s) => {
                let b = self.string(unit, s, at)?;
                match kind {
                    ElemKind::Set => Item::SetMember(b),
                    _ => Item::ListItem(b),
                }
            }
            Elem::Scored(m, score) => Item::ZSetEntry {
                member: self.string(unit, m, at)?,
                score,
            },
            Elem::Pair(f, v, ttl) => Item::HashField {
                field: self.string(unit, f, at)?,
                value: self.string(unit, v, at)?,
                expire_at_ms: ttl,
            },
        })
    }

    fn blob_next(&self, blob: &mut Blob) -> Result<Option<Item>, Error> {
        let base = blob.base;
        let fail = |e: BlobError| base.error(e);
        let missing = |what| Error::new(ErrorKind::Corrupt { what }, base.offset(0));
        match &mut blob.src {
            Src::Intset(s) => Ok(s
                .next_int()
                .map_err(fail)?
                .map(|v| Item::SetMember(int_text(v)))),
            Src::Zipmap(z) => {
                Ok(z.next_pair()
                    .map_err(fail)?
                    .map(|(field, value)| Item::HashField {
                        field,
                        value,
                        expire_at_ms: None,
                    }))
            }
            Src::Listpack(_) | Src::Ziplist(_) => {
                let mut next = || -> Result<Option<Element>, Error> {
                    match &mut blob.src {
                        Src::Listpack(l) => l.next_element().map_err(fail),
                        Src::Ziplist(z) => z.next_element().map_err(fail),
                        _ => Ok(None),
                    }
                };
                let Some(first) = next()? else {
                    return Ok(None);
                };
                Ok(Some(match blob.role {
                    Role::List => Item::ListItem(first.into_bytes()),
                    Role::Set => Item::SetMember(first.into_bytes()),
                    Role::ZSet => {
                        let score =
                            next()?.ok_or_else(|| missing("zset member without a score"))?;
                        let score = match score {
                            Element::Int(v) => v as f64,
                            Element::Bytes(b) => {
                                parse_score(&b).ok_or_else(|| missing("zset score"))?
                            }
                        };
                        Item::ZSetEntry {
                            member: first.into_bytes(),
                            score,
                        }
                    }
                    Role::Hash => {
                        let value = next()?.ok_or_else(|| missing("hash field without a value"))?;
                        Item::HashField {
                            field: first.into_bytes(),
                            value: value.into_bytes(),
                            expire_at_ms: None,
                        }
                    }
                    Role::HashTtl => {
                        let value = next()?.ok_or_else(|| missing("hash field without a value"))?;
                        let ttl = next()?.ok_or_else(|| missing("hash field without a TTL"))?;
                        let ttl = ttl.as_int().ok_or_else(|| missing("hash field TTL"))?;
                        Item::HashField {
                            field: first.into_bytes(),
                            value: value.into_bytes(),
                            expire_at_ms: (ttl > 0).then_some(ttl as u64),
                        }
                    }
                }))
            }
        }
    }
}

enum Elem {
    One(StrRef),
    Scored(StrRef, f64),
    Pair(StrRef, StrRef, Option<u64>),
}

fn blob_len(blob: &Blob) -> Option<u64> {
    let per = match blob.role {
        Role::List | Role::Set => 1,
        Role::ZSet | Role::Hash => 2,
        Role::HashTtl => 3,
    };
    match &blob.src {
        Src::Listpack(l) => l.count().map(|c| c / per),
        Src::Ziplist(z) => z.count().map(|c| c / per),
        Src::Intset(s) => Some(s.count),
        Src::Zipmap(z) => z.count,
    }
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn stream_id(c: &mut Cursor) -> Res<StreamId> {
    Ok(StreamId {
        ms: c.len("stream id")?,
        seq: c.len("stream id")?,
    })
}

fn raw_stream_id(c: &mut Cursor) -> Res<StreamId> {
    Ok(StreamId {
        ms: c.u64_be()?,
        seq: c.u64_be()?,
    })
}

fn parse_score(b: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(b).ok()?;
    match t {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => t.parse().ok(),
    }
}

/// Reads one module opcode with its value; `true` at the EOF opcode.
fn module_opcode(c: &mut Cursor, max: u64) -> Res<bool> {
    let start = c.pos;
    match c.len("module opcode")? {
        MODULE_OP_EOF => return Ok(true),
        MODULE_OP_SINT | MODULE_OP_UINT => {
            c.len("module integer")?;
        }
        MODULE_OP_FLOAT => {
            c.f32_le()?;
        }
        MODULE_OP_DOUBLE => {
            c.f64_le()?;
        }
        MODULE_OP_STRING => {
            c.string(max, "module string")?;
        }
        _ => {
            return Err(Stop::Bad(
                ErrorKind::Corrupt {
                    what: "module opcode",
                },
                start,
            ));
        }
    }
    Ok(false)
}

/// The next entry of a listpack that must have one.
fn lp_required(lp: &mut Listpack, base: BlobAt) -> Result<Element, Error> {
    match lp.next_element() {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(Error::new(
            ErrorKind::Corrupt {
                what: "stream listpack ended inside an entry",
            },
            base.offset(0),
        )),
        Err(e) => Err(Error::new(
            ErrorKind::Corrupt { what: e.what },
            base.offset(e.at),
        )),
    }
}

fn lp_int(lp: &mut Listpack, base: BlobAt, what: &'static str) -> Result<i64, Error> {
    lp_required(lp, base)?
        .as_int()
        .ok_or_else(|| Error::new(ErrorKind::Corrupt { what }, base.offset(0)))
}

/// The next live entry of a stream listpack.
fn stream_lp_next(s: &mut StreamLp) -> Result<Option<StreamEntry>, Error> {
    let base = s.base;
    if !s.started {
        // Master entry: count, deleted count, field count, fields, 0 terminator.
        lp_int(&mut s.lp, base, "stream master count")?;
        lp_int(&mut s.lp, base, "stream master deleted count")?;
        let nfields = lp_int(&mut s.lp, base, "stream master field count")?;
        for _ in 0..nfields.max(0) {
            let f = lp_required(&mut s.lp, base)?.into_bytes();
            s.fields.push(f);
        }
        lp_int(&mut s.lp, base, "stream master terminator")?;
        s.started = true;
    }
    loop {
        let flags = match s.lp.next_element() {
            Ok(None) => return Ok(None),
            Ok(Some(e)) => e.as_int().ok_or_else(|| {
                Error::new(
                    ErrorKind::Corrupt {
                        what: "stream entry flags",
                    },
                    base.offset(0),
                )
            })?,
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Corrupt { what: e.what },
                    base.offset(e.at),
                ));
            }
        };
        let ms = lp_int(&mut s.lp, base, "stream entry id")?;
        let seq = lp_int(&mut s.lp, base, "stream entry id")?;
        let id = StreamId {
            ms: s.master.ms.wrapping_add(ms as u64),
            seq: s.master.seq.wrapping_add(seq as u64),
        };
        let mut fields = Vec::new();
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 {
            for i in 0..s.fields.len() {
                let v = lp_required(&mut s.lp, base)?.into_bytes();
                fields.push((s.fields[i].clone(), v));
            }
        } else {
            let n = lp_int(&mut s.lp, base, "stream entry field count")?;
            for _ in 0..n.max(0) {
                let f = lp_required(&mut s.lp, base)?.into_bytes();
                let v = lp_required(&mut s.lp, base)?.into_bytes();
                fields.push((f, v));
            }
        }
        // lp-count, kept for backward iteration.
        lp_required(&mut s.lp, base)?;
        if flags & STREAM_ITEM_FLAG_DELETED == 0 {
            return Ok(Some(StreamEntry { id, fields }));
        }
    }
}
