//! What is compared, as pure functions over replies: the commands that read
//! a key's type, expire time and value (or length, in quick mode), and what
//! their replies on the two sides say.
//!
//! A key is read in one or two round trips, the same commands on both
//! sides at once ([`first_reads`]): `TYPE`, `PTTL` and `GETRANGE` of the
//! first [`SMALL_STRING_BYTES`], which settles strings (most keys), missing
//! and extra keys and type differences ([`evaluate_first`]). Collections of
//! the same type on both sides then get their length and first
//! [`SMALL_ELEMENTS`] elements ([`value_reads`]; sets and hashes by one
//! `SSCAN`/`HSCAN` call), compared by [`evaluate_values`]. What does not
//! fit is a [`Verdict::Big`] key, compared in windows by [`super::big`]
//! with the element comparisons below. Commands are encoded straight into
//! a batch's buffer ([`encode`]). No I/O here.

use crate::output::keys::write_quoted;
use bytes::{BufMut, Bytes, BytesMut};
use ferry_resp::{Command, Frame};
use std::fmt;

/// Elements of a list, set, sorted set, hash or stream read in one reply;
/// a key with more is compared in windows.
pub(crate) const SMALL_ELEMENTS: usize = 512;
/// Bytes of a string read in one reply; a longer string is compared in
/// windows.
pub(crate) const SMALL_STRING_BYTES: usize = 16 * 1024;
/// `SMALL_STRING_BYTES - 1`, `SMALL_ELEMENTS - 1` and `SMALL_ELEMENTS` as
/// command arguments.
const SMALL_STRING_LAST: &[u8] = b"16383";
const SMALL_LAST: &[u8] = b"511";
const SMALL_COUNT: &[u8] = b"512";
/// Longest piece of a member or value quoted in a message.
const QUOTED_BYTES: usize = 64;
/// Detail of a key that changed between two reads of one side.
pub(crate) const CHANGED: &str = "changed while it was compared";

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Types, expire times and values.
    Full,
    /// Types and lengths.
    Quick,
}

/// A key's type, as `TYPE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No such key.
    None,
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
    /// A module type or one this version does not know: its type is
    /// compared, its value is not.
    Other(Bytes),
}

impl Kind {
    /// The type in a `TYPE` reply.
    pub(crate) fn from_reply(frame: &Frame) -> Option<Kind> {
        let name = match frame {
            Frame::Simple(b) | Frame::Bulk(b) => b,
            _ => return None,
        };
        Some(match &name[..] {
            b"none" => Kind::None,
            b"string" => Kind::String,
            b"list" => Kind::List,
            b"set" => Kind::Set,
            b"zset" => Kind::ZSet,
            b"hash" => Kind::Hash,
            b"stream" => Kind::Stream,
            _ => Kind::Other(name.clone()),
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::None => "none",
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Hash => "hash",
            Kind::Stream => "stream",
            Kind::Other(name) => return write!(f, "{}", name.escape_ascii()),
        })
    }
}

/// Why a key is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Reason {
    /// On the source, not on the target.
    Missing,
    /// On the target, not on the source.
    Extra,
    /// Of another type on each side.
    Type,
    /// Same type, another value (or length).
    Value,
    /// Same value, expire times further apart than the tolerance.
    Ttl,
}

impl Reason {
    /// Every reason, in report order.
    pub(crate) const ALL: [Reason; 5] = [
        Reason::Missing,
        Reason::Extra,
        Reason::Type,
        Reason::Value,
        Reason::Ttl,
    ];

    /// Its name in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Extra => "extra",
            Reason::Type => "type",
            Reason::Value => "value",
            Reason::Ttl => "ttl",
        }
    }
}

/// A difference found in a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// What kind of difference.
    pub(crate) reason: Reason,
    /// What differs, for people.
    pub(crate) detail: String,
}

impl Mismatch {
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Mismatch {
        Mismatch {
            reason,
            detail: detail.into(),
        }
    }

    fn value(detail: impl Into<String>) -> Mismatch {
        Mismatch::new(Reason::Value, detail)
    }
}

/// What two reads of a key say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Equal (or absent on both sides).
    Same,
    /// Different.
    Differ(Mismatch),
    /// Too big to tell from the first reads: compare in windows; `ttl` is
    /// the difference of expire times, reported if the values are equal.
    Big {
        /// The type of both sides.
        kind: Kind,
        /// The expire-time difference, if any.
        ttl: Option<Mismatch>,
    },
}

/// Which side a reply that makes no sense came from, and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A source reply.
    Source(String),
    /// A target reply.
    Target(String),
}

fn name_cmd(name: &'static [u8], key: &Bytes) -> Command {
    Command::new(Bytes::from_static(name)).arg(key)
}

