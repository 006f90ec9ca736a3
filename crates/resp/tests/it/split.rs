//! Chunk-split tests: the same bytes fed whole, byte by byte, at every split
//! point and at random split points must give the same frames, the same wire
//! lengths, the same final error and an `offset()` that always equals the
//! bytes taken from the buffer.
//!
//! Fed whole, a frame takes the fast path (`src/fast.rs`); fed in pieces, or
//! nested deeper than eight levels, or invalid, it takes the resumable state
//! machine (`src/decoder.rs`). These tests hold the two to identical results.
//!
//! The feeding harness ([`decode_every_way`] and friends) and the random frame
//! strategy ([`frame`]) are shared with the other test modules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use ferry_resp::{Config, Decoder, Error, ErrorKind, Frame};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// What a decoder made of one input: the frames with their wire lengths, the
/// error that stopped it (if any), and whether it ended idle with nothing
/// left over (false when the input ends inside a frame).
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Decoded frames and their wire lengths, in order.
    pub(crate) frames: Vec<(Frame, usize)>,
    /// The error that stopped decoding.
    pub(crate) error: Option<Error>,
    /// True when no error occurred and every byte fed belongs to a frame.
    pub(crate) complete: bool,
}

impl Outcome {
    /// A comparison key. `Frame` is `PartialEq` only (NaN doubles are not
    /// equal to themselves), so outcomes are compared by their `Debug` form,
    /// which is exact for bytes and prints the shortest round-trip form of
    /// every double.
    pub(crate) fn key(&self) -> String {
        format!("{self:?}")
    }

    /// Just the frames, without wire lengths.
    pub(crate) fn frames_only(&self) -> Vec<Frame> {
        self.frames.iter().map(|(f, _)| f.clone()).collect()
    }

    /// The error, which the test expects to be there.
    pub(crate) fn expect_error(&self) -> &Error {
        self.error
            .as_ref()
            .unwrap_or_else(|| panic!("expected an error, got {self:?}"))
    }
}

/// Feeds `chunks` one after the other to a fresh decoder with `config`,
/// decoding after each until it needs more or fails, and checks the
/// invariants that hold whatever the chunking:
///
/// - `offset()` equals the bytes taken from the buffer, after every call;
/// - after each frame the decoder is idle and `offset()` is the sum of the
///   wire lengths so far;
/// - `Ok(None)` comes with `needed() >= 1`;
/// - after an error, the decoder returns the same error again.
pub(crate) fn decode_chunks<'a>(
    config: &Config,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut dec = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut fed = 0u64;
    let mut wire_total = 0u64;
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        fed += chunk.len() as u64;
        loop {
            let result = dec.decode(&mut buf);
            assert_eq!(
                dec.offset(),
                fed - buf.len() as u64,
                "offset() must equal the bytes taken from the buffer"
            );
            match result {
                Ok(Some((frame, len))) => {
                    wire_total += len as u64;
                    assert!(dec.is_idle(), "idle after a whole frame");
                    assert_eq!(dec.offset(), wire_total, "offset == sum of wire lengths");
                    frames.push((frame, len));
                }
                Ok(None) => {
                    assert!(dec.needed() >= 1);
                    break;
                }
                Err(e) => {
                    assert_eq!(
                        dec.decode(&mut buf),
                        Err(e.clone()),
                        "a failed decoder keeps failing the same way"
                    );
                    assert_eq!(
                        dec.decode(&mut BytesMut::from(&b"+OK\r\n"[..])),
                        Err(e.clone()),
                        "even when handed good bytes"
                    );
                    return Outcome {
                        frames,
                        error: Some(e),
                        complete: false,
                    };
                }
            }
        }
    }
    let complete = buf.is_empty() && dec.is_idle();
    if complete {
        assert_eq!(dec.offset(), fed);
    }
    Outcome {
        frames,
        error: None,
        complete,
    }
}

/// Feeds `input` in one piece.
pub(crate) fn decode_whole(input: &[u8], config: &Config) -> Outcome {
    decode_chunks(config, [input])
}

/// Feeds `input` one byte at a time.
pub(crate) fn decode_bytewise(input: &[u8], config: &Config) -> Outcome {
    decode_chunks(config, input.chunks(1))
}

