//! The fast path: a frame that is already whole in the buffer.
//!
//! Most frames arrive whole (replies to a pipeline, commands of a
//! replication stream). For them, `scan` checks the frame and finds its
//! length without building anything; the frame is then split off the buffer
//! once and `build` makes the `Frame` from that one `Bytes` with zero-copy
//! slices. Anything `scan` is not sure of (a frame not yet whole, invalid
//! input, nesting deeper than [`FAST_DEPTH`]) goes to the resumable state
//! machine, which owns all error reporting. Both read the same grammar with
//! the same checks; the chunk-split tests and fuzz targets hold them to it.

use crate::Config;
use crate::frame::Frame;
use bytes::Bytes;

/// Deepest nesting the fast path takes; deeper frames use the state machine.
const FAST_DEPTH: usize = 8;

/// One token `scan` read, so that `build` need not read it again.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Token {
    /// Index of the type byte.
    at: usize,
    /// The length or integer (a double's bits for `,`); unused otherwise.
    n: i64,
    /// Index of a blob's or a line's first byte.
    start: usize,
    /// Index of a line's CR.
    end: usize,
}

/// Why `scan` gave up.
#[derive(Debug)]
pub(crate) enum Bail {
    /// The frame is not whole yet.
    Incomplete,
    /// Invalid, over a limit, or too deep: the state machine decides.
    Slow,
}

/// Checks the frame at the front of `buf` and returns its wire length.
/// Each token read is appended to `tokens` (cleared first).
#[inline(never)]
pub(crate) fn scan(buf: &[u8], config: &Config, tokens: &mut Vec<Token>) -> Result<usize, Bail> {
    tokens.clear();
    let mut pos = 0;
    // Values still expected by each enclosing aggregate, and by the
    // innermost one (the top level expects one frame).
    let mut outer = [0usize; FAST_DEPTH];
    let mut depth = 0;
    let mut left = 1usize;
    loop {
        let ty = *buf.get(pos).ok_or(Bail::Incomplete)?;
        let at = pos;
        match ty {
            b'$' | b'!' | b'=' => {
                let (n, start) = number(buf, pos + 1)?;
                tokens.push(Token {
                    at,
                    n,
                    start,
                    end: 0,
                });
                if n == -1 && ty == b'$' {
                    pos = start;
                } else {
                    if n < 0 || n as u64 > config.max_bulk_len as u64 || (ty == b'=' && n < 4) {
                        return Err(Bail::Slow);
                    }
                    let end = start + n as usize;
                    if buf.len() < end + 2 {
                        return Err(Bail::Incomplete);
                    }
                    if buf[end] != b'\r' || buf[end + 1] != b'\n' {
                        return Err(Bail::Slow);
                    }
                    if ty == b'=' && buf[start + 3] != b':' {
                        return Err(Bail::Slow);
                    }
                    pos = end + 2;
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let (n, start) = number(buf, pos + 1)?;
                tokens.push(Token {
                    at,
                    n,
                    start,
                    end: 0,
                });
                pos = start;
                if !(n == -1 && ty == b'*') {
                    if n < 0 || n as u64 > config.max_elements as u64 {
                        return Err(Bail::Slow);
                    }
                    let n = n as usize;
                    let values = match ty {
                        b'%' => 2 * n,
                        // The attribute's pairs, then the annotated frame.
                        b'|' => 2 * n + 1,
                        _ => n,
                    };
                    if values > 0 {
                        if depth == FAST_DEPTH || depth + 1 > config.max_depth {
                            return Err(Bail::Slow);
                        }
                        outer[depth] = left - 1;
                        depth += 1;
                        left = values;
                        continue;
                    }
                }
            }
            b':' => {
                let (n, next) = number(buf, pos + 1)?;
                tokens.push(Token {
                    at,
                    n,
                    start: 0,
                    end: 0,
                });
                pos = next;
            }
            b'+' | b'-' | b',' | b'(' => {
                let cr = line(buf, pos + 1, config)?;
                let text = &buf[pos + 1..cr];
                let mut n = 0;
                match ty {
                    b',' => n = parse_double(text).ok_or(Bail::Slow)?.to_bits() as i64,
                    b'(' if !is_big_number(text) => return Err(Bail::Slow),
                    _ => {}
                }
                tokens.push(Token {
                    at,
                    n,
                    start: pos + 1,
                    end: cr,
                });
                pos = cr + 2;
            }
            b'_' => {
                pos = fixed(buf, pos, b"_\r\n")?;
                tokens.push(Token {
                    at,
                    ..Token::default()
                });
            }
            b'#' => {
                pos = match buf.get(pos + 1) {
                    Some(b't') => fixed(buf, pos, b"#t\r\n")?,
                    Some(b'f') => fixed(buf, pos, b"#f\r\n")?,
                    Some(_) => return Err(Bail::Slow),
                    None => return Err(Bail::Incomplete),
                };
                tokens.push(Token {
                    at,
                    ..Token::default()
                });
            }
            _ => return Err(Bail::Slow),
        }
        // One value done; close every aggregate it completes.
        left -= 1;
        while left == 0 {
            if depth == 0 {
                return Ok(pos);
            }
            depth -= 1;
            left = outer[depth];
        }
    }
}

/// `scan` for a command (an array of N ≥ 1 bulk strings), recording
/// nothing: returns its wire length and N. Anything else is `Slow`, for the
/// state machine to decode or refuse.
#[inline]
pub(crate) fn scan_command(buf: &[u8], config: &Config) -> Result<(usize, usize), Bail> {
    match buf.first() {
        Some(b'*') => {}
        Some(_) => return Err(Bail::Slow),
        None => return Err(Bail::Incomplete),
    }
    let (n, mut pos) = number(buf, 1)?;
    if n <= 0 || n as u64 > config.max_elements as u64 || config.max_depth == 0 {
        return Err(Bail::Slow);
    }
    for _ in 0..n {
        match buf.get(pos) {
            Some(b'$') => {}
            Some(_) => return Err(Bail::Slow),
            None => return Err(Bail::Incomplete),
        }
        let (len, start) = number(buf, pos + 1)?;
        if len < 0 || len as u64 > config.max_bulk_len as u64 {
            return Err(Bail::Slow);
        }
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Err(Bail::Incomplete);
        }
        if buf[end] != b'\r' || buf[end + 1] != b'\n' {
            return Err(Bail::Slow);
        }
        pos = end + 2;
    }
    Ok((pos, n as usize))
}

