//! Real servers: commands encoded with [`Command`] go over a plain
//! `TcpStream` to a real `redis-server` (or `valkey-server`), and every reply
//! is read by feeding whatever the socket gave into one [`Decoder`] (7 bytes
//! or 64 KiB per read, so frames arrive in pieces). Each reply is checked
//! against the exact frame the server is known to send, each frame without
//! doubles must encode back to exactly the bytes it came from, and at the end
//! the wire lengths must add up to every byte read from the socket.
//!
//! RESP2: every command type a migration writes or reads, binary and large
//! (1 MiB, 20 MiB) values, transactions, scripts, errors, nulls and a
//! pipeline of 10,000 commands in one write. RESP3: `HELLO 3`, every type
//! `DEBUG PROTOCOL` produces, maps, sets, doubles and push frames (client
//! tracking, pub/sub), against the Debian Redis 7.0 and the versioned
//! servers (Redis 6.2.5 and 7.4.1, Valkey 9.1.2) of
//! `scripts/install-servers.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use ferry_resp::{Command, Decoder, Frame};
use ferry_testkit::{RedisServer, ServerKind};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long one read or write may block before the test fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The small read size: almost every frame arrives in several pieces.
const SMALL_READ_BYTES: usize = 7;
/// The large read size: many frames per read, large ones over many reads.
const LARGE_READ_BYTES: usize = 64 * 1024;
/// Commands in the pipeline sent in one write.
const PIPELINE_COMMANDS: usize = 10_000;

/// One connection: commands out, replies decoded from reads of a fixed size.
struct Conn {
    stream: TcpStream,
    decoder: Decoder,
    /// What the decoder has not taken yet.
    buf: BytesMut,
    /// Every byte read and not yet matched to a frame, to compare frames with
    /// their wire bytes.
    raw: BytesMut,
    /// The read buffer: its size is the most one read returns.
    chunk: Vec<u8>,
    /// Bytes read from the socket.
    read_total: u64,
    /// Sum of the wire lengths of the frames decoded.
    wire_total: u64,
    /// `decode` calls that returned "need more".
    partial: u64,
}

impl Conn {
    /// Connects to `server` on loopback, reading `read_size` bytes at most
    /// per read.
    fn open(server: &RedisServer, read_size: usize) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Conn {
            stream,
            decoder: Decoder::new(),
            buf: BytesMut::new(),
            raw: BytesMut::new(),
            chunk: vec![0; read_size],
            read_total: 0,
            wire_total: 0,
            partial: 0,
        }
    }

    /// Writes bytes to the server.
    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends one command.
    fn send(&mut self, cmd: Command) {
        self.write(&cmd.to_bytes());
    }

    /// The next frame and its wire length, reading as needed.
    fn next(&mut self) -> (Frame, usize) {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some((frame, wire_len))) => {
                    self.wire_total += wire_len as u64;
                    assert!(
                        wire_len <= self.raw.len(),
                        "wire length {wire_len} of {frame:?} is more than the {} bytes read",
                        self.raw.len()
                    );
                    let wire = self.raw.split_to(wire_len).freeze();
                    if has_double(&frame) {
                        // Doubles are the one type with more than one wire
                        // form: decode the wire bytes alone instead.
                        let alone = Decoder::new().decode(&mut BytesMut::from(&wire[..]));
                        let Ok(Some((again, again_len))) = alone else {
                            panic!("{wire:?} is not one frame: {alone:?}");
                        };
                        assert_eq!(format!("{again:?}"), format!("{frame:?}"));
                        assert_eq!(again_len, wire_len);
                    } else {
                        assert_eq!(
                            frame.to_bytes(),
                            wire,
                            "frame does not encode to its wire bytes"
                        );
                        assert_eq!(frame.encoded_len(), wire_len);
                    }
                    return (frame, wire_len);
                }
                Ok(None) => {
                    self.partial += 1;
                    let n = self.stream.read(&mut self.chunk).unwrap();
                    assert!(n > 0, "the server closed the connection");
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    self.raw.extend_from_slice(&self.chunk[..n]);
                    self.read_total += n as u64;
                }
                Err(e) => panic!("decoding a reply failed: {e}"),
            }
        }
    }

    /// The next frame.
    fn frame(&mut self) -> Frame {
        self.next().0
    }

    /// Sends `cmd` and returns its reply.
    fn call(&mut self, cmd: Command) -> Frame {
        self.send(cmd);
        self.frame()
    }

    /// Sends `cmd` and checks that the reply is `want`.
    #[track_caller]
    fn expect(&mut self, cmd: Command, want: Frame) {
        let what = show_command(&cmd);
        let got = self.call(cmd);
        assert_eq!(got, want, "reply to {what}");
    }

    /// Checks that every byte read was part of a decoded frame.
    #[track_caller]
    fn assert_all_bytes_accounted(&self) {
        assert_eq!(
            self.wire_total, self.read_total,
            "wire lengths do not add up to the bytes read"
        );
        assert!(self.buf.is_empty() && self.raw.is_empty());
        assert!(self.decoder.is_idle());
        assert_eq!(self.decoder.offset(), self.read_total);
    }
}

