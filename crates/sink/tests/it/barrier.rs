//! Barriers against real servers: they pass once every write before them is
//! answered and counted, not while the target is still busy with one, and
//! not while a redirected write waits to be sent again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use ferry_resp::Command;
use ferry_sink::{Barrier, Error, Expect, Sink, SinkConfig, Slot, Write, WriteMode};
use ferry_testkit::{RedisCluster, RedisServer, Reply};
use std::time::{Duration, Instant};

/// How long a test waits for a barrier to be decided.
const DECIDE_TIMEOUT: Duration = Duration::from_secs(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn keyed(key: &str, command: Command) -> Write {
    Write {
        db: 0,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        command,
        mode: WriteMode::Commands,
        expect: Expect::Success,
        last_of_key: true,
    }
}

fn set(key: &str, value: &str) -> Write {
    keyed(key, Command::new("SET").arg(key).arg(value))
}

/// `DEBUG SLEEP seconds` without a key: on the first connection of a
/// standalone target, on every master of a cluster. The target answers
/// nothing for that long.
fn sleep(seconds: &str) -> Write {
    Write {
        db: 0,
        key: None,
        command: Command::new("DEBUG").arg("SLEEP").arg(seconds),
        mode: WriteMode::Commands,
        expect: Expect::Success,
        last_of_key: false,
    }
}

/// Polls `barrier` until it is decided.
async fn decide(barrier: &mut Barrier, sink: &Sink) -> bool {
    let deadline = Instant::now() + DECIDE_TIMEOUT;
    loop {
        if let Some(passed) = barrier.poll(sink) {
            return passed;
        }
        assert!(
            Instant::now() < deadline,
            "barrier at {} undecided after {DECIDE_TIMEOUT:?}: {:?}",
            barrier.seq(),
            sink.report()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn list(reply: Reply) -> Vec<String> {
    reply
        .into_array()
        .unwrap()
        .into_iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_barrier_passes_once_every_earlier_write_is_answered_and_counted() {
    let server = RedisServer::start().unwrap();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(server.addr())).await.unwrap();
        assert_eq!(sink.last_seq(), 0);
        let mut empty = sink.barrier().await.unwrap();
        assert_eq!(empty.seq(), 0);
        assert!(decide(&mut empty, &sink).await);

        for i in 0..5000 {
            sink.write(set(&format!("k{i}"), "v")).await.unwrap();
        }
        assert_eq!(sink.last_seq(), 5000);
        let mut barrier = sink.barrier().await.unwrap();
        assert_eq!(barrier.seq(), 5000);
        // Writes after the barrier do not hold it back.
        for i in 5000..6000 {
            sink.write(set(&format!("k{i}"), "v")).await.unwrap();
        }
        assert!(decide(&mut barrier, &sink).await);
        assert!(sink.report().commands >= 5000, "{:?}", sink.report());
        assert_eq!(barrier.poll(&sink), Some(true), "the answer stays");

        // Under load, barriers made every 500 writes and polled between
        // writes: whenever one passes, its writes are all in the report.
        let mut open: Vec<Barrier> = Vec::new();
        let mut passed = 0;
        for i in 6000..40_000 {
            sink.write(set(&format!("k{i}"), "v")).await.unwrap();
            if i % 500 == 0 {
                open.push(sink.barrier().await.unwrap());
            }
            open.retain_mut(|b| match b.poll(&sink) {
                Some(true) => {
                    let commands = sink.report().commands;
                    assert!(commands >= b.seq(), "{commands} < {}", b.seq());
                    passed += 1;
                    false
                }
                Some(false) => panic!("barrier at {} inconclusive", b.seq()),
                None => true,
            });
        }
        for mut b in open {
            assert!(decide(&mut b, &sink).await);
            passed += 1;
        }
        assert_eq!(passed, 68);
        assert_eq!(sink.last_seq(), 40_000);
        let mut last = sink.barrier().await.unwrap();
        assert!(decide(&mut last, &sink).await);
        let report = sink.report();
        assert_eq!((report.commands, report.failed), (40_000, 0));
    });
    assert_eq!(server.cmd(&["DBSIZE"]).unwrap().as_int(), Some(40_000));
}

#[test]
fn a_barrier_waits_while_the_target_is_busy_with_an_earlier_write() {
    let server = RedisServer::start().unwrap();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(server.addr())).await.unwrap();
        // Long enough that a loaded machine still reaches the checks below
        // while the target sleeps.
        let start = Instant::now();
        sink.write(sleep("1.5")).await.unwrap();
        for i in 0..100 {
            sink.write(set(&format!("k{i}"), "v")).await.unwrap();
        }
        let mut barrier = sink.barrier().await.unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "barrier() waited"
        );
        assert_eq!(barrier.seq(), 101);
        assert_eq!(barrier.poll(&sink), None);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(barrier.poll(&sink), None, "the target is still asleep");
        assert!(decide(&mut barrier, &sink).await);
        assert!(start.elapsed() >= Duration::from_millis(1450));
        let report = sink.report();
        assert_eq!((report.commands, report.failed), (101, 0));
    });
}

