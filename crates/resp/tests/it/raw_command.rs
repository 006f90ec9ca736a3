//! `Decoder::decode_command` and `RawCommand`: commands kept in wire form.
//!
//! The reference is `Decoder::decode` followed by `Command::try_from`: on
//! any input, fed any way, `decode_command` must give the same commands,
//! the same wire lengths and the same error, plus `NotACommand` (at the
//! frame's first byte) for a valid frame that is not a command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::split::{Rng, blob_bytes, encode_all, frame, random_cuts};
use bytes::{Bytes, BytesMut};
use ferry_resp::{Command, Config, Decoder, Error, ErrorKind, Frame, RawCommand};
use proptest::collection::vec;
use proptest::prelude::*;

/// The commands with their wire lengths, and the error (kind, offset) that stopped decoding.
type Outcome = (Vec<(RawCommand, usize)>, Option<(ErrorKind, u64)>);

fn parts(e: Error) -> (ErrorKind, u64) {
    (e.kind().clone(), e.offset())
}

/// Feeds `chunks` to `decode_command`, checking `offset()` after each call
/// and that an error sticks.
fn commands_from_chunks<'a>(
    config: &Config,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut dec = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut fed = 0u64;
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        fed += chunk.len() as u64;
        loop {
            let result = dec.decode_command(&mut buf);
            assert_eq!(dec.offset(), fed - buf.len() as u64);
            match result {
                Ok(Some((cmd, len))) => {
                    assert_eq!(cmd.wire().len(), len, "the wire form is the bytes read");
                    out.push((cmd, len));
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(dec.decode_command(&mut buf), Err(e.clone()));
                    return (out, Some(parts(e)));
                }
            }
        }
    }
    (out, None)
}

fn cut(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut from = 0;
    for &at in cuts.iter().chain([input.len()].iter()) {
        pieces.push(input[from..at].to_vec());
        from = at;
    }
    pieces
}

/// What `decode` + `Command::try_from` make of `input` fed whole.
fn reference(input: &[u8], config: &Config) -> Outcome {
    let mut dec = Decoder::with_config(config.clone());
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    let mut at = 0u64;
    loop {
        match dec.decode(&mut buf) {
            Ok(Some((frame, len))) => match Command::try_from(frame) {
                Ok(cmd) => out.push((RawCommand::from(&cmd), len)),
                Err(_) => return (out, Some((ErrorKind::NotACommand, at))),
            },
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(parts(e))),
        }
        at = dec.offset();
    }
}

/// Checks `decode_command` against the reference, fed whole, byte by byte
/// and at random splits.
fn check_every_way(input: &[u8], config: &Config) -> Outcome {
    let expected = reference(input, config);
    let whole = commands_from_chunks(config, [input]);
    assert_eq!(
        whole,
        expected,
        "whole, input {:?}",
        input.escape_ascii().to_string()
    );
    let bytewise = commands_from_chunks(config, input.chunks(1));
    assert_eq!(bytewise, expected, "byte by byte");
    for seed in 0..8 {
        let pieces = cut(input, &random_cuts(input.len(), seed));
        let split = commands_from_chunks(config, pieces.iter().map(Vec::as_slice));
        assert_eq!(split, expected, "random split, seed {seed}");
    }
    expected
}

