//! Folds the item stream of one file into whole keys, checking on the way that
//! the stream has the shape `Item` documents (elements inside a key and of its
//! kind, groups after the stream meta, stated counts that match ...).

use bytes::Bytes;
use ferry_rdb::{
    Config, ErrorKind, Function, Header, Item, KeyHeader, Kind, ModuleAux, ReadError, Reader,
    StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamMeta, StreamNack,
};
use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

/// Everything decoded from one file, up to its end or its first error.
#[derive(Debug, Default)]
pub struct Decoded {
    pub header: Option<Header>,
    pub aux: Vec<(Bytes, Bytes)>,
    pub select_db: Vec<u64>,
    /// `(db_size, expires_size)` per RESIZEDB.
    pub resize_db: Vec<(u64, u64)>,
    /// `[slot_id, slot_size, expires_slot_size]` per SLOT_INFO.
    pub slot_info: Vec<[u64; 3]>,
    pub module_aux: Vec<ModuleAux>,
    pub functions: Vec<Function>,
    pub keys: Vec<Key>,
    /// `Some(checksum)` once [`Item::End`] was seen.
    pub end: Option<Option<u64>>,
    /// The error that stopped decoding, if any.
    pub error: Option<DecodeError>,
    /// Ways in which the item stream broke its documented shape.
    pub violations: Vec<String>,
}

/// The error that stopped a decode.
#[derive(Debug)]
pub struct DecodeError {
    /// The decoder's error kind; `None` for I/O errors.
    pub kind: Option<ErrorKind>,
    /// The error as displayed (kind, offset, key).
    pub message: String,
}

/// One key with its assembled value.
#[derive(Debug)]
pub struct Key {
    pub header: KeyHeader,
    /// The SLOT_INFO in force when the key started.
    pub slot_info: Option<[u64; 3]>,
    pub data: Data,
    /// [`Item::KeyEnd`] was seen.
    pub ended: bool,
}

/// A key's value, assembled from its element items.
#[derive(Debug)]
pub enum Data {
    String { bytes: Vec<u8>, chunks: usize },
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    ZSet(Vec<(Bytes, f64)>),
    Hash(Vec<HashField>),
    Stream(Box<Stream>),
    Module { payload: Vec<u8> },
}

/// A hash field: field, value, and the field's own expire time (Unix ms).
pub type HashField = (Bytes, Bytes, Option<u64>);

/// A stream key: live entries, then meta, then groups.
#[derive(Debug, Default)]
pub struct Stream {
    pub entries: Vec<StreamEntry>,
    pub meta: Option<StreamMeta>,
    pub groups: Vec<Group>,
}

/// A consumer group with its PEL and consumers.
#[derive(Debug)]
pub struct Group {
    pub header: StreamGroup,
    pub pending: Vec<StreamNack>,
    pub consumers: Vec<Consumer>,
}

/// A consumer with its pending ids.
#[derive(Debug)]
pub struct Consumer {
    pub header: StreamConsumer,
    pub pending: Vec<StreamId>,
}

impl Data {
    fn for_kind(kind: Kind) -> Data {
        match kind {
            Kind::String => Data::String {
                bytes: Vec::new(),
                chunks: 0,
            },
            Kind::List => Data::List(Vec::new()),
            Kind::Set => Data::Set(Vec::new()),
            Kind::ZSet => Data::ZSet(Vec::new()),
            Kind::Hash => Data::Hash(Vec::new()),
            Kind::Stream => Data::Stream(Box::default()),
            Kind::Module => Data::Module {
                payload: Vec::new(),
            },
        }
    }

    /// Number of elements: bytes of a string, entries of a collection, the
    /// live entries of a stream, payload bytes of a module value.
    pub fn count(&self) -> usize {
        match self {
            Data::String { bytes, .. } => bytes.len(),
            Data::List(v) | Data::Set(v) => v.len(),
            Data::ZSet(v) => v.len(),
            Data::Hash(v) => v.len(),
            Data::Stream(s) => s.entries.len(),
            Data::Module { payload } => payload.len(),
        }
    }

