//! The examples of the RESP2 and RESP3 specifications, one test per type.
//!
//! Sources: the "Redis serialization protocol specification" page (RESP2)
//! and `protocol/RESP3.md` of redis/redis-specifications. Every example is
//! fed whole, byte by byte, split at every byte and at random points (see
//! `split.rs`), and checked for: the decoded frame; its wire length (all the
//! bytes of the example); that `encode` writes the same bytes back when the
//! example is in canonical form; and that `encoded_len` equals the bytes
//! `encode` writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::split::{decode_every_way_default, encode_all};
use bytes::{Bytes, BytesMut};
use ferry_resp::Frame;

/// Decodes `wire` every way and checks it is the one frame `want`, with all
/// of `wire` as its wire length; checks that `want` encodes to
/// `encoded_len` bytes; returns the decoded frame.
fn assert_decodes(wire: &[u8], want: &Frame) -> Frame {
    let out = decode_every_way_default(wire);
    assert!(
        out.error.is_none() && out.complete,
        "{:?}: {out:?}",
        String::from_utf8_lossy(wire)
    );
    assert_eq!(out.frames.len(), 1, "{:?}", String::from_utf8_lossy(wire));
    let (got, len) = out.frames[0].clone();
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
    assert_eq!(len, wire.len(), "wire length");
    assert_encoded_len(want);
    got
}

/// [`assert_decodes`], and `want` encodes back to exactly `wire`.
fn assert_canonical(wire: &[u8], want: &Frame) {
    assert_decodes(wire, want);
    assert_eq!(
        want.to_bytes(),
        Bytes::copy_from_slice(wire),
        "to_bytes gives the example back"
    );
    let mut out = BytesMut::from(&b"prefix"[..]);
    want.encode(&mut out);
    assert_eq!(&out[6..], wire, "encode appends the example");
}

/// `encoded_len` is the number of bytes `encode` and `to_bytes` write.
fn assert_encoded_len(frame: &Frame) {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    assert_eq!(frame.encoded_len(), out.len(), "encoded_len of {frame:?}");
    assert_eq!(frame.to_bytes().len(), out.len());
}

/// A simple string frame from a static string.
fn simple(s: &'static str) -> Frame {
    Frame::simple(s)
}

/// A bulk string frame from a static string.
fn bulk(s: &'static str) -> Frame {
    Frame::bulk(s)
}

// --- RESP2 ------------------------------------------------------------------

#[test]
fn decodes_resp2_simple_strings() {
    assert_canonical(b"+OK\r\n", &simple("OK"));
    assert_canonical(b"+hello world\r\n", &simple("hello world"));
    assert_canonical(b"+\r\n", &simple(""));
}

#[test]
fn decodes_resp2_simple_errors() {
    assert_canonical(b"-Error message\r\n", &Frame::Error("Error message".into()));
    assert_canonical(
        b"-ERR unknown command 'asdf'\r\n",
        &Frame::Error("ERR unknown command 'asdf'".into()),
    );
    assert_canonical(
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        &Frame::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into()),
    );
}

#[test]
fn decodes_resp2_integers_including_extremes() {
    assert_canonical(b":0\r\n", &Frame::Integer(0));
    assert_canonical(b":1000\r\n", &Frame::Integer(1000));
    assert_canonical(b":-1\r\n", &Frame::Integer(-1));
    assert_canonical(b":9223372036854775807\r\n", &Frame::Integer(i64::MAX));
    assert_canonical(b":-9223372036854775808\r\n", &Frame::Integer(i64::MIN));
}

#[test]
fn decodes_resp2_bulk_strings_binary_safe() {
    assert_canonical(b"$5\r\nhello\r\n", &bulk("hello"));
    assert_canonical(b"$0\r\n\r\n", &bulk(""));
    assert_canonical(b"$2\r\n\r\n\r\n", &bulk("\r\n"));
    assert_canonical(b"$3\r\na\0b\r\n", &Frame::bulk(&b"a\0b"[..]));
}

#[test]
fn decodes_resp2_null_bulk_and_null_array_apart() {
    assert_canonical(b"$-1\r\n", &Frame::NullBulk);
    assert_canonical(b"*-1\r\n", &Frame::NullArray);
    assert!(Frame::NullBulk.is_null() && Frame::NullArray.is_null());
}

