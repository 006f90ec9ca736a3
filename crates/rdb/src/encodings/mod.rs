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

/// The error texts of one framed encoding (they must be `'static`).
#[derive(Debug)]
pub(crate) struct Names {
    pub(crate) short: &'static str,
    pub(crate) header: &'static str,
    pub(crate) total: &'static str,
    pub(crate) no_end: &'static str,
    pub(crate) past_end: &'static str,
    pub(crate) early_end: &'static str,
    pub(crate) count: &'static str,
}

/// The frame listpacks and ziplists share: a little-endian `u32` total
/// length first, a `u16` entry count (65535: unknown), entries, and an end
/// byte 0xFF that must be the blob's last byte.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) data: Bytes,
    /// Offset of the next entry.
    pub(crate) pos: usize,
    /// Entries the header claims (`None` when it says 65535: unknown).
    pub(crate) count: Option<u64>,
    /// Entries read so far.
    pub(crate) seen: u64,
    names: &'static Names,
}

impl Frame {
    pub(crate) fn new(
        data: Bytes,
        header_bytes: usize,
        count_at: usize,
        names: &'static Names,
    ) -> BlobResult<Self> {
        if data.len() < header_bytes + 1 {
            return bad(names.short, 0);
        }
        let total = le(&data, 0, 4, names.header)? as usize;
        if total != data.len() {
            return bad(names.total, 0);
        }
        if data[data.len() - 1] != 0xff {
            return bad(names.no_end, data.len() - 1);
        }
        let count = le(&data, count_at, 2, names.header)?;
        Ok(Frame {
            data,
            pos: header_bytes,
            count: (count != 65535).then_some(count),
            seen: 0,
            names,
        })
    }

    /// The first byte of the next entry, or `None` at a valid end byte.
    pub(crate) fn entry_start(&self) -> BlobResult<Option<u8>> {
        let at = self.pos;
        let Some(&b) = self.data.get(at) else {
            return bad(self.names.past_end, at);
        };
        if b != 0xff {
            return Ok(Some(b));
        }
        if at != self.data.len() - 1 {
            return bad(self.names.early_end, at);
        }
        if let Some(c) = self.count
            && c != self.seen
        {
            return bad(self.names.count, at);
        }
        Ok(None)
    }
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