    /// True for a collection (list, set, zset, hash) without elements.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Data::List(_) | Data::Set(_) | Data::ZSet(_) | Data::Hash(_) => self.count() == 0,
            _ => false,
        }
    }

    fn push(&mut self, item: Item) -> Result<(), String> {
        match (self, item) {
            (Data::String { bytes, chunks }, Item::StringChunk(b)) => {
                bytes.extend_from_slice(&b);
                *chunks += 1;
            }
            (Data::List(v), Item::ListItem(b)) | (Data::Set(v), Item::SetMember(b)) => v.push(b),
            (Data::ZSet(v), Item::ZSetEntry { member, score }) => v.push((member, score)),
            (
                Data::Hash(v),
                Item::HashField {
                    field,
                    value,
                    expire_at_ms,
                },
            ) => v.push((field, value, expire_at_ms)),
            (Data::Stream(s), Item::StreamEntry(e)) => {
                if s.meta.is_some() {
                    return Err("StreamEntry after StreamMeta".into());
                }
                s.entries.push(e);
            }
            (Data::Stream(s), Item::StreamMeta(m)) => {
                if s.meta.replace(m).is_some() {
                    return Err("second StreamMeta".into());
                }
            }
            (Data::Stream(s), Item::StreamGroup(g)) => {
                if s.meta.is_none() {
                    return Err("StreamGroup before StreamMeta".into());
                }
                s.groups.push(Group {
                    header: g,
                    pending: Vec::new(),
                    consumers: Vec::new(),
                });
            }
            (Data::Stream(s), Item::StreamPending(n)) => match s.groups.last_mut() {
                Some(g) if g.consumers.is_empty() => g.pending.push(n),
                Some(_) => return Err("StreamPending after a StreamConsumer".into()),
                None => return Err("StreamPending before any StreamGroup".into()),
            },
            (Data::Stream(s), Item::StreamConsumer(c)) => match s.groups.last_mut() {
                Some(g) => g.consumers.push(Consumer {
                    header: c,
                    pending: Vec::new(),
                }),
                None => return Err("StreamConsumer before any StreamGroup".into()),
            },
            (Data::Stream(s), Item::StreamConsumerPending(id)) => {
                match s.groups.last_mut().and_then(|g| g.consumers.last_mut()) {
                    Some(c) => c.pending.push(id),
                    None => return Err("StreamConsumerPending before any StreamConsumer".into()),
                }
            }
            (Data::Module { payload }, Item::ModuleChunk(b)) => payload.extend_from_slice(&b),
            (data, item) => {
                return Err(format!(
                    "{} inside a {} key",
                    item_name(&item),
                    data_name(data)
                ));
            }
        }
        Ok(())
    }
}

fn data_name(data: &Data) -> &'static str {
    match data {
        Data::String { .. } => "string",
        Data::List(_) => "list",
        Data::Set(_) => "set",
        Data::ZSet(_) => "zset",
        Data::Hash(_) => "hash",
        Data::Stream(_) => "stream",
        Data::Module { .. } => "module",
    }
}

fn item_name(item: &Item) -> &'static str {
    match item {
        Item::Header(_) => "Header",
        Item::Aux { .. } => "Aux",
        Item::SelectDb(_) => "SelectDb",
        Item::ResizeDb { .. } => "ResizeDb",
        Item::SlotInfo { .. } => "SlotInfo",
        Item::ModuleAux(_) => "ModuleAux",
        Item::Function(_) => "Function",
        Item::Key(_) => "Key",
        Item::StringChunk(_) => "StringChunk",
        Item::ListItem(_) => "ListItem",
        Item::SetMember(_) => "SetMember",
        Item::ZSetEntry { .. } => "ZSetEntry",
        Item::HashField { .. } => "HashField",
        Item::StreamEntry(_) => "StreamEntry",
        Item::StreamMeta(_) => "StreamMeta",
        Item::StreamGroup(_) => "StreamGroup",
        Item::StreamPending(_) => "StreamPending",
        Item::StreamConsumer(_) => "StreamConsumer",
        Item::StreamConsumerPending(_) => "StreamConsumerPending",
        Item::ModuleChunk(_) => "ModuleChunk",
        Item::Raw(_) => "Raw",
        Item::KeyEnd => "KeyEnd",
        Item::End { .. } => "End",
        _ => "(unknown item)",
    }
}

/// Escaped, shortened bytes for messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 60;
    let s = bytes.escape_ascii().to_string();
    if s.len() > MAX_CHARS {
        let mut end = MAX_CHARS;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("\"{}\"...({} bytes)", &s[..end], bytes.len())
    } else {
        format!("\"{s}\"")
    }
}

