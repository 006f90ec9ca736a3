//! Strictness: every malformed input is an `Error` with the right kind and
//! byte offset, whether it comes alone or after good frames, and however it
//! is split; the limits fire at limit + 1 and not at the limit, before any
//! memory is reserved; a failed decoder stays failed; partial valid input is
//! `Ok(None)` with an accurate `needed()`.
//!
//! Offsets are counted from the first byte fed to the decoder. Terminator
//! errors point at the first byte where the CRLF should be; number errors
//! point at the number's first byte, or at the first byte after its digits
//! when that byte is not the CR.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::split::{Outcome, decode_bytewise, decode_every_way, decode_whole, encode_all, frame};
use bytes::BytesMut;
use ferry_resp::{Config, Decoder, ErrorKind, Frame, MAX_BULK_LEN_BYTES, MAX_ELEMENTS};
use proptest::prelude::*;

/// Good frames put before a bad one, to check that offsets count from the
/// start of the stream: three frames, 23 bytes.
const GOOD_PREFIX: &[u8] = b"+OK\r\n*2\r\n$1\r\na\r\n:1\r\n_\r\n";

/// Decodes `input` every way with `config` and checks that it fails with
/// `kind` at `offset`, before any frame; then the same after
/// [`GOOD_PREFIX`], with the offset moved by its length.
fn assert_error_with(config: &Config, input: &[u8], kind: &ErrorKind, offset: u64) {
    let show = String::from_utf8_lossy(input).into_owned();
    let out = decode_every_way(input, config);
    assert!(out.frames.is_empty(), "{show:?}: {out:?}");
    let e = out.expect_error();
    assert_eq!((e.kind(), e.offset()), (kind, offset), "{show:?}");

    let mut stream = BytesMut::from(GOOD_PREFIX);
    stream.extend_from_slice(input);
    let out = decode_every_way(&stream, config);
    assert_eq!(out.frames.len(), 3, "{show:?} after good frames: {out:?}");
    let e = out.expect_error();
    assert_eq!(
        (e.kind(), e.offset()),
        (kind, offset + GOOD_PREFIX.len() as u64),
        "{show:?} after good frames"
    );
}

/// [`assert_error_with`] and the default limits.
fn assert_error(input: &[u8], kind: &ErrorKind, offset: u64) {
    assert_error_with(&Config::default(), input, kind, offset);
}

/// Decodes `input` every way with `config`: it is exactly one frame.
fn assert_one_frame(config: &Config, input: &[u8]) -> Outcome {
    let out = decode_every_way(input, config);
    assert!(out.complete && out.frames.len() == 1, "{out:?}");
    out
}

/// The state of a fresh decoder fed `input` whole: `Ok(None)` expected,
/// and the decoder returned for its `needed()`.
fn fed_partial(input: &[u8]) -> Decoder {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::from(input);
    assert_eq!(dec.decode(&mut buf), Ok(None), "{input:?}");
    dec
}

// --- type bytes -------------------------------------------------------------

#[test]
fn rejects_bad_type_bytes_at_their_offset() {
    for byte in [
        b'?', b'x', b'\r', b'\n', b'\0', b' ', b'.', b';', b'H', b'P', 0xff,
    ] {
        assert_error(&[byte, b'\r', b'\n'], &ErrorKind::BadType { byte }, 0);
    }
}

#[test]
fn rejects_inline_commands() {
    assert_error(b"PING\r\n", &ErrorKind::BadType { byte: b'P' }, 0);
    assert_error(b"HELLO 3\r\n", &ErrorKind::BadType { byte: b'H' }, 0);
}

#[test]
fn rejects_bad_type_byte_inside_aggregates() {
    assert_error(b"*2\r\n:1\r\n@\r\n", &ErrorKind::BadType { byte: b'@' }, 8);
    assert_error(
        b"%1\r\n+k\r\n~1\r\nv\r\n",
        &ErrorKind::BadType { byte: b'v' },
        12,
    );
    assert_error(
        b"|1\r\n+k\r\n+v\r\nX",
        &ErrorKind::BadType { byte: b'X' },
        12,
    );
}

