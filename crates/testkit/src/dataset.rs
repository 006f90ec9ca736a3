//! A varied dataset to fill a server with, and a plain-Rust snapshot of a server's keys.
//!
//! [`fill_varied`] writes every type and encoding a Redis 7.x server can
//! produce (int/embstr/raw/LZF strings, listpack/quicklist/compressed/plain
//! lists, intset/listpack/hashtable sets, listpack/skiplist sorted sets,
//! listpack/hashtable hashes, streams with consumer groups), some with TTLs,
//! across databases 0, 1 and 2. [`snapshot`] reads every key back, so a test
//! can compare what a decoder made of a dump file (or what a migration wrote
//! to a target) with the server, using [`Snapshot::diff`].

use crate::client::{Client, Reply};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

/// Databases [`fill_varied`] writes to: `0..FILL_DBS`.
pub const FILL_DBS: u64 = 3;

/// Expire times [`fill_varied`] sets lie after this instant (2100-01-01T00:00:00Z, Unix ms).
pub const FAR_FUTURE_MS: i64 = 4_102_444_800_000;

/// Replies read at once when pipelining the fill.
const PIPELINE_DEPTH: usize = 256;

/// A small deterministic PRNG (SplitMix64): same seed, same sequence, everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.wrapping_sub(lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// `len` random bytes (any value, including `\0`, `\r`, `\n`, `0xff`).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// `len` random lowercase letters and digits.
    pub fn alnum(&mut self, len: usize) -> Vec<u8> {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }

    /// `len` bytes of made-up words: LZF compresses this well.
    pub fn words(&mut self, len: usize) -> Vec<u8> {
        const WORDS: &[&[u8]] = &[
            b"ferry ", b"redis ", b"stream ", b"river ", b"boat ", b"dock ", b"harbor ", b"cargo ",
            b"tide ", b"rope ", b"sail ", b"wave ", b"pier ", b"crew ", b"deck ", b"mast ",
        ];
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(WORDS[self.below(WORDS.len() as u64) as usize]);
        }
        out.truncate(len);
        out
    }
}

/// Pipelines commands, checking every reply.
struct Batch<'a> {
    client: &'a mut Client,
    sent: VecDeque<String>,
}

impl<'a> Batch<'a> {
    fn new(client: &'a mut Client) -> Batch<'a> {
        Batch {
            client,
            sent: VecDeque::new(),
        }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.client.send(args)?;
        let what = args
            .iter()
            .take(2)
            .map(|a| show(a))
            .collect::<Vec<_>>()
            .join(" ");
        self.sent.push_back(what);
        if self.sent.len() >= PIPELINE_DEPTH {
            self.drain()?;
        }
        Ok(())
    }

    /// Queues a command given as whitespace-separated words.
    fn line(&mut self, text: &str) -> io::Result<()> {
        let words: Vec<&[u8]> = text.split_whitespace().map(str::as_bytes).collect();
        self.cmd(&words)
    }

    /// Reads every outstanding reply; the first server error becomes an `Err`.
    fn drain(&mut self) -> io::Result<()> {
        let mut first_err = None;
        while let Some(what) = self.sent.pop_front() {
            if let Reply::Error(e) = self.client.recv()? {
                first_err.get_or_insert_with(|| io::Error::other(format!("{what}: {e}")));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Runs one command now and returns its reply (errors as `Ok(Reply::Error)`).
    fn now(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.drain()?;
        self.client.cmd(args)
    }
}

/// Builds a `&[&[u8]]` from anything `AsRef<[u8]>` (`"SET"`, `b"k"`, `Vec<u8>`, `String`).
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$(AsRef::<[u8]>::as_ref(&$x)),*][..]
    };
}

/// Fills the server behind `client` with a varied dataset, the same for the same `seed`.
///
/// Writes to databases `0..FILL_DBS` (and leaves database 0 selected):
///
/// - strings: every integer width (and look-alikes that are not integers),
///   short, raw (incompressible), LZF-compressible, 2 MB compressible and
///   300 KB incompressible values, the empty string, binary keys and values
///   with `\0`, `\r\n` and `0xff`, integer-looking key names, the empty key name;
/// - lists: small listpack, listpack integers and strings of every width, a
///   quicklist of many nodes, a compressed quicklist (`list-compress-depth 1`
///   while it is built), and one with plain nodes (elements over 8 KB, via
///   `DEBUG QUICKLIST-PACKED-THRESHOLD` when the server allows DEBUG; otherwise
///   the same data in packed nodes);
/// - sets: 16/32/64-bit intsets, a small set of strings (listpack on 7.2+,
///   hashtable on 7.0), big hashtables of strings and of integers;
/// - sorted sets: listpack and skiplist (by size and by member length) with
///   `inf`, `-inf`, fractional, negative, huge and tiny scores;
/// - hashes: listpack, hashtable by size and by value length;
/// - streams: many nodes with same-fields and different-fields entries, a
///   deleted entry, two consumer groups, pending entries for several consumers,
///   acked entries, a consumer without pending entries, an all-trimmed stream,
///   and an empty stream created with `MKSTREAM`;
/// - `PEXPIREAT` after [`FAR_FUTURE_MS`] on some keys of every type, and
///   smaller random keys of every type in databases 1 and 2.
///
/// Stream delivery and seen times are the server's clock (some are fixed with
/// `XCLAIM ... TIME`); everything else depends on `seed` only.
///
/// # Errors
/// On I/O errors or when the server rejects a command.
pub fn fill_varied(client: &mut Client, seed: u64) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut b = Batch::new(client);
    b.now(args!["SELECT", "0"])?.into_result()?;
    fill_strings(&mut b, &mut rng)?;
    fill_lists(&mut b, &mut rng)?;
    fill_sets(&mut b, &mut rng)?;
    fill_zsets(&mut b, &mut rng)?;
    fill_hashes(&mut b, &mut rng)?;
    fill_streams(&mut b, &mut rng)?;
    for db in 1..FILL_DBS {
        b.now(args!["SELECT", db.to_string()])?.into_result()?;
        fill_random_keys(&mut b, &mut rng, db, 60)?;
    }
    b.now(args!["SET", "", "the empty key name"])?
        .into_result()?;
    b.now(args!["SELECT", "0"])?.into_result()?;
    b.drain()
}

