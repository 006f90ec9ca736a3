//! A real `redis-server` child process on a free loopback port.

use crate::client::{Client, Reply};
use crate::versions::{ServerKind, library_path, versioned_server};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer PING after it is spawned.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many ports are tried when the chosen one turns out to be taken.
const MAX_PORT_ATTEMPTS: usize = 8;

/// What a Redis Cluster node adds to its port for its cluster bus port.
pub(crate) const CLUSTER_BUS_PORT_OFFSET: u16 = 10_000;

/// How many free ports are drawn, at most, to find one whose bus port is free too.
const MAX_BUS_PORT_DRAWS: usize = 256;

/// Name of the file the server's stdout and stderr (its log) go to, inside [`RedisServer::dir`].
pub const LOG_FILE_NAME: &str = "redis.log";

/// Name of the server's dump file, inside [`RedisServer::dir`].
pub const DUMP_FILE_NAME: &str = "dump.rdb";

const INSTALL_HINT: &str = "install it with `apt-get install redis-server redis-tools`";

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A `redis-server` child listening on `127.0.0.1:<free port>`, in its own temp dir.
///
/// Dropping it kills the process, waits for it and removes the directory.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    binary: PathBuf,
    conn: Mutex<Option<Client>>,
}

enum StartError {
    PortInUse,
    Failed(io::Error),
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Failed(e)
    }
}

/// How to start a [`RedisServer`]: which binary, what data it loads at
/// startup, which further arguments. From [`RedisServer::builder`].
///
/// ```no_run
/// use ferry_testkit::{RedisServer, ServerKind};
/// use std::path::Path;
///
/// let server = RedisServer::builder()
///     .version(ServerKind::Redis74)
///     .rdb(Path::new("dump.rdb"))
///     .start()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServerBuilder {
    kind: Option<ServerKind>,
    rdb: Option<PathBuf>,
    args: Vec<String>,
    bus_port: bool,
    port: Option<u16>,
}

impl ServerBuilder {
    /// Listens on `port` rather than a free one: to restart a server where
    /// its clients expect it. Fails if the port is taken.
    pub fn port(mut self, port: u16) -> ServerBuilder {
        self.port = Some(port);
        self
    }

    /// Runs the server of `kind` that `scripts/install-servers.sh` installed
    /// (see [`versioned_server`]) instead of the one on `PATH`.
    pub fn version(mut self, kind: ServerKind) -> ServerBuilder {
        self.kind = Some(kind);
        self
    }

    /// Copies `file` into the server's directory as its dump file before it
    /// starts, so the server loads it (the copy goes with the directory).
    pub fn rdb(mut self, file: &Path) -> ServerBuilder {
        self.rdb = Some(file.to_path_buf());
        self
    }

    /// One more argument, after the defaults (later arguments win).
    pub fn arg(mut self, arg: &str) -> ServerBuilder {
        self.args.push(arg.to_owned());
        self
    }

    /// Chooses a port whose cluster bus port (port + 10000, at most 65535) is
    /// free too, for a node started with `--cluster-enabled yes`.
    pub(crate) fn cluster_bus_port(mut self) -> ServerBuilder {
        self.bus_port = true;
        self
    }

    /// Starts the server with the arguments of [`RedisServer::start_with`],
    /// plus `--enable-debug-command local` on 7.0+ (so tests may use
    /// `DEBUG`), plus the arguments given with [`ServerBuilder::arg`].
    ///
    /// # Errors
    /// When the binary is missing (for a [`ServerKind`], the message says to
    /// run `scripts/install-servers.sh`), the dump file cannot be copied, or
    /// the server does not come up (the error carries its log).
    pub fn start(&self) -> io::Result<RedisServer> {
        let (binary, version, libs) = match self.kind {
            Some(kind) => (
                versioned_server(kind)?,
                Some(kind.version()),
                library_path(kind),
            ),
            None => {
                let binary = redis_server()?;
                let version = server_version(&binary).ok();
                (binary, version, None)
            }
        };
        let mut args = Vec::new();
        if version.is_some_and(|v| v >= (7, 0, 0)) {
            args.extend(["--enable-debug-command", "local"]);
        }
        args.extend(self.args.iter().map(String::as_str));
        let launch = Launch {
            binary: &binary,
            library_path: libs.as_deref(),
            rdb: self.rdb.as_deref(),
            bus_port: self.bus_port,
            port: self.port,
        };
        launch.start(&args)
    }
}

