//! The planner against real servers: its writes, applied with a pipelined
//! client, must rebuild what a server that loaded the same file holds.
//!
//! The servers of other versions come from `scripts/install-servers.sh`
//! (`ferry_testkit::ServerKind`): a missing one fails with a message naming
//! the script.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_rdb::{Config, Header, Item, Magic, Reader};
use ferry_sink::plan::{Conflict, Mode, Options, Planner, Summary, TargetCaps};
use ferry_sink::replay::{MAX_BATCH_BYTES, MAX_BATCH_ELEMENTS, MAX_STRING_PIECE_BYTES};
use ferry_sink::{Expect, Note, NoteKind, Write, WriteMode};
use ferry_testkit::dataset::{self, Snapshot, Value};
use ferry_testkit::{Client, RedisServer, Reply, ServerBuilder, ServerKind};
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Replies read at once when applying writes.
const PIPELINE_DEPTH: usize = 512;

pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// The RDB corpus: `$FERRY_TESTDATA`, else `shared/testdata/rdb` next to the repository.
pub fn testdata() -> PathBuf {
    let dir = match std::env::var_os("FERRY_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rdb"),
    };
    assert!(
        dir.join("generated").is_dir(),
        "RDB corpus not found at {} (set FERRY_TESTDATA to the testdata/rdb directory)",
        dir.display()
    );
    dir
}

/// The `INFO server` of a running server, as the planner's target.
pub fn caps_of(server: &RedisServer) -> TargetCaps {
    let info = server.cmd(&["INFO", "server"]).unwrap();
    TargetCaps::from_info(info.as_str().unwrap()).unwrap()
}

/// Applies writes over one pipelined connection, checking every reply as
/// its [`Expect`] says; selects the database of each key.
pub struct Applier {
    client: Client,
    db: Option<u64>,
    /// What each command in flight expects, and a name for messages.
    in_flight: VecDeque<(Expect, String)>,
    /// `BUSYKEY` replies accepted.
    pub busy: u64,
    /// Error replies not accepted: `key: command: error`.
    pub errors: Vec<String>,
    /// Commands sent (without `SELECT`).
    pub commands: u64,
}

impl Applier {
    pub fn new(target: &RedisServer) -> Applier {
        Applier {
            client: target.connect().unwrap(),
            db: None,
            in_flight: VecDeque::new(),
            busy: 0,
            errors: Vec::new(),
            commands: 0,
        }
    }

    /// Sends `writes` (emptying it), reading replies as the pipeline fills.
    pub fn apply(&mut self, writes: &mut Vec<Write>) {
        for write in writes.drain(..) {
            if write.mode != WriteMode::Function && self.db != Some(write.db) {
                let db = write.db.to_string();
                self.client.send(&["SELECT", db.as_str()]).unwrap();
                self.in_flight
                    .push_back((Expect::Success, format!("SELECT {db}")));
                self.db = Some(write.db);
            }
            self.client.send(write.command.parts()).unwrap();
            let key = write
                .key
                .as_ref()
                .map_or(String::new(), |k| k.escape_ascii().to_string());
            let name = String::from_utf8_lossy(&write.command.parts()[0]).into_owned();
            self.in_flight
                .push_back((write.expect, format!("{key}: {name}")));
            self.commands += 1;
            if self.in_flight.len() >= PIPELINE_DEPTH {
                self.drain();
            }
        }
    }

    /// Reads every outstanding reply.
    pub fn drain(&mut self) {
        while let Some((expect, what)) = self.in_flight.pop_front() {
            if let Reply::Error(e) = self.client.recv().unwrap() {
                if expect == Expect::SuccessOrBusy && e.starts_with("BUSYKEY") {
                    self.busy += 1;
                } else {
                    self.errors.push(format!("{what}: {e}"));
                }
            }
        }
    }
}

/// What planning a file into a server did.
pub struct Applied {
    pub summary: Summary,
    pub notes: Vec<Note>,
    pub busy: u64,
    pub errors: Vec<String>,
}

