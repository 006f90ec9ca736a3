//! A test-only RDB writer, written from the format (docs/formats.md and Redis's
//! rdb.c, listpack.c, ziplist.c, intset.c, zipmap.c as references).
//!
//! It writes a [`Dataset`] (header, opcodes, keys with values in every
//! encoding) to bytes and, alongside, the [`Item`]s a decoder must produce for
//! them, plus each value's exact serialized bytes (type byte first) for raw
//! mode and DUMP payloads. Strings, lengths and compact-encoding entries can be
//! written the way Redis writes them ([`StrStyle::Redis`]) or in every other
//! valid form ([`StrStyle::Mixed`]: int-encoded and LZF strings, wide lengths,
//! wide listpack/ziplist integers, integers stored as strings, 5-byte
//! ziplist prevlens).
//!
//! Also used by the benchmarks (`benches/decode.rs` includes this file), so it
//! depends on nothing but `ferry-rdb` and `bytes`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use ferry_rdb::{
    Encoding, Function, Header, Item, KeyHeader, Magic, ModuleAux, ModuleType, PreGaFunction,
    StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamMeta, StreamNack,
};

// ---------------------------------------------------------------------------
// A small deterministic RNG (splitmix64), so generated data needs no crate.

/// Deterministic pseudo-random numbers.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------
// Primitive encodings.

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

/// The integer a string holds when it is its canonical decimal text (Redis's
/// `string2ll` + `ll2string` round trip: no sign, spaces or leading zeros).
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: i64 = text.parse().ok()?;
    (v.to_string().as_bytes() == s).then_some(v)
}