// --- terminators ------------------------------------------------------------

#[test]
fn rejects_blob_not_followed_by_crlf() {
    let t = &ErrorKind::BadTerminator;
    assert_error(b"$3\r\nabcX\r\n", t, 7);
    assert_error(b"$3\r\nabc\rX", t, 7);
    assert_error(b"$3\r\nabc\n\r", t, 7);
    assert_error(b"$3\r\nab\r\n:1\r\n", t, 7);
    assert_error(b"$0\r\nX\r\n", t, 4);
    assert_error(b"!3\r\nabcX\r\n", t, 7);
    assert_error(b"=5\r\ntxt:aXY", t, 9);
    assert_error(b"*2\r\n$1\r\nab\r\n", t, 9);
}

#[test]
fn rejects_bare_lf_and_cr_in_lines() {
    let t = &ErrorKind::BadTerminator;
    assert_error(b"+OK\n", t, 3);
    assert_error(b"+\n", t, 1);
    assert_error(b"+O\rK\r\n", t, 2);
    assert_error(b"+O\nK\r\n", t, 2);
    assert_error(b"-ERR\rx\r\n", t, 4);
    assert_error(b",1.5\n", t, 4);
    assert_error(b"(12\n", t, 3);
    assert_error(b"+a\r\r\n", t, 2);
}

#[test]
fn rejects_bad_terminators_of_fixed_frames() {
    let t = &ErrorKind::BadTerminator;
    assert_error(b"_x\r\n", t, 1);
    assert_error(b"__", t, 1);
    assert_error(b"_\r\r", t, 2);
    assert_error(b"_\n", t, 1);
    assert_error(b"#tt\r\n", t, 2);
    assert_error(b"#t\rx", t, 2);
    assert_error(b"#f\n\r", t, 2);
}

#[test]
fn rejects_bad_terminators_after_numbers_as_bad_numbers() {
    assert_error(b":12\n", &ErrorKind::BadInteger, 3);
    assert_error(b":1\rX", &ErrorKind::BadInteger, 2);
    assert_error(b"$3\rX", &ErrorKind::BadLength, 2);
    assert_error(b"*1\n:1\r\n", &ErrorKind::BadLength, 2);
}

// --- lengths ------------------------------------------------------------------

#[test]
fn rejects_bad_lengths() {
    let l = &ErrorKind::BadLength;
    for input in [
        &b"$-2\r\n"[..],
        b"$01\r\n",
        b"$00\r\n",
        b"$+1\r\n",
        b"$ 1\r\n",
        b"$\r\n",
        b"$-\r\n",
        b"$-0\r\n",
        b"$-01\r\n",
        b"$99999999999999999999999\r\n",
        b"$-9223372036854775809\r\n",
        b"*-2\r\n",
        b"*01\r\n",
        b"*+1\r\n",
        b"%-1\r\n",
        b"~-1\r\n",
        b">-1\r\n",
        b"|-1\r\n",
        b"!-1\r\n",
        b"=-1\r\n",
    ] {
        assert_error(input, l, 1);
    }
    assert_error(b"$1 \r\n", l, 2);
    assert_error(b"$1a\r\n", l, 2);
    assert_error(b"*1.0\r\n", l, 2);
}

#[test]
fn rejects_negative_lengths_of_a_huge_magnitude() {
    assert_error(b"$-9223372036854775808\r\n", &ErrorKind::BadLength, 1);
    assert_error(b"*-9223372036854775808\r\n", &ErrorKind::BadLength, 1);
}

// --- integers -----------------------------------------------------------------

#[test]
fn rejects_integers_redis_rejects() {
    let i = &ErrorKind::BadInteger;
    for input in [
        &b":+1\r\n"[..],
        b":01\r\n",
        b":00\r\n",
        b":-0\r\n",
        b":-01\r\n",
        b":\r\n",
        b":-\r\n",
        b": 1\r\n",
        b":9223372036854775808\r\n",
        b":-9223372036854775809\r\n",
        b":18446744073709551616\r\n",
        b":99999999999999999999\r\n",
        b":123456789012345678901\r\n",
    ] {
        assert_error(input, i, 1);
    }
    assert_error(b":1.5\r\n", i, 2);
    assert_error(b":1e3\r\n", i, 2);
    assert_error(b":0x1\r\n", i, 2);
    assert_error(b":1 \r\n", i, 2);
}

