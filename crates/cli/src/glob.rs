//! Redis glob patterns (`KEYS`, `SCAN MATCH`), matched against raw key bytes.
//!
//! Same semantics as Redis's `stringmatchlen` (case-sensitive):
//!
//! | pattern | matches |
//! | --- | --- |
//! | `*` | any run of bytes, also an empty one |
//! | `?` | exactly one byte |
//! | `[abc]`, `[a-z]` | one byte of the set or range (a reversed range `[z-a]` works too) |
//! | `[^abc]` | one byte not in the set |
//! | `\x` | the byte `x` itself, also inside `[...]` |
//!
//! Like Redis, an unterminated `[` class ends at the end of the pattern, a
//! trailing `\` matches a backslash, and range bounds compare as C `char`
//! (signed), so a range with a byte >= 0x80 at one end behaves exactly as on the
//! server. As `SCAN MATCH *` and `KEYS *` do, the pattern `*` matches every key,
//! the empty key included.

/// Recursion limit, as in Redis: patterns with more nested `*` never match.
const MAX_NESTING: u32 = 1000;

/// A compiled (well, kept) Redis glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<u8>,
}

impl Glob {
    /// Keeps `pattern` for matching; every byte string is a valid pattern.
    pub fn new(pattern: impl Into<Vec<u8>>) -> Self {
        Glob {
            pattern: pattern.into(),
        }
    }

    /// The pattern's bytes.
    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// True when `key` matches the pattern.
    pub fn is_match(&self, key: &[u8]) -> bool {
        matches(&self.pattern, key)
    }
}

/// True when `string` matches the Redis glob `pattern`.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    if pattern == b"*" {
        // Redis short-cuts the match-all pattern before calling the matcher.
        return true;
    }
    let mut skip_longer = false;
    match_from(pattern, string, &mut skip_longer, 0)
}

fn match_from(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while let (Some(&pc), Some(&sc)) = (p.first(), s.first()) {
        match pc {
            b'*' => {
                while p.get(1) == Some(&b'*') {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_from(&p[1..], s, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matches nowhere in the rest of the
                // string: an earlier `*` taking more bytes cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let negate = p.first() == Some(&b'^');
                if negate {
                    p = &p[1..];
                }
                let mut matched = false;
                // `p` ends on the closing `]`, or is empty for an unterminated class.
                loop {
                    match p {
                        [b'\\', escaped, ..] => {
                            p = &p[1..];
                            if *escaped == sc {
                                matched = true;
                            }
                        }
                        [b']', ..] | [] => break,
                        [start, b'-', end, ..] => {
                            // Signed, like C's `char` in Redis.
                            let (mut lo, mut hi) = (*start as i8, *end as i8);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            let c = sc as i8;
                            if c >= lo && c <= hi {
                                matched = true;
                            }
                            p = &p[2..];
                        }
                        [c, ..] => {
                            if *c == sc {
                                matched = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if matched == negate {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if p[0] != sc {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if pc != sc {
                    return false;
                }
                s = &s[1..];
            }
        }
        // Step over the pattern byte just used (the `]` of a class); an
        // unterminated class has already used up the pattern.
        if !p.is_empty() {
            p = &p[1..];
        }
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}
