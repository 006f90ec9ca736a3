//! Per key: `RESTORE` or command replay.
//!
//! A [`Planner`] is fed every [`Item`] of a decoder run in raw mode
//! ([`ferry_rdb::Config::raw`]: each value's serialized bytes also arrive as
//! [`Item::Raw`] chunks, between its element items) and pushes the [`Write`]s
//! that rebuild the file's keys and functions on the target:
//!
//! - **`RESTORE key ttl payload [REPLACE] [ABSTTL]`** ([`WriteMode::Restore`])
//!   when the mode allows it, the target can load the value
//!   ([`TargetCaps::restore_version`]: the payload is stamped with an RDB
//!   version the target takes, which may be lower than the file's), and the
//!   value stays small: the payload is built from the raw chunks with
//!   [`PayloadBuilder`]. The TTL is absolute with `ABSTTL` on targets that
//!   have it (Redis 5.0+), else relative to [`Options::now_ms`] (at least 1);
//!   0 without expire time.
//! - **Command replay** ([`WriteMode::Commands`], by a [`Replayer`]) for the
//!   other keys. While a key may still be restored, its elements are also
//!   replayed into a held list; when the bytes held for it (raw bytes plus
//!   held commands) pass [`Options::big_value_bytes`], the raw bytes are
//!   dropped and the key continues as command replay, the held commands going
//!   out first. So memory per key stays near that limit, however large the
//!   value: a huge string or hash goes out in bounded commands as it arrives.
//! - **`FUNCTION LOAD [REPLACE] code`** ([`WriteMode::Function`], no key) for
//!   function libraries, on targets with functions (7.0+).
//!
//! Keys whose expire time has passed are left out in every mode. Values that
//! cannot be written are left out with a [`Note`] (take them with
//! [`Planner::poll_note`]), counted in the [`Summary`].
//!
//! Conflicts with keys already on the target ([`Conflict`]): `RESTORE` gets
//! `REPLACE` under [`Conflict::Replace`]; without it an existing key makes it
//! fail with `BUSYKEY`, which [`Conflict::Skip`] accepts
//! ([`Expect::SuccessOrBusy`]) and [`Conflict::Fail`] does not. Command replay
//! under [`Conflict::Replace`] starts every key with `DEL key`; under `Skip`
//! and `Fail` it cannot tell that a key exists, and adds to it.
//!
//! What it does **not** do: read files, talk to servers, or read the clock
//! (the time is [`Options::now_ms`]).
//!
//! ```
//! use ferry_rdb::{Config, Reader};
//! use ferry_sink::plan::{Options, Planner, TargetCaps};
//! use ferry_sink::WriteMode;
//!
//! // An RDB 9 file with the string "k" = "v".
//! let mut file = b"REDIS0009\xfe\x00\x00\x01k\x01v\xff".to_vec();
//! file.extend_from_slice(&ferry_rdb::crc64(&file).to_le_bytes());
//!
//! let mut planner = Planner::new(Options::new(TargetCaps::redis(7, 0, 15), 1_700_000_000_000));
//! let mut writes = Vec::new();
//! let config = Config { raw: true, ..Config::default() };
//! for item in Reader::with_config(&file[..], config) {
//!     planner.handle_item(item?, &mut writes)?;
//! }
//! planner.finish(&mut writes);
//! assert_eq!(writes.len(), 1);
//! assert_eq!(writes[0].mode, WriteMode::Restore);
//! assert_eq!(&writes[0].command.parts()[0][..], b"RESTORE");
//! assert_eq!(planner.summary().restored_keys, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod target;

pub use target::{TargetCaps, first_rdb_version};

use crate::replay::{self, DelBefore, KeyOutcome, Note, NoteKind, Replayer, function_load};
use crate::{Expect, Write, WriteMode};
use bytes::Bytes;
use bytes::BytesMut;
use ferry_rdb::dump::PayloadBuilder;
use ferry_rdb::{Config, Decoder, Function, Header, Item, KeyHeader, Kind, Magic};
use ferry_resp::Command;
use std::collections::VecDeque;
use std::io;

