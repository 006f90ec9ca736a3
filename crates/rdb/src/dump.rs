//! DUMP/RESTORE payloads: value bytes, 2-byte RDB version, CRC64.
//!
//! `DUMP` returns a value serialized exactly as in an RDB file (type byte
//! first), followed by the RDB version as a little-endian `u16` and the CRC64
//! of everything before it, little-endian. With [`crate::Config::raw`] the
//! decoder emits each value's bytes as [`crate::Item::Raw`] chunks; feed them
//! to a [`PayloadBuilder`] to get what `RESTORE` accepts.
//!
//! ```
//! use ferry_rdb::dump::{PayloadBuilder, split};
//!
//! // A string value "hi": type 0, length 2, bytes.
//! let mut b = PayloadBuilder::new(9);
//! b.push(&[0, 2, b'h', b'i']);
//! let payload = b.finish();
//! let (value, version) = split(&payload)?;
//! assert_eq!((value, version), (&[0, 2, b'h', b'i'][..], 9));
//! # Ok::<(), ferry_rdb::dump::PayloadError>(())
//! ```

use std::fmt;

/// Bytes after the value in a payload: the RDB version (2) and the CRC64 (8).
const TRAILER_LEN: usize = 10;

/// Builds a DUMP payload from a value's serialized bytes, pushed in pieces.
#[derive(Debug)]
pub struct PayloadBuilder {
    buf: Vec<u8>,
    version: u16,
}

impl PayloadBuilder {
    /// A payload that will claim RDB version `version`.
    pub fn new(version: u16) -> Self {
        PayloadBuilder {
            buf: Vec::new(),
            version,
        }
    }

    /// Appends value bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        // Room for the trailer too, so that a value pushed in one piece
        // costs one allocation and `finish` fills it exactly.
        self.buf.reserve(bytes.len() + TRAILER_LEN);
        self.buf.extend_from_slice(bytes);
    }

    /// The value bytes pushed so far.
    pub fn value(&self) -> &[u8] {
        &self.buf
    }

    /// Value bytes pushed so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends the version and CRC64 trailer and returns the payload.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&self.version.to_le_bytes());
        let crc = crate::crc64(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// The whole payload for one value's bytes.
pub fn payload(value: &[u8], version: u16) -> Vec<u8> {
    let mut b = PayloadBuilder::new(version);
    b.push(value);
    b.finish()
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Shorter than the 10-byte trailer plus a type byte.
    TooShort,
    /// The CRC64 does not match.
    Checksum {
        /// Stored in the payload.
        expected: u64,
        /// Computed.
        actual: u64,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::TooShort => f.write_str("DUMP payload too short"),
            PayloadError::Checksum { expected, actual } => write!(
                f,
                "DUMP payload checksum mismatch: stored {expected:#018x}, computed {actual:#018x}"
            ),
        }
    }
}

impl std::error::Error for PayloadError {}

/// Splits a payload into its value bytes and RDB version, verifying the CRC64
/// (a stored CRC of 0 is accepted, as Redis does when checksums are off).
///
/// # Errors
/// [`PayloadError`] when the payload is too short or its checksum is wrong.
pub fn split(payload: &[u8]) -> Result<(&[u8], u16), PayloadError> {
    if payload.len() < 11 {
        return Err(PayloadError::TooShort);
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let mut c = [0u8; 8];
    c.copy_from_slice(crc);
    let expected = u64::from_le_bytes(c);
    let actual = crate::crc64(body);
    if expected != 0 && expected != actual {
        return Err(PayloadError::Checksum { expected, actual });
    }
    let (value, ver) = body.split_at(body.len() - 2);
    Ok((value, u16::from_le_bytes([ver[0], ver[1]])))
}
