//! Shared pieces of the `ferry sync` tests: the running process with its
//! status endpoint, writers that keep a source busy, and waiting for
//! `caught-up`.

use crate::support::{ChildGuard, ferry};
use ferry_testkit::{RedisCluster, RedisServer};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Converging may take this long once the writer stops.
pub const CATCH_UP: Duration = Duration::from_secs(60);

/// A running `ferry sync`, its log in a file and its status endpoint.
pub struct Running {
    pub child: ChildGuard,
    log: std::path::PathBuf,
    /// The status endpoint's address, once ferry printed it.
    status_addr: OnceLock<String>,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Starts `ferry sync ARGS --status-addr 127.0.0.1:0`: ferry takes a
    /// free port itself and prints it, so no other process can take it
    /// between a test choosing it and ferry listening.
    pub fn start(args: &[&str]) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sync.log");
        let file = std::fs::File::create(&log).unwrap();
        let work = dir.path().join("work");
        let child = ferry()
            .arg("sync")
            .args(args)
            .args(["--status-interval", "1", "--status-addr", "127.0.0.1:0"])
            .arg("--work-dir")
            .arg(&work)
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
            status_addr: OnceLock::new(),
            _dir: dir,
        }
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for ferry to exit by itself; its exit code and log.
    pub fn exit(mut self) -> (Option<i32>, String) {
        let code = self.child.wait_for_exit(CATCH_UP);
        (code, self.log())
    }

    /// SIGINT, then the exit code and log.
    pub fn stop(self) -> (Option<i32>, String) {
        std::process::Command::new("kill")
            .args(["-INT", &self.child.0.id().to_string()])
            .status()
            .unwrap();
        self.exit()
    }

    /// Where the status endpoint listens, once ferry printed it.
    fn status_addr(&self) -> Option<&str> {
        if let Some(addr) = self.status_addr.get() {
            return Some(addr);
        }
        let log = self.log();
        let (_, rest) = log.split_once("status: http://")?;
        let (addr, _) = rest.split_once("/status")?;
        Some(self.status_addr.get_or_init(|| addr.to_owned()))
    }

    /// `GET path` on the status endpoint: the body, or None while it does
    /// not answer.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(self.status_addr()?).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
    }

    /// `GET /status`, parsed.
    pub fn status(&self) -> Option<Value> {
        serde_json::from_str(&self.get("/status")?).ok()
    }

    /// Waits until the status says `caught-up` with every shard's applied
    /// offset at least the offset its source node reports now (read after
    /// the writers stopped, so nothing written is missing). Returns the
    /// last status.
    pub fn wait_caught_up(&self, sources: &[&RedisServer]) -> Value {
        let want: Vec<(String, u64)> = sources.iter().map(|s| (s.addr(), repl_offset(s))).collect();
        let started = Instant::now();
        loop {
            if let Some(status) = self.status() {
                let shards = status["shards"].as_array().cloned().unwrap_or_default();
                let done = status["phase"] == "caught-up"
                    && want.iter().all(|(addr, offset)| {
                        shards.iter().any(|s| {
                            s["source"].as_str() == Some(addr)
                                && s["applied_offset"].as_u64() >= Some(*offset)
                        })
                    });
                if done {
                    return status;
                }
                assert!(
                    started.elapsed() < CATCH_UP,
                    "never caught up with {want:?}; status {status}\n{}",
                    self.log()
                );
            } else {
                assert!(
                    started.elapsed() < CATCH_UP,
                    "the status endpoint never answered\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `master_repl_offset` of a server.
pub fn repl_offset(server: &RedisServer) -> u64 {
    let info = server.cmd(&["INFO", "replication"]).unwrap();
    let text = String::from_utf8(info.into_bytes().unwrap()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Where a writer sends its commands.
pub trait Source: Sync {
    /// Sends one command; panics on an error reply or I/O error.
    fn send(&self, args: &[&str]);
}

impl Source for RedisServer {
    fn send(&self, args: &[&str]) {
        let reply = self.cmd(args).unwrap();
        assert!(!reply.is_error(), "{args:?}: {reply:?}");
    }
}

impl Source for RedisCluster {
    fn send(&self, args: &[&str]) {
        let reply = self.cmd(args).unwrap();
        assert!(!reply.is_error(), "{args:?}: {reply:?}");
    }
}

/// Writes every kind of command to a standalone `server` until `stop`;
/// keys of db 0 only when `db0_only`. Hash tags keep each MULTI and EVAL in
/// one slot. Returns the rounds written.
pub fn writer(server: &RedisServer, stop: &AtomicBool, db0_only: bool) -> u64 {
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

/// Writes to any source (a cluster too: every multi-key command keeps its
/// keys in one slot) until `stop`. Returns the rounds written.
pub fn cluster_writer(source: &dyn Source, stop: &AtomicBool) -> u64 {
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let k = |p: &str| format!("cw:{p}:{}", i % 40);
        source.send(&["SET", &k("s"), &i.to_string()]);
        source.send(&["INCR", &k("n")]);
        source.send(&["LPUSH", &k("l"), &i.to_string()]);
        source.send(&["HSET", &k("h"), &format!("f{}", i % 7), "v"]);
        source.send(&["ZADD", &k("z"), &i.to_string(), &format!("m{}", i % 9)]);
        source.send(&["XADD", &k("x"), "*", "i", &i.to_string()]);
        source.send(&["EXPIRE", &k("s"), "3600"]);
        if i.is_multiple_of(5) {
            source.send(&["DEL", &k("l")]);
            let tag = format!("{{m{}}}", i % 3);
            source.send(&["MSET", &format!("{tag}:a"), "1", &format!("{tag}:b"), "2"]);
        }
        source.send(&[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2])",
            "2",
            "{lua}:a",
            "{lua}:b",
            &i.to_string(),
        ]);
        i += 1;
    }
    i
}

/// Runs `write` in a thread until the returned guard is stopped.
pub struct Writer<'a> {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::ScopedJoinHandle<'a, u64>>,
}

impl<'a> Writer<'a> {
    /// Starts `write(stop)` in `scope`.
    pub fn start<'env, F>(scope: &'a std::thread::Scope<'a, 'env>, write: F) -> Writer<'a>
    where
        F: FnOnce(&AtomicBool) -> u64 + Send + 'a,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = scope.spawn(move || write(&flag));
        Writer {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops the writer; the rounds it wrote.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().map(|h| h.join().unwrap()).unwrap_or(0)
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Runs `writer` on a standalone server for `secs` seconds in a thread.
pub fn write_for(server: &RedisServer, secs: u64, db0_only: bool) -> u64 {
    std::thread::scope(|s| {
        let w = Writer::start(s, |stop| writer(server, stop, db0_only));
        std::thread::sleep(Duration::from_secs(secs));
        w.stop()
    })
}
