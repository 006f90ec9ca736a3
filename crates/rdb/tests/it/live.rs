//! Live tests: a real `redis-server` writes the file, ferry-rdb reads it, and
//! every key must come out as the server reports it (type, value, TTL, stream
//! entries, groups, PEL, consumers). Covers `SAVE` files, `redis-cli --rdb`
//! output (the replication path), raw value chunks against `DUMP`, and reads
//! in small random pieces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_rdb::dump::PayloadBuilder;
use ferry_rdb::{Config, Encoding, Item, KeyHeader, Kind, Reader};
use ferry_testkit::dataset::{
    self, Consumer, Entry, Group, Pending, Rng, Snapshot, Stream, StreamEntry, StreamId, Value,
};
use ferry_testkit::{Client, RedisServer, Reply, redis_cli};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEED: u64 = 0xF3E7_2024;
/// Expire times may differ this much between the file and the server.
const TTL_TOLERANCE_MS: i64 = 1000;
/// How long `redis-cli --rdb` may take.
const REDIS_CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// A server filled with [`dataset::fill_varied`] and its snapshot.
fn filled_server() -> (RedisServer, Snapshot) {
    let server = RedisServer::start().expect("redis-server starts");
    let mut client = server.connect().expect("connect");
    dataset::fill_varied(&mut client, SEED).expect("fill_varied");
    let snapshot = dataset::snapshot(&mut client).expect("snapshot of the live server");
    (server, snapshot)
}

/// What the file says, assembled.
#[derive(Debug, Default)]
struct Parsed {
    version: u32,
    snapshot: Snapshot,
    headers: Vec<KeyHeader>,
    /// Elements seen per key, to compare with `KeyHeader::len`.
    elements: Vec<u64>,
    /// Raw value bytes per key (raw mode only).
    raw: BTreeMap<(u64, Vec<u8>), Vec<u8>>,
    aux: BTreeMap<Vec<u8>, Vec<u8>>,
    /// RESIZEDB per database: (db_size, expires_size).
    resize: BTreeMap<u64, (u64, u64)>,
    checksum: Option<u64>,
    problems: Vec<String>,
}

/// A key being assembled.
struct Building {
    header: KeyHeader,
    value: Value,
    elements: u64,
    raw: Vec<u8>,
    /// Group PEL entries before their owners are known: (group index, nack).
    nacks: Vec<(usize, ferry_rdb::StreamNack)>,
}

fn id(id: ferry_rdb::StreamId) -> StreamId {
    StreamId {
        ms: id.ms,
        seq: id.seq,
    }
}

fn key_name(h: &KeyHeader) -> String {
    format!("db{} {:?}", h.db, String::from_utf8_lossy(&h.key))
}

fn parse(items: impl Iterator<Item = Result<Item, ferry_rdb::ReadError>>) -> Parsed {
    let mut p = Parsed::default();
    let mut db = 0;
    let mut cur: Option<Building> = None;
    for item in items {
        let item = item.unwrap_or_else(|e| {
            let at = cur
                .as_ref()
                .map_or("no key".into(), |b| key_name(&b.header));
            panic!("decoding failed ({at}): {e}")
        });
        match item {
            Item::Header(h) => p.version = h.version,
            Item::Aux { key, value } => {
                p.aux.insert(key.to_vec(), value.to_vec());
            }
            Item::SelectDb(n) => db = n,
            Item::ResizeDb {
                db_size,
                expires_size,
            } => {
                p.resize.insert(db, (db_size, expires_size));
            }
            Item::Key(header) => {
                if let Some(b) = &cur {
                    p.problems.push(format!(
                        "{}: no KeyEnd before the next key",
                        key_name(&b.header)
                    ));
                }
                if header.db != db {
                    p.problems.push(format!(
                        "{}: header db {} but last SELECTDB {db}",
                        key_name(&header),
                        header.db
                    ));
                }
                let value = match header.kind() {
                    Kind::String => Value::String(Vec::new()),
                    Kind::List => Value::List(Vec::new()),
                    Kind::Set => Value::Set(BTreeSet::new()),
                    Kind::ZSet => Value::ZSet(BTreeMap::new()),
                    Kind::Hash => Value::Hash(BTreeMap::new()),
                    Kind::Stream => Value::Stream(Stream::default()),
                    Kind::Module => panic!("{}: module value in a vanilla dump", key_name(&header)),
                };
                cur = Some(Building {
                    header: *header,
                    value,
                    elements: 0,
                    raw: Vec::new(),
                    nacks: Vec::new(),
                });
            }
            Item::KeyEnd => match cur.take() {
                Some(b) => finish_key(&mut p, b),
                None => p.problems.push("KeyEnd outside a key".into()),
            },
            Item::End { checksum } => p.checksum = checksum,
            element => match cur.as_mut() {
                Some(b) => add_element(&mut p.problems, b, element),
                None => p
                    .problems
                    .push(format!("element outside a key: {element:?}")),
            },
        }
    }
    if let Some(b) = cur {
        p.problems.push(format!(
            "{}: file ended inside the key",
            key_name(&b.header)
        ));
    }
    p
}

