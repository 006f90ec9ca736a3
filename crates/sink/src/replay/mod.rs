//! Command replay: the commands that rebuild a key from its RDB items.
//!
//! A [`Replayer`] is fed, per key, [`Replayer::begin_key`], the key's element
//! items ([`Replayer::element`]) and [`Replayer::end_key`]; function libraries
//! and module AUX data come outside keys. It pushes [`Write`]s onto the
//! caller's `Vec` as the items arrive, in bounded commands; it does no I/O
//! except for a consumer group's long pending-entries list, which waits in an
//! anonymous temporary file (see [`PendingEntries`]).
//!
//! Per key, in file order: `DEL key` as chosen by [`DelBefore`] (by default
//! before a list, set, sorted set, hash or stream, so that a replay onto a
//! server that holds the key replaces it); then the value in commands of at
//! most [`MAX_BATCH_ELEMENTS`] elements or about [`MAX_BATCH_BYTES`] bytes:
//!
//! - string: `SET key piece`, then `APPEND key piece` for each further piece of
//!   at most [`MAX_STRING_PIECE_BYTES`];
//! - list: `RPUSH`; set: `SADD`; sorted set: `ZADD key score member ...` with
//!   scores that parse back to the same double (`+inf`, `-inf`);
//! - hash: `HSET` (`HMSET` without [`Features::multi_field_hset`]), then
//!   `HPEXPIREAT key ms FIELDS n field ...` for fields with their own TTL;
//! - stream: `XADD key id field value ...` per entry, `XSETID key last-id
//!   ENTRIESADDED n MAXDELETEDID id` (plain `XSETID key last-id` for a stream
//!   in the v1 format of Redis 5.0 to 6.2, which has neither counter, or
//!   without [`Features::stream_v2`]), per group `XGROUP CREATE key group
//!   last-id ENTRIESREAD n`, per consumer `XGROUP CREATECONSUMER`, and per
//!   pending entry `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE
//!   JUSTID`. An empty stream is created with `XGROUP CREATE ... MKSTREAM` of
//!   a temporary group that is destroyed again;
//!
//! then `PEXPIREAT key ms` when the key has a TTL. Function libraries become
//! `FUNCTION LOAD [REPLACE] code` ([`WriteMode::Function`], no key). The
//! database is in [`Write::db`]: no `SELECT` is produced.
//!
//! Left out, as a server loading the file would drop them: keys whose expire
//! time has passed, hash fields whose own expire time has passed, and empty
//! collections (counted in the [`Summary`]). Left out with a [`Note`], as no
//! command can rebuild them: module values and module AUX data, functions in
//! the Redis 7.0 release candidate format, NaN scores, stream entries without
//! fields, and pending entries that no group lists. Not reproduced exactly:
//! consumers' seen and active times (set to the time of the replay), pending
//! entries whose stream entry was deleted (`XCLAIM` ignores ids that are not
//! in the stream), and a stream length stored larger than its live entries
//! (old files).
//!
//! What it does **not** do: talk to a server, choose between `RESTORE` and
//! replay (see [`crate::plan`]), or detect that a key already exists on the
//! target (only [`DelBefore`] decides what happens to an existing key).
//!
//! ```
//! use bytes::Bytes;
//! use ferry_rdb::{Encoding, Item, KeyHeader};
//! use ferry_sink::replay::{Options, Replayer};
//!
//! let header = KeyHeader {
//!     db: 0,
//!     key: Bytes::from_static(b"list"),
//!     encoding: Encoding::ListQuicklist2,
//!     expire_at_ms: None,
//!     lru_idle: None,
//!     lfu_freq: None,
//!     len: None,
//!     module: None,
//!     offset: 0,
//! };
//! let mut replayer = Replayer::new(Options::new(1_700_000_000_000));
//! let mut writes = Vec::new();
//! replayer.begin_key(&header);
//! replayer.element(Item::ListItem(Bytes::from_static(b"a")), &mut writes)?;
//! replayer.end_key(&mut writes);
//! let commands: Vec<_> = writes.iter().map(|w| w.command.parts()[0].clone()).collect();
//! assert_eq!(commands, ["DEL", "RPUSH"]);
//! assert!(writes[1].last_of_key);
//! # Ok::<(), std::io::Error>(())
//! ```

