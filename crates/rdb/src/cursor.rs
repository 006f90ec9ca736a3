//! Bounded reads of one unit from the front of the input.
//!
//! A unit (an opcode with its payload, a key header, one element) is parsed
//! from a borrowed slice; if the slice is too short the parse stops with
//! [`Stop::More`] and nothing is consumed. Length prefixes are checked before
//! payloads are looked at, so a retry on a longer buffer costs O(1) for a
//! large element, never a re-scan.

use crate::error::ErrorKind;
use crate::lzf;
use bytes::Bytes;

/// Why a unit could not be parsed.
#[derive(Debug)]
pub(crate) enum Stop {
    /// At least this many more bytes are needed.
    More(usize),
    /// The input is bad at this position of the slice.
    Bad(ErrorKind, usize),
}

pub(crate) type Res<T> = Result<T, Stop>;

/// A decoded RDB length field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Len {
    /// A plain length.
    Plain(u64),
    /// A special string encoding (`11xxxxxx`): 0 int8, 1 int16, 2 int32, 3 LZF.
    Special(u8),
}

/// Where a string is, relative to the unit's start.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StrRef {
    /// Raw bytes at `start..start + len`.
    Raw { start: usize, len: usize },
    /// An integer-encoded string.
    Int(i64),
    /// LZF-compressed bytes at `start..start + clen`, decompressing to `len`.
    Lzf {
        start: usize,
        clen: usize,
        len: usize,
    },
}

impl StrRef {
    /// Materializes the string from the unit it was parsed from. `base` is the
    /// unit's offset in the stream, for errors.
    pub(crate) fn bytes(&self, unit: &Bytes) -> Result<Bytes, ErrorKind> {
        match *self {
            StrRef::Raw { start, len } => Ok(unit.slice(start..start + len)),
            StrRef::Int(v) => Ok(int_text(v)),
            StrRef::Lzf { start, clen, len } => {
                lzf::decompress(&unit[start..start + clen], len).map(Bytes::from)
            }
        }
    }
}

/// Decimal text of an integer, as Redis would return it.
pub(crate) fn int_text(v: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
}

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn bad<T>(&self, kind: ErrorKind) -> Res<T> {
        Err(Stop::Bad(kind, self.pos))
    }

    #[inline]
    fn need(&self, n: usize) -> Res<()> {
        let have = self.buf.len() - self.pos;
        if have < n {
            Err(Stop::More(n - have))
        } else {
            Ok(())
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Res<u8> {
        self.need(1)?;
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Skips `n` bytes, failing with `More` if they are not all there.
    pub(crate) fn skip(&mut self, n: u64) -> Res<()> {
        let have = (self.buf.len() - self.pos) as u64;
        if have < n {
            return Err(Stop::More(usize::try_from(n - have).unwrap_or(usize::MAX)));
        }
        self.pos += n as usize;
        Ok(())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u64_le(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64_be(&mut self) -> Res<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32_le(&mut self) -> Res<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn f64_le(&mut self) -> Res<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    pub(crate) fn f32_le(&mut self) -> Res<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// An RDB length field.
    pub(crate) fn length(&mut self) -> Res<Len> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => {
                let second = self.u8()?;
                Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(second))
            }
            2 => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                0x81 => Len::Plain(self.u64_be()?),
                _ => {
                    self.pos -= 1;
                    return self.bad(ErrorKind::Corrupt {
                        what: "length encoding",
                    });
                }
            },
            _ => Len::Special(first & 0x3f),
        })
    }

    /// A plain length; a special encoding here is corrupt.
    pub(crate) fn len(&mut self, what: &'static str) -> Res<u64> {
        let start = self.pos;
        match self.length()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(Stop::Bad(ErrorKind::Corrupt { what }, start)),
        }
    }

    /// A length that must fit in memory under `max`.
    pub(crate) fn bounded(&mut self, n: u64, max: u64, what: &'static str) -> Res<usize> {
        if n > max {
            return self.bad(ErrorKind::LimitExceeded {
                what,
                limit: max,
                found: n,
            });
        }
        usize::try_from(n).or_else(|_| {
            self.bad(ErrorKind::LimitExceeded {
                what,
                limit: max,
                found: n,
            })
        })
    }

    /// A string of at most `max` decoded bytes, located but not copied.
    pub(crate) fn string(&mut self, max: u64, what: &'static str) -> Res<StrRef> {
        let start = self.pos;
        match self.length()? {
            Len::Plain(n) => {
                let len = self.bounded(n, max, what)?;
                let at = self.pos;
                self.skip(len as u64)?;
                Ok(StrRef::Raw { start: at, len })
            }
            Len::Special(0) => Ok(StrRef::Int(i64::from(self.u8()? as i8))),
            Len::Special(1) => Ok(StrRef::Int(i64::from(i16::from_le_bytes(self.array()?)))),
            Len::Special(2) => Ok(StrRef::Int(i64::from(self.i32_le()?))),
            Len::Special(3) => {
                let clen = self.len("LZF compressed length")?;
                let len = self.len("LZF uncompressed length")?;
                let len = self.bounded(len, max, what)?;
                let clen = self.bounded(clen, max, what)?;
                let at = self.pos;
                self.skip(clen as u64)?;
                Ok(StrRef::Lzf {
                    start: at,
                    clen,
                    len,
                })
            }
            Len::Special(_) => Err(Stop::Bad(
                ErrorKind::Corrupt {
                    what: "string encoding",
                },
                start,
            )),
        }
    }

    /// Skips a string without bounding its length (for skip mode).
    pub(crate) fn skip_string(&mut self) -> Res<()> {
        let start = self.pos;
        match self.length()? {
            Len::Plain(n) => self.skip(n),
            Len::Special(0) => self.skip(1),
            Len::Special(1) => self.skip(2),
            Len::Special(2) => self.skip(4),
            Len::Special(3) => {
                let clen = self.len("LZF compressed length")?;
                self.len("LZF uncompressed length")?;
                self.skip(clen)
            }
            Len::Special(_) => Err(Stop::Bad(
                ErrorKind::Corrupt {
                    what: "string encoding",
                },
                start,
            )),
        }
    }
}