/// Feeds `input` in two pieces, split at `at`.
pub(crate) fn decode_split_at(input: &[u8], at: usize, config: &Config) -> Outcome {
    let (a, b) = input.split_at(at);
    decode_chunks(config, [a, b])
}

/// Feeds `input` in the pieces that end at `cuts` (sorted, deduplicated
/// indices inside the input).
pub(crate) fn decode_cut_at(input: &[u8], cuts: &[usize], config: &Config) -> Outcome {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for &cut in cuts {
        pieces.push(&input[from..cut]);
        from = cut;
    }
    pieces.push(&input[from..]);
    decode_chunks(config, pieces)
}

/// A small deterministic generator (SplitMix64), so that random splits are
/// reproducible from their seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `1..=max`.
    pub(crate) fn upto(&mut self, max: usize) -> usize {
        1 + (self.next_u64() % max as u64) as usize
    }
}

/// Random cut points for `len` bytes: chunk sizes mix tiny (1-3 bytes),
/// small (up to 64) and large (up to 8 KiB) so that every kind of boundary
/// is hit.
pub(crate) fn random_cuts(len: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut cuts = Vec::new();
    let mut at = 0;
    loop {
        let step = match rng.next_u64() % 10 {
            0..=2 => rng.upto(3),
            3..=6 => rng.upto(64),
            _ => rng.upto(8192),
        };
        at += step;
        if at >= len {
            return cuts;
        }
        cuts.push(at);
    }
}

/// Feeds `input` at random split points chosen by `seed`.
pub(crate) fn decode_random_splits(input: &[u8], seed: u64, config: &Config) -> Outcome {
    decode_cut_at(input, &random_cuts(input.len(), seed), config)
}

/// Inputs up to this long are also fed split at every single byte.
const EVERY_SPLIT_MAX_LEN: usize = 2048;
/// Random chunkings tried per input by [`decode_every_way`].
const RANDOM_SEEDS: u64 = 24;

/// Feeds `input` whole, byte by byte, split in two at every point (when
/// short) and at random points for many seeds; asserts that every way gives
/// the same outcome and returns it.
pub(crate) fn decode_every_way(input: &[u8], config: &Config) -> Outcome {
    let whole = decode_whole(input, config);
    let key = whole.key();
    let show = || String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned();
    let bytewise = decode_bytewise(input, config);
    assert_eq!(
        bytewise.key(),
        key,
        "byte by byte vs whole, input {:?}",
        show()
    );
    if input.len() <= EVERY_SPLIT_MAX_LEN {
        for at in 1..input.len() {
            let split = decode_split_at(input, at, config);
            assert_eq!(
                split.key(),
                key,
                "split at {at} vs whole, input {:?}",
                show()
            );
        }
    }
    for seed in 0..RANDOM_SEEDS {
        let random = decode_random_splits(input, seed, config);
        assert_eq!(
            random.key(),
            key,
            "random seed {seed} vs whole, input {:?}",
            show()
        );
    }
    if let (true, None) = (whole.complete, &whole.error) {
        let sum: usize = whole.frames.iter().map(|(_, n)| n).sum();
        assert_eq!(sum, input.len(), "wire lengths add up to the input");
    }
    whole
}

/// [`decode_every_way`] with the default limits.
pub(crate) fn decode_every_way_default(input: &[u8]) -> Outcome {
    decode_every_way(input, &Config::default())
}

/// Encodes `frames` one after the other.
pub(crate) fn encode_all(frames: &[Frame]) -> BytesMut {
    let mut out = BytesMut::new();
    for f in frames {
        f.encode(&mut out);
    }
    out
}

/// The `Debug` form of frames, to compare them with NaN doubles in them.
pub(crate) fn debug_of(frames: &[Frame]) -> String {
    format!("{frames:?}")
}

// ---------------------------------------------------------------------------
// Random frames
// ---------------------------------------------------------------------------

/// Text for a simple string or error line: any bytes but CR and LF.
pub(crate) fn line_text() -> impl Strategy<Value = Bytes> {
    vec(
        any::<u8>().prop_filter("no CR or LF", |b| *b != b'\r' && *b != b'\n'),
        0..24,
    )
    .prop_map(Bytes::from)
}

