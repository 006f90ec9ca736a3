//! `ferry sync` between topologies and versions: cluster sources, Redis 6.2, 7.0, Valkey 9.
//!
//! - a source cluster with replicas, replicated from its replicas (the
//!   default) into a cluster, and from its masters into one server;
//! - `--source-nodes`: two servers holding disjoint keys into one;
//! - Redis 6.2 → 7.0 (disk-based snapshot), 7.0 → Valkey 9.1 (diskless) and
//!   Valkey 9.1 → 7.0, compared key by key (`DEBUG DIGEST` may differ between
//!   versions for the same data);
//! - scripts (Redis 6.2 propagates `SCRIPT LOAD`, 7.0 does not) and function
//!   libraries reaching every master of a cluster target;
//! - transactions kept whole on a cluster target when their keys share a
//!   slot, split (and still applied) when they do not.
//!
//! The tests write to their source while the copy runs (the script tests
//! once the stream has started), wait for `caught-up` at the offsets the
//! source reports once the writers stopped, check that part of the writes
//! came through the stream, then compare.

use crate::support::cluster_snapshot;
use crate::sync_support::{CATCH_UP, Running, Source, Writer, cluster_writer, repl_offset, writer};
use ferry_testkit::dataset::{Snapshot, fill_varied, snapshot};
use ferry_testkit::{Client, RedisCluster, RedisServer, Reply, ServerKind, key_slot};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the writers keep the source busy while the sync copies.
const WRITE_FOR: Duration = Duration::from_secs(3);

/// Expire times may differ this much when both sides are 7.0+ (absolute
/// times are propagated and read with `PEXPIRETIME`).
const EXACT_TTL_MS: i64 = 0;

/// Redis 6.2 propagates `EXPIRE` as it was sent (the target counts from
/// when it applies it) and is read with `PTTL` plus the local clock.
const RELATIVE_TTL_MS: i64 = 5_000;

/// The Redis 7.0 on `PATH` as a source: its diskless transfer starts at
/// once (the default waits 5 s for more replicas, during which the writers
/// would only fill the snapshot and never the stream).
fn source_7_0() -> RedisServer {
    RedisServer::builder()
        .arg("--repl-diskless-sync-delay")
        .arg("0")
        .start()
        .unwrap()
}

/// Runs `write` in a thread for [`WRITE_FOR`]; the rounds it wrote.
fn write_during<F>(write: F) -> u64
where
    F: FnOnce(&AtomicBool) -> u64 + Send,
{
    std::thread::scope(|s| {
        let w = Writer::start(s, write);
        std::thread::sleep(WRITE_FOR);
        w.stop()
    })
}

/// `n` keys of each type under `prefix`, spread over the slots, some with
/// an expire time and a stream every tenth, through any source (database 0).
fn fill_keys(source: &dyn Source, prefix: &str, n: usize) {
    for i in 0..n {
        let k = |t: &str| format!("{prefix}{t}:{i}");
        let n = i.to_string();
        source.send(&["SET", &k("s"), &format!("value {i}")]);
        source.send(&["RPUSH", &k("l"), "a", &n, "c"]);
        source.send(&["SADD", &k("set"), "x", &n]);
        source.send(&["ZADD", &k("z"), "1.5", "a", &format!("{i}.25"), "b"]);
        source.send(&["HSET", &k("h"), "f", &n, "g", "v"]);
        if i.is_multiple_of(10) {
            source.send(&["XADD", &k("x"), "*", "i", &n]);
            source.send(&["PEXPIRE", &k("s"), "3600000"]);
        }
    }
}

