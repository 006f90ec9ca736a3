//! fill_varied and snapshot against a real server.

use ferry_testkit::RedisServer;
use ferry_testkit::dataset::{FILL_DBS, Value, fill_varied, snapshot};
use std::collections::BTreeSet;

fn filled(seed: u64) -> (RedisServer, ferry_testkit::dataset::Snapshot) {
    let server = RedisServer::start().expect("redis-server starts");
    let mut c = server.connect().expect("connect");
    fill_varied(&mut c, seed).expect("fill");
    let snap = snapshot(&mut c).expect("snapshot");
    (server, snap)
}

#[test]
fn fill_varied_covers_every_type_and_encoding() {
    let (server, snap) = filled(1);
    let dbs: BTreeSet<u64> = snap.keys.keys().map(|(db, _)| *db).collect();
    assert_eq!(dbs, (0..FILL_DBS).collect());
    let kinds: BTreeSet<&str> = snap.keys.values().map(|e| e.value.kind()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["string", "list", "set", "zset", "hash", "stream"])
    );
    let encodings: BTreeSet<(&str, &str)> = snap
        .keys
        .values()
        .filter_map(|e| Some((e.value.kind(), e.encoding.as_deref()?)))
        .collect();
    for want in [
        ("string", "int"),
        ("string", "embstr"),
        ("string", "raw"),
        ("list", "quicklist"),
        ("set", "intset"),
        ("set", "hashtable"),
        ("zset", "listpack"),
        ("zset", "skiplist"),
        ("hash", "listpack"),
        ("hash", "hashtable"),
        ("stream", "stream"),
    ] {
        assert!(encodings.contains(&want), "no {want:?} in {encodings:?}");
    }
    let ttls = snap
        .keys
        .values()
        .filter(|e| e.expire_at_ms.is_some())
        .count();
    assert!(ttls >= 10, "{ttls} keys with TTL");

    let big = snap.get(0, b"str:big").expect("str:big");
    assert!(matches!(&big.value, Value::String(v) if v.len() == 2 * 1024 * 1024));
    assert!(snap.get(2, b"").is_some(), "empty key name in db 2");
    let Some(Value::Stream(s)) = snap.get(0, b"stream:main").map(|e| &e.value) else {
        panic!("stream:main is a stream");
    };
    assert_eq!(s.groups.len(), 2);
    assert_eq!(s.length as usize, s.entries.len());
    let g1 = &s.groups[0];
    let owners: BTreeSet<&[u8]> = g1.pending.iter().map(|p| p.consumer.as_slice()).collect();
    assert_eq!(owners, BTreeSet::from([&b"alice"[..], &b"bob"[..]]));
    assert_eq!(g1.pending.len(), 6, "8 delivered, 2 acked");
    assert!(s.max_deleted_id.is_some_and(|id| id.ms > 0));
    assert!(
        s.groups[1]
            .consumers
            .iter()
            .any(|c| c.name == b"dave" && c.pending.is_empty())
    );
    let Some(Value::Stream(t)) = snap.get(0, b"stream:trimmed").map(|e| &e.value) else {
        panic!("stream:trimmed is a stream");
    };
    assert!(t.entries.is_empty() && t.length == 0 && t.last_id.ms == 3);

    // The plain-node list only exists when DEBUG is allowed (7.0+ with start()).
    let plain = server
        .cmd(&["DEBUG", "QUICKLIST", "list:plain", "1"])
        .expect("debug");
    if !plain.is_error() {
        let log = server.log();
        assert!(log.contains("container : PLAIN"), "{log}");
    }
}

#[test]
fn fill_varied_is_deterministic_for_a_seed() {
    let (_a, snap_a) = filled(7);
    let (_b, snap_b) = filled(7);
    let (_c, snap_c) = filled(8);
    let (a, b) = (snap_a.without_times(), snap_b.without_times());
    let diff = a.diff(&b, 0);
    assert!(diff.is_empty(), "{diff:#?}");
    assert!(!a.diff(&snap_c.without_times(), 0).is_empty());
}
