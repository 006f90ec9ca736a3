//! The `Command` builder: every `Arg` impl, name and argument accessors,
//! case-insensitive `is`, the wire form and its length, `TryFrom<Frame>`
//! (accepting arrays of bulk strings, handing anything else back in
//! `NotACommand`), and binary-safe arguments through the decoder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::split::{decode_every_way_default, encode_all};
use bytes::{Bytes, BytesMut};
use ferry_resp::{Arg, Command, Frame, NotACommand};
use proptest::collection::vec;
use proptest::prelude::*;

/// The bytes an `Arg` turns into.
fn arg_bytes(arg: impl Arg) -> Bytes {
    arg.into_arg()
}

/// Checks `cmd`'s wire form: `encode` appends exactly `to_bytes`, which is
/// `encoded_len` long and decodes back (every way) to the same command.
fn assert_round_trips(cmd: &Command) {
    let wire = cmd.to_bytes();
    assert_eq!(wire.len(), cmd.encoded_len());
    let mut out = BytesMut::from(&b"xx"[..]);
    cmd.encode(&mut out);
    assert_eq!(&out[2..], &wire[..]);
    let decoded = decode_every_way_default(&wire);
    assert!(decoded.complete);
    assert_eq!(decoded.frames.len(), 1);
    let (frame, len) = decoded.frames[0].clone();
    assert_eq!(len, wire.len());
    assert_eq!(frame, cmd.clone().into_frame());
    assert_eq!(&Command::try_from(frame).unwrap(), cmd);
}

#[test]
fn takes_string_args() {
    assert_eq!(arg_bytes("abc"), "abc");
    assert_eq!(arg_bytes(String::from("abc")), "abc");
    let owned = String::from("abc");
    assert_eq!(arg_bytes(&owned), owned.as_str());
    assert_eq!(arg_bytes("ünïcode"), "ünïcode".as_bytes());
    assert_eq!(arg_bytes(""), "");
}

#[test]
fn takes_byte_args() {
    assert_eq!(arg_bytes(&b"a\0b"[..]), &b"a\0b"[..]);
    assert_eq!(arg_bytes(b"a\r\n"), &b"a\r\n"[..]);
    assert_eq!(arg_bytes(&[0xffu8, 0, 1]), &[0xffu8, 0, 1][..]);
    assert_eq!(arg_bytes(vec![1u8, 2, 3]), &[1u8, 2, 3][..]);
    let b = Bytes::from_static(b"shared");
    assert_eq!(arg_bytes(&b), b);
    assert_eq!(arg_bytes(b.clone()), b);
}

#[test]
fn takes_owned_bytes_and_vec_without_copying() {
    let b = Bytes::from(vec![7u8; 64]);
    let ptr = b.as_ptr();
    assert_eq!(arg_bytes(b).as_ptr(), ptr);
    let v = vec![9u8; 64];
    let ptr = v.as_ptr();
    assert_eq!(arg_bytes(v).as_ptr(), ptr);
}

#[test]
fn writes_integer_args_in_decimal() {
    assert_eq!(arg_bytes(0u8), "0");
    assert_eq!(arg_bytes(255u8), "255");
    assert_eq!(arg_bytes(-128i8), "-128");
    assert_eq!(arg_bytes(-32768i16), "-32768");
    assert_eq!(arg_bytes(65535u16), "65535");
    assert_eq!(arg_bytes(-1i32), "-1");
    assert_eq!(arg_bytes(u32::MAX), "4294967295");
    assert_eq!(arg_bytes(i64::MIN), "-9223372036854775808");
    assert_eq!(arg_bytes(i64::MAX), "9223372036854775807");
    assert_eq!(arg_bytes(u64::MAX), "18446744073709551615");
    assert_eq!(
        arg_bytes(i128::MIN),
        "-170141183460469231731687303715884105728"
    );
    assert_eq!(
        arg_bytes(u128::MAX),
        "340282366920938463463374607431768211455"
    );
    assert_eq!(arg_bytes(-5isize), "-5");
    assert_eq!(arg_bytes(5usize), "5");
}