/// An RDB length in its shortest form.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An RDB length in a form at least `form` wide (0: 6-bit, 1: 14-bit, 2: 32-bit, 3: 64-bit).
pub fn put_len_form(out: &mut Vec<u8>, n: u64, form: u8) {
    let min_form = if n < 64 {
        0
    } else if n < 16384 {
        1
    } else if n <= u64::from(u32::MAX) {
        2
    } else {
        3
    };
    match form.max(min_form) {
        0 => out.push(n as u8),
        1 => {
            out.push(0x40 | (n >> 8) as u8);
            out.push(n as u8);
        }
        2 => {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(0x81);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// LZF-compresses `input` (a plain greedy LZF compressor with a hash table;
/// emits back references up to 264 bytes long and 8 KiB back).
pub fn lzf_compress(input: &[u8]) -> Vec<u8> {
    const HASH_BITS: u32 = 14;
    let mut table = vec![0usize; 1 << HASH_BITS];
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut lit: Vec<u8> = Vec::with_capacity(32);
    let n = input.len();
    let mut i = 0;
    while i < n {
        if i + 3 <= n {
            let h = ((u32::from(input[i]) << 16 | u32::from(input[i + 1]) << 8)
                | u32::from(input[i + 2]))
            .wrapping_mul(2_654_435_761)
                >> (32 - HASH_BITS);
            let cand = table[h as usize];
            table[h as usize] = i + 1;
            if cand > 0 {
                let c = cand - 1;
                let off = i - c - 1;
                if off < 8192 && input[c..c + 3] == input[i..i + 3] {
                    let max = (n - i).min(264);
                    let mut len = 3;
                    while len < max && input[c + len] == input[i + len] {
                        len += 1;
                    }
                    flush_literals(&mut out, &mut lit);
                    let l = len - 2;
                    if l < 7 {
                        out.push(((l << 5) | (off >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (off >> 8)) as u8);
                        out.push((l - 7) as u8);
                    }
                    out.push(off as u8);
                    i += len;
                    continue;
                }
            }
        }
        lit.push(input[i]);
        if lit.len() == 32 {
            flush_literals(&mut out, &mut lit);
        }
        i += 1;
    }
    flush_literals(&mut out, &mut lit);
    out
}

fn flush_literals(out: &mut Vec<u8>, lit: &mut Vec<u8>) {
    if !lit.is_empty() {
        out.push((lit.len() - 1) as u8);
        out.extend_from_slice(lit);
        lit.clear();
    }
}

/// LZF data made of literal runs only (valid LZF, larger than its input).
pub fn lzf_literals(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 1);
    for run in input.chunks(32) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
    out
}

/// How a listpack entry is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpEnc {
    /// `0xxxxxxx`: 0..=127.
    Uint7,
    /// `110xxxxx yyyyyyyy`: -4096..=4095.
    Int13,
    /// `0xf1` + 2 bytes.
    Int16,
    /// `0xf2` + 3 bytes.
    Int24,
    /// `0xf3` + 4 bytes.
    Int32,
    /// `0xf4` + 8 bytes.
    Int64,
    /// `10xxxxxx`: strings up to 63 bytes.
    Str6,
    /// `1110xxxx yyyyyyyy`: strings up to 4095 bytes.
    Str12,
    /// `0xf0` + 4-byte length.
    Str32,
}

/// The encodings that can hold `e`, shortest first (what Redis picks).
pub fn lp_encodings(e: &[u8]) -> Vec<LpEnc> {
    let mut c = Vec::new();
    if let Some(v) = canonical_int(e) {
        if (0..=127).contains(&v) {
            c.push(LpEnc::Uint7);
        }
        if (-4096..=4095).contains(&v) {
            c.push(LpEnc::Int13);
        }
        if i16::try_from(v).is_ok() {
            c.push(LpEnc::Int16);
        }
        if (-(1 << 23)..(1 << 23)).contains(&v) {
            c.push(LpEnc::Int24);
        }
        if i32::try_from(v).is_ok() {
            c.push(LpEnc::Int32);
        }
        c.push(LpEnc::Int64);
    }
    if e.len() < 64 {
        c.push(LpEnc::Str6);
    }
    if e.len() < 4096 {
        c.push(LpEnc::Str12);
    }
    c.push(LpEnc::Str32);
    c
}

/// Encoding and data of one listpack entry (without its back-length).
pub fn lp_encode(enc: LpEnc, e: &[u8]) -> Vec<u8> {
    let v = canonical_int(e).unwrap_or(0);
    let mut out = Vec::with_capacity(e.len() + 9);
    match enc {
        LpEnc::Uint7 => out.push(v as u8),
        LpEnc::Int13 => {
            let u = (v as u16) & 0x1fff;
            out.push(0xc0 | (u >> 8) as u8);
            out.push(u as u8);
        }
        LpEnc::Int16 => {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        LpEnc::Int24 => {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        LpEnc::Int32 => {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        LpEnc::Int64 => {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
        LpEnc::Str6 => {
            out.push(0x80 | e.len() as u8);
            out.extend_from_slice(e);
        }
        LpEnc::Str12 => {
            out.push(0xe0 | (e.len() >> 8) as u8);
            out.push(e.len() as u8);
            out.extend_from_slice(e);
        }
        LpEnc::Str32 => {
            out.push(0xf0);
            out.extend_from_slice(&(e.len() as u32).to_le_bytes());
            out.extend_from_slice(e);
        }
    }
    out
}

/// The back-length of a listpack entry of `l` bytes (`lpEncodeBacklen`).
pub fn lp_backlen(l: usize) -> Vec<u8> {
    let l = l as u64;
    if l <= 127 {
        vec![l as u8]
    } else if l < 16383 {
        vec![(l >> 7) as u8, (l & 127) as u8 | 128]
    } else if l < 2_097_151 {
        vec![
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]
    } else if l < 268_435_455 {
        vec![
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]
    } else {
        vec![
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]
    }
}

/// Builds a listpack.
#[derive(Debug, Default)]
pub struct ListpackBuilder {
    body: Vec<u8>,
    count: u64,
}

impl ListpackBuilder {
    /// An empty listpack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry in the given encoding.
    pub fn push_as(&mut self, enc: LpEnc, e: &[u8]) {
        let entry = lp_encode(enc, e);
        self.body.extend_from_slice(&entry);
        self.body.extend_from_slice(&lp_backlen(entry.len()));
        self.count += 1;
    }

    /// Appends an entry, shortest encoding, or any valid one when `rng` is given.
    pub fn push(&mut self, e: &[u8], rng: Option<&mut Rng>) {
        let encs = lp_encodings(e);
        let enc = match rng {
            Some(r) => {
                if r.chance(1, 3) {
                    r.pick(&encs)
                } else {
                    encs[0]
                }
            }
            None => encs[0],
        };
        self.push_as(enc, e);
    }

    /// Appends an integer entry.
    pub fn push_int(&mut self, v: i64, rng: Option<&mut Rng>) {
        self.push(v.to_string().as_bytes(), rng);
    }

    /// Appends an integer in an integer encoding (never as text), the
    /// shortest or, when `rng` is given, any that fits.
    pub fn push_int_encoded(&mut self, v: i64, rng: Option<&mut Rng>) {
        let text = v.to_string();
        let ints: Vec<LpEnc> = lp_encodings(text.as_bytes())
            .into_iter()
            .filter(|e| !matches!(e, LpEnc::Str6 | LpEnc::Str12 | LpEnc::Str32))
            .collect();
        let enc = match rng {
            Some(r) if ints.len() > 1 => r.pick(&ints),
            _ => ints[0],
        };
        self.push_as(enc, text.as_bytes());
    }

    /// Entries so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The listpack blob.
    pub fn finish(self) -> Vec<u8> {
        let total = 6 + self.body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xff);
        out
    }
}

/// How a ziplist entry is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZlEnc {
    /// `1111xxxx`: 0..=12 in the encoding byte.
    Imm4,
    /// `0xfe` + 1 byte.
    Int8,
    /// `0xc0` + 2 bytes.
    Int16,
    /// `0xf0` + 3 bytes.
    Int24,
    /// `0xd0` + 4 bytes.
    Int32,
    /// `0xe0` + 8 bytes.
    Int64,
    /// `00pppppp`: strings up to 63 bytes.
    Str6,
    /// `01pppppp qqqqqqqq` (big-endian): up to 16383 bytes.
    Str14,
    /// `0x80` + 4-byte big-endian length.
    Str32,
}

/// The encodings that can hold `e`, shortest first.
pub fn zl_encodings(e: &[u8]) -> Vec<ZlEnc> {
    let mut c = Vec::new();
    if e.len() < 32
        && let Some(v) = canonical_int(e)
    {
        if (0..=12).contains(&v) {
            c.push(ZlEnc::Imm4);
        }
        if i8::try_from(v).is_ok() {
            c.push(ZlEnc::Int8);
        }
        if i16::try_from(v).is_ok() {
            c.push(ZlEnc::Int16);
        }
        if (-(1 << 23)..(1 << 23)).contains(&v) {
            c.push(ZlEnc::Int24);
        }
        if i32::try_from(v).is_ok() {
            c.push(ZlEnc::Int32);
        }
        c.push(ZlEnc::Int64);
    }
    if e.len() < 64 {
        c.push(ZlEnc::Str6);
    }
    if e.len() < 16384 {
        c.push(ZlEnc::Str14);
    }
    c.push(ZlEnc::Str32);
    c
}

/// Encoding and data of one ziplist entry (without its prevlen).
pub fn zl_encode(enc: ZlEnc, e: &[u8]) -> Vec<u8> {
    let v = canonical_int(e).unwrap_or(0);
    let mut out = Vec::with_capacity(e.len() + 9);
    match enc {
        ZlEnc::Imm4 => out.push(0xf1 + v as u8),
        ZlEnc::Int8 => {
            out.push(0xfe);
            out.push(v as i8 as u8);
        }
        ZlEnc::Int16 => {
            out.push(0xc0);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        ZlEnc::Int24 => {
            out.push(0xf0);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        ZlEnc::Int32 => {
            out.push(0xd0);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        ZlEnc::Int64 => {
            out.push(0xe0);
            out.extend_from_slice(&v.to_le_bytes());
        }
        ZlEnc::Str6 => {
            out.push(e.len() as u8);
            out.extend_from_slice(e);
        }
        ZlEnc::Str14 => {
            out.push(0x40 | (e.len() >> 8) as u8);
            out.push(e.len() as u8);
            out.extend_from_slice(e);
        }
        ZlEnc::Str32 => {
            out.push(0x80);
            out.extend_from_slice(&(e.len() as u32).to_be_bytes());
            out.extend_from_slice(e);
        }
    }
    out
}

/// Builds a ziplist.
#[derive(Debug, Default)]
pub struct ZiplistBuilder {
    body: Vec<u8>,
    count: u64,
    prev_len: usize,
    tail: usize,
}

impl ZiplistBuilder {
    /// An empty ziplist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry in the given encoding; `wide_prevlen` writes the 5-byte form.
    pub fn push_as(&mut self, enc: ZlEnc, e: &[u8], wide_prevlen: bool) {
        let start = self.body.len();
        if self.prev_len < 254 && !wide_prevlen {
            self.body.push(self.prev_len as u8);
        } else {
            self.body.push(0xfe);
            self.body
                .extend_from_slice(&(self.prev_len as u32).to_le_bytes());
        }
        self.body.extend_from_slice(&zl_encode(enc, e));
        self.prev_len = self.body.len() - start;
        self.tail = start;
        self.count += 1;
    }

    /// Appends an entry, shortest encoding, or any valid one when `rng` is given.
    pub fn push(&mut self, e: &[u8], rng: Option<&mut Rng>) {
        let encs = zl_encodings(e);
        let (enc, wide) = match rng {
            Some(r) => {
                let enc = if r.chance(1, 3) {
                    r.pick(&encs)
                } else {
                    encs[0]
                };
                (enc, r.chance(1, 8))
            }
            None => (encs[0], false),
        };
        self.push_as(enc, e, wide);
    }

    /// The ziplist blob.
    pub fn finish(self) -> Vec<u8> {
        let total = 10 + self.body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        let tail = if self.count == 0 { 10 } else { 10 + self.tail };
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xff);
        out
    }
}

/// An intset blob of the given width (2, 4 or 8) holding `members` (sorted, deduplicated).
pub fn intset_blob(width: u8, members: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + members.len() * width as usize);
    out.extend_from_slice(&u32::from(width).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for v in members {
        out.extend_from_slice(&v.to_le_bytes()[..width as usize]);
    }
    out
}

/// The smallest intset width holding every member.
pub fn intset_width(members: &[i64]) -> u8 {
    if members.iter().all(|v| i16::try_from(*v).is_ok()) {
        2
    } else if members.iter().all(|v| i32::try_from(*v).is_ok()) {
        4
    } else {
        8
    }
}

fn zipmap_len(out: &mut Vec<u8>, n: usize) {
    if n < 254 {
        out.push(n as u8);
    } else {
        out.push(254);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
}

/// A zipmap blob; `free` gives each value's count of trailing free bytes.
pub fn zipmap_blob(pairs: &[(Vec<u8>, Vec<u8>)], free: &[u8]) -> Vec<u8> {
    let mut out = vec![pairs.len().min(254) as u8];
    for (i, (k, v)) in pairs.iter().enumerate() {
        let f = free.get(i).copied().unwrap_or(0);
        zipmap_len(&mut out, k.len());
        out.extend_from_slice(k);
        zipmap_len(&mut out, v.len());
        out.push(f);
        out.extend_from_slice(v);
        out.extend(std::iter::repeat_n(0xaa, usize::from(f)));
    }
    out.push(0xff);
    out
}

/// The 64-bit id of a module type: 9 characters of `A-Za-z0-9-_` and a 10-bit encoding version.
pub fn module_id(name: &[u8; 9], encver: u64) -> u64 {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = 0u64;
    for (i, c) in name.iter().enumerate() {
        let idx = CHARSET.iter().position(|x| x == c).unwrap_or(0) as u64;
        id |= idx << (64 - 6 * (i + 1));
    }
    id | (encver & 1023)
}

/// A DUMP payload: value bytes, RDB version (u16 LE), CRC64 (LE) of both.
pub fn dump_payload(value: &[u8], version: u16) -> Vec<u8> {
    let mut out = value.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    let crc = ferry_rdb::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

// ---------------------------------------------------------------------------
// The data model.

/// How strings and lengths are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrStyle {
    /// Always raw, shortest lengths.
    Plain,
    /// As Redis does: small canonical integers int-encoded, strings over 20
    /// bytes LZF-compressed when that saves space; shortest encodings.
    Redis,
    /// Any valid form, picked at random: raw, int-encoded, LZF (compressed or
    /// literal-only), wide lengths; wide listpack/ziplist entries.
    Mixed,
}

/// A string value's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrEnc {
    /// Decided by the writer's [`StrStyle`].
    Auto,
    /// Length-prefixed bytes.
    Raw,
    /// Int-encoded (falls back to raw if the text is not a canonical i32).
    Int,
    /// LZF-compressed (falls back to raw when empty).
    Lzf,
    /// LZF literal runs only.
    LzfLiterals,
}

/// A list's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnc {
    /// Type 1.
    Linked,
    /// Type 10.
    Ziplist,
    /// Type 14: ziplist nodes of up to `node_max` entries.
    Quicklist {
        /// Largest node.
        node_max: usize,
    },
    /// Type 18: listpack nodes of up to `node_max` entries; elements longer than
    /// `plain_over` bytes (and some others at random) go in plain nodes.
    Quicklist2 {
        /// Largest packed node.
        node_max: usize,
        /// Elements longer than this are plain nodes.
        plain_over: usize,
    },
}

/// A set's encoding (intsets are [`Value::Intset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetEnc {
    /// Type 2.
    Hashtable,
    /// Type 20.
    Listpack,
}

/// A sorted set's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZSetEnc {
    /// Type 3: scores as decimal text (253 NaN, 254 +inf, 255 -inf).
    Text,
    /// Type 5: binary doubles.
    Binary,
    /// Type 12.
    Ziplist,
    /// Type 17.
    Listpack,
}

/// A hash's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashEnc {
    /// Type 4.
    Hashtable,
    /// Type 9.
    Zipmap,
    /// Type 13.
    Ziplist,
    /// Type 16.
    Listpack,
    /// Type 25 (field TTLs, Redis magic only).
    ListpackEx,
    /// Type 24 (field TTLs, Redis magic only).
    Metadata,
    /// Type 22 in VALKEY files (field TTLs).
    ValkeyHash2,
    /// Type 22 in REDIS files (Redis 7.4 release candidates): absolute TTLs, no minimum.
    MetadataPreGa,
    /// Type 23 in REDIS files (Redis 7.4 release candidates): type 25 without the minimum.
    ListpackExPreGa,
}

impl HashEnc {
    /// True when fields may carry TTLs.
    pub fn has_ttls(self) -> bool {
        matches!(
            self,
            HashEnc::ListpackEx
                | HashEnc::Metadata
                | HashEnc::ValkeyHash2
                | HashEnc::MetadataPreGa
                | HashEnc::ListpackExPreGa
        )
    }
}

/// One hash field.
#[derive(Debug, Clone, PartialEq)]
pub struct HashField {
    /// Field name.
    pub field: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
    /// Absolute expire time (only kept by TTL encodings; must be >= 1).
    pub expire_at_ms: Option<u64>,
}

/// One module opcode.
#[derive(Debug, Clone, PartialEq)]
pub enum ModuleOp {
    /// Opcode 1.
    SInt(u64),
    /// Opcode 2.
    UInt(u64),
    /// Opcode 3.
    Float(f32),
    /// Opcode 4.
    Double(f64),
    /// Opcode 5.
    Str(Vec<u8>),
}

/// A stream entry as stored (deleted entries stay in their listpack).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    /// Entry id.
    pub id: StreamId,
    /// Field/value pairs.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// Flagged deleted.
    pub deleted: bool,
}

/// A consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    /// Name.
    pub name: Vec<u8>,
    /// Seen time.
    pub seen_time_ms: u64,
    /// Active time (written by stream v3 only).
    pub active_time_ms: u64,
    /// Pending ids.
    pub pel: Vec<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Name.
    pub name: Vec<u8>,
    /// Last delivered id.
    pub last_id: StreamId,
    /// Entries read (v2+).
    pub entries_read: u64,
    /// Group PEL.
    pub pel: Vec<StreamNack>,
    /// Consumers.
    pub consumers: Vec<Consumer>,
}

