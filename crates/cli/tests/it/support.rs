//! Shared helpers: the corpus location, running the binary, reading its output.

use ferry_testkit::{RedisServer, Reply};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The RDB corpus: `$FERRY_TESTDATA`, else `shared/testdata/rdb` next to the repository.
pub fn testdata() -> PathBuf {
    let dir = match std::env::var_os("FERRY_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rdb"),
    };
    assert!(
        dir.join("generated/expected.json").is_file(),
        "RDB corpus not found at {} (set FERRY_TESTDATA to the testdata/rdb directory)",
        dir.display()
    );
    dir
}

/// A file of the corpus, by path relative to its root.
pub fn corpus_file(rel: &str) -> PathBuf {
    let path = testdata().join(rel);
    assert!(path.is_file(), "corpus file {} missing", path.display());
    path
}

/// The built `ferry` binary.
pub fn ferry() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
}

/// Starts `ferry` with `args`, its standard streams piped.
pub fn spawn(args: &[&str]) -> Child {
    ferry()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `ferry` with `args` and `stdin` as standard input.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args);
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may stop reading early (errors); that is not this helper's business.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Runs `ferry` with `args` and no standard input.
pub fn run(args: &[&str]) -> Output {
    ferry().args(args).stdin(Stdio::null()).output().unwrap()
}

/// Runs `ferry dump FILE extra...`.
pub fn dump(file: &Path, extra: &[&str]) -> Output {
    let file = file.to_str().unwrap();
    let mut args = vec!["dump", file];
    args.extend_from_slice(extra);
    run(&args)
}

/// The exit status, or panics when killed by a signal.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("ferry was killed by a signal")
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success, showing stderr otherwise.
pub fn assert_ok(out: &Output) {
    assert_eq!(code(out), 0, "ferry failed: {}", stderr(out));
}

/// Parses every stdout line as a JSON object; panics on anything else.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    assert!(
        stdout.is_empty() || stdout.ends_with(b"\n"),
        "output does not end with a complete line"
    );
    stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let v: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!(
                    "line {} is not JSON ({e}): {}",
                    i + 1,
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                )
            });
            assert!(v.is_object(), "line {} is not an object", i + 1);
            v
        })
        .collect()
}

/// Bytes from a JSON byte string: a string, `{"base64": ...}` (ours) or `{"b64": ...}` (the corpus's).
pub fn bytes_of(v: &Value) -> Vec<u8> {
    use base64::Engine as _;
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => {
            let text = o
                .get("base64")
                .or_else(|| o.get("b64"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("not a byte string: {v}"));
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap()
        }
        _ => panic!("not a byte string: {v}"),
    }
}

/// A fresh empty temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-cli-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Splits a RESP stream of arrays of bulk strings into commands; panics on anything else.
pub fn parse_resp(mut data: &[u8]) -> Vec<Vec<Vec<u8>>> {
    fn line<'a>(data: &mut &'a [u8]) -> &'a [u8] {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("unterminated RESP line");
        let l = &data[..end];
        *data = &data[end + 2..];
        l
    }
    fn number(l: &[u8], prefix: u8) -> usize {
        assert_eq!(l.first(), Some(&prefix), "expected {}", prefix as char);
        std::str::from_utf8(&l[1..]).unwrap().parse().unwrap()
    }
    let mut commands = Vec::new();
    while !data.is_empty() {
        let n = number(line(&mut data), b'*');
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            let len = number(line(&mut data), b'$');
            args.push(data[..len].to_vec());
            assert_eq!(&data[len..len + 2], b"\r\n", "bulk string not terminated");
            data = &data[len + 2..];
        }
        commands.push(args);
    }
    commands
}

/// `DEBUG DIGEST` of a server (testkit servers allow DEBUG).
pub fn digest(server: &RedisServer) -> String {
    let reply = server.cmd(&["DEBUG", "DIGEST"]).unwrap();
    match reply {
        Reply::Status(s) => s,
        Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!(
            "DEBUG DIGEST failed ({other:?}); the server needs --enable-debug-command on 7.0+"
        ),
    }
}

/// Every `.rdb` file below `dir`, recursively, sorted.
pub fn rdb_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rdb_files(&path));
        } else if path.extension().is_some_and(|e| e == "rdb") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A child process, killed and reaped when dropped (a test that panics
/// leaves nothing running).
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits until the process exits, at most `limit`; its exit code.
    pub fn wait_for_exit(&mut self, limit: std::time::Duration) -> Option<i32> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                started.elapsed() < limit,
                "the process did not exit in {limit:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every key of every master of `cluster`.
pub fn cluster_snapshot(cluster: &ferry_testkit::RedisCluster) -> ferry_testkit::dataset::Snapshot {
    let mut all = ferry_testkit::dataset::Snapshot::default();
    for master in cluster.masters() {
        all.keys.extend(
            ferry_testkit::dataset::snapshot(&mut master.connect().unwrap())
                .unwrap()
                .keys,
        );
    }
    all
}