fn expire_far(b: &mut Batch<'_>, rng: &mut Rng, key: &[u8]) -> io::Result<()> {
    let at = FAR_FUTURE_MS + rng.range(0, 1_000_000_000_000);
    b.cmd(args!["PEXPIREAT", key, at.to_string()])
}

fn fill_strings(b: &mut Batch<'_>, rng: &mut Rng) -> io::Result<()> {
    let ints: &[&str] = &[
        "0",
        "1",
        "-1",
        "127",
        "128",
        "-128",
        "-129",
        "255",
        "32767",
        "-32768",
        "65535",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "12345678901",
        // Integer look-alikes that must stay strings.
        "007",
        "-0",
        "+1",
        " 1",
        "1e3",
        "9223372036854775808",
    ];
    for (i, v) in ints.iter().enumerate() {
        b.cmd(args!["SET", format!("str:int:{i}"), v])?;
    }
    for i in 0..20 {
        let len = rng.below(40) as usize + 1;
        b.cmd(args!["SET", format!("str:short:{i}"), rng.alnum(len)])?;
    }
    b.cmd(args!["SET", "str:raw", rng.bytes(60)])?;
    b.cmd(args!["SET", "str:lzf", rng.words(10_000)])?;
    b.cmd(args!["SET", "str:big", rng.words(2 * 1024 * 1024)])?;
    b.cmd(args!["SET", "str:big:random", rng.bytes(300 * 1024)])?;
    b.cmd(args!["SET", "str:empty", ""])?;
    let mut binary = b"\0\r\n\xff\xfe".to_vec();
    binary.extend(rng.bytes(100));
    b.cmd(args!["SET", b"bin:\0key\r\n\xff", binary])?;
    b.cmd(args!["SET", b"\xff\xff\0", b"\r\n"])?;
    // Stored as integer-encoded strings in the file.
    for key in ["12345", "-1", "2147483647", "4294967296", "0"] {
        let value = format!("key {key} looks like an integer");
        b.cmd(args!["SET", key, value])?;
    }
    for i in 0..10 {
        let key = format!("str:ttl:{i}");
        let len = rng.below(200) as usize;
        b.cmd(args!["SET", key, rng.words(len)])?;
        expire_far(b, rng, key.as_bytes())?;
    }
    expire_far(b, rng, b"str:lzf")?;
    expire_far(b, rng, b"str:int:3")?;
    Ok(())
}

/// Integers at the edges of every listpack/ziplist integer width.
fn edge_ints() -> Vec<i64> {
    vec![
        0,
        1,
        12,
        13,
        127,
        128,
        -1,
        -128,
        -129,
        4095,
        -4096,
        4096,
        32767,
        -32768,
        32768,
        8_388_607,
        -8_388_608,
        8_388_608,
        2_147_483_647,
        -2_147_483_648,
        2_147_483_648,
        i64::MAX,
        i64::MIN,
    ]
}

