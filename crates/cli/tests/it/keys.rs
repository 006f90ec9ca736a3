//! `--format keys` key quoting.

use ferry_cli::output::keys::write_key;

fn key(k: &[u8]) -> String {
    let mut out = Vec::new();
    write_key(&mut out, k);
    String::from_utf8(out).unwrap()
}

#[test]
fn printable_ascii_keys_are_written_as_they_are() {
    assert_eq!(key(b"user:42"), "user:42");
    assert_eq!(key(b"with space"), "with space");
    assert_eq!(key(b"back\\slash"), "back\\slash");
    assert_eq!(key(b"quote\"inside"), "quote\"inside");
}

#[test]
fn other_keys_are_quoted_like_redis_cli() {
    assert_eq!(key(b""), r#""""#);
    assert_eq!(key(b"\"starts"), r#""\"starts""#);
    assert_eq!(key(b"tab\there"), r#""tab\there""#);
    assert_eq!(
        key(b"db0:bin:\x00key\r\n\xff\xfe"),
        r#""db0:bin:\x00key\r\n\xff\xfe""#
    );
    assert_eq!(key(b"\x07\x08\\\""), r#""\a\b\\\"""#);
    assert_eq!(key("café".as_bytes()), r#""caf\xc3\xa9""#);
}

#[test]
fn quoted_keys_never_contain_tabs_or_newlines() {
    let all: Vec<u8> = (0..=255).collect();
    let k = key(&all);
    assert!(k.starts_with('"') && k.ends_with('"'));
    assert!(k.bytes().all(|b| (0x20..0x7f).contains(&b)));
}
