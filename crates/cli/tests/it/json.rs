//! JSON primitives: byte strings (UTF-8 or base64), escaping, scores, UTF-8
//! checks across pieces.

use ferry_cli::output::json::{Utf8Validator, write_bytes, write_score, write_str};
use serde_json::Value;

fn bytes_json(b: &[u8]) -> String {
    let mut out = Vec::new();
    write_bytes(&mut out, b);
    String::from_utf8(out).unwrap()
}

fn score_json(s: f64) -> String {
    let mut out = Vec::new();
    write_score(&mut out, s);
    String::from_utf8(out).unwrap()
}

#[test]
fn valid_utf8_is_a_json_string() {
    assert_eq!(bytes_json(b"hello"), r#""hello""#);
    assert_eq!(bytes_json(b""), r#""""#);
    assert_eq!(bytes_json("café ☕ 🚢".as_bytes()), "\"café ☕ 🚢\"");
}

#[test]
fn invalid_utf8_is_a_base64_object() {
    assert_eq!(bytes_json(b"\xff\xfe"), r#"{"base64":"//4="}"#);
    // A lone continuation byte, a truncated sequence, an overlong encoding.
    for b in [&b"\x80"[..], b"caf\xc3", b"\xc0\xaf", b"ok\xed\xa0\x80"] {
        let v: Value = serde_json::from_str(&bytes_json(b)).unwrap();
        assert!(v.get("base64").is_some(), "{v}");
        assert_eq!(crate::support::bytes_of(&v), b);
    }
}

#[test]
fn control_characters_quotes_and_backslashes_are_escaped() {
    let all: Vec<u8> = (0u8..0x80).collect();
    let text = bytes_json(&all);
    assert!(text.is_ascii());
    assert!(
        !text.bytes().any(|b| b < 0x20),
        "raw control byte in {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_str().unwrap().as_bytes(), &all[..]);
    assert_eq!(
        bytes_json(b"a\"b\\c\nd\re\tf\x00"),
        r#""a\"b\\c\nd\re\tf\u0000""#
    );
    assert_eq!(bytes_json(b"\x7f\x1f"), r#""\u007f\u001f""#);
}

#[test]
fn strings_with_nul_and_crlf_round_trip() {
    let mut out = Vec::new();
    write_str(&mut out, "\0\r\n\u{2028}end");
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v.as_str().unwrap(), "\0\r\n\u{2028}end");
}

#[test]
fn scores_are_shortest_round_trip_numbers() {
    assert_eq!(score_json(1.0), "1.0");
    assert_eq!(score_json(-0.5), "-0.5");
    assert_eq!(score_json(0.0), "0.0");
    assert_eq!(score_json(-0.0), "-0.0");
    assert_eq!(score_json(1e-300), "1e-300");
    assert_eq!(score_json(0.1), "0.1");
    assert_eq!(score_json(123456789012345680.0), "1.2345678901234568e17");
    for s in [
        0.1,
        1.0 / 3.0,
        -998765.1507219768,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        9007199254740993.0,
        -2.5e-8,
    ] {
        let text = score_json(s);
        let back: f64 = text.parse().unwrap();
        assert_eq!(back.to_bits(), s.to_bits(), "{s} printed as {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_f64().unwrap().to_bits(), s.to_bits(), "{text}");
    }
}

#[test]
fn non_finite_scores_are_strings() {
    assert_eq!(score_json(f64::INFINITY), r#""inf""#);
    assert_eq!(score_json(f64::NEG_INFINITY), r#""-inf""#);
    assert_eq!(score_json(f64::NAN), r#""nan""#);
}

/// Byte strings that are valid UTF-8 or not in every way that matters at a
/// piece boundary: multi-byte characters, truncated and overlong sequences,
/// surrogates, stray continuation bytes, a bad byte at either end.
fn utf8_samples() -> Vec<Vec<u8>> {
    let mut samples: Vec<Vec<u8>> = [
        &b""[..],
        b"plain ascii",
        "é€😀 mixed ✓ text 𝄞".as_bytes(),
        b"\xff",
        b"caf\xc3",
        b"\xf0\x9f\x98",
        b"\xf0\x9f\x98\x80\x80",
        b"\x80abc",
        b"ab\xc0\xafcd",
        b"ok\xed\xa0\x80ok",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\xe2\x82\xac\xe2",
        b"\xc3\xa9\xff",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let text = "a€😀\"\\\n\u{1}é".repeat(40);
    samples.push(text.clone().into_bytes());
    let mut late = text.into_bytes();
    late.push(0xff);
    samples.push(late);
    samples
}

fn validate(pieces: &[&[u8]]) -> bool {
    let mut v = Utf8Validator::default();
    for piece in pieces {
        v.feed(piece);
    }
    v.is_valid()
}

#[test]
fn utf8_validator_agrees_with_std_whole_byte_by_byte_and_at_every_split() {
    for s in utf8_samples() {
        let want = std::str::from_utf8(&s).is_ok();
        let shown = s.escape_ascii().to_string();
        assert_eq!(validate(&[&s]), want, "whole: {shown}");
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(validate(&bytes), want, "byte by byte: {shown}");
        for i in 0..=s.len() {
            assert_eq!(validate(&[&s[..i], &s[i..]]), want, "split at {i}: {shown}");
            for j in i..=s.len().min(i + 6) {
                let pieces = [&s[..i], &s[i..j], &[][..], &s[j..]];
                assert_eq!(validate(&pieces), want, "split at {i}, {j}: {shown}");
            }
        }
    }
}
