//! A TCP relay on loopback that drops its connections on command, so tests can
//! break a link (e.g. replication between Ferry and its source) and check that
//! the client reconnects and resumes.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How often the accept thread polls its nonblocking listener; also the
/// longest [`Relay`]'s `Drop` waits for that thread to notice it should stop.
const ACCEPT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How long connecting to the upstream may take before the client is closed
/// instead (on loopback a refused connect fails at once; this bounds a stuck one).
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The buffer of each forwarding thread.
const FORWARD_BUFFER_BYTES: usize = 16 * 1024;

/// Listens on `127.0.0.1:<free port>` and forwards each accepted connection to
/// `upstream` (a `host:port` on `127.0.0.0/8`), until told to drop them.
///
/// Each connection gets two forwarding threads, one per direction. An end of
/// stream is passed on as a half-close (so a client's `QUIT` or close reaches
/// the server as it would directly); a failed read or write closes both sides.
/// [`Relay::cut`] closes every open connection on both sides at once, as a
/// broken network would look to the client and to the server;
/// [`Relay::set_blocked`] makes the upstream look down.
///
/// Dropping it stops accepting, closes every connection and joins every thread.
///
/// ```no_run
/// use ferry_testkit::{RedisServer, Relay, Reply};
///
/// let server = RedisServer::start()?;
/// let relay = Relay::start(&server.addr())?;
/// let mut client = ferry_testkit::Client::connect(relay.addr())?;
/// assert_eq!(client.cmd(&["PING"])?, Reply::Status("PONG".into()));
/// assert_eq!(relay.cut(), 1);
/// assert!(client.cmd(&["PING"]).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Relay {
    port: u16,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// What the relay, its accept thread and its forwarding threads share.
struct Shared {
    upstream: SocketAddr,
    /// Held by the accept thread from `accept` until the connection is
    /// registered in `conns`, and by [`Shared::cut`] while it closes: so a
    /// connection is never between the two, where a cut would miss it.
    listener: Mutex<TcpListener>,
    conns: Mutex<Conns>,
    stop: AtomicBool,
    blocked: AtomicBool,
    accepted: AtomicUsize,
    bytes_down: AtomicU64,
}

#[derive(Default)]
struct Conns {
    next_id: u64,
    open: HashMap<u64, Conn>,
    /// Forwarding threads not joined yet (finished ones are pruned as new ones start).
    threads: Vec<JoinHandle<()>>,
}

/// One relayed connection; the forwarding threads hold the same sockets.
struct Conn {
    client: Arc<TcpStream>,
    upstream: Arc<TcpStream>,
    /// Forwarding threads still running; the last one to finish removes the entry.
    running: u8,
}

/// Which way a forwarding thread copies.
#[derive(Clone, Copy)]
enum Direction {
    /// Client to upstream.
    Up,
    /// Upstream to client (counted in [`Relay::bytes_down`]).
    Down,
}