/// Appends a command (an array of bulk strings) to `out`.
pub(crate) fn encode(out: &mut BytesMut, parts: &[&[u8]]) {
    let mut n = itoa::Buffer::new();
    out.reserve(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.put_u8(b'*');
    out.put_slice(n.format(parts.len()).as_bytes());
    out.put_slice(b"\r\n");
    for part in parts {
        out.put_u8(b'$');
        out.put_slice(n.format(part.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(part);
        out.put_slice(b"\r\n");
    }
}

/// Appends the first reads of `key` to `out`, and returns how many
/// commands: in full mode `PTTL` (-2: no such key) and `GETRANGE key 0
/// SMALL_STRING_BYTES-1` (a string's value, or `WRONGTYPE`: another type,
/// whose `TYPE` is read next, see [`type_read`]); in quick mode `TYPE` and
/// `STRLEN`.
pub(crate) fn first_reads(key: &[u8], mode: Mode, out: &mut BytesMut) -> usize {
    match mode {
        Mode::Full => {
            encode(out, &[b"PTTL", key]);
            encode(out, &[b"GETRANGE", key, b"0", SMALL_STRING_LAST]);
        }
        Mode::Quick => {
            encode(out, &[b"TYPE", key]);
            encode(out, &[b"STRLEN", key]);
        }
    }
    2
}

/// Appends `TYPE key` to `out`; returns 1.
pub(crate) fn type_read(key: &[u8], out: &mut BytesMut) -> usize {
    encode(out, &[b"TYPE", key]);
    1
}

/// Appends the reads of a `kind` collection to `out`: its length and (full
/// mode) its first elements. Returns how many commands (none for strings
/// and types whose values are not compared).
pub(crate) fn value_reads(kind: &Kind, key: &[u8], mode: Mode, out: &mut BytesMut) -> usize {
    let (len, range): (&[u8], &[&[u8]]) = match kind {
        Kind::None | Kind::Other(_) | Kind::String => return 0,
        Kind::List => (b"LLEN", &[b"LRANGE", key, b"0", SMALL_LAST]),
        Kind::Set => (b"SCARD", &[b"SSCAN", key, b"0", b"COUNT", SMALL_COUNT]),
        Kind::ZSet => (b"ZCARD", &[b"ZRANGE", key, b"0", SMALL_LAST, b"WITHSCORES"]),
        Kind::Hash => (b"HLEN", &[b"HSCAN", key, b"0", b"COUNT", SMALL_COUNT]),
        Kind::Stream => (
            b"XLEN",
            &[b"XRANGE", key, b"-", b"+", b"COUNT", SMALL_COUNT],
        ),
    };
    encode(out, &[len, key]);
    if mode == Mode::Quick {
        return 1;
    }
    encode(out, range);
    2
}

/// `SSCAN`/`HSCAN key cursor COUNT count`.
pub(crate) fn scan_cmd(name: &'static [u8], key: &Bytes, cursor: &Bytes, count: usize) -> Command {
    name_cmd(name, key)
        .arg(cursor)
        .arg(Bytes::from_static(b"COUNT"))
        .arg(count)
}

/// `ZRANGE key start stop WITHSCORES`.
pub(crate) fn zrange_cmd(key: &Bytes, start: usize, stop: usize) -> Command {
    name_cmd(b"ZRANGE", key)
        .arg(start)
        .arg(stop)
        .arg(Bytes::from_static(b"WITHSCORES"))
}

/// `XRANGE key start + COUNT count`.
pub(crate) fn xrange_cmd(key: &Bytes, start: &[u8], count: usize) -> Command {
    name_cmd(b"XRANGE", key)
        .arg(start)
        .arg(Bytes::from_static(b"+"))
        .arg(Bytes::from_static(b"COUNT"))
        .arg(count)
}

/// Checks value replies for errors: true when one is `WRONGTYPE` (the key
/// was replaced between two reads); any other error is a fault.
pub(crate) fn changed_type(replies: &[Frame]) -> Result<bool, String> {
    let mut changed = false;
    for reply in replies {
        if let Some(e) = reply.error_message() {
            if e.starts_with(b"WRONGTYPE") {
                changed = true;
            } else {
                return Err(format!("refused: {}", String::from_utf8_lossy(e)));
            }
        }
    }
    Ok(changed)
}

/// What the reads of a key so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum First {
    /// All there is to say.
    Done(Verdict),
    /// Not a string on one side at least: read the types ([`type_read`]),
    /// then [`evaluate_types`]. `ttl` is the difference of expire times.
    Types { ttl: Option<Mismatch> },
    /// A collection of this type on both sides: read its values
    /// ([`value_reads`]), then [`evaluate_values`]; `ttl` is the difference
    /// of expire times, reported if the values are equal.
    Values { kind: Kind, ttl: Option<Mismatch> },
}

/// What `PTTL` and `GETRANGE` say of a key.
enum Probe {
    Absent,
    String(i64),
    Other(i64),
}

fn probe(replies: &[Frame]) -> Result<Probe, String> {
    let ttl = replies.first().ok_or("no reply to PTTL")?;
    let ttl = int(ttl, "PTTL")?;
    if ttl == -2 {
        return Ok(Probe::Absent);
    }
    match replies.get(1).ok_or("no reply to GETRANGE")? {
        Frame::Bulk(_) => Ok(Probe::String(ttl)),
        Frame::Error(e) if e.starts_with(b"WRONGTYPE") => Ok(Probe::Other(ttl)),
        other => Err(unexpected(other, "GETRANGE")),
    }
}

/// Presence and type differences, or `None` when both sides have a key of
/// the same type.
fn compare_kinds(src: &Kind, tgt: &Kind) -> Option<Verdict> {
    let differ = |reason, detail: String| Some(Verdict::Differ(Mismatch::new(reason, detail)));
    match (src, tgt) {
        (Kind::None, Kind::None) => Some(Verdict::Same),
        (Kind::None, _) => differ(Reason::Extra, "not on the source".into()),
        (_, Kind::None) => differ(Reason::Missing, "not on the target".into()),
        (s, t) if s != t => differ(
            Reason::Type,
            format!("a {s} on the source, a {t} on the target"),
        ),
        _ => None,
    }
}

/// Compares the replies to [`first_reads`] of a key on the two sides.
///
/// # Errors
/// A reply that is an unexpected error or has an unexpected shape, with
/// the side it came from.
pub(crate) fn evaluate_first(
    mode: Mode,
    tolerance_ms: i64,
    src: &[Frame],
    tgt: &[Frame],
) -> Result<First, Fault> {
    if mode == Mode::Quick {
        let kind = |r: &[Frame]| -> Result<Kind, String> {
            let reply = r.first().ok_or("no reply to TYPE")?;
            Kind::from_reply(reply).ok_or_else(|| unexpected(reply, "TYPE"))
        };
        let src_kind = kind(src).map_err(Fault::Source)?;
        let tgt_kind = kind(tgt).map_err(Fault::Target)?;
        if let Some(v) = compare_kinds(&src_kind, &tgt_kind) {
            return Ok(First::Done(v));
        }
        return match src_kind {
            Kind::String => {
                evaluate_values(&Kind::String, mode, rest(src), rest(tgt), None).map(First::Done)
            }
            Kind::None | Kind::Other(_) => Ok(First::Done(Verdict::Same)),
            kind => Ok(First::Values { kind, ttl: None }),
        };
    }
    let a = probe(src).map_err(Fault::Source)?;
    let b = probe(tgt).map_err(Fault::Target)?;
    let differ =
        |reason, detail: &str| Ok(First::Done(Verdict::Differ(Mismatch::new(reason, detail))));
    let ttl =
        |x: i64, y: i64| compare_ttl(x, y, tolerance_ms).map(|d| Mismatch::new(Reason::Ttl, d));
    match (a, b) {
        (Probe::Absent, Probe::Absent) => Ok(First::Done(Verdict::Same)),
        (Probe::Absent, _) => differ(Reason::Extra, "not on the source"),
        (_, Probe::Absent) => differ(Reason::Missing, "not on the target"),
        (Probe::String(x), Probe::String(y)) => {
            evaluate_values(&Kind::String, mode, rest(src), rest(tgt), ttl(x, y)).map(First::Done)
        }
        (Probe::String(x) | Probe::Other(x), Probe::String(y) | Probe::Other(y)) => {
            Ok(First::Types { ttl: ttl(x, y) })
        }
    }
}

/// The replies after the first.
fn rest(replies: &[Frame]) -> &[Frame] {
    replies.get(1..).unwrap_or(&[])
}

/// Compares the replies to [`type_read`] of a key on the two sides.
///
/// # Errors
/// As [`evaluate_first`].
pub(crate) fn evaluate_types(
    src: &Frame,
    tgt: &Frame,
    ttl: Option<Mismatch>,
) -> Result<First, Fault> {
    let src_kind = Kind::from_reply(src).ok_or_else(|| Fault::Source(unexpected(src, "TYPE")))?;
    let tgt_kind = Kind::from_reply(tgt).ok_or_else(|| Fault::Target(unexpected(tgt, "TYPE")))?;
    if let Some(v) = compare_kinds(&src_kind, &tgt_kind) {
        return Ok(First::Done(v));
    }
    Ok(match src_kind {
        // Not a string at the first read, on one side at least.
        Kind::String => First::Done(Verdict::Differ(Mismatch::value(CHANGED))),
        Kind::None | Kind::Other(_) => First::Done(ttl.map_or(Verdict::Same, Verdict::Differ)),
        kind => First::Values { kind, ttl },
    })
}

/// Compares the replies to [`value_reads`] of a `kind` key on the two
/// sides (for a string, the reply to its first read); `ttl` is reported
/// when the values are equal.
///
/// # Errors
/// As [`evaluate_first`].
pub(crate) fn evaluate_values(
    kind: &Kind,
    mode: Mode,
    src: &[Frame],
    tgt: &[Frame],
    ttl: Option<Mismatch>,
) -> Result<Verdict, Fault> {
    let src_changed = changed_type(src).map_err(Fault::Source)?;
    let tgt_changed = changed_type(tgt).map_err(Fault::Target)?;
    if src_changed || tgt_changed {
        return Ok(Verdict::Differ(Mismatch::value(CHANGED)));
    }
    let a = parse_small(kind, mode, src).map_err(Fault::Source)?;
    let b = parse_small(kind, mode, tgt).map_err(Fault::Target)?;
    Ok(match compare_small(&a, &b) {
        Small::Same => ttl.map_or(Verdict::Same, Verdict::Differ),
        Small::Differ(detail) => Verdict::Differ(Mismatch::value(detail)),
        Small::Big => Verdict::Big {
            kind: kind.clone(),
            ttl,
        },
    })
}

/// The difference of two `PTTL` replies (-1: no expire), if they are
/// further apart than `tolerance_ms`.
pub(crate) fn compare_ttl(src: i64, tgt: i64, tolerance_ms: i64) -> Option<String> {
    let close = match (src, tgt) {
        (-1, -1) => true,
        (a, b) if a >= 0 && b >= 0 => a.abs_diff(b) <= tolerance_ms.unsigned_abs(),
        _ => false,
    };
    (!close).then(|| {
        format!(
            "{} on the source, {} on the target",
            ttl_text(src),
            ttl_text(tgt)
        )
    })
}

fn ttl_text(ms: i64) -> String {
    if ms < 0 {
        "no expire".into()
    } else {
        format!("expires in {:.3} s", ms as f64 / 1000.0)
    }
}

/// What the first reads hold of a value.
#[derive(Debug, Clone, PartialEq)]
enum Read {
    /// A string's first bytes (all of it when shorter than the window).
    String(Bytes),
    /// A list: its length and first elements.
    List(i64, Vec<Bytes>),
    /// A set: its length, whether the one scan call saw all of it, and the
    /// members seen, sorted.
    Set(i64, bool, Vec<Bytes>),
    /// A hash: its length, whether the scan saw all of it, and the pairs
    /// seen, sorted by field.
    Hash(i64, bool, Vec<(Bytes, Bytes)>),
    /// A sorted set: its length and first members with their scores.
    ZSet(i64, Vec<(Bytes, f64)>),
    /// A stream: its length and first entries.
    Stream(i64, Vec<Entry>),
    /// A length (quick mode), with the unit of the type.
    Len(i64, &'static str),
    /// A value not compared.
    Opaque,
}

/// The outcome of comparing first reads.
enum Small {
    Same,
    Differ(String),
    Big,
}

fn parse_small(kind: &Kind, mode: Mode, replies: &[Frame]) -> Result<Read, String> {
    let at = |i: usize| replies.get(i).ok_or("missing reply");
    if mode == Mode::Quick {
        let unit = match kind {
            Kind::None | Kind::Other(_) => return Ok(Read::Opaque),
            Kind::String => "bytes",
            Kind::Stream => "entries",
            _ => "elements",
        };
        return Ok(Read::Len(int(at(0)?, "the length")?, unit));
    }
    Ok(match kind {
        Kind::None | Kind::Other(_) => Read::Opaque,
        Kind::String => Read::String(bulk(at(0)?, "GETRANGE")?),
        Kind::List => Read::List(int(at(0)?, "LLEN")?, items(at(1)?, "LRANGE")?),
        Kind::Set => {
            let (cursor, mut members) = scan_reply(at(1)?, "SSCAN")?;
            members.sort_unstable();
            members.dedup();
            Read::Set(int(at(0)?, "SCARD")?, is_zero(&cursor), members)
        }
        Kind::Hash => {
            let (cursor, flat) = scan_reply(at(1)?, "HSCAN")?;
            let mut pairs = into_pairs(flat, "HSCAN")?;
            pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            pairs.dedup_by(|a, b| a.0 == b.0);
            Read::Hash(int(at(0)?, "HLEN")?, is_zero(&cursor), pairs)
        }
        Kind::ZSet => Read::ZSet(int(at(0)?, "ZCARD")?, scored(at(1)?, "ZRANGE")?),
        Kind::Stream => Read::Stream(int(at(0)?, "XLEN")?, entries(at(1)?, "XRANGE")?),
    })
}

fn is_zero(cursor: &[u8]) -> bool {
    cursor == b"0"
}

fn compare_small(src: &Read, tgt: &Read) -> Small {
    let lengths = |a: i64, b: i64, unit: &str| {
        (a != b).then(|| format!("{a} {unit} on the source, {b} on the target"))
    };
    let small = |n: i64| usize::try_from(n).is_ok_and(|n| n <= SMALL_ELEMENTS);
    let found = |d: Option<String>| d.map_or(Small::Same, Small::Differ);
    match (src, tgt) {
        (Read::String(a), Read::String(b)) => {
            if a.len() == SMALL_STRING_BYTES && b.len() == SMALL_STRING_BYTES && a == b {
                Small::Big
            } else {
                found(compare_bytes(0, a, b, SMALL_STRING_BYTES))
            }
        }
        (Read::List(la, a), Read::List(lb, b)) => {
            if let Some(d) = lengths(*la, *lb, "elements") {
                Small::Differ(d)
            } else if !small(*la) {
                Small::Big
            } else if a.len() as i64 != *la || b.len() as i64 != *lb {
                Small::Differ(CHANGED.into())
            } else {
                found(compare_items(0, a, b))
            }
        }
        (Read::Set(la, ca, a), Read::Set(lb, cb, b)) => {
            if let Some(d) = lengths(*la, *lb, "members") {
                Small::Differ(d)
            } else if !ca || !cb {
                Small::Big
            } else if a.len() as i64 != *la || b.len() as i64 != *lb {
                Small::Differ(CHANGED.into())
            } else {
                found(compare_members(a, b))
            }
        }
        (Read::Hash(la, ca, a), Read::Hash(lb, cb, b)) => {
            if let Some(d) = lengths(*la, *lb, "fields") {
                Small::Differ(d)
            } else if !ca || !cb {
                Small::Big
            } else if a.len() as i64 != *la || b.len() as i64 != *lb {
                Small::Differ(CHANGED.into())
            } else {
                found(compare_fields(a, b))
            }
        }
        (Read::ZSet(la, a), Read::ZSet(lb, b)) => {
            if let Some(d) = lengths(*la, *lb, "members") {
                Small::Differ(d)
            } else if !small(*la) {
                Small::Big
            } else if a.len() as i64 != *la || b.len() as i64 != *lb {
                Small::Differ(CHANGED.into())
            } else {
                found(compare_scored(0, a, b))
            }
        }
        (Read::Stream(la, a), Read::Stream(lb, b)) => {
            if let Some(d) = lengths(*la, *lb, "entries") {
                Small::Differ(d)
            } else if !small(*la) {
                Small::Big
            } else if a.len() as i64 != *la || b.len() as i64 != *lb {
                Small::Differ(CHANGED.into())
            } else {
                found(compare_entries(a, b))
            }
        }
        (Read::Len(a, unit), Read::Len(b, _)) => found(lengths(*a, *b, unit)),
        (Read::Opaque, Read::Opaque) => Small::Same,
        _ => Small::Differ(CHANGED.into()),
    }
}

/// `bytes` quoted as `redis-cli` shows them, cut at [`QUOTED_BYTES`].
pub(crate) fn quote(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().min(QUOTED_BYTES) + 8);
    write_quoted(&mut out, &bytes[..bytes.len().min(QUOTED_BYTES)]);
    if bytes.len() > QUOTED_BYTES {
        out.extend_from_slice(b"...");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares two pieces of strings that start at byte `offset`; `window`
/// is the most a piece holds (a shorter piece is the string's end).
pub(crate) fn compare_bytes(offset: usize, a: &[u8], b: &[u8], window: usize) -> Option<String> {
    if a == b {
        return None;
    }
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let size = |piece: &[u8]| {
        if piece.len() == window {
            format!("{}+", offset + piece.len())
        } else {
            (offset + piece.len()).to_string()
        }
    };
    Some(format!(
        "the strings differ from byte {} ({} bytes on the source, {} on the target)",
        offset + common,
        size(a),
        size(b)
    ))
}

/// Compares two windows of list elements that start at index `offset`.
pub(crate) fn compare_items(offset: usize, a: &[Bytes], b: &[Bytes]) -> Option<String> {
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                let show = |v: Option<&Bytes>| v.map_or("nothing".into(), |v| quote(v));
                return Some(format!(
                    "element {}: {} on the source, {} on the target",
                    offset + i,
                    show(x),
                    show(y)
                ));
            }
        }
    }
    None
}

/// Compares two sorted, deduplicated member lists.
fn compare_members(a: &[Bytes], b: &[Bytes]) -> Option<String> {
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return None,
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                return Some(format!("member {} is not on the target", quote(x)));
            }
            (_, Some(y)) => return Some(format!("member {} is only on the target", quote(y))),
            (Some(x), None) => return Some(format!("member {} is not on the target", quote(x))),
        }
    }
}