/// The largest serialized collection that is decoded to see whether it is
/// empty (an empty one is a few bytes: a count of 0, an empty listpack or
/// ziplist, a quicklist of one empty node).
const EMPTY_VALUE_MAX_BYTES: usize = 24;

/// Raw bytes given at once to a key's [`SubDecoder`].
const SUB_FEED_BYTES: usize = 64 * 1024;

/// Default of [`Options::big_value_bytes`].
pub const DEFAULT_BIG_VALUE_BYTES: usize = 8 * 1024 * 1024;

/// What one held command is counted as besides its arguments' bytes.
const HELD_ARG_OVERHEAD_BYTES: usize = 32;

/// What one held note is counted as besides its key.
const HELD_NOTE_BYTES: usize = 128;

/// How keys are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `RESTORE` when the target can load the value and it is small, else
    /// command replay.
    #[default]
    Auto,
    /// `RESTORE` only: a key the target cannot load (or too big to hold) is
    /// left out with a note, never replayed.
    Restore,
    /// Command replay only (raw mode is then not needed). Module values,
    /// which have no command form, are left out with a note.
    Commands,
}

/// What happens to a key that already exists on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conflict {
    /// It is replaced (`RESTORE ... REPLACE`; `DEL` before replayed
    /// commands; `FUNCTION LOAD REPLACE`).
    #[default]
    Replace,
    /// It is left as it is: `RESTORE` without `REPLACE`, its `BUSYKEY`
    /// error accepted. Replayed keys cannot be checked (see the module
    /// documentation); a function library that exists fails (`FUNCTION LOAD`
    /// without `REPLACE` has no skip).
    Skip,
    /// Writing it fails: `RESTORE` without `REPLACE` (`BUSYKEY`), `FUNCTION
    /// LOAD` without `REPLACE`. Replayed keys cannot be checked.
    Fail,
}

/// How a [`Planner`] writes.
#[derive(Debug, Clone)]
pub struct Options {
    /// `RESTORE`, replay, or each as fits.
    pub mode: Mode,
    /// What happens to existing keys.
    pub conflict: Conflict,
    /// What the target can load and which commands it has.
    pub target: TargetCaps,
    /// The time of the migration, Unix ms: keys and hash fields that expire
    /// at or before it are left out; relative TTLs are computed from it.
    pub now_ms: i64,
    /// Most bytes held for one key while it may still be restored (its raw
    /// bytes plus the commands prepared in case it is replayed).
    pub big_value_bytes: usize,
    /// A consumer group's pending entries beyond about this many bytes wait
    /// in a temporary file (command replay).
    pub spill_bytes: usize,
    /// The decoder runs with [`ferry_rdb::Config::skip_values`] as well as
    /// `raw`: it emits no element items, only each value's raw bytes, which
    /// is much cheaper; a key that must be replayed is decoded from its raw
    /// bytes here, as they arrive. Without it, element items are expected
    /// from the decoder. Ignored in [`Mode::Commands`] (no raw bytes).
    pub elements_from_raw: bool,
}

impl Options {
    /// [`Mode::Auto`], [`Conflict::Replace`], [`DEFAULT_BIG_VALUE_BYTES`]
    /// and [`replay::DEFAULT_SPILL_BYTES`] for `target` at `now_ms`.
    pub fn new(target: TargetCaps, now_ms: i64) -> Self {
        Options {
            mode: Mode::Auto,
            conflict: Conflict::Replace,
            target,
            now_ms,
            big_value_bytes: DEFAULT_BIG_VALUE_BYTES,
            spill_bytes: replay::DEFAULT_SPILL_BYTES,
            elements_from_raw: false,
        }
    }
}