/// Like `sync_support::writer`, with every key under `prefix` (two sources
/// written this way hold disjoint keys), database 1 now and then.
fn prefixed_writer(server: &RedisServer, prefix: &str, stop: &AtomicBool) -> u64 {
    let mut c = server.connect().unwrap();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let k = |t: &str| format!("{prefix}w:{t}:{}", i % 30);
        let n = i.to_string();
        c.cmd_ok(&["SET", &k("s"), &n]).unwrap();
        c.cmd_ok(&["INCR", &k("n")]).unwrap();
        c.cmd_ok(&["LPUSH", &k("l"), &n]).unwrap();
        c.cmd_ok(&["HSET", &k("h"), &format!("f{}", i % 7), &n])
            .unwrap();
        c.cmd_ok(&["ZADD", &k("z"), &format!("{i}.5"), &format!("m{}", i % 9)])
            .unwrap();
        c.cmd_ok(&["XADD", &k("x"), "*", "i", &n]).unwrap();
        c.cmd_ok(&["PEXPIRE", &k("s"), "3600000"]).unwrap();
        if i.is_multiple_of(5) {
            c.cmd_ok(&["DEL", &k("l"), &k("n")]).unwrap();
        }
        c.cmd_ok(&["MULTI"]).unwrap();
        c.cmd_ok(&["INCR", &format!("{prefix}{{t}}:a")]).unwrap();
        c.cmd_ok(&["INCR", &format!("{prefix}{{t}}:b")]).unwrap();
        c.cmd_ok(&["EXEC"]).unwrap();
        c.cmd_ok(&[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2])",
            "2",
            &format!("{prefix}{{lua}}:a"),
            &format!("{prefix}{{lua}}:b"),
            &n,
        ])
        .unwrap();
        if i.is_multiple_of(10) {
            c.cmd_ok(&["SELECT", "1"]).unwrap();
            c.cmd_ok(&["SET", &k("db1"), &n]).unwrap();
            c.cmd_ok(&["SELECT", "0"]).unwrap();
        }
        i += 1;
    }
    i
}

/// Only transactions, each on keys of one slot (a hash tag per round).
fn same_slot_transactions(server: &RedisServer, stop: &AtomicBool) -> u64 {
    let mut c = server.connect().unwrap();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let tag = format!("{{tx{}}}", i % 20);
        c.cmd_ok(&["MULTI"]).unwrap();
        c.cmd_ok(&["INCR", &format!("{tag}:n")]).unwrap();
        c.cmd_ok(&["SET", &format!("{tag}:s"), &i.to_string()])
            .unwrap();
        c.cmd_ok(&["RPUSH", &format!("{tag}:l"), &i.to_string()])
            .unwrap();
        let reply = c.cmd_ok(&["EXEC"]).unwrap();
        assert_eq!(reply.as_array().map(<[Reply]>::len), Some(3), "{reply:?}");
        i += 1;
    }
    i
}

