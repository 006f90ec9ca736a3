//! Ziplist (Redis < 7): `<zlbytes:u32><zltail:u32><zllen:u16> <entry>* 0xFF`,
//! each entry `<prevlen><encoding><data>`.

use super::{BlobResult, Element, bad, le, sign_extend};
use bytes::Bytes;

const HEADER_BYTES: usize = 10;

/// Iterates over a ziplist's entries.
#[derive(Debug)]
pub(crate) struct Ziplist {
    data: Bytes,
    pos: usize,
    /// Entries the header claims (`None` when it says 65535: unknown).
    pub(crate) count: Option<u64>,
    seen: u64,
}

impl Ziplist {
    pub(crate) fn new(data: Bytes) -> BlobResult<Self> {
        if data.len() < HEADER_BYTES + 1 {
            return bad("ziplist shorter than its header", 0);
        }
        let total = le(&data, 0, 4, "ziplist header")? as usize;
        if total != data.len() {
            return bad("ziplist total length differs from its blob", 0);
        }
        if data[data.len() - 1] != 0xff {
            return bad("ziplist without its end byte", data.len() - 1);
        }
        let count = le(&data, 8, 2, "ziplist header")?;
        Ok(Ziplist {
            data,
            pos: HEADER_BYTES,
            count: (count != 65535).then_some(count),
            seen: 0,
        })
    }

    /// The next entry, `None` at the end byte.
    pub(crate) fn next_element(&mut self) -> BlobResult<Option<Element>> {
        let d = &self.data;
        let at = self.pos;
        let Some(&first) = d.get(at) else {
            return bad("ziplist entry past the end", at);
        };
        if first == 0xff {
            if at != d.len() - 1 {
                return bad("ziplist end byte before the end", at);
            }
            if let Some(c) = self.count
                && c != self.seen
            {
                return bad("ziplist entry count differs from its header", at);
            }
            return Ok(None);
        }
        let mut p = at + if first < 254 { 1 } else { 5 };
        let Some(&enc) = d.get(p) else {
            return bad("ziplist entry past the end", at);
        };
        let elem = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                p += 1;
                self.str_at(p, n, &mut p)?
            }
            1 => {
                let n =
                    ((usize::from(enc & 0x3f)) << 8) | le(d, p + 1, 1, "ziplist length")? as usize;
                p += 2;
                self.str_at(p, n, &mut p)?
            }
            2 => {
                let Some(s) = d.get(p + 1..p + 5) else {
                    return bad("ziplist length past the end", p);
                };
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                p += 5;
                self.str_at(p, n, &mut p)?
            }
            _ => {
                let (v, n) = match enc {
                    0xc0 => (sign_extend(le(d, p + 1, 2, "ziplist int16")?, 16), 2),
                    0xd0 => (sign_extend(le(d, p + 1, 4, "ziplist int32")?, 32), 4),
                    0xe0 => (le(d, p + 1, 8, "ziplist int64")? as i64, 8),
                    0xf0 => (sign_extend(le(d, p + 1, 3, "ziplist int24")?, 24), 3),
                    0xfe => (sign_extend(le(d, p + 1, 1, "ziplist int8")?, 8), 1),
                    0xf1..=0xfd => (i64::from(enc & 0x0f) - 1, 0),
                    _ => return bad("ziplist entry encoding", p),
                };
                p += 1 + n;
                Element::Int(v)
            }
        };
        if p >= d.len() {
            return bad("ziplist entry past the end", at);
        }
        self.pos = p;
        self.seen += 1;
        Ok(Some(elem))
    }

    fn str_at(&self, start: usize, n: usize, next: &mut usize) -> BlobResult<Element> {
        match start.checked_add(n) {
            Some(end) if end < self.data.len() => {
                *next = end;
                Ok(Element::Bytes(self.data.slice(start..end)))
            }
            _ => bad("ziplist string past the end", start),
        }
    }
}