/// What a [`Planner`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Keys written with `RESTORE`.
    pub restored_keys: u64,
    /// Keys written by command replay.
    pub replayed_keys: u64,
    /// Of those, keys replayed because they grew past
    /// [`Options::big_value_bytes`] (they could have been restored).
    pub big_keys_replayed: u64,
    /// Function libraries written.
    pub functions: u64,
    /// Keys left out because their expire time had passed (or, replayed, all
    /// their hash fields had).
    pub expired_keys_skipped: u64,
    /// Hash fields of replayed keys left out because their own expire time
    /// had passed.
    pub expired_fields_skipped: u64,
    /// Keys left out because they had no elements.
    pub empty_keys_skipped: u64,
    /// Keys, values, elements or functions left out or changed: one per [`Note`].
    pub unsupported: u64,
}

/// A key that may still be restored.
#[derive(Debug)]
struct Held {
    header: KeyHeader,
    payload: PayloadBuilder,
    /// Also replayed into `writes`, to fall back to; false when the key can
    /// only be restored.
    replay: bool,
    /// Replay is prepared lazily: the element items are kept (they are
    /// slices of the decoder's buffers, cheap to keep) and given to the
    /// replayer only if the key turns out too big to restore. Most keys are
    /// restored, and building commands for them was a third of the work.
    /// Not for hashes with field TTLs, whose replay decides whether the key
    /// is left at all.
    lazy: bool,
    items: Vec<Item>,
    writes: Vec<Write>,
    /// How many of `writes` are counted in `bytes`.
    counted: usize,
    notes: Vec<Note>,
    bytes: usize,
}

/// What the current key's items go to.
#[derive(Debug)]
enum State {
    /// Outside keys.
    Idle,
    /// Left out: its items are ignored.
    Skip,
    /// Command replay, straight to the output.
    Replay {
        /// It was held and grew too big.
        big: bool,
    },
    /// Maybe `RESTORE`.
    Hold(Box<Held>),
    /// Command replay of elements decoded here from the key's raw bytes.
    ReplayRaw {
        /// Re-reads the raw bytes.
        sub: Box<SubDecoder>,
        /// It was held and grew too big.
        big: bool,
    },
}

/// Decodes one key's raw value bytes (type byte first) as the decoder would
/// decode them in a file: they are framed as a file of one key with a
/// one-byte name, and the element items are taken out.
#[derive(Debug)]
struct SubDecoder {
    decoder: Decoder,
    buf: BytesMut,
    /// The file header and the type byte + name are in `buf`.
    started: bool,
    header: Header,
}

impl SubDecoder {
    fn new(header: Header) -> Self {
        let config = Config {
            verify_checksum: false,
            ..Config::default()
        };
        SubDecoder {
            decoder: Decoder::with_config(config),
            buf: BytesMut::new(),
            started: false,
            header,
        }
    }

    /// Feeds raw value bytes; pushes the element items they complete.
    fn feed(&mut self, mut raw: &[u8], items: &mut Vec<Item>) -> io::Result<()> {
        if !self.started {
            let Some((&type_byte, rest)) = raw.split_first() else {
                return Ok(());
            };
            match self.header.magic {
                Magic::Redis => self
                    .buf
                    .extend_from_slice(format!("REDIS{:04}", self.header.version).as_bytes()),
                Magic::Valkey => self
                    .buf
                    .extend_from_slice(format!("VALKEY{:03}", self.header.version).as_bytes()),
            }
            // The type byte, then a one-byte key name "k".
            self.buf.extend_from_slice(&[type_byte, 1, b'k']);
            self.started = true;
            raw = rest;
        }
        self.buf.extend_from_slice(raw);
        self.drain(items)
    }

    /// The value is complete: ends the framing file and takes the last items.
    fn finish(&mut self, items: &mut Vec<Item>) -> io::Result<()> {
        if !self.started {
            return Ok(());
        }
        self.buf.extend_from_slice(&[0xff]);
        if self.header.version >= 5 {
            // A zero checksum means "not computed".
            self.buf.extend_from_slice(&[0; 8]);
        }
        self.drain(items)
    }