/// Plans `rdb` (decoded in raw mode) with `options` and applies the writes
/// to `target`; `inspect` sees each batch of writes first.
pub fn plan_into_with(
    rdb: &Path,
    options: Options,
    target: &RedisServer,
    mut inspect: impl FnMut(&[Write]),
) -> Applied {
    let mut planner = Planner::new(options);
    let mut applier = Applier::new(target);
    let mut writes = Vec::new();
    let mut notes = Vec::new();
    let config = Config {
        raw: true,
        ..Config::default()
    };
    let reader = Reader::with_config(BufReader::new(File::open(rdb).unwrap()), config);
    for item in reader {
        planner.handle_item(item.unwrap(), &mut writes).unwrap();
        inspect(&writes);
        applier.apply(&mut writes);
        notes.extend(std::iter::from_fn(|| planner.poll_note()));
    }
    let summary = planner.finish(&mut writes);
    inspect(&writes);
    applier.apply(&mut writes);
    applier.drain();
    notes.extend(std::iter::from_fn(|| planner.poll_note()));
    Applied {
        summary,
        notes,
        busy: applier.busy,
        errors: applier.errors,
    }
}

/// [`plan_into_with`] without inspection; asserts no error reply.
pub fn plan_into(rdb: &Path, options: Options, target: &RedisServer) -> Applied {
    let applied = plan_into_with(rdb, options, target, |_| {});
    assert!(
        applied.errors.is_empty(),
        "{} error replies, first: {:?}",
        applied.errors.len(),
        &applied.errors[..applied.errors.len().min(10)]
    );
    applied
}

/// `DEBUG DIGEST`.
pub fn digest(server: &RedisServer) -> String {
    match server.cmd(&["DEBUG", "DIGEST"]).unwrap() {
        Reply::Status(s) => s,
        Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!("DEBUG DIGEST failed: {other:?}"),
    }
}

pub fn snapshot(server: &RedisServer) -> Snapshot {
    dataset::snapshot(&mut server.connect().unwrap())
        .unwrap()
        .without_times()
}

/// Leaves out what a target of an older version cannot hold: hash field
/// TTLs (`field_ttls`), and the stream metadata of Redis 7.0 (`stream_v2`).
pub fn without(mut snap: Snapshot, field_ttls: bool, stream_v2: bool) -> Snapshot {
    for entry in snap.keys.values_mut() {
        if field_ttls {
            entry.field_expire_at_ms.clear();
        }
        if let Value::Stream(s) = &mut entry.value
            && stream_v2
        {
            s.first_id = None;
            s.max_deleted_id = None;
            s.entries_added = None;
            for g in &mut s.groups {
                g.entries_read = None;
            }
        }
    }
    snap
}

/// Every key of `want` and `got` matches, expire times within
/// `ttl_tolerance_ms`. The only difference allowed, at most once per
/// database, is a group of a stream whose pending list names a deleted
/// entry, which `XCLAIM` cannot recreate (command replay only).
pub fn assert_same(want: &Snapshot, got: &Snapshot, ttl_tolerance_ms: i64, what: &str) {
    let diffs = want.diff(got, ttl_tolerance_ms);
    assert!(
        diffs.iter().all(|d| d.contains("\": group ")),
        "{what}: unexpected differences:\n{}",
        diffs.join("\n")
    );
    assert!(
        diffs.len() <= 3,
        "{what}: differences:\n{}",
        diffs.join("\n")
    );
}

/// The header of an RDB file.
pub fn header_of(rdb: &Path) -> Header {
    for item in Reader::new(BufReader::new(File::open(rdb).unwrap())) {
        if let Item::Header(header) = item.unwrap() {
            return header;
        }
    }
    panic!("{} has no header", rdb.display());
}

/// A Redis 7.0 server (the one on `PATH`) filled with the testkit's dataset,
/// and its dump file.
fn filled_source(seed: u64) -> (RedisServer, PathBuf) {
    let source = RedisServer::start().unwrap();
    dataset::fill_varied(&mut source.connect().unwrap(), seed).unwrap();
    let rdb = source.save_rdb().unwrap();
    (source, rdb)
}