fn fill_lists(b: &mut Batch<'_>, rng: &mut Rng) -> io::Result<()> {
    let small: [&str; 7] = ["a", "1", "", "-7", "hello world", "3.14", "a"];
    for item in small {
        b.cmd(args!["RPUSH", "list:small", item])?;
    }
    expire_far(b, rng, b"list:small")?;

    for v in edge_ints() {
        b.cmd(args!["RPUSH", "list:ints", v.to_string()])?;
    }
    for len in [0usize, 1, 63, 64, 4095, 4096, 5000] {
        b.cmd(args!["RPUSH", "list:ints", rng.alnum(len)])?;
    }

    for i in 0..20_000u64 {
        let item = match rng.below(4) {
            0 => rng.range(-1_000_000, 1_000_000).to_string().into_bytes(),
            1 => {
                let len = rng.below(30) as usize;
                rng.alnum(len)
            }
            2 => {
                let len = rng.below(100) as usize;
                rng.bytes(len)
            }
            _ => format!("item-{i}").into_bytes(),
        };
        b.cmd(args!["RPUSH", "list:big", item])?;
    }
    b.cmd(args!["LPUSH", "list:big", "pushed-left"])?;

    b.now(args!["CONFIG", "SET", "list-compress-depth", "1"])?
        .into_result()?;
    for _ in 0..3_000 {
        let len = rng.below(40) as usize + 10;
        b.cmd(args!["RPUSH", "list:compressed", rng.words(len)])?;
    }
    b.now(args!["CONFIG", "SET", "list-compress-depth", "0"])?
        .into_result()?;

    // Elements over the threshold go to plain nodes (Redis 7.0+, needs DEBUG).
    let debug = b.now(args!["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "8192"])?;
    let plain = [
        b"small-before".to_vec(),
        rng.words(20_000),
        rng.alnum(10),
        rng.bytes(9_000),
        b"small-after".to_vec(),
    ];
    for item in &plain {
        b.cmd(args!["RPUSH", "list:plain", item])?;
    }
    if !debug.is_error() {
        b.now(args!["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"])?
            .into_result()?;
    }
    Ok(())
}

fn fill_sets(b: &mut Batch<'_>, rng: &mut Rng) -> io::Result<()> {
    for _ in 0..100 {
        b.cmd(args![
            "SADD",
            "set:intset16",
            rng.range(-30_000, 30_000).to_string()
        ])?;
    }
    for _ in 0..100 {
        let v = rng.range(-2_000_000_000, 2_000_000_000);
        b.cmd(args!["SADD", "set:intset32", v.to_string()])?;
    }
    b.cmd(args!["SADD", "set:intset32", "70000"])?;
    for v in edge_ints() {
        b.cmd(args!["SADD", "set:intset64", v.to_string()])?;
    }
    for _ in 0..20 {
        let len = rng.below(20) as usize + 1;
        b.cmd(args!["SADD", "set:small", rng.alnum(len)])?;
    }
    b.cmd(args!["SADD", "set:small", "", "42", b"\0\xff".as_slice()])?;
    expire_far(b, rng, b"set:small")?;
    for i in 0..2_000 {
        b.cmd(args![
            "SADD",
            "set:big",
            format!("member-{i}-"),
            rng.alnum(8)
        ])?;
    }
    for _ in 0..1_000 {
        b.cmd(args!["SADD", "set:bigints", rng.next_u64().to_string()])?;
    }
    b.cmd(args!["SADD", "set:long", rng.words(300), "short"])?;
    Ok(())
}

fn fill_zsets(b: &mut Batch<'_>, rng: &mut Rng) -> io::Result<()> {
    let scores: &[&str] = &[
        "inf",
        "-inf",
        "0",
        "-0",
        "1.5",
        "-2.25",
        "3.141592653589793",
        "1e-300",
        "-1e300",
        "12345678901234567890",
        "42",
        "-7",
        "0.1",
        "9007199254740993",
    ];
    for (i, s) in scores.iter().enumerate() {
        b.cmd(args!["ZADD", "zset:small", s, format!("m{i}")])?;
    }
    b.cmd(args![
        "ZADD",
        "zset:small",
        "5",
        "",
        "5",
        "12",
        "5",
        "same-score"
    ])?;
    expire_far(b, rng, b"zset:small")?;
    for (i, s) in scores.iter().enumerate() {
        b.cmd(args!["ZADD", "zset:big", s, format!("edge{i}")])?;
    }
    for i in 0..500 {
        let score = match rng.below(3) {
            0 => rng.range(-1000, 1000).to_string(),
            1 => format!("{}", (rng.next_u64() as f64 / u64::MAX as f64 - 0.5) * 1e6),
            _ => format!("{}.{}", rng.range(-50, 50), rng.below(1000)),
        };
        b.cmd(args!["ZADD", "zset:big", score, format!("member:{i}")])?;
    }
    b.cmd(args![
        "ZADD",
        "zset:longmember",
        "1",
        rng.alnum(100),
        "2",
        "b",
        "-inf",
        "c"
    ])?;
    expire_far(b, rng, b"zset:longmember")?;
    Ok(())
}

fn fill_hashes(b: &mut Batch<'_>, rng: &mut Rng) -> io::Result<()> {
    b.cmd(args![
        "HSET",
        "hash:small",
        "name",
        "ferry",
        "count",
        "12",
        "neg",
        "-9223372036854775808",
        "",
        "empty field",
        "empty value",
        "",
        b"bin\0\xff".as_slice(),
        b"\r\n".as_slice()
    ])?;
    for v in edge_ints() {
        b.cmd(args![
            "HSET",
            "hash:small",
            format!("int:{v}"),
            v.to_string()
        ])?;
    }
    expire_far(b, rng, b"hash:small")?;
    for i in 0..1_000 {
        let len = rng.below(30) as usize;
        b.cmd(args![
            "HSET",
            "hash:big",
            format!("field:{i}"),
            rng.alnum(len)
        ])?;
    }
    b.cmd(args![
        "HSET",
        "hash:longvalue",
        "a",
        "1",
        "long",
        rng.words(200),
        "b",
        rng.bytes(10)
    ])?;
    expire_far(b, rng, b"hash:longvalue")?;
    Ok(())
}

fn fill_streams(b: &mut Batch<'_>, rng: &mut Rng) -> io::Result<()> {
    let key = "stream:main";
    let mut ms = 1_600_000_000_000 + rng.below(1_000_000);
    let mut seq = 0;
    let mut ids = Vec::new();
    for i in 0..250u64 {
        if rng.chance(60) {
            ms += rng.below(1000) + 1;
            seq = rng.below(3);
        } else {
            seq += 1;
        }
        let id = format!("{ms}-{seq}");
        let value = rng.range(-100_000, 100_000);
        match i % 7 {
            // Different fields from the node's master entry.
            3 => {
                let note = String::from_utf8_lossy(&rng.alnum(12)).into_owned();
                b.line(&format!(
                    "XADD {key} {id} sensor s1 value {value} note {note}"
                ))?
            }
            5 => b.cmd(args!["XADD", key, &id, "other", rng.words(30)])?,
            6 if i % 2 == 0 => b.cmd(args!["XADD", key, &id, "sensor", "", "value", ""])?,
            // The master entry's fields: stored with the SAMEFIELDS flag.
            _ => b.line(&format!("XADD {key} {id} sensor s{} value {value}", i % 3))?,
        }
        ids.push(id);
    }
    let wide = format!("{}-0", ms + 1);
    let f4 = rng.bytes(50);
    b.cmd(args![
        "XADD", key, wide, "wide", "1", "f2", "2", "f3", "3", "f4", f4
    ])?;
    b.line(&format!("XDEL {key} {}", ids[10]))?;

    b.line(&format!("XGROUP CREATE {key} g1 0"))?;
    b.line(&format!(
        "XREADGROUP GROUP g1 alice COUNT 5 STREAMS {key} >"
    ))?;
    b.line(&format!("XREADGROUP GROUP g1 bob COUNT 3 STREAMS {key} >"))?;
    // alice has ids[0..5] pending, bob ids[5..8]: ack two of alice's, move one to bob.
    b.line(&format!("XACK {key} g1 {} {}", ids[0], ids[2]))?;
    b.line(&format!(
        "XCLAIM {key} g1 bob 0 {} TIME 1700000000000 RETRYCOUNT 5",
        ids[3]
    ))?;
    // Pending for bob, then deleted: the PEL still holds it.
    b.line(&format!("XDEL {key} {}", ids[6]))?;
    // Created at an arbitrary id: the group's entries-read is unknown.
    b.line(&format!("XGROUP CREATE {key} g2 {}", ids[200]))?;
    b.line(&format!(
        "XREADGROUP GROUP g2 carol COUNT 4 STREAMS {key} >"
    ))?;
    b.line(&format!("XGROUP CREATECONSUMER {key} g2 dave"))?;
    expire_far(b, rng, key.as_bytes())?;

    b.line("XADD stream:trimmed 1-1 a 1")?;
    b.line("XADD stream:trimmed 2-1 b 2")?;
    b.line("XADD stream:trimmed 3-1 c 3")?;
    b.line("XGROUP CREATE stream:trimmed idle 0")?;
    b.line("XTRIM stream:trimmed MAXLEN 0")?;

    b.line("XGROUP CREATE stream:new g $ MKSTREAM")?;
    Ok(())
}

/// `count` small keys of random types, a third of them with a TTL.
fn fill_random_keys(b: &mut Batch<'_>, rng: &mut Rng, db: u64, count: u64) -> io::Result<()> {
    for i in 0..count {
        let key = format!("db{db}:k{i}");
        match rng.below(6) {
            0 => {
                let len = rng.below(100) as usize;
                b.cmd(args!["SET", key, rng.bytes(len)])?;
            }
            1 => {
                for _ in 0..rng.below(20) + 1 {
                    b.cmd(args!["RPUSH", key, rng.alnum(5)])?;
                }
            }
            2 => {
                for _ in 0..rng.below(20) + 1 {
                    b.cmd(args!["SADD", key, rng.range(-100, 1000).to_string()])?;
                }
            }
            3 => {
                for _ in 0..rng.below(20) + 1 {
                    let score = rng.range(-100, 100).to_string();
                    b.cmd(args!["ZADD", key, score, rng.alnum(4)])?;
                }
            }
            4 => {
                for _ in 0..rng.below(20) + 1 {
                    b.cmd(args!["HSET", key, rng.alnum(3), rng.alnum(6)])?;
                }
            }
            _ => {
                for n in 0..rng.below(5) + 1 {
                    let id = format!("{}-{n}", 1_700_000_000_000 + i);
                    b.cmd(args!["XADD", key, id, "f", rng.alnum(6)])?;
                }
            }
        }
        if rng.chance(33) {
            expire_far(b, rng, key.as_bytes())?;
        }
    }
    Ok(())
}

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// Parses `ms-seq`.
    pub fn parse(text: &[u8]) -> Option<StreamId> {
        let text = std::str::from_utf8(text).ok()?;
        let (ms, seq) = text.split_once('-')?;
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Entry id.
    pub id: StreamId,
    /// Field/value pairs in order.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// An entry of a group's pending entries list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Entry id.
    pub id: StreamId,
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
    /// Last delivery, Unix ms.
    pub delivery_time_ms: u64,
    /// Deliveries so far.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Name.
    pub name: Vec<u8>,
    /// Seen time, Unix ms.
    pub seen_time_ms: u64,
    /// Active time, Unix ms (Redis 7.2+); `None` for a consumer that was
    /// never active (`-1`) and on older servers.
    pub active_time_ms: Option<u64>,
    /// Ids it owns, ascending.
    pub pending: Vec<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Name.
    pub name: Vec<u8>,
    /// Last delivered id.
    pub last_delivered_id: StreamId,
    /// Entries read counter, `None` when the server does not know it.
    pub entries_read: Option<u64>,
    /// Pending entries, ascending by id.
    pub pending: Vec<Pending>,
    /// Consumers, ascending by name.
    pub consumers: Vec<Consumer>,
}

/// A stream with its metadata and groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stream {
    /// Live entries, ascending by id.
    pub entries: Vec<StreamEntry>,
    /// XLEN.
    pub length: u64,
    /// Last generated id.
    pub last_id: StreamId,
    /// Recorded first entry id (Redis 7.0+).
    pub first_id: Option<StreamId>,
    /// Maximal deleted entry id (Redis 7.0+).
    pub max_deleted_id: Option<StreamId>,
    /// Entries ever added (Redis 7.0+).
    pub entries_added: Option<u64>,
    /// Groups, ascending by name.
    pub groups: Vec<Group>,
}

impl Stream {
    /// Sorts groups, consumers and pending lists into the documented order.
    pub fn normalize(&mut self) {
        self.entries.sort_by_key(|e| e.id);
        self.groups.sort_by(|a, b| a.name.cmp(&b.name));
        for g in &mut self.groups {
            g.pending.sort_by_key(|p| p.id);
            g.consumers.sort_by(|a, b| a.name.cmp(&b.name));
            for c in &mut g.consumers {
                c.pending.sort();
            }
        }
    }
}

/// A value, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    String(Vec<u8>),
    /// A list, in order.
    List(Vec<Vec<u8>>),
    /// A set.
    Set(BTreeSet<Vec<u8>>),
    /// A sorted set: member → score.
    ZSet(BTreeMap<Vec<u8>, f64>),
    /// A hash.
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// A stream.
    Stream(Stream),
}