fn add_element(problems: &mut Vec<String>, b: &mut Building, item: Item) {
    let name = key_name(&b.header);
    if !matches!(item, Item::Raw(_)) {
        b.elements += 1;
    }
    match (&mut b.value, item) {
        (_, Item::Raw(chunk)) => b.raw.extend_from_slice(&chunk),
        (Value::String(s), Item::StringChunk(c)) => {
            b.elements = 0;
            s.extend_from_slice(&c);
        }
        (Value::List(l), Item::ListItem(v)) => l.push(v.to_vec()),
        (Value::Set(s), Item::SetMember(m)) => {
            if !s.insert(m.to_vec()) {
                problems.push(format!("{name}: duplicate set member {m:?}"));
            }
        }
        (Value::ZSet(z), Item::ZSetEntry { member, score }) => {
            if z.insert(member.to_vec(), score).is_some() {
                problems.push(format!("{name}: duplicate zset member {member:?}"));
            }
        }
        (
            Value::Hash(h),
            Item::HashField {
                field,
                value,
                expire_at_ms,
            },
        ) => {
            if expire_at_ms.is_some() {
                problems.push(format!("{name}: field TTL in a Redis 7.0 file"));
            }
            if h.insert(field.to_vec(), value.to_vec()).is_some() {
                problems.push(format!("{name}: duplicate hash field {field:?}"));
            }
        }
        (Value::Stream(s), Item::StreamEntry(e)) => s.entries.push(StreamEntry {
            id: id(e.id),
            fields: e
                .fields
                .iter()
                .map(|(f, v)| (f.to_vec(), v.to_vec()))
                .collect(),
        }),
        (Value::Stream(s), Item::StreamMeta(m)) => {
            b.elements -= 1;
            s.length = m.length;
            s.last_id = id(m.last_id);
            s.first_id = Some(id(m.first_id));
            s.max_deleted_id = Some(id(m.max_deleted_id));
            s.entries_added = Some(m.entries_added);
        }
        (Value::Stream(s), Item::StreamGroup(g)) => {
            b.elements -= 1;
            s.groups.push(Group {
                name: g.name.to_vec(),
                last_delivered_id: id(g.last_id),
                // Redis writes -1 (SCG_INVALID_ENTRIES_READ) when the counter
                // is unknown; XINFO shows that as nil.
                entries_read: g.entries_read.filter(|&n| n != u64::MAX),
                pending: Vec::new(),
                consumers: Vec::new(),
            });
        }
        (Value::Stream(s), Item::StreamPending(nack)) => {
            b.elements -= 1;
            match s.groups.len().checked_sub(1) {
                Some(g) => b.nacks.push((g, nack)),
                None => problems.push(format!("{name}: PEL entry before any group")),
            }
        }
        (Value::Stream(s), Item::StreamConsumer(c)) => {
            b.elements -= 1;
            match s.groups.last_mut() {
                Some(g) => g.consumers.push(Consumer {
                    name: c.name.to_vec(),
                    seen_time_ms: c.seen_time_ms,
                    active_time_ms: c.active_time_ms,
                    pending: Vec::new(),
                }),
                None => problems.push(format!("{name}: consumer before any group")),
            }
        }
        (Value::Stream(s), Item::StreamConsumerPending(pid)) => {
            b.elements -= 1;
            match s.groups.last_mut().and_then(|g| g.consumers.last_mut()) {
                Some(c) => c.pending.push(id(pid)),
                None => problems.push(format!("{name}: consumer PEL before any consumer")),
            }
        }
        (value, item) => problems.push(format!("{name}: {item:?} inside a {} value", value.kind())),
    }
}

