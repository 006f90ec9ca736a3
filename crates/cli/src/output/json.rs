//! `--format jsonl`: one JSON object per key, one per function library.
//!
//! Each key's line is written whole at [`Output::end_key`], so what reaches
//! stdout is always a sequence of complete lines, even when the input turns out
//! to be corrupt halfway through a key. Until then the line is built in a
//! [`Spool`]: in memory for ordinary keys, in a temporary file once it grows
//! past the spill limit. A string value is kept as raw bytes (its JSON form,
//! text or base64, depends on whether the whole value is UTF-8) and converted
//! piece by piece when the line is written. So memory stays bounded whatever
//! the size of one key.

use super::spool::{DEFAULT_SPILL_BYTES, Spool};
use super::{Output, Summary};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_rdb::{Function, Item, KeyHeader, Kind, StreamId};
use std::io::{self, Write};

/// Size of the pieces in which a string value is converted and written.
const WRITE_PIECE_BYTES: usize = 64 * 1024;

/// Appends `bytes` as a JSON value: a string when they are valid UTF-8, else
/// `{"base64":"..."}` (standard alphabet, padded).
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut value = ByteString::begin(out, std::str::from_utf8(bytes).is_ok());
    value.push(out, bytes);
    value.end(out);
}

/// Appends `text` as a JSON string. Escapes `"`, `\` and control characters;
/// everything else, non-ASCII included, is written as is.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    write_escaped(out, text.as_bytes());
    out.push(b'"');
}

/// Appends the inside of a JSON string for UTF-8 `bytes`, which may be any
/// piece of a longer string: only ASCII bytes are escaped, and those never
/// occur inside a multi-byte sequence.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Tells whether a byte string that arrives in pieces is valid UTF-8; a
/// character may be split across pieces anywhere.
#[derive(Debug, Clone)]
pub struct Utf8Validator {
    valid: bool,
    /// The start of a character cut off at the end of the last piece.
    partial: [u8; 4],
    partial_len: usize,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Utf8Validator {
            valid: true,
            partial: [0; 4],
            partial_len: 0,
        }
    }
}

impl Utf8Validator {
    /// Checks the next piece.
    pub fn feed(&mut self, piece: &[u8]) {
        if !self.valid {
            return;
        }
        let mut rest = piece;
        if self.partial_len > 0 {
            // Complete the cut-off character with up to 3 bytes of this piece.
            let had = self.partial_len;
            let take = (self.partial.len() - had).min(rest.len());
            let mut head = self.partial;
            head[had..had + take].copy_from_slice(&rest[..take]);
            match std::str::from_utf8(&head[..had + take]) {
                Ok(_) => rest = &rest[take..],
                // The character is complete (it ends past `had`); go on after the valid part.
                Err(e) if e.valid_up_to() > 0 => rest = &rest[e.valid_up_to() - had..],
                // Still cut off: this piece was too short to complete it.
                Err(e) if e.error_len().is_none() => {
                    self.partial = head;
                    self.partial_len = had + take;
                    return;
                }
                Err(_) => {
                    self.valid = false;
                    return;
                }
            }
            self.partial_len = 0;
        }
        match std::str::from_utf8(rest) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                let cut = &rest[e.valid_up_to()..];
                self.partial[..cut.len()].copy_from_slice(cut);
                self.partial_len = cut.len();
            }
            Err(_) => self.valid = false,
        }
    }

    /// True when everything fed so far is valid UTF-8 that does not end inside a character.
    pub fn is_valid(&self) -> bool {
        self.valid && self.partial_len == 0
    }
}

/// A byte string written as a JSON value in pieces, once it is known whether
/// the whole is UTF-8: `"text"` or `{"base64":"..."}`, as [`write_bytes`].
#[derive(Debug)]
enum ByteString {
    Text,
    Base64(Base64Stream),
}