/// A stream value.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// 1, 2 or 3 (types 15, 19, 21).
    pub version: u8,
    /// Listpack nodes, each non-empty; a node's master id and fields are its first entry's.
    pub nodes: Vec<Vec<StreamRecord>>,
    /// Stored length.
    pub length: u64,
    /// Last id.
    pub last_id: StreamId,
    /// First id (v2+).
    pub first_id: StreamId,
    /// Max deleted id (v2+).
    pub max_deleted_id: StreamId,
    /// Entries added (v2+).
    pub entries_added: u64,
    /// Consumer groups.
    pub groups: Vec<Group>,
}

/// A value with its encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Type 0.
    Str(Vec<u8>, StrEnc),
    /// A list.
    List(ListEnc, Vec<Vec<u8>>),
    /// A set (hashtable or listpack).
    Set(SetEnc, Vec<Vec<u8>>),
    /// Type 11 with the given width (2, 4 or 8; widened to fit). Written sorted and deduplicated.
    Intset(u8, Vec<i64>),
    /// A sorted set.
    ZSet(ZSetEnc, Vec<(Vec<u8>, f64)>),
    /// A hash.
    Hash(HashEnc, Vec<HashField>),
    /// A stream.
    Stream(Stream),
    /// Type 7: module id and opcodes (the writer adds the EOF opcode).
    Module(u64, Vec<ModuleOp>),
}

/// A key's expire opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// EXPIRETIME_MS (252).
    Ms(i64),
    /// EXPIRETIME (253), seconds.
    Sec(i32),
}

/// A key with its metadata and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Key name.
    pub key: Vec<u8>,
    /// Expire opcode.
    pub expire: Option<Expire>,
    /// IDLE opcode.
    pub idle: Option<u64>,
    /// FREQ opcode.
    pub freq: Option<u8>,
    /// The value.
    pub value: Value,
}

