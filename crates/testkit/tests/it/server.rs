//! RedisServer and Client against a real server.

use ferry_testkit::{Client, RedisServer, Reply};
use std::path::Path;

#[test]
fn starts_answers_and_cleans_up_on_drop() {
    let server = RedisServer::start().expect("redis-server starts");
    let dir = server.dir().to_path_buf();
    let pid = server.pid();
    assert!(dir.is_dir());
    assert_eq!(server.addr(), format!("127.0.0.1:{}", server.port()));
    assert_eq!(
        server.cmd(&["PING"]).expect("ping"),
        Reply::Status("PONG".into())
    );
    drop(server);
    assert!(!dir.exists(), "temp dir removed");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process reaped"
    );
}

#[test]
fn many_servers_start_in_parallel_on_distinct_ports() {
    let servers: Vec<RedisServer> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(RedisServer::start)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("server starts"))
            .collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(RedisServer::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len());
    for (i, server) in servers.iter().enumerate() {
        server.cmd(&["SET", "who", &i.to_string()]).expect("set");
    }
    for (i, server) in servers.iter().enumerate() {
        let got = server.cmd(&["GET", "who"]).expect("get");
        assert_eq!(got.as_str(), Some(i.to_string().as_str()));
    }
}

#[test]
fn client_round_trips_binary_values_and_pipelines() {
    let server = RedisServer::start().expect("redis-server starts");
    let mut c: Client = server.connect().expect("connect");
    let key: &[u8] = b"k\0\r\n\xff";
    let value: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    assert_eq!(
        c.cmd(&[b"SET".as_slice(), key, &value]).expect("set"),
        Reply::Status("OK".into())
    );
    assert_eq!(
        c.cmd(&[b"GET".as_slice(), key]).expect("get").as_bytes(),
        Some(value.as_slice())
    );
    for i in 0..1000 {
        c.send(&["RPUSH", "l", &i.to_string()]).expect("send");
    }
    for i in 0..1000 {
        assert_eq!(c.recv().expect("recv").as_int(), Some(i + 1));
    }
    let range = c.cmd(&["LRANGE", "l", "0", "2"]).expect("lrange");
    let items: Vec<_> = range
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(items, [Some("0"), Some("1"), Some("2")]);
    assert!(c.cmd(&["NOSUCHCOMMAND"]).expect("reply").is_error());
    assert!(c.cmd_ok(&["NOSUCHCOMMAND"]).is_err());
    assert!(c.cmd(&["GET", "missing"]).expect("get").is_nil());
}

#[test]
fn save_rdb_writes_a_dump_file_in_the_server_dir() {
    let server = RedisServer::start().expect("redis-server starts");
    server.cmd(&["SET", "a", "1"]).expect("set");
    let path = server.save_rdb().expect("save");
    assert!(path.starts_with(server.dir()));
    let bytes = std::fs::read(&path).expect("read dump");
    assert!(bytes.starts_with(b"REDIS00"));
}

#[test]
fn start_failure_reports_the_server_log() {
    let binary = ferry_testkit::redis_server().expect("redis-server on PATH");
    let err =
        RedisServer::start_with(&binary, &["--no-such-option", "1"]).expect_err("bad option fails");
    let msg = err.to_string();
    assert!(msg.contains("server log"), "{msg}");
    assert!(msg.to_lowercase().contains("no-such-option"), "{msg}");
}
