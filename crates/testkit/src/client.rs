//! A minimal synchronous RESP2 client, enough to drive a test server.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a read or write may block before the client gives up.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Deepest array nesting accepted in a reply (XINFO STREAM FULL needs 5).
const MAX_REPLY_DEPTH: usize = 32;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR ...`: a server error, as data.
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$3\r\nfoo`, `None` for the null bulk `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`, `None` for the null array `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The bytes of a bulk string or a status; `None` otherwise.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(b)) => Some(b),
            Reply::Status(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Like [`Reply::as_bytes`], as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An integer reply, or a bulk string holding a decimal integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            Reply::Bulk(Some(_)) => self.as_str().and_then(|s| s.parse().ok()),
            _ => None,
        }
    }

    /// The elements of an array (a null array has none).
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(a)) => Some(a),
            Reply::Array(None) => Some(&[]),
            _ => None,
        }
    }

    /// Takes the bytes out of a bulk string or status.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Reply::Bulk(Some(b)) => Some(b),
            Reply::Status(s) => Some(s.into_bytes()),
            _ => None,
        }
    }

    /// Takes the elements out of an array (a null array has none).
    pub fn into_array(self) -> Option<Vec<Reply>> {
        match self {
            Reply::Array(Some(a)) => Some(a),
            Reply::Array(None) => Some(Vec::new()),
            _ => None,
        }
    }

    /// True for `$-1` and `*-1`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Bulk(None) | Reply::Array(None))
    }

    /// True for a server error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Turns a server error into an [`io::Error`] (kind `Other`), passes anything else through.
    ///
    /// # Errors
    /// When the reply is [`Reply::Error`].
    pub fn into_result(self) -> io::Result<Reply> {
        match self {
            Reply::Error(e) => Err(io::Error::other(format!("server error: {e}"))),
            other => Ok(other),
        }
    }
}

/// A connection to a Redis server speaking RESP2.
///
/// [`Client::cmd`] sends one command and waits for its reply. For pipelining,
/// queue commands with [`Client::send`] and read replies in order with
/// [`Client::recv`] (which flushes first).
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    in_flight: usize,
}

impl Client {
    /// Connects to `addr` (e.g. `127.0.0.1:6379`) with [`DEFAULT_IO_TIMEOUT`].
    ///
    /// # Errors
    /// When the connection fails.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        Client::from_stream(stream)
    }

    /// Wraps a connected stream.
    ///
    /// # Errors
    /// When the socket options cannot be set.
    pub fn from_stream(stream: TcpStream) -> io::Result<Client> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(DEFAULT_IO_TIMEOUT))?;
        stream.set_write_timeout(Some(DEFAULT_IO_TIMEOUT))?;
        let write_half = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer: BufWriter::with_capacity(64 * 1024, write_half),
            in_flight: 0,
        })
    }

    /// Changes the read and write timeouts (`None`: block forever).
    ///
    /// # Errors
    /// When the socket options cannot be set.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(timeout)?;
        self.writer.get_ref().set_write_timeout(timeout)
    }

    /// Sends one command and returns its reply; a server error is `Ok(Reply::Error)`.
    ///
    /// Replies to commands queued with [`Client::send`] are read (and dropped) first.
    ///
    /// # Errors
    /// On I/O errors or a malformed reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        while self.in_flight > 0 {
            self.recv()?;
        }
        self.send(args)?;
        self.recv()
    }

    /// Like [`Client::cmd`], with a server error turned into an `Err`.
    ///
    /// # Errors
    /// On I/O errors, a malformed reply or a server error.
    pub fn cmd_ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.cmd(args)?.into_result()
    }

    /// Queues a command without waiting for its reply (buffered; [`Client::recv`] flushes).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        write!(self.writer, "*{}\r\n", args.len())?;
        for arg in args {
            let arg = arg.as_ref();
            write!(self.writer, "${}\r\n", arg.len())?;
            self.writer.write_all(arg)?;
            self.writer.write_all(b"\r\n")?;
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Writes queued commands to the socket.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Number of commands sent whose replies have not been read yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Flushes, then reads the next reply.
    ///
    /// # Errors
    /// On I/O errors or a malformed reply.
    pub fn recv(&mut self) -> io::Result<Reply> {
        self.writer.flush()?;
        let reply = read_reply(&mut self.reader, 0)?;
        self.in_flight = self.in_flight.saturating_sub(1);
        Ok(reply)
    }

    /// Reads one reply without flushing or counting it (for pushed data, e.g. after MONITOR).
    ///
    /// # Errors
    /// On I/O errors or a malformed reply.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        read_reply(&mut self.reader, 0)
    }

    /// The underlying stream (e.g. for its peer address).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(invalid(format!(
            "reply line without CRLF: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(bytes: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad integer {:?}", String::from_utf8_lossy(bytes))))
}

fn read_reply(r: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    if depth > MAX_REPLY_DEPTH {
        return Err(invalid("reply nested too deeply"));
    }
    let line = read_line(r)?;
    let (&kind, rest) = line
        .split_first()
        .ok_or_else(|| invalid("empty reply line"))?;
    match kind {
        b'+' => Ok(Reply::Status(String::from_utf8_lossy(rest).into_owned())),
        b'-' => Ok(Reply::Error(String::from_utf8_lossy(rest).into_owned())),
        b':' => Ok(Reply::Int(parse_int(rest)?)),
        b'$' => {
            let len = parse_int(rest)?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| invalid("bulk length too large"))?;
            let mut buf = Vec::new();
            r.take(len as u64 + 2).read_to_end(&mut buf)?;
            if buf.len() != len + 2 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a bulk string",
                ));
            }
            if !buf.ends_with(b"\r\n") {
                return Err(invalid("bulk string without CRLF terminator"));
            }
            buf.truncate(len);
            Ok(Reply::Bulk(Some(buf)))
        }
        b'*' => {
            let len = parse_int(rest)?;
            if len < 0 {
                return Ok(Reply::Array(None));
            }
            let len = usize::try_from(len).map_err(|_| invalid("array length too large"))?;
            let mut items = Vec::with_capacity(len.min(1024));
            for _ in 0..len {
                items.push(read_reply(r, depth + 1)?);
            }
            Ok(Reply::Array(Some(items)))
        }
        other => Err(invalid(format!(
            "unexpected reply type byte {:?}",
            other as char
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut &bytes[..], 0)
    }

    #[test]
    fn parses_every_resp2_type() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
        assert_eq!(parse(b"-ERR x\r\n").unwrap(), Reply::Error("ERR x".into()));
        assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Int(-42));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::Array(None));
        assert_eq!(
            parse(b"$4\r\na\r\n\0\r\n").unwrap(),
            Reply::Bulk(Some(b"a\r\n\0".to_vec()))
        );
        assert_eq!(
            parse(b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n").unwrap(),
            Reply::Array(Some(vec![
                Reply::Int(1),
                Reply::Array(Some(vec![Reply::Bulk(Some(Vec::new()))]))
            ]))
        );
    }

    #[test]
    fn rejects_truncated_and_malformed_replies() {
        assert!(parse(b"$5\r\nab").is_err());
        assert!(parse(b"$2\r\nabXY").is_err());
        assert!(parse(b"*2\r\n:1\r\n").is_err());
        assert!(parse(b"?x\r\n").is_err());
        assert!(parse(b":12a\r\n").is_err());
        assert!(parse(b"+OK\n").is_err());
        assert!(parse(b"").is_err());
    }
}