/// A top-level record.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// AUX.
    Aux(Vec<u8>, Vec<u8>),
    /// SELECTDB.
    SelectDb(u64),
    /// RESIZEDB.
    ResizeDb(u64, u64),
    /// SLOT_INFO.
    SlotInfo(u64, u64, u64),
    /// FUNCTION2.
    Function2(Vec<u8>),
    /// FUNCTION_PRE_GA: name, engine, description, code.
    FunctionPreGa(Vec<u8>, Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    /// MODULE_AUX: module id, when, opcodes.
    ModuleAux(u64, u64, Vec<ModuleOp>),
    /// A key.
    Key(Entry),
}

/// A whole file to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `REDIS` or `VALKEY`.
    pub magic: Magic,
    /// Header version.
    pub version: u32,
    /// How strings are written.
    pub style: StrStyle,
    /// Seed for the writer's random choices.
    pub seed: u64,
    /// Write the real CRC64 (else 0, "disabled"); RDB 5+ only.
    pub checksum: bool,
    /// Records in order.
    pub ops: Vec<Op>,
}

/// A value's exact serialized bytes, type byte first.
#[derive(Debug, Clone, PartialEq)]
pub struct RawValue {
    /// The key.
    pub key: Vec<u8>,
    /// Type byte and value bytes, as in a DUMP payload.
    pub bytes: Vec<u8>,
}

/// What [`write`] produces.
#[derive(Debug, Clone)]
pub struct Written {
    /// The file.
    pub bytes: Vec<u8>,
    /// The items a decoder must emit (strings and module payloads as one chunk each).
    pub expected: Vec<Item>,
    /// Each key's value bytes, in file order.
    pub values: Vec<RawValue>,
}

/// Writes a dataset.
pub fn write(ds: &Dataset) -> Written {
    let mut w = Writer::new(ds.magic, ds.version, ds.style, ds.seed);
    for op in &ds.ops {
        w.op(op);
    }
    w.finish(ds.checksum)
}

// ---------------------------------------------------------------------------
// The writer.

/// Writes an RDB file record by record, tracking the expected items.
#[derive(Debug)]
pub struct Writer {
    out: Vec<u8>,
    expected: Vec<Item>,
    values: Vec<RawValue>,
    rng: Rng,
    style: StrStyle,
    magic: Magic,
    version: u32,
    db: u64,
}

impl Writer {
    /// Starts a file with its header.
    pub fn new(magic: Magic, version: u32, style: StrStyle, seed: u64) -> Self {
        let mut out = Vec::new();
        match magic {
            Magic::Redis => out.extend_from_slice(format!("REDIS{version:04}").as_bytes()),
            Magic::Valkey => out.extend_from_slice(format!("VALKEY{version:03}").as_bytes()),
        }
        Writer {
            out,
            expected: vec![Item::Header(Header { magic, version })],
            values: Vec::new(),
            rng: Rng::new(seed),
            style,
            magic,
            version,
            db: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True before anything but the header.
    pub fn is_empty(&self) -> bool {
        self.out.len() <= 9
    }

    fn mixed(&self) -> bool {
        self.style == StrStyle::Mixed
    }

    /// A length, widened at random in mixed style.
    fn len_field(&mut self, n: u64) {
        if self.mixed() && self.rng.chance(1, 6) {
            let form = self.rng.below(4) as u8;
            put_len_form(&mut self.out, n, form);
        } else {
            put_len(&mut self.out, n);
        }
    }

    fn put_int_string(&mut self, v: i64, min_width: u8) {
        let width = if i8::try_from(v).is_ok() {
            1
        } else if i16::try_from(v).is_ok() {
            2
        } else {
            4
        }
        .max(min_width);
        match width {
            1 => {
                self.out.push(0xc0);
                self.out.push(v as i8 as u8);
            }
            2 => {
                self.out.push(0xc1);
                self.out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            _ => {
                self.out.push(0xc2);
                self.out.extend_from_slice(&(v as i32).to_le_bytes());
            }
        }
    }

    fn put_lzf(&mut self, s: &[u8], data: &[u8]) {
        self.out.push(0xc3);
        self.len_field(data.len() as u64);
        self.len_field(s.len() as u64);
        self.out.extend_from_slice(data);
    }

    fn put_raw(&mut self, s: &[u8]) {
        self.len_field(s.len() as u64);
        self.out.extend_from_slice(s);
    }

    /// An RDB string in the given encoding.
    pub fn string_as(&mut self, s: &[u8], enc: StrEnc) {
        let int = canonical_int(s).filter(|v| i32::try_from(*v).is_ok());
        match enc {
            StrEnc::Auto => self.string(s),
            StrEnc::Raw => self.put_raw(s),
            StrEnc::Int => match int {
                Some(v) => {
                    let w = if self.mixed() {
                        self.rng.pick(&[1, 2, 4])
                    } else {
                        1
                    };
                    self.put_int_string(v, w);
                }
                None => self.put_raw(s),
            },
            StrEnc::Lzf if !s.is_empty() => {
                let data = lzf_compress(s);
                self.put_lzf(s, &data);
            }
            StrEnc::LzfLiterals if !s.is_empty() => {
                let data = lzf_literals(s);
                self.put_lzf(s, &data);
            }
            StrEnc::Lzf | StrEnc::LzfLiterals => self.put_raw(s),
        }
    }

    /// An RDB string, encoded as the style says.
    pub fn string(&mut self, s: &[u8]) {
        let int = (s.len() <= 11)
            .then(|| canonical_int(s))
            .flatten()
            .filter(|v| i32::try_from(*v).is_ok());
        match self.style {
            StrStyle::Plain => self.put_raw(s),
            StrStyle::Redis => {
                if let Some(v) = int {
                    self.put_int_string(v, 1);
                } else if s.len() > 20 {
                    let data = lzf_compress(s);
                    if data.len() + 4 < s.len() {
                        self.put_lzf(s, &data);
                    } else {
                        self.put_raw(s);
                    }
                } else {
                    self.put_raw(s);
                }
            }
            StrStyle::Mixed => {
                let choice = self.rng.below(10);
                match choice {
                    0..=2 if int.is_some() => self.string_as(s, StrEnc::Int),
                    3 | 4 => self.string_as(s, StrEnc::Lzf),
                    5 => self.string_as(s, StrEnc::LzfLiterals),
                    _ => self.put_raw(s),
                }
            }
        }
    }

    fn rng_opt(&mut self) -> Option<&mut Rng> {
        if self.mixed() {
            Some(&mut self.rng)
        } else {
            None
        }
    }

    fn listpack<'a>(&mut self, entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut lp = ListpackBuilder::new();
        for e in entries {
            lp.push(e, self.rng_opt());
        }
        lp.finish()
    }

    fn ziplist<'a>(&mut self, entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut zl = ZiplistBuilder::new();
        for e in entries {
            zl.push(e, self.rng_opt());
        }
        zl.finish()
    }

    /// Writes one record.
    pub fn op(&mut self, op: &Op) {
        match op {
            Op::Aux(k, v) => self.aux(k, v),
            Op::SelectDb(db) => self.select_db(*db),
            Op::ResizeDb(a, b) => self.resize_db(*a, *b),
            Op::SlotInfo(a, b, c) => self.slot_info(*a, *b, *c),
            Op::Function2(code) => self.function2(code),
            Op::FunctionPreGa(name, engine, desc, code) => {
                self.function_pre_ga(name, engine, desc.as_deref(), code)
            }
            Op::ModuleAux(id, when, ops) => self.module_aux(*id, *when, ops),
            Op::Key(e) => self.key(e),
        }
    }

    /// AUX field.
    pub fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.out.push(OP_AUX);
        self.string(key);
        self.string(value);
        self.expected.push(Item::Aux {
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
        });
    }