#[test]
fn accepts_integers_at_the_edges_of_i64() {
    for (input, n) in [
        (&b":9223372036854775807\r\n"[..], i64::MAX),
        (b":-9223372036854775808\r\n", i64::MIN),
        (b":0\r\n", 0),
        (b":-1\r\n", -1),
    ] {
        let out = assert_one_frame(&Config::default(), input);
        assert_eq!(out.frames[0], (Frame::Integer(n), input.len()));
    }
}

// --- doubles, booleans, big numbers, verbatim ------------------------------------

#[test]
fn rejects_bad_doubles() {
    for input in [
        &b",\r\n"[..],
        b",abc\r\n",
        b",1.2.3\r\n",
        b",1 \r\n",
        b", 1\r\n",
        b",1e\r\n",
        b",--1\r\n",
        b",1,5\r\n",
        b",0x10\r\n",
        b",inff\r\n",
        b",1_000\r\n",
        b",\x001\r\n",
        // Rust's float parser takes these; the RESP3 grammar does not.
        b",.5\r\n",
        b",5.\r\n",
        b",infinity\r\n",
        b",NaN\r\n",
        b",INF\r\n",
        b",-nan\r\n",
        b",1e5.5\r\n",
    ] {
        assert_error(input, &ErrorKind::BadDouble, 1);
    }
}

#[test]
fn rejects_bad_booleans() {
    for input in [&b"#x\r\n"[..], b"#\r\n", b"#T\r\n", b"#1\r\n", b"#\r\r\n"] {
        assert_error(input, &ErrorKind::BadBoolean, 1);
    }
}

#[test]
fn rejects_bad_boolean_before_its_crlf_arrives() {
    let mut dec = Decoder::new();
    let err = dec.decode(&mut BytesMut::from(&b"#x"[..])).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (&ErrorKind::BadBoolean, 1));
}

#[test]
fn rejects_bad_big_numbers() {
    for input in [
        &b"(\r\n"[..],
        b"(-\r\n",
        b"(+1\r\n",
        b"(1.5\r\n",
        b"(12a\r\n",
        b"( 1\r\n",
        b"(--1\r\n",
        b"(1-\r\n",
        b"(1e10\r\n",
    ] {
        assert_error(input, &ErrorKind::BadBigNumber, 1);
    }
}

#[test]
fn rejects_bad_verbatim_strings() {
    let v = &ErrorKind::BadVerbatim;
    assert_error(b"=3\r\ntxt\r\n", v, 1);
    assert_error(b"=0\r\n\r\n", v, 1);
    assert_error(b"=5\r\ntxt;a\r\n", v, 7);
    assert_error(b"=4\r\ntxt \r\n", v, 7);
    assert_error(b"=6\r\ntxtab:\r\n", v, 7);
}

// --- streamed types -------------------------------------------------------------

#[test]
fn rejects_streamed_strings_and_aggregates() {
    for input in [
        &b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n"[..],
        b"*?\r\n:1\r\n:2\r\n:3\r\n.\r\n",
        b"%?\r\n+a\r\n:1\r\n.\r\n",
        b"~?\r\n+a\r\n.\r\n",
        b">?\r\n",
        b"|?\r\n",
        b"!?\r\n",
        b"=?\r\n",
        b"$?",
        b"*?",
    ] {
        assert_error(input, &ErrorKind::Streamed, 1);
    }
}

#[test]
fn rejects_streamed_aggregate_nested_in_an_array() {
    assert_error(b"*2\r\n:1\r\n*?\r\n:1\r\n.\r\n", &ErrorKind::Streamed, 9);
}

// --- limits -----------------------------------------------------------------------

/// The `LimitExceeded` kind.
fn limit(what: &'static str, limit: usize, found: usize) -> ErrorKind {
    ErrorKind::LimitExceeded {
        what,
        limit: limit as u64,
        found: found as u64,
    }
}