/// Compares two hashes' pairs, sorted by field and deduplicated.
fn compare_fields(a: &[(Bytes, Bytes)], b: &[(Bytes, Bytes)]) -> Option<String> {
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return None,
            (Some((fa, va)), Some((fb, vb))) if fa == fb => {
                if va != vb {
                    return Some(field_differs(fa, va, vb));
                }
                i += 1;
                j += 1;
            }
            (Some((fa, _)), fb) if fb.is_none_or(|(fb, _)| fa < fb) => {
                return Some(format!("field {} is not on the target", quote(fa)));
            }
            (_, Some((fb, _))) => {
                return Some(format!("field {} is only on the target", quote(fb)));
            }
            (Some((fa, _)), None) => {
                return Some(format!("field {} is not on the target", quote(fa)));
            }
        }
    }
}

/// A hash field with another value on the target.
pub(crate) fn field_differs(field: &[u8], src: &[u8], tgt: &[u8]) -> String {
    format!(
        "field {}: {} on the source, {} on the target",
        quote(field),
        quote(src),
        quote(tgt)
    )
}

/// Compares two windows of sorted-set members, in rank order from `offset`;
/// scores are compared as numbers (servers format them differently).
pub(crate) fn compare_scored(
    offset: usize,
    a: &[(Bytes, f64)],
    b: &[(Bytes, f64)],
) -> Option<String> {
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some((ma, sa)), Some((mb, sb))) if ma == mb && same_score(*sa, *sb) => {}
            (Some((ma, sa)), Some((mb, sb))) if ma == mb => {
                return Some(format!(
                    "member {}: score {sa} on the source, {sb} on the target",
                    quote(ma)
                ));
            }
            (x, y) => {
                let show = |v: Option<&(Bytes, f64)>| {
                    v.map_or("nothing".into(), |(m, s)| {
                        format!("{} (score {s})", quote(m))
                    })
                };
                return Some(format!(
                    "rank {}: {} on the source, {} on the target",
                    offset + i,
                    show(x),
                    show(y)
                ));
            }
        }
    }
    None
}

