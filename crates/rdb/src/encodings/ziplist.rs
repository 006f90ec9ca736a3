//! Ziplist (Redis < 7): `<zlbytes:u32><zltail:u32><zllen:u16> <entry>* 0xFF`,
//! each entry `<prevlen><encoding><data>`.

use super::{BlobResult, Element, Frame, Names, bad, le, sign_extend};
use bytes::Bytes;

const HEADER_BYTES: usize = 10;

const NAMES: Names = Names {
    short: "ziplist shorter than its header",
    header: "ziplist header",
    total: "ziplist total length differs from its blob",
    no_end: "ziplist without its end byte",
    past_end: "ziplist entry past the end",
    early_end: "ziplist end byte before the end",
    count: "ziplist entry count differs from its header",
};

/// Iterates over a ziplist's entries.
#[derive(Debug)]
pub(crate) struct Ziplist(Frame);

impl Ziplist {
    pub(crate) fn new(data: Bytes) -> BlobResult<Self> {
        Frame::new(data, HEADER_BYTES, 8, &NAMES).map(Ziplist)
    }

    /// Entries the header claims (`None` when unknown).
    pub(crate) fn count(&self) -> Option<u64> {
        self.0.count
    }

    /// The next entry, `None` at the end byte.
    pub(crate) fn next_element(&mut self) -> BlobResult<Option<Element>> {
        let Some(first) = self.0.entry_start()? else {
            return Ok(None);
        };
        let d = &self.0.data;
        let at = self.0.pos;
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
        self.0.pos = p;
        self.0.seen += 1;
        Ok(Some(elem))
    }

    fn str_at(&self, start: usize, n: usize, next: &mut usize) -> BlobResult<Element> {
        match start.checked_add(n) {
            Some(end) if end < self.0.data.len() => {
                *next = end;
                Ok(Element::Bytes(self.0.data.slice(start..end)))
            }
            _ => bad("ziplist string past the end", start),
        }
    }
}