#[test]
fn limits_bulk_length_at_limit_plus_one() {
    let config = Config::default().max_bulk_len(10);
    assert_one_frame(&config, b"$10\r\n0123456789\r\n");
    assert_one_frame(&config, b"!10\r\n0123456789\r\n");
    assert_one_frame(&config, b"=10\r\ntxt:456789\r\n");
    // The header alone is enough: the payload is never waited for.
    let kind = limit("bulk length", 10, 11);
    assert_error_with(&config, b"$11\r\n", &kind, 1);
    assert_error_with(&config, b"!11\r\n", &kind, 1);
    assert_error_with(&config, b"=11\r\n", &kind, 1);
    assert_error_with(&config, b"*1\r\n$11\r\n", &kind, 5);
}

#[test]
fn limits_aggregate_length_at_limit_plus_one() {
    let config = Config::default().max_elements(4);
    assert_one_frame(&config, b"*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n");
    assert_one_frame(&config, b"~4\r\n:1\r\n:2\r\n:3\r\n:4\r\n");
    assert_one_frame(&config, b">4\r\n:1\r\n:2\r\n:3\r\n:4\r\n");
    // Maps and attributes count pairs.
    assert_one_frame(
        &config,
        b"%4\r\n:1\r\n:1\r\n:2\r\n:2\r\n:3\r\n:3\r\n:4\r\n:4\r\n",
    );
    assert_one_frame(
        &config,
        b"|4\r\n:1\r\n:1\r\n:2\r\n:2\r\n:3\r\n:3\r\n:4\r\n:4\r\n_\r\n",
    );
    let kind = limit("aggregate length", 4, 5);
    for ty in [b'*', b'~', b'>', b'%', b'|'] {
        assert_error_with(&config, &[ty, b'5', b'\r', b'\n'], &kind, 1);
    }
    assert_error_with(&config, b"%1\r\n+k\r\n*5\r\n", &kind, 9);
}

#[test]
fn limits_depth_at_limit_plus_one() {
    let config = Config::default().max_depth(3);
    assert_one_frame(&config, b"*1\r\n*1\r\n*1\r\n:1\r\n");
    assert_one_frame(&config, b"%1\r\n+k\r\n~1\r\n>1\r\n:1\r\n");
    let kind = limit("nesting depth", 3, 4);
    assert_error_with(&config, b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", &kind, 12);
    assert_error_with(&config, b"%1\r\n+k\r\n~1\r\n>1\r\n*1\r\n:1\r\n", &kind, 16);
    // A map key counts as a level down, as its value does.
    assert_error_with(&config, b"%1\r\n%1\r\n%1\r\n%1\r\n", &kind, 12);
}

#[test]
fn does_not_count_empty_aggregates_as_a_level() {
    // An empty aggregate holds nothing below it; an empty attribute still
    // annotates the frame that follows, one level down.
    let config = Config::default().max_depth(1);
    for input in [
        &b"*1\r\n*0\r\n"[..],
        b"*1\r\n%0\r\n",
        b"*1\r\n~0\r\n",
        b"*1\r\n>0\r\n",
    ] {
        assert_one_frame(&config, input);
    }
    assert_one_frame(&Config::default().max_depth(0), b"*0\r\n");
    assert_error_with(
        &config,
        b"*1\r\n|0\r\n:1\r\n",
        &limit("nesting depth", 1, 2),
        4,
    );
}

#[test]
fn counts_the_frame_an_attribute_annotates_one_level_down() {
    // The annotated frame is the attribute's `data`: an aggregate there is
    // one level below the attribute.
    let config = Config::default().max_depth(2);
    assert_one_frame(&config, b"|1\r\n+k\r\n+v\r\n*1\r\n:1\r\n");
    assert_error_with(
        &config,
        b"|1\r\n+k\r\n+v\r\n*1\r\n*1\r\n:1\r\n",
        &limit("nesting depth", 2, 3),
        16,
    );
}

#[test]
fn limits_line_length_at_limit_plus_one() {
    let config = Config::default().max_line_len(5);
    for input in [
        &b"+12345\r\n"[..],
        b"-12345\r\n",
        b",1.234\r\n",
        b"(12345\r\n",
    ] {
        assert_one_frame(&config, input);
    }
    let kind = limit("line length", 5, 6);
    for input in [
        &b"+123456\r\n"[..],
        b"-123456\r\n",
        b",1.2345\r\n",
        b"(123456\r\n",
    ] {
        assert_error_with(&config, input, &kind, 1);
    }
}

#[test]
fn limits_line_length_before_the_line_ends() {
    // Memory stays bounded: a line longer than the limit fails as soon as
    // limit + 1 bytes of it have arrived, without waiting for its CR.
    let config = Config::default().max_line_len(5);
    let mut dec = Decoder::with_config(config);
    let mut buf = BytesMut::from(&b"+12345"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"6");
    let e = dec.decode(&mut buf).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&limit("line length", 5, 6), 1));
}