/// True when the frame holds a double anywhere.
fn has_double(frame: &Frame) -> bool {
    match frame {
        Frame::Double(_) => true,
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v.iter().any(has_double),
        Frame::Map(pairs) => pairs.iter().any(|(k, v)| has_double(k) || has_double(v)),
        Frame::Attribute { attrs, data } => {
            has_double(data) || attrs.iter().any(|(k, v)| has_double(k) || has_double(v))
        }
        _ => false,
    }
}

/// The deepest nesting of aggregates in a frame (a leaf is 0).
fn depth(frame: &Frame) -> usize {
    match frame {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
            1 + v.iter().map(depth).max().unwrap_or(0)
        }
        Frame::Map(pairs) | Frame::Attribute { attrs: pairs, .. } => {
            1 + pairs
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// A command's name and first argument, for messages.
fn show_command(cmd: &Command) -> String {
    cmd.parts()
        .iter()
        .take(3)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A bulk string frame.
fn bulk(data: impl AsRef<[u8]>) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(data.as_ref()))
}

/// A simple string frame.
fn simple(text: &str) -> Frame {
    Frame::Simple(Bytes::copy_from_slice(text.as_bytes()))
}

/// An array of bulk strings.
fn bulks(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(bulk).collect())
}

/// The elements of an array, set or push, sorted by their encoding (for
/// sets, whose order depends on the server's encoding).
fn sorted(frame: &Frame) -> Vec<Frame> {
    let mut items = frame
        .as_elements()
        .unwrap_or_else(|| panic!("not an aggregate: {frame:?}"))
        .to_vec();
    items.sort_by_key(Frame::to_bytes);
    items
}

/// A value of `len` bytes holding every byte value (CR, LF and NUL included).
fn big_value(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8).collect()
}

/// The value of `name` in a flat RESP2 list of name/value pairs.
fn field<'a>(pairs: &'a Frame, name: &str) -> &'a Frame {
    let items = pairs.as_elements().expect("a list of pairs");
    items
        .chunks(2)
        .find(|kv| kv[0] == bulk(name))
        .map(|kv| &kv[1])
        .unwrap_or_else(|| panic!("no field {name} in {pairs:?}"))
}

/// SET then GET of `value` under `key`; checks the GET reply's wire length
/// and that it arrived over more than one read when it is larger than one.
fn set_and_get(conn: &mut Conn, key: &[u8], value: &[u8]) {
    conn.expect(Command::new("SET").arg(key).arg(value), simple("OK"));
    let reads_before = conn.partial;
    conn.send(Command::new("GET").arg(key));
    let (frame, wire_len) = conn.next();
    assert!(frame == bulk(value), "GET returned another value");
    let digits = value.len().to_string().len();
    assert_eq!(wire_len, 1 + digits + 2 + value.len() + 2);
    if value.len() > conn.chunk.len() {
        assert!(
            conn.partial - reads_before >= (value.len() / conn.chunk.len()) as u64,
            "a {} byte reply decoded in too few reads",
            value.len()
        );
    }
}

