//! The writer against real servers: a standalone Redis and 3-master
//! clusters, with redirects, refusals and failures provoked on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use ferry_resp::Command;
use ferry_sink::{Error, Expect, Sink, SinkConfig, Slot, TargetKind, Write, WriteMode};
use ferry_testkit::{RedisCluster, RedisServer, Reply};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn write(db: u64, key: &str, command: Command, last: bool) -> Write {
    Write {
        db,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        command,
        mode: WriteMode::Commands,
        expect: Expect::Success,
        last_of_key: last,
    }
}

fn set(db: u64, key: &str, value: &str) -> Write {
    write(db, key, Command::new("SET").arg(key).arg(value), true)
}

fn bulk(reply: Reply) -> Option<String> {
    reply.as_str().map(str::to_owned)
}

#[test]
fn standalone_gets_every_key_in_its_database() {
    let server = RedisServer::start().unwrap();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(server.addr())).await.unwrap();
        assert_eq!(sink.kind(), TargetKind::Standalone);
        for i in 0..10_000 {
            let db = if i % 3 == 0 { 2 } else { 0 };
            sink.write(set(db, &format!("k{i}"), &format!("v{i}")))
                .await
                .unwrap();
        }
        let report = sink.flush().await.unwrap();
        assert_eq!(report.keys_replayed, 10_000);
        assert_eq!(report.failed, 0, "{:?}", report.failures);
        assert_eq!(sink.key_count().await.unwrap(), 10_000);
    });
    assert_eq!(
        bulk(server.cmd(&["GET", "k1"]).unwrap()).as_deref(),
        Some("v1")
    );
    let mut c = server.connect().unwrap();
    c.cmd(&["SELECT", "2"]).unwrap();
    assert_eq!(c.cmd(&["DBSIZE"]).unwrap().as_int(), Some(3334));
    assert_eq!(bulk(c.cmd(&["GET", "k3"]).unwrap()).as_deref(), Some("v3"));
}

#[test]
fn one_keys_commands_stay_in_order_across_connections() {
    let server = RedisServer::start().unwrap();
    runtime().block_on(async {
        let mut config = SinkConfig::new(server.addr());
        config.parallel = 8;
        let mut sink = Sink::connect(config).await.unwrap();
        for key in 0..50 {
            let key = format!("list{key}");
            for i in 0..200 {
                let cmd = Command::new("RPUSH").arg(&key).arg(i);
                sink.write(write(0, &key, cmd, i == 199)).await.unwrap();
            }
        }
        let report = sink.flush().await.unwrap();
        assert_eq!((report.keys_replayed, report.commands), (50, 10_000));
    });
    for key in 0..50 {
        let items = server
            .cmd(&["LRANGE", &format!("list{key}"), "0", "-1"])
            .unwrap()
            .into_array()
            .unwrap();
        let items: Vec<String> = items.into_iter().filter_map(bulk).collect();
        let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        assert_eq!(items, expected);
    }
}

#[test]
fn refused_commands_are_reported_with_their_key_and_the_rest_lands() {
    let server = RedisServer::start().unwrap();
    server.cmd(&["SET", "busy", "old"]).unwrap();
    server.cmd(&["SET", "text", "abc"]).unwrap();
    let payload = server.cmd(&["DUMP", "busy"]).unwrap().into_bytes().unwrap();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(server.addr())).await.unwrap();
        sink.write(set(0, "a", "1")).await.unwrap();
        sink.write(write(0, "text", Command::new("INCR").arg("text"), true))
            .await
            .unwrap();
        let restore = |expect| Write {
            db: 0,
            key: Some(Bytes::from_static(b"busy")),
            command: Command::new("RESTORE")
                .arg("busy")
                .arg(0)
                .arg(payload.clone()),
            mode: WriteMode::Restore,
            expect,
            last_of_key: true,
        };
        sink.write(restore(Expect::SuccessOrBusy)).await.unwrap();
        sink.write(restore(Expect::Success)).await.unwrap();
        sink.write(set(0, "b", "2")).await.unwrap();
        let report = sink.flush().await.unwrap();
        assert_eq!(report.keys_replayed, 2);
        assert_eq!(report.keys_existing_skipped, 1);
        assert_eq!(report.failed, 2);
        let failure = |key: &[u8]| {
            report
                .failures
                .iter()
                .find(|f| f.key.as_deref() == Some(key))
                .unwrap()
        };
        let text = failure(b"text");
        assert_eq!(text.key.as_deref(), Some(&b"text"[..]));
        assert_eq!(text.command, "INCR");
        assert!(text.message.contains("not an integer"), "{}", text.message);
        let busy = failure(b"busy");
        assert_eq!(busy.key.as_deref(), Some(&b"busy"[..]));
        assert!(busy.message.starts_with("BUSYKEY"), "{}", busy.message);
    });
}

