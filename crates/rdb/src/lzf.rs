//! LZF decompression with exact output lengths and caps.
//!
//! Redis compresses strings with LZF and stores the uncompressed length
//! beside them. Decompression here never writes past that length, never
//! allocates more than it, and fails unless the output is exactly that long.
//! [`StreamDecoder`] decompresses in pieces with an 8 KiB window, so a
//! compressed 1 GB string needs no more memory than one piece.

use crate::error::ErrorKind;

/// The most one input byte can expand to: a 3-byte back reference yields at most 264 bytes.
const MAX_EXPANSION: usize = 88;

/// The furthest an LZF back reference can reach.
const WINDOW_BYTES: usize = 8192 + 256;

fn err(what: &'static str) -> ErrorKind {
    ErrorKind::Lzf { what }
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
///
/// # Errors
/// [`ErrorKind::Lzf`] when the data is malformed, refers before the start of
/// the output, or expands to any other length.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, ErrorKind> {
    if out_len > input.len().saturating_mul(MAX_EXPANSION) {
        // Refuse before allocating what a few bytes claim.
        return Err(err("stated length beyond what the input can expand to"));
    }
    let mut out = Vec::with_capacity(out_len);
    let used = run(input, &mut out, 0, out_len, true)?;
    debug_assert_eq!(used, input.len());
    if out.len() != out_len {
        return Err(err("output shorter than its stated length"));
    }
    Ok(out)
}

/// Decodes tokens from `input` appending to `out`, where `out[..floor]` is
/// history that back references may reach. Stops before an incomplete token
/// unless `last`, and returns how many input bytes were used.
fn run(
    input: &[u8],
    out: &mut Vec<u8>,
    floor: usize,
    max_out: usize,
    last: bool,
) -> Result<usize, ErrorKind> {
    let limit = floor + max_out;
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        if ctrl < 32 {
            let n = ctrl + 1;
            if ip + 1 + n > input.len() {
                if last {
                    return Err(err("literal run past the end of the input"));
                }
                break;
            }
            if out.len() + n > limit {
                return Err(err("output longer than its stated length"));
            }
            out.extend_from_slice(&input[ip + 1..ip + 1 + n]);
            ip += 1 + n;
        } else {
            let mut len = ctrl >> 5;
            let mut p = ip + 1;
            if len == 7 {
                if p >= input.len() {
                    if last {
                        return Err(err("back reference past the end of the input"));
                    }
                    break;
                }
                len += input[p] as usize;
                p += 1;
            }
            if p >= input.len() {
                if last {
                    return Err(err("back reference past the end of the input"));
                }
                break;
            }
            let back = ((ctrl & 0x1f) << 8) + input[p] as usize + 1;
            p += 1;
            len += 2;
            if back > out.len() {
                return Err(err("back reference before the start of the output"));
            }
            if out.len() + len > limit {
                return Err(err("output longer than its stated length"));
            }
            let from = out.len() - back;
            if back >= len {
                out.extend_from_within(from..from + len);
            } else {
                // An overlapping copy repeats the last `back` bytes: copy the
                // periodic run in doubling steps (each a multiple of the period).
                let mut left = len;
                while left > 0 {
                    let n = left.min(out.len() - from);
                    out.extend_from_within(from..from + n);
                    left -= n;
                }
            }
            ip = p;
        }
    }
    Ok(ip)
}

/// Decompresses one LZF stream fed in pieces, emitting output in pieces.
#[derive(Debug)]
pub struct StreamDecoder {
    carry: Vec<u8>,
    history: Vec<u8>,
    remaining_out: usize,
}

impl StreamDecoder {
    /// A decoder for a stream that expands to `out_len` bytes.
    pub fn new(out_len: usize) -> Self {
        StreamDecoder {
            carry: Vec::new(),
            history: Vec::new(),
            remaining_out: out_len,
        }
    }

    /// True before anything was fed.
    pub fn is_fresh(&self) -> bool {
        self.carry.is_empty() && self.history.is_empty()
    }

    /// Output bytes still expected.
    pub fn out_len(&self) -> usize {
        self.remaining_out
    }

    /// Feeds the next piece of compressed input; `last` marks the final one.
    /// Returns the output it completes.
    ///
    /// # Errors
    /// As [`decompress`]; on the last piece, also when the total output is short.
    pub fn feed(&mut self, input: &[u8], last: bool) -> Result<Vec<u8>, ErrorKind> {
        let joined;
        let data: &[u8] = if self.carry.is_empty() {
            input
        } else {
            let mut j = std::mem::take(&mut self.carry);
            j.extend_from_slice(input);
            joined = j;
            &joined
        };
        let mut out = std::mem::take(&mut self.history);
        let floor = out.len();
        let used = run(data, &mut out, floor, self.remaining_out, last)?;
        self.carry = data[used..].to_vec();
        let produced = out.len() - floor;
        self.remaining_out -= produced;
        if last && self.remaining_out != 0 {
            return Err(err("output shorter than its stated length"));
        }
        let keep_from = out.len().saturating_sub(WINDOW_BYTES);
        let piece = out[floor..].to_vec();
        out.drain(..keep_from);
        self.history = out;
        Ok(piece)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decompresses_literals_and_overlapping_refs() {
        // "abc" literal, then a back reference of length 6 at distance 3.
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&input, 9).unwrap(), b"abcabcabc");
    }

    #[test]
    fn rejects_wrong_lengths_and_bad_refs() {
        let input = [2, b'a', b'b', b'c'];
        assert!(decompress(&input, 4).is_err());
        assert!(decompress(&input, 2).is_err());
        assert!(decompress(&[(1 << 5), 9], 3).is_err());
        assert!(decompress(&[5, b'a'], 6).is_err());
    }

    #[test]
    fn streaming_matches_whole_at_every_split() {
        let input = [2, b'a', b'b', b'c', (7 << 5), 10, 2, 1, b'x', b'y'];
        let whole = decompress(&input, 3 + 19 + 2).unwrap();
        for split in 0..=input.len() {
            let mut s = StreamDecoder::new(whole.len());
            let mut out = s.feed(&input[..split], false).unwrap();
            out.extend(s.feed(&input[split..], true).unwrap());
            assert_eq!(out, whole, "split at {split}");
        }
    }
}