/// What [`spawn`] runs, besides the port and the arguments.
struct Launch<'a> {
    binary: &'a Path,
    /// `LD_LIBRARY_PATH` for the server's process only.
    library_path: Option<&'a OsStr>,
    /// Copied into the server's directory as [`DUMP_FILE_NAME`].
    rdb: Option<&'a Path>,
    /// The port must leave room for a free cluster bus port (see [`free_cluster_port`]).
    bus_port: bool,
    /// This port and no other.
    port: Option<u16>,
}

impl RedisServer {
    /// Starts the `redis-server` found on `PATH` (see [`redis_server`]) with
    /// `--save "" --appendonly no`, and on 7.0+ `--enable-debug-command local`
    /// (so tests may use `DEBUG`). The same as `RedisServer::builder().start()`.
    ///
    /// # Errors
    /// When the binary is missing or the server does not come up (the error carries its log).
    pub fn start() -> io::Result<RedisServer> {
        RedisServer::builder().start()
    }

    /// Starts the server of `kind` that `scripts/install-servers.sh`
    /// installed, like [`RedisServer::start`] does the one on `PATH`. The same
    /// as `RedisServer::builder().version(kind).start()`.
    ///
    /// # Errors
    /// When the server is not installed (the message says to run
    /// `scripts/install-servers.sh`) or does not come up (the error carries its log).
    pub fn start_version(kind: ServerKind) -> io::Result<RedisServer> {
        RedisServer::builder().version(kind).start()
    }

    /// A [`ServerBuilder`] to choose the binary, a dump file to load and more arguments.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Starts `binary` with `--port <free> --bind 127.0.0.1 --dir <temp dir>
    /// --dbfilename dump.rdb --daemonize no --save "" --appendonly no`, then
    /// `extra_args` (later arguments win). Its stdout and stderr go to
    /// [`LOG_FILE_NAME`] in [`RedisServer::dir`].
    ///
    /// Returns once the server answers PING. If the port was taken in the
    /// meantime, retries on another one.
    ///
    /// # Errors
    /// When the process cannot be spawned, exits, or does not answer within
    /// [`START_TIMEOUT`]; the error message includes the server's log.
    pub fn start_with(binary: &Path, extra_args: &[&str]) -> io::Result<RedisServer> {
        let launch = Launch {
            binary,
            library_path: None,
            rdb: None,
            bus_port: false,
            port: None,
        };
        launch.start(extra_args)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's working directory (dump file, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The binary this server runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far (stdout and stderr), lossily decoded.
    pub fn log(&self) -> String {
        read_log(&self.dir)
    }

    /// A new connection.
    ///
    /// # Errors
    /// When the connection fails.
    pub fn connect(&self) -> io::Result<Client> {
        Client::connect(("127.0.0.1", self.port))
    }

    /// Runs one command on a cached connection (opened on first use, reopened
    /// after an I/O error). A server error is `Ok(Reply::Error)`. The cached
    /// connection keeps its state, so a `SELECT` sent here sticks.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> io::Result<Reply> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let client = match guard.as_mut() {
            Some(c) => c,
            None => guard.insert(self.connect()?),
        };
        let res = client.cmd(args);
        if res.is_err() {
            *guard = None;
        }
        res
    }

    /// Runs `SAVE` and returns the path of the dump file.
    ///
    /// # Errors
    /// When SAVE fails or the file is not there.
    pub fn save_rdb(&self) -> io::Result<PathBuf> {
        self.cmd(&["SAVE"])?.into_result()?;
        let path = self.rdb_path()?;
        if !path.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("SAVE succeeded but {} is missing", path.display()),
            ));
        }
        Ok(path)
    }

    /// Where the server writes its dump file (`CONFIG GET dir` / `dbfilename`).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn rdb_path(&self) -> io::Result<PathBuf> {
        let dir = self
            .config_get("dir")?
            .map(PathBuf::from)
            .unwrap_or_else(|| self.dir.clone());
        let file = self
            .config_get("dbfilename")?
            .unwrap_or_else(|| DUMP_FILE_NAME.to_owned());
        Ok(dir.join(file))
    }

    /// `CONFIG GET name`: the value, `None` if unknown or CONFIG is unavailable.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn config_get(&self, name: &str) -> io::Result<Option<String>> {
        let reply = self.cmd(&["CONFIG", "GET", name])?;
        Ok(reply
            .as_array()
            .and_then(|a| a.get(1))
            .and_then(Reply::as_str)
            .map(str::to_owned))
    }
}

