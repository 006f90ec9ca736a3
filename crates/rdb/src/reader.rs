//! A sync iterator over a [`std::io::Read`], on top of [`Decoder`].

use crate::decoder::{Config, Decoder};
use crate::error::ReadError;
use crate::item::Item;
use bytes::BytesMut;
use std::io::Read;

const READ_LEN_BYTES: usize = 256 * 1024;
/// Reads grow the buffer by at most this much at a time, so a length the
/// input claims is never allocated before the bytes arrive.
const MAX_READ_LEN_BYTES: usize = 8 * 1024 * 1024;

/// Iterates over the items of an RDB read from `R`.
///
/// Stops after [`Item::End`] or the first error. Bytes after the end of the RDB are not read.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    decoder: Decoder,
    buf: BytesMut,
    eof: bool,
    stopped: bool,
}

impl<R: Read> Reader<R> {
    /// Reads with the default [`Config`].
    pub fn new(inner: R) -> Self {
        Self::with_config(inner, Config::default())
    }

    /// Reads with the given settings.
    pub fn with_config(inner: R, config: Config) -> Self {
        Reader {
            inner,
            decoder: Decoder::with_config(config),
            buf: BytesMut::new(),
            eof: false,
            stopped: false,
        }
    }

    /// The decoder (offset, header).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        let want = self
            .decoder
            .needed()
            .clamp(READ_LEN_BYTES, MAX_READ_LEN_BYTES);
        let start = self.buf.len();
        self.buf.resize(start + want, 0);
        let res = loop {
            match self.inner.read(&mut self.buf[start..]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        match res {
            Ok(n) => {
                self.buf.truncate(start + n);
                if n == 0 {
                    self.eof = true;
                }
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(e.into())
            }
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Item, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped {
            return None;
        }
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(item)) => {
                    if matches!(item, Item::End { .. }) {
                        self.stopped = true;
                    }
                    return Some(Ok(item));
                }
                Ok(None) => {}
                Err(e) => {
                    self.stopped = true;
                    return Some(Err(e.into()));
                }
            }
            if self.eof {
                self.stopped = true;
                return Some(Err(match self.decoder.finish() {
                    Err(e) => e.into(),
                    Ok(()) => return None,
                }));
            }
            if let Err(e) = self.fill() {
                self.stopped = true;
                return Some(Err(e));
            }
        }
    }
}
