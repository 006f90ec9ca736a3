//! The checks behind the `resp_*` fuzz targets.
//!
//! Each target is a thin `fuzz_target!` around one function here, and the
//! `ferry-resp` test suite includes this file
//! (`crates/resp/tests/it/fuzz_seeds.rs`) to replay every file under
//! `fuzz/corpus/resp_*/` through the same function, so seeds and crash files
//! are ordinary regression tests. It therefore depends only on `ferry_resp`
//! and `bytes`, and names nothing relative to the crate it is compiled in.

use bytes::BytesMut;
use ferry_resp::{Command, Config, Decoder, Error, ErrorKind, Frame, RawCommand};

/// Longest bulk string the fuzz decoder accepts: small, so that limits are
/// reachable from small inputs.
const FUZZ_MAX_BULK_LEN_BYTES: usize = 1024 * 1024;
/// Longest line the fuzz decoder accepts.
const FUZZ_MAX_LINE_LEN_BYTES: usize = 1024 * 1024;
/// Most elements per aggregate the fuzz decoder accepts.
const FUZZ_MAX_ELEMENTS: usize = 4096;
/// Deepest nesting the fuzz decoder accepts.
const FUZZ_MAX_DEPTH: usize = 32;

/// Tiny limits, so that every limit (lines included) is reachable from the
/// short inputs a fuzzer makes: bulk 32 bytes, line 16 bytes, 8 elements,
/// depth 4.
fn tiny_config() -> Config {
    Config::default()
        .max_bulk_len(32)
        .max_line_len(16)
        .max_elements(8)
        .max_depth(4)
}

/// The small limits of `resp_roundtrip` and of `resp_decode`'s first pass.
fn config() -> Config {
    Config::default()
        .max_bulk_len(FUZZ_MAX_BULK_LEN_BYTES)
        .max_line_len(FUZZ_MAX_LINE_LEN_BYTES)
        .max_elements(FUZZ_MAX_ELEMENTS)
        .max_depth(FUZZ_MAX_DEPTH)
}

/// What one decoder run over the whole input produced.
#[derive(Debug)]
struct Run {
    /// Each frame's `Debug` text (so NaN equals NaN and `-0.0` differs from
    /// `0.0`) and its wire length.
    frames: Vec<(String, usize)>,
    /// The error that stopped the run, if any.
    error: Option<Error>,
}

/// Decodes `input` fed in the pieces that `cuts` (increasing, each at most
/// `input.len()`) mark, checks the invariants that hold for any feeding, and
/// returns what was decoded. `step_by_byte` also checks that no frame
/// completes before the bytes [`Decoder::needed`] asked for have arrived
/// (only meaningful when each piece is one byte).
fn decode(
    input: &[u8],
    config: &Config,
    cuts: impl IntoIterator<Item = usize>,
    step_by_byte: bool,
) -> Run {
    let mut decoder = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut wire_total = 0usize;
    let mut fed = 0usize;
    // Bytes still owed since the last "need more", by `needed()`.
    let mut owed = 0usize;
    let mut error = None;
    'feed: for cut in cuts.into_iter().chain(std::iter::once(input.len())) {
        if cut <= fed {
            continue;
        }
        buf.extend_from_slice(&input[fed..cut]);
        owed = owed.saturating_sub(cut - fed);
        fed = cut;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some((frame, wire_len))) => {
                    assert!(wire_len > 0, "a frame of wire length 0: {frame:?}");
                    if step_by_byte {
                        assert_eq!(
                            owed, 0,
                            "frame {frame:?} completed at byte {fed} while needed() still owed {owed}"
                        );
                    }
                    wire_total += wire_len;
                    frames.push((format!("{frame:?}"), wire_len));
                    assert!(frames.len() <= input.len(), "more frames than input bytes");
                }
                Ok(None) => {
                    owed = decoder.needed();
                    assert!(owed >= 1, "needed() is 0");
                    break;
                }
                Err(e) => {
                    // The decoder stays failed with the same error.
                    assert_eq!(
                        decoder.decode(&mut buf).err().as_ref(),
                        Some(&e),
                        "a failed decoder changed its error"
                    );
                    assert!(
                        e.offset() >= wire_total as u64 && e.offset() < fed as u64,
                        "error offset {} outside the undecoded bytes {wire_total}..{fed}: {e}",
                        e.offset()
                    );
                    error = Some(e);
                    break 'feed;
                }
            }
        }
        // Every byte fed is in a frame, taken into an unfinished one, or
        // still in the buffer.
        let taken = usize::try_from(decoder.offset()).unwrap_or(usize::MAX);
        assert_eq!(
            taken + buf.len(),
            fed,
            "offset {taken} + buffered {} != fed {fed}",
            buf.len()
        );
        assert!(
            taken >= wire_total,
            "offset {taken} < wire total {wire_total}"
        );
        if decoder.is_idle() {
            assert_eq!(
                taken, wire_total,
                "idle decoder holds {taken} - {wire_total} bytes"
            );
        }
    }
    if error.is_none() {
        assert_eq!(fed, input.len());
        let pending = usize::try_from(decoder.offset()).unwrap_or(usize::MAX) - wire_total;
        assert_eq!(
            wire_total + pending + buf.len(),
            input.len(),
            "wire lengths + bytes of an unfinished frame + buffered != input length"
        );
    }
    Run { frames, error }
}