    fn drain(&mut self, items: &mut Vec<Item>) -> io::Result<()> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(
                    Item::Header(_)
                    | Item::Key(_)
                    | Item::KeyEnd
                    | Item::End { .. }
                    | Item::Aux { .. }
                    | Item::SelectDb(_)
                    | Item::ResizeDb { .. }
                    | Item::SlotInfo { .. },
                )) => {}
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the value's bytes do not decode: {e}"),
                    ));
                }
            }
        }
    }
}

/// Roughly the memory an element item holds while its key is held.
fn item_bytes(item: &Item) -> usize {
    const ITEM_OVERHEAD_BYTES: usize = 64;
    ITEM_OVERHEAD_BYTES
        + match item {
            Item::StringChunk(b) | Item::ListItem(b) | Item::SetMember(b) => b.len(),
            Item::ZSetEntry { member, .. } => member.len(),
            Item::HashField { field, value, .. } => field.len() + value.len(),
            Item::StreamEntry(entry) => entry
                .fields
                .iter()
                .map(|(f, v)| f.len() + v.len() + 16)
                .sum(),
            _ => 0,
        }
}

/// Chooses per key between `RESTORE` and command replay. See the [module
/// documentation](self).
#[derive(Debug)]
pub struct Planner {
    options: Options,
    source: Option<Header>,
    replayer: Replayer,
    state: State,
    /// The replayer's expired-field count when the current key began.
    expired_fields_at_key: u64,
    summary: Summary,
    notes: VecDeque<Note>,
    /// Items decoded from raw bytes, on their way to the replayer.
    scratch: Vec<Item>,
}

impl Planner {
    /// A planner writing as `options` say.
    pub fn new(options: Options) -> Self {
        let mut replay = replay::Options::new(options.now_ms);
        replay.del = match options.conflict {
            Conflict::Replace => DelBefore::Every,
            Conflict::Skip | Conflict::Fail => DelBefore::Never,
        };
        replay.function_replace = options.conflict == Conflict::Replace;
        replay.spill_bytes = options.spill_bytes;
        replay.features = options.target.replay_features();
        Planner {
            options,
            source: None,
            replayer: Replayer::new(replay),
            state: State::Idle,
            expired_fields_at_key: 0,
            summary: Summary::default(),
            notes: VecDeque::new(),
            scratch: Vec::new(),
        }
    }

    /// The options given to [`Planner::new`].
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

    /// Takes the next item of the decoder, pushing the writes it completes.
    ///
    /// # Errors
    /// The temporary file of a long pending-entries list (command replay of a
    /// stream) cannot be created, written or read.
    pub fn handle_item(&mut self, item: Item, out: &mut Vec<Write>) -> io::Result<()> {
        match item {
            Item::Header(header) => self.source = Some(header),
            Item::Key(header) => self.begin_key(*header, out),
            Item::KeyEnd => self.end_key(out)?,
            Item::Raw(chunk) => match &mut self.state {
                State::Hold(held) => {
                    held.payload.push(&chunk);
                    held.bytes += chunk.len();
                    self.check_size(out)?;
                }
                State::ReplayRaw { sub, .. } => {
                    sub.feed(&chunk, &mut self.scratch)?;
                    self.replay_scratch(out)?;
                }
                _ => {}
            },
            Item::Function(function) => self.function(&function, out),
            Item::ModuleAux(aux) => {
                let module = aux.module.name();
                self.note(None, NoteKind::ModuleAux { module });
            }
            // Redis before 7.0 puts its script cache in the snapshot: load
            // the scripts, so EVALSHA keeps working on the target.
            Item::Aux { key, value } if &key[..] == b"lua" => out.push(Write {
                db: 0,
                key: None,
                command: ferry_resp::Command::new("SCRIPT").arg("LOAD").arg(value),
                mode: WriteMode::Commands,
                expect: Expect::Success,
                last_of_key: false,
            }),
            Item::Aux { .. }
            | Item::SelectDb(_)
            | Item::ResizeDb { .. }
            | Item::SlotInfo { .. }
            | Item::End { .. } => {}
            element => match &mut self.state {
                State::Hold(held) if held.replay && held.lazy => {
                    held.bytes += item_bytes(&element);
                    held.items.push(element);
                    self.check_size(out)?;
                }
                State::Replay { .. } => {
                    self.replayer.element(element, out)?;
                    self.release_notes();
                }
                State::Hold(held) if held.replay => {
                    self.replayer.element(element, &mut held.writes)?;
                    while let Some(note) = self.replayer.poll_note() {
                        held.bytes += HELD_NOTE_BYTES + note.key.as_ref().map_or(0, Bytes::len);
                        held.notes.push(note);
                    }
                    for write in &held.writes[held.counted..] {
                        held.bytes += write
                            .command
                            .parts()
                            .iter()
                            .map(|p| p.len() + HELD_ARG_OVERHEAD_BYTES)
                            .sum::<usize>();
                    }
                    held.counted = held.writes.len();
                    self.check_size(out)?;
                }
                // Elements come from the raw bytes in this state.
                State::Idle | State::Skip | State::Hold(_) | State::ReplayRaw { .. } => {}
            },
        }
        Ok(())
    }

