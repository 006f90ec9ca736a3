//! `ferry sync` through breaks: cut connections, lost backlogs, a restarted
//! source, a slow target behind a strict source, and the status endpoint.

use crate::support::digest;
use crate::sync_support::{CATCH_UP, Running, Writer, repl_offset, writer};
use ferry_testkit::dataset::fill_varied;
use ferry_testkit::{RedisServer, Relay};
use std::time::{Duration, Instant};

/// Waits until `cond` holds, at most [`CATCH_UP`].
fn wait_for(what: &str, sync: &Running, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < CATCH_UP,
            "timed out waiting for {what}\n{}",
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The shard's field of the status, as a number.
fn shard_u64(sync: &Running, field: &str) -> u64 {
    sync.status()
        .and_then(|s| s["shards"][0][field].as_u64())
        .unwrap_or(0)
}

#[test]
fn status_reports_phases_offsets_and_metrics_until_caught_up() {
    let source = RedisServer::start().unwrap();
    fill_varied(&mut source.connect().unwrap(), 60).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&["--source", &source.addr(), "--target", &target.addr()]);
    std::thread::scope(|s| {
        let w = Writer::start(s, |stop| writer(&source, stop, false));
        wait_for("the incremental phase", &sync, || {
            sync.status()
                .is_some_and(|st| st["phase"] == "incremental" || st["phase"] == "caught-up")
        });
        wait_for("commands applied", &sync, || {
            sync.status()
                .is_some_and(|st| st["commands_applied"].as_u64() > Some(0))
        });
        let running = sync.status().unwrap();
        assert!(running["commands_applied"].as_u64() > Some(0), "{running}");
        assert!(w.stop() > 10);
    });
    let status = sync.wait_caught_up(&[&source]);
    assert_eq!(digest(&target), digest(&source), "{}", sync.log());
    assert_eq!(status["lag_bytes"], 0, "{status}");
    assert_eq!(status["commands_failed"], 0, "{status}");
    assert_eq!(status["shards"][0]["connected"], true, "{status}");
    assert_eq!(
        status["shards"][0]["applied_offset"], status["shards"][0]["received_offset"],
        "{status}"
    );
    let metrics = sync.get("/metrics").unwrap();
    assert!(
        metrics.contains("ferry_phase{phase=\"caught-up\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE ferry_commands_applied_total counter"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "ferry_applied_offset{{source=\"{}\"}}",
            source.addr()
        )),
        "{metrics}"
    );
    assert!(sync.get("/nothing").is_none());
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn a_cut_connection_is_continued_where_it_stopped_and_nothing_is_lost() {
    let source = RedisServer::start().unwrap();
    fill_varied(&mut source.connect().unwrap(), 40).unwrap();
    let relay = Relay::start(&source.addr()).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&["--source", &relay.addr(), "--target", &target.addr()]);
    std::thread::scope(|s| {
        let w = Writer::start(s, |stop| writer(&source, stop, false));
        wait_for("the stream", &sync, || {
            shard_u64(&sync, "applied_offset") > 0
        });
        for round in 1..=2u64 {
            std::thread::sleep(Duration::from_millis(700));
            // The replica's connection, and at times the short one that
            // reads the source's offset twice a second.
            assert!(relay.cut() >= 1, "round {round}");
            wait_for("the reconnection", &sync, || {
                shard_u64(&sync, "reconnects") >= round
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        w.stop();
    });
    // Through the relay, the shard is named by the relay's address.
    let want = repl_offset(&source);
    wait_for("caught-up", &sync, || {
        sync.status().is_some_and(|s| {
            s["phase"] == "caught-up" && s["shards"][0]["applied_offset"].as_u64() >= Some(want)
        })
    });
    assert_eq!(digest(&target), digest(&source), "{}", sync.log());
    let status = sync.status().unwrap();
    assert_eq!(status["shards"][0]["full_resyncs"], 0, "{status}");
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(log.matches("continuing from offset").count(), 2, "{log}");
}

/// A source whose backlog is too small to cover a break.
fn small_backlog_source() -> RedisServer {
    RedisServer::builder()
        .arg("--repl-backlog-size")
        .arg("16kb")
        .start()
        .unwrap()
}

/// Blocks the relay, writes more than the backlog holds, unblocks it.
fn overflow_backlog(relay: &Relay, source: &RedisServer) {
    relay.set_blocked(true);
    let big = "x".repeat(1000);
    for i in 0..100 {
        source.cmd(&["SET", &format!("gap:{i}"), &big]).unwrap();
    }
    // Deleted while Ferry is away: must not survive on the target.
    source.cmd(&["DEL", "gone"]).unwrap();
    relay.set_blocked(false);
}

#[test]
fn a_lost_backlog_stops_the_sync_by_default_with_a_clear_message() {
    let source = small_backlog_source();
    source.cmd(&["SET", "gone", "1"]).unwrap();
    let relay = Relay::start(&source.addr()).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&["--source", &relay.addr(), "--target", &target.addr()]);
    wait_for("the stream", &sync, || {
        sync.status().is_some_and(|s| s["phase"] == "caught-up")
    });
    overflow_backlog(&relay, &source);
    let (code, log) = sync.exit();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("cannot continue replication"), "{log}");
    assert!(log.contains("--on-break full-resync"), "{log}");
}