/// Asserts that two runs over the same input agree.
fn assert_same(whole: &Run, other: &Run, how: &str) {
    assert_eq!(
        whole.frames.len(),
        other.frames.len(),
        "frame count differs fed {how}: whole {whole:?}, {how} {other:?}"
    );
    for (i, (a, b)) in whole.frames.iter().zip(&other.frames).enumerate() {
        assert_eq!(a, b, "frame {i} (or its wire length) differs fed {how}");
    }
    assert_eq!(whole.error, other.error, "final error differs fed {how}");
}

/// A split point chosen by the input's last two bytes.
fn split_point(data: &[u8]) -> usize {
    let n = data.len();
    if n < 2 {
        return n / 2;
    }
    usize::from(u16::from_le_bytes([data[n - 2], data[n - 1]])) % (n + 1)
}

/// Cuts into pieces of 1 to 16 bytes, each size taken from the input's bytes
/// (mixed, so that a run of equal bytes still gives varied pieces).
fn data_cuts(data: &[u8]) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut at = 0usize;
    let mut i = 0usize;
    while at < data.len() {
        let b = data[(i.wrapping_mul(7) + 3) % data.len()];
        at += usize::from(b.rotate_left((i % 8) as u32) ^ (i as u8)) % 16 + 1;
        cuts.push(at.min(data.len()));
        i += 1;
    }
    cuts
}

/// Commands (each with its wire length) and the error, as kind and offset,
/// that stopped decoding.
type Commands = (Vec<(RawCommand, usize)>, Option<(ErrorKind, u64)>);

/// `decode_command` over `input` fed in the pieces `cuts` mark.
fn decode_commands(
    input: &[u8],
    config: &Config,
    cuts: impl IntoIterator<Item = usize>,
) -> Commands {
    let mut decoder = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0usize;
    for cut in cuts.into_iter().chain(std::iter::once(input.len())) {
        if cut <= fed {
            continue;
        }
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        loop {
            match decoder.decode_command(&mut buf) {
                Ok(Some((cmd, len))) => {
                    assert_eq!(cmd.wire().len(), len, "a command's wire form is its bytes");
                    assert_eq!(cmd.parts().count(), cmd.arity());
                    out.push((cmd, len));
                }
                Ok(None) => break,
                Err(e) => return (out, Some((e.kind().clone(), e.offset()))),
            }
        }
    }
    (out, None)
}

/// What `decode` then `Command::try_from` make of `input` fed whole: what
/// `decode_command` must make of it.
fn command_reference(input: &[u8], config: &Config) -> Commands {
    let mut decoder = Decoder::with_config(config.clone());
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        let at = decoder.offset();
        match decoder.decode(&mut buf) {
            Ok(Some((frame, len))) => match Command::try_from(frame) {
                Ok(cmd) => out.push((RawCommand::from(&cmd), len)),
                Err(_) => return (out, Some((ErrorKind::NotACommand, at))),
            },
            Ok(None) => return (out, None),
            Err(e) => return (out, Some((e.kind().clone(), e.offset()))),
        }
    }
}