    /// SELECTDB.
    pub fn select_db(&mut self, db: u64) {
        self.out.push(OP_SELECTDB);
        self.len_field(db);
        self.db = db;
        self.expected.push(Item::SelectDb(db));
    }

    /// RESIZEDB.
    pub fn resize_db(&mut self, db_size: u64, expires_size: u64) {
        self.out.push(OP_RESIZEDB);
        self.len_field(db_size);
        self.len_field(expires_size);
        self.expected.push(Item::ResizeDb {
            db_size,
            expires_size,
        });
    }

    /// SLOT_INFO.
    pub fn slot_info(&mut self, slot_id: u64, slot_size: u64, expires_slot_size: u64) {
        self.out.push(OP_SLOT_INFO);
        self.len_field(slot_id);
        self.len_field(slot_size);
        self.len_field(expires_slot_size);
        self.expected.push(Item::SlotInfo {
            slot_id,
            slot_size,
            expires_slot_size,
        });
    }

    /// FUNCTION2.
    pub fn function2(&mut self, code: &[u8]) {
        self.out.push(OP_FUNCTION2);
        self.string(code);
        self.expected.push(Item::Function(Function {
            code: Bytes::copy_from_slice(code),
            pre_ga: None,
        }));
    }

    /// FUNCTION_PRE_GA (Redis 7.0 release candidates).
    pub fn function_pre_ga(
        &mut self,
        name: &[u8],
        engine: &[u8],
        desc: Option<&[u8]>,
        code: &[u8],
    ) {
        self.out.push(OP_FUNCTION_PRE_GA);
        self.string(name);
        self.string(engine);
        match desc {
            Some(d) => {
                self.len_field(1);
                self.string(d);
            }
            None => self.len_field(0),
        }
        self.string(code);
        self.expected.push(Item::Function(Function {
            code: Bytes::copy_from_slice(code),
            pre_ga: Some(Box::new(PreGaFunction {
                name: Bytes::copy_from_slice(name),
                engine: Bytes::copy_from_slice(engine),
                description: desc.map(Bytes::copy_from_slice),
            })),
        }));
    }

    fn module_ops(&mut self, ops: &[ModuleOp]) {
        for op in ops {
            match op {
                ModuleOp::SInt(v) => {
                    self.len_field(1);
                    self.len_field(*v);
                }
                ModuleOp::UInt(v) => {
                    self.len_field(2);
                    self.len_field(*v);
                }
                ModuleOp::Float(v) => {
                    self.len_field(3);
                    self.out.extend_from_slice(&v.to_le_bytes());
                }
                ModuleOp::Double(v) => {
                    self.len_field(4);
                    self.out.extend_from_slice(&v.to_le_bytes());
                }
                ModuleOp::Str(s) => {
                    self.len_field(5);
                    self.string(s);
                }
            }
        }
        self.len_field(0);
    }

    /// MODULE_AUX.
    pub fn module_aux(&mut self, id: u64, when: u64, ops: &[ModuleOp]) {
        self.out.push(OP_MODULE_AUX);
        self.len_field(id);
        self.len_field(2);
        self.len_field(when);
        let start = self.out.len();
        self.module_ops(ops);
        let payload = Bytes::copy_from_slice(&self.out[start..]);
        self.expected.push(Item::ModuleAux(ModuleAux {
            module: ModuleType { id },
            when,
            payload,
        }));
    }

    /// A key with its expire/IDLE/FREQ opcodes and its value.
    pub fn key(&mut self, e: &Entry) {
        let expire_at_ms = match e.expire {
            Some(Expire::Ms(ms)) => {
                self.out.push(OP_EXPIRETIME_MS);
                self.out.extend_from_slice(&ms.to_le_bytes());
                Some(ms)
            }
            Some(Expire::Sec(s)) => {
                self.out.push(OP_EXPIRETIME);
                self.out.extend_from_slice(&s.to_le_bytes());
                Some(i64::from(s) * 1000)
            }
            None => None,
        };
        if let Some(idle) = e.idle {
            self.out.push(OP_IDLE);
            self.len_field(idle);
        }
        if let Some(freq) = e.freq {
            self.out.push(OP_FREQ);
            self.out.push(freq);
        }
        let encoding = self.encoding_of(&e.value);
        let offset = self.out.len() as u64;
        self.out.push(encoding.type_byte());
        self.string(&e.key);
        let value_at = self.out.len();
        let mut items = Vec::new();
        let (len, module) = self.value(&e.value, &mut items);
        let mut raw = vec![encoding.type_byte()];
        raw.extend_from_slice(&self.out[value_at..]);
        self.values.push(RawValue {
            key: e.key.clone(),
            bytes: raw,
        });
        self.expected.push(Item::Key(Box::new(KeyHeader {
            db: self.db,
            key: Bytes::copy_from_slice(&e.key),
            encoding,
            expire_at_ms,
            lru_idle: e.idle,
            lfu_freq: e.freq,
            len,
            module,
            offset,
        })));
        self.expected.extend(items);
        self.expected.push(Item::KeyEnd);
    }

    /// The encoding a value is written with.
    pub fn encoding_of(&self, v: &Value) -> Encoding {
        match v {
            Value::Str(..) => Encoding::String,
            Value::List(enc, _) => match enc {
                ListEnc::Linked => Encoding::List,
                ListEnc::Ziplist => Encoding::ListZiplist,
                ListEnc::Quicklist { .. } => Encoding::ListQuicklist,
                ListEnc::Quicklist2 { .. } => Encoding::ListQuicklist2,
            },
            Value::Set(SetEnc::Hashtable, _) => Encoding::Set,
            Value::Set(SetEnc::Listpack, _) => Encoding::SetListpack,
            Value::Intset(..) => Encoding::SetIntset,
            Value::ZSet(enc, _) => match enc {
                ZSetEnc::Text => Encoding::ZSet,
                ZSetEnc::Binary => Encoding::ZSet2,
                ZSetEnc::Ziplist => Encoding::ZSetZiplist,
                ZSetEnc::Listpack => Encoding::ZSetListpack,
            },
            Value::Hash(enc, _) => match enc {
                HashEnc::Hashtable => Encoding::Hash,
                HashEnc::Zipmap => Encoding::HashZipmap,
                HashEnc::Ziplist => Encoding::HashZiplist,
                HashEnc::Listpack => Encoding::HashListpack,
                HashEnc::ListpackEx => Encoding::HashListpackEx,
                HashEnc::Metadata => Encoding::HashMetadata,
                HashEnc::ValkeyHash2 => Encoding::ValkeyHash2,
                HashEnc::MetadataPreGa => Encoding::HashMetadataPreGa,
                HashEnc::ListpackExPreGa => Encoding::HashListpackExPreGa,
            },
            Value::Stream(s) => match s.version {
                1 => Encoding::StreamListpacks,
                2 => Encoding::StreamListpacks2,
                _ => Encoding::StreamListpacks3,
            },
            Value::Module(..) => Encoding::Module2,
        }
    }

