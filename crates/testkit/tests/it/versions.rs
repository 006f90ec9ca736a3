//! Servers of fixed versions from `scripts/install-servers.sh`.

use ferry_testkit::dataset::{FAR_FUTURE_MS, snapshot};
use ferry_testkit::{RedisServer, Reply, ServerKind};
use std::collections::BTreeMap;

fn start(kind: ServerKind) -> RedisServer {
    RedisServer::start_version(kind).unwrap_or_else(|e| panic!("{}: {e}", kind.name()))
}

#[test]
fn every_installed_version_starts_and_reports_its_version() {
    for kind in ServerKind::ALL {
        let server = start(kind);
        let info = server.cmd(&["INFO", "server"]).expect("info");
        let product = if kind.is_valkey() { "valkey" } else { "redis" };
        let (major, minor, patch) = kind.version();
        let want = format!("{product}_version:{major}.{minor}.{patch}");
        let text = info.as_str().expect("INFO is text");
        assert!(text.lines().any(|l| l == want), "{}: {text}", kind.name());
        // DEBUG is allowed where it needs allowing (7.0+); 6.2 always has it.
        let digest = server.cmd(&["DEBUG", "DIGEST"]).expect("debug digest");
        assert!(!digest.is_error(), "{}: {digest:?}", kind.name());
    }
}

#[test]
fn a_server_of_another_version_loads_the_dump_file_it_is_given() {
    let source = RedisServer::start().expect("redis-server starts");
    source.cmd(&["SET", "greeting", "hello"]).expect("set");
    source.cmd(&["RPUSH", "list", "a", "b"]).expect("rpush");
    let rdb = source.save_rdb().expect("save");
    let newer = RedisServer::builder()
        .version(ServerKind::Redis74)
        .rdb(&rdb)
        .start()
        .expect("redis 7.4.1 starts with the file");
    assert_ne!(newer.dir(), source.dir());
    assert_eq!(newer.cmd(&["DBSIZE"]).expect("dbsize"), Reply::Int(2));
    assert_eq!(
        newer.cmd(&["GET", "greeting"]).expect("get").as_str(),
        Some("hello")
    );
}

#[test]
fn snapshot_reads_hash_field_expire_times_where_the_server_has_them() {
    for kind in [ServerKind::Redis74, ServerKind::Valkey91] {
        let server = start(kind);
        let mut c = server.connect().expect("connect");
        c.cmd_ok(&["HSET", "h", "a", "1", "b", "2", "c", "3"])
            .expect("hset");
        let at = (FAR_FUTURE_MS + 5).to_string();
        c.cmd_ok(&["HPEXPIREAT", "h", &at, "FIELDS", "2", "a", "c"])
            .expect("hpexpireat");
        let snap = snapshot(&mut c).expect("snapshot");
        let entry = snap.get(0, b"h").expect("h");
        let want = BTreeMap::from([
            (b"a".to_vec(), FAR_FUTURE_MS + 5),
            (b"c".to_vec(), FAR_FUTURE_MS + 5),
        ]);
        assert_eq!(entry.field_expire_at_ms, want, "{}", kind.name());

        let mut other = snap.clone();
        if let Some(e) = other.keys.get_mut(&(0, b"h".to_vec())) {
            e.field_expire_at_ms.remove(b"c".as_slice());
        }
        assert_eq!(snap.diff(&other, 0).len(), 1, "{}", kind.name());
    }
    // Servers without field TTLs give none.
    let old = start(ServerKind::Redis62);
    old.cmd(&["HSET", "h", "a", "1"]).expect("hset");
    let snap = snapshot(&mut old.connect().expect("connect")).expect("snapshot");
    assert!(snap.get(0, b"h").expect("h").field_expire_at_ms.is_empty());
}