mod note;
mod pending;

pub use note::{Note, NoteKind};
pub use pending::{Delivery, PendingEntries};

use crate::{Expect, Write, WriteMode};
use bytes::Bytes;
use ferry_rdb::{Encoding, Function, Item, KeyHeader, Kind, ModuleAux};
use ferry_resp::Command;
use std::collections::VecDeque;
use std::io;

/// Most elements (list items, members, field/value pairs ...) in one command.
pub const MAX_BATCH_ELEMENTS: usize = 512;
/// A command is complete once its elements reach this many bytes (so it may
/// exceed it by one element).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Longest piece of a string in one `SET` or `APPEND`.
pub const MAX_STRING_PIECE_BYTES: usize = 512 * 1024;
/// Default of [`Options::spill_bytes`].
pub const DEFAULT_SPILL_BYTES: usize = 8 * 1024 * 1024;
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

/// Which keys get a `DEL key` before their commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DelBefore {
    /// None: commands add to a key that exists (or fail on one of another type).
    Never,
    /// Lists, sets, sorted sets, hashes and streams, which the commands would
    /// otherwise add to; a string's `SET` replaces the key anyway. What
    /// `ferry dump --format resp` writes.
    #[default]
    Collections,
    /// Every key (`--on-conflict replace`).
    Every,
}

/// Commands the target has, for targets older than the commands' defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `HPEXPIREAT key ms FIELDS n field ...` (Redis 7.4+, Valkey 9.0+).
    /// Without it, hash fields are written without their TTL, with a note.
    pub hash_field_ttl: bool,
    /// `XSETID ... ENTRIESADDED n MAXDELETEDID id` and `XGROUP CREATE ...
    /// ENTRIESREAD n` (Redis 7.0+). Without it, plain `XSETID` and `XGROUP CREATE`.
    pub stream_v2: bool,
    /// `XGROUP CREATECONSUMER` (Redis 6.2+). Without it, consumers are
    /// created by their `XCLAIM`s; one that owns no pending entry is left out
    /// with a note.
    pub create_consumer: bool,
    /// `HSET` with several fields (Redis 4.0+). Without it, `HMSET`.
    pub multi_field_hset: bool,
}

impl Default for Features {
    /// Every feature (a Redis 7.4+ or Valkey 9.0+ target).
    fn default() -> Self {
        Features {
            hash_field_ttl: true,
            stream_v2: true,
            create_consumer: true,
            multi_field_hset: true,
        }
    }
}

/// How a [`Replayer`] writes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time of the replay, Unix ms: keys and hash fields that expire at
    /// or before it are left out.
    pub now_ms: i64,
    /// Which keys get a `DEL` first.
    pub del: DelBefore,
    /// `FUNCTION LOAD REPLACE` (true) or plain `FUNCTION LOAD`, which fails
    /// on a target that has the library.
    pub function_replace: bool,
    /// A consumer group's pending entries beyond about this many bytes wait in
    /// a temporary file for their consumers.
    pub spill_bytes: usize,
    /// Commands the target has.
    pub features: Features,
}

impl Options {
    /// What `ferry dump --format resp` writes: [`DelBefore::Collections`],
    /// `FUNCTION LOAD REPLACE`, [`DEFAULT_SPILL_BYTES`], every feature.
    pub fn new(now_ms: i64) -> Self {
        Options {
            now_ms,
            del: DelBefore::Collections,
            function_replace: true,
            spill_bytes: DEFAULT_SPILL_BYTES,
            features: Features::default(),
        }
    }
}

/// What a [`Replayer`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Keys written.
    pub keys_written: u64,
    /// Function libraries written.
    pub functions_written: u64,
    /// Keys left out because their expire time had passed (or all their hash
    /// fields had expired).
    pub expired_keys_skipped: u64,
    /// Hash fields left out because their own expire time had passed.
    pub expired_fields_skipped: u64,
    /// Keys left out because they had no elements.
    pub empty_keys_skipped: u64,
    /// Keys, functions, module data or elements left out or changed, each
    /// with a [`Note`].
    pub unsupported: u64,
}