/// Builds the frame `scan` accepted from its tokens; `bytes` is exactly
/// that frame, and blobs are zero-copy slices of it.
#[inline(never)]
pub(crate) fn build(bytes: &Bytes, tokens: &[Token]) -> Frame {
    build_next(bytes, &mut tokens.iter())
}

/// Builds one frame from the next tokens. They come from `scan`, so there
/// are no error paths, and recursion is no deeper than `FAST_DEPTH`.
fn build_next(bytes: &Bytes, tokens: &mut std::slice::Iter<'_, Token>) -> Frame {
    let Some(&Token { at, n, start, end }) = tokens.next() else {
        return Frame::Null;
    };
    match bytes[at] {
        b'$' if n < 0 => Frame::NullBulk,
        b'$' => Frame::Bulk(bytes.slice(start..start + n as usize)),
        b'!' => Frame::BulkError(bytes.slice(start..start + n as usize)),
        b'=' => Frame::Verbatim {
            format: [bytes[start], bytes[start + 1], bytes[start + 2]],
            text: bytes.slice(start + 4..start + n as usize),
        },
        b'*' if n < 0 => Frame::NullArray,
        ty @ (b'*' | b'~' | b'>') => {
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                // Commands and most replies are arrays of bulk strings: take
                // those without a call.
                match tokens.as_slice().first() {
                    Some(t) if t.n >= 0 && bytes[t.at] == b'$' => {
                        items.push(Frame::Bulk(bytes.slice(t.start..t.start + t.n as usize)));
                        tokens.next();
                    }
                    _ => items.push(build_next(bytes, tokens)),
                }
            }
            match ty {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                _ => Frame::Push(items),
            }
        }
        ty @ (b'%' | b'|') => {
            let mut pairs = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let k = build_next(bytes, tokens);
                let v = build_next(bytes, tokens);
                pairs.push((k, v));
            }
            if ty == b'%' {
                Frame::Map(pairs)
            } else {
                Frame::Attribute {
                    attrs: pairs,
                    data: Box::new(build_next(bytes, tokens)),
                }
            }
        }
        b':' => Frame::Integer(n),
        b'+' => Frame::Simple(bytes.slice(start..end)),
        b'-' => Frame::Error(bytes.slice(start..end)),
        b'(' => Frame::BigNumber(bytes.slice(start..end)),
        b',' => Frame::Double(f64::from_bits(n as u64)),
        b'#' => Frame::Boolean(bytes[at + 1] == b't'),
        _ => Frame::Null,
    }
}