/// The RESP2 replies of every command type a migration writes or reads.
/// `huge` adds the 20 MiB value.
fn check_resp2_commands(conn: &mut Conn, huge: bool) {
    conn.expect(Command::new("PING"), simple("PONG"));

    // Strings: plain, empty, binary with CRLF, NUL and RESP look-alikes.
    set_and_get(conn, b"str", b"value");
    set_and_get(conn, b"empty", b"");
    set_and_get(conn, b"bin:\0\r\nkey", b"a\r\nb\0c\r\n\xff$3\r\n*1\r\n\r");
    set_and_get(conn, b"crlf", b"\r\n");
    set_and_get(conn, b"big:1m", &big_value(1024 * 1024));
    if huge {
        set_and_get(conn, b"big:20m", &big_value(20 * 1024 * 1024));
        conn.expect(
            Command::new("STRLEN").arg("big:20m"),
            Frame::Integer(20 << 20),
        );
    }
    conn.expect(Command::new("GET").arg("missing"), Frame::NullBulk);

    // Counters.
    conn.expect(Command::new("INCR").arg("n"), Frame::Integer(1));
    conn.expect(Command::new("INCR").arg("n"), Frame::Integer(2));
    conn.expect(Command::new("INCRBY").arg("n").arg(-10), Frame::Integer(-8));
    conn.expect(
        Command::new("INCRBY").arg("n").arg(i64::MAX),
        Frame::Integer(i64::MAX - 8),
    );

    // Lists.
    conn.expect(
        Command::new("LPUSH")
            .arg("list")
            .arg("a")
            .arg("b")
            .arg(b"c\r\n"),
        Frame::Integer(3),
    );
    conn.expect(
        Command::new("LRANGE").arg("list").arg(0).arg(-1),
        Frame::Array(vec![bulk(b"c\r\n"), bulk("b"), bulk("a")]),
    );
    conn.expect(
        Command::new("LRANGE").arg("nolist").arg(0).arg(-1),
        Frame::Array(vec![]),
    );
    // A blocking pop that times out: the RESP2 null array.
    conn.expect(
        Command::new("BLPOP").arg("nolist").arg(0.01),
        Frame::NullArray,
    );

    // Hashes: a small hash keeps insertion order.
    conn.expect(
        Command::new("HSET")
            .arg("hash")
            .arg("f1")
            .arg("v1")
            .arg("f2")
            .arg(b"\0"),
        Frame::Integer(2),
    );
    conn.expect(
        Command::new("HGETALL").arg("hash"),
        Frame::Array(vec![bulk("f1"), bulk("v1"), bulk("f2"), bulk(b"\0")]),
    );

    // Sets: order depends on the encoding.
    conn.expect(
        Command::new("SADD").arg("set").arg("a").arg("b").arg("c"),
        Frame::Integer(3),
    );
    let members = conn.call(Command::new("SMEMBERS").arg("set"));
    assert!(matches!(members, Frame::Array(_)), "{members:?}");
    assert_eq!(sorted(&members), vec![bulk("a"), bulk("b"), bulk("c")]);

    // Sorted sets: scores are bulk strings in RESP2.
    conn.expect(
        Command::new("ZADD")
            .arg("zset")
            .arg(1.5)
            .arg("a")
            .arg(2)
            .arg("b")
            .arg(f64::NEG_INFINITY)
            .arg("c"),
        Frame::Integer(3),
    );
    conn.expect(
        Command::new("ZRANGE")
            .arg("zset")
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES"),
        bulks(&["c", "-inf", "a", "1.5", "b", "2"]),
    );
    conn.expect(Command::new("ZSCORE").arg("zset").arg("a"), bulk("1.5"));

    // Streams, with a consumer group and a pending entry so that XINFO
    // STREAM FULL nests all the way down.
    conn.expect(
        Command::new("XADD")
            .arg("stream")
            .arg("1-1")
            .arg("f")
            .arg("v")
            .arg("g")
            .arg(b"w\r\n"),
        bulk("1-1"),
    );
    conn.expect(
        Command::new("XADD")
            .arg("stream")
            .arg("2-1")
            .arg("a")
            .arg("b"),
        bulk("2-1"),
    );
    let entries = Frame::Array(vec![
        Frame::Array(vec![
            bulk("1-1"),
            Frame::Array(vec![bulk("f"), bulk("v"), bulk("g"), bulk(b"w\r\n")]),
        ]),
        Frame::Array(vec![bulk("2-1"), bulks(&["a", "b"])]),
    ]);
    conn.expect(
        Command::new("XRANGE").arg("stream").arg("-").arg("+"),
        entries.clone(),
    );
    conn.expect(
        Command::new("XGROUP")
            .arg("CREATE")
            .arg("stream")
            .arg("grp")
            .arg(0),
        simple("OK"),
    );
    let read = conn.call(
        Command::new("XREADGROUP")
            .arg("GROUP")
            .arg("grp")
            .arg("alice")
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS")
            .arg("stream")
            .arg(">"),
    );
    let first = entries.as_elements().unwrap()[0].clone();
    assert_eq!(
        read,
        Frame::Array(vec![Frame::Array(vec![
            bulk("stream"),
            Frame::Array(vec![first])
        ])])
    );
    let info = conn.call(
        Command::new("XINFO")
            .arg("STREAM")
            .arg("stream")
            .arg("FULL"),
    );
    assert_eq!(field(&info, "length"), &Frame::Integer(2));
    assert_eq!(field(&info, "last-generated-id"), &bulk("2-1"));
    assert_eq!(field(&info, "entries"), &entries);
    let groups = field(&info, "groups").as_elements().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(field(&groups[0], "name"), &bulk("grp"));
    assert_eq!(field(&groups[0], "pel-count"), &Frame::Integer(1));
    let pending = field(&groups[0], "pending").as_elements().unwrap();
    assert_eq!(pending.len(), 1);
    let pel = pending[0].as_elements().unwrap();
    assert_eq!(&pel[..2], &[bulk("1-1"), bulk("alice")]);
    assert!(pel[2].as_integer().is_some_and(|t| t > 0), "{pel:?}");
    assert_eq!(pel[3], Frame::Integer(1));
    let consumers = field(&groups[0], "consumers").as_elements().unwrap();
    assert_eq!(field(&consumers[0], "name"), &bulk("alice"));
    // info > groups > group > consumers > consumer > pending > entry: seven
    // aggregates deep.
    assert_eq!(depth(&info), 7, "{info:?}");

    // Expiry.
    conn.expect(
        Command::new("EXPIRE").arg("str").arg(100),
        Frame::Integer(1),
    );
    let ttl = conn.call(Command::new("PTTL").arg("str"));
    assert!(
        ttl.as_integer().is_some_and(|ms| 0 < ms && ms <= 100_000),
        "{ttl:?}"
    );
    conn.expect(Command::new("PTTL").arg("list"), Frame::Integer(-1));
    conn.expect(Command::new("PTTL").arg("missing"), Frame::Integer(-2));
    conn.expect(
        Command::new("DEL")
            .arg("str")
            .arg("list")
            .arg("hash")
            .arg("missing"),
        Frame::Integer(3),
    );

    // A transaction: QUEUED for each command, then the EXEC array with an
    // error inside it.
    conn.expect(Command::new("MULTI"), simple("OK"));
    conn.expect(Command::new("SET").arg("tx").arg(1), simple("QUEUED"));
    conn.expect(Command::new("INCR").arg("tx"), simple("QUEUED"));
    conn.expect(Command::new("LPUSH").arg("tx").arg("x"), simple("QUEUED"));
    conn.expect(Command::new("GET").arg("nothing"), simple("QUEUED"));
    let exec = conn.call(Command::new("EXEC"));
    let items = exec.as_elements().expect("EXEC returns an array");
    assert_eq!(
        &items[..2],
        &[simple("OK"), Frame::Integer(2)],
        "EXEC reply {exec:?}"
    );
    assert!(
        items[2]
            .error_message()
            .is_some_and(|m| m.starts_with(b"WRONGTYPE ")),
        "{exec:?}"
    );
    assert_eq!(items[3], Frame::NullBulk);
    assert_eq!(items.len(), 4);

    // A script returning nested tables; Lua's numbers are truncated to
    // integers, false is a null, an error table is an error reply.
    let script = "return {1, {2, {'x', {3.7}}}, 's', {err = 'bad'}, {}, false, -5}";
    conn.expect(
        Command::new("EVAL").arg(script).arg(0),
        Frame::Array(vec![
            Frame::Integer(1),
            Frame::Array(vec![
                Frame::Integer(2),
                Frame::Array(vec![bulk("x"), Frame::Array(vec![Frame::Integer(3)])]),
            ]),
            bulk("s"),
            Frame::Error(Bytes::from_static(b"bad")),
            Frame::Array(vec![]),
            Frame::NullBulk,
            Frame::Integer(-5),
        ]),
    );

    // A wrong command: an error reply, and the connection goes on.
    let err = conn.call(Command::new("NOSUCHCOMMAND").arg("x"));
    assert!(
        matches!(&err, Frame::Error(m) if m.starts_with(b"ERR unknown command")),
        "{err:?}"
    );
    let err = conn.call(Command::new("SET").arg("a").arg("b").arg("EX"));
    assert_eq!(err, Frame::Error(Bytes::from_static(b"ERR syntax error")));
    conn.expect(Command::new("PING"), simple("PONG"));

    check_pipeline(conn);
}

