//! JSON primitives: byte strings (UTF-8 or base64), escaping, scores.

use ferry_cli::output::json::{write_bytes, write_score, write_str};
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
