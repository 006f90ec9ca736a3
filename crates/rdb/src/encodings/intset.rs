//! Intset: `<encoding:u32><length:u32> <int>*`, integers of 2, 4 or 8 bytes, little-endian.

use super::{BlobResult, bad, le, sign_extend};
use bytes::Bytes;

/// Iterates over an intset's integers.
#[derive(Debug)]
pub(crate) struct Intset {
    data: Bytes,
    width: usize,
    next: u64,
    /// Number of integers.
    pub(crate) count: u64,
}

impl Intset {
    pub(crate) fn new(data: Bytes) -> BlobResult<Self> {
        let width = le(&data, 0, 4, "intset header")? as usize;
        if !matches!(width, 2 | 4 | 8) {
            return bad("intset encoding", 0);
        }
        let count = le(&data, 4, 4, "intset header")?;
        if 8 + count * width as u64 != data.len() as u64 {
            return bad("intset length differs from its blob", 4);
        }
        Ok(Intset {
            data,
            width,
            next: 0,
            count,
        })
    }

    pub(crate) fn next_int(&mut self) -> BlobResult<Option<i64>> {
        if self.next == self.count {
            return Ok(None);
        }
        let at = 8 + self.next as usize * self.width;
        let v = le(&self.data, at, self.width, "intset entry")?;
        self.next += 1;
        Ok(Some(sign_extend(v, 8 * self.width as u32)))
    }
}
