//! The replica's protocol, without I/O: fed the master's bytes, it says
//! what to send and what happened.

use crate::error::{Error, Step};
use bytes::{Buf, Bytes, BytesMut};
use ferry_resp::{Command, Decoder, RawCommand};

/// Length of the EOF mark of a diskless transfer (`$EOF:<40 bytes>`).
const EOF_MARK_LEN: usize = 40;
/// Longest line of the handshake accepted (replies, `$<len>` headers).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// How the session logs in and where it starts.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// ACL user (Redis 6+); `None` for the default user.
    pub user: Option<String>,
    /// Password; `None` when the master has none.
    pub password: Option<String>,
    /// The port announced with `REPLCONF listening-port` (shown by the
    /// master's `INFO replication`; nothing connects to it).
    pub listening_port: u16,
    /// Continue from here: the master's replication id and the offset of the
    /// last byte applied. `None` asks for a full copy (`PSYNC ? -1`).
    pub resume: Option<(String, u64)>,
}

/// What happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The master sends a full copy; the command stream that follows it
    /// starts at `offset`.
    FullResync {
        /// The master's replication id.
        replid: String,
        /// The replication offset of the snapshot.
        offset: u64,
    },
    /// The master continues from the offset asked for (`+CONTINUE`).
    Continue {
        /// The replication id from now on (it changes after a failover).
        replid: String,
    },
    /// The snapshot starts: `len` bytes, or `None` for a diskless transfer
    /// whose end is marked.
    SnapshotStart {
        /// Its length when known.
        len: Option<u64>,
    },
    /// A piece of the snapshot (an RDB file), in order.
    Snapshot(Bytes),
    /// The snapshot is complete.
    SnapshotEnd,
    /// A command of the stream, and the replication offset after it.
    Command {
        /// The command, as the master sent it.
        command: RawCommand,
        /// The offset of its last byte: what `REPLCONF ACK` reports once it
        /// is applied.
        offset: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the reply to a handshake command.
    Reply(Step),
    /// Waiting for the `$<len>` or `$EOF:<mark>` that starts the snapshot
    /// (newlines before it are keep-alives).
    SnapshotHeader,
    /// Inside a snapshot of known length.
    SnapshotLen { left: u64 },
    /// Inside a diskless snapshot, until `mark`.
    SnapshotMark { mark: [u8; EOF_MARK_LEN] },
    /// The command stream.
    Stream,
    /// After an error.
    Failed,
}

/// A replica's session with one master, from the handshake to the command
/// stream. See the crate docs for how a driver uses it.
#[derive(Debug)]
pub struct Session {
    config: Config,
    state: State,
    out: BytesMut,
    decoder: Decoder,
    replid: Option<String>,
    /// Offset of the last byte of the stream taken (and handed out).
    offset: u64,
    /// The handshake used plain `SYNC` (no PSYNC on the master).
    sync: bool,
}

impl Session {
    /// A session that starts with `PING`.
    pub fn new(config: Config) -> Session {
        let mut session = Session {
            config,
            state: State::Reply(Step::Ping),
            out: BytesMut::new(),
            decoder: Decoder::new(),
            replid: None,
            offset: 0,
            sync: false,
        };
        session.send(&Command::new("PING"));
        session
    }

    /// Bytes to send to the master, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// The master's replication id, once known.
    pub fn replid(&self) -> Option<&str> {
        self.replid.as_deref()
    }

    /// The replication offset of the last byte of the stream handed out.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True once the command stream has started.
    pub fn is_streaming(&self) -> bool {
        self.state == State::Stream
    }

    /// Queues `REPLCONF ACK <offset>`: what the caller has applied.
    pub fn ack(&mut self, applied: u64) {
        self.send(&Command::new("REPLCONF").arg("ACK").arg(applied));
    }

    fn send(&mut self, cmd: &Command) {
        cmd.encode(&mut self.out);
    }

