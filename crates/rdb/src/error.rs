//! The crate's error: a kind plus where it happened.

use bytes::Bytes;
use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input does not start with `REDIS` or `VALKEY` and a version.
    BadMagic,
    /// The header names a version this decoder does not know.
    UnsupportedVersion {
        /// Version from the header.
        version: u32,
    },
    /// A byte in opcode position that is neither a known opcode nor a value type.
    UnknownOpcode {
        /// The byte.
        byte: u8,
    },
    /// A value type byte that is not known for this file.
    UnknownType {
        /// The byte.
        byte: u8,
    },
    /// A length or element encoding that cannot be valid.
    Corrupt {
        /// What was being read and what was wrong.
        what: &'static str,
    },
    /// The input ended before the stream was complete.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// The CRC64 trailer does not match the content.
    ChecksumMismatch {
        /// Stored in the file.
        expected: u64,
        /// Computed over the file.
        actual: u64,
    },
    /// A length exceeds a configured limit.
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The configured limit.
        limit: u64,
        /// The length found.
        found: u64,
    },
    /// LZF data that does not decompress to its stated length.
    Lzf {
        /// What was wrong.
        what: &'static str,
    },
    /// A module value in the pre-GA format whose layout is unknown without the module.
    UnsupportedModule {
        /// The module's type name.
        name: String,
    },
    /// The stream continued after it was complete.
    AfterEnd,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadMagic => f.write_str("not an RDB file (bad magic)"),
            ErrorKind::UnsupportedVersion { version } => {
                write!(f, "unsupported RDB version {version}")
            }
            ErrorKind::UnknownOpcode { byte } => write!(f, "unknown opcode {byte:#04x}"),
            ErrorKind::UnknownType { byte } => write!(f, "unknown value type {byte}"),
            ErrorKind::Corrupt { what } => write!(f, "corrupt {what}"),
            ErrorKind::Truncated { what } => write!(f, "truncated input while reading {what}"),
            ErrorKind::ChecksumMismatch { expected, actual } => write!(
                f,
                "checksum mismatch: file says {expected:#018x}, content is {actual:#018x}"
            ),
            ErrorKind::LimitExceeded { what, limit, found } => {
                write!(f, "{what} of {found} exceeds the limit of {limit}")
            }
            ErrorKind::Lzf { what } => write!(f, "bad LZF data: {what}"),
            ErrorKind::UnsupportedModule { name } => write!(
                f,
                "module value of type {name} in the pre-GA format cannot be read without the module"
            ),
            ErrorKind::AfterEnd => f.write_str("data after the end of the RDB"),
        }
    }
}

/// A decoding error with the byte offset where it happened and, when known, the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    offset: u64,
    key: Option<Bytes>,
}

impl Error {
    /// Creates an error at a byte offset.
    pub fn new(kind: ErrorKind, offset: u64) -> Self {
        Error {
            kind,
            offset,
            key: None,
        }
    }

    /// Attaches the key being decoded.
    pub fn with_key(mut self, key: Bytes) -> Self {
        self.key = Some(key);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Byte offset in the stream (from the first header byte) where it happened.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The key being decoded, if any.
    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.kind, self.offset)?;
        if let Some(key) = &self.key {
            write!(f, " (key {:?})", key.escape_ascii().to_string())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Errors of the sync reader: the decoder's or the underlying reader's.
#[derive(Debug)]
pub enum ReadError {
    /// The data is bad.
    Decode(Error),
    /// Reading failed.
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Decode(e) => e.fmt(f),
            ReadError::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Decode(e) => Some(e),
            ReadError::Io(e) => Some(e),
        }
    }
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Decode(e)
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}
