//! `--format resp`: the commands that rebuild the dataset, as RESP arrays of
//! bulk strings, for `redis-cli --pipe`.
//!
//! Per key, in file order: `SELECT db` when the database changes; `DEL key`
//! before a list, set, sorted set, hash or stream (so the output can be replayed
//! onto a server that already holds the key); then the value in commands of at
//! most [`MAX_BATCH_ELEMENTS`] elements or about [`MAX_BATCH_BYTES`] bytes:
//!
//! - string: `SET key piece`, then `APPEND key piece` for each further piece of
//!   at most [`MAX_STRING_PIECE_BYTES`];
//! - list: `RPUSH`; set: `SADD`; sorted set: `ZADD key score member ...` with
//!   scores that parse back to the same double (`+inf`, `-inf`);
//! - hash: `HSET`, then `HPEXPIREAT key ms FIELDS n field ...` for fields with
//!   their own TTL (Redis 7.4+);
//! - stream: `XADD key id field value ...` per entry, `XSETID key last-id
//!   ENTRIESADDED n MAXDELETEDID id` (Redis 7.0+; plain `XSETID key last-id`
//!   for a stream in the v1 format of Redis 5.0 to 6.2, which has neither
//!   counter), per group `XGROUP CREATE key group last-id ENTRIESREAD n`, per
//!   consumer `XGROUP CREATECONSUMER`, and per pending entry `XCLAIM key group
//!   consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID`. An empty stream is created with `XGROUP CREATE ... MKSTREAM` of a
//!   temporary group that is destroyed again;
//!
//! then `PEXPIREAT key ms` when the key has a TTL. Function libraries become
//! `FUNCTION LOAD REPLACE code`.
//!
//! Left out, as a server loading the file would drop them: keys whose expire
//! time has passed, hash fields whose own expire time has passed, and empty
//! collections. Left out with a warning, as no command can rebuild them:
//! module values and module AUX data, functions in the Redis 7.0 release
//! candidate format, NaN scores, stream entries without fields, and pending
//! entries that no group lists. Not reproduced exactly: consumers' seen and
//! active times (set to the time of the replay), pending entries whose stream
//! entry was deleted (`XCLAIM` ignores ids that are not in the stream), and a
//! stream length stored larger than its live entries (old files).
//!
//! Memory: values go out as their items arrive, in bounded commands. Only a
//! consumer group's pending entries wait for the group's consumers, in a
//! [`PendingEntries`] that moves to a temporary file once it is large.

use super::pending::PendingEntries;
use super::spool::DEFAULT_SPILL_BYTES;
use super::{Output, Summary};
use bytes::Bytes;
use ferry_rdb::{Encoding, Function, Item, KeyHeader, Kind, ModuleAux, StreamId};
use std::io::{self, Write};

/// Most elements (list items, members, field/value pairs ...) in one command.
pub const MAX_BATCH_ELEMENTS: usize = 512;
/// A command is sent once its elements reach this many bytes.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Longest piece of a string in one `SET` or `APPEND`.
pub const MAX_STRING_PIECE_BYTES: usize = 512 * 1024;
/// Name of the consumer group used for a moment to create an empty stream.
const TEMP_GROUP: &[u8] = b"ferry-dump-tmp-group";

/// Formats a score for `ZADD`: shortest round-trip decimal, `+inf` or `-inf`.
/// `None` for NaN, which Redis does not accept.
pub fn score_arg(score: f64) -> Option<String> {
    if score.is_nan() {
        None
    } else if score.is_infinite() {
        Some(if score > 0.0 { "+inf" } else { "-inf" }.to_owned())
    } else {
        Some(ryu::Buffer::new().format_finite(score).to_owned())
    }
}

/// Writes the RESP array header `*n\r\n`.
fn write_array_header<W: Write>(out: &mut W, n: usize) -> io::Result<()> {
    out.write_all(b"*")?;
    out.write_all(itoa::Buffer::new().format(n).as_bytes())?;
    out.write_all(b"\r\n")
}