impl Value {
    /// The name `TYPE` uses.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }
}

/// A key's value and expire time.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expire time, Unix ms.
    pub expire_at_ms: Option<i64>,
    /// For a hash, the fields with their own expire time (Redis 7.4+, Valkey
    /// 9+): field → absolute Unix ms. Empty otherwise.
    pub field_expire_at_ms: BTreeMap<Vec<u8>, i64>,
    /// `OBJECT ENCODING` when read from a server (`listpack`, `quicklist` ...);
    /// ignored by [`Snapshot::diff`].
    pub encoding: Option<String>,
}

/// Every key of every database: `(db, key)` → entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The keys.
    pub keys: BTreeMap<(u64, Vec<u8>), Entry>,
}

/// Differences listed by [`Snapshot::diff`] at most.
const MAX_DIFFS: usize = 50;

impl Snapshot {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The entry of `key` in `db`.
    pub fn get(&self, db: u64, key: &[u8]) -> Option<&Entry> {
        self.keys.get(&(db, key.to_vec()))
    }

    /// Stream delivery and seen times zeroed, active times cleared: they come
    /// from the server's clock, so two fills with the same seed differ only
    /// there (and a consumer made by `XGROUP CREATECONSUMER` was never active).
    pub fn without_times(mut self) -> Snapshot {
        for entry in self.keys.values_mut() {
            if let Value::Stream(s) = &mut entry.value {
                for g in &mut s.groups {
                    for p in &mut g.pending {
                        p.delivery_time_ms = 0;
                    }
                    for c in &mut g.consumers {
                        c.seen_time_ms = 0;
                        c.active_time_ms = None;
                    }
                }
            }
        }
        self
    }