fn command() -> impl Strategy<Value = Command> {
    (blob_bytes(), vec(blob_bytes(), 0..12)).prop_map(|(name, args)| {
        let mut cmd = Command::new(name);
        for a in args {
            cmd.push_arg(a);
        }
        cmd
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decodes_random_commands_like_decode_then_try_from(cmds in vec(command(), 1..20)) {
        let frames: Vec<Frame> = cmds.iter().cloned().map(Frame::from).collect();
        let input = encode_all(&frames);
        let (got, error) = check_every_way(&input, &Config::default());
        prop_assert!(error.is_none());
        prop_assert_eq!(got.len(), cmds.len());
        for ((raw, len), cmd) in got.iter().zip(&cmds) {
            prop_assert_eq!(*len, cmd.encoded_len());
            prop_assert_eq!(&Command::from(raw), cmd);
            prop_assert_eq!(raw.arity(), cmd.parts().len());
            prop_assert_eq!(raw.name(), &cmd.parts()[0][..]);
            prop_assert!(raw.args().eq(cmd.args().iter().map(|a| &a[..])));
        }
    }

    #[test]
    fn any_frame_is_a_command_or_not_a_command_error(frames in vec(frame(), 1..6)) {
        check_every_way(&encode_all(&frames), &Config::default());
    }
}

#[test]
fn refuses_frames_that_are_not_commands_at_their_first_byte() {
    let ping = b"*1\r\n$4\r\nPING\r\n";
    for not_command in [
        &b"*0\r\n"[..],
        b"*-1\r\n",
        b"$3\r\nSET\r\n",
        b"+OK\r\n",
        b":1\r\n",
        b"*1\r\n:1\r\n",
        b"*2\r\n$3\r\nGET\r\n$-1\r\n",
        b"*1\r\n*1\r\n$1\r\na\r\n",
        b"~1\r\n$1\r\na\r\n",
        b">1\r\n$1\r\na\r\n",
    ] {
        let input = [&ping[..], not_command].concat();
        let (cmds, error) = check_every_way(&input, &Config::default());
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            error,
            Some((ErrorKind::NotACommand, ping.len() as u64)),
            "{not_command:?}"
        );
    }
}

#[test]
fn malformed_commands_fail_as_decode_does() {
    for bad in [
        &b"*1\r\n$01\r\na\r\n"[..],
        b"*01\r\n$1\r\na\r\n",
        b"*1\r\n$1\r\nab\r\n",
        b"*1\r\n$1\r\na\n\r",
        b"*2\r\n$1\r\na\r\nX1\r\n",
        b"*1\r\n$-2\r\n",
        b"*1\r\n$?\r\n",
        b"*1\r\n$1a\r\na\r\n",
        b"*+1\r\n$1\r\na\r\n",
    ] {
        let (cmds, error) = check_every_way(bad, &Config::default());
        assert!(cmds.is_empty());
        assert_ne!(error.expect("an error").0, ErrorKind::NotACommand);
    }
}

#[test]
fn limits_apply_to_commands() {
    let cmd = Command::new("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .to_bytes();
    let elements = Config::default().max_elements(4);
    let error = check_every_way(&cmd, &elements)
        .1
        .expect("over max_elements");
    assert!(matches!(error.0, ErrorKind::LimitExceeded { found: 5, .. }));
    let bulk = Config::default().max_bulk_len(3);
    let error = check_every_way(&cmd, &bulk).1.expect("over max_bulk_len");
    assert!(matches!(error.0, ErrorKind::LimitExceeded { found: 4, .. }));
    let depth = Config::default().max_depth(0);
    assert!(check_every_way(&cmd, &depth).1.is_some());
    // At the limits, it passes.
    let at = Config::default()
        .max_elements(5)
        .max_bulk_len(4)
        .max_depth(1);
    assert_eq!(check_every_way(&cmd, &at).0.len(), 1);
}

#[test]
fn a_big_command_in_16k_reads_is_read_once_and_whole() {
    let value = Bytes::from((0..4_000_000u32).map(|i| i as u8).collect::<Vec<_>>());
    let cmd = Command::new("SET").arg("big").arg(value.clone());
    let wire = cmd.to_bytes();
    let (cmds, error) = commands_from_chunks(&Config::default(), wire.chunks(16 * 1024));
    assert!(error.is_none());
    assert_eq!(cmds.len(), 1);
    let (raw, len) = &cmds[0];
    assert_eq!(*len, wire.len());
    assert_eq!(raw.wire(), &wire);
    assert_eq!(raw.part_bytes(2).unwrap(), value);
}

#[test]
fn decode_and_decode_command_mix_on_one_stream() {
    let mut buf =
        BytesMut::from(&b"+OK\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n:7\r\n*1\r\n$4\r\nPING\r\n"[..]);
    let mut dec = Decoder::new();
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some((Frame::simple("OK"), 5))
    );
    let (get, len) = dec.decode_command(&mut buf).unwrap().unwrap();
    assert_eq!(
        (get.name(), get.arg(0), len),
        (&b"GET"[..], Some(&b"k"[..]), 20)
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), Some((Frame::Integer(7), 4)));
    let (ping, _) = dec.decode_command(&mut buf).unwrap().unwrap();
    assert!(ping.is("ping"));
    assert_eq!(dec.offset(), 43);
}

#[test]
fn raw_command_reads_its_parts() {
    let cmd = Command::new("HSET")
        .arg("h")
        .arg(b"\r\n\x00".as_slice())
        .arg(12u32);
    let raw = RawCommand::from(&cmd);
    assert_eq!(raw.arity(), 4);
    assert_eq!(raw.name(), b"HSET");
    assert!(raw.is("hset") && !raw.is("hse"));
    assert_eq!(raw.part(0), Some(&b"HSET"[..]));
    assert_eq!(raw.arg(1), Some(&b"\r\n\x00"[..]));
    assert_eq!(raw.arg(2), Some(&b"12"[..]));
    assert_eq!(raw.arg(3), None);
    assert_eq!(raw.arg(usize::MAX), None);
    assert_eq!(raw.part_bytes(1), Some(Bytes::from_static(b"h")));
    assert_eq!(raw.parts().len(), 4);
    assert_eq!(raw.args().len(), 3);
    assert_eq!(format!("{raw:?}"), r#"["HSET", "h", "\\r\\n\\x00", "12"]"#);
    let mut out = BytesMut::new();
    raw.encode(&mut out);
    assert_eq!(out, cmd.to_bytes());
    assert_eq!(Frame::from(raw.clone()), cmd.clone().into_frame());
    assert_eq!(RawCommand::try_from(cmd.clone().into_frame()).unwrap(), raw);
    assert!(RawCommand::try_from(Frame::Integer(1)).is_err());
    assert_eq!(raw.into_wire(), cmd.to_bytes());
}

#[test]
fn empty_parts_are_parts() {
    let raw = RawCommand::from(Command::new("").arg("").arg(""));
    assert_eq!(raw.arity(), 3);
    assert!(raw.parts().all(<[u8]>::is_empty));
    let mut rng = Rng::new(7);
    // Random byte noise after a command never changes the command.
    let mut input = raw.wire().to_vec();
    input.extend((0..64).map(|_| rng.next_u64() as u8));
    let (cmds, _) = check_every_way(&input, &Config::default());
    assert_eq!(cmds[0].0, raw);
}