#[test]
fn exec_replies_are_checked_command_by_command() {
    let server = RedisServer::start().unwrap();
    server.cmd(&["SET", "watched", "before"]).unwrap();
    // Keyless, as `ferry sync` sends the stream: in order on one connection.
    let keyless = |command: Command| Write {
        db: 0,
        key: None,
        command,
        mode: WriteMode::Commands,
        expect: Expect::Success,
        last_of_key: true,
    };
    runtime().block_on(async {
        // One connection, so that a keyed EXEC (below) follows its MULTI.
        let mut config = SinkConfig::new(server.addr());
        config.parallel = 1;
        let mut sink = Sink::connect(config).await.unwrap();
        // A transaction with one failing command.
        sink.write(keyless(Command::new("MULTI"))).await.unwrap();
        sink.write(keyless(Command::new("SET").arg("text").arg("abc")))
            .await
            .unwrap();
        sink.write(keyless(Command::new("INCR").arg("text")))
            .await
            .unwrap();
        sink.write(keyless(Command::new("exec"))).await.unwrap();
        // A successful one.
        sink.write(keyless(Command::new("MULTI"))).await.unwrap();
        sink.write(keyless(Command::new("SET").arg("n").arg("1")))
            .await
            .unwrap();
        sink.write(keyless(Command::new("INCR").arg("n")))
            .await
            .unwrap();
        sink.write(keyless(Command::new("EXEC"))).await.unwrap();
        let report = sink.flush().await.unwrap();
        assert_eq!(report.failed, 1, "{:?}", report.failures);
        let failure = &report.failures[0];
        assert_eq!(failure.command, "EXEC");
        assert_eq!(failure.key, None);
        assert!(
            failure.message.contains("not an integer"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("command 2 of 2"),
            "{}",
            failure.message
        );
        // MULTI, two QUEUED and the other transaction's four replies.
        assert_eq!(report.commands, 3 + 4);

        // An aborted transaction (a watched key changed), and one refused
        // whole (EXECABORT), with a key to name.
        sink.write(keyless(Command::new("WATCH").arg("watched")))
            .await
            .unwrap();
        sink.flush().await.unwrap();
        server.cmd(&["SET", "watched", "changed"]).unwrap();
        sink.write(keyless(Command::new("MULTI"))).await.unwrap();
        sink.write(keyless(Command::new("SET").arg("watched").arg("mine")))
            .await
            .unwrap();
        let mut exec = keyless(Command::new("EXEC"));
        exec.key = Some(Bytes::from_static(b"watched"));
        sink.write(exec).await.unwrap();
        sink.write(keyless(Command::new("MULTI"))).await.unwrap();
        sink.write(keyless(Command::new("SET").arg("x")))
            .await
            .unwrap();
        sink.write(keyless(Command::new("EXEC"))).await.unwrap();
        let report = sink.flush().await.unwrap();
        assert_eq!(report.failed, 1 + 3, "{:?}", report.failures);
        let aborted = &report.failures[1];
        assert_eq!(
            (aborted.command.as_str(), aborted.key.as_deref()),
            ("EXEC", Some(&b"watched"[..]))
        );
        assert!(aborted.message.contains("aborted"), "{}", aborted.message);
        assert_eq!(report.failures[2].command, "SET");
        assert_eq!(report.failures[3].command, "EXEC");
        assert!(
            report.failures[3].message.starts_with("EXECABORT"),
            "{}",
            report.failures[3].message
        );
    });
    assert_eq!(
        bulk(server.cmd(&["GET", "text"]).unwrap()).as_deref(),
        Some("abc")
    );
    assert_eq!(
        bulk(server.cmd(&["GET", "n"]).unwrap()).as_deref(),
        Some("2")
    );
    assert_eq!(
        bulk(server.cmd(&["GET", "watched"]).unwrap()).as_deref(),
        Some("changed")
    );
}

#[test]
fn wrong_password_and_unreachable_targets_are_clear_errors() {
    let server = RedisServer::start().unwrap();
    server
        .cmd(&["CONFIG", "SET", "requirepass", "s3cret"])
        .unwrap();
    runtime().block_on(async {
        let err = Sink::connect(SinkConfig::new(server.addr()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Auth { .. }), "{err}");
        assert!(err.to_string().contains("NOAUTH"), "{err}");
        let mut config = SinkConfig::new(server.addr());
        config.credentials.password = Some("wrong".into());
        let err = Sink::connect(config.clone()).await.unwrap_err();
        assert!(matches!(err, Error::Auth { .. }), "{err}");
        config.credentials.password = Some("s3cret".into());
        Sink::connect(config).await.unwrap();
        // A port nobody listens on.
        let addr = format!("127.0.0.1:{}", ferry_testkit::free_port().unwrap());
        let err = Sink::connect(SinkConfig::new(addr)).await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
    });
}

#[test]
fn a_target_that_dies_mid_write_is_an_error_and_unconfirmed_keys_are_named() {
    let server = RedisServer::start().unwrap();
    let pid = server.pid();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(server.addr())).await.unwrap();
        let mut outcome = Ok(());
        for i in 0..200_000 {
            if i == 1000 {
                std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status()
                    .unwrap();
            }
            outcome = sink.write(set(0, &format!("k{i}"), "some value")).await;
            if outcome.is_err() {
                break;
            }
        }
        let err = match outcome {
            Err(e) => e,
            Ok(()) => sink.flush().await.unwrap_err(),
        };
        assert!(matches!(err, Error::Io { .. }), "{err}");
        let report = sink.report();
        assert!(report.keys_written() < 200_000);
        assert!(report.failed > 0 || report.keys_written() >= 1000);
        // What was in flight is named, key by key, as not confirmed.
        for failure in &report.failures {
            assert!(failure.key.is_some(), "{failure:?}");
            assert!(failure.message.contains("not confirmed"), "{failure:?}");
        }
    });
}

