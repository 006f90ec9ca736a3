//! `ferry sync` against real servers: a source that keeps being written
//! while it is copied, into a standalone target and into a 3-master cluster.

use crate::support::{ChildGuard, cluster_snapshot, digest, ferry};
use ferry_testkit::dataset::{fill_varied, snapshot};
use ferry_testkit::{RedisCluster, RedisServer};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Converging may take this long once the writer stops.
const CATCH_UP: Duration = Duration::from_secs(60);

struct Running {
    child: ChildGuard,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sync.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = ferry()
            .arg("sync")
            .args(args)
            .args(["--status-interval", "1"])
            .env_remove("FERRY_SOURCE_PASSWORD")
            .env_remove("FERRY_TARGET_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Running {
            child: ChildGuard(child),
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for ferry to exit by itself; its exit code and log.
    fn exit(mut self) -> (Option<i32>, String) {
        let code = self.child.wait_for_exit(CATCH_UP);
        (code, self.log())
    }

    /// SIGINT, then the exit code and log.
    fn stop(self) -> (Option<i32>, String) {
        std::process::Command::new("kill")
            .args(["-INT", &self.child.0.id().to_string()])
            .status()
            .unwrap();
        self.exit()
    }
}

/// Writes every kind of command to `server` until `stop`; keys of `db0`
/// only when `db0_only`. Hash tags keep each MULTI and EVAL in one slot.
fn writer(server: &RedisServer, stop: &AtomicBool, db0_only: bool) -> u64 {
    let mut c = server.connect().unwrap();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let k = |p: &str| format!("w:{p}:{}", i % 50);
        c.cmd(&["SET", &k("s"), &i.to_string()]).unwrap();
        c.cmd(&["INCR", &k("n")]).unwrap();
        c.cmd(&["LPUSH", &k("l"), &i.to_string()]).unwrap();
        c.cmd(&["HSET", &k("h"), &format!("f{}", i % 7), "v"])
            .unwrap();
        c.cmd(&["ZADD", &k("z"), &i.to_string(), &format!("m{}", i % 9)])
            .unwrap();
        c.cmd(&["XADD", &k("x"), "*", "i", &i.to_string()]).unwrap();
        c.cmd(&["EXPIRE", &k("s"), "3600"]).unwrap();
        if i.is_multiple_of(5) {
            c.cmd(&["DEL", &k("l"), &k("n")]).unwrap();
            c.cmd(&["MSET", &k("a"), "1", &k("b"), "2"]).unwrap();
        }
        c.cmd(&["MULTI"]).unwrap();
        c.cmd(&["INCR", "{t}:a"]).unwrap();
        c.cmd(&["INCR", "{t}:b"]).unwrap();
        c.cmd(&["EXEC"]).unwrap();
        c.cmd(&[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2])",
            "2",
            "{lua}:a",
            "{lua}:b",
            &i.to_string(),
        ])
        .unwrap();
        if !db0_only && i.is_multiple_of(10) {
            c.cmd(&["SELECT", "1"]).unwrap();
            c.cmd(&["SET", &k("db1"), &i.to_string()]).unwrap();
            c.cmd(&["SELECT", "0"]).unwrap();
        }
        i += 1;
    }
    i
}

/// Runs `writer` for `secs` seconds in a thread.
fn write_for(server: &RedisServer, secs: u64, db0_only: bool) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let handle = s.spawn(|| writer(server, &stop, db0_only));
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::SeqCst);
        handle.join().unwrap()
    })
}

#[test]
fn sync_copies_a_source_written_during_the_copy_into_standalone() {
    let source = RedisServer::start().unwrap();
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
    let source = RedisServer::start().unwrap();
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
    assert_eq!(target.cmd(&["DBSIZE"]).unwrap().as_int(), Some(1));
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