    /// The input ended: hands over what a key cut short had ready (for a
    /// replayed key; a held one is dropped) and returns the summary.
    pub fn finish(&mut self, out: &mut Vec<Write>) -> Summary {
        if matches!(self.state, State::Replay { .. } | State::ReplayRaw { .. }) {
            self.replayer.finish(out);
            self.release_notes();
        }
        self.state = State::Idle;
        self.summary.clone()
    }

    fn begin_key(&mut self, header: KeyHeader, out: &mut Vec<Write>) {
        if !matches!(self.state, State::Idle) {
            // A key without its end (not from a decoder): close it as cut short.
            self.finish(out);
        }
        if header
            .expire_at_ms
            .is_some_and(|ms| ms <= self.options.now_ms)
        {
            self.summary.expired_keys_skipped += 1;
            self.state = State::Skip;
            return;
        }
        let must_restore = self.options.mode == Mode::Restore
            || (header.kind() == Kind::Module && self.options.mode != Mode::Commands);
        let stamp = match (self.options.mode, self.source) {
            (Mode::Commands, _) | (_, None) => None,
            (_, Some(source)) => self.options.target.restore_version(source, header.encoding),
        };
        // Hash fields whose TTL has passed are dropped by a server loading
        // the file, not by RESTORE: without element items to look at, such
        // hashes are replayed (from their raw bytes), which leaves them out.
        let stamp = if self.raw_source().is_some()
            && header.encoding.has_field_ttls()
            && self.options.mode == Mode::Auto
        {
            None
        } else {
            stamp
        };
        self.expired_fields_at_key = self.replayer.summary().expired_fields_skipped;
        self.state = match stamp {
            None if must_restore => {
                let encoding = header.encoding;
                self.note(Some(&header), NoteKind::NotRestorable { encoding });
                State::Skip
            }
            None => {
                self.replayer.begin_key(&header);
                match self.raw_source() {
                    Some(source) => State::ReplayRaw {
                        sub: Box::new(SubDecoder::new(source)),
                        big: false,
                    },
                    None => State::Replay { big: false },
                }
            }
            Some(version) => {
                // Elements from raw bytes are decoded only when needed.
                let lazy = !header.encoding.has_field_ttls() || self.raw_source().is_some();
                if !must_restore && !lazy {
                    self.replayer.begin_key(&header);
                }
                State::Hold(Box::new(Held {
                    bytes: header.key.len(),
                    header,
                    payload: PayloadBuilder::new(version),
                    replay: !must_restore,
                    lazy,
                    items: Vec::new(),
                    writes: Vec::new(),
                    counted: 0,
                    notes: Vec::new(),
                }))
            }
        };
    }

