//! RedisCluster against real cluster nodes.

use ferry_testkit::{RedisCluster, RedisServer, Reply, SLOT_COUNT, ServerKind, key_slot};
use std::collections::BTreeMap;
use std::path::Path;

fn start(masters: usize) -> RedisCluster {
    RedisCluster::start(masters).unwrap_or_else(|e| panic!("cluster starts: {e}"))
}

/// Keys `prefix:0` .. whose slot is `slot`, found by trying names in order.
fn keys_in_slot(slot: u16, count: usize) -> Vec<String> {
    (0u64..)
        .map(|i| format!("k:{i}"))
        .filter(|k| key_slot(k.as_bytes()) == slot)
        .take(count)
        .collect()
}

/// A master of `cluster` other than `node`.
fn other_master<'a>(cluster: &'a RedisCluster, node: &RedisServer) -> &'a RedisServer {
    cluster
        .masters()
        .iter()
        .find(|m| m.port() != node.port())
        .expect("another master")
}

/// The owner of `slot` according to the node's `CLUSTER SLOTS`.
fn owner_port_seen_by(node: &RedisServer, slot: u16) -> i64 {
    let reply = node.cmd(&["CLUSTER", "SLOTS"]).unwrap();
    for range in reply.as_array().unwrap() {
        let parts = range.as_array().unwrap();
        let (start, end) = (parts[0].as_int().unwrap(), parts[1].as_int().unwrap());
        if (start..=end).contains(&i64::from(slot)) {
            return parts[2].as_array().unwrap()[1].as_int().unwrap();
        }
    }
    panic!("slot {slot} not in {reply:?}");
}

#[test]
fn three_masters_share_keys_written_through_cmd() {
    let cluster = start(3);
    assert_eq!(cluster.masters().len(), 3);
    assert!(cluster.replicas().is_empty());
    assert!(cluster.masters().iter().any(|m| m.addr() == cluster.addr()));
    for i in 0..1000 {
        let reply = cluster
            .cmd(&["SET", &format!("key:{i}"), &i.to_string()])
            .unwrap();
        assert_eq!(reply, Reply::Status("OK".into()), "key:{i}");
    }
    for master in cluster.masters() {
        let size = master.cmd(&["DBSIZE"]).unwrap().as_int().unwrap();
        assert!(size > 100, "{} holds {size} keys", master.addr());
    }
    assert_eq!(cluster.dbsize_total().unwrap(), 1000);
    for i in (0..1000).step_by(37) {
        let got = cluster.cmd(&["GET", &format!("key:{i}")]).unwrap();
        assert_eq!(got.as_str(), Some(i.to_string().as_str()));
    }
    // Keyless commands go to a master; every node says the cluster is fine.
    let info = cluster.cmd(&["CLUSTER", "INFO"]).unwrap();
    assert!(info.as_str().unwrap().contains("cluster_state:ok"));
    assert_eq!(
        cluster.cmd(&["PING"]).unwrap(),
        Reply::Status("PONG".into())
    );
    // The owner a key is routed to is the one the server names.
    let slot = key_slot(b"key:1");
    let owner = cluster.slot_owner(slot);
    let other = other_master(&cluster, owner);
    let moved = other.cmd(&["GET", "key:1"]).unwrap();
    assert_eq!(
        moved,
        Reply::Error(format!("MOVED {slot} {}", owner.addr())),
        "a master not owning the slot redirects to the owner"
    );
    cluster.flushall().unwrap();
    assert_eq!(cluster.dbsize_total().unwrap(), 0);
}

#[test]
fn key_slot_agrees_with_cluster_keyslot_for_random_binary_keys() {
    let cluster = start(3);
    let node = &cluster.masters()[0];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut keys: Vec<Vec<u8>> = vec![
        b"foo".to_vec(),
        b"".to_vec(),
        b"{user1000}.following".to_vec(),
        b"foo{}{bar}".to_vec(),
        b"foo{{bar}}zap".to_vec(),
        b"{}".to_vec(),
    ];
    while keys.len() < 200 {
        let len = (next() % 24) as usize;
        // Braces often, so hash tags (empty, nested, unclosed) come up.
        let key = (0..len)
            .map(|_| match next() % 8 {
                0 => b'{',
                1 => b'}',
                _ => next() as u8,
            })
            .collect();
        keys.push(key);
    }
    let mut c = node.connect().unwrap();
    for key in &keys {
        let reply = c.cmd(&[b"CLUSTER".as_slice(), b"KEYSLOT", key]).unwrap();
        assert_eq!(
            reply.as_int(),
            Some(i64::from(key_slot(key))),
            "key {:?}",
            String::from_utf8_lossy(key)
        );
    }
}