fn finish_key(p: &mut Parsed, mut b: Building) {
    let name = key_name(&b.header);
    if let Value::Stream(s) = &mut b.value {
        for (g, nack) in b.nacks.drain(..) {
            let Some(group) = s.groups.get_mut(g) else {
                continue;
            };
            let owner = group
                .consumers
                .iter()
                .find(|c| c.pending.contains(&id(nack.id)))
                .map(|c| c.name.clone());
            if owner.is_none() {
                p.problems
                    .push(format!("{name}: PEL entry {} has no consumer", nack.id));
            }
            group.pending.push(Pending {
                id: id(nack.id),
                consumer: owner.unwrap_or_default(),
                delivery_time_ms: nack.delivery_time_ms,
                delivery_count: nack.delivery_count,
            });
        }
        s.normalize();
    }
    let key = (b.header.db, b.header.key.to_vec());
    if !b.raw.is_empty() {
        p.raw.insert(key.clone(), b.raw);
    }
    let entry = Entry {
        value: b.value,
        expire_at_ms: b.header.expire_at_ms,
        // A Redis 7.0 file has no hash field TTLs (one is reported above).
        field_expire_at_ms: BTreeMap::new(),
        encoding: None,
    };
    if p.snapshot.keys.insert(key, entry).is_some() {
        p.problems.push(format!("{name}: key appears twice"));
    }
    p.elements.push(b.elements);
    p.headers.push(b.header);
}

fn parse_file(path: &Path, config: Config) -> Parsed {
    let file = std::fs::File::open(path).expect("open the dump file");
    parse(Reader::with_config(io::BufReader::new(file), config))
}

/// The RDB encodings a server's `OBJECT ENCODING` may be saved as.
fn saved_as(kind: &str, object_encoding: &str) -> &'static [Encoding] {
    match (kind, object_encoding) {
        ("string", _) => &[Encoding::String],
        ("list", _) => &[Encoding::ListQuicklist2],
        ("set", "intset") => &[Encoding::SetIntset],
        ("set", "listpack") => &[Encoding::SetListpack],
        ("set", _) => &[Encoding::Set],
        ("zset", "listpack") => &[Encoding::ZSetListpack],
        ("zset", _) => &[Encoding::ZSet2],
        ("hash", "listpack") => &[Encoding::HashListpack],
        ("hash", "listpackex") => &[Encoding::HashListpackEx],
        ("hash", _) => &[Encoding::Hash, Encoding::HashMetadata],
        ("stream", _) => &[Encoding::StreamListpacks2, Encoding::StreamListpacks3],
        _ => &[],
    }
}

/// Compares a parsed file with the live server's snapshot and reports every difference.
fn check_against_server(parsed: &Parsed, live: &Snapshot, server: &RedisServer) {
    let mut problems = parsed.problems.clone();
    problems.extend(live.diff(&parsed.snapshot, TTL_TOLERANCE_MS));

    for (h, &seen) in parsed.headers.iter().zip(&parsed.elements) {
        let name = key_name(h);
        if let Some(entry) = live.get(h.db, &h.key) {
            let enc = entry.encoding.as_deref().unwrap_or("?");
            let kind = entry.value.kind();
            if !saved_as(kind, enc).contains(&h.encoding) {
                problems.push(format!(
                    "{name}: saved as {} but the server holds a {kind} in {enc}",
                    h.encoding
                ));
            }
        }
        if let Some(len) = h.len
            && h.kind() != Kind::String
            && h.kind() != Kind::Stream
            && len != seen
        {
            problems.push(format!("{name}: header says {len} elements, {seen} came"));
        }
    }
    if let Some(pair) = parsed
        .headers
        .windows(2)
        .find(|w| w[0].offset >= w[1].offset)
    {
        problems.push(format!(
            "key offsets do not grow: {} at {} then {} at {}",
            key_name(&pair[0]),
            pair[0].offset,
            key_name(&pair[1]),
            pair[1].offset
        ));
    }

    let mut per_db: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for ((db, _), e) in &live.keys {
        let c = per_db.entry(*db).or_default();
        c.0 += 1;
        c.1 += u64::from(e.expire_at_ms.is_some());
    }
    if parsed.resize != per_db {
        problems.push(format!(
            "RESIZEDB (keys, expires) per db {:?}, the server has {per_db:?}",
            parsed.resize
        ));
    }

    let info = server.cmd(&["INFO", "server"]).expect("INFO");
    let version = info
        .as_str()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("redis_version:")))
        .map(|v| v.trim().as_bytes().to_vec());
    if parsed.aux.get(b"redis-ver".as_slice()) != version.as_ref() {
        problems.push(format!(
            "AUX redis-ver {:?}, server says {version:?}",
            parsed.aux.get(b"redis-ver".as_slice())
        ));
    }
    if !matches!(parsed.checksum, Some(c) if c != 0) {
        problems.push(format!("checksum {:?}", parsed.checksum));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(parsed.snapshot.len(), live.len());
}