#[test]
fn a_filled_server_is_rebuilt_in_every_mode() {
    let (source, rdb) = filled_source(11);
    let want = snapshot(&source);
    let want_digest = digest(&source);
    for (mode, big_value_bytes) in [
        (Mode::Auto, 8 << 20),
        (Mode::Auto, 64 << 10),
        (Mode::Restore, 8 << 20),
        (Mode::Commands, 8 << 20),
    ] {
        let what = format!("{mode:?} with {big_value_bytes} bytes held");
        let target = RedisServer::start().unwrap();
        let mut options = Options::new(caps_of(&target), now_ms());
        options.mode = mode;
        options.big_value_bytes = big_value_bytes;
        let applied = plan_into(&rdb, options, &target);
        let s = &applied.summary;
        assert!(applied.notes.is_empty(), "{what}: {:?}", applied.notes);
        assert_eq!(
            usize::try_from(s.restored_keys + s.replayed_keys).unwrap(),
            want.len(),
            "{what}: {s:?}"
        );
        match (mode, big_value_bytes) {
            (Mode::Auto, 65536) => {
                assert!(
                    s.restored_keys > 0 && s.big_keys_replayed > 0,
                    "{what}: {s:?}"
                );
                assert_eq!(s.replayed_keys, s.big_keys_replayed, "{what}: {s:?}");
            }
            (Mode::Auto | Mode::Restore, _) => assert_eq!(s.replayed_keys, 0, "{what}: {s:?}"),
            (Mode::Commands, _) => assert_eq!(s.restored_keys, 0, "{what}: {s:?}"),
        }
        assert_eq!(digest(&target), want_digest, "{what}");
        assert_same(&want, &snapshot(&target), 0, &what);
    }
}

/// Where a corpus file is loaded to compare with: the local 7.0 server
/// (`None`) when it can load it, else a server of the file's version.
fn reference_for(header: Header) -> Option<ServerKind> {
    match (header.magic, header.version) {
        (Magic::Redis, 0..=10) => None,
        (Magic::Redis, _) => Some(ServerKind::Redis74),
        (Magic::Valkey, _) => Some(ServerKind::Valkey91),
    }
}

/// The local server (`None`) or one of `kind`.
fn builder(kind: Option<ServerKind>) -> ServerBuilder {
    match kind {
        Some(kind) => RedisServer::builder().version(kind),
        None => RedisServer::builder(),
    }
}

/// The number of keys `generated/expected.json` lists for `file`.
fn expected_keys(file: &str) -> u64 {
    let text = std::fs::read_to_string(testdata().join("generated/expected.json")).unwrap();
    let at = text.find(&format!("\"{file}\":")).unwrap();
    let rest = &text[at..];
    let keys = &rest[rest.find("\"keys\":").unwrap() + 7..];
    keys[..keys.find(',').unwrap()].parse().unwrap()
}

/// Plans a generated corpus file into a fresh server of `target` (`None`:
/// the local 7.0) and compares it with a reference server that loaded the
/// file: every key read back, and `DEBUG DIGEST` when both servers are of
/// the same version (Redis 7.2 changed how the digest writes sorted-set
/// scores, `%.17g` to `fpconv_dtoa` in `debug.c`, so digests of different
/// versions differ for the same data).
fn corpus_file_into(file: &str, target_kind: Option<ServerKind>, mode: Mode) -> Applied {
    let rdb = testdata().join("generated").join(file);
    let header = header_of(&rdb);
    let reference_kind = reference_for(header);
    let reference = builder(reference_kind).rdb(&rdb).start().unwrap();
    let want = snapshot(&reference);
    assert_eq!(
        want.len() as u64,
        expected_keys(file),
        "{file} did not load"
    );
    let target = builder(target_kind).start().unwrap();
    let caps = caps_of(&target);
    let mut options = Options::new(caps, now_ms());
    options.mode = mode;
    let applied = plan_into(&rdb, options, &target);
    let got = snapshot(&target);
    let old = caps.version < (7, 0, 0);
    let want = without(want, !caps.supports_hash_field_ttl(), old);
    let got = without(got, false, old);
    // Before 7.0 expire times are read as PTTL plus the local clock.
    let tolerance = if old { 1000 } else { 0 };
    assert_same(&want, &got, tolerance, &format!("{file} into {caps:?}"));
    if reference_kind == target_kind {
        assert_eq!(digest(&target), digest(&reference), "{file} into {caps:?}");
    }
    applied
}

