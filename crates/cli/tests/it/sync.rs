//! `ferry sync` against real servers: a source that keeps being written
//! while it is copied, into a standalone target and into a 3-master cluster.

use crate::support::{cluster_snapshot, digest};
use crate::sync_support::{CATCH_UP, Running, write_for};
use ferry_testkit::dataset::{fill_varied, snapshot};
use ferry_testkit::{RedisCluster, RedisServer};
use std::time::{Duration, Instant};

/// A source that starts its snapshot at once: with Redis 7.0's default 5 s
/// diskless delay, a short writer would only ever fill the snapshot and the
/// command stream would go untested.
fn streaming_source() -> RedisServer {
    RedisServer::builder()
        .arg("--repl-diskless-sync-delay")
        .arg("0")
        .start()
        .unwrap()
}

#[test]
fn sync_copies_a_source_written_during_the_copy_into_standalone() {
    let source = streaming_source();
    fill_varied(&mut source.connect().unwrap(), 60).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let written = write_for(&source, 3, false);
    assert!(written > 50, "the writer wrote {written} rounds");
    let want = digest(&source);
    let started = Instant::now();
    while digest(&target) != want {
        assert!(
            started.elapsed() < CATCH_UP,
            "target never caught up:\n{}",
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("snapshot written"), "{log}");
    assert!(
        log.contains("0 refused by the target, 0 not applicable"),
        "{log}"
    );
}

#[test]
fn sync_copies_a_source_written_during_the_copy_into_a_cluster() {
    let source = streaming_source();
    // Database 0 only: a cluster has no other.
    {
        let mut c = source.connect().unwrap();
        for i in 0..2000 {
            c.cmd(&["SET", &format!("pre:{i}"), "x"]).unwrap();
            c.cmd(&["RPUSH", &format!("prel:{}", i % 100), &i.to_string()])
                .unwrap();
        }
    }
    let cluster = RedisCluster::start(3).unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &cluster.addr()]);
    write_for(&source, 3, true);
    let want = snapshot(&mut source.connect().unwrap()).unwrap();
    let started = Instant::now();
    loop {
        let diff = want.diff(&cluster_snapshot(&cluster), 2000);
        if diff.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "target never caught up:\n{}\n{}",
            diff.join("\n"),
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("transactions applied as separate commands"),
        "{log}"
    );
}

#[test]
fn sync_refuses_a_non_empty_target() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "a", "1"]).unwrap();
    let target = RedisServer::start().unwrap();
    target.cmd(&["SET", "mine", "1"]).unwrap();
    let (code, log) =
        Running::start(&["--source", &source.addr(), "--target", &target.addr()]).exit();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("already holds 1 key"), "{log}");
    // The check of `ferry check` stopped it, and says how to go on.
    assert!(log.contains("check: fail   target.empty"), "{log}");
    assert!(log.contains("--skip-check"), "{log}");
    assert_eq!(target.cmd(&["DBSIZE"]).unwrap().as_int(), Some(1));

    // Named, the failure is reported and the sync goes on: the target's own
    // key stays beside the source's.
    let sync = Running::start(&[
        "--source",
        &source.addr(),
        "--target",
        &target.addr(),
        "--skip-check",
        "target.empty",
    ]);
    sync.wait_caught_up(&[&source]);
    assert_eq!(
        target.cmd(&["GET", "a"]).unwrap().as_bytes(),
        Some(&b"1"[..])
    );
    assert_eq!(target.cmd(&["DBSIZE"]).unwrap().as_int(), Some(2));
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("going on: --skip-check target.empty"), "{log}");
}

#[test]
fn an_unknown_skip_check_is_a_usage_error() {
    let out = crate::support::run(&[
        "sync",
        "--source",
        "127.0.0.1:1",
        "--target",
        "127.0.0.1:2",
        "--skip-check",
        "target.emtpy",
    ]);
    assert_eq!(crate::support::code(&out), 2);
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("no such check") && err.contains("target.empty"),
        "{err}"
    );
}

#[test]
fn a_taken_status_address_is_reported_before_anything_is_checked() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    // Nothing listens at the source or the target: the status address is
    // what must be named.
    let out = crate::support::run(&[
        "sync",
        "--source",
        "127.0.0.1:1",
        "--target",
        "127.0.0.1:2",
        "--status-addr",
        &addr,
    ]);
    assert_eq!(crate::support::code(&out), 2);
    let err = crate::support::stderr(&out);
    assert!(
        err.contains(&format!("--status-addr {addr}: cannot listen there")),
        "{err}"
    );
    assert!(!err.contains("check:"), "{err}");
}

#[test]
fn a_flushall_on_the_source_stops_the_sync_without_allow_flush() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "a", "1"]).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let started = Instant::now();
    while target.cmd(&["GET", "a"]).unwrap().as_str() != Some("1") {
        assert!(started.elapsed() < CATCH_UP, "{}", sync.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    source.cmd(&["FLUSHALL"]).unwrap();
    let (code, log) = sync.exit();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("--allow-flush"), "{log}");
    assert_eq!(target.cmd(&["GET", "a"]).unwrap().as_str(), Some("1"));
}

#[test]
fn a_quiet_new_source_is_reported_caught_up() {
    // A new master's offset stays 0 until it pings its replicas; with the
    // ping once an hour, only a status that knows 0 is a reading reaches
    // caught-up at all.
    let source = RedisServer::builder()
        .arg("--repl-diskless-sync-delay")
        .arg("0")
        .arg("--repl-ping-replica-period")
        .arg("3600")
        .start()
        .unwrap();
    source.cmd(&["SET", "k", "v"]).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    let status = sync.wait_caught_up(&[&source]);
    assert_eq!(status["lag_bytes"], 0, "{status}");
    assert_eq!(status["shards"][0]["source_offset"], 0, "{status}");
    assert_eq!(
        target.cmd(&["GET", "k"]).unwrap().as_bytes(),
        Some(&b"v"[..])
    );
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}