/// A strict decimal (see `Decoder::number`) from `at` to its CRLF; returns
/// it and the index after the CRLF.
#[inline(always)]
fn number(buf: &[u8], at: usize) -> Result<(i64, usize), Bail> {
    // Most lengths are a few digits: read them without the general case's
    // sign and overflow handling.
    let mut i = at;
    let mut value: u64 = 0;
    while let Some(&b) = buf.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 || i - at == 18 {
            break;
        }
        value = value * 10 + u64::from(d);
        i += 1;
    }
    if i > at
        && buf.get(i) == Some(&b'\r')
        && buf.get(i + 1) == Some(&b'\n')
        && (buf[at] != b'0' || i == at + 1)
    {
        return Ok((value as i64, i + 2));
    }
    number_general(buf, at)
}

#[cold]
fn number_general(buf: &[u8], at: usize) -> Result<(i64, usize), Bail> {
    let s = buf.get(at..).ok_or(Bail::Incomplete)?;
    let negative = s.first() == Some(&b'-');
    let digits = &s[usize::from(negative)..];
    let mut value: u64 = 0;
    let mut ndigits = 0;
    // 19 digits cannot overflow a u64; a 20th means "not an i64".
    for &b in digits.iter().take(19) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value * 10 + u64::from(d);
        ndigits += 1;
    }
    let rest = &digits[ndigits..];
    match rest {
        [b'\r', b'\n', ..] => {}
        [] | [b'\r'] => return Err(Bail::Incomplete),
        _ => return Err(Bail::Slow),
    }
    if ndigits == 0 || (ndigits > 1 && digits[0] == b'0') {
        return Err(Bail::Slow);
    }
    let value = if negative {
        if value == 0 || value > i64::MIN.unsigned_abs() {
            return Err(Bail::Slow);
        }
        (value as i64).wrapping_neg()
    } else {
        i64::try_from(value).map_err(|_| Bail::Slow)?
    };
    Ok((value, at + usize::from(negative) + ndigits + 2))
}

/// The index of the CR ending the line whose text starts at `at`.
#[inline]
fn line(buf: &[u8], at: usize, config: &Config) -> Result<usize, Bail> {
    let rest = buf.get(at..).ok_or(Bail::Incomplete)?;
    match memchr::memchr2(b'\r', b'\n', rest) {
        Some(i) if i > config.max_line_len => Err(Bail::Slow),
        Some(i) if rest[i] == b'\r' => match rest.get(i + 1) {
            Some(b'\n') => Ok(at + i),
            Some(_) => Err(Bail::Slow),
            None => Err(Bail::Incomplete),
        },
        Some(_) => Err(Bail::Slow),
        None if rest.len() > config.max_line_len => Err(Bail::Slow),
        None => Err(Bail::Incomplete),
    }
}

/// A fixed-form frame at `at`; returns the index after it.
#[inline]
fn fixed(buf: &[u8], at: usize, form: &[u8]) -> Result<usize, Bail> {
    let have = &buf[at..buf.len().min(at + form.len())];
    if have != &form[..have.len()] {
        Err(Bail::Slow)
    } else if have.len() < form.len() {
        Err(Bail::Incomplete)
    } else {
        Ok(at + form.len())
    }
}

/// A RESP3 double, as the spec's grammar has it: `inf`, `-inf`, `nan`, or
/// an optional sign, digits, an optional `.` and digits, an optional
/// exponent (`e`/`E`, optional sign, digits). Redis writes `%.17g` output,
/// which fits.
pub(crate) fn parse_double(s: &[u8]) -> Option<f64> {
    match s {
        b"inf" | b"+inf" => return Some(f64::INFINITY),
        b"-inf" => return Some(f64::NEG_INFINITY),
        b"nan" => return Some(f64::NAN),
        _ => {}
    }
    let digits = |s: &[u8], i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut i = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    if !digits(s, &mut i) {
        return None;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digits(s, &mut i) {
            return None;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(s, &mut i) {
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    // Only ASCII digits, signs, `.` and `e` remain: valid UTF-8 that Rust's
    // parser accepts.
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// An optionally negative decimal of any length.
pub(crate) fn is_big_number(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}