#[test]
fn migrate_slot_moves_ownership_and_keys() {
    let cluster = start(3);
    let slot = key_slot(b"k:0");
    let keys = keys_in_slot(slot, 250);
    for key in &keys {
        cluster.cmd(&["SET", key, key]).unwrap();
    }
    cluster.cmd(&["SET", "elsewhere", "x"]).unwrap();
    let from = cluster.slot_owner(slot);
    let to = other_master(&cluster, from);
    let count = |node: &RedisServer| {
        node.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
            .unwrap()
            .as_int()
            .unwrap()
    };
    assert_eq!(count(from), 250);

    assert_eq!(cluster.migrate_slot(slot, to).unwrap(), 250);

    assert_eq!(cluster.slot_owner(slot).port(), to.port());
    for node in cluster.nodes() {
        assert_eq!(
            owner_port_seen_by(node, slot),
            i64::from(to.port()),
            "{} sees the new owner",
            node.addr()
        );
    }
    assert_eq!(count(from), 0);
    assert_eq!(count(to), 250);
    for key in &keys {
        assert_eq!(
            cluster.cmd(&["GET", key]).unwrap().as_str(),
            Some(key.as_str())
        );
    }
    assert_eq!(
        from.cmd(&["GET", &keys[0]]).unwrap(),
        Reply::Error(format!("MOVED {slot} {}", to.addr()))
    );
    assert_eq!(cluster.dbsize_total().unwrap(), 251);
    // Moving a slot to its owner does nothing; a replica or stranger is refused.
    assert_eq!(cluster.migrate_slot(slot, to).unwrap(), 0);
    let stranger = RedisServer::start().unwrap();
    let err = cluster.migrate_slot(slot, &stranger).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert!(cluster.migrate_slot(SLOT_COUNT, to).is_err());
}

#[test]
fn half_migrated_slot_answers_ask_for_the_keys_moved() {
    let cluster = start(3);
    let slot = key_slot(b"k:0");
    let keys = keys_in_slot(slot, 30);
    for key in &keys {
        cluster.cmd(&["SET", key, "v"]).unwrap();
    }
    let from = cluster.slot_owner(slot);
    let to = other_master(&cluster, from);

    assert_eq!(cluster.begin_slot_migration(slot, to, 10).unwrap(), 10);

    // The slot still belongs to the source, which has 20 keys left.
    assert_eq!(cluster.slot_owner(slot).port(), from.port());
    let left: Vec<&String> = keys
        .iter()
        .filter(|k| from.cmd(&["EXISTS", k]).unwrap() == Reply::Int(1))
        .collect();
    assert_eq!(left.len(), 20);
    let gone = keys.iter().find(|k| !left.contains(k)).unwrap();
    let ask = Reply::Error(format!("ASK {slot} {}", to.addr()));
    assert_eq!(cluster.cmd(&["GET", gone]).unwrap(), ask);
    assert_eq!(cluster.cmd(&["GET", left[0]]).unwrap().as_str(), Some("v"));
    // The target serves a moved key only after ASKING.
    let mut c = to.connect().unwrap();
    assert!(
        c.cmd(&["GET", gone]).unwrap().is_error(),
        "MOVED without ASKING"
    );
    c.cmd_ok(&["ASKING"]).unwrap();
    assert_eq!(c.cmd(&["GET", gone]).unwrap().as_str(), Some("v"));

    assert_eq!(cluster.finish_slot_migration(slot, to).unwrap(), 20);
    assert_eq!(cluster.slot_owner(slot).port(), to.port());
    for key in &keys {
        assert_eq!(cluster.cmd(&["GET", key]).unwrap().as_str(), Some("v"));
    }
    assert_eq!(cluster.dbsize_total().unwrap(), 30);
}