impl Relay {
    /// Starts relaying `127.0.0.1:<free port>` to `upstream`, an `ip:port`
    /// (or `localhost:port`) on `127.0.0.0/8`. The upstream need not be up:
    /// while it refuses, accepted connections are closed at once.
    ///
    /// # Errors
    /// `InvalidInput` when `upstream` is not such an address (the relay never
    /// points outside loopback); otherwise when the listener or its thread
    /// cannot be set up.
    pub fn start(upstream: &str) -> io::Result<Relay> {
        let upstream = loopback_addr(upstream)?;
        // Port 0: the kernel picks a free port and we hold it from now on.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        // Nonblocking, so the accept thread can poll `stop` and Drop never hangs.
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            upstream,
            listener: Mutex::new(listener),
            conns: Mutex::new(Conns::default()),
            stop: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            bytes_down: AtomicU64::new(0),
        });
        let accept_thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("relay-accept-{port}"))
                .spawn(move || shared.accept_loop())?
        };
        Ok(Relay {
            port,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// `127.0.0.1:PORT`, where clients connect.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where connections are forwarded.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Closes every connection open now, both sides (`shutdown(Both)` on the
    /// client and the upstream socket), and returns how many it closed. New
    /// connections are still accepted afterwards.
    ///
    /// A connection whose client has connected but that the relay has not
    /// taken from the listener yet is open now too: it is accepted and closed.
    /// [`Relay::open`] is 0 on return; the forwarding threads end promptly.
    pub fn cut(&self) -> usize {
        self.shared.cut()
    }

    /// While blocked, new connections are accepted and closed at once (the
    /// upstream looks down); open ones are cut too when `blocked` becomes true.
    pub fn set_blocked(&self, blocked: bool) {
        // The flag first, so nothing the cut misses gets through afterwards.
        self.shared.blocked.store(blocked, Ordering::SeqCst);
        if blocked {
            self.shared.cut();
        }
    }

    /// Whether new connections are closed at once (see [`Relay::set_blocked`]).
    pub fn is_blocked(&self) -> bool {
        self.shared.blocked.load(Ordering::SeqCst)
    }

    /// Connections accepted so far (including ones closed at once while
    /// blocked, when the upstream refused, or by a cut before they were forwarded).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now (being forwarded).
    pub fn open(&self) -> usize {
        lock(&self.shared.conns).open.len()
    }

    /// Bytes forwarded upstream→client so far (lets a test wait until data
    /// flowed). Counted just after each write to the client, so for a moment
    /// it may trail what a client has already read: poll it.
    pub fn bytes_down(&self) -> u64 {
        self.shared.bytes_down.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr())
            .field("upstream", &self.shared.upstream)
            .field("blocked", &self.is_blocked())
            .field("accepted", &self.accepted())
            .field("open", &self.open())
            .field("bytes_down", &self.bytes_down())
            .finish()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        // The accept thread is gone, so no connection starts after this cut.
        self.shared.cut();
        let threads = std::mem::take(&mut lock(&self.shared.conns).threads);
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn accept_loop(self: &Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            let listener = lock(&self.listener);
            match listener.accept() {
                // Still holding the listener: see `Shared::listener`.
                Ok((client, _)) => self.admit(client),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock, or a transient failure (e.g. out of file
                // descriptors): wait rather than spin or give up.
                Err(_) => {
                    drop(listener);
                    thread::sleep(ACCEPT_POLL_INTERVAL);
                }
            }
        }
    }

    /// Forwards a connection just accepted, or closes it at once when blocked
    /// or when the upstream cannot be reached.
    fn admit(self: &Arc<Self>, client: TcpStream) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        if self.blocked.load(Ordering::SeqCst) {
            close(&client);
            return;
        }
        let upstream = match TcpStream::connect_timeout(&self.upstream, UPSTREAM_CONNECT_TIMEOUT) {
            Ok(upstream) => upstream,
            Err(_) => {
                close(&client);
                return;
            }
        };
        if prepare(&client, &upstream).is_err() {
            close(&client);
            close(&upstream);
            return;
        }
        self.register(client, upstream);
    }

    /// Records the connection as open and starts its two forwarding threads.
    fn register(self: &Arc<Self>, client: TcpStream, upstream: TcpStream) {
        let client = Arc::new(client);
        let upstream = Arc::new(upstream);
        let mut conns = lock(&self.conns);
        // Finished threads need no join; forgetting them keeps the list short.
        conns.threads.retain(|t| !t.is_finished());
        let id = conns.next_id;
        conns.next_id += 1;
        // Registered before the threads start, so the last one to finish finds it.
        conns.open.insert(
            id,
            Conn {
                client: Arc::clone(&client),
                upstream: Arc::clone(&upstream),
                running: 2,
            },
        );
        for direction in [Direction::Up, Direction::Down] {
            let (shared, client, upstream) =
                (Arc::clone(self), Arc::clone(&client), Arc::clone(&upstream));
            let name = match direction {
                Direction::Up => format!("relay-up-{id}"),
                Direction::Down => format!("relay-down-{id}"),
            };
            let spawned = thread::Builder::new()
                .name(name)
                .spawn(move || shared.forward(id, direction, &client, &upstream));
            match spawned {
                Ok(thread) => conns.threads.push(thread),
                Err(_) => {
                    // Half a relay would hang its peer: close it; a thread
                    // already started sees the shutdown and ends.
                    if let Some(conn) = conns.open.remove(&id) {
                        conn.close();
                    }
                    return;
                }
            }
        }
    }

    /// One forwarding thread: copies until an end of stream or an error, then
    /// marks itself finished.
    fn forward(&self, id: u64, direction: Direction, client: &TcpStream, upstream: &TcpStream) {
        match direction {
            Direction::Up => pump(client, upstream, None),
            Direction::Down => pump(upstream, client, Some(&self.bytes_down)),
        }
        let mut conns = lock(&self.conns);
        // A cut may have removed the entry already.
        if let Some(conn) = conns.open.get_mut(&id) {
            conn.running = conn.running.saturating_sub(1);
            if conn.running == 0 {
                conns.open.remove(&id);
            }
        }
    }

    /// Closes the connections waiting in the listener and every open one; returns how many.
    fn cut(&self) -> usize {
        let listener = lock(&self.listener);
        let mut closed = 0;
        // Their clients have connected (the kernel completed the handshake),
        // so to them they are open: a test that connects and then cuts must
        // see its connection closed, not forwarded a moment later.
        while let Ok((client, _)) = listener.accept() {
            self.accepted.fetch_add(1, Ordering::SeqCst);
            close(&client);
            closed += 1;
        }
        let open: Vec<Conn> = lock(&self.conns).open.drain().map(|(_, c)| c).collect();
        for conn in &open {
            conn.close();
        }
        closed + open.len()
    }
}