/// 10,000 SETs sent in one write; the replies are checked one by one.
fn check_pipeline(conn: &mut Conn) {
    let mut out = BytesMut::new();
    for i in 0..PIPELINE_COMMANDS {
        Command::new("SET")
            .arg(format!("pipe:{i}"))
            .arg(i)
            .encode(&mut out);
    }
    Command::new("GET")
        .arg(format!("pipe:{}", PIPELINE_COMMANDS - 1))
        .encode(&mut out);
    conn.write(&out);
    for i in 0..PIPELINE_COMMANDS {
        let (frame, wire_len) = conn.next();
        assert_eq!((frame, wire_len), (simple("OK"), 5), "reply {i}");
    }
    assert_eq!(conn.frame(), bulk((PIPELINE_COMMANDS - 1).to_string()));
    conn.expect(
        Command::new("MGET")
            .arg("pipe:0")
            .arg("pipe:77")
            .arg("nope"),
        Frame::Array(vec![bulk("0"), bulk("77"), Frame::NullBulk]),
    );
}

/// Sends `DEBUG PROTOCOL <ty>` and returns the reply with its wire length.
fn debug_protocol(conn: &mut Conn, ty: &str) -> (Frame, usize) {
    conn.send(Command::new("DEBUG").arg("PROTOCOL").arg(ty));
    conn.next()
}