/// A blob payload: any bytes, CR and LF included, sometimes long.
pub(crate) fn blob_bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..32),
        1 => Just(b"\r\n".to_vec()),
        1 => vec(any::<u8>(), 0..2000),
    ]
    .prop_map(Bytes::from)
}

/// The digits of a big number, with a leading `-` sometimes.
pub(crate) fn big_number_digits() -> impl Strategy<Value = Bytes> {
    (any::<bool>(), "[0-9]{1,60}")
        .prop_map(|(neg, digits)| Bytes::from(format!("{}{digits}", if neg { "-" } else { "" })))
}

/// A double: any finite value, and the infinities and NaN often.
pub(crate) fn double_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => any::<f64>(),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => (-1000i32..1000).prop_map(f64::from),
    ]
}

/// Any leaf frame (not an aggregate), of every RESP2 and RESP3 type.
pub(crate) fn leaf_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(Frame::Simple),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Frame::Integer),
        blob_bytes().prop_map(Frame::Bulk),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        Just(Frame::Null),
        double_value().prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        big_number_digits().prop_map(Frame::BigNumber),
        blob_bytes().prop_map(Frame::BulkError),
        (any::<[u8; 3]>(), blob_bytes())
            .prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ]
}

/// Any frame: leaves, and aggregates of every kind (arrays, sets, pushes,
/// maps, attributes) nested a few levels, sometimes empty; and now and then
/// a frame wrapped in up to 20 single-element aggregates, so that nesting
/// crosses the fast path's depth of 8.
pub(crate) fn frame() -> impl Strategy<Value = Frame> {
    let tree = leaf_frame().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Frame::Array),
            vec(inner.clone(), 0..4).prop_map(Frame::Set),
            vec(inner.clone(), 0..4).prop_map(Frame::Push),
            vec((inner.clone(), inner.clone()), 0..3).prop_map(Frame::Map),
            (vec((inner.clone(), inner.clone()), 0..3), inner).prop_map(|(attrs, data)| {
                Frame::Attribute {
                    attrs,
                    data: Box::new(data),
                }
            }),
        ]
    });
    prop_oneof![
        4 => tree.clone(),
        1 => (tree, vec(0u8..5, 0..20)).prop_map(|(f, kinds)| nest(f, &kinds)),
    ]
}

/// Wraps `inner` in one single-element aggregate per entry of `kinds`
/// (0 array, 1 set, 2 push, 3 map value, 4 attribute data), innermost first.
pub(crate) fn nest(inner: Frame, kinds: &[u8]) -> Frame {
    kinds.iter().fold(inner, |f, kind| match kind % 5 {
        0 => Frame::Array(vec![f]),
        1 => Frame::Set(vec![f]),
        2 => Frame::Push(vec![f]),
        3 => Frame::Map(vec![(Frame::bulk("k"), f)]),
        _ => Frame::Attribute {
            attrs: vec![(Frame::simple("a"), Frame::Integer(1))],
            data: Box::new(f),
        },
    })
}

// ---------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------