    /// Takes bytes from the front of `buf` (what the master sent) and
    /// returns the next event, or `Ok(None)` when more bytes are needed
    /// (after which [`Session::poll_transmit`] may have bytes to send).
    ///
    /// # Errors
    ///
    /// The master refused a step of the handshake (the error names it), or
    /// sent bytes that do not follow the protocol. The session is then
    /// unusable.
    pub fn handle_input(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        let result = self.step(buf);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        loop {
            match self.state.clone() {
                State::Failed => return Err(Error::Failed),
                State::Reply(step) => {
                    // A master may send keep-alive newlines before a reply
                    // (PSYNC while it prepares the snapshot).
                    while buf.first() == Some(&b'\n') {
                        buf.advance(1);
                    }
                    let Some(line) = take_line(buf, step)? else {
                        return Ok(None);
                    };
                    if let Some(event) = self.reply(step, &line)? {
                        return Ok(Some(event));
                    }
                }
                State::SnapshotHeader => {
                    // Keep-alive newlines while the master prepares the snapshot.
                    while buf.first() == Some(&b'\n') {
                        buf.advance(1);
                    }
                    let Some(line) = take_line(buf, Step::Snapshot)? else {
                        return Ok(None);
                    };
                    return self.snapshot_header(&line).map(Some);
                }
                State::SnapshotLen { left } => {
                    if left == 0 {
                        return Ok(Some(self.snapshot_end()));
                    }
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    self.state = State::SnapshotLen {
                        left: left - n as u64,
                    };
                    return Ok(Some(Event::Snapshot(buf.split_to(n).freeze())));
                }
                State::SnapshotMark { mark } => {
                    if let Some(at) = memchr::memmem::find(buf, &mark) {
                        if at > 0 {
                            return Ok(Some(Event::Snapshot(buf.split_to(at).freeze())));
                        }
                        buf.advance(EOF_MARK_LEN);
                        return Ok(Some(self.snapshot_end()));
                    }
                    // Hand out all but what could be the start of the mark.
                    let safe = buf.len().saturating_sub(EOF_MARK_LEN - 1);
                    if safe == 0 {
                        return Ok(None);
                    }
                    return Ok(Some(Event::Snapshot(buf.split_to(safe).freeze())));
                }
                State::Stream => return self.stream(buf),
            }
        }
    }

    /// Handles the reply to a handshake step; returns an event when the
    /// step produced one.
    fn reply(&mut self, step: Step, line: &[u8]) -> Result<Option<Event>, Error> {
        let text = String::from_utf8_lossy(line).into_owned();
        let error = line.first() == Some(&b'-');
        match step {
            Step::Ping => {
                // A master with a password answers -NOAUTH here; AUTH comes next.
                if error && !text.starts_with("-NOAUTH") {
                    return Err(Error::Refused { step, reply: text });
                }
                if let Some(password) = self.config.password.clone() {
                    let mut auth = Command::new("AUTH");
                    if let Some(user) = &self.config.user {
                        auth.push_arg(user.as_str());
                    }
                    auth.push_arg(password);
                    self.send(&auth);
                    self.state = State::Reply(Step::Auth);
                } else if error {
                    return Err(Error::Refused {
                        step: Step::Auth,
                        reply: format!("{text} (the master needs a password)"),
                    });
                } else {
                    self.listening_port();
                }
            }
            Step::Auth => {
                if error {
                    return Err(Error::Refused { step, reply: text });
                }
                self.listening_port();
            }
            // Old masters do not know these: Redis's own replicas go on.
            Step::ListeningPort => {
                self.send(&Command::new("REPLCONF").args_from(["capa", "eof", "capa", "psync2"]));
                self.state = State::Reply(Step::Capa);
            }
            Step::Capa => self.psync(),
            Step::Psync => {
                if let Some(rest) = text.strip_prefix("+FULLRESYNC ") {
                    let mut words = rest.split_ascii_whitespace();
                    let replid = words.next().map(str::to_owned);
                    let offset = words.next().and_then(|o| o.parse::<u64>().ok());
                    let (Some(replid), Some(offset)) = (replid, offset) else {
                        return Err(Error::Protocol {
                            step,
                            what: format!("bad FULLRESYNC reply {text:?}"),
                        });
                    };
                    self.replid = Some(replid.clone());
                    self.offset = offset;
                    self.state = State::SnapshotHeader;
                    return Ok(Some(Event::FullResync { replid, offset }));
                }
                if text == "+CONTINUE" || text.starts_with("+CONTINUE ") {
                    let Some((old, offset)) = self.config.resume.clone() else {
                        return Err(Error::Protocol {
                            step,
                            what: "CONTINUE to a PSYNC that asked for a full copy".into(),
                        });
                    };
                    let replid = text
                        .strip_prefix("+CONTINUE ")
                        .map(|id| id.trim().to_owned())
                        .unwrap_or(old);
                    self.replid = Some(replid.clone());
                    self.offset = offset;
                    self.state = State::Stream;
                    return Ok(Some(Event::Continue { replid }));
                }
                if error && text.to_ascii_lowercase().contains("unknown command") {
                    // Before Redis 2.8: plain SYNC, a snapshot without offsets.
                    self.sync = true;
                    self.send(&Command::new("SYNC"));
                    self.state = State::SnapshotHeader;
                    return Ok(None);
                }
                return Err(Error::Refused { step, reply: text });
            }
            Step::Snapshot => {}
        }
        Ok(None)
    }

