//! Compact encodings decoded from one bounded blob: listpack, ziplist,
//! intset and zipmap. Each iterator validates as it goes and reports errors
//! with the offset inside the blob; the decoder adds the blob's position.

pub(crate) mod intset;
pub(crate) mod listpack;
pub(crate) mod ziplist;
pub(crate) mod zipmap;

use crate::cursor::int_text;
use bytes::Bytes;

/// One entry of a compact encoding: bytes of the blob, or an integer.
#[derive(Debug, Clone)]
pub(crate) enum Element {
    Bytes(Bytes),
    Int(i64),
}

impl Element {
    /// The element as Redis would return it: integers as decimal text.
    pub(crate) fn into_bytes(self) -> Bytes {
        match self {
            Element::Bytes(b) => b,
            Element::Int(v) => int_text(v),
        }
    }

    /// The element as an integer, parsing text if needed.
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Element::Int(v) => Some(*v),
            Element::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        }
    }
}

/// An error inside a blob: what, and the offset in the blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlobError {
    pub(crate) what: &'static str,
    pub(crate) at: usize,
}

pub(crate) type BlobResult<T> = Result<T, BlobError>;

pub(crate) fn bad<T>(what: &'static str, at: usize) -> BlobResult<T> {
    Err(BlobError { what, at })
}

/// Little-endian integer of `n` bytes at `at`, bounds-checked.
pub(crate) fn le(data: &[u8], at: usize, n: usize, what: &'static str) -> BlobResult<u64> {
    let Some(s) = data.get(at..at + n) else {
        return bad(what, at);
    };
    let mut v = 0u64;
    for (i, b) in s.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    Ok(v)
}

/// Sign-extends the low `bits` of `v`.
pub(crate) fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}
