//! Listpack (Redis 5+): `<total:u32><count:u16> <entry>* 0xFF`, each entry
//! `<encoding+data><backlen>`.

use super::{BlobResult, Element, Frame, Names, bad, le, sign_extend};
use bytes::Bytes;

const HEADER_BYTES: usize = 6;

const NAMES: Names = Names {
    short: "listpack shorter than its header",
    header: "listpack header",
    total: "listpack total length differs from its blob",
    no_end: "listpack without its end byte",
    past_end: "listpack entry past the end",
    early_end: "listpack end byte before the end",
    count: "listpack entry count differs from its header",
};

/// Iterates over a listpack's entries.
#[derive(Debug)]
pub(crate) struct Listpack(Frame);

impl Listpack {
    pub(crate) fn new(data: Bytes) -> BlobResult<Self> {
        Frame::new(data, HEADER_BYTES, 4, &NAMES).map(Listpack)
    }

    /// Entries the header claims (`None` when unknown).
    pub(crate) fn count(&self) -> Option<u64> {
        self.0.count
    }

    /// The next entry, `None` at the end byte.
    pub(crate) fn next_element(&mut self) -> BlobResult<Option<Element>> {
        let Some(b) = self.0.entry_start()? else {
            return Ok(None);
        };
        let d = &self.0.data;
        let at = self.0.pos;
        let (elem, enc_len): (Element, usize) = if b & 0x80 == 0 {
            (Element::Int(i64::from(b & 0x7f)), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (self.str_at(at + 1, n)?, 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let v = (u64::from(b & 0x1f) << 8) | le(d, at + 1, 1, "listpack 13-bit int")?;
            (Element::Int(sign_extend(v, 13)), 2)
        } else if b & 0xf0 == 0xe0 {
            let n =
                ((u64::from(b & 0x0f) << 8) | le(d, at + 1, 1, "listpack 12-bit length")?) as usize;
            (self.str_at(at + 2, n)?, 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = le(d, at + 1, 4, "listpack 32-bit length")? as usize;
                    (self.str_at(at + 5, n)?, 5 + n)
                }
                0xf1 => (
                    Element::Int(sign_extend(le(d, at + 1, 2, "listpack int16")?, 16)),
                    3,
                ),
                0xf2 => (
                    Element::Int(sign_extend(le(d, at + 1, 3, "listpack int24")?, 24)),
                    4,
                ),
                0xf3 => (
                    Element::Int(sign_extend(le(d, at + 1, 4, "listpack int32")?, 32)),
                    5,
                ),
                0xf4 => (Element::Int(le(d, at + 1, 8, "listpack int64")? as i64), 9),
                _ => return bad("listpack entry encoding", at),
            }
        };
        let back = backlen_size(enc_len);
        let end = at + enc_len + back;
        if end >= d.len() {
            return bad("listpack entry past the end", at);
        }
        self.0.pos = end;
        self.0.seen += 1;
        Ok(Some(elem))
    }

    fn str_at(&self, start: usize, n: usize) -> BlobResult<Element> {
        match start.checked_add(n) {
            Some(end) if end < self.0.data.len() => {
                Ok(Element::Bytes(self.0.data.slice(start..end)))
            }
            _ => bad("listpack string past the end", start),
        }
    }
}

/// Bytes the back-length of an entry of `len` bytes takes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}