/// How a key ended, from [`Replayer::end_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Commands were written for it.
    Written,
    /// Left out: its expire time had passed, or every hash field had expired.
    Expired,
    /// Left out: no elements.
    Empty,
    /// Left out with a note (a module value).
    Unsupported,
}

/// Why the current key produces no commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Expired,
    Unsupported,
}

/// Elements waiting to be sent as one command (name, key and arguments).
#[derive(Debug, Default)]
struct Batch {
    command: Option<Command>,
    name: &'static [u8],
    elements: usize,
    bytes: usize,
}

impl Batch {
    fn is_full(&self) -> bool {
        self.elements >= MAX_BATCH_ELEMENTS || self.bytes >= MAX_BATCH_BYTES
    }
}

/// Per-key state.
#[derive(Debug)]
struct Key {
    header: KeyHeader,
    skip: Option<Skip>,
    /// A command for this key has been produced.
    started: bool,
    batch: Batch,
    /// Hash fields of the current batch with their TTL.
    field_ttls: Vec<(Bytes, u64)>,
    /// Hash fields left out as expired.
    expired_fields: u64,
    /// Hash fields written without their TTL.
    dropped_field_ttls: u64,
    string_started: bool,
    stream_entries: u64,
    group: Option<Bytes>,
    consumer: Option<Bytes>,
}

/// Turns RDB items into the commands that rebuild them. See the [module
/// documentation](self).
#[derive(Debug)]
pub struct Replayer {
    options: Options,
    key: Option<Key>,
    /// The current group's pending entries.
    pel: PendingEntries,
    /// The last write produced, held until the next one shows whether it is
    /// the last of its key.
    held: Option<Write>,
    summary: Summary,
    notes: VecDeque<Note>,
}

impl Replayer {
    /// A replayer writing as `options` say.
    pub fn new(options: Options) -> Self {
        Replayer {
            pel: PendingEntries::new(options.spill_bytes),
            options,
            key: None,
            held: None,
            summary: Summary::default(),
            notes: VecDeque::new(),
        }
    }

    /// The options given to [`Replayer::new`].
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// What was done so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The oldest note not yet taken. Notes wait until taken: poll them
    /// after each call when a file may hold many.
    pub fn poll_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// A key starts. A key that expired by [`Options::now_ms`] and a module
    /// value (with a note) produce no commands.
    pub fn begin_key(&mut self, header: &KeyHeader) {
        let mut skip = None;
        if header
            .expire_at_ms
            .is_some_and(|ms| ms <= self.options.now_ms)
        {
            skip = Some(Skip::Expired);
        } else if header.kind() == Kind::Module {
            let module = header.module.map(|m| m.name()).unwrap_or_default();
            self.note(Some(header), NoteKind::ModuleValue { module });
            skip = Some(Skip::Unsupported);
        }
        if skip == Some(Skip::Expired) {
            self.summary.expired_keys_skipped += 1;
        }
        self.pel.clear();
        self.key = Some(Key {
            header: header.clone(),
            skip,
            started: false,
            batch: Batch::default(),
            field_ttls: Vec::new(),
            expired_fields: 0,
            dropped_field_ttls: 0,
            string_started: false,
            stream_entries: 0,
            group: None,
            consumer: None,
        });
    }

