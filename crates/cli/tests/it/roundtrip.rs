//! Real round trips: an RDB written (or loaded) by a real `redis-server`, through
//! `ferry dump --format resp | redis-cli --pipe`, into an empty server; both
//! servers must agree on `DEBUG DIGEST`.

use crate::support::{corpus_file, digest, ferry, stderr, testdata};
use ferry_testkit::{RedisServer, ServerBuilder, dataset, redis_cli, redis_server, server_version};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;

/// `(db, DBSIZE)` of every non-empty database.
fn keyspace(server: &RedisServer) -> Vec<(u64, i64)> {
    (0..16u64)
        .map(|db| {
            let mut c = server.connect().unwrap();
            c.cmd(&["SELECT", &db.to_string()]).unwrap();
            (db, c.cmd(&["DBSIZE"]).unwrap().as_int().unwrap())
        })
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// `ferry dump RDB --format resp | redis-cli -p PORT --pipe`; returns redis-cli's report.
fn pipe_into(rdb: &Path, target: &RedisServer) -> String {
    let mut dump = ferry()
        .args(["dump", rdb.to_str().unwrap(), "--format", "resp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let commands = dump.stdout.take().unwrap();
    let cli = std::process::Command::new(redis_cli().unwrap())
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &target.port().to_string(),
            "--pipe",
        ])
        .stdin(Stdio::from(commands))
        .output()
        .unwrap();
    let dumped = dump.wait_with_output().unwrap();
    assert!(dumped.status.success(), "ferry dump: {}", stderr(&dumped));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(cli.status.success(), "redis-cli --pipe: {report}");
    assert!(report.contains("errors: 0,"), "redis-cli --pipe: {report}");
    report
}

/// `generated/expected.json`: what the corpus's generated files hold.
fn manifest() -> Value {
    let path = testdata().join("generated/expected.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Round trip of the generated corpus file `file` through servers that
/// `server` starts: one loads the file (and must hold every key the manifest
/// lists), `ferry dump --format resp | redis-cli --pipe` fills an empty one;
/// both must agree on `DEBUG DIGEST` and on the keys per database. Returns
/// the two servers, source first, for further checks.
pub fn round_trip_corpus_file(file: &str, server: &ServerBuilder) -> (RedisServer, RedisServer) {
    let rdb = corpus_file(&format!("generated/{file}"));
    let keys = manifest()[file]["keys"].as_u64();
    let start = |server: ServerBuilder| server.start().unwrap_or_else(|e| panic!("{e}"));
    let source = start(server.clone().rdb(&rdb));
    let loaded: i64 = keyspace(&source).iter().map(|&(_, n)| n).sum();
    assert_eq!(u64::try_from(loaded).ok(), keys, "{file} did not load");
    let target = start(server.clone());
    pipe_into(&rdb, &target);
    assert_eq!(digest(&target), digest(&source), "{file}");
    assert_eq!(keyspace(&target), keyspace(&source), "{file}");
    (source, target)
}

/// Beyond the digest (which ignores TTL values, hash field TTLs and stream
/// groups): every key of `source` and `target` must match, expire times within
/// `ttl_tolerance_ms`. The only difference allowed, at most once per database,
/// is the pending entry of `stream:main` whose stream entry was deleted, which
/// XCLAIM cannot recreate. Returns what `source` holds.
pub fn assert_same_data(
    source: &RedisServer,
    target: &RedisServer,
    ttl_tolerance_ms: i64,
) -> dataset::Snapshot {
    let read = |server: &RedisServer| {
        dataset::snapshot(&mut server.connect().unwrap())
            .unwrap()
            .without_times()
    };
    let want = read(source);
    let diffs = want.diff(&read(target), ttl_tolerance_ms);
    assert!(
        diffs.iter().all(|d| d.contains("stream:main\": group ")),
        "unexpected differences:\n{}",
        diffs.join("\n")
    );
    assert!(
        diffs.len() <= keyspace(source).len(),
        "differences:\n{}",
        diffs.join("\n")
    );
    want
}

/// The highest RDB version the local `redis-server` loads.
fn max_rdb_version() -> u64 {
    match server_version(&redis_server().unwrap()).unwrap() {
        (major, ..) if major >= 8 => 12,
        (7, minor, _) if minor >= 4 => 12,
        (7, 2, _) => 11,
        (7, ..) => 10,
        (6, ..) | (5, ..) => 9,
        _ => 8,
    }
}

#[test]
fn resp_round_trip_of_a_filled_server_keeps_the_digest_and_the_data() {
    let source = RedisServer::start().unwrap();
    let mut client = source.connect().unwrap();
    dataset::fill_varied(&mut client, 7).unwrap();
    let want_digest = digest(&source);
    let rdb = source.save_rdb().unwrap();

    let target = RedisServer::start().unwrap();
    pipe_into(&rdb, &target);
    assert_eq!(digest(&target), want_digest);
    assert_eq!(keyspace(&target), keyspace(&source));
    assert_same_data(&source, &target, 0);
}

#[test]
fn resp_round_trip_of_generated_corpus_files_keeps_the_digest() {
    let max = max_rdb_version();
    let mut tested = Vec::new();
    for (file, facts) in manifest().as_object().unwrap() {
        if facts["rdb_version"].as_u64().unwrap() > max || file.starts_with("valkey") {
            continue;
        }
        round_trip_corpus_file(file, &RedisServer::builder());
        tested.push(file.clone());
    }
    assert!(
        tested.len() >= 9,
        "only {tested:?} could be loaded (max RDB {max})"
    );
}