impl ByteString {
    /// Appends the opening of the value.
    fn begin(out: &mut Vec<u8>, is_utf8: bool) -> Self {
        if is_utf8 {
            out.push(b'"');
            ByteString::Text
        } else {
            out.extend_from_slice(b"{\"base64\":\"");
            ByteString::Base64(Base64Stream::default())
        }
    }

    /// Appends the next piece of the string.
    fn push(&mut self, out: &mut Vec<u8>, piece: &[u8]) {
        match self {
            ByteString::Text => write_escaped(out, piece),
            ByteString::Base64(b64) => b64.push(out, piece),
        }
    }

    /// Appends the end of the value.
    fn end(self, out: &mut Vec<u8>) {
        match self {
            ByteString::Text => out.push(b'"'),
            ByteString::Base64(b64) => {
                b64.end(out);
                out.extend_from_slice(b"\"}");
            }
        }
    }
}

/// Base64 of bytes that arrive in pieces: whole 3-byte groups are encoded at
/// once, the 1 or 2 bytes left over wait for the next piece (or the padding).
#[derive(Debug, Default)]
struct Base64Stream {
    left: [u8; 2],
    left_len: usize,
}

impl Base64Stream {
    /// Appends the base64 of `piece`'s complete groups.
    fn push(&mut self, out: &mut Vec<u8>, mut piece: &[u8]) {
        if self.left_len > 0 {
            let mut group = [0; 3];
            let had = self.left_len;
            let take = (3 - had).min(piece.len());
            group[..had].copy_from_slice(&self.left[..had]);
            group[had..had + take].copy_from_slice(&piece[..take]);
            piece = &piece[take..];
            if had + take < 3 {
                self.left[..had + take].copy_from_slice(&group[..had + take]);
                self.left_len = had + take;
                return;
            }
            write_base64(out, &group);
            self.left_len = 0;
        }
        let whole = piece.len() - piece.len() % 3;
        write_base64(out, &piece[..whole]);
        let rest = &piece[whole..];
        self.left[..rest.len()].copy_from_slice(rest);
        self.left_len = rest.len();
    }

    /// Appends the last bytes with padding.
    fn end(self, out: &mut Vec<u8>) {
        write_base64(out, &self.left[..self.left_len]);
    }
}

/// Appends a sorted-set score: the shortest decimal that parses back to the
/// same `f64` (ryu; integer values keep a `.0`, e.g. `1.0`, `-0.0`, `1e-300`),
/// or the strings `"inf"`, `"-inf"`, `"nan"`.
pub fn write_score(out: &mut Vec<u8>, score: f64) {
    if score.is_nan() {
        out.extend_from_slice(b"\"nan\"");
    } else if score.is_infinite() {
        out.extend_from_slice(if score > 0.0 {
            b"\"inf\"".as_slice()
        } else {
            b"\"-inf\"".as_slice()
        });
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(score).as_bytes());
    }
}

/// Appends `bytes` base64-encoded (standard alphabet, padded), without quotes.
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    match BASE64.encode_slice(bytes, &mut out[start..]) {
        Ok(n) => out.truncate(start + n),
        Err(_) => {
            // Only reachable if the length computation overflowed: fall back.
            out.truncate(start);
            out.extend_from_slice(BASE64.encode(bytes).as_bytes());
        }
    }
}

fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => write_u64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    out.push(b'"');
    write_u64(out, id.ms);
    out.push(b'-');
    write_u64(out, id.seq);
    out.push(b'"');
}

/// A small JSON writer into a [`Spool`] that places the commas itself.
#[derive(Debug)]
struct Json {
    out: Spool,
    /// One entry per open container: its closing bracket, and whether it holds a member yet.
    open: Vec<(u8, bool)>,
    /// A field name was just written: its value needs no separator.
    after_field: bool,
}

impl Json {
    fn new(spill_bytes: usize) -> Self {
        Json {
            out: Spool::new(spill_bytes),
            open: Vec::new(),
            after_field: false,
        }
    }