/// Fuzz target `resp_decode`: the input is a RESP byte stream, decoded with
/// small limits (bulk 1 MiB, line 1 MiB, 4096 elements, depth 32), then
/// again with tiny ones (bulk 32, line 16, 8 elements, depth 4), each time
/// whole, byte by byte, in two pieces cut where its last two bytes say, and
/// in pieces of 1 to 16 bytes its bytes choose. All runs under one config
/// must give the same frames, wire lengths and final error (kind and
/// offset); each run accounts for every byte (wire lengths, plus bytes of an
/// unfinished frame, plus bytes still buffered, equal the input's length);
/// a failed decoder keeps its error; no frame completes before the bytes
/// `needed()` asked for have arrived; nothing panics. `decode_command`,
/// fed whole, byte by byte and in the same pieces, must give the commands
/// and the error that `decode` then `Command::try_from` give.
pub fn resp_decode(data: &[u8]) {
    for config in [config(), tiny_config()] {
        let whole = decode(data, &config, [], false);
        let by_byte = decode(data, &config, 1..data.len(), true);
        assert_same(&whole, &by_byte, "byte by byte");
        let at = split_point(data);
        let split = decode(data, &config, [at], false);
        assert_same(&whole, &split, &format!("split at {at}"));
        let cuts = data_cuts(data);
        let pieces = decode(data, &config, cuts.iter().copied(), false);
        assert_same(&whole, &pieces, &format!("in pieces cut at {cuts:?}"));
        let expected = command_reference(data, &config);
        assert_eq!(
            decode_commands(data, &config, []),
            expected,
            "commands, whole"
        );
        assert_eq!(
            decode_commands(data, &config, 1..data.len()),
            expected,
            "commands, byte by byte"
        );
        assert_eq!(
            decode_commands(data, &config, cuts),
            expected,
            "commands, in pieces"
        );
    }
}

/// True when the frame holds a double anywhere: doubles are the one type
/// whose wire form is not canonical (`,1.50` and `,1e0` read as `1.5` and
/// `1`, written back as `1.5` and `1.0`).
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

/// Fuzz target `resp_roundtrip`: every frame decoded from the input (with
/// the small limits of `resp_decode`, fed whole) is encoded; the encoding is
/// exactly `encoded_len()` bytes, decodes (whole and in two pieces) to one
/// frame whose wire length is the encoding's length, and that frame encodes
/// to the same bytes again. Encodings are compared, not frames, because NaN
/// is not equal to itself. A frame without doubles must encode to exactly
/// the bytes it was decoded from.
pub fn resp_roundtrip(data: &[u8]) {
    let mut decoder = Decoder::with_config(config());
    let mut buf = BytesMut::from(data);
    let mut at = 0usize;
    while let Ok(Some((frame, wire_len))) = decoder.decode(&mut buf) {
        let first = frame.to_bytes();
        assert_eq!(
            first.len(),
            frame.encoded_len(),
            "encoded_len() disagrees with encode for {frame:?}"
        );
        let mut into = BytesMut::from(&b"prefix"[..]);
        frame.encode(&mut into);
        assert_eq!(&into[6..], &first[..], "encode and to_bytes differ");
        if !has_double(&frame) {
            assert_eq!(
                &first[..],
                &data[at..at + wire_len],
                "frame without doubles does not encode to its wire bytes: {frame:?}"
            );
        }
        at += wire_len;
        for cut in [first.len(), split_point(&first)] {
            let mut again = Decoder::new();
            let mut buf2 = BytesMut::from(&first[..cut]);
            let mut decoded = match again.decode(&mut buf2) {
                Ok(r) => r,
                Err(e) => panic!("re-decoding {first:?} failed: {e}"),
            };
            if decoded.is_none() {
                buf2.extend_from_slice(&first[cut..]);
                decoded = match again.decode(&mut buf2) {
                    Ok(r) => r,
                    Err(e) => panic!("re-decoding {first:?} in two pieces failed: {e}"),
                };
            }
            let Some((frame2, wire2)) = decoded else {
                panic!("the encoding {first:?} of {frame:?} is not one whole frame");
            };
            assert!(
                buf2.is_empty() && again.is_idle(),
                "the encoding {first:?} of {frame:?} is more than one frame"
            );
            assert_eq!(wire2, first.len(), "wire length of the re-decoded frame");
            let second = frame2.to_bytes();
            assert_eq!(first, second, "encoding changed after a round trip");
            assert_eq!(second.len(), frame2.encoded_len());
        }
    }
}
