//! RESP2 and RESP3, the Redis serialization protocol: frames, commands, a
//! resumable decoder that reports each frame's exact wire length, and an
//! encoder.
//!
//! Built for two jobs in Ferry: reading a master's replication stream, where
//! the offset a replica acknowledges is a count of bytes, so every frame's
//! wire length must be exact; and writing pipelined commands to a target,
//! where large replies arrive in many reads and must not be re-parsed from
//! the start each time.
//!
//! - [`Decoder`] takes bytes from a `BytesMut` and returns `(Frame, wire_len)`
//!   or `Ok(None)` for "need more" (with [`Decoder::needed`]). It keeps the
//!   pieces of an unfinished frame, so a frame arriving in many reads costs
//!   one pass. Bulk payloads are zero-copy [`bytes::Bytes`] split off the
//!   buffer.
//! - It is strict: the CRLF after every blob and line is checked; lengths and
//!   integers are read as Redis's `string2ll` reads them (no `+`, no leading
//!   zeros, no overflow); bad input is an [`Error`] with its byte offset.
//! - Every length that could make it reserve memory is checked against a
//!   [`Config`] limit first (bulk length, line length, elements, depth).
//! - [`Decoder::decode_command`] reads a stream of commands into
//!   [`RawCommand`]s: each command's exact wire bytes, with its parts read in
//!   place; no allocation per command, and the bytes can be forwarded as
//!   they are.
//! - [`Frame::encode`] and [`Command::encode`] write the wire form;
//!   [`Command`] builds commands from strings, bytes and numbers.
//! - Feature `codec`: `Codec`, a `tokio_util::codec` adapter.
//!
//! What it does not do: RESP3 streamed strings and aggregates (`$?`, `*?`,
//! which Redis and Valkey never send) are rejected with
//! [`ErrorKind::Streamed`]; inline commands (`PING\r\n` typed into telnet) are
//! not accepted; there is no I/O and no async runtime here.
//!
//! ```
//! use bytes::BytesMut;
//! use ferry_resp::{Command, Decoder, Frame};
//!
//! let mut dec = Decoder::new();
//! let mut buf = BytesMut::new();
//!
//! // A command arrives in two reads.
//! let wire = Command::new("SET").arg("key").arg("value").to_bytes();
//! buf.extend_from_slice(&wire[..10]);
//! assert_eq!(dec.decode(&mut buf)?, None);
//! buf.extend_from_slice(&wire[10..]);
//! let (frame, wire_len) = dec.decode(&mut buf)?.expect("complete");
//! assert_eq!(wire_len, wire.len());
//!
//! let cmd = Command::try_from(frame)?;
//! assert!(cmd.is("set"));
//! assert_eq!(&cmd.args()[0][..], b"key");
//!
//! // Replies, RESP3 included.
//! buf.extend_from_slice(b"+OK\r\n%1\r\n$1\r\na\r\n,1.5\r\n");
//! assert_eq!(dec.decode(&mut buf)?, Some((Frame::simple("OK"), 5)));
//! let (map, _) = dec.decode(&mut buf)?.expect("complete");
//! assert_eq!(map, Frame::Map(vec![(Frame::bulk("a"), Frame::Double(1.5))]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "codec")]
mod codec;
mod command;
mod decoder;
mod error;
mod fast;
mod frame;
mod raw;

#[cfg(feature = "codec")]
pub use codec::{Codec, CodecError};
pub use command::{Arg, Command};
pub use decoder::{
    Config, Decoder, MAX_BULK_LEN_BYTES, MAX_DEPTH, MAX_ELEMENTS, MAX_LINE_LEN_BYTES,
};
pub use error::{Error, ErrorKind, NotACommand};
pub use frame::Frame;
pub use raw::{Parts, RawCommand};
