//! RESP2 and RESP3 frames, and their encoding.

use bytes::{BufMut, Bytes, BytesMut};

/// One RESP2 or RESP3 value.
///
/// RESP2's two nulls (`$-1` and `*-1`) are kept apart from RESP3's `_` so
/// that a frame re-encodes to the bytes a RESP2 peer expects;
/// [`Frame::is_null`] is true for all three.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK\r\n`
    Simple(Bytes),
    /// `-ERR message\r\n`
    Error(Bytes),
    /// `:42\r\n`
    Integer(i64),
    /// `$5\r\nhello\r\n`
    Bulk(Bytes),
    /// RESP2 null bulk string, `$-1\r\n`.
    NullBulk,
    /// RESP2 null array, `*-1\r\n`.
    NullArray,
    /// `*2\r\n...`
    Array(Vec<Frame>),
    /// RESP3 null, `_\r\n`.
    Null,
    /// RESP3 map, `%1\r\n<key><value>`, in wire order (keys may repeat).
    Map(Vec<(Frame, Frame)>),
    /// RESP3 set, `~2\r\n...`, in wire order.
    Set(Vec<Frame>),
    /// RESP3 double, `,3.14\r\n` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 boolean, `#t\r\n` or `#f\r\n`.
    Boolean(bool),
    /// RESP3 big number, `(12345678901234567890\r\n`: the decimal digits,
    /// with a leading `-` when negative.
    BigNumber(Bytes),
    /// RESP3 bulk error, `!21\r\nSYNTAX invalid syntax\r\n`.
    BulkError(Bytes),
    /// RESP3 verbatim string, `=15\r\ntxt:Some string\r\n`.
    Verbatim {
        /// The three-byte format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `format:`.
        text: Bytes,
    },
    /// RESP3 push, `>2\r\n...`: out-of-band data such as pub/sub messages
    /// and client-tracking invalidations.
    Push(Vec<Frame>),
    /// RESP3 attribute, `|1\r\n<key><value>`, with the frame it annotates
    /// (the one that follows it on the wire).
    Attribute {
        /// The attribute map, in wire order.
        attrs: Vec<(Frame, Frame)>,
        /// The annotated frame.
        data: Box<Frame>,
    },
}

impl Frame {
    /// A bulk string frame.
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    /// A simple string frame. The text must not hold CR or LF.
    pub fn simple(text: impl Into<Bytes>) -> Frame {
        Frame::Simple(text.into())
    }