    /// Human-readable differences, `self` as expected and `other` as got
    /// (empty when equal). Expire times may differ by `ttl_tolerance_ms`.
    /// Lists at most 50 differences.
    pub fn diff(&self, other: &Snapshot, ttl_tolerance_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        for ((db, key), want) in &self.keys {
            if out.len() >= MAX_DIFFS {
                break;
            }
            let name = format!("db{db} {}", show(key));
            let Some(got) = other.keys.get(&(*db, key.clone())) else {
                out.push(format!("{name}: missing ({})", want.value.kind()));
                continue;
            };
            if !same_time(want.expire_at_ms, got.expire_at_ms, ttl_tolerance_ms) {
                out.push(format!(
                    "{name}: expire_at_ms {:?}, got {:?}",
                    want.expire_at_ms, got.expire_at_ms
                ));
            }
            diff_value(&name, &want.value, &got.value, &mut out);
            diff_field_times(&name, want, got, ttl_tolerance_ms, &mut out);
        }
        for (db, key) in other.keys.keys() {
            if out.len() >= MAX_DIFFS {
                break;
            }
            if !self.keys.contains_key(&(*db, key.clone())) {
                out.push(format!("db{db} {}: unexpected key", show(key)));
            }
        }
        out.truncate(MAX_DIFFS);
        out
    }
}

/// Two optional expire times that agree within `tolerance_ms`.
fn same_time(a: Option<i64>, b: Option<i64>, tolerance_ms: i64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tolerance_ms,
        (a, b) => a == b,
    }
}

/// Hash field expire times that differ, at most three per key.
fn diff_field_times(
    name: &str,
    want: &Entry,
    got: &Entry,
    tolerance_ms: i64,
    out: &mut Vec<String>,
) {
    let fields: BTreeSet<&Vec<u8>> = want
        .field_expire_at_ms
        .keys()
        .chain(got.field_expire_at_ms.keys())
        .collect();
    let differing = fields.into_iter().filter_map(|field| {
        let a = want.field_expire_at_ms.get(field).copied();
        let b = got.field_expire_at_ms.get(field).copied();
        (!same_time(a, b, tolerance_ms)).then_some((field, a, b))
    });
    for (field, a, b) in differing.take(3) {
        out.push(format!(
            "{name}: field {} expire_at_ms {a:?}, got {b:?}",
            show(field)
        ));
    }
}