    /// Switches a held key that grew past the limit to command replay (or
    /// leaves it out if it can only be restored).
    fn check_size(&mut self, out: &mut Vec<Write>) -> io::Result<()> {
        let State::Hold(held) = &self.state else {
            return Ok(());
        };
        if held.bytes <= self.options.big_value_bytes {
            return Ok(());
        }
        let State::Hold(held) = std::mem::replace(&mut self.state, State::Skip) else {
            return Ok(());
        };
        let held = *held;
        if held.replay
            && let Some(source) = self.raw_source()
        {
            self.replayer.begin_key(&held.header);
            let mut sub = Box::new(SubDecoder::new(source));
            // In pieces, so that the items of all the held bytes are never
            // in memory at once.
            for piece in held.payload.value().chunks(SUB_FEED_BYTES) {
                sub.feed(piece, &mut self.scratch)?;
                self.replay_scratch(out)?;
            }
            self.state = State::ReplayRaw { sub, big: true };
        } else if held.replay && held.lazy {
            self.replayer.begin_key(&held.header);
            for item in held.items {
                self.replayer.element(item, out)?;
            }
            self.release_notes();
            self.state = State::Replay { big: true };
        } else if held.replay {
            out.extend(held.writes);
            for note in held.notes {
                self.push_note(note);
            }
            self.state = State::Replay { big: true };
        } else {
            let limit_bytes = self.options.big_value_bytes;
            self.note(
                Some(&held.header),
                NoteKind::TooBigToRestore { limit_bytes },
            );
        }
        Ok(())
    }

