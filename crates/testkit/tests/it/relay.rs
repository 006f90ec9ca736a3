//! Relay between a client and a real server: forwarding, cuts, blocking, drop.

use ferry_testkit::{Client, RedisServer, Relay, Reply, free_port};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Long enough for anything on loopback; a failing test waits this, not forever.
const WAIT: Duration = Duration::from_secs(5);

fn server_and_relay() -> (RedisServer, Relay) {
    let server = RedisServer::start().expect("redis-server starts");
    let relay = Relay::start(&server.addr()).expect("relay starts");
    (server, relay)
}

fn client(relay: &Relay) -> Client {
    let mut client = Client::connect(relay.addr()).unwrap();
    client.set_timeout(Some(WAIT)).unwrap();
    client
}

fn pong(client: &mut Client) {
    assert_eq!(client.cmd(&["PING"]).unwrap(), Reply::Status("PONG".into()));
}

/// Polls `cond` every millisecond until it holds; panics after [`WAIT`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads from a raw connection and checks the relay closed it: end of stream
/// or a reset, not a timeout.
fn assert_closed(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from a closed connection"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "expected end of stream, got {e}"
        ),
    }
}

/// Whether the server lists a client named `name`.
fn server_has_client(server: &RedisServer, name: &str) -> bool {
    let list = server.cmd(&["CLIENT", "LIST"]).unwrap();
    let text = list.as_str().unwrap().to_owned();
    text.lines()
        .any(|l| l.split(' ').any(|f| f == format!("name={name}")))
}

#[test]
fn relay_forwards_ping_and_counts_the_connection() {
    let (_server, relay) = server_and_relay();
    assert_eq!(relay.addr(), format!("127.0.0.1:{}", relay.port()));
    let mut c = client(&relay);
    pong(&mut c);
    assert_eq!(relay.accepted(), 1);
    assert_eq!(relay.open(), 1);
    // "+PONG\r\n"
    wait_until("the reply is counted", || relay.bytes_down() == 7);
    drop(c);
    wait_until("the closed connection is gone", || relay.open() == 0);
}

#[test]
fn relay_bytes_down_grows_with_replies() {
    let (server, relay) = server_and_relay();
    let value = vec![b'v'; 100_000];
    server.cmd(&[b"SET".as_slice(), b"big", &value]).unwrap();
    let mut c = client(&relay);
    let before = relay.bytes_down();
    let got = c.cmd(&["GET", "big"]).unwrap();
    assert_eq!(got.as_bytes(), Some(value.as_slice()));
    wait_until("the whole reply is counted", || {
        relay.bytes_down() >= before + 100_000
    });
}

#[test]
fn relay_cut_closes_both_sides_and_accepts_new_connections() {
    let (server, relay) = server_and_relay();
    let mut c = client(&relay);
    assert_eq!(
        c.cmd(&["CLIENT", "SETNAME", "relayed"]).unwrap(),
        Reply::Status("OK".into())
    );
    assert!(server_has_client(&server, "relayed"));

    assert_eq!(relay.cut(), 1);
    assert_eq!(relay.open(), 0);
    assert!(
        c.cmd(&["PING"]).is_err(),
        "the cut connection still answers"
    );
    wait_until("the server sees the connection closed", || {
        !server_has_client(&server, "relayed")
    });

    let mut again = client(&relay);
    pong(&mut again);
    assert_eq!(relay.accepted(), 2);
    assert_eq!(relay.open(), 1);
    assert_eq!(relay.cut(), 1);
    assert_eq!(relay.cut(), 0);
}

#[test]
fn relay_cut_right_after_connect_closes_the_connection_too() {
    let (_server, relay) = server_and_relay();
    for _ in 0..20 {
        // connect() returns once the kernel completed the handshake, maybe
        // before the relay took the connection from its listener.
        let mut raw = TcpStream::connect(relay.addr()).unwrap();
        assert_eq!(relay.cut(), 1);
        assert_closed(&mut raw);
    }
    assert_eq!(relay.accepted(), 20);
    assert_eq!(relay.open(), 0);
}

#[test]
fn relay_blocked_closes_new_connections_until_unblocked() {
    let (_server, relay) = server_and_relay();
    let mut open = client(&relay);
    pong(&mut open);

    relay.set_blocked(true);
    assert!(relay.is_blocked());
    assert_eq!(relay.open(), 0);
    assert!(
        open.cmd(&["PING"]).is_err(),
        "blocking cuts open connections"
    );
    for _ in 0..3 {
        let mut raw = TcpStream::connect(relay.addr()).unwrap();
        let _ = raw.write_all(b"PING\r\n");
        assert_closed(&mut raw);
    }
    assert_eq!(relay.accepted(), 4);
    assert_eq!(relay.open(), 0);

    relay.set_blocked(false);
    let mut c = client(&relay);
    pong(&mut c);
    assert_eq!(relay.accepted(), 5);
    assert_eq!(relay.open(), 1);
}

#[test]
fn relay_closes_clients_at_once_while_the_upstream_is_down() {
    let relay = Relay::start(&format!("127.0.0.1:{}", free_port().unwrap())).unwrap();
    let mut raw = TcpStream::connect(relay.addr()).unwrap();
    assert_closed(&mut raw);
    assert_eq!(relay.accepted(), 1);
    assert_eq!(relay.open(), 0);
}

#[test]
fn relay_refuses_upstreams_outside_loopback() {
    for bad in [
        "10.1.2.3:6379",
        "[::1]:6379",
        "redis.example.com:6379",
        "nonsense",
    ] {
        let err = Relay::start(bad).err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::InvalidInput), "{bad}");
    }
}

#[test]
fn relay_drop_joins_every_thread_quickly() {
    let (server, relay) = server_and_relay();
    let mut idle: Vec<Client> = (0..3).map(|_| client(&relay)).collect();
    for c in &mut idle {
        pong(c);
    }
    // A client that does not read a large reply leaves the relay's
    // upstream→client thread blocked in a write.
    let value = vec![b'x'; 4 << 20];
    server.cmd(&[b"SET".as_slice(), b"big", &value]).unwrap();
    let mut stuck = client(&relay);
    for _ in 0..8 {
        stuck.send(&["GET", "big"]).unwrap();
    }
    stuck.flush().unwrap();
    wait_until("data flows to the stuck client", || {
        relay.bytes_down() > 1 << 20
    });
    let mut last = relay.bytes_down();
    wait_until("the stuck client's connection stalls", || {
        std::thread::sleep(Duration::from_millis(20));
        let now = relay.bytes_down();
        std::mem::replace(&mut last, now) == now
    });
    assert_eq!(relay.open(), 4);

    let started = Instant::now();
    drop(relay);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "drop took {took:?}");
    for c in &mut idle {
        assert!(c.cmd(&["PING"]).is_err(), "a connection outlived the relay");
    }
}