/// One frame of every type, with the awkward cases of each.
fn every_type() -> Vec<Frame> {
    vec![
        Frame::simple("OK"),
        Frame::simple(""),
        Frame::simple("hello world"),
        Frame::Error(Bytes::from_static(b"ERR unknown command")),
        Frame::Error(Bytes::new()),
        Frame::Integer(0),
        Frame::Integer(-1),
        Frame::Integer(i64::MIN),
        Frame::Integer(i64::MAX),
        Frame::bulk(""),
        Frame::bulk("hello"),
        Frame::bulk("\r\n"),
        Frame::bulk(&b"a\r\nb\0c\r"[..]),
        Frame::NullBulk,
        Frame::NullArray,
        Frame::Null,
        Frame::Array(vec![]),
        Frame::Map(vec![]),
        Frame::Set(vec![]),
        Frame::Push(vec![]),
        Frame::Double(1.5),
        Frame::Double(-0.0),
        Frame::Double(f64::INFINITY),
        Frame::Double(f64::NEG_INFINITY),
        Frame::Double(f64::NAN),
        Frame::Double(1e300),
        Frame::Double(5e-324),
        Frame::Boolean(true),
        Frame::Boolean(false),
        Frame::BigNumber(Bytes::from_static(
            b"3492890328409238509324850943850943825024385",
        )),
        Frame::BigNumber(Bytes::from_static(b"-1")),
        Frame::BulkError(Bytes::from_static(b"SYNTAX invalid syntax")),
        Frame::BulkError(Bytes::new()),
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"Some string"),
        },
        Frame::Verbatim {
            format: *b"mkd",
            text: Bytes::new(),
        },
        Frame::Array(vec![
            Frame::bulk("SET"),
            Frame::bulk("key"),
            Frame::bulk("value"),
        ]),
        Frame::Map(vec![
            (Frame::simple("first"), Frame::Integer(1)),
            (
                Frame::simple("second"),
                Frame::Array(vec![Frame::Null, Frame::NullBulk]),
            ),
        ]),
        Frame::Set(vec![
            Frame::simple("orange"),
            Frame::Boolean(true),
            Frame::Integer(100),
        ]),
        Frame::Push(vec![
            Frame::simple("pubsub"),
            Frame::simple("message"),
            Frame::simple("somechannel"),
            Frame::simple("this is the message"),
        ]),
        Frame::Attribute {
            attrs: vec![(Frame::simple("ttl"), Frame::Integer(3600))],
            data: Box::new(Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)])),
        },
        Frame::Attribute {
            attrs: vec![],
            data: Box::new(Frame::Integer(7)),
        },
        Frame::Array(vec![
            Frame::Integer(1),
            Frame::Attribute {
                attrs: vec![(Frame::simple("ttl"), Frame::Integer(3600))],
                data: Box::new(Frame::Integer(2)),
            },
            Frame::Integer(3),
        ]),
    ]
}

/// Nested frames from depth 1 to `max`, cycling through aggregate kinds.
fn nested_frames(max: usize) -> Vec<Frame> {
    (1..=max)
        .map(|depth| {
            let kinds: Vec<u8> = (0..depth).map(|i| (i % 5) as u8).collect();
            nest(Frame::bulk("leaf"), &kinds)
        })
        .collect()
}