#[test]
fn writes_float_args_as_redis_reads_scores() {
    assert_eq!(arg_bytes(1.5f64), "1.5");
    assert_eq!(arg_bytes(-0.25f64), "-0.25");
    assert_eq!(arg_bytes(f64::INFINITY), "inf");
    assert_eq!(arg_bytes(f64::NEG_INFINITY), "-inf");
    assert_eq!(arg_bytes(0.1f64), "0.1");
    assert_eq!(arg_bytes(1e300f64), "1e300");
}

#[test]
fn writes_float_args_in_shortest_round_trip_form() {
    for x in [
        0.1f64,
        1.0 / 3.0,
        std::f64::consts::PI,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -123_456.789,
        1e-7,
        2f64.powi(60),
    ] {
        let text = arg_bytes(x);
        let text = std::str::from_utf8(&text).unwrap();
        assert_eq!(
            text.parse::<f64>().unwrap().to_bits(),
            x.to_bits(),
            "{text}"
        );
        // No longer than what `{}` would need with an exponent: shortest.
        assert!(text.len() <= 24, "{text}");
    }
}

#[test]
fn builds_name_and_args() {
    let cmd = Command::new("SET")
        .arg("key")
        .arg(b"value")
        .arg("PX")
        .arg(1500u64);
    assert_eq!(cmd.name(), b"SET");
    assert_eq!(
        cmd.args(),
        &[
            Bytes::from("key"),
            Bytes::from("value"),
            Bytes::from("PX"),
            Bytes::from("1500")
        ][..]
    );
    assert_eq!(cmd.parts().len(), 5);
    assert_eq!(cmd.parts()[0], "SET");
    assert_eq!(cmd.clone().into_parts(), cmd.parts().to_vec());
}

#[test]
fn builds_in_place_with_push_arg() {
    let mut cmd = Command::with_capacity("RPUSH", 3);
    cmd.push_arg("list").push_arg(1i32).push_arg(2.5f64);
    assert_eq!(cmd, Command::new("RPUSH").arg("list").arg(1i32).arg(2.5f64));
    assert_eq!(cmd.args().len(), 3);
}