#[test]
fn every_generated_corpus_file_is_rebuilt_on_redis_7_0() {
    let mut files: Vec<String> = std::fs::read_dir(testdata().join("generated"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".rdb"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{files:?}");
    for file in &files {
        let applied = corpus_file_into(file, None, Mode::Auto);
        let s = &applied.summary;
        assert!(s.restored_keys > 0, "{file}: {s:?}");
        let header = header_of(&testdata().join("generated").join(file));
        let field_ttls = applied
            .notes
            .iter()
            .all(|n| matches!(n.kind, NoteKind::FieldTtlsDropped { .. }));
        assert!(field_ttls, "{file}: {:?}", applied.notes);
        if header.version > 10 {
            // Newer types (set listpack, stream v3, hashes with field TTLs)
            // are replayed on 7.0.
            assert!(s.replayed_keys > 0, "{file}: {s:?}");
        } else {
            assert_eq!(s.replayed_keys, 0, "{file}: {s:?}");
        }
    }
}

#[test]
fn a_redis_7_4_dump_goes_to_redis_6_2_by_restore_and_replay() {
    let applied = corpus_file_into(
        "redis-7.4.1_hfe_seed5.rdb",
        Some(ServerKind::Redis62),
        Mode::Auto,
    );
    let s = &applied.summary;
    // Strings, intsets, ... stamped 9; listpacks, streams v3 and hashes
    // with field TTLs replayed, without the field TTLs.
    assert!(s.restored_keys > 0 && s.replayed_keys > 0, "{s:?}");
    assert!(
        applied
            .notes
            .iter()
            .any(|n| matches!(n.kind, NoteKind::FieldTtlsDropped { .. })),
        "{:?}",
        applied.notes
    );
}

#[test]
fn a_redis_7_4_dump_goes_to_valkey_9_with_its_field_ttls() {
    let applied = corpus_file_into(
        "redis-7.4.1_hfe_seed5.rdb",
        Some(ServerKind::Valkey91),
        Mode::Auto,
    );
    let s = &applied.summary;
    assert!(s.restored_keys > 0 && s.replayed_keys > 0, "{s:?}");
    assert!(applied.notes.is_empty(), "{:?}", applied.notes);
}

#[test]
fn restore_mode_leaves_out_what_the_target_cannot_load() {
    let rdb = testdata().join("generated/redis-7.4.1_hfe_seed5.rdb");
    let target = RedisServer::builder()
        .version(ServerKind::Redis62)
        .start()
        .unwrap();
    let mut options = Options::new(caps_of(&target), now_ms());
    options.mode = Mode::Restore;
    let applied = plan_into(&rdb, options, &target);
    let s = &applied.summary;
    assert_eq!(s.replayed_keys, 0, "{s:?}");
    assert!(s.restored_keys > 0, "{s:?}");
    assert_eq!(s.unsupported, applied.notes.len() as u64);
    assert!(
        applied
            .notes
            .iter()
            .all(|n| matches!(n.kind, NoteKind::NotRestorable { .. }) && n.key.is_some()),
        "{:?}",
        applied.notes
    );
    let keys: i64 = (0..3)
        .map(|db| {
            let mut c = target.connect().unwrap();
            c.cmd(&["SELECT", &db.to_string()]).unwrap();
            c.cmd(&["DBSIZE"]).unwrap().as_int().unwrap()
        })
        .sum();
    assert_eq!(keys as u64, s.restored_keys);
}

/// A source with a string, a hash and a list, and a target that already
/// holds other values under two of those names, and a key of its own.
fn conflicting_servers() -> (RedisServer, PathBuf, RedisServer) {
    let source = RedisServer::start().unwrap();
    for args in [
        &["SET", "s", "source"][..],
        &["HSET", "h", "a", "1", "b", "2"],
        &["RPUSH", "l", "x", "y"],
    ] {
        source.cmd(args).unwrap().into_result().unwrap();
    }
    let rdb = source.save_rdb().unwrap();
    let target = RedisServer::start().unwrap();
    for args in [
        &["SET", "s", "target"][..],
        &["HSET", "h", "c", "3"],
        &["SET", "mine", "1"],
    ] {
        target.cmd(args).unwrap().into_result().unwrap();
    }
    (source, rdb, target)
}

fn value(server: &RedisServer, key: &str) -> Value {
    let snap = snapshot(server);
    snap.get(0, key.as_bytes()).unwrap().value.clone()
}

#[test]
fn conflicts_are_replaced_skipped_or_failed() {
    for mode in [Mode::Auto, Mode::Commands] {
        let (source, rdb, target) = conflicting_servers();
        let mut options = Options::new(caps_of(&target), now_ms());
        options.mode = mode;
        options.conflict = Conflict::Replace;
        let applied = plan_into(&rdb, options, &target);
        assert_eq!(applied.busy, 0);
        for key in ["s", "h", "l"] {
            assert_eq!(value(&target, key), value(&source, key), "{mode:?} {key}");
        }
        assert_eq!(value(&target, "mine"), Value::String(b"1".to_vec()));
    }

    let (source, rdb, target) = conflicting_servers();
    let mut options = Options::new(caps_of(&target), now_ms());
    options.conflict = Conflict::Skip;
    let applied = plan_into(&rdb, options, &target);
    assert_eq!(applied.busy, 2, "s and h exist");
    assert_eq!(applied.summary.restored_keys, 3);
    assert_eq!(value(&target, "s"), Value::String(b"target".to_vec()));
    assert_eq!(
        value(&target, "h"),
        Value::Hash([(b"c".to_vec(), b"3".to_vec())].into())
    );
    assert_eq!(value(&target, "l"), value(&source, "l"));

    let (source, rdb, target) = conflicting_servers();
    let mut options = Options::new(caps_of(&target), now_ms());
    options.conflict = Conflict::Fail;
    let applied = plan_into_with(&rdb, options, &target, |_| {});
    assert_eq!(applied.busy, 0);
    let mut errors = applied.errors.clone();
    errors.sort();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("h: RESTORE: BUSYKEY"), "{errors:?}");
    assert!(errors[1].starts_with("s: RESTORE: BUSYKEY"), "{errors:?}");
    assert_eq!(value(&target, "s"), Value::String(b"target".to_vec()));
    assert_eq!(value(&target, "l"), value(&source, "l"));
}

#[test]
fn big_values_go_to_command_replay_in_bounded_commands() {
    const STRING_BYTES: usize = 20 << 20;
    const FIELDS: usize = 200_000;
    const LIMIT_BYTES: usize = 1 << 20;
    let source = RedisServer::start().unwrap();
    let mut client = source.connect().unwrap();
    let mut rng = dataset::Rng::new(5);
    // Incompressible, so that its raw size passes the limit early.
    client
        .cmd_ok(&[
            b"SET".to_vec(),
            b"big:string".to_vec(),
            rng.bytes(STRING_BYTES),
        ])
        .unwrap();
    for chunk in (0..FIELDS).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec![b"HSET".to_vec(), b"big:hash".to_vec()];
        for i in chunk {
            args.push(format!("field:{i}").into_bytes());
            args.push(rng.alnum(8));
        }
        client.cmd_ok(&args).unwrap();
    }
    client.cmd_ok(&["SET", "small", "v"]).unwrap();
    let rdb = source.save_rdb().unwrap();

    let target = RedisServer::start().unwrap();
    let mut options = Options::new(caps_of(&target), now_ms());
    options.big_value_bytes = LIMIT_BYTES;
    let mut most_bytes_at_once = 0;
    let mut checked = 0;
    let applied = plan_into_with(&rdb, options, &target, |writes| {
        let mut at_once = 0;
        for w in writes {
            let parts = w.command.parts();
            let bytes: usize = parts.iter().map(|p| p.len()).sum();
            at_once += bytes;
            match &parts[0][..] {
                b"SET" | b"APPEND" if &parts[1][..] == b"big:string" => {
                    assert!(parts[2].len() <= MAX_STRING_PIECE_BYTES);
                    checked += 1;
                }
                b"HSET" => {
                    let fields = (parts.len() - 2) / 2;
                    assert!(fields <= MAX_BATCH_ELEMENTS, "{fields} fields");
                    assert!(bytes <= MAX_BATCH_BYTES + 64, "{bytes} bytes");
                    checked += 1;
                }
                _ => {}
            }
        }
        most_bytes_at_once = most_bytes_at_once.max(at_once);
    });
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    let s = &applied.summary;
    assert_eq!(
        (s.restored_keys, s.replayed_keys, s.big_keys_replayed),
        (1, 2, 2)
    );
    assert!(checked >= STRING_BYTES / MAX_STRING_PIECE_BYTES + FIELDS / MAX_BATCH_ELEMENTS);
    // What one item releases: at most what was held (the limit, plus one
    // raw chunk and one command), never the whole value.
    assert!(
        most_bytes_at_once < LIMIT_BYTES + 2 * MAX_BATCH_BYTES,
        "{most_bytes_at_once} bytes at once"
    );
    assert_eq!(digest(&target), digest(&source));
    assert_eq!(
        target.cmd(&["STRLEN", "big:string"]).unwrap().as_int(),
        Some(STRING_BYTES as i64)
    );
    assert_eq!(
        target.cmd(&["HLEN", "big:hash"]).unwrap().as_int(),
        Some(FIELDS as i64)
    );
}