/// Decodes one file with `config`, never panicking.
pub fn decode_file(path: &Path, config: Config) -> Decoded {
    let mut d = Decoded::default();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            d.error = Some(DecodeError {
                kind: None,
                message: format!("cannot open {}: {e}", path.display()),
            });
            return d;
        }
    };
    let mut slot: Option<[u64; 3]> = None;
    let mut open: Option<usize> = None;
    let mut first = true;
    for item in Reader::with_config(file, config) {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let kind = match &e {
                    ReadError::Decode(e) => Some(e.kind().clone()),
                    ReadError::Io(_) => None,
                };
                d.error = Some(DecodeError {
                    kind,
                    message: e.to_string(),
                });
                break;
            }
        };
        if first && !matches!(item, Item::Header(_)) {
            d.violations
                .push(format!("first item is {}, not Header", item_name(&item)));
        }
        first = false;
        if d.end.is_some() {
            d.violations.push(format!("{} after End", item_name(&item)));
        }
        let file_level = matches!(
            item,
            Item::Header(_)
                | Item::Aux { .. }
                | Item::SelectDb(_)
                | Item::ResizeDb { .. }
                | Item::SlotInfo { .. }
                | Item::ModuleAux(_)
                | Item::Function(_)
                | Item::Key(_)
                | Item::End { .. }
        );
        if file_level && let Some(i) = open {
            d.violations.push(format!(
                "{} while key {} is open (no KeyEnd)",
                item_name(&item),
                show(&d.keys[i].header.key)
            ));
            open = None;
        }
        match item {
            Item::Header(h) => {
                if d.header.replace(h).is_some() {
                    d.violations.push("second Header".into());
                }
            }
            Item::Aux { key, value } => d.aux.push((key, value)),
            Item::SelectDb(db) => d.select_db.push(db),
            Item::ResizeDb {
                db_size,
                expires_size,
            } => d.resize_db.push((db_size, expires_size)),
            Item::SlotInfo {
                slot_id,
                slot_size,
                expires_slot_size,
            } => {
                let s = [slot_id, slot_size, expires_slot_size];
                slot = Some(s);
                d.slot_info.push(s);
            }
            Item::ModuleAux(m) => d.module_aux.push(m),
            Item::Function(f) => d.functions.push(f),
            Item::Key(header) => {
                let data = Data::for_kind(header.kind());
                d.keys.push(Key {
                    header: *header,
                    slot_info: slot,
                    data,
                    ended: false,
                });
                open = Some(d.keys.len() - 1);
            }
            Item::KeyEnd => match open.take() {
                Some(i) => {
                    let key = &mut d.keys[i];
                    key.ended = true;
                    if let Err(e) = key_shape(key) {
                        d.violations
                            .push(format!("key {}: {e}", show(&key.header.key)));
                    }
                }
                None => d.violations.push("KeyEnd outside a key".into()),
            },
            Item::End { checksum } => d.end = Some(checksum),
            Item::Raw(_) => d
                .violations
                .push("Raw item although raw mode is off".into()),
            element => match open {
                Some(i) => {
                    if let Err(e) = d.keys[i].data.push(element) {
                        let key = show(&d.keys[i].header.key);
                        d.violations.push(format!("key {key}: {e}"));
                    }
                }
                None => d
                    .violations
                    .push(format!("{} outside a key", item_name(&element))),
            },
        }
    }
    if d.error.is_none() && d.end.is_none() {
        d.violations
            .push("the reader stopped without End and without an error".into());
    }
    d
}

/// Checks a finished key against what its header and meta items stated.
fn key_shape(key: &Key) -> Result<(), String> {
    let mut problems = Vec::new();
    if let Some(len) = key.header.len {
        let counted = matches!(
            key.data,
            Data::List(_) | Data::Set(_) | Data::ZSet(_) | Data::Hash(_)
        );
        if counted && len != key.data.count() as u64 {
            problems.push(format!(
                "header len {len} but {} elements",
                key.data.count()
            ));
        }
    }
    match &key.data {
        Data::String { chunks: 0, .. } => problems.push("string without StringChunk".into()),
        Data::Set(v) => {
            let distinct: HashSet<&Bytes> = v.iter().collect();
            if distinct.len() != v.len() {
                problems.push(format!(
                    "{} duplicate set members",
                    v.len() - distinct.len()
                ));
            }
        }
        Data::ZSet(v) => {
            let distinct: HashSet<&Bytes> = v.iter().map(|(m, _)| m).collect();
            if distinct.len() != v.len() {
                problems.push(format!(
                    "{} duplicate zset members",
                    v.len() - distinct.len()
                ));
            }
        }
        Data::Hash(v) => {
            let distinct: HashSet<&Bytes> = v.iter().map(|(f, _, _)| f).collect();
            if distinct.len() != v.len() {
                problems.push(format!(
                    "{} duplicate hash fields",
                    v.len() - distinct.len()
                ));
            }
            if !key.header.encoding.has_field_ttls() && v.iter().any(|(_, _, t)| t.is_some()) {
                problems.push(format!(
                    "field TTLs in encoding {} that has none",
                    key.header.encoding.name()
                ));
            }
        }
        Data::Stream(s) => match &s.meta {
            None => problems.push("stream without StreamMeta".into()),
            Some(meta) => {
                if meta.group_count != s.groups.len() as u64 {
                    problems.push(format!(
                        "StreamMeta says {} groups, {} followed",
                        meta.group_count,
                        s.groups.len()
                    ));
                }
                for g in &s.groups {
                    if g.header.pel_len != g.pending.len() as u64 {
                        problems.push(format!(
                            "group {} says {} pending, {} followed",
                            show(&g.header.name),
                            g.header.pel_len,
                            g.pending.len()
                        ));
                    }
                    for c in &g.consumers {
                        if c.header.pel_len != c.pending.len() as u64 {
                            problems.push(format!(
                                "consumer {} says {} pending, {} followed",
                                show(&c.header.name),
                                c.header.pel_len,
                                c.pending.len()
                            ));
                        }
                    }
                }
            }
        },
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