    /// True for `$-1`, `*-1` and `_`.
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullBulk | Frame::NullArray)
    }

    /// True for simple and bulk errors.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BulkError(_))
    }

    /// The text of a simple or bulk error.
    pub fn error_message(&self) -> Option<&[u8]> {
        match self {
            Frame::Error(b) | Frame::BulkError(b) => Some(b),
            _ => None,
        }
    }

    /// The bytes of a string-like frame: simple, bulk, verbatim text.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b) | Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    /// The value of an integer frame.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_elements(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }

    /// The frame without its attributes, if it has any.
    pub fn without_attributes(&self) -> &Frame {
        let mut f = self;
        while let Frame::Attribute { data, .. } = f {
            f = data;
        }
        f
    }

    /// A short name of the frame's type, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Frame::Simple(_) => "simple string",
            Frame::Error(_) => "error",
            Frame::Integer(_) => "integer",
            Frame::Bulk(_) => "bulk string",
            Frame::NullBulk => "null bulk string",
            Frame::NullArray => "null array",
            Frame::Array(_) => "array",
            Frame::Null => "null",
            Frame::Map(_) => "map",
            Frame::Set(_) => "set",
            Frame::Double(_) => "double",
            Frame::Boolean(_) => "boolean",
            Frame::BigNumber(_) => "big number",
            Frame::BulkError(_) => "bulk error",
            Frame::Verbatim { .. } => "verbatim string",
            Frame::Push(_) => "push",
            Frame::Attribute { .. } => "attribute",
        }
    }

    /// Appends the frame's wire form to `out`.
    ///
    /// Simple strings and errors are written as given: a CR or LF inside
    /// them produces bytes that a decoder will not read back as one frame.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        self.encode_inner(out);
    }

    /// The frame's wire form.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode_inner(&mut out);
        out.freeze()
    }

    fn encode_inner(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(b) => line(out, b'+', b),
            Frame::Error(b) => line(out, b'-', b),
            Frame::Integer(n) => {
                out.put_u8(b':');
                out.put_slice(itoa::Buffer::new().format(*n).as_bytes());
                out.put_slice(b"\r\n");
            }
            Frame::Bulk(b) => blob(out, b'$', b),
            Frame::NullBulk => out.put_slice(b"$-1\r\n"),
            Frame::NullArray => out.put_slice(b"*-1\r\n"),
            Frame::Array(v) => aggregate(out, b'*', v),
            Frame::Null => out.put_slice(b"_\r\n"),
            Frame::Map(pairs) => map(out, b'%', pairs),
            Frame::Set(v) => aggregate(out, b'~', v),
            Frame::Double(d) => {
                out.put_u8(b',');
                out.put_slice(format_double(*d, &mut ryu::Buffer::new()).as_bytes());
                out.put_slice(b"\r\n");
            }
            Frame::Boolean(b) => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(b) => line(out, b'(', b),
            Frame::BulkError(b) => blob(out, b'!', b),
            Frame::Verbatim { format, text } => {
                header(out, b'=', text.len() + 4);
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
            Frame::Push(v) => aggregate(out, b'>', v),
            Frame::Attribute { attrs, data } => {
                map(out, b'|', attrs);
                data.encode_inner(out);
            }
        }
    }

    /// The number of bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Frame::Simple(b) | Frame::Error(b) | Frame::BigNumber(b) => b.len() + 3,
            Frame::Integer(n) => itoa::Buffer::new().format(*n).len() + 3,
            Frame::Bulk(b) | Frame::BulkError(b) => blob_len(b.len()),
            Frame::NullBulk | Frame::NullArray => 5,
            Frame::Null => 3,
            Frame::Boolean(_) => 4,
            Frame::Double(d) => format_double(*d, &mut ryu::Buffer::new()).len() + 3,
            Frame::Verbatim { text, .. } => blob_len(text.len() + 4),
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
                header_len(v.len()) + v.iter().map(Frame::encoded_len).sum::<usize>()
            }
            Frame::Map(pairs) => pairs_len(pairs),
            Frame::Attribute { attrs, data } => pairs_len(attrs) + data.encoded_len(),
        }
    }
}

/// Doubles as Redis writes them: `inf`, `-inf`, `nan`, otherwise the
/// shortest decimal that reads back to the same value.
pub(crate) fn format_double(d: f64, buf: &mut ryu::Buffer) -> &str {
    if d.is_nan() {
        "nan"
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }
    } else {
        buf.format_finite(d)
    }
}

fn line(out: &mut BytesMut, ty: u8, text: &[u8]) {
    out.put_u8(ty);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

pub(crate) fn header(out: &mut BytesMut, ty: u8, len: usize) {
    out.put_u8(ty);
    out.put_slice(itoa::Buffer::new().format(len).as_bytes());
    out.put_slice(b"\r\n");
}

pub(crate) fn blob(out: &mut BytesMut, ty: u8, data: &[u8]) {
    header(out, ty, data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, ty: u8, items: &[Frame]) {
    header(out, ty, items.len());
    for item in items {
        item.encode_inner(out);
    }
}

fn map(out: &mut BytesMut, ty: u8, pairs: &[(Frame, Frame)]) {
    header(out, ty, pairs.len());
    for (k, v) in pairs {
        k.encode_inner(out);
        v.encode_inner(out);
    }
}

/// Bytes of a `<type><len>\r\n` header.
pub(crate) fn header_len(len: usize) -> usize {
    itoa::Buffer::new().format(len).len() + 3
}

/// Bytes of a whole blob: header, payload, CRLF.
pub(crate) fn blob_len(len: usize) -> usize {
    header_len(len) + len + 2
}

fn pairs_len(pairs: &[(Frame, Frame)]) -> usize {
    header_len(pairs.len())
        + pairs
            .iter()
            .map(|(k, v)| k.encoded_len() + v.encoded_len())
            .sum::<usize>()
}