#[test]
fn three_masters_with_one_replica_each_start_with_replicas_connected() {
    let cluster = RedisCluster::builder()
        .masters(3)
        .replicas(1)
        .start()
        .unwrap_or_else(|e| panic!("cluster starts: {e}"));
    assert_eq!(cluster.nodes().len(), 6);
    assert_eq!(cluster.replicas().len(), 3);
    let mut replicas_of: BTreeMap<i64, usize> = BTreeMap::new();
    for replica in cluster.replicas() {
        let info = replica.cmd(&["INFO", "replication"]).unwrap();
        let text = info.as_str().unwrap();
        assert!(text.contains("role:slave"), "{text}");
        assert!(text.contains("master_link_status:up"), "{text}");
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("master_port:"))
            .unwrap();
        *replicas_of.entry(port.trim().parse().unwrap()).or_default() += 1;
    }
    let masters: Vec<i64> = cluster
        .masters()
        .iter()
        .map(|m| i64::from(m.port()))
        .collect();
    assert_eq!(replicas_of.keys().copied().collect::<Vec<_>>(), {
        let mut m = masters.clone();
        m.sort_unstable();
        m
    });
    assert!(replicas_of.values().all(|&n| n == 1));
    // A write reaches the replica of its master.
    for i in 0..100 {
        cluster.cmd(&["SET", &format!("r:{i}"), "x"]).unwrap();
    }
    for master in cluster.masters() {
        assert_eq!(master.cmd(&["WAIT", "1", "5000"]).unwrap(), Reply::Int(1));
    }
    let replica_keys: i64 = cluster
        .replicas()
        .iter()
        .map(|r| r.cmd(&["DBSIZE"]).unwrap().as_int().unwrap())
        .sum();
    assert_eq!(replica_keys, 100);
    assert_eq!(
        cluster.node_id(&cluster.replicas()[0]).map(str::len),
        Some(40)
    );
}

#[test]
fn redis_62_cluster_starts_routes_and_migrates() {
    let kind = ServerKind::Redis62;
    let cluster = RedisCluster::builder()
        .version(kind)
        .start()
        .unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
    let info = cluster.masters()[0].cmd(&["INFO", "server"]).unwrap();
    assert!(info.as_str().unwrap().contains("redis_version:6.2.5"));
    for i in 0..300 {
        cluster.cmd(&["SET", &format!("key:{i}"), "x"]).unwrap();
    }
    assert_eq!(cluster.dbsize_total().unwrap(), 300);
    let slot = key_slot(b"key:0");
    let to = other_master(&cluster, cluster.slot_owner(slot));
    assert_eq!(cluster.migrate_slot(slot, to).unwrap(), 1);
    assert_eq!(cluster.cmd(&["GET", "key:0"]).unwrap().as_str(), Some("x"));
    assert_eq!(cluster.dbsize_total().unwrap(), 300);
}

#[test]
fn fewer_than_three_masters_are_refused_before_anything_starts() {
    let err = RedisCluster::start(2).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn a_failed_create_stops_every_node_started() {
    let err = RedisCluster::builder()
        .cli(Path::new("/bin/false"))
        .start()
        .expect_err("a redis-cli that fails fails the start");
    let msg = err.to_string();
    assert!(msg.contains("--cluster create exited with"), "{msg}");
    let pids: Vec<u32> = msg
        .split("(pid ")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3, "{msg}");
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "node pid {pid} still there"
        );
    }
}

#[test]
fn wait_consistent_takes_slots_reassigned_by_hand_even_all_of_a_master() {
    let cluster = start(3);
    let drained = &cluster.masters()[2];
    let heir = &cluster.masters()[1];
    let heir_id = cluster.node_id(heir).unwrap().to_owned();
    let slots: Vec<u16> = (0..SLOT_COUNT)
        .filter(|&s| cluster.slot_owner(s).port() == drained.port())
        .collect();
    assert!(slots.len() > 5000);
    // The new owner first, as for a migration; pipelined, the slots are empty.
    for master in [heir, drained, &cluster.masters()[0]] {
        let mut c = master.connect().unwrap();
        for slot in &slots {
            c.send(&["CLUSTER", "SETSLOT", &slot.to_string(), "NODE", &heir_id])
                .unwrap();
        }
        for _ in &slots {
            assert_eq!(c.recv().unwrap(), Reply::Status("OK".into()));
        }
    }

    cluster.wait_consistent().unwrap();

    assert!(
        slots
            .iter()
            .all(|&s| cluster.slot_owner(s).port() == heir.port())
    );
    let key = (0u64..)
        .map(|i| format!("k:{i}"))
        .find(|k| slots.contains(&key_slot(k.as_bytes())))
        .unwrap();
    assert_eq!(
        cluster.cmd(&["SET", &key, "v"]).unwrap(),
        Reply::Status("OK".into())
    );
    assert_eq!(heir.cmd(&["GET", &key]).unwrap().as_str(), Some("v"));
    // Without slots, the drained master redirects (Redis even makes it a
    // replica of the heir: cluster-allow-replica-migration).
    let slot = key_slot(key.as_bytes());
    assert_eq!(
        drained.cmd(&["GET", &key]).unwrap(),
        Reply::Error(format!("MOVED {slot} {}", heir.addr()))
    );
}