/// A server's version from the `version` field of its HELLO reply.
fn parse_version(text: &[u8]) -> (u32, u32, u32) {
    let text = std::str::from_utf8(text).unwrap();
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap());
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

/// `HELLO 3` and every RESP3 reply type, read 7 bytes at a time. `kind` is
/// the versioned server's kind, `None` for the Debian one.
fn check_resp3(server: &RedisServer, kind: Option<ServerKind>) {
    let mut conn = Conn::open(server, SMALL_READ_BYTES);

    // HELLO 3: a map, in this order on every server.
    let hello = conn.call(Command::new("HELLO").arg(3));
    let Frame::Map(pairs) = &hello else {
        panic!("HELLO 3 is not a map: {hello:?}");
    };
    let keys: Vec<Frame> = pairs.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        Frame::Array(keys),
        bulks(&[
            "server", "version", "proto", "id", "mode", "role", "modules"
        ])
    );
    let value = |name: &str| {
        &pairs
            .iter()
            .find(|(k, _)| *k == bulk(name))
            .unwrap_or_else(|| panic!("no {name} in {hello:?}"))
            .1
    };
    let valkey = kind == Some(ServerKind::Valkey91);
    assert_eq!(
        value("server"),
        &bulk(if valkey { "valkey" } else { "redis" })
    );
    let version = parse_version(value("version").as_bytes().unwrap());
    if let Some(kind) = kind {
        assert_eq!(version, kind.version());
    }
    assert_eq!(value("proto"), &Frame::Integer(3));
    assert!(value("id").as_integer().is_some_and(|id| id > 0));
    assert_eq!(value("mode"), &bulk("standalone"));
    assert_eq!(value("role"), &bulk("master"));
    if valkey {
        // Valkey lists its built-in Lua engine as a module: a map in an array.
        assert_eq!(
            value("modules"),
            &Frame::Array(vec![Frame::Map(vec![
                (bulk("name"), bulk("lua")),
                (bulk("ver"), Frame::Integer(1)),
                (bulk("path"), bulk("lua")),
                (bulk("args"), Frame::Array(vec![])),
            ])])
        );
    } else {
        assert_eq!(value("modules"), &Frame::Array(vec![]));
    }

    // DEBUG PROTOCOL <type>: the values debug.c writes (the server's own
    // list, in DEBUG HELP and in its error for an unknown type, is
    // string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|
    // true|false). All four servers support every type, so none is skipped.
    let ints = |n: i64| (0..n).map(Frame::Integer).collect::<Vec<_>>();
    let exact: Vec<(&str, Frame)> = vec![
        ("string", bulk("Hello World")),
        ("integer", Frame::Integer(12345)),
        (
            "bignum",
            Frame::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999")),
        ),
        ("null", Frame::Null),
        ("array", Frame::Array(ints(3))),
        ("set", Frame::Set(ints(3))),
        (
            "map",
            Frame::Map(vec![
                (Frame::Integer(0), Frame::Boolean(false)),
                (Frame::Integer(1), Frame::Boolean(true)),
                (Frame::Integer(2), Frame::Boolean(false)),
            ]),
        ),
        (
            "attrib",
            Frame::Attribute {
                attrs: vec![(
                    bulk("key-popularity"),
                    Frame::Array(vec![bulk("key:123"), Frame::Integer(90)]),
                )],
                data: Box::new(bulk("Some real reply following the attribute")),
            },
        ),
        (
            "verbatim",
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"This is a verbatim\nstring"),
            },
        ),
        ("true", Frame::Boolean(true)),
        ("false", Frame::Boolean(false)),
    ];
    for (ty, want) in exact {
        let (got, wire_len) = debug_protocol(&mut conn, ty);
        assert_eq!(got, want, "DEBUG PROTOCOL {ty}");
        assert_eq!(wire_len, want.encoded_len(), "DEBUG PROTOCOL {ty}");
    }
    // Redis 6.2 writes pi to 11 places with %.17g; 7.0 and later write 3.141.
    let (double, wire_len) = debug_protocol(&mut conn, "double");
    // Not meant as PI: these are the values debug.c writes.
    #[allow(clippy::approx_constant)]
    let want = if version < (7, 0, 0) {
        (
            Frame::Double(3.14159265359),
            ",3.1415926535900001\r\n".len(),
        )
    } else {
        (Frame::Double(3.141), ",3.141\r\n".len())
    };
    assert_eq!((double, wire_len), want, "DEBUG PROTOCOL double");
    // A push, and a real reply for clients that drop pushes. Up to 7.0 the
    // push comes first; 7.4 and Valkey 9.1 defer pushes made while a command
    // runs until after its reply.
    conn.send(Command::new("DEBUG").arg("PROTOCOL").arg("push"));
    let pair = (conn.frame(), conn.frame());
    let push = Frame::Push(vec![bulk("server-cpu-usage"), Frame::Integer(42)]);
    let reply = bulk("Some real reply following the push reply");
    if version < (7, 2, 0) {
        assert_eq!(pair, (push, reply));
    } else {
        assert_eq!(pair, (reply, push));
    }

    // Data types that change shape in RESP3.
    conn.expect(
        Command::new("HSET")
            .arg("hash")
            .arg("f1")
            .arg("v1")
            .arg("f2")
            .arg(b"\r\n"),
        Frame::Integer(2),
    );
    conn.expect(
        Command::new("HGETALL").arg("hash"),
        Frame::Map(vec![(bulk("f1"), bulk("v1")), (bulk("f2"), bulk(b"\r\n"))]),
    );
    conn.expect(
        Command::new("SADD").arg("set").arg("a").arg("b").arg(7),
        Frame::Integer(3),
    );
    let members = conn.call(Command::new("SMEMBERS").arg("set"));
    assert!(matches!(members, Frame::Set(_)), "{members:?}");
    assert_eq!(sorted(&members), vec![bulk("7"), bulk("a"), bulk("b")]);
    conn.expect(
        Command::new("ZADD")
            .arg("zset")
            .arg(1.5)
            .arg("a")
            .arg(2)
            .arg("b")
            .arg(f64::INFINITY)
            .arg("c"),
        Frame::Integer(3),
    );
    conn.expect(
        Command::new("ZSCORE").arg("zset").arg("a"),
        Frame::Double(1.5),
    );
    conn.expect(
        Command::new("ZSCORE").arg("zset").arg("c"),
        Frame::Double(f64::INFINITY),
    );
    conn.expect(
        Command::new("ZINCRBY").arg("zset").arg(-0.25).arg("b"),
        Frame::Double(1.75),
    );
    conn.expect(
        Command::new("ZRANGE")
            .arg("zset")
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES"),
        Frame::Array(vec![
            Frame::Array(vec![bulk("a"), Frame::Double(1.5)]),
            Frame::Array(vec![bulk("b"), Frame::Double(1.75)]),
            Frame::Array(vec![bulk("c"), Frame::Double(f64::INFINITY)]),
        ]),
    );
    conn.expect(Command::new("ZSCORE").arg("zset").arg("x"), Frame::Null);
    conn.expect(Command::new("GET").arg("missing"), Frame::Null);
    conn.expect(Command::new("BLPOP").arg("nolist").arg(0.01), Frame::Null);
    let err = conn.call(Command::new("NOSUCHCOMMAND"));
    assert!(
        matches!(&err, Frame::Error(m) if m.starts_with(b"ERR unknown command")),
        "{err:?}"
    );

    // Client tracking: invalidations are pushes.
    conn.expect(
        Command::new("CLIENT").arg("TRACKING").arg("ON"),
        simple("OK"),
    );
    conn.expect(Command::new("SET").arg("tracked").arg("v"), simple("OK"));
    conn.expect(Command::new("GET").arg("tracked"), bulk("v"));
    let invalidate = Frame::Push(vec![
        bulk("invalidate"),
        Frame::Array(vec![bulk("tracked")]),
    ]);
    // Our own write: 6.2 sends the invalidation before the reply, 7.0 and
    // later after it.
    conn.send(Command::new("SET").arg("tracked").arg("w"));
    let pair = (conn.frame(), conn.frame());
    if version < (7, 0, 0) {
        assert_eq!(pair, (invalidate.clone(), simple("OK")));
    } else {
        assert_eq!(pair, (simple("OK"), invalidate.clone()));
    }
    // Another client's write: the push waits in our output before the
    // reply to our next command.
    conn.expect(Command::new("GET").arg("tracked"), bulk("w"));
    assert!(!server.cmd(&["SET", "tracked", "x"]).unwrap().is_error());
    conn.send(Command::new("PING"));
    assert_eq!((conn.frame(), conn.frame()), (invalidate, simple("PONG")));
    conn.expect(
        Command::new("CLIENT").arg("TRACKING").arg("OFF"),
        simple("OK"),
    );

    // Pub/sub: subscription confirmations and messages are pushes.
    conn.expect(
        Command::new("SUBSCRIBE").arg("chan"),
        Frame::Push(vec![bulk("subscribe"), bulk("chan"), Frame::Integer(1)]),
    );
    let message = b"hello\r\n\0world";
    let published = server.cmd(&[&b"PUBLISH"[..], b"chan", message]).unwrap();
    assert_eq!(published.as_int(), Some(1));
    assert_eq!(
        conn.frame(),
        Frame::Push(vec![bulk("message"), bulk("chan"), bulk(message)])
    );
    conn.expect(
        Command::new("UNSUBSCRIBE").arg("chan"),
        Frame::Push(vec![bulk("unsubscribe"), bulk("chan"), Frame::Integer(0)]),
    );
    conn.expect(Command::new("PING"), simple("PONG"));

    conn.assert_all_bytes_accounted();
}