#[test]
fn cluster_writes_reach_the_owner_of_each_slot() {
    let cluster = RedisCluster::start(3).unwrap();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(cluster.addr()))
            .await
            .unwrap();
        assert_eq!(sink.kind(), TargetKind::Cluster);
        assert_eq!(sink.nodes().len(), 3);
        for i in 0..10_000 {
            sink.write(set(0, &format!("key:{i}"), &i.to_string()))
                .await
                .unwrap();
        }
        let function = Write {
            db: 0,
            key: None,
            command: Command::new("FUNCTION").arg("LOAD").arg(
                "#!lua name=ferrylib\nredis.register_function('ferry_f', function() return 1 end)",
            ),
            mode: WriteMode::Function,
            expect: Expect::Success,
            last_of_key: true,
        };
        sink.write(function).await.unwrap();
        let report = sink.flush().await.unwrap();
        assert_eq!(report.failed, 0, "{:?}", report.failures);
        assert_eq!(
            (report.keys_replayed, report.functions, report.redirects),
            (10_000, 1, 0)
        );
        let err = sink.write(set(1, "x", "y")).await.unwrap_err();
        assert!(err.to_string().contains("--db-map 1:0"), "{err}");
    });
    assert_eq!(cluster.dbsize_total().unwrap(), 10_000);
    for master in cluster.masters() {
        let libs = master
            .cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "ferrylib"])
            .unwrap();
        assert_eq!(
            libs.as_array().map(<[Reply]>::len),
            Some(1),
            "{}",
            master.addr()
        );
    }
    assert_eq!(
        bulk(cluster.cmd(&["GET", "key:77"]).unwrap()).as_deref(),
        Some("77")
    );
}