fn same_score(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A stream entry: its id and its fields and values, in order.
pub(crate) type Entry = (Bytes, Vec<Bytes>);

/// Compares two windows of stream entries.
pub(crate) fn compare_entries(a: &[Entry], b: &[Entry]) -> Option<String> {
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (Some((ia, _)), Some((ib, _))) if ia == ib => {
                return Some(format!(
                    "entry {} has other fields or values",
                    ia.escape_ascii()
                ));
            }
            (x, y) => {
                let show = |v: Option<&Entry>| {
                    v.map_or("nothing".into(), |(id, _)| {
                        format!("entry {}", id.escape_ascii())
                    })
                };
                return Some(format!(
                    "{} on the source where the target has {}",
                    show(x),
                    show(y)
                ));
            }
        }
    }
    None
}

/// The id after `id` (`ms-seq`), for reading a stream on from there.
pub(crate) fn next_stream_id(id: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(id).ok()?;
    let (ms, seq) = text.split_once('-')?;
    let (ms, seq): (u64, u64) = (ms.parse().ok()?, seq.parse().ok()?);
    Some(match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms.checked_add(1)?),
    })
}

/// An integer reply.
pub(crate) fn int(frame: &Frame, what: &str) -> Result<i64, String> {
    frame.as_integer().ok_or_else(|| unexpected(frame, what))
}