    /// Writes a value; pushes its element items; returns the header's `len` and module.
    fn value(&mut self, v: &Value, items: &mut Vec<Item>) -> (Option<u64>, Option<ModuleType>) {
        let b = |s: &[u8]| Bytes::copy_from_slice(s);
        let packed_len = |count: usize, per: usize| {
            let entries = count * per;
            (entries < 65535).then_some(count as u64)
        };
        match v {
            Value::Str(s, enc) => {
                self.string_as(s, *enc);
                items.push(Item::StringChunk(b(s)));
                (Some(s.len() as u64), None)
            }
            Value::List(enc, elems) => {
                items.extend(elems.iter().map(|e| Item::ListItem(b(e))));
                match *enc {
                    ListEnc::Linked => {
                        self.len_field(elems.len() as u64);
                        for e in elems {
                            self.string(e);
                        }
                        (Some(elems.len() as u64), None)
                    }
                    ListEnc::Ziplist => {
                        let zl = self.ziplist(elems.iter().map(Vec::as_slice));
                        self.string(&zl);
                        (packed_len(elems.len(), 1), None)
                    }
                    ListEnc::Quicklist { node_max } => {
                        let nodes = self.split_nodes(elems.len(), node_max);
                        self.len_field(nodes.len() as u64);
                        let mut at = 0;
                        for n in nodes {
                            let zl = self.ziplist(elems[at..at + n].iter().map(Vec::as_slice));
                            self.string(&zl);
                            at += n;
                        }
                        (None, None)
                    }
                    ListEnc::Quicklist2 {
                        node_max,
                        plain_over,
                    } => {
                        // Plain nodes for long elements (and a few at random), packed runs between.
                        let mut nodes: Vec<(bool, std::ops::Range<usize>)> = Vec::new();
                        let mut i = 0;
                        while i < elems.len() {
                            let plain = elems[i].len() > plain_over
                                || (self.mixed() && self.rng.chance(1, 10));
                            if plain {
                                nodes.push((true, i..i + 1));
                                i += 1;
                                continue;
                            }
                            let want = self.rng.range(1, node_max.max(1) as u64) as usize;
                            let mut end = i;
                            while end < elems.len()
                                && end - i < want
                                && elems[end].len() <= plain_over
                            {
                                end += 1;
                            }
                            nodes.push((false, i..end));
                            i = end;
                        }
                        self.len_field(nodes.len() as u64);
                        for (plain, r) in nodes {
                            if plain {
                                self.len_field(1);
                                self.string(&elems[r.start]);
                            } else {
                                self.len_field(2);
                                let lp = self.listpack(elems[r].iter().map(Vec::as_slice));
                                self.string(&lp);
                            }
                        }
                        (None, None)
                    }
                }
            }
            Value::Set(enc, members) => {
                items.extend(members.iter().map(|m| Item::SetMember(b(m))));
                match enc {
                    SetEnc::Hashtable => {
                        self.len_field(members.len() as u64);
                        for m in members {
                            self.string(m);
                        }
                        (Some(members.len() as u64), None)
                    }
                    SetEnc::Listpack => {
                        let lp = self.listpack(members.iter().map(Vec::as_slice));
                        self.string(&lp);
                        (packed_len(members.len(), 1), None)
                    }
                }
            }
            Value::Intset(width, members) => {
                let mut sorted = members.clone();
                sorted.sort_unstable();
                sorted.dedup();
                let width = (*width).max(intset_width(&sorted));
                let width = if matches!(width, 2 | 4 | 8) { width } else { 8 };
                let blob = intset_blob(width, &sorted);
                self.string(&blob);
                items.extend(
                    sorted
                        .iter()
                        .map(|v| Item::SetMember(Bytes::from(v.to_string()))),
                );
                (Some(sorted.len() as u64), None)
            }
            Value::ZSet(enc, entries) => {
                items.extend(entries.iter().map(|(m, s)| Item::ZSetEntry {
                    member: b(m),
                    score: *s,
                }));
                match enc {
                    ZSetEnc::Text => {
                        self.len_field(entries.len() as u64);
                        for (m, s) in entries {
                            self.string(m);
                            if s.is_nan() {
                                self.out.push(253);
                            } else if *s == f64::INFINITY {
                                self.out.push(254);
                            } else if *s == f64::NEG_INFINITY {
                                self.out.push(255);
                            } else {
                                let t = score_text(*s);
                                self.out.push(t.len() as u8);
                                self.out.extend_from_slice(t.as_bytes());
                            }
                        }
                        (Some(entries.len() as u64), None)
                    }
                    ZSetEnc::Binary => {
                        self.len_field(entries.len() as u64);
                        for (m, s) in entries {
                            self.string(m);
                            self.out.extend_from_slice(&s.to_le_bytes());
                        }
                        (Some(entries.len() as u64), None)
                    }
                    ZSetEnc::Ziplist | ZSetEnc::Listpack => {
                        let texts: Vec<Vec<u8>> = entries
                            .iter()
                            .flat_map(|(m, s)| [m.clone(), packed_score(*s).into_bytes()])
                            .collect();
                        let blob = if *enc == ZSetEnc::Ziplist {
                            self.ziplist(texts.iter().map(Vec::as_slice))
                        } else {
                            self.listpack(texts.iter().map(Vec::as_slice))
                        };
                        self.string(&blob);
                        (packed_len(entries.len(), 2), None)
                    }
                }
            }
            Value::Hash(enc, fields) => {
                // Listpack-ex hashes keep their fields ordered by TTL, TTL-less
                // fields last (Redis's load-time validation insists).
                let sorted;
                let fields = if matches!(enc, HashEnc::ListpackEx | HashEnc::ListpackExPreGa) {
                    let mut f = fields.clone();
                    f.sort_by_key(|f| (f.expire_at_ms.is_none(), f.expire_at_ms));
                    sorted = f;
                    &sorted
                } else {
                    fields
                };
                let keep_ttl = enc.has_ttls();
                items.extend(fields.iter().map(|f| Item::HashField {
                    field: b(&f.field),
                    value: b(&f.value),
                    expire_at_ms: if keep_ttl { f.expire_at_ms } else { None },
                }));
                let n = fields.len() as u64;
                let pairs = || fields.iter().flat_map(|f| [&f.field[..], &f.value[..]]);
                let min_ttl = fields.iter().filter_map(|f| f.expire_at_ms).min();
                match enc {
                    HashEnc::Hashtable => {
                        self.len_field(n);
                        for f in fields {
                            self.string(&f.field);
                            self.string(&f.value);
                        }
                        (Some(n), None)
                    }
                    HashEnc::Zipmap => {
                        let pairs: Vec<(Vec<u8>, Vec<u8>)> = fields
                            .iter()
                            .map(|f| (f.field.clone(), f.value.clone()))
                            .collect();
                        let free: Vec<u8> = (0..pairs.len())
                            .map(|_| {
                                if self.mixed() {
                                    self.rng.below(5) as u8
                                } else {
                                    0
                                }
                            })
                            .collect();
                        let blob = zipmap_blob(&pairs, &free);
                        self.string(&blob);
                        ((pairs.len() < 254).then_some(n), None)
                    }
                    HashEnc::Ziplist => {
                        let zl = self.ziplist(pairs());
                        self.string(&zl);
                        (packed_len(fields.len(), 2), None)
                    }
                    HashEnc::Listpack => {
                        let lp = self.listpack(pairs());
                        self.string(&lp);
                        (packed_len(fields.len(), 2), None)
                    }
                    HashEnc::ListpackEx | HashEnc::ListpackExPreGa => {
                        if *enc == HashEnc::ListpackEx {
                            self.out
                                .extend_from_slice(&min_ttl.unwrap_or(0).to_le_bytes());
                        }
                        let mut lp = ListpackBuilder::new();
                        for f in fields {
                            let r = self.rng_opt();
                            lp.push(&f.field, r);
                            let r = self.rng_opt();
                            lp.push(&f.value, r);
                            let r = self.rng_opt();
                            // Redis reads the TTL only from an integer entry.
                            lp.push_int_encoded(f.expire_at_ms.unwrap_or(0) as i64, r);
                        }
                        let lp = lp.finish();
                        self.string(&lp);
                        (packed_len(fields.len(), 3), None)
                    }
                    HashEnc::Metadata => {
                        let min = min_ttl.unwrap_or(0);
                        self.out.extend_from_slice(&min.to_le_bytes());
                        self.len_field(n);
                        for f in fields {
                            self.len_field(f.expire_at_ms.map_or(0, |t| t - min + 1));
                            self.string(&f.field);
                            self.string(&f.value);
                        }
                        (Some(n), None)
                    }
                    HashEnc::MetadataPreGa => {
                        self.len_field(n);
                        for f in fields {
                            self.len_field(f.expire_at_ms.unwrap_or(0));
                            self.string(&f.field);
                            self.string(&f.value);
                        }
                        (Some(n), None)
                    }
                    HashEnc::ValkeyHash2 => {
                        self.len_field(n);
                        for f in fields {
                            self.string(&f.field);
                            self.string(&f.value);
                            let t = f.expire_at_ms.map_or(-1, |t| t as i64);
                            self.out.extend_from_slice(&t.to_le_bytes());
                        }
                        (Some(n), None)
                    }
                }
            }
            Value::Stream(s) => {
                self.stream(s, items);
                (None, None)
            }
            Value::Module(id, ops) => {
                self.len_field(*id);
                let start = self.out.len();
                self.module_ops(ops);
                items.push(Item::ModuleChunk(Bytes::copy_from_slice(
                    &self.out[start..],
                )));
                (None, Some(ModuleType { id: *id }))
            }
        }
    }