#[test]
fn saved_dump_matches_the_live_server_key_by_key() {
    let (server, live) = filled_server();
    let path = server.save_rdb().expect("SAVE");
    let parsed = parse_file(&path, Config::default());
    assert!(parsed.version >= 10, "Redis 7.0+ writes RDB 10+");
    let bytes = std::fs::read(&path).expect("read the dump");
    let (body, trailer) = bytes.split_at(bytes.len() - 8);
    assert_eq!(
        parsed.checksum,
        Some(u64::from_le_bytes(trailer.try_into().expect("8 bytes")))
    );
    assert_eq!(parsed.checksum, Some(ferry_rdb::crc64(body)));
    check_against_server(&parsed, &live, &server);
}

/// Kills a child that outlives its test.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn redis_cli_rdb_output_matches_the_live_server() {
    let (server, live) = filled_server();
    let out = server.dir().join("replica-path.rdb");
    let cli = redis_cli().expect("redis-cli on PATH");
    let mut child = ChildGuard(
        Command::new(&cli)
            .args(["-h", "127.0.0.1", "-p", &server.port().to_string(), "--rdb"])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn redis-cli"),
    );
    let deadline = Instant::now() + REDIS_CLI_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for redis-cli") {
            break status;
        }
        assert!(Instant::now() < deadline, "redis-cli --rdb timed out");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        status.success(),
        "redis-cli --rdb failed: {status}\n{stderr}"
    );

    let parsed = parse_file(&out, Config::default());
    assert!(
        parsed.aux.contains_key(b"repl-id".as_slice()),
        "a replication RDB carries repl-id: {:?}",
        parsed.aux.keys()
    );
    check_against_server(&parsed, &live, &server);
}

#[test]
fn raw_chunks_equal_dump_and_restore_into_a_fresh_server() {
    let (source, live) = filled_server();
    let path = source.save_rdb().expect("SAVE");
    let config = Config {
        raw: true,
        ..Config::default()
    };
    let parsed = parse_file(&path, config);
    check_against_server(&parsed, &live, &source);
    let version = u16::try_from(parsed.version).expect("RDB version fits u16");

    let target = RedisServer::start().expect("target redis-server starts");
    let mut src = source.connect().expect("connect to source");
    let mut dst: Client = target.connect().expect("connect to target");
    let mut mismatched = Vec::new();
    for db in parsed
        .raw
        .keys()
        .map(|(db, _)| *db)
        .collect::<BTreeSet<_>>()
    {
        src.cmd_ok(&["SELECT", &db.to_string()]).expect("select");
        dst.cmd_ok(&["SELECT", &db.to_string()]).expect("select");
        for ((_, key), raw) in parsed.raw.range((db, Vec::new())..(db + 1, Vec::new())) {
            let mut builder = PayloadBuilder::new(version);
            builder.push(raw);
            let payload = builder.finish();
            let dumped = src.cmd(&[b"DUMP".as_slice(), key]).expect("DUMP");
            if dumped.as_bytes() != Some(payload.as_slice()) {
                mismatched.push(format!(
                    "db{db} {:?}: payload of {} bytes differs from DUMP ({:?} bytes)",
                    String::from_utf8_lossy(key),
                    payload.len(),
                    dumped.as_bytes().map(<[u8]>::len)
                ));
            }
            let ttl = live
                .get(db, key)
                .and_then(|e| e.expire_at_ms)
                .map_or("0".to_owned(), |at| at.to_string());
            let mut args: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), &payload];
            if ttl != "0" {
                args.push(b"ABSTTL");
            }
            match dst.cmd(&args).expect("RESTORE") {
                Reply::Status(s) if s == "OK" => {}
                other => mismatched.push(format!(
                    "db{db} {:?}: RESTORE answered {other:?}",
                    String::from_utf8_lossy(key)
                )),
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "{} keys:\n{}",
        mismatched.len(),
        mismatched.join("\n")
    );
    let restored = dataset::snapshot(&mut dst).expect("snapshot of the target");
    let diff = live.diff(&restored, TTL_TOLERANCE_MS);
    assert!(
        diff.is_empty(),
        "restored data differs:\n{}",
        diff.join("\n")
    );
}