/// A bulk string reply.
pub(crate) fn bulk(frame: &Frame, what: &str) -> Result<Bytes, String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => Ok(b.clone()),
        _ => Err(unexpected(frame, what)),
    }
}

/// The elements of an array of bulk strings.
pub(crate) fn items(frame: &Frame, what: &str) -> Result<Vec<Bytes>, String> {
    match frame {
        Frame::NullArray | Frame::Null => Ok(Vec::new()),
        _ => frame
            .as_elements()
            .ok_or_else(|| unexpected(frame, what))?
            .iter()
            .map(|f| bulk(f, what))
            .collect(),
    }
}

/// An array of bulk strings or nils (`HMGET`).
pub(crate) fn optional_items(frame: &Frame, what: &str) -> Result<Vec<Option<Bytes>>, String> {
    frame
        .as_elements()
        .ok_or_else(|| unexpected(frame, what))?
        .iter()
        .map(|f| {
            if f.is_null() {
                Ok(None)
            } else {
                bulk(f, what).map(Some)
            }
        })
        .collect()
}

/// A `SCAN`-family reply: the next cursor and the elements.
pub(crate) fn scan_reply(frame: &Frame, what: &str) -> Result<(Bytes, Vec<Bytes>), String> {
    match frame.as_elements() {
        Some([cursor, elements]) => Ok((bulk(cursor, what)?, items(elements, what)?)),
        _ => Err(unexpected(frame, what)),
    }
}