fn diff_value(name: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    if want == got {
        return;
    }
    match (want, got) {
        (Value::String(a), Value::String(b)) => out.push(format!(
            "{name}: string of {} bytes {}, got {} bytes {}{}",
            a.len(),
            show(a),
            b.len(),
            show(b),
            first_difference(a, b)
        )),
        (Value::List(a), Value::List(b)) => {
            let at = a.iter().zip(b).position(|(x, y)| x != y);
            out.push(match at {
                Some(i) => format!(
                    "{name}: list item {i} is {}, got {}",
                    show(&a[i]),
                    show(&b[i])
                ),
                None => format!("{name}: list of {} items, got {}", a.len(), b.len()),
            });
        }
        (Value::Set(a), Value::Set(b)) => out.push(format!(
            "{name}: set of {}, got {}; missing {:?}, unexpected {:?}",
            a.len(),
            b.len(),
            a.difference(b).take(3).map(|m| show(m)).collect::<Vec<_>>(),
            b.difference(a).take(3).map(|m| show(m)).collect::<Vec<_>>()
        )),
        (Value::ZSet(a), Value::ZSet(b)) => {
            let mut shown = 0;
            for (m, s) in a {
                match b.get(m) {
                    Some(t) if t == s => {}
                    t if shown < 3 => {
                        shown += 1;
                        out.push(format!("{name}: member {} score {s}, got {t:?}", show(m)));
                    }
                    _ => {}
                }
            }
            if a.len() != b.len() {
                out.push(format!("{name}: zset of {}, got {}", a.len(), b.len()));
            }
        }
        (Value::Hash(a), Value::Hash(b)) => {
            let mut shown = 0;
            for (f, v) in a {
                match b.get(f) {
                    Some(w) if w == v => {}
                    w if shown < 3 => {
                        shown += 1;
                        out.push(format!(
                            "{name}: field {} is {}, got {}",
                            show(f),
                            show(v),
                            w.map_or("nothing".into(), |w| show(w))
                        ));
                    }
                    _ => {}
                }
            }
            if a.len() != b.len() {
                out.push(format!("{name}: hash of {}, got {}", a.len(), b.len()));
            }
        }
        (Value::Stream(a), Value::Stream(b)) => diff_stream(name, a, b, out),
        (a, b) => out.push(format!("{name}: type {}, got {}", a.kind(), b.kind())),
    }
}

fn diff_stream(name: &str, a: &Stream, b: &Stream, out: &mut Vec<String>) {
    let meta = |s: &Stream| {
        (
            s.length,
            s.last_id,
            s.first_id,
            s.max_deleted_id,
            s.entries_added,
        )
    };
    if meta(a) != meta(b) {
        out.push(format!(
            "{name}: stream (length, last, first, max deleted, added) {:?}, got {:?}",
            meta(a),
            meta(b)
        ));
    }
    if a.entries != b.entries {
        let at = a.entries.iter().zip(&b.entries).position(|(x, y)| x != y);
        out.push(match at {
            Some(i) => format!(
                "{name}: entry {i} is {:?}, got {:?}",
                a.entries[i], b.entries[i]
            ),
            None => format!(
                "{name}: {} entries, got {}",
                a.entries.len(),
                b.entries.len()
            ),
        });
    }
    if a.groups.len() != b.groups.len() {
        out.push(format!(
            "{name}: {} groups, got {}",
            a.groups.len(),
            b.groups.len()
        ));
    }
    for (g, h) in a.groups.iter().zip(&b.groups) {
        if g != h {
            out.push(format!("{name}: group {:?}, got {:?}", g, h));
        }
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!(" (first difference at byte {i})"),
        None => String::new(),
    }
}

/// Escaped, shortened bytes for messages.
fn show(bytes: &[u8]) -> String {
    const MAX_SHOWN_BYTES: usize = 48;
    let shown: String = bytes
        .iter()
        .take(MAX_SHOWN_BYTES)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    if bytes.len() > MAX_SHOWN_BYTES {
        format!("\"{shown}\"...")
    } else {
        format!("\"{shown}\"")
    }
}

fn bad(what: &str, reply: &Reply) -> io::Error {
    let mut text = format!("{reply:?}");
    text.truncate(200);
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}: unexpected reply {text}"),
    )
}

fn bytes_list(reply: Reply, what: &str) -> io::Result<Vec<Vec<u8>>> {
    let items = match reply {
        Reply::Array(Some(items)) => items,
        Reply::Array(None) => Vec::new(),
        other => return Err(bad(what, &other)),
    };
    items
        .into_iter()
        .map(|r| match r {
            Reply::Bulk(Some(b)) => Ok(b),
            other => Err(bad(what, &other)),
        })
        .collect()
}

fn pairs(reply: Reply, what: &str) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let flat = bytes_list(reply, what)?;
    if flat.len() % 2 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: odd number of elements"),
        ));
    }
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

/// A flat `name, value, ...` array (RESP2 maps) as a map.
fn map_of<'r>(reply: &'r Reply, what: &str) -> io::Result<BTreeMap<String, &'r Reply>> {
    let items = reply.as_array().ok_or_else(|| bad(what, reply))?;
    let mut map = BTreeMap::new();
    for pair in items.chunks(2) {
        if let [k, v] = pair {
            let k = k.as_str().ok_or_else(|| bad(what, k))?;
            map.insert(k.to_owned(), v);
        }
    }
    Ok(map)
}

fn field<'r>(map: &BTreeMap<String, &'r Reply>, name: &str, what: &str) -> io::Result<&'r Reply> {
    map.get(name).copied().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: no `{name}` field"),
        )
    })
}

fn id_of(reply: &Reply, what: &str) -> io::Result<StreamId> {
    reply
        .as_bytes()
        .and_then(StreamId::parse)
        .ok_or_else(|| bad(what, reply))
}

fn uint_of(reply: &Reply, what: &str) -> io::Result<u64> {
    reply
        .as_int()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| bad(what, reply))
}

fn opt<'r>(map: &BTreeMap<String, &'r Reply>, name: &str) -> Option<&'r Reply> {
    map.get(name).copied().filter(|r| !r.is_nil())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reads every key of every database of the server behind `client`.