    /// An element item of the current key (other items are ignored).
    ///
    /// # Errors
    /// The temporary file of a long pending-entries list cannot be created,
    /// written or read.
    pub fn element(&mut self, item: Item, out: &mut Vec<Write>) -> io::Result<()> {
        let Some(key) = self.key.as_mut() else {
            return Ok(());
        };
        if key.skip.is_some() {
            return Ok(());
        }
        let features = self.options.features;
        let mut w = KeyWriter {
            key,
            held: &mut self.held,
            out,
            del: self.options.del,
        };
        let mut note = None;
        match item {
            Item::StringChunk(chunk) => {
                // Chunks are usually small, but a decompressed one may not be.
                let mut rest = chunk;
                loop {
                    let piece = rest.split_to(rest.len().min(MAX_STRING_PIECE_BYTES));
                    let name: &'static [u8] = if w.key.string_started {
                        b"APPEND"
                    } else {
                        b"SET"
                    };
                    w.key.string_started = true;
                    let command = w.command(name).arg(piece);
                    w.emit(command);
                    if rest.is_empty() {
                        break;
                    }
                }
            }
            Item::ListItem(item) => w.push(b"RPUSH", [item, Bytes::new()], 1),
            Item::SetMember(member) => w.push(b"SADD", [member, Bytes::new()], 1),
            Item::ZSetEntry { member, score } => match score_arg(score) {
                Some(score) => w.push(b"ZADD", [Bytes::from(score), member], 2),
                None => note = Some(NoteKind::NanScore { member }),
            },
            Item::HashField {
                field,
                value,
                expire_at_ms,
            } => {
                if let Some(ms) = expire_at_ms {
                    if i64::try_from(ms).is_ok_and(|ms| ms <= self.options.now_ms) {
                        w.key.expired_fields += 1;
                        self.summary.expired_fields_skipped += 1;
                        return Ok(());
                    }
                    if features.hash_field_ttl {
                        w.key.field_ttls.push((field.clone(), ms));
                    } else {
                        w.key.dropped_field_ttls += 1;
                    }
                }
                let name: &'static [u8] = if features.multi_field_hset {
                    b"HSET"
                } else {
                    b"HMSET"
                };
                w.push(name, [field, value], 2);
            }
            Item::StreamEntry(entry) => {
                if entry.fields.is_empty() {
                    note = Some(NoteKind::EntryWithoutFields { id: entry.id });
                } else {
                    let mut command = Command::with_capacity(
                        Bytes::from_static(b"XADD"),
                        2 + 2 * entry.fields.len(),
                    )
                    .arg(&w.key.header.key)
                    .arg(entry.id.to_string());
                    for (field, value) in entry.fields {
                        command.push_arg(field);
                        command.push_arg(value);
                    }
                    w.emit(command);
                    w.key.stream_entries += 1;
                }
            }
            Item::StreamMeta(meta) => {
                if w.key.stream_entries == 0 {
                    // No XADD created the stream: a group with MKSTREAM does.
                    let create = w
                        .subcommand(b"XGROUP", b"CREATE")
                        .arg(Bytes::from_static(TEMP_GROUP))
                        .arg("0")
                        .arg("MKSTREAM");
                    w.emit(create);
                    let destroy = w
                        .subcommand(b"XGROUP", b"DESTROY")
                        .arg(Bytes::from_static(TEMP_GROUP));
                    w.emit(destroy);
                }
                let mut command = w.command(b"XSETID").arg(meta.last_id.to_string());
                if w.key.header.encoding != Encoding::StreamListpacks && features.stream_v2 {
                    // A v1 stream (Redis 5.0 to 6.2) records neither counter:
                    // Redis 7 loading it takes its length and 0-0, which is
                    // what the XADDs leave. Without the 7.0 options the
                    // command also works on the servers that wrote it.
                    command = command
                        .arg("ENTRIESADDED")
                        .arg(meta.entries_added.max(w.key.stream_entries))
                        .arg("MAXDELETEDID")
                        .arg(meta.max_deleted_id.to_string());
                }
                w.emit(command);
            }
            Item::StreamGroup(group) => {
                let mut command = w
                    .subcommand(b"XGROUP", b"CREATE")
                    .arg(&group.name)
                    .arg(group.last_id.to_string());
                let entries_read = group.entries_read.filter(|&n| i64::try_from(n).is_ok());
                if let Some(n) = entries_read.filter(|_| features.stream_v2) {
                    command = command.arg("ENTRIESREAD").arg(n);
                }
                w.emit(command);
                w.key.group = Some(group.name);
                w.key.consumer = None;
                self.pel.clear();
            }
            Item::StreamPending(nack) => self.pel.insert(nack)?,
            Item::StreamConsumer(consumer) => {
                let group = w.key.group.clone().unwrap_or_default();
                if features.create_consumer {
                    let command = w
                        .subcommand(b"XGROUP", b"CREATECONSUMER")
                        .arg(&group)
                        .arg(&consumer.name);
                    w.emit(command);
                } else if consumer.pel_len == 0 {
                    note = Some(NoteKind::ConsumerNotCreated {
                        group,
                        consumer: consumer.name.clone(),
                    });
                }
                w.key.consumer = Some(consumer.name);
            }
            Item::StreamConsumerPending(id) => {
                let group = w.key.group.clone().unwrap_or_default();
                let consumer = w.key.consumer.clone().unwrap_or_default();
                match self.pel.claim(id)? {
                    Some((time, count)) => {
                        let command = w
                            .command(b"XCLAIM")
                            .arg(group)
                            .arg(consumer)
                            .arg("0")
                            .arg(id.to_string())
                            .arg("TIME")
                            .arg(time)
                            .arg("RETRYCOUNT")
                            .arg(count)
                            .arg("FORCE")
                            .arg("JUSTID");
                        w.emit(command);
                    }
                    None => {
                        note = Some(NoteKind::UnlistedPending {
                            group,
                            consumer,
                            id,
                        })
                    }
                }
            }
            _ => {}
        }
        if let Some(kind) = note {
            let header = self.key.as_ref().map(|k| k.header.clone());
            self.note(header.as_ref(), kind);
        }
        Ok(())
    }

    /// The current key is complete: its last commands go out, the last one
    /// marked [`Write::last_of_key`].
    pub fn end_key(&mut self, out: &mut Vec<Write>) -> KeyOutcome {
        let Some(mut key) = self.key.take() else {
            return KeyOutcome::Empty;
        };
        self.pel.clear();
        match key.skip {
            Some(Skip::Expired) => return KeyOutcome::Expired,
            Some(Skip::Unsupported) => return KeyOutcome::Unsupported,
            None => {}
        }
        let mut w = KeyWriter {
            key: &mut key,
            held: &mut self.held,
            out,
            del: self.options.del,
        };
        w.flush();
        if !w.key.started {
            return if w.key.expired_fields > 0 {
                self.summary.expired_keys_skipped += 1;
                KeyOutcome::Expired
            } else {
                self.summary.empty_keys_skipped += 1;
                KeyOutcome::Empty
            };
        }
        if let Some(ms) = w.key.header.expire_at_ms {
            let command = w.command(b"PEXPIREAT").arg(ms);
            w.emit(command);
        }
        if let Some(mut last) = self.held.take() {
            last.last_of_key = true;
            out.push(last);
        }
        self.summary.keys_written += 1;
        if key.dropped_field_ttls > 0 {
            let fields = key.dropped_field_ttls;
            self.note(Some(&key.header), NoteKind::FieldTtlsDropped { fields });
        }
        KeyOutcome::Written
    }

    /// A function library: `FUNCTION LOAD [REPLACE] code`, or a note for the
    /// format of Redis 7.0 release candidates.
    pub fn function(&mut self, function: &Function, out: &mut Vec<Write>) {
        if let Some(pre_ga) = &function.pre_ga {
            let name = pre_ga.name.clone();
            self.note(None, NoteKind::PreGaFunction { name });
            return;
        }
        self.flush_held(out);
        out.push(function_load(
            &function.code,
            self.options.function_replace,
            Expect::Success,
        ));
        self.summary.functions_written += 1;
    }

    /// Module AUX data: a note, as no command writes it.
    pub fn module_aux(&mut self, aux: &ModuleAux) {
        let module = aux.module.name();
        self.note(None, NoteKind::ModuleAux { module });
    }

    /// Hands over the command held back (of a key that did not end: the input
    /// stopped), not marked as its key's last. Call at the end of the input.
    pub fn finish(&mut self, out: &mut Vec<Write>) {
        self.flush_held(out);
    }

    /// Records a note about `header`'s key (or none) and counts it.
    fn note(&mut self, header: Option<&KeyHeader>, kind: NoteKind) {
        self.summary.unsupported += 1;
        self.notes.push_back(Note {
            db: header.map(|h| h.db),
            key: header.map(|h| h.key.clone()),
            kind,
        });
    }

    fn flush_held(&mut self, out: &mut Vec<Write>) {
        if let Some(write) = self.held.take() {
            out.push(write);
        }
    }
}