impl Launch<'_> {
    fn start(&self, extra_args: &[&str]) -> io::Result<RedisServer> {
        let binary = self.binary;
        let dir = unique_dir()?;
        if let Some(rdb) = self.rdb
            && let Err(e) = fs::copy(rdb, dir.join(DUMP_FILE_NAME))
        {
            let _ = fs::remove_dir_all(&dir);
            return Err(io::Error::new(
                e.kind(),
                format!("cannot copy {} to the server's dir: {e}", rdb.display()),
            ));
        }
        let mut last_port = 0;
        for _ in 0..MAX_PORT_ATTEMPTS {
            let port = match if let Some(port) = self.port {
                Ok(port)
            } else if self.bus_port {
                free_cluster_port()
            } else {
                free_port()
            } {
                Ok(port) => port,
                Err(e) => {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(e);
                }
            };
            last_port = port;
            match spawn(self, &dir, port, extra_args) {
                Ok(child) => {
                    return Ok(RedisServer {
                        child,
                        port,
                        dir,
                        binary: binary.to_path_buf(),
                        conn: Mutex::new(None),
                    });
                }
                Err(StartError::PortInUse) if self.port.is_none() => continue,
                Err(StartError::PortInUse) => break,
                Err(StartError::Failed(e)) => {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(e);
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "{}: no free port after {MAX_PORT_ATTEMPTS} attempts (last {last_port})",
                binary.display()
            ),
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.conn.lock() {
            *guard = None;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn spawn(launch: &Launch<'_>, dir: &Path, port: u16, extra: &[&str]) -> Result<Child, StartError> {
    let binary = launch.binary;
    let log = File::create(dir.join(LOG_FILE_NAME))?;
    let log_err = log.try_clone()?;
    let port_text = port.to_string();
    let mut command = Command::new(binary);
    if let Some(path) = launch.library_path {
        command.env("LD_LIBRARY_PATH", path);
    }
    let mut child = command
        .args(["--port", &port_text, "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--dbfilename", DUMP_FILE_NAME, "--daemonize", "no"])
        .args(["--save", "", "--appendonly", "no"])
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {}: {e}; {INSTALL_HINT}", binary.display()),
            )
        })?;
    match wait_ready(&mut child, port) {
        Ok(()) => Ok(child),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            let log = read_log(dir);
            if log.contains("Address already in use") {
                return Err(StartError::PortInUse);
            }
            Err(StartError::Failed(io::Error::new(
                e.kind(),
                format!(
                    "{} on port {port} did not start: {e}\n--- server log ({}) ---\n{log}",
                    binary.display(),
                    dir.join(LOG_FILE_NAME).display()
                ),
            )))
        }
    }
}

/// Polls until the child answers PING on `port` and is the process listening there.
fn wait_ready(child: &mut Child, port: u16) -> io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last_err = String::from("no attempt yet");
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("server exited with {status}")));
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no PONG within {START_TIMEOUT:?} (last: {last_err})"),
            ));
        }
        match ping(addr) {
            Ok(Some(pid)) if pid != child.id() => {
                // Someone else owns the port; ours will fail to bind and exit.
                last_err = format!("port {port} answered by another process (pid {pid})");
            }
            Ok(_) => return Ok(()),
            Err(e) => last_err = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// PING, then the server's pid from `INFO server` (`None` if it does not say).
fn ping(addr: SocketAddr) -> io::Result<Option<u32>> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    let mut client = Client::from_stream(stream)?;
    client.set_timeout(Some(Duration::from_secs(5)))?;
    match client.cmd(&["PING"])? {
        Reply::Status(s) if s == "PONG" => {}
        other => return Err(io::Error::other(format!("PING answered {other:?}"))),
    }
    let info = client.cmd(&["INFO", "server"])?;
    let pid = info.as_str().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|p| p.trim().parse().ok())
    });
    Ok(pid)
}