    fn listening_port(&mut self) {
        let port = self.config.listening_port;
        self.send(&Command::new("REPLCONF").arg("listening-port").arg(port));
        self.state = State::Reply(Step::ListeningPort);
    }

    fn psync(&mut self) {
        let cmd = match &self.config.resume {
            Some((replid, offset)) => Command::new("PSYNC")
                .arg(replid.as_str())
                .arg(offset.saturating_add(1)),
            None => Command::new("PSYNC").arg("?").arg(-1),
        };
        self.send(&cmd);
        self.state = State::Reply(Step::Psync);
    }

    fn snapshot_header(&mut self, line: &[u8]) -> Result<Event, Error> {
        let bad = || Error::Protocol {
            step: Step::Snapshot,
            what: format!(
                "expected $<length> or $EOF:<mark>, got {:?}",
                String::from_utf8_lossy(line)
            ),
        };
        if line.first() == Some(&b'-') {
            return Err(Error::Refused {
                step: Step::Snapshot,
                reply: String::from_utf8_lossy(line).into_owned(),
            });
        }
        let rest = line.strip_prefix(b"$").ok_or_else(bad)?;
        if let Some(mark) = rest.strip_prefix(b"EOF:") {
            let mark: [u8; EOF_MARK_LEN] = mark.try_into().map_err(|_| bad())?;
            self.state = State::SnapshotMark { mark };
            return Ok(Event::SnapshotStart { len: None });
        }
        let len = std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(bad)?;
        self.state = State::SnapshotLen { left: len };
        Ok(Event::SnapshotStart { len: Some(len) })
    }

    /// The snapshot is in: acknowledge it as Redis's own replicas do (after
    /// a diskless transfer, the master streams commands only once acked).
    fn snapshot_end(&mut self) -> Event {
        self.state = State::Stream;
        if !self.sync {
            self.ack(self.offset);
        }
        Event::SnapshotEnd
    }

    fn stream(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        loop {
            let Some((command, len)) =
                self.decoder
                    .decode_command(buf)
                    .map_err(|source| Error::Stream {
                        offset: self.offset,
                        source,
                    })?
            else {
                return Ok(None);
            };
            let before = self.offset;
            // The start offset came from the master: do not trust it not to wrap.
            self.offset = self
                .offset
                .checked_add(len as u64)
                .ok_or_else(|| Error::Protocol {
                    step: Step::Psync,
                    what: format!("the replication offset {before} overflows"),
                })?;
            // REPLCONF GETACK: answer with what precedes it, and do not hand
            // it out (it is not a write). It counts in the offset.
            if command.is("REPLCONF")
                && command
                    .arg(0)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"GETACK"))
            {
                self.ack(before);
                continue;
            }
            return Ok(Some(Event::Command {
                command,
                offset: self.offset,
            }));
        }
    }
}

/// Takes one `\r\n`-ended line from the front of `buf` (without the CRLF).
fn take_line(buf: &mut BytesMut, step: Step) -> Result<Option<Vec<u8>>, Error> {
    match memchr::memmem::find(buf, b"\r\n") {
        Some(at) => {
            let line = buf.split_to(at).to_vec();
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE_BYTES => Err(Error::Protocol {
            step,
            what: format!("a line longer than {MAX_LINE_BYTES} bytes"),
        }),
        None => Ok(None),
    }
}

/// `Command::arg` for several string arguments.
trait ArgsFrom {
    fn args_from<'a>(self, args: impl IntoIterator<Item = &'a str>) -> Self;
}

impl ArgsFrom for Command {
    fn args_from<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        for a in args {
            self.push_arg(a);
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MARK: &[u8; 40] = b"0123456789abcdef0123456789abcdef01234567";

    /// A scripted master: handshake replies, keep-alives, a diskless
    /// snapshot, a command, a GETACK, another command.
    fn script() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(b"-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n+OK\r\n");
        s.extend_from_slice(
            b"\n\n+FULLRESYNC aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1000\r\n\n\n",
        );
        s.extend_from_slice(b"$EOF:");
        s.extend_from_slice(MARK);
        // Holds the mark's first 16 bytes: a reader must not stop there.
        s.extend_from_slice(b"\r\nREDIS0011-snapshot-bytes-0123456789abcdef-end");
        s.extend_from_slice(MARK);
        s.extend_from_slice(&Command::new("SET").arg("k").arg("v").to_bytes());
        s.extend_from_slice(&Command::new("REPLCONF").arg("GETACK").arg("*").to_bytes());
        s.extend_from_slice(&Command::new("PING").to_bytes());
        s
    }

