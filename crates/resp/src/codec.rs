//! A `tokio_util::codec` adapter (feature `codec`).

use crate::{Command, Config, Decoder, Error, Frame};
use bytes::BytesMut;
use std::{fmt, io};

/// Frames a byte stream with [`Decoder`]; encodes [`Frame`]s and
/// [`Command`]s. Items are `(frame, wire_len)`.
#[derive(Debug, Default)]
pub struct Codec {
    decoder: Decoder,
}

impl Codec {
    /// A codec with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec with the given limits.
    pub fn with_config(config: Config) -> Self {
        Codec {
            decoder: Decoder::with_config(config),
        }
    }

    /// The decoder, for its offset and state.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
}

/// An I/O error of the underlying stream, or a protocol error.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// Reading or writing the stream failed.
    Io(io::Error),
    /// The peer sent malformed RESP.
    Protocol(Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Io(e) => e.fmt(f),
            CodecError::Protocol(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Io(e) => Some(e),
            CodecError::Protocol(e) => Some(e),
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        CodecError::Io(e)
    }
}

impl From<Error> for CodecError {
    fn from(e: Error) -> Self {
        CodecError::Protocol(e)
    }
}

impl tokio_util::codec::Decoder for Codec {
    type Item = (Frame, usize);
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        let out = self.decoder.decode(src)?;
        if out.is_none() {
            src.reserve(self.decoder.needed().min(1 << 20));
        }
        Ok(out)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None if src.is_empty() && self.decoder.is_idle() => Ok(None),
            None => Err(CodecError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "stream ended inside a RESP frame at byte {}",
                    self.decoder.offset() + src.len() as u64
                ),
            ))),
        }
    }
}

impl tokio_util::codec::Encoder<&Frame> for Codec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<Frame> for Codec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<&Command> for Codec {
    type Error = CodecError;

    fn encode(&mut self, cmd: &Command, dst: &mut BytesMut) -> Result<(), CodecError> {
        cmd.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<Command> for Codec {
    type Error = CodecError;

    fn encode(&mut self, cmd: Command, dst: &mut BytesMut) -> Result<(), CodecError> {
        cmd.encode(dst);
        Ok(())
    }
}