    fn end_key(&mut self, out: &mut Vec<Write>) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle | State::Skip => {}
            State::Replay { big } => {
                let outcome = self.replayer.end_key(out);
                self.release_notes();
                self.count_replayed(outcome, big);
            }
            State::ReplayRaw { mut sub, big } => {
                sub.finish(&mut self.scratch)?;
                self.replay_scratch(out)?;
                let outcome = self.replayer.end_key(out);
                self.release_notes();
                self.count_replayed(outcome, big);
            }
            State::Hold(held) => {
                let mut held = *held;
                if !held.replay {
                    if held.payload.is_empty() {
                        self.note(Some(&held.header), NoteKind::NoRawBytes);
                    } else {
                        out.push(self.restore(&held.header, held.payload));
                        self.summary.restored_keys += 1;
                    }
                    return Ok(());
                }
                if held.lazy {
                    let has_elements = !held.items.is_empty() || self.raw_has_elements(&held)?;
                    if has_elements && !held.payload.is_empty() {
                        out.push(self.restore(&held.header, held.payload));
                        self.summary.restored_keys += 1;
                        return Ok(());
                    }
                    // No elements (or no raw bytes): the replayer decides.
                    self.replayer.begin_key(&held.header);
                    for item in std::mem::take(&mut held.items) {
                        self.replayer.element(item, &mut held.writes)?;
                    }
                }
                let outcome = self.replayer.end_key(&mut held.writes);
                while let Some(note) = self.replayer.poll_note() {
                    held.notes.push(note);
                }
                if outcome == KeyOutcome::Written && !held.payload.is_empty() {
                    // Restored: what the replay prepared (and its notes) is dropped.
                    out.push(self.restore(&held.header, held.payload));
                    self.summary.restored_keys += 1;
                } else {
                    // Empty or expired (nothing to restore), or no raw bytes
                    // (not raw mode): as replayed.
                    out.extend(held.writes);
                    for note in held.notes {
                        self.push_note(note);
                    }
                    self.count_replayed(outcome, false);
                }
            }
        }
        Ok(())
    }

    /// Counts a key that went through the replayer.
    fn count_replayed(&mut self, outcome: KeyOutcome, big: bool) {
        let fields = self.replayer.summary().expired_fields_skipped;
        self.summary.expired_fields_skipped += fields.saturating_sub(self.expired_fields_at_key);
        self.expired_fields_at_key = fields;
        match outcome {
            KeyOutcome::Written => {
                self.summary.replayed_keys += 1;
                self.summary.big_keys_replayed += u64::from(big);
            }
            KeyOutcome::Expired => self.summary.expired_keys_skipped += 1,
            KeyOutcome::Empty => self.summary.empty_keys_skipped += 1,
            KeyOutcome::Unsupported => {}
        }
    }

    /// `RESTORE key ttl payload [REPLACE] [ABSTTL]`.
    fn restore(&self, header: &KeyHeader, payload: PayloadBuilder) -> Write {
        let target = &self.options.target;
        let abs = target.supports_abs_ttl();
        let ttl = match header.expire_at_ms {
            None => 0,
            Some(at) if abs => at,
            Some(at) => at.saturating_sub(self.options.now_ms).max(1),
        };
        // Most keys have no TTL: "0" without an allocation.
        let ttl = if ttl == 0 {
            Bytes::from_static(b"0")
        } else {
            Bytes::from(ttl.to_string())
        };
        let mut command = Command::with_capacity(Bytes::from_static(b"RESTORE"), 5)
            .arg(&header.key)
            .arg(ttl)
            .arg(payload.finish());
        if self.options.conflict == Conflict::Replace {
            command.push_arg(Bytes::from_static(b"REPLACE"));
        }
        if abs && header.expire_at_ms.is_some() {
            command.push_arg(Bytes::from_static(b"ABSTTL"));
        }
        Write {
            db: header.db,
            key: Some(header.key.clone()),
            command,
            mode: WriteMode::Restore,
            expect: match self.options.conflict {
                Conflict::Skip => Expect::SuccessOrBusy,
                Conflict::Replace | Conflict::Fail => Expect::Success,
            },
            last_of_key: true,
        }
    }

    fn function(&mut self, function: &Function, out: &mut Vec<Write>) {
        if !self.options.target.supports_functions() {
            self.note(None, NoteKind::FunctionsUnsupported);
            return;
        }
        if let Some(pre_ga) = &function.pre_ga {
            let name = pre_ga.name.clone();
            self.note(None, NoteKind::PreGaFunction { name });
            return;
        }
        let replace = self.options.conflict == Conflict::Replace;
        out.push(function_load(&function.code, replace, Expect::Success));
        self.summary.functions += 1;
    }

    /// The file's header when elements are to be decoded from raw bytes.
    fn raw_source(&self) -> Option<Header> {
        (self.options.elements_from_raw && self.options.mode != Mode::Commands)
            .then_some(self.source)
            .flatten()
    }

    /// With elements from raw bytes: false for a collection without
    /// elements, which a server drops when it loads the file and refuses in
    /// `RESTORE`. Such a value is a few bytes (its count is 0): only values
    /// that small are decoded to find out.
    fn raw_has_elements(&mut self, held: &Held) -> io::Result<bool> {
        let Some(source) = self.raw_source() else {
            return Ok(false);
        };
        let collection = matches!(
            held.header.kind(),
            Kind::List | Kind::Set | Kind::ZSet | Kind::Hash
        );
        if !collection || held.payload.len() > EMPTY_VALUE_MAX_BYTES {
            return Ok(true);
        }
        let mut sub = SubDecoder::new(source);
        sub.feed(held.payload.value(), &mut self.scratch)?;
        sub.finish(&mut self.scratch)?;
        let any = !self.scratch.is_empty();
        self.scratch.clear();
        Ok(any)
    }

    /// Replays the items decoded from raw bytes.
    fn replay_scratch(&mut self, out: &mut Vec<Write>) -> io::Result<()> {
        for item in self.scratch.drain(..) {
            self.replayer.element(item, out)?;
        }
        self.release_notes();
        Ok(())
    }

    /// Moves the replayer's notes out.
    fn release_notes(&mut self) {
        while let Some(note) = self.replayer.poll_note() {
            self.push_note(note);
        }
    }

    fn note(&mut self, header: Option<&KeyHeader>, kind: NoteKind) {
        self.push_note(Note {
            db: header.map(|h| h.db),
            key: header.map(|h| h.key.clone()),
            kind,
        });
    }

    fn push_note(&mut self, note: Note) {
        self.summary.unsupported += 1;
        self.notes.push_back(note);
    }
}