    /// Before a value, a container or a field inside the innermost container.
    fn sep(&mut self) {
        if self.after_field {
            self.after_field = false;
            return;
        }
        if let Some((_, has)) = self.open.last_mut() {
            if *has {
                self.out.buf().push(b',');
            }
            *has = true;
        }
    }

    fn begin_object(&mut self) {
        self.sep();
        self.out.buf().push(b'{');
        self.open.push((b'}', false));
    }

    fn begin_array(&mut self) {
        self.sep();
        self.out.buf().push(b'[');
        self.open.push((b']', false));
    }

    /// Closes the innermost container.
    fn end(&mut self) {
        if let Some((closer, _)) = self.open.pop() {
            self.out.buf().push(closer);
        }
    }

    /// Writes `"name":`.
    fn field(&mut self, name: &str) {
        self.sep();
        write_str(self.out.buf(), name);
        self.out.buf().push(b':');
        self.after_field = true;
    }

    /// Writes one value (or its start) with `write`.
    fn value<T>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        self.sep();
        write(self.out.buf())
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.value(|out| write_bytes(out, bytes));
    }

    fn str(&mut self, text: &str) {
        self.value(|out| write_str(out, text));
    }

    fn u64(&mut self, v: u64) {
        self.value(|out| write_u64(out, v));
    }

    fn opt_u64(&mut self, v: Option<u64>) {
        self.value(|out| write_opt_u64(out, v));
    }

    fn id(&mut self, id: StreamId) {
        self.value(|out| write_id(out, id));
    }

    /// Closes everything still open and ends the line.
    fn end_line(&mut self) {
        while !self.open.is_empty() {
            self.end();
        }
        self.after_field = false;
        self.out.buf().push(b'\n');
    }
}

/// Where a stream's object is while its items arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamPhase {
    /// Inside `"entries":[`.
    Entries,
    /// Inside `"groups":[`, between groups.
    Groups,
    /// Inside a group's `"pending":[`.
    GroupPending,
    /// Inside a consumer's `"pending":[`.
    ConsumerPending,
}

/// The value being built for the current key.
#[derive(Debug)]
enum Value {
    /// A string: its chunks are in `JsonlOutput::raw` (UTF-8 or base64 is
    /// decided on the whole).
    String(Utf8Validator),
    /// An array of elements, written as they come.
    Collection,
    /// A stream object, written as its items come.
    Stream(StreamPhase),
    /// A module value, its payload written as base64 as it comes.
    Module(Base64Stream),
}

/// Writes `--format jsonl`.
#[derive(Debug)]
pub struct JsonlOutput<W: Write> {
    out: W,
    /// The current line.
    json: Json,
    /// The current string value, as raw bytes.
    raw: Spool,
    /// A piece of a string value as JSON, on its way to `out`.
    piece: Vec<u8>,
    value: Option<Value>,
    summary: Summary,
}

impl<W: Write> JsonlOutput<W> {
    /// Writes complete lines to `out`, keeping up to [`DEFAULT_SPILL_BYTES`]
    /// of a key in memory.
    pub fn new(out: W) -> Self {
        Self::with_spill_bytes(out, DEFAULT_SPILL_BYTES)
    }

    /// Writes complete lines to `out`; a key whose line or string value grows
    /// past `spill_bytes` continues in a temporary file until it is written.
    pub fn with_spill_bytes(out: W, spill_bytes: usize) -> Self {
        JsonlOutput {
            out,
            json: Json::new(spill_bytes),
            raw: Spool::new(spill_bytes),
            piece: Vec::new(),
            value: None,
            summary: Summary::default(),
        }
    }

    /// Ends the current line and writes it out.
    fn write_line(&mut self) -> io::Result<()> {
        self.json.end_line();
        let out = &mut self.out;
        self.json.out.drain(|bytes| out.write_all(bytes))
    }