/// `FUNCTION LOAD [REPLACE] code` as a write.
pub(crate) fn function_load(code: &Bytes, replace: bool, expect: Expect) -> Write {
    let mut command =
        Command::with_capacity(Bytes::from_static(b"FUNCTION"), 3).arg(Bytes::from_static(b"LOAD"));
    if replace {
        command.push_arg(Bytes::from_static(b"REPLACE"));
    }
    command.push_arg(code);
    Write {
        db: 0,
        key: None,
        command,
        mode: WriteMode::Function,
        expect,
        last_of_key: true,
    }
}

/// Produces the commands of one key; borrows the replayer's parts.
struct KeyWriter<'a> {
    key: &'a mut Key,
    held: &'a mut Option<Write>,
    out: &'a mut Vec<Write>,
    del: DelBefore,
}

impl KeyWriter<'_> {
    /// `name key`, to add arguments to.
    fn command(&self, name: &'static [u8]) -> Command {
        Command::new(Bytes::from_static(name)).arg(&self.key.header.key)
    }

    /// `name subcommand key`, to add arguments to.
    fn subcommand(&self, name: &'static [u8], subcommand: &'static [u8]) -> Command {
        Command::new(Bytes::from_static(name))
            .arg(Bytes::from_static(subcommand))
            .arg(&self.key.header.key)
    }

    /// Sends a command of this key; before its first one, `DEL` if chosen.
    fn emit(&mut self, command: Command) {
        if !self.key.started {
            self.key.started = true;
            let del = match self.del {
                DelBefore::Never => false,
                DelBefore::Collections => self.key.header.kind() != Kind::String,
                DelBefore::Every => true,
            };
            if del {
                let del = self.command(b"DEL");
                self.send(del);
            }
        }
        self.send(command);
    }

    /// Hands the held write over and holds this one.
    fn send(&mut self, command: Command) {
        let write = Write {
            db: self.key.header.db,
            key: Some(self.key.header.key.clone()),
            command,
            mode: WriteMode::Commands,
            expect: Expect::Success,
            last_of_key: false,
        };
        if let Some(previous) = self.held.replace(write) {
            self.out.push(previous);
        }
    }

    /// Adds one element (one or two arguments) to the batch of `name`.
    fn push(&mut self, name: &'static [u8], args: [Bytes; 2], n: usize) {
        if self.key.batch.command.is_some() && self.key.batch.name != name {
            self.flush();
        }
        if self.key.batch.command.is_none() {
            self.key.batch.name = name;
            self.key.batch.command = Some(self.command(name));
        }
        let batch = &mut self.key.batch;
        if let Some(command) = &mut batch.command {
            for arg in args.into_iter().take(n) {
                batch.bytes += arg.len();
                command.push_arg(arg);
            }
        }
        batch.elements += 1;
        if batch.is_full() {
            self.flush();
        }
    }

    /// Sends the pending batch, then the TTLs of the hash fields it set.
    fn flush(&mut self) {
        let Some(command) = std::mem::take(&mut self.key.batch).command else {
            return;
        };
        self.emit(command);
        let ttls = std::mem::take(&mut self.key.field_ttls);
        for run in ttls.chunk_by(|a, b| a.1 == b.1) {
            let mut command =
                Command::with_capacity(Bytes::from_static(b"HPEXPIREAT"), 4 + run.len())
                    .arg(&self.key.header.key)
                    .arg(run[0].1)
                    .arg(Bytes::from_static(b"FIELDS"))
                    .arg(run.len());
            for (field, _) in run {
                command.push_arg(field);
            }
            self.emit(command);
        }
    }
}