#[test]
fn resp2_replies_decode_exactly_read_7_bytes_at_a_time() {
    let server = RedisServer::start().unwrap();
    let mut conn = Conn::open(&server, SMALL_READ_BYTES);
    check_resp2_commands(&mut conn, false);
    conn.assert_all_bytes_accounted();
}

#[test]
fn resp2_replies_decode_exactly_read_64_kib_at_a_time() {
    let server = RedisServer::start().unwrap();
    let mut conn = Conn::open(&server, LARGE_READ_BYTES);
    check_resp2_commands(&mut conn, true);
    conn.assert_all_bytes_accounted();
}

#[test]
fn resp3_replies_of_every_type_from_debian_redis_7_0() {
    check_resp3(&RedisServer::start().unwrap(), None);
}

#[test]
fn resp3_replies_of_every_type_from_redis_6_2() {
    let kind = ServerKind::Redis62;
    check_resp3(&RedisServer::start_version(kind).unwrap(), Some(kind));
}

#[test]
fn resp3_replies_of_every_type_from_redis_7_4() {
    let kind = ServerKind::Redis74;
    check_resp3(&RedisServer::start_version(kind).unwrap(), Some(kind));
}

#[test]
fn resp3_replies_of_every_type_from_valkey_9_1() {
    let kind = ServerKind::Valkey91;
    check_resp3(&RedisServer::start_version(kind).unwrap(), Some(kind));
}