/// Pairs from a flat list (`HSCAN`'s field, value, ...).
pub(crate) fn into_pairs(flat: Vec<Bytes>, what: &str) -> Result<Vec<(Bytes, Bytes)>, String> {
    if !flat.len().is_multiple_of(2) {
        return Err(format!("{what} returned an odd number of elements"));
    }
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push((a, b));
    }
    Ok(pairs)
}

/// `ZRANGE ... WITHSCORES`: members with their scores as numbers.
pub(crate) fn scored(frame: &Frame, what: &str) -> Result<Vec<(Bytes, f64)>, String> {
    into_pairs(items(frame, what)?, what)?
        .into_iter()
        .map(|(member, score)| {
            let value = std::str::from_utf8(&score)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(|| format!("{what} returned the score {}", quote(&score)))?;
            Ok((member, value))
        })
        .collect()
}

/// `XRANGE`: entries with their fields and values.
pub(crate) fn entries(frame: &Frame, what: &str) -> Result<Vec<Entry>, String> {
    let list = match frame {
        Frame::NullArray | Frame::Null => return Ok(Vec::new()),
        _ => frame.as_elements().ok_or_else(|| unexpected(frame, what))?,
    };
    list.iter()
        .map(|entry| match entry.as_elements() {
            Some([id, fields]) => Ok((bulk(id, what)?, items(fields, what)?)),
            _ => Err(unexpected(entry, what)),
        })
        .collect()
}