    /// Writes the line so far, which ends with `"value":`, then the string
    /// value from `raw` in pieces; the value's end stays in the line.
    fn write_string_value(&mut self, utf8: &Utf8Validator) -> io::Result<()> {
        let mut value = self
            .json
            .value(|out| ByteString::begin(out, utf8.is_valid()));
        let (out, piece) = (&mut self.out, &mut self.piece);
        self.json.out.drain(|bytes| out.write_all(bytes))?;
        self.raw.drain(|bytes| {
            for part in bytes.chunks(WRITE_PIECE_BYTES) {
                value.push(piece, part);
                out.write_all(piece)?;
                piece.clear();
            }
            Ok(())
        })?;
        value.end(self.json.out.buf());
        Ok(())
    }

    fn stream_element(&mut self, phase: StreamPhase, item: Item) -> StreamPhase {
        let json = &mut self.json;
        match item {
            Item::StreamEntry(entry) => {
                json.begin_object();
                json.field("id");
                json.id(entry.id);
                json.field("fields");
                json.begin_array();
                for (field, value) in &entry.fields {
                    json.begin_array();
                    json.bytes(field);
                    json.bytes(value);
                    json.end();
                }
                json.end();
                json.end();
                phase
            }
            Item::StreamMeta(meta) => {
                if phase == StreamPhase::Entries {
                    json.end();
                }
                json.field("length");
                json.u64(meta.length);
                json.field("last_id");
                json.id(meta.last_id);
                json.field("first_id");
                json.id(meta.first_id);
                json.field("max_deleted_id");
                json.id(meta.max_deleted_id);
                json.field("entries_added");
                json.u64(meta.entries_added);
                json.field("groups");
                json.begin_array();
                StreamPhase::Groups
            }
            Item::StreamGroup(group) => {
                close_group(json, phase);
                json.begin_object();
                json.field("name");
                json.bytes(&group.name);
                json.field("last_id");
                json.id(group.last_id);
                json.field("entries_read");
                // Redis stores "unknown" as -1, which reads back as u64::MAX.
                json.opt_u64(group.entries_read.filter(|&n| i64::try_from(n).is_ok()));
                json.field("pending");
                json.begin_array();
                StreamPhase::GroupPending
            }
            Item::StreamPending(nack) => {
                json.begin_object();
                json.field("id");
                json.id(nack.id);
                json.field("delivery_time_ms");
                json.u64(nack.delivery_time_ms);
                json.field("delivery_count");
                json.u64(nack.delivery_count);
                json.end();
                phase
            }
            Item::StreamConsumer(consumer) => {
                match phase {
                    StreamPhase::GroupPending => {
                        json.end();
                        json.field("consumers");
                        json.begin_array();
                    }
                    StreamPhase::ConsumerPending => {
                        json.end();
                        json.end();
                    }
                    StreamPhase::Entries | StreamPhase::Groups => {}
                }
                json.begin_object();
                json.field("name");
                json.bytes(&consumer.name);
                json.field("seen_time_ms");
                json.u64(consumer.seen_time_ms);
                json.field("active_time_ms");
                json.opt_u64(consumer.active_time_ms);
                json.field("pending");
                json.begin_array();
                StreamPhase::ConsumerPending
            }
            Item::StreamConsumerPending(id) => {
                json.id(id);
                phase
            }
            _ => phase,
        }
    }
}

/// Closes the open group (if any) so that every group has `pending` and `consumers`.
fn close_group(json: &mut Json, phase: StreamPhase) {
    match phase {
        StreamPhase::GroupPending => {
            json.end();
            json.field("consumers");
            json.begin_array();
            json.end();
            json.end();
        }
        StreamPhase::ConsumerPending => {
            json.end();
            json.end();
            json.end();
            json.end();
        }
        StreamPhase::Entries | StreamPhase::Groups => {}
    }
}