#[test]
fn limits_bulk_length_by_default_at_512_mib() {
    let kind = limit("bulk length", MAX_BULK_LEN_BYTES, 999_999_999_999);
    assert_error(b"$999999999999\r\n", &kind, 1);
    assert_error(
        b"$536870913\r\n",
        &limit("bulk length", MAX_BULK_LEN_BYTES, MAX_BULK_LEN_BYTES + 1),
        1,
    );
    // At the limit: waiting for the payload, which is not reserved.
    let dec = fed_partial(b"$536870912\r\n");
    assert_eq!(dec.needed(), MAX_BULK_LEN_BYTES + 2);
}

#[test]
fn limits_aggregate_length_by_default_at_i32_max() {
    assert_error(
        b"*2147483648\r\n",
        &limit("aggregate length", MAX_ELEMENTS, MAX_ELEMENTS + 1),
        1,
    );
    assert_error(
        b"*9223372036854775807\r\n",
        &limit("aggregate length", MAX_ELEMENTS, i64::MAX as usize),
        1,
    );
}

#[test]
fn declares_two_billion_elements_without_reserving_memory() {
    // Each header claims 2^31 - 1 pairs: reserving for them up front would
    // ask for over 100 GB per decoder, which neither RAM nor, a thousand
    // times over, the address space could give. Only what arrives may cost.
    let start = std::time::Instant::now();
    let decoders: Vec<Decoder> = (0..1000)
        .map(|i| {
            let header: &[u8] = if i % 2 == 0 {
                b"%2147483647\r\n"
            } else {
                b"*2147483647\r\n*2147483647\r\n"
            };
            let mut dec = Decoder::new();
            let mut buf = BytesMut::from(header);
            assert_eq!(dec.decode(&mut buf), Ok(None));
            assert!(buf.is_empty() && !dec.is_idle());
            dec
        })
        .collect();
    assert_eq!(decoders.len(), 1000);
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
}

// --- a failed decoder -----------------------------------------------------------

#[test]
fn keeps_returning_the_same_error_after_an_error() {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::from(&b"+OK\r\n:01\r\n+OK\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(Some((Frame::simple("OK"), 5))));
    let e = dec.decode(&mut buf).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::BadInteger, 6));
    for _ in 0..3 {
        assert_eq!(dec.decode(&mut buf), Err(e.clone()));
        assert_eq!(dec.decode(&mut BytesMut::new()), Err(e.clone()));
        assert_eq!(
            dec.decode(&mut BytesMut::from(&b"_\r\n"[..])),
            Err(e.clone())
        );
    }
}

