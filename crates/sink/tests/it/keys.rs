//! `KeyTable` against the servers' own `COMMAND GETKEYS`, for the write
//! commands a replication stream carries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use ferry_resp::{Command, Decoder, Frame, RawCommand};
use ferry_sink::KeyTable;
use ferry_testkit::{RedisServer, ServerKind};
use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends `cmd` and reads one reply.
fn request(stream: &mut TcpStream, cmd: &Command) -> Frame {
    stream.write_all(&cmd.to_bytes()).unwrap();
    let mut dec = Decoder::new();
    let mut buf = BytesMut::new();
    loop {
        if let Some((frame, _)) = dec.decode(&mut buf).unwrap() {
            return frame;
        }
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn commands() -> Vec<Command> {
    let c = |parts: &[&str]| {
        let mut cmd = Command::new(parts[0]);
        for p in &parts[1..] {
            cmd.push_arg(*p);
        }
        cmd
    };
    vec![
        c(&["SET", "k", "v", "EX", "10"]),
        c(&["MSET", "a", "1", "b", "2", "c", "3"]),
        c(&["DEL", "a", "b", "c"]),
        c(&["UNLINK", "a", "b"]),
        c(&["RENAME", "a", "b"]),
        c(&["SMOVE", "s1", "s2", "m"]),
        c(&["LMOVE", "l1", "l2", "LEFT", "RIGHT"]),
        c(&["HSET", "h", "f", "v"]),
        c(&["ZADD", "z", "1", "m"]),
        c(&["XADD", "x", "*", "f", "v"]),
        c(&["XGROUP", "CREATE", "x", "g", "$"]),
        c(&["XCLAIM", "x", "g", "c", "0", "1-1"]),
        c(&["EXPIRE", "k", "10"]),
        c(&["PEXPIREAT", "k", "10"]),
        c(&["EVAL", "return 1", "2", "k1", "k2", "arg"]),
        c(&[
            "EVALSHA",
            "0123456789012345678901234567890123456789",
            "1",
            "k1",
        ]),
        c(&["ZUNIONSTORE", "dst", "2", "z1", "z2", "WEIGHTS", "1", "2"]),
        c(&["ZINTERSTORE", "dst", "1", "z1"]),
        c(&["SUNIONSTORE", "dst", "s1", "s2"]),
        c(&["BITOP", "AND", "dst", "a", "b"]),
        c(&["SORT", "l", "STORE", "dst"]),
        c(&["PFMERGE", "dst", "h1", "h2"]),
        c(&["RESTORE", "k", "0", "payload"]),
        c(&["COPY", "a", "b"]),
        c(&["FLUSHALL"]),
        c(&["SELECT", "1"]),
        c(&["PING"]),
    ]
}

fn check(kind: Option<ServerKind>) {
    let server = match kind {
        Some(kind) => RedisServer::start_version(kind).unwrap(),
        None => RedisServer::start().unwrap(),
    };
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let table =
        KeyTable::from_command_reply(&request(&mut stream, &Command::new("COMMAND"))).unwrap();
    assert!(table.len() > 150, "{} commands", table.len());
    for cmd in commands() {
        let raw = RawCommand::from(&cmd);
        let ours: Vec<Vec<u8>> = table
            .keys(&raw)
            .unwrap()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let mut getkeys = Command::new("COMMAND").arg("GETKEYS");
        for part in cmd.parts() {
            getkeys.push_arg(part.clone());
        }
        let theirs: Vec<Vec<u8>> = match request(&mut stream, &getkeys) {
            Frame::Array(keys) => keys
                .iter()
                .filter_map(|k| k.as_bytes().map(|b| b.to_vec()))
                .collect(),
            // "Invalid command specified" / "no key arguments".
            Frame::Error(_) => Vec::new(),
            other => panic!("{other:?}"),
        };
        // Redis 6.2 lists a destination after the sources: compare as sets.
        let (mut ours, mut theirs) = (ours, theirs);
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{:?} on {kind:?}", raw);
    }
}

#[test]
fn key_positions_agree_with_command_getkeys_on_redis_7_0() {
    check(None);
}

#[test]
fn key_positions_agree_with_command_getkeys_on_redis_6_2_and_valkey_9() {
    check(Some(ServerKind::Redis62));
    check(Some(ServerKind::Valkey91));
}