impl<W: Write> Output for JsonlOutput<W> {
    fn begin_key(&mut self, header: &KeyHeader) -> io::Result<()> {
        let json = &mut self.json;
        json.begin_object();
        json.field("db");
        json.u64(header.db);
        json.field("key");
        json.bytes(&header.key);
        json.field("type");
        json.str(header.kind().name());
        json.field("expire_at_ms");
        json.value(|out| match header.expire_at_ms {
            Some(ms) => write_i64(out, ms),
            None => out.extend_from_slice(b"null"),
        });
        json.field("value");
        self.value = Some(match header.kind() {
            Kind::String => Value::String(Utf8Validator::default()),
            Kind::Stream => {
                json.begin_object();
                json.field("entries");
                json.begin_array();
                Value::Stream(StreamPhase::Entries)
            }
            Kind::Module => {
                let module = header.module;
                json.begin_object();
                json.field("module");
                match module {
                    Some(m) => json.str(&m.name()),
                    None => json.value(|out| out.extend_from_slice(b"null")),
                }
                json.field("id");
                json.opt_u64(module.map(|m| m.id));
                json.field("encver");
                json.opt_u64(module.map(|m| m.encver()));
                json.field("payload");
                Value::Module(json.value(|out| {
                    out.push(b'"');
                    Base64Stream::default()
                }))
            }
            Kind::List | Kind::Set | Kind::ZSet | Kind::Hash => {
                json.begin_array();
                Value::Collection
            }
        });
        Ok(())
    }

    fn element(&mut self, item: Item) -> io::Result<()> {
        match (&mut self.value, item) {
            (Some(Value::String(utf8)), Item::StringChunk(chunk)) => {
                utf8.feed(&chunk);
                self.raw.buf().extend_from_slice(&chunk);
            }
            (Some(Value::Module(payload)), Item::ModuleChunk(chunk)) => {
                payload.push(self.json.out.buf(), &chunk);
            }
            (Some(Value::Collection), Item::ListItem(b) | Item::SetMember(b)) => {
                self.json.bytes(&b)
            }
            (Some(Value::Collection), Item::ZSetEntry { member, score }) => {
                let json = &mut self.json;
                json.begin_array();
                json.bytes(&member);
                json.value(|out| write_score(out, score));
                json.end();
            }
            (
                Some(Value::Collection),
                Item::HashField {
                    field,
                    value,
                    expire_at_ms,
                },
            ) => {
                let json = &mut self.json;
                json.begin_array();
                json.bytes(&field);
                json.bytes(&value);
                if let Some(ms) = expire_at_ms {
                    json.u64(ms);
                }
                json.end();
            }
            (Some(Value::Stream(phase)), item) => {
                let phase = *phase;
                let next = self.stream_element(phase, item);
                self.value = Some(Value::Stream(next));
            }
            _ => {}
        }
        self.json.out.relieve()?;
        self.raw.relieve()
    }

    fn end_key(&mut self) -> io::Result<()> {
        match self.value.take() {
            Some(Value::String(utf8)) => self.write_string_value(&utf8)?,
            Some(Value::Module(payload)) => {
                let out = self.json.out.buf();
                payload.end(out);
                out.push(b'"');
            }
            Some(Value::Stream(phase)) => close_group(&mut self.json, phase),
            Some(Value::Collection) | None => {}
        }
        self.write_line()?;
        self.summary.keys_written += 1;
        Ok(())
    }

    fn function(&mut self, function: &Function) -> io::Result<()> {
        let json = &mut self.json;
        json.begin_object();
        json.field("function");
        json.bytes(&function.code);
        if let Some(pre_ga) = &function.pre_ga {
            json.field("pre_ga");
            json.begin_object();
            json.field("name");
            json.bytes(&pre_ga.name);
            json.field("engine");
            json.bytes(&pre_ga.engine);
            json.field("description");
            match &pre_ga.description {
                Some(d) => json.bytes(d),
                None => json.value(|out| out.extend_from_slice(b"null")),
            }
            json.end();
        }
        self.write_line()?;
        self.summary.functions_written += 1;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<Summary> {
        self.out.flush()?;
        Ok(self.summary.clone())
    }
}
