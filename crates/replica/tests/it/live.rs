//! Against real masters: the handshake, both snapshot forms, the command
//! stream's offsets equal to the master's, `+CONTINUE` after a reconnect.

use bytes::BytesMut;
use ferry_rdb::{Decoder, Item};
use ferry_replica::{Config, Error, Event, Replica, Step};
use ferry_testkit::{RedisServer, dataset};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn master_offset(master: &RedisServer) -> u64 {
    let info = master.cmd(&["INFO", "replication"]).unwrap();
    let info = info.as_str().unwrap().to_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The next event, acknowledging every second meanwhile as a replica must
/// (a master may hold the stream back until an ACK after a diskless
/// transfer).
async fn next(replica: &mut Replica) -> Event {
    let started = std::time::Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(1), replica.next_event()).await {
            Ok(event) => return event.unwrap().expect("the master keeps the connection"),
            Err(_) => {
                assert!(started.elapsed() < TIMEOUT, "no event in time");
                if replica.session().is_streaming() {
                    let offset = replica.session().offset();
                    replica.ack(offset).await.unwrap();
                }
            }
        }
    }
}

/// Reads the handshake and the snapshot; returns the keys the snapshot
/// holds and whether it came with a length.
async fn full_sync(replica: &mut Replica) -> (u64, bool) {
    let Event::FullResync { replid, .. } = next(replica).await else {
        panic!("expected FULLRESYNC")
    };
    assert_eq!(replid.len(), 40);
    let Event::SnapshotStart { len } = next(replica).await else {
        panic!("expected the snapshot")
    };
    let mut rdb = Decoder::new();
    let mut buf = BytesMut::new();
    let mut keys = 0;
    let mut bytes = 0u64;
    loop {
        match next(replica).await {
            Event::Snapshot(chunk) => {
                bytes += chunk.len() as u64;
                buf.extend_from_slice(&chunk);
                while let Some(item) = rdb.decode(&mut buf).unwrap() {
                    keys += u64::from(matches!(item, Item::Key(_)));
                }
            }
            Event::SnapshotEnd => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(rdb.is_done(), "the snapshot is a whole RDB file");
    if let Some(len) = len {
        assert_eq!(bytes, len);
    }
    (keys, len.is_some())
}

/// Reads commands until the replica's offset is the master's.
async fn catch_up(replica: &mut Replica, master: &RedisServer) -> Vec<String> {
    let target = master_offset(master);
    let mut names = Vec::new();
    while replica.session().offset() < target {
        if std::env::var_os("DEBUG_REPLICA").is_some() {
            eprintln!("offset {} target {target}", replica.session().offset());
        }
        match next(replica).await {
            Event::Command { command, offset } => {
                assert_eq!(offset, replica.session().offset());
                names.push(String::from_utf8_lossy(command.name()).to_ascii_uppercase());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        replica.session().offset(),
        target,
        "offset equals the master's"
    );
    names
}

fn write_traffic(master: &RedisServer, n: usize) {
    let mut c = master.connect().unwrap();
    for i in 0..n {
        c.cmd(&["SET", &format!("t:{i}"), "v"]).unwrap();
        c.cmd(&["INCR", "counter"]).unwrap();
        c.cmd(&["LPUSH", "list", &i.to_string()]).unwrap();
    }
    // Two writes: Redis 7 sends a transaction of one write without MULTI.
    c.cmd(&["MULTI"]).unwrap();
    c.cmd(&["SET", "in-multi", "1"]).unwrap();
    c.cmd(&["SET", "in-multi-2", "2"]).unwrap();
    c.cmd(&["EXEC"]).unwrap();
    c.cmd(&["EVAL", "redis.call('SET', KEYS[1], 'lua')", "1", "from-lua"])
        .unwrap();
}

#[test]
fn full_sync_then_the_stream_with_the_masters_offsets() {
    let master = RedisServer::builder()
        .arg("--repl-diskless-sync")
        .arg("no")
        .start()
        .unwrap();
    dataset::fill_varied(&mut master.connect().unwrap(), 3).unwrap();
    let dbsize: u64 = (0..3)
        .map(|db| {
            let mut c = master.connect().unwrap();
            c.cmd(&["SELECT", &db.to_string()]).unwrap();
            c.cmd(&["DBSIZE"]).unwrap().as_int().unwrap() as u64
        })
        .sum();
    runtime().block_on(async {
        let config = Config {
            listening_port: 7777,
            ..Config::default()
        };
        let mut replica = Replica::connect(&master.addr(), config, TIMEOUT)
            .await
            .unwrap();
        let (keys, with_len) = full_sync(&mut replica).await;
        assert!(with_len, "disk-based transfer has a length");
        assert_eq!(keys, dbsize);
        write_traffic(&master, 300);
        let names = catch_up(&mut replica, &master).await;
        let sets = names.iter().filter(|n| *n == "SET").count();
        assert!(sets >= 301, "{sets} SETs in {names:?}");
        assert!(names.contains(&"MULTI".to_owned()) && names.contains(&"EXEC".to_owned()));
        // The master lists us, at the port we announced, with our ACK.
        let offset = replica.session().offset();
        replica.ack(offset).await.unwrap();
        let started = std::time::Instant::now();
        loop {
            let info = master.cmd(&["INFO", "replication"]).unwrap();
            let info = info.as_str().unwrap().to_owned();
            if info.contains("port=7777") && info.contains(&format!("offset={offset},")) {
                break;
            }
            assert!(started.elapsed() < TIMEOUT, "{info}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn diskless_snapshot_ends_at_its_mark() {
    let master = RedisServer::builder()
        .arg("--repl-diskless-sync")
        .arg("yes")
        .arg("--repl-diskless-sync-delay")
        .arg("0")
        .start()
        .unwrap();
    dataset::fill_varied(&mut master.connect().unwrap(), 4).unwrap();
    runtime().block_on(async {
        let mut replica = Replica::connect(&master.addr(), Config::default(), TIMEOUT)
            .await
            .unwrap();
        let (keys, with_len) = full_sync(&mut replica).await;
        assert!(!with_len, "diskless transfer is marked, not counted");
        assert!(keys > 100);
        write_traffic(&master, 50);
        catch_up(&mut replica, &master).await;
    });
}

#[test]
fn a_reconnect_continues_from_the_offset_with_nothing_lost() {
    let master = RedisServer::start().unwrap();
    master.cmd(&["SET", "before", "1"]).unwrap();
    runtime().block_on(async {
        let mut replica = Replica::connect(&master.addr(), Config::default(), TIMEOUT)
            .await
            .unwrap();
        full_sync(&mut replica).await;
        write_traffic(&master, 20);
        catch_up(&mut replica, &master).await;
        let replid = replica.session().replid().unwrap().to_owned();
        let offset = replica.session().offset();
        drop(replica);
        // Writes while nobody listens stay in the master's backlog.
        let mut c = master.connect().unwrap();
        for i in 0..100 {
            c.cmd(&["SET", &format!("away:{i}"), "x"]).unwrap();
        }
        let config = Config {
            resume: Some((replid.clone(), offset)),
            ..Config::default()
        };
        let mut replica = Replica::connect(&master.addr(), config, TIMEOUT)
            .await
            .unwrap();
        assert_eq!(next(&mut replica).await, Event::Continue { replid });
        let names = catch_up(&mut replica, &master).await;
        assert_eq!(
            names.iter().filter(|n| *n == "SET").count(),
            100,
            "{names:?}"
        );
    });
}

#[test]
fn a_wrong_password_names_the_auth_step() {
    let master = RedisServer::start().unwrap();
    master
        .cmd(&["CONFIG", "SET", "requirepass", "secret"])
        .unwrap();
    runtime().block_on(async {
        for (password, want) in [(None, Step::Auth), (Some("nope"), Step::Auth)] {
            let config = Config {
                password: password.map(str::to_owned),
                ..Config::default()
            };
            let mut replica = Replica::connect(&master.addr(), config, TIMEOUT)
                .await
                .unwrap();
            let err = replica.next_event().await.unwrap_err();
            assert!(
                matches!(&err, Error::Refused { step, .. } if *step == want),
                "{err}"
            );
            assert!(err.to_string().starts_with("source refused AUTH"), "{err}");
        }
        let config = Config {
            password: Some("secret".into()),
            ..Config::default()
        };
        let mut replica = Replica::connect(&master.addr(), config, TIMEOUT)
            .await
            .unwrap();
        assert!(matches!(next(&mut replica).await, Event::FullResync { .. }));
    });
}