#[test]
fn a_lost_backlog_takes_a_new_copy_with_on_break_full_resync() {
    let source = small_backlog_source();
    source.cmd(&["SET", "gone", "1"]).unwrap();
    fill_varied(&mut source.connect().unwrap(), 20).unwrap();
    let relay = Relay::start(&source.addr()).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&[
        "--source",
        &relay.addr(),
        "--target",
        &target.addr(),
        "--on-break",
        "full-resync",
    ]);
    wait_for("the stream", &sync, || {
        sync.status().is_some_and(|s| s["phase"] == "caught-up")
    });
    assert_eq!(target.cmd(&["EXISTS", "gone"]).unwrap().as_int(), Some(1));
    overflow_backlog(&relay, &source);
    wait_for("the second copy", &sync, || {
        shard_u64(&sync, "full_resyncs") == 1
    });
    let want = repl_offset(&source);
    wait_for("caught-up", &sync, || {
        sync.status().is_some_and(|s| {
            s["phase"] == "caught-up" && s["shards"][0]["applied_offset"].as_u64() >= Some(want)
        })
    });
    assert_eq!(digest(&target), digest(&source), "{}", sync.log());
    assert_eq!(target.cmd(&["EXISTS", "gone"]).unwrap().as_int(), Some(0));
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("emptying the target"), "{log}");
}

#[test]
fn a_break_during_the_snapshot_stops_by_default_and_restarts_with_full_resync() {
    for on_break in ["fail", "full-resync"] {
        // Slow snapshot: a millisecond per key, so the cut lands inside it.
        let source = RedisServer::builder()
            .arg("--rdb-key-save-delay")
            .arg("1000")
            .start()
            .unwrap();
        fill_varied(&mut source.connect().unwrap(), 30).unwrap();
        {
            let mut c = source.connect().unwrap();
            for i in 0..2000 {
                c.send(&["SET", &format!("k:{i}"), "v"]).unwrap();
            }
            while c.in_flight() > 0 {
                c.recv().unwrap();
            }
        }
        let relay = Relay::start(&source.addr()).unwrap();
        let target = RedisServer::start().unwrap();
        let sync = Running::start(&[
            "--source",
            &relay.addr(),
            "--target",
            &target.addr(),
            "--on-break",
            on_break,
        ]);
        wait_for("the snapshot", &sync, || {
            sync.status().is_some_and(|s| {
                s["phase"] == "full-sync" && s["shards"][0]["snapshot_bytes"].as_u64() > Some(0)
            })
        });
        relay.cut();
        if on_break == "fail" {
            let (code, log) = sync.exit();
            assert_eq!(code, Some(1), "{log}");
            assert!(log.contains("during the snapshot"), "{log}");
            continue;
        }
        // The second copy can be quick: keys no longer wait.
        source
            .cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"])
            .unwrap();
        let status = sync.wait_caught_up(&[]);
        let want = repl_offset(&source);
        assert!(
            status["shards"][0]["applied_offset"].as_u64() >= Some(want),
            "{status}"
        );
        assert_eq!(digest(&target), digest(&source), "{}", sync.log());
        let (code, log) = sync.stop();
        assert_eq!(code, Some(0), "{log}");
    }
}