#[test]
fn has_no_args_when_only_named() {
    let cmd = Command::new("PING");
    assert!(cmd.args().is_empty());
    assert_eq!(&cmd.to_bytes()[..], b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(cmd.encoded_len(), 14);
}

#[test]
fn matches_names_ignoring_ascii_case() {
    let cmd = Command::new("sEt").arg("k");
    assert!(cmd.is("SET"));
    assert!(cmd.is("set"));
    assert!(cmd.is("Set"));
    assert!(!cmd.is("SETEX"));
    assert!(!cmd.is("SE"));
    assert!(!cmd.is("k"));
    // The name is kept as given.
    assert_eq!(cmd.name(), b"sEt");
    // Only ASCII folds: a non-ASCII name is matched exactly.
    assert!(Command::new("ÉCHO").is("ÉCHO"));
    assert!(!Command::new("ÉCHO").is("éCHO"));
}

#[test]
fn encodes_commands_as_arrays_of_bulk_strings() {
    let cmd = Command::new("SET")
        .arg("k")
        .arg(b"v")
        .arg("PX")
        .arg(1500u64);
    assert_eq!(
        &cmd.to_bytes()[..],
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1500\r\n"
    );
    assert_eq!(cmd.encoded_len(), cmd.to_bytes().len());
    let empty = Command::new("").arg("");
    assert_eq!(&empty.to_bytes()[..], b"*2\r\n$0\r\n\r\n$0\r\n\r\n");
    assert_round_trips(&cmd);
    assert_round_trips(&empty);
}

#[test]
fn counts_encoded_length_across_digit_boundaries() {
    for n in [9usize, 10, 99, 100, 1000] {
        let mut cmd = Command::new("MSET");
        for i in 0..n {
            cmd.push_arg(vec![b'x'; i % 13]);
        }
        cmd.push_arg(vec![b'y'; 10_000]);
        assert_round_trips(&cmd);
    }
}

#[test]
fn round_trips_binary_safe_args_through_the_decoder() {
    let cmd = Command::new("SET")
        .arg(&b"key\r\nwith\r\ncrlf"[..])
        .arg(&b"\0\0\0"[..])
        .arg(&b"$3\r\n*1\r\n"[..])
        .arg((0u8..=255).collect::<Vec<u8>>())
        .arg(&b"\r"[..])
        .arg(&b"\n"[..]);
    assert_round_trips(&cmd);
}

#[test]
fn converts_to_and_from_frames() {
    let cmd = Command::new("GET").arg("k");
    let frame: Frame = cmd.clone().into();
    assert_eq!(
        frame,
        Frame::Array(vec![Frame::bulk("GET"), Frame::bulk("k")])
    );
    assert_eq!(Command::try_from(frame), Ok(cmd));
}

#[test]
fn accepts_arrays_of_bulk_strings_as_commands() {
    let frame = Frame::Array(vec![Frame::bulk("ping")]);
    let cmd = Command::try_from(frame).unwrap();
    assert!(cmd.is("PING"));
    assert!(cmd.args().is_empty());
}

#[test]
fn rejects_frames_that_are_not_commands_and_hands_them_back() {
    let not_commands = vec![
        Frame::Array(vec![]),
        Frame::NullArray,
        Frame::NullBulk,
        Frame::Null,
        Frame::bulk("GET"),
        Frame::simple("PING"),
        Frame::Integer(1),
        Frame::Set(vec![Frame::bulk("GET")]),
        Frame::Push(vec![Frame::bulk("GET")]),
        Frame::Map(vec![(Frame::bulk("GET"), Frame::bulk("k"))]),
        Frame::Attribute {
            attrs: vec![],
            data: Box::new(Frame::Array(vec![Frame::bulk("GET")])),
        },
        Frame::Array(vec![Frame::bulk("GET"), Frame::simple("k")]),
        Frame::Array(vec![Frame::bulk("GET"), Frame::NullBulk]),
        Frame::Array(vec![
            Frame::bulk("INCRBY"),
            Frame::bulk("k"),
            Frame::Integer(1),
        ]),
        Frame::Array(vec![Frame::Array(vec![Frame::bulk("GET")])]),
        Frame::Array(vec![Frame::Verbatim {
            format: *b"txt",
            text: "GET".into(),
        }]),
    ];
    for frame in not_commands {
        let err = Command::try_from(frame.clone()).unwrap_err();
        assert_eq!(err, NotACommand(frame.clone()));
        assert!(
            err.to_string().contains(frame.kind_name()),
            "{err} names {}",
            frame.kind_name()
        );
    }
}

#[test]
fn decodes_a_pipeline_of_commands() {
    let cmds = [
        Command::new("MULTI"),
        Command::new("INCR").arg("counter"),
        Command::new("EXPIRE").arg("counter").arg(60u32),
        Command::new("EXEC"),
    ];
    let frames: Vec<Frame> = cmds.iter().cloned().map(Frame::from).collect();
    let wire = encode_all(&frames);
    let mut joined = BytesMut::new();
    for c in &cmds {
        c.encode(&mut joined);
    }
    assert_eq!(wire, joined);
    let out = decode_every_way_default(&wire);
    let got: Vec<Command> = out
        .frames
        .into_iter()
        .map(|(f, _)| Command::try_from(f).unwrap())
        .collect();
    assert_eq!(got, cmds);
}

proptest! {
    #[test]
    fn round_trips_random_binary_commands(
        name in vec(any::<u8>(), 0..12),
        args in vec(vec(any::<u8>(), 0..40), 0..8),
    ) {
        let mut cmd = Command::new(name);
        for a in args {
            cmd.push_arg(a);
        }
        assert_round_trips(&cmd);
    }
}