#[test]
fn a_barrier_does_not_pass_redirected_writes_before_they_are_sent_again() {
    let cluster = RedisCluster::start(3).unwrap();
    let moved_slot = Slot::of(b"{m}").get();
    let ask_slot = Slot::of(b"{a}").get();
    for i in 0..100 {
        cluster.cmd(&["SET", &format!("{{a}}old{i}"), "x"]).unwrap();
    }
    let other = |slot| {
        cluster
            .masters()
            .iter()
            .find(|m| m.addr() != cluster.slot_owner(slot).addr())
            .unwrap()
    };
    let ask_to = other(ask_slot);
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(cluster.addr()))
            .await
            .unwrap();
        // After the sink read the map: one slot moves away (MOVED), one
        // is left half-migrated (ASK for the keys moved and for new keys).
        cluster.migrate_slot(moved_slot, other(moved_slot)).unwrap();
        cluster.begin_slot_migration(ask_slot, ask_to, 50).unwrap();

        // The masters sleep first, so the barrier is made before any
        // redirect is answered.
        sink.write(sleep("0.5")).await.unwrap();
        for i in 0..100 {
            for key in ["{m}list", "{a}list"] {
                let cmd = Command::new("RPUSH").arg(key).arg(i);
                sink.write(keyed(key, cmd)).await.unwrap();
            }
            sink.write(set(&format!("{{a}}old{i}"), "new"))
                .await
                .unwrap();
        }
        let mut barrier = sink.barrier().await.unwrap();
        assert_eq!(barrier.seq(), 301);
        assert!(!decide(&mut barrier, &sink).await);
        // Nothing was sent again yet: what was redirected is not counted.
        let report = sink.report();
        assert_eq!(report.redirects, 0);
        assert!(report.commands < 3 + 300, "{report:?}");

        // A new barrier sends what waits first, and passes.
        let mut again = sink.barrier().await.unwrap();
        assert_eq!(again.seq(), 301);
        assert!(decide(&mut again, &sink).await);
        let report = sink.report();
        assert!(report.redirects > 0);
        assert_eq!((report.commands, report.failed), (3 + 300, 0), "{report:?}");

        // Again, settled by flush this time.
        sink.write(sleep("0.5")).await.unwrap();
        for i in 100..200 {
            let cmd = Command::new("RPUSH").arg("{a}list").arg(i);
            sink.write(keyed("{a}list", cmd)).await.unwrap();
        }
        let mut barrier = sink.barrier().await.unwrap();
        assert_eq!(barrier.seq(), 402);
        assert!(!decide(&mut barrier, &sink).await);
        let report = sink.flush().await.unwrap();
        assert_eq!((report.commands, report.failed), (6 + 400, 0), "{report:?}");
        let mut after = sink.barrier().await.unwrap();
        assert!(decide(&mut after, &sink).await);
    });
    cluster.finish_slot_migration(ask_slot, ask_to).unwrap();
    for (key, len) in [("{m}list", 100), ("{a}list", 200)] {
        let owner = cluster.slot_owner(Slot::of(key.as_bytes()).get());
        let items = list(owner.cmd(&["LRANGE", key, "0", "-1"]).unwrap());
        let expected: Vec<String> = (0..len).map(|i| i.to_string()).collect();
        assert_eq!(items, expected, "{key}");
    }
}

#[test]
fn a_lost_connection_makes_a_barrier_inconclusive() {
    let server = RedisServer::start().unwrap();
    let pid = server.pid();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(server.addr())).await.unwrap();
        sink.write(sleep("10")).await.unwrap();
        // Keyless, so on the sleeping connection, behind the sleep.
        let mut set = set("k", "v");
        set.key = None;
        sink.write(set).await.unwrap();
        let mut barrier = sink.barrier().await.unwrap();
        assert_eq!(barrier.poll(&sink), None);
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(!decide(&mut barrier, &sink).await);
        let err = sink.barrier().await.unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        let report = sink.report();
        assert_eq!(report.failed, 2, "{report:?}");
        assert!(
            report
                .failures
                .iter()
                .all(|f| f.message.contains("not confirmed")),
            "{report:?}"
        );
    });
}