#[test]
fn a_source_restarted_from_its_dump_is_continued_or_copied_again() {
    let source = RedisServer::start().unwrap();
    fill_varied(&mut source.connect().unwrap(), 30).unwrap();
    let port = source.port();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&[
        "--source",
        &source.addr(),
        "--target",
        &target.addr(),
        "--on-break",
        "full-resync",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.rdb");
    std::thread::scope(|s| {
        let w = Writer::start(s, |stop| writer(&source, stop, false));
        wait_for("the stream", &sync, || {
            shard_u64(&sync, "applied_offset") > 0
        });
        std::thread::sleep(Duration::from_millis(500));
        w.stop();
    });
    // A restart that keeps the data: SAVE, then the process dies.
    std::fs::copy(source.save_rdb().unwrap(), &dump).unwrap();
    drop(source);
    let source = RedisServer::builder()
        .port(port)
        .rdb(&dump)
        .start()
        .unwrap();
    std::thread::scope(|s| {
        let w = Writer::start(s, |stop| writer(&source, stop, false));
        std::thread::sleep(Duration::from_secs(1));
        w.stop();
    });
    let status = sync.wait_caught_up(&[&source]);
    assert_eq!(digest(&target), digest(&source), "{}", sync.log());
    let shard = &status["shards"][0];
    assert!(
        shard["reconnects"].as_u64() >= Some(1) || shard["full_resyncs"].as_u64() >= Some(1),
        "{status}"
    );
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn a_slow_target_does_not_make_a_strict_source_drop_the_replica() {
    // The source drops a replica as soon as 1 MB waits for it.
    let source = RedisServer::builder()
        .arg("--client-output-buffer-limit")
        .arg("replica 1mb 1mb 0")
        .start()
        .unwrap();
    fill_varied(&mut source.connect().unwrap(), 20).unwrap();
    let target = RedisServer::start().unwrap();
    let sync = Running::start(&[
        "--source",
        &source.addr(),
        "--target",
        &target.addr(),
        "--spool-memory-mb",
        "1",
    ]);
    // The snapshot first, so that the write below goes through the stream.
    wait_for("the stream", &sync, || {
        sync.status().is_some_and(|s| s["phase"] == "caught-up")
    });
    // One write through: the source streams to Ferry (after a diskless
    // transfer it waits for an acknowledgement, and buffers meanwhile).
    source.cmd(&["SET", "first", "1"]).unwrap();
    sync.wait_caught_up(&[&source]);
    let mut spilled = 0;
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // The target stalls for a second at a time.
        let stall = s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                target.cmd(&["DEBUG", "SLEEP", "1"]).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut c = source.connect().unwrap();
        let value = "v".repeat(8 * 1024);
        for i in 0..5000 {
            c.send(&["SET", &format!("big:{}", i % 300), &value])
                .unwrap();
            if i % 100 == 99 {
                while c.in_flight() > 0 {
                    c.recv().unwrap();
                }
                if let Some(st) = sync.status() {
                    spilled = spilled.max(st["spool_disk_bytes"].as_u64().unwrap_or(0));
                }
            }
        }
        while c.in_flight() > 0 {
            c.recv().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        stall.join().unwrap();
    });
    let status = sync.wait_caught_up(&[&source]);
    assert_eq!(digest(&target), digest(&source), "{}", sync.log());
    assert_eq!(status["shards"][0]["reconnects"], 0, "{status}");
    assert_eq!(status["shards"][0]["full_resyncs"], 0, "{status}");
    assert!(spilled > 0, "the spool never used the disk: {status}");
    let (code, log) = sync.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("connection lost"), "{log}");
}
