//! `--format keys`: one line per key, `db<TAB>type<TAB>key`.
//!
//! A key made of printable ASCII (space to `~`) that does not start with `"` is
//! written as is. Any other key (empty, binary, non-ASCII, with tabs or
//! newlines) is written quoted the way `redis-cli` shows strings: in double
//! quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` and `\xHH` escapes.
//! So every line is one key, and a key field starting with `"` is quoted.

use super::{Output, Summary};
use ferry_rdb::{Function, Item, KeyHeader};
use std::io::{self, Write};

/// Appends `key` as the key field of a `keys` line (raw or `redis-cli`-quoted).
pub fn write_key(out: &mut Vec<u8>, key: &[u8]) {
    let plain = !key.is_empty() && key[0] != b'"' && key.iter().all(|b| (0x20..0x7f).contains(b));
    if plain {
        out.extend_from_slice(key);
    } else {
        write_quoted(out, key);
    }
}

/// Appends `bytes` quoted like `redis-cli` (`sdscatrepr`).
pub fn write_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                out.extend_from_slice(b"\\x");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
    }
    out.push(b'"');
}

/// Writes `--format keys`.
#[derive(Debug)]
pub struct KeysOutput<W: Write> {
    out: W,
    line: Vec<u8>,
    summary: Summary,
}

impl<W: Write> KeysOutput<W> {
    /// Writes lines to `out`.
    pub fn new(out: W) -> Self {
        KeysOutput {
            out,
            line: Vec::new(),
            summary: Summary::default(),
        }
    }
}

impl<W: Write> Output for KeysOutput<W> {
    fn begin_key(&mut self, header: &KeyHeader) -> io::Result<()> {
        self.line.clear();
        self.line
            .extend_from_slice(itoa::Buffer::new().format(header.db).as_bytes());
        self.line.push(b'\t');
        self.line.extend_from_slice(header.kind().name().as_bytes());
        self.line.push(b'\t');
        write_key(&mut self.line, &header.key);
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.summary.keys_written += 1;
        Ok(())
    }

    fn element(&mut self, _item: Item) -> io::Result<()> {
        Ok(())
    }

    fn end_key(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn function(&mut self, _function: &Function) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<Summary> {
        self.out.flush()?;
        Ok(self.summary.clone())
    }
}