    fn split_nodes(&mut self, n: usize, node_max: usize) -> Vec<usize> {
        let mut nodes = Vec::new();
        let mut left = n;
        while left > 0 {
            let take = (self.rng.range(1, node_max.max(1) as u64) as usize).min(left);
            nodes.push(take);
            left -= take;
        }
        nodes
    }

    fn stream_id_raw(&mut self, id: StreamId) {
        self.out.extend_from_slice(&id.ms.to_be_bytes());
        self.out.extend_from_slice(&id.seq.to_be_bytes());
    }

    fn stream(&mut self, s: &Stream, items: &mut Vec<Item>) {
        let b = |s: &[u8]| Bytes::copy_from_slice(s);
        self.len_field(s.nodes.len() as u64);
        for node in &s.nodes {
            let Some(first) = node.first() else {
                continue;
            };
            let master = first.id;
            let master_fields: Vec<&[u8]> = first.fields.iter().map(|(f, _)| &f[..]).collect();
            let mut lp = ListpackBuilder::new();
            let live = node.iter().filter(|r| !r.deleted).count() as i64;
            let deleted = node.len() as i64 - live;
            lp.push_int(live, self.rng_opt());
            lp.push_int(deleted, self.rng_opt());
            lp.push_int(master_fields.len() as i64, self.rng_opt());
            for f in &master_fields {
                let r = self.rng_opt();
                lp.push(f, r);
            }
            lp.push_int(0, self.rng_opt());
            for rec in node {
                let same = rec.fields.len() == master_fields.len()
                    && rec
                        .fields
                        .iter()
                        .zip(&master_fields)
                        .all(|((f, _), m)| &f[..] == *m);
                let flags = i64::from(rec.deleted) | if same { 2 } else { 0 };
                lp.push_int(flags, self.rng_opt());
                lp.push_int(rec.id.ms.wrapping_sub(master.ms) as i64, self.rng_opt());
                lp.push_int(rec.id.seq.wrapping_sub(master.seq) as i64, self.rng_opt());
                let n = rec.fields.len() as i64;
                if same {
                    for (_, v) in &rec.fields {
                        let r = self.rng_opt();
                        lp.push(v, r);
                    }
                    lp.push_int(n + 3, self.rng_opt());
                } else {
                    lp.push_int(n, self.rng_opt());
                    for (f, v) in &rec.fields {
                        let r = self.rng_opt();
                        lp.push(f, r);
                        let r = self.rng_opt();
                        lp.push(v, r);
                    }
                    lp.push_int(2 * n + 4, self.rng_opt());
                }
                if !rec.deleted {
                    items.push(Item::StreamEntry(StreamEntry {
                        id: rec.id,
                        fields: rec.fields.iter().map(|(f, v)| (b(f), b(v))).collect(),
                    }));
                }
            }
            let mut key = master.ms.to_be_bytes().to_vec();
            key.extend_from_slice(&master.seq.to_be_bytes());
            self.string(&key);
            let lp = lp.finish();
            self.string(&lp);
        }
        self.len_field(s.length);
        self.len_field(s.last_id.ms);
        self.len_field(s.last_id.seq);
        if s.version >= 2 {
            self.len_field(s.first_id.ms);
            self.len_field(s.first_id.seq);
            self.len_field(s.max_deleted_id.ms);
            self.len_field(s.max_deleted_id.seq);
            self.len_field(s.entries_added);
        }
        self.len_field(s.groups.len() as u64);
        let v1 = s.version < 2;
        items.push(Item::StreamMeta(StreamMeta {
            length: s.length,
            last_id: s.last_id,
            first_id: if v1 { StreamId::default() } else { s.first_id },
            max_deleted_id: if v1 {
                StreamId::default()
            } else {
                s.max_deleted_id
            },
            entries_added: if v1 { s.length } else { s.entries_added },
            group_count: s.groups.len() as u64,
        }));
        for g in &s.groups {
            self.string(&g.name);
            self.len_field(g.last_id.ms);
            self.len_field(g.last_id.seq);
            if !v1 {
                self.len_field(g.entries_read);
            }
            self.len_field(g.pel.len() as u64);
            items.push(Item::StreamGroup(StreamGroup {
                name: b(&g.name),
                last_id: g.last_id,
                entries_read: (!v1).then_some(g.entries_read),
                pel_len: g.pel.len() as u64,
            }));
            for nack in &g.pel {
                self.stream_id_raw(nack.id);
                self.out
                    .extend_from_slice(&nack.delivery_time_ms.to_le_bytes());
                self.len_field(nack.delivery_count);
                items.push(Item::StreamPending(*nack));
            }
            self.len_field(g.consumers.len() as u64);
            for c in &g.consumers {
                self.string(&c.name);
                self.out.extend_from_slice(&c.seen_time_ms.to_le_bytes());
                if s.version >= 3 {
                    self.out.extend_from_slice(&c.active_time_ms.to_le_bytes());
                }
                self.len_field(c.pel.len() as u64);
                items.push(Item::StreamConsumer(StreamConsumer {
                    name: b(&c.name),
                    seen_time_ms: c.seen_time_ms,
                    active_time_ms: (s.version >= 3).then_some(c.active_time_ms),
                    pel_len: c.pel.len() as u64,
                }));
                for id in &c.pel {
                    self.stream_id_raw(*id);
                    items.push(Item::StreamConsumerPending(*id));
                }
            }
        }
    }

