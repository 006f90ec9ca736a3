//! The `codec` feature: `Codec` as a `tokio_util::codec` decoder and
//! encoder, called synchronously on a `BytesMut` (no runtime): items with
//! their wire lengths, protocol errors, end of stream clean and truncated,
//! and the encoders for frames and commands.

#![cfg(feature = "codec")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use ferry_resp::{Codec, CodecError, Command, Config, ErrorKind, Frame};
use std::io;
use tokio_util::codec::{Decoder as _, Encoder as _};

/// Decodes every item `codec` can take from `buf` now.
fn drain(codec: &mut Codec, buf: &mut BytesMut) -> Vec<(Frame, usize)> {
    let mut items = Vec::new();
    while let Some(item) = codec.decode(buf).unwrap() {
        items.push(item);
    }
    items
}

#[test]
fn decodes_items_with_wire_lengths() {
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b"+OK\r\n:42\r\n*2\r\n$3\r\nfoo\r\n_\r\n"[..]);
    let items = drain(&mut codec, &mut buf);
    assert_eq!(
        items,
        vec![
            (Frame::simple("OK"), 5),
            (Frame::Integer(42), 5),
            (Frame::Array(vec![Frame::bulk("foo"), Frame::Null]), 16),
        ]
    );
    assert!(buf.is_empty());
    assert_eq!(codec.decoder().offset(), 26);
}

#[test]
fn decodes_items_arriving_in_pieces() {
    let mut codec = Codec::new();
    let wire = b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n";
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for b in wire {
        buf.extend_from_slice(&[*b]);
        items.extend(drain(&mut codec, &mut buf));
    }
    assert_eq!(
        items,
        vec![(
            Frame::Array(vec![Frame::bulk("hello"), Frame::bulk("world")]),
            wire.len()
        )]
    );
}

#[test]
fn reserves_room_for_a_partial_bulk_but_not_for_its_claim() {
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b"$100000\r\nab"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() >= 100_000 - 2 + 2);
    // A claim of 512 MiB reserves at most 1 MiB ahead of the data.
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b"$536870912\r\n"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() <= 2 << 20, "{}", buf.capacity());
}

#[test]
fn reports_protocol_errors_with_kind_and_offset() {
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b"+OK\r\n$3\r\nabcX\r\n"[..]);
    assert_eq!(
        codec.decode(&mut buf).unwrap(),
        Some((Frame::simple("OK"), 5))
    );
    match codec.decode(&mut buf) {
        Err(CodecError::Protocol(e)) => {
            assert_eq!((e.kind(), e.offset()), (&ErrorKind::BadTerminator, 12));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::Protocol(_))
    ));
}

#[test]
fn applies_its_config() {
    let mut codec = Codec::with_config(Config::default().max_bulk_len(3));
    let mut buf = BytesMut::from(&b"$3\r\nabc\r\n$4\r\n"[..]);
    assert_eq!(
        codec.decode(&mut buf).unwrap(),
        Some((Frame::bulk("abc"), 9))
    );
    match codec.decode(&mut buf) {
        Err(CodecError::Protocol(e)) => {
            assert!(matches!(
                e.kind(),
                ErrorKind::LimitExceeded {
                    limit: 3,
                    found: 4,
                    ..
                }
            ));
            assert_eq!(e.offset(), 10);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ends_cleanly_at_a_frame_boundary() {
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b":1\r\n"[..]);
    assert_eq!(
        codec.decode_eof(&mut buf).unwrap(),
        Some((Frame::Integer(1), 4))
    );
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    assert_eq!(Codec::new().decode_eof(&mut BytesMut::new()).unwrap(), None);
}

#[test]
fn fails_with_unexpected_eof_inside_a_frame() {
    for truncated in [
        &b"+OK"[..],
        b"+OK\r",
        b":12",
        b"$5\r\nhel",
        b"$5\r\n",
        b"*2\r\n:1\r\n",
        b"%1\r\n+k\r\n",
        b"|1\r\n+k\r\n+v\r\n",
        b"#t",
    ] {
        let mut codec = Codec::new();
        let mut buf = BytesMut::from(truncated);
        match codec.decode_eof(&mut buf) {
            Err(CodecError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{truncated:?}");
                assert!(
                    e.to_string()
                        .contains(&format!("at byte {}", truncated.len())),
                    "{e}"
                );
            }
            other => panic!("{truncated:?}: {other:?}"),
        }
    }
}

#[test]
fn fails_with_unexpected_eof_after_whole_frames_and_a_partial_one() {
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b"+OK\r\n$5\r\nhe"[..]);
    assert_eq!(
        codec.decode_eof(&mut buf).unwrap(),
        Some((Frame::simple("OK"), 5))
    );
    let err = codec.decode_eof(&mut buf).unwrap_err();
    assert!(matches!(&err, CodecError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    assert!(err.to_string().contains("at byte 11"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn reports_protocol_errors_at_eof_as_protocol_errors() {
    let mut codec = Codec::new();
    let mut buf = BytesMut::from(&b":01\r\n"[..]);
    assert!(matches!(
        codec.decode_eof(&mut buf),
        Err(CodecError::Protocol(_))
    ));
}

#[test]
fn encodes_frames_owned_and_borrowed() {
    let mut codec = Codec::new();
    let mut dst = BytesMut::new();
    let frame = Frame::Array(vec![Frame::bulk("a"), Frame::Double(1.5)]);
    codec.encode(&frame, &mut dst).unwrap();
    codec.encode(frame.clone(), &mut dst).unwrap();
    codec.encode(Frame::Null, &mut dst).unwrap();
    let mut want = BytesMut::new();
    for f in [&frame, &frame, &Frame::Null] {
        f.encode(&mut want);
    }
    assert_eq!(dst, want);
    let items = drain(&mut Codec::new(), &mut dst);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0], (frame.clone(), frame.encoded_len()));
}

#[test]
fn encodes_commands_owned_and_borrowed() {
    let mut codec = Codec::new();
    let mut dst = BytesMut::new();
    let cmd = Command::new("SET").arg("k").arg(1u8);
    codec.encode(&cmd, &mut dst).unwrap();
    codec.encode(cmd.clone(), &mut dst).unwrap();
    let one = cmd.to_bytes();
    assert_eq!(&dst[..one.len()], &one[..]);
    assert_eq!(&dst[one.len()..], &one[..]);
    let items = drain(&mut Codec::new(), &mut dst);
    assert_eq!(items.len(), 2);
    for (frame, len) in items {
        assert_eq!(len, one.len());
        assert_eq!(Command::try_from(frame).unwrap(), cmd);
    }
}

#[test]
fn round_trips_through_encoder_and_decoder_of_one_codec() {
    let mut codec = Codec::new();
    let mut wire = BytesMut::new();
    let frames = [
        Frame::Push(vec![
            Frame::bulk("message"),
            Frame::bulk("ch"),
            Frame::bulk("x"),
        ]),
        Frame::Map(vec![(Frame::simple("k"), Frame::Boolean(true))]),
        Frame::BigNumber("-12345678901234567890".into()),
    ];
    for f in &frames {
        codec.encode(f, &mut wire).unwrap();
    }
    let got: Vec<Frame> = drain(&mut codec, &mut wire)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(got, frames);
}