#[test]
fn decodes_resp2_arrays_empty_flat_mixed_and_nested() {
    assert_canonical(b"*0\r\n", &Frame::Array(vec![]));
    assert_canonical(
        b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n",
        &Frame::Array(vec![bulk("hello"), bulk("world")]),
    );
    assert_canonical(
        b"*3\r\n:1\r\n:2\r\n:3\r\n",
        &Frame::Array(vec![
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(3),
        ]),
    );
    assert_canonical(
        b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n",
        &Frame::Array(vec![
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(3),
            Frame::Integer(4),
            bulk("hello"),
        ]),
    );
    assert_canonical(
        b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
        &Frame::Array(vec![
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::Integer(2),
                Frame::Integer(3),
            ]),
            Frame::Array(vec![simple("Hello"), Frame::Error("World".into())]),
        ]),
    );
    assert_canonical(
        b"*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n",
        &Frame::Array(vec![bulk("hello"), Frame::NullBulk, bulk("world")]),
    );
    assert_canonical(
        b"*2\r\n*0\r\n*-1\r\n",
        &Frame::Array(vec![Frame::Array(vec![]), Frame::NullArray]),
    );
}

#[test]
fn decodes_resp2_command_as_clients_send_it() {
    assert_canonical(
        b"*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n",
        &Frame::Array(vec![bulk("LLEN"), bulk("mylist")]),
    );
}

// --- RESP3 ------------------------------------------------------------------

#[test]
fn decodes_resp3_blob_string() {
    // The spec's example reads `$11` / `helloworld`, ten bytes: a typo; the
    // eleven bytes of "hello world" are what it means.
    assert_canonical(b"$11\r\nhello world\r\n", &bulk("hello world"));
}

#[test]
fn decodes_resp3_simple_string_error_and_number() {
    assert_canonical(b"+hello world\r\n", &simple("hello world"));
    assert_canonical(
        b"-ERR this is the error description\r\n",
        &Frame::Error("ERR this is the error description".into()),
    );
    assert_canonical(b":1234\r\n", &Frame::Integer(1234));
}

#[test]
fn decodes_resp3_null() {
    assert_canonical(b"_\r\n", &Frame::Null);
    assert!(Frame::Null.is_null());
}

#[test]
fn decodes_resp3_doubles_in_canonical_form() {
    assert_canonical(b",1.23\r\n", &Frame::Double(1.23));
    assert_canonical(b",-1.5\r\n", &Frame::Double(-1.5));
    assert_canonical(b",inf\r\n", &Frame::Double(f64::INFINITY));
    assert_canonical(b",-inf\r\n", &Frame::Double(f64::NEG_INFINITY));
    assert_canonical(b",nan\r\n", &Frame::Double(f64::NAN));
    assert_canonical(b",1e300\r\n", &Frame::Double(1e300));
    assert_canonical(b",1e-7\r\n", &Frame::Double(1e-7));
    assert_canonical(b",10.0\r\n", &Frame::Double(10.0));
}

