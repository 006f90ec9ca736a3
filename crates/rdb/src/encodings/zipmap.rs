//! Zipmap (Redis < 2.6 hashes): `<zmlen:u8> (<len>key<len><free>value<free bytes>)* 0xFF`.
//! Lengths are one byte below 254, else 254 and a 4-byte little-endian length.

use super::{BlobResult, bad, le};
use bytes::Bytes;

/// Iterates over a zipmap's field/value pairs.
#[derive(Debug)]
pub(crate) struct Zipmap {
    data: Bytes,
    pos: usize,
    /// Pairs the header claims (`None` when 254 or more).
    pub(crate) count: Option<u64>,
}

impl Zipmap {
    pub(crate) fn new(data: Bytes) -> BlobResult<Self> {
        let Some(&n) = data.first() else {
            return bad("empty zipmap", 0);
        };
        Ok(Zipmap {
            data,
            pos: 1,
            count: (n < 254).then_some(u64::from(n)),
        })
    }

    fn len_at(&mut self) -> BlobResult<Option<usize>> {
        let at = self.pos;
        let Some(&b) = self.data.get(at) else {
            return bad("zipmap entry past the end", at);
        };
        match b {
            0xff => Ok(None),
            254 => {
                let n = le(&self.data, at + 1, 4, "zipmap length")? as usize;
                self.pos += 5;
                Ok(Some(n))
            }
            n => {
                self.pos += 1;
                Ok(Some(n as usize))
            }
        }
    }

    fn take(&mut self, n: usize) -> BlobResult<Bytes> {
        let at = self.pos;
        match at.checked_add(n) {
            Some(end) if end <= self.data.len() => {
                self.pos = end;
                Ok(self.data.slice(at..end))
            }
            _ => bad("zipmap string past the end", at),
        }
    }

    pub(crate) fn next_pair(&mut self) -> BlobResult<Option<(Bytes, Bytes)>> {
        let Some(klen) = self.len_at()? else {
            return Ok(None);
        };
        let key = self.take(klen)?;
        let Some(vlen) = self.len_at()? else {
            return bad("zipmap key without a value", self.pos);
        };
        let Some(&free) = self.data.get(self.pos) else {
            return bad("zipmap entry past the end", self.pos);
        };
        self.pos += 1;
        let value = self.take(vlen)?;
        self.take(usize::from(free))?;
        Ok(Some((key, value)))
    }
}