fn read_log(dir: &Path) -> String {
    match fs::read(dir.join(LOG_FILE_NAME)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("(no log: {e})"),
    }
}

/// A port that was free a moment ago on 127.0.0.1 (for tests that need an
/// address nobody listens on, or start a process by hand).
///
/// # Errors
/// No port could be bound.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// A port that was free a moment ago on 127.0.0.1, and so was the cluster
/// bus port above it (port + [`CLUSTER_BUS_PORT_OFFSET`], which must fit in a `u16`).
///
/// Either may be taken again before the server binds it: the server then
/// fails with "Address already in use" and [`Launch::start`] draws again.
fn free_cluster_port() -> io::Result<u16> {
    for _ in 0..MAX_BUS_PORT_DRAWS {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let Some(bus) = port.checked_add(CLUSTER_BUS_PORT_OFFSET) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "no free port with a free cluster bus port (+{CLUSTER_BUS_PORT_OFFSET}) \
             on 127.0.0.1 after {MAX_BUS_PORT_DRAWS} draws"
        ),
    ))
}

/// A fresh directory under the system temp dir, unique to this process and call.
fn unique_dir() -> io::Result<PathBuf> {
    let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ferry-testkit-{}-{n}", std::process::id()));
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        // Left over from an earlier process with the same pid.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_dir_all(&dir)?;
            fs::create_dir(&dir)?;
            Ok(dir)
        }
        Err(e) => Err(e),
    }
}

/// Finds `name` on `PATH` (an executable file).
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn tool(name: &str, env: &str) -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    find_on_path(name).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("`{name}` not found on PATH; {INSTALL_HINT} (or set {env})"),
        )
    })
}

/// The `redis-server` binary: `$FERRY_REDIS_SERVER`, else the first on `PATH`.
///
/// # Errors
/// `NotFound`, with how to install it, when it is missing.
pub fn redis_server() -> io::Result<PathBuf> {
    tool("redis-server", "FERRY_REDIS_SERVER")
}

/// The `redis-cli` binary: `$FERRY_REDIS_CLI`, else the first on `PATH`.
///
/// # Errors
/// `NotFound`, with how to install it, when it is missing.
pub fn redis_cli() -> io::Result<PathBuf> {
    tool("redis-cli", "FERRY_REDIS_CLI")
}

/// The version a server binary reports with `--version` (`v=7.0.15` → `(7, 0, 15)`).
///
/// # Errors
/// When the binary cannot run or its output has no version.
pub fn server_version(binary: &Path) -> io::Result<(u32, u32, u32)> {
    let out = Command::new(binary).arg("--version").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no version in `{} --version`: {text:?}", binary.display()),
        )
    })
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let start = text.find("v=")? + 2;
    let word = text[start..].split_whitespace().next()?;
    let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_version_lines() {
        assert_eq!(
            parse_version("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64"),
            Some((7, 0, 15))
        );
        assert_eq!(
            parse_version("Valkey server v=8.1.1 sha=0"),
            Some((8, 1, 1))
        );
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn cluster_ports_leave_room_for_a_free_bus_port() {
        for _ in 0..20 {
            let Ok(port) = free_cluster_port() else {
                panic!("no cluster port");
            };
            let Some(bus) = port.checked_add(CLUSTER_BUS_PORT_OFFSET) else {
                panic!("{port} + {CLUSTER_BUS_PORT_OFFSET} overflows");
            };
            assert!(
                TcpListener::bind(("127.0.0.1", bus)).is_ok(),
                "bus port {bus} of {port} is taken"
            );
        }
    }

    #[test]
    fn unique_dirs_differ() {
        let a = unique_dir().ok();
        let b = unique_dir().ok();
        assert!(a.is_some() && a != b);
        for d in [a, b].into_iter().flatten() {
            let _ = fs::remove_dir_all(d);
        }
    }
}