///
/// Uses SCAN, TYPE, OBJECT ENCODING, GET / LRANGE / SMEMBERS / ZRANGE
/// WITHSCORES / HGETALL / XRANGE + XINFO STREAM FULL, PEXPIRETIME (PTTL
/// plus the local clock on servers before 7.0) and, for hashes, HPEXPIRETIME
/// (on servers that have it: Redis 7.4+, Valkey 9+). Keys that vanish while it
/// reads are left out. Leaves database 0 selected.
///
/// # Errors
/// On I/O errors, server errors or replies of an unexpected shape.
pub fn snapshot(client: &mut Client) -> io::Result<Snapshot> {
    let dbs = client
        .cmd(&["CONFIG", "GET", "databases"])?
        .as_array()
        .and_then(|a| a.get(1))
        .and_then(Reply::as_int)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(16);
    // A cluster node has database 0 only and refuses SELECT.
    let cluster = client
        .cmd_ok(&["INFO", "cluster"])?
        .as_str()
        .is_some_and(|info| info.contains("cluster_enabled:1"));
    let dbs = if cluster { 1 } else { dbs };
    let mut snap = Snapshot::default();
    for db in 0..dbs {
        if !cluster {
            client.cmd_ok(&["SELECT", &db.to_string()])?;
        }
        if client.cmd_ok(&["DBSIZE"])?.as_int() == Some(0) {
            continue;
        }
        let mut cursor = b"0".to_vec();
        let mut keys = BTreeSet::new();
        loop {
            let reply = client.cmd_ok(&[b"SCAN".as_slice(), &cursor, b"COUNT", b"1000"])?;
            let Reply::Array(Some(mut parts)) = reply else {
                return Err(bad("SCAN", &reply));
            };
            let (Some(batch), Some(Reply::Bulk(Some(next)))) = (parts.pop(), parts.pop()) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "SCAN: bad reply",
                ));
            };
            keys.extend(bytes_list(batch, "SCAN keys")?);
            cursor = next;
            if cursor == b"0" {
                break;
            }
        }
        for key in keys {
            if let Some(entry) = read_key(client, &key)? {
                snap.keys.insert((db, key), entry);
            }
        }
    }
    if !cluster {
        client.cmd_ok(&["SELECT", "0"])?;
    }
    Ok(snap)
}

fn read_key(client: &mut Client, key: &[u8]) -> io::Result<Option<Entry>> {
    let kind = client.cmd_ok(&[b"TYPE".as_slice(), key])?;
    let what = format!("key {}", show(key));
    let value = match kind.as_str() {
        Some("none") => return Ok(None),
        Some("string") => {
            let r = client.cmd_ok(&[b"GET".as_slice(), key])?;
            match r {
                Reply::Bulk(Some(v)) => Value::String(v),
                Reply::Bulk(None) => return Ok(None),
                other => return Err(bad(&what, &other)),
            }
        }
        Some("list") => Value::List(bytes_list(
            client.cmd_ok(&[b"LRANGE".as_slice(), key, b"0", b"-1"])?,
            &what,
        )?),
        Some("set") => Value::Set(
            bytes_list(client.cmd_ok(&[b"SMEMBERS".as_slice(), key])?, &what)?
                .into_iter()
                .collect(),
        ),
        Some("zset") => {
            let reply = client.cmd_ok(&[b"ZRANGE".as_slice(), key, b"0", b"-1", b"WITHSCORES"])?;
            let mut zset = BTreeMap::new();
            for (member, score) in pairs(reply, &what)? {
                let score = std::str::from_utf8(&score)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{what}: bad score {}", show(&score)),
                        )
                    })?;
                zset.insert(member, score);
            }
            Value::ZSet(zset)
        }
        Some("hash") => Value::Hash(
            pairs(client.cmd_ok(&[b"HGETALL".as_slice(), key])?, &what)?
                .into_iter()
                .collect(),
        ),
        Some("stream") => Value::Stream(read_stream(client, key, &what)?),
        _ => return Err(bad(&format!("{what}: TYPE"), &kind)),
    };
    let expire_at_ms = match client.cmd(&[b"PEXPIRETIME".as_slice(), key])? {
        Reply::Int(-2) => return Ok(None),
        Reply::Int(-1) => None,
        Reply::Int(at) => Some(at),
        Reply::Error(_) => match client.cmd_ok(&[b"PTTL".as_slice(), key])? {
            Reply::Int(-2) => return Ok(None),
            Reply::Int(ttl) if ttl >= 0 => Some(now_ms() + ttl),
            _ => None,
        },
        other => return Err(bad(&format!("{what}: PEXPIRETIME"), &other)),
    };
    let field_expire_at_ms = match &value {
        Value::Hash(hash) => field_expire_times(client, key, hash, &what)?,
        _ => BTreeMap::new(),
    };
    let encoding = client
        .cmd(&[b"OBJECT".as_slice(), b"ENCODING", key])?
        .as_str()
        .map(str::to_owned);
    Ok(Some(Entry {
        value,
        expire_at_ms,
        field_expire_at_ms,
        encoding,
    }))
}

/// `HPEXPIRETIME key FIELDS n field ...`: the fields that have an expire
/// time. Empty on servers without the command (before Redis 7.4 / Valkey 9).
fn field_expire_times(
    client: &mut Client,
    key: &[u8],
    hash: &BTreeMap<Vec<u8>, Vec<u8>>,
    what: &str,
) -> io::Result<BTreeMap<Vec<u8>, i64>> {
    let count = hash.len().to_string();
    let mut args: Vec<&[u8]> = vec![b"HPEXPIRETIME", key, b"FIELDS", count.as_bytes()];
    args.extend(hash.keys().map(Vec::as_slice));
    let reply = client.cmd(&args)?;
    let times = match reply {
        Reply::Error(_) => return Ok(BTreeMap::new()),
        Reply::Array(Some(times)) if times.len() == hash.len() => times,
        other => return Err(bad(&format!("{what}: HPEXPIRETIME"), &other)),
    };
    let mut out = BTreeMap::new();
    for (field, time) in hash.keys().zip(times) {
        match time {
            // -1: no expire time; -2: the field is gone (expired meanwhile).
            Reply::Int(-1 | -2) => {}
            Reply::Int(at) => {
                out.insert(field.clone(), at);
            }
            other => return Err(bad(&format!("{what}: HPEXPIRETIME"), &other)),
        }
    }
    Ok(out)
}

