//! Against servers of other versions than the one on `PATH`, installed by
//! `scripts/install-servers.sh` (`ferry_testkit::ServerKind`; a missing one
//! fails the test with a message naming the script):
//!
//! - corpus files that Redis 7.4.1, Valkey 9.1.2 and Redis 6.2.5 wrote, through
//!   `ferry dump --format resp | redis-cli --pipe` into an empty server of the
//!   same version: same `DEBUG DIGEST`, and the same data down to hash field
//!   TTLs (`HPEXPIREAT`) and stream ids, which the digest leaves out;
//! - `ferry dump` (jsonl) of a file that a live server saved with hash field
//!   TTLs, against `HPEXPIRETIME` on that server.

use crate::corpus::{field_ttls, pairs};
use crate::roundtrip::{assert_same_data, round_trip_corpus_file};
use crate::support::{assert_ok, bytes_of, dump, json_lines};
use ferry_testkit::dataset::{self, FAR_FUTURE_MS, Snapshot, Value};
use ferry_testkit::{Client, RedisServer, ServerKind};
use std::collections::{BTreeMap, BTreeSet};

/// Round trip of a corpus file through two servers of `kind`; returns what the file holds.
fn assert_round_trip(file: &str, kind: ServerKind) -> Snapshot {
    let (source, target) = round_trip_corpus_file(file, &RedisServer::builder().version(kind));
    // Before 7.0 expire times are read as PTTL plus the local clock.
    let ttl_tolerance_ms = if kind.version() < (7, 0, 0) { 1000 } else { 0 };
    assert_same_data(&source, &target, ttl_tolerance_ms)
}

fn field_ttl_count(data: &Snapshot) -> usize {
    data.keys.values().map(|e| e.field_expire_at_ms.len()).sum()
}

/// [`assert_round_trip`] of a file with hash field TTLs (`HPEXPIREAT` in the replay).
fn assert_round_trip_with_field_ttls(file: &str, kind: ServerKind) {
    let data = assert_round_trip(file, kind);
    assert!(field_ttl_count(&data) > 0, "{file} has no hash field TTLs");
}

#[test]
fn resp_round_trip_into_redis_7_4_keeps_the_digest_and_the_field_ttls() {
    assert_round_trip_with_field_ttls("redis-7.4.1_hfe_seed5.rdb", ServerKind::Redis74);
}

#[test]
fn resp_round_trip_into_valkey_9_1_keeps_the_digest_and_the_field_ttls() {
    assert_round_trip_with_field_ttls("valkey-9.1.2_hfe_seed6.rdb", ServerKind::Valkey91);
}

#[test]
fn resp_round_trip_into_redis_6_2_keeps_the_digest_and_the_stream_ids() {
    // Streams of the v1 format: XSETID without the 7.0 options, which 6.2
    // refuses; an empty stream shows that its last id was set.
    let data = assert_round_trip("redis-6.2.5_seed4.rdb", ServerKind::Redis62);
    let empty_with_last_id = data
        .keys
        .values()
        .any(|e| matches!(&e.value, Value::Stream(s) if s.entries.is_empty() && s.last_id.ms > 0));
    assert!(empty_with_last_id, "no empty stream with a last id");
}

