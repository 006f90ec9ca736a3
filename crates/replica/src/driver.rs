//! The tokio driver: a [`Session`] over a TCP connection.

use crate::error::Error;
use crate::session::{Config, Event, Session};
use bytes::{Buf, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read from the socket at a time, at least.
const READ_BYTES: usize = 256 * 1024;

/// A replica connected to a master. Call [`Replica::next_event`] in a loop;
/// acknowledge what was applied with [`Replica::ack`].
#[derive(Debug)]
pub struct Replica {
    addr: String,
    stream: TcpStream,
    session: Session,
    buf: BytesMut,
    /// Bytes of the session not yet written: kept here so that a
    /// cancelled [`Replica::next_event`] loses nothing.
    pending: BytesMut,
}

impl Replica {
    /// Connects to `addr` and starts the handshake.
    ///
    /// # Errors
    ///
    /// The master cannot be reached within `timeout`.
    pub async fn connect(addr: &str, config: Config, timeout: Duration) -> Result<Replica, Error> {
        let io = |source| Error::Io {
            addr: addr.to_owned(),
            source,
        };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out",
                ))
            })?
            .map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        Ok(Replica {
            addr: addr.to_owned(),
            stream,
            session: Session::new(config),
            buf: BytesMut::with_capacity(READ_BYTES),
            pending: BytesMut::new(),
        })
    }

    /// The protocol state (offset, replication id).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Sends `REPLCONF ACK <applied>`.
    ///
    /// # Errors
    ///
    /// The connection broke.
    pub async fn ack(&mut self, applied: u64) -> Result<(), Error> {
        self.session.ack(applied);
        self.flush().await
    }

    /// Writes what the session has to send. Cancel-safe: what was not
    /// written stays in `pending`.
    async fn flush(&mut self) -> Result<(), Error> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.pending.extend_from_slice(&bytes);
        }
        while !self.pending.is_empty() {
            let n = self
                .stream
                .write(&self.pending)
                .await
                .map_err(|source| Error::Io {
                    addr: self.addr.clone(),
                    source,
                })?;
            self.pending.advance(n);
        }
        Ok(())
    }

    /// The next event, reading from the master as needed; `Ok(None)` when
    /// the master closed the connection cleanly between commands.
    /// Cancel-safe: dropping the future loses no byte read or to write.
    ///
    /// # Errors
    ///
    /// As [`Session::handle_input`], or the connection broke
    /// ([`Error::is_resumable`]).
    pub async fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            self.flush().await?;
            if let Some(event) = self.session.handle_input(&mut self.buf)? {
                return Ok(Some(event));
            }
            self.flush().await?;
            // Commands handed out keep slices of the buffer alive: reserving
            // on every read would allocate a new block each time.
            if self.buf.capacity() - self.buf.len() < READ_BYTES / 16 {
                self.buf.reserve(READ_BYTES);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| Error::Io {
                    addr: self.addr.clone(),
                    source,
                })?;
            if n == 0 {
                if self.session.is_streaming() && self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(Error::Io {
                    addr: self.addr.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the source closed the connection",
                    ),
                });
            }
        }
    }
}