impl Conn {
    /// Both sockets, both directions: blocked reads return end of stream and
    /// blocked writes fail, so both forwarding threads end.
    fn close(&self) {
        close(&self.client);
        close(&self.upstream);
    }
}

/// Socket options for a relayed pair.
fn prepare(client: &TcpStream, upstream: &TcpStream) -> io::Result<()> {
    // Some platforms hand out accepted sockets with the listener's O_NONBLOCK.
    client.set_nonblocking(false)?;
    // Replication and request/reply traffic is latency-bound: no Nagle delay
    // in the relay that the direct connection would not have.
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)
}

/// Copies `from` to `to` until `from` ends (passed on as a half-close) or a
/// read or write fails (both sockets closed, so the other direction ends too).
fn pump(mut from: &TcpStream, mut to: &TcpStream, counter: Option<&AtomicU64>) {
    let mut buf = vec![0; FORWARD_BUFFER_BYTES];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(counter) = counter {
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
    close(from);
    close(to);
}

/// Shuts a socket down both ways, ignoring errors (it may be closed already).
fn close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Both);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking forwarding thread must not take `cut` or Drop down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Parses `ip:port` or `localhost:port` (no DNS lookup) and checks that it is on `127.0.0.0/8`.
fn loopback_addr(text: &str) -> io::Result<SocketAddr> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("relay upstream {text:?}: {why}"),
        )
    };
    let addr = match text.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => match text.rsplit_once(':') {
            Some((host, port)) if host.eq_ignore_ascii_case("localhost") => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| invalid("not a valid port"))?;
                SocketAddr::from((Ipv4Addr::LOCALHOST, port))
            }
            _ => return Err(invalid("expected ip:port or localhost:port")),
        },
    };
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && addr.port() != 0 => Ok(addr),
        IpAddr::V4(ip) if ip.is_loopback() => Err(invalid("port 0")),
        _ => Err(invalid(
            "outside 127.0.0.0/8; the relay only points at loopback",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_must_be_on_127_slash_8() {
        let ok = |t: &str| loopback_addr(t).ok();
        assert_eq!(
            ok("127.0.0.1:6379"),
            Some(SocketAddr::from(([127, 0, 0, 1], 6379)))
        );
        assert_eq!(
            ok("127.1.2.3:7000"),
            Some(SocketAddr::from(([127, 1, 2, 3], 7000)))
        );
        assert_eq!(
            ok("localhost:6380"),
            Some(SocketAddr::from(([127, 0, 0, 1], 6380)))
        );
        for bad in [
            "10.0.0.1:6379",
            "0.0.0.0:6379",
            "[::1]:6379",
            "[::ffff:127.0.0.1]:6379",
            "example.com:6379",
            "127.0.0.1",
            "127.0.0.1:0",
            "localhost:port",
            "",
        ] {
            let err = loopback_addr(bad).err();
            assert_eq!(
                err.map(|e| e.kind()),
                Some(io::ErrorKind::InvalidInput),
                "{bad}"
            );
        }
    }
}