/// Hashes with field TTLs in every encoding: listpack (RDB type 25 on Redis
/// 7.4) and hashtable (type 24) by size and by value length, with a key TTL,
/// with TTLs removed again, in two databases. Times are distinct per field in
/// the large one and shared in the small ones.
fn fill_hashes_with_field_ttls(c: &mut Client) {
    let at = |n: i64| (FAR_FUTURE_MS + n).to_string();
    for db in ["0", "1"] {
        c.cmd_ok(&["SELECT", db]).unwrap();
        c.cmd_ok(&["HSET", "hfe:small", "a", "1", "b", "2", "c", "3", "d", "4"])
            .unwrap();
        c.cmd_ok(&["HPEXPIREAT", "hfe:small", &at(1), "FIELDS", "2", "a", "c"])
            .unwrap();
        c.cmd_ok(&["HPEXPIREAT", "hfe:small", &at(2), "FIELDS", "1", "d"])
            .unwrap();

        let fields: Vec<String> = (0..200).map(|i| format!("field:{i}")).collect();
        let mut hset = vec!["HSET", "hfe:big"];
        for f in &fields {
            hset.extend([f.as_str(), "v"]);
        }
        c.cmd_ok(&hset).unwrap();
        for (i, f) in fields.iter().enumerate().step_by(3) {
            let n = i64::try_from(i).unwrap();
            c.cmd_ok(&["HPEXPIREAT", "hfe:big", &at(1000 + n), "FIELDS", "1", f])
                .unwrap();
        }

        let long = "x".repeat(100);
        c.cmd_ok(&["HSET", "hfe:long", "short", "1", "long", &long])
            .unwrap();
        c.cmd_ok(&["HPEXPIREAT", "hfe:long", &at(3), "FIELDS", "1", "long"])
            .unwrap();

        c.cmd_ok(&["HSET", "hfe:key-ttl", "a", "1", "b", "2"])
            .unwrap();
        c.cmd_ok(&["HPEXPIREAT", "hfe:key-ttl", &at(4), "FIELDS", "1", "b"])
            .unwrap();
        c.cmd_ok(&["PEXPIREAT", "hfe:key-ttl", &at(5)]).unwrap();

        c.cmd_ok(&["HSET", "hfe:persisted", "a", "1", "b", "2"])
            .unwrap();
        c.cmd_ok(&[
            "HPEXPIREAT",
            "hfe:persisted",
            &at(6),
            "FIELDS",
            "2",
            "a",
            "b",
        ])
        .unwrap();
        c.cmd_ok(&["HPERSIST", "hfe:persisted", "FIELDS", "1", "a"])
            .unwrap();
    }
    c.cmd_ok(&["SELECT", "0"]).unwrap();
}

#[test]
fn jsonl_gives_the_field_ttls_that_a_live_server_saved() {
    for kind in [ServerKind::Redis74, ServerKind::Valkey91] {
        let name = kind.name();
        let server = RedisServer::start_version(kind).unwrap_or_else(|e| panic!("{e}"));
        let mut client = server.connect().unwrap();
        fill_hashes_with_field_ttls(&mut client);
        let want = dataset::snapshot(&mut client).unwrap();
        assert!(field_ttl_count(&want) > 140, "{name}: {want:?}");
        if kind == ServerKind::Redis74 {
            // Both RDB types of hashes with field TTLs: 25 and 24.
            let encodings: BTreeSet<_> = want
                .keys
                .values()
                .filter_map(|e| e.encoding.as_deref())
                .collect();
            assert_eq!(encodings, BTreeSet::from(["hashtable", "listpackex"]));
        }

        let out = dump(&server.save_rdb().unwrap(), &[]);
        assert_ok(&out);
        let lines = json_lines(&out.stdout);
        assert_eq!(lines.len(), want.len(), "{name}");
        for line in &lines {
            let db = line["db"].as_u64().unwrap();
            let key = bytes_of(&line["key"]);
            let entry = want
                .get(db, &key)
                .unwrap_or_else(|| panic!("{name}: unexpected key {line}"));
            let what = format!("{name} db {db} {}", String::from_utf8_lossy(&key));
            let Value::Hash(fields) = &entry.value else {
                panic!("{what} is not a hash");
            };
            assert_eq!(&pairs(&line["value"]), fields, "{what}");
            let ttls: BTreeMap<Vec<u8>, i64> = field_ttls(&line["value"])
                .into_iter()
                .map(|(field, ms)| (field, i64::try_from(ms).unwrap()))
                .collect();
            assert_eq!(ttls, entry.field_expire_at_ms, "{what}");
            assert_eq!(line["expire_at_ms"].as_i64(), entry.expire_at_ms, "{what}");
        }
    }
}
