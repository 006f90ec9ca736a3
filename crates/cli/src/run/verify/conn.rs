//! A pipelined connection to one server, and the `--rate` limiter.
//!
//! [`Conn`] writes a whole batch of commands, then reads as many replies:
//! the batches `verify` sends are bounded (a few hundred keys, replies of
//! bounded size), and a server buffers its replies while the rest of a batch
//! is still arriving, so writing everything first cannot deadlock.

use bytes::BytesMut;
use ferry_resp::{Command, Decoder, Frame};
use ferry_sink::Credentials;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes read from the socket at a time, at least.
const READ_BUF_BYTES: usize = 64 * 1024;

/// Commands a server may get at once beyond the rate, as time.
const BURST: Duration = Duration::from_millis(100);

/// Spaces the commands sent to one server so that at most `rate` go out
/// per second, on average over any [`BURST`]: a batch of `n` commands is
/// due `n / rate` after the one before it, and goes out no earlier than
/// [`BURST`] before that.
#[derive(Debug)]
pub(crate) struct Limiter {
    per_op: Duration,
    /// When everything let through so far is due.
    due: Mutex<Instant>,
}

impl Limiter {
    /// A limiter for `rate` commands per second (at least 1).
    pub(crate) fn new(rate: u64) -> Limiter {
        Limiter {
            per_op: Duration::from_secs(1) / u32::try_from(rate.max(1)).unwrap_or(u32::MAX),
            due: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `ops` commands may be sent.
    pub(crate) async fn acquire(&self, ops: usize) {
        let wait = {
            let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            *due = (*due).max(now) + self.per_op * u32::try_from(ops).unwrap_or(u32::MAX);
            (*due - BURST).saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A connected, authenticated connection with its own buffers.
#[derive(Debug)]
pub(crate) struct Conn {
    /// `host:port`, for messages.
    pub(crate) addr: String,
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: Decoder,
    /// Commands written to `wbuf` and not yet sent.
    queued: usize,
    io_timeout: Duration,
    limiter: Option<Arc<Limiter>>,
    /// The database selected once what is queued has run.
    pub(crate) db: u64,
}

impl Conn {
    /// Connects to `addr` and authenticates. The error is a sentence
    /// without the address (the caller names the server).
    pub(crate) async fn open(
        addr: &str,
        creds: &Credentials,
        limiter: Option<Arc<Limiter>>,
    ) -> Result<Conn, String> {
        let stream =
            match tokio::time::timeout(creds.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
                Err(_) => {
                    return Err(format!(
                        "no connection after {} s",
                        creds.connect_timeout.as_secs()
                    ));
                }
            };
        stream
            .set_nodelay(true)
            .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
        let mut conn = Conn {
            addr: addr.to_owned(),
            stream,
            rbuf: BytesMut::with_capacity(READ_BUF_BYTES),
            wbuf: BytesMut::with_capacity(READ_BUF_BYTES),
            decoder: Decoder::new(),
            queued: 0,
            io_timeout: creds.io_timeout,
            limiter,
            db: 0,
        };
        if let Some(password) = &creds.password {
            let mut auth = Command::new("AUTH");
            if let Some(user) = &creds.user {
                auth.push_arg(user.as_str());
            }
            auth.push_arg(password.as_str());
            if let Frame::Error(e) = conn.request(&auth).await? {
                return Err(format!(
                    "the password was refused: {}",
                    String::from_utf8_lossy(&e)
                ));
            }
        }
        match conn.request(&Command::new("PING")).await? {
            Frame::Error(e) if e.starts_with(b"NOAUTH") => Err(format!(
                "{} (give its password)",
                String::from_utf8_lossy(&e)
            )),
            Frame::Error(e) => Err(format!("PING refused: {}", String::from_utf8_lossy(&e))),
            _ => Ok(conn),
        }
    }

    /// Queues `cmd`; nothing is sent until [`Conn::flush`].
    pub(crate) fn push(&mut self, cmd: &Command) {
        cmd.encode(&mut self.wbuf);
        self.queued += 1;
    }

    /// Queues `count` commands already encoded in `wire`.
    pub(crate) fn push_encoded(&mut self, wire: &[u8], count: usize) {
        self.wbuf.extend_from_slice(wire);
        self.queued += count;
    }

    /// Sends what is queued (waiting for the limiter first); returns how
    /// many replies to read.
    pub(crate) async fn flush(&mut self) -> Result<usize, String> {
        let n = std::mem::take(&mut self.queued);
        if n == 0 {
            return Ok(0);
        }
        if let Some(limiter) = &self.limiter {
            limiter.acquire(n).await;
        }
        let write = tokio::time::timeout(self.io_timeout, self.stream.write_all(&self.wbuf));
        match write.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("cannot send: {e}")),
            Err(_) => {
                return Err(format!(
                    "could not send for {} s",
                    self.io_timeout.as_secs()
                ));
            }
        }
        self.wbuf.clear();
        Ok(n)
    }

    /// Reads the next reply.
    pub(crate) async fn read(&mut self) -> Result<Frame, String> {
        loop {
            match self.decoder.decode(&mut self.rbuf) {
                Ok(Some((frame, _))) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(format!("unreadable reply: {e}")),
            }
            self.rbuf.reserve(READ_BUF_BYTES);
            let read = tokio::time::timeout(self.io_timeout, self.stream.read_buf(&mut self.rbuf));
            match read.await {
                Ok(Ok(0)) => return Err("the server closed the connection".into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("cannot read: {e}")),
                Err(_) => {
                    return Err(format!("no reply for {} s", self.io_timeout.as_secs()));
                }
            }
        }
    }

    /// Sends `cmd` alone and returns its reply (an error reply is a frame).
    pub(crate) async fn request(&mut self, cmd: &Command) -> Result<Frame, String> {
        self.push(cmd);
        self.flush().await?;
        self.read().await
    }

    /// Sends `cmds` and returns their replies, in order.
    pub(crate) async fn pipeline(&mut self, cmds: &[Command]) -> Result<Vec<Frame>, String> {
        for cmd in cmds {
            self.push(cmd);
        }
        let n = self.flush().await?;
        let mut replies = Vec::with_capacity(n);
        for _ in 0..n {
            replies.push(self.read().await?);
        }
        Ok(replies)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limiter_spaces_batches_by_their_size() {
        let limiter = Limiter::new(10_000);
        let started = Instant::now();
        // Within the burst: at once.
        limiter.acquire(500).await;
        limiter.acquire(500).await;
        assert!(started.elapsed() < Duration::from_millis(50));
        // 2000 more: due at 300 ms, sent at 200 ms.
        limiter.acquire(2000).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(199), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
    }
}
