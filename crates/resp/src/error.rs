//! The crate's errors: what was wrong with the input, and at which byte.

use crate::Frame;
use std::fmt;

/// What was wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A byte in type position that is not a RESP2 or RESP3 type.
    BadType {
        /// The byte.
        byte: u8,
    },
    /// A length that is not `-1` or a decimal without sign or leading zeros,
    /// or a negative length where none is allowed.
    BadLength,
    /// An integer (`:`) that is not a decimal fitting in an `i64`.
    BadInteger,
    /// A double (`,`) that does not parse as a floating-point number.
    BadDouble,
    /// A boolean (`#`) other than `t` or `f`.
    BadBoolean,
    /// A big number (`(`) that is not an optionally signed decimal.
    BadBigNumber,
    /// A verbatim string (`=`) without its three-byte format and colon.
    BadVerbatim,
    /// A line or blob not ended by CRLF, or a line holding a bare CR or LF.
    BadTerminator,
    /// A RESP3 streamed string or aggregate (`$?`, `*?` ...): Redis and
    /// Valkey never send them, and this decoder does not accept them.
    Streamed,
    /// A valid frame where a command was expected (by
    /// [`Decoder::decode_command`](crate::Decoder::decode_command)): commands
    /// are non-empty arrays of bulk strings. The offset is the frame's first
    /// byte.
    NotACommand,
    /// A length or depth over a configured limit.
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The configured limit.
        limit: u64,
        /// What the input asked for (for a line: limit + 1, since the
        /// line's end may not have arrived).
        found: u64,
    },
}

/// A decoding error: its kind and the offset of the offending byte in the
/// stream fed to the decoder (counted from the first byte it was given).
///
/// After an error the stream cannot be resynchronised: the decoder keeps
/// returning the same error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    offset: u64,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: u64) -> Self {
        Error { kind, offset }
    }

    /// What was wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Byte offset of the offending byte in the decoded stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadType { byte } => {
                write!(f, "bad type byte {}", std::ascii::escape_default(*byte))
            }
            ErrorKind::BadLength => f.write_str("bad length"),
            ErrorKind::BadInteger => f.write_str("bad integer"),
            ErrorKind::BadDouble => f.write_str("bad double"),
            ErrorKind::BadBoolean => f.write_str("bad boolean"),
            ErrorKind::BadBigNumber => f.write_str("bad big number"),
            ErrorKind::BadVerbatim => f.write_str("bad verbatim string header"),
            ErrorKind::BadTerminator => f.write_str("missing or misplaced CRLF"),
            ErrorKind::Streamed => f.write_str("RESP3 streamed types are not supported"),
            ErrorKind::NotACommand => {
                f.write_str("a frame that is not a command (a non-empty array of bulk strings)")
            }
            ErrorKind::LimitExceeded { what, limit, found } => {
                write!(f, "{what} {found} over the limit of {limit}")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESP: {} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for Error {}

/// A frame that is not a command: commands are non-empty arrays of bulk
/// strings. The frame is handed back.
#[derive(Debug, Clone, PartialEq)]
pub struct NotACommand(pub Frame);

impl fmt::Display for NotACommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RESP: a command is a non-empty array of bulk strings, got {}",
            self.0.kind_name()
        )
    }
}

impl std::error::Error for NotACommand {}
