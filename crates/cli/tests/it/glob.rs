//! The Redis glob matcher, against the behaviour of Redis's `stringmatchlen`.

use ferry_cli::glob::{Glob, matches};

#[track_caller]
fn yes(pattern: &[u8], s: &[u8]) {
    assert!(
        matches(pattern, s),
        "{:?} should match {:?}",
        pattern.escape_ascii().to_string(),
        s.escape_ascii().to_string()
    );
}

#[track_caller]
fn no(pattern: &[u8], s: &[u8]) {
    assert!(
        !matches(pattern, s),
        "{:?} should not match {:?}",
        pattern.escape_ascii().to_string(),
        s.escape_ascii().to_string()
    );
}

#[test]
fn literal_patterns_match_only_themselves() {
    yes(b"user:1", b"user:1");
    no(b"user:1", b"user:10");
    no(b"user:10", b"user:1");
    no(b"User:1", b"user:1");
    yes(b"", b"");
    no(b"", b"a");
    no(b"a", b"");
}

#[test]
fn star_matches_any_run_including_empty() {
    yes(b"*", b"");
    yes(b"*", b"anything at all");
    yes(b"user:*", b"user:");
    yes(b"user:*", b"user:42:name");
    yes(b"*:name", b"user:42:name");
    yes(b"u*r*e", b"user:42:name");
    yes(b"a**b", b"ab");
    yes(b"a*", b"a");
    no(b"a*", b"");
    no(b"user:*", b"users:1");
    no(b"*x", b"abc");
}

#[test]
fn question_mark_matches_exactly_one_byte() {
    yes(b"h?llo", b"hello");
    yes(b"h?llo", b"h\xffllo");
    no(b"h?llo", b"hllo");
    no(b"h?llo", b"heello");
    yes(b"???", b"abc");
    no(b"???", b"ab");
}

#[test]
fn classes_sets_ranges_and_negation() {
    yes(b"h[ae]llo", b"hello");
    yes(b"h[ae]llo", b"hallo");
    no(b"h[ae]llo", b"hillo");
    yes(b"h[^e]llo", b"hallo");
    no(b"h[^e]llo", b"hello");
    yes(b"h[a-b]llo", b"hbllo");
    no(b"h[a-b]llo", b"hcllo");
    yes(b"key[0-9]", b"key7");
    no(b"key[0-9]", b"keyx");
    yes(b"key[^0-9]", b"keyx");
    // A reversed range works like the forward one.
    yes(b"key[9-0]", b"key5");
    // Several items in one class.
    yes(b"[a-cx-z_]", b"y");
    yes(b"[a-cx-z_]", b"_");
    no(b"[a-cx-z_]", b"m");
    // A class matches exactly one byte.
    no(b"[abc]", b"");
    no(b"[abc]", b"ab");
}

#[test]
fn backslash_escapes_outside_and_inside_classes() {
    yes(b"a\\*b", b"a*b");
    no(b"a\\*b", b"axb");
    yes(b"a\\?b", b"a?b");
    no(b"a\\?b", b"axb");
    yes(b"\\[x]", b"[x]");
    yes(b"[\\]]", b"]");
    yes(b"[\\-]", b"-");
    no(b"[\\-]", b"a");
    yes(b"[a\\^]", b"^");
    // A trailing backslash matches a backslash.
    yes(b"a\\", b"a\\");
    no(b"a\\", b"a");
}

#[test]
fn unterminated_class_ends_at_the_end_of_the_pattern() {
    yes(b"[abc", b"a");
    yes(b"x[abc", b"xc");
    no(b"[abc", b"d");
    yes(b"[^abc", b"d");
    // `[a-` is a class of `a` and `-` (a range needs a byte after the dash).
    yes(b"[a-", b"-");
    yes(b"[a-", b"a");
    no(b"[a-", b"b");
    no(b"[", b"[");
}

#[test]
fn matches_raw_bytes_including_nul_and_high_bytes() {
    yes(b"db0:bin:*", b"db0:bin:\x00key\r\n\xff\xfe");
    yes(b"*\x00*", b"a\x00b");
    no(b"*\x00*", b"ab");
    yes(b"\xff?", b"\xff\x00");
    yes(b"[\xfe\xff]", b"\xfe");
}

#[test]
fn range_bounds_compare_as_signed_chars_like_redis() {
    // In Redis `[\x01-\xff]` is the range -1..=1 (C `char` is signed): it
    // matches 0xff, 0x00 and 0x01 but not 'A'.
    yes(b"[\x01-\xff]", b"\xff");
    yes(b"[\x01-\xff]", b"\x00");
    no(b"[\x01-\xff]", b"A");
    yes(b"[\x80-\xff]", b"\x90");
    no(b"[\x80-\xff]", b"A");
}

#[test]
fn only_a_single_star_matches_the_empty_key() {
    // Redis short-cuts `*` before matching; `**` goes through the matcher,
    // which needs a byte to start.
    yes(b"*", b"");
    no(b"**", b"");
    no(b"?", b"");
}

#[test]
fn many_stars_on_a_long_near_miss_finish_quickly() {
    let pattern = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    let subject = vec![b'a'; 5000];
    let start = std::time::Instant::now();
    no(pattern, &subject);
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn glob_keeps_its_pattern() {
    let glob = Glob::new(b"user:*".to_vec());
    assert_eq!(glob.pattern(), b"user:*");
    assert!(glob.is_match(b"user:1"));
    assert!(!glob.is_match(b"session:1"));
}