/// Writes one bulk string `$len\r\nbytes\r\n`.
fn write_bulk<W: Write>(out: &mut W, arg: &[u8]) -> io::Result<()> {
    out.write_all(b"$")?;
    out.write_all(itoa::Buffer::new().format(arg.len()).as_bytes())?;
    out.write_all(b"\r\n")?;
    out.write_all(arg)?;
    out.write_all(b"\r\n")
}

/// Writes one command as a RESP array of bulk strings.
///
/// # Errors
/// Writing failed.
pub fn write_command<W: Write>(out: &mut W, args: &[&[u8]]) -> io::Result<()> {
    write_array_header(out, args.len())?;
    for arg in args {
        write_bulk(out, arg)?;
    }
    Ok(())
}

fn id_arg(id: StreamId) -> String {
    format!("{}-{}", id.ms, id.seq)
}

fn num_arg(n: impl itoa::Integer) -> String {
    itoa::Buffer::new().format(n).to_owned()
}

/// Prints a warning line on stderr (ignoring a closed stderr).
fn warn(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "ferry: warning: {message}");
}

/// Counts something not representable and says so on stderr.
fn unsupported(summary: &mut Summary, message: std::fmt::Arguments<'_>) {
    summary.unsupported += 1;
    warn(message);
}

/// A key name for messages: printable ASCII as is, the rest escaped.
fn shown(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

/// Elements waiting to be sent as one command.
#[derive(Debug, Default)]
struct Batch {
    command: &'static [u8],
    args: Vec<Bytes>,
    elements: usize,
    bytes: usize,
}

impl Batch {
    fn is_full(&self) -> bool {
        self.elements >= MAX_BATCH_ELEMENTS || self.bytes >= MAX_BATCH_BYTES
    }
}

/// Why the current key produces no commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Expired,
    Unsupported,
}

/// Per-key state.
#[derive(Debug)]
struct Key {
    header: KeyHeader,
    skip: Option<Skip>,
    /// A command for this key has been written.
    started: bool,
    batch: Batch,
    /// Hash fields of the current batch with their TTL.
    field_ttls: Vec<(Bytes, u64)>,
    /// Hash fields left out as expired.
    expired_fields: u64,
    string_started: bool,
    stream_entries: u64,
    group: Option<Bytes>,
    /// The current group's pending entries.
    pel: PendingEntries,
    consumer: Option<Bytes>,
}

/// Writes `--format resp`.
#[derive(Debug)]
pub struct RespOutput<W: Write> {
    out: W,
    now_ms: i64,
    spill_bytes: usize,
    db: Option<u64>,
    key: Option<Key>,
    summary: Summary,
}

impl<W: Write> RespOutput<W> {
    /// Writes commands to `out`; keys and hash fields that expire at or before
    /// `now_ms` (Unix ms) are left out.
    pub fn new(out: W, now_ms: i64) -> Self {
        Self::with_spill_bytes(out, now_ms, DEFAULT_SPILL_BYTES)
    }

    /// As [`RespOutput::new`]; a stream consumer group's pending entries
    /// beyond about `spill_bytes` wait in a temporary file for their consumers.
    pub fn with_spill_bytes(out: W, now_ms: i64, spill_bytes: usize) -> Self {
        RespOutput {
            out,
            now_ms,
            spill_bytes,
            db: None,
            key: None,
            summary: Summary::default(),
        }
    }
}

/// Writes the commands of one key; borrows the writer and the connection's db.
struct KeyWriter<'a, W: Write> {
    out: &'a mut W,
    db: &'a mut Option<u64>,
    key: &'a mut Key,
}

