//! The resumable decoder.
//!
//! Bytes are consumed from the caller's buffer as soon as a piece of a frame
//! (a header, a whole blob, a line) is complete, and the pieces of an
//! unfinished frame are kept on a stack. A frame that arrives in many reads
//! is therefore parsed once, whatever the number of reads: the cost is
//! linear in its size. A blob is taken only when all of it is in the buffer,
//! as one zero-copy [`Bytes`] split off the caller's buffer.

use crate::error::{Error, ErrorKind};
use crate::fast::{self, is_big_number, parse_double};
use crate::frame::Frame;
use crate::raw::RawCommand;
use bytes::{Buf, Bytes, BytesMut};

/// Default [`Config::max_bulk_len`]: Redis's default `proto-max-bulk-len`.
pub const MAX_BULK_LEN_BYTES: usize = 512 * 1024 * 1024;
/// Default [`Config::max_line_len`]. Redis writes short lines; Lua scripts can
/// return long error texts, so this is generous.
pub const MAX_LINE_LEN_BYTES: usize = 64 * 1024 * 1024;
/// Default [`Config::max_elements`]: the largest multibulk Redis accepts.
pub const MAX_ELEMENTS: usize = i32::MAX as usize;
/// Default [`Config::max_depth`]. Redis replies nest a few levels (XINFO
/// STREAM FULL: five); Lua can return deeper tables, not this deep.
pub const MAX_DEPTH: usize = 128;

/// Upper bound on the capacity reserved up front for an aggregate, so that a
/// header claiming two billion elements costs nothing until they arrive.
const PREALLOC_ELEMENTS: usize = 1024;
/// Longest valid length or integer field: `-9223372036854775808`.
const MAX_NUMBER_DIGITS: usize = 20;

/// Limits the decoder enforces. Each is checked when the header that would
/// exceed it is read, before any memory is reserved for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Longest bulk string, bulk error or verbatim string, in bytes.
    pub max_bulk_len: usize,
    /// Longest simple string, error, double or big number line, in bytes.
    pub max_line_len: usize,
    /// Most elements in one array, set or push, or pairs in one map or
    /// attribute.
    pub max_elements: usize,
    /// Deepest nesting of aggregates (a top-level array is depth 1).
    pub max_depth: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_bulk_len: MAX_BULK_LEN_BYTES,
            max_line_len: MAX_LINE_LEN_BYTES,
            max_elements: MAX_ELEMENTS,
            max_depth: MAX_DEPTH,
        }
    }
}

impl Config {
    /// Sets [`Config::max_bulk_len`].
    pub fn max_bulk_len(mut self, bytes: usize) -> Self {
        self.max_bulk_len = bytes;
        self
    }

    /// Sets [`Config::max_line_len`].
    pub fn max_line_len(mut self, bytes: usize) -> Self {
        self.max_line_len = bytes;
        self
    }

    /// Sets [`Config::max_elements`].
    pub fn max_elements(mut self, n: usize) -> Self {
        self.max_elements = n;
        self
    }

    /// Sets [`Config::max_depth`].
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
}

/// A resumable RESP2/RESP3 decoder.
///
/// Feed it a buffer with [`Decoder::decode`]; it takes bytes from the front
/// of the buffer and returns each complete frame with the number of bytes it
/// occupied on the wire. Bytes of a frame that is not yet complete are
/// consumed too and remembered, so the caller appends the next read to the
/// same buffer and calls again.
#[derive(Debug, Default)]
pub struct Decoder {
    config: Config,
    /// Aggregates opened and not yet complete, innermost last.
    stack: Vec<Open>,
    /// A blob whose header has been consumed and whose payload has not.
    blob: Option<Blob>,
    /// Bytes of the current top-level frame consumed so far.
    frame_len: usize,
    /// Stream offset of the caller's buffer's first byte.
    offset: u64,
    /// How far into the buffer a search for a line's CR has already looked.
    scanned: usize,
    /// At least this many more bytes are needed for progress.
    needed: usize,
    failed: Option<Error>,
    /// The fast path's scratch, kept to reuse its allocation.
    tokens: Vec<fast::Token>,
}