fn read_stream(client: &mut Client, key: &[u8], what: &str) -> io::Result<Stream> {
    let mut stream = Stream::default();
    let range = client.cmd_ok(&[b"XRANGE".as_slice(), key, b"-", b"+"])?;
    for entry in range.as_array().ok_or_else(|| bad(what, &range))? {
        match entry.as_array() {
            Some([id, fields]) => stream.entries.push(StreamEntry {
                id: id_of(id, what)?,
                fields: pairs(fields.clone(), what)?,
            }),
            _ => return Err(bad(what, entry)),
        }
    }
    let info = client.cmd_ok(&[b"XINFO".as_slice(), b"STREAM", key, b"FULL", b"COUNT", b"0"])?;
    let info = map_of(&info, what)?;
    stream.length = uint_of(field(&info, "length", what)?, what)?;
    stream.last_id = id_of(field(&info, "last-generated-id", what)?, what)?;
    stream.first_id = opt(&info, "recorded-first-entry-id")
        .map(|r| id_of(r, what))
        .transpose()?;
    stream.max_deleted_id = opt(&info, "max-deleted-entry-id")
        .map(|r| id_of(r, what))
        .transpose()?;
    stream.entries_added = opt(&info, "entries-added")
        .map(|r| uint_of(r, what))
        .transpose()?;
    let groups = field(&info, "groups", what)?;
    for g in groups.as_array().ok_or_else(|| bad(what, groups))? {
        let gm = map_of(g, what)?;
        let mut group = Group {
            name: field(&gm, "name", what)?
                .as_bytes()
                .ok_or_else(|| bad(what, g))?
                .to_vec(),
            last_delivered_id: id_of(field(&gm, "last-delivered-id", what)?, what)?,
            entries_read: opt(&gm, "entries-read")
                .map(|r| uint_of(r, what))
                .transpose()?,
            pending: Vec::new(),
            consumers: Vec::new(),
        };
        let pel = field(&gm, "pending", what)?;
        for p in pel.as_array().ok_or_else(|| bad(what, pel))? {
            match p.as_array() {
                Some([id, consumer, time, count]) => group.pending.push(Pending {
                    id: id_of(id, what)?,
                    consumer: consumer.as_bytes().ok_or_else(|| bad(what, p))?.to_vec(),
                    delivery_time_ms: uint_of(time, what)?,
                    delivery_count: uint_of(count, what)?,
                }),
                _ => return Err(bad(what, p)),
            }
        }
        let consumers = field(&gm, "consumers", what)?;
        for c in consumers.as_array().ok_or_else(|| bad(what, consumers))? {
            let cm = map_of(c, what)?;
            let mut consumer = Consumer {
                name: field(&cm, "name", what)?
                    .as_bytes()
                    .ok_or_else(|| bad(what, c))?
                    .to_vec(),
                seen_time_ms: uint_of(field(&cm, "seen-time", what)?, what)?,
                active_time_ms: opt(&cm, "active-time")
                    .filter(|r| r.as_int() != Some(-1))
                    .map(|r| uint_of(r, what))
                    .transpose()?,
                pending: Vec::new(),
            };
            let pel = field(&cm, "pending", what)?;
            for p in pel.as_array().ok_or_else(|| bad(what, pel))? {
                match p.as_array() {
                    Some([id, ..]) => consumer.pending.push(id_of(id, what)?),
                    _ => return Err(bad(what, p)),
                }
            }
            group.consumers.push(consumer);
        }
        stream.groups.push(group);
    }
    stream.normalize();
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let v = r.range(-3, 3);
            assert!((-3..=3).contains(&v));
        }
        assert!((0..1000).any(|_| r.range(i64::MIN, i64::MAX) < 0));
    }

    #[test]
    fn stream_ids_parse() {
        assert_eq!(StreamId::parse(b"1-2"), Some(StreamId { ms: 1, seq: 2 }));
        assert_eq!(StreamId::parse(b"12"), None);
        assert_eq!(StreamId { ms: 3, seq: 4 }.to_string(), "3-4");
    }

    #[test]
    fn diff_reports_missing_changed_and_ttl() {
        let mut a = Snapshot::default();
        a.keys.insert(
            (0, b"k".to_vec()),
            Entry {
                value: Value::String(b"v".to_vec()),
                expire_at_ms: Some(10_000),
                field_expire_at_ms: BTreeMap::new(),
                encoding: None,
            },
        );
        a.keys.insert(
            (1, b"gone".to_vec()),
            Entry {
                value: Value::List(vec![]),
                expire_at_ms: None,
                field_expire_at_ms: BTreeMap::new(),
                encoding: None,
            },
        );
        let mut b = a.clone();
        assert!(a.diff(&b, 0).is_empty());
        b.keys.remove(&(1, b"gone".to_vec()));
        if let Some(e) = b.keys.get_mut(&(0, b"k".to_vec())) {
            e.expire_at_ms = Some(10_500);
        }
        assert_eq!(a.diff(&b, 1000).len(), 1);
        assert_eq!(a.diff(&b, 100).len(), 2);
    }
}