#[test]
fn formats_errors_with_kind_and_offset() {
    let mut dec = Decoder::new();
    let e = dec
        .decode(&mut BytesMut::from(&b"$3\r\nabcXY"[..]))
        .unwrap_err();
    assert_eq!(e.to_string(), "RESP: missing or misplaced CRLF at byte 7");
    let e = Decoder::with_config(Config::default().max_depth(1))
        .decode(&mut BytesMut::from(&b"*1\r\n*1\r\n"[..]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "RESP: nesting depth 2 over the limit of 1 at byte 4"
    );
}

// --- partial input ------------------------------------------------------------

#[test]
fn needs_the_rest_of_a_partial_bulk() {
    assert_eq!(fed_partial(b"$10\r\nabc").needed(), 9);
    assert_eq!(fed_partial(b"$10\r\n").needed(), 12);
    assert_eq!(fed_partial(b"$10\r\n0123456789").needed(), 2);
    assert_eq!(fed_partial(b"$10\r\n0123456789\r").needed(), 1);
    assert_eq!(fed_partial(b"*2\r\n$3\r\nfoo\r\n$3\r\nba").needed(), 3);
    assert_eq!(fed_partial(b"=10\r\ntxt:").needed(), 8);
    assert_eq!(fed_partial(b"!1\r\n").needed(), 3);
}

#[test]
fn needs_at_least_one_byte_for_every_partial_frame() {
    for input in [
        &b""[..],
        b"+",
        b"+OK",
        b"+OK\r",
        b":",
        b":-",
        b":12",
        b":12\r",
        b"$",
        b"$1",
        b"$1\r",
        b"$-1\r",
        b"*",
        b"*2\r\n",
        b"*2\r\n:1\r\n",
        b"_",
        b"_\r",
        b"#",
        b"#t",
        b"#t\r",
        b",",
        b",1.5",
        b"(",
        b"|1\r\n+a\r\n:1\r\n",
        b"%1\r\n+a\r\n",
    ] {
        let dec = fed_partial(input);
        assert!(dec.needed() >= 1, "{input:?}");
    }
    assert_eq!(fed_partial(b"#").needed(), 3);
    assert_eq!(fed_partial(b"#t").needed(), 2);
    assert_eq!(fed_partial(b"_").needed(), 2);
}

#[test]
fn completes_a_partial_bulk_fed_exactly_what_it_needs() {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::from(&b"$10\r\nabc"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    let needed = dec.needed();
    buf.extend_from_slice(&b"defghij\r\n"[..needed]);
    assert_eq!(
        dec.decode(&mut buf),
        Ok(Some((Frame::bulk("abcdefghij"), 17)))
    );
    assert!(dec.is_idle());
}

/// Feeds `wire` (one whole frame) byte by byte and checks, at every
/// `Ok(None)`, that `needed()` does not overstate the bytes still to come.
fn assert_needed_is_a_lower_bound(wire: &[u8]) {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::new();
    for (i, &b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        match dec.decode(&mut buf) {
            Ok(None) => {
                let left = wire.len() - (i + 1);
                assert!(
                    (1..=left).contains(&dec.needed()),
                    "after {} of {:?}: needed {} but {left} left",
                    i + 1,
                    String::from_utf8_lossy(wire),
                    dec.needed()
                );
            }
            Ok(Some((_, len))) => assert_eq!((i + 1, len), (wire.len(), wire.len())),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn needed_never_overstates_what_is_left_of_a_frame() {
    for wire in [
        &b"$10\r\n0123456789\r\n"[..],
        b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n",
        b"+OK\r\n",
        b"#t\r\n",
        b"_\r\n",
        b":-123\r\n",
        b"=15\r\ntxt:Some string\r\n",
        b"|1\r\n+a\r\n:1\r\n%1\r\n$1\r\nk\r\n,1.5\r\n",
    ] {
        assert_needed_is_a_lower_bound(wire);
    }
}

#[test]
fn partial_input_is_never_an_error_however_split() {
    let wire = encode_all(&[
        Frame::Integer(-9_223_372_036_854_775_807),
        Frame::bulk("0123456789"),
        Frame::Double(-1.5e-7),
    ]);
    for len in 0..wire.len() {
        let out = decode_whole(&wire[..len], &Config::default());
        assert!(out.error.is_none(), "prefix {len}: {out:?}");
        assert_eq!(
            decode_bytewise(&wire[..len], &Config::default()).key(),
            out.key()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn needed_is_a_lower_bound_for_random_frames(f in frame()) {
        assert_needed_is_a_lower_bound(&f.to_bytes());
    }
}