#[derive(Debug, Clone, Copy)]
struct Blob {
    kind: BlobKind,
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlobKind {
    Bulk,
    Error,
    Verbatim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Array,
    Set,
    Push,
}

#[derive(Debug)]
enum Open {
    List {
        kind: ListKind,
        remaining: usize,
        items: Vec<Frame>,
    },
    Map {
        attribute: bool,
        remaining: usize,
        pairs: Vec<(Frame, Frame)>,
        key: Option<Frame>,
    },
    /// An attribute map is complete; the frame it annotates comes next.
    Annotated { attrs: Vec<(Frame, Frame)> },
}

/// The outcome of reading one header or line.
enum Step {
    /// A complete leaf value (or an empty aggregate).
    Value(Frame),
    /// An aggregate was opened or a blob header read: keep going.
    Opened,
}

impl Decoder {
    /// A decoder with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with the given limits.
    pub fn with_config(config: Config) -> Self {
        Decoder {
            config,
            ..Self::default()
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Takes the next complete frame from the front of `buf`, with its wire
    /// length (the bytes it occupied, which may have arrived over several
    /// calls). `Ok(None)` means the buffer holds no complete frame yet: its
    /// bytes have been taken and remembered, and [`Decoder::needed`] tells
    /// how many more at least are needed.
    ///
    /// # Errors
    ///
    /// A malformed or over-limit frame: the error names the kind and the
    /// stream offset of the offending byte. The decoder is then stuck: every
    /// later call returns the same error.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<(Frame, usize)>, Error> {
        // A frame already whole in the buffer takes the fast path, unless a
        // frame is partly decoded or a long line partly searched (those
        // resume in the state machine).
        if self.scanned == 0 && self.failed.is_none() && self.is_idle() {
            if buf.starts_with(b"+OK\r\n") {
                // The reply to nearly every write: no scan, no allocation.
                buf.advance(5);
                self.offset += 5;
                return Ok(Some((Frame::Simple(Bytes::from_static(b"OK")), 5)));
            }
            if let Ok(len) = fast::scan(buf, &self.config, &mut self.tokens) {
                let frame = fast::build(&buf.split_to(len).freeze(), &self.tokens);
                self.offset += len as u64;
                return Ok(Some((frame, len)));
            }
        }
        self.decode_resumable(buf)
    }

    /// Like [`Decoder::decode`] for a stream made only of commands (a
    /// master's replication stream, a client's pipeline): takes the next
    /// command with its wire length. A command already whole in the buffer
    /// is checked and split off without building anything and without
    /// allocating; one arriving in pieces is decoded as
    /// [`Decoder::decode`] does and then re-encoded into one buffer (one
    /// copy of its bytes).
    ///
    /// Calls to `decode` and `decode_command` may be mixed on one stream.
    ///
    /// # Errors
    ///
    /// As [`Decoder::decode`], and [`ErrorKind::NotACommand`] for a valid
    /// frame that is not a non-empty array of bulk strings (it is consumed,
    /// and the decoder is stuck as after any error).
    #[inline]
    pub fn decode_command(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(RawCommand, usize)>, Error> {
        if self.scanned == 0
            && self.failed.is_none()
            && self.is_idle()
            && let Ok((len, arity)) = fast::scan_command(buf, &self.config)
        {
            self.offset += len as u64;
            let wire = buf.split_to(len).freeze();
            return Ok(Some((RawCommand::from_checked(wire, arity), len)));
        }
        self.decode_command_slow(buf)
    }

    #[inline(never)]
    fn decode_command_slow(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(RawCommand, usize)>, Error> {
        let Some((frame, len)) = self.decode_resumable(buf)? else {
            return Ok(None);
        };
        match RawCommand::try_from(frame) {
            Ok(cmd) => Ok(Some((cmd, len))),
            Err(_) => {
                let e = Error::new(ErrorKind::NotACommand, self.offset - len as u64);
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    #[inline(never)]
    fn decode_resumable(&mut self, buf: &mut BytesMut) -> Result<Option<(Frame, usize)>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.decode_inner(buf) {
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
            ok => ok,
        }
    }

    /// After an `Ok(None)`: at least how many more bytes are needed (1 when
    /// not known better). Not meaningful after a frame was returned.
    pub fn needed(&self) -> usize {
        self.needed.max(1)
    }

    /// Total bytes taken from the buffers fed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True when no frame is partly decoded.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.frame_len == 0 && self.stack.is_empty() && self.blob.is_none()
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<(Frame, usize)>, Error> {
        loop {
            let mut value = if let Some(blob) = self.blob {
                match self.take_blob(buf, blob)? {
                    Some(v) => v,
                    None => return Ok(None),
                }
            } else {
                match self.header(buf)? {
                    None => return Ok(None),
                    Some(Step::Opened) => continue,
                    Some(Step::Value(v)) => v,
                }
            };
            // Fold the value into the open aggregates, closing each that it
            // completes.
            loop {
                match self.stack.pop() {
                    None => {
                        let len = std::mem::take(&mut self.frame_len);
                        return Ok(Some((value, len)));
                    }
                    Some(Open::List {
                        kind,
                        remaining,
                        mut items,
                    }) => {
                        items.push(value);
                        if remaining > 1 {
                            self.stack.push(Open::List {
                                kind,
                                remaining: remaining - 1,
                                items,
                            });
                            break;
                        }
                        value = list(kind, items);
                    }
                    Some(Open::Map {
                        attribute,
                        remaining,
                        mut pairs,
                        key,
                    }) => {
                        let Some(k) = key else {
                            self.stack.push(Open::Map {
                                attribute,
                                remaining,
                                pairs,
                                key: Some(value),
                            });
                            break;
                        };
                        pairs.push((k, value));
                        if remaining > 1 {
                            self.stack.push(Open::Map {
                                attribute,
                                remaining: remaining - 1,
                                pairs,
                                key: None,
                            });
                            break;
                        }
                        if attribute {
                            // The annotated frame comes next.
                            self.stack.push(Open::Annotated { attrs: pairs });
                            break;
                        }
                        value = Frame::Map(pairs);
                    }
                    Some(Open::Annotated { attrs }) => {
                        value = Frame::Attribute {
                            attrs,
                            data: Box::new(value),
                        };
                    }
                }
            }
        }
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.frame_len += n;
        self.offset += n as u64;
        self.scanned = 0;
    }

    fn err(&self, kind: ErrorKind, at: usize) -> Error {
        Error::new(kind, self.offset + at as u64)
    }

    fn take_blob(&mut self, buf: &mut BytesMut, blob: Blob) -> Result<Option<Frame>, Error> {
        let total = blob.len + 2;
        if buf.len() < total {
            self.needed = total - buf.len();
            return Ok(None);
        }
        if buf[blob.len] != b'\r' || buf[blob.len + 1] != b'\n' {
            return Err(self.err(ErrorKind::BadTerminator, blob.len));
        }
        if blob.kind == BlobKind::Verbatim && buf[3] != b':' {
            return Err(self.err(ErrorKind::BadVerbatim, 3));
        }
        let data = buf.split_to(blob.len).freeze();
        self.frame_len += blob.len;
        self.offset += blob.len as u64;
        self.consume(buf, 2);
        self.blob = None;
        Ok(Some(match blob.kind {
            BlobKind::Bulk => Frame::Bulk(data),
            BlobKind::Error => Frame::BulkError(data),
            BlobKind::Verbatim => Frame::Verbatim {
                format: [data[0], data[1], data[2]],
                text: data.slice(4..),
            },
        }))
    }

    /// Reads one header or line at the front of `buf`.
    fn header(&mut self, buf: &mut BytesMut) -> Result<Option<Step>, Error> {
        let Some(&ty) = buf.first() else {
            self.needed = 1;
            return Ok(None);
        };
        match ty {
            b'$' | b'!' | b'=' => {
                let Some((len, end)) = self.length(buf)? else {
                    return Ok(None);
                };
                let kind = match ty {
                    b'$' => BlobKind::Bulk,
                    b'!' => BlobKind::Error,
                    _ => BlobKind::Verbatim,
                };
                let len = match len {
                    -1 if kind == BlobKind::Bulk => {
                        self.consume(buf, end);
                        return Ok(Some(Step::Value(Frame::NullBulk)));
                    }
                    n if n < 0 => return Err(self.err(ErrorKind::BadLength, 1)),
                    n => n as u64,
                };
                if len > self.config.max_bulk_len as u64 {
                    return Err(self.err(
                        ErrorKind::LimitExceeded {
                            what: "bulk length",
                            limit: self.config.max_bulk_len as u64,
                            found: len,
                        },
                        1,
                    ));
                }
                if kind == BlobKind::Verbatim && len < 4 {
                    return Err(self.err(ErrorKind::BadVerbatim, 1));
                }
                self.consume(buf, end);
                self.blob = Some(Blob {
                    kind,
                    len: len as usize,
                });
                Ok(Some(Step::Opened))
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let Some((len, end)) = self.length(buf)? else {
                    return Ok(None);
                };
                let len = match len {
                    -1 if ty == b'*' => {
                        self.consume(buf, end);
                        return Ok(Some(Step::Value(Frame::NullArray)));
                    }
                    n if n < 0 => return Err(self.err(ErrorKind::BadLength, 1)),
                    n => n as u64,
                };
                if len > self.config.max_elements as u64 {
                    return Err(self.err(
                        ErrorKind::LimitExceeded {
                            what: "aggregate length",
                            limit: self.config.max_elements as u64,
                            found: len,
                        },
                        1,
                    ));
                }
                // An empty aggregate opens no level (the fast path agrees);
                // an attribute always does: the annotated frame follows it.
                let depth = self.stack.len() + 1;
                if (len > 0 || ty == b'|') && depth > self.config.max_depth {
                    return Err(self.err(
                        ErrorKind::LimitExceeded {
                            what: "nesting depth",
                            limit: self.config.max_depth as u64,
                            found: depth as u64,
                        },
                        0,
                    ));
                }
                self.consume(buf, end);
                let len = len as usize;
                let cap = len.min(PREALLOC_ELEMENTS);
                let open = match ty {
                    b'*' | b'~' | b'>' => {
                        let kind = match ty {
                            b'*' => ListKind::Array,
                            b'~' => ListKind::Set,
                            _ => ListKind::Push,
                        };
                        if len == 0 {
                            return Ok(Some(Step::Value(list(kind, Vec::new()))));
                        }
                        Open::List {
                            kind,
                            remaining: len,
                            items: Vec::with_capacity(cap),
                        }
                    }
                    _ => {
                        let attribute = ty == b'|';
                        if len == 0 {
                            if attribute {
                                self.stack.push(Open::Annotated { attrs: Vec::new() });
                                return Ok(Some(Step::Opened));
                            }
                            return Ok(Some(Step::Value(Frame::Map(Vec::new()))));
                        }
                        Open::Map {
                            attribute,
                            remaining: len,
                            pairs: Vec::with_capacity(cap),
                            key: None,
                        }
                    }
                };
                self.stack.push(open);
                Ok(Some(Step::Opened))
            }
            b':' => {
                let Some((n, end)) = self.number(buf, ErrorKind::BadInteger)? else {
                    return Ok(None);
                };
                self.consume(buf, end);
                Ok(Some(Step::Value(Frame::Integer(n))))
            }
            b'+' | b'-' | b',' | b'(' => {
                let Some(cr) = self.line(buf)? else {
                    return Ok(None);
                };
                let frame = match ty {
                    b',' => {
                        let d = parse_double(&buf[1..cr])
                            .ok_or_else(|| self.err(ErrorKind::BadDouble, 1))?;
                        self.consume(buf, cr + 2);
                        return Ok(Some(Step::Value(Frame::Double(d))));
                    }
                    b'(' => {
                        if !is_big_number(&buf[1..cr]) {
                            return Err(self.err(ErrorKind::BadBigNumber, 1));
                        }
                        Frame::BigNumber
                    }
                    b'+' => Frame::Simple,
                    _ => Frame::Error,
                };
                buf.advance(1);
                let text = buf.split_to(cr - 1).freeze();
                self.frame_len += cr;
                self.offset += cr as u64;
                self.consume(buf, 2);
                Ok(Some(Step::Value(frame(text))))
            }
            b'_' => {
                self.fixed(buf, b"_\r\n", ErrorKind::BadTerminator)?;
                Ok(self.fixed_done(buf, 3, Frame::Null))
            }
            b'#' => {
                if buf.len() < 4 {
                    self.needed = 4 - buf.len();
                    // Check what is there already, so that garbage fails fast.
                    return match buf.get(1) {
                        Some(b't' | b'f') | None => Ok(None),
                        Some(_) => Err(self.err(ErrorKind::BadBoolean, 1)),
                    };
                }
                let value = match buf[1] {
                    b't' => true,
                    b'f' => false,
                    _ => return Err(self.err(ErrorKind::BadBoolean, 1)),
                };
                if &buf[2..4] != b"\r\n" {
                    return Err(self.err(ErrorKind::BadTerminator, 2));
                }
                self.consume(buf, 4);
                Ok(Some(Step::Value(Frame::Boolean(value))))
            }
            _ => Err(self.err(ErrorKind::BadType { byte: ty }, 0)),
        }
    }

    /// Checks a fixed-form frame; `Ok(())` also when only a correct prefix
    /// is present (then `fixed_done` reports need-more).
    fn fixed(&mut self, buf: &BytesMut, form: &[u8], kind: ErrorKind) -> Result<(), Error> {
        let n = buf.len().min(form.len());
        match buf[..n].iter().zip(form).position(|(a, b)| a != b) {
            Some(at) => Err(self.err(kind, at)),
            None => Ok(()),
        }
    }

    fn fixed_done(&mut self, buf: &mut BytesMut, len: usize, frame: Frame) -> Option<Step> {
        if buf.len() < len {
            self.needed = len - buf.len();
            return None;
        }
        self.consume(buf, len);
        Some(Step::Value(frame))
    }

    /// Parses the length after a type byte: `-1` or a non-negative decimal.
    /// Returns it and the header's length including CRLF.
    fn length(&mut self, buf: &BytesMut) -> Result<Option<(i64, usize)>, Error> {
        if buf.get(1) == Some(&b'?') {
            return Err(self.err(ErrorKind::Streamed, 1));
        }
        self.number(buf, ErrorKind::BadLength)
    }

    /// Parses a strict decimal `i64` from byte 1 to a CRLF, as Redis's
    /// `string2ll` reads it: optional `-`, no `+`, no leading zeros.
    fn number(&mut self, buf: &BytesMut, kind: ErrorKind) -> Result<Option<(i64, usize)>, Error> {
        let bytes = &buf[1..];
        let negative = bytes.first() == Some(&b'-');
        let digits_start = usize::from(negative);
        let mut i = digits_start;
        let mut value: u64 = 0;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            if i - digits_start >= MAX_NUMBER_DIGITS {
                return Err(self.err(kind, 1));
            }
            value = match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
            {
                Some(v) => v,
                None => return Err(self.err(kind, 1)),
            };
            i += 1;
        }
        let ndigits = i - digits_start;
        if i == bytes.len() || (i + 1 == bytes.len() && bytes[i] == b'\r') {
            // The number may still be growing, or its LF is yet to come.
            if ndigits > 1 && bytes[digits_start] == b'0' {
                return Err(self.err(kind, 1));
            }
            self.needed = 1;
            return Ok(None);
        }
        if ndigits == 0 || (ndigits > 1 && bytes[digits_start] == b'0') {
            return Err(self.err(kind, 1));
        }
        if bytes[i] != b'\r' || bytes[i + 1] != b'\n' {
            return Err(self.err(kind, 1 + i));
        }
        let value = if negative {
            if value > i64::MIN.unsigned_abs() || value == 0 {
                return Err(self.err(kind, 1));
            }
            (value as i64).wrapping_neg()
        } else {
            i64::try_from(value).map_err(|_| self.err(kind, 1))?
        };
        Ok(Some((value, 1 + i + 2)))
    }

    /// Finds the CR ending the line that starts at the front of `buf`
    /// (searching only bytes not searched before). Returns its index.
    fn line(&mut self, buf: &BytesMut) -> Result<Option<usize>, Error> {
        let from = self.scanned.max(1);
        match memchr::memchr2(b'\r', b'\n', &buf[from..]) {
            Some(i) => {
                let at = from + i;
                // The limit first: had the input stopped short of this byte,
                // the limit is what would have been reported.
                if at - 1 > self.config.max_line_len {
                    return Err(self.line_limit());
                }
                if buf[at] == b'\n' {
                    return Err(self.err(ErrorKind::BadTerminator, at));
                }
                match buf.get(at + 1) {
                    Some(b'\n') => Ok(Some(at)),
                    Some(_) => Err(self.err(ErrorKind::BadTerminator, at)),
                    None => {
                        self.scanned = at;
                        self.needed = 1;
                        Ok(None)
                    }
                }
            }
            None => {
                if buf.len() - 1 > self.config.max_line_len {
                    return Err(self.line_limit());
                }
                self.scanned = buf.len();
                self.needed = 2;
                Ok(None)
            }
        }
    }

    /// A line longer than the limit. Its end may not have arrived, so
    /// `found` is reported as limit + 1 however the input was split.
    fn line_limit(&self) -> Error {
        let limit = self.config.max_line_len as u64;
        self.err(
            ErrorKind::LimitExceeded {
                what: "line length",
                limit,
                found: limit + 1,
            },
            1,
        )
    }
}

fn list(kind: ListKind, items: Vec<Frame>) -> Frame {
    match kind {
        ListKind::Array => Frame::Array(items),
        ListKind::Set => Frame::Set(items),
        ListKind::Push => Frame::Push(items),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<Option<(Frame, usize)>, Error> {
        Decoder::new().decode(&mut BytesMut::from(input))
    }

    #[test]
    fn rejects_numbers_redis_rejects() {
        for bad in [
            &b":+1\r\n"[..],
            b":01\r\n",
            b":-0\r\n",
            b":\r\n",
            b":-\r\n",
            b":1 \r\n",
            b":9223372036854775808\r\n",
            b":-9223372036854775809\r\n",
            b":123456789012345678901\r\n",
            b"$01\r\n",
            b"$-2\r\n",
            b"*-2\r\n",
            b"%-1\r\n",
        ] {
            assert!(one(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            one(b":-9223372036854775808\r\n").ok().flatten(),
            Some((Frame::Integer(i64::MIN), 23))
        );
        assert_eq!(one(b":0\r\n").ok().flatten(), Some((Frame::Integer(0), 4)));
    }

    #[test]
    fn partial_number_waits() {
        for partial in [
            &b":"[..],
            b":-",
            b":12",
            b":12\r",
            b"$3",
            b"$3\r\n",
            b"$3\r\nab",
        ] {
            assert_eq!(one(partial), Ok(None), "{partial:?}");
        }
    }
}