/// A field of `INFO section`.
fn info_field(server: &RedisServer, section: &str, name: &str) -> Option<String> {
    let info = server.cmd(&["INFO", section]).unwrap();
    let text = String::from_utf8(info.into_bytes()?).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// Waits until every replica of `cluster` has received what its master has,
/// so that reading a replica's offset counts everything written.
fn wait_replicas_in_step(cluster: &RedisCluster) {
    let started = Instant::now();
    for replica in cluster.replicas() {
        let port: u16 = info_field(replica, "replication", "master_port")
            .and_then(|p| p.parse().ok())
            .unwrap();
        let master = cluster.masters().iter().find(|m| m.port() == port).unwrap();
        let want = repl_offset(master);
        while repl_offset(replica) < want {
            assert!(
                started.elapsed() < CATCH_UP,
                "replica {} never reached offset {want} of {}",
                replica.addr(),
                master.addr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Waits until the snapshot of every shard is written (the phase is
/// `incremental` or `caught-up`).
fn wait_streaming(sync: &Running) {
    let started = Instant::now();
    loop {
        let phase = sync.status().map(|s| s["phase"].clone());
        if phase.as_ref().and_then(Value::as_str) == Some("incremental")
            || phase.as_ref().and_then(Value::as_str) == Some("caught-up")
        {
            return;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "the snapshots never finished (phase {phase:?})\n{}",
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The addresses the status says it replicates from.
fn shard_sources(status: &Value) -> BTreeSet<String> {
    status["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap().to_owned())
        .collect()
}

fn addrs<'a>(servers: impl IntoIterator<Item = &'a RedisServer>) -> BTreeSet<String> {
    servers.into_iter().map(RedisServer::addr).collect()
}

/// Some of what the writers did came through the command stream, not only
/// in the snapshot.
fn assert_streamed(status: &Value, log: &str) {
    assert!(
        status["commands_applied"].as_u64() > Some(0),
        "nothing came through the stream: {status}\n{log}"
    );
}

/// Nothing refused by the target, nothing left unapplied.
fn assert_clean(status: &Value, log: &str) {
    assert_eq!(status["commands_failed"], 0, "{status}\n{log}");
    assert_eq!(status["commands_unapplied"], 0, "{status}\n{log}");
}

/// `want` and `got` hold the same keys and values.
fn assert_same(want: &Snapshot, got: &Snapshot, ttl_tolerance_ms: i64, sync: &Running) {
    let diff = want.diff(got, ttl_tolerance_ms);
    assert!(
        diff.is_empty(),
        "{} of {} keys differ:\n{}\n{}",
        diff.len(),
        want.len(),
        diff.join("\n"),
        sync.log()
    );
}

fn snapshot_of(server: &RedisServer) -> Snapshot {
    snapshot(&mut server.connect().unwrap()).unwrap()
}

/// Every key of every server in `servers`, together.
fn union_snapshot<'a>(servers: impl IntoIterator<Item = &'a RedisServer>) -> Snapshot {
    let mut all = Snapshot::default();
    for server in servers {
        all.keys.extend(snapshot_of(server).keys);
    }
    all
}

/// A key that `master` serves in `cluster`.
fn key_on(cluster: &RedisCluster, master: &RedisServer, prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| cluster.slot_owner(key_slot(k.as_bytes())).port() == master.port())
        .unwrap()
}

/// The sum over `servers` of the calls of `command` in `INFO commandstats`.
fn calls(servers: &[RedisServer], command: &str) -> u64 {
    servers
        .iter()
        .filter_map(|s| info_field(s, "commandstats", &format!("cmdstat_{command}")))
        .filter_map(|stats| {
            stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

#[test]
fn sync_replicates_each_shard_of_a_cluster_from_its_replica_into_a_cluster() {
    let source = RedisCluster::builder()
        .masters(3)
        .replicas(1)
        .start()
        .unwrap();
    fill_keys(&source, "pre:", 200);
    let target = RedisCluster::start(3).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let written = write_during(|stop| cluster_writer(&source, stop));
    assert!(written > 20, "the writer wrote {written} rounds");
    wait_replicas_in_step(&source);
    let replicas: Vec<&RedisServer> = source.replicas().iter().collect();
    let status = sync.wait_caught_up(&replicas);
    assert_eq!(shard_sources(&status), addrs(source.replicas()), "{status}");
    let log = sync.log();
    for replica in source.replicas() {
        assert!(
            log.contains(&format!("{} (replica of ", replica.addr())),
            "{log}"
        );
    }
    assert_same(
        &cluster_snapshot(&source),
        &cluster_snapshot(&target),
        EXACT_TTL_MS,
        &sync,
    );
    assert_streamed(&status, &log);
    assert_clean(&status, &log);
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn sync_replicates_a_cluster_from_its_masters_into_one_server() {
    let source = RedisCluster::builder()
        .masters(3)
        .replicas(1)
        .start()
        .unwrap();
    fill_keys(&source, "pre:", 200);
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&[
        "--source",
        &source.replicas()[0].addr(),
        "--source-prefer",
        "master",
        "--target",
        &target.addr(),
    ]);
    let written = write_during(|stop| cluster_writer(&source, stop));
    assert!(written > 20, "the writer wrote {written} rounds");
    let masters: Vec<&RedisServer> = source.masters().iter().collect();
    let status = sync.wait_caught_up(&masters);
    assert_eq!(shard_sources(&status), addrs(source.masters()), "{status}");
    assert!(!sync.log().contains("replica of"), "{}", sync.log());
    let want = cluster_snapshot(&source);
    assert!(want.len() > 1000, "only {} keys", want.len());
    assert_same(&want, &snapshot_of(&target), EXACT_TTL_MS, &sync);
    assert_streamed(&status, &sync.log());
    assert_clean(&status, &sync.log());
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn sync_merges_the_nodes_listed_with_source_nodes_into_one_server() {
    let a = source_7_0();
    let b = source_7_0();
    fill_keys(&a, "a:", 150);
    fill_keys(&b, "b:", 150);
    let target = RedisServer::start().unwrap();
    let nodes = format!("{},{}", a.addr(), b.addr());
    let sync = Running::start(&[
        "--source-nodes",
        &nodes,
        "--source",
        &a.addr(),
        "--target",
        &target.addr(),
    ]);
    let (on_a, on_b) = std::thread::scope(|s| {
        let wa = Writer::start(s, |stop| prefixed_writer(&a, "a:", stop));
        let wb = Writer::start(s, |stop| prefixed_writer(&b, "b:", stop));
        std::thread::sleep(WRITE_FOR);
        (wa.stop(), wb.stop())
    });
    assert!(
        on_a > 20 && on_b > 20,
        "the writers wrote {on_a} and {on_b} rounds"
    );
    let status = sync.wait_caught_up(&[&a, &b]);
    assert_eq!(shard_sources(&status), addrs([&a, &b]), "{status}");
    let want = union_snapshot([&a, &b]);
    assert_eq!(
        want.len(),
        snapshot_of(&a).len() + snapshot_of(&b).len(),
        "the sources share keys"
    );
    assert_same(&want, &snapshot_of(&target), EXACT_TTL_MS, &sync);
    assert_streamed(&status, &sync.log());
    assert_clean(&status, &sync.log());
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// What two versions may tell differently of the same data, or what
/// cannot be carried between them, left out of both sides before comparing.
type Normalize = fn(Snapshot) -> Snapshot;

/// Consumers' seen and active times are not carried over (and 7.0 has no
/// active time): only the rest is compared.
fn same_version_fields(data: Snapshot) -> Snapshot {
    data.without_times()
}

/// Redis 6.2 does not know a stream's first id, maximal deleted id, entries
/// added nor a group's entries read; 7.0 derives them when it loads a 6.2
/// stream. Compared without them.
fn without_stream_v2_fields(data: Snapshot) -> Snapshot {
    let mut data = data.without_times();
    for entry in data.keys.values_mut() {
        if let ferry_testkit::dataset::Value::Stream(s) = &mut entry.value {
            s.first_id = None;
            s.max_deleted_id = None;
            s.entries_added = None;
            for g in &mut s.groups {
                g.entries_read = None;
            }
        }
    }
    data
}

/// Pending entries whose stream entry was deleted left out: replayed as
/// commands (a Valkey 9 snapshot into Redis 7.0 cannot be `RESTORE`d),
/// they are lost, as `XCLAIM` ignores ids that are not in the stream (a
/// documented limit of `ferry_sink::replay`).
fn without_pending_of_deleted_entries(data: Snapshot) -> Snapshot {
    let mut data = data.without_times();
    for entry in data.keys.values_mut() {
        if let ferry_testkit::dataset::Value::Stream(s) = &mut entry.value {
            let live: BTreeSet<_> = s.entries.iter().map(|e| e.id).collect();
            for g in &mut s.groups {
                g.pending.retain(|p| live.contains(&p.id));
                for c in &mut g.consumers {
                    c.pending.retain(|id| live.contains(id));
                }
            }
        }
    }
    data
}

/// Fills `source`, syncs it into `target` while a writer runs, and compares
/// key by key once caught up, both sides through `normalize`.
/// `snapshot_kind`, when given, is what the source's log says of the
/// transfer (`disk` or `replicas sockets`).
fn sync_across_versions(
    source: &RedisServer,
    target: &RedisServer,
    snapshot_kind: Option<&str>,
    ttl_tolerance_ms: i64,
    normalize: Normalize,
) {
    fill_varied(&mut source.connect().unwrap(), 71).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let written = write_during(|stop| writer(source, stop, false));
    assert!(written > 20, "the writer wrote {written} rounds");
    let status = sync.wait_caught_up(&[source]);
    let want = normalize(snapshot_of(source));
    let got = normalize(snapshot_of(target));
    assert_same(&want, &got, ttl_tolerance_ms, &sync);
    assert_streamed(&status, &sync.log());
    assert_clean(&status, &sync.log());
    if let Some(kind) = snapshot_kind {
        let source_log = source.log();
        assert!(
            source_log.contains(&format!("Starting BGSAVE for SYNC with target: {kind}")),
            "{source_log}"
        );
    }
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("snapshot written"), "{log}");
}

#[test]
fn sync_copies_redis_6_2_into_7_0_from_a_disk_based_snapshot() {
    let source = RedisServer::builder()
        .version(ServerKind::Redis62)
        .arg("--repl-diskless-sync")
        .arg("no")
        .start()
        .unwrap();
    let target = RedisServer::start().unwrap();
    sync_across_versions(
        &source,
        &target,
        Some("disk"),
        RELATIVE_TTL_MS,
        without_stream_v2_fields,
    );
}

#[test]
fn sync_copies_redis_7_0_into_valkey_9_1_from_a_diskless_snapshot() {
    let source = RedisServer::builder()
        .arg("--repl-diskless-sync")
        .arg("yes")
        .arg("--repl-diskless-sync-delay")
        .arg("0")
        .start()
        .unwrap();
    let target = RedisServer::start_version(ServerKind::Valkey91).unwrap();
    sync_across_versions(
        &source,
        &target,
        Some("replicas sockets"),
        EXACT_TTL_MS,
        same_version_fields,
    );
}

#[test]
fn sync_copies_valkey_9_1_into_redis_7_0() {
    // Valkey 9.1.2 streams the snapshot through the socket even with
    // `--repl-diskless-sync no` (to `redis-cli --replica` too): the kind of
    // transfer is its choice, not checked here.
    let source = RedisServer::builder()
        .version(ServerKind::Valkey91)
        .arg("--repl-diskless-sync-delay")
        .arg("0")
        .start()
        .unwrap();
    let target = RedisServer::start().unwrap();
    sync_across_versions(
        &source,
        &target,
        None,
        EXACT_TTL_MS,
        without_pending_of_deleted_entries,
    );
}

const SCRIPT: &str = "return redis.call('SET', KEYS[1], ARGV[1])";

/// `EVALSHA sha 1 <a key of that master> v` on every master of `cluster`
/// answers OK (not NOSCRIPT).
fn assert_script_everywhere(cluster: &RedisCluster, sha: &str, sync: &Running) {
    for master in cluster.masters() {
        let key = key_on(cluster, master, "evalsha:");
        let reply = master.cmd(&["EVALSHA", sha, "1", &key, "v"]).unwrap();
        assert_eq!(
            reply.as_str(),
            Some("OK"),
            "EVALSHA on {}: {reply:?}\n{}",
            master.addr(),
            sync.log()
        );
    }
}

#[test]
fn scripts_loaded_on_redis_6_2_during_the_sync_reach_every_master_of_a_cluster() {
    let source = RedisServer::start_version(ServerKind::Redis62).unwrap();
    fill_keys(&source, "pre:", 50);
    let target = RedisCluster::start(3).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    wait_streaming(&sync);
    // 6.2 propagates SCRIPT LOAD (7.0 does not), and EVALSHA as the
    // script's effects: MULTI, SET, EXEC.
    let sha = source.cmd(&["SCRIPT", "LOAD", SCRIPT]).unwrap();
    let sha = sha.as_str().unwrap().to_owned();
    let reply = source
        .cmd(&["EVALSHA", &sha, "1", "by:evalsha", "1"])
        .unwrap();
    assert_eq!(reply.as_str(), Some("OK"), "{reply:?}");
    let status = sync.wait_caught_up(&[&source]);
    assert!(status["commands_received"].as_u64() >= Some(4), "{status}");
    assert_clean(&status, &sync.log());
    assert_eq!(
        target.cmd(&["GET", "by:evalsha"]).unwrap().as_str(),
        Some("1")
    );
    assert_script_everywhere(&target, &sha, &sync);
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn scripts_in_the_snapshot_of_redis_6_2_reach_every_master_of_a_cluster() {
    let source = RedisServer::start_version(ServerKind::Redis62).unwrap();
    let sha = source.cmd(&["SCRIPT", "LOAD", SCRIPT]).unwrap();
    let sha = sha.as_str().unwrap().to_owned();
    source.cmd(&["SET", "a", "1"]).unwrap();
    let target = RedisCluster::start(3).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let status = sync.wait_caught_up(&[&source]);
    assert_clean(&status, &sync.log());
    assert_script_everywhere(&target, &sha, &sync);
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// A library `name` with one function `name_set(key, value)`.
fn library(name: &str) -> String {
    format!(
        "#!lua name={name}\nredis.register_function('{name}_set', function(keys, args) \
         return redis.call('SET', keys[1], args[1]) end)"
    )
}

/// The library names `FUNCTION LIST` gives on `server`.
fn libraries(server: &RedisServer) -> BTreeSet<String> {
    let reply = server.cmd(&["FUNCTION", "LIST"]).unwrap();
    reply
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|lib| {
            let fields = lib.as_array()?;
            let at = fields
                .iter()
                .position(|f| f.as_str() == Some("library_name"))?;
            Some(fields.get(at + 1)?.as_str()?.to_owned())
        })
        .collect()
}

#[test]
fn functions_loaded_on_redis_7_0_reach_every_master_of_a_cluster() {
    let source = source_7_0();
    // One in the snapshot, one in the stream.
    source
        .cmd(&["FUNCTION", "LOAD", &library("before")])
        .unwrap()
        .into_result()
        .unwrap();
    fill_keys(&source, "pre:", 50);
    let target = RedisCluster::start(3).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    wait_streaming(&sync);
    source
        .cmd(&["FUNCTION", "LOAD", &library("during")])
        .unwrap()
        .into_result()
        .unwrap();
    source
        .cmd(&["FCALL", "during_set", "1", "by:fcall", "1"])
        .unwrap()
        .into_result()
        .unwrap();
    let status = sync.wait_caught_up(&[&source]);
    assert_clean(&status, &sync.log());
    let want: BTreeSet<String> = ["before", "during"].map(String::from).into();
    for master in target.masters() {
        assert_eq!(
            libraries(master),
            want,
            "on {}\n{}",
            master.addr(),
            sync.log()
        );
        let key = key_on(&target, master, "fcall:");
        for function in ["before_set", "during_set"] {
            let reply = master.cmd(&["FCALL", function, "1", &key, "v"]).unwrap();
            assert_eq!(
                reply.as_str(),
                Some("OK"),
                "{function} on {}: {reply:?}",
                master.addr()
            );
        }
    }
    assert_eq!(
        target.cmd(&["GET", "by:fcall"]).unwrap().as_str(),
        Some("1")
    );
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn transactions_in_one_slot_stay_transactions_on_a_cluster_and_others_are_split() {
    let source = source_7_0();
    fill_keys(&source, "pre:", 50);
    let target = RedisCluster::start(3).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let transactions = write_during(|stop| same_slot_transactions(&source, stop));
    assert!(
        transactions > 20,
        "the writer ran {transactions} transactions"
    );
    let status = sync.wait_caught_up(&[&source]);
    assert_eq!(status["transactions_split"], 0, "{status}\n{}", sync.log());
    assert_streamed(&status, &sync.log());
    assert_clean(&status, &sync.log());
    // Kept whole: the target's masters ran them as MULTI ... EXEC.
    // Each transaction of the stream is five writes (MULTI, INCR, SET,
    // RPUSH, EXEC): every write applied was part of one.
    let execs = calls(target.masters(), "exec");
    assert!(execs > 0, "no EXEC on the target\n{}", sync.log());
    assert_eq!(calls(target.masters(), "multi"), execs);
    assert_eq!(
        status["commands_applied"].as_u64(),
        Some(5 * execs),
        "{execs} EXEC on the target for {transactions} transactions: {status}"
    );
    assert_same(
        &snapshot_of(&source),
        &cluster_snapshot(&target),
        EXACT_TTL_MS,
        &sync,
    );

    // Two slots: applied as separate commands, counted.
    assert_ne!(key_slot(b"{x}:a"), key_slot(b"{y}:b"));
    let mut c: Client = source.connect().unwrap();
    c.cmd_ok(&["MULTI"]).unwrap();
    c.cmd_ok(&["SET", "{x}:a", "1"]).unwrap();
    c.cmd_ok(&["INCR", "{y}:b"]).unwrap();
    c.cmd_ok(&["RPUSH", "{x}:l", "a", "b"]).unwrap();
    c.cmd_ok(&["EXEC"]).unwrap();
    let status = sync.wait_caught_up(&[&source]);
    assert!(
        status["transactions_split"].as_u64() >= Some(1),
        "{status}\n{}",
        sync.log()
    );
    assert_clean(&status, &sync.log());
    assert_same(
        &snapshot_of(&source),
        &cluster_snapshot(&target),
        EXACT_TTL_MS,
        &sync,
    );
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("1 transactions applied as separate commands"),
        "{log}"
    );
}