/// A corpus of many frames of every type, deep nesting, big bulks and long
/// lines.
fn corpus() -> Vec<Frame> {
    let mut frames = every_type();
    frames.extend(nested_frames(20));
    frames.push(Frame::bulk(vec![b'x'; 100_000]));
    frames.push(Frame::Bulk(Bytes::from(
        (0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )));
    frames.push(Frame::Simple(Bytes::from(vec![b's'; 20_000])));
    frames.push(Frame::Error(Bytes::from(vec![b'e'; 20_000])));
    frames.push(Frame::Array((0..500).map(Frame::Integer).collect()));
    frames.push(Frame::Array(
        (0..200)
            .map(|i| Frame::bulk(format!("element {i}")))
            .collect(),
    ));
    frames.extend(every_type());
    frames
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn decodes_every_type_split_at_every_byte() {
    for frame in every_type() {
        let wire = frame.to_bytes();
        let out = decode_every_way_default(&wire);
        assert!(out.complete && out.error.is_none(), "{frame:?}");
        assert_eq!(debug_of(&out.frames_only()), debug_of(&[frame]));
        assert_eq!(out.frames[0].1, wire.len());
    }
}

#[test]
fn decodes_corpus_whole_bytewise_and_at_random_splits_identically() {
    let frames = corpus();
    let wire = encode_all(&frames);
    let out = decode_every_way_default(&wire);
    assert!(out.complete, "{:?}", out.error);
    assert_eq!(out.frames.len(), frames.len());
    for ((got, len), want) in out.frames.iter().zip(&frames) {
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
        assert_eq!(*len, want.encoded_len());
    }
}

#[test]
fn decodes_every_type_concatenated_split_at_every_byte() {
    let frames = every_type();
    let wire = encode_all(&frames);
    assert!(
        wire.len() <= EVERY_SPLIT_MAX_LEN,
        "keep it short: {}",
        wire.len()
    );
    let out = decode_every_way_default(&wire);
    assert!(out.complete);
    assert_eq!(debug_of(&out.frames_only()), debug_of(&frames));
}

#[test]
fn decodes_nesting_up_to_and_past_fast_path_depth_every_way() {
    for frame in nested_frames(24) {
        let wire = frame.to_bytes();
        let out = decode_every_way_default(&wire);
        assert!(out.complete, "{:?}", out.error);
        assert_eq!(debug_of(&out.frames_only()), debug_of(&[frame]));
    }
}

#[test]
fn decodes_deep_arrays_followed_by_shallow_frames_every_way() {
    // At depth 8 the fast path takes the frame, at 9 it hands it over; the
    // frame after must be unaffected either way.
    for depth in [7usize, 8, 9, 10, 64] {
        let mut wire = BytesMut::new();
        for _ in 0..depth {
            wire.extend_from_slice(b"*2\r\n");
        }
        wire.extend_from_slice(b":1\r\n");
        for _ in 0..depth {
            wire.extend_from_slice(b"$1\r\nx\r\n");
        }
        let deep_len = wire.len();
        wire.extend_from_slice(b"+after\r\n");
        let out = decode_every_way_default(&wire);
        assert!(out.complete, "depth {depth}: {:?}", out.error);
        assert_eq!(out.frames.len(), 2);
        assert_eq!(out.frames[0].1, deep_len);
        assert_eq!(out.frames[1], (Frame::simple("after"), 8));
    }
}

#[test]
fn decodes_depth_128_and_rejects_129_every_way() {
    let ok = nest(Frame::Integer(1), &[0; 128]).to_bytes();
    assert!(decode_every_way_default(&ok).complete);
    let too_deep = nest(Frame::Integer(1), &[0; 129]).to_bytes();
    let out = decode_every_way_default(&too_deep);
    assert_eq!(
        out.expect_error().kind(),
        &ErrorKind::LimitExceeded {
            what: "nesting depth",
            limit: 128,
            found: 129
        }
    );
    assert_eq!(out.expect_error().offset(), 128 * 4);
}

#[test]
fn decodes_big_bulks_at_random_splits() {
    let big = Frame::bulk(
        (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<_>>(),
    );
    let frames = vec![Frame::simple("before"), big, Frame::Integer(42)];
    let wire = encode_all(&frames);
    let whole = decode_whole(&wire, &Config::default());
    assert_eq!(whole.frames_only(), frames);
    for seed in 0..6 {
        let out = decode_random_splits(&wire, seed, &Config::default());
        assert_eq!(out.key(), whole.key(), "seed {seed}");
    }
}

#[test]
fn decodes_long_simple_strings_byte_by_byte_in_linear_time() {
    // A 300 KB line fed a byte at a time: the CR search resumes where it
    // left off, so this finishes quickly even in debug builds.
    let frames = vec![
        Frame::Simple(Bytes::from(vec![b'a'; 300_000])),
        Frame::Error(Bytes::from(vec![b'b'; 300_000])),
        Frame::BigNumber(Bytes::from(vec![b'7'; 100_000])),
    ];
    let wire = encode_all(&frames);
    let start = std::time::Instant::now();
    let out = decode_bytewise(&wire, &Config::default());
    assert_eq!(out.frames_only(), frames);
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    assert_eq!(out.key(), decode_whole(&wire, &Config::default()).key());
}

#[test]
fn reports_errors_in_the_middle_of_a_stream_identically_every_way() {
    let good = encode_all(&every_type());
    for (bad, kind, at) in [
        (&b"$3\r\nabcX\r\n"[..], ErrorKind::BadTerminator, 7),
        (b"*2\r\n:1\r\n:01\r\n", ErrorKind::BadInteger, 9),
        (b"?what\r\n", ErrorKind::BadType { byte: b'?' }, 0),
        (b"%1\r\n+k\r\n#x\r\n", ErrorKind::BadBoolean, 9),
        (b"*1\r\n,1.2.3\r\n", ErrorKind::BadDouble, 5),
        (b"*1\r\n*1\r\n(12a\r\n", ErrorKind::BadBigNumber, 9),
        (b"=5\r\ntxt;a\r\n", ErrorKind::BadVerbatim, 7),
        (b"+bare\nLF\r\n", ErrorKind::BadTerminator, 5),
        (b"*?\r\n:1\r\n.\r\n", ErrorKind::Streamed, 1),
    ] {
        let mut wire = BytesMut::from(&good[..]);
        wire.extend_from_slice(bad);
        wire.extend_from_slice(&good);
        let out = decode_every_way_default(&wire);
        assert_eq!(out.frames.len(), every_type().len(), "{bad:?}");
        let e = out.expect_error();
        assert_eq!(
            (e.kind(), e.offset()),
            (&kind, (good.len() + at) as u64),
            "{bad:?}"
        );
    }
}

#[test]
fn reports_error_in_a_deep_frame_identically_every_way() {
    // The bad bulk is 12 levels down: past the fast path's depth.
    let mut wire = BytesMut::new();
    for _ in 0..12 {
        wire.extend_from_slice(b"*1\r\n");
    }
    wire.extend_from_slice(b"$2\r\nabc\r\n");
    let out = decode_every_way_default(&wire);
    let e = out.expect_error();
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::BadTerminator, 48 + 6));
}

#[test]
fn decodes_truncated_corpus_to_the_same_frames_every_way() {
    let wire = encode_all(&every_type());
    // Every prefix: the frames before the cut, nothing after, no error.
    for len in (0..wire.len()).step_by(7) {
        let prefix = &wire[..len];
        let whole = decode_whole(prefix, &Config::default());
        assert!(whole.error.is_none());
        assert_eq!(
            decode_bytewise(prefix, &Config::default()).key(),
            whole.key()
        );
    }
}

#[test]
fn decodes_with_tight_limits_identically_every_way() {
    let config = Config::default()
        .max_bulk_len(16)
        .max_elements(3)
        .max_depth(3)
        .max_line_len(16);
    let inputs: [&[u8]; 6] = [
        b"$16\r\n0123456789abcdef\r\n$17\r\n0123456789abcdefg\r\n",
        b"*3\r\n:1\r\n:2\r\n:3\r\n*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
        b"*1\r\n*1\r\n*1\r\n:1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
        b"+0123456789abcdef\r\n+0123456789abcdefg\r\n",
        b"%3\r\n:1\r\n:1\r\n:2\r\n:2\r\n:3\r\n:3\r\n|4\r\n",
        b"|1\r\n+k\r\n+v\r\n*1\r\n*1\r\n:1\r\n|1\r\n+k\r\n+v\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
    ];
    for input in inputs {
        let out = decode_every_way(input, &config);
        assert_eq!(out.frames.len(), 1, "{:?}", String::from_utf8_lossy(input));
        assert!(
            matches!(out.expect_error().kind(), ErrorKind::LimitExceeded { .. }),
            "{out:?}"
        );
    }
}

#[test]
fn decodes_empty_aggregates_at_the_depth_limit_identically_every_way() {
    // An empty aggregate one level past `max_depth`: the fast path (whole
    // input) and the state machine (split input) must agree on whether it
    // is over the limit.
    let config = Config::default().max_depth(1);
    for input in [
        &b"*1\r\n*0\r\n"[..],
        b"*1\r\n%0\r\n",
        b"*1\r\n~0\r\n",
        b"*1\r\n>0\r\n",
        b"*1\r\n|0\r\n:1\r\n",
        b"*0\r\n",
    ] {
        decode_every_way(input, &config);
    }
    for input in [&b"*0\r\n"[..], b"%0\r\n", b"|0\r\n:1\r\n"] {
        decode_every_way(input, &Config::default().max_depth(0));
    }
}

#[test]
fn reports_overlong_lines_identically_every_way() {
    // The line is well over the limit: the error must not depend on how
    // much of it had arrived when the decoder noticed.
    let config = Config::default().max_line_len(8);
    for input in [
        &b"+0123456789abcdef\r\n"[..],
        b"-0123456789abcdef",
        b",1234567890123\r\n",
        b"+0123456789abcdef\rX",
    ] {
        let out = decode_every_way(input, &config);
        assert!(
            matches!(
                out.expect_error().kind(),
                ErrorKind::LimitExceeded {
                    what: "line length",
                    ..
                }
            ),
            "{out:?}"
        );
        assert_eq!(out.expect_error().offset(), 1);
    }
}

#[test]
fn reports_overlong_line_with_a_bare_lf_identically_every_way() {
    // Whole, the decoder meets the LF before it compares the length with
    // the limit; in pieces, the limit is passed before the LF arrives.
    let config = Config::default().max_line_len(8);
    for input in [
        &b"+0123456789abcdef\n"[..],
        b"-0123456789\n",
        b"(1234567890\n",
    ] {
        let out = decode_every_way(input, &config);
        assert!(
            matches!(
                out.expect_error().kind(),
                ErrorKind::LimitExceeded {
                    what: "line length",
                    ..
                }
            ),
            "{out:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decodes_random_frames_concatenated_and_split_randomly(
        frames in vec(frame(), 1..8),
        seed in any::<u64>(),
    ) {
        let wire = encode_all(&frames);
        let whole = decode_whole(&wire, &Config::default());
        prop_assert!(whole.complete, "{:?}", whole.error);
        prop_assert_eq!(debug_of(&whole.frames_only()), debug_of(&frames));
        for ((_, len), f) in whole.frames.iter().zip(&frames) {
            prop_assert_eq!(*len, f.encoded_len());
        }
        prop_assert_eq!(decode_random_splits(&wire, seed, &Config::default()).key(), whole.key());
        prop_assert_eq!(decode_bytewise(&wire, &Config::default()).key(), whole.key());
    }

    #[test]
    fn decodes_mutated_frames_identically_whole_and_split(
        frames in vec(frame(), 1..4),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        seed in any::<u64>(),
    ) {
        // Corrupt a few bytes of a valid stream: whatever the result (frames,
        // an error, a need for more), the fast path and the state machine
        // must agree on it.
        let mut wire = encode_all(&frames).to_vec();
        for (at, byte) in edits {
            let i = at.index(wire.len());
            wire[i] = byte;
        }
        let whole = decode_whole(&wire, &Config::default());
        prop_assert_eq!(decode_bytewise(&wire, &Config::default()).key(), whole.key());
        prop_assert_eq!(decode_random_splits(&wire, seed, &Config::default()).key(), whole.key());
    }

    #[test]
    fn decodes_resp_shaped_garbage_identically_whole_and_split(
        wire in vec(prop::sample::select(&b"*$%~>|!=+-:,(#_\r\n0123-?tfx."[..]), 0..64),
        seed in any::<u64>(),
    ) {
        let whole = decode_whole(&wire, &Config::default());
        prop_assert_eq!(decode_bytewise(&wire, &Config::default()).key(), whole.key());
        prop_assert_eq!(decode_random_splits(&wire, seed, &Config::default()).key(), whole.key());
    }
}

/// Random tight limits, so that every limit is hit now and then.
fn tight_config() -> impl Strategy<Value = Config> {
    (0usize..64, 0usize..32, 0usize..6, 0usize..10).prop_map(|(bulk, line, elements, depth)| {
        Config::default()
            .max_bulk_len(bulk)
            .max_line_len(line)
            .max_elements(elements)
            .max_depth(depth)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decodes_random_frames_under_tight_limits_identically_whole_and_split(
        frames in vec(frame(), 1..6),
        config in tight_config(),
        seed in any::<u64>(),
    ) {
        let wire = encode_all(&frames);
        let whole = decode_whole(&wire, &config);
        prop_assert_eq!(decode_bytewise(&wire, &config).key(), whole.key());
        prop_assert_eq!(decode_random_splits(&wire, seed, &config).key(), whole.key());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decodes_mutated_frames_under_tight_limits_identically_whole_and_split(
        frames in vec(frame(), 1..4),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        config in tight_config(),
        seed in any::<u64>(),
    ) {
        let mut wire = encode_all(&frames).to_vec();
        for (at, byte) in edits {
            let i = at.index(wire.len());
            wire[i] = byte;
        }
        let whole = decode_whole(&wire, &config);
        prop_assert_eq!(decode_bytewise(&wire, &config).key(), whole.key());
        prop_assert_eq!(decode_random_splits(&wire, seed, &config).key(), whole.key());
    }
}