#[test]
fn moved_and_ask_are_followed_in_order() {
    let cluster = RedisCluster::start(3).unwrap();
    // Keys of two slots, one to move away entirely after the sink has
    // read the map (MOVED), one to leave half-migrated (ASK).
    let moved_slot = Slot::of(b"{m}").get();
    let ask_slot = Slot::of(b"{a}").get();
    for i in 0..100 {
        cluster.cmd(&["SET", &format!("{{a}}old{i}"), "x"]).unwrap();
    }
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(cluster.addr()))
            .await
            .unwrap();
        let other = |slot| {
            cluster
                .masters()
                .iter()
                .find(|m| m.addr() != cluster.slot_owner(slot).addr())
                .unwrap()
        };
        cluster.migrate_slot(moved_slot, other(moved_slot)).unwrap();
        cluster
            .begin_slot_migration(ask_slot, other(ask_slot), 50)
            .unwrap();
        for i in 0..300 {
            for key in ["{m}list", "{a}list"] {
                let cmd = Command::new("RPUSH").arg(key).arg(i);
                sink.write(write(0, key, cmd, i == 299)).await.unwrap();
            }
            // Moved keys of the half-migrated slot answer ASK.
            let key = format!("{{a}}old{}", i % 100);
            sink.write(set(0, &key, "new")).await.unwrap();
        }
        let report = sink.flush().await.unwrap();
        assert_eq!(report.failed, 0, "{:?}", report.failures);
        assert!(report.redirects > 0);
        assert_eq!(report.keys_replayed, 302);
    });
    cluster
        .finish_slot_migration(
            ask_slot,
            cluster
                .masters()
                .iter()
                .find(|m| m.addr() != cluster.slot_owner(ask_slot).addr())
                .unwrap(),
        )
        .unwrap();
    for key in ["{m}list", "{a}list"] {
        let owner = cluster.slot_owner(Slot::of(key.as_bytes()).get());
        let items = owner.cmd(&["LRANGE", key, "0", "-1"]).unwrap();
        let items: Vec<String> = items
            .into_array()
            .unwrap()
            .into_iter()
            .filter_map(bulk)
            .collect();
        let expected: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        assert_eq!(items, expected, "{key}");
    }
}

#[test]
fn a_redis_6_2_cluster_is_mapped_from_cluster_slots() {
    // CLUSTER SHARDS is 7.0+: the map must come from CLUSTER SLOTS.
    let cluster = RedisCluster::builder()
        .version(ferry_testkit::ServerKind::Redis62)
        .start()
        .unwrap();
    runtime().block_on(async {
        let mut sink = Sink::connect(SinkConfig::new(cluster.addr()))
            .await
            .unwrap();
        assert_eq!(sink.kind(), TargetKind::Cluster);
        assert_eq!(sink.nodes().len(), 3);
        for i in 0..3000 {
            sink.write(set(0, &format!("k{i}"), "v")).await.unwrap();
        }
        let report = sink.flush().await.unwrap();
        assert_eq!(
            (report.keys_replayed, report.redirects, report.failed),
            (3000, 0, 0)
        );
    });
    assert_eq!(cluster.dbsize_total().unwrap(), 3000);
}