    /// EOF and, for RDB 5+, the CRC64 trailer (or 0 when `checksum` is false).
    pub fn finish(mut self, checksum: bool) -> Written {
        self.out.push(OP_EOF);
        let stored = if self.magic == Magic::Valkey || self.version >= 5 {
            let crc = if checksum {
                ferry_rdb::crc64(&self.out)
            } else {
                0
            };
            self.out.extend_from_slice(&crc.to_le_bytes());
            Some(crc)
        } else {
            None
        };
        self.expected.push(Item::End { checksum: stored });
        Written {
            bytes: self.out,
            expected: self.expected,
            values: self.values,
        }
    }
}

/// A score as type-3 text (shortest text that reads back exactly).
pub fn score_text(s: f64) -> String {
    format!("{s:?}")
}

/// A score as stored in ziplist/listpack sorted sets: an integer when it is
/// one (so it is stored as a packed integer), else text.
pub fn packed_score(s: f64) -> String {
    if s.is_nan() {
        "nan".into()
    } else if s == f64::INFINITY {
        "inf".into()
    } else if s == f64::NEG_INFINITY {
        "-inf".into()
    } else if s.fract() == 0.0 && s.abs() < 9.0e15 && !(s == 0.0 && s.is_sign_negative()) {
        format!("{}", s as i64)
    } else {
        format!("{s:?}")
    }
}

// ---------------------------------------------------------------------------
// Comparing item sequences.

/// Merges consecutive string, module and raw chunks into one item each, so
/// sequences compare independently of chunk sizes.
pub fn normalize(items: &[Item]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        match (out.last_mut(), item) {
            (Some(Item::StringChunk(a)), Item::StringChunk(b)) => {
                let mut v = a.to_vec();
                v.extend_from_slice(b);
                *a = Bytes::from(v);
            }
            (Some(Item::ModuleChunk(a)), Item::ModuleChunk(b)) => {
                let mut v = a.to_vec();
                v.extend_from_slice(b);
                *a = Bytes::from(v);
            }
            (Some(Item::Raw(a)), Item::Raw(b)) => {
                let mut v = a.to_vec();
                v.extend_from_slice(b);
                *a = Bytes::from(v);
            }
            _ => out.push(item.clone()),
        }
    }
    out
}

/// Item equality where NaN scores equal each other (by their debug text).
pub fn same_item(a: &Item, b: &Item) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// Finds the first difference between two item sequences, described.
pub fn first_difference(got: &[Item], want: &[Item]) -> Option<String> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if !same_item(g, w) {
            return Some(format!(
                "item {i} differs:\n  got:  {}\n  want: {}",
                short(g),
                short(w)
            ));
        }
    }
    if got.len() != want.len() {
        let i = got.len().min(want.len());
        return Some(format!(
            "lengths differ: got {} items, want {}; first extra: {}",
            got.len(),
            want.len(),
            got.get(i).or(want.get(i)).map_or(String::new(), short)
        ));
    }
    None
}

/// Debug text of an item, cut to a readable length.
pub fn short(item: &Item) -> String {
    let s = format!("{item:?}");
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}... ({} chars)", &s[..cut], s.len())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// Random values for tests and benchmarks.

/// A short random field value: bytes, integer text, or a word.
pub fn gen_small(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let len = rng.below(12) as usize;
            rng.bytes(len)
        }
        1 => (rng.next_u64() as i64 >> rng.below(64))
            .to_string()
            .into_bytes(),
        2 => rng.below(200).to_string().into_bytes(),
        _ => {
            let words: [&[u8]; 6] = [b"alpha", b"beta", b"gamma", b"-1", b"007", b""];
            rng.pick(&words).to_vec()
        }
    }
}

/// A random stream of the given version (1, 2 or 3) with up to `max_entries`
/// entries (some deleted), split into nodes, with consumer groups.
pub fn gen_stream(rng: &mut Rng, version: u8, max_entries: usize) -> Stream {
    let n = rng.below(max_entries as u64 + 1) as usize;
    let field_sets: [&[&[u8]]; 4] = [
        &[b"name", b"value"],
        &[b"a"],
        &[b"x", b"y", b"z"],
        &[b"1", b"-5", b"field"],
    ];
    let mut id = StreamId {
        ms: rng.range(0, 1 << 45),
        seq: rng.below(3),
    };
    let mut set = rng.below(4) as usize;
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 {
            if rng.chance(1, 2) {
                id.seq += 1 + rng.below(3);
            } else {
                id.ms += 1 + rng.below(1000);
                id.seq = rng.below(5);
            }
        }
        if rng.chance(1, 4) {
            set = rng.below(4) as usize;
        }
        let fields = field_sets[set]
            .iter()
            .map(|f| (f.to_vec(), gen_small(rng)))
            .collect();
        records.push(StreamRecord {
            id,
            fields,
            deleted: rng.chance(1, 5),
        });
    }
    let node_max = rng.range(1, 5) as usize;
    let mut nodes = Vec::new();
    let mut rest = records.as_slice();
    while !rest.is_empty() {
        let take = (rng.range(1, node_max as u64) as usize).min(rest.len());
        nodes.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    let live: Vec<StreamId> = records
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| r.id)
        .collect();
    let mut last_id = records.last().map_or(StreamId::default(), |r| r.id);
    if rng.chance(1, 4) {
        last_id.seq += rng.below(10);
    }
    let first_id = live.first().copied().unwrap_or_default();
    let max_deleted_id = records
        .iter()
        .filter(|r| r.deleted)
        .map(|r| r.id)
        .next_back()
        .unwrap_or_default();
    let mut groups = Vec::new();
    for g in 0..rng.below(3) {
        let mut pel: Vec<StreamNack> = Vec::new();
        for id in &live {
            if rng.chance(1, 2) {
                pel.push(StreamNack {
                    id: *id,
                    delivery_time_ms: rng.range(0, 1 << 42),
                    delivery_count: rng.below(5),
                });
            }
        }
        let mut consumers: Vec<Consumer> = (0..rng.below(3))
            .map(|c| Consumer {
                name: format!("consumer-{c}").into_bytes(),
                seen_time_ms: rng.range(0, 1 << 42),
                active_time_ms: rng.range(0, 1 << 42),
                pel: Vec::new(),
            })
            .collect();
        if !consumers.is_empty() {
            for nack in &pel {
                let c = rng.below(consumers.len() as u64) as usize;
                consumers[c].pel.push(nack.id);
            }
        } else {
            pel.clear();
        }
        groups.push(Group {
            name: format!("group-{g}").into_bytes(),
            last_id: live.last().copied().unwrap_or_default(),
            entries_read: rng.below(n as u64 + 1),
            pel,
            consumers,
        });
    }
    Stream {
        version,
        nodes,
        length: live.len() as u64,
        last_id,
        first_id,
        max_deleted_id,
        entries_added: n as u64 + rng.below(3),
        groups,
    }
}
