//! The sans-IO decoder state machine.

use crate::error::{Error, ErrorKind};
use crate::item::{Header, Item};
use bytes::BytesMut;

/// Decoder settings. Limits bound memory; defaults suit any real server's files.
#[derive(Debug, Clone)]
pub struct Config {
    /// Verify the CRC64 trailer (RDB 5+). A stored checksum of 0 means "disabled" and always passes.
    pub verify_checksum: bool,
    /// Also emit each value's serialized bytes as [`Item::Raw`] chunks (for DUMP payloads).
    pub raw: bool,
    /// Emit only key headers and [`Item::KeyEnd`], not elements (fast key listing).
    pub skip_values: bool,
    /// Size of [`Item::StringChunk`], [`Item::ModuleChunk`] and [`Item::Raw`] chunks in bytes.
    pub chunk_len: usize,
    /// Largest single element, key, AUX value or compact-encoding blob held whole, in bytes.
    pub max_element_len: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            verify_checksum: true,
            raw: false,
            skip_values: false,
            chunk_len: 64 * 1024,
            max_element_len: 512 * 1024 * 1024,
        }
    }
}

/// A resumable RDB decoder: feed it bytes, take [`Item`]s.
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    offset: u64,
    needed: usize,
    header: Option<Header>,
    done: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A decoder with the given settings.
    pub fn with_config(config: Config) -> Self {
        Decoder {
            config,
            offset: 0,
            needed: 9,
            header: None,
            done: false,
        }
    }

    /// Decodes the next item from the front of `buf`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds too little for the next item; then
    /// [`Decoder::needed`] tells how many more bytes are needed at least.
    ///
    /// # Errors
    /// Any malformed input, with its byte offset and the key being read.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Item>, Error> {
        let _ = buf;
        Err(Error::new(ErrorKind::Corrupt { what: "unimplemented" }, self.offset))
    }

    /// The least number of additional bytes the last `Ok(None)` needs.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Tells the decoder the input has ended.
    ///
    /// # Errors
    /// [`ErrorKind::Truncated`] unless the end of the RDB has been decoded.
    pub fn finish(&self) -> Result<(), Error> {
        if self.done {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Truncated { what: "rdb" }, self.offset))
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The header, once decoded.
    pub fn header(&self) -> Option<Header> {
        self.header
    }

    /// True once [`Item::End`] has been emitted.
    pub fn is_done(&self) -> bool {
        self.done
    }
}