#[test]
fn expired_keys_are_left_out_in_every_mode() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "live", "1"]).unwrap();
    source.cmd(&["SET", "dying", "1", "PX", "100000"]).unwrap();
    source.cmd(&["HSET", "h", "f", "v"]).unwrap();
    source.cmd(&["PEXPIRE", "h", "100000"]).unwrap();
    let rdb = source.save_rdb().unwrap();
    for mode in [Mode::Auto, Mode::Restore, Mode::Commands] {
        let target = RedisServer::start().unwrap();
        // The plan is made as if 200 s later.
        let mut options = Options::new(caps_of(&target), now_ms() + 200_000);
        options.mode = mode;
        let applied = plan_into(&rdb, options, &target);
        assert_eq!(applied.summary.expired_keys_skipped, 2, "{mode:?}");
        assert_eq!(
            applied.summary.restored_keys + applied.summary.replayed_keys,
            1
        );
        assert_eq!(target.cmd(&["DBSIZE"]).unwrap().as_int(), Some(1));
    }
}

#[test]
fn restore_ttls_are_relative_before_5_0_and_absolute_after() {
    let source = RedisServer::start().unwrap();
    let at = now_ms() + 3_600_000;
    source
        .cmd(&["SET", "k", "v", "PXAT", &at.to_string()])
        .unwrap();
    let rdb = source.save_rdb().unwrap();
    let now = now_ms();
    for (caps, ttl, absttl) in [
        (TargetCaps::redis(7, 0, 15), at, true),
        (TargetCaps::redis(4, 0, 14), at - now, false),
    ] {
        let mut planner = Planner::new(Options::new(caps, now));
        let mut writes = Vec::new();
        let config = Config {
            raw: true,
            ..Config::default()
        };
        for item in Reader::with_config(File::open(&rdb).unwrap(), config) {
            planner.handle_item(item.unwrap(), &mut writes).unwrap();
        }
        let [restore] = &writes[..] else {
            panic!("{writes:?}")
        };
        let parts = restore.command.parts();
        assert_eq!(&parts[2][..], ttl.to_string().as_bytes(), "{caps:?}");
        assert_eq!(parts.iter().any(|p| &p[..] == b"ABSTTL"), absttl);
        assert!(parts.iter().any(|p| &p[..] == b"REPLACE"));
        assert!(restore.last_of_key);
        let (_, version) = ferry_rdb::dump::split(&parts[3]).unwrap();
        assert_eq!(version, if absttl { 10 } else { 8 });
    }
}