    /// Feeds `chunks`; returns the events (snapshot pieces joined) and all
    /// bytes the session sent.
    fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Event>, Vec<u8>) {
        let mut session = Session::new(Config {
            password: Some("pw".into()),
            ..Config::default()
        });
        let mut buf = BytesMut::new();
        let mut events: Vec<Event> = Vec::new();
        let mut sent = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(event) = session.handle_input(&mut buf).unwrap() {
                match (events.last_mut(), event) {
                    (Some(Event::Snapshot(prev)), Event::Snapshot(more)) => {
                        *prev = [&prev[..], &more[..]].concat().into();
                    }
                    (_, event) => events.push(event),
                }
            }
            while let Some(out) = session.poll_transmit() {
                sent.extend_from_slice(&out);
            }
        }
        (events, sent)
    }

    #[test]
    fn the_same_events_whole_and_byte_by_byte() {
        let script = script();
        let (whole, sent) = run([&script[..]]);
        let (bytewise, sent_bytewise) = run(script.chunks(1));
        assert_eq!(whole, bytewise);
        assert_eq!(sent, sent_bytewise);
        let set_len = Command::new("SET").arg("k").arg("v").encoded_len() as u64;
        let getack_len = Command::new("REPLCONF")
            .arg("GETACK")
            .arg("*")
            .encoded_len() as u64;
        let ping_len = Command::new("PING").encoded_len() as u64;
        assert_eq!(whole.len(), 6, "{whole:?}");
        assert!(matches!(&whole[0], Event::FullResync { offset: 1000, .. }));
        assert_eq!(whole[1], Event::SnapshotStart { len: None });
        assert_eq!(
            whole[2],
            Event::Snapshot(Bytes::from_static(
                b"REDIS0011-snapshot-bytes-0123456789abcdef-end"
            ))
        );
        assert_eq!(whole[3], Event::SnapshotEnd);
        assert!(matches!(&whole[4], Event::Command { command, offset }
            if command.is("set") && *offset == 1000 + set_len));
        assert!(matches!(&whole[5], Event::Command { command, offset }
            if command.is("ping") && *offset == 1000 + set_len + getack_len + ping_len));
        let sent = String::from_utf8_lossy(&sent);
        assert!(sent.contains("AUTH\r\n$2\r\npw"), "{sent}");
        assert!(sent.contains("$2\r\n-1\r\n"), "PSYNC ? -1: {sent}");
        // The snapshot's ACK, then GETACK's answer with what precedes it.
        let ack = format!(
            "ACK\r\n${}\r\n{}\r\n",
            (1000 + set_len).to_string().len(),
            1000 + set_len
        );
        assert!(sent.contains("ACK\r\n$4\r\n1000\r\n"), "{sent}");
        assert!(sent.contains(&ack), "{sent}");
    }

    #[test]
    fn refusals_name_their_step() {
        let mut session = Session::new(Config::default());
        let mut buf =
            BytesMut::from(&b"+PONG\r\n+OK\r\n+OK\r\n-NOPERM this user has no permissions\r\n"[..]);
        let err = session.handle_input(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "source refused PSYNC: -NOPERM this user has no permissions"
        );
        assert!(matches!(session.handle_input(&mut buf), Err(Error::Failed)));
        let mut session = Session::new(Config::default());
        let mut buf = BytesMut::from(&b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC x\r\n"[..]);
        assert!(matches!(
            session.handle_input(&mut buf),
            Err(Error::Protocol {
                step: Step::Psync,
                ..
            })
        ));
    }

    #[test]
    fn a_master_without_psync_gets_sync() {
        let mut session = Session::new(Config::default());
        let mut buf = BytesMut::from(
            &b"+PONG\r\n+OK\r\n+OK\r\n-ERR unknown command 'PSYNC'\r\n$3\r\nRDB"[..],
        );
        assert_eq!(
            session.handle_input(&mut buf).unwrap(),
            Some(Event::SnapshotStart { len: Some(3) })
        );
        let mut sent = Vec::new();
        while let Some(out) = session.poll_transmit() {
            sent.extend_from_slice(&out);
        }
        assert!(sent.ends_with(b"*1\r\n$4\r\nSYNC\r\n"));
    }
}