/// Hands out at most a few random bytes per `read`.
struct Choppy<R> {
    inner: R,
    rng: Rng,
    max: usize,
}

impl<R: Read> Read for Choppy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.rng.below(self.max as u64) as usize + 1).min(buf.len());
        self.inner.read(&mut buf[..n])
    }
}

#[test]
fn dump_read_in_small_random_pieces_gives_the_same_items() {
    let (server, _) = filled_server();
    let path = server.save_rdb().expect("SAVE");
    let bytes = std::fs::read(&path).expect("read the dump");
    for (seed, max) in [(1, 7), (2, 300), (3, 70_000)] {
        let whole = Reader::new(&bytes[..]);
        let choppy = Reader::new(Choppy {
            inner: &bytes[..],
            rng: Rng::new(seed),
            max,
        });
        let mut count = 0u64;
        for (n, (a, b)) in whole.zip(choppy).enumerate() {
            let a = a.unwrap_or_else(|e| panic!("whole read, item {n}: {e}"));
            let b = b.unwrap_or_else(|e| panic!("reads of up to {max} bytes, item {n}: {e}"));
            assert_eq!(a, b, "item {n} differs with reads of up to {max} bytes");
            count += 1;
        }
        assert!(count > 20_000, "{count} items");
    }
}

#[test]
fn string_chunks_are_bounded_and_concatenate_to_the_value() {
    let server = RedisServer::start().expect("redis-server starts");
    let mut rng = Rng::new(SEED);
    let values: BTreeMap<&[u8], Vec<u8>> = BTreeMap::from([
        // LZF, compressed size over chunk_len: decompressed piece by piece.
        (b"words".as_slice(), rng.words(3 * 1024 * 1024 + 17)),
        // LZF, compressed size under chunk_len (about 12 KB): read with the key.
        (b"repeated".as_slice(), vec![b'a'; 1024 * 1024]),
        // Incompressible: stored raw.
        (b"random".as_slice(), rng.bytes(700 * 1024 + 3)),
    ]);
    for (key, value) in &values {
        server.cmd(&[b"SET".as_slice(), key, value]).expect("SET");
    }
    let path = server.save_rdb().expect("SAVE");
    let chunk_len = 16 * 1024;
    let config = Config {
        chunk_len,
        ..Config::default()
    };
    let file = std::fs::File::open(&path).expect("open");
    let mut got: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut largest: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut current = Vec::new();
    for item in Reader::with_config(file, config) {
        match item.expect("decode") {
            Item::Key(h) => current = h.key.to_vec(),
            Item::StringChunk(c) => {
                got.entry(current.clone())
                    .or_default()
                    .extend_from_slice(&c);
                let max = largest.entry(current.clone()).or_default();
                *max = (*max).max(c.len());
            }
            _ => {}
        }
    }
    for (key, value) in &values {
        assert!(
            got.get(*key) == Some(value),
            "{:?}: chunks do not concatenate to the value",
            String::from_utf8_lossy(key)
        );
    }
    let oversized: Vec<String> = largest
        .iter()
        .filter(|(_, len)| **len > chunk_len)
        .map(|(key, len)| format!("{:?}: a chunk of {len} bytes", String::from_utf8_lossy(key)))
        .collect();
    assert!(
        oversized.is_empty(),
        "chunk_len is {chunk_len}, yet {}",
        oversized.join(", ")
    );
}