impl<W: Write> KeyWriter<'_, W> {
    /// Before the key's first command: `SELECT` if needed, `DEL` for collections.
    fn start(&mut self) -> io::Result<()> {
        if self.key.started {
            return Ok(());
        }
        self.key.started = true;
        if *self.db != Some(self.key.header.db) {
            let db = num_arg(self.key.header.db);
            write_command(self.out, &[b"SELECT", db.as_bytes()])?;
            *self.db = Some(self.key.header.db);
        }
        if self.key.header.kind() != Kind::String {
            write_command(self.out, &[b"DEL", &self.key.header.key])?;
        }
        Ok(())
    }

    /// Writes a subcommand about this key: `command subcommand key args...`.
    fn subcommand(&mut self, command: &[u8], subcommand: &[u8], args: &[&[u8]]) -> io::Result<()> {
        self.start()?;
        write_array_header(self.out, 3 + args.len())?;
        write_bulk(self.out, command)?;
        write_bulk(self.out, subcommand)?;
        write_bulk(self.out, &self.key.header.key)?;
        for arg in args {
            write_bulk(self.out, arg)?;
        }
        Ok(())
    }

    /// Writes a command about this key: `command key args...`.
    fn command(&mut self, command: &[u8], args: &[&[u8]]) -> io::Result<()> {
        self.start()?;
        write_array_header(self.out, 2 + args.len())?;
        write_bulk(self.out, command)?;
        write_bulk(self.out, &self.key.header.key)?;
        for arg in args {
            write_bulk(self.out, arg)?;
        }
        Ok(())
    }

    /// Adds one element (one or two arguments) to the batch of `command`.
    fn push(&mut self, command: &'static [u8], args: [Bytes; 2], n: usize) -> io::Result<()> {
        let batch = &mut self.key.batch;
        if !batch.args.is_empty() && batch.command != command {
            self.flush()?;
        }
        let batch = &mut self.key.batch;
        batch.command = command;
        for arg in args.into_iter().take(n) {
            batch.bytes += arg.len();
            batch.args.push(arg);
        }
        batch.elements += 1;
        if batch.is_full() {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the pending batch, then the TTLs of the hash fields it set.
    fn flush(&mut self) -> io::Result<()> {
        if self.key.batch.args.is_empty() {
            return Ok(());
        }
        self.start()?;
        let batch = std::mem::take(&mut self.key.batch);
        write_array_header(self.out, 2 + batch.args.len())?;
        write_bulk(self.out, batch.command)?;
        write_bulk(self.out, &self.key.header.key)?;
        for arg in &batch.args {
            write_bulk(self.out, arg)?;
        }
        let ttls = std::mem::take(&mut self.key.field_ttls);
        for run in ttls.chunk_by(|a, b| a.1 == b.1) {
            let ms = num_arg(run[0].1);
            let n = num_arg(run.len());
            write_array_header(self.out, 5 + run.len())?;
            for arg in [
                b"HPEXPIREAT".as_slice(),
                &self.key.header.key,
                ms.as_bytes(),
                b"FIELDS",
                n.as_bytes(),
            ] {
                write_bulk(self.out, arg)?;
            }
            for (field, _) in run {
                write_bulk(self.out, field)?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Output for RespOutput<W> {
    fn begin_key(&mut self, header: &KeyHeader) -> io::Result<()> {
        let mut skip = None;
        if header.expire_at_ms.is_some_and(|ms| ms <= self.now_ms) {
            self.summary.expired_keys_skipped += 1;
            skip = Some(Skip::Expired);
        } else if header.kind() == Kind::Module {
            let name = header.module.map(|m| m.name()).unwrap_or_default();
            unsupported(
                &mut self.summary,
                format_args!(
                    "db {} key \"{}\": module value (type {name}) cannot be written as commands; skipped",
                    header.db,
                    shown(&header.key)
                ),
            );
            skip = Some(Skip::Unsupported);
        }
        self.key = Some(Key {
            header: header.clone(),
            skip,
            started: false,
            batch: Batch::default(),
            field_ttls: Vec::new(),
            expired_fields: 0,
            string_started: false,
            stream_entries: 0,
            group: None,
            pel: PendingEntries::new(self.spill_bytes),
            consumer: None,
        });
        Ok(())
    }

    fn element(&mut self, item: Item) -> io::Result<()> {
        let Some(key) = self.key.as_mut() else {
            return Ok(());
        };
        if key.skip.is_some() {
            return Ok(());
        }
        let mut w = KeyWriter {
            out: &mut self.out,
            db: &mut self.db,
            key,
        };
        match item {
            Item::StringChunk(chunk) => {
                // Chunks are usually small, but a decompressed one may not be.
                let mut rest = chunk;
                loop {
                    let piece = rest.split_to(rest.len().min(MAX_STRING_PIECE_BYTES));
                    let command: &[u8] = if w.key.string_started {
                        b"APPEND"
                    } else {
                        b"SET"
                    };
                    w.key.string_started = true;
                    w.command(command, &[&piece])?;
                    if rest.is_empty() {
                        break;
                    }
                }
            }
            Item::ListItem(item) => w.push(b"RPUSH", [item, Bytes::new()], 1)?,
            Item::SetMember(member) => w.push(b"SADD", [member, Bytes::new()], 1)?,
            Item::ZSetEntry { member, score } => match score_arg(score) {
                Some(score) => w.push(b"ZADD", [Bytes::from(score), member], 2)?,
                None => {
                    let (db, name) = (w.key.header.db, shown(&w.key.header.key));
                    unsupported(
                        &mut self.summary,
                        format_args!(
                            "db {db} key \"{name}\": member \"{}\" has a NaN score, which ZADD refuses; skipped",
                            shown(&member)
                        ),
                    );
                }
            },
            Item::HashField {
                field,
                value,
                expire_at_ms,
            } => {
                if let Some(ms) = expire_at_ms {
                    if i64::try_from(ms).is_ok_and(|ms| ms <= self.now_ms) {
                        w.key.expired_fields += 1;
                        self.summary.expired_fields_skipped += 1;
                        return Ok(());
                    }
                    w.key.field_ttls.push((field.clone(), ms));
                }
                w.push(b"HSET", [field, value], 2)?;
            }
            Item::StreamEntry(entry) => {
                if entry.fields.is_empty() {
                    let (db, name) = (w.key.header.db, shown(&w.key.header.key));
                    unsupported(
                        &mut self.summary,
                        format_args!(
                            "db {db} key \"{name}\": stream entry {} has no fields, which XADD refuses; skipped",
                            entry.id
                        ),
                    );
                    return Ok(());
                }
                let id = id_arg(entry.id);
                let mut args: Vec<&[u8]> = Vec::with_capacity(1 + 2 * entry.fields.len());
                args.push(id.as_bytes());
                for (field, value) in &entry.fields {
                    args.push(field);
                    args.push(value);
                }
                w.command(b"XADD", &args)?;
                w.key.stream_entries += 1;
            }
            Item::StreamMeta(meta) => {
                if w.key.stream_entries == 0 {
                    // No XADD created the stream: a group with MKSTREAM does.
                    w.subcommand(b"XGROUP", b"CREATE", &[TEMP_GROUP, b"0", b"MKSTREAM"])?;
                    w.subcommand(b"XGROUP", b"DESTROY", &[TEMP_GROUP])?;
                }
                let last = id_arg(meta.last_id);
                if w.key.header.encoding == Encoding::StreamListpacks {
                    // A v1 stream (Redis 5.0 to 6.2) records neither counter:
                    // Redis 7 loading it takes its length and 0-0, which is
                    // what the XADDs above leave. Without the 7.0 options
                    // the command also works on the servers that wrote it.
                    w.command(b"XSETID", &[last.as_bytes()])?;
                } else {
                    let added = num_arg(meta.entries_added.max(w.key.stream_entries));
                    let max_deleted = id_arg(meta.max_deleted_id);
                    w.command(
                        b"XSETID",
                        &[
                            last.as_bytes(),
                            b"ENTRIESADDED",
                            added.as_bytes(),
                            b"MAXDELETEDID",
                            max_deleted.as_bytes(),
                        ],
                    )?;
                }
            }
            Item::StreamGroup(group) => {
                let last = id_arg(group.last_id);
                match group.entries_read.filter(|&n| i64::try_from(n).is_ok()) {
                    Some(n) => {
                        let n = num_arg(n);
                        w.subcommand(
                            b"XGROUP",
                            b"CREATE",
                            &[&group.name, last.as_bytes(), b"ENTRIESREAD", n.as_bytes()],
                        )?;
                    }
                    None => w.subcommand(b"XGROUP", b"CREATE", &[&group.name, last.as_bytes()])?,
                }
                w.key.group = Some(group.name);
                w.key.pel.clear();
                w.key.consumer = None;
            }
            Item::StreamPending(nack) => w.key.pel.insert(nack)?,
            Item::StreamConsumer(consumer) => {
                let group = w.key.group.clone().unwrap_or_default();
                w.subcommand(b"XGROUP", b"CREATECONSUMER", &[&group, &consumer.name])?;
                w.key.consumer = Some(consumer.name);
            }
            Item::StreamConsumerPending(id) => {
                let group = w.key.group.clone().unwrap_or_default();
                let consumer = w.key.consumer.clone().unwrap_or_default();
                match w.key.pel.claim(id)? {
                    Some((time, count)) => {
                        let (id, time, count) = (id_arg(id), num_arg(time), num_arg(count));
                        w.command(
                            b"XCLAIM",
                            &[
                                &group,
                                &consumer,
                                b"0",
                                id.as_bytes(),
                                b"TIME",
                                time.as_bytes(),
                                b"RETRYCOUNT",
                                count.as_bytes(),
                                b"FORCE",
                                b"JUSTID",
                            ],
                        )?;
                    }
                    None => {
                        let (db, name) = (w.key.header.db, shown(&w.key.header.key));
                        unsupported(
                            &mut self.summary,
                            format_args!(
                                "db {db} key \"{name}\": consumer \"{}\" has pending id {id} that group \"{}\" does not list; skipped",
                                shown(&consumer),
                                shown(&group)
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end_key(&mut self) -> io::Result<()> {
        let Some(mut key) = self.key.take() else {
            return Ok(());
        };
        if key.skip.is_some() {
            return Ok(());
        }
        let mut w = KeyWriter {
            out: &mut self.out,
            db: &mut self.db,
            key: &mut key,
        };
        w.flush()?;
        if !w.key.started {
            if w.key.expired_fields > 0 {
                self.summary.expired_keys_skipped += 1;
            } else {
                self.summary.empty_keys_skipped += 1;
            }
            return Ok(());
        }
        if let Some(ms) = w.key.header.expire_at_ms {
            let ms = num_arg(ms);
            w.command(b"PEXPIREAT", &[ms.as_bytes()])?;
        }
        self.summary.keys_written += 1;
        Ok(())
    }

    fn function(&mut self, function: &Function) -> io::Result<()> {
        if let Some(pre_ga) = &function.pre_ga {
            unsupported(
                &mut self.summary,
                format_args!(
                    "function \"{}\" is in the format of Redis 7.0 release candidates, which FUNCTION LOAD does not take; skipped",
                    shown(&pre_ga.name)
                ),
            );
            return Ok(());
        }
        write_command(
            &mut self.out,
            &[b"FUNCTION", b"LOAD", b"REPLACE", &function.code],
        )?;
        self.summary.functions_written += 1;
        Ok(())
    }

    fn module_aux(&mut self, aux: &ModuleAux) -> io::Result<()> {
        unsupported(
            &mut self.summary,
            format_args!(
                "AUX data of module type {} cannot be written as commands; skipped",
                aux.module.name()
            ),
        );
        Ok(())
    }

    fn finish(&mut self) -> io::Result<Summary> {
        self.out.flush()?;
        Ok(self.summary.clone())
    }
}