fn unexpected(frame: &Frame, what: &str) -> String {
    match frame.error_message() {
        Some(e) => format!("{what} refused: {}", String::from_utf8_lossy(e)),
        None => format!("unexpected reply to {what}: {}", frame.kind_name()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn s(text: &str) -> Frame {
        Frame::Simple(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn b(text: &[u8]) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(text))
    }

    fn arr(items: Vec<Frame>) -> Frame {
        Frame::Array(items)
    }

    fn bulks(items: &[&[u8]]) -> Frame {
        arr(items.iter().map(|i| b(i)).collect())
    }

    fn wrongtype() -> Frame {
        Frame::Error(Bytes::from_static(b"WRONGTYPE Operation against a key"))
    }

    /// Both sides' replies for one key of `kind` with these expire times
    /// and values (for a string, the GETRANGE reply).
    fn full(kind: &str, ttl: (i64, i64), src: Vec<Frame>, tgt: Vec<Frame>) -> Verdict {
        let first = |ttl: i64, values: &[Frame]| {
            vec![
                Frame::Integer(ttl),
                if kind == "string" {
                    values[0].clone()
                } else {
                    wrongtype()
                },
            ]
        };
        let (a, b) = (first(ttl.0, &src), first(ttl.1, &tgt));
        let mut step = evaluate_first(Mode::Full, 2000, &a, &b).unwrap();
        loop {
            step = match step {
                First::Done(v) => return v,
                First::Types { ttl } => evaluate_types(&s(kind), &s(kind), ttl).unwrap(),
                First::Values { kind, ttl } => {
                    First::Done(evaluate_values(&kind, Mode::Full, &src, &tgt, ttl).unwrap())
                }
            }
        }
    }

    fn done(first: First) -> Verdict {
        match first {
            First::Done(v) => v,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    fn detail(v: Verdict) -> (Reason, String) {
        match v {
            Verdict::Differ(m) => (m.reason, m.detail),
            other => panic!("expected a difference, got {other:?}"),
        }
    }

    #[test]
    fn presence_and_type_come_before_values() {
        let none = [Frame::Integer(-2), b(b"")];
        let string = [Frame::Integer(-1), b(b"x")];
        let hash = [Frame::Integer(-1), wrongtype()];
        let eval = |a: &[Frame], b: &[Frame]| evaluate_first(Mode::Full, 0, a, b).unwrap();
        assert_eq!(done(eval(&none, &none)), Verdict::Same);
        assert_eq!(
            detail(done(eval(&none, &string))),
            (Reason::Extra, "not on the source".into())
        );
        assert_eq!(detail(done(eval(&hash, &none))).0, Reason::Missing);
        // Not a string on one side: the types are read next.
        assert_eq!(eval(&string, &hash), First::Types { ttl: None });
        assert_eq!(
            detail(done(
                evaluate_types(&s("string"), &s("hash"), None).unwrap()
            )),
            (
                Reason::Type,
                "a string on the source, a hash on the target".into()
            )
        );
        assert_eq!(
            evaluate_types(&s("hash"), &s("hash"), None).unwrap(),
            First::Values {
                kind: Kind::Hash,
                ttl: None
            }
        );
        // A string now where another type was: it changed meanwhile.
        let v = done(evaluate_types(&s("string"), &s("string"), None).unwrap());
        assert_eq!(detail(v).1, CHANGED);
        // Module types are compared by type (and expire time) only.
        let v = evaluate_types(&s("MBbloom--"), &s("MBbloom--"), None).unwrap();
        assert_eq!(done(v), Verdict::Same);
    }

    #[test]
    fn ttls_compare_within_the_tolerance() {
        assert_eq!(compare_ttl(-1, -1, 0), None);
        assert_eq!(compare_ttl(10_000, 11_999, 2000), None);
        assert!(compare_ttl(10_000, 12_001, 2000).is_some());
        assert!(
            compare_ttl(-1, 5, 2000)
                .unwrap()
                .contains("no expire on the source")
        );
        let v = full("string", (-1, 60_000), vec![b(b"v")], vec![b(b"v")]);
        assert_eq!(detail(v).0, Reason::Ttl);
        // A value difference is reported before a TTL difference.
        let v = full("string", (-1, 60_000), vec![b(b"v")], vec![b(b"w")]);
        assert_eq!(detail(v).0, Reason::Value);
    }

    #[test]
    fn strings_compare_whole_or_go_to_windows() {
        assert_eq!(
            full("string", (-1, -1), vec![b(b"")], vec![b(b"")]),
            Verdict::Same
        );
        let (_, d) = detail(full("string", (-1, -1), vec![b(b"abc")], vec![b(b"abd")]));
        assert_eq!(
            d,
            "the strings differ from byte 2 (3 bytes on the source, 3 on the target)"
        );
        let long = vec![b'x'; SMALL_STRING_BYTES];
        let v = full("string", (-1, -1), vec![b(&long)], vec![b(&long)]);
        assert!(matches!(
            v,
            Verdict::Big {
                kind: Kind::String,
                ttl: None
            }
        ));
        let (_, d) = detail(full("string", (-1, -1), vec![b(&long)], vec![b(b"x")]));
        assert!(
            d.contains("16384+ bytes on the source, 1 on the target"),
            "{d}"
        );
    }

    #[test]
    fn sets_and_hashes_compare_in_any_order() {
        let cursor0 = |items: &[&[u8]]| arr(vec![b(b"0"), bulks(items)]);
        let v = full(
            "set",
            (-1, -1),
            vec![Frame::Integer(3), cursor0(&[b"a", b"b", b"\xff"])],
            vec![Frame::Integer(3), cursor0(&[b"\xff", b"a", b"b"])],
        );
        assert_eq!(v, Verdict::Same);
        let (_, d) = detail(full(
            "set",
            (-1, -1),
            vec![Frame::Integer(2), cursor0(&[b"a", b"b"])],
            vec![Frame::Integer(2), cursor0(&[b"a", b"c"])],
        ));
        assert_eq!(d, "member \"b\" is not on the target");
        // Not all of it in one call: windows.
        let v = full(
            "set",
            (-1, -1),
            vec![Frame::Integer(2), cursor0(&[b"a", b"b"])],
            vec![Frame::Integer(2), arr(vec![b(b"17"), bulks(&[b"a"])])],
        );
        assert!(matches!(v, Verdict::Big { .. }));
        let (_, d) = detail(full(
            "hash",
            (-1, -1),
            vec![Frame::Integer(2), cursor0(&[b"f", b"1", b"g", b"2"])],
            vec![Frame::Integer(2), cursor0(&[b"g", b"2", b"f", b"9"])],
        ));
        assert_eq!(d, "field \"f\": \"1\" on the source, \"9\" on the target");
        let (_, d) = detail(full(
            "hash",
            (-1, -1),
            vec![Frame::Integer(1), cursor0(&[b"f", b"1"])],
            vec![Frame::Integer(2), cursor0(&[b"g", b"2", b"f", b"1"])],
        ));
        assert_eq!(d, "1 fields on the source, 2 on the target");
    }

    #[test]
    fn scores_compare_as_numbers() {
        // Redis 6.2 writes %.17g, 7.2+ the shortest form.
        let v = full(
            "zset",
            (-1, -1),
            vec![
                Frame::Integer(3),
                bulks(&[b"a", b"0.10000000000000001", b"b", b"inf", b"c", b"-0"]),
            ],
            vec![
                Frame::Integer(3),
                bulks(&[b"a", b"0.1", b"b", b"inf", b"c", b"0"]),
            ],
        );
        assert_eq!(v, Verdict::Same);
        let (_, d) = detail(full(
            "zset",
            (-1, -1),
            vec![Frame::Integer(1), bulks(&[b"a", b"1.5"])],
            vec![Frame::Integer(1), bulks(&[b"a", b"2"])],
        ));
        assert_eq!(d, "member \"a\": score 1.5 on the source, 2 on the target");
    }

    #[test]
    fn lists_and_streams_compare_in_order() {
        let (_, d) = detail(full(
            "list",
            (-1, -1),
            vec![Frame::Integer(2), bulks(&[b"a", b"b"])],
            vec![Frame::Integer(2), bulks(&[b"b", b"a"])],
        ));
        assert_eq!(d, "element 0: \"a\" on the source, \"b\" on the target");
        let entry = |id: &[u8], v: &[u8]| arr(vec![b(id), bulks(&[b"f", v])]);
        let (_, d) = detail(full(
            "stream",
            (-1, -1),
            vec![Frame::Integer(1), arr(vec![entry(b"1-1", b"x")])],
            vec![Frame::Integer(1), arr(vec![entry(b"1-1", b"y")])],
        ));
        assert_eq!(d, "entry 1-1 has other fields or values");
        // Longer than the first read: windows.
        let v = full(
            "list",
            (-1, -1),
            vec![Frame::Integer(10_000), bulks(&[b"a"])],
            vec![Frame::Integer(10_000), bulks(&[b"a"])],
        );
        assert!(matches!(
            v,
            Verdict::Big {
                kind: Kind::List,
                ..
            }
        ));
    }

    #[test]
    fn a_key_replaced_between_reads_is_changed_not_a_fault() {
        let v = full(
            "list",
            (-1, -1),
            vec![
                Frame::Error(Bytes::from_static(b"WRONGTYPE x")),
                Frame::Error(Bytes::from_static(b"WRONGTYPE x")),
            ],
            vec![Frame::Integer(1), bulks(&[b"a"])],
        );
        assert_eq!(detail(v).1, CHANGED);
        let src = [Frame::Integer(-1), b(b"v")];
        let tgt = [
            Frame::Integer(-1),
            Frame::Error(Bytes::from_static(b"NOPERM no")),
        ];
        let err = evaluate_first(Mode::Full, 0, &src, &tgt).unwrap_err();
        assert_eq!(err, Fault::Target("GETRANGE refused: NOPERM no".into()));
    }

    #[test]
    fn quick_mode_compares_lengths() {
        let hash = [s("hash"), wrongtype()];
        let First::Values { kind, ttl } = evaluate_first(Mode::Quick, 0, &hash, &hash).unwrap()
        else {
            panic!("a hash needs its length read");
        };
        let v = evaluate_values(
            &kind,
            Mode::Quick,
            &[Frame::Integer(3)],
            &[Frame::Integer(4)],
            ttl,
        )
        .unwrap();
        assert_eq!(
            detail(v),
            (
                Reason::Value,
                "3 elements on the source, 4 on the target".into()
            )
        );
        let a = [s("string"), Frame::Integer(5)];
        let b = [s("string"), Frame::Integer(6)];
        let v = done(evaluate_first(Mode::Quick, 0, &a, &b).unwrap());
        assert_eq!(detail(v).1, "5 bytes on the source, 6 on the target");
    }

    #[test]
    fn commands_are_encoded_as_resp_arrays() {
        assert_eq!(
            std::str::from_utf8(SMALL_STRING_LAST).unwrap(),
            (SMALL_STRING_BYTES - 1).to_string()
        );
        assert_eq!(
            std::str::from_utf8(SMALL_LAST).unwrap(),
            (SMALL_ELEMENTS - 1).to_string()
        );
        assert_eq!(
            std::str::from_utf8(SMALL_COUNT).unwrap(),
            SMALL_ELEMENTS.to_string()
        );
        let mut out = BytesMut::new();
        assert_eq!(first_reads(b"k", Mode::Full, &mut out), 2);
        assert_eq!(
            &out[..],
            &b"*2\r\n$4\r\nPTTL\r\n$1\r\nk\r\n*4\r\n$8\r\nGETRANGE\r\n$1\r\nk\r\n$1\r\n0\r\n$5\r\n16383\r\n"[..]
        );
        out.clear();
        assert_eq!(first_reads(b"k\r\n", Mode::Quick, &mut out), 2);
        assert_eq!(
            &out[..],
            b"*2\r\n$4\r\nTYPE\r\n$3\r\nk\r\n\r\n*2\r\n$6\r\nSTRLEN\r\n$3\r\nk\r\n\r\n"
        );
        out.clear();
        assert_eq!(value_reads(&Kind::ZSet, b"z", Mode::Full, &mut out), 2);
        let mut expected = BytesMut::new();
        Command::new("ZCARD").arg("z").encode(&mut expected);
        Command::new("ZRANGE")
            .arg("z")
            .arg("0")
            .arg("511")
            .arg("WITHSCORES")
            .encode(&mut expected);
        assert_eq!(out, expected);
        assert_eq!(value_reads(&Kind::String, b"s", Mode::Full, &mut out), 0);
    }

    #[test]
    fn stream_ids_step_on() {
        assert_eq!(next_stream_id(b"5-7").as_deref(), Some("5-8"));
        assert_eq!(
            next_stream_id(format!("5-{}", u64::MAX).as_bytes()).as_deref(),
            Some("6-0")
        );
        assert_eq!(next_stream_id(b"x"), None);
    }
}