#[test]
fn decodes_resp3_doubles_in_every_form_the_grammar_allows() {
    // `,[<+|->]<integral>[.<fractional>][<E|e>[sign]<exponent>]\r\n`: not
    // the encoder's form, so decoded only.
    for (wire, value) in [
        (&b",10\r\n"[..], 10.0),
        (b",+1.5\r\n", 1.5),
        (b",1.23E3\r\n", 1230.0),
        (b",1.23e+3\r\n", 1230.0),
        (b",-4.5e-2\r\n", -0.045),
        (b",0\r\n", 0.0),
        (b",-0\r\n", -0.0),
        (b",3.141592653589793\r\n", std::f64::consts::PI),
        (b",1.7976931348623157e308\r\n", f64::MAX),
    ] {
        let got = assert_decodes(wire, &Frame::Double(value));
        let Frame::Double(d) = got else {
            unreachable!()
        };
        assert_eq!(
            d.to_bits(),
            value.to_bits(),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn decodes_resp3_booleans() {
    assert_canonical(b"#t\r\n", &Frame::Boolean(true));
    assert_canonical(b"#f\r\n", &Frame::Boolean(false));
}

#[test]
fn decodes_resp3_blob_error() {
    assert_canonical(
        b"!21\r\nSYNTAX invalid syntax\r\n",
        &Frame::BulkError("SYNTAX invalid syntax".into()),
    );
    assert_canonical(b"!0\r\n\r\n", &Frame::BulkError(Bytes::new()));
    assert!(Frame::BulkError("x".into()).is_error());
}

#[test]
fn decodes_resp3_verbatim_string() {
    assert_canonical(
        b"=15\r\ntxt:Some string\r\n",
        &Frame::Verbatim {
            format: *b"txt",
            text: "Some string".into(),
        },
    );
    assert_canonical(
        b"=4\r\nmkd:\r\n",
        &Frame::Verbatim {
            format: *b"mkd",
            text: Bytes::new(),
        },
    );
    assert_canonical(
        b"=8\r\ntxt:\r\n\r\n\r\n",
        &Frame::Verbatim {
            format: *b"txt",
            text: "\r\n\r\n".into(),
        },
    );
}

#[test]
fn decodes_resp3_big_numbers() {
    assert_canonical(
        b"(3492890328409238509324850943850943825024385\r\n",
        &Frame::BigNumber("3492890328409238509324850943850943825024385".into()),
    );
    assert_canonical(
        b"(-3492890328409238509324850943850943825024385\r\n",
        &Frame::BigNumber("-3492890328409238509324850943850943825024385".into()),
    );
    assert_canonical(b"(0\r\n", &Frame::BigNumber("0".into()));
}

#[test]
fn decodes_resp3_arrays_flat_and_nested() {
    assert_canonical(
        b"*3\r\n:1\r\n:2\r\n:3\r\n",
        &Frame::Array(vec![
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(3),
        ]),
    );
    assert_canonical(
        b"*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n#f\r\n",
        &Frame::Array(vec![
            Frame::Array(vec![Frame::Integer(1), bulk("hello"), Frame::Integer(2)]),
            Frame::Boolean(false),
        ]),
    );
}

#[test]
fn decodes_resp3_maps_in_wire_order() {
    assert_canonical(
        b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
        &Frame::Map(vec![
            (simple("first"), Frame::Integer(1)),
            (simple("second"), Frame::Integer(2)),
        ]),
    );
    assert_canonical(b"%0\r\n", &Frame::Map(vec![]));
    // Keys may be aggregates and may repeat; the order is kept.
    assert_canonical(
        b"%2\r\n*1\r\n:1\r\n_\r\n*1\r\n:1\r\n#t\r\n",
        &Frame::Map(vec![
            (Frame::Array(vec![Frame::Integer(1)]), Frame::Null),
            (Frame::Array(vec![Frame::Integer(1)]), Frame::Boolean(true)),
        ]),
    );
}

#[test]
fn decodes_resp3_sets() {
    assert_canonical(
        b"~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n",
        &Frame::Set(vec![
            simple("orange"),
            simple("apple"),
            Frame::Boolean(true),
            Frame::Integer(100),
            Frame::Integer(999),
        ]),
    );
    assert_canonical(b"~0\r\n", &Frame::Set(vec![]));
}

#[test]
fn decodes_resp3_attribute_on_a_top_level_frame() {
    let wire = b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n\
                 *2\r\n:2039123\r\n:9543892\r\n";
    let want = Frame::Attribute {
        attrs: vec![(
            simple("key-popularity"),
            Frame::Map(vec![
                (bulk("a"), Frame::Double(0.1923)),
                (bulk("b"), Frame::Double(0.0012)),
            ]),
        )],
        data: Box::new(Frame::Array(vec![
            Frame::Integer(2_039_123),
            Frame::Integer(9_543_892),
        ])),
    };
    assert_canonical(wire, &want);
    assert_eq!(
        want.without_attributes(),
        &Frame::Array(vec![Frame::Integer(2_039_123), Frame::Integer(9_543_892)])
    );
}

#[test]
fn decodes_resp3_attribute_inside_an_array() {
    assert_canonical(
        b"*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n",
        &Frame::Array(vec![
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Attribute {
                attrs: vec![(simple("ttl"), Frame::Integer(3600))],
                data: Box::new(Frame::Integer(3)),
            },
        ]),
    );
}

#[test]
fn decodes_resp3_empty_attribute_and_attribute_on_attribute() {
    assert_canonical(
        b"|0\r\n_\r\n",
        &Frame::Attribute {
            attrs: vec![],
            data: Box::new(Frame::Null),
        },
    );
    let inner = Frame::Attribute {
        attrs: vec![(simple("b"), Frame::Integer(2))],
        data: Box::new(Frame::Boolean(true)),
    };
    let outer = Frame::Attribute {
        attrs: vec![(simple("a"), Frame::Integer(1))],
        data: Box::new(inner),
    };
    assert_canonical(b"|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n#t\r\n", &outer);
    assert_eq!(outer.without_attributes(), &Frame::Boolean(true));
}

#[test]
fn decodes_resp3_attribute_as_the_value_of_a_map() {
    assert_canonical(
        b"%1\r\n+k\r\n|1\r\n+a\r\n:1\r\n+v\r\n",
        &Frame::Map(vec![(
            simple("k"),
            Frame::Attribute {
                attrs: vec![(simple("a"), Frame::Integer(1))],
                data: Box::new(simple("v")),
            },
        )]),
    );
}

#[test]
fn decodes_resp3_push() {
    assert_canonical(
        b">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n",
        &Frame::Push(vec![
            simple("pubsub"),
            simple("message"),
            simple("somechannel"),
            simple("this is the message"),
        ]),
    );
    assert_canonical(
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n",
        &Frame::Push(vec![bulk("invalidate"), Frame::Array(vec![bulk("key")])]),
    );
    assert_canonical(b">0\r\n", &Frame::Push(vec![]));
}

#[test]
fn decodes_resp3_push_between_replies() {
    // Out-of-band data between two replies: three frames, each with its own
    // wire length.
    let frames = vec![
        simple("OK"),
        Frame::Push(vec![bulk("message"), bulk("ch"), bulk("hi")]),
        Frame::Integer(1),
    ];
    let wire = encode_all(&frames);
    let out = decode_every_way_default(&wire);
    assert_eq!(out.frames_only(), frames);
    let lens: Vec<usize> = out.frames.iter().map(|(_, n)| *n).collect();
    assert_eq!(lens, vec![5, 33, 4]);
}

#[test]
fn decodes_resp3_hello_reply() {
    let wire = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n\
                 $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:10\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
                 $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    assert_canonical(
        wire,
        &Frame::Map(vec![
            (bulk("server"), bulk("redis")),
            (bulk("version"), bulk("7.2.4")),
            (bulk("proto"), Frame::Integer(3)),
            (bulk("id"), Frame::Integer(10)),
            (bulk("mode"), bulk("standalone")),
            (bulk("role"), bulk("master")),
            (bulk("modules"), Frame::Array(vec![])),
        ]),
    );
}

#[test]
fn decodes_empty_aggregates_of_every_kind_nested() {
    assert_canonical(
        b"*5\r\n*0\r\n%0\r\n~0\r\n>0\r\n|0\r\n*0\r\n",
        &Frame::Array(vec![
            Frame::Array(vec![]),
            Frame::Map(vec![]),
            Frame::Set(vec![]),
            Frame::Push(vec![]),
            Frame::Attribute {
                attrs: vec![],
                data: Box::new(Frame::Array(vec![])),
            },
        ]),
    );
}

#[test]
fn encoded_len_matches_bytes_written_for_every_type() {
    for frame in [
        Frame::Integer(i64::MIN),
        Frame::Integer(i64::MAX),
        Frame::Double(5e-324),
        Frame::Double(-f64::MAX),
        Frame::Double(f64::NAN),
        Frame::bulk(vec![0u8; 100_000]),
        Frame::Array(vec![Frame::Null; 12]),
        Frame::Verbatim {
            format: *b"xyz",
            text: Bytes::from(vec![b'x'; 1000]),
        },
        Frame::Attribute {
            attrs: vec![(Frame::Null, Frame::Null); 10],
            data: Box::new(Frame::Map(vec![(Frame::Null, Frame::NullArray); 10])),
        },
    ] {
        assert_encoded_len(&frame);
        assert_decodes(&frame.to_bytes(), &frame);
    }
}

#[test]
fn encodes_doubles_as_redis_reads_them() {
    for (value, text) in [
        (1.5, ",1.5\r\n"),
        (0.1, ",0.1\r\n"),
        (-0.0, ",-0.0\r\n"),
        (f64::INFINITY, ",inf\r\n"),
        (f64::NEG_INFINITY, ",-inf\r\n"),
        (-f64::NAN, ",nan\r\n"),
        (1e21, ",1e21\r\n"),
    ] {
        assert_eq!(Frame::Double(value).to_bytes(), text.as_bytes(), "{value}");
    }
}

#[test]
fn frame_accessors_report_what_they_hold() {
    assert_eq!(simple("x").as_bytes(), Some(&Bytes::from_static(b"x")));
    assert_eq!(Frame::Integer(3).as_integer(), Some(3));
    assert_eq!(
        Frame::Set(vec![Frame::Null]).as_elements(),
        Some(&[Frame::Null][..])
    );
    assert_eq!(
        Frame::Error("E x".into()).error_message(),
        Some(&b"E x"[..])
    );
    assert_eq!(Frame::Null.as_bytes(), None);
    assert_eq!(Frame::Push(vec![]).kind_name(), "push");
}
