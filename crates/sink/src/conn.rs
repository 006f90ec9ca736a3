//! One connection set up for use: connected, authenticated, and able to
//! send a command and wait for its reply (for setup and queries; writes go
//! through the pipelined [`crate::pipe`]).

use crate::error::Error;
use bytes::BytesMut;
use ferry_resp::{Command, Decoder, Frame};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a target is and how to log in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// ACL user name (Redis 6+); `None` for the default user.
    pub user: Option<String>,
    /// Password; `None` when the target has none.
    pub password: Option<String>,
    /// Longest wait to connect.
    pub connect_timeout: Duration,
    /// Longest wait for a reply.
    pub io_timeout: Duration,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            user: None,
            password: None,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(60),
        }
    }
}

/// A connected, authenticated connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) addr: String,
    pub(crate) stream: TcpStream,
    pub(crate) buf: BytesMut,
    pub(crate) decoder: Decoder,
    io_timeout: Duration,
}

impl Conn {
    /// Connects to `addr` and authenticates.
    pub(crate) async fn open(addr: &str, creds: &Credentials) -> Result<Conn, Error> {
        let stream =
            match tokio::time::timeout(creds.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => {
                    return Err(Error::Connect {
                        addr: addr.to_owned(),
                        source,
                    });
                }
                Err(_) => {
                    return Err(Error::Timeout {
                        addr: addr.to_owned(),
                        what: "connecting",
                        seconds: creds.connect_timeout.as_secs(),
                    });
                }
            };
        // Pipelined batches are flushed explicitly; small setup commands
        // must not wait for Nagle.
        stream.set_nodelay(true).map_err(|e| Error::io(addr, e))?;
        let mut conn = Conn {
            addr: addr.to_owned(),
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            decoder: Decoder::new(),
            io_timeout: creds.io_timeout,
        };
        if let Some(password) = &creds.password {
            let mut auth = Command::new("AUTH");
            if let Some(user) = &creds.user {
                auth.push_arg(user.as_str());
            }
            auth.push_arg(password.as_str());
            if let Frame::Error(e) = conn.request(&auth).await? {
                return Err(Error::Auth {
                    addr: addr.to_owned(),
                    message: String::from_utf8_lossy(&e).into_owned(),
                });
            }
        }
        match conn.request(&Command::new("PING")).await? {
            Frame::Error(e) if e.starts_with(b"NOAUTH") => Err(Error::Auth {
                addr: addr.to_owned(),
                message: format!(
                    "{} (give the target's password)",
                    String::from_utf8_lossy(&e)
                ),
            }),
            Frame::Error(e) if e.starts_with(b"WRONGPASS") || e.starts_with(b"NOPERM") => {
                Err(Error::Auth {
                    addr: addr.to_owned(),
                    message: String::from_utf8_lossy(&e).into_owned(),
                })
            }
            _ => Ok(conn),
        }
    }

    /// Sends `cmd` and returns its reply (an error reply is a frame, not an
    /// `Err`).
    pub(crate) async fn request(&mut self, cmd: &Command) -> Result<Frame, Error> {
        let bytes = cmd.to_bytes();
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|e| Error::io(&self.addr, e))?;
        self.read_frame().await
    }

    /// Sends `cmd` and returns its reply, turning an error reply into
    /// [`Error::Setup`] naming `cmd`.
    pub(crate) async fn query(&mut self, cmd: &Command) -> Result<Frame, Error> {
        match self.request(cmd).await? {
            Frame::Error(e) => Err(Error::setup(
                &self.addr,
                String::from_utf8_lossy(cmd.name()).into_owned(),
                String::from_utf8_lossy(&e).into_owned(),
            )),
            frame => Ok(frame),
        }
    }

    async fn read_frame(&mut self) -> Result<Frame, Error> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some((frame, _))) => return Ok(frame),
                Ok(None) => {}
                Err(source) => {
                    return Err(Error::Protocol {
                        addr: self.addr.clone(),
                        source,
                    });
                }
            }
            let read = tokio::time::timeout(self.io_timeout, self.stream.read_buf(&mut self.buf));
            match read.await {
                Ok(Ok(0)) => {
                    return Err(Error::io(
                        &self.addr,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the server closed the connection",
                        ),
                    ));
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(Error::io(&self.addr, e)),
                Err(_) => {
                    return Err(Error::Timeout {
                        addr: self.addr.clone(),
                        what: "a reply",
                        seconds: self.io_timeout.as_secs(),
                    });
                }
            }
        }
    }
}

/// A connection for requests of one's own (checks, verification):
/// connected and authenticated like the sink's, one request or one pipelined
/// batch at a time.
#[derive(Debug)]
pub struct Client(Conn);

impl Client {
    /// Connects to `addr` and authenticates.
    ///
    /// # Errors
    /// The server cannot be reached in time or refuses the credentials.
    pub async fn open(addr: &str, credentials: &Credentials) -> Result<Client, Error> {
        Conn::open(addr, credentials).await.map(Client)
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.0.addr
    }

    /// Sends `cmd` and returns its reply; an error reply is a frame.
    ///
    /// # Errors
    /// The connection broke, timed out, or the reply is not RESP.
    pub async fn request(&mut self, cmd: &Command) -> Result<Frame, Error> {
        self.0.request(cmd).await
    }

    /// Sends every command in one write and returns their replies, in order;
    /// error replies are frames.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn pipeline(&mut self, cmds: &[Command]) -> Result<Vec<Frame>, Error> {
        let mut out = BytesMut::with_capacity(cmds.iter().map(Command::encoded_len).sum());
        for cmd in cmds {
            cmd.encode(&mut out);
        }
        self.0
            .stream
            .write_all(&out)
            .await
            .map_err(|e| Error::io(&self.0.addr, e))?;
        let mut replies = Vec::with_capacity(cmds.len());
        for _ in cmds {
            replies.push(self.0.read_frame().await?);
        }
        Ok(replies)
    }
}

/// The text of a bulk or simple string reply.
pub(crate) fn text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Frame::Verbatim { text, .. } => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    }
}

/// Sends one command on a connection of its own (connected and
/// authenticated as `credentials` say) and returns the reply.
///
/// # Errors
///
/// The server cannot be reached, refuses the credentials, or answers with an
/// error ([`Error::Setup`] naming the command).
pub async fn query(addr: &str, credentials: &Credentials, cmd: &Command) -> Result<Frame, Error> {
    Conn::open(addr, credentials).await?.query(cmd).await
}

/// `(db, keys)` for each database of `INFO keyspace` text
/// (`db0:keys=3,expires=0,avg_ttl=0`).
pub fn keyspace(info: &str) -> impl Iterator<Item = (u64, u64)> + '_ {
    info.lines().filter_map(|line| {
        let (db, fields) = line.strip_prefix("db")?.split_once(':')?;
        let keys = fields
            .split(',')
            .find_map(|f| f.strip_prefix("keys="))?
            .parse()
            .ok()?;
        Some((db.parse().ok()?, keys))
    })
}

/// The value of `field` in `INFO` text (`field:value` lines).
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}
