//! `--format jsonl`: one JSON object per key, one per function library.
//!
//! Each key's object is built in memory and written whole at [`Output::end_key`],
//! so what reaches stdout is always a sequence of complete lines, even when the
//! input turns out to be corrupt halfway through a key. The price: memory grows
//! with the largest single key (as JSON). `--format resp` streams instead.

use super::{Output, Summary};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_rdb::{Function, Item, KeyHeader, Kind, ModuleType, StreamId};
use std::io::{self, Write};

/// Appends `bytes` as a JSON value: a string when they are valid UTF-8, else
/// `{"base64":"..."}` (standard alphabet, padded).
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => write_str(out, text),
        Err(_) => {
            out.extend_from_slice(b"{\"base64\":\"");
            write_base64(out, bytes);
            out.extend_from_slice(b"\"}");
        }
    }
}

/// Appends `text` as a JSON string. Escapes `"`, `\` and control characters;
/// everything else, non-ASCII included, is written as is.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
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
    out.push(b'"');
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

/// A small JSON writer over a byte buffer that places the commas itself.
#[derive(Debug, Default)]
struct Json {
    out: Vec<u8>,
    /// One entry per open container: its closing bracket, and whether it holds a member yet.
    open: Vec<(u8, bool)>,
    /// A field name was just written: its value needs no separator.
    after_field: bool,
}

impl Json {
    /// Before a value, a container or a field inside the innermost container.
    fn sep(&mut self) {
        if self.after_field {
            self.after_field = false;
            return;
        }
        if let Some((_, has)) = self.open.last_mut() {
            if *has {
                self.out.push(b',');
            }
            *has = true;
        }
    }

    fn begin_object(&mut self) {
        self.sep();
        self.out.push(b'{');
        self.open.push((b'}', false));
    }

    fn begin_array(&mut self) {
        self.sep();
        self.out.push(b'[');
        self.open.push((b']', false));
    }

    /// Closes the innermost container.
    fn end(&mut self) {
        if let Some((closer, _)) = self.open.pop() {
            self.out.push(closer);
        }
    }

    /// Writes `"name":`.
    fn field(&mut self, name: &str) {
        self.sep();
        write_str(&mut self.out, name);
        self.out.push(b':');
        self.after_field = true;
    }

    /// Writes one value with `write`.
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.sep();
        write(&mut self.out);
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

    /// Closes everything still open and hands out the line, newline included.
    fn take_line(&mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.end();
        }
        self.after_field = false;
        let mut line = std::mem::take(&mut self.out);
        line.push(b'\n');
        line
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
    /// Chunks so far (UTF-8 or base64 is decided on the whole).
    String(Vec<u8>),
    /// An array of elements, written as they come.
    Collection,
    /// A stream object, written as its items come.
    Stream(StreamPhase),
    /// A module value: its type and the payload so far.
    Module(Option<ModuleType>, Vec<u8>),
}

/// Writes `--format jsonl`.
#[derive(Debug)]
pub struct JsonlOutput<W: Write> {
    out: W,
    json: Json,
    value: Option<Value>,
    summary: Summary,
}

impl<W: Write> JsonlOutput<W> {
    /// Writes complete lines to `out`.
    pub fn new(out: W) -> Self {
        JsonlOutput {
            out,
            json: Json::default(),
            value: None,
            summary: Summary::default(),
        }
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
            Kind::String => Value::String(Vec::new()),
            Kind::Stream => {
                json.begin_object();
                json.field("entries");
                json.begin_array();
                Value::Stream(StreamPhase::Entries)
            }
            Kind::Module => Value::Module(header.module, Vec::new()),
            Kind::List | Kind::Set | Kind::ZSet | Kind::Hash => {
                json.begin_array();
                Value::Collection
            }
        });
        Ok(())
    }

    fn element(&mut self, item: Item) -> io::Result<()> {
        match (&mut self.value, item) {
            (Some(Value::String(buf)), Item::StringChunk(chunk)) => buf.extend_from_slice(&chunk),
            (Some(Value::Module(_, buf)), Item::ModuleChunk(chunk)) => {
                buf.extend_from_slice(&chunk)
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
        Ok(())
    }

    fn end_key(&mut self) -> io::Result<()> {
        let json = &mut self.json;
        match self.value.take() {
            Some(Value::String(buf)) => json.bytes(&buf),
            Some(Value::Module(module, payload)) => {
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
                json.value(|out| {
                    out.push(b'"');
                    write_base64(out, &payload);
                    out.push(b'"');
                });
                json.end();
            }
            Some(Value::Stream(phase)) => close_group(json, phase),
            Some(Value::Collection) | None => {}
        }
        let line = self.json.take_line();
        self.out.write_all(&line)?;
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
        let line = json.take_line();
        self.out.write_all(&line)?;
        self.summary.functions_written += 1;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<Summary> {
        self.out.flush()?;
        Ok(self.summary.clone())
    }
}
